"""Mackey-Glass τ = 17, generated closed-loop; metric NRMSE at horizon 84 (Jaeger & Haas 2004).

Series: dy/dt = 0.2·y(t-τ)/(1 + y(t-τ)^10) - 0.1·y(t) (Mackey & Glass 1977), y = x0 = 1.2 for
t <= 0, integrated by classical RK4 with step 1/substeps (τ/step is an integer, so the
delayed values of the full steps lie on the grid; the half-step ones come from 4-point
cubic interpolation, keeping 4th order), the first `transient` time units discarded, then
sampled every time unit. `squash` applies Jaeger & Haas's transform tanh(y - 1).

Protocol, after Jaeger (2001, GMD Report 148) and Jaeger & Haas (2004, Science 304:78-80),
whose ESN reports log10 NRMSE84 ≈ -4.2: teacher-forced training on `train_steps` steps (the
first `washout` discarded), then free running. NRMSE84 = sqrt(mean_k (y_k(84) - ŷ_k(84))² /
σ²) over `test_runs` (50) test starts, σ² the variance of the series, each run primed by
`test_prime` true steps. Here the test starts are later stretches of the same trajectory
(`test_stride` steps apart, all after the training and validation data) rather than fresh
initial conditions: the attractor is chaotic, so they are effectively independent.

Fitness (`validation_windows` = 1, the default): prime on the training steps (readout
fitted after the washout when Evolino asks), then the NRMSE of the next `horizon`
free-running steps, which no fit has seen (graded by default, see `GeneratorTask`). One
84-step stretch is easily overfitted: a search reached 0.0066 on it and 0.29 on the test.

With `validation_windows` = K > 1 the fitness scores K disjoint, back-to-back free-running
windows of `horizon` steps that end where the single window would (so the test starts do not
move): the cell is teacher-forced through the whole training stretch, the readout is fitted
on the steps after the washout and before the first window's free run (the last
(K - 1)·horizon training steps are not fitted), and each window starts from the
teacher-forced state at its start; the K free runs go as one batch. The fitness is the
graded NRMSE (as above, when `graded_fitness`) over all K windows, normalised by the
series' variance.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from evolstm.cells import Population
from evolstm.cells.cell import Cell
from evolstm.tasks.base import finite_or_worst
from evolstm.tasks.generator import GeneratorTask, nrmse
from evolstm.tasks.readout import fit_readout, with_readout


@dataclasses.dataclass(frozen=True)
class MackeyGlassOptions:
    """tau: delay; substeps: RK4 steps per time unit; transient: time units discarded."""

    tau: int = 17
    substeps: int = 10
    transient: int = 1000
    x0: float = 1.2
    squash: bool = False
    train_steps: int = 3000
    washout: int = 1000
    horizon: int = 84
    test_runs: int = 50
    test_prime: int = 1000
    test_stride: int = 100
    graded_fitness: bool = True
    validation_windows: int = 1

    def validate(self) -> None:
        if self.tau < 1 or self.substeps < 1:
            raise ValueError("tau: tau and substeps must be >= 1")
        if not 0 <= self.washout < self.train_steps - 1:
            raise ValueError("washout: must be >= 0 and below train_steps - 1")
        if self.horizon < 1 or self.test_runs < 1 or self.test_prime < 2:
            raise ValueError("horizon: horizon, test_runs must be >= 1 and test_prime >= 2")
        if self.test_stride < 1:
            raise ValueError("test_stride: must be >= 1")
        if self.validation_windows < 1:
            raise ValueError("validation_windows: must be >= 1")
        if self.washout + 2 > self.train_steps - (self.validation_windows - 1) * self.horizon:
            raise ValueError(
                "validation_windows: the windows leave no fitted steps after the washout"
            )


def mackey_glass(
    n_samples: int, tau: int = 17, substeps: int = 10, transient: int = 1000, x0: float = 1.2
) -> np.ndarray:
    """(n_samples,) Mackey-Glass series sampled at unit times after `transient` units."""
    dt = 1.0 / substeps
    lag = tau * substeps  # delay in grid steps
    total = (transient + n_samples - 1) * substeps
    y = np.empty(lag + total + 1)
    y[: lag + 1] = x0  # constant history on [-tau, 0]

    def rate(now: float, delayed: float) -> float:
        return 0.2 * delayed / (1.0 + delayed**10) - 0.1 * now

    for k in range(lag, lag + total):
        d0, d1 = y[k - lag], y[k - lag + 1]
        d_before = y[k - lag - 1] if k - lag >= 1 else d0
        d_half = (9.0 * (d0 + d1) - d_before - y[k - lag + 2]) / 16.0
        now = y[k]
        k1 = rate(now, d0)
        k2 = rate(now + 0.5 * dt * k1, d_half)
        k3 = rate(now + 0.5 * dt * k2, d_half)
        k4 = rate(now + dt * k3, d1)
        y[k + 1] = now + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
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
        first_test = fit_length  # test windows start after every step the search may see
        starts = first_test + options.test_stride * np.arange(options.test_runs)
        test_length = options.test_prime + 1 + options.horizon
        series = mackey_glass(
            int(starts[-1]) + test_length, options.tau, options.substeps, options.transient,
            options.x0,
        )
        if options.squash:
            series = np.tanh(series - 1.0)
        self.variance = np.array([series.var()])
        self.washout = options.washout
        self.graded_fitness = options.graded_fitness
        self.fit_prime = options.train_steps
        self.fit_window = series[None, :fit_length, None]
        self.test_prime = options.test_prime
        self.test_windows = np.stack([series[s : s + test_length] for s in starts])[:, :, None]
        self.test_window = self.test_windows[:1]
        self.validation_windows = options.validation_windows
        self.horizon = options.horizon

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

        Window k reads the true series up to step c_k - 1, with c_k = c_0 + k·horizon and
        c_0 = train_steps - (K - 1)·horizon, then runs free on steps c_k + 1 … c_k + horizon
        (as `teacher_forced_then_free` with n_prime = c_k). Returns fitness (P,), genomes.
        """
        series = self.fit_window  # (1, train_steps + 1 + horizon, 1)
        n_windows, horizon = self.validation_windows, self.horizon
        first = self.fit_prime - (n_windows - 1) * horizon  # c_0
        primes = first + horizon * np.arange(n_windows)  # c_k
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

    def test(self, cell: Cell) -> dict[str, float]:
        free = self.free_run(cell, self.test_windows, self.test_prime)  # (runs, horizon, 1)
        truth = self.test_windows[:, self.test_prime + 1 :]
        with np.errstate(all="ignore"):
            at_horizon = nrmse(truth[:, -1:], free[:, -1:], self.variance)
            whole = nrmse(truth, free, self.variance)
        value = float(at_horizon)
        return {
            "nrmse84": value,
            "log10_nrmse84": math.log10(value) if value > 0 else -math.inf,
            "nrmse": float(whole),
        }
