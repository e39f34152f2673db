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

Local images go through Ace's upload API and then to the job as ordinary public URLs
(``image_url``, links in the prompt, ``end_image_url``, describe's and edits'
``image_url``); only the vary-region ``mask`` stays base64. What Ace's own clients do:

- AceDataCloud/SDK ``python/src/acedatacloud/resources/files.py`` and
  ``_runtime/transport.py`` ``upload()``: ``POST {platform_base_url}/api/v1/files/``,
  multipart with one field ``file`` = (filename, bytes), the API's own
  ``Authorization: Bearer <token>`` and no content type of its own; the platform is
  ``https://platform.acedata.cloud``, another host than the API's; errors are HTTP >= 400
  with Ace's usual ``{"error": {"code", "message"}}``.
- AceDataCloud/Nexior ``src/components/midjourney/config/ImageUrlInput.vue`` (and the
  other inputs) read the reply's ``file_url`` (``file?.response?.file_url``), and
  ``src/components/fish/model/Recorder.vue`` treats a reply without ``file_url`` as a
  failed upload: the reply is JSON with ``file_url``, and nothing else is read.

So :func:`upload_origin` is the platform for the real API host; for any other base URL
(Zhishuyun's old host, where no upload endpoint was found; the simulator; a gateway) it
is the base URL's own origin. That origin is the one other place the credentials go,
for the upload request only: downloads still send them to ``base_url``'s origin alone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from ..errors import ProviderError, Rejected
from ..inputs import MIME_TYPES, sniff
from .base import Job, Snapshot
from .common import is_data_url, optional_id, optional_str, url_list

__all__ = [
    "ANIMATE",
    "EXTEND",
    "MAX_EXTENSIONS",
    "UPLOAD_PATH",
    "VIDEO_PARAMS",
    "edit_body",
    "parse_seed_body",
    "public",
    "region_fields",
    "upload_origin",
    "upload_request",
    "uploaded_url",
    "video_body",
    "video_wire",
    "with_links",
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


#: the real API's host, and the platform host its uploads go to (the SDK's two bases)
API_HOST = "api.acedata.cloud"
PLATFORM = "https://platform.acedata.cloud"
UPLOAD_PATH = "/api/v1/files/"
#: the longest ``file_url`` taken: it goes into a prompt or a URL field as it is
MAX_FILE_URL = 2048


def public(url: str | None, what: str, title: str) -> str | None:
    """``url`` as sent: a URL. A ``data:`` URL here was never uploaded (the runner
    uploads local images before the submit), so it is refused, never sent inline."""
    if url and is_data_url(url):
        raise Rejected(
            f"{title} takes {what} as a URL: this local image was not uploaded first "
            "(mjnb uploads local images before the submit); nothing was sent."
        )
    return url


def with_links(text: str, links: Sequence[str], title: str) -> str:
    """A prompt with uploaded image prompts in front (those not in front already: the
    same URL after ``--sref`` is a reference, not an image prompt)."""
    front = set(leading_links(text))
    new = [public(u, "an image prompt", title) or "" for u in links if u not in front]
    return " ".join([*new, text]) if new else text


def leading_links(text: str) -> list[str]:
    """The http(s) words a prompt starts with (its image prompts)."""
    words = []
    for word in text.split():
        if not word.lower().startswith(("http://", "https://")):
            break
        words.append(word)
    return words


# -- uploads ----------------------------------------------------------------------------


def upload_origin(base_url: str) -> str:
    """Where uploads go: Ace's platform for the real API host, else ``base_url``'s own
    origin (scheme, host and port)."""
    url = httpx.URL(base_url)  # httpx reads a scheme's default port as None
    if url.scheme == "https" and url.host == API_HOST and url.port is None:
        return PLATFORM
    host = f"[{url.host}]" if ":" in url.host else url.host  # an IPv6 address
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{host}{port}"


def upload_file(data_url: str) -> tuple[str, bytes, str]:
    """``(filename, bytes, content type)`` of a local image's ``data:`` URL, as
    :mod:`mjnb.inputs` made it (checked already): ``<sha256[:12]>.<ext>``."""
    header, _, payload = data_url.partition(",")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        data = b""
    kind = sniff(data) if header.lower().endswith(";base64") else None
    if kind is None:
        raise Rejected("A local image to upload is not a PNG, JPEG, WebP or GIF; nothing was sent.")
    mime = MIME_TYPES[kind]
    ext = "jpg" if kind == "JPEG" else kind.lower()
    return f"{hashlib.sha256(data).hexdigest()[:12]}.{ext}", data, mime


def upload_request(
    url: str,
    data_url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> httpx.Request:
    """The multipart ``POST`` of one local image, field ``file`` (the SDK's upload)."""
    name, data, mime = upload_file(data_url)
    return httpx.Request(
        "POST",
        url,
        params=params,
        files={"file": (name, data, mime)},
        headers={"accept": "application/json", **(headers or {})},
    )


def uploaded_url(body: Any, who: str) -> str:
    """The ``file_url`` of an upload answer: a non-empty http(s) URL, else raise."""
    if not isinstance(body, dict):
        raise ProviderError(f"{who} answered the upload without a JSON object; nothing was sent.")
    url = body.get("file_url")
    text = url.strip() if isinstance(url, str) else ""
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    spaced = any(c.isspace() for c in text)  # it goes into a prompt as one word
    if scheme not in ("http", "https") or len(text) > MAX_FILE_URL or spaced:
        got = "none" if url is None else f"{type(url).__name__} {str(url)[:60]!r}"
        raise ProviderError(
            f"{who}'s upload answer had no file_url (an http(s) URL of the image; got "
            f"{got}); nothing was sent."
        )
    return text


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
            "image_url": public(start, "the start image", title),
            "prompt": video_prompt(job, motion),
        }
        if job.loop:
            body["loop"] = True
    if job.end:
        body["end_image_url"] = public(job.end, "the end image", title)
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
        "image_url": public(job.images[0], "the image to edit", title),
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
