"""The labelled comparison grid of a sweep, and tasks side by side (``compare``).

Plain data in, a PIL image out: a sweep hands over one :class:`CellView` per cell, so
this module knows nothing of tasks, clients or the log. A cell without an image is a
placeholder of the same size that says why (failed, cancelled, running 40%, not
sent), so rows and columns never shift.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mjnb.errors import InvalidArgument, MJError

from .text import Style, fit, format_value, label, shorten, style, text_width, wrap

if TYPE_CHECKING:
    from PIL.Image import Image

    from mjnb.task import Task

__all__ = ["CellView", "choose_axes", "compare", "draw_cell", "render_grid"]

#: what a cell that was cancelled before it was sent says under its label
NEVER_SENT = "never sent: the sweep was cancelled"


@dataclass(frozen=True)
class CellView:
    """What one grid cell shows: an image, or a placeholder saying why there is none."""

    coords: Mapping[str, Any]
    image: Image | None = None
    status: str = "succeeded"
    progress: int = 0
    error: str | None = None
    ar: str = "1:1"
    caption: str | None = None
    #: a video cell's clips (local MP4 paths, in batch order); ``image`` is then the
    #: first clip's poster frame, and the grid marks the cell as a clip
    videos: tuple[Path, ...] = ()


def choose_axes(
    axes: Mapping[str, Sequence[Any]],
    x: str | None,
    y: str | None,
    z: str | None,
    where: Mapping[str, Any],
) -> tuple[str | None, str | None, str | None]:
    """Which axis goes across, down and panel by panel: the named ones, then the free
    ones in order (first y, then x, then z); more free axes need ``where``."""
    for name, role in ((x, "x"), (y, "y"), (z, "z")):
        if name is not None and name not in axes:
            raise InvalidArgument(
                f"{role}={name!r} is not an axis of this sweep; its axes are: "
                f"{', '.join(axes) or 'none'}."
            )
    chosen = [a for a in (x, y, z) if a is not None]
    if len(set(chosen)) != len(chosen):
        raise InvalidArgument("x, y and z must be different axes.")
    free = [a for a in axes if a not in chosen and a not in where]
    if x is None and y is None and z is None and len(free) == 1:
        return free[0], None, None  # one axis: a single row
    if y is None and free:
        y = free.pop(0)
    if x is None and free:
        x = free.pop(0)
    if z is None and free:
        z = free.pop(0)
    if free:
        raise InvalidArgument(
            f"This sweep has {len(axes)} axes and a grid shows three (x, y, z); fix the "
            f"others with where={{{', '.join(repr(a) + ': ...' for a in free)}}}."
        )
    return x, y, z


def render_grid(
    views: Sequence[CellView],
    axes: Mapping[str, Sequence[Any]],
    *,
    x: str | None = None,
    y: str | None = None,
    z: str | None = None,
    where: Mapping[str, Any] | None = None,
    cell_size: int = 256,
    label_size: int | None = None,
) -> Image:
    """Draw cells as a labelled X/Y grid (panels side by side along ``z``).

    Axis names and values are written on the top and left edges; a missing, failed,
    cancelled or unfinished cell is a placeholder of the same size. ``label_size`` sizes
    the text as for cells of that size (default ``cell_size``; filmstrips are wide).
    """
    from PIL import Image as PILImage
    from PIL import ImageDraw

    where = dict(where or {})
    for name in where:
        if name not in axes:
            raise InvalidArgument(f"where= names {name!r}, which is not an axis of this sweep.")
    x, y, z = choose_axes(axes, x, y, z, where)
    st = style(label_size or cell_size)
    chosen = [v for v in views if all(v.coords.get(a) == val for a, val in where.items())]
    lookup: dict[tuple[Any, ...], CellView] = {}
    for view in chosen:
        key = tuple(view.coords.get(a) if a else None for a in (z, y, x))
        lookup.setdefault(key, view)

    xs: list[Any] = list(axes[x]) if x else [None]
    ys: list[Any] = list(axes[y]) if y else [None]
    zs: list[Any] = list(axes[z]) if z else [None]
    boxes = [fit(v.ar, cell_size) for v in chosen] or [(cell_size, cell_size)]
    bw, bh = max(b[0] for b in boxes), max(b[1] for b in boxes)
    gap = st.pad

    # the left edge: y labels wrapped to at most one cell's width
    left_lines = {v: wrap(st.font, label(y, v), bw) for v in ys} if y else {}
    natural = max(
        (text_width(st.font, line) for ls in left_lines.values() for line in ls), default=0
    )
    left = natural + 2 * st.pad if y else 0
    top_lines = {v: wrap(st.font, label(x, v), bw) for v in xs} if x else {}
    top = max((len(ls) for ls in top_lines.values()), default=0) * st.line + 2 * st.pad if x else 0
    title = st.line + 2 * st.pad if z else 0

    panel_w = left + len(xs) * bw + (len(xs) - 1) * gap
    panel_h = title + top + len(ys) * bh + (len(ys) - 1) * gap
    width = len(zs) * panel_w + (len(zs) - 1) * 3 * gap + 2 * gap
    height = panel_h + 2 * gap
    canvas = PILImage.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)

    for zi, zv in enumerate(zs):
        ox, oy = gap + zi * (panel_w + 3 * gap), gap
        if z:
            draw.rectangle([ox, oy, ox + panel_w - 1, oy + title - st.pad], fill=st.band)
            draw.text((ox + st.pad, oy + st.pad), label(z, zv), font=st.font, fill=st.ink)
        gy = oy + title + top
        gx = ox + left
        for xi, xv in enumerate(xs if x else []):
            cx = gx + xi * (bw + gap)
            lines = top_lines[xv]
            ty = oy + title + top - st.pad - len(lines) * st.line
            for n, line in enumerate(lines):
                tw = text_width(st.font, line)
                draw.text((cx + (bw - tw) // 2, ty + n * st.line), line, font=st.font, fill=st.ink)
        for yi, yv in enumerate(ys):
            cy = gy + yi * (bh + gap)
            if y:
                lines = left_lines[yv]
                ty = cy + (bh - len(lines) * st.line) // 2
                for n, line in enumerate(lines):
                    draw.text((ox + st.pad, ty + n * st.line), line, font=st.font, fill=st.ink)
            for xi, xv in enumerate(xs):
                cx = gx + xi * (bw + gap)
                tile = draw_cell(lookup.get((zv, yv, xv)), bw, bh, st)
                canvas.paste(tile, (cx, cy))
    return canvas


def _placeholder(view: CellView | None, st: Style) -> tuple[Any, Any, str, str]:
    """Fill colour, ink, heading and body text of a cell that has no image."""
    if view is None:
        return (250, 250, 250), (150, 150, 150), "-", "no such cell"
    if view.status in ("failed", "cancelled"):
        return (88, 88, 88), (255, 255, 255), view.status, view.error or ""
    if view.status == "succeeded":
        return (88, 88, 88), (255, 255, 255), "no image", view.error or ""
    if view.status == "running":
        return (214, 214, 214), st.ink, f"running {view.progress}%", ""
    return (228, 228, 228), st.ink, view.status, ""


def draw_cell(view: CellView | None, bw: int, bh: int, st: Style) -> Image:
    """One box: the image centred, or a placeholder that says what happened."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    if view is not None and view.image is not None:
        box = PILImage.new("RGB", (bw, bh), "white")
        image = view.image
        if image.width > bw or image.height > bh:
            image = image.copy()
            image.thumbnail((bw, bh))
        box.paste(image.convert("RGB"), ((bw - image.width) // 2, (bh - image.height) // 2))
        if view.videos:
            _clip_badge(box, len(view.videos), st)
        return box
    fill, ink, head, body = _placeholder(view, st)
    box = PILImage.new("RGB", (bw, bh), fill)
    draw = ImageDraw.Draw(box)
    if view is not None and view.status in ("failed", "cancelled"):
        draw.rectangle([0, 0, bw - 1, max(3, st.pad)], fill=(200, 40, 40))
    if view is not None and view.status == "running":
        bar = max(3, st.pad)
        draw.rectangle([0, bh - bar, bw - 1, bh - 1], fill=(190, 190, 190))
        draw.rectangle(
            [0, bh - bar, round(bw * view.progress / 100) - 1, bh - 1], fill=(60, 110, 200)
        )
    inner = bw - 2 * st.pad
    lines = wrap(st.font, f"{head}:" if body else head, inner)
    small = wrap(st.small, body, inner) if body else []
    room = max(0, (bh - 2 * st.pad - len(lines) * st.line) // st.small_line)
    small = shorten(small, room)
    total = len(lines) * st.line + len(small) * st.small_line
    ty = max(st.pad, (bh - total) // 2)
    for line in lines:
        draw.text((st.pad, ty), line, font=st.font, fill=ink)
        ty += st.line
    for line in small:
        draw.text((st.pad, ty), line, font=st.small, fill=ink)
        ty += st.small_line
    return box


def _clip_badge(box: Image, clips: int, st: Style) -> None:
    """Mark a poster as a clip: a small band in its lower left corner ("clip", "4 clips")."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(box)
    text = "clip" if clips == 1 else f"{clips} clips"
    width = text_width(st.small, text) + 2 * st.pad
    height = st.small_line + st.pad
    top = box.height - height
    draw.rectangle([0, top, width, box.height - 1], fill=(20, 20, 20))
    draw.text((st.pad, top + st.pad // 2), text, font=st.small, fill=(255, 255, 255))


def compare(tasks: Sequence[Task], *, cell_size: int = 256) -> Image:
    """Tasks side by side, each labelled with its short id and the parameters that differ."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    if not tasks:
        raise InvalidArgument("compare() needs at least one task.")
    described = [_describe(t) for t in tasks]
    names: list[str] = []
    for d in described:
        names.extend(k for k in d if k not in names)
    differing = [
        k for k in names if len({json.dumps(d.get(k), default=str) for d in described}) > 1
    ]
    st = style(cell_size)
    boxes = [fit(str(d.get("ar") or "1:1"), cell_size) for d in described]
    bw, bh = max(b[0] for b in boxes), max(b[1] for b in boxes)
    labels = []
    for task, d in zip(tasks, described, strict=True):
        parts = [f"{k}: {format_value(d.get(k))}" for k in differing]
        lines = wrap(st.font, task.id[:8], bw)
        for part in parts:
            lines.extend(wrap(st.small, part, bw))
        labels.append(lines)
    label_h = max(st.line + (len(ls) - 1) * st.small_line for ls in labels) + 2 * st.pad
    gap = st.pad
    width = len(tasks) * bw + (len(tasks) + 1) * gap
    canvas = PILImage.new("RGB", (width, label_h + bh + gap), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (task, lines) in enumerate(zip(tasks, labels, strict=True)):
        cx = gap + i * (bw + gap)
        ty = st.pad
        for n, line in enumerate(lines):
            face = st.font if n == 0 else st.small
            draw.text((cx, ty), line, font=face, fill=st.ink)
            ty += st.line if n == 0 else st.small_line
        image = None
        if task.status == "succeeded":
            try:
                image = task.image.convert("RGB")
                image.thumbnail((bw, bh))
            except MJError:
                image = None
        view = CellView({}, image, task.status, task.progress, task.error)
        canvas.paste(draw_cell(view, bw, bh, st), (cx, label_h))
    return canvas


def _describe(task: Task) -> dict[str, Any]:
    """What tells tasks apart: their text, parameters and action."""
    described: dict[str, Any] = {}
    if task.action != "imagine":
        described["action"] = task.action
    if task.prompt is not None:
        described["text"] = task.prompt.text
        described.update(task.prompt.params)
    return described
