"""Polls: one request reads every job that is due, where the protocol has a batch lookup.

A sweep of 32 cells polled one by one is 32 requests every interval: CPU in the kernel
and load (and 429s) at the provider. Where the protocol can read several jobs at once
(``AdapterBase.batch_polls``: midjourney-proxy's ``list-by-condition``, Ace's
``retrieve_batch``), the tasks of a runner wait for the next *tick* instead, and one
request per tick (per ``batch_polls`` jobs) answers them all. Each task still judges its
own readings (:meth:`Runner._follow`: stalls, failing polls), so the rules stay per task:

- a job the batch answer leaves out is polled alone in the same tick, so its own
  error ("does not know task ...") still comes out;
- a record the answer garbles is left out too (one bad record sinks no other reading);
- when a batch fails (no connection, a timeout, HTTP 5xx), its jobs are polled alone in
  the same tick, so each reading is what a single poll would have given; a 429 instead
  fails that tick's readings (no single polls on top of "slow down"); a tick in which
  nothing could be read backs the next one off, as a failing single poll does;
- a server that does not serve the batch lookup (HTTP 404, an answer of the wrong
  shape, credentials refused on that route alone), or whose lookup fails three ticks
  in a row, is polled one job at a time from then on (refused credentials then come
  out of each task's own poll).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import httpx

from ..errors import ProviderError, RateLimited

if TYPE_CHECKING:
    from ..providers.base import Adapter, Snapshot

logger = logging.getLogger("mjnb")

Exchange = Callable[[httpx.Request], Awaitable[httpx.Response]]
#: the most a tick (or a failing single poll) backs off, in poll intervals
MAX_BACKOFF = 16
#: batch lookups failing in a row (each tick then polled one by one) before mjnb stops
#: asking for them: a server whose batch route alone is broken is polled as if it had none
GIVE_UP = 3


def transient(exc: BaseException) -> bool:
    """True for a failure a single poll would have met too (the server is struggling)."""
    if isinstance(exc, (httpx.TransportError, RateLimited)):
        return True
    status = getattr(exc, "status", None)
    return isinstance(exc, ProviderError) and isinstance(status, int) and status >= 500


class Polls:
    """The readings of one runner's jobs, each at most once per ``interval``."""

    def __init__(self, adapter: Adapter, exchange: Exchange, interval: float) -> None:
        self.adapter = adapter
        self.exchange = exchange
        self.interval = interval
        #: jobs per batch request; 0 once the server showed it has no batch lookup
        self.batch = adapter.batch_polls
        self._due: list[tuple[Snapshot, asyncio.Future[Snapshot]]] = []
        self._ticker: asyncio.Task[None] | None = None
        self._failed_ticks = 0
        self._failed_batches = 0

    async def read(self, snapshot: Snapshot, failures: int = 0) -> Snapshot:
        """The job's next state. Polled alone, it comes one interval (backed off by
        ``failures``) from now; batched, at the next tick, whose interval backs off when
        a whole tick read nothing."""
        if not self.batch or not snapshot.remote_id:
            await asyncio.sleep(self.interval * min(2**failures, MAX_BACKOFF))
            return await self._single(snapshot)
        future: asyncio.Future[Snapshot] = asyncio.get_running_loop().create_future()
        self._due.append((snapshot, future))
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick())
        return await future

    async def _single(self, snapshot: Snapshot) -> Snapshot:
        response = await self.exchange(self.adapter.poll(snapshot))
        return self.adapter.parse_poll(snapshot, response)

    async def _tick(self) -> None:
        try:
            while self._due:
                await asyncio.sleep(self.interval * min(2**self._failed_ticks, MAX_BACKOFF))
                due = [entry for entry in self._due if not entry[1].done()]
                self._due = []
                size = self.batch or 1
                chunks = [due[i : i + size] for i in range(0, len(due), size)]
                answers = await asyncio.gather(*(self._answer(chunk) for chunk in chunks))
                if any(failed for _, failed in answers):  # counted once a tick
                    self._failed_batches += 1
                    if self._failed_batches >= GIVE_UP and self.batch:
                        self._stop_batching("it failed three ticks in a row")
                elif self.batch:
                    self._failed_batches = 0
                # a tick in which nothing could be read backs the next one off
                read = sum(n for n, _ in answers)
                self._failed_ticks = 0 if read or not due else self._failed_ticks + 1
        finally:
            self._ticker = None

    async def _answer(
        self, due: list[tuple[Snapshot, asyncio.Future[Snapshot]]]
    ) -> tuple[int, bool]:
        """Read ``due`` in one batch request, or one by one; settle every future.
        Returns how many readings came, and whether the batch request failed."""
        readings: list[Snapshot | None] = [None] * len(due)
        failed = False
        if self.batch:
            snapshots = [snapshot for snapshot, _ in due]
            try:
                response = await self.exchange(self.adapter.poll_many(snapshots))
                readings = self.adapter.parse_poll_many(snapshots, response)
            except RateLimited as exc:  # asked to slow down: no single polls on top
                for _, future in due:
                    _settle(future, exc=exc)
                return 0, True
            except Exception as exc:
                failed = True
                if not transient(exc):  # 404, a wrong shape, refused credentials
                    self._stop_batching(str(exc))
        alone = []
        for (snapshot, future), reading in zip(due, readings, strict=True):
            if reading is None:
                alone.append((snapshot, future))
            else:
                _settle(future, reading)
        read = await asyncio.gather(*(self._answer_alone(s, f) for s, f in alone))
        return len(due) - len(alone) + sum(read), failed

    def _stop_batching(self, why: str) -> None:
        logger.info(
            "mjnb: %s's batch lookup cannot be used (%s); polling one job at a time",
            self.adapter.name,
            why,
        )
        self.batch = 0

    async def _answer_alone(self, snapshot: Snapshot, future: asyncio.Future[Snapshot]) -> bool:
        try:
            _settle(future, await self._single(snapshot))
        except Exception as exc:  # the task's own rules judge it (Runner._follow)
            _settle(future, exc=exc)
            return False
        return True


def _settle(
    future: asyncio.Future[Snapshot],
    value: Snapshot | None = None,
    exc: BaseException | None = None,
) -> None:
    if future.done():  # the task was cancelled while it waited
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)  # type: ignore[arg-type]
