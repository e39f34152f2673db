"""Deterministic image-to-video clips for the offline simulator: real H.264 MP4s.

Midjourney's V1 video model animates one start image into a clip of about 5 s; an
extension adds about 4 s, at most 4 times; a job makes a batch of 1, 2 or 4 clips; SD is
480p and HD 720p (``video-upscale`` on Youchuan gives 1080p). This module paints such
clips from the start image, the prompt text, the seed and the video parameters, so a
class can see what each one does:

  --motion low    a gentle camera drift (a few percent of the frame), slight parallax
                  between sky and ground, a faint sway of the picture's elements.
  --motion high   a big camera move (pan ~18 %, zoom ~25 %, a little roll and shake),
                  strong parallax, a strong sway, and now and then a glitch band.
  --raw           less creative motion: no roll, shake or glitches, a third of the sway.
  --loop          the clip ends on its first frame (the camera goes out and comes back).
  --end <image>   the clip travels toward the end image and ends on it.
  --bs 1|2|4      that many clips, each with its own camera path and sway.
  prompt words    "left"/"right"/"up"/"down" steer the pan; "zoom in"/"push in" and
                  "zoom out"/"pull back" the zoom; otherwise the seed picks them.

Same inputs give byte-identical MP4s: the frames are pure functions of the inputs, and
x264 runs single-threaded with the muxer in bit-exact mode (no dates, no versions).

Sizes follow the real service (``clip_size``: 480p = 480 px on the short side), scaled
down by ``long_side`` for tests and the default simulator; ``fps`` is the frame-rate knob
(Midjourney's clips are 24 fps). PyAV (FFmpeg) is imported when a clip is encoded, so
importing the simulator stays cheap. The simulator keeps its own vocabulary on purpose.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

__all__ = [
    "BATCHES",
    "CLIP_SECONDS",
    "EXTEND_SECONDS",
    "FPS",
    "MAX_EXTENSIONS",
    "MOTIONS",
    "RESOLUTIONS",
    "animate",
    "animate_one",
    "clip_size",
    "decode",
    "encode",
    "extend",
    "extensions",
    "last_frame",
    "upscale",
]

#: a new clip lasts about 5 s; each extension adds about 4 s, at most 4 times (~21 s)
CLIP_SECONDS = 5.0
EXTEND_SECONDS = 4.0
MAX_EXTENSIONS = 4
#: Midjourney's clips play at 24 frames a second
FPS = 24
#: short side in px for each resolution the providers name
RESOLUTIONS: dict[str, int] = {"480p": 480, "720p": 720, "1080p": 1080}
MOTIONS: tuple[str, ...] = ("low", "high")
BATCHES: tuple[int, ...] = (1, 2, 4)

# x264 single-threaded (deterministic, one core), "veryfast" (5x smaller than
# "ultrafast" at about the same speed for small frames), a key frame every 2 s.
_X264 = {"preset": "veryfast", "crf": "28", "threads": "1", "profile": "high"}
_MUX = {"movflags": "+faststart", "fflags": "+bitexact"}
_PAD = 0.3  # reflected border around the source, as a fraction of its size
_SS = 2  # supersampling of the camera warp


@dataclass(frozen=True)
class _Motion:
    """How far things move over one clip, as fractions of the frame size."""

    pan: float
    zoom: float
    roll: float  # degrees
    parallax: float
    sway: float
    shake: float
    glitch: float  # chance per frame of a glitch band


_AMOUNTS = {
    "low": _Motion(pan=0.04, zoom=0.06, roll=0.4, parallax=0.25, sway=0.006, shake=0.0, glitch=0.0),
    "high": _Motion(
        pan=0.18, zoom=0.25, roll=3.0, parallax=0.8, sway=0.03, shake=0.004, glitch=0.05
    ),
}


@dataclass(frozen=True)
class _Path:
    """One clip's seeded choices: where the camera goes and how the picture sways."""

    direction: tuple[float, float]
    zoom_sign: float
    roll_sign: float
    horizon: float
    sway_waves: tuple[tuple[float, float, float], ...]  # (cycles across, cycles in time, phase)
    seed: int


def _digest(*parts: object) -> int:
    text = "\x1f".join(repr(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def _check(motion: str, batch: int, loop: bool, end: Image.Image | None) -> None:
    if motion not in MOTIONS:
        raise ValueError(f"motion must be 'low' or 'high', got {motion!r}")
    if batch not in BATCHES:
        raise ValueError(f"batch must be 1, 2 or 4, got {batch!r}")
    if loop and end is not None:
        raise ValueError("loop and end exclude each other: a loop ends on its first frame")


def _path(prompt: str, seed: int, index: int, salt: str) -> _Path:
    """The camera path of clip ``index``: seeded, steered by direction words."""
    rng = np.random.default_rng(_digest(prompt, seed, index, salt))
    angle = rng.uniform(0, 2 * math.pi)
    dx, dy = math.cos(angle), math.sin(angle) * 0.6
    words = set(re.findall(r"[a-z]+", prompt.lower()))
    text = " ".join(re.findall(r"[a-z]+", prompt.lower()))
    if index == 0:  # the first clip obeys the words; the others vary around them
        if "left" in words or "right" in words:
            dx, dy = (-1.0 if "left" in words else 1.0), 0.0
        if "up" in words or "down" in words:
            dx, dy = 0.0, (-1.0 if "up" in words else 1.0)
    zoom_sign = 1.0 if rng.random() < 0.7 else -1.0
    if re.search(r"\b(zoom|push) in\b", text):
        zoom_sign = 1.0
    if re.search(r"\b(zoom out|pull back|pull out)\b", text):
        zoom_sign = -1.0
    waves = tuple(
        (
            float(rng.uniform(0.6, 2.2)),
            float(rng.integers(1, 3)),
            float(rng.uniform(0, 2 * math.pi)),
        )
        for _ in range(2)
    )
    return _Path(
        direction=(dx, dy),
        zoom_sign=zoom_sign,
        roll_sign=1.0 if rng.random() < 0.5 else -1.0,
        horizon=float(rng.uniform(0.45, 0.7)),
        sway_waves=waves,
        seed=int(rng.integers(2**31)),
    )


def clip_size(
    image_size: tuple[int, int], resolution: str = "480p", long_side: int | None = None
) -> tuple[int, int]:
    """The (width, height) of a clip made from an image of ``image_size``.

    The short side is the resolution's (480 for ``"480p"``), the long side follows the
    image's aspect; ``long_side`` scales the whole frame down so its long side is at most
    that. Both sides are even, as H.264's 4:2:0 colour needs.
    """
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}, got {resolution!r}")
    w, h = image_size
    if w <= 0 or h <= 0:
        raise ValueError(f"the start image has no pixels ({w}x{h})")
    short = RESOLUTIONS[resolution]
    scale = short / min(w, h)
    if long_side is not None:
        if long_side < 16:
            raise ValueError(f"long_side must be at least 16, got {long_side}")
        scale = min(scale, long_side / max(w, h))
    return max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2)


def _cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` in RGB, scaled and centre-cropped to exactly ``size``."""
    image = image.convert("RGB")
    w, h = size
    scale = max(w / image.width, h / image.height)
    sw, sh = max(w, round(image.width * scale)), max(h, round(image.height * scale))
    image = image.resize((sw, sh), Image.Resampling.BICUBIC)
    left, top = (sw - w) // 2, (sh - h) // 2
    return image.crop((left, top, left + w, top + h))


class _Source:
    """A frame-sized picture with a reflected border, so any camera move finds pixels.

    Kept at twice the frame size: a nearest-neighbour warp at 2x reduced by 2 looks as
    smooth as a bilinear one and costs a tenth (PIL's bilinear transform is slow).
    """

    def __init__(self, image: Image.Image, horizon: float) -> None:
        self.size = image.size
        w, h = image.size
        self.px, self.py = max(2, round(w * _PAD)), max(2, round(h * _PAD))
        arr = np.asarray(image, dtype=np.uint8)
        padded = np.pad(arr, ((self.py, self.py), (self.px, self.px), (0, 0)), mode="reflect")
        big = (padded.shape[1] * _SS, padded.shape[0] * _SS)
        self.image = Image.fromarray(padded).resize(big, Image.Resampling.BICUBIC)
        # the foreground (below the horizon) moves faster than the sky: parallax
        # (a soft ramp: warped at 1x, nearest is smooth enough)
        ys = (np.arange(padded.shape[0], dtype=np.float32) - self.py) / h
        ramp = np.clip((ys - horizon) / 0.08 + 0.5, 0.0, 1.0)
        mask = np.repeat((ramp * 255).astype(np.uint8)[:, None], padded.shape[1], axis=1)
        self.mask = Image.fromarray(mask, mode="L")


def _affine(
    src: _Source, shift: tuple[float, float], zoom: float, roll: float
) -> tuple[float, ...]:
    """PIL's inverse affine map, output pixel -> source pixel, both at 2x, for a camera
    that moved by ``shift`` (fractions of the frame), zoomed by ``zoom``, rolled ``roll``°."""
    w, h = src.size
    cx, cy = w * _SS / 2, h * _SS / 2
    a = math.radians(roll)
    cos, sin = math.cos(a) / zoom, math.sin(a) / zoom
    sx = (w / 2 + src.px + shift[0] * w) * _SS
    sy = (h / 2 + src.py + shift[1] * h) * _SS
    return (cos, sin, sx - cos * cx - sin * cy, -sin, cos, sy + sin * cx - cos * cy)


def _mesh(
    size: tuple[int, int], path: _Path, amount: float, t: float
) -> list[tuple[tuple[int, int, int, int], tuple[float, ...]]]:
    """A PIL MESH that sways the picture's elements by ``amount`` of the frame at time t."""
    w, h = size
    n = 4
    xs = [round(w * i / n) for i in range(n + 1)]
    ys = [round(h * j / n) for j in range(n + 1)]

    def moved(x: int, y: int) -> tuple[float, float]:
        if x in (0, w) or y in (0, h):
            return float(x), float(y)  # the frame's edges stay put
        dx = dy = 0.0
        for across, cycles, phase in path.sway_waves:
            k = 2 * math.pi * (across * y / h + cycles * t) + phase
            dx += math.sin(k) * amount * w / 2
            dy += math.cos(k + x / w * 2) * amount * h / 3
        return x + dx, y + dy

    mesh: list[tuple[tuple[int, int, int, int], tuple[float, ...]]] = []
    for j in range(n):
        for i in range(n):
            box = (xs[i], ys[j], xs[i + 1], ys[j + 1])
            quad = (
                *moved(xs[i], ys[j]),
                *moved(xs[i], ys[j + 1]),
                *moved(xs[i + 1], ys[j + 1]),
                *moved(xs[i + 1], ys[j]),
            )
            mesh.append((box, quad))
    return mesh


def _ease(t: float) -> float:
    return t * t * (3 - 2 * t)


def _frames(
    start: Image.Image,
    path: _Path,
    amounts: _Motion,
    count: int,
    end: Image.Image | None,
    bounded: bool,
) -> Iterator[Image.Image]:
    """``count`` frames: frame 0 is ``start`` exactly; with ``end`` the last is ``end``
    exactly; ``bounded`` (loop or end) brings the camera back home at the last frame."""
    size = start.size
    src = _Source(start, path.horizon)
    dst = _Source(end, path.horizon) if end is not None else None
    rng = np.random.default_rng(path.seed)
    glitches = rng.random(count) < amounts.glitch
    shakes = rng.normal(0.0, 1.0, (count, 2))
    for k in range(count):
        t = k / max(1, count - 1)
        if k == 0 or (bounded and k == count - 1):
            yield (end if (end is not None and k > 0) else start).copy()
            continue
        # free clips ease out and stop (an extension starts from rest); bounded ones go
        # out and come back home
        reach = math.sin(math.pi * t) if bounded else _ease(t)
        envelope = math.sin(math.pi * t) if bounded else min(1.0, t / 0.25)
        dx, dy = path.direction
        shake = amounts.shake * envelope
        shift = (
            dx * amounts.pan * reach + shakes[k, 0] * shake,
            dy * amounts.pan * reach + shakes[k, 1] * shake,
        )
        zoom = 1.0 + path.zoom_sign * amounts.zoom * reach
        roll = path.roll_sign * amounts.roll * reach
        near = (shift[0] * (1 + amounts.parallax), shift[1] * (1 + amounts.parallax))
        frame = _layered(src, size, shift, near, zoom, roll)
        if dst is not None:
            frame = Image.blend(frame, _layered(dst, size, shift, near, zoom, roll), _ease(t))
        sway = amounts.sway * envelope
        if sway > 0:
            frame = frame.transform(
                size, Image.Transform.MESH, _mesh(size, path, sway, t), Image.Resampling.NEAREST
            )
        if glitches[k]:
            frame = _glitch(frame, rng)
        yield frame


def _layered(
    src: _Source,
    size: tuple[int, int],
    far: tuple[float, float],
    near: tuple[float, float],
    zoom: float,
    roll: float,
) -> Image.Image:
    """The sky seen from camera ``far`` and the ground from ``near``: parallax."""
    nearest = Image.Resampling.NEAREST
    affine = Image.Transform.AFFINE
    big = (size[0] * _SS, size[1] * _SS)
    back = src.image.transform(big, affine, _affine(src, far, zoom, roll), nearest).reduce(_SS)
    if near == far:
        return back
    data = _affine(src, near, zoom * (1 + 0.3 * (zoom - 1)), roll)
    front = src.image.transform(big, affine, data, nearest).reduce(_SS)
    small = (data[0], data[1], data[2] / _SS, data[3], data[4], data[5] / _SS)
    mask = src.mask.transform(size, affine, small, nearest)
    return Image.composite(front, back, mask)


def _glitch(frame: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A horizontal band shifted sideways: high motion's occasional artefact."""
    arr = np.array(frame)
    h, w = arr.shape[:2]
    top = int(rng.integers(0, max(1, h - 4)))
    band = slice(top, min(h, top + max(2, h // 12)))
    arr[band] = np.roll(arr[band], int(rng.integers(w // 20, w // 6 + 2)), axis=1)
    return Image.fromarray(arr)


def encode(frames: Iterable[Image.Image], fps: int = FPS) -> bytes:
    """These frames as an H.264 MP4 (yuv420p, moov first so browsers start at once).

    Deterministic: the same frames give the same bytes.
    """
    import av

    if not 1 <= fps <= 60:
        raise ValueError(f"fps must be 1-60, got {fps}")
    with tempfile.TemporaryDirectory(prefix="mjnb-video-") as tmp:
        # faststart rewrites the file to put the index first: that needs a named file
        target = os.path.join(tmp, "clip.mp4")
        count = 0
        with av.open(target, "w", format="mp4", options=_MUX) as container:
            stream: Any = None
            for image in frames:
                if stream is None:
                    stream = container.add_stream("libx264", rate=fps, options=_X264)
                    stream.width, stream.height = image.size
                    stream.pix_fmt = "yuv420p"
                    stream.codec_context.gop_size = 2 * fps
                frame = av.VideoFrame.from_image(image.convert("RGB"))
                frame.pts = count
                container.mux(stream.encode(frame))
                count += 1
            if stream is None:
                raise ValueError("a clip needs at least one frame")
            container.mux(stream.encode(None))
        with open(target, "rb") as f:
            return f.read()


def decode(data: bytes) -> tuple[list[Image.Image], int]:
    """Every frame of an MP4 as RGB images, and its frame rate."""
    import av

    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or FPS
        images = [f.to_image() for f in container.decode(stream)]
    if not images:
        raise ValueError("the clip has no frames")
    return images, max(1, round(float(rate)))


def last_frame(data: bytes) -> Image.Image:
    """The last frame of an MP4: where an extension starts."""
    return decode(data)[0][-1]


def extensions(data: bytes) -> int:
    """How many times the clip has been extended, read from its length."""
    frames, fps = decode(data)
    seconds = len(frames) / fps
    return max(0, round((seconds - CLIP_SECONDS) / EXTEND_SECONDS))


def _count(seconds: float, fps: int) -> int:
    return max(2, round(seconds * fps) + 1)


def animate_one(
    start: Image.Image,
    prompt: str,
    seed: int,
    index: int = 0,
    *,
    motion: str = "low",
    loop: bool = False,
    end: Image.Image | None = None,
    raw: bool = False,
    resolution: str = "480p",
    long_side: int | None = None,
    fps: int = FPS,
    seconds: float = CLIP_SECONDS,
) -> bytes:
    """Clip ``index`` (0-3) of a batch animated from ``start``; see :func:`animate`."""
    _check(motion, 1, loop, end)
    if not 0 <= index < max(BATCHES):
        raise ValueError(f"index must be 0-3, got {index}")
    size = clip_size(start.size, resolution, long_side)
    first = _cover(start, size)
    last = _cover(end, size) if end is not None else None  # a loop needs no blend
    amounts = _amounts(motion, raw)
    path = _path(prompt, seed, index, "animate")
    count = _count(seconds, fps)
    return encode(_frames(first, path, amounts, count, last, loop or end is not None), fps)


def animate(
    start: Image.Image,
    prompt: str,
    seed: int,
    *,
    motion: str = "low",
    loop: bool = False,
    end: Image.Image | None = None,
    batch: int = 1,
    raw: bool = False,
    resolution: str = "480p",
    long_side: int | None = None,
    fps: int = FPS,
    seconds: float = CLIP_SECONDS,
) -> list[bytes]:
    """``batch`` different MP4 clips animated from ``start``.

    Frame 0 of every clip is the start image (cropped to the clip's shape). ``loop``
    ends on it again; ``end`` travels toward that image and ends on it. Each clip of the
    batch has its own seeded camera path and sway. Raises ValueError on a bad motion,
    batch or resolution, or on loop together with end.
    """
    _check(motion, batch, loop, end)
    return [
        animate_one(
            start,
            prompt,
            seed,
            i,
            motion=motion,
            loop=loop,
            end=end,
            raw=raw,
            resolution=resolution,
            long_side=long_side,
            fps=fps,
            seconds=seconds,
        )
        for i in range(batch)
    ]


def _amounts(motion: str, raw: bool) -> _Motion:
    amounts = _AMOUNTS[motion]
    if raw:
        amounts = _Motion(
            pan=amounts.pan,
            zoom=amounts.zoom,
            roll=0.0,
            parallax=amounts.parallax,
            sway=amounts.sway / 3,
            shake=0.0,
            glitch=0.0,
        )
    return amounts


def extend(
    source: bytes,
    prompt: str,
    seed: int,
    *,
    motion: str = "low",
    loop: bool = False,
    end: Image.Image | None = None,
    raw: bool = False,
    seconds: float = EXTEND_SECONDS,
    whole: bool = True,
) -> bytes:
    """``source`` extended by about 4 s that continue from its last frame.

    As on the real service the answer is the whole, longer clip (``whole=False``: only
    the new part, whose first frame is the source's last). ``loop`` ends on the source's
    first frame, ``end`` on that image. Raises ValueError past :data:`MAX_EXTENSIONS`.
    """
    _check(motion, 1, loop, end)
    frames, fps = decode(source)
    done = max(0, round((len(frames) / fps - CLIP_SECONDS) / EXTEND_SECONDS))
    if done >= MAX_EXTENSIONS:
        raise ValueError(f"this clip was already extended {done} times, the most allowed")
    tail = frames[-1]
    last = frames[0] if loop else (_cover(end, tail.size) if end is not None else None)
    path = _path(prompt, seed, done, "extend")
    count = _count(seconds, fps)
    new = _frames(tail, path, _amounts(motion, raw), count, last, loop or end is not None)
    if not whole:
        return encode(new, fps)
    next(new)  # the continuation's first frame is the source's last: don't repeat it
    return encode(_chain(frames, new), fps)


def _chain(first: Sequence[Image.Image], rest: Iterator[Image.Image]) -> Iterator[Image.Image]:
    yield from first
    yield from rest


def upscale(source: bytes, resolution: str = "1080p") -> bytes:
    """The clip re-encoded larger, as Youchuan's ``video-upscale`` (to 1080p) does.

    The scale is relative: a clip made at ``long_side`` for the simulator grows by
    1080/480 too, so simulated sizes stay proportional to the real ones.
    """
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}, got {resolution!r}")
    frames, fps = decode(source)
    w, h = frames[0].size
    factor = RESOLUTIONS[resolution] / RESOLUTIONS["480p"]
    size = (max(2, round(w * factor / 2) * 2), max(2, round(h * factor / 2) * 2))
    return encode((f.resize(size, Image.Resampling.BICUBIC) for f in frames), fps)
