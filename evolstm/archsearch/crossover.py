"""Field-wise uniform crossover of two topologies."""

from __future__ import annotations

import numpy as np

from evolstm.archsearch.canonical import canonical, fields_of, repair
from evolstm.archsearch.space import Space
from evolstm.cells.topology import GRU_UNITS, LSTM_UNITS, Topology


def crossover(a: Topology, b: Topology, rng: np.random.Generator, space: Space) -> Topology:
    """A child whose every field of the canonical forms comes from `a` or `b` with
    probability 1/2 each, drawn independently; the input and recurrent modes are drawn unit
    by unit (a unit the parent lacks reads ``linear``). The child is repaired into a valid
    canonical topology of `space` (`canonical.repair`); never raises.

    Parents of different families give a child of either family, with the family-specific
    fields of one parent and the defaults (the other parent's canonical values) for the rest.
    """
    parents = [fields_of(canonical(a)), fields_of(canonical(b))]
    child = {}
    for name in parents[0]:
        if name in ("x_modes", "h_modes"):
            continue
        child[name] = parents[rng.integers(2)][name]
    for name in ("x_modes", "h_modes"):
        child[name] = {
            unit: parents[rng.integers(2)][name].get(unit, "linear")
            for unit in LSTM_UNITS + GRU_UNITS
        }
    return repair(child, space)
