"""What every adapter shares through AdapterBase: hook defaults, the parsed prompt,
field types, path quoting, credentials to the exact origin only, and scrubbing.

Each case is a plain request built or a response read, with no server: the hostile
answers are the ones the red-team pass of issue 14 sent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest

from mjnb.errors import MJError, ProviderError
from mjnb.prompt import parse_prompt
from mjnb.providers import PROVIDERS, make_adapter
from mjnb.providers.acedata import SINGLE_MEDIA as ACE_SINGLE_MEDIA
from mjnb.providers.acedata import AceDataAdapter, ZhishuyunAdapter
from mjnb.providers.base import AdapterBase, Job, Snapshot, same_origin
from mjnb.providers.common import MAX_DESCRIPTION_CHARS, MAX_DESCRIPTIONS, epoch_seconds
from tests.conftest import CANARY

#: a token whose URL-encoded spelling differs from the raw one
SPECIAL = "sk/Canary+7f3a=9c~Q"
HOSTILE_ID = "../../../admin/secret?x="


def build(name: str, token: str = "tok", base_url: str = "http://127.0.0.1:8080") -> Any:
    extra = {"app_id": "app-1"} if name in ("metachat", "youchuan") else {}
    return make_adapter(name, base_url=base_url, token=token, **extra)


def answer(request: httpx.Request, status: int = 200, **kwargs: Any) -> httpx.Response:
    if "json" in kwargs:  # NaN and Infinity as a lax server writes them
        kwargs["content"] = json.dumps(kwargs.pop("json")).encode()
    return httpx.Response(status, request=request, **kwargs)


def spellings(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), quote_plus(secret), secret.lower(), secret.upper()]


def leaks(text: str, secret: str) -> bool:
    lowered = text.lower()
    return any(form.lower() in lowered for form in spellings(secret))


# -- the base and its defaults --------------------------------------------------------

#: the hooks an adapter implements for real (everything else is AdapterBase's)
OWN_HOOKS = {
    ("mjproxy", "cancel"),
    ("youchuan", "local"),
    ("youchuan", "check"),
    ("metachat", "check"),
}


def test_every_adapter_is_an_adapterbase_and_repeats_no_default() -> None:
    for name, cls in PROVIDERS.items():
        assert issubclass(cls, AdapterBase), name
        streams = name in ("acedata", "zhishuyun", "local")
        for hook in ("download", "cancel", "local", "check", "stream", "parse_line"):
            own = hook in cls.__dict__
            if (hook in ("stream", "parse_line") and streams) or (name, hook) in OWN_HOOKS:
                continue
            assert not own, f"{name} repeats the default {hook}"
        assert isinstance(cls.default_base_url, str)
        assert cls.poll_interval >= cls.min_poll_interval >= 0


def test_hook_defaults_need_no_probing() -> None:
    job = Job("imagine", prompt="a fox")
    queued = Snapshot("queued", remote_id="job-1")
    for name in ("metachat", "mjproxy", "youchuan"):
        adapter = build(name)
        assert adapter.stream(job) is None
        assert adapter.parse_line(job, b'{"progress": 5}') is None
        assert adapter.local(job) is None
        assert adapter.check(parse_prompt("a fox")) is None
    assert build("acedata").cancel(queued) is None  # Ace documents no cancel
    assert build("metachat").cancel(queued) is None
    assert build("youchuan").cancel(queued) is None  # its cancel path is undocumented
    assert build("mjproxy").cancel(queued) is not None


def test_secrets_lists_the_credentials() -> None:
    assert build("acedata", token=CANARY).secrets == (CANARY,)
    assert set(build("youchuan", token=CANARY).secrets) == {CANARY, "app-1"}
    assert make_adapter("mjproxy", base_url="http://h:1").secrets == ()


# -- the parsed prompt ----------------------------------------------------------------


def test_a_job_carries_its_parsed_prompt() -> None:
    job = Job("imagine", prompt="https://x/a.png a fox --v 6.1 --relax")
    assert job.parsed is not None and job.parsed.version == "6.1"
    assert job.parsed.images == ["https://x/a.png"]
    assert job.speed == "relax"
    assert Job("describe", images=("https://x/a.png",)).parsed is None
    assert Job("imagine", prompt="a fox --nonsense 3").parsed is None  # sent as written
    given = parse_prompt("a fox --niji 6")
    assert Job("imagine", prompt="a fox --niji 6", parsed=given).parsed is given


def test_adapters_read_the_parsed_prompt_not_the_text() -> None:
    # The client's Prompt is the authority: a version it read decides the model.
    niji = Job("imagine", prompt="a fox", parsed=parse_prompt("a fox --niji 6"))
    metachat = build("metachat").submit(niji)
    assert json.loads(metachat.content)["model"] == "mj-niji-v6"
    relax = Job("imagine", prompt="a fox", mode="fast", parsed=parse_prompt("a fox --relax"))
    assert json.loads(build("mjproxy").submit(relax).content)["prompt"] == "a fox"
    ace = build("acedata").submit(Job("imagine", prompt="a fox", parsed=parse_prompt("a --turbo")))
    assert json.loads(ace.content)["mode"] == "turbo"
    old = Job("imagine", prompt="a fox", parsed=parse_prompt("a fox --v 5.2"))
    youchuan = build("youchuan")
    first = youchuan.parse_submit(old, answer(youchuan.submit(old), json={"id": "j1"}))
    assert first.extra["model"] == "5"


# -- field types ----------------------------------------------------------------------


def mjproxy_poll(task: dict[str, Any]) -> Snapshot:
    adapter = build("mjproxy")
    before = Snapshot("queued", remote_id="t1")
    return adapter.parse_poll(before, answer(adapter.poll(before), json=task))  # type: ignore[no-any-return]


def ace_poll(response: dict[str, Any]) -> Snapshot:
    adapter = build("acedata")
    before = Snapshot("queued", remote_id="t1")
    record = {"id": "t1", "response": response}
    return adapter.parse_poll(before, answer(adapter.poll(before), json=record))  # type: ignore[no-any-return]


def metachat_poll(data: dict[str, Any]) -> Snapshot:
    adapter = build("metachat")
    before = Snapshot("queued", remote_id="t1", extra={"kind": "grid"})
    envelope = {"status": "Success", "data": {"id": "t1", **data}}
    return adapter.parse_poll(before, answer(adapter.poll(before), json=envelope))  # type: ignore[no-any-return]


def youchuan_poll(data: dict[str, Any]) -> Snapshot:
    adapter = build("youchuan")
    before = Snapshot("queued", remote_id="j1", extra={"kind": "grid", "model": "6"})
    return adapter.parse_poll(before, answer(adapter.poll(before), json={"id": "j1", **data}))  # type: ignore[no-any-return]


WRONG_URLS: list[Any] = [7, {"url": "https://x/a.png"}, ["https://x/a.png"], True, 1.5]
SUCCESS_MJPROXY = {"status": "SUCCESS", "action": "IMAGINE", "progress": "100%"}


@pytest.mark.parametrize("value", WRONG_URLS)
def test_an_image_url_of_the_wrong_type_is_a_provider_error(value: Any) -> None:
    cases: list[Callable[[], Snapshot]] = [
        lambda: mjproxy_poll({**SUCCESS_MJPROXY, "imageUrl": value}),
        lambda: ace_poll({"success": True, "progress": 100, "image_url": value}),
        lambda: metachat_poll({"status": "success", "image_url": value}),
    ]
    for case in cases:
        with pytest.raises(ProviderError, match="not text"):
            case()


@pytest.mark.parametrize("value", [7, "https://x/a.png", {"a": 1}, [1, 2], [None, 3]])
def test_url_lists_must_be_lists_of_strings(value: Any) -> None:
    with pytest.raises(ProviderError):
        youchuan_poll({"status": 2, "urls": value})
    with pytest.raises(ProviderError):
        ace_poll({"progress": 100, "image_url": "https://x/f.png", "sub_image_urls": value})


def test_at_most_four_result_urls_before_any_download() -> None:
    twelve = [f"https://x/{n}.png" for n in range(12)]
    with pytest.raises(ProviderError, match="12 result urls; a job has at most 4"):
        youchuan_poll({"status": 2, "urls": twelve})
    with pytest.raises(ProviderError, match="at most 4"):
        ace_poll({"progress": 100, "image_url": "https://x/f.png", "sub_image_urls": twelve[:5]})
    four = youchuan_poll({"status": 2, "urls": twelve[:4]})
    assert len(four.image_urls) == 4


@pytest.mark.parametrize("value", [{"id": 1}, [1], 1.5, True])
def test_ids_of_the_wrong_type_are_provider_errors(value: Any) -> None:
    ace = build("acedata")
    job = Job("imagine", prompt="a fox")
    with pytest.raises(ProviderError, match="task_id"):
        ace.parse_submit(job, answer(ace.submit(job), json={"task_id": value}))
    mjp = build("mjproxy")
    with pytest.raises(ProviderError):
        mjp.parse_submit(job, answer(mjp.submit(job), json={"code": 1, "result": value}))
    mc = build("metachat")
    with pytest.raises(ProviderError):
        mc.parse_submit(
            job, answer(mc.submit(job), json={"status": "Success", "data": {"id": value}})
        )
    yc = build("youchuan")
    with pytest.raises(ProviderError):
        yc.parse_submit(job, answer(yc.submit(job), json={"id": value}))
    with pytest.raises(ProviderError, match="image_id"):
        ace_poll({"progress": 100, "image_url": "https://x/f.png", "image_id": value})


def test_integer_ids_are_read_as_their_digits() -> None:
    mjp = build("mjproxy")
    job = Job("imagine", prompt="a fox")
    snap = mjp.parse_submit(job, answer(mjp.submit(job), json={"code": 1, "result": 1712}))
    assert snap.remote_id == "1712"


@pytest.mark.parametrize("value", [math.nan, math.inf, 1e27, -5, 0, "1716000000000", True])
def test_timestamps_that_are_not_finite_and_in_range_are_dropped(value: Any) -> None:
    running = {"status": "IN_PROGRESS", "progress": "40%", "startTime": value}
    assert "started_at" not in mjproxy_poll(running).extra
    done = {**SUCCESS_MJPROXY, "imageUrl": "https://x/a.png", "finishTime": value}
    assert "finished_at" not in mjproxy_poll(done).extra
    assert "started_at" not in metachat_poll({"status": "in_progress", "started_at": value}).extra
    good = mjproxy_poll({**SUCCESS_MJPROXY, "imageUrl": "https://x/a.png", "startTime": 1.7e12})
    assert good.extra["started_at"] == 1.7e9
    assert epoch_seconds(1.7e9) == 1.7e9 and epoch_seconds(1.7e12) is None


def test_describe_results_are_capped_and_say_so() -> None:
    ace = build("acedata")
    job = Job("describe", images=("https://x/cat.png",))
    many = [f"a cat number {n}" for n in range(200_000)]
    snap = ace.parse_submit(job, answer(ace.submit(job), json={"descriptions": many}))
    assert len(snap.descriptions) == MAX_DESCRIPTIONS
    assert "kept the first 10 of 200000 descriptions" in snap.extra["notice"]
    long = ace.parse_submit(job, answer(ace.submit(job), json={"descriptions": ["x" * 10**6]}))
    assert len(long.descriptions[0]) == MAX_DESCRIPTION_CHARS
    assert long.descriptions[0].endswith("…") and "shortened 1" in long.extra["notice"]
    few = ace.parse_submit(job, answer(ace.submit(job), json={"descriptions": ["a", "b"]}))
    assert few.descriptions == ("a", "b") and "notice" not in few.extra
    text = "\n".join(f"{n}. a dog" for n in range(50))
    proxy = mjproxy_poll({"status": "SUCCESS", "action": "DESCRIBE", "prompt": text})
    assert len(proxy.descriptions) == MAX_DESCRIPTIONS and "notice" in proxy.extra
    mc = metachat_poll({"status": "success", "image_description": text})
    assert len(mc.descriptions) == MAX_DESCRIPTIONS and "of 50" in mc.extra["notice"]


def test_hostile_fields_elsewhere_never_crash() -> None:
    # buttons, actions, audits, reasons of the wrong shape are skipped, not trusted
    odd = mjproxy_poll({**SUCCESS_MJPROXY, "action": {"x": 1}, "buttons": "U1"})
    assert odd.wire == {}
    bad_actions = ace_poll({"progress": 100, "image_url": "https://x/a.png", "actions": [{}, 1]})
    # none of the hostile entries is read; a single image offers Ace's media labels only
    assert bad_actions.status == "succeeded" and bad_actions.wire == dict(ACE_SINGLE_MEDIA)
    failed = mjproxy_poll({"status": "FAILURE", "failReason": {"why": 1}})
    assert failed.status == "failed" and failed.error
    audited = youchuan_poll({"status": 2, "urls": ["https://x/a.png"] * 4, "audits": 3})
    assert len(audited.image_urls) == 4


# -- paths ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "base", "prefix"),
    [
        ("mjproxy", "http://127.0.0.1:8080/base", "/base/mj/task/"),
        ("metachat", "http://127.0.0.1:8080/open/v1", "/open/v1/midjourney/result/"),
        ("youchuan", "http://127.0.0.1:8080/base", "/base/v1/tob/job/"),
    ],
)
def test_remote_ids_are_quoted_and_stay_inside_the_base_path(
    name: str, base: str, prefix: str
) -> None:
    adapter = build(name, base_url=base)
    snap = Snapshot("running", remote_id=HOSTILE_ID)
    requests = [adapter.poll(snap)]
    cancel = adapter.cancel(snap)
    if cancel is not None:
        requests.append(cancel)
    for request in requests:
        assert request.url.path.startswith(prefix)
        assert request.url.raw_path.startswith(prefix.encode())
        assert b"/../" not in request.url.raw_path and b"admin/" not in request.url.raw_path
        assert request.url.query == b""
        assert request.url.path[len(prefix) :].startswith(HOSTILE_ID)  # one segment
    for dots in ("..", "."):
        with pytest.raises(ProviderError, match="not a valid task id"):
            adapter.poll(Snapshot("running", remote_id=dots))


# -- credentials to the exact origin --------------------------------------------------


def test_same_origin_compares_scheme_host_and_port() -> None:
    base = "https://api.acedata.cloud"
    assert same_origin("https://api.acedata.cloud/files/a.png", base)
    assert same_origin("https://API.acedata.cloud:443/a.png", base)
    assert not same_origin("http://api.acedata.cloud/a.png", base)
    assert not same_origin("https://api.acedata.cloud:8443/a.png", base)
    assert not same_origin("https://cdn.acedata.cloud/a.png", base)
    assert not same_origin("https://api.acedata.cloud.evil.example/a.png", base)
    assert not same_origin("not a url at all", base)


@pytest.mark.parametrize("name", ["acedata", "metachat", "mjproxy", "youchuan"])
def test_downloads_carry_credentials_only_to_the_exact_origin(name: str) -> None:
    adapter = build(name, token=CANARY, base_url="https://api.example.com:8443/base")
    own = adapter.download("https://api.example.com:8443/files/a.png")
    assert any(CANARY in value for value in own.headers.values())
    for url in (
        "http://api.example.com:8443/files/a.png",  # another scheme
        "https://api.example.com/files/a.png",  # another port
        "https://api.example.com:9443/files/a.png",
        "https://cdn.example.com:8443/files/a.png",  # another host
    ):
        request = adapter.download(url)
        sent = " ".join(request.headers.values()) + str(request.url)
        assert CANARY not in sent and "app-1" not in sent, url


def test_zhishuyun_never_puts_its_token_into_a_download() -> None:
    adapter = ZhishuyunAdapter(base_url="https://api.zhishuyun.com", token=CANARY)
    request = adapter.download("https://api.zhishuyun.com/a.png")
    assert CANARY not in str(request.url) + " ".join(request.headers.values())


# -- the canary: no echo of a token survives into an error ----------------------------


def echoes(secret: str) -> str:
    return " / ".join(spellings(secret))


def error_texts(name: str, secret: str) -> list[str]:
    """Every error message and failed snapshot an echoing provider makes us build."""
    adapter = build(name, token=secret)
    echo = f"bad token {echoes(secret)}"
    job = Job("imagine", prompt="a fox")
    request = adapter.submit(job)
    queued = Snapshot("queued", remote_id="t1", extra={"kind": "grid", "model": "6"})
    poll = adapter.poll(queued)
    answers: dict[str, list[tuple[httpx.Request, int, Any]]] = {
        "acedata": [
            (request, status, {"success": False, "error": {"code": echo, "message": echo}})
            for status in (200, 400, 401, 403, 429, 500)
        ]
        + [(request, 200, {"code": "busy", "detail": echo}), (request, 502, echo)],
        "metachat": [(request, 200, {"status": "Fail", "message": echo})]
        + [(request, status, {"message": echo}) for status in (400, 500)]
        + [(poll, 500, {"status": "Fail", "message": f"not found {echo}"})],
        "mjproxy": [(request, 200, {"code": code, "description": echo}) for code in (4, 9, 23)]
        + [(request, 200, {"code": 24, "properties": {"bannedWord": echo, "promptEn": echo}})]
        + [(request, 500, echo), (poll, 502, echo)],
        "youchuan": [
            (request, status, {"code": status, "message": echo, "reason": echo})
            for status in (400, 402, 403, 500, 503)
        ],
    }
    texts: list[str] = []
    for req, status, payload in answers[name]:
        kwargs = {"content": payload.encode()} if isinstance(payload, str) else {"json": payload}
        response = answer(req, status, **kwargs)
        parse = adapter.parse_poll if req is poll else adapter.parse_submit
        first = queued if req is poll else job
        with pytest.raises(MJError) as caught:
            parse(first, response)
        texts += [str(caught.value), repr(caught.value), str(getattr(caught.value, "code", ""))]
    failed = {
        "acedata": {"id": "t1", "response": {"success": False, "error": {"message": echo}}},
        "metachat": {"status": "Success", "data": {"status": "failure", "fail_reason": echo}},
        "mjproxy": {"status": "FAILURE", "failReason": echo},
        "youchuan": {"id": "t1", "status": 3, "comment": echo},
    }[name]
    snap = adapter.parse_poll(queued, answer(poll, json=failed))
    texts.append(str(snap.error))
    if name == "acedata":
        line = json.dumps({"success": False, "task_id": "t", "error": {"message": echo}})
        texts.append(str(adapter.parse_line(job, line.encode())))
    if name == "mjproxy":
        cancel = adapter.cancel(queued)
        for status, body in ((400, f"演示模式 {echo}"), (500, echo)):
            with pytest.raises(MJError) as refused:
                adapter.parse_cancel(queued, answer(cancel, status, content=body.encode()))
            texts.append(str(refused.value))
    return texts


@pytest.mark.parametrize("secret", [CANARY, SPECIAL])
@pytest.mark.parametrize("name", ["acedata", "metachat", "mjproxy", "youchuan"])
def test_no_echo_of_the_token_reaches_an_error(name: str, secret: str) -> None:
    texts = error_texts(name, secret)
    assert len(texts) >= 5
    for text in texts:
        assert not leaks(text, secret), text


def test_zhishuyun_query_token_echo_is_scrubbed() -> None:
    adapter = ZhishuyunAdapter(token=SPECIAL)
    job = Job("imagine", prompt="a")
    echo = f"https://api.zhishuyun.com/x?token={quote(SPECIAL, safe='')} rejected"
    response = answer(adapter.submit(job), 401, json={"code": "invalid_token", "detail": echo})
    with pytest.raises(ProviderError) as caught:
        adapter.parse_submit(job, response)
    assert not leaks(str(caught.value), SPECIAL)
    assert isinstance(AceDataAdapter(token="t"), AdapterBase)
