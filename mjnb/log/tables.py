"""The log's tables as SQLAlchemy Core definitions: the PostgreSQL schema.

PostgreSQL logs are created from these with ``metadata.create_all`` at the current
schema version (there are no release-1 PostgreSQL logs to migrate). SQLite files keep
their own DDL and migrations in :mod:`mjnb.log.schema` because release-1/2 files must
open unchanged; ``tests/test_log.py`` checks that both define the same columns.

Types are chosen so one SQL text works on both: timestamps are BIGINT microseconds
since the epoch, flags are integers 0/1, JSON is TEXT. PostgreSQL has no ``rowid``, so
``tasks`` and ``sweeps`` get an identity column of that name (the insertion order that
breaks ties between equal ``submitted_at``).

Importing this module imports SQLAlchemy: only :mod:`mjnb.log.postgres` does.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    Identity,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

from .codec import PARAM_COLUMNS
from .schema import OWNER_COLUMNS, V2_TASK_COLUMNS, V3_TASK_COLUMNS, V5_TASK_COLUMNS

__all__ = ["meta", "metadata", "owners", "sweep_cells", "sweeps", "task_events", "tasks"]

metadata = MetaData()

_INTS = {"stylize", "chaos", "weird", "seed", "tile", "stop", "sw", "sv", "cw", "ow", "exp"}
_INTS |= {"draft", "repeat"}
_FLOATS = {"quality", "iw"}


def _sql_type(kind: str) -> type[Text] | type[BigInteger] | type[Double]:
    return {"TEXT": Text, "INTEGER": BigInteger, "REAL": Double}[kind]


def _param_column(name: str) -> Column[object]:
    kind = BigInteger if name in _INTS else Double if name in _FLOATS else Text
    return Column(name, kind)


tasks = Table(
    "tasks",
    metadata,
    Column("rowid", BigInteger, Identity(), nullable=False, unique=True),
    Column("task_id", Text, primary_key=True),
    Column("provider", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("parent_id", Text),
    Column("sweep_id", Text),
    Column("prompt", Text, nullable=False),
    Column("text", Text, nullable=False),
    *(_param_column(name) for name in PARAM_COLUMNS),
    Column("params_json", Text, nullable=False),
    Column("axes_json", Text),
    Column("status", Text, nullable=False),
    Column("progress", BigInteger, nullable=False, server_default="0"),
    Column("error", Text),
    Column("submitted_at", BigInteger, nullable=False),
    Column("started_at", BigInteger),
    Column("finished_at", BigInteger),
    Column("updated_at", BigInteger, nullable=False),
    Column("image_url", Text),
    Column("image_path", Text),
    Column("preview_url", Text),
    Column("remote_id", Text),
    Column("remote_state_json", Text),
    Column("base_url", Text),
    Column("owner", Text),
    *(
        Column(name, _sql_type(kind))
        for name, kind in (*V2_TASK_COLUMNS, *V3_TASK_COLUMNS, *V5_TASK_COLUMNS)
    ),
)
Index("tasks_submitted", tasks.c.submitted_at)
Index("tasks_provider", tasks.c.provider, tasks.c.submitted_at)
Index("tasks_sweep", tasks.c.sweep_id, tasks.c.submitted_at)
Index("tasks_status", tasks.c.status, tasks.c.submitted_at)

task_events = Table(
    "task_events",
    metadata,
    Column("event_id", BigInteger, Identity(), primary_key=True),
    Column("task_id", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("progress", BigInteger),
)
Index("task_events_task", task_events.c.task_id, task_events.c.event_id)

sweeps = Table(
    "sweeps",
    metadata,
    Column("rowid", BigInteger, Identity(), nullable=False, unique=True),
    Column("sweep_id", Text, primary_key=True),
    Column("prompt", Text, nullable=False),
    Column("axes_json", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("mode", Text),
    Column("owner", Text),
    Column("base_url", Text),
)

sweep_cells = Table(
    "sweep_cells",
    metadata,
    Column("sweep_id", Text, nullable=False),
    Column("cell", BigInteger, nullable=False),
    Column("coords_json", Text, nullable=False),
    Column("prompt", Text, nullable=False),
    Column("task_id", Text),
    Column("claimed_by", Text),
    Column("claimed_at", BigInteger),
    Column("cancelled_at", BigInteger),
    UniqueConstraint("sweep_id", "cell"),
)
Index("sweep_cells_task", sweep_cells.c.task_id)

#: who has a log open: the heartbeat that tells a live kernel on another machine from a
#: dead one (``owner`` is ``host:pid:token``)
owners = Table(
    "owners",
    metadata,
    *(Column(name, _sql_type(kind), primary_key=name == "owner") for name, kind in OWNER_COLUMNS),
)

#: PostgreSQL's stand-in for SQLite's ``application_id`` and ``user_version`` pragmas
meta = Table(
    "mjnb_meta",
    metadata,
    Column("key", Text, nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("key"),
)
