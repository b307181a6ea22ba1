"""Time-series tasks: MSO, Mackey-Glass, user series, and Evolino's least-squares readout."""

import math
import pickle

import numpy as np
import pytest

from evolstm.cells import Population, Topology
from evolstm.cells.cell import Cell
from evolstm.tasks import get
from evolstm.tasks.base import WORST_FITNESS
from evolstm.tasks.generator import nrmse, teacher_forced_then_free
from evolstm.tasks.mackey_glass import mackey_glass
from evolstm.tasks.readout import fit_readout

MSO = get("mso")
SMALL_MACKEY_GLASS = {
    "transient": 200, "train_steps": 300, "washout": 100, "test_runs": 5, "test_prime": 200,
}

# A linear RNN inside the topology space: no gates, identity activations, so h_t = c_t =
# (I + W_hh) h_{t-1} + W_ih x_t + biases.
LINEAR_CELL = Topology(
    input_gate=False, forget_gate=False, output_gate=False,
    cell_activation="identity", output_activation="identity",
)


def sine_delay_genome(population: Population) -> np.ndarray:
    """A linear cell whose state is [y(n-1), y(n-2)] when it reads y(n-1) at step n.

    For y(n) = sin(αn), y(n) = 2cos(α) y(n-1) - y(n-2): a perfect linear readout exists.
    """
    return population.flatten({
        "weight_ih_l0": np.array([[1.0], [0.0]]),
        "weight_hh_l0": np.array([[-1.0, 0.0], [1.0, -1.0]]),  # I + W_hh = shift matrix
        "bias_ih_l0": np.zeros(2), "bias_hh_l0": np.zeros(2),
        "readout_weight": np.zeros((1, 2)), "readout_bias": np.zeros(1),
    })


def random_lstm(rng, n_hidden=4, n_genomes=3):
    population = Population("lstm", 1, n_hidden, 1)
    return population, rng.normal(0.0, 0.5, (n_genomes, population.n_params))


# -- MSO -------------------------------------------------------------------------------------
def test_mso_series_is_the_closed_form_sum_of_sines():
    task = MSO(MSO.Options(level=3), seed=0)
    alphas = (0.2, 0.311, 0.42)
    for n in range(12):
        expected = sum(math.sin(a * n) for a in alphas)
        assert task.fit_window[0, n, 0] == pytest.approx(expected, abs=1e-12)
    # the test window primes on n = 1..400 and scores n = 401..700
    assert task.test_window.shape == (1, 701, 1)
    assert task.test_window[0, 700, 0] == pytest.approx(sum(math.sin(a * 700) for a in alphas))


def test_nrmse_of_a_hand_computed_case():
    truth = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1)
    prediction = np.array([1.0, 2.0, 3.0, 5.0]).reshape(1, 4, 1)
    # mse = 1/4, var = 1.25 -> sqrt(0.2)
    assert nrmse(truth, prediction) == pytest.approx(math.sqrt(0.2))
    assert nrmse(truth, truth[None]).shape == (1,)


def test_a_genome_with_a_perfect_linear_readout_gets_a_tiny_fitness():
    population = Population(LINEAR_CELL, 1, 2, 1)
    genome = sine_delay_genome(population)
    task = MSO(MSO.Options(level=1), seed=0)
    fitness, fitted = task.fitness(population, genome[None], ridge=0.0)
    assert fitness[0] < 1e-8
    readout = population.unflatten(fitted[0])
    assert readout["readout_weight"][0] == pytest.approx([2 * math.cos(0.2), -1.0], abs=1e-8)
    metrics = task.test(Cell(population, fitted[0]))
    assert metrics["nrmse"] < 1e-8 and metrics["nrmse_later"] < 1e-6


def test_graded_fitness_is_the_mean_nrmse_of_the_free_run_prefixes():
    population = Population(LINEAR_CELL, 1, 2, 1)
    genome = sine_delay_genome(population)
    genome[-3:] = [1.0, 0.0, 0.0]  # ŷ(n) = input y(n-1): the free run holds y(299)
    task = MSO(MSO.Options(level=2), seed=0)
    truth = task.fit_window[0, 301:, 0]  # n = 301..400
    errors = (truth - task.fit_window[0, 299, 0]) ** 2
    expected = np.mean([math.sqrt(errors[:h].mean() / truth.var()) for h in (6, 12, 25, 50, 100)])
    assert task.fitness(population, genome[None])[0][0] == pytest.approx(expected)
    plain = MSO(MSO.Options(level=2, graded_fitness=False), seed=0)
    assert plain.fitness(population, genome[None])[0][0] == pytest.approx(
        math.sqrt(errors.mean() / truth.var()))


def test_evolved_readout_fitness_leaves_genomes_unchanged_and_finite(rng):
    population, genomes = random_lstm(rng)
    genomes[0] = np.nan
    task = MSO(MSO.Options(level=2), seed=0)
    fitness, returned = task.fitness(population, genomes, ridge=None)
    np.testing.assert_array_equal(returned[1:], genomes[1:])
    assert fitness[0] == WORST_FITNESS and np.all(np.isfinite(fitness))
    fitted_fitness, fitted = task.fitness(population, genomes, ridge=0.0)
    assert fitted_fitness[0] == WORST_FITNESS
    assert np.all(fitted_fitness[1:] < WORST_FITNESS)


def test_exploding_generator_gets_a_finite_fitness():
    population = Population(LINEAR_CELL, 1, 2, 1)
    genome = sine_delay_genome(population)
    genome[-3:-1] = [3.0, 0.0]  # readout 3·y(n-1): the closed loop grows like 3^n
    task = MSO(MSO.Options(level=1, train_steps=900, fit_steps=300), seed=0)
    fitness, _ = task.fitness(population, genome[None], ridge=None)
    assert np.isfinite(fitness[0]) and fitness[0] > 1e3


# -- readout ---------------------------------------------------------------------------------
def test_readout_matches_numpy_lstsq_on_a_random_problem(rng):
    hidden = rng.normal(size=(2, 3, 40, 5))
    targets = rng.normal(size=(3, 40, 2))
    mask = np.arange(40) >= 10
    weight, bias, ok = fit_readout(hidden, targets, mask, ridge=0.0)
    for p in range(2):
        design = np.hstack([hidden[p][:, 10:].reshape(-1, 5), np.ones((90, 1))])
        expected = np.linalg.lstsq(design, targets[:, 10:].reshape(-1, 2), rcond=None)[0]
        np.testing.assert_allclose(weight[p], expected[:5].T, atol=1e-10)
        np.testing.assert_allclose(bias[p], expected[5], atol=1e-10)
    assert ok.all()


def test_readout_recovers_the_weights_of_a_linear_map(rng):
    hidden = rng.normal(size=(1, 1, 60, 4))
    true_weight, true_bias = rng.normal(size=(3, 4)), rng.normal(size=3)
    targets = hidden[0] @ true_weight.T + true_bias
    weight, bias, ok = fit_readout(hidden, targets, np.ones(60, bool), ridge=0.0)
    np.testing.assert_allclose(weight[0], true_weight, atol=1e-10)
    np.testing.assert_allclose(bias[0], true_bias, atol=1e-10)


def test_ridge_readout_is_the_penalised_normal_equations_solution(rng):
    hidden = rng.normal(size=(1, 1, 30, 3))
    targets = rng.normal(size=(1, 30, 1))
    weight, bias, _ = fit_readout(hidden, targets, np.ones(30, bool), ridge=2.0)
    design = np.hstack([hidden[0, 0], np.ones((30, 1))])
    penalty = np.diag([2.0, 2.0, 2.0, 0.0])  # the bias is not penalised
    expected = np.linalg.solve(design.T @ design + penalty, design.T @ targets[0])
    np.testing.assert_allclose(np.append(weight[0, 0], bias[0]), expected[:, 0], atol=1e-10)


def test_readout_flags_non_finite_states_instead_of_raising(rng):
    hidden = rng.normal(size=(3, 1, 20, 2))
    hidden[0, 0, 5, 1] = np.nan
    hidden[2, 0, 7, 0] = np.inf
    weight, bias, ok = fit_readout(hidden, rng.normal(size=(1, 20, 1)), np.ones(20, bool))
    assert ok.tolist() == [False, True, False]
    assert not weight[0].any() and not bias[2].any()


# -- Mackey-Glass ---------------------------------------------------------------------------
def test_mackey_glass_stays_in_its_known_range_and_is_not_periodic():
    series = mackey_glass(3000)
    assert 0.2 < series.min() < 0.6 and 1.1 < series.max() < 1.4
    centred = series - series.mean()
    autocorrelation = [centred[:-lag] @ centred[lag:] / (centred @ centred) for lag in
                       range(60, 1500)]
    assert max(autocorrelation) < 0.95  # a periodic orbit would come back to ~1


@pytest.mark.parametrize("integrator", ["euler", "rk4"])
def test_mackey_glass_follows_the_closed_form_while_the_delay_reads_the_constant_history(
    integrator,
):
    # For t <= 16 the delayed term reads y = 1.2, so dy/dt = c - 0.1 y with c constant:
    # y(t) = 10c + (1.2 - 10c) e^(-0.1 t); Euler with step 1/10 (Jaeger 2001, eq. 23) gives
    # exactly y(n) = 10c + (1.2 - 10c) (1 - 0.01)^(10 n) at the unit samples.
    c = 0.2 * 1.2 / (1.0 + 1.2**10)
    t = np.arange(17)
    decay = (1.0 - 0.01) ** (10 * t) if integrator == "euler" else np.exp(-0.1 * t)
    tolerance = 1e-12 if integrator == "euler" else 1e-9  # RK4: its own 4th-order error
    series = mackey_glass(17, transient=0, integrator=integrator)
    np.testing.assert_allclose(series, 10 * c + (1.2 - 10 * c) * decay, rtol=0, atol=tolerance)


def test_mackey_glass_rk4_agrees_with_a_ten_times_finer_integration():
    coarse = mackey_glass(200, transient=100, integrator="rk4")
    fine = mackey_glass(200, transient=100, substeps=100, integrator="rk4")
    np.testing.assert_allclose(coarse, fine, atol=1e-4)


def test_mackey_glass_euler_series_converges_to_a_fine_integration_at_first_order():
    fine = mackey_glass(50, transient=100, substeps=200, integrator="rk4")
    error = [np.abs(mackey_glass(50, transient=100, substeps=s) - fine).max() for s in (10, 100)]
    assert 0.005 < error[0] < 0.05  # Jaeger's step 1/10: a different trajectory, not noise
    assert 5 < error[0] / error[1] < 20  # ten times the step, ten times the error


def test_mackey_glass_nrmse84_is_the_error_84_steps_ahead_in_original_coordinates():
    options = get("mackey_glass").Options(**SMALL_MACKEY_GLASS)
    task = get("mackey_glass")(options, seed=0)
    population = Population(LINEAR_CELL, 1, 2, 1)
    genome = sine_delay_genome(population)
    genome[-3:] = [1.0, 0.0, 0.0]  # ŷ(n) = input y(n-1): the free run repeats the last input
    metrics = task.test(Cell(population, genome))
    # By hand, from the series itself: Jaeger's back-to-back windows of 1000 + 84 steps
    # (here 200 + 84) after the search's data, the last value read vs the value 84 steps on.
    window = options.test_prime + 84
    first = options.train_steps + 1 + 84
    length = first + options.test_runs * window
    series = mackey_glass(length, transient=options.transient)
    starts = first + window * np.arange(options.test_runs)
    last_read = series[starts + options.test_prime - 1]
    expected = math.sqrt(np.mean((series[starts + window - 1] - last_read) ** 2) / series.var())
    assert metrics["nrmse84"] == pytest.approx(expected, rel=1e-9)
    assert task.test_windows[0, 0, 0] == pytest.approx(np.tanh(series[first] - 1.0))


# -- user series -----------------------------------------------------------------------------
def test_series_task_on_a_small_csv_predicts_a_sine_one_step_ahead(tmp_path):
    steps = np.arange(400)
    path = tmp_path / "data.csv"
    lines = ["time,value"] + [f"{t},{math.sin(0.3 * t):.12f}" for t in steps]
    path.write_text("\n".join(lines) + "\n")
    task = get("series")(get("series").Options(path=str(path), columns=("value",)), seed=0)
    population = Population(LINEAR_CELL, 1, 2, 1)
    genome = sine_delay_genome(population)
    # reading x(t) = sin(0.3 t), the state is [x(t), x(t-1)]: x(t+1) = 2cos(0.3) x(t) - x(t-1)
    fitness, fitted = task.fitness(population, genome[None], ridge=0.0)
    assert fitness[0] < 1e-8
    assert task.test(Cell(population, fitted[0]))["nrmse"] < 1e-8
    zero_readout = task.test(Cell(population, genome))["nrmse"]
    assert zero_readout == pytest.approx(1.0, abs=0.05)  # predicting 0 for a zero-mean sine


# -- every task ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mso", "mackey_glass", "series"])
def test_task_is_deterministic_and_pickles(name, rng, tmp_path):
    cls = get(name)
    options = {"mso": {}, "mackey_glass": SMALL_MACKEY_GLASS, "series": {"path": str(
        tmp_path / "data.npy")}}[name]
    np.save(tmp_path / "data.npy", rng.normal(size=(200, 2)))
    task = cls(cls.Options(**options), seed=3)
    population = Population("lstm", task.n_in, 3, task.n_out)
    genomes = rng.normal(0.0, 0.5, (2, population.n_params))
    first = task.fitness(population, genomes, ridge=0.0)
    copy = pickle.loads(pickle.dumps(task))
    again = copy.fitness(population, genomes, ridge=0.0)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    cell = Cell(population, first[1][0])
    assert task.test(cell) == copy.test(cell)
    assert task.metric in task.test(cell)


@pytest.mark.parametrize(("stride", "gap"), [(0, 20), (7, 7)])  # 0: back to back
def test_mackey_glass_validation_windows_match_separate_primed_free_runs(rng, stride, gap):
    options = dict(SMALL_MACKEY_GLASS, validation_windows=3, horizon=20,
                   validation_stride=stride)
    task = get("mackey_glass")(get("mackey_glass").Options(**options), seed=0)
    population = Population("lstm", 1, 4, 1)
    genomes = rng.normal(0.0, 0.5, (2, population.n_params))
    fitness, fitted = task.fitness(population, genomes, ridge=1e-6)
    series, horizon = task.fit_window, 20
    primes = [300 - 2 * gap + k * gap for k in range(3)]
    # the readout sees only the steps before the first window's free run
    expected_fit = teacher_forced_then_free(
        population, genomes, series[:, : primes[0] + 1 + horizon], primes[0], 100, 1e-6
    )[0]
    np.testing.assert_allclose(fitted, expected_fit)
    runs = [teacher_forced_then_free(population, fitted, series[:, : c + 1 + horizon], c, 0,
                                     None)[1] for c in primes]
    free = np.concatenate(runs, axis=1)  # (P, windows, horizon, 1)
    truth = np.stack([series[0, c + 1 : c + 1 + horizon] for c in primes])
    expected = np.mean([nrmse(truth[:, :h], free[:, :, :h], task.variance)
                        for h in (1, 2, 5, 10, 20)], axis=0)
    np.testing.assert_allclose(fitness, expected, rtol=1e-5)
