"""Batch polling under attack: more jobs than one batch holds, answers that list a job
twice or name other tasks, cancels and deadlines while a task waits for its tick, slow
batch answers, two clients of one server, and Ace's ``retrieve_batch`` answering part
of what was asked.

The client runs over the simulator's ASGI app in process (``Engine(transport=...)``);
the hostile answers come from a small ASGI wrapper that asks the real simulator and then
edits its answer, so every reading a task gets is the simulator's or a lie told on top
of it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import mjnb
from mjnb.runtime import Engine
from mjnb.simulator import SimConfig
from tests.asgi import read_body, replay, respond

WAIT = 90
BASE = "http://sim.test"
ASGI = Callable[[Any, Any, Any], Awaitable[None]]
#: rewrites a batch answer: (ids asked, the simulator's answer) -> the answer sent
Edit = Callable[[list[str], Any], Any]


@pytest.fixture
def sim_config() -> object:
    return SimConfig(latency=0.8, long_side=64, progress_steps=3, concurrency=80, queue_size=160)


class Hostile:
    """The simulator behind a wrapper that counts requests, remembers each batch's ids
    and how many batches were in flight at once, and may rewrite a batch answer
    (``edit``) or hold it back (``delay`` seconds)."""

    def __init__(self, app: ASGI, edit: Edit | None = None, delay: float = 0.0) -> None:
        self.app, self.edit, self.delay = app, edit, delay
        self.paths: Counter[str] = Counter()
        self.batches: list[list[str]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        body = await read_body(receive)
        batch = _batch_ids(path, body)
        self.paths["fetch" if path.endswith("/fetch") else path + _action(body)] += 1
        if batch is None:
            await self.app(scope, replay(body), send)
            return
        self.batches.append(batch)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            status, answer = await _ask(self.app, scope, body)
            if self.edit is not None and status == 200:
                answer = self.edit(batch, answer)
            await respond(send, status, answer)
        finally:
            self.in_flight -= 1

    def submits(self) -> int:
        """Jobs sent (midjourney-proxy's /mj/submit/..., Ace's /midjourney/imagine)."""
        return sum(n for p, n in self.paths.items() if "/submit/" in p or "/imagine" in p)


def _batch_ids(path: str, body: bytes) -> list[str] | None:
    if path.endswith("/list-by-condition"):
        return list(json.loads(body)["ids"])
    if path == "/midjourney/tasks" and _action(body) == ":retrieve_batch":
        return list(json.loads(body)["ids"])
    return None


def _action(body: bytes) -> str:
    try:
        found = json.loads(body)
    except ValueError:
        return ""
    return f":{found['action']}" if isinstance(found, dict) and "action" in found else ""


async def _ask(app: ASGI, scope: Any, body: bytes) -> tuple[int, Any]:
    """The simulator's own answer to a request, as (status, JSON)."""
    status, chunks = 500, []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, replay(body), send)
    return status, json.loads(b"".join(chunks) or b"null")


@pytest.fixture
def server(
    sim_app: Any, asgi_engine: Callable[[Any], Engine]
) -> Callable[..., tuple[Engine, Hostile]]:
    def make(edit: Edit | None = None, delay: float = 0.0) -> tuple[Engine, Hostile]:
        wrapper = Hostile(sim_app, edit, delay)
        return asgi_engine(wrapper), wrapper

    return make


def client(engine: Engine, provider: str = "mjproxy", **options: Any) -> mjnb.Client:
    settings: dict[str, Any] = {
        "base_url": BASE,
        "token": "t",
        "engine": engine,
        "poll_interval": 0.1,
        "max_concurrency": 80,
        "stream": False,
        **options,
    }
    return mjnb.Client(provider, **settings)


def ended(tasks: list[mjnb.Task]) -> list[str]:
    for task in tasks:
        task.wait(WAIT)
    return [task.status for task in tasks]


def engine_tasks(engine: Engine) -> int:
    """How many asyncio tasks the engine loop still runs after a few quiet seconds (a
    ticker left behind, or a read waiting for a tick that never comes, shows)."""

    async def count() -> int:
        for _ in range(30):  # a ticker ends at most one (backed-off) interval later
            left = len(asyncio.all_tasks()) - 1
            if not left:
                return 0
            await asyncio.sleep(0.1)
        return left

    return engine.call(count(), timeout=30)


# ------------------------------------------------------------------- more than a batch


def test_sixty_jobs_are_read_in_batches_of_at_most_fifty(
    server: Callable[..., tuple[Engine, Hostile]],
) -> None:
    engine, sim = server()
    mj = client(engine)
    tasks = [mj.imagine(f"a fox number {n} --seed {n}") for n in range(60)]
    assert ended(tasks) == ["succeeded"] * 60, [t.error for t in tasks if t.error][:3]
    assert sim.batches and max(len(ids) for ids in sim.batches) <= 50
    assert any(len(ids) > 40 for ids in sim.batches)  # they really were batched
    assert sim.paths["fetch"] == 0
    assert sim.paths["/mj/submit/imagine"] == 60  # each sent once
    assert all(len(ids) == len(set(ids)) for ids in sim.batches)  # no job asked twice
    assert engine_tasks(engine) == 0  # no ticker, no waiting read left behind


# --------------------------------------------------------------------- lying answers


def test_a_job_listed_twice_with_different_states_is_read_as_a_single_poll_reads_it(
    server: Callable[..., tuple[Engine, Hostile]],
) -> None:
    """The last record of a job listed twice is a stale copy (10%, running): a batch
    answer that contradicts itself about a job is no reading of it, so the job is
    polled alone (as a job the answer leaves out is), and finishes."""

    def doubled(ids: list[str], answer: Any) -> Any:
        stale = [
            {**r, "status": "IN_PROGRESS", "progress": "10%", "imageUrl": None} for r in answer
        ]
        return answer + stale

    engine, sim = server(doubled)
    mj = client(engine, stall_timeout=4)
    tasks = [mj.imagine(f"a twice told fox {n}") for n in range(3)]
    assert ended(tasks) == ["succeeded"] * 3, [t.error for t in tasks]
    assert sim.paths["/mj/submit/imagine"] == 3


def test_a_job_listed_twice_stale_copy_first_still_finishes(
    server: Callable[..., tuple[Engine, Hostile]],
) -> None:
    def doubled(ids: list[str], answer: Any) -> Any:
        stale = [
            {**r, "status": "IN_PROGRESS", "progress": "10%", "imageUrl": None} for r in answer
        ]
        return stale + answer

    engine, _ = server(doubled)
    mj = client(engine, stall_timeout=4)
    tasks = [mj.imagine(f"a twice told fox {n}") for n in range(3)]
    assert ended(tasks) == ["succeeded"] * 3, [t.error for t in tasks]


def test_another_clients_job_reported_succeeded_changes_nobody(
    server: Callable[..., tuple[Engine, Hostile]],
) -> None:
    """Two clients of one server in one process: each batch answer also reports every
    other job the server was ever asked about as succeeded, with an image that is not
    there. Neither client takes a reading of a job it did not ask about."""
    seen: set[str] = set()

    def gossip(ids: list[str], answer: Any) -> Any:
        seen.update(ids)
        lies = [
            {"id": other, "status": "SUCCESS", "progress": "100%", "imageUrl": BASE + "/no.png"}
            for other in sorted(seen - set(ids))
        ]
        return lies + answer

    engine, sim = server(gossip)
    first, second = client(engine), client(engine, poll_interval=0.15)
    tasks = [
        mj.imagine(f"a fox of client {i} number {n}")
        for n in range(4)
        for i, mj in enumerate((first, second))
    ]
    assert ended(tasks) == ["succeeded"] * 8, [t.error for t in tasks]
    assert all("no.png" not in str(t.snapshot.image_url) for t in tasks)
    assert sim.paths["/mj/submit/imagine"] == 8
    assert sim.paths["fetch"] == 0


def test_ace_retrieve_batch_answering_only_part_of_the_ids(
    server: Callable[..., tuple[Engine, Hostile]],
) -> None:
    """Every other job asked about is left out of Ace's batch answer: those are read
    with their own ``retrieve`` in the same tick, and every task finishes."""

    def half(ids: list[str], answer: Any) -> Any:
        keep = set(ids[::2])
        items = [item for item in answer["items"] if item.get("id") in keep]
        return {**answer, "items": items, "count": len(items)}

    engine, sim = server(half)
    mj = client(engine, "acedata")
    tasks = [mj.imagine(f"an ace fox {n} --seed {n}") for n in range(6)]
    assert ended(tasks) == ["succeeded"] * 6, [t.error for t in tasks]
    assert sim.submits() == 6, sim.paths
    assert sim.paths["/midjourney/tasks:retrieve"] >= 3  # the left-out ones, alone
    assert sim.paths["/midjourney/tasks:retrieve_batch"] >= 2
    assert engine_tasks(engine) == 0


# ------------------------------------------------------------------ time and cancels


def test_a_batch_answer_slower_than_the_interval_never_overlaps_the_next_tick(
    server: Callable[..., tuple[Engine, Hostile]],
) -> None:
    engine, sim = server(delay=0.5)
    mj = client(engine, poll_interval=0.05)
    tasks = [mj.imagine(f"a slow read fox {n}") for n in range(10)]
    assert ended(tasks) == ["succeeded"] * 10, [t.error for t in tasks]
    assert sim.most_in_flight == 1  # one client, one tick at a time
    assert sim.paths["fetch"] == 0
    assert sim.paths["/mj/submit/imagine"] == 10


@pytest.mark.parametrize(
    "sim_config", [SimConfig(latency=3.0, long_side=64, progress_steps=3, concurrency=8)]
)  # 3 s jobs: a loaded machine cannot finish one before the cancel
def test_cancel_while_the_task_waits_for_its_tick(
    server: Callable[..., tuple[Engine, Hostile]],
) -> None:
    """A sent task cancelled between ticks is asked of the provider, then read cancelled
    by a later tick; the other tasks of the tick go on."""
    engine, sim = server()
    mj = client(engine, poll_interval=0.7)
    tasks = [mj.imagine(f"a fox to keep {n} --seed {n}") for n in range(3)]
    while not tasks[0].snapshot.remote_id:
        time.sleep(0.02)
    said = tasks[0].cancel()
    assert "cancel" in said.lower()
    statuses = ended(tasks)
    assert statuses[0] == "cancelled", tasks[0].error
    assert "cancelled on midjourney-proxy" in (tasks[0].error or "")
    assert statuses[1:] == ["succeeded"] * 2, [t.error for t in tasks]
    assert sim.paths["/mj/submit/imagine"] == 3
    assert engine_tasks(engine) == 0


def test_task_timeout_while_waiting_for_a_tick_ends_it_and_refetch_polls_again(
    server: Callable[..., tuple[Engine, Hostile]],
) -> None:
    engine, sim = server()
    mj = client(engine, poll_interval=0.5, task_timeout=0.6)
    tasks = [mj.imagine(f"a fox out of time {n}") for n in range(3)]
    assert ended(tasks) == ["failed"] * 3
    for task in tasks:
        assert "task_timeout" in (task.error or ""), task.error
        assert task.snapshot.remote_id
    assert engine_tasks(engine) == 0  # the tick the timed-out tasks waited for is gone
    patient = client(engine, poll_interval=0.1)
    again = [patient.task(t.id).refetch() for t in tasks]
    assert ended(again) == ["succeeded"] * 3, [t.error for t in again]
    assert sim.paths["/mj/submit/imagine"] == 3  # polled again, never sent again


def test_batch_readings_keep_a_job_listed_twice_alike_and_drop_one_listed_two_ways() -> None:
    from mjnb.providers.base import Snapshot
    from mjnb.providers.common import batch_readings

    asked = [Snapshot("running", 10, "a"), Snapshot("running", 10, "b")]
    done = {"id": "a", "status": "SUCCESS"}
    records = [done, dict(done), {"id": "b", "status": "SUCCESS"}, {"id": "b", "status": "FAILURE"}]

    def read(snapshot: Snapshot, record: Any) -> Snapshot:
        return Snapshot("succeeded", 100, snapshot.remote_id, extra={"record": record})

    readings = batch_readings(records, asked, "x", read)
    assert readings[0] is not None and readings[0].extra["record"] == done
    assert readings[1] is None  # listed two ways: polled alone
