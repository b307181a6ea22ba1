"""Mutation paths between cell graphs: every graph of a space is reachable from the
minimal cell (`path_from_minimal`), and how far.

`reduce` takes a graph apart one step at a time (drop a bias, the output units, a state,
an input of a linear, a node that one edge reads, or one reader of a node read by several)
until one node is left, and records for each step the mutation that undoes it: an
`OPERATORS` name and edit that turns the smaller graph into one with the larger graph's
key (checked as it goes). The minimal cell's own reduction is a path of mutations too
(deletions and removed inputs are operators), so minimal -> base -> graph is a mutation
path. Keys do not depend on names and the operators act on structure alone, so a path of
keys, each step made by an operator on some graph of that key, is a path in the space of
cells (the steps here are applied to graphs that carry the larger graph's names).
"""

from __future__ import annotations

from collections.abc import Iterator

from evolstm.archsearch.graphs.draft import users, values
from evolstm.archsearch.graphs.mutations import OPERATORS, Edit
from evolstm.archsearch.graphs.sampling import minimal
from evolstm.archsearch.graphs.space import GraphSpace
from evolstm.cells.graph.graph import SOURCE_X, Graph
from evolstm.cells.graph.nodes import ACTIVATIONS

Step = tuple[str, Edit, Graph, Graph]  # (operator, edit, the graph it edits, the result)
MAX_STEPS = 400


def _apply(name: str, graph: Graph, edit: Edit, space: GraphSpace) -> Graph | None:
    try:
        return OPERATORS[name].apply(graph, edit, space)
    except (KeyError, ValueError, IndexError):
        return None


def _candidates(graph: Graph, space: GraphSpace) -> Iterator[tuple[str, Edit, str, Edit]]:
    """(reverse operator, its edit, forward operator, its edit on the smaller graph), in
    the order the reduction prefers them."""
    by_name = graph.by_name
    for node in graph.nodes:
        if node.op == "linear" and not node.bias and True in space.bias:
            yield "bias", (node.name,), "bias", (node.name,)
    if graph.readout_units:
        yield "readout", ("",), "readout", (graph.readout_units,)
    for node in graph.nodes:
        if node.op == "linear" and len(node.inputs) > 1:
            for v in node.inputs:
                yield "linear_input", ("remove", node.name, v), "linear_input", (
                    "add", node.name, v)
    for index, state in enumerate(graph.states[1:], 1):
        readers = users(graph, state)
        writer = graph.outputs[index]
        if len(readers) != 1:
            continue
        consumer, slot = readers[0]
        if by_name[consumer].op == "linear" and len(by_name[consumer].inputs) > 1:
            yield "remove_state", (state, None), "add_state", ("input", writer, consumer)
        for z in values(graph):
            if z not in (state, SOURCE_X):
                yield "remove_state", (state, z), "add_state", ("edge", writer, (consumer, slot))
    for node in reversed(graph.nodes):
        read_by = users(graph, node.name)
        if len(read_by) != 1:
            continue
        edge = read_by[0]
        for j in range(len(node.inputs)):
            forward = _forward_insert(graph, node.name, j, edge)
            if forward is not None:
                yield "delete", (node.name, j), *forward
    for name in [*reversed([n.name for n in graph.nodes]), *graph.states[1:]]:
        read_by = users(graph, name)
        if len(read_by) < 2:
            continue
        inputs = list(by_name[name].inputs) if name in by_name else []
        for edge in read_by:
            for z in [*inputs, *values(graph)]:
                if z != name:
                    yield "rewire", (edge, z), "rewire", (edge, name)


def _forward_insert(graph: Graph, name: str, j: int, edge: tuple) -> tuple[str, Edit] | None:
    """The insertion that puts node `name` back on `edge` once deleted keeping input j."""
    node = graph.by_name[name]
    if node.op in ACTIVATIONS:
        return "insert_activation", (edge, node.op)
    if len(node.inputs) == 1:
        return "insert_unary", (edge, node.op)
    if node.op in ("add", "mul", "blend"):
        if node.op == "blend" and j == 0:
            return None
        other = [i for k, i in enumerate(node.inputs) if k not in (j, 0 if node.op == "blend"
                                                                    else -1)][0]
        spec = _spec(graph, name, other)
        if node.op == "blend":
            gate = _spec(graph, name, node.inputs[0])
            if isinstance(gate, tuple) and gate[1:] and gate[1] not in graph.sources:
                return None
            return "blend", (edge, gate, spec, 0 if j == 1 else 1)
        return ("sum" if node.op == "add" else "product"), (edge, spec)
    return None


def _spec(graph: Graph, parent: str, other: str) -> object:
    """An operand: the value itself if it outlives the deletion, else the new node it is."""
    by_name = graph.by_name
    if other in by_name and len(users(graph, other)) == 1:
        node = by_name[other]
        if node.op == "tile":
            return ("tile",)
        if node.op == "linear" and len(node.inputs) == 1:
            return ("linear", node.inputs[0])
    return other


def reduce(graph: Graph, space: GraphSpace) -> list[tuple[Graph, Step]]:
    """Reduction steps from `graph` to a one-node graph: (smaller graph, the forward step
    from it to the previous, larger graph). Deterministic."""
    steps: list[tuple[Graph, Step]] = []
    seen = {graph.key()}
    while len(steps) < MAX_STEPS:
        target = graph.key()
        for rname, redit, fname, fedit in _candidates(graph, space):
            small = _apply(rname, graph, redit, space)
            if small is None or small.key() in seen or not space.contains(small):
                continue
            back = _apply(fname, small, fedit, space)
            if back is None or back.key() != target or not space.contains(back):
                continue
            steps.append((small, (fname, fedit, small, back)))
            seen.add(small.key())
            graph = small
            break
        else:
            break
    if len(graph.nodes) == 1 and (graph.nodes[0].op != "linear"):
        node = graph.nodes[0]
        small = _apply("op", graph, (node.name, "linear"), space)
        if small is not None:
            back = _apply("op", small, (node.name, node.op), space)
            if back is not None and back.key() == graph.key():
                steps.append((small, ("op", (node.name, node.op), small, back)))
    return steps


def path_from_minimal(graph: Graph, space: GraphSpace) -> list[Step] | None:
    """A mutation path from `minimal(space)` to a graph with `graph`'s key: steps
    (operator, edit, parent, child), child = the operator's edit applied to parent, each
    parent with the key of the previous child (the first: the minimal cell); None if the
    two reductions end in different one-node graphs. Not a shortest path."""
    start = minimal(space)
    down = reduce(start, space)
    up = reduce(graph, space)
    base_start = down[-1][0] if down else start
    base_graph = up[-1][0] if up else graph
    if base_start.key() != base_graph.key():
        return None
    path: list[Step] = []
    previous = start
    for small, _ in down:  # the minimal cell's reduction, as forward mutations
        path.append(_as_step(previous, small, space))
        previous = small
    path += [step for _, step in reversed(up)]
    return path


def _as_step(big: Graph, small: Graph, space: GraphSpace) -> Step:
    """The operator and edit that make `small` from `big` (one of the reduction's)."""
    for rname, redit, _, _ in _candidates(big, space):
        child = _apply(rname, big, redit, space)
        if child is not None and child.key() == small.key():
            return rname, redit, big, child
    node = big.nodes[0]
    return "op", (node.name, "linear"), big, small
