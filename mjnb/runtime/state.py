"""TaskState: everything about one task that changes, in one object, and the one way
a task ends.

Only the :class:`~mjnb.runtime.runner.Runner` writes a TaskState (on the engine loop);
:class:`mjnb.Task` is a read-only view over it, and views listen to it. Two things
here are not "state" in that sense and say so: the listener list (views add and
remove themselves) and :class:`Pixels`, a memo of decoded images that whoever first
asks fills in (the pixels are derived from the cache file, never the other way round).

:meth:`TaskState.finish` is the end-of-task sequence, the only one: stamp the end,
write the final log row, wake the waiters, tell the listeners. It cannot raise: a
final write that fails is retried in a minimal form, so a row never stays "running"
for a task that ended, and waiters always wake.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass as _dataclass
from dataclasses import field, fields
from dataclasses import replace as _replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..providers.base import Job, Snapshot
from ..vocab import TERMINAL, Status

if TYPE_CHECKING:
    from ..prompt import Prompt

logger = logging.getLogger("mjnb")
T = TypeVar("T")
Listener = Callable[[Any], None]
#: the snapshot fields whose change is worth a log write and a view update
SEEN = ("status", "progress", "image_url", "preview_url", "remote_id", "error", "video_urls")


class Pixels:
    """Decoded images of one task, made on first use and kept (thread-safe memo)."""

    def __init__(self) -> None:
        self._made: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: str, make: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._made:
                self._made[key] = make()
            return self._made[key]

    def peek(self, key: str) -> Any:
        """The memo for ``key`` if it was made, else None (never decodes)."""
        return self._made.get(key)

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._made[key] = value


@_dataclass(eq=False)
class TaskState:
    """One task's mutable state. Written only by the runner; read by :class:`mjnb.Task`."""

    id: str
    job: Job
    provider: str
    prompt: Prompt | None = None
    parent_id: str | None = None
    sweep_id: str | None = None
    submitted_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    started_at: datetime | None = None
    finished_at: datetime | None = None
    image_path: Path | None = None
    image_paths: tuple[Path, ...] = ()  # separate images, when the provider sends 4
    snapshot: Snapshot = field(default_factory=lambda: Snapshot(status="queued"))
    #: the latest low-resolution preview (encoded image bytes) while running, for views
    preview: bytes | None = None
    #: mjnb's own reason (a failed download, a stall); wins over the provider's error
    error: str | None = None
    #: a request for this job may have left the machine: it must never be sent again
    sending: bool = False
    #: the user cancelled it before it was sent
    cancelled: bool = False
    #: the job was sent (it has a remote id) but its result is not here: the
    #: task_timeout gave up on it, or the disk could not take the download;
    #: ``mj.resume()`` (or ``task.refetch()``) polls it and downloads it again
    unfetched: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    listeners: list[Listener] = field(default_factory=list)
    #: what listeners receive (the Task view); set once by whoever builds the view
    view: Any = None
    pixels: Pixels = field(default_factory=Pixels)
    # -- media (video and the editor) ---------------------------------------------------
    #: "image", "video" or "describe" (the log's ``kind``)
    kind: str = "image"
    #: the clips of a video job, downloaded and probed (``<sha>.mp4`` in the cache)
    video_paths: tuple[Path, ...] = ()
    #: the vary-region / edit mask as sent (a grayscale PNG in the cache)
    mask_path: Path | None = None
    #: what the log keeps of the job's own inputs (:mod:`.kept`: URLs, cache files)
    inputs: dict[str, Any] | None = None
    #: rebuilt from its log row and never sent: the job's local inputs are still in the
    #: cache files ``inputs`` names, and are read back right before it is sent
    restore: bool = False
    #: the seed the provider says the job used (asked on demand)
    job_seed: int | None = None
    #: what the provider charged, in its own unit, where it says
    cost: float | None = None
    #: a task this one starts from once it has succeeded (the U<n> before an animate)
    waits_for: TaskState | None = None
    #: a notice for the user about this task (the extra upscale it needs ...)
    notice: str | None = None

    # -- what users see -----------------------------------------------------------------
    @property
    def status(self) -> Status:
        """The status users see: a job the provider finished reads ``running`` (at
        100%) until its image is downloaded, so ``succeeded`` means the result is here."""
        if self.snapshot.status == "succeeded" and not self.done.is_set():
            return "running"
        return self.snapshot.status

    @property
    def reason(self) -> str | None:
        """mjnb's own reason if it has one, else the provider's error."""
        return self.error or self.snapshot.error

    # -- readings -----------------------------------------------------------------------
    def apply(self, snapshot: Snapshot) -> bool:
        """Take a new reading; True if anything worth logging or showing changed.

        Once known, a remote id is never forgotten: a reading without one (an NDJSON
        line before the id, a garbled poll) keeps the old id, so no later state can make
        a sent task look unsent.
        """
        old = self.snapshot
        if not snapshot.remote_id and old.remote_id:
            snapshot = _replace(snapshot, remote_id=old.remote_id)
        # a provider may send progress backwards (preview restarts); never show that
        if snapshot.progress < old.progress and snapshot.status == old.status:
            snapshot = _replace(snapshot, progress=old.progress)
        if snapshot.status == "succeeded":
            snapshot = _replace(snapshot, progress=100)
        self.snapshot = snapshot
        if snapshot.status == "running" and self.started_at is None:
            self.started_at = datetime.now(timezone.utc)
        return any(getattr(old, name) != getattr(snapshot, name) for name in SEEN)

    def fail(self, reason: str, status: str = "failed") -> None:
        self.error = reason
        self.snapshot = _replace(self.snapshot, status=status)  # type: ignore[arg-type]

    # -- listeners ----------------------------------------------------------------------
    def notify(self) -> None:
        """Tell every listener of a change (on the engine thread).

        A listener that raises is logged with its traceback and removed: a view that
        broke once would most likely break on every change, and one broken view must
        never slow the engine or hide the others' updates.
        """
        for listener in list(self.listeners):
            try:
                listener(self.view)
            except Exception:
                logger.exception(
                    "mjnb: a listener of task %s raised; it was removed and gets no more updates",
                    self.id,
                )
                if listener in self.listeners:
                    self.listeners.remove(listener)

    # -- the end ------------------------------------------------------------------------
    def finish(
        self, record: Callable[[TaskState], None], fallback: Callable[[TaskState], None]
    ) -> None:
        """The end-of-task sequence: final log write, then wake waiters, then listeners.

        ``record`` writes the final row; if it raises, ``fallback`` writes a minimal one
        (status, error, remote id). Nothing here raises: every step is guarded, so the
        task always ends, its waiters always wake and its row is as final as the disk
        allows.
        """
        try:
            if self.snapshot.status not in TERMINAL:
                self.fail(
                    self.error
                    or "mjnb stopped following this task before it ended; please report it."
                )
            self._stamp_end()
        except Exception:
            logger.exception("mjnb: could not stamp the end of task %s", self.id)
            self.finished_at = self.finished_at or datetime.now(timezone.utc)
            self.started_at = self.started_at or self.finished_at
        try:
            record(self)
        except Exception:
            logger.exception("mjnb: the final log write of task %s failed", self.id)
            try:
                fallback(self)
            except Exception:
                logger.exception("mjnb: the fallback log write of task %s failed too", self.id)
        self.done.set()
        self.notify()

    def _stamp_end(self) -> None:
        """Stamp the end. When no reading saw the job running (the first poll found it
        done), the times the provider reported, if any, stand in (clamped to the submit
        time and now)."""
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
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                if math.isfinite(value):
                    return datetime.fromtimestamp(value, timezone.utc)
            except (OverflowError, OSError, ValueError):
                return None  # a provider's impossible time: ours stands
        return None


# -------------------------------------------------------------- what the log keeps


_SNAPSHOT_FIELDS = tuple(f.name for f in fields(Snapshot))


def snapshot_state(
    snapshot: Snapshot, *, sending: bool = False, unfetched: bool = False
) -> dict[str, Any]:
    """What the log keeps of a snapshot to resume polling after a restart.

    ``sending`` is kept with it: the mark that a request may have left the machine
    survives every later write, so a restart never sends the job again.
    """
    # a shallow copy: the log encodes it to JSON at once (asdict deep-copies every value)
    state = {name: getattr(snapshot, name) for name in _SNAPSHOT_FIELDS}
    state["wire"] = dict(snapshot.wire)
    state["extra"] = dict(snapshot.extra)
    if sending:
        state["sending"] = True
    if unfetched:
        state["unfetched"] = True
    return state


def snapshot_from_state(state: Mapping[str, Any]) -> Snapshot:
    return Snapshot(
        status=state.get("status", "queued"),
        progress=int(state.get("progress") or 0),
        remote_id=state.get("remote_id"),
        image_url=state.get("image_url"),
        preview_url=state.get("preview_url"),
        image_urls=tuple(state.get("image_urls") or ()),
        video_urls=tuple(state.get("video_urls") or ()),
        wire=dict(state.get("wire") or {}),
        error=state.get("error"),
        descriptions=tuple(state.get("descriptions") or ()),
        extra=dict(state.get("extra") or {}),
    )
