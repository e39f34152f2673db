"""The simulator's Ace Data Cloud / Zhishuyun protocol, over real loopback HTTP."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import httpx
import pytest
from PIL import Image

from mjnb.simulator import SimConfig, create_app

RESPONSE_FIELDS = {
    "success",
    "task_id",
    "image_id",
    "image_url",
    "image_width",
    "image_height",
    "raw_image_url",
    "raw_image_width",
    "raw_image_height",
    "progress",
    "actions",
}
GRID_ACTIONS = [
    "upscale1",
    "upscale2",
    "upscale3",
    "upscale4",
    "reroll",
    "variation1",
    "variation2",
    "variation3",
    "variation4",
]


@pytest.fixture
def client(sim: Any) -> Any:
    with httpx.Client(base_url=sim.url, timeout=15.0) as c:
        yield c


def imagine(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/midjourney/imagine", json=body)


def png_size(client: httpx.Client, url: str) -> tuple[int, int]:
    response = client.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as img:
        return img.size


def retrieve_until_done(client: httpx.Client, task_id: str) -> list[dict[str, Any]]:
    records = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = client.post("/midjourney/tasks", json={"action": "retrieve", "id": task_id})
        assert response.status_code == 200
        records.append(response.json())
        if records[-1]["state"] in ("finished", "failed"):
            return records
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} never finished")


def test_sync_imagine_upscale_and_vary(sim: Any, client: httpx.Client) -> None:
    grid = imagine(client, prompt="a red fox in snow --ar 3:2 --seed 7")
    assert grid.status_code == 200
    body = grid.json()
    assert set(body) >= RESPONSE_FIELDS and body["success"] is True
    assert body["image_id"].isdigit() and len(body["task_id"]) == 36
    assert body["actions"] == GRID_ACTIONS and body["progress"] == 100
    assert body["image_width"] / body["image_height"] == pytest.approx(1.5, abs=0.02)
    assert png_size(client, body["raw_image_url"]) == (
        body["raw_image_width"],
        body["raw_image_height"],
    )
    assert png_size(client, body["image_url"]) == (body["image_width"], body["image_height"])

    up = imagine(client, action="upscale2", image_id=body["image_id"]).json()
    assert up["success"] is True
    assert "upscale_subtle" in up["actions"] and "variation_strong" in up["actions"]
    assert "zoom_out_2x" in up["actions"] and "pan_left" in up["actions"]
    assert "square" in up["actions"] and "upscale1" not in up["actions"]
    assert up["image_width"] / up["image_height"] == pytest.approx(1.5, abs=0.02)

    varied = imagine(client, action="variation_subtle", image_id=up["image_id"]).json()
    assert varied["actions"] == GRID_ACTIONS
    w, h = png_size(client, varied["image_url"])
    assert w / h == pytest.approx(1.5, abs=0.02)

    retrieved = client.post(
        "/midjourney/tasks", json={"action": "retrieve", "id": varied["task_id"]}
    ).json()
    assert retrieved["state"] == "finished" and retrieved["type"] == "imagine"
    assert retrieved["request"] == {"action": "variation_subtle", "image_id": up["image_id"]}
    assert retrieved["response"]["image_id"] == varied["image_id"]
    assert retrieved["duration"] > 0 and retrieved["finished_at"] > retrieved["created_at"]
    stats = sim.stats()
    assert stats["submits"] == 3 and stats["succeeded"] == 3 and stats["polls"] == 1


def test_zhishuyun_era_names_and_query_token(client: httpx.Client) -> None:
    grid = client.post(
        "/midjourney/imagine/relax?token=anything", json={"prompt": "a beautiful dress"}
    ).json()
    assert grid["actions"][:4] == ["upsample1", "upsample2", "upsample3", "upsample4"]
    up = imagine(client, action="upsample4", image_id=grid["image_id"]).json()
    assert "low_variation" in up["actions"] and "high_variation" in up["actions"]
    # current names are accepted too, whatever the era
    strong = imagine(client, action="variation_strong", image_id=up["image_id"]).json()
    assert strong["success"] is True


def test_async_then_retrieve(client: httpx.Client) -> None:
    started = time.monotonic()
    reply = imagine(client, prompt="a quiet harbour", **{"async": True})
    assert reply.status_code == 200 and set(reply.json()) == {"task_id"}
    assert time.monotonic() - started < 0.25
    records = retrieve_until_done(client, reply.json()["task_id"])
    states = [r["state"] for r in records]
    assert states[-1] == "finished" and "generating" in states
    assert all("success" not in r["response"] for r in records[:-1])
    assert records[-1]["response"]["success"] is True and records[-1]["finished_at"]
    batch = client.post(
        "/midjourney/tasks",
        json={"action": "retrieve_batch", "ids": [reply.json()["task_id"], "x"]},
    )
    assert batch.json()["count"] == 1 and batch.json()["items"][0]["state"] == "finished"


def test_ndjson_stream(client: httpx.Client) -> None:
    headers = {"accept": "application/x-ndjson"}
    with client.stream(
        "POST", "/midjourney/imagine", json={"prompt": "a lantern --ar 2:3"}, headers=headers
    ) as response:
        assert response.headers["content-type"].startswith("application/x-ndjson")
        raw = b"".join(response.iter_bytes())
    assert raw.endswith(b"\r\n")
    lines = [json.loads(line) for line in raw.decode().split("\r\n") if line]
    assert len(lines) >= 3
    progress = [line["progress"] for line in lines]
    assert progress == sorted(progress) and progress[-1] == 100
    assert all(line["actions"] == [] for line in lines[:-1])
    assert lines[-1]["actions"] == GRID_ACTIONS and lines[-1]["success"] is True
    previews = [line["image_url"] for line in lines[:-1] if line["image_url"]]
    assert previews and all(".webp" in url for url in previews)
    # Ace's real stream: success true on every line, previews included
    assert all(line["success"] is True for line in lines)
    # previews stay downloadable for preview_ttl (60 s by default) after the job ends
    assert client.get(previews[0]).status_code == 200
    assert client.get(lines[-1]["image_url"]).status_code == 200


def test_callback(sim: Any, client: httpx.Client, webhook: Any) -> None:
    reply = imagine(client, prompt="a paper boat", callback_url=webhook.url).json()
    bodies = webhook.wait_for(lambda b: len(b) >= 1)
    time.sleep(0.1)
    assert len(webhook.bodies) == 1
    assert bodies[0]["task_id"] == reply["task_id"] and bodies[0]["success"] is True
    assert bodies[0]["actions"] == GRID_ACTIONS


def test_callback_with_stream_posts_every_change(client: httpx.Client, webhook: Any) -> None:
    headers = {"accept": "application/x-ndjson"}
    client.post(
        "/midjourney/imagine",
        json={"prompt": "kites", "callback_url": webhook.url},
        headers=headers,
    )
    # every POST says success: true (previews too); the final one has progress 100
    bodies = webhook.wait_for(lambda b: any(x.get("progress") == 100 for x in b))
    assert len(bodies) >= 3 and [b["progress"] for b in bodies][-1] == 100
    assert all(b["success"] is True for b in bodies)


def test_failed_prompt_via_callback(client: httpx.Client, webhook: Any) -> None:
    imagine(client, prompt="a cat --foo 2", callback_url=webhook.url)
    body = webhook.wait_for(lambda b: len(b) >= 1)[0]
    assert body["success"] is False and body["error"]["code"] == "bad_request"
    assert "--foo" in body["error"]["message"]


def test_non_loopback_callback_is_ignored(client: httpx.Client, caplog: Any) -> None:
    with caplog.at_level("WARNING", logger="mjnb.simulator"):
        reply = imagine(client, prompt="x", callback_url="http://203.0.113.9/hook")
    assert set(reply.json()) == {"task_id"}
    assert "loopback" in caplog.text


def test_split_images_describe_seed_translate(client: httpx.Client) -> None:
    grid = imagine(client, prompt="four tiles --ar 16:9", split_images=True).json()
    tiles = grid["sub_image_urls"]
    assert len(tiles) == 4
    assert png_size(client, tiles[3]) == (grid["image_width"] // 2, grid["image_height"] // 2)
    described = client.post("/midjourney/describe", json={"image_url": grid["image_url"]}).json()
    assert len(described["descriptions"]) == 4
    assert all(isinstance(d, str) and d for d in described["descriptions"])
    foreign = client.post("/midjourney/describe", json={"image_url": "https://x.test/a.png"})
    assert len(foreign.json()["descriptions"]) == 4
    seed = client.post("/midjourney/seed", json={"image_id": grid["image_id"]}).json()
    assert isinstance(seed["seed"], str) and seed["seed"].isdigit()  # Ace: a string
    fixed = imagine(client, prompt="seeded --seed 99").json()
    assert client.post("/midjourney/seed", json={"image_id": fixed["image_id"]}).json() == {
        "seed": "99"
    }
    assert client.post("/midjourney/translate", json={"content": "狐狸"}).json() == {
        "content": "狐狸"
    }


def test_errors(sim: Any, client: httpx.Client) -> None:
    banned = imagine(client, prompt="nsfw poster")
    assert banned.status_code == 403 and banned.json()["error"]["code"] == "forbidden"
    assert banned.json()["success"] is False and banned.json()["trace_id"]
    invalid = imagine(client, prompt="a cat --s 5000")
    assert invalid.status_code == 400
    assert invalid.json()["error"]["code"] == "bad_request" and invalid.json()["task_id"]
    record = client.post(
        "/midjourney/tasks", json={"action": "retrieve", "id": invalid.json()["task_id"]}
    ).json()
    assert record["state"] == "failed" and record["response"]["success"] is False
    assert imagine(client, action="upscale1").status_code == 400
    assert imagine(client, action="upscale1", image_id="123").status_code == 400
    assert imagine(client, action="explode", image_id="1").json()["error"]["code"] == "bad_request"
    grid = imagine(client, prompt="ok").json()
    wrong = imagine(client, action="variation_subtle", image_id=grid["image_id"])
    assert wrong.status_code == 400 and "upscale1" in wrong.json()["error"]["message"]
    assert imagine(client, prompt="ok", mode="warp").status_code == 400
    missing = client.post("/midjourney/tasks", json={"action": "retrieve", "id": "nope"})
    assert missing.status_code == 404
    assert client.post("/midjourney/tasks", json={}).status_code == 400
    assert client.post("/midjourney/nothing-here", json={}).json()["error"]["code"] == (
        "api_not_implemented"
    )


def test_sync_timeout_then_retrieve(client: httpx.Client) -> None:
    slow = imagine(client, prompt="slow one", mode="relax", timeout=0.1)
    assert slow.status_code == 500 and slow.json()["error"]["code"] == "timeout"
    records = retrieve_until_done(client, slow.json()["task_id"])
    assert records[-1]["response"]["success"] is True


@pytest.mark.parametrize("sim_config", [SimConfig(latency=0.2, long_side=128, fail_rate=1.0)])
def test_failing_job(sim: Any, client: httpx.Client) -> None:
    failed = imagine(client, prompt="unlucky")
    assert failed.status_code == 500
    error = failed.json()["error"]
    assert error["code"] == "api_error" and error["message"].endswith(".")
    headers = {"accept": "application/x-ndjson"}
    with client.stream(
        "POST", "/midjourney/imagine", json={"prompt": "unlucky too"}, headers=headers
    ) as response:
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert lines[-1]["success"] is False and lines[-1]["error"]["code"] == "api_error"
    assert all(line["actions"] == [] for line in lines[:-1])
    assert sim.stats()["failed"] == 2


@pytest.mark.parametrize(
    "sim_config", [SimConfig(latency=0.5, concurrency=1, queue_size=1, long_side=128)]
)
def test_queue_full_is_429(sim: Any, client: httpx.Client) -> None:
    ok = [imagine(client, prompt=f"job {i}", **{"async": True}) for i in range(2)]
    assert all(r.status_code == 200 for r in ok)
    full = imagine(client, prompt="one too many", **{"async": True})
    assert full.status_code == 429 and full.json()["error"]["code"] == "too_many_requests"
    stats = sim.stats()
    assert stats["submits"] == 2 and stats["rejected_429"] == 1


@pytest.mark.parametrize("sim_config", [SimConfig(latency=0.1, long_side=128, token="T0k")])
def test_token_checks(sim: Any) -> None:
    url = f"{sim.url}/midjourney/imagine"
    body = {"prompt": "a fox", "async": True}
    none = httpx.post(url, json=body)
    assert none.status_code == 401 and none.json()["error"]["code"] == "no_token"
    wrong = httpx.post(url, json=body, headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_token"
    for headers, query in (
        ({"authorization": "Bearer T0k"}, ""),
        ({"authorization": "T0k"}, ""),
        ({}, "?token=T0k"),
    ):
        assert httpx.post(url + query, json=body, headers=headers).status_code == 200


@pytest.mark.anyio
async def test_malformed_inputs_get_ace_errors(sim_app: Any) -> None:
    transport = httpx.ASGITransport(app=sim_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as c:
        for raw in (b"{oops", b"[]", b"42"):
            r = await c.post("/midjourney/imagine", content=raw)
            assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
        bodies: list[dict[str, Any]] = [
            {"prompt": ["x"]},
            {"prompt": "x", "split_images": "maybe"},
            {"prompt": "x", "timeout": "soon"},
            {"prompt": "x", "callback_url": {"u": 1}},
            {"prompt": "x", "mode": 3},
            {"action": "retrieve_batch"},
            {"action": "upscale1", "image_id": ["1"]},
        ]
        for body in bodies:
            r = await c.post("/midjourney/imagine", json=body)
            assert r.status_code == 400 and r.json()["success"] is False, body
        r = await c.post("/midjourney/tasks", json={"action": "retrieve_batch", "ids": 3})
        assert r.status_code == 400
        huge = b'{"prompt": "' + b"a" * (10 * 1024 * 1024 + 1) + b'"}'
        r = await c.post("/midjourney/imagine", content=huge)
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


@pytest.mark.anyio
async def test_rate_limited_429() -> None:
    app = create_app(SimConfig(latency=0.1, long_side=128, rate_limit=2))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        replies = [
            await c.post("/midjourney/tasks", json={"action": "retrieve", "id": "x"})
            for _ in range(6)
        ]
        limited = [r for r in replies if r.status_code == 429]
        assert len(limited) >= 3 and replies[0].status_code == 404
        assert limited[0].json()["error"]["code"] == "too_many_requests"
        assert int(limited[0].headers["retry-after"]) >= 1
        assert (await c.get("/_sim/stats")).json()["rejected_429"] == len(limited)
