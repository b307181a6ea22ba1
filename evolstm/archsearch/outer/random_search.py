"""Random search: uniform samples of the space, the baseline every search claim must beat
(Li & Talwalkar 2019). The start topologies, if any, come first."""

from __future__ import annotations

import dataclasses

import numpy as np

from evolstm.archsearch.outer.base import OuterAlgorithm
from evolstm.cells.topology import Topology


@dataclasses.dataclass(frozen=True)
class RandomOptions:
    """batch: candidates asked per generation (fixed, so that results do not depend on the
    number of workers)."""

    batch: int = 8

    def validate(self) -> None:
        if self.batch < 1:
            raise ValueError("batch: must be >= 1")


class RandomSearch(OuterAlgorithm):
    name = "random"
    Options = RandomOptions

    def ask(self) -> list[Topology]:
        asked = self.start[: self.options.batch]
        self.start = self.start[len(asked) :]
        while len(asked) < self.options.batch:
            asked.append(self.kind.sample(self.rng, self.space))
        return asked

    def tell(self, candidates: list[Topology], scores: np.ndarray) -> dict[str, float]:
        return {}
