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
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mjnb.errors import InvalidArgument, LogError, MJError

from .codec import now_us
from .db import LogUnreachable, Tx

if TYPE_CHECKING:
    from .store import TaskLog

__all__ = ["HEARTBEAT_S", "Journal", "KeptUpdates", "start_heartbeat"]

logger = logging.getLogger("mjnb")
#: how often an open log tells kernels on other machines that it is alive
HEARTBEAT_S = 30.0
_RETRY_S = 2.0  # while the server is down, try it again at most this often

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


class KeptUpdates:
    """The part of :class:`~mjnb.log.TaskLog` that keeps updates while the log is down."""

    where: str
    _journal: Journal
    _in_flight: set[str]
    _kept: int
    _retry_at: float
    _outage: str

    def _check_open(self) -> None:
        raise NotImplementedError

    def _write(self, doing: str, work: Callable[[Tx], None]) -> None:
        raise NotImplementedError

    def _update_work(self, task_id: str, when: int, values: dict[str, Any]) -> Callable[[Tx], None]:
        raise NotImplementedError

    def _update(self, task_id: str, when: int, values: dict[str, Any]) -> None:
        """Write one update; while the server is unreachable, keep updates of jobs
        already sent in the local journal (and say so). Any other write raises."""
        self._check_open()
        sent = task_id in self._in_flight
        sent = sent or values.get("remote_id") is not None
        sent = sent or values.get("status") not in (None, "queued")
        if sent:
            self._in_flight.add(task_id)
        try:
            if self._kept:
                if time.monotonic() < self._retry_at:
                    raise LogUnreachable(self._outage or f"The task log at {self.where} is down.")
                self._replay()
            self._write(f"updating task {task_id}", self._update_work(task_id, when, values))
        except LogUnreachable as exc:
            if not sent:
                raise
            self._keep(task_id, when, values, exc)

    def _keep(self, task_id: str, when: int, values: dict[str, Any], exc: LogError) -> None:
        self._journal.append(task_id, when, values)
        self._kept += 1
        self._retry_at = time.monotonic() + _RETRY_S
        if not self._outage:
            self._outage = str(exc)
            logger.warning(
                "mjnb: %s Jobs already sent keep running; their updates are kept in %s and "
                "written when the log is back. No new job is sent until then.",
                exc,
                self._journal.path,
            )

    def _replay(self) -> None:
        """Write the journal's updates to the log, oldest first (LogUnreachable: later)."""

        def apply(task_id: str, at: int, values: dict[str, Any]) -> None:
            try:
                self._write(f"replaying task {task_id}", self._update_work(task_id, at, values))
            except InvalidArgument:
                logger.warning("mjnb: dropped a kept update of unknown task %s", task_id)

        try:
            done = self._journal.replay(apply)
        except LogUnreachable:
            self._retry_at = time.monotonic() + _RETRY_S
            raise
        self._kept = 0
        if self._outage or done:
            logger.warning(
                "mjnb: the task log at %s is back; wrote the %d update(s) kept in %s.",
                self.where,
                done,
                self._journal.path,
            )
        self._outage = ""

    @property
    def kept(self) -> int:
        """How many task updates wait in the local journal for the log to come back."""
        return self._kept


def start_heartbeat(log: TaskLog, stop: threading.Event) -> threading.Thread:
    """Every HEARTBEAT_S, until ``stop`` is set or ``log`` is garbage, update its
    ``owners.seen_at``: kernels on other machines then know it is alive."""
    ref = weakref.ref(log)
    owner = log.owner

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            current = ref()
            if current is None:
                return
            # a failed beat: the next one retries; liveness falls back to row activity
            with contextlib.suppress(MJError):
                current.write(
                    "sending a heartbeat",
                    lambda tx: tx.execute(
                        "UPDATE owners SET seen_at = ? WHERE owner = ?", (now_us(), owner)
                    ),
                )
            del current

    thread = threading.Thread(target=beat, name=f"mjnb-log-heartbeat-{owner}", daemon=True)
    thread.start()
    return thread
