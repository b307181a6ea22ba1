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


# run folders: results/<run>, and the runs of a study, results/<study>/<run>
RUNS = sorted(str(p.parent.relative_to(RESULTS)) for p in RESULTS.glob("*/summary.json"))
RUNS += sorted(str(p.parent.relative_to(RESULTS)) for p in RESULTS.glob("*/*/summary.json"))


@pytest.mark.parametrize("run", RUNS)
def test_eval_reproduces_every_shipped_summary(run):
    cell, run_dir = open_cell(RESULTS / run)
    summary = json.loads((run_dir / "summary.json").read_text())
    test = task_for(cell, run_dir).test(cell)
    assert test == pytest.approx(summary["test"], rel=1e-9, abs=ROUND_OFF)
