"""CMA-ES through pycma (Hansen's `cma` package), with optional sep-CMA and IPOP restarts.

pycma draws its samples through its ``randn`` option; this wrapper gives it a RandomState of
its own (the stream ``np.random.seed(seed)`` would give pycma's default), so the search depends
on its seed alone and NumPy's global random state is left alone (swapping the global state in
and out around each pycma call instead would cost ~0.4 ms a generation). pycma is imported
when a search first uses it: importing it loads matplotlib and scipy.stats (~1.5 s), which
`import evolstm`, `evolstm eval` and cell loading do not need.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np

from evolstm.algorithms.base import Algorithm, Progress


@dataclasses.dataclass(frozen=True)
class CMAESOptions:
    """population: lambda (0: pycma's default 4 + 3 ln n); sigma0: initial step size;
    sep: diagonal covariance (sep-CMA, linear cost in n); restarts: IPOP restarts, each
    doubling the population; tolfun, tolx: pycma's termination tolerances; stagnation:
    also restart when the best fitness of the current start has not improved for this many
    generations (0: off; pycma's own `tolstagnation` waits hundreds of generations)."""

    population: int = 0
    sigma0: float = 0.5
    sep: bool = False
    restarts: int = 0
    tolfun: float = 1e-11
    tolx: float = 1e-11
    stagnation: int = 0

    def validate(self) -> None:
        if self.population < 0 or self.population == 1:
            raise ValueError("population: must be 0 (default) or >= 2")
        if self.sigma0 <= 0:
            raise ValueError("sigma0: must be > 0")
        if self.restarts < 0:
            raise ValueError("restarts: must be >= 0")
        if self.stagnation < 0:
            raise ValueError("stagnation: must be >= 0 (0: off)")


class CMAES(Algorithm):
    """CMA-ES (Hansen & Ostermeier 2001) from pycma; x0 ~ N(0, init_scale²)."""

    name = "cmaes"
    Options = CMAESOptions

    def __init__(self, options: CMAESOptions, n_params: int, seed: int,
                 init_scale: float | np.ndarray) -> None:
        super().__init__(options, n_params, seed, init_scale)
        self._rng = np.random.default_rng(seed)
        self._x0 = self._rng.normal(0.0, init_scale, n_params)
        self._restart = 0
        self._asked: np.ndarray | None = None
        self._popsize = options.population or 4 + int(3 * np.log(n_params))
        self._start()

    def _start(self) -> None:
        import cma  # noqa: PLC0415 - heavy, see the module docstring

        self._progress = Progress(self.options.stagnation)  # of this start
        seed = int(self._rng.integers(1, 2**31 - 1))
        opts: dict[str, Any] = {
            "seed": float("nan"),  # pycma then leaves np.random alone; it draws from randn
            "randn": np.random.RandomState(seed).randn,
            "popsize": self._popsize,
            "CMA_diagonal": self.options.sep,
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
            "tolfun": self.options.tolfun,
            "tolx": self.options.tolx,
        }
        self._es = self._pycma(cma.CMAEvolutionStrategy, self._x0, self.options.sigma0, opts)

    @staticmethod
    def _pycma(method: Any, *args: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return method(*args)

    def ask(self) -> np.ndarray:
        """The population to evaluate next; asking again before `tell` returns the same one."""
        if self._asked is None:
            if self._stop_reasons() and self._restart < self.options.restarts:
                self._restart += 1
                self._popsize *= 2
                self._start()
            self._asked = np.array(self._pycma(self._es.ask), dtype=np.float64)
        return self._asked.copy()

    def tell(self, genomes: np.ndarray, fitness: np.ndarray) -> dict[str, float]:
        self._asked = None
        self._pycma(self._es.tell, list(genomes), [float(f) for f in fitness])
        self._progress.update(genomes, fitness)
        return {"sigma": float(self._es.sigma), "restart": float(self._restart)}

    def stop(self) -> str | None:
        if self._restart < self.options.restarts:
            return None
        return ", ".join(f"{key}={value}" for key, value in self._stop_reasons().items()) or None

    def _stop_reasons(self) -> dict[str, Any]:
        """pycma's termination reasons, plus ``stagnation`` when it applies."""
        reasons = dict(self._es.stop())
        if self._progress.stagnating:
            reasons["stagnation"] = self._progress.stale
        return reasons

    def describe(self) -> dict[str, Any]:
        return {"sigma": float(self._es.sigma), "restarts_used": self._restart}
