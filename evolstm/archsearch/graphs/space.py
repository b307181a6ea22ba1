"""`GraphSpace`: the part of the cell-graph space an architecture search explores.

Filled from a config's ``[architecture.space]`` table (with ``space = "graph"``) by
`evolstm.options.build`, like `evolstm.archsearch.space.Space` for topologies.
"""

from __future__ import annotations

import dataclasses

from evolstm.archsearch.space import check_choices
from evolstm.cells.graph.graph import MAX_STATES, Graph
from evolstm.cells.graph.nodes import ACTIVATIONS, OPS

OTHER_OPS = tuple(op for op in OPS if op not in ACTIVATIONS)
"""The ops that are no activation: linear, diag, add, mul, blend, one_minus, tile."""
READOUTS = ("linear", "units")


@dataclasses.dataclass(frozen=True)
class GraphSpace:
    """Allowed graphs: which ops and activations nodes may have, at most `max_nodes` nodes
    and `max_states` state vectors (h first), the linears' bias settings (True: with a bias,
    False: without) and the readouts (``linear``; ``units``: a node's last items are y).

    `sample_steps`: `sampling.sample` grows a graph from the minimal cell by 0 to this many
    random mutations.
    """

    ops: tuple[str, ...] = OTHER_OPS
    activations: tuple[str, ...] = ACTIVATIONS
    max_nodes: int = 40
    max_states: int = 3
    bias: tuple[bool, ...] = (True, False)
    readouts: tuple[str, ...] = ("linear",)
    sample_steps: int = 12

    def validate(self) -> None:
        """Raise ValueError, starting with the field's name, if the space is malformed or
        holds no graph (the minimal cell needs ``linear`` and an activation)."""
        for name, known in (("ops", OTHER_OPS), ("activations", ACTIVATIONS),
                            ("bias", (True, False)), ("readouts", READOUTS)):
            check_choices(name, getattr(self, name), known)
        if "linear" not in self.ops:
            raise ValueError("ops: must allow 'linear' (the only op with weights on x)")
        if not 1 <= self.max_states <= MAX_STATES:
            raise ValueError(f"max_states: 1 to {MAX_STATES}")
        if self.max_nodes < 2:
            raise ValueError("max_nodes: at least 2 (the minimal cell: a linear, an activation)")
        if self.sample_steps < 0:
            raise ValueError("sample_steps: must be >= 0")
        if "linear" not in self.readouts:
            raise ValueError("readouts: must allow 'linear'")

    def allows_op(self, op: str) -> bool:
        return op in self.ops or op in self.activations

    def contains(self, graph: Graph) -> bool:
        """Whether `graph` (valid by construction) keeps to this space. A graph without
        weights (no ``linear`` or ``diag`` node) is in no space: nothing to search, and with
        output units it has no parameters at all, which `Graph` refuses."""
        if len(graph.nodes) > self.max_nodes or len(graph.states) > self.max_states:
            return False
        if not any(OPS[node.op].weighted for node in graph.nodes):
            return False
        if ("units" if graph.readout_units else "linear") not in self.readouts:
            return False
        return all(
            self.allows_op(node.op) and (node.op != "linear" or node.bias in self.bias)
            for node in graph.nodes
        )


WIDEST = GraphSpace(max_nodes=48, max_states=MAX_STATES, readouts=READOUTS)
"""Every op, up to 48 nodes and 5 states, both readouts: holds every named cell's graph."""
