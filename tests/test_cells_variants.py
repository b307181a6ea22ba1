"""Every named variant against a NumPy step written from its paper's equations.

The reference reads the weights from `Population.unflatten` by their cell-file names, so it
checks the genome layout as well as the kernel. Which units own rows of ``weight_ih`` and
``weight_hh`` is written out here per variant (PyTorch's gate order, absent units skipped).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import evolstm
from evolstm.cells import Topology
from evolstm.errors import EvolstmError

N_STEPS, N_OUT, N_BATCH = 30, 2, 2


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


# -- the LSTM family: Greff et al. 2017, "LSTM: A Search Space Odyssey", section II ----------
# Vanilla LSTM (their eq. for z, i, f, c, o, y), with the peepholes of Gers & Schmidhuber 2000
# (i, f read c_{t-1}; o reads c_t):
#   z = g(W_z x + R_z y_{t-1} + b_z)
#   i = sigm(W_i x + R_i y_{t-1} + p_i * c_{t-1} + b_i)
#   f = sigm(W_f x + R_f y_{t-1} + p_f * c_{t-1} + b_f)
#   c = z * i + c_{t-1} * f
#   o = sigm(W_o x + R_o y_{t-1} + p_o * c + b_o)
#   y = h(c) * o,     g = h = tanh
# Their variants change one thing each: NIG i = 1, NFG f = 1, NOG o = 1, NIAF g(x) = x,
# NOAF h(x) = x, NP no peepholes, CIFG f = 1 - i, FGR every gate also reads
# R^i i_{t-1} + R^f f_{t-1} + R^o o_{t-1}. lstm1997 (Hochreiter & Schmidhuber 1997): no forget
# gate (f = 1), no peepholes. lstm (Gers et al. 1999): forget gate, no peepholes.
LSTM_VARIANTS = {
    # name: (gates with weights, peepholes, cell act g, output act h, coupled, gate recurrence)
    "lstm1997": ("igo", False, np.tanh, np.tanh, False, False),
    "lstm": ("ifgo", False, np.tanh, np.tanh, False, False),
    "peephole": ("ifgo", True, np.tanh, np.tanh, False, False),
    "nig": ("fgo", True, np.tanh, np.tanh, False, False),
    "nfg": ("igo", True, np.tanh, np.tanh, False, False),
    "nog": ("ifg", True, np.tanh, np.tanh, False, False),
    "niaf": ("ifgo", True, lambda a: a, np.tanh, False, False),
    "noaf": ("ifgo", True, np.tanh, lambda a: a, False, False),
    "np": ("ifgo", False, np.tanh, np.tanh, False, False),
    "cifg": ("igo", True, np.tanh, np.tanh, True, False),
    "fgr": ("ifgo", True, np.tanh, np.tanh, False, True),
}


def rows(arrays: dict, name: str, units: str, unit: str, n_hidden: int) -> np.ndarray:
    """The H rows of `unit` in the stacked array `name` whose row blocks are `units`."""
    start = units.index(unit) * n_hidden
    return arrays[name][start : start + n_hidden]


def lstm_layer_reference(variant: str, arrays: dict, k: int, xs: np.ndarray) -> np.ndarray:
    """One layer over a sequence: xs (T, I) -> ys (T, H)."""
    units, peepholes, act_g, act_h, coupled, recurrent = LSTM_VARIANTS[variant]
    n_hidden = arrays[f"weight_hh_l{k}"].shape[1]

    def pre(unit: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        w = rows(arrays, f"weight_ih_l{k}", units, unit, n_hidden)
        r = rows(arrays, f"weight_hh_l{k}", units, unit, n_hidden)
        b = rows(arrays, f"bias_ih_l{k}", units, unit, n_hidden)
        b = b + rows(arrays, f"bias_hh_l{k}", units, unit, n_hidden)
        return w @ x + r @ y + b

    gates = [u for u in "ifo" if u in units]
    zeros = np.zeros(n_hidden)
    y, c = zeros, zeros
    previous = {u: zeros for u in gates}  # FGR: gate activations of step t-1
    ys = []
    for x in xs:
        a = {u: pre(u, x, y) for u in units}
        for u in gates:
            if peepholes and u != "o":
                a[u] = a[u] + arrays[f"peephole_{u}_l{k}"] * c
            if recurrent:
                r_gg = rows(arrays, f"weight_gg_l{k}", gates, u, n_hidden)
                a[u] = a[u] + r_gg @ np.concatenate([previous[v] for v in gates])
        z = act_g(a["g"])
        i = sigmoid(a["i"]) if "i" in units else 1.0
        f = sigmoid(a["f"]) if "f" in units else (1.0 - i if coupled else 1.0)
        c = z * i + c * f
        if "o" in units:
            if peepholes:
                a["o"] = a["o"] + arrays[f"peephole_o_l{k}"] * c
            o = sigmoid(a["o"])
        else:
            o = 1.0
        y = act_h(c) * o
        previous = {"i": i, "f": f, "o": o}
        ys.append(y)
    return np.array(ys)


# -- the GRU family ----------------------------------------------------------------------------
# gru, PyTorch nn.GRU (Cho et al. 2014, reset applied after the product):
#   r = sigm(W_ir x + b_ir + W_hr h + b_hr);  z = sigm(W_iz x + b_iz + W_hz h + b_hz)
#   n = tanh(W_in x + b_in + r * (W_hn h + b_hn));  h' = (1 - z) * n + z * h
# Jozefowicz, Zaremba & Sutskever 2015 (ICML), the three best mutants (REFERENCES.md):
#   MUT1: z = sigm(W_xz x + b_z);  r = sigm(W_xr x + W_hr h + b_r)
#         h' = tanh(W_hh (r * h) + tanh(x) + b_h) * z + h * (1 - z)
#   MUT2: z = sigm(W_xz x + W_hz h + b_z);  r = sigm(x + W_hr h + b_r)
#         h' = tanh(W_hh (r * h) + W_xh x + b_h) * z + h * (1 - z)
#   MUT3: z = sigm(W_xz x + W_hz tanh(h) + b_z);  r = sigm(W_xr x + W_hr h + b_r); h' as MUT2
# elman (Elman 1990, PyTorch nn.RNN): h' = tanh(W_ih x + b_ih + W_hh h + b_hh).
# fully_recurrent (Williams & Zipser 1989): a_t = W_ih x_t + W_hh h_{t-1}, no biases;
#   h_t = tanh(a_t); the outputs are the last O entries of a_t (no readout).
# Where x is added to an H-vector without weights and I != H, unit k reads x[k mod I].
GRU_VARIANTS = {  # name: (units with rows in weight_ih, units with rows in weight_hh)
    "gru": ("rzn", "rzn"),
    "mut1": ("rz", "rn"),
    "mut2": ("zn", "rzn"),
    "mut3": ("rzn", "rzn"),
    "elman": ("n", "n"),
    "fully_recurrent": ("n", "n"),
}
NO_BIAS = {"fully_recurrent"}


def gru_layer_reference(variant: str, arrays: dict, k: int, xs: np.ndarray) -> np.ndarray:
    """One layer over a sequence: xs (T, I) -> hs (T, H)."""
    x_units, h_units = GRU_VARIANTS[variant]
    n_hidden = arrays[f"weight_hh_l{k}"].shape[1]

    def bias(name: str, units: str, unit: str) -> np.ndarray:
        if variant in NO_BIAS:
            assert name not in arrays
            return np.zeros(n_hidden)
        return rows(arrays, name, units, unit, n_hidden)

    def wx(unit: str, x: np.ndarray) -> np.ndarray:  # W_x x + b_x
        w = rows(arrays, f"weight_ih_l{k}", x_units, unit, n_hidden)
        return w @ x + bias(f"bias_ih_l{k}", x_units, unit)

    def wh(unit: str, h: np.ndarray) -> np.ndarray:  # W_h h + b_h
        w = rows(arrays, f"weight_hh_l{k}", h_units, unit, n_hidden)
        return w @ h + bias(f"bias_hh_l{k}", h_units, unit)

    def tiled(x: np.ndarray) -> np.ndarray:
        return x[np.arange(n_hidden) % x.shape[0]]

    h = np.zeros(n_hidden)
    hs = []
    for x in xs:
        if variant == "gru":
            r = sigmoid(wx("r", x) + wh("r", h))
            z = sigmoid(wx("z", x) + wh("z", h))
            n = np.tanh(wx("n", x) + r * wh("n", h))
            h = (1 - z) * n + z * h
        elif variant in ("elman", "fully_recurrent"):
            h = np.tanh(wx("n", x) + wh("n", h))
        else:
            if variant == "mut1":
                z = sigmoid(wx("z", x))
                r = sigmoid(wx("r", x) + wh("r", h))
                n = np.tanh(wh("n", r * h) + np.tanh(tiled(x)))
            elif variant == "mut2":
                z = sigmoid(wx("z", x) + wh("z", h))
                r = sigmoid(tiled(x) + wh("r", h))
                n = np.tanh(wh("n", r * h) + wx("n", x))
            else:
                z = sigmoid(wx("z", x) + wh("z", np.tanh(h)))
                r = sigmoid(wx("r", x) + wh("r", h))
                n = np.tanh(wh("n", r * h) + wx("n", x))
            h = n * z + h * (1 - z)
        hs.append(h)
    return np.array(hs)


def reference_predict(variant: str, arrays: dict, layers: int, x: np.ndarray) -> np.ndarray:
    """x (B, T, I) -> readout of the top layer (B, T, O)."""
    layer = gru_layer_reference if variant in GRU_VARIANTS else lstm_layer_reference
    outputs = []
    for xs in x:
        for k in range(layers):
            inputs, xs = xs, layer(variant, arrays, k, xs)
        if variant == "fully_recurrent":  # the last O units' pre-activations
            top = layers - 1
            previous = np.vstack([np.zeros_like(xs[:1]), xs[:-1]])
            pre = inputs @ arrays[f"weight_ih_l{top}"].T + previous @ arrays[f"weight_hh_l{top}"].T
            outputs.append(pre[:, -N_OUT:])
        else:
            outputs.append(xs @ arrays["readout_weight"].T + arrays["readout_bias"])
    return np.array(outputs)


def test_every_variant_has_a_reference():
    assert sorted(evolstm.cells.names()) == sorted({**LSTM_VARIANTS, **GRU_VARIANTS})


# (n_in, n_hidden, layers); I == H is the paper's MUT1/MUT2; H = 12 takes another kernel layout
SHAPES = [(2, 3, 1), (2, 5, 2), (4, 4, 1), (2, 12, 1)]


@pytest.mark.parametrize("variant", evolstm.cells.names())
@pytest.mark.parametrize(("n_in", "n_hidden", "layers"), SHAPES)
def test_variant_matches_paper_equations(variant, n_in, n_hidden, layers, rng):
    pop = evolstm.Population(variant, n_in, n_hidden, N_OUT, layers=layers)
    genomes = rng.normal(0.0, 0.3, (2, pop.n_params))
    x = rng.normal(size=(N_BATCH, N_STEPS, n_in))

    outputs = pop.predict(genomes, x)

    for genome, output in zip(genomes, outputs, strict=True):
        expected = reference_predict(variant, pop.unflatten(genome), layers, x)
        np.testing.assert_allclose(output, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("variant", evolstm.cells.names())
def test_variant_equals_its_topology(variant, rng):
    by_name = evolstm.Population(variant, 2, 4, N_OUT, layers=2)
    by_topology = evolstm.Population(evolstm.cells.topology(variant), 2, 4, N_OUT, layers=2)
    genomes = rng.normal(0.0, 0.3, (3, by_name.n_params))
    x = rng.normal(size=(N_BATCH, 10, 2))

    assert by_topology.n_params == by_name.n_params
    assert np.array_equal(by_topology.predict(genomes, x), by_name.predict(genomes, x))


@pytest.mark.parametrize("variant", evolstm.cells.names())
def test_topology_survives_json(variant):
    topo = evolstm.cells.resolve(variant)
    data = json.loads(json.dumps(topo.to_dict()))

    assert Topology.from_dict(data) == topo
    assert Topology.from_dict(data).key() == topo.key()


@pytest.mark.parametrize(
    "data",
    [
        {"family": "rnn"},
        {"cell_activation": "relu"},
        {"output_activation": "sigmoid"},
        {"coupled": True, "input_gate": False},
        {"coupled": True, "forget_gate": False},
        {"x_modes": {"r": "linear"}},  # r is not a unit of an LSTM
        {"family": "gru", "x_modes": {"i": "linear"}},
        {"x_modes": {"g": "square"}},
        {"h_modes": {"g": "identity"}},
        {"x_modes": {"g": "identity"}, "h_modes": {"g": "none"}},  # a unit without a bias
        {"peepholes": 1},  # wrong type
        {"hidden": 3},  # unknown field
        {"x_modes": ["g", "identity"]},
        {"readout": "softmax"},
        {"readout": "units"},  # an LSTM's h is not a unit activation
        {"family": "gru", "readout": "units"},  # nor is a GRU's with an update gate
        {"bias": 0},
    ],
)
def test_invalid_topology_is_refused(data):
    with pytest.raises(EvolstmError):
        evolstm.Population(data, 1, 2, 1)


def test_output_units_need_as_many_hidden_units_as_outputs():
    with pytest.raises(EvolstmError, match="2 outputs need at least as many hidden units"):
        evolstm.Population("fully_recurrent", 3, 1, 2)


def test_topology_of_the_wrong_kind_is_refused():
    with pytest.raises(EvolstmError, match="table"):
        Topology.from_dict(["lstm"])  # type: ignore[arg-type]
    with pytest.raises(EvolstmError, match="unknown cell variant"):
        evolstm.cells.topology("lstm2")
