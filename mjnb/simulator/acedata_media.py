"""Ace's video, vary region and edits endpoints, simulated (see :mod:`.acedata`).

- ``POST /midjourney/videos`` ``action: generate``: ``image_url`` (the first frame) and
  ``prompt`` (Midjourney's ``--motion low|high``, ``--raw``, ``--bs 1|2|4`` inside the
  text), ``end_image_url``, ``loop``, ``resolution`` (``480p``/``720p``, default 720p as
  Ace's docs say), ``mode`` (``fast``/``turbo``; relax is refused), ``callback_url``,
  ``async``. ``action: extend``: ``video_id``, ``video_index`` (0-based into the parent's
  ``video_urls``), ``prompt``, ``end_image_url``. The answer: ``task_id``, ``video_id``,
  ``video_urls`` (the batch, 4 unless ``--bs`` says less), ``image_url`` (the cover: the
  first frame), ``image_width``/``image_height``, ``progress``, ``success``. While it
  runs no ``video_urls`` appear. Clips are real H.264 MP4s from
  :mod:`mjnb.simulator.video`, made when first downloaded, served at
  ``/_sim/videos/<job>/<n>.mp4`` and signed like image URLs (``url_ttl``). At most 4
  extensions per clip, as on Midjourney.
- ``variation_region`` (an imagine action on an upscaled image): ``mask`` is base64
  grayscale (a PNG), the image's exact size, white = repaint; the wrong size or an
  unreadable mask is HTTP 400 ``bad_request``. The result is a grid whose four tiles
  are the whole image, repainted only inside the mask (byte-identical outside).
- ``POST /midjourney/edits``: ``image_url``, ``prompt``, ``mask?``, ``split_images``,
  ``mode``: a grid of four edits of the image (the mask is scaled to a foreign image).
- ``POST /api/v1/files/`` (the platform's upload, here at the simulator's own origin):
  multipart with one field ``file``, the same credential as the API. A PNG, JPEG, WebP
  or GIF within ``max_body`` bytes is kept in the simulator's upload store and answered
  ``{"file_url": <its URL here>}``, the one field Ace's own clients read; the jobs then
  read that URL as the image it stands for (start image, edit input, describe input).
  Anything else: 400 ``bad_request``, 413 ``payload_too_large``, 401 without the token.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from typing import TYPE_CHECKING, Any

import anyio
from PIL import Image, UnidentifiedImageError
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mjnb.simulator import video as clips
from mjnb.simulator.art import editor
from mjnb.simulator.images import ImageSource, image_type
from mjnb.simulator.model import Job, State
from mjnb.simulator.wire import BadRequest, Fields, form_file, read_body

if TYPE_CHECKING:
    from collections.abc import Callable

    from mjnb.simulator.acedata import AceData
    from mjnb.simulator.state import Simulator

__all__ = [
    "VIDEO_FPS",
    "VIDEO_LONG_SIDE",
    "clip_bytes",
    "edits",
    "files",
    "region",
    "route",
    "video_answer",
    "videos",
]

#: simulated clips: at most this long side and frame rate, so one encodes in < 0.3 s
VIDEO_LONG_SIDE = 256
VIDEO_FPS = 12
VIDEO_MODES = ("fast", "turbo")
RESOLUTIONS = ("480p", "720p")
_PARAM = re.compile(r"--(\w+)(?:\s+([^\s-][^\s]*))?")


def _video_params(text: str) -> tuple[str, dict[str, str | bool]]:
    """The words of a video prompt and its ``--`` parameters (``--motion high --raw``)."""
    cut = text.find("--")
    words = (text if cut < 0 else text[:cut]).strip()
    params: dict[str, str | bool] = {}
    for name, value in _PARAM.findall(text[cut:] if cut >= 0 else ""):
        params[name.lower()] = value or True
    return words, params


def _mask(data: str, size: tuple[int, int] | None) -> Image.Image:
    """A base64 grayscale mask (a data: URL prefix is tolerated); ``size``: must match."""
    payload = data.split(",", 1)[1] if data.startswith("data:") and "," in data else data
    try:
        raw = base64.b64decode(payload, validate=True)
        opened = Image.open(io.BytesIO(raw))
        opened.load()
    except (binascii.Error, ValueError, UnidentifiedImageError, OSError) as exc:
        raise BadRequest("The mask must be a base64-encoded grayscale PNG image.") from exc
    mask = opened.convert("L")
    if size is not None and mask.size != size:
        raise BadRequest(
            f"The mask is {mask.width}x{mask.height} but the image is {size[0]}x{size[1]}; "
            "the mask must be the same size as the image."
        )
    if not any(mask.getextrema()[1:]):
        raise BadRequest("The mask is empty: paint white where the image should change.")
    return mask


def _grid(tiles: list[Image.Image]) -> Image.Image:
    w, h = tiles[0].size
    grid = Image.new("RGB", (2 * w, 2 * h))
    for i, tile in enumerate(tiles):
        grid.paste(tile, ((i % 2) * w, (i // 2) * h))
    return grid


# ---------------------------------------------------------------------------- vary region


def region(api: AceData, f: Fields, mode: str, meta: dict[str, Any]) -> Job | Response:
    """``variation_region`` on a finished single image, with its ``mask``."""
    sim = api.sim
    image_id = f.text("image_id", required=True)
    parent = sim.table.get(image_id, "acedata")
    if parent is None or parent.state(sim.clock()).status != "succeeded":
        raise BadRequest(f"No finished image has image_id {image_id!r}.")
    if parent.kind != "single" or parent.meta.get("type") == "videos":
        raise BadRequest(
            f"The action 'variation_region' is not available for image {image_id}; "
            "upscale a tile first."
        )
    mask_text = f.text("mask", required=True)
    assert mask_text is not None
    image = parent.render()
    mask = _mask(mask_text, image.size)
    words = (f.text("prompt") or "").strip() or parent.text

    def paint(job: Job) -> Image.Image:
        source = parent.render()
        return _grid([editor.vary_region(source, mask, words, job.seed + i) for i in range(4)])

    return api.create(
        lambda: sim.table.submit(
            protocol="acedata",
            action="vary region",
            parent=parent,
            speed=mode,
            meta={**meta, "paint": paint, "region_prompt": words},
        )
    )


# ---------------------------------------------------------------------------- edits


async def edits(api: AceData, request: Request) -> Response:
    """``POST /midjourney/edits``: four edits of the user's image, as a grid."""
    sim, f = api.sim, await api.fields(request)
    action = f.text("action") or "generate"
    if action != "generate":
        raise BadRequest(f"action must be 'generate' for edits, got {action!r}.")
    url = f.text("image_url", required=True)
    text = (f.text("prompt", required=True) or "").strip()
    assert url is not None
    mode = f.text("mode") or "fast"
    if mode not in ("fast", "relax", "turbo"):
        raise BadRequest(f"mode must be fast, relax or turbo, got {mode!r}.")
    f.text("callback_url")
    split = f.flag("split_images")
    source = sim.source(url, request.url.netloc)
    image = await anyio.to_thread.run_sync(source.load, sim.config.long_side)
    mask_text = f.text("mask")
    mask = None
    if mask_text:
        own = source.job is not None or source.data is not None
        mask = _mask(mask_text, image.size if own else None)
        if mask.size != image.size:
            mask = mask.resize(image.size, Image.Resampling.NEAREST)
    banned = sim.banned_word(text)
    if banned:
        from mjnb.simulator.acedata import error

        sim.count("acedata", "rejected")
        return error(403, "forbidden", f"The prompt contains a banned word ({banned}).")
    prompt = sim.parse(text)

    def paint(job: Job) -> Image.Image:
        start = source.load(job.long_side)
        return _grid(
            [
                editor.edit(start, prompt.text, job.seed + i, mask, dict(prompt.params))
                for i in range(4)
            ]
        )

    meta = {
        "request": f.body,
        "type": "imagine",
        "era": "acedata",
        "split_images": split,
        "paint": paint,
    }
    made = api.create(
        lambda: sim.table.submit(
            protocol="acedata",
            action="edit",
            prompt=prompt,
            prompt_text=text,
            inputs=[source],
            speed=mode,
            meta=meta,
        )
    )
    if isinstance(made, Response):
        return made
    made.aspect = image.width / image.height
    return await api.respond(request, f, made)


# ---------------------------------------------------------------------------- uploads


async def files(api: AceData, request: Request) -> Response:
    """``POST /api/v1/files/``: keep one uploaded image, answer its URL as ``file_url``."""
    sim = api.sim
    body = await read_body(request, sim.config.max_body)
    data = form_file(request.headers.get("content-type", ""), body, "file")
    if image_type(data) is None:
        raise BadRequest("The file must be a PNG, JPEG, WebP or GIF image.")
    return JSONResponse({"file_url": sim.upload(data, str(request.base_url), "acedata")})


# ---------------------------------------------------------------------------- videos


async def videos(api: AceData, request: Request) -> Response:
    """``POST /midjourney/videos``: generate from an image, or extend a clip."""
    sim, f = api.sim, await api.fields(request)
    action = f.text("action") or "generate"
    mode = f.text("mode") or "fast"
    if mode not in VIDEO_MODES:
        raise BadRequest(f"mode must be fast or turbo for videos, got {mode!r}.")
    resolution = f.text("resolution") or "720p"
    if resolution not in RESOLUTIONS:
        raise BadRequest(f"resolution must be 480p or 720p, got {resolution!r}.")
    loop = f.flag("loop")
    f.flag("async")
    f.text("callback_url")
    text = (f.text("prompt") or "").strip()
    words, params = _video_params(text)
    motion = str(params.get("motion") or "low")
    if motion not in clips.MOTIONS:
        raise BadRequest(f"--motion must be low or high, got {motion!r}.")
    batch = str(params.get("bs") or "4")
    if batch not in ("1", "2", "4"):
        raise BadRequest(f"--bs must be 1, 2 or 4, got {batch!r}.")
    end_url = f.text("end_image_url")
    end = sim.source(end_url, request.url.netloc) if end_url else None
    if loop and end is not None:
        raise BadRequest("loop and end_image_url cannot be used together.")
    spec: dict[str, Any] = {
        "words": words,
        "motion": motion,
        "raw": bool(params.get("raw")),
        "loop": loop or bool(params.get("loop")),
        "end": end,
        "resolution": resolution,
        "count": int(batch),
        "extensions": 0,
    }
    meta: dict[str, Any] = {"request": f.body, "type": "videos", "era": "acedata"}
    if action == "generate":
        url = f.text("image_url", required=True)
        assert url is not None
        if not text:
            raise BadRequest("The field 'prompt' is required for action 'generate'.")
        inputs = [sim.source(url, request.url.netloc)]
    elif action == "extend":
        video_id = f.text("video_id", required=True)
        parent = sim.table.get(video_id, "acedata")
        if parent is None or parent.meta.get("type") != "videos":
            raise BadRequest(f"No video has video_id {video_id!r}.")
        if parent.state(sim.clock()).status != "succeeded":
            raise BadRequest(f"The video {video_id} is not finished; extend it once it is.")
        index = f.integer("video_index", 0)
        assert index is not None
        count = int(parent.meta["clip"]["count"])
        if not 0 <= index < count:
            raise BadRequest(f"video_index must be 0-{count - 1} (0-based), got {index}.")
        done = int(parent.meta["clip"]["extensions"])
        if done >= clips.MAX_EXTENSIONS:
            raise BadRequest(f"This video was already extended {done} times, the most allowed.")
        spec.update(parent=parent, index=index, extensions=done + 1, loop=False)
        inputs = list(parent.inputs)
    else:
        raise BadRequest(f"action must be 'generate' or 'extend', got {action!r}.")
    meta["clip"] = spec
    meta["paint"] = _cover
    made = api.create(
        lambda: sim.table.submit(
            protocol="acedata", action="video", prompt_text=text, inputs=inputs, speed=mode,
            meta=meta,
        )
    )  # fmt: skip
    if isinstance(made, Response):
        return made
    made.kind = "single"
    return await api.respond(request, f, made)


def _cover(job: Job) -> Image.Image:
    """A clip's cover: its first frame, the start image in the clip's shape."""
    start = job.inputs[0].load(job.long_side)
    spec = job.meta["clip"]
    size = clips.clip_size(start.size, spec["resolution"], min(VIDEO_LONG_SIDE, job.long_side))
    return start.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def clip_bytes(job: Job, n: int) -> bytes:
    """Clip ``n`` (0-based) of a video job, encoded once (blocking: a worker thread)."""
    key = (job.id, "clip", str(n))
    cached = job.cache.get(key)
    if isinstance(cached, bytes):
        return cached
    spec = job.meta["clip"]
    end_source: ImageSource | None = spec["end"]
    end = end_source.load(job.long_side) if end_source is not None else None
    side = min(VIDEO_LONG_SIDE, job.long_side)
    parent: Job | None = spec.get("parent")
    if parent is not None:
        source = clip_bytes(parent, int(spec["index"]))
        data = clips.extend(
            source, spec["words"], job.seed + n, motion=spec["motion"], end=end, raw=spec["raw"]
        )
    else:
        start = job.inputs[0].load(job.long_side)
        data = clips.animate_one(
            start,
            spec["words"],
            job.seed,
            n,
            motion=spec["motion"],
            loop=spec["loop"],
            end=end,
            raw=spec["raw"],
            resolution=spec["resolution"],
            long_side=side,
            fps=VIDEO_FPS,
        )
    job.cache.put(key, data, len(data))
    return data


def clip_path(sim: Simulator, job: Job, n: int) -> str:
    return sim.sign(f"/_sim/videos/{job.id}/{n}.mp4", job.finished_at)


async def video_answer(
    api: AceData, job: Job, base: str, state: State, live: bool
) -> dict[str, Any]:
    """A ``/midjourney/videos`` answer: progress while running, the clips when done."""
    if state.status != "succeeded":
        running: dict[str, Any] = {"task_id": job.uuid, "progress": state.progress}
        return {"success": True, **running} if live else running
    cover = job.rendered
    if cover is None:
        cover = await anyio.to_thread.run_sync(job.render)
    count = int(job.meta["clip"]["count"])
    root = base.rstrip("/")
    return {
        "success": True,
        "task_id": job.uuid,
        "video_id": job.id,
        "video_urls": [root + clip_path(api.sim, job, n) for n in range(count)],
        "image_url": api.sim.image_url(base, job, "image"),
        "image_width": cover.width,
        "image_height": cover.height,
        "progress": 100,
    }


def route(sim: Simulator, downloadable: Callable[[Request], bool]) -> Route:
    """``GET /_sim/videos/<job>/<n>.mp4``: a finished clip, while its URL is valid."""

    async def serve(request: Request) -> Response:
        if not downloadable(request):
            return PlainTextResponse("This content is no longer available.", status_code=403)
        job = sim.table.get(request.path_params["job"])
        name = request.path_params["n"]
        spec = job.meta.get("clip") if job is not None else None
        if (
            job is None
            or not isinstance(spec, dict)
            or not name.isdigit()
            or int(name) >= int(spec["count"])
            or job.state(sim.clock()).status != "succeeded"
        ):
            return PlainTextResponse("Not found.", status_code=404)
        data = await anyio.to_thread.run_sync(clip_bytes, job, int(name))
        sim.count(None, "downloads")
        return Response(
            data, media_type="video/mp4", headers={"cache-control": "public, max-age=86400"}
        )

    return Route("/_sim/videos/{job}/{n}.mp4", serve, methods=["GET"])
