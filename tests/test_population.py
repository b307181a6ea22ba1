"""`Population` and `Cell` semantics: determinism, dtypes, generation, stepping, states."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evolstm
from evolstm.cells import population
from evolstm.cells.population import CHUNKS_PER_THREAD, block_chunks
from evolstm.errors import EvolstmError

POP = evolstm.Population("peephole", n_in=2, n_hidden=6, n_out=2, layers=2)


def genomes_and_inputs(pop, rng, n_genomes=7, n_batch=3, n_steps=20):
    genomes = rng.normal(0.0, 0.4, (n_genomes, pop.n_params))
    x = rng.normal(size=(n_batch, n_steps, pop.n_in))
    return genomes, x


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


# 40 genomes span two SIMD blocks where small cells share one (fast_kernels' lane layout),
# and one genome alone runs in the one-genome-per-block layout; fgr takes the graph interpreter.
@pytest.mark.parametrize(("variant", "n_hidden"), [("peephole", 6), ("gru", 12), ("fgr", 3)])
def test_outputs_do_not_depend_on_population_jobs_or_chunk(variant, n_hidden, rng):
    pop = evolstm.Population(variant, n_in=2, n_hidden=n_hidden, n_out=2, layers=2)
    genomes, x = genomes_and_inputs(pop, rng, n_genomes=40)
    alone = [pop.predict(genome[None], x)[0] for genome in genomes]

    for jobs in (1, 2, -1):
        together = pop.predict(genomes, x, jobs=jobs)
        reversed_order = pop.predict(genomes[::-1], x, jobs=jobs)[::-1]
        for p, output in enumerate(alone):
            assert np.array_equal(together[p], output)
            assert np.array_equal(reversed_order[p], output)


@given(n_items=st.integers(1, 300), block=st.sampled_from([1, 32]),
       n_threads=st.integers(2, 8))
def test_thread_chunks_cover_the_population_in_whole_blocks(n_items, block, n_threads):
    chunks = block_chunks(n_items, block, n_threads)
    assert [i for part in chunks for i in range(n_items)[part]] == list(range(n_items))
    assert all(part.start % block == 0 for part in chunks)
    assert len(chunks) <= CHUNKS_PER_THREAD * n_threads


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no thread affinity here")
def test_simulation_threads_are_pinned_to_cpus_of_their_own():
    cpus = sorted(os.sched_getaffinity(0))
    n_threads = min(2, len(cpus))
    pool = population._pool(n_threads)
    barrier = threading.Barrier(n_threads)  # every task on a thread of its own

    def affinity(_):
        barrier.wait(timeout=10)
        return frozenset(os.sched_getaffinity(0))

    pinned = set(pool.map(affinity, range(n_threads)))
    assert len(pinned) == n_threads
    assert all(len(mask) == 1 and mask <= set(cpus) for mask in pinned)
    assert sorted(os.sched_getaffinity(0)) == cpus  # the calling thread is left alone


def test_float32_population_computes_in_float32(rng):
    pop32 = evolstm.Population("peephole", 2, 6, 2, layers=2, dtype="float32")
    genomes, x = genomes_and_inputs(POP, rng)
    genomes, x = genomes.astype(np.float32), x.astype(np.float32)

    y32 = pop32.predict(genomes, x)
    y64 = POP.predict(genomes.astype(np.float64), x.astype(np.float64))

    assert y32.dtype == np.float32
    assert pop32.states(genomes, x).dtype == np.float32
    error = np.max(np.abs(y32 - y64))
    assert 0 < error < 1e-4
    # A float64 computation rounded at the end would give these numbers exactly.
    assert not np.array_equal(y32, y64.astype(np.float32))


def test_generate_feeds_back_outputs_from_the_last_primed_step(rng):
    cell = evolstm.Cell(POP, rng.normal(0.0, 0.4, POP.n_params))
    x = rng.normal(size=(15, 2))
    n_steps = 8

    generated = cell.generate(x, n_steps)

    state = None
    for x_t in x:
        y, state = cell.step(x_t, state)
    manual = []
    for _ in range(n_steps):
        y, state = cell.step(y[0], state)
        manual.append(y[0])
    assert generated.shape == (n_steps, 2)
    assert np.array_equal(generated, np.array(manual))
    # the same as teacher forcing with the last primed output, then the generated ones
    last_primed = cell.predict(x)[0, -1:]
    teacher_forced = np.concatenate([x, last_primed, generated[:-1]])
    assert np.allclose(cell.predict(teacher_forced)[0, len(x) :], generated, rtol=0, atol=1e-12)


@pytest.mark.parametrize("variant", ["lstm", "fully_recurrent"])  # the latter: outputs in state
def test_step_by_step_equals_predict(variant, rng):
    population = evolstm.Population(variant, n_in=2, n_hidden=3, n_out=2)
    cell = evolstm.Cell(population, rng.normal(0.0, 0.4, population.n_params))
    x = rng.normal(size=(3, 12, 2))

    state, steps = None, []
    for t in range(x.shape[1]):
        y, state = cell.step(x[:, t], state)
        steps.append(y)

    assert y.shape == (3, 2)
    assert np.array_equal(np.stack(steps, axis=1), cell.predict(x))


def test_run_resumes_from_a_returned_state(rng):
    genomes, x = genomes_and_inputs(POP, rng)
    first = POP.run(genomes, x[:, :9])

    second = POP.run(genomes, x[:, 9:], state=first.state)

    whole = POP.predict(genomes, x)
    assert np.array_equal(np.concatenate([first.outputs, second.outputs], axis=2), whole)


def test_lstm_states_are_the_hidden_sequence(rng):
    # nn.LSTM's equations (gate order i, f, g, o), by hand for one layer.
    pop = evolstm.Population("lstm", n_in=2, n_hidden=4, n_out=3)
    cell = evolstm.Cell(pop, rng.normal(0.0, 0.5, pop.n_params))
    x = rng.normal(size=(2, 10, 2))
    w = cell.arrays()

    states = cell.states(x)

    assert states.shape == (2, 10, 4)
    for b in range(2):
        h, c = np.zeros(4), np.zeros(4)
        for t in range(10):
            a = w["weight_ih_l0"] @ x[b, t] + w["bias_ih_l0"] + w["weight_hh_l0"] @ h
            i, f, g, o = np.split(a + w["bias_hh_l0"], 4)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
            assert np.allclose(states[b, t], h, rtol=0, atol=1e-12)
    readout = states @ w["readout_weight"].T + w["readout_bias"]
    assert np.allclose(cell.predict(x), readout, rtol=0, atol=1e-12)


# lstm H = 4: genomes in SIMD lanes; H = 24: one genome per block; fgr: the reference kernel.
@pytest.mark.parametrize(("variant", "n_hidden", "dtype"),
                         [("lstm", 4, "float32"), ("lstm", 24, "float64"), ("fgr", 3, "float64")])
def test_hidden_out_receives_the_same_bits_call_after_call(variant, n_hidden, dtype, rng):
    pop = evolstm.Population(variant, n_in=1, n_hidden=n_hidden, n_out=1, dtype=dtype)
    buffer = np.full((40, 2, 15 + 5, n_hidden), np.nan, dtype)  # 5 closed-loop steps
    for _ in range(2):  # the second call writes over the first one's states
        genomes, x = genomes_and_inputs(pop, rng, n_genomes=40, n_batch=2, n_steps=15)
        fresh = pop.run(genomes, x, n_generate=5, keep_hidden=True, jobs=2)

        reused = pop.run(genomes, x, n_generate=5, hidden_out=buffer, jobs=2)

        assert reused.hidden is buffer
        assert np.array_equal(reused.hidden, fresh.hidden)
        assert np.array_equal(reused.outputs, fresh.outputs)
    shorter = buffer[:, :, :10].copy()
    assert pop.states(genomes, x[:, :10], out=shorter) is shorter
    assert np.array_equal(shorter, fresh.hidden[:, :, :10])  # the first 10 steps read x


@pytest.mark.parametrize(
    "call",
    [
        lambda: POP.predict(np.zeros((2, POP.n_params + 1)), np.zeros((1, 3, 2))),
        lambda: POP.predict(np.zeros((2, POP.n_params)), np.zeros((1, 3, 3))),
        lambda: POP.predict(np.zeros((2, POP.n_params)), np.zeros((1, 3, 2)), jobs=0),
        lambda: evolstm.Population("lstm", 1, 2, 3).generate(np.zeros(17), np.zeros((4, 1)), 3),
        lambda: POP.unflatten(np.zeros(POP.n_params - 1)),
        lambda: evolstm.Population("lstm", 1, 0, 1),
        lambda: evolstm.Population("lstm", 1, 2, 1, dtype="float16"),
        lambda: POP.states(np.zeros((2, POP.n_params)), np.zeros((1, 3, 2)),
                           out=np.zeros((2, 1, 3, 5))),  # H is 6
        lambda: POP.states(np.zeros((2, POP.n_params)), np.zeros((1, 3, 2)),
                           out=np.zeros((2, 1, 3, 6), np.float32)),
        lambda: POP.states(np.zeros((2, POP.n_params)), np.zeros((1, 3, 2)),
                           out=np.zeros((2, 1, 6, 3)).transpose(0, 1, 3, 2)),
        lambda: POP.states(np.zeros((2, POP.n_params)), np.zeros((1, 3, 2)),
                           out=[[[[0.0] * 6] * 3]] * 2),
    ],
)
def test_bad_arguments_raise_evolstm_error(call):
    with pytest.raises(EvolstmError):
        call()


@settings(max_examples=30, deadline=None)
@given(
    variant=st.sampled_from(evolstm.cells.names()),
    sizes=st.tuples(*(st.integers(1, 3) for _ in range(6))),
    layers=st.integers(1, 2),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_small_shape_gives_finite_outputs_and_round_trips(variant, sizes, layers, seed):
    n_pop, n_batch, n_steps, n_in, n_hidden, n_out = sizes
    if evolstm.cells.topology(variant)["readout"] == "units":  # outputs are hidden units
        n_hidden = max(n_hidden, n_out)
    pop = evolstm.Population(variant, n_in, n_hidden, n_out, layers=layers)
    rng = np.random.default_rng(seed)
    genomes = rng.normal(0.0, 1.0, (n_pop, pop.n_params))
    x = rng.normal(size=(n_batch, n_steps, n_in))

    run = pop.run(genomes, x, keep_hidden=True)

    assert run.outputs.shape == (n_pop, n_batch, n_steps, n_out)
    assert run.hidden.shape == (n_pop, n_batch, n_steps, n_hidden)
    assert np.all(np.isfinite(run.outputs))
    arrays = pop.unflatten(genomes[0])
    assert np.array_equal(pop.flatten(arrays), genomes[0])
    assert sum(a.size for a in arrays.values()) == pop.n_params


def _reference_kernel_run(pop, *args, **kwargs):
    """pop.run with the interpreter route switched off (the reference kernel runs it)."""
    pop.__dict__["_interpreted"] = None
    try:
        return pop.run(*args, **kwargs)
    finally:
        del pop.__dict__["_interpreted"]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), layers=st.integers(1, 2),
       dtype=st.sampled_from(["float64", "float32"]), jobs=st.sampled_from([1, 2]))
def test_topologies_without_a_fast_kernel_run_on_the_interpreter_as_on_the_reference(
        seed, layers, dtype, jobs):
    from evolstm.archsearch.sampling import sample
    from evolstm.archsearch.space import Space

    rng = np.random.default_rng(seed)
    pop = evolstm.Population(sample(rng, Space()), n_in=2, n_hidden=3, n_out=2,
                             layers=layers, dtype=dtype)
    if pop.engine != "interpreter":
        return
    genomes, x = genomes_and_inputs(pop, rng, n_genomes=9, n_steps=12)
    state = rng.normal(size=(9, 3, layers, pop.state_width))
    got = pop.run(genomes, x, n_generate=3, state=state, jobs=jobs, keep_hidden=True)
    want = _reference_kernel_run(pop, genomes, x, n_generate=3, state=state, keep_hidden=True)
    tolerance = 1e-11 if dtype == "float64" else 1e-4
    for a, b in ((got.outputs, want.outputs), (got.hidden, want.hidden),
                 (got.state, want.state)):  # the state: a GRU's unused c slot too
        np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)


def test_each_population_says_which_kernel_runs_it():
    assert evolstm.Population("lstm", 1, 4, 1).engine == "fast"
    assert evolstm.Population("fgr", 1, 4, 1).engine == "interpreter"
    assert evolstm.Population("nas", 1, 4, 1).engine == "interpreter"
    assert evolstm.Population("fully_recurrent", 1, 4, 1).engine == "reference"  # units
    no_graph = {"family": "lstm", "input_gate": False, "forget_gate": False,
                "output_gate": False, "h_modes": {"g": "none"}}  # h is read by nothing
    assert evolstm.Population(no_graph, 1, 4, 1).engine == "reference"
