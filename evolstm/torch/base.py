"""`CellModule`: what every cell's PyTorch module shares, whatever computes its layers.

A cell module holds the cell file's arrays as parameters, by the same names and shapes
(`Population.layout`), so ``module.state_dict()`` is a cell file's content; it runs the
sequence step by step, stacks its layers (each layer's x is the new h of the layer below)
and reads the outputs: a linear readout of the top layer's h, or the last O items of the
top layer's output units. A subclass computes one layer's step (`CellModule._layer`):
`evolstm.torch.topology.TopologyModule` from a topology's equations,
`evolstm.torch.graph.GraphModule` by walking a cell graph's nodes.

State: one tensor (B, L, W) per batch, the layout `Cell.step` and `Population.run` use
(`CellModule.state_layout` says what a layer's W items are). Zeros start a sequence.
"""

from __future__ import annotations

import abc
import json
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from evolstm.cells.graph.graph import Graph
from evolstm.cells.population import Population
from evolstm.cells.topology import Topology
from evolstm.errors import EvolstmError

DTYPES = {"float64": torch.float64, "float32": torch.float32}


class CellModule(nn.Module, abc.ABC):
    """One evolstm cell (stacked layers, linear readout or output units) as a module.

    ``forward(x (B, T, I), state=None) -> (y (B, T, O), state (B, L, W))``; ``step(x_t (B, I),
    state) -> (y_t (B, O), state)`` is one step of it. `spec` (what `Population` takes),
    `n_in`, `n_hidden`, `n_out`, `layers`, `variant` and `info` describe the cell;
    `evolstm.torch.from_torch` reads them back. Build one with `evolstm.torch.to_torch`.
    """

    readout_units: bool  # the outputs are the top layer's output units (no readout arrays)

    def __init__(
        self,
        population: Population,
        arrays: dict[str, np.ndarray] | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        """Parameters from `arrays` (the cell file's, by name), zeros without them."""
        super().__init__()
        self.variant: str | None = population.variant
        self.layout = population.layout
        self.n_in, self.n_hidden = population.n_in, population.n_hidden
        self.n_out, self.layers = population.n_out, population.layers
        self.state_width: int = population.state_width
        self.info = dict(info or {})
        torch_dtype = DTYPES[str(population.dtype)]
        for block in self.layout.blocks:
            if arrays is None:
                value = torch.zeros(block.shape, dtype=torch_dtype)
            else:
                value = torch.as_tensor(np.array(arrays[block.name]), dtype=torch_dtype)
            self.register_parameter(block.name, nn.Parameter(value))
        self.exporting = False  # set by evolstm.torch.onnx while torch's exporter traces

    # -- what the subclass says --------------------------------------------------------------
    @property
    @abc.abstractmethod
    def structure(self) -> Topology | Graph:
        """The cell's topology or graph."""

    @property
    @abc.abstractmethod
    def state_layout(self) -> str:
        """What a layer's W state items are, in words (``[h (H) | c (H)]``)."""

    @abc.abstractmethod
    def _layer(
        self, k: int, inp: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One step of layer k: x (B, I_k), its state (B, W) -> (new state (B, W), the output
        units' values (B, H) with ``readout_units``, else None)."""

    # -- description -------------------------------------------------------------------------
    @property
    def spec(self) -> str | Topology | Graph:
        """What `Population` takes to build this cell again: its variant name or structure."""
        return self.variant or self.structure

    def cell_json(self) -> str:
        """The variant name, or the topology's or graph's JSON (`to_dict`)."""
        return self.variant or json.dumps(self.structure.to_dict(), sort_keys=True)

    def extra_repr(self) -> str:
        name = self.variant or type(self.structure).__name__.lower()
        return (f"{name}, n_in={self.n_in}, n_hidden={self.n_hidden}, n_out={self.n_out}, "
                f"layers={self.layers}")

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def initial_state(self, n_batch: int) -> torch.Tensor:
        """Zero state (B, L, W)."""
        return torch.zeros(n_batch, self.layers, self.state_width, dtype=self.dtype,
                           device=next(self.parameters()).device)

    def state_parts(self) -> list[int]:
        """Widths of the parts of a layer's state: H each (see `state_layout`)."""
        return [self.n_hidden] * (self.state_width // self.n_hidden)

    # -- running ---------------------------------------------------------------------------
    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, I) -> (y (B, T, O), final state (B, L, W)); state=None starts from zeros.

        x is cast to the parameters' dtype.
        """
        x = self._check_input(x, 3, "x", "(B, T, I)")
        state = self._check_state(state, x.shape[0])
        outputs = []
        for t in range(x.shape[1]):
            y, state = self._step(x[:, t], state)
            outputs.append(y)
        if not outputs:
            return x.new_zeros(x.shape[0], 0, self.n_out), state
        return torch.stack(outputs, dim=1), state

    def step(
        self, x_t: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: x_t (B, I) -> (y_t (B, O), new state (B, L, W))."""
        x_t = self._check_input(x_t, 2, "x_t", "(B, I)")
        return self._step(x_t, self._check_state(state, x_t.shape[0]))

    def _step(self, x_t: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`step` without the checks. Tensors whose first axis is the batch are cut with
        split / unbind, never sliced: torch's ONNX exporter fails on slices of a scan's carry
        when both the batch and the sequence length are dynamic (torch 2.13)."""
        layer_input, new_states, units = x_t, [], None
        for k, layer_state in enumerate(state.unbind(1)):
            if self.exporting:
                layer_state = tie_batch(layer_input, layer_state)
            layer_state, units = self._layer(k, layer_input, layer_state)
            new_states.append(layer_state)
            layer_input = first(layer_state, self.n_hidden)  # h: the next layer's x
        if self.readout_units:  # the top layer's last O units
            assert units is not None
            y = last(units, self.n_out)
        else:
            y = functional.linear(layer_input, self.readout_weight, self.readout_bias)
        return y, torch.stack(new_states, dim=1)

    # -- checks at the boundary ------------------------------------------------------------
    def _check_input(self, x: torch.Tensor, ndim: int, name: str, shape: str) -> torch.Tensor:
        x = torch.as_tensor(x)
        if x.dim() != ndim or x.shape[-1] != self.n_in:
            raise EvolstmError(
                f"{name}: expected shape {shape} with I = {self.n_in}, got {tuple(x.shape)}")
        return x.to(self.dtype)

    def _check_state(self, state: torch.Tensor | None, n_batch: int) -> torch.Tensor:
        if state is None:
            return self.initial_state(n_batch)
        state = torch.as_tensor(state)
        expected = (n_batch, self.layers, self.state_width)
        if tuple(state.shape) != expected:
            raise EvolstmError(f"state: expected shape (B, L, W) = {expected}, "
                               f"got {tuple(state.shape)}")
        return state.to(self.dtype)


def first(tensor: torch.Tensor, size: int) -> torch.Tensor:
    """tensor[:, :size] of a (B, n) tensor (as a split: see `CellModule._step`)."""
    width = tensor.shape[1]
    return tensor if width == size else tensor.split([size, width - size], dim=1)[0]


def last(tensor: torch.Tensor, size: int) -> torch.Tensor:
    """tensor[:, -size:] of a (B, n) tensor."""
    width = tensor.shape[1]
    return tensor if width == size else tensor.split([width - size, size], dim=1)[1]


def tile(x: torch.Tensor, n_hidden: int) -> torch.Tensor:
    """x (B, I) -> (B, H): unit j reads x[j mod I] (evolstm's rule for an unweighted x)."""
    width = x.shape[1]
    return first(x.repeat(1, -(-n_hidden // width)), n_hidden)


def tie_batch(x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """``0 * sum(x) + state`` for x (B, I) and a layer's state (B, W): `state`, with the batch
    size of x.

    torch 2.13's ONNX exporter fails on the scan over the steps ("'SymInt' object has no
    attribute 'unsqueeze'") when batch and length are both dynamic and a value the step
    returns takes its batch size from the scan's carry instead of its x: an elementwise op
    takes the size of its first operand, and ``add(state part, W x)`` fails where
    ``add(W x, state part)`` exports. A topology's equations put x first; a graph may not.
    Used while exporting only; for finite x and state the sum is `state` exactly.
    """
    return 0.0 * x.sum(dim=1, keepdim=True) + state


def keep(value: torch.Tensor, unused: torch.Tensor, exporting: bool) -> torch.Tensor:
    """`value`; while exporting, ``value + 0 * unused``, which also reads `unused`.

    A part of the state that a step overwrites without reading must still flow into the
    step's outputs, or torch 2.13's ONNX exporter fails on the scan over the steps
    ("'SymInt' object has no attribute 'unsqueeze'") when batch and length are both dynamic.
    For finite states (every state a cell reaches) the sum is `value` exactly.
    """
    return value + 0.0 * unused if exporting else value
