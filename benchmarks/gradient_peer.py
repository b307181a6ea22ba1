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
per task as listed; presentations = epochs x training sequences. Without --tune nothing is
tuned: one learning rate, one batch size, one init rule. A folder whose summary.json exists
is kept (--force redoes it).

--tune picks the learning rate per run without test data, at the same budgets: seed 0 at
each lr in LRS (lr 0.01 is the untuned <run>-s0; the others go to <run>-lr<lr>-s<seed>/),
the lr of the lowest best training loss (summary.json's best_loss) is chosen, then seeds
1 and 2 train at it. Runs are tuned one after the other, in the order given.

    python benchmarks/gradient_peer.py            # all runs, 2 worker processes
    python benchmarks/gradient_peer.py --table    # only print the table from the folders
    python benchmarks/gradient_peer.py mso2 reber # some runs only
    python benchmarks/gradient_peer.py --tune --jobs 1 mso4 mso5  # the lr sweep, 1 process

`evolstm eval results/gradient/<folder>/best.npz` reproduces each summary's test figures.
"""

from __future__ import annotations

import argparse
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
LRS = (0.003, 0.01, 0.03)  # the --tune sweep
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


def folder(run: str, seed: int, from_evolved: bool, lr: float = LR) -> str:
    if from_evolved:
        return f"{run}-from-evolved-s{seed}"
    return f"{run}-s{seed}" if lr == LR else f"{run}-lr{lr:g}-s{seed}"


def one(job: tuple[str, int, bool, float]) -> str:
    run, seed, from_evolved, lr = job
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
    name = folder(run, seed, from_evolved, lr)
    bridge.train(start, task, epochs=epochs, lr=lr, batch_size=batch, seed=seed, clip=CLIP,
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


def summary(run: str, seed: int, lr: float = LR) -> dict | None:
    path = OUT / folder(run, seed, False, lr) / "summary.json"
    return json.loads(path.read_text()) if path.exists() else None


def chosen_lr(run: str) -> float | None:
    """The lr in LRS whose seed-0 run reached the lowest best training loss (None: not swept)."""
    losses = {lr: s["best_loss"] for lr in LRS if (s := summary(run, 0, lr)) is not None}
    return min(losses, key=losses.__getitem__) if len(losses) == len(LRS) else None


def seeds(run: str, lr: float, metric: str) -> str:
    """'median; seed 0, seed 1, seed 2' of the fresh-init runs at `lr`."""
    tests = [s["test"] for seed in SEEDS if (s := summary(run, seed, lr)) is not None]
    if not tests:
        return "-"
    median = statistics.median(test[metric] for test in tests)
    return f"{figure(median, metric)}; {', '.join(shown(test, metric) for test in tests)}"


def table(runs: list[str]) -> str:
    rows = ["| run | metric | evolved | gradient, fresh init, lr 0.01 (median; seeds) | "
            "tuned lr: median; seeds | best training loss, seed 0, lr "
            f"{' / '.join(f'{lr:g}' for lr in LRS)} | gradient from evolved | evaluations | "
            "presentations |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        metric = BUDGETS[run][2]
        shipped = json.loads((RESULTS / run / "summary.json").read_text())
        start = OUT / f"{run}-from-evolved-s0" / "summary.json"
        from_evolved = (shown(json.loads(start.read_text())["test"], metric)
                        if start.exists() else "-")
        lr = chosen_lr(run)
        tuned = f"{lr:g}: {seeds(run, lr, metric)}" if lr is not None else "-"
        losses = " / ".join(f"{s['best_loss']:.2g}" if (s := summary(run, 0, each)) else "-"
                            for each in LRS)
        first = summary(run, 0)
        rows.append(f"| {run} | {metric} | {shown(shipped['test'], metric)} "
                    f"| {seeds(run, LR, metric)} | {tuned} | {losses} | {from_evolved} "
                    f"| {shipped['evaluations']} | {first['presentations'] if first else '-'} |")
    return "\n".join(rows)


def train_all(jobs: list[tuple[str, int, bool, float]], pool: ProcessPoolExecutor,
              force: bool) -> None:
    """Run the jobs whose folder has no summary.json yet (all of them with `force`)."""
    jobs = [job for job in jobs if force or not (OUT / folder(*job) / "summary.json").exists()]
    for name in pool.map(one, jobs):
        print("done", name, flush=True)


def tune(run: str, pool: ProcessPoolExecutor, force: bool) -> None:
    """Seed 0 at every lr in LRS, then seeds 1 and 2 at the chosen lr."""
    train_all([(run, 0, False, lr) for lr in LRS], pool, force)
    lr = chosen_lr(run)
    print(f"{run}: lr {lr:g} chosen", flush=True)
    train_all([(run, seed, False, lr) for seed in SEEDS[1:]], pool, force)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", metavar="RUN", help=f"some of {', '.join(BUDGETS)}")
    parser.add_argument("--table", action="store_true", help="only print the table")
    parser.add_argument("--tune", action="store_true", help="choose each run's lr by training loss")
    parser.add_argument("--force", action="store_true", help="redo existing folders")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    args = parser.parse_args(argv)
    if unknown := set(args.runs) - set(BUDGETS):
        parser.error(f"no budget for {', '.join(sorted(unknown))}")
    runs = args.runs or list(BUDGETS)
    if not args.table:
        with ProcessPoolExecutor(args.jobs) as pool:
            if args.tune:
                for run in runs:
                    tune(run, pool, args.force)
            else:
                jobs = [(run, seed, False, LR) for seed in SEEDS for run in runs]
                jobs += [(run, 0, True, LR) for run in runs if run in FROM_EVOLVED]
                train_all(jobs, pool, args.force)
    print(table(runs))


if __name__ == "__main__":
    main(sys.argv[1:])
