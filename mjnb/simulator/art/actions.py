"""The public picture operations: grids and tiles, previews, and what Midjourney's
actions do to an image (upscale, vary, zoom out, make square, pan, blend)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from PIL import Image

from mjnb.simulator.art.colours import (
    F32,
    MAX_UPSCALE,
    Arr,
    _digest,
    _fit,
    _gen,
    _look,
    _Stream,
    grid_size,
)
from mjnb.simulator.art.draw import (
    _blur,
    _box,
    _Canvas,
    _disc,
    _hsv_to_rgb,
    _lum,
    _noise,
    _rgb_to_hsv,
    _triangle,
)
from mjnb.simulator.art.scene import _paint

# ---------------------------------------------------------------------------- public: grids


def _check_index(index: int) -> None:
    if index not in (1, 2, 3, 4):
        raise ValueError(f"tile index must be 1, 2, 3 or 4, got {index!r}; 1 is top-left.")


def _compose(tiles: Sequence[Image.Image]) -> Image.Image:
    tw, th = tiles[0].size
    grid = Image.new("RGB", (2 * tw, 2 * th))
    for i, tile in enumerate(tiles):
        grid.paste(tile, ((i % 2) * tw, (i // 2) * th))
    return grid


def paint_tile(
    text: str, params: Mapping[str, Any], seed: int, index: int, size: tuple[int, int]
) -> Image.Image:
    """One tile (1-4) of the grid painted from ``text``, ``params`` and ``seed``."""
    _check_index(index)
    return _paint(_look(text, params, seed), index, size)


def paint_grid(
    text: str, params: Mapping[str, Any], seed: int, long_side: int = 1024
) -> Image.Image:
    """The RGB 2x2 grid for a prompt: four distinct tiles, exact ``--ar`` shape."""
    gw, gh = grid_size(str(params.get("ar") or "1:1"), long_side)
    look = _look(text, params, seed)
    return _compose([_paint(look, i, (gw // 2, gh // 2)) for i in (1, 2, 3, 4)])


def variation_grid(
    text: str,
    params: Mapping[str, Any],
    seed: int,
    index: int,
    strength: float = 0.25,
    long_side: int = 1024,
) -> Image.Image:
    """V1-V4: a new grid of four near variants of tile ``index``; strength 0..1."""
    _check_index(index)
    gw, gh = grid_size(str(params.get("ar") or "1:1"), long_side)
    look = _look(text, params, seed)
    strength = min(1.0, max(0.0, float(strength)))
    return _compose([_paint(look, index, (gw // 2, gh // 2), (j, strength)) for j in (1, 2, 3, 4)])


def upscale(grid: Image.Image, index: int) -> Image.Image:
    """U1-U4: crop tile ``index`` (1 top-left ... 4 bottom-right) and enlarge it 2x."""
    _check_index(index)
    tw, th = grid.width // 2, grid.height // 2
    x, y = ((index - 1) % 2) * tw, ((index - 1) // 2) * th
    tile = grid.convert("RGB").crop((x, y, x + tw, y + th))
    return tile.resize((2 * tw, 2 * th), Image.Resampling.LANCZOS)


def preview(final: Image.Image, progress: int) -> Image.Image:
    """A blurred, grainy half-size preview; the lower ``progress`` the blurrier it is.

    ``progress`` 100 (or more) returns a copy of ``final`` itself.
    """
    p = min(100, max(0, int(progress)))
    image = final.convert("RGB")
    if p >= 100:
        return image.copy()
    out = (max(1, image.width // 2), max(1, image.height // 2))
    f = p / 100.0
    long = max(image.size)
    small_long = 6 + (f**1.7) * 0.3 * long
    scale = min(1.0, small_long / long)
    small = image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
        Image.Resampling.BOX,
    )
    blurry = np.asarray(small.resize(out, Image.Resampling.BILINEAR), F32) / 255.0
    rng = np.random.default_rng(_digest("preview", p, image.size))
    grain = rng.standard_normal((out[1], out[0], 1)).astype(F32)
    mean = blurry.mean(axis=(0, 1), keepdims=True)
    arr = mean + (blurry - mean) * (0.55 + 0.45 * f) + grain * (0.03 * (1 - f))
    return Image.fromarray((np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")


# ---------------------------------------------------------------------------- image actions


def _array(image: Image.Image, size: tuple[int, int] | None = None) -> Arr:
    image = image.convert("RGB")
    if size is not None and image.size != size:
        image = image.resize(size, Image.Resampling.BICUBIC)
    return np.asarray(image, F32) / 255.0


def _image(arr: Arr) -> Image.Image:
    return Image.fromarray((np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")


def _image_palette(arr: Arr, count: int = 5) -> list[Arr]:
    small = _image(arr).resize((32, 32), Image.Resampling.BOX)
    quant = small.quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    pal = quant.getpalette() or [128, 128, 128]
    counts = sorted(quant.getcolors() or [(1, 0)], key=lambda item: -item[0])
    indexes = [i for _, i in counts if isinstance(i, int)] or [0]
    return [np.array(pal[3 * i : 3 * i + 3], F32) / 255.0 for i in indexes]


def _new_content(arr: Arr, keep: Arr, seed: int, label: str, strength: float) -> Arr:
    """Paint fresh shapes, in the image's own colours, where ``keep`` is 0."""
    h, w = arr.shape[:2]
    cv = _Canvas(w, h, wrap=False)
    cv.img = arr.copy()
    rng = _gen("content", label, seed, w, h)
    colours = _image_palette(arr)
    n = 6 + int(10 * strength)
    for _ in range(n):
        r = float(rng.uniform(0.04, 0.2))
        cx, cy = float(rng.uniform(0, cv.W)), float(rng.uniform(0, cv.H))
        colour = colours[int(rng.integers(len(colours)))]
        kind = int(rng.integers(3))
        alpha = (
            _disc(r, cv.s)
            if kind == 0
            else _box(r, r * 0.5, float(rng.uniform(0, 3)), cv.s)
            if kind == 1
            else _triangle(r, r * 1.4, cv.s)
        )
        cv.draw(cx, cy, (r * 1.5, r * 1.5), alpha, colour, float(rng.uniform(0.5, 0.9)))
    mask = (1.0 - keep)[..., None]
    return np.asarray(arr + (cv.img - arr) * mask)


def _extend(
    image: Image.Image,
    canvas: tuple[int, int],
    place: tuple[int, int, int, int],
    seed: int,
    label: str,
) -> Image.Image:
    """Put ``image`` into ``place`` (x, y, w, h) on a larger canvas and paint around it."""
    cw, ch = canvas
    x, y, w, h = place
    work_scale = min(1.0, 256 / max(cw, ch))
    ww, wh = max(2, round(cw * work_scale)), max(2, round(ch * work_scale))
    px, py = round(x * work_scale), round(y * work_scale)
    pw, ph = max(1, round(w * work_scale)), max(1, round(h * work_scale))
    pw, ph = min(pw, ww - px), min(ph, wh - py)
    inner = _array(image, (pw, ph))
    pad = ((py, wh - py - ph), (px, ww - px - pw), (0, 0))
    grown = np.pad(inner, pad, mode="symmetric")
    yy = np.arange(wh, dtype=F32)[:, None]
    xx = np.arange(ww, dtype=F32)[None, :]
    ddx = np.maximum(np.maximum(px - xx, xx - (px + pw - 1)), 0)
    ddy = np.maximum(np.maximum(py - yy, yy - (py + ph - 1)), 0)
    dist = np.sqrt(ddx * ddx + ddy * ddy) / max(ww, wh)
    keep = np.clip(1.0 - dist * 12, 0, 1)
    soft = _blur(grown, max(1, round(0.03 * max(ww, wh))), False)
    far = np.clip(dist * 3, 0, 1)[..., None]
    grown = grown + (soft - grown) * far
    grown = _new_content(grown, keep, seed, label, 0.6)
    out = _image(grown).resize(canvas, Image.Resampling.BICUBIC)
    out.paste(image.convert("RGB").resize((w, h), Image.Resampling.LANCZOS), (x, y))
    return out


def _tile_size(w: int, h: int, long_side: int) -> tuple[int, int]:
    return _fit(w, h, max(1, long_side // 2))


def zoom_out(image: Image.Image, factor: float, seed: int, long_side: int = 1024) -> Image.Image:
    """Zoom Out 2x / 1.5x / custom (1-2): the image shrunk by 1/factor, new content around it.

    Returns a grid of four tiles, each the shape of ``image``.
    """
    if not 1.0 <= float(factor) <= 2.0:
        raise ValueError(f"zoom factor must be between 1 and 2, got {factor}; use 2 or 1.5.")
    tw, th = _tile_size(image.width, image.height, long_side)
    iw, ih = max(1, round(tw / factor)), max(1, round(th / factor))
    place = ((tw - iw) // 2, (th - ih) // 2, iw, ih)
    return _compose(
        [_extend(image, (tw, th), place, seed, f"zoom{factor}:{i}") for i in (1, 2, 3, 4)]
    )


def make_square(image: Image.Image, seed: int, long_side: int = 1024) -> Image.Image:
    """Make Square: extend the short side of a non-square image to a square canvas (grid of 4)."""
    if image.width == image.height:
        raise ValueError("Make Square needs a non-square image; this one is already square.")
    side = max(1, long_side // 2)
    scale = side / max(image.size)
    iw, ih = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    place = ((side - iw) // 2, (side - ih) // 2, iw, ih)
    return _compose(
        [_extend(image, (side, side), place, seed, f"square:{i}") for i in (1, 2, 3, 4)]
    )


PAN_EXTENSION = 0.5  # a pan adds half the image's size on one side (Midjourney: +512 of 1024)


def pan(
    image: Image.Image,
    direction: Literal["left", "right", "up", "down"],
    seed: int,
    long_side: int = 1024,
) -> Image.Image:
    """Pan: a grid of four tiles, each the image extended by half its size on one side."""
    if direction not in ("left", "right", "up", "down"):
        raise ValueError(f"pan direction must be left, right, up or down, got {direction!r}.")
    w, h = image.size
    horizontal = direction in ("left", "right")
    ew = w + round(w * PAN_EXTENSION) if horizontal else w
    eh = h if horizontal else h + round(h * PAN_EXTENSION)
    tw, th = _tile_size(ew, eh, long_side)
    iw = round(tw * w / ew) if horizontal else tw
    ih = th if horizontal else round(th * h / eh)
    x = tw - iw if direction == "left" else 0
    y = th - ih if direction == "up" else 0
    return _compose(
        [
            _extend(image, (tw, th), (x, y, iw, ih), seed, f"pan{direction}:{i}")
            for i in (1, 2, 3, 4)
        ]
    )


def vary(
    image: Image.Image,
    strength: Literal["subtle", "strong"],
    seed: int,
    long_side: int = 1024,
) -> Image.Image:
    """Vary (Subtle/Strong): a grid of four variants of an upscaled image."""
    if strength not in ("subtle", "strong"):
        raise ValueError(f"vary strength must be 'subtle' or 'strong', got {strength!r}.")
    strong = strength == "strong"
    tw, th = _tile_size(image.width, image.height, long_side)
    ww, wh = _fit(tw, th, min(320, max(tw, th)))
    base = _array(image, (ww, wh))
    tiles = []
    for i in (1, 2, 3, 4):
        rng = _gen("vary", strength, seed, i, image.size)
        amp = (0.05 if strong else 0.012) * max(ww, wh)
        kx, ky = rng.uniform(1.0, 3.0, 2)
        pa, pb = rng.uniform(0, 6.28, 2)
        xn = np.arange(ww, dtype=F32)[None, :] / ww
        yn = np.arange(wh, dtype=F32)[:, None] / wh
        dx = amp * np.sin(2 * np.pi * ky * yn + pa + np.sin(2 * np.pi * kx * xn))
        dy = amp * np.sin(2 * np.pi * kx * xn + pb + np.sin(2 * np.pi * ky * yn))
        sx = np.clip(np.rint(np.arange(ww)[None, :] + dx), 0, ww - 1).astype(np.int64)
        sy = np.clip(np.rint(np.arange(wh)[:, None] + dy), 0, wh - 1).astype(np.int64)
        arr = base[sy, sx]
        shift = float(rng.uniform(-1, 1)) * (0.06 if strong else 0.015)
        h, s, v = _rgb_to_hsv(arr)
        arr = _hsv_to_rgb((h + shift) % 1.0, s, np.clip(v * float(rng.uniform(0.95, 1.05)), 0, 1))
        if strong:
            arr = _new_content(arr, np.zeros(arr.shape[:2], F32), seed * 10 + i, "vary", 0.6)
        tiles.append(_image(arr).resize((tw, th), Image.Resampling.BICUBIC))
    return _compose(tiles)


def upscale_image(
    image: Image.Image, kind: Literal["subtle", "creative", "2x", "4x"]
) -> Image.Image:
    """Upscale Subtle/Creative/2x/4x: 2x bigger (4x for "4x"), long side capped at 4096.

    "creative" adds visible fine texture; the others only enlarge smoothly.
    """
    if kind not in ("subtle", "creative", "2x", "4x"):
        raise ValueError(f"upscale kind must be subtle, creative, 2x or 4x, got {kind!r}.")
    factor = 4 if kind == "4x" else 2
    w, h = image.size
    factor_cap = MAX_UPSCALE / max(w, h)
    scale = min(float(factor), max(1.0, factor_cap))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    big = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    if kind != "creative":
        return big
    arr: Arr = np.asarray(big, F32)
    rng = _gen("creative", image.size, size)
    cells = (max(1, size[0] // 6), max(1, size[1] // 6))
    grid = rng.standard_normal((cells[1], cells[0])).astype(F32)
    tex = np.asarray(Image.fromarray(grid).resize(size, Image.Resampling.BILINEAR), F32)  # mode F
    fine = rng.standard_normal((size[1], size[0])).astype(F32)
    arr = arr * (1.0 + (0.07 * tex + 0.03 * fine)[..., None])
    return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "RGB")


BLEND_RATIOS = {"square": "1:1", "portrait": "2:3", "landscape": "3:2"}


def blend(
    images: Sequence[Image.Image],
    dimensions: Literal["square", "portrait", "landscape"],
    seed: int,
    long_side: int = 1024,
) -> Image.Image:
    """/blend: a grid of four tiles mixing 2-5 images' colours and shapes."""
    if dimensions not in BLEND_RATIOS:
        raise ValueError(
            f"blend dimensions must be square, portrait or landscape, got {dimensions!r}."
        )
    if not 1 <= len(images) <= 5:
        raise ValueError(
            f"blend takes 1 to 5 images (Midjourney asks for 2 to 5), got {len(images)}."
        )
    gw, gh = grid_size(BLEND_RATIOS[dimensions], long_side)
    tw, th = gw // 2, gh // 2
    ww, wh = _fit(tw, th, min(256, max(tw, th)))
    arrays = [_array(_cover(im, (ww, wh))) for im in images]
    tiles = []
    for i in (1, 2, 3, 4):
        st = _Stream([_gen("blend", seed, len(images), i)], [1.0], [1.0])
        fields = np.stack([_noise(st, ww, wh, 3, 3) * (1.0 + st.u()) for _ in arrays], axis=0)
        weights = np.exp(fields * 6.0)
        weights /= weights.sum(axis=0, keepdims=True)
        mix = np.zeros_like(arrays[0])
        for k, arr in enumerate(arrays):
            src = arr[:, ::-1] if st.pick(10) < 3 else arr
            mix += src * weights[k][..., None]
        mean = np.mean([a.mean(axis=(0, 1)) for a in arrays], axis=0)
        mix = mix + (mean - mix) * 0.15
        lum = _lum(mix)[..., None]
        mix = lum + (mix - lum) * 1.25
        tiles.append(_image(mix).resize((tw, th), Image.Resampling.BICUBIC))
    return _compose(tiles)


def _cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize and centre-crop ``image`` to fill ``size``."""
    image = image.convert("RGB")
    w, h = size
    scale = max(w / image.width, h / image.height)
    rw, rh = max(w, math.ceil(image.width * scale)), max(h, math.ceil(image.height * scale))
    big = image.resize((rw, rh), Image.Resampling.BICUBIC)
    x, y = (rw - w) // 2, (rh - h) // 2
    return big.crop((x, y, x + w, y + h))
