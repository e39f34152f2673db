"""The engine abstraction under :class:`~mjnb.log.TaskLog`: one interface, two backends.

:class:`Database` is what the log's code talks to: ``write(doing, work)`` runs
``work(tx)`` in one transaction committed before it returns, ``read(sql, args)`` and
``rows(sql, args)`` read, ``snapshot(work)`` runs several reads on one consistent view.
``tx.execute(sql, args)`` answers an object with ``fetchone()``, ``fetchall()`` and
``rowcount``; ``tx.executemany(sql, rows)`` inserts many rows.

SQL is written once, in the subset SQLite and PostgreSQL share, with ``?`` placeholders,
double-quoted names (``"user"`` is a keyword in PostgreSQL) and the few fragments that
differ taken from :attr:`Database.dialect` (``greatest``, ``same``, ``for_update``,
``json``, ``agg``, ``star``).

- :class:`SQLiteDatabase` (here) keeps the standard library's ``sqlite3``: no extra
  dependency, the release-1/2 files as they are (WAL, ``application_id``, the
  ``user_version`` migrations, the damaged / read-only / full-disk errors) and the
  fastest path for ``log()``.
- :class:`~mjnb.log.postgres.PostgresDatabase` uses SQLAlchemy Core 2 with psycopg 3
  (the ``postgres`` extra): connection pool, URL handling, DDL from the table
  definitions in :mod:`mjnb.log.tables`, errors mapped to LogError. SQLAlchemy is
  imported only when a PostgreSQL URL is opened, so ``import mjnb`` stays cheap.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from mjnb.errors import InvalidArgument, LogError

from .schema import BUSY_TIMEOUT_S, damaged_error, log_error, migrate
from .url import LogURL

__all__ = [
    "POSTGRES",
    "SQLITE",
    "Database",
    "Dialect",
    "LogUnreachable",
    "Result",
    "SQLiteDatabase",
    "Tx",
    "open_database",
]

T = TypeVar("T")
_SQLITE_HEADER = b"SQLite format 3\x00"


class LogUnreachable(LogError):
    """The log's database server cannot be reached (down, network gone, restarted).

    Raised by the PostgreSQL backend; the log keeps updates of tasks already sent in a
    local journal meanwhile (see :mod:`mjnb.log.journal`), and refuses new tasks.
    """


class Result(Protocol):
    """What ``tx.execute`` answers (a DB-API cursor, or SQLAlchemy's CursorResult)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> Sequence[Any]: ...


class Tx(Protocol):
    """One transaction: ``execute`` / ``executemany`` with ``?`` placeholders."""

    def execute(self, sql: str, args: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any: ...


@dataclass(frozen=True)
class Dialect:
    """The SQL fragments that differ between the two backends."""

    name: str
    #: ``IS`` (SQLite) / ``IS NOT DISTINCT FROM``: equality where NULL equals NULL
    same: str
    #: appended to a SELECT that a write then depends on (row lock on PostgreSQL)
    for_update: str
    #: the aggregate that makes one JSON array of a column
    agg: str
    #: the select list of a tasks scan with its row order key ``rowid``
    star: str
    #: scalar max of two values
    greatest_fn: str
    json_fn: str

    def greatest(self, a: str, b: str) -> str:
        return f"{self.greatest_fn}({a}, {b})"

    def json(self, expr: str) -> str:
        """``expr`` (JSON text) embedded as JSON, not as a string."""
        return f"{self.json_fn}({expr})" if self.json_fn else f"CAST({expr} AS json)"


SQLITE = Dialect("sqlite", "IS", "", "json_group_array", "rowid, *", "max", "json")
POSTGRES = Dialect(
    "postgresql", "IS NOT DISTINCT FROM", " FOR UPDATE", "json_agg", "*", "greatest", ""
)


class Database:
    """One backend; see the module docstring. ``where`` names it safely in messages."""

    dialect: Dialect
    where: str
    url: LogURL

    @property
    def kind(self) -> str:
        return self.dialect.name

    def write(self, doing: str, work: Callable[[Tx], None]) -> None:
        raise NotImplementedError

    def read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def rows(self, sql: str, args: Sequence[Any] = ()) -> tuple[list[str], list[Any]]:
        """Column names and rows of ``sql``."""
        raise NotImplementedError

    def snapshot(self, work: Callable[[Tx], T]) -> T:
        """``work(tx)`` on one consistent read-only view (several SELECTs, one state)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def open_database(url: LogURL) -> Database:
    """The backend for ``url``: opened, checked and migrated, or LogError/ConfigError."""
    if url.kind == "sqlite":
        assert url.path is not None
        return SQLiteDatabase(url)
    from .postgres import PostgresDatabase

    return PostgresDatabase(url)


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


class SQLiteDatabase(Database):
    """The SQLite file: one ``sqlite3`` connection per thread (and per process), WAL,
    ``BEGIN IMMEDIATE`` writes serialised across processes by the busy timeout."""

    dialect = SQLITE

    def __init__(self, url: LogURL) -> None:
        assert url.path is not None
        self.url = url
        self.path: Path = url.path
        self.where = str(self.path)
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
            migrate(self._conn(), self.path)
        except LogError:
            self.close()
            raise
        except (sqlite3.Error, OSError) as exc:
            self.close()
            raise log_error(exc, self.path, "opening it") from exc

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
            raise damaged_error(self.path, "it is not an SQLite file")

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise LogError(f"The task log at {self.path} is closed; open a new TaskLog.")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
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

    def write(self, doing: str, work: Callable[[Tx], None]) -> None:
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
            raise InvalidArgument(f"Cannot {doing}: {exc}.") from exc
        except (sqlite3.Error, OSError) as exc:
            raise log_error(exc, self.path, doing) from exc

    def read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._conn().execute(sql, args).fetchall()
        except (sqlite3.Error, OSError) as exc:
            raise log_error(exc, self.path, "reading it") from exc

    def rows(self, sql: str, args: Sequence[Any] = ()) -> tuple[list[str], list[Any]]:
        try:
            cursor = self._conn().execute(sql, args)
            return [d[0] for d in cursor.description], cursor.fetchall()
        except (sqlite3.Error, OSError) as exc:
            raise log_error(exc, self.path, "reading it") from exc

    def snapshot(self, work: Callable[[Tx], T]) -> T:
        try:
            conn = self._conn()
            conn.execute("BEGIN")
            try:
                return work(conn)
            finally:
                conn.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            raise log_error(exc, self.path, "reading it") from exc

    def close(self) -> None:
        self._closed = True
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
