"""`TopologyModule`: a topology cell's layers in PyTorch, from the topology's equations.

The module computes what the reference kernel (`evolstm.cells.kernels`) computes, with
PyTorch operations, so that autograd differentiates it and torch's exporter can trace it.

State of a layer: ``[h (H) | c (H) | previous gates (Ug·H)]``, W = (2 + Ug)·H, Ug the number
of gates joined by full gate recurrence (0 unless ``gate_recurrence``). GRU-family layers
leave the c slot as it was, except with ``readout = "units"``, where it holds the units'
pre-activations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn import functional

from evolstm.cells.population import Population
from evolstm.cells.topology import Topology, Unit
from evolstm.torch.base import CellModule, keep, tile


class TopologyModule(CellModule):
    """A topology cell (any topology, stacked layers, linear readout or output units)."""

    def __init__(
        self,
        population: Population,
        arrays: dict[str, np.ndarray] | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(population, arrays, info)
        assert population.topology is not None
        self.topology: Topology = population.topology
        self.readout_units = self.topology.readout == "units"
        units = self.topology.units()
        self._units: tuple[Unit, ...] = units
        linear_x = [unit.name for unit in units if unit.x_mode == "linear"]
        with_h = [unit.name for unit in units if unit.h_mode != "none"]
        self._x_row = {name: linear_x.index(name) for name in linear_x}
        self._h_row = {name: with_h.index(name) for name in with_h}
        self._gates = self.topology.recurrent_gates()
        self._peepholes = self.topology.peephole_gates()

    @property
    def structure(self) -> Topology:
        return self.topology

    @property
    def state_layout(self) -> str:
        return "[h (H) | c (H) | previous gates]"

    def _layer(
        self, k: int, inp: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.topology.family == "lstm":
            return self._lstm_layer(k, inp, state), None
        return self._gru_layer(k, inp, state)

    # -- the equations (topology.py) -------------------------------------------------------
    def _input_part(self, k: int, unit: Unit, inp: torch.Tensor) -> torch.Tensor | None:
        """The input contribution to unit `unit` of layer k (None: no input connection)."""
        if unit.x_mode == "linear":
            rows = self._rows(self._x_row[unit.name])
            bias = getattr(self, f"bias_ih_l{k}")[rows] if self.topology.bias else None
            return functional.linear(inp, getattr(self, f"weight_ih_l{k}")[rows], bias)
        if unit.x_mode == "none":
            return None
        tiled = tile(inp, self.n_hidden)  # identity / tanh: unit j reads x[j mod width]
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
            h_new = keep(h_new, h, self.exporting)  # no unit reads h: see `keep`
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
            h = n if reads_h else keep(n, h, self.exporting)
        elif topo.update_keeps_state:
            h = (1.0 - gate["z"]) * n + gate["z"] * h
        else:
            h = gate["z"] * n + (1.0 - gate["z"]) * h
        if topo.readout == "units":
            slot = keep(a_n, slot, self.exporting)  # the pre-activations replace the slot
        return torch.cat([h, slot], dim=1), a_n


def _add(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    if a is None:
        return b
    return a if b is None else a + b
