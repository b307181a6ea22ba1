"""The run directory: config.toml, history.csv, checkpoint/, best.npz, summary.json."""

from __future__ import annotations

import csv
import datetime
import json
import os
from pathlib import Path
from typing import Any

from evolstm.errors import RunDirError

CONFIG = "config.toml"
HISTORY = "history.csv"
CHECKPOINT = "checkpoint"
BEST = "best.npz"
SUMMARY = "summary.json"
HISTORY_COLUMNS = ("generation", "evaluations", "best", "mean", "std", "worst", "elapsed_s")


def new_path(config_path: Path, out: Path | None, root: Path = Path("results")) -> Path:
    """`out`, or ``results/<config-stem>-<YYYYmmdd-HHMMSS>`` (suffixed if taken)."""
    if out is not None:
        if out.exists() and any(out.iterdir()):
            raise RunDirError(f"--out {out}: exists and is not empty (use evolstm resume)")
        return out
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = root / f"{config_path.stem}-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = root / f"{config_path.stem}-{stamp}-{suffix}"
    return path


def require(run_dir: Path, *names: str) -> None:
    """Raise `RunDirError` unless run_dir holds every file in `names`."""
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: no such run directory")
    for name in names:
        if not (run_dir / name).exists():
            raise RunDirError(f"{run_dir}: no {name}; not a (complete) evolstm run directory")


def write_atomic(path: Path, text: str) -> None:
    """Write text to a temporary file and rename it over `path`."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_summary(run_dir: Path, summary: dict[str, Any]) -> None:
    write_atomic(run_dir / SUMMARY, json.dumps(summary, indent=2, sort_keys=False) + "\n")


def read_summary(run_dir: Path) -> dict[str, Any]:
    require(run_dir, SUMMARY)
    try:
        return json.loads((run_dir / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise RunDirError(f"{run_dir / SUMMARY}: unreadable ({error})") from None


class History:
    """history.csv: one row per generation, appended and flushed as the search goes.

    The header (`leading`, by default `HISTORY_COLUMNS`, then the row's other columns, e.g.
    the algorithm's) is written with the first row, when those columns are known. Other
    per-row logs (the candidates of a search over cells) use it with their own `leading`.
    """

    def __init__(self, path: Path, leading: tuple[str, ...] = HISTORY_COLUMNS) -> None:
        self.path = path
        self.leading = leading
        self.columns: list[str] = []

    def start(self, keep_rows: int) -> None:
        """Create the file, or keep its header and first `keep_rows` rows (a resume)."""
        rows: list[list[str]] = []
        if keep_rows:
            if not self.path.exists():
                raise RunDirError(f"{self.path}: missing; the checkpoint needs its rows")
            with open(self.path, newline="", encoding="utf-8") as handle:
                rows = list(csv.reader(handle))
            self.columns, rows = rows[0], rows[1 : keep_rows + 1]
            if len(rows) != keep_rows:
                raise RunDirError(
                    f"{self.path}: has {len(rows)} rows, the checkpoint needs {keep_rows}"
                )
        with open(self.path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if self.columns:
                writer.writerow(self.columns)
            writer.writerows(rows)

    def append(self, row: dict[str, float]) -> None:
        with open(self.path, "a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if not self.columns:
                extra = [name for name in row if name not in self.leading]
                self.columns = list(self.leading) + extra
                writer.writerow(self.columns)
            writer.writerow([_format(row[column]) for column in self.columns])


def read_history(run_dir: Path) -> dict[str, list[float]]:
    """history.csv -> {column: values}."""
    require(run_dir, HISTORY)
    with open(run_dir / HISTORY, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns: dict[str, list[float]] = {name: [] for name in reader.fieldnames or []}
        try:
            for row in reader:
                for name, value in row.items():
                    columns[name].append(float(value))
        except (TypeError, ValueError) as error:
            raise RunDirError(f"{run_dir / HISTORY}: malformed ({error})") from None
    return columns


def _format(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def write_csv_atomic(path: Path, rows: list[list[str]]) -> None:
    """Write rows (the header first) to a temporary file and rename it over `path`."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    os.replace(tmp, path)
