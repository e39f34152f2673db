"""The simulator's midjourney-proxy protocol, over real loopback HTTP and in-process."""

from __future__ import annotations

import base64
import io
import time
from typing import Any

import httpx
import pytest
from PIL import Image

from mjnb.simulator import SimConfig, create_app, serve


def png_data_url(color: str, size: tuple[int, int] = (40, 30)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def submit(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/mj/submit/{path}", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def wait_task(client: httpx.Client, task_id: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Poll until the task is final; return every distinct reading."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = client.get(f"/mj/task/{task_id}/fetch").json()
        if not seen or (task["status"], task["progress"]) != (
            seen[-1]["status"],
            seen[-1]["progress"],
        ):
            seen.append(task)
        if task["status"] in ("SUCCESS", "FAILURE"):
            return seen
        time.sleep(0.03)
    raise AssertionError(f"task {task_id} did not finish: {seen[-1:]}")


def image_size(client: httpx.Client, url: str) -> tuple[int, int]:
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as img:
        assert img.format == "PNG"
        return img.size


def button(task: dict[str, Any], fragment: str) -> str:
    ids = [b["customId"] for b in task["buttons"]]
    found = [cid for cid in ids if fragment in cid]
    assert found, f"no button with {fragment!r} in {ids}"
    return found[0]


@pytest.fixture
def client(sim: Any) -> Any:
    with httpx.Client(base_url=sim.url, timeout=10.0) as c:
        yield c


def test_imagine_upscale_vary_end_to_end(sim: Any, client: httpx.Client) -> None:
    first = submit(
        client, "imagine", {"prompt": "a red fox in snow --ar 3:2 --seed 7", "state": "mine"}
    )
    assert first["code"] == 1 and first["result"].isdigit()
    readings = wait_task(client, first["result"])
    grid = readings[-1]
    assert grid["status"] == "SUCCESS" and grid["progress"] == "100%"
    assert grid["action"] == "IMAGINE" and grid["state"] == "mine"
    assert grid["prompt"] == "a red fox in snow --ar 3:2 --seed 7"
    assert grid["properties"]["finalPrompt"].startswith("a red fox in snow --ar 3:2")
    assert grid["description"].startswith("/imagine ")
    assert {"SUBMITTED", "IN_PROGRESS", "SUCCESS"} <= {r["status"] for r in readings}
    progresses = [int(r["progress"].rstrip("%")) for r in readings]
    assert progresses == sorted(progresses) and all(
        isinstance(r["progress"], str) for r in readings
    )
    running = [r for r in readings if r["status"] == "IN_PROGRESS"]
    assert running and all(".webp" in r["imageUrl"] for r in running)
    assert grid["submitTime"] <= grid["startTime"] <= grid["finishTime"]
    labels = [b["label"] for b in grid["buttons"]]
    assert labels == ["U1", "U2", "U3", "U4", "", "V1", "V2", "V3", "V4"]
    assert button(grid, "reroll").endswith("::SOLO")
    w, h = image_size(client, grid["imageUrl"])
    assert (w / h) == pytest.approx(1.5, abs=0.02)

    up = submit(client, "change", {"taskId": grid["id"], "action": "UPSCALE", "index": 2})
    assert up["code"] == 1
    single = wait_task(client, up["result"])[-1]
    assert single["action"] == "UPSCALE" and single["status"] == "SUCCESS"
    assert single["description"] == f"/up {grid['id']} U2"
    uw, uh = image_size(client, single["imageUrl"])
    assert uw / uh == pytest.approx(1.5, abs=0.02)
    ids = [b["customId"] for b in single["buttons"]]
    for fragment in (
        "low_variation",
        "high_variation",
        "Outpaint::50",
        "Outpaint::75",
        "Outpaint::100",
        "pan_left",
        "upsample_v6_2x_subtle",
        "upsample_v6_2x_creative",
    ):
        assert any(fragment in cid for cid in ids), fragment

    vary = submit(
        client, "action", {"taskId": single["id"], "customId": button(single, "low_variation")}
    )
    assert vary["code"] == 1
    varied = wait_task(client, vary["result"])[-1]
    assert varied["action"] == "VARIATION" and varied["status"] == "SUCCESS"
    assert [b["label"] for b in varied["buttons"]][:4] == ["U1", "U2", "U3", "U4"]
    vw, vh = image_size(client, varied["imageUrl"])
    assert vw / vh == pytest.approx(1.5, abs=0.02)

    stats = sim.stats()
    assert stats["submits"] == 3 and stats["succeeded"] == 3
    assert stats["protocols"]["mjproxy"]["submits"] == 3
    assert stats["downloads"] == 3


def test_simple_change_reroll_and_variation(client: httpx.Client) -> None:
    grid = submit(client, "imagine", {"prompt": "a teal lighthouse --seed 3"})["result"]
    wait_task(client, grid)
    v = submit(client, "simple-change", {"content": f"{grid} V3"})
    r = submit(client, "simple-change", {"content": f"{grid} R"})
    assert v["code"] in (1, 22) and r["code"] in (1, 22)
    assert wait_task(client, v["result"])[-1]["action"] == "VARIATION"
    rerolled = wait_task(client, r["result"])[-1]
    assert rerolled["action"] == "REROLL" and rerolled["status"] == "SUCCESS"
    assert submit(client, "simple-change", {"content": "nonsense"})["code"] == 4


def test_square_only_offered_on_non_square_and_pans_keep_axis(client: httpx.Client) -> None:
    grid = submit(client, "imagine", {"prompt": "a cube --seed 1"})["result"]
    wait_task(client, grid)
    single = wait_task(
        client, submit(client, "simple-change", {"content": f"{grid} U1"})["result"]
    )[-1]
    assert not any("Outpaint::100" in b["customId"] for b in single["buttons"])
    pan = submit(client, "action", {"taskId": single["id"], "customId": button(single, "pan_left")})
    panned = wait_task(client, pan["result"])[-1]
    assert panned["action"] == "PAN"
    after = wait_task(
        client, submit(client, "simple-change", {"content": f"{panned['id']} U1"})["result"]
    )[-1]
    ids = " ".join(b["customId"] for b in after["buttons"])
    assert "pan_left" in ids and "pan_right" in ids and "pan_up" not in ids
    assert "Outpaint::100" in ids  # a panned picture is no longer square


def test_v5_upscaled_offers_2x_and_4x(client: httpx.Client) -> None:
    grid = submit(client, "imagine", {"prompt": "an old map --v 5.2"})["result"]
    wait_task(client, grid)
    single = wait_task(
        client, submit(client, "simple-change", {"content": f"{grid} U4"})["result"]
    )[-1]
    ids = " ".join(b["customId"] for b in single["buttons"])
    assert "upsample_v5_2x" in ids and "upsample_v5_4x" in ids and "v6_2x" not in ids
    up = submit(client, "action", {"taskId": single["id"], "customId": button(single, "v5_4x")})
    bigger = wait_task(client, up["result"])[-1]
    assert bigger["action"] == "UPSCALE"
    assert (
        image_size(client, bigger["imageUrl"])[0] == 4 * image_size(client, single["imageUrl"])[0]
    )


def test_action_errors(client: httpx.Client) -> None:
    assert submit(client, "change", {"taskId": "123", "action": "UPSCALE", "index": 1})["code"] == 3
    grid = submit(client, "imagine", {"prompt": "a slow job"})["result"]
    wait_task(client, grid)
    assert submit(client, "change", {"taskId": grid, "action": "UPSCALE", "index": 9})["code"] == 4
    assert submit(client, "change", {"taskId": grid, "action": "ZOOM", "index": 1})["code"] == 4
    bogus = submit(client, "action", {"taskId": grid, "customId": "MJ::JOB::upsample::1::nope"})
    assert bogus["code"] == 4
    single = submit(client, "change", {"taskId": grid, "action": "UPSCALE", "index": 1})["result"]
    wait_task(client, single)
    on_single = submit(client, "change", {"taskId": single, "action": "UPSCALE", "index": 1})
    assert on_single["code"] == 4


def test_acting_on_a_running_job_fails() -> None:
    from mjnb.simulator import SimConfig, serve

    with (
        serve(SimConfig(latency=30.0, long_side=256)) as slow,
        httpx.Client(base_url=slow.url, timeout=10.0) as client,
    ):
        grid = submit(client, "imagine", {"prompt": "a slow job"})["result"]
        early = submit(client, "change", {"taskId": grid, "action": "UPSCALE", "index": 1})
        assert early["code"] == 4 and "SUCCESS" in early["description"]


def test_banned_and_invalid_prompts(sim: Any, client: httpx.Client) -> None:
    banned = submit(client, "imagine", {"prompt": "a scene full of Gore and mist"})
    assert banned["code"] == 24
    assert banned["properties"]["bannedWord"] == "gore"
    assert banned["properties"]["promptEn"] == "a scene full of Gore and mist"
    invalid = submit(client, "imagine", {"prompt": "a cat --s 5000"})
    assert invalid["code"] == 4 and "stylize" in invalid["description"]
    unknown = submit(client, "imagine", {"prompt": "a cat --foo 1"})
    assert unknown["code"] == 4 and "--foo" in unknown["description"]
    assert submit(client, "imagine", {"prompt": ""})["code"] == 4
    assert submit(client, "imagine", {"prompt": "a {cat, dog}"})["code"] == 4
    assert sim.stats()["submits"] == 0


@pytest.mark.parametrize(
    "sim_config", [SimConfig(latency=0.6, concurrency=1, queue_size=2, long_side=128)]
)
def test_queue_codes_22_and_23(sim: Any, client: httpx.Client) -> None:
    codes = [submit(client, "imagine", {"prompt": f"job {i}"}) for i in range(4)]
    assert codes[0]["code"] == 1
    assert codes[1]["code"] == 22 and codes[1]["properties"]["numberOfQueues"] == 0
    assert codes[2]["code"] == 22 and codes[2]["properties"]["numberOfQueues"] == 1
    assert codes[3]["code"] == 23 and codes[3]["result"] is None
    queued = client.get("/mj/task/queue").json()
    assert [t["status"] for t in queued] == ["SUBMITTED", "NOT_START", "NOT_START"]
    stats = sim.stats()
    assert stats["submits"] == 3 and stats["rejected_queue_full"] == 1
    assert stats["running"] == 1 and stats["queued"] == 2


def test_tasks_list_and_condition(client: httpx.Client) -> None:
    a = submit(client, "imagine", {"prompt": "one"})["result"]
    b = submit(client, "imagine", {"prompt": "two"})["result"]
    assert {t["id"] for t in client.get("/mj/task/list").json()} == {a, b}
    found = client.post("/mj/task/list-by-condition", json={"ids": [b, "404", a]}).json()
    assert [t["id"] for t in found] == [b, a]
    unknown = client.get("/mj/task/999/fetch")
    assert unknown.status_code == 200 and unknown.content == b""
    wait_task(client, a)
    assert client.get(f"/mj/task/{a}/image-seed").json()["code"] == 1


def test_describe_and_blend(client: httpx.Client) -> None:
    desc = submit(client, "describe", {"base64": png_data_url("red")})
    task = wait_task(client, desc["result"])[-1]
    assert task["action"] == "DESCRIBE" and task["status"] == "SUCCESS"
    assert len(task["prompt"].split("\n\n")) == 4
    assert "/_sim/uploads/" in task["imageUrl"]
    assert client.get(task["imageUrl"]).status_code == 200
    blend = submit(
        client,
        "blend",
        {"base64Array": [png_data_url("red"), png_data_url("blue")], "dimensions": "LANDSCAPE"},
    )
    grid = wait_task(client, blend["result"])[-1]
    assert grid["action"] == "BLEND" and grid["buttons"]
    w, h = image_size(client, grid["imageUrl"])
    assert w / h == pytest.approx(1.5, abs=0.02)
    assert submit(client, "blend", {"base64Array": [png_data_url("red")]})["code"] == 4
    assert submit(client, "describe", {"base64": "data:image/png;base64,@@@"})["code"] == 4
    assert submit(client, "describe", {"base64": "data:image/png;base64,aGVsbG8="})["code"] == 4


@pytest.mark.parametrize("sim_config", [SimConfig(latency=0.3, long_side=128, fail_rate=1.0)])
def test_failing_jobs(sim: Any, client: httpx.Client) -> None:
    task = wait_task(client, submit(client, "imagine", {"prompt": "doomed"})["result"])[-1]
    assert task["status"] == "FAILURE" and task["progress"] == ""
    assert task["failReason"] and task["failReason"].endswith(".")
    assert task["buttons"] == [] and task["finishTime"]
    assert sim.stats()["failed"] == 1


def test_notify_hook_gets_every_change(sim: Any, client: httpx.Client, webhook: Any) -> None:
    job = submit(
        client, "imagine", {"prompt": "a hooked fish", "notifyHook": webhook.url, "state": "s1"}
    )["result"]
    bodies = webhook.wait_for(lambda b: any(t["status"] == "SUCCESS" for t in b))
    assert all(t["id"] == job and t["state"] == "s1" for t in bodies)
    progress = [int(t["progress"].rstrip("%")) for t in bodies]
    assert progress == sorted(progress) and progress[-1] == 100 and len(bodies) >= 3
    assert bodies[-1]["buttons"]
    assert sim.stats()["callbacks"] == len(bodies)


def test_notify_hook_ignores_non_loopback(client: httpx.Client, caplog: Any) -> None:
    with caplog.at_level("WARNING", logger="mjnb.simulator"):
        reply = submit(client, "imagine", {"prompt": "x", "notifyHook": "http://example.com/h"})
    assert reply["code"] == 1
    assert "loopback" in caplog.text


@pytest.mark.parametrize("sim_config", [SimConfig(latency=0.3, long_side=128, token="s3cret")])
def test_auth(sim: Any) -> None:
    body = {"prompt": "a fox"}
    for headers in ({}, {"mj-api-secret": "wrong"}, {"Authorization": "Bearer nope"}):
        refused = httpx.post(f"{sim.url}/mj/submit/imagine", json=body, headers=headers)
        assert refused.status_code == 401 and refused.content == b""
    assert httpx.get(f"{sim.url}/mj/task/1/fetch").status_code == 401
    for headers in (
        {"mj-api-secret": "s3cret"},
        {"Authorization": "s3cret"},
        {"Authorization": "Bearer s3cret"},
    ):
        ok = httpx.post(f"{sim.url}/mj/submit/imagine", json=body, headers=headers)
        assert ok.status_code == 200 and ok.json()["code"] == 1


@pytest.mark.anyio
async def test_malformed_requests_never_500(sim_app: Any) -> None:
    transport = httpx.ASGITransport(app=sim_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as c:
        for body in (b"{not json", b"[1, 2]", b'"text"', b"null"):
            r = await c.post("/mj/submit/imagine", content=body)
            assert r.status_code == 200 and r.json()["code"] == 4, body
        typed = [
            ("imagine", {"prompt": ["a"]}),
            ("imagine", {"prompt": "a", "base64Array": "nope"}),
            ("imagine", {"prompt": "a", "base64Array": [1]}),
            ("imagine", {"prompt": "a", "botType": "OTHER"}),
            ("change", {"taskId": {"x": 1}, "action": "UPSCALE", "index": 1}),
            ("change", {"taskId": "1", "action": "UPSCALE", "index": "two"}),
            ("action", {"taskId": "1"}),
            ("blend", {"base64Array": None}),
            ("describe", {}),
        ]
        for path, body in typed:
            r = await c.post(f"/mj/submit/{path}", json=body)
            assert r.status_code == 200 and r.json()["code"] in (3, 4), (path, body, r.text)
        huge = b'{"prompt": "' + b"a" * (10 * 1024 * 1024 + 10) + b'"}'
        r = await c.post("/mj/submit/imagine", content=huge)
        assert r.status_code == 413 and r.json()["code"] == 4
        r = await c.post("/mj/task/list-by-condition", json={"ids": "nope"})
        assert r.status_code == 200 and r.json()["code"] == 4
        r = await c.get("/mj/nowhere")
        assert r.status_code == 404 and r.json()["status"] == 404


@pytest.mark.anyio
async def test_rate_limit_answers_429() -> None:
    app = create_app(SimConfig(latency=0.3, long_side=128, rate_limit=3))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as c:
        statuses = [(await c.get("/mj/task/1/fetch")).status_code for _ in range(8)]
        assert statuses.count(429) >= 4 and statuses[0] == 200
        limited = await c.get("/mj/task/1/fetch")
        assert limited.status_code == 429 and limited.json()["code"] == 429
        stats = (await c.get("/_sim/stats")).json()
    assert stats["rejected_429"] == statuses.count(429) + 1


def test_serve_on_a_real_port_twice() -> None:
    with serve(SimConfig(latency=0.1, long_side=64)) as one, serve(SimConfig()) as two:
        assert one.url != two.url and one.url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{one.url}/_sim/stats").json()["submits"] == 0
    assert not one.running and not two.running
