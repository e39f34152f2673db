"""The image cache and the local image operations."""

from __future__ import annotations

import hashlib
import os
import struct
import time
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from mjnb.errors import ProviderError
from mjnb.images import (
    MAX_IMAGE_BYTES,
    ImageStore,
    compose_grid,
    encode,
    fit_thumbnail,
    open_image,
    split_grid,
)
from mjnb.log import TaskLog


@pytest.fixture
def store(isolated_env: Path) -> ImageStore:
    return ImageStore(isolated_env / "images")


def quadrants(width: int = 64, height: int = 48) -> Image.Image:
    """A grid whose four tiles are red, green, blue and white."""
    image = Image.new("RGB", (width, height))
    w, h = width // 2, height // 2
    for (x, y), colour in zip(
        [(0, 0), (w, 0), (0, h), (w, h)],
        [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)],
        strict=True,
    ):
        image.paste(colour, (x, y, x + w, y + h))
    return image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", body)
        + png_chunk(b"IEND", b"")
    )


# ------------------------------------------------------------------- saving


@pytest.mark.parametrize(("fmt", "ext"), [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp")])
def test_save_is_content_addressed_and_idempotent(store: ImageStore, fmt: str, ext: str) -> None:
    data = encode(quadrants(), fmt)
    path = store.save(data, content_type="image/" + ext)
    digest = hashlib.sha256(data).hexdigest()
    assert path == store.root / digest[:2] / f"{digest}.{ext}"
    assert path.read_bytes() == data
    old = time.time() - 3600
    os.utime(path, (old, old))
    assert store.save(data) == path  # same bytes, same file, freshly used
    assert path.stat().st_mtime > old + 1800
    assert [p for p in path.parent.iterdir()] == [path]  # no temporary left behind


def test_a_content_type_that_lies_does_not_matter_when_bytes_are_an_image(
    store: ImageStore,
) -> None:
    path = store.save(encode(quadrants(), "PNG"), content_type="application/octet-stream")
    assert path.suffix == ".png"


def test_html_is_refused(store: ImageStore) -> None:
    page = b"<!doctype html><html><body>Link expired</body></html>"
    with pytest.raises(ProviderError, match=r"text/html.*not a PNG, JPEG, WebP or GIF"):
        store.save(page, content_type="text/html")
    assert not store.root.exists() or not any(store.root.rglob("*.*"))


def test_a_truncated_png_is_refused(store: ImageStore) -> None:
    data = encode(quadrants(256, 256), "PNG")
    with pytest.raises(ProviderError, match="damaged or truncated"):
        store.save(data[: len(data) // 2])


def test_a_truncated_jpeg_is_refused(store: ImageStore) -> None:
    noisy = Image.effect_noise((256, 256), 64).convert("RGB")
    data = encode(noisy, "JPEG", quality=95)
    with pytest.raises(ProviderError, match="damaged or truncated"):
        store.save(data[: len(data) // 2])


def test_oversized_bytes_are_refused_before_decoding(store: ImageStore) -> None:
    with pytest.raises(ProviderError, match="more than the 41,943,040-byte limit"):
        store.save(b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_IMAGE_BYTES)


@pytest.mark.parametrize("side", [9000, 10000, 60000])
def test_a_decompression_bomb_is_refused(store: ImageStore, side: int) -> None:
    # 81 Mpx (over our limit), 100 Mpx (Pillow warns), 3.6 Gpx (Pillow refuses)
    with pytest.raises(ProviderError, match=r"too large|pixel limit"):
        store.save(png_claiming(side, side))


def test_a_format_outside_the_list_is_refused(store: ImageStore) -> None:
    with pytest.raises(ProviderError, match="not a PNG, JPEG, WebP or GIF"):
        store.save(encode(quadrants(), "BMP"))


# ------------------------------------------------------------------- thumbnails


def test_thumbnails_are_made_once(store: ImageStore) -> None:
    path = store.save(encode(quadrants(600, 400), "PNG"))
    thumb = store.thumbnail(path, 128)
    assert thumb.parent == store.root / "thumbs" and thumb.name.endswith("-128.jpg")
    with Image.open(thumb) as image:
        assert image.format == "JPEG" and image.size == (128, 85)
    first = thumb.stat().st_mtime_ns
    time.sleep(0.01)
    assert store.thumbnail(path, 128) == thumb
    assert thumb.stat().st_mtime_ns == first
    assert store.thumbnail_bytes(path, 128) == thumb.read_bytes()
    assert store.thumbnail(path, 64) != thumb  # another size, another file
    assert store.thumbnail(path, 64, fmt="png").suffix == ".png"


def test_thumbnail_of_a_file_outside_the_cache(store: ImageStore, tmp_path: Path) -> None:
    outside = tmp_path / "mine.png"
    outside.write_bytes(encode(quadrants(), "PNG"))
    thumb = store.thumbnail(outside, 32)
    assert thumb.name.startswith(hashlib.sha256(outside.read_bytes()).hexdigest())
    with pytest.raises(ValueError, match="fmt must be one of"):
        store.thumbnail(outside, 32, fmt="TIFF")


# ------------------------------------------------------------------- prune


def test_prune_removes_old_files_and_keeps_log_rows(store: ImageStore, isolated_env: Path) -> None:
    old = store.save(encode(quadrants(), "PNG"))
    kept_old = store.save(encode(quadrants(32, 32), "PNG"))
    recent = store.save(encode(quadrants(), "JPEG"))
    old_thumb = store.thumbnail(old, 32)
    recent_thumb = store.thumbnail(recent, 32)
    long_ago = time.time() - 40 * 86400
    for path in (old, kept_old):
        os.utime(path, (long_ago, long_ago))
    with TaskLog(isolated_env / "history.sqlite") as log:
        log.add_task(
            "t1",
            provider="local",
            action="imagine",
            prompt="a fox",
            text="a fox",
            params={},
            parent_id=None,
            sweep_id=None,
            submitted_at=datetime.now(timezone.utc),
        )
        log.update_task("t1", status="succeeded", image_path=old)
        assert store.prune(older_than=timedelta(days=30), keep=[kept_old]) == 1
        row = log.get("t1")
        assert row is not None and row["image_path"] == str(old)
        assert len(log.dataframe()) == 1
    assert not old.exists() and not old_thumb.exists()
    assert kept_old.exists() and recent.exists() and recent_thumb.exists()
    assert store.prune(keep=[recent]) == 1  # no age: everything not kept
    assert not kept_old.exists() and recent.exists()


def test_prune_of_an_empty_store(store: ImageStore) -> None:
    assert store.prune(older_than=timedelta(days=1)) == 0


# ------------------------------------------------------------------- plain functions


def test_split_grid_numbers_tiles_in_reading_order() -> None:
    tiles = split_grid(quadrants())
    colours = [tile.getpixel((3, 3)) for tile in tiles]
    assert colours == [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
    assert {tile.size for tile in tiles} == {(32, 24)}


def test_split_and_compose_round_trip() -> None:
    grid = quadrants(80, 60)
    again = compose_grid(split_grid(grid))
    assert again.size == grid.size
    assert ImageChops.difference(grid, again).getbbox() is None


def test_compose_grid_fills_missing_cells_and_resizes() -> None:
    red = Image.new("RGB", (10, 10), (255, 0, 0))
    big_blue = Image.new("RGB", (20, 20), (0, 0, 255))
    grid = compose_grid([red, big_blue, red])
    assert grid.size == (20, 20)
    assert grid.getpixel((15, 5)) == (0, 0, 255)
    assert grid.getpixel((15, 15)) == (128, 128, 128)
    with pytest.raises(ValueError, match="1 to 4 images"):
        compose_grid([red] * 5)


def test_odd_sized_grids_give_equal_tiles() -> None:
    tiles = split_grid(quadrants(65, 49))
    assert {tile.size for tile in tiles} == {(32, 24)}


def test_open_image_gives_rgb_over_white(tmp_path: Path) -> None:
    clear = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    path = tmp_path / "clear.png"
    path.write_bytes(encode(clear, "PNG"))
    image = open_image(path)
    assert image.mode == "RGB" and image.getpixel((0, 0)) == (255, 255, 255)
    assert open_image(path.read_bytes()).size == (4, 4)


def test_fit_thumbnail_keeps_aspect_and_never_enlarges() -> None:
    assert fit_thumbnail(quadrants(400, 100), 100).size == (100, 25)
    small = quadrants(20, 10)
    assert fit_thumbnail(small, 100).size == (20, 10)
    assert small.size == (20, 10)


def test_encode_jpeg_drops_alpha() -> None:
    data = encode(Image.new("RGBA", (4, 4), (1, 2, 3, 4)), "JPEG")
    assert data[:3] == b"\xff\xd8\xff"


# ------------------------------------------------------------- damaged cache, lazy pixels


def test_a_damaged_cache_file_is_a_storage_error(store: ImageStore) -> None:
    from mjnb.errors import StorageError

    path = store.save(encode(quadrants(256, 256), "PNG"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the disk lost half of it
    with pytest.raises(StorageError, match="damaged"):
        open_image(path)
    path.unlink()
    with pytest.raises(StorageError, match="no longer in the cache"):
        open_image(path)


def test_lazy_tiles_decode_only_when_looked_at() -> None:
    from mjnb.images import LazyTiles

    loads: list[int] = []

    def load() -> list[Image.Image]:
        loads.append(1)
        return split_grid(quadrants(64, 64))

    tiles = LazyTiles(4, load)
    assert len(tiles) == 4 and loads == []
    assert tiles[1].size == (32, 32) and list(tiles) == tiles[:]
    assert loads == [1]  # decoded once, then kept
