"""Double pole balancing without velocities: evaluations to solve, next to published figures.

    python benchmarks/double_pole.py [--seeds 20] [--first-seed 1] [--configs CONFIG ...]
                                     [--old-check] [--set KEY=VALUE ...]

Runs each search config (default: the best setting, the CMA-ES and the CoSyNE configs in
searches/) for seeds first..first + N - 1 (default 1..20) through `evolstm.search`, which
stops a run when the task's criterion holds (100,000 steps from the start and from the 10
perturbed starts, then >= 200 of the 625 generalisation starts), and prints per config the
mean, median, quartiles and range of the evaluations of the solved runs, the share solved,
the mean generalisation count of the final best cells and the evaluations of every run.

`--old-check` gives the criterion before issue 22 (the standard start only, no perturbed
starts: `solve_angle_offsets_rad = []`, `solve_cart_offsets_m = []`); `--set` adds any
other task option (a TOML value) to every config's [task] table.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import evolstm

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIGS = [ROOT / "searches" / name for name in
                   ("double_pole.toml", "double_pole_cmaes.toml", "double_pole_cosyne.toml")]

# Published evaluations to solve this task (damping fitness, no velocities, 100,000 steps and
# >= 200 of 625 starts): (method, mean evaluations, generalisation count or "", source).
# Read in the sources named; "via" marks a figure read in a secondary text that quotes the
# paper's table (the paper itself could not be read through the search tool).
SOURCES = {
    "G08": "Gomez, Schmidhuber & Miikkulainen, JMLR 9 (2008), table 4, via "
           "tachsin/genoxide examples/double_pole_no_velocities/README.md",
    "I03": "Igel 2003 (CEC), as quoted in the same README",
    "SM02": "Stanley & Miikkulainen, Evol. Comput. 10(2) (2002), via the same README "
            "and a summary of the paper",
}
PUBLISHED = [
    ("CoSyNE", "3,416", "", "G08"),
    ("CMA-ES (Igel 2003, 3 hidden units)", "6,061", "250",
     "G08; generalisation I03"),
    ("NEAT (populations of 16)", "6,929", "", "G08"),
    ("ESP", "26,342", "", "G08"),
    ("CNE", "87,623", "", "G08"),
    ("SANE", "451,612", "", "G08"),
    ("Random weight guessing", "1,232,296", "", "G08"),
    ("CE (Gruau et al. 1996, one run)", "840,000", "300", "SM02"),
    ("ESP (Gomez & Miikkulainen 1999)", "169,466", "289", "SM02"),
    ("NEAT (populations of 1000)", "33,184", "286", "SM02"),
]


OLD_CHECK = ["solve_angle_offsets_rad=[]", "solve_cart_offsets_m=[]"]


def with_task_options(config: Path, settings: list[str], scratch: Path) -> Path:
    """A copy of `config` in `scratch` whose [task] table also holds KEY = VALUE for each
    "KEY=VALUE" of `settings` (keys the config does not set; the file name is kept)."""
    if not settings:
        return config
    lines = config.read_text(encoding="utf-8").splitlines()
    added = [" = ".join(part.strip() for part in item.split("=", 1)) for item in settings]
    at = lines.index("[task]") + 1
    copy = scratch / "configs" / config.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text("\n".join(lines[:at] + added + lines[at:]) + "\n", encoding="utf-8")
    return copy


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
        low, high = (statistics.quantiles(evaluations, n=4)[::2] if len(evaluations) > 1
                     else (median, median))
        figures = (f"mean {mean:>9,.0f}  median {median:>9,.0f}  quartiles {low:,.0f}-"
                   f"{high:,.0f}  range {min(evaluations):,}-{max(evaluations):,}")
    else:
        figures = f"{'none solved':>34}"
    print(f"{name:<32} {figures}  solved {len(solved)}/{len(summaries)}  "
          f"generalisation {statistics.mean(counts):6.1f}/625")
    runs = ", ".join(f"{s['evaluations']}{'' if s['solved'] else ' (unsolved)'}"
                     for s in summaries)
    print(f"  evaluations by seed: {runs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="how many seeds")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--configs", type=Path, nargs="+", default=DEFAULT_CONFIGS)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="one line per run")
    parser.add_argument("--old-check", action="store_true",
                        help="the standard start only (the criterion before issue 22)")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE", help="a task option for every config")
    args = parser.parse_args()
    settings = (OLD_CHECK if args.old_check else []) + args.settings
    with tempfile.TemporaryDirectory() as scratch:
        for original in args.configs:
            config = with_task_options(original, settings, Path(scratch))
            summaries = []
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                summary = run(config, seed, Path(scratch), args.jobs)
                summaries.append(summary)
                if args.verbose:
                    print(f"  {config.stem} seed {seed}: evaluations {summary['evaluations']}, "
                          f"solved {summary['solved']}, test {summary['test']}", flush=True)
            report(f"evolstm {config.stem}", summaries)
    print("published (mean evaluations to solve, damping fitness, no velocities; "
          "generalisation where given):")
    for name, evaluations, count, source in PUBLISHED:
        print(f"  {name:<36} {evaluations:>9}  {count:>4}   [{source}]")
    for key, source in SOURCES.items():
        print(f"  [{key}] {source}")


if __name__ == "__main__":
    main()
