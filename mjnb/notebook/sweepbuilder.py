"""The panel's sweep builder: up to two axes with their values, the plan they make with
the form's prompt, and Run sweep.

The rest of the prompt comes from the form: the builder asks its owner for the
:class:`~.form.Form` (and the provider the plan is for) each time it plans, so it never
holds a copy that could go stale. Planning is :func:`mjnb.sweep.plan_sweep`, the same
function ``Client.sweep`` runs; the builder only shows its answer.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import PromptError
from ..prompt import parse_prompt
from .feedback import MUTED_STYLE, error_html, guarded
from .form import NO_AXIS, SWEEP_AXES, Form, build_prompt, prompt_warnings

if TYPE_CHECKING:
    from ..sweep import SweepPlan

__all__ = ["SweepBuilder"]


def _ignore(note: str) -> None:
    """For parses whose warnings the preview already shows."""


class SweepBuilder(widgets.VBox):
    """Two axis dropdowns with their values, the plan line, Run sweep and 'run anyway'.

    ``form()`` and ``provider()`` are read at each plan; ``max_jobs()`` is the size
    above which Run needs 'run anyway'. ``on_run()`` is what Run sweep does;
    ``on_error(exc)`` shows what a callback raised (the panel's status line).
    """

    def __init__(
        self,
        *,
        form: Callable[[], Form],
        provider: Callable[[], str],
        max_jobs: Callable[[], int],
        on_run: Callable[[], object],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self._form = form
        self._provider = provider
        self._max_jobs = max_jobs
        self._on_run = on_run
        self._on_error = on_error
        #: the plan on show, or None while the axes or the prompt are not sendable
        self.plan: SweepPlan | None = None
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
            f"<span style='{MUTED_STYLE}'>Values: a list (<code>1, 2, 3</code>) or a range "
            "(<code>0..1000 step 250</code>, <code>0..1000/5</code>). The rest of the prompt "
            "comes from the form above.</span>"
        )
        super().__init__(
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

    # -- callbacks ---------------------------------------------------------------------------
    @guarded
    def _on_axis_change(self, change: Mapping[str, Any]) -> None:
        for axis, values in ((self.axis_x, self.values_x), (self.axis_y, self.values_y)):
            values.disabled = axis.value == NO_AXIS
            values.placeholder = "" if axis.value == NO_AXIS else SWEEP_AXES[axis.value][1]
        self.refresh()

    @guarded
    def _on_plan_change(self, change: Mapping[str, Any]) -> None:
        self.refresh()

    @guarded
    def _on_run_sweep(self, button: Any = None) -> None:
        self._on_run()

    def show_error(self, exc: BaseException) -> None:
        """Where a guarded callback's error goes: the owner's ``on_error``."""
        self._on_error(exc)

    # -- planning ----------------------------------------------------------------------------
    def axes(self) -> dict[str, str]:
        """The chosen axes as ``Client.sweep`` keywords; PromptError if one is half-given."""
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

    def refresh(self) -> None:
        """Plan the form's prompt over the axes again and show the plan (or what is wrong)."""
        from ..sweep import plan_sweep

        self.plan = None
        self.run_sweep.disabled = True
        try:
            with prompt_warnings(_ignore):
                axes = self.axes()
                form = self._form()
                text = build_prompt(form)
                if not axes and not parse_prompt(text, strict=form.strict).is_permutation:
                    self.plan_label.value = (
                        f"<span style='{MUTED_STYLE}'>Choose an axis and its values.</span>"
                    )
                    return
                plan = plan_sweep(text, axes=axes, provider=self._provider(), strict=form.strict)
        except PromptError as exc:
            message = str(exc)
            if not self._form().text.strip():
                message = "Type a prompt above first."
            self.plan_label.value = error_html(message)
            return
        self.plan = plan
        max_jobs = self._max_jobs()
        over = plan.jobs > max_jobs
        text = html.escape(str(plan))
        if over:
            text += error_html(f" — more than max_jobs={max_jobs}; tick 'run anyway' to run it.")
        self.plan_label.value = f"<b>{text}</b>" if not over else text
        self.run_sweep.disabled = over and not self.confirm.value
