"""Editing cell graphs: a mutable copy (`Draft`), the edges of a graph, fresh names, and the
rebuild into a valid `Graph` (dead nodes pruned; an invalid result is None, never raised).

An *edge* is where a value is read: ``(node, slot)`` for a node's input, ``("=", k)`` for
the new value of state k (``outputs[k]``) and ``("=readout", 0)`` for the output units.
"""

from __future__ import annotations

import itertools

from evolstm.cells.graph.graph import SOURCE_X, Graph, Node
from evolstm.errors import EvolstmError

Edge = tuple[str, int]
OUT = "="
UNITS = "=readout"


class Draft:
    """A graph being edited: nodes by name (op, inputs, bias), states, outputs, units."""

    def __init__(self, graph: Graph) -> None:
        self.states = list(graph.states)
        self.nodes: dict[str, list] = {
            node.name: [node.op, list(node.inputs), node.bias] for node in graph.nodes
        }
        self.outputs = list(graph.outputs)
        self.units = graph.readout_units
        self._count = itertools.count()
        self._taken = set(self.nodes) | set(self.states) | {SOURCE_X, "readout"}

    def fresh(self, prefix: str = "n") -> str:
        """A name no node or state has: ``n0``, ``n1``, ... (``s1``, ... for states)."""
        while True:
            name = f"{prefix}{next(self._count)}"
            if name not in self._taken:
                self._taken.add(name)
                return name

    def add(self, op: str, inputs: list[str], bias: bool = True) -> str:
        name = self.fresh()
        self.nodes[name] = [op, list(inputs), bias]
        return name

    def read(self, edge: Edge) -> str:
        consumer, slot = edge
        if consumer == OUT:
            return self.outputs[slot]
        if consumer == UNITS:
            return self.units
        return self.nodes[consumer][1][slot]

    def write(self, edge: Edge, value: str) -> None:
        consumer, slot = edge
        if consumer == OUT:
            self.outputs[slot] = value
        elif consumer == UNITS:
            self.units = value
        else:
            self.nodes[consumer][1][slot] = value

    def redirect(self, old: str, new: str) -> None:
        """Every reader of `old` (nodes, outputs, units) reads `new` instead."""
        for entry in self.nodes.values():
            entry[1] = [new if i == old else i for i in entry[1]]
        self.outputs = [new if o == old else o for o in self.outputs]
        if self.units == old:
            self.units = new

    def build(self) -> Graph | None:
        """The valid graph with the dead nodes pruned, or None if it breaks a rule."""
        live: set[str] = set()
        stack = [*self.outputs, *([self.units] if self.units else [])]
        while stack:
            name = stack.pop()
            if name in live or name not in self.nodes:
                continue
            live.add(name)
            stack.extend(self.nodes[name][1])
        nodes = tuple(Node(name, op, tuple(inputs), bias if op == "linear" else True)
                      for name, (op, inputs, bias) in self.nodes.items() if name in live)
        try:
            return Graph(tuple(self.states), nodes, tuple(self.outputs), (), self.units)
        except EvolstmError:
            return None


def edges(graph: Graph, units: bool = False) -> list[Edge]:
    """Every place a value is read, in node order, then the outputs (then the units)."""
    found = [(node.name, k) for node in graph.nodes for k in range(len(node.inputs))]
    found += [(OUT, k) for k in range(len(graph.outputs))]
    if units and graph.readout_units:
        found.append((UNITS, 0))
    return found


def read(graph: Graph, edge: Edge) -> str:
    consumer, slot = edge
    if consumer == OUT:
        return graph.outputs[slot]
    if consumer == UNITS:
        return graph.readout_units
    return graph.by_name[consumer].inputs[slot]


def users(graph: Graph, name: str) -> list[Edge]:
    """The edges that read `name`."""
    return [edge for edge in edges(graph, units=True) if read(graph, edge) == name]


def descendants(graph: Graph, name: str) -> set[str]:
    """`name` and every node that depends on it."""
    found = {name}
    for node in graph.nodes:  # topological order
        if any(i in found for i in node.inputs):
            found.add(node.name)
    return found


def ancestors(graph: Graph, name: str) -> list[str]:
    """Every source and node `name` depends on (not itself), in graph order."""
    by_name = graph.by_name
    seen: set[str] = set()
    stack = list(by_name[name].inputs) if name in by_name else []
    while stack:
        item = stack.pop()
        if item not in seen:
            seen.add(item)
            stack.extend(by_name[item].inputs if item in by_name else ())
    return [v for v in values(graph) if v in seen]


def values(graph: Graph) -> list[str]:
    """Sources, then nodes in graph order."""
    return [*graph.sources, *(node.name for node in graph.nodes)]


def readable(graph: Graph, edge: Edge) -> list[str]:
    """Values the edge may read without making a cycle: sources and nodes that do not
    depend on its consumer (any node for an output edge)."""
    consumer = edge[0]
    if consumer in (OUT, UNITS):
        return [node.name for node in graph.nodes]
    banned = descendants(graph, consumer)
    return [v for v in values(graph) if v not in banned]
