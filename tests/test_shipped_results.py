"""The run folders shipped in results/ hold what the README says, on data made here.

The language check builds its strings and legal-next-symbol sets in this file, from
DESIGN.md's definition, without the task code that trained the cells.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import evolstm
from evolstm.runs.evaluate import open_cell, task_for

RESULTS = Path(__file__).resolve().parent.parent / "results"
# How far a free-running NRMSE at float64's round-off level (the linear MSO cells, ~1e-10)
# moves when the kernels' summation order changes: mso5's test NRMSE went from 5.87e-10 to
# 6.74e-10 when the fast kernels' products began summing four terms at a time (session 8).
ROUND_OFF = 2e-10
INPUTS = "Sabc"  # one-hot inputs
OUTPUTS = "abcT"  # one-hot outputs


def legal_sets(n: int, letters: str) -> tuple[str, list[set[str]]]:
    """'S' + a^n b^n (c^n) and, for each symbol read (all but T), the symbols that may follow."""
    blocks = [letter * n for letter in letters]
    text = "S" + "".join(blocks)
    legal = [{"a"}]  # after S
    legal += [{"a", letters[1]}] * n  # after each a
    for block, letter in enumerate(letters[1:], start=1):
        following = letters[block + 1] if block + 1 < len(letters) else "T"
        for k in range(1, n + 1):
            legal.append({letter} if k < n else {following})
    return text, legal


def accepts(cell, letters: str, ns: range) -> list[int]:
    """The n in `ns` whose string the cell gets wrong somewhere."""
    rejected = []
    for n in ns:
        text, legal = legal_sets(n, letters)
        x = np.zeros((len(text), len(INPUTS)))
        x[np.arange(len(text)), [INPUTS.index(s) for s in text]] = 1.0
        predicted = cell.predict(x)[0] > 0.5
        expected = np.array([[o in step for o in OUTPUTS] for step in legal])
        if not np.array_equal(predicted, expected):
            rejected.append(n)
    return rejected


@pytest.mark.parametrize(("run", "letters", "limit"), [("anbncn", "abc", 100), ("anbn", "ab", 100)])
def test_shipped_counting_cells_accept_every_n_up_to_100(run, letters, limit):
    cell = evolstm.load(RESULTS / run / "best.npz")
    assert accepts(cell, letters, range(1, limit + 1)) == []


def temporal_order_sequences(count: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hochreiter & Schmidhuber (1997), experiment 6a, made here from the paper's definition:
    one-hot inputs (count, 110, 8) over E B a b c d X Y, zero after each sequence's end; the
    sequence lengths (count,), 100-110; the classes (count,), 0-3 for XX XY YX YY (Q R S U)."""
    rng = np.random.default_rng(seed)
    symbols = "EBabcdXY"
    x = np.zeros((count, 110, len(symbols)))
    lengths = rng.integers(100, 111, size=count)
    classes = np.zeros(count, dtype=int)
    for row, length in enumerate(lengths):
        sequence = list(rng.choice(list("abcd"), size=length))
        sequence[0], sequence[-1] = "E", "B"
        first, second = rng.choice(list("XY"), size=2)
        sequence[rng.integers(10, 21) - 1] = first  # positions counted from 1, E is 1
        sequence[rng.integers(50, 61) - 1] = second
        classes[row] = 2 * (first == "Y") + (second == "Y")
        x[row, np.arange(length), [symbols.index(s) for s in sequence]] = 1.0
    return x, lengths, classes


@pytest.mark.parametrize("run", ["temporal_order", "cellsearch_temporal_order"])
def test_shipped_temporal_order_cells_classify_unseen_sequences(run):
    """Every output within 0.3 of the one-hot class at each sequence's last step (the
    paper's criterion), on sequences the run never saw."""
    cell = evolstm.load(RESULTS / run / "best.npz")
    x, lengths, classes = temporal_order_sequences(500, seed=2026)
    last = cell.predict(x)[np.arange(len(x)), lengths - 1]
    assert np.all(np.abs(last - np.eye(4)[classes]) < 0.3)


# run folders: results/<run>, and the runs of a study, results/<study>/<run>
RUNS = sorted(str(p.parent.relative_to(RESULTS)) for p in RESULTS.glob("*/summary.json"))
RUNS += sorted(str(p.parent.relative_to(RESULTS)) for p in RESULTS.glob("*/*/summary.json"))


@pytest.mark.parametrize("run", RUNS)
def test_eval_reproduces_every_shipped_summary(run):
    cell, run_dir = open_cell(RESULTS / run)
    summary = json.loads((run_dir / "summary.json").read_text())
    test = task_for(cell, run_dir).test(cell)
    assert test == pytest.approx(summary["test"], rel=1e-9, abs=ROUND_OFF)
