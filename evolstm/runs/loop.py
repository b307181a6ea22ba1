"""The search loop every search shares: ask, score, tell, record; checkpoints and exact
resume.

A search is a deterministic function of its config: everything random is seeded from the
config's seed, and every candidate is scored independently of the others. The loop
checkpoints the log of every generation's fitness (never an algorithm object); a resume
rebuilds the algorithm and replays ask/tell with the logged fitnesses, checking each
replayed generation's fingerprint. A run folder without a checkpoint (killed before its
first one) resumes from generation 0, which ends where an uninterrupted run ends.

Subclasses say what is searched: `evolstm.runs.search.Search` (the weights of one cell)
and `evolstm.runs.cellsearch.CellSearch` (cells, each scored by nested weight searches).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from evolstm.cells import kernels
from evolstm.errors import RunDirError
from evolstm.runs import checkpoint as ckpt
from evolstm.runs import config as cfg
from evolstm.runs import rundir


class Interrupted(Exception):
    """Ctrl-C during a search; the checkpoint is written and the run can be resumed."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(f"interrupted; resume with: evolstm resume {run_dir}")
        self.run_dir = run_dir


@dataclasses.dataclass
class Run:
    """A finished (or stopped) search: its folder, summary and best cell."""

    run_dir: Path
    summary: dict[str, Any]

    @property
    def best(self) -> Any:
        from evolstm.cells.cellfile import load

        return load(self.run_dir / rundir.BEST)


@dataclasses.dataclass
class Scored:
    """A generation's scores: fitness (P,) float64 (minimised; what `tell` and history see),
    evaluations it cost, and the payload the subclass keeps (e.g. genomes as scored)."""

    fitness: np.ndarray
    evaluations: int
    payload: Any


class SearchLoop(ABC):
    """One run directory's search. `start` a new one or `resume` an existing one.

    Subclasses build `self.algorithm` (ask/tell/stop/describe) and write the hooks below.
    """

    unit = "gen"  # what the progress bar counts

    def __init__(self, config: cfg.Config, run_dir: Path, quiet: bool = False) -> None:
        self.config = config
        self.run_dir = run_dir
        self.quiet = quiet
        self.algorithm: Any = None
        self.history: rundir.History | None = None

    # -- entry points ---------------------------------------------------------------------
    @classmethod
    def start(cls, config: cfg.Config, run_dir: Path, quiet: bool = False) -> Run:
        run_dir.mkdir(parents=True, exist_ok=True)
        rundir.write_atomic(run_dir / rundir.CONFIG, cfg.dumps(config))
        return cls(config, run_dir, quiet)._loop(None)

    @classmethod
    def resume(
        cls, run_dir: Path, generations: int | None = None, quiet: bool = False,
        candidates: int | None = None, **parallel: Any,
    ) -> Run:
        """Continue `run_dir`; `generations` (a weight search) or `candidates` (a search over
        cells) raise its budget in its config.toml; `parallel` (jobs, backend) this time."""
        rundir.require(run_dir, rundir.CONFIG)
        config = cfg.load(run_dir / rundir.CONFIG).with_overrides(**parallel)
        if generations is not None or candidates is not None:
            config = config.with_overrides(generations=generations, candidates=candidates)
            rundir.write_atomic(run_dir / rundir.CONFIG, cfg.dumps(config))
        checkpoint_dir = run_dir / rundir.CHECKPOINT
        # No checkpoint yet (killed before the first): the run restarts from generation 0.
        state = ckpt.load(checkpoint_dir) if ckpt.exists(checkpoint_dir) else None
        return cls(config, run_dir, quiet)._loop(state)

    # -- hooks ----------------------------------------------------------------------------
    @abstractmethod
    def open_evaluator(self) -> AbstractContextManager[Any]:
        """The pool that scores generations, entered for the whole loop."""

    @abstractmethod
    def score(self, evaluate: Any, asked: Any) -> Scored:
        """Score one generation `asked` with the entered evaluator."""

    @abstractmethod
    def fingerprint(self, asked: Any) -> int:
        """A 64-bit digest of a generation, checked when a resume replays it."""

    @abstractmethod
    def keep_best(self, state: ckpt.Checkpoint, asked: Any, scored: Scored) -> bool:
        """Update ``state.best_*`` from a generation; True if the best changed."""

    @abstractmethod
    def save_best(self, state: ckpt.Checkpoint) -> None:
        """Write best.npz for ``state``'s best."""

    @abstractmethod
    def summary(self, state: ckpt.Checkpoint, stopped: str | None) -> dict[str, Any]:
        """summary.json's content at the end of a run."""

    def stop_reason(self, state: ckpt.Checkpoint) -> str | None:
        """Why to stop now (None: go on). Default: the algorithm's own reason."""
        reason = self.algorithm.stop() if state.generations else None
        return f"algorithm: {reason}" if reason else None

    def recorded(self, state: ckpt.Checkpoint, asked: Any, scored: Scored) -> None:  # noqa: B027 - an optional hook
        """Write a generation's extra records (before its checkpoint). Default: none."""

    def restart_records(self, state: ckpt.Checkpoint) -> None:  # noqa: B027 - an optional hook
        """Cut the extra records back to the checkpoint's generations (a resume)."""

    def extra_arrays(self) -> dict[str, np.ndarray]:
        """Arrays the checkpoint keeps beyond the fitness log (restored by `restore`)."""
        return {}

    def restore(self, extra: dict[str, np.ndarray]) -> None:  # noqa: B027 - an optional hook
        """Take back `extra_arrays` from a checkpoint."""

    def progress_total(self) -> int:
        return self.config.loop.generations

    def progress_step(self, asked: Any) -> int:
        return 1

    def progress_postfix(self, state: ckpt.Checkpoint) -> dict[str, str]:
        return {"best": f"{state.best_fitness:.4g}"}

    def progress_position(self, state: ckpt.Checkpoint) -> int:
        """Where the progress bar starts (a resume): generations done by default."""
        return state.generations

    # -- the loop -------------------------------------------------------------------------
    def _loop(self, resume_from: ckpt.Checkpoint | None) -> Run:
        # BLAS threads only slow the small solves of a search (pycma's eigendecomposition,
        # Evolino's least squares); the parallelism is the evaluator's.
        with threadpool_limits(1, user_api="blas"):
            return self._run(resume_from)

    def _run(self, resume_from: ckpt.Checkpoint | None) -> Run:
        algorithm = self.algorithm
        state = resume_from or ckpt.Checkpoint(
            fitness=np.empty(0), counts=np.empty(0, np.int64),
            fingerprints=np.empty(0, np.uint64), best_genome=np.zeros(0),
            best_fitness=math.inf, evaluations=0, elapsed_s=0.0, solved=False,
        )
        fitness_log = [state.fitness]
        if resume_from is not None:
            self.restore(resume_from.extra)
            self._replay(resume_from)
            if resume_from.generations:
                self.save_best(resume_from)
        self.history = rundir.History(self.run_dir / rundir.HISTORY)
        self.history.start(state.generations)
        self.restart_records(state)
        stopped = self._stop(state)
        started = time.perf_counter() - state.elapsed_s
        last_checkpoint = time.perf_counter()
        # best.npz is written with each checkpoint and on Ctrl-C, not at every improvement:
        # a fast search improves most generations, and a cell file costs ~5 ms.
        unsaved_best = False
        say_compiling(self.quiet)
        progress = self._progress(state)
        try:
            with self.open_evaluator() as evaluate:
                while stopped is None:
                    asked = algorithm.ask()
                    try:
                        scored = self.score(evaluate, asked)
                    except KeyboardInterrupt:  # where a search spends its time: the state
                        # holds whole generations here, so they are checkpointed
                        self._checkpoint(state, fitness_log, unsaved_best)
                        raise Interrupted(self.run_dir) from None
                    metrics = algorithm.tell(asked, scored.fitness)
                    state.counts = np.append(state.counts, len(scored.fitness))
                    state.fingerprints = np.append(
                        state.fingerprints, np.uint64(self.fingerprint(asked))
                    )
                    fitness_log.append(scored.fitness)
                    state.evaluations += scored.evaluations
                    unsaved_best |= self.keep_best(state, asked, scored)
                    state.elapsed_s = time.perf_counter() - started
                    self.history.append(self._row(state, scored.fitness, metrics))
                    self.recorded(state, asked, scored)
                    stopped = self._stop(state)
                    if stopped or time.perf_counter() - last_checkpoint >= (
                        self.config.loop.checkpoint_seconds
                    ):
                        self._checkpoint(state, fitness_log, unsaved_best)
                        unsaved_best = False
                        last_checkpoint = time.perf_counter()
                    if progress is not None:
                        progress.update(self.progress_step(asked))
                        progress.set_postfix(self.progress_postfix(state))
        except KeyboardInterrupt:  # elsewhere: the last checkpoint stands, the cell is kept
            if unsaved_best:
                self.save_best(state)
            raise Interrupted(self.run_dir) from None
        finally:
            if progress is not None:
                progress.close()
        if state.generations == 0:
            self._checkpoint(state, fitness_log, False)
        summary = self.summary(state, stopped)
        rundir.write_summary(self.run_dir, summary)
        return Run(self.run_dir, summary)

    def _checkpoint(
        self, state: ckpt.Checkpoint, fitness_log: list[np.ndarray], best_changed: bool
    ) -> None:
        """Write the checkpoint of the generations in `state` (fitness_log: their fitness
        arrays, merged here in place) and, if `best_changed`, best.npz."""
        state.fitness = np.concatenate(fitness_log)
        fitness_log[:] = [state.fitness]
        state.extra = self.extra_arrays()
        ckpt.save(self.run_dir / rundir.CHECKPOINT, state)
        if best_changed:
            self.save_best(state)

    def _replay(self, checkpoint: ckpt.Checkpoint) -> None:
        """Drive the fresh algorithm through the recorded generations, without scoring."""
        start = 0
        for generation, count in enumerate(checkpoint.counts):
            asked = self.algorithm.ask()
            if self.fingerprint(asked) != int(checkpoint.fingerprints[generation]):
                raise RunDirError(
                    f"{self.run_dir}: replaying generation {generation + 1} did not reproduce "
                    "the recorded population (config or library versions changed); "
                    "cannot resume exactly"
                )
            self.algorithm.tell(asked, checkpoint.fitness[start : start + count])
            start += count

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

    def _stop(self, state: ckpt.Checkpoint) -> str | None:
        return "solved" if state.solved else self.stop_reason(state)

    def _progress(self, state: ckpt.Checkpoint) -> Any:
        if self.quiet or not sys.stderr.isatty():
            return None
        from tqdm import tqdm

        return tqdm(total=self.progress_total(), initial=self.progress_position(state),
                    unit=self.unit,
                    desc=self.run_dir.name, dynamic_ncols=True)


def say_compiling(quiet: bool) -> None:
    """Tell the user that the first use of the kernels on a machine compiles them."""
    if not quiet and not kernels.simulate.signatures:
        print("evolstm: loading the Numba kernels (the first use on a machine compiles "
              "them, 35-50 s; cached afterwards)", file=sys.stderr)


def _mean_std(values: np.ndarray) -> dict[str, float]:
    """Mean and population std by exactly rounded sums (NumPy's SIMD reductions can differ
    in the last bit with memory alignment, which would make equal runs' histories differ)."""
    mean = math.fsum(values) / len(values)
    variance = math.fsum((float(v) - mean) ** 2 for v in values) / len(values)
    return {"mean": mean, "std": math.sqrt(variance)}
