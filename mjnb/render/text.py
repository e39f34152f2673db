"""Text on images, once: fonts, wrapping, fitting boxes, shortening, value labels.

Used by the sweep grid and ``compare`` (PIL) and, for labels and box sizes, by the
HTML report, so that a value reads the same everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.ImageFont import FreeTypeFont, ImageFont

    Font = FreeTypeFont | ImageFont

__all__ = [
    "Style",
    "fit",
    "font",
    "format_value",
    "label",
    "shorten",
    "style",
    "text_width",
    "wrap",
]


def format_value(value: Any) -> str:
    """How a coordinate is shown in labels: ``250``, ``0.5``, ``on``/``off``, ``16:9``;
    a list (``--no red blue``) is joined with commas."""
    if value is None:
        return "none"
    if value is True:
        return "on"
    if value is False:
        return "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def label(axis: str | None, value: Any) -> str:
    """``"stylize: 250"``: an axis and one of its values, as edges and captions show it."""
    return f"{axis}: {format_value(value)}"


@dataclass
class Style:
    """Sizes and colours of one grid, scaled from its cell size."""

    size: int
    font: Font
    small: Font
    line: int
    small_line: int
    pad: int
    ink: tuple[int, int, int] = (20, 20, 20)
    band: tuple[int, int, int] = (236, 236, 236)


@lru_cache(maxsize=16)
def font(size: int) -> Font:
    """Pillow's own font at ``size`` px (no font file needed, nothing downloaded)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()


def style(cell_size: int) -> Style:
    size = max(14, round(cell_size / 11))
    small = max(12, round(size * 0.8))
    return Style(
        size=size,
        font=font(size),
        small=font(small),
        line=round(size * 1.25),
        small_line=round(small * 1.25),
        pad=max(4, cell_size // 32),
    )


def text_width(face: Font, text: str) -> int:
    return math.ceil(face.getlength(text))


def wrap(face: Font, text: str, width: int) -> list[str]:
    """Greedy word wrap to ``width`` pixels; words too long are cut by characters."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if text_width(face, candidate) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            while text_width(face, word) > width and len(word) > 1:
                cut = len(word)
                while cut > 1 and text_width(face, word[:cut]) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
    return lines


def shorten(lines: list[str], room: int) -> list[str]:
    """At most ``room`` lines; when some are dropped the last kept one ends in ``…``."""
    if len(lines) <= room:
        return lines
    kept = lines[: max(0, room)]
    if kept:
        kept[-1] = kept[-1][: max(0, len(kept[-1]) - 1)] + "…"
    return kept


def fit(ar: str, size: int) -> tuple[int, int]:
    """The box of aspect ratio ``ar`` (``"3:2"``) whose long side is ``size``."""
    try:
        w, h = (int(p) for p in ar.split(":"))
        if w <= 0 or h <= 0:
            raise ValueError
    except ValueError:
        w, h = 1, 1
    if w >= h:
        return size, max(1, round(size * h / w))
    return max(1, round(size * w / h)), size
