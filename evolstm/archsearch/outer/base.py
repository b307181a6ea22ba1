"""The outer-search contract: ask/tell over cell topologies, seeded once, deterministic.

Like the weight algorithms (`evolstm.algorithms.base`), an outer algorithm is never
serialised: a resume rebuilds it from its options and seed and replays ask/tell with the
recorded scores. So it draws every random number from its own generator and never reads
the clock. It sees a candidate's score (the nested weight search's median fitness,
minimised) and computes the parameter count itself (`count`), a deterministic function of
the topology and the cell's sizes.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from evolstm.archsearch.kinds import TOPOLOGY, Kind
from evolstm.cells.topology import Topology


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """For outer algorithms without options of their own."""


class OuterAlgorithm(ABC):
    """Base of every outer algorithm: subclasses set `name`, `Options`, write ask/tell.

    space: the part of the space searched (a `Space`, or a `GraphSpace` for graphs);
    count: cell -> parameter count; start: cells the search starts from (asked first, in
    order); seed: its only source of randomness; kind: what the cells are (`TOPOLOGY` or
    `GRAPH` of `evolstm.archsearch.kinds`), whose operators it uses. (Topology in the
    signatures stands for either kind's cell.)
    """

    name: ClassVar[str]
    Options: ClassVar[type] = NoOptions

    def __init__(
        self,
        options: Any,
        space: Any,
        count: Callable[[Topology], int],
        start: Sequence[Topology],
        seed: int,
        kind: Kind = TOPOLOGY,
    ) -> None:
        self.kind = kind
        self.options = options
        self.space = space
        self.count = count
        self.start = list(start)
        self.rng = np.random.default_rng(seed)

    @abstractmethod
    def ask(self) -> list[Topology]:
        """The next candidates to score (a generation)."""

    @abstractmethod
    def tell(self, candidates: list[Topology], scores: np.ndarray) -> dict[str, float]:
        """Take the scores (P,) of the candidates `ask` returned (minimised); returns
        algorithm-specific history columns (the same keys every generation)."""

    def stop(self) -> str | None:
        """A reason to stop before the candidate budget (e.g. a study that is done)."""
        return None

    def describe(self) -> dict[str, Any]:
        """Facts worth recording in the summary."""
        return {}
