"""``SweepView``: the live grid of a sweep in a notebook.

    >>> view = SweepView(mj.sweep("a red fox --seed {1, 2, 3} --s {0, 250, 750}"))
    >>> view.show()

A header (the sweep's summary, ``"7/9 done, 1 failed"``), a progress bar counting
ended cells, and the labelled comparison grid (:meth:`mjnb.sweep.Sweep.grid`) as a
JPEG that fills in as cells finish; unfinished and failed cells are placeholders, so
the grid never shifts. Like :class:`~mjnb.notebook.card.TaskCard` it only renders
state: the sweep's listener (engine thread) requests a throttled render on the shared
render thread, and a displayed view leaves a summary line and the final grid as a
static JPEG for saved notebooks.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..vocab import JPEG_QUALITY
from .liveview import LiveView, Throttle, image_size, thumbnail_jpeg

if TYPE_CHECKING:
    from ..sweep import Sweep
    from ..task import Task

__all__ = ["SweepView", "sweep_summary"]

#: the grid is recomposed at most this often while cells change
DEFAULT_UPDATES_PER_SECOND = 1.0
#: longest side of the grid image sent to the browser and saved in the notebook
DEFAULT_GRID_SIZE = 1024


def _no_resume() -> str:
    return "This view has no client to resume with; call mj.resume()."


def _finished(sweep: Sweep) -> bool:
    """Every cell has a task and every task is finished (results fetched)."""
    items = sweep.items()
    return all(task is not None and task.done for _, task in items)


def _ended(sweep: Sweep) -> int:
    return sum(1 for t in sweep.tasks if t.done)


def sweep_summary(sweep: Sweep, limit: int = 80) -> str:
    """One line: ``[sweep 7/9 done, 1 failed] 0a1b2c3d4e5f seed × stylize: a red fox``."""
    axes = " × ".join(sweep.axes) or "no axes"
    prompt = " ".join(sweep.prompt.split())
    if len(prompt) > limit:
        prompt = prompt[: limit - 1] + "…"
    return f"[sweep {sweep.summary}] {sweep.id} {axes}: {prompt}"


class SweepView(LiveView):
    """A live view of one sweep: summary, progress, the labelled grid, and its controls.

    While cells run, a Stop button cancels the sweep (``sweep.cancel()``: queued cells
    are dropped, finished ones stay in the grid). ``on_resume`` (given by the views
    factory, it calls ``Client.resume``) adds a Resume button while the sweep has cells
    that were never sent, e.g. after the kernel that ran it died.
    """

    def __init__(
        self,
        sweep: Sweep,
        *,
        cell_size: int = 128,
        grid_size: int = DEFAULT_GRID_SIZE,
        updates_per_second: float = DEFAULT_UPDATES_PER_SECOND,
        quality: int = JPEG_QUALITY,
        on_resume: Callable[[], list[Task]] | None = None,
    ) -> None:
        if updates_per_second <= 0:
            raise ValueError(f"updates_per_second must be positive, got {updates_per_second}.")
        self.sweep = sweep
        self.cell_size = cell_size
        self.grid_size = grid_size
        self.quality = quality
        self.header = widgets.HTML()
        self.bar = widgets.IntProgress(min=0, max=max(1, len(sweep.cells)))
        self.image = widgets.Image(format="jpeg")
        self.message = widgets.HTML()
        self.stop_button = widgets.Button(
            description="Stop",
            icon="stop",
            tooltip="Stop the sweep: cells not sent yet are cancelled (never sent, not even "
            "by resume); finished cells stay in the grid",
            layout=widgets.Layout(width="auto"),
        )
        self.stop_button.add_class("mjnb-sweep-stop")
        self.stop_button.on_click(lambda _button: self.stop())
        self.resume_button = widgets.Button(
            description="Resume",
            icon="play",
            tooltip="Send the cells never sent (every interrupted sweep of this provider: "
            "see %mj pending)",
            layout=widgets.Layout(width="auto"),
        )
        self.resume_button.add_class("mjnb-sweep-resume")
        self.resume_button.on_click(lambda _button: self.resume())
        self.controls = widgets.HBox([self.stop_button, self.resume_button])
        self._on_resume = on_resume
        self._stopped = False
        super().__init__(
            children=[self.header, self.bar, self.image, self.message, self.controls],
            layout=widgets.Layout(border="1px solid #ddd", padding="6px", margin="4px 0"),
        )
        self._lock = threading.RLock()
        self._grid_key: tuple[Any, ...] | None = None
        self._grid: bytes | None = None
        self._throttle = Throttle(self._render, 1.0 / updates_per_second)
        sweep.add_listener(self._on_change)
        self._render()

    def __repr__(self) -> str:
        return f"<SweepView {sweep_summary(self.sweep)}>"

    @property
    def finished(self) -> bool:
        """Every cell ended; after Stop, every cell that was sent ended."""
        if self._stopped:
            return all(task.done for task in self.sweep.tasks)
        return _finished(self.sweep)

    @property
    def summary(self) -> str:
        return sweep_summary(self.sweep)

    @property
    def grid_jpeg(self) -> bytes | None:
        """The grid as last rendered (JPEG bytes)."""
        return self._grid

    # -- updates -------------------------------------------------------------------------
    def _on_change(self, sweep: Sweep) -> None:
        self._throttle.request(urgent=self.finished and not self._published)

    def _render(self) -> None:
        sweep = self.sweep
        with self._lock:
            finished = self.finished
            with self.header.hold_sync(), self.bar.hold_sync():
                self.header.value = (
                    "<div style='font-family:sans-serif;font-size:13px'>"
                    f"<b>Sweep</b> <code>{html.escape(sweep.id)}</code> · "
                    f"{html.escape(' × '.join(sweep.axes) or 'no axes')} · "
                    f"{html.escape(sweep.summary)}<br>"
                    f"<span style='color:#555'>{html.escape(sweep.prompt)}</span></div>"
                )
                self.bar.value = _ended(sweep)
                failed = any(t.status in ("failed", "cancelled") for t in sweep.tasks)
                self.bar.bar_style = ("warning" if failed else "success") if finished else "info"
            # recompose the grid only when what it shows changed (not on every percent)
            key = tuple(
                (t.id, t.status, t.done) if t is not None else None for _, t in sweep.items()
            )
            if key != self._grid_key:
                self._grid_key = key
                image = sweep.grid(cell_size=self.cell_size)
                self._grid = thumbnail_jpeg(image, self.grid_size, self.quality)
                width, height = image_size(self._grid)
                with self.image.hold_sync():
                    self.image.value = self._grid
                    self.image.width = str(width)
                    self.image.height = str(height)
            self._render_controls(finished)
            final = self._rendered(finished)
        self._after_render(final)

    def _unsubscribe(self) -> None:
        self.sweep.remove_listener(self._on_change)

    def _render_controls(self, finished: bool) -> None:
        pending = len(self.sweep.missing) if self._on_resume is not None else 0
        self.stop_button.layout.display = "none" if finished or self._stopped else None
        self.resume_button.layout.display = None if pending and not self._stopped else "none"
        if pending:
            self.resume_button.description = f"Resume ({pending} not sent)"
        message = self.control_message or ""
        value = f"<span style='color:#ef6c00;font-size:13px'>{html.escape(message)}</span>"
        if self.message.value != (value if message else ""):
            self.message.value = value if message else ""

    # -- the controls (also for scripts and tests) ---------------------------------------
    def stop(self) -> str:
        """What Stop does: ``sweep.cancel()``; the view shows the line it answers."""
        self._stopped = True
        return self._control("Stop", lambda: self.sweep.cancel())

    def resume(self) -> str:
        """What Resume does: the views factory's ``on_resume`` (``Client.resume``)."""
        if self._on_resume is None:
            return self._control("Resume", _no_resume)
        resume = self._on_resume

        def call() -> str:
            started = resume()
            return f"Resumed: sent {len(started)} cell(s) never sent before."

        return self._control("Resume", call)

    # -- static output -----------------------------------------------------------------------
    def _static(self) -> tuple[str, bytes | None, str]:
        grid = self._grid if self.finished else None
        return sweep_summary(self.sweep), grid, f"sweep {self.sweep.id}"

    def _subject(self) -> str:
        return f"sweep {self.sweep.id}"
