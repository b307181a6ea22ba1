"""A study of given cells rather than a search: the start topologies (default: every named
variant in the space), asked once. With several inner seeds it is the "Search Space
Odyssey" (Greff et al. 2017) under neuroevolution."""

from __future__ import annotations

import numpy as np

from evolstm.archsearch.outer.base import OuterAlgorithm
from evolstm.cells.topology import Topology


class Variants(OuterAlgorithm):
    name = "variants"

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.asked = False

    def ask(self) -> list[Topology]:
        self.asked = True
        return list(self.start)

    def tell(self, candidates: list[Topology], scores: np.ndarray) -> dict[str, float]:
        return {}

    def stop(self) -> str | None:
        return "every variant scored" if self.asked else None
