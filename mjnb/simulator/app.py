"""The simulator as one Starlette app: every protocol's routes plus ``/_sim/*``.

``create_app(config)`` gives an ASGI app that works in-process (``httpx.ASGITransport``)
and on a real port (:func:`mjnb.simulator.serve`). Besides the four protocols it
serves:

- ``GET /_sim/stats``: JSON counts of what it received and did (``submits``,
  ``polls``, ``succeeded``, ``failed``, ``rejected_429``, ``queued``, ``running``,
  ``downloads``, per-protocol counts ...); ``POST /_sim/reset`` forgets everything.
- ``GET /_sim/images/<job>/<name>.png|webp``: the pictures (``image``, ``raw``,
  ``tile1``-``tile4``, ``thumb``, ``preview-<progress>``); signed URLs answer 403 once
  expired, previews 404 once their job is finished (as Ace deletes them).
- ``GET /_sim/uploads/<key>.png``: images uploaded as base64 (midjourney-proxy).

A rate limiter (``rate_limit`` requests per second, token bucket) guards every path
outside ``/_sim`` and answers each protocol's own 429; :class:`Faults` then injects the
configured dropped connections, slow answers and malformed JSON (all off by default).
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mjnb.simulator import acedata, metachat, mjproxy, youchuan
from mjnb.simulator.config import SimConfig
from mjnb.simulator.faults import Faults
from mjnb.simulator.state import Simulator

__all__ = ["create_app"]

#: Path prefix -> (protocol name, its 429 answer).
PREFIXES: tuple[tuple[str, str, Callable[[Simulator], Response]], ...] = (
    ("/midjourney/", acedata.PROTOCOL, acedata.too_many_requests),
    ("/open/v1/", metachat.PROTOCOL, metachat.too_many_requests),
    ("/mj/", mjproxy.PROTOCOL, mjproxy.too_many_requests),
    ("/v1/tob/", youchuan.PROTOCOL, youchuan.too_many_requests),
)


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


def create_app(config: SimConfig | None = None) -> Starlette:
    """The simulator app for ``config`` (defaults: :class:`SimConfig`)."""
    sim = Simulator(config or SimConfig())

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
                    "acedata": "/midjourney/imagine, /midjourney/tasks",
                    "metachat": "/open/v1/midjourney/*",
                    "mjproxy": "/mj/submit/*, /mj/task/*",
                    "youchuan": "/v1/tob/*",
                },
                "stats": "/_sim/stats",
            }
        )

    async def image(request: Request) -> Response:
        if not sim.verify(request.url.path, request.url.query):
            return PlainTextResponse("This content is no longer available.", status_code=403)
        job = sim.table.get(request.path_params["job"])
        name, ext = request.path_params["name"], request.path_params["ext"]
        if job is None or ext not in ("png", "webp"):
            return PlainTextResponse("Not found.", status_code=404)
        state = job.state(sim.clock())
        if name.startswith("preview-"):
            wanted = name[8:]
            if not (
                state.status == "running" and wanted.isdigit() and 0 < int(wanted) <= state.progress
            ):
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
        data = sim.uploads.get(request.path_params["key"])
        if data is None:
            return PlainTextResponse("Not found.", status_code=404)
        sim.count(None, "downloads")
        return Response(data, media_type=sniff(data))

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/_sim/stats", stats, methods=["GET"]),
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/images/{job}/{name}.{ext}", image, methods=["GET"]),
        Route("/_sim/uploads/{key}.png", upload, methods=["GET"]),
        *acedata.routes(sim),
        *metachat.routes(sim),
        *mjproxy.routes(sim),
        *youchuan.routes(sim),
    ]
    middleware = [Middleware(Gate, sim=sim), Middleware(Faults, sim=sim, protocol_of=protocol_of)]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.sim = sim
    return app
