"""The one place task cards and sweep views are built, with the user's view settings.

    >>> views = Views()                       # defaults (mjnb.vocab), or the magic's own:
    >>> views = magic.views                   # follows %config MJMagic.jpeg_quality ...
    >>> card = views.card(task)               # a TaskCard
    >>> view = views.sweep(sweep, client=mj)  # a SweepView (Resume calls mj.resume)

The magic, the panel and ``display(task)`` all build their views here, so a setting such
as ``%config MJMagic.jpeg_quality = 60`` reaches every card, the panel's included. The
magic registers its :class:`Views` while the extension is loaded (:func:`use`), and a
``Panel()`` made without one takes :func:`current`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ..vocab import JPEG_QUALITY, THUMBNAIL_SIZE
from .card import DEFAULT_UPDATES_PER_SECOND

if TYPE_CHECKING:
    from ..client import Client
    from ..sweep import Sweep
    from ..task import Task
    from .card import TaskCard
    from .liveview import LiveView
    from .sweepview import SweepView

__all__ = ["Outputs", "ViewSettings", "Views", "current", "use"]

V = TypeVar("V", bound="LiveView")

#: the smallest grid cell a sweep view draws, in px (its cells are half a thumbnail)
MIN_CELL_SIZE = 64


@dataclass(frozen=True)
class ViewSettings:
    """How views look: the ``%config MJMagic`` display settings (ranges: mjnb.config)."""

    thumbnail_size: int = THUMBNAIL_SIZE
    jpeg_quality: int = JPEG_QUALITY
    updates_per_second: float = DEFAULT_UPDATES_PER_SECOND

    @property
    def cell_size(self) -> int:
        """A sweep grid's cell: half a card's thumbnail, at least :data:`MIN_CELL_SIZE`."""
        return max(MIN_CELL_SIZE, self.thumbnail_size // 2)


class Views:
    """Builds cards and sweep views with the settings in force when each is built.

    ``settings`` is called at every build (the magic passes a function reading its
    traitlets), so changing a setting applies to the next view without rebuilding
    whatever holds this object (a panel, for one).
    """

    def __init__(self, settings: Callable[[], ViewSettings] | ViewSettings | None = None) -> None:
        if settings is None:
            settings = ViewSettings()
        if isinstance(settings, ViewSettings):
            fixed = settings
            self._settings: Callable[[], ViewSettings] = lambda: fixed
        else:
            self._settings = settings

    @property
    def settings(self) -> ViewSettings:
        return self._settings()

    def card(self, task: Task, *, on_child: Callable[[Task], None] | None = None) -> TaskCard:
        """A live card for ``task`` (a video card for a video task); ``on_child`` hears
        of tasks its buttons start."""
        from .videocard import card_class

        settings = self.settings
        return card_class(task)(
            task,
            thumbnail_size=settings.thumbnail_size,
            updates_per_second=settings.updates_per_second,
            quality=settings.jpeg_quality,
            on_child=on_child,
        )

    def sweep(self, sweep: Sweep, *, client: Client | None = None) -> SweepView:
        """A live view of ``sweep``; with ``client``, a Resume button while cells wait."""
        from .sweepview import SweepView

        settings = self.settings
        on_resume = None
        if client is not None:

            def on_resume() -> list[Task]:
                return client.resume()  # type: ignore[attr-defined,no-any-return,unused-ignore]

        return SweepView(
            sweep,
            cell_size=settings.cell_size,
            quality=settings.jpeg_quality,
            on_resume=on_resume,
        )


_current: list[Views] = []


def use(views: Views | None) -> None:
    """Make ``views`` the ones :func:`current` answers (None: back to the defaults)."""
    _current[:] = [] if views is None else [views]


def current() -> Views:
    """The views of the loaded ``%mj`` extension, else ones with the default settings."""
    return _current[0] if _current else Views()


class Outputs:
    """The views a kernel displayed: each shown with a display id, and published (its
    output replaced by the static final state) once finished, on the main thread.

    ``static()`` answers whether finished views leave a static output (the
    ``static_outputs`` setting), ``live()`` whether they may also do so from the render
    thread (inside a kernel). :meth:`mark` / :meth:`taken` let a value the magic has
    shown already skip the display hook once.
    """

    def __init__(
        self, views: Views, *, static: Callable[[], bool], live: Callable[[], bool]
    ) -> None:
        self.views = views
        self._static = static
        self._live = live
        self.cards: list[TaskCard] = []  # displayed, final state not yet published
        self.sweep_views: list[SweepView] = []
        self.sweeps: list[Sweep] = []  # every sweep shown (for %mj cancel all)
        self._marked: set[int] = set()

    def card(self, task: Task, *, on_child: Callable[[Task], None] | None = None) -> TaskCard:
        card = self.views.card(task, on_child=on_child)
        card.show(live_static=self._live() and self._static())
        self.cards.append(card)
        return card

    def sweep(self, sweep: Sweep, *, client: Client | None = None) -> SweepView:
        view = self.views.sweep(sweep, client=client)
        view.show(live_static=self._live() and self._static())
        self.sweep_views.append(view)
        if sweep not in self.sweeps:
            self.sweeps.append(sweep)
        return view

    def publish(self) -> None:
        """Replace each finished card's and view's output with its final state."""
        self.cards = self._publish(self.cards)
        self.sweep_views = self._publish(self.sweep_views)

    def _publish(self, views: list[V]) -> list[V]:
        """Publish the finished ``views``; answer the others (still to publish)."""
        still = []
        for view in views:
            if not view.finished:
                still.append(view)
            elif self._static():
                view.publish_static()
            else:
                view.flush()
        return still

    def mark(self, value: object) -> None:
        """``value`` is shown already: its display hook skips it once (this cell)."""
        self._marked.add(id(value))

    def taken(self, value: object) -> bool:
        """True (once) if ``value`` was marked: the caller shows nothing."""
        if id(value) in self._marked:
            self._marked.discard(id(value))
            return True
        return False

    def clear_marks(self) -> None:
        self._marked.clear()
