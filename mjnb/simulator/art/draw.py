"""Drawing primitives on float arrays: anti-aliased shapes, a canvas that composites
them, noise, blur and colour-space helpers. Encoders to PNG/WebP bytes are here too."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from typing import Literal

import numpy as np
from PIL import Image

from mjnb.simulator.art.colours import F32, Alpha, Arr, Fill, _Stream

# ---------------------------------------------------------------------------- drawing


def _aa(d: Arr, s: float) -> Arr:
    """Antialiased coverage from a signed distance (positive inside), in pixels."""
    a = d * s
    a += 0.5
    np.minimum(a, 1.0, out=a)
    return np.maximum(a, 0.0, out=a)


def _disc(r: float, s: float) -> Alpha:
    return lambda dx, dy: _aa(r - np.sqrt(dx * dx + dy * dy), s)


def _ring(r: float, width: float, s: float) -> Alpha:
    return lambda dx, dy: _aa(width / 2 - np.abs(np.sqrt(dx * dx + dy * dy) - r), s)


def _ellipse(rx: float, ry: float, angle: float, s: float) -> Alpha:
    ca, sa = math.cos(angle), math.sin(angle)
    m = min(rx, ry)

    def alpha(dx: Arr, dy: Arr) -> Arr:
        u = (dx * ca + dy * sa) / rx
        v = (dy * ca - dx * sa) / ry
        return _aa((1.0 - np.sqrt(u * u + v * v)) * m, s)

    return alpha


def _box(hw: float, hh: float, angle: float, s: float) -> Alpha:
    ca, sa = math.cos(angle), math.sin(angle)

    def alpha(dx: Arr, dy: Arr) -> Arr:
        u = np.abs(dx * ca + dy * sa) - hw
        v = np.abs(dy * ca - dx * sa) - hh
        return _aa(-np.maximum(u, v), s)

    return alpha


def _triangle(half: float, height: float, s: float) -> Alpha:
    """Isosceles triangle standing on its base; the origin is the middle of the base."""
    k = height / math.hypot(height, half)

    def alpha(dx: Arr, dy: Arr) -> Arr:
        side = (half * (dy + height) / height - np.abs(dx)) * k
        return _aa(np.minimum(side, -dy), s)

    return alpha


def _union(*parts: tuple[float, float, Alpha]) -> Alpha:
    def alpha(dx: Arr, dy: Arr) -> Arr:
        out = np.zeros(np.broadcast_shapes(dx.shape, dy.shape), F32)
        for ox, oy, fn in parts:
            np.maximum(out, fn(dx - ox, dy - oy), out=out)
        return out

    return alpha


def _animal(k: float, facing: float, s: float) -> Alpha:
    f = 1.0 if facing >= 0 else -1.0
    parts = [
        (0.0, 0.0, _ellipse(0.2 * k, 0.1 * k, 0.0, s)),
        (0.21 * k * f, -0.12 * k, _disc(0.075 * k, s)),
        (0.29 * k * f, -0.095 * k, _ellipse(0.055 * k, 0.032 * k, 0.15 * f, s)),
        (0.175 * k * f, -0.165 * k, _triangle(0.03 * k, 0.07 * k, s)),
        (0.245 * k * f, -0.165 * k, _triangle(0.03 * k, 0.07 * k, s)),
        (-0.25 * k * f, -0.05 * k, _ellipse(0.12 * k, 0.035 * k, -0.5 * f, s)),
    ]
    for lx in (-0.13, -0.06, 0.07, 0.13):
        parts.append((lx * k * f, 0.13 * k, _box(0.017 * k, 0.06 * k, 0.0, s)))
    return _union(*parts)


def _solid(colour: Arr) -> Fill:
    return lambda dx, dy, region: colour


class _Canvas:
    """A float RGB image in normalised units: the tile's geometric-mean side is 1."""

    def __init__(self, rw: int, rh: int, wrap: bool) -> None:
        self.rw, self.rh, self.wrap = rw, rh, wrap
        self.s = math.sqrt(rw * rh)
        self.W, self.H = rw / self.s, rh / self.s
        self.x = ((np.arange(rw, dtype=F32) + 0.5) / self.s)[None, :]
        self.y = ((np.arange(rh, dtype=F32) + 0.5) / self.s)[:, None]
        self.img = np.zeros((rh, rw, 3), F32)

    def _windows(
        self, cx: float, cy: float, ex: float, ey: float
    ) -> Iterator[tuple[slice, slice, float, float]]:
        shifts = (-1, 0, 1) if self.wrap else (0,)
        for sy in shifts:
            for sx in shifts:
                ox, oy = cx + sx * self.W, cy + sy * self.H
                x0 = max(0, math.floor((ox - ex) * self.s))
                x1 = min(self.rw, math.ceil((ox + ex) * self.s) + 1)
                y0 = max(0, math.floor((oy - ey) * self.s))
                y1 = min(self.rh, math.ceil((oy + ey) * self.s) + 1)
                if x0 < x1 and y0 < y1:
                    yield slice(y0, y1), slice(x0, x1), ox, oy

    def draw(
        self,
        cx: float,
        cy: float,
        extent: tuple[float, float],
        alpha: Alpha,
        fill: Fill | Arr,
        opacity: float = 1.0,
    ) -> None:
        """Composite a shape centred at (cx, cy) whose bounding half-size is ``extent``."""
        paint = fill if callable(fill) else _solid(fill)
        for ys, xs, ox, oy in self._windows(cx, cy, extent[0], extent[1]):
            dx = self.x[:, xs] - ox
            dy = self.y[ys, :] - oy
            a = alpha(dx, dy)
            if opacity != 1.0:
                a = a * opacity
            region = self.img[ys, xs]
            colour = paint(dx, dy, region)
            region += (colour - region) * a[..., None]


def _noise(st: _Stream, rw: int, rh: int, cells_x: int, cells_y: int) -> Arr:
    """Smooth periodic value noise in 0..1 (bilinear with smoothstep), shape (rh, rw)."""
    cx, cy = max(1, cells_x), max(1, cells_y)
    grid = st.uniform(cx * cy).reshape(cy, cx).astype(F32)
    fy = np.arange(rh, dtype=F32) * (cy / rh)
    fx = np.arange(rw, dtype=F32) * (cx / rw)
    y0 = fy.astype(np.int64)
    x0 = fx.astype(np.int64)
    ty = fy - y0
    tx = fx - x0
    ty = (ty * ty * (3 - 2 * ty))[:, None]
    tx = (tx * tx * (3 - 2 * tx))[None, :]
    rows = grid[y0 % cy] * (1 - ty) + grid[(y0 + 1) % cy] * ty
    return np.asarray(rows[:, x0 % cx] * (1 - tx) + rows[:, (x0 + 1) % cx] * tx)


def _blur(img: Arr, radius: int, wrap: bool) -> Arr:
    """Two passes of a box blur (close to Gaussian), along both axes."""
    if radius < 1:
        return img
    out: Arr = np.asarray(img, F32)
    mode: Literal["wrap", "edge"] = "wrap" if wrap else "edge"
    k = 2 * radius + 1
    for axis in (0, 1):
        for _ in range(2):
            pad = [(0, 0)] * out.ndim
            pad[axis] = (radius + 1, radius)
            c = np.cumsum(np.pad(out, pad, mode=mode), axis=axis, dtype=F32)
            out = (c[k:] - c[:-k]) if axis == 0 else (c[:, k:] - c[:, :-k])
            out *= 1.0 / k
    return out


def _lum(img: Arr) -> Arr:
    return np.asarray(img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114)


def _rgb_to_hsv(img: Arr) -> tuple[Arr, Arr, Arr]:
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    mx = np.maximum(np.maximum(r, g), b)
    mn = np.minimum(np.minimum(r, g), b)
    d = mx - mn
    safe = np.where(d > 1e-6, d, 1.0)
    h = np.where(
        mx == r, ((g - b) / safe) % 6.0, np.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4)
    )
    h = np.where(d > 1e-6, h / 6.0, 0.0)
    s = np.where(mx > 1e-6, d / np.where(mx > 1e-6, mx, 1.0), 0.0)
    return h, s, mx


def _hsv_to_rgb(h: Arr, s: Arr, v: Arr) -> Arr:
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    i = i.astype(np.int64) % 6
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-1).astype(F32)


# ---------------------------------------------------------------------------- encoders


def to_png(image: Image.Image) -> bytes:
    """PNG bytes: deterministic (no timestamps or text chunks), fast zlib level 1."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def to_webp(image: Image.Image, quality: int = 60) -> bytes:
    """WebP bytes, as Midjourney's CDN serves previews."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="WEBP", quality=int(quality), method=1)
    return buf.getvalue()
