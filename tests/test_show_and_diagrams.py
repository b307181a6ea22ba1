"""Cell equations, `evolstm show`, cell diagrams, and plots of architecture searches."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from cli_support import run_cli  # noqa: E402

import evolstm  # noqa: E402
from evolstm.cells import Topology, names, resolve  # noqa: E402
from evolstm.cells.cell import Cell  # noqa: E402
from evolstm.cells.equations import equations  # noqa: E402
from evolstm.cells.graph.nodes import OPS  # noqa: E402
from evolstm.diagram import draw_cell  # noqa: E402
from evolstm.graph_diagram import OP_LOOK, draw_graph, place  # noqa: E402
from evolstm.plot_archsearch import best_candidate, pareto_front, read_candidates, read_tested  # noqa: E402,E501

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RESULTS = Path(__file__).resolve().parent.parent / "results"
FOUND = ["graphsearch_anbncn", "graphsearch_anbn", "graphsearch_mso3"]  # graph searches


def lines_of(name: str) -> list[str]:
    return equations(resolve(name)).splitlines()


# -- equations ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", names())
def test_every_variant_has_an_equation_per_unit_state_and_output(name):
    topo = resolve(name)
    text = equations(topo)
    for unit in topo.units():
        assert any(line.startswith(f"{unit.name}_t = ") for line in text.splitlines()), unit
    assert "\nh_t = " in text and "\ny_t = " in text
    assert ("c_t = " in text) == (topo.family == "lstm")


def test_lstm_is_pytorchs_lstm():
    # torch.nn.LSTM's documented equations, with b_* = b_i* + b_h*
    assert lines_of("lstm") == [
        "i_t = σ(W_xi x_t + W_hi h_{t-1} + b_i)",
        "f_t = σ(W_xf x_t + W_hf h_{t-1} + b_f)",
        "g_t = tanh(W_xg x_t + W_hg h_{t-1} + b_g)",
        "o_t = σ(W_xo x_t + W_ho h_{t-1} + b_o)",
        "c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t",
        "h_t = o_t ⊙ tanh(c_t)",
        "y_t = W_out h_t + b_out",
    ]


def test_gru_is_pytorchs_gru_reset_after_the_product():
    text = equations(resolve("gru"))
    assert "r_t = σ(W_xr x_t + W_hr h_{t-1} + b_r)" in text
    assert "z_t = σ(W_xz x_t + W_hz h_{t-1} + b_z)" in text
    assert "n_t = tanh(W_xn x_t + b_xn + r_t ⊙ (W_hn h_{t-1} + b_hn))" in text
    assert "h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}" in text


# Jozefowicz, Zaremba & Sutskever 2015, as REFERENCES.md quotes them:
#   MUT1: z = σ(W_xz x + b_z); r = σ(W_xr x + W_hr h + b_r);
#         h' = tanh(W_hh (r ⊙ h) + tanh(x) + b_h) ⊙ z + h ⊙ (1 − z)
#   MUT2: z = σ(W_xz x + W_hz h + b_z); r = σ(x + W_hr h + b_r);
#         h' = tanh(W_hh (r ⊙ h) + W_xh x + b_h) ⊙ z + h ⊙ (1 − z)
#   MUT3: z = σ(W_xz x + W_hz tanh(h) + b_z); r = σ(W_xr x + W_hr h + b_r); h' as in MUT2
MUT_UPDATE = "h_t = z_t ⊙ n_t + (1 − z_t) ⊙ h_{t-1}"


def test_mut1_is_jozefowiczs():
    text = equations(resolve("mut1"))
    assert "z_t = σ(W_xz x_t + b_z)" in text
    assert "r_t = σ(W_xr x_t + W_hr h_{t-1} + b_r)" in text
    assert "n_t = tanh(tanh(x_t) + W_hn (r_t ⊙ h_{t-1}) + b_n)" in text
    assert MUT_UPDATE in text


def test_mut2_is_jozefowiczs():
    text = equations(resolve("mut2"))
    assert "z_t = σ(W_xz x_t + W_hz h_{t-1} + b_z)" in text
    assert "r_t = σ(x_t + W_hr h_{t-1} + b_r)" in text
    assert "n_t = tanh(W_xn x_t + W_hn (r_t ⊙ h_{t-1}) + b_n)" in text
    assert MUT_UPDATE in text and "k mod n_in" in text


def test_mut3_is_jozefowiczs():
    text = equations(resolve("mut3"))
    assert "z_t = σ(W_xz x_t + W_hz tanh(h_{t-1}) + b_z)" in text
    assert "r_t = σ(W_xr x_t + W_hr h_{t-1} + b_r)" in text
    assert "n_t = tanh(W_xn x_t + W_hn (r_t ⊙ h_{t-1}) + b_n)" in text
    assert MUT_UPDATE in text


def test_peepholes_read_the_previous_cell_into_i_f_and_the_new_one_into_o():
    text = equations(resolve("peephole"))
    assert "+ p_i ⊙ c_{t-1})" in text and "+ p_f ⊙ c_{t-1})" in text
    assert "+ p_o ⊙ c_t)" in text


def test_odyssey_changes_show_in_the_equations():
    assert "f_t = 1 − i_t" in equations(resolve("cifg"))
    assert "c_t = f_t ⊙ c_{t-1} + g_t" in lines_of("nig")
    assert "c_t = c_{t-1} + i_t ⊙ g_t" in lines_of("nfg")
    assert "h_t = tanh(c_t)" in lines_of("nog")
    assert "g_t = W_xg x_t + W_hg h_{t-1} + b_g" in lines_of("niaf")
    assert "h_t = o_t ⊙ c_t" in lines_of("noaf")
    assert "R_o [i_{t-1}; f_{t-1}; o_{t-1}]" in equations(resolve("fgr"))
    assert "p_" not in equations(resolve("np"))


def test_output_units_and_no_biases():
    text = equations(resolve("fully_recurrent"))
    assert "a_t = W_xn x_t + W_hn h_{t-1}" in text and "b_" not in text.replace("no bias", "")
    assert "h_t = n_t" in text and "y_t = the last O entries of a_t" in text


# -- evolstm show and list --------------------------------------------------------------


def test_show_a_variant_name(capsys):
    status, out, _ = run_cli(capsys, "show", "cifg")
    assert status == 0
    assert out.splitlines()[0] == "variant: cifg"
    assert equations(resolve("cifg")) in out
    status, out, _ = run_cli(capsys, "show", "gru", "--json")
    shown = json.loads(out)
    assert status == 0 and shown["variant"] == "gru"
    assert Topology.from_dict(shown["topology"]) == resolve("gru")
    assert shown["equations"] == equations(resolve("gru"))


@pytest.mark.parametrize("cell", ["mut2", {"family": "gru", "reset_gate": False, "bias": False}])
def test_show_a_saved_cell_file(tmp_path, capsys, cell):
    population = evolstm.Population(cell, n_in=2, n_hidden=3, n_out=1)
    path = evolstm.save(Cell(population, np.zeros(population.n_params)), tmp_path / "c.npz")
    status, out, _ = run_cli(capsys, "show", str(path))
    assert status == 0
    assert f"{population.n_params} parameters" in out and "n_hidden=3" in out
    assert ("variant: mut2" in out) == (cell == "mut2")
    assert equations(population.topology) in out
    status, out, _ = run_cli(capsys, "show", str(path), "--json")
    shown = json.loads(out)
    assert shown["cell"]["n_params"] == population.n_params
    assert shown["variant"] == (cell if cell == "mut2" else None)


def test_show_of_something_unknown_is_one_line_and_exit_2(capsys):
    status, out, err = run_cli(capsys, "show", "no_such_cell")
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1


def test_list_cells_with_equations(capsys):
    status, out, _ = run_cli(capsys, "list", "cells", "--equations")
    assert status == 0
    for name in names():
        assert f"\n{name}:\n" in out
    assert "  n_t = tanh(tanh(x_t) + W_hn (r_t ⊙ h_{t-1}) + b_n)" in out
    assert run_cli(capsys, "list", "tasks", "--equations")[0] == 2


# -- diagrams -----------------------------------------------------------------------------

ODD_TOPOLOGIES = [
    {"input_gate": False, "forget_gate": False, "output_gate": False,
     "cell_activation": "identity", "output_activation": "identity"},
    {"coupled": True, "gate_recurrence": True, "peepholes": True, "bias": False,
     "x_modes": {"i": "identity", "g": "tanh"}, "h_modes": {"o": "tanh", "f": "none"}},
    {"output_gate": False, "peepholes": True, "gate_recurrence": True,
     "x_modes": {"g": "none"}},
    {"family": "gru", "reset_gate": False, "h_modes": {"n": "tanh"}, "x_modes": {"z": "tanh"}},
    {"family": "gru", "update_gate": False, "h_modes": {"n": "none"}},
    {"family": "gru", "update_gate": False, "readout": "units", "reset_after": False},
]


def drawn(topo: Topology) -> plt.Figure:
    figure, ax = plt.subplots(figsize=(6, 4), dpi=40)
    draw_cell(topo, ax)
    figure.canvas.draw()  # lays out every text (a bad mathtext string fails here)
    return figure


@pytest.mark.parametrize("name", names())
def test_draw_every_variant(name):
    figure = drawn(resolve(name))
    ax = figure.axes[0]
    assert resolve(ax.get_title()) == resolve(name) and len(ax.patches) >= 5
    labels = {text.get_text() for text in ax.texts}
    for unit in resolve(name).units():
        assert unit.name in labels
    plt.close(figure)


@pytest.mark.parametrize("fields", ODD_TOPOLOGIES)
def test_draw_odd_topologies(fields):
    figure = drawn(Topology.from_dict(fields))
    assert figure.axes[0].get_title() in ("searched cell", *names())
    plt.close(figure)


def test_a_coupled_gate_is_drawn_as_one_minus_i_and_absent_gates_are_left_out():
    figure = drawn(resolve("cifg"))
    labels = [text.get_text() for text in figure.axes[0].texts]
    assert "1 − i" in labels and "f" not in labels
    plt.close(figure)
    figure = drawn(resolve("nog"))
    assert "o" not in [text.get_text() for text in figure.axes[0].texts]
    plt.close(figure)


# -- diagrams of cell graphs --------------------------------------------------------------


def drawn_graph(graph: evolstm.cells.graph.Graph) -> plt.Figure:
    figure, ax = plt.subplots(figsize=(6, 4), dpi=40)
    draw_graph(graph, ax)
    figure.canvas.draw()  # lays out every text (a bad mathtext string fails here)
    return figure


def boxes(ax) -> dict[str, list[str]]:
    """The drawing's boxes by kind (source, node, state, readout): their names."""
    found: dict[str, list[str]] = {}
    for patch in ax.patches:
        kind, _, name = (patch.get_gid() or "").partition(":")
        if name:
            found.setdefault(kind, []).append(name)
    return found


def found_graph(run: str) -> evolstm.cells.graph.Graph:
    return evolstm.load(RESULTS / run / "best.npz").population.graph


NAMED_GRAPHS = [*evolstm.cells.graph.names(), *names()]


@pytest.mark.parametrize("cell", NAMED_GRAPHS + FOUND)
def test_draw_every_named_and_found_graph_a_box_per_node_source_and_state(cell):
    graph = found_graph(cell) if cell in FOUND else evolstm.cells.graph(cell)
    figure = drawn_graph(graph)
    ax = figure.axes[0]
    drawn = boxes(ax)
    assert sorted(drawn["node"]) == sorted(node.name for node in graph.nodes)
    assert drawn["source"] == ["src:x", *(f"src:{state}" for state in graph.states)]
    assert drawn["state"] == [f"out:{state}" for state in graph.states]
    assert drawn["readout"] == ["readout"]
    labels = [text.get_text() for text in ax.texts]
    for node in graph.nodes:  # its op's label and its name
        assert OP_LOOK[node.op][0] in labels and node.name in labels
    assert "$x_t$" in labels and "$y_t$" in labels
    for state in graph.states:  # recurrence by name: read at t-1, written at t
        written = state.replace("_", r"\_")  # mathtext: gate_i is no subscript
        assert f"${written}_{{t-1}}$" in labels and f"${written}_t$" in labels
    arrows = len(ax.patches) - sum(len(names) for names in drawn.values())
    inputs = sum(len(node.inputs) for node in graph.nodes)
    assert arrows == inputs + len(graph.states) + 2  # + readout, + y_t
    title = ax.get_title()
    if cell in FOUND:
        assert title == "cell graph"
    else:  # a named cell with the same canonical key (lstm and np are one cell)
        assert evolstm.cells.graph(title).key() == graph.key()
    plt.close(figure)


def test_every_op_has_a_look():
    assert sorted(OP_LOOK) == sorted(OPS)


def test_blend_operands_are_marked_z_a_b():
    figure = drawn_graph(found_graph("graphsearch_mso3"))  # n1 = blend(n3, h, h)
    labels = [text.get_text() for text in figure.axes[0].texts]
    assert [label for label in labels if label in ("z", "a", "b")] == ["z", "a", "b"]
    plt.close(figure)


@pytest.mark.parametrize("cell", ["nas", "lstm", "graphsearch_anbn"])
def test_layout_columns_by_longest_path_and_no_overlapping_boxes(cell):
    graph = found_graph(cell) if cell in FOUND else evolstm.cells.graph(cell)
    placement = place(graph)
    column = {v.key: v.layer for v in placement.vertices}
    column.update({state: 0 for state in ("x", *graph.states)})
    for node in graph.nodes:
        assert column[node.name] == 1 + max(column[i] for i in node.inputs), node
    last = max(column[node.name] for node in graph.nodes)
    assert {column[f"out:{state}"] for state in graph.states} == {last + 1}
    assert column["readout"] == last + 2
    for layer in placement.layers:  # top to bottom, each box clear of the next
        shapes = [placement.vertices[k] for k in layer]
        for upper, lower in zip(shapes, shapes[1:], strict=False):
            assert upper.y - upper.height / 2 > lower.y + lower.height / 2
    for edge in placement.edges:  # an edge steps one column at a time
        layers = [placement.vertices[k].layer for k in edge.chain]
        assert layers == list(range(layers[0], layers[-1] + 1))


def test_show_diagram_writes_a_png_for_a_graph_and_a_topology(tmp_path, capsys):
    for cell in ("nas", str(RESULTS / "graphsearch_anbncn" / "best.npz"), "gru"):
        out = tmp_path / f"{Path(cell).stem}.png"
        status, printed, err = run_cli(capsys, "show", cell, "--diagram", str(out))
        assert status == 0, err
        assert printed.strip() == str(out) and out.read_bytes()[:8] == PNG_MAGIC


def test_plot_of_a_graph_search_draws_its_best_graph(tmp_path, capsys, monkeypatch):
    from evolstm import graph_diagram

    drawn_keys = []
    original = graph_diagram.draw_graph

    def recording(graph, ax, title=None):
        drawn_keys.append(graph.key())
        original(graph, ax, title)

    monkeypatch.setattr(graph_diagram, "draw_graph", recording)
    run_dir = RESULTS / "graphsearch_anbncn"
    best_key = json.loads((run_dir / "summary.json").read_text())["best_key"]
    out = tmp_path / "plot.png"
    status, printed, err = run_cli(capsys, "plot", str(run_dir), "--out", str(out))
    assert status == 0, err
    assert printed.strip() == str(out) and out.read_bytes()[:8] == PNG_MAGIC
    # without best.npz, the best candidate's graph comes from front.json
    copy = tmp_path / "no_best"
    copy.mkdir()
    for name in ("candidates.csv", "front.json", "summary.json", "tested.csv"):
        shutil.copy(run_dir / name, copy / name)
    assert run_cli(capsys, "plot", str(copy))[0] == 0
    assert drawn_keys == [best_key, best_key]


# -- plots of architecture searches and studies ------------------------------------------

CANDIDATE_FIELDS = ["candidate", "generation", "key", "variant", "score", "n_params",
                    "inner_evaluations", "seconds", "cache_hit"]
SEARCHED = Topology.from_dict({"coupled": True, "output_activation": "identity"})


def write_search_run(run_dir, rng):
    """A small fake architecture-search run folder in the lead's formats."""
    run_dir.mkdir()
    cells = [(name, resolve(name)) for name in ("lstm", "gru", "cifg", "elman")]
    cells.append(("", SEARCHED))
    rows, scores = [], {}
    for number in range(24):
        variant, topo = cells[int(rng.integers(len(cells)))]
        hit = topo.key() in scores
        scores.setdefault(topo.key(), float(rng.uniform(0.01, 1.0)))
        population = evolstm.Population(topo, 1, 3, 1)
        rows.append([number, number // 6, topo.key(), variant, scores[topo.key()],
                     population.n_params, 2000, 1.25, int(hit)])
    rows.append([24, 4, SEARCHED.key(), "", 0.001, 40, 2000, 1.0, 0])
    with (run_dir / "candidates.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CANDIDATE_FIELDS)
        writer.writerows(rows)
    population = evolstm.Population(SEARCHED, 1, 3, 1)
    evolstm.save(Cell(population, np.zeros(population.n_params)), run_dir / "best.npz")
    front = {"objectives": ["score", "n_params"], "members": [
        {"candidate": 24, "key": SEARCHED.key(), "topology": SEARCHED.to_dict(), "variant": None,
         "score": 0.001, "n_params": 40, "test": {"median": {"nrmse": 0.1}}}]}
    (run_dir / "front.json").write_text(json.dumps(front))
    (run_dir / "summary.json").write_text(json.dumps({"task": "mso", "metric": "nrmse"}))


def write_study_run(run_dir, rng, task, metric=None):
    run_dir.mkdir()
    with (run_dir / "tested.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["candidate", "key", "variant", "inner_seed", "metric", "value"])
        for number, variant in enumerate(["gru", "lstm", "cifg", ""]):
            key = resolve(variant or "np").key()
            for seed in range(5):
                writer.writerow([number, key, variant, seed, "accuracy", rng.uniform()])
                writer.writerow([number, key, variant, seed, "largest_n", rng.integers(1, 99)])
    summary = {"task": task, "test": {}} | ({"metric": metric} if metric else {})
    (run_dir / "summary.json").write_text(json.dumps(summary))


def test_plot_of_an_architecture_search_run(tmp_path, rng, capsys):
    run_dir = tmp_path / "search"
    write_search_run(run_dir, rng)
    status, out, err = run_cli(capsys, "plot", str(run_dir))
    assert status == 0, err
    assert out.strip() == str(run_dir / "plot.png")
    assert (run_dir / "plot.png").read_bytes()[:8] == PNG_MAGIC
    candidates = read_candidates(run_dir)
    assert best_candidate(candidates).candidate == 24 and len(candidates) == 25


def test_plot_of_studies_one_panel_per_run(tmp_path, rng, capsys):
    runs = []
    for task in ("anbncn", "reber"):
        runs.append(tmp_path / task)
        write_study_run(runs[-1], rng, task, metric="largest_n" if task == "reber" else None)
    out = tmp_path / "odyssey.png"
    status, _, err = run_cli(capsys, "plot", *map(str, runs), "--out", str(out))
    assert status == 0, err
    assert out.read_bytes()[:8] == PNG_MAGIC
    metric, values = read_tested(runs[0])  # no metric in summary.json: the first one
    assert metric == "accuracy" and list(values) == ["lstm", "cifg", "gru", "#3"]
    assert all(len(points) == 5 for points in values.values())
    assert read_tested(runs[1])[0] == "largest_n"


def test_a_search_run_with_tested_cells_adds_the_strip(tmp_path, rng, capsys):
    run_dir = tmp_path / "search"
    write_search_run(run_dir, rng)
    write_study_run(tmp_path / "study", rng, "mso")
    (tmp_path / "study" / "tested.csv").rename(run_dir / "tested.csv")
    assert run_cli(capsys, "plot", str(run_dir))[0] == 0
    other = tmp_path / "other"
    write_study_run(other, rng, "reber")
    out = tmp_path / "tasks.png"
    assert run_cli(capsys, "plot", str(run_dir), str(other), "--out", str(out))[0] == 0
    assert out.read_bytes()[:8] == PNG_MAGIC
    (tmp_path / "plain").mkdir()
    status, _, err = run_cli(capsys, "plot", str(run_dir), str(tmp_path / "plain"))
    assert status == 2 and len(err.strip().splitlines()) == 1


def test_pareto_front_by_hand():
    scores = np.array([0.5, 0.2, 0.2, 0.9, 0.1, 0.3, 0.1, 0.2])
    params = np.array([10, 20, 20, 5, 40, 30, 40, 50])
    # (5, 0.9) fewest params; (10, 0.5); (20, 0.2) twice (equal, neither dominates);
    # (30, 0.3) is dominated by (20, 0.2); (40, 0.1) twice; (50, 0.2) dominated.
    assert sorted(pareto_front(scores, params).tolist()) == [0, 1, 2, 3, 4, 6]


def test_best_candidate_ties_go_to_fewer_parameters(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with (run_dir / "candidates.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CANDIDATE_FIELDS)
        writer.writerow([0, 0, resolve("lstm").key(), "lstm", 0.5, 100, 10, 1.0, 0])
        writer.writerow([1, 0, resolve("gru").key(), "gru", 0.5, 80, 10, 1.0, 0])
        writer.writerow([2, 0, resolve("elman").key(), "elman", "inf", 20, 10, 1.0, 0])
    assert best_candidate(read_candidates(run_dir)).variant == "gru"
