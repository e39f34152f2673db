"""Session: the wiring behind one Client (adapter, log, image store, runner, tasks).

A Session implements the two small host protocols: :class:`mjnb.task.TaskHost` (what
a Task view asks for: waiting rules, actions, cancel, pixels) and the SweepHost of
``CONTRACTS.md`` (``provider``, ``log``, ``check_prompt``, ``start``, ``task``). It
never sends a job by itself: building one opens the log and nothing more.
:meth:`resume_tasks` (re-poll jobs already sent: free) and :meth:`resume_unsent`
(send what a dead kernel never sent: costs money) are explicit calls, and so is
:meth:`refetch` (poll and download again a sent task that ended without its result).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgument, NotFound, NotReady, PromptError, Rejected, StorageError
from ..images import ImageStore, LazyTiles
from ..inputs import image_ref
from ..log import LogURL, TaskLog, default_log_path
from ..prompt import Prompt, parse_prompt
from ..providers.base import Adapter, Job, JobKind, check_prompt
from ..task import Task
from ..vocab import ACTION_LABELS, BLEND_DIMENSIONS, MODES, TERMINAL
from . import build, kept
from .engine import Engine
from .media import kind_of
from .mirror import mirror
from .rows import resendable, state_from_row
from .runner import Runner
from .slots import account_share
from .state import TaskState
from .studio import MediaMethods
from .videocells import VideoCells

if TYPE_CHECKING:
    from PIL.Image import Image

INTERRUPTED = (
    "interrupted before the provider confirmed the job; mjnb did not submit it again (it "
    "may have been created: check the provider)."
)
UNSENT_ACTION = (
    "interrupted before it was sent, and the log does not keep what it needs to be sent "
    "again (an action on another task is not resumed, nor a task an older mjnb logged); "
    "nothing was sent: run it again."
)


@dataclass(frozen=True)
class RunSettings:
    """How the runner of a session behaves (resolved by the Client from config)."""

    max_concurrency: int
    poll_interval: float
    stall_timeout: float
    stream: bool = True
    request_timeout: float = 30.0
    task_timeout: float | None = None


class Session(MediaMethods, VideoCells):
    """One provider endpoint's tasks in one process: a TaskHost and a SweepHost.

    ``strict`` is how prompts given as text are parsed (False: unknown parameters are
    sent with a PromptWarning); ``translate`` goes on every :class:`Job` sent (Ace's
    ``translation`` flag).
    """

    def __init__(
        self,
        adapter: Adapter,
        *,
        home: Path,
        run: RunSettings,
        log_url: LogURL | str | None = None,
        engine: Engine | None = None,
        strict: bool = True,
        translate: bool = False,
    ) -> None:
        self.adapter = adapter
        self.strict = strict
        self.translate = translate
        self.provider: str = adapter.name
        self.base_url: str = adapter.base_url
        self.engine = engine or Engine.get()
        self.log = TaskLog(log_url, home=home, journal=home / "log-journal.sqlite")
        self.images = ImageStore(os.environ.get("MJNB_IMAGES") or home / "images")
        #: what this account's kernels share through the log: slots, budget, gallery;
        #: on the personal log (no other machine reads it) pictures are made on demand
        personal = self.log.path == default_log_path(home).absolute()
        self.share = account_share(self.log, adapter, thumbnails=not personal)
        self.runner = Runner(
            self.engine,
            adapter,
            log=self.log,
            images=self.images,
            max_concurrency=run.max_concurrency,
            poll_interval=run.poll_interval,
            stall_timeout=run.stall_timeout,
            stream=run.stream,
            request_timeout=run.request_timeout,
            task_timeout=run.task_timeout,
            share=self.share,
        )
        #: tasks this session started or follows, oldest first
        self._tasks: dict[str, Task] = {}
        #: views of logged tasks looked up by id (not followed here)
        self._known: dict[str, Task] = {}
        self._states: dict[str, TaskState] = {}
        #: local references already read and checked (a sweep's cells read one once)
        self._refs: dict[Any, Any] = {}

    # -- starting -----------------------------------------------------------------------
    def check_prompt(self, prompt: Prompt) -> None:
        """Raise what this provider cannot take (PromptError), and a local reference it
        cannot take or that names no readable image (InvalidArgument), before anything
        is logged."""
        check_prompt(self.adapter, prompt)
        build.references(self.adapter, prompt, self._refs)

    def imagine(
        self,
        prompt: str | Prompt,
        *,
        mode: str | None = None,
        sweep_id: str | None = None,
        axes: Mapping[str, Any] | None = None,
        images: Sequence[Any] | None = None,
    ) -> Task:
        """Check, log and queue one prompt; returns its Task at once.

        ``images`` (URLs, paths, bytes, PIL) are image prompts: a URL goes in front of
        the prompt's text, a local image goes as a data: URL in ``Job.images`` (the
        adapter inlines it, or the runner uploads it first).
        """
        if images:
            prompt, local = self._image_prompts(prompt, images)
        else:
            local = ()
        parsed = prompt if isinstance(prompt, Prompt) else parse_prompt(prompt, strict=self.strict)
        variants = parsed.expand()
        if len(variants) > 1:
            raise PromptError(
                f"This prompt has permutations that make {len(variants)} jobs; "
                "run them with mj.sweep(...) (or %mj in a notebook)."
            )
        self.check_prompt(parsed)
        job = self.job(
            "imagine", prompt=str(parsed), mode=check_mode(mode), parsed=parsed, images=local
        )
        return self.send(job, prompt=parsed, sweep_id=sweep_id, axes=axes)

    def _image_prompts(
        self, prompt: str | Prompt, images: Sequence[Any]
    ) -> tuple[str, tuple[str, ...]]:
        given = [build.image(self.adapter, v, "image prompt") for v in build.listed(images)]
        remote = [g.url for g in given if g.url is not None]
        local = tuple(g.data_url for g in given if g.url is None)
        text = " ".join([*remote, str(prompt)])
        return text, local

    def start(
        self,
        prompt: Prompt,
        *,
        mode: str | None,
        sweep_id: str,
        axes: Mapping[str, Any],
        cell: int,
        replaces: str | None = None,
    ) -> Task | None:
        """SweepHost: claim cell ``cell`` in the log and send it; None when the cell is
        taken (another process sent it, or it was cancelled). ``replaces`` is the task a
        retry takes the cell over from."""
        self.check_prompt(prompt)
        job = self.job("imagine", prompt=str(prompt), mode=check_mode(mode), parsed=prompt)
        return self._send(
            job, prompt=prompt, sweep_id=sweep_id, axes=axes, cell=cell, replaces=replaces
        )

    def act(
        self,
        task: Task | str,
        label: str,
        *,
        prompt: str | None = None,
        index: int | None = None,
    ) -> Task:
        """Start an action (``"U2"``, ``"V3"``, ``"zoom 2x"`` ...) on a succeeded task.

        ``prompt`` makes it a remix (V, pan, reroll, zoom and vary labels); ``index``
        picks the clip of a batch (``"upscale video"``). The video labels go through
        :meth:`animate` / :meth:`extend`; ``"zoom custom"`` needs :meth:`zoom_out` and
        ``"vary region"`` a mask (:meth:`vary_region`).
        """
        parent = self.task(task) if isinstance(task, str) else task
        label = normalize_label(label)
        if label.startswith("animate "):
            return self.animate(parent, label.split()[1], index=index, prompt=prompt)
        if label.startswith("extend "):
            return self.extend(parent, label.split()[1], index=index, prompt=prompt)
        if label == "zoom custom":
            raise InvalidArgument("Custom zoom takes a factor: use task.zoom_out(1.3, prompt=...).")
        if label == "vary region":
            return self.vary_region(parent, None, prompt=prompt)
        if prompt is not None:
            return self.remix(parent, label, prompt, index=index)
        if label == "upscale video":
            build.need(self.adapter, "upscale video")
        if parent.status != "succeeded":
            raise NotReady(
                f"Task {parent.id} is {parent.status}; actions need a succeeded task"
                + (" (call wait() first)." if not parent.done else ".")
            )
        if label not in parent.actions:
            offered = ", ".join(parent.actions) or "none"
            raise Rejected(f"Task {parent.id} does not offer {label!r}; it offers: {offered}.")
        if label == "upscale video":
            clips = len(parent.videos) or parent.job.batch
            index = build.index(1 if index is None else index, max(clips, 1), "the clip")
        job = self.job(
            "action",
            prompt=parent.job.prompt,
            label=label,
            parent=parent.snapshot,
            parsed=parent.prompt,
            index=index,
        )
        return self.send(job, prompt=parent.prompt, parent_id=parent.id, kind=kind_of(job))

    def describe(self, image: Any) -> Task:
        """Four prompts for an image: a URL, a path, bytes or a PIL image."""
        urls = build.image_urls(self.adapter, image, "image to describe")
        check_urls("describe", urls, 1, 1)
        return self.send(self.job("describe", images=urls))

    def blend(self, images: Sequence[Any], *, dimensions: str = "square") -> Task:
        """Blend 2-5 images (URLs, paths, bytes, PIL images)."""
        if dimensions not in BLEND_DIMENSIONS:
            raise InvalidArgument(
                f"dimensions must be one of {', '.join(BLEND_DIMENSIONS)}, got {dimensions!r}."
            )
        listed = build.listed(images)
        check_count("blend", listed, 2, 5)
        urls = build.image_urls(self.adapter, listed, "images to blend")
        check_urls("blend", urls, 2, 5)
        return self.send(self.job("blend", images=urls, dimensions=dimensions))

    def job(self, kind: JobKind, **fields: Any) -> Job:
        """A Job with this session's settings (``translate``) on it, and the local
        images its prompt names after ``--sref``/``--cref``/``--oref`` (read and
        checked here; the runner uploads them) where that prompt is sent as new text."""
        job = Job(kind, translate=self.translate, **fields)
        if job.parsed is None or not kept.sends_prompt(job):
            return job
        refs = build.references(self.adapter, job.parsed, self._refs)
        return replace(job, refs=tuple((path, given.data_url) for path, given in refs))

    def send(
        self,
        job: Job,
        *,
        prompt: Prompt | None = None,
        parent_id: str | None = None,
        sweep_id: str | None = None,
        axes: Mapping[str, Any] | None = None,
        **media: Any,
    ) -> Task:
        """Log a new task and hand it to the runner (which sends it when a slot frees).

        ``media``: the log's kind/motion/loop/batch/mask_path columns, and ``waits_for``
        (the TaskState this one starts from) and ``notice`` for the task's state.
        """
        task = self._send(
            job, prompt=prompt, parent_id=parent_id, sweep_id=sweep_id, axes=axes, **media
        )
        if task is None:
            raise NotReady(
                f"That cell of sweep {sweep_id} already has a task (or was cancelled); "
                "nothing was sent. Use the sweep's retry_failed() to run a failed cell again."
            )
        return task

    def _send(
        self,
        job: Job,
        *,
        prompt: Prompt | None = None,
        parent_id: str | None = None,
        sweep_id: str | None = None,
        axes: Mapping[str, Any] | None = None,
        cell: int | None = None,
        replaces: str | None = None,
        waits_for: TaskState | None = None,
        notice: str | None = None,
        **columns: Any,
    ) -> Task | None:
        """:meth:`send`, or None when the log's claim of the sweep cell is lost."""
        inputs = kept.record(job, self.images)  # its own images, kept for a resend
        state = TaskState(
            uuid.uuid4().hex[:12],
            job,
            self.provider,
            prompt=prompt,
            parent_id=parent_id,
            sweep_id=sweep_id,
            kind=columns.setdefault("kind", kind_of(job)),
            mask_path=columns.get("mask_path"),
            inputs=inputs,
            waits_for=waits_for,
            notice=notice,
        )
        claimed = self.log.add_task(
            state.id,
            provider=self.provider,
            action=_action(job),
            prompt=job.prompt or " ".join(image_ref(u) for u in job.images),  # no bytes
            text=prompt.text if prompt else "",
            params=prompt.params if prompt else {},
            parent_id=parent_id,
            sweep_id=sweep_id,
            axes=axes,
            submitted_at=state.submitted_at,
            base_url=self.base_url,
            cell=cell,
            replaces=replaces,
            inputs=inputs,
            **columns,
        )
        if not claimed:
            return None
        task = self._view(state, followed=True)
        self.engine.spawn(self.runner.run(state))
        return task

    # -- finding ------------------------------------------------------------------------
    def task(self, task_id: str) -> Task:
        """A task of this session by id (or unique id prefix), including logged ones."""
        views = {**self._known, **self._tasks}
        matches = [t for key, t in views.items() if key.startswith(task_id)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidArgument(f"Task id {task_id!r} is ambiguous; give more characters.")
        row = self.log.get(task_id)
        if row is None:
            raise NotFound(f"No task {task_id!r} in this session or in {self.log.where}.")
        state = state_from_row(row, self.provider, translate=self.translate)
        view = self._view(state, followed=False)
        if row.get("status") not in TERMINAL:  # run elsewhere (or orphaned): follow its row
            read, ours = (lambda: self.log.get(state.id)), (lambda: state.id in self._tasks)
            self.engine.spawn(mirror(state, read, ours, self.provider))
        return view

    @property
    def tasks(self) -> list[Task]:
        """Tasks started or followed by this session, oldest first."""
        return list(self._tasks.values())

    def _view(self, state: TaskState, *, followed: bool) -> Task:
        task = self._known.pop(state.id, None) or Task(self, state)
        self._states[state.id] = state
        (self._tasks if followed else self._known)[state.id] = task
        return task

    # -- resume -------------------------------------------------------------------------
    def _orphans(self) -> list[dict[str, Any]]:
        """Unfinished rows of this endpoint whose kernel is gone."""
        return [
            row
            for row in self.log.pending()
            if row.get("provider") == self.provider
            and not row.get("owner_alive")
            and (row.get("base_url") or "") == (self.base_url or "")
        ]

    def resume_tasks(self) -> list[Task]:
        """Re-attach to jobs a dead kernel had sent: poll them, never send them again.

        A task that may have left the machine without the provider naming it is ended
        (failed, "did not submit it again"). A task that never left the machine waits
        for :meth:`resume_unsent`: this call spends nothing. Returns the tasks now polled.
        """
        resumed = []
        for row in self._orphans():
            state = state_from_row(row, self.provider, translate=self.translate)
            sent = bool((row.get("remote_state") or {}).get("sending"))
            if not state.snapshot.remote_id and not sent and resendable(row):
                continue  # never sent: it waits for resume()
            if not self.log.claim(row["task_id"]):
                continue  # another kernel took it first
            task = self._view(state, followed=True)
            if not state.snapshot.remote_id:
                self.runner.end(state, INTERRUPTED if sent else UNSENT_ACTION)
                continue
            self.engine.spawn(self.runner.run(state, resume=True))
            resumed.append(task)
        return resumed

    def unsent(self) -> list[Task]:
        """Views of the tasks a dead kernel logged and never sent (what resume sends)."""
        tasks = []
        for row in self._orphans():
            sent = (row.get("remote_state") or {}).get("sending")
            if row.get("remote_id") or sent or not resendable(row):
                continue
            tasks.append(self.task(row["task_id"]))
        return tasks

    def unfetched(self) -> list[Task]:
        """Views of ended tasks whose paid result is not here (what resume fetches)."""
        return [
            self.task(row["task_id"]) for row in self.log.unfetched(self.provider, self.base_url)
        ]

    def resume_unsent(self, task: Task) -> bool:
        """Send one task a dead kernel never sent; False if another kernel claimed it."""
        state = self._states[task.id]
        if task.done or state.sending or not self.log.claim(task.id):
            return False
        self._view(state, followed=True)
        self.engine.spawn(self.runner.run(state))
        return True

    # -- TaskHost -----------------------------------------------------------------------
    def check_blocking(self, what: str) -> None:
        self.engine.check_not_engine_thread(what)

    def cancel(self, task: Task) -> str:
        state = self._states[task.id]
        if state.done.is_set():
            raise NotReady(f"Task {task.id} already {task.status}; nothing to cancel.")
        if task.id not in self._tasks and not self.log.claim(task.id):
            raise NotReady(f"Task {task.id} is followed by another live kernel; cancel it there.")
        self._view(state, followed=True)
        message: str = self.engine.call(self.runner.cancel(state), timeout=60)
        return message

    def refetch(self, task: Task) -> Task:
        """TaskHost: poll and download an ended task's result again (see Task.refetch)."""
        state = self._states[task.id]
        if not state.done.is_set():
            raise NotReady(f"Task {task.id} is still {task.status}; mjnb is following it.")
        if task.id not in self._tasks:
            self.log.claim(task.id)  # a final row is followed by nobody; take it if free
        self._view(state, followed=True)
        self.engine.call(self.runner.reopen(state), timeout=30)  # raises NotReady
        self.engine.spawn(self.runner.run(state, resume=True))
        return task

    def image(self, state: TaskState) -> Image:
        from ..images import compose_grid, open_image

        def decode() -> Image:
            if state.image_path is not None:
                _check_cached(state)
                return open_image(state.image_path)
            if state.image_paths:
                return compose_grid([open_image(p) for p in state.image_paths])
            raise NotReady(no_image_reason(state))

        return state.pixels.get("image", decode)

    def tiles(self, state: TaskState) -> Sequence[Image]:
        from ..images import open_image, split_grid

        if state.image_paths:
            paths = state.image_paths
            return state.pixels.get(
                "tiles", lambda: LazyTiles(len(paths), lambda: [open_image(p) for p in paths])
            )
        if state.image_path is None:
            raise NotReady(no_image_reason(state))
        _check_cached(state)
        return state.pixels.get(
            "tiles", lambda: LazyTiles(4, lambda: split_grid(self.image(state)))
        )

    def thumbnail(self, state: TaskState, size: int, quality: int) -> bytes:
        from ..images import encode, fit_thumbnail

        path = state.image_path
        if path is None or not path.exists():
            # nothing in the cache to name it after (image() says why, if pruned)
            return encode(fit_thumbnail(self.image(state), size), "JPEG", quality=quality)
        return self.images.thumbnail_bytes(
            path, size, quality=quality, image=state.pixels.peek("image")
        )


# ------------------------------------------------------------------ plain helpers


def normalize_label(label: str) -> str:
    """``"u2"`` -> ``"U2"``, ``"Zoom 2X"`` -> ``"zoom 2x"``, ``"vary(strong)"`` is not a label."""
    text = " ".join(label.strip().split())
    if len(text) == 2 and text[0] in "uUvV" and text[1] in "1234":
        return text.upper()
    text = text.lower()
    if text not in ACTION_LABELS:
        raise InvalidArgument(
            f"Unknown action {label!r}; the actions are: {', '.join(ACTION_LABELS)}."
        )
    return text


def check_mode(mode: str | None) -> str | None:
    if mode is not None and mode not in MODES:
        raise InvalidArgument(f"mode must be one of {', '.join(MODES)}, got {mode!r}.")
    return mode


def check_urls(what: str, urls: Sequence[str] | str, least: int, most: int) -> None:
    listed = [urls] if isinstance(urls, str) else list(urls)
    if not least <= len(listed) <= most:
        if least == most:
            raise InvalidArgument(f"{what} takes {least} image URL, got {len(listed)}.")
        raise InvalidArgument(f"{what} takes {least} to {most} image URLs, got {len(listed)}.")
    for url in listed:
        if not isinstance(url, str) or not url.startswith(("http://", "https://", "data:")):
            raise InvalidArgument(f"{url!r} is not an image URL (http://, https:// or data:).")


def check_count(what: str, images: Sequence[Any], least: int, most: int) -> None:
    if not least <= len(images) <= most:
        raise InvalidArgument(
            f"{what} takes {least} to {most} image URLs (or paths, bytes, PIL images), "
            f"got {len(images)}."
        )


def no_image_reason(state: TaskState) -> str:
    name = f"Task {state.id}"
    if state.status == "succeeded" and state.reason:
        return f"{name} succeeded but its image is missing: {state.reason}"
    if state.status == "succeeded":
        return f"{name} ({_action(state.job)}) has no image; it produced text."
    if state.done.is_set():
        return f"{name} {state.status} and has no image: {state.reason}."
    return f"{name} is still {state.status}; call task.wait() first."


def _check_cached(state: TaskState) -> None:
    if state.image_path is not None and not state.image_path.exists():
        raise StorageError(
            f"Task {state.id}'s image {state.image_path} is no longer in the cache "
            f"(pruned?); mj.task({state.id!r}).refetch() downloads it again while the "
            "provider's URL is valid, else run the prompt again."
        )


def _action(job: Job) -> str:
    return job.label if job.kind == "action" and job.label else job.kind
