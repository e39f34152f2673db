"""The ``%mj`` commands for video and the editor, mixed into :class:`MJMagic`.

    %mj animate high --index 2        # a clip from tile 2 of the last grid
    %mj extend low                    # extend the last clip
    %mj video ./start.png waves roll in --motion high
    %mj vary region                   # paint the region over the last image, Submit
    %mj seed                          # the seed the last job used
    %mj describe ./cat.png            # paths as well as URLs
    %mj blend a.png b.png

Each reads its line with the pure functions of :mod:`mjnb.notebook.commands` and calls
the Task / Client API once; whatever is refused (a grid without ``--index``, a provider
without video, a missing file) is one UsageError line and nothing is sent.
"""

from __future__ import annotations

import html
import os
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .cardtools import RegionEditor
from .commands import (
    image_arg,
    one_line,
    parse_animate,
    parse_extend,
    parse_options,
    parse_seed,
    parse_video,
)

if TYPE_CHECKING:
    from PIL.Image import Image

    from ..client import Client
    from ..task import Task
    from .views import Outputs, Views

__all__ = ["MediaCommands", "RegionTool"]


class RegionTool(widgets.VBox):
    """What ``%mj vary region`` shows: the painter over the task's image, a line for
    what Submit answered, and the cards of the tasks each Submit started."""

    def __init__(self, task: Task, views: Views, on_child: Any = None) -> None:
        self.task = task
        self._views = views
        self._on_child = on_child
        self.editor = RegionEditor(task, self.submit)
        self.message = widgets.HTML()
        self.child_cards = widgets.VBox()
        self.children_tasks: list[Task] = []
        super().__init__(children=[self.editor, self.message, self.child_cards])
        self.add_class("mjnb-region-tool")

    def submit(self, mask: Image, prompt: str | None = None) -> Task | None:
        """What the painter's Submit does: ``task.vary_region(mask, prompt=...)``."""
        from ..errors import MJError

        try:
            child: Task = self.task.vary_region(mask, prompt=prompt)
        except MJError as exc:
            self.message.value = (
                f"<span style='color:#c62828'>vary region: {html.escape(one_line(exc))}</span>"
            )
            return None
        self.message.value = ""
        self.children_tasks.append(child)
        card = self._views.card(child, on_child=self._on_child)
        self.child_cards.children = (*self.child_cards.children, card)
        if self._on_child is not None:
            self._on_child(child)
        return child


class MediaCommands:
    """``%mj animate|extend|video|seed|describe|blend`` and ``%mj vary region``."""

    # what MJMagic provides
    views: Views
    outputs: Outputs
    _last: Task | None
    #: the painter ``%mj vary region`` opened last (scripts and tests reach it here)
    region_tool: RegionTool | None = None

    @property
    def client(self) -> Client:
        raise NotImplementedError

    def _find(self, task_id: str, *, hint: str = "") -> Task:
        raise NotImplementedError

    def _show_task(self, task: Task) -> Task:
        raise NotImplementedError

    def _remember(self, task: Task) -> None:
        raise NotImplementedError

    def _target(self, task_id: str | None, command: str) -> Task:
        """The task a command acts on: the named one, else the last; it must be done."""
        from IPython.core.error import UsageError

        if task_id is None:
            task = self._last
            if task is None:
                raise UsageError(
                    f"There is no task to {command} yet: run %mj <prompt> first, or name one "
                    f"with %mj {command} ... <task_id>."
                )
        else:
            task = self._find(task_id)
        if not task.done:
            raise UsageError(
                f"Task {task.id} is still {task.status} ({task.progress}%); run %mj wait, "
                f"then %mj {command} again."
            )
        return task

    def _animate(self, rest: str) -> Task:
        args = parse_animate(rest)
        parent = self._target(args.task_id, "animate")
        options: dict[str, Any] = {"batch": args.batch, "loop": args.loop}
        if args.index is not None:
            options["index"] = args.index
        return self._show_task(parent.animate(args.motion, **options))

    def _extend(self, rest: str) -> Task:
        args = parse_extend(rest)
        parent = self._target(args.task_id, "extend")
        options: dict[str, Any] = {} if args.index is None else {"index": args.index}
        return self._show_task(parent.extend(args.motion, **options))

    def _video(self, rest: str) -> Task:
        args = parse_video(rest, cwd=os.getcwd())
        options: dict[str, Any] = {
            "prompt": args.prompt,
            "motion": args.motion,
            "loop": args.loop,
            "end": args.end,
            "batch": args.batch,
        }
        if args.raw:
            options["raw"] = True
        return self._show_task(self.client.animate(args.image, **options))

    def _seed(self, rest: str) -> int:
        """``%mj seed [<id>]``: the seed the job used (asked of the provider, logged)."""
        task = self._target(parse_seed(rest), "seed")
        return task.job_seed

    def _vary_region(self, task: Task) -> RegionTool:
        """``%mj vary region [<id>]``: the painter over the task's image (displayed)."""
        from IPython.display import display

        tool = RegionTool(task, self.views, on_child=self._remember)
        self.region_tool = tool
        display(tool)
        return tool

    def _describe(self, rest: str) -> Task:
        from IPython.core.error import UsageError

        try:
            import shlex

            words = shlex.split(rest)
        except ValueError as exc:
            raise UsageError(f"%mj describe: {exc}.") from None
        if len(words) != 1:
            raise UsageError(
                "Write one image URL or path after %mj describe, e.g. %mj describe ./cat.png."
            )
        image = image_arg(words[0], command="describe", cwd=os.getcwd())
        return self._show_task(self.client.describe(image))

    def _blend(self, rest: str) -> Task:
        options = parse_options(rest, ("dimensions",), command="blend")
        images = [image_arg(w, command="blend", cwd=os.getcwd()) for w in options.positional]
        return self._show_task(
            self.client.blend(images, dimensions=options.named.get("dimensions", "square"))
        )
