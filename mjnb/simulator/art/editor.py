"""The editor's pictures: vary region, remix, edit and retexture.

What a class sees:
  vary_region  only the white part of the mask is repainted, with the new prompt's colours
               and motifs (a fresh scene from the prompt, lightly tied to the old colours);
               every pixel where the mask is black stays byte-identical.
  remix        the old composition (its light and dark structure, its edges) painted in the
               new prompt's colours, with the new prompt's motifs showing through.
  retexture    the old composition re-rendered as a banded, textured print whose tones come
               from the new prompt's palette: same layout, another style.
  edit         with a mask: vary_region; without: remix, but a little closer to the original.

Everything is deterministic from the image, the prompt (text and ``params``) and the seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image

from mjnb.simulator.art.actions import _array, _image, _image_palette
from mjnb.simulator.art.colours import F32, Arr, _gen, _look
from mjnb.simulator.art.draw import _blur, _lum
from mjnb.simulator.art.scene import _paint

__all__ = ["edit", "remix", "retexture", "vary_region"]


def _text(prompt: str | None) -> str:
    """The words of a prompt without its ``--`` parameters (those come in ``params``)."""
    text = str(prompt or "")
    cut = text.find(" --")
    if text.startswith("--"):
        cut = 0
    return (text if cut < 0 else text[:cut]).strip()


def _scene(
    image: Image.Image, prompt: str | None, seed: int, params: Mapping[str, Any] | None, label: str
) -> Arr:
    """A fresh scene painted from ``prompt`` at the image's size (as a float array)."""
    text = _text(prompt) or "untitled"
    look = _look(f"{text}\x1f{label}", dict(params or {}), int(seed))
    fresh = _array(_paint(look, 1, image.size))
    if look.colours:
        # lean toward the named colours (first = most) so the new prompt always shows
        named = look.colours[: max(1, look.named)]
        weights = np.array([0.5**i for i in range(len(named))], F32)
        target = (np.stack(named) * weights[:, None]).sum(axis=0) / weights.sum()
        fresh = fresh * 0.6 + target * 0.4
    return np.asarray(fresh)


def _mask_array(mask: Image.Image, size: tuple[int, int]) -> Image.Image:
    mask = mask.convert("L")
    if mask.size != size:
        raise ValueError(
            f"the mask is {mask.width}x{mask.height} but the image is {size[0]}x{size[1]}; "
            "they must be the same size."
        )
    return mask


def vary_region(
    image: Image.Image,
    mask: Image.Image,
    prompt: str | None,
    seed: int,
    params: Mapping[str, Any] | None = None,
) -> Image.Image:
    """Repaint the white part of ``mask`` (mode L, same size) from ``prompt``.

    Pixels where the mask is 0 are byte-identical to ``image``; grey mask values blend.
    """
    base = image.convert("RGB")
    m = _mask_array(mask, base.size)
    if not np.asarray(m).any():
        raise ValueError("the mask is empty: paint (white) the region to repaint.")
    fresh = _scene(base, prompt, seed, params, "region")
    old = _array(base)
    # mostly the new scene, with a trace of the old colours so the patch sits in the picture
    mean = old.mean(axis=(0, 1), keepdims=True)
    painted = _image(fresh * 0.85 + mean * 0.15)
    return Image.composite(painted, base, m)


def _transfer(old: Arr, fresh: Arr, keep: float) -> Arr:
    """Old luminance structure, fresh colours: ``keep`` 0..1 is how much of old shows."""
    l_old, l_new = _lum(old), _lum(fresh)
    # normalise the old structure to the fresh scene's tonal range
    span = max(1e-3, float(l_old.std()))
    gain = max(0.12, float(l_new.std())) / span
    target = float(l_new.mean()) + (l_old - float(l_old.mean())) * gain
    recoloured = fresh + (target - l_new)[..., None] * 0.9
    return np.asarray(np.clip(recoloured * (1.0 - keep) + old * keep, 0.0, 1.0))


def remix(
    image: Image.Image, prompt: str | None, seed: int, params: Mapping[str, Any] | None = None
) -> Image.Image:
    """The image's composition repainted in the new prompt's colours and motifs."""
    base = image.convert("RGB")
    fresh = _scene(base, prompt, seed, params, "remix")
    return _image(_transfer(_array(base), fresh, 0.2))


def retexture(
    image: Image.Image, prompt: str | None, seed: int, params: Mapping[str, Any] | None = None
) -> Image.Image:
    """Same layout, another style: tone bands mapped to the prompt's palette, plus grain."""
    base = image.convert("RGB")
    old = _array(base)
    fresh = _scene(base, prompt, seed, params, "retexture")
    colours = _image_palette(fresh, 5)
    while len(colours) < 2:
        colours.append(1.0 - colours[0])
    ramp = sorted(colours, key=lambda c: float(_lum(c[None, None, :])[0, 0]))
    lum = _lum(_blur(old, 1, False))
    lo, hi = float(np.percentile(lum, 2)), float(np.percentile(lum, 98))
    t = np.clip((lum - lo) / max(1e-3, hi - lo), 0.0, 1.0)
    bands = len(ramp)
    k = np.minimum((t * bands).astype(np.int64), bands - 1)
    table = np.stack(ramp).astype(F32)
    out = table[k]
    rng = _gen("retexture", int(seed), base.size)
    h, w = lum.shape
    grain = rng.standard_normal((h, w)).astype(F32)
    stripes = np.sin((np.arange(w, dtype=F32)[None, :] + np.arange(h, dtype=F32)[:, None]) * 0.9)
    out = out * (1.0 + (0.06 * grain + 0.05 * stripes)[..., None])
    # dark outlines where the old image had edges: the composition stays readable
    gy, gx = np.gradient(lum)
    edge = np.clip(np.hypot(gx, gy) * 6.0, 0.0, 1.0)[..., None]
    out = out * (1.0 - 0.7 * edge)
    return _image(np.clip(out, 0.0, 1.0))


def edit(
    image: Image.Image,
    prompt: str | None,
    seed: int,
    mask: Image.Image | None = None,
    params: Mapping[str, Any] | None = None,
) -> Image.Image:
    """/edits: with a mask, repaint the mask (vary_region); without, a gentle remix."""
    if mask is not None:
        return vary_region(image, mask, prompt, seed, params)
    base = image.convert("RGB")
    fresh = _scene(base, prompt, seed, params, "edit")
    return _image(_transfer(_array(base), fresh, 0.35))
