"""Plots of architecture-search runs (``candidates.csv``) and of studies (``tested.csv``).

A search run gets one row of panels: every candidate's score against its number with the
best so far, the front (score against parameter count, both minimised), the best cell's
diagram, and (when it re-tested cells) the strip of test metrics. A study (named variants
re-scored over inner seeds, ``tested.csv``) gets one strip panel per run: one strip per
cell, a dot per inner seed, the median marked; so do several runs that all have
``tested.csv`` (one task each), plotted together.

Files read (written by the architecture search):
``candidates.csv``: ``candidate,generation,key,variant,score,n_params,inner_evaluations,
seconds,cache_hit``; ``tested.csv``: ``candidate,key,variant,inner_seed,metric,value`` (one
row per candidate, inner seed and metric); ``summary.json`` (``"metric"``: the headline
test metric, ``"task"``); ``best.npz`` (its meta carries the topology or graph);
``front.json`` (its members carry their graphs: the best graph when best.npz is missing).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from evolstm.errors import EvolstmError, RunDirError

CANDIDATES = "candidates.csv"
TESTED = "tested.csv"
SUMMARY = "summary.json"
FRONT = "front.json"
BEST = "best.npz"
PANEL_WIDTH, PANEL_HEIGHT = 5.0, 4.8  # inches of a panel of width 1
DIAGRAM_WIDTH, STUDY_WIDTH = 1.6, 1.2
GRAPH_DIAGRAM_WIDTH = 3.0  # the widest a graph's diagram panel grows
STUDY_COLUMNS = 3


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One row of candidates.csv."""

    candidate: int
    key: str
    variant: str | None
    score: float
    n_params: int
    cache_hit: bool


def handles(run_dirs: list[Path]) -> bool:
    """True when any of `run_dirs` is an architecture search or a study."""
    return any((path / CANDIDATES).exists() or (path / TESTED).exists() for path in run_dirs)


def read_candidates(run_dir: Path) -> list[Candidate]:
    """The rows of ``run_dir/candidates.csv``; a malformed row raises `RunDirError`."""
    path = run_dir / CANDIDATES
    rows = []
    for number, row in enumerate(_read_csv(path), start=2):
        try:
            rows.append(Candidate(
                candidate=int(row["candidate"]),
                key=row["key"],
                variant=row["variant"] or None,
                score=float(row["score"] or "nan"),  # empty: not scored
                n_params=int(row["n_params"]),
                cache_hit=row["cache_hit"].strip().lower() in ("1", "true"),
            ))
        except (KeyError, TypeError, ValueError) as error:
            raise RunDirError(f"{path}: line {number}: bad row ({error})") from None
    if not rows:
        raise RunDirError(f"{path}: no candidates yet")
    return rows


def read_tested(run_dir: Path) -> tuple[str, dict[str, list[float]]]:
    """The headline metric of ``run_dir/tested.csv`` and its values by cell label.

    The metric is summary.json's ``"metric"`` when the file has it, else the file's first
    metric. A cell's label is its variant name, or ``#<candidate>`` for a searched cell.
    Labels come in the cell registry's order, then by candidate number; non-finite values
    are dropped.
    """
    from evolstm.cells import names

    path = run_dir / TESTED
    rows = _read_csv(path)
    if not rows:
        raise RunDirError(f"{path}: no rows")
    metrics = [row.get("metric") for row in rows]
    metric = _summary(run_dir).get("metric")
    metric = metric if metric in metrics else metrics[0]
    values: dict[str, list[float]] = {}
    order: dict[str, tuple[int, int]] = {}
    registry = {name: rank for rank, name in enumerate(names())}
    for number, row in enumerate(rows, start=2):
        try:
            if row["metric"] != metric:
                continue
            label = row["variant"] or f"#{int(row['candidate'])}"
            value = float(row["value"])
            rank = registry.get(row["variant"], len(registry))
            order.setdefault(label, (rank, int(row["candidate"])))
        except (KeyError, TypeError, ValueError) as error:
            raise RunDirError(f"{path}: line {number}: bad row ({error})") from None
        values.setdefault(label, [])
        if math.isfinite(value):
            values[label].append(value)
    if not values:
        raise RunDirError(f"{path}: no rows of metric {metric!r}")
    return str(metric), {label: values[label] for label in sorted(values, key=order.get)}


def pareto_front(scores: np.ndarray, n_params: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated points (both objectives minimised), by parameter count.

    A point is dominated when another is no worse in both objectives and better in one.
    """
    scores, n_params = np.asarray(scores, dtype=float), np.asarray(n_params)
    order = np.lexsort((scores, n_params))  # by parameters, then score
    front: list[int] = []
    best_fewer = math.inf  # lowest score among points with strictly fewer parameters
    start = 0
    while start < len(order):
        stop = start
        while stop < len(order) and n_params[order[stop]] == n_params[order[start]]:
            stop += 1
        group = order[start:stop]
        lowest = scores[group[0]]
        if lowest < best_fewer:
            front.extend(int(i) for i in group if scores[i] == lowest)
        best_fewer = min(best_fewer, lowest)
        start = stop
    return np.array(front, dtype=int)


def best_candidate(candidates: list[Candidate]) -> Candidate:
    """The lowest score, ties to fewer parameters, then to the earlier candidate."""
    finite = [c for c in candidates if math.isfinite(c.score)] or candidates
    return min(finite, key=lambda c: (c.score, c.n_params, c.candidate))


def plot_search_runs(run_dirs: list[Path], out: Path) -> Path:
    """Draw architecture-search runs (a row each) and studies (a strip panel each).

    Several runs that all have ``tested.csv`` (one task each) get one strip panel per run.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plain = [path for path in run_dirs if not handles([path])]
    if plain:
        raise EvolstmError(
            f"{plain[0]}: has no {CANDIDATES} or {TESTED}; plot architecture searches and "
            "studies apart from ordinary runs"
        )
    rows: list[list[tuple[float, Callable[[Any], None]]]] = []  # (width, draw) panels
    studies: list[tuple[float, Callable[[Any], None]]] = []
    # several runs that all re-tested cells (a study over tasks): only their strips
    strips_only = len(run_dirs) > 1 and all((path / TESTED).exists() for path in run_dirs)
    for path in run_dirs:
        if (path / CANDIDATES).exists() and not strips_only:
            candidates = read_candidates(path)
            cell, best = _best_cell(path, candidates)
            row = [
                (1.0, _panel(_draw_progress, path, candidates)),
                (1.0, _panel(_draw_front, path, candidates)),
                (_diagram_width(cell), _panel(_draw_best, cell, best)),
            ]
            if (path / TESTED).exists():
                row.append((STUDY_WIDTH, _panel(_draw_study, path)))
            rows.append(row)
        else:
            studies.append((STUDY_WIDTH, _panel(_draw_study, path)))
    for start in range(0, len(studies), STUDY_COLUMNS):
        rows.append(studies[start:start + STUDY_COLUMNS])
    width = max(sum(w for w, _ in row) for row in rows)
    figure = plt.figure(figsize=(PANEL_WIDTH * width, PANEL_HEIGHT * len(rows)),
                        layout="constrained")
    for subfigure, row in zip(np.atleast_1d(figure.subfigures(len(rows), 1)), rows,
                              strict=True):
        widths = [w for w, _ in row]
        spare = width - sum(widths)  # a short row keeps its panels' sizes
        axes = subfigure.subplots(1, len(row) + (spare > 0),
                                  width_ratios=widths + ([spare] if spare > 0 else []),
                                  squeeze=False)[0]
        for ax, (_, draw) in zip(axes, row, strict=False):
            draw(ax)
        if spare > 0:
            axes[-1].axis("off")
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def _panel(draw: Callable[..., None], *args: Any) -> Callable[[Any], None]:
    return lambda ax: draw(ax, *args)


def _draw_progress(ax: Any, path: Path, candidates: list[Candidate]) -> None:
    """(a) every candidate's score against its number, the best so far as a line."""
    number = np.array([c.candidate for c in candidates])
    score = np.array([c.score for c in candidates])
    hit = np.array([c.cache_hit for c in candidates])
    finite = np.isfinite(score)
    fresh, cached = finite & ~hit, finite & hit
    ax.scatter(number[fresh], score[fresh], s=14, alpha=0.6, color="tab:blue",
               label="scored")
    if cached.any():
        ax.scatter(number[cached], score[cached], s=22, marker="x", color="0.55",
                   label="cache hit")
    order = np.argsort(number, kind="stable")
    so_far = np.minimum.accumulate(np.where(finite, score, np.inf)[order])
    shown = np.isfinite(so_far)
    ax.step(number[order][shown], so_far[shown], where="post", color="tab:red",
            linewidth=1.8, label="best so far")
    _score_scale(ax, score[finite], "y")
    ax.set_xlabel("candidate")
    ax.set_ylabel("score (inner search, lower is better)")
    lost = int((~finite).sum())
    ax.set_title(f"{path.name}: {len(candidates)} candidates"
                 + (f" ({lost} without a finite score)" if lost else ""), fontsize="medium")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)


def _draw_front(ax: Any, path: Path, candidates: list[Candidate]) -> None:
    """(b) score against parameter count, the Pareto front highlighted."""
    unique: dict[str, Candidate] = {}
    for candidate in candidates:
        if math.isfinite(candidate.score):
            unique.setdefault(candidate.key, candidate)
    cells = list(unique.values())
    if not cells:
        ax.text(0.5, 0.5, "no finite scores", ha="center", transform=ax.transAxes)
        ax.axis("off")
        return
    score = np.array([c.score for c in cells])
    n_params = np.array([c.n_params for c in cells])
    ax.scatter(n_params, score, s=12, color="0.6", alpha=0.35, label="candidates")
    front = pareto_front(score, n_params)
    ax.step(n_params[front], score[front], where="post", color="tab:red", alpha=0.6)
    ax.scatter(n_params[front], score[front], s=36, color="tab:red", zorder=3,
               label=f"front ({len(front)})")
    for i in front:  # named variants by name; searched cells by number while few
        label = cells[i].variant or (f"#{cells[i].candidate}" if len(front) <= 12 else "")
        if label:
            ax.annotate(label, (n_params[i], score[i]), xytext=(4, 4),
                        textcoords="offset points", fontsize=8)
    _score_scale(ax, score, "y")
    if n_params.min() > 0 and n_params.max() > 30 * n_params.min():
        ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("score (lower is better)")
    ax.set_title(f"{path.name}: front of {len(cells)} distinct cells", fontsize="medium")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)


def _best_cell(path: Path, candidates: list[Candidate]) -> tuple[Any, Candidate]:
    """The best cell: best.npz's topology or graph, else the best candidate's (`_cell_of`;
    None when there is none to draw), and its row of candidates.csv."""
    best = best_candidate(candidates)
    if (path / BEST).exists():
        from evolstm.cells.cellfile import load

        population = load(path / BEST).population
        cell = population.graph if population.graph is not None else population.topology
    else:
        cell = _cell_of(path, best)
    if cell is not None:
        keys = _keys_of(cell)
        match = [c for c in candidates if c.key in keys]
        best = best_candidate(match) if match else best
    return cell, best


def _diagram_width(cell: Any) -> float:
    """The diagram panel's width: a graph's as wide as its full-size drawing, within
    limits; a topology's fixed."""
    from evolstm.cells.graph import Graph

    if not isinstance(cell, Graph):
        return DIAGRAM_WIDTH
    from evolstm.graph_diagram import figure_size

    return min(max(figure_size(cell)[0] / PANEL_WIDTH, DIAGRAM_WIDTH), GRAPH_DIAGRAM_WIDTH)


def _draw_best(ax: Any, cell: Any, best: Candidate) -> None:
    """(c) the best cell's diagram (`_best_cell`)."""
    from evolstm.diagram import draw

    name = best.variant or f"candidate {best.candidate}"
    title = f"best: {name}, score {best.score:.4g}, {best.n_params} parameters"
    if cell is not None:
        draw(cell, ax, title)
    else:
        ax.text(0.5, 0.5, "no cell to draw", ha="center", transform=ax.transAxes)
        ax.axis("off")
        ax.set_title(title, fontsize="medium")


def _cell_of(path: Path, candidate: Candidate) -> Any:
    """`candidate`'s topology (a topology's key is its JSON) or graph (from front.json's
    member with its key), or None."""
    from evolstm.cells.graph import Graph
    from evolstm.cells.topology import Topology

    try:
        return Topology.from_dict(json.loads(candidate.key))
    except (json.JSONDecodeError, EvolstmError):
        pass
    front = path / FRONT
    if not front.exists():
        return None
    try:
        members = json.loads(front.read_text(encoding="utf-8")).get("members", [])
    except (OSError, json.JSONDecodeError, AttributeError) as error:
        raise RunDirError(f"{front}: unreadable ({error})") from None
    graph = next((m.get("graph") for m in members if m.get("key") == candidate.key), None)
    return Graph.from_dict(graph, where=f"{front}: graph") if graph is not None else None


def _draw_study(ax: Any, path: Path) -> None:
    """One strip per cell: its test metric for every inner seed, the median marked."""
    metric, values = read_tested(path)
    for x, points in enumerate(values.values()):
        if not points:
            continue
        spread = np.linspace(-0.18, 0.18, len(points)) if len(points) > 1 else np.zeros(1)
        ax.scatter(x + spread, points, s=16, alpha=0.7, color="tab:blue", zorder=2)
        ax.hlines(float(np.median(points)), x - 0.3, x + 0.3, color="black", linewidth=2,
                  zorder=3)
    every = np.concatenate([np.asarray(v, dtype=float) for v in values.values()])
    if every.size:
        _score_scale(ax, every, "y", symlog=False)
    ax.set_xticks(range(len(values)), list(values), rotation=60, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(values) - 0.4)
    ax.set_ylabel(f"{metric} (test; bar: median over inner seeds)")
    task = _summary(path).get("task")
    ax.set_title(f"{task}: {path.name}" if task else path.name, fontsize="medium")
    ax.grid(alpha=0.3, axis="y")


def _keys_of(cell: Any) -> set[str]:
    """The keys candidates.csv may give `cell`: its own and, for a topology, the search's
    canonical one (a graph's key is canonical already)."""
    from evolstm.cells.graph import Graph

    keys = {cell.key()}
    if isinstance(cell, Graph):
        return keys
    try:
        from evolstm.archsearch.canonical import key as canonical_key
    except ImportError:  # the search's canonical form is optional here
        return keys
    return keys | {canonical_key(cell)}


def _score_scale(ax: Any, values: np.ndarray, axis: str, symlog: bool = True) -> None:
    """Log scale for positive values spread over decades; symlog for both signs."""
    set_scale = ax.set_yscale if axis == "y" else ax.set_xscale
    if values.size == 0:
        return
    if np.all(values > 0):
        if values.max() > 30 * values.min():
            from matplotlib.ticker import FuncFormatter, NullFormatter

            set_scale("log")
            scale_axis = ax.yaxis if axis == "y" else ax.xaxis
            if values.max() > 1e3 * values.min():  # decades: label the powers of ten only
                scale_axis.set_minor_formatter(NullFormatter())
            else:  # a few decades: 1, 2, 5 times each power of ten, as plain numbers
                formatter = FuncFormatter(_one_two_five)
                scale_axis.set_major_formatter(formatter)
                scale_axis.set_minor_formatter(formatter)
    elif symlog and np.ptp(values) > 0 and values.min() < 0:
        smallest = np.abs(values[values != 0]).min(initial=1.0)
        set_scale("symlog", linthresh=smallest)


def _one_two_five(value: float, _: Any = None) -> str:
    """A tick label for 1, 2 and 5 times a power of ten, nothing for the others."""
    if value <= 0:
        return ""
    leading = round(value / 10 ** math.floor(math.log10(value) + 1e-9), 6)
    return f"{value:g}" if leading in (1.0, 2.0, 5.0) else ""


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except (OSError, csv.Error, UnicodeDecodeError) as error:
        raise RunDirError(f"{path}: unreadable ({error})") from None


def _summary(run_dir: Path) -> dict[str, Any]:
    path = run_dir / SUMMARY
    if not path.exists():
        return {}
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise RunDirError(f"{path}: unreadable ({error})") from None
    return summary if isinstance(summary, dict) else {}
