"""Multiple superimposed oscillations: y(n) = Σ_{k ≤ level} sin(α_k n), generated closed-loop.

Protocol of Evolino (Schmidhuber, Wierstra, Gagliolo & Gomez 2007, Neural Computation 19(3),
section on multiple superimposed oscillators): the cell reads y(n-1) and outputs ŷ(n);
n = 1..400 are the training steps, the first 100 a washout; the test is the next 300 steps
n = 401..700 run free after priming on n = 1..400, scored by NRMSE.

Fitness (the search never sees the test steps, nor — for the fitted readout — the steps it
is scored on): prime on n = 1..fit_steps (300), fit the readout on n = washout+1..fit_steps
(101..300) when Evolino asks for it, then run free on n = fit_steps+1..train_steps
(301..400); the fitness is the NRMSE of that free run (graded by default: the mean NRMSE of
its first 6, 12, 25, 50 and 100 steps, see `GeneratorTask`).

`test` also primes on 400 true steps starting at each of `later_starts` (n0 = 1000, 5000,
20000) and runs 300 steps free: a generator of the series must keep generating it from any
later stretch ("nrmse_later": the worst of these windows, "nrmse_later_mean" their mean).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from evolstm.cells.cell import Cell
from evolstm.tasks.generator import GeneratorTask, nrmse

# The frequency list of DESIGN.md; the first `level` of them are summed.
FREQUENCIES = (0.2, 0.311, 0.42, 0.51, 0.63, 0.74, 0.85, 0.97)
# Evolino's five sines: the fifth frequency is 0.74 (as in PyBrain's Evolino example).
EVOLINO_FREQUENCIES = (0.2, 0.311, 0.42, 0.51, 0.74)


@dataclasses.dataclass(frozen=True)
class MSOOptions:
    """level: number of sines summed (1-8); frequencies: α_k (radians per step);
    graded_fitness: see `GeneratorTask` (False: the plain NRMSE of the validation run)."""

    level: int = 2
    frequencies: tuple[float, ...] = FREQUENCIES
    train_steps: int = 400
    washout: int = 100
    fit_steps: int = 300
    test_steps: int = 300
    later_starts: tuple[int, ...] = (1000, 5000, 20000)
    graded_fitness: bool = True

    def validate(self) -> None:
        if not 1 <= self.level <= len(self.frequencies):
            raise ValueError(f"level: must be in 1..{len(self.frequencies)}, got {self.level}")
        if not 0 <= self.washout < self.fit_steps - 1:
            raise ValueError("washout: must be >= 0 and below fit_steps - 1")
        if not self.fit_steps < self.train_steps:
            raise ValueError("fit_steps: must be below train_steps (the rest is validation)")
        if self.test_steps < 1:
            raise ValueError("test_steps: must be >= 1")
        if any(start < 1 for start in self.later_starts):
            raise ValueError("later_starts: must be >= 1")


def mso_series(frequencies: tuple[float, ...], start: int, length: int) -> np.ndarray:
    """y(n) = Σ_k sin(α_k n) for n = start .. start + length - 1 -> (length, 1) float64."""
    steps = np.arange(start, start + length, dtype=np.float64)
    return np.sin(np.outer(steps, np.asarray(frequencies))).sum(axis=1)[:, None]


class MSO(GeneratorTask):
    """Evolino's multiple superimposed oscillations generator task."""

    name = "mso"
    Options = MSOOptions
    metric = "nrmse"

    def __init__(self, options: MSOOptions, seed: int) -> None:
        super().__init__(options, seed)
        options.validate()
        self.frequencies = tuple(options.frequencies[: options.level])
        self.washout = options.washout
        self.graded_fitness = options.graded_fitness
        self.fit_prime = options.fit_steps
        self.fit_window = self.window(0, options.fit_steps, options.train_steps - options.fit_steps)
        self.test_prime = options.train_steps
        self.test_window = self.window(0, options.train_steps, options.test_steps)

    def window(self, first_input: int, n_prime: int, n_free: int) -> np.ndarray:
        """(1, n_prime + 1 + n_free, 1): y(first_input) .. y(first_input + n_prime + n_free)."""
        return mso_series(self.frequencies, first_input, n_prime + 1 + n_free)[None]

    def test(self, cell: Cell) -> dict[str, float]:
        options = self.options
        free = self.free_run(cell, self.test_window, self.test_prime)
        metrics = {"nrmse": float(nrmse(self.test_window[:, self.test_prime + 1 :], free))}
        if options.later_starts:
            # Each later window primes on y(n0 - 1) .. y(n0 + 398), i.e. targets n0..n0+399.
            windows = np.concatenate([
                self.window(start - 1, options.train_steps, options.test_steps)
                for start in options.later_starts
            ])
            free = self.free_run(cell, windows, options.train_steps)
            truth = windows[:, options.train_steps + 1 :]
            per_window = [float(nrmse(truth[b : b + 1], free[b : b + 1])) for b in range(len(free))]
            metrics["nrmse_later"] = max(per_window)
            metrics["nrmse_later_mean"] = float(np.mean(per_window))
        return metrics
