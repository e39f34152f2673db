"""Colour names, hints and motifs read from a prompt, the deterministic random
streams derived from its hash, picture sizes, and the "look" (palette, strength of
each effect) that the parameters give a picture."""

from __future__ import annotations

import colorsys
import hashlib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mjnb.prompt import PromptError

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
