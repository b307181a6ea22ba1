"""The nested weight search that scores one candidate cell: an inner search with a fixed
budget, run whole inside one worker (it never splits across workers, so N workers run N
inner searches at once).

A candidate's score is the inner search's best fitness on the task's search data (training
and validation, never the test data), and across inner seeds their median (`score`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np

from evolstm import algorithms
from evolstm.algorithms.build import create, forget_bias_offset, full_genomes
from evolstm.cells import Population
from evolstm.cells.graph import Graph
from evolstm.cells.topology import Topology
from evolstm.errors import EvolstmError
from evolstm.tasks import WORST_FITNESS, Task


@dataclasses.dataclass(frozen=True)
class InnerSearch:
    """The weight search every candidate gets: the algorithm with its options, the budget
    (stop at `max_evaluations` or `generations`, whichever comes first, or at
    `target_fitness`) and the cell's sizes, dtype, initial weight spread and forget-gate bias
    centre (`evolstm.algorithms.build.forget_bias_offset`)."""

    algorithm: str
    options: Any
    max_evaluations: int
    generations: int
    target_fitness: float
    hidden: int
    layers: int
    dtype: str
    init_scale: float
    forget_bias: float = 0.0

    def population(self, cell: Topology | Graph, task: Task) -> Population:
        """The candidate's population description for `task`."""
        return Population(cell, task.n_in, self.hidden, task.n_out, self.layers, self.dtype)


@dataclasses.dataclass
class InnerResult:
    """One inner search's outcome: its best fitness, the genome that scored it (n_params,)
    float64 (readout fitted, for Evolino), the evaluations it used and its wall time (s)."""

    fitness: float
    genome: np.ndarray
    evaluations: int
    seconds: float


def run_inner(task: Task, cell: Topology | Graph, inner: InnerSearch, seed: int) -> InnerResult:
    """The inner weight search of `cell` (a topology or a graph) on `task`, seeded with
    `seed`.

    A candidate the inner algorithm cannot handle (e.g. a least-squares readout for a cell
    whose outputs are units) scores `WORST_FITNESS` after 0 evaluations; non-finite outputs
    already score it inside the task.
    """
    started = time.perf_counter()
    population = inner.population(cell, task)
    try:
        algorithm = create(algorithms.ALGORITHMS, inner.algorithm, inner.options, population,
                           seed, inner.init_scale, task.supports_readout_fit)
    except EvolstmError:
        return InnerResult(WORST_FITNESS, np.zeros(population.n_params), 0,
                           time.perf_counter() - started)
    ridge = algorithm.ridge()
    offset = forget_bias_offset(population.layout, inner.forget_bias)
    best_fitness, best_genome = math.inf, np.zeros(population.n_params)
    evaluations = generations = 0
    with np.errstate(all="ignore"):  # cells that overflow score WORST_FITNESS, silently
        while True:
            asked = algorithm.ask()
            full = full_genomes(asked, population.n_params) + offset
            fitness, genomes = task.fitness(population, full, ridge)
            algorithm.tell(asked, fitness)
            evaluations += len(fitness)
            generations += 1
            champion = int(np.argmin(fitness))
            if fitness[champion] < best_fitness:
                best_fitness = float(fitness[champion])
                best_genome = genomes[champion].astype(np.float64)
            if (
                best_fitness <= inner.target_fitness
                or (inner.max_evaluations and evaluations >= inner.max_evaluations)
                or generations >= inner.generations
                or algorithm.stop()
            ):
                break
    return InnerResult(best_fitness, best_genome, evaluations, time.perf_counter() - started)


def score(fitness: np.ndarray) -> float:
    """A candidate's score from its inner searches' best fitnesses (k,): their median."""
    return float(np.median(fitness))


def inner_seed(run_seed: int, index: int) -> int:
    """The algorithm seed of inner search number `index` (the same for every candidate, so
    candidates are compared on common random numbers)."""
    return int(np.random.SeedSequence([run_seed, index]).generate_state(1)[0])
