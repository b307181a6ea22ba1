"""The `lstm`, `np`, `gru` and `elman` cells compute what torch.nn.LSTM / nn.GRU / nn.RNN (+
nn.Linear) compute, with and without biases; `fully_recurrent`'s outputs are the
pre-activations of nn.RNN's last units.

Weights travel three ways: a torch state_dict through `Population.flatten`, a cell file
written by hand with NumPy as DESIGN.md specifies, and `evolstm.save` read back into torch
with `load_state_dict`. Torch's default initialisation (uniform ±1/sqrt(H)) is contractive
enough that 100 steps do not amplify rounding differences (PERFORMANCE.md: chaotic genomes
drift).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from torch_support import one_torch_thread  # noqa: F401 (autouse fixture)

import evolstm

torch = pytest.importorskip("torch")

N_IN, N_OUT, N_BATCH, N_STEPS = 3, 2, 4, 100
# Max abs error allowed against torch: float64 to 1e-9; float32 to ~17 ulps of
# outputs of order 1 (measured: 1.2e-7; both sides round differently at every step).
TOLERANCE = {"float64": 1e-9, "float32": 2e-6}
MODULES = {"lstm": "LSTM", "np": "LSTM", "gru": "GRU", "elman": "RNN"}
# (variant, layers, dtype, n_hidden); n_hidden 5 and 20 take different kernel layouts.
CASES = [
    (variant, layers, dtype, 5)
    for variant in ("lstm", "gru")
    for layers in (1, 2)
    for dtype in ("float64", "float32")
] + [("np", 2, "float64", 5), ("lstm", 2, "float64", 20), ("gru", 1, "float32", 20),
      ("elman", 2, "float64", 5), ("elman", 1, "float32", 20)]


def torch_cell(variant: str, layers: int, dtype: str, n_hidden: int, seed: int,
               bias: bool = True):
    """A seeded torch recurrent module (batch_first) and its linear readout."""
    torch.manual_seed(seed)
    module = getattr(torch.nn, MODULES[variant])(N_IN, n_hidden, layers, bias=bias,
                                                 batch_first=True)
    readout = torch.nn.Linear(n_hidden, N_OUT)
    torch_dtype = getattr(torch, dtype)
    return module.to(torch_dtype), readout.to(torch_dtype)


def torch_predict(module, readout, x: np.ndarray) -> np.ndarray:
    """x (B, T, I) -> readout(h_t) (B, T, O), from zero initial state."""
    with torch.no_grad():
        hidden, _ = module(torch.from_numpy(x))
        return readout(hidden).numpy()


def cell_arrays(module, readout) -> dict:
    """The torch weights under the cell-file names (state_dict + readout_weight/bias)."""
    return {
        **module.state_dict(),
        "readout_weight": readout.weight,
        "readout_bias": readout.bias,
    }


def inputs(dtype: str, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(N_BATCH, N_STEPS, N_IN)).astype(dtype)


def max_error(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b)))


@pytest.mark.parametrize(("variant", "layers", "dtype", "n_hidden"), CASES)
def test_population_from_state_dict_matches_torch(variant, layers, dtype, n_hidden):
    module, readout = torch_cell(variant, layers, dtype, n_hidden, seed=layers)
    pop = evolstm.Population(variant, N_IN, n_hidden, N_OUT, layers=layers, dtype=dtype)
    genome = pop.flatten(cell_arrays(module, readout))
    x = inputs(dtype)

    outputs = pop.predict(genome[None], x)

    assert outputs.shape == (1, N_BATCH, N_STEPS, N_OUT)
    assert outputs.dtype == np.dtype(dtype)
    assert max_error(outputs[0], torch_predict(module, readout, x)) < TOLERANCE[dtype]


@pytest.mark.parametrize(("variant", "layers", "dtype", "n_hidden"), CASES)
def test_hand_written_cell_file_matches_torch(variant, layers, dtype, n_hidden, tmp_path):
    module, readout = torch_cell(variant, layers, dtype, n_hidden, seed=10 + layers)
    meta = {
        "format": "evolstm.cell",
        "version": 1,
        "variant": variant,
        "n_in": N_IN,
        "n_hidden": n_hidden,
        "n_out": N_OUT,
        "layers": layers,
        "dtype": dtype,
    }
    arrays = {name: value.detach().numpy() for name, value in cell_arrays(module, readout).items()}
    path = tmp_path / "from_torch.npz"
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
    x = inputs(dtype, seed=1)

    cell = evolstm.load(path)

    assert max_error(cell.predict(x), torch_predict(module, readout, x)) < TOLERANCE[dtype]


@pytest.mark.parametrize(("variant", "layers", "dtype", "n_hidden"), CASES)
def test_saved_cell_loads_into_torch(variant, layers, dtype, n_hidden, tmp_path):
    pop = evolstm.Population(variant, N_IN, n_hidden, N_OUT, layers=layers, dtype=dtype)
    bound = 1 / np.sqrt(n_hidden)  # torch's own initialisation: contractive enough
    genome = np.random.default_rng(layers).uniform(-bound, bound, pop.n_params)
    cell = evolstm.Cell(pop, genome)
    path = evolstm.save(cell, tmp_path / "to_torch.npz")
    module, readout = torch_cell(variant, layers, dtype, n_hidden, seed=99)

    with np.load(path, allow_pickle=False) as archive:
        module.load_state_dict(
            {name: torch.from_numpy(archive[name]) for name in archive.files if "_l" in name},
            strict=True,
        )
        readout.weight.data = torch.from_numpy(archive["readout_weight"])
        readout.bias.data = torch.from_numpy(archive["readout_bias"])
    x = inputs(dtype, seed=2)

    assert max_error(cell.predict(x), torch_predict(module, readout, x)) < TOLERANCE[dtype]


@pytest.mark.parametrize(("variant", "layers", "dtype", "n_hidden"), [
    ("lstm", 1, "float64", 5), ("lstm", 2, "float32", 5), ("lstm", 1, "float64", 20),
    ("gru", 2, "float64", 5), ("gru", 1, "float32", 20), ("elman", 1, "float64", 5),
])
def test_cells_without_biases_match_torch_bias_false(variant, layers, dtype, n_hidden):
    module, readout = torch_cell(variant, layers, dtype, n_hidden, seed=7, bias=False)
    topology = {**evolstm.cells.variants.topology(variant), "bias": False}
    pop = evolstm.Population(topology, N_IN, n_hidden, N_OUT, layers=layers, dtype=dtype)
    assert not any(block.name.startswith("bias") for block in pop.layout.blocks)
    genome = pop.flatten(cell_arrays(module, readout))
    x = inputs(dtype, seed=4)

    outputs = pop.predict(genome[None], x)[0]

    assert max_error(outputs, torch_predict(module, readout, x)) < TOLERANCE[dtype]


@pytest.mark.parametrize(("layers", "dtype"), [(1, "float64"), (2, "float64"), (1, "float32")])
def test_fully_recurrent_outputs_are_the_last_units_preactivations(layers, dtype):
    n_hidden, top, torch_dtype = 4, layers - 1, getattr(torch, dtype)
    torch.manual_seed(8)
    module = torch.nn.RNN(N_IN, n_hidden, layers, bias=False, batch_first=True).to(torch_dtype)
    pop = evolstm.Population("fully_recurrent", N_IN, n_hidden, N_OUT, layers=layers,
                             dtype=dtype)
    assert [block.name for block in pop.layout.blocks] == [  # no biases, no readout
        f"weight_{kind}_l{k}" for k in range(layers) for kind in ("ih", "hh")]
    genome = pop.flatten({k: v.detach().numpy() for k, v in module.state_dict().items()})
    x = torch.from_numpy(inputs(dtype, seed=5))
    with torch.no_grad():
        hidden, _ = module(x)  # (B, T, H): the top layer's h_t
        src = x  # the top layer's input: x, or the layers below run as their own nn.RNN
        if layers > 1:
            below = torch.nn.RNN(N_IN, n_hidden, top, bias=False, batch_first=True)
            below.to(torch_dtype).load_state_dict(
                {k: v for k, v in module.state_dict().items() if not k.endswith(f"_l{top}")})
            src = below(x)[0]
        previous = torch.cat([torch.zeros_like(hidden[:, :1]), hidden[:, :-1]], dim=1)
        w_ih = getattr(module, f"weight_ih_l{top}")[-N_OUT:]
        w_hh = getattr(module, f"weight_hh_l{top}")[-N_OUT:]
        expected = (src @ w_ih.T + previous @ w_hh.T).numpy()
    np.testing.assert_allclose(np.tanh(expected), hidden[..., -N_OUT:].numpy(), atol=1e-6)

    outputs = pop.predict(genome[None], x.numpy())[0]

    assert max_error(outputs, expected) < TOLERANCE[dtype]


def test_states_are_torch_hidden_states():
    module, readout = torch_cell("lstm", 2, "float64", 5, seed=5)
    pop = evolstm.Population("lstm", N_IN, 5, N_OUT, layers=2)
    genome = pop.flatten(cell_arrays(module, readout))
    x = inputs("float64", seed=3)
    with torch.no_grad():
        expected, _ = module(torch.from_numpy(x))

    hidden = pop.states(genome[None], x)[0]

    assert max_error(hidden, expected.numpy()) < TOLERANCE["float64"]


# -- Cell.trace: the inside of a cell, step by step ------------------------------------------
def _torch_cell_and_cell(family: str, seed: int):
    torch.manual_seed(seed)
    module = (torch.nn.LSTMCell if family == "lstm" else torch.nn.GRUCell)(3, 4).double()
    population = evolstm.Population(family, n_in=3, n_hidden=4, n_out=1)
    arrays = {f"{name}_l0": value.detach().numpy() for name, value in module.state_dict().items()}
    arrays["readout_weight"] = np.zeros((1, 4))
    arrays["readout_bias"] = np.zeros(1)
    return module, evolstm.Cell(population, population.flatten(arrays))


@pytest.mark.parametrize("family", ["lstm", "gru"])
def test_trace_gives_pytorchs_gates_and_states_at_every_step(family):
    module, cell = _torch_cell_and_cell(family, seed=3)
    x = np.random.default_rng(3).normal(size=(20, 3))
    trace = cell.trace(x)
    w_ih, w_hh = module.weight_ih.detach(), module.weight_hh.detach()
    b_ih, b_hh = module.bias_ih.detach(), module.bias_hh.detach()
    h, c = torch.zeros(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    for t in range(len(x)):
        xi, xh = w_ih @ torch.from_numpy(x[t]) + b_ih, w_hh @ h + b_hh
        if family == "lstm":  # PyTorch's gate order i, f, g, o
            i, f, g, o = (xi + xh).chunk(4)
            gates = {"i": torch.sigmoid(i), "f": torch.sigmoid(f), "g": torch.tanh(g),
                     "o": torch.sigmoid(o)}
            h, c = module(torch.from_numpy(x[t])[None], (h[None], c[None]))
            h, c = h[0].detach(), c[0].detach()
            np.testing.assert_allclose(trace["c"][t], c.numpy(), atol=1e-12)
        else:  # r, z, n
            r = torch.sigmoid(xi[:4] + xh[:4])
            z = torch.sigmoid(xi[4:8] + xh[4:8])
            gates = {"r": r, "z": z, "n": torch.tanh(xi[8:] + r * xh[8:])}
            h = module(torch.from_numpy(x[t])[None], h[None])[0].detach()
        np.testing.assert_allclose(trace["h"][t], h.numpy(), atol=1e-12)
        for name, value in gates.items():
            np.testing.assert_allclose(trace[name][t], value.numpy(), atol=1e-12, err_msg=name)
