"""Scoring and running saved cells: what ``evolstm eval`` and ``evolstm predict`` do."""

from __future__ import annotations

import csv
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from evolstm import options, tasks
from evolstm.cells.cell import Cell
from evolstm.cells.cellfile import load
from evolstm.errors import EvolstmError
from evolstm.runs import config as cfg
from evolstm.runs import rundir
from evolstm.runs.search import seeds
from evolstm.tasks import Task


def open_cell(path: Path) -> tuple[Cell, Path | None]:
    """A cell file, or a run directory's best.npz -> (cell, run directory or None)."""
    if path.is_dir():
        rundir.require(path, rundir.BEST)
        return load(path / rundir.BEST), path
    return load(path), None


def task_for(
    cell: Cell, run_dir: Path | None, name: str | None = None, sets: list[str] | None = None
) -> Task:
    """The task to score `cell` on.

    Without `name`: the run's task (its config and seed), or the task recorded in the cell
    file. With `name`: that task with default options, and ``KEY=VALUE`` overrides (values
    in TOML syntax, e.g. ``level=3`` or ``test_limit=2000``) on top of the recorded ones
    when it is the recorded task.
    """
    recorded: dict[str, Any] = {}
    seed = 0
    config = _search_config(run_dir, cell) if run_dir is not None else None
    if config is not None:
        recorded = {"name": config.task, **options.to_table(config.task_options)}
        seed = seeds(config.seed)[0]
    elif "task_options" in cell.info:
        recorded = dict(cell.info["task_options"])
        seed = int(cell.info.get("task_seed", 0))
    if name is None:
        if not recorded:
            raise EvolstmError("this cell file records no task; name one with --task")
        name = recorded["name"]
    same_task = recorded.get("name") == name
    table = {k: v for k, v in recorded.items() if k != "name"} if same_task else {}
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise EvolstmError(f"--set {item!r}: expected KEY=VALUE")
        try:
            table[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            table[key.strip()] = value  # a bare string
    task_cls = tasks.get(name)
    task = task_cls(options.build(task_cls.Options, table, "task"), seed)
    if (task.n_in, task.n_out) != (cell.n_in, cell.n_out):
        raise EvolstmError(
            f"task {name} has {task.n_in} inputs and {task.n_out} outputs; the cell has "
            f"{cell.n_in} and {cell.n_out}"
        )
    return task


def _search_config(run_dir: Path, cell: Cell) -> cfg.Config | None:
    """The run's search config; None for a folder of another kind (a gradient-training run)
    whose cell file records its task."""
    try:
        return cfg.load(run_dir / rundir.CONFIG)
    except cfg.ConfigError:
        if "task_options" in cell.info:
            return None
        raise


def read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    """A CSV with a header row -> (column names, (rows, columns) float64)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as error:
        raise EvolstmError(f"{path}: cannot read ({error})") from None
    if len(rows) < 2:
        raise EvolstmError(f"{path}: needs a header row and at least one row of numbers")
    header, body = rows[0], [row for row in rows[1:] if row]
    try:
        data = np.array([[float(v) for v in row] for row in body], dtype=np.float64)
    except ValueError as error:
        raise EvolstmError(f"{path}: not numeric ({error})") from None
    if data.ndim != 2 or data.shape[1] != len(header):
        raise EvolstmError(f"{path}: every row must have {len(header)} values")
    return header, data


def write_csv(path: Path | None, header: list[str], data: np.ndarray) -> None:
    """Write rows to `path`, or to stdout when None."""
    handle = open(path, "w", newline="", encoding="utf-8") if path else sys.stdout
    try:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([[repr(float(v)) for v in row] for row in data])
    finally:
        if path:
            handle.close()


def score_csv(cell: Cell, path: Path) -> dict[str, float]:
    """Score a cell on a user's CSV.

    Either n_in + n_out columns (inputs, then targets at the same step), or, for a
    generator (n_in == n_out), n_in columns of one series: the cell reads row t and is
    scored on row t + 1 (one-step-ahead). Returns mse and nrmse over all outputs.
    """
    _, data = read_csv(path)
    if data.shape[1] == cell.n_in + cell.n_out:
        inputs, targets = data[:, : cell.n_in], data[:, cell.n_in :]
    elif data.shape[1] == cell.n_in == cell.n_out:
        inputs, targets = data[:-1], data[1:]
    else:
        raise EvolstmError(
            f"{path}: has {data.shape[1]} columns; the cell needs {cell.n_in} inputs + "
            f"{cell.n_out} targets, or one series of {cell.n_in} columns"
        )
    outputs = cell.predict(inputs)[0]
    mse = float(np.mean((outputs - targets) ** 2))
    variance = float(np.mean(targets.var(axis=0)))
    return {"mse": mse, "nrmse": float(np.sqrt(mse / variance)) if variance > 0 else float("nan"),
            "steps": int(len(targets))}


def predict_csv(cell: Cell, path: Path, generate: int = 0) -> tuple[list[str], np.ndarray]:
    """Run a cell over IN.csv (one column per input): outputs, or `generate` closed-loop ones."""
    header, data = read_csv(path)
    if data.shape[1] != cell.n_in:
        raise EvolstmError(f"{path}: has {data.shape[1]} columns; the cell reads {cell.n_in}")
    names = [f"y{k}" for k in range(cell.n_out)]
    if generate:
        if cell.n_in != cell.n_out:
            raise EvolstmError("--generate needs a generator cell (n_in == n_out)")
        return names, cell.generate(data, generate)
    return names, cell.predict(data)[0]
