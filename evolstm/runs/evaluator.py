"""Parallel evaluation of a population: chunks of genomes to joblib workers or Dask.

Every genome is scored by the same kernel code whatever chunk it lands in (a task's fitness
of a genome does not depend on the other genomes), so the fitnesses are identical on every
backend and worker count. Evolino's readout is fitted inside the worker that simulated the
genome: hidden states never cross a process boundary, only genomes and fitnesses do.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, TypeVar

import joblib
import numpy as np

from evolstm.cells import Population
from evolstm.cells.population import chunk_slices
from evolstm.errors import EvolstmError
from evolstm.tasks import Task

R = TypeVar("R")

QUIET_WORKERS = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "5s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}
"""Dask settings for the workers of a cluster evolstm starts, which nobody watches: no
statistical profiler, the event loop's tick and the monitors at seconds, not milliseconds
(each wakes the worker's event loop, which then takes the GIL from the task; an inner search,
mostly Python, took 15-20% less time in such workers: benchmarks/README.md, session 14), and
glibc's own malloc trimming: Dask's default MALLOC_TRIM_THRESHOLD_=65536 also turns off
glibc's adaptive mmap threshold, so every array of 128 KiB or more is mapped afresh (None is
Dask's way to leave a variable out; a value already in this process's environment, where
Dask's nanny writes it, is still inherited; on two workers, inner searches took a fifth less
time without it: benchmarks/README.md, session 16). A cluster of your own (`--scheduler`)
keeps its settings."""


def local_cluster(n_workers: int) -> Any:
    """A Dask LocalCluster of `n_workers` single-threaded worker processes, no dashboard,
    `QUIET_WORKERS` settings."""
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set(QUIET_WORKERS):
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                            dashboard_address=None)


def _score(task: Task, population: Population, genomes: np.ndarray, ridge: float | None):
    """Worker entry point (module level, so every backend can import it)."""
    return task.fitness(population, genomes, ridge)


class Evaluator:
    """Scores populations with `task` on a persistent pool of `jobs` workers.

    backend: ``sequential`` (in process), ``threading`` (the kernels release the GIL),
    ``loky`` (processes) or ``dask`` (a Dask cluster: `scheduler` is its address, or empty
    for a local cluster of `jobs` worker processes). Use as a context manager. Calling it
    scores a population of `population` in chunks; `map` runs whole jobs (the inner
    searches of a search over cells, where `population` is None), one job per item.
    """

    def __init__(
        self,
        task: Task,
        population: Population | None,
        backend: str = "sequential",
        jobs: int = 1,
        scheduler: str = "",
    ) -> None:
        self.task = task
        self.population = population
        self.backend = backend
        self.jobs = jobs
        self.scheduler = scheduler
        self._stack = ExitStack()
        self._parallel: joblib.Parallel | None = None
        self._client: Any = None
        self.n_workers = 1

    def __enter__(self) -> Evaluator:
        if self.backend == "sequential":
            return self
        if self.backend == "dask":
            self.n_workers = self._start_dask()
            self._stack.enter_context(joblib.parallel_config(backend="dask"))
            self._parallel = self._stack.enter_context(joblib.Parallel(n_jobs=-1))
            return self
        self.n_workers = (os.cpu_count() or 1) if self.jobs < 0 else self.jobs
        self._parallel = self._stack.enter_context(
            joblib.Parallel(n_jobs=self.n_workers, backend=self.backend)
        )
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()
        self._parallel = self._client = None

    def __call__(
        self, genomes: np.ndarray, ridge: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """genomes (P, n_params) -> (fitness (P,), genomes as scored, readouts fitted)."""
        if self._parallel is None or self.n_workers <= 1 or len(genomes) < 2:
            return _score(self.task, self.population, genomes, ridge)
        chunks = [genomes[part] for part in chunk_slices(len(genomes), self.n_workers)]
        results = self._parallel(
            joblib.delayed(_score)(self.task, self.population, chunk, ridge) for chunk in chunks
        )
        fitness = np.concatenate([r[0] for r in results])
        scored = np.concatenate([r[1] for r in results])
        return fitness, scored

    def map(self, function: Callable[..., R], arguments: list[tuple[Any, ...]]) -> list[R]:
        """``[function(*args) for args in arguments]``, one job per item on the pool."""
        if self._parallel is None or self.n_workers <= 1 or len(arguments) < 2:
            return [function(*args) for args in arguments]
        if self._client is not None:
            # one Dask task per job, queued on the scheduler and handed to whichever worker
            # frees up first (joblib's Dask backend waits on its dispatch loop between jobs)
            futures = self._client.map(function, *zip(*arguments, strict=True), pure=False)
            return self._client.gather(futures)
        return list(self._parallel(joblib.delayed(function)(*args) for args in arguments))

    def _start_dask(self) -> int:
        try:
            from dask.distributed import Client
        except ImportError:
            raise EvolstmError(
                "backend dask needs dask and distributed: pip install 'evolstm[dask]'"
            ) from None
        if self.scheduler:
            try:
                client = Client(self.scheduler, timeout="10s")
            except OSError as error:
                raise EvolstmError(
                    f"--scheduler {self.scheduler}: cannot connect ({error})"
                ) from None
        else:
            n_workers = (os.cpu_count() or 1) if self.jobs < 0 else self.jobs
            cluster = local_cluster(n_workers)
            self._stack.callback(cluster.close)
            client = Client(cluster)
        self._stack.callback(client.close)
        self._client = client
        return max(1, sum(client.nthreads().values()))
