"""The midjourney-proxy adapter: requests built, responses read, no server.

Shapes follow providers.md section 3 (novicezk/midjourney-proxy and its forks): submit
answers ``{code, description, result, properties}``, task objects with string progress
and, on forks, Discord ``buttons``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from mjnb.errors import AuthError, ConfigError, ProviderError, RateLimited, Rejected
from mjnb.providers.base import Job, Snapshot
from mjnb.providers.mjproxy import MJProxyAdapter, button_label, wire_from_buttons
from tests.conftest import CANARY

BASE = "http://127.0.0.1:8080"
TASK = "1712345678901234"
HASH = "4d6dc2a7-4808-48cb-b248-e8e1f352ece2"


def adapter(token: str | None = "secret-1") -> MJProxyAdapter:
    return MJProxyAdapter(base_url=BASE, token=token)


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def answer(request: httpx.Request, status: int = 200, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, request=request, **kwargs)


def task(**fields: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": TASK,
        "action": "IMAGINE",
        "status": "IN_PROGRESS",
        "prompt": "a red fox",
        "promptEn": "a red fox",
        "description": "/imagine a red fox",
        "submitTime": 1712345678901,
        "startTime": 1712345679901,
        "finishTime": None,
        "imageUrl": None,
        "progress": "0%",
        "failReason": None,
        "state": None,
        "properties": {"finalPrompt": "a red fox --v 6.1"},
    }
    return found | fields


def fetch(payload: dict[str, Any]) -> Snapshot:
    mp = adapter()
    previous = Snapshot("queued", remote_id=TASK)
    return mp.parse_poll(previous, answer(mp.poll(previous), json=payload))


def button(custom_id: str, label: str = "", emoji: str = "") -> dict[str, Any]:
    return {"customId": custom_id, "emoji": emoji, "label": label, "type": 2, "style": 2}


GRID_BUTTONS = [
    *(button(f"MJ::JOB::upsample::{n}::{HASH}", f"U{n}") for n in range(1, 5)),
    button(f"MJ::JOB::reroll::0::{HASH}::SOLO", emoji="🔄"),
    *(button(f"MJ::JOB::variation::{n}::{HASH}", f"V{n}") for n in range(1, 5)),
]
UPSCALED_BUTTONS = [
    button(f"MJ::JOB::upsample_v6_2x_subtle::1::{HASH}::SOLO", "Upscale (Subtle)"),
    button(f"MJ::JOB::upsample_v6_2x_creative::1::{HASH}::SOLO", "Upscale (Creative)"),
    button(f"MJ::JOB::low_variation::1::{HASH}::SOLO", "Vary (Subtle)"),
    button(f"MJ::JOB::high_variation::1::{HASH}::SOLO", "Vary (Strong)"),
    button(f"MJ::Inpaint::1::{HASH}::SOLO", "Vary (Region)"),
    button(f"MJ::Outpaint::50::1::{HASH}::SOLO", "Zoom Out 2x"),
    button(f"MJ::Outpaint::75::1::{HASH}::SOLO", "Zoom Out 1.5x"),
    button(f"MJ::CustomZoom::{HASH}", "Custom Zoom"),
    *(button(f"MJ::JOB::pan_{w}::1::{HASH}::SOLO", emoji="⬅️") for w in ("left", "right")),
    *(button(f"MJ::JOB::pan_{w}::1::{HASH}::SOLO") for w in ("up", "down")),
    button(f"MJ::Outpaint::100::1::{HASH}::SOLO", "Make Square"),
]


# -- configuration and requests -------------------------------------------------------


def test_the_server_url_is_required() -> None:
    with pytest.raises(ConfigError, match="MJNB_MJPROXY_URL"):
        MJProxyAdapter()
    assert MJProxyAdapter(base_url="http://h:8080/mj/").base_url == "http://h:8080"
    assert MJProxyAdapter(base_url="https://gw.example/api/").base_url == "https://gw.example/api"


def test_imagine_request_carries_the_secret_header() -> None:
    request = adapter().submit(Job("imagine", prompt="a red fox --ar 3:2"))
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/mj/submit/imagine"
    assert request.headers["mj-api-secret"] == "secret-1"
    assert request.headers["content-type"] == "application/json"
    assert body(request) == {"prompt": "a red fox --ar 3:2", "base64Array": []}
    open_server = adapter(token=None).submit(Job("imagine", prompt="a"))
    assert "mj-api-secret" not in open_server.headers


def test_mode_becomes_a_prompt_flag_and_callback_a_notify_hook() -> None:
    job = Job("imagine", prompt="a fox", mode="relax", callback_url="http://me/hook")
    assert body(adapter().submit(job)) == {
        "prompt": "a fox --relax",
        "base64Array": [],
        "notifyHook": "http://me/hook",
    }
    named = adapter().submit(Job("imagine", prompt="a fox --turbo", mode="relax"))
    assert body(named)["prompt"] == "a fox --turbo"


def test_describe_sends_base64_for_data_urls_and_link_otherwise() -> None:
    data = "data:image/png;base64,iVBORw0KGgo="
    inline = adapter().submit(Job("describe", images=(data,)))
    assert str(inline.url) == f"{BASE}/mj/submit/describe"
    assert body(inline) == {"base64": data}
    linked = adapter().submit(Job("describe", images=("https://x/cat.png",)))
    assert body(linked) == {"link": "https://x/cat.png"}


def test_blend_sends_base64_array_or_an_image_only_prompt() -> None:
    data = ("data:image/png;base64,AAAA", "data:image/jpeg;base64,BBBB")
    inline = adapter().submit(Job("blend", images=data, dimensions="portrait"))
    assert str(inline.url) == f"{BASE}/mj/submit/blend"
    assert body(inline) == {"base64Array": list(data), "dimensions": "PORTRAIT"}
    links = adapter().submit(Job("blend", images=("https://x/a.png", "https://x/b.png")))
    assert str(links.url) == f"{BASE}/mj/submit/imagine"
    assert body(links)["prompt"] == "https://x/a.png https://x/b.png"
    with pytest.raises(Rejected, match="2 to 5"):
        adapter().submit(Job("blend", images=data[:1]))
    with pytest.raises(Rejected, match="upload"):
        adapter().submit(Job("blend", images=(data[0], "https://x/a.png")))


def test_poll_fetches_the_task() -> None:
    request = adapter().poll(Snapshot("queued", remote_id=TASK))
    assert request.method == "GET"
    assert str(request.url) == f"{BASE}/mj/task/{TASK}/fetch"
    assert request.headers["mj-api-secret"] == "secret-1"
    assert adapter().stream(Job("imagine", prompt="a")) is None
    assert adapter().parse_line(Job("imagine", prompt="a"), b"{}") is None
    assert "mj-api-secret" not in adapter().download("https://cdn.discordapp.com/a.png").headers


# -- buttons and actions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("custom_id", "label"),
    [
        (f"MJ::JOB::upsample::2::{HASH}", "U2"),
        (f"MJ::JOB::variation::4::{HASH}", "V4"),
        (f"MJ::JOB::reroll::0::{HASH}::SOLO", "reroll"),
        (f"MJ::JOB::low_variation::1::{HASH}::SOLO", "vary subtle"),
        (f"MJ::JOB::high_variation::1::{HASH}::SOLO", "vary strong"),
        (f"MJ::Outpaint::50::1::{HASH}::SOLO", "zoom 2x"),
        (f"MJ::Outpaint::75::1::{HASH}::SOLO", "zoom 1.5x"),
        (f"MJ::Outpaint::100::1::{HASH}::SOLO", "square"),
        (f"MJ::JOB::pan_left::1::{HASH}::SOLO", "pan left"),
        (f"MJ::JOB::pan_down::1::{HASH}::SOLO", "pan down"),
        (f"MJ::JOB::upsample_v6_2x_subtle::1::{HASH}::SOLO", "upscale subtle"),
        (f"MJ::JOB::upsample_v6r1_2x_subtle::1::{HASH}::SOLO", "upscale subtle"),
        (f"MJ::JOB::upsample_v6_2x_creative::1::{HASH}::SOLO", "upscale creative"),
        (f"MJ::JOB::upsample_v7_2x_creative::1::{HASH}::SOLO", "upscale creative"),
        (f"MJ::JOB::upsample_v5_2x::1::{HASH}::SOLO", "upscale 2x"),
        (f"MJ::JOB::upsample_v5_4x::1::{HASH}::SOLO", "upscale 4x"),
        (f"MJ::Inpaint::1::{HASH}::SOLO", "vary region"),
        (f"MJ::CustomZoom::{HASH}", "zoom custom"),
        (f"MJ::JOB::upsample::9::{HASH}", None),
        (f"MJ::JOB::pan_sideways::1::{HASH}::SOLO", None),
        ("MJ::BOOKMARK::x", None),
        ("not a custom id", None),
    ],
)
def test_button_custom_ids_map_to_labels(custom_id: str, label: str | None) -> None:
    assert button_label(custom_id) == label


def test_buttons_become_the_wire_keeping_the_custom_ids() -> None:
    grid = fetch(task(status="SUCCESS", progress="100%", buttons=GRID_BUTTONS))
    assert grid.actions == ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "reroll"]
    assert grid.wire["U3"] == f"MJ::JOB::upsample::3::{HASH}"
    upscaled = fetch(task(action="UPSCALE", status="SUCCESS", buttons=UPSCALED_BUTTONS))
    assert upscaled.actions == [
        "vary subtle",
        "vary strong",
        "zoom 2x",
        "zoom 1.5x",
        "zoom custom",
        "square",
        "pan left",
        "pan right",
        "pan up",
        "pan down",
        "upscale subtle",
        "upscale creative",
        "vary region",
    ]
    assert upscaled.wire["square"] == f"MJ::Outpaint::100::1::{HASH}::SOLO"
    odd = [button("MJ::Fork::zoomy", "Zoom Out 2x"), "junk", {"customId": 5}]
    assert wire_from_buttons(odd) == {"zoom 2x": "MJ::Fork::zoomy"}


def test_an_action_with_a_button_posts_its_custom_id() -> None:
    parent = fetch(task(action="UPSCALE", status="SUCCESS", buttons=UPSCALED_BUTTONS))
    request = adapter().submit(Job("action", label="zoom 1.5x", parent=parent))
    assert str(request.url) == f"{BASE}/mj/submit/action"
    assert body(request) == {"taskId": TASK, "customId": f"MJ::Outpaint::75::1::{HASH}::SOLO"}


def test_a_grid_without_buttons_falls_back_to_change() -> None:
    for action in ("IMAGINE", "VARIATION", "REROLL", "BLEND"):
        grid = fetch(task(action=action, status="SUCCESS", progress="100%"))
        assert grid.actions == ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "reroll"]
    grid = fetch(task(status="SUCCESS", buttons=[]))
    upscale = adapter().submit(Job("action", label="U2", parent=grid))
    assert str(upscale.url) == f"{BASE}/mj/submit/change"
    assert body(upscale) == {"taskId": TASK, "action": "UPSCALE", "index": 2}
    vary = adapter().submit(Job("action", label="V4", parent=grid))
    assert body(vary) == {"taskId": TASK, "action": "VARIATION", "index": 4}
    reroll = adapter().submit(Job("action", label="reroll", parent=grid))
    assert body(reroll) == {"taskId": TASK, "action": "REROLL"}
    assert fetch(task(action="UPSCALE", status="SUCCESS")).actions == []
    with pytest.raises(Rejected) as caught:
        adapter().submit(Job("action", label="zoom 2x", parent=grid))
    assert "offered are: U1, U2" in str(caught.value)


# -- submit answers -------------------------------------------------------------------


def submitted(payload: Any, status: int = 200, **kwargs: Any) -> Snapshot:
    mp = adapter()
    job = Job("imagine", prompt="a fox")
    content = {"json": payload} if payload is not None else {"content": b""}
    return mp.parse_submit(job, answer(mp.submit(job), status, **content, **kwargs))


@pytest.mark.parametrize(
    "payload",
    [
        {"code": 1, "description": "提交成功", "result": TASK, "properties": {}},
        {"code": 22, "description": "排队中", "result": TASK, "properties": {"numberOfQueues": 2}},
        {
            "code": 21,
            "description": "任务已存在",
            "result": TASK,
            "properties": {"status": "SUCCESS"},
        },
        {"code": "1", "description": "Success", "result": int(TASK)},
    ],
)
def test_accepted_submits_give_the_task_id(payload: dict[str, Any]) -> None:
    snap = submitted(payload)
    assert (snap.status, snap.remote_id) == ("queued", TASK)


@pytest.mark.parametrize(
    ("payload", "kind", "says"),
    [
        ({"code": 23, "description": "队列已满，请稍后尝试"}, RateLimited, "queue is full"),
        (
            {
                "code": 24,
                "description": "可能包含敏感词",
                "properties": {"promptEn": "a bloody fox", "bannedWord": "bloody"},
            },
            Rejected,
            "banned word 'bloody' (prompt as sent: 'a bloody fox')",
        ),
        ({"code": 24, "description": "banned"}, Rejected, "a banned word"),
        ({"code": 4, "description": "prompt不能为空"}, Rejected, "prompt不能为空"),
        ({"code": 3, "description": "关联任务不存在或已失效"}, Rejected, "did not find the task"),
        ({"code": 9, "description": "无可用的账号实例"}, ProviderError, "无可用的账号实例"),
        ({"code": 1, "description": "ok"}, ProviderError, "code 1"),
        ([], ProviderError, "without a JSON object"),
    ],
)
def test_refused_submits_raise_actionable_errors(
    payload: Any, kind: type[Exception], says: str
) -> None:
    with pytest.raises(kind) as caught:
        submitted(payload)
    assert type(caught.value) is kind
    assert says in str(caught.value)


def test_http_errors_on_submit() -> None:
    with pytest.raises(AuthError, match="MJNB_MJPROXY_SECRET"):
        submitted(None, 401)
    with pytest.raises(Rejected, match="not find the task to act on"):
        submitted({"code": 404}, 404)
    with pytest.raises(RateLimited) as caught:
        submitted(None, 429, headers={"Retry-After": "3"})
    assert caught.value.retry_after == 3.0
    with pytest.raises(ProviderError, match="HTTP 502: bad gateway") as error:
        mp = adapter()
        job = Job("imagine", prompt="a")
        mp.parse_submit(job, answer(mp.submit(job), 502, content=b"bad gateway"))
    assert error.value.status == 502


# -- task answers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "progress", "expected", "percent"),
    [
        ("NOT_START", "0%", "queued", 0),
        ("SUBMITTED", "", "queued", 0),
        ("IN_PROGRESS", "45%", "running", 45),
        ("IN_PROGRESS", 60, "running", 60),
        ("MODAL", "0%", "running", 0),
        ("FAILURE", "", "failed", 0),
        ("CANCEL", "12%", "cancelled", 12),
        ("SUCCESS", "100%", "succeeded", 100),
        ("SOMETHING_NEW", "30%", "running", 30),
        ("SOMETHING_NEW", "0%", "queued", 0),
    ],
)
def test_every_status_and_progress_form_is_normalized(
    status: str, progress: Any, expected: str, percent: int
) -> None:
    snap = fetch(task(status=status, progress=progress))
    assert (snap.status, snap.progress, snap.remote_id) == (expected, percent, TASK)


def test_image_url_is_a_preview_until_success() -> None:
    running = fetch(task(progress="45%", imageUrl="https://cdn.discordapp.com/p.webp"))
    assert (running.preview_url, running.image_url) == ("https://cdn.discordapp.com/p.webp", None)
    done = fetch(task(status="SUCCESS", progress="100%", imageUrl="https://cdn/f.png?ex=1"))
    assert (done.image_url, done.preview_url) == ("https://cdn/f.png?ex=1", None)


def test_failure_carries_the_reason() -> None:
    failed = fetch(task(status="FAILURE", progress="", failReason="任务超时"))
    assert (failed.status, failed.error) == ("failed", "任务超时")
    assert fetch(task(status="FAILURE")).error == "midjourney-proxy reported the task failed."


def test_describe_task_gives_four_prompts() -> None:
    text = (
        "1️⃣ a ginger cat on a windowsill --ar 1:1\n\n2️⃣ a sleepy cat\n\n"
        "3️⃣ cat, watercolor\n\n4️⃣ a kitten in the sun"
    )
    snap = fetch(
        task(action="DESCRIBE", status="SUCCESS", prompt=text, description="/describe 1.png")
    )
    assert snap.descriptions == (
        "a ginger cat on a windowsill --ar 1:1",
        "a sleepy cat",
        "cat, watercolor",
        "a kitten in the sun",
    )
    fallback = fetch(
        task(action="DESCRIBE", status="SUCCESS", prompt="", promptEn="", description=text)
    )
    assert len(fallback.descriptions) == 4
    assert fetch(task(status="SUCCESS", prompt=text)).descriptions == ()


@pytest.mark.parametrize("status", [200, 204])
def test_an_empty_answer_means_an_unknown_task(status: int) -> None:
    mp = adapter()
    previous = Snapshot("queued", remote_id=TASK)
    with pytest.raises(ProviderError, match=f"does not know task {TASK}") as caught:
        mp.parse_poll(previous, answer(mp.poll(previous), status, content=b""))
    assert type(caught.value) is ProviderError


def test_http_errors_on_poll() -> None:
    mp = adapter()
    previous = Snapshot("queued", remote_id=TASK)
    with pytest.raises(AuthError):
        mp.parse_poll(previous, answer(mp.poll(previous), 401, content=b""))
    with pytest.raises(ProviderError, match="does not know task") as caught:
        mp.parse_poll(previous, answer(mp.poll(previous), 404, content=b""))
    assert type(caught.value) is ProviderError


# -- secrets --------------------------------------------------------------------------


def test_the_secret_never_leaks() -> None:
    mp = MJProxyAdapter(base_url=BASE, token=CANARY)
    assert CANARY not in repr(mp) and CANARY not in str(mp)
    job = Job("imagine", prompt="a fox")
    request = mp.submit(job)
    assert request.headers["mj-api-secret"] == CANARY
    assert CANARY not in str(request.url) and CANARY not in request.content.decode()
    echo = f"secret {CANARY} mismatch"
    cases: list[tuple[int, dict[str, Any]]] = [
        (200, {"code": 4, "description": echo}),
        (200, {"code": 9, "description": echo}),
        (200, {"code": 23, "description": echo}),
        (500, {"message": echo}),
        (401, {"message": echo}),
    ]
    for status, payload in cases:
        with pytest.raises(ProviderError) as caught:
            mp.parse_submit(job, answer(request, status, json=payload))
        assert CANARY not in str(caught.value)
    queued = mp.parse_submit(job, answer(request, json={"code": 1, "result": TASK}))
    failed = mp.parse_poll(
        queued, answer(mp.poll(queued), json=task(status="FAILURE", failReason=echo))
    )
    assert CANARY not in repr(queued) and CANARY not in repr(failed)
    assert CANARY not in str(mp.download("https://cdn/a.png").headers)


# -- cancel (trueai's TaskController.Cancel) ------------------------------------------


def test_cancel_posts_to_the_tasks_cancel_route_with_the_secret() -> None:
    mp = MJProxyAdapter(base_url="http://127.0.0.1:8080/mj", token="secret-1")
    request = mp.cancel(Snapshot("running", remote_id="1712345"))
    assert request is not None
    assert request.method == "POST"
    assert str(request.url) == "http://127.0.0.1:8080/mj/task/1712345/cancel"
    assert request.headers["mj-api-secret"] == "secret-1"
    assert json.loads(request.content or b"null") is None  # no body
    with pytest.raises(ProviderError, match="no task id"):
        mp.cancel(Snapshot("queued"))


def test_parse_cancel_accepts_the_empty_200_and_explains_refusals() -> None:
    mp = MJProxyAdapter(base_url="http://127.0.0.1:8080", token="s")
    snap = Snapshot("running", remote_id="1712345")
    request = mp.cancel(snap)
    assert request is not None
    assert mp.parse_cancel(snap, httpx.Response(200, request=request)) is None
    demo = httpx.Response(400, request=request, text="演示模式，禁止操作")
    with pytest.raises(Rejected, match="only an admin's secret may cancel") as caught:
        mp.parse_cancel(snap, demo)
    assert "keeps polling" in str(caught.value)
    with pytest.raises(Rejected, match="no cancel endpoint"):
        mp.parse_cancel(snap, httpx.Response(404, request=request))
    with pytest.raises(AuthError):
        mp.parse_cancel(snap, httpx.Response(403, request=request, text="未登录"))
    with pytest.raises(ProviderError, match="HTTP 502"):
        mp.parse_cancel(snap, httpx.Response(502, request=request))


def test_a_task_cancelled_by_trueai_reads_as_cancelled() -> None:
    mp = MJProxyAdapter(base_url="http://127.0.0.1:8080", token="s")
    before = Snapshot("running", remote_id="1712345")
    task = {"id": "1712345", "status": "FAILURE", "failReason": "取消任务", "progress": ""}
    snap = mp.parse_poll(before, httpx.Response(200, request=mp.poll(before), json=task))
    assert snap.status == "cancelled"
    assert "cancelled on midjourney-proxy" in (snap.error or "")
    other = {**task, "failReason": "Banned prompt detected"}
    failed = mp.parse_poll(before, httpx.Response(200, request=mp.poll(before), json=other))
    assert failed.status == "failed"
