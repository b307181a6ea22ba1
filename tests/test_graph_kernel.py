"""The graph interpreter: one Numba kernel for every cell graph.

It is checked against the NumPy reference evaluator (itself checked against the fixed
kernels and PyTorch in test_graph.py) and against the fixed kernels directly.
"""

from __future__ import annotations

import numpy as np
import pytest

import evolstm
from evolstm.cells.graph import kernel
from evolstm.cells.graph.named import names as graph_names
from evolstm.cells.graph.reference import evaluate
from evolstm.errors import EvolstmError
from test_graph import CELLS, close, random_graph_topologies

N_STEPS = 100


@pytest.mark.parametrize("cell", [*CELLS, *graph_names(), *random_graph_topologies(8, seed=3)],
                         ids=lambda c: c if isinstance(c, str) else "random")
def test_interpreter_equals_reference_evaluator_and_fixed_kernels(cell, rng):
    n_in, n_hidden, n_out, layers, n_batch = 3, 5, 2, 2, 2
    pop = evolstm.Population(evolstm.cells.graph(cell), n_in, n_hidden, n_out, layers=layers)
    genomes = rng.normal(0.0, 0.5 if isinstance(cell, str) else 0.25, (3, pop.n_params))
    x = rng.normal(size=(n_batch, N_STEPS, n_in))

    run = pop.run(genomes, x, keep_hidden=True)

    for p in range(3):
        y, h, final = evaluate(pop.layout, genomes[p], x)
        assert close(run.outputs[p], y) and close(run.hidden[p], h) and close(run.state[p], final)
    if cell not in graph_names():
        fixed = evolstm.Population(cell, n_in, n_hidden, n_out, layers=layers).run(genomes, x)
        assert close(run.outputs, fixed.outputs)


def test_graph_population_takes_a_graph_its_dict_or_a_graph_name(rng):
    graph = evolstm.cells.graph("gru")
    pops = [evolstm.Population(spec, 2, 4, 1) for spec in (graph, graph.to_dict(), "nas")]
    topo = evolstm.Population("gru", 2, 4, 1)
    genome = rng.normal(size=topo.n_params)
    x = rng.normal(size=(1, 20, 2))

    assert pops[0].n_params == pops[1].n_params == topo.n_params
    assert np.array_equal(pops[0].predict(genome, x), pops[1].predict(genome, x))
    assert close(pops[0].predict(genome, x), topo.predict(genome, x))
    assert pops[2].graph == evolstm.cells.graph("nas") and pops[2].topology is None
    assert "nas" in repr(pops[2])
    with pytest.raises(EvolstmError, match="cycle"):
        bad = graph.to_dict()
        bad["nodes"][0]["inputs"] = ["h_t"]
        evolstm.Population(bad, 2, 4, 1)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n_hidden", [3, 16])
def test_results_do_not_depend_on_population_size_layout_or_threads(n_hidden, dtype, rng):
    pop = evolstm.Population("nas", 2, n_hidden, 2, dtype=dtype)
    genomes = rng.normal(0.0, 0.5, (70, pop.n_params)).astype(dtype)
    x = rng.normal(size=(2, 30, 2)).astype(dtype)  # B <= 2: lanes for H = 16 in float32

    whole = pop.run(genomes, x, keep_hidden=True)  # lanes where H is small: P fills them
    threads = pop.run(genomes, x, keep_hidden=True, jobs=2)
    few = pop.run(genomes[:3], x, keep_hidden=True)  # one genome a block
    alone = pop.run(genomes[5:6], x[1:2], keep_hidden=True)  # and one sequence

    assert whole.outputs.dtype == np.dtype(dtype)
    assert np.array_equal(whole.outputs, threads.outputs)
    assert np.array_equal(whole.hidden, threads.hidden)
    assert np.array_equal(whole.outputs[:3], few.outputs)
    assert np.array_equal(whole.hidden[:3], few.hidden)
    assert np.array_equal(whole.state[:3], few.state)
    assert np.array_equal(whole.outputs[5:6, 1:2], alone.outputs)


def test_float32_follows_float64(rng):
    pops = {dt: evolstm.Population(evolstm.cells.graph("lstm"), 2, 6, 1, dtype=dt)
            for dt in ("float32", "float64")}
    genomes = rng.normal(0.0, 0.5, (4, pops["float64"].n_params))
    x = rng.normal(size=(2, 50, 2))

    y32 = pops["float32"].predict(genomes, x)
    y64 = pops["float64"].predict(genomes, x)

    assert y32.dtype == np.float32
    assert np.allclose(y32, y64, atol=1e-4)


def test_a_new_graph_compiles_nothing(rng):
    x = rng.normal(size=(1, 10, 2))
    for name in ("lstm", "nas", "mut2"):  # the first may compile (or load) the kernel
        pop = evolstm.Population(evolstm.cells.graph(name), 2, 4, 1)
        pop.predict(rng.normal(size=(2, pop.n_params)), x)
        if name == "lstm":
            count = len(kernel.simulate.signatures)

    assert len(kernel.simulate.signatures) == count


def test_closed_loop_and_resumed_runs_follow_the_graph(rng):
    pop = evolstm.Population("nas", 1, 4, 1, layers=2)
    genome = rng.normal(0.0, 0.5, pop.n_params)
    x = rng.normal(size=(2, 20, 1))

    run = pop.run(genome, x, n_generate=5)
    fed = np.concatenate([x, run.outputs[0, :, 19:24]], axis=1)  # each step's input: last output
    y, _, _ = evaluate(pop.layout, genome, fed)
    first = pop.run(genome, x[:, :8])
    rest = pop.run(genome, x[:, 8:], state=first.state)

    assert close(run.outputs[0], y)
    assert np.array_equal(np.concatenate([first.outputs, rest.outputs], axis=2),
                          pop.run(genome, x).outputs)
    assert rest.state.shape == (1, 2, 2, 2 * 4)  # (P, B, L, states · H)


def test_evolino_hidden_states_go_into_the_callers_array(rng):
    pop = evolstm.Population("nas", 1, 4, 1)
    genomes = rng.normal(0.0, 0.5, (3, pop.n_params))
    x = rng.normal(size=(2, 15, 1))
    out = np.empty((3, 2, 15, 4))

    hidden = pop.states(genomes, x, out=out)

    assert hidden is out
    assert close(out[1], evaluate(pop.layout, genomes[1], x)[1])
