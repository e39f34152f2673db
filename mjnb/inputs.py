"""Images and masks the user gives mjnb: checked, normalised and encoded before sending.

Every image argument (imagine's image prompts, ``--sref``/``--oref``/``--cref``,
describe, blend, animate, edit, the mask) takes a URL, a local path, bytes or a PIL
image. :func:`image_input` turns any of those into one :class:`ImageInput`:

- an ``http(s)`` URL stays a URL (mjnb never downloads an input: the provider does);
- a local file, bytes, a ``data:`` URL or a PIL image becomes checked bytes: type
  (PNG, JPEG, WebP or GIF, sniffed from the first bytes), byte size and pixel count
  (read from the header, before anything is decoded), then decoded once to catch a
  truncated file. :meth:`ImageInput.fit` downscales and re-encodes it to a provider's
  limits. Adapters then send :attr:`~ImageInput.base64`, :attr:`~ImageInput.data_url`
  or the bytes to an upload endpoint, as their protocol allows.

The log records :attr:`ImageInput.ref` (the URL, or ``sha256:<hex>`` of the bytes),
never the bytes themselves.

Masks for vary region and edit live beside this module, in :mod:`mjnb.masks`.

Everything here is a pure function over plain data: no network, no log, no widgets.
Every refusal is a one-line :class:`~mjnb.errors.InvalidArgument` that says what to fix.
Pillow and numpy are imported inside the functions, so ``import mjnb.inputs`` is cheap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes, urlsplit

from mjnb.errors import InvalidArgument
from mjnb.secrets import redact_url
from mjnb.vocab import MAX_IMAGE_BYTES, MAX_PIXELS

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "MIME_TYPES",
    "ImageInput",
    "data_url_bytes",
    "image_input",
    "image_ref",
    "is_pil_image",
    "sniff",
]

#: the image types accepted, Pillow format name -> mime type
MIME_TYPES: dict[str, str] = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
_ACCEPTED = "PNG, JPEG, WebP or GIF"
# first bytes of types people try that are not accepted, for a message that names them
_OTHER_TYPES: tuple[tuple[bytes, int, str], ...] = (
    (b"BM", 0, "a BMP image"),
    (b"II*\x00", 0, "a TIFF image"),
    (b"MM\x00*", 0, "a TIFF image"),
    (b"ftypheic", 4, "a HEIC image"),
    (b"ftypheix", 4, "a HEIC image"),
    (b"ftypmif1", 4, "a HEIF image"),
    (b"ftypavif", 4, "an AVIF image"),
    (b"%PDF", 0, "a PDF document"),
    (b"<svg", 0, "an SVG drawing"),
    (b"<?xml", 0, "an XML/SVG file"),
    (b"\x00\x00\x01\x00", 0, "an ICO icon"),
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
#: lossy qualities tried, in turn, when an image must fit a byte limit
_QUALITIES = (90, 82, 74, 66)
#: each further shrink step keeps this share of the side
_SHRINK = 0.8


def _mb(size: int) -> str:
    """``size`` bytes as a short human figure: "52 MB", "40.3 MB", "812 KB"."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
    return f"{max(1, round(size / 1024))} KB"


def sniff(data: bytes) -> str | None:
    """The Pillow format name of ``data`` (``PNG``, ``JPEG``, ``WEBP``, ``GIF``) from its
    first bytes, or None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _what_it_is(data: bytes) -> str:
    """A few words naming ``data`` for an error message ("a BMP image", "an empty file")."""
    if not data:
        return "empty"
    head = data[:64].lstrip()
    for magic, offset, name in _OTHER_TYPES:
        if head[offset : offset + len(magic)].lower() == magic.lower():
            return name
    return "not an image mjnb can read"


@dataclass(frozen=True)
class ImageInput:
    """One image argument, normalised: either a remote URL or checked local bytes.

    ``name`` says where it came from, for messages ("cat.png", "bytes", "a PIL image",
    the URL). For a remote image only ``url`` is set; for a local one ``data``, ``mime``,
    ``width``, ``height`` and ``sha256`` are. ``repr()`` never shows the bytes.
    """

    name: str
    url: str | None = None
    data: bytes | None = field(default=None, repr=False)
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    sha256: str | None = None

    @property
    def is_remote(self) -> bool:
        """True for an ``http(s)`` URL the provider fetches itself."""
        return self.url is not None

    @property
    def is_local(self) -> bool:
        """True for bytes mjnb holds (a file, bytes, a data URL or a PIL image)."""
        return self.data is not None

    @property
    def size(self) -> tuple[int, int] | None:
        """``(width, height)`` of a local image, None for a URL."""
        if self.width is None or self.height is None:
            return None
        return (self.width, self.height)

    @property
    def ref(self) -> str:
        """What the log records: the URL (credentials redacted) or ``sha256:<hex>``."""
        if self.url is not None:
            return redact_url(self.url)
        return f"sha256:{self.sha256}"

    def _local(self, what: str) -> bytes:
        if self.data is None:
            raise InvalidArgument(
                f"{self.name} is a URL, and {what} needs the image's bytes: pass a local "
                "path, bytes or a PIL image instead."
            )
        return self.data

    @property
    def base64(self) -> str:
        """The bytes as bare base64 (no ``data:`` prefix), e.g. for ``base64Array``."""
        return base64.b64encode(self._local("base64")).decode("ascii")

    @property
    def data_url(self) -> str:
        """The bytes as a ``data:<mime>;base64,...`` URL."""
        data = self._local("a data URL")
        return f"data:{self.mime};base64,{base64.b64encode(data).decode('ascii')}"

    @property
    def url_or_data_url(self) -> str:
        """The URL of a remote image, else the data URL (for fields that take either)."""
        return self.url if self.url is not None else self.data_url

    def image(self) -> Image.Image:
        """The local image decoded (first frame of a GIF), EXIF rotation applied."""
        from PIL import ImageOps

        image = _decode(self._local("decoding"), self.name)
        return ImageOps.exif_transpose(image) or image

    def fit(self, *, max_side: int | None = None, max_bytes: int | None = None) -> ImageInput:
        """This image within a provider's limits: at most ``max_side`` pixels on its long
        side and ``max_bytes`` bytes, downscaled and re-encoded only where needed.

        A remote URL, or an image already within the limits, is returned unchanged (the
        same bytes and hash). PNG and GIF become PNG, JPEG and WebP stay lossy; when the
        bytes are still too many, a PNG without transparency becomes a JPEG, lossy
        quality steps down, then the image shrinks further.
        """
        if max_side is not None and max_side < 1:
            raise InvalidArgument(f"max_side must be a positive number of pixels, got {max_side}.")
        if max_bytes is not None and max_bytes < 1024:
            raise InvalidArgument(f"max_bytes must be at least 1024, got {max_bytes}.")
        if self.data is None or self.width is None or self.height is None:
            return self
        too_wide = max_side is not None and max(self.width, self.height) > max_side
        too_big = max_bytes is not None and len(self.data) > max_bytes
        if not (too_wide or too_big):
            return self
        image = self.image()
        if max_side is not None and max(image.size) > max_side:
            image = _scaled(image, max_side / max(image.size))
        fmt = {v: k for k, v in MIME_TYPES.items()}[str(self.mime)]
        fmt = "PNG" if fmt == "GIF" else fmt  # a GIF's first frame; animation is not kept
        alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        data = _encode(image, fmt)
        if max_bytes is not None and len(data) > max_bytes:
            if fmt == "PNG" and not alpha:
                fmt = "JPEG"
            data, image = _squeeze(image, fmt, max_bytes, self.name)
        return replace(
            self,
            data=data,
            mime=MIME_TYPES[fmt],
            width=image.width,
            height=image.height,
            sha256=hashlib.sha256(data).hexdigest(),
        )


def image_input(
    value: Any,
    *,
    name: str | None = None,
    max_side: int | None = None,
    max_bytes: int | None = None,
) -> ImageInput:
    """``value`` (a URL, a local path, bytes or a PIL image) as a checked
    :class:`ImageInput`, fitted to ``max_side``/``max_bytes`` when given.

    ``name`` overrides the label used in messages. Raises
    :class:`~mjnb.errors.InvalidArgument` (one line, saying what to fix) for anything
    else: another type, a ``file:``/``javascript:`` URL, a missing or unreadable file, a
    file that is not a PNG, JPEG, WebP or GIF, more than ``MAX_IMAGE_BYTES`` bytes or
    more than ``MAX_PIXELS`` pixels.
    """
    if isinstance(value, ImageInput):
        result = value
    elif isinstance(value, str):
        result = _from_text(value, name)
    elif isinstance(value, os.PathLike):
        result = _from_path(Path(value), name)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        result = _from_bytes(bytes(value), name or "The image")
    elif is_pil_image(value):
        result = _from_pil(value, name or "The PIL image")
    else:
        raise InvalidArgument(
            f"An image must be a URL, a local path, bytes or a PIL image, got "
            f"{type(value).__name__}."
        )
    if max_side is None and max_bytes is None:
        return result
    return result.fit(max_side=max_side, max_bytes=max_bytes)


def image_ref(image: str) -> str:
    """What the log records for a job's image string (:attr:`ImageInput.ref`): a URL
    with its credentials redacted, or ``sha256:<hex>`` of a ``data:`` URL's bytes."""
    if image[:5].lower() != "data:":
        return redact_url(image)
    return f"sha256:{hashlib.sha256(data_url_bytes(image)).hexdigest()}"


def is_pil_image(value: object) -> bool:
    import sys

    pil = sys.modules.get("PIL.Image")  # no PIL image can exist before PIL.Image is imported
    return pil is not None and isinstance(value, pil.Image)


def _from_text(text: str, name: str | None) -> ImageInput:
    stripped = text.strip()
    if not stripped:
        raise InvalidArgument("An image was an empty string: pass a URL or a local path.")
    match = _SCHEME.match(stripped)
    if match is None or _WINDOWS_DRIVE.match(stripped):
        return _from_path(Path(text), name)
    scheme = match.group(1).lower()
    if scheme in ("http", "https"):
        parts = urlsplit(stripped)
        if not parts.hostname or any(c.isspace() for c in stripped):
            raise InvalidArgument(
                f"{redact_url(stripped)[:80]} is not a valid image URL: it needs a host and "
                "no spaces."
            )
        return ImageInput(name=name or redact_url(stripped), url=stripped)
    if scheme == "data":
        return _from_bytes(data_url_bytes(stripped), name or "The data URL")
    if Path(text).expanduser().exists():  # a file named like "a:b.png" is still a file
        return _from_path(Path(text), name)
    if scheme == "file":
        raise InvalidArgument(
            "file: URLs are not accepted as images: pass the path itself "
            f"({unquote_to_bytes(urlsplit(stripped).path).decode(errors='replace')!r})."
        )
    raise InvalidArgument(
        f"{scheme}: URLs are not accepted as images: pass an http(s) URL, a data: URL, a "
        "local path, bytes or a PIL image."
    )


def data_url_bytes(url: str) -> bytes:
    """The payload of a ``data:`` URL (base64 or percent-encoded)."""
    header, comma, payload = url.partition(",")
    if not comma:
        raise InvalidArgument(
            "The data: URL has no ',' before its data: write data:<mime>;base64,<data>."
        )
    if len(payload) > MAX_IMAGE_BYTES * 4 // 3 + 8:  # refused before decoding it
        raise _too_many_bytes("The data URL", len(payload) * 3 // 4)
    if header.lower().endswith(";base64"):
        try:
            return base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidArgument(f"The data: URL's base64 is damaged ({exc}).") from None
    return unquote_to_bytes(payload)


def _from_path(path: Path, name: str | None) -> ImageInput:
    label = name or path.name or str(path)
    where = path.expanduser()
    try:
        stat = where.stat()
    except FileNotFoundError:
        hint = "" if where.is_absolute() else f" (relative to {Path.cwd()})"
        raise InvalidArgument(f"No image file at {path}{hint}: check the path.") from None
    except OSError as exc:
        raise InvalidArgument(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if where.is_dir():
        raise InvalidArgument(f"{path} is a folder, not an image file: name the file in it.")
    if stat.st_size > MAX_IMAGE_BYTES:
        raise _too_many_bytes(label, stat.st_size)
    try:
        with where.open("rb") as f:
            data = f.read(MAX_IMAGE_BYTES + 1)  # bounded, even if the file grew meanwhile
    except OSError as exc:
        raise InvalidArgument(f"Cannot read {path}: {exc.strerror or exc}.") from None
    return _from_bytes(data, label)


def _too_many_bytes(label: str, size: int) -> InvalidArgument:
    got, limit = _mb(size), _mb(MAX_IMAGE_BYTES)
    if got == limit:  # just over: rounded figures would read "40 MB; the limit is 40 MB"
        got, limit = f"{size:,} bytes", f"{MAX_IMAGE_BYTES:,}"
    return InvalidArgument(f"{label} is {got}; the limit is {limit}: shrink it first.")


def _from_bytes(data: bytes, label: str) -> ImageInput:
    if len(data) > MAX_IMAGE_BYTES:
        raise _too_many_bytes(label, len(data))
    fmt = sniff(data)
    if fmt is None:
        what = _what_it_is(data)
        if what == "empty":
            raise InvalidArgument(f"{label} is empty (0 bytes): pass a {_ACCEPTED} image.")
        raise InvalidArgument(f"{label} is {what}, not a {_ACCEPTED}: convert it first.")
    width, height = _header_size(data, fmt, label)
    _decode(data, label)  # a truncated or damaged file fails here, not at the provider
    return ImageInput(
        name=label,
        data=data,
        mime=MIME_TYPES[fmt],
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _header_size(data: bytes, fmt: str, label: str) -> tuple[int, int]:
    """Width and height from the header alone, refusing more than ``MAX_PIXELS``."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=(fmt,)) as probe:
            width, height = probe.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidArgument(
            f"{label} has far more than {MAX_PIXELS // 1_000_000} megapixels: shrink it first."
        ) from None
    except Exception as exc:
        raise InvalidArgument(
            f"{label} looks like a {fmt} but its header is damaged ({exc})."
        ) from None
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(label, width, height)
    return width, height


def _too_many_pixels(label: str, width: int, height: int) -> InvalidArgument:
    return InvalidArgument(
        f"{label} is {width}x{height} pixels; the limit is {MAX_PIXELS // 1_000_000} "
        "megapixels: shrink it first."
    )


def _decode(data: bytes, label: str) -> Image.Image:
    """``data`` decoded whole (first frame), size already checked; damaged -> one line."""
    from PIL import Image

    try:
        # the size was checked first (MAX_PIXELS is under Pillow's warning threshold)
        image = Image.open(io.BytesIO(data), formats=tuple(MIME_TYPES))
        image.load()
    except Exception as exc:
        raise InvalidArgument(
            f"{label} is damaged or cut short ({exc}): save or download it again."
        ) from None
    return image


def _from_pil(image: Image.Image, label: str) -> ImageInput:
    """A PIL image as PNG bytes (lossless; :meth:`ImageInput.fit` may make it smaller)."""
    width, height = image.size
    if width < 1 or height < 1:
        raise InvalidArgument(f"{label} is {width}x{height} pixels: it has nothing to send.")
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(label, width, height)
    if image.mode not in ("RGB", "RGBA", "L", "LA", "P", "1"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    data = _encode(image, "PNG")
    if len(data) > MAX_IMAGE_BYTES:
        raise _too_many_bytes(label, len(data))
    return ImageInput(
        name=label,
        data=data,
        mime=MIME_TYPES["PNG"],
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _scaled(image: Image.Image, factor: float) -> Image.Image:
    from PIL import Image

    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    if image.mode in ("P", "1"):
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encode(image: Image.Image, fmt: str, quality: int = _QUALITIES[0]) -> bytes:
    """``image`` as ``fmt`` bytes; JPEG lays transparency over white."""
    from PIL import Image

    out = io.BytesIO()
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L"):
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            image = flat
        image.save(out, "JPEG", quality=quality, optimize=True)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=quality)
    else:
        image.save(out, "PNG", optimize=fmt == "PNG" and image.width * image.height <= 4_000_000)
    return out.getvalue()


def _squeeze(image: Image.Image, fmt: str, max_bytes: int, label: str) -> tuple[bytes, Image.Image]:
    """The largest encoding of ``image`` (lower quality, then smaller) under ``max_bytes``."""
    for _ in range(24):
        for quality in _QUALITIES if fmt in ("JPEG", "WEBP") else (0,):
            data = _encode(image, fmt, quality)
            if len(data) <= max_bytes:
                return data, image
        if min(image.size) <= 16:
            break
        image = _scaled(image, _SHRINK)
    raise InvalidArgument(f"{label} cannot be made smaller than {_mb(max_bytes)}.")
