"""trueai's media endpoints on the simulated midjourney-proxy: video, MODAL, edits.

What trueai-org/midjourney-proxy does (SubmitController.cs, TaskService.cs, TaskInfo.cs),
and so what this module does:

- ``POST /mj/submit/video`` (``SubmitVideoDTO``): ``prompt`` (required, else code 4
  ``Prompt 不能为空``), ``motion`` low (default) | high, ``image`` and ``endImage`` (http
  URL or data URL), ``loop``, ``batchSize`` 1 | 2 | 4 (default 4), ``videoType``
  ``vid_1.1_i2v_480`` (default) | ``vid_1.1_i2v_720``; extend: ``action: "extend"`` +
  ``taskId`` + ``index`` 0-3 (0-based, unlike the buttons). A ``taskId`` without
  ``action: "extend"`` is code 4 ``任务类型错误``; an unknown one HTTP 404 code 3; one not
  SUCCESS code 4 ``关联任务状态错误``. The prompt sent to Midjourney is built as
  ``<image> <prompt> --video 1 [--end loop] [--end <url>] --motion <m> [--bs 1|2]``.
- A VIDEO task's buttons are ``MJ::JOB::video_virtual_upscale::<n>::<h>`` (``U1``-``Un``,
  picks clip n) and reroll; the picked clip offers ``MJ::JOB::animate_high_extend::1::<h>``
  and ``animate_low_extend``; an upscaled image offers ``MJ::JOB::animate_high|low::1::<h>
  ::SOLO``. Succeeded video tasks carry ``videoUrl``, ``videoUrls`` [{url, thumbnail}],
  ``imageUrls`` and ``imageUrl`` = the first clip's link.
- The "window confirm": ``MJ::Inpaint::`` and ``MJ::CustomZoom::`` always, and pan /
  variation / reroll / animate buttons sent with ``enableRemix: true``, answer code 21
  ``Waiting for window confirm`` with a new task id in status MODAL (``properties``
  ``finalPrompt``, ``remix: true``). It waits there until ``POST /mj/submit/modal``
  (``taskId``, ``prompt``: empty means the parent's; ``maskBase64`` for Vary Region),
  which answers code 1 with the same id and starts the job. A custom zoom reads its
  factor from ``--zoom`` in that prompt (Discord's form), 1.0-2.0.
- ``POST /mj/submit/edits`` (also ``/edit``) and ``/retexture``: ``prompt`` and ``image``
  (http URL, data URL or bare base64, PNG assumed); either empty is code 4
  ``image或prompt不能为空``, bad base64 code 4 ``base64格式错误``.

Clips are real H.264 MP4s from :mod:`mjnb.simulator.video` (long side 256 px, 12 fps: a
clip encodes in well under a second), rendered on first download and cached; they are
served at signed URLs under ``/mj/_sim/videos/``. Editor pictures come from
:mod:`mjnb.simulator.art.editor`.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from mjnb.simulator.art import editor
from mjnb.simulator.images import ImageSource, crop_tile, decode_data_url, decode_image
from mjnb.simulator.model import Job

__all__ = [
    "MAX_EXTENSIONS",
    "MODAL_TEXT",
    "VIDEO_FPS",
    "VIDEO_LONG_SIDE",
    "Modal",
    "VideoSpec",
    "clip_bytes",
    "mask_image",
    "video_buttons",
    "zoom_factor",
]

#: the simulator's clips: small and quick to encode (the real ones are 480p, 24 fps);
#: smaller still when the simulator's ``long_side`` is
VIDEO_LONG_SIDE = 256
VIDEO_FPS = 12
#: Midjourney extends one clip at most 4 times (about 21 s in all)
MAX_EXTENSIONS = 4
VIDEO_TYPES = {"vid_1.1_i2v_480": "480p", "vid_1.1_i2v_720": "720p"}
MODAL_TEXT = "Waiting for window confirm"
_ZOOM = re.compile(r"--zoom\s+(\S+)", re.I)


@dataclass
class VideoSpec:
    """How a video job's clips are made: animated from ``start``, extended from clip
    ``clip`` of ``source``, or (``pick``) clip ``pick`` of ``source`` alone."""

    prompt: str
    motion: str = "low"
    loop: bool = False
    batch: int = 4
    raw: bool = False
    resolution: str = "480p"
    start: ImageSource | None = None
    end: ImageSource | None = None
    start_url: str = ""
    source: Job | None = None
    clip: int = 0
    pick: int | None = None
    extensions: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass
class Modal:
    """A task waiting in MODAL for ``/mj/submit/modal`` (not yet a job of the table)."""

    id: str
    parent: Job
    label: str  # "vary region" | "zoom custom" | an action label (remix)
    custom_id: str
    action: str  # the proxy's task action: VARIATION, ZOOM, PAN, REROLL, VIDEO
    prompt: str
    submitted_at: float
    state: Any = None
    hook: str | None = None
    video: VideoSpec | None = None


def new_task_id(now: float, n: int) -> str:
    """An id shaped like trueai's (``<epoch ms><3 digits>``)."""
    return f"{int(now * 1000)}{n % 1000:03d}"


def clip_bytes(job: Job, n: int) -> bytes:
    """Clip ``n`` (0-based) of a video job as MP4 bytes: rendered once, then cached.
    Blocking (PyAV): call through a worker thread."""
    from mjnb.simulator import video

    spec: VideoSpec = job.meta["video"]
    key = (job.id, "video", str(n))
    with spec.lock:
        cached = job.cache.get(key)
        if isinstance(cached, bytes):
            return cached
        end = spec.end.load(VIDEO_LONG_SIDE) if spec.end is not None else None
        if spec.pick is not None and spec.source is not None:
            data = clip_bytes(spec.source, spec.pick)
        elif spec.source is not None:
            data = video.extend(
                clip_bytes(spec.source, spec.clip),
                spec.prompt,
                job.seed + n,
                motion=spec.motion,
                loop=spec.loop,
                end=end,
                raw=spec.raw,
            )
        else:
            assert spec.start is not None, "an animate job needs a start image"
            data = video.animate_one(
                spec.start.load(VIDEO_LONG_SIDE),
                spec.prompt,
                job.seed,
                n,
                motion=spec.motion,
                loop=spec.loop,
                end=end,
                raw=spec.raw,
                resolution=spec.resolution,
                long_side=min(VIDEO_LONG_SIDE, job.long_side),
                fps=VIDEO_FPS,
            )
        job.cache.put(key, data, len(data))
        return data


def clip_count(spec: VideoSpec) -> int:
    return 1 if spec.pick is not None else spec.batch


def video_buttons(job: Job) -> list[tuple[str, str, str, str]]:
    """(label, customId, emoji, text) of a finished video job, as trueai builds them:
    a batch offers ``video_virtual_upscale::n`` and reroll (SetVideoUpscaleButtons), a
    picked clip the two extends (SetVideoExtendButtons), none past the last extension."""
    spec: VideoSpec = job.meta["video"]
    h = job.hash
    if spec.pick is None:
        picks = [
            ("upscale video", f"MJ::JOB::video_virtual_upscale::{i}::{h}", "", f"U{i}")
            for i in range(1, spec.batch + 1)
        ]
        return [*picks, ("reroll", f"MJ::JOB::reroll::0::{h}::SOLO", "🔄", "")]
    if spec.extensions >= MAX_EXTENSIONS:
        return []
    return [
        ("extend high", f"MJ::JOB::animate_high_extend::1::{h}", "🎞️", "Extend (High motion)"),
        ("extend low", f"MJ::JOB::animate_low_extend::1::{h}", "🎞️", "Extend (Low motion)"),
    ]


def mask_image(text: str | None, size: tuple[int, int]) -> Image.Image | None:
    """``maskBase64`` (data URL or bare base64) as an L image of ``size``, or None when
    absent. White repaints. Raises BadRequest for bytes that are no image."""
    if not text:
        return None
    mask = decode_image(decode_data_url(text.strip())).convert("L")
    if mask.size != size:
        mask = mask.resize(size, Image.Resampling.NEAREST)
    return mask.point(lambda v: 255 if v >= 128 else 0)


def zoom_factor(prompt: str) -> tuple[float | None, str]:
    """The ``--zoom`` factor of a custom-zoom prompt (2 when absent, as Discord's form
    is prefilled) and the prompt without it; None for a value Midjourney refuses."""
    found = _ZOOM.search(prompt)
    rest = _ZOOM.sub("", prompt).strip()
    if not found:
        return 2.0, rest
    try:
        factor = float(found[1])
    except ValueError:
        return None, rest
    return (factor if 1.0 <= factor <= 2.0 else None), rest


# -- pictures of editor jobs (called by Job.render through meta["paint"])


def parent_picture(parent: Job, tile: int = 0) -> Image.Image:
    image = parent.render()
    return crop_tile(image, tile) if tile and parent.kind == "grid" else image


def paint_region(mask: Image.Image, prompt: str, parent: Job) -> Any:
    def paint(job: Job) -> Image.Image:
        base = parent_picture(parent)
        size_mask = mask if mask.size == base.size else mask.resize(base.size)
        return editor.vary_region(base, size_mask, prompt, job.seed, job.params)

    return paint


def paint_zoom(factor: float, parent: Job) -> Any:
    from mjnb.simulator import art

    def paint(job: Job) -> Image.Image:
        return art.zoom_out(parent_picture(parent), factor, job.seed, long_side=job.long_side)

    return paint


def paint_remix(prompt: str, parent: Job, tile: int) -> Any:
    """A remixed V<n> of a grid is a new grid: four remixes of tile n; on a single image
    (vary, pan, reroll) the image remixed."""

    def paint(job: Job) -> Image.Image:
        if not (tile and parent.kind == "grid"):
            return editor.remix(parent_picture(parent), prompt, job.seed, job.params)
        grid = parent.render()
        source = crop_tile(grid, tile)
        out = Image.new("RGB", grid.size)
        w, h = source.size
        for i in range(4):
            one = editor.remix(source, prompt, job.seed + i, job.params)
            out.paste(one.resize((w, h)), ((i % 2) * w, (i // 2) * h))
        return out

    return paint


def paint_edit(source: ImageSource, prompt: str, retexture: bool) -> Any:
    def paint(job: Job) -> Image.Image:
        image = source.load(job.long_side)
        if retexture:
            return editor.retexture(image, prompt, job.seed, job.params)
        return editor.edit(image, prompt, job.seed, None, job.params)

    return paint


def clock_ms(now: float | None = None) -> int:
    return int((time.time() if now is None else now) * 1000)
