"""`GraphModule`: a cell graph's layers in PyTorch, a small interpreter over its nodes.

Each step of each layer walks the graph's nodes in their topological order
(`Graph.nodes`) and computes every node's value for the whole batch, as the NumPy
reference evaluator does (`evolstm.cells.graph.reference`); each state's new value is its
output node's. The walk is planned once, at construction; the weights are read by their
cell-file names (``{node}_weight_l{k}``, ``{node}_bias_l{k}``) at every step, so that
autograd, ``torch.func.functional_call`` and torch's exporter all see them.

State of a layer: the graph's state vectors side by side, h first (W = S·H, S = 1-5).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from evolstm.cells.graph.graph import SOURCE_X, Graph
from evolstm.cells.population import Population
from evolstm.errors import EvolstmError
from evolstm.torch.base import CellModule, tile

ELEMENTWISE: dict[str, Callable[..., torch.Tensor]] = {
    "add": torch.add,
    "mul": torch.mul,
    "blend": lambda z, a, b: z * a + (1.0 - z) * b,
    "one_minus": lambda a: 1.0 - a,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "identity": lambda a: a,
}
"""The ops without weights or sizes, by name (`evolstm.cells.graph.nodes.OPS`)."""
WITH_WEIGHTS_OR_SIZES = ("linear", "diag", "tile")
"""The other ops, which `GraphModule._node` computes itself."""


class GraphModule(CellModule):
    """A cell graph (1-5 state vectors, stacked layers, linear readout or output units)."""

    def __init__(
        self,
        population: Population,
        arrays: dict[str, np.ndarray] | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        assert population.graph is not None
        graph = population.graph
        unknown = [node for node in graph.nodes
                   if node.op not in ELEMENTWISE and node.op not in WITH_WEIGHTS_OR_SIZES]
        if unknown:
            raise EvolstmError(
                f"to_torch: graph node {unknown[0].name} has op {unknown[0].op!r}, which the "
                f"torch bridge cannot compute (missing: a torch form of {unknown[0].op!r}; "
                f"it knows {', '.join([*WITH_WEIGHTS_OR_SIZES, *ELEMENTWISE])})"
            )
        super().__init__(population, arrays, info)
        self.graph: Graph = graph
        self.readout_units = bool(graph.readout_units)
        # Per layer, per linear or diag node: the names of its weight and bias (None: none).
        self._params: list[dict[str, tuple[str, str | None]]] = [
            {node.name: (f"{node.name}_weight_l{k}",
                         f"{node.name}_bias_l{k}" if node.op == "linear" and node.bias else None)
             for node in graph.nodes if node.op in ("linear", "diag")}
            for k in range(population.layers)
        ]

    @property
    def structure(self) -> Graph:
        return self.graph

    @property
    def state_layout(self) -> str:
        return "[" + " | ".join(f"{name} (H)" for name in self.graph.states) + "]"

    def _layer(
        self, k: int, inp: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        graph = self.graph
        previous = state.split([self.n_hidden] * len(graph.states), dim=1)
        values = dict(zip(graph.states, previous, strict=True))
        values[SOURCE_X] = inp
        for node in graph.nodes:
            args = [values[name] for name in node.inputs]
            if node.op in ELEMENTWISE:
                values[node.name] = ELEMENTWISE[node.op](*args)
            else:
                values[node.name] = self._node(k, node.name, node.op, args)
        new_state = torch.cat([values[name] for name in graph.outputs], dim=1)
        return new_state, values[graph.readout_units] if graph.readout_units else None

    def _node(self, k: int, name: str, op: str, args: list[torch.Tensor]) -> torch.Tensor:
        """The value (B, H) of node `name` of layer k, a linear, diag or tile over `args`."""
        if op == "tile":  # unit j reads x[j mod I]
            return tile(args[0], self.n_hidden)
        weight_name, bias_name = self._params[k][name]
        weight = getattr(self, weight_name)
        if op == "diag":
            return weight * args[0]
        joined = args[0] if len(args) == 1 else torch.cat(args, dim=1)  # W [a; b; c] + bias
        return functional.linear(joined, weight,
                                 None if bias_name is None else getattr(self, bias_name))
