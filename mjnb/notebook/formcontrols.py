"""The panel's form: the controls that write a prompt, the live preview, Submit, Stop
sweeps and the status line, laid out as the top of :class:`~.panel.Panel`.

The controls read into a :class:`~.form.Form` (:attr:`FormControls.form`) and a Form
loads back into them (:meth:`FormControls.load`); turning a Form into prompt text is
the plain functions of :mod:`.form`. What the buttons do, what the preview says and
which client sends belong to the panel, which wires them: this module only builds the
widgets and keeps them consistent with each other (a custom aspect box that opens for
"custom", a seed box that opens when the seed is locked).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets

from ..prompt import PARAMETERS
from .feedback import guarded
from .form import (
    AR_PRESETS,
    CUSTOM,
    SEED_MAX,
    SLIDERS,
    SPEEDS,
    VERSIONS,
    Form,
    disabled_controls,
    form_from_prompt,
    slider_default,
)

__all__ = ["FormControls"]


class FormControls(widgets.VBox):
    """The form's widgets in their rows, inside a bordered box.

    ``strict`` and ``translate`` are where their boxes start. ``on_change()`` hears of
    any change a user makes to what the form writes (not of the changes :meth:`load`
    makes); ``on_error(exc)`` shows what a callback raised, and hears of a failed
    upload. The panel wires ``provider``, ``submit`` and ``stop_button`` itself and
    fills ``preview`` and ``status``.
    """

    def __init__(
        self,
        *,
        strict: bool,
        translate: bool,
        on_change: Callable[[], object],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self._on_change = on_change
        self._on_error = on_error
        self._loading = False

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
        self.image_upload = ImageUpload(on_error=on_error)
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
            control.observe(self._on_value_change, names="value")
        self.ar.observe(self._on_ar_change, names="value")
        self.seed_lock.observe(self._on_seed_lock, names="value")

        row = widgets.HBox
        super().__init__(
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

    # -- reading and loading the form -------------------------------------------------------
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

    def load(self, form: Form | str) -> None:
        """Put a form (or a prompt's text and parameters) into the controls, without
        telling ``on_change`` of each control it sets."""
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

    def disable_unused(self) -> None:
        """Grey out what the chosen model does not take (the form then writes none of it)."""
        off = disabled_controls(VERSIONS[self.version.value])
        for name, control in (("weird", self.weird), ("hd", self.hd)):
            control.disabled = name in off

    # -- callbacks ---------------------------------------------------------------------------
    @guarded
    def _on_value_change(self, change: Mapping[str, Any]) -> None:
        if not self._loading:
            self._on_change()

    @guarded
    def _on_ar_change(self, change: Mapping[str, Any]) -> None:
        self.ar_custom.disabled = change["new"] != CUSTOM
        self._on_value_change(change)

    @guarded
    def _on_seed_lock(self, change: Mapping[str, Any]) -> None:
        locked = bool(change["new"])
        self.seed.disabled = not locked
        self.seed_lock.icon = "lock" if locked else "unlock"
        if locked and not self._loading and self.seed.value == 0:
            import random

            self.seed.value = random.randrange(0, SEED_MAX + 1)
        self._on_value_change(change)

    def show_error(self, exc: BaseException) -> None:
        """Where a guarded callback's error goes: the owner's ``on_error``."""
        self._on_error(exc)
