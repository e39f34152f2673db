"""The Session's media methods: video (animate, extend) and the editor (vary region,
remix, custom zoom, edit, retexture), plus the job seed.

A mixin of :class:`~mjnb.runtime.session.Session`, kept apart so each module stays one
concept. Every method checks everything it can before the task is logged or sent
(:mod:`mjnb.runtime.build`), then goes through the Session's one ``send``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgument, NotReady, Rejected
from ..providers.base import Job
from . import build, media

if TYPE_CHECKING:
    from pathlib import Path

    from PIL.Image import Image

    from ..images import ImageStore
    from ..log import TaskLog
    from ..prompt import Prompt
    from ..providers.base import Adapter
    from ..task import Task
    from .engine import Engine
    from .runner import Runner
    from .state import TaskState


class MediaMethods:
    """Video, editor and seed methods; mixed into Session (which provides the rest)."""

    adapter: Adapter
    provider: str
    engine: Engine
    runner: Runner
    images: ImageStore
    log: TaskLog
    _states: dict[str, TaskState]

    if TYPE_CHECKING:

        def send(self, job: Job, **options: Any) -> Task: ...
        def job(self, kind: Any, **fields: Any) -> Job: ...
        def task(self, task_id: str) -> Task: ...
        def act(
            self, task: Task | str, label: str, *, prompt: str | None = None,
            index: int | None = None,
        ) -> Task: ...  # fmt: skip

    # -- helpers ------------------------------------------------------------------------
    def _parent(self, task: Task | str, what: str) -> Task:
        parent = self.task(task) if isinstance(task, str) else task
        if parent.status != "succeeded":
            raise NotReady(
                f"Task {parent.id} is {parent.status}; {what} needs a succeeded task"
                + (" (call wait() first)." if not parent.done else ".")
            )
        return parent

    def _offered(self, parent: Task, label: str) -> None:
        if label not in parent.actions:
            offered = ", ".join(parent.actions) or "none"
            raise Rejected(f"Task {parent.id} does not offer {label!r}; it offers: {offered}.")

    def _store_mask(self, mask: Image) -> tuple[str, Path]:
        from ..masks import mask_base64, mask_png

        path = self.images.save(mask_png(mask), content_type="image/png")
        return mask_base64(mask), path

    # -- video --------------------------------------------------------------------------
    def animate(
        self,
        task: Task | str,
        motion: str = "low",
        *,
        index: int | None = None,
        prompt: str | None = None,
        loop: bool = False,
        end: Any = None,
        batch: int = 1,
        raw: bool = False,
    ) -> Task:
        """Animate a finished image; on a grid, tile ``index`` (via U<index> if needed)."""
        build.need(self.adapter, "video")
        parent = self._parent(task, "animate")
        motion = build.motion(motion)
        batch = build.batch(batch)
        text = build.video_prompt(prompt)
        end_url = build.end_frame(self.adapter, end)
        label = f"animate {motion}"
        grid = build.tile(parent, index, f"task.animate({motion!r}, index=1)")
        options: dict[str, Any] = dict(
            prompt=text, label=label, motion=motion, loop=bool(loop), end=end_url,
            batch=batch, raw=bool(raw),
        )  # fmt: skip
        columns = dict(kind="video", motion=motion, loop=bool(loop), batch=batch)
        if grid and not self.adapter.animates_grids:
            upscale = f"U{index}"
            self._offered(parent, upscale)
            warnings.warn(
                f"{self.provider} animates single images only: mjnb sends 2 jobs, {upscale} "
                f"on task {parent.id}, then {label} on its result.",
                stacklevel=3,
            )
            first = self.act(parent, upscale)
            job = self.job("action", **options)
            clip = self.send(
                job,
                prompt=parent.prompt,
                parent_id=first.id,
                waits_for=self._states[first.id],
                notice=f"started from task {first.id} ({upscale} of task {parent.id}): 2 jobs",
                **columns,
            )
            return clip
        self._offered(parent, label)
        job = self.job("action", parent=parent.snapshot, index=index, **options)
        return self.send(job, prompt=parent.prompt, parent_id=parent.id, **columns)

    def animate_image(
        self,
        image: Any,
        *,
        prompt: str = "",
        motion: str = "low",
        loop: bool = False,
        end: Any = None,
        batch: int = 1,
        raw: bool = False,
    ) -> Task:
        """Animate any image (URL, path, bytes, PIL) with ``prompt``."""
        build.need(self.adapter, "video")
        motion = build.motion(motion)
        batch = build.batch(batch)
        text = build.video_prompt(prompt)
        start = build.image_urls(self.adapter, image, "start image")
        end_url = build.end_frame(self.adapter, end)
        job = self.job(
            "video", prompt=text, images=start, motion=motion, loop=bool(loop), end=end_url,
            batch=batch, raw=bool(raw),
        )  # fmt: skip
        return self.send(job, kind="video", motion=motion, loop=bool(loop), batch=batch)

    def extend(
        self,
        task: Task | str,
        motion: str = "low",
        *,
        index: int | None = None,
        prompt: str | None = None,
    ) -> Task:
        """Extend a clip, up to the provider's limit of extensions."""
        build.need(self.adapter, "extend")
        parent = self._parent(task, "extend")
        if parent.kind != "video":
            raise InvalidArgument(f"Task {parent.id} is not a video; extend needs a clip.")
        motion = build.motion(motion)
        text = build.video_prompt(prompt)
        done = self._extensions(parent)
        most = self.adapter.max_extensions
        if done >= most:
            raise InvalidArgument(
                f"{self.provider} extends a clip at most {most} times and task {parent.id} "
                f"has been extended {done} times already; nothing was sent."
            )
        clips = len(parent.videos) or parent.job.batch
        if index is None and clips > 1:
            raise InvalidArgument(
                f"Task {parent.id} holds {clips} clips: say which to extend, index=1..{clips}."
            )
        index = build.index(1 if index is None else index, max(clips, 1), "the clip")
        label = f"extend {motion}"
        self._offered(parent, label)
        job = self.job(
            "action", prompt=text, label=label, parent=parent.snapshot, motion=motion,
            index=index,
        )  # fmt: skip
        return self.send(
            job, prompt=parent.prompt, parent_id=parent.id, kind="video", motion=motion
        )

    def _extensions(self, clip: Task) -> int:
        count, seen = 0, set()
        current: Task | None = clip
        while current is not None and current.id not in seen:
            seen.add(current.id)
            if current.action.startswith("extend"):
                count += 1
            try:
                current = self.task(current.parent_id) if current.parent_id else None
            except LookupError:
                current = None
        return count

    # -- the editor ---------------------------------------------------------------------
    def vary_region(self, task: Task | str, mask: Any, *, prompt: str | None = None) -> Task:
        """Repaint the white part of ``mask`` (PIL, numpy or a box) of a finished image."""
        from ..masks import make_mask

        build.need(self.adapter, "vary region")
        if mask is None:
            raise NotReady("pass a mask, or use the painter in a notebook (%mj vary region)")
        parent = self._parent(task, "vary region")
        self._offered(parent, "vary region")
        gray, notes = make_mask(mask, parent.image.size)
        for note in notes:
            warnings.warn(note, stacklevel=3)
        text, parsed = self._new_prompt(parent, prompt)
        encoded, path = self._store_mask(gray)
        job = self.job(
            "action", prompt=text, label="vary region", parent=parent.snapshot, mask=encoded,
            remix=prompt is not None, parsed=parsed,
        )  # fmt: skip
        return self.send(job, prompt=parsed or parent.prompt, parent_id=parent.id, mask_path=path)

    def _new_prompt(self, parent: Task, prompt: str | None) -> tuple[str, Prompt | None]:
        if prompt is None:  # the parent's as sent (its local references' URLs, no paths)
            return parent.job.prompt, parent.job.parsed or parent.prompt
        from ..prompt import parse_prompt

        parsed = parse_prompt(prompt)
        self.adapter.check(parsed)
        return str(parsed), parsed

    def remix(self, task: Task | str, label: str, prompt: str, *, index: int | None) -> Task:
        """An action sent with a new prompt (V, pan, reroll, zoom, vary labels)."""
        build.remix_label(self.adapter, label)
        parent = self._parent(task, "remix")
        self._offered(parent, label)
        text, parsed = self._new_prompt(parent, prompt)
        job = self.job(
            "action", prompt=text, label=label, parent=parent.snapshot, remix=True,
            index=index, parsed=parsed,
        )  # fmt: skip
        return self.send(job, prompt=parsed, parent_id=parent.id)

    def zoom_out(self, task: Task | str, factor: float = 2, *, prompt: str | None = None) -> Task:
        """Zoom out 1.0-2.0; 1.5 and 2 without a prompt are the plain zoom buttons."""
        factor = build.zoom(factor)
        if prompt is None and factor in build.ZOOM_LABELS:
            return self.act(task, build.ZOOM_LABELS[factor])
        build.need(self.adapter, "zoom custom")
        if prompt is not None:
            build.need(self.adapter, "remix")
        parent = self._parent(task, "zoom out")
        self._offered(parent, "zoom custom")
        text, parsed = self._new_prompt(parent, prompt)
        job = self.job(
            "action", prompt=text, label="zoom custom", parent=parent.snapshot, zoom=factor,
            remix=prompt is not None, parsed=parsed,
        )  # fmt: skip
        return self.send(job, prompt=parsed or parent.prompt, parent_id=parent.id)

    def edit(self, image: Any, prompt: str, *, mask: Any = None, kind: str = "edit") -> Task:
        """Edit (or retexture) an image of the user's own with ``prompt``."""
        from ..masks import make_mask
        from ..prompt import parse_prompt

        build.need(self.adapter, kind)
        if not isinstance(prompt, str) or not prompt.strip():
            raise InvalidArgument(f"{kind} needs a prompt saying what to change.")
        given = build.image(self.adapter, image, f"image to {kind}")
        parsed = parse_prompt(prompt)
        self.adapter.check(parsed)
        encoded, path = None, None
        if mask is not None:
            size = given.size
            if size is None:
                raise InvalidArgument(
                    "A mask needs the image's size: pass the image as a path, bytes or a PIL "
                    "image (not a URL)."
                )
            gray, notes = make_mask(mask, size)
            for note in notes:
                warnings.warn(note, stacklevel=3)
            encoded, path = self._store_mask(gray)
        job = self.job(
            kind, prompt=str(parsed), images=(given.url_or_data_url,), mask=encoded,
            parsed=parsed,
        )  # fmt: skip
        return self.send(job, prompt=parsed, mask_path=path)

    # -- the seed and the clips -----------------------------------------------------------
    def job_seed(self, state: TaskState) -> int:
        if state.job_seed is not None:
            return state.job_seed
        if state.status != "succeeded":
            raise NotReady(
                f"Task {state.id} is {state.status}; its seed is known once it succeeds."
            )
        build.need(self.adapter, "seed")
        self.engine.check_not_engine_thread("task.job_seed")
        seed: int = self.engine.call(media.job_seed(self.runner, state), timeout=120)
        return seed

    def videos(self, state: TaskState) -> list[Path]:
        from ..errors import StorageError

        for path in state.video_paths:
            if not path.exists():
                raise StorageError(
                    f"Task {state.id}'s clip {path} is no longer in the cache (pruned?)."
                )
        return list(state.video_paths)

    def frames(self, state: TaskState, n: int) -> list[Image]:
        from ..video import frames

        clips = self.videos(state)
        if not clips:
            raise NotReady(f"Task {state.id} has no clip ({state.kind}, {state.status}).")
        return frames(clips[0], n)

    def poster(self, state: TaskState) -> Image:
        from ..video import poster

        clips = self.videos(state)
        if not clips:
            raise NotReady(f"Task {state.id} has no clip ({state.kind}, {state.status}).")
        return state.pixels.get("poster", lambda: poster(clips[0]))
