"""The panel's history: the newest rows of the task log, each with a Load button.

Reads of the log run on the shared render thread (a :class:`~.liveview.Throttle`),
never in a widget callback; tasks the panel started show their live status, since the
log lags a little behind the engine.
"""

from __future__ import annotations

import functools
import html
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .liveview import Throttle

if TYPE_CHECKING:
    from ..client import Client
    from ..task import Task

__all__ = ["HistoryTable"]

_MUTED_STYLE = "color:#666"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class HistoryTable(widgets.VBox):
    """The newest ``size`` log rows of ``client()`` (read at each render), newest first.

    ``on_load(index)`` is what a row's Load button does; ``on_error(exc)`` hears of a
    log read that failed (the panel shows it in its status line).
    """

    def __init__(
        self,
        client: Callable[[], Client],
        *,
        size: int,
        on_load: Callable[[int], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self._client = client
        self.size = size
        self._on_load = on_load
        self._on_error = on_error
        #: the rows on show, newest first (dicts of log columns)
        self.rows: list[dict[str, Any]] = []
        #: tasks started here: the table shows their live status (the log lags a little)
        self._followed: dict[str, Task] = {}
        self._lock = threading.RLock()
        self.table = widgets.GridBox(
            layout=widgets.Layout(
                grid_template_columns="64px 104px 64px minmax(0, 1fr) 56px",
                grid_gap="2px 8px",
                align_items="center",
                width="100%",
            )
        )
        self.table.add_class("mjnb-history")
        self.note = widgets.HTML()
        self.refresh_button = widgets.Button(
            description="Refresh", icon="refresh", layout=widgets.Layout(min_width="96px")
        )
        self.refresh_button.on_click(lambda _button: self.request(urgent=True))
        super().__init__(
            [
                widgets.HBox(
                    [self.note, self.refresh_button],
                    layout=widgets.Layout(justify_content="space-between", align_items="center"),
                ),
                self.table,
            ]
        )
        self._throttle = Throttle(self._render, 0.5)

    def request(self, *, urgent: bool = False) -> None:
        """Redraw soon (on the render thread); ``urgent``: as soon as possible."""
        self._throttle.request(urgent=urgent)

    def refresh(self) -> None:
        """Read the log now and redraw (on this thread)."""
        self._throttle.request(urgent=True)
        self._throttle.flush()

    def follow(self, task: Task) -> None:
        """Show ``task``'s live status, and redraw when it finishes."""

        def on_change(changed: Task) -> None:  # engine thread: schedule only
            if changed.done:
                changed.remove_listener(on_change)
                self._throttle.request()

        self._followed[task.id] = task
        task.add_listener(on_change)
        self._throttle.request()

    def _on_load_click(self, index: int, button: Any = None) -> None:
        self._on_load(index)

    def _render(self) -> None:
        """Read the newest log rows and redraw the table (render thread)."""
        try:
            client = self._client()
            frame = client.log(limit=self.size)
        except Exception as exc:
            self._on_error(exc)
            return
        rows = frame.to_dict("records")[::-1]  # newest first
        cells: list[widgets.Widget] = []
        header = ("time", "status", "action", "prompt", "")
        cells.extend(widgets.HTML(f"<b>{h}</b>") for h in header)
        for index, row in enumerate(rows):
            submitted = row.get("submitted_at")
            when = submitted.strftime("%H:%M:%S") if hasattr(submitted, "strftime") else ""
            live = self._followed.get(row["task_id"])
            if live is not None:
                row = {**row, "status": live.status, "progress": live.progress}
                rows[index] = row
            status = str(row.get("status") or "")
            if status in ("queued", "running"):
                status = f"{status} {row.get('progress') or 0}%"
            load = widgets.Button(
                description="Load",
                tooltip=f"Load task {row['task_id']}'s prompt and parameters into the form",
                layout=widgets.Layout(width="52px"),
            )
            load.on_click(functools.partial(self._on_load_click, index))
            prompt = str(row.get("prompt") or "")
            cells.extend(
                [
                    widgets.Label(when),
                    widgets.Label(status),
                    widgets.Label(str(row.get("action") or "")),
                    widgets.HTML(
                        f"<span title='{html.escape(prompt)}'>"
                        f"{html.escape(_shorten(prompt, 90))}</span>"
                    ),
                    load,
                ]
            )
        with self._lock:
            self.rows = rows
            old = self.table.children
            self.table.children = tuple(cells)
            for widget in old:  # free the old rows' models (kernel and browser)
                widget.close()
            where = html.escape(client.session.log.where, quote=True)
            count = f"{len(rows)} task" + ("s" if len(rows) != 1 else "")
            self.note.value = (
                f"<span style='{_MUTED_STYLE}' title='{where}'>The newest {count} in the log "
                "(every provider and session).</span>"
            )
