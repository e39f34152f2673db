"""``Client`` and ``AsyncClient``: the Python API over every provider.

>>> import mjnb
>>> mj = mjnb.Client()                      # the embedded simulator: no key, no network
>>> task = mj.imagine("a red fox in snow --ar 3:2 --seed 7")
>>> task.wait().status
'succeeded'
"""

from __future__ import annotations

import os
import uuid
import weakref
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import config
from .engine import Engine, Runner, snapshot_from_state
from .errors import MJError, NotReady, PromptError, Rejected
from .prompt import Prompt, parse_prompt
from .providers import make_adapter
from .providers.base import ACTION_LABELS, Job, check_prompt
from .task import Task

if TYPE_CHECKING:
    import pandas as pd
    from PIL.Image import Image

    from .log import TaskLog
    from .sweep import Sweep, SweepPlan

BLEND_DIMENSIONS = ("square", "portrait", "landscape")
_CLIENTS: weakref.WeakSet[Client] = weakref.WeakSet()


def all_tasks() -> list[Task]:
    """Every task started or resumed by any client of this process (``%mj wait``)."""
    return [task for client in list(_CLIENTS) for task in client.tasks]


#: a sweep younger than this may still be being submitted by a live kernel
SWEEP_GRACE = timedelta(seconds=30)
MODES = ("fast", "relax", "turbo")


def normalize_label(label: str) -> str:
    """``"u2"`` -> ``"U2"``, ``"Zoom 2X"`` -> ``"zoom 2x"``, ``"vary(strong)"`` is not a label."""
    text = " ".join(label.strip().split())
    if len(text) == 2 and text[0] in "uUvV" and text[1] in "1234":
        return text.upper()
    text = text.lower()
    if text not in ACTION_LABELS:
        raise MJError(f"Unknown action {label!r}; the actions are: {', '.join(ACTION_LABELS)}.")
    return text


class Client:
    """Submits Midjourney jobs to one provider and logs every task.

    ``Client()`` uses the provider from configuration (``"local"``, the built-in
    simulator, by default). Arguments beat ``mjnb.configure(...)``, which beats the
    ``MJNB_*`` environment. Methods return a :class:`Task` at once; the engine
    thread does the rest. ``timeout`` is how long one HTTP request may take (seconds).
    """

    def __init__(
        self,
        provider: str | None = None,
        *,
        base_url: str | None = None,
        token: str | None = None,
        app_id: str | None = None,
        max_concurrency: int | None = None,
        poll_interval: float | None = None,
        stall_timeout: float | None = None,
        home: str | os.PathLike[str] | None = None,
        stream: bool = True,
        timeout: float = 30.0,
    ) -> None:
        from .images import ImageStore
        from .log import TaskLog

        self.settings = config.settings(
            provider=provider,
            base_url=base_url,
            max_concurrency=max_concurrency,
            poll_interval=poll_interval,
            stall_timeout=stall_timeout,
            home=home,
        )
        self.provider = self.settings.provider
        credentials = config.credentials(self.provider, {"token": token, "app_id": app_id})
        url = config.base_url_for(self.provider, self.settings)
        if self.provider == "local" and url is None:
            from .providers.local import embedded_simulator_url

            url = embedded_simulator_url(self.settings.sim_latency)
        self._adapter = make_adapter(self.provider, base_url=url, **credentials)
        self.base_url = self._adapter.base_url
        self._engine = Engine.get()
        self.home = self.settings.home
        self._log = TaskLog(self.home / "history.sqlite")
        self._images = ImageStore(self.home / "images")
        interval = self.settings.poll_interval
        if interval is None:
            interval = self._adapter.poll_interval
        if self._adapter.base_url == getattr(self._adapter, "default_base_url", None):
            interval = max(interval, self._adapter.min_poll_interval)  # the real service's rule
        self._runner = Runner(
            self._engine,
            self._adapter,
            log=self._log,
            images=self._images,
            max_concurrency=self.settings.max_concurrency,
            poll_interval=interval,
            stall_timeout=self.settings.stall_timeout,
            stream=stream,
            request_timeout=timeout,
        )
        self._tasks: dict[str, Task] = {}
        _CLIENTS.add(self)
        #: tasks a dead kernel left unfinished, now followed (or sent) by this client
        self.resumed: list[Task] = self._resume()
        #: sweeps a dead kernel left with cells never sent, now completed by this client
        self.resumed_sweeps: list[Sweep] = self._resume_sweeps()

    def __repr__(self) -> str:
        return f"<mjnb.Client provider={self.provider!r} base_url={self.base_url!r}>"

    # -- submitting ---------------------------------------------------------------------
    def imagine(
        self,
        prompt: str | Prompt,
        *,
        mode: str | None = None,
        sweep_id: str | None = None,
        axes: Mapping[str, Any] | None = None,
    ) -> Task:
        """Submit a prompt; returns the Task at once. Bad prompts raise before sending.

        ``sweep_id`` and ``axes`` (this cell's value on each axis) are set by sweeps.
        """
        parsed = prompt if isinstance(prompt, Prompt) else parse_prompt(prompt)
        variants = parsed.expand()
        if len(variants) > 1:
            raise PromptError(
                f"This prompt has permutations that make {len(variants)} jobs; "
                "run them with mj.sweep(...) (or %mj in a notebook)."
            )
        check_prompt(self._adapter, parsed)  # what this provider cannot take
        job = Job("imagine", prompt=str(parsed), mode=_check_mode(mode))
        return self._start(job, prompt=parsed, sweep_id=sweep_id, axes=axes)

    def act(self, task: Task | str, label: str) -> Task:
        """Start an action (``"U2"``, ``"V3"``, ``"zoom 2x"`` ...) on a finished task."""
        parent = self.task(task) if isinstance(task, str) else task
        label = normalize_label(label)
        if parent.status != "succeeded":
            raise MJError(
                f"Task {parent.id} is {parent.status}; actions need a succeeded task"
                + (" (call wait() first)." if not parent.done else ".")
            )
        if label not in parent.actions:
            offered = ", ".join(parent.actions) or "none"
            raise Rejected(f"Task {parent.id} does not offer {label!r}; it offers: {offered}.")
        job = Job("action", prompt=parent.job.prompt, label=label, parent=parent.snapshot)
        return self._start(job, prompt=parent.prompt, parent_id=parent.id)

    def describe(self, image_url: str) -> Task:
        """Four prompt suggestions for an image; see ``task.descriptions``."""
        _check_urls("describe", [image_url], 1, 1)
        return self._start(Job("describe", images=(image_url,)))

    def blend(self, image_urls: Sequence[str], *, dimensions: str = "square") -> Task:
        """Blend 2-5 images into a grid; ``dimensions`` is square, portrait or landscape."""
        _check_urls("blend", image_urls, 2, 5)
        if dimensions not in BLEND_DIMENSIONS:
            raise MJError(
                f"dimensions must be one of {', '.join(BLEND_DIMENSIONS)}, got {dimensions!r}."
            )
        return self._start(Job("blend", images=tuple(image_urls), dimensions=dimensions))

    def sweep(
        self,
        prompt: str,
        *,
        confirm: bool = False,
        max_jobs: int | None = None,
        mode: str | None = None,
        **axes: Any,
    ) -> Sweep:
        """Run every combination of the axes: ``{a, b}`` groups in the prompt and/or
        keyword lists (``seed=[1, 2, 3]``, ``stylize="0..1000 step 250"``).

        More than ``max_jobs`` (default 40) jobs needs ``confirm=True``; nothing is
        sent otherwise. Returns a :class:`mjnb.sweep.Sweep` at once.
        """
        from .sweep import start_sweep

        return start_sweep(
            self,
            prompt,
            confirm=confirm,
            max_jobs=max_jobs or self.settings.max_jobs,
            mode=mode,
            axes=axes,
        )

    def plan_sweep(self, prompt: str, **axes: Any) -> SweepPlan:
        """What :meth:`sweep` would run (job count, rough cost), without sending anything."""
        from .sweep import plan_sweep

        return plan_sweep(prompt, axes=axes, provider=self.provider)

    def compare(self, *tasks: Task | str) -> Image:
        """Lay tasks side by side, labelled with the parameters that differ."""
        from .sweep import compare

        return compare([self.task(t) if isinstance(t, str) else t for t in tasks])

    # -- the SweepHost protocol (mjnb.sweep.run): what a Sweep may use -------------------
    @property
    def task_log(self) -> TaskLog:
        """The task log this client writes (``$MJNB_HOME/history.sqlite``)."""
        return self._log

    def check_prompt(self, prompt: Prompt) -> None:
        """Raise PromptError if this provider cannot take ``prompt``; sends nothing."""
        check_prompt(self._adapter, prompt)

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
        """Start one sweep cell, claiming it in the log first; None (nothing sent) if
        another kernel has it or it was cancelled. ``replaces``: the task a retry
        takes the cell over from."""
        self.check_prompt(prompt)
        job = Job("imagine", prompt=str(prompt), mode=_check_mode(mode))
        return self._register(
            job, prompt=prompt, sweep_id=sweep_id, axes=axes, cell=cell, replaces=replaces
        )

    def _start(
        self,
        job: Job,
        *,
        prompt: Prompt | None = None,
        parent_id: str | None = None,
        sweep_id: str | None = None,
        axes: Mapping[str, Any] | None = None,
    ) -> Task:
        task = self._register(job, prompt=prompt, parent_id=parent_id, sweep_id=sweep_id, axes=axes)
        if task is None:
            raise NotReady(
                f"That cell of sweep {sweep_id} already has a task (or was cancelled); "
                "nothing was sent. Use the sweep's retry_failed() to run a failed cell again."
            )
        return task

    def _register(
        self,
        job: Job,
        *,
        prompt: Prompt | None = None,
        parent_id: str | None = None,
        sweep_id: str | None = None,
        axes: Mapping[str, Any] | None = None,
        cell: int | None = None,
        replaces: str | None = None,
    ) -> Task | None:
        task = Task(
            self,
            uuid.uuid4().hex[:12],
            job,
            prompt=prompt,
            parent_id=parent_id,
            sweep_id=sweep_id,
        )
        claimed = self._log.add_task(
            task.id,
            provider=self.provider,
            action=task.action,
            prompt=job.prompt or " ".join(job.images),
            text=prompt.text if prompt else "",
            params=prompt.params if prompt else {},
            parent_id=parent_id,
            sweep_id=sweep_id,
            axes=axes,
            submitted_at=task.submitted_at,
            base_url=self.base_url,
            cell=cell,
            replaces=replaces,
        )
        if not claimed:
            return None
        self._tasks[task.id] = task
        self._engine.spawn(self._runner.run(task))
        return task

    # -- finding and waiting ------------------------------------------------------------
    def task(self, task_id: str) -> Task:
        """A task of this client by id (or unique id prefix), including logged ones."""
        matches = [t for key, t in self._tasks.items() if key.startswith(task_id)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise MJError(f"Task id {task_id!r} is ambiguous; give more characters.")
        row = self._log.get(task_id)
        if row is None:
            raise MJError(f"No task {task_id!r} in this session or in {self._log.path}.")
        return self._from_row(row)

    @property
    def tasks(self) -> list[Task]:
        """Tasks started (or resumed) by this client, oldest first."""
        return list(self._tasks.values())

    def wait_all(self, timeout: float | None = None) -> list[Task]:
        """Block until every task of this client has ended."""
        for task in list(self._tasks.values()):
            task.wait(timeout)
        return self.tasks

    # -- the log ------------------------------------------------------------------------
    def log(
        self,
        *,
        provider: str | None = None,
        sweep: str | None = None,
        status: str | Sequence[str] | None = None,
        since: datetime | str | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Every task ever logged in ``$MJNB_HOME`` as a DataFrame, one row per task."""
        return self._log.dataframe(
            provider=provider, sweep=sweep, status=status, since=since, limit=limit
        )

    def sweeps(self) -> pd.DataFrame:
        """Every sweep ever logged, one row per sweep."""
        return self._log.sweeps()

    def prune(self, *, older_than: timedelta = timedelta(days=30)) -> int:
        """Delete cached images unused for ``older_than``; the log keeps every row.

        Images of this session's tasks are kept. Returns how many files were deleted.
        """
        keep = [t.image_path for t in self._tasks.values() if t.image_path is not None]
        return self._images.prune(older_than=older_than, keep=keep)

    # -- resume -------------------------------------------------------------------------
    def _from_row(self, row: dict[str, Any]) -> Task:
        state = row.get("remote_state") or {}
        snapshot = snapshot_from_state(state)
        prompt_text = row.get("prompt") or ""
        try:
            prompt: Prompt | None = parse_prompt(prompt_text) if prompt_text else None
        except PromptError:
            prompt = None
        action = row.get("action") or "imagine"
        kind = action if action in ("imagine", "describe", "blend") else "action"
        job = Job(kind, prompt=prompt_text, label=None if kind != "action" else action)  # type: ignore[arg-type]
        task = Task(
            self,
            row["task_id"],
            job,
            prompt=prompt,
            parent_id=row.get("parent_id"),
            sweep_id=row.get("sweep_id"),
            submitted_at=_as_datetime(row.get("submitted_at")),
        )
        task.snapshot = snapshot
        task.started_at = _as_datetime(row.get("started_at"), None)
        task.finished_at = _as_datetime(row.get("finished_at"), None)
        if row.get("image_path"):
            task.image_path = Path(row["image_path"])
        task._error = row.get("error")
        if snapshot.done:
            task._done.set()
        self._tasks[task.id] = task
        return task

    def _resume(self) -> list[Task]:
        """Re-attach to tasks a dead kernel left queued or running: poll, never resubmit."""
        resumed = []
        for row in self._log.pending():
            if row.get("provider") != self.provider or row.get("owner_alive"):
                continue
            if (row.get("base_url") or "") != (self.base_url or ""):
                continue
            if not self._log.claim(row["task_id"]):
                continue  # another kernel took it first
            task = self._from_row(row)
            if not task.snapshot.remote_id:
                if task.action == "imagine" and not (row.get("remote_state") or {}).get("sending"):
                    # it was still waiting for a slot here: it never left this machine
                    self._engine.spawn(self._runner.run(task))
                    resumed.append(task)
                    continue
                task._fail(
                    "interrupted before the provider confirmed the job; mjnb did not "
                    "submit it again (it may have been created: check the provider)."
                )
                task._end()
                self._runner._record(task, final=True)
                task._finish()
                continue
            self._engine.spawn(self._runner.run(task, resume=True))
            resumed.append(task)
        return resumed

    def _resume_sweeps(self) -> list[Sweep]:
        from .sweep import resume_sweeps

        return resume_sweeps(self, older_than=SWEEP_GRACE)


class AsyncClient:
    """The same API as :class:`Client`, with coroutines; ``await task`` waits."""

    def __init__(self, provider: str | None = None, **options: Any) -> None:
        self._client = Client(provider, **options)
        self.provider = self._client.provider

    def __repr__(self) -> str:
        return repr(self._client).replace("mjnb.Client", "mjnb.AsyncClient")

    async def imagine(self, prompt: str | Prompt, **options: Any) -> Task:
        return self._client.imagine(prompt, **options)

    async def act(self, task: Task | str, label: str) -> Task:
        return self._client.act(task, label)

    async def describe(self, image_url: str) -> Task:
        return self._client.describe(image_url)

    async def blend(self, image_urls: Sequence[str], **options: Any) -> Task:
        return self._client.blend(image_urls, **options)

    async def sweep(self, prompt: str, **options: Any) -> Sweep:
        return self._client.sweep(prompt, **options)

    def plan_sweep(self, prompt: str, **axes: Any) -> SweepPlan:
        return self._client.plan_sweep(prompt, **axes)

    async def compare(self, *tasks: Task | str) -> Image:
        import asyncio

        return await asyncio.to_thread(self._client.compare, *tasks)

    async def wait_all(self) -> list[Task]:
        for task in self._client.tasks:
            await task
        return self._client.tasks

    async def log(self, **filters: Any) -> pd.DataFrame:
        import asyncio

        return await asyncio.to_thread(self._client.log, **filters)

    async def sweeps(self) -> pd.DataFrame:
        import asyncio

        return await asyncio.to_thread(self._client.sweeps)

    @property
    def tasks(self) -> list[Task]:
        return self._client.tasks

    def task(self, task_id: str) -> Task:
        return self._client.task(task_id)


def _check_mode(mode: str | None) -> str | None:
    if mode is not None and mode not in MODES:
        raise MJError(f"mode must be one of {', '.join(MODES)}, got {mode!r}.")
    return mode


def _check_urls(what: str, urls: Iterable[str], least: int, most: int) -> None:
    urls = [urls] if isinstance(urls, str) else list(urls)
    if not least <= len(urls) <= most:
        if least == most:
            raise MJError(f"{what} takes {least} image URL, got {len(urls)}.")
        raise MJError(f"{what} takes {least} to {most} image URLs, got {len(urls)}.")
    for url in urls:
        if not isinstance(url, str) or not url.startswith(("http://", "https://", "data:")):
            raise MJError(f"{url!r} is not an image URL (http://, https:// or data:).")


def _as_datetime(value: Any, default: Any = ...) -> Any:
    if value is None or value != value:  # None or NaT
        return datetime.now(timezone.utc) if default is ... else default
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
