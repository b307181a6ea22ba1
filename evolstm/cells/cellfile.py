"""Cell files: one ``.npz`` with a JSON ``meta`` entry and the weights by PyTorch's names.

Read with ``allow_pickle=False``; every problem with a file raises `CellFileError` naming
the file and the problem.

``meta`` names the cell by exactly one of ``"variant"`` (a named topology variant),
``"topology"`` (`Topology.to_dict`) or ``"graph"`` (`Graph.to_dict`: a cell graph, whose
arrays are named by node, ``{node}_weight_l{k}``, ``{node}_bias_l{k}``, as
`evolstm.cells.graph.layout.GraphLayout` lays them out). A graph is checked in full when
the file is read (`Graph.from_dict`'s rules, the sizes, every array's shape, and that the
interpreter can compile it), so a bad one is one `CellFileError`, never a kernel's crash.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from evolstm.cells.cell import Cell
from evolstm.cells.graph.graph import Graph
from evolstm.cells.graph.named import GRAPHS
from evolstm.cells.population import Population
from evolstm.cells.variants import VARIANTS, variant_of
from evolstm.errors import CellFileError, EvolstmError

FORMAT = "evolstm.cell"
VERSION = 1
_SIZES = ("n_in", "n_hidden", "n_out", "layers")
_CELL_KEYS = ("variant", "topology", "graph")


def save(cell: Cell, path: str | os.PathLike[str]) -> Path:
    """Write `cell` to `path` (``.npz``) atomically; returns the path."""
    population = cell.population
    meta: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    if population.graph is not None:  # a graph cell: the graph itself, even a named one
        meta["graph"] = population.graph.to_dict()
    elif (variant := population.variant or variant_of(population.topology)) is not None:
        meta["variant"] = variant
    else:
        meta["topology"] = population.topology.to_dict()
    meta.update({name: int(getattr(population, name)) for name in _SIZES})  # numpy ints too
    meta["dtype"] = str(population.dtype)
    if cell.info:
        meta["info"] = cell.info
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, meta=np.array(json.dumps(meta)), **cell.arrays())
    os.replace(tmp, path)
    return path


def load(path: str | os.PathLike[str]) -> Cell:
    """Read a cell file written by `save` (or by hand from a PyTorch state_dict)."""
    path = Path(path)
    if not path.is_file():
        raise CellFileError(f"{path}: no such cell file")
    arrays = _read_arrays(path)
    if "meta" not in arrays:
        raise CellFileError(f"{path}: no 'meta' entry; not an evolstm cell file")
    meta = _meta(path, arrays.pop("meta"))
    try:
        if "graph" in meta:
            cell_spec: Any = _graph(meta["graph"])
        else:
            cell_spec = meta["variant"] if "variant" in meta else meta["topology"]
        if "variant" in meta and meta["variant"] not in VARIANTS:
            raise EvolstmError(f"unknown cell variant {meta['variant']!r}")
        population = Population(cell_spec, *(meta[name] for name in _SIZES), dtype=meta["dtype"])
        for name, value in arrays.items():
            if value.dtype.kind not in "fiu":
                raise EvolstmError(f"array {name!r} has dtype {value.dtype}, expected numbers")
        genome = population.flatten(arrays)
        if population.graph is not None:
            _compile(population)
    except EvolstmError as error:
        raise CellFileError(f"{path}: {error}") from None
    return Cell(population, genome, meta.get("info"))


def _graph(data: Any) -> Graph | str:
    """``meta.graph`` -> its `Graph`, or the name of the named graph it is (``"nas"``: the
    population then carries the name); every rule broken is one `EvolstmError`."""
    graph = Graph.from_dict(data, where="meta.graph")
    for name, build in GRAPHS.items():
        if graph == build():
            return name
    return graph


def _compile(population: Population) -> None:
    """Compile the graph's instruction tables now, so that a graph the interpreter cannot
    run fails here, as one error, and not in a kernel."""
    try:
        population.layout.program  # noqa: B018 - a cached property: computed once, kept
    except EvolstmError as error:
        raise EvolstmError(f"meta.graph: {error}") from None
    except Exception as error:  # noqa: BLE001 - a graph the tables cannot express
        raise EvolstmError(
            f"meta.graph: the interpreter cannot run this graph ({type(error).__name__}: "
            f"{error})"
        ) from None


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of the .npz at `path`, read without unpickling anything."""
    try:
        archive = np.load(path, allow_pickle=False)
    # (zipfile raises NotImplementedError for a header it cannot read: "zip file version")
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as error:
        raise CellFileError(f"{path}: not a readable .npz cell file ({error})") from None
    except ValueError:  # np.load falls back to unpickling what is neither .npz nor .npy
        raise CellFileError(
            f"{path}: not an .npz file (pickled data or another format), refused"
        ) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise CellFileError(f"{path}: a single .npy array, not an .npz cell file")
    name = ""
    try:
        with archive:
            arrays = {}
            for name in archive.files:
                arrays[name] = archive[name]
            return arrays
    except ValueError as error:  # object arrays (they would need unpickling), bad headers
        raise CellFileError(f"{path}: array {name!r} refused: {error}") from None
    except Exception as error:  # noqa: BLE001 - a corrupt member can fail in many ways
        raise CellFileError(f"{path}: corrupt .npz ({type(error).__name__}: {error})") from None


def _meta(path: Path, raw: np.ndarray) -> dict[str, Any]:
    if raw.shape != () or raw.dtype.kind != "U":
        raise CellFileError(f"{path}: 'meta' must be a 0-d string array holding JSON")
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError as error:
        raise CellFileError(f"{path}: 'meta' is not valid JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CellFileError(f"{path}: 'meta.format' is not {FORMAT!r}")
    if meta.get("version") != VERSION:
        raise CellFileError(
            f"{path}: cell file version {meta.get('version')!r} is not supported "
            f"(this evolstm reads version {VERSION})"
        )
    if sum(key in meta for key in _CELL_KEYS) != 1:
        raise CellFileError(
            f"{path}: 'meta' must hold exactly one of 'variant', 'topology', 'graph'"
        )
    if not isinstance(meta.get("variant", ""), str):
        raise CellFileError(f"{path}: 'meta.variant' must be a variant name (a string)")
    if not isinstance(meta.get("info", {}), dict):
        raise CellFileError(f"{path}: 'meta.info' must be a JSON object")
    for name in _SIZES:
        value = meta.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise CellFileError(f"{path}: 'meta.{name}' must be a positive integer")
    if meta.get("dtype") not in ("float64", "float32"):
        raise CellFileError(f"{path}: 'meta.dtype' must be 'float64' or 'float32'")
    return meta
