"""Helpers for the run tests: a small, fast search config and run comparisons."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

SMALL_SEARCH = """
seed = 3
[task]
name = "mso"
level = 1
later_starts = [1000]
[cell]
variant = "lstm"
hidden = 3
[algorithm]
name = "cmaes"
generations = {generations}
population = 8
sigma0 = 0.3
checkpoint_seconds = 0.0
[parallel]
backend = "sequential"
"""


def write_config(directory: Path, generations: int = 10) -> Path:
    path = directory / "small.toml"
    path.write_text(SMALL_SEARCH.format(generations=generations))
    return path


def history_without_time(run_dir: Path) -> list[list[str]]:
    """history.csv rows without the elapsed_s column (wall time differs between runs)."""
    with open(run_dir / "history.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    drop = rows[0].index("elapsed_s")
    return [row[:drop] + row[drop + 1 :] for row in rows]


def same_best(a: Path, b: Path) -> bool:
    """best.npz files hold identical weights."""
    with np.load(a / "best.npz") as left, np.load(b / "best.npz") as right:
        names = [name for name in left.files if name != "meta"]
        return sorted(names) == sorted(n for n in right.files if n != "meta") and all(
            np.array_equal(left[name], right[name]) for name in names
        )
