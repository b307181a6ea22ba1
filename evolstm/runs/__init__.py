"""Runs: configs, the search loop, run directories, checkpoints and exact resume."""

from __future__ import annotations

import os
from pathlib import Path

from evolstm.runs import config
from evolstm.runs.loop import Interrupted, Run, SearchLoop
from evolstm.runs.search import Search


def searcher(run_config: config.Config) -> type[SearchLoop]:
    """The search class of a config: cells (`[architecture]`) or one cell's weights."""
    if run_config.searches_cells:
        from evolstm.runs.cellsearch import CellSearch

        return CellSearch
    return Search


def search(
    config_path: str | os.PathLike[str],
    seed: int | None = None,
    jobs: int | None = None,
    backend: str | None = None,
    scheduler: str | None = None,
    generations: int | None = None,
    out: str | os.PathLike[str] | None = None,
    quiet: bool = True,
    candidates: int | None = None,
) -> Run:
    """Run the search a config file describes (the same as ``evolstm search``)."""
    from evolstm.runs import rundir

    path = Path(config_path)
    resolved = config.load(path).with_overrides(seed, generations, jobs, backend, scheduler,
                                                candidates)
    run_dir = rundir.new_path(path, Path(out) if out is not None else None)
    return searcher(resolved).start(resolved, run_dir, quiet=quiet)


def resume(
    run_dir: str | os.PathLike[str],
    generations: int | None = None,
    quiet: bool = True,
    jobs: int | None = None,
    backend: str | None = None,
    candidates: int | None = None,
) -> Run:
    """Continue a stopped or finished search to the same result an uninterrupted one gets;
    `generations` (weights) or `candidates` (cells) raise its budget."""
    from evolstm.runs import rundir

    path = Path(run_dir)
    rundir.require(path, rundir.CONFIG)
    search_class = searcher(config.load(path / rundir.CONFIG))
    return search_class.resume(path, generations, quiet, candidates, jobs=jobs,
                               backend=backend)


__all__ = ["Interrupted", "Run", "Search", "config", "resume", "search"]
