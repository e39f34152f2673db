"""The editor and video buttons of a card: which labels a card offers, and the small
tools some of them open (the remix prompt box, custom zoom, the mask painter).

    >>> card_labels(task)          # ("U1", ..., "vary region", "animate low", ...)
    >>> tools = CardTools(task, start=card._start)
    >>> tools.call_for("V2")       # () -> task.act("V2", prompt=...) while Remix is on

A card's click runs ``tools.call_for(label)``: a function that starts the child task
(the card shows the child below), or None when the label opened a tool instead (Vary
region opens the painter, whose Submit starts the task; Custom zoom opens a factor and
prompt box with its own button). The tools only call the Task API
(``task.act(label, prompt=)``, ``task.zoom_out(factor, prompt=)``,
``task.vary_region(mask, prompt=)``, ``task.animate(motion)``, ``task.extend(motion,
index=)``); whatever they refuse shows in the card as one line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..vocab import REMIX_ACTIONS

if TYPE_CHECKING:
    from PIL.Image import Image

    from ..task import Task
    from .painter import MaskPainter

__all__ = [
    "CardTools",
    "RegionEditor",
    "button_text",
    "card_labels",
    "current_prompt",
    "is_grid",
    "provider_features",
    "task_kind",
]

#: how the editor and video labels read on a button (the others read as they are)
BUTTON_TEXT = {
    "vary region": "Vary region",
    "zoom custom": "Custom zoom",
    "animate low": "Animate low",
    "animate high": "Animate high",
    "extend low": "Extend low",
    "extend high": "Extend high",
    "upscale video": "Upscale video",
}
_ANIMATE = ("animate low", "animate high")
ZOOM_RANGE = (1.0, 2.0)


def button_text(label: str) -> str:
    return BUTTON_TEXT.get(label, label)


def provider_features(task: Task) -> frozenset[str]:
    """What the task's provider can do beyond the basics (``AdapterBase.features``)."""
    from ..providers import PROVIDERS

    adapter = PROVIDERS.get(task.provider)
    return frozenset(getattr(adapter, "features", frozenset()))


def task_kind(task: Task) -> str:
    """``"video"``, ``"describe"`` or ``"image"`` (grids and single images)."""
    return task.kind


def is_grid(task: Task) -> bool:
    """A 2x2 grid (it offers U/V buttons): animate then needs a tile index."""
    return any(label in task.actions for label in ("U1", "V1"))


def current_prompt(task: Task) -> str:
    """The prompt a remix box starts from: the task's, else its job's text."""
    return str(task.prompt) if task.prompt is not None else task.job.prompt


def card_labels(task: Task) -> tuple[str, ...]:
    """The action buttons of a finished task: its actions, plus Animate low/high on a
    single image whose provider makes video (animate is an endpoint there, not a button)."""
    labels = list(task.actions)
    if (
        task.status == "succeeded"
        and task_kind(task) == "image"
        and not is_grid(task)
        and "video" in provider_features(task)
    ):
        labels += [label for label in _ANIMATE if label not in labels]
    return tuple(labels)


def _row(*children: widgets.Widget) -> widgets.HBox:
    return widgets.HBox(list(children), layout=widgets.Layout(align_items="center"))


class RegionEditor(widgets.VBox):
    """The mask painter over a task's image, with a prompt box for the region.

    Submit in the painter calls ``on_mask(mask, prompt)``: the mask a PIL ``L`` image
    (white = repaint) and the prompt None when the box still holds the task's prompt.
    """

    def __init__(self, task: Task, on_mask: Callable[[Image, str | None], Any]) -> None:
        from .painter import MaskPainter

        self.task = task
        self.original = current_prompt(task)
        self.prompt = widgets.Text(
            value=self.original,
            description="prompt",
            placeholder="what to paint in the region (optional)",
            layout=widgets.Layout(width="100%"),
        )
        self.prompt.add_class("mjnb-region-prompt")
        self.painter: MaskPainter = MaskPainter(task.image)
        self.painter.add_class("mjnb-region-painter")
        self._on_mask = on_mask
        self.painter.on_submit(self._submitted)
        super().__init__(children=[self.prompt, self.painter])
        self.add_class("mjnb-region-editor")

    def prompt_value(self) -> str | None:
        text = " ".join(self.prompt.value.split())
        return None if not text or text == " ".join(self.original.split()) else text

    def _submitted(self, mask: Image) -> None:
        self._on_mask(mask, self.prompt_value())


class CardTools(widgets.VBox):
    """The remix prompt box, the custom zoom box and the region painter of one card.

    ``start(label, call)`` is the card's: it runs ``call`` (which starts a task) and
    shows the child, or the error. ``clip_index()`` answers the 1-based clip Extend
    acts on (a video card sets it; None: the only clip).
    """

    def __init__(
        self,
        task: Task,
        *,
        start: Callable[[str, Callable[[], Task]], Any],
        layout: widgets.Layout | None = None,
    ) -> None:
        # the tools' widgets are made when first needed: every widget model of every
        # card is kept in a saved notebook's widget state
        self.task = task
        self._start = start
        self.clip_index: Callable[[], int | None] = lambda: None
        self._remix: widgets.ToggleButton | None = None
        self._tile: widgets.ToggleButtons | None = None
        self._remix_box: widgets.HBox | None = None
        self._zoom_box: widgets.HBox | None = None
        self.region: RegionEditor | None = None
        super().__init__(children=[], layout=layout)
        self.add_class("mjnb-card-tools")

    def _add(self, box: widgets.Widget) -> None:
        self.children = (*self.children, box)  # type: ignore[has-type]

    @property
    def remix(self) -> widgets.ToggleButton:
        """The Remix toggle: while on, V/pan/reroll/zoom buttons send the remix prompt."""
        if self._remix is None:
            self._remix = widgets.ToggleButton(
                value=False,
                description="Remix",
                icon="pencil",
                tooltip="Remix: the next V, pan, reroll or zoom button sends the prompt below",
                layout=widgets.Layout(width="auto"),
            )
            self._remix.add_class("mjnb-card-remix")
            self._remix.observe(self._on_remix, "value")
        return self._remix

    @property
    def remix_on(self) -> bool:
        return self._remix is not None and bool(self._remix.value)

    @property
    def remix_prompt(self) -> widgets.Textarea:
        if self._remix_box is None:
            prompt = widgets.Textarea(
                value=current_prompt(self.task),
                placeholder="the new prompt",
                layout=widgets.Layout(width="100%"),
            )
            prompt.add_class("mjnb-remix-prompt")
            self._remix_box = _row(widgets.HTML("<small>remix prompt</small>"), prompt)
            self._remix_box.layout.display = "none"
            self._add(self._remix_box)
        textarea: widgets.Textarea = self._remix_box.children[1]
        return textarea

    @property
    def remix_box(self) -> widgets.HBox:
        self.remix_prompt  # noqa: B018 (made on first use)
        assert self._remix_box is not None
        return self._remix_box

    @property
    def zoom_box(self) -> widgets.HBox:
        """Custom zoom: a factor (1.0-2.0), an optional prompt and a Zoom out button."""
        if self._zoom_box is None:
            self.zoom_factor = widgets.FloatSlider(
                value=1.5, min=ZOOM_RANGE[0], max=ZOOM_RANGE[1], step=0.05, description="zoom out"
            )
            self.zoom_prompt = widgets.Text(placeholder="prompt (optional)")
            self.zoom_go = widgets.Button(
                description="Zoom out", layout=widgets.Layout(width="auto")
            )
            self.zoom_go.add_class("mjnb-zoom-go")
            self.zoom_go.on_click(lambda _b: self.zoom())
            self._zoom_box = _row(self.zoom_factor, self.zoom_prompt, self.zoom_go)
            self._zoom_box.layout.display = "none"
            self._add(self._zoom_box)
        return self._zoom_box

    # -- what the card's buttons do ------------------------------------------------------
    def offer(self, labels: Sequence[str]) -> None:
        """The card's buttons are now ``labels``: show the Remix toggle (in this box,
        above the remix prompt) where the provider has remix for one of them."""
        if (
            self._remix is None
            and any(label in REMIX_ACTIONS for label in labels)
            and ("remix" in provider_features(self.task))
        ):
            self.children = (self.remix, *self.children)
        if self._tile is None and is_grid(self.task) and any(a in labels for a in _ANIMATE):
            self._tile = widgets.ToggleButtons(
                options=[("1", 1), ("2", 2), ("3", 3), ("4", 4)],
                value=1,
                description="animate tile",
                style={"button_width": "32px"},
            )
            self._tile.add_class("mjnb-card-tile")
            self.children = (self._tile, *self.children)

    @property
    def tile(self) -> int | None:
        """The grid tile Animate acts on (None: not a grid that animates)."""
        return None if self._tile is None else int(self._tile.value)

    def call_for(self, label: str) -> Callable[[], Task] | None:
        """What clicking ``label`` starts, or None when it opened a tool instead."""
        task = self.task
        if label == "vary region":
            self.toggle_region()
            return None
        if label == "zoom custom":
            self._show(self.zoom_box, self.zoom_box.layout.display == "none")
            if not self.zoom_prompt.value and self.remix_on:
                self.zoom_prompt.value = self.remix_prompt.value
            return None
        if label in _ANIMATE:
            if is_grid(task):  # the tile picked above the buttons
                return partial(task.animate, label.split()[1], index=self.tile or 1)
            return partial(task.animate, label.split()[1])
        if label in ("extend low", "extend high"):
            return partial(self._extend, label.split()[1])
        if label == "upscale video" and self.clip_index() is not None:
            return partial(task.act, label, index=self.clip_index())
        if self.remix_on and label in REMIX_ACTIONS:
            prompt = self.remix_prompt.value
            return partial(task.act, label, prompt=prompt)
        return partial(task.act, label)

    def _extend(self, motion: str) -> Task:
        index = self.clip_index()
        extend = self.task.extend
        child: Task = extend(motion) if index is None else extend(motion, index=index)
        return child

    # -- the tools -------------------------------------------------------------------------
    @staticmethod
    def _show(box: widgets.Widget, on: bool) -> None:
        box.layout.display = None if on else "none"

    def _on_remix(self, change: dict[str, Any]) -> None:
        self._show(self.remix_box, bool(change["new"]))

    def zoom(self) -> Any:
        """What the zoom box's button does: ``task.zoom_out(factor, prompt=...)``."""
        self.zoom_box  # noqa: B018 (made on first use)
        factor = round(float(self.zoom_factor.value), 2)
        prompt = " ".join(self.zoom_prompt.value.split()) or None
        zoom_out = self.task.zoom_out
        return self._start("zoom custom", partial(zoom_out, factor, prompt=prompt))

    def toggle_region(self) -> RegionEditor | None:
        """Open (or close) the mask painter over the image; its Submit varies the region."""
        if self.region is not None and self.region.layout.display != "none":
            self._show(self.region, False)
            return None
        if self.region is None:
            self.region = RegionEditor(self.task, self._vary_region)
            self._add(self.region)
        self._show(self.region, True)
        return self.region

    def _vary_region(self, mask: Image, prompt: str | None) -> Any:
        vary = self.task.vary_region
        return self._start("vary region", partial(vary, mask, prompt=prompt))
