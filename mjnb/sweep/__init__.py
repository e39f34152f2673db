"""Parameter sweeps (the X/Y plot) and side-by-side comparison.

    >>> mj = mjnb.Client()
    >>> mj.plan_sweep("a red fox", seed=[1, 2, 3], stylize="0..1000 step 500")
    9 jobs (seed × stylize), about 9 GPU-minutes
    >>> sweep = mj.sweep("a red fox", seed=[1, 2, 3], stylize=[0, 250, 750])
    >>> sweep.wait().grid(x="stylize", y="seed")       # a labelled PIL image

- :mod:`.values`: one axis's values (lists, ranges, ``"0..1000 step 250"``)
- :mod:`.plan`: :class:`Cell`, :class:`SweepPlan`, :func:`plan_sweep` (sends nothing)
- :mod:`.run`: :class:`Sweep` and the :class:`SweepHost` it runs on
- drawing lives in :mod:`mjnb.render` (grid, compare, HTML report)
"""

from __future__ import annotations

from mjnb.render import CellView, compare, format_value, render_grid, render_html

from .plan import DEFAULT_MAX_JOBS, GPU_MINUTES, Cell, SweepPlan, plan_sweep
from .run import Sweep, SweepHost, SweepListener, resume_sweeps, start_sweep
from .values import MODEL_AXIS, TEXT_AXIS, parse_values

__all__ = [
    "DEFAULT_MAX_JOBS",
    "GPU_MINUTES",
    "MODEL_AXIS",
    "TEXT_AXIS",
    "Cell",
    "CellView",
    "Sweep",
    "SweepHost",
    "SweepListener",
    "SweepPlan",
    "compare",
    "format_value",
    "parse_values",
    "plan_sweep",
    "render_grid",
    "render_html",
    "resume_sweeps",
    "start_sweep",
]
