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
    ys, hs = [], []
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
        if graph.readout_units:  # output units: the last O items of that node, top layer
            ys.append(values[graph.readout_units][:, n_hidden - layout.n_out :])
        else:
            ys.append(inp @ arrays["readout_weight"].T + arrays["readout_bias"])
    final = np.stack([np.concatenate([layer[name] for name in graph.states], axis=1)
                      for layer in states], axis=1)
    return np.stack(ys, axis=1), np.stack(hs, axis=1), final
