"""Counting languages S aⁿ bⁿ T and S aⁿ bⁿ cⁿ T as next-symbol prediction (DESIGN.md).

One string per sequence. The input at each step is one symbol of the string, one-hot over
[S, a, b, c] (the closing T is never read); the target is the set of symbols that may come
next, as 0/1 over [a, b, c, T]: after S {a}; after an a {a, b}; after the k-th b {b} for
k < n, else the next letter ({c}, or {T} for aⁿbⁿ); after the k-th c {c} for k < n, else
{T}. An output > 0.5 predicts "may come"; a string is accepted iff at every step the
predicted set equals the legal set. Gers & Schmidhuber 2001 (IEEE TNN 12(6)) train on a
range of n and report the largest N such that every n <= N is accepted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from evolstm.cells import Population
from evolstm.cells.cell import Cell
from evolstm.tasks.sequences import (
    SymbolSetTask,
    length_mask,
    sequences_correct,
    threshold_correct,
)

INPUT_SYMBOLS = "Sabc"
OUTPUT_SYMBOLS = "abcT"


def string(n: int, letters: str) -> str:
    """The string of the language for n: string(2, "abc") == "SaabbccT"."""
    return "S" + "".join(letter * n for letter in letters) + "T"


def legal_next(n: int, letters: str) -> list[str]:
    """For each read symbol of string(n) but the final T, the symbols that may come next."""
    sets = ["a"]
    for position, letter in enumerate(letters):
        after_last = letters[position + 1] if position + 1 < len(letters) else "T"
        if position == 0:
            sets += ["ab"] * n
        else:
            sets += [letter] * (n - 1) + [after_last]
    return sets


def encode(n: int, letters: str) -> tuple[np.ndarray, np.ndarray]:
    """string(n) -> (inputs (3n+1, 4) one-hot over S a b c, targets (3n+1, 4) over a b c T).

    (len(letters)·n + 1 steps: every symbol but the closing T is read.)
    """
    read = string(n, letters)[:-1]
    inputs = np.zeros((len(read), len(INPUT_SYMBOLS)))
    inputs[np.arange(len(read)), [INPUT_SYMBOLS.index(s) for s in read]] = 1.0
    targets = np.zeros((len(read), len(OUTPUT_SYMBOLS)))
    for step, allowed in enumerate(legal_next(n, letters)):
        targets[step, [OUTPUT_SYMBOLS.index(s) for s in allowed]] = 1.0
    return inputs, targets


def batch(ns: np.ndarray, letters: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strings for every n in ns (B,) -> (x (B, T, 4), targets (B, T, 4), mask (B, T)).

    Each string's steps come first; padding after its end is zero and masked out.
    """
    lengths = np.array([len(letters) * n + 1 for n in ns])
    n_steps = int(lengths.max())
    x = np.zeros((len(ns), n_steps, len(INPUT_SYMBOLS)))
    targets = np.zeros((len(ns), n_steps, len(OUTPUT_SYMBOLS)))
    for row, n in enumerate(ns):
        x[row, : lengths[row]], targets[row, : lengths[row]] = encode(int(n), letters)
    return x, targets, length_mask(lengths, n_steps)


def accepted(outputs: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """outputs (..., B, T, 4) -> (..., B) bool: every step's predicted set is the legal one."""
    return sequences_correct(threshold_correct(outputs, targets), mask)


def largest_accepted(
    predict: Callable[[np.ndarray], np.ndarray], letters: str, limit: int, batch_size: int = 50
) -> int:
    """Largest N <= limit such that every n <= N is accepted (0 if n = 1 is not).

    predict maps x (B, T, 4) -> outputs (B, T, 4). Strings go in batches of consecutive n
    (one predict call each), and the check stops at the first batch with a rejection.
    """
    for first in range(1, limit + 1, batch_size):
        ns = np.arange(first, min(first + batch_size, limit + 1))
        x, targets, mask = batch(ns, letters)
        rejected = np.flatnonzero(~accepted(predict(x), targets, mask))
        if rejected.size:
            return int(ns[rejected[0]]) - 1
    return limit


@dataclasses.dataclass(frozen=True)
class LanguageOptions:
    """train_min..train_max: the n of the training strings (one each); test_limit: the
    largest n that `test` checks; solve_margin: how far past 0.5, on its target's side,
    every training output must be for the search to stop as solved (0: every string
    accepted; 0.5: every output at or beyond its 0/1 target, where the error term is 0)."""

    train_min: int = 1
    train_max: int = 10
    test_limit: int = 1000
    solve_margin: float = 0.0

    def validate(self) -> None:
        if not 1 <= self.train_min <= self.train_max:
            raise ValueError("train_min: need 1 <= train_min <= train_max")
        if self.test_limit < self.train_max:
            raise ValueError("test_limit: must be >= train_max")
        if self.solve_margin < 0:
            raise ValueError("solve_margin: must be >= 0")


class LanguageTask(SymbolSetTask):
    """Next-symbol prediction on one counting language; subclasses set `name`, `letters`."""

    Options: ClassVar[type] = LanguageOptions
    letters: ClassVar[str]
    metric: ClassVar[str] = "largest_n"
    has_criterion: ClassVar[bool] = True
    n_in = len(INPUT_SYMBOLS)
    n_out = len(OUTPUT_SYMBOLS)

    def __init__(self, options: LanguageOptions, seed: int) -> None:
        super().__init__(options, seed)
        self.train_ns = np.arange(options.train_min, options.train_max + 1)
        self.x, self.targets, self.mask = batch(self.train_ns, self.letters)

    step_correct = staticmethod(threshold_correct)

    def solves(self, population: Population, genomes: np.ndarray) -> np.ndarray:
        """Every training string accepted, every output `solve_margin` or more past 0.5."""
        outputs = population.predict(genomes, self.x)
        past = np.where(self.targets > 0.5, outputs - 0.5, 0.5 - outputs)
        clear = sequences_correct(np.all(past >= self.options.solve_margin, axis=-1), self.mask)
        return (accepted(outputs, self.targets, self.mask) & clear).all(axis=1)

    def test(self, cell: Cell) -> dict[str, float]:
        outputs = cell.predict(self.x)
        return {
            "largest_n": float(
                largest_accepted(cell.predict, self.letters, self.options.test_limit)
            ),
            "train_accepted": float(accepted(outputs, self.targets, self.mask).mean()),
        }

    def plot(self, cell: Cell, ax: Any) -> None:
        """How the cell counts along one string of n = 2·train_max: the memory cells c
        (LSTM family; h for the GRU family) on the left axis, the gate activations (thin,
        dashed: i and f, or r and z) on the right one; symbol borders marked."""
        n = 2 * self.options.train_max
        inputs, _ = encode(n, self.letters)
        trace = cell.trace(inputs)
        memory = "c" if "c" in trace else "h"
        steps = np.arange(1, len(inputs) + 1)
        for k, line in enumerate(ax.plot(steps, trace[memory])):
            line.set_label(f"{memory}{k}")
        for border in range(1, len(self.letters) + 1):
            ax.axvline(border * n + 0.5, color="grey", lw=0.5)
        ax.set_xlabel(f"step (string of n = {n}; lines: borders between letters)")
        ax.set_ylabel(f"memory cell {memory}")
        gates = ax.twinx()
        for name in ("i", "f") if memory == "c" else ("r", "z"):
            gates.plot(steps, trace[name], lw=0.6, ls="--")
        gates.set_ylabel("gate activations (dashed: " + (
            "input, forget" if memory == "c" else "reset, update") + ")")
        gates.set_ylim(-0.05, 1.05)
        ax.legend(loc="upper left", fontsize="small")
        ax.set_title(f"{self.name}: how the cell counts along one string")
