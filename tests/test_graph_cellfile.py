"""Cell files of graph cells (meta "graph"): round trips, `Cell` on a graph, one clear error
per bad graph in a file, and the command line (eval, predict, show, list) on graph cells."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_support import run_cli

import evolstm
from evolstm.cells.graph import Graph
from evolstm.errors import CellFileError, EvolstmError

N_IN, N_HIDDEN, N_OUT = 2, 3, 2


def graph_cell(spec, dtype: str = "float64", layers: int = 1, n_in: int = N_IN,
               n_out: int = N_OUT, info=None) -> evolstm.Cell:
    """A graph cell with random weights: `spec` is a graph name ("nas") or the name of a
    variant whose graph is taken."""
    cell = spec if spec in evolstm.cells.graph.names() else evolstm.cells.graph(spec)
    pop = evolstm.Population(cell, n_in=n_in, n_hidden=N_HIDDEN, n_out=n_out, layers=layers,
                             dtype=dtype)
    genome = np.random.default_rng(5).normal(0.0, 0.5, pop.n_params)
    return evolstm.Cell(pop, genome, info)


def read_meta(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as archive:
        return json.loads(str(archive["meta"]))


# -- round trips ------------------------------------------------------------------------------
ROUND_TRIPS = [
    ("nas", "float64", 1), ("nas", "float32", 2),
    ("lstm", "float64", 2), ("lstm", "float32", 1),
    ("gru", "float64", 1), ("gru", "float32", 2),
    ("peephole", "float64", 1), ("peephole", "float32", 1),
]


@pytest.mark.parametrize(("spec", "dtype", "layers"), ROUND_TRIPS)
def test_graph_cell_round_trip(spec, dtype, layers, tmp_path):
    info = {"task": "mso", "fitness": 0.5}
    cell = graph_cell(spec, dtype, layers, info=info)
    x = np.random.default_rng(1).normal(size=(2, 15, N_IN))

    path = evolstm.save(cell, tmp_path / "cell.npz")
    loaded = evolstm.load(path)

    meta = read_meta(path)
    assert "variant" not in meta and "topology" not in meta
    assert Graph.from_dict(meta["graph"]) == cell.population.graph
    assert loaded.population.topology is None
    assert loaded.population.graph == cell.population.graph
    assert loaded.population.variant == ("nas" if spec == "nas" else None)
    assert (loaded.population.layers, loaded.genome.dtype) == (layers, np.dtype(dtype))
    assert np.array_equal(loaded.genome, cell.genome)
    assert loaded.info == info
    assert np.array_equal(loaded.predict(x), cell.predict(x))
    assert np.array_equal(loaded.states(x), cell.states(x))
    assert [p.name for p in tmp_path.iterdir()] == ["cell.npz"]


def test_graph_file_names_its_arrays_by_node(tmp_path):
    path = evolstm.save(graph_cell("nas", layers=2), tmp_path / "cell.npz")
    with np.load(path, allow_pickle=False) as archive:
        shapes = {name: archive[name].shape for name in archive.files if name != "meta"}
    assert shapes["b1_weight_l0"] == (N_HIDDEN, N_IN + N_HIDDEN)
    assert shapes["b1_weight_l1"] == (N_HIDDEN, 2 * N_HIDDEN)
    assert shapes["b1_bias_l1"] == (N_HIDDEN,)
    assert shapes["b4_x_weight_l0"] == (N_HIDDEN, N_IN) and "b4_x_bias_l0" not in shapes
    assert shapes["readout_weight"] == (N_OUT, N_HIDDEN)


def test_the_graph_of_a_variant_reads_a_variant_file_genome(tmp_path):
    """Same layout: the variant's genome in the graph's file is the same cell."""
    variant = evolstm.Population("peephole", n_in=N_IN, n_hidden=N_HIDDEN, n_out=N_OUT)
    genome = np.random.default_rng(2).normal(0.0, 0.5, variant.n_params)
    graph_file = evolstm.save(evolstm.Cell(evolstm.Population(
        evolstm.cells.graph("peephole"), N_IN, N_HIDDEN, N_OUT), genome), tmp_path / "g.npz")
    x = np.random.default_rng(3).normal(size=(2, 20, N_IN))
    np.testing.assert_allclose(evolstm.load(graph_file).predict(x),
                               evolstm.Cell(variant, genome).predict(x), rtol=0, atol=1e-12)


def test_variant_and_topology_files_carry_no_graph(tmp_path):
    for spec in ("lstm", {"family": "gru", "reset_gate": False}):
        pop = evolstm.Population(spec, n_in=N_IN, n_hidden=N_HIDDEN, n_out=N_OUT)
        meta = read_meta(evolstm.save(evolstm.Cell(pop, np.zeros(pop.n_params)),
                                      tmp_path / "c.npz"))
        assert "graph" not in meta and list(meta)[:3] == [
            "format", "version", "variant" if spec == "lstm" else "topology"]


# -- Cell on a graph --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_step_generate_and_trace_of_a_graph_cell(dtype):
    cell = graph_cell("nas", dtype, n_in=2, n_out=2)
    x = np.random.default_rng(4).normal(size=(12, 2))
    y = cell.predict(x)[0]

    state, stepped = None, []
    for x_t in x:
        y_t, state = cell.step(x_t, state)
        stepped.append(y_t[0])
    np.testing.assert_array_equal(np.array(stepped), y)

    generated = cell.generate(x, 5)
    assert generated.shape == (5, 2)
    np.testing.assert_array_equal(generated, cell.population.generate(cell.genome[None], x,
                                                                      5)[0, 0])

    trace = cell.trace(x)
    graph = cell.population.graph
    assert set(trace) == {*graph.states, *(node.name for node in graph.nodes)}
    assert all(value.shape == (12, N_HIDDEN) for value in trace.values())
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(trace["h"], cell.states(x)[0], rtol=0, atol=tol)
    np.testing.assert_array_equal(trace["c"], trace["c_t"])


def test_trace_of_the_lstm_graph_is_the_lstm_trace():
    topo = evolstm.Population("lstm", n_in=N_IN, n_hidden=N_HIDDEN, n_out=N_OUT)
    genome = np.random.default_rng(6).normal(0.0, 0.5, topo.n_params)
    as_graph = evolstm.Cell(evolstm.Population(evolstm.cells.graph("lstm"), N_IN, N_HIDDEN,
                                               N_OUT), genome).trace(np.ones((6, N_IN)))
    as_topology = evolstm.Cell(topo, genome).trace(np.ones((6, N_IN)))
    for name in ("h", "c", "i", "f", "g", "o"):
        np.testing.assert_allclose(as_graph[name], as_topology[name], rtol=0, atol=1e-12,
                                   err_msg=name)


# -- bad graphs in a file, each written by hand -----------------------------------------------
def small_graph() -> dict:
    """h_t = tanh(W [x; h] + b), c_t = sigmoid(W_c h) * c + h_t: a two-state cell."""
    return {
        "format": "evolstm.graph", "version": 1, "states": ["h", "c"],
        "nodes": [
            {"name": "a", "op": "linear", "inputs": ["x", "h"]},
            {"name": "h_t", "op": "tanh", "inputs": ["a"]},
            {"name": "k", "op": "linear", "inputs": ["h"], "bias": False},
            {"name": "keep", "op": "sigmoid", "inputs": ["k"]},
            {"name": "kept", "op": "mul", "inputs": ["keep", "c"]},
            {"name": "c_t", "op": "add", "inputs": ["kept", "h_t"]},
        ],
        "outputs": {"h": "h_t", "c": "c_t"},
    }


def small_arrays() -> dict:
    rng = np.random.default_rng(8)
    return {
        "a_weight_l0": rng.normal(size=(N_HIDDEN, N_IN + N_HIDDEN)),
        "a_bias_l0": rng.normal(size=N_HIDDEN),
        "k_weight_l0": rng.normal(size=(N_HIDDEN, N_HIDDEN)),
        "readout_weight": rng.normal(size=(N_OUT, N_HIDDEN)),
        "readout_bias": rng.normal(size=N_OUT),
    }


def small_meta(graph) -> dict:
    return {"format": "evolstm.cell", "version": 1, "graph": graph, "n_in": N_IN,
            "n_hidden": N_HIDDEN, "n_out": N_OUT, "layers": 1, "dtype": "float64"}


def write(folder: Path, meta: dict, arrays: dict) -> Path:
    path = folder / "bad.npz"
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
    return path


def test_a_hand_written_graph_file_loads_and_runs(tmp_path):
    cell = evolstm.load(write(tmp_path, small_meta(small_graph()), small_arrays()))
    x = np.random.default_rng(9).normal(size=(7, N_IN))
    arrays, h, c, ys = small_arrays(), np.zeros(N_HIDDEN), np.zeros(N_HIDDEN), []
    for x_t in x:
        h_new = np.tanh(arrays["a_weight_l0"] @ np.r_[x_t, h] + arrays["a_bias_l0"])
        c = 1 / (1 + np.exp(-arrays["k_weight_l0"] @ h)) * c + h_new
        h = h_new
        ys.append(arrays["readout_weight"] @ h + arrays["readout_bias"])
    np.testing.assert_allclose(cell.predict(x)[0], np.array(ys), rtol=0, atol=1e-12)


def graph_change(change):
    def build(folder: Path) -> Path:
        graph = small_graph()
        change(graph)
        return write(folder, small_meta(graph), small_arrays())

    return build


def node(graph: dict, name: str) -> dict:
    return next(entry for entry in graph["nodes"] if entry["name"] == name)


def meta_change(**changes):
    def build(folder: Path) -> Path:
        return write(folder, {**small_meta(small_graph()), **changes}, small_arrays())

    return build


def array_change(change):
    def build(folder: Path) -> Path:
        arrays = small_arrays()
        change(arrays)
        return write(folder, small_meta(small_graph()), arrays)

    return build


BAD_GRAPH_FILES = {
    "cycle": (graph_change(lambda g: node(g, "a").update(inputs=["x", "h", "h_t"])), "cycle"),
    "unknown op": (graph_change(lambda g: node(g, "h_t").update(op="softmax")), "softmax"),
    "x into an H-vector op": (graph_change(lambda g: node(g, "kept").update(
        inputs=["keep", "x"])), "n_in wide"),
    "wrong arity": (graph_change(lambda g: node(g, "c_t").update(
        inputs=["kept", "h_t", "c"])), "takes 2 inputs"),
    "unknown input": (graph_change(lambda g: node(g, "kept").update(inputs=["keep", "d"])),
                      "'d'"),
    "state never written": (graph_change(lambda g: g["outputs"].pop("c")), "'c'"),
    "state written by no node": (graph_change(lambda g: g["outputs"].update(c="c")),
                                 "not a node"),
    "state never read": (graph_change(lambda g: g["states"].append("m") or g["outputs"].update(
        m="h_t")), "never read"),
    "state listed twice": (graph_change(lambda g: g["states"].append("c")), "twice"),
    "dead node": (graph_change(lambda g: g["nodes"].append(
        {"name": "spare", "op": "tanh", "inputs": ["h"]})), "dead"),
    "node named twice": (graph_change(lambda g: node(g, "keep").update(name="a")), "twice"),
    "unknown node field": (graph_change(lambda g: node(g, "a").update(act="tanh")), "act"),
    "bias on a non-linear": (graph_change(lambda g: node(g, "h_t").update(bias=False)),
                             "bias"),
    "graph not a table": (meta_change(graph=["a", "h_t"]), "graph"),
    "graph of another format": (graph_change(lambda g: g.update(version=7)), "version"),
    "graph and variant": (meta_change(variant="lstm"), "exactly one"),
    "graph and topology": (meta_change(topology={}), "exactly one"),
    "readout arrays beside output units": (graph_change(lambda g: g.update(
        readout={"units": "a"})), "readout_bias"),
    "wrong shape": (array_change(lambda a: a.update(a_weight_l0=a["a_weight_l0"].T)),
                    "a_weight_l0"),
    "sizes disagree": (meta_change(n_in=3), "a_weight_l0"),
    "missing array": (array_change(lambda a: a.pop("a_bias_l0")), "a_bias_l0"),
    "bias of a bias-free linear": (array_change(lambda a: a.update(k_bias_l0=np.zeros(3))),
                                   "k_bias_l0"),
    "a topology's arrays": (array_change(lambda a: a.update(weight_ih_l0=np.zeros((12, 2)))),
                            "weight_ih_l0"),
    "string weights": (array_change(lambda a: a.update(readout_bias=np.array(["a", "b"]))),
                       "readout_bias"),
}


@pytest.mark.parametrize("case", BAD_GRAPH_FILES)
def test_bad_graph_file_is_one_clear_error(case, tmp_path):
    build, problem = BAD_GRAPH_FILES[case]
    path = build(tmp_path)

    with pytest.raises(CellFileError) as caught:
        evolstm.load(path)

    message = str(caught.value)
    assert isinstance(caught.value, EvolstmError)
    assert str(path) in message and "\n" not in message
    assert problem.lower() in message.lower()


def test_output_units_beyond_h_are_named(tmp_path):
    path = graph_change(lambda g: g.update(readout={"units": "a"}))(tmp_path)
    meta = small_meta(json.loads(str(np.load(path)["meta"]))["graph"])
    meta["n_out"] = N_HIDDEN + 1
    arrays = {k: v for k, v in small_arrays().items() if not k.startswith("readout")}
    with pytest.raises(CellFileError, match="outputs need"):
        evolstm.load(write(tmp_path, meta, arrays))


# -- the command line -------------------------------------------------------------------------

@pytest.fixture
def nas_file(tmp_path) -> Path:
    return evolstm.save(graph_cell("nas", n_in=1, n_out=1), tmp_path / "nas.npz")


def test_eval_and_predict_of_a_graph_cell_file(nas_file, tmp_path, capsys):
    status, out, err = run_cli(capsys, "eval", str(nas_file), "--task", "mso", "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["task"] == "mso" and np.isfinite(result["test"]["nrmse"])

    data = tmp_path / "in.csv"
    data.write_text("u\n0.1\n-0.2\n0.3\n")
    out_csv = tmp_path / "out.csv"
    status, _, err = run_cli(capsys, "predict", str(nas_file), "--data", str(data),
                             "--generate", "2", "--out", str(out_csv))
    assert status == 0, err
    cell = evolstm.load(nas_file)
    expected = cell.generate(np.array([[0.1], [-0.2], [0.3]]), 2)
    written = np.loadtxt(out_csv, delimiter=",", skiprows=1, ndmin=2)
    np.testing.assert_allclose(written, expected, rtol=1e-9)


def test_show_of_a_graph_cell_file(nas_file, tmp_path, capsys):
    status, out, _ = run_cli(capsys, "show", str(nas_file))
    lines = out.splitlines()
    assert status == 0 and lines[0] == "graph: nas"
    assert f"{evolstm.load(nas_file).population.n_params} parameters" in out
    assert "b1 = linear(x, h)" in lines and "b4_x = linear(x)   (no bias)" in lines
    assert "h_t = tanh(c_l5)" in lines and "states at t: h ← h_t, c ← c_t" in lines

    status, out, _ = run_cli(capsys, "show", str(nas_file), "--json")
    shown = json.loads(out)
    assert status == 0 and shown["variant"] == "nas" and shown["topology"] is None
    assert Graph.from_dict(shown["graph"]) == evolstm.cells.graph("nas")

    lstm_file = evolstm.save(graph_cell("lstm"), tmp_path / "lstm.npz")
    status, out, _ = run_cli(capsys, "show", str(lstm_file))
    assert status == 0 and out.splitlines()[0] == "graph: as variant lstm (same canonical key)"
    assert "c_t = add(f_c, i_g)" in out

    status, out, _ = run_cli(capsys, "show", "nas")
    assert status == 0 and out.splitlines()[0] == "graph: nas"


def test_list_cells_names_the_graphs(capsys):
    status, out, _ = run_cli(capsys, "list", "cells")
    assert status == 0 and out.splitlines() == [
        f"cells: {' '.join(evolstm.cells.names())}",
        f"graphs: {' '.join(evolstm.cells.graph.names())}",
    ]
    status, out, _ = run_cli(capsys, "list", "cells", "--equations")
    assert status == 0 and "\nnas (graph):\n  sources: x = x_t" in out
