"""The notebook layer: the ``%mj`` magic and the widgets that show tasks and sweeps.

- the magic: :mod:`~mjnb.notebook.magic` (``MJMagic``: ``%mj``, ``%%mj``,
  ``%config MJMagic``, ``load_ipython_extension``), with its line parsing in
  :mod:`~mjnb.notebook.commands` and its command groups in
  :mod:`~mjnb.notebook.control_commands` (wait, cancel, pending, resume) and
  :mod:`~mjnb.notebook.media_commands` (animate, extend, video, vary region, seed);
- the views, all built in :mod:`~mjnb.notebook.views` with the user's settings:
  :mod:`~mjnb.notebook.card` (``TaskCard``) and :mod:`~mjnb.notebook.cardtools`
  (its editor and video buttons), :mod:`~mjnb.notebook.videocard` with
  :mod:`~mjnb.notebook.clip` (clips played inline), :mod:`~mjnb.notebook.sweepview`
  (``SweepView``), sharing the final-state steps of :mod:`~mjnb.notebook.liveview`;
- the panel: :mod:`~mjnb.notebook.panel` (``Panel``) composed of
  :mod:`~mjnb.notebook.formcontrols`, :mod:`~mjnb.notebook.sweepbuilder`,
  :mod:`~mjnb.notebook.history`, :mod:`~mjnb.notebook.uploads` and
  :mod:`~mjnb.notebook.feedback`, over the pure :mod:`~mjnb.notebook.form`;
- :mod:`~mjnb.notebook.painter` (the mask painter) and :mod:`~mjnb.notebook.gallery`
  (everyone's recent results on a shared log).

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
