"""The engine: one asyncio loop in a daemon thread that owns every bit of I/O.

Every HTTP call, poll, stream, download and log write happens on this loop. The
sync API waits on it (``Task.wait`` blocks on an event, never on the loop), the async
API awaits it, and widgets are told of changes from it. Policy lives here once, for
every provider:

- a per-provider concurrency limit with a local queue (an ``asyncio.Semaphore``
  held from submit until the remote job ends);
- a submit is retried only where the provider cannot have created the job
  (connection refused, 429, queue full); anything else fails the task, never
  submitting twice;
- polls retry freely, at the provider's interval, and a job that shows no progress
  for ``stall_timeout`` seconds is failed with a reason;
- results are downloaded as soon as a job succeeds (provider URLs expire).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Coroutine, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import httpx

from .errors import AuthError, MJError, ProviderError, RateLimited, Timeout
from .providers.base import Adapter, Job, Snapshot, resolve_locally
from .secrets import redact_url

if TYPE_CHECKING:
    from pathlib import Path

    from PIL.Image import Image

    from .images import ImageStore
    from .log import TaskLog
    from .task import Task

logger = logging.getLogger("mjnb")
T = TypeVar("T")

#: how long a poll or download may take before it counts as one failed attempt
REQUEST_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MAX_CONNECT_ATTEMPTS = 5  # 1+2+4+8 s of back-off: a refused connection is rarely transient
#: query parameters whose values never reach a log line
SECRET_PARAMS = ("token", "key", "api_key", "apikey", "secret", "access_token")
#: what an adapter raises on an answer of the wrong shape (valid JSON, wrong types)
PARSE_ERRORS: tuple[type[Exception], ...] = (TypeError, KeyError, AttributeError, IndexError)
#: a poll that fails with one of these is tried again
POLL_ERRORS: tuple[type[Exception], ...] = (
    ProviderError,
    httpx.TransportError,
    ValueError,
    *PARSE_ERRORS,
)
MAX_IMAGE_BYTES = 40 * 1024 * 1024


class _RedactURLs(logging.Filter):
    """Masks secret query values in the URLs httpx logs at INFO (``HTTP Request: ...``):
    the ``zhishuyun`` protocol carries its token as ``?token=``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(arg) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


_REDACT = _RedactURLs()


class Engine:
    """The process-wide loop thread. Use :meth:`get`; there is one per process."""

    _instance: ClassVar[Engine | None] = None
    _instance_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        logging.getLogger("httpx").addFilter(_REDACT)  # a no-op when already there
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="mjnb-engine", daemon=True
        )
        self._thread.start()
        self._limits: dict[tuple[str, str], Limit] = {}
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The one connection pool of the process; used only on the engine loop."""
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=REQUEST_TIMEOUT,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            )
        return self._http

    @classmethod
    def get(cls) -> Engine:
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def spawn(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the engine loop; returns at once."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the engine loop and block for its result."""
        self.check_not_engine_thread("a blocking mjnb call")
        return self.spawn(coro).result(timeout)

    def in_engine_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def check_not_engine_thread(self, what: str) -> None:
        if self.in_engine_thread():
            raise MJError(
                f"{what} would block mjnb's engine thread (called from a task listener); "
                "use `await task` or schedule the work elsewhere."
            )

    def limit(self, key: tuple[str, str], size: int) -> Limit:
        """The concurrency limit shared by every client of one provider endpoint.

        One provider plan allows so many jobs at once, whichever client sends them: the
        size asked for last applies to all of them.
        """
        if key not in self._limits:
            self._limits[key] = Limit(size)
        self._limits[key].resize(size)
        return self._limits[key]


class Limit:
    """At most ``size`` holders at once, first come first served; the size can change.

    Used only on the engine loop, so it needs no lock.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.active = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    def resize(self, size: int) -> None:
        self.size = size
        self._admit()

    def _admit(self) -> None:
        while self._waiting and self.active < self.size:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                self.active += 1

    async def __aenter__(self) -> None:
        if self.active < self.size and not self._waiting:
            self.active += 1
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # granted as we were cancelled
                self.active -= 1
                self._admit()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self.active -= 1
        self._admit()


def _with_timeout(request: httpx.Request, timeout: httpx.Timeout) -> httpx.Request:
    # a Request built outside a client carries no timeout; httpcore would wait forever
    request.extensions["timeout"] = timeout.as_dict()
    return request


def snapshot_state(snapshot: Snapshot) -> dict[str, Any]:
    """What the log keeps of a snapshot to resume polling after a restart."""
    state = asdict(snapshot)
    state["wire"] = dict(snapshot.wire)
    state["extra"] = dict(snapshot.extra)
    return state


def snapshot_from_state(state: Mapping[str, Any]) -> Snapshot:
    return Snapshot(
        status=state.get("status", "queued"),
        progress=int(state.get("progress") or 0),
        remote_id=state.get("remote_id"),
        image_url=state.get("image_url"),
        preview_url=state.get("preview_url"),
        image_urls=tuple(state.get("image_urls") or ()),
        wire=dict(state.get("wire") or {}),
        error=state.get("error"),
        descriptions=tuple(state.get("descriptions") or ()),
        extra=dict(state.get("extra") or {}),
    )


class Runner:
    """Runs the tasks of one client: its adapter, log, image cache and settings."""

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
    ) -> None:
        self.engine = engine
        self.adapter = adapter
        self.log = log
        self.images = images
        self.max_concurrency = max_concurrency
        self.poll_interval = poll_interval
        self.stall_timeout = stall_timeout
        self.stream = stream
        #: one request's limit; a stream may stay quiet up to stall_timeout (at most 120 s)
        connect = min(10.0, request_timeout)
        self.timeout = httpx.Timeout(request_timeout, connect=connect)
        self.stream_timeout = httpx.Timeout(
            request_timeout, connect=connect, read=min(120.0, stall_timeout)
        )
        self._background: set[asyncio.Future[None]] = set()
        #: when each task last changed (monotonic), so a stall counts from there
        self._changed_at: dict[str, float] = {}

    @property
    def http(self) -> httpx.AsyncClient:
        return self.engine.http

    # -- one task, start to end ---------------------------------------------------------
    async def run(self, task: Task, *, resume: bool = False) -> None:
        """Submit (unless resuming), follow to the end, fetch the result, log it all."""
        key = (self.adapter.name, self.adapter.base_url)
        try:
            async with self.engine.limit(key, self.max_concurrency):
                if not resume:
                    await self._submit(task)
                if not task.snapshot.done:
                    await self._follow(task)
            if task.snapshot.status == "succeeded":
                await self._fetch(task)
        except MJError as exc:
            task._fail(str(exc))
        except Exception as exc:  # never leave a task hanging, whatever broke
            logger.exception("mjnb: task %s broke", task.id)
            task._fail(f"mjnb internal error ({type(exc).__name__}: {exc}); please report it.")
        finally:
            self._changed_at.pop(task.id, None)
            task._end()
            self._record(task, final=True)  # the log is final before any waiter wakes
            task._finish()

    async def _submit(self, task: Task) -> None:
        job = task.job
        finished = resolve_locally(self.adapter, job)
        if finished is not None:
            self._update(task, finished)
            return
        streaming = self.stream and self.adapter.stream(job) is not None
        # from here on the job may exist remotely: a restart must not send it again
        self.log.update_task(task.id, remote_state={"sending": True})
        delay, attempts, started = 1.0, 0, time.monotonic()
        while True:
            attempts += 1
            request = self.adapter.stream(job) if streaming else self.adapter.submit(job)
            assert request is not None
            try:
                if streaming:
                    await self._stream(task, _with_timeout(request, self.stream_timeout))
                else:
                    response = await self.http.send(_with_timeout(request, self.timeout))
                    self._update(task, self._parse_submit(job, response))
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
                if task.snapshot.remote_id:  # the job exists: follow it by polling
                    return
                raise ProviderError(
                    f"The connection to {self.adapter.name} broke during the submit "
                    f"({type(exc).__name__}); the job may have been created, so mjnb did not "
                    "send it again. Check the provider's task list before retrying."
                ) from None
            except PARSE_ERRORS as exc:
                raise ProviderError(
                    f"{self.adapter.name} answered the submit in a form mjnb could not read "
                    f"({_reason(exc)}); the job may have been created, so mjnb did not send "
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

    async def _stream(self, task: Task, request: httpx.Request) -> None:
        response = await self.http.send(request, stream=True)
        try:
            content_type = response.headers.get("content-type", "")
            if response.status_code != 200 or "ndjson" not in content_type:
                await response.aread()  # an error, or a server that answered in one piece
                self._update(task, self._parse_submit(task.job, response))
                return
            async for line in response.aiter_lines():
                try:
                    snapshot = self.adapter.parse_line(task.job, line.encode())
                except PARSE_ERRORS as exc:  # a garbled line: the next one may be whole
                    logger.info("mjnb: unreadable stream line for %s (%s)", task.id, exc)
                    continue
                if snapshot is not None:
                    self._update(task, snapshot)
                    if snapshot.done:
                        return
        finally:
            await response.aclose()
        if not task.snapshot.remote_id:
            raise ProviderError(
                f"{self.adapter.name}'s stream ended before it named the job; it may have "
                "been created, so mjnb did not send it again."
            )

    async def _follow(self, task: Task) -> None:
        """Poll until the job ends. Fails the task once it has shown no progress, or
        every poll has failed, for ``stall_timeout`` seconds (whichever is true)."""
        last_change = self._changed_at.get(task.id, time.monotonic())
        failures, failing_since = 0, 0.0
        seen = (task.status, task.progress)
        while not task.snapshot.done:
            await asyncio.sleep(self.poll_interval * min(2**failures, 16))
            try:
                request = _with_timeout(self.adapter.poll(task.snapshot), self.timeout)
                response = await self.http.send(request)
                snapshot = self.adapter.parse_poll(task.snapshot, response)
            except AuthError:
                raise
            except POLL_ERRORS as exc:
                failures += 1
                failing_since = failing_since or time.monotonic()
                logger.info("mjnb: poll of %s failed (%s), will retry", task.id, exc)
                if time.monotonic() - failing_since > self.stall_timeout:
                    raise Timeout(
                        f"Task {task.id}: every poll of {self.adapter.name} failed for "
                        f"{self.stall_timeout:.0f} s (last error: {_reason(exc)}); mjnb "
                        "stopped waiting. Check the job's status with the provider."
                    ) from None
                if time.monotonic() - last_change <= self.stall_timeout:
                    continue
            else:
                failures, failing_since = 0, 0.0
                self._update(task, snapshot)
                if (task.status, task.progress) != seen:
                    seen, last_change = (task.status, task.progress), time.monotonic()
            if time.monotonic() - last_change > self.stall_timeout:
                raise Timeout(
                    f"Task {task.id} showed no progress for {self.stall_timeout:.0f} s "
                    f"(stuck {task.status} at {task.progress}%); mjnb stopped waiting. "
                    "Providers often fail such jobs later; check its status there."
                )

    async def _fetch(self, task: Task) -> None:
        """Download the result at once, into the content-addressed cache."""
        snapshot = task.snapshot
        urls = [snapshot.image_url] if snapshot.image_url else list(snapshot.image_urls)
        if not urls or task.job.kind == "describe":
            return  # text only (a describe's image_url is the user's own picture)
        try:
            stored = [await self._download(url) for url in urls]
        except MJError as exc:
            task._error = f"the image could not be downloaded: {exc}"
            return
        if len(stored) == 1:
            task.image_path, task._image = stored[0]
        else:  # separate images (Youchuan): the grid is composed here, once
            task.image_paths = tuple(path for path, _ in stored)
            task.image_path, task._image = await asyncio.to_thread(
                self._compose, [image for _, image in stored]
            )

    def _compose(self, images: list[Image]) -> tuple[Path, Image]:
        from .images import compose_grid, encode

        grid = compose_grid(images)
        path, _ = self.images.store(encode(grid, "PNG"))
        return path, grid

    async def _download(self, url: str) -> tuple[Path, Image]:
        last: Exception | None = None
        for attempt in range(4):
            try:
                request = _with_timeout(self.adapter.download(url), self.timeout)
                response = await self.http.send(request, stream=True)
                try:
                    if response.status_code != 200:
                        raise ProviderError(
                            f"GET of the image answered HTTP {response.status_code}"
                            + (" (the URL has expired)" if response.status_code == 403 else ""),
                            status=response.status_code,
                        )
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_IMAGE_BYTES:
                            raise ProviderError(
                                f"the image is larger than {MAX_IMAGE_BYTES // 2**20} MB; refused."
                            )
                finally:
                    await response.aclose()
                content_type = response.headers.get("content-type")
                return await asyncio.to_thread(
                    self.images.store, bytes(body), content_type=content_type
                )
            except httpx.TransportError as exc:
                last = exc
                await asyncio.sleep(0.5 * 2**attempt)
            except ProviderError as exc:
                if exc.status is None or exc.status < 500:
                    raise
                last = exc
                await asyncio.sleep(0.5 * 2**attempt)
        raise ProviderError(f"downloading {_short(url)} failed: {last}")

    # -- state changes ------------------------------------------------------------------
    def _update(self, task: Task, snapshot: Snapshot) -> None:
        old_preview = task.snapshot.preview_url
        if task._apply(snapshot):
            self._changed_at[task.id] = time.monotonic()
            self._record(task)
            task._changed()
            url = snapshot.preview_url
            if url and url != old_preview and not snapshot.done and task._listeners:
                fetch = asyncio.ensure_future(self._fetch_preview(task, url))
                self._background.add(fetch)
                fetch.add_done_callback(self._background.discard)

    async def _fetch_preview(self, task: Task, url: str) -> None:
        """Fetch a running job's low-resolution preview for the views watching it."""
        try:
            request = _with_timeout(self.adapter.download(url), self.timeout)
            response = await self.http.send(request)
        except httpx.TransportError:
            return  # a preview is a nicety; the next one may arrive
        fresh = not task.done and task.snapshot.preview_url == url
        if fresh and response.status_code == 200 and len(response.content) <= MAX_IMAGE_BYTES:
            task.preview = response.content
            task._changed()

    def _record(self, task: Task, *, final: bool = False) -> None:
        snapshot = task.snapshot
        try:
            self.log.update_task(
                task.id,
                status=snapshot.status if final else task.status,
                progress=task.progress,
                error=task.error,
                remote_id=snapshot.remote_id,
                remote_state=snapshot_state(snapshot),
                started_at=task.started_at,
                finished_at=task.finished_at,
                # separate images (Youchuan) have no grid URL: keep all four, space-separated
                image_url=snapshot.image_url or " ".join(snapshot.image_urls) or None,
                image_path=str(task.image_path) if task.image_path else None,
            )
        except MJError:
            logger.exception("mjnb: could not write task %s to the log", task.id)


def _json_object(content: bytes) -> bool:
    try:
        return isinstance(json.loads(content), dict)
    except ValueError:
        return False


def _reason(exc: BaseException) -> str:
    """An exception as a short phrase, named even when its message is empty."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _short(url: str) -> str:
    """A URL without its query string (which may carry a token or a signature)."""
    return url.split("?", 1)[0]
