"""NSGA-II over cells (Deb et al. 2002) with DEAP's `selNSGA2`: two objectives, the score
and the parameter count, both minimised (Bayer et al. 2009 searched LSTM cells with a
multi-objective evolutionary algorithm).

Each generation breeds `population` children from the current population: parents by
binary tournament on (front rank, crowding distance), field-wise crossover with probability
`crossover_prob`, then a mutation. `selNSGA2` keeps the best `population` of parents and
children. The first generation is the start topologies filled up with random samples.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from deap import base, tools

from evolstm.archsearch.outer.base import OuterAlgorithm
from evolstm.cells.topology import Topology


class _Objectives(base.Fitness):
    weights = (-1.0, -1.0)  # score, parameter count: both minimised


class Member:
    """A cell in the NSGA-II population: its topology and DEAP fitness."""

    def __init__(self, topology: Topology, score: float, n_params: int) -> None:
        self.topology = topology
        self.fitness = _Objectives((score, float(n_params)))


@dataclasses.dataclass(frozen=True)
class NSGA2Options:
    population: int = 20
    crossover_prob: float = 0.5  # the GA's name for the same idea

    def validate(self) -> None:
        if self.population < 2:
            raise ValueError("population: must be >= 2")
        if not 0.0 <= self.crossover_prob <= 1.0:
            raise ValueError("crossover_prob: must be in [0, 1]")


class NSGA2(OuterAlgorithm):
    name = "nsga2"
    Options = NSGA2Options

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.members: list[Member] = []
        self.rank: dict[int, int] = {}  # id(member) -> front index

    def ask(self) -> list[Topology]:
        size = self.options.population
        if not self.members:
            first = self.start[:size]
            while len(first) < size:
                first.append(self.kind.sample(self.rng, self.space))
            return first
        children = []
        while len(children) < size:
            mother, father = self._tournament(), self._tournament()
            child = mother.topology
            if self.rng.random() < self.options.crossover_prob:
                child = self.kind.crossover(mother.topology, father.topology, self.rng,
                                             self.space)
            children.append(self.kind.mutate(child, self.rng, self.space))
        return children

    def tell(self, candidates: list[Topology], scores: np.ndarray) -> dict[str, float]:
        offspring = [
            Member(topology, float(score), self.count(topology))
            for topology, score in zip(candidates, scores, strict=True)
        ]
        self.members = tools.selNSGA2(self.members + offspring, self.options.population)
        fronts = tools.sortNondominated(self.members, len(self.members))
        self.rank = {id(member): k for k, front in enumerate(fronts) for member in front}
        return {"front_size": float(len(fronts[0]))}

    def _tournament(self) -> Member:
        """Binary tournament: lower front rank wins, then larger crowding distance, then the
        first drawn."""
        first, second = (self.members[i] for i in self.rng.integers(len(self.members), size=2))

        def merit(member: Member) -> tuple[int, float]:
            return self.rank[id(member)], -member.fitness.crowding_dist

        return second if merit(second) < merit(first) else first
