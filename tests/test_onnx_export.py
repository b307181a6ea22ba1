"""ONNX export (`evolstm.torch.onnx`, `evolstm export`): the exported models, run with
onnxruntime, give the cell's outputs and final state, over a sequence (the sequence form,
dynamic batch and length) and step by step (the step form, the state fed back); for topology
cells and cell graphs."""

from __future__ import annotations

import json

import numpy as np
import pytest

import evolstm
from evolstm.cli import main

pytest.importorskip("torch")
pytest.importorskip("onnxscript")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch_onnx = pytest.importorskip("evolstm.torch.onnx")

N_IN, N_OUT, N_HIDDEN = 3, 2, 4
TOLERANCE = {"float64": 1e-9, "float32": 2e-6}


def random_cell(variant, layers: int, dtype: str, seed: int) -> evolstm.Cell:
    """A variant's cell (or a cell graph's: `variant` a `Graph`), weights uniform ±1/sqrt(H)."""
    population = evolstm.Population(variant, N_IN, N_HIDDEN, N_OUT, layers=layers, dtype=dtype)
    bound = 1 / np.sqrt(N_HIDDEN)
    genome = np.random.default_rng(seed).uniform(-bound, bound, population.n_params)
    return evolstm.Cell(population, genome)


def session(path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def check_both_forms(cell: evolstm.Cell, sequence_path, step_path, n_batch: int, n_steps: int):
    """Both models against Cell.predict / Cell.step, at a batch size and length other than
    the ones the exporter traced with."""
    dtype = str(cell.population.dtype)
    x = np.random.default_rng(n_steps).normal(size=(n_batch, n_steps, cell.n_in)).astype(dtype)
    zeros = np.zeros((n_batch, cell.population.layers, cell.population.state_width), dtype)
    expected_state = None
    for t in range(n_steps):
        _, expected_state = cell.step(x[:, t], expected_state)

    y, state = session(sequence_path).run(None, {"x": x, "state": zeros})

    assert y.shape == (n_batch, n_steps, cell.n_out)
    assert np.max(np.abs(y - cell.predict(x))) < TOLERANCE[dtype]
    assert np.max(np.abs(state - expected_state)) < TOLERANCE[dtype]

    stepper, state, outputs = session(step_path), zeros, []
    for t in range(n_steps):
        y_t, state = stepper.run(None, {"x": x[:, t], "state": state})
        outputs.append(y_t)

    assert np.max(np.abs(np.stack(outputs, axis=1) - cell.predict(x))) < TOLERANCE[dtype]
    assert np.max(np.abs(state - expected_state)) < TOLERANCE[dtype]


@pytest.mark.parametrize(("variant", "layers", "dtype"), [
    ("fgr", 1, "float64"),  # peepholes, gate recurrence: the widest state
    ("fully_recurrent", 1, "float64"),  # output units, no biases, no readout
])
def test_exported_models_give_the_cells_outputs(variant, layers, dtype, tmp_path):
    cell = random_cell(variant, layers, dtype, seed=1)

    sequence_path, step_path = torch_onnx.export_both(cell, tmp_path / f"{variant}.onnx")

    assert step_path.name == f"{variant}.step.onnx"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [sequence_path.name, step_path.name])  # the weights inside, no side files
    check_both_forms(cell, sequence_path, step_path, n_batch=3, n_steps=17)


def test_cli_export_writes_both_forms_and_their_metadata(tmp_path, capsys):
    cell = random_cell("mut2", 2, "float32", seed=2)
    path = evolstm.save(cell, tmp_path / "cell.npz")
    out = tmp_path / "cell.onnx"

    assert main(["export", str(path), "--onnx", str(out)]) == 0

    step = tmp_path / "cell.step.onnx"
    assert capsys.readouterr().out.split() == [str(out), str(step)]
    check_both_forms(cell, out, step, n_batch=1, n_steps=9)
    meta = {entry.key: entry.value for entry in onnx.load(str(step)).metadata_props}
    assert meta["evolstm.form"] == "step"
    assert meta["evolstm.cell"] == "mut2"
    assert json.loads(meta["evolstm.sizes"]) == {"n_in": 3, "n_hidden": 4, "n_out": 2,
                                                 "layers": 2}
    assert meta["evolstm.dtype"] == "float32"
    assert meta["evolstm.state"].startswith("(B, 2, 8)")


def test_a_graph_cell_exports(tmp_path):
    """Three state vectors and every op of a cell graph (`test_torch_graph.every_op`)."""
    from test_torch_graph import every_op

    cell = random_cell(every_op(), 1, "float64", seed=7)

    sequence_path, step_path = torch_onnx.export_both(cell, tmp_path / "graph.onnx")

    check_both_forms(cell, sequence_path, step_path, n_batch=2, n_steps=11)


def test_cli_exports_the_graph_a_search_found(tmp_path, capsys):
    """Its graph adds a state to a product of x: values sized by the scan's carry first
    (`evolstm.torch.base.tie_batch`)."""
    found = "results/graphsearch_anbncn/best.npz"
    out = tmp_path / "found.onnx"

    assert main(["export", found, "--onnx", str(out)]) == 0

    step = tmp_path / "found.step.onnx"
    assert capsys.readouterr().out.split() == [str(out), str(step)]
    cell = evolstm.load(found)
    check_both_forms(cell, out, step, n_batch=3, n_steps=13)
    meta = {entry.key: entry.value for entry in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["evolstm.cell"]) == cell.population.graph.to_dict()
    assert meta["evolstm.state"].startswith("(B, 1, 8): per layer [h (H) | s0 (H)]")


def test_cli_export_of_a_missing_file_is_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "none.npz"), "--onnx", str(tmp_path / "x.onnx")]) == 2

    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "none.npz" in error


def test_unknown_form_is_refused(tmp_path):
    with pytest.raises(evolstm.EvolstmError, match="form: 'loop'"):
        torch_onnx.export_onnx(random_cell("lstm", 1, "float64", 3), tmp_path / "x.onnx",
                               "loop")


def test_without_onnxscript_the_export_says_what_to_install(tmp_path):
    import subprocess
    import sys

    path = evolstm.save(random_cell("lstm", 1, "float64", 4), tmp_path / "cell.npz")
    code = (
        "import sys; sys.modules['onnxscript'] = None\n"
        "from evolstm.cli import main\n"
        f"sys.exit(main(['export', {str(path)!r}, '--onnx', {str(tmp_path / 'x.onnx')!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)

    assert result.returncode == 2
    assert "pip install 'evolstm[onnx]'" in result.stderr


def test_a_cell_whose_units_never_read_h_exports(tmp_path):
    """The state parts a step overwrites unread still flow into the scan (`module._keep`)."""
    topology = {"h_modes": {"i": "none", "f": "none", "g": "none", "o": "none"}}
    population = evolstm.Population(topology, N_IN, N_HIDDEN, N_OUT)
    cell = evolstm.Cell(population, np.random.default_rng(5).uniform(-0.5, 0.5,
                                                                     population.n_params))
    x = np.random.default_rng(6).normal(size=(2, 7, N_IN))

    path = torch_onnx.export_onnx(cell, tmp_path / "no_h.onnx")

    y, _ = session(path).run(None, {"x": x, "state": np.zeros((2, 1, 2 * N_HIDDEN))})
    assert np.max(np.abs(y - cell.predict(x))) < TOLERANCE["float64"]
