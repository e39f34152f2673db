"""The simulator's job model, scheduler, images, URLs, stats and server, protocol aside."""

from __future__ import annotations

import io
import socket
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image

from mjnb.errors import ConfigError
from mjnb.prompt import parse_prompt
from mjnb.simulator import RunningSimulator, SimConfig, create_app, serve
from mjnb.simulator.model import JobTable, QueueFull, RenderCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def table(**settings: Any) -> tuple[JobTable, Clock]:
    clock = Clock()
    return JobTable(SimConfig(**settings), clock), clock


def imagine(jobs: JobTable, text: str = "a fox") -> Any:
    prompt = parse_prompt(text)
    return jobs.submit(protocol="mjproxy", prompt=prompt, prompt_text=str(prompt))


# ---------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "settings",
    [
        {"latency": -1},
        {"concurrency": 0},
        {"queue_size": -1},
        {"fail_rate": 1.5},
        {"rate_limit": 0},
        {"url_ttl": 0},
        {"long_side": 8},
        {"progress_steps": 0},
        {"token": "  "},
    ],
)
def test_config_rejects_bad_values(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=next(iter(settings))):
        SimConfig(**settings)


def test_config_is_frozen() -> None:
    config = SimConfig()
    with pytest.raises(AttributeError):
        config.latency = 1  # type: ignore[misc]


# ---------------------------------------------------------------------------- scheduling


def test_concurrency_and_fifo_queue() -> None:
    jobs, clock = table(latency=10, concurrency=2, queue_size=2, progress_steps=4)
    a, b, c, d = (imagine(jobs, f"job {i}") for i in range(4))
    assert [j.started_at for j in (a, b, c, d)] == [1000, 1000, 1010, 1010]
    assert jobs.waiting(clock.now) == 2
    with pytest.raises(QueueFull):
        imagine(jobs)
    assert [j.state(clock.now).status for j in (a, c)] == ["running", "queued"]
    clock.now = 1002.5
    assert a.state(clock.now).progress == 25
    clock.now = 1010.0
    assert a.state(clock.now).status == "succeeded" and a.state(clock.now).progress == 100
    assert c.state(clock.now).status == "running" and c.state(clock.now).progress == 0
    assert jobs.waiting(clock.now) == 0
    e = imagine(jobs)  # the queue has room again
    assert e.started_at == 1020
    assert jobs.tally(clock.now) == {"succeeded": 2, "running": 2, "queued": 1}


def test_progress_steps_and_timeline() -> None:
    jobs, clock = table(latency=3, progress_steps=3)
    job = imagine(jobs)
    assert [(s.status, s.progress) for s in job.timeline] == [
        ("running", 0),
        ("running", 33),
        ("running", 66),
        ("succeeded", 100),
    ]
    assert job.next_change(clock.now) == 1001
    assert job.preview_progresses() == [33, 66]


def test_fail_rate_is_reproducible_and_frees_slots_early() -> None:
    jobs, _ = table(latency=10, fail_rate=1.0, concurrency=1, seed=5)
    first, second = imagine(jobs), imagine(jobs)
    assert first.final.status == "failed" and first.fail_reason
    assert first.finished_at < 1010 and second.started_at == first.finished_at
    again, _ = table(latency=10, fail_rate=1.0, concurrency=1, seed=5)
    assert imagine(again).timeline == first.timeline
    half, _ = table(latency=1, fail_rate=0.5, seed=1, queue_size=1000)
    outcomes = [imagine(half).final.status for _ in range(200)]
    assert 60 < outcomes.count("failed") < 140


def test_seed_choice_is_deterministic_per_run() -> None:
    one, _ = table()
    two, _ = table()
    assert imagine(one).seed == imagine(two).seed
    assert imagine(one, "a fox --seed 42").seed == 42
    assert len({imagine(one).seed for _ in range(5)}) == 5


def test_refused_job_fails_at_once_without_a_slot() -> None:
    jobs, clock = table(latency=10, concurrency=1, queue_size=0)
    refused = jobs.submit(protocol="acedata", prompt_text="a --foo", fail_reason="Bad.")
    assert refused.state(clock.now).status == "failed" and refused.started_at is None
    assert imagine(jobs).started_at == clock.now


def test_offered_actions_by_kind_version_and_shape() -> None:
    jobs, _ = table(latency=0)
    grid = imagine(jobs, "a fox --ar 3:2")
    assert grid.offered() == ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "reroll"]
    single = jobs.submit(protocol="mjproxy", action="U1", parent=grid)
    assert "square" in single.offered() and "upscale subtle" in single.offered()
    assert "U1" not in single.offered()
    square = jobs.submit(protocol="mjproxy", action="U1", parent=imagine(jobs, "x --ar 1:1"))
    assert "square" not in square.offered()
    old = jobs.submit(protocol="mjproxy", action="U2", parent=imagine(jobs, "x --v 5.2"))
    assert {"upscale 2x", "upscale 4x"} <= set(old.offered())
    assert "upscale subtle" not in old.offered()
    upscaled = jobs.submit(protocol="mjproxy", action="upscale subtle", parent=single)
    assert not any(label.startswith("upscale") for label in upscaled.offered())
    pan_grid = jobs.submit(protocol="mjproxy", action="pan up", parent=single)
    panned = jobs.submit(protocol="mjproxy", action="U1", parent=pan_grid)
    assert "pan left" not in panned.offered() and "pan down" in panned.offered()


# ---------------------------------------------------------------------------- images


def render_chain(config: SimConfig) -> list[bytes]:
    jobs = JobTable(config)
    grid = imagine(jobs, "a red fox in snow --ar 3:2 --seed 7 --s 250")
    up = jobs.submit(protocol="mjproxy", action="U2", parent=grid)
    out = []
    for job in (grid, up):
        out.append(job.image_bytes("image", "png"))
    for label in ("V2", "zoom 2x", "pan left", "square", "vary strong", "upscale creative"):
        parent = grid if label[0] == "V" else up
        out.append(
            jobs.submit(protocol="mjproxy", action=label, parent=parent).image_bytes("image", "png")
        )
    return out


def sizes(blobs: list[bytes]) -> list[tuple[int, int]]:
    result = []
    for blob in blobs:
        with Image.open(io.BytesIO(blob)) as img:
            result.append(img.size)
    return result


def test_images_are_deterministic_and_shaped() -> None:
    config = SimConfig(latency=0, long_side=128)
    first, second = render_chain(config), render_chain(config)
    assert first == second
    grid, up, v2, zoom, pan, square, vary, creative = sizes(first)
    assert grid[0] / grid[1] == pytest.approx(1.5, abs=0.02)
    assert up == grid and v2 == grid and zoom == grid and vary == grid
    assert pan[0] / pan[1] > grid[0] / grid[1]  # panning left widens the picture
    assert square[0] == square[1]
    assert creative == (2 * up[0], 2 * up[1])


def test_render_cache_evicts_and_rerenders_identically() -> None:
    jobs = JobTable(SimConfig(latency=0, long_side=128))
    jobs.cache = RenderCache(budget=60_000)  # room for about one 128 px grid
    grid = imagine(jobs, "a lighthouse --seed 4")
    first = grid.image_bytes("image", "png")
    others = [imagine(jobs, f"filler {i}").image_bytes("image", "png") for i in range(3)]
    assert grid.rendered is None and len(set(others)) == 3
    assert grid.image_bytes("image", "png") == first


@pytest.mark.anyio
async def test_same_prompt_and_seed_give_identical_bytes_across_apps() -> None:
    blobs = []
    for _ in range(2):
        app = create_app(SimConfig(latency=0.05, long_side=128))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://s"
        ) as c:
            await c.post("/mj/submit/imagine", json={"prompt": "noise --seed 1"})  # shifts counter
            task_id = (
                await c.post("/mj/submit/imagine", json={"prompt": "a blue cat --seed 11"})
            ).json()["result"]
            time.sleep(0.2)
            task = (await c.get(f"/mj/task/{task_id}/fetch")).json()
            blobs.append((await c.get(task["imageUrl"])).content)
    assert blobs[0] == blobs[1] and blobs[0].startswith(b"\x89PNG")


# ---------------------------------------------------------------------------- URLs and stats


@pytest.mark.parametrize("sim_config", [SimConfig(latency=0.1, long_side=128, url_ttl=0.5)])
def test_signed_urls_expire(sim: RunningSimulator) -> None:
    with httpx.Client(base_url=sim.url) as c:
        task_id = c.post("/mj/submit/imagine", json={"prompt": "a clock"}).json()["result"]
        time.sleep(0.25)
        url = c.get(f"/mj/task/{task_id}/fetch").json()["imageUrl"]
        query = parse_qs(urlsplit(url).query)
        assert set(query) == {"ex", "is", "hm"}
        assert c.get(url).status_code == 200
        tampered = url.replace("hm=", "hm=0")
        assert c.get(tampered).status_code == 403
        assert c.get(url.split("?")[0]).status_code == 403
        expires = int(query["ex"][0], 16)
        time.sleep(max(0.0, expires - time.time()) + 0.05)
        gone = c.get(url)
        assert gone.status_code == 403 and "no longer available" in gone.text


def test_image_route_edge_cases(sim: RunningSimulator) -> None:
    with httpx.Client(base_url=sim.url) as c:
        assert c.get("/_sim/images/123/image.png").status_code == 404
        task_id = c.post("/mj/submit/imagine", json={"prompt": "an owl"}).json()["result"]
        assert c.get(f"/_sim/images/{task_id}/image.png").status_code == 404  # not done yet
        time.sleep(0.4)
        assert c.get(f"/_sim/images/{task_id}/secret.png").status_code == 404
        assert c.get(f"/_sim/images/{task_id}/image.gif").status_code == 404
        webp = c.get(f"/_sim/images/{task_id}/image.webp")
        assert webp.headers["content-type"] == "image/webp" and webp.content[8:12] == b"WEBP"
        thumb = c.get(f"/_sim/images/{task_id}/thumb.png")
        with Image.open(io.BytesIO(thumb.content)) as img:
            assert img.size == (128, 128)


def test_stats_count_everything(sim: RunningSimulator) -> None:
    with httpx.Client(base_url=sim.url) as c:
        task_id = c.post("/mj/submit/imagine", json={"prompt": "a fox"}).json()["result"]
        c.post("/open/v1/midjourney/imagine", json={"prompt": "a fox"})
        c.post("/midjourney/imagine", json={"prompt": "a fox", "async": True})
        for _ in range(3):
            c.get(f"/mj/task/{task_id}/fetch")
        stats = sim.stats()
        assert stats["submits"] == 3 and stats["polls"] == 3
        assert stats["queued"] + stats["running"] + stats["succeeded"] == 3
        assert {p: stats["protocols"][p]["submits"] for p in stats["protocols"]} == {
            "acedata": 1,
            "metachat": 1,
            "mjproxy": 1,
        }
        assert stats["rejected_429"] == 0 and stats["failed"] == 0
        time.sleep(0.4)
        c.get(c.get(f"/mj/task/{task_id}/fetch").json()["imageUrl"])
        stats = sim.stats()
        assert stats["succeeded"] == 3 and stats["downloads"] == 1
        sim.reset()
        assert sim.stats()["submits"] == 0 and sim.stats()["jobs"] == 0
        assert c.get("/").json()["simulator"] == "mjnb"


@pytest.mark.parametrize("sim_config", [SimConfig(latency=0.1, long_side=128, rate_limit=1)])
def test_stats_and_images_are_never_rate_limited(sim: RunningSimulator) -> None:
    with httpx.Client(base_url=sim.url) as c:
        codes = [c.get("/mj/task/1/fetch").status_code for _ in range(4)]
        assert codes.count(429) == 3
        assert all(c.get("/_sim/stats").status_code == 200 for _ in range(5))
        time.sleep(1.05)
        assert c.get("/mj/task/1/fetch").status_code == 200  # the bucket refills


# ---------------------------------------------------------------------------- server


def test_serve_reports_a_taken_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match="another port"):
            serve(SimConfig(), port=port)


def test_running_simulator_lifecycle() -> None:
    sim = serve(SimConfig(latency=0.1))
    assert sim.running and repr(sim).endswith("running>")
    assert httpx.get(f"{sim.url}/_sim/stats").status_code == 200
    sim.stop()
    sim.stop()
    assert not sim.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sim.url}/_sim/stats", timeout=2)
