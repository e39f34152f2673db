"""``ClipPlayer``: a video task's clips, playing inline (looping, muted, with controls).

    >>> player = ClipPlayer(["/cache/ab12.mp4"], width=256)
    >>> player.selected          # the clip a click chose (0-based): Extend acts on it

Why not ``ipywidgets.Video``: its ``value`` trait is the MP4's bytes, and a notebook
saved with widget state would keep every clip in it (megabytes each). Here the only
synced state is one small poster JPEG per clip; the MP4 bytes go to the browser as the
binary buffers of a custom message, sent when a view asks for them (each view sends
``{"event": "ready"}`` when it renders), and play from a Blob URL. Messages are not
saved, so the saved notebook never holds the clips; the card's static output (its
poster and a small animated preview, :mod:`mjnb.notebook.videocard`) is what GitHub and
nbviewer show.

An anywidget, like the mask painter: one ESM file (``clip.js``) with no build step, so
it runs in JupyterLab, Notebook 7, VS Code and Colab.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..errors import InvalidArgument, StorageError

__all__ = ["ClipPlayer", "poster_data_url"]

_CSS = """
.mjnb-clip { display: flex; flex-wrap: wrap; gap: 4px; line-height: 0; }
.mjnb-clip-cell { display: flex; flex-direction: column; border: 2px solid transparent; }
.mjnb-clip-cell.mjnb-selected { border-color: #1f6feb; }
.mjnb-clip-video, .mjnb-clip-poster { height: auto; max-width: 100%; background: #eee; }
.mjnb-clip-label { font: 12px sans-serif; line-height: 1.4; color: #555; text-align: center; }
"""
_versions = itertools.count(1)


def poster_data_url(jpeg: bytes) -> str:
    """A JPEG as the ``data:`` URL a poster trait holds."""
    import base64

    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


class ClipPlayer(anywidget.AnyWidget):
    """Plays ``paths`` (local MP4 files) side by side; ``posters`` are small JPEGs.

    The clips are read from disk each time a view asks for them, so the player holds
    no video bytes itself. :meth:`set_clips` changes what it plays (a running task's
    card makes the player empty and fills it when the clips are downloaded).
    """

    _esm = Path(__file__).with_name("clip.js")
    _css = _CSS

    posters = traitlets.List(traitlets.Unicode(), help="one JPEG data URL per clip").tag(sync=True)
    width = traitlets.Int(256, help="displayed width of one clip, px").tag(sync=True)
    selected = traitlets.Int(0, help="the chosen clip, 0-based").tag(sync=True)
    playing = traitlets.Int(0, help="clips the last view loaded (set by the browser)").tag(
        sync=True
    )

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]] = (),
        *,
        posters: Sequence[bytes] = (),
        width: int = 256,
        **kwargs: Any,
    ) -> None:
        super().__init__(width=width, **kwargs)
        self._paths: tuple[Path, ...] = ()
        self._version = 0
        self.sends = 0  # how many times the clips were sent (tests read it)
        self.on_msg(self._handle_frontend_msg)
        if paths:
            self.set_clips(paths, posters)

    @property
    def paths(self) -> tuple[Path, ...]:
        return self._paths

    @traitlets.validate("selected")
    def _valid_selected(self, proposal: Any) -> int:
        value = int(proposal["value"])
        return max(0, min(value, max(0, len(self._paths) - 1))) if hasattr(self, "_paths") else 0

    def set_clips(
        self, paths: Sequence[str | os.PathLike[str]], posters: Sequence[bytes] = ()
    ) -> None:
        """Play ``paths`` (with one poster JPEG each, or a grey one) in every view."""
        files = tuple(Path(p) for p in paths)
        if posters and len(posters) != len(files):
            raise InvalidArgument(f"{len(files)} clip(s) need as many posters, got {len(posters)}.")
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise StorageError(f"The clip {missing[0]} is not in the cache any more.")
        self._paths = files
        self._version = next(_versions)
        self.selected = 0
        self.posters = [poster_data_url(p) for p in posters] if posters else [""] * len(files)
        self._push()

    def _handle_frontend_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("event") == "ready":
            self._push()

    def _push(self) -> None:
        """The clips to every view, as binary buffers (never as a synced trait)."""
        if not self._paths or self.comm is None:
            return
        buffers = [path.read_bytes() for path in self._paths]
        self.send({"event": "clips", "version": self._version, "count": len(buffers)}, buffers)
        self.sends += 1
