"""The simulator's procedural pictures: exact sizes, determinism, and visible parameters.

Every property a class is told about (colours, --no, stylize, chaos, weird, ...) is
measured on the pixels, so a regression that makes a parameter invisible fails here.
"""

from __future__ import annotations

import io
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mjnb.errors import PromptError
from mjnb.simulator import art

SMALL = 256  # grids painted for measurements: small keeps the file fast


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), np.float32) / 255.0


def hsv(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB").convert("HSV"), np.float32) / 255.0


def hue_fraction(image: Image.Image, hue_deg: float, width: float = 20.0) -> float:
    """Share of clearly coloured pixels whose hue is within ``width`` degrees of ``hue_deg``."""
    h, s, v = np.moveaxis(hsv(image), -1, 0)
    dist = np.abs((h * 360.0 - hue_deg + 180.0) % 360.0 - 180.0)
    return float(((dist < width) & (s > 0.35) & (v > 0.25)).mean())


def hue_gap(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def edge_density(image: Image.Image) -> float:
    lum = pixels(image.convert("L").convert("RGB"))[..., 0]
    return float(np.abs(np.diff(lum, axis=0)).mean() + np.abs(np.diff(lum, axis=1)).mean())


def saturation(image: Image.Image) -> float:
    return float(hsv(image)[..., 1].mean())


def tiles(grid: Image.Image) -> list[Image.Image]:
    w, h = grid.width // 2, grid.height // 2
    return [grid.crop((x, y, x + w, y + h)) for y in (0, h) for x in (0, w)]


def diff(a: Image.Image, b: Image.Image) -> float:
    if a.size != b.size:
        b = b.resize(a.size, Image.Resampling.BILINEAR)
    return float(np.abs(pixels(a) - pixels(b)).mean() * 255.0)


def grid(text: str = "a fox by the sea", seed: int = 7, **params: Any) -> Image.Image:
    return art.paint_grid(text, params, seed, long_side=SMALL)


# ---------------------------------------------------------------------------- sizes

RATIOS = ["1:1", "3:2", "2:3", "16:9", "9:16", "8:3", "1:14", "14:1", "4:5", "7:4", "21:9"]


@pytest.mark.parametrize("ar", RATIOS)
@pytest.mark.parametrize("long_side", [1024, 2048])
def test_grid_size_has_the_exact_ratio_and_even_sides(ar: str, long_side: int) -> None:
    a, b = (int(x) for x in ar.split(":"))
    w, h = art.grid_size(ar, long_side)
    assert w * b == h * a
    assert w % 2 == 0 and h % 2 == 0
    assert max(w, h) <= long_side
    # as large as an exact even size can be
    assert max(w, h) + 2 * max(a, b) > long_side


def test_grid_size_known_values() -> None:
    assert art.grid_size() == (1024, 1024)
    assert art.grid_size("16:9") == (1024, 576)
    assert art.grid_size("8:3", 2048) == (2048, 768)
    assert art.grid_size("1:14") == (72, 1008)
    assert art.grid_size("14:1", 2048) == (2044, 146)
    assert art.grid_size("32:18") == art.grid_size("16:9")


@pytest.mark.parametrize("ar", ["abc", "0:1", "3:0", "1.5:1", "1000:999"])
def test_grid_size_refuses_what_it_cannot_draw(ar: str) -> None:
    with pytest.raises(PromptError, match="aspect ratio"):
        art.grid_size(ar)


@pytest.mark.parametrize("ar", ["1:1", "3:2", "2:3", "16:9", "9:16", "8:3", "1:14", "14:1"])
def test_painted_grid_has_the_grid_size(ar: str) -> None:
    image = art.paint_grid("a city", {"ar": ar}, 3, long_side=512)
    assert image.mode == "RGB"
    assert image.size == art.grid_size(ar, 512)


def test_tiles_of_a_grid_are_paint_tile() -> None:
    params = {"ar": "3:2", "stylize": 400, "weird": 500}
    g = art.paint_grid("a red fox", params, 11, long_side=SMALL)
    size = (g.width // 2, g.height // 2)
    for i, crop in enumerate(tiles(g), start=1):
        tile = art.paint_tile("a red fox", params, 11, i, size)
        assert tile.tobytes() == crop.tobytes()


# ---------------------------------------------------------------------------- determinism


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"ar": "16:9", "stylize": 1000, "chaos": 60, "weird": 2000},
        {"tile": True, "niji": 6, "no": ["red"]},
        {"quality": 0.25, "stop": 40, "style": "raw", "version": 5.2},
    ],
)
def test_same_inputs_give_byte_identical_png(params: dict[str, Any]) -> None:
    first = art.to_png(art.paint_grid("a red fox in snow", params, 42, long_side=SMALL))
    second = art.to_png(art.paint_grid("a red fox in snow", dict(params), 42, long_side=SMALL))
    assert first == second
    assert first.startswith(b"\x89PNG\r\n\x1a\n")


def test_pictures_do_not_depend_on_the_process(tmp_path: Path) -> None:
    code = (
        "import sys; from mjnb.simulator import art; "
        "g = art.paint_grid('a red fox in snow', {'no': ['blue'], 'weird': 900}, 5, 256); "
        "sys.stdout.buffer.write(art.to_png(g))"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, check=True)
        outputs.add(run.stdout)
    here = art.to_png(art.paint_grid("a red fox in snow", {"no": ["blue"], "weird": 900}, 5, 256))
    assert outputs == {here}


def test_another_seed_gives_another_picture() -> None:
    a, b = grid(seed=1), grid(seed=2)
    assert art.to_png(a) != art.to_png(b)
    assert diff(a, b) > 8


def test_four_tiles_are_distinct_even_at_chaos_0() -> None:
    parts = tiles(grid(chaos=0))
    for a, b in itertools.combinations(parts, 2):
        assert diff(a, b) > 1.0


def test_params_given_as_strings_behave_like_numbers() -> None:
    a = grid(stylize="250", chaos="10", weird="300")
    b = grid(stylize=250, chaos=10, weird=300)
    assert a.tobytes() == b.tobytes()


# ---------------------------------------------------------------------------- colours

HUES = {"red": 357, "orange": 28, "yellow": 48, "green": 132, "teal": 180, "blue": 224,
        "purple": 281, "pink": 336}  # fmt: skip


@pytest.mark.parametrize("name", sorted(HUES))
def test_a_colour_word_dominates_the_palette(name: str) -> None:
    for seed in (1, 2):
        image = grid(f"an abstract {name} painting", seed=seed)
        share = hue_fraction(image, HUES[name])
        assert share > 0.35, (name, seed, share)
        others = [hue_fraction(image, h) for h in HUES.values() if hue_gap(h, HUES[name]) > 60]
        assert share > 2 * max(others), (name, seed, share, others)


def test_two_colour_words_both_show() -> None:
    image = grid("teal and gold")
    assert hue_fraction(image, 180) > 0.15
    assert hue_fraction(image, 44, 15) > 0.08


def test_black_and_white_stays_grey() -> None:
    assert saturation(grid("black and white photo", seed=3)) < 0.08


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_no_removes_a_named_colour(seed: int) -> None:
    assert hue_fraction(grid("a red fox", seed=seed), 0) > 0.3
    assert hue_fraction(grid("a red fox", seed=seed, no=["red"]), 0) < 0.005


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_no_removes_a_colour_from_a_hashed_palette(seed: int) -> None:
    for text in ("a sunset", "an abstract dream", "the blue sea"):
        image = grid(text, seed=seed, no="orange, blue", stylize=1000, weird=1000)
        assert hue_fraction(image, 28) < 0.005, (text, seed)
        assert hue_fraction(image, 224) < 0.005, (text, seed)


def test_no_black_lifts_the_darks() -> None:
    image = grid("a black cat at night", no=["black"])
    assert float(hsv(image)[..., 2].min()) >= 0.25


def test_text_without_colours_still_gets_a_coloured_palette() -> None:
    assert saturation(grid("an abstract dream", seed=5)) > 0.15


# ---------------------------------------------------------------------------- stylize, chaos, weird


@pytest.mark.parametrize(("text", "seed"), [("a fox by the sea", 7), ("an abstract dream", 3),
                                            ("a city at night", 11)])  # fmt: skip
def test_stylize_is_monotonic_in_edges_and_saturation(text: str, seed: int) -> None:
    images = [grid(text, seed=seed, stylize=s) for s in (0, 250, 1000)]
    edges = [edge_density(i) for i in images]
    sats = [saturation(i) for i in images]
    assert edges[0] < edges[1] < edges[2], edges
    assert sats[0] < sats[1] < sats[2], sats
    assert edges[2] > 1.3 * edges[0]


def test_style_raw_is_less_stylised() -> None:
    plain = grid(stylize=750, style="raw")
    full = grid(stylize=750)
    assert edge_density(plain) < edge_density(full)
    assert saturation(plain) < saturation(full)


def mean_pairwise(image: Image.Image) -> float:
    parts = tiles(image)
    return float(np.mean([diff(a, b) for a, b in itertools.combinations(parts, 2)]))


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_chaos_makes_the_tiles_differ(seed: int) -> None:
    calm = mean_pairwise(grid("a fox by the sea", seed=seed, chaos=0))
    wild = mean_pairwise(grid("a fox by the sea", seed=seed, chaos=100))
    assert wild > 1.8 * calm, (calm, wild)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_weird_changes_the_picture_more_and_more(seed: int) -> None:
    base = grid(seed=seed)
    changes = [diff(base, grid(seed=seed, weird=w)) for w in (250, 1000, 3000)]
    assert 0 < changes[0] < changes[1] < changes[2], changes
    assert changes[2] > 30


def test_weird_keeps_the_composition_of_the_seed() -> None:
    # weird adds oddities on top: the same seed stays closer than another seed
    assert diff(grid(seed=1), grid(seed=1, weird=250)) < diff(grid(seed=1), grid(seed=2))


# ---------------------------------------------------------------------------- other parameters


def test_tile_is_seamless() -> None:
    tile = pixels(art.paint_tile("blue flowers", {"tile": True}, 5, 1, (256, 192)))
    inner_x = np.abs(np.diff(tile, axis=1)).mean()
    inner_y = np.abs(np.diff(tile, axis=0)).mean()
    across_x = np.abs(tile[:, 0] - tile[:, -1]).mean()
    across_y = np.abs(tile[0] - tile[-1]).mean()
    assert across_x < 2.5 * inner_x
    assert across_y < 2.5 * inner_y
    plain = pixels(art.paint_tile("a fox by the sea", {}, 5, 1, (256, 192)))
    assert np.abs(plain[0] - plain[-1]).mean() > 5 * np.abs(np.diff(plain, axis=0)).mean()


def test_quality_sets_the_amount_of_detail() -> None:
    low, normal, high = (edge_density(grid(quality=q)) for q in (0.25, 1, 2))
    assert low < normal < high


def test_lower_stop_is_less_finished() -> None:
    done = grid()
    changes = [diff(done, grid(stop=s)) for s in (80, 50, 20)]
    assert changes[0] < changes[1] < changes[2], changes
    # and blurrier: the fine structure (differences between neighbours, smoothed) fades
    coarse = [edge_density(grid(stop=s).resize((32, 32), Image.Resampling.BOX)) for s in (100, 20)]
    assert coarse[1] < coarse[0]


@pytest.mark.parametrize("seed", [1, 3, 7])
def test_niji_draws_dark_outlines(seed: int) -> None:
    def ink(image: Image.Image) -> float:
        return float((hsv(image)[..., 2] < 0.2).mean())

    anime = art.paint_grid("a fox by the sea", {"niji": 6}, seed, long_side=512)
    plain = art.paint_grid("a fox by the sea", {}, seed, long_side=512)
    assert ink(anime) > ink(plain) + 0.01


def test_version_changes_the_picture_only_subtly() -> None:
    v6, v5, v7 = grid(), grid(version=5.2), grid(version=7)
    other_seed = grid(seed=8)
    for image in (v5, v7):
        assert 0 < diff(v6, image) < diff(v6, other_seed) / 3


def test_motif_words_can_be_removed_with_no() -> None:
    with_sun = grid("sun over the sea", seed=4)
    without = grid("sun over the sea", seed=4, no=["sun"])
    assert diff(with_sun, without) > 0.5


# ---------------------------------------------------------------------------- actions


@pytest.mark.parametrize("index", [1, 2, 3, 4])
def test_upscale_crops_the_right_tile_and_doubles_it(index: int) -> None:
    g = grid("a red fox", seed=3, ar="3:2", chaos=100)
    up = art.upscale(g, index)
    assert up.size == (g.width, g.height)
    back = up.resize((g.width // 2, g.height // 2), Image.Resampling.BOX)
    crops = tiles(g)
    assert diff(back, crops[index - 1]) < 3
    others = [diff(back, c) for i, c in enumerate(crops) if i != index - 1]
    assert min(others) > 3 * diff(back, crops[index - 1])


def test_upscale_of_a_1024_grid_is_1024() -> None:
    g = art.paint_grid("a fox", {}, 1, long_side=1024)
    assert art.upscale(g, 4).size == (1024, 1024)


@pytest.mark.parametrize("bad", [0, 5, -1])
def test_tile_indexes_are_1_to_4(bad: int) -> None:
    with pytest.raises(ValueError, match="1, 2, 3 or 4"):
        art.upscale(grid(), bad)
    with pytest.raises(ValueError, match="1, 2, 3 or 4"):
        art.variation_grid("a fox", {}, 1, bad, long_side=SMALL)


def test_variation_grid_stays_near_the_chosen_tile() -> None:
    g = grid("a fox by the sea", seed=9, chaos=60)
    original = tiles(g)[1]
    varied = art.variation_grid("a fox by the sea", {"chaos": 60}, 9, 2, long_side=SMALL)
    assert varied.size == g.size
    strangers = tiles(grid("a fox by the sea", seed=10, chaos=60))
    for variant in tiles(varied):
        assert 0 < diff(variant, original) < min(diff(variant, s) for s in strangers)
    assert mean_pairwise(varied) > 1.0


def test_vary_subtle_is_closer_than_vary_strong() -> None:
    up = art.upscale(grid("a fox by the sea", seed=2), 1)
    subtle = art.vary(up, "subtle", 5, long_side=SMALL)
    strong = art.vary(up, "strong", 5, long_side=SMALL)
    assert subtle.size == strong.size == (SMALL, SMALL)
    d_subtle = np.mean([diff(t, up) for t in tiles(subtle)])
    d_strong = np.mean([diff(t, up) for t in tiles(strong)])
    assert 0 < d_subtle < d_strong
    assert mean_pairwise(subtle) > 0.5


@pytest.mark.parametrize("factor", [2.0, 1.5])
def test_zoom_out_keeps_a_shrunk_copy_in_the_centre(factor: float) -> None:
    up = art.upscale(grid("a city at night", seed=4, ar="16:9"), 2)
    zoomed = art.zoom_out(up, factor, 3, long_side=512)
    parts = tiles(zoomed)
    tw, th = parts[0].size
    assert abs(tw / th - up.width / up.height) < 0.01
    iw, ih = round(tw / factor), round(th / factor)
    x, y = (tw - iw) // 2, (th - ih) // 2
    small = up.resize((iw, ih), Image.Resampling.LANCZOS)
    for part in parts:
        assert diff(part.crop((x, y, x + iw, y + ih)), small) < 2
        border = part.crop((0, 0, tw, max(1, y - 1)))
        assert border.size[1] > 0
    assert mean_pairwise(zoomed) > 0.3  # new content differs between tiles


def test_zoom_factor_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="between 1 and 2"):
        art.zoom_out(grid(), 3, 1)


@pytest.mark.parametrize("direction", ["left", "right", "up", "down"])
def test_pan_extends_the_chosen_side(direction: str) -> None:
    up = art.upscale(grid("a fox by the sea", seed=6), 3)  # square
    panned = art.pan(up, direction, 2, long_side=512)  # type: ignore[arg-type]
    parts = tiles(panned)
    tw, th = parts[0].size
    horizontal = direction in ("left", "right")
    assert (tw / th if horizontal else th / tw) == pytest.approx(1.5, abs=0.02)
    if horizontal:
        keep = (0, 0, th, th) if direction == "right" else (tw - th, 0, tw, th)
        new = (th, 0, tw, th) if direction == "right" else (0, 0, tw - th, th)
    else:
        keep = (0, 0, tw, tw) if direction == "down" else (0, th - tw, tw, th)
        new = (0, tw, tw, th) if direction == "down" else (0, 0, tw, th - tw)
    for part in parts:
        kept = part.crop(keep)
        assert diff(kept, up) < 2.5
        added = part.crop(new)
        assert added.size[0] * added.size[1] > 0


def test_make_square_extends_the_short_side() -> None:
    wide = art.upscale(grid("a city", seed=2, ar="16:9"), 1)
    squared = art.make_square(wide, 4, long_side=512)
    parts = tiles(squared)
    side = parts[0].width
    assert parts[0].size == (side, side)
    ih = round(side * wide.height / wide.width)
    y = (side - ih) // 2
    for part in parts:
        assert diff(part.crop((0, y, side, y + ih)), wide) < 2.5
    with pytest.raises(ValueError, match="non-square"):
        art.make_square(art.upscale(grid(), 1), 4)


def test_preview_gets_closer_to_the_final_image() -> None:
    final = grid("a fox by the sea", seed=3, stylize=600)
    assert art.preview(final, 100).tobytes() == final.tobytes()
    views = {p: art.preview(final, p) for p in (5, 30, 60, 90)}
    for view in views.values():
        assert view.size == (final.width // 2, final.height // 2)
    distances = [diff(views[p], final) for p in (5, 30, 60, 90)]
    assert distances == sorted(distances, reverse=True), distances
    assert art.preview(final, 30).tobytes() == views[30].tobytes()


def test_preview_is_blurrier_at_low_progress() -> None:
    final = grid("a fox by the sea", seed=3, stylize=600)

    # compare structure at a scale above the preview's fine grain
    def structure(image: Image.Image) -> float:
        return edge_density(image.resize((48, 48), Image.Resampling.BOX))

    assert structure(art.preview(final, 10)) < structure(art.preview(final, 80))


def test_upscale_image_sizes_and_creative_texture() -> None:
    up = art.upscale(grid(seed=4), 1)  # 256 x 256
    subtle = art.upscale_image(up, "subtle")
    creative = art.upscale_image(up, "creative")
    assert subtle.size == creative.size == art.upscale_image(up, "2x").size == (512, 512)
    assert art.upscale_image(up, "4x").size == (1024, 1024)
    assert edge_density(creative) > 1.2 * edge_density(subtle)
    huge = Image.new("RGB", (1500, 1000), (10, 200, 30))
    assert art.upscale_image(huge, "4x").size == (4096, 2731)
    with pytest.raises(ValueError, match="subtle, creative, 2x or 4x"):
        art.upscale_image(up, "8x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dimensions", "ratio"), [("square", 1.0), ("portrait", 2 / 3), ("landscape", 1.5)]
)
def test_blend_dimensions_and_colours(dimensions: str, ratio: float) -> None:
    red = Image.new("RGB", (300, 200), (220, 30, 30))
    blue = Image.new("RGB", (200, 300), (30, 60, 220))
    mixed = art.blend([red, blue], dimensions, 1, long_side=SMALL)  # type: ignore[arg-type]
    assert mixed.width / mixed.height == pytest.approx(ratio)
    assert mixed.size == art.grid_size({"square": "1:1", "portrait": "2:3",
                                        "landscape": "3:2"}[dimensions], SMALL)  # fmt: skip
    assert hue_fraction(mixed, 0) > 0.1
    assert hue_fraction(mixed, 226) > 0.1
    assert mean_pairwise(mixed) > 1.0


def test_blend_refuses_bad_input() -> None:
    red = Image.new("RGB", (64, 64), (220, 30, 30))
    with pytest.raises(ValueError, match="2 to 5"):
        art.blend([red] * 6, "square", 1)
    with pytest.raises(ValueError, match="2 to 5"):
        art.blend([], "square", 1)
    with pytest.raises(ValueError, match="square, portrait or landscape"):
        art.blend([red, red], "wide", 1)  # type: ignore[arg-type]


def test_describe_names_colours_and_aspect() -> None:
    image = art.upscale(grid("an abstract red painting", seed=2, ar="3:2"), 1)
    lines = art.describe(image)
    assert len(lines) == 4
    assert len(set(lines)) == 4
    for line in lines:
        assert any(name in line for name in art.DESCRIBE_COLOURS)
        assert line.endswith("--ar 3:2")
    assert "red" in lines[0] or "maroon" in lines[0]
    teal = Image.new("RGB", (1024, 1536), (0, 128, 128))
    assert "teal" in art.describe(teal)[0]
    assert art.describe(teal)[0].endswith("--ar 2:3")


def test_encoders() -> None:
    g = grid()
    webp = art.to_webp(g)
    assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
    assert len(art.to_webp(g, quality=20)) < len(art.to_webp(g, quality=90))
    with Image.open(io.BytesIO(art.to_png(g))) as decoded:
        assert decoded.tobytes() == g.tobytes()


# ---------------------------------------------------------------------------- speed and demo


def test_painting_is_fast() -> None:
    art.paint_grid("warm up", {}, 1)
    times = []
    for seed in range(3):
        start = time.perf_counter()
        art.paint_grid("a fox by the sea at sunset", {"stylize": 1000, "weird": 1000}, seed)
        times.append(time.perf_counter() - start)
    assert sorted(times)[1] < 0.6  # about 0.07 s on two idle cores; generous for busy CI


def test_demo_writes_a_contact_sheet(tmp_path: Path) -> None:
    out = tmp_path / "sheet.png"
    assert art.main(["demo", str(out)]) == 0
    with Image.open(out) as sheet:
        assert sheet.width > 800 and sheet.height > 2000
    assert art.main(["nonsense"]) == 2
