"""What every live view (task card, sweep view) shares: throttled renders on one
render thread, the final-state steps, a Stop/Cancel control, and the static output
saved notebooks keep.

Renders never run on the engine thread: a task's listener only *requests* one
(:class:`Throttle`), and the shared ``mjnb-render`` thread runs it. When a view reaches
its final state, :meth:`LiveView._settle` stops listening and (in a kernel) replaces
the displayed output with the static state, once.
"""

from __future__ import annotations

import base64
import heapq
import html
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import MJError
from ..vocab import JPEG_QUALITY

if TYPE_CHECKING:
    from IPython.display import DisplayHandle
    from PIL.Image import Image

__all__ = ["LiveView", "Throttle", "image_size", "placeholder_jpeg", "thumbnail_jpeg"]

logger = logging.getLogger("mjnb")


# ------------------------------------------------------------------------- throttling


class _Scheduler:
    """One daemon thread that runs due :class:`Throttle` calls in deadline order."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Throttle]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, throttle: Throttle, due: float) -> None:
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._order), throttle))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="mjnb-render", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                due, _, throttle = self._heap[0]
                delay = due - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
            throttle._fire(due)


_scheduler = _Scheduler()


class Throttle:
    """Calls ``fn`` at most once per ``interval`` seconds; a request is never lost.

    :meth:`request` is cheap and safe from any thread (the engine's included): it
    schedules one call of ``fn`` on the shared render thread, no sooner than
    ``interval`` after the previous call. Requests that arrive while one is pending
    merge into it. ``urgent=True`` (the final state) runs as soon as possible.
    :meth:`flush` runs a pending call at once on the calling thread.
    """

    def __init__(self, fn: Callable[[], None], interval: float) -> None:
        self._fn = fn
        self.interval = interval
        self.calls = 0
        self._lock = threading.Lock()
        self._due: float | None = None
        self._last = -math.inf

    def request(self, *, urgent: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            due = now if urgent else max(now, self._last + self.interval)
            if self._due is not None and self._due <= due:
                return  # a call at least as early is already scheduled
            self._due = due
        _scheduler.schedule(self, due)

    @property
    def pending(self) -> bool:
        return self._due is not None

    def flush(self) -> None:
        with self._lock:
            if self._due is None:
                return
            self._due = None
            self._last = time.monotonic()
        self._call()

    def _fire(self, due: float) -> None:
        with self._lock:
            if self._due != due:
                return  # superseded by an earlier request, or flushed
            self._due = None
            self._last = time.monotonic()
        self._call()

    def _call(self) -> None:
        self.calls += 1
        try:
            self._fn()
        except Exception:  # a broken render must not kill the render thread
            logger.exception("mjnb: rendering a notebook view failed")


# ------------------------------------------------------------------------------ images


def thumbnail_jpeg(image: Image, size: int, quality: int = JPEG_QUALITY) -> bytes:
    """``image`` shrunk to fit ``size`` px and encoded as JPEG (what cards send and save)."""
    from ..images import encode, fit_thumbnail

    return encode(fit_thumbnail(image, size), "JPEG", quality=quality)


def placeholder_jpeg(width: int, height: int) -> bytes:
    """A tiny neutral JPEG; the browser stretches it to ``width`` x ``height``."""
    from PIL import Image

    from ..images import encode

    small = Image.new("RGB", (max(1, width // 16), max(1, height // 16)), (228, 228, 228))
    return encode(small, "JPEG", quality=50)


def image_size(data: bytes) -> tuple[int, int]:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as probe:
        return probe.size


# -------------------------------------------------------------------------------- views


class LiveView(widgets.VBox):
    """What a task card and a sweep view share: throttled renders, a display id, and a
    static output for saved notebooks.

    A subclass renders its state in ``_render`` (setting ``_published`` once the final
    state is shown) and says what the static output holds in ``_static``.
    """

    _lock: threading.RLock
    _throttle: Throttle
    _published = False
    _display_handle: DisplayHandle | None = None
    _live_static = False
    renders = 0
    #: the last line a Cancel/Stop/Resume click answered (also shown in the view)
    control_message: str | None = None

    @property
    def finished(self) -> bool:
        """True once what the view shows has ended (the final state may not be rendered)."""
        raise NotImplementedError

    def _render(self) -> None:
        raise NotImplementedError

    def _static(self) -> tuple[str, bytes | None, str]:
        """The summary line, the final JPEG (None until finished) and its alt text."""
        raise NotImplementedError

    def _subject(self) -> str:
        """What the view shows, for log messages: ``"task <id>"``."""
        raise NotImplementedError

    def _unsubscribe(self) -> None:
        """Stop listening to the task or sweep (its final state is rendered)."""
        raise NotImplementedError

    # -- the final-state steps every render ends with ------------------------------------
    def _rendered(self, finished: bool) -> bool:
        """Count a render (lock held); the first render of the final state stops
        listening and answers True: pass it to :meth:`_after_render`."""
        self.renders += 1
        if not finished or self._published:
            return False
        self._published = True
        self._unsubscribe()
        return True

    def _after_render(self, final: bool) -> None:
        """Outside the lock: once final, replace the displayed output (in a kernel)."""
        if final and self._live_static:
            self._update_display()

    # -- Cancel / Stop / Resume: call the API, show its one-line answer ------------------
    def _control(self, what: str, call: Callable[[], str]) -> str:
        """What a control button does: ``call()`` and show the line it answers (or the
        error, in one line) in the view. Never raises: a click has no one to raise to."""
        try:
            message = call()
        except MJError as exc:
            message = " ".join(str(exc).split())
        except Exception as exc:  # a bug, not a user error: keep the traceback in the log
            logger.exception("mjnb: %s on %s failed", what, self._subject())
            message = f"{what}: {type(exc).__name__}: {exc}"
        self.control_message = message
        self.flush()
        return message

    @property
    def settled(self) -> bool:
        """True once the final state has been rendered (nothing more will change)."""
        return self._published

    def flush(self) -> None:
        """Render the current state now, on this thread (pending or not)."""
        self._throttle.flush()
        self._render()

    # -- static output for saved notebooks -------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        data: dict[str, Any] = dict(super()._repr_mimebundle_(**kwargs) or {})
        metadata: dict[str, Any] = {}
        with self._lock:
            summary, jpeg, alt = self._static()
        data["text/plain"] = summary
        if jpeg is not None:
            width, height = image_size(jpeg)
            encoded = base64.b64encode(jpeg).decode("ascii")
            data["image/jpeg"] = encoded
            metadata["image/jpeg"] = {"width": width, "height": height}
            data["text/html"] = self._static_html(encoded, (width, height), alt, summary)
        return data, metadata

    def _static_html(self, jpeg_b64: str, size: tuple[int, int], alt: str, summary: str) -> str:
        """The saved notebook's HTML figure: the final JPEG and the summary line (a
        video card shows its clips' animated previews instead)."""
        width, height = size
        return (
            f"<figure style='margin:4px 0'><img src='data:image/jpeg;base64,{jpeg_b64}' "
            f"width='{width}' height='{height}' alt='{html.escape(alt)}'>"
            f"<figcaption><code>{html.escape(summary)}</code></figcaption></figure>"
        )

    def show(self, *, live_static: bool = False) -> DisplayHandle | None:
        """Display the view with a display id (so :meth:`publish_static` can replace it).

        ``live_static=True`` also replaces the output from the render thread when the
        view reaches its final state (use it inside a Jupyter kernel only).
        """
        from IPython.display import display

        handle = display(self, display_id=True)
        self._display_handle = handle if handle is not None else None
        self._live_static = live_static and self._display_handle is not None
        return self._display_handle

    def publish_static(self) -> bool:
        """Replace the displayed output with the current state; True if it was displayed.

        Call it on the kernel's main thread (the magic does, after each cell and in
        ``%mj wait``), so the saved notebook holds the final image and summary.
        """
        self.flush()
        return self._update_display()

    def _update_display(self) -> bool:
        handle = self._display_handle
        if handle is None:
            return False
        try:
            handle.update(self)
        except Exception:  # the output area may be gone (cleared cell, closed notebook)
            logger.debug("mjnb: could not update the output of %s", self._subject())
            return False
        return True
