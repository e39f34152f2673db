"""A Task: one Midjourney job, as the user sees it.

A Task is a read-only live view over a :class:`~mjnb.runtime.state.TaskState`, which
only the engine's runner writes (as rich's ``Task`` is read-only outside ``Progress``).
``wait()`` blocks, ``await task`` awaits, listeners (the notebook card) are told of
every change, and actions go through the :class:`TaskHost` the task was built with:
a Task never reaches into a client, an engine or an image store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

from .errors import InvalidArgument, TaskFailed, Timeout
from .vocab import JPEG_QUALITY, THUMBNAIL_SIZE, UPSCALE_KINDS, Status

if TYPE_CHECKING:
    from PIL.Image import Image

    from .prompt import Prompt
    from .providers.base import Job, Snapshot
    from .runtime.state import TaskState

Listener = Callable[["Task"], None]
T = TypeVar("T")


class TaskHost(Protocol):
    """What a Task needs from whoever runs it (a :class:`mjnb.runtime.Session`)."""

    def check_blocking(self, what: str) -> None:
        """Raise if blocking here would stall the engine (called from a listener)."""

    def act(
        self, task: Task, label: str, *, prompt: str | None = None, index: int | None = None
    ) -> Task:
        """Start an action on a succeeded task (with a new prompt: a remix)."""

    def animate(
        self,
        task: Task,
        motion: str = "low",
        *,
        index: int | None = None,
        prompt: str | None = None,
        loop: bool = False,
        end: Any = None,
        batch: int = 1,
        raw: bool = False,
    ) -> Task:
        """Animate a finished image (a grid's tile with ``index=``)."""

    def extend(
        self,
        task: Task,
        motion: str = "low",
        *,
        index: int | None = None,
        prompt: str | None = None,
    ) -> Task:
        """Extend a finished clip."""

    def vary_region(self, task: Task, mask: Any, *, prompt: str | None = None) -> Task:
        """Repaint the masked part of a finished image."""

    def zoom_out(self, task: Task, factor: float, *, prompt: str | None = None) -> Task:
        """Zoom out by ``factor`` (1.0-2.0)."""

    def job_seed(self, state: TaskState) -> int:
        """The seed the provider says the job used (asked once, then logged)."""

    def videos(self, state: TaskState) -> list[Path]:
        """The local .mp4 paths of a video task."""

    def poster(self, state: TaskState) -> Image:
        """The first frame of the first clip."""

    def frames(self, state: TaskState, n: int) -> list[Image]:
        """``n`` evenly spaced frames of the first clip."""

    def cancel(self, task: Task) -> str:
        """Cancel the task; a one-line message of what happened."""

    def image(self, state: TaskState) -> Image:
        """The result, decoded on first use and then kept."""

    def tiles(self, state: TaskState) -> Sequence[Image]:
        """The result's tiles, decoded on first access."""

    def thumbnail(self, state: TaskState, size: int, quality: int) -> bytes:
        """A JPEG of the result at most ``size`` px, made once and kept in the cache."""

    def refetch(self, task: Task) -> Task:
        """Follow an ended task's job again and download its result."""


class _FromState(Generic[T]):
    """A read-only Task attribute that is the same field of its TaskState.

    One descriptor instead of a property per field: ``task.job`` reads
    ``task._state.job`` (``field=`` when the state names it otherwise); setting it
    raises AttributeError, as a property without a setter does.
    """

    def __init__(self, doc: str = "", *, field: str | None = None) -> None:
        self.__doc__ = doc or None
        self._given = field
        self._name = self._field = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name
        self._field = self._given or name

    @overload
    def __get__(self, task: None, owner: type) -> _FromState[T]: ...
    @overload
    def __get__(self, task: Task, owner: type) -> T: ...
    def __get__(self, task: Task | None, owner: type) -> T | _FromState[T]:
        if task is None:
            return self
        value: T = getattr(task._state, self._field)
        return value

    def __set__(self, task: Task, value: object) -> None:
        raise AttributeError(f"property {self._name!r} of 'Task' object has no setter")


class Task:
    """One job on one provider. Created by ``Client.imagine``/``act``; never by hand."""

    def __init__(self, host: TaskHost, state: TaskState) -> None:
        self._host = host
        self._state = state
        state.view = self

    # -- what it is ----------------------------------------------------------------------
    id: _FromState[str] = _FromState()
    job: _FromState[Job] = _FromState()
    prompt: _FromState[Prompt | None] = _FromState()
    parent_id: _FromState[str | None] = _FromState()
    sweep_id: _FromState[str | None] = _FromState()
    provider: _FromState[str] = _FromState()

    # -- state -------------------------------------------------------------------------
    snapshot: _FromState[Snapshot] = _FromState("The provider's latest reading, in common terms.")

    @property
    def status(self) -> Status:
        """queued, running, succeeded, failed or cancelled.

        A job the provider finished reads ``running`` (at 100%) until its image is
        downloaded, so ``succeeded`` always means the result is here.
        """
        return self._state.status

    @property
    def progress(self) -> int:
        return self._state.snapshot.progress

    error: _FromState[str | None] = _FromState(field="reason")

    @property
    def done(self) -> bool:
        """True once the task has ended and its result, if any, is downloaded."""
        return self._state.done.is_set()

    submitted_at: _FromState[datetime] = _FromState()
    started_at: _FromState[datetime | None] = _FromState()
    finished_at: _FromState[datetime | None] = _FromState()
    image_path: _FromState[Path | None] = _FromState()
    image_paths: _FromState[tuple[Path, ...]] = _FromState(
        "The separate images, when the provider sends four (Youchuan)."
    )
    preview: _FromState[bytes | None] = _FromState(
        "The latest low-resolution preview (encoded image bytes) while running."
    )

    @property
    def action(self) -> str:
        """``imagine``, ``describe``, ``blend`` or the action label (``U2``, ``zoom 2x`` ...)."""
        job = self._state.job
        return job.label if job.kind == "action" and job.label else job.kind

    @property
    def actions(self) -> list[str]:
        """Action labels valid now (empty until the task has succeeded)."""
        return self.snapshot.actions if self.status == "succeeded" else []

    # -- media ---------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """``"image"`` (grids and single images), ``"video"`` or ``"describe"``."""
        return self._state.kind

    @property
    def videos(self) -> list[Path]:
        """The clips of a video task as local ``.mp4`` paths (downloaded and checked)."""
        return self._host.videos(self._state)

    @property
    def poster(self) -> Image:
        """The first frame of a clip, as a PIL image."""
        return self._host.poster(self._state)

    def frames(self, n: int = 4) -> list[Image]:
        """``n`` evenly spaced frames of the (first) clip, the first and last included."""
        return self._host.frames(self._state, n)

    @property
    def job_seed(self) -> int:
        """The seed the job used, asked of the provider (once; then kept in the log).

        Raises :class:`mjnb.InvalidArgument` where the provider cannot tell, and
        :class:`mjnb.NotReady` before the task has succeeded.
        """
        return self._host.job_seed(self._state)

    mask_path: _FromState[Path | None] = _FromState(
        "The mask sent with a vary region or edit (a grayscale PNG in the cache)."
    )
    cost: _FromState[float | None] = _FromState(
        "What the provider charged, in its own unit, where it says."
    )
    notice: _FromState[str | None] = _FromState(
        "A note about this task (e.g. the extra upscale an animate needed)."
    )

    @property
    def descriptions(self) -> list[str]:
        """The four prompt suggestions of a ``describe`` task."""
        return list(self.snapshot.descriptions)

    @property
    def image_url(self) -> str | None:
        return self.snapshot.image_url or self.snapshot.preview_url

    @property
    def elapsed(self) -> float:
        end = self.finished_at or datetime.now(timezone.utc)
        return (end - self.submitted_at).total_seconds()

    # -- images (decoded only when asked, then kept) -------------------------------------
    @property
    def image(self) -> Image:
        """The result as a PIL image (a 2x2 grid for imagine and variations).

        Raises :class:`mjnb.NotReady` without a result and :class:`mjnb.StorageError`
        when the cache file is gone or damaged.
        """
        return self._host.image(self._state)

    @property
    def tiles(self) -> Sequence[Image]:
        """The four tiles of a grid, split locally (or the four separate images).

        A sequence decoded on first access: ``len(task.tiles)`` costs no decode.
        """
        return self._host.tiles(self._state)

    def thumbnail(self, size: int = THUMBNAIL_SIZE, quality: int = JPEG_QUALITY) -> bytes:
        """A JPEG of the result at most ``size`` px, made once and kept in the cache."""
        return self._host.thumbnail(self._state, size, quality)

    # -- control -------------------------------------------------------------------------
    def cancel(self) -> str:
        """Cancel this task; returns one line saying what happened.

        Not sent yet: dropped at once (status ``cancelled``, never sent, not even by a
        later ``resume()``). Sent: cancelled at the provider where its protocol can;
        elsewhere the message says so and mjnb keeps polling, so the paid result is
        saved. Raises :class:`mjnb.NotReady` if the task has already ended.
        """
        return self._host.cancel(self)

    def refetch(self) -> Task:
        """Fetch the result of a task that ended without it, again; returns the task.

        For a job that was sent (it has a remote id) but whose result mjnb does not
        have: ``task_timeout`` stopped following it, the disk was full, the cache file
        was damaged or pruned. mjnb polls the job again (free: nothing is submitted)
        and downloads its image while the provider's URL is valid; ``wait()`` as usual.
        Raises :class:`mjnb.NotReady` for a running task or one never named remotely.
        """
        return self._host.refetch(self)

    # -- waiting -----------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> Task:
        """Block until the task ends (any thread but the engine's); returns the task.

        A failed task does not raise here: check ``task.status`` or call
        :meth:`raise_for_status`. Raises :class:`mjnb.Timeout` after ``timeout`` seconds.
        """
        self._host.check_blocking("Task.wait()")
        if not self._state.done.wait(timeout):
            raise Timeout(
                f"Task {self.id} is still {self.status} at {self.progress}% after {timeout} s; "
                "call wait() again to keep waiting."
            )
        return self

    def __await__(self) -> Generator[Any, None, Task]:
        return self.wait_async().__await__()

    async def wait_async(self) -> Task:
        """``await task.wait_async()`` is ``await task``: wait on any event loop."""
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[None] = loop.create_future()
        done = self._state.done

        def settle() -> None:
            if not ended.done():
                ended.set_result(None)

        def wake(task: Task) -> None:  # on the engine thread
            if done.is_set():
                loop.call_soon_threadsafe(settle)

        self.add_listener(wake)
        try:
            if not done.is_set():
                await ended
        finally:
            self.remove_listener(wake)
        return self

    def raise_for_status(self) -> Task:
        """Raise :class:`mjnb.TaskFailed` if the task failed or was cancelled."""
        if self.status in ("failed", "cancelled"):
            raise TaskFailed(f"Task {self.id} ({self.action}) {self.status}: {self.error}")
        return self

    # -- listeners (the notebook card observes a task) ----------------------------------
    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(task)`` on the engine thread after every change.

        A listener that raises is logged (``logging.getLogger("mjnb")``, with its
        traceback) and removed, so one broken view never stops the others.
        """
        self._state.listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._state.listeners:
            self._state.listeners.remove(listener)

    @property
    def listeners(self) -> tuple[Listener, ...]:
        """The listeners told of changes now (a copy)."""
        return tuple(self._state.listeners)

    # -- actions -----------------------------------------------------------------------
    def act(self, label: str, *, prompt: str | None = None, index: int | None = None) -> Task:
        """Start an action on this task (``"U2"``, ``"V3"``, ``"zoom 2x"`` ...).

        ``prompt`` sends it as a remix with that new prompt (V, pan, reroll, zoom and
        vary labels, where the provider has remix); ``index`` picks the clip of a batch
        for ``"upscale video"``.
        """
        return self._host.act(self, label, prompt=prompt, index=index)

    def animate(
        self,
        motion: str = "low",
        index: int | None = None,
        prompt: str | None = None,
        loop: bool = False,
        end: Any = None,
        batch: int = 1,
        raw: bool = False,
    ) -> Task:
        """Animate this image (``motion`` "low" or "high"); on a grid, tile ``index``.

        Where the protocol animates single images only, mjnb first upscales the tile
        (a second job, announced with a warning before it is sent).
        """
        return self._host.animate(
            self, motion, index=index, prompt=prompt, loop=loop, end=end, batch=batch, raw=raw
        )

    def extend(
        self, motion: str = "low", index: int | None = None, prompt: str | None = None
    ) -> Task:
        """Extend this clip (up to the provider's number of extensions)."""
        return self._host.extend(self, motion, index=index, prompt=prompt)

    def vary_region(self, mask: Any, prompt: str | None = None) -> Task:
        """Repaint the white part of ``mask`` (PIL image, numpy array or an
        ``(x0, y0, x1, y1)`` box in image pixels), optionally with a new prompt."""
        return self._host.vary_region(self, mask, prompt=prompt)

    def upscale(self, index: int) -> Task:
        return self.act(f"U{index}")

    def variation(self, index: int) -> Task:
        return self.act(f"V{index}")

    def reroll(self) -> Task:
        return self.act("reroll")

    def vary(self, strength: str = "subtle") -> Task:
        return self.act(f"vary {strength}")

    def zoom_out(self, factor: float = 2, prompt: str | None = None) -> Task:
        """Zoom out 1.0-2.0 (``"zoom custom"``; 1.5 and 2 without a prompt are the
        plain ``"zoom 1.5x"`` / ``"zoom 2x"`` buttons)."""
        return self._host.zoom_out(self, factor, prompt=prompt)

    def square(self) -> Task:
        return self.act("square")

    def pan(self, direction: str) -> Task:
        return self.act(f"pan {direction}")

    def upscale_image(self, kind: str = "subtle") -> Task:
        if kind not in UPSCALE_KINDS:
            raise InvalidArgument(
                f"upscale_image kind must be one of {', '.join(UPSCALE_KINDS)}, got {kind!r}."
            )
        return self.act(f"upscale {kind}")

    def __repr__(self) -> str:
        text = self.job.prompt if len(self.job.prompt) <= 40 else self.job.prompt[:37] + "..."
        detail = f" {self.error}" if self.status == "failed" and self.error else ""
        return (
            f"<Task {self.id} {self.provider} {self.action} {self.status} {self.progress}%"
            f"{' ' + repr(text) if text else ''}{detail}>"
        )
