"""Operators on cell graphs (`evolstm.cells.graph.Graph`): the graph space of an
architecture search, the minimal cell and sampling, mutations, and mutation paths.

They mirror the topology operators of `evolstm.archsearch` (`space`, `sampling`,
`mutations`): a frozen `GraphSpace` filled from TOML, ``sample(rng, space)``, an
`OPERATORS` registry of ``fn(graph, rng, space) -> Graph``, ``mutate`` and ``neighbours``.
Every result is a valid graph of the space; the canonical key is `Graph.key()`.
"""

from evolstm.archsearch.graphs.mutations import OPERATORS, mutate, neighbours
from evolstm.archsearch.graphs.sampling import minimal, sample
from evolstm.archsearch.graphs.space import GraphSpace

__all__ = ["OPERATORS", "GraphSpace", "minimal", "mutate", "neighbours", "sample"]
