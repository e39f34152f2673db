"""Ace Data Cloud's video, editor and seed endpoints, as request bodies and readings.

What Ace's own clients send (AceDataCloud/SDK ``python/src/acedatacloud/resources/
providers/midjourney.py``, AceDataCloud/MCPs ``midjourney/tools/video_tools.py``,
``edits_tools.py``, ``imagine_tools.py``, ``seed_tools.py``, AceDataCloud/Nexior
``src/operators/midjourney.ts``):

- ``POST /midjourney/videos``: ``action`` ``generate`` with ``image_url`` (the first frame;
  Midjourney video is image-to-video only) and ``prompt``, ``end_image_url``, ``loop``,
  ``resolution`` (``480p``/``720p``), ``mode`` (``fast``/``turbo``: no relax); or
  ``extend`` with ``video_id`` and ``video_index`` (0-based into ``video_urls``). There is
  no field for motion, raw or the batch size: those are Midjourney prompt parameters
  (``--motion high --raw --bs 2``) and go in the prompt text. The answer carries
  ``video_id``, ``video_urls`` (up to 4), ``image_url`` (the cover) and ``progress``.
  A video is done at ``progress`` 100 with non-empty ``video_urls``; ``success: true``
  alone is not done.
- ``variation_region`` is an imagine action with ``image_id``, ``mask`` (base64
  grayscale, the image's size, white = repaint) and an optional ``prompt``.
- ``POST /midjourney/edits``: ``action: generate``, ``image_url``, ``prompt``, ``mask?``;
  it answers like imagine (a grid with ``actions``).
- ``POST /midjourney/seed`` ``{image_id}`` -> ``{seed}`` (a string).

Ace has no remix step (a prompt is read only by ``variation_region``), no custom zoom
(only ``zoom_out_2x``/``zoom_out_1_5x``), no retexture, no video upscale and no cancel.
Local images: Ace takes only URLs (plus the base64 mask); its upload endpoint lives on
another host (``platform.acedata.cloud/api/v1/files/``) and the SDK leaves its reply
undocumented, so mjnb refuses local images for Ace with that reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ProviderError, Rejected
from .base import Job, Snapshot
from .common import optional_id, optional_str, url_list

__all__ = [
    "ANIMATE",
    "EXTEND",
    "MAX_EXTENSIONS",
    "VIDEO_PARAMS",
    "edit_body",
    "parse_seed_body",
    "region_fields",
    "video_body",
    "video_wire",
]

#: Midjourney's limit (about 21 s: a 5 s clip and four 4 s extensions); Ace states none
MAX_EXTENSIONS = 4
#: the wire handles put into ``Snapshot.wire`` for the labels Ace serves by endpoint
ANIMATE = "videos:generate"
EXTEND = "videos:extend"
REGION = "variation_region"
#: video parameters mjnb writes itself (taken out of a prompt before they are re-added)
VIDEO_PARAMS = ("motion", "bs", "raw", "loop", "end", "video")
VIDEO_MODES = ("fast", "turbo")
RESOLUTIONS = ("480p", "720p")


def _no_local(url: str | None, what: str, title: str) -> str | None:
    if url and url.startswith("data:"):
        raise Rejected(
            f"{title} needs a public URL for {what}: it takes no local images "
            "(its upload API is on another host with an undocumented reply)."
        )
    return url


def _words(job: Job) -> str:
    """The prompt's words without image links or parameters (a video prompt's text)."""
    parsed = job.parsed
    if parsed is None:
        return job.prompt.split(" --", 1)[0].strip()
    return parsed.text.strip()


def video_prompt(job: Job, motion: str | None) -> str:
    """The prompt text of a video job: words, then ``--motion``, ``--raw``, ``--bs``."""
    parts = [_words(job)]
    if motion:
        parts.append(f"--motion {motion}")
    raw = job.raw or bool(job.parsed is not None and job.parsed.params.get("raw"))
    if raw:
        parts.append("--raw")
    if job.batch in (1, 2) and not motion_only(job):
        parts.append(f"--bs {job.batch}")
    return " ".join(p for p in parts if p)


def motion_only(job: Job) -> bool:
    """An extension continues one clip: it takes no batch size."""
    return bool(job.label and job.label.startswith("extend"))


def _video_mode(job: Job, title: str) -> str | None:
    mode = job.mode or job.speed
    if mode is None:
        return None
    if mode not in VIDEO_MODES:
        raise Rejected(f"{title} makes videos in fast or turbo mode only, not {mode!r}.")
    return mode


def video_body(job: Job, title: str) -> dict[str, Any]:
    """The ``/midjourney/videos`` body for a video job, an animate or an extend."""
    label = job.label or ""
    parent = job.parent
    motion = job.motion or (
        label.rsplit(" ", 1)[-1] if label.startswith(("animate", "extend")) else None
    )
    if motion is not None and motion not in ("low", "high"):
        raise Rejected(f"Motion must be low or high, got {motion!r}.")
    body: dict[str, Any]
    if label.startswith("extend"):
        if parent is None or not parent.extra.get("video_id"):
            raise Rejected(f"The task has no {title} video_id to extend; animate it again.")
        done = int(parent.extra.get("extensions") or 0)
        if done >= MAX_EXTENSIONS:
            raise Rejected(
                f"This clip was already extended {done} times, the most Midjourney allows."
            )
        clips = len(parent.video_urls) or 1
        index = job.index or 1
        if not 1 <= index <= clips:
            raise Rejected(f"The clip index must be 1-{clips}, got {index}.")
        body = {
            "action": "extend",
            "video_id": parent.extra["video_id"],
            "video_index": index - 1,  # Ace counts from 0
            "prompt": video_prompt(job, motion),
        }
    else:
        if label.startswith("animate"):
            if parent is None or not parent.image_url or "U1" in parent.wire:
                raise Rejected(
                    f"{title} animates a single image only: upscale a tile (U1-U4) first."
                )
            start: str | None = parent.image_url
        else:
            if len(job.images) != 1:
                raise Rejected(f"A video starts from exactly one image, got {len(job.images)}.")
            start = job.images[0]
        body = {
            "action": "generate",
            "image_url": _no_local(start, "the start image", title),
            "prompt": video_prompt(job, motion),
        }
        if job.loop:
            body["loop"] = True
    if job.end:
        body["end_image_url"] = _no_local(job.end, "the end image", title)
    if job.resolution:
        if job.resolution not in RESOLUTIONS:
            raise Rejected(f"{title} makes 480p or 720p videos, not {job.resolution!r}.")
        body["resolution"] = job.resolution
    mode = _video_mode(job, title)
    if mode:
        body["mode"] = mode
    return body


def region_fields(job: Job, text: str) -> dict[str, Any]:
    """``mask`` and ``prompt`` of a ``variation_region`` action."""
    if not job.mask:
        raise Rejected("Vary region needs a mask (white = repaint).")
    fields: dict[str, Any] = {"mask": _strip_data_url(job.mask)}
    if text.strip():
        fields["prompt"] = text
    return fields


def edit_body(job: Job, text: str, title: str) -> dict[str, Any]:
    """The ``/midjourney/edits`` body: the user's image, the prompt, the mask if any."""
    if len(job.images) != 1:
        raise Rejected(f"An edit takes exactly one image, got {len(job.images)}.")
    if not text.strip():
        raise Rejected("An edit needs a prompt saying what to change.")
    body: dict[str, Any] = {
        "action": "generate",
        "image_url": _no_local(job.images[0], "the image to edit", title),
        "prompt": text,
    }
    if job.mask:
        body["mask"] = _strip_data_url(job.mask)
    return body


def _strip_data_url(mask: str) -> str:
    """Ace wants bare base64; a ``data:image/png;base64,`` prefix is taken off."""
    return mask.split(",", 1)[1] if mask.startswith("data:") and "," in mask else mask


def video_wire(extensions: int) -> dict[str, str]:
    """The labels a finished clip offers: extend, while under the limit."""
    if extensions >= MAX_EXTENSIONS:
        return {}
    return {"extend low": EXTEND, "extend high": EXTEND}


def video_reading(
    data: Mapping[str, Any], extra: Mapping[str, Any], who: str
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """``video_urls`` (at most 4, checked like image URLs) and ``extra`` with the
    ``video_id`` the answer names."""
    urls = url_list(data.get("video_urls"), "video_urls", who, limit=4)
    video_id = optional_id(data.get("video_id"), "a video_id", who)
    found = {**extra, "video": True}
    if video_id:
        found["video_id"] = video_id
    return urls, found


def parse_seed_body(body: Any, who: str) -> int | None:
    """The seed of a ``/midjourney/seed`` answer: a string of digits (or an int)."""
    if not isinstance(body, dict):
        raise ProviderError(f"{who} answered the seed request without a JSON object.")
    value = body.get("seed")
    if value is None:
        data = body.get("data")
        value = data.get("seed") if isinstance(data, dict) else None
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ProviderError(f"{who} sent the seed as a boolean; the answer is unusable.")
    if isinstance(value, int):
        seed = value
    else:
        text = optional_str(value, "the seed", who) or ""
        if not text.isdigit():
            raise ProviderError(f"{who} sent the seed {text[:40]!r}, not a number.")
        seed = int(text)
    if not 0 <= seed < 2**32:
        raise ProviderError(f"{who} sent the seed {seed}, outside 0-4294967295.")
    return seed


def is_video_snapshot(snapshot: Snapshot | None) -> bool:
    return bool(snapshot is not None and snapshot.extra.get("video"))
