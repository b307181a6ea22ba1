"""`evolstm.torch`: every topology cell as a PyTorch module that computes what `Cell.predict`
computes (the Numba kernels), with the cell file's arrays as its state_dict, and back (cell
graphs: tests/test_torch_graph.py).

Weights are drawn uniform ±1/sqrt(H), PyTorch's own initialisation, contractive enough that
rounding differences do not grow along the sequence.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch_support import (  # noqa: F401
    N_BATCH,
    N_STEPS,
    assert_state_is_cell_steps,
    inputs,
    module_outputs,
    one_torch_thread,
    random_cell,
)

import evolstm
from evolstm.cells.topology import GRU_UNITS, H_MODES, LSTM_UNITS, X_MODES
from evolstm.errors import EvolstmError

torch = pytest.importorskip("torch")
bridge = pytest.importorskip("evolstm.torch")

# Max abs error of the module's outputs against the cell's. float64: 1e-9 (measured
# 3.3e-16). float32: 2e-6, ~17 ulps of outputs of order 1 (measured 1.9e-7; each side rounds
# its own sums at every step).
TOLERANCE = {"float64": 1e-9, "float32": 2e-6}


def max_error(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b)))


# -- outputs equal the cell's ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("variant", evolstm.cells.names())
def test_module_predicts_what_the_cell_predicts(variant, dtype):
    cell = random_cell(variant, dtype=dtype, seed=3)
    x = inputs(dtype)

    y = module_outputs(cell, x)

    assert y.dtype == np.dtype(dtype)
    assert max_error(y, cell.predict(x)) < TOLERANCE[dtype]


@pytest.mark.parametrize(("variant", "dtype"), [
    ("lstm", "float64"), ("fgr", "float64"), ("cifg", "float32"), ("gru", "float64"),
    ("mut1", "float32"), ("mut2", "float64"), ("fully_recurrent", "float64"),
])
def test_stacked_layers(variant, dtype):
    cell = random_cell(variant, n_hidden=5, layers=3, dtype=dtype, seed=4)
    x = inputs(dtype, seed=2)

    assert max_error(module_outputs(cell, x), cell.predict(x)) < TOLERANCE[dtype]


@pytest.mark.parametrize("variant", ["mut1", "mut2"])
@pytest.mark.parametrize("n_in", [1, 2, 6])
def test_unweighted_inputs_tile_over_the_units(variant, n_in):
    """identity / tanh input modes with n_in != H: unit k reads x[k mod n_in]."""
    cell = random_cell(variant, n_hidden=4, layers=2, seed=5, n_in=n_in)
    x = inputs(seed=3, n_in=n_in)

    assert max_error(module_outputs(cell, x), cell.predict(x)) < TOLERANCE["float64"]


def _modes(draw, units, allowed):
    chosen = draw(st.dictionaries(st.sampled_from(units), st.sampled_from(allowed), max_size=3))
    return dict(sorted(chosen.items()))


@st.composite
def topologies(draw) -> dict:
    """Any topology dict, valid or not (the test assumes the valid ones)."""
    family = draw(st.sampled_from(["lstm", "gru"]))
    flag = st.booleans()
    topo: dict = {"family": family, "bias": draw(flag)}
    if family == "lstm":
        for name in ("input_gate", "forget_gate", "output_gate", "coupled", "peepholes",
                     "gate_recurrence"):
            topo[name] = draw(flag)
        for name in ("cell_activation", "output_activation"):
            topo[name] = draw(st.sampled_from(["tanh", "identity"]))
        units = LSTM_UNITS
    else:
        for name in ("reset_gate", "update_gate", "reset_after", "update_keeps_state"):
            topo[name] = draw(flag)
        if not topo["update_gate"]:
            topo["readout"] = draw(st.sampled_from(["linear", "units"]))
        units = GRU_UNITS
    topo["x_modes"] = _modes(draw, units, X_MODES)
    topo["h_modes"] = _modes(draw, units, H_MODES)
    return topo


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(topo=topologies(), n_in=st.integers(1, 3), n_hidden=st.integers(2, 4),
       layers=st.integers(1, 2), dtype=st.sampled_from(["float64", "float32"]),
       seed=st.integers(0, 2**16))
def test_random_topologies(topo, n_in, n_hidden, layers, dtype, seed):
    try:
        topology = evolstm.cells.Topology.from_dict(topo)
    except EvolstmError:
        assume(False)
    cell = random_cell(topology, n_hidden, layers, dtype, seed, n_in=n_in, n_out=2)
    x = inputs(dtype, seed=seed + 1, n_in=n_in, n_steps=12)

    expected = cell.predict(x)  # without a forget gate c may grow: the error relative to it
    scale = max(1.0, float(np.max(np.abs(expected))))
    assert max_error(module_outputs(cell, x), expected) < TOLERANCE[dtype] * scale


# -- the state ---------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["fgr", "gru", "fully_recurrent"])
def test_state_is_cell_steps_state(variant):
    """forward's final state and step's are what Cell.step returns, and carry a sequence on."""
    assert_state_is_cell_steps(random_cell(variant, layers=2, seed=6))


# -- parameters and the way back -----------------------------------------------------------------
@pytest.mark.parametrize("variant", ["fgr", "cifg", "mut3", "fully_recurrent"])
def test_state_dict_is_the_cell_file(variant):
    cell = random_cell(variant, layers=2, seed=7)

    state_dict = bridge.to_torch(cell).state_dict()

    arrays = cell.arrays()
    assert list(state_dict) == list(arrays)
    for name, value in arrays.items():
        np.testing.assert_array_equal(state_dict[name].numpy(), value)


@pytest.mark.parametrize(("variant", "dtype"), [("peephole", "float64"), ("gru", "float32"),
                                                ("elman", "float64")])
def test_round_trip_gives_the_same_cell(variant, dtype, tmp_path):
    cell = random_cell(variant, layers=2, dtype=dtype, seed=8)
    cell.info = {"task": "anbncn"}
    path = evolstm.save(cell, tmp_path / "cell.npz")

    back = bridge.from_torch(bridge.to_torch(path))

    assert back.population.topology == cell.population.topology
    assert back.population.variant == variant
    assert back.population.dtype == cell.population.dtype
    assert back.info == cell.info
    np.testing.assert_array_equal(back.genome, cell.genome)


def test_trained_weights_come_back():
    """A gradient step changes the module; from_torch's cell predicts what the module does."""
    cell = random_cell("peephole", seed=9)
    module = bridge.to_torch(cell)
    x = torch.from_numpy(inputs(seed=5))
    optimiser = torch.optim.Adam(module.parameters(), lr=0.05)
    for _ in range(3):
        optimiser.zero_grad()
        y, _ = module(x)
        (y ** 2).mean().backward()
        optimiser.step()

    trained = bridge.from_torch(module)

    assert np.abs(trained.genome - cell.genome).min() > 0
    with torch.no_grad():
        expected = module(x)[0].numpy()
    assert max_error(trained.predict(x.numpy()), expected) < TOLERANCE["float64"]


# -- gradients -------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["fgr", "nfg", "cifg", "gru", "mut1", "mut3",
                                     "fully_recurrent"])
def test_gradients(variant):
    """Autograd's gradients, with respect to the inputs and every weight, match finite
    differences."""
    module = bridge.to_torch(random_cell(variant, n_hidden=2, seed=10, n_in=2, n_out=1))
    names = list(dict(module.named_parameters()))
    x = torch.from_numpy(inputs(seed=6, n_in=2, n_steps=4)[:2]).requires_grad_()
    params = tuple(p.detach().clone().requires_grad_() for p in module.parameters())

    def outputs(x, *params):
        y, state = torch.func.functional_call(module, dict(zip(names, params, strict=True)),
                                              (x,))
        return y, state

    assert torch.autograd.gradcheck(outputs, (x, *params))


# -- errors ----------------------------------------------------------------------------------------
def test_from_torch_needs_a_cell_module():
    with pytest.raises(EvolstmError, match="to_torch.*got LSTM"):
        bridge.from_torch(torch.nn.LSTM(2, 3))


def test_from_torch_names_a_missing_array():
    module = bridge.to_torch(random_cell("lstm", seed=11))
    del module._parameters["readout_bias"]

    with pytest.raises(EvolstmError, match="missing array readout_bias"):
        bridge.from_torch(module)


def test_from_torch_refuses_half_precision():
    module = bridge.to_torch(random_cell("gru", seed=12)).half()

    with pytest.raises(EvolstmError, match="float16.*module.float"):
        bridge.from_torch(module)


def test_wrong_input_shape_is_one_clear_error():
    module = bridge.to_torch(random_cell("lstm", seed=13))

    with pytest.raises(EvolstmError, match=r"x: expected shape \(B, T, I\) with I = 3"):
        module(torch.zeros(2, 5, 4))
    with pytest.raises(EvolstmError, match="state: expected shape"):
        module(torch.zeros(2, 5, 3), torch.zeros(2, 1, 3))


def test_a_cell_that_is_neither_topology_nor_graph_is_refused():
    cell = random_cell("lstm", seed=14)
    cell.population = type("OtherPopulation", (), {"graph": None, "topology": None})()

    with pytest.raises(EvolstmError, match="neither a topology cell nor a cell graph.*missing"):
        bridge.to_torch(cell)


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


def test_importing_evolstm_does_not_import_torch():
    result = _python("import sys, evolstm, evolstm.cli; print('torch' in sys.modules)")

    assert result.stdout.strip() == "False", result.stderr


def test_without_torch_the_bridge_says_what_to_install():
    result = _python(
        "import sys; sys.modules['torch'] = None\n"
        "try:\n    import evolstm.torch\n"
        "except ImportError as error:\n    print(type(error).__name__, error)"
    )

    assert result.stdout.strip() == (
        "TorchMissing evolstm.torch needs PyTorch, which is not installed: "
        "pip install 'evolstm[torch]'"
    ), result.stderr


# -- gradient training ---------------------------------------------------------------------------
def test_train_writes_a_run_folder_that_eval_reads(tmp_path, capsys):
    import csv
    import json

    from evolstm.cli import main

    cell = random_cell("peephole", n_hidden=3, seed=15, n_in=4, n_out=4)
    run = tmp_path / "run"

    trained = bridge.train(cell, "anbncn", epochs=4, lr=0.05, out=run)

    assert sorted(p.name for p in run.iterdir()) == [
        "best.npz", "config.toml", "history.csv", "summary.json"]
    with open(run / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["presentations"]) for row in rows] == [10, 20, 30, 40]  # 10 strings
    assert float(rows[-1]["best_loss"]) < float(rows[0]["loss"])
    assert float(rows[-1]["elapsed_s"]) > 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["task"] == "anbncn" and "largest_n" in summary["test"]
    assert trained.population.topology == cell.population.topology
    assert np.abs(trained.genome - cell.genome).max() > 0
    assert main(["eval", str(run / "best.npz"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["test"] == summary["test"]


def test_train_on_last_step_sequences_in_mini_batches():
    task_cls = evolstm.tasks.get("adding")
    task = task_cls(evolstm.options.build(task_cls.Options, {"n_train": 12}, "task"), seed=3)
    cell = random_cell("gru", n_hidden=3, seed=16, n_in=2, n_out=1)

    trained = bridge.train(cell, task, epochs=2, batch_size=5, lr=0.01)

    assert trained.info["trained"]["best_loss"] < np.inf
    assert trained.info["task_options"]["name"] == "adding"
    assert trained.info["task_seed"] == 3


def test_train_refuses_a_task_without_training_sequences():
    task_cls = evolstm.tasks.get("double_pole")
    task = task_cls(evolstm.options.build(task_cls.Options, {}, "task"), seed=0)
    cell = random_cell("lstm", n_hidden=3, seed=17, n_in=task.n_in, n_out=task.n_out)

    with pytest.raises(EvolstmError, match="double_pole.*no training sequences"):
        bridge.train(cell, task, epochs=1)
