"""``VideoCard``: the card of a video task (animate, extend, upscale video).

    >>> card = VideoCard(up.animate("high"))    # Views builds it for task.kind == "video"

While the task runs it is a task card (progress bar, placeholder, Cancel). Once the
clips are downloaded they play inline in a :class:`~mjnb.notebook.clip.ClipPlayer`
(looping, muted, with controls; several clips of a batch side by side, a click picks
the one Extend acts on), and the buttons are the task's actions: Extend low/high,
Upscale video, Animate where offered.

The saved notebook keeps, per clip, a poster JPEG (the player's only synced state,
and the ``image/jpeg`` output of the first clip) and one small animated WebP preview
(:func:`mjnb.video.preview_webp`) in the HTML output, sized so that all of it stays
under :data:`mjnb.video.NOTEBOOK_CLIP_BYTES` (150 KB) a clip. The MP4s stay in the
cache: they reach the browser only as messages, which are never saved.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as widgets

from ..errors import MJError
from ..video import NOTEBOOK_CLIP_BYTES, PREVIEW_BYTES
from .card import TaskCard
from .cardtools import task_kind
from .clip import ClipPlayer
from .liveview import thumbnail_jpeg

if TYPE_CHECKING:
    from ..task import Task

__all__ = ["VideoCard", "card_class", "clip_budget"]

#: room left in a clip's budget for the HTML around its preview and the widget model
_MARKUP = 3_000
#: the smallest preview budget mjnb.video accepts
_MIN_PREVIEW = 10_000


def card_class(task: Task) -> type[TaskCard]:
    """The card that shows ``task``: a :class:`VideoCard` for a video, else a TaskCard."""
    return VideoCard if task_kind(task) == "video" else TaskCard


def _b64_size(n: int) -> int:
    return 4 * ((n + 2) // 3)


def clip_budget(poster_bytes: int, *, first: bool) -> int:
    """The raw bytes a clip's preview may take so that everything the saved notebook
    keeps for it (poster in the widget state, in ``image/jpeg`` for the first clip, the
    preview in the HTML, all base64) stays under NOTEBOOK_CLIP_BYTES."""
    copies = 2 if first else 1
    left = NOTEBOOK_CLIP_BYTES - copies * _b64_size(poster_bytes) - _MARKUP
    return max(_MIN_PREVIEW, min(PREVIEW_BYTES, left * 3 // 4))


class VideoCard(TaskCard):
    """A task card whose result is one or more clips, playing inline."""

    def _media(self) -> list[widgets.Widget]:
        self.player = ClipPlayer(width=self.thumbnail_size)
        self.player.add_class("mjnb-card-video")
        self.player.layout.display = "none"
        self._clips: tuple[Path, ...] = ()
        self._posters: list[bytes] = []
        self._previews: list[bytes] | None = None
        self.tools.clip_index = self._clip_index
        return [self.image, self.player]

    @property
    def clips(self) -> tuple[Path, ...]:
        """The MP4 paths the player plays (empty until the task has succeeded)."""
        return self._clips

    @property
    def posters(self) -> list[bytes]:
        """One poster JPEG per clip (what the saved notebook keeps, with the previews)."""
        return list(self._posters)

    def _clip_index(self) -> int | None:
        """The 1-based clip Extend acts on: the one picked in the player, if several."""
        return self.player.selected + 1 if len(self._clips) > 1 else None

    def _render_image(self, task: Task, finished: bool) -> None:
        if not (finished and task.status == "succeeded"):
            super()._render_image(task, finished)  # progress: placeholder or preview
            return
        if self._clips:
            return
        try:
            from ..video import poster

            paths = tuple(Path(p) for p in task.videos)
            posters = [thumbnail_jpeg(poster(p), self.thumbnail_size, self.quality) for p in paths]
        except MJError as exc:
            self._action_error = f"The clip cannot be shown: {' '.join(str(exc).split())}"
            self._set_image("none", b"")
            return
        if not paths:
            self._set_image("none", b"")
            return
        self._clips, self._posters = paths, posters
        self._thumb = posters[0]
        self.player.set_clips(paths, posters)
        self._set_image("none", b"")
        self.player.layout.display = None

    # -- static output -----------------------------------------------------------------------
    def previews(self) -> list[bytes]:
        """One animated WebP per clip, each within its :func:`clip_budget` (made once)."""
        if self._previews is None:
            from ..video import preview_webp

            self._previews = [
                preview_webp(path, clip_budget(len(jpeg), first=i == 0))
                for i, (path, jpeg) in enumerate(zip(self._clips, self._posters, strict=True))
            ]
        return self._previews

    def _static_html(self, jpeg_b64: str, size: tuple[int, int], alt: str, summary: str) -> str:
        try:
            previews = self.previews()
        except MJError:  # the cache lost the clip: the poster alone
            return super()._static_html(jpeg_b64, size, alt, summary)
        images = "".join(
            f"<img src='data:image/webp;base64,{base64.b64encode(webp).decode('ascii')}' "
            f"alt='{html.escape(alt)} clip {i + 1}' style='margin-right:4px'>"
            for i, webp in enumerate(previews)
        )
        return (
            f"<figure style='margin:4px 0'>{images}"
            f"<figcaption><code>{html.escape(summary)}</code></figcaption></figure>"
        )
