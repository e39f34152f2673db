"""Fair shared concurrency: kernels of one account share its slots through the log.

Real SQLite files, real asyncio loops, real processes (a killed kernel, the drill of
``benchmarks/bench_fairness.py`` against ``mjnb serve``); nothing of mjnb is patched.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pgserver import pg_server, pg_url  # noqa: F401

from mjnb.log import TaskLog
from mjnb.log.shared import SharedDB
from mjnb.runtime.slots import Row, SharedSlots, order_tickets

ROOT = Path(__file__).resolve().parent.parent


def _db(home: Path) -> SharedDB:
    TaskLog(home / "history.sqlite").close()  # migrated: the shared tables exist
    return SharedDB(f"sqlite:///{home / 'history.sqlite'}")


def test_order_is_round_robin_by_user_then_first_come() -> None:
    # alice queued 40 cells first and holds 3 slots; bob asks for one later: bob is next
    rows = [Row(f"a{i}", "alice", "k1", i, 100 + i) for i in range(3)]
    rows += [Row(f"a{i}", "alice", "k1", i, None) for i in range(3, 40)]
    rows += [Row("b0", "bob", "k2", 50, None), Row("c0", "carol", "k3", 60, None)]
    order = [r.slot_id for r in order_tickets(rows)]
    assert order[:3] == ["b0", "c0", "a3"]
    assert order[3:] == [f"a{i}" for i in range(4, 40)]


def test_order_round_robin_by_kernel_within_one_user() -> None:
    # one OS user, two kernels: the second kernel's single job is not starved either
    rows = [Row(f"s{i}", "me", "sweep-kernel", i, None) for i in range(10)]
    rows.append(Row("x", "me", "other-kernel", 20, None))
    assert [r.slot_id for r in order_tickets(rows)][:2] == ["s0", "x"]


def test_turns_already_had_count_even_when_released() -> None:
    # alice had a turn (now released) while bob waited for his first: bob goes first
    rows = [
        Row("a0", "alice", "k1", 0, 5, released_at=8),
        Row("b0", "bob", "k2", 3, None),
        Row("a1", "alice", "k1", 1, None),
    ]
    assert [r.slot_id for r in order_tickets(rows)] == ["b0", "a1"]
    # ... and also when her turn ended before bob arrived and her next ticket is older
    rows = [
        Row("a0", "alice", "k1", 0, 1, released_at=2),
        Row("a1", "alice", "k1", 3, None),
        Row("b0", "bob", "k2", 4, None),
    ]
    assert [r.slot_id for r in order_tickets(rows)] == ["b0", "a1"]


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SharedDB]:
    """The shared tables on both backends (PostgreSQL: a fresh database, via TaskLog)."""
    if request.param == "sqlite":
        yield _db(tmp_path)
        return
    with TaskLog(request.getfixturevalue("pg_url"), home=tmp_path) as log:
        db = SharedDB.for_log(log)
        yield db
        db.close()


def test_two_kernels_share_the_limit_and_a_single_job_is_not_starved(shared_db: SharedDB) -> None:
    db = shared_db
    account = "acedata https://example.invalid"
    sweep_kernel = SharedSlots(db, account, user="alice", owner="k1", poll_min=0.01)
    other_kernel = SharedSlots(db, account, user="bob", owner="k2", poll_min=0.01)
    grants: list[str] = []
    running = peak = 0

    async def job(slots: SharedSlots, name: str, hold: float) -> None:
        nonlocal running, peak
        async with slots.hold(2, name):
            grants.append(name)
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(hold)
            running -= 1

    async def main() -> None:
        sweep = [asyncio.create_task(job(sweep_kernel, f"a{i}", 0.15)) for i in range(8)]
        await asyncio.sleep(0.05)
        single = asyncio.create_task(job(other_kernel, "b", 0.05))
        await asyncio.gather(*sweep, single)

    asyncio.run(main())
    assert peak <= 2
    assert sorted(grants) == sorted([f"a{i}" for i in range(8)] + ["b"])
    assert [g for g in grants if g != "b"] == [f"a{i}" for i in range(8)]  # FCFS in a kernel
    # no slot went to the sweep between bob's asking and bob's turn
    (asked, got), *_ = db.query(
        "SELECT requested_at, granted_at FROM account_slots WHERE task_id = 'b'"
    )
    jumped = db.query(
        "SELECT count(*) FROM account_slots WHERE user_name = 'alice'"
        " AND granted_at > :asked AND granted_at < :got",
        {"asked": asked, "got": got},
    )
    assert jumped == [(0,)]
    live = db.query("SELECT count(*) FROM account_slots WHERE released_at IS NULL")
    assert live == [(0,)]


def test_cancelled_waiter_gives_its_ticket_back(tmp_path: Path) -> None:
    db = _db(tmp_path)
    slots = SharedSlots(db, "acct", user="u", owner="k", poll_min=0.01)

    async def main() -> None:
        async with slots.hold(1, "first"):
            waiter = asyncio.create_task(slots.hold(1, "second").__aenter__())
            await asyncio.sleep(0.2)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
        async with slots.hold(1, "third"):
            pass
        await asyncio.sleep(0.1)

    asyncio.run(asyncio.wait_for(main(), 20))
    assert db.query("SELECT count(*) FROM account_slots WHERE released_at IS NULL") == [(0,)]


HOLDER = """
import asyncio, os, sys
from mjnb.log.codec import HOSTNAME
from mjnb.log.shared import SharedDB
from mjnb.runtime.slots import SharedSlots
owner = sys.argv[2].format(host=HOSTNAME, pid=os.getpid())
lease = float(sys.argv[3])
slots = SharedSlots(SharedDB(sys.argv[1]), "acct", user="dead", owner=owner, lease=lease)
async def main():
    async with slots.hold(1, "forever"):
        print("holding", flush=True)
        await asyncio.sleep(3600)
asyncio.run(main())
"""


@pytest.mark.parametrize(
    ("owner", "lease", "most"),
    [
        ("dead", 1.0, 1.0 + 3.0),  # not this machine's form: its lease decides
        ("{host}:{pid}:kernel", 30.0, 3.0),  # a killed process here: freed at once
    ],
    ids=["after its lease", "at once on this machine"],
)
def test_a_dead_kernels_slot_goes_to_the_next_in_line(
    tmp_path: Path, owner: str, lease: float, most: float
) -> None:
    db = _db(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, db.url, owner, str(lease)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "holding"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    slots = SharedSlots(db, "acct", user="alive", owner="alive", poll_min=0.05, poll_max=0.2)

    async def main() -> float:
        started = time.monotonic()
        async with slots.hold(1, "mine"):
            return time.monotonic() - started

    waited = asyncio.run(asyncio.wait_for(main(), 60))
    assert waited < most  # plus polling on a loaded machine
    expired = db.query("SELECT released_at FROM account_slots WHERE user_name = 'dead'")
    assert expired and expired[0][0] is not None


def test_fairness_drill_small() -> None:
    """Eight client processes, each a 4-cell sweep, one `mjnb serve --concurrency 6`."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from bench_fairness import run_drill
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    result = run_drill(processes=8, cells=4, concurrency=6, latency=0.5)
    assert result["worker_errors"] == []
    assert result["succeeded"] == result["tasks"] == 32
    assert result["peak_running"] <= 6
    assert result["peak_queued"] == 0
    assert result["rejected_429"] == 0
    assert result["first_round_violations"] == []
    assert len(result["per_process"]) == 8
