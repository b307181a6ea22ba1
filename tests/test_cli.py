"""The command line: every subcommand works, and bad input gets exit 2 and one line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from cli_support import run_cli
from runs_support import write_config

import evolstm
from evolstm.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli")
    config = write_config(directory, generations=3)
    assert main(["search", str(config), "--out", str(directory / "run"), "--quiet"]) == 0
    return directory / "run"


def test_list_names_every_registry(capsys):
    status, out, _ = run_cli(capsys, "list")
    assert status == 0
    assert f"cells: {' '.join(evolstm.cells.names())}" in out
    assert "tasks: " in out and "algorithms: " in out and "cmaes" in out


def test_eval_of_a_run_reproduces_its_summary(run_dir, capsys):
    status, out, _ = run_cli(capsys, "eval", str(run_dir), "--json")
    assert status == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert json.loads(out)["test"] == summary["test"]


def test_eval_of_a_cell_file_uses_its_recorded_task_and_set_overrides(run_dir, capsys):
    status, out, _ = run_cli(capsys, "eval", str(run_dir / "best.npz"), "--json")
    assert status == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert json.loads(out)["test"] == summary["test"]
    status, out, _ = run_cli(capsys, "eval", str(run_dir), "--set", "test_steps=50", "--json")
    assert status == 0 and json.loads(out)["test"] != summary["test"]


def test_eval_on_a_users_csv(run_dir, tmp_path, capsys):
    series = np.sin(0.2 * np.arange(1, 200))[:, None]
    path = tmp_path / "series.csv"
    np.savetxt(path, series, delimiter=",", header="y", comments="")
    status, out, _ = run_cli(capsys, "eval", str(run_dir), "--data", str(path), "--json")
    assert status == 0
    result = json.loads(out)
    cell = evolstm.load(run_dir / "best.npz")
    expected = cell.predict(series[:-1])[0]
    assert result["mse"] == pytest.approx(np.mean((expected - series[1:]) ** 2), rel=1e-12)


def test_predict_and_generate_write_the_cells_outputs(run_dir, tmp_path, capsys):
    inputs = tmp_path / "in.csv"
    data = np.sin(0.2 * np.arange(30))[:, None]
    np.savetxt(inputs, data, delimiter=",", header="x", comments="")
    cell = evolstm.load(run_dir / "best.npz")
    out = tmp_path / "out.csv"
    assert run_cli(capsys, "predict", str(run_dir), "--data", str(inputs), "--out",
                   str(out))[0] == 0
    np.testing.assert_array_equal(np.loadtxt(out, delimiter=",", skiprows=1),
                                  cell.predict(data)[0, :, 0])
    assert run_cli(capsys, "predict", str(run_dir), "--data", str(inputs), "--generate", "7",
                   "--out", str(out))[0] == 0
    np.testing.assert_array_equal(np.loadtxt(out, delimiter=",", skiprows=1),
                                  cell.generate(data, 7)[:, 0])


def test_plot_writes_a_png(run_dir, tmp_path, capsys):
    out = tmp_path / "plot.png"
    status, _, _ = run_cli(capsys, "plot", str(run_dir), str(run_dir), "--out", str(out))
    assert status == 0 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def bad_inputs(run_dir, tmp_path):
    text = tmp_path / "text.csv"
    text.write_text("x\nnot-a-number\n")
    wide = tmp_path / "wide.csv"
    wide.write_text("a,b,c\n1,2,3\n")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    typo = tmp_path / "typo.toml"
    typo.write_text(write_config(tmp_path).read_text().replace("population", "populaton"))
    return [
        ("search", str(tmp_path / "missing.toml")),
        ("search", str(typo)),
        ("search", str(typo), "--jobs", "zero"),
        ("search", str(write_config(tmp_path)), "--generations", "-1"),
        ("resume", str(tmp_path / "no-run")),
        ("eval", str(tmp_path / "missing.npz")),
        ("eval", str(junk)),
        ("eval", str(run_dir), "--task", "nosuchtask"),
        ("eval", str(run_dir), "--set", "level"),
        ("eval", str(run_dir), "--set", "levle=2"),
        ("eval", str(run_dir), "--data", str(text)),
        ("eval", str(run_dir), "--data", str(wide)),
        ("predict", str(run_dir)),
        ("predict", str(run_dir), "--data", str(wide)),
        ("predict", str(run_dir), "--data", str(text)),
        ("plot", str(tmp_path / "no-run")),
        ("list", "widgets"),
        ("frobnicate",),
    ]


def test_bad_input_to_every_subcommand_is_exit_2_and_one_line(run_dir, tmp_path, capsys):
    for args in bad_inputs(run_dir, tmp_path):
        status, _, err = run_cli(capsys, *args)
        assert status == 2, (args, err)
        assert err.strip() and len(err.strip().splitlines()) == 1, (args, err)
        assert "Traceback" not in err


def test_console_script_exit_codes(tmp_path):
    missing = subprocess.run([sys.executable, "-m", "evolstm.cli", "eval", str(tmp_path)],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    listing = subprocess.run([sys.executable, "-m", "evolstm.cli", "list", "cells"],
                             capture_output=True, text=True)
    assert listing.returncode == 0 and "lstm" in listing.stdout


def test_version_prints_the_package_version_and_exits_0(capsys):
    status, out, err = run_cli(capsys, "--version")
    assert status == 0 and not err
    assert out == f"evolstm {evolstm.__version__}\n"
    script = subprocess.run([sys.executable, "-m", "evolstm.cli", "--version"],
                            capture_output=True, text=True)
    assert script.returncode == 0 and script.stdout == out


def test_version_is_the_installed_distributions_version():
    """One version: the package's __version__ is the one its metadata (pyproject) declares."""
    from importlib.metadata import version

    assert evolstm.__version__ == version("evolstm")
