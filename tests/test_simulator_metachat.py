"""The simulator's MetaChat open-platform protocol, over real loopback HTTP."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import pytest
from PIL import Image

from mjnb.simulator import SimConfig, create_app

BASE = "/open/v1/midjourney"
RESULT_FIELDS = {
    "id",
    "status",
    "progress",
    "fail_reason",
    "image_url",
    "image_url_mirror",
    "image_description",
    "total_points",
    "prompt",
    "revised_prompt",
    "model",
    "params",
    "images",
    "submitted_at",
    "started_at",
    "finished_at",
}


@pytest.fixture
def client(sim: Any) -> Any:
    headers = {"X-App-ID": "app-1", "Authorization": "Bearer key"}
    with httpx.Client(base_url=sim.url, headers=headers, timeout=10.0) as c:
        yield c


def post(client: httpx.Client, op: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{BASE}/{op}", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def submit(client: httpx.Client, op: str, body: dict[str, Any]) -> str:
    reply = post(client, op, body)
    assert reply["status"] == "Success", reply
    task_id: str = reply["data"]["id"]
    return task_id


def wait(client: httpx.Client, task_id: str) -> list[dict[str, Any]]:
    readings: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        reply = client.get(f"{BASE}/result/{task_id}")
        assert reply.status_code == 200 and reply.json()["status"] == "Success"
        readings.append(reply.json()["data"])
        if readings[-1]["status"] in ("success", "failure"):
            return readings
        time.sleep(0.04)
    raise AssertionError(f"task {task_id} never finished")


def png_size(client: httpx.Client, url: str) -> tuple[int, int]:
    response = client.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as img:
        return img.size


def test_imagine_separate_vary_end_to_end(sim: Any, client: httpx.Client) -> None:
    reply = post(
        client,
        "imagine",
        {"prompt": "a red fox in snow --seed 7", "params": {"aspect": "3:2", "stylize": 250}},
    )
    assert reply["status"] == "Success" and reply["message"]
    data = reply["data"]
    assert data["model"] == "mj-v6"
    assert "--ar 3:2" in data["prompt"] and "--stylize 250" in data["prompt"]
    readings = wait(client, data["id"])
    done = readings[-1]
    assert set(done) >= RESULT_FIELDS
    assert done["status"] == "success" and done["progress"] == 100
    assert "in_progress" in {r["status"] for r in readings}
    assert [r["progress"] for r in readings] == sorted(r["progress"] for r in readings)
    assert done["prompt"] == "a red fox in snow --seed 7"
    assert done["params"]["aspect"] == "3:2" and done["params"]["seed"] == 7
    assert done["submitted_at"] <= done["started_at"] <= done["finished_at"]
    assert done["total_points"] > 0 and done["fail_reason"] is None
    w, h = png_size(client, done["image_url"])
    assert w / h == pytest.approx(1.5, abs=0.02)
    mirror = client.get(done["image_url_mirror"])
    assert mirror.status_code == 200 and mirror.headers["content-type"] == "image/webp"

    single = submit(client, "separate", {"id": data["id"], "index": 2})
    separated = wait(client, single)[-1]
    sw, sh = png_size(client, separated["image_url"])
    assert sw / sh == pytest.approx(1.5, abs=0.02)
    varied = wait(client, submit(client, "vary", {"id": single, "type": "strong"}))[-1]
    assert varied["status"] == "success" and varied["model"] == "mj-v6"
    zoomed = wait(client, submit(client, "zoomout", {"id": single, "type": "1.5x"}))[-1]
    panned = wait(client, submit(client, "pan", {"id": single, "type": "up"}))[-1]
    upscaled = wait(client, submit(client, "upscale", {"id": single, "type": "creative"}))[-1]
    assert png_size(client, upscaled["image_url"])[0] == 2 * sw
    for task in (varied, zoomed, panned):
        assert task["status"] == "success"
    # actions on a grid made by an action work as on any grid
    again = wait(client, submit(client, "variation", {"id": zoomed["id"], "index": 1}))[-1]
    assert again["status"] == "success"
    assert sim.stats()["protocols"]["metachat"]["submits"] == 7


def test_prompt_params_override_params_and_model(client: httpx.Client) -> None:
    data = post(
        client,
        "imagine",
        {
            "prompt": "a koi pond --ar 9:16 --niji 6",
            "model": "mj-v6",
            "params": {
                "aspect": "16:9",
                "chaos": 600,
                "no": ["red"],
                "style": "raw",
                "quality": 0.5,
            },
        },
    )["data"]
    assert data["model"] == "mj-niji-v6"
    assert "--ar 9:16" in data["prompt"] and "16:9" not in data["prompt"]
    assert "--chaos 100" in data["prompt"] and "--no red" in data["prompt"]
    niji = post(client, "imagine", {"prompt": "a kite", "model": "mj-niji-v6"})["data"]
    assert niji["model"] == "mj-niji-v6" and "--niji 6" in niji["prompt"]
    done = wait(client, niji["id"])[-1]
    assert done["revised_prompt"] == niji["prompt"]


def test_reference_images(client: httpx.Client) -> None:
    data = post(
        client,
        "imagine",
        {
            "prompt": "a castle",
            "images": [
                {"url": "https://cdn.test/ref.png", "type": "image/png"},
                {
                    "url": "https://cdn.test/style.jpg",
                    "type": "image/jpeg",
                    "sref": True,
                    "sw": 300,
                },
            ],
        },
    )["data"]
    assert data["prompt"].startswith("https://cdn.test/ref.png a castle")
    assert "--sref https://cdn.test/style.jpg" in data["prompt"] and "--sw 300" in data["prompt"]
    bad = post(
        client,
        "imagine",
        {"prompt": "x", "images": [{"url": "https://a/b.png", "type": "image/gif"}]},
    )
    assert bad["status"] == "Fail" and bad["data"] is None


def test_describe_and_blend(client: httpx.Client) -> None:
    grid = wait(client, submit(client, "imagine", {"prompt": "teal and gold waves"}))[-1]
    described = wait(
        client,
        submit(client, "describe", {"image": {"url": grid["image_url"], "type": "image/png"}}),
    )[-1]
    assert described["image_description"].count("\n\n") == 3
    blended = wait(
        client,
        submit(
            client,
            "blend",
            {
                "images": [
                    {"url": grid["image_url"], "type": "image/png"},
                    {"url": "https://elsewhere.test/cat.webp", "type": "image/webp"},
                ],
                "dimension": "portrait",
            },
        ),
    )[-1]
    w, h = png_size(client, blended["image_url"])
    assert w / h == pytest.approx(2 / 3, abs=0.02)


def test_api_level_failures_are_http_200(sim: Any, client: httpx.Client) -> None:
    fails = [
        post(client, "imagine", {"prompt": "a cat --s 5000"}),
        post(client, "imagine", {"prompt": "a cat --foo"}),
        post(client, "imagine", {"prompt": "blood moon"}),
        post(client, "imagine", {"prompt": ""}),
        post(client, "imagine", {"prompt": "x", "model": "dall-e"}),
        post(client, "imagine", {"prompt": "x", "params": {"stylize": 5000}}),
        post(client, "imagine", {"prompt": "x", "params": "not an object"}),
        post(client, "separate", {"id": "404", "index": 1}),
        post(client, "separate", {"index": 1}),
        post(client, "pan", {"id": "1"}),
        post(client, "blend", {"images": [{"url": "https://a/b.png", "type": "image/png"}]}),
        post(client, "describe", {"image": {}}),
    ]
    for reply in fails:
        assert reply["status"] == "Fail" and reply["data"] is None and reply["message"], reply
    assert "blood" in fails[2]["message"]
    grid = submit(client, "imagine", {"prompt": "not yet"})
    wait(client, grid)
    assert post(client, "separate", {"id": grid, "index": 5})["status"] == "Fail"
    assert post(client, "upscale", {"id": grid, "type": "subtle"})["status"] == "Fail"
    single = submit(client, "separate", {"id": grid, "index": 1})
    wait(client, single)
    assert post(client, "separate", {"id": single, "index": 1})["status"] == "Fail"
    assert post(client, "upscale", {"id": single, "type": "4x"})["status"] == "Fail"
    assert sim.stats()["submits"] == 2


def test_acting_on_a_running_job_fails() -> None:
    from mjnb.simulator import serve

    headers = {"X-App-ID": "app-1", "Authorization": "Bearer key"}
    with (
        serve(SimConfig(latency=30.0, long_side=256)) as slow,
        httpx.Client(base_url=slow.url, headers=headers, timeout=10.0) as client,
    ):
        grid = submit(client, "imagine", {"prompt": "not yet"})
        early = post(client, "separate", {"id": grid, "index": 1})
        assert early["status"] == "Fail" and "not succeeded" in early["message"]


def test_unknown_result_is_http_500(client: httpx.Client) -> None:
    reply = client.get(f"{BASE}/result/123456")
    assert reply.status_code == 500
    assert reply.json()["status"] == "Fail" and "not found" in reply.json()["message"]


def test_models_and_unknown_paths(client: httpx.Client) -> None:
    models = client.get("/open/v1/models").json()
    assert models["status"] == "Success" and {"id": "mj-v6", "object": "model"} in models["data"]
    assert client.get("/open/v1/chat").status_code == 404


@pytest.mark.parametrize("sim_config", [SimConfig(latency=0.2, long_side=128, fail_rate=1.0)])
def test_failing_job(client: httpx.Client) -> None:
    task = wait(client, submit(client, "imagine", {"prompt": "unlucky"}))[-1]
    assert task["status"] == "failure" and task["fail_reason"]
    assert task["image_url"] is None and task["finished_at"]


@pytest.mark.parametrize("sim_config", [SimConfig(latency=0.3, long_side=128, token="K3y")])
def test_auth(sim: Any) -> None:
    url = f"{sim.url}{BASE}/imagine"
    body = {"prompt": "a fox"}
    for headers in (
        {},
        {"Authorization": "Bearer K3y"},
        {"X-App-ID": "a"},
        {"X-App-ID": "a", "Authorization": "Bearer no"},
        {"X-App-ID": "a", "Authorization": "K3y"},
    ):
        refused = httpx.post(url, json=body, headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["error"]["type"] == "authentication_error"
    ok = httpx.post(url, json=body, headers={"X-App-ID": "a", "Authorization": "Bearer K3y"})
    assert ok.status_code == 200 and ok.json()["status"] == "Success"


@pytest.mark.parametrize(
    "sim_config", [SimConfig(latency=0.5, concurrency=1, queue_size=0, long_side=128)]
)
def test_queue_full_is_429(sim: Any, client: httpx.Client) -> None:
    submit(client, "imagine", {"prompt": "first"})
    full = client.post(f"{BASE}/imagine", json={"prompt": "second"})
    assert full.status_code == 429 and full.json()["error"]["type"] == "rate_limit_error"
    assert sim.stats()["rejected_429"] == 1


@pytest.mark.anyio
async def test_malformed_and_oversized(sim_app: Any) -> None:
    transport = httpx.ASGITransport(app=sim_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://m") as c:
        for raw in (b"{bad", b"[]", b"true"):
            r = await c.post(f"{BASE}/imagine", content=raw)
            assert r.status_code == 200 and r.json()["status"] == "Fail"
        for op, body in (
            ("imagine", {"prompt": "x", "images": "nope"}),
            ("imagine", {"prompt": "x", "images": [3]}),
            ("imagine", {"prompt": "x", "params": {"seed": "soon"}}),
            ("variation", {"id": ["1"], "index": 1}),
            ("blend", {"images": [1, 2]}),
            ("describe", {"image": "https://x/y.png"}),
        ):
            r = await c.post(f"{BASE}/{op}", json=body)
            assert r.status_code == 200 and r.json()["status"] == "Fail", (op, body)
        huge = b'{"prompt": "' + b"a" * (10 * 1024 * 1024 + 1) + b'"}'
        r = await c.post(f"{BASE}/imagine", content=huge)
        assert r.status_code == 413


@pytest.mark.anyio
async def test_rate_limited_429() -> None:
    app = create_app(SimConfig(latency=0.1, long_side=128, rate_limit=2))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as c:
        codes = [(await c.get(f"{BASE}/result/1")).status_code for _ in range(6)]
        assert codes[0] == 500 and codes.count(429) >= 3
        limited = await c.get(f"{BASE}/result/1")
        assert limited.json()["error"]["type"] == "rate_limit_error"
