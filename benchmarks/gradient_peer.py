"""Evolved cells versus the same cells trained by gradient descent (BPTT with Adam).

For each shipped evolved run in results/ (anbncn, reber, temporal_order, adding, mso2..mso5)
this takes the cell structure and size from the run's best.npz, builds the task from the
run's config and seed (as `evolstm eval` does), and trains the cell with
`evolstm.torch.train`:

* from a fresh random initialisation, seeds 0, 1, 2 -> results/gradient/<run>-s<seed>/:
  every weight uniform in +-b, b = min(1/sqrt(H), the run's [cell] init_scale) (the MSO
  cells are linear, identity activations and no gates: at +-1/sqrt(H) their 400-step
  training sequence overflows before the first update, so they start at evolution's 0.1);
* once from the evolved weights (seed 0), for the runs in FROM_EVOLVED
  -> results/gradient/<run>-from-evolved-s0/.

Fixed budgets (BUDGETS below; chosen so a run takes one to two minutes on one CPU core,
not tuned): Adam, lr 0.01, gradient norm clipped to 1, mini-batches of 32 sequences (MSO:
its one training sequence, and a^n b^n c^n: its 10 training strings, full batch); epochs
per task as listed; presentations = epochs x training sequences. Nothing was tuned: one
learning rate, one batch size, one init rule. A folder whose summary.json exists is kept
(--force redoes it).

    python benchmarks/gradient_peer.py            # all runs, 2 worker processes
    python benchmarks/gradient_peer.py --table    # only print the table from the folders
    python benchmarks/gradient_peer.py mso2 reber # some runs only

`evolstm eval results/gradient/<run>-s<seed>/best.npz` reproduces each summary's test figures.
"""

from __future__ import annotations

import json
import statistics
import sys
import tomllib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
OUT = RESULTS / "gradient"
SEEDS = (0, 1, 2)
LR, CLIP = 0.01, 1.0
# run -> (epochs, batch size, the test metric shown in the table)
BUDGETS = {
    "anbncn": (2000, None, "largest_n"),
    "reber": (300, 32, "test_correct"),
    "temporal_order": (40, 32, "test_correct"),
    "adding": (40, 32, "test_correct"),
    "mso2": (300, None, "nrmse"),
    "mso3": (300, None, "nrmse"),
    "mso4": (300, None, "nrmse"),
    "mso5": (300, None, "nrmse"),
}
FROM_EVOLVED = ("anbncn", "temporal_order", "adding")


def fresh(cell, seed: int, init_scale: float):
    """The same structure and size, every weight uniform in +-b (seeded)."""
    from evolstm.cells.cell import Cell

    rng = np.random.default_rng(seed)
    bound = min(1.0 / np.sqrt(cell.n_hidden), init_scale)
    genome = rng.uniform(-bound, bound, cell.population.n_params)
    return Cell(cell.population, genome, dict(cell.info))


def folder(run: str, seed: int, from_evolved: bool) -> str:
    return f"{run}-from-evolved-s{seed}" if from_evolved else f"{run}-s{seed}"


def one(job: tuple[str, int, bool]) -> str:
    run, seed, from_evolved = job
    import torch

    torch.set_num_threads(1)
    import evolstm.torch as bridge
    from evolstm.cells.cellfile import load
    from evolstm.runs.evaluate import task_for

    evolved = load(RESULTS / run / "best.npz")
    task = task_for(evolved, RESULTS / run)
    config = tomllib.loads((RESULTS / run / "config.toml").read_text())
    init_scale = float(config.get("cell", {}).get("init_scale", 1.0))
    start = evolved if from_evolved else fresh(evolved, seed, init_scale)
    epochs, batch, _ = BUDGETS[run]
    name = folder(run, seed, from_evolved)
    bridge.train(start, task, epochs=epochs, lr=LR, batch_size=batch, seed=seed, clip=CLIP,
                 out=OUT / name)
    return name


def figure(value: float, metric: str) -> str:
    if metric == "largest_n":
        return f"{value:g}"
    if metric == "nrmse":
        return f"{value:.3g}"
    return f"{100 * value:.1f}%"


def shown(test: dict, metric: str) -> str:
    """The metric, with the wrong count out of the test set where the task gives one."""
    text = figure(test[metric], metric)
    return f"{text} ({test['test_wrong']:.0f} wrong)" if "test_wrong" in test else text


def table(runs: list[str]) -> str:
    rows = ["| run | metric | evolved | gradient, fresh init (median; seeds) | "
            "gradient from evolved | evaluations | presentations |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        metric = BUDGETS[run][2]
        shipped = json.loads((RESULTS / run / "summary.json").read_text())
        values, presented, texts = [], None, []
        for seed in SEEDS:
            path = OUT / f"{run}-s{seed}" / "summary.json"
            if path.exists():
                summary = json.loads(path.read_text())
                values.append(summary["test"][metric])
                texts.append(shown(summary["test"], metric))
                presented = summary["presentations"]
        start = OUT / f"{run}-from-evolved-s0" / "summary.json"
        from_evolved = (shown(json.loads(start.read_text())["test"], metric)
                        if start.exists() else "-")
        grad = (f"{figure(statistics.median(values), metric)}; "
                f"{', '.join(texts)}" if values else "-")
        rows.append(f"| {run} | {metric} | {shown(shipped['test'], metric)} | {grad} "
                    f"| {from_evolved} | {shipped['evaluations']} | {presented or '-'} |")
    return "\n".join(rows)


def main(argv: list[str]) -> None:
    only_table = "--table" in argv
    runs = [a for a in argv if not a.startswith("--")] or list(BUDGETS)
    if not only_table:
        jobs = [(run, seed, False) for seed in SEEDS for run in runs]
        jobs += [(run, 0, True) for run in runs if run in FROM_EVOLVED]
        if "--force" not in argv:
            jobs = [job for job in jobs if not (OUT / folder(*job) / "summary.json").exists()]
        with ProcessPoolExecutor(2) as pool:
            for name in pool.map(one, jobs):
                print("done", name, flush=True)
    print(table(runs))


if __name__ == "__main__":
    main(sys.argv[1:])
