"""Batch polling: one request per tick reads every due job where the protocol can.

The client runs over the simulator's ASGI app in process (``Engine(transport=...)``);
servers that lack, garble or break the batch lookup are the simulator behind a small
ASGI wrapper, so every other route stays the real protocol.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import mjnb
from mjnb.errors import ProviderError
from mjnb.providers.acedata import AceDataAdapter
from mjnb.providers.base import Snapshot
from mjnb.providers.mjproxy import MJProxyAdapter
from mjnb.runtime import Engine
from tests.asgi import read_body, replay, respond

WAIT = 60
BASE = "http://sim.test"
ASGI = Callable[[Any, Any, Any], Awaitable[None]]


@pytest.fixture
def sim_config() -> object:
    from mjnb.simulator import SimConfig

    return SimConfig(latency=0.6, long_side=128, progress_steps=3, concurrency=64, queue_size=64)


class Counting:
    """The simulator behind a wrapper that counts requests by path and may answer the
    batch lookup itself (``batch``: None passes it through)."""

    def __init__(self, app: ASGI, batch: Callable[[list[Any]], Any] | None = None) -> None:
        self.app, self.batch = app, batch
        self.paths: Counter[str] = Counter()
        self.batches: list[int] = []  # the ids each batch lookup asked for

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.paths["fetch" if path.endswith("/fetch") else path] += 1
        if path.endswith("/list-by-condition"):
            body = await read_body(receive)
            ids = json.loads(body)["ids"]
            self.batches.append(len(ids))
            if self.batch is not None:
                await respond(send, *self.batch(ids))
                return

            await self.app(scope, replay(body), send)
            return
        await self.app(scope, receive, send)


@pytest.fixture
def engine_for(
    sim_app: Any, asgi_engine: Callable[[Any], Engine]
) -> Callable[..., tuple[Engine, Counting]]:
    def make(batch: Callable[[list[Any]], Any] | None = None) -> tuple[Engine, Counting]:
        wrapper = Counting(sim_app, batch)
        return asgi_engine(wrapper), wrapper

    return make


def run_batch(engine: Engine, count: int, provider: str = "mjproxy") -> list[mjnb.Task]:
    mj = mjnb.Client(
        provider,
        base_url=BASE,
        token="t",
        engine=engine,
        poll_interval=0.1,
        max_concurrency=16,
        stream=False,  # Ace would follow each job's NDJSON stream instead
    )
    tasks = [mj.imagine(f"a fox number {n} --seed {n}") for n in range(count)]
    for task in tasks:
        assert task.wait(WAIT).status == "succeeded", task.error
    return tasks


# ---------------------------------------------------------------- over the simulator


def test_twelve_jobs_are_read_by_one_request_per_tick(
    engine_for: Callable[..., tuple[Engine, Counting]],
) -> None:
    engine, server = engine_for()
    run_batch(engine, 12)
    batches, singles = server.paths["/mj/task/list-by-condition"], server.paths["fetch"]
    assert singles == 0
    # 0.6 s jobs polled every 0.1 s: about 8 ticks; one by one it would be ~90 requests
    assert 3 <= batches <= 20, server.paths


def test_ace_reads_its_jobs_with_retrieve_batch(
    engine_for: Callable[..., tuple[Engine, Counting]],
) -> None:
    engine, server = engine_for()
    run_batch(engine, 6, provider="acedata")
    assert server.paths["/midjourney/tasks"] <= 20, server.paths  # not 6 x ~8 retrieves


# ------------------------------------------------------- servers that do not batch


def test_a_server_without_the_batch_lookup_is_polled_one_job_at_a_time(
    engine_for: Callable[..., tuple[Engine, Counting]],
) -> None:
    engine, server = engine_for(batch=lambda ids: (404, {"status": 404, "error": "Not Found"}))
    run_batch(engine, 4)
    assert server.paths["/mj/task/list-by-condition"] == 1  # asked once, then never again
    assert server.paths["fetch"] >= 4


def test_a_batch_answer_of_the_wrong_shape_is_not_trusted_again(
    engine_for: Callable[..., tuple[Engine, Counting]],
) -> None:
    engine, server = engine_for(batch=lambda ids: (200, {"ids": ids, "tasks": "later"}))
    run_batch(engine, 3)
    assert server.paths["/mj/task/list-by-condition"] == 1
    assert server.paths["fetch"] >= 3


def test_a_job_the_batch_answer_leaves_out_is_polled_alone(
    engine_for: Callable[..., tuple[Engine, Counting]],
) -> None:
    def garbled(ids: list[Any]) -> tuple[int, Any]:  # everything but the job asked about
        return 200, [{"id": 7}, "not a task", {"id": "someone-else", "status": "SUCCESS"}]

    engine, server = engine_for(batch=garbled)
    mj = mjnb.Client("mjproxy", base_url=BASE, engine=engine, poll_interval=0.1)
    task = mj.imagine("a lone fox --seed 1")
    assert task.wait(WAIT).status == "succeeded", task.error  # its own fetches saw it through
    assert server.paths["fetch"] >= 1 and server.paths["/mj/task/list-by-condition"] >= 2


def test_a_failing_batch_is_read_job_by_job_in_that_tick_and_retried(
    engine_for: Callable[..., tuple[Engine, Counting]],
) -> None:
    calls: list[int] = []

    def flaky(ids: list[Any]) -> tuple[int, Any]:
        calls.append(len(ids))
        if len(calls) <= 2:
            return 503, {"error": "busy"}
        return 200, [{"id": i, "status": "FAILURE", "failReason": "banned word"} for i in ids]

    engine, server = engine_for(batch=flaky)
    mj = mjnb.Client("mjproxy", base_url=BASE, engine=engine, poll_interval=0.05)
    tasks = [mj.imagine(f"a fox {n}") for n in range(3)]
    assert [t.wait(WAIT).status for t in tasks] == ["failed"] * 3
    assert all("banned word" in (t.error or "") for t in tasks)  # the third batch's word
    assert len(calls) >= 3  # two 503s are no reason to stop batching
    assert 1 <= server.paths["fetch"] <= 6  # the 503 ticks were read job by job


def test_a_batch_lookup_that_keeps_failing_is_given_up(
    engine_for: Callable[..., tuple[Engine, Counting]],
) -> None:
    engine, server = engine_for(batch=lambda ids: (502, {"error": "bad gateway"}))
    tasks = run_batch(engine, 3)
    assert server.paths["/mj/task/list-by-condition"] == 3  # GIVE_UP, then never again
    assert server.paths["fetch"] >= len(tasks)


# ------------------------------------------------------------------------- adapters


def snap(remote_id: str) -> Snapshot:
    return Snapshot("running", 10, remote_id)


def test_the_batch_requests_name_the_jobs_as_each_client_does() -> None:
    mjproxy = MJProxyAdapter(base_url="http://proxy.test/mj", token="s")
    request = mjproxy.poll_many([snap("a"), snap("b")])
    assert (request.method, str(request.url)) == (
        "POST",
        "http://proxy.test/mj/task/list-by-condition",
    )
    assert json.loads(request.content) == {"ids": ["a", "b"]}
    assert request.headers["mj-api-secret"] == "s"
    ace = AceDataAdapter(base_url="http://ace.test", token="t")
    body = json.loads(ace.poll_many([snap("x"), snap("y"), snap("z")]).content)
    assert body == {"action": "retrieve_batch", "ids": ["x", "y", "z"], "limit": 3}


def test_a_batch_answer_gives_readings_only_for_the_jobs_asked_about() -> None:
    mjproxy = MJProxyAdapter(base_url="http://proxy.test")
    answer = [
        {"id": "a", "status": "SUCCESS", "progress": "100%", "imageUrl": "http://cdn.test/a.png"},
        {"id": "b", "status": "IN_PROGRESS", "progress": "40%"},
        {"id": "b", "status": "SUCCESS", "progress": "100%"},  # a second record: ignored
        {"id": "d", "status": "IN_PROGRESS", "imageUrl": {"not": "a URL"}},  # garbled
        {"id": "other", "status": "SUCCESS"},
        {"id": 5},
        ["not", "a", "task"],
    ]
    request = httpx.Request("POST", "http://proxy.test/mj/task/list-by-condition")
    response = httpx.Response(200, json=answer, request=request)
    asked = [snap("a"), snap("b"), snap("c"), snap("d"), snap("b")]
    readings = mjproxy.parse_poll_many(asked, response)
    # b is listed two ways (no reading: polled alone), d is garbled, c is not listed
    assert [r.status if r else None for r in readings] == [
        "succeeded", None, None, None, None
    ]  # fmt: skip
    with pytest.raises(ProviderError, match="batch lookup"):
        mjproxy.parse_poll_many([snap("a")], httpx.Response(200, json={"a": 1}, request=request))
    assert json.loads(mjproxy.poll_many(asked).content) == {"ids": ["a", "b", "c", "d"]}

    ace = AceDataAdapter(base_url="http://ace.test", token="t")
    record = {"id": "x", "state": "generating", "response": {"progress": 30, "success": True}}
    response = httpx.Response(200, json={"items": [record], "count": 1}, request=request)
    readings = ace.parse_poll_many([snap("x"), snap("y")], response)
    assert readings[1] is None and readings[0] is not None and readings[0].progress == 30


def test_sixty_jobs_are_read_in_chunks_of_fifty(
    engine_for: Callable[..., tuple[Engine, Counting]],
) -> None:
    engine, server = engine_for()
    mj = mjnb.Client("mjproxy", base_url=BASE, engine=engine, poll_interval=0.1, max_concurrency=64)
    tasks = [mj.imagine(f"a fox in a crowd {n}") for n in range(60)]
    assert all(t.wait(WAIT).status == "succeeded" for t in tasks)
    assert server.paths["fetch"] == 0 and max(server.batches) == 50, server.batches


def test_a_429_on_the_batch_sends_no_single_polls_on_top(
    engine_for: Callable[..., tuple[Engine, Counting]],
) -> None:
    calls: list[int] = []

    def busy(ids: list[Any]) -> tuple[int, Any]:
        calls.append(len(ids))
        if len(calls) <= 2:
            return 429, {"error": "slow down"}
        return 200, [{"id": i, "status": "FAILURE", "failReason": "moderated"} for i in ids]

    engine, server = engine_for(batch=busy)
    mj = mjnb.Client("mjproxy", base_url=BASE, engine=engine, poll_interval=0.05)
    tasks = [mj.imagine(f"a patient fox {n}") for n in range(4)]
    assert [t.wait(WAIT).status for t in tasks] == ["failed"] * 4
    assert all("moderated" in (t.error or "") for t in tasks)
    assert server.paths["fetch"] == 0 and len(calls) >= 3


def test_credentials_refused_on_the_batch_route_alone_do_not_end_the_jobs(
    engine_for: Callable[..., tuple[Engine, Counting]],
) -> None:
    engine, server = engine_for(batch=lambda ids: (403, {"error": "admin only"}))
    run_batch(engine, 3)
    assert server.paths["/mj/task/list-by-condition"] == 1 and server.paths["fetch"] >= 3


def test_the_personal_log_gets_no_pictures_at_download(
    engine_for: Callable[..., tuple[Engine, Counting]], isolated_env: Path
) -> None:
    """The gallery's thumbnails are made at download only for a log other machines read;
    the personal log's gallery makes them when it shows them (and keeps them)."""
    from mjnb.log.shared import SharedDB, get_thumbnails
    from mjnb.notebook.gallery import Gallery

    engine, _ = engine_for()
    mj = mjnb.Client("mjproxy", base_url=BASE, engine=engine, poll_interval=0.05)
    task = mj.imagine("a fox in the gallery").wait(WAIT)
    db = SharedDB.for_log(mj.session.log)
    assert get_thumbnails(db, [task.id]) == {}
    gallery = Gallery(mj, refresh=0)
    assert gallery.tiles[0].children[0].format == "jpeg"
    assert list(get_thumbnails(db, [task.id])) == [task.id]

    shared = mjnb.Client("mjproxy", base_url=BASE, engine=engine, log=isolated_env / "class.sqlite")
    other = shared.imagine("a fox for the class").wait(WAIT)
    assert list(get_thumbnails(SharedDB.for_log(shared.session.log), [other.id])) == [other.id]
