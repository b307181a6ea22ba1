"""Gradient training as a peer of evolution: backpropagation through time with Adam.

``evolstm.torch.train(cell, task, epochs=100, lr=0.01)`` trains a cell's weights (all of
them, readout included; a topology cell or a cell graph) on a task's training sequences and
returns the cell with the lowest training loss; with ``out=`` it writes a run folder like a
search's. The loss is the mean squared error over the task's scored steps:

* symbol-set tasks (``anbn``, ``anbncn``, ``reber``): every scored step, against the 0/1
  next-symbol sets;
* last-step tasks (``adding``, ``temporal_order``): the answer at each sequence's end;
* generator tasks (``mso``, ``mackey_glass``): one-step prediction, teacher-forced over the
  fitting window after the washout (the test then runs the cell free, as for an evolved one).

The returned cell's info records the task (``task_options``, ``task_seed``), so
``evolstm eval best.npz`` computes its test metrics on the task's held-out data.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evolstm import options as opts
from evolstm import tasks
from evolstm.cells.cell import Cell
from evolstm.cells.cellfile import save
from evolstm.errors import EvolstmError
from evolstm.tasks.base import Task
from evolstm.tasks.generator import GeneratorTask
from evolstm.tasks.sequences import LastStepTask, SymbolSetTask
from evolstm.torch.module import from_torch, to_torch

HISTORY = ("epoch", "presentations", "loss", "best_loss", "elapsed_s")


def training_data(task: Task) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The task's training sequences: x (B, T, I), targets (B, T, O), mask (B, T) bool."""
    if isinstance(task, SymbolSetTask):
        return task.x, task.targets, task.mask
    if isinstance(task, LastStepTask):
        return task.train.x, task.train.targets, task.train.mask
    if isinstance(task, GeneratorTask):
        window = task.fit_window
        x, targets = window[:, :-1], window[:, 1:]
        mask = np.zeros(x.shape[:2], dtype=bool)
        mask[:, task.washout :] = True
        return x, targets, mask
    raise EvolstmError(
        f"train: task {task.name!r} has no training sequences to backpropagate through "
        "(symbol-set, last-step and generator tasks have)"
    )


def train(
    cell: Cell,
    task: Task | str,
    epochs: int = 100,
    lr: float = 0.01,
    batch_size: int | None = None,
    seed: int = 0,
    clip: float | None = 1.0,
    out: str | os.PathLike[str] | None = None,
) -> Cell:
    """Train `cell` on `task` (a Task, or a task name with its default options, seed 0).

    Each epoch presents every training sequence once, in shuffled mini-batches of
    `batch_size` (None: the whole set as one batch); Adam with learning rate `lr`,
    gradients clipped to norm `clip` (None: no clipping). Returns the cell of the epoch
    with the lowest training loss (the cell's dtype; float64 and float32 both train).
    With `out`, writes the run folder: config.toml, history.csv (one row per epoch:
    sequence presentations and seconds), best.npz, summary.json (test metrics).
    """
    if isinstance(task, str):
        task_cls = tasks.get(task)
        task = task_cls(opts.build(task_cls.Options, {}, "task"), 0)
    if epochs < 0 or lr <= 0 or (batch_size is not None and batch_size < 1):
        raise EvolstmError("train: epochs must be >= 0, lr > 0 and batch_size >= 1")
    if (task.n_in, task.n_out) != (cell.n_in, cell.n_out):
        raise EvolstmError(
            f"train: task {task.name} has {task.n_in} inputs and {task.n_out} outputs; "
            f"the cell has {cell.n_in} and {cell.n_out}"
        )
    x_all, targets_all, mask_all = training_data(task)
    module = to_torch(cell)
    dtype = module.dtype
    x_all = torch.as_tensor(np.asarray(x_all), dtype=dtype)
    targets_all = torch.as_tensor(np.asarray(targets_all), dtype=dtype)
    mask_all = torch.as_tensor(np.asarray(mask_all, dtype=bool))
    n_seq = x_all.shape[0]
    batch = n_seq if batch_size is None else min(batch_size, n_seq)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(module.parameters(), lr=lr)
    history: list[dict[str, Any]] = []
    best_loss, best_state = math.inf, {k: v.clone() for k, v in module.state_dict().items()}
    start, presentations = time.perf_counter(), 0
    for epoch in range(1, epochs + 1):
        order = torch.randperm(n_seq, generator=generator)
        total, weight = 0.0, 0
        for first in range(0, n_seq, batch):
            index = order[first : first + batch]
            x, targets, mask = x_all[index], targets_all[index], mask_all[index]
            x, targets, mask = _trim(x, targets, mask)
            optimiser.zero_grad()
            y, _ = module(x)
            squared = ((y - targets) ** 2).sum(dim=-1)
            n_scored = int(mask.sum())
            loss = squared[mask].sum() / max(n_scored, 1)
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
            optimiser.step()
            total += float(loss.detach()) * n_scored
            weight += n_scored
            presentations += len(index)
        epoch_loss = total / max(weight, 1)
        if math.isfinite(epoch_loss) and epoch_loss < best_loss:
            best_loss = epoch_loss
            best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        history.append({"epoch": epoch, "presentations": presentations, "loss": epoch_loss,
                        "best_loss": best_loss, "elapsed_s": time.perf_counter() - start})
    module.load_state_dict(best_state)
    trained = from_torch(module)
    trained.info = {
        **cell.info,
        "task_options": {"name": task.name, **opts.to_table(task.options)},
        "task_seed": int(task.seed),
        "trained": {"epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed,
                    "clip": clip, "best_loss": best_loss},
    }
    if out is not None:
        _write_run(Path(out), trained, task, history, time.perf_counter() - start)
    return trained


def _trim(x: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor):
    """Drop the steps after a batch's last scored step (padding only costs time)."""
    scored = torch.nonzero(mask.any(dim=0))
    last = int(scored.max()) + 1 if len(scored) else x.shape[1]
    return x[:, :last], targets[:, :last], mask[:, :last]


def default_out(task_name: str) -> Path:
    """results/train-<task>-<YYYYmmdd-HHMMSS>/."""
    return Path("results") / f"train-{task_name}-{datetime.now():%Y%m%d-%H%M%S}"


def _write_run(run_dir: Path, cell: Cell, task: Task, history: list[dict[str, Any]],
               wall_s: float) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    population, trained = cell.population, cell.info["trained"]
    if population.variant:
        spec = f'variant = "{population.variant}"'
    elif population.graph is not None:
        spec = "graph = " + json.dumps(json.dumps(population.graph.to_dict()))
    else:
        spec = "topology = " + json.dumps(json.dumps(population.topology.to_dict()))
    task_lines = "\n".join(f"{key} = {_toml(value)}"
                           for key, value in cell.info["task_options"].items())
    (run_dir / "config.toml").write_text(
        "# evolstm.torch.train: backpropagation through time with Adam\n"
        f"seed = {trained['seed']}\n\n[task]\n{task_lines}\ntask_seed = {cell.info['task_seed']}"
        f"\n\n[cell]\n{spec}\nhidden = {population.n_hidden}\nlayers = {population.layers}\n"
        f'dtype = "{population.dtype}"\n\n[training]\nepochs = {trained["epochs"]}\n'
        f"lr = {trained['lr']}\nbatch_size = {_toml(trained['batch_size'])}\n"
        f"clip = {_toml(trained['clip'])}\n",
        encoding="utf-8",
    )
    with open(run_dir / "history.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=HISTORY)
        writer.writeheader()
        writer.writerows(history)
    save(cell, run_dir / "best.npz")
    test = task.test(cell)
    solved = None
    if task.has_criterion:
        solved = bool(task.solves(population, cell.genome[None])[0])
    summary = {
        "task": task.name, "test": test, "epochs": trained["epochs"],
        "presentations": history[-1]["presentations"] if history else 0,
        "best_loss": trained["best_loss"], "wall_s": wall_s, "solved": solved,
        "trainer": "backpropagation through time (Adam)",
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n",
                                          encoding="utf-8")


def _toml(value: Any) -> str:
    if value is None:
        return '"none"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return json.dumps(str(value))
