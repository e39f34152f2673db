"""The simulator's Youchuan video and editor endpoints, over real loopback HTTP.

Written from Youchuan's API reference (图生视频 / 视频延长 / 视频高清, 区域重绘 / 重塑 /
编辑 / 高级编辑 / 转绘), not from the adapter: 0-based ``imageNo`` and ``videoNo``, at most 4
extensions (405), inpaint ``mask.areas``, upload-paint/retexture jobs allow only upscale.
"""

from __future__ import annotations

import io
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import av
import httpx
import numpy as np
import pytest
from PIL import Image

from mjnb.simulator import RunningSimulator
from tests.conftest import CANARY

FAST = {"latency": 0.2, "long_side": 256, "progress_steps": 2, "token": CANARY}
HEADERS = {"x-youchuan-app": "app-1", "x-youchuan-secret": CANARY}


@pytest.fixture
def client(make_sim: Callable[..., RunningSimulator]) -> Iterator[httpx.Client]:
    sim = make_sim(**FAST)
    with httpx.Client(base_url=sim.url, headers=HEADERS, timeout=30.0) as c:
        yield c


def post(client: httpx.Client, path: str, body: dict[str, Any], status: int = 200) -> Any:
    response = client.post(f"/v1/tob/{path}", json=body)
    assert response.status_code == status, response.text
    return response.json()


def finished(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    job = post(client, path, body)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answer = client.get(f"/v1/tob/job/{job['id']}").json()
        if answer["urls"] or answer["status"] in (3, 4):
            assert answer["status"] == 2, answer
            return dict(answer)
        time.sleep(0.02)
    raise AssertionError(f"job {job['id']} did not finish")


def picture(client: httpx.Client, url: str) -> np.ndarray:
    response = client.get(url)
    assert response.status_code == 200, url
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB")).astype(int)


def clip(client: httpx.Client, url: str) -> tuple[bytes, int, tuple[int, int]]:
    """The MP4 at ``url``: its bytes, frame count and size (checked to be H.264)."""
    response = client.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(response.content)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = list(container.decode(stream))
    return response.content, len(frames), (frames[0].width, frames[0].height)


def grid(client: httpx.Client, prompt: str = "a red fox in snow --seed 7") -> dict[str, Any]:
    return finished(client, "diffusion", {"text": prompt})


def test_video_diffusion_from_an_image_no_makes_mp4s(client: httpx.Client) -> None:
    parent = grid(client)
    job = finished(
        client,
        "video-diffusion",
        {"jobId": parent["id"], "imageNo": 2, "prompt": "waves --motion high --bs 2"},
    )
    assert len(job["urls"]) == 2 and job["parentId"] == parent["id"]
    first, count, size = clip(client, job["urls"][0])
    second, _, _ = clip(client, job["urls"][1])
    assert first[4:8] == b"ftyp" and first != second  # two different clips
    assert count > 30 and max(size) <= 256
    # the clip starts on image 2 (0-based): the third tile
    tile = picture(client, parent["urls"][2])
    with av.open(io.BytesIO(first)) as container:
        frame0 = next(container.decode(video=0)).to_image().convert("RGB")
    start = np.asarray(frame0.resize((tile.shape[1], tile.shape[0]))).astype(int)
    others = [picture(client, parent["urls"][n]) for n in (0, 1, 3)]
    own = np.abs(start - tile).mean()
    assert all(own < np.abs(start - o).mean() for o in others)


def test_video_diffusion_from_an_image_url_and_its_errors(client: httpx.Client) -> None:
    parent = grid(client)
    url = parent["urls"][0]
    job = finished(client, "video-diffusion", {"prompt": f"{url} a calm sea --bs 1"})
    assert len(job["urls"]) == 1
    assert clip(client, job["urls"][0])[1] > 30
    bad = post(client, "video-diffusion", {"prompt": "no image here"}, 400)
    assert bad["reason"] == "Invalid_Prompt_Parameter"
    bad = post(client, "video-diffusion", {"prompt": f"{url} x --bs 3"}, 400)
    assert bad["code"] == 400
    bad = post(client, "video-diffusion", {"jobId": parent["id"], "imageNo": 4}, 400)
    assert "counted from 0" in bad["message"]
    bad = post(client, "video-diffusion", {"prompt": f"{url} x", "videoType": 5}, 400)
    assert bad["reason"] == "Invalid_Argument"


def test_extend_four_times_then_the_fifth_is_refused(client: httpx.Client) -> None:
    parent = grid(client)
    job = finished(
        client, "video-diffusion", {"jobId": parent["id"], "imageNo": 0, "prompt": "--bs 1"}
    )
    _, frames, _ = clip(client, job["urls"][0])
    lengths = [frames]
    for _ in range(4):
        job = finished(
            client, "extend-video", {"jobId": job["id"], "videoNo": 0, "prompt": "on --motion low"}
        )
        assert len(job["urls"]) == 1
        lengths.append(clip(client, job["urls"][0])[1])
    assert all(b > a for a, b in itertools.pairwise(lengths))  # each one longer
    fifth = post(client, "extend-video", {"jobId": job["id"], "videoNo": 0, "prompt": "more"}, 405)
    assert fifth["reason"] == "Not_Support" and "4" in fifth["message"]
    missing = post(client, "extend-video", {"jobId": job["id"], "videoNo": 0}, 400)
    assert missing["code"] == 400  # prompt is required


def test_video_upscale_makes_a_bigger_clip_once(client: httpx.Client) -> None:
    parent = grid(client)
    job = finished(
        client, "video-diffusion", {"jobId": parent["id"], "imageNo": 1, "prompt": "--bs 2"}
    )
    _, frames, size = clip(client, job["urls"][1])
    up = finished(client, "video-upscale", {"jobId": job["id"], "videoNo": 1})
    _, up_frames, up_size = clip(client, up["urls"][0])
    assert up_frames == frames and up_size[0] > size[0] * 2
    again = post(client, "video-upscale", {"jobId": up["id"], "videoNo": 0}, 403)
    assert again["reason"] == "Upscale_Not_Support"
    bad = post(client, "video-upscale", {"jobId": job["id"], "videoNo": 2}, 400)
    assert bad["code"] == 400  # a batch of 2 has videoNo 0 and 1


def test_inpaint_changes_only_the_area(client: httpx.Client) -> None:
    parent = grid(client)
    tile = picture(client, parent["urls"][1])
    h, w = tile.shape[:2]
    x0, y0, x1, y1 = w // 4, h // 4, w // 2, h // 2
    mask = {"areas": [{"width": w, "height": h, "points": [x0, y0, x0, y1, x1, y1, x1, y0]}]}
    job = finished(
        client,
        "inpaint",
        {"jobId": parent["id"], "imageNo": 1, "mask": mask, "remixPrompt": "a blue moon"},
    )
    assert len(job["urls"]) == 4
    for url in job["urls"]:
        out = picture(client, url)
        assert out.shape == tile.shape
        changed = np.abs(out - tile).sum(axis=2) > 0
        assert changed[y0:y1, x0:x1].mean() > 0.5  # the box is repainted
        changed[y0:y1, x0:x1] = False
        assert not changed.any()  # nothing outside it moved
    empty = {"areas": [{"width": w, "height": h, "points": [0, 0, 0, 0, 0, 0]}]}
    bad = post(client, "inpaint", {"jobId": parent["id"], "imageNo": 1, "mask": empty}, 400)
    assert bad["reason"] == "Invalid_Argument"


def test_inpaint_is_refused_on_v81(client: httpx.Client) -> None:
    parent = grid(client, "a fox --v 8.1")
    mask = {"areas": [{"width": 1, "height": 1, "points": [0, 0, 0, 1, 1, 1]}]}
    bad = post(client, "inpaint", {"jobId": parent["id"], "imageNo": 0, "mask": mask}, 405)
    assert bad["reason"] == "Not_Support"


def test_remix_follows_the_new_prompt(client: httpx.Client) -> None:
    parent = grid(client, "a red fox in snow --seed 3")
    job = finished(
        client, "remix", {"jobId": parent["id"], "imageNo": 0, "remixPrompt": "a green fox"}
    )
    assert len(job["urls"]) == 4
    out = picture(client, job["urls"][0])
    assert out[..., 1].mean() > picture(client, parent["urls"][0])[..., 1].mean()


def test_edit_and_retexture_keep_the_layout(client: httpx.Client) -> None:
    parent = grid(client)
    tile = picture(client, parent["urls"][0])
    h, w = tile.shape[:2]
    body = {
        "jobId": parent["id"],
        "imageNo": 0,
        "canvas": {"width": w, "height": h},
        "imgPos": {"width": w, "height": h, "x": 0, "y": 0},
        "remixPrompt": "a purple watercolour",
    }
    edited = finished(client, "edit", body)
    assert len(edited["urls"]) == 4
    out = picture(client, edited["urls"][0])
    assert out.shape[0] / out.shape[1] == pytest.approx(h / w, abs=0.05)
    url = parent["urls"][0]
    re = finished(client, "retexture", {"imgUrl": url, "remixPrompt": "stained glass"})
    assert len(re["urls"]) == 4
    # retexture and upload-paint jobs allow only upscale
    no = post(client, "variation", {"jobId": re["id"], "imageNo": 0, "type": 0}, 405)
    assert no["reason"] == "Not_Support"
    up = finished(client, "upscale", {"jobId": re["id"], "imageNo": 0, "type": 0})
    assert len(up["urls"]) == 1
    mask = {"areas": [{"width": 2, "height": 2, "points": [0, 0, 0, 1, 1, 1, 1, 0]}]}
    paint = {**body, "imgUrl": url, "mask": mask}
    del paint["jobId"], paint["imageNo"]
    painted = finished(client, "upload-paint", paint)
    assert len(painted["urls"]) == 4
    del paint["mask"]
    assert post(client, "upload-paint", paint, 400)["reason"] == "Invalid_Argument"
    data_url = {"imgUrl": "data:image/png;base64,AA", "remixPrompt": "x"}
    local = post(client, "retexture", data_url, 400)
    assert local["reason"] == "Invalid_Argument"


def test_the_same_inputs_make_the_same_clip(client: httpx.Client) -> None:
    parent = grid(client)
    body = {"jobId": parent["id"], "imageNo": 3, "prompt": "waves --motion low --bs 1"}
    one, two = finished(client, "video-diffusion", body), finished(client, "video-diffusion", body)
    assert one["id"] != two["id"]
    assert clip(client, one["urls"][0])[0] == clip(client, two["urls"][0])[0]
    other = finished(client, "video-diffusion", body | {"prompt": "waves --motion high --bs 1"})
    assert clip(client, other["urls"][0])[0] != clip(client, one["urls"][0])[0]
