"""The runner: drives one task from submit to its final log row.

Policy lives here once, for every provider:

- a per-provider concurrency limit with a local queue (the engine's :class:`Limit`,
  held from submit until the remote job ends);
- a submit is retried only where the provider cannot have created the job
  (connection refused, 429, queue full); anything else fails the task, never
  submitting twice; once a request may have left the machine the task is marked
  "sending" in the log, and that mark and a known remote id survive every later write;
- polls retry freely, at the provider's interval, and a job that shows no progress
  for ``stall_timeout`` seconds is failed with a reason;
- results are downloaded as soon as a job succeeds (provider URLs expire), checked,
  and stored without decoding;
- every submit, poll, download and preview has one wall-clock deadline around the
  whole exchange (body included: trickled bytes cannot extend it) and a byte cap
  (:mod:`.wire`); a stream follows the poll's no-progress rule, and when it stalls or
  sends a line over the cap mjnb polls instead (the same rule then ends the task);
- a task not yet sent can be cancelled at once; a sent one is cancelled at the
  provider where its protocol allows;
- ``task_timeout`` ends a task with a reason but keeps its remote id, and a full disk
  or unwritable cache ends it with a :class:`~mjnb.errors.StorageError` naming the
  folder; either way :meth:`reopen` + :meth:`run` (``task.refetch()``) polls the job
  again, never submitting it, and downloads the result while its URL is valid.

The runner is the only writer of :class:`~mjnb.runtime.state.TaskState`; every task
ends through :meth:`Runner.finish`. (A task another session or kernel runs is only
mirrored here from its log row, by :mod:`.mirror`, which writes no log.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ..errors import (
    AuthError,
    MJError,
    NotReady,
    ProviderError,
    RateLimited,
    Timeout,
)
from ..providers.base import Adapter, Job, Snapshot, resolve_locally
from ..secrets import scrub
from ..vocab import MAX_ANSWER_BYTES
from . import fetch, media
from .engine import Engine, with_timeout
from .polls import Polls
from .state import TaskState, snapshot_state
from .wire import TooLarge, read_capped, read_lines, reason, send_capped

if TYPE_CHECKING:
    from ..images import ImageStore
    from ..log import TaskLog
    from .slots import AccountShare

logger = logging.getLogger("mjnb")

MAX_CONNECT_ATTEMPTS = 5  # 1+2+4+8 s of back-off: a refused connection is rarely transient
#: what an adapter raises on an answer of the wrong shape (valid JSON, wrong types)
PARSE_ERRORS: tuple[type[Exception], ...] = (TypeError, KeyError, AttributeError, IndexError)
#: a poll that fails with one of these is tried again
POLL_ERRORS: tuple[type[Exception], ...] = (
    ProviderError,
    httpx.TransportError,
    ValueError,
    *PARSE_ERRORS,
)
#: seconds between log writes of a running job's progress alone
PROGRESS_WRITES = 1.0
CANCELLED_UNSENT = (
    "cancelled before it was sent; nothing was spent (never sent, also not by resume)"
)


class Runner:
    """Runs the tasks of one session: its adapter, log, image cache and settings.

    The only writer of :class:`TaskState`. The connection pool and the concurrency
    limits are the engine's (shared by every session of one provider endpoint).
    """

    def __init__(
        self,
        engine: Engine,
        adapter: Adapter,
        *,
        log: TaskLog,
        images: ImageStore,
        max_concurrency: int,
        poll_interval: float,
        stall_timeout: float,
        stream: bool = True,
        request_timeout: float = 30.0,
        task_timeout: float | None = None,
        share: AccountShare | None = None,
    ) -> None:
        self.engine = engine
        #: the account's shared slots, budget and gallery (None: this process alone)
        self.share = share
        self.adapter = adapter
        self.log = log
        self.images = images
        self.max_concurrency = max_concurrency
        self.poll_interval = poll_interval
        self.stall_timeout = stall_timeout
        self.stream = stream
        #: the whole task's deadline (None: none); the remote id is kept when it passes
        self.task_timeout = task_timeout
        #: one request's limit; a stream may stay quiet up to stall_timeout (at most 120 s)
        connect = min(10.0, request_timeout)
        self.timeout = httpx.Timeout(request_timeout, connect=connect)
        self.stream_timeout = httpx.Timeout(
            request_timeout, connect=connect, read=min(120.0, stall_timeout)
        )
        #: the wall-clock deadline of one whole exchange (answers), and of one download
        self.deadline = request_timeout
        self.download_deadline = 4 * request_timeout
        #: every job's next reading, batched where the protocol can (see .polls)
        self.polls = Polls(adapter, self.exchange, poll_interval)
        self._background: set[asyncio.Future[None]] = set()
        #: when each task last changed (monotonic), so a stall counts from there
        self._changed_at: dict[str, float] = {}
        #: when each task's row was last written for a new reading (monotonic)
        self._written_at: dict[str, float] = {}
        #: the asyncio task driving each running TaskState, so a cancel can stop it
        self._driving: dict[str, asyncio.Task[Any]] = {}

    @property
    def http(self) -> httpx.AsyncClient:
        return self.engine.http

    # -- one task, start to end ---------------------------------------------------------
    async def run(self, state: TaskState, *, resume: bool = False) -> None:
        """Submit (unless resuming), follow to the end, fetch the result, log it all."""
        current = asyncio.current_task()
        if current is not None:
            self._driving[state.id] = current
        try:
            if self.task_timeout is None:
                await self._drive(state, resume=resume)
            else:
                await asyncio.wait_for(self._drive(state, resume=resume), self.task_timeout)
        except asyncio.CancelledError:
            if not state.cancelled:
                raise  # the loop is closing; finish() still ends the task
            state.fail(CANCELLED_UNSENT, status="cancelled")
        except MJError as exc:
            state.fail(self.say(str(exc)))
        except asyncio.TimeoutError:  # the task_timeout (mjnb.Timeout is an MJError)
            state.unfetched = bool(state.snapshot.remote_id)
            state.fail(
                f"Task {state.id} did not finish within task_timeout={self.task_timeout:.0f} s; "
                "mjnb stopped following it"
                + (
                    f" (the job's id is kept: mj.task({state.id!r}).refetch() polls it "
                    "again and fetches a paid result)."
                    if state.snapshot.remote_id
                    else "."
                )
            )
        except Exception as exc:  # never leave a task hanging, whatever broke
            logger.exception("mjnb: task %s broke", state.id)
            state.fail(
                self.say(f"mjnb internal error ({type(exc).__name__}: {exc}); please report it.")
            )
        finally:
            self._changed_at.pop(state.id, None)
            self._written_at.pop(state.id, None)
            self._driving.pop(state.id, None)
            self.finish(state)

    async def _drive(self, state: TaskState, *, resume: bool) -> None:
        key = (self.adapter.name, self.adapter.base_url)
        await media.wait_for_start(self, state)  # the U<n> an animate starts from
        async with self.engine.limit(key, self.max_concurrency), self._shared(state, resume):
            if state.cancelled:
                raise asyncio.CancelledError  # cancelled while it waited for its slot
            if not resume:
                await media.upload_local(self, state)
                await self._submit(state)
            await media.confirm(self, state)  # trueai's MODAL step, at most once
            if not state.snapshot.done:
                await self._follow(state)
        if state.snapshot.status == "succeeded":
            if state.snapshot.video_urls:
                await media.fetch_videos(self, state)
            else:
                await fetch.result(self, state)
                if self.share is not None:
                    await self.share.share_result(state.id, state.image_path)

    def _shared(self, state: TaskState, resume: bool) -> AbstractAsyncContextManager[None]:
        """The account's shared slot (and budget unit), behind the local limit."""
        if self.share is None:
            return contextlib.nullcontext()
        return self.share.turn(self.max_concurrency, state.id, spend=not resume)

    def say(self, text: str) -> str:
        """``text`` fit for an error, a widget or the log: none of this adapter's
        credentials in any spelling (a transport error may quote a ``?token=`` URL)."""
        try:
            return scrub(text, self.adapter.secrets)
        except Exception:  # a reason must never be what breaks the end of a task
            return "mjnb could not show the provider's message (it was not text)"

    def finish(self, state: TaskState) -> None:
        """End ``state`` through the one end-of-task sequence (it cannot raise)."""
        if state.error:
            state.error = self.say(str(state.error))
        state.finish(lambda s: self._record(s, final=True, strict=True), self._record_minimal)

    def end(self, state: TaskState, reason: str, *, status: str = "failed") -> None:
        """End a task that is not running here (found unfinished in the log)."""
        state.fail(reason, status=status)
        self.finish(state)

    async def reopen(self, state: TaskState) -> None:
        """Make an ended task followable again, for :meth:`run` with ``resume=True``:
        its job is polled (one the task_timeout gave up on) and its image downloaded
        again (a full disk, a damaged or pruned cache file). Needs the job's remote id;
        a job the provider failed is polled and reads failed again."""
        snapshot = state.snapshot
        if not snapshot.remote_id:
            raise NotReady(
                f"Task {state.id} has no job id from {self.adapter.name} (it was never "
                "named), so there is nothing to fetch; run the prompt again."
            )
        if snapshot.status in ("cancelled",):
            raise NotReady(f"Task {state.id} was cancelled; there is nothing to fetch.")
        from .state import Pixels

        # a failed job the provider itself failed stays failed: polling shows it again
        state.snapshot = replace(
            snapshot, status="succeeded" if snapshot.status == "succeeded" else "running"
        )
        state.error, state.finished_at, state.unfetched = None, None, False
        state.image_path, state.image_paths = None, ()
        state.pixels = Pixels()
        state.done.clear()
        self._record(state)

    # -- cancel -------------------------------------------------------------------------
    async def cancel(self, state: TaskState) -> str:
        """Cancel a task: dropped at once if unsent, else asked of the provider."""
        if state.done.is_set():
            raise NotReady(f"Task {state.id} already {state.status}; nothing to cancel.")
        if not state.sending:
            state.cancelled = True  # run() checks it, should it get its slot first
            driving = self._driving.get(state.id)
            if driving is not None:
                driving.cancel()
                await asyncio.wait({driving})  # ended (and logged) before we answer
            else:  # not running here (an unsent task left by another kernel)
                self.end(state, CANCELLED_UNSENT, status="cancelled")
            return f"Task {state.id} was cancelled before it was sent; nothing was spent."
        name = self.adapter.name
        if not state.snapshot.remote_id:
            return (
                f"Task {state.id} is being sent and {name} has not named it yet, so it "
                "cannot be cancelled yet; try again in a moment."
            )
        request = self.adapter.cancel(state.snapshot)
        if request is None:
            return (
                f"{name} cannot cancel this job; mjnb keeps following task {state.id} so "
                "the paid result is still saved."
            )
        response = await self.exchange(request)
        self.adapter.parse_cancel(state.snapshot, response)
        return (
            f"Asked {name} to cancel task {state.id}; mjnb keeps polling until the "
            "provider confirms (a job that finishes first keeps its result)."
        )

    async def _submit(self, state: TaskState) -> None:
        job = state.job
        finished = resolve_locally(self.adapter, job)
        if finished is not None:
            self.update(state, finished)
            return
        streaming = self.stream and self.adapter.stream(job) is not None
        # from here on the job may exist remotely: a restart must not send it again
        state.sending = True
        self.log.update_task(state.id, remote_state={"sending": True})
        delay, attempts, started = 1.0, 0, time.monotonic()
        while True:
            attempts += 1
            request = self.adapter.stream(job) if streaming else self.adapter.submit(job)
            assert request is not None
            try:
                if streaming:
                    await self._stream(state, with_timeout(request, self.stream_timeout))
                else:
                    response = await self.exchange(request)
                    self.update(state, self._parse_submit(job, response))
                return
            except RateLimited as exc:
                if time.monotonic() - started > self.stall_timeout:
                    raise RateLimited(
                        f"{self.adapter.name} kept answering '{exc}' for "
                        f"{self.stall_timeout:.0f} s; the job was not created. Try again later.",
                        code=exc.code,
                        status=exc.status,
                    ) from None
                wait = exc.retry_after if exc.retry_after is not None else delay
                logger.info("mjnb: %s rate limited, retrying in %.1f s", self.adapter.name, wait)
                await asyncio.sleep(wait)
                delay = min(delay * 2, 30.0)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempts >= MAX_CONNECT_ATTEMPTS:
                    raise ProviderError(
                        f"Could not connect to {self.adapter.base_url} ({type(exc).__name__}) "
                        f"after {attempts} attempts; check the address and your network."
                    ) from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            except httpx.TransportError as exc:
                if state.snapshot.remote_id:  # the job exists: follow it by polling
                    return
                raise ProviderError(
                    f"The connection to {self.adapter.name} broke during the submit "
                    f"({type(exc).__name__}); the job may have been created, so mjnb did not "
                    "send it again. Check the provider's task list before retrying."
                ) from None
            except PARSE_ERRORS as exc:
                raise ProviderError(
                    f"{self.adapter.name} answered the submit in a form mjnb could not read "
                    f"({reason(exc)}); the job may have been created, so mjnb did not send "
                    "it again. Check the provider's task list before retrying."
                ) from None

    def _parse_submit(self, job: Job, response: httpx.Response) -> Snapshot:
        """The submit's answer; one that is not a JSON object may hide a created job."""
        try:
            return self.adapter.parse_submit(job, response)
        except (RateLimited, AuthError):
            raise
        except ProviderError as exc:
            if response.is_error or _json_object(response.content):
                raise
            raise ProviderError(
                f"{self.adapter.name} answered the submit with something unreadable (HTTP "
                f"{response.status_code}), so the job may have been created; mjnb did not "
                "send it again. Check the provider's task list before retrying.",
                code=exc.code,
                status=exc.status,
            ) from None

    async def exchange(
        self,
        request: httpx.Request,
        *,
        what: str = "the answer",
        limit: int = MAX_ANSWER_BYTES,
        deadline: float | None = None,
    ) -> httpx.Response:
        """Send ``request`` and read its answer whole, within one deadline (the
        request's, unless given: an upload's body takes longer) and a cap."""
        return await send_capped(
            self.http,
            with_timeout(request, self.timeout),
            deadline=self.deadline if deadline is None else deadline,
            limit=limit,
            what=f"{self.adapter.name}'s {what.removeprefix('the ')}",
        )

    async def _stream(self, state: TaskState, request: httpx.Request) -> None:
        """Follow a job through its NDJSON stream, under the poll's no-progress rule.

        The answer's headers must come within the request deadline; from then on the
        stream must show progress every ``stall_timeout`` seconds (a stream repeating
        50% forever, or trickling bytes, does not count). When it stalls, breaks or
        sends a line over the cap after naming the job, mjnb polls instead, and the
        same rule (counted from the last progress) ends a job that is stuck.
        """
        problem = ""
        try:
            response = await asyncio.wait_for(self.http.send(request, stream=True), self.deadline)
        except asyncio.TimeoutError:
            raise httpx.ReadTimeout("no answer in time", request=request) from None
        try:
            content_type = response.headers.get("content-type", "")
            if response.status_code != 200 or "ndjson" not in content_type:
                # an error, or a server that answered in one piece
                body = await asyncio.wait_for(
                    read_capped(response, MAX_ANSWER_BYTES, "the answer"), self.deadline
                )
                buffered = httpx.Response(
                    response.status_code,
                    headers={"content-type": content_type},
                    content=body,
                    request=request,
                )
                self.update(state, self._parse_submit(state.job, buffered))
                return
            lines = read_lines(response, MAX_ANSWER_BYTES).__aiter__()
            moved = time.monotonic()  # the last progress the stream showed
            while True:
                left = moved + self.stall_timeout - time.monotonic()
                try:
                    line = await asyncio.wait_for(lines.__anext__(), max(left, 0.0))
                except StopAsyncIteration:
                    break
                try:
                    snapshot = self.adapter.parse_line(state.job, line)
                except PARSE_ERRORS as exc:  # a garbled line: the next may be whole
                    logger.info("mjnb: unreadable stream line for %s (%s)", state.id, exc)
                    continue
                if snapshot is None:
                    continue
                seen = (state.status, state.snapshot.progress)
                self.update(state, snapshot)
                if snapshot.done:
                    return
                if (state.status, state.snapshot.progress) != seen:
                    moved = time.monotonic()
        except asyncio.TimeoutError:
            problem = f"showed no progress for {self.stall_timeout:.0f} s"
        except TooLarge as exc:
            if not state.snapshot.remote_id:
                raise
            problem = str(exc)
        finally:
            await response.aclose()
        if state.snapshot.remote_id:
            if problem:
                logger.info("mjnb: the stream of %s %s; polling instead", state.id, problem)
            return  # _follow polls it, counting the stall from the last progress
        raise ProviderError(
            f"{self.adapter.name}'s stream "
            + (problem or "ended")
            + " before it named the job; it may have been created, so mjnb did not send "
            "it again."
        )

    async def _follow(self, state: TaskState) -> None:
        """Poll until the job ends. Fails the task once it has shown no progress, or
        every poll has failed, for ``stall_timeout`` seconds (whichever is true; a job
        readings showed stuck is reported stuck, even when the last polls failed)."""
        last_change = self._changed_at.get(state.id, time.monotonic())
        failures, failing_since = 0, 0.0
        seen = (state.status, state.snapshot.progress)
        stuck_seen = False  # a reading since the last change showed no progress
        while not state.snapshot.done:
            try:
                snapshot = await self.polls.read(state.snapshot, failures)
            except AuthError:
                raise
            except POLL_ERRORS as exc:
                failures += 1
                failing_since = failing_since or time.monotonic()
                logger.info("mjnb: poll of %s failed (%s), will retry", state.id, exc)
                if time.monotonic() - failing_since > self.stall_timeout:
                    if stuck_seen:  # readings showed it stuck before the polls failed
                        raise self._stalled(state) from None
                    raise Timeout(
                        f"Task {state.id}: every poll of {self.adapter.name} failed for "
                        f"{self.stall_timeout:.0f} s (last error: {reason(exc)}); mjnb "
                        "stopped waiting. Check the job's status with the provider."
                    ) from None
                if time.monotonic() - last_change <= self.stall_timeout:
                    continue
            else:
                failures, failing_since = 0, 0.0
                self.update(state, snapshot)
                stuck_seen = (state.status, state.snapshot.progress) == seen
                if not stuck_seen:
                    seen, last_change = (state.status, state.snapshot.progress), time.monotonic()
            if time.monotonic() - last_change > self.stall_timeout:
                raise self._stalled(state)

    def _stalled(self, state: TaskState) -> Timeout:
        return Timeout(
            f"Task {state.id} showed no progress for {self.stall_timeout:.0f} s "
            f"(stuck {state.status} at {state.snapshot.progress}%); mjnb stopped waiting. "
            "Providers often fail such jobs later; check its status there."
        )

    async def download(self, url: str) -> Path:
        """GET ``url`` (retrying transient failures) and store it; returns its path."""
        return await fetch.download(self, url)

    # -- state changes ------------------------------------------------------------------
    def update(self, state: TaskState, snapshot: Snapshot) -> None:
        """Take a new reading of the job: log it, tell the views, fetch a new preview.
        Only the runner and its media steps (:mod:`.media`) call it."""
        old = state.snapshot
        old_preview = old.preview_url
        if state.apply(snapshot):
            now = time.monotonic()
            self._changed_at[state.id] = now
            # progress alone is written at most every PROGRESS_WRITES seconds (views get
            # every reading; the log needs only what resume and other kernels read)
            if not _progress_only(old, state.snapshot) or (
                now - self._written_at.get(state.id, 0.0) >= PROGRESS_WRITES
            ):
                self._written_at[state.id] = now
                self._record(state)
            state.notify()
            url = snapshot.preview_url
            if url and url != old_preview and not snapshot.done and state.listeners:
                fetching = asyncio.ensure_future(fetch.preview(self, state, url))
                self._background.add(fetching)
                fetching.add_done_callback(self._background.discard)

    def _record(self, state: TaskState, *, final: bool = False, strict: bool = False) -> None:
        """Write the task's row; ``strict`` lets a failure raise (the final write has a
        fallback), else it is logged and the next change writes again."""
        snapshot = state.snapshot
        try:
            self.log.update_task(
                state.id,
                status=snapshot.status if final else state.status,
                progress=snapshot.progress,
                error=state.reason,
                remote_id=snapshot.remote_id,
                remote_state=snapshot_state(
                    snapshot, sending=state.sending, unfetched=state.unfetched
                ),
                started_at=state.started_at,
                finished_at=state.finished_at,
                # separate images (Youchuan) have no grid URL: keep all four, space-separated
                image_url=snapshot.image_url or " ".join(snapshot.image_urls) or None,
                image_path=str(state.image_path) if state.image_path else None,
                **media.row_fields(state),
            )
        except MJError:
            if strict:
                raise
            logger.exception("mjnb: could not write task %s to the log", state.id)

    def _record_minimal(self, state: TaskState) -> None:
        """The final write's fallback: only what resume and the user need, as text."""
        snapshot = state.snapshot
        remote_id = snapshot.remote_id if isinstance(snapshot.remote_id, str) else None
        self.log.update_task(
            state.id,
            status=str(snapshot.status),
            error=str(state.reason or "mjnb could not log how this task ended"),
            remote_id=remote_id,
            remote_state={
                "status": str(snapshot.status),
                "remote_id": remote_id,
                "sending": state.sending,
                "unfetched": state.unfetched,
            },
            finished_at=datetime.now(timezone.utc),
        )


def _json_object(content: bytes) -> bool:
    try:
        return isinstance(json.loads(content), dict)
    except ValueError:
        return False


def _progress_only(old: Snapshot, new: Snapshot) -> bool:
    """True when a reading moved the progress (or the preview) and nothing else."""
    return replace(old, progress=new.progress, preview_url=new.preview_url) == new
