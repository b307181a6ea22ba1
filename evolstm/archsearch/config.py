"""The ``[architecture]`` section of a search config: the outer search over cells.

    [architecture]
    kind = "topology"       # what is searched: topology (the topology space) | graph
    algorithm = "aging"     # random | aging | nsga2 | variants
    candidates = 400        # the outer budget (the search stops at the first generation
                            # that reaches it)
    inner_seeds = 2         # inner searches per candidate; the score is their median
    inner_seed_base = 0     # inner seeds base .. base + inner_seeds - 1 (another base:
                            # seeds a search never saw, for re-scoring)
    start = ["lstm"]        # cells asked first (the study's list for "variants"): variant
                            # names, "named" (all in the space), or topology keys
    test = "front"          # who gets test metrics at the end: best | front | all
    population = 20         # ... and the outer algorithm's own options
    [architecture.space]    # the part of the space searched (`archsearch.space.Space`, or
    families = ["lstm", "gru"]  # `archsearch.graphs.GraphSpace` for graphs)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Literal

from evolstm import options
from evolstm.archsearch import outer
from evolstm.archsearch.kinds import KINDS, Kind
from evolstm.errors import ConfigError, EvolstmError


@dataclasses.dataclass(frozen=True)
class ArchitectureConfig:
    """The outer search: kind, algorithm, budget, inner seeds, start, test report, space."""

    kind: Literal["topology", "graph"] = "topology"
    algorithm: str = "aging"
    candidates: int = 100
    inner_seeds: int = 1
    inner_seed_base: int = 0
    start: tuple[str, ...] = ()
    test: Literal["best", "front", "all"] = "front"
    space: dict | None = None

    def validate(self) -> None:
        if self.candidates < 1:
            raise ValueError("candidates: must be >= 1")
        if self.inner_seeds < 1:
            raise ValueError("inner_seeds: must be >= 1")
        if self.inner_seed_base < 0:
            raise ValueError("inner_seed_base: must be >= 0")


COMMON = {field.name for field in dataclasses.fields(ArchitectureConfig)}


def parse(table: dict[str, Any]) -> tuple[ArchitectureConfig, Any, Any]:
    """The ``[architecture]`` table -> (common settings, the outer algorithm's options,
    the space); errors name ``architecture.<key>``."""
    table = dict(table)
    architecture = options.build(
        ArchitectureConfig, {k: v for k, v in table.items() if k in COMMON}, "architecture"
    )
    try:
        outer_cls = outer.get(architecture.algorithm)
    except EvolstmError as error:
        raise ConfigError(f"architecture.algorithm: {error}") from None
    outer_options = options.build(
        outer_cls.Options, {k: v for k, v in table.items() if k not in COMMON}, "architecture"
    )
    space = options.build(KINDS[architecture.kind].space, architecture.space or {},
                          "architecture.space")
    start_topologies(architecture, space)  # names and space checked here, once
    # the Space is the one record of the space from here on
    return dataclasses.replace(architecture, space=None), outer_options, space


NAMED = "named"  # a start entry that stands for every named variant inside the space


def start_topologies(architecture: ArchitectureConfig, space: Any) -> list[Any]:
    """The start list as canonical cells of the search's kind (the `variants` study without
    a list: every named cell inside the space). An entry is a name, ``"named"`` (every
    named cell inside the space) or a cell's JSON (a topology key from candidates.csv, a
    graph dict)."""
    kind = KINDS[architecture.kind]
    cells = []
    for entry in _entries(architecture, space):
        try:
            cell = kind.parse(entry)
        except (EvolstmError, json.JSONDecodeError) as error:
            raise ConfigError(f"architecture.start: {error}") from None
        if not space.contains(cell):
            raise ConfigError(f"architecture.start: {entry} is outside architecture.space")
        cells.append(cell)
    if architecture.algorithm == "variants" and not cells:
        raise ConfigError("architecture.start: no named cell lies inside the space")
    return cells


def start_names(architecture: ArchitectureConfig, space: Any) -> list[str]:
    """Labels of `start_topologies`, in the same order: names, and for a cell's JSON
    ``cell-`` and six hex digits of its hash."""
    return [
        "cell-" + hashlib.blake2b(entry.encode(), digest_size=3).hexdigest()
        if entry.startswith("{") else entry
        for entry in _entries(architecture, space)
    ]


def named_inside(kind: Kind, space: Any) -> dict[str, Any]:
    """Name -> canonical cell of every named cell of `kind` inside `space` (names whose
    cell the kind cannot express are left out)."""
    inside = {}
    for name in kind.names():
        try:
            cell = kind.parse(name)
        except EvolstmError:
            continue
        if space.contains(cell):
            inside[name] = cell
    return inside


def _entries(architecture: ArchitectureConfig, space: Any) -> list[str]:
    """The start entries with ``"named"`` (and an empty study list) expanded."""
    entries = list(architecture.start)
    if entries and NAMED not in entries:
        return entries
    named = list(named_inside(KINDS[architecture.kind], space))
    if not entries:
        return named if architecture.algorithm == "variants" else []
    expanded: list[str] = []
    for entry in entries:
        expanded += named if entry == NAMED else [entry]
    return expanded
