"""The hostile server: raw asyncio HTTP/1.1 on two loopback ports, lazy bodies, test images.

:class:`HostileServer` runs in a thread and gives byte-level control: trickles, bodies
that never end, lines without a newline. Big bodies are generated lazily from one
constant chunk, so the server never holds them in memory. Every request is recorded
(method, path, headers, port) so a test can prove what the client sent and where.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

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
        except asyncio.CancelledError:  # the server is closing: hang up quietly
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
