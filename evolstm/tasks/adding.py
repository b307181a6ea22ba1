"""The adding problem (Hochreiter & Schmidhuber 1997, experiment 4).

Each step reads a pair (value, marker). Values are uniform in [-1, 1]. A sequence's length
is drawn uniformly from T..T + T/10. Exactly two pairs are marked with 1.0: one of the
first ten (its value is X1), then one of the first T/2 - 1 pairs not yet marked (X2); the
first and the last pair are otherwise marked -1.0, all others 0.0; if the first pair is
one of the marked ones its value is set to 0. At the last step the output must be
0.5 + (X1 + X2) / 4; a sequence is correct when the absolute error there is below 0.04.
The paper stops training at an average error below 0.01 with the last 2000 sequences
correct, and tests on 2560 sequences (T = 100: 74,000 training sequences; at most 1 of
2560 wrong).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from evolstm.tasks.sequences import (
    LastStepData,
    LastStepTask,
    check_sample_counts,
    length_mask,
)


@dataclasses.dataclass(frozen=True)
class AddingOptions:
    """length: the minimal sequence length T; n_criterion: fresh sequences that must all
    be correct to stop."""

    length: int = 100
    n_train: int = 1000
    n_test: int = 2560
    n_criterion: int = 2000

    def validate(self) -> None:
        if self.length < 24:
            raise ValueError("length: must be >= 24 (X2 is drawn among the first T/2 - 1)")
        check_sample_counts(self)


class Adding(LastStepTask):
    """Output 0.5 + (X1 + X2)/4 at the end of the sequence; metric: share of test correct."""

    name = "adding"
    Options: ClassVar[type] = AddingOptions
    tolerance: ClassVar[float] = 0.04
    n_in = 2
    n_out = 1

    def sample(self, rng: np.random.Generator, count: int) -> LastStepData:
        length = self.options.length
        lengths = rng.integers(length, length + length // 10 + 1, size=count)
        n_steps = int(lengths.max())
        rows = np.arange(count)
        mask = length_mask(lengths, n_steps)
        values = rng.uniform(-1.0, 1.0, size=(count, n_steps)) * mask
        first = rng.integers(0, 10, size=count)
        second = rng.integers(0, length // 2 - 2, size=count)
        second += second >= first  # skip the pair already marked
        markers = np.zeros((count, n_steps))
        markers[:, 0] = -1.0
        markers[rows, lengths - 1] = -1.0
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        values[:, 0] = np.where(markers[:, 0] == 1.0, 0.0, values[:, 0])
        end = np.zeros((count, n_steps), dtype=bool)
        end[rows, lengths - 1] = True
        targets = np.zeros((count, n_steps, 1))
        targets[rows, lengths - 1, 0] = 0.5 + (values[rows, first] + values[rows, second]) / 4
        return LastStepData(
            np.stack([values, markers], axis=-1), targets, end, np.abs(second - first)
        )
