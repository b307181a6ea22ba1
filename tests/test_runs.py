"""Runs: identical results on every backend, exact resume after a stop, a SIGKILL or Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from runs_support import history_without_time, same_best, write_config

import evolstm
from evolstm.errors import RunDirError

EVOLSTM = [sys.executable, "-m", "evolstm.cli"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted, sequential run of 10 generations."""
    directory = tmp_path_factory.mktemp("reference")
    config = write_config(directory, generations=10)
    run = evolstm.search(config, out=directory / "run")
    return config, run.run_dir


def test_run_directory_holds_the_contract_files(reference):
    _, run_dir = reference
    for name in ("config.toml", "history.csv", "checkpoint/state.npz", "best.npz",
                 "summary.json"):
        assert (run_dir / name).exists(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    assert {"task", "test", "evaluations", "generations", "wall_s", "solved"} <= set(summary)
    assert summary["generations"] == 10 and summary["evaluations"] == 80
    assert summary["solved"] is None  # MSO has no success criterion
    header = history_without_time(run_dir)[0]
    assert header[:6] == ["generation", "evaluations", "best", "mean", "std", "worst"]
    cell = evolstm.load(run_dir / "best.npz")
    assert cell.info["fitness"] == summary["best_fitness"]


@pytest.mark.parametrize(("backend", "jobs"), [("threading", 2), ("loky", 2), ("dask", 2)])
def test_every_backend_gives_the_same_run(reference, tmp_path, backend, jobs):
    config, expected = reference
    run = evolstm.search(config, backend=backend, jobs=jobs, out=tmp_path / "run")
    assert history_without_time(run.run_dir) == history_without_time(expected)
    assert same_best(run.run_dir, expected)


def test_a_dask_cluster_on_loopback_gives_the_same_run(reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    config, expected = reference
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        run = evolstm.search(config, backend="dask", scheduler=cluster.scheduler_address,
                             out=tmp_path / "run")
    assert history_without_time(run.run_dir) == history_without_time(expected)
    assert same_best(run.run_dir, expected)


def _worker_environment() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS")}


def test_the_cluster_evolstm_starts_keeps_dask_s_environment_but_malloc_trimming(monkeypatch):
    distributed = pytest.importorskip("distributed")
    from evolstm.runs.evaluator import local_cluster

    # Dask's nanny writes its workers' variables into this process's environment, so a
    # cluster started earlier in the session would hand them on
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with local_cluster(1) as cluster, distributed.Client(cluster) as client:
        (environment,) = client.run(_worker_environment).values()
    assert environment == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1"}


def test_stop_then_resume_equals_an_uninterrupted_run(reference, tmp_path):
    config, expected = reference
    evolstm.search(config, generations=4, out=tmp_path / "run")
    run = evolstm.resume(tmp_path / "run", generations=10)
    assert history_without_time(run.run_dir) == history_without_time(expected)
    assert same_best(run.run_dir, expected)


def _wait_for_generations(run_dir, count, process, limit_s=120.0):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        history = run_dir / "history.csv"
        if history.exists() and len(history.read_text().splitlines()) > count:
            return
        if process.poll() is not None:
            pytest.fail(f"search ended early with status {process.returncode}")
        time.sleep(0.05)
    pytest.fail("search did not progress")


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes_to_the_same_result(tmp_path, stop_signal):
    config = write_config(tmp_path, generations=60)
    expected = evolstm.search(config, out=tmp_path / "expected").run_dir
    run_dir = tmp_path / "killed"
    process = subprocess.Popen([*EVOLSTM, "search", str(config), "--out", str(run_dir),
                                "--quiet"], stderr=subprocess.PIPE, text=True)
    _wait_for_generations(run_dir, 5, process)
    process.send_signal(stop_signal)
    _, stderr = process.communicate(timeout=60)
    if process.returncode == 0:
        pytest.skip("the search finished before the signal arrived")
    if stop_signal == signal.SIGINT:
        assert process.returncode == 130 and "evolstm resume" in stderr
    result = subprocess.run([*EVOLSTM, "resume", str(run_dir), "--quiet"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert history_without_time(run_dir) == history_without_time(expected)
    assert same_best(run_dir, expected)


def test_resume_refuses_a_run_whose_replay_diverges(reference, tmp_path):
    config, _ = reference
    run_dir = evolstm.search(config, generations=3, out=tmp_path / "run").run_dir
    text = (run_dir / "config.toml").read_text().replace("sigma0 = 0.3", "sigma0 = 0.4")
    (run_dir / "config.toml").write_text(text)
    with pytest.raises(RunDirError, match="did not reproduce"):
        evolstm.resume(run_dir, generations=5)


def test_resume_of_a_truncated_checkpoint_is_a_clear_error(reference, tmp_path):
    config, _ = reference
    run_dir = evolstm.search(config, generations=2, out=tmp_path / "run").run_dir
    state = run_dir / "checkpoint" / "state.npz"
    state.write_bytes(state.read_bytes()[:100])
    with pytest.raises(RunDirError, match="unreadable checkpoint"):
        evolstm.resume(run_dir)


def test_same_seed_same_run_and_other_seed_other_run(reference, tmp_path):
    config, expected = reference
    again = evolstm.search(config, out=tmp_path / "again").run_dir
    other = evolstm.search(config, seed=4, out=tmp_path / "other").run_dir
    assert history_without_time(again) == history_without_time(expected)
    assert history_without_time(other) != history_without_time(expected)


def interrupt_on_call(monkeypatch, n_call: int) -> None:
    """Make the evaluator's n_call-th scoring raise KeyboardInterrupt (a Ctrl-C)."""
    from evolstm.runs import evaluator

    calls = {"n": 0}
    real = evaluator._score

    def interrupting(*args):
        calls["n"] += 1
        if calls["n"] == n_call:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(evaluator, "_score", interrupting)


def test_interrupted_runs_keep_their_files(reference, tmp_path, monkeypatch):
    """A Ctrl-C inside the loop leaves a resumable run and raises `Interrupted`."""
    config, _ = reference
    interrupt_on_call(monkeypatch, 3)
    with pytest.raises(evolstm.runs.Interrupted):
        evolstm.search(config, out=tmp_path / "run")
    assert (tmp_path / "run" / "checkpoint" / "state.npz").exists()
    assert os.path.getsize(tmp_path / "run" / "best.npz") > 0


def test_best_cell_is_written_at_checkpoints_the_stop_and_ctrl_c(tmp_path, monkeypatch):
    """With checkpoints every hour, best.npz still holds the best of the generations run
    when the search stops or is interrupted, and Ctrl-C leaves a resumable run."""
    config = write_config(tmp_path, generations=6)
    config.write_text(config.read_text().replace("checkpoint_seconds = 0.0",
                                                 "checkpoint_seconds = 3600.0"))
    finished = evolstm.search(config, out=tmp_path / "finished").run_dir
    best_of_history = min(float(row[2]) for row in history_without_time(finished)[1:])
    assert evolstm.load(finished / "best.npz").info["fitness"] == best_of_history

    interrupt_on_call(monkeypatch, 5)
    with pytest.raises(evolstm.runs.Interrupted):
        evolstm.search(config, out=tmp_path / "interrupted")
    rows = history_without_time(finished)[1:5]  # the same seed: the 4 generations it ran
    assert evolstm.load(tmp_path / "interrupted" / "best.npz").info["fitness"] == min(
        float(row[2]) for row in rows)
    # Ctrl-C checkpointed those 4 generations: resuming gives the uninterrupted run.
    monkeypatch.undo()
    resumed = evolstm.resume(tmp_path / "interrupted").run_dir
    assert history_without_time(resumed) == history_without_time(finished)
    assert same_best(resumed, finished)


def _kill_when(process, ready, limit_s=900.0):
    """SIGKILL `process` as soon as `ready()` holds; False if it ended first."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if ready():
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=60)
            return process.returncode != 0
        if process.poll() is not None:
            return False
        time.sleep(0.005)
    pytest.fail("search did not progress")


def _resume_equals(run_dir, expected):
    # generous: a fresh process may compile the kernels (a hang guard, not a timing test)
    result = subprocess.run([*EVOLSTM, "resume", str(run_dir), "--quiet"],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr
    assert history_without_time(run_dir) == history_without_time(expected)
    assert same_best(run_dir, expected)


@pytest.mark.parametrize("moment", ["first generation", "before the first checkpoint"])
def test_a_run_killed_before_its_first_checkpoint_resumes_from_the_start(tmp_path, moment):
    """No checkpoint yet (killed in the first generation, or with history rows but before
    the first checkpoint): resume restarts from generation 0 and ends where an
    uninterrupted run ends; the partial history is discarded."""
    config = write_config(tmp_path, generations=40)
    config.write_text(config.read_text().replace("checkpoint_seconds = 0.0",
                                                 "checkpoint_seconds = 3600.0"))
    expected = evolstm.search(config, out=tmp_path / "expected").run_dir
    run_dir = tmp_path / "killed"
    process = subprocess.Popen([*EVOLSTM, "search", str(config), "--out", str(run_dir),
                                "--quiet"], stderr=subprocess.PIPE, text=True)
    history = run_dir / "history.csv"
    if moment == "first generation":
        def ready():
            return (run_dir / "config.toml").exists()
    else:
        def ready():
            return history.exists() and len(history.read_text().splitlines()) > 3
    if not _kill_when(process, ready):
        pytest.skip("the search finished before the kill")
    assert not (run_dir / "checkpoint" / "state.npz").exists()
    _resume_equals(run_dir, expected)


def test_a_checkpoint_half_written_when_killed_is_ignored(reference, tmp_path):
    """A kill while a checkpoint is written leaves its temporary file beside the last
    complete one (or beside none): resume reads only complete checkpoints."""
    config, expected = reference
    run_dir = evolstm.search(config, generations=4, out=tmp_path / "run").run_dir
    state = run_dir / "checkpoint" / "state.npz"
    (run_dir / "checkpoint" / "state.npz.tmp.npz").write_bytes(state.read_bytes()[:300])
    run = evolstm.resume(run_dir, generations=10)
    assert history_without_time(run.run_dir) == history_without_time(expected)
    fresh = evolstm.search(config, generations=2, out=tmp_path / "first").run_dir
    first_state = fresh / "checkpoint" / "state.npz"
    (fresh / "checkpoint" / "state.npz.tmp.npz").write_bytes(first_state.read_bytes()[:300])
    first_state.unlink()  # killed while writing its first checkpoint
    run = evolstm.resume(fresh, generations=10)
    assert history_without_time(run.run_dir) == history_without_time(expected)
    assert same_best(run.run_dir, expected)


@pytest.mark.parametrize("delay_s", [0.0, 0.05, 0.2, 0.5, 1.0])
def test_a_run_killed_at_any_moment_resumes_to_the_same_result(tmp_path, delay_s):
    """SIGKILL at several moments after the run folder holds its config, in a run that
    checkpoints every generation (some kills land inside a checkpoint's write): every
    resume ends as the uninterrupted run. (Killed before config.toml exists, there is no
    run to resume: `evolstm resume` says so in one line, exit 2.)"""
    config = write_config(tmp_path, generations=60)
    expected = evolstm.search(config, out=tmp_path / "expected").run_dir
    run_dir = tmp_path / "killed"
    process = subprocess.Popen([*EVOLSTM, "search", str(config), "--out", str(run_dir),
                                "--quiet"], stderr=subprocess.PIPE, text=True)
    started: list[float] = []

    def ready():
        if not started and (run_dir / "config.toml").exists():
            started.append(time.monotonic())
        return bool(started) and time.monotonic() - started[0] >= delay_s

    if not _kill_when(process, ready):
        pytest.skip("the search finished before the kill")
    _resume_equals(run_dir, expected)


def test_resume_of_a_folder_without_config_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    result = subprocess.run([*EVOLSTM, "resume", str(tmp_path / "empty")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "config.toml" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
