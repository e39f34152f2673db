"""The tables the kernels of one account share, and short transactions on them.

Four tables sit next to the task rows in the log's database (SQLite file or
PostgreSQL): ``account_slots`` (leased concurrency slots, :mod:`mjnb.runtime.slots`),
``budgets`` and ``budget_spend`` (:mod:`mjnb.budget`) and ``thumbnails`` (small JPEGs
for the common gallery, :mod:`mjnb.notebook.gallery`). Their SQL is portable: named
``:parameters`` (sqlite3 and SQLAlchemy's ``text()`` both take them), no SQLite-only
syntax, no reserved words (``user_name``, not ``user``). The one dialect switch is how a
transaction serialises its writers: ``BEGIN IMMEDIATE`` on SQLite (one writer per file,
across processes), an advisory transaction lock keyed by account on PostgreSQL.

:class:`SharedDB` is deliberately separate from ``TaskLog``: these calls are short,
come from worker threads (``asyncio.to_thread``, never blocking the engine loop) and
need their own connection per thread.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from mjnb.errors import LogError

from .schema import BUSY_TIMEOUT_S

__all__ = ["SharedDB", "Tx", "account_key", "shared_ddl"]


def account_key(provider: str, base_url: str | None) -> str:
    """One provider account as kernels see it: provider and base URL, never a token."""
    from .codec import clean_url

    return f"{provider} {clean_url(base_url) or ''}".strip()


def shared_ddl(dialect: str = "sqlite") -> tuple[str, ...]:
    """The shared tables (``IF NOT EXISTS``: running it twice changes nothing)."""
    blob = "BYTEA" if dialect == "postgresql" else "BLOB"
    return (
        """
        CREATE TABLE IF NOT EXISTS account_slots (
            slot_id      TEXT PRIMARY KEY,
            account      TEXT NOT NULL,
            user_name    TEXT NOT NULL,
            owner        TEXT NOT NULL,
            task_id      TEXT,
            size         INTEGER NOT NULL,
            requested_at BIGINT NOT NULL,
            granted_at   BIGINT,
            released_at  BIGINT,
            lease_until  BIGINT NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS account_slots_account"
        " ON account_slots (account, released_at, requested_at)",
        """
        CREATE TABLE IF NOT EXISTS budgets (
            account TEXT NOT NULL,
            scope   TEXT NOT NULL,
            cap     INTEGER NOT NULL,
            set_by  TEXT,
            set_at  BIGINT NOT NULL,
            PRIMARY KEY (account, scope)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS budget_spend (
            account   TEXT NOT NULL,
            user_name TEXT NOT NULL,
            day       TEXT NOT NULL,
            jobs      INTEGER NOT NULL,
            PRIMARY KEY (account, user_name, day)
        )
        """,
        f"""
        CREATE TABLE IF NOT EXISTS thumbnails (
            task_id    TEXT PRIMARY KEY,
            user_name  TEXT,
            jpeg       {blob} NOT NULL,
            width      INTEGER NOT NULL,
            height     INTEGER NOT NULL,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS thumbnails_created ON thumbnails (created_at)",
    )


class Tx:
    """One open transaction: ``execute`` returns the rows (``[]`` for writes)."""

    def __init__(self, run: Any) -> None:
        self._run = run

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return list(self._run(sql, dict(params or {})))

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        rows = self.execute(sql, params)
        return rows[0][0] if rows else None


class SharedDB:
    """Short transactions on the log database at ``url`` (``sqlite:///path``, a plain
    path, or ``postgresql://...``). Safe from any thread; one connection per thread."""

    def __init__(self, url: str | os.PathLike[str]) -> None:
        text = os.fspath(url)
        self.url = text
        if text.startswith(("postgresql:", "postgresql+", "postgres:")):
            self.dialect = "postgresql"
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            driver = text.split(":", 1)[1]
            # no pool: nothing stays connected when a client goes (its polls are short)
            self._engine = create_engine(
                "postgresql+psycopg:" + driver if "+" not in text.split(":", 1)[0] else text,
                poolclass=NullPool,
                hide_parameters=True,
                connect_args={"connect_timeout": 5},
            )
            with self.transaction(lock="mjnb shared tables") as tx:  # one creator at once
                for statement in shared_ddl(self.dialect):
                    tx.execute(statement)
        else:
            self.dialect = "sqlite"
            self.path = Path(text.removeprefix("sqlite:///")).expanduser().absolute()
            self._local = threading.local()

    @classmethod
    def for_log(cls, log: Any) -> SharedDB:
        """The database a TaskLog writes to: its SQLite file, else its log URL."""
        path = getattr(log, "path", None)
        if path is not None:
            return cls(path)
        url = getattr(log, "url", None)
        raw = getattr(url, "url", url)
        if not isinstance(raw, str):
            raise LogError(f"{log!r} names no database the shared tables can use.")
        return cls(raw)

    def __repr__(self) -> str:
        from mjnb.secrets import redact_url

        return f"SharedDB({redact_url(self.url)!r})"

    def _sqlite(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextlib.contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[Tx]:
        """One transaction, committed on leaving. ``lock`` (e.g. an account) serialises
        every writer that names it: two kernels never interleave their check-and-set."""
        try:
            if self.dialect == "sqlite":
                conn = self._sqlite()
                conn.execute("BEGIN IMMEDIATE" if lock is not None else "BEGIN")
                try:
                    yield Tx(lambda sql, params: conn.execute(sql, params).fetchall())
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return
            from sqlalchemy import text

            with self._engine.begin() as connection:
                if lock is not None:
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": lock}
                    )

                def run(sql: str, params: dict[str, Any]) -> Sequence[Any]:
                    result = connection.execute(text(sql), params)
                    return [tuple(r) for r in result.fetchall()] if result.returns_rows else []

                yield Tx(run)
        except sqlite3.Error as exc:
            raise LogError(f"The shared tables of {self!r} failed: {exc}.") from exc
        except Exception as exc:
            if type(exc).__module__.startswith(("sqlalchemy", "psycopg")):
                if "OperationalError" in type(exc).__name__:  # connection refused, lost
                    raise LogError(
                        f"The shared log at {self!r} cannot be reached ({self._clean(exc)})."
                    ) from exc
                raise LogError(
                    f"The shared tables of {self!r} failed: {self._clean(exc)}."
                ) from exc
            raise

    def _clean(self, exc: BaseException) -> str:
        """An error's first line without the URL's password (mjnb.secrets decides)."""
        from urllib.parse import urlsplit

        from mjnb.secrets import scrub

        password = urlsplit(self.url).password
        return scrub(
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            [password] if password else [],
        )

    def close(self) -> None:
        """Close this thread's SQLite connection, or every pooled PostgreSQL one."""
        if self.dialect == "postgresql":
            self._engine.dispose()
            return
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """A read in its own short transaction."""
        with self.transaction() as tx:
            return tx.execute(sql, params)


# -- gallery thumbnails ------------------------------------------------------------------
def put_thumbnail(
    db: SharedDB, task_id: str, user: str | None, jpeg: bytes, size: tuple[int, int]
) -> None:
    """Store (or replace) one task's thumbnail in the shared log."""
    from .codec import now_us

    with db.transaction(lock=f"thumb {task_id}") as tx:
        tx.execute("DELETE FROM thumbnails WHERE task_id = :t", {"t": task_id})
        tx.execute(
            "INSERT INTO thumbnails (task_id, user_name, jpeg, width, height, created_at)"
            " VALUES (:t, :u, :j, :w, :h, :c)",
            {"t": task_id, "u": user, "j": jpeg, "w": size[0], "h": size[1], "c": now_us()},
        )


def get_thumbnails(db: SharedDB, task_ids: Sequence[str]) -> dict[str, bytes]:
    """The thumbnails of ``task_ids`` that exist (JPEG bytes by task id)."""
    found: dict[str, bytes] = {}
    ids = list(dict.fromkeys(task_ids))
    for start in range(0, len(ids), 200):  # portable: named placeholders, no arrays
        chunk = ids[start : start + 200]
        names = {f"t{i}": task_id for i, task_id in enumerate(chunk)}
        marks = ", ".join(f":{name}" for name in names)
        for task_id, jpeg in db.query(
            f"SELECT task_id, jpeg FROM thumbnails WHERE task_id IN ({marks})", names
        ):
            found[task_id] = bytes(jpeg)
    return found
