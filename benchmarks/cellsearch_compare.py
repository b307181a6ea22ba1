"""Outer algorithms against random search at the same number of candidates.

    python benchmarks/cellsearch_compare.py RUN_DIR... [--out curves.png]

Each RUN_DIR is a search over cells (a `candidates.csv`); runs are grouped by their outer
algorithm (summary.json) and the seed in their config. Prints, per algorithm and seed, the
best score so far after every quarter of the budget and the final best, then a two-sided
Mann-Whitney U test (scipy) of each algorithm's final best scores against random search's,
and draws the best-so-far curves (one line per run, one colour per algorithm).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import mannwhitneyu


def best_so_far(run_dir: Path) -> np.ndarray:
    with open(run_dir / "candidates.csv", newline="") as handle:
        scores = [float(row["score"]) for row in csv.DictReader(handle)]
    return np.minimum.accumulate(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    curves: dict[str, list[tuple[int, np.ndarray]]] = defaultdict(list)
    for run_dir in args.runs:
        summary = json.loads((run_dir / "summary.json").read_text())
        curves[summary["algorithm"]].append((summary["seed"], best_so_far(run_dir)))
    print("| algorithm | seed | best so far at 25% / 50% / 75% / 100% of the candidates |")
    print("| --- | ---: | --- |")
    for algorithm, runs in curves.items():
        for seed, curve in sorted(runs):
            marks = [curve[max(0, int(len(curve) * q) - 1)] for q in (0.25, 0.5, 0.75, 1.0)]
            print(f"| {algorithm} | {seed} | " + " / ".join(f"{m:.4g}" for m in marks) + " |")
    if "random" in curves:
        baseline = [curve[-1] for _, curve in curves["random"]]
        for algorithm, runs in curves.items():
            if algorithm == "random":
                continue
            final = [curve[-1] for _, curve in runs]
            p = mannwhitneyu(final, baseline, alternative="two-sided").pvalue
            print(f"\n{algorithm}: final best median {np.median(final):.4g} against random "
                  f"{np.median(baseline):.4g} (Mann-Whitney U, two-sided, p = {p:.3g}, "
                  f"{len(final)} and {len(baseline)} runs)")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, ax = plt.subplots(figsize=(7, 4))
        for colour, (algorithm, runs) in zip(("C0", "C1", "C2", "C3"), curves.items(),
                                             strict=False):
            for index, (_, curve) in enumerate(sorted(runs)):
                ax.step(np.arange(1, len(curve) + 1), curve, where="post", color=colour,
                        label=algorithm if index == 0 else None)
        ax.set_yscale("log")
        ax.set_xlabel("candidates")
        ax.set_ylabel("best score so far (lower is better)")
        ax.legend()
        ax.grid(alpha=0.3)
        figure.tight_layout()
        figure.savefig(args.out, dpi=110)
        print(f"\n{args.out}")


if __name__ == "__main__":
    main()
