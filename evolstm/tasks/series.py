"""A user's time series (CSV or NPY): predict every column `horizon` steps ahead.

The file holds one row per time step: a CSV with a header row and one column per variable,
or a 2-D ``.npy`` array (T, D) (1-D is one variable; columns are then named by index).
The cell reads x(t) (the chosen columns) and outputs x(t + horizon), teacher-forced over the
whole series. The steps are split by time into train, validation and test fractions: the
readout (Evolino) is fitted on the training targets after `washout` steps, the fitness is the
NRMSE on the validation targets and the test metric the NRMSE on the test targets, each
normalised by the variance of its own stretch. Scores are taken on the one run over the
whole series, so the state at the test part has seen everything before it.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from evolstm.cells import Population
from evolstm.cells.cell import Cell
from evolstm.errors import EvolstmError
from evolstm.tasks.base import Task, finite_or_worst
from evolstm.tasks.generator import nrmse
from evolstm.tasks.readout import fit_readout, with_readout


@dataclasses.dataclass(frozen=True)
class SeriesOptions:
    """path: CSV or NPY file; columns: CSV header names (or NPY indices) to use, () = all;
    horizon: steps ahead; train, validation: fractions of the time steps (test: the rest)."""

    path: str = ""
    columns: tuple[str, ...] = ()
    horizon: int = 1
    train: float = 0.6
    validation: float = 0.2
    washout: int = 20

    def validate(self) -> None:
        if not self.path:
            raise ValueError("path: the series file is required")
        if self.horizon < 1:
            raise ValueError("horizon: must be >= 1")
        if not (0 < self.train and 0 < self.validation and self.train + self.validation < 1):
            raise ValueError("train: train and validation must be > 0 and sum to below 1")
        if self.washout < 0:
            raise ValueError("washout: must be >= 0")


def load_series(path: str, columns: tuple[str, ...] = ()) -> tuple[np.ndarray, list[str]]:
    """(T, D) float64 values and the column names, from a CSV (header row) or NPY file."""
    file = Path(path)
    if not file.is_file():
        raise EvolstmError(f"{path}: no such series file")
    if file.suffix.lower() == ".npy":
        values = np.load(file, allow_pickle=False)
        values = values[:, None] if values.ndim == 1 else values
        if values.ndim != 2:
            raise EvolstmError(f"{path}: expected a 1-D or 2-D array, got shape {values.shape}")
        names = [str(k) for k in range(values.shape[1])]
    else:
        with file.open(newline="") as handle:
            rows = list(csv.reader(handle))
        if len(rows) < 2:
            raise EvolstmError(f"{path}: expected a header row and at least one data row")
        names = [name.strip() for name in rows[0]]
        try:
            values = np.array([[float(v) for v in row] for row in rows[1:] if row], float)
        except ValueError as error:
            raise EvolstmError(f"{path}: {error}") from None
        if values.ndim != 2 or values.shape[1] != len(names):
            raise EvolstmError(f"{path}: every row must have {len(names)} values")
    if columns:
        missing = [c for c in columns if c not in names]
        if missing:
            raise EvolstmError(f"{path}: no column {missing[0]!r} (have {', '.join(names)})")
        values = values[:, [names.index(c) for c in columns]]
        names = list(columns)
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise EvolstmError(f"{path}: the series holds non-finite values")
    return values, names


class Series(Task):
    """n-step-ahead prediction of a user's series, split by time."""

    name = "series"
    Options = SeriesOptions
    metric = "nrmse"
    metric_higher_is_better = False
    supports_readout_fit = True

    def __init__(self, options: SeriesOptions, seed: int) -> None:
        super().__init__(options, seed)
        options.validate()
        values, self.columns = load_series(options.path, options.columns)
        n_targets = len(values) - options.horizon
        self.n_train = int(round(options.train * n_targets))
        self.n_validation = int(round(options.validation * n_targets))
        if min(self.n_train - options.washout, self.n_validation,
               n_targets - self.n_train - self.n_validation) < 2:
            raise EvolstmError(f"{options.path}: too few steps for this split and washout")
        self.inputs = values[None, :n_targets]  # (1, T, D): x(t)
        self.targets = values[None, options.horizon :]  # (1, T, D): x(t + horizon)
        self.n_in = self.n_out = values.shape[1]

    def _parts(self) -> tuple[slice, slice, slice]:
        end_validation = self.n_train + self.n_validation
        return (slice(self.options.washout, self.n_train),
                slice(self.n_train, end_validation), slice(end_validation, None))

    def fitness(
        self, population: Population, genomes: np.ndarray, ridge: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        train, validation, _ = self._parts()
        ok = np.ones(len(genomes), dtype=bool)
        if ridge is not None:
            hidden = population.states(genomes, self.inputs[:, : validation.start])
            mask = np.zeros(validation.start, dtype=bool)
            mask[train] = True
            weight, bias, ok = fit_readout(
                hidden, self.targets[:, : validation.start], mask, ridge
            )
            genomes = with_readout(population, genomes, weight, bias)
        outputs = population.predict(genomes, self.inputs[:, : validation.stop])
        with np.errstate(all="ignore"):
            score = nrmse(self.targets[:, validation], outputs[:, :, validation])
        score[~ok] = np.inf
        return finite_or_worst(score), genomes

    def predictions(self, cell: Cell) -> tuple[np.ndarray, np.ndarray]:
        """Truth and prediction (n_test, D) on the test part."""
        test = self._parts()[2]
        outputs = cell.predict(self.inputs)[0]
        return self.targets[0, test], outputs[test]

    def test(self, cell: Cell) -> dict[str, float]:
        truth, predicted = self.predictions(cell)
        with np.errstate(all="ignore"):
            return {"nrmse": float(nrmse(truth[None], predicted[None]))}

    def plot(self, cell: Cell, ax: Any) -> None:
        """Truth and the cell's `horizon`-step-ahead prediction on the test part (1st column)."""
        truth, predicted = self.predictions(cell)
        steps = np.arange(len(truth)) + self.n_train + self.n_validation + self.options.horizon
        ax.plot(steps, truth[:, 0], label="truth", color="black", linewidth=1.0)
        ax.plot(steps, predicted[:, 0], label=f"{self.options.horizon}-step prediction",
                color="tab:red", linewidth=1.0, linestyle="--")
        ax.set_xlabel("time step")
        ax.set_title(f"series: {self.columns[0]} (test part)")
        ax.legend(loc="upper right")
