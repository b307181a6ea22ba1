"""Mackey-Glass τ = 17, generated closed-loop; metric NRMSE84 (Jaeger 2001; Jaeger & Haas 2004).

Series: dy/dt = 0.2·y(t-τ)/(1 + y(t-τ)^10) - 0.1·y(t) (Mackey & Glass 1977), y = x0 = 1.2 for
t <= 0, integrated with step 1/substeps, the first `transient` time units discarded, then
sampled every time unit. By default (`integrator` = "euler", `substeps` = 10) this is the
series of Jaeger (2001, GMD Report 148, §6.1, eq. 23): the Euler map
y(k+1) = y(k) + δ·(0.2·y(k-τ/δ)/(1 + y(k-τ/δ)^10) - 0.1·y(k)) with δ = 1/10, subsampled by
10. `integrator` = "rk4" integrates the equation itself instead, by classical RK4 (the
delayed values of the full steps lie on the grid since τ/δ is an integer; the half-step ones
come from 4-point cubic interpolation, keeping 4th order). The two are different
discretisations of the same attractor, not the same trajectory.

Protocol of Jaeger (2001, §6.3-6.4), which Jaeger & Haas (2004, Science 304:78-80) and
Evolino (Schmidhuber et al. 2007) report: the network sees the series shifted and squashed,
tanh(y - 1) (`squash`); it is teacher-forced on `train_steps` = 3000 steps, the first
`washout` = 1000 discarded before the readout is fitted; NRMSE84 is measured on `test_runs`
runs, each teacher-forced on `test_prime` = 1000 true steps and then running free, the error
taken `horizon` = 84 steps after the last true value the network read, after transforming
back to the original coordinates (y = 1 + artanh(ŷ)):
NRMSE84 = sqrt(Σ_i (y_i(n+84) - ŷ_i(n+84))² / (runs·σ²)), σ² the variance of the original
series. The test windows are consecutive, non-overlapping stretches of `test_prime` +
`horizon` steps of one long run after the training data (Jaeger's "50 subsequent 1084-step
evolutions of a 50 × 1084 run"; `test_stride` > 0 spaces their starts otherwise).

Fitness (`validation_windows` = 1, the default): prime on the training steps (readout
fitted after the washout when Evolino asks), then the NRMSE of the next `horizon`
free-running steps, which no fit has seen (graded by default, see `GeneratorTask`), in the
coordinates the network sees. One 84-step stretch is easily overfitted: a search reached
0.0066 on it and 0.29 on the test.

With `validation_windows` = K > 1 the fitness scores K free-running windows of `horizon`
steps, their starts `validation_stride` steps apart (0: `horizon`, i.e. disjoint and back to
back; a smaller stride gives more, overlapping windows from more starting states over the
same data), the last ending where the single window would (so the test starts do not move):
the cell is teacher-forced through the whole training stretch, the readout is fitted on the
steps after the washout and before the first window's free run (the last (K - 1)·stride
training steps are not fitted), and each window starts from the
teacher-forced state at its start; the K free runs go as one batch. The fitness is the
graded NRMSE (as above, when `graded_fitness`) over all K windows, normalised by the
variance of the series the network sees.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numba
import numpy as np

from evolstm.cells import Population
from evolstm.cells.cell import Cell
from evolstm.cells.kernels import JIT
from evolstm.tasks.base import finite_or_worst
from evolstm.tasks.generator import GeneratorTask, nrmse
from evolstm.tasks.readout import fit_readout, with_readout

# Free-running outputs of a squashed series are clipped into (-1, 1) by this margin before
# artanh, so a generator that leaves the range gets a large but finite error.
ARTANH_MARGIN = 1.0e-12


@dataclasses.dataclass(frozen=True)
class MackeyGlassOptions:
    """tau: delay; integrator, substeps (steps per time unit), transient (time units
    discarded), x0: the series; the rest: the protocol (see the module docstring)."""

    tau: int = 17
    integrator: Literal["euler", "rk4"] = "euler"
    substeps: int = 10
    transient: int = 1000
    x0: float = 1.2
    squash: bool = True
    train_steps: int = 3000
    washout: int = 1000
    horizon: int = 84
    test_runs: int = 50
    test_prime: int = 1000
    test_stride: int = 0  # 0: back-to-back windows of test_prime + horizon steps
    graded_fitness: bool = True
    validation_windows: int = 1
    validation_stride: int = 0  # 0: back-to-back validation windows (stride = horizon)

    def validate(self) -> None:
        if self.tau < 1 or self.substeps < 1:
            raise ValueError("tau: tau and substeps must be >= 1")
        if not 0 <= self.washout < self.train_steps - 1:
            raise ValueError("washout: must be >= 0 and below train_steps - 1")
        if self.horizon < 2 or self.test_runs < 1 or self.test_prime < 2:
            raise ValueError("horizon: horizon and test_prime must be >= 2, test_runs >= 1")
        if self.test_stride < 0:
            raise ValueError("test_stride: must be >= 0 (0: back-to-back windows)")
        if self.validation_windows < 1:
            raise ValueError("validation_windows: must be >= 1")
        if self.validation_stride < 0:
            raise ValueError("validation_stride: must be >= 0 (0: back-to-back windows)")
        stride = self.validation_stride or self.horizon
        if self.washout + 2 > self.train_steps - (self.validation_windows - 1) * stride:
            raise ValueError(
                "validation_windows: the windows leave no fitted steps after the washout"
            )


@numba.njit(**JIT)
def _rate(now: float, delayed: float) -> float:
    """dy/dt of Mackey-Glass (β = 0.2, γ = 0.1, n = 10) at y(t) = now, y(t - τ) = delayed."""
    return 0.2 * delayed / (1.0 + delayed**10) - 0.1 * now


@numba.njit(**JIT)
def _euler(y: np.ndarray, lag: int, dt: float) -> None:
    """Fill y[lag + 1:] by Euler steps of size dt; y[:lag + 1] holds the history on [-τ, 0]."""
    for k in range(lag, len(y) - 1):
        y[k + 1] = y[k] + dt * _rate(y[k], y[k - lag])


@numba.njit(**JIT)
def _rk4(y: np.ndarray, lag: int, dt: float) -> None:
    """Fill y[lag + 1:] by RK4 steps of size dt, half-step delays by cubic interpolation."""
    for k in range(lag, len(y) - 1):
        d0, d1 = y[k - lag], y[k - lag + 1]
        d_before = y[k - lag - 1] if k - lag >= 1 else d0
        d_half = (9.0 * (d0 + d1) - d_before - y[k - lag + 2]) / 16.0
        now = y[k]
        k1 = _rate(now, d0)
        k2 = _rate(now + 0.5 * dt * k1, d_half)
        k3 = _rate(now + 0.5 * dt * k2, d_half)
        k4 = _rate(now + dt * k3, d1)
        y[k + 1] = now + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def mackey_glass(
    n_samples: int, tau: int = 17, substeps: int = 10, transient: int = 1000, x0: float = 1.2,
    integrator: str = "euler",
) -> np.ndarray:
    """(n_samples,) Mackey-Glass series y(transient), y(transient + 1), … (unit sampling)."""
    lag = tau * substeps  # delay in integration steps
    total = (transient + n_samples - 1) * substeps
    y = np.empty(lag + total + 1)
    y[: lag + 1] = x0  # constant history on [-tau, 0]
    step = {"euler": _euler, "rk4": _rk4}[integrator]
    step(y, lag, 1.0 / substeps)
    return y[lag + transient * substeps :: substeps][:n_samples].copy()


class MackeyGlass(GeneratorTask):
    """Mackey-Glass τ = 17 generator task, NRMSE84 on 50 free-running test runs."""

    name = "mackey_glass"
    Options = MackeyGlassOptions
    metric = "nrmse84"

    def __init__(self, options: MackeyGlassOptions, seed: int) -> None:
        super().__init__(options, seed)
        options.validate()
        fit_length = options.train_steps + 1 + options.horizon
        test_length = options.test_prime + options.horizon
        stride = options.test_stride or test_length
        starts = fit_length + stride * np.arange(options.test_runs)  # after all search data
        original = mackey_glass(
            int(starts[-1]) + test_length, options.tau, options.substeps, options.transient,
            options.x0, options.integrator,
        )
        self.squash = options.squash
        series = np.tanh(original - 1.0) if options.squash else original
        self.variance = np.array([series.var()])  # of what the network sees: the fitness
        self.original_variance = np.array([original.var()])  # σ² of NRMSE84
        self.washout = options.washout
        self.graded_fitness = options.graded_fitness
        self.fit_prime = options.train_steps
        self.fit_window = series[None, :fit_length, None]
        self.test_prime = options.test_prime
        self.test_windows = np.stack([series[s : s + test_length] for s in starts])[:, :, None]
        self.test_window = self.test_windows[:1]
        self.validation_windows = options.validation_windows
        self.horizon = options.horizon

    def to_original(self, values: np.ndarray) -> np.ndarray:
        """Values in the network's coordinates -> the series' own: 1 + artanh(v) if squashed."""
        values = np.asarray(values, dtype=np.float64)
        if not self.squash:
            return values
        margin = 1.0 - ARTANH_MARGIN
        with np.errstate(invalid="ignore"):
            return 1.0 + np.arctanh(np.clip(values, -margin, margin))

    def fitness(
        self, population: Population, genomes: np.ndarray, ridge: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.validation_windows == 1:
            return super().fitness(population, genomes, ridge)
        return self._windows_fitness(population, genomes, ridge)

    def _windows_fitness(
        self, population: Population, genomes: np.ndarray, ridge: float | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Graded NRMSE over `validation_windows` free runs (see the module docstring).

        Window k reads the true series up to step c_k - 1, with c_k = c_0 + k·stride and
        c_0 = train_steps - (K - 1)·stride, then runs free on steps c_k + 1 … c_k + horizon
        (as `teacher_forced_then_free` with n_prime = c_k). Returns fitness (P,), genomes.
        """
        series = self.fit_window  # (1, train_steps + 1 + horizon, 1)
        n_windows, horizon = self.validation_windows, self.horizon
        stride = self.options.validation_stride or horizon
        first = self.fit_prime - (n_windows - 1) * stride  # c_0
        primes = first + stride * np.arange(n_windows)  # c_k
        fit = ridge is not None
        run = population.run(genomes, series[:, : first - 1], keep_hidden=fit)
        ok = np.ones(len(genomes), dtype=bool)
        if fit:
            last = population.run(genomes, series[:, first - 1 : first], keep_hidden=True,
                                  state=run.state)
            hidden = np.concatenate([run.hidden, last.hidden], axis=2)
            mask = np.arange(first) >= self.washout
            weight, bias, ok = fit_readout(hidden, series[:, 1 : first + 1], mask, ridge)
            genomes = with_readout(population, genomes, weight, bias)
        states = [run.state]  # state after reading c_k - 1 true steps, for each window
        for begin, end in zip(primes[:-1] - 1, primes[1:] - 1, strict=True):
            states.append(population.run(genomes, series[:, begin:end], state=states[-1]).state)
        last_inputs = series[0, primes - 1][:, None, :]  # (K, 1, 1)
        free = population.run(genomes, last_inputs, n_generate=horizon,
                              state=np.concatenate(states, axis=1)).outputs[:, :, 1:]
        truth = np.stack([series[0, c + 1 : c + 1 + horizon] for c in primes])  # (K, h, 1)
        horizons = [horizon]
        if self.graded_fitness:
            horizons = sorted({max(1, horizon // 2**k) for k in range(5)})
        with np.errstate(all="ignore"):
            score = np.mean(
                [nrmse(truth[:, :h], free[:, :, :h], self.variance) for h in horizons], axis=0
            )
        score[~ok] = np.inf
        return finite_or_worst(score), genomes

    def test_metrics(self, free: np.ndarray) -> dict[str, float]:
        """NRMSE84 (and the NRMSE over every free step) of free runs (runs, horizon - 1, 1).

        `free` is what `free_run` gives on `test_windows` primed by `test_prime` steps: its
        last step is `horizon` steps after the last true value read. Both errors are taken
        in the series' own coordinates and normalised by its variance σ².
        """
        truth = self.to_original(self.test_windows[:, self.test_prime + 1 :])
        free = self.to_original(free)
        with np.errstate(all="ignore"):
            at_horizon = nrmse(truth[:, -1:], free[:, -1:], self.original_variance)
            whole = nrmse(truth, free, self.original_variance)
        value = float(at_horizon)
        return {
            "nrmse84": value,
            "log10_nrmse84": math.log10(value) if value > 0 else -math.inf,
            "nrmse": float(whole),
        }

    def test(self, cell: Cell) -> dict[str, float]:
        return self.test_metrics(self.free_run(cell, self.test_windows, self.test_prime))
