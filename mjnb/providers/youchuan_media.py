"""Youchuan's video and editor endpoints, mapped for :mod:`mjnb.providers.youchuan`.

Sources: Youchuan's API reference on Aliyun's marketplace (图生视频 / 视频延长 / 视频高清,
区域重绘 / 重塑 / 编辑 / 高级编辑 / 转绘) and the v8.1 guide's support table.

Video
- ``POST /v1/tob/video-diffusion`` takes ``jobId`` + ``imageNo`` (0-3: Youchuan
  animates one image of a grid directly, no upscale first) **or** ``prompt`` with the
  start image's URL first; ``videoType`` 0 = 480p, 1 = 720p. Motion, loop, end frame
  and batch are Midjourney's prompt parameters (``--motion``, ``--loop``, ``--end``,
  ``--bs``, ``--raw``), so they go in ``prompt``.
- ``POST /v1/tob/extend-video`` {``jobId``, ``videoNo`` 0-3, ``prompt`` (required)}:
  at most 4 extensions per clip, answered 405 past that.
- ``POST /v1/tob/video-upscale`` {``jobId``, ``videoNo``} -> a 1080p clip.
- The job's ``urls`` are the clips (``videoUrls``/``videoUrl`` accepted too).

Editor
- vary region: ``/inpaint`` {``jobId``, ``imageNo``, ``mask``: {``areas``: [{``width``,
  ``height``, ``points``}]}, ``remixPrompt?``}. mjnb has the mask as a PNG, and
  Youchuan's other mask form is a public ``url`` mjnb cannot make, so the mask is sent
  as rectangles (a 32x32 cell cover of its white part, merged row by row), ``width``/
  ``height`` being the image's size the points are in. Not on V8.1.
- custom zoom: ``/outpaint`` ``scale`` = the factor (1.1-2.0); remix: ``/remix``.
- ``mj.edit`` of an image of the user's own is ``/upload-paint`` {``imgUrl``, ``mask``,
  ``canvas``, ``imgPos``, ``remixPrompt``}; ``mj.retexture`` is ``/retexture``
  {``imgUrl``, ``remixPrompt``}. Both need a public URL (Youchuan documents no upload
  endpoint), and their jobs allow only upscale.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Mapping
from typing import Any

from ..errors import Rejected
from .base import Job, Snapshot

MAX_EXTENSIONS = 4
MAX_AREAS = 64
MASK_CELLS = 32
VIDEO_TYPES = {"480p": 0, "720p": 1}
#: labels a finished clip offers, and their wire form
VIDEO_WIRE: Mapping[str, str] = {
    "extend low": "extend-video low",
    "extend high": "extend-video high",
    "upscale video": "video-upscale",
}
ANIMATE_WIRE: Mapping[str, str] = {
    "animate low": "video-diffusion {n} low",
    "animate high": "video-diffusion {n} high",
}
#: why Youchuan refuses the features it lacks (the client's one-line error)
REFUSALS: Mapping[str, str] = {
    "seed": "Youchuan has no seed endpoint; a job's seed is the --seed you give it",
    "cancel": "Youchuan's cancel API exists but its path is undocumented",
    "upload": "Youchuan documents no upload endpoint; pass public http(s) image URLs",
}
#: the video fields a prompt may already name
_VIDEO_FLAGS = ("--motion", "--loop", "--end", "--bs", "--raw", "--video")


def public_url(url: str, what: str) -> str:
    """``url`` if it is an http(s) link Youchuan can fetch, else Rejected (one line)."""
    if not url.startswith(("http://", "https://")):
        raise Rejected(
            f"Youchuan needs a public URL for {what}: it documents no upload endpoint "
            "(pass an http(s) link)."
        )
    if len(url) > 1024:
        raise Rejected(f"Youchuan takes image links of at most 1024 characters for {what}.")
    return url


def video_prompt(
    job: Job,
    motion: str | None,
    *,
    first: str | None = None,
    text: str | None = None,
    batch: bool = True,
) -> str:
    """The ``prompt`` of a video job: start image, text (``job.prompt`` unless given),
    then the video parameters the Job carries and the text does not name already."""
    text = (job.prompt if text is None else text).strip()
    parts = [first] if first else []
    if text:
        parts.append(text)
    named = {flag for flag in _VIDEO_FLAGS if flag in text}
    if motion and "--motion" not in named:
        parts.append(f"--motion {motion}")
    if job.loop and "--loop" not in named:
        parts.append("--loop")
    if job.end and "--end" not in named:
        parts.append(f"--end {public_url(job.end, 'the end frame')}")
    if batch and "--bs" not in named:  # always: Midjourney's default batch is 4
        parts.append(f"--bs {job.batch}")
    if job.raw and "--raw" not in named:
        parts.append("--raw")
    return " ".join(parts)


def video_type(job: Job) -> dict[str, int]:
    if job.resolution is None:
        return {}
    if job.resolution not in VIDEO_TYPES:
        raise Rejected(f"Youchuan makes 480p or 720p clips, not {job.resolution!r}.")
    return {"videoType": VIDEO_TYPES[job.resolution]}


def animate_from_image(job: Job) -> tuple[str, dict[str, Any]]:
    """``mj.animate(url, ...)``: the start image's URL first in ``prompt``."""
    if not job.images:
        raise Rejected("Animate needs a start image.")
    first = public_url(job.images[0], "the start image")
    prompt = video_prompt(job, job.motion or "low", first=first)
    return "/v1/tob/video-diffusion", {"prompt": prompt, **video_type(job)}


def clip_number(job: Job, parent: Snapshot) -> int:
    """The 0-based ``videoNo`` of ``job.index`` (1-based) among the parent's clips."""
    count = max(1, len(parent.video_urls))
    index = job.index or 1
    if not 1 <= index <= count:
        raise Rejected(f"This clip batch has {count} clip(s); index must be 1-{count}.")
    return index - 1


def act(job: Job, parent: Snapshot, wire: str, job_id: str) -> tuple[str, dict[str, Any]] | None:
    """The path and body of a video or editor action, or None for the image actions."""
    endpoint, *args = wire.split()
    body: dict[str, Any] = {"jobId": job_id}
    if endpoint == "video-diffusion":
        image_no = int(args[0])
        if args[0] == "-1":  # a grid: the tile the user named
            image_no = grid_image_no(job, parent)
        prompt = video_prompt(job, job.motion or args[1])
        body |= {"imageNo": image_no, "prompt": prompt, **video_type(job)}
        return "/v1/tob/video-diffusion", body
    if endpoint == "extend-video":
        done = int(parent.extra.get("extensions", 0))
        if done >= MAX_EXTENSIONS:
            raise Rejected(extend_limit(done))
        text = job.prompt.strip() or plain_text(str(parent.extra.get("prompt") or ""))
        prompt = video_prompt(job, job.motion or args[0], text=text, batch=False)
        return "/v1/tob/extend-video", body | {
            "videoNo": clip_number(job, parent),
            "prompt": prompt,
        }
    if endpoint == "video-upscale":
        return "/v1/tob/video-upscale", body | {"videoNo": clip_number(job, parent)}
    if endpoint == "inpaint":
        if not job.mask:
            raise Rejected("Vary region needs a mask (white = repaint).")
        body |= {"imageNo": int(args[0]), "mask": {"areas": mask_areas(job.mask)}}
        if job.prompt.strip() and (job.remix or job.prompt != parent.extra.get("prompt")):
            body["remixPrompt"] = job.prompt.strip()
        return "/v1/tob/inpaint", body
    return None


_VIDEO_PARAM = re.compile(r"\s*--(?:motion|bs|end|video)\s+\S+|\s*--(?:loop|raw|video)(?!\S)")
_LEADING_URL = re.compile(r"^(?:\s*https?://\S+)+")


def plain_text(prompt: str) -> str:
    """A video prompt without its start image and video parameters: the text an
    extension carries on with (its own ``--motion`` is added again)."""
    return _VIDEO_PARAM.sub("", _LEADING_URL.sub("", prompt)).strip()


def grid_image_no(job: Job, parent: Snapshot) -> int:
    """The 0-based ``imageNo`` of the grid image ``job.index`` (1-based, as shown)."""
    image_nos = list(parent.extra.get("image_nos") or range(len(parent.image_urls)))
    if job.index is None:
        raise Rejected("Animate on a grid needs index= (1-4): which image to animate.")
    if not 1 <= job.index <= len(image_nos):
        raise Rejected(
            f"This grid shows {len(image_nos)} images; index must be 1-{len(image_nos)}."
        )
    return int(image_nos[job.index - 1])


def extend_limit(done: int) -> str:
    return (
        f"Youchuan extends a clip at most {MAX_EXTENSIONS} times and this one has been "
        f"extended {done} times; animate its last frame again instead."
    )


def editor_job(job: Job) -> tuple[str, dict[str, Any]]:
    """``mj.edit`` (``/upload-paint``) and ``mj.retexture`` (``/retexture``)."""
    if not job.images:
        raise Rejected(f"{job.kind.capitalize()} needs an image.")
    url = public_url(job.images[0], f"the image to {job.kind}")
    prompt = job.prompt.strip()
    if not prompt:
        raise Rejected(f"Youchuan's {job.kind} needs a prompt (remixPrompt is required).")
    if job.kind == "retexture":
        return "/v1/tob/retexture", {"imgUrl": url, "remixPrompt": prompt}
    if not job.mask:
        raise Rejected(
            "Youchuan's upload-paint (edit) needs a mask of the part to repaint; pass mask=, "
            "or use mj.retexture(image, prompt) to restyle the whole image."
        )
    width, height = mask_size(job.mask)
    return "/v1/tob/upload-paint", {
        "imgUrl": url,
        "mask": {"areas": mask_areas(job.mask)},
        "canvas": {"width": width, "height": height},
        "imgPos": {"width": width, "height": height, "x": 0, "y": 0},
        "remixPrompt": prompt,
    }


def _mask_image(mask_b64: str) -> Any:
    from PIL import Image

    data = mask_b64.split(",", 1)[1] if mask_b64.startswith("data:") else mask_b64
    try:
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        image.load()
    except Exception as exc:  # any undecodable mask is the same error
        raise Rejected(f"The mask is not a readable PNG ({type(exc).__name__}).") from None
    return image.convert("L")


def mask_size(mask_b64: str) -> tuple[int, int]:
    size: tuple[int, int] = _mask_image(mask_b64).size
    return size


def mask_areas(mask_b64: str) -> list[dict[str, Any]]:
    """The white part of a mask as Youchuan ``areas``: rectangles in image pixels.

    The mask is read on a ``MASK_CELLS`` grid (a cell counts when half of it is white);
    runs of cells in a row become rectangles, merged with the same run in the row above.
    A box mask gives exactly its box.
    """
    import numpy as np

    image = _mask_image(mask_b64)
    width, height = image.size
    white = np.asarray(image) >= 128
    if not white.any():
        raise Rejected("The mask is empty: paint (white) the part to repaint.")
    ys, xs = np.nonzero(white)
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    if white[y0:y1, x0:x1].all():  # one box: exact
        return [_area(width, height, x0, y0, x1, y1)]
    cols = [round(i * width / MASK_CELLS) for i in range(MASK_CELLS + 1)]
    rows = [round(i * height / MASK_CELLS) for i in range(MASK_CELLS + 1)]
    open_boxes: dict[tuple[int, int], list[int]] = {}
    boxes: list[list[int]] = []
    for r in range(MASK_CELLS):
        runs: list[tuple[int, int]] = []
        start = None
        for c in range(MASK_CELLS + 1):
            cell = white[rows[r] : rows[r + 1], cols[c] : cols[c + 1]] if c < MASK_CELLS else None
            on = cell is not None and cell.size > 0 and cell.mean() >= 0.5
            if on and start is None:
                start = c
            elif not on and start is not None:
                runs.append((start, c))
                start = None
        still: dict[tuple[int, int], list[int]] = {}
        for run in runs:
            box = open_boxes.get(run)
            if box is not None:
                box[3] = rows[r + 1]
            else:
                box = [cols[run[0]], rows[r], cols[run[1]], rows[r + 1]]
                boxes.append(box)
            still[run] = box
        open_boxes = still
    if not boxes:
        raise Rejected("The mask's white part is too thin to send; paint a larger area.")
    if len(boxes) > MAX_AREAS:
        boxes = [[x0, y0, x1, y1]]  # too ragged: its bounding box
    return [_area(width, height, *box) for box in boxes]


def _area(width: int, height: int, x0: int, y0: int, x1: int, y1: int) -> dict[str, Any]:
    return {"width": width, "height": height, "points": [x0, y0, x0, y1, x1, y1, x1, y0]}


def video_urls(data: Mapping[str, Any]) -> Any:
    """The clips' URLs as sent: ``urls``, else ``videoUrls``, else ``videoUrl``."""
    for key in ("urls", "videoUrls"):
        if data.get(key):
            return data[key]
    one = data.get("videoUrl")
    return [one] if one else None
