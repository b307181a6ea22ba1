"""A name -> class table for tasks and algorithms (and the error for an unknown name)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from evolstm.errors import EvolstmError

T = TypeVar("T")


class Registry(Generic[T]):
    """Classes by their ``name`` attribute, in registration order."""

    def __init__(self, kind: str, classes: Iterable[type[T]]) -> None:
        self.kind = kind
        self.classes: dict[str, type[T]] = {cls.name: cls for cls in classes}  # type: ignore[attr-defined]

    def names(self) -> list[str]:
        return list(self.classes)

    def get(self, name: str) -> type[T]:
        if name not in self.classes:
            raise EvolstmError(
                f"unknown {self.kind} {name!r}; known: {', '.join(self.classes)}"
            )
        return self.classes[name]
