"""The MetaChat adapter: requests built, responses read, no server.

Shapes follow providers.md section 2 and MetaChat's API description in the seed
articles (``{"status": "Success"|"Fail", "message", "data"}`` envelopes).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from mjnb.errors import AuthError, ProviderError, RateLimited, Rejected
from mjnb.providers.base import Job, Snapshot
from mjnb.providers.metachat import MetaChatAdapter, model_for, offered
from tests.conftest import CANARY

BASE = "https://api.mmchat.xyz/open/v1"
TASK = "mc-7d1f0e"


def adapter() -> MetaChatAdapter:
    return MetaChatAdapter(app_id="app-1", token="key-1")


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def ok(data: dict[str, Any]) -> dict[str, Any]:
    return {"status": "Success", "message": "", "data": data}


def fail(message: str) -> dict[str, Any]:
    return {"status": "Fail", "message": message, "data": None}


def answer(request: httpx.Request, status: int = 200, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, request=request, **kwargs)


def result(data: dict[str, Any], previous: Snapshot | None = None) -> Snapshot:
    mc = adapter()
    previous = previous or Snapshot("queued", remote_id=TASK, extra={"kind": "grid"})
    return mc.parse_poll(previous, answer(mc.poll(previous), json=ok({"id": TASK} | data)))


def finished(kind: str, model: str | None = "mj-v6") -> Snapshot:
    extra = {"kind": kind, "model": model} if model else {"kind": kind}
    data = {"status": "success", "progress": 100, "image_url": "https://img.mmchat.xyz/a.png"}
    return result(data, Snapshot("running", remote_id=TASK, extra=extra))


# -- requests -------------------------------------------------------------------------


def test_imagine_request_carries_both_credentials_and_a_model() -> None:
    request = adapter().submit(Job("imagine", prompt="a red fox --ar 3:2 --v 6.1"))
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/midjourney/imagine"
    assert request.headers["X-App-ID"] == "app-1"
    assert request.headers["Authorization"] == "Bearer key-1"
    assert request.headers["content-type"] == "application/json"
    assert body(request) == {"prompt": "a red fox --ar 3:2 --v 6.1", "model": "mj-v61"}


@pytest.mark.parametrize(
    ("prompt", "model"),
    [
        ("a fox", "mj-v6"),
        ("a fox --v 6", "mj-v6"),
        ("a fox --version 6.1 --s 50", "mj-v61"),
        ("a fox —v 7", "mj-v7"),
        ("a fox --niji 6", "mj-niji-v6"),
        ("a fox --niji", "mj-niji-v6"),
        ("a fox --v 5.2", "mj-v6"),  # not a MetaChat model: the prompt's --v 5.2 overrides
        ("a vintage car", "mj-v6"),
    ],
)
def test_model_is_read_from_the_prompt(prompt: str, model: str) -> None:
    assert model_for(prompt) == model


def test_leading_image_links_become_image_prompts_and_mode_a_flag() -> None:
    job = Job("imagine", prompt="https://x/a.png https://x/b.jpg a fox --iw 2", mode="relax")
    assert body(adapter().submit(job)) == {
        "prompt": "a fox --iw 2 --relax",
        "model": "mj-v6",
        "images": [
            {"url": "https://x/a.png", "type": "image/png", "image_prompt": True},
            {"url": "https://x/b.jpg", "type": "image/jpeg", "image_prompt": True},
        ],
    }
    fast = adapter().submit(Job("imagine", prompt="a fox --fast", mode="relax"))
    assert body(fast)["prompt"] == "a fox --fast"
    four = " ".join(f"https://x/{n}.png" for n in range(4))
    with pytest.raises(Rejected, match="at most 3"):
        adapter().submit(Job("imagine", prompt=f"{four} a fox"))


def test_describe_and_blend_send_image_objects() -> None:
    describe = adapter().submit(Job("describe", images=("https://x/cat.webp",)))
    assert str(describe.url) == f"{BASE}/midjourney/describe"
    assert body(describe) == {"image": {"url": "https://x/cat.webp", "type": "image/webp"}}
    urls = ("https://x/a.png", "https://x/b.png", "https://x/c.jpeg")
    blend = adapter().submit(Job("blend", images=urls, dimensions="landscape"))
    assert str(blend.url) == f"{BASE}/midjourney/blend"
    assert body(blend) == {
        "images": [
            {"url": "https://x/a.png", "type": "image/png"},
            {"url": "https://x/b.png", "type": "image/png"},
            {"url": "https://x/c.jpeg", "type": "image/jpeg"},
        ],
        "dimension": "landscape",
    }
    with pytest.raises(Rejected, match="2 to 5"):
        adapter().submit(Job("blend", images=urls[:1]))
    with pytest.raises(Rejected, match="exactly one"):
        adapter().submit(Job("describe", images=urls))


@pytest.mark.parametrize(
    ("kind", "label", "path", "payload"),
    [
        ("grid", "U1", "separate", {"index": 1}),
        ("grid", "U4", "separate", {"index": 4}),
        ("grid", "V2", "variation", {"index": 2}),
        ("grid", "reroll", "reroll", {}),
        ("single", "upscale subtle", "upscale", {"type": "subtle"}),
        ("single", "upscale creative", "upscale", {"type": "creative"}),
        ("single", "vary strong", "vary", {"type": "strong"}),
        ("single", "vary subtle", "vary", {"type": "subtle"}),
        ("single", "zoom 2x", "zoomout", {"type": "2x"}),
        ("single", "zoom 1.5x", "zoomout", {"type": "1.5x"}),
        ("single", "pan left", "pan", {"type": "left"}),
        ("single", "pan down", "pan", {"type": "down"}),
        ("upscaled", "vary strong", "vary", {"type": "strong"}),
    ],
)
def test_each_action_goes_to_its_endpoint(
    kind: str, label: str, path: str, payload: dict[str, Any]
) -> None:
    request = adapter().submit(Job("action", label=label, parent=finished(kind)))
    assert str(request.url) == f"{BASE}/midjourney/{path}"
    assert body(request) == {"id": TASK} | payload


def test_offered_actions_follow_the_kind_of_task_and_its_model() -> None:
    grid = finished("grid")
    assert grid.actions == ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "reroll"]
    single = finished("single").actions
    assert "square" not in single  # MetaChat has no Make Square
    assert "upscale subtle" in single and "upscale 2x" not in single
    assert "zoom 1.5x" in single and "pan up" in single and "U1" not in single
    old = finished("single", model="mj-v5.2").actions
    assert "upscale 4x" in old and "upscale creative" not in old
    assert {"upscale subtle", "upscale 4x"} <= set(finished("single", model=None).actions)
    assert finished("upscaled").actions == ["vary subtle", "vary strong"]
    assert offered("describe", None) == {} and offered(None, "mj-v6") == {}


def test_an_action_not_offered_is_rejected_with_the_choices() -> None:
    with pytest.raises(Rejected) as caught:
        adapter().submit(Job("action", label="square", parent=finished("single")))
    assert "'square'" in str(caught.value) and "vary subtle" in str(caught.value)
    with pytest.raises(Rejected, match="none"):
        adapter().submit(Job("action", label="U1", parent=Snapshot("running", remote_id=TASK)))


def test_poll_gets_the_result_and_no_stream_is_offered() -> None:
    request = adapter().poll(Snapshot("queued", remote_id=TASK))
    assert request.method == "GET"
    assert str(request.url) == f"{BASE}/midjourney/result/{TASK}"
    assert request.headers["X-App-ID"] == "app-1"
    assert adapter().stream(Job("imagine", prompt="a")) is None
    assert adapter().parse_line(Job("imagine", prompt="a"), b"{}") is None
    assert adapter().poll_interval == adapter().min_poll_interval == 5.0
    assert "Authorization" not in adapter().download("https://img.mmchat.xyz/a.png").headers


# -- responses ------------------------------------------------------------------------


def test_submit_answer_gives_the_id_and_remembers_what_kind_of_task_it_is() -> None:
    mc = adapter()
    job = Job("imagine", prompt="a fox --niji 6")
    data = {"id": TASK, "prompt": "a fox --niji 6", "model": "mj-niji-v6"}
    snap = mc.parse_submit(job, answer(mc.submit(job), json=ok(data)))
    assert (snap.status, snap.remote_id) == ("queued", TASK)
    assert snap.extra == {"kind": "grid", "model": "mj-niji-v6", "version": "niji 6"}
    for label, kind in [("U2", "single"), ("V1", "grid"), ("reroll", "grid")]:
        act = Job("action", label=label, parent=finished("grid"))
        child = mc.parse_submit(act, answer(mc.submit(act), json=ok({"id": "c1"})))
        assert child.extra == {"kind": kind, "model": "mj-v6"}
    for label, kind in [("upscale creative", "upscaled"), ("zoom 2x", "grid"), ("pan up", "grid")]:
        act = Job("action", label=label, parent=finished("single"))
        assert (
            mc.parse_submit(act, answer(mc.submit(act), json=ok({"id": "c2"}))).extra["kind"]
            == kind
        )
    with pytest.raises(ProviderError, match="no task id"):
        mc.parse_submit(job, answer(mc.submit(job), json=ok({})))


@pytest.mark.parametrize(
    ("status", "progress", "expected"),
    [
        ("submitted", 0, "queued"),
        ("in_progress", 35, "running"),
        ("failure", 40, "failed"),
        (10, 0, "queued"),
        (20, 50, "running"),
        (30, 0, "failed"),
        ("20", 60, "running"),
        ("mystery", 0, "queued"),
        ("mystery", 10, "running"),
        (None, 0, "queued"),
    ],
)
def test_every_status_form_is_normalized(status: Any, progress: int, expected: str) -> None:
    snap = result({"status": status, "progress": progress})
    assert (snap.status, snap.progress) == (expected, progress)


def test_success_gives_the_image_and_falls_back_to_the_mirror() -> None:
    for status in ("success", 40, "40"):
        snap = result({"status": status, "progress": 100, "image_url": "https://i/a.png"})
        assert (snap.status, snap.image_url) == ("succeeded", "https://i/a.png")
    mirror = result({"status": "success", "image_url": "", "image_url_mirror": "https://q/a.png"})
    assert mirror.image_url == "https://q/a.png"
    early = result({"status": "success", "progress": 100})
    assert early.status == "running"  # no image yet: poll again
    preview = result({"status": "in_progress", "progress": 45, "image_url": "https://i/p.webp"})
    assert (preview.preview_url, preview.image_url) == ("https://i/p.webp", None)


def test_failure_carries_the_reason() -> None:
    snap = result({"status": "failure", "fail_reason": "Banned prompt detected"})
    assert (snap.status, snap.error) == ("failed", "Banned prompt detected")
    assert "without a reason" in (result({"status": "failure"}).error or "")


def test_describe_result_is_split_into_prompts() -> None:
    text = "1️⃣ a ginger cat --ar 1:1\n\n2️⃣ a sleepy cat\n\n3️⃣ cat on a sofa\n\n4️⃣ a kitten"
    previous = Snapshot("queued", remote_id=TASK, extra={"kind": "describe"})
    snap = result({"status": "success", "progress": 100, "image_description": text}, previous)
    assert snap.status == "succeeded"
    assert snap.descriptions == (
        "a ginger cat --ar 1:1",
        "a sleepy cat",
        "cat on a sofa",
        "a kitten",
    )
    assert snap.actions == []


def test_poll_keeps_kind_and_learns_the_model() -> None:
    previous = Snapshot("queued", remote_id=TASK, extra={"kind": "single"})
    snap = result({"status": "in_progress", "progress": 5, "model": "mj-v7"}, previous)
    assert snap.extra == {"kind": "single", "model": "mj-v7"}


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "payload", "kind", "says"),
    [
        (401, None, AuthError, "MJNB_METACHAT_APP_ID and MJNB_METACHAT_API_KEY"),
        (403, {"error": "permission_error"}, AuthError, "expired or are disabled"),
        (429, None, RateLimited, "submit it again"),
        (404, None, ProviderError, "check base_url"),
        (500, None, ProviderError, "HTTP 500"),
        (
            200,
            fail("Midjourney 绘图描述中存在错误的参数,请修改后重新提交。"),
            Rejected,
            "错误的参数",
        ),
        (200, {"status": "Weird"}, ProviderError, "Success envelope"),
        (200, None, ProviderError, "Success envelope"),
    ],
)
def test_submit_errors_map_to_actionable_exceptions(
    status: int, payload: Any, kind: type[Exception], says: str
) -> None:
    mc = adapter()
    job = Job("imagine", prompt="a fox")
    kwargs = {"json": payload} if payload is not None else {"content": b""}
    with pytest.raises(kind) as caught:
        mc.parse_submit(job, answer(mc.submit(job), status, **kwargs))
    assert type(caught.value) is kind
    assert says in str(caught.value)


def test_rate_limit_reads_retry_after() -> None:
    mc = adapter()
    job = Job("imagine", prompt="a fox")
    response = answer(mc.submit(job), 429, headers={"Retry-After": "12"})
    with pytest.raises(RateLimited) as caught:
        mc.parse_submit(job, response)
    assert caught.value.retry_after == 12.0


def test_poll_errors_for_an_unknown_task() -> None:
    mc = adapter()
    previous = Snapshot("queued", remote_id=TASK)
    missing = answer(mc.poll(previous), 500, json=fail(f"task {TASK} not found"))
    with pytest.raises(ProviderError, match=f"does not know task {TASK}"):
        mc.parse_poll(previous, missing)
    refused = answer(mc.poll(previous), 200, json=fail("查询失败"))
    with pytest.raises(ProviderError, match="查询失败") as caught:
        mc.parse_poll(previous, refused)
    assert type(caught.value) is ProviderError  # a poll error is not a rejected job


# -- secrets --------------------------------------------------------------------------


def test_the_credentials_never_leak() -> None:
    app_id = CANARY + "-app"
    mc = MetaChatAdapter(app_id=app_id, token=CANARY)
    assert CANARY not in repr(mc) and CANARY not in str(mc)
    job = Job("imagine", prompt="a fox")
    request = mc.submit(job)
    assert request.headers["Authorization"] == f"Bearer {CANARY}"
    assert request.headers["X-App-ID"] == app_id
    assert CANARY not in str(request.url) and CANARY not in request.content.decode()
    echo = f"key {CANARY} of app {app_id} is not valid"
    for status, payload in [(200, fail(echo)), (401, fail(echo)), (500, fail(echo))]:
        with pytest.raises(ProviderError) as caught:
            mc.parse_submit(job, answer(request, status, json=payload))
        assert CANARY not in str(caught.value)
    queued = mc.parse_submit(job, answer(request, json=ok({"id": TASK})))
    failed = mc.parse_poll(
        queued, answer(mc.poll(queued), json=ok({"status": "failure", "fail_reason": echo}))
    )
    assert CANARY not in repr(queued) and CANARY not in repr(failed)
    assert CANARY not in str(mc.poll(queued).url)
