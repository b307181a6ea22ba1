"""Typed option tables: dataclasses filled from TOML tables with path-named errors.

Every task and algorithm declares its options as a frozen dataclass with defaults; the
config loader calls `build` with the TOML table, and `to_table` writes the resolved values
back into the run's config.toml.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

from evolstm.errors import ConfigError

T = TypeVar("T")


def build(cls: type[T], table: dict[str, Any], where: str) -> T:
    """Instantiate dataclass `cls` from `table`; errors name ``where.key``."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            known = ", ".join(fields) or "none"
            raise ConfigError(f"{where}.{key}: unknown option (known: {known})")
        values[key] = _check(value, hints[key], f"{where}.{key}")
    try:
        options = cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from None
    check = getattr(options, "validate", None)
    if check is not None:
        try:
            check()
        except ValueError as error:
            raise ConfigError(f"{where}.{error}") from None
    return options


def to_table(options: Any) -> dict[str, Any]:
    """Dataclass -> TOML-able dict (tuples become lists, None values are left out)."""
    table = {}
    for field in dataclasses.fields(options):
        value = getattr(options, field.name)
        if value is None:
            continue
        table[field.name] = list(value) if isinstance(value, tuple) else value
    return table


def _check(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        arms = typing.get_args(hint)
        if value is None and type(None) in arms:
            return None
        errors = []
        for arm in arms:
            if arm is type(None):
                continue
            try:
                return _check(value, arm, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value")
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ConfigError(
                f"{where}: {value!r} is not one of {', '.join(map(repr, allowed))}"
            )
        return value
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        return tuple(_check(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {type(value).__name__}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {type(value).__name__}")
        return value
    if hint in (bool, str):
        if not isinstance(value, hint):
            raise ConfigError(
                f"{where}: expected {hint.__name__}, got {type(value).__name__}"
            )
        return value
    return value
