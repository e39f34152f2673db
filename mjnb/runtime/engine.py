"""The engine: one asyncio loop in a daemon thread that owns every bit of I/O.

Every HTTP call, poll, stream, download and log write happens on this loop. The
sync API waits on it (``Task.wait`` blocks on an event, never on the loop), the async
API awaits it, and widgets are told of changes from it. The policy that runs on it
(retries, stalls, downloads) is the :class:`~mjnb.runtime.runner.Runner`'s; this module
holds the loop, the one connection pool and the per-provider concurrency limits.

``Engine.get()`` is the process-wide engine. ``Engine(transport=...)`` makes a private
one whose pool sends through an httpx transport, e.g. ``httpx.ASGITransport(app)`` to
run a client over the simulator's app in process, the way httpx tests its own client.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import logging
import sys
import threading
from collections import deque
from collections.abc import Coroutine
from typing import Any, ClassVar, TypeVar

import httpx

from ..errors import NotReady
from ..secrets import redact_url

logger = logging.getLogger("mjnb")
T = TypeVar("T")

#: how long a poll or download may take before it counts as one failed attempt
REQUEST_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class _RedactURLs(logging.Filter):
    """Masks secret query values in the URLs httpx logs at INFO (``HTTP Request: ...``):
    the ``zhishuyun`` protocol carries its token as ``?token=``; :mod:`mjnb.secrets`
    decides which names are secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(arg) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


_REDACT = _RedactURLs()


def _remember_missing_sniffio() -> None:
    """httpcore tries ``import sniffio`` on every request (several times); when it is
    not installed each try walks ``sys.path`` again, a quarter of a request's CPU.
    Recording the absence once makes those imports fail at once, as they would anyway.
    """
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


class Engine:
    """A loop thread and its connection pool. :meth:`get` is the process-wide one;
    construct one with ``transport=`` only in tests (it runs until :meth:`close`)."""

    _instance: ClassVar[Engine | None] = None
    _instance_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        logging.getLogger("httpx").addFilter(_REDACT)  # a no-op when already there
        _remember_missing_sniffio()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="mjnb-engine", daemon=True
        )
        self._thread.start()
        self._limits: dict[tuple[str, str], Limit] = {}
        self._http: httpx.AsyncClient | None = None
        self._transport = transport

    @property
    def http(self) -> httpx.AsyncClient:
        """The one connection pool of the process; used only on the engine loop."""
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=REQUEST_TIMEOUT,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
                transport=self._transport,
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

    def close(self) -> None:
        """Cancel what runs, close the pool and stop the loop (private engines only:
        the shared one lives as long as the process)."""
        self.check_not_engine_thread("Engine.close()")
        if self._thread.is_alive():
            self.call(self._shutdown(), timeout=30)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
        if not self.loop.is_running():
            self.loop.close()

    async def _shutdown(self) -> None:
        running = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def in_engine_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def check_not_engine_thread(self, what: str) -> None:
        if self.in_engine_thread():
            raise NotReady(
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


def with_timeout(request: httpx.Request, timeout: httpx.Timeout) -> httpx.Request:
    # a Request built outside a client carries no timeout; httpcore would wait forever
    request.extensions["timeout"] = timeout.as_dict()
    return request
