"""Algorithms: determinism, exact replay, and that each one solves what it should.

Parametrised over `evolstm.algorithms.ALGORITHMS`, so a registered algorithm is tested.
Fitness is minimised throughout.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from evolstm.algorithms import ALGORITHMS
from evolstm.algorithms.cosyne import CoSyNE
from evolstm.algorithms.esp import ESP, neuron_groups
from evolstm.algorithms.evolino import Evolino
from evolstm.cells import Layout, Population, resolve
from evolstm.options import build

# Every registered algorithm with its defaults, plus configured variants worth pinning.
SETUPS = [(name, {}) for name in ALGORITHMS.names()] + [
    ("evolino", {"evolver": "cmaes"}),
    ("cmaes", {"stagnation": 3, "restarts": 2}),
    ("evolino", {"evolver": "cmaes", "sep": True, "restarts": 2}),
    ("esp", {"recombination": "mutation", "noise": "normal", "stagnation": 1}),
    ("cosyne", {"permutation": "all", "noise": "normal"}),
    ("ga", {"selection": "best", "crossover": "sbx", "mutation": "polynomial", "elite_count": 0}),
    ("ga", {"crossover": "two_point"}),
    ("ga", {"selection": "random", "crossover": "uniform"}),
]
IDS = [f"{name}-{'-'.join(map(str, table.values())) or 'defaults'}" for name, table in SETUPS]


def make(name: str, table: dict, n_params: int, seed: int, init_scale: float = 1.0):
    cls = ALGORITHMS.get(name)
    return cls(build(cls.Options, table, "algorithm"), n_params, seed, init_scale)


def sphere(genomes: np.ndarray) -> np.ndarray:
    return np.sum(genomes**2, axis=1)


def rosenbrock(genomes: np.ndarray) -> np.ndarray:
    x = genomes
    return np.sum(100.0 * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (1.0 - x[:, :-1]) ** 2, axis=1)


def noisy_sphere(genomes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sphere plus noise: a replay can only match by using the recorded fitnesses."""
    return sphere(genomes) + rng.normal(0.0, 0.1, len(genomes))


def minimise(algorithm, fitness, budget: int, threshold: float) -> tuple[int, float]:
    """Ask/tell until the best fitness <= threshold or budget evaluations; (evaluations, best)."""
    evaluations, best = 0, np.inf
    while evaluations < budget and best > threshold:
        genomes = algorithm.ask()
        scores = fitness(genomes)
        evaluations += len(genomes)
        best = min(best, float(scores.min()))
        algorithm.tell(genomes, scores)
    return evaluations, best


# -- contract: determinism and replay ---------------------------------------------------------
@pytest.mark.parametrize(("name", "table"), SETUPS, ids=IDS)
def test_same_seed_same_populations_whatever_global_random_does(name, table):
    first, second = make(name, table, 12, seed=7), make(name, table, 12, seed=7)
    for generation in range(6):
        random.seed(generation)  # other code using the global generators
        np.random.seed(generation)  # noqa: NPY002
        a, b = first.ask(), second.ask()
        assert a.dtype == np.float64 and a.ndim == 2 and a.shape[1] == 12
        np.testing.assert_array_equal(a, b)
        fitness = sphere(a)
        assert first.tell(a, fitness).keys() == second.tell(b, fitness.copy()).keys()


@pytest.mark.parametrize(("name", "table"), SETUPS, ids=IDS)
def test_replay_of_recorded_fitnesses_asks_the_same_next_population(name, table, rng):
    original = make(name, table, 10, seed=3)
    recorded, columns = [], set()
    for _ in range(5):
        genomes = original.ask()
        fitness = noisy_sphere(genomes, rng)
        recorded.append(fitness)
        columns.add(tuple(original.tell(genomes, fitness)))
    assert len(columns) == 1  # the same history columns every generation
    replayed = make(name, table, 10, seed=3)
    for fitness in recorded:
        replayed.tell(replayed.ask(), fitness)
    np.testing.assert_array_equal(replayed.ask(), original.ask())


@pytest.mark.parametrize(("name", "table"), SETUPS, ids=IDS)
def test_different_seeds_give_different_populations(name, table):
    assert not np.array_equal(make(name, table, 8, seed=1).ask(), make(name, table, 8, 2).ask())


@pytest.mark.parametrize("name", ["ga", "evolino"])
def test_global_random_states_are_left_untouched(name):
    algorithm = make(name, {"evolver": "cmaes"} if name == "evolino" else {}, 6, seed=0)
    python_state, numpy_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    for _ in range(3):
        genomes = algorithm.ask()
        algorithm.tell(genomes, sphere(genomes))
    assert random.getstate() == python_state
    after = np.random.get_state()  # noqa: NPY002
    np.testing.assert_array_equal(after[1], numpy_state[1])
    assert after[2] == numpy_state[2]


# -- they solve what they should --------------------------------------------------------------
# Options for the 10-d sphere where the defaults are meant for networks (ESP's Cauchy α = 0.3
# on one-weight "neurons" cannot reach 1e-2).
SPHERE_OPTIONS = {
    "esp": {"subpopulation_size": 20, "trials": 5, "mutation_scale": 0.05, "burst_scale": 0.05},
}


@pytest.mark.parametrize("name", ALGORITHMS.names())
def test_reaches_the_sphere_minimum(name):
    if ALGORITHMS.get(name).fits_readout:
        pytest.skip("the readout is fitted by the task: see the Evolino test")
    algorithm = make(name, SPHERE_OPTIONS.get(name, {}), 10, seed=1)
    evaluations, best = minimise(algorithm, sphere, budget=20_000, threshold=1e-2)
    assert best <= 1e-2, f"{name}: best {best:.3g} after {evaluations} evaluations"


@pytest.mark.skipif("cmaes" not in ALGORITHMS.names(), reason="CMA-ES is not registered")
def test_cmaes_reaches_the_rosenbrock_minimum():
    algorithm = make("cmaes", {}, 6, seed=1, init_scale=0.5)
    evaluations, best = minimise(algorithm, rosenbrock, budget=20_000, threshold=1e-6)
    assert best <= 1e-6, f"best {best:.3g} after {evaluations} evaluations"


def _sign_memory():
    """An LSTM (1 in, 2 hidden, 1 out) must output the sign of its first input for 10 steps."""
    population = Population("lstm", 1, 2, 1)
    x = np.zeros((2, 10, 1))
    x[:, 0, 0] = [1.0, -1.0]
    target = np.repeat([[1.0], [-1.0]], 10, axis=1)

    def fitness(genomes: np.ndarray) -> np.ndarray:
        outputs = population.predict(genomes, x)[..., 0]
        return np.mean((outputs - target) ** 2, axis=(1, 2))

    return population, fitness


@pytest.mark.parametrize("name", ["esp", "cosyne"])
def test_evolves_an_lstm_that_remembers_the_sign_of_its_first_input(name):
    population, fitness = _sign_memory()
    algorithm = make(name, {}, population.n_params, seed=1, init_scale=0.5)
    algorithm.bind(population.layout)  # ESP: one subpopulation per hidden unit
    evaluations, best = minimise(algorithm, fitness, budget=20_000, threshold=1e-2)
    assert best <= 1e-2, f"{name}: mse {best:.3g} after {evaluations} evaluations"


def _delay_regression(n_hidden: int):
    """Evolino's fitness on a toy task: y(t) = u(t - 2), readout by least squares (lstsq)."""
    population = Population("lstm", 1, n_hidden, 1)
    u = np.random.default_rng(0).uniform(-1.0, 1.0, size=(1, 60, 1))
    target = np.concatenate([[0.0, 0.0], u[0, :-2, 0]])
    readout = population.n_params - population.n_recurrent

    def fitness(recurrent: np.ndarray) -> np.ndarray:
        genomes = np.hstack([recurrent, np.zeros((len(recurrent), readout))])
        hidden = population.states(genomes, u)[:, 0]  # (P, T, H)
        design = np.concatenate([hidden, np.ones(hidden.shape[:2] + (1,))], axis=2)
        errors = []
        for states in design:
            weights = np.linalg.lstsq(states, target, rcond=None)[0]
            errors.append(np.mean((states @ weights - target) ** 2))
        return np.array(errors)

    return population, fitness


@pytest.mark.parametrize(
    ("table", "budget"),
    [({"subpopulation_size": 20, "trials": 5}, 6_000), ({"evolver": "cmaes"}, 2_000)],
    ids=["esp", "cmaes"],
)
def test_evolino_halves_the_fitted_readout_error_of_a_delay_line(table, budget):
    population, fitness = _delay_regression(n_hidden=3)
    algorithm = make("evolino", table, population.n_recurrent, seed=1, init_scale=0.5)
    assert algorithm.fits_readout and algorithm.ridge() == 0.0
    algorithm.bind(population.layout)
    initial = float(fitness(algorithm.ask()).min())
    evaluations, best = minimise(algorithm, fitness, budget=budget, threshold=initial / 2)
    assert best <= initial / 2, f"mse {initial:.3g} -> {best:.3g} in {evaluations} evaluations"


# -- pieces -----------------------------------------------------------------------------------
LAYOUTS = [
    ("lstm", 1, 3, 2, 1),
    ("peephole", 2, 3, 1, 1),
    ("fgr", 1, 4, 1, 1),
    ("cifg", 1, 2, 1, 1),
    ("gru", 3, 2, 2, 1),
    ("lstm", 2, 3, 1, 2),
]


@pytest.mark.parametrize(("cell", "n_in", "n_hidden", "n_out", "layers"), LAYOUTS)
@pytest.mark.parametrize("with_readout", [False, True])
def test_neuron_groups_partition_the_genome(cell, n_in, n_hidden, n_out, layers, with_readout):
    layout = Layout(resolve(cell), n_in, n_hidden, n_out, layers)
    groups = neuron_groups(layout, with_readout)
    size = layout.n_params if with_readout else layout.n_recurrent
    assert len(groups) == layers * n_hidden
    np.testing.assert_array_equal(np.sort(np.concatenate(groups)), np.arange(size))


@pytest.mark.parametrize("unit", [0, 2])
def test_neuron_group_holds_its_units_rows_in_every_gate_block(unit):
    """Unit u of a peephole LSTM owns rows u, u+H, u+2H, u+3H (i, f, g, o) of PyTorch's arrays."""
    layout = Layout(resolve("peephole"), 2, 3, 2)
    marks = np.zeros(layout.n_params)
    marks[neuron_groups(layout)[unit]] = 1.0
    arrays = layout.unflatten(marks)
    rows = np.arange(4 * 3) % 3 == unit
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        np.testing.assert_array_equal(arrays[name][rows], 1.0)
        np.testing.assert_array_equal(arrays[name][~rows], 0.0)
    for gate in "ifo":
        np.testing.assert_array_equal(arrays[f"peephole_{gate}_l0"], np.arange(3) == unit)
    np.testing.assert_array_equal(arrays["readout_weight"][:, unit], 1.0)
    assert arrays["readout_weight"].sum() == 2.0  # column u only, for both outputs


def test_lstm_neuron_size_is_four_gates_of_inputs_recurrence_and_two_biases():
    layout = Layout(resolve("lstm"), 3, 5, 1)
    sizes = {len(group) for group in neuron_groups(layout, with_readout=False)}
    assert sizes == {4 * (3 + 5 + 2)}


@pytest.mark.parametrize("name", ["esp", "evolino"])
def test_bind_makes_one_subpopulation_per_hidden_unit(name):
    population = Population("lstm", 2, 3, 1)
    cls = ALGORITHMS.get(name)
    n_params = population.n_recurrent if cls.fits_readout else population.n_params
    bound = make(name, {}, n_params, seed=5)
    bound.bind(population.layout)
    partitioned = make(name, {}, n_params, seed=5)
    partitioned.set_partition(neuron_groups(population.layout, with_readout=not cls.fits_readout))
    np.testing.assert_array_equal(bound.ask(), partitioned.ask())
    contiguous = make(name, {"subpopulations": 3}, n_params, seed=5)
    assert not np.array_equal(bound.ask(), contiguous.ask())


def test_esp_rejects_a_partition_that_misses_or_repeats_an_index():
    esp = make("esp", {}, 6, seed=0)
    with pytest.raises(ValueError, match="partition"):
        esp.set_partition([np.array([0, 1, 2]), np.array([2, 3, 4, 5])])
    esp.set_partition([np.array([0, 2, 4]), np.array([1, 3, 5])])
    esp.ask()
    with pytest.raises(RuntimeError):
        esp.set_partition([np.arange(6)])


def test_esp_networks_take_one_neuron_per_subpopulation_trials_times_each():
    options = ESP.Options(subpopulation_size=8, trials=3)
    esp = ESP(options, 6, seed=0, init_scale=1.0)
    groups = [np.array([0, 3]), np.array([1, 4]), np.array([2, 5])]
    esp.set_partition(groups)
    genomes = esp.ask()
    assert genomes.shape == (24, 6)
    for group in groups:
        neurons, counts = np.unique(genomes[:, group], axis=0, return_counts=True)
        assert len(neurons) == 8 and set(counts) == {3}


@pytest.mark.parametrize(
    ("table", "size", "trials"),
    [({"population": 40}, 4, 10), ({"population": 60, "subpopulation_size": 12}, 12, 5),
     ({"population": 24, "trials": 3}, 8, 3), ({}, 40, 10)],
)
def test_esp_population_is_the_networks_a_generation_size_times_trials(table, size, trials):
    options = build(ESP.Options, table, "algorithm")
    assert (options.subpopulation_size, options.trials) == (size, trials)
    esp = ESP(options, 6, seed=0, init_scale=1.0)
    esp.set_partition([np.array([0, 3]), np.array([1, 4]), np.array([2, 5])])
    genomes = esp.ask()
    assert len(genomes) == options.population == size * trials
    neurons, counts = np.unique(genomes[:, [0, 3]], axis=0, return_counts=True)
    assert len(neurons) == size and set(counts) == {trials}


def test_cosyne_permutation_probability_follows_the_paper():
    """p = 1 - ((f_max - f) / (f_max - f_min)) ** (1/n) (JMLR 2008, fitness minimised here)."""
    n_params = 400
    options = CoSyNE.Options(permutation="probabilistic")
    cosyne = CoSyNE(options, n_params, seed=0, init_scale=1.0)
    fitness = np.array([0.0, 0.5, 0.9, 1.0])
    marks = np.mean([cosyne._marks(fitness).mean(axis=1) for _ in range(50)], 0)
    expected = 1.0 - ((1.0 - fitness) / 1.0) ** (1.0 / n_params)
    np.testing.assert_allclose(marks, expected, atol=3e-3)
    assert marks[0] == 0.0  # the best network is never broken up


def test_cosyne_with_the_papers_permutation_keeps_the_best_network_intact():
    cosyne = make("cosyne", {"permutation": "probabilistic"}, 9, seed=4)
    genomes = cosyne.ask()
    fitness = sphere(genomes)
    cosyne.tell(genomes, fitness)
    best = genomes[np.argmin(fitness)]
    assert any(np.array_equal(row, best) for row in cosyne.ask())


@pytest.mark.parametrize(("name", "table"), SETUPS, ids=IDS)
def test_asking_again_before_tell_returns_the_same_population(name, table):
    algorithm = make(name, table, n_params=6, seed=2)
    first = algorithm.ask()
    np.testing.assert_array_equal(algorithm.ask(), first)
    algorithm.tell(first, sphere(first))
    assert not np.array_equal(algorithm.ask(), first)


def test_evolino_restarts_double_the_population_once_cma_es_stops():
    algorithm = make("evolino", {"evolver": "cmaes", "population": 6, "restarts": 1},
                     n_params=4, seed=0, init_scale=1.0)
    sizes = []
    while algorithm.stop() is None and len(sizes) < 2000:
        genomes = algorithm.ask()
        sizes.append(len(genomes))
        algorithm.tell(genomes, sphere(genomes))
    assert sizes[0] == 6 and sizes[-1] == 12 and sorted(set(sizes)) == [6, 12]
    assert algorithm.describe()["restarts_used"] == 1


def test_evolino_cma_es_starts_at_sigma0_or_the_cells_initial_scale():
    assert make("evolino", {"evolver": "cmaes"}, 5, 0, init_scale=0.3).describe()["sigma"] == 0.3
    given = make("evolino", {"evolver": "cmaes", "sigma0": 2.0}, 5, 0, init_scale=0.3)
    assert given.describe()["sigma"] == 2.0


def test_cmaes_restarts_after_stagnant_generations_and_stops_when_out_of_restarts():
    algorithm = make("cmaes", {"population": 6, "stagnation": 5, "restarts": 1}, 4, seed=0)
    sizes, rng = [], np.random.default_rng(0)
    while algorithm.stop() is None and len(sizes) < 100:
        genomes = algorithm.ask()
        sizes.append(len(genomes))  # every generation worse than the one before it
        algorithm.tell(genomes, len(sizes) + rng.uniform(0.0, 0.5, len(genomes)))
    # generation 1 sets the best, 5 more stall it: the restart asks 12 genomes from the 7th on
    assert sizes == [6] * 6 + [12] * 6
    assert algorithm.stop() == "stagnation=5"


def test_evolino_options_validate_and_default_to_evolinos_esp():
    options = build(Evolino.Options, {"ridge": 1e-6}, "algorithm")
    assert options.recombination == "mutation" and options.mutation_rate == 1.0
    assert Evolino(options, 5, 0, 0.1).ridge() == 1e-6
    with pytest.raises(Exception, match="algorithm.ridge"):
        build(Evolino.Options, {"ridge": -1.0}, "algorithm")


@pytest.mark.parametrize(("name", "table"), SETUPS, ids=IDS)
def test_per_weight_initial_scales_set_the_first_population(name, table):
    scales = np.repeat([0.01, 3.0], [9, 3])  # init_scales: most weights tight, a few wide
    algorithm = make(name, table, 12, seed=2, init_scale=scales)
    if hasattr(algorithm, "set_partition"):  # ESP's neurons (Evolino's too)
        algorithm.set_partition([np.arange(6), np.arange(6, 12)])
    first = algorithm.ask()
    assert first[:, 9:].std() > 3 * first[:, :9].std()


def test_cosyne_keeps_m_rows_mutates_below_the_parents_and_adds_offspring():
    """The author's code's generation: the best m rows stay, the top quarter unchanged, every
    weight of the rows below them and of the l new offspring perturbed (rate 1 here)."""
    table = {"population": 8, "offspring_fraction": 0.5, "mutation_rate": 1.0,
             "permutation": "none"}
    cosyne = make("cosyne", table, 5, seed=3)
    genomes = cosyne.ask()
    assert genomes.shape == (12, 5)  # m + l
    fitness = sphere(genomes)
    cosyne.tell(genomes, fitness)
    ranked = genomes[np.argsort(fitness)]
    after = cosyne.ask()
    np.testing.assert_array_equal(after[:2], ranked[:2])  # the parents, untouched
    assert np.all(after[2:8] != ranked[2:8])  # the other survivors, every weight mutated
    parents = {tuple(row) for row in ranked[:2]}
    assert not any(tuple(row) in parents for row in after[8:])  # offspring: mutated copies


def test_cosyne_bursts_around_the_best_network_after_stagnation():
    cosyne = make("cosyne", {"stagnation": 2, "burst_scale": 0.01}, 6, seed=5)
    genomes = cosyne.ask()
    best = genomes[0].copy()
    for _ in range(3):  # the first tell sets the best, two more without improvement
        fitness = np.ones(len(genomes))
        fitness[0] = 0.0
        cosyne.tell(genomes, fitness)
        genomes = cosyne.ask()
        genomes[0] = best
    burst = cosyne.ask()
    assert np.median(np.abs(burst - best)) < 0.05
