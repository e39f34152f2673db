"""The Session's video sweep cells: ``check_video`` and ``start_video`` of the
:class:`~mjnb.sweep.video.VideoSweepHost` protocol.

A mixin of :class:`~mjnb.runtime.session.Session`, beside its media methods
(:mod:`.studio`, :mod:`.build`), kept apart so each module holds one concept. A video
cell is claimed in the log exactly as an image cell (``_send(..., cell=, replaces=)``).
Where the protocol animates only single images, a grid's tile is upscaled first, once
per tile: a later cell of the same tile (in this session) starts from the same upscale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import NotReady
from ..providers.base import Job
from . import build

if TYPE_CHECKING:
    from ..inputs import ImageInput
    from ..log import TaskLog
    from ..prompt import Prompt
    from ..providers.base import Adapter
    from ..task import Task
    from .state import TaskState

_VIDEO_PARAMS = ("motion", "bs", "loop", "raw", "end", "video")


class VideoCells:
    """``check_video``/``start_video`` for video sweeps; mixed into Session."""

    adapter: Adapter
    provider: str
    log: TaskLog
    _states: dict[str, TaskState]

    if TYPE_CHECKING:

        def act(
            self, task: Task | str, label: str, *, prompt: str | None = None,
            index: int | None = None,
        ) -> Task: ...  # fmt: skip
        def _offered(self, parent: Task, label: str) -> None: ...
        def _send(self, job: Job, **options: Any) -> Task | None: ...
        def job(self, kind: Any, **fields: Any) -> Job: ...
        @property
        def tasks(self) -> list[Task]: ...

    def check_video(self, source: Task | ImageInput, prompt: Prompt, *, index: int | None) -> int:
        """Raise for a video cell this provider cannot run; sends nothing. Returns the
        jobs it sends first: 1 (an upscale of tile ``index``) where the protocol
        animates only single images and ``source`` is a grid, else 0."""
        from ..task import Task

        build.need(self.adapter, "video")
        motion = build.motion(prompt.params.get("motion", "low"))
        build.batch(int(prompt.params.get("bs") or 1))
        if not isinstance(source, Task):
            build.image(self.adapter, source, "start image")
            return 0
        if source.status != "succeeded":
            raise NotReady(f"Task {source.id} is {source.status}; animate needs a succeeded task.")
        grid = build.tile(source, index, "index=1")
        if grid and not self.adapter.animates_grids:
            self._offered(source, f"U{index}")
            return 1
        self._offered(source, f"animate {motion}")
        return 0

    def _upscale_of(self, parent: Task, index: int) -> Task:
        """The upscale of tile ``index`` this session already has (not failed), or a new one."""
        label = f"U{index}"
        for task in self.tasks:
            if (
                task.parent_id == parent.id
                and task.action == label
                and task.status not in ("failed", "cancelled")
            ):
                return task
        return self.act(parent, label)

    def _cell_free(self, sweep_id: str, cell: int, replaces: str | None) -> bool:
        record = self.log.sweep(sweep_id)
        if record is None or cell >= len(record["cells"]):
            return True
        row = record["cells"][cell]
        return not row["cancelled"] and row["task_id"] in (None, replaces)

    def start_video(
        self,
        source: Task | ImageInput,
        prompt: Prompt,
        *,
        index: int | None,
        mode: str | None,
        sweep_id: str,
        axes: Mapping[str, Any],
        cell: int,
        replaces: str | None = None,
    ) -> Task | None:
        """Claim cell ``cell`` of the sweep and start its video task; None when the cell
        is taken. ``prompt``'s text (and ``--seed``) is what the job says; ``--motion``,
        ``--bs``, ``--loop`` and ``--raw`` become the job's fields."""
        from ..task import Task

        self.check_video(source, prompt, index=index)
        params = prompt.params
        motion = str(params.get("motion", "low"))
        batch = int(params.get("bs") or 1)
        loop, raw = bool(params.get("loop")), bool(params.get("raw"))
        extra = {k: v for k, v in params.items() if k not in _VIDEO_PARAMS}
        text = prompt.text
        if extra:  # --seed: the sweep planned it (and said providers may drop it)
            text = str(replace(prompt, params=extra, template=None))
        label = f"animate {motion}"
        options: dict[str, Any] = dict(
            prompt=text, motion=motion, loop=loop, batch=batch, raw=raw, mode=mode
        )
        claim: dict[str, Any] = dict(
            sweep_id=sweep_id, axes=axes, cell=cell, replaces=replaces,
            kind="video", motion=motion, loop=loop, batch=batch,
        )  # fmt: skip
        if not isinstance(source, Task):
            start = build.image_urls(self.adapter, source, "start image")
            return self._send(self.job("video", images=start, **options), **claim)
        if build.is_grid(source) and not self.adapter.animates_grids:
            assert index is not None  # check_video made sure
            if not self._cell_free(sweep_id, cell, replaces):
                return None  # taken: do not send an upscale for nothing
            first = self._upscale_of(source, index)
            return self._send(
                self.job("action", label=label, **options),
                prompt=source.prompt,
                parent_id=first.id,
                waits_for=self._states[first.id],
                notice=f"started from task {first.id} (U{index} of task {source.id})",
                **claim,
            )
        job = self.job("action", label=label, parent=source.snapshot, index=index, **options)
        return self._send(job, prompt=source.prompt, parent_id=source.id, **claim)
