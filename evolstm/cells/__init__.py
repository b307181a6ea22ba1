"""Cells: the topology space, named variants, genome layout, simulators and cell files."""

from evolstm.cells.layout import Layout
from evolstm.cells.population import Population, Simulation
from evolstm.cells.topology import Topology
from evolstm.cells.variants import names, resolve, topology

__all__ = ["Layout", "Population", "Simulation", "Topology", "names", "resolve", "topology"]
