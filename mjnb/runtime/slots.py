"""Fair shared concurrency: the kernels of one account share its slots through the log.

A provider plan allows so many jobs at once for the whole account, whichever kernel
sends them. Each kernel's in-process :class:`~mjnb.runtime.engine.Limit` stays the local
queue in front; behind it, every job that wants to run takes a *ticket* in the log's
``account_slots`` table (account = provider + base URL, never a token) and runs only
once its ticket is *granted*. Grants are decided in one short serialised transaction by
whichever kernel polls:

- at most ``size`` tickets of an account are granted and not yet released;
- waiting tickets are ordered round-robin by user, then by kernel within a user, then
  first come first served: a ticket's *round* is how many turns its user (kernel) had
  in the last ten minutes plus its place in that user's queue, so one kernel's 40-cell
  sweep cannot starve another kernel's single imagine, and a user who has had a turn
  never goes before one still waiting for a first;
- every ticket has a lease that its kernel renews while it waits or runs (each poll,
  or every ``lease / 3`` seconds while it only holds); a dead kernel's tickets expire
  after at most ``lease`` seconds and their slots go to the next in line, and a kernel
  of this machine that is gone (its process no longer exists) loses them at once.

All of it runs on the engine loop; the database is touched only from worker threads
(``asyncio.to_thread``), one transaction per poll for all of a kernel's tickets, polling
with a backoff from ``poll_min`` to ``poll_max`` seconds, and at once when a local job
releases a slot. With SQLite this works across the processes of one machine; with
PostgreSQL across machines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import LogError, MJError
from ..log.codec import now_us
from ..log.shared import SharedDB, Tx

if TYPE_CHECKING:
    from ..budget import Budget

__all__ = ["AccountShare", "SharedSlots", "account_share", "order_tickets"]

logger = logging.getLogger("mjnb")

#: released tickets are kept this long (microseconds) for the round-robin history
_HISTORY_US = 10 * 60 * 1_000_000


@dataclass
class _Ticket:
    slot_id: str
    task_id: str | None
    granted: asyncio.Future[None]
    inserted: bool = False


@dataclass(frozen=True)
class Row:
    """One ticket as the grant step sees it."""

    slot_id: str
    user: str
    owner: str
    requested_at: int
    granted_at: int | None
    released_at: int | None = None


def order_tickets(rows: list[Row]) -> list[Row]:
    """The waiting tickets of ``rows`` in the order they get slots (round-robin by user,
    then by kernel, then first come first served). ``rows`` also holds the granted ones
    (still held, or released within the history window): the turns each user had, so a
    user who has had a turn never goes before one who has waited for a first."""
    waiting = [r for r in rows if r.granted_at is None and r.released_at is None]
    if not waiting:
        return []
    user_turns: dict[str, int] = {}
    owner_turns: dict[str, int] = {}
    for r in rows:
        if r.granted_at is not None:
            user_turns[r.user] = user_turns.get(r.user, 0) + 1
            owner_turns[r.owner] = owner_turns.get(r.owner, 0) + 1
    # within a kernel: FCFS; within a user: round-robin over its kernels
    by_owner: dict[str, list[Row]] = {}
    for r in sorted(waiting, key=lambda r: (r.requested_at, r.slot_id)):
        by_owner.setdefault(r.owner, []).append(r)
    owner_round: dict[str, int] = {}
    for owner, tickets in by_owner.items():
        for rank, r in enumerate(tickets):
            owner_round[r.slot_id] = owner_turns.get(owner, 0) + rank
    by_user: dict[str, list[Row]] = {}
    for r in sorted(waiting, key=lambda r: (owner_round[r.slot_id], r.requested_at, r.slot_id)):
        by_user.setdefault(r.user, []).append(r)
    user_round: dict[str, int] = {}
    for user, tickets in by_user.items():
        for rank, r in enumerate(tickets):
            user_round[r.slot_id] = user_turns.get(user, 0) + rank
    return sorted(waiting, key=lambda r: (user_round[r.slot_id], r.requested_at, r.slot_id))


def _gone(owner: str) -> bool:
    """True when ``owner`` ("host:pid:...") is a process of this machine that has died.
    Any other owner (another machine, this process, a pid in use) waits for its lease."""
    from ..log.codec import local_pid, process_exists

    pid = local_pid(owner)
    return pid is not None and not process_exists(pid)


def _unusable(exc: BaseException) -> BaseException:
    """What a job waiting for a slot fails with when the log cannot be used."""
    if isinstance(exc, MJError):
        return exc
    return LogError(f"The shared log cannot be used ({exc}); the job was not sent.")


class SharedSlots:
    """The slots of one account as one kernel (one TaskLog ``owner``) takes them.

    Use :meth:`hold` around the span a job occupies the provider (submit until the
    remote job ends). ``size`` is the account's limit as this kernel knows it; when
    kernels disagree, the smallest limit among the tickets in play applies.
    """

    def __init__(
        self,
        db: SharedDB,
        account: str,
        *,
        user: str | None,
        owner: str,
        lease: float = 30.0,
        poll_min: float = 0.05,
        poll_max: float = 0.5,
    ) -> None:
        self.db = db
        self.account = account
        self.user = user or "?"
        self.owner = owner
        self.lease = lease
        self.poll_min = poll_min
        self.poll_max = poll_max
        self._waiting: dict[str, _Ticket] = {}
        self._held: set[str] = set()
        self._cancelled: set[str] = set()
        self._size = 1
        self._wake: asyncio.Event | None = None
        self._poller: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<SharedSlots {self.account!r} user={self.user!r}>"

    @contextlib.asynccontextmanager
    async def hold(self, size: int, task_id: str | None = None) -> AsyncIterator[None]:
        """Wait for a slot of the account (not blocking the loop), hold it, release it."""
        self._size = max(1, int(size))
        ticket = _Ticket(uuid.uuid4().hex, task_id, asyncio.get_running_loop().create_future())
        self._waiting[ticket.slot_id] = ticket
        self._kick()
        try:
            await asyncio.shield(ticket.granted)
        except asyncio.CancelledError:
            # the poller releases it in its next transaction (it may be inserting it now)
            self._waiting.pop(ticket.slot_id, None)
            self._cancelled.add(ticket.slot_id)
            self._kick()
            raise
        self._held.add(ticket.slot_id)
        try:
            yield
        finally:
            self._held.discard(ticket.slot_id)
            try:
                await asyncio.shield(asyncio.to_thread(self._release, ticket.slot_id))
            except Exception as exc:  # never fail a job that ran: the lease lapses instead
                logger.warning("mjnb: could not release a slot of %s: %s", self.account, exc)
            self._kick()

    # -- the poller (one per kernel and account, on the engine loop) ----------------------
    def _kick(self) -> None:
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.set()
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll_loop())

    async def _poll_loop(self) -> None:
        delay = self.poll_min
        assert self._wake is not None
        while self._waiting or self._held or self._cancelled:
            self._wake.clear()
            waiting = list(self._waiting.values())
            cancelled, self._cancelled = self._cancelled, set()
            try:
                granted = await asyncio.to_thread(
                    self._poll_once, waiting, list(self._held), cancelled
                )
            except Exception as exc:
                # the log cannot be used: a job that cannot get (and record) its slot is
                # never sent; it fails with the reason. Held slots run on (their leases
                # lapse on their own if the log stays away).
                logger.warning("mjnb: shared slots of %s: %s", self.account, exc)
                self._cancelled |= cancelled
                for ticket in waiting:
                    self._waiting.pop(ticket.slot_id, None)
                    if ticket.inserted:
                        self._cancelled.add(ticket.slot_id)
                    if not ticket.granted.done():
                        ticket.granted.set_exception(_unusable(exc))
                delay = self.poll_max
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                continue
            for ticket in waiting:
                ticket.inserted = True
                if ticket.slot_id not in self._waiting:  # cancelled during the poll
                    self._cancelled.add(ticket.slot_id)
                elif ticket.slot_id in granted:
                    self._waiting.pop(ticket.slot_id, None)
                    if not ticket.granted.done():
                        ticket.granted.set_result(None)
            if granted:
                delay = self.poll_min
            elif self._waiting:
                delay = min(self.poll_max, delay * 1.5)
            else:  # only holding: renew the leases now and then
                delay = self.lease / 3
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _poll_once(self, waiting: list[_Ticket], held: list[str], cancelled: set[str]) -> set[str]:
        """One transaction: drop cancelled tickets, add new ones, renew leases, expire
        the dead, grant."""
        with self.db.transaction(lock=self.account) as tx:
            now = now_us()  # after the lock: the order of the grants is the clock's
            lease_until = now + int(self.lease * 1_000_000)
            for slot_id in cancelled:
                tx.execute(
                    "UPDATE account_slots SET released_at = :now WHERE slot_id = :s"
                    " AND released_at IS NULL",
                    {"now": now, "s": slot_id},
                )
            for order, ticket in enumerate(waiting):
                if not ticket.inserted:
                    tx.execute(
                        "INSERT INTO account_slots (slot_id, account, user_name, owner,"
                        " task_id, size, requested_at, lease_until) VALUES (:s, :a, :u, :o,"
                        " :t, :n, :r, :l)",
                        {
                            "s": ticket.slot_id,
                            "a": self.account,
                            "u": self.user,
                            "o": self.owner,
                            "t": ticket.task_id,
                            "n": self._size,
                            "r": now + order,  # keeps this kernel's own order
                            "l": lease_until,
                        },
                    )
            mine = [t.slot_id for t in waiting if t.inserted] + held
            for slot_id in mine:  # renew (portable: no array parameters)
                tx.execute(
                    "UPDATE account_slots SET lease_until = :l WHERE slot_id = :s"
                    " AND released_at IS NULL",
                    {"l": lease_until, "s": slot_id},
                )
            self._grant(tx, now)
            ids = [t.slot_id for t in waiting]
            granted: set[str] = set()
            for slot_id in ids:
                row = tx.execute(
                    "SELECT granted_at, released_at FROM account_slots WHERE slot_id = :s",
                    {"s": slot_id},
                )
                if row and row[0][0] is not None and row[0][1] is None:
                    granted.add(slot_id)
            return granted

    def _grant(self, tx: Tx, now: int) -> None:
        """Expire dead leases, then grant the first free places in fair order."""
        a = {"a": self.account, "now": now}
        tx.execute(
            "UPDATE account_slots SET released_at = :now WHERE account = :a"
            " AND released_at IS NULL AND lease_until < :now",
            a,
        )
        tx.execute(
            "DELETE FROM account_slots WHERE account = :a AND released_at IS NOT NULL"
            " AND released_at < :old",
            {"a": self.account, "old": now - _HISTORY_US},
        )
        waiting = tx.one(
            "SELECT count(*) FROM account_slots WHERE account = :a"
            " AND granted_at IS NULL AND released_at IS NULL",
            a,
        )
        if not waiting:
            return
        raw = tx.execute(  # the history window's turns too (older ones were deleted)
            "SELECT slot_id, user_name, owner, requested_at, granted_at, released_at, size"
            " FROM account_slots WHERE account = :a",
            a,
        )
        others = {r[2] for r in raw if r[5] is None and r[2] != self.owner}
        gone = {owner for owner in others if _gone(owner)}
        if gone:  # a killed kernel on this machine: its slots free now, not at its lease
            for owner in gone:
                tx.execute(
                    "UPDATE account_slots SET released_at = :now WHERE account = :a"
                    " AND owner = :o AND released_at IS NULL",
                    {**a, "o": owner},
                )
            raw = [(*r[:5], now if r[2] in gone and r[5] is None else r[5], r[6]) for r in raw]
        active = [r for r in raw if r[5] is None]
        size = min([int(r[6]) for r in active] + [self._size])
        held = sum(1 for r in active if r[4] is not None)
        free = size - held
        if free <= 0:
            return
        rows = [Row(r[0], r[1], r[2], int(r[3]), r[4], r[5]) for r in raw]
        for row in order_tickets(rows)[:free]:
            tx.execute(
                "UPDATE account_slots SET granted_at = :now WHERE slot_id = :s",
                {"now": now, "s": row.slot_id},
            )

    def _release(self, slot_id: str) -> None:
        with self.db.transaction(lock=self.account) as tx:
            tx.execute(
                "UPDATE account_slots SET released_at = :now WHERE slot_id = :s"
                " AND released_at IS NULL",
                {"now": now_us(), "s": slot_id},
            )

    # -- what an administrator (or a benchmark) asks ---------------------------------------
    def status(self) -> dict[str, Any]:
        """Held and waiting tickets of the account now (live leases only)."""
        now = now_us()
        rows = self.db.query(
            "SELECT granted_at FROM account_slots WHERE account = :a AND released_at IS NULL"
            " AND lease_until >= :now",
            {"a": self.account, "now": now},
        )
        held = sum(1 for (g,) in rows if g is not None)
        return {
            "account": self.account,
            "held": held,
            "waiting": len(rows) - held,
            "pid": os.getpid(),
        }


class AccountShare:
    """What the kernels of one account share, as the runner uses it: a slot for the
    span a job occupies the provider, one unit of the daily budget just before a job
    is sent, and, on a log other machines read, a thumbnail of each result for the
    common gallery (on the personal log the gallery makes them when it shows them)."""

    def __init__(self, slots: SharedSlots, budget: Budget, *, thumbnails: bool = True) -> None:
        self.slots = slots
        self.budget = budget
        self.thumbnails = thumbnails

    @contextlib.asynccontextmanager
    async def turn(self, size: int, task_id: str, *, spend: bool) -> AsyncIterator[None]:
        """Hold a shared slot; spend a budget unit first when the job will be sent
        (raises BudgetExceeded, with the slot given back, when the cap is reached)."""
        async with self.slots.hold(size, task_id):
            if spend:
                await asyncio.to_thread(self.budget.spend, 1)
            yield

    async def share_result(self, task_id: str, image_path: Any) -> None:
        """Put a small JPEG of the result in the shared log (never fails the task)."""
        if not image_path or not self.thumbnails:
            return
        try:
            await asyncio.to_thread(self._thumb, task_id, image_path)
        except Exception as exc:  # a gallery without one picture beats a failed task
            logger.warning("mjnb: no gallery thumbnail for %s: %s", task_id, exc)

    def _thumb(self, task_id: str, image_path: Any) -> None:
        from ..images import thumbnail_jpeg
        from ..log.shared import put_thumbnail
        from ..vocab import THUMBNAIL_SIZE

        jpeg, size = thumbnail_jpeg(image_path, THUMBNAIL_SIZE)
        put_thumbnail(self.slots.db, task_id, self.budget.user, jpeg, size)


def account_share(log: Any, adapter: Any, *, thumbnails: bool = True) -> AccountShare:
    """The share of the account ``adapter`` uses, through ``log``'s database;
    ``thumbnails`` puts each result's picture in it at once (for other machines)."""
    from ..budget import Budget
    from ..log.shared import SharedDB, account_key

    db = SharedDB.for_log(log)
    account = account_key(adapter.name, adapter.base_url)
    lease = float(os.environ.get("MJNB_SLOT_LEASE", "30") or 30)
    slots = SharedSlots(db, account, user=log.user, owner=log.owner, lease=lease)
    return AccountShare(slots, Budget(db, account, log.user), thumbnails=thumbnails)
