"""CoSyNE: Cooperative Synapse NeuroEvolution, one subpopulation per weight.

Gomez, Schmidhuber & Miikkulainen 2008, "Accelerated neural evolution through cooperatively
coevolved synapses", JMLR 9: 937-965: its CoSyNE algorithm box and the probabilistic
permutation defined with it (recalled: the search tool returned only the abstract).

The population is an m × n matrix: column i is the subpopulation of weight i, row j is
network j. Each generation (fitness minimised here, maximised in the paper):

1. evaluate the m networks formed by the rows;
2. rank the rows; from the top quarter (``elite_fraction``) produce l offspring
   (``offspring_fraction`` · m) by one-point crossover of two parents drawn from it, then
   perturb each offspring weight with probability ``mutation_rate`` by Cauchy (or normal) noise
   of scale ``mutation_scale``; the offspring replace the l worst rows;
3. permute the surviving weights within each subpopulation. ``probabilistic`` (the paper's
   version): weight x_ij is marked with probability

       p(x_ij) = 1 - ((f_max - f_j) / (f_max - f_min)) ** (1/n)

   (the paper's 1 - ((f(x_ij) - f_min) / (f_max - f_min))^(1/n) for fitness maximised), f_j
   being the fitness of the network x_ij was part of; the marked weights of each subpopulation
   are shuffled among themselves. So network j keeps all its weights with probability equal
   to its normalised fitness, and the best network is never broken up. ``all`` shuffles every
   surviving weight (the basic CoSyNE), ``none`` none (a plain GA). New offspring are not
   shuffled: their fitness is not known yet.

Defaults: the quarter fractions are the paper's; m = 40, mutation rate 0.3 and Cauchy scale 0.3
are defaults of this implementation (the paper tunes them per task; its text could not be read
through the search tool).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from evolstm.algorithms.base import Algorithm, normal_genomes
from evolstm.algorithms.esp import Noise, one_point_crossover, perturb


class CoSyNE(Algorithm):
    """Cooperatively coevolved synapses with probabilistic permutation."""

    name = "cosyne"

    @dataclasses.dataclass(frozen=True)
    class Options:
        population: int = 40  # m, networks per generation
        elite_fraction: float = 0.25  # top quarter breeds
        offspring_fraction: float = 0.25  # l / m, offspring replacing the worst rows
        mutation_rate: float = 0.3  # probability that an offspring weight gets noise
        noise: Noise = "cauchy"
        mutation_scale: float = 0.3
        permutation: Literal["probabilistic", "all", "none"] = "probabilistic"

        def validate(self) -> None:
            if self.population < 4:
                raise ValueError("population: must be >= 4")
            if not 0.0 < self.elite_fraction <= 1.0:
                raise ValueError("elite_fraction: must be in (0, 1]")
            if not 0.0 < self.offspring_fraction < 1.0:
                raise ValueError("offspring_fraction: must be in (0, 1)")
            if not 0.0 <= self.mutation_rate <= 1.0:
                raise ValueError("mutation_rate: must be in [0, 1]")
            if self.mutation_scale < 0:
                raise ValueError("mutation_scale: must be >= 0")

    def __init__(self, options: Options, n_params: int, seed: int,
                 init_scale: float | np.ndarray) -> None:
        super().__init__(options, n_params, seed, init_scale)
        self._rng = np.random.default_rng(seed)
        self._networks = normal_genomes(self._rng, options.population, n_params, init_scale)

    def ask(self) -> np.ndarray:
        return self._networks.copy()

    def tell(self, genomes: np.ndarray, fitness: np.ndarray) -> dict[str, float]:
        opts, rng = self.options, self._rng
        size = opts.population
        fitness = np.nan_to_num(np.asarray(fitness, dtype=np.float64), nan=np.inf)
        if fitness.shape != (size,):
            raise ValueError(f"fitness: expected shape ({size},), got {fitness.shape}")
        order = np.argsort(fitness, kind="stable")
        networks, fitness = self._networks[order], fitness[order]
        n_elite = max(1, round(opts.elite_fraction * size))
        n_offspring = min(size - 1, max(1, round(opts.offspring_fraction * size)))
        children = []
        while len(children) < n_offspring:
            first, second = rng.choice(n_elite, size=2, replace=n_elite < 2)
            children.extend(one_point_crossover(rng, networks[first], networks[second]))
        survivors = size - n_offspring
        networks[survivors:] = perturb(
            rng,
            np.stack(children[:n_offspring]),
            opts.mutation_rate,
            opts.mutation_scale,
            opts.noise,
        )
        marked = self._marks(fitness[:survivors], fitness)
        for column in range(self.n_params):
            rows = np.flatnonzero(marked[:, column])
            if rows.size > 1:
                networks[rows, column] = networks[rng.permutation(rows), column]
        self._networks = networks
        return {"permuted_fraction": float(marked.mean())}

    def _marks(self, survivors: np.ndarray, fitness: np.ndarray) -> np.ndarray:
        """(survivors, n) bool: which surviving weights take part in the permutation."""
        shape = (survivors.size, self.n_params)
        if self.options.permutation == "none":
            return np.zeros(shape, dtype=bool)
        if self.options.permutation == "all":
            return np.ones(shape, dtype=bool)
        finite = fitness[np.isfinite(fitness)]
        if finite.size == 0 or finite.max() == finite.min():
            return np.zeros(shape, dtype=bool)  # no ranking information: keep every network
        worst, best = finite.max(), finite.min()
        goodness = (worst - np.minimum(survivors, worst)) / (worst - best)
        probability = 1.0 - goodness ** (1.0 / self.n_params)
        return self._rng.random(shape) < probability[:, None]
