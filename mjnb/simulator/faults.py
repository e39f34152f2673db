"""Fault injection: dropped connections, slow answers and malformed JSON, on any protocol.

:class:`Faults` is ASGI middleware over the whole simulator. Every request to a protocol
path (anything outside ``/_sim``) and every image download draws once from a
``random.Random`` seeded from :attr:`SimConfig.seed`, so a run is reproducible for a
given order of requests. With probabilities ``drop_rate``, ``slow_rate`` and
``bad_json_rate`` (exclusive) the request gets one of:

- **drop**: the connection is closed without a whole answer. A plain answer sends its
  headers and no body; an NDJSON stream sends its first line, then stops mid-way (a
  truncated stream).
- **slow**: the answer waits ``slow_seconds`` (35 s by default: past a client's 30 s
  read timeout) before its first byte.
- **bad JSON**: a JSON answer's body is replaced by malformed JSON (cut in half, an HTML
  error page, ``null`` ...), or one NDJSON line is cut short. Other media types
  (images) are left alone.

Each fault acts *after* the endpoint ran, so a dropped, slowed or garbled submit has
created its job, as when a server processes a request and the connection dies on the
way back: the client cannot know, and must not send the job again. ``stall_rate`` (jobs
that stop progressing) lives in the job model, :mod:`mjnb.simulator.jobs`. Faults are
counted in ``/_sim/stats`` as ``dropped``, ``slowed`` and ``bad_json``. They are meant for
a real port: over ``httpx.ASGITransport`` a drop reads as an empty answer.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Literal

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mjnb.simulator.state import Simulator

__all__ = ["Faults", "mangle"]

Fault = Literal["drop", "slow", "bad_json"]

#: What a garbled JSON answer becomes: a function of the real body.
MANGLERS: tuple[Callable[[bytes], bytes], ...] = (
    lambda body: body[: max(1, len(body) // 2)],
    lambda body: b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    lambda body: b"",
    lambda body: b"null",
    lambda body: b"[1, 2, 3]",
    lambda body: b'{"data": {"status": ',
    lambda body: b"\xff\xfe\x00garbage",
)


class _Cut(Exception):
    """Raised through the app to stop an answer mid-way (a dropped connection)."""


class _QuietDrops(logging.Filter):
    """Silences uvicorn's complaint about each answer a drop leaves unfinished."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


_QUIET = _QuietDrops()


def mangle(body: bytes, rng: random.Random) -> bytes:
    """``body`` made into malformed JSON, one of several ways (chosen by ``rng``)."""
    return MANGLERS[rng.randrange(len(MANGLERS))](body)


def _header(message: Message, name: bytes) -> bytes:
    for key, value in message.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return b""


def _cut_in(exc: BaseException) -> bool:
    """Whether ``exc`` is (or groups) our own cut, possibly inside a task group."""
    if isinstance(exc, _Cut):
        return True
    return any(_cut_in(inner) for inner in getattr(exc, "exceptions", ()))


class Faults:
    """ASGI middleware that injects the configured faults (a no-op when all are 0)."""

    def __init__(
        self, app: ASGIApp, sim: Simulator, protocol_of: Callable[[str], str | None]
    ) -> None:
        self.app = app
        self.sim = sim
        self.protocol_of = protocol_of
        self.rng = random.Random(f"{sim.config.seed}:faults")
        config = sim.config
        self.rates: tuple[tuple[Fault, float], ...] = (
            ("drop", config.drop_rate),
            ("slow", config.slow_rate),
            ("bad_json", config.bad_json_rate),
        )
        self.active = any(rate > 0 for _, rate in self.rates)
        if config.drop_rate > 0:
            logging.getLogger("uvicorn.error").addFilter(_QUIET)

    def draw(self) -> Fault | None:
        """The fault for the next request, if any: one draw per request."""
        roll = self.rng.random()
        for fault, rate in self.rates:
            if roll < rate:
                return fault
            roll -= rate
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        subject = not path.startswith("/_sim/") or path.startswith(("/_sim/images/", "/_sim/up"))
        fault = self.draw() if self.active and scope["type"] == "http" and subject else None
        if fault is None:
            await self.app(scope, receive, send)
            return
        protocol = self.protocol_of(path)
        wrap = {"drop": self._drop, "slow": self._slow, "bad_json": self._bad_json}[fault]
        try:
            await self.app(scope, receive, wrap(send, protocol))
        except BaseException as exc:
            if not _cut_in(exc):
                raise
            # returning with the answer unfinished makes the server close the connection

    def _drop(self, send: Send, protocol: str | None) -> Send:
        lines_sent, stream = 0, False

        async def dropping(message: Message) -> None:
            nonlocal lines_sent, stream
            if message["type"] == "http.response.start":
                stream = b"ndjson" in _header(message, b"content-type")
                await send(message)
                return
            if message["type"] == "http.response.body":
                if stream and lines_sent == 0:
                    if message.get("body", b"").strip():
                        lines_sent += 1
                    await send(message)
                    return
                self.sim.count(protocol, "dropped")
                raise _Cut
            await send(message)

        return dropping

    def _slow(self, send: Send, protocol: str | None) -> Send:
        async def slowed(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.sim.count(protocol, "slowed")
                await anyio.sleep(self.sim.config.slow_seconds)
            await send(message)

        return slowed

    def _bad_json(self, send: Send, protocol: str | None) -> Send:
        start: Message | None = None
        kind: Literal["json", "ndjson", "other"] = "other"
        chunks: list[bytes] = []
        garbled = False

        async def garbling(message: Message) -> None:
            nonlocal start, kind, garbled
            if message["type"] == "http.response.start":
                media = _header(message, b"content-type")
                kind = "ndjson" if b"ndjson" in media else "json" if b"json" in media else "other"
                if kind == "json":
                    start = message  # held until the body is known, to fix content-length
                    return
                await send(message)
                return
            if message["type"] != "http.response.body" or kind == "other":
                await send(message)
                return
            body = message.get("body", b"")
            if kind == "ndjson":
                if not garbled and body.strip():
                    garbled = True
                    self.sim.count(protocol, "bad_json")
                    body = body.rstrip(b"\r\n")[: max(1, len(body) // 2)] + b"\r\n"
                await send({**message, "body": body})
                return
            chunks.append(body)
            if message.get("more_body", False):
                return
            assert start is not None
            self.sim.count(protocol, "bad_json")
            bad = mangle(b"".join(chunks), self.rng)
            kept = start.get("headers", ())
            headers = [(k, v) for k, v in kept if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(bad)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": bad, "more_body": False})

        return garbling
