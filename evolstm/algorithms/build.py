"""An algorithm set up for one population: what a search and a nested inner search share."""

from __future__ import annotations

from typing import Any

import numpy as np

from evolstm.algorithms.base import Algorithm
from evolstm.cells import Population
from evolstm.cells.layout import Layout
from evolstm.errors import EvolstmError
from evolstm.registry import Registry


def create(
    registry: Registry[Algorithm],
    name: str,
    options: Any,
    population: Population,
    seed: int,
    init_scale: float | np.ndarray,
    readout_fit_supported: bool,
) -> Algorithm:
    """The algorithm `name` with `options`, seeded, bound to `population`'s layout.

    init_scale: one spread or (n_params,) per-weight spreads (cut to the evolved part).
    Raises `EvolstmError` when the algorithm fits a readout that the task (or the cell,
    whose outputs are units) does not have.
    """
    algorithm_cls = registry.get(name)
    if algorithm_cls.fits_readout and not readout_fit_supported:
        raise EvolstmError(
            f"{name} fits the readout by least squares, which this task does not support"
        )
    if algorithm_cls.fits_readout and population.n_recurrent == population.n_params:
        raise EvolstmError(f"{name} fits a linear readout; this cell has none (its outputs "
                           "are units)")
    n_evolved = population.n_recurrent if algorithm_cls.fits_readout else population.n_params
    if isinstance(init_scale, np.ndarray):
        init_scale = init_scale[:n_evolved]
    algorithm = algorithm_cls(options, n_evolved, seed, init_scale)
    algorithm.bind(population.layout)
    return algorithm


def forget_bias_offset(layout: Layout, forget_bias: float) -> np.ndarray:
    """(n_params,) added to every genome a search evaluates: `forget_bias` on the forget
    gate's bias of every layer (Gers, Schmidhuber & Cummins 2000; Jozefowicz et al. 2015
    start it at 1), zero elsewhere, so the search is centred on that bias. The input bias
    takes it (the recurrent one where the gate reads no weighted input); cells without a
    free forget gate (GRU family, coupled, no forget gate, no biases, cell graphs) get
    zeros.
    """
    offset = np.zeros(layout.n_params)
    topology = getattr(layout, "topology", None)  # cell graphs have no named forget gate
    if not forget_bias or topology is None:
        return offset
    units = topology.units()
    if "f" not in [unit.name for unit in units]:
        return offset
    hidden = layout.n_hidden
    x_units = [unit.name for unit in units if unit.x_mode == "linear"]
    h_units = [unit.name for unit in units if unit.h_mode != "none"]
    for k in range(layout.layers):
        for prefix, names in (("bias_ih", x_units), ("bias_hh", h_units)):
            block = layout.by_name.get(f"{prefix}_l{k}")
            if block is not None and "f" in names:
                start = block.offset + names.index("f") * hidden
                offset[start : start + hidden] = forget_bias
                break
    return offset


def full_genomes(asked: np.ndarray, n_params: int) -> np.ndarray:
    """Evolved genomes (P, n) -> full genomes (P, n_params), zero readouts appended (Evolino's
    task fits them)."""
    missing = n_params - asked.shape[1]
    if missing == 0:
        return asked
    return np.concatenate([asked, np.zeros((len(asked), missing))], axis=1)
