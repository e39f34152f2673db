"""The task log: every task the engine touches, in ``$MJNB_HOME/history.sqlite``.

- :mod:`.schema`: the tables, the migrations, what can be wrong with a file
- :mod:`.codec`: how values are stored (timestamps, parameters; never a credential)
- :mod:`.store`: :class:`TaskLog`, connections, task rows, orphan claims
- :mod:`.sweeps`: sweep rows and their cells (atomic claims, cancel, unsent cells)
- :mod:`.frame`: the fast DataFrames
"""

from __future__ import annotations

from mjnb.vocab import STATUSES

from .codec import PARAM_COLUMNS
from .frame import FRAME_COLUMNS
from .schema import APPLICATION_ID, BUSY_TIMEOUT_S, MIGRATIONS, SCHEMA_VERSION, migrate
from .store import TaskLog

__all__ = [
    "APPLICATION_ID",
    "BUSY_TIMEOUT_S",
    "FRAME_COLUMNS",
    "MIGRATIONS",
    "PARAM_COLUMNS",
    "SCHEMA_VERSION",
    "STATUSES",
    "TaskLog",
    "migrate",
]
