"""The PostgreSQL backend: SQLAlchemy Core 2 with psycopg 3 (the ``postgres`` extra).

Why SQLAlchemy: it is the well-kept standard for databases in Python; it gives the
connection pool (thread-safe, pre-ping after a server restart), URL handling that can
hide the password, dialect-aware DDL from :mod:`mjnb.log.tables`, and one family of
exceptions over the driver. The statements themselves are the portable SQL of
:mod:`mjnb.log.db`, run as driver SQL (``?`` becomes psycopg's ``%s``).

Atomicity matches SQLite's ``BEGIN IMMEDIATE``: a sweep cell is claimed by a
compare-and-set ``UPDATE`` (under READ COMMITTED, the second of two racing updates
waits for the first and then finds the cell taken), an orphan is claimed after
``SELECT ... FOR UPDATE``, and the schema is created once under an advisory lock.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from mjnb.errors import InvalidArgument, LogError
from mjnb.secrets import scrub

from .db import POSTGRES, Database, LogUnreachable, Tx
from .schema import APPLICATION_ID, SCHEMA_VERSION, V5_TASK_COLUMNS
from .url import LogURL

__all__ = ["CONNECT_TIMEOUT_S", "PG_STEPS", "PostgresDatabase"]

T = TypeVar("T")
CONNECT_TIMEOUT_S = 5


#: ``PG_STEPS[n]`` takes a PostgreSQL log from version ``n`` to ``n + 1`` where creating
#: the tables that are missing (from :mod:`mjnb.log.tables`) is not enough: a column
#: added to an existing table, data to move. A PostgreSQL log is created directly at
#: the current version, so there is no step before 3.
PG_STEPS: dict[int, Callable[[Tx], None]] = {}


def _inputs_column(tx: Tx) -> None:
    """Version 4 to 5: ``tasks.inputs_json`` (see :data:`mjnb.log.schema.V5_TASK_COLUMNS`)."""
    for name, kind in V5_TASK_COLUMNS:
        tx.execute(f'ALTER TABLE tasks ADD COLUMN IF NOT EXISTS "{name}" {kind}')


PG_STEPS[4] = _inputs_column


def _driver_sql(sql: str, has_args: bool) -> str:
    return sql.replace("%", "%%").replace("?", "%s") if has_args else sql


class _Tx:
    """A :class:`~mjnb.log.db.Tx` over one SQLAlchemy connection in a transaction."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, args: Sequence[Any] = (), /) -> Any:
        if args:
            return self._conn.exec_driver_sql(_driver_sql(sql, True), tuple(args))
        return self._conn.exec_driver_sql(sql)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any:
        batch = [tuple(row) for row in rows]
        if batch:
            return self._conn.exec_driver_sql(_driver_sql(sql, True), batch)
        return None


class PostgresDatabase(Database):
    """A PostgreSQL log; opening it connects, checks and migrates (one clear error)."""

    dialect = POSTGRES

    def __init__(self, url: LogURL) -> None:
        self.url = url
        self.where = url.safe
        try:
            import sqlalchemy
            from sqlalchemy import exc as sa_exc
        except ImportError as exc:
            raise LogError(
                f"A PostgreSQL task log ({self.where}) needs SQLAlchemy and psycopg: "
                "pip install 'mjnb[postgres]'."
            ) from exc
        self._sa = sqlalchemy
        self._exc = sa_exc
        try:
            self._engine = sqlalchemy.create_engine(
                url.url,
                pool_pre_ping=True,
                pool_size=5,
                max_overflow=10,
                hide_parameters=True,
                connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
            )
        except ImportError as exc:
            raise LogError(
                f"A PostgreSQL task log ({self.where}) needs psycopg 3: "
                "pip install 'mjnb[postgres]'."
            ) from exc
        except (sa_exc.ArgumentError, ValueError) as exc:
            raise LogError(f"The log URL {self.where} is not valid: {self._clean(exc)}.") from exc
        self._pid = os.getpid()
        # a log dropped without close() still closes its connections (no ResourceWarning)
        self._finalizer = weakref.finalize(self, self._engine.dispose)
        try:
            with self._engine.begin() as conn:
                self._migrate(conn)
        except LogError:
            self._finalizer()
            raise
        except sa_exc.SQLAlchemyError as exc:
            self._finalizer()
            raise self._error(exc, "opening it") from exc

    # ---------------------------------------------------------------- schema

    def _migrate(self, conn: Any) -> None:
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({APPLICATION_ID})")
        meta, tasks = conn.exec_driver_sql(
            "SELECT to_regclass('mjnb_meta') IS NOT NULL, to_regclass('tasks') IS NOT NULL"
        ).one()
        if not meta:
            if tasks:
                raise LogError(
                    f"The database at {self.where} has a 'tasks' table but is not an mjnb "
                    "task log; use another database (or schema) for mjnb."
                )
            from .tables import metadata

            metadata.create_all(conn)
            conn.exec_driver_sql(
                "INSERT INTO mjnb_meta (key, value) VALUES ('application_id', %s),"
                " ('schema_version', %s)",
                (str(APPLICATION_ID), str(SCHEMA_VERSION)),
            )
            return
        found = dict(conn.exec_driver_sql("SELECT key, value FROM mjnb_meta").all())
        if found.get("application_id") != str(APPLICATION_ID):
            raise LogError(
                f"The database at {self.where} is not an mjnb task log (application id "
                f"{found.get('application_id')}); use another database for mjnb."
            )
        version = int(found.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            raise LogError(
                f"The task log at {self.where} was written by a newer mjnb (schema "
                f"{version} > {SCHEMA_VERSION}); upgrade mjnb."
            )
        if version < SCHEMA_VERSION:
            from .tables import metadata

            metadata.create_all(conn)  # new tables (only those missing)
            for step in range(version, SCHEMA_VERSION):
                if step in PG_STEPS:
                    PG_STEPS[step](_Tx(conn))  # new columns, data moves
            conn.exec_driver_sql(
                "UPDATE mjnb_meta SET value = %s WHERE key = 'schema_version'",
                (str(SCHEMA_VERSION),),
            )

    # ---------------------------------------------------------------- errors

    def _clean(self, exc: BaseException) -> str:
        orig = getattr(exc, "orig", None) or exc
        text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        return scrub(text, [self.url.password])

    def _error(self, exc: BaseException, doing: str) -> LogError:
        """An SQLAlchemy/psycopg error as one LogError naming the URL without password."""
        reason = self._clean(exc)
        lowered = reason.lower()
        if "password authentication failed" in lowered or "authentication" in lowered:
            return LogError(
                f"The PostgreSQL server at {self.where} refused the credentials "
                f"({reason}) while {doing}. Check the user and password in the log URL."
            )
        if "does not exist" in lowered and "database" in lowered:
            return LogError(
                f"The database in {self.where} does not exist ({reason}). Create it, or "
                "fix the log URL."
            )
        if isinstance(exc, self._exc.DBAPIError) and exc.connection_invalidated:
            return LogUnreachable(
                f"The task log at {self.where} went away ({reason}) while {doing}."
            )
        if isinstance(exc, (self._exc.OperationalError, self._exc.InterfaceError)):
            return LogUnreachable(
                f"The task log at {self.where} cannot be reached ({reason}) while {doing}. "
                "Check that the server is running and the log URL is right."
            )
        return LogError(f"The task log at {self.where} failed while {doing}: {reason}.")

    # ---------------------------------------------------------------- access

    def _engine_here(self) -> Any:
        if os.getpid() != self._pid:  # a forked child must not share the parent's sockets
            self._engine.dispose(close=False)
            self._pid = os.getpid()
        return self._engine

    def write(self, doing: str, work: Callable[[Tx], None]) -> None:
        try:
            with self._engine_here().begin() as conn:
                work(_Tx(conn))
        except self._exc.IntegrityError as exc:
            raise InvalidArgument(f"Cannot {doing}: {self._clean(exc)}.") from exc
        except self._exc.SQLAlchemyError as exc:
            raise self._error(exc, doing) from exc

    def read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        return self.rows(sql, args)[1]

    def rows(self, sql: str, args: Sequence[Any] = ()) -> tuple[list[str], list[Any]]:
        try:
            with self._engine_here().connect() as conn:
                result = _Tx(conn).execute(sql, args)
                return list(result.keys()), [tuple(row) for row in result.fetchall()]
        except self._exc.SQLAlchemyError as exc:
            raise self._error(exc, "reading it") from exc

    def snapshot(self, work: Callable[[Tx], T]) -> T:
        try:
            engine = self._engine_here()
            options = {"isolation_level": "REPEATABLE READ"}
            with engine.connect().execution_options(**options) as conn, conn.begin():
                return work(_Tx(conn))
        except self._exc.SQLAlchemyError as exc:
            raise self._error(exc, "reading it") from exc

    def close(self) -> None:
        self._finalizer()
