"""Tasks: sequences or environments, a fitness (minimised), a held-out test metric.

A new task is one file with a `Task` subclass plus one line in `TASKS`.
"""

from __future__ import annotations

from evolstm.registry import Registry
from evolstm.tasks.base import WORST_FITNESS, Task

TASKS: Registry[Task] = Registry(
    "task",
    [
    ],
)
names, get = TASKS.names, TASKS.get

__all__ = ["TASKS", "WORST_FITNESS", "Task", "get", "names"]
