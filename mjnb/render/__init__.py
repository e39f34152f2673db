"""Drawing what sweeps and tasks produced: labelled grids, comparisons, HTML reports.

- :mod:`.text`: fonts, wrapping, fitting, shortening and value labels, once
- :mod:`.grid`: :func:`render_grid` (the labelled X/Y/Z grid) and :func:`compare`
- :mod:`.film`: :func:`render_filmstrips`, a video sweep's frames per cell, labelled
- :mod:`.report`: :func:`render_html`, the self-contained report (CSS/JS as data files;
  video cells play their clips, inlined up to ``embed_limit`` bytes, linked past it)
"""

from __future__ import annotations

from .film import render_filmstrips
from .grid import CellView, compare, render_grid
from .report import DEFAULT_EMBED_LIMIT, ClipBudget, render_html
from .text import format_value

__all__ = [
    "DEFAULT_EMBED_LIMIT",
    "CellView",
    "ClipBudget",
    "compare",
    "format_value",
    "render_filmstrips",
    "render_grid",
    "render_html",
]
