"""The task log: every task the engine touches, in ``$MJNB_HOME/history.sqlite`` or a
shared PostgreSQL database (``MJNB_LOG_URL``).

- :mod:`.url`: log URLs (``sqlite:///path``, ``postgresql://...``), printed without password
- :mod:`.db`: the engine abstraction (SQLite via sqlite3; :mod:`.postgres` via SQLAlchemy)
- :mod:`.tables`: the tables as SQLAlchemy definitions (PostgreSQL's schema)
- :mod:`.schema`: the tables, the migrations, what can be wrong with a file
- :mod:`.codec`: how values are stored (timestamps, parameters; never a credential)
- :mod:`.store`: :class:`TaskLog`, connections, task rows, orphan claims
- :mod:`.sweeps`: sweep rows and their cells (atomic claims, cancel, unsent cells)
- :mod:`.frame`: the fast DataFrames
"""

from __future__ import annotations

from mjnb.vocab import STATUSES

from .codec import PARAM_COLUMNS
from .db import Database, Dialect, LogUnreachable, Tx
from .frame import FRAME_COLUMNS
from .schema import APPLICATION_ID, BUSY_TIMEOUT_S, MIGRATIONS, SCHEMA_VERSION, migrate
from .store import TaskLog
from .url import LogURL, default_log_path, parse_log_url

__all__ = [
    "APPLICATION_ID",
    "BUSY_TIMEOUT_S",
    "FRAME_COLUMNS",
    "MIGRATIONS",
    "PARAM_COLUMNS",
    "SCHEMA_VERSION",
    "STATUSES",
    "Database",
    "Dialect",
    "LogURL",
    "LogUnreachable",
    "TaskLog",
    "Tx",
    "default_log_path",
    "migrate",
    "parse_log_url",
]
