"""How values go into the task log's columns and come back.

Timestamps are whole microseconds since the Unix epoch (UTC), exact and cheap to turn
into ``datetime64`` columns. Parameters get one typed column each (lenient: a value of
the wrong type becomes NULL, it is still in ``params_json``). Nothing stored can hold a
credential: what a secret is comes from :mod:`mjnb.secrets`; the log drops secret keys
from mappings and secret query parameters from URLs, and masks credential-shaped runs
in free text.
"""

from __future__ import annotations

import getpass
import json
import math
import os
import socket
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, get_args
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mjnb.errors import InvalidArgument
from mjnb.secrets import is_secret_key, redact_text, scrub_mapping
from mjnb.vocab import MODES, STATUSES, Kind

__all__ = [
    "BOOL_PARAMS",
    "FLOAT_PARAMS",
    "INT_PARAMS",
    "KINDS",
    "LIST_PARAMS",
    "PARAM_COLUMNS",
    "check_kind",
    "check_status",
    "clean_text",
    "clean_url",
    "dumps",
    "from_us",
    "kernel_id",
    "now_us",
    "param_columns",
    "progress",
    "scrub",
    "to_us",
    "user_name",
]

#: One DataFrame column per Midjourney parameter; ``mode`` is fast/relax/turbo.
PARAM_COLUMNS: tuple[str, ...] = (
    "ar", "stylize", "chaos", "weird", "seed", "quality", "version", "niji", "style",
    "no", "tile", "stop", "iw", "sref", "sw", "sv", "cref", "cw", "oref", "ow", "exp",
    "p", "draft", "repeat", "mode",
)  # fmt: skip

INT_PARAMS = frozenset(
    {"stylize", "chaos", "weird", "seed", "stop", "sw", "sv", "cw", "ow", "exp", "repeat"}
)
FLOAT_PARAMS = frozenset({"quality", "iw"})
BOOL_PARAMS = frozenset({"tile", "draft"})
LIST_PARAMS = frozenset({"no", "sref", "cref", "p"})

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
US = timedelta(microseconds=1)
HOSTNAME = socket.gethostname()

KINDS: tuple[str, ...] = get_args(Kind)

scrub = scrub_mapping  # a copy of a mapping without any key that names a credential


def to_us(value: datetime | str | float | int) -> int:
    """Microseconds since the epoch; naive datetimes are local time, like Python's."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidArgument(
                f"{value!r} is not a date and time; write it as ISO 8601, e.g. "
                "'2026-11-21' or '2026-11-21T09:30', or pass a datetime or a timedelta."
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.astimezone()
        return (value - EPOCH) // US
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return round(float(value) * 1_000_000)  # seconds since the epoch
    raise TypeError(f"expected a datetime or an ISO 8601 string, got {value!r}")


def from_us(value: int | None) -> datetime | None:
    return None if value is None else EPOCH + value * US


def now_us() -> int:
    return time.time_ns() // 1000


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def clean_url(url: str | None) -> str | None:
    """``url`` without user info and without credential query parameters.

    The log drops them rather than masking them (as :func:`mjnb.secrets.redact_url`
    does for display): a stored URL is only useful without its credentials anyway.
    """
    if not url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not is_secret_key(k)]
        if len(kept) != len(pairs):
            query = urlencode(kept)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def clean_text(text: str | None) -> str | None:
    """Free text (an error message) with credential-shaped runs masked."""
    return redact_text(text) if text else text


def local_pid(owner: str | None) -> int | None:
    """The pid of ``owner`` ("host:pid:...") when it is another process of this machine
    (None: another machine, this process, or not that form)."""
    host, _, rest = (owner or "").partition(":")
    pid = as_int(rest.partition(":")[0])
    if host != HOSTNAME or pid is None or pid <= 0 or pid == os.getpid():
        return None
    return pid


def process_exists(pid: int) -> bool:
    """Whether process ``pid`` exists (one we may not signal exists too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def as_int(value: Any) -> int | None:
    number = as_float(value)
    if number is None or number != int(number):
        return None
    return int(number)


def as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def as_text(value: Any) -> str | None:
    if value is None or value is False:
        return None
    if value is True:
        return ""  # a bare flag such as ``--niji``
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value) or ""
    return str(value)


def as_list(value: Any) -> str | None:
    if value is None or value is False:
        return None
    if value is True:
        return "[]"  # a bare flag such as ``--p``
    if isinstance(value, str):
        return dumps([value])
    if isinstance(value, (list, tuple, set, frozenset)):
        return dumps(list(value))
    return dumps([value])


def param_columns(params: Mapping[str, Any]) -> dict[str, Any]:
    """The real-column values of a parameters mapping (lenient: bad values -> NULL)."""
    out: dict[str, Any] = {}
    for name in PARAM_COLUMNS:
        value = params.get(name)
        if name == "mode" and value is None:
            value = next((m for m in MODES if params.get(m)), None)
        if name in INT_PARAMS:
            out[name] = as_int(value)
        elif name in FLOAT_PARAMS:
            out[name] = as_float(value)
        elif name in BOOL_PARAMS:
            out[name] = None if value is None else int(bool(value))
        elif name in LIST_PARAMS:
            out[name] = as_list(value)
        else:
            out[name] = as_text(value)
    return out


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}; got {status!r}.")
    return status


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidArgument(f"kind must be one of {', '.join(KINDS)}; got {kind!r}.")
    return kind


def progress(value: Any) -> int:
    number = as_float(value)
    if number is None:
        raise InvalidArgument(f"progress must be a number 0-100, got {value!r}.")
    return max(0, min(100, round(number)))


def kernel_id() -> str:
    """Which kernel runs mjnb: the Jupyter kernel's id, else ``python:<pid>``.

    Read from the connection file of a running ipykernel (already imported: this never
    imports it), which names the kernel as Jupyter's UI and ``jupyter kernel list`` do.
    """
    import sys

    app = sys.modules.get("ipykernel.kernelapp")
    instance = getattr(getattr(app, "IPKernelApp", None), "initialized", None)
    if app is not None and instance is not None and instance():
        name = os.path.basename(str(app.IPKernelApp.instance().connection_file or ""))
        if name.startswith("kernel-") and name.endswith(".json"):
            return name[len("kernel-") : -len(".json")]
    return f"python:{os.getpid()}"


def user_name() -> str | None:
    """Who is running mjnb: ``MJNB_USER``, else the OS user (None if unknown)."""
    name = os.environ.get("MJNB_USER", "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return None
