"""The runtime: the engine loop, each task's state, the runner that drives it, and the
session that wires one client's adapter, log and image store together.

    Session ──> Runner ──> TaskState <── Task (read-only view, in mjnb.task)
       │           │
       └──> Engine (loop thread, connection pool, concurrency limits)

Arrows point one way: nothing here imports the client, the sweep or the notebook.
"""

from __future__ import annotations

from .engine import Engine, Limit
from .runner import Runner
from .session import RunSettings, Session
from .state import TaskState

__all__ = ["Engine", "Limit", "RunSettings", "Runner", "Session", "TaskState"]
