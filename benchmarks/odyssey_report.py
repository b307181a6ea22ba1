"""The Odyssey under neuroevolution: tables and tests from the study run folders.

    python benchmarks/odyssey_report.py results/odyssey_anbncn \
        results/odyssey_reber+results/rescore_reber ... [--forget-bias RUN_DIR ...]

Each run folder is a `variants` study (`A+B`: two studies of one task on the same seeds,
read as one) (searches/odyssey_<task>.toml): every named variant,
and the cells the searches found, trained by the same inner search on the same 10 inner
seeds. For each task it prints the median and the quartiles of the headline test metric
(and of the search fitness) per cell, the searched cells against the best named variant,
then Greff et al.'s (2017) claims as two-sided
Mann-Whitney U tests against the vanilla peephole LSTM over the 10 inner seeds (scipy):
the forget gate and the output activation are critical (nfg, noaf worse), coupling the
input and forget gates (cifg) and dropping peepholes (np) cost little (no significant
difference). `--forget-bias` adds, per task, the same study with the forget gate's bias
centred at 1 (Jozefowicz et al. 2015), compared with lstm at 0 on the same seeds.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import mannwhitneyu

import evolstm.tasks

# Greff et al. 2017's claims: variant, what they found relative to the vanilla LSTM
CLAIMS = [("nfg", "critical (worse)"), ("noaf", "critical (worse)"),
          ("cifg", "cheap (no loss)"), ("np", "cheap (no loss)")]
VANILLA = "peephole"


def read(run_dir: Path) -> tuple[type, dict[str, dict[str, list[float]]], dict[str, int]]:
    """(the task's class, {label: {metric: values over inner seeds}}, {label: parameters})."""
    summary = json.loads((run_dir / "summary.json").read_text())
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    with open(run_dir / "tested.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            label = row["variant"] or f"candidate {row['candidate']}"
            values[label][row["metric"]].append(float(row["value"]))
    params = {}
    with open(run_dir / "candidates.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            params[row["variant"] or f"candidate {row['candidate']}"] = int(row["n_params"])
    return evolstm.tasks.get(summary["task"]), values, params


def quartiles(values: list[float]) -> str:
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return f"{median:.4g} [{q1:.4g}, {q3:.4g}]"


def u_test(a: list[float], b: list[float]) -> float:
    """Two-sided Mann-Whitney U p-value (1.0 when both samples are constant and equal)."""
    if len(set(a) | set(b)) == 1:
        return 1.0
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def read_joined(spec: str) -> tuple[type, dict[str, dict[str, list[float]]], dict[str, int]]:
    """`read` of ``A`` or of ``A+B`` (the rows of both studies)."""
    task, values, params = read(Path(spec.split("+")[0]))
    for other in spec.split("+")[1:]:
        _, more, more_params = read(Path(other))
        values.update(more)
        params.update(more_params)
    return task, values, params


def report(spec: str, forget_bias: Path | None) -> None:
    run_dir = Path(spec.split("+")[0])
    task, values, params = read_joined(spec)
    metric, higher_is_better = task.metric, task.metric_higher_is_better
    print(f"\n### {run_dir.name}: {metric} ({'higher' if higher_is_better else 'lower'} is "
          "better), search fitness (lower is better); median [quartiles] over the inner seeds\n")
    print(f"| cell | parameters | {metric} | search fitness |")
    print("| --- | ---: | ---: | ---: |")
    for label, metrics in values.items():
        print(f"| {label} | {params.get(label, '')} | {quartiles(metrics[metric])} | "
              f"{quartiles(metrics['search_fitness'])} |")
    found = [label for label in values if label.startswith("cell-")]
    named = [label for label in values if not label.startswith("cell-")]
    if found and named:
        sign = 1 if higher_is_better else -1
        best = max(named, key=lambda label: (sign * np.median(values[label][metric]),
                                             -np.median(values[label]["search_fitness"])))
        for label in found:
            mine, theirs = values[label], values[best]
            print(f"\nSearched {label} ({params.get(label)} parameters) against the best named "
                  f"variant, {best} ({params.get(best)}): {metric} "
                  f"{np.median(mine[metric]):.4g} against {np.median(theirs[metric]):.4g} "
                  f"(p = {u_test(mine[metric], theirs[metric]):.3g}); search fitness "
                  f"{np.median(mine['search_fitness']):.4g} against "
                  f"{np.median(theirs['search_fitness']):.4g} "
                  f"(p = {u_test(mine['search_fitness'], theirs['search_fitness']):.3g})")
    if VANILLA not in values:
        return
    vanilla = values[VANILLA]
    print(f"\nAgainst {VANILLA} (two-sided Mann-Whitney U over the inner seeds):\n")
    print(f"| variant | Greff et al. | median {metric} (vanilla) | p | median search "
          "fitness (vanilla) | p |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for variant, claim in CLAIMS:
        if variant not in values:
            continue
        mine = values[variant]
        print(f"| {variant} | {claim} | {np.median(mine[metric]):.4g} "
              f"({np.median(vanilla[metric]):.4g}) | {u_test(mine[metric], vanilla[metric]):.3g}"
              f" | {np.median(mine['search_fitness']):.4g} "
              f"({np.median(vanilla['search_fitness']):.4g}) | "
              f"{u_test(mine['search_fitness'], vanilla['search_fitness']):.3g} |")
    if forget_bias is not None:
        _, biased, _ = read(forget_bias)
        for variant in ("lstm",):
            if variant in biased and variant in values:
                zero, one = values[variant], biased[variant]
                print(f"\nForget-gate bias 1 against 0 ({variant}): {metric} "
                      f"{np.median(one[metric]):.4g} against {np.median(zero[metric]):.4g} "
                      f"(p = {u_test(one[metric], zero[metric]):.3g}); search fitness "
                      f"{np.median(one['search_fitness']):.4g} against "
                      f"{np.median(zero['search_fitness']):.4g} "
                      f"(p = {u_test(one['search_fitness'], zero['search_fitness']):.3g})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--forget-bias", type=Path, nargs="*", default=[])
    args = parser.parse_args()
    biased = {path.name.replace("_fb1", ""): path for path in args.forget_bias}
    for spec in args.runs:
        report(spec, biased.get(Path(spec.split("+")[0]).name))


if __name__ == "__main__":
    main()
