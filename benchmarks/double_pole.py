"""Double pole balancing without velocities: evaluations to solve, next to published figures.

    python benchmarks/double_pole.py [--seeds 20] [--configs searches/double_pole.toml ...]

Runs each search config (default: the CMA-ES and CoSyNE configs in searches/) for N seeds
through `evolstm.search`, which stops a run when the task's criterion holds (100,000 steps
from the start, then >= 200 of the 625 generalisation starts), and prints per algorithm the
mean and median evaluations of the solved runs, the share solved and the mean
generalisation count of the final best cells.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import evolstm

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIGS = [ROOT / "searches" / "double_pole.toml",
                   ROOT / "searches" / "double_pole_cosyne.toml"]

# Evaluations to solve, damping fitness, no velocities. Stanley & Miikkulainen, "Evolving
# neural networks through augmenting topologies", Evolutionary Computation 10(2), 2002,
# Table 2 (also UT-AI TR 2001): averages; generalisation counts in parentheses where known.
PUBLISHED = [
    ("CE (Gruau et al. 1996)", "840,000", "Stanley & Miikkulainen 2002"),
    ("ESP (Gomez & Miikkulainen 1999)", "169,466", "Stanley & Miikkulainen 2002"),
    ("NEAT", "33,184", "Stanley & Miikkulainen 2002"),
]


def run(config: Path, seed: int, out: Path, jobs: int) -> dict:
    """One search; its summary."""
    result = evolstm.search(config, seed=seed, out=out / f"{config.stem}-{seed}",
                            backend="sequential" if jobs == 1 else "loky", jobs=jobs)
    return result.summary


def report(name: str, summaries: list[dict]) -> None:
    solved = [s for s in summaries if s["solved"]]
    evaluations = [s["evaluations"] for s in solved]
    counts = [s["test"].get("generalisation", 0.0) for s in summaries]
    if evaluations:
        mean, median = statistics.mean(evaluations), statistics.median(evaluations)
        figures = f"mean {mean:>9,.0f}  median {median:>9,.0f}"
    else:
        figures = f"{'none solved':>34}"
    print(f"{name:<32} {figures}  solved {len(solved)}/{len(summaries)}  "
          f"generalisation {statistics.mean(counts):6.1f}/625")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--configs", type=Path, nargs="+", default=DEFAULT_CONFIGS)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="one line per run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        for config in args.configs:
            summaries = []
            for seed in range(1, args.seeds + 1):
                summary = run(config, seed, Path(scratch), args.jobs)
                summaries.append(summary)
                if args.verbose:
                    print(f"  {config.stem} seed {seed}: evaluations {summary['evaluations']}, "
                          f"solved {summary['solved']}, test {summary['test']}", flush=True)
            report(f"evolstm {config.stem}", summaries)
    print("published (evaluations to solve, damping fitness, no velocities):")
    for name, evaluations, source in PUBLISHED:
        print(f"  {name:<32} {evaluations:>9}   [{source}]")


if __name__ == "__main__":
    main()
