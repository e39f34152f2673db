"""A task another session or kernel runs, followed through its log row.

``mj.task(id)`` of a task this session does not run (another kernel resumed it, or
another Client in this process sent it) is a view of its log row. Without this its
``wait()`` would never see the task end. :func:`mirror` re-reads the row every
``MIRROR_EVERY`` seconds on the engine loop and applies it to the view's state until the
row is final, or until this session takes the task over (``stop()``). It writes nothing
to the log: the row is the other runner's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import MJError
from ..vocab import TERMINAL
from .rows import state_from_row
from .state import TaskState

__all__ = ["MIRROR_EVERY", "mirror"]

#: seconds between reads of the row
MIRROR_EVERY = 0.5
#: what the state takes from the row besides the snapshot
_MIRRORED = ("error", "image_path", "video_paths", "started_at", "finished_at", "job_seed")


async def mirror(
    state: TaskState,
    read: Callable[[], Mapping[str, Any] | None],
    stop: Callable[[], bool],
    provider: str,
) -> None:
    """Apply the task's log row (``read()``) to ``state`` until the row is final."""
    while not state.done.is_set() and not stop():
        await asyncio.sleep(MIRROR_EVERY)
        try:
            row = await asyncio.to_thread(read)
        except MJError:  # a log that is away for a moment: read it again later
            continue
        if row is None or stop():
            continue
        fresh = state_from_row(row, provider)
        changed = state.apply(fresh.snapshot)
        for name in _MIRRORED:
            changed = changed or getattr(state, name) != getattr(fresh, name)
            setattr(state, name, getattr(fresh, name))
        if fresh.snapshot.status in TERMINAL:
            state.done.set()
            state.notify()
            return
        if changed:
            state.notify()
