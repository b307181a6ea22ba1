"""Outer algorithms against random search at the same number of candidates.

    python benchmarks/cellsearch_compare.py --study DIR [--seeds 1 2 ... 10]
        [--budget EVALUATIONS] [--inner-seeds K] [--candidates N]
    python benchmarks/cellsearch_compare.py RUN_DIR... [--out curves.png] [--hypervolume-score S]

With `--study`, runs searches/cellsearch_anbncn{,_nsga2,_random}.toml (aging, NSGA-II and
random search, 64 candidates from random topologies, or `--candidates`) for every seed into
DIR/<algorithm>-s<seed> (complete run folders: `evolstm eval` and `plot` read them; folders
already complete are kept), with the inner budget and inner seeds given (default: the
configs' own), then compares them and draws DIR/curves.png. Given run folders, it compares
those. Runs are grouped by their outer algorithm (summary.json). Prints, per algorithm and
seed, the best score so far after every quarter of the candidates, then a two-sided
Mann-Whitney U test (scipy) of each algorithm's final best scores against random search's,
the same test on the hypervolume of each run's front (score and parameter count, NSGA-II's
own objectives, against one reference point), with `--solved-score` the candidates each run
took to reach that score (the same test), and draws the best-so-far curves (one line per
run, one colour per algorithm).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import mannwhitneyu


def candidates(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "candidates.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def best_so_far(run_dir: Path) -> np.ndarray:
    return np.minimum.accumulate([float(row["score"]) for row in candidates(run_dir)])


def candidates_to_reach(curve: np.ndarray, score: float) -> int:
    """The number of candidates until the best so far is <= score (len + 1 if never)."""
    reached = np.flatnonzero(curve <= score)
    return int(reached[0]) + 1 if reached.size else len(curve) + 1


def hypervolume(run_dir: Path, reference: tuple[float, float]) -> float:
    """The area (score x parameters) that the run's candidates dominate below `reference`
    (score, parameter count), both minimised: NSGA-II's own measure of a front."""
    points = sorted((int(row["n_params"]), float(row["score"])) for row in candidates(run_dir))
    area, best = 0.0, reference[0]
    for n_params, score in points:  # by parameter count: each new lowest score adds a strip
        if score < best and n_params < reference[1]:
            area += (reference[1] - n_params) * (best - score)
            best = score
    return area


ROOT = Path(__file__).resolve().parent.parent
HYPERVOLUME_SCORE = 0.3
CONFIGS = {"aging": "cellsearch_anbncn.toml", "nsga2": "cellsearch_anbncn_nsga2.toml",
           "random": "cellsearch_anbncn_random.toml"}


def run_study(directory: Path, seeds: list[int], budget: int | None,
              inner_seeds: int | None, n_candidates: int | None) -> list[Path]:
    """Run (or keep) every algorithm's search for every seed; returns the run folders."""
    import evolstm

    directory.mkdir(parents=True, exist_ok=True)
    runs = []
    for algorithm, name in CONFIGS.items():
        text = (ROOT / "searches" / name).read_text()
        if budget is not None:
            text = text.replace("max_evaluations = 2000", f"max_evaluations = {budget}")
        if inner_seeds is not None:
            text = text.replace("inner_seeds = 2", f"inner_seeds = {inner_seeds}")
        if n_candidates is not None:
            text = text.replace("candidates = 64", f"candidates = {n_candidates}")
        config = directory / f"{algorithm}.toml"
        config.write_text(text)
        for seed in seeds:
            out = directory / f"{algorithm}-s{seed}"
            if not (out / "summary.json").exists():
                if out.exists():
                    evolstm.resume(out)
                else:
                    evolstm.search(config, seed=seed, out=out)
            runs.append(out)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="*")
    parser.add_argument("--study", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 11)))
    parser.add_argument("--budget", type=int)
    parser.add_argument("--inner-seeds", type=int)
    parser.add_argument("--candidates", type=int)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--hypervolume-score", type=float, default=HYPERVOLUME_SCORE,
                        help="the reference point's score (default: the Elman cell's on "
                             "a^n b^n c^n)")
    parser.add_argument("--solved-score", type=float,
                        help="also compare the candidates each run took to reach a score at "
                             "or below this (runs that never do count as one past their last)")
    args = parser.parse_args()
    if args.study is not None:
        args.runs = run_study(args.study, args.seeds, args.budget, args.inner_seeds,
                              args.candidates)
        args.out = args.out or args.study / "curves.png"
    curves: dict[str, list[tuple[int, np.ndarray]]] = defaultdict(list)
    by_algorithm: dict[str, list[Path]] = defaultdict(list)
    unfinished = [str(run_dir) for run_dir in args.runs if not (run_dir / "summary.json").is_file()]
    if unfinished:
        parser.error("not finished runs (no summary.json): " + " ".join(unfinished))
    for run_dir in args.runs:
        summary = json.loads((run_dir / "summary.json").read_text())
        curves[summary["algorithm"]].append((summary["seed"], best_so_far(run_dir)))
        by_algorithm[summary["algorithm"]].append(run_dir)
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
        # the fronts: every run's candidates against one reference point, the largest
        # parameter count seen and --hypervolume-score (default: the Elman cell's score on
        # a^n b^n c^n, 0.3, no counting)
        reference = (args.hypervolume_score, 1 + max(int(row["n_params"]) for run in args.runs
                                                for row in candidates(run)))
        volumes = {algorithm: [hypervolume(run, reference) for run in runs]
                   for algorithm, runs in by_algorithm.items()}
        print()
        for algorithm, volume in volumes.items():
            if algorithm == "random":
                continue
            p = mannwhitneyu(volume, volumes["random"], alternative="two-sided").pvalue
            print(f"{algorithm}: hypervolume of the front (score < {reference[0]}, parameters "
                  f"< {reference[1]}) median {np.median(volume):.4g} against random "
                  f"{np.median(volumes['random']):.4g} (p = {p:.3g})")
    if args.solved_score is not None:
        print()
        spent = {algorithm: [candidates_to_reach(curve, args.solved_score) for _, curve in runs]
                 for algorithm, runs in curves.items()}
        for algorithm, counts in spent.items():
            line = (f"{algorithm}: candidates to a score <= {args.solved_score:g}: "
                    + ", ".join(map(str, counts)) + f" (median {np.median(counts):g})")
            if algorithm != "random" and "random" in spent:
                p = mannwhitneyu(counts, spent["random"], alternative="two-sided").pvalue
                line += f", against random p = {p:.3g}"
            print(line)
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
