"""Search configs: TOML -> typed, validated dataclasses, and back to TOML.

    seed = 1
    [task]       name + the task's options
    [cell]       variant or [cell.topology], hidden, layers, dtype, init_scale
    [algorithm]  name, generations, max_evaluations, target_fitness + the algorithm's options
    [parallel]   backend, jobs, scheduler
    [architecture]  optional: a search over cells (`evolstm.archsearch.config`); [cell] then
                 gives sizes only and [algorithm] is the inner weight search each cell gets

Every error names the key's path (``algorithm.populaton``) and is a `ConfigError`.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from pathlib import Path
from typing import Any, Literal

import numpy as np

from evolstm import algorithms, options, tasks
from evolstm.archsearch import config as archsearch_config
from evolstm.cells.layout import Layout
from evolstm.cells.variants import resolve
from evolstm.errors import ConfigError, EvolstmError

BACKENDS = ("loky", "threading", "sequential", "dask")


@dataclasses.dataclass(frozen=True)
class CellConfig:
    """The cell: a variant name or a topology table, its sizes, dtype and initial scales.

    init_scale: standard deviation of the initial weights around 0 (and the step size of
    CMA-ES); forget_bias: the centre of the forget gate's bias (`algorithms.build.
    forget_bias_offset`: 1 as Jozefowicz et al. 2015); init_scales: per-block overrides of
    the initial spread, ``{block: scale}`` with
    the genome's block names (``weight_ih``, ``weight_hh``, ``bias_ih``, ... for every layer,
    or ``weight_ih_l0`` for one), e.g. an echo-state-like start with strong input weights.
    """

    variant: str = "lstm"
    topology: dict | None = None
    hidden: int = 10
    layers: int = 1
    dtype: Literal["float64", "float32"] = "float64"
    init_scale: float = 0.5
    init_scales: dict | None = None
    forget_bias: float = 0.0

    def validate(self) -> None:
        if self.hidden < 1:
            raise ValueError("hidden: must be >= 1")
        if self.layers < 1:
            raise ValueError("layers: must be >= 1")
        if self.init_scale < 0:
            raise ValueError("init_scale: must be >= 0")
        for block, scale in (self.init_scales or {}).items():
            if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale < 0:
                raise ValueError(f"init_scales.{block}: must be a number >= 0")

    def initial_scales(self, layout: Layout) -> float | np.ndarray:
        """The spread of the initial genomes: `init_scale`, or (n_params,) per-weight scales."""
        if not self.init_scales:
            return self.init_scale
        return layout.block_scales(self.init_scale, self.init_scales)

    def spec(self) -> str | dict[str, Any]:
        """What `Population` takes: the topology dict if given, else the variant name."""
        return self.topology if self.topology is not None else self.variant


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    """When the search stops: generations, evaluations, a target fitness."""

    generations: int = 100
    max_evaluations: int = 0
    target_fitness: float = -math.inf
    checkpoint_seconds: float = 10.0

    def validate(self) -> None:
        if self.generations < 0:
            raise ValueError("generations: must be >= 0")
        if self.max_evaluations < 0:
            raise ValueError("max_evaluations: must be >= 0 (0: no limit)")
        if self.checkpoint_seconds < 0:
            raise ValueError("checkpoint_seconds: must be >= 0")


@dataclasses.dataclass(frozen=True)
class ParallelConfig:
    """Where genomes are evaluated; `jobs` -1 means every core."""

    backend: Literal["loky", "threading", "sequential", "dask"] = "loky"
    jobs: int = -1
    scheduler: str = ""

    def validate(self) -> None:
        if self.jobs == 0 or self.jobs < -1:
            raise ValueError("jobs: must be a positive count or -1 (all cores)")


@dataclasses.dataclass(frozen=True)
class Config:
    """A whole search: what to evolve, on what, with what, where."""

    seed: int
    task: str
    task_options: Any
    cell: CellConfig
    algorithm: str
    algorithm_options: Any
    loop: LoopConfig
    parallel: ParallelConfig
    architecture: Any = None  # ArchitectureConfig of a search over cells, else None
    architecture_options: Any = None  # the outer algorithm's options
    space: Any = None  # the searched part of the topology space

    @property
    def searches_cells(self) -> bool:
        return self.architecture is not None

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def with_overrides(
        self,
        seed: int | None = None,
        generations: int | None = None,
        jobs: int | None = None,
        backend: str | None = None,
        scheduler: str | None = None,
        candidates: int | None = None,
    ) -> Config:
        """The config with command-line overrides applied (None leaves a value)."""
        config = self
        if seed is not None:
            config = config.replace(seed=seed)
        if generations is not None:
            if generations < 0:
                raise ConfigError("--generations: must be >= 0")
            if self.searches_cells:
                raise ConfigError("--generations: a search over cells stops at "
                                  "architecture.candidates; use --candidates")
            config = config.replace(loop=dataclasses.replace(config.loop, generations=generations))
        if candidates is not None:
            if not self.searches_cells:
                raise ConfigError("--candidates: applies to a search over cells "
                                  "([architecture]); use --generations")
            if candidates < 1:
                raise ConfigError("--candidates: must be >= 1")
            config = config.replace(architecture=dataclasses.replace(
                config.architecture, candidates=candidates))
        parallel = {
            key: value
            for key, value in (("jobs", jobs), ("backend", backend), ("scheduler", scheduler))
            if value is not None
        }
        if parallel:
            table = {**options.to_table(config.parallel), **parallel}
            config = config.replace(parallel=options.build(ParallelConfig, table, "parallel"))
        return config


def load(path: str | Path) -> Config:
    """Read and validate a TOML config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read ({error})") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    try:
        return parse(table)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def parse(table: dict[str, Any]) -> Config:
    """Validate a config table (as TOML gives it)."""
    known = {"seed", "task", "cell", "algorithm", "parallel", "architecture"}
    for key in table:
        if key not in known:
            raise ConfigError(f"{key}: unknown key (known: {', '.join(sorted(known))})")
    seed = table.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ConfigError("seed: must be an integer in [0, 2**32)")
    task_table = _section(table, "task")
    task_name = _name(task_table, "task")
    task_cls = _registered(tasks.get, task_name, "task.name")
    task_options = options.build(task_cls.Options, task_table, "task")

    cell = options.build(CellConfig, _section(table, "cell", required=False), "cell")
    try:
        resolve(cell.spec())
    except EvolstmError as error:
        raise ConfigError(f"cell: {error}") from None

    algorithm_table = _section(table, "algorithm")
    algorithm_name = _name(algorithm_table, "algorithm")
    algorithm_cls = _registered(algorithms.get, algorithm_name, "algorithm.name")
    loop_keys = {f.name for f in dataclasses.fields(LoopConfig)}
    loop = options.build(
        LoopConfig, {k: v for k, v in algorithm_table.items() if k in loop_keys}, "algorithm"
    )
    algorithm_options = options.build(
        algorithm_cls.Options,
        {k: v for k, v in algorithm_table.items() if k not in loop_keys},
        "algorithm",
    )
    parallel = options.build(
        ParallelConfig, _section(table, "parallel", required=False), "parallel"
    )
    config = Config(
        seed, task_name, task_options, cell, algorithm_name, algorithm_options, loop, parallel
    )
    if "architecture" not in table:
        return config
    if cell.topology is not None:
        raise ConfigError("cell.topology: a search over cells chooses the topology; "
                          "give start cells as architecture.start")
    if cell.init_scales:
        raise ConfigError("cell.init_scales: not available in a search over cells (their "
                          "blocks differ); use cell.init_scale")
    architecture, outer_options, space = archsearch_config.parse(
        _section(table, "architecture")
    )
    return config.replace(
        architecture=architecture, architecture_options=outer_options, space=space
    )


def to_table(config: Config) -> dict[str, Any]:
    """The fully resolved config as a TOML-able table (defaults filled in)."""
    cell = options.to_table(config.cell)
    if config.cell.topology is not None:
        cell.pop("variant", None)
    loop = options.to_table(config.loop)
    if math.isinf(config.loop.target_fitness):
        loop.pop("target_fitness")
    table = {
        "seed": config.seed,
        "task": {"name": config.task, **options.to_table(config.task_options)},
        "cell": cell,
        "algorithm": {
            "name": config.algorithm,
            **loop,
            **options.to_table(config.algorithm_options),
        },
        "parallel": options.to_table(config.parallel),
    }
    if config.searches_cells:
        cell.pop("variant", None)
        architecture = options.to_table(config.architecture)
        architecture.pop("space", None)
        table["architecture"] = {
            **architecture,
            **options.to_table(config.architecture_options),
            "space": options.to_table(config.space),
        }
    return table


def dumps(config: Config) -> str:
    """The fully resolved config as TOML text."""
    return _toml(to_table(config))


def _section(table: dict[str, Any], key: str, required: bool = True) -> dict[str, Any]:
    section = table.get(key)
    if section is None:
        if required:
            raise ConfigError(f"{key}: missing section [{key}]")
        return {}
    if not isinstance(section, dict):
        raise ConfigError(f"{key}: must be a table [{key}]")
    return dict(section)


def _name(section: dict[str, Any], where: str) -> str:
    name = section.pop("name", None)
    if not isinstance(name, str):
        raise ConfigError(f"{where}.name: missing (a string naming the {where})")
    return name


def _registered(get: Any, name: str, where: str) -> Any:
    try:
        return get(name)
    except EvolstmError as error:
        raise ConfigError(f"{where}: {error}") from None


def _toml(table: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer for config tables (scalars, lists of scalars, nested tables)."""
    lines, tables = [], []
    for key, value in table.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    text = "\n".join(lines)
    for key, value in tables:
        name = f"{prefix}.{key}" if prefix else key
        body = _toml(value, name)
        text += f"\n\n[{name}]\n{body}" if text or prefix else f"[{name}]\n{body}"
    return text.strip("\n") + ("\n" if not prefix else "")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write {value!r} to TOML")
