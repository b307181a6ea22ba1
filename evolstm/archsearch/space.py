"""`Space`: the part of the topology space an architecture search explores.

Filled from the config's ``[architecture.space]`` table by `evolstm.options.build`; every
field is a tuple of the values a searched cell may take (the defaults: both families, every
connection mode and activation, a linear readout, biases on).
"""

from __future__ import annotations

import dataclasses

from evolstm.cells.topology import (
    ACTIVATIONS,
    FAMILIES,
    H_MODES,
    READOUTS,
    X_MODES,
    Topology,
)


@dataclasses.dataclass(frozen=True)
class Space:
    """Allowed values of a searched cell's fields.

    families: ``lstm``, ``gru``; readouts: ``linear``, ``units`` (output units, which need a
    GRU-family cell without update gate); bias: True (biases), False (none, as the fully
    recurrent networks of the pole-balancing papers); activations: the LSTM family's cell
    and output activations; x_modes, h_modes: the units' input and recurrent connections.
    Only the fields a topology uses are checked: a GRU-family cell has no activations here,
    an absent gate no connections.
    """

    families: tuple[str, ...] = FAMILIES
    readouts: tuple[str, ...] = ("linear",)
    bias: tuple[bool, ...] = (True,)
    activations: tuple[str, ...] = ACTIVATIONS
    x_modes: tuple[str, ...] = X_MODES
    h_modes: tuple[str, ...] = H_MODES

    def validate(self) -> None:
        """Raise ValueError, starting with the field's name, if the space is malformed or
        holds no valid cell."""
        for name, known in (
            ("families", FAMILIES),
            ("readouts", READOUTS),
            ("bias", (True, False)),
            ("activations", ACTIVATIONS),
            ("x_modes", X_MODES),
            ("h_modes", H_MODES),
        ):
            check_choices(name, getattr(self, name), known)
        if "linear" not in self.x_modes and set(self.h_modes) == {"none"}:
            raise ValueError(
                "h_modes: a unit needs a weighted connection: allow x_modes 'linear' or an "
                "h_mode other than 'none'"
            )
        if self.readouts == ("units",) and "gru" not in self.families:
            raise ValueError("readouts: 'units' needs the gru family in families")

    def contains(self, topo: Topology) -> bool:
        """Whether every field that `topo` uses takes a value this space allows."""
        if (
            topo.family not in self.families
            or topo.readout not in self.readouts
            or topo.bias not in self.bias
        ):
            return False
        if topo.family == "lstm" and not {topo.cell_activation, topo.output_activation} <= set(
            self.activations
        ):
            return False
        return all(
            unit.x_mode in self.x_modes and unit.h_mode in self.h_modes
            for unit in topo.units()
        )


WIDEST = Space(readouts=READOUTS, bias=(True, False))
"""Every topology evolstm simulates (both readouts, with and without biases)."""


def check_choices(name: str, values: tuple, known: tuple) -> None:
    """Raise ValueError, starting with `name`, unless `values` lists some of `known`
    (of the same type), each once."""
    if not values:
        raise ValueError(f"{name}: must list at least one value")
    for value in values:
        if value not in known or type(value) is not type(known[0]):
            raise ValueError(f"{name}: {value!r} is not one of {', '.join(map(repr, known))}")
    if len(set(values)) != len(values):
        raise ValueError(f"{name}: lists a value twice")
