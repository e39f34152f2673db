"""What /describe answers: four prompts read from an image's colours and shape."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from mjnb.simulator.art.actions import _array
from mjnb.simulator.art.colours import Arr
from mjnb.simulator.art.draw import _lum, _rgb_to_hsv

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
