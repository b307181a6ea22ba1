"""The topology space: one description for every gated cell evolstm simulates.

A cell is either of the LSTM family (a memory cell ``c`` beside the output ``h``) or of the
GRU family (``h`` only). Its *units* are the gates and the candidate:

* LSTM family, in PyTorch's order: ``i`` (input gate), ``f`` (forget gate), ``g`` (cell
  input), ``o`` (output gate)::

      a_u = b_u + W_xu x_t + W_hu h_{t-1} [+ p_u * c_{t-1} for u in i, f] [+ R_u gates_{t-1}]
      i = sigm(a_i) or 1;   f = sigm(a_f), 1 - i (coupled) or 1;   g = act_g(a_g)
      c_t = f * c_{t-1} + i * g
      o = sigm(a_o [+ p_o * c_t]) or 1;   h_t = o * act_h(c_t)

* GRU family, in PyTorch's order: ``r`` (reset gate), ``z`` (update gate), ``n`` (candidate)::

      r = sigm(x_r + h_r) or 1;   z = sigm(x_z + h_z) or 0
      n = tanh(x_n + r * h_n)          (reset after the product, PyTorch's nn.GRU)
      n = tanh(x_n + W_hn (r * h) + b_hn)   (reset before, Cho et al. 2014; MUT1-3)
      h_t = (1 - z) * n + z * h_{t-1}  (update keeps state: PyTorch)
      h_t = z * n + (1 - z) * h_{t-1}  (update writes: Jozefowicz et al. 2015)

Every unit takes the input through ``x_mode`` (``linear``: W x + b; ``identity``: x itself;
``tanh``: tanh(x); ``none``) and the recurrent state through ``h_mode`` (``linear``: W h + b;
``tanh``: W tanh(h) + b; ``none``). Where the paper adds x to an H-vector without a weight
(``identity``, ``tanh``) and n_in != n_hidden, evolstm tiles the input: unit k reads
x[k mod n_in] (exactly the paper's equation when n_in == n_hidden).

Both families: ``bias`` (False: no bias vectors, as PyTorch's ``bias=False``) and ``readout``.
``readout = "linear"`` reads the outputs as ``y = W_out h_t + b_out`` from the top layer;
``"units"`` makes the top layer's last O units the output units of a fully recurrent network
(Williams & Zipser 1989; the networks of the pole-balancing literature): ``y_t`` is their
pre-activation ``a_n`` and their activation tanh(a_n) is fed back like every other unit's.
It needs units with ``h_t = n`` (GRU family without update gate) and has no readout weights.

Named variants (``evolstm.cells.variants``) are points of this space, so an architecture
search can rediscover them.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from evolstm.errors import EvolstmError

FAMILIES = ("lstm", "gru")
LSTM_UNITS = ("i", "f", "g", "o")
GRU_UNITS = ("r", "z", "n")
X_MODES = ("linear", "identity", "tanh", "none")
H_MODES = ("linear", "tanh", "none")
ACTIVATIONS = ("tanh", "identity")
READOUTS = ("linear", "units")


@dataclasses.dataclass(frozen=True)
class Unit:
    """One parametrised unit of a cell: its name and how it reads x and h."""

    name: str
    x_mode: str
    h_mode: str


@dataclasses.dataclass(frozen=True)
class Topology:
    """A point of the cell space; serialises to a JSON-able dict (`to_dict`).

    Fields of the LSTM family: ``input_gate``, ``forget_gate``, ``output_gate`` (present or
    fixed to 1), ``coupled`` (CIFG: f = 1 - i, no forget-gate weights), ``peepholes``
    (diagonal, into i and f from c_{t-1}, into o from c_t; Gers 2000), ``gate_recurrence``
    (FGR: every free gate reads every free gate's previous activation), ``cell_activation``
    and ``output_activation`` (``tanh`` or ``identity``).
    Fields of the GRU family: ``reset_gate``, ``update_gate``, ``reset_after``,
    ``update_keeps_state``. Both: ``x_modes`` and ``h_modes``, per-unit overrides of the
    default ``linear`` connections, as ``{unit: mode}``; ``bias`` and ``readout``.
    """

    family: str = "lstm"
    input_gate: bool = True
    forget_gate: bool = True
    output_gate: bool = True
    coupled: bool = False
    peepholes: bool = False
    gate_recurrence: bool = False
    cell_activation: str = "tanh"
    output_activation: str = "tanh"
    reset_gate: bool = True
    update_gate: bool = True
    reset_after: bool = True
    update_keeps_state: bool = True
    x_modes: tuple[tuple[str, str], ...] = ()
    h_modes: tuple[tuple[str, str], ...] = ()
    bias: bool = True
    readout: str = "linear"

    def __post_init__(self) -> None:
        self._validate()

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "topology") -> Topology:
        """Build from a JSON/TOML dict; unknown keys and wrong types raise `EvolstmError`."""
        if not isinstance(data, dict):
            raise EvolstmError(f"{where}: expected a table of topology fields")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in fields:
                raise EvolstmError(f"{where}.{key}: unknown topology field")
            default = fields[key].default
            if key in ("x_modes", "h_modes"):
                if not isinstance(value, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in value.items()
                ):
                    raise EvolstmError(f"{where}.{key}: expected a table of unit = mode")
                kwargs[key] = tuple(sorted(value.items()))
            elif type(value) is not type(default):
                raise EvolstmError(
                    f"{where}.{key}: expected {type(default).__name__}, "
                    f"got {type(value).__name__}"
                )
            else:
                kwargs[key] = value
        try:
            return cls(**kwargs)
        except EvolstmError as error:
            raise EvolstmError(f"{where}: {error}") from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able dict of every field (overrides as ``{unit: mode}`` tables)."""
        data = dataclasses.asdict(self)
        data["x_modes"] = dict(self.x_modes)
        data["h_modes"] = dict(self.h_modes)
        return data

    def key(self) -> str:
        """A canonical string that identifies the topology (equal topologies, equal keys)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    # -- derived structure ----------------------------------------------------------------
    def unit_names(self) -> tuple[str, ...]:
        """Names of the units that carry weights, in PyTorch's gate order."""
        if self.family == "lstm":
            present = {
                "i": self.input_gate,
                "f": self.forget_gate and not self.coupled,
                "g": True,
                "o": self.output_gate,
            }
            return tuple(name for name in LSTM_UNITS if present[name])
        present = {"r": self.reset_gate, "z": self.update_gate, "n": True}
        return tuple(name for name in GRU_UNITS if present[name])

    def units(self) -> tuple[Unit, ...]:
        """The parametrised units with their input and recurrent connection modes."""
        x_modes, h_modes = dict(self.x_modes), dict(self.h_modes)
        return tuple(
            Unit(name, x_modes.get(name, "linear"), h_modes.get(name, "linear"))
            for name in self.unit_names()
        )

    def peephole_gates(self) -> tuple[str, ...]:
        """Gates that get a diagonal peephole from the memory cell."""
        if self.family != "lstm" or not self.peepholes:
            return ()
        return tuple(name for name in self.unit_names() if name in ("i", "f", "o"))

    def recurrent_gates(self) -> tuple[str, ...]:
        """Free gates joined by full gate recurrence (FGR), in order."""
        if self.family != "lstm" or not self.gate_recurrence:
            return ()
        return tuple(name for name in self.unit_names() if name in ("i", "f", "o"))

    def _validate(self) -> None:
        if self.family not in FAMILIES:
            raise EvolstmError(f"family: {self.family!r} is not one of {', '.join(FAMILIES)}")
        for name in ("cell_activation", "output_activation"):
            if getattr(self, name) not in ACTIVATIONS:
                raise EvolstmError(f"{name}: {getattr(self, name)!r} is not tanh or identity")
        if self.readout not in READOUTS:
            raise EvolstmError(f"readout: {self.readout!r} is not one of {', '.join(READOUTS)}")
        if self.readout == "units" and (self.family != "gru" or self.update_gate):
            raise EvolstmError(
                "readout: 'units' needs units whose output is their activation "
                "(family gru with update_gate false)"
            )
        if self.coupled and not (self.input_gate and self.forget_gate):
            raise EvolstmError("coupled: f = 1 - i needs input_gate and forget_gate true")
        valid_units = LSTM_UNITS if self.family == "lstm" else GRU_UNITS
        for field_name, modes, allowed in (
            ("x_modes", self.x_modes, X_MODES),
            ("h_modes", self.h_modes, H_MODES),
        ):
            for unit, mode in modes:
                if unit not in valid_units:
                    raise EvolstmError(f"{field_name}.{unit}: not a unit of a {self.family} cell")
                if mode not in allowed:
                    raise EvolstmError(
                        f"{field_name}.{unit}: {mode!r} is not one of {', '.join(allowed)}"
                    )
        for unit in self.units():
            if unit.x_mode != "linear" and unit.h_mode == "none":
                raise EvolstmError(
                    f"unit {unit.name}: needs a weighted input or recurrent connection (its bias)"
                )
