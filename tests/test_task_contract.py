"""Every registered task keeps the task contract (so a new task is tested by registering it)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import evolstm
from evolstm.cells.cell import Cell
from evolstm.options import build
from evolstm.tasks import TASKS, WORST_FITNESS

# Tasks whose default options need a user's file get a small one.
NEEDS_FILE = {"series"}


def make_task(name: str, tmp_path):
    cls = TASKS.get(name)
    table = {}
    if name in NEEDS_FILE:
        path = tmp_path / "series.csv"
        np.savetxt(path, np.sin(0.3 * np.arange(600))[:, None], delimiter=",", header="y",
                   comments="")
        table = {"path": str(path)}
    return cls(build(cls.Options, table, "task"), seed=7)


@pytest.fixture(params=TASKS.names())
def task(request, tmp_path):
    return make_task(request.param, tmp_path)


def population_for(task):
    return evolstm.Population("lstm", task.n_in, 3, task.n_out)


def test_fitness_is_finite_per_genome_and_independent_of_the_others(task):
    population = population_for(task)
    genomes = np.random.default_rng(0).normal(0, 0.5, (4, population.n_params))
    fitness, scored = task.fitness(population, genomes)
    assert fitness.shape == (4,) and fitness.dtype == np.float64
    assert np.all(np.isfinite(fitness)) and np.all(fitness <= WORST_FITNESS)
    np.testing.assert_array_equal(scored, genomes)
    alone, _ = task.fitness(population, genomes[2:3])
    assert alone[0] == fitness[2]


def test_a_nan_genome_gets_a_finite_fitness_not_an_exception(task):
    population = population_for(task)
    genomes = np.full((2, population.n_params), np.nan)
    fitness, _ = task.fitness(population, genomes)
    assert np.all(np.isfinite(fitness))


def test_readout_fit_replaces_only_the_readout(task):
    if not task.supports_readout_fit:
        pytest.skip(f"{task.name} has no least-squares readout")
    population = population_for(task)
    genomes = np.random.default_rng(1).normal(0, 0.5, (3, population.n_params))
    _, scored = task.fitness(population, genomes, ridge=1e-6)
    recurrent = population.n_recurrent
    np.testing.assert_array_equal(scored[:, :recurrent], genomes[:, :recurrent])
    assert not np.array_equal(scored[:, recurrent:], genomes[:, recurrent:])


def test_task_pickles_and_is_deterministic(task, tmp_path):
    clone = pickle.loads(pickle.dumps(task))
    population = population_for(task)
    genomes = np.random.default_rng(2).normal(0, 0.5, (2, population.n_params))
    np.testing.assert_array_equal(task.fitness(population, genomes)[0],
                                  clone.fitness(population, genomes)[0])
    again = make_task(task.name, tmp_path)
    np.testing.assert_array_equal(task.fitness(population, genomes)[0],
                                  again.fitness(population, genomes)[0])


def test_test_metrics_include_the_headline_metric(task):
    population = population_for(task)
    cell = Cell(population, np.random.default_rng(3).normal(0, 0.3, population.n_params))
    metrics = task.test(cell)
    assert task.metric in metrics
    assert all(isinstance(value, (int, float)) for value in metrics.values())


def test_the_headline_metric_says_its_direction(task):
    """Errors (NRMSE) are lower-is-better; counts and shares of right answers higher."""
    assert isinstance(task.metric_higher_is_better, bool)
    assert task.metric_higher_is_better == (not task.metric.startswith("nrmse"))
