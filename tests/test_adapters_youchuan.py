"""The Youchuan adapter: requests built, responses read, no server.

Shapes follow providers.md section 6 (Youchuan 悠船): the job object with an integer
``status``, a ``comment`` code, four separate ``urls`` and ``audits``; errors with the
HTTP status equal to ``code`` and a ``reason``; edits by ``jobId`` + 0-based ``imageNo``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from mjnb.errors import AuthError, PromptError, ProviderError, RateLimited, Rejected
from mjnb.prompt import parse_prompt
from mjnb.providers import make_adapter
from mjnb.providers.base import Job, Snapshot, check_prompt, resolve_locally
from mjnb.providers.youchuan import COMMENTS, REASONS, YouchuanAdapter, family, job_state
from tests.conftest import CANARY

BASE = "https://ali.youchuan.cn"
JOB = "1573856827710373889"
PROMPT = "a red fox in snow --ar 3:2"
URLS = [f"https://cdn.youchuan.cn/{JOB}/{n}.png" for n in range(4)]


def adapter(token: str = "secret-1") -> YouchuanAdapter:
    return YouchuanAdapter(app_id="app-1", token=token)


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def answer(request: httpx.Request, status: int = 200, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, request=request, **kwargs)


def started(prompt: str = PROMPT) -> Snapshot:
    yc = adapter()
    job = Job("imagine", prompt=prompt)
    return yc.parse_submit(job, answer(yc.submit(job), json={"id": JOB, "status": 0}))


def read(data: dict[str, Any], previous: Snapshot | None = None) -> Snapshot:
    yc = adapter()
    previous = previous or started()
    return yc.parse_poll(previous, answer(yc.poll(previous), json={"id": JOB} | data))


def grid(prompt: str = PROMPT, audits: list[str] | None = None) -> Snapshot:
    data = {"status": 2, "comment": "JobStatusSuccess", "urls": URLS, "audits": audits or []}
    return read(data, started(prompt))


def act(parent: Snapshot, label: str, prompt: str = PROMPT) -> Job:
    return Job("action", prompt=prompt, label=label, parent=parent)


def select(parent: Snapshot, label: str) -> Snapshot:
    chosen = resolve_locally(adapter(), act(parent, label))
    assert chosen is not None
    return chosen


def error_answer(status: int, reason: str, message: str = "said") -> httpx.Response:
    request = httpx.Request("POST", f"{BASE}/v1/tob/diffusion")
    payload = {"code": status, "message": message, "reason": reason}
    return answer(request, status, json=payload)


# -- requests -------------------------------------------------------------------------


def test_diffusion_request_carries_both_credentials() -> None:
    request = adapter().submit(Job("imagine", prompt=PROMPT))
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/v1/tob/diffusion"
    assert request.headers["x-youchuan-app"] == "app-1"
    assert request.headers["x-youchuan-secret"] == "secret-1"
    assert request.headers["content-type"] == "application/json"
    assert body(request) == {"text": PROMPT}


def test_mode_and_callback_are_sent() -> None:
    job = Job("imagine", prompt="a fox", mode="relax", callback_url="http://127.0.0.1:9/hook")
    assert body(adapter().submit(job)) == {
        "text": "a fox --relax",
        "callback": "http://127.0.0.1:9/hook",
    }
    job = Job("imagine", prompt="a fox --turbo", mode="relax")
    assert body(adapter().submit(job)) == {"text": "a fox --turbo"}


def test_base_url_and_poll_path() -> None:
    yc = YouchuanAdapter(base_url="http://127.0.0.1:8123/", app_id="a", token="s")
    assert yc.base_url == "http://127.0.0.1:8123"
    request = yc.poll(Snapshot("queued", remote_id=JOB))
    assert (request.method, str(request.url)) == ("GET", f"http://127.0.0.1:8123/v1/tob/job/{JOB}")
    assert request.headers["x-youchuan-secret"] == "s"
    with pytest.raises(ProviderError, match="no job id"):
        yc.poll(Snapshot("queued"))


def test_blend_is_an_image_only_prompt_and_describe_is_refused() -> None:
    images = ("https://x.test/a.png", "https://x.test/b.png")
    request = adapter().submit(Job("blend", images=images, dimensions="portrait"))
    assert body(request) == {"text": "https://x.test/a.png https://x.test/b.png --ar 2:3"}
    with pytest.raises(Rejected, match="no describe"):
        adapter().submit(Job("describe", images=images[:1]))


# -- unsupported parameters, before anything is sent --------------------------------------


@pytest.mark.parametrize(
    ("prompt", "name", "column"),
    [
        ("a fox --repeat 3", "repeat", 7),
        ("a fox --r 3", "repeat", 7),
        ("a big fox --stealth", "stealth", 11),
        ("a fox --s 50 --public", "public", 14),
    ],
)
def test_unsupported_parameters_are_refused(prompt: str, name: str, column: int) -> None:
    with pytest.raises(PromptError, match=f"does not support --{name} .*remove it") as caught:
        check_prompt(adapter(), parse_prompt(prompt))
    assert caught.value.column == column


def test_supported_prompts_pass_the_check() -> None:
    for prompt in ("a fox --ar 3:2 --s 250 --seed 7", "a fox --niji 6 --relax", "a fox --v 7"):
        check_prompt(adapter(), parse_prompt(prompt))
    with pytest.raises(PromptError, match="at most 8192"):
        check_prompt(adapter(), parse_prompt("fox " * 2100))


# -- status and comment -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (0, "queued"),
        (1, "running"),
        (2, "succeeded"),
        (3, "failed"),
        (4, "failed"),
        ("1", "running"),
    ],
)
def test_integer_status(status: Any, expected: str) -> None:
    assert job_state({"status": status})[0] == expected


#: every documented comment code: the status it means and, for failures, a word of advice
COMMENT_TABLE = {
    "JobStatusCreated": ("queued", None),
    "JobStatusQueued": ("queued", None),
    "JobStatusRunning": ("running", None),
    "JobStatusSuccess": ("succeeded", None),
    "JobStatusCanceled": ("cancelled", "cancelled"),
    "JobStatusFail": ("failed", "submit it again"),
    "JobStatusError": ("failed", "submit it again"),
    "JobStatusReject": ("failed", "change the prompt"),
    "JobStatusTextReject": ("failed", "does not charge"),
    "JobStatusBadPrompt": ("failed", "does not charge"),
    "JobStatusInvalidParameter": ("failed", "does not charge"),
    "JobStatusTimeout": ("failed", "timed out"),
    "JobStatusRequestTimeout": ("failed", "timed out"),
    "JobStatusInvalidImagePromptLink": ("failed", "public http(s) link"),
    "JobStatusMaxConcurrentLimited": ("failed", "lower max_concurrency"),
    "JobStatusCreditNotEnough": ("failed", "top up"),
    "JobStatusImagePromptDenied": ("failed", "use another image"),
    "JobStatusDuplicateImage": ("failed", "duplicate"),
}


def test_every_documented_comment_is_known() -> None:
    assert set(COMMENT_TABLE) == set(COMMENTS)


@pytest.mark.parametrize("comment", sorted(COMMENT_TABLE))
def test_every_comment_code(comment: str) -> None:
    expected, advice = COMMENT_TABLE[comment]
    status, reason = job_state({"comment": comment})
    assert status == expected
    if advice is None:
        assert reason is None
    else:
        assert reason is not None and advice in reason and reason.endswith(".")
    snapshot = read({"comment": comment, "urls": URLS})
    assert snapshot.status == expected
    assert snapshot.error == reason


@pytest.mark.parametrize(
    ("comment", "expected"),
    [("成功", "succeeded"), ("任务成功", "succeeded"), ("失败", "failed"), ("生成失败", "failed")],
)
def test_chinese_comments(comment: str, expected: str) -> None:
    assert job_state({"status": None, "comment": comment})[0] == expected


def test_a_failure_comment_beats_the_status_number() -> None:
    status, reason = job_state({"status": 1, "comment": "JobStatusCreditNotEnough"})
    assert status == "failed" and reason is not None and "top up" in reason
    status, reason = job_state({"status": 4, "comment": ""})
    assert status == "failed" and reason is not None and "moderation" in reason
    assert job_state({"status": 3, "comment": "weird"})[1] == (
        "Youchuan reported the job failed (weird); submit it again."
    )
    assert job_state({})[0] == "queued"


def test_progress_is_derived_when_not_sent() -> None:
    assert started().status == "queued" and started().progress == 0
    running = read({"status": 1, "comment": "JobStatusRunning"})
    assert (running.status, running.progress) == ("running", 50)
    assert read({"status": 1, "progress": "72%"}).progress == 72


def test_success_without_urls_is_still_running() -> None:
    early = read({"status": 2, "comment": "JobStatusSuccess", "urls": []})
    assert early.status == "running" and not early.done
    assert early.progress == 95 and early.actions == []
    chinese = read({"status": 2, "comment": "成功", "urls": URLS, "audits": ["", "", "", ""]})
    assert chinese.status == "succeeded"


def test_a_finished_job_is_four_separate_images() -> None:
    done = grid()
    assert done.status == "succeeded" and done.progress == 100
    assert done.image_url is None  # no grid to fetch: it is composed locally
    assert done.image_urls == tuple(URLS)
    assert done.actions == [
        "U1",
        "U2",
        "U3",
        "U4",
        "V1",
        "V2",
        "V3",
        "V4",
        "reroll",
        "animate low",
        "animate high",
    ]
    assert done.extra["jobId"] == JOB and done.extra["image_nos"] == [0, 1, 2, 3]


def test_failed_and_cancelled_jobs() -> None:
    failed = read({"status": 3, "comment": "JobStatusTimeout"})
    assert failed.status == "failed" and "timed out" in (failed.error or "")
    cancelled = read({"status": 3, "comment": "JobStatusCanceled"})
    assert cancelled.status == "cancelled"
    rejected = read({"status": 4, "comment": "JobStatusReject"})
    assert rejected.status == "failed" and "moderation" in (rejected.error or "")


def test_images_withheld_by_moderation_are_left_out() -> None:
    done = grid(audits=["", "porn", "", ""])
    assert done.image_urls == (URLS[0], URLS[2], URLS[3])
    assert done.actions == [
        "U1",
        "U2",
        "U3",
        "V1",
        "V2",
        "V3",
        "reroll",
        "animate low",
        "animate high",
    ]
    chosen = select(done, "U2")  # the second image shown is Youchuan's imageNo 2
    assert chosen.image_url == URLS[2] and chosen.extra["imageNo"] == 2
    request = adapter().submit(act(done, "V3"))
    assert body(request) == {"jobId": JOB, "imageNo": 3, "type": 1}
    everything = read({"status": 2, "urls": URLS, "audits": ["x", "x", "x", "x"]})
    assert everything.status == "failed" and "withheld every image" in (everything.error or "")


# -- U1-U4 locally, and every edit with a 0-based imageNo ----------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_u_selects_an_image_locally(n: int) -> None:
    chosen = select(grid(), f"U{n}")
    assert chosen.status == "succeeded" and chosen.done
    assert chosen.image_url == URLS[n - 1]
    assert chosen.extra["jobId"] == JOB and chosen.extra["imageNo"] == n - 1
    assert chosen.actions == [
        "vary subtle",
        "vary strong",
        "zoom 2x",
        "zoom 1.5x",
        "zoom custom",
        "pan left",
        "pan right",
        "pan up",
        "pan down",
        "upscale subtle",
        "upscale creative",
        "vary region",
        "animate low",
        "animate high",
    ]
    assert resolve_locally(adapter(), Job("imagine", prompt="a fox")) is None
    assert resolve_locally(adapter(), act(grid(), f"V{n}")) is None


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_v_is_a_strong_variation_of_image_n(n: int) -> None:
    request = adapter().submit(act(grid(), f"V{n}"))
    assert str(request.url) == f"{BASE}/v1/tob/variation"
    assert body(request) == {"jobId": JOB, "imageNo": n - 1, "type": 1}


def test_reroll_sends_the_job_id_only() -> None:
    request = adapter().submit(act(grid(), "reroll"))
    assert (str(request.url), body(request)) == (f"{BASE}/v1/tob/reroll", {"jobId": JOB})


EDITS = {
    "vary subtle": ("variation", {"type": 0}),
    "vary strong": ("variation", {"type": 1}),
    "zoom 2x": ("outpaint", {"scale": 2.0}),
    "zoom 1.5x": ("outpaint", {"scale": 1.5}),
    "pan down": ("pan", {"direction": 0, "scale": 1.5}),
    "pan right": ("pan", {"direction": 1, "scale": 1.5}),
    "pan up": ("pan", {"direction": 2, "scale": 1.5}),
    "pan left": ("pan", {"direction": 3, "scale": 1.5}),
    "upscale subtle": ("upscale", {"type": 0}),
    "upscale creative": ("upscale", {"type": 1}),
}


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("label", sorted(EDITS))
def test_edits_after_u_use_the_parent_job_and_a_0_based_image(n: int, label: str) -> None:
    chosen = select(grid(), f"U{n}")
    request = adapter().submit(act(chosen, label))
    endpoint, fields = EDITS[label]
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/v1/tob/{endpoint}"
    assert body(request) == {"jobId": JOB, "imageNo": n - 1, **fields}


def test_v5_images_offer_the_2x_and_4x_upscales() -> None:
    assert (family("a fox --v 5.2"), family("a fox --niji 5"), family("a fox --v 6.1")) == (
        "5",
        "5",
        "6",
    )
    old = grid("a fox --v 5.2")
    chosen = select(old, "U3")
    assert "upscale subtle" not in chosen.actions
    for label, kind in (("upscale 2x", 2), ("upscale 4x", 3)):
        request = adapter().submit(act(chosen, label, "a fox --v 5.2"))
        assert body(request) == {"jobId": JOB, "imageNo": 2, "type": kind}


def test_an_upscale_is_one_image_that_cannot_be_upscaled_again() -> None:
    chosen = select(grid(), "U2")
    yc = adapter()
    job = act(chosen, "upscale creative")
    submitted = yc.parse_submit(job, answer(yc.submit(job), json={"id": "up-1", "status": 0}))
    assert submitted.remote_id == "up-1" and submitted.extra["kind"] == "upscaled"
    done = read({"status": 2, "urls": ["https://cdn.youchuan.cn/up-1/0.png"]}, submitted)
    assert done.status == "succeeded"
    assert done.image_url == "https://cdn.youchuan.cn/up-1/0.png" and done.image_urls == ()
    assert not any(label.startswith("upscale") for label in done.actions)
    assert "vary strong" in done.actions and "square" not in done.actions
    request = yc.submit(act(done, "pan up"))
    assert body(request) == {"jobId": "up-1", "imageNo": 0, "direction": 2, "scale": 1.5}


def test_edits_of_a_variation_are_a_new_grid() -> None:
    yc = adapter()
    job = act(grid(), "V3")
    submitted = yc.parse_submit(job, answer(yc.submit(job), json={"id": "var-1", "status": 1}))
    assert submitted.status == "running" and submitted.extra["kind"] == "grid"
    done = read({"status": 2, "urls": URLS}, submitted)
    chosen = select(done, "U1")
    assert body(yc.submit(act(chosen, "zoom 2x"))) == {"jobId": "var-1", "imageNo": 0, "scale": 2.0}


def test_a_changed_prompt_is_a_remix() -> None:
    chosen = select(grid(), "U4")
    request = adapter().submit(act(chosen, "vary strong", "a blue fox in snow --ar 3:2"))
    assert str(request.url) == f"{BASE}/v1/tob/remix"
    assert body(request) == {
        "jobId": JOB,
        "imageNo": 3,
        "remixPrompt": "a blue fox in snow --ar 3:2",
        "mode": 0,
    }
    subtle = adapter().submit(act(chosen, "vary subtle", "a blue fox"))
    assert body(subtle)["mode"] == 1
    zoom = adapter().submit(act(chosen, "zoom 1.5x", "a blue fox"))
    assert body(zoom) == {"jobId": JOB, "imageNo": 3, "scale": 1.5, "remixPrompt": "a blue fox"}


def test_actions_not_offered_are_refused() -> None:
    with pytest.raises(Rejected, match=r"does not offer 'zoom 2x'.*U1, U2"):
        adapter().submit(act(grid(), "zoom 2x"))
    with pytest.raises(Rejected, match="does not offer 'square'"):
        adapter().submit(act(select(grid(), "U1"), "square"))
    with pytest.raises(Rejected, match="does not offer 'U1'"):
        adapter().submit(act(grid(), "U1"))  # U is local: never a request


# -- errors -----------------------------------------------------------------------------

EXPECTED = {
    "Invalid_Argument": (400, Rejected, "check the prompt"),
    "Invalid_Prompt_Parameter": (400, Rejected, "--repeat, --stealth or --public"),
    "Job_ReUpscale_Not_Support": (400, Rejected, "upscale one of the grid's images"),
    "Invalid_App_Identifier": (401, AuthError, "MJNB_YOUCHUAN_APP and MJNB_YOUCHUAN_SECRET"),
    "No_More_Relax_Credit": (402, Rejected, "use fast mode"),
    "Account_Fee_Not_Enough": (402, Rejected, "top up your Youchuan account"),
    "Permission_Denied": (403, AuthError, "enable it for your app"),
    "Relax_Not_Allow": (403, Rejected, "remove --relax"),
    "Msg_Sensitive": (403, Rejected, "reword it"),
    "Upscale_Not_Support": (403, Rejected, "upscale 2x or 4x on V5"),
    "No_Avaliable_Plan": (403, Rejected, "subscribe"),
    "Not_Support": (405, Rejected, "choose another action"),
    "Max_Concurrent_Limited": (429, RateLimited, "submits it again when a slot frees"),
    "Server_Busy": (503, RateLimited, "submits it again in a moment"),
    "Request_Timout": (503, ProviderError, "did not send it again"),
    "Internal_Server_Error": (500, ProviderError, "try again later"),
}


def test_every_documented_reason_is_covered() -> None:
    assert set(EXPECTED) == set(REASONS)


@pytest.mark.parametrize("reason", sorted(EXPECTED))
def test_every_error_reason_becomes_an_actionable_error(reason: str) -> None:
    status, cls, advice = EXPECTED[reason]
    response = error_answer(status, reason)
    with pytest.raises(ProviderError) as caught:
        adapter().parse_submit(Job("imagine", prompt="a fox"), response)
    error = caught.value
    assert type(error) is cls
    assert advice in str(error)
    assert (error.code, error.status) == (reason, status)
    assert str(error).endswith(".")


def test_rate_limits_carry_retry_after() -> None:
    request = httpx.Request("POST", f"{BASE}/v1/tob/diffusion")
    payload = {"code": 429, "message": "limit", "reason": "Max_Concurrent_Limited"}
    response = answer(request, 429, json=payload, headers={"retry-after": "4"})
    with pytest.raises(RateLimited) as caught:
        adapter().parse_submit(Job("imagine", prompt="a fox"), response)
    assert caught.value.retry_after == 4.0


def test_unknown_reasons_fall_back_on_the_status() -> None:
    def raised(status: int, reason: str = "Something_New") -> ProviderError:
        with pytest.raises(ProviderError) as caught:
            adapter().parse_poll(started(), error_answer(status, reason, "what happened"))
        return caught.value

    assert type(raised(401, "")) is AuthError
    assert type(raised(429)) is RateLimited
    assert type(raised(418)) is Rejected and "what happened" in str(raised(418))
    assert type(raised(502)) is ProviderError
    assert "check base_url" in str(raised(404, ""))


def test_bodies_without_a_job_are_errors() -> None:
    yc = adapter()
    job = Job("imagine", prompt="a fox")
    with pytest.raises(ProviderError, match="without a job object"):
        yc.parse_submit(job, answer(yc.submit(job), content=b"<html>oops</html>"))
    with pytest.raises(ProviderError, match="no job id"):
        yc.parse_submit(job, answer(yc.submit(job), json={"status": 0}))
    wrapped = yc.parse_submit(job, answer(yc.submit(job), json={"data": {"id": "w-1"}}))
    assert wrapped.remote_id == "w-1"


# -- credentials ----------------------------------------------------------------------------


def test_the_secret_never_leaks() -> None:
    yc = adapter(token=CANARY)
    assert CANARY not in repr(yc)
    made = make_adapter("youchuan", app_id="app-1", token=CANARY)
    assert CANARY not in repr(made) and CANARY not in str(vars(made).get("base_url"))
    for reason in sorted(EXPECTED):
        status = EXPECTED[reason][0]
        response = error_answer(status, reason, f"bad secret {CANARY} for app-1")
        with pytest.raises(ProviderError) as caught:
            yc.parse_poll(started(), response)
        assert CANARY not in str(caught.value) and CANARY not in repr(caught.value)
    failed = yc.parse_poll(
        started(), answer(yc.poll(started()), json={"id": JOB, "status": 3, "comment": CANARY})
    )
    assert failed.status == "failed"
    assert CANARY not in repr(failed)
    chosen = resolve_locally(yc, act(grid(), "U1"))
    assert chosen is not None and CANARY not in repr(chosen)
    assert CANARY not in repr(yc.submit(act(chosen, "vary subtle")))
