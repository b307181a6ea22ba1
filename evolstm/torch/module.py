"""`CellModule`: a topology cell as a ``torch.nn.Module`` with the cell file's parameters.

The module computes what the reference kernel (`evolstm.cells.kernels`) computes, with
PyTorch operations, so that autograd differentiates it and torch's exporter can trace it.
Its parameters are the cell file's arrays, by the same names and shapes (`Cell.arrays()`,
`evolstm.cells.layout`), so ``module.state_dict()`` is a cell file's content.

State: one tensor (B, L, W) per batch, the layout `Cell.step` and `Population.run` use: for
each layer ``[h (H) | c (H) | previous gates (Ug·H)]``, W = (2 + Ug)·H, Ug the number of
gates joined by full gate recurrence (0 unless ``gate_recurrence``). GRU-family layers leave
the c slot as it was, except with ``readout = "units"``, where it holds the units'
pre-activations. Zeros start a sequence.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from evolstm.cells.cell import Cell
from evolstm.cells.layout import Layout
from evolstm.cells.population import Population
from evolstm.cells.topology import Topology, Unit
from evolstm.errors import EvolstmError

DTYPES = {"float64": torch.float64, "float32": torch.float32}


class CellModule(nn.Module):
    """One evolstm cell (any topology, stacked layers, linear readout or output units).

    ``forward(x (B, T, I), state=None) -> (y (B, T, O), state (B, L, W))``; ``step(x_t (B, I),
    state) -> (y_t (B, O), state)`` is one step of it. `topology`, `n_in`, `n_hidden`,
    `n_out`, `layers`, `variant` and `info` describe the cell; `from_torch` reads them back.
    """

    def __init__(
        self,
        cell: str | dict[str, Any] | Topology,
        n_in: int,
        n_hidden: int,
        n_out: int,
        layers: int = 1,
        dtype: str = "float64",
        arrays: dict[str, np.ndarray] | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        population = Population(cell, n_in, n_hidden, n_out, layers=layers, dtype=dtype)
        self.topology: Topology = population.topology
        self.variant: str | None = population.variant
        self.layout: Layout = population.layout
        self.n_in, self.n_hidden, self.n_out, self.layers = n_in, n_hidden, n_out, layers
        self.state_width = population.state_width
        self.info = dict(info or {})
        torch_dtype = DTYPES[str(population.dtype)]
        for block in self.layout.blocks:
            if arrays is None:
                value = torch.zeros(block.shape, dtype=torch_dtype)
            else:
                value = torch.as_tensor(np.array(arrays[block.name]), dtype=torch_dtype)
            self.register_parameter(block.name, nn.Parameter(value))
        units = self.topology.units()
        self._units: tuple[Unit, ...] = units
        linear_x = [unit.name for unit in units if unit.x_mode == "linear"]
        with_h = [unit.name for unit in units if unit.h_mode != "none"]
        self._x_row = {name: linear_x.index(name) for name in linear_x}
        self._h_row = {name: with_h.index(name) for name in with_h}
        self._gates = self.topology.recurrent_gates()
        self._peepholes = self.topology.peephole_gates()
        self.exporting = False  # set by evolstm.torch.onnx while torch's exporter traces

    def extra_repr(self) -> str:
        name = self.variant or "topology"
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
        """Widths of the parts of a layer's state: [H, H] and H per FGR gate."""
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
            y, state = self.step(x[:, t], state)
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
        layer_input, new_states = x_t, []
        activation = x_t
        for k, layer_state in enumerate(state.unbind(1)):
            if self.topology.family == "lstm":
                layer_state = self._lstm_layer(k, layer_input, layer_state)
            else:
                layer_state, activation = self._gru_layer(k, layer_input, layer_state)
            new_states.append(layer_state)
            layer_input = _first(layer_state, self.n_hidden)
        if self.topology.readout == "units":  # the last O units' pre-activations
            y = _last(activation, self.n_out)
        else:
            y = functional.linear(layer_input, self.readout_weight, self.readout_bias)
        return y, torch.stack(new_states, dim=1)

    # -- the equations (topology.py) -------------------------------------------------------
    def _input_part(self, k: int, unit: Unit, inp: torch.Tensor) -> torch.Tensor | None:
        """The input contribution to unit `unit` of layer k (None: no input connection)."""
        if unit.x_mode == "linear":
            rows = self._rows(self._x_row[unit.name])
            bias = getattr(self, f"bias_ih_l{k}")[rows] if self.topology.bias else None
            return functional.linear(inp, getattr(self, f"weight_ih_l{k}")[rows], bias)
        if unit.x_mode == "none":
            return None
        width = inp.shape[-1]  # identity / tanh: unit j reads x[j mod width]
        tiled = _first(inp.repeat(1, math.ceil(self.n_hidden / width)), self.n_hidden)
        return tiled if unit.x_mode == "identity" else torch.tanh(tiled)

    def _recurrent_part(self, k: int, unit: Unit, src: torch.Tensor) -> torch.Tensor | None:
        """The recurrent contribution to `unit` reading `src` (B, H) (None: no connection)."""
        if unit.h_mode == "none":
            return None
        rows = self._rows(self._h_row[unit.name])
        bias = getattr(self, f"bias_hh_l{k}")[rows] if self.topology.bias else None
        if unit.h_mode == "tanh":
            src = torch.tanh(src)
        return functional.linear(src, getattr(self, f"weight_hh_l{k}")[rows], bias)

    def _rows(self, block: int) -> slice:
        return slice(block * self.n_hidden, (block + 1) * self.n_hidden)

    def _lstm_layer(self, k: int, inp: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        topo, hidden = self.topology, self.n_hidden
        if self._gates:
            h, c, gates = state.split([hidden, hidden, len(self._gates) * hidden], dim=1)
        else:
            h, c = state.split([hidden, hidden], dim=1)
        pre: dict[str, torch.Tensor] = {}
        for unit in self._units:
            total = _add(self._input_part(k, unit, inp), self._recurrent_part(k, unit, h))
            assert total is not None  # Topology refuses units without any connection
            if unit.name in self._gates:  # full gate recurrence
                rows = self._rows(self._gates.index(unit.name))
                total = total + functional.linear(gates, getattr(self, f"weight_gg_l{k}")[rows])
            if unit.name in ("i", "f") and unit.name in self._peepholes:
                total = total + getattr(self, f"peephole_{unit.name}_l{k}") * c
            pre[unit.name] = total
        one = 1.0
        i = torch.sigmoid(pre["i"]) if "i" in pre else one
        if "f" in pre:
            f = torch.sigmoid(pre["f"])
        elif topo.coupled:
            f = one - i
        else:
            f = one
        g = pre["g"] if topo.cell_activation == "identity" else torch.tanh(pre["g"])
        c = f * c + i * g
        if "o" in pre:
            a_o = pre["o"]
            if "o" in self._peepholes:
                a_o = a_o + getattr(self, f"peephole_o_l{k}") * c
            o = torch.sigmoid(a_o)
        else:
            o = one
        h_new = o * (c if topo.output_activation == "identity" else torch.tanh(c))
        if all(unit.h_mode == "none" for unit in self._units):
            h_new = _keep(h_new, h, self.exporting)  # no unit reads h: see `_keep`
        h = h_new
        values = {"i": i, "f": f, "o": o}
        return torch.cat([h, c, *(values[name] for name in self._gates)], dim=1)

    def _gru_layer(
        self, k: int, inp: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (new layer state, the candidate's pre-activation a_n (B, H))."""
        topo, hidden = self.topology, self.n_hidden
        h, slot = state.split([hidden, hidden], dim=1)  # slot: the c slot, unused but by units
        units = {unit.name: unit for unit in self._units}
        gate: dict[str, torch.Tensor] = {}
        for name in ("r", "z"):
            if name in units:
                total = _add(self._input_part(k, units[name], inp),
                             self._recurrent_part(k, units[name], h))
                assert total is not None
                gate[name] = torch.sigmoid(total)
        candidate = units["n"]
        a_n = self._input_part(k, candidate, inp)
        if topo.reset_after:
            recurrent = self._recurrent_part(k, candidate, h)
            if recurrent is not None and "r" in gate:
                recurrent = gate["r"] * recurrent
        else:
            reset_h = gate["r"] * h if "r" in gate else h
            recurrent = self._recurrent_part(k, candidate, reset_h)
        a_n = _add(a_n, recurrent)
        assert a_n is not None
        n = torch.tanh(a_n)
        if "z" not in gate:
            reads_h = any(unit.h_mode != "none" for unit in self._units)
            h = n if reads_h else _keep(n, h, self.exporting)
        elif topo.update_keeps_state:
            h = (1.0 - gate["z"]) * n + gate["z"] * h
        else:
            h = gate["z"] * n + (1.0 - gate["z"]) * h
        if topo.readout == "units":
            slot = _keep(a_n, slot, self.exporting)  # the pre-activations replace the slot
        return torch.cat([h, slot], dim=1), a_n

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


def _first(tensor: torch.Tensor, size: int) -> torch.Tensor:
    """tensor[:, :size] of a (B, n) tensor (as a split: see `CellModule._step`)."""
    width = tensor.shape[1]
    return tensor if width == size else tensor.split([size, width - size], dim=1)[0]


def _last(tensor: torch.Tensor, size: int) -> torch.Tensor:
    """tensor[:, -size:] of a (B, n) tensor."""
    width = tensor.shape[1]
    return tensor if width == size else tensor.split([width - size, size], dim=1)[1]


def _keep(value: torch.Tensor, unused: torch.Tensor, exporting: bool) -> torch.Tensor:
    """`value`; while exporting, ``value + 0 * unused``, which also reads `unused`.

    A part of the state that a step overwrites without reading must still flow into the
    step's outputs, or torch 2.13's ONNX exporter fails on the scan over the steps
    ("'SymInt' object has no attribute 'unsqueeze'") when batch and length are both dynamic.
    For finite states (every state a cell reaches) the sum is `value` exactly.
    """
    return value + 0.0 * unused if exporting else value


def _add(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    if a is None:
        return b
    return a if b is None else a + b


def to_torch(cell: Cell | str | os.PathLike[str]) -> CellModule:
    """A `Cell` (or the path of a cell file) -> `CellModule` holding its weights.

    The module's dtype is the cell's (float64 or float32); its state_dict is `cell.arrays()`.
    """
    if isinstance(cell, (str, os.PathLike)):
        from evolstm.cells.cellfile import load

        cell = load(cell)
    if not isinstance(cell, Cell):
        raise EvolstmError(f"to_torch: expected a Cell or a cell file, got {type(cell).__name__}")
    population = cell.population
    if not isinstance(getattr(population, "topology", None), Topology) or not isinstance(
        getattr(population, "layout", None), Layout
    ):
        what = "a cell graph" if getattr(population, "graph", None) is not None else (
            "not a topology cell")
        raise EvolstmError(
            f"to_torch: {population!r} is {what}; the torch bridge builds topology cells "
            "only (missing: a torch form of cell graphs)"
        )
    spec = population.variant or population.topology
    return CellModule(spec, population.n_in, population.n_hidden, population.n_out,
                      layers=population.layers, dtype=str(population.dtype),
                      arrays=cell.arrays(), info=cell.info)


def from_torch(module: nn.Module) -> Cell:
    """A `CellModule` (made by `to_torch`, trained or not) -> `Cell` with its current weights.

    The cell's dtype is the module's parameters' (float64 or float32).
    """
    if not isinstance(module, CellModule):
        raise EvolstmError(
            f"from_torch: expected a module made by evolstm.torch.to_torch (CellModule), "
            f"got {type(module).__name__}"
        )
    dtype = str(module.dtype).removeprefix("torch.")
    if dtype not in DTYPES:
        raise EvolstmError(
            f"from_torch: parameters of dtype {dtype}; cells are float64 or float32 "
            "(call module.double() or module.float() first)"
        )
    population = Population(module.variant or module.topology, module.n_in, module.n_hidden,
                            module.n_out, layers=module.layers, dtype=dtype)
    arrays = {name: value.detach().cpu().numpy() for name, value in module.state_dict().items()}
    try:
        genome = population.flatten(arrays)
    except EvolstmError as error:
        raise EvolstmError(f"from_torch: {error}") from None
    return Cell(population, genome, module.info)
