"""The ``[architecture]`` section of a search config: the outer search over cells.

    [architecture]
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
    [architecture.space]    # the part of the topology space searched
    families = ["lstm", "gru"]
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Literal

from evolstm import options
from evolstm.archsearch import outer
from evolstm.archsearch.canonical import canonical
from evolstm.archsearch.space import Space
from evolstm.cells import variants
from evolstm.cells.topology import Topology
from evolstm.errors import ConfigError, EvolstmError


@dataclasses.dataclass(frozen=True)
class ArchitectureConfig:
    """The outer search: algorithm, budget, inner seeds, start, test report, space."""

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


def parse(table: dict[str, Any]) -> tuple[ArchitectureConfig, Any, Space]:
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
    space = options.build(Space, architecture.space or {}, "architecture.space")
    start_topologies(architecture, space)  # names and space checked here, once
    # the Space is the one record of the space from here on
    return dataclasses.replace(architecture, space=None), outer_options, space


NAMED = "named"  # a start entry that stands for every named variant inside the space


def start_topologies(architecture: ArchitectureConfig, space: Space) -> list[Topology]:
    """The start list as canonical topologies (the `variants` study without a list: every
    named variant inside the space). An entry is a variant name, ``"named"`` (every named
    variant inside the space) or a topology key (the JSON of a candidates.csv row)."""
    topologies = []
    for entry in _entries(architecture, space):
        try:
            if entry.startswith("{"):
                topology = canonical(Topology.from_dict(json.loads(entry)))
            else:
                topology = canonical(variants.resolve(entry))
        except (EvolstmError, json.JSONDecodeError) as error:
            raise ConfigError(f"architecture.start: {error}") from None
        if not space.contains(topology):
            raise ConfigError(f"architecture.start: {entry} is outside architecture.space")
        topologies.append(topology)
    if architecture.algorithm == "variants" and not topologies:
        raise ConfigError("architecture.start: no named variant lies inside the space")
    return topologies


def start_names(architecture: ArchitectureConfig, space: Space) -> list[str]:
    """Labels of `start_topologies`, in the same order: variant names, and for a topology
    key ``cell-`` and six hex digits of its hash."""
    return [
        "cell-" + hashlib.blake2b(entry.encode(), digest_size=3).hexdigest()
        if entry.startswith("{") else entry
        for entry in _entries(architecture, space)
    ]


def _entries(architecture: ArchitectureConfig, space: Space) -> list[str]:
    """The start entries with ``"named"`` (and an empty study list) expanded."""
    named = [name for name in variants.names()
             if space.contains(canonical(variants.resolve(name)))]
    entries = list(architecture.start)
    if not entries and architecture.algorithm == "variants":
        return named
    expanded: list[str] = []
    for entry in entries:
        expanded += named if entry == NAMED else [entry]
    return expanded
