"""``Client`` and ``AsyncClient``: the Python API over every provider.

>>> import mjnb
>>> mj = mjnb.Client()                      # the embedded simulator: no key, no network
>>> task = mj.imagine("a red fox in snow --ar 3:2 --seed 7")
>>> task.wait().status
'succeeded'

Both are thin facades over a :class:`mjnb.runtime.Session`, which owns the adapter,
the log, the image store and the runner. ``Client()`` never sends a job: it re-polls
jobs a dead kernel had already sent (free) and leaves everything else for an explicit
:meth:`Client.resume`.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import config
from .errors import InvalidArgument, MJError, NotFound
from .log.url import parse_log_url
from .prompt import Prompt
from .providers import make_adapter
from .runtime.engine import Engine
from .runtime.session import RunSettings, Session, normalize_label
from .task import Task

if TYPE_CHECKING:
    import pandas as pd
    from PIL.Image import Image

    from .budget import BudgetState
    from .sweep import Sweep, SweepPlan

__all__ = ["AsyncClient", "Client", "all_tasks", "normalize_label"]

_CLIENTS: weakref.WeakSet[Client] = weakref.WeakSet()
#: a sweep younger than this may still be being submitted by a live kernel
SWEEP_GRACE = timedelta(seconds=30)
PENDING_COLUMNS = ("sweep_id", "cell", "task_id", "action", "prompt", "submitted_at")


def all_tasks() -> list[Task]:
    """Every task started or resumed by any client of this process (``%mj wait``)."""
    return [task for client in list(_CLIENTS) for task in client.tasks]


class Client:
    """Submits Midjourney jobs to one provider and logs every task.

    ``Client()`` uses the provider from configuration (``"local"``, the built-in
    simulator, by default). Arguments beat ``mjnb.configure(...)``, which beats the
    ``MJNB_*`` environment. Methods return a :class:`Task` at once; the engine
    thread does the rest. ``timeout`` is how long one HTTP request may take (seconds).
    ``engine`` is for tests (``Engine(transport=httpx.ASGITransport(app))``).
    ``strict=False`` sends prompt parameters mjnb does not know, with a PromptWarning,
    instead of refusing them; ``translate=True`` asks providers that can (Ace's
    ``translation``) to translate prompts written in Chinese (settings ``strict`` and
    ``translate``, ``MJNB_STRICT`` / ``MJNB_TRANSLATE``).
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
        task_timeout: float | None = None,
        home: str | os.PathLike[str] | None = None,
        log: str | os.PathLike[str] | None = None,
        strict: bool | None = None,
        translate: bool | None = None,
        stream: bool = True,
        timeout: float = 30.0,
        engine: Engine | None = None,
    ) -> None:
        self.settings = config.settings(
            provider=provider,
            base_url=base_url,
            max_concurrency=max_concurrency,
            poll_interval=poll_interval,
            stall_timeout=stall_timeout,
            task_timeout=task_timeout,
            home=home,
            log_url=log,
            strict=strict,
            translate=translate,
        )
        self.provider = self.settings.provider
        # a malformed log URL is refused here, before any adapter or connection exists
        log_url = parse_log_url(self.settings.log_url, self.settings.home)
        credentials = config.credentials(self.provider, {"token": token, "app_id": app_id})
        url = config.base_url_for(self.provider, self.settings)
        if self.provider == "local" and url is None:
            from .providers.local import embedded_simulator_url

            url = embedded_simulator_url(self.settings.sim_latency)
        adapter = make_adapter(self.provider, base_url=url, **credentials)
        self.base_url = adapter.base_url
        self.home = self.settings.home
        interval = self.settings.poll_interval
        if interval is None:
            interval = adapter.poll_interval
        if adapter.base_url == getattr(adapter, "default_base_url", None):
            interval = max(interval, adapter.min_poll_interval)  # the real service's rule
        run = RunSettings(
            max_concurrency=self.settings.max_concurrency,
            poll_interval=interval,
            stall_timeout=self.settings.stall_timeout,
            stream=stream,
            request_timeout=timeout,
            task_timeout=self.settings.task_timeout,
        )
        #: the wiring behind this client; also the host Sweep and Task views are given
        self.session = Session(
            adapter,
            home=self.home,
            log_url=log_url,
            run=run,
            engine=engine,
            strict=self.settings.strict,
            translate=self.settings.translate,
        )
        _CLIENTS.add(self)
        #: jobs a dead kernel had sent, now polled by this client (polling is free)
        self.resumed: list[Task] = self.session.resume_tasks()

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
        images: Sequence[Any] | None = None,
    ) -> Task:
        """Submit a prompt; returns the Task at once. Bad prompts raise before sending.

        ``images``: image prompts (URLs, paths, bytes or PIL images). ``sweep_id`` and
        ``axes`` (this cell's value on each axis) are set by sweeps.
        """
        return self.session.imagine(prompt, mode=mode, sweep_id=sweep_id, axes=axes, images=images)

    def act(
        self, task: Task | str, label: str, *, prompt: str | None = None, index: int | None = None
    ) -> Task:
        """Start an action (``"U2"``, ``"V3"``, ``"zoom 2x"`` ...) on a finished task;
        with ``prompt``, a remix."""
        return self.session.act(task, label, prompt=prompt, index=index)

    def describe(self, image: Any) -> Task:
        """Four prompt suggestions for an image (URL, path, bytes or PIL image)."""
        return self.session.describe(image)

    def blend(self, images: Sequence[Any], *, dimensions: str = "square") -> Task:
        """Blend 2-5 images into a grid; ``dimensions`` is square, portrait or landscape."""
        return self.session.blend(images, dimensions=dimensions)

    def animate(
        self,
        image: Any,
        prompt: str = "",
        *,
        motion: str = "low",
        loop: bool = False,
        end: Any = None,
        batch: int = 1,
        raw: bool = False,
    ) -> Task:
        """Animate any image (URL, path, bytes, PIL): a video task of ``batch`` clips.

        ``motion`` is "low" or "high", ``loop`` ends on the first frame, ``end`` is an
        end frame. ``task.videos`` are the local .mp4 paths once it has succeeded.
        """
        return self.session.animate_image(
            image, prompt=prompt, motion=motion, loop=loop, end=end, batch=batch, raw=raw
        )

    def edit(self, image: Any, prompt: str, mask: Any = None) -> Task:
        """Edit an image of your own with ``prompt`` (optionally only inside ``mask``)."""
        return self.session.edit(image, prompt, mask=mask)

    def retexture(self, image: Any, prompt: str) -> Task:
        """Retexture an image of your own: same composition, the style of ``prompt``."""
        return self.session.edit(image, prompt, kind="retexture")

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
        from .sweep import plan_sweep, start_sweep

        plan = plan_sweep(
            prompt, axes=axes, provider=self.provider, mode=mode, strict=self.session.strict
        )
        budget = self.session.share.budget.check(plan.jobs)  # over a cap: one line, unsent
        if budget.capped:
            print(budget.note(plan.jobs))
        return start_sweep(
            self.session,
            prompt,
            confirm=confirm,
            max_jobs=max_jobs or self.settings.max_jobs,
            mode=mode,
            axes=axes,
            strict=self.session.strict,
        )

    def get_sweep(self, sweep_id: str) -> Sweep:
        """A logged sweep by id, re-attached to its cells' tasks; sends nothing."""
        from .sweep import Sweep

        return Sweep.from_log(self.session, sweep_id)

    def plan_sweep(self, prompt: str, **axes: Any) -> SweepPlan:
        """What :meth:`sweep` would run (job count, rough cost), without sending anything."""
        from .sweep import plan_sweep

        return plan_sweep(prompt, axes=axes, provider=self.provider, strict=self.session.strict)

    def sweep_video(
        self,
        image: Any,
        prompt: str | None = None,
        *,
        confirm: bool = False,
        max_jobs: int | None = None,
        mode: str | None = None,
        **axes: Any,
    ) -> Sweep:
        """Animate one image (Task, URL, path, bytes, PIL) along video axes
        (``motion=["low", "high"]``, ``seed=[1, 2]``, ``batch``, ``loop``, ``raw``,
        ``index``); see :mod:`mjnb.sweep.video`. Returns the running sweep at once."""
        from .sweep import sweep_video

        return sweep_video(
            self.session, image, prompt, confirm=confirm,
            max_jobs=max_jobs or self.settings.max_jobs, mode=mode, **axes,
        )  # fmt: skip

    def plan_sweep_video(self, image: Any, prompt: str | None = None, **axes: Any) -> SweepPlan:
        """What :meth:`sweep_video` would run (jobs, upscales first, cost); sends nothing."""
        from .sweep import plan_sweep_video

        return plan_sweep_video(self.session, image, prompt, **axes)

    def compare(self, *tasks: Task | str) -> Image:
        """Lay tasks side by side, labelled with the parameters that differ."""
        from .sweep import compare

        return compare([self.task(t) if isinstance(t, str) else t for t in tasks])

    # -- finding and waiting ------------------------------------------------------------
    def task(self, task_id: str) -> Task:
        """A task of this client by id (or unique id prefix), including logged ones."""
        return self.session.task(task_id)

    @property
    def tasks(self) -> list[Task]:
        """Tasks started (or resumed) by this client, oldest first."""
        return self.session.tasks

    def wait_all(self, timeout: float | None = None) -> list[Task]:
        """Block until every task of this client has ended."""
        for task in self.session.tasks:
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
        return self.session.log.dataframe(
            provider=provider, sweep=sweep, status=status, since=since, limit=limit
        )

    def sweeps(self) -> pd.DataFrame:
        """Every sweep ever logged, one row per sweep."""
        return self.session.log.sweeps()

    def prune(self, *, older_than: timedelta = timedelta(days=30)) -> int:
        """Delete cached images unused for ``older_than``; the log keeps every row.

        Images of this session's tasks are kept. Returns how many files were deleted.
        """
        keep = [t.image_path for t in self.session.tasks if t.image_path is not None]
        return self.session.images.prune(older_than=older_than, keep=keep)

    # -- budgets (mjnb.budget) -----------------------------------------------------------
    def budget(self) -> BudgetState:
        """Today's spend and caps for you on this account (a read)."""
        return self.session.share.budget.state()

    def set_budget(
        self,
        *,
        user_day: int | None = None,
        account_day: int | None = None,
        user: str | None = None,
        every_account: bool = False,
        clear: bool = False,
    ) -> BudgetState:
        """Store daily job caps in the log, for every kernel that uses it: per user
        (``user=`` for one user only) and per account (``every_account``: all of them)."""
        from .budget import ANY_ACCOUNT

        self.session.share.budget.set(
            user_day=user_day,
            account_day=account_day,
            user=user,
            account=ANY_ACCOUNT if every_account else None,
            clear=clear,
        )
        return self.budget()

    def spend(self, *, days: int | None = None, every_account: bool = False) -> pd.DataFrame:
        """Jobs spent per user per day on this account (a teacher's view), with the caps."""
        return self.session.share.budget.spend_frame(days=days, every_account=every_account)

    # -- control: interrupted work ------------------------------------------------------
    def _interrupted(self) -> tuple[list[dict[str, Any]], list[Task], list[Task], list[Sweep]]:
        """What was left: rows to show, tasks to send, results to fetch, sweeps to finish."""

        rows: list[dict[str, Any]] = []
        cells: dict[str, int] = {}
        sweep_ids = self.session.log.unfinished_sweeps(self.provider, older_than=SWEEP_GRACE)
        unsent = self.session.unsent()
        wanted = list(dict.fromkeys([*sweep_ids, *(t.sweep_id for t in unsent if t.sweep_id)]))
        sweeps = []
        for sweep_id in wanted:
            try:
                sweeps.append(self.get_sweep(sweep_id))
            except MJError:  # logged by an older mjnb without its cells: nothing to send
                continue
        for sweep in sweeps:
            for cell, task in sweep.items():
                if task is not None:
                    cells[task.id] = cell.index
        followed = [t for t in self.resumed if not t.done]
        unfetched = self.session.unfetched()
        for action, tasks in (("poll", followed), ("fetch", unfetched), ("send", unsent)):
            for task in tasks:
                rows.append(
                    {
                        "sweep_id": task.sweep_id,
                        "cell": cells.get(task.id),
                        "task_id": task.id,
                        "action": action,
                        "prompt": task.job.prompt,
                        "submitted_at": task.submitted_at,
                    }
                )
        for sweep in sweeps:
            for cell in sweep.missing:
                rows.append(
                    {
                        "sweep_id": sweep.id,
                        "cell": cell.index,
                        "task_id": None,
                        "action": "send",
                        "prompt": str(cell.prompt),
                        "submitted_at": None,
                    }
                )
        return rows, unsent, unfetched, [s for s in sweeps if s.missing]

    def pending(self) -> pd.DataFrame:
        """Interrupted work, one row per job, and what :meth:`resume` would do with it.

        ``action`` is ``"poll"`` for jobs a dead kernel had sent (this client already
        polls them, for free), ``"fetch"`` for jobs sent and paid whose result is not
        here (a task_timeout, a full disk: resuming polls and downloads them, for free)
        and ``"send"`` for jobs never sent: tasks that were still waiting for a slot and
        sweep cells never submitted. Nothing is sent here.
        """
        import pandas as pd

        rows, *_ = self._interrupted()
        frame = pd.DataFrame(rows, columns=list(PENDING_COLUMNS))
        frame["cell"] = frame["cell"].astype("Int64")
        return frame

    def resume(self, *, confirm: bool = False, max_jobs: int | None = None) -> list[Task]:
        """Send what dead kernels never sent (the ``"send"`` rows of :meth:`pending`), and
        fetch the paid results that are not here (the ``"fetch"`` rows; free).

        More than ``max_jobs`` (default: the ``max_jobs`` setting, 40) jobs needs
        ``confirm=True``; nothing is sent otherwise. Jobs already sent are never sent
        again (they are polled since ``Client()``). Returns the tasks sent now; raises
        :class:`mjnb.NotFound` when nothing is pending.
        """
        _, unsent, unfetched, sweeps = self._interrupted()
        count = len(unsent) + sum(len(sweep.missing) for sweep in sweeps)
        if count == 0 and not unfetched:
            raise NotFound(
                f"Nothing to resume: no unsent task, sweep cell or unfetched result of "
                f"{self.provider} in {self.session.log.where}."
            )
        limit = self.settings.max_jobs if max_jobs is None else max_jobs
        if count > limit and not confirm:
            raise InvalidArgument(
                f"Resuming would send {count} jobs, more than max_jobs={limit}; nothing was "
                "sent. Pass confirm=True to send them (see mj.pending() for the list)."
            )
        started = [self.session.refetch(task) for task in unfetched]
        started += [task for task in unsent if self.session.resume_unsent(task)]
        for sweep in sweeps:
            started.extend(sweep.resume())
        return started


class AsyncClient:
    """The same API as :class:`Client`, with coroutines; ``await task`` waits."""

    def __init__(self, provider: str | None = None, **options: Any) -> None:
        self._client = Client(provider, **options)
        self.provider = self._client.provider
        self.session = self._client.session

    def __repr__(self) -> str:
        return repr(self._client).replace("mjnb.Client", "mjnb.AsyncClient")

    async def imagine(self, prompt: str | Prompt, **options: Any) -> Task:
        return self._client.imagine(prompt, **options)

    async def act(self, task: Task | str, label: str, **options: Any) -> Task:
        return self._client.act(task, label, **options)

    async def describe(self, image: Any) -> Task:
        return self._client.describe(image)

    async def blend(self, images: Sequence[Any], **options: Any) -> Task:
        return self._client.blend(images, **options)

    async def animate(self, image: Any, prompt: str = "", **options: Any) -> Task:
        return self._client.animate(image, prompt, **options)

    async def edit(self, image: Any, prompt: str, mask: Any = None) -> Task:
        return self._client.edit(image, prompt, mask)

    async def retexture(self, image: Any, prompt: str) -> Task:
        return self._client.retexture(image, prompt)

    async def sweep(self, prompt: str, **options: Any) -> Sweep:
        return self._client.sweep(prompt, **options)

    def plan_sweep(self, prompt: str, **axes: Any) -> SweepPlan:
        return self._client.plan_sweep(prompt, **axes)

    async def compare(self, *tasks: Task | str) -> Image:
        return await asyncio.to_thread(self._client.compare, *tasks)

    async def wait_all(self) -> list[Task]:
        for task in self._client.tasks:
            await task
        return self._client.tasks

    async def log(self, **filters: Any) -> pd.DataFrame:
        return await asyncio.to_thread(self._client.log, **filters)

    async def sweeps(self) -> pd.DataFrame:
        return await asyncio.to_thread(self._client.sweeps)

    async def pending(self) -> pd.DataFrame:
        return await asyncio.to_thread(self._client.pending)

    async def spend(self, **options: Any) -> pd.DataFrame:
        return await asyncio.to_thread(self._client.spend, **options)

    async def resume(self, *, confirm: bool = False, max_jobs: int | None = None) -> list[Task]:
        return await asyncio.to_thread(self._client.resume, confirm=confirm, max_jobs=max_jobs)

    @property
    def tasks(self) -> list[Task]:
        return self._client.tasks

    def task(self, task_id: str) -> Task:
        return self._client.task(task_id)
