"""The midjourney-proxy adapter's media: video, the window confirm, edits, the seed.

Shapes follow trueai-org/midjourney-proxy's code (SubmitController.cs Video/Modal/Edits,
TaskService.cs SubmitAction's code 21 "Waiting for window confirm", TaskInfo.cs
videoUrls and the video buttons). No server: requests are built, answers are read.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from mjnb.errors import ProviderError, Rejected
from mjnb.providers.base import Job, Snapshot
from mjnb.providers.mjproxy import MJProxyAdapter
from mjnb.providers.mjproxy_media import bare_text, seed_of

BASE = "http://127.0.0.1:8080"
TASK = "1712345678901234"
HASH = "4d6dc2a7-4808-48cb-b248-e8e1f352ece2"
IMAGE = "https://cdn.example/abc/image.png"
MASK = "iVBORw0KGgoAAAANSUhEUg=="  # the adapter only forwards it


def adapter() -> MJProxyAdapter:
    return MJProxyAdapter(base_url=BASE, token="secret-1")


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def answer(request: httpx.Request, status: int = 200, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, request=request, **kwargs)


def button(custom_id: str, label: str = "") -> dict[str, Any]:
    return {"customId": custom_id, "emoji": "", "label": label, "type": 2, "style": 2}


UPSCALED = [
    button(f"MJ::JOB::low_variation::1::{HASH}::SOLO", "Vary (Subtle)"),
    button(f"MJ::Inpaint::1::{HASH}::SOLO", "Vary (Region)"),
    button(f"MJ::Outpaint::50::1::{HASH}::SOLO", "Zoom Out 2x"),
    button(f"MJ::CustomZoom::{HASH}", "Custom Zoom"),
    button(f"MJ::JOB::pan_left::1::{HASH}::SOLO"),
    button(f"MJ::JOB::animate_high::1::{HASH}::SOLO", "Animate (High motion)"),
    button(f"MJ::JOB::animate_low::1::{HASH}::SOLO", "Animate (Low motion)"),
    button(f"MJ::JOB::reroll::0::{HASH}::SOLO"),
]
GRID = [
    *(button(f"MJ::JOB::upsample::{n}::{HASH}", f"U{n}") for n in range(1, 5)),
    *(button(f"MJ::JOB::variation::{n}::{HASH}", f"V{n}") for n in range(1, 5)),
]


def task(**fields: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": TASK,
        "action": "UPSCALE",
        "status": "SUCCESS",
        "prompt": "a red fox --ar 3:2",
        "promptEn": "a red fox --ar 3:2",
        "progress": "100%",
        "imageUrl": IMAGE,
        "buttons": UPSCALED,
        "properties": {"finalPrompt": "a red fox --ar 3:2"},
    }
    return found | fields


def fetch(payload: dict[str, Any]) -> Snapshot:
    mp = adapter()
    previous = Snapshot("queued", remote_id=TASK)
    return mp.parse_poll(previous, answer(mp.poll(previous), json=payload))


def clips(n: int, thumbnail: str | None = IMAGE) -> list[dict[str, Any]]:
    return [{"url": f"https://cdn.example/v/{i}.mp4", "thumbnail": thumbnail} for i in range(n)]


VIDEO_TASK = task(
    action="VIDEO",
    imageUrl="https://cdn.example/v/0.mp4",
    promptEn=f"{IMAGE} waves roll in --video 1 --motion high --bs 2",
    prompt="waves roll in",
    videoUrls=clips(2),
    buttons=[
        button(f"MJ::JOB::video_virtual_upscale::1::{HASH}", "U1"),
        button(f"MJ::JOB::video_virtual_upscale::2::{HASH}", "U2"),
        button(f"MJ::JOB::reroll::0::{HASH}::SOLO"),
    ],
)


def test_features_and_local_images() -> None:
    mp = adapter()
    assert {"video", "extend", "upscale video", "vary region", "remix", "zoom custom"} <= set(
        mp.features
    )
    assert {"edit", "retexture", "seed", "cancel"} <= set(mp.features)
    assert mp.local_images == "inline" and mp.max_extensions == 4


def test_upscaled_task_offers_the_editor_and_animate_labels() -> None:
    up = fetch(task())
    for label in ("vary region", "zoom custom", "animate high", "animate low", "vary subtle"):
        assert label in up.actions
    assert up.wire["vary region"] == f"MJ::Inpaint::1::{HASH}::SOLO"
    assert up.extra["prompt"] == "a red fox --ar 3:2"


def test_video_from_an_image_is_trueais_submit_video() -> None:
    job = Job("video", prompt="waves roll in", images=(IMAGE,), motion="high", batch=2)
    request = adapter().submit(job)
    assert str(request.url) == f"{BASE}/mj/submit/video"
    assert body(request) == {
        "prompt": "waves roll in",
        "motion": "high",
        "loop": False,
        "batchSize": 2,
        "videoType": "vid_1.1_i2v_480",
        "image": IMAGE,
    }
    hd = Job("video", prompt="x", images=("data:image/png;base64,AAA",), resolution="720p",
             end="https://cdn.example/end.png", raw=True)  # fmt: skip
    sent = body(adapter().submit(hd))
    assert sent["videoType"] == "vid_1.1_i2v_720" and sent["endImage"].endswith("end.png")
    assert sent["image"].startswith("data:image/png") and sent["prompt"] == "x --raw"
    looped = body(adapter().submit(Job("video", prompt="x", images=(IMAGE,), loop=True,
                                        end="https://cdn.example/end.png")))  # fmt: skip
    assert looped["loop"] is True and "endImage" not in looped  # trueai: loop wins


@pytest.mark.parametrize(
    "job, words",
    [
        (Job("video", prompt="", images=(IMAGE,)), "needs a prompt"),
        (Job("video", prompt="x", images=()), "one image"),
        (Job("video", prompt="x", images=(IMAGE,), batch=3), "1, 2 or 4"),
        (Job("edit", prompt="x", images=(IMAGE,), mask=MASK), "takes no mask"),
        (Job("retexture", prompt=" ", images=(IMAGE,)), "needs a prompt"),
    ],
)
def test_bad_media_jobs_are_refused_before_sending(job: Job, words: str) -> None:
    with pytest.raises(Rejected, match=words):
        adapter().submit(job)


def test_animate_on_an_upscale_sends_its_image_and_the_prompt_text() -> None:
    up = fetch(task())
    request = adapter().submit(Job("action", label="animate low", parent=up, batch=1))
    assert str(request.url) == f"{BASE}/mj/submit/video"
    sent = body(request)
    assert sent["image"] == IMAGE and sent["motion"] == "low" and sent["batchSize"] == 1
    assert sent["prompt"] == "a red fox"  # the parent's words, without --ar
    own = body(adapter().submit(Job("action", label="animate high", parent=up, prompt="run")))
    assert own["prompt"] == "run" and own["motion"] == "high"


def test_a_video_task_reads_as_clips_with_a_poster() -> None:
    clip = fetch(VIDEO_TASK)
    assert clip.status == "succeeded"
    assert clip.video_urls == ("https://cdn.example/v/0.mp4", "https://cdn.example/v/1.mp4")
    assert clip.image_url == IMAGE  # the thumbnail, never the .mp4 as a picture
    assert clip.actions == ["reroll", "extend low", "extend high", "upscale video"]


def test_extend_is_the_0_based_index_of_submit_video() -> None:
    clip = fetch(VIDEO_TASK)
    request = adapter().submit(Job("action", label="extend high", parent=clip, index=2))
    assert str(request.url) == f"{BASE}/mj/submit/video"
    sent = body(request)
    assert sent["action"] == "extend" and sent["taskId"] == TASK and sent["index"] == 1
    assert sent["motion"] == "high" and sent["prompt"] == "waves roll in"
    assert "image" not in sent
    with pytest.raises(Rejected, match="1-2"):
        adapter().submit(Job("action", label="extend low", parent=clip, index=3))
    with pytest.raises(Rejected, match="video task"):
        adapter().submit(Job("action", label="extend low", parent=fetch(task())))


def test_upscale_video_presses_video_virtual_upscale_n() -> None:
    clip = fetch(VIDEO_TASK)
    request = adapter().submit(Job("action", label="upscale video", parent=clip, index=2))
    assert str(request.url) == f"{BASE}/mj/submit/action"
    assert body(request) == {
        "taskId": TASK,
        "customId": f"MJ::JOB::video_virtual_upscale::2::{HASH}",
    }


def test_extend_buttons_map_to_labels() -> None:
    picked = fetch(
        task(
            action="UPSCALE",
            contentType="video/mp4",
            videoUrls=clips(1),
            buttons=[
                button(f"MJ::JOB::animate_high_extend::1::{HASH}", "Extend (High motion)"),
                button(f"MJ::JOB::animate_low_extend::1::{HASH}", "Extend (Low motion)"),
            ],
        )
    )
    assert picked.actions == ["extend low", "extend high"] and len(picked.video_urls) == 1


def window(result: str = "1712345678999001", **properties: Any) -> dict[str, Any]:
    return {
        "code": 21,
        "description": "Waiting for window confirm",
        "result": result,
        "properties": {"finalPrompt": "", "remix": True} | properties,
    }


def test_vary_region_presses_inpaint_then_confirms_with_the_mask() -> None:
    mp, up = adapter(), fetch(task())
    job = Job("action", label="vary region", parent=up, mask=MASK, prompt="a blue bird")
    request = mp.submit(job)
    assert body(request) == {"taskId": TASK, "customId": f"MJ::Inpaint::1::{HASH}::SOLO"}
    waiting = mp.parse_submit(job, answer(request, json=window()))
    assert waiting.status == "queued" and waiting.remote_id == "1712345678999001"
    assert waiting.extra["confirm"] is True  # code 21 is no longer a plain "queued"
    confirm = mp.confirm(job, waiting)
    assert confirm is not None and str(confirm.url) == f"{BASE}/mj/submit/modal"
    assert confirm.headers["mj-api-secret"] == "secret-1"
    assert body(confirm) == {
        "taskId": "1712345678999001",
        "prompt": "a blue bird",
        "maskBase64": f"data:image/png;base64,{MASK}",
    }
    started = mp.parse_submit(
        job, answer(confirm, json={"code": 1, "description": "ok", "result": "1712345678999001"})
    )
    assert started.remote_id == "1712345678999001" and not started.extra.get("confirm")
    with pytest.raises(Rejected, match="needs a mask"):
        mp.submit(Job("action", label="vary region", parent=up))


def test_custom_zoom_puts_the_factor_in_the_modal_prompt() -> None:
    mp, up = adapter(), fetch(task())
    job = Job("action", label="zoom custom", parent=up, zoom=1.5, prompt="a fox on a hill")
    request = mp.submit(job)
    assert body(request) == {"taskId": TASK, "customId": f"MJ::CustomZoom::{HASH}"}
    waiting = mp.parse_submit(job, answer(request, json=window(finalPrompt="a red fox")))
    sent = body(mp.confirm(job, waiting))  # type: ignore[arg-type]
    assert sent == {"taskId": "1712345678999001", "prompt": "a fox on a hill --zoom 1.5"}
    plain = Job("action", label="zoom custom", parent=up, zoom=1.3)
    assert body(mp.confirm(plain, waiting))["prompt"] == "a red fox --ar 3:2 --zoom 1.3"  # type: ignore[arg-type]
    with pytest.raises(Rejected, match=r"1\.0-2\.0"):
        mp.submit(Job("action", label="zoom custom", parent=up, zoom=2.5))


def test_remix_sends_enable_remix_and_confirms_the_new_prompt() -> None:
    mp = adapter()
    grid = fetch(task(action="IMAGINE", buttons=GRID))
    job = Job("action", label="V2", parent=grid, remix=True, prompt="a red fox, watercolour")
    request = mp.submit(job)
    assert body(request) == {
        "taskId": TASK,
        "customId": f"MJ::JOB::variation::2::{HASH}",
        "enableRemix": True,
    }
    waiting = mp.parse_submit(job, answer(request, json=window()))
    assert body(mp.confirm(job, waiting)) == {  # type: ignore[arg-type]
        "taskId": "1712345678999001",
        "prompt": "a red fox, watercolour",
    }
    plain = Job("action", label="V2", parent=grid)
    assert mp.confirm(plain, mp.parse_submit(plain, answer(request, json={
        "code": 1, "description": "ok", "result": "9"}))) is None  # fmt: skip


def test_code_21_already_exists_is_not_a_window() -> None:
    mp, job = adapter(), Job("imagine", prompt="a fox")
    request = mp.submit(job)
    existed = {"code": 21, "description": "任务已存在", "result": "77", "properties": {}}
    snap = mp.parse_submit(job, answer(request, json=existed))
    assert snap.remote_id == "77" and "confirm" not in snap.extra


def test_modal_task_polls_as_running() -> None:
    snap = fetch(task(status="MODAL", progress="0%", imageUrl=None, buttons=[]))
    assert snap.status == "running" and not snap.done


def test_edits_and_retexture() -> None:
    mp = adapter()
    request = mp.submit(Job("edit", prompt="in snow", images=("data:image/png;base64,AAA",)))
    assert str(request.url) == f"{BASE}/mj/submit/edits"
    assert body(request) == {"prompt": "in snow", "image": "data:image/png;base64,AAA"}
    request = mp.submit(Job("retexture", prompt="as lino print", images=(IMAGE,)))
    assert str(request.url) == f"{BASE}/mj/submit/retexture"


def test_local_images_go_inline_on_imagine() -> None:
    data = "data:image/png;base64,AAA"
    sent = body(adapter().submit(Job("imagine", prompt="a fox", images=(data, IMAGE))))
    assert sent == {"prompt": f"{IMAGE} a fox", "base64Array": [data]}


@pytest.mark.parametrize(
    "payload, expected",
    [
        ({"code": 1, "description": "成功", "result": "3141592"}, 3141592),
        ({"code": 1, "description": "成功", "result": 42}, 42),
        ({"code": 3, "description": "未找到 seed", "result": None}, None),
    ],
)
def test_seed_answers(payload: dict[str, Any], expected: int | None) -> None:
    mp = adapter()
    snap = Snapshot("succeeded", remote_id=TASK)
    request = mp.seed(snap)
    assert request is not None and str(request.url) == f"{BASE}/mj/task/{TASK}/image-seed"
    assert request.method == "GET"
    assert mp.parse_seed(snap, answer(request, json=payload)) == expected


def test_seed_refusals_are_one_line() -> None:
    mp, snap = adapter(), Snapshot("succeeded", remote_id=TASK)
    request = mp.seed(snap)
    assert request is not None
    bad_state = {"code": 4, "description": "关联任务状态错误", "result": None}
    with pytest.raises(Rejected, match="cannot tell"):
        mp.parse_seed(snap, answer(request, 400, json=bad_state))
    with pytest.raises(ProviderError, match="not a number"):
        mp.parse_seed(snap, answer(request, json={"code": 1, "result": "abc"}))
    with pytest.raises(ProviderError, match="could not get the seed"):
        mp.parse_seed(snap, answer(request, json={"code": 9, "description": "超时"}))
    with pytest.raises(Rejected, match="no image-seed"):
        mp.parse_seed(snap, answer(request, 404, json={"status": 404, "error": "Not Found"}))


def test_novicezk_404_on_video_is_one_clear_line() -> None:
    mp = adapter()
    job = Job("video", prompt="waves", images=(IMAGE,))
    request = mp.submit(job)
    spring = {"timestamp": 1, "status": 404, "error": "Not Found", "path": "/mj/submit/video"}
    with pytest.raises(Rejected) as caught:
        mp.parse_submit(job, answer(request, 404, json=spring))
    assert str(caught.value) == "this midjourney-proxy server has no video (novicezk fork?)"
    gone = {"code": 3, "description": "关联任务不存在或已失效", "result": None}
    with pytest.raises(Rejected, match="did not find the task"):
        mp.parse_submit(job, answer(request, 404, json=gone))  # trueai's own 404
    edit = Job("edit", prompt="x", images=(IMAGE,))
    with pytest.raises(Rejected, match="novicezk"):
        mp.parse_submit(edit, answer(mp.submit(edit), 404, text=""))


@pytest.mark.parametrize(
    "said, words",
    [
        ("视频功能未启用", "video is turned off"),
        ("禁止上传", "public http"),
        ("base64格式错误", "not valid base64"),
        ("关联任务状态错误", "not finished"),
    ],
)
def test_trueai_refusals_are_explained(said: str, words: str) -> None:
    mp, job = adapter(), Job("video", prompt="x", images=(IMAGE,))
    with pytest.raises(Rejected, match=words):
        mp.parse_submit(job, answer(mp.submit(job), json={"code": 4, "description": said}))


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"videoUrls": "https://cdn.example/v.mp4"}, "not a list"),
        ({"videoUrls": [{"url": 5}]}, "not an http"),
        ({"videoUrls": [{"url": "file:///etc/passwd"}]}, "not an http"),
        ({"videoUrls": clips(9)}, "at most"),
        ({"videoUrl": {"url": "x"}}, "not an http"),
    ],
)
def test_hostile_video_fields_are_provider_errors(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(ProviderError, match=words):
        fetch(task(action="VIDEO", **fields))


def test_odd_but_harmless_video_shapes() -> None:
    strings = fetch(task(action="VIDEO", videoUrls=["https://cdn.example/a.mp4", None, ""]))
    assert strings.video_urls == ("https://cdn.example/a.mp4",)
    only_image = fetch(task(action="VIDEO", imageUrl="https://cdn.example/b.mp4", buttons=[]))
    assert only_image.video_urls == ("https://cdn.example/b.mp4",)
    running = fetch(task(action="VIDEO", status="IN_PROGRESS", imageUrl="https://x/v.mp4"))
    assert running.preview_url is None
    odd_seed = fetch(task(seed="not a seed"))
    assert "seed" not in odd_seed.extra
    assert fetch(task(seed="123")).extra["seed"] == 123


def test_helpers() -> None:
    assert bare_text("https://x/a.png a red fox --ar 3:2 --video 1 --raw") == "a red fox"
    assert seed_of("4294967295") == 4294967295 and seed_of(2**32) is None
    assert seed_of(True) is None and seed_of(-1) is None
