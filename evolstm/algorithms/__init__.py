"""Algorithms: ask/tell optimisers of genomes, seeded and deterministic.

A new algorithm is one file with an `Algorithm` subclass plus one line in `ALGORITHMS`.
"""

from __future__ import annotations

from evolstm.algorithms.base import Algorithm
from evolstm.registry import Registry

ALGORITHMS: Registry[Algorithm] = Registry(
    "algorithm",
    [
    ],
)
names, get = ALGORITHMS.names, ALGORITHMS.get

__all__ = ["ALGORITHMS", "Algorithm", "get", "names"]
