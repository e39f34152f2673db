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

import html
import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

import ipywidgets as widgets

from ..errors import MJError
from ..vocab import BLEND_ASPECTS, JPEG_QUALITY, MIN_THUMBNAIL_SIZE, THUMBNAIL_SIZE
from .liveview import LiveView, Throttle, image_size, placeholder_jpeg, thumbnail_jpeg

if TYPE_CHECKING:
    from ..task import Task

__all__ = [
    "DEFAULT_UPDATES_PER_SECOND",
    "LiveView",
    "TaskCard",
    "Throttle",
    "task_summary",
]

logger = logging.getLogger("mjnb")

DEFAULT_UPDATES_PER_SECOND = 4.0

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
    ratio: object
    if task.job.kind == "blend":
        ratio = BLEND_ASPECTS.get(task.job.dimensions, "1:1")
    else:
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
        thumbnail_size: int = THUMBNAIL_SIZE,
        updates_per_second: float = DEFAULT_UPDATES_PER_SECOND,
        quality: int = JPEG_QUALITY,
        on_child: Callable[[Task], None] | None = None,
    ) -> None:
        if thumbnail_size < MIN_THUMBNAIL_SIZE:
            raise ValueError(
                f"thumbnail_size must be at least {MIN_THUMBNAIL_SIZE} px, got {thumbnail_size}."
            )
        if updates_per_second <= 0:
            raise ValueError(f"updates_per_second must be positive, got {updates_per_second}.")
        self.task = task
        self.thumbnail_size = thumbnail_size
        self.quality = quality
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
        self.cancel_button = widgets.Button(
            description="Cancel",
            icon="stop",
            tooltip="Cancel this task: dropped if not sent yet, else stopped at the provider "
            "where its protocol can (the card says which)",
            layout=self._button_layout,
        )
        self.cancel_button.add_class("mjnb-card-cancel")
        self.cancel_button.on_click(lambda _button: self.cancel())
        self.controls = widgets.HBox([self.cancel_button], layout=widgets.Layout())
        super().__init__(
            children=[
                self.header,
                self.bar,
                self.image,
                self.message,
                self.controls,
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
        self._image_error = ""  # why the final image cannot be shown (a damaged cache file)
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
            final = self._rendered(finished)
        self._after_render(final)

    def _unsubscribe(self) -> None:
        self.task.remove_listener(self._on_change)

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
                except MJError as exc:  # a damaged or pruned cache file: say why, and how
                    self._image_error = str(exc)
                    self._set_image("none", b"")
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
            self._set_image("placeholder", placeholder_jpeg(width, height), (width, height))

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
            width, height = size or image_size(data)
            self.image.value = data
            self.image.width = str(width)
            self.image.height = str(height)
            self.image.layout.display = None

    def _render_message(self, task: Task) -> None:
        parts: list[str] = []
        if task.error and task.status in ("failed", "cancelled", "succeeded"):
            parts.append(f"<span style='color:#c62828'>{html.escape(task.error)}</span>")
        if self._image_error:
            parts.append(f"<span style='color:#c62828'>{html.escape(self._image_error)}</span>")
        if task.status == "succeeded" and task.descriptions:
            items = "".join(f"<li>{html.escape(d)}</li>" for d in task.descriptions)
            parts.append(f"<ol style='margin:2px 0;padding-left:20px'>{items}</ol>")
        if self._action_error:
            parts.append(f"<span style='color:#c62828'>{html.escape(self._action_error)}</span>")
        if self.control_message:
            parts.append(f"<span style='color:#ef6c00'>{html.escape(self.control_message)}</span>")
        value = "".join(f"<div style='font-size:13px;max-width:600px'>{p}</div>" for p in parts)
        if self.message.value != value:
            self.message.value = value

    def _render_buttons(self, task: Task, finished: bool) -> None:
        # Cancel while the task runs; once it has ended, its actions
        self.controls.layout.display = "none" if finished else None
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

    def cancel(self) -> str:
        """What the Cancel button does: ``task.cancel()``; the card shows the line it
        answers (dropped, cancelled at the provider, or cannot cancel: still polled)."""
        self.cancel_button.disabled = True  # one click is the whole request
        return self._control("Cancel", lambda: self.task.cancel())

    # -- static output -----------------------------------------------------------------------
    def _static(self) -> tuple[str, bytes | None, str]:
        return task_summary(self.task), self._thumb if self.task.done else None, self.task.id

    def _subject(self) -> str:
        return f"task {self.task.id}"
