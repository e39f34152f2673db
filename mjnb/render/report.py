"""The self-contained HTML report of a sweep: the grid with images as data URIs, and a
sortable table of every cell's parameters and outcome.

A video cell plays its clips: a ``<video>`` (looping, muted, with controls) whose MP4 is
inlined as base64 while the clips so far fit in ``embed_limit`` bytes; the clips past it
are linked to their files in the cache instead, and the page says so at the top (such a
report opens with its clips only on the machine that holds the cache). The poster frame
is always inlined, so every cell shows something.

Its style sheet and script are package data files beside this module (``report.css``,
``report.js``), read once with :mod:`importlib.resources` and embedded in each page, so
the report opens anywhere with no network and no other file.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .grid import CellView
from .text import fit, label

if TYPE_CHECKING:
    import pandas as pd
    from PIL.Image import Image

__all__ = ["DEFAULT_EMBED_LIMIT", "ClipBudget", "asset", "render_html"]

#: MP4 bytes a report inlines by default (all clips together, before base64)
DEFAULT_EMBED_LIMIT = 20_000_000


@dataclass
class ClipBudget:
    """How many MP4 bytes a report may still inline; what it inlined and linked."""

    limit: int
    embedded: int = 0
    embedded_bytes: int = 0
    linked: list[Path] = field(default_factory=list)

    def take(self, path: Path) -> bytes | None:
        """The clip's bytes if they fit in what is left, else None (it gets linked)."""
        try:
            size = os.path.getsize(path)
        except OSError:
            self.linked.append(path)
            return None
        if self.embedded_bytes + size > self.limit:
            self.linked.append(path)
            return None
        try:
            data = path.read_bytes()
        except OSError:
            self.linked.append(path)
            return None
        self.embedded += 1
        self.embedded_bytes += len(data)
        return data

    def note(self) -> str:
        """The page's line about linked clips ("" when every clip is inlined)."""
        if not self.linked:
            return ""
        count = len(self.linked)
        folders = sorted({str(p.parent) for p in self.linked})
        where = folders[0] if len(folders) == 1 else f"{len(folders)} folders of the cache"
        return (
            f"{count} clip{'s are' if count != 1 else ' is'} not embedded: the clips together "
            f"pass embed_limit={self.limit:,} bytes ({self.embedded} embedded, "
            f"{self.embedded_bytes:,} bytes). They are linked to the cache files in {where}, "
            "so this report plays them only where that cache is; pass a larger embed_limit "
            "to make it self-contained."
        )


@lru_cache(maxsize=4)
def asset(name: str) -> str:
    """The text of one of the report's data files (``report.css``, ``report.js``)."""
    return resources.files(__package__ or "mjnb.render").joinpath(name).read_text("utf-8")


def _data_uri(image: Image, quality: int) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _video_html(view: CellView, quality: int, budget: ClipBudget) -> str:
    poster = _data_uri(view.image, quality) if view.image is not None else ""
    alt = html.escape(_coords_text(view))
    w, h = view.image.size if view.image is not None else (256, 256)
    parts = []
    for n, path in enumerate(view.videos, 1):
        data = budget.take(Path(path))
        name = f"clip {n}/{len(view.videos)}" if len(view.videos) > 1 else "clip"
        if data is not None:
            src = "data:video/mp4;base64," + base64.b64encode(data).decode("ascii")
            link = ""
            preload = "auto"
        else:
            src = Path(path).resolve().as_uri()
            link = (
                f'<a class="clip-link" href="{html.escape(src)}">{html.escape(name)}: '
                f"{html.escape(Path(path).name)} (linked, not embedded)</a>"
            )
            preload = "none"
        parts.append(
            f'<video class="clip" src="{src}" poster="{poster}" width="{w}" height="{h}" '
            f'title="{alt} · {name}" controls loop muted playsinline preload="{preload}">'
            f"</video>{link}"
        )
    return f'<div class="clips">{"".join(parts)}</div>'


def _cell_html(
    view: CellView | None, size: int, quality: int, budget: ClipBudget | None = None
) -> str:
    if view is not None and view.videos and budget is not None:
        return _video_html(view, quality, budget)
    if view is not None and view.image is not None:
        return (
            f'<img src="{_data_uri(view.image, quality)}" alt="{html.escape(_coords_text(view))}">'
        )
    w, h = fit(view.ar if view else "1:1", size)
    box = f"width:{w}px;height:{h}px"
    if view is None:
        return f'<div class="ph" style="{box}">— no such cell</div>'
    if view.status in ("failed", "cancelled"):
        text = f"<b>{view.status}:</b> {html.escape(view.error or 'no reason given')}"
    elif view.status == "running":
        text = f"<b>running {view.progress}%</b>"
    elif view.status == "succeeded":
        text = f"<b>no image:</b> {html.escape(view.error or '')}"
    else:
        text = f"<b>{html.escape(view.status)}</b>"
    return f'<div class="ph {html.escape(view.status)}" style="{box}">{text}</div>'


def _coords_text(view: CellView) -> str:
    return ", ".join(label(k, v) for k, v in view.coords.items())


def _grid_tables(
    axes: Mapping[str, Sequence[Any]],
    views: Sequence[CellView],
    quality: int,
    budget: ClipBudget | None = None,
) -> list[str]:
    """One ``<table class='grid'>`` per panel: the second axis across, the first down,
    a heading per value of the further axes."""
    names = list(axes)
    x = names[1] if len(names) > 1 else (names[0] if names else None)
    y = names[0] if len(names) > 1 else None
    z_axes = names[2:]
    size = max((max(v.image.size) for v in views if v.image is not None), default=256)
    panels: dict[tuple[Any, ...], list[CellView]] = {}
    for view in views:
        panels.setdefault(tuple(view.coords.get(a) for a in z_axes), []).append(view)
    xs = list(axes[x]) if x else [None]
    ys = list(axes[y]) if y else [None]
    parts: list[str] = []
    for zkey, members in panels.items():
        if z_axes:
            caption = ", ".join(label(a, v) for a, v in zip(z_axes, zkey, strict=True))
            parts.append(f"<h2>{html.escape(caption)}</h2>")
        lookup = {
            (v.coords.get(y) if y else None, v.coords.get(x) if x else None): v for v in members
        }
        parts.append("<table class='grid'>")
        if x:
            corner = html.escape(f"{y} \\ {x}") if y else ""
            heads = "".join(f"<th>{html.escape(label(x, v))}</th>" for v in xs)
            parts.append(f"<tr><th>{corner}</th>{heads}</tr>")
        for yv in ys:
            row = f"<th>{html.escape(label(y, yv))}</th>" if y else "<th></th>"
            cells = "".join(
                f"<td>{_cell_html(lookup.get((yv, xv)), size, quality, budget)}</td>" for xv in xs
            )
            parts.append(f"<tr>{row}{cells}</tr>")
        parts.append("</table>")
    return parts


def _params_table(table: pd.DataFrame) -> list[str]:
    import pandas as pd

    parts = ["<h2>Parameters</h2><table class='params'><thead><tr>"]
    parts.extend(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    parts.append("</tr></thead><tbody>")
    for record in table.itertuples(index=False):
        parts.append("<tr>")
        for value in record:
            if isinstance(value, (list, tuple)):  # video_paths: one path per clip
                text = ", ".join(str(v) for v in value)
            elif pd.isna(value):
                text = ""
            else:
                text = f"{value:.2f}" if isinstance(value, float) else str(value)
            parts.append(f"<td data-v='{html.escape(text, quote=True)}'>{html.escape(text)}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return parts


def render_html(
    *,
    title: str,
    prompt: str,
    summary: str,
    axes: Mapping[str, Sequence[Any]],
    views: Sequence[CellView],
    table: pd.DataFrame,
    quality: int = 85,
    embed_limit: int = DEFAULT_EMBED_LIMIT,
    budget: ClipBudget | None = None,
) -> str:
    """A self-contained HTML page: the grid (images as data URIs) and a sortable table.

    Video cells play their clips, inlined while they fit in ``embed_limit`` MP4 bytes
    and linked to the cache past it (the page says so). Pass a ``budget`` to learn what
    was inlined and linked.
    """
    budget = budget if budget is not None else ClipBudget(embed_limit)
    grid = _grid_tables(axes, views, quality, budget)
    note = budget.note()
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{asset('report.css')}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Prompt: <code>{html.escape(prompt)}</code></p>",
        f"<p>{html.escape(summary)}</p>",
        f"<p class='linked'>{html.escape(note)}</p>" if note else "",
        *grid,
        *_params_table(table),
        f"<script>{asset('report.js')}</script></body></html>",
    ]
    return "".join(parts)
