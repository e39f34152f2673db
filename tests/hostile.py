"""A hostile provider: every broken or malicious answer of issue 14, over real loopback HTTP.

:class:`HostileServer` is a raw asyncio HTTP/1.1 server in a thread (byte-level control:
trickles, bodies that never end, lines without a newline). Big bodies are generated
lazily from one constant chunk, so the server never holds them in memory. Every request
is recorded (method, path, headers) so a test can prove what the client sent and where.

Each :class:`Case` (see :data:`CASES`) speaks one real protocol's shapes
(midjourney-proxy, Ace/Zhishuyun, Youchuan) and names what the client must do.
:func:`run_case` serves it and runs the client in a **subprocess** with an address-space
limit, so a client that reads a 400 MB answer whole fails fast instead of
swapping the shared machine. The subprocess is this file run as a script (``client``):
it uses only mjnb's public API and prints one JSON line (status, reason, time to the
final state, the log row, peak RSS).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

ROOT = Path(__file__).resolve().parents[1]
#: a credential whose URL-encoded, lower- and upper-case spellings all differ from it
CANARY = "sk/CANARY+7f3a9c=Do-Not-Leak"
MIB = 1 << 20
_CHUNK = b"A" * MIB


def spellings(secret: str = CANARY) -> set[str]:
    """Every form a server may echo a secret in: raw, URL-encoded, any case."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}
    return {case(form) for form in forms for case in (str, str.lower, str.upper)}


def leaks(text: str | bytes, secret: str = CANARY) -> list[str]:
    """The spellings of ``secret`` found in ``text`` (case-insensitive)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    low = text.lower()
    return sorted(form for form in spellings(secret) if form.lower() in low)


# ---------------------------------------------------------------------------- the server


@dataclass
class Request:
    method: str
    target: str  # the raw request target as sent: path and query
    headers: dict[str, str]
    body: bytes
    port: int

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


Chunks = Callable[[], AsyncIterator[bytes]]


@dataclass
class Reply:
    status: int = 200
    content_type: str = "application/json"
    body: bytes | None = None
    chunks: Chunks | None = None  # a lazy body; with ``length`` None it ends at close
    length: int | None = None

    @classmethod
    def json(cls, value: Any, status: int = 200) -> Reply:
        return cls(status, body=json.dumps(value).encode())


Handler = Callable[[Request], "Reply | Awaitable[Reply]"]


class HostileServer:
    """Loopback HTTP on a free port (``url``) and a second one (``other_url``, same host).

    ``handler(request)`` answers every request on either port; ``requests`` records them.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self._servers: list[asyncio.base_events.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        ports = asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(10)
        self.port, self.other_port = ports
        self.url = f"http://127.0.0.1:{self.port}"
        self.other_url = f"http://127.0.0.1:{self.other_port}"

    async def _listen(self) -> list[int]:
        ports = []
        for _ in range(2):
            server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=1 << 16)
            self._servers.append(server)
            ports.append(server.sockets[0].getsockname()[1])
        return ports

    def seen(self, predicate: Callable[[Request], bool] = lambda r: True) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if predicate(r)]

    def count(self, method: str, fragment: str) -> int:
        return len(self.seen(lambda r: r.method == method and fragment in r.path))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            size = int(headers.get("content-length") or 0)
            body = await reader.readexactly(min(size, 4 * MIB)) if size else b""
            port = writer.get_extra_info("sockname")[1]
            request = Request(method, target, headers, body, port)
            with self._lock:
                self.requests.append(request)
            reply = self.handler(request)
            if not isinstance(reply, Reply):
                reply = await reply
            await self._send(writer, reply)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, reply: Reply) -> None:
        length = len(reply.body) if reply.body is not None else reply.length
        head = f"HTTP/1.1 {reply.status} X\r\ncontent-type: {reply.content_type}\r\n"
        if length is not None:
            head += f"content-length: {length}\r\n"
        writer.write((head + "connection: close\r\n\r\n").encode())
        if reply.body is not None:
            writer.write(reply.body)
        await writer.drain()
        if reply.chunks is not None:
            async for chunk in reply.chunks():
                writer.write(chunk)
                await writer.drain()  # back-pressure: nothing piles up in the server

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.close()
            for writer in list(self._writers):  # endless answers: hang up on them
                writer.close()
            current = asyncio.current_task()
            pending = [t for t in asyncio.all_tasks() if t is not current]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        if self.loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# ------------------------------------------------------------------------- lazy bodies


def padded(prefix: bytes, total: int, suffix: bytes = b"") -> Chunks:
    """``prefix``, then ``A`` bytes, then ``suffix``: ``total`` bytes, made lazily."""

    async def chunks() -> AsyncIterator[bytes]:
        yield prefix
        left = total - len(prefix) - len(suffix)
        while left > 0:
            piece = _CHUNK if left >= MIB else _CHUNK[:left]
            yield piece
            left -= len(piece)
        if suffix:
            yield suffix

    return chunks


def trickle(data: bytes, every: float = 2.0) -> Chunks:
    """``data`` one byte every ``every`` seconds."""

    async def chunks() -> AsyncIterator[bytes]:
        for byte in data:
            await asyncio.sleep(every)
            yield bytes([byte])

    return chunks


def forever(line: bytes, every: float = 0.1) -> Chunks:
    """``line`` again and again, for as long as the client reads."""

    async def chunks() -> AsyncIterator[bytes]:
        while True:
            yield line
            await asyncio.sleep(every)

    return chunks


def then(*parts: Chunks) -> Chunks:
    async def chunks() -> AsyncIterator[bytes]:
        for part in parts:
            async for chunk in part():
                yield chunk

    return chunks


def once(data: bytes) -> Chunks:
    async def chunks() -> AsyncIterator[bytes]:
        yield data

    return chunks


# --------------------------------------------------------------------------- images

_IMAGES: dict[str, bytes] = {}


def png(kind: str) -> bytes:
    """Test pictures, made once per process: ``small`` (a 64 px grid), ``noise``
    (~1 MB that does not compress), ``big`` (an honest 8000² image, ~200 KB),
    ``bomb`` (13000² pixels in ~20 KB)."""
    if kind not in _IMAGES:
        import io
        import random

        from PIL import Image, ImageDraw

        if kind == "small":
            image = Image.new("RGB", (64, 64), (40, 90, 160))
            ImageDraw.Draw(image).line((0, 0, 63, 63), fill=(250, 200, 0), width=3)
        elif kind == "noise":
            image = Image.frombytes("RGB", (600, 600), random.Random(1).randbytes(600 * 600 * 3))
        elif kind == "big":
            image = Image.new("RGB", (8000, 8000), (30, 120, 60))
            ImageDraw.Draw(image).rectangle((1000, 1000, 7000, 7000), fill=(200, 60, 40))
        elif kind == "bomb":
            image = Image.new("1", (13000, 13000))
        else:
            raise KeyError(kind)
        out = io.BytesIO()
        image.save(out, "PNG")
        del image
        _IMAGES[kind] = out.getvalue()
    return _IMAGES[kind]


def image_reply(kind: str = "small") -> Reply:
    return Reply(content_type="image/png", body=png(kind))


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


def run_case(case: Case, home: Path, *, extra_env: dict[str, str] | None = None) -> Outcome:
    """Serve ``case`` and run a client against it in a capped subprocess."""
    server = HostileServer(lambda request: Reply(404))
    try:
        server.handler = case.handler(server)
        spec = {
            "provider": case.provider,
            "url": server.url + case.client.get("base_path", ""),
            "home": str(home),
            "budget": case.budget,
            "client": case.client,
        }
        env = client_env(home, **(extra_env or {}))
        done = run_client(spec, env, as_limit_mb=case.as_limit_mb, timeout=case.budget + 60)
        done[0]["home"] = str(home)
        return Outcome(case, done[0], server, done[1], done[2], done[3])
    finally:
        server.close()


def run_client(
    spec: dict[str, Any], env: dict[str, str], *, as_limit_mb: int, timeout: float
) -> tuple[dict[str, Any], int, str, str]:
    """This file as a script in a subprocess whose address space is capped."""

    def cap() -> None:
        import resource

        limit = as_limit_mb * MIB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "client", json.dumps(spec)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            preexec_fn=cap,
        )
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
        crashed = {"status": "hung", "done": False, "error": "client process hung"}
        return crashed, -9, err, ""
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if lines:
        return json.loads(lines[-1]), done.returncode, done.stderr, done.stdout
    tail = done.stderr.strip().splitlines()[-3:]
    result = {
        "status": "crashed",
        "done": False,
        "error": f"client process exited {done.returncode}: {' | '.join(tail)}",
        "seconds": time.monotonic() - started,
    }
    return result, done.returncode, done.stderr, done.stdout


# ---------------------------------------------------------------------- the client side


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def client_main(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one task against the hostile server with the public API; report what happened."""
    import logging
    import resource
    import signal

    import mjnb

    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)  # log lines must not leak
    options = dict(spec["client"])
    home = Path(spec["home"])
    home.mkdir(parents=True, exist_ok=True)
    if options.pop("cache_file", False):
        (home / "images").write_text("not a folder\n")  # an unwritable image cache
    knobs: dict[str, Any] = {
        "base_url": spec["url"],
        "token": CANARY,
        "poll_interval": options.get("poll_interval", 0.1),
        "stall_timeout": options.get("stall_timeout", 3.0),
        "timeout": options.get("timeout", 3.0),
        "stream": options.get("stream", False),
    }
    if spec["provider"] == "youchuan":
        knobs["app_id"] = "app-1"
    notes = []
    if "task_timeout" in options:
        knobs["task_timeout"] = options["task_timeout"]
    try:
        mj = mjnb.Client(spec["provider"], **knobs)
    except TypeError as exc:
        if "task_timeout" not in str(exc):
            raise
        knobs.pop("task_timeout")
        notes.append("Client does not take task_timeout=")
        mj = mjnb.Client(spec["provider"], **knobs)
    result: dict[str, Any] = {"notes": notes}
    if options.get("fsize"):  # a full disk: no file may grow past this many bytes
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (options["fsize"], options["fsize"]))

    if options.get("resume"):  # a later kernel: follow what a dead one left running
        tasks = list(mj.resumed)
        result["resumed"] = len(tasks)
        if not tasks:
            result.update(status="nothing resumed", done=False, error=None)
            return result
        task, started = tasks[0], time.monotonic()
    else:
        started = time.monotonic()
        if options.get("describe"):
            task = mj.describe("https://example.com/a-fox.png")
        else:
            task = mj.imagine("a hostile fox --ar 1:1")
        print(json.dumps({"task_id": task.id}), flush=True)
    if options.get("listen"):
        task.add_listener(lambda _task: None)  # a view watches it: previews are fetched
    card = None
    if options.get("card"):
        from mjnb.notebook.card import TaskCard

        card = TaskCard(task)
    with contextlib.suppress(mjnb.Timeout):
        task.wait(spec["budget"])
    result.update(_report(mj, task, started))
    if options.get("describe"):
        result["descriptions"] = len(task.descriptions)
        result["description_chars"] = sum(len(d) for d in task.descriptions)
    if options.get("preview_pixels") or options.get("listen"):
        result["preview_pixels"] = _pixels(task.preview)
    if card is not None:
        card.flush()
    if options.get("truncate") and task.image_path:
        result.update(_truncated(spec, knobs, task))
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return result


def _report(mj: Any, task: Any, started: float) -> dict[str, Any]:
    seconds = round(time.monotonic() - started, 2)
    row: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        frame = mj.log()
        rows = frame[frame["task_id"] == task.id].to_dict("records")
        row = {k: (None if v != v else v) for k, v in (rows[0] if rows else {}).items()}
    image = task.image_path
    return {
        "task_id": task.id,
        "status": task.status,
        "done": task.done,
        "error": task.error,
        "repr": repr(task),
        "remote_id": task.snapshot.remote_id,
        "seconds": seconds,
        "image_exists": bool(image and Path(image).exists()),
        "log_status": row.get("status"),
        "log_error": row.get("error"),
        "log_remote_id": row.get("remote_id"),
        "log_finished": row.get("finished_at") is not None,
    }


def _pixels(data: bytes | None) -> int | None:
    if not data:
        return None
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:  # the header only, never decoded
            return int(image.size[0] * image.size[1])
    except Exception:
        return -1


def _truncated(spec: dict[str, Any], knobs: dict[str, Any], task: Any) -> dict[str, Any]:
    """Damage the cached image, then read the task as a later session would."""
    import mjnb

    path = Path(task.image_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    later = mjnb.Client(spec["provider"], **knobs).task(task.id)
    report: dict[str, Any] = {}
    try:
        later.image  # noqa: B018 - reading it is the test
        report["image_error"] = None
    except mjnb.MJError as exc:
        report["image_error"] = f"{type(exc).__name__}: {exc}"
        report["image_error_is_mjerror"] = True
    except Exception as exc:
        report["image_error"] = f"{type(exc).__name__}: {exc}"
        report["image_error_is_mjerror"] = False
    try:
        from mjnb.notebook.card import TaskCard

        card = TaskCard(later)
        card.flush()
        report["card"] = "rendered"
        report["card_text"] = card.message.value
    except Exception as exc:
        report["card"] = f"{type(exc).__name__}: {exc}"
    return report


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
) -> Handler:
    def handle(request: Request) -> Reply:
        path = request.path
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


def _echo(lower: bool) -> Callable[[HostileServer], Handler]:
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
    """Twenty polls show a running job whose preview is ``reply()``, then it succeeds."""

    def make(server: HostileServer) -> Handler:
        running = Reply.json(mj_task("IN_PROGRESS", imageUrl=f"{server.url}/files/{kind}"))
        done = _ok_fetch(server)

        def files(request: Request) -> Reply:
            return reply() if request.path.endswith(kind) else image_reply()

        return mjproxy(fetch=lambda r: after(server, 20, running, lambda: done(r)), files=files)

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
        _echo(lower=False),
        expect="failed",
    ),
    Case(
        "echo_lower",
        "Zhishuyun's error echoes the token lowercased",
        "zhishuyun",
        _echo(lower=True),
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


# ----------------------------------------------------------------------- the verdict

TERMINAL = ("succeeded", "failed", "cancelled")


def problems(outcome: Outcome) -> list[str]:
    """What the client did wrong on this case (empty: it kept every promise of issue 14)."""
    case, result, found = outcome.case, outcome.result, []
    status, error = result.get("status"), result.get("error") or ""
    if not result.get("done") or status not in TERMINAL:
        found.append(f"never reached a final state (status {status}, after {case.budget} s)")
    elif result.get("seconds", 0) > case.within:
        found.append(f"final only after {result['seconds']} s (promise: {case.within} s)")
    if status == "failed" and len(error) < 10:
        found.append("failed without a reason")
    text_only = case.client.get("describe")
    if status == "succeeded" and not result.get("image_exists") and not error and not text_only:
        found.append("succeeded without an image or a reason")
    if case.expect in TERMINAL and status != case.expect:
        found.append(f"expected {case.expect}, got {status}: {error}")
    if "internal error" in error:
        found.append(f"an internal error: {error}")
    if result.get("done") and (
        result.get("log_status") != status or not result.get("log_finished")
    ):
        found.append(f"log row not final: {result.get('log_status')} (task {status})")
    rss = result.get("peak_rss_mb")
    if rss is None or rss > case.max_rss_mb:
        found.append(f"peak RSS {rss} MB (limit {case.max_rss_mb} MB)")
    sent = outcome.server.count("POST", case.submit_path or SUBMIT_PATHS[case.provider])
    if sent != case.submits:
        found.append(f"the job was submitted {sent} times")
    texts = [str(result.get(k) or "") for k in ("error", "repr", "log_error", "card_text")]
    texts += [outcome.stdout, outcome.stderr]
    home = Path(result["home"])
    files = [p for p in home.rglob("*") if p.is_file()] if home.exists() else []
    for where, text in [
        *zip(("error", "repr", "log", "card", "stdout", "stderr"), texts, strict=True),
        *((str(p.name), p.read_bytes()) for p in files),
    ]:
        if leaks(text):
            found.append(f"the token leaked into {where}: {leaks(text)}")
    if case.check is not None:
        try:
            case.check(outcome)
        except AssertionError as exc:
            found.append(str(exc).split("\n")[0])
    return found


# ------------------------------------------------------------------ special flows


def client_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MJNB_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env["MALLOC_ARENA_MAX"] = "2"  # fewer reserved arenas: the cap measures real use
    return {**env, "MJNB_HOME": str(home), **extra}


def run_resume(home: Path) -> dict[str, Any]:
    """A kernel dies while a job runs; the job then answers a broken success (imageUrl an
    int); the next kernel resumes it and must end it; the one after finds nothing to do."""
    broken = {"now": False}

    def fetch(request: Request) -> Reply:
        if broken["now"]:
            return Reply.json(mj_task(imageUrl=5))
        return Reply.json(mj_task("IN_PROGRESS"))

    server = HostileServer(mjproxy(fetch=fetch))
    env = client_env(home)
    spec = {"provider": "mjproxy", "url": server.url, "home": str(home), "budget": 60}
    spec["client"] = {"stall_timeout": 30.0}
    script = [sys.executable, str(Path(__file__).resolve()), "client"]
    try:
        first = subprocess.Popen([*script, json.dumps(spec)], env=env, stdout=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while server.count("GET", "/fetch") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.kill()
        first.wait(10)
        if first.stdout:
            first.stdout.close()
        broken["now"] = True
        spec["client"] = {"stall_timeout": 3.0, "resume": True}
        spec["budget"] = 20
        second = run_client(spec, env, as_limit_mb=1536, timeout=80)[0]
        third = run_client(spec, env, as_limit_mb=1536, timeout=80)[0]
    finally:
        server.close()
    return {**second, "home": str(home), "third_resumed": third.get("resumed")}


def run_cli_echo(home: Path, *, lower: bool) -> dict[str, Any]:
    """``mjnb imagine`` and ``mjnb log`` against a Zhishuyun that echoes the token."""
    server = HostileServer(_echo(lower)(None))  # type: ignore[arg-type]
    env = client_env(home, MJNB_ZHISHUYUN_TOKEN=CANARY)
    cli = [sys.executable, "-m", "mjnb.cli"]
    try:
        started = time.monotonic()
        imagine = subprocess.run(
            [*cli, "imagine", "a fox", "--provider", "zhishuyun", "--base-url", server.url],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        seconds = time.monotonic() - started
        table = subprocess.run([*cli, "log"], capture_output=True, text=True, timeout=60, env=env)
    finally:
        server.close()
    files = [p for p in home.rglob("*") if p.is_file()]
    found = {
        "imagine stdout": leaks(imagine.stdout),
        "imagine stderr": leaks(imagine.stderr),
        "log output": leaks(table.stdout + table.stderr),
        **{p.name: leaks(p.read_bytes()) for p in files},
    }
    return {
        "returncode": imagine.returncode,
        "seconds": round(seconds, 2),
        "said": imagine.stderr.strip().splitlines()[-1:],
        "leaks": {where: forms for where, forms in found.items() if forms},
    }


def run_sim_reset() -> dict[str, Any]:
    """``mjnb serve --token``: ``POST /_sim/reset`` without the token must be refused."""
    import httpx

    token = "sim-" + CANARY.replace("/", "")
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mjnb.cli",
            "serve",
            "--port",
            "0",
            "--latency",
            "30",
            "--token",
            token,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=client_env(Path("/tmp")),
    ) as sim:
        try:
            assert sim.stdout is not None
            url = sim.stdout.readline().split(" on ", 1)[1].split()[0]
            headers = {"mj-api-secret": token}
            with httpx.Client(trust_env=False, timeout=10) as http:
                job = http.post(
                    f"{url}/mj/submit/imagine", json={"prompt": "a fox"}, headers=headers
                ).json()["result"]
                refused = http.post(f"{url}/_sim/reset")
                after = http.get(f"{url}/mj/task/{job}/fetch", headers=headers)
        finally:
            sim.terminate()
            sim.wait(15)
    kept = after.status_code == 200 and bool(after.content.strip()) and after.json() is not None
    return {"reset_status": refused.status_code, "job_kept": kept}


if __name__ == "__main__" and sys.argv[1:2] == ["client"]:
    outcome = client_main(json.loads(sys.argv[2]))
    print(json.dumps(outcome, default=str), flush=True)
    sys.stdout.flush()
    os._exit(0)  # the engine may still be stuck on a hostile answer: do not wait for it
