"""Actions per Midjourney version: the simulator's table, and what each protocol offers
from it (no upscale, zoom or pan on V8; Subtle/Creative on V6 and later; 2x/4x on 5.2),
in-process over ``httpx.ASGITransport`` with an injected clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from mjnb.simulator import SimConfig, create_app
from mjnb.simulator.versions import (
    DEFAULT_VERSION,
    GRID_LABELS,
    VERSIONS,
    offered,
    rules_for,
    version_key,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------------- the table


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({}, DEFAULT_VERSION),
        ({"version": "8"}, "8"),
        ({"version": "6.1"}, "6.1"),
        ({"niji": "7"}, "niji 7"),
        ({"niji": True}, "niji 6"),
        ({"niji": "6", "version": "7"}, "niji 6"),
    ],
)
def test_version_key(params: dict[str, Any], key: str) -> None:
    assert version_key(params) == key


def test_every_row_the_services_have() -> None:
    for key in ("5.2", "6", "6.1", "7", "8", "8.1", "8.2", "niji 5", "niji 6", "niji 7"):
        assert key in VERSIONS
    for key in ("8", "8.1", "8.2"):
        rules = VERSIONS[key]
        assert (rules.upscales, rules.zoom, rules.pan) == ((), False, False)
    assert VERSIONS["5.2"].upscales == ("upscale 2x", "upscale 4x")
    for key in ("6", "6.1", "7", "niji 6", "niji 7"):
        assert VERSIONS[key].upscales == ("upscale subtle", "upscale creative")
    tags = {key: VERSIONS[key].tag for key in ("5.2", "6", "6.1", "7", "niji 6", "niji 7")}
    assert tags == {
        "5.2": "v5",
        "6": "v6",
        "6.1": "v6r1",
        "7": "v7",
        "niji 6": "v6",
        "niji 7": "v7",
    }


@pytest.mark.parametrize(
    ("key", "nearest"),
    [("8.3", "8.2"), ("7.5", "7"), ("6.2", "6.1"), ("4", "5"), ("9", "8.2"), ("niji 4", "niji 5")],
)
def test_unknown_versions_take_the_nearest_row(key: str, nearest: str) -> None:
    assert rules_for(key) == VERSIONS[nearest]


def test_offered_per_version() -> None:
    def single(version: str, **kw: Any) -> list[str]:
        base: dict[str, Any] = {"aspect": 1.5, "pan_axis": None, "upscaled": False}
        return offered("single", {"version": version}, **{**base, **kw})

    assert single("8") == ["vary subtle", "vary strong"]
    assert single("8.2") == ["vary subtle", "vary strong"]  # a row the parser cannot reach yet
    assert "upscale 2x" in single("5.2") and "upscale subtle" not in single("5.2")
    full = single("6.1")
    assert {"zoom 2x", "square", "pan left", "upscale subtle", "upscale creative"} <= set(full)
    assert "square" not in single("7", aspect=1.0)
    assert not {"pan up", "pan down"} & set(single("7", pan_axis="h"))
    assert "upscale subtle" not in single("7", upscaled=True)
    assert offered("grid", {"version": "8"}, aspect=1.0, pan_axis=None, upscaled=False) == list(
        GRID_LABELS
    )


# ---------------------------------------------------------------------------- protocols


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    clock = Clock()
    app = create_app(SimConfig(latency=1.0, concurrency=8, long_side=128), clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        c.clock = clock  # type: ignore[attr-defined]
        yield c


def later(client: httpx.AsyncClient, seconds: float = 5.0) -> None:
    client.clock.now += seconds  # type: ignore[attr-defined]


async def mj_upscaled(client: httpx.AsyncClient, prompt: str) -> dict[str, Any]:
    grid = (await client.post("/mj/submit/imagine", json={"prompt": prompt})).json()["result"]
    later(client)
    body = {"taskId": grid, "action": "UPSCALE", "index": 2}
    single = (await client.post("/mj/submit/change", json=body)).json()["result"]
    later(client)
    task: dict[str, Any] = (await client.get(f"/mj/task/{single}/fetch")).json()
    assert task["status"] == "SUCCESS"
    return task


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("prompt", "wanted", "absent"),
    [
        ("a fox --v 8", ["low_variation", "high_variation"], ["upsample_", "Outpaint", "pan_"]),
        ("a fox --v 7", ["upsample_v7_2x_subtle", "upsample_v7_2x_creative", "pan_left"], []),
        ("a fox --v 6.1", ["upsample_v6r1_2x_subtle", "Outpaint::50"], ["upsample_v5"]),
        ("a fox --v 5.2", ["upsample_v5_2x", "upsample_v5_4x", "Outpaint"], ["subtle::"]),
        ("a fox --niji 6", ["upsample_v6_2x_creative"], ["v5_2x"]),
    ],
)
async def test_mjproxy_buttons_per_version(
    client: httpx.AsyncClient, prompt: str, wanted: list[str], absent: list[str]
) -> None:
    task = await mj_upscaled(client, prompt)
    ids = [b["customId"] for b in task["buttons"]]
    for fragment in wanted:
        assert any(fragment in cid for cid in ids), (fragment, ids)
    for fragment in absent:
        assert not any(fragment in cid for cid in ids), (fragment, ids)


@pytest.mark.anyio
async def test_mjproxy_v8_refuses_a_button_it_does_not_offer(client: httpx.AsyncClient) -> None:
    task = await mj_upscaled(client, "a fox --v 8")
    h = task["buttons"][0]["customId"].split("::")[-2]
    body = {"taskId": task["id"], "customId": f"MJ::JOB::pan_left::1::{h}::SOLO"}
    answer = (await client.post("/mj/submit/action", json=body)).json()
    assert answer["code"] == 4 and "not offered" in answer["description"]


@pytest.mark.anyio
async def test_ace_actions_per_version(client: httpx.AsyncClient) -> None:
    async def upscaled(prompt: str) -> dict[str, Any]:
        body = {"prompt": prompt, "async": True}
        task = (await client.post("/midjourney/imagine", json=body)).json()["task_id"]
        later(client)
        record = await client.post("/midjourney/tasks", json={"action": "retrieve", "id": task})
        image_id = record.json()["response"]["image_id"]
        body = {"action": "upscale1", "image_id": image_id, "async": True}
        single = (await client.post("/midjourney/imagine", json=body)).json()["task_id"]
        later(client)
        answer = await client.post("/midjourney/tasks", json={"action": "retrieve", "id": single})
        response: dict[str, Any] = answer.json()["response"]
        return response

    v8 = await upscaled("a fox --v 8")
    assert v8["actions"] == ["variation_subtle", "variation_strong"]
    refused = await client.post(
        "/midjourney/imagine", json={"action": "pan_left", "image_id": v8["image_id"]}
    )
    assert refused.status_code == 400 and "variation_subtle" in refused.json()["error"]["message"]
    v52 = await upscaled("a fox --v 5.2")
    assert {"upscale_2x", "upscale_4x", "zoom_out_2x", "pan_left"} <= set(v52["actions"])
    v7 = await upscaled("a fox --v 7")
    assert {"upscale_subtle", "upscale_creative"} <= set(v7["actions"])


@pytest.mark.anyio
async def test_youchuan_v8_has_no_pan_outpaint_or_upscale(client: httpx.AsyncClient) -> None:
    headers = {"x-youchuan-app": "app", "x-youchuan-secret": "k"}

    async def post(path: str, body: dict[str, Any]) -> httpx.Response:
        return await client.post(f"/v1/tob/{path}", json=body, headers=headers)

    v8 = (await post("diffusion", {"text": "a fox --v 8"})).json()["id"]
    v7 = (await post("diffusion", {"text": "a fox --v 7"})).json()["id"]
    later(client)
    for path, extra in (
        ("pan", {"direction": 1, "scale": 1.5}),
        ("outpaint", {"scale": 1.5}),
        ("upscale", {"type": 0}),
    ):
        refused = await post(path, {"jobId": v8, "imageNo": 0, **extra})
        assert refused.status_code == 405 and refused.json()["reason"] == "Not_Support", path
        assert (await post(path, {"jobId": v7, "imageNo": 0, **extra})).status_code == 200
    upscale = (await post("upscale", {"jobId": v8, "imageNo": 0})).json()
    assert "--hd --seed" in upscale["message"]
    assert (await post("variation", {"jobId": v8, "imageNo": 0, "type": 1})).status_code == 200
