"""Plots of run directories: fitness against evaluations, and what the best cell does.

Architecture searches and studies of cells are drawn by `evolstm.plot_archsearch`.

Like pycma's ``cma.plot()``, a plot reads the run directory after the fact (or during the
run: history.csv is flushed every generation).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evolstm.errors import EvolstmError
from evolstm.runs import rundir
from evolstm.runs.evaluate import open_cell, task_for

MAX_BEHAVIOUR_PANELS = 4


def plot_runs(run_dirs: list[Path], out: Path) -> Path:
    """Draw the history of every run (overlaid) and each run's best cell on its task.

    Architecture-search runs (``candidates.csv``) and studies (``tested.csv``) get their own
    panels (`evolstm.plot_archsearch`).
    """
    from evolstm import plot_archsearch

    if plot_archsearch.handles(run_dirs):
        return plot_archsearch.plot_search_runs(run_dirs, out)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    histories = [(path, rundir.read_history(path)) for path in run_dirs]
    shown = [path for path in run_dirs if (path / rundir.BEST).exists()][:MAX_BEHAVIOUR_PANELS]
    figure, axes = plt.subplots(
        1 + len(shown), 1, figsize=(9, 3.6 * (1 + len(shown))), squeeze=False
    )
    history_ax = axes[0, 0]
    values: list[np.ndarray] = []
    for path, history in histories:
        if not history.get("evaluations"):
            raise EvolstmError(f"{path}: history.csv has no generations yet")
        evaluations = np.asarray(history["evaluations"])
        best = np.asarray(history.get("best_so_far", history["best"]))
        (line,) = history_ax.plot(evaluations, best, label=f"{path.name} best")
        history_ax.plot(evaluations, history["mean"], color=line.get_color(), alpha=0.4,
                        linestyle="--", label=f"{path.name} mean")
        values.append(best)
    best_values = np.concatenate(values)
    if np.all(best_values > 0):
        history_ax.set_yscale("log")
    elif np.ptp(best_values) > 0:  # fitnesses of both signs (e.g. -damping): log-like both ways
        smallest = np.abs(best_values[best_values != 0]).min(initial=1.0)
        history_ax.set_yscale("symlog", linthresh=smallest)
    history_ax.set_xlabel("evaluations")
    history_ax.set_ylabel("fitness (lower is better)")
    history_ax.set_title("search history")
    history_ax.legend(fontsize="small")
    history_ax.grid(alpha=0.3)
    for ax, path in zip(axes[1:, 0], shown, strict=True):
        cell, run_dir = open_cell(path)
        task_for(cell, run_dir).plot(cell, ax)
        ax.set_title(f"{path.name}: best cell on its task", fontsize="medium")
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out
