"""Throughput of the search over cells: candidates per hour, where the time goes, and the
speed-up from 1 to 2 workers (loky and a Dask LocalCluster).

    python benchmarks/bench_cellsearch.py [--candidates N] [--budget EVALUATIONS]

The search is searches/cellsearch_anbncn.toml (aging evolution on a^n b^n c^n, Evolino inner
searches) with `--candidates` candidates (at least its first generation, 16) and an inner
budget of `--budget` evaluations, one inner seed. Every figure below comes from runs made
in this process, one after the other:

1. in process (backend sequential), with `Population.run` (the population simulator) and
   the least-squares readout timed by wrapping them: the share of wall time in the inner
   kernels, in the rest of the inner searches (pycma, the task's Python), and outside the
   inner searches (the outer loop: operators, cache, records, checkpoints);
2. the speed-up from 1 to 2 workers, in `--rounds` rounds (default 3): each round runs the
   search in process (one worker: with `jobs = 1` both backends run their jobs in the
   calling process), on a loky pool of 2 and on a Dask LocalCluster of 2 worker processes,
   in an order that rotates from round to round, both pools open throughout (started, and
   their workers' Numba caches loaded, by the same search run once untimed); a round's
   speed-up is its in-process wall time over the pool's, so the host's load, which moves
   from minute to minute on a shared machine, changes both sides of a ratio alike; the
   median and range over the rounds are printed;
3. which kernel scored each candidate (`Population.engine`: the fast kernels, the graph
   interpreter for the topologies they do not run, the reference kernel for the few that
   are no valid graph), the median inner search on each, and the same in-process search
   with the interpreter switched off (every fallback on the reference kernel, as before
   session 14).

Every timed run follows the same search run once untimed, in the same process or on the
same workers, so that no timed run loads a Numba kernel (a worker loads each kernel it
meets from the cache, ~2-3 s over a first 48-candidate run: session 14). The runs'
candidates are identical on every backend (checked), so the comparisons are like for like.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

import evolstm
from evolstm.cells.population import Population
from evolstm.cells.topology import Topology
from evolstm.runs.evaluator import local_cluster
from evolstm.tasks import sequences

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "searches" / "cellsearch_anbncn.toml"
SPENT: dict[str, float] = defaultdict(float)


@contextlib.contextmanager
def timed(owner: object, name: str, bucket: str):
    """Within the block, owner.name is a wrapper adding its wall time to SPENT[bucket]."""
    inner = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            SPENT[bucket] += time.perf_counter() - start

    setattr(owner, name, wrapper)
    try:
        yield
    finally:
        setattr(owner, name, inner)


def config_for(directory: Path, candidates: int, budget: int) -> Path:
    """The benchmark's config: the shipped one with its budget and one inner seed."""
    text = CONFIG.read_text()
    text = text.replace("candidates = 64", f"candidates = {candidates}")
    text = text.replace("max_evaluations = 2000", f"max_evaluations = {budget}")
    text = text.replace("inner_seeds = 2", "inner_seeds = 1")
    path = directory / "bench.toml"
    path.write_text(text)
    return path


def run(config: Path, out: Path, **parallel) -> tuple[float, dict]:
    started = time.perf_counter()
    result = evolstm.search(config, out=out, **parallel)
    return time.perf_counter() - started, result.summary


def candidate_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "candidates.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def untimed(run_dir: Path) -> list[dict[str, str]]:
    """The run's candidates.csv rows without their timing: equal on every backend."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in candidate_rows(run_dir)]


def warm_engines() -> None:
    """Load (or compile) the three kernels a search uses, at an Evolino population's size,
    so that no timed run pays for it (the warm-up search may not touch all three)."""
    x = np.zeros((2, 5, 3))
    for cell in ("lstm", "fgr", {"family": "lstm", "input_gate": False, "forget_gate": False,
                                 "output_gate": False, "h_modes": {"g": "none"}}):
        population = Population(cell, 3, 4, 3)
        for n_genomes in (1, 20):
            population.run(np.zeros((n_genomes, population.n_params)), x, keep_hidden=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=48)
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = config_for(root, args.candidates, args.budget)
        warm_engines()
        run(config, root / "warm-sequential", backend="sequential")
        print(f"search: {CONFIG.name}, {args.candidates} candidates, inner budget "
              f"{args.budget} evaluations, 1 inner seed")

        with timed(Population, "run", "kernel"), timed(sequences, "fit_readout", "readout"):
            wall, summary = run(config, root / "sequential", backend="sequential")
        inner = summary["inner_seconds"]
        reference = root / "sequential"
        print(f"\nin process: {summary['candidates']} candidates in {wall:.1f} s, "
              f"{summary['candidates'] / wall * 3600:.0f} "
              f"candidates/h ({summary['unique_candidates']} scored, "
              f"{summary['cache_hits']} cache hits)")
        for label, seconds in (("inner kernels (Population.run)", SPENT["kernel"]),
                               ("inner readout fits", SPENT["readout"]),
                               ("rest of the inner searches (pycma, task)",
                                inner - SPENT["kernel"] - SPENT["readout"]),
                               ("outer loop (operators, cache, records, test report)",
                                wall - inner)):
            print(f"  {label:52s} {seconds:8.2f} s  {100 * seconds / wall:5.1f}%")

        rows = candidate_rows(reference)
        scored = [row for row in rows if row["cache_hit"] == "0"]
        engines = np.array([Population(Topology.from_dict(json.loads(row["key"])), 3, 4, 3).engine
                            for row in scored])
        seconds = np.array([float(row["seconds"]) for row in scored])
        print(f"\nengines of the {len(scored)} scored candidates (median inner search):")
        for engine in ("fast", "interpreter", "reference"):
            mine = engines == engine
            print(f"  {engine:12s} {np.sum(mine):4d}  {100 * np.mean(mine):4.0f}%  "
                  + (f"{np.median(seconds[mine]):.2f} s" if mine.any() else "-"))
        interpreted = Population._interpreted
        Population._interpreted = None  # every fallback on the reference kernel, as before
        try:
            wall_reference, _ = run(config, root / "reference-kernel", backend="sequential")
        finally:
            Population._interpreted = interpreted
        print(f"the same search with every fallback on the reference kernel: "
              f"{wall_reference:.1f} s, {wall_reference / wall:.2f}x the wall time above")
        speed_ups(config, root, reference, args.rounds)


def speed_ups(config: Path, root: Path, reference: Path, rounds: int) -> None:
    """Rounds of in process / loky 2 / Dask 2 (rotating order): wall times, speed-ups; every
    run's candidates checked against the `reference` run's."""
    expected = untimed(reference)
    with local_cluster(2) as local:  # the cluster `--backend dask --jobs 2` would start
        modes = {"in process": {"backend": "sequential"},
                 "loky 2": {"backend": "loky", "jobs": 2},
                 "dask 2": {"backend": "dask", "jobs": 2, "scheduler": local.scheduler_address}}
        for name, parallel in modes.items():  # each pool's workers load every kernel
            run(config, root / f"warm-{name}", **parallel)
        walls: dict[str, list[float]] = defaultdict(list)
        print("\nround  " + "".join(f"{name:>12s}" for name in modes)
              + "   speed-up loky  speed-up dask")
        names = list(modes)
        for round_ in range(rounds):
            start = round_ % len(names)
            for name in names[start:] + names[:start]:
                out = root / f"{name}-{round_}"
                wall, _ = run(config, out, **modes[name])
                walls[name].append(wall)
                assert untimed(out) == expected, f"{name} gave other candidates"
            one = walls["in process"][-1]
            print(f"{round_ + 1:5d}  " + "".join(f"{walls[name][-1]:10.1f} s" for name in modes)
                  + f"   {one / walls['loky 2'][-1]:13.2f}  {one / walls['dask 2'][-1]:13.2f}")
        ones = np.array(walls["in process"])
        candidates = len(expected)
        for name in ("loky 2", "dask 2"):
            ratios = ones / np.array(walls[name])
            print(f"{name}: speed-up median {np.median(ratios):.2f} (range {ratios.min():.2f}-"
                  f"{ratios.max():.2f}), {candidates / np.median(walls[name]) * 3600:.0f} "
                  f"candidates/h (in process {candidates / np.median(ones) * 3600:.0f})")


if __name__ == "__main__":
    main()
