"""Small pure helpers every adapter shares: progress, status tables, bodies, field checks.

Nothing here does I/O. Each adapter still owns its own protocol; these functions only
normalize what several protocols spell differently (``"45%"``, ``45``, ``0.45`` ...),
and check the type of every field copied into a snapshot: a provider that sends an int
where a URL belongs gets a ``ProviderError`` here (the engine retries the poll), never
an exception later, inside the end-of-task sequence. What a secret is lives in
:mod:`mjnb.secrets`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..errors import PromptError, ProviderError, Rejected
from ..prompt import Prompt, version_rules
from ..vocab import BLEND_ASPECTS, MAX_RESULT_URLS, Status
from .base import Job, Snapshot

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


def batch_readings(
    records: Any,
    snapshots: Sequence[Snapshot],
    who: str,
    read: Callable[[Snapshot, Mapping[str, Any]], Snapshot],
) -> list[Snapshot | None]:
    """Each snapshot's new state from a batch lookup's ``records`` (``read`` turns one
    record into a reading), in the order of ``snapshots``; None where the answer has no
    readable record of that job (the runner polls it alone, and its own error comes out).
    Records of other jobs and ones that are not objects are left; a job listed twice
    with different records gets None too (an answer that contradicts itself is no
    reading of it), identical copies count once."""
    if not isinstance(records, list):
        raise ProviderError(f"{who} answered the batch lookup without a list of tasks.")
    by_id: dict[str, Mapping[str, Any]] = {}
    torn: set[str] = set()
    for record in records:
        listed = isinstance(record, dict) and isinstance(record.get("id"), str)
        if listed and by_id.setdefault(record["id"], record) != record:
            torn.add(record["id"])
    for key in torn:
        del by_id[key]
    readings: list[Snapshot | None] = []
    for snapshot in snapshots:
        record = by_id.get(snapshot.remote_id or "")
        try:
            readings.append(read(snapshot, record) if record is not None else None)
        except (ProviderError, TypeError, KeyError, AttributeError, IndexError, ValueError):
            readings.append(None)  # one bad record sinks no other reading
    return readings


def batch_ids(snapshots: Sequence[Snapshot]) -> list[str]:
    """The remote ids a batch lookup asks for: each once, in order."""
    return list(dict.fromkeys(s.remote_id for s in snapshots if s.remote_id))


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


def version_name(prompt: Prompt | None) -> str | None:
    """The version table's name for the prompt's model (``"8.1"``, ``"niji 7"``; a newer
    minor such as ``8.3`` its nearest known version), or None when it names none."""
    if prompt is None or prompt.version is None:
        return None
    try:
        return version_rules(prompt.version).name
    except PromptError:
        return None


def allowed_actions(wire: Mapping[str, str], version: str | None) -> dict[str, str]:
    """``wire`` without the labels ``version``'s rules leave out (all of it for None).

    Only for adapters that compose the action list themselves (MetaChat, Youchuan);
    Ace and midjourney-proxy offer exactly what the answer lists.
    """
    if version is None:
        return dict(wire)
    allowed = version_rules(version).actions
    return {label: value for label, value in wire.items() if label in allowed}


def with_mode(prompt: str, job: Job) -> str:
    """``prompt`` with ``--<job.mode>`` appended, unless the prompt names a speed itself."""
    if not job.mode or job.speed:
        return prompt
    return f"{prompt} --{job.mode}".strip()


def text_after_images(job: Job) -> str:
    """The prompt as written, without the image links the parser found at its start."""
    count = len(job.parsed.images) if job.parsed is not None else 0
    if not count:
        return job.prompt
    words = job.prompt.split(None, count)
    return words[count] if len(words) > count else ""


_ENUMERATOR = re.compile(r"^\s*(?:\d\ufe0f?\u20e3\s*|\d[.)]\s+|[-*\u2022]\s+)")


def split_descriptions(text: Any) -> tuple[str, ...]:
    """The prompts of a describe answer: a list, or text with one per line (``1️⃣ ...``)."""
    if isinstance(text, (list, tuple)):
        lines = [item for item in text if isinstance(item, str)]
    elif isinstance(text, str):
        lines = text.splitlines()
    else:
        return ()
    cleaned = (_ENUMERATOR.sub("", line, count=1).strip() for line in lines)
    return tuple(line for line in cleaned if line)


# -- field checks --------------------------------------------------------------------

#: a describe answer keeps at most this many prompts, each at most this long
MAX_DESCRIPTIONS = 10
MAX_DESCRIPTION_CHARS = 2000
#: provider timestamps outside 2000-01-01 .. 2100-01-01 are dropped (1e27, ms read as s)
MIN_EPOCH, MAX_EPOCH = 946_684_800.0, 4_102_444_800.0


def _kind(value: Any) -> str:
    return type(value).__name__


def optional_str(value: Any, what: str, who: str) -> str | None:
    """``value`` as a non-empty string, or None when it is absent or empty.

    Anything but a string (an int, a dict, a list) is a ``ProviderError``.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ProviderError(
            f"{who} sent {what} as {_kind(value)}, not text; the answer is unusable."
        )
    return value.strip() or None


def optional_id(value: Any, what: str, who: str) -> str | None:
    """A job or image id: a non-empty string (a JSON integer is read as its digits)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return optional_str(value, what, who)


def url_list(value: Any, what: str, who: str, limit: int = MAX_RESULT_URLS) -> tuple[str, ...]:
    """A list of at most ``limit`` URLs (strings; empty entries dropped), else raise.

    Checked before anything is downloaded: twelve URLs are refused, not fetched.
    """
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ProviderError(f"{who} sent {what} as {_kind(value)}, not a list of URLs.")
    if any(not isinstance(item, str) for item in value if item is not None):
        raise ProviderError(f"{who} sent {what} with entries that are not URLs.")
    urls = tuple(item.strip() for item in value if isinstance(item, str) and item.strip())
    if len(urls) > limit:
        raise ProviderError(
            f"{who} sent {len(urls)} {what}; a job has at most {limit}. mjnb downloaded none."
        )
    return urls


def str_list(value: Any) -> list[str]:
    """The strings of a list (action names, button ids ...); anything else is skipped."""
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def epoch_seconds(value: Any, scale: float = 1.0) -> float | None:
    """A provider timestamp (``value * scale`` seconds since the epoch), or None when it
    is absent, not a number, not finite or outside 2000-2100 (so it never breaks a
    ``datetime.fromtimestamp`` later)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    seconds = float(value) * scale
    if not math.isfinite(seconds) or not MIN_EPOCH <= seconds <= MAX_EPOCH:
        return None
    return seconds


def capped_descriptions(value: Any) -> tuple[tuple[str, ...], str | None]:
    """The prompts of a describe answer (see :func:`split_descriptions`), at most
    :data:`MAX_DESCRIPTIONS` of at most :data:`MAX_DESCRIPTION_CHARS` each, and a
    sentence saying what was cut (None when nothing was)."""
    items = split_descriptions(value)
    kept = items[:MAX_DESCRIPTIONS]
    long = sum(len(text) > MAX_DESCRIPTION_CHARS for text in kept)
    kept = tuple(
        text if len(text) <= MAX_DESCRIPTION_CHARS else text[: MAX_DESCRIPTION_CHARS - 1] + "…"
        for text in kept
    )
    cut = []
    if len(items) > MAX_DESCRIPTIONS:
        cut.append(f"kept the first {MAX_DESCRIPTIONS} of {len(items)} descriptions")
    if long:
        cut.append(f"shortened {long} to {MAX_DESCRIPTION_CHARS} characters")
    return kept, (f"mjnb {' and '.join(cut)}." if cut else None)
