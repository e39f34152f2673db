"""Both sides of the Ace protocol agree: the adapter's requests, sent with plain httpx to
the simulator over loopback, and its readings of the answers (polled and streamed)."""

from __future__ import annotations

import base64
import io
import time
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from mjnb.providers.acedata import AceDataAdapter
from mjnb.providers.base import Job, Snapshot
from mjnb.simulator import video


@pytest.fixture
def ace(sim: Any) -> Any:
    with httpx.Client(timeout=30.0) as http:
        yield AceDataAdapter(base_url=sim.url), http


def finish(adapter: AceDataAdapter, http: httpx.Client, job: Job) -> Snapshot:
    snapshot = adapter.parse_submit(job, http.send(adapter.submit(job)))
    deadline = time.monotonic() + 15
    while not snapshot.done:
        assert time.monotonic() < deadline, snapshot
        time.sleep(0.05)
        snapshot = adapter.parse_poll(snapshot, http.send(adapter.poll(snapshot)))
    assert snapshot.status == "succeeded", snapshot.error
    return snapshot


def streamed(adapter: AceDataAdapter, http: httpx.Client, job: Job) -> list[Snapshot]:
    request = adapter.stream(job)
    assert request is not None
    seen = []
    with http.stream(
        request.method, request.url, headers=request.headers, content=request.content
    ) as answer:
        for line in answer.iter_lines():
            snapshot = adapter.parse_line(job, line.encode())
            if snapshot is not None:
                seen.append(snapshot)
    return seen


def image(http: httpx.Client, url: str) -> Image.Image:
    return Image.open(io.BytesIO(http.get(url).content)).convert("RGB")


def test_imagine_upscale_animate_extend(ace: Any) -> None:
    adapter, http = ace
    grid = finish(adapter, http, Job("imagine", prompt="a quiet harbour --seed 5"))
    up = finish(adapter, http, Job("action", label="U2", parent=grid))
    assert {"animate low", "animate high", "vary region"} <= set(up.actions)
    clip = finish(
        adapter,
        http,
        Job("action", prompt="boats drift", label="animate high", parent=up, batch=2),
    )
    assert len(clip.video_urls) == 2 and clip.image_url
    assert clip.actions == ["extend low", "extend high"]
    first = http.send(adapter.download(clip.video_urls[1])).content
    longer = finish(
        adapter, http, Job("action", prompt="", label="extend low", parent=clip, index=2)
    )
    assert longer.extra["extensions"] == 1
    frames, fps = video.decode(http.send(adapter.download(longer.video_urls[0])).content)
    base, _ = video.decode(first)
    assert len(frames) > len(base) and fps == 12
    seeded = adapter.parse_seed(grid, http.send(adapter.seed(grid)))
    assert seeded == 5


def test_a_streamed_video_is_final_only_with_its_clips(ace: Any) -> None:
    adapter, http = ace
    grid = finish(adapter, http, Job("imagine", prompt="snowy pines"))
    up = finish(adapter, http, Job("action", label="U1", parent=grid))
    job = Job("action", prompt="snow falls", label="animate low", parent=up)
    seen = streamed(adapter, http, job)
    assert seen and seen[-1].done and len(seen[-1].video_urls) == 1
    assert not any(s.done for s in seen[:-1])


def test_vary_region_with_a_box_mask_changes_only_the_box(ace: Any) -> None:
    adapter, http = ace
    grid = finish(adapter, http, Job("imagine", prompt="green hills --seed 9"))
    up = finish(adapter, http, Job("action", label="U3", parent=grid))
    parent = image(http, up.image_url or "")
    mask = Image.new("L", parent.size, 0)
    box = (10, 10, 60, 70)
    mask.paste(255, box)
    out = io.BytesIO()
    mask.save(out, "PNG")
    job = Job(
        "action",
        prompt="purple crystals",
        label="vary region",
        parent=up,
        mask=base64.b64encode(out.getvalue()).decode(),
        remix=True,
    )
    varied = finish(adapter, http, job)
    assert varied.actions[:4] == ["U1", "U2", "U3", "U4"]
    result = np.asarray(image(http, varied.image_url or ""))
    w, h = parent.size
    tile = result[:h, :w]
    inside = np.zeros((h, w), bool)
    inside[box[1] : box[3], box[0] : box[2]] = True
    assert np.array_equal(tile[~inside], np.asarray(parent)[~inside])
    assert not np.array_equal(tile[inside], np.asarray(parent)[inside])


def test_edit_of_an_image(ace: Any) -> None:
    adapter, http = ace
    grid = finish(adapter, http, Job("imagine", prompt="a red barn"))
    up = finish(adapter, http, Job("action", label="U1", parent=grid))
    edited = finish(adapter, http, Job("edit", prompt="at night, blue", images=(up.image_url,)))
    assert edited.actions[:4] == ["U1", "U2", "U3", "U4"]
    tile = finish(adapter, http, Job("action", label="U1", parent=edited))
    assert tile.image_url and image(http, tile.image_url).size
