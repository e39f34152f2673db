"""Parameter sweeps (the X/Y plot) and side-by-side comparison.

    >>> mj = mjnb.Client()
    >>> mj.plan_sweep("a red fox", seed=[1, 2, 3], stylize="0..1000 step 500")
    9 jobs (seed × stylize), about 9 GPU-minutes
    >>> sweep = mj.sweep("a red fox", seed=[1, 2, 3], stylize=[0, 250, 750])
    >>> sweep.wait().grid(x="stylize", y="seed")       # a labelled PIL image
    >>> clips = sweep.animate(motion=["low", "high"], index=1)  # video axes over its cells
    >>> clips = mj.sweep_video(start, "waves roll in", motion=["low", "high"], seed=[1, 2])
    >>> clips.wait().filmstrip(frames=4); clips.to_html("clips.html", embed_limit=5_000_000)

- :mod:`.values`: one axis's values (lists, ranges, ``"0..1000 step 250"``)
- :mod:`.plan`: :class:`Cell`, :class:`SweepPlan`, :func:`plan_sweep` (sends nothing)
- :mod:`.run`: :class:`Sweep` and the :class:`SweepHost` it runs on
- :mod:`.video`: video sweeps (:func:`sweep_video`, ``Sweep.animate``) and the
  :class:`VideoSweepHost` (``check_video``, ``start_video``) they run on
- :mod:`.pictures`: what a sweep shows (grid, filmstrip, report), mixed into Sweep
- drawing lives in :mod:`mjnb.render` (grid, compare, HTML report)
"""

from __future__ import annotations

from mjnb.render import (
    CellView,
    compare,
    format_value,
    render_filmstrips,
    render_grid,
    render_html,
)

from .plan import DEFAULT_MAX_JOBS, GPU_MINUTES, Cell, SweepPlan, plan_sweep
from .run import Sweep, SweepHost, SweepListener, resume_sweeps, start_sweep
from .values import MODEL_AXIS, TEXT_AXIS, parse_values
from .video import VIDEO_AXES, VideoSweepHost, plan_sweep_video, sweep_video

__all__ = [
    "DEFAULT_MAX_JOBS",
    "GPU_MINUTES",
    "MODEL_AXIS",
    "TEXT_AXIS",
    "VIDEO_AXES",
    "Cell",
    "CellView",
    "Sweep",
    "SweepHost",
    "SweepListener",
    "SweepPlan",
    "VideoSweepHost",
    "compare",
    "format_value",
    "parse_values",
    "plan_sweep",
    "plan_sweep_video",
    "render_filmstrips",
    "render_grid",
    "render_html",
    "resume_sweeps",
    "start_sweep",
    "sweep_video",
]
