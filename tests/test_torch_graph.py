"""`evolstm.torch` for cell graphs: the `GraphModule` of a graph cell computes what
`Cell.predict` computes (the Numba interpreter), with the cell file's arrays as its
state_dict, for every named cell's graph, the graph a search found, a graph with every op and
random graphs of the search operators; and back to the same cell, trained further by BPTT.

Weights are drawn uniform ±1/sqrt(H), PyTorch's own initialisation.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch_support import (  # noqa: F401
    N_BATCH,
    N_IN,
    N_STEPS,
    assert_state_is_cell_steps,
    inputs,
    module_outputs,
    one_torch_thread,
    random_cell,
)

import evolstm
from evolstm.archsearch.graphs import crossover, mutate, sample
from evolstm.archsearch.graphs.space import WIDEST
from evolstm.cells.graph import Graph, Node
from evolstm.errors import EvolstmError

torch = pytest.importorskip("torch")
bridge = pytest.importorskip("evolstm.torch")

FOUND = "results/graphsearch_anbncn/best.npz"  # the anbncn graph search's cell
# Max abs error of the module's outputs against the cell's, times the outputs' scale where
# it exceeds 1. float64: 1e-9 (measured over every named graph: at most 2.5e-14, 1.1e-16 to
# 4.4e-16 but for the unbounded c of lstm1997, nfg, noaf). float32: 2e-6, ~17 ulps (measured
# at most 3.0e-7 of outputs of order 1; noaf 2.5e-5 of outputs up to 31).
TOLERANCE = {"float64": 1e-9, "float32": 2e-6}


def every_op() -> Graph:
    """Three states and every op of `evolstm.cells.graph.nodes`: a three-input linear
    without bias, x read by a linear and by a tile, a blend and its one_minus."""
    return Graph(("h", "c", "s"), (
        Node("x_tiled", "tile", ("x",)),
        Node("a", "linear", ("x", "h")),
        Node("b", "linear", ("c", "s", "x_tiled"), bias=False),
        Node("peep", "diag", ("c",)),
        Node("a_peep", "add", ("a", "peep")),
        Node("gate", "sigmoid", ("a_peep",)),
        Node("rect", "relu", ("b",)),
        Node("m", "mul", ("rect", "x_tiled")),
        Node("keep", "one_minus", ("gate",)),
        Node("c_mix", "blend", ("gate", "m", "c")),
        Node("c_t", "identity", ("c_mix",)),
        Node("h_pre", "add", ("c_t", "keep")),
        Node("h_t", "tanh", ("h_pre",)),
        Node("s_t", "mul", ("keep", "s")),
    ), ("h_t", "c_t", "s_t"))


def error(cell: evolstm.Cell, x: np.ndarray) -> float:
    """Max abs error of the module against Cell.predict, over the outputs' scale above 1."""
    expected = cell.predict(x)
    y = module_outputs(cell, x)
    assert y.shape == expected.shape and y.dtype == expected.dtype
    return float(np.max(np.abs(y - expected))) / max(1.0, float(np.max(np.abs(expected))))


# -- outputs equal the cell's ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", [*evolstm.cells.names(), *evolstm.cells.graph.names()])
def test_every_named_cells_graph_predicts_what_the_cell_predicts(name, dtype):
    cell = random_cell(evolstm.cells.graph(name), dtype=dtype, seed=3)

    assert type(bridge.to_torch(cell)).__name__ == "GraphModule"
    assert error(cell, inputs(dtype)) < TOLERANCE[dtype]


@pytest.mark.parametrize(("spec", "dtype"), [
    (every_op(), "float64"), (every_op(), "float32"), ("nas", "float64"),
    (evolstm.cells.graph("fgr"), "float32"),  # five states
    (evolstm.cells.graph("fully_recurrent"), "float64"),  # output units
])
def test_stacked_layers(spec, dtype):
    cell = random_cell(spec, n_hidden=5, layers=3, dtype=dtype, seed=4)

    assert error(cell, inputs(dtype, seed=2)) < TOLERANCE[dtype]


@pytest.mark.parametrize("n_in", [1, 2, 6])
def test_tile_reads_x_round_the_units(n_in):
    """tile with n_in != H: unit k reads x[k mod n_in]; above the first layer x is h."""
    cell = random_cell(every_op(), n_hidden=4, layers=2, seed=5, n_in=n_in)

    assert error(cell, inputs(seed=3, n_in=n_in)) < TOLERANCE["float64"]


def test_the_graph_a_search_found():
    from evolstm.torch.train import training_data

    cell = evolstm.load(FOUND)
    task_cls = evolstm.tasks.get("anbncn")
    x, _, _ = training_data(task_cls(evolstm.options.build(task_cls.Options, {}, "task"), 0))

    assert cell.population.graph is not None
    assert error(cell, np.asarray(x)) < TOLERANCE["float64"]


def random_graph(seed: int) -> Graph:
    """A graph of the search operators: sampled, mutated, sometimes crossed over."""
    rng = np.random.default_rng(seed)
    graph = mutate(sample(rng, WIDEST), rng, WIDEST)
    return crossover(graph, sample(rng, WIDEST), rng, WIDEST) if rng.integers(2) else graph


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(seed=st.integers(0, 2**16), n_in=st.integers(1, 3), n_hidden=st.integers(2, 4),
       layers=st.integers(1, 2), dtype=st.sampled_from(["float64", "float32"]))
def test_random_graphs(seed, n_in, n_hidden, layers, dtype):
    graph = random_graph(seed)
    n_out = min(2, n_hidden)  # output units: the last n_out of H items
    cell = random_cell(graph, n_hidden, layers, dtype, seed, n_in=n_in, n_out=n_out)
    x = inputs(dtype, seed=seed + 1, n_in=n_in, n_steps=12)
    assume(bool(np.all(np.abs(cell.predict(x)) < 1e6)))  # unbounded graphs may overflow

    assert error(cell, x) < TOLERANCE[dtype]


# -- the state ---------------------------------------------------------------------------------
def test_state_holds_every_state_vector():
    """forward's final state and step's are what Cell.step returns, and carry a sequence on."""
    cell = random_cell(every_op(), layers=2, seed=6)
    assert cell.population.state_width == 3 * 4  # three state vectors of H = 4 per layer
    assert_state_is_cell_steps(cell)


# -- parameters and the way back -----------------------------------------------------------------
@pytest.mark.parametrize("spec", ["nas", every_op()])
def test_state_dict_is_the_cell_file(spec):
    cell = random_cell(spec, layers=2, seed=7)

    state_dict = bridge.to_torch(cell).state_dict()

    arrays = cell.arrays()
    assert list(state_dict) == list(arrays)
    for name, value in arrays.items():
        assert state_dict[name].shape == value.shape
        np.testing.assert_array_equal(state_dict[name].numpy(), value)


@pytest.mark.parametrize(("spec", "dtype"), [("nas", "float64"), (every_op(), "float32"),
                                             (FOUND, "float64")])
def test_round_trip_gives_the_same_cell(spec, dtype, tmp_path):
    cell = evolstm.load(spec) if spec == FOUND else random_cell(spec, layers=2, dtype=dtype,
                                                                 seed=8)
    cell.info = {**cell.info, "note": "round trip"}
    path = evolstm.save(cell, tmp_path / "cell.npz")

    back = bridge.from_torch(bridge.to_torch(path))

    assert back.population.graph == cell.population.graph
    assert back.population.variant == cell.population.variant  # "nas" stays named
    assert back.population.dtype == cell.population.dtype
    assert back.info == cell.info
    np.testing.assert_array_equal(back.genome, cell.genome)


# -- gradients -------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", [every_op(), "nas"])
def test_gradients(spec):
    """Autograd's gradients, with respect to the inputs and every weight, match finite
    differences."""
    module = bridge.to_torch(random_cell(spec, n_hidden=2, seed=10, n_in=2, n_out=1))
    names = list(dict(module.named_parameters()))
    x = torch.from_numpy(inputs(seed=6, n_in=2, n_steps=4)[:2]).requires_grad_()
    params = tuple(p.detach().clone().requires_grad_() for p in module.parameters())

    def outputs(x, *params):
        return torch.func.functional_call(module, dict(zip(names, params, strict=True)), (x,))

    assert torch.autograd.gradcheck(outputs, (x, *params))


# -- training further ------------------------------------------------------------------------------
def test_the_found_graph_trains_further(tmp_path, capsys):
    import json

    from evolstm.cli import main

    cell = evolstm.load(FOUND)
    run = tmp_path / "run"

    trained = bridge.train(cell, "anbncn", epochs=3, lr=0.01, out=run)

    assert trained.population.graph == cell.population.graph
    assert np.abs(trained.genome - cell.genome).max() > 0
    assert 'graph = "{' in (run / "config.toml").read_text()
    assert main(["eval", str(run / "best.npz"), "--json"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert json.loads(capsys.readouterr().out)["test"] == summary["test"]


# -- errors ----------------------------------------------------------------------------------------
def test_an_op_without_a_torch_form_is_one_error_naming_it(monkeypatch):
    from evolstm.torch import graph as torch_graph

    monkeypatch.delitem(torch_graph.ELEMENTWISE, "blend")
    cell = random_cell(evolstm.cells.graph("gru"), seed=11)

    with pytest.raises(EvolstmError, match="node h_t has op 'blend'.*missing: a torch form"):
        bridge.to_torch(cell)


def test_wrong_state_shape_is_one_clear_error():
    module = bridge.to_torch(random_cell("nas", seed=12))

    with pytest.raises(EvolstmError, match=r"state: expected shape \(B, L, W\) = \(2, 1, 8\)"):
        module(torch.zeros(2, 5, N_IN), torch.zeros(2, 1, 4))
