"""A generational genetic algorithm built from DEAP's operators, chosen by name.

Each generation keeps the ``elite_count`` best genomes and fills the rest with offspring:
parents drawn by the selection operator, consecutive pairs crossed with probability
``crossover_prob``, each child mutated with probability ``child_mutation_prob``, and then each
of its weights with probability ``mutation_rate`` (DEAP's ``varAnd`` scheme, its ``cxpb``,
``mutpb`` and ``indpb``). Operators (``deap.tools``):

* selection: ``tournament`` (selTournament, ``tournament_size``), ``best`` (selBest),
  ``random`` (selRandom);
* crossover: ``blend`` (cxBlend, ``blend_alpha``), ``one_point``, ``two_point``,
  ``uniform`` (cxUniform, ``uniform_prob``), ``sbx`` (cxSimulatedBinary, ``sbx_eta``);
* mutation: ``gaussian`` (mutGaussian, standard deviation ``mutation_scale``), ``polynomial``
  (mutPolynomialBounded, ``polynomial_eta``, ``bounds``).

The names are those the other algorithms use for the same ideas (``mutation_rate`` and
``mutation_scale`` as in ESP and CoSyNE, ``elite_count`` beside CoSyNE's ``elite_fraction``);
the earlier names ``elitism``, ``mutation_prob``, ``gene_prob`` and ``sigma`` still work as
aliases.

Individuals are plain lists of floats with the fitness kept apart (no ``deap.creator``).
DEAP draws from Python's global `random`; the GA swaps in its own state around every use and
saves it afterwards, so it depends on its seed only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
from collections.abc import Callable, Iterator
from typing import Any, Literal

import numpy as np
from deap import tools

from evolstm.algorithms.base import Algorithm, check_old_names, normal_genomes, take_old_names

OLD_NAMES = {
    "elitism": "elite_count",
    "mutation_prob": "child_mutation_prob",
    "gene_prob": "mutation_rate",
    "sigma": "mutation_scale",
}


@dataclasses.dataclass
class _Scored:
    """A population index with a score to maximise (−fitness), for DEAP's selections."""

    index: int
    score: float


class GA(Algorithm):
    """Generational GA with elitism; DEAP operators by name."""

    name = "ga"

    @dataclasses.dataclass(frozen=True)
    class Options:
        population: int = 50  # genomes evaluated a generation
        elite_count: int = 1  # best genomes copied unchanged
        selection: Literal["tournament", "best", "random"] = "tournament"
        tournament_size: int = 3
        crossover: Literal["blend", "one_point", "two_point", "uniform", "sbx"] = "blend"
        crossover_prob: float = 0.7
        blend_alpha: float = 0.5
        uniform_prob: float = 0.5
        sbx_eta: float = 15.0
        mutation: Literal["gaussian", "polynomial"] = "gaussian"
        child_mutation_prob: float = 0.3  # probability that a child is mutated (DEAP's mutpb)
        mutation_rate: float = 0.1  # then each weight's probability of mutation (indpb)
        mutation_scale: float = 0.1  # the Gaussian mutation's standard deviation
        polynomial_eta: float = 20.0
        bounds: tuple[float, ...] = (-10.0, 10.0)  # polynomial mutation's search box
        elitism: int | None = None  # old name of elite_count
        mutation_prob: float | None = None  # old name of child_mutation_prob
        gene_prob: float | None = None  # old name of mutation_rate
        sigma: float | None = None  # old name of mutation_scale

        def __post_init__(self) -> None:
            take_old_names(self, OLD_NAMES)

        def validate(self) -> None:
            check_old_names(self, OLD_NAMES)
            if self.population < 2:
                raise ValueError("population: must be >= 2")
            if not 0 <= self.elite_count < self.population:
                raise ValueError("elite_count: must be in [0, population)")
            if self.tournament_size < 1:
                raise ValueError("tournament_size: must be >= 1")
            for name in ("crossover_prob", "child_mutation_prob", "mutation_rate", "uniform_prob"):
                if not 0.0 <= getattr(self, name) <= 1.0:
                    raise ValueError(f"{name}: must be in [0, 1]")
            if self.mutation_scale < 0:
                raise ValueError("mutation_scale: must be >= 0")
            if len(self.bounds) != 2 or not self.bounds[0] < self.bounds[1]:
                raise ValueError("bounds: must be [low, high] with low < high")

    def __init__(self, options: Options, n_params: int, seed: int,
                 init_scale: float | np.ndarray) -> None:
        super().__init__(options, n_params, seed, init_scale)
        rng = np.random.default_rng(seed)
        self._genomes = normal_genomes(rng, options.population, n_params, init_scale)
        self._python_state = random.Random(seed).getstate()
        self._select, self._cross, self._mutate = _operators(options)

    def ask(self) -> np.ndarray:
        return self._genomes.copy()

    def tell(self, genomes: np.ndarray, fitness: np.ndarray) -> dict[str, float]:
        opts = self.options
        fitness = np.nan_to_num(np.asarray(fitness, dtype=np.float64), nan=np.inf)
        if fitness.shape != (opts.population,):
            raise ValueError(f"fitness: expected shape ({opts.population},), got {fitness.shape}")
        elite = np.argsort(fitness, kind="stable")[: opts.elite_count]
        scored = [_Scored(i, -f) for i, f in enumerate(fitness.tolist())]
        with self._own_random():
            parents = self._select(scored, opts.population - opts.elite_count)
            children = [self._genomes[parent.index].tolist() for parent in parents]
            for first, second in zip(children[::2], children[1::2], strict=False):
                if random.random() < opts.crossover_prob:
                    self._cross(first, second)
            for child in children:
                if random.random() < opts.child_mutation_prob:
                    self._mutate(child)
        self._genomes = np.vstack([self._genomes[elite], np.array(children, dtype=np.float64)])
        return {"gene_std": float(self._genomes.std(axis=0).mean())}

    @contextlib.contextmanager
    def _own_random(self) -> Iterator[None]:
        saved = random.getstate()
        random.setstate(self._python_state)
        try:
            yield
        finally:
            self._python_state = random.getstate()
            random.setstate(saved)


def _operators(opts: GA.Options) -> tuple[Callable[..., Any], ...]:
    """(select(individuals, k), cross(a, b) in place, mutate(a) in place) from the options."""
    selections: dict[str, Callable[..., Any]] = {
        "tournament": lambda pool, k: tools.selTournament(
            pool, k, opts.tournament_size, fit_attr="score"
        ),
        "best": lambda pool, k: tools.selBest(pool, k, fit_attr="score"),
        "random": tools.selRandom,
    }
    crossovers: dict[str, Callable[..., Any]] = {
        "blend": lambda a, b: tools.cxBlend(a, b, opts.blend_alpha),
        "one_point": tools.cxOnePoint,
        "two_point": tools.cxTwoPoint,
        "uniform": lambda a, b: tools.cxUniform(a, b, opts.uniform_prob),
        "sbx": lambda a, b: tools.cxSimulatedBinary(a, b, opts.sbx_eta),
    }
    low, high = opts.bounds
    mutations: dict[str, Callable[..., Any]] = {
        "gaussian": lambda a: tools.mutGaussian(a, 0.0, opts.mutation_scale, opts.mutation_rate),
        "polynomial": lambda a: tools.mutPolynomialBounded(
            a, opts.polynomial_eta, low, high, opts.mutation_rate
        ),
    }
    return selections[opts.selection], crossovers[opts.crossover], mutations[opts.mutation]
