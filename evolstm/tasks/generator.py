"""Teacher-forced generator tasks: learn y(n) from y(n-1), then run closed-loop.

The protocol of Evolino (Schmidhuber et al. 2007) and of echo state networks (Jaeger 2001):
the cell reads the true series y(n-1) and outputs ŷ(n) for a *prime* stretch (the first
`washout` steps are only there to forget the zero initial state); then it runs free, each
step reading its own previous output. With Evolino (``ridge`` not None) the readout is fitted
by least squares on the primed steps after the washout, and scored on the free-running ones.

A *window* is a true stretch y(s), y(s+1), …, y(s + n_prime + n_free) as an array
(B, n_prime + 1 + n_free, D): the cell reads window[:, :n_prime], is fitted to
window[:, 1:n_prime+1], then generates n_free outputs compared with window[:, n_prime+1:].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evolstm.cells import Population
from evolstm.cells.cell import Cell
from evolstm.tasks.base import Task, finite_or_worst
from evolstm.tasks.readout import fit_readout, with_readout

# Free-running outputs are clipped to ±OUTPUT_CLIP before errors are squared, so an
# exploding generator gets a huge but finite error instead of an overflow.
OUTPUT_CLIP = 1.0e6


def nrmse(
    truth: np.ndarray, prediction: np.ndarray, variance: np.ndarray | None = None
) -> np.ndarray:
    """Normalised root mean squared error sqrt(mean((y - ŷ)²) / var(y)).

    truth: (B, T, O); prediction: (..., B, T, O). Means and the variance run over B and T
    for each output (``variance`` (O,) overrides var(y)), then the normalised squared
    errors are averaged over outputs. Returns an array of the leading shape (...).
    """
    truth = np.asarray(truth, dtype=np.float64)
    prediction = np.clip(np.asarray(prediction, dtype=np.float64), -OUTPUT_CLIP, OUTPUT_CLIP)
    if variance is None:
        variance = truth.reshape(-1, truth.shape[-1]).var(axis=0)
    mse = ((prediction - truth) ** 2).mean(axis=(-3, -2))
    return np.sqrt((mse / variance).mean(axis=-1))


def teacher_forced_then_free(
    population: Population,
    genomes: np.ndarray,
    window: np.ndarray,
    n_prime: int,
    washout: int,
    ridge: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prime every genome on the windows, fit its readout if asked, then run it free.

    genomes (P, n_params); window (B, n_prime + 1 + n_free, D). With ``ridge`` not None
    the readout is fitted (penalty ``ridge``) on primed steps washout..n_prime-1.
    Returns genomes (P, n_params) (readout replaced when fitted), free-running outputs
    (P, B, n_free, D) and ok (P,) (False where the readout fit failed).
    """
    window = np.asarray(window, dtype=np.float64)
    n_free = window.shape[1] - n_prime - 1
    if n_prime < 2 or n_free < 1 or not 0 <= washout < n_prime:
        raise ValueError(f"bad window: n_prime={n_prime}, washout={washout}, n_free={n_free}")
    inputs, targets = window[:, :n_prime], window[:, 1 : n_prime + 1]
    fit = ridge is not None
    # All but the last primed step; the free run restarts from this state so that its first
    # step reads the last true input and every later one the cell's own output.
    head = population.run(genomes, inputs[:, :-1], keep_hidden=fit)
    ok = np.ones(len(genomes), dtype=bool)
    if fit:
        last = population.run(genomes, inputs[:, -1:], keep_hidden=True, state=head.state)
        hidden = np.concatenate([head.hidden, last.hidden], axis=2)
        mask = np.arange(n_prime) >= washout
        weight, bias, ok = fit_readout(hidden, targets, mask, ridge)
        genomes = with_readout(population, genomes, weight, bias)
    free = population.run(genomes, inputs[:, -1:], n_generate=n_free, state=head.state)
    return genomes, free.outputs[:, :, 1:], ok


class GeneratorTask(Task):
    """Base of generator tasks. Subclasses set, in ``__init__``:

    ``fit_window`` (B, n + 1 + m, D) with ``fit_prime`` n and ``washout``: the fitness is
    the NRMSE of the m free-running steps (data the readout was not fitted on); with
    ``graded_fitness`` it is the mean of the NRMSEs of the first m/16, m/8, m/4, m/2 and m
    free steps (all normalised by the variance of the m steps), which rewards a generator
    for every step it keeps on track: the plain NRMSE of a long free run is ~1 for nearly
    every network that drifts, a plateau evolution cannot climb;
    ``test_window`` (1, n' + 1 + m', D) with ``test_prime`` n': the stretch `plot` draws.
    """

    supports_readout_fit = True
    metric = "nrmse"
    metric_higher_is_better = False
    fit_window: np.ndarray
    fit_prime: int
    washout: int
    graded_fitness: bool = False
    test_window: np.ndarray
    test_prime: int

    @property
    def n_in(self) -> int:  # type: ignore[override]
        return self.fit_window.shape[-1]

    @property
    def n_out(self) -> int:  # type: ignore[override]
        return self.fit_window.shape[-1]

    def fitness(
        self, population: Population, genomes: np.ndarray, ridge: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        genomes, free, ok = teacher_forced_then_free(
            population, genomes, self.fit_window, self.fit_prime, self.washout, ridge
        )
        truth = self.fit_window[:, self.fit_prime + 1 :]
        n_free = truth.shape[1]
        horizons = [n_free]
        if self.graded_fitness:
            horizons = sorted({max(1, n_free // 2**k) for k in range(5)})
        variance = truth.reshape(-1, truth.shape[-1]).var(axis=0)
        with np.errstate(all="ignore"):
            score = np.mean(
                [nrmse(truth[:, :h], free[:, :, :h], variance) for h in horizons], axis=0
            )
        score[~ok] = np.inf
        return finite_or_worst(score), genomes

    def free_run(self, cell: Cell, window: np.ndarray, n_prime: int) -> np.ndarray:
        """The cell's free-running outputs (B, n_free, D) after priming on the windows."""
        genome = cell.genome[None].astype(np.float64)
        free = teacher_forced_then_free(cell.population, genome, window, n_prime, 0, None)[1]
        return free[0]

    def plot(self, cell: Cell, ax: Any) -> None:
        """Truth and free-running prediction over the test stretch (first output)."""
        truth = self.test_window[0, self.test_prime + 1 :, 0]
        generated = self.free_run(cell, self.test_window, self.test_prime)[0, :, 0]
        steps = np.arange(len(truth)) + 1
        ax.plot(steps, truth, label="truth", color="black", linewidth=1.0)
        ax.plot(steps, generated, label="free-running", color="tab:red", linewidth=1.0,
                linestyle="--")
        ax.set_xlabel("free-running step")
        ax.set_title(f"{self.name}: test stretch")
        ax.legend(loc="upper right")
