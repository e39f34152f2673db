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
"""

from __future__ import annotations

import functools
import html
import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import ipywidgets as widgets

from .. import config
from ..errors import InvalidArgument, MJError, NotFound, PromptError
from ..prompt import PARAMETERS, parse_prompt
from .card import TaskCard
from .form import (
    AR_PRESETS,
    CUSTOM,
    NO_AXIS,
    SEED_MAX,
    SLIDERS,
    SPEEDS,
    SWEEP_AXES,
    VERSIONS,
    Form,
    build_prompt,
    disabled_controls,
    form_from_prompt,
    prompt_warnings,
    provider_label,
    provider_status,
    slider_default,
)
from .history import HistoryTable
from .sweepview import SweepView
from .views import Views, current

if TYPE_CHECKING:
    from ..client import Client
    from ..sweep import Sweep, SweepPlan
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

_ERROR_STYLE = "color:#c62828"
_MUTED_STYLE = "color:#666"
_WARNING_STYLE = "color:#ef6c00"


def _error_html(message: str) -> str:
    return f"<span style='{_ERROR_STYLE}'>{html.escape(message)}</span>"


def _warnings_html(notes: list[str]) -> str:
    """Each PromptWarning as one line (the prompt is sent anyway)."""
    return "".join(
        f"<br><span style='{_WARNING_STYLE}'>⚠ {html.escape(note)}</span>" for note in notes
    )


def _ignore(note: str) -> None:
    """For parses whose warnings the preview already shows."""


# ----------------------------------------------------------------------------- widget

F = TypeVar("F", bound=Callable[..., Any])


def _guarded(method: F) -> F:
    """Run a callback; show anything it raises in the panel's status line (and re-log it)."""

    @functools.wraps(method)
    def wrapper(self: Panel, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            self._show_error(exc)
            return None

    return wrapper  # type: ignore[return-value]


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
        self._loading = False
        self._plan: SweepPlan | None = None

        self._build_form()
        self._build_sweep_builder()
        self.gallery = widgets.VBox(layout=widgets.Layout(width="100%"))
        self.gallery.add_class("mjnb-gallery")
        #: the log's newest rows, with Load buttons
        self.history_table = HistoryTable(
            lambda: self.client, size=history_rows, on_load=self._on_load, on_error=self._show_error
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
        self._refresh_preview()
        self._refresh_plan()
        self.history_table.request(urgent=True)

    def __repr__(self) -> str:
        return f"<mjnb.Panel provider={self.client.provider!r} items={len(self.items)}>"

    # -- building --------------------------------------------------------------------------
    def _build_form(self) -> None:
        def label(text: str, width: str = "64px") -> widgets.Label:
            return widgets.Label(text, layout=widgets.Layout(width=width))

        self.prompt = widgets.Textarea(
            placeholder="a red fox in snow, golden hour   (parameters like --no text work too)",
            continuous_update=True,
            rows=3,
            layout=widgets.Layout(width="100%"),
        )
        self.prompt.add_class("mjnb-prompt")
        self.version = widgets.Dropdown(
            options=list(VERSIONS), value="default", layout=widgets.Layout(width="110px")
        )
        self.ar = widgets.Dropdown(
            options=[*AR_PRESETS, CUSTOM], value="1:1", layout=widgets.Layout(width="90px")
        )
        self.ar_custom = widgets.Text(
            placeholder="W:H",
            continuous_update=True,
            disabled=True,
            layout=widgets.Layout(width="70px"),
        )
        self.speed = widgets.ToggleButtons(
            options=list(SPEEDS),
            value="fast",
            tooltips=[
                "Fast GPU time (the default)",
                "Relax: slow, uses no fast time",
                "Turbo: quickest, twice the fast time",
            ],
            style=widgets.ToggleButtonsStyle(button_width="56px"),
        )
        slider_layout = widgets.Layout(width="264px")
        self.stylize, self.chaos, self.weird = (
            widgets.IntSlider(
                value=slider_default(name),
                min=low,
                max=high,
                step=10 if high >= 1000 else 1,
                continuous_update=False,
                description=name,
                layout=slider_layout,
                style={"description_width": "52px"},
                tooltip=PARAMETERS[name].help,
            )
            for name, (low, high) in SLIDERS.items()
        )
        self.seed = widgets.BoundedIntText(
            value=0, min=0, max=SEED_MAX, disabled=True, layout=widgets.Layout(width="120px")
        )
        self.seed_lock = widgets.ToggleButton(
            value=False,
            description="lock seed",
            icon="unlock",
            tooltip="Locked: every submit uses this seed. Unlocked: Midjourney picks one.",
            layout=widgets.Layout(width="auto"),
        )
        self.hd = widgets.ToggleButton(
            value=False,
            description="HD",
            tooltip="--hd: V8's native 2K render (V8.x only)",
            layout=widgets.Layout(width="56px"),
        )
        strict, translate = self._defaults
        self.strict = widgets.Checkbox(
            value=strict,
            description="strict",
            indent=False,
            tooltip="Refuse unknown --parameters (unticked: send them with a warning)",
            layout=widgets.Layout(width="auto"),
        )
        self.translate = widgets.Checkbox(
            value=translate,
            description="translate",
            indent=False,
            tooltip="Ask the provider to translate the prompt to English first (Ace)",
            layout=widgets.Layout(width="auto"),
        )
        self.provider = widgets.Dropdown(layout=widgets.Layout(width="260px"))
        self._set_provider_options()
        self.submit = widgets.Button(
            description="Submit", button_style="primary", icon="paper-plane", disabled=True
        )
        self.stop_button = widgets.Button(
            description="Stop sweeps",
            icon="stop",
            disabled=True,
            tooltip="Stop every sweep started here that still runs (sweep.cancel(): cells "
            "not sent yet are never sent; finished cells stay)",
            layout=widgets.Layout(width="auto"),
        )
        self.stop_button.on_click(self._on_stop)
        for widget, name in (
            (self.version, "version"),
            (self.ar, "ar"),
            (self.ar_custom, "ar-custom"),
            (self.speed, "speed"),
            (self.stylize, "stylize"),
            (self.chaos, "chaos"),
            (self.weird, "weird"),
            (self.seed, "seed"),
            (self.seed_lock, "seed-lock"),
            (self.hd, "hd"),
            (self.strict, "strict"),
            (self.translate, "translate"),
            (self.provider, "provider"),
            (self.submit, "submit"),
            (self.stop_button, "stop"),
        ):
            widget.add_class(f"mjnb-{name}")  # CSS hooks for styles and front-end tests
        self.preview = widgets.HTML()
        self.preview.add_class("mjnb-preview")
        from .uploads import ImageUpload

        #: an image of your own for the next prompt (image prompt or style reference)
        self.image_upload = ImageUpload(on_error=self._show_error)
        self.status = widgets.HTML()
        self.status.add_class("mjnb-status")

        for control in (
            self.prompt,
            self.version,
            self.ar_custom,
            self.stylize,
            self.chaos,
            self.weird,
            self.seed,
            self.speed,
            self.hd,
            self.strict,
            self.translate,
        ):
            control.observe(self._on_form_change, names="value")
        self.ar.observe(self._on_ar_change, names="value")
        self.seed_lock.observe(self._on_seed_lock, names="value")
        self.provider.observe(self._on_provider_change, names="value")
        self.submit.on_click(self._on_submit)

        row = widgets.HBox
        self.form_box = widgets.VBox(
            [
                self.prompt,
                row(
                    [
                        label("model", "44px"),
                        self.version,
                        self.hd,
                        label("aspect", "48px"),
                        self.ar,
                        self.ar_custom,
                        label("speed", "42px"),
                        self.speed,
                    ],
                    layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
                ),
                row(
                    [self.stylize, self.chaos, self.weird],
                    layout=widgets.Layout(flex_flow="row wrap"),
                ),
                row(
                    [
                        label("seed", "44px"),
                        self.seed,
                        self.seed_lock,
                        label("provider", "60px"),
                        self.provider,
                        self.strict,
                        self.translate,
                    ],
                    layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
                ),
                self.image_upload,
                self.preview,
                row(
                    [self.submit, self.stop_button, self.status],
                    layout=widgets.Layout(align_items="center"),
                ),
            ],
            layout=widgets.Layout(border="1px solid #ddd", padding="8px", width="100%"),
        )

    def _build_sweep_builder(self) -> None:
        axes = [NO_AXIS, *SWEEP_AXES]
        self.axis_x = widgets.Dropdown(
            options=axes, value=NO_AXIS, layout=widgets.Layout(width="130px")
        )
        self.axis_y = widgets.Dropdown(
            options=axes, value=NO_AXIS, layout=widgets.Layout(width="130px")
        )
        self.values_x = widgets.Text(continuous_update=True, layout=widgets.Layout(width="300px"))
        self.values_y = widgets.Text(continuous_update=True, layout=widgets.Layout(width="300px"))
        self.plan_label = widgets.HTML()
        self.plan_label.add_class("mjnb-plan")
        self.confirm = widgets.Checkbox(
            value=False, description="run anyway", indent=False, layout=widgets.Layout(width="auto")
        )
        self.run_sweep = widgets.Button(
            description="Run sweep", icon="th", disabled=True, layout=widgets.Layout(width="auto")
        )
        self.run_sweep.add_class("mjnb-run-sweep")
        for control in (self.axis_x, self.axis_y):
            control.observe(self._on_axis_change, names="value")
        for control in (self.values_x, self.values_y, self.confirm):
            control.observe(self._on_plan_change, names="value")
        self.run_sweep.on_click(self._on_run_sweep)
        note = widgets.HTML(
            f"<span style='{_MUTED_STYLE}'>Values: a list (<code>1, 2, 3</code>) or a range "
            "(<code>0..1000 step 250</code>, <code>0..1000/5</code>). The rest of the prompt "
            "comes from the form above.</span>"
        )
        self.sweep_box = widgets.VBox(
            [
                note,
                widgets.HBox(
                    [
                        widgets.Label("axis 1", layout=widgets.Layout(width="48px")),
                        self.axis_x,
                        self.values_x,
                    ]
                ),
                widgets.HBox(
                    [
                        widgets.Label("axis 2", layout=widgets.Layout(width="48px")),
                        self.axis_y,
                        self.values_y,
                    ]
                ),
                self.plan_label,
                widgets.HBox(
                    [self.run_sweep, self.confirm], layout=widgets.Layout(align_items="center")
                ),
            ]
        )

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
        ar = self.ar_custom.value.strip() if self.ar.value == CUSTOM else self.ar.value
        return Form(
            text=self.prompt.value,
            version=VERSIONS[self.version.value],
            ar=ar or "1:1",
            stylize=self.stylize.value,
            chaos=self.chaos.value,
            weird=self.weird.value,
            seed=self.seed.value if self.seed_lock.value else None,
            speed=self.speed.value,
            hd=self.hd.value,
            strict=self.strict.value,
            translate=self.translate.value,
        )

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
        if isinstance(form, str):
            form = form_from_prompt(form)
        version = next((k for k, v in VERSIONS.items() if v == form.version), "default")
        self._loading = True
        try:
            self.prompt.value = form.text
            self.version.value = version
            if form.ar in AR_PRESETS:
                self.ar.value = form.ar
                self.ar_custom.value = ""
            else:
                self.ar.value = CUSTOM
                self.ar_custom.value = form.ar
            self.stylize.value = form.stylize
            self.chaos.value = form.chaos
            self.weird.value = form.weird
            self.seed_lock.value = form.seed is not None
            if form.seed is not None:
                self.seed.value = form.seed
            self.speed.value = form.speed
            self.hd.value = form.hd
            self.strict.value = form.strict
            self.translate.value = form.translate
        finally:
            self._loading = False
        self._refresh_preview()
        self._refresh_plan()

    # -- callbacks ---------------------------------------------------------------------------
    @_guarded
    def _on_form_change(self, change: Mapping[str, Any]) -> None:
        if not self._loading:
            self._refresh_preview()
            self._refresh_plan()

    @_guarded
    def _on_ar_change(self, change: Mapping[str, Any]) -> None:
        self.ar_custom.disabled = change["new"] != CUSTOM
        self._on_form_change(change)

    @_guarded
    def _on_seed_lock(self, change: Mapping[str, Any]) -> None:
        locked = bool(change["new"])
        self.seed.disabled = not locked
        self.seed_lock.icon = "lock" if locked else "unlock"
        if locked and not self._loading and self.seed.value == 0:
            import random

            self.seed.value = random.randrange(0, SEED_MAX + 1)
        self._on_form_change(change)

    @_guarded
    def _on_provider_change(self, change: Mapping[str, Any]) -> None:
        name = change["new"]
        if name == self.client.provider:
            return
        try:
            self.use_provider(name)
        except Exception:
            self.provider.value = self.client.provider  # keep showing the one in use
            raise

    @_guarded
    def _on_submit(self, button: Any = None) -> None:
        self.send_prompt()

    @_guarded
    def _on_axis_change(self, change: Mapping[str, Any]) -> None:
        for axis, values in ((self.axis_x, self.values_x), (self.axis_y, self.values_y)):
            values.disabled = axis.value == NO_AXIS
            values.placeholder = "" if axis.value == NO_AXIS else SWEEP_AXES[axis.value][1]
        self._refresh_plan()

    @_guarded
    def _on_plan_change(self, change: Mapping[str, Any]) -> None:
        self._refresh_plan()

    @_guarded
    def _on_run_sweep(self, button: Any = None) -> None:
        self.start_sweep()

    @_guarded
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
        self.status.value += _warnings_html(notes)
        return sent

    def _send_prompt(self) -> Task | Sweep:
        form = self.form
        text = build_prompt(form)
        client = self._sender(form)
        images = self.image_upload.imagine_options(client)
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
        self.status.value += _warnings_html(notes)
        return sweep

    def _start_sweep(self) -> Sweep:
        axes = self._axes()
        form = self.form
        text = build_prompt(form)
        client = self._sender(form)
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
    def _refresh_preview(self) -> None:
        self._disable_controls()
        form = self.form
        if not form.text.strip():
            self.preview.value = (
                f"<span style='{_MUTED_STYLE}'>Type a prompt; the text that will be sent "
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
                f"<div style='font-size:13px'><b>Not sendable:</b> {_error_html(str(exc))}</div>"
            )
            self.submit.disabled = True
            return
        what = "1 job" if jobs == 1 else f"a sweep of {jobs} jobs"
        self.preview.value = (
            "<div style='font-size:13px'><b>Will send</b> "
            f"<span style='{_MUTED_STYLE}'>({what} on {html.escape(self.client.provider)})</span>"
            "<br><code style='white-space:pre-wrap;word-break:break-word'>"
            f"{html.escape(text)}</code>{_warnings_html(notes)}</div>"
        )
        self.submit.disabled = False

    def _disable_controls(self) -> None:
        """Grey out what the chosen model does not take (the form then writes none of it)."""
        off = disabled_controls(VERSIONS[self.version.value])
        for name, control in (("weird", self.weird), ("hd", self.hd)):
            control.disabled = name in off

    def _axes(self) -> dict[str, str]:
        axes: dict[str, str] = {}
        for axis, values in ((self.axis_x, self.values_x), (self.axis_y, self.values_y)):
            if axis.value == NO_AXIS:
                continue
            name = SWEEP_AXES[axis.value][0]
            if name in axes:
                raise PromptError(f"Both axes are {axis.value}; choose two different axes.")
            if not values.value.strip():
                raise PromptError(
                    f"Give the values of {axis.value}, e.g. {SWEEP_AXES[axis.value][1]}."
                )
            axes[name] = values.value
        return axes

    def _refresh_plan(self) -> None:
        from ..sweep import plan_sweep

        self._plan = None
        self.run_sweep.disabled = True
        try:
            with prompt_warnings(_ignore):
                axes = self._axes()
                form = self.form
                text = build_prompt(form)
                if not axes and not parse_prompt(text, strict=form.strict).is_permutation:
                    self.plan_label.value = (
                        f"<span style='{_MUTED_STYLE}'>Choose an axis and its values.</span>"
                    )
                    return
                plan = plan_sweep(
                    text, axes=axes, provider=self.client.provider, strict=form.strict
                )
        except PromptError as exc:
            message = str(exc)
            if not self.prompt.value.strip():
                message = "Type a prompt above first."
            self.plan_label.value = _error_html(message)
            return
        self._plan = plan
        over = plan.jobs > self.max_jobs
        text = html.escape(str(plan))
        if over:
            text += _error_html(
                f" — more than max_jobs={self.max_jobs}; tick 'run anyway' to run it."
            )
        self.plan_label.value = f"<b>{text}</b>" if not over else text
        self.run_sweep.disabled = over and not self.confirm.value

    @_guarded
    def _on_load(self, index: int) -> None:
        self.load_row(index)

    # -- status line -------------------------------------------------------------------------
    def _set_status(self, message: str) -> None:
        self.status.value = f"<span style='{_MUTED_STYLE}'>{html.escape(message)}</span>"

    def _show_error(self, exc: BaseException) -> None:
        self.last_error = exc
        message = str(exc) if isinstance(exc, MJError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, MJError):
            logger.error("mjnb: a panel callback failed", exc_info=exc)
        self.status.value = _error_html(message)
