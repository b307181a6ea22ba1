"""Runs: configs, the search loop, run directories, checkpoints and exact resume."""

from __future__ import annotations

import os
from pathlib import Path

from evolstm.runs import config
from evolstm.runs.search import Interrupted, Run, Search


def search(
    config_path: str | os.PathLike[str],
    seed: int | None = None,
    jobs: int | None = None,
    backend: str | None = None,
    scheduler: str | None = None,
    generations: int | None = None,
    out: str | os.PathLike[str] | None = None,
    quiet: bool = True,
) -> Run:
    """Run the search a config file describes (the same as ``evolstm search``)."""
    from evolstm.runs import rundir

    path = Path(config_path)
    resolved = config.load(path).with_overrides(seed, generations, jobs, backend, scheduler)
    run_dir = rundir.new_path(path, Path(out) if out is not None else None)
    return Search.start(resolved, run_dir, quiet=quiet)


def resume(
    run_dir: str | os.PathLike[str],
    generations: int | None = None,
    quiet: bool = True,
    jobs: int | None = None,
    backend: str | None = None,
) -> Run:
    """Continue a stopped or finished search to the same result an uninterrupted one gets."""
    return Search.resume(Path(run_dir), generations, quiet, jobs=jobs, backend=backend)


__all__ = ["Interrupted", "Run", "Search", "config", "resume", "search"]
