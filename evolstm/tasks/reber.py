"""Embedded Reber grammar (Hochreiter & Schmidhuber 1997, experiment 1).

A string is B, then T or P, then a Reber string, then the same T or P again, then E; the
net must remember the second symbol across the whole inner string. The Reber grammar
(Reber 1967, figure 5 of the paper), node -> (symbol, next node):

    0: B->1    1: T->2, P->3    2: S->2, X->4    3: T->3, V->5
    4: X->3, S->6    5: P->4, V->6    6: E->end

Every branch is taken with probability 1/2. Symbols are one-hot over [B, T, P, S, X, V, E]
in and out; every symbol but the last E is read, and the target is the set of symbols that
may come next. A step is right when the k most active outputs are exactly the k legal
symbols (the paper's criterion); the paper uses 256 training and 256 test strings.

The fitness is `SymbolSetTask`'s (mean squared shortfall + share of wrong steps), except that
the step predicting the closing T/P - the one step that needs the long-lag memory, about one
step in eleven - counts `branch_weight` times, both there and in Evolino's least-squares
readout fit (its row repeated). The default 1 scores every step alike.

The search stops when every training string is right (the paper's criterion, which also
looked at its test set); with `n_criterion` > 0, `n_criterion` fresh strings (drawn from the
seed, never the test strings) must all be right too, so the stop asks for generalisation.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from evolstm.cells import Population
from evolstm.cells.cell import Cell
from evolstm.tasks.readout import fit_readout
from evolstm.tasks.sequences import (
    SymbolSetTask,
    apply_readout,
    check_sample_counts,
    error_plus_wrong_share,
    length_mask,
    pad,
    sequences_correct,
    squared_shortfall,
)

SYMBOLS = "BTPSXVE"
REBER: dict[int, tuple[tuple[str, int], ...]] = {
    0: (("B", 1),),
    1: (("T", 2), ("P", 3)),
    2: (("S", 2), ("X", 4)),
    3: (("T", 3), ("V", 5)),
    4: (("X", 3), ("S", 6)),
    5: (("P", 4), ("V", 6)),
    6: (("E", -1),),
}


def reber_walk(rng: np.random.Generator) -> tuple[str, list[str]]:
    """One Reber string and, for each of its symbols, the symbols legal at that position."""
    node, symbols, legal = 0, "", []
    while node >= 0:
        choices = REBER[node]
        symbol, node = choices[int(rng.integers(len(choices)))]
        symbols += symbol
        legal.append("".join(s for s, _ in choices))
    return symbols, legal


def embedded_reber(rng: np.random.Generator) -> tuple[str, list[str]]:
    """One embedded Reber string and the legal symbols at each of its positions."""
    branch = "TP"[int(rng.integers(2))]
    inner, inner_legal = reber_walk(rng)
    return "B" + branch + inner + branch + "E", ["B", "TP", *inner_legal, branch, "E"]


def one_hot(symbol_sets: list[str]) -> np.ndarray:
    """Sets of symbols (one string per step) -> (T, 7) 0/1 over SYMBOLS."""
    coded = np.zeros((len(symbol_sets), len(SYMBOLS)))
    for step, symbols in enumerate(symbol_sets):
        coded[step, [SYMBOLS.index(s) for s in symbols]] = 1.0
    return coded


def sample(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`count` strings -> (x (B, T, 7), targets (B, T, 7), mask (B, T)); the step reading
    symbol t has the legal set of symbol t + 1 as its target."""
    strings = [embedded_reber(rng) for _ in range(count)]
    x, lengths = pad([one_hot(list(symbols[:-1])) for symbols, _ in strings])
    targets, _ = pad([one_hot(legal[1:]) for _, legal in strings])
    return x, targets, length_mask(lengths, x.shape[1])


def top_k_correct(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(..., B, T) bool: the legal symbols are exactly the most active outputs."""
    legal = targets > 0.5
    lowest_legal = np.where(legal, outputs, np.inf).min(axis=-1)
    highest_illegal = np.where(legal, -np.inf, outputs).max(axis=-1)
    return lowest_legal > highest_illegal


def criterion_chunks(
    seed: int, count: int, chunk_size: int = 250
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """`count` fresh strings (drawn once: slow in Python) as chunks, longest strings first,
    each (x (b, T_chunk, 7) uint8, targets (b, T_chunk, 7) uint8, mask (b, T_chunk)): a
    genome is usually rejected by the first chunk, and each chunk is padded to its own
    longest string."""
    if count == 0:
        return []
    x, targets, mask = sample(np.random.default_rng([seed, 2]), count)
    order = np.argsort(-mask.sum(axis=1), kind="stable")
    chunks = []
    for rows in np.array_split(order, -(-count // chunk_size)):
        n_steps = int(mask[rows].sum(axis=1).max())
        chunks.append(
            (
                x[rows, :n_steps].astype(np.uint8),
                targets[rows, :n_steps].astype(np.uint8),
                mask[rows, :n_steps],
            )
        )
    return chunks


@dataclasses.dataclass(frozen=True)
class ReberOptions:
    """branch_weight: how many times the step predicting the closing T/P counts (>= 1);
    n_criterion: fresh strings the stopping criterion checks besides the training set."""

    n_train: int = 256
    n_test: int = 256
    branch_weight: int = 1
    n_criterion: int = 0

    def validate(self) -> None:
        if self.branch_weight < 1:
            raise ValueError("branch_weight: must be >= 1")
        check_sample_counts(self)


class Reber(SymbolSetTask):
    """Embedded Reber grammar next-symbol prediction; metric: share of test strings right."""

    name = "reber"
    Options: ClassVar[type] = ReberOptions
    metric: ClassVar[str] = "test_correct"
    has_criterion: ClassVar[bool] = True
    n_in = len(SYMBOLS)
    n_out = len(SYMBOLS)
    step_correct = staticmethod(top_k_correct)

    def __init__(self, options: ReberOptions, seed: int) -> None:
        super().__init__(options, seed)
        self.x, self.targets, self.mask = sample(
            np.random.default_rng([seed, 0]), options.n_train
        )
        self.test_x, self.test_targets, self.test_mask = sample(
            np.random.default_rng([seed, 1]), options.n_test
        )
        rows = np.arange(len(self.x))
        # the step reading the inner string's E, whose target is the closing T/P
        self.branch_step = (rows, self.mask.sum(axis=1) - 2)
        self.step_weight = self.mask.astype(np.float64)
        self.step_weight[self.branch_step] = options.branch_weight
        self.criterion = criterion_chunks(seed, options.n_criterion)

    def fitness(
        self, population: Population, genomes: np.ndarray, ridge: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        extra = self.options.branch_weight - 1
        if ridge is None or extra == 0:
            return super().fitness(population, genomes, ridge)
        hidden = np.asarray(population.states(genomes, self.x), dtype=np.float64)
        repeated = np.repeat(hidden[:, self.branch_step[0], self.branch_step[1], None], extra, 2)
        targets = np.repeat(self.targets[self.branch_step][:, None], extra, 1)
        fitted = fit_readout(
            np.concatenate([hidden, repeated], axis=2),
            np.concatenate([self.targets, targets], axis=1),
            np.concatenate([self.mask, np.ones(targets.shape[:2], dtype=bool)], axis=1),
            ridge,
        )
        outputs, genomes = apply_readout(population, genomes, hidden, *fitted)
        return self.score(outputs), genomes

    def score(self, outputs: np.ndarray) -> np.ndarray:
        """Fitness (P,) of outputs (P, B, T, O): the closing T/P step weighted."""
        error = squared_shortfall(outputs, self.targets)
        right = top_k_correct(outputs, self.targets)
        return error_plus_wrong_share(error, right, self.step_weight)

    def solves(self, population: Population, genomes: np.ndarray) -> np.ndarray:
        """Every training string (and every `n_criterion` fresh one) right at every step.

        The fresh strings are only run for genomes that pass on the training set.
        """
        right = top_k_correct(population.predict(genomes, self.x), self.targets)
        solved = sequences_correct(right, self.mask).all(axis=1)
        for x, targets, mask in self.criterion:
            if not solved.any():
                break
            outputs = population.predict(genomes[solved], x.astype(np.float64))
            solved[solved] = sequences_correct(top_k_correct(outputs, targets), mask).all(axis=1)
        return solved

    def test(self, cell: Cell) -> dict[str, float]:
        def share(x: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> float:
            right = top_k_correct(cell.predict(x), targets)
            return float(sequences_correct(right, mask).mean())

        return {
            "test_correct": share(self.test_x, self.test_targets, self.test_mask),
            "train_correct": share(self.x, self.targets, self.mask),
        }
