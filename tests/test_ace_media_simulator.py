"""The simulator's Ace video, vary region, edits and seed endpoints, at the wire level
(plain httpx over real loopback HTTP)."""

from __future__ import annotations

import base64
import io
import time
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from mjnb.simulator import video

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def client(sim: Any) -> Any:
    with httpx.Client(base_url=sim.url, timeout=30.0) as c:
        yield c


def post(client: httpx.Client, path: str, **body: Any) -> httpx.Response:
    return client.post(path, json=body)


def wait(client: httpx.Client, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        record = post(client, "/midjourney/tasks", action="retrieve", id=task_id).json()
        if record["state"] in ("finished", "failed"):
            return record
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} never finished")


def run(client: httpx.Client, path: str, **body: Any) -> dict[str, Any]:
    answer = post(client, path, **body, **{"async": True})
    assert answer.status_code == 200, answer.text
    record = wait(client, answer.json()["task_id"])
    assert record["state"] == "finished", record
    return record


def upscaled(client: httpx.Client, prompt: str = "a blue lake --seed 3") -> dict[str, Any]:
    grid = run(client, "/midjourney/imagine", prompt=prompt)["response"]
    return run(client, "/midjourney/imagine", action="upscale2", image_id=grid["image_id"])[
        "response"
    ]


def picture(client: httpx.Client, url: str) -> Image.Image:
    got = client.get(url)
    assert got.status_code == 200
    return Image.open(io.BytesIO(got.content)).convert("RGB")


def mask_b64(size: tuple[int, int], box: tuple[int, int, int, int]) -> str:
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    out = io.BytesIO()
    mask.save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def test_animate_then_extend_gives_downloadable_mp4s(client: httpx.Client) -> None:
    up = upscaled(client)
    body = {
        "action": "generate",
        "image_url": up["image_url"],
        "prompt": "waves roll in --motion high --bs 2",
        "resolution": "480p",
        "mode": "fast",
    }
    record = run(client, "/midjourney/videos", **body)
    assert record["type"] == "videos"
    assert record["request"] == {**body, "async": True}  # the wire form, as received
    done = record["response"]
    assert done["progress"] == 100 and done["success"] is True
    assert len(done["video_urls"]) == 2 and done["video_id"]
    cover = picture(client, done["image_url"])
    assert (cover.width, cover.height) == (done["image_width"], done["image_height"])
    clips = []
    for url in done["video_urls"]:
        got = client.get(url)
        assert got.status_code == 200 and got.headers["content-type"] == "video/mp4"
        frames, fps = video.decode(got.content)
        assert fps == 12 and max(frames[0].size) <= 256
        assert 4.5 <= len(frames) / fps <= 5.5  # about 5 s, as on the real service
        clips.append(got.content)
    assert clips[0] != clips[1]  # a batch of different clips
    extended = run(
        client,
        "/midjourney/videos",
        action="extend",
        video_id=done["video_id"],
        video_index=1,
        prompt="--motion low",
    )["response"]
    assert len(extended["video_urls"]) == 4  # no --bs: Midjourney's batch of four
    longer = client.get(extended["video_urls"][0]).content
    frames, fps = video.decode(longer)
    first, _ = video.decode(clips[1])
    assert len(frames) > len(first)  # it continues clip index 1 (0-based)
    other, _ = video.decode(clips[0])

    def diff(x: Image.Image, y: Image.Image) -> float:
        return float(np.abs(np.asarray(x, int) - np.asarray(y, int)).mean())

    # re-encoded, so only nearly equal: the extension starts as clip 1, not as clip 0
    assert diff(frames[len(first) - 1], first[-1]) < 3
    assert diff(frames[len(first) - 1], first[-1]) < diff(frames[len(first) - 1], other[-1])


def test_running_videos_are_not_done_and_bad_requests_are_refused(client: httpx.Client) -> None:
    up = upscaled(client)
    answer = post(
        client,
        "/midjourney/videos",
        action="generate",
        image_url=up["image_url"],
        prompt="x",
        **{"async": True},
    ).json()
    early = post(client, "/midjourney/tasks", action="retrieve", id=answer["task_id"]).json()
    assert "video_urls" not in early["response"]
    for bad in (
        {"action": "generate", "image_url": up["image_url"], "prompt": "x", "mode": "relax"},
        {"action": "generate", "image_url": up["image_url"], "prompt": "x --motion fast"},
        {"action": "generate", "image_url": up["image_url"], "prompt": "x --bs 3"},
        {"action": "generate", "prompt": "x"},
        {"action": "extend", "video_id": "nope", "prompt": "x"},
        {"action": "dance", "prompt": "x"},
    ):
        refused = post(client, "/midjourney/videos", **bad)
        assert refused.status_code == 400, bad
        assert refused.json()["success"] is False
        assert refused.json()["error"]["code"] == "bad_request"
    wait(client, answer["task_id"])
    record = post(client, "/midjourney/tasks", action="retrieve", id=answer["task_id"]).json()
    video_id = record["response"]["video_id"]
    out_of_range = post(
        client, "/midjourney/videos", action="extend", video_id=video_id, video_index=4, prompt="x"
    )
    assert out_of_range.status_code == 400 and "0-based" in out_of_range.json()["error"]["message"]


def test_vary_region_changes_only_the_box(client: httpx.Client) -> None:
    up = upscaled(client)
    parent = picture(client, up["image_url"])
    box = (20, 30, 90, 100)
    record = run(
        client,
        "/midjourney/imagine",
        action="variation_region",
        image_id=up["image_id"],
        mask=mask_b64(parent.size, box),
        prompt="red roses",
    )
    assert record["request"]["action"] == "variation_region"
    done = record["response"]
    assert done["actions"][:4] == ["upscale1", "upscale2", "upscale3", "upscale4"]
    grid = np.asarray(picture(client, done["image_url"]))
    w, h = parent.size
    assert grid.shape[:2] == (2 * h, 2 * w)
    before = np.asarray(parent)
    inside = np.zeros((h, w), bool)
    inside[box[1] : box[3], box[0] : box[2]] = True
    for i in range(4):
        tile = grid[(i // 2) * h : (i // 2 + 1) * h, (i % 2) * w : (i % 2 + 1) * w]
        assert np.array_equal(tile[~inside], before[~inside])
        assert np.abs(tile[inside].astype(int) - before[inside].astype(int)).mean() > 10


def test_vary_region_refuses_a_wrong_mask(client: httpx.Client) -> None:
    up = upscaled(client)
    wrong = post(
        client,
        "/midjourney/imagine",
        action="variation_region",
        image_id=up["image_id"],
        mask=mask_b64((10, 10), (0, 0, 5, 5)),
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "bad_request"
    assert "same size" in wrong.json()["error"]["message"]
    garbage = post(
        client,
        "/midjourney/imagine",
        action="variation_region",
        image_id=up["image_id"],
        mask="not base64!",
    )
    assert garbage.status_code == 400
    grid = run(client, "/midjourney/imagine", prompt="a grid")["response"]
    on_grid = post(
        client,
        "/midjourney/imagine",
        action="variation_region",
        image_id=grid["image_id"],
        mask=mask_b64((4, 4), (0, 0, 2, 2)),
    )
    assert on_grid.status_code == 400


def test_edits_keep_the_composition_and_answer_like_imagine(client: httpx.Client) -> None:
    up = upscaled(client)
    source = picture(client, up["image_url"])
    record = run(
        client,
        "/midjourney/edits",
        action="generate",
        image_url=up["image_url"],
        prompt="red and orange",
        split_images=True,
    )
    done = record["response"]
    assert done["actions"][:4] == ["upscale1", "upscale2", "upscale3", "upscale4"]
    assert len(done["sub_image_urls"]) == 4
    tile = picture(client, done["sub_image_urls"][0]).resize(source.size)
    a = np.asarray(tile.convert("L"), float).ravel()
    b = np.asarray(source.convert("L"), float).ravel()
    assert np.corrcoef(a, b)[0, 1] > 0.4
    red = np.asarray(tile, float).mean(axis=(0, 1))
    assert red[0] > red[2]
    masked = run(
        client,
        "/midjourney/edits",
        image_url=up["image_url"],
        prompt="gold",
        mask=mask_b64(source.size, (0, 0, 40, 40)),
    )
    assert masked["request"]["mask"]


def test_seed_is_a_string(client: httpx.Client) -> None:
    grid = run(client, "/midjourney/imagine", prompt="seeded --seed 1234")["response"]
    assert post(client, "/midjourney/seed", image_id=grid["image_id"]).json() == {"seed": "1234"}
