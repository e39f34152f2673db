"""Youchuan's video and editor endpoints, simulated (beside :mod:`.youchuan`).

Video (real MP4s from :mod:`mjnb.simulator.video`, ``long_side`` 256 and 12 fps so a clip
encodes well under a job's latency):
- ``POST /v1/tob/video-diffusion`` {``jobId`` + ``imageNo`` (0-3) | ``prompt`` with the
  start image's URL, ``videoType`` 0 480p / 1 720p}. ``--motion low|high``, ``--loop``,
  ``--end <url>``, ``--bs 1|2|4`` (default 4, as Midjourney's) and ``--raw`` are read
  from ``prompt``. The job's ``urls`` are the clips.
- ``POST /v1/tob/extend-video`` {``jobId``, ``videoNo`` 0-3, ``prompt`` (required)}: one
  clip about 4 s longer, continuing from the last frame; past 4 extensions 405
  ``Not_Support``.
- ``POST /v1/tob/video-upscale`` {``jobId``, ``videoNo``}: the clip at 1080p; an upscaled
  clip again is 403 ``Upscale_Not_Support`` (the doc: 高清任务不支持此操作).

Editor (art from :mod:`mjnb.simulator.art.editor`; each job is four images):
- ``/inpaint`` {``jobId``, ``imageNo``, ``mask``: {``areas``: [{``width``, ``height``,
  ``points``}]} | {``url``}, ``remixPrompt?``}: only the masked pixels change; 405 on
  V8.x. ``width``/``height`` are the size the points are measured in.
- ``/edit`` {``jobId``, ``imageNo``, ``canvas``, ``imgPos``, ``remixPrompt``, ``mask?``}
  and ``/upload-paint`` {``imgUrl``, ``mask``, ``canvas``, ``imgPos``, ``remixPrompt``}:
  the image placed on the canvas; the canvas outside it and the mask are repainted.
- ``/retexture`` {``imgUrl``, ``remixPrompt``}: same layout, the prompt's style.
Jobs from upload-paint and retexture allow only upscale (405 for anything else).
"""

from __future__ import annotations

import zlib
from typing import Any

import anyio
import numpy as np
from PIL import Image, ImageDraw
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from mjnb.prompt import PromptError, parse_prompt
from mjnb.simulator import video
from mjnb.simulator.art import editor
from mjnb.simulator.images import crop_tile
from mjnb.simulator.model import Job
from mjnb.simulator.wire import Fields
from mjnb.simulator.youchuan import PROTOCOL, Refused, Youchuan

__all__ = ["VIDEO_FPS", "VIDEO_LONG_SIDE", "Media", "clip_bytes"]

#: the clips' long side at most (smaller when the simulator's ``long_side`` is)
VIDEO_LONG_SIDE = 256
VIDEO_FPS = 12
VIDEO_TYPES = {0: "480p", 1: "720p"}
DEFAULT_BATCH = 4
MAX_EXTENSIONS = 4


def clip_bytes(job: Job, number: int) -> bytes:
    """Clip ``number`` (0-based) of a video job, encoded once and cached (blocking)."""
    key = (job.id, "video", str(number))
    cached = job.cache.get(key)
    if isinstance(cached, bytes):
        return cached
    spec: dict[str, Any] = job.meta["video"]
    if spec["from"] == "extend":
        source = clip_bytes(spec["source"], spec["videoNo"])
        seed = _clip_seed(spec["source"], spec["text"], spec["videoNo"])
        data = video.extend(source, spec["text"], seed, motion=spec["motion"], raw=spec["raw"])
    elif spec["from"] == "upscale":
        data = video.upscale(clip_bytes(spec["source"], spec["videoNo"]))
    else:
        start = spec["start"]().convert("RGB")
        end = spec["end"]().convert("RGB") if spec.get("end") else None
        data = video.animate_one(
            start,
            spec["text"],
            spec["seed"],
            number,
            motion=spec["motion"],
            loop=spec["loop"],
            end=end,
            raw=spec["raw"],
            resolution=spec["resolution"],
            long_side=min(VIDEO_LONG_SIDE, job.long_side),
            fps=VIDEO_FPS,
        )
    job.cache.put(key, data, len(data))
    return data


def _clip_seed(source: Job, text: str, number: int) -> int:
    """An extension's seed: from the clip it continues and its text, not the job count."""
    spec = source.meta["video"]
    return zlib.crc32(f"{spec.get('seed', source.seed)}|{text}|{number}".encode()) & 0x7FFFFFFF


def _grid(images: list[Image.Image]) -> Image.Image:
    w, h = images[0].size
    grid = Image.new("RGB", (2 * w, 2 * h))
    for i, image in enumerate(images):
        grid.paste(image.convert("RGB").resize((w, h)), ((i % 2) * w, (i // 2) * h))
    return grid


class Media:
    """The video and editor handlers over one :class:`Youchuan` endpoint set."""

    def __init__(self, api: Youchuan) -> None:
        self.api, self.sim = api, api.sim

    # -- helpers

    def picture_of(self, parent: Job, tile: int) -> Image.Image:
        """The image ``tile`` (1-4; 0 the one image) of a finished job (blocking)."""
        image = parent.render()
        return crop_tile(image, tile) if tile and parent.kind == "grid" else image

    def source(self, request: Request, url: str) -> Any:
        return self.sim.source(url, request.url.netloc)

    def video_params(self, text: str) -> tuple[str, dict[str, Any]]:
        """The text and the video parameters of a video prompt (Refused when bad)."""
        try:
            parsed = parse_prompt(text, purpose="video", warn=False)
        except PromptError as exc:
            raise Refused(400, "Invalid_Prompt_Parameter", str(exc)) from None
        params = dict(parsed.params)
        motion = params.get("motion", "low")
        batch = params.get("bs", DEFAULT_BATCH)
        if motion not in ("low", "high"):
            raise Refused(400, "Invalid_Prompt_Parameter", "--motion must be low or high.")
        if batch not in (1, 2, 4):
            raise Refused(400, "Invalid_Prompt_Parameter", "--bs must be 1, 2 or 4.")
        if params.get("loop") and params.get("end"):
            raise Refused(400, "Invalid_Prompt_Parameter", "--loop and --end exclude each other.")
        params |= {"motion": motion, "bs": batch, "images": list(parsed.images)}
        return parsed.text, params

    def video_job(self, request: Request, f: Fields, parent: Job | None, spec: dict[str, Any]):
        """Create a video job (``spec`` says how its clips are made)."""
        sim = self.sim
        meta = {"prompt": spec.get("prompt", ""), "video": spec, "clips": spec["clips"]}
        meta["paint"] = lambda job: video.decode(clip_bytes(job, 0))[0][0]  # the poster
        if parent is not None:
            meta["parentId"] = parent.id
        label = f"{spec['from']} video"
        return self.api.create(
            request,
            f,
            spec["type"],
            lambda: sim.table.submit(
                protocol=PROTOCOL,
                action=label if parent is not None else "imagine",
                parent=parent,
                speed=parent.speed if parent is not None else "fast",
                meta=meta,
            ),
        )

    def video_parent(self, f: Fields) -> tuple[Job, int]:
        parent = self.api.parent(f)
        spec = parent.meta.get("video")
        if spec is None:
            raise Refused(400, "Invalid_Argument", f"Job {parent.id} is not a video job.")
        number = f.integer("videoNo", required=True)
        assert number is not None
        if not 0 <= number < int(parent.meta.get("clips", 1)):
            count = parent.meta.get("clips", 1)
            raise Refused(
                400, "Invalid_Argument", f"videoNo must be 0-{count - 1} (counted from 0)."
            )
        return parent, number

    # -- video

    async def video_diffusion(self, request: Request) -> Response:
        f = await self.api.fields(request)
        kind = f.integer("videoType", 0)
        resolution = VIDEO_TYPES.get(kind if kind is not None else 0)
        if resolution is None:
            raise Refused(400, "Invalid_Argument", "videoType must be 0 (480p) or 1 (720p).")
        text = (f.text("prompt") or "").strip()
        banned = self.sim.banned_word(text)
        if banned:
            raise Refused(403, "Msg_Sensitive", f"The prompt contains a sensitive word ({banned}).")
        if f.text("jobId"):
            parent = self.api.parent(f)
            tile = self.api.image_no(f, parent)
            words, params = self.video_params(text) if text else ("", {})
            params.setdefault("motion", "low")
            params.setdefault("bs", DEFAULT_BATCH)

            def start() -> Image.Image:
                return self.picture_of(parent, tile)

            words = words or parent.text
        else:
            if not text:
                raise Refused(400, "Invalid_Argument", "jobId or prompt is required.")
            if len(text) > 8192:
                raise Refused(400, "Invalid_Argument", "prompt must be 1-8192 characters.")
            words, params = self.video_params(text)
            if not params["images"]:
                raise Refused(
                    400, "Invalid_Prompt_Parameter", "A video prompt needs the start image's URL."
                )
            first = self.source(request, params["images"][0])
            parent = None

            def start() -> Image.Image:
                return first.load(VIDEO_LONG_SIDE)

        end_source = self.source(request, params["end"]) if params.get("end") else None
        # the same start image, text and parameters make the same clips
        seed = params.get("seed")
        if not isinstance(seed, int):
            origin = f"{parent.seed}:{tile}" if parent is not None else params["images"][0]
            seed = zlib.crc32(f"{origin}|{words}".encode()) & 0x7FFFFFFF
        spec = {
            "seed": seed,
            "from": "image",
            "type": "video_diffusion",
            "prompt": text,
            "text": words,
            "motion": params["motion"],
            "loop": bool(params.get("loop")),
            "raw": bool(params.get("raw")),
            "resolution": resolution,
            "clips": params["bs"],
            "extensions": 0,
            "start": start,
            "end": (lambda: end_source.load(VIDEO_LONG_SIDE)) if end_source else None,
        }
        return self.video_job(request, f, parent, spec)

    async def extend_video(self, request: Request) -> Response:
        f = await self.api.fields(request)
        parent, number = self.video_parent(f)
        text = (f.text("prompt", required=True) or "").strip()
        done = int(parent.meta["video"].get("extensions", 0))
        if done >= MAX_EXTENSIONS:
            raise Refused(
                405,
                "Not_Support",
                f"视频最多可扩展4次: job {parent.id} has been extended {done} times already.",
            )
        words, params = self.video_params(text)
        spec = {
            "from": "extend",
            "type": "extend_video",
            "prompt": text,
            "text": words,
            "motion": params["motion"],
            "raw": bool(params.get("raw")),
            "source": parent,
            "videoNo": number,
            "clips": 1,
            "extensions": done + 1,
        }
        return self.video_job(request, f, parent, spec)

    async def video_upscale(self, request: Request) -> Response:
        f = await self.api.fields(request)
        parent, number = self.video_parent(f)
        if parent.meta["video"]["from"] == "upscale":
            raise Refused(403, "Upscale_Not_Support", "高清任务不支持此操作: already 1080p.")
        spec = {
            "from": "upscale",
            "type": "video_upscale",
            "prompt": parent.meta.get("prompt", ""),
            "source": parent,
            "videoNo": number,
            "clips": 1,
            "extensions": parent.meta["video"].get("extensions", 0),
        }
        return self.video_job(request, f, parent, spec)

    async def download(self, request: Request) -> Response:
        """``/v1/tob/_sim/videos/{id}/{n}.mp4``: a clip (signed like the images)."""
        sim = self.sim
        if not sim.verify(request.url.path, request.url.query):
            return PlainTextResponse("This content is no longer available.", status_code=403)
        job = sim.table.get(request.path_params["id"], PROTOCOL)
        number = request.path_params["n"]
        if job is None or "video" not in job.meta or not number.isdigit():
            return PlainTextResponse("Not found.", status_code=404)
        if job.state(sim.clock()).status != "succeeded" or int(number) >= job.meta["clips"]:
            return PlainTextResponse("Not found.", status_code=404)
        data = await anyio.to_thread.run_sync(clip_bytes, job, int(number))
        sim.count(None, "downloads")
        return Response(data, media_type="video/mp4")

    def video_urls(self, job: Job, base: str) -> list[str]:
        sim = self.sim
        return [
            base.rstrip("/") + sim.sign(f"/v1/tob/_sim/videos/{job.id}/{n}.mp4", job.finished_at)
            for n in range(int(job.meta["clips"]))
        ]

    # -- editor

    def mask_of(self, request: Request, mask: dict[str, Any], size: tuple[int, int]) -> Image.Image:
        """An L mask of ``size`` from Youchuan's ``{areas}`` or ``{url}`` (white = repaint)."""
        if mask.get("url"):
            loaded = self.source(request, str(mask["url"])).load(max(size))
            return loaded.convert("L").resize(size).point(lambda v: 255 if v >= 128 else 0)
        areas = mask.get("areas")
        if not isinstance(areas, list) or not areas:
            raise Refused(400, "Invalid_Argument", "mask needs areas (or url).")
        ss = 4  # supersampled, so a box from x0 to x1 covers pixels x0..x1-1 exactly
        big = Image.new("L", (size[0] * ss, size[1] * ss), 0)
        draw = ImageDraw.Draw(big)
        for area in areas:
            try:
                w, h = float(area["width"]), float(area["height"])
                points = [float(p) for p in area["points"]]
            except (KeyError, TypeError, ValueError):
                raise Refused(
                    400, "Invalid_Argument", "each area needs width, height and points."
                ) from None
            if w <= 0 or h <= 0 or len(points) < 6 or len(points) % 2:
                raise Refused(400, "Invalid_Argument", "an area needs 3+ points and a size.")
            sx, sy = size[0] * ss / w, size[1] * ss / h
            xy = [(points[i] * sx, points[i + 1] * sy) for i in range(0, len(points), 2)]
            draw.polygon(xy, fill=255)
        out = big.resize(size, Image.Resampling.BOX).point(lambda v: 255 if v >= 128 else 0)
        if not out.getbbox():
            raise Refused(400, "Invalid_Argument", "the mask is empty.")
        return out

    def editor_job(
        self,
        request: Request,
        f: Fields,
        kind: str,
        parent: Job | None,
        paint: Any,
        text: str,
        meta: dict[str, Any],
    ) -> JSONResponse:
        """Create an editor job whose four images ``paint(seed)`` makes."""
        sim = self.sim
        prompt = self.api.prompt(text, "remixPrompt") if text else None

        def painter(job: Job) -> Image.Image:
            return _grid([paint(job.seed + i) for i in range(4)])

        meta = {"prompt": text, "paint": painter, **meta}
        if parent is not None:
            meta["parentId"] = parent.id
        return self.api.create(
            request,
            f,
            kind,
            lambda: sim.table.submit(
                protocol=PROTOCOL,
                action=kind,
                parent=parent,
                prompt=prompt,
                prompt_text=text,
                speed=parent.speed if parent is not None else "fast",
                meta=meta,
            ),
        )

    async def inpaint(self, request: Request) -> Response:
        api = self.api
        f = await api.fields(request)
        parent = api.parent(f)
        if not api.rules(parent).zoom:
            raise api.not_on_v8(parent, "Inpaint (vary region)")
        tile = api.image_no(f, parent)
        text = (f.text("remixPrompt") or "").strip()
        words = parse_prompt(text, warn=False).text if text else parent.text
        image = await anyio.to_thread.run_sync(self.picture_of, parent, tile)
        mask = self.mask_of(request, f.mapping("mask"), image.size)
        meta = {"imageNo": max(tile - 1, 0)}
        return self.editor_job(
            request,
            f,
            "inpaint",
            parent,
            lambda seed: editor.vary_region(image, mask, words, seed, parent.params),
            text,
            meta,
        )

    def placed(
        self, request: Request, f: Fields, image: Image.Image, required: bool
    ) -> tuple[Image.Image, Image.Image | None]:
        """The image on its canvas (``canvas``, ``imgPos``) and the repaint mask: the
        canvas outside the image plus the ``mask`` areas (given in canvas pixels)."""
        canvas, pos = f.mapping("canvas"), f.mapping("imgPos")
        try:
            cw, ch = int(canvas["width"]), int(canvas["height"])
            pw, ph, x, y = int(pos["width"]), int(pos["height"]), int(pos["x"]), int(pos["y"])
        except (KeyError, TypeError, ValueError):
            raise Refused(
                400,
                "Invalid_Argument",
                "canvas {width, height} and imgPos {width, height, x, y} are required.",
            ) from None
        if min(cw, ch, pw, ph) <= 0 or max(cw, ch) > 8192:
            raise Refused(400, "Invalid_Argument", "canvas and imgPos need positive sizes.")
        scale = VIDEO_LONG_SIDE * 2 / max(cw, ch)  # render at the simulator's size
        size = (max(2, round(cw * scale)), max(2, round(ch * scale)))
        board = Image.new("RGB", size, (128, 128, 128))
        inner = (max(1, round(pw * scale)), max(1, round(ph * scale)))
        at = (round(x * scale), round(y * scale))
        board.paste(image.convert("RGB").resize(inner), at)
        outside = Image.new("L", size, 255)
        outside.paste(0, (*at, at[0] + inner[0], at[1] + inner[1]))
        given = f.mapping("mask")
        if required and not given:
            raise Refused(400, "Invalid_Argument", "mask is required.")
        mask = outside
        if given:
            drawn = self.mask_of(request, given, size)
            mask = Image.fromarray(np.maximum(np.asarray(outside), np.asarray(drawn)))
        return board, mask if mask.getbbox() else None

    async def edit(self, request: Request) -> Response:
        api = self.api
        f = await api.fields(request)
        parent = api.parent(f)
        tile = api.image_no(f, parent)
        text = (f.text("remixPrompt", required=True) or "").strip()
        image = await anyio.to_thread.run_sync(self.picture_of, parent, tile)
        board, mask = self.placed(request, f, image, required=False)
        words = parse_prompt(text, warn=False).text
        return self.editor_job(
            request,
            f,
            "edit",
            parent,
            lambda seed: editor.edit(board, words, seed, mask),
            text,
            {"imageNo": max(tile - 1, 0)},
        )

    async def upload_paint(self, request: Request) -> Response:
        f = await self.api.fields(request)
        url = self.image_url(f)
        text = (f.text("remixPrompt", required=True) or "").strip()
        image = await anyio.to_thread.run_sync(self.source(request, url).load, VIDEO_LONG_SIDE * 2)
        board, mask = self.placed(request, f, image, required=True)
        words = parse_prompt(text, warn=False).text
        return self.editor_job(
            request,
            f,
            "upload_paint",
            None,
            lambda seed: editor.edit(board, words, seed, mask),
            text,
            {"only_upscale": True},
        )

    async def retexture(self, request: Request) -> Response:
        f = await self.api.fields(request)
        url = self.image_url(f)
        text = (f.text("remixPrompt", required=True) or "").strip()
        image = await anyio.to_thread.run_sync(self.source(request, url).load, VIDEO_LONG_SIDE * 2)
        words = parse_prompt(text, warn=False).text
        return self.editor_job(
            request,
            f,
            "retexture",
            None,
            lambda seed: editor.retexture(image, words, seed),
            text,
            {"only_upscale": True},
        )

    @staticmethod
    def image_url(f: Fields) -> str:
        url = (f.text("imgUrl", required=True) or "").strip()
        if not url.startswith(("http://", "https://")) or len(url) > 1024:
            raise Refused(400, "Invalid_Argument", "imgUrl must be an http(s) URL of 1-1024 chars.")
        return url

    def routes(self) -> dict[str, Any]:
        return {
            "video-diffusion": self.video_diffusion,
            "extend-video": self.extend_video,
            "video-upscale": self.video_upscale,
            "inpaint": self.inpaint,
            "edit": self.edit,
            "upload-paint": self.upload_paint,
            "retexture": self.retexture,
        }
