"""Pixel checks for the simulator's editor art (vary region, remix, edit, retexture)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mjnb.simulator import art
from mjnb.simulator.art import editor


@pytest.fixture(scope="module")
def picture() -> Image.Image:
    return art.paint_tile("a blue lake under mountains", {}, 7, 1, (192, 128))


def _box_mask(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return mask


def _mean(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), np.float64).mean(axis=(0, 1))


def _corr(a: Image.Image, b: Image.Image) -> float:
    la = np.asarray(a.convert("L"), np.float64).ravel()
    lb = np.asarray(b.convert("L"), np.float64).ravel()
    return float(np.corrcoef(la, lb)[0, 1])


def test_vary_region_changes_only_the_box(picture: Image.Image) -> None:
    box = (40, 30, 120, 90)
    out = editor.vary_region(picture, _box_mask(picture.size, box), "red roses", 3)
    assert out.size == picture.size and out.mode == "RGB"
    before, after = np.asarray(picture), np.asarray(out)
    inside = np.zeros(before.shape[:2], bool)
    inside[box[1] : box[3], box[0] : box[2]] = True
    assert np.array_equal(before[~inside], after[~inside])
    diff = np.abs(before.astype(int) - after.astype(int)).sum(axis=2)
    assert (diff[inside] > 30).mean() > 0.5  # visibly repainted
    region = after[inside].astype(float).mean(axis=0)
    assert region[0] > region[2]  # red roses over a blue lake


def test_vary_region_is_deterministic_and_seeded(picture: Image.Image) -> None:
    mask = _box_mask(picture.size, (0, 0, 96, 128))
    a = editor.vary_region(picture, mask, "golden sun", 1)
    b = editor.vary_region(picture, mask, "golden sun", 1)
    c = editor.vary_region(picture, mask, "golden sun", 2)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_vary_region_rejects_bad_masks(picture: Image.Image) -> None:
    with pytest.raises(ValueError, match="same size"):
        editor.vary_region(picture, Image.new("L", (10, 10), 255), "x", 1)
    with pytest.raises(ValueError, match="empty"):
        editor.vary_region(picture, Image.new("L", picture.size, 0), "x", 1)


def test_remix_follows_new_colours_keeps_composition(picture: Image.Image) -> None:
    out = editor.remix(picture, "red and orange fox --ar 3:2", 5)
    assert out.size == picture.size
    red, blue = _mean(out), _mean(picture)
    assert red[0] - red[2] > blue[0] - blue[2] + 20
    assert _corr(out, picture) > 0.5
    assert out.tobytes() == editor.remix(picture, "red and orange fox --ar 3:2", 5).tobytes()


def test_retexture_keeps_layout_changes_style(picture: Image.Image) -> None:
    out = editor.retexture(picture, "green ink print", 4)
    assert out.size == picture.size
    assert _corr(out, picture) > 0.4
    diff = np.abs(np.asarray(out, int) - np.asarray(picture, int)).mean()
    assert diff > 20
    assert out.tobytes() != editor.remix(picture, "green ink print", 4).tobytes()


def test_edit_with_and_without_mask(picture: Image.Image) -> None:
    mask = _box_mask(picture.size, (10, 10, 50, 50))
    assert (
        editor.edit(picture, "purple", 1, mask).tobytes()
        == editor.vary_region(picture, mask, "purple", 1).tobytes()
    )
    whole = editor.edit(picture, "purple flowers", 1)
    assert whole.size == picture.size
    assert _corr(whole, picture) > 0.5
    assert whole.tobytes() != picture.tobytes()
