"""The search over cells: the cache, the front, every backend, exact resume after a stop,
a Ctrl-C or a SIGKILL."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from runs_support import history_without_time, same_best

import evolstm
from evolstm.archsearch import outer
from evolstm.archsearch.canonical import key
from evolstm.archsearch.outer.nsga2 import NSGA2, NSGA2Options
from evolstm.archsearch.space import Space
from evolstm.cells.layout import Layout
from evolstm.errors import ConfigError
from evolstm.runs import config as cfg

EVOLSTM = [sys.executable, "-m", "evolstm.cli"]

SMALL_CELL_SEARCH = """
seed = 2
[task]
name = "anbn"
train_max = 3
test_limit = 12
[cell]
hidden = 2
init_scale = 1.0
[algorithm]
name = "evolino"
evolver = "cmaes"
population = 6
max_evaluations = 36
checkpoint_seconds = 0.0
[architecture]
algorithm = "{algorithm}"
candidates = {candidates}
inner_seeds = 2
start = ["lstm", "gru"]
{options}
[parallel]
backend = "sequential"
"""

ALGORITHM_OPTIONS = {
    "random": "batch = 4",
    "aging": "population = 4\nsample = 2\nbatch = 4",
    "nsga2": "population = 4",
}


def write_cell_config(directory: Path, algorithm: str = "aging", candidates: int = 16,
                      **replace: str) -> Path:
    text = SMALL_CELL_SEARCH.format(algorithm=algorithm, candidates=candidates,
                                    options=ALGORITHM_OPTIONS.get(algorithm, ""))
    for old, new in replace.items():
        text = text.replace(old, new)
    path = directory / f"cells-{algorithm}.toml"
    path.write_text(text)
    return path


def rows(path: Path, drop: tuple[str, ...] = ("seconds", "elapsed_s")) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if k not in drop} for row in csv.DictReader(handle)]


def same_cell_search(a: Path, b: Path) -> None:
    assert rows(a / "candidates.csv") == rows(b / "candidates.csv")
    assert history_without_time(a) == history_without_time(b)
    assert same_best(a, b)
    front_a, front_b = (json.loads((d / "front.json").read_text()) for d in (a, b))
    assert front_a == front_b


def ctrl_c_then_resume_equals(monkeypatch, config, tmp_path, expected, n_call):
    """A Ctrl-C at the n_call-th inner search, then a resume, gives the `expected` run."""
    from evolstm.runs import cellsearch

    calls = {"n": 0}
    real = cellsearch.run_inner

    def interrupting(*args):
        calls["n"] += 1
        if calls["n"] == n_call:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(cellsearch, "run_inner", interrupting)
    with pytest.raises(evolstm.runs.Interrupted):
        evolstm.search(config, out=tmp_path / "run")
    monkeypatch.undo()
    same_cell_search(evolstm.resume(tmp_path / "run").run_dir, expected)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cells")
    config = write_cell_config(directory)
    return config, evolstm.search(config, out=directory / "run").run_dir


def test_run_folder_holds_candidates_front_and_best(reference):
    _, run_dir = reference
    candidates = rows(run_dir / "candidates.csv", drop=())
    assert [int(row["candidate"]) for row in candidates] == list(range(len(candidates)))
    assert candidates[0]["variant"] == "lstm" and candidates[1]["variant"] == "gru"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["candidates"] == len(candidates) >= 16
    assert summary["cache_hits"] == sum(int(row["cache_hit"]) for row in candidates)
    cell = evolstm.load(run_dir / "best.npz")
    assert key(evolstm.cells.Topology.from_dict(cell.info["topology"])) == summary["best_key"]
    assert cell.info["score"] == summary["best_fitness"] == min(
        float(row["score"]) for row in candidates)
    result = subprocess.run([*EVOLSTM, "eval", str(run_dir), "--json"], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["test"] == pytest.approx(summary["test"])
    assert set(summary["test_median"]) == set(summary["test"])


def test_the_front_is_the_set_no_other_cell_dominates(reference):
    """front.json equals the non-dominated cells of candidates.csv, found by brute force."""
    _, run_dir = reference
    cells = {row["key"]: (float(row["score"]), int(row["n_params"]))
             for row in rows(run_dir / "candidates.csv")}
    by_hand = {
        k for k, (s, n) in cells.items()
        if not any(s2 <= s and n2 <= n and (s2, n2) != (s, n) for s2, n2 in cells.values())
    }
    front = json.loads((run_dir / "front.json").read_text())
    assert {member["key"] for member in front["members"]} == by_hand
    for member in front["members"]:
        assert len(member["test"]["seeds"]) == 2 and "largest_n" in member["test"]["median"]


def test_a_repeated_cell_is_scored_once(tmp_path):
    start = {'start = ["lstm", "gru"]': 'start = ["lstm", "np", "gru", "lstm"]'}
    config = write_cell_config(tmp_path, "random", candidates=4, **start)
    run_dir = evolstm.search(config, out=tmp_path / "run").run_dir
    candidates = rows(run_dir / "candidates.csv")
    assert [row["variant"] for row in candidates] == ["lstm", "np", "gru", "lstm"]
    assert [row["cache_hit"] for row in candidates] == ["0", "1", "0", "1"]
    assert [int(row["inner_evaluations"]) > 0 for row in candidates] == [True, False, True, False]
    assert candidates[0]["score"] == candidates[1]["score"] == candidates[3]["score"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["unique_candidates"] == 2 and summary["cache_hits"] == 2


@pytest.mark.parametrize(("backend", "jobs"), [("threading", 2), ("loky", 2), ("dask", 2)])
def test_every_backend_gives_the_same_cell_search(reference, tmp_path, backend, jobs):
    config, expected = reference
    run = evolstm.search(config, backend=backend, jobs=jobs, out=tmp_path / "run")
    same_cell_search(run.run_dir, expected)


@pytest.mark.parametrize("algorithm", ["random", "nsga2"])
def test_ctrl_c_then_resume_equals_an_uninterrupted_cell_search(tmp_path, monkeypatch,
                                                                 algorithm):
    config = write_cell_config(tmp_path, algorithm, candidates=12)
    expected = evolstm.search(config, out=tmp_path / "expected").run_dir
    ctrl_c_then_resume_equals(monkeypatch, config, tmp_path, expected, n_call=11)


def test_stop_then_resume_with_more_candidates_equals_an_uninterrupted_run(reference,
                                                                          tmp_path):
    config, expected = reference
    evolstm.search(config, candidates=8, out=tmp_path / "run")
    same_cell_search(evolstm.resume(tmp_path / "run", candidates=16).run_dir, expected)
    with pytest.raises(ConfigError, match="--candidates"):
        evolstm.resume(tmp_path / "run", generations=3)


def _wait_for(path: Path, lines: int, process: subprocess.Popen, limit_s: float = 900.0):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) > lines:
            return
        if process.poll() is not None:
            pytest.fail(f"search ended early with status {process.returncode}")
        time.sleep(0.02)
    pytest.fail("search did not progress")


def test_sigkilled_cell_search_resumes_to_the_same_result(reference, tmp_path):
    config, expected = reference
    run_dir = tmp_path / "killed"
    process = subprocess.Popen([*EVOLSTM, "search", str(config), "--out", str(run_dir),
                                "--quiet"], stderr=subprocess.PIPE, text=True)
    _wait_for(run_dir / "candidates.csv", 6, process)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    result = subprocess.run([*EVOLSTM, "resume", str(run_dir), "--quiet"],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr
    same_cell_search(run_dir, expected)


def test_nsga2_keeps_the_hand_computed_front_of_a_two_objective_problem():
    """On a score that is a fixed function of the topology, NSGA-II's first front is the
    set of its population that no member dominates (computed by brute force)."""
    space = Space()

    def count(topology):
        return Layout(topology, 3, 4, 3).n_params

    def score(topology):  # a deterministic objective that conflicts with size
        return 1.0 / count(topology) + 0.01 * (len(key(topology)) % 7)

    algorithm = NSGA2(NSGA2Options(population=12), space, count, [], seed=5)
    for _ in range(6):
        asked = algorithm.ask()
        algorithm.tell(asked, np.array([score(t) for t in asked]))
    members = [(m.fitness.values, key(m.topology)) for m in algorithm.members]
    by_hand = {
        k for (s, n), k in members
        if not any(s2 <= s and n2 <= n and (s2, n2) != (s, n) for (s2, n2), _ in members)
    }
    ranked = {key(m.topology) for m in algorithm.members if algorithm.rank[id(m)] == 0}
    assert ranked == by_hand


@pytest.mark.parametrize("name", outer.names())
def test_every_outer_algorithm_runs_and_is_deterministic(name):
    """Registered outer algorithms give the same candidates for the same seed."""
    space = Space()
    outer_cls = outer.get(name)
    start = [evolstm.cells.Topology.from_dict(evolstm.cells.topology("lstm"))]

    def count(topology):
        return Layout(topology, 2, 3, 2).n_params

    def trace(seed):
        algorithm = outer_cls(outer_cls.Options(), space, count, start, seed)
        keys = []
        for _ in range(3):
            if algorithm.stop():
                break
            asked = algorithm.ask()
            keys += [key(t) for t in asked]
            algorithm.tell(asked, np.array([count(t) * 1e-3 for t in asked]))
        return keys

    assert trace(1) == trace(1) and len(trace(1)) >= 1


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"algorithm": "nope"}, "architecture.algorithm"),
        ({"populaton": 3}, "architecture.populaton"),
        ({"start": ["nope"]}, "architecture.start"),
        ({"space": {"families": ["rnn"]}}, "architecture.space.families"),
        ({"inner_seeds": 0}, "architecture.inner_seeds"),
    ],
)
def test_bad_architecture_sections_are_one_line_config_errors(section, message):
    table = {"seed": 1, "task": {"name": "anbn"}, "cell": {"hidden": 2},
             "algorithm": {"name": "evolino"}, "architecture": {"algorithm": "aging", **section}}
    with pytest.raises(ConfigError, match=message):
        cfg.parse(table)


@pytest.mark.parametrize("algorithm", ["aging", "nsga2"])
def test_a_search_over_cell_graphs_runs_resumes_and_matches_threads(tmp_path, monkeypatch,
                                                                    algorithm):
    """kind = "graph": the outer algorithms with the graph operators; the best cell file
    carries its graph; a Ctrl-C resume and two threads give the uninterrupted run."""
    graphs = {'start = ["lstm", "gru"]': 'kind = "graph"\nstart = ["lstm", "nas"]',
              "inner_seeds = 2": "inner_seeds = 1"}
    config = write_cell_config(tmp_path, algorithm, candidates=12, **graphs)
    expected = evolstm.search(config, out=tmp_path / "expected").run_dir
    candidates = rows(expected / "candidates.csv")
    assert [row["variant"] for row in candidates[:2]] == ["lstm", "nas"]
    assert "graph" in evolstm.load(expected / "best.npz").info
    same_cell_search(evolstm.search(config, backend="threading", jobs=2,
                                    out=tmp_path / "threads").run_dir, expected)
    ctrl_c_then_resume_equals(monkeypatch, config, tmp_path, expected, n_call=7)
