"""The graph interpreter: one Numba kernel for every cell graph.

It is checked against the NumPy reference evaluator (itself checked against the fixed
kernels and PyTorch in test_graph.py) and against the fixed kernels directly.
"""

from __future__ import annotations

import numpy as np
import pytest

import evolstm
from evolstm.cells.graph import kernel
from evolstm.cells.graph.named import names as graph_names
from evolstm.cells.graph.reference import evaluate
from evolstm.errors import EvolstmError
from test_graph import CELLS, close, random_graph_topologies

N_STEPS = 100


@pytest.mark.parametrize("cell", [*CELLS, *graph_names(), *random_graph_topologies(8, seed=3)],
                         ids=lambda c: c if isinstance(c, str) else "random")
def test_interpreter_equals_reference_evaluator_and_fixed_kernels(cell, rng):
    n_in, n_hidden, n_out, layers, n_batch = 3, 5, 2, 2, 2
    pop = evolstm.Population(evolstm.cells.graph(cell), n_in, n_hidden, n_out, layers=layers)
    genomes = rng.normal(0.0, 0.5 if isinstance(cell, str) else 0.25, (20, pop.n_params))
    x = rng.normal(size=(n_batch, N_STEPS, n_in))

    run = pop.run(genomes, x, keep_hidden=True)  # 20 genomes: a lane block
    checked = [0, 7, 19]  # (some genomes of 20 are chaotic: noaf's 6th gains 10x per 10 steps
    # from a last-bit difference and reaches 1.1e-12 of its size at step 100)

    for p in checked:
        y, h, final = evaluate(pop.layout, genomes[p], x)
        assert close(run.outputs[p], y) and close(run.hidden[p], h) and close(run.state[p], final)
    if cell not in graph_names():
        fixed = evolstm.Population(cell, n_in, n_hidden, n_out, layers=layers).run(genomes, x)
        assert close(run.outputs[checked], fixed.outputs[checked])


def test_graph_population_takes_a_graph_its_dict_or_a_graph_name(rng):
    graph = evolstm.cells.graph("gru")
    pops = [evolstm.Population(spec, 2, 4, 1) for spec in (graph, graph.to_dict(), "nas")]
    topo = evolstm.Population("gru", 2, 4, 1)
    genome = rng.normal(size=topo.n_params)
    x = rng.normal(size=(1, 20, 2))

    assert pops[0].n_params == pops[1].n_params == topo.n_params
    assert np.array_equal(pops[0].predict(genome, x), pops[1].predict(genome, x))
    assert close(pops[0].predict(genome, x), topo.predict(genome, x))
    assert pops[2].graph == evolstm.cells.graph("nas") and pops[2].topology is None
    assert "nas" in repr(pops[2])
    with pytest.raises(EvolstmError, match="cycle"):
        bad = graph.to_dict()
        bad["nodes"][0]["inputs"] = ["h_t"]
        evolstm.Population(bad, 2, 4, 1)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n_hidden", [3, 16])
def test_results_do_not_depend_on_population_size_layout_or_threads(n_hidden, dtype, rng):
    pop = evolstm.Population("nas", 2, n_hidden, 2, dtype=dtype)
    genomes = rng.normal(0.0, 0.5, (70, pop.n_params)).astype(dtype)
    x = rng.normal(size=(2, 30, 2)).astype(dtype)  # B <= 2: lanes for H = 16 in float32

    whole = pop.run(genomes, x, keep_hidden=True)  # lanes where H is small: P fills them
    threads = pop.run(genomes, x, keep_hidden=True, jobs=2)
    few = pop.run(genomes[:3], x, keep_hidden=True)  # one genome a block
    alone = pop.run(genomes[5:6], x[1:2], keep_hidden=True)  # and one sequence

    assert whole.outputs.dtype == np.dtype(dtype)
    assert np.array_equal(whole.outputs, threads.outputs)
    assert np.array_equal(whole.hidden, threads.hidden)
    assert np.array_equal(whole.outputs[:3], few.outputs)
    assert np.array_equal(whole.hidden[:3], few.hidden)
    assert np.array_equal(whole.state[:3], few.state)
    assert np.array_equal(whole.outputs[5:6, 1:2], alone.outputs)


def test_float32_follows_float64(rng):
    pops = {dt: evolstm.Population(evolstm.cells.graph("lstm"), 2, 6, 1, dtype=dt)
            for dt in ("float32", "float64")}
    genomes = rng.normal(0.0, 0.5, (4, pops["float64"].n_params))
    x = rng.normal(size=(2, 50, 2))

    y32 = pops["float32"].predict(genomes, x)
    y64 = pops["float64"].predict(genomes, x)

    assert y32.dtype == np.float32
    assert np.allclose(y32, y64, atol=1e-4)


def test_a_new_graph_compiles_nothing(rng):
    x = rng.normal(size=(1, 10, 2))
    for name in ("lstm", "nas", "mut2"):  # the first may compile (or load) the kernel
        pop = evolstm.Population(evolstm.cells.graph(name), 2, 4, 1)
        pop.predict(rng.normal(size=(2, pop.n_params)), x)
        if name == "lstm":
            count = len(kernel.simulate.signatures)

    assert len(kernel.simulate.signatures) == count


def test_closed_loop_and_resumed_runs_follow_the_graph(rng):
    pop = evolstm.Population("nas", 1, 4, 1, layers=2)
    genome = rng.normal(0.0, 0.5, pop.n_params)
    x = rng.normal(size=(2, 20, 1))

    run = pop.run(genome, x, n_generate=5)
    fed = np.concatenate([x, run.outputs[0, :, 19:24]], axis=1)  # each step's input: last output
    y, _, _ = evaluate(pop.layout, genome, fed)
    first = pop.run(genome, x[:, :8])
    rest = pop.run(genome, x[:, 8:], state=first.state)

    assert close(run.outputs[0], y)
    assert np.array_equal(np.concatenate([first.outputs, rest.outputs], axis=2),
                          pop.run(genome, x).outputs)
    assert rest.state.shape == (1, 2, 2, 2 * 4)  # (P, B, L, states · H)


def test_evolino_hidden_states_go_into_the_callers_array(rng):
    pop = evolstm.Population("nas", 1, 4, 1)
    genomes = rng.normal(0.0, 0.5, (3, pop.n_params))
    x = rng.normal(size=(2, 15, 1))
    out = np.empty((3, 2, 15, 4))

    hidden = pop.states(genomes, x, out=out)

    assert hidden is out
    assert close(out[1], evaluate(pop.layout, genomes[1], x)[1])


def random_graph(rng: np.random.Generator) -> evolstm.cells.Graph:
    """A random valid graph: 1-3 states, 4-14 nodes of every op, each state's new value a
    tanh, dead nodes pruned."""
    from evolstm.cells.graph import Graph, Node
    from evolstm.cells.graph.nodes import OPS

    states = ["h", "c", "m"][: int(rng.integers(1, 4))]
    while True:
        nodes: list[Node] = []
        values = list(states)  # H-wide values so far
        for state in states:  # every state read by a linear (some with x too)
            inputs = [state, "x"] if rng.random() < 0.5 else [state]
            nodes.append(Node(f"n{len(nodes)}", "linear", tuple(inputs), bool(rng.random() < 0.8)))
            values.append(nodes[-1].name)
        for _ in range(int(rng.integers(2, 12))):
            op = str(rng.choice([*OPS, "fold", "group"]))
            name = f"n{len(nodes)}"
            if op == "fold":  # add(linear(a), linear(b)): folded into one linear
                pool = ["x", *values]
                a, b = (str(v) for v in rng.choice(pool, size=2, replace=False))
                nodes += [Node(f"{name}a", "linear", (a,)),
                          Node(f"{name}b", "linear", (b,), bool(rng.random() < 0.5)),
                          Node(name, "add", (f"{name}a", f"{name}b"))]
                values.append(name)
                continue
            if op == "group":  # a linear over an earlier one's inputs: grouped with it
                earlier = [n for n in nodes if n.op == "linear"]
                like = earlier[int(rng.integers(len(earlier)))]
                nodes.append(Node(name, "linear",
                                  tuple(str(i) for i in rng.permutation(like.inputs)),
                                  bool(rng.random() < 0.5)))
                nodes.append(Node(f"{name}m", "mul", (like.name, name)))
                values.append(f"{name}m")
                continue
            if op == "tile":
                inputs: tuple[str, ...] = ("x",)
            elif op == "linear":
                pool = ["x", *values]
                count = int(rng.integers(1, 4))
                inputs = tuple(rng.choice(pool, size=min(count, len(pool)), replace=False))
            else:
                count = OPS[op].min_inputs
                inputs = tuple(str(v) for v in rng.choice(values, size=count))
            nodes.append(Node(name, op, tuple(str(i) for i in inputs), bool(rng.random() < 0.8)))
            values.append(name)
        chosen = [str(rng.choice(values[len(states):])) for _ in states]
        chosen[0] = values[-1]
        outputs = []
        for k, value in enumerate(chosen):  # squashed, so that no state grows without bound
            nodes.append(Node(f"out{k}", "tanh", (value,)))
            outputs.append(f"out{k}")
        live, stack = set(), list(outputs)
        by_name = {node.name: node for node in nodes}
        while stack:
            name = stack.pop()
            if name in by_name and name not in live:
                live.add(name)
                stack.extend(by_name[name].inputs)
        kept = tuple(node for node in nodes if node.name in live)
        try:
            return Graph(tuple(states), kept, tuple(outputs))
        except EvolstmError:
            continue


@pytest.mark.parametrize("seed", range(16))
def test_interpreter_runs_random_graphs_as_the_reference_does(seed):
    rng = np.random.default_rng(seed)
    graph = random_graph(rng)
    n_in = int(rng.integers(1, 7))  # also wider than H
    pop = evolstm.Population(graph, n_in, 4, 2, layers=int(rng.integers(1, 3)))
    genomes = rng.normal(0.0, 0.3, (20, pop.n_params))  # lanes
    x = rng.normal(size=(2, 60, n_in))

    run = pop.run(genomes, x, keep_hidden=True)
    rows = pop.run(genomes[:2], x, keep_hidden=True)

    for p in (0, 1):
        y, h, final = evaluate(pop.layout, genomes[p], x)
        assert close(run.outputs[p], y) and close(run.hidden[p], h) and close(run.state[p], final)
        assert np.array_equal(run.outputs[p], rows.outputs[p])


@pytest.mark.parametrize("seed", range(16))
def test_key_of_a_random_graph_survives_renaming_shuffling_and_commuting(seed):
    from evolstm.cells.graph import Graph, Node

    rng = np.random.default_rng(seed)
    graph = random_graph(rng)
    names = {node.name: f"v{k}" for k, node in enumerate(rng.permutation(graph.nodes))}
    names.update({s: s for s in graph.sources})
    nodes = []
    for node in rng.permutation(graph.nodes):
        inputs = [names[i] for i in node.inputs]
        if node.op in ("add", "mul", "linear"):
            inputs = [str(i) for i in rng.permutation(inputs)]
        nodes.append(Node(names[node.name], node.op, tuple(inputs), node.bias))
    twin = Graph(graph.states, tuple(nodes), tuple(names[o] for o in graph.outputs))
    changed = Graph(graph.states, tuple(
        Node(n.name, "sigmoid" if n.name == graph.outputs[0] else n.op, n.inputs, n.bias)
        for n in graph.nodes), graph.outputs)

    assert twin.key() == graph.key()
    assert changed.key() != graph.key()


def test_a_chain_of_added_linears_keeps_every_bias(rng):
    from evolstm.cells.graph import Graph, Node

    nodes = (Node("a", "linear", ("x",)), Node("b", "linear", ("h",)),
             Node("c", "linear", ("m",)), Node("ab", "add", ("a", "b")),
             Node("abc", "add", ("ab", "c")), Node("h_t", "tanh", ("abc",)),
             Node("m_t", "sigmoid", ("abc",)))
    pop = evolstm.Population(Graph(("h", "m"), nodes, ("h_t", "m_t")), 2, 3, 1)
    genome = rng.normal(size=pop.n_params)
    x = rng.normal(size=(1, 30, 2))

    assert close(pop.predict(genome, x)[0], evaluate(pop.layout, genome, x)[0])
