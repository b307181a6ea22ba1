"""Mutation operators on cell graphs: one small structural change each.

The operators of Jozefowicz, Zaremba & Sutskever (2015) on a cell's computation graph
(swap an activation or an op, insert an activation, delete a node, replace a node by one of
its ancestors, or by the sum, product or difference of two values), and those a graph of
several states needs (add or remove a state vector, rewire an input, add or remove an input
of a linear, a linear's bias, the output units). Each operator lists its *edits* of a graph
(small tuples, deterministic order: `Operator.edits`) and applies one (`Operator.apply`:
the rebuilt graph, dead nodes pruned, or None when the edit breaks a graph rule). An
operand of a sum, product, difference or blend is an existing value or a new node over one:
``("linear", v)`` (W v + b) or ``("tile",)`` (x without a weight).

`OPERATORS` maps a name to an `Operator`, callable as ``fn(graph, rng, space) -> Graph``:
its edits in a random order (from `rng`) until one gives a graph of `space` with another
key (at most `TRIES` edits), else the parent (or the minimal cell if the parent is outside
the space). `mutate` applies one operator that changes the graph; `neighbours` lists every
distinct one-step outcome (for small graphs: the count grows with edges times values).
Nothing here raises on a valid graph.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from evolstm.archsearch.graphs.draft import (
    OUT,
    UNITS,
    Draft,
    Edge,
    ancestors,
    descendants,
    edges,
    read,
    readable,
)
from evolstm.archsearch.graphs.space import GraphSpace
from evolstm.cells.graph.graph import SOURCE_X, Graph
from evolstm.cells.graph.nodes import ACTIVATIONS, OPS

Edit = tuple[Any, ...]
TRIES = 40
"""Edits an operator tries (in a random order) before it gives up on a graph."""
UNARY = ("one_minus", "diag", "linear")  # one-input ops that are no activation


@dataclasses.dataclass(frozen=True)
class Operator:
    """A mutation: `edits(graph, space)` lists its edits, `apply(graph, edit, space)` makes
    one (None if the result breaks a graph rule)."""

    edits: Callable[[Graph, GraphSpace], list[Edit]]
    apply: Callable[[Graph, Edit, GraphSpace], Graph | None]
    doc: str = ""

    def outcomes(self, graph: Graph, space: GraphSpace) -> list[Graph]:
        """The distinct graphs of `space` (by key) this operator makes from `graph`, other
        than `graph`, in edit order."""
        seen = {graph.key()}
        found = []
        for edit in self.edits(graph, space):
            child = self.apply(graph, edit, space)
            if child is not None and space.contains(child):
                key = child.key()
                if key not in seen:
                    seen.add(key)
                    found.append(child)
        return found

    def draw(self, graph: Graph, rng: np.random.Generator, space: GraphSpace) -> Graph | None:
        """An outcome from up to `TRIES` edits in a random order, or None."""
        edits = self.edits(graph, space)
        if not edits:
            return None
        parent = graph.key()
        for index in rng.permutation(len(edits))[:TRIES]:
            child = self.apply(graph, edits[index], space)
            if child is not None and space.contains(child) and child.key() != parent:
                return child
        return None

    def __call__(self, graph: Graph, rng: np.random.Generator, space: GraphSpace) -> Graph:
        """`draw`'s outcome; without one, `graph` (the minimal cell if `graph` is outside
        the space)."""
        child = self.draw(graph, rng, space)
        if child is not None:
            return child
        return graph if space.contains(graph) else _fallback(space)


def _fallback(space: GraphSpace) -> Graph:
    from evolstm.archsearch.graphs.sampling import minimal
    return minimal(space)


def _bias(space: GraphSpace) -> bool:
    """The bias of a new linear: with one if the space allows it."""
    return True in space.bias


def _reads_x(op: str) -> bool:
    return OPS[op].reads_x


def _edge_ok(graph: Graph, edge: Edge, value: str) -> bool:
    """Whether the edge's consumer may read `value` (x only into linear or tile)."""
    if value != SOURCE_X:
        return True
    return edge[0] not in (OUT, UNITS) and _reads_x(graph.by_name[edge[0]].op)


def _node_edges(graph: Graph) -> list[Edge]:
    return edges(graph)


# -- swaps --------------------------------------------------------------------------------
def _activation_edits(graph: Graph, space: GraphSpace) -> list[Edit]:
    return [(node.name, act) for node in graph.nodes if node.op in ACTIVATIONS
            for act in space.activations if act != node.op]


def _op_edits(graph: Graph, space: GraphSpace) -> list[Edit]:
    found = []
    for node in graph.nodes:
        if node.op in ("add", "mul"):
            group: tuple[str, ...] = ("add", "mul")
        elif len(node.inputs) == 1 and node.inputs != (SOURCE_X,) and node.op != "tile":
            group = (*UNARY, *ACTIVATIONS) if node.op in UNARY else UNARY
        else:
            continue
        found += [(node.name, op) for op in group if op != node.op and space.allows_op(op)]
    return found


def _swap(graph: Graph, edit: Edit, space: GraphSpace) -> Graph | None:
    name, op = edit
    draft = Draft(graph)
    draft.nodes[name][0] = op
    if op == "linear":
        draft.nodes[name][2] = _bias(space)
    return draft.build()


def _bias_edits(graph: Graph, space: GraphSpace) -> list[Edit]:
    return [(node.name,) for node in graph.nodes
            if node.op == "linear" and (not node.bias) in space.bias]


def _bias_apply(graph: Graph, edit: Edit, space: GraphSpace) -> Graph | None:
    draft = Draft(graph)
    draft.nodes[edit[0]][2] = not draft.nodes[edit[0]][2]
    return draft.build()


# -- insertions ---------------------------------------------------------------------------
def _insert_activation_edits(graph: Graph, space: GraphSpace) -> list[Edit]:
    return [(edge, act) for edge in _node_edges(graph) if read(graph, edge) != SOURCE_X
            for act in space.activations]


def _insert_unary_edits(graph: Graph, space: GraphSpace) -> list[Edit]:
    found = []
    for edge in _node_edges(graph):
        value = read(graph, edge)
        ops = ("tile", "linear") if value == SOURCE_X else UNARY
        found += [(edge, op) for op in ops if space.allows_op(op)]
    return found


def _insert(graph: Graph, edit: Edit, space: GraphSpace) -> Graph | None:
    edge, op = edit
    draft = Draft(graph)
    draft.write(edge, draft.add(op, [draft.read(edge)], _bias(space)))
    return draft.build()


# -- sum, product, difference, blend of two values ------------------------------------------
def _operands(graph: Graph, edge: Edge, space: GraphSpace) -> list[Any]:
    """What a new binary node on `edge` may read besides the edge's value: existing values
    (not x), a new linear of any value, tile(x)."""
    allowed = _readers_of(graph, edge)
    found: list[Any] = [v for v in allowed if v != SOURCE_X]
    found += [("linear", v) for v in allowed]
    if space.allows_op("tile"):
        found.append(("tile",))
    return found


def _readers_of(graph: Graph, edge: Edge) -> list[str]:
    """Values a new node on `edge` may read: any for an output edge, else those that do
    not depend on the edge's consumer."""
    return readable(graph, edge) if edge[0] not in (OUT, UNITS) else values_all(graph)


def values_all(graph: Graph) -> list[str]:
    return [*graph.sources, *(node.name for node in graph.nodes)]


def _operand(draft: Draft, spec: Any, space: GraphSpace) -> str:
    if isinstance(spec, str):
        return spec
    if spec[0] == "linear":
        return draft.add("linear", [spec[1]], _bias(space))
    return draft.add("tile", [SOURCE_X])


def _combine_edits(op: str) -> Callable[[Graph, GraphSpace], list[Edit]]:
    def propose(graph: Graph, space: GraphSpace) -> list[Edit]:
        needs = ("add", "one_minus") if op == "difference" else (op,)
        if not all(space.allows_op(o) for o in needs):
            return []
        return [(edge, w) for edge in _node_edges(graph) if read(graph, edge) != SOURCE_X
                for w in _operands(graph, edge, space)]
    return propose


def _combine(op: str) -> Callable[[Graph, Edit, GraphSpace], Graph | None]:
    def apply(graph: Graph, edit: Edit, space: GraphSpace) -> Graph | None:
        edge, spec = edit
        draft = Draft(graph)
        value = draft.read(edge)
        other = _operand(draft, spec, space)
        if op == "difference":  # v - w, up to a constant: v + (1 - w)
            draft.write(edge, draft.add("add", [value, draft.add("one_minus", [other])]))
        else:
            draft.write(edge, draft.add(op, [value, other]))
        return draft.build()
    return apply


def _blend_edits(graph: Graph, space: GraphSpace) -> list[Edit]:
    if not space.allows_op("blend"):
        return []
    found = []
    for edge in _node_edges(graph):
        if read(graph, edge) == SOURCE_X:
            continue
        gates: list[Any] = [v for v in _readers_of(graph, edge) if v != SOURCE_X]
        gates += [("linear", v) for v in graph.sources]
        others = _operands(graph, edge, space)
        found += [(edge, z, w, first) for z in gates for w in others for first in (0, 1)]
    return found


def _blend_apply(graph: Graph, edit: Edit, space: GraphSpace) -> Graph | None:
    edge, gate, spec, first = edit
    draft = Draft(graph)
    value = draft.read(edge)
    z = _operand(draft, gate, space)
    other = _operand(draft, spec, space)
    pair = [value, other] if first == 0 else [other, value]
    draft.write(edge, draft.add("blend", [z, *pair]))
    return draft.build()


# -- deletions and replacements ----------------------------------------------------------
def _delete_edits(graph: Graph, space: GraphSpace) -> list[Edit]:
    return [(node.name, k) for node in graph.nodes for k in range(len(node.inputs))]


def _delete(graph: Graph, edit: Edit, space: GraphSpace) -> Graph | None:
    name, k = edit
    draft = Draft(graph)
    keep = draft.nodes[name][1][k]
    del draft.nodes[name]
    draft.redirect(name, keep)
    return draft.build()


def _ancestor_edits(graph: Graph, space: GraphSpace) -> list[Edit]:
    return [(node.name, a) for node in graph.nodes for a in ancestors(graph, node.name)]


def _ancestor(graph: Graph, edit: Edit, space: GraphSpace) -> Graph | None:
    name, replacement = edit
    draft = Draft(graph)
    del draft.nodes[name]
    draft.redirect(name, replacement)
    return draft.build()


def _rewire_edits(graph: Graph, space: GraphSpace) -> list[Edit]:
    return [(edge, v) for edge in edges(graph, units=True)
            for v in readable(graph, edge)
            if v != read(graph, edge) and _edge_ok(graph, edge, v)]


def _rewire(graph: Graph, edit: Edit, space: GraphSpace) -> Graph | None:
    edge, value = edit
    draft = Draft(graph)
    draft.write(edge, value)
    return draft.build()


def _linear_input_edits(graph: Graph, space: GraphSpace) -> list[Edit]:
    found: list[Edit] = []
    for node in graph.nodes:
        if node.op != "linear":
            continue
        if len(node.inputs) > 1:
            found += [("remove", node.name, v) for v in node.inputs]
        if len(node.inputs) < 3:
            banned = descendants(graph, node.name)
            found += [("add", node.name, v) for v in values_all(graph)
                      if v not in banned and v not in node.inputs]
    return found


def _linear_input(graph: Graph, edit: Edit, space: GraphSpace) -> Graph | None:
    how, name, value = edit
    draft = Draft(graph)
    inputs = draft.nodes[name][1]
    if how == "add":
        inputs.append(value)
    else:
        inputs.remove(value)
    return draft.build()


# -- states and readout -------------------------------------------------------------------
def _add_state_edits(graph: Graph, space: GraphSpace) -> list[Edit]:
    if len(graph.states) >= space.max_states:
        return []
    writers = [node.name for node in graph.nodes]
    found: list[Edit] = []
    for w in writers:
        found += [("edge", w, edge) for edge in _node_edges(graph) if edge[0] != OUT]
        found += [("input", w, node.name) for node in graph.nodes
                  if node.op == "linear" and len(node.inputs) < 3]
    return found


def _add_state(graph: Graph, edit: Edit, space: GraphSpace) -> Graph | None:
    how, writer, where = edit
    draft = Draft(graph)
    state = draft.fresh("s")
    draft.states.append(state)
    draft.outputs.append(writer)
    if how == "edge":
        draft.write(where, state)
    else:
        draft.nodes[where][1].append(state)
    return draft.build()


def _remove_state_edits(graph: Graph, space: GraphSpace) -> list[Edit]:
    found: list[Edit] = []
    for state in graph.states[1:]:
        found.append((state, None))
        found += [(state, v) for v in values_all(graph) if v not in (state, SOURCE_X)]
    return found


def _remove_state(graph: Graph, edit: Edit, space: GraphSpace) -> Graph | None:
    """Readers of the state read `value` instead (None: linears drop it from their inputs;
    a linear that already reads `value` drops it too)."""
    state, value = edit
    draft = Draft(graph)
    index = draft.states.index(state)
    del draft.states[index]
    del draft.outputs[index]
    for entry in draft.nodes.values():
        if state not in entry[1]:
            continue
        if entry[0] == "linear" and (value is None or value in entry[1]):
            entry[1] = [i for i in entry[1] if i != state]
        elif value is None:
            return None
        else:
            entry[1] = [value if i == state else i for i in entry[1]]
    return draft.build()


def _readout_edits(graph: Graph, space: GraphSpace) -> list[Edit]:
    if "units" not in space.readouts:
        return [("",)] if graph.readout_units else []
    return [(node.name,) for node in graph.nodes if node.name != graph.readout_units] + (
        [("",)] if graph.readout_units else [])


def _readout(graph: Graph, edit: Edit, space: GraphSpace) -> Graph | None:
    draft = Draft(graph)
    draft.units = edit[0]
    return draft.build()


OPERATORS: dict[str, Operator] = {
    "activation": Operator(_activation_edits, _swap,
                           "swap an activation node's function for another"),
    "op": Operator(_op_edits, _swap,
                   "swap a node's op: add <-> mul; one_minus, diag, linear and the "
                   "activations among one-input ops"),
    "insert_activation": Operator(_insert_activation_edits, _insert,
                                  "put an activation on one edge"),
    "insert_unary": Operator(_insert_unary_edits, _insert,
                             "put one_minus, diag or a linear (tile or linear on x) on one edge"),
    "delete": Operator(_delete_edits, _delete,
                       "delete a node; its readers read one of its inputs"),
    "ancestor": Operator(_ancestor_edits, _ancestor,
                         "replace a node by one of its ancestors"),
    "sum": Operator(_combine_edits("add"), _combine("add"),
                    "replace an edge's value v by v + w"),
    "product": Operator(_combine_edits("mul"), _combine("mul"),
                        "replace an edge's value v by v * w"),
    "difference": Operator(_combine_edits("difference"), _combine("difference"),
                           "replace an edge's value v by v + (1 - w)"),
    "blend": Operator(_blend_edits, _blend_apply,
                      "replace an edge's value v by blend(z, v, w) or blend(z, w, v); z an "
                      "existing value or a new linear of a source"),
    "rewire": Operator(_rewire_edits, _rewire, "let one edge read another value"),
    "linear_input": Operator(_linear_input_edits, _linear_input,
                             "add or remove one input of a linear"),
    "bias": Operator(_bias_edits, _bias_apply, "add or remove a linear's bias"),
    "add_state": Operator(_add_state_edits, _add_state,
                          "a new state vector written by a node, read on one edge or by "
                          "a linear"),
    "remove_state": Operator(_remove_state_edits, _remove_state,
                             "remove a state vector (not h); its readers read another value"),
    "readout": Operator(_readout_edits, _readout,
                        "output units on a node, or back to the linear readout"),
}


def mutate(graph: Graph, rng: np.random.Generator, space: GraphSpace) -> Graph:
    """A valid graph of `space`, one mutation from `graph`, with another key.

    Draws operators uniformly without replacement until one has an outcome
    (`Operator.draw`: up to `TRIES` of its edits in a random order); if none has (a parent
    outside the space, whose every one-step child is outside it too), the minimal cell of
    the space. Never raises; deterministic for the state of `rng`.
    """
    names = list(OPERATORS)
    for index in rng.permutation(len(names)):
        child = OPERATORS[names[index]].draw(graph, rng, space)
        if child is not None:
            return child
    return _fallback(space)


def neighbours(graph: Graph, space: GraphSpace, operators: tuple[str, ...] = ()) -> list[Graph]:
    """Every distinct graph of `space` (by key) one mutation from `graph`, other than
    `graph`; deterministic (operators in registry order, edits in their order). `operators`
    restricts the registry (default: all)."""
    seen = {graph.key()}
    found = []
    for name, operator in OPERATORS.items():
        if operators and name not in operators:
            continue
        for child in operator.outcomes(graph, space):
            key = child.key()
            if key not in seen:
                seen.add(key)
                found.append(child)
    return found
