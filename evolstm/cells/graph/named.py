"""Named cell graphs, and `cell_graph`: a name, topology or graph -> `Graph`.

Every named topology variant (`evolstm.cells.names()`) is a graph through
`evolstm.cells.graph.convert.from_topology`. Cells that are no point of the topology space
are registered here:

* ``nas``: the recurrent cell Zoph & Le found on Penn Treebank ("Neural Architecture Search
  with Reinforcement Learning", ICLR 2017, appendix figure of the found cell), as TensorFlow
  (Addons)' ``NASCell`` computes it. Read this session in a Flux port that says it follows
  TensorFlow's code (one bias, added to the recurrent products; branch 4 multiplies its two
  maps) and in a Lux port's equations (same, without stating branch 4's bias; its code adds
  branch 4's maps, against its own equations); the paper's figure itself was not read.
  Eight branches of linear maps of x and h_{t-1}:

      o1 = σ(W1 x + U1 h + b1)   o2 = relu(W2 x + U2 h + b2)   o3 = σ(W3 x + U3 h + b3)
      o4 = relu((W4 x) ⊙ (U4 h + b4))   o5 = tanh(W5 x + U5 h + b5)
      o6 = σ(W6 x + U6 h + b6)   o7 = tanh(W7 x + U7 h + b7)   o8 = σ(W8 x + U8 h + b8)
      l1 = tanh(o1 ⊙ o2)   l2 = tanh(o3 + o4)   l3 = tanh(o5 ⊙ o6)   l4 = σ(o7 + o8)
      l1' = tanh(l1 + c_{t-1});   c_t = l1' ⊙ l2;   l5 = tanh(l3 + l4);   h_t = tanh(c_t ⊙ l5)

  Each added branch is one ``linear`` node over (x, h) with a bias; branch 4 is two, the
  bias on the recurrent map as TensorFlow adds its bias to the recurrent products.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from evolstm.cells.graph.convert import from_topology
from evolstm.cells.graph.graph import Graph, Node
from evolstm.cells.topology import Topology
from evolstm.cells.variants import VARIANTS, resolve
from evolstm.errors import EvolstmError


def _nas() -> Graph:
    nodes: list[Node] = []

    def add(name: str, op: str, *inputs: str, bias: bool = True) -> str:
        nodes.append(Node(name, op, inputs, bias))
        return name

    acts = {1: "sigmoid", 2: "relu", 3: "sigmoid", 5: "tanh", 6: "sigmoid", 7: "tanh",
            8: "sigmoid"}
    o: dict[int, str] = {}
    for k in range(1, 9):
        if k == 4:
            product = add("b4", "mul", add("b4_x", "linear", "x", bias=False),
                          add("b4_h", "linear", "h"))
            o[4] = add("o4", "relu", product)
        else:
            o[k] = add(f"o{k}", acts[k], add(f"b{k}", "linear", "x", "h"))
    l1 = add("l1", "tanh", add("o1o2", "mul", o[1], o[2]))
    l2 = add("l2", "tanh", add("o3o4", "add", o[3], o[4]))
    l3 = add("l3", "tanh", add("o5o6", "mul", o[5], o[6]))
    l4 = add("l4", "sigmoid", add("o7o8", "add", o[7], o[8]))
    l1c = add("l1c", "tanh", add("l1_c", "add", l1, "c"))
    c_t = add("c_t", "mul", l1c, l2)
    l5 = add("l5", "tanh", add("l3l4", "add", l3, l4))
    h_t = add("h_t", "tanh", add("c_l5", "mul", c_t, l5))
    return Graph(("h", "c"), tuple(nodes), (h_t, c_t))


GRAPHS: dict[str, Callable[[], Graph]] = {"nas": _nas}


def names() -> list[str]:
    """Names of the cells that are graphs only (the topology variants are graphs too)."""
    return list(GRAPHS)


def name_of(graph: Graph) -> str | None:
    """The first named cell (the topology variants, then `names()`) whose graph has `graph`'s
    canonical key, or None."""
    return _names_by_key().get(graph.key())


@functools.cache
def _names_by_key() -> dict[str, str]:
    by_key: dict[str, str] = {}
    for name in (*VARIANTS, *GRAPHS):
        by_key.setdefault(cell_graph(name).key(), name)
    return by_key


def cell_graph(spec: str | dict[str, Any] | Topology | Graph) -> Graph:
    """A named cell (`evolstm.cells.names()` or `names()`), a topology (dict or `Topology`),
    a graph dict (`Graph.to_dict`) or a `Graph` -> its `Graph`."""
    if isinstance(spec, Graph):
        return spec
    if isinstance(spec, str) and spec in GRAPHS:
        return GRAPHS[spec]()
    if isinstance(spec, str) and spec not in VARIANTS:
        raise EvolstmError(
            f"unknown cell {spec!r}; known: {', '.join([*VARIANTS, *GRAPHS])}"
        )
    if isinstance(spec, dict) and "nodes" in spec:
        return Graph.from_dict(spec)
    return from_topology(resolve(spec))
