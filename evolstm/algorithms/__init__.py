"""Algorithms: ask/tell optimisers of genomes, seeded and deterministic.

A new algorithm is one file with an `Algorithm` subclass plus one line in `ALGORITHMS`.
"""

from __future__ import annotations

from evolstm.algorithms.base import Algorithm
from evolstm.algorithms.cmaes import CMAES
from evolstm.algorithms.cosyne import CoSyNE
from evolstm.algorithms.esp import ESP
from evolstm.algorithms.evolino import Evolino
from evolstm.algorithms.ga import GA
from evolstm.registry import Registry

ALGORITHMS: Registry[Algorithm] = Registry(
    "algorithm",
    [
        CMAES,
        ESP,
        Evolino,
        CoSyNE,
        GA,
    ],
)
names, get = ALGORITHMS.names, ALGORITHMS.get

__all__ = ["ALGORITHMS", "Algorithm", "get", "names"]
