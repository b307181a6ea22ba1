"""Subgraph crossover of two cell graphs: a node of one parent, with the nodes it depends
on, grafted onto an edge of the other.

Offered, not yet measured: whether grafting helps a graph search more than mutation alone
is an open question (the topology search's field-wise crossover has no graph analogue:
two graphs share no fields).
"""

from __future__ import annotations

import numpy as np

from evolstm.archsearch.graphs.draft import Draft, edges, read
from evolstm.archsearch.graphs.mutations import TRIES
from evolstm.archsearch.graphs.sampling import minimal
from evolstm.archsearch.graphs.space import GraphSpace
from evolstm.cells.graph.graph import SOURCE_X, Graph


def graft(a: Graph, b: Graph, node: str, edge: tuple[str, int]) -> Graph | None:
    """`a` whose `edge` reads a copy of `b`'s `node` and its node ancestors (fresh names;
    b's x is a's x, b's k-th state a's k-th state, or h when `a` has fewer); None if the
    result breaks a graph rule."""
    draft = Draft(a)
    rename = {SOURCE_X: SOURCE_X}
    for k, state in enumerate(b.states):
        rename[state] = a.states[k] if k < len(a.states) else a.states[0]
    by_name = b.by_name
    needed: set[str] = set()
    stack = [node]
    while stack:
        name = stack.pop()
        if name in by_name and name not in needed:
            needed.add(name)
            stack.extend(by_name[name].inputs)
    for item in b.nodes:  # topological order
        if item.name in needed:
            rename[item.name] = draft.add(item.op, [rename[i] for i in item.inputs], item.bias)
    draft.write(edge, rename[node])
    return draft.build()


def crossover(a: Graph, b: Graph, rng: np.random.Generator, space: GraphSpace) -> Graph:
    """A child of `a` with a subgraph of `b` (`graft`): random (node of b, edge of a) pairs,
    at most `TRIES`, until one gives a graph of `space` whose key is neither parent's;
    else `a` (the minimal cell if `a` is outside the space). Never raises; deterministic
    for the state of `rng`."""
    targets = [edge for edge in edges(a) if read(a, edge) != SOURCE_X]
    parents = {a.key(), b.key()}
    for _ in range(TRIES):
        node = b.nodes[rng.integers(len(b.nodes))].name
        edge = targets[rng.integers(len(targets))]
        child = graft(a, b, node, edge)
        if child is not None and space.contains(child) and child.key() not in parents:
            return child
    return a if space.contains(a) else minimal(space)
