"""Drawing what sweeps and tasks produced: labelled grids, comparisons, HTML reports.

- :mod:`.text`: fonts, wrapping, fitting, shortening and value labels, once
- :mod:`.grid`: :func:`render_grid` (the labelled X/Y/Z grid) and :func:`compare`
- :mod:`.report`: :func:`render_html`, the self-contained report (CSS/JS as data files)
"""

from __future__ import annotations

from .grid import CellView, compare, render_grid
from .report import render_html
from .text import format_value

__all__ = ["CellView", "compare", "format_value", "render_grid", "render_html"]
