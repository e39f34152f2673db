"""A running (or finished) sweep: its cells' tasks, cancel and resume, grid and report.

A sweep talks to the rest of mjnb through a :class:`SweepHost`, a few public members
(the runtime's :class:`~mjnb.runtime.Session` provides them), never through
anyone's private state. It is recorded in the task log with every planned cell
before anything is sent; each cell is claimed in the log when its task is created, so
after a restart :meth:`Sweep.from_log` re-attaches and :meth:`Sweep.resume` sends only
cells no kernel ever claimed, and :meth:`Sweep.cancel` makes the unsent ones never go.
"""

from __future__ import annotations

import asyncio
import html
import threading
import time
import uuid
from collections.abc import Callable, Generator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mjnb.errors import MJError, NotFound, PromptError, Timeout
from mjnb.prompt import Prompt, parse_prompt
from mjnb.render.grid import NEVER_SENT, CellView, render_grid
from mjnb.render.report import render_html

from .plan import DEFAULT_MAX_JOBS, Cell, SweepPlan, plan_sweep, too_many

if TYPE_CHECKING:
    import pandas as pd
    from PIL.Image import Image

    from mjnb.log import TaskLog
    from mjnb.task import Task

__all__ = ["Sweep", "SweepHost", "SweepListener", "resume_sweeps", "start_sweep"]

#: how a cell cancelled before it was sent shows in ``counts()`` and ``df``
CANCELLED = "cancelled"
NOT_SENT = "not sent"


class SweepHost(Protocol):
    """What a sweep needs from the client that runs it (public members only)."""

    @property
    def provider(self) -> str: ...

    @property
    def base_url(self) -> str | None: ...

    @property
    def log(self) -> TaskLog: ...

    def check_prompt(self, prompt: Prompt) -> None:
        """Raise PromptError for a prompt this provider cannot take; sends nothing."""

    def start(
        self,
        prompt: Prompt,
        *,
        mode: str | None,
        sweep_id: str,
        axes: Mapping[str, Any],
        cell: int,
        replaces: str | None = None,
    ) -> Task | None:
        """Claim cell ``cell`` of the sweep in the log and start its task; None when the
        cell is taken (another kernel sent it, or it was cancelled). ``replaces`` is the
        task a retry takes the cell over from."""

    def task(self, task_id: str) -> Task:
        """A task by id, from this session or from the log."""


def start_sweep(
    host: SweepHost,
    prompt: str | Prompt,
    *,
    confirm: bool = False,
    max_jobs: int | None = None,
    mode: str | None = None,
    axes: Mapping[str, Any] | None = None,
    strict: bool = True,
) -> Sweep:
    """Plan, check the job cap, log the sweep and submit every cell; returns at once."""
    plan = plan_sweep(prompt, axes=axes, provider=host.provider, mode=mode, strict=strict)
    limit = DEFAULT_MAX_JOBS if max_jobs is None else max_jobs
    if plan.jobs > limit and not confirm:
        raise too_many(plan.jobs, limit)
    for cell in plan.cells:  # what this provider refuses fails now, before any row
        host.check_prompt(cell.prompt)
    sweep = Sweep.record(host, plan)
    sweep.resume()
    return sweep


def resume_sweeps(host: SweepHost, *, older_than: timedelta = timedelta(0)) -> list[Sweep]:
    """Finish every logged sweep of this host's provider that has cells never sent.

    Sends only cells no task ever claimed (and never cancelled ones), so nothing is
    sent twice, even by two kernels at once; tasks already in the log are left to the
    host's own resume. ``older_than`` skips sweeps a live kernel may still be sending.
    """
    unfinished = host.log.unfinished_sweeps(host.provider, older_than=older_than)
    sweeps = [Sweep.from_log(host, sweep_id) for sweep_id in unfinished]
    for sweep in sweeps:
        sweep.resume()
    return sweeps


SweepListener = Callable[["Sweep"], None]


class Sweep:
    """A running (or finished) sweep: its cells, their tasks, the grid and the report.

    Built by ``Client.sweep`` (or :meth:`from_log` after a restart). ``tasks`` follow
    the cells' order; a cell never sent (yet) has no task and shows as a placeholder,
    and so does a cell cancelled before it was sent.
    """

    def __init__(
        self, host: SweepHost, sweep_id: str, plan: SweepPlan, *, created_at: datetime
    ) -> None:
        self.id = sweep_id
        self.plan = plan
        self.created_at = created_at
        self._host = host
        self._slots: list[Task | None] = [None] * plan.jobs
        self._cancelled: set[int] = set()  # cells cancelled before they were sent
        self._listeners: list[SweepListener] = []
        self._thumbs: dict[tuple[str, int], Image] = {}
        self._lock = threading.Lock()

    # -- creation -----------------------------------------------------------------------
    @classmethod
    def record(cls, host: SweepHost, plan: SweepPlan) -> Sweep:
        """Log a planned sweep with every cell (for resume), submitting nothing."""
        sweep = cls(host, uuid.uuid4().hex[:12], plan, created_at=datetime.now(timezone.utc))
        host.log.add_sweep(
            sweep.id,
            prompt=plan.prompt,
            axes={name: list(values) for name, values in plan.axes.items()},
            created_at=sweep.created_at,
            provider=host.provider,
            mode=plan.mode,
            base_url=host.base_url,
            cells=[(c.coords, str(c.prompt)) for c in plan.cells],
        )
        return sweep

    @classmethod
    def from_log(cls, host: SweepHost, sweep_id: str) -> Sweep:
        """Re-attach to a logged sweep: its plan and the tasks its cells already have.

        Submits nothing; call :meth:`resume` to send the cells that never were.
        """
        record = host.log.sweep(sweep_id)
        if record is None:
            raise NotFound(f"No sweep {sweep_id!r} in {host.log.path}; see mj.sweeps().")
        if not record["cells"]:
            raise NotFound(
                f"Sweep {sweep_id} was logged without its cells (by an older mjnb), so it "
                "cannot be resumed; start it again with mj.sweep(...)."
            )
        axes = {str(k): list(v) for k, v in record["axes"].items()}
        cells = tuple(
            Cell(i, _in_axis_order(c["coords"], axes), _parse(c["prompt"], sweep_id))
            for i, c in enumerate(record["cells"])
        )
        plan = SweepPlan(
            prompt=str(record["prompt"]),
            axes=axes,
            cells=cells,
            provider=str(record["provider"]),
            mode=record["mode"],
        )
        sweep = cls(host, sweep_id, plan, created_at=record["created_at"])
        for index, row in enumerate(record["cells"]):
            if row["task_id"] is not None:
                sweep._attach(index, host.task(row["task_id"]))
            elif row["cancelled"]:
                sweep._cancelled.add(index)
        return sweep

    @property
    def missing(self) -> list[Cell]:
        """Cells that have no task and were not cancelled: never sent (yet)."""
        with self._lock:
            return [
                c
                for c in self.plan.cells
                if self._slots[c.index] is None and c.index not in self._cancelled
            ]

    def resume(self) -> list[Task]:
        """Send the cells that have no task yet, in order; returns the new tasks.

        Each cell is claimed in the log first: one another kernel already sent is
        attached instead of sent, a cancelled one is skipped. A cell with a task (even
        a failed one) is never sent again here; use :meth:`retry_failed` for those.
        """
        started = []
        for cell in self.missing:
            task = self._submit(cell)
            if task is not None:
                started.append(task)
        return started

    def _submit(self, cell: Cell, replaces: str | None = None) -> Task | None:
        if cell.index in self._cancelled:
            return None
        task = self._host.start(
            cell.prompt,
            mode=self.plan.mode,
            sweep_id=self.id,
            axes=cell.coords,
            cell=cell.index,
            replaces=replaces,
        )
        if task is None:
            self._adopt(cell)
            return None
        self._attach(cell.index, task)
        return task

    def _adopt(self, cell: Cell) -> None:
        """After a lost claim: show what the log says holds the cell."""
        record = self._host.log.sweep(self.id)
        row = record["cells"][cell.index] if record else None
        if row is None:
            return
        if row["task_id"] is not None and row["task_id"] != _task_id(self._slots[cell.index]):
            self._attach(cell.index, self._host.task(row["task_id"]))
        elif row["task_id"] is None and row["cancelled"]:
            with self._lock:
                self._cancelled.add(cell.index)
            self._notify()

    def _attach(self, index: int, task: Task) -> None:
        with self._lock:
            old = self._slots[index]
            self._slots[index] = task
        if old is not None:
            old.remove_listener(self._on_change)
        task.add_listener(self._on_change)
        self._on_change(task)

    def _on_change(self, task: Task) -> None:
        self._notify()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener(self)
            except Exception:  # a broken view must never stop the engine
                self._listeners.remove(listener)

    # -- control ------------------------------------------------------------------------
    def cancel(self) -> str:
        """Stop the sweep: unsent cells are marked cancelled in the log (never sent, even
        by a resume), started tasks that have not ended are cancelled; finished cells
        stay. Returns one line saying what happened."""
        unsent = self._host.log.cancel_unsent(self.id)
        with self._lock:
            for cell in self.plan.cells:
                if self._slots[cell.index] is None:
                    self._cancelled.add(cell.index)
            running = [t for t in self._slots if t is not None and not t.done]
        notes: list[str] = []
        for task in running:
            try:
                notes.append(task.cancel())
            except MJError as exc:  # it ended meanwhile
                notes.append(str(exc))
        self._notify()
        kept = sum(1 for t in self.tasks if t.status == "succeeded")
        line = (
            f"Sweep {self.id}: {unsent} unsent cell{'s' if unsent != 1 else ''} cancelled "
            f"(never sent), {len(running)} started, {kept} finished kept."
        )
        if notes and len(set(notes)) == 1:
            line += f" {notes[0]}"
        return line

    # -- state --------------------------------------------------------------------------
    @property
    def prompt(self) -> str:
        return self.plan.prompt

    @property
    def axes(self) -> dict[str, list[Any]]:
        return self.plan.axes

    @property
    def cells(self) -> tuple[Cell, ...]:
        return self.plan.cells

    @property
    def cancelled(self) -> list[Cell]:
        """Cells cancelled before they were sent (they have no task, ever)."""
        return [c for c in self.plan.cells if c.index in self._cancelled]

    @property
    def tasks(self) -> list[Task]:
        """The cells' current tasks, in cell order (cells never sent are left out)."""
        return [t for t in self._slots if t is not None]

    def items(self) -> list[tuple[Cell, Task | None]]:
        """Every cell with its current task (None if never sent), in cell order."""
        return list(zip(self.plan.cells, self._slots, strict=True))

    def _state(self, index: int, task: Task | None) -> str:
        if task is not None:
            return task.status
        return CANCELLED if index in self._cancelled else NOT_SENT

    def counts(self) -> dict[str, int]:
        """How many cells are in each state (``not sent`` for cells without a task,
        ``cancelled`` also for cells cancelled before they were sent)."""
        counts: dict[str, int] = {}
        for index, task in enumerate(self._slots):
            status = self._state(index, task)
            counts[status] = counts.get(status, 0) + 1
        return counts

    @property
    def done(self) -> bool:
        """Every cell has ended, or was cancelled before it was sent."""
        return all(
            (t is not None and t.done) or (t is None and i in self._cancelled)
            for i, t in enumerate(self._slots)
        )

    @property
    def summary(self) -> str:
        """``"7/9 done, 1 failed"``: cells ended (any outcome, cancelled ones too) out of
        all, then failures, cancelled cells and cells not sent."""
        counts = self.counts()
        ended = sum(counts.get(s, 0) for s in ("succeeded", "failed", "cancelled"))
        text = f"{ended}/{self.plan.jobs} done"
        if counts.get("failed"):
            text += f", {counts['failed']} failed"
        if counts.get(CANCELLED):
            text += f", {counts[CANCELLED]} cancelled"
        if counts.get(NOT_SENT):
            text += f", {counts[NOT_SENT]} not sent"
        return text

    def add_listener(self, listener: SweepListener) -> None:
        """Call ``listener(sweep)`` (on the engine thread) whenever any cell changes."""
        self._listeners.append(listener)

    def remove_listener(self, listener: SweepListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # -- waiting ------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> Sweep:
        """Block until every cell has ended; failed cells do not raise (see ``df``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for task in self.tasks:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                task.wait(left)
            except Timeout:
                raise Timeout(
                    f"Sweep {self.id} is not finished after {timeout} s ({self.summary}); "
                    "call wait() again to keep waiting."
                ) from None
        return self

    def __await__(self) -> Generator[Any, None, Sweep]:
        return self._wait_async().__await__()

    async def _wait_async(self) -> Sweep:
        async def one(task: Task) -> Task:
            return await task

        await asyncio.gather(*(one(task) for task in self.tasks))
        return self

    def retry_failed(self) -> list[Task]:
        """Submit failed (or cancelled) cells again, same sweep; returns the new tasks.

        Each retry takes its cell over from the failed task in the log, so two kernels
        retrying one sweep send each cell once. Cells cancelled before they were sent
        stay cancelled.
        """
        started = []
        for cell, task in self.items():
            if task is not None and task.status in ("failed", "cancelled"):
                new = self._submit(cell, replaces=task.id)
                if new is not None:
                    started.append(new)
        return started

    # -- tables -------------------------------------------------------------------------
    @property
    def df(self) -> pd.DataFrame:
        """One row per cell: one column per axis, then task_id, status, progress, error,
        queue_s, run_s, image_path, the prompt sent, and the log's kind, job_seed and
        cost."""
        import pandas as pd

        records: dict[str, list[Any]] = {axis: [] for axis in self.plan.axes}
        extra = ("task_id", "status", "progress", "error", "queue_s", "run_s", "image_path")
        records.update({name: [] for name in (*extra, "prompt")})
        for cell, task in self.items():
            for axis in self.plan.axes:
                records[axis].append(cell.coords.get(axis))
            fields = _task_fields(task, self._state(cell.index, task))
            for name, value in zip(extra, fields, strict=True):
                records[name].append(value)
            records["prompt"].append(str(cell.prompt))
        data: dict[str, Any] = {}
        for name, values in records.items():
            if name in ("queue_s", "run_s"):
                data[name] = pd.array(values, dtype="Float64")
            elif name == "progress":
                data[name] = pd.array(values, dtype="Int64")
            elif name in self.plan.axes:
                data[name] = _typed(pd, values)
            else:
                data[name] = pd.array(values, dtype="string")
        frame = pd.DataFrame(data)
        return _with_log_columns(frame, self._host.log.dataframe(sweep=self.id))

    def _repr_html_(self) -> str:
        axes = (
            " × ".join(f"{html.escape(a)} ({len(v)})" for a, v in self.plan.axes.items())
            or "no axes"
        )
        return (
            f"<div><b>Sweep {self.id}</b>: {html.escape(self.summary)} · {axes}"
            f"<br><code>{html.escape(self.prompt)}</code></div>"
        )

    def __repr__(self) -> str:
        axes = " × ".join(self.plan.axes) or "no axes"
        return f"<Sweep {self.id} {axes}: {self.summary}>"

    # -- images -------------------------------------------------------------------------
    def _thumbnail(self, task: Task, size: int) -> Image | None:
        if task.status != "succeeded":
            return None
        key = (task.id, size)
        with self._lock:
            cached = self._thumbs.get(key)
        if cached is not None:
            return cached
        try:
            image = task.image
        except MJError:
            return None
        thumb = image.convert("RGB")
        thumb.thumbnail((size, size))
        with self._lock:
            self._thumbs[key] = thumb
        return thumb

    def views(self, size: int = 256) -> list[CellView]:
        """Every cell as plain data for :func:`~mjnb.render.render_grid` (thumbnails
        cached); a cell cancelled before it was sent is a ``cancelled`` placeholder."""
        views = []
        for cell, task in self.items():
            image = None if task is None else self._thumbnail(task, size)
            status = self._state(cell.index, task)
            views.append(
                CellView(
                    coords=cell.coords,
                    image=image,
                    status=status,
                    progress=0 if task is None else task.progress,
                    error=(NEVER_SENT if status == CANCELLED else None)
                    if task is None
                    else task.error,
                    ar=str(cell.prompt.params.get("ar") or "1:1"),
                )
            )
        return views

    def grid(
        self,
        x: str | None = None,
        y: str | None = None,
        z: str | None = None,
        *,
        where: Mapping[str, Any] | None = None,
        cell_size: int = 256,
    ) -> Image:
        """The labelled comparison image: ``x`` across, ``y`` down, ``z`` panel by panel.

        By default the first axis is y, the second x, the third z. ``where`` fixes the
        value of further axes (``where={"chaos": 50}``). Cells that failed, were
        cancelled or have not finished are drawn as placeholders saying why, so the grid
        never shifts.
        """
        views = self.views(cell_size)
        return render_grid(views, self.plan.axes, x=x, y=y, z=z, where=where, cell_size=cell_size)

    def to_html(self, path: str | Path, *, image_size: int = 512, quality: int = 85) -> Path:
        """Write a self-contained HTML report (images embedded); returns its path."""
        target = Path(path)
        target.write_text(self._html(image_size, quality), encoding="utf-8")
        return target

    def _html(self, image_size: int, quality: int) -> str:
        return render_html(
            title=f"mjnb sweep {self.id}",
            prompt=self.prompt,
            summary=f"{self.summary} · {self.plan}",
            axes=self.plan.axes,
            views=self.views(image_size),
            table=self.df,
            quality=quality,
        )


def _parse(text: str, sweep_id: str) -> Prompt:
    try:
        # a logged cell was sent: read it as it was sent, without warning again
        return parse_prompt(text, strict=False, warn=False)
    except PromptError as exc:
        raise PromptError(f"Sweep {sweep_id} logged a cell this mjnb cannot read: {exc}") from None


def _in_axis_order(coords: Mapping[str, Any], axes: Mapping[str, Any]) -> dict[str, Any]:
    """Coordinates as logged (sorted keys) back in the sweep's axis order."""
    ordered = {a: coords[a] for a in axes if a in coords}
    ordered.update({k: v for k, v in coords.items() if k not in ordered})
    return ordered


def _task_id(task: Task | None) -> str | None:
    return None if task is None else task.id


def _task_fields(task: Task | None, state: str) -> tuple[Any, ...]:
    if task is None:
        return (None, state, 0, None, None, None, None)
    queue = run = None
    if task.started_at is not None:
        queue = (task.started_at - task.submitted_at).total_seconds()
        if task.finished_at is not None:
            run = (task.finished_at - task.started_at).total_seconds()
    path = str(task.image_path) if task.image_path else None
    return (task.id, task.status, task.progress, task.error, queue, run, path)


#: the log's release-2 columns carried into ``Sweep.df`` (SPEC 8)
LOG_COLUMNS = ("kind", "video_paths", "motion", "loop", "batch", "job_seed", "cost",
               "mask_path", "user", "host")  # fmt: skip


def _with_log_columns(frame: pd.DataFrame, logged: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :data:`LOG_COLUMNS` taken from the log's rows of its tasks."""
    source = logged.drop_duplicates("task_id", keep="last").set_index("task_id")
    keys = frame["task_id"]
    for name in LOG_COLUMNS:
        column = source[name]
        frame[name] = column.reindex(keys.fillna("")).reset_index(drop=True).array
    return frame


def _typed(pd: Any, values: list[Any]) -> Any:
    """A column with the values' own type: Int64 for whole numbers, string for text."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pd.array(values, dtype="boolean")
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pd.array(values, dtype="Int64")
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pd.array([None if v is None else float(v) for v in values], dtype="Float64")
    return pd.array([None if v is None else str(v) for v in values], dtype="string")
