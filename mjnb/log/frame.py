"""The task log as pandas DataFrames, read fast.

``log()`` over 100,000 rows stays under a second because no Python object is made per
row and column: SQLite's C code encodes each column as one JSON array, ``json`` decodes
it, numpy and pandas' masked arrays take the lists whole. Columns no row uses (most
parameters, most of the time) are never read at all.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .codec import (
    BOOL_PARAMS,
    FLOAT_PARAMS,
    INT_PARAMS,
    LIST_PARAMS,
    PARAM_COLUMNS,
    from_us,
)

if TYPE_CHECKING:
    import pandas

    from .db import Database, Dialect, Tx

__all__ = ["FRAME_COLUMNS", "decode_row", "read_frame", "sweeps_frame", "times"]

NULL_INT = -(2**63)  # stands for NULL in integer columns read in bulk

# The DataFrame's columns, in order, and the SQL that reads each one.
_FRAME_TEXT = ("task_id", "provider", "action", "parent_id", "sweep_id", "prompt", "text")
_FRAME_TAIL_TEXT = ("image_url", "image_path", "remote_id")
FRAME_TIMES = ("submitted_at", "started_at", "finished_at")
#: release 2's columns (SPEC 8): what kind of job, video, editor, seed, cost, who, where
FRAME_MEDIA = (
    "kind", "video_paths", "motion", "loop", "batch", "job_seed", "cost", "mask_path",
    "user", "host", "kernel", "cell",
)  # fmt: skip
FRAME_COLUMNS: tuple[str, ...] = (
    *_FRAME_TEXT,
    *PARAM_COLUMNS,
    "status",
    "progress",
    "error",
    *FRAME_TIMES,
    "queue_s",
    "run_s",
    *_FRAME_TAIL_TEXT,
    *FRAME_MEDIA,
    "sweep_axes",
)
_INT_NULLABLE = INT_PARAMS | {"progress", "batch", "job_seed", "cell"}
_BOOLS = BOOL_PARAMS | {"loop"}
_FLOATS = FLOAT_PARAMS | {"queue_s", "run_s", "cost"}
_JSON_LISTS = LIST_PARAMS | {"video_paths"}
#: stored as JSON text, decoded by :func:`decode_row`
JSON_COLUMNS = (*sorted(_JSON_LISTS),)


def _column_json(column: str, dialect: Dialect) -> str:
    """SQL giving one frame column's value as it goes into ``json_group_array``.

    Integer-like columns come back with ``NULL_INT`` instead of NULL so that they load
    straight into int64 arrays; JSON columns are embedded as JSON, not as text.
    """
    if column in _INT_NULLABLE or column in _BOOLS or column in FRAME_TIMES:
        if dialect.name == "sqlite":
            return f'coalesce("{column}", {NULL_INT})'
        return f'coalesce("{column}", CAST({NULL_INT} AS bigint))'  # not numeric: faster
    per_second = "/ 1e6" if dialect.name == "sqlite" else "/ CAST(1e6 AS double precision)"
    if column == "queue_s":
        return f"(started_at - submitted_at) {per_second}"
    if column == "run_s":
        return f"(finished_at - started_at) {per_second}"
    if column == "sweep_axes":
        return dialect.json("axes_json")
    if column in _JSON_LISTS:
        return dialect.json(f'"{column}"')
    return f'"{column}"'


def _column_raw(column: str) -> str:
    """SQL for one frame column as stored, NULL where missing (used to count values)."""
    if column == "queue_s":
        return "(started_at - submitted_at)"
    if column == "run_s":
        return "(finished_at - started_at)"
    if column == "sweep_axes":
        return "axes_json"
    return f'"{column}"'


# Frame columns that are never NULL; the others are read only when some row has a value.
_NEVER_NULL = frozenset(
    {"task_id", "provider", "action", "prompt", "text", "status", "progress", "submitted_at"}
)
_NULLABLE = tuple(c for c in FRAME_COLUMNS if c not in _NEVER_NULL)
_COUNT_SQL = ", ".join(["count(*)", *(f"count({_column_raw(c)})" for c in _NULLABLE)])


def read_frame(db: Database, inner: str, args: Sequence[Any]) -> pandas.DataFrame:
    """Read the frame columns of the rows ``inner`` selects, in one snapshot.

    First count which nullable columns hold anything, then read the rest as one row of
    JSON arrays, one per column (SQLite's ``json_group_array``, PostgreSQL's
    ``json_agg``: the database's C code builds them). Without a limit ``inner`` has no
    ORDER BY (a plain scan is faster); :func:`_frame` sorts. Errors are LogErrors.
    """
    import pandas as pd

    dialect = db.dialect

    def work(tx: Tx) -> tuple[list[str], Sequence[Any]]:
        (counts,) = tx.execute(f"SELECT {_COUNT_SQL} FROM ({inner}) AS t", args).fetchall()
        present = [c for c in FRAME_COLUMNS if c in _NEVER_NULL]
        present += [c for c, n in zip(_NULLABLE, counts[1:], strict=True) if n]
        arrays = ", ".join(_array(dialect, c) for c in (*present, "rowid"))
        (row,) = tx.execute(f"SELECT {arrays} FROM ({inner}) AS t", args).fetchall()
        return present, row

    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of short-lived objects would trigger needless passes
    try:
        present, row = db.snapshot(work)
        *values, rowids = (json.loads(text) if text else [] for text in row)
        return _frame(pd, dict(zip(present, values, strict=True)), rowids)
    finally:
        if gc_was_enabled:
            gc.enable()


def _array(dialect: Dialect, column: str) -> str:
    """One frame column of every row as JSON text (an array)."""
    expr = f"{dialect.agg}({_column_json(column, dialect)})"
    return expr if dialect.name == "sqlite" else f"CAST({expr} AS text)"


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """A ``SELECT *`` row of ``tasks`` as plain Python values."""
    out = dict(row)
    out.pop("rowid", None)  # PostgreSQL's stand-in for SQLite's rowid
    out["params"] = json.loads(out.pop("params_json"))
    axes = out.pop("axes_json")
    out["axes"] = None if axes is None else json.loads(axes)
    state = out.pop("remote_state_json")
    out["remote_state"] = None if state is None else json.loads(state)
    inputs = out.pop("inputs_json", None)
    out["inputs"] = None if inputs is None else json.loads(inputs)
    for name in JSON_COLUMNS:
        if out[name] is not None:
            out[name] = json.loads(out[name])
    for name in _BOOLS:
        if out[name] is not None:
            out[name] = bool(out[name])
    for name in (*FRAME_TIMES, "updated_at"):
        out[name] = from_us(out[name])
    started, submitted, finished = out["started_at"], out["submitted_at"], out["finished_at"]
    out["queue_s"] = None if started is None else (started - submitted).total_seconds()
    out["run_s"] = (
        None if started is None or finished is None else (finished - started).total_seconds()
    )
    return out


def sweeps_frame(rows: Sequence[Sequence[Any]]) -> pandas.DataFrame:
    """The ``sweeps()`` frame from rows of (id, provider, prompt, axes_json, mode,
    created_at, tasks, succeeded, failed, pending, cells, not_sent, cancelled)."""
    import pandas as pd

    columns = list(zip(*rows, strict=True)) if rows else [()] * 13
    ints = ("tasks", "succeeded", "failed", "pending", "cells", "not_sent", "cancelled")
    data: dict[str, Any] = {
        "sweep_id": pd.array(list(columns[0]), dtype="string"),
        "provider": pd.array(list(columns[1]), dtype="string"),
        "prompt": pd.array(list(columns[2]), dtype="string"),
        "axis_values": pd.Series([json.loads(a) for a in columns[3]], dtype=object),
        "mode": pd.array(list(columns[4]), dtype="string"),
        "created_at": times(pd, columns[5]),
    }
    for offset, name in enumerate(ints, start=6):
        data[name] = pd.array(list(columns[offset]), dtype="Int64")
    return pd.DataFrame(data)


def times(pd: Any, values: Sequence[int]) -> Any:
    """Microsecond integers (``NULL_INT`` for missing) to ``datetime64[ns, UTC]``."""
    import numpy as np

    us = np.array(values, dtype=np.int64)
    missing = us == NULL_INT
    ns = us * 1000
    ns[missing] = np.iinfo(np.int64).min  # NaT
    return pd.Series(ns.view("M8[ns]")).dt.tz_localize("UTC").array


def _ints(pd: Any, values: Sequence[int]) -> Any:
    import numpy as np

    data = np.array(values, dtype=np.int64)
    mask = data == NULL_INT
    data[mask] = 0
    return pd.arrays.IntegerArray(data, mask)


def _bools(pd: Any, values: Sequence[int]) -> Any:
    import numpy as np

    data = np.array(values, dtype=np.int64)
    return pd.arrays.BooleanArray(data == 1, data == NULL_INT)


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
        if name in FRAME_TIMES:
            data[name] = times(pd, [NULL_INT] * n if column is None else column)
        elif name in _INT_NULLABLE:
            data[name] = _ints(pd, [NULL_INT] * n if column is None else column)
        elif name in _BOOLS:
            data[name] = _bools(pd, [NULL_INT] * n if column is None else column)
        elif name in _FLOATS:
            data[name] = _floats(pd, [None] * n if column is None else column)
        elif name in _JSON_LISTS or name == "sweep_axes":
            data[name] = pd.Series([None] * n if column is None else column, dtype=object)
        else:
            data[name] = pd.array([None] * n if column is None else column, dtype="string")
    frame = pd.DataFrame(data)
    order = np.lexsort((np.array(rowids, dtype=np.int64), frame["submitted_at"].to_numpy()))
    if np.any(order[1:] < order[:-1]):
        frame = frame.take(order).reset_index(drop=True)
    return frame
