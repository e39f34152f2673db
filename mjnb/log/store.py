"""``TaskLog``: the task log, an SQLite file (``$MJNB_HOME/history.sqlite``, the
default) or a shared PostgreSQL database (a ``postgresql://`` log URL).

Writes come from the engine's single thread, each in its own transaction, committed
before the call returns: a process killed between two writes loses nothing that was
already written. Reads may come from any thread; every thread gets its own connection,
and WAL lets them read while the engine writes. Two processes may share one file: the
busy timeout (10 s) serialises their writes, and a sweep cell is claimed in the same
transaction that creates its task row, so two kernels never run one cell twice. The
same holds on PostgreSQL (see :mod:`mjnb.log.postgres`); the SQL is shared
(:mod:`mjnb.log.db`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mjnb.errors import InvalidArgument, LogError
from mjnb.secrets import is_secret_key
from mjnb.vocab import TERMINAL

from . import codec, frame
from .codec import US, dumps, now_us, scrub, to_us
from .db import Database, LogUnreachable, Tx, open_database
from .journal import HEARTBEAT_S, Journal, KeptUpdates, start_heartbeat
from .sweeps import SweepRecords
from .url import LogURL, parse_log_url

if TYPE_CHECKING:
    import pandas

__all__ = ["TaskLog", "owner_alive"]

# Owners (``host:pid:token``) of the TaskLogs open in this process, to tell an orphaned
# task (its engine is gone) from one another live engine is still following.
_LIVE_OWNERS: set[str] = set()
_OTHER_HOST_STALE = timedelta(minutes=15)
#: when kernels on other machines stop believing a silent log's heartbeat
_HEARTBEAT_STALE = timedelta(seconds=4 * HEARTBEAT_S)

_UPDATABLE = frozenset(
    {
        "status",
        "progress",
        "error",
        "remote_id",
        "remote_state",
        "started_at",
        "finished_at",
        "image_url",
        "image_path",
        "preview_url",
        "base_url",
        "kind",
        "video_paths",
        "motion",
        "loop",
        "batch",
        "job_seed",
        "cost",
        "mask_path",
        "inputs",
    }
)
_TIME_FIELDS = frozenset({"started_at", "finished_at"})
_URL_FIELDS = frozenset({"image_url", "preview_url", "base_url"})
_PATH_FIELDS = frozenset({"image_path", "mask_path"})


def owner_alive(
    owner: str | None, updated_at: datetime | int | None, seen_at: int | None = None
) -> bool:
    """Whether the engine that owns a task (or a sweep) may still be following it.

    On this host: its process exists. On another host (a shared PostgreSQL log, or a
    file on a network share): its heartbeat (``seen_at``, from ``owners``) is recent,
    or, for owners that never sent one (older mjnb), its rows changed recently.
    """
    if not owner:
        return False
    if owner in _LIVE_OWNERS:
        return True
    if owner.partition(":")[0] != codec.HOSTNAME:
        if seen_at is not None:
            return now_us() - seen_at < _HEARTBEAT_STALE // US
        if updated_at is None:
            return False
        updated = updated_at if isinstance(updated_at, int) else to_us(updated_at)
        return now_us() - updated < _OTHER_HOST_STALE // US
    pid = codec.local_pid(owner)
    if pid is None:  # this process (that TaskLog is closed), or no pid in it
        return False
    return codec.process_exists(pid)


def _field(name: str, value: Any) -> tuple[str, Any]:
    """One updatable field as its column and stored value (scrubbed, encoded)."""
    if name == "status":
        return name, codec.check_status(value)
    if name == "progress":
        return name, codec.progress(value)
    if name == "kind":
        return name, None if value is None else codec.check_kind(value)
    if name in _TIME_FIELDS:
        return name, None if value is None else to_us(value)
    if name in _URL_FIELDS:
        return name, codec.clean_url(value)
    if name == "remote_state":
        return "remote_state_json", None if value is None else dumps(scrub(value))
    if name == "inputs":
        return "inputs_json", None if value is None else dumps(scrub(value))
    if name == "error":
        return name, codec.clean_text(None if value is None else str(value))
    if name in _PATH_FIELDS:
        return name, None if value is None else os.fspath(value)
    if name == "video_paths":
        return name, None if value is None else dumps([os.fspath(p) for p in value])
    if name == "loop":
        return name, None if value is None else int(bool(value))
    if name in ("batch", "job_seed"):
        return name, codec.as_int(value)
    if name == "cost":
        return name, codec.as_float(value)
    return name, value


class TaskLog(SweepRecords, KeptUpdates):
    """The task log at ``target``: a path or ``sqlite:///path`` (one person's file,
    normally ``$MJNB_HOME/history.sqlite``) or ``postgresql://...`` (a shared log).

    Create it once per process and share it: the engine's thread writes, any thread
    reads. ``owner`` identifies this log object in the ``owner`` column of the tasks and
    sweeps it adds, so that :meth:`pending` can tell orphaned tasks from live ones,
    :meth:`claim` can hand an orphan to exactly one new engine, and
    :meth:`unsent_cells` lists only the cells of sweeps whose kernel is gone. Opening
    connects, checks and migrates: a bad URL, refused credentials or an unreachable
    server is one LogError (ConfigError for a malformed URL) before anything is sent.
    ``home`` resolves the default location (``target`` None); ``journal`` is where
    updates wait while a PostgreSQL server is unreachable (default
    ``$MJNB_HOME/log-journal.sqlite``).
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | LogURL | None = None,
        *,
        home: str | os.PathLike[str] | None = None,
        journal: str | os.PathLike[str] | None = None,
    ) -> None:
        base = Path(home or os.environ.get("MJNB_HOME") or "~/.mjnb").expanduser()
        self.url: LogURL = parse_log_url(target, base)
        self.owner = f"{codec.HOSTNAME}:{os.getpid()}:{os.urandom(4).hex()}"
        self.user = codec.user_name()
        self.kernel = codec.kernel_id()
        self._closed = False
        self._stop = threading.Event()
        self.db: Database = open_database(self.url)
        #: the SQLite file (None for PostgreSQL); :attr:`where` names either safely
        self.path: Path | None = self.url.path
        self.where: str = self.db.where
        self._journal = Journal(
            Path(journal) if journal else base / "log-journal.sqlite", self.url.safe
        )
        self._in_flight: set[str] = set()
        self._kept = 0 if self.backend == "sqlite" else self._journal.count()
        self._retry_at = 0.0
        self._outage = ""
        _LIVE_OWNERS.add(self.owner)
        try:
            self._register()
        except BaseException:
            self.close()
            raise
        if self._kept:
            with contextlib.suppress(LogUnreachable):
                self._replay()  # a previous kernel here kept updates while the log was down
        start_heartbeat(self, self._stop)

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.db.kind

    def __repr__(self) -> str:
        if self.path is not None:
            return f"TaskLog({str(self.path)!r})"
        return f"TaskLog({self.url.safe!r})"

    def __enter__(self) -> TaskLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------------- the engine

    def write(self, doing: str, work: Callable[[Tx], None]) -> None:
        """Run ``work(tx)`` in one transaction, committed before returning (public for
        the modules that keep their own tables in the log: slots, budgets, gallery)."""
        self._check_open()
        self.db.write(doing, work)

    def read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """Rows of one portable SELECT (see :mod:`mjnb.log.db` for the SQL rules)."""
        self._check_open()
        return self.db.read(sql, args)

    _write = write
    _read = read

    def _check_open(self) -> None:
        if self._closed:
            raise LogError(f"The task log at {self.where} is closed; open a new TaskLog.")

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        self._check_open()
        names, raw = self.db.rows(sql, args)
        return [frame.decode_row(dict(zip(names, values, strict=True))) for values in raw]

    def _register(self) -> None:
        now = now_us()
        row = (self.owner, self.user, codec.HOSTNAME, os.getpid(), self.kernel, now, now)
        self.write(
            "registering this kernel",
            lambda tx: tx.execute(
                'INSERT INTO owners ("owner", "user", "host", "pid", "kernel", "started_at",'
                ' "seen_at") VALUES (?, ?, ?, ?, ?, ?, ?)',
                row,
            ),
        )

    def close(self) -> None:
        """Close every connection this object opened (from any thread)."""
        self._closed = True
        self._stop.set()
        _LIVE_OWNERS.discard(self.owner)
        db = getattr(self, "db", None)
        if db is not None:
            db.close()

    # ---------------------------------------------------------------- writes

    def add_task(
        self,
        task_id: str,
        *,
        provider: str,
        action: str,
        prompt: str,
        text: str,
        params: Mapping[str, Any],
        parent_id: str | None,
        sweep_id: str | None,
        submitted_at: datetime,
        status: str = "queued",
        base_url: str | None = None,
        axes: Mapping[str, Any] | None = None,
        cell: int | None = None,
        replaces: str | None = None,
        kind: str | None = None,
        motion: str | None = None,
        loop: bool | None = None,
        batch: int | None = None,
        mask_path: str | os.PathLike[str] | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> bool:
        """Record a new task; True if it was written.

        A task of a sweep cell (``sweep_id`` with ``cell``, or with ``axes`` equal to a
        planned cell's coordinates) claims that cell in the same transaction: if the
        cell already has a task (another kernel sent it) or was cancelled, nothing is
        written and the answer is False. ``replaces`` is the task a retry takes the
        cell over from. Raises InvalidArgument if ``task_id`` is already logged.
        """
        codec.check_status(status)
        if cell is not None and sweep_id is None:
            raise InvalidArgument(f"cell={cell} needs the sweep_id of its sweep.")
        clean = scrub(params)
        submitted = to_us(submitted_at)
        row: dict[str, Any] = {
            "task_id": task_id,
            "provider": provider,
            "action": action,
            "kind": codec.check_kind(kind or ("describe" if action == "describe" else "image")),
            "parent_id": parent_id,
            "sweep_id": sweep_id,
            "cell": cell,
            "prompt": prompt,
            "text": text,
            **codec.param_columns(clean),
            "params_json": dumps(clean),
            "axes_json": None if axes is None else dumps(scrub(axes)),
            "status": status,
            "progress": 0,
            "submitted_at": submitted,
            "updated_at": now_us(),
            "base_url": codec.clean_url(base_url),
            "owner": self.owner,
            "motion": motion,
            "loop": None if loop is None else int(bool(loop)),
            "batch": codec.as_int(batch),
            "mask_path": None if mask_path is None else os.fspath(mask_path),
            "inputs_json": None if inputs is None else dumps(scrub(inputs)),
            "user": self.user,
            "host": codec.HOSTNAME,
            "kernel": self.kernel,
        }
        if status == "running":
            row["started_at"] = submitted
        elif status in TERMINAL:
            row["finished_at"] = submitted
        won: list[bool] = []

        def work(conn: Tx) -> None:
            if sweep_id is not None and (cell is not None or axes is not None):
                claimed = self._claim_cell(conn, task_id, sweep_id, cell, axes, replaces)
                if claimed is False:
                    won.append(False)
                    return
                row["cell"] = claimed
            names = ", ".join(f'"{name}"' for name in row)
            marks = ", ".join("?" * len(row))
            conn.execute(f"INSERT INTO tasks ({names}) VALUES ({marks})", list(row.values()))
            conn.execute(
                "INSERT INTO task_events (task_id, at, status, progress) VALUES (?, ?, ?, 0)",
                (task_id, submitted, status),
            )
            won.append(True)

        self._write(f"add task {task_id}", work)
        return won[0]

    def update_task(self, task_id: str, *, at: datetime | None = None, **fields: Any) -> None:
        """Change some of a task's fields; a status change is also recorded as an event.

        ``fields`` may be: status, progress, error, remote_id, remote_state (a JSON-able
        dict), started_at, finished_at, image_url, image_path, preview_url, base_url,
        kind, video_paths (a list of paths), motion, loop, batch, job_seed, cost,
        mask_path, inputs (a JSON-able dict: :mod:`mjnb.runtime.kept`). Becoming
        ``running`` sets ``started_at``, and a final status sets ``finished_at``, to
        ``at`` (default now) unless they are given or already set.
        """
        unknown = sorted(set(fields) - _UPDATABLE)
        if unknown:
            secret = [name for name in unknown if is_secret_key(name)]
            if secret:
                raise InvalidArgument(
                    f"The task log never stores credentials; refusing {', '.join(secret)}."
                )
            raise TypeError(
                f"update_task() got unknown field(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(_UPDATABLE))}."
            )
        when = now_us() if at is None else to_us(at)
        values = dict(_field(name, value) for name, value in fields.items())
        self._update(task_id, when, values)

    def _update_work(self, task_id: str, when: int, values: dict[str, Any]) -> Callable[[Tx], None]:
        """The transaction of one update (encoded ``values``), also used by the replay."""
        status = values.get("status")
        assignments = [f'"{name}" = ?' for name in values]
        args: list[Any] = list(values.values())
        if status == "running" and "started_at" not in values:
            assignments.append("started_at = coalesce(started_at, ?)")
            args.append(when)
        if status in TERMINAL:
            if "started_at" not in values:
                assignments.append("started_at = coalesce(started_at, ?)")
                args.append(when)
            if "finished_at" not in values:
                assignments.append("finished_at = coalesce(finished_at, ?)")
                args.append(when)
        assignments.append("updated_at = ?")
        args.append(now_us())
        sql = f"UPDATE tasks SET {', '.join(assignments)} WHERE task_id = ?"
        args.append(task_id)

        def work(conn: Tx) -> None:
            old = conn.execute(
                "SELECT status, progress FROM tasks WHERE task_id = ?", (task_id,)
            ).fetchone()
            if old is None:
                raise InvalidArgument(
                    f"There is no task {task_id!r} in the task log at {self.where}."
                )
            conn.execute(sql, args)
            if status is not None and status != old[0]:
                conn.execute(
                    "INSERT INTO task_events (task_id, at, status, progress) VALUES (?, ?, ?, ?)",
                    (task_id, when, status, values.get("progress", old[1])),
                )

        return work

    def claim(self, task_id: str) -> bool:
        """Take over an orphaned task for this log's engine; False if someone has it.

        A task is orphaned when the process that added (or last claimed) it is gone.
        Atomic across processes: of two engines claiming one orphan, one wins.
        """
        won: list[bool] = []

        def work(conn: Tx) -> None:
            row = conn.execute(
                "SELECT t.owner, t.updated_at, (SELECT o.seen_at FROM owners o"
                " WHERE o.owner = t.owner) FROM tasks t WHERE t.task_id = ?"
                + self.db.dialect.for_update,
                (task_id,),
            ).fetchone()
            if row is None:
                raise InvalidArgument(
                    f"There is no task {task_id!r} in the task log at {self.where}."
                )
            if row[0] == self.owner:
                won.append(True)
            elif owner_alive(row[0], row[1], row[2]):
                won.append(False)
            else:
                conn.execute(
                    "UPDATE tasks SET owner = ?, updated_at = ? WHERE task_id = ?",
                    (self.owner, now_us(), task_id),
                )
                won.append(True)

        self._write(f"claiming task {task_id}", work)
        return won[0]

    # ---------------------------------------------------------------- reads

    def get(self, task_id: str) -> dict[str, Any] | None:
        """Everything logged about one task, decoded, or None."""
        rows = self._rows("SELECT * FROM tasks WHERE task_id = ?", (task_id,))
        return rows[0] if rows else None

    def pending(self) -> list[dict[str, Any]]:
        """Tasks still queued or running, oldest first, as :meth:`get` returns them.

        Each carries ``remote_state`` (decoded), ``owner`` and ``owner_alive``: whether
        the engine that owns it may still be running. Resume only tasks whose owner is
        gone, and :meth:`claim` each before polling it.
        """
        rows = self._rows(
            "SELECT t.*, (SELECT o.seen_at FROM owners o WHERE o.owner = t.owner) AS owner_seen"
            " FROM tasks t WHERE t.status IN ('queued', 'running')"
            " ORDER BY t.submitted_at, t.rowid"
        )
        for row in rows:
            seen = row.pop("owner_seen")
            row["owner_alive"] = owner_alive(row["owner"], row["updated_at"], seen)
        return rows

    def unfetched(self, provider: str, base_url: str | None) -> list[dict[str, Any]]:
        """Ended tasks of one endpoint whose paid result is not here yet (a task_timeout
        or a full disk): their job has a remote id, so it can be polled and fetched."""
        rows = self._rows(
            "SELECT t.*, (SELECT o.seen_at FROM owners o WHERE o.owner = t.owner) AS owner_seen"
            " FROM tasks t WHERE t.provider = ? AND COALESCE(t.base_url, '') = ?"
            " AND t.remote_id IS NOT NULL AND t.remote_state_json LIKE ?"
            " ORDER BY t.submitted_at, t.rowid",
            (provider, base_url or "", '%"unfetched":true%'),
        )
        for row in rows:
            seen = row.pop("owner_seen")
            row["owner_alive"] = owner_alive(row["owner"], row["updated_at"], seen)
        return [row for row in rows if not row["owner_alive"] or row["status"] in TERMINAL]

    def events(self, task_id: str) -> list[tuple[datetime, str, int]]:
        """The status history of one task: ``(at, status, progress)``, oldest first."""
        rows = self._read(
            "SELECT at, status, progress FROM task_events WHERE task_id = ? ORDER BY event_id",
            (task_id,),
        )
        return [(codec.EPOCH + at * US, status, progress or 0) for at, status, progress in rows]

    def dataframe(
        self,
        *,
        provider: str | None = None,
        sweep: str | None = None,
        status: str | Sequence[str] | None = None,
        since: datetime | timedelta | str | None = None,
        limit: int | None = None,
    ) -> pandas.DataFrame:
        """One row per task, sorted by submit time; filters run in SQL.

        ``since`` is a datetime, an ISO 8601 string or a timedelta (that long ago);
        ``limit`` keeps the newest ``limit`` matching tasks.
        """
        where: list[str] = []
        args: list[Any] = []
        if provider is not None:
            where.append("provider = ?")
            args.append(provider)
        if sweep is not None:
            where.append("sweep_id = ?")
            args.append(sweep)
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            for name in wanted:
                codec.check_status(name)
            where.append(f"status IN ({', '.join('?' * len(wanted))})")
            args.extend(wanted)
        if since is not None:
            if isinstance(since, timedelta):
                since = datetime.now(timezone.utc) - since
            where.append("submitted_at >= ?")
            args.append(to_us(since))
        inner = f"SELECT {self.db.dialect.star} FROM tasks"
        if where:
            inner += " WHERE " + " AND ".join(where)
        if limit is not None:
            inner += f" ORDER BY submitted_at DESC, rowid DESC LIMIT {int(limit)}"
        self._check_open()
        return frame.read_frame(self.db, inner, args)
