"""The minimal cell graph, and random graphs of a space (grown from it by mutations)."""

from __future__ import annotations

import numpy as np

from evolstm.archsearch.graphs.space import GraphSpace
from evolstm.cells.graph.graph import Graph, Node


def minimal(space: GraphSpace | None = None) -> Graph:
    """The Elman cell h_t = act(W [x; h] + b): one linear over x and h, one activation
    (tanh, else the space's first), the linear's bias as the space allows (with one if it
    can)."""
    space = space or GraphSpace()
    act = "tanh" if "tanh" in space.activations else space.activations[0]
    bias = True in space.bias
    return Graph(("h",), (Node("pre", "linear", ("x", "h"), bias), Node("h_t", act, ("pre",))),
                 ("h_t",))


def sample(rng: np.random.Generator, space: GraphSpace) -> Graph:
    """A random valid graph of `space`: the minimal cell after a number of random mutations
    drawn uniformly from 0 .. ``space.sample_steps`` (`mutations.mutate`). Never raises;
    deterministic for the state of `rng`."""
    from evolstm.archsearch.graphs.mutations import mutate

    graph = minimal(space)
    for _ in range(int(rng.integers(space.sample_steps + 1))):
        graph = mutate(graph, rng, space)
    return graph
