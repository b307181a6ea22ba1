"""Canonical topologies: one representative per cell, and the repair every operator shares.

Two topologies are merged when they give the same genome layout and compute the same
outputs from every genome: the same cell with the same parameters. Read from the equations
of `evolstm.cells.topology`, `canonical` applies these rules:

1. Fields of the other family are reset to their defaults (a GRU-family cell has no
   peepholes, an LSTM-family cell no reset gate).
2. A connection mode equal to the default ``linear`` is dropped, and so is the mode of a
   unit the cell does not have (an absent gate; the forget gate of a coupled cell, which is
   1 - i and has no weights).
3. Peepholes and gate recurrence with no free gate (i, f, o all absent or fixed) to act on
   are turned off: they add no weights and change nothing.
4. GRU family without update gate: ``update_keeps_state`` is reset to true. The fixed z
   (0 when the update keeps the state, 1 when it writes) gives h_t = n either way.
5. GRU family without reset gate, or whose candidate has no recurrent connection
   (``h_modes.n = "none"``): ``reset_after`` is reset to true. With r = 1,
   tanh(x_n + r * (W h + b)) and tanh(x_n + W (r * h) + b) are one expression (also with
   ``tanh`` connections), and without h_n the reset gate enters neither.

Not merged:

* A GRU whose z reads x through ``linear`` or ``none`` computes with update_keeps_state
  true what it computes with false once z's weights and bias are negated
  (1 - sigm(a) = sigm(-a)): the same family of functions, but a genome of one is not a
  genome of the other (and `mut1`-`mut3` are defined with the update writing).
* A reset gate whose candidate has no h_n multiplies nothing: its connection modes matter
  only through the weights they give it (x through identity, tanh or none; h through
  linear or tanh are alike). No representative would be in every `Space` (one without
  ``none`` inputs, say), and a dead gate keeps its weights, so such cells stay apart.
* Cells that compute nothing: without biases, a candidate that reads no x keeps the state
  at zero from the zero start, whatever else the cell has. Their outputs are constant and
  equal, but their genomes and structure differ; the weight search scores them poorly.

A check over whole sub-spaces (all 6,480 canonical GRU-family cells; LSTM-family cells with
inputs linear, identity or none and recurrences linear or none, 18,464; with every input
mode, 2,308, or every recurrent mode, 3,612; both families with linear and none modes,
1,047) found no two other canonical cells with the same genome layout and the same outputs
from the same random genome and inputs (two layers, reference kernel).

Every named variant is its own canonical form, and the forms differ except for ``np``,
which is ``lstm`` by design.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from evolstm.archsearch.space import Space
from evolstm.cells.topology import GRU_UNITS, LSTM_UNITS, Topology

LSTM_FLAGS = (
    "input_gate",
    "forget_gate",
    "output_gate",
    "coupled",
    "peepholes",
    "gate_recurrence",
)
LSTM_FIELDS = (*LSTM_FLAGS, "cell_activation", "output_activation")
GRU_FIELDS = ("reset_gate", "update_gate", "reset_after", "update_keeps_state")  # all flags
DEFAULTS: dict[str, Any] = {
    field.name: field.default for field in dataclasses.fields(Topology)
}


def canonical(topo: Topology) -> Topology:
    """The representative of every topology that computes the same cell as `topo`."""
    fields = fields_of(topo)
    for name in GRU_FIELDS if topo.family == "lstm" else LSTM_FIELDS:
        fields[name] = DEFAULTS[name]
    present = topo.unit_names()
    if topo.family == "lstm" and not set(present) & {"i", "f", "o"}:
        fields["peepholes"] = fields["gate_recurrence"] = False
    if topo.family == "gru":
        if not topo.update_gate:
            fields["update_keeps_state"] = True
        if not topo.reset_gate or dict(topo.h_modes).get("n") == "none":
            fields["reset_after"] = True
    for name in ("x_modes", "h_modes"):
        fields[name] = {
            unit: mode for unit, mode in fields[name].items()
            if unit in present and mode != "linear"
        }
    return topo if fields == fields_of(topo) else build(fields)


def key(topo: Topology) -> str:
    """The canonical form's key (`Topology.key`, sorted JSON): equal for equivalent cells."""
    return canonical(topo).key()


def fields_of(topo: Topology) -> dict[str, Any]:
    """`topo`'s fields as `Topology.to_dict` gives them, modes as ``{unit: mode}`` (faster)."""
    fields = {name: getattr(topo, name) for name in DEFAULTS}
    fields["x_modes"], fields["h_modes"] = dict(topo.x_modes), dict(topo.h_modes)
    return fields


def build(fields: dict[str, Any]) -> Topology:
    """`Topology` from a dict of its fields, modes as ``{unit: mode}`` (as `to_dict`
    gives them); raises `EvolstmError` when the fields are invalid."""
    values = dict(fields)
    for name in ("x_modes", "h_modes"):
        values[name] = tuple(sorted(values.get(name, {}).items()))
    return Topology(**values)


def repair(fields: dict[str, Any], space: Space) -> Topology:
    """The canonical topology in `space` nearest to `fields`; never raises.

    `space`: a validated space. `fields`: any of Topology's fields (others take their
    defaults; unknown keys are ignored), modes as ``{unit: mode}``; values may be invalid or
    outside the space. Each value outside the space becomes the field's default (``linear``
    for a mode) where the space allows it, else the space's first value. Then the
    constraints between fields are met by changing the dependent field: a coupled cell
    without input or forget gate is uncoupled; output units on a cell that cannot have them
    get the linear readout (or, when the space has only output units, the cell becomes a
    GRU without update gate); a unit whose input is not ``linear`` and that has no
    recurrent connection gets a ``linear`` one (or, when the space allows none,
    a ``linear`` input).
    """
    values = {name: fields.get(name, DEFAULTS[name]) for name in DEFAULTS}
    for name in (*LSTM_FLAGS, *GRU_FIELDS, "bias"):
        values[name] = bool(values[name])
    for name, allowed in (
        ("family", space.families),
        ("bias", space.bias),
        ("readout", space.readouts),
        ("cell_activation", space.activations),
        ("output_activation", space.activations),
    ):
        values[name] = _allowed(values[name], allowed, DEFAULTS[name])
    if values["coupled"] and not (values["input_gate"] and values["forget_gate"]):
        values["coupled"] = False
    if values["readout"] == "units" and (values["family"] == "lstm" or values["update_gate"]):
        if "linear" in space.readouts:
            values["readout"] = "linear"
        else:
            values["family"], values["update_gate"] = "gru", False
    units = LSTM_UNITS if values["family"] == "lstm" else GRU_UNITS
    x_modes, h_modes = dict(values["x_modes"] or {}), dict(values["h_modes"] or {})
    values["x_modes"], values["h_modes"] = {}, {}
    for unit in units:
        x_mode = _allowed(x_modes.get(unit), space.x_modes, "linear")
        h_mode = _allowed(h_modes.get(unit), space.h_modes, "linear")
        if x_mode != "linear" and h_mode == "none":
            connected = tuple(mode for mode in space.h_modes if mode != "none")
            if connected:
                h_mode = _allowed("linear", connected, "linear")
            else:
                x_mode = "linear"
        for name, mode in (("x_modes", x_mode), ("h_modes", h_mode)):
            if mode != "linear":
                values[name][unit] = mode
    return canonical(build(values))


def _allowed(value: Any, allowed: tuple[Any, ...], default: Any) -> Any:
    """`value` if `allowed` holds it, else `default` if allowed, else the first allowed."""
    for choice in (value, default):
        if choice in allowed and type(choice) is type(allowed[0]):
            return choice
    return allowed[0]
