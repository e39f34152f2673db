"""``TaskCard``: the live ipywidgets view of one :class:`~mjnb.task.Task`.

    >>> card = TaskCard(mj.imagine("a red fox --ar 3:2"))
    >>> card.show()                 # in a notebook: header, progress bar, image, buttons

The card observes its task; it holds no business logic. The engine thread tells the
task of every change, and the card only *requests* a render: renders run on one shared
``mjnb-render`` thread at most ``updates_per_second`` times per card (the final state
is always rendered, at once), so the engine never waits on widget traffic and updates
keep flowing while the user runs other cells.

While the task runs the image is its latest preview (``task.preview``, which the
engine fetches while a view listens), before that a grey placeholder of the prompt's
aspect ratio, and at the end the result. Images sent to the browser are small JPEG
thumbnails (``thumbnail_size`` px on the longest side), never full-size PNGs.

A displayed card also leaves a static output for places where no kernel runs (GitHub,
nbviewer, HTML exports): a one-line text summary and, once the task has finished, the
same JPEG thumbnail (see ``_repr_mimebundle_``).
``show()`` displays the card with a display id so that :meth:`publish_static` can
replace that output with the final state.
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
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import MJError

if TYPE_CHECKING:
    from IPython.display import DisplayHandle
    from PIL.Image import Image

    from ..task import Task

__all__ = [
    "DEFAULT_THUMBNAIL_SIZE",
    "DEFAULT_UPDATES_PER_SECOND",
    "LiveView",
    "TaskCard",
    "Throttle",
    "task_summary",
]

logger = logging.getLogger("mjnb")

DEFAULT_THUMBNAIL_SIZE = 256
DEFAULT_UPDATES_PER_SECOND = 4.0
DEFAULT_QUALITY = 70

_BAR_STYLES = {
    "queued": "",
    "running": "info",
    "succeeded": "success",
    "failed": "danger",
    "cancelled": "warning",
}
_STATUS_COLOURS = {
    "queued": "#666",
    "running": "#1565c0",
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "cancelled": "#ef6c00",
}
_TOOLTIPS = {
    "U": "Upscale image {n} of the grid",
    "V": "Make variations of image {n}",
}
_BLEND_RATIOS = {"square": (1, 1), "portrait": (2, 3), "landscape": (3, 2)}


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


# ----------------------------------------------------------------- plain text helpers


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _what(task: Task) -> str:
    """What the task does, in a few words: the prompt, ``U2 of <id>``, the blend inputs."""
    if task.job.kind == "action":
        return f"{task.action} of {task.parent_id}" if task.parent_id else task.action
    if task.job.kind in ("describe", "blend"):
        return f"{task.action} of {len(task.job.images)} image(s)"
    return task.job.prompt


def task_summary(task: Task, limit: int = 80) -> str:
    """One line for the saved notebook: ``[succeeded] 3f2a9c1b77aa imagine on local, ...``."""
    status: str = task.status
    if task.snapshot.status == "succeeded" and not task.done:
        status = "succeeded, fetching the image"
    elif status in ("queued", "running"):
        status = f"{status} {task.progress}%"
    action = task.action
    if task.job.kind == "action" and task.parent_id:
        action = f"{action} of {task.parent_id}"
    line = f"[{status}] {task.id} {action} on {task.provider}, {task.elapsed:.1f} s"
    what = _what(task) if task.job.kind != "action" else ""
    if what:
        line += f": {_shorten(what, limit)}"
    if task.status in ("failed", "cancelled") and task.error:
        line += f" - {_shorten(task.error, 160)}"
    elif task.status == "succeeded" and task.actions:
        line += f" (actions: {_compact_labels(task.actions)})"
    return line


def _compact_labels(labels: Sequence[str]) -> str:
    """``U1 U2 U3 U4 V1 ... reroll`` -> ``U1-U4, V1-V4, reroll``."""
    parts: list[str] = []
    for prefix in ("U", "V"):
        numbers = [label[1] for label in labels if len(label) == 2 and label[0] == prefix]
        if numbers == ["1", "2", "3", "4"]:
            parts.append(f"{prefix}1-{prefix}4")
        else:
            parts.extend(prefix + n for n in numbers)
    parts.extend(label for label in labels if not (len(label) == 2 and label[0] in "UV"))
    return ", ".join(parts)


def _aspect(task: Task) -> tuple[int, int]:
    """The width:height the result will have, as far as the task tells (for placeholders)."""
    if task.job.kind == "blend":
        return _BLEND_RATIOS.get(task.job.dimensions, (1, 1))
    ratio = task.prompt.params.get("ar") if task.prompt is not None else None
    if isinstance(ratio, str) and ":" in ratio:
        width, _, height = ratio.partition(":")
        if width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0:
            return int(width), int(height)
    return 1, 1


def _fit(ratio: tuple[int, int], size: int) -> tuple[int, int]:
    width, height = ratio
    if width >= height:
        return size, max(1, round(size * height / width))
    return max(1, round(size * width / height)), size


def _tooltip(label: str) -> str:
    if len(label) == 2 and label[0] in _TOOLTIPS:
        return _TOOLTIPS[label[0]].format(n=label[1])
    return label[0].upper() + label[1:]


# ------------------------------------------------------------------------------ images


def thumbnail_jpeg(image: Image, size: int, quality: int = DEFAULT_QUALITY) -> bytes:
    """``image`` shrunk to fit ``size`` px and encoded as JPEG (what cards send and save)."""
    from ..images import encode, fit_thumbnail

    return encode(fit_thumbnail(image, size), "JPEG", quality=quality)


def _placeholder(width: int, height: int) -> bytes:
    """A tiny neutral JPEG; the browser stretches it to ``width`` x ``height``."""
    from PIL import Image

    from ..images import encode

    small = Image.new("RGB", (max(1, width // 16), max(1, height // 16)), (228, 228, 228))
    return encode(small, "JPEG", quality=50)


def _image_size(data: bytes) -> tuple[int, int]:
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
            width, height = _image_size(jpeg)
            encoded = base64.b64encode(jpeg).decode("ascii")
            data["image/jpeg"] = encoded
            metadata["image/jpeg"] = {"width": width, "height": height}
            data["text/html"] = (
                f"<figure style='margin:4px 0'><img src='data:image/jpeg;base64,{encoded}' "
                f"width='{width}' height='{height}' alt='{html.escape(alt)}'>"
                f"<figcaption><code>{html.escape(summary)}</code></figcaption></figure>"
            )
        return data, metadata

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


class TaskCard(LiveView):
    """A live card for one task: header, progress bar, image, action buttons.

    ``thumbnail_size`` bounds the image sent to the browser (and saved in the
    notebook); ``updates_per_second`` bounds renders while the task runs;
    ``on_child(task)`` is called when a button starts a child task (the magic uses it
    to remember the last task). The child's card appears below this one.
    """

    def __init__(
        self,
        task: Task,
        *,
        thumbnail_size: int = DEFAULT_THUMBNAIL_SIZE,
        updates_per_second: float = DEFAULT_UPDATES_PER_SECOND,
        quality: int = DEFAULT_QUALITY,
        on_child: Callable[[Task], None] | None = None,
    ) -> None:
        if thumbnail_size < 16:
            raise ValueError(f"thumbnail_size must be at least 16 px, got {thumbnail_size}.")
        if updates_per_second <= 0:
            raise ValueError(f"updates_per_second must be positive, got {updates_per_second}.")
        self.task = task
        self.thumbnail_size = thumbnail_size
        self.quality = quality
        self.renders = 0
        # widgets with default looks share one Layout, and all buttons one Layout and
        # one style: every model is kept in a saved notebook's widget state
        plain = widgets.Layout()
        self.header = widgets.HTML(layout=plain)
        self.bar = widgets.IntProgress(
            min=0, max=100, layout=widgets.Layout(width=f"{thumbnail_size}px")
        )
        self.image = widgets.Image(format="jpeg")
        self.message = widgets.HTML(layout=plain)
        self.buttons = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.child_cards = widgets.VBox(layout=plain)
        self._button_layout = widgets.Layout(width="auto", min_width="44px")
        self._button_style = widgets.ButtonStyle()
        super().__init__(
            children=[
                self.header,
                self.bar,
                self.image,
                self.message,
                self.buttons,
                self.child_cards,
            ],
            layout=widgets.Layout(
                border="1px solid #ddd",
                padding="6px",
                margin="4px 0",
                width="max-content",
                max_width="100%",  # long action rows wrap instead of overflowing
            ),
        )
        # CSS hooks, so front-end tests (and user styles) can find the parts of a card
        self.add_class("mjnb-card")
        self.bar.add_class("mjnb-card-progress")
        self.image.add_class("mjnb-card-image")
        self.buttons.add_class("mjnb-card-actions")
        self._on_child = on_child
        self._lock = threading.RLock()
        self._thumb: bytes | None = None  # the final JPEG thumbnail, once made
        self._image_kind = ""  # "", "placeholder", "preview", "final", "none"
        self._preview: bytes | None = None  # the task's preview last shown
        self._action_error: str | None = None
        self._shown_actions: tuple[str, ...] = ()
        self._throttle = Throttle(self._render, 1.0 / updates_per_second)
        task.add_listener(self._on_change)
        self._render()
        if task.done:
            task.remove_listener(self._on_change)

    def __repr__(self) -> str:
        return f"<TaskCard {task_summary(self.task)}>"

    # -- state the card shows (read by tests and the magic) ------------------------------
    @property
    def finished(self) -> bool:
        """True once the task has ended and its result (if any) is on disk."""
        return self.task.done

    @property
    def summary(self) -> str:
        return task_summary(self.task)

    @property
    def thumbnail(self) -> bytes | None:
        """The final JPEG thumbnail (None until the task has succeeded with an image)."""
        return self._thumb

    # -- updates -------------------------------------------------------------------------
    def _on_change(self, task: Task) -> None:
        """Task listener, on the engine thread: only schedule a render."""
        self._throttle.request(urgent=task.done and not self._published)

    def _render(self) -> None:
        task = self.task
        with self._lock:
            finished = task.done
            with self.header.hold_sync(), self.bar.hold_sync():
                self.header.value = self._header_html(task)
                self.bar.value = task.progress
                self.bar.bar_style = _BAR_STYLES.get(task.status, "")
                self.bar.description = f"{task.progress}%"
            self._render_image(task, finished)
            self._render_message(task)
            self._render_buttons(task, finished)
            self.renders += 1
            final = finished and not self._published
            if final:
                self._published = True
                task.remove_listener(self._on_change)
        if final and self._live_static:
            self._update_display()

    def _header_html(self, task: Task) -> str:
        colour = _STATUS_COLOURS.get(task.status, "#666")
        status: str = task.status
        if task.snapshot.status == "succeeded" and not task.done:
            status = "fetching image"
        what = "" if task.job.kind == "action" else _what(task)
        return (
            f"<div style='font-family:sans-serif;font-size:13px;line-height:1.4'>"
            f"<b>{html.escape(task.provider)}</b> · <code>{html.escape(task.id)}</code> · "
            f"{html.escape(task.action)}"
            + (f" of <code>{html.escape(task.parent_id)}</code>" if task.parent_id else "")
            + f" · <span style='color:{colour}'>{html.escape(status)}</span>"
            f" · {task.elapsed:.1f} s"
            + (
                f"<br><span style='color:#555'>{html.escape(_shorten(what, 100))}</span>"
                if what
                else ""
            )
            + "</div>"
        )

    def _render_image(self, task: Task, finished: bool) -> None:
        if task.job.kind == "describe" or task.status in ("failed", "cancelled"):
            self._set_image("none", b"")
            return
        if finished and task.status == "succeeded":
            if self._thumb is None:
                try:
                    self._thumb = task.thumbnail(self.thumbnail_size, self.quality)
                except MJError:
                    self._set_image("none", b"")  # the message shows task.error
                    return
            self._set_image("final", self._thumb)
            return
        preview = task.preview  # the engine fetches previews while views watch a task
        if preview is not None and preview is not self._preview:
            self._preview = preview
            data = self._preview_bytes(preview)
            if data is not None:
                self._image_kind = ""  # every new preview is sent
                self._set_image("preview", data)
                return
        if self._image_kind in ("", "none"):
            width, height = _fit(_aspect(task), self.thumbnail_size)
            self._set_image("placeholder", _placeholder(width, height), (width, height))

    def _preview_bytes(self, preview: bytes) -> bytes | None:
        try:
            from ..images import open_image

            image = open_image(preview)
            return thumbnail_jpeg(image, self.thumbnail_size, max(30, self.quality - 20))
        except Exception:  # a damaged preview is not worth a failure; keep the placeholder
            return None

    def _set_image(self, kind: str, data: bytes, size: tuple[int, int] | None = None) -> None:
        if kind == self._image_kind:
            return
        self._image_kind = kind
        with self.image.hold_sync():
            if kind == "none":
                self.image.layout.display = "none"
                self.image.value = b""
                return
            width, height = size or _image_size(data)
            self.image.value = data
            self.image.width = str(width)
            self.image.height = str(height)
            self.image.layout.display = None

    def _render_message(self, task: Task) -> None:
        parts: list[str] = []
        if task.error and task.status in ("failed", "cancelled", "succeeded"):
            parts.append(f"<span style='color:#c62828'>{html.escape(task.error)}</span>")
        if task.status == "succeeded" and task.descriptions:
            items = "".join(f"<li>{html.escape(d)}</li>" for d in task.descriptions)
            parts.append(f"<ol style='margin:2px 0;padding-left:20px'>{items}</ol>")
        if self._action_error:
            parts.append(f"<span style='color:#c62828'>{html.escape(self._action_error)}</span>")
        value = "".join(f"<div style='font-size:13px;max-width:600px'>{p}</div>" for p in parts)
        if self.message.value != value:
            self.message.value = value

    def _render_buttons(self, task: Task, finished: bool) -> None:
        labels = tuple(task.actions) if finished else ()
        if labels == self._shown_actions:
            return
        self._shown_actions = labels
        buttons = []
        for label in labels:
            button = widgets.Button(
                description=label,
                tooltip=_tooltip(label),
                layout=self._button_layout,
                style=self._button_style,
            )
            button.on_click(partial(self._on_button, label))
            buttons.append(button)
        self.buttons.children = buttons

    # -- the one thing a click does: start the child task and show its card ---------------
    def _on_button(self, label: str, _button: widgets.Button | None = None) -> TaskCard | None:
        """Start action ``label``; the child's card goes below. Errors show in the card."""
        try:
            child = self.task.act(label)
        except Exception as exc:
            self._action_error = f"{label}: {exc}"
            if not isinstance(exc, MJError):
                logger.exception("mjnb: starting %s on %s failed", label, self.task.id)
                self._action_error = f"{label}: {type(exc).__name__}: {exc}"
            with self._lock:
                self._render_message(self.task)
            return None
        self._action_error = None
        card = TaskCard(
            child,
            thumbnail_size=self.thumbnail_size,
            updates_per_second=1.0 / self._throttle.interval,
            quality=self.quality,
            on_child=self._on_child,
        )
        card._live_static = False  # a child lives inside this card's widget only
        with self._lock:
            self._render_message(self.task)
            self.child_cards.children = (*self.child_cards.children, card)
        if self._on_child is not None:
            self._on_child(child)
        return card

    def click(self, label: str) -> TaskCard | None:
        """What pressing the ``label`` button does (for scripts and tests)."""
        return self._on_button(label)

    # -- static output -----------------------------------------------------------------------
    def _static(self) -> tuple[str, bytes | None, str]:
        return task_summary(self.task), self._thumb if self.task.done else None, self.task.id

    def _subject(self) -> str:
        return f"task {self.task.id}"
