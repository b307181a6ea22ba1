"""What a search over cells searches: topologies (`evolstm.cells.topology`) or cell graphs
(`evolstm.cells.graph`). A kind bundles its space and operators, so that the outer
algorithms and the run are written once for both.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import numpy as np

from evolstm.archsearch import canonical, crossover, graphs, mutations, sampling
from evolstm.archsearch.space import Space
from evolstm.cells import variants
from evolstm.cells.graph import Graph, cell_graph
from evolstm.cells.graph import names as graph_names
from evolstm.cells.topology import Topology

Cell = Any  # a Topology or a Graph


@dataclasses.dataclass(frozen=True)
class Kind:
    """The cells of one kind of search: the `Space` class filled from
    ``[architecture.space]``, the operators (``fn(..., rng, space)``), a canonical form and
    its key (equal cells, equal keys), a JSON form and the named cells (name -> cell)."""

    name: str
    space: type
    sample: Callable[[np.random.Generator, Any], Cell]
    mutate: Callable[[Cell, np.random.Generator, Any], Cell]
    crossover: Callable[[Cell, Cell, np.random.Generator, Any], Cell]
    canonical: Callable[[Cell], Cell]
    to_json: Callable[[Cell], dict[str, Any]]
    from_json: Callable[[dict[str, Any]], Cell]
    named: Callable[[str], Cell]
    names: Callable[[], list[str]]

    def key(self, cell: Cell) -> str:
        return self.canonical(cell).key()

    def parse(self, entry: str) -> Cell:
        """A start entry: a name, or the JSON of a cell (a candidates.csv key for
        topologies, a graph dict for graphs)."""
        if entry.startswith("{"):
            return self.canonical(self.from_json(json.loads(entry)))
        return self.canonical(self.named(entry))


TOPOLOGY = Kind(
    "topology", Space, sampling.sample, mutations.mutate, crossover.crossover,
    canonical.canonical, Topology.to_dict, Topology.from_dict, variants.resolve,
    variants.names,
)
GRAPH = Kind(
    "graph", graphs.GraphSpace, graphs.sample, graphs.mutate, graphs.crossover,
    lambda graph: graph, Graph.to_dict, Graph.from_dict, cell_graph,
    lambda: [*variants.names(), *graph_names()],
)
KINDS = {kind.name: kind for kind in (TOPOLOGY, GRAPH)}
