"""The cases of issue 14, each in the real shapes of one protocol, and what each must get.

midjourney-proxy (``/mj/submit/imagine`` + ``/mj/task/{id}/fetch``) carries most cases;
Ace's NDJSON stream the stream cases; Zhishuyun's ``?token=`` the URL-encoded echo;
Youchuan's separate images the 12-URL and four-8000² cases.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .server import (
    CANARY,
    MIB,
    Handler,
    HostileServer,
    Reply,
    Request,
    forever,
    image_reply,
    once,
    padded,
    png,
    then,
    trickle,
)

# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    """One hostile answer: the protocol, how the server behaves, what the client must do.

    ``handler(server)`` builds the request handler once the server's URLs are known.
    ``client`` holds the Client knobs (``stall_timeout``, ``timeout``, ``task_timeout``,
    ``stream``) and script options (``listen``, ``card``, ``cache_file``, ``fsize``,
    ``truncate``, ``base_path``). ``budget`` bounds the wait for the final state;
    ``within`` is the promise (seconds), ``max_rss_mb`` the memory promise.
    """

    name: str
    about: str
    provider: str
    handler: Callable[[HostileServer], Handler]
    client: dict[str, Any] = field(default_factory=dict)
    within: float = 15.0
    budget: float = 20.0
    max_rss_mb: float = 400.0
    as_limit_mb: int = 1536
    #: "ended" (final with a reason), "succeeded" (and the image is on disk), "failed"
    expect: str = "ended"
    check: Callable[[Outcome], None] | None = None
    submits: int = 1  # requests that create the job; more means sent twice
    submit_path: str | None = None  # where they go, if not the provider's imagine path


@dataclass
class Outcome:
    case: Case
    result: dict[str, Any]
    server: HostileServer
    returncode: int
    stderr: str
    stdout: str


# ------------------------------------------------------------------ protocol shapes

T0 = int(time.time() * 1000)
SUBMIT_PATHS = {
    "mjproxy": "/mj/submit/",
    "acedata": "/midjourney/imagine",
    "zhishuyun": "/midjourney/imagine",
    "youchuan": "/v1/tob/diffusion",
}


def mj_task(status: str = "SUCCESS", **fields: Any) -> dict[str, Any]:
    """A midjourney-proxy task object (``GET /mj/task/{id}/fetch``)."""
    task = {
        "id": "t1",
        "action": "IMAGINE",
        "status": status,
        "progress": "100%" if status == "SUCCESS" else "50%",
        "prompt": "a hostile fox",
        "submitTime": T0,
        "startTime": T0 + 1000,
        "finishTime": T0 + 2000,
        "failReason": None,
        "buttons": [],
    }
    return {**task, **fields}


def mjproxy(
    submit: Callable[[Request], Reply] | None = None,
    fetch: Callable[[Request], Reply] | None = None,
    files: Callable[[Request], Reply] | None = None,
    prefix: str = "",
    batch: Callable[[Request], Reply] | None = None,
) -> Handler:
    """midjourney-proxy; ``batch`` answers ``/mj/task/list-by-condition`` (else a 404,
    as a server without the batch lookup gives)."""

    def handle(request: Request) -> Reply:
        path = request.path
        if path == prefix + "/mj/task/list-by-condition" and batch:
            return batch(request)
        if path == prefix + "/mj/submit/imagine":
            if submit:
                return submit(request)
            return Reply.json({"code": 1, "description": "Submitted", "result": "t1"})
        if path.startswith(prefix + "/mj/task/") and path.endswith("/fetch") and fetch:
            return fetch(request)
        if path.startswith(prefix + "/files/"):
            return files(request) if files else image_reply()
        return Reply(404, body=b'{"error": "not found"}')

    return handle


def ace(
    imagine: Callable[[Request], Reply] | None = None,
    tasks: Callable[[Request], Reply] | None = None,
    files: Callable[[Request], Reply] | None = None,
    describe: Callable[[Request], Reply] | None = None,
) -> Handler:
    """Ace Data Cloud / Zhishuyun: ``/midjourney/imagine``, ``/tasks``, ``/describe``."""

    def handle(request: Request) -> Reply:
        if request.path == "/midjourney/describe" and describe:
            return describe(request)
        if request.path.startswith("/midjourney/imagine"):
            return imagine(request) if imagine else Reply.json({"task_id": "t1"})
        if request.path == "/midjourney/tasks" and tasks:
            return tasks(request)
        if request.path.startswith("/files/"):
            return files(request) if files else image_reply()
        return Reply(404, body=b'{"detail": "not found"}')

    return handle


def ace_finished(**response: Any) -> Reply:
    data = {"task_id": "t1", "success": True, "progress": 100, "image_id": "i1"}
    data["actions"] = ["upscale1", "variation1"]
    return Reply.json({"id": "t1", "state": "finished", "response": {**data, **response}})


def youchuan(urls: Callable[[HostileServer], list[str]], server: HostileServer) -> Handler:
    def handle(request: Request) -> Reply:
        if request.path == "/v1/tob/diffusion":
            return Reply.json({"id": "j1", "status": 0, "comment": "JobStatusCreated"})
        if request.path == "/v1/tob/job/j1":
            found = urls(server)
            job = {"id": "j1", "type": "diffusion", "text": "a hostile fox", "status": 2}
            job |= {"comment": "JobStatusSuccess", "urls": found, "audits": [""] * len(found)}
            return Reply.json(job)
        if request.path.startswith("/files/"):
            return image_reply(request.path.rsplit("/", 1)[1].split(".")[0])
        return Reply(404, body=b'{"code": 404, "message": "not found", "reason": ""}')

    return handle


def after(server: HostileServer, polls: int, early: Reply, late: Callable[[], Reply]) -> Reply:
    """``early`` for the first ``polls`` polls, then ``late()``."""
    seen = server.count("GET", "/fetch") + server.count("POST", "/midjourney/tasks")
    return early if seen <= polls else late()


def wrong_image_url(value: Any) -> Callable[[HostileServer], Handler]:
    return lambda s: mjproxy(fetch=lambda r: Reply.json(mj_task(imageUrl=value)))


def wrong_start(value: float) -> Callable[[HostileServer], Handler]:
    def make(server: HostileServer) -> Handler:
        url = server.url + "/files/small.png"
        answer = mj_task(imageUrl=url, startTime=value, finishTime=value)
        return mjproxy(fetch=lambda r: Reply(body=json.dumps(answer).encode()))

    return make


def _ok_fetch(server: HostileServer) -> Callable[[Request], Reply]:
    return lambda r: Reply.json(mj_task(imageUrl=server.url + "/files/small.png"))


def _asked_batch(outcome: Outcome) -> None:
    asked = outcome.server.count("POST", "/mj/task/list-by-condition")
    assert 1 <= asked <= 3, f"the batch lookup was asked {asked} times (1 to 3 expected)"


def _check_other_port(outcome: Outcome) -> None:
    there = outcome.server.seen(lambda r: r.port == outcome.server.other_port)
    assert there, "the image on the other port was never downloaded"
    sent = [r.headers for r in there if "authorization" in r.headers]
    assert not sent, f"the bearer token went to another port: {sent}"


def _check_inside_base(outcome: Outcome) -> None:
    outside = [r.target for r in outcome.server.seen(lambda r: not r.target.startswith("/api/"))]
    assert not outside, f"requests left the base path /api: {outside}"


def _check_at_most_four(outcome: Outcome) -> None:
    fetched = outcome.server.count("GET", "/files/")
    assert fetched <= 4, f"{fetched} images downloaded; at most 4 result URLs are accepted"


def _check_names_folder(outcome: Outcome) -> None:
    error = outcome.result.get("error") or ""
    folder = str(Path(outcome.result["home"]) / "images")
    assert folder in error, f"the error does not name the cache folder {folder}: {error!r}"
    assert outcome.result.get("log_remote_id") == "t1", "the remote id was not kept"


def _check_damaged_cache(outcome: Outcome) -> None:
    result = outcome.result
    assert result.get("image_error"), "a truncated cache file read as a whole image"
    assert result.get("image_error_is_mjerror"), result.get("image_error")
    assert result.get("card") == "rendered", result.get("card")
    said = result.get("card_text") or ""
    assert "damaged" in said and "refetch()" in said, f"the card does not say why: {said!r}"


def _check_describe_capped(outcome: Outcome) -> None:
    count, chars = outcome.result.get("descriptions"), outcome.result.get("description_chars")
    assert count is not None and count <= 16, f"{count:,} descriptions kept (cap them)"
    assert chars is not None and chars <= 64_000, f"{chars:,} characters of descriptions kept"


def _many_descriptions(request: Request) -> Reply:
    texts = [f"a fox number {n}, --ar 1:1" for n in range(200_000)]
    return Reply.json({"success": True, "task_id": "d1", "descriptions": texts})


def _check_preview_pixels(outcome: Outcome) -> None:
    pixels = outcome.result.get("preview_pixels")
    assert pixels is None or pixels <= 64_000_000, f"a {pixels:,}-pixel preview was accepted"


def echo_token(lower: bool) -> Callable[[HostileServer], Handler]:
    def imagine(request: Request) -> Reply:
        if lower:
            said = f"token '{CANARY.lower()}' is not valid"
            return Reply.json(
                {"success": False, "error": {"code": "invalid_token", "message": said}}, 401
            )
        said = f"bad request to /midjourney/imagine?{request.query}"  # echoed URL-encoded
        return Reply.json(
            {"success": False, "error": {"code": "bad_request", "message": said}}, 400
        )

    return lambda s: ace(imagine=imagine)


def _stream_line_then_tail(server: HostileServer) -> Handler:
    first = b'{"task_id": "t1", "progress": 10}\n'
    stream = Reply(
        content_type="application/x-ndjson",
        chunks=then(once(first), padded(b'{"task_id": "t1", "progress": "', 400 * MIB)),
    )
    return ace(
        imagine=lambda r: stream,
        tasks=lambda r: ace_finished(image_url=server.url + "/files/small.png"),
    )


def _endless_stream(server: HostileServer) -> Handler:
    line = b'{"task_id": "t1", "progress": 50, "image_url": ""}\n'
    running = {"id": "t1", "state": "generating", "response": {"task_id": "t1", "progress": 50}}
    return ace(
        imagine=lambda r: Reply(content_type="application/x-ndjson", chunks=forever(line, 0.2)),
        tasks=lambda r: Reply.json(running),
    )


def _preview(kind: str, reply: Callable[[], Reply]) -> Callable[[HostileServer], Handler]:
    """Twenty polls show a running job (progress rising, so it never stalls) whose preview
    is ``reply()``; then it succeeds."""

    def make(server: HostileServer) -> Handler:
        preview = f"{server.url}/files/{kind}"
        done = _ok_fetch(server)

        def fetch(request: Request) -> Reply:
            polls = server.count("GET", "/fetch")
            if polls > 20:
                return done(request)
            return Reply.json(mj_task("IN_PROGRESS", imageUrl=preview, progress=f"{polls * 4}%"))

        def files(request: Request) -> Reply:
            return reply() if request.path.endswith(kind) else image_reply()

        return mjproxy(fetch=fetch, files=files)

    return make


def _big_preview() -> Reply:
    return Reply(content_type="text/html", chunks=padded(b"<html>", 300 * MIB), length=300 * MIB)


def _trickled(data: bytes, kind: str = "application/json") -> Reply:
    return Reply(content_type=kind, chunks=trickle(data, 2.0), length=len(data))


_SUBMITTED = json.dumps({"code": 1, "description": "Submitted", "result": "t1"}).encode()

CASES: list[Case] = [
    Case("imageurl_int", "imageUrl is an int", "mjproxy", wrong_image_url(5)),
    Case("imageurl_dict", "imageUrl is a dict", "mjproxy", wrong_image_url({"url": "x"})),
    Case("imageurl_list", "imageUrl is a list", "mjproxy", wrong_image_url(["http://a/b.png"])),
    Case("starttime_huge", "startTime 1e30 ms", "mjproxy", wrong_start(1e30)),
    Case("starttime_nan", "startTime NaN", "mjproxy", wrong_start(float("nan"))),
    Case("starttime_inf", "startTime Infinity", "mjproxy", wrong_start(float("inf"))),
    Case(
        "sub_image_urls_int",
        "Ace sub_image_urls is an int",
        "acedata",
        lambda s: ace(tasks=lambda r: ace_finished(image_url="", sub_image_urls=5)),
    ),
    Case(
        "sub_image_urls_ints",
        "Ace sub_image_urls is a list of ints",
        "acedata",
        lambda s: ace(tasks=lambda r: ace_finished(image_url="", sub_image_urls=[1, 2])),
    ),
    Case(
        "trickle_submit",
        "the submit answer comes 1 byte / 2 s",
        "mjproxy",
        lambda s: mjproxy(submit=lambda r: _trickled(_SUBMITTED), fetch=_ok_fetch(s)),
        within=12,
    ),
    Case(
        "trickle_poll",
        "every poll answer comes 1 byte / 2 s",
        "mjproxy",
        lambda s: mjproxy(fetch=lambda r: _trickled(json.dumps(mj_task()).encode())),
        within=15,
    ),
    Case(
        "trickle_download",
        "the image comes 1 byte / 2 s",
        "mjproxy",
        lambda s: mjproxy(fetch=_ok_fetch(s), files=lambda r: _trickled(png("small"), "image/png")),
        client={"task_timeout": 8.0},
        within=20,
        budget=30,
    ),
    Case(
        "endless_stream",
        "an NDJSON stream repeats 50% forever",
        "acedata",
        _endless_stream,
        client={"stream": True, "stall_timeout": 2.0},
        within=10,
    ),
    Case(
        "big_submit",
        "a 300 MB submit answer",
        "mjproxy",
        lambda s: mjproxy(
            submit=lambda r: Reply(
                chunks=padded(b'{"code": 1, "result": "t1", "description": "', 300 * MIB, b'"}'),
                length=300 * MIB,
            ),
            fetch=_ok_fetch(s),
        ),
        within=10,
    ),
    Case(
        "big_poll",
        "a 200 MB poll answer",
        "mjproxy",
        lambda s: mjproxy(
            fetch=lambda r: Reply(
                chunks=padded(b'{"id": "t1", "status": "IN_PROGRESS", "x": "', 200 * MIB, b'"}'),
                length=200 * MIB,
            )
        ),
        within=15,
    ),
    Case(
        "batch_flood",
        "a 200 MB batch lookup answer (list-by-condition); single fetches are fine",
        "mjproxy",
        lambda s: mjproxy(
            batch=lambda r: Reply(
                chunks=padded(b'[{"id": "t1", "x": "', 200 * MIB, b'"}]'), length=200 * MIB
            ),
            fetch=_ok_fetch(s),
        ),
        check=_asked_batch,
        expect="succeeded",
        within=10,
    ),
    Case(
        "batch_types",
        "the batch lookup answers t1 with a number for status and a dict for imageUrl",
        "mjproxy",
        lambda s: mjproxy(
            batch=lambda r: Reply.json([{"id": "t1", "status": 7, "imageUrl": {"a": 1}}]),
            fetch=_ok_fetch(s),
        ),
        check=_asked_batch,
        expect="succeeded",
        within=10,
    ),
    Case(
        "batch_trickle",
        "the batch lookup trickles a byte every 2 s; single fetches are fine",
        "mjproxy",
        lambda s: mjproxy(
            batch=lambda r: Reply(chunks=trickle(b'[{"id": "t1"}]', 2.0), length=14),
            fetch=_ok_fetch(s),
        ),
        client={"timeout": 1.0},
        check=_asked_batch,
        expect="succeeded",
        within=12,
    ),
    Case(
        "batch_echo",
        "the batch lookup fails t1 with a reason that echoes the token, lowercased",
        "mjproxy",
        lambda s: mjproxy(
            batch=lambda r: Reply.json(
                [{"id": "t1", "status": "FAILURE", "failReason": f"bad key {CANARY.lower()}"}]
            ),
        ),
        check=_asked_batch,
        expect="failed",
    ),
    Case(
        "big_stream_line",
        "a 400 MB NDJSON line without a newline",
        "acedata",
        _stream_line_then_tail,
        client={"stream": True},
        within=12,
    ),
    Case(
        "big_preview",
        "a 300 MB preview that is not an image",
        "mjproxy",
        _preview("preview.png", _big_preview),
        client={"listen": True},
        expect="succeeded",
        within=10,
    ),
    Case(
        "bomb_preview",
        "a 20 KB PNG preview of 13000² pixels",
        "mjproxy",
        _preview("bomb.png", lambda: image_reply("bomb")),
        client={"card": True, "listen": True},
        expect="succeeded",
        check=_check_preview_pixels,
        within=10,
    ),
    Case(
        "twelve_urls",
        "Youchuan answers 12 image URLs (8000² each)",
        "youchuan",
        lambda s: youchuan(lambda srv: [f"{srv.url}/files/big.png?n={n}" for n in range(12)], s),
        check=_check_at_most_four,
        within=15,
    ),
    Case(
        "four_big",
        "Youchuan answers four honest 8000² images",
        "youchuan",
        lambda s: youchuan(lambda srv: [f"{srv.url}/files/big.png?n={n}" for n in range(4)], s),
        expect="succeeded",
        max_rss_mb=2000,  # four decoded 8000² images are 768 MB before the grid
        as_limit_mb=2560,
        within=60,
        budget=90,
    ),
    Case(
        "token_other_port",
        "Ace's image URL is on the same host, another port",
        "acedata",
        lambda s: ace(tasks=lambda r: ace_finished(image_url=s.other_url + "/files/small.png")),
        expect="succeeded",
        check=_check_other_port,
    ),
    Case(
        "echo_encoded",
        "Zhishuyun's error echoes the ?token= URL-encoded",
        "zhishuyun",
        echo_token(lower=False),
        expect="failed",
    ),
    Case(
        "echo_lower",
        "Zhishuyun's error echoes the token lowercased",
        "zhishuyun",
        echo_token(lower=True),
        expect="failed",
    ),
    Case(
        "path_traversal",
        "the remote id is ../../../admin/secret?x=",
        "mjproxy",
        lambda s: mjproxy(
            submit=lambda r: Reply.json({"code": 1, "result": "../../../admin/secret?x="}),
            fetch=lambda r: Reply.json(mj_task(imageUrl=s.url + "/api/files/small.png")),
            prefix="/api",
        ),
        client={"base_path": "/api"},
        check=_check_inside_base,
    ),
    Case(
        "cache_unwritable",
        "the image cache folder cannot be created",
        "mjproxy",
        lambda s: mjproxy(fetch=_ok_fetch(s)),
        client={"cache_file": True},
        check=_check_names_folder,
    ),
    Case(
        "disk_full",
        "the disk fills up while the image is saved",
        "mjproxy",
        lambda s: mjproxy(fetch=_ok_fetch(s), files=lambda r: image_reply("noise")),
        client={"fsize": 512 * 1024},
        check=_check_names_folder,
    ),
    Case(
        "truncated_cache",
        "the cached image is cut in half later",
        "mjproxy",
        lambda s: mjproxy(fetch=_ok_fetch(s), files=lambda r: image_reply("noise")),
        client={"truncate": True},
        expect="succeeded",
        check=_check_damaged_cache,
    ),
    Case(
        "describe_200k",
        "a describe answers 200,000 descriptions",
        "acedata",
        lambda s: ace(tasks=None, imagine=None, files=None, describe=_many_descriptions),
        client={"describe": True},
        check=_check_describe_capped,
        submit_path="/midjourney/describe",
    ),
]
BY_NAME = {case.name: case for case in CASES}
