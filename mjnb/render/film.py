"""Filmstrips of a video sweep: a few frames of each cell's clip side by side, labelled.

Plain data in, a PIL image out, like :mod:`.grid`: each :class:`~.grid.CellView` that
has clips becomes a strip of ``frames`` evenly spaced stills of its first clip
(:func:`mjnb.video.filmstrip`), and the strips are laid out on the sweep's axes by
:func:`~.grid.render_grid`, so failed or unfinished cells stay placeholders and the
layout never shifts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mjnb.errors import InvalidArgument, MJError

from .grid import CellView, render_grid

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["render_filmstrips"]


def render_filmstrips(
    views: Sequence[CellView],
    axes: Mapping[str, Sequence[Any]],
    *,
    x: str | None = None,
    y: str | None = None,
    z: str | None = None,
    where: Mapping[str, Any] | None = None,
    frames: int = 4,
    height: int = 128,
) -> Image:
    """One labelled image: each cell's clip as ``frames`` stills ``height`` px tall.

    A cell without a clip (failed, running, never sent, an image cell) is a placeholder
    of a strip's size; a clip that cannot be read is one too, saying why.
    """
    from mjnb.video import filmstrip

    if isinstance(frames, bool) or not isinstance(frames, int) or not 1 <= frames <= 24:
        raise InvalidArgument(f"frames must be a whole number from 1 to 24, got {frames!r}.")
    if isinstance(height, bool) or not isinstance(height, int) or not 32 <= height <= 1024:
        raise InvalidArgument(f"height must be 32-1024 px, got {height!r}.")
    strips: list[CellView] = []
    for view in views:
        if not view.videos:
            strips.append(replace(view, image=None))
            continue
        try:
            strip = filmstrip(view.videos[0], frames, height=height, gap=max(2, height // 32))
        except MJError as exc:
            strips.append(replace(view, image=None, status="failed", error=str(exc)))
            continue
        # no "clip" badge: a strip of frames is plainly a clip
        strips.append(replace(view, image=strip, ar=f"{strip.width}:{strip.height}", videos=()))
    shaped = [v for v in strips if v.image is not None]
    if shaped:
        ar = shaped[0].ar
        width = max(v.image.width for v in shaped if v.image is not None)
    else:  # nothing to show yet: 16:9 frames
        width = frames * round(height * 16 / 9) + (frames + 1) * max(2, height // 32)
        ar = f"{width}:{height}"
    strips = [v if v.image is not None else replace(v, ar=ar) for v in strips]
    return render_grid(
        strips, axes, x=x, y=y, z=z, where=where, cell_size=width, label_size=max(160, 2 * height)
    )
