"""The weight search: evolve the weights of one cell on a task (`SearchLoop` does the loop,
checkpoints and exact resume)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from evolstm import algorithms, tasks
from evolstm.algorithms import Algorithm
from evolstm.algorithms.build import create, forget_bias_offset, full_genomes
from evolstm.cells import Population
from evolstm.cells.cell import Cell
from evolstm.cells.cellfile import save as save_cell
from evolstm.errors import EvolstmError
from evolstm.runs import checkpoint as ckpt
from evolstm.runs import config as cfg
from evolstm.runs import rundir
from evolstm.runs.evaluator import Evaluator
from evolstm.runs.loop import Interrupted, Run, Scored, SearchLoop
from evolstm.tasks import Task

__all__ = ["Interrupted", "Run", "Search", "build", "seeds"]


def seeds(seed: int) -> tuple[int, int]:
    """(task seed, algorithm seed), derived from the config's seed."""
    task_seq, algorithm_seq = np.random.SeedSequence(seed).spawn(2)
    return int(task_seq.generate_state(1)[0]), int(algorithm_seq.generate_state(1)[0])


def build_task(config: cfg.Config) -> Task:
    """The config's task, seeded from the config's seed."""
    return tasks.get(config.task)(config.task_options, seeds(config.seed)[0])


def build(config: cfg.Config) -> tuple[Task, Population, Algorithm]:
    """The task, the population description and the (fresh) algorithm of a config."""
    task = build_task(config)
    cell = config.cell
    population = Population(
        cell.spec(), task.n_in, cell.hidden, task.n_out, cell.layers, cell.dtype
    )
    try:
        scales = cell.initial_scales(population.layout)
    except EvolstmError as error:
        raise cfg.ConfigError(f"cell.{error}") from None
    try:
        algorithm = create(algorithms.ALGORITHMS, config.algorithm, config.algorithm_options,
                           population, seeds(config.seed)[1], scales,
                           task.supports_readout_fit)
    except EvolstmError as error:
        raise cfg.ConfigError(f"algorithm.name: {error} (task {config.task})") from None
    return task, population, algorithm


class Search(SearchLoop):
    """The weights of one cell (`config.cell`) evolved on `config.task`."""

    def __init__(self, config: cfg.Config, run_dir: Path, quiet: bool = False) -> None:
        super().__init__(config, run_dir, quiet)
        self.task, self.population, self.algorithm = build(config)
        self.ridge = self.algorithm.ridge()
        self.offset = forget_bias_offset(self.population.layout, config.cell.forget_bias)

    def open_evaluator(self) -> AbstractContextManager[Any]:
        parallel = self.config.parallel
        return Evaluator(self.task, self.population, parallel.backend, parallel.jobs,
                         parallel.scheduler)

    def score(self, evaluate: Any, asked: np.ndarray) -> Scored:
        full = full_genomes(asked, self.population.n_params) + self.offset
        fitness, genomes = evaluate(full, self.ridge)
        return Scored(fitness, len(fitness), genomes)

    def fingerprint(self, asked: np.ndarray) -> int:
        return ckpt.fingerprint(asked)

    def keep_best(self, state: ckpt.Checkpoint, asked: Any, scored: Scored) -> bool:
        fitness, genomes = scored.fitness, scored.payload
        changed = False
        champion = int(np.argmin(fitness))
        if fitness[champion] < state.best_fitness:
            state.best_fitness = float(fitness[champion])
            state.best_genome = genomes[champion].astype(np.float64)
            changed = True
        if self.task.has_criterion and not state.solved:
            solver = self._first_solver(fitness, genomes)
            state.solved = solver is not None
            if solver is not None:  # the run's cell, whatever its rank
                state.best_fitness = float(fitness[solver])
                state.best_genome = genomes[solver].astype(np.float64)
                changed = True
        return changed

    def stop_reason(self, state: ckpt.Checkpoint) -> str | None:
        loop = self.config.loop
        if state.best_fitness <= loop.target_fitness:
            return "target_fitness"
        if loop.max_evaluations and state.evaluations >= loop.max_evaluations:
            return "max_evaluations"
        if state.generations >= loop.generations:
            return "generations"
        return super().stop_reason(state)

    def _first_solver(self, fitness: np.ndarray, genomes: np.ndarray) -> int | None:
        """Index of the first of the task's candidates that meets its criterion, or None."""
        candidates = self.task.candidates(fitness)
        if candidates.size == 0:
            return None
        solved = self.task.solves(self.population, genomes[candidates])
        return int(candidates[np.argmax(solved)]) if solved.any() else None

    def save_best(self, state: ckpt.Checkpoint) -> None:
        info = {
            "task": self.config.task,
            "task_options": cfg.to_table(self.config)["task"],
            "task_seed": seeds(self.config.seed)[0],
            "fitness": state.best_fitness,
        }
        save_cell(Cell(self.population, state.best_genome, info), self.run_dir / rundir.BEST)

    def summary(self, state: ckpt.Checkpoint, stopped: str | None) -> dict[str, Any]:
        test = (self.task.test(Cell(self.population, state.best_genome))
                if state.generations else {})
        return {
            "task": self.config.task,
            "test": test,
            "evaluations": state.evaluations,
            "generations": state.generations,
            "wall_s": round(state.elapsed_s, 3),
            "solved": state.solved if self.task.has_criterion else None,
            "best_fitness": state.best_fitness,
            "stopped": stopped,
            "algorithm": self.config.algorithm,
            "seed": self.config.seed,
            **{f"algorithm_{k}": v for k, v in self.algorithm.describe().items()},
        }
