"""Where a search's time goes: the simulation kernel against everything else.

    python benchmarks/end_to_end.py [--generations N]

Runs the shipped searches the fast-evaluator issue names - Evolino on MSO (searches/mso5.toml)
and CMA-ES on double pole (searches/double_pole.toml) - for a fixed number of generations in
this process (backend sequential, so every call is seen) and times, by wrapping them:

- kernel: `Population.run` (the population simulator; Evolino's hidden states) and
  `cartpole_physics.balance` (the batched cell + cart kernel of the double pole, including
  its 100,000-step and 625-start checks);
- readout: the least-squares readout fits (`fit_readout`, Evolino only);
- algorithm: the algorithm's ask and tell (pycma's sampling and covariance update);
- rest: the run loop (history, best-cell files, checkpoints, progress) and the task's own
  Python (fitness arithmetic).

The first generation (Numba cache load) is excluded by a warm-up run of one generation.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import evolstm
from evolstm.algorithms.cmaes import CMAES
from evolstm.algorithms.evolino import Evolino
from evolstm.cells.population import Population
from evolstm.tasks import cartpole_physics, generator, mackey_glass, reber, sequences

ROOT = Path(__file__).resolve().parent.parent
SEARCHES = {"mso5 (Evolino + CMA-ES)": ROOT / "searches" / "mso5.toml",
            "double pole (CMA-ES)": ROOT / "searches" / "double_pole.toml"}
SPENT: dict[str, float] = defaultdict(float)
DEPTH: dict[str, int] = defaultdict(int)


def timed(owner: object, name: str, bucket: str) -> None:
    """Replace owner.name by a wrapper adding its wall time to SPENT[bucket]; calls nested in
    another call of the same bucket (Evolino's ask calling CMA-ES's) are counted once."""
    inner = getattr(owner, name)

    def wrapper(*args, **kwargs):
        DEPTH[bucket] += 1
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            DEPTH[bucket] -= 1
            if DEPTH[bucket] == 0:
                SPENT[bucket] += time.perf_counter() - start

    setattr(owner, name, wrapper)


def instrument() -> None:
    timed(Population, "run", "kernel")
    timed(cartpole_physics, "balance", "kernel")
    for module in (generator, mackey_glass, reber, sequences):
        if hasattr(module, "fit_readout"):
            timed(module, "fit_readout", "readout")
    for cls in (Evolino, CMAES):
        timed(cls, "ask", "algorithm")
        timed(cls, "tell", "algorithm")


def profile(config: Path, generations: int, out: Path) -> tuple[float, dict[str, float], int]:
    """(wall s, seconds per bucket, evaluations) of `generations` generations of a search."""
    evolstm.search(config, generations=1, out=out / f"{config.stem}-warm")  # cache load
    SPENT.clear()
    start = time.perf_counter()
    run = evolstm.search(config, generations=generations, out=out / config.stem)
    wall = time.perf_counter() - start
    return wall, dict(SPENT), run.summary["evaluations"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=150)
    args = parser.parse_args()
    instrument()
    print("| search | generations | evaluations | wall s | kernel | readout fit | algorithm "
          "| rest | outside the kernel |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for label, config in SEARCHES.items():
            wall, spent, evaluations = profile(config, args.generations, Path(tmp))
            kernel, readout = spent.get("kernel", 0.0), spent.get("readout", 0.0)
            algorithm = spent.get("algorithm", 0.0)
            rest = wall - kernel - readout - algorithm
            share = {k: 100 * v / wall for k, v in
                     (("kernel", kernel), ("readout", readout), ("algorithm", algorithm),
                      ("rest", rest))}
            print(f"| {label} | {args.generations} | {evaluations} | {wall:.2f} "
                  f"| {share['kernel']:.0f}% | {share['readout']:.0f}% "
                  f"| {share['algorithm']:.0f}% | {share['rest']:.0f}% "
                  f"| {100 - share['kernel']:.0f}% |", flush=True)


if __name__ == "__main__":
    main()
