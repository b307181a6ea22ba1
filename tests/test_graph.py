"""Cell graphs: validity rules, JSON form, canonical key, every topology as a graph.

The NumPy reference evaluator of a graph is checked against the fixed kernels (the
reference kernel and the population's fast one) for every named variant and random
topologies, and against PyTorch's nn.LSTM / nn.GRU / nn.RNN.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import evolstm
from evolstm.cells import Topology, kernels
from evolstm.cells.graph import Graph, Node
from evolstm.cells.graph.layout import GraphLayout
from evolstm.cells.graph.named import names as graph_names
from evolstm.cells.graph.reference import evaluate, trace
from evolstm.errors import EvolstmError

N_STEPS = 100
CELLS = evolstm.cells.names()


def close(a: np.ndarray, b: np.ndarray, tol: float = 1e-12) -> bool:
    """|a - b| <= tol, relative to |b| where it exceeds 1 (cells without a forget gate grow)."""
    return bool(np.all(np.abs(a - b) <= tol * np.maximum(1.0, np.abs(b))))


def elman_like(**changes) -> dict:
    """A small valid graph dict (h_t = tanh(W [x; h] + b)), with `changes` applied."""
    data = {
        "states": ["h"],
        "nodes": [{"name": "a", "op": "linear", "inputs": ["x", "h"]},
                  {"name": "h_t", "op": "tanh", "inputs": ["a"]}],
        "outputs": {"h": "h_t"},
    }
    data.update(copy.deepcopy(changes))
    return data


def random_topology(rng: np.random.Generator) -> Topology | None:
    """A random point of the topology space (None where the draw is no valid topology)."""
    family = str(rng.choice(["lstm", "gru"]))
    units = "ifgo" if family == "lstm" else "rzn"
    data = {
        "family": family,
        **{k: bool(rng.random() < 0.7) for k in
           ("input_gate", "forget_gate", "output_gate", "reset_gate", "update_gate")},
        **{k: bool(rng.random() < 0.3) for k in ("coupled", "peepholes", "gate_recurrence")},
        **{k: bool(rng.random() < 0.5) for k in ("reset_after", "update_keeps_state")},
        "bias": bool(rng.random() < 0.8),
        "readout": "units" if rng.random() < 0.2 else "linear",
        "cell_activation": str(rng.choice(["tanh", "identity"])),
        "output_activation": str(rng.choice(["tanh", "identity"])),
        "x_modes": {u: str(rng.choice(["linear", "identity", "tanh", "none"]))
                    for u in units if rng.random() < 0.3},
        "h_modes": {u: str(rng.choice(["linear", "tanh", "none"]))
                    for u in units if rng.random() < 0.3},
    }
    try:
        return Topology.from_dict(data)
    except EvolstmError:
        return None


def random_graph_topologies(count: int, seed: int) -> list[Topology]:
    """`count` random topologies that are valid graphs."""
    rng, found = np.random.default_rng(seed), []
    while len(found) < count:
        topology = random_topology(rng)
        if topology is None:
            continue
        try:
            evolstm.cells.graph(topology)
        except EvolstmError:
            continue
        found.append(topology)
    return found


# -- the graph itself -------------------------------------------------------------------
@pytest.mark.parametrize("name", [*CELLS, *graph_names()])
def test_named_cell_is_a_graph_that_survives_json(name):
    graph = evolstm.cells.graph(name)

    again = Graph.from_dict(json.loads(json.dumps(graph.to_dict())))

    assert again == graph
    assert again.key() == graph.key()
    assert graph.outputs[0] in graph.by_name and graph.states[0] == "h"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (elman_like(nodes=[{"name": "a", "op": "linear", "inputs": ["x", "b"]},
                           {"name": "b", "op": "tanh", "inputs": ["a"]},
                           {"name": "h_t", "op": "tanh", "inputs": ["b"]}]), "cycle"),
        (elman_like(nodes=[{"name": "h_t", "op": "softplus", "inputs": ["h"]}]), "unknown op"),
        (elman_like(nodes=[{"name": "h_t", "op": "add", "inputs": ["h"]}]), "takes 2 inputs"),
        (elman_like(nodes=[{"name": "a", "op": "linear", "inputs": ["x", "h", "h", "h"]},
                           {"name": "h_t", "op": "tanh", "inputs": ["a"]}]), "takes 1-3"),
        (elman_like(nodes=[{"name": "h_t", "op": "tanh", "inputs": ["q"]}]), "no source"),
        (elman_like(nodes=[{"name": "a", "op": "linear", "inputs": ["x", "h"]},
                           {"name": "d", "op": "tanh", "inputs": ["a"]},
                           {"name": "h_t", "op": "tanh", "inputs": ["a"]}]), "dead"),
        (elman_like(nodes=[{"name": "a", "op": "linear", "inputs": ["x"]},
                           {"name": "h_t", "op": "tanh", "inputs": ["a"]}]), "never read"),
        (elman_like(nodes=[{"name": "h_t", "op": "mul", "inputs": ["x", "h"]}]), "n_in wide"),
        (elman_like(nodes=[{"name": "t", "op": "tile", "inputs": ["h"]},
                           {"name": "h_t", "op": "tanh", "inputs": ["t"]}]), "tile reads x"),
        (elman_like(nodes=[{"name": "h", "op": "tanh", "inputs": ["x"]}]), "used twice"),
        (elman_like(outputs={"h": "x"}), "not a node"),
        (elman_like(nodes=[{"name": "readout", "op": "linear", "inputs": ["x", "h"]},
                           {"name": "h_t", "op": "tanh", "inputs": ["readout"]}]), "reserved"),
        (elman_like(outputs={"c": "h_t"}), "differ"),
        (elman_like(states=["h", "a1", "a2", "a3", "a4", "a5"],
                    outputs={s: "h_t" for s in ["h", "a1", "a2", "a3", "a4", "a5"]}),
         "1 to 5 state"),
        (elman_like(order=["a_weight"]), "order"),
        (elman_like(nodes=[{"name": "h_t", "op": "tanh", "inputs": ["h"], "bias": False}]),
         "bias"),
        (elman_like(version=2), "version"),
        (elman_like(nodez=[]), "unknown graph field"),
        ([1, 2], "expected a table"),
    ],
)
def test_invalid_graph_is_one_clear_error(data, message):
    with pytest.raises(EvolstmError, match=message):
        Graph.from_dict(data)


def test_key_ignores_names_node_order_and_commuted_operands():
    lstm = evolstm.cells.graph("lstm").to_dict()
    renamed = json.loads(json.dumps(lstm).replace('"c_t"', '"memory"').replace('"i"', '"ig"'))
    shuffled = dict(lstm, nodes=lstm["nodes"][::-1])
    commuted = copy.deepcopy(lstm)
    for node in commuted["nodes"]:
        if node["op"] in ("add", "mul"):
            node["inputs"] = node["inputs"][::-1]
    reference = Graph.from_dict(lstm).key()

    assert Graph.from_dict(renamed).key() == reference
    assert Graph.from_dict(shuffled).key() == reference
    assert Graph.from_dict(commuted).key() == reference


def test_key_ignores_the_names_and_listing_of_states_after_h():
    nodes = [Node("a", "linear", ("x", "h", "c")), Node("b", "linear", ("h", "d")),
             Node("c_t", "tanh", ("a",)), Node("d_t", "sigmoid", ("b",)),
             Node("h_t", "mul", ("c_t", "d_t"))]
    one = Graph(("h", "c", "d"), tuple(nodes), ("h_t", "c_t", "d_t"))
    swapped = Graph(("h", "d", "c"), tuple(nodes), ("h_t", "d_t", "c_t"))
    other = Graph(("h", "c", "d"), tuple(nodes), ("h_t", "d_t", "c_t"))

    assert one.key() == swapped.key()
    assert other.key() != one.key()


def test_key_tells_a_shared_weight_block_from_two():
    shared = elman_like(nodes=[{"name": "a", "op": "linear", "inputs": ["x", "h"]},
                               {"name": "m", "op": "mul", "inputs": ["a", "a"]},
                               {"name": "h_t", "op": "tanh", "inputs": ["m"]}])
    two = elman_like(nodes=[{"name": "a", "op": "linear", "inputs": ["x", "h"]},
                            {"name": "b", "op": "linear", "inputs": ["h", "x"]},
                            {"name": "m", "op": "mul", "inputs": ["a", "b"]},
                            {"name": "h_t", "op": "tanh", "inputs": ["m"]}])

    assert Graph.from_dict(shared).key() != Graph.from_dict(two).key()


def test_named_cells_have_distinct_keys_except_equal_topologies():
    keys = {name: evolstm.cells.graph(name).key() for name in [*CELLS, *graph_names()]}
    topologies = {name: evolstm.cells.topology(name) for name in CELLS}

    for a in keys:
        for b in keys:
            same_cell = a == b or (a in topologies and topologies.get(b) == topologies[a])
            assert (keys[a] == keys[b]) == same_cell, (a, b)


def test_output_units_are_a_node_of_the_graph():
    graph = evolstm.cells.graph("fully_recurrent")
    data = graph.to_dict()

    assert data["readout"] == {"units": "n_pre"}
    assert GraphLayout(graph, 3, 4, 1).by_name.get("readout_weight") is None
    with pytest.raises(EvolstmError, match="at least as many hidden units"):
        GraphLayout(graph, 3, 4, 5)
    with pytest.raises(EvolstmError, match="not a node"):
        Graph.from_dict(dict(data, readout={"units": "y"}))
    with pytest.raises(EvolstmError, match="readout"):
        Graph.from_dict(dict(data, readout="units"))
    assert Graph.from_dict(dict(data, readout="linear")).key() != graph.key()


def test_topology_whose_reset_gate_nothing_reads_is_refused():
    with pytest.raises(EvolstmError, match="dead"):
        evolstm.cells.graph({"family": "gru", "h_modes": {"n": "none"}})


# -- genome layout: the same as the topology's -------------------------------------------
@pytest.mark.parametrize("cell", [*CELLS, *random_graph_topologies(20, seed=7)],
                         ids=lambda c: c if isinstance(c, str) else "random")
def test_graph_genome_has_the_topology_layout(cell):
    topology = evolstm.cells.resolve(cell)
    layout = evolstm.Population(topology, 3, 4, 2, layers=2).layout
    glayout = GraphLayout(evolstm.cells.graph(topology), 3, 4, 2, layers=2)
    starts = {block.offset for block in glayout.blocks}

    assert glayout.n_params == layout.n_params
    assert all(block.offset in starts for block in layout.blocks)  # blocks split, never mixed
    assert glayout.by_name.get("readout_weight") == layout.by_name.get("readout_weight")


def test_lstm_graph_arrays_stack_into_pytorchs_arrays(rng):
    pop = evolstm.Population("lstm", 3, 4, 2)
    genome = rng.normal(size=pop.n_params)
    arrays = GraphLayout(evolstm.cells.graph("lstm"), 3, 4, 2).unflatten(genome)
    torch_arrays = pop.unflatten(genome)

    for part, name in (("x_weight", "weight_ih"), ("h_weight", "weight_hh"),
                       ("x_bias", "bias_ih"), ("h_bias", "bias_hh")):
        stacked = np.concatenate([arrays[f"{u}_{part}_l0"] for u in "ifgo"])
        assert np.array_equal(stacked, torch_arrays[f"{name}_l0"])


# -- the reference evaluator against the fixed kernels and PyTorch -----------------------
@pytest.mark.parametrize("cell", [*CELLS, *random_graph_topologies(30, seed=11)],
                         ids=lambda c: c if isinstance(c, str) else "random")
def test_reference_evaluator_equals_fixed_kernels(cell, rng):
    n_in, n_hidden, n_out, layers, n_batch = 3, 5, 2, 2, 2
    pop = evolstm.Population(cell, n_in, n_hidden, n_out, layers=layers)
    glayout = GraphLayout(evolstm.cells.graph(pop.topology), n_in, n_hidden, n_out, layers)
    # Weights small enough that no random cell explodes (a linear cell growing to 1e24
    # amplifies round-off past 1e-12 of its size).
    genomes = rng.normal(0.0, 0.5 if isinstance(cell, str) else 0.25, (2, pop.n_params))
    x = rng.normal(size=(n_batch, N_STEPS, n_in))
    spec = pop.layout.kernel_spec
    state = pop.initial_state(2, n_batch)
    outputs = np.empty((2, n_batch, N_STEPS, n_out))
    hidden = np.empty((2, n_batch, N_STEPS, n_hidden))
    kernels.simulate(kernels.kernel_genomes(genomes, pop.layout), spec.flags, spec.units,
                     spec.layers, spec.readout, x, 0, state, outputs, hidden, 1.0)
    fast = pop.run(genomes, x, keep_hidden=True)

    for p in range(2):
        y, h, final = evaluate(glayout, genomes[p], x)
        assert close(y, outputs[p]) and close(h, hidden[p])
        assert close(y, fast.outputs[p]) and close(h, fast.hidden[p])
        n_state = final.shape[2]
        assert close(final, state[p][:, :, :n_state])


@pytest.mark.parametrize(("variant", "module"), [("lstm", "LSTM"), ("gru", "GRU"),
                                                 ("elman", "RNN")])
@pytest.mark.parametrize("bias", [True, False])
def test_reference_evaluator_equals_pytorch(variant, module, bias, rng):
    torch = pytest.importorskip("torch")
    n_in, n_hidden, layers = 3, 6, 2
    torch.manual_seed(0)
    net = getattr(torch.nn, module)(n_in, n_hidden, num_layers=layers, batch_first=True,
                                    bias=bias).double()
    topology = dict(evolstm.cells.topology(variant), bias=bias)
    pop = evolstm.Population(topology, n_in, n_hidden, 1, layers=layers)
    readout = {"readout_weight": rng.normal(size=(1, n_hidden)),
               "readout_bias": rng.normal(size=1)}
    genome = pop.flatten({**net.state_dict(), **readout})
    x = rng.normal(size=(2, N_STEPS, n_in))

    _, h, _ = evaluate(GraphLayout(evolstm.cells.graph(topology), n_in, n_hidden, 1, layers),
                       genome, x)
    with torch.no_grad():
        expected = net(torch.from_numpy(x))[0].numpy()

    assert close(h, expected)


def test_trace_of_a_graph_shows_every_node_of_the_top_layer(rng):
    pop = evolstm.Population("lstm", 2, 3, 1, layers=2)
    genome = rng.normal(size=pop.n_params)
    x = rng.normal(size=(12, 2))
    glayout = GraphLayout(evolstm.cells.graph("lstm"), 2, 3, 1, layers=2)

    inside = trace(glayout, genome, x)
    fixed = evolstm.Cell(pop, genome).trace(x)

    assert close(inside["h"], fixed["h"]) and close(inside["c"], fixed["c"])
    assert close(inside["i"], fixed["i"]) and close(inside["g"], fixed["g"])
    assert inside["c_t"].shape == (12, 3)
