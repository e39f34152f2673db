"""Reading video clips on the client: check a download, poster frames, previews.

A provider's video URL expires, so a clip is downloaded at once and checked with
:func:`probe` before it is kept: it must be a whole, playable MP4 of sane size, length
and dimensions. :func:`poster` is the first frame (a card's still, a sweep grid's cell),
:func:`frames` evenly spaced stills, :func:`filmstrip` a few of them side by side, and
:func:`preview_webp` / :func:`preview_gif` a small looping animation for saved notebooks,
which show a poster and at most such a preview (under 150 KB a clip); the MP4 itself
stays in the cache and is never embedded.

A problem is one ``MJError`` with a one-line reason: clip bytes (a download) raise
:class:`~mjnb.errors.ProviderError`, as images do; a file (the cache) raises
:class:`~mjnb.errors.StorageError`. PyAV (FFmpeg) and Pillow are imported inside the
functions, so importing this module stays cheap.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from mjnb.errors import InvalidArgument, MJError, ProviderError, StorageError
from mjnb.vocab import MAX_PIXELS, MAX_VIDEO_BYTES

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "MAX_VIDEO_SECONDS",
    "MAX_VIDEO_SIDE",
    "NOTEBOOK_CLIP_BYTES",
    "PREVIEW_BYTES",
    "Source",
    "VideoInfo",
    "filmstrip",
    "frames",
    "poster",
    "preview_gif",
    "preview_webp",
    "probe",
]

#: a clip longer than this is refused (Midjourney's longest, extended 4 times, is ~21 s)
MAX_VIDEO_SECONDS = 120.0
#: a frame wider or taller than this is refused (upscaled clips are 1080p)
MAX_VIDEO_SIDE = 4096
#: a saved notebook holds at most this for one clip (poster and preview, base64 included)
NOTEBOOK_CLIP_BYTES = 150_000
#: the animated preview's default budget in raw bytes: base64 adds a third and the
#: poster JPEG about 20 KB, so poster + preview stay under NOTEBOOK_CLIP_BYTES
PREVIEW_BYTES = 90_000

#: clip bytes (a download) or the path of a file (in the cache)
Source = Union[bytes, str, "os.PathLike[str]"]

# Preview ladder, tried in order until one fits: (long side px, frames per second).
_LADDER = ((256, 6), (224, 6), (192, 6), (192, 4), (160, 4), (128, 4), (96, 3), (64, 2), (48, 2))
_PREVIEW_FRAMES = 40  # at most this many frames, whatever the clip's length
_MIN_PREVIEW_BYTES = 10_000  # the poster alone at the smallest rung fits in this


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` found in a playable clip."""

    width: int
    height: int
    frames: int
    fps: float
    duration: float  # seconds
    codec: str
    bytes: int

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


def _what(source: Source) -> str:
    return "video" if isinstance(source, bytes) else f"video file {os.fspath(source)}"


def _fail(source: Source, reason: str) -> MJError:
    """The error for a bad clip: the provider's fault for bytes, the cache's for a file."""
    if isinstance(source, bytes):
        article = "an" if reason.startswith(("MP4", "empty")) else "a"
        return ProviderError(
            f"The provider sent {article} {reason}; it was not saved. Run the task again."
        )
    return StorageError(
        f"The {_what(source)} is unusable: {reason}. Delete it and download it again."
    )


def _size_of(source: Source) -> int:
    if isinstance(source, bytes):
        return len(source)
    try:
        return os.stat(source).st_size
    except OSError as exc:
        raise StorageError(f"The {_what(source)} cannot be read ({exc.strerror}).") from exc


def _head(source: Source) -> bytes:
    if isinstance(source, bytes):
        return source[:16]
    with open(source, "rb") as f:
        return f.read(16)


def _looks_like(head: bytes) -> str:
    """A guess at what a non-MP4 download is, for the message."""
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
        return "a web page (the video URL may have expired or need a login)"
    if text.startswith((b"{", b"[")):
        return "JSON (an error answer, not a video)"
    if head.startswith((b"\x89PNG", b"\xff\xd8", b"GIF8", b"RIFF")):
        return "an image, not a video"
    return "not an MP4"


@contextmanager
def _opened(source: Source) -> Iterator[Any]:
    """The clip opened with PyAV, after the cheap checks; FFmpeg errors become ours."""
    import av

    size = _size_of(source)
    if size == 0:
        raise _fail(source, "video of 0 bytes")
    if size > MAX_VIDEO_BYTES:
        raise _fail(
            source,
            f"video of {size:,} bytes, more than the {MAX_VIDEO_BYTES:,}-byte limit",
        )
    head = _head(source)
    if head[4:8] != b"ftyp":
        raise _fail(source, f"video of {size:,} bytes that is {_looks_like(head)}")
    target = io.BytesIO(source) if isinstance(source, bytes) else os.fspath(source)
    try:
        container = av.open(target, "r", format="mp4")
    except av.FFmpegError as exc:
        raise _fail(source, f"damaged MP4 ({_reason(exc)})") from exc
    try:
        if not container.streams.video:
            raise _fail(source, "MP4 with no video frames (damaged, truncated, or audio only)")
        yield container
    except av.FFmpegError as exc:
        raise _fail(source, f"damaged or truncated MP4 ({_reason(exc)})") from exc
    finally:
        container.close()


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "strerror", None) or exc).rstrip(".")


def probe(source: Source) -> VideoInfo:
    """Check that ``source`` is a whole, playable MP4 of sane size; what it holds.

    Cheap: it reads every packet (a truncated file is missing some, or ends in a partial
    one) and decodes only the first frame. Raises ProviderError (bytes) or StorageError
    (a file) with the reason: empty, oversized, not an MP4, no video track, damaged,
    truncated, no frames, too long, or too large a frame.
    """
    size = _size_of(source)
    with _opened(source) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise _fail(source, f"MP4 whose video has no picture ({width}x{height})")
        if max(width, height) > MAX_VIDEO_SIDE or width * height > MAX_PIXELS:
            raise _fail(
                source, f"MP4 of {width}x{height} pixels, more than the {MAX_VIDEO_SIDE} px limit"
            )
        declared = int(stream.frames or 0)
        packets = corrupt = 0
        ticks = 0
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # the flush packet at the end
            packets += 1
            corrupt += bool(packet.is_corrupt)
            ticks += int(packet.duration or 0)
        if packets == 0:
            raise _fail(source, "MP4 with no video frames")
        if corrupt or packets < declared:
            raise _fail(
                source,
                f"truncated MP4 (it holds {packets - corrupt} whole frames of the {declared} "
                "its index lists)",
            )
        container.seek(0)
        if next(container.decode(stream), None) is None:
            raise _fail(source, "MP4 whose first frame cannot be decoded")
        rate = float(stream.average_rate or stream.guessed_rate or 0)
        duration = float(ticks * stream.time_base) if ticks and stream.time_base else 0.0
        if duration <= 0 and rate > 0:
            duration = packets / rate
        if duration <= 0:
            raise _fail(source, "MP4 of zero duration")
        if duration > MAX_VIDEO_SECONDS:
            raise _fail(
                source,
                f"video of {duration:.0f} s, longer than the {MAX_VIDEO_SECONDS:.0f} s limit",
            )
        return VideoInfo(
            width=width,
            height=height,
            frames=packets,
            fps=round(rate or packets / duration, 3),
            duration=round(duration, 3),
            codec=str(stream.codec_context.name),
            bytes=size,
        )


def poster(source: Source) -> Image.Image:
    """The first frame, as an RGB PIL image."""
    with _opened(source) as container:
        frame = next(container.decode(container.streams.video[0]), None)
        if frame is None:
            raise _fail(source, "MP4 with no video frames")
        return frame.to_image()


def _pick(total: int, n: int) -> list[int]:
    """``n`` evenly spaced indexes into ``total`` frames, the first and the last included."""
    if n == 1 or total == 1:
        return [0] * n
    return [round(i * (total - 1) / (n - 1)) for i in range(n)]


def frames(source: Source, n: int) -> list[Image.Image]:
    """``n`` evenly spaced frames (the first and the last included), as RGB PIL images."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidArgument(f"n must be a positive whole number of frames, got {n!r}")
    return _frames_at(source, lambda total: _pick(total, n))


def _frames_at(source: Source, choose: Any) -> list[Image.Image]:
    """The frames at the indexes ``choose(total)`` names, decoding the clip once."""
    with _opened(source) as container:
        stream = container.streams.video[0]
        total = int(stream.frames or 0)
        if total <= 0:  # no index count: count the packets first
            total = sum(1 for p in container.demux(stream) if p.size)
            container.seek(0)
        wanted: list[int] = choose(max(1, total))
        picked: dict[int, Image.Image] = {}
        last = None
        for k, frame in enumerate(container.decode(stream)):
            last = frame
            if k in wanted and k not in picked:
                picked[k] = frame.to_image()
            if len(picked) == len(set(wanted)):
                break
        if last is None:
            raise _fail(source, "MP4 with no video frames")
        tail = last.to_image()  # a short clip: the indexes past its end get its last frame
        return [picked.get(k, tail) for k in wanted]


def _fit(image: Image.Image, long_side: int) -> Image.Image:
    from PIL import Image

    scale = long_side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _preview(source: Source, fmt: str, max_bytes: int) -> bytes:
    """The first rung of the ladder whose animation fits in ``max_bytes``; else the
    poster alone, small (a saved notebook never holds more than it was allowed)."""
    if max_bytes < _MIN_PREVIEW_BYTES:
        raise InvalidArgument(
            f"max_bytes must be at least {_MIN_PREVIEW_BYTES:,}, got {max_bytes:,}"
        )
    info = probe(source)
    top_side, top_fps = _LADDER[0]
    count = max(2, min(_PREVIEW_FRAMES, round(info.duration * top_fps)))
    stills = [_fit(f, top_side) for f in frames(source, count)]
    tried: tuple[int, int] | None = None  # (bytes, pixels x frames) of the last rung
    for long_side, fps in _LADDER:
        wanted = max(2, min(_PREVIEW_FRAMES, round(info.duration * fps)))
        chosen = [_fit(stills[k], long_side) for k in _pick(len(stills), wanted)]
        work = chosen[0].width * chosen[0].height * len(chosen)
        if tried and tried[0] * work / tried[1] > max_bytes * 1.05:
            continue  # bytes grow with pixels x frames: this rung cannot fit either
        ms = max(20, round(info.duration * 1000 / len(chosen)))
        data = _encode_animation(chosen, fmt, ms)
        if len(data) <= max_bytes:
            return data
        tried = (len(data), work)
    return _encode_animation([_fit(stills[0], _LADDER[-1][0])], fmt, 1000)


def _encode_animation(images: Sequence[Image.Image], fmt: str, ms: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    if fmt == "GIF":
        # one palette for every frame (from the first), no dithering: no flicker, small
        palette = images[0].quantize(colors=128, method=Image.Quantize.MEDIANCUT)
        frames_ = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
        frames_[0].save(out, "GIF", save_all=True, append_images=frames_[1:], duration=ms, loop=0)
    else:
        images[0].save(
            out,
            "WEBP",
            save_all=True,
            append_images=list(images[1:]),
            duration=ms,
            loop=0,
            quality=55,
            method=4,
        )
    return out.getvalue()


def preview_webp(source: Source, max_bytes: int = PREVIEW_BYTES) -> bytes:
    """A small looping animated WebP of the whole clip, at most ``max_bytes``.

    The notebook's preview: 256 px and 6 frames a second when that fits, smaller and
    slower until it does (at most 40 frames; a long clip plays as a time-lapse); if
    nothing fits, the poster alone at 48 px.
    """
    return _preview(source, "WEBP", max_bytes)


def preview_gif(source: Source, max_bytes: int = PREVIEW_BYTES) -> bytes:
    """The same preview as an animated GIF (larger than WebP; for viewers without it)."""
    return _preview(source, "GIF", max_bytes)


def filmstrip(
    source: Source | Sequence[Image.Image],
    n: int = 4,
    *,
    height: int = 128,
    gap: int = 4,
    background: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    """``n`` evenly spaced frames side by side, each ``height`` px tall, as one image.

    ``source`` is a clip, or frames already read (they are then used as given).
    """
    from PIL import Image

    if height < 8 or gap < 0:
        raise InvalidArgument(
            f"height must be at least 8 and gap not negative, got {height}, {gap}"
        )
    if isinstance(source, (bytes, str, Path)) or hasattr(source, "__fspath__"):
        stills = frames(source, n)
    else:
        stills = list(source)
    if not stills:
        raise InvalidArgument("a filmstrip needs at least one frame")
    cells = [
        im.convert("RGB").resize(
            (max(1, round(im.width * height / im.height)), height), Image.Resampling.LANCZOS
        )
        for im in stills
    ]
    width = sum(c.width for c in cells) + gap * (len(cells) + 1)
    strip = Image.new("RGB", (width, height + 2 * gap), background)
    x = gap
    for cell in cells:
        strip.paste(cell, (x, gap))
        x += cell.width + gap
    return strip
