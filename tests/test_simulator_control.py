"""The simulator's control surface: midjourney-proxy cancel (as trueai answers it),
``/_sim/*`` behind the token, the peaks in ``/_sim/stats``, and bounded jobs and
uploads. In-process over ``httpx.ASGITransport`` with an injected clock (a job's life
is stepped through without waiting), plus real loopback HTTP where a port matters."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image

from mjnb.errors import ConfigError
from mjnb.simulator import SimConfig, create_app, serve

pytestmark = pytest.mark.anyio


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def client_for(config: SimConfig, clock: Clock) -> httpx.AsyncClient:
    app = create_app(config, clock=clock)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim")


@pytest.fixture
async def mj(clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    config = SimConfig(latency=10.0, concurrency=1, queue_size=5, long_side=128)
    async with client_for(config, clock) as client:
        yield client


async def imagine(client: httpx.AsyncClient, prompt: str = "a red kite") -> str:
    reply = (await client.post("/mj/submit/imagine", json={"prompt": prompt})).json()
    assert reply["code"] in (1, 22), reply
    task_id: str = reply["result"]
    return task_id


async def fetch(client: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    task: dict[str, Any] = (await client.get(f"/mj/task/{task_id}/fetch")).json()
    return task


def png_data_url(colour: str) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), colour).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


# ---------------------------------------------------------------------------- cancel


async def test_cancel_a_running_task_ends_it_as_trueai_does(
    mj: httpx.AsyncClient, clock: Clock
) -> None:
    task_id = await imagine(mj)
    clock.advance(4.0)
    assert (await fetch(mj, task_id))["status"] == "IN_PROGRESS"
    answer = await mj.post(f"/mj/task/{task_id}/cancel")
    # trueai's TaskController.Cancel: return Ok() -> 200 with an empty body
    assert answer.status_code == 200 and answer.content == b""
    task = await fetch(mj, task_id)
    assert task["status"] == "FAILURE" and task["failReason"] == "取消任务"
    assert task["progress"] == "" and task["buttons"] == []
    assert task["finishTime"] == int(clock.now * 1000)
    clock.advance(60.0)  # the plan it had is gone: it never succeeds later
    assert (await fetch(mj, task_id))["status"] == "FAILURE"
    stats = (await mj.get("/_sim/stats")).json()
    assert stats["cancels"] == 1 and stats["failed"] == 1 and stats["succeeded"] == 0


async def test_cancel_a_waiting_task_and_what_cancel_leaves_alone(
    mj: httpx.AsyncClient, clock: Clock
) -> None:
    first, second = await imagine(mj), await imagine(mj, "a blue kite")
    assert (await fetch(mj, second))["status"] == "NOT_START"
    assert (await mj.post(f"/mj/task/{second}/cancel")).status_code == 200
    waiting = await fetch(mj, second)
    assert waiting["status"] == "FAILURE" and waiting["startTime"] is None
    assert (await mj.get("/mj/task/queue")).json()[0]["id"] == first
    clock.advance(11.0)
    assert (await fetch(mj, first))["status"] == "SUCCESS"
    # finished and unknown tasks: 200 with an empty body, nothing changes
    for target in (first, "1234567890"):
        answer = await mj.post(f"/mj/task/{target}/cancel")
        assert answer.status_code == 200 and answer.content == b""
    assert (await fetch(mj, first))["status"] == "SUCCESS"
    assert (await mj.get("/_sim/stats")).json()["cancels"] == 1


async def test_cancel_needs_the_credential(clock: Clock) -> None:
    config = SimConfig(latency=10.0, token="s3cret", long_side=128)
    async with client_for(config, clock) as client:
        headers = {"mj-api-secret": "s3cret"}
        reply = await client.post("/mj/submit/imagine", json={"prompt": "x"}, headers=headers)
        task_id = reply.json()["result"]
        assert (await client.post(f"/mj/task/{task_id}/cancel")).status_code == 401
        fetched = await client.get(f"/mj/task/{task_id}/fetch", headers=headers)
        assert fetched.json()["status"] != "FAILURE"
        answer = await client.post(f"/mj/task/{task_id}/cancel", headers=headers)
        assert answer.status_code == 200
        fetched = await client.get(f"/mj/task/{task_id}/fetch", headers=headers)
        assert fetched.json()["status"] == "FAILURE"


def test_cancel_over_loopback_wakes_the_notify_hook(webhook: Any) -> None:
    with serve(SimConfig(latency=30.0, long_side=128)) as sim:
        body = {"prompt": "a slow kite", "notifyHook": webhook.url}
        task_id = httpx.post(f"{sim.url}/mj/submit/imagine", json=body).json()["result"]
        assert httpx.post(f"{sim.url}/mj/task/{task_id}/cancel").status_code == 200
        bodies = webhook.wait_for(lambda b: any(x["status"] == "FAILURE" for x in b), 5.0)
        assert bodies[-1]["failReason"] == "取消任务"


# ---------------------------------------------------------------------------- /_sim token


async def test_sim_routes_need_the_token(clock: Clock) -> None:
    config = SimConfig(latency=1.0, token="s3cret", long_side=128)
    async with client_for(config, clock) as client:
        headers = {"mj-api-secret": "s3cret"}
        reply = await client.post("/mj/submit/imagine", json={"prompt": "x"}, headers=headers)
        task_id = reply.json()["result"]
        assert (await client.get("/_sim/stats")).status_code == 401
        assert (await client.get("/_sim/stats?token=wrong")).status_code == 401
        # POST /_sim/reset without the token wipes nothing
        assert (await client.post("/_sim/reset")).status_code == 401
        fetched = await client.get(f"/mj/task/{task_id}/fetch", headers=headers)
        assert fetched.json()["id"] == task_id
        for spelling in (
            {"authorization": "Bearer s3cret"},
            {"authorization": "s3cret"},
            {"mj-api-secret": "s3cret"},
            {"x-youchuan-secret": "s3cret"},
        ):
            answer = await client.get("/_sim/stats", headers=spelling)
            assert answer.status_code == 200 and answer.json()["jobs"] == 1
        assert (await client.get("/_sim/stats?token=s3cret")).status_code == 200
        # image URLs carry a signature instead of the token, as CDN links do
        clock.advance(2.0)
        task = (await client.get(f"/mj/task/{task_id}/fetch", headers=headers)).json()
        url = task["imageUrl"]
        assert "hm=" in url and (await client.get(url)).status_code == 200
        unsigned = url.split("?")[0]
        assert (await client.get(unsigned)).status_code == 403
        assert (await client.get(unsigned, headers=headers)).status_code == 200
        assert (await client.get(unsigned + "?hm=forged")).status_code == 403
        wiped = await client.post("/_sim/reset", headers={"authorization": "Bearer s3cret"})
        assert wiped.status_code == 200 and wiped.json()["jobs"] == 0


def test_running_simulator_sends_its_token() -> None:
    with serve(SimConfig(latency=0.1, token="s3cret", long_side=128)) as sim:
        assert httpx.get(f"{sim.url}/_sim/stats").status_code == 401
        assert sim.stats()["jobs"] == 0
        sim.reset()


# ---------------------------------------------------------------------------- peaks


async def test_stats_report_peak_running_and_waiting(clock: Clock) -> None:
    config = SimConfig(latency=10.0, concurrency=2, queue_size=10, long_side=128)
    async with client_for(config, clock) as client:
        for n in range(5):
            await imagine(client, f"kite {n}")
        stats = (await client.get("/_sim/stats")).json()
        assert (stats["running"], stats["queued"]) == (2, 3)
        assert (stats["peak_running"], stats["peak_queued"]) == (2, 3)
        clock.advance(100.0)
        stats = (await client.get("/_sim/stats")).json()
        assert (stats["running"], stats["queued"], stats["succeeded"]) == (0, 0, 5)
        assert (stats["peak_running"], stats["peak_queued"]) == (2, 3)
        await imagine(client, "one more")
        stats = (await client.get("/_sim/stats")).json()
        assert (stats["peak_running"], stats["peak_queued"]) == (2, 3)


async def test_peaks_survive_eviction_and_counts_stay(clock: Clock) -> None:
    config = SimConfig(latency=10.0, concurrency=3, queue_size=10, long_side=128, max_jobs=4)
    async with client_for(config, clock) as client:
        ids = [await imagine(client, f"kite {n}") for n in range(3)]
        clock.advance(20.0)
        for n in range(6):
            await imagine(client, f"later {n}")
            clock.advance(20.0)
        stats = (await client.get("/_sim/stats")).json()
        assert stats["jobs"] <= 4 and stats["evicted"] >= 5
        assert stats["succeeded"] == 9 and stats["submits"] == 9
        assert stats["peak_running"] == 3
        # the oldest finished jobs are forgotten, as a provider's history expires
        assert (await client.get(f"/mj/task/{ids[0]}/fetch")).content == b""


# ---------------------------------------------------------------------------- bounds


async def test_uploads_are_bounded(clock: Clock) -> None:
    config = SimConfig(latency=1.0, concurrency=5, long_side=128, max_uploads=2)
    async with client_for(config, clock) as client:
        ids = []
        for colour in ("red", "green", "blue"):
            body = {"prompt": "a kite", "base64Array": [png_data_url(colour)]}
            ids.append((await client.post("/mj/submit/imagine", json=body)).json()["result"])
        prompts = [(await fetch(client, i))["promptEn"] for i in ids]
        urls = [p.split()[0] for p in prompts]
        assert (await client.get(urls[0])).status_code == 404  # the oldest was evicted
        assert [(await client.get(u)).status_code for u in urls[1:]] == [200, 200]
        assert (await client.get("/_sim/stats")).json()["evicted_uploads"] == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("preview_ttl", -1.0),
        ("comment_lang", "fr"),
        ("max_jobs", 0),
        ("max_uploads", 0),
    ],
)
def test_new_settings_are_checked(field: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=field):
        SimConfig(**{field: value})


def test_serve_flags_match_simconfig(capsys: pytest.CaptureFixture[str]) -> None:
    from mjnb.cli import main

    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    config = SimConfig()
    assert f"grid long side in px ({config.long_side})" in text
    assert f"seconds previews live after a job ({config.preview_ttl:g})" in text
    assert "--comment-lang {en,zh,mixed}" in text and config.comment_lang == "mixed"


# ---------------------------------------------------------------------------- the model


def test_a_cancel_frees_its_slot_when_no_later_job_was_planned_on_it() -> None:
    from mjnb.prompt import parse_prompt
    from mjnb.simulator.model import JobTable

    clock = Clock()
    jobs = JobTable(SimConfig(latency=10.0, concurrency=1, queue_size=3), clock)

    def imagine(text: str) -> Any:
        prompt = parse_prompt(text)
        return jobs.submit(protocol="mjproxy", prompt=prompt, prompt_text=str(prompt))

    first = imagine("a fox")
    clock.advance(2.0)
    assert jobs.cancel(first, "stop") and not jobs.cancel(first, "again")
    assert first.state(clock.now).status == "failed" and first.fail_reason == "stop"
    assert first.spans()[1] == (first.submitted_at, clock.now)
    second = imagine("a cat")  # the slot is free again: it starts at once
    assert second.state(clock.now).status == "running" and jobs.waiting(clock.now) == 0
    third = imagine("a dog")  # waits behind the second
    assert jobs.waiting(clock.now) == 1
    assert jobs.cancel(third, "stop") and jobs.waiting(clock.now) == 0
    assert third.started_at is None and third.spans() == ((clock.now, clock.now), None)
