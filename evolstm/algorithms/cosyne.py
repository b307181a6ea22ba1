"""CoSyNE: Cooperative Synapse NeuroEvolution, one subpopulation per weight.

Gomez, Schmidhuber & Miikkulainen 2008, "Accelerated neural evolution through cooperatively
coevolved synapses", JMLR 9: 937-965. The paper's own text could not be read through the
search tool; the steps and defaults below follow the author's CoSyNE 1.1 code (Gomez 2007,
read as a reference), which the JMLR experiments were run with.

The population is a matrix: column i is the subpopulation of weight i, row j is network j.
`population` = m networks survive each generation; ``offspring_fraction`` · m new ones are
added, so every generation evaluates m + l rows (fitness minimised here):

1. evaluate every row;
2. rank the rows and keep the best m;
3. the top ``elite_fraction`` of them are the parents: l offspring come in pairs, each pair
   from two parents drawn from them, copied (``crossover = "none"``, the author's default)
   or crossed at one point (``"one_point"``);
4. mutation: each weight of the offspring - and with ``mutate = "non_elite"`` (the author's
   code) of every surviving row below the parents too - gets Cauchy (or normal) noise of
   scale ``mutation_scale`` with probability ``mutation_rate``;
5. permutation within each subpopulation of the surviving rows (offspring are new and keep
   their weights): ``all`` shuffles every surviving weight (the author's default);
   ``probabilistic`` (the paper's rule) marks weight x_ij with probability

       p(x_ij) = 1 - ((f_max - f_j) / (f_max - f_min)) ** (1/n)

   (the paper's 1 - ((f(x_ij) - f_min) / (f_max - f_min))^(1/n) for fitness maximised), f_j
   being the fitness of the network x_ij was part of, and shuffles the marked weights of each
   subpopulation among themselves, so the best network is never broken up; ``none`` (a plain
   GA) shuffles nothing;
6. burst mutation (the author's code): when the best fitness has not improved for
   ``stagnation`` generations, every row becomes the best network so far plus Cauchy noise
   of scale ``burst_scale`` (``stagnation = 0``: never).

Defaults are the author's code's: m = 40 with 20 offspring (60 evaluations a generation),
the top quarter breeding, no crossover, mutation rate 0.8, Cauchy scale 0.3, mutation of every
row below the parents, full permutation, burst mutation after 20 stagnant generations with
scale 0.05. The code draws the initial weights uniformly in +-10 for sigmoid units; here they
are N(0, init_scale²) (the cell's ``init_scale``).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from evolstm.algorithms.base import Algorithm, Progress, normal_genomes
from evolstm.algorithms.esp import Noise, one_point_crossover, perturb


class CoSyNE(Algorithm):
    """Cooperatively coevolved synapses with (probabilistic) permutation."""

    name = "cosyne"

    @dataclasses.dataclass(frozen=True)
    class Options:
        population: int = 40  # m, networks kept each generation (each evaluates m + l)
        offspring_fraction: float = 0.5  # l / m, offspring added each generation
        elite_fraction: float = 0.25  # the top quarter of the m breeds and is not mutated
        crossover: Literal["none", "one_point"] = "none"
        mutate: Literal["non_elite", "offspring"] = "non_elite"
        mutation_rate: float = 0.8  # probability that a weight gets noise
        noise: Noise = "cauchy"
        mutation_scale: float = 0.3
        permutation: Literal["all", "probabilistic", "none"] = "all"
        stagnation: int = 20  # generations without improvement before a burst; 0 = never
        burst_scale: float = 0.05  # Cauchy scale of the burst around the best network

        def validate(self) -> None:
            if self.population < 4:
                raise ValueError("population: must be >= 4")
            if not 0.0 < self.offspring_fraction <= 2.0:
                raise ValueError("offspring_fraction: must be in (0, 2]")
            if not 0.0 < self.elite_fraction <= 1.0:
                raise ValueError("elite_fraction: must be in (0, 1]")
            if not 0.0 <= self.mutation_rate <= 1.0:
                raise ValueError("mutation_rate: must be in [0, 1]")
            if self.mutation_scale < 0:
                raise ValueError("mutation_scale: must be >= 0")
            if self.stagnation < 0:
                raise ValueError("stagnation: must be >= 0")
            if self.burst_scale < 0:
                raise ValueError("burst_scale: must be >= 0")

    def __init__(self, options: Options, n_params: int, seed: int,
                 init_scale: float | np.ndarray) -> None:
        super().__init__(options, n_params, seed, init_scale)
        self._rng = np.random.default_rng(seed)
        self._survivors = options.population
        self._offspring = max(2, 2 * round(options.offspring_fraction * options.population / 2))
        self._parents = max(1, round(options.elite_fraction * options.population))
        size = self._survivors + self._offspring
        self._networks = normal_genomes(self._rng, size, n_params, init_scale)
        self._progress = Progress(options.stagnation, self._networks[0].copy())
        self._bursts = 0

    def ask(self) -> np.ndarray:
        return self._networks.copy()

    def tell(self, genomes: np.ndarray, fitness: np.ndarray) -> dict[str, float]:
        opts, rng = self.options, self._rng
        fitness = np.nan_to_num(np.asarray(fitness, dtype=np.float64), nan=np.inf)
        if fitness.shape != (len(self._networks),):
            raise ValueError(
                f"fitness: expected shape ({len(self._networks)},), got {fitness.shape}"
            )
        order = np.argsort(fitness, kind="stable")[: self._survivors]
        survivors, fitness = self._networks[order], fitness[order]
        self._progress.update(survivors, fitness)
        if self._progress.stagnating:
            self._burst()
            return self._columns(0.0)
        children = self._breed(survivors)
        mutated = survivors[self._parents :] if opts.mutate == "non_elite" else survivors[:0]
        mutated[:] = perturb(rng, mutated, opts.mutation_rate, opts.mutation_scale, opts.noise)
        marked = self._marks(fitness)
        for column in range(self.n_params):
            rows = np.flatnonzero(marked[:, column])
            if rows.size > 1:
                survivors[rows, column] = survivors[rng.permutation(rows), column]
        self._networks = np.concatenate([survivors, children])
        return self._columns(float(marked.mean()))

    def _columns(self, permuted: float) -> dict[str, float]:
        return {"permuted_fraction": permuted, "bursts": float(self._bursts)}

    def _breed(self, ranked: np.ndarray) -> np.ndarray:
        """(l, n) mutated offspring of parents drawn in pairs from the top rows of `ranked`."""
        opts, rng = self.options, self._rng
        children: list[np.ndarray] = []
        while len(children) < self._offspring:
            first, second = rng.choice(self._parents, size=2, replace=self._parents < 2)
            if opts.crossover == "one_point":
                children.extend(one_point_crossover(rng, ranked[first], ranked[second]))
            else:
                children.extend((ranked[first].copy(), ranked[second].copy()))
        return perturb(rng, np.stack(children[: self._offspring]), opts.mutation_rate,
                       opts.mutation_scale, opts.noise)

    def _burst(self) -> None:
        """Every row: the best network so far plus Cauchy noise of scale `burst_scale`."""
        shape = self._networks.shape
        self._networks = self._progress.genome + self.options.burst_scale * (
            self._rng.standard_cauchy(shape)
        )
        self._progress.stale = 0
        self._bursts += 1

    def _marks(self, fitness: np.ndarray) -> np.ndarray:
        """(m, n) bool: which surviving weights (rows ranked by `fitness`) are shuffled."""
        shape = (fitness.size, self.n_params)
        if self.options.permutation == "none":
            return np.zeros(shape, dtype=bool)
        if self.options.permutation == "all":
            return np.ones(shape, dtype=bool)
        finite = fitness[np.isfinite(fitness)]
        if finite.size == 0 or finite.max() == finite.min():
            return np.zeros(shape, dtype=bool)  # no ranking information: keep every network
        worst, best = finite.max(), finite.min()
        goodness = (worst - np.minimum(fitness, worst)) / (worst - best)
        probability = 1.0 - goodness ** (1.0 / self.n_params)
        return self._rng.random(shape) < probability[:, None]

    def describe(self) -> dict[str, float]:
        return {"bursts": float(self._bursts)}
