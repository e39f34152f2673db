"""The notebook layer: the ``%mj`` magic and the widgets that show tasks and sweeps.

- :mod:`mjnb.notebook.magic`: ``MJMagic`` (``%mj``, ``%%mj``, ``%config MJMagic``) and
  ``load_ipython_extension``, which ``%load_ext mjnb`` calls;
- :mod:`mjnb.notebook.card`: ``TaskCard``, the live view of one task;
- :mod:`mjnb.notebook.sweepview`: ``SweepView``, the live grid of a sweep;
- :mod:`mjnb.notebook.panel`: ``Panel``, the prompt form with its gallery and history.

The layer is thin: the magic parses a line and calls :class:`mjnb.Client`, and the
widgets render task state. Importing it loads ipywidgets (``import mjnb`` does not).
"""

from __future__ import annotations

from .card import TaskCard
from .magic import MJMagic, load_ipython_extension, unload_ipython_extension
from .panel import Panel
from .sweepview import SweepView

__all__ = [
    "MJMagic",
    "Panel",
    "SweepView",
    "TaskCard",
    "load_ipython_extension",
    "unload_ipython_extension",
]
