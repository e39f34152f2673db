"""The local journal: task updates kept while a shared log's server is unreachable.

When a PostgreSQL log goes away mid-sweep, the jobs already sent are paid for and keep
running; their updates (progress, the final status, the image path) go into a small
SQLite file under ``$MJNB_HOME`` (``log-journal.sqlite``), one row per update, and are
replayed in order, in one transaction each, as soon as the server answers again (on
the next write of this process, or when a log on the same URL is next opened there).

Only updates of jobs already sent may wait here. A new task, a sweep cell's claim and
the "about to send" marker must reach the shared log, so while it is unreachable mjnb
sends nothing new: a job it could not record is never sent.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mjnb.errors import LogError

__all__ = ["Journal"]

_DDL = (
    "CREATE TABLE IF NOT EXISTS journal (id INTEGER PRIMARY KEY, log TEXT NOT NULL,"
    " task_id TEXT NOT NULL, at INTEGER NOT NULL, fields_json TEXT NOT NULL)"
)


class Journal:
    """Updates waiting for the log at ``log`` (its password-free URL), in ``path``."""

    def __init__(self, path: Path, log: str) -> None:
        self.path = path
        self.log = log

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.execute(_DDL)
        return conn

    def append(self, task_id: str, at: int, fields: Mapping[str, Any]) -> None:
        """Keep one update (already encoded column values); raises LogError if even the
        local disk refuses it."""
        try:
            with contextlib.closing(self._connect()) as conn:
                conn.execute(
                    "INSERT INTO journal (log, task_id, at, fields_json) VALUES (?, ?, ?, ?)",
                    (self.log, task_id, at, json.dumps(dict(fields))),
                )
        except (sqlite3.Error, OSError) as exc:
            raise LogError(
                f"The task log at {self.log} is unreachable and the local journal at "
                f"{self.path} cannot be written either ({exc})."
            ) from exc

    def count(self) -> int:
        """How many updates wait (0 if there is no journal file)."""
        if not self.path.exists():
            return 0
        try:
            with contextlib.closing(self._connect()) as conn:
                return int(
                    conn.execute(
                        "SELECT count(*) FROM journal WHERE log = ?", (self.log,)
                    ).fetchone()[0]
                )
        except sqlite3.Error:
            return 0

    def replay(self, apply: Callable[[str, int, dict[str, Any]], None]) -> int:
        """Apply every waiting update, oldest first, deleting each once applied.

        ``apply`` raises (e.g. the server is still down) to stop; what was applied stays
        applied and the rest waits. Returns how many were applied.
        """
        if not self.path.exists():
            return 0
        done = 0
        with contextlib.closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT id, task_id, at, fields_json FROM journal WHERE log = ? ORDER BY id",
                (self.log,),
            ).fetchall()
            for row_id, task_id, at, fields_json in rows:
                apply(task_id, at, json.loads(fields_json))
                conn.execute("DELETE FROM journal WHERE id = ?", (row_id,))
                done += 1
        return done
