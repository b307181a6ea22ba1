"""Batches of variable-length sequences: padding with a mask, masked scores, readout fits,
and the shared base of the tasks answered at the end of each sequence.

Every symbolic task feeds a whole set of sequences of different lengths to the population in
one `predict` call: the sequences are padded at the end into one (B, T, ·) array, and a
(B, T) bool mask says which steps are scored. Padding comes after each sequence's last step,
so (the cells being causal) it never changes a scored output, and the mask keeps it out of
every score.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from evolstm.cells import Population
from evolstm.cells.cell import Cell
from evolstm.tasks.base import Task, finite_or_worst
from evolstm.tasks.readout import fit_readout, with_readout


def pad(sequences: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sequences (T_b, F) -> (padded (B, T_max, F) float64, zero after each end; lengths (B,))."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    width = sequences[0].shape[1]
    padded = np.zeros((len(sequences), int(lengths.max()), width))
    for row, sequence in enumerate(sequences):
        padded[row, : len(sequence)] = sequence
    return padded, lengths


def length_mask(lengths: np.ndarray, n_steps: int) -> np.ndarray:
    """(B,) lengths -> (B, n_steps) bool, True on the first `length` steps of each row."""
    return np.arange(n_steps)[None, :] < np.asarray(lengths)[:, None]


def one_sided_error(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """How far outputs (..., O) fall short of 0/1 targets (..., O) on the wrong side.

    A target 1 wants the output >= 1 and a target 0 wants it <= 0; overshooting costs
    nothing, so a linear readout is not pushed to hit 0 and 1 exactly (the symbol tasks
    only read which side of 0.5 an output is on).
    """
    return np.where(targets > 0.5, np.minimum(outputs - 1.0, 0.0), np.maximum(outputs, 0.0))


def masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of values (P, B, T) over the steps where mask (B, T) is True -> (P,)."""
    return (values * mask).sum(axis=(1, 2)) / max(int(mask.sum()), 1)


def fitted_outputs(
    population: Population,
    genomes: np.ndarray,
    x: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray,
    ridge: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run genomes (P, n_params) on x (B, T, I) -> (outputs (P, B, T, O), genomes).

    With `ridge` not None the readout is first fitted on the masked steps
    (`evolstm.tasks.readout.fit_readout`) and the returned genomes carry it; otherwise
    they come back unchanged. A genome whose fit failed gets NaN outputs.
    """
    if ridge is None:
        return population.predict(genomes, x), np.asarray(genomes)
    hidden = np.asarray(population.states(genomes, x), dtype=np.float64)  # no copy in float64
    return apply_readout(population, genomes, hidden, *fit_readout(hidden, targets, mask, ridge))


def apply_readout(
    population: Population,
    genomes: np.ndarray,
    hidden: np.ndarray,
    weights: np.ndarray,
    biases: np.ndarray,
    ok: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Outputs (P, B, T, O) of fitted readouts (`fit_readout`'s weights, biases, ok) on
    hidden (P, B, T, H), NaN where the fit failed (scored as the worst fitness), and the
    genomes carrying the readouts."""
    outputs = np.einsum("pbth,poh->pbto", hidden, weights) + biases[:, None, None, :]
    outputs[~ok] = np.nan
    return outputs, with_readout(population, genomes, weights, biases)


def squared_shortfall(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Outputs (P, B, T, O), 0/1 targets (B, T, O) -> (P, B, T) summed `one_sided_error`²."""
    return (one_sided_error(outputs, targets) ** 2).sum(axis=-1)


def threshold_correct(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(..., B, T) bool: every output is on its 0/1 target's side of 0.5."""
    return np.all((outputs > 0.5) == (targets > 0.5), axis=-1)


def sequences_correct(step_correct: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """step_correct (..., B, T) bool, mask (B, T) -> (..., B): every scored step correct."""
    return np.all(step_correct | ~mask, axis=-1)


def error_plus_wrong_share(
    error: np.ndarray, step_correct: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """Fitness (P,) = mean error (P, B, T) + share of wrong steps over the masked steps.

    The error term is smooth; the share (in [0, 1]) rewards getting steps right outright.
    """
    return finite_or_worst(masked_mean(error, mask) + masked_mean(~step_correct, mask))


def check_sample_counts(options: Any) -> None:
    """Raise ValueError unless options' `n_train` and `n_test` are >= 1 and `n_criterion` >= 0."""
    for name, least in (("n_train", 1), ("n_test", 1), ("n_criterion", 0)):
        if getattr(options, name) < least:
            raise ValueError(f"{name}: must be >= {least}")


class SymbolSetTask(Task):
    """Next-symbol-set prediction over padded strings (languages, Reber grammar).

    Subclasses fill `x` (B, T, I), `targets` (B, T, O) 0/1 sets and `mask` (B, T) in
    __init__ and say what a correct step is (`step_correct`). Fitness: mean squared shortfall
    (`one_sided_error`) + share of wrongly predicted steps.
    """

    supports_readout_fit: ClassVar[bool] = True
    x: np.ndarray
    targets: np.ndarray
    mask: np.ndarray

    @staticmethod
    @abstractmethod
    def step_correct(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """outputs (..., B, T, O), targets (B, T, O) -> (..., B, T) bool."""

    def fitness(
        self, population: Population, genomes: np.ndarray, ridge: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        outputs, genomes = fitted_outputs(
            population, genomes, self.x, self.targets, self.mask, ridge
        )
        return self.score(outputs), genomes

    def score(self, outputs: np.ndarray) -> np.ndarray:
        """Fitness (P,) of outputs (P, B, T, O) on the training strings."""
        error = squared_shortfall(outputs, self.targets)
        step_correct = self.step_correct(outputs, self.targets)
        return error_plus_wrong_share(error, step_correct, self.mask)


@dataclasses.dataclass
class LastStepData:
    """Sequences answered at their last step: x (B, T, I) zero-padded, targets (B, T, O)
    nonzero only at each last step, mask (B, T) True only there, lags (B,) the distance
    in steps between the sequence's first and last relevant inputs."""

    x: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    lags: np.ndarray


class LastStepTask(Task):
    """A long-lag task (Hochreiter & Schmidhuber 1997): the answer is due at the end.

    Subclasses write `sample(rng, count)` and set `tolerance`: a sequence is correct when
    every output's absolute error at its last step is below it. Options need `n_train`,
    `n_test` and `n_criterion` (the fresh sequences the stopping criterion checks; 0: the
    training sequences), checked by `check_sample_counts`.
    Training data are kept; test and criterion data are drawn again from the seed when
    needed, so the task stays small to ship to workers.
    """

    tolerance: ClassVar[float]
    metric: ClassVar[str] = "test_correct"
    supports_readout_fit: ClassVar[bool] = True
    has_criterion: ClassVar[bool] = True

    def __init__(self, options: Any, seed: int) -> None:
        super().__init__(options, seed)
        self.train = self.sample(np.random.default_rng([seed, 0]), options.n_train)

    @abstractmethod
    def sample(self, rng: np.random.Generator, count: int) -> LastStepData:
        """`count` fresh sequences drawn from rng."""

    def test_data(self) -> LastStepData:
        return self.sample(np.random.default_rng([self.seed, 1]), self.options.n_test)

    def fitness(
        self, population: Population, genomes: np.ndarray, ridge: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean squared error at the last steps + share of sequences not correct."""
        data = self.train
        outputs, genomes = fitted_outputs(
            population, genomes, data.x, data.targets, data.mask, ridge
        )
        return self.score(outputs), genomes

    def score(self, outputs: np.ndarray) -> np.ndarray:
        """Fitness (P,) of outputs (P, B, T, O) on the training sequences."""
        error = ((outputs - self.train.targets) ** 2).sum(axis=-1)
        correct = self._correct(outputs, self.train)
        return error_plus_wrong_share(error, correct, self.train.mask)

    def solves(self, population: Population, genomes: np.ndarray) -> np.ndarray:
        """All of `n_criterion` fresh sequences (drawn from the seed) correct; with
        `n_criterion` 0, all of the training sequences."""
        data = (self.sample(np.random.default_rng([self.seed, 2]), self.options.n_criterion)
                if self.options.n_criterion else self.train)
        outputs = population.predict(genomes, data.x)
        return sequences_correct(self._correct(outputs, data), data.mask).all(axis=1)

    def test(self, cell: Cell) -> dict[str, float]:
        data = self.test_data()
        outputs = cell.predict(data.x)
        correct = sequences_correct(self._correct(outputs, data), data.mask)
        return {
            "test_correct": float(correct.mean()),
            "test_wrong": float((~correct).sum()),
            "test_abs_error": float(self._end_error(outputs, data).mean()),
        }

    def plot(self, cell: Cell, ax: Any) -> None:
        """Absolute error at the end of each test sequence against its lag."""
        data = self.test_data()
        error = self._end_error(cell.predict(data.x), data)
        ax.scatter(data.lags, error, s=4)
        ax.axhline(self.tolerance, color="red", lw=0.8, label="tolerance")
        ax.set_xlabel("lag between the relevant inputs (steps)")
        ax.set_ylabel("absolute error at the end (largest output)")
        ax.set_title(f"{self.name}: error against the lag")
        ax.legend()

    def _correct(self, outputs: np.ndarray, data: LastStepData) -> np.ndarray:
        """outputs (..., B, T, O) -> (..., B, T) bool: every output within the tolerance."""
        return np.all(np.abs(outputs - data.targets) < self.tolerance, axis=-1)

    @staticmethod
    def _end_error(outputs: np.ndarray, data: LastStepData) -> np.ndarray:
        """outputs (B, T, O) -> (B,) largest absolute output error at each last step."""
        return np.abs(outputs - data.targets).max(axis=-1)[data.mask]
