"""A Task: one Midjourney job, as the user sees it.

A Task is a live view. The engine thread replaces its :class:`Snapshot` as the
provider reports progress; the user's thread reads it. ``wait()`` blocks,
``await task`` awaits, and listeners (the notebook card) are told of every change.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Generator
from dataclasses import replace as _replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import MJError, TaskFailed, Timeout
from .providers.base import Job, Snapshot, Status

if TYPE_CHECKING:
    from PIL.Image import Image

    from .client import Client
    from .prompt import Prompt

Listener = Callable[["Task"], None]

_UPSCALE_KINDS = ("subtle", "creative", "2x", "4x")


class Task:
    """One job on one provider. Created by ``Client.imagine``/``act``; never by hand."""

    def __init__(
        self,
        client: Client,
        task_id: str,
        job: Job,
        *,
        prompt: Prompt | None = None,
        parent_id: str | None = None,
        sweep_id: str | None = None,
        submitted_at: datetime | None = None,
    ) -> None:
        self.id = task_id
        self.job = job
        self.prompt = prompt
        self.parent_id = parent_id
        self.sweep_id = sweep_id
        self.provider: str = client.provider
        self.submitted_at = submitted_at or datetime.now(timezone.utc)
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.image_path: Path | None = None
        self.image_paths: tuple[Path, ...] = ()  # separate images, when the provider sends 4
        self.snapshot = Snapshot(status="queued")
        #: the latest low-resolution preview (encoded image bytes) while running, for views
        self.preview: bytes | None = None
        self._error: str | None = None
        self._client = client
        self._done = threading.Event()
        self._listeners: list[Listener] = []
        self._image: Image | None = None
        self._tiles: list[Image] | None = None

    # -- state -------------------------------------------------------------------------
    @property
    def status(self) -> Status:
        """queued, running, succeeded, failed or cancelled.

        A job the provider finished reads ``running`` (at 100%) until its image is
        downloaded, so ``succeeded`` always means the result is here.
        """
        if self.snapshot.status == "succeeded" and not self._done.is_set():
            return "running"
        return self.snapshot.status

    @property
    def progress(self) -> int:
        return self.snapshot.progress

    @property
    def error(self) -> str | None:
        return self._error or self.snapshot.error

    @property
    def done(self) -> bool:
        """True once the task has ended and its result, if any, is downloaded."""
        return self._done.is_set()

    @property
    def action(self) -> str:
        """``imagine``, ``describe``, ``blend`` or the action label (``U2``, ``zoom 2x`` ...)."""
        return self.job.label if self.job.kind == "action" and self.job.label else self.job.kind

    @property
    def actions(self) -> list[str]:
        """Action labels valid now (empty until the task has succeeded)."""
        return self.snapshot.actions if self.status == "succeeded" else []

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

    # -- images ------------------------------------------------------------------------
    @property
    def image(self) -> Image:
        """The result as a PIL image (a 2x2 grid for imagine and variations)."""
        if self._image is None:
            from .images import compose_grid, open_image

            if self.image_path is not None:
                if not self.image_path.exists():
                    raise MJError(
                        f"Task {self.id}'s image {self.image_path} is no longer in the cache "
                        "(pruned?); run the prompt again to get a new one."
                    )
                self._image = open_image(self.image_path)
            elif self.image_paths:
                self._image = compose_grid([open_image(p) for p in self.image_paths])
            else:
                raise MJError(self._no_image_reason())
        return self._image

    @property
    def tiles(self) -> list[Image]:
        """The four tiles of a grid, split locally (or the four separate images)."""
        if self._tiles is None:
            from .images import open_image, split_grid

            if self.image_paths:
                self._tiles = [open_image(p) for p in self.image_paths]
            else:
                self._tiles = split_grid(self.image)
        return self._tiles

    def thumbnail(self, size: int = 256, quality: int = 80) -> bytes:
        """A JPEG of the result at most ``size`` px, made once and kept in the cache."""
        from .images import encode, fit_thumbnail

        if self.image_path is None or not self.image_path.exists():
            # nothing in the cache to name it after (self.image says why, if pruned)
            return encode(fit_thumbnail(self.image, size), "JPEG", quality=quality)
        return self._client._images.thumbnail_bytes(
            self.image_path, size, quality=quality, image=self._image
        )

    def _no_image_reason(self) -> str:
        if self.status == "succeeded" and self.error:
            return f"Task {self.id} succeeded but its image is missing: {self.error}"
        if self.status == "succeeded":
            return f"Task {self.id} ({self.action}) has no image; it produced text."
        if self.done:
            return f"Task {self.id} {self.status} and has no image: {self.error}."
        return f"Task {self.id} is still {self.status}; call task.wait() first."

    # -- waiting -----------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> Task:
        """Block until the task ends (any thread but the engine's); returns the task.

        A failed task does not raise here: check ``task.status`` or call
        :meth:`raise_for_status`. Raises :class:`mjnb.Timeout` after ``timeout`` seconds.
        """
        self._client._engine.check_not_engine_thread("Task.wait()")
        if not self._done.wait(timeout):
            raise Timeout(
                f"Task {self.id} is still {self.status} at {self.progress}% after {timeout} s; "
                "call wait() again to keep waiting."
            )
        return self

    def __await__(self) -> Generator[Any, None, Task]:
        return self._wait_async().__await__()

    async def _wait_async(self) -> Task:
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not ended.done():
                ended.set_result(None)

        def wake(task: Task) -> None:  # on the engine thread
            if task._done.is_set():
                loop.call_soon_threadsafe(settle)

        self.add_listener(wake)
        try:
            if not self._done.is_set():
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
        """Call ``listener(task)`` on the engine thread after every change."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            try:
                listener(self)
            except Exception:  # a broken view must never stop the engine
                self._listeners.remove(listener)

    def _apply(self, snapshot: Snapshot) -> bool:
        """Take a new reading; True if anything worth logging or showing changed."""
        old = self.snapshot
        # a provider may send progress backwards (preview restarts); never show that
        if snapshot.progress < old.progress and snapshot.status == old.status:
            snapshot = _replace(snapshot, progress=old.progress)
        if snapshot.status == "succeeded":
            snapshot = _replace(snapshot, progress=100)
        self.snapshot = snapshot
        if snapshot.status == "running" and self.started_at is None:
            self.started_at = datetime.now(timezone.utc)
        seen = ("status", "progress", "image_url", "preview_url", "remote_id", "error")
        return any(getattr(old, name) != getattr(snapshot, name) for name in seen)

    def _fail(self, reason: str) -> None:
        self._error = reason
        self.snapshot = _replace(self.snapshot, status="failed")

    def _end(self) -> None:
        """Stamp the end; the engine logs the final state, then calls :meth:`_finish`.

        When no reading saw the job running (the first poll found it done), the times the
        provider reported, if any, stand in (clamped to the submit time and now).
        """
        now = datetime.now(timezone.utc)
        if self.finished_at is None:
            self.finished_at = now
            if self.started_at is None and (finished := self._reported("finished_at")):
                self.finished_at = min(max(finished, self.submitted_at), now)
        if self.started_at is None:
            started = self._reported("started_at") or self.finished_at
            self.started_at = min(max(started, self.submitted_at), self.finished_at)

    def _reported(self, key: str) -> datetime | None:
        value = self.snapshot.extra.get(key)
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, timezone.utc)
        return None

    def _finish(self) -> None:
        """Wake every waiter and view: the task has ended and its result is here."""
        self._end()
        self._done.set()
        self._changed()

    # -- actions -----------------------------------------------------------------------
    def act(self, label: str) -> Task:
        """Start an action on this task (``"U2"``, ``"V3"``, ``"zoom 2x"`` ...)."""
        return self._client.act(self, label)

    def upscale(self, index: int) -> Task:
        return self.act(f"U{index}")

    def variation(self, index: int) -> Task:
        return self.act(f"V{index}")

    def reroll(self) -> Task:
        return self.act("reroll")

    def vary(self, strength: str = "subtle") -> Task:
        return self.act(f"vary {strength}")

    def zoom_out(self, factor: float = 2) -> Task:
        return self.act(f"zoom {factor:g}x")

    def square(self) -> Task:
        return self.act("square")

    def pan(self, direction: str) -> Task:
        return self.act(f"pan {direction}")

    def upscale_image(self, kind: str = "subtle") -> Task:
        if kind not in _UPSCALE_KINDS:
            raise MJError(f"upscale_image kind must be one of {', '.join(_UPSCALE_KINDS)}.")
        return self.act(f"upscale {kind}")

    def __repr__(self) -> str:
        text = self.job.prompt if len(self.job.prompt) <= 40 else self.job.prompt[:37] + "..."
        detail = f" {self.error}" if self.status == "failed" and self.error else ""
        return (
            f"<Task {self.id} {self.provider} {self.action} {self.status} {self.progress}%"
            f"{' ' + repr(text) if text else ''}{detail}>"
        )
