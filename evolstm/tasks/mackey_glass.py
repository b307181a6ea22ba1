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

Fitness: prime on the training steps (readout fitted after the washout when Evolino asks),
then the NRMSE of the next `horizon` free-running steps, which no fit has seen (graded by
default, see `GeneratorTask`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from evolstm.cells.cell import Cell
from evolstm.tasks.generator import GeneratorTask, nrmse


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

    def validate(self) -> None:
        if self.tau < 1 or self.substeps < 1:
            raise ValueError("tau: tau and substeps must be >= 1")
        if not 0 <= self.washout < self.train_steps - 1:
            raise ValueError("washout: must be >= 0 and below train_steps - 1")
        if self.horizon < 1 or self.test_runs < 1 or self.test_prime < 2:
            raise ValueError("horizon: horizon, test_runs must be >= 1 and test_prime >= 2")
        if self.test_stride < 1:
            raise ValueError("test_stride: must be >= 1")


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
