"""The task log's file format: tables, migrations, and what can be wrong with a file.

One SQLite file (WAL mode, ``PRAGMA application_id`` "mjnb") holds five tables (a
PostgreSQL log holds the same, defined in :mod:`mjnb.log.tables`):

``tasks``
    one row per task: the prompt as sent, its text and parameters (one real column per
    Midjourney parameter, plus ``params_json`` with everything), provider, action, kind,
    parent, sweep and cell, status, progress, error, timestamps, remote ids, the state
    the engine needs to resume polling, the inputs it needs to be sent after a restart,
    result URLs and cached paths, who ran it where.
``task_events``
    the status history: ``(task_id, at, status, progress)``, one row per change.
``sweeps``
    one row per parameter sweep: id, base prompt, axes, speed mode, provider, owner.
``sweep_cells``
    one row per planned cell of a sweep, ``UNIQUE (sweep_id, cell)``: its coordinates,
    the exact prompt, the task that holds it (NULL: never sent) and when it was
    cancelled. Setting ``task_id`` is the claim that makes a cell run once, whatever
    the number of kernels.
``owners``
    one row per open log (kernel): who, where, and a heartbeat (``seen_at``).

The schema carries a version (``PRAGMA user_version``). :data:`MIGRATIONS` lists one
function per version, from an empty file on; adding a version is appending one
function. A file from a newer mjnb, a damaged file or a folder that cannot be written
raises :class:`~mjnb.errors.LogError` naming the path and what to do; the log is never
silently replaced.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mjnb.errors import LogError

from .codec import dumps

__all__ = [
    "APPLICATION_ID",
    "BUSY_TIMEOUT_S",
    "MIGRATIONS",
    "OWNER_COLUMNS",
    "SCHEMA_VERSION",
    "V2_TASK_COLUMNS",
    "V3_TASK_COLUMNS",
    "V5_TASK_COLUMNS",
    "Migration",
    "damaged_error",
    "log_error",
    "migrate",
]

#: ``PRAGMA application_id`` of an mjnb log ("mjnb" in ASCII).
APPLICATION_ID = 0x6D6A6E62
BUSY_TIMEOUT_S = 10.0

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

#: the columns release 2 adds to ``tasks`` (SPEC section 8, and the sweep cell)
V2_TASK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("kind", "TEXT"),  # image | video | describe
    ("video_paths", "TEXT"),  # JSON list of local .mp4 paths
    ("motion", "TEXT"),
    ("loop", "INTEGER"),
    ("batch", "INTEGER"),
    ("job_seed", "INTEGER"),  # the seed the job used, as the provider tells it
    ("cost", "REAL"),  # what the provider charged, in its own unit
    ("mask_path", "TEXT"),
    ("user", "TEXT"),  # MJNB_USER, else the OS user
    ("host", "TEXT"),
    ("cell", "INTEGER"),  # the sweep cell this task ran (with sweep_id)
)

_V2_DDL = (
    "ALTER TABLE sweeps ADD COLUMN mode TEXT",
    "ALTER TABLE sweeps ADD COLUMN owner TEXT",
    "ALTER TABLE sweeps ADD COLUMN base_url TEXT",
    """
    CREATE TABLE sweep_cells (
        sweep_id     TEXT NOT NULL,
        cell         INTEGER NOT NULL,
        coords_json  TEXT NOT NULL,
        prompt       TEXT NOT NULL,
        task_id      TEXT,
        claimed_by   TEXT,
        claimed_at   INTEGER,
        cancelled_at INTEGER,
        UNIQUE (sweep_id, cell)
    )
    """,
    "CREATE INDEX sweep_cells_task ON sweep_cells (task_id)",
)

#: the columns version 3 adds to ``tasks``: which kernel (Jupyter kernel id, else
#: ``python:<pid>``) ran the task, next to ``user`` and ``host``
V3_TASK_COLUMNS: tuple[tuple[str, str], ...] = (("kernel", "TEXT"),)

#: the columns version 5 adds to ``tasks``: the job's own inputs, kept for a resend
#: (JSON: each image as its URL or ``sha256:<hex>``, the cache file of each hash, the
#: job options no other column holds; see :mod:`mjnb.runtime.kept`)
V5_TASK_COLUMNS: tuple[tuple[str, str], ...] = (("inputs_json", "TEXT"),)

#: ``owners``: one row per open TaskLog (``owner`` is ``host:pid:token``) with a
#: heartbeat, so kernels on other machines can tell a live owner from a dead one
OWNER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("owner", "TEXT"),
    ("user", "TEXT"),
    ("host", "TEXT"),
    ("pid", "INTEGER"),
    ("kernel", "TEXT"),
    ("started_at", "INTEGER"),
    ("seen_at", "INTEGER"),
)

#: the keys under which release 1 hid a sweep's cells and mode in ``sweeps.axes_json``
_OLD_CELLS_KEY, _OLD_MODE_KEY = "_cells", "_mode"


def _create_v1(conn: sqlite3.Connection) -> None:
    """Version 0 (an empty file) to 1: the first release's tables."""
    for statement in _V1_DDL:
        conn.execute(statement)


def _cells_table(conn: sqlite3.Connection) -> None:
    """Version 1 to 2: SPEC 8's new columns, and sweep cells in their own table.

    Release 1 kept a sweep's planned cells under ``_cells`` (and its mode under
    ``_mode``) inside ``sweeps.axes_json``; they become ``sweep_cells`` rows, each
    claimed by the latest task logged with its coordinates, and leave ``axes_json``.
    """
    for name, kind in V2_TASK_COLUMNS:
        conn.execute(f'ALTER TABLE tasks ADD COLUMN "{name}" {kind}')
    conn.execute(
        "UPDATE tasks SET kind = CASE WHEN action = 'describe' THEN 'describe' ELSE 'image' END"
    )
    for statement in _V2_DDL:
        conn.execute(statement)
    sweeps = conn.execute("SELECT sweep_id, axes_json FROM sweeps").fetchall()
    for sweep_id, axes_json in sweeps:
        axes: dict[str, Any] = json.loads(axes_json)
        if not isinstance(axes, dict) or _OLD_CELLS_KEY not in axes:
            continue
        cells = axes.pop(_OLD_CELLS_KEY) or []
        mode = (axes.pop(_OLD_MODE_KEY, None) or [None])[0]
        conn.execute(
            "UPDATE sweeps SET axes_json = ?, mode = ? WHERE sweep_id = ?",
            (dumps(axes), mode, sweep_id),
        )
        index = {cell_key(c.get("coords") or {}): i for i, c in enumerate(cells)}
        holders: dict[int, tuple[str, str | None]] = {}
        tasks = conn.execute(
            "SELECT task_id, axes_json, owner FROM tasks WHERE sweep_id = ?"
            " ORDER BY submitted_at, rowid",
            (sweep_id,),
        ).fetchall()
        for task_id, task_axes, owner in tasks:
            cell = index.get(cell_key(json.loads(task_axes or "{}")))
            if cell is not None:
                holders[cell] = (task_id, owner)  # later attempts (retries) win
                conn.execute("UPDATE tasks SET cell = ? WHERE task_id = ?", (cell, task_id))
        for i, cell in enumerate(cells):
            task_id, owner = holders.get(i, (None, None))
            conn.execute(
                "INSERT INTO sweep_cells (sweep_id, cell, coords_json, prompt, task_id,"
                " claimed_by) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    sweep_id,
                    i,
                    cell_key(cell.get("coords") or {}),
                    cell.get("prompt") or "",
                    task_id,
                    owner,
                ),
            )


def _owners_table(conn: sqlite3.Connection) -> None:
    """Version 2 to 3: the ``kernel`` column, and the ``owners`` heartbeat table."""
    for name, kind in V3_TASK_COLUMNS:
        conn.execute(f'ALTER TABLE tasks ADD COLUMN "{name}" {kind}')
    columns = ", ".join(
        f'"{name}" {kind}' + (" PRIMARY KEY" if name == "owner" else "")
        for name, kind in OWNER_COLUMNS
    )
    conn.execute(f"CREATE TABLE owners ({columns})")


def cell_key(coords: Any) -> str:
    """A stable text key for a cell's coordinates (JSON round trips keep it)."""
    return json.dumps({str(k): v for k, v in dict(coords).items()}, sort_keys=True, default=str)


def _shared_tables(conn: sqlite3.Connection) -> None:
    """Version 3 to 4 (additive): what the kernels of one account share, leased slots,
    budgets and spend, gallery thumbnails (the DDL is :func:`mjnb.log.shared.shared_ddl`,
    portable to PostgreSQL)."""
    from .shared import shared_ddl

    for statement in shared_ddl("sqlite"):
        conn.execute(statement)


def _inputs_column(conn: sqlite3.Connection) -> None:
    """Version 4 to 5 (additive): ``inputs_json``, what a task needs to be sent again
    after a restart (older rows have none: they resume as they always did)."""
    for name, kind in V5_TASK_COLUMNS:
        conn.execute(f'ALTER TABLE tasks ADD COLUMN "{name}" {kind}')


Migration = Callable[[sqlite3.Connection], None]

#: ``MIGRATIONS[n]`` takes a file from version ``n`` to ``n + 1``.
MIGRATIONS: tuple[Migration, ...] = (
    _create_v1,
    _cells_table,
    _owners_table,
    _shared_tables,
    _inputs_column,
)
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


def log_error(exc: BaseException, path: Path, doing: str) -> LogError:
    """A sqlite3 or OS error while ``doing`` something, as one LogError that says what
    to do next."""
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
        return damaged_error(path, message)
    if any(word in lowered for word in ("malformed", "not a database", "corrupt")):
        return damaged_error(path, message)
    return LogError(f"The task log at {path} failed while {doing}: {message}.")


def damaged_error(path: Path, detail: str) -> LogError:
    return LogError(
        f"The task log at {path} is damaged ({detail}). Move it aside (for example, "
        f"rename it to {path.name}.broken) so that mjnb starts a new one, or set "
        "MJNB_HOME to another folder; mjnb never replaces a log on its own."
    )
