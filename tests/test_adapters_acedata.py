"""The Ace Data Cloud and Zhishuyun adapters: requests built, responses read, no server.

Response shapes come from providers.md section 1 and the Zhishuyun walkthrough in the
seed articles (real JSON answers, Zhishuyun-era action names).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from mjnb.errors import AuthError, ProviderError, RateLimited, Rejected
from mjnb.providers.acedata import AceDataAdapter, ZhishuyunAdapter, wire_actions
from mjnb.providers.base import Job, Snapshot
from mjnb.secrets import redact_url
from tests.conftest import CANARY

GRID_ACE = ["upscale1", "upscale2", "upscale3", "upscale4", "reroll"] + [
    f"variation{n}" for n in range(1, 5)
]
UPSCALED_ACE = [
    "upscale_2x",
    "upscale_4x",
    "upscale_subtle",
    "upscale_creative",
    "variation_subtle",
    "variation_strong",
    "zoom_out_2x",
    "zoom_out_1_5x",
    "square",
    "pan_left",
    "pan_right",
    "pan_up",
    "pan_down",
    "redo_upscale_subtle",
    "variation_region",
]
#: the walkthrough's first answer, byte for byte (Zhishuyun era: no ``success`` field)
SEED_GRID = {
    "image_url": "",
    "image_id": "1142862320582791268",
    "progress": 100,
    "actions": [
        "upsample1",
        "upsample2",
        "upsample3",
        "upsample4",
        "reroll",
        "variation1",
        "variation2",
        "variation3",
        "variation4",
    ],
    "task_id": "cf735d83-6e02-4e0a-a265-3e8ed46b8070",
}
TASK_ID = "6f1b1c4e-2f0a-4a35-9bb2-0c7d3b7f0a11"


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def answer(request: httpx.Request, status: int = 200, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, request=request, **kwargs)


def done_grid(actions: list[str], image_id: str = "1142862320582791268") -> Snapshot:
    adapter = AceDataAdapter(token="t")
    job = Job("imagine", prompt="a fox")
    line = {"success": True, "task_id": TASK_ID, "image_id": image_id, "progress": 100}
    line |= {"image_url": "https://cdn.acedata.cloud/a.png", "actions": actions}
    snap = adapter.parse_line(job, json.dumps(line).encode())
    assert snap is not None
    return snap


# -- requests -------------------------------------------------------------------------


def test_imagine_request_is_an_async_post_with_a_bearer_token() -> None:
    request = AceDataAdapter(token="tok").submit(Job("imagine", prompt="a red fox --ar 3:2"))
    assert request.method == "POST"
    assert str(request.url) == "https://api.acedata.cloud/midjourney/imagine"
    assert request.headers["authorization"] == "Bearer tok"
    assert request.headers["accept"] == "application/json"
    assert request.headers["content-type"] == "application/json"
    assert body(request) == {"action": "generate", "prompt": "a red fox --ar 3:2", "async": True}


def test_mode_comes_from_the_job_or_the_prompts_speed_flag() -> None:
    adapter = AceDataAdapter(token="t")
    relax = adapter.submit(Job("imagine", prompt="a fox", mode="relax"))
    assert body(relax)["mode"] == "relax"
    turbo = adapter.submit(Job("imagine", prompt="a fox --turbo"))
    assert body(turbo)["mode"] == "turbo"
    callback = adapter.submit(Job("imagine", prompt="a", callback_url="https://me/hook"))
    assert body(callback)["callback_url"] == "https://me/hook"
    assert "mode" not in body(callback)


def test_stream_asks_for_ndjson_and_waits_for_the_result() -> None:
    request = AceDataAdapter(token="t").stream(Job("imagine", prompt="a fox"))
    assert request is not None
    assert request.headers["accept"] == "application/x-ndjson"
    assert body(request) == {"action": "generate", "prompt": "a fox"}
    assert AceDataAdapter().stream(Job("describe", images=("https://x/a.png",))) is None


def test_base_url_is_overridable_and_loses_its_trailing_slash() -> None:
    adapter = AceDataAdapter(base_url="http://127.0.0.1:9000/", token="t")
    assert str(adapter.submit(Job("imagine", prompt="a")).url) == (
        "http://127.0.0.1:9000/midjourney/imagine"
    )
    assert "authorization" not in AceDataAdapter().submit(Job("imagine", prompt="a")).headers


def test_describe_posts_the_image_url() -> None:
    request = AceDataAdapter(token="t").submit(Job("describe", images=("https://x/cat.png",)))
    assert str(request.url) == "https://api.acedata.cloud/midjourney/describe"
    assert body(request) == {"image_url": "https://x/cat.png"}
    with pytest.raises(Rejected, match="exactly one image"):
        AceDataAdapter().submit(Job("describe", images=()))


def test_blend_is_an_image_only_imagine_prompt() -> None:
    adapter = AceDataAdapter(token="t")
    urls = ("https://x/a.png", "https://x/b.jpg")
    square = adapter.submit(Job("blend", images=urls))
    assert body(square)["prompt"] == "https://x/a.png https://x/b.jpg"
    assert body(square)["action"] == "generate"
    portrait = adapter.submit(Job("blend", images=urls, dimensions="portrait"))
    assert body(portrait)["prompt"] == "https://x/a.png https://x/b.jpg --ar 2:3"
    landscape = adapter.submit(Job("blend", images=urls, dimensions="landscape"))
    assert body(landscape)["prompt"].endswith("--ar 3:2")
    with pytest.raises(Rejected, match="2 to 5 images"):
        adapter.submit(Job("blend", images=urls[:1]))
    with pytest.raises(Rejected, match="square, portrait, landscape"):
        adapter.submit(Job("blend", images=urls, dimensions="wide"))
    with pytest.raises(Rejected, match="upload the images"):
        adapter.submit(Job("blend", images=("data:image/png;base64,AAAA", urls[0])))


def test_poll_retrieves_the_task_by_id() -> None:
    request = AceDataAdapter(token="t").poll(Snapshot("queued", remote_id=TASK_ID))
    assert request.method == "POST"
    assert str(request.url) == "https://api.acedata.cloud/midjourney/tasks"
    assert body(request) == {"action": "retrieve", "id": TASK_ID}
    with pytest.raises(ProviderError, match="no task id"):
        AceDataAdapter().poll(Snapshot("queued"))


def test_download_sends_the_token_only_to_the_providers_own_host() -> None:
    adapter = AceDataAdapter(token="tok")
    own = adapter.download("https://api.acedata.cloud/files/a.png")
    assert own.method == "GET"
    assert own.headers["authorization"] == "Bearer tok"
    cdn = adapter.download("https://cdn.discordapp.com/attachments/1/a.png?ex=1&hm=2")
    assert "authorization" not in cdn.headers


# -- actions --------------------------------------------------------------------------


def test_grid_and_upscaled_actions_map_to_every_label() -> None:
    grid = done_grid(GRID_ACE)
    assert grid.actions == ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "reroll"]
    assert grid.wire["U2"] == "upscale2"
    upscaled = done_grid(UPSCALED_ACE)
    assert upscaled.actions == [
        "vary subtle",
        "vary strong",
        "zoom 2x",
        "zoom 1.5x",
        "square",
        "pan left",
        "pan right",
        "pan up",
        "pan down",
        "upscale subtle",
        "upscale creative",
        "upscale 2x",
        "upscale 4x",
        # Ace lists none of these: it animates and repaints any finished single image
        "vary region",
        "animate low",
        "animate high",
    ]
    assert upscaled.wire["zoom 1.5x"] == "zoom_out_1_5x"
    assert upscaled.wire["vary strong"] == "variation_strong"


def test_zhishuyun_era_names_are_read_and_sent_back_verbatim() -> None:
    old = ["upsample1", "upsample2", "upsample3", "upsample4", "reroll", "variation1"]
    old += ["high_variation", "low_variation", "upsample_2x", "upsample_4x"]
    snap = done_grid(old)
    assert snap.wire["U3"] == "upsample3"
    assert snap.wire["vary strong"] == "high_variation"
    assert snap.wire["vary subtle"] == "low_variation"
    assert snap.wire["upscale 4x"] == "upsample_4x"
    request = AceDataAdapter(token="t").submit(Job("action", label="U3", parent=snap))
    assert body(request) == {
        "action": "upsample3",
        "image_id": "1142862320582791268",
        "async": True,
    }


def test_each_host_prefers_its_own_era_when_a_server_lists_both() -> None:
    both = ["upscale1", "upsample1", "high_variation", "variation_strong"]
    assert wire_actions(both) == {"U1": "upscale1", "vary strong": "variation_strong"}
    zhishuyun = wire_actions(both, prefer_zhishuyun=True)
    assert zhishuyun == {"U1": "upsample1", "vary strong": "high_variation"}
    assert wire_actions(None) == {}
    assert wire_actions(["variation_region", "redo_upscale_2x"]) == {}


def test_action_sends_the_parents_image_id_and_wire_name() -> None:
    parent = done_grid(GRID_ACE, image_id="1142864001001345245")
    request = AceDataAdapter(token="t").submit(Job("action", label="V2", parent=parent))
    assert body(request) == {
        "action": "variation2",
        "image_id": "1142864001001345245",
        "async": True,
    }
    streamed = AceDataAdapter(token="t").stream(Job("action", label="reroll", parent=parent))
    assert streamed is not None
    assert body(streamed) == {"action": "reroll", "image_id": "1142864001001345245"}


def test_an_action_the_parent_does_not_offer_is_rejected_with_the_choices() -> None:
    parent = done_grid(GRID_ACE)
    with pytest.raises(Rejected) as caught:
        AceDataAdapter().submit(Job("action", label="zoom 2x", parent=parent))
    assert "'zoom 2x'" in str(caught.value)
    assert "U1, U2, U3, U4, V1, V2, V3, V4, reroll" in str(caught.value)
    with pytest.raises(Rejected, match="offered are: none"):
        AceDataAdapter().submit(Job("action", label="U1", parent=None))
    no_image = Snapshot("succeeded", remote_id="x", wire={"U1": "upscale1"})
    with pytest.raises(Rejected, match="image_id"):
        AceDataAdapter().submit(Job("action", label="U1", parent=no_image))


# -- responses ------------------------------------------------------------------------


def test_async_submit_answer_is_queued_with_the_task_id() -> None:
    adapter = AceDataAdapter(token="t")
    job = Job("imagine", prompt="a fox")
    snap = adapter.parse_submit(job, answer(adapter.submit(job), json={"task_id": TASK_ID}))
    assert (snap.status, snap.remote_id, snap.progress) == ("queued", TASK_ID, 0)
    with pytest.raises(ProviderError, match="no task_id"):
        adapter.parse_submit(job, answer(adapter.submit(job), json={}))


def test_a_synchronous_zhishuyun_answer_is_already_done() -> None:
    adapter = ZhishuyunAdapter(token="t")
    job = Job("imagine", prompt="beautiful dress")
    snap = adapter.parse_submit(job, answer(adapter.submit(job), json=SEED_GRID))
    assert snap.status == "succeeded"
    assert snap.remote_id == "cf735d83-6e02-4e0a-a265-3e8ed46b8070"
    assert snap.image_url is None  # the walkthrough's answer had image_url ""
    assert snap.extra["image_id"] == "1142862320582791268"
    assert snap.wire["U4"] == "upsample4"
    assert len(snap.actions) == 9


def test_describe_answers_at_once() -> None:
    adapter = AceDataAdapter(token="t")
    job = Job("describe", images=("https://x/cat.png",))
    lines = ["a cat, ginger --ar 1:1", "a sleepy cat", "cat on a sofa", "kitten"]
    snap = adapter.parse_submit(job, answer(adapter.submit(job), json={"descriptions": lines}))
    assert snap.status == "succeeded"
    assert snap.descriptions == tuple(lines)
    with pytest.raises(ProviderError, match="no descriptions"):
        adapter.parse_submit(job, answer(adapter.submit(job), json={"descriptions": []}))


def test_stream_lines_go_from_preview_to_final() -> None:
    adapter = AceDataAdapter(token="t")
    job = Job("imagine", prompt="a fox")
    preview = "https://cdn.acedata.cloud/preview/35.webp"
    first = {"task_id": TASK_ID, "progress": 35, "image_url": preview, "actions": []}
    second = {"task_id": TASK_ID, "progress": 75, "image_url": preview, "actions": []}
    last = {
        "success": True,
        "task_id": TASK_ID,
        "image_id": "1",
        "progress": 100,
        "image_url": "https://cdn.acedata.cloud/final.png",
        "image_width": 2048,
        "image_height": 2048,
        "sub_image_urls": [f"https://cdn.acedata.cloud/{n}.png" for n in range(4)],
        "actions": GRID_ACE,
    }
    snaps = [adapter.parse_line(job, (json.dumps(d) + "\r\n").encode()) for d in (first, second)]
    assert [(s.status, s.progress) for s in snaps if s] == [("running", 35), ("running", 75)]
    assert snaps[0] is not None and snaps[0].preview_url == preview
    assert snaps[0].image_url is None and not snaps[0].actions
    final = adapter.parse_line(job, json.dumps(last).encode())
    assert final is not None
    assert (final.status, final.progress, final.remote_id) == ("succeeded", 100, TASK_ID)
    assert final.image_url == "https://cdn.acedata.cloud/final.png"
    assert final.preview_url is None
    assert final.image_urls == tuple(last["sub_image_urls"])
    assert adapter.parse_line(job, b"") is None
    assert adapter.parse_line(job, b"\r\n") is None
    assert adapter.parse_line(job, b": keep-alive") is None


def test_a_stream_line_that_fails_a_created_task_is_a_failed_snapshot() -> None:
    adapter = AceDataAdapter(token="t")
    job = Job("imagine", prompt="a fox")
    line = {"success": False, "task_id": TASK_ID, "error": {"code": "timeout", "message": "slow"}}
    snap = adapter.parse_line(job, json.dumps(line).encode())
    assert snap is not None and snap.status == "failed"
    assert snap.error == "slow (timeout)"
    refused = {"success": False, "error": {"code": "bad_request", "message": "Unrecognized x"}}
    with pytest.raises(Rejected, match="Unrecognized x"):
        adapter.parse_line(job, json.dumps(refused).encode())


def retrieve(payload: dict[str, Any], previous: Snapshot | None = None) -> Snapshot:
    adapter = AceDataAdapter(token="t")
    previous = previous or Snapshot("queued", remote_id=TASK_ID)
    return adapter.parse_poll(previous, answer(adapter.poll(previous), json=payload))


def wrapper(response: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"id": TASK_ID, "created_at": 1716000000.5, "type": "imagine"}
    found["request"] = {"prompt": "a fox", "action": "generate"}
    if response is not None:
        found["response"] = response
    return found | more


def test_poll_reads_every_stage_of_the_tasks_wrapper() -> None:
    assert retrieve(wrapper(state="pending")).status == "queued"
    assert retrieve(wrapper()).status == "queued"
    generating = retrieve(wrapper({"task_id": TASK_ID}, state="generating"))
    assert (generating.status, generating.progress) == ("running", 0)
    moving = retrieve(wrapper({"progress": 45, "image_url": "https://c/p.webp"}))
    assert (moving.status, moving.progress, moving.preview_url) == (
        "running",
        45,
        "https://c/p.webp",
    )
    stringy = retrieve(wrapper({"progress": "60%"}))
    assert (stringy.status, stringy.progress) == ("running", 60)
    done = retrieve(
        wrapper(
            {"success": True, "image_id": "9", "image_url": "https://c/f.png", "actions": GRID_ACE},
            state="finished",
            finished_at=1716000060.0,
        )
    )
    assert (done.status, done.image_url, done.extra["image_id"]) == (
        "succeeded",
        "https://c/f.png",
        "9",
    )
    assert done.remote_id == TASK_ID and done.actions[0] == "U1"


def test_poll_reads_failures_and_cancellation() -> None:
    failed = retrieve(
        wrapper({"success": False, "error": {"code": "api_error", "message": "Midjourney said no"}})
    )
    assert failed.status == "failed"
    assert failed.error == "Midjourney said no (api_error)"
    assert retrieve(wrapper({"progress": 20}, state="failed")).status == "failed"
    assert retrieve(wrapper(state="error")).error == "Ace Data Cloud reported the job failed."
    assert retrieve(wrapper(state="cancelled")).status == "cancelled"


def test_poll_keeps_the_extra_it_knew() -> None:
    previous = Snapshot("running", remote_id=TASK_ID, extra={"image_id": "5"})
    assert retrieve(wrapper({"progress": 10}), previous).extra == {"image_id": "5"}


def test_poll_of_an_unknown_task_is_an_error() -> None:
    with pytest.raises(ProviderError, match=f"does not know task {TASK_ID}"):
        retrieve({})


# -- errors ---------------------------------------------------------------------------


def ace_error(code: str, message: str = "it went wrong") -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message}, "trace_id": "tr-1"}


@pytest.mark.parametrize(
    ("status", "payload", "kind", "says"),
    [
        (401, ace_error("invalid_token"), AuthError, "Check token= or MJNB_ACEDATA_TOKEN"),
        (400, ace_error("token_mismatched"), AuthError, "MJNB_ACEDATA_TOKEN"),
        (401, ace_error("no_token"), AuthError, "no_token"),
        (401, ace_error("token_expired"), AuthError, "token_expired"),
        (401, None, AuthError, "HTTP 401"),
        (429, ace_error("too_many_requests"), RateLimited, "submit it again"),
        (200, {"code": "busy", "detail": "the server is busy"}, RateLimited, "server is busy"),
        (403, ace_error("forbidden", "banned prompt: gore"), Rejected, "Rephrase"),
        (
            400,
            ace_error("used_up"),
            Rejected,
            "balance is used up; top up at https://platform.acedata.cloud",
        ),
        (400, ace_error("bad_request", "Unrecognized argument(s): foo"), Rejected, "foo"),
        (400, ace_error("api_not_implemented"), Rejected, "api_not_implemented"),
        (403, ace_error("disabled"), Rejected, "disabled"),
        (400, {"code": "unverified", "detail": "verify your name"}, ProviderError, "verify"),
        (500, ace_error("api_error"), ProviderError, "trace_id tr-1"),
        (502, None, ProviderError, "HTTP 502"),
        (200, None, ProviderError, "without a JSON object"),
    ],
)
def test_errors_map_to_actionable_exceptions(
    status: int, payload: Any, kind: type[Exception], says: str
) -> None:
    adapter = AceDataAdapter(token="t")
    job = Job("imagine", prompt="a fox")
    kwargs = {"json": payload} if payload is not None else {"content": b""}
    with pytest.raises(kind) as caught:
        adapter.parse_submit(job, answer(adapter.submit(job), status, **kwargs))
    assert type(caught.value) is kind
    assert says in str(caught.value)
    assert str(caught.value).rstrip().endswith(".")


def test_rate_limit_carries_retry_after_and_error_code() -> None:
    adapter = AceDataAdapter(token="t")
    job = Job("imagine", prompt="a fox")
    response = answer(
        adapter.submit(job), 429, json=ace_error("too_many_requests"), headers={"Retry-After": "7"}
    )
    with pytest.raises(RateLimited) as caught:
        adapter.parse_submit(job, response)
    assert caught.value.retry_after == 7.0
    assert (caught.value.code, caught.value.status) == ("too_many_requests", 429)


def test_poll_errors_raise_like_submit_errors() -> None:
    adapter = AceDataAdapter(token="t")
    previous = Snapshot("queued", remote_id=TASK_ID)
    response = answer(adapter.poll(previous), 401, json=ace_error("invalid_token"))
    with pytest.raises(AuthError):
        adapter.parse_poll(previous, response)


# -- Zhishuyun ------------------------------------------------------------------------


def test_zhishuyun_puts_the_token_in_the_query_and_the_speed_in_the_path() -> None:
    adapter = ZhishuyunAdapter(token="tok")
    fast = adapter.submit(Job("imagine", prompt="a fox"))
    assert str(fast.url) == "https://api.zhishuyun.com/midjourney/imagine?token=tok"
    assert "authorization" not in fast.headers
    assert body(fast) == {"action": "generate", "prompt": "a fox", "async": True}
    relax = adapter.submit(Job("imagine", prompt="a fox", mode="relax"))
    assert relax.url.path == "/midjourney/imagine/relax"
    assert "mode" not in body(relax)
    assert (
        adapter.submit(Job("imagine", prompt="a --turbo")).url.path == "/midjourney/imagine/turbo"
    )
    poll = adapter.poll(Snapshot("queued", remote_id=TASK_ID))
    assert str(poll.url) == "https://api.zhishuyun.com/midjourney/tasks?token=tok"
    describe = adapter.submit(Job("describe", images=("https://x/a.png",)))
    assert describe.url.path == "/midjourney/describe"
    assert redact_url(fast.url) == "https://api.zhishuyun.com/midjourney/imagine?token=***"
    assert "token" not in str(adapter.download("https://api.zhishuyun.com/a.png").url)


def test_zhishuyun_errors_name_its_own_variable_and_top_up_page() -> None:
    adapter = ZhishuyunAdapter(token="t")
    job = Job("imagine", prompt="a")
    with pytest.raises(AuthError, match="MJNB_ZHISHUYUN_TOKEN"):
        adapter.parse_submit(job, answer(adapter.submit(job), 401, json=ace_error("invalid_token")))
    with pytest.raises(Rejected, match=r"data\.zhishuyun\.com"):
        adapter.parse_submit(
            job, answer(adapter.submit(job), 200, json={"code": "used_up", "detail": "x"})
        )


# -- secrets --------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [AceDataAdapter, ZhishuyunAdapter])
def test_the_token_never_leaks(cls: type[AceDataAdapter]) -> None:
    adapter = cls(base_url="https://api.acedata.cloud", token=CANARY)
    assert CANARY not in repr(adapter) and CANARY not in str(adapter)
    job = Job("imagine", prompt="a fox")
    request = adapter.submit(job)
    where = request.headers.get("authorization", "") + str(request.url)
    assert CANARY in where  # only where the protocol puts it ...
    assert CANARY not in request.content.decode()  # ... never in the body
    assert CANARY not in redact_url(request.url)
    echo = f"token {CANARY} is invalid"
    for status, payload in [
        (401, ace_error("invalid_token", echo)),
        (429, ace_error("too_many_requests", echo)),
        (403, ace_error("forbidden", echo)),
        (400, ace_error("bad_request", echo)),
        (500, ace_error("api_error", echo)),
        (200, {"code": "busy", "detail": echo}),
    ]:
        with pytest.raises(ProviderError) as caught:
            adapter.parse_submit(job, answer(request, status, json=payload))
        assert CANARY not in str(caught.value) and CANARY not in repr(caught.value)
    failed = adapter.parse_line(
        job, json.dumps({"success": False, "task_id": "t", "error": {"message": echo}}).encode()
    )
    queued = adapter.parse_submit(job, answer(request, json={"task_id": TASK_ID}))
    polled = adapter.parse_poll(queued, answer(adapter.poll(queued), json=wrapper({"progress": 5})))
    for snap in (failed, queued, polled, done_grid(GRID_ACE)):
        assert CANARY not in repr(snap)
    assert "authorization" not in adapter.download("https://cdn.example/a.png").headers


# -- when is a job done: Ace as it really speaks (issue 13) ---------------------------

PREVIEW = "https://cdn.acedata.cloud/preview/{n}.webp"


def real_stream(actions: list[str] | None = None) -> list[bytes]:
    """Ace's stream shape: ``success: true`` on every line, previews included, one full
    object per progress change, ``actions: []`` until the last, ``\\r\\n`` endings."""
    lines = [
        {
            "success": True,
            "task_id": TASK_ID,
            "trace_id": "tr-1",
            "image_id": f"preview-{n}",
            "image_url": PREVIEW.format(n=n),
            "image_width": 512,
            "image_height": 512,
            "progress": n,
            "actions": [],
        }
        for n in (12, 35, 75)
    ]
    final = {
        "success": True,
        "task_id": TASK_ID,
        "trace_id": "tr-1",
        "image_id": "1142862320582791268",
        "image_url": "https://cdn.acedata.cloud/final.png",
        "raw_image_url": "https://cdn.acedata.cloud/raw.png",
        "image_width": 2048,
        "image_height": 2048,
        "progress": 100,
        "actions": GRID_ACE if actions is None else actions,
    }
    return [b""] + [(json.dumps(line) + "\r\n").encode() for line in (*lines, final)]


def follow(job: Job, lines: list[bytes]) -> list[Snapshot]:
    """What the engine does with a stream: apply each snapshot until one is done."""
    adapter, seen = AceDataAdapter(token="t"), []
    for line in lines:
        snap = adapter.parse_line(job, line)
        if snap is not None:
            seen.append(snap)
            if snap.done:
                break
    return seen


def test_success_true_on_every_line_is_not_done_until_the_final_image() -> None:
    seen = follow(Job("imagine", prompt="a fox"), real_stream())
    assert [(s.status, s.progress) for s in seen] == [
        ("running", 12),
        ("running", 35),
        ("running", 75),
        ("succeeded", 100),
    ]
    assert [s.preview_url for s in seen[:3]] == [PREVIEW.format(n=n) for n in (12, 35, 75)]
    assert all(s.image_url is None and not s.actions for s in seen[:3])
    result = seen[-1]
    assert result.image_url == "https://cdn.acedata.cloud/final.png"
    assert result.actions == ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "reroll"]
    assert result.extra["image_id"] == "1142862320582791268"  # the final's, not a preview's


def test_a_grid_at_100_without_actions_is_still_a_preview() -> None:
    seen = follow(Job("imagine", prompt="a fox"), real_stream(actions=[]))
    assert not any(s.done for s in seen)
    assert seen[-1].status == "running" and seen[-1].image_url is None
    assert seen[-1].preview_url == "https://cdn.acedata.cloud/final.png"
    blend = Job("blend", images=("https://x/a.png", "https://x/b.png"))
    assert not any(s.done for s in follow(blend, real_stream(actions=[])))
    reroll = Job("action", label="reroll", parent=done_grid(GRID_ACE))
    assert not any(s.done for s in follow(reroll, real_stream(actions=[])))


def test_an_upscale_is_final_with_its_image_even_without_actions() -> None:
    upscale = Job("action", label="U2", parent=done_grid(GRID_ACE))
    seen = follow(upscale, real_stream(actions=[]))
    assert seen[-1].status == "succeeded"
    assert seen[-1].image_url == "https://cdn.acedata.cloud/final.png"
    assert [s.status for s in seen[:3]] == ["running"] * 3


def test_a_failed_line_fails_at_any_point() -> None:
    lines = real_stream()[:2]
    failure = {"success": False, "task_id": TASK_ID, "error": {"code": "timeout", "message": "x"}}
    lines.append(json.dumps(failure).encode())
    seen = follow(Job("imagine", prompt="a fox"), lines)
    assert [s.status for s in seen] == ["running", "failed"]


def test_task_records_carry_no_image_url_while_running() -> None:
    # a record says success: true from the start; only the final image makes it done
    assert retrieve(wrapper({"success": True, "task_id": TASK_ID})).status == "queued"
    running = retrieve(wrapper({"success": True, "progress": 40}, state="generating"))
    assert (running.status, running.progress, running.preview_url) == ("running", 40, None)
    at_100 = retrieve(wrapper({"success": True, "progress": 100}))
    assert not at_100.done  # a finished number without the image: poll again
    finished_empty = retrieve(wrapper({"success": True}, state="finished"))
    assert not finished_empty.done
    done = retrieve(wrapper({"success": True, "image_url": "https://c/f.png", "actions": GRID_ACE}))
    assert (done.status, done.image_url, done.progress) == ("succeeded", "https://c/f.png", 100)
    upscaled = retrieve(wrapper({"success": True, "progress": 100, "image_url": "https://c/u.png"}))
    assert upscaled.status == "succeeded"
    assert upscaled.actions == ["vary region", "animate low", "animate high"]  # nothing listed


def test_a_synchronous_answer_follows_the_stream_rule() -> None:
    adapter = AceDataAdapter(token="t")
    job = Job("imagine", prompt="a fox")
    preview = {"success": True, "task_id": TASK_ID, "progress": 35, "image_url": PREVIEW}
    snap = adapter.parse_submit(job, answer(adapter.submit(job), json=preview))
    assert snap.status == "running" and snap.preview_url == PREVIEW and snap.image_url is None
