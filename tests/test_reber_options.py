"""The embedded Reber task's options: `branch_weight` (the closing T/P step counted several
times) and `n_criterion` (fresh strings in the stopping criterion)."""

from __future__ import annotations

import numpy as np

from evolstm.cells import Population
from evolstm.tasks.reber import Reber, ReberOptions


def task_and_genomes(branch_weight: int) -> tuple[Reber, Population, np.ndarray]:
    task = Reber(ReberOptions(n_train=24, n_test=8, branch_weight=branch_weight), seed=4)
    population = Population("peephole", task.n_in, 3, task.n_out)
    genomes = np.random.default_rng(0).normal(0, 0.5, (2, population.n_params))
    return task, population, genomes


def test_weighted_readout_is_the_weighted_least_squares_solution() -> None:
    task, population, genomes = task_and_genomes(branch_weight=5)
    _, fitted = task.fitness(population, genomes, ridge=0.0)
    hidden = population.states(genomes, task.x)[:, task.mask]  # (P, N, H)
    sqrt_weight = np.sqrt(task.step_weight[task.mask])[:, None]
    for p in range(len(genomes)):
        design = np.hstack([hidden[p], np.ones((hidden.shape[1], 1))]) * sqrt_weight
        expected = np.linalg.lstsq(design, task.targets[task.mask] * sqrt_weight, rcond=None)[0]
        blocks = population.layout.by_name
        w, b = blocks["readout_weight"], blocks["readout_bias"]
        weight = fitted[p, w.offset : w.offset + w.size].reshape(task.n_out, -1)
        bias = fitted[p, b.offset : b.offset + b.size]
        np.testing.assert_allclose(weight, expected[:-1].T, atol=1e-8)
        np.testing.assert_allclose(bias, expected[-1], atol=1e-8)


def test_default_weight_scores_every_step_alike_and_weight_raises_a_wrong_branch() -> None:
    plain, _, _ = task_and_genomes(branch_weight=1)
    weighted, _, _ = task_and_genomes(branch_weight=10)
    assert np.array_equal(plain.step_weight, plain.mask)
    outputs = np.repeat(plain.targets[None], 2, axis=0)
    rows, steps = plain.branch_step
    outputs[1, rows[0], steps[0]] = outputs[1, rows[0], steps[0], ::-1]  # one closing T/P wrong
    n_steps = plain.mask.sum()
    # mean shortfall² (2 outputs off by 1) + wrong share, over n steps or n + 9 * B weights
    np.testing.assert_allclose(plain.score(outputs), [0.0, 3.0 / n_steps])
    n_weighted = n_steps + 9 * len(rows)
    np.testing.assert_allclose(weighted.score(outputs), [0.0, 30.0 / n_weighted])


class TrainingSetMemoriser:
    """Predicts the training targets on the training strings and nothing elsewhere."""

    def __init__(self, task: Reber) -> None:
        self.task = task

    def predict(self, genomes: np.ndarray, x: np.ndarray) -> np.ndarray:
        known = x is self.task.x
        outputs = self.task.targets if known else np.zeros(x.shape)
        return np.repeat(outputs[None], len(genomes), axis=0)


def test_criterion_on_fresh_strings_rejects_a_memoriser_of_the_training_set() -> None:
    for n_criterion, solved in ((0, True), (40, False)):
        task = Reber(ReberOptions(n_train=24, n_test=8, n_criterion=n_criterion), seed=4)
        assert task.solves(TrainingSetMemoriser(task), np.zeros((1, 3))).tolist() == [solved]
