"""The log's side of sweeps: the sweep rows, their planned cells, claims and cancels.

A cell is one ``sweep_cells`` row from the moment the sweep is recorded. Its
``task_id`` is NULL until a task claims it, which happens in the transaction that adds
the task row (:meth:`TaskLog.add_task`), with a compare-and-set on ``task_id``: of two
kernels resuming one sweep, one wins each cell, the other writes nothing. A cancelled
cell (``cancelled_at``) is never claimed again, so it is never sent, even by a resume.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from mjnb.errors import InvalidArgument, NotFound

from . import codec, frame
from .codec import US, dumps, now_us, scrub, to_us
from .schema import cell_key

if TYPE_CHECKING:
    import pandas

    from .db import Database, Tx

__all__ = ["SweepRecords"]


class SweepRecords:
    """Sweep methods of :class:`~mjnb.log.TaskLog` (kept apart: one concept each)."""

    where: str
    owner: str
    db: Database

    def _write(self, doing: str, work: Callable[[Tx], None]) -> None:
        raise NotImplementedError

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    # ---------------------------------------------------------------- writes

    def add_sweep(
        self,
        sweep_id: str,
        *,
        prompt: str,
        axes: Mapping[str, list[Any]],
        created_at: datetime,
        provider: str,
        mode: str | None = None,
        base_url: str | None = None,
        cells: Sequence[tuple[Mapping[str, Any], str]] = (),
    ) -> None:
        """Record a sweep: its base prompt, its axes (name -> values) and its planned
        cells as ``(coords, prompt)`` pairs, in cell order, in one transaction."""
        axes_json = dumps({str(k): list(v) for k, v in scrub(axes).items()})
        created = to_us(created_at)
        rows = [
            (sweep_id, i, cell_key(scrub(coords)), text) for i, (coords, text) in enumerate(cells)
        ]

        def work(conn: Tx) -> None:
            conn.execute(
                "INSERT INTO sweeps (sweep_id, prompt, axes_json, provider, created_at, mode,"
                " owner, base_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (sweep_id, prompt, axes_json, provider, created, mode, self.owner,
                 codec.clean_url(base_url)),
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO sweep_cells (sweep_id, cell, coords_json, prompt) VALUES (?, ?, ?, ?)",
                rows,
            )

        self._write(f"adding sweep {sweep_id}", work)

    def _claim_cell(
        self,
        conn: Tx,
        task_id: str,
        sweep_id: str,
        cell: int | None,
        axes: Mapping[str, Any] | None,
        replaces: str | None,
    ) -> int | bool | None:
        """Inside :meth:`add_task`'s transaction: claim a cell for ``task_id``.

        Returns the cell's index, None when the sweep has no such planned cell (a task
        logged with a sweep id alone, as release 1 did), or False if the cell is taken.
        """
        if cell is None:
            found = conn.execute(
                "SELECT cell FROM sweep_cells WHERE sweep_id = ? AND coords_json = ?",
                (sweep_id, cell_key(scrub(axes or {}))),
            ).fetchone()
            if found is None:
                return None
            cell = int(found[0])
        cursor = conn.execute(
            "UPDATE sweep_cells SET task_id = ?, claimed_by = ?, claimed_at = ?"
            " WHERE sweep_id = ? AND cell = ? AND cancelled_at IS NULL AND task_id "
            + self.db.dialect.same
            + " ?",
            (task_id, self.owner, now_us(), sweep_id, cell, replaces),
        )
        if cursor.rowcount == 1:
            return cell
        exists = conn.execute(
            "SELECT 1 FROM sweep_cells WHERE sweep_id = ? AND cell = ?", (sweep_id, cell)
        ).fetchone()
        if exists is None:
            raise InvalidArgument(f"Sweep {sweep_id} has no cell {cell} in {self.where}.")
        return False

    def cancel_unsent(self, sweep_id: str) -> int:
        """Mark every cell of a sweep that no task holds as cancelled; returns how many.

        A cancelled cell is never claimed again, so no kernel ever sends it, including
        by a later resume. Cells already sent are left to ``Task.cancel``.
        """
        cancelled: list[int] = []

        def work(conn: Tx) -> None:
            if conn.execute("SELECT 1 FROM sweeps WHERE sweep_id = ?", (sweep_id,)).fetchone():
                cursor = conn.execute(
                    "UPDATE sweep_cells SET cancelled_at = ? WHERE sweep_id = ?"
                    " AND task_id IS NULL AND cancelled_at IS NULL",
                    (now_us(), sweep_id),
                )
                cancelled.append(cursor.rowcount)

        self._write(f"cancelling sweep {sweep_id}", work)
        if not cancelled:
            raise NotFound(f"There is no sweep {sweep_id!r} in the task log at {self.where}.")
        return cancelled[0]

    # ---------------------------------------------------------------- reads

    def sweep(self, sweep_id: str) -> dict[str, Any] | None:
        """One sweep as logged, or None: its row (``axes`` decoded, ``created_at`` a
        datetime) and ``cells``, a list of dicts in cell order with ``cell``,
        ``coords``, ``prompt``, ``task_id`` (None: never sent) and ``cancelled``."""
        rows = self._read(
            "SELECT sweep_id, prompt, axes_json, provider, created_at, mode, owner, base_url"
            " FROM sweeps WHERE sweep_id = ?",
            (sweep_id,),
        )
        if not rows:
            return None
        sid, prompt, axes_json, provider, created, mode, owner, base_url = rows[0]
        cells = self._read(
            "SELECT cell, coords_json, prompt, task_id, cancelled_at IS NOT NULL"
            " FROM sweep_cells WHERE sweep_id = ? ORDER BY cell",
            (sweep_id,),
        )
        return {
            "sweep_id": sid,
            "prompt": prompt,
            "axes": json.loads(axes_json),
            "provider": provider,
            "created_at": codec.from_us(created),
            "mode": mode,
            "owner": owner,
            "base_url": base_url,
            "cells": [
                {
                    "cell": cell,
                    "coords": json.loads(coords),
                    "prompt": text,
                    "task_id": task_id,
                    "cancelled": bool(cancelled),
                }
                for cell, coords, text, task_id, cancelled in cells
            ],
        }

    def unfinished_sweeps(self, provider: str, *, older_than: timedelta) -> list[str]:
        """Ids of ``provider``'s sweeps with cells never sent and never cancelled.

        Only sweeps created more than ``older_than`` ago: a live kernel may still be
        submitting a newer one (and if it is, the claims keep every cell single).
        """
        cutoff = now_us() - older_than // US
        rows = self._read(
            "SELECT s.sweep_id FROM sweeps s WHERE s.provider = ? AND s.created_at < ?"
            " AND EXISTS (SELECT 1 FROM sweep_cells c WHERE c.sweep_id = s.sweep_id"
            " AND c.task_id IS NULL AND c.cancelled_at IS NULL)"
            " ORDER BY s.created_at, s.rowid",
            (provider, cutoff),
        )
        return [row[0] for row in rows]

    def unsent_cells(self, provider: str, base_url: str | None = None) -> list[dict[str, Any]]:
        """Cells of interrupted sweeps: never claimed, never cancelled, and the kernel
        that recorded their sweep is gone. Oldest sweep first, then cell order.

        Each is a dict with ``sweep_id``, ``cell``, ``coords``, ``prompt``, ``mode`` and
        ``created_at``. Sweeps logged with another base URL are left out (those logged
        before mjnb kept one are included). What resuming would send; sends nothing.
        """
        from .store import owner_alive

        latest = self.db.dialect.greatest(
            "s.created_at",
            "coalesce((SELECT max(t.updated_at) FROM tasks t WHERE t.sweep_id = s.sweep_id), 0)",
        )
        rows = self._read(
            "SELECT s.sweep_id, c.cell, c.coords_json, c.prompt, s.mode, s.created_at,"
            f" s.owner, {latest}, (SELECT o.seen_at FROM owners o WHERE o.owner = s.owner)"
            " FROM sweep_cells c JOIN sweeps s ON s.sweep_id = c.sweep_id"
            " WHERE s.provider = ? AND (s.base_url IS NULL OR CAST(? AS TEXT) IS NULL"
            " OR s.base_url = ?)"
            " AND c.task_id IS NULL AND c.cancelled_at IS NULL"
            " ORDER BY s.created_at, s.rowid, c.cell",
            (provider, base_url, codec.clean_url(base_url)),
        )
        alive: dict[str, bool] = {}
        cells = []
        for sweep_id, cell, coords, text, mode, created, owner, active, seen in rows:
            if sweep_id not in alive:
                alive[sweep_id] = owner_alive(owner, active, seen)
            if not alive[sweep_id]:
                cells.append(
                    {
                        "sweep_id": sweep_id,
                        "cell": cell,
                        "coords": json.loads(coords),
                        "prompt": text,
                        "mode": mode,
                        "created_at": codec.from_us(created),
                    }
                )
        return cells

    def sweeps(self) -> pandas.DataFrame:
        """One row per sweep, oldest first: its axes and mode, counts of its tasks by
        outcome, and of its planned cells (all, never sent, cancelled)."""
        rows = self._read(
            """
            SELECT s.sweep_id, s.provider, s.prompt, s.axes_json, s.mode, s.created_at,
                   (SELECT count(*) FROM tasks t WHERE t.sweep_id = s.sweep_id),
                   (SELECT count(*) FROM tasks t WHERE t.sweep_id = s.sweep_id
                       AND t.status = 'succeeded'),
                   (SELECT count(*) FROM tasks t WHERE t.sweep_id = s.sweep_id
                       AND t.status IN ('failed', 'cancelled')),
                   (SELECT count(*) FROM tasks t WHERE t.sweep_id = s.sweep_id
                       AND t.status IN ('queued', 'running')),
                   (SELECT count(*) FROM sweep_cells c WHERE c.sweep_id = s.sweep_id),
                   (SELECT count(*) FROM sweep_cells c WHERE c.sweep_id = s.sweep_id
                       AND c.task_id IS NULL AND c.cancelled_at IS NULL),
                   (SELECT count(*) FROM sweep_cells c WHERE c.sweep_id = s.sweep_id
                       AND c.cancelled_at IS NOT NULL)
            FROM sweeps AS s
            ORDER BY s.created_at, s.rowid
            """
        )
        return frame.sweeps_frame(rows)
