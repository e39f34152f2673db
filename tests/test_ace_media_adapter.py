"""The Ace adapter's video, vary region, edits and seed: request bodies per Job, and
answers (hostile ones too) read into Snapshots."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from mjnb.errors import AuthError, ProviderError, RateLimited, Rejected
from mjnb.providers.acedata import AceDataAdapter
from mjnb.providers.base import Job, Snapshot

ADAPTER = AceDataAdapter(token="tok")
START = "https://cdn.test/start.png"
_UPSCALED_LINE = {
    "success": True,
    "task_id": "t-up",
    "image_id": "img-up",
    "image_url": START,
    "progress": 100,
    "actions": ["variation_subtle"],
}
#: an upscaled image as the adapter itself reads Ace's answer
UPSCALED = ADAPTER.parse_line(Job("action", label="U1"), json.dumps(_UPSCALED_LINE).encode())
assert UPSCALED is not None
GRID = Snapshot(
    "succeeded", 100, "t-grid", image_url=START, wire={"U1": "upscale1"}, extra={"image_id": "g"}
)


def body(request: httpx.Request) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(request.content)
    return result


def answer(payload: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=payload, request=httpx.Request("POST", "https://x"))


def clip(extensions: int = 0, urls: int = 4) -> Snapshot:
    return Snapshot(
        "succeeded",
        100,
        "t-vid",
        image_url=START,
        video_urls=tuple(f"https://cdn.test/{n}.mp4" for n in range(urls)),
        wire={"extend low": "videos:extend"},
        extra={"video": True, "video_id": "vid-1", "extensions": extensions},
    )


def test_features_and_local_images() -> None:
    assert ADAPTER.features == {"video", "extend", "vary region", "edit", "seed", "upload"}
    assert "remix" not in ADAPTER.features and "zoom custom" not in ADAPTER.features
    assert ADAPTER.local_images == "upload"  # the runner uploads them, then sends URLs
    assert ADAPTER.max_extensions == 4


def test_video_from_an_image() -> None:
    job = Job(
        "video",
        prompt="waves roll in --ar 16:9",
        images=(START,),
        motion="high",
        loop=True,
        batch=2,
        raw=True,
        resolution="480p",
        mode="turbo",
        callback_url="http://127.0.0.1:9/hook",
    )
    request = ADAPTER.submit(job)
    assert request.url.path == "/midjourney/videos"
    assert request.headers["authorization"] == "Bearer tok"
    assert body(request) == {
        "action": "generate",
        "image_url": START,
        "prompt": "waves roll in --motion high --raw --bs 2",
        "loop": True,
        "resolution": "480p",
        "mode": "turbo",
        "callback_url": "http://127.0.0.1:9/hook",
        "async": True,
    }


def test_animate_needs_a_single_image() -> None:
    job = Job("action", prompt="a lake", label="animate low", parent=UPSCALED, end=START)
    sent = body(ADAPTER.submit(job))
    assert sent == {
        "action": "generate",
        "image_url": START,
        "prompt": "a lake --motion low --bs 1",
        "end_image_url": START,
        "async": True,
    }
    with pytest.raises(Rejected, match="single image"):
        ADAPTER.submit(Job("action", prompt="x", label="animate high", parent=GRID))
    with pytest.raises(Rejected, match="fast or turbo"):
        ADAPTER.submit(Job("action", label="animate high", parent=UPSCALED, mode="relax"))
    with pytest.raises(Rejected, match="not uploaded first"):  # never sent inline
        ADAPTER.submit(Job("video", prompt="x", images=("data:image/png;base64,AAAA",)))


def test_extend_sends_a_zero_based_index() -> None:
    job = Job("action", prompt="the sea", label="extend high", parent=clip(), index=3)
    assert body(ADAPTER.submit(job)) == {
        "action": "extend",
        "video_id": "vid-1",
        "video_index": 2,
        "prompt": "the sea --motion high",
        "async": True,
    }
    with pytest.raises(Rejected, match="1-2"):
        ADAPTER.submit(Job("action", label="extend low", parent=clip(urls=2), index=3))
    with pytest.raises(Rejected, match="4 times"):
        ADAPTER.submit(Job("action", label="extend low", parent=clip(extensions=4)))
    with pytest.raises(Rejected, match="video upscale"):
        ADAPTER.submit(Job("action", label="upscale video", parent=clip()))


def test_vary_region_sends_the_mask_and_prompt() -> None:
    job = Job(
        "action",
        prompt="red roses --ar 1:1",
        label="vary region",
        parent=UPSCALED,
        mask="data:image/png;base64,iVBORw0KGgo=",
        remix=True,
    )
    assert body(ADAPTER.submit(job)) == {
        "action": "variation_region",
        "image_id": "img-up",
        "mask": "iVBORw0KGgo=",
        "prompt": "red roses --ar 1:1",
        "async": True,
    }
    with pytest.raises(Rejected, match="mask"):
        ADAPTER.submit(Job("action", label="vary region", parent=UPSCALED))
    with pytest.raises(Rejected, match="vary region"):  # the grid offers no vary region
        ADAPTER.submit(Job("action", label="vary region", parent=GRID, mask="AAAA"))


def test_remix_zoom_custom_and_retexture_are_refused() -> None:
    parent = Snapshot("succeeded", 100, "t", wire={"V1": "variation1"}, extra={"image_id": "g"})
    with pytest.raises(Rejected, match="no remix"):
        ADAPTER.submit(Job("action", prompt="new", label="V1", parent=parent, remix=True))
    with pytest.raises(Rejected, match="zoom custom"):
        ADAPTER.submit(Job("action", label="zoom custom", parent=UPSCALED, zoom=1.3))
    with pytest.raises(Rejected, match="retexture"):
        ADAPTER.submit(Job("retexture", prompt="ink", images=(START,)))


def test_edits() -> None:
    job = Job("edit", prompt="make it snow --v 7", images=(START,), mask="AAAA", mode="relax")
    request = ADAPTER.submit(job)
    assert request.url.path == "/midjourney/edits"
    assert body(request) == {
        "action": "generate",
        "image_url": START,
        "prompt": "make it snow --v 7",
        "version": "7",
        "mask": "AAAA",
        "mode": "relax",
        "async": True,
    }
    with pytest.raises(Rejected, match="prompt"):
        ADAPTER.submit(Job("edit", prompt="", images=(START,)))
    # an edit answers like imagine: a grid is final only with its actions
    preview = ADAPTER.parse_line(job, json.dumps({"task_id": "t", "progress": 100}).encode())
    assert preview is not None and not preview.done
    line = {"task_id": "t", "progress": 100, "image_url": START, "actions": ["upscale1"]}
    final = ADAPTER.parse_line(job, json.dumps(line).encode())
    assert final is not None and final.done and final.actions == ["U1"]


def test_video_status_needs_progress_100_and_video_urls() -> None:
    job = Job("video", prompt="x", images=(START,))
    submitted = ADAPTER.parse_submit(job, answer({"task_id": "t1"}))
    assert submitted.status == "queued" and submitted.extra["video"] is True

    def record(response: dict[str, Any], state: str = "generating") -> Snapshot:
        payload = {"id": "t1", "type": "videos", "state": state, "response": response}
        return ADAPTER.parse_poll(submitted, answer(payload))

    assert not record({"success": True}).done  # success alone is not done
    assert not record({"success": True, "progress": 100}).done
    running = record({"success": True, "progress": 50, "image_url": START})
    assert (running.status, running.progress, running.image_url) == ("running", 50, None)
    assert not record({"success": True, "progress": 60, "video_urls": ["https://c/0.mp4"]}).done
    urls = [f"https://c/{n}.mp4" for n in range(4)]
    done = record(
        {"success": True, "progress": 100, "video_id": "v9", "image_url": START, "video_urls": urls}
    )
    assert done.status == "succeeded" and done.video_urls == tuple(urls)
    assert done.image_url == START and done.extra["video_id"] == "v9"
    assert done.actions == ["extend low", "extend high"]
    failed = record({"success": False, "error": {"code": "api_error", "message": "boom"}})
    assert failed.status == "failed" and "boom" in (failed.error or "")
    # stream lines: success: true on every line, the last one carries the clips
    lines = [
        {"success": True, "task_id": "t1", "progress": 40},
        {"success": True, "task_id": "t1", "progress": 100, "video_urls": urls, "video_id": "v"},
    ]
    seen = [ADAPTER.parse_line(job, json.dumps(x).encode()) for x in lines]
    assert [s.done for s in seen if s] == [False, True]


def test_extensions_are_counted_until_the_limit() -> None:
    job = Job("action", label="extend low", parent=clip(extensions=3))
    snapshot = ADAPTER.parse_submit(job, answer({"task_id": "t2"}))
    assert snapshot.extra["extensions"] == 4
    line = {"task_id": "t2", "progress": 100, "video_urls": ["https://c/0.mp4"], "video_id": "v"}
    done = ADAPTER.parse_poll(snapshot, answer({"id": "t2", "response": line}))
    assert done.done and done.actions == []  # four extensions: no more offered


@pytest.mark.parametrize(
    "response",
    [
        {"progress": 100, "video_urls": "https://c/0.mp4"},
        {"progress": 100, "video_urls": [1, 2]},
        {"progress": 100, "video_urls": [f"https://c/{n}.mp4" for n in range(5)]},
        {"progress": 100, "video_urls": ["https://c/0.mp4"], "video_id": {"x": 1}},
        {"progress": 100, "video_urls": ["https://c/0.mp4"], "image_url": 7},
    ],
)
def test_hostile_video_answers_are_provider_errors(response: dict[str, Any]) -> None:
    snapshot = Snapshot("running", 10, "t", extra={"video": True})
    with pytest.raises(ProviderError):
        ADAPTER.parse_poll(snapshot, answer({"id": "t", "response": response}))


def test_single_images_offer_animate_and_vary_region() -> None:
    job = Job("action", label="U2", parent=GRID)
    line = {"task_id": "t", "progress": 100, "image_url": START, "image_id": "u", "actions": []}
    snapshot = ADAPTER.parse_line(job, json.dumps(line).encode())
    assert snapshot is not None and snapshot.done
    assert snapshot.actions == ["vary region", "animate low", "animate high"]
    grid = ADAPTER.parse_line(
        Job("imagine", prompt="x"),
        json.dumps({**line, "actions": ["upscale1", "variation1"]}).encode(),
    )
    assert grid is not None and "animate low" not in grid.actions


def test_seed() -> None:
    request = ADAPTER.seed(UPSCALED)
    assert request is not None and request.url.path == "/midjourney/seed"
    assert body(request) == {"image_id": "img-up"}
    assert ADAPTER.parse_seed(UPSCALED, answer({"seed": "3141592"})) == 3141592
    assert ADAPTER.parse_seed(UPSCALED, answer({"seed": 42})) == 42
    assert ADAPTER.parse_seed(UPSCALED, answer({"success": True})) is None
    for bad in ({"seed": "abc"}, {"seed": True}, {"seed": "99999999999"}, {"seed": [1]}):
        with pytest.raises(ProviderError):
            ADAPTER.parse_seed(UPSCALED, answer(bad))
    with pytest.raises(ProviderError):
        ADAPTER.parse_seed(UPSCALED, answer(["seed"]))
    assert ADAPTER.seed(Snapshot("succeeded", 100, "t")) is None  # no image_id: cannot tell
    assert ADAPTER.seed(clip()) is None


def _err(code: str, message: str = "x") -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message}}


@pytest.mark.parametrize(
    ("status", "payload", "kind"),
    [
        (401, _err("invalid_token"), AuthError),
        (400, _err("token_mismatched"), AuthError),
        (429, _err("too_many_requests"), RateLimited),
        (400, _err("api_not_implemented"), Rejected),
        (403, _err("forbidden", "nsfw"), Rejected),
        (400, _err("used_up"), Rejected),
        (500, _err("api_error"), ProviderError),
    ],
)
def test_video_errors_map_to_the_common_model(
    status: int, payload: dict[str, Any], kind: type[ProviderError]
) -> None:
    job = Job("video", prompt="x", images=(START,))
    with pytest.raises(kind):
        ADAPTER.parse_submit(job, answer(payload, status))
    with pytest.raises(kind):
        ADAPTER.parse_seed(UPSCALED, answer(payload, status))
