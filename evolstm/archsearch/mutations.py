"""Mutation operators on topologies: one small structural change of a cell each.

Mutating the structure of a memory cell is the idea of Bayer, Wierstra, Togelius &
Schmidhuber (2009), who evolved LSTM memory-cell structures on formal languages, and of
Jozefowicz, Zaremba & Sutskever (2015), whose search over gated cells changed them one
element at a time (their best three are the variants `mut1`-`mut3`). Here an operator
changes one field of `Topology`, or one field and what it needs (coupling a forget gate
that was absent adds it).

`OPERATORS` maps a name to an `Operator`, callable as ``fn(topo, rng, space) -> Topology``:
it draws uniformly one of its *outcomes*, the distinct canonical topologies of `space`
(other than the parent) it can make from `topo` (`Operator.outcomes`, deterministic), or
returns the parent (repaired into the space) when it has none. `mutate` applies one
applicable operator; `neighbours` lists every outcome of every operator.

A new operator is a function ``propose(topo, space) -> list of field dicts`` registered in
`OPERATORS`. It proposes only values the space allows for the fields it changes: `repair`
then meets the constraints between fields, and would turn a value outside the space into
another change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from evolstm.archsearch.canonical import canonical, fields_of, repair
from evolstm.archsearch.space import Space
from evolstm.cells.topology import Topology

Fields = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Operator:
    """A mutation operator. `propose` gets the parent's canonical form and lists changed
    copies of its fields (`canonical.fields_of` form), each repaired into the space
    (`canonical.repair`)."""

    propose: Callable[[Topology, Space], list[Fields]]

    def outcomes(self, topo: Topology, space: Space) -> list[Topology]:
        """The distinct canonical topologies of `space` this operator makes from `topo`,
        other than `topo`'s canonical form, in a fixed order."""
        parent = canonical(topo)
        return _new(self.propose(parent, space), space, {parent})

    def __call__(self, topo: Topology, rng: np.random.Generator, space: Space) -> Topology:
        """One outcome drawn uniformly; when there is none, `topo` repaired into the space
        (its canonical form if it is a member)."""
        found = self.outcomes(topo, space)
        return found[rng.integers(len(found))] if found else repair(fields_of(topo), space)


def _new(proposals: list[Fields], space: Space, seen: set[Topology]) -> list[Topology]:
    """The repaired proposals not in `seen` (which gains them), first occurrences only."""
    found = []
    for fields in proposals:
        child = repair(fields, space)
        if child not in seen:
            seen.add(child)
            found.append(child)
    return found


def _changed(topo: Topology, **changes: Any) -> Fields:
    return {**fields_of(topo), **changes}


def _flip(topo: Topology, family: str, name: str) -> list[Fields]:
    if topo.family != family:
        return []
    return [_changed(topo, **{name: not getattr(topo, name)})]


# -- LSTM family --------------------------------------------------------------------------
def input_gate(topo: Topology, space: Space) -> list[Fields]:
    """Add or remove the input gate (i = 1 without it: Greff's NIG). Removing it from a
    coupled cell uncouples the forget gate, which becomes a free gate."""
    if topo.family != "lstm":
        return []
    return [_changed(topo, input_gate=not topo.input_gate, coupled=False)]


def forget_gate(topo: Topology, space: Space) -> list[Fields]:
    """Add or remove the forget gate (f = 1 without it: the 1997 LSTM, Greff's NFG);
    removing the coupled one (f = 1 - i) leaves f = 1 too."""
    if topo.family != "lstm":
        return []
    return [_changed(topo, forget_gate=not topo.forget_gate, coupled=False)]


def output_gate(topo: Topology, space: Space) -> list[Fields]:
    """Add or remove the output gate (o = 1 without it: Greff's NOG)."""
    return _flip(topo, "lstm", "output_gate")


def coupling(topo: Topology, space: Space) -> list[Fields]:
    """Couple the forget gate to the input gate, f = 1 - i (Greff's CIFG; an absent forget
    gate is added as the coupled one), or uncouple it into a free gate. Needs the input
    gate."""
    if topo.family != "lstm" or not topo.input_gate:
        return []
    return [_changed(topo, coupled=not topo.coupled, forget_gate=True)]


def peepholes(topo: Topology, space: Space) -> list[Fields]:
    """Add or remove the peepholes from the memory cell into the gates (Gers & Schmidhuber
    2000; Greff's NP removes them)."""
    return _flip(topo, "lstm", "peepholes")


def gate_recurrence(topo: Topology, space: Space) -> list[Fields]:
    """Add or remove full gate recurrence: every free gate reads every free gate's
    previous activation (Greff's FGR)."""
    return _flip(topo, "lstm", "gate_recurrence")


def cell_activation(topo: Topology, space: Space) -> list[Fields]:
    """Change the cell-input activation act_g to another that the space allows (Greff's
    NIAF: identity)."""
    return _activation(topo, space, "cell_activation")


def output_activation(topo: Topology, space: Space) -> list[Fields]:
    """Change the output activation act_h to another that the space allows (Greff's NOAF:
    identity)."""
    return _activation(topo, space, "output_activation")


def _activation(topo: Topology, space: Space, name: str) -> list[Fields]:
    if topo.family != "lstm":
        return []
    current = getattr(topo, name)
    return [_changed(topo, **{name: value}) for value in space.activations if value != current]


# -- GRU family ---------------------------------------------------------------------------
def reset_gate(topo: Topology, space: Space) -> list[Fields]:
    """Add or remove the reset gate (r = 1 without it)."""
    return _flip(topo, "gru", "reset_gate")


def update_gate(topo: Topology, space: Space) -> list[Fields]:
    """Add or remove the update gate (h_t = n without it: an Elman layer when the reset
    gate is gone too). Adding it to output units gives the cell the linear readout."""
    return _flip(topo, "gru", "update_gate")


def reset_after(topo: Topology, space: Space) -> list[Fields]:
    """Apply the reset gate after the recurrent product, r * (W h + b) (PyTorch), or
    before it, W (r * h) + b (Cho et al. 2014; Jozefowicz's MUT1-3)."""
    return _flip(topo, "gru", "reset_after")


def update_keeps_state(topo: Topology, space: Space) -> list[Fields]:
    """Let z keep the state, h = (1 - z) n + z h (PyTorch), or write the candidate,
    h = z n + (1 - z) h (Jozefowicz et al. 2015)."""
    return _flip(topo, "gru", "update_keeps_state")


# -- both families ------------------------------------------------------------------------
def family(topo: Topology, space: Space) -> list[Fields]:
    """Switch family, to the other family's default cell (the LSTM with forget gate, or
    PyTorch's GRU). The candidate (g or n) keeps its connection modes, and the cell its
    bias and readout where the new family allows them. Only to a family of the space (and
    not to the LSTM family in a space of output units only)."""
    other, source, target = ("gru", "g", "n") if topo.family == "lstm" else ("lstm", "n", "g")
    if other not in space.families or (other == "lstm" and "linear" not in space.readouts):
        return []
    fields: Fields = {"family": other, "bias": topo.bias, "readout": topo.readout}
    for name in ("x_modes", "h_modes"):
        modes = dict(getattr(topo, name))
        fields[name] = {target: modes[source]} if source in modes else {}
    return [fields]


def bias(topo: Topology, space: Space) -> list[Fields]:
    """Add or remove every bias vector (PyTorch's ``bias=False``), where the space allows
    both."""
    return [_changed(topo, bias=not topo.bias)]


def readout(topo: Topology, space: Space) -> list[Fields]:
    """Switch between the linear readout and output units (the fully recurrent network of
    Williams & Zipser 1989), where the space allows both. Output units need h_t = n: a GRU
    loses its update gate with them; the LSTM family cannot have them."""
    if topo.readout == "units":
        return [_changed(topo, readout="linear")]
    if topo.family != "gru" or "units" not in space.readouts:
        return []
    return [_changed(topo, readout="units", update_gate=False)]


def x_mode(topo: Topology, space: Space) -> list[Fields]:
    """Change one unit's input connection to another that the space allows (``linear``
    W x + b, ``identity`` x, ``tanh`` tanh(x), ``none``) and keeps the unit weighted.
    Jozefowicz's MUT1 reads tanh(x) in its candidate, MUT2 x itself in its reset gate."""
    return _modes(topo, space, "x_modes")


def h_mode(topo: Topology, space: Space) -> list[Fields]:
    """Change one unit's recurrent connection to another that the space allows (``linear``
    W h + b, ``tanh`` W tanh(h) + b, ``none``) and keeps the unit weighted. MUT1's update
    gate reads no h, MUT3's tanh(h)."""
    return _modes(topo, space, "h_modes")


def _modes(topo: Topology, space: Space, name: str) -> list[Fields]:
    found = []
    for unit in topo.units():
        x_now, h_now = unit.x_mode, unit.h_mode
        for mode in space.x_modes if name == "x_modes" else space.h_modes:
            x_new, h_new = (mode, h_now) if name == "x_modes" else (x_now, mode)
            if (x_new, h_new) == (x_now, h_now) or (x_new != "linear" and h_new == "none"):
                continue
            fields = _changed(topo)
            fields[name] = {**fields[name], unit.name: mode}
            found.append(fields)
    return found


OPERATORS: dict[str, Operator] = {
    propose.__name__: Operator(propose)
    for propose in (
        input_gate,
        forget_gate,
        output_gate,
        coupling,
        peepholes,
        gate_recurrence,
        cell_activation,
        output_activation,
        reset_gate,
        update_gate,
        reset_after,
        update_keeps_state,
        family,
        bias,
        readout,
        x_mode,
        h_mode,
    )
}


def mutate(topo: Topology, rng: np.random.Generator, space: Space) -> Topology:
    """A canonical topology of `space`, one mutation from `topo`, with another key.

    Draws operators uniformly, without replacement, until one has an outcome, and returns
    one of its outcomes drawn uniformly (so every applicable operator is equally likely).
    Every cell has an outcome in every valid space (an LSTM-family cell's output gate, a
    GRU-family cell's reset gate can always be toggled); were there none, `topo` repaired
    into the space would be returned rather than an error raised.
    """
    names = list(OPERATORS)
    for index in rng.permutation(len(names)):
        found = OPERATORS[names[index]].outcomes(topo, space)
        if found:
            return found[rng.integers(len(found))]
    return repair(fields_of(topo), space)


def neighbours(topo: Topology, space: Space) -> list[Topology]:
    """Every distinct canonical topology of `space` one mutation from `topo`, other than
    `topo`'s own canonical form; deterministic (operators in registry order)."""
    parent = canonical(topo)
    seen = {parent}
    return [
        child
        for operator in OPERATORS.values()
        for child in _new(operator.propose(parent, space), space, seen)
    ]
