"""The Youchuan adapter's video and editor mapping, and MetaChat's refusals: no server.

Shapes follow Youchuan's API reference (video-diffusion by ``jobId`` + 0-based
``imageNo`` or a ``prompt`` with the image URL; extend-video ``videoNo`` at most 4 times,
405 past it; video-upscale; inpaint ``mask.areas``; remix; upload-paint; retexture).
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw

from mjnb.errors import ProviderError, Rejected
from mjnb.providers.base import Job, Snapshot, resolve_locally
from mjnb.providers.metachat import MetaChatAdapter
from mjnb.providers.youchuan import YouchuanAdapter
from mjnb.providers.youchuan_media import mask_areas, plain_text

BASE = "https://ali.youchuan.cn"
JOB = "1573856827710373889"
PROMPT = "a red fox in snow --ar 3:2"
URLS = [f"https://cdn.youchuan.cn/{JOB}/{n}.png" for n in range(4)]
CLIPS = [f"https://cdn.youchuan.cn/{JOB}/{n}.mp4" for n in range(4)]
START = "https://example.com/start.png"


def yc() -> YouchuanAdapter:
    return YouchuanAdapter(app_id="app-1", token="secret-1")


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def answer(request: httpx.Request, status: int = 200, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, request=request, **kwargs)


def submitted(job: Job, job_id: str = JOB) -> tuple[httpx.Request, Snapshot]:
    adapter = yc()
    request = adapter.submit(job)
    return request, adapter.parse_submit(job, answer(request, json={"id": job_id, "status": 0}))


def done(snapshot: Snapshot, urls: list[str], audits: list[str] | None = None) -> Snapshot:
    adapter = yc()
    data = {"id": snapshot.remote_id, "status": 2, "comment": "JobStatusSuccess", "urls": urls}
    data["audits"] = audits or []
    return adapter.parse_poll(snapshot, answer(adapter.poll(snapshot), json=data))


def grid(audits: list[str] | None = None) -> Snapshot:
    return done(submitted(Job("imagine", prompt=PROMPT))[1], URLS, audits)


def clip_job(batch: int = 2) -> Snapshot:
    job = Job("action", label="animate high", parent=grid(), index=1, batch=batch)
    return done(submitted(job, "900")[1], CLIPS[:batch])


def mask_png(size: tuple[int, int], box: tuple[int, int, int, int]) -> str:
    image = Image.new("L", size, 0)
    ImageDraw.Draw(image).rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=255)
    out = io.BytesIO()
    image.save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def empty_mask() -> str:
    out = io.BytesIO()
    Image.new("L", (8, 8), 0).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


# -- capabilities ---------------------------------------------------------------------


def test_youchuan_features_and_limits() -> None:
    adapter = yc()
    assert adapter.features == {
        "video", "extend", "upscale video", "vary region", "remix", "zoom custom",
        "edit", "retexture",
    }  # fmt: skip
    assert adapter.local_images == "refuse"  # no documented upload endpoint
    assert adapter.max_extensions == 4
    assert "upload" in adapter.refusals and "seed" in adapter.refusals  # type: ignore[attr-defined]


def test_metachat_has_no_video_and_no_editor() -> None:
    adapter = MetaChatAdapter(app_id="a", token="t")
    assert adapter.features == frozenset()
    assert adapter.local_images == "refuse"
    reasons = adapter.refusals  # type: ignore[attr-defined]
    for feature in ("video", "extend", "upscale video"):
        assert "unverified" in reasons[feature] and "\n" not in reasons[feature]
    for feature in ("vary region", "remix", "zoom custom", "edit", "retexture"):
        assert "no inpaint" in reasons[feature]


# -- video ----------------------------------------------------------------------------


def test_a_grid_offers_animate_and_sends_the_image_no_directly() -> None:
    # image 1 (0-based) withheld: the grid shows 0, 2, 3 and U/V/animate number those
    parent = grid(audits=["", "blocked", "", ""])
    assert "animate low" in parent.actions and "animate high" in parent.actions
    job = Job("action", label="animate high", parent=parent, index=2, prompt="waves")
    request, snapshot = submitted(job, "900")
    assert str(request.url) == f"{BASE}/v1/tob/video-diffusion"
    assert body(request) == {
        "jobId": JOB, "imageNo": 2, "prompt": "waves --motion high --bs 1",
    }  # fmt: skip
    assert snapshot.extra["kind"] == "video" and snapshot.extra["extensions"] == 0
    with pytest.raises(Rejected, match="index="):
        yc().submit(Job("action", label="animate low", parent=parent))
    with pytest.raises(Rejected, match="1-3"):
        yc().submit(Job("action", label="animate low", parent=parent, index=4))


def test_a_selected_image_animates_with_its_own_image_no() -> None:
    chosen = resolve_locally(yc(), Job("action", label="U3", parent=grid()))
    assert chosen is not None and "animate low" in chosen.actions
    job = Job("action", label="animate low", parent=chosen, loop=True, batch=4, raw=True)
    request = yc().submit(job)
    assert body(request) == {
        "jobId": JOB, "imageNo": 2, "prompt": "--motion low --loop --bs 4 --raw",
    }  # fmt: skip


def test_animate_an_image_url_puts_it_first_in_the_prompt() -> None:
    job = Job(
        "video", prompt="waves roll in", images=(START,), motion="low", batch=2,
        end="https://example.com/end.png", resolution="720p",
    )  # fmt: skip
    request = yc().submit(job)
    assert str(request.url) == f"{BASE}/v1/tob/video-diffusion"
    assert body(request) == {
        "prompt": f"{START} waves roll in --motion low --end https://example.com/end.png --bs 2",
        "videoType": 1,
    }
    local = Job("video", prompt="x", images=("data:image/png;base64,AAAA",), motion="low")
    with pytest.raises(Rejected, match="public URL"):
        yc().submit(local)
    with pytest.raises(Rejected, match="480p or 720p"):
        yc().submit(Job("video", images=(START,), motion="low", resolution="1080p"))


def test_a_video_job_reads_its_clips() -> None:
    clips = clip_job(batch=2)
    assert clips.status == "succeeded" and clips.video_urls == tuple(CLIPS[:2])
    assert clips.image_url is None and clips.image_urls == ()
    assert clips.actions == ["extend low", "extend high", "upscale video"]
    adapter = yc()
    running = submitted(Job("action", label="animate low", parent=grid(), index=1), "901")[1]
    poll = adapter.poll(running)
    early = adapter.parse_poll(running, answer(poll, json={"id": "901", "status": 2, "urls": []}))
    assert early.status == "running"  # success before the urls: keep polling
    for bad in ({"urls": "x.mp4"}, {"urls": [1, 2]}, {"urls": CLIPS + CLIPS[:1]}):
        with pytest.raises(ProviderError):
            adapter.parse_poll(running, answer(poll, json={"id": "901", "status": 2} | bad))
    other = adapter.parse_poll(
        running, answer(poll, json={"id": "901", "status": 2, "videoUrls": CLIPS[:1]})
    )
    assert other.video_urls == (CLIPS[0],)


def test_extend_four_times_then_refused_before_sending() -> None:
    clip = clip_job(batch=2)
    for n in range(1, 5):
        job = Job("action", label="extend low", parent=clip, index=2 if n == 1 else 1)
        request, snapshot = submitted(job, f"91{n}")
        sent = body(request)
        assert str(request.url) == f"{BASE}/v1/tob/extend-video"
        assert sent["videoNo"] == (1 if n == 1 else 0) and sent["jobId"] == clip.remote_id
        assert sent["prompt"] == "--motion low"  # required; the start image is not repeated
        assert snapshot.extra["extensions"] == n
        clip = done(snapshot, CLIPS[:1])
    assert "extend low" not in clip.actions and "upscale video" in clip.actions
    with pytest.raises(Rejected, match="at most 4 times"):
        yc().submit(Job("action", label="extend high", parent=clip))


def test_a_405_on_extend_says_the_limit() -> None:
    clip = clip_job()
    job = Job("action", label="extend high", parent=clip, prompt="more waves")
    adapter = yc()
    request = adapter.submit(job)
    assert body(request)["prompt"] == "more waves --motion high"
    refusal = {"code": 405, "message": "视频最多可扩展4次", "reason": "Not_Support"}
    with pytest.raises(Rejected, match="at most 4 times") as caught:
        adapter.parse_submit(job, answer(request, 405, json=refusal))
    assert caught.value.status == 405 and caught.value.code == "Not_Support"


def test_upscale_video_sends_the_video_no() -> None:
    clip = clip_job(batch=2)
    job = Job("action", label="upscale video", parent=clip, index=2)
    request, snapshot = submitted(job, "920")
    assert str(request.url) == f"{BASE}/v1/tob/video-upscale"
    assert body(request) == {"jobId": "900", "videoNo": 1}
    up = done(snapshot, CLIPS[:1])
    assert up.actions == ["extend low", "extend high"]  # 1080p: no second upscale
    with pytest.raises(Rejected, match="1-2"):
        yc().submit(Job("action", label="upscale video", parent=clip, index=3))


def test_plain_text_drops_the_start_image_and_video_parameters() -> None:
    assert plain_text(f"{START} waves roll --motion high --bs 2 --loop --raw") == "waves roll"


# -- the editor -----------------------------------------------------------------------


def test_vary_region_sends_the_box_as_an_area() -> None:
    chosen = resolve_locally(yc(), Job("action", label="U2", parent=grid()))
    assert chosen is not None and "vary region" in chosen.actions
    mask = mask_png((200, 100), (20, 10, 120, 60))
    job = Job("action", label="vary region", parent=chosen, mask=mask, prompt="a moon")
    request = yc().submit(job)
    assert str(request.url) == f"{BASE}/v1/tob/inpaint"
    area = {"width": 200, "height": 100, "points": [20, 10, 20, 60, 120, 60, 120, 10]}
    assert body(request) == {
        "jobId": JOB, "imageNo": 1, "mask": {"areas": [area]}, "remixPrompt": "a moon",
    }  # fmt: skip
    same = Job("action", label="vary region", parent=chosen, mask=mask, prompt=PROMPT)
    assert "remixPrompt" not in body(yc().submit(same))  # the parent's prompt: no remix


def test_a_ragged_mask_becomes_rectangles_inside_it() -> None:
    image = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(image).ellipse((8, 8, 55, 55), fill=255)
    out = io.BytesIO()
    image.save(out, "PNG")
    areas = mask_areas(base64.b64encode(out.getvalue()).decode())
    assert 1 < len(areas) <= 64
    for area in areas:
        xs, ys = area["points"][0::2], area["points"][1::2]
        assert min(xs) >= 4 and max(xs) <= 60 and min(ys) >= 4 and max(ys) <= 60
    with pytest.raises(Rejected, match="empty"):
        mask_areas(empty_mask())


def test_vary_region_is_not_offered_on_v81() -> None:
    parent = done(submitted(Job("imagine", prompt="a fox --v 8.1"))[1], URLS)
    chosen = resolve_locally(yc(), Job("action", label="U1", parent=parent))
    assert chosen is not None
    assert "vary region" not in chosen.actions and "animate high" in chosen.actions


def test_custom_zoom_and_remix() -> None:
    chosen = resolve_locally(yc(), Job("action", label="U1", parent=grid()))
    assert chosen is not None
    zoom = Job("action", label="zoom custom", parent=chosen, zoom=1.3, prompt="a wide field")
    assert body(yc().submit(zoom)) == {
        "jobId": JOB, "imageNo": 0, "scale": 1.3, "remixPrompt": "a wide field",
    }  # fmt: skip
    with pytest.raises(Rejected, match=r"1\.0-2\.0"):
        yc().submit(Job("action", label="zoom custom", parent=chosen, zoom=2.5))
    remix = Job("action", label="vary strong", parent=chosen, prompt=PROMPT, remix=True)
    request = yc().submit(remix)
    assert str(request.url) == f"{BASE}/v1/tob/remix"
    assert body(request) == {"jobId": JOB, "imageNo": 0, "remixPrompt": PROMPT, "mode": 0}


def test_edit_your_own_image_is_upload_paint() -> None:
    mask = mask_png((100, 80), (0, 0, 50, 40))
    job = Job("edit", prompt="a red hat", images=(START,), mask=mask)
    request, snapshot = submitted(job)
    assert str(request.url) == f"{BASE}/v1/tob/upload-paint"
    area = {"width": 100, "height": 80, "points": [0, 0, 0, 40, 50, 40, 50, 0]}
    assert body(request) == {
        "imgUrl": START,
        "mask": {"areas": [area]},
        "canvas": {"width": 100, "height": 80},
        "imgPos": {"width": 100, "height": 80, "x": 0, "y": 0},
        "remixPrompt": "a red hat",
    }
    result = done(snapshot, URLS)
    assert result.actions == ["U1", "U2", "U3", "U4"]  # such jobs allow upscale alone
    chosen = resolve_locally(yc(), Job("action", label="U1", parent=result))
    assert chosen is not None and chosen.actions == ["upscale subtle", "upscale creative"]
    with pytest.raises(Rejected, match="needs a mask"):
        yc().submit(Job("edit", prompt="x", images=(START,)))
    with pytest.raises(Rejected, match="public URL"):
        yc().submit(Job("edit", prompt="x", images=("data:image/png;base64,AA",), mask=mask))


def test_retexture() -> None:
    request, snapshot = submitted(Job("retexture", prompt="stained glass", images=(START,)))
    assert str(request.url) == f"{BASE}/v1/tob/retexture"
    assert body(request) == {"imgUrl": START, "remixPrompt": "stained glass"}
    assert snapshot.extra["only_upscale"] is True
    with pytest.raises(Rejected, match="needs a prompt"):
        yc().submit(Job("retexture", images=(START,)))
