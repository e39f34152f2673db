"""``Panel``: a form that writes a Midjourney prompt, sends it, and shows what came back.

    >>> panel = mjnb.Panel()        # or %mj panel
    >>> panel                       # in a notebook: the form, the gallery, the history

Every control writes part of a prompt; the prompt that will be sent is shown live and
validated on every keystroke by the same parser ``%mj`` uses, and Submit stays
disabled while it is invalid. The form state becomes prompt text in plain functions
(:class:`Form`, :func:`build_prompt`, :func:`form_from_prompt`), tested without
widgets; the widget callbacks only read the controls, call :class:`mjnb.Client`, and
put a :class:`~mjnb.notebook.card.TaskCard` (or a
:class:`~mjnb.notebook.sweepview.SweepView`) at the top of the gallery.

Callbacks return at once (``imagine`` and ``sweep`` only queue work on the engine
thread) and never swallow an error: whatever a callback raises is shown in red in the
panel's status line. Reads of the task log for the history table run on the shared
render thread, not in the callback. Core ipywidgets only, so the panel runs wherever
ipywidgets 8 does (JupyterLab, Notebook 7, VS Code, Colab).

The panel composes its pieces and owns what they share (the client, the status line):
:class:`~.formcontrols.FormControls` (the form's widgets),
:class:`~.sweepbuilder.SweepBuilder` (axes, plan, Run sweep) and
:class:`~.history.HistoryTable`. Their widgets stay attributes of the panel
(``panel.prompt``, ``panel.run_sweep`` ...).
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .. import config
from ..errors import InvalidArgument, MJError, NotFound, PromptError
from ..prompt import parse_prompt
from .card import TaskCard
from .feedback import MUTED_STYLE, error_html, guarded, warnings_html
from .form import (
    AR_PRESETS,
    SPEEDS,
    SWEEP_AXES,
    VERSIONS,
    Form,
    build_prompt,
    form_from_prompt,
    prompt_warnings,
    provider_label,
    provider_status,
)
from .formcontrols import FormControls
from .history import HistoryTable
from .sweepbuilder import SweepBuilder
from .sweepview import SweepView
from .views import Views, current

if TYPE_CHECKING:
    from ..client import Client
    from ..sweep import Sweep
    from ..task import Task

__all__ = [
    "AR_PRESETS",
    "SPEEDS",
    "SWEEP_AXES",
    "VERSIONS",
    "Form",
    "Panel",
    "build_prompt",
    "form_from_prompt",
    "provider_status",
]

logger = logging.getLogger("mjnb")

HISTORY_ROWS = 10
GALLERY_SIZE = 12


class Panel(widgets.VBox):
    """The prompt panel: form, live prompt preview, sweep builder, gallery and history.

    ``client`` is the client to start with (default: :func:`mjnb.default_client`);
    choosing another provider in the form makes (and keeps) a client for it.
    ``max_jobs`` is the sweep size above which Run needs the confirmation box
    (default: the ``max_jobs`` setting, 40). ``gallery_size`` bounds the cards kept
    in the gallery (the log keeps everything). ``views`` builds the gallery's cards
    and sweep views (default: :func:`mjnb.notebook.views.current`, the ``%mj``
    extension's, so ``%config MJMagic.jpeg_quality`` and the rest apply here too).
    The strict and translate boxes start at the settings in force and choose the
    client that sends (``Client(strict=False)``, ``Client(translate=True)``).
    """

    def __init__(
        self,
        client: Client | None = None,
        *,
        max_jobs: int | None = None,
        views: Views | None = None,
        gallery_size: int = GALLERY_SIZE,
        history_rows: int = HISTORY_ROWS,
    ) -> None:
        if client is None:
            import mjnb

            client = mjnb.default_client()
        self.client: Client = client
        settings = config.settings()
        self._defaults = (settings.strict, settings.translate)
        self._clients: dict[tuple[str, bool, bool], Client] = {
            (client.provider, *self._defaults): client
        }
        self.max_jobs = max_jobs or settings.max_jobs
        self.views = views if views is not None else current()
        self.gallery_size = gallery_size
        #: the last error a callback raised (also shown in the status line)
        self.last_error: BaseException | None = None
        #: cards and sweep views started here, newest first (the gallery shows the first few)
        self.items: list[TaskCard | SweepView] = []
        self._lock = threading.RLock()

        #: the form: its controls, the preview, Submit, Stop sweeps and the status line
        self.controls = FormControls(
            strict=settings.strict,
            translate=settings.translate,
            on_change=self._refresh,
            on_error=self.show_error,
        )
        # the controls stay attributes of the panel too (scripts and tests use them)
        self.form_box = self.controls
        self.prompt = self.controls.prompt
        self.version = self.controls.version
        self.ar = self.controls.ar
        self.ar_custom = self.controls.ar_custom
        self.speed = self.controls.speed
        self.stylize = self.controls.stylize
        self.chaos = self.controls.chaos
        self.weird = self.controls.weird
        self.seed = self.controls.seed
        self.seed_lock = self.controls.seed_lock
        self.hd = self.controls.hd
        self.strict = self.controls.strict
        self.translate = self.controls.translate
        self.provider = self.controls.provider
        self.submit = self.controls.submit
        self.stop_button = self.controls.stop_button
        self.preview = self.controls.preview
        self.status = self.controls.status
        #: an image of your own for the next prompt (image prompt or style reference)
        self.image_upload = self.controls.image_upload
        self._set_provider_options()
        self.stop_button.on_click(self._on_stop)
        self.provider.observe(self._on_provider_change, names="value")
        self.submit.on_click(self._on_submit)

        #: the sweep builder: two axes over the form's prompt, its plan and Run sweep
        self.sweep_builder = SweepBuilder(
            form=lambda: self.form,
            provider=lambda: self.client.provider,
            max_jobs=lambda: self.max_jobs,
            on_run=self.start_sweep,
            on_error=self.show_error,
        )
        self.sweep_box = self.sweep_builder
        self.axis_x = self.sweep_builder.axis_x
        self.values_x = self.sweep_builder.values_x
        self.axis_y = self.sweep_builder.axis_y
        self.values_y = self.sweep_builder.values_y
        self.plan_label = self.sweep_builder.plan_label
        self.confirm = self.sweep_builder.confirm
        self.run_sweep = self.sweep_builder.run_sweep
        self.gallery = widgets.VBox(layout=widgets.Layout(width="100%"))
        self.gallery.add_class("mjnb-gallery")
        #: the log's newest rows, with Load buttons
        self.history_table = HistoryTable(
            lambda: self.client, size=history_rows, on_load=self._on_load, on_error=self.show_error
        )
        self.history = self.history_table.table
        self.history_note = self.history_table.note
        self.refresh_button = self.history_table.refresh_button
        self.extras = widgets.Accordion(
            children=[self.sweep_box, self.history_table], titles=("Sweep builder", "History")
        )
        self.extras.selected_index = None
        super().__init__(
            children=[self.form_box, self.extras, self.gallery],
            layout=widgets.Layout(width="100%", max_width="900px"),
        )
        self.add_class("mjnb-panel")
        self._refresh()
        self.history_table.request(urgent=True)

    def __repr__(self) -> str:
        return f"<mjnb.Panel provider={self.client.provider!r} items={len(self.items)}>"

    # -- building --------------------------------------------------------------------------
    def _set_provider_options(self) -> None:
        options = []
        made = {provider for provider, _, _ in self._clients}
        for name in config.PROVIDER_NAMES:
            missing = None if name in made else provider_status(name)
            options.append((provider_label(name, missing), name))
        self.provider.options = options
        self.provider.value = self.client.provider

    # -- reading the form --------------------------------------------------------------------
    @property
    def form(self) -> Form:
        """What the controls hold now."""
        return self.controls.form

    @form.setter
    def form(self, form: Form) -> None:
        self.load(form)

    @property
    def prompt_text(self) -> str | None:
        """The prompt Submit would send, or None while the form is invalid."""
        try:
            return build_prompt(self.form)
        except PromptError:
            return None

    def load(self, form: Form | str) -> None:
        """Put a form (or a prompt's text and parameters) into the controls."""
        self.controls.load(form)
        self._refresh()

    # -- callbacks ---------------------------------------------------------------------------
    @guarded
    def _on_provider_change(self, change: Mapping[str, Any]) -> None:
        name = change["new"]
        if name == self.client.provider:
            return
        try:
            self.use_provider(name)
        except Exception:
            self.provider.value = self.client.provider  # keep showing the one in use
            raise

    @guarded
    def _on_submit(self, button: Any = None) -> None:
        self.send_prompt()

    @guarded
    def _on_stop(self, button: Any = None) -> None:
        self.stop_sweeps()

    # -- what the buttons do (also for scripts and tests) ------------------------------------
    def use_provider(self, name: str) -> Client:
        """Switch to provider ``name``; raises ConfigError if its credentials are missing."""
        client = self._client_for(name, self.strict.value, self.translate.value)
        self.client = client
        if self.provider.value != name:
            self.provider.value = name
        self._set_status(f"Using {name}.")
        self.history_table.request(urgent=True)
        return client

    def _client_for(self, name: str, strict: bool, translate: bool) -> Client:
        """The client that sends to ``name`` with these checks (made once, then kept)."""
        key = (name, strict, translate)
        client = self._clients.get(key)
        if client is None:
            from ..client import Client

            options: dict[str, Any] = {}  # only what differs from the settings in force
            if strict != self._defaults[0]:
                options["strict"] = strict
            if translate != self._defaults[1]:
                options["translate"] = translate
            client = Client(name, **options)
            self._clients[key] = client
        return client

    def _sender(self, form: Form) -> Client:
        """The client for the form's strict/translate boxes, on the chosen provider."""
        client = self._client_for(self.client.provider, form.strict, form.translate)
        self.client = client
        return client

    def send_prompt(self) -> Task | Sweep:
        """What Submit does: send the prompt (a sweep if it has ``{a, b}`` groups).
        Its PromptWarnings follow the status line, one line each."""
        notes: list[str] = []
        with prompt_warnings(notes.append):
            sent = self._send_prompt()
        self.status.value += warnings_html(notes)
        return sent

    def _send_prompt(self) -> Task | Sweep:
        form = self.form
        client = self._sender(form)
        text, images = self.image_upload.prompt_and_options(
            build_prompt(form), client, strict=form.strict
        )
        if parse_prompt(text, strict=form.strict).is_permutation:
            if images:
                raise InvalidArgument(
                    "An uploaded image goes with a single prompt, not a sweep: Clear it, or "
                    "remove the {a, b} groups."
                )
            sweep = client.sweep(text, confirm=self.confirm.value, max_jobs=self.max_jobs)
            self._add_sweep(sweep)
            return sweep
        task = client.imagine(text, **images)
        self._add_task(task)
        return task

    def start_sweep(self) -> Sweep:
        """What Run sweep does: the form's prompt over the builder's axes."""
        notes: list[str] = []
        with prompt_warnings(notes.append):
            sweep = self._start_sweep()
        self.status.value += warnings_html(notes)
        return sweep

    def _start_sweep(self) -> Sweep:
        axes = self.sweep_builder.axes()
        form = self.form
        client = self._sender(form)
        text, images = self.image_upload.prompt_and_options(
            build_prompt(form), client, strict=form.strict
        )
        if images:
            raise InvalidArgument(
                "An uploaded image prompt goes with a single prompt, not a sweep: Clear it, "
                "or use it as the style reference."
            )
        sweep = client.sweep(text, confirm=self.confirm.value, max_jobs=self.max_jobs, **axes)
        self._add_sweep(sweep)
        return sweep

    def stop_sweeps(self) -> list[str]:
        """What Stop sweeps does: ``sweep.cancel()`` on every sweep started here that
        still runs; answers (and shows) the line each cancel answered."""
        running = [v for v in self.items if isinstance(v, SweepView) and not v.finished]
        if not running:
            self.stop_button.disabled = True
            raise InvalidArgument("No sweep started in this panel is still running.")
        messages = [view.stop() for view in running]
        self.stop_button.disabled = True
        self._set_status(" ".join(messages))
        return messages

    @property
    def _history(self) -> list[dict[str, Any]]:
        """The history rows on show, newest first."""
        return self.history_table.rows

    def refresh_history(self) -> None:
        """Read the log now and redraw the history table (on this thread)."""
        self.history_table.refresh()

    def load_row(self, index: int) -> None:
        """What a history row's Load does: its prompt and parameters into the form."""
        rows = self.history_table.rows
        if not 0 <= index < len(rows):
            raise NotFound(f"There is no history row {index}; the table has {len(rows)}.")
        prompt = rows[index].get("prompt") or ""
        self.load(form_from_prompt(prompt))
        self._set_status(f"Loaded task {rows[index]['task_id']}.")

    # -- gallery -----------------------------------------------------------------------------
    def _add_task(self, task: Task) -> TaskCard:
        card = self.views.card(task, on_child=self._follow)
        self._follow(task)
        self._add_item(card)
        self._set_status(f"Sent task {task.id} to {task.provider}.")
        return card

    def _add_sweep(self, sweep: Sweep) -> SweepView:
        view = self.views.sweep(sweep, client=self.client)
        for task in sweep.tasks:
            self._follow(task)
        self._add_item(view)
        self.stop_button.disabled = False
        self._set_status(f"Started sweep {sweep.id}: {sweep.plan}.")
        return view

    def _add_item(self, item: TaskCard | SweepView) -> None:
        with self._lock:
            self.items.insert(0, item)
            self.gallery.children = tuple(self.items[: self.gallery_size])
        self.history_table.request()

    def _follow(self, task: Task) -> None:
        """Refresh the history table when ``task`` (or a child) finishes."""
        self.history_table.follow(task)

    # -- rendering ---------------------------------------------------------------------------
    def _refresh(self) -> None:
        """Redraw the preview and the sweep plan from the form as it is now."""
        self._refresh_preview()
        self.sweep_builder.refresh()

    def _refresh_preview(self) -> None:
        self.controls.disable_unused()
        form = self.form
        if not form.text.strip():
            self.preview.value = (
                f"<span style='{MUTED_STYLE}'>Type a prompt; the text that will be sent "
                "shows here.</span>"
            )
            self.submit.disabled = True
            return
        notes: list[str] = []
        try:
            with prompt_warnings(notes.append):
                text = build_prompt(form)
                jobs = len(parse_prompt(text, strict=form.strict).expand())
        except PromptError as exc:
            self.preview.value = (
                f"<div style='font-size:13px'><b>Not sendable:</b> {error_html(str(exc))}</div>"
            )
            self.submit.disabled = True
            return
        what = "1 job" if jobs == 1 else f"a sweep of {jobs} jobs"
        self.preview.value = (
            "<div style='font-size:13px'><b>Will send</b> "
            f"<span style='{MUTED_STYLE}'>({what} on {html.escape(self.client.provider)})</span>"
            "<br><code style='white-space:pre-wrap;word-break:break-word'>"
            f"{html.escape(text)}</code>{warnings_html(notes)}</div>"
        )
        self.submit.disabled = False

    @guarded
    def _on_load(self, index: int) -> None:
        self.load_row(index)

    # -- status line -------------------------------------------------------------------------
    def _set_status(self, message: str) -> None:
        self.status.value = f"<span style='{MUTED_STYLE}'>{html.escape(message)}</span>"

    def show_error(self, exc: BaseException) -> None:
        """Show ``exc`` in the status line and keep it as :attr:`last_error`; an error
        that is not an MJError (a bug) is logged with its traceback too."""
        self.last_error = exc
        message = str(exc) if isinstance(exc, MJError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, MJError):
            logger.error("mjnb: a panel callback failed", exc_info=exc)
        self.status.value = error_html(message)
