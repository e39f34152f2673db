"""Input images: our own jobs' pictures, uploaded bytes, or a stand-in for a foreign URL.

Decoding is guarded (pixel limit, garbage input) because uploads come from clients.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import re
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from PIL import Image

from mjnb.simulator import art
from mjnb.simulator.wire import BadRequest

if TYPE_CHECKING:
    from mjnb.simulator.model import Job


log = logging.getLogger("mjnb.simulator")

MAX_PIXELS = 40_000_000

# ---------------------------------------------------------------------------- images


@dataclass(frozen=True)
class ImageSource:
    """An input image for blend/describe: one of our own jobs, uploaded bytes, or a
    foreign URL (never fetched: painted deterministically from its text)."""

    job: Job | None = None
    name: str = "image"
    data: bytes | None = None
    url: str = ""

    def load(self, long_side: int) -> Image.Image:
        if self.job is not None:
            return self.job.picture(self.name)
        if self.data is not None:
            return decode_image(self.data)
        words = " ".join(w for w in re.split(r"[^A-Za-z]+", urlsplit(self.url).path) if w)
        seed = zlib.crc32(self.url.encode())
        return art.paint_grid(words or "image", {}, seed, long_side=long_side)


def image_type(data: bytes) -> str | None:
    """``image/png``, ``image/jpeg``, ``image/webp`` or ``image/gif`` from the bytes'
    signature (what an upload endpoint takes), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return None


def decode_image(data: bytes) -> Image.Image:
    """Open uploaded bytes as an RGB image; raises BadRequest if they are not one."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise BadRequest(
                    f"The image is {width}x{height} pixels, more than the {MAX_PIXELS} "
                    "allowed; send a smaller one."
                )
            return probe.convert("RGB")
    except BadRequest:
        raise
    except Exception as exc:  # Pillow raises many kinds for garbage input
        raise BadRequest(
            "The image data could not be decoded; send a PNG, JPEG or WebP file."
        ) from exc


def decode_data_url(text: str) -> bytes:
    """The bytes of a ``data:image/...;base64,`` URL (or bare base64); raises BadRequest."""
    payload = text.split(",", 1)[1] if text.startswith("data:") and "," in text else text
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(
            "An image is not valid base64; send data URLs like 'data:image/png;base64,...'."
        ) from exc


def crop_tile(grid: Image.Image, index: int) -> Image.Image:
    """Tile ``index`` (1-4, row by row) of a 2x2 grid, at its own size."""
    w, h = grid.size
    col, row = (index - 1) % 2, (index - 1) // 2
    return grid.crop((col * w // 2, row * h // 2, (col + 1) * w // 2, (row + 1) * h // 2))


def encode(img: Image.Image, ext: str) -> bytes:
    return art.to_webp(img) if ext == "webp" else art.to_png(img)
