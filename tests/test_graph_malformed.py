"""Malformed cell graphs: whatever a graph dict or a graph cell file holds, the answer is a
valid graph that runs, or one `EvolstmError` of one line; never another exception.

The graphs are the named cells' graphs broken by random edits (hypothesis): keys dropped,
values of the wrong type, unknown ops and names, cycles, self-loops, names twice, outputs
and readouts naming no node, states never written or too many, wrong arities. A graph the
rules accept must run in the interpreter as in the NumPy reference evaluator.
"""

from __future__ import annotations

import copy
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_graph import close

import evolstm
from evolstm.cells.graph import Graph
from evolstm.cells.graph.nodes import OPS
from evolstm.cells.graph.reference import evaluate
from evolstm.cli import main
from evolstm.errors import CellFileError, EvolstmError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMED = {name: evolstm.cells.graph(name).to_dict()
         for name in [*evolstm.cells.names(), *evolstm.cells.graph.names()]}
FIELDS = ("format", "version", "states", "nodes", "outputs", "order", "readout")
NODE_FIELDS = ("name", "op", "inputs", "bias")

garbage = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**12) | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=4) | st.integers(0, 3), inner, max_size=3),
    max_leaves=6,
)


def names_in(data: dict) -> list[str]:
    """Every name a graph dict uses (x, its states, its nodes), and a few it does not."""
    found = ["x", "h", "c", "readout", "q", "h_t", ""]
    if isinstance(data.get("states"), list):
        found += [s for s in data["states"] if isinstance(s, str)]
    for entry in data.get("nodes") if isinstance(data.get("nodes"), list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            found.append(entry["name"])
    return found


def a_name(draw, data: dict) -> str:
    return draw(st.sampled_from(names_in(data)) | st.text(max_size=3))


def node_dicts(data: dict) -> list[dict]:
    nodes = data.get("nodes")
    return [n for n in nodes if isinstance(n, dict)] if isinstance(nodes, list) else []


# Each edit breaks (or may break) one thing of a graph dict in place.
def drop_field(draw, data: dict) -> None:
    if data:
        data.pop(draw(st.sampled_from(sorted(data, key=str))))


def wrong_value(draw, data: dict) -> None:
    data[draw(st.sampled_from(FIELDS) | st.text(max_size=3))] = draw(garbage)


def edit_node(draw, data: dict) -> None:
    nodes = node_dicts(data)
    if not nodes:
        return
    entry = draw(st.sampled_from(nodes))
    kind = draw(st.sampled_from(
        ["op", "input", "add input", "drop input", "self-loop", "name", "field", "garbage"]))
    inputs = entry.get("inputs") if isinstance(entry.get("inputs"), list) else None
    if kind == "op":
        entry["op"] = draw(st.sampled_from([*OPS, "softmax", "LINEAR"]) | st.text(max_size=3))
    elif kind == "input" and inputs:
        inputs[draw(st.integers(0, len(inputs) - 1))] = a_name(draw, data)
    elif kind == "add input" and inputs is not None:
        inputs.append(a_name(draw, data))
    elif kind == "drop input" and inputs:
        inputs.pop(draw(st.integers(0, len(inputs) - 1)))
    elif kind == "self-loop" and inputs:
        inputs[0] = entry.get("name")
    elif kind == "name":
        entry["name"] = a_name(draw, data)
    elif kind == "field" and entry:
        entry.pop(draw(st.sampled_from(sorted(entry, key=str))))
    elif kind == "garbage":
        entry[draw(st.sampled_from(NODE_FIELDS) | st.text(max_size=3))] = draw(garbage)


def edit_nodes(draw, data: dict) -> None:
    nodes = data.get("nodes")
    if not isinstance(nodes, list):
        return
    kind = draw(st.sampled_from(["delete", "duplicate", "append", "empty"]))
    if kind == "delete" and nodes:
        nodes.pop(draw(st.integers(0, len(nodes) - 1)))
    elif kind == "duplicate" and nodes:
        nodes.append(copy.deepcopy(draw(st.sampled_from(nodes))))
    elif kind == "append":
        nodes.append({"name": a_name(draw, data), "op": draw(st.sampled_from(list(OPS))),
                      "inputs": draw(st.lists(st.sampled_from(names_in(data)), max_size=4))})
    elif kind == "empty":
        nodes.clear()


def edit_states(draw, data: dict) -> None:
    states, outputs = data.get("states"), data.get("outputs")
    if not isinstance(states, list) or not isinstance(outputs, dict):
        return
    kind = draw(st.sampled_from(["add", "twice", "unwritten", "remove", "many"]))
    if kind == "add":
        name = a_name(draw, data)
        states.append(name)
        outputs[name] = a_name(draw, data)
    elif kind == "twice" and states:
        states.append(draw(st.sampled_from(states)))
    elif kind == "unwritten" and outputs:
        outputs.pop(draw(st.sampled_from(sorted(outputs, key=str))))
    elif kind == "remove" and states:
        states.pop(draw(st.integers(0, len(states) - 1)))
    elif kind == "many":
        extra = [f"s{k}" for k in range(draw(st.integers(1, 6)))]
        states.extend(extra)
        outputs.update({s: outputs.get("h", "h_t") for s in extra})


def edit_outputs(draw, data: dict) -> None:
    outputs = data.get("outputs")
    if isinstance(outputs, dict) and outputs:
        outputs[draw(st.sampled_from(sorted(outputs, key=str)))] = a_name(draw, data)


def edit_readout(draw, data: dict) -> None:
    data["readout"] = draw(st.sampled_from(["linear", "units", None])
                           | st.builds(lambda n: {"units": n}, st.sampled_from(names_in(data)))
                           | garbage)


def edit_order(draw, data: dict) -> None:
    order = data.get("order")
    if not isinstance(order, list) or not order:
        data["order"] = draw(st.lists(st.text(max_size=8), max_size=3))
        return
    kind = draw(st.sampled_from(["shuffle", "drop", "twice", "unknown"]))
    if kind == "shuffle":
        data["order"] = draw(st.permutations(order))
    elif kind == "drop":
        order.pop(draw(st.integers(0, len(order) - 1)))
    elif kind == "twice":
        order.append(order[0])
    else:
        order[0] = draw(st.text(max_size=8))


EDITS = (drop_field, wrong_value, edit_node, edit_node, edit_nodes, edit_states, edit_outputs,
         edit_readout, edit_order)


@st.composite
def broken_graphs(draw) -> dict:
    """A named cell's graph dict after 1-3 random edits."""
    data = copy.deepcopy(NAMED[draw(st.sampled_from(sorted(NAMED)))])
    for edit in draw(st.lists(st.sampled_from(EDITS), min_size=1, max_size=3)):
        edit(draw, data)
    return data


def assert_one_line(error: BaseException) -> None:
    message = str(error)
    assert isinstance(error, EvolstmError), f"{type(error).__name__}: {message}"
    assert message and "\n" not in message and "\r" not in message, repr(message)


def check_runs(graph: Graph) -> None:
    """An accepted graph round-trips, has a key, and the interpreter runs it as the
    reference evaluator does."""
    assert Graph.from_dict(json.loads(json.dumps(graph.to_dict()))) == graph
    graph.key()
    pop = evolstm.Population(graph, n_in=2, n_hidden=3, n_out=2, layers=2)
    rng = np.random.default_rng(0)
    genomes = rng.normal(0.0, 0.3, (2, pop.n_params))
    x = rng.normal(size=(1, 4, 2))
    run = pop.run(genomes, x)
    for p in range(2):
        y, _, final = evaluate(pop.layout, genomes[p], x)
        assert close(run.outputs[p], y, 1e-9) and close(run.state[p], final, 1e-9)


# -- graph dicts ------------------------------------------------------------------------------
@SETTINGS
@given(broken_graphs())
def test_a_broken_graph_dict_is_a_valid_graph_or_one_clear_error(data):
    try:
        graph = Graph.from_dict(data)
    except Exception as error:  # noqa: BLE001 - the point: which exceptions come out
        assert_one_line(error)
    else:
        check_runs(graph)


@SETTINGS
@given(garbage | st.dictionaries(st.sampled_from(FIELDS), garbage, max_size=5))
def test_garbage_is_one_clear_error(data):
    with pytest.raises(EvolstmError) as caught:
        Graph.from_dict(data)
    assert_one_line(caught.value)


@settings(SETTINGS, max_examples=60)
@given(broken_graphs())
def test_population_of_a_broken_graph_dict_is_one_clear_error(data):
    data["nodes"] = data.get("nodes")  # a dict without nodes would be read as a topology
    try:
        evolstm.Population(data, n_in=2, n_hidden=3, n_out=2)
    except Exception as error:  # noqa: BLE001
        assert_one_line(error)


def tanh_of_h(**changes) -> dict:
    """h_t = tanh(h): a graph without weights, with `changes` applied."""
    return {"states": ["h"], "nodes": [{"name": "a", "op": "tanh", "inputs": ["h"]}],
            "outputs": {"h": "a"}, **changes}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (tanh_of_h(states=["h", "h"]), r"graph\.states: 'h' is listed twice"),
        (tanh_of_h(readout={"units": "a"}), "output units need a linear or diag node"),
        (tanh_of_h(nodes=[{"name": "a\n", "op": "tanh", "inputs": ["h"]}],
                   outputs={"h": "a\n"}), r"'a\\n' is not a name"),
        ({**tanh_of_h(), 0: None}, r"graph\[0\]: unknown graph field"),
        (tanh_of_h(nodes=[{"name": "a", "op": "tanh", "inputs": ["h"], "b\nc": 1}]),
         r"graph\.nodes\[0\]\['b\\nc'\]: unknown node field"),
    ],
    ids=["state twice", "no weights, output units", "newline in a name", "a key not a string",
         "newline in a key"],
)
def test_what_crashed_is_one_clear_error(data, message):
    for build in (Graph.from_dict, lambda d: evolstm.Population(d, 1, 3, 1)):
        with pytest.raises(EvolstmError, match=message) as caught:
            build(data)
        assert_one_line(caught.value)


def test_a_weightless_graph_with_a_linear_readout_runs():
    check_runs(Graph.from_dict(tanh_of_h()))


# -- graph cell files -------------------------------------------------------------------------
N_IN, N_HIDDEN, N_OUT = 2, 3, 2
SIZES = ("n_in", "n_hidden", "n_out", "layers")


def graph_file(name: str) -> tuple[dict, dict]:
    """The meta and arrays of a file of named graph `name` (random weights)."""
    graph = evolstm.cells.graph(name)
    pop = evolstm.Population(graph, N_IN, N_HIDDEN, N_OUT, layers=2)
    arrays = pop.unflatten(np.random.default_rng(1).normal(0.0, 0.3, pop.n_params))
    meta = {"format": "evolstm.cell", "version": 1, "graph": graph.to_dict(), "n_in": N_IN,
            "n_hidden": N_HIDDEN, "n_out": N_OUT, "layers": 2, "dtype": "float64"}
    return meta, arrays


def write(path: Path, meta: object, arrays: dict) -> Path:
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
    return path


def load_or_one_clear_error(path: Path) -> None:
    """`path` loads into a cell that runs, or is one `CellFileError` naming it."""
    try:
        cell = evolstm.load(path)
    except Exception as error:  # noqa: BLE001
        assert_one_line(error)
        assert isinstance(error, CellFileError) and str(path) in str(error)
    else:
        cell.predict(np.ones((3, cell.population.n_in)))


sizes = st.integers(-2, 10**12) | garbage
wrong_arrays = st.sampled_from([np.zeros(0), np.zeros(()), np.zeros((3, 3)), np.array([np.nan]),
                                np.array(["a", "b"]), np.array([True]), np.array([1j]),
                                np.zeros((N_HIDDEN,), np.int8), np.zeros((N_OUT, N_HIDDEN))])


@st.composite
def broken_files(draw) -> tuple[dict, dict]:
    """A graph file's meta and arrays, after 1-3 edits of its graph, meta or arrays."""
    meta, arrays = graph_file(draw(st.sampled_from(["lstm", "gru", "nas", "fully_recurrent",
                                                    "peephole"])))
    for kind in draw(st.lists(st.sampled_from(["graph", "size", "layers", "meta", "drop array",
                                               "wrong array", "extra array"]),
                              min_size=1, max_size=3)):
        if kind == "graph" and isinstance(meta.get("graph"), dict):
            draw(st.sampled_from(EDITS))(draw, meta["graph"])
        elif kind == "size":
            meta[draw(st.sampled_from(SIZES[:3]))] = draw(sizes)
        elif kind == "layers":
            meta["layers"] = draw(st.integers(-1, 4) | garbage.filter(
                lambda v: not isinstance(v, int) or v < 5))
        elif kind == "meta":
            meta[draw(st.sampled_from(["format", "version", "dtype", "info", "graph",
                                       "variant", "topology"]))] = draw(garbage)
        elif kind == "drop array" and arrays:
            arrays.pop(draw(st.sampled_from(sorted(arrays))))
        elif kind == "wrong array" and arrays:
            arrays[draw(st.sampled_from(sorted(arrays)))] = draw(wrong_arrays)
        elif kind == "extra array":
            name = draw(st.sampled_from(["q_weight_l0", "weight_ih_l0", "readout_bias"])
                        | st.text(min_size=1, max_size=4))
            arrays[name] = draw(wrong_arrays)
    return meta, arrays


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("files")


@settings(SETTINGS, max_examples=80)
@given(broken_files())
def test_a_broken_graph_file_loads_or_is_one_clear_error(folder, file):
    load_or_one_clear_error(write(folder / "broken.npz", *file))


@settings(SETTINGS, max_examples=60)
@given(st.sampled_from(["lstm", "nas", "fully_recurrent"]), st.data())
def test_a_corrupted_graph_file_loads_or_is_one_clear_error(folder, name, data):
    path = write(folder / "corrupt.npz", *graph_file(name))
    raw = bytearray(path.read_bytes())
    at = data.draw(st.integers(0, len(raw) - 1))
    if data.draw(st.booleans()):
        raw = raw[:at]
    else:
        raw[at: at + 8] = data.draw(st.binary(min_size=1, max_size=8))
    path.write_bytes(bytes(raw))
    load_or_one_clear_error(path)


# -- the command line -------------------------------------------------------------------------
def truncated(folder: Path) -> Path:
    path = write(folder / "truncated.npz", *graph_file("lstm"))
    path.write_bytes(path.read_bytes()[:-40])
    return path


def corrupt_member(folder: Path) -> Path:
    """A file whose graph array's bytes are changed (its checksum no longer holds)."""
    path = write(folder / "crc.npz", *graph_file("gru"))
    with zipfile.ZipFile(path) as archive:
        member = archive.getinfo("r_h_weight_l0.npy")
    raw = bytearray(path.read_bytes())
    raw[member.header_offset + 120] ^= 0xFF
    path.write_bytes(bytes(raw))
    return path


def meta_not_json(folder: Path) -> Path:
    np.savez(folder / "meta.npz", meta=np.array("{graph"))
    return folder / "meta.npz"


def edited(name: str, change: Callable[[dict, dict], None]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        meta, arrays = graph_file(name)
        change(meta, arrays)
        return write(folder / f"{name}.npz", meta, arrays)

    return build


def weightless(meta: dict, arrays: dict) -> None:
    meta["graph"] = {"states": ["h"], "nodes": [{"name": "a", "op": "tanh", "inputs": ["h"]}],
                     "outputs": {"h": "a"}, "readout": {"units": "a"}}
    arrays.clear()


BAD_FILES = {
    "truncated": (truncated, "not a readable .npz"),
    "corrupt array": (corrupt_member, "corrupt"),
    "meta not JSON": (meta_not_json, "not valid JSON"),
    "state twice": (edited("lstm", lambda m, a: m["graph"]["states"].append("h")), "twice"),
    "weightless, output units": (edited("lstm", weightless), "genome is empty"),
    "cycle": (edited("gru", lambda m, a: m["graph"]["nodes"][0].update(inputs=["h_t"])),
              "cycle"),
    "garbage graph": (edited("nas", lambda m, a: m.update(graph={"states": "h", "nodes": 3})),
                      "states"),
    "n_hidden too big": (edited("lstm", lambda m, a: m.update(n_hidden=10**9)), "shape"),
    "array of another shape": (edited("nas", lambda m, a: a.update(b1_weight_l0=np.zeros(3))),
                               "b1_weight_l0"),
}


@pytest.mark.parametrize("case", BAD_FILES)
@pytest.mark.parametrize("command", ["show", "eval"])
def test_a_bad_graph_file_through_the_cli_is_one_line_and_status_2(case, command, tmp_path,
                                                                   capsys):
    build, problem = BAD_FILES[case]
    path = build(tmp_path)
    args = [command, str(path)] + (["--task", "mso"] if command == "eval" else [])

    status = main(args)

    err = capsys.readouterr().err
    assert status == 2, err
    assert err.startswith("evolstm: error: ") and err.count("\n") == 1, err
    assert str(path) in err and problem in err, err
