"""Deterministic procedural pictures for the offline Midjourney simulator.

Every picture derives from a SHA-256 hash of the prompt text and the seed; the other
parameters are continuous controls on top of that composition, so changing stylize
or weird keeps the same scene and changes how it is painted. Same text, parameters
and seed give byte-identical PNGs; another seed gives another picture.

How each parameter shows (what a class sees):
  --ar W:H      the grid and each tile have exactly that shape (16:9 wide, 9:16 tall, 8:3 a strip).
  colour words  "red", "teal and gold", "light blue"... fill sky, ground and shapes (first = most).
  no colours    a palette derived from the text's hash ("sunset", "snow", "forest" hint colours).
  --no X        colour X disappears (nearby hues are turned away); --no sun removes the sun motif.
  --stylize     0 plain: a few big, flat, muted shapes; 250 more shapes, patterns, stronger colour;
                1000 ornate: many patterned shapes with rims, sparkles, filigree, glow, vignette.
  --chaos       0: the four tiles are close siblings of one composition; 100: four unrelated
                compositions and palettes.
  --weird       0 nothing odd; 250 an eyeball; 1000 warped shapes, eyeballs, an inverted patch;
                3000 a melted picture full of eyeballs, inverted patches and neon accents.
  --seed        the composition: where the horizon, the shapes and the motifs are.
  --tile        a seamless wallpaper: the left edge continues the right, the top the bottom.
  --quality     .25 smoother with fewer small details; 2 and 4 crisper with more fine detail.
  --style raw   less stylised: a third of the stylize effect, plainer colour.
  --niji        anime look: flat cel-shaded bands of colour with dark outlines.
  --version     subtle: 5.x a little warmer and softer, 7 a little crisper and more contrasted.
  --stop N      stops the picture early: 100 finished; lower is blurrier, grainier and flatter.
  motif words   sun/moon a disc, mountain triangles, sea/ocean/water waves, fox/cat/dog an animal,
                city blocks with windows, tree/forest trees, flower petals, stars/night/snow dots.

Actions: ``upscale`` crops a tile and doubles it; ``variation_grid`` repaints a tile's
composition with small changes; ``vary`` warps and repaints an image; ``zoom_out``,
``make_square`` and ``pan`` keep the image and paint new content around it.

Run ``python -m mjnb.simulator.art demo OUT.png`` for a labelled contact sheet.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import math
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from mjnb.errors import PromptError

__all__ = [
    "blend",
    "describe",
    "grid_size",
    "make_square",
    "paint_grid",
    "paint_tile",
    "pan",
    "preview",
    "to_png",
    "to_webp",
    "upscale",
    "upscale_image",
    "variation_grid",
    "vary",
    "zoom_out",
]

Arr = npt.NDArray[Any]
Fill = Callable[[Arr, Arr, Arr], Arr]
Alpha = Callable[[Arr, Arr], Arr]

F32 = np.float32
MAX_UPSCALE = 4096
RENDER_LONG = 320  # long side (px) at which a tile is painted before the smooth resize

# ---------------------------------------------------------------------------- colours

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (214, 36, 44),
    "orange": (240, 128, 28),
    "yellow": (246, 210, 48),
    "green": (46, 158, 68),
    "teal": (0, 128, 128),
    "cyan": (36, 200, 222),
    "blue": (36, 88, 212),
    "navy": (22, 36, 98),
    "purple": (122, 48, 164),
    "violet": (142, 88, 222),
    "indigo": (74, 38, 142),
    "pink": (238, 100, 160),
    "magenta": (212, 36, 164),
    "brown": (122, 74, 38),
    "black": (16, 16, 20),
    "white": (246, 246, 240),
    "gray": (128, 128, 132),
    "gold": (214, 170, 48),
    "silver": (190, 194, 204),
    "turquoise": (56, 212, 196),
    "lime": (160, 222, 48),
    "maroon": (120, 20, 36),
    "beige": (226, 206, 170),
    "crimson": (200, 18, 60),
    "amber": (255, 178, 0),
    "coral": (250, 122, 94),
    "olive": (120, 126, 40),
    "lavender": (182, 160, 232),
    "emerald": (20, 152, 92),
    "scarlet": (236, 40, 24),
    "cream": (250, 240, 212),
    "peach": (250, 190, 150),
    "mint": (150, 230, 190),
    "salmon": (246, 140, 118),
    "tan": (206, 170, 120),
    "bronze": (172, 110, 50),
    "copper": (186, 100, 58),
    "ivory": (250, 248, 232),
    "sapphire": (20, 60, 162),
    "ruby": (182, 16, 52),
}
ALIASES = {"grey": "gray", "aqua": "cyan", "golden": "gold", "azure": "blue"}
RAINBOW = ("red", "orange", "yellow", "green", "blue", "purple")
#: Words that suggest colours without naming one; used after the named colours.
HINTS: dict[str, tuple[str, ...]] = {
    "snow": ("white", "blue"),
    "winter": ("white", "cyan"),
    "ice": ("cyan", "white"),
    "fire": ("orange", "red"),
    "flame": ("orange", "red"),
    "lava": ("red", "orange"),
    "sunset": ("orange", "pink", "purple"),
    "sunrise": ("orange", "yellow", "pink"),
    "night": ("navy", "indigo"),
    "space": ("black", "purple"),
    "galaxy": ("purple", "navy"),
    "forest": ("green", "brown"),
    "jungle": ("green", "lime"),
    "grass": ("green",),
    "leaf": ("green",),
    "leaves": ("green",),
    "sea": ("blue", "teal"),
    "ocean": ("blue", "teal"),
    "water": ("blue", "cyan"),
    "lake": ("blue",),
    "sky": ("blue",),
    "desert": ("tan", "orange"),
    "sand": ("beige",),
    "autumn": ("orange", "brown"),
    "fox": ("orange",),
    "cherry": ("pink",),
    "lemon": ("yellow",),
}
LIGHTER = frozenset({"light", "pale", "pastel", "soft", "bright"})
DARKER = frozenset({"dark", "deep", "dim"})

MOTIFS: dict[str, str] = {
    **dict.fromkeys(("sun", "sunny"), "sun"),
    **dict.fromkeys(("moon", "moonlight", "moonlit"), "moon"),
    **dict.fromkeys(("sunset", "sunrise"), "sun"),
    **dict.fromkeys(("mountain", "mountains", "hill", "hills", "peak", "peaks"), "mountain"),
    **dict.fromkeys(("sea", "ocean", "water", "lake", "river", "wave", "waves"), "water"),
    "beach": "water",
    **dict.fromkeys(("fox", "cat", "dog", "wolf", "kitten", "puppy", "animal"), "animal"),
    **dict.fromkeys(("city", "town", "building", "buildings", "skyscraper"), "city"),
    **dict.fromkeys(("skyline", "street"), "city"),
    **dict.fromkeys(("tree", "trees", "forest", "woods", "jungle"), "tree"),
    **dict.fromkeys(("flower", "flowers", "rose", "roses", "garden", "bloom"), "flower"),
    **dict.fromkeys(("star", "stars", "night", "space", "galaxy"), "stars"),
    **dict.fromkeys(("snow", "snowy", "winter"), "snow"),
}
LANDSCAPE_MOTIFS = frozenset({"mountain", "water", "city", "tree", "flower", "animal"})

_WORD = re.compile(r"[a-z]+")
_URL = re.compile(r"\S+://\S+")


def _rgb(name: str) -> Arr:
    return np.array(COLOURS[name], F32) / 255.0


def _hsv(c: Arr) -> tuple[float, float, float]:
    return colorsys.rgb_to_hsv(float(c[0]), float(c[1]), float(c[2]))


def _from_hsv(h: float, s: float, v: float) -> Arr:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, min(1.0, s), min(1.0, v)), F32)


def _tint(c: Arr, t: float) -> Arr:
    return c + (1.0 - c) * t


def _shade(c: Arr, t: float) -> Arr:
    return c * (1.0 - t)


def _mixc(a: Arr, b: Arr, t: float) -> Arr:
    return a + (b - a) * t


def _rotate(c: Arr, turns: float) -> Arr:
    h, s, v = _hsv(c)
    return _from_hsv(h + turns, s, v)


def _complement(c: Arr) -> Arr:
    h, s, v = _hsv(c)
    if s < 0.15:
        return _tint(c, 0.5) if v < 0.5 else _shade(c, 0.55)
    return _from_hsv(h + 0.5, max(s, 0.55), max(v, 0.7))


# ---------------------------------------------------------------------------- hashing


def _digest(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:16], "big")


def _gen(*parts: object) -> np.random.Generator:
    return np.random.default_rng(_digest(*parts))


def _phi(z: Arr) -> Arr:
    """Standard normal CDF (tanh approximation), mapping mixed normals back to uniform."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.7978845608 * (z + 0.044715 * z**3))))


class _Stream:
    """Random numbers blended from several generators drawn in lockstep.

    A tile's numbers mix the grid's shared generator with the tile's own one in
    proportion to chaos, so chaos 0 gives siblings and chaos 100 unrelated tiles.
    Normals are mixed (weights normalised) and mapped back to uniform, so every mix
    stays uniformly distributed. Discrete choices (which shape, which colour) use
    their own weights, so small chaos moves things without swapping them.
    """

    def __init__(
        self,
        gens: Sequence[np.random.Generator],
        weights: Sequence[float],
        discrete: Sequence[float],
    ) -> None:
        self._gens = list(gens)
        self._w = self._normalise(weights)
        self._d = self._normalise(discrete)

    @staticmethod
    def _normalise(weights: Sequence[float]) -> Arr:
        w = np.array(weights, np.float64)
        return w / (math.sqrt(float((w * w).sum())) or 1.0)

    def _mix(self, n: int, discrete: bool) -> Arr:
        draws = np.stack([g.standard_normal(n) for g in self._gens])
        return _phi((self._d if discrete else self._w) @ draws)

    def uniform(self, n: int) -> Arr:
        """``n`` uniform numbers for continuous quantities (positions, sizes)."""
        return self._mix(n, False)

    def choice(self, n: int) -> Arr:
        """``n`` uniform numbers for discrete decisions (kinds, colour indexes, flags)."""
        return self._mix(n, True)

    def u(self) -> float:
        return float(self.uniform(1)[0])

    def between(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.u()

    def pick(self, k: int) -> int:
        return min(k - 1, int(float(self.choice(1)[0]) * k))


# ---------------------------------------------------------------------------- sizes


def _ratio(ar: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", str(ar))
    if not match or int(match[1]) == 0 or int(match[2]) == 0:
        raise PromptError(
            f"aspect ratio must be two whole numbers like 3:2, got {ar!r}; write --ar W:H."
        )
    w, h = int(match[1]), int(match[2])
    g = math.gcd(w, h)
    return w // g, h // g


def grid_size(ar: str = "1:1", long_side: int = 1024) -> tuple[int, int]:
    """Size (width, height) of a 2x2 grid with exactly the ratio ``ar``.

    Both sides are even multiples of the reduced ratio, so ``w * H == h * W`` and each
    tile is a whole number of pixels; the long side is at most ``long_side``.
    """
    a, b = _ratio(ar)
    k = long_side // (2 * max(a, b))
    if k < 1:
        raise PromptError(
            f"aspect ratio {a}:{b} cannot be drawn exactly within {long_side} px; "
            "use smaller whole numbers (for example 16:9 rather than 1600:899)."
        )
    return 2 * k * a, 2 * k * b


def _fit(w: int, h: int, long_side: int) -> tuple[int, int]:
    """A size with the ratio of ``w:h`` (exactly when affordable) and long side <= long_side."""
    g = math.gcd(w, h)
    a, b = w // g, h // g
    k = long_side // max(a, b)
    if k >= 1 and k * max(a, b) >= 0.75 * long_side:
        return k * a, k * b
    scale = long_side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


# ---------------------------------------------------------------------------- the look


def _num(params: Mapping[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    value = params.get(key)
    if value is None or isinstance(value, bool):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    if not math.isfinite(number):
        return default
    return min(hi, max(lo, number))


def _words(text: str) -> list[str]:
    return _WORD.findall(_URL.sub(" ", text.lower()))


@dataclass(frozen=True)
class _Look:
    """Everything a painting needs, read once from text, params and seed."""

    key: str
    words: tuple[str, ...]
    colours: tuple[Arr, ...]  # named colours first, then hinted ones, --no removed
    named: int  # how many of ``colours`` were named (not hinted)
    banned: tuple[str, ...]  # colour names from --no
    motifs: tuple[str, ...]
    stylize: float  # 0..1, perceptual (raw already applied)
    chaos: float  # 0..1
    weird: float  # 0..1
    tile: bool
    quality: float  # log2 of --q, -2..2
    niji: bool
    raw: bool
    version: float
    stop: float  # 0.1..1
    pastel: bool  # --style cute (niji 5)


def _read_colours(words: Sequence[str], banned: set[str]) -> tuple[list[Arr], int]:
    named: list[Arr] = []
    seen: set[str] = set()
    for i, word in enumerate(words):
        name = ALIASES.get(word, word)
        names = RAINBOW if name == "rainbow" else (name,) if name in COLOURS else ()
        for n in names:
            if n in seen or n in banned:
                continue
            seen.add(n)
            c = _rgb(n)
            before = words[i - 1] if i else ""
            if before in LIGHTER:
                c = _tint(c, 0.45)
            elif before in DARKER:
                c = _shade(c, 0.45)
            named.append(c)
    count = len(named)
    for word in words:
        for n in HINTS.get(word, ()):
            if n not in seen and n not in banned and len(named) < 4:
                seen.add(n)
                named.append(_rgb(n))
    return named, count


def _look(text: str, params: Mapping[str, Any], seed: int) -> _Look:
    words = _words(text)
    no = params.get("no") or []
    if isinstance(no, str):
        no = no.split(",")
    no_words = {w for item in no for w in _words(str(item))}
    banned = {ALIASES.get(w, w) for w in no_words if ALIASES.get(w, w) in COLOURS}
    colours, named = _read_colours(words, banned)
    motifs: list[str] = []
    for w in words:
        m = MOTIFS.get(w)
        if m and m not in motifs and w not in no_words and m not in no_words:
            motifs.append(m)
    style = str(params.get("style") or "").lower()
    raw = style == "raw"
    stylize = _num(params, "stylize", 100, 0, 1000) / 1000.0
    stylize = stylize**0.6 * (0.35 if raw else 1.0)
    niji = bool(params.get("niji")) and params.get("niji") not in ("0", 0)
    quality = math.log2(_num(params, "quality", 1, 0.25, 4))
    version = _num(params, "version", 6.1, 1, 9)
    key = "{}\x1e{}".format(" ".join(text.split()), int(seed))
    return _Look(
        key=key,
        words=tuple(words),
        colours=tuple(colours),
        named=named,
        banned=tuple(sorted(banned)),
        motifs=tuple(motifs),
        stylize=stylize,
        chaos=_num(params, "chaos", 0, 0, 100) / 100.0,
        weird=_num(params, "weird", 0, 0, 3000) / 3000.0,
        tile=bool(params.get("tile")),
        quality=quality,
        niji=niji,
        raw=raw,
        version=version,
        stop=_num(params, "stop", 100, 10, 100) / 100.0,
        pastel=style == "cute",
    )


@dataclass
class _Palette:
    sky_top: Arr
    sky_bottom: Arr
    ground: Arr
    mains: list[Arr]
    accent: Arr


def _palette(look: _Look, st: _Stream) -> _Palette:
    jitter = st.u() - 0.5
    role = float(st.choice(1)[0])
    scheme = st.pick(4)
    spin = st.u()
    sats = st.uniform(4)
    vals = st.uniform(4)
    cols = list(look.colours)
    if not cols:
        base = spin
        offsets = [(0.0, 0.08, -0.08), (0.0, 0.5, 0.08), (0.0, 0.333, 0.667), (0.0, 0.58, 0.42)]
        cols = [
            _from_hsv(base + off, 0.45 + 0.4 * float(sats[i]), 0.5 + 0.45 * float(vals[i]))
            for i, off in enumerate(offsets[scheme])
        ]
        named = False
    else:
        named = True
        turn = jitter * (0.07 if look.named else 0.12)
        cols = [_rotate(c, turn) for c in cols]
    if named and len(cols) > 1 and role > 1.0 - 0.5 * look.chaos:
        cols = cols[1:] + cols[:1]  # at high chaos another named colour may lead
    c0 = cols[0]
    c1 = cols[1] if len(cols) > 1 else _rotate(c0, 0.04)
    if not named:
        return _Palette(
            sky_top=_tint(c0, 0.35),
            sky_bottom=_tint(c1, 0.1),
            ground=_shade(cols[2], 0.3),
            mains=[c0, c1, cols[2], _shade(c0, 0.35)],
            accent=cols[3] if len(cols) > 3 else _complement(c0),
        )
    achromatic = all(_hsv(c)[1] < 0.15 for c in cols)
    accent = cols[-1] if len(cols) >= 3 else (_complement(c0) if not achromatic else c1)
    second = cols[1] if len(cols) > 1 else _shade(c0, 0.3)
    return _Palette(
        sky_top=_tint(c0, 0.3),
        sky_bottom=_mixc(c0, second, 0.3),
        ground=_shade(second if len(cols) > 1 else c0, 0.35),
        mains=[c0, c1, _tint(c0, 0.25), _shade(second, 0.2)],
        accent=accent,
    )


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


# ---------------------------------------------------------------------------- scenes


@dataclass
class _Scene:
    look: _Look
    cv: _Canvas
    pal: _Palette
    layout: _Stream
    orn: _Stream
    odd: _Stream
    tex: _Stream
    horizon: float = 0.0
    focus: tuple[float, float] = (0.5, 0.3)

    @property
    def detail(self) -> float:
        return float(2.0 ** (self.look.quality * 0.5))


def _streams(look: _Look, label: str, index: int, variation: tuple[int, float] | None) -> _Stream:
    c = 0.07 + 0.93 * look.chaos
    cd = max(0.0, look.chaos - 0.3) / 0.7  # below chaos 30 the tiles make the same choices
    gens = [_gen(look.key, label), _gen(look.key, label, index)]
    weights, discrete = [1.0 - c, c], [1.0 - cd, cd]
    if variation is not None:
        j, strength = variation
        sd = max(0.0, strength - 0.3) / 0.7
        gens.append(_gen(look.key, label, index, "v", j))
        weights = [w * (1.0 - strength) for w in weights] + [strength]
        discrete = [w * (1.0 - sd) for w in discrete] + [sd]
    return _Stream(gens, weights, discrete)


def _background(sc: _Scene) -> None:
    cv, pal, st = sc.cv, sc.pal, sc.layout
    kind = st.pick(10)
    horizon = cv.H * st.between(0.42, 0.72)
    cloud = _noise(sc.tex, cv.rw, cv.rh, 5, max(2, round(5 * cv.H / cv.W)))
    landscape = kind < 6 or bool(LANDSCAPE_MOTIFS & set(sc.look.motifs))
    y = cv.y[:, :, None]  # (rh, 1, 1): most backgrounds change along y only
    if cv.wrap:
        t = 0.5 - 0.5 * np.cos(2 * np.pi * cv.y / cv.H)
        t = (0.6 * t + 0.4 * cloud)[..., None]
        img = pal.sky_top + (pal.sky_bottom - pal.sky_top) * t
        sc.horizon = cv.H
    elif landscape:
        sky = pal.sky_top + (pal.sky_bottom - pal.sky_top) * np.clip(y / horizon, 0, 1)
        g_t = np.clip((y - horizon) / max(1e-6, cv.H - horizon), 0, 1)
        ground = pal.ground + (_shade(pal.ground, 0.35) - pal.ground) * g_t
        img = sky + (ground - sky) * _aa(y - horizon, cv.s)
        sc.horizon = horizon
    else:
        fx, fy = cv.W * st.u(), cv.H * st.between(0.2, 0.8)
        if kind < 8:
            d = np.sqrt((cv.x - fx) ** 2 + (cv.y - fy) ** 2) / math.hypot(cv.W, cv.H)
        else:
            ang = st.between(0, math.pi)
            d = ((cv.x * math.cos(ang) + cv.y * math.sin(ang)) / (cv.W + cv.H)) + 0.5
        t = np.clip(d * 1.6, 0, 1)
        img = pal.sky_top + (pal.sky_bottom - pal.sky_top) * t[..., None]
        sc.horizon = cv.H * 1.2
        sc.focus = (fx, fy)
    amp = 0.0 if sc.look.niji else 0.22 * sc.look.stylize
    np.multiply(img, (1.0 + amp * (cloud - 0.5))[..., None], out=cv.img)


def _pattern_fill(
    colour: Arr, other: Arr, kind: int, freq: float, angle: float, amp: float
) -> Fill:
    ca, sa = math.cos(angle), math.sin(angle)

    def fill(dx: Arr, dy: Arr, region: Arr) -> Arr:
        if kind == 0:
            m = np.clip(np.sin((dx * ca + dy * sa) * freq) * 3 + 0.5, 0, 1)
        elif kind == 1:
            m = np.clip(np.sin(np.sqrt(dx * dx + dy * dy) * freq) * 3 + 0.5, 0, 1)
        elif kind == 2:
            m = np.clip(np.sin(dx * freq) * np.sin(dy * freq) * 4 + 0.5, 0, 1)
        else:
            gx = (dx * freq / (2 * np.pi)) % 1.0 - 0.5
            gy = (dy * freq / (2 * np.pi)) % 1.0 - 0.5
            m = np.clip((0.3 - np.sqrt(gx * gx + gy * gy)) * 12, 0, 1)
        m = m * amp
        return colour + (other - colour) * m[..., None]

    return fill


def _shapes(sc: _Scene) -> None:
    """Generic abstract shapes; stylize adds more, smaller and patterned ones."""
    cv, pal, st, orn, ts = sc.cv, sc.pal, sc.layout, sc.orn, sc.look.stylize
    total = 24
    n = 3 + round(19 * ts * (0.85 + 0.15 * sc.detail))
    xs, ys = st.uniform(total), st.uniform(total)
    kinds, sizes, angles = st.choice(total), st.uniform(total), st.uniform(total)
    cols, opac = st.choice(total), st.uniform(total)
    pat, pkind, rims = orn.choice(total), orn.choice(total), orn.choice(total)
    pfreq, pang = orn.uniform(total), orn.uniform(total)
    palette = [*pal.mains, pal.accent]
    top = sc.horizon if sc.look.motifs and not cv.wrap else cv.H
    for i in range(min(n, total)):
        r = (0.3 * 0.86**i + 0.03) * (0.6 + 0.8 * float(sizes[i]))
        cx = float(xs[i]) * cv.W
        cy = float(ys[i]) * top
        colour = palette[min(4, int(float(cols[i]) * (4.6 if i > 2 else 3)))]
        kind = int(float(kinds[i]) * 5)
        ang = float(angles[i]) * math.pi
        fill: Fill | Arr = colour
        if float(pat[i]) < ts * 1.15 and i > 0:
            other = _tint(colour, 0.6) if _hsv(colour)[2] < 0.6 else _shade(colour, 0.5)
            fill = _pattern_fill(
                colour,
                other,
                int(float(pkind[i]) * 4),
                (55 + 90 * float(pfreq[i])) * sc.detail,
                float(pang[i]) * math.pi,
                0.35 + 0.5 * ts,
            )
        alpha: Alpha
        if kind == 0:
            alpha, ext = _disc(r, cv.s), (r, r)
        elif kind == 1:
            alpha, ext = _ring(r * 0.8, r * 0.35, cv.s), (r, r)
        elif kind == 2:
            alpha, ext = _box(r, r * 0.6, ang, cv.s), (r * 1.2, r * 1.2)
        elif kind == 3:
            alpha, ext = _ellipse(r * 1.3, r * 0.55, ang, cv.s), (r * 1.3, r * 1.3)
        else:
            alpha, ext = _triangle(r, r * 1.6, cv.s), (r, r * 1.6)
            cy += r * 0.6
        cv.draw(cx, cy, ext, alpha, fill, 0.75 + 0.25 * float(opac[i]))
        if float(rims[i]) < ts * 0.9 and kind in (0, 1, 3):
            rim = _tint(pal.accent, 0.35)
            width = 0.006 + 0.012 * ts
            ring = _ring(r * (1.3 if kind == 3 else 1.0) + width, width, cv.s)
            e = r * 1.35 + 2 * width
            cv.draw(cx, cy, (e, e), ring, rim, 0.9)


def _motif_sun(sc: _Scene, moon: bool) -> None:
    cv, st = sc.cv, sc.layout
    r = st.between(0.07, 0.13)
    cx = cv.W * st.between(0.15, 0.85)
    cy = (sc.horizon if not cv.wrap else cv.H) * st.between(0.2, 0.55)
    base = sc.pal.mains[0]
    colour = _tint(base, 0.82 if moon else 0.5)
    glow = 2.6 * r
    cv.draw(cx, cy, (glow, glow), _disc(glow, cv.s * 0.08), _tint(base, 0.6), 0.25)
    if moon:
        crescent = _disc(r, cv.s)
        bite = _disc(r * 0.85, cv.s)
        off = r * 0.45

        def alpha(dx: Arr, dy: Arr) -> Arr:
            return crescent(dx, dy) * (1.0 - bite(dx - off, dy + off * 0.4))

        cv.draw(cx, cy, (r, r), alpha, colour)
    else:
        cv.draw(cx, cy, (r, r), _disc(r, cv.s), colour)
    sc.focus = (cx, cy)


def _motif_mountain(sc: _Scene) -> None:
    cv, st, pal = sc.cv, sc.layout, sc.pal
    snow = "snow" in sc.look.motifs
    for i in range(3):
        half = st.between(0.22, 0.45) * (1.0 - 0.2 * i)
        height = st.between(0.18, 0.36) * (1.0 - 0.15 * i)
        cx = cv.W * st.u()
        colour = _mixc(_shade(pal.mains[i % 2], 0.25 + 0.12 * i), pal.sky_bottom, 0.4 - 0.15 * i)
        if cv.wrap:
            base_y = cv.H * st.u()
            half, height = half * 0.5, height * 0.5
        else:
            base_y = sc.horizon + 0.02
        cv.draw(cx, base_y - height / 2, (half, height), _triangle(half, height, cv.s), colour)
        if snow or sc.look.stylize > 0.5:
            cap_h = height * 0.3
            cap = _triangle(half * 0.3, cap_h, cv.s)
            peak = base_y - height
            cv.draw(cx, peak + cap_h, (half * 0.3, cap_h), cap, _tint(colour, 0.75))


def _motif_water(sc: _Scene) -> None:
    cv, st, pal = sc.cv, sc.layout, sc.pal
    base = pal.mains[1]
    y0 = sc.horizon if not cv.wrap else 0.0
    bands = 5
    phase, freq = st.between(0, 6.28), st.between(14, 26)
    if cv.wrap:
        freq = 2 * math.pi * max(1, round(freq * cv.W / (2 * math.pi))) / cv.W
    span = (cv.H - y0) if not cv.wrap else cv.H
    for i in range(bands):
        top = y0 + span * (i / bands) * (0.9 if not cv.wrap else 1.0)
        amp = 0.008 + 0.012 * i / bands
        colour = _mixc(_tint(base, 0.25), _shade(base, 0.45), i / bands)
        if cv.wrap:
            wave_y = top + amp * np.sin(cv.x * freq + phase)
            period = cv.H / bands
            d = (cv.y - wave_y) % period
            a = _aa(np.minimum(d, period * 0.5 - d), cv.s) * (d < period * 0.5)
            cv.img += (colour - cv.img) * a[..., None]
            return
        r0 = max(0, math.floor((top - amp) * cv.s) - 1)
        r1 = min(cv.rh, math.ceil((top + amp) * cv.s) + 1)
        wave_y = top + amp * np.sin(cv.x * freq * (1 + 0.2 * i) + phase + i)
        a = _aa(cv.y[r0:r1] - wave_y, cv.s)
        region = cv.img[r0:r1]
        region += (colour - region) * a[..., None]
        cv.img[r1:] = colour


def _motif_city(sc: _Scene) -> None:
    cv, st, pal = sc.cv, sc.layout, sc.pal
    count = 9
    widths, heights, xs = st.uniform(count), st.uniform(count), st.uniform(count)
    lit = _tint(pal.accent, 0.55)
    for i in range(count):
        hw = 0.02 + 0.035 * float(widths[i])
        hh = 0.06 + 0.16 * float(heights[i])
        cx = cv.W * (i + 0.3 + 0.4 * float(xs[i])) / count
        base = sc.horizon + 0.03 if not cv.wrap else cv.H * float(xs[i])
        body = _shade(pal.mains[i % 3], 0.55)

        def windows(dx: Arr, dy: Arr, region: Arr, body: Arr = body, hw: float = hw) -> Arr:
            wx = ((dx + hw) * 55) % 1.0 < 0.45
            wy = (dy * 40) % 1.0 < 0.5
            m = (wx & wy).astype(F32)[..., None]
            return body + (lit - body) * m * 0.85

        cv.draw(cx, base - hh, (hw, hh), _box(hw, hh, 0.0, cv.s), windows)


def _motif_tree(sc: _Scene) -> None:
    cv, st, pal = sc.cv, sc.layout, sc.pal
    for _ in range(3):
        k = st.between(0.6, 1.2)
        cx = cv.W * st.u()
        base = sc.horizon + 0.02 if not cv.wrap else cv.H * st.u()
        trunk_h = 0.09 * k
        trunk = _box(0.012 * k, trunk_h, 0, cv.s)
        cv.draw(cx, base - trunk_h, (0.02 * k, trunk_h), trunk, _shade(pal.mains[1], 0.6))
        crown = 0.08 * k
        leaf = _shade(pal.mains[0], 0.2)
        cv.draw(cx, base - 2 * trunk_h - crown * 0.3, (crown, crown), _disc(crown, cv.s), leaf)


def _motif_flower(sc: _Scene) -> None:
    cv, st, pal = sc.cv, sc.layout, sc.pal
    for _ in range(3):
        r = st.between(0.025, 0.05)
        cx = cv.W * st.u()
        cy = (sc.horizon + (cv.H - sc.horizon) * st.u()) if not cv.wrap else cv.H * st.u()
        parts = [
            (1.1 * r * math.cos(a), 1.1 * r * math.sin(a), _disc(r * 0.7, cv.s))
            for a in np.linspace(0, 2 * math.pi, 6, endpoint=False)
        ]
        cv.draw(cx, cy, (2 * r, 2 * r), _union(*parts), pal.accent)
        cv.draw(cx, cy, (r, r), _disc(r * 0.5, cv.s), _tint(pal.mains[0], 0.5))


def _motif_animal(sc: _Scene) -> None:
    cv, st, pal = sc.cv, sc.layout, sc.pal
    k = st.between(0.55, 0.8) * min(1.0, 1.3 * min(cv.W, cv.H))
    cx = cv.W * st.between(0.3, 0.7)
    cy = sc.horizon + 0.0 * k if not cv.wrap else cv.H * st.u()
    if not cv.wrap:
        cy = min(cy, cv.H - 0.2 * k)
    facing = st.pick(2) - 0.5
    behind = float(_lum(np.stack([pal.ground, pal.sky_bottom])).mean())
    colour = _shade(pal.mains[0], 0.6) if behind > 0.42 else _tint(pal.mains[0], 0.5)
    alpha = _animal(k, facing, cv.s)
    cv.draw(cx, cy, (0.42 * k, 0.25 * k), alpha, colour)


def _motif_dots(sc: _Scene, snow: bool) -> None:
    cv, st = sc.cv, sc.tex
    n = 70 if snow else 45
    xs, ys, rs = st.uniform(n), st.uniform(n), st.uniform(n)
    bottom = cv.H if (snow or cv.wrap) else sc.horizon
    colour = np.array([0.97, 0.97, 0.97], F32) if snow else _tint(sc.pal.mains[0], 0.85)
    for i in range(n):
        r = (0.004 + 0.008 * float(rs[i])) * (1.3 if snow else 1.0)
        cv.draw(float(xs[i]) * cv.W, float(ys[i]) * bottom, (r, r), _disc(r, cv.s), colour, 0.9)


#: motif -> painter, in the order they are painted (snow falls over everything)
_MOTIF_PAINTERS: dict[str, Callable[[_Scene], None]] = {
    "stars": partial(_motif_dots, snow=False),
    "sun": partial(_motif_sun, moon=False),
    "moon": partial(_motif_sun, moon=True),
    "mountain": _motif_mountain,
    "water": _motif_water,
    "city": _motif_city,
    "tree": _motif_tree,
    "flower": _motif_flower,
    "animal": _motif_animal,
    "snow": partial(_motif_dots, snow=True),
}


def _motifs(sc: _Scene) -> None:
    for motif, paint in _MOTIF_PAINTERS.items():
        if motif in sc.look.motifs:
            paint(sc)


def _ornaments(sc: _Scene) -> None:
    """Stylize's artistic layers: filigree lines, brush streaks, sparkles."""
    cv, st, ts, pal = sc.cv, sc.orn, sc.look.stylize, sc.pal
    f1, f2 = st.between(30, 60) * sc.detail, st.between(4, 10)
    a1, a2, ph = st.between(0, math.pi), st.between(0, math.pi), st.between(0, 6.28)
    horizontal = st.pick(2) == 0
    if cv.wrap:  # whole cycles across the tile keep the filigree seamless
        f1 = 2 * math.pi * max(1, round(f1 * cv.W / (2 * math.pi))) / cv.W
        f2 = 2 * math.pi * max(1, round(f2 * cv.W / (2 * math.pi))) / cv.W
        a1 = a2 = 0.0
    if ts > 0.05:
        u1 = cv.x * math.cos(a1) + cv.y * math.sin(a1)
        u2 = cv.x * math.cos(a2) + cv.y * math.sin(a2)
        v = np.sin(f1 * u1 + 2.2 * np.sin(f2 * u2 + ph))
        lines = np.clip(1.0 - np.abs(v) * (7.0 + 6 * sc.detail), 0, 1) * (0.55 * ts**1.3)
        gold = _tint(pal.accent, 0.45)
        cv.img += (gold - cv.img) * lines[..., None]
        cells = (4, 70) if horizontal else (70, 4)
        streak = _noise(sc.tex, cv.rw, cv.rh, *cells) - 0.5
        cv.img *= 1.0 + (0.3 * ts) * streak[..., None]
    count = 40
    xs, ys, rs, cs = st.uniform(count), st.uniform(count), st.uniform(count), st.choice(count)
    n = min(count, round(32 * ts**1.2 * sc.detail))
    for i in range(n):
        r = 0.006 + 0.016 * float(rs[i])
        colour = _tint(pal.accent if float(cs[i]) < 0.5 else pal.mains[0], 0.7)
        plus = _union((0, 0, _box(r, r * 0.18, 0.0, cv.s)), (0, 0, _box(r * 0.18, r, 0.0, cv.s)))
        cv.draw(float(xs[i]) * cv.W, float(ys[i]) * cv.H, (r, r), plus, colour)


def _weird(sc: _Scene) -> None:
    """Unexpected elements: eyeballs, inverted patches, neon accents, then a warp."""
    cv, st, tw = sc.cv, sc.odd, sc.look.weird
    if tw <= 0:
        return
    count = 8
    xs, ys, rs, hs = st.uniform(count), st.uniform(count), st.uniform(count), st.uniform(count)
    inv_x, inv_y, inv_r, inv_k = st.uniform(4), st.uniform(4), st.uniform(4), st.choice(4)
    neon_x, neon_y, neon_r = st.uniform(6), st.uniform(6), st.uniform(6)
    # inverted patches and channel-rotated (neon) blobs
    for i in range(min(4, math.floor(4 * tw + 0.5))):
        r = 0.12 + 0.18 * float(inv_r[i])
        cx, cy = float(inv_x[i]) * cv.W, float(inv_y[i]) * cv.H
        alpha = _disc(r, cv.s) if inv_k[i] < 0.5 else _box(r, r * 0.45, float(inv_k[i]) * 3, cv.s)
        cv.draw(cx, cy, (r, r), alpha, lambda dx, dy, region: 1.0 - region, 0.95)
    for i in range(min(6, math.floor(6 * tw))):
        r = 0.06 + 0.1 * float(neon_r[i])
        cx, cy = float(neon_x[i]) * cv.W, float(neon_y[i]) * cv.H
        cv.draw(cx, cy, (r, r), _disc(r, cv.s * 0.15), lambda dx, dy, reg: reg[..., [1, 2, 0]])
    for i in range(min(count, math.ceil(7 * tw))):
        r = (0.035 + 0.06 * float(rs[i])) * (0.7 + 0.6 * tw)
        cx, cy = float(xs[i]) * cv.W, float(ys[i]) * cv.H
        iris = _from_hsv(float(hs[i]), 0.9, 0.85)
        white = np.array([0.97, 0.96, 0.93], F32)
        cv.draw(cx, cy, (r * 1.1, r), _ellipse(r * 1.1, r * 0.78, 0.0, cv.s), white)
        cv.draw(cx, cy, (r * 1.2, r), _ring(r * 0.95, r * 0.12, cv.s), np.zeros(3, F32), 0.8)
        cv.draw(cx, cy, (r, r), _disc(r * 0.5, cv.s), iris)
        cv.draw(cx, cy, (r, r), _disc(r * 0.24, cv.s), np.zeros(3, F32))
        hx, hy = cx - r * 0.15, cy - r * 0.17
        cv.draw(hx, hy, (r, r), _disc(r * 0.09, cv.s), white)
    # warp: smooth displacement, whole cycles across the tile so --tile stays seamless
    amp = 0.055 * tw**0.8 * cv.s
    kx, ky = 1 + st.pick(3), 1 + st.pick(3)
    pa, pb = st.between(0, 6.28), st.between(0, 6.28)
    xn, yn = cv.x / cv.W, cv.y / cv.H
    dx = amp * np.sin(2 * np.pi * ky * yn + 1.3 * np.sin(2 * np.pi * kx * xn + pa))
    dy = amp * np.sin(2 * np.pi * kx * xn + 1.3 * np.sin(2 * np.pi * ky * yn + pb))
    sx = np.rint(np.arange(cv.rw)[None, :] + dx).astype(np.int64)
    sy = np.rint(np.arange(cv.rh)[:, None] + dy).astype(np.int64)
    if cv.wrap:
        sx, sy = sx % cv.rw, sy % cv.rh
    else:
        sx, sy = np.clip(sx, 0, cv.rw - 1), np.clip(sy, 0, cv.rh - 1)
    cv.img = cv.img[sy, sx]


def _niji(img: Arr, light: Arr, wrap: bool) -> Arr:
    """Cel shading: flat colour, one hard-edged shadow band, dark outlines around shapes."""
    img = _blur(img, 1, wrap)
    shadow = np.where(light < 0.42, 0.78, 1.0).astype(F32)
    flat = img * shadow[..., None]
    lum = _lum(img)
    step = np.floor(lum * 6.0)
    edge = np.zeros(lum.shape, bool)
    for axis in (0, 1):
        colour_jump = np.abs(img - np.roll(img, 1, axis=axis)).sum(-1) > 0.16
        edge |= colour_jump & (step != np.roll(step, 1, axis=axis))
    if not wrap:
        edge[0, :] = False
        edge[:, 0] = False
    edge |= np.roll(edge, 1, axis=1) | np.roll(edge, 1, axis=0)
    ink = np.array([0.1, 0.08, 0.14], F32)
    return np.where(edge[..., None], ink, flat)


def _finish(sc: _Scene) -> Arr:
    """Lighting, colour, quality, stop and --no applied to the painted canvas."""
    look, cv, ts = sc.look, sc.cv, sc.look.stylize
    img: Arr = cv.img
    if not cv.wrap and ts > 0 and not look.niji:
        fx, fy = sc.focus
        glow = np.exp(((cv.x - fx) ** 2 + (cv.y - fy) ** 2) * (-1 / 0.12)) * (0.35 * ts)
        r2 = ((cv.x / cv.W - 0.5) ** 2 + (cv.y / cv.H - 0.5) ** 2) * 2
        dim = 1.0 - 0.5 * ts * r2
        warm = _tint(sc.pal.accent, 0.6)
        img = (img + (warm - img) * glow[..., None]) * dim[..., None]
    if look.niji:
        img = _niji(img, _noise(sc.tex, cv.rw, cv.rh, 3, 3), cv.wrap)
    saturation = (0.58 + 0.7 * ts) * (1.15 if look.niji else 1.0)
    contrast = 0.92 + 0.2 * ts + (0.08 if look.version >= 7 else 0.0)
    # saturation around the luminance, then contrast around mid-grey, in two passes
    img = (contrast * saturation) * img + (contrast * (1 - saturation)) * _lum(img)[..., None]
    img += 0.5 * (1 - contrast)
    if look.version < 6:
        img = _blur(img, 1, cv.wrap) * np.array([1.03, 1.0, 0.95], F32)
    if look.pastel:
        img = _tint(img, 0.15)
    if look.quality < 0:
        img = _blur(img, round(-look.quality * 1.5), cv.wrap)
    elif look.quality > 0:
        grain = _noise(sc.tex, cv.rw, cv.rh, cv.rw // 3, cv.rh // 3) - 0.5
        img = img * (1.0 + 0.12 * look.quality * grain[..., None])
    if look.stop < 1.0:
        f = (1.0 - look.stop) / 0.9
        img = _blur(img, round(f * 0.045 * max(cv.rw, cv.rh)), cv.wrap)
        grain = _noise(sc.tex, cv.rw, cv.rh, cv.rw // 3, cv.rh // 3) - 0.5
        mean = img.mean(axis=(0, 1), keepdims=True)
        img = mean + (img - mean) * (1.0 - 0.45 * f) + (0.22 * f) * grain[..., None]
    np.clip(img, 0.0, 1.0, out=img)
    if look.banned:
        img = _exclude(img, look.banned)
    return np.asarray(img, F32)


def _exclude(img: Arr, banned: Sequence[str]) -> Arr:
    """Turn every hue near a banned colour away from it; lift or tint banned neutrals."""
    h, s, v = _rgb_to_hsv(img)
    for name in banned:
        c = _rgb(name)
        hb, sb, vb = _hsv(c)
        if sb >= 0.15 and vb >= 0.2:
            diff = (h - hb + 0.5) % 1.0 - 0.5
            dist = np.abs(diff)
            near, keep = 0.2, 0.11
            moved = keep + (near - keep) * dist / near
            side = np.where(diff >= 0, 1.0, -1.0)
            hit = (dist < near) & (s > 0.12) & (v > 0.1)
            h = np.where(hit, (hb + side * moved) % 1.0, h)
        elif vb < 0.2:
            v = np.maximum(v, 0.32)
        elif vb > 0.85:
            hit = (s < 0.25) & (v > 0.75)
            s = np.where(hit, np.maximum(s, 0.35), s)
            v = np.where(hit, v * 0.85, v)
        else:
            hit = (s < 0.2) & (v > 0.25) & (v < 0.8)
            s = np.where(hit, 0.45, s)
    return _hsv_to_rgb(h, s, v)


def _to_image(arr: Arr, size: tuple[int, int], wrap: bool) -> Image.Image:
    data = (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    rh, rw = data.shape[:2]
    if (rw, rh) == size:
        return Image.fromarray(data, "RGB")
    if wrap:
        pad = 3
        padded = np.pad(data, ((pad, pad), (pad, pad), (0, 0)), mode="wrap")
        box = (pad, pad, pad + rw, pad + rh)
        return Image.fromarray(padded, "RGB").resize(size, Image.Resampling.BICUBIC, box=box)
    return Image.fromarray(data, "RGB").resize(size, Image.Resampling.BICUBIC)


def _render_size(size: tuple[int, int], quality: float) -> tuple[int, int]:
    w, h = size
    target = round(RENDER_LONG * 2.0 ** (quality * 0.2))
    long = max(w, h)
    if long <= target:
        return w, h
    scale = target / long
    return max(2, round(w * scale)), max(2, round(h * scale))


def _paint(
    look: _Look, index: int, size: tuple[int, int], variation: tuple[int, float] | None = None
) -> Image.Image:
    if size[0] < 1 or size[1] < 1:
        raise ValueError(f"a tile needs a positive size, got {size}; pass (width, height).")
    rw, rh = _render_size(size, look.quality)
    cv = _Canvas(rw, rh, look.tile)
    layout = _streams(look, "layout", index, variation)
    sc = _Scene(
        look=look,
        cv=cv,
        pal=_palette(look, _streams(look, "palette", index, variation)),
        layout=layout,
        orn=_streams(look, "ornament", index, variation),
        odd=_streams(look, "weird", index, variation),
        tex=_streams(look, "texture", index, variation),
    )
    _background(sc)
    _shapes(sc)
    _motifs(sc)
    _ornaments(sc)
    _weird(sc)
    return _to_image(_finish(sc), size, look.tile)


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


# ---------------------------------------------------------------------------- describe

DESCRIBE_COLOURS = (
    "red", "orange", "yellow", "green", "teal", "cyan", "blue", "navy", "purple", "pink",
    "magenta", "brown", "black", "white", "gray", "gold", "beige", "lime", "maroon", "olive",
)  # fmt: skip
COMMON_RATIOS = ("1:1", "3:2", "2:3", "4:3", "3:4", "16:9", "9:16", "2:1", "1:2", "8:3", "3:8")


def _colour_name(h: float, s: float, v: float) -> str:
    """The everyday name of one HSV colour (h in turns)."""
    deg = h * 360.0
    if v < 0.18:
        return "black"
    if s < 0.16:
        return "white" if v > 0.85 else "gray"
    if deg < 14 or deg >= 345:
        return "maroon" if v < 0.4 else "pink" if s < 0.45 and v > 0.75 else "red"
    if deg < 40:
        return "brown" if v < 0.55 else "beige" if s < 0.35 else "orange"
    if deg < 65:
        return "olive" if v < 0.5 else "gold" if s < 0.75 and deg < 52 else "yellow"
    if deg < 85:
        return "lime"
    if deg < 165:
        return "green"
    if deg < 195:
        return "teal" if v < 0.65 else "cyan"
    if deg < 255:
        return "navy" if v < 0.4 else "blue"
    if deg < 290:
        return "purple"
    if deg < 320:
        return "magenta"
    return "pink"


def _colour_names(arr: Arr, count: int) -> list[str]:
    """The ``count`` most common colour names among the pixels, most common first."""
    h, s, v = _rgb_to_hsv(arr.reshape(-1, 3))
    votes: dict[str, int] = {}
    for hh, ss, vv in zip(np.round(h, 2), np.round(s, 1), np.round(v, 1), strict=True):
        name = _colour_name(float(hh), float(ss), float(vv))
        votes[name] = votes.get(name, 0) + 1
    ranked = sorted(votes, key=lambda n: (-votes[n], DESCRIBE_COLOURS.index(n)))
    while len(ranked) < count:  # a flat image: fill with neighbours of its one colour
        ranked.append(next(n for n in ("gray", "white", "black", "blue") if n not in ranked))
    return ranked[:count]


def _aspect(w: int, h: int) -> str:
    g = math.gcd(w, h)
    a, b = w // g, h // g
    if max(a, b) <= 16:
        return f"{a}:{b}"
    ratio = w / h

    def off(r: str) -> float:
        x, y = r.split(":")
        return abs(math.log(ratio * int(y) / int(x)))

    return min(COMMON_RATIOS, key=off)


def describe(image: Image.Image) -> list[str]:
    """/describe: four prompt suggestions from the image's colours, light and shape."""
    arr = _array(image.convert("RGB").resize((48, 48), Image.Resampling.BOX))
    c1, c2, c3 = _colour_names(arr, 3)
    lum = float(_lum(arr).mean())
    _, sat, _ = _rgb_to_hsv(arr)
    light = "bright" if lum > 0.62 else "dark" if lum < 0.35 else "softly lit"
    vivid = "vivid" if float(sat.mean()) > 0.45 else "muted" if float(sat.mean()) < 0.2 else "warm"
    top, bottom = float(_lum(arr[:24]).mean()), float(_lum(arr[24:]).mean())
    scene = "landscape" if abs(top - bottom) > 0.08 else "composition"
    ar = _aspect(image.width, image.height)
    return [
        f"a {vivid} {c1} and {c2} abstract {scene} --ar {ar}",
        f"{light} {c1} shapes over a {c2} background, minimalist poster --ar {ar}",
        f"a dreamlike {c1} scene with {c3} accents, digital painting --ar {ar}",
        f"{c2}, {c1} and {c3} geometric {scene}, flat illustration, {light} --ar {ar}",
    ]


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


# ---------------------------------------------------------------------------- contact sheet


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType
        return ImageFont.load_default()


def _fit_cell(image: Image.Image, cell: int) -> Image.Image:
    scale = cell / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def contact_sheet(cell: int = 220) -> Image.Image:
    """A labelled sheet showing how every parameter and action changes the picture."""
    fox = "a fox by the sea at sunset"
    side = 2 * cell

    def grid(text: str, seed: int = 7, **params: Any) -> Image.Image:
        return paint_grid(text, params, seed, long_side=side)

    base = grid(fox)
    up = upscale(base, 2)
    wide = upscale(grid(fox, ar="16:9"), 1)
    tile = paint_tile("blue flowers", {"tile": True}, 7, 1, (cell // 2, cell // 2))
    colours = ("red poppies", "teal and gold", "light pink and navy", "black and white")
    motifs = ("sun over mountains", "moon and stars", "a cat in a forest", "city in snow")
    rows: list[tuple[str, list[tuple[str, Image.Image]]]] = [
        ("stylize", [(f"--s {s}", grid(fox, stylize=s)) for s in (0, 100, 250, 1000)]),
        ("chaos", [(f"--c {c}", grid(fox, chaos=c)) for c in (0, 25, 50, 100)]),
        ("weird", [(f"--w {w}", grid(fox, weird=w)) for w in (0, 250, 1000, 3000)]),
        ("colours", [(t, grid(t)) for t in colours]),
        (
            "--no",
            [
                ("a red fox", grid("a red fox")),
                ("a red fox --no red", grid("a red fox", no=["red"])),
                ("a sunset", grid("a sunset")),
                ("a sunset --no orange", grid("a sunset", no=["orange"])),
            ],
        ),
        (
            "--ar",
            [(f"--ar {a}", grid("a city at night", ar=a)) for a in ("1:1", "16:9", "9:16", "8:3")],
        ),
        ("seed", [(f"--seed {s}", grid("an abstract dream", seed=s)) for s in (1, 2, 3, 4)]),
        (
            "quality/stop",
            [
                ("--q .25", grid(fox, quality=0.25)),
                ("--q 2", grid(fox, quality=2)),
                ("--stop 30", grid(fox, stop=30)),
                ("--stop 60", grid(fox, stop=60)),
            ],
        ),
        (
            "niji/raw/tile/v5",
            [
                ("--niji 6", grid(fox, niji=6)),
                ("--style raw", grid(fox, style="raw")),
                ("--tile (one tile x4)", _compose([tile] * 4)),
                ("--v 5.2", grid(fox, version=5.2)),
            ],
        ),
        ("motifs", [(t, grid(t)) for t in motifs]),
        (
            "actions",
            [
                ("U2", up),
                ("V2", variation_grid(fox, {}, 7, 2, long_side=side)),
                ("vary strong", vary(up, "strong", 7, long_side=side)),
                ("zoom 2x", zoom_out(up, 2, 7, long_side=side)),
            ],
        ),
        (
            "actions",
            [
                ("pan right", pan(up, "right", 7, long_side=side)),
                ("square (of 16:9 U1)", make_square(wide, 7, long_side=side)),
                ("blend", blend([grid("red poppies"), grid("blue sea")], "landscape", 7, side)),
                ("preview 30%", preview(base, 30)),
            ],
        ),
    ]
    label_w, pad, text_h = 130, 10, 22
    cols = max(len(cells) for _, cells in rows)
    width = label_w + cols * (cell + pad) + pad
    height = len(rows) * (cell + text_h + pad) + pad
    sheet = Image.new("RGB", (width, height), (250, 250, 248))
    draw = ImageDraw.Draw(sheet)
    small, big = _font(14), _font(17)
    for r, (name, cells) in enumerate(rows):
        top = pad + r * (cell + text_h + pad)
        draw.text((pad, top + cell // 2), name, fill=(20, 20, 20), font=big)
        for c, (label, image) in enumerate(cells):
            left = label_w + c * (cell + pad)
            thumb = _fit_cell(image, cell)
            sheet.paste(thumb, (left + (cell - thumb.width) // 2, top + (cell - thumb.height) // 2))
            draw.text((left, top + cell + 3), label, fill=(40, 40, 40), font=small)
    return sheet


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mjnb.simulator.art demo OUT.png`` writes the contact sheet."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "demo":
        print("usage: python -m mjnb.simulator.art demo OUT.png", file=sys.stderr)
        return 2
    contact_sheet().save(args[1])
    print(args[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
