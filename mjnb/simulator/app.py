"""The simulator as one Starlette app: a ``Mount`` per protocol plus ``/_sim/*``.

``create_app(config)`` gives an ASGI app that works in-process (``httpx.ASGITransport``)
and on a real port (:func:`mjnb.simulator.serve`). Each protocol module gives its
``Mount`` (its routes, its credential check, and ``exception_handlers`` that answer in
its own error shape). Besides the four protocols it serves:

- ``GET /_sim/stats``: JSON counts of what it received and did (``submits``,
  ``polls``, ``succeeded``, ``failed``, ``rejected_429``, ``queued``, ``running``,
  ``peak_running``, ``peak_queued``, ``cancels``, ``downloads``, per-protocol counts
  ...); ``POST /_sim/reset`` forgets everything.
- ``GET /_sim/images/<job>/<name>.png|webp``: the pictures (``image``, ``raw``,
  ``tile1``-``tile4``, ``thumb``, ``preview-<progress>``); signed URLs answer 403 once
  expired; previews exist from their moment until ``preview_ttl`` seconds after the
  job ended (real CDNs keep them a while), then 404.
- ``GET /_sim/uploads/<key>.png``: uploaded images (midjourney-proxy's base64, Ace's
  ``POST /api/v1/files/``).

With a ``token`` every ``/_sim/*`` route needs it (``authorization: Bearer <token>``,
the bare token, ``mj-api-secret``, ``x-youchuan-secret`` or ``?token=``); image and
upload URLs carry a signature instead, as CDN links do, so downloads need no token.

A rate limiter (``rate_limit`` requests per second, token bucket) guards every path
outside ``/_sim`` and answers each protocol's own 429; :class:`Faults` then injects the
configured dropped connections, slow answers and malformed JSON (all off by default).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mjnb.simulator import acedata, acedata_media, metachat, mjproxy, youchuan
from mjnb.simulator.config import SimConfig
from mjnb.simulator.faults import Faults
from mjnb.simulator.model import Job
from mjnb.simulator.state import Simulator

__all__ = ["create_app"]

#: Path prefix -> (protocol name, its 429 answer).
PREFIXES: tuple[tuple[str, str, Callable[[Simulator], Response]], ...] = (
    *((module.PREFIX + "/", module.PROTOCOL, module.too_many_requests)
      for module in (acedata, metachat, mjproxy, youchuan)),
    (acedata.UPLOAD_PREFIX + "/", acedata.PROTOCOL, acedata.too_many_requests),
)  # fmt: skip


def protocol_of(path: str) -> str | None:
    """The protocol a request path belongs to (None for ``/_sim`` and unknown paths)."""
    for prefix, name, _ in PREFIXES:
        if path.startswith(prefix):
            return name
    return None


class Gate:
    """ASGI middleware: counts requests and applies the rate limit outside ``/_sim``."""

    def __init__(self, app: ASGIApp, sim: Simulator) -> None:
        self.app = app
        self.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/_sim/"):
            await self.app(scope, receive, send)
            return
        protocol, answer = None, None
        for prefix, name, too_many in PREFIXES:
            if path.startswith(prefix):
                protocol, answer = name, too_many
        self.sim.count(protocol, "requests")
        if not self.sim.allow():
            self.sim.count(protocol, "rejected_429")
            response = (
                answer(self.sim)
                if answer
                else PlainTextResponse("Too many requests.", status_code=429)
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def sniff(data: bytes) -> str:
    """The media type of uploaded image bytes, from their signature."""
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"GIF8":
        return "image/gif"
    return "image/png"


def sim_token_ok(request: Request, token: str | None) -> bool:
    """Whether a ``/_sim`` control request carries the simulator's token (any spelling a
    protocol uses); always true without a token."""
    if token is None:
        return True
    auth = request.headers.get("authorization", "").strip()
    given = [
        auth[7:].strip() if auth.lower().startswith("bearer ") else auth,
        request.headers.get("mj-api-secret", ""),
        request.headers.get("x-youchuan-secret", ""),
        request.query_params.get("token", ""),
    ]
    return any(hmac.compare_digest(g.encode(), token.encode()) for g in given if g)


def create_app(
    config: SimConfig | None = None, *, clock: Callable[[], float] = time.time
) -> Starlette:
    """The simulator app for ``config`` (defaults: :class:`SimConfig`). ``clock`` (epoch
    seconds) drives every job's timeline: tests inject a fake one to step through a
    job's life without waiting."""
    sim = Simulator(config or SimConfig(), clock)
    token = sim.config.token

    def controlled(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        """A ``/_sim`` control route: 401 without the token (when one is set)."""

        async def run(request: Request) -> Response:
            if not sim_token_ok(request, token):
                return JSONResponse(
                    {
                        "error": "This simulator needs its token for /_sim routes; send "
                        "'authorization: Bearer <token>'."
                    },
                    status_code=401,
                )
            return await handler(request)

        return run

    def downloadable(request: Request) -> bool:
        """A signed URL still valid, or (with a token) a request carrying the token."""
        signed = sim.verify(request.url.path, request.url.query)
        return signed or (token is not None and sim_token_ok(request, token))

    async def stats(request: Request) -> Response:
        return JSONResponse(sim.stats())

    async def reset(request: Request) -> Response:
        sim.reset()
        return JSONResponse(sim.stats())

    async def index(request: Request) -> Response:
        return JSONResponse(
            {
                "simulator": "mjnb",
                "protocols": {
                    "acedata": "/midjourney/imagine, /midjourney/tasks, /api/v1/files/",
                    "metachat": "/open/v1/midjourney/*",
                    "mjproxy": "/mj/submit/*, /mj/task/*",
                    "youchuan": "/v1/tob/*",
                },
                "stats": "/_sim/stats",
            }
        )

    async def image(request: Request) -> Response:
        if not downloadable(request):
            return PlainTextResponse("This content is no longer available.", status_code=403)
        job = sim.table.get(request.path_params["job"])
        name, ext = request.path_params["name"], request.path_params["ext"]
        if job is None or ext not in ("png", "webp"):
            return PlainTextResponse("Not found.", status_code=404)
        now = sim.clock()
        state = job.state(now)
        if name.startswith("preview-"):
            if not preview_available(job, name[8:], now, sim.config.preview_ttl):
                return PlainTextResponse("This preview is gone.", status_code=404)
        elif (
            name not in ("image", "raw", "thumb", "tile1", "tile2", "tile3", "tile4")
            or state.status != "succeeded"
            or (job.kind != "grid" and name.startswith("tile"))
        ):
            return PlainTextResponse("Not found.", status_code=404)
        data = await anyio.to_thread.run_sync(job.image_bytes, name, ext)
        sim.count(None, "downloads")
        return Response(
            data, media_type=f"image/{ext}", headers={"cache-control": "public, max-age=86400"}
        )

    async def upload(request: Request) -> Response:
        if not downloadable(request):
            return PlainTextResponse("This content is no longer available.", status_code=403)
        data = sim.uploads.get(request.path_params["key"])
        if data is None:
            return PlainTextResponse("Not found.", status_code=404)
        sim.count(None, "downloads")
        return Response(data, media_type=sniff(data))

    routes: list[BaseRoute] = [
        Route("/", index, methods=["GET"]),
        Route("/_sim/stats", controlled(stats), methods=["GET"]),
        Route("/_sim/reset", controlled(reset), methods=["POST"]),
        Route("/_sim/images/{job}/{name}.{ext}", image, methods=["GET"]),
        Route("/_sim/uploads/{key}.png", upload, methods=["GET"]),
        acedata_media.route(sim, downloadable),
        acedata.mount(sim),
        acedata.upload_mount(sim),
        metachat.mount(sim),
        mjproxy.mount(sim),
        youchuan.mount(sim),
    ]
    middleware = [Middleware(Gate, sim=sim), Middleware(Faults, sim=sim, protocol_of=protocol_of)]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.sim = sim
    return app


def preview_available(job: Job, wanted: str, now: float, ttl: float) -> bool:
    """Whether the preview at progress ``wanted`` exists at ``now``: its moment has come,
    and the job is still going or ended less than ``ttl`` seconds ago."""
    if not wanted.isdigit():
        return False
    progress = int(wanted)
    moment = next(
        (s.at for s in job.timeline if s.status == "running" and s.progress == progress), None
    )
    if progress <= 0 or moment is None or moment > now:
        return False
    final = job.state(now)
    return not final.done or now < final.at + ttl
