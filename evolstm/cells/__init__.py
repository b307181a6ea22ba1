"""Cells: the topology space, named variants, cell graphs, genome layout, simulators and cell
files."""

from pathlib import Path

from evolstm.cells import jitcache
from evolstm.cells import graph  # callable: graph(name | topology) -> Graph
from evolstm.cells.graph import Graph
from evolstm.cells.layout import Layout
from evolstm.cells.population import Population, Simulation
from evolstm.cells.topology import Topology
from evolstm.cells.variants import names, resolve, topology

# Numba loads a cached kernel at its first call, never at import: refreshing here is in time.
jitcache.refresh(Path(__file__).resolve().parent.parent)

__all__ = [
    "Graph", "Layout", "Population", "Simulation", "Topology", "graph", "names", "resolve",
    "topology",
]
