"""The temporal order problem (Hochreiter & Schmidhuber 1997, experiments 6a and 6b).

Sequences of length 100..110 start with E, end with the trigger B, and are otherwise
random symbols from {a, b, c, d}, except at the relevant positions (counted from 1, E
being position 1): t1 in [10, 20] and t2 in [50, 60] (6a), or t1 in [10, 20], t2 in
[33, 43] and t3 in [66, 76] (6b), each holding X or Y. The class is the order of X and Y:
6a XX, XY, YX, YY -> Q, R, S, U (4 classes); 6b the 8 triples. Inputs are one-hot over
[E, B, a, b, c, d, X, Y]; at the last step the outputs must be the class, one-hot; a
sequence is correct when every output's absolute error there is below 0.3. The paper
stops at an average error below 0.1 with the last 2000 sequences correct (6a: 31,390
training sequences, 1 of 2560 test sequences wrong; 6b: 571,100, 2 of 2560).
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

SYMBOLS = "EBabcdXY"
# Ranges (first, last; positions counted from 1) of the relevant symbols.
RELEVANT_POSITIONS = {2: ((10, 20), (50, 60)), 3: ((10, 20), (33, 43), (66, 76))}


@dataclasses.dataclass(frozen=True)
class TemporalOrderOptions:
    """relevant: 2 (experiment 6a, 4 classes) or 3 (6b, 8 classes)."""

    relevant: int = 2
    n_train: int = 1000
    n_test: int = 2560
    n_criterion: int = 2000

    def validate(self) -> None:
        if self.relevant not in RELEVANT_POSITIONS:
            raise ValueError("relevant: must be 2 (experiment 6a) or 3 (6b)")
        check_sample_counts(self)


class TemporalOrder(LastStepTask):
    """Classify the order of X/Y symbols far apart; metric: share of test correct."""

    name = "temporal_order"
    Options: ClassVar[type] = TemporalOrderOptions
    tolerance: ClassVar[float] = 0.3
    n_in = len(SYMBOLS)

    def __init__(self, options: TemporalOrderOptions, seed: int) -> None:
        self.n_out = 2**options.relevant
        super().__init__(options, seed)

    def sample(self, rng: np.random.Generator, count: int) -> LastStepData:
        lengths = rng.integers(100, 111, size=count)
        n_steps = int(lengths.max())
        rows = np.arange(count)
        symbols = rng.integers(SYMBOLS.index("a"), SYMBOLS.index("d") + 1, size=(count, n_steps))
        symbols[:, 0] = SYMBOLS.index("E")
        symbols[rows, lengths - 1] = SYMBOLS.index("B")
        ranges = RELEVANT_POSITIONS[self.options.relevant]
        positions = np.stack([rng.integers(lo, hi + 1, size=count) - 1 for lo, hi in ranges], 1)
        is_y = rng.integers(0, 2, size=positions.shape)
        symbols[rows[:, None], positions] = SYMBOLS.index("X") + is_y
        mask = length_mask(lengths, n_steps)
        x = np.eye(len(SYMBOLS))[symbols] * mask[..., None]
        label = (is_y * 2 ** np.arange(len(ranges))[::-1]).sum(axis=1)
        end = np.zeros((count, n_steps), dtype=bool)
        end[rows, lengths - 1] = True
        targets = np.zeros((count, n_steps, self.n_out))
        targets[rows, lengths - 1, label] = 1.0
        return LastStepData(x, targets, end, positions[:, -1] - positions[:, 0])
