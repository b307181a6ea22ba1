"""Aging (regularised) evolution, Real, Aggarwal, Huang & Le (AAAI 2019).

A population of `population` cells, the oldest removed as each child is added. A child is a
mutation of the best of `sample` cells drawn without replacement from the population (a
tournament). The first generation is the start topologies filled up with random samples;
after it, each generation asks `batch` children at once (chosen before their siblings are
scored: the batched form that lets workers run candidates side by side, fixed in the config
so that the results do not depend on the number of workers).
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from evolstm.archsearch.outer.base import OuterAlgorithm
from evolstm.cells.topology import Topology


@dataclasses.dataclass(frozen=True)
class AgingOptions:
    population: int = 20
    sample: int = 5
    batch: int = 8

    def validate(self) -> None:
        if self.population < 2:
            raise ValueError("population: must be >= 2")
        if not 1 <= self.sample <= self.population:
            raise ValueError("sample: must be between 1 and population")
        if self.batch < 1:
            raise ValueError("batch: must be >= 1")


class AgingEvolution(OuterAlgorithm):
    name = "aging"
    Options = AgingOptions

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        # (topology, score), oldest first
        self.population: collections.deque[tuple[Topology, float]] = collections.deque()

    def ask(self) -> list[Topology]:
        options = self.options
        if not self.population:
            first = self.start[: options.population]
            while len(first) < options.population:
                first.append(self.kind.sample(self.rng, self.space))
            return first
        children = []
        for _ in range(options.batch):
            drawn = self.rng.choice(len(self.population), options.sample, replace=False)
            parent = min(drawn, key=lambda index: (self.population[index][1], index))
            children.append(self.kind.mutate(self.population[parent][0], self.rng, self.space))
        return children

    def tell(self, candidates: list[Topology], scores: np.ndarray) -> dict[str, float]:
        for topology, score in zip(candidates, scores, strict=True):
            self.population.append((topology, float(score)))
        while len(self.population) > self.options.population:
            self.population.popleft()
        alive = np.array([score for _, score in self.population])
        return {"population_best": float(alive.min()), "population_median": float(np.median(alive))}
