"""How the simulator reports a running job: Ace as it really speaks (``success: true``
on every live line, no preview in task records), preview URLs that outlive their job
by ``preview_ttl``, and Youchuan's ``comment`` language. In-process with an injected
clock, and over real loopback HTTP for streams."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from mjnb.simulator import SimConfig, create_app, serve


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def asgi(config: SimConfig, clock: Clock) -> httpx.AsyncClient:
    app = create_app(config, clock=clock)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s")


# ---------------------------------------------------------------------------- Ace


@pytest.mark.anyio
async def test_ace_records_carry_no_image_url_until_done() -> None:
    clock = Clock()
    config = SimConfig(latency=4.0, concurrency=1, progress_steps=4, long_side=128)
    async with asgi(config, clock) as client:
        first = await client.post("/midjourney/imagine", json={"prompt": "a", "async": True})
        second = await client.post("/midjourney/imagine", json={"prompt": "b", "async": True})
        ids = [first.json()["task_id"], second.json()["task_id"]]

        async def record(task_id: str) -> dict[str, Any]:
            body = {"action": "retrieve", "id": task_id}
            found: dict[str, Any] = (await client.post("/midjourney/tasks", json=body)).json()
            return found

        seen = []
        for _ in range(5):
            seen.append(await record(ids[0]))
            waiting = await record(ids[1])
            if waiting["state"] == "pending":
                assert "image_url" not in waiting["response"]
                assert "success" not in waiting["response"]
            clock.now += 1.0
        running = [r for r in seen if r["state"] == "generating"]
        assert [r["response"]["progress"] for r in running] == [0, 25, 50, 75]
        for r in running:
            assert "image_url" not in r["response"] and "success" not in r["response"]
            assert r["response"]["actions"] == [] and r["finished_at"] is None
        final = (await record(ids[0]))["response"]
        assert final["success"] is True and final["progress"] == 100
        assert final["image_url"].endswith("/image.png") and "upscale1" in final["actions"]


def test_ace_stream_lines_all_say_success_and_previews_download() -> None:
    with serve(SimConfig(latency=0.6, progress_steps=3, long_side=128, preview_ttl=0.8)) as sim:
        headers = {"accept": "application/x-ndjson"}
        with httpx.stream(
            "POST", f"{sim.url}/midjourney/imagine", json={"prompt": "a kite"}, headers=headers
        ) as response:
            raw = b"".join(response.iter_bytes())
        lines = [json.loads(line) for line in raw.decode().split("\r\n") if line]
        assert len(lines) >= 3 and all(line["success"] is True for line in lines)
        previews = [line["image_url"] for line in lines if line["progress"] < 100]
        previews = [url for url in previews if url]
        assert previews and all(".webp" in url for url in previews)
        assert lines[-1]["progress"] == 100 and lines[-1]["actions"]
        assert all(not line["actions"] for line in lines[:-1])
        # a real CDN keeps previews a while after the job ends (preview_ttl), then drops them
        assert [httpx.get(url).status_code for url in previews] == [200] * len(previews)
        time.sleep(0.9)
        assert [httpx.get(url).status_code for url in previews] == [404] * len(previews)
        assert httpx.get(lines[-1]["image_url"]).status_code == 200


# ---------------------------------------------------------------------------- preview TTL


@pytest.mark.anyio
@pytest.mark.parametrize("ttl", [0.0, 60.0])
async def test_mjproxy_previews_live_preview_ttl_after_the_job(ttl: float) -> None:
    clock = Clock()
    config = SimConfig(latency=3.0, progress_steps=3, long_side=128, preview_ttl=ttl)
    async with asgi(config, clock) as client:
        reply = await client.post("/mj/submit/imagine", json={"prompt": "a kite"})
        task_id = reply.json()["result"]
        clock.now += 1.5  # progress 33
        task = (await client.get(f"/mj/task/{task_id}/fetch")).json()
        preview = task["imageUrl"]
        assert task["status"] == "IN_PROGRESS" and "preview-33.webp" in preview
        assert (await client.get(preview)).status_code == 200
        # a preview whose moment has not come yet does not exist
        assert (await client.get(preview.replace("-33", "-66"))).status_code == 404
        clock.now += 2.0  # done
        task = (await client.get(f"/mj/task/{task_id}/fetch")).json()
        assert task["status"] == "SUCCESS"
        assert (await client.get(preview)).status_code == (200 if ttl else 404)
        clock.now += ttl + 0.1
        assert (await client.get(preview)).status_code == 404
        assert (await client.get(task["imageUrl"])).status_code == 200


@pytest.mark.anyio
async def test_previews_of_a_cancelled_job_live_preview_ttl_too() -> None:
    clock = Clock()
    config = SimConfig(latency=3.0, progress_steps=3, long_side=128, preview_ttl=10.0)
    async with asgi(config, clock) as client:
        task_id = (await client.post("/mj/submit/imagine", json={"prompt": "k"})).json()["result"]
        clock.now += 1.5
        preview = (await client.get(f"/mj/task/{task_id}/fetch")).json()["imageUrl"]
        await client.post(f"/mj/task/{task_id}/cancel")
        assert (await client.get(preview)).status_code == 200
        assert (await client.get(preview.replace("-33", "-66"))).status_code == 404  # never came
        clock.now += 10.1
        assert (await client.get(preview)).status_code == 404


# ---------------------------------------------------------------------------- Youchuan


@pytest.mark.anyio
@pytest.mark.parametrize("lang", ["en", "zh", "mixed"])
async def test_youchuan_comment_language(lang: str) -> None:
    clock = Clock()
    config = SimConfig(latency=2.0, concurrency=3, long_side=128, comment_lang=lang)
    async with asgi(config, clock) as client:
        created = []
        for n in range(3):
            reply = await client.post("/v1/tob/diffusion", json={"text": f"a fox {n}"})
            created.append(reply.json())
        comments: dict[str, list[str]] = {job["id"]: [job["comment"]] for job in created}
        for _ in range(10):
            for job_id in comments:
                job = (await client.get(f"/v1/tob/job/{job_id}")).json()
                if job["comment"] != comments[job_id][-1]:
                    comments[job_id].append(job["comment"])
            clock.now += 0.7
    every = [c for seen in comments.values() for c in seen]
    chinese = [c for c in every if not c.isascii()]
    if lang == "en":
        assert not chinese and "JobStatusSuccess" in every
    elif lang == "zh":
        assert every == [c for c in every if not c.isascii()]
        assert {"已创建", "生成中", "成功"} <= set(every)
    else:  # every third job's final comment in Chinese
        finals = [seen[-1] for seen in comments.values()]
        assert finals == ["JobStatusSuccess", "JobStatusSuccess", "成功"]
