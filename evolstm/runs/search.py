"""The search loop: ask, evaluate, tell, record; checkpoints and exact resume.

A search is a deterministic function of its config: the task and the algorithm are seeded
from the config's seed, every genome is scored independently of the others, and the loop
checkpoints the fitness log, from which a resume replays ask/tell to the same state.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from evolstm import algorithms, tasks
from evolstm.algorithms import Algorithm
from evolstm.cells import Population, kernels
from evolstm.cells.cell import Cell
from evolstm.cells.cellfile import save as save_cell
from evolstm.errors import EvolstmError, RunDirError
from evolstm.runs import checkpoint as ckpt
from evolstm.runs import config as cfg
from evolstm.runs import rundir
from evolstm.runs.evaluator import Evaluator
from evolstm.tasks import Task


class Interrupted(Exception):
    """Ctrl-C during a search; the checkpoint is written and the run can be resumed."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(f"interrupted; resume with: evolstm resume {run_dir}")
        self.run_dir = run_dir


def seeds(seed: int) -> tuple[int, int]:
    """(task seed, algorithm seed), derived from the config's seed."""
    task_seq, algorithm_seq = np.random.SeedSequence(seed).spawn(2)
    return int(task_seq.generate_state(1)[0]), int(algorithm_seq.generate_state(1)[0])


def build(config: cfg.Config) -> tuple[Task, Population, Algorithm]:
    """The task, the population description and the (fresh) algorithm of a config."""
    task_seed, algorithm_seed = seeds(config.seed)
    task = tasks.get(config.task)(config.task_options, task_seed)
    cell = config.cell
    population = Population(
        cell.spec(), task.n_in, cell.hidden, task.n_out, cell.layers, cell.dtype
    )
    algorithm_cls = algorithms.get(config.algorithm)
    if algorithm_cls.fits_readout and not task.supports_readout_fit:
        raise cfg.ConfigError(
            f"algorithm.name: {config.algorithm} fits the readout by least squares, "
            f"which task {config.task} does not support"
        )
    if algorithm_cls.fits_readout and population.n_recurrent == population.n_params:
        raise cfg.ConfigError(
            f"algorithm.name: {config.algorithm} fits a linear readout; this cell has none "
            "(its outputs are units)"
        )
    n_evolved = population.n_recurrent if algorithm_cls.fits_readout else population.n_params
    try:
        scales = cell.initial_scales(population.layout)
    except EvolstmError as error:
        raise cfg.ConfigError(f"cell.{error}") from None
    if isinstance(scales, np.ndarray):
        scales = scales[:n_evolved]
    algorithm = algorithm_cls(config.algorithm_options, n_evolved, algorithm_seed, scales)
    algorithm.bind(population.layout)
    return task, population, algorithm


@dataclasses.dataclass
class Run:
    """A finished (or stopped) search: its folder, summary and best cell."""

    run_dir: Path
    summary: dict[str, Any]

    @property
    def best(self) -> Cell:
        from evolstm.cells.cellfile import load

        return load(self.run_dir / rundir.BEST)


class Search:
    """One run directory's search. `start` a new one or `resume` an existing one."""

    def __init__(self, config: cfg.Config, run_dir: Path, quiet: bool = False) -> None:
        self.config = config
        self.run_dir = run_dir
        self.quiet = quiet
        self.task, self.population, self.algorithm = build(config)
        self.history: rundir.History | None = None

    # -- entry points ---------------------------------------------------------------------
    @classmethod
    def start(cls, config: cfg.Config, run_dir: Path, quiet: bool = False) -> Run:
        run_dir.mkdir(parents=True, exist_ok=True)
        rundir.write_atomic(run_dir / rundir.CONFIG, cfg.dumps(config))
        search = cls(config, run_dir, quiet)
        return search._loop(None)

    @classmethod
    def resume(
        cls, run_dir: Path, generations: int | None = None, quiet: bool = False,
        **parallel: Any,
    ) -> Run:
        rundir.require(run_dir, rundir.CONFIG, rundir.HISTORY, rundir.CHECKPOINT)
        config = cfg.load(run_dir / rundir.CONFIG).with_overrides(**parallel)
        if generations is not None:
            config = config.with_overrides(generations=generations)
            rundir.write_atomic(run_dir / rundir.CONFIG, cfg.dumps(config))
        search = cls(config, run_dir, quiet)
        return search._loop(ckpt.load(run_dir / rundir.CHECKPOINT))

    # -- the loop -------------------------------------------------------------------------
    def _loop(self, resume_from: ckpt.Checkpoint | None) -> Run:
        # BLAS threads only slow the small solves of a search (pycma's eigendecomposition,
        # Evolino's least squares); the parallelism is the evaluator's.
        with threadpool_limits(1, user_api="blas"):
            return self._run(resume_from)

    def _run(self, resume_from: ckpt.Checkpoint | None) -> Run:
        config, task, algorithm = self.config, self.task, self.algorithm
        ridge = algorithm.ridge()
        state = resume_from or ckpt.Checkpoint(
            fitness=np.empty(0), counts=np.empty(0, np.int64),
            fingerprints=np.empty(0, np.uint64),
            best_genome=np.zeros(self.population.n_params), best_fitness=math.inf,
            evaluations=0, elapsed_s=0.0, solved=False,
        )
        fitness_log = [state.fitness]
        if resume_from is not None:
            self._replay(resume_from)
            if resume_from.generations:
                self._save_best(resume_from.best_genome, resume_from.best_fitness)
        self.history = rundir.History(self.run_dir / rundir.HISTORY)
        self.history.start(state.generations)
        limit = config.loop.generations
        stopped = self._stop_reason(state, limit)
        started = time.perf_counter() - state.elapsed_s
        last_checkpoint = time.perf_counter()
        # best.npz is written with each checkpoint and on Ctrl-C, not at every improvement:
        # a fast search improves most generations, and a cell file costs ~5 ms.
        unsaved_best = False
        self._say_compiling()
        progress = self._progress(state.generations, limit)
        try:
            with Evaluator(task, self.population, config.parallel.backend,
                           config.parallel.jobs, config.parallel.scheduler) as evaluate:
                while stopped is None:
                    asked = algorithm.ask()
                    try:
                        fitness, scored = evaluate(self._full(asked), ridge)
                    except KeyboardInterrupt:  # where a search spends its time: the state
                        # holds whole generations here, so they are checkpointed
                        self._checkpoint(state, fitness_log, unsaved_best)
                        raise Interrupted(self.run_dir) from None
                    metrics = algorithm.tell(asked, fitness)
                    state.counts = np.append(state.counts, len(fitness))
                    state.fingerprints = np.append(
                        state.fingerprints, np.uint64(ckpt.fingerprint(asked))
                    )
                    fitness_log.append(fitness)
                    state.evaluations += len(fitness)
                    champion = int(np.argmin(fitness))
                    if fitness[champion] < state.best_fitness:
                        state.best_fitness = float(fitness[champion])
                        state.best_genome = scored[champion].astype(np.float64)
                        unsaved_best = True
                    if task.has_criterion and not state.solved:
                        solver = self._first_solver(fitness, scored)
                        state.solved = solver is not None
                        if solver is not None:  # the run's cell, whatever its rank
                            state.best_fitness = float(fitness[solver])
                            state.best_genome = scored[solver].astype(np.float64)
                            unsaved_best = True
                    state.elapsed_s = time.perf_counter() - started
                    self.history.append(self._row(state, fitness, metrics))
                    stopped = self._stop_reason(state, limit)
                    if stopped or time.perf_counter() - last_checkpoint >= (
                        config.loop.checkpoint_seconds
                    ):
                        self._checkpoint(state, fitness_log, unsaved_best)
                        unsaved_best = False
                        last_checkpoint = time.perf_counter()
                    if progress is not None:
                        progress.update(1)
                        progress.set_postfix(best=f"{state.best_fitness:.4g}")
        except KeyboardInterrupt:  # elsewhere: the last checkpoint stands, the cell is kept
            if unsaved_best:
                self._save_best(state.best_genome, state.best_fitness)
            raise Interrupted(self.run_dir) from None
        finally:
            if progress is not None:
                progress.close()
        if state.generations == 0:
            ckpt.save(self.run_dir / rundir.CHECKPOINT, state)
        summary = self._summary(state, stopped)
        rundir.write_summary(self.run_dir, summary)
        return Run(self.run_dir, summary)

    def _checkpoint(
        self, state: ckpt.Checkpoint, fitness_log: list[np.ndarray], best_changed: bool
    ) -> None:
        """Write the checkpoint of the generations in `state` (fitness_log: their fitness
        arrays, merged here in place) and, if `best_changed`, best.npz."""
        state.fitness = np.concatenate(fitness_log)
        fitness_log[:] = [state.fitness]
        ckpt.save(self.run_dir / rundir.CHECKPOINT, state)
        if best_changed:
            self._save_best(state.best_genome, state.best_fitness)

    def _first_solver(self, fitness: np.ndarray, scored: np.ndarray) -> int | None:
        """Index of the first of the task's candidates that meets its criterion, or None."""
        candidates = self.task.candidates(fitness)
        if candidates.size == 0:
            return None
        solved = self.task.solves(self.population, scored[candidates])
        return int(candidates[np.argmax(solved)]) if solved.any() else None

    def _replay(self, checkpoint: ckpt.Checkpoint) -> None:
        """Drive the fresh algorithm through the recorded generations, without evaluating."""
        start = 0
        for generation, count in enumerate(checkpoint.counts):
            asked = self.algorithm.ask()
            if ckpt.fingerprint(asked) != int(checkpoint.fingerprints[generation]):
                raise RunDirError(
                    f"{self.run_dir}: replaying generation {generation + 1} did not reproduce "
                    "the recorded population (config or library versions changed); "
                    "cannot resume exactly"
                )
            self.algorithm.tell(asked, checkpoint.fitness[start : start + count])
            start += count

    def _full(self, asked: np.ndarray) -> np.ndarray:
        """Evolved genomes -> full genomes (zero readouts appended for Evolino)."""
        missing = self.population.n_params - asked.shape[1]
        if missing == 0:
            return asked
        return np.concatenate([asked, np.zeros((len(asked), missing))], axis=1)

    def _row(self, state: ckpt.Checkpoint, fitness: np.ndarray, metrics: dict[str, float]):
        return {
            "generation": state.generations,
            "evaluations": state.evaluations,
            "best": float(fitness.min()),
            **_mean_std(fitness),
            "worst": float(fitness.max()),
            "elapsed_s": round(state.elapsed_s, 3),
            "best_so_far": state.best_fitness,
            **metrics,
        }

    def _stop_reason(self, state: ckpt.Checkpoint, limit: int) -> str | None:
        loop = self.config.loop
        if state.solved:
            return "solved"
        if state.best_fitness <= loop.target_fitness:
            return "target_fitness"
        if loop.max_evaluations and state.evaluations >= loop.max_evaluations:
            return "max_evaluations"
        if state.generations >= limit:
            return "generations"
        reason = self.algorithm.stop() if state.generations else None
        return f"algorithm: {reason}" if reason else None

    def _save_best(self, genome: np.ndarray, fitness: float) -> None:
        info = {
            "task": self.config.task,
            "task_options": cfg.to_table(self.config)["task"],
            "task_seed": seeds(self.config.seed)[0],
            "fitness": fitness,
        }
        save_cell(Cell(self.population, genome, info), self.run_dir / rundir.BEST)

    def _summary(self, state: ckpt.Checkpoint, stopped: str | None) -> dict[str, Any]:
        best = Cell(self.population, state.best_genome)
        test = self.task.test(best) if state.generations else {}
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

    def _progress(self, initial: int, total: int) -> Any:
        if self.quiet or not sys.stderr.isatty():
            return None
        from tqdm import tqdm

        return tqdm(total=total, initial=initial, unit="gen", desc=self.run_dir.name,
                    dynamic_ncols=True)

    def _say_compiling(self) -> None:
        if not self.quiet and not kernels.simulate.signatures:
            print("evolstm: loading the Numba kernels (the first use on a machine compiles "
                  "them, ~35 s; cached afterwards)", file=sys.stderr)


def _mean_std(values: np.ndarray) -> dict[str, float]:
    """Mean and population std by exactly rounded sums (NumPy's SIMD reductions can differ
    in the last bit with memory alignment, which would make equal runs' histories differ)."""
    mean = math.fsum(values) / len(values)
    variance = math.fsum((float(v) - mean) ** 2 for v in values) / len(values)
    return {"mean": mean, "std": math.sqrt(variance)}
