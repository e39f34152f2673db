"""Reading a provider's answer with a deadline and a byte cap, before anything parses it.

A hostile or broken provider can send a 300 MB "JSON" answer, one byte every two
seconds, or an NDJSON line that never ends. So every answer is read here, as a stream:

- :func:`send_capped` sends a request and reads its whole body inside **one
  wall-clock deadline** (``asyncio.wait_for`` around the request *and* the body, so
  trickled bytes cannot extend it) and at most ``limit`` bytes (a declared
  ``Content-Length`` over the cap is refused before a byte is read). It returns an
  ordinary, fully read ``httpx.Response`` for the adapters to parse.
- :func:`read_lines` splits a stream into lines, refusing a line over the cap.

A passed deadline is raised as ``httpx.ReadTimeout`` (a transport error), so the
runner's existing rules apply: a poll is retried, a submit is never sent twice. A body
over the cap is :class:`TooLarge`, a :class:`~mjnb.errors.ProviderError`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import httpx

from ..errors import ProviderError

__all__ = [
    "TooLarge",
    "read_capped",
    "read_lines",
    "reason",
    "retry_transient",
    "send_capped",
    "without_query",
]

T = TypeVar("T")

#: headers that describe the wire form of a body; a buffered response holds it decoded
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class TooLarge(ProviderError):
    """An answer, a line or an image over mjnb's byte cap (nothing more was read)."""


def _mb(limit: int) -> str:
    return f"{limit / 2**20:g} MB"


def _declared(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


async def read_capped(response: httpx.Response, limit: int, what: str) -> bytes:
    """The (decoded) body of a streamed ``response``, refusing more than ``limit`` bytes."""
    declared = _declared(response)
    if declared is not None and declared > limit:
        raise TooLarge(
            f"{what} is {declared:,} bytes, more than the {_mb(limit)} mjnb reads; refused "
            "without reading it."
        )
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise TooLarge(
                f"{what} was larger than the {_mb(limit)} mjnb reads; refused (mjnb "
                "stopped reading it)."
            )
    return b"".join(chunks)  # one copy, however many chunks came


async def send_capped(
    http: httpx.AsyncClient,
    request: httpx.Request,
    *,
    deadline: float,
    limit: int,
    what: str,
) -> httpx.Response:
    """Send ``request`` and read its answer whole within ``deadline`` seconds and
    ``limit`` bytes; returns a read response (its ``content`` is the decoded body)."""

    async def exchange() -> tuple[httpx.Response, bytes]:
        response = await http.send(request, stream=True)
        try:
            return response, await read_capped(response, limit, what)
        finally:
            await response.aclose()

    try:  # wait_for, not asyncio.timeout: mjnb still runs on Python 3.10
        response, body = await asyncio.wait_for(exchange(), deadline)
    except asyncio.TimeoutError:
        raise httpx.ReadTimeout(
            f"{what} did not arrive whole within {deadline:g} s", request=request
        ) from None
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _WIRE_HEADERS]
    return httpx.Response(
        response.status_code, headers=headers, content=body, request=response.request
    )


async def read_lines(response: httpx.Response, limit: int) -> AsyncIterator[bytes]:
    """The lines of a streamed body (without their newline); a line longer than
    ``limit`` bytes raises :class:`~mjnb.errors.ProviderError` before it is kept whole."""
    buffer = bytearray()
    async for chunk in response.aiter_bytes():
        scanned = len(buffer)  # only the new bytes can hold the next newline
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", max(start, scanned))) >= 0:
            yield bytes(buffer[start:end]).rstrip(b"\r")
            start = end + 1
        if start:
            del buffer[:start]
        if len(buffer) > limit:
            raise TooLarge(
                f"the stream sent a line longer than the {_mb(limit)} mjnb reads; it "
                "stopped reading the stream."
            )
    if buffer.strip():
        yield bytes(buffer)


def reason(exc: BaseException) -> str:
    """An exception as a short phrase, named even when its message is empty."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def without_query(url: str) -> str:
    """A URL without its query string (which may carry a token or a signature)."""
    return url.split("?", 1)[0]


async def retry_transient(
    attempt: Callable[[float | None], Awaitable[T]],
    fail: Callable[[Exception | None], Exception],
    *,
    deadline: float | None = None,
    tries: int = 4,
) -> T:
    """``await attempt(left)`` up to ``tries`` times, for the downloads of results.

    A transient failure (a transport error, a ProviderError of HTTP 5xx) is retried
    after 0.5 * 2**n seconds; any other error propagates at once. With ``deadline``
    (seconds from now) ``left`` is the time that remains and no attempt starts once it
    is spent; without, ``left`` is None. When no attempt succeeded, ``fail(last error)``
    is raised.
    """
    started = time.monotonic()
    last: Exception | None = None
    for n in range(tries):
        left = None if deadline is None else deadline - (time.monotonic() - started)
        if left is not None and left <= 0:
            break
        try:
            return await attempt(left)
        except httpx.TransportError as exc:
            last = exc
        except ProviderError as exc:
            if exc.status is None or exc.status < 500:
                raise
            last = exc
        await asyncio.sleep(0.5 * 2**n)
    raise fail(last)
