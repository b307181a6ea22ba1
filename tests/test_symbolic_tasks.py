"""The symbolic tasks (languages, embedded Reber, adding, temporal order) against their papers."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest

import evolstm.tasks as tasks
from evolstm.cells import Population
from evolstm.tasks import languages
from evolstm.tasks.adding import Adding, AddingOptions
from evolstm.tasks.anbncn import AnBnCn
from evolstm.tasks.reber import Reber, embedded_reber
from evolstm.tasks.temporal_order import TemporalOrder, TemporalOrderOptions

SMALL = {
    "anbn": {},
    "anbncn": {},
    "reber": {"n_train": 32, "n_test": 32},
    "adding": {"n_train": 40, "n_test": 40, "n_criterion": 40},
    "temporal_order": {"n_train": 40, "n_test": 40, "n_criterion": 40},
}


def small_task(name: str, seed: int = 3) -> tasks.Task:
    cls = tasks.get(name)
    return cls(cls.Options(**SMALL[name]), seed)


def random_genomes(task: tasks.Task, count: int = 3) -> tuple[Population, np.ndarray]:
    population = Population("peephole", task.n_in, 3, task.n_out)
    return population, np.random.default_rng(0).normal(0, 0.5, (count, population.n_params))


def test_anbncn_string_and_legal_next_sets_for_n3_are_the_definition() -> None:
    assert languages.string(3, "abc") == "SaaabbbcccT"
    # after S, a, a, a, b, b, b, c, c, c (DESIGN.md)
    assert languages.legal_next(3, "abc") == ["a", "ab", "ab", "ab", "b", "b", "c", "c", "c", "T"]


def test_anbn_string_and_legal_next_sets_for_n3_are_the_definition() -> None:
    assert languages.string(3, "ab") == "SaaabbbT"
    assert languages.legal_next(3, "ab") == ["a", "ab", "ab", "ab", "b", "b", "T"]


def test_encode_reads_every_symbol_but_T_with_the_legal_set_as_target() -> None:
    inputs, targets = languages.encode(2, "abc")
    assert "".join("Sabc"[i] for i in inputs.argmax(axis=1)) == "Saabbcc"
    # rows over [a, b, c, T]: after S {a}; a {a,b} x2; b1 {b}; b2 {c}; c1 {c}; c2 {T}
    expected = [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0], [0, 1, 0, 0],
                [0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    np.testing.assert_array_equal(targets, expected)


def oracle(letters: str, corrupt_n: int | None = None):
    """A perfect predictor read off the input (n = number of a's), optionally wrong at one n."""

    def predict(x: np.ndarray) -> np.ndarray:
        outputs = np.zeros(x.shape[:2] + (4,))
        for row, n in enumerate(x[:, :, 1].sum(axis=1).astype(int)):
            _, targets = languages.encode(n, letters)
            outputs[row, : len(targets)] = targets
            if n == corrupt_n:
                outputs[row, 0, 3] = 1.0  # predicts T may follow S
        return outputs

    return predict


@pytest.mark.parametrize("letters", ["ab", "abc"])
def test_largest_accepted_is_the_limit_for_a_perfect_predictor(letters: str) -> None:
    assert languages.largest_accepted(oracle(letters), letters, limit=130, batch_size=40) == 130


def test_largest_accepted_stops_below_the_first_rejected_n() -> None:
    assert languages.largest_accepted(oracle("abc", corrupt_n=7), "abc", limit=100) == 6


# Reber grammar written from the paper's figure 5 as a regular expression: from the node
# after B T S* X (or after B P T* V P) the string loops through X T* V P and leaves by S or
# by X T* V V; from B P T* V it may also leave by V.
AFTER_X_NODE = r"(?:XT*VP)*(?:S|XT*VV)"
REBER = rf"B(?:TS*X{AFTER_X_NODE}|PT*V(?:V|P{AFTER_X_NODE}))E"


def test_embedded_reber_strings_are_accepted_by_the_figure_grammar() -> None:
    pattern = re.compile(rf"B(?:T{REBER}T|P{REBER}P)E")
    rng = np.random.default_rng(0)
    for _ in range(300):
        symbols, legal = embedded_reber(rng)
        assert pattern.fullmatch(symbols), symbols
        assert len(legal) == len(symbols)
        assert legal[:3] == ["B", "TP", "B"] and legal[-2:] == [symbols[1], "E"]
        assert all(s in allowed for s, allowed in zip(symbols, legal, strict=True))


def test_reber_task_has_256_training_and_test_strings_by_default() -> None:
    task = Reber(Reber.Options(), seed=1)
    assert task.x.shape[0] == task.test_x.shape[0] == 256
    assert task.n_in == task.n_out == 7


def test_adding_targets_are_half_plus_a_quarter_of_the_marked_sum() -> None:
    task = Adding(AddingOptions(length=100, n_train=300), seed=5)
    data = task.train
    values, markers = data.x[..., 0], data.x[..., 1]
    lengths = data.mask.argmax(axis=1) + 1
    assert lengths.min() >= 100 and lengths.max() <= 110
    marked = markers == 1.0
    assert np.all(marked.sum(axis=1) == 2)
    assert np.all(marked[:, :10].any(axis=1)) and not marked[:, 49:].any()
    assert np.all(markers[np.arange(300), lengths - 1] == -1.0)
    expected = 0.5 + (values * marked).sum(axis=1) / 4
    np.testing.assert_allclose(data.targets[data.mask][:, 0], expected)


def test_temporal_order_class_is_the_order_of_x_and_y() -> None:
    task = TemporalOrder(TemporalOrderOptions(n_train=200), seed=2)
    data = task.train
    symbols = np.where(data.x.any(axis=2), data.x.argmax(axis=2), -1)
    for row in range(200):
        relevant = np.flatnonzero(symbols[row] >= 6)
        assert 10 <= relevant[0] + 1 <= 20 and 50 <= relevant[1] + 1 <= 60
        order = "".join("XY"[symbols[row, t] - 6] for t in relevant)
        label = data.targets[row][data.mask[row]][0].argmax()
        assert "QRSU"[label] == {"XX": "Q", "XY": "R", "YX": "S", "YY": "U"}[order]
        length = int(data.mask[row].argmax()) + 1
        assert 100 <= length <= 110 and symbols[row, 0] == 0 and symbols[row, length - 1] == 1


@pytest.mark.parametrize("name", list(SMALL))
def test_fitness_is_zero_for_the_targets_and_grows_with_noise(name: str) -> None:
    task = small_task(name)
    targets = task.train.targets if hasattr(task, "train") else task.targets
    noise = np.random.default_rng(0).normal(size=targets.shape)
    outputs = np.stack([targets + scale * noise for scale in (0.0, 0.2, 1.0)])
    fitness = task.score(outputs)
    assert np.all(np.isfinite(fitness)) and fitness[0] == 0.0
    assert fitness[0] < fitness[1] < fitness[2]


@pytest.mark.parametrize("name", ["anbncn", "reber", "adding"])
def test_padding_inputs_do_not_change_the_fitness(name: str) -> None:
    task = small_task(name)
    population, genomes = random_genomes(task)
    before, _ = task.fitness(population, genomes)
    x = task.train.x if hasattr(task, "train") else task.x
    steps_used = np.cumsum(x.any(axis=2)[:, ::-1], axis=1)[:, ::-1] > 0
    x[~steps_used] = np.random.default_rng(1).normal(size=x[~steps_used].shape)
    after, _ = task.fitness(population, genomes)
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("name", list(SMALL))
def test_task_pickles_and_its_fitness_is_deterministic(name: str) -> None:
    task = small_task(name)
    population, genomes = random_genomes(task)
    copy = pickle.loads(pickle.dumps(task))
    again = small_task(name)
    fitness, returned = task.fitness(population, genomes)
    np.testing.assert_array_equal(fitness, copy.fitness(population, genomes)[0])
    np.testing.assert_array_equal(fitness, again.fitness(population, genomes)[0])
    np.testing.assert_array_equal(returned, genomes)
    assert np.all(np.isfinite(fitness))


@pytest.mark.parametrize("name", ["anbncn", "temporal_order"])
def test_fitted_readout_is_carried_by_the_returned_genomes(name: str) -> None:
    task = small_task(name)
    population, genomes = random_genomes(task)
    fitted, with_readout = task.fitness(population, genomes, ridge=1e-6)
    unfitted, _ = task.fitness(population, genomes)
    np.testing.assert_allclose(task.fitness(population, with_readout)[0], fitted)
    assert not np.array_equal(fitted, unfitted)


def test_test_and_solves_report_the_paper_criteria_for_a_random_cell() -> None:
    from evolstm.cells.cell import Cell

    task = AnBnCn(AnBnCn.Options(test_limit=50), seed=0)
    population, genomes = random_genomes(task)
    result = task.test(Cell(population, genomes[0]))
    assert result["largest_n"] == 0.0 and result["train_accepted"] == 0.0
    assert not task.solves(population, genomes).any()


@pytest.mark.parametrize("name", ["adding", "temporal_order"])
def test_no_criterion_sequences_means_the_training_sequences_decide(name: str) -> None:
    """n_criterion 0: a genome solves when every training sequence is right (as Reber)."""
    task = tasks.get(name)(tasks.get(name).Options(n_train=30, n_test=10, n_criterion=0), 4)
    population, genomes = random_genomes(task)
    outputs = population.predict(genomes, task.train.x)
    right = np.all(np.abs(outputs - task.train.targets) < task.tolerance, axis=-1)
    expected = np.all(right | ~task.train.mask, axis=-1).all(axis=1)
    np.testing.assert_array_equal(task.solves(population, genomes), expected)


@pytest.mark.parametrize("name", ["adding", "temporal_order", "reber"])
@pytest.mark.parametrize(("field", "value"), [("n_train", 0), ("n_test", 0), ("n_criterion", -1)])
def test_sample_counts_out_of_range_are_one_clear_error(name: str, field: str, value: int) -> None:
    with pytest.raises(ValueError, match=f"^{field}: must be >= "):
        tasks.get(name).Options(**{field: value}).validate()
