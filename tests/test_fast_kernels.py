"""The fast kernels equal the reference kernel; fastmath's functions are within stated ulps."""

from __future__ import annotations

import mpmath
import numba
import numpy as np
import pytest

from evolstm.cells import fast_kernels, fastmath, kernels
from evolstm.cells.population import Population

ULP_BOUND = {"exp": 1.5, "sigmoid": 2.5, "tanh": 3.0}
TOLERANCE = {"float64": 1e-9, "float32": 2e-3}


@numba.njit(error_model="numpy", fastmath={"nsz", "contract"})
def _apply(z, out, which):
    for k in range(z.size):
        if which == 0:
            out[k] = fastmath.exp(z[k])
        elif which == 1:
            out[k] = fastmath.sigmoid(z[k])
        else:
            out[k] = fastmath.tanh(z[k])


def _fast(name: str, z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z)
    _apply(z, out, list(ULP_BOUND).index(name))
    return out


def _exact(name: str, z: np.ndarray) -> np.ndarray:
    """Extended-precision (x87 long double) values of the functions."""
    zl = z.astype(np.longdouble)
    with np.errstate(over="ignore"):
        if name == "exp":
            return np.exp(zl)
        if name == "sigmoid":
            return 1 / (1 + np.exp(-zl))
        return np.tanh(zl)


def _reference_run(pop: Population, genomes, x, **kwargs):
    """Population.run with the generic kernel (the fast plan switched off)."""
    original = fast_kernels.plan
    fast_kernels.plan = lambda layout, dtype, n_pop, n_batch: None
    try:
        return pop.run(genomes, x, **kwargs)
    finally:
        fast_kernels.plan = original


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(ULP_BOUND))
def test_fastmath_within_ulp_bound_of_extended_precision(name, dtype):
    rng = np.random.default_rng(0)
    span = 700.0 if dtype == "float64" else 85.0
    z = np.concatenate([rng.uniform(-span, span, 400_000), rng.normal(0, 4, 400_000),
                        rng.uniform(-1, 1, 400_000), rng.normal(0, 1e-4, 40_000)]).astype(dtype)
    exact = _exact(name, z)
    rounded = exact.astype(dtype)
    normal = np.abs(rounded) >= np.finfo(dtype).tiny
    ulps = np.abs(_fast(name, z).astype(np.longdouble) - exact) / np.spacing(np.abs(rounded))
    assert np.max(ulps[normal]) <= ULP_BOUND[name]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_expm1_coefficients_are_mpmaths_chebyshev_fit(dtype):
    def q(r):  # (e^r - 1 - r) / r², 1/2 at 0
        return mpmath.mpf(1) / 2 if r == 0 else (mpmath.expm1(r) - r) / r**2

    stored = fastmath.EXPM1_Q[dtype]
    with mpmath.workdps(50):
        half_range = mpmath.log(2) / 2 * mpmath.mpf("1.0001")
        fitted = mpmath.chebyfit(q, [-half_range, half_range], len(stored))[::-1]
    np.testing.assert_allclose(stored, [float(c) for c in fitted], rtol=1e-15)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fastmath_saturates_and_propagates_nan(dtype):
    tiny = np.finfo(dtype).smallest_subnormal
    z = np.array([-1000, 1000, -np.inf, np.inf, np.nan, -0.0, tiny, -tiny], dtype)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(_fast("exp", z), np.exp(z))
    np.testing.assert_array_equal(_fast("sigmoid", z)[:5], [0, 1, 0, 1, np.nan])
    np.testing.assert_array_equal(_fast("sigmoid", z)[5:], [0.5, 0.5, 0.5])
    tanh = _fast("tanh", z)
    np.testing.assert_array_equal(tanh, np.tanh(z))
    assert np.signbit(tanh[5]) and np.signbit(tanh[7])


CASES = [  # (cell, hidden, layers, batch, n_generate, keep_hidden)
    ("lstm", 4, 1, 1, 0, False),
    ("lstm", 16, 2, 3, 5, True),
    ("gru", 4, 2, 2, 5, True),
    ("gru", 20, 1, 1, 0, True),
    ("peephole", 4, 1, 2, 0, True),
    ("cifg", 16, 1, 1, 3, False),
    ("nog", 4, 2, 1, 0, False),
    ("lstm1997", 20, 1, 2, 0, True),
    ("niaf", 4, 1, 1, 0, False),
    ("mut2", 4, 1, 1, 0, False),  # reference fallback
    ("mut3", 4, 1, 1, 0, False),
    ({"family": "gru", "reset_after": False, "update_keeps_state": False}, 8, 2, 2, 4, True),
    ("elman", 4, 2, 2, 3, True),
    ({"bias": False}, 4, 2, 2, 0, True),
    ({"bias": False}, 16, 2, 2, 3, True),  # the standard LSTM's own row loop, no biases
    ({"family": "gru", "bias": False}, 20, 1, 1, 2, False),
    ("fully_recurrent", 4, 2, 1, 3, True),  # reference fallback (outputs are units)
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-H{c[1]}-L{c[2]}")
def test_fast_kernel_equals_reference_kernel(case, dtype):
    cell, hidden, layers, batch, n_generate, keep = case
    pop = Population(cell, 1, hidden, 1, layers=layers, dtype=dtype)
    rng = np.random.default_rng(1)
    genomes = rng.normal(0, 0.5, (5, pop.n_params))
    x = rng.normal(size=(batch, 100, 1))
    state = rng.normal(0, 0.5, pop.initial_state(5, batch).shape)
    kwargs = dict(n_generate=n_generate, keep_hidden=keep, state=state)
    fast = pop.run(genomes, x, **kwargs)
    reference = _reference_run(pop, genomes, x, **kwargs)
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(fast.outputs, reference.outputs, rtol=tol, atol=tol)
    np.testing.assert_allclose(fast.state, reference.state, rtol=tol, atol=tol)
    if keep:
        np.testing.assert_allclose(fast.hidden, reference.hidden, rtol=tol, atol=tol)
    else:
        assert fast.hidden is None


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden", [4, 40])
def test_results_do_not_depend_on_population_size_or_threads(hidden, dtype):
    pop = Population("lstm", 1, hidden, 1, dtype=dtype)
    rng = np.random.default_rng(2)
    genomes = rng.normal(0, 0.5, (300, pop.n_params))
    x = rng.normal(size=(2, 50, 1))
    whole = pop.run(genomes, x, keep_hidden=True, jobs=2)  # H = 4: wide lane blocks
    for n_pop in (1, 7, 33, 150):  # H = 4: rows (P < 16), then 32 lanes
        part = pop.run(genomes[:n_pop], x, keep_hidden=True, jobs=1)
        np.testing.assert_array_equal(part.outputs, whole.outputs[:n_pop])
        np.testing.assert_array_equal(part.hidden, whole.hidden[:n_pop])
        np.testing.assert_array_equal(part.state, whole.state[:n_pop])


LAYOUT_CASES = [  # (cell, hidden, layers, batch, n_generate): odd H leave scalar remainders
    ("lstm", 1, 1, 1, 0),
    ("lstm", 3, 2, 3, 4),
    ("lstm", 5, 1, 2, 0),
    ("lstm", 12, 2, 1, 3),
    ("lstm", 16, 1, 3, 0),
    ("gru", 6, 2, 2, 3),
    ("peephole", 3, 1, 2, 0),
    ("cifg", 5, 1, 1, 2),
    ("nfg", 6, 1, 2, 0),
    ("lstm1997", 4, 1, 1, 0),
    ({"family": "gru", "reset_after": False, "update_keeps_state": False}, 5, 2, 2, 4),
    ({"bias": False}, 5, 2, 2, 0),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", LAYOUT_CASES, ids=lambda c: f"{c[0]}-H{c[1]}-L{c[2]}-B{c[3]}")
def test_rows_and_lane_blocks_give_the_same_bits(case, dtype):
    """One-genome blocks and lane blocks run each genome's operations in the same order, so
    the layout can be chosen for speed alone (`lanes_for`)."""
    cell, hidden, layers, batch, n_generate = case
    pop = Population(cell, 1, hidden, 1, layers=layers, dtype=dtype)
    rng = np.random.default_rng(5)
    weights = kernels.kernel_genomes(rng.normal(0, 0.5, (5, pop.n_params)), pop.layout)
    x = rng.normal(size=(batch, 40, 1)).astype(dtype)
    state = rng.normal(0, 0.5, pop.initial_state(5, batch).shape).astype(dtype)
    results = []
    for lanes in (1, fast_kernels.LANES, fast_kernels.WIDE_LANES):
        final = state.copy()
        outputs = np.empty((5, batch, 40 + n_generate, 1), dtype)
        hidden_states = np.empty((5, batch, 40 + n_generate, hidden), dtype)
        fast_kernels.FastPlan(pop.layout, np.dtype(dtype), lanes).simulate(
            weights, x, n_generate, final, outputs, hidden_states)
        results.append((outputs, hidden_states, final))
    for other in results[1:]:
        for got, expected in zip(other, results[0], strict=True):
            np.testing.assert_array_equal(got, expected)


def test_nan_genome_gives_nan_outputs_and_leaves_lane_neighbours_alone():
    pop = Population("lstm", 1, 4, 1)
    rng = np.random.default_rng(3)
    genomes = rng.normal(0, 0.5, (3, pop.n_params))
    x = rng.normal(size=(1, 20, 1))
    clean = pop.predict(genomes, x)
    genomes[1, 0] = np.nan
    dirty = pop.predict(genomes, x)
    assert np.isnan(dirty[1]).all()
    np.testing.assert_array_equal(dirty[[0, 2]], clean[[0, 2]])


def test_layout_is_chosen_from_hidden_size_dtype_population_and_batch():
    lanes_for = fast_kernels.lanes_for
    assert lanes_for(4, "float64", 255, 1) == fast_kernels.LANES
    assert lanes_for(12, "float32", 100, 32) == fast_kernels.LANES
    assert lanes_for(4, "float64", 256, 32) == fast_kernels.WIDE_LANES
    assert lanes_for(16, "float32", 256, 1) == fast_kernels.WIDE_LANES
    assert lanes_for(4, "float64", 15, 1) == 1  # under half a block: rows
    assert lanes_for(16, "float64", 1000, 1) == 1  # above LANE_MAX_HIDDEN
    assert lanes_for(17, "float32", 1000, 1) == 1
    assert lanes_for(8, "float64", 256, 3) == 1  # whole vectors and a batch: rows
    assert lanes_for(16, "float32", 256, 32) == 1
    assert lanes_for(8, "float64", 256, 2) == fast_kernels.WIDE_LANES


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden", [4, 8, 16])
def test_a_batch_gives_each_sequence_what_it_gives_alone(hidden, dtype):
    """Weights are reused across the sequences of a batch; the sequences do not mix (at H = 8
    float64 and H = 16 float32 the batch runs in rows, a sequence alone in lane blocks)."""
    pop = Population("lstm", 1, hidden, 1, layers=2, dtype=dtype)
    rng = np.random.default_rng(4)
    genomes = rng.normal(0, 0.5, (20, pop.n_params))
    x = rng.normal(size=(5, 30, 1))
    batch = pop.run(genomes, x, keep_hidden=True)
    for b in range(x.shape[0]):
        alone = pop.run(genomes, x[b : b + 1], keep_hidden=True)
        np.testing.assert_array_equal(alone.outputs[:, 0], batch.outputs[:, b])
        np.testing.assert_array_equal(alone.hidden[:, 0], batch.hidden[:, b])
