"""Tasks: sequences or environments, a fitness (minimised), a held-out test metric.

A new task is one file with a `Task` subclass plus one line in `TASKS`.
"""

from __future__ import annotations

from evolstm.registry import Registry
from evolstm.tasks.adding import Adding
from evolstm.tasks.anbn import AnBn
from evolstm.tasks.anbncn import AnBnCn
from evolstm.tasks.base import WORST_FITNESS, Task
from evolstm.tasks.double_pole import DoublePole
from evolstm.tasks.mackey_glass import MackeyGlass
from evolstm.tasks.mso import MSO
from evolstm.tasks.reber import Reber
from evolstm.tasks.series import Series
from evolstm.tasks.temporal_order import TemporalOrder

TASKS: Registry[Task] = Registry(
    "task",
    [
        DoublePole,
        MSO,
        MackeyGlass,
        Series,
        AnBn,
        AnBnCn,
        Reber,
        Adding,
        TemporalOrder,
    ],
)
names, get = TASKS.names, TASKS.get

__all__ = ["TASKS", "WORST_FITNESS", "Task", "get", "names"]
