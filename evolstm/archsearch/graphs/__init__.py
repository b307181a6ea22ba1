"""Operators on cell graphs (`evolstm.cells.graph.Graph`): the graph space of an
architecture search, the minimal cell and sampling, mutations, and mutation paths.

They mirror the topology operators of `evolstm.archsearch` (`space`, `sampling`,
`mutations`, `crossover`): a frozen `GraphSpace` filled from TOML, ``sample(rng, space)``,
an `OPERATORS` registry of ``fn(graph, rng, space) -> Graph``, ``mutate``, ``neighbours``,
``crossover`` (a subgraph of one parent grafted onto the other), and `paths` (a checked
mutation path from the minimal cell to any graph).
Every result is a valid graph of the space; the canonical key is `Graph.key()`.
"""

from evolstm.archsearch.graphs.crossover import crossover
from evolstm.archsearch.graphs.mutations import OPERATORS, mutate, neighbours
from evolstm.archsearch.graphs.sampling import minimal, sample
from evolstm.archsearch.graphs.space import GraphSpace

__all__ = ["OPERATORS", "GraphSpace", "crossover", "minimal", "mutate", "neighbours", "sample"]
