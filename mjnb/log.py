"""The task log: every task the engine touches, in ``$MJNB_HOME/history.sqlite``.

One SQLite file (stdlib :mod:`sqlite3`, WAL mode) holds three tables:

``tasks``
    one row per task: the prompt as sent, its text and parameters (one real column per
    Midjourney parameter, plus ``params_json`` with everything), provider, action,
    parent, sweep, status, progress, error, timestamps, remote ids, the state the
    engine needs to resume polling, the image URL and the cached image path.
``task_events``
    the status history: ``(task_id, at, status, progress)``, one row per change.
``sweeps``
    one row per parameter sweep: id, base prompt, axes, provider, creation time.

Timestamps are stored as whole microseconds since the Unix epoch (UTC) so that they are
exact and cheap to turn into ``datetime64`` columns.

Writes come from the engine's single thread, each in its own transaction, committed
before the call returns: a process killed between two writes loses nothing that was
already written. Reads may come from any thread; every thread gets its own connection,
and WAL lets them read while the engine writes. Two processes may share one file: the
busy timeout (10 s) serialises their writes.

The schema carries a version (``PRAGMA user_version``) and the file an application id.
:data:`MIGRATIONS` lists one function per version, from an empty file on; adding a
version is appending one function. A file from a newer mjnb, a damaged file, or a
folder that cannot be written raises :class:`~mjnb.errors.LogError` naming the path and
what to do; the log is never silently replaced.

No column can hold a credential: keys named like a token, secret, API key, password or
authorization header are stripped from every dictionary before it is stored, and such
query parameters are removed from stored URLs.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mjnb.errors import LogError, MJError

if TYPE_CHECKING:
    import pandas

__all__ = [
    "MIGRATIONS",
    "PARAM_COLUMNS",
    "SCHEMA_VERSION",
    "STATUSES",
    "TaskLog",
    "migrate",
]

#: One DataFrame column per Midjourney parameter; ``mode`` is fast/relax/turbo.
PARAM_COLUMNS: tuple[str, ...] = (
    "ar", "stylize", "chaos", "weird", "seed", "quality", "version", "niji", "style",
    "no", "tile", "stop", "iw", "sref", "sw", "sv", "cref", "cw", "oref", "ow", "exp",
    "p", "draft", "repeat", "mode",
)  # fmt: skip

STATUSES: tuple[str, ...] = ("queued", "running", "succeeded", "failed", "cancelled")
_TERMINAL = ("succeeded", "failed", "cancelled")

_INT_PARAMS = frozenset(
    {"stylize", "chaos", "weird", "seed", "stop", "sw", "sv", "cw", "ow", "exp", "repeat"}
)
_FLOAT_PARAMS = frozenset({"quality", "iw"})
_BOOL_PARAMS = frozenset({"tile", "draft"})
_LIST_PARAMS = frozenset({"no", "sref", "cref", "p"})
_MODES = ("fast", "relax", "turbo")

#: ``PRAGMA application_id`` of an mjnb log ("mjnb" in ASCII).
APPLICATION_ID = 0x6D6A6E62
BUSY_TIMEOUT_S = 10.0
_SQLITE_HEADER = b"SQLite format 3\x00"
_NULL_INT = -(2**63)  # stands for NULL in integer columns read in bulk
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)

_SENSITIVE_KEY = re.compile(
    r"token|secret|api[_-]?key|apikey|authori[sz]ation|passw(or)?d|credential|cookie"
    r"|^key$|^app[_-]?key$|^sign(ature)?$",
    re.IGNORECASE,
)
_SENSITIVE_TEXT = (
    re.compile(r"(?i)(bearer\s+)[^\s'\",;]+"),
    re.compile(
        r"(?i)\b(token|secret|api[_-]?key|apikey|authorization|password)"
        r"(\"?\s*[=:]\s*[\"']?)[^\s&'\",;}]+"
    ),
)

# Owners (``host:pid:token``) of the TaskLogs open in this process, to tell an orphaned
# task (its engine is gone) from one another live engine is still following.
_LIVE_OWNERS: set[str] = set()
_HOSTNAME = socket.gethostname()
_OTHER_HOST_STALE = timedelta(minutes=15)

# --------------------------------------------------------------------------- schema

_V1_DDL = (
    """
    CREATE TABLE tasks (
        task_id           TEXT PRIMARY KEY,
        provider          TEXT NOT NULL,
        action            TEXT NOT NULL,
        parent_id         TEXT,
        sweep_id          TEXT,
        prompt            TEXT NOT NULL,
        text              TEXT NOT NULL,
        ar TEXT, stylize INTEGER, chaos INTEGER, weird INTEGER, seed INTEGER,
        quality REAL, version TEXT, niji TEXT, style TEXT, no TEXT, tile INTEGER,
        stop INTEGER, iw REAL, sref TEXT, sw INTEGER, sv INTEGER, cref TEXT, cw INTEGER,
        oref TEXT, ow INTEGER, exp INTEGER, p TEXT, draft INTEGER, repeat INTEGER,
        mode TEXT,
        params_json       TEXT NOT NULL,
        axes_json         TEXT,
        status            TEXT NOT NULL,
        progress          INTEGER NOT NULL DEFAULT 0,
        error             TEXT,
        submitted_at      INTEGER NOT NULL,
        started_at        INTEGER,
        finished_at       INTEGER,
        updated_at        INTEGER NOT NULL,
        image_url         TEXT,
        image_path        TEXT,
        preview_url       TEXT,
        remote_id         TEXT,
        remote_state_json TEXT,
        base_url          TEXT,
        owner             TEXT
    )
    """,
    "CREATE INDEX tasks_submitted ON tasks (submitted_at)",
    "CREATE INDEX tasks_provider ON tasks (provider, submitted_at)",
    "CREATE INDEX tasks_sweep ON tasks (sweep_id, submitted_at)",
    "CREATE INDEX tasks_status ON tasks (status, submitted_at)",
    """
    CREATE TABLE task_events (
        event_id INTEGER PRIMARY KEY,
        task_id  TEXT NOT NULL,
        at       INTEGER NOT NULL,
        status   TEXT NOT NULL,
        progress INTEGER
    )
    """,
    "CREATE INDEX task_events_task ON task_events (task_id, event_id)",
    """
    CREATE TABLE sweeps (
        sweep_id   TEXT PRIMARY KEY,
        prompt     TEXT NOT NULL,
        axes_json  TEXT NOT NULL,
        provider   TEXT NOT NULL,
        created_at INTEGER NOT NULL
    )
    """,
)


def _create_v1(conn: sqlite3.Connection) -> None:
    """Version 0 (an empty file) to 1: the first release's tables."""
    for statement in _V1_DDL:
        conn.execute(statement)


Migration = Callable[[sqlite3.Connection], None]

#: ``MIGRATIONS[n]`` takes a file from version ``n`` to ``n + 1``.
MIGRATIONS: tuple[Migration, ...] = (_create_v1,)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(
    conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration] = MIGRATIONS
) -> int:
    """Bring the database on ``conn`` to ``len(migrations)``; return the version found.

    Runs in one ``BEGIN IMMEDIATE`` transaction, so two processes opening the same new
    file at once migrate it once. ``conn`` must be in autocommit mode.
    """
    target = len(migrations)
    found = _user_version(conn)
    if found > target:
        raise _newer_error(path, found, target)
    if found == target and found > 0:
        _check_application_id(conn, path)
        return found
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = _user_version(conn)  # another process may have migrated meanwhile
        if found > target:
            raise _newer_error(path, found, target)
        if found == 0:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            if tables and app_id != APPLICATION_ID:
                raise LogError(
                    f"{path} is an SQLite database but not an mjnb task log. Move it "
                    "aside or set MJNB_HOME to another folder; mjnb will not change it."
                )
        else:
            _check_application_id(conn, path)
        for step in migrations[found:]:
            step(conn)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {target}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return found


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _check_application_id(conn: sqlite3.Connection, path: Path) -> None:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if app_id != APPLICATION_ID:
        raise LogError(
            f"{path} is an SQLite database but not an mjnb task log (application id "
            f"{app_id}). Move it aside or set MJNB_HOME to another folder."
        )


def _newer_error(path: Path, found: int, supported: int) -> LogError:
    return LogError(
        f"The task log at {path} was written by a newer mjnb (schema {found} > "
        f"{supported}); upgrade mjnb or set MJNB_HOME to another folder."
    )


# ------------------------------------------------------------------ value helpers


def _to_us(value: datetime | str | float | int) -> int:
    """Microseconds since the epoch; naive datetimes are local time, like Python's."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise MJError(
                f"{value!r} is not a date and time; write it as ISO 8601, e.g. "
                "'2026-11-21' or '2026-11-21T09:30', or pass a datetime or a timedelta."
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.astimezone()
        return (value - _EPOCH) // _US
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return round(float(value) * 1_000_000)  # seconds since the epoch
    raise TypeError(f"expected a datetime or an ISO 8601 string, got {value!r}")


def _from_us(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + value * _US


def _now_us() -> int:
    return time.time_ns() // 1000


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _scrub(value: Any) -> Any:
    """A copy of ``value`` without any mapping key that names a credential."""
    if isinstance(value, Mapping):
        return {str(k): _scrub(v) for k, v in value.items() if not _SENSITIVE_KEY.search(str(k))}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_scrub(v) for v in value]
    return value


def _scrub_url(url: str | None) -> str | None:
    """``url`` without user info and without credential-like query parameters."""
    if not url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not _SENSITIVE_KEY.search(k)]
        if len(kept) != len(pairs):
            query = urlencode(kept)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _scrub_text(text: str | None) -> str | None:
    if not text:
        return text
    for pattern in _SENSITIVE_TEXT:
        text = pattern.sub(lambda m: "".join(g or "" for g in m.groups()) + "***", text)
    return text


def _as_int(value: Any) -> int | None:
    number = _as_float(value)
    if number is None or number != int(number):
        return None
    return int(number)


def _as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _as_text(value: Any) -> str | None:
    if value is None or value is False:
        return None
    if value is True:
        return ""  # a bare flag such as ``--niji``
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value) or ""
    return str(value)


def _as_list(value: Any) -> str | None:
    if value is None or value is False:
        return None
    if value is True:
        return "[]"  # a bare flag such as ``--p``
    if isinstance(value, str):
        return _dumps([value])
    if isinstance(value, (list, tuple, set, frozenset)):
        return _dumps(list(value))
    return _dumps([value])


def _param_columns(params: Mapping[str, Any]) -> dict[str, Any]:
    """The real-column values of a parameters mapping (lenient: bad values -> NULL)."""
    out: dict[str, Any] = {}
    for name in PARAM_COLUMNS:
        value = params.get(name)
        if name == "mode" and value is None:
            value = next((m for m in _MODES if params.get(m)), None)
        if name in _INT_PARAMS:
            out[name] = _as_int(value)
        elif name in _FLOAT_PARAMS:
            out[name] = _as_float(value)
        elif name in _BOOL_PARAMS:
            out[name] = None if value is None else int(bool(value))
        elif name in _LIST_PARAMS:
            out[name] = _as_list(value)
        else:
            out[name] = _as_text(value)
    return out


def _check_status(status: str) -> str:
    if status not in STATUSES:
        raise MJError(f"status must be one of {', '.join(STATUSES)}; got {status!r}.")
    return status


def _progress(value: Any) -> int:
    number = _as_float(value)
    if number is None:
        raise ValueError(f"progress must be a number 0-100, got {value!r}.")
    return max(0, min(100, round(number)))


def _owner_alive(owner: str | None, updated_at: datetime | int | None) -> bool:
    """Whether the engine that owns a task may still be following it."""
    if not owner:
        return False
    if owner in _LIVE_OWNERS:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _HOSTNAME:
        if updated_at is None:
            return False
        updated = updated_at if isinstance(updated_at, int) else _to_us(updated_at)
        return _now_us() - updated < _OTHER_HOST_STALE // _US
    pid = _as_int(pid_text)
    if pid is None or pid == os.getpid():
        return False  # this process, but that TaskLog is closed
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL (persistent in the file), waiting out a concurrent opener.

    Changing the journal mode does not go through the busy handler when another
    process holds the file (e.g. two kernels creating it at once), so retry here.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


# ------------------------------------------------------------------ errors


def _log_error(exc: BaseException, path: Path, doing: str) -> LogError:
    message = str(exc)
    lowered = message.lower()
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in lowered or "busy" in lowered):
        return LogError(
            f"The task log at {path} stayed locked by another process for more than "
            f"{BUSY_TIMEOUT_S:g} s while {doing}. Close other kernels that use this "
            "MJNB_HOME, or try again."
        )
    if isinstance(exc, PermissionError) or any(
        word in lowered for word in ("readonly", "read-only", "unable to open", "permission")
    ):
        return LogError(
            f"The task log at {path} cannot be written ({message}) while {doing}. Make "
            "the folder writable, or set MJNB_HOME to a folder you can write to."
        )
    if "disk is full" in lowered or "no space" in lowered:
        return LogError(
            f"The disk holding the task log at {path} is full ({message}). Free some "
            "space, or set MJNB_HOME to another disk."
        )
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return _damaged_error(path, message)
    if any(word in lowered for word in ("malformed", "not a database", "corrupt")):
        return _damaged_error(path, message)
    return LogError(f"The task log at {path} failed while {doing}: {message}.")


def _damaged_error(path: Path, detail: str) -> LogError:
    return LogError(
        f"The task log at {path} is damaged ({detail}). Move it aside (for example, "
        f"rename it to {path.name}.broken) so that mjnb starts a new one, or set "
        "MJNB_HOME to another folder; mjnb never replaces a log on its own."
    )


# ------------------------------------------------------------------ the log

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
    }
)
_TIME_FIELDS = frozenset({"started_at", "finished_at"})
_URL_FIELDS = frozenset({"image_url", "preview_url", "base_url"})

# The DataFrame's columns, in order, and the SQL that reads each one.
_FRAME_TEXT = ("task_id", "provider", "action", "parent_id", "sweep_id", "prompt", "text")
_FRAME_TAIL_TEXT = ("image_url", "image_path", "remote_id")
_FRAME_TIMES = ("submitted_at", "started_at", "finished_at")
FRAME_COLUMNS: tuple[str, ...] = (
    *_FRAME_TEXT,
    *PARAM_COLUMNS,
    "status",
    "progress",
    "error",
    *_FRAME_TIMES,
    "queue_s",
    "run_s",
    *_FRAME_TAIL_TEXT,
    "sweep_axes",
)
_INT_NULLABLE = _INT_PARAMS | {"progress"}


def _column_json(column: str) -> str:
    """SQL giving one frame column's value as it goes into ``json_group_array``.

    Integer-like columns come back with ``_NULL_INT`` instead of NULL so that they load
    straight into int64 arrays; JSON columns are embedded as JSON, not as text.
    """
    if column in _INT_NULLABLE or column in _BOOL_PARAMS or column in _FRAME_TIMES:
        return f"coalesce({column}, {_NULL_INT})"
    if column == "queue_s":
        return "(started_at - submitted_at) / 1e6"
    if column == "run_s":
        return "(finished_at - started_at) / 1e6"
    if column == "sweep_axes":
        return "json(axes_json)"
    if column in _LIST_PARAMS:
        return f"json({column})"
    return column


def _column_raw(column: str) -> str:
    """SQL for one frame column as stored, NULL where missing (used to count values)."""
    if column in ("queue_s", "run_s", "sweep_axes"):
        return _column_json(column)
    return column


# Frame columns that are never NULL; the others are read only when some row has a value.
_NEVER_NULL = frozenset(
    {"task_id", "provider", "action", "prompt", "text", "status", "progress", "submitted_at"}
)
_NULLABLE = tuple(c for c in FRAME_COLUMNS if c not in _NEVER_NULL)
_COUNT_SQL = ", ".join(["count(*)", *(f"count({_column_raw(c)})" for c in _NULLABLE)])


class TaskLog:
    """The SQLite task log at ``path`` (normally ``$MJNB_HOME/history.sqlite``).

    Create it once per process and share it: the engine's thread writes, any thread
    reads. ``owner`` identifies this log object in the ``owner`` column of the tasks it
    adds, so that :meth:`pending` can tell orphaned tasks from live ones and
    :meth:`claim` can hand an orphan to exactly one new engine.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().absolute()
        self.owner = f"{_HOSTNAME}:{os.getpid()}:{os.urandom(4).hex()}"
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LogError(
                f"Cannot create the folder for the task log at {self.path} ({exc}). Make "
                "it writable, or set MJNB_HOME to a folder you can write to."
            ) from exc
        self._check_header()
        try:
            conn = self._conn()
            migrate(conn, self.path)
        except LogError:
            self.close()
            raise
        except (sqlite3.Error, OSError) as exc:
            self.close()
            raise _log_error(exc, self.path, "opening it") from exc
        _LIVE_OWNERS.add(self.owner)

    def __repr__(self) -> str:
        return f"TaskLog({str(self.path)!r})"

    def __enter__(self) -> TaskLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------------- connections

    def _check_header(self) -> None:
        try:
            with open(self.path, "rb") as f:
                head = f.read(len(_SQLITE_HEADER))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise LogError(
                f"Cannot read the task log at {self.path} ({exc}). Check its permissions, "
                "or set MJNB_HOME to another folder."
            ) from exc
        if head and head != _SQLITE_HEADER:
            raise _damaged_error(self.path, "it is not an SQLite file")

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise LogError(f"The task log at {self.path} is closed; open a new TaskLog.")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            _enable_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        self._local.conn = conn
        self._local.pid = os.getpid()
        with self._lock:
            self._connections.append(conn)
        return conn

    def _write(self, doing: str, work: Callable[[sqlite3.Connection], None]) -> None:
        """Run ``work`` in one immediate transaction, committed before returning."""
        try:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"Cannot {doing}: {exc}.") from exc
        except (sqlite3.Error, OSError) as exc:
            raise _log_error(exc, self.path, doing) from exc

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._conn().execute(sql, args).fetchall()
        except (sqlite3.Error, OSError) as exc:
            raise _log_error(exc, self.path, "reading it") from exc

    def close(self) -> None:
        """Close every connection this object opened (from any thread)."""
        self._closed = True
        _LIVE_OWNERS.discard(self.owner)
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

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
    ) -> None:
        """Record a new task; raises ValueError if ``task_id`` is already logged."""
        _check_status(status)
        clean = _scrub(params)
        submitted = _to_us(submitted_at)
        row: dict[str, Any] = {
            "task_id": task_id,
            "provider": provider,
            "action": action,
            "parent_id": parent_id,
            "sweep_id": sweep_id,
            "prompt": prompt,
            "text": text,
            **_param_columns(clean),
            "params_json": _dumps(clean),
            "axes_json": None if axes is None else _dumps(_scrub(axes)),
            "status": status,
            "progress": 0,
            "submitted_at": submitted,
            "updated_at": _now_us(),
            "base_url": _scrub_url(base_url),
            "owner": self.owner,
        }
        if status == "running":
            row["started_at"] = submitted
        elif status in _TERMINAL:
            row["finished_at"] = submitted
        names = ", ".join(row)
        marks = ", ".join("?" * len(row))

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(f"INSERT INTO tasks ({names}) VALUES ({marks})", list(row.values()))
            conn.execute(
                "INSERT INTO task_events (task_id, at, status, progress) VALUES (?, ?, ?, 0)",
                (task_id, submitted, status),
            )

        self._write(f"add task {task_id}", work)

    def update_task(self, task_id: str, *, at: datetime | None = None, **fields: Any) -> None:
        """Change some of a task's fields; a status change is also recorded as an event.

        ``fields`` may be: status, progress, error, remote_id, remote_state (a JSON-able
        dict), started_at, finished_at, image_url, image_path, preview_url, base_url.
        Becoming ``running`` sets ``started_at``, and a final status sets
        ``finished_at``, to ``at`` (default now) unless they are given or already set.
        """
        unknown = sorted(set(fields) - _UPDATABLE)
        if unknown:
            secret = [name for name in unknown if _SENSITIVE_KEY.search(name)]
            if secret:
                raise ValueError(
                    f"The task log never stores credentials; refusing {', '.join(secret)}."
                )
            raise TypeError(
                f"update_task() got unknown field(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(_UPDATABLE))}."
            )
        when = _now_us() if at is None else _to_us(at)
        values: dict[str, Any] = {}
        for name, value in fields.items():
            if name == "status":
                values[name] = _check_status(value)
            elif name == "progress":
                values[name] = _progress(value)
            elif name in _TIME_FIELDS:
                values[name] = None if value is None else _to_us(value)
            elif name in _URL_FIELDS:
                values[name] = _scrub_url(value)
            elif name == "remote_state":
                values["remote_state_json"] = None if value is None else _dumps(_scrub(value))
            elif name == "error":
                values[name] = _scrub_text(None if value is None else str(value))
            elif name == "image_path":
                values[name] = None if value is None else os.fspath(value)
            else:
                values[name] = value
        status = values.get("status")
        assignments = [f"{name} = ?" for name in values]
        args: list[Any] = list(values.values())
        if status == "running" and "started_at" not in values:
            assignments.append("started_at = coalesce(started_at, ?)")
            args.append(when)
        if status in _TERMINAL:
            if "started_at" not in values:
                assignments.append("started_at = coalesce(started_at, ?)")
                args.append(when)
            if "finished_at" not in values:
                assignments.append("finished_at = coalesce(finished_at, ?)")
                args.append(when)
        assignments.append("updated_at = ?")
        args.append(_now_us())
        sql = f"UPDATE tasks SET {', '.join(assignments)} WHERE task_id = ?"
        args.append(task_id)

        def work(conn: sqlite3.Connection) -> None:
            old = conn.execute(
                "SELECT status, progress FROM tasks WHERE task_id = ?", (task_id,)
            ).fetchone()
            if old is None:
                raise ValueError(f"There is no task {task_id!r} in the task log at {self.path}.")
            conn.execute(sql, args)
            if status is not None and status != old[0]:
                conn.execute(
                    "INSERT INTO task_events (task_id, at, status, progress) VALUES (?, ?, ?, ?)",
                    (task_id, when, status, values.get("progress", old[1])),
                )

        self._write(f"updating task {task_id}", work)

    def add_sweep(
        self,
        sweep_id: str,
        *,
        prompt: str,
        axes: Mapping[str, list[Any]],
        created_at: datetime,
        provider: str,
    ) -> None:
        """Record a sweep: its base prompt and its axes (name -> list of values)."""
        axes_json = _dumps({str(k): list(v) for k, v in _scrub(axes).items()})
        created = _to_us(created_at)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO sweeps (sweep_id, prompt, axes_json, provider, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (sweep_id, prompt, axes_json, provider, created),
            )

        self._write(f"adding sweep {sweep_id}", work)

    def unfinished_sweeps(self, provider: str, *, older_than: timedelta) -> list[str]:
        """Ids of ``provider``'s sweeps with fewer task rows than planned cells.

        Only sweeps created more than ``older_than`` ago: a live kernel may still be
        submitting a newer one. Answered in SQL, without pandas.
        """
        cutoff = _now_us() - older_than // _US
        rows = self._read(
            "SELECT s.sweep_id FROM sweeps s WHERE s.provider = ? AND s.created_at < ?"
            " AND json_array_length(s.axes_json, '$._cells') >"
            " (SELECT COUNT(DISTINCT t.axes_json) FROM tasks t WHERE t.sweep_id = s.sweep_id)"
            " ORDER BY s.created_at",
            (provider, cutoff),
        )
        return [row[0] for row in rows]

    def claim(self, task_id: str) -> bool:
        """Take over an orphaned task for this log's engine; False if someone has it.

        A task is orphaned when the process that added (or last claimed) it is gone.
        Atomic across processes: of two engines claiming one orphan, one wins.
        """
        won: list[bool] = []

        def work(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT owner, updated_at FROM tasks WHERE task_id = ?", (task_id,)
            ).fetchone()
            if row is None:
                raise ValueError(f"There is no task {task_id!r} in the task log at {self.path}.")
            if row[0] == self.owner:
                won.append(True)
            elif _owner_alive(row[0], row[1]):
                won.append(False)
            else:
                conn.execute(
                    "UPDATE tasks SET owner = ?, updated_at = ? WHERE task_id = ?",
                    (self.owner, _now_us(), task_id),
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
            "SELECT * FROM tasks WHERE status IN ('queued', 'running') ORDER BY submitted_at, rowid"
        )
        for row in rows:
            row["owner_alive"] = _owner_alive(row["owner"], row["updated_at"])
        return rows

    def events(self, task_id: str) -> list[tuple[datetime, str, int]]:
        """The status history of one task: ``(at, status, progress)``, oldest first."""
        rows = self._read(
            "SELECT at, status, progress FROM task_events WHERE task_id = ? ORDER BY event_id",
            (task_id,),
        )
        return [(_EPOCH + at * _US, status, progress or 0) for at, status, progress in rows]

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            cursor = self._conn().execute(sql, args)
            names = [d[0] for d in cursor.description]
            raw = cursor.fetchall()
        except (sqlite3.Error, OSError) as exc:
            raise _log_error(exc, self.path, "reading it") from exc
        return [_decode_row(dict(zip(names, values, strict=True))) for values in raw]

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
        import pandas as pd

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
                _check_status(name)
            where.append(f"status IN ({', '.join('?' * len(wanted))})")
            args.extend(wanted)
        if since is not None:
            if isinstance(since, timedelta):
                since = datetime.now(timezone.utc) - since
            where.append("submitted_at >= ?")
            args.append(_to_us(since))
        inner = "SELECT rowid, * FROM tasks"
        if where:
            inner += " WHERE " + " AND ".join(where)
        if limit is not None:
            inner += f" ORDER BY submitted_at DESC, rowid DESC LIMIT {int(limit)}"
        return self._frame_query(pd, inner, args)

    def _frame_query(self, pd: Any, inner: str, args: Sequence[Any]) -> pandas.DataFrame:
        """Read the frame columns of the rows ``inner`` selects, in one snapshot.

        First count which nullable columns hold anything (most parameters are never
        used), then read the rest as one row of JSON arrays, one per column: SQLite's C
        code encodes them and json's decodes them, with no Python object per row and
        column in between. This is what keeps 100,000 rows under a second. Without a
        limit ``inner`` has no ORDER BY (a plain scan is faster); :func:`_frame` sorts.
        """
        gc_was_enabled = gc.isenabled()
        gc.disable()  # millions of short-lived objects would trigger needless passes
        try:
            conn = self._conn()
            conn.execute("BEGIN")
            try:
                (counts,) = conn.execute(f"SELECT {_COUNT_SQL} FROM ({inner})", args).fetchall()
                present = [c for c in FRAME_COLUMNS if c in _NEVER_NULL]
                present += [c for c, n in zip(_NULLABLE, counts[1:], strict=True) if n]
                arrays = ", ".join(
                    f"json_group_array({_column_json(c)})" for c in (*present, "rowid")
                )
                (row,) = conn.execute(f"SELECT {arrays} FROM ({inner})", args).fetchall()
            finally:
                conn.execute("COMMIT")
            *values, rowids = (json.loads(text) for text in row)
            return _frame(pd, dict(zip(present, values, strict=True)), rowids)
        except (sqlite3.Error, OSError) as exc:
            raise _log_error(exc, self.path, "reading it") from exc
        finally:
            if gc_was_enabled:
                gc.enable()

    def sweeps(self) -> pandas.DataFrame:
        """One row per sweep, oldest first, with counts of its tasks by outcome."""
        import pandas as pd

        rows = self._read(
            """
            SELECT s.sweep_id, s.provider, s.prompt, s.axes_json, s.created_at,
                   count(t.task_id),
                   coalesce(sum(t.status = 'succeeded'), 0),
                   coalesce(sum(t.status IN ('failed', 'cancelled')), 0),
                   coalesce(sum(t.status IN ('queued', 'running')), 0)
            FROM sweeps AS s LEFT JOIN tasks AS t ON t.sweep_id = s.sweep_id
            GROUP BY s.sweep_id
            ORDER BY s.created_at, s.rowid
            """
        )
        columns = list(zip(*rows, strict=True)) if rows else [()] * 9
        return pd.DataFrame(
            {
                "sweep_id": pd.array(list(columns[0]), dtype="string"),
                "provider": pd.array(list(columns[1]), dtype="string"),
                "prompt": pd.array(list(columns[2]), dtype="string"),
                "axis_values": pd.Series([json.loads(a) for a in columns[3]], dtype=object),
                "created_at": _times(pd, columns[4]),
                "tasks": pd.array(list(columns[5]), dtype="Int64"),
                "succeeded": pd.array(list(columns[6]), dtype="Int64"),
                "failed": pd.array(list(columns[7]), dtype="Int64"),
                "pending": pd.array(list(columns[8]), dtype="Int64"),
            }
        )


# ------------------------------------------------------------------ decoding


def _decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """A ``SELECT *`` row of ``tasks`` as plain Python values."""
    out = dict(row)
    out["params"] = json.loads(out.pop("params_json"))
    axes = out.pop("axes_json")
    out["axes"] = None if axes is None else json.loads(axes)
    state = out.pop("remote_state_json")
    out["remote_state"] = None if state is None else json.loads(state)
    for name in _LIST_PARAMS:
        if out[name] is not None:
            out[name] = json.loads(out[name])
    for name in _BOOL_PARAMS:
        if out[name] is not None:
            out[name] = bool(out[name])
    for name in (*_FRAME_TIMES, "updated_at"):
        out[name] = _from_us(out[name])
    started, submitted, finished = out["started_at"], out["submitted_at"], out["finished_at"]
    out["queue_s"] = None if started is None else (started - submitted).total_seconds()
    out["run_s"] = (
        None if started is None or finished is None else (finished - started).total_seconds()
    )
    return out


def _times(pd: Any, values: Sequence[int]) -> Any:
    """Microsecond integers (``_NULL_INT`` for missing) to ``datetime64[ns, UTC]``."""
    import numpy as np

    us = np.array(values, dtype=np.int64)
    missing = us == _NULL_INT
    ns = us * 1000
    ns[missing] = np.iinfo(np.int64).min  # NaT
    return pd.Series(ns.view("M8[ns]")).dt.tz_localize("UTC").array


def _ints(pd: Any, values: Sequence[int]) -> Any:
    import numpy as np

    data = np.array(values, dtype=np.int64)
    mask = data == _NULL_INT
    data[mask] = 0
    return pd.arrays.IntegerArray(data, mask)


def _bools(pd: Any, values: Sequence[int]) -> Any:
    import numpy as np

    data = np.array(values, dtype=np.int64)
    return pd.arrays.BooleanArray(data == 1, data == _NULL_INT)


def _floats(pd: Any, values: Sequence[float | None]) -> Any:
    import numpy as np

    data = np.array(values, dtype=np.float64)  # None -> NaN
    return pd.arrays.FloatingArray(data, np.isnan(data))


def _frame(pd: Any, columns: Mapping[str, list[Any]], rowids: list[int]) -> pandas.DataFrame:
    """The log's DataFrame from one list per column; absent columns are all missing."""
    import numpy as np

    n = len(rowids)
    data: dict[str, Any] = {}
    for name in FRAME_COLUMNS:
        column = columns.get(name)
        if name in _FRAME_TIMES:
            data[name] = _times(pd, [_NULL_INT] * n if column is None else column)
        elif name in _INT_NULLABLE:
            data[name] = _ints(pd, [_NULL_INT] * n if column is None else column)
        elif name in _BOOL_PARAMS:
            data[name] = _bools(pd, [_NULL_INT] * n if column is None else column)
        elif name in _FLOAT_PARAMS or name in ("queue_s", "run_s"):
            data[name] = _floats(pd, [None] * n if column is None else column)
        elif name in _LIST_PARAMS or name == "sweep_axes":
            data[name] = pd.Series([None] * n if column is None else column, dtype=object)
        else:
            data[name] = pd.array([None] * n if column is None else column, dtype="string")
    frame = pd.DataFrame(data)
    order = np.lexsort((np.array(rowids, dtype=np.int64), frame["submitted_at"].to_numpy()))
    if np.any(order[1:] < order[:-1]):
        frame = frame.take(order).reset_index(drop=True)
    return frame
