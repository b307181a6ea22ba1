"""Cell files: one ``.npz`` with a JSON ``meta`` entry and the weights by PyTorch's names.

Read with ``allow_pickle=False``; every problem with a file raises `CellFileError` naming
the file and the problem.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from evolstm.cells.cell import Cell
from evolstm.cells.population import Population
from evolstm.cells.variants import VARIANTS, variant_of
from evolstm.errors import CellFileError, EvolstmError

FORMAT = "evolstm.cell"
VERSION = 1
_SIZES = ("n_in", "n_hidden", "n_out", "layers")


def save(cell: Cell, path: str | os.PathLike[str]) -> Path:
    """Write `cell` to `path` (``.npz``) atomically; returns the path."""
    population = cell.population
    meta: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    variant = population.variant or variant_of(population.topology)
    if variant is not None:
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
        cell_spec = meta["variant"] if "variant" in meta else meta["topology"]
        if "variant" in meta and meta["variant"] not in VARIANTS:
            raise EvolstmError(f"unknown cell variant {meta['variant']!r}")
        population = Population(cell_spec, *(meta[name] for name in _SIZES), dtype=meta["dtype"])
        for name, value in arrays.items():
            if value.dtype.kind not in "fiu":
                raise EvolstmError(f"array {name} has dtype {value.dtype}, expected numbers")
        genome = population.flatten(arrays)
    except EvolstmError as error:
        raise CellFileError(f"{path}: {error}") from None
    return Cell(population, genome, meta.get("info"))


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of the .npz at `path`, read without unpickling anything."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError) as error:
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
    if ("variant" in meta) == ("topology" in meta):
        raise CellFileError(f"{path}: 'meta' must hold exactly one of 'variant', 'topology'")
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
