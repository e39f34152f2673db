"""The plumbing every protocol shares: reading a JSON body (or a multipart form's file)
within a byte limit, typed access to its fields, the errors a handler raises (each
protocol renders them in its own shape through its ``Mount``'s exception handlers), and
:func:`mount`, which builds one protocol's ``Mount`` with its credential check and
handlers.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

if TYPE_CHECKING:
    from mjnb.simulator.state import Simulator


log = logging.getLogger("mjnb.simulator")


class SimError(Exception):
    """A request refused; the protocol's ``Mount`` renders it in the protocol's shape."""


class Unauthorized(SimError):
    """The request's credential is missing or wrong (each protocol checks its own way).
    ``code`` is the protocol's word for which (Ace: ``no_token`` / ``invalid_token``)."""

    def __init__(self, message: str, code: str = "invalid_token") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Internal(SimError):
    """A bug in the simulator while answering; logged, answered as the protocol's 500."""


class BadRequest(SimError):
    """A request the simulator cannot take; each protocol renders it in its own shape.

    ``status`` is the HTTP status a plain API would use (400, 413, ...).
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# ---------------------------------------------------------------------------- request bodies


async def read_body(request: Request, limit: int) -> bytes:
    """The request's raw body; BadRequest(413) past ``limit`` bytes (a declared
    ``Content-Length`` over it is refused before a byte is read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadRequest(too_large(limit), 413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(too_large(limit), 413)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int) -> Any:
    """The request's JSON body; BadRequest(413) past ``limit`` bytes, BadRequest(400) if
    it is not JSON. An empty body reads as ``{}``."""
    raw = await read_body(request, limit)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("The request body is not valid JSON; send a JSON object.") from exc


_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^\s;]+))', re.IGNORECASE)
_FIELD = re.compile(r'(?:^|;)\s*name="([^"]*)"', re.IGNORECASE)


def form_file(content_type: str, body: bytes, field: str) -> bytes:
    """The bytes of the ``field`` part of a ``multipart/form-data`` body (RFC 7578);
    BadRequest when the body is no such form or has no such part."""
    found = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/form-data") or found is None:
        raise BadRequest(f"Send the image as multipart/form-data, in a field named {field!r}.")
    delimiter = b"--" + (found.group(1) or found.group(2)).encode("latin-1")
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break  # the closing delimiter
        head, sep, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        disposition = next(
            (h.split(":", 1)[1] for h in lines if h.lower().startswith("content-disposition:")),
            "",
        )
        named = _FIELD.search(disposition)
        if sep and named and named.group(1) == field:
            return content.removesuffix(b"\r\n")
    raise BadRequest(f"The form has no {field!r} field; send the image in it.")


def too_large(limit: int) -> str:
    return f"The request body is larger than {limit // (1024 * 1024)} MB; send smaller images."


class Fields:
    """Typed access to a JSON object's fields; wrong types raise BadRequest sentences."""

    def __init__(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object.")
        self.body: dict[str, Any] = body

    def get(self, name: str) -> Any:
        return self.body.get(name)

    def text(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.body.get(name)
        if value is None or value == "":
            if required:
                raise BadRequest(f"The field '{name}' is required.")
            return default
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise BadRequest(f"The field '{name}' must be a string, got {type(value).__name__}.")
        return value

    def integer(
        self, name: str, default: int | None = None, *, required: bool = False
    ) -> int | None:
        value = self.body.get(name)
        if value is None:
            if required:
                raise BadRequest(f"The field '{name}' is required.")
            return default
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise BadRequest(f"The field '{name}' must be a whole number, got {value!r}.")
        return int(value)

    def number(self, name: str) -> float | None:
        value = self.body.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadRequest(f"The field '{name}' must be a number, got {value!r}.")
        return float(value)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.body.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if value in (0, 1, "true", "false"):
            return value in (1, "true")
        raise BadRequest(f"The field '{name}' must be true or false, got {value!r}.")

    def array(self, name: str) -> list[Any]:
        value = self.body.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise BadRequest(f"The field '{name}' must be a list, got {type(value).__name__}.")
        return value

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.body.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise BadRequest(f"The field '{name}' must be a JSON object.")
        return value


Handler = Callable[[Request], Awaitable[Response]]


class Endpoints:
    """What every protocol's endpoints share: the simulator they run on, and request bodies."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def fields(self, request: Request) -> Fields:
        """The request's JSON object (BadRequest past the simulator's body limit)."""
        return Fields(await read_json(request, self.sim.config.max_body))


ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]
#: (path inside the mount, handler, methods)
RouteSpec = tuple[str, Handler, Sequence[str]]


def mount(
    path: str,
    routes: Sequence[RouteSpec],
    *,
    authorize: Callable[[Request], None],
    handlers: Mapping[type[Exception], ErrorHandler],
) -> Mount:
    """One protocol as a ``Mount``: every route first calls ``authorize(request)``,
    which raises :class:`Unauthorized` for a missing or wrong credential, and
    ``handlers`` turn :class:`SimError` s into the protocol's own error answers, as a
    Starlette app's ``exception_handlers`` do. Anything else a
    handler raises is logged and re-raised as :class:`Internal`, so a bug still gets
    the protocol's 500 shape rather than a bare traceback page."""

    def guard(handler: Handler) -> Handler:
        async def run(request: Request) -> Response:
            authorize(request)
            try:
                return await handler(request)
            except SimError:
                raise
            except Exception as exc:
                log.exception("simulator error on %s", request.url.path)
                raise Internal("Internal error in the simulator; see its log.") from exc

        return run

    app = Starlette(
        routes=[Route(p, guard(h), methods=list(m)) for p, h, m in routes],
        exception_handlers=dict(handlers),
    )
    return Mount(path, app=app)
