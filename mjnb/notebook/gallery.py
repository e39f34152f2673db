"""The common gallery: everyone's recent results from the shared log, live.

``mjnb.Gallery()`` (or ``%mj gallery``) reads the newest rows of the client's log,
which a class or a studio shares (``MJNB_LOG_URL``), with the thumbnails the runners
put in the log's ``thumbnails`` table (small JPEGs), so it works from any machine: the
full images stay in each machine's cache (or in a shared ``MJNB_IMAGES`` folder).

Filters: user, prompt text (a case-insensitive substring), a parameter (``ar=3:2``,
``stylize=250``, or a bare name: rows that set it) and status. Each result has *Load*
(put its prompt into my :class:`~mjnb.notebook.panel.Panel`) and an action menu with
*Act* (``U1``, ``V2``, ... sent by my client, on my budget). The gallery re-reads the
log every ``refresh`` seconds on the render thread while it is shown; :meth:`refresh`
reads it now.
"""

from __future__ import annotations

import contextlib
import html
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import MJError
from ..log.shared import SharedDB, get_thumbnails, put_thumbnail
from ..vocab import STATUSES, THUMBNAIL_SIZE
from .liveview import Throttle

if TYPE_CHECKING:
    import pandas as pd

    from ..client import Client
    from ..task import Task
    from .panel import Panel

__all__ = ["Gallery", "select_results"]

ANY = "(any)"
#: pictures made from cached files in one render (a first look at 60 results stays quick)
MAKE_PER_RENDER = 12
#: what the action menu offers for an image grid (the provider checks the rest)
GRID_ACTIONS = ("U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "reroll")


def _matches_param(frame: pd.DataFrame, param: str) -> Any:
    name, _, value = (part.strip() for part in param.partition("="))
    name = name.lstrip("-").lower()
    if name not in frame.columns:
        return frame["prompt"].str.contains(f"--{name}", case=False, regex=False, na=False)
    column = frame[name]
    if not value:
        return column.notna()
    try:  # numbers compare as numbers (a float column holds 250 as 250.0)
        number = float(value)
    except ValueError:
        return column.astype(str).str.lower() == value.lower()
    import pandas as pd

    return pd.to_numeric(column, errors="coerce") == number


def select_results(
    frame: pd.DataFrame,
    *,
    user: str | None = None,
    text: str | None = None,
    param: str | None = None,
    status: str | None = None,
    limit: int = 60,
) -> pd.DataFrame:
    """The rows of a log DataFrame the gallery shows, newest first (pure: no widgets)."""
    rows = frame
    if user and user != ANY:
        rows = rows[rows["user"] == user]
    if text:
        rows = rows[rows["text"].str.contains(text, case=False, regex=False, na=False)]
    if param:
        rows = rows[_matches_param(rows, param)]
    if status and status != ANY:
        rows = rows[rows["status"] == status]
    return rows.sort_values("submitted_at", ascending=False).head(limit).reset_index(drop=True)


class Gallery(widgets.VBox):
    """Everyone's recent results in the client's (shared) log, refreshing live.

    ``client``: whose log to read and who acts (default :func:`mjnb.default_client`);
    ``panel``: where *Load* puts a prompt (default: a Panel made on first use, shown
    above the grid); ``limit``: results shown; ``refresh``: seconds between re-reads
    (0: only on :meth:`refresh`); ``scan``: log rows read per refresh.
    """

    def __init__(
        self,
        client: Client | None = None,
        *,
        panel: Panel | None = None,
        limit: int = 60,
        refresh: float = 5.0,
        scan: int = 2000,
        user: str | None = None,
        text: str = "",
        param: str = "",
        status: str | None = None,
    ) -> None:
        if client is None:
            import mjnb

            client = mjnb.default_client()
        self.client = client
        self.panel = panel
        self.limit = limit
        self.scan = scan
        self.db = SharedDB.for_log(client.session.log)
        #: the rows on show, newest first (dicts of log columns); ``tiles`` their widgets
        self.rows: list[dict[str, Any]] = []
        self.tiles: list[widgets.VBox] = []
        #: tasks started from the gallery's Act buttons, newest last
        self.started: list[Task] = []
        self.last_error: BaseException | None = None
        self._unreadable: set[str] = set()  # results whose file made no picture
        self._lock = threading.RLock()
        self.user = widgets.Dropdown(
            options=[ANY] + ([user] if user else []), value=user or ANY, description="User"
        )
        self.text = widgets.Text(value=text, placeholder="prompt contains", description="Text")
        self.param = widgets.Text(value=param, placeholder="ar=3:2, stylize", description="Param")
        self.status = widgets.Dropdown(
            options=[ANY, *STATUSES], value=status or ANY, description="Status"
        )
        self.note = widgets.HTML()
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _b: self.request(urgent=True))
        for control in (self.user, self.text, self.param, self.status):
            control.observe(lambda _c: self.request(urgent=True), names="value")
        self.panel_box = widgets.VBox()
        self.grid = widgets.GridBox(
            layout=widgets.Layout(
                grid_template_columns="repeat(auto-fill, minmax(180px, 1fr))",
                grid_gap="8px",
                width="100%",
            )
        )
        self.grid.add_class("mjnb-common-gallery")
        filters = widgets.HBox([self.user, self.text, self.param, self.status])
        filters.layout.flex_flow = "row wrap"
        super().__init__(
            [
                filters,
                widgets.HBox([self.note, self.refresh_button]),
                self.panel_box,
                self.grid,
            ],
            layout=widgets.Layout(width="100%"),
        )
        self.add_class("mjnb-gallery-common")
        self._throttle = Throttle(self._render, 0.5)
        self._stop = threading.Event()
        self.interval = refresh
        if refresh > 0:
            threading.Thread(target=self._tick, name="mjnb-gallery", daemon=True).start()
        self.refresh()

    def __repr__(self) -> str:
        return f"<mjnb.Gallery results={len(self.rows)}>"

    # -- reading -------------------------------------------------------------------------
    def request(self, *, urgent: bool = False) -> None:
        """Re-read soon, on the render thread."""
        self._throttle.request(urgent=urgent)

    def refresh(self) -> None:
        """Re-read the log and redraw now (on this thread)."""
        self._throttle.request(urgent=True)
        self._throttle.flush()

    def close(self) -> None:
        self._stop.set()
        super().close()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self.request()

    def _render(self) -> None:
        try:
            frame = self.client.log(limit=self.scan)
            chosen = select_results(
                frame,
                user=self.user.value,
                text=self.text.value.strip(),
                param=self.param.value.strip(),
                status=self.status.value,
                limit=self.limit,
            )
            rows = chosen.to_dict("records")
            thumbs = get_thumbnails(self.db, [r["task_id"] for r in rows])
            thumbs.update(self._made(r for r in rows if r["task_id"] not in thumbs))
        except Exception as exc:  # a gallery that cannot read says so, and keeps going
            self.last_error = exc
            self.note.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            return
        with self._lock:
            self.last_error = None
            users = sorted({str(u) for u in frame["user"].dropna()})
            current = self.user.value
            self.user.options = (
                [ANY, *users] if current in (ANY, *users) else [ANY, current, *users]
            )
            self.rows = rows
            self.tiles = [
                self._tile(i, row, thumbs.get(row["task_id"])) for i, row in enumerate(rows)
            ]
            self.grid.children = self.tiles
            people = len({r["user"] for r in rows})
            self.note.value = (
                f"{len(rows)} result(s) from {people} user(s), newest first"
                f" ({len(thumbs)} with a picture)"
            )

    def _made(self, rows: Iterable[dict[str, Any]]) -> dict[str, bytes]:
        """Pictures for results the log has none of (the personal log's runners make
        none), from the image files this machine can read, at most ``MAKE_PER_RENDER``
        a render (the next render makes more); stored for the next look. A file that
        cannot be read is not tried again."""
        from ..images import thumbnail_jpeg

        made: dict[str, bytes] = {}
        for row in rows:
            path, task_id = row.get("image_path"), row["task_id"]
            if row["status"] != "succeeded" or not isinstance(path, str) or not path:
                continue
            if task_id in self._unreadable:
                continue
            if len(made) == MAKE_PER_RENDER:
                self.request()  # the rest on the next render
                break
            try:
                jpeg, size = thumbnail_jpeg(path, THUMBNAIL_SIZE)
            except (MJError, OSError):  # a missing or damaged file: the status tile
                self._unreadable.add(task_id)
                continue
            made[task_id] = jpeg
            with contextlib.suppress(MJError):  # shown now either way
                put_thumbnail(self.db, task_id, row.get("user"), jpeg, size)
        return made

    def _tile(self, index: int, row: dict[str, Any], jpeg: bytes | None) -> widgets.VBox:
        if jpeg:
            picture: widgets.Widget = widgets.Image(
                value=jpeg, format="jpeg", layout=widgets.Layout(width="100%")
            )
        else:
            picture = widgets.HTML(
                f"<div style='height:120px;display:flex;align-items:center;justify-content:"
                f"center;background:#eee;color:#666'>{html.escape(str(row['status']))}</div>"
            )
        prompt = str(row.get("prompt") or "")
        short = prompt if len(prompt) <= 80 else prompt[:79] + "…"
        caption = widgets.HTML(
            f"<div class='mjnb-gallery-caption' title='{html.escape(prompt)}'>"
            f"<b>{html.escape(str(row.get('user') or '?'))}</b> · "
            f"{html.escape(str(row['status']))}<br>{html.escape(short)}</div>"
        )
        load = widgets.Button(
            description="Load", tooltip="load into my panel", layout={"width": "auto"}
        )
        load.on_click(lambda _b, i=index: self.load(i))
        action = widgets.Dropdown(options=GRID_ACTIONS, value="U1", layout={"width": "80px"})
        act = widgets.Button(
            description="Act", tooltip="act on it (my client, my budget)", layout={"width": "auto"}
        )
        act.on_click(lambda _b, i=index, a=action: self.act(i, a.value))
        if row["status"] != "succeeded":
            act.disabled = True
        tile = widgets.VBox([picture, caption, widgets.HBox([load, action, act])])
        tile.add_class("mjnb-gallery-item")
        return tile

    # -- the buttons -----------------------------------------------------------------------
    def load(self, index: int) -> Panel:
        """Put result ``index``'s prompt into my panel (made and shown here if none)."""
        row = self.rows[index]
        if self.panel is None:
            from .panel import Panel

            self.panel = Panel(self.client)
            self.panel_box.children = [self.panel]
        self.panel.load(str(row["prompt"]))
        return self.panel

    def act(self, index: int, label: str) -> Task | None:
        """Start ``label`` (``U1`` ...) on result ``index`` with my client."""
        row = self.rows[index]
        try:
            task = self.client.act(str(row["task_id"]), label)
        except Exception as exc:
            self.last_error = exc
            self.note.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            return None
        self.started.append(task)
        self.note.value = f"{html.escape(label)} on {row['task_id']}: task {task.id} started"
        return task

    def users(self) -> Sequence[str]:
        return [u for u in self.user.options if u != ANY]
