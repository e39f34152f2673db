"""The image cache under ``$MJNB_HOME/images`` and the local image operations.

:class:`ImageStore` keeps every downloaded image once, named by the SHA-256 of its bytes
(``images/ab/abcdef....png``), refuses anything that is not a whole, reasonably sized
PNG, JPEG, WebP or GIF, makes each thumbnail once (``images/thumbs/<sha>-<size>.jpg``)
and prunes old files. A download is checked without decoding its pixels (type, bytes,
the header's dimensions, PNG chunk CRCs, JPEG's end marker); pixels are decoded only
when something asks for them (:func:`open_image`, :class:`LazyTiles`), and a cache file
that turns out damaged raises :class:`~mjnb.errors.StorageError`. Files are written to
a temporary name and renamed into place, so two processes sharing the folder never see
half a file.

The plain functions split a 2x2 grid into its tiles, compose four separate images into
a grid (Youchuan returns four images per job), make thumbnails and encode images.

Pillow is imported inside the functions, so ``import mjnb.images`` stays fast.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, overload

from .errors import InvalidArgument, ProviderError, StorageError
from .vocab import JPEG_QUALITY, MAX_IMAGE_BYTES, MAX_PIXELS

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_PIXELS",
    "ImageStore",
    "LazyTiles",
    "check_image",
    "compose_files",
    "compose_grid",
    "encode",
    "fit_thumbnail",
    "open_image",
    "split_grid",
]

# Pillow format name -> file extension; nothing else is accepted.
_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}
_THUMB_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
_THUMBS = "thumbs"
DEFAULT_QUALITY = JPEG_QUALITY
_PLACEHOLDER = (128, 128, 128)


class ImageStore:
    """Content-addressed image files under ``root`` (normally ``$MJNB_HOME/images``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()

    def __repr__(self) -> str:
        return f"ImageStore({str(self.root)!r})"

    def path_for(self, digest: str, ext: str) -> Path:
        """Where the image with SHA-256 ``digest`` and extension ``ext`` lives."""
        return self.root / digest[:2] / f"{digest}.{ext}"

    def save(self, data: bytes, *, content_type: str | None = None, composed: bool = False) -> Path:
        """Check ``data`` is a whole image, store it once, and return its path.

        Raises :class:`~mjnb.errors.ProviderError` for anything that is not a complete
        PNG, JPEG, WebP or GIF, for more than ``MAX_IMAGE_BYTES`` bytes and for more than
        ``MAX_PIXELS`` pixels (a decompression bomb). Saving the same bytes again
        returns the same path and refreshes its modification time (for :meth:`prune`).
        PNG and JPEG are checked without decoding their pixels. ``composed`` marks a grid
        mjnb made itself from four checked images (:func:`compose_files`): its byte limit
        is four images' worth.
        """
        kind = f" ({content_type})" if content_type else ""
        if len(data) > MAX_IMAGE_BYTES * (4 if composed else 1):
            raise ProviderError(
                f"The provider sent {len(data):,} bytes{kind}, more than the "
                f"{MAX_IMAGE_BYTES:,}-byte limit for one image; it was not saved."
            )
        fmt = _check_image(data, kind)
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_for(digest, _EXTENSIONS[fmt])
        _store_once(path, data, "image", ", then task.refetch() downloads it again")
        return path

    def save_video(self, data: bytes) -> Path:
        """Store clip bytes already checked by :func:`mjnb.video.probe` as ``<sha>.mp4``.

        Clips live beside the images (same content addressing, same :meth:`prune`), so a
        clip downloaded twice is kept once.
        """
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_for(digest, "mp4")
        _store_once(path, data, "video")
        return path

    store = save  #: the name the runner used before results were decoded lazily

    def _thumb_path(self, digest: str, size: int, fmt: str, quality: int) -> Path:
        tag = "" if quality == DEFAULT_QUALITY else f"-q{quality}"
        return self.root / _THUMBS / f"{digest}-{size}{tag}.{_THUMB_EXTENSIONS[fmt]}"

    def thumbnail(
        self,
        path: str | os.PathLike[str],
        size: int = 256,
        fmt: str = "JPEG",
        *,
        quality: int = DEFAULT_QUALITY,
        image: Image.Image | None = None,
    ) -> Path:
        """The path of a thumbnail of ``path`` at most ``size`` pixels wide and high.

        Made once and reused: ``thumbs/<sha>-<size>.jpg`` (``.png``/``.webp`` for
        those formats; ``-q<quality>`` added for a JPEG/WebP quality other than 80),
        where ``<sha>`` names the source image's content. ``image`` is the source,
        already decoded, if the caller has it.
        """
        fmt = fmt.upper()
        if fmt not in _THUMB_EXTENSIONS:
            raise InvalidArgument(
                f"fmt must be one of {', '.join(_THUMB_EXTENSIONS)}, got {fmt!r}."
            )
        if size < 1:
            raise InvalidArgument(f"size must be a positive number of pixels, got {size}.")
        source = Path(path)
        digest = _digest_of(source)
        target = self._thumb_path(digest, size, fmt, quality)
        if target.exists():
            return target
        thumb = fit_thumbnail(image if image is not None else open_image(source), size)
        _write_atomic(target, encode(thumb, fmt, quality=quality))
        return target

    def thumbnail_bytes(
        self,
        path: str | os.PathLike[str],
        size: int = 256,
        *,
        quality: int = DEFAULT_QUALITY,
        image: Image.Image | None = None,
    ) -> bytes:
        """The JPEG bytes of :meth:`thumbnail` (made once, then read from disk)."""
        return self.thumbnail(path, size, quality=quality, image=image).read_bytes()

    def prune(self, *, older_than: timedelta | None = None, keep: Iterable[Path] = ()) -> int:
        """Delete cached images (and their thumbnails) not used for ``older_than``.

        With ``older_than=None`` every image not in ``keep`` goes. Images listed in
        ``keep`` stay whatever their age. The task log keeps its rows; their
        ``image_path`` then names a file that is gone. Returns the number of images
        deleted.
        """
        if not self.root.is_dir():
            return 0
        cutoff = None if older_than is None else time.time() - older_than.total_seconds()
        kept = {Path(p).expanduser().absolute() for p in keep}
        kept_digests = {p.name.partition(".")[0] for p in kept}
        removed = 0
        gone: set[str] = set()
        for folder in self.root.iterdir():
            if len(folder.name) != 2 or not folder.is_dir():
                continue
            for image in folder.iterdir():
                if image in kept or image.name.startswith("."):
                    continue
                try:
                    if cutoff is not None and image.stat().st_mtime >= cutoff:
                        continue
                    image.unlink()
                except FileNotFoundError:
                    continue
                removed += 1
                gone.add(image.name.partition(".")[0])
        thumbs = self.root / _THUMBS
        if thumbs.is_dir():
            for thumb in thumbs.iterdir():
                digest = thumb.name.partition("-")[0]
                if digest in gone and digest not in kept_digests:
                    thumb.unlink(missing_ok=True)
        return removed


def check_image(data: bytes, content_type: str | None = None) -> str:
    """The format of ``data`` if it is a whole image within ``MAX_IMAGE_BYTES`` and
    ``MAX_PIXELS`` (the header's dimensions, read before anything is decoded); else
    :class:`~mjnb.errors.ProviderError`. The check a download gets, for previews too."""
    kind = f" ({content_type})" if content_type else ""
    if len(data) > MAX_IMAGE_BYTES:
        raise ProviderError(
            f"The provider sent {len(data):,} bytes{kind}, more than the "
            f"{MAX_IMAGE_BYTES:,}-byte limit for one image."
        )
    return _check_image(data, kind)


def _check_image(data: bytes, kind: str) -> str:
    """The Pillow format of ``data`` once it is known whole; else ProviderError.

    The header gives the format and the dimensions (the pixel limit is checked before
    anything is inflated). A PNG's ``verify()`` reads every chunk and checks its CRC
    without inflating; a JPEG must end with its end-of-image marker. WebP and GIF,
    which Pillow cannot verify, are decoded once here.
    """
    from PIL import Image, UnidentifiedImageError

    formats = tuple(_EXTENSIONS)
    try:
        with Image.open(io.BytesIO(data), formats=formats) as probe:
            fmt = str(probe.format)
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise _bomb(width, height, kind)
            probe.verify()  # PNG: every chunk's CRC, without inflating
        if fmt == "JPEG" and not data.rstrip(b"\0").endswith(b"\xff\xd9"):
            raise OSError("the JPEG has no end-of-image marker")
        if fmt not in ("PNG", "JPEG"):
            with Image.open(io.BytesIO(data), formats=formats) as image:
                image.load()
    except ProviderError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ProviderError(
            f"The provider sent an image{kind} too large to decode safely ({exc}); it was "
            "not saved."
        ) from exc
    except UnidentifiedImageError as exc:
        raise ProviderError(
            f"The provider sent {len(data):,} bytes{kind} that are not a PNG, JPEG, WebP or "
            "GIF image; the image URL may have expired or need a login. Try the task's "
            "image URL in a browser, or run the task again."
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ProviderError(
            f"The provider sent a damaged or truncated image{kind} ({exc}); it was not "
            "saved. Download it again, or run the task again."
        ) from exc
    return fmt


def _bomb(width: int, height: int, kind: str) -> ProviderError:
    return ProviderError(
        f"The provider sent an image{kind} of {width}x{height} pixels, more than the "
        f"{MAX_PIXELS:,}-pixel limit (a possible decompression bomb); it was not saved."
    )


def _digest_of(path: Path) -> str:
    """The SHA-256 naming ``path``: its stem for cache files, else hashed from its bytes."""
    stem = path.name.partition(".")[0]
    if len(stem) == 64 and all(c in "0123456789abcdef" for c in stem):
        return stem
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _store_once(path: Path, data: bytes, what: str, then: str = "") -> None:
    """Write ``data`` to its content-addressed ``path``, or only touch it (for
    :meth:`ImageStore.prune`'s age) when a file of that size is already there; a full or
    read-only cache is a StorageError saying what to do (``then``: what comes next)."""
    try:
        if path.exists() and path.stat().st_size == len(data):
            os.utime(path)
        else:
            _write_atomic(path, data)
    except OSError as exc:
        raise StorageError(
            f"Could not write the {what} to the cache folder {path.parent} "
            f"({exc.strerror or exc}); free some space or make it writable "
            f"(or set MJNB_HOME elsewhere){then}."
        ) from exc


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- plain image functions


def open_image(path: str | os.PathLike[str] | bytes) -> Image.Image:
    """The image at ``path`` (or in these bytes), fully loaded, in RGB.

    Transparent pixels are laid over white. A file that is missing raises
    :class:`~mjnb.errors.StorageError` naming it; one that cannot be decoded (a damaged
    or truncated cache file) too, never a raw Pillow ``OSError``.
    """
    from PIL import Image, UnidentifiedImageError

    source = io.BytesIO(path) if isinstance(path, bytes) else path
    where = "these bytes" if isinstance(path, bytes) else str(path)
    try:
        with Image.open(source) as image:
            if image.size[0] * image.size[1] > MAX_PIXELS:
                raise OSError(f"{image.size[0]}x{image.size[1]} pixels is over the limit")
            image.load()
            return _rgb(image)
    except FileNotFoundError as exc:
        raise StorageError(
            f"The image {where} is no longer in the cache (pruned?); run the task again "
            "to get a new one."
        ) from exc
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise StorageError(
            f"The image {where} is damaged and cannot be read ({exc}); delete it and "
            "download it again with task.refetch() while its URL is valid, or run the task "
            "again."
        ) from exc


class LazyTiles(Sequence["Image.Image"]):
    """The tiles of a result, decoded on first access and then kept.

    ``len()`` needs no pixels, so a view that only counts tiles (or never looks) pays
    for no decode. ``load`` returns the tiles; it is called at most once.
    """

    def __init__(self, count: int, load: Callable[[], list[Image.Image]]) -> None:
        self._count = count
        self._load = load
        self._tiles: list[Image.Image] | None = None
        self._lock = threading.Lock()

    def _all(self) -> list[Image.Image]:
        with self._lock:
            if self._tiles is None:
                self._tiles = self._load()
            return self._tiles

    def __len__(self) -> int:
        return self._count if self._tiles is None else len(self._tiles)

    @overload
    def __getitem__(self, index: int) -> Image.Image: ...
    @overload
    def __getitem__(self, index: slice) -> list[Image.Image]: ...
    def __getitem__(self, index: int | slice) -> Image.Image | list[Image.Image]:
        return self._all()[index]

    def __iter__(self) -> Iterator[Image.Image]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (LazyTiles, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        state = "decoded" if self._tiles is not None else "not decoded yet"
        return f"<LazyTiles {self._count} ({state})>"


def _rgb(image: Image.Image) -> Image.Image:
    """``image`` in RGB, transparent pixels laid over white."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def split_grid(image: Image.Image) -> list[Image.Image]:
    """The 4 tiles of a 2x2 grid: 1 top-left, 2 top-right, 3 bottom-left, 4 bottom-right.

    Tiles have equal sizes; with an odd width or height the middle pixel line is dropped.
    """
    width, height = image.size
    if width < 2 or height < 2:
        raise InvalidArgument(f"A grid must be at least 2x2 pixels, got {width}x{height}.")
    w, h = width // 2, height // 2
    boxes = [
        (0, 0, w, h),
        (width - w, 0, width, h),
        (0, height - h, w, height),
        (width - w, height - h, width, height),
    ]
    return [image.crop(box) for box in boxes]


def compose_grid(images: Sequence[Image.Image]) -> Image.Image:
    """A 2x2 grid of up to 4 images in reading order (1 2 / 3 4).

    Every cell takes the first image's size (others are resized to it); missing cells
    (fewer than 4 images, e.g. one withheld by moderation) are plain grey.
    """
    from PIL import Image

    if not 1 <= len(images) <= 4:
        raise InvalidArgument(f"compose_grid() takes 1 to 4 images, got {len(images)}.")
    w, h = images[0].size
    grid = Image.new("RGB", (2 * w, 2 * h), _PLACEHOLDER)
    for index, tile in enumerate(images):
        cell = tile if tile.size == (w, h) else tile.resize((w, h), Image.Resampling.LANCZOS)
        grid.paste(cell.convert("RGB"), ((index % 2) * w, (index // 2) * h))
    return grid


def compose_files(paths: Sequence[str | os.PathLike[str]]) -> Image.Image:
    """The 2x2 grid of up to 4 image files, at a size within ``MAX_PIXELS``.

    Cells take the first image's size, halved (repeatedly) while the grid would be
    over the pixel limit: four honest 8000² images make an 8000² grid. Each file is
    decoded, shrunk and pasted in turn, so only one full-size image is in memory.
    """
    from PIL import Image

    if not 1 <= len(paths) <= 4:
        raise InvalidArgument(f"compose_files() takes 1 to 4 images, got {len(paths)}.")
    grid: Image.Image | None = None
    w = h = 0
    for index, path in enumerate(paths):
        tile = open_image(path)
        if grid is None:
            w, h = tile.size
            while 4 * w * h > MAX_PIXELS and w > 1 and h > 1:
                w, h = w // 2, h // 2
            grid = Image.new("RGB", (2 * w, 2 * h), _PLACEHOLDER)
        if tile.size != (w, h):
            factor = min(tile.size[0] // w, tile.size[1] // h)
            if factor > 1:  # a fast integer reduction first, then an exact resize
                tile = tile.reduce(factor)
            if tile.size != (w, h):
                tile = tile.resize((w, h), Image.Resampling.LANCZOS)
        grid.paste(tile, ((index % 2) * w, (index // 2) * h))
        del tile
    assert grid is not None
    return grid


def fit_thumbnail(image: Image.Image, size: int) -> Image.Image:
    """A copy of ``image`` fitting in ``size`` x ``size``, aspect kept, never enlarged."""
    from PIL import Image

    if size < 1:
        raise InvalidArgument(f"size must be a positive number of pixels, got {size}.")
    copy = image.copy()
    copy.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return copy


def thumbnail_jpeg(path: str | os.PathLike[str], size: int) -> tuple[bytes, tuple[int, int]]:
    """A JPEG of the image at ``path`` fitting in ``size`` x ``size``, and its size (the
    gallery's picture of a result; made in memory, never through the cache's
    thumbnails, so a view still finds out for itself when the cached file is damaged)."""
    thumb = fit_thumbnail(open_image(path), size)
    return encode(thumb, "JPEG"), thumb.size


def encode(image: Image.Image, fmt: str = "JPEG", quality: int = JPEG_QUALITY) -> bytes:
    """``image`` encoded as ``fmt`` (JPEG, PNG, WEBP...); JPEG drops any alpha."""
    fmt = fmt.upper()
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    if fmt in ("JPEG", "WEBP"):
        image.save(out, fmt, quality=quality)
    else:
        image.save(out, fmt)
    return out.getvalue()
