"""The ``evolstm`` command line: search, resume, eval, predict, plot, show, list.

Exit status: 0 on success, 2 for a usage, config or input error (one line on stderr),
1 for a failure at run time, 130 when interrupted (the run can be resumed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from evolstm import __version__
from evolstm.errors import EvolstmError

BACKENDS = ("loky", "threading", "dask", "sequential")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="evolstm", description="Neuroevolution of LSTM cells.")
    parser.add_argument("--version", action="version", version=f"evolstm {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    search = commands.add_parser("search", help="run a search from a TOML config")
    search.add_argument("config", type=Path)
    search.add_argument("--out", type=Path, help="run directory (default results/<stem>-<time>)")
    search.add_argument("--seed", type=int)
    search.add_argument("--jobs", type=int, help="workers (-1: all cores)")
    search.add_argument("--backend", choices=BACKENDS)
    search.add_argument("--scheduler", help="Dask scheduler address (backend dask)")
    search.add_argument("--generations", type=int)
    search.add_argument("--candidates", type=int, help="budget of a search over cells")
    search.add_argument("--quiet", action="store_true")

    resume = commands.add_parser("resume", help="continue a stopped or finished search")
    resume.add_argument("run_dir", type=Path)
    resume.add_argument("--generations", type=int, help="new total number of generations")
    resume.add_argument("--candidates", type=int,
                        help="new total number of candidates (a search over cells)")
    resume.add_argument("--jobs", type=int)
    resume.add_argument("--backend", choices=BACKENDS)
    resume.add_argument("--quiet", action="store_true")

    evaluate = commands.add_parser("eval", help="score a cell on its task or on data")
    evaluate.add_argument("cell", type=Path, help="CELL.npz or RUN_DIR")
    source = evaluate.add_mutually_exclusive_group()
    source.add_argument("--task")
    source.add_argument("--data", type=Path, help="CSV: inputs then targets, or a series")
    evaluate.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                          help="task option (with or without --task)")
    evaluate.add_argument("--json", action="store_true")

    predict = commands.add_parser("predict", help="run a cell over a CSV of inputs")
    predict.add_argument("cell", type=Path, help="CELL.npz or RUN_DIR")
    predict.add_argument("--data", type=Path, required=True)
    predict.add_argument("--generate", type=int, default=0, metavar="N")
    predict.add_argument("--out", type=Path)

    plot = commands.add_parser("plot", help="plot run directories")
    plot.add_argument("run_dirs", type=Path, nargs="+")
    plot.add_argument("--out", type=Path)

    show = commands.add_parser("show", help="a cell's equations (and sizes, for a file)")
    show.add_argument("cell", help="CELL.npz, RUN_DIR or a variant name")
    show.add_argument("--json", action="store_true")
    show.add_argument("--diagram", type=Path, metavar="FILE.png",
                      help="write the cell's diagram there instead (topology or graph)")

    export = commands.add_parser(
        "export", help="write a cell as an ONNX model (sequence form + step form)")
    export.add_argument("cell", type=Path, help="CELL.npz or RUN_DIR")
    export.add_argument("--onnx", type=Path, required=True, metavar="FILE.onnx",
                        help="the sequence form; the step form goes to FILE.step.onnx")
    export.add_argument("--step", action="store_true",
                        help="only the step form (state in, state out), to FILE.onnx")

    listing = commands.add_parser("list", help="list cells, tasks or algorithms")
    listing.add_argument("what", nargs="?", choices=("cells", "tasks", "algorithms"))
    listing.add_argument("--equations", action="store_true", help="each cell's equations")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except EvolstmError as error:
        print(f"evolstm: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("evolstm: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - one line, not a traceback
        if os.environ.get("EVOLSTM_DEBUG"):
            raise
        print(f"evolstm: failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


def _search(args: argparse.Namespace) -> int:
    from evolstm import runs

    if args.generations is not None and args.generations < 0:
        raise EvolstmError("--generations: must be >= 0")
    try:
        run = runs.search(args.config, seed=args.seed, jobs=args.jobs, backend=args.backend,
                          scheduler=args.scheduler, generations=args.generations,
                          candidates=args.candidates,
                          out=args.out, quiet=args.quiet)
    except runs.Interrupted as stop:
        print(f"evolstm: {stop}", file=sys.stderr)
        return 130
    _report(run, args.quiet)
    return 0


def _resume(args: argparse.Namespace) -> int:
    from evolstm import runs

    try:
        run = runs.resume(args.run_dir, args.generations, quiet=args.quiet, jobs=args.jobs,
                          candidates=args.candidates,
                          backend=args.backend)
    except runs.Interrupted as stop:
        print(f"evolstm: {stop}", file=sys.stderr)
        return 130
    _report(run, args.quiet)
    return 0


def _report(run: Any, quiet: bool) -> None:
    summary = run.summary
    if quiet:
        print(run.run_dir)
        return
    test = ", ".join(f"{k}={_fmt(v)}" for k, v in summary["test"].items())
    print(f"run: {run.run_dir}")
    print(f"stopped: {summary['stopped']} after {summary['generations']} generations, "
          f"{summary['evaluations']} evaluations, {summary['wall_s']:.1f} s")
    print(f"best fitness: {_fmt(summary['best_fitness'])}; test ({summary['task']}): {test}")
    if summary["solved"] is not None:
        print(f"solved: {summary['solved']}")
    if "best_key" in summary:  # a search over cells
        name = summary["best_variant"] or "a cell none of the named variants is"
        print(f"candidates: {summary['candidates']} ({summary['cache_hits']} cache hits), "
              f"{summary['inner_evaluations']} inner evaluations")
        print(f"best cell: {name}, {summary['best_n_params']} parameters "
              f"(evolstm show {run.run_dir}; front.json: the Pareto front)")


def _eval(args: argparse.Namespace) -> int:
    from evolstm.runs import evaluate

    cell, run_dir = evaluate.open_cell(args.cell)
    if args.data is not None:
        if args.set:
            raise EvolstmError("--set applies to a task, not to --data")
        result: dict[str, Any] = {"data": str(args.data), **evaluate.score_csv(cell, args.data)}
    else:
        task = evaluate.task_for(cell, run_dir, args.task, args.set)
        result = {"task": task.name, "test": task.test(cell)}
        if task.has_criterion:
            result["solved"] = bool(task.solves(cell.population, cell.genome[None])[0])
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in (result.get("test") or result).items():
            print(f"{key}: {_fmt(value)}")
        if "solved" in result:
            print(f"solved: {result['solved']}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from evolstm.runs import evaluate

    if args.generate < 0:
        raise EvolstmError("--generate: must be >= 0")
    cell, _ = evaluate.open_cell(args.cell)
    header, outputs = evaluate.predict_csv(cell, args.data, args.generate)
    evaluate.write_csv(args.out, header, outputs)
    return 0


def _plot(args: argparse.Namespace) -> int:
    from evolstm.plot import plot_runs

    out = args.out or args.run_dirs[0] / "plot.png"
    print(plot_runs(args.run_dirs, out))
    return 0


def _show(args: argparse.Namespace) -> int:
    from evolstm import cells
    from evolstm.cells.equations import equations
    from evolstm.runs import evaluate

    path, sizes = Path(args.cell), ""
    result: dict[str, Any] = {}
    graph = None
    if path.exists():
        cell, _ = evaluate.open_cell(path)
        population = cell.population
        topo, variant = getattr(population, "topology", None), population.variant
        graph = getattr(population, "graph", None)
        if graph is None and not isinstance(topo, cells.Topology):
            raise EvolstmError(f"{path}: not a topology cell; equations describe topologies")
        result["cell"] = {name: getattr(population, name)
                          for name in ("n_in", "n_hidden", "n_out", "layers", "n_params")}
        sizes = (f"sizes: n_in={population.n_in} n_hidden={population.n_hidden} "
                 f"n_out={population.n_out} layers={population.layers} "
                 f"dtype={population.dtype}; {population.n_params} parameters")
    elif args.cell in cells.names():
        topo, variant = cells.resolve(args.cell), args.cell
    elif args.cell in cells.graph.names():
        topo, variant, graph = None, args.cell, cells.graph(args.cell)
    else:
        raise EvolstmError(f"{args.cell}: not a cell file, run directory or cell variant "
                           f"(variants: {' '.join(cells.names())}; "
                           f"graphs: {' '.join(cells.graph.names())})")
    if args.diagram is not None:
        from evolstm.diagram import save_diagram

        print(save_diagram(graph if graph is not None else topo, args.diagram, variant))
        return 0
    if graph is not None:
        return _show_graph(args, graph, variant, sizes, result)
    text = equations(topo)
    if args.json:
        print(json.dumps({"topology": topo.to_dict(), "variant": variant, "equations": text,
                          **result}))
        return 0
    for line in (f"variant: {variant}" if variant else "", sizes, text):
        if line:
            print(line)
    return 0


def _show_graph(args: argparse.Namespace, graph: Any, variant: str | None, sizes: str,
                result: dict[str, Any]) -> int:
    """`evolstm show` of a cell graph: its nodes, one line each."""
    from evolstm import cells
    from evolstm.cells.equations import graph_equations
    from evolstm.cells.graph.named import name_of

    text = graph_equations(graph)
    if args.json:
        print(json.dumps({"topology": None, "graph": graph.to_dict(), "variant": variant,
                          "equations": text, **result}))
        return 0
    if variant is None:  # the graph of a named variant, saved as a graph?
        same = name_of(graph)
        head = (f"graph: as variant {same} (same canonical key)" if same in cells.names()
                else "graph")
    else:
        head = f"graph: {variant}"
    for line in (head, sizes, text):
        if line:
            print(line)
    return 0


def _list(args: argparse.Namespace) -> int:
    from evolstm import algorithms, cells, tasks

    if args.equations and args.what not in (None, "cells"):
        raise EvolstmError("--equations: applies to cells")
    groups = {"cells": cells.names(), "tasks": tasks.names(), "algorithms": algorithms.names()}
    for what, names in groups.items():
        if args.what in (None, what) and not (args.equations and what == "cells"):
            print(f"{what}: {' '.join(names)}")
            if what == "cells":
                print(f"graphs: {' '.join(cells.graph.names())}")
    if args.equations:
        from evolstm.cells.equations import equations, graph_equations

        for name in cells.names():
            print(f"\n{name}:\n" + "\n".join(
                f"  {line}" for line in equations(cells.resolve(name)).splitlines()))
        for name in cells.graph.names():
            print(f"\n{name} (graph):\n" + "\n".join(
                f"  {line}" for line in graph_equations(cells.graph(name)).splitlines()))
    return 0


def _export(args: argparse.Namespace) -> int:
    from evolstm.runs import evaluate
    from evolstm.torch import onnx as torch_onnx  # a missing extra: one line, exit 2

    cell, _ = evaluate.open_cell(args.cell)
    if args.step:
        print(torch_onnx.export_onnx(cell, args.onnx, "step"))
    else:
        print("\n".join(str(path) for path in torch_onnx.export_both(cell, args.onnx)))
    return 0


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


_COMMANDS = {
    "search": _search,
    "resume": _resume,
    "eval": _eval,
    "predict": _predict,
    "plot": _plot,
    "show": _show,
    "export": _export,
    "list": _list,
}

if __name__ == "__main__":
    sys.exit(main())
