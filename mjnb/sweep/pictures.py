"""What a sweep shows: its cells as plain views, the labelled grid, filmstrips, the report.

A mixin of :class:`~mjnb.sweep.run.Sweep`: it reads the sweep's cells and tasks and
hands plain :class:`~mjnb.render.CellView` data to :mod:`mjnb.render`. An image cell
shows its picture; a video cell shows its first clip's poster frame (the grid) or a
few frames (:meth:`filmstrip`) and plays its clips in the report.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mjnb.errors import MJError
from mjnb.render.film import render_filmstrips
from mjnb.render.grid import NEVER_SENT, CellView, render_grid
from mjnb.render.report import DEFAULT_EMBED_LIMIT, render_html

if TYPE_CHECKING:
    import pandas as pd
    from PIL.Image import Image

    from mjnb.task import Task

    from .plan import Cell, SweepPlan

__all__ = ["CANCELLED", "SweepPictures", "videos_of"]

#: how a cell cancelled before it was sent shows in ``counts()`` and ``df``
CANCELLED = "cancelled"


def videos_of(task: Task) -> tuple[Path, ...]:
    """A finished video task's local clips (none for an image task or a failed one)."""
    if task.status != "succeeded" or getattr(task, "kind", "image") != "video":
        return ()
    try:
        return tuple(Path(p) for p in getattr(task, "videos", ()) or ())
    except MJError:
        return ()


class SweepPictures:
    """Grid, filmstrip and report of a sweep (mixed into :class:`Sweep`)."""

    id: str
    plan: SweepPlan
    _lock: threading.Lock
    _thumbs: dict[tuple[str, int], Image]

    # provided by Sweep
    def items(self) -> list[tuple[Cell, Task | None]]:
        raise NotImplementedError

    def _state(self, index: int, task: Task | None) -> str:
        raise NotImplementedError

    @property
    def summary(self) -> str:
        raise NotImplementedError

    @property
    def prompt(self) -> str:
        raise NotImplementedError

    @property
    def df(self) -> pd.DataFrame:
        raise NotImplementedError

    # -- one cell -----------------------------------------------------------------------
    def _thumbnail(self, task: Task, size: int) -> Image | None:
        if task.status != "succeeded":
            return None
        key = (task.id, size)
        with self._lock:
            cached = self._thumbs.get(key)
        if cached is not None:
            return cached
        try:
            clips = videos_of(task)
            if clips:
                from mjnb.video import poster

                image = poster(clips[0])
            else:
                image = task.image
        except MJError:
            return None
        thumb = image.convert("RGB")
        thumb.thumbnail((size, size))
        with self._lock:
            self._thumbs[key] = thumb
        return thumb

    def views(self, size: int = 256) -> list[CellView]:
        """Every cell as plain data for :func:`~mjnb.render.render_grid` (thumbnails and
        posters cached); a cell cancelled before it was sent is a ``cancelled``
        placeholder; a video cell carries its clips' paths."""
        views = []
        for cell, task in self.items():
            image = None if task is None else self._thumbnail(task, size)
            status = self._state(cell.index, task)
            clips = () if task is None else videos_of(task)
            ar = str(cell.prompt.params.get("ar") or "1:1")
            if image is not None and clips:
                ar = f"{image.width}:{image.height}"
            views.append(
                CellView(
                    coords=cell.coords,
                    image=image,
                    status=status,
                    progress=0 if task is None else task.progress,
                    error=(NEVER_SENT if status == CANCELLED else None)
                    if task is None
                    else task.error,
                    ar=ar,
                    videos=clips,
                )
            )
        return views

    # -- the pictures -------------------------------------------------------------------
    def grid(
        self,
        x: str | None = None,
        y: str | None = None,
        z: str | None = None,
        *,
        where: Mapping[str, Any] | None = None,
        cell_size: int = 256,
    ) -> Image:
        """The labelled comparison image: ``x`` across, ``y`` down, ``z`` panel by panel.

        By default the first axis is y, the second x, the third z. ``where`` fixes the
        value of further axes (``where={"chaos": 50}``). Cells that failed, were
        cancelled or have not finished are drawn as placeholders saying why, so the grid
        never shifts. A video cell shows its first clip's poster frame, marked as a clip.
        """
        views = self.views(cell_size)
        return render_grid(views, self.plan.axes, x=x, y=y, z=z, where=where, cell_size=cell_size)

    def filmstrip(
        self,
        x: str | None = None,
        y: str | None = None,
        z: str | None = None,
        *,
        frames: int = 4,
        where: Mapping[str, Any] | None = None,
        height: int = 128,
    ) -> Image:
        """A video sweep's cells as filmstrips: ``frames`` evenly spaced frames of each
        cell's (first) clip side by side, ``height`` px tall, laid out on the axes as in
        :meth:`grid`, as one labelled PIL image."""
        views = self.views(64)  # posters are not drawn here: keep them small
        return render_filmstrips(
            views, self.plan.axes, x=x, y=y, z=z, where=where, frames=frames, height=height
        )

    def to_html(
        self,
        path: str | Path,
        *,
        image_size: int = 512,
        quality: int = 85,
        embed_limit: int = DEFAULT_EMBED_LIMIT,
    ) -> Path:
        """Write the HTML report (images embedded); returns its path.

        Video cells play their clips: MP4s are inlined (base64) while all the clips
        together fit in ``embed_limit`` bytes (default 20 MB); past it they are linked
        to the cache files, and the report says so at the top.
        """
        target = Path(path)
        target.write_text(self._html(image_size, quality, embed_limit), encoding="utf-8")
        return target

    def _html(self, image_size: int, quality: int, embed_limit: int = DEFAULT_EMBED_LIMIT) -> str:
        return render_html(
            title=f"mjnb sweep {self.id}",
            prompt=self.prompt,
            summary=f"{self.summary} · {self.plan}",
            axes=self.plan.axes,
            views=self.views(image_size),
            table=self.df,
            quality=quality,
            embed_limit=embed_limit,
        )
