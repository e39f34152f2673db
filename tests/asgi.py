"""Small ASGI helpers for tests that put the simulator behind a wrapper (a server that
answers some routes itself, or rewrites the simulator's answers)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any


async def read_body(receive: Any) -> bytes:
    """The whole request body an ASGI app receives."""
    data = b""
    while True:
        message = await receive()
        data += message.get("body", b"")
        if not message.get("more_body"):
            return data


def replay(body: bytes) -> Callable[[], Awaitable[dict[str, Any]]]:
    """A ``receive`` that gives ``body`` once (for passing a read request on)."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # the app waits for a disconnect that never comes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def respond(send: Any, status: int, body: object) -> None:
    """Answer with ``body`` as JSON."""
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
