"""Shared by the command-line tests: run `evolstm.cli.main` as the shell would."""

from __future__ import annotations

from evolstm.cli import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """`evolstm ARGS...` in process -> (exit status, stdout, stderr)."""
    try:
        status = main(list(args))
    except SystemExit as stop:  # argparse's usage errors
        status = stop.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err
