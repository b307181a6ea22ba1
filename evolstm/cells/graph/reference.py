"""A NumPy evaluator of cell graphs: clear and slow, the reference the kernel is tested on.

Each step walks the nodes in order and computes every value for the whole batch at once:
``values[name]`` is (B, width). The weights are read by their cell-file names
(`GraphLayout.unflatten`), so this checks the genome layout as well.
"""

from __future__ import annotations

import numpy as np

from evolstm.cells.graph.graph import SOURCE_X
from evolstm.cells.graph.layout import GraphLayout
from evolstm.cells.graph.nodes import OPS


def evaluate(
    layout: GraphLayout, genome: np.ndarray, x: np.ndarray, state: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One genome (n_params,) over x (B, T, I) from `state` (B, L, S·H) or zeros.

    Returns outputs (B, T, O), the top layer's h (B, T, H) and the final state (B, L, S·H)
    (each layer's states side by side, in the graph's order).
    """
    y, h, final, _ = _run(layout, genome, x, state)
    return y, h, final


def trace(layout: GraphLayout, genome: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
    """Everything inside the top layer along one sequence x (T, I), from zero states:
    {state name: its new value (T, H), node name: its value (T, H)} (what `Cell.trace` gives
    for a topology, by the graph's names: ``h``, ``c``, the gates ``i``, ``f``, ``o``...)."""
    x = np.asarray(x, np.float64)
    _, _, _, values = _run(layout, genome, x[None], None)
    graph = layout.graph
    out = {state: np.stack([v[name][0] for v in values]) for state, name in
           zip(graph.states, graph.outputs, strict=True)}
    out.update({node.name: np.stack([v[node.name][0] for v in values]) for node in graph.nodes})
    return out


def _run(
    layout: GraphLayout, genome: np.ndarray, x: np.ndarray, state: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, np.ndarray]]]:
    """`evaluate`'s results, and the top layer's values (by name: x, the states' previous
    values, every node) at every step."""
    graph, n_hidden = layout.graph, layout.n_hidden
    arrays = {name: np.asarray(value, np.float64) for name, value in
              layout.unflatten(np.asarray(genome)).items()}
    x = np.asarray(x, np.float64)
    n_batch, n_steps, _ = x.shape
    n_states = len(graph.states)
    if state is None:
        state = np.zeros((n_batch, layout.layers, n_states * n_hidden))
    states = [
        {name: np.array(state[:, k, s * n_hidden : (s + 1) * n_hidden], np.float64)
         for s, name in enumerate(graph.states)}
        for k in range(layout.layers)
    ]
    ys, hs, traced = [], [], []
    for t in range(n_steps):
        inp = x[:, t]
        for k in range(layout.layers):
            values = {SOURCE_X: inp, **states[k]}
            for node in graph.nodes:
                args = [values[name] for name in node.inputs]
                if node.op == "linear":
                    value = np.concatenate(args, axis=1) @ arrays[f"{node.name}_weight_l{k}"].T
                    if node.bias:
                        value = value + arrays[f"{node.name}_bias_l{k}"]
                elif node.op == "diag":
                    value = arrays[f"{node.name}_weight_l{k}"] * args[0]
                elif node.op == "tile":  # unit j reads x[j mod I]
                    value = args[0][:, np.arange(n_hidden) % args[0].shape[1]]
                else:
                    value = OPS[node.op].numpy(*args)
                values[node.name] = value
            states[k] = {name: values[out] for name, out in
                         zip(graph.states, graph.outputs, strict=True)}
            inp = states[k][graph.states[0]]
        hs.append(inp)
        traced.append(values)
        if graph.readout_units:  # output units: the last O items of that node, top layer
            ys.append(values[graph.readout_units][:, n_hidden - layout.n_out :])
        else:
            ys.append(inp @ arrays["readout_weight"].T + arrays["readout_bias"])
    final = np.stack([np.concatenate([layer[name] for name in graph.states], axis=1)
                      for layer in states], axis=1)
    return np.stack(ys, axis=1), np.stack(hs, axis=1), final, traced
