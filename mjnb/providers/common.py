"""Small pure helpers every adapter shares: progress, status tables, bodies, secrets.

Nothing here does I/O. Each adapter still owns its own protocol; these functions only
normalize what several protocols spell differently (``"45%"``, ``45``, ``0.45`` ...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from ..errors import Rejected
from .base import Status

#: Ace Data Cloud ``state`` in the ``/midjourney/tasks`` wrapper ("some clients see it").
ACEDATA_STATES: Mapping[str, Status] = {
    "pending": "queued",
    "generating": "running",
    "finished": "succeeded",
    "failed": "failed",
    "error": "failed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}

#: MetaChat ``status``; the numeric codes are what some clients report. Their meaning is
#: not documented: 10/20 are read as submitted/in progress and 30 failure, 40 success.
METACHAT_STATUSES: Mapping[str, Status] = {
    "submitted": "queued",
    "in_progress": "running",
    "success": "succeeded",
    "failure": "failed",
    "10": "queued",
    "20": "running",
    "30": "failed",
    "40": "succeeded",
}

#: midjourney-proxy task ``status``. MODAL (a fork's "waiting for a modal's input") is
#: read as running: mjnb never opens modals, so such a task ends by the engine's timeout.
MJPROXY_STATUSES: Mapping[str, Status] = {
    "NOT_START": "queued",
    "SUBMITTED": "queued",
    "IN_PROGRESS": "running",
    "MODAL": "running",
    "SUCCESS": "succeeded",
    "FAILURE": "failed",
    "CANCEL": "cancelled",
}

_NUMBER = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(%?)\s*$")


def progress_percent(value: Any) -> int:
    """Any provider's progress as an int 0-100.

    ``"45%"``, ``45``, ``"45"`` -> 45; fractions ``0.45``/``"0.45"`` -> 45 (a number with
    a decimal point from 0 to 1 is a fraction); ``None``, ``""`` and junk -> 0.
    """
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, (int, float)):
        number, fraction = float(value), isinstance(value, float) and 0 <= value <= 1
    elif isinstance(value, str):
        match = _NUMBER.match(value)
        if match is None:
            return 0
        text, percent = match.groups()
        number = float(text)
        fraction = not percent and "." in text and number <= 1
    else:
        return 0
    if number != number:  # NaN
        return 0
    if fraction:
        number *= 100
    return int(round(max(0.0, min(100.0, number)), 6))


def map_status(table: Mapping[str, Status], value: Any) -> Status | None:
    """``table[str(value)]``, matching keys in any case; None when the value is unknown."""
    if value is None or isinstance(value, bool):
        return None
    key = str(value).strip()
    return table.get(key) or table.get(key.lower()) or table.get(key.upper())


def read_json(response: httpx.Response) -> Any:
    """The JSON body, or None when it is empty or not JSON."""
    if not response.content.strip():
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (delta or HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    when = _http_date(value)
    if when is None:
        return None
    now = _http_date(response.headers.get("date", "")) or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _http_date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` with every secret replaced by ``***`` (providers may echo a token back).

    Secrets shorter than 4 characters are left alone: no real credential is that short,
    and masking every ``"t"`` would only garble the message.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def redact_url(url: httpx.URL | str, names: tuple[str, ...] = ("token",)) -> str:
    """``url`` with the values of secret query parameters replaced by ``***``.

    The engine must use this (not ``str(request.url)``) in any message about a request
    built by the ``zhishuyun`` adapter, whose protocol puts the token in the query.
    """
    parts = urlsplit(str(url))
    if not parts.query:
        return str(url)
    query = [(k, "***" if k in names else v) for k, v in parse_qsl(parts.query, True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*")))


def is_data_url(url: str) -> bool:
    """True for ``data:`` URLs (inline base64 images)."""
    return url[:5].lower() == "data:"


_MIME = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}


def mime_type(url: str) -> str:
    """The image MIME type a URL names (data: prefix or file extension); PNG if unknown."""
    if is_data_url(url):
        return url[5:].split(";", 1)[0].split(",", 1)[0] or "image/png"
    path = urlsplit(url).path.lower()
    return _MIME.get(path.rsplit(".", 1)[-1], "image/png") if "." in path else "image/png"


_IMAGE_URL = re.compile(
    r"^(?:https?://\S+\.(?:png|gif|webp|jpe?g)(?:\?\S*)?|data:image/\S+)$", re.IGNORECASE
)
_SPEED = re.compile(r"(?:--|—)(fast|relax|turbo)\b")


BLEND_ASPECTS: Mapping[str, str] = {"square": "1:1", "portrait": "2:3", "landscape": "3:2"}


def check_blend(images: tuple[str, ...], dimensions: str) -> None:
    """Raise ``Rejected`` unless there are 2-5 images and known dimensions."""
    if not 2 <= len(images) <= 5:
        raise Rejected(f"A blend takes 2 to 5 images, got {len(images)}.")
    if dimensions not in BLEND_ASPECTS:
        choices = ", ".join(BLEND_ASPECTS)
        raise Rejected(f"Blend dimensions must be one of {choices}, got {dimensions!r}.")


def blend_prompt(images: tuple[str, ...], dimensions: str) -> str:
    """A blend written as an image-only prompt: ``"url1 url2 --ar 2:3"``.

    Midjourney reads a prompt of two or more image links and no text as a blend; Ace
    Data Cloud documents no blend endpoint, and this is how its prompt field takes one.
    """
    check_blend(images, dimensions)
    if any(is_data_url(url) for url in images):
        raise Rejected(
            "This provider blends image links, not inline data: URLs; upload the images "
            "somewhere public and pass their http(s) URLs."
        )
    aspect = "" if dimensions == "square" else f" --ar {BLEND_ASPECTS[dimensions]}"
    return " ".join(images) + aspect


def split_image_prompts(prompt: str) -> tuple[list[str], str]:
    """The image URLs that start a prompt, and the rest of it."""
    words = prompt.split()
    images: list[str] = []
    while words and _IMAGE_URL.match(words[0]):
        images.append(words.pop(0))
    return images, " ".join(words)


def speed_flag(prompt: str) -> str | None:
    """``"fast"``, ``"relax"`` or ``"turbo"`` when the prompt carries that flag."""
    found = _SPEED.findall(prompt)
    return found[-1] if found else None


def with_mode(prompt: str, mode: str | None) -> str:
    """``prompt`` with ``--<mode>`` appended, unless it already names a speed."""
    if not mode or speed_flag(prompt):
        return prompt
    return f"{prompt} --{mode}".strip()


_ENUMERATOR = re.compile(r"^\s*(?:\d\ufe0f?\u20e3\s*|\d[.)]\s+|[-*\u2022]\s+)")


def split_descriptions(text: Any) -> tuple[str, ...]:
    """The prompts of a describe answer: a list, or text with one per line (``1️⃣ ...``)."""
    if isinstance(text, (list, tuple)):
        lines = [str(item) for item in text]
    elif isinstance(text, str):
        lines = text.splitlines()
    else:
        return ()
    cleaned = (_ENUMERATOR.sub("", line, count=1).strip() for line in lines)
    return tuple(line for line in cleaned if line)


class Redacted:
    """Base of every adapter: its repr shows the provider and the URL, never a credential."""

    name: str
    base_url: str

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, base_url={self.base_url!r})"
