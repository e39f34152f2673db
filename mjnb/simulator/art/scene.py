"""A scene: background, shapes, motifs, ornaments and weirdness painted onto one tile
from a look and a random stream."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
from PIL import Image

from mjnb.simulator.art.colours import (
    F32,
    LANDSCAPE_MOTIFS,
    RENDER_LONG,
    Alpha,
    Arr,
    Fill,
    _from_hsv,
    _gen,
    _hsv,
    _Look,
    _mixc,
    _Palette,
    _palette,
    _rgb,
    _shade,
    _Stream,
    _tint,
)
from mjnb.simulator.art.draw import (
    _aa,
    _animal,
    _blur,
    _box,
    _Canvas,
    _disc,
    _ellipse,
    _hsv_to_rgb,
    _lum,
    _noise,
    _rgb_to_hsv,
    _ring,
    _triangle,
    _union,
)

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
