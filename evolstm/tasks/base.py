"""The task contract: what a genome is scored on (fitness, minimised) and tested on.

A task is built once per run from its options and the run's seed (`Task(options, seed)`),
then shipped to workers, so it holds plain NumPy data and must pickle (no lambdas, no open
files). `fitness` is called on chunks of the population, inside a worker; `test` scores one
cell on the held-out data that the search never saw.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from evolstm.cells import Population
from evolstm.cells.cell import Cell

# Fitness given to a genome whose outputs are not finite (NaN, inf): worse than any real score.
WORST_FITNESS = 1.0e12


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """For tasks without options."""


class Task(ABC):
    """Base of every task. Subclasses set `name`, `Options`, `n_in`, `n_out`, `metric`."""

    name: ClassVar[str]
    Options: ClassVar[type] = NoOptions
    metric: ClassVar[str]  # the headline test metric, a key of `test`'s dict
    metric_higher_is_better: ClassVar[bool] = True  # False for errors (NRMSE)
    supports_readout_fit: ClassVar[bool] = False  # Evolino's least-squares readout
    supports_graphs: ClassVar[bool] = True  # cell graphs as well as topologies

    def __init__(self, options: Any, seed: int) -> None:
        self.options = options
        self.seed = seed

    n_in: int
    n_out: int

    @abstractmethod
    def fitness(
        self, population: Population, genomes: np.ndarray, ridge: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Score genomes (P, n_params) -> (fitness (P,) float64, genomes (P, n_params)).

        With `ridge` not None (Evolino), the readout of every genome is replaced by the
        least-squares fit (ridge penalty `ridge`, 0 = pseudo-inverse) on the training part,
        and the returned genomes carry it; otherwise the genomes come back unchanged.
        Non-finite scores become `WORST_FITNESS`.
        """

    @abstractmethod
    def test(self, cell: Cell) -> dict[str, float]:
        """Metrics of one cell on the held-out test data; includes `self.metric`."""

    has_criterion: ClassVar[bool] = False  # the task has a success criterion

    def candidates(self, fitness: np.ndarray) -> np.ndarray:
        """Indices (k,) into a generation's fitness (P,) that `solves` should check, best
        first. Default: the generation's champion only."""
        return np.array([int(np.argmin(fitness))])

    def solves(self, population: Population, genomes: np.ndarray) -> np.ndarray:
        """The success criterion for genomes (k, n_params) -> (k,) bool.

        The run loop calls it on each generation's `candidates` (genomes as `fitness`
        returned them, readout included) and stops the search at the first True; the first
        solver in the candidates' order becomes the run's cell. It may be costly (the double
        pole's 100,000-step check); only tasks with `has_criterion` are asked.
        """
        raise NotImplementedError(f"task {self.name} has no success criterion")

    def plot(self, cell: Cell, ax: Any) -> None:
        """Draw what the cell does on this task into a matplotlib Axes."""
        ax.set_axis_off()
        ax.text(0.5, 0.5, f"no behaviour plot for {self.name}", ha="center")


def finite_or_worst(fitness: np.ndarray) -> np.ndarray:
    """float64 copy of `fitness` with NaN and inf replaced by `WORST_FITNESS`."""
    fitness = np.asarray(fitness, dtype=np.float64).copy()
    fitness[~np.isfinite(fitness)] = WORST_FITNESS
    return np.minimum(fitness, WORST_FITNESS)
