"""Outer algorithms of the architecture search: ask/tell over cell topologies.

A new outer algorithm is one file with an `OuterAlgorithm` subclass plus one line in `OUTER`.
"""

from __future__ import annotations

from evolstm.archsearch.outer.aging import AgingEvolution
from evolstm.archsearch.outer.base import OuterAlgorithm
from evolstm.archsearch.outer.nsga2 import NSGA2
from evolstm.archsearch.outer.random_search import RandomSearch
from evolstm.archsearch.outer.variants import Variants
from evolstm.registry import Registry

OUTER: Registry[OuterAlgorithm] = Registry(
    "architecture algorithm",
    [
        RandomSearch,
        AgingEvolution,
        NSGA2,
        Variants,
    ],
)
names, get = OUTER.names, OUTER.get

__all__ = ["OUTER", "OuterAlgorithm", "get", "names"]
