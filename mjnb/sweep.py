"""Parameter sweeps (the X/Y plot) and side-by-side comparison.

    >>> mj = mjnb.Client()
    >>> mj.plan_sweep("a red fox", seed=[1, 2, 3], stylize="0..1000 step 500")
    9 jobs (seed × stylize), about 9 GPU-minutes
    >>> sweep = mj.sweep("a red fox", seed=[1, 2, 3], stylize=[0, 250, 750])
    >>> sweep.wait().grid(x="stylize", y="seed")       # a labelled PIL image

Axes come from three places, and multiply:

- ``{a, b}`` permutations in the prompt (``--s {0, 250}``, ``a {fox, wolf}``); an axis
  is named by the parameter it sits in (``stylize``, ``ar``), ``text`` (``text2`` ...)
  for groups in the text, ``model`` for ``--{v 6, niji 6}``;
- keyword lists: ``seed=[1, 2, 3]``, ``s=[0, 250]`` (any parameter name or alias),
  ``text=["a fox", "a wolf"]`` (replaces the prompt's text), ``model=["v 6", "niji 6"]``,
  ``tile=[False, True]`` for a switch;
- range shorthand, as a string, for numbers: ``"0..1000 step 250"`` (0, 250, ..., 1000,
  both ends included) or ``"0..1000/5"`` (5 evenly spaced values, both ends included;
  whole-number ends give whole numbers, rounded, when the values are at least 1 apart).
  ``"0, 250, 750"`` is a plain list.

Every cell's prompt is validated by the prompt parser before anything is sent, so a
value Midjourney would refuse raises :class:`~mjnb.errors.PromptError`. Unless ``seed``
is an axis or the prompt sets one, one random seed is put in every cell so that cells
differ only along the axes. Cells are submitted row by row (the first axis varies
slowest), so whole rows of the grid finish first under the concurrency limit.

A sweep is recorded in the task log with its full plan, so that after a kernel restart
:meth:`Sweep.from_log` re-attaches to it and :meth:`Sweep.resume` submits only the cells
that never reached the log.
"""

from __future__ import annotations

import asyncio
import base64
import html
import io
import itertools
import json
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import MJError, PromptError, Timeout
from .prompt import PARAMETERS, Prompt, parse_prompt
from .providers.base import check_prompt

if TYPE_CHECKING:
    import pandas as pd
    from PIL.Image import Image
    from PIL.ImageFont import FreeTypeFont, ImageFont

    from .client import Client
    from .task import Task

__all__ = [
    "Cell",
    "CellView",
    "Sweep",
    "SweepPlan",
    "compare",
    "parse_values",
    "plan_sweep",
    "render_grid",
    "resume_sweeps",
    "start_sweep",
]

#: Midjourney's own cap on one permutation prompt; more needs ``confirm=True``.
DEFAULT_MAX_JOBS = 40
#: Fast GPU-minutes per grid, by speed mode (relax uses no fast time, turbo twice as much).
GPU_MINUTES = {"fast": 1.0, "turbo": 2.0, "relax": 0.0}
#: Axis names that are not Midjourney parameters.
TEXT_AXIS = "text"
MODEL_AXIS = "model"
#: The key under which the sweep's cells are kept in the log's ``axes_json``.
CELLS_KEY = "_cells"
MODE_KEY = "_mode"
_MAX_VALUES = 1000

_ALIASES: dict[str, str] = {
    alias: spec.name for spec in PARAMETERS.values() for alias in spec.aliases
}
_RANGE_STEP = re.compile(r"^\s*(?P<a>[^.\s][^\s]*?)\s*\.\.\s*(?P<b>\S+?)\s+step\s+(?P<s>\S+)\s*$")
_RANGE_COUNT = re.compile(r"^\s*(?P<a>[^.\s][^\s]*?)\s*\.\.\s*(?P<b>\S+?)\s*/\s*(?P<n>\d+)\s*$")
_RANGE_SYNTAX = '"0..1000 step 250" or "0..1000/5"'
_NO_REPEAT = (
    "--repeat makes several jobs from one cell, which a sweep's grid cannot show; "
    "sweep seed instead (seed=[1, 2, 3]) to see several runs of one prompt."
)


# --------------------------------------------------------------------------- values


def _number(text: str, where: str) -> Fraction:
    try:
        return Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise PromptError(f"{where}: {text.strip()!r} is not a number.") from None


def _plain(value: Fraction, whole: bool) -> int | float:
    if whole:
        return math.floor(value + Fraction(1, 2))  # half up: 0..1000/4 -> 333, 667
    number = float(value)
    return int(number) if number.is_integer() else round(number, 6)


def parse_values(name: str, spec: Any) -> list[Any]:
    """The values of one keyword axis: a list, a ``range``, or a string shorthand.

    Strings: ``"A..B step S"`` (A, A+S, ... up to B), ``"A..B/N"`` (N evenly spaced
    values from A to B; whole-number ends give whole numbers when the spacing is 1 or
    more), or a comma list
    ``"0, 250, 750"`` (numbers become numbers). Raises PromptError on anything else.
    """
    where = f"The sweep axis {name}={spec!r}"
    if isinstance(spec, str):
        values = _parse_shorthand(name, spec, where)
    elif isinstance(spec, (list, tuple, range)):
        values = list(spec)
    elif isinstance(spec, (set, frozenset, dict)) or not isinstance(spec, Iterable):
        raise PromptError(
            f"{where} is not a list of values; write {name}=[...] (a list), or a range "
            f"such as {name}={_RANGE_SYNTAX}. To fix a value in every cell, put it in "
            "the prompt instead."
        )
    else:
        values = list(spec)
    if not values:
        raise PromptError(f"{where} has no values; give at least one.")
    if len(values) > _MAX_VALUES:
        raise PromptError(f"{where} has {len(values)} values; a sweep axis takes at most 1000.")
    seen: list[Any] = []
    for value in values:
        if value in seen and type(value) is type(seen[seen.index(value)]):
            raise PromptError(f"{where} lists {value!r} twice; each value should appear once.")
        seen.append(value)
    return values


def _parse_shorthand(name: str, spec: str, where: str) -> list[Any]:
    if ".." in spec:
        match = _RANGE_STEP.match(spec)
        if match:
            a, b = _number(match["a"], where), _number(match["b"], where)
            step = _number(match["s"], where)
            if step <= 0:
                raise PromptError(f"{where}: the step must be more than 0.")
            if b < a:
                raise PromptError(f"{where}: the range must go up (write the smaller end first).")
            count = math.floor((b - a) / step) + 1
            if count > _MAX_VALUES:
                raise PromptError(f"{where} makes {count} values; a sweep axis takes at most 1000.")
            whole = all(v.denominator == 1 for v in (a, b, step))
            return [_plain(a + i * step, whole) for i in range(count)]
        match = _RANGE_COUNT.match(spec)
        if match:
            a, b = _number(match["a"], where), _number(match["b"], where)
            count = int(match["n"])
            if count < 2:
                raise PromptError(f"{where}: ask for at least 2 values (A..B/N with N >= 2).")
            if count > _MAX_VALUES:
                raise PromptError(f"{where} asks for {count} values; an axis takes at most 1000.")
            if b < a:
                raise PromptError(f"{where}: the range must go up (write the smaller end first).")
            spacing = (b - a) / (count - 1)
            whole = a.denominator == 1 and b.denominator == 1 and (spacing >= 1 or spacing == 0)
            values: list[Any] = []
            for i in range(count):
                value = _plain(a + (b - a) * i / (count - 1), whole)
                if value not in values:
                    values.append(value)
            return values
        raise PromptError(f"{where} is not a range; write it as {_RANGE_SYNTAX}.")
    if name == TEXT_AXIS:
        raise PromptError(
            f"{where} is one string; give the texts as a list: text=['a fox', 'a wolf']."
        )
    items = [item.strip() for item in spec.split(",")]
    if any(not item for item in items):
        raise PromptError(f"{where} has an empty item; write values as '0, 250, 750'.")
    return [_guess_number(item) for item in items]


def _guess_number(text: str) -> Any:
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def _scalar(value: Any) -> Any:
    """A coordinate: a single JSON-able scalar (lists, like ``no``, are joined)."""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return value


def format_value(value: Any) -> str:
    """How a coordinate is shown in labels: ``250``, ``0.5``, ``on``/``off``, ``16:9``."""
    if value is None:
        return "none"
    if value is True:
        return "on"
    if value is False:
        return "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _key(coords: Mapping[str, Any]) -> str:
    """A stable text key for a cell's coordinates (JSON round trips keep it)."""
    return json.dumps({str(k): v for k, v in coords.items()}, sort_keys=True, default=str)


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Cell:
    """One job of a sweep: where it sits on each axis, and the exact prompt it sends."""

    index: int
    coords: dict[str, Any]
    prompt: Prompt

    def label(self) -> str:
        return ", ".join(f"{k}: {format_value(v)}" for k, v in self.coords.items())


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep will run; nothing has been sent. Built by :func:`plan_sweep`.

    ``axes`` maps each axis to its values, first axis first (it varies slowest and is the
    grid's rows by default); ``cells`` are in submission order; ``seed`` is the fixed
    seed put in every cell (None when seed is an axis or the prompt sets one per cell).
    """

    prompt: str
    axes: dict[str, list[Any]]
    cells: tuple[Cell, ...]
    provider: str = "local"
    mode: str | None = None
    seed: int | None = None

    @property
    def jobs(self) -> int:
        return len(self.cells)

    @property
    def modes(self) -> dict[str, int]:
        """Speed mode -> number of cells that run in it."""
        counts: dict[str, int] = {}
        for cell in self.cells:
            mode = _cell_mode(cell.prompt, self.mode)
            counts[mode] = counts.get(mode, 0) + 1
        return counts

    @property
    def gpu_minutes(self) -> float:
        """Rough fast GPU-minutes: 1 per grid, 2 in turbo, 0 in relax (which is slower)."""
        return sum(GPU_MINUTES[mode] * n for mode, n in self.modes.items())

    def __str__(self) -> str:
        names = " × ".join(self.axes) or "no axes"
        jobs = f"{self.jobs} job{'s' if self.jobs != 1 else ''} ({names})"
        modes = self.modes
        if set(modes) == {"relax"}:
            cost = "in relax mode: no fast GPU time, but each job takes minutes"
        else:
            cost = f"about {self.gpu_minutes:g} GPU-minute{'s' if self.gpu_minutes != 1 else ''}"
            if "turbo" in modes:
                cost += " (turbo costs twice as much)"
            if "relax" in modes:
                cost += f" ({modes['relax']} in relax: no fast time)"
        return f"{jobs}, {cost}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            f"<td style='text-align:left'>{html.escape(', '.join(map(format_value, values)))}"
            "</td></tr>"
            for name, values in self.axes.items()
        )
        seed = f"<br>seed {self.seed} in every cell" if self.seed is not None else ""
        return (
            f"<div><b>{html.escape(str(self))}</b><br><code>{html.escape(self.prompt)}</code>"
            f"{seed}<table>{rows}</table></div>"
        )


def _cell_mode(prompt: Prompt, mode: str | None) -> str:
    for flag in ("turbo", "relax", "fast"):
        if prompt.params.get(flag):
            return flag
    return mode or "fast"


def _axis_name(name: str) -> str:
    if name in (TEXT_AXIS, MODEL_AXIS):
        return name
    long = _ALIASES.get(name.lower())
    if long is None:
        known = ", ".join([TEXT_AXIS, MODEL_AXIS, *PARAMETERS])
        raise PromptError(
            f"{name!r} is not something a sweep can vary; use a Midjourney parameter "
            f"name or alias, or one of: {known}."
        )
    if long == "repeat":
        raise PromptError(_NO_REPEAT)
    if long in ("fast", "relax", "turbo"):
        raise PromptError(
            f"{name!r} is a speed mode, not an axis; pass mode={name!r} to run the whole "
            "sweep in it."
        )
    return long


def _with_text(prompt: Prompt, text: str) -> Prompt:
    if not isinstance(text, str) or not text.strip():
        raise PromptError(f"The sweep axis text has an empty or non-text value {text!r}.")
    source = str(replace(prompt, text=text.strip(), template=None))
    result = parse_prompt(source)
    if result.is_permutation:
        raise PromptError(
            f"The sweep axis text value {text!r} holds {{}} groups; list each text instead."
        )
    if result.params != prompt.params:
        raise PromptError(
            f"The sweep axis text value {text!r} contains parameters; put parameters in "
            "the prompt or give them their own axis."
        )
    return result


def _with_model(prompt: Prompt, value: Any) -> tuple[Prompt, Any]:
    text = str(value).strip().lstrip("-")
    if not text:
        raise PromptError("The sweep axis model has an empty value; write e.g. 'v 6' or 'niji 6'.")
    if re.fullmatch(r"[\d.]+", text):
        text = f"v {text}"
    probe = parse_prompt(f"x --{text}")
    found = {k: v for k, v in probe.params.items() if k in ("version", "niji")}
    if not found or len(probe.params) != len(found):
        raise PromptError(
            f"The sweep axis model value {value!r} is not a model; write e.g. 'v 6.1', "
            "'v 7' or 'niji 6'."
        )
    return prompt.with_params(version=found.get("version"), niji=found.get("niji")), text


def _apply(prompt: Prompt, axis: str, value: Any) -> tuple[Prompt, Any]:
    """The prompt with one axis set, and the coordinate it gets (typed, canonical)."""
    if axis == TEXT_AXIS:
        result = _with_text(prompt, value)
        return result, result.text
    if axis == MODEL_AXIS:
        return _with_model(prompt, value)
    spec = PARAMETERS[axis]
    if spec.kind == "flag":
        if not isinstance(value, bool):
            raise PromptError(
                f"The sweep axis {axis} is a switch; its values are True and False, got {value!r}."
            )
        return prompt.with_params(**{axis: value}), value
    if isinstance(value, bool) or value is None:
        raise PromptError(
            f"The sweep axis {axis} needs values like {spec.example!r}, got {value!r}."
        )
    result = prompt.with_params(**{axis: value})
    return result, _scalar(result.params.get(axis))


def plan_sweep(
    prompt: str | Prompt,
    *,
    axes: Mapping[str, Any] | None = None,
    provider: str = "local",
    mode: str | None = None,
    seed: int | None = None,
) -> SweepPlan:
    """Plan a sweep: the axes, every cell's prompt, the job count; sends nothing.

    ``axes`` are the keyword axes (see the module docstring). ``seed`` is the fixed seed
    to use when neither the prompt nor an axis sets one (default: a random one).
    Raises PromptError for a bad axis or for any cell Midjourney would refuse.
    """
    if mode is not None and mode not in GPU_MINUTES:
        raise MJError(f"mode must be one of {', '.join(GPU_MINUTES)}, got {mode!r}.")
    base = prompt if isinstance(prompt, Prompt) else parse_prompt(prompt)
    variants = base.expand()
    if any("repeat" in v.params for v in variants):
        raise PromptError(_NO_REPEAT)
    prompt_axes = list(variants[0].choices) if base.is_permutation else []
    for variant in variants[1:]:
        prompt_axes.extend(a for a in variant.choices if a not in prompt_axes)

    keyword: dict[str, list[Any]] = {}
    for name, spec in (axes or {}).items():
        axis = _axis_name(name)
        if axis in keyword:
            raise PromptError(
                f"The sweep axis {axis} is given twice (as {name}= and another spelling)."
            )
        if axis in prompt_axes or (axis in ("version", "niji") and MODEL_AXIS in prompt_axes):
            raise PromptError(
                f"The sweep axis {axis} is both a {{}} group in the prompt and the keyword "
                f"{name}=; give its values in one place."
            )
        if axis == MODEL_AXIS and ({"version", "niji"} & (set(prompt_axes) | set(keyword))):
            raise PromptError("Sweep either model or version/niji, not both.")
        if axis in ("version", "niji") and MODEL_AXIS in keyword:
            raise PromptError("Sweep either model or version/niji, not both.")
        keyword[axis] = parse_values(name, spec)

    fixed_seed: int | None = None
    seeded = "seed" in keyword or "seed" in prompt_axes or all("seed" in v.params for v in variants)
    if not seeded:
        fixed_seed = seed if seed is not None else random.randrange(0, 2**32)

    cells: list[Cell] = []
    for variant in variants:
        coords_base: dict[str, Any] = {}
        for axis in prompt_axes:
            if axis not in variant.choices:
                coords_base[axis] = None  # a nested group this branch does not have
            elif axis in PARAMETERS and axis in variant.params:
                coords_base[axis] = _scalar(variant.params[axis])
            else:
                coords_base[axis] = variant.choices[axis]
        current = replace(variant, choices={})
        if fixed_seed is not None and "seed" not in current.params:
            current = current.with_params(seed=fixed_seed)
        for combo in itertools.product(*keyword.values()):
            cell_prompt, coords = current, dict(coords_base)
            for axis, value in zip(keyword, combo, strict=True):
                try:
                    cell_prompt, coords[axis] = _apply(cell_prompt, axis, value)
                except PromptError as exc:
                    raise PromptError(
                        f"The sweep axis {axis} has a value Midjourney would refuse "
                        f"({value!r}): {exc}"
                    ) from None
            cell_prompt = parse_prompt(str(cell_prompt))  # validate the exact text sent
            cells.append(Cell(len(cells), coords, cell_prompt))

    axis_values: dict[str, list[Any]] = {a: [] for a in (*prompt_axes, *keyword)}
    for cell in cells:
        for axis, value in cell.coords.items():
            if value is not None and value not in axis_values[axis]:
                axis_values[axis].append(value)
    return SweepPlan(
        prompt=str(base),
        axes=axis_values,
        cells=tuple(cells),
        provider=provider,
        mode=mode,
        seed=fixed_seed,
    )


def _too_many(jobs: int, max_jobs: int) -> MJError:
    return MJError(
        f"This sweep makes {jobs} jobs, more than max_jobs={max_jobs} (Midjourney's own cap "
        "is 40); nothing was sent. Pass confirm=True to run it anyway, or use fewer values."
    )


def start_sweep(
    client: Client,
    prompt: str | Prompt,
    *,
    confirm: bool = False,
    max_jobs: int | None = None,
    mode: str | None = None,
    axes: Mapping[str, Any] | None = None,
) -> Sweep:
    """Plan, check the job cap, log the sweep and submit every cell; returns at once."""
    plan = plan_sweep(prompt, axes=axes, provider=client.provider, mode=mode)
    limit = DEFAULT_MAX_JOBS if max_jobs is None else max_jobs
    if plan.jobs > limit and not confirm:
        raise _too_many(plan.jobs, limit)
    for cell in plan.cells:  # what this provider refuses fails now, before any row
        check_prompt(client._adapter, cell.prompt)
    sweep = Sweep.record(client, plan)
    sweep.resume()
    return sweep


# --------------------------------------------------------------------------- the sweep

SweepListener = Callable[["Sweep"], None]


class Sweep:
    """A running (or finished) sweep: its cells, their tasks, the grid and the report.

    Built by ``Client.sweep`` (or :meth:`from_log` after a restart). ``tasks`` follow
    the cells' order; a cell never sent (yet) has no task and shows as a placeholder.
    """

    def __init__(
        self, client: Client, sweep_id: str, plan: SweepPlan, *, created_at: datetime
    ) -> None:
        self.id = sweep_id
        self.plan = plan
        self.created_at = created_at
        self._client = client
        self._slots: list[Task | None] = [None] * plan.jobs
        self._listeners: list[SweepListener] = []
        self._thumbs: dict[tuple[str, int], Image] = {}
        self._lock = threading.Lock()

    # -- creation -----------------------------------------------------------------------
    @classmethod
    def record(cls, client: Client, plan: SweepPlan) -> Sweep:
        """Log a planned sweep with every cell (for resume), submitting nothing."""
        sweep = cls(client, uuid.uuid4().hex[:12], plan, created_at=datetime.now(timezone.utc))
        stored: dict[str, list[Any]] = {name: list(values) for name, values in plan.axes.items()}
        stored[CELLS_KEY] = [{"coords": c.coords, "prompt": str(c.prompt)} for c in plan.cells]
        if plan.mode:
            stored[MODE_KEY] = [plan.mode]
        client._log.add_sweep(
            sweep.id,
            prompt=plan.prompt,
            axes=stored,
            created_at=sweep.created_at,
            provider=client.provider,
        )
        return sweep

    @classmethod
    def from_log(cls, client: Client, sweep_id: str) -> Sweep:
        """Re-attach to a logged sweep: its plan and the tasks its cells already have.

        Submits nothing; call :meth:`resume` to send the cells that never were.
        """
        sweeps = client._log.sweeps()
        rows = sweeps[sweeps["sweep_id"] == sweep_id]
        if rows.empty:
            raise MJError(f"No sweep {sweep_id!r} in {client._log.path}; see mj.sweeps().")
        row = rows.iloc[0]
        stored = dict(_column(row, "axis_values", "axes") or {})
        if CELLS_KEY not in stored:
            raise MJError(
                f"Sweep {sweep_id} was logged without its cells (by an older mjnb), so it "
                "cannot be resumed; start it again with mj.sweep(...)."
            )
        cells = tuple(
            Cell(i, dict(c["coords"]), parse_prompt(c["prompt"]))
            for i, c in enumerate(stored.pop(CELLS_KEY))
        )
        mode = (stored.pop(MODE_KEY, None) or [None])[0]
        plan = SweepPlan(
            prompt=str(row["prompt"]),
            axes={str(k): list(v) for k, v in stored.items()},
            cells=cells,
            provider=str(row["provider"]),
            mode=mode,
        )
        created = row["created_at"]
        sweep = cls(client, sweep_id, plan, created_at=created.to_pydatetime())
        by_cell = {_key(c.coords): c.index for c in cells}
        frame = client._log.dataframe(sweep=sweep_id)
        coords = _column(frame, "sweep_axes", "axes")
        for task_id, axes in zip(frame["task_id"], coords, strict=True):
            index = by_cell.get(_key(axes or {}))
            if index is not None:  # later rows (a retry) replace earlier ones
                sweep._attach(index, client.task(str(task_id)))
        return sweep

    @property
    def missing(self) -> list[Cell]:
        """Cells that have no task: never submitted (the kernel died mid-submit)."""
        return [c for c in self.plan.cells if self._slots[c.index] is None]

    def resume(self) -> list[Task]:
        """Submit the cells that have no task yet, in order; returns the new tasks.

        A cell with a task in the log (even a failed one) is never sent again here; use
        :meth:`retry_failed` for those. After a restart, cells that were still waiting
        for a slot come back failed ("interrupted before the provider confirmed the
        job"), because mjnb cannot prove they were never sent: retry them explicitly.
        """
        started = []
        for cell in self.missing:
            started.append(self._submit(cell))
        return started

    def _submit(self, cell: Cell) -> Task:
        task = self._client.imagine(
            cell.prompt, mode=self.plan.mode, sweep_id=self.id, axes=cell.coords
        )
        self._attach(cell.index, task)
        return task

    def _attach(self, index: int, task: Task) -> None:
        old = self._slots[index]
        if old is not None:
            old.remove_listener(self._on_change)
        self._slots[index] = task
        task.add_listener(self._on_change)
        self._on_change(task)

    def _on_change(self, task: Task) -> None:
        for listener in list(self._listeners):
            try:
                listener(self)
            except Exception:  # a broken view must never stop the engine
                self._listeners.remove(listener)

    # -- state --------------------------------------------------------------------------
    @property
    def prompt(self) -> str:
        return self.plan.prompt

    @property
    def axes(self) -> dict[str, list[Any]]:
        return self.plan.axes

    @property
    def cells(self) -> tuple[Cell, ...]:
        return self.plan.cells

    @property
    def tasks(self) -> list[Task]:
        """The cells' current tasks, in cell order (cells never sent are left out)."""
        return [t for t in self._slots if t is not None]

    def items(self) -> list[tuple[Cell, Task | None]]:
        """Every cell with its current task (None if never sent), in cell order."""
        return list(zip(self.plan.cells, self._slots, strict=True))

    def counts(self) -> dict[str, int]:
        """How many cells are in each state (``not sent`` for cells without a task)."""
        counts: dict[str, int] = {}
        for task in self._slots:
            status = "not sent" if task is None else task.status
            counts[status] = counts.get(status, 0) + 1
        return counts

    @property
    def done(self) -> bool:
        return all(t is not None and t.done for t in self._slots)

    @property
    def summary(self) -> str:
        """``"7/9 done, 1 failed"``: cells ended (any outcome) out of all, then failures."""
        counts = self.counts()
        ended = sum(counts.get(s, 0) for s in ("succeeded", "failed", "cancelled"))
        text = f"{ended}/{self.plan.jobs} done"
        failed = counts.get("failed", 0) + counts.get("cancelled", 0)
        if failed:
            text += f", {failed} failed"
        if counts.get("not sent"):
            text += f", {counts['not sent']} not sent"
        return text

    def add_listener(self, listener: SweepListener) -> None:
        """Call ``listener(sweep)`` (on the engine thread) whenever any cell changes."""
        self._listeners.append(listener)

    def remove_listener(self, listener: SweepListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # -- waiting ------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> Sweep:
        """Block until every cell has ended; failed cells do not raise (see ``df``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for task in self.tasks:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                task.wait(left)
            except Timeout:
                raise Timeout(
                    f"Sweep {self.id} is not finished after {timeout} s ({self.summary}); "
                    "call wait() again to keep waiting."
                ) from None
        return self

    def __await__(self) -> Generator[Any, None, Sweep]:
        return self._wait_async().__await__()

    async def _wait_async(self) -> Sweep:
        await asyncio.gather(*(task._wait_async() for task in self.tasks))
        return self

    def retry_failed(self) -> list[Task]:
        """Submit failed (or cancelled) cells again, same sweep; returns the new tasks."""
        started = []
        for cell, task in self.items():
            if task is not None and task.status in ("failed", "cancelled"):
                started.append(self._submit(cell))
        return started

    # -- tables -------------------------------------------------------------------------
    @property
    def df(self) -> pd.DataFrame:
        """One row per cell: one column per axis, then task_id, status, progress, error,
        queue_s, run_s, image_path and the prompt sent."""
        import pandas as pd

        records: dict[str, list[Any]] = {axis: [] for axis in self.plan.axes}
        extra = ("task_id", "status", "progress", "error", "queue_s", "run_s", "image_path")
        records.update({name: [] for name in (*extra, "prompt")})
        for cell, task in self.items():
            for axis in self.plan.axes:
                records[axis].append(cell.coords.get(axis))
            for name, value in zip(extra, _task_fields(task), strict=True):
                records[name].append(value)
            records["prompt"].append(str(cell.prompt))
        data: dict[str, Any] = {}
        for name, values in records.items():
            if name in ("queue_s", "run_s"):
                data[name] = pd.array(values, dtype="Float64")
            elif name == "progress":
                data[name] = pd.array(values, dtype="Int64")
            elif name in self.plan.axes:
                data[name] = _typed(pd, values)
            else:
                data[name] = pd.array(values, dtype="string")
        return pd.DataFrame(data)

    def _repr_html_(self) -> str:
        axes = (
            " × ".join(f"{html.escape(a)} ({len(v)})" for a, v in self.plan.axes.items())
            or "no axes"
        )
        return (
            f"<div><b>Sweep {self.id}</b>: {html.escape(self.summary)} · {axes}"
            f"<br><code>{html.escape(self.prompt)}</code></div>"
        )

    def __repr__(self) -> str:
        axes = " × ".join(self.plan.axes) or "no axes"
        return f"<Sweep {self.id} {axes}: {self.summary}>"

    # -- images -------------------------------------------------------------------------
    def _thumbnail(self, task: Task, size: int) -> Image | None:
        if task.status != "succeeded":
            return None
        key = (task.id, size)
        with self._lock:
            cached = self._thumbs.get(key)
        if cached is not None:
            return cached
        try:
            image = task.image
        except MJError:
            return None
        thumb = image.convert("RGB")
        thumb.thumbnail((size, size))
        with self._lock:
            self._thumbs[key] = thumb
        return thumb

    def views(self, size: int = 256) -> list[CellView]:
        """Every cell as plain data for :func:`render_grid` (thumbnails cached)."""
        views = []
        for cell, task in self.items():
            image = None if task is None else self._thumbnail(task, size)
            views.append(
                CellView(
                    coords=cell.coords,
                    image=image,
                    status="not sent" if task is None else task.status,
                    progress=0 if task is None else task.progress,
                    error=None if task is None else task.error,
                    ar=str(cell.prompt.params.get("ar") or "1:1"),
                )
            )
        return views

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
        value of further axes (``where={"chaos": 50}``). Cells that failed or have not
        finished are drawn as placeholders saying why, so the grid never shifts.
        """
        views = self.views(cell_size)
        return render_grid(views, self.plan.axes, x=x, y=y, z=z, where=where, cell_size=cell_size)

    def to_html(self, path: str | Path, *, image_size: int = 512, quality: int = 85) -> Path:
        """Write a self-contained HTML report (images embedded); returns its path."""
        target = Path(path)
        target.write_text(self._html(image_size, quality), encoding="utf-8")
        return target

    def _html(self, image_size: int, quality: int) -> str:
        return render_html(
            title=f"mjnb sweep {self.id}",
            prompt=self.prompt,
            summary=f"{self.summary} · {self.plan}",
            axes=self.plan.axes,
            views=self.views(image_size),
            table=self.df,
            quality=quality,
        )


def _column(table: Any, *names: str) -> Any:
    """The first of ``names`` that ``table`` has (DataFrame columns, or a row's labels)."""
    for name in names:
        if name in table:
            return table[name]
    raise MJError(f"The task log has none of the columns {', '.join(names)}; upgrade mjnb.")


def _task_fields(task: Task | None) -> tuple[Any, ...]:
    if task is None:
        return (None, "not sent", 0, None, None, None, None)
    queue = run = None
    if task.started_at is not None:
        queue = (task.started_at - task.submitted_at).total_seconds()
        if task.finished_at is not None:
            run = (task.finished_at - task.started_at).total_seconds()
    path = str(task.image_path) if task.image_path else None
    return (task.id, task.status, task.progress, task.error, queue, run, path)


def _typed(pd: Any, values: list[Any]) -> Any:
    """A column with the values' own type: Int64 for whole numbers, string for text."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pd.array(values, dtype="boolean")
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pd.array(values, dtype="Int64")
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pd.array([None if v is None else float(v) for v in values], dtype="Float64")
    return pd.array([None if v is None else str(v) for v in values], dtype="string")


def resume_sweeps(client: Client, *, older_than: timedelta = timedelta(0)) -> list[Sweep]:
    """Finish every logged sweep of this client's provider that has cells never sent.

    Submits only cells without a task row (matched by their coordinates), so nothing
    is sent twice; tasks already in the log are left to ``Client``'s own resume.
    ``older_than`` skips sweeps a live kernel may still be submitting.
    """
    unfinished = client._log.unfinished_sweeps(client.provider, older_than=older_than)
    sweeps = [Sweep.from_log(client, sweep_id) for sweep_id in unfinished]
    for sweep in sweeps:
        sweep.resume()
    return sweeps


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class CellView:
    """What one grid cell shows: an image, or a placeholder saying why there is none."""

    coords: Mapping[str, Any]
    image: Image | None = None
    status: str = "succeeded"
    progress: int = 0
    error: str | None = None
    ar: str = "1:1"
    caption: str | None = None


@dataclass
class _Style:
    size: int
    font: FreeTypeFont | ImageFont
    small: FreeTypeFont | ImageFont
    line: int
    small_line: int
    pad: int
    ink: tuple[int, int, int] = (20, 20, 20)
    band: tuple[int, int, int] = (236, 236, 236)


@lru_cache(maxsize=16)
def _font(size: int) -> FreeTypeFont | ImageFont:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()


def _style(cell_size: int) -> _Style:
    size = max(14, round(cell_size / 11))
    small = max(12, round(size * 0.8))
    return _Style(
        size=size,
        font=_font(size),
        small=_font(small),
        line=round(size * 1.25),
        small_line=round(small * 1.25),
        pad=max(4, cell_size // 32),
    )


def _text_width(font: FreeTypeFont | ImageFont, text: str) -> int:
    return math.ceil(font.getlength(text))


def _wrap(font: FreeTypeFont | ImageFont, text: str, width: int) -> list[str]:
    """Greedy word wrap to ``width`` pixels; words too long are cut by characters."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if _text_width(font, candidate) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            while _text_width(font, word) > width and len(word) > 1:
                cut = len(word)
                while cut > 1 and _text_width(font, word[:cut]) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
    return lines


def _fit(ar: str, size: int) -> tuple[int, int]:
    try:
        w, h = (int(p) for p in ar.split(":"))
        if w <= 0 or h <= 0:
            raise ValueError
    except ValueError:
        w, h = 1, 1
    if w >= h:
        return size, max(1, round(size * h / w))
    return max(1, round(size * w / h)), size


def _label(axis: str, value: Any) -> str:
    return f"{axis}: {format_value(value)}"


def _choose_axes(
    axes: Mapping[str, Sequence[Any]],
    x: str | None,
    y: str | None,
    z: str | None,
    where: Mapping[str, Any],
) -> tuple[str | None, str | None, str | None]:
    for name, role in ((x, "x"), (y, "y"), (z, "z")):
        if name is not None and name not in axes:
            raise MJError(
                f"{role}={name!r} is not an axis of this sweep; its axes are: "
                f"{', '.join(axes) or 'none'}."
            )
    chosen = [a for a in (x, y, z) if a is not None]
    if len(set(chosen)) != len(chosen):
        raise MJError("x, y and z must be different axes.")
    free = [a for a in axes if a not in chosen and a not in where]
    if x is None and y is None and z is None and len(free) == 1:
        return free[0], None, None  # one axis: a single row
    if y is None and free:
        y = free.pop(0)
    if x is None and free:
        x = free.pop(0)
    if z is None and free:
        z = free.pop(0)
    if free:
        raise MJError(
            f"This sweep has {len(axes)} axes and a grid shows three (x, y, z); fix the "
            f"others with where={{{', '.join(repr(a) + ': ...' for a in free)}}}."
        )
    return x, y, z


def render_grid(
    views: Sequence[CellView],
    axes: Mapping[str, Sequence[Any]],
    *,
    x: str | None = None,
    y: str | None = None,
    z: str | None = None,
    where: Mapping[str, Any] | None = None,
    cell_size: int = 256,
) -> Image:
    """Draw cells as a labelled X/Y grid (panels side by side along ``z``).

    Axis names and values are written on the top and left edges; a missing, failed or
    unfinished cell is a placeholder of the same size, so rows and columns never shift.
    """
    from PIL import Image as PILImage
    from PIL import ImageDraw

    where = dict(where or {})
    for name in where:
        if name not in axes:
            raise MJError(f"where= names {name!r}, which is not an axis of this sweep.")
    x, y, z = _choose_axes(axes, x, y, z, where)
    st = _style(cell_size)
    chosen = [v for v in views if all(v.coords.get(a) == val for a, val in where.items())]
    lookup: dict[tuple[Any, ...], CellView] = {}
    for view in chosen:
        key = tuple(view.coords.get(a) if a else None for a in (z, y, x))
        lookup.setdefault(key, view)

    xs: list[Any] = list(axes[x]) if x else [None]
    ys: list[Any] = list(axes[y]) if y else [None]
    zs: list[Any] = list(axes[z]) if z else [None]
    boxes = [_fit(v.ar, cell_size) for v in chosen] or [(cell_size, cell_size)]
    bw, bh = max(b[0] for b in boxes), max(b[1] for b in boxes)
    gap = st.pad

    # the left edge: y labels wrapped to at most one cell's width
    left_lines = {v: _wrap(st.font, _label(y, v), bw) for v in ys} if y else {}
    natural = max(
        (_text_width(st.font, line) for ls in left_lines.values() for line in ls), default=0
    )
    left = natural + 2 * st.pad if y else 0
    top_lines = {v: _wrap(st.font, _label(x, v), bw) for v in xs} if x else {}
    top = max((len(ls) for ls in top_lines.values()), default=0) * st.line + 2 * st.pad if x else 0
    title = st.line + 2 * st.pad if z else 0

    panel_w = left + len(xs) * bw + (len(xs) - 1) * gap
    panel_h = title + top + len(ys) * bh + (len(ys) - 1) * gap
    width = len(zs) * panel_w + (len(zs) - 1) * 3 * gap + 2 * gap
    height = panel_h + 2 * gap
    canvas = PILImage.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)

    for zi, zv in enumerate(zs):
        ox, oy = gap + zi * (panel_w + 3 * gap), gap
        if z:
            draw.rectangle([ox, oy, ox + panel_w - 1, oy + title - st.pad], fill=st.band)
            draw.text((ox + st.pad, oy + st.pad), _label(z, zv), font=st.font, fill=st.ink)
        gy = oy + title + top
        gx = ox + left
        for xi, xv in enumerate(xs if x else []):
            cx = gx + xi * (bw + gap)
            lines = top_lines[xv]
            ty = oy + title + top - st.pad - len(lines) * st.line
            for n, line in enumerate(lines):
                tw = _text_width(st.font, line)
                draw.text((cx + (bw - tw) // 2, ty + n * st.line), line, font=st.font, fill=st.ink)
        for yi, yv in enumerate(ys):
            cy = gy + yi * (bh + gap)
            if y:
                lines = left_lines[yv]
                ty = cy + (bh - len(lines) * st.line) // 2
                for n, line in enumerate(lines):
                    draw.text((ox + st.pad, ty + n * st.line), line, font=st.font, fill=st.ink)
            for xi, xv in enumerate(xs):
                cx = gx + xi * (bw + gap)
                tile = _draw_cell(lookup.get((zv, yv, xv)), bw, bh, st)
                canvas.paste(tile, (cx, cy))
    return canvas


def _draw_cell(view: CellView | None, bw: int, bh: int, st: _Style) -> Image:
    """One box: the image centred, or a placeholder that says what happened."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    if view is not None and view.image is not None:
        box = PILImage.new("RGB", (bw, bh), "white")
        image = view.image
        if image.width > bw or image.height > bh:
            image = image.copy()
            image.thumbnail((bw, bh))
        box.paste(image.convert("RGB"), ((bw - image.width) // 2, (bh - image.height) // 2))
        return box
    if view is None:
        fill, ink, head, body = (250, 250, 250), (150, 150, 150), "-", "no such cell"
    elif view.status in ("failed", "cancelled"):
        fill, ink, head, body = (88, 88, 88), (255, 255, 255), view.status, view.error or ""
    elif view.status == "succeeded":
        fill, ink, head, body = (88, 88, 88), (255, 255, 255), "no image", view.error or ""
    elif view.status == "running":
        fill, ink, head, body = (214, 214, 214), st.ink, f"running {view.progress}%", ""
    else:
        fill, ink, head, body = (228, 228, 228), st.ink, view.status, ""
    box = PILImage.new("RGB", (bw, bh), fill)
    draw = ImageDraw.Draw(box)
    if view is not None and view.status in ("failed", "cancelled"):
        draw.rectangle([0, 0, bw - 1, max(3, st.pad)], fill=(200, 40, 40))
    if view is not None and view.status == "running":
        bar = max(3, st.pad)
        draw.rectangle([0, bh - bar, bw - 1, bh - 1], fill=(190, 190, 190))
        draw.rectangle(
            [0, bh - bar, round(bw * view.progress / 100) - 1, bh - 1], fill=(60, 110, 200)
        )
    inner = bw - 2 * st.pad
    lines = _wrap(st.font, f"{head}:" if body else head, inner)
    small = _wrap(st.small, body, inner) if body else []
    room = max(0, (bh - 2 * st.pad - len(lines) * st.line) // st.small_line)
    if len(small) > room:
        small = small[: max(0, room)]
        if small:
            small[-1] = small[-1][: max(0, len(small[-1]) - 1)] + "…"
    total = len(lines) * st.line + len(small) * st.small_line
    ty = max(st.pad, (bh - total) // 2)
    for line in lines:
        draw.text((st.pad, ty), line, font=st.font, fill=ink)
        ty += st.line
    for line in small:
        draw.text((st.pad, ty), line, font=st.small, fill=ink)
        ty += st.small_line
    return box


# --------------------------------------------------------------------------- compare


def compare(tasks: Sequence[Task], *, cell_size: int = 256) -> Image:
    """Tasks side by side, each labelled with its short id and the parameters that differ."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    if not tasks:
        raise MJError("compare() needs at least one task.")
    described = [_describe(t) for t in tasks]
    names: list[str] = []
    for d in described:
        names.extend(k for k in d if k not in names)
    differing = [
        k for k in names if len({json.dumps(d.get(k), default=str) for d in described}) > 1
    ]
    st = _style(cell_size)
    boxes = [_fit(str(d.get("ar") or "1:1"), cell_size) for d in described]
    bw, bh = max(b[0] for b in boxes), max(b[1] for b in boxes)
    labels = []
    for task, d in zip(tasks, described, strict=True):
        parts = [f"{k}: {format_value(_scalar(d.get(k)))}" for k in differing]
        lines = _wrap(st.font, task.id[:8], bw)
        for part in parts:
            lines.extend(_wrap(st.small, part, bw))
        labels.append(lines)
    label_h = max(st.line + (len(ls) - 1) * st.small_line for ls in labels) + 2 * st.pad
    gap = st.pad
    width = len(tasks) * bw + (len(tasks) + 1) * gap
    canvas = PILImage.new("RGB", (width, label_h + bh + gap), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (task, lines) in enumerate(zip(tasks, labels, strict=True)):
        cx = gap + i * (bw + gap)
        ty = st.pad
        for n, line in enumerate(lines):
            font = st.font if n == 0 else st.small
            draw.text((cx, ty), line, font=font, fill=st.ink)
            ty += st.line if n == 0 else st.small_line
        image = None
        if task.status == "succeeded":
            try:
                image = task.image.convert("RGB")
                image.thumbnail((bw, bh))
            except MJError:
                image = None
        view = CellView({}, image, task.status, task.progress, task.error)
        canvas.paste(_draw_cell(view, bw, bh, st), (cx, label_h))
    return canvas


def _describe(task: Task) -> dict[str, Any]:
    """What tells tasks apart: their text, parameters and action."""
    described: dict[str, Any] = {}
    if task.action != "imagine":
        described["action"] = task.action
    if task.prompt is not None:
        described["text"] = task.prompt.text
        described.update(task.prompt.params)
    return described


# --------------------------------------------------------------------------- HTML report

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}
code{background:#f4f4f4;padding:2px 4px;border-radius:3px;word-break:break-word}
table.grid{border-collapse:collapse;margin:8px 0 24px}
table.grid th{background:#eee;padding:4px 8px;font-weight:600}
table.grid td{padding:4px;vertical-align:top}
table.grid img{display:block;max-width:100%}
.ph{display:flex;flex-direction:column;justify-content:center;padding:8px;box-sizing:border-box;
background:#e4e4e4;color:#222}
.ph.failed,.ph.cancelled{background:#585858;color:#fff;border-top:4px solid #c82828}
table.params{border-collapse:collapse;font-size:14px}
table.params th,table.params td{border:1px solid #ddd;padding:3px 8px;text-align:left}
table.params th{background:#eee;cursor:pointer;user-select:none}
table.params th.asc::after{content:" ▲"}table.params th.desc::after{content:" ▼"}
"""

_SORT_JS = """
document.querySelectorAll('table.params th').forEach(function(th, col){
  th.addEventListener('click', function(){
    var table = th.closest('table'), body = table.tBodies[0];
    var asc = !th.classList.contains('asc');
    table.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc')});
    th.classList.add(asc ? 'asc' : 'desc');
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function(a, b){
      var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return asc ? c : -c;
    });
    rows.forEach(function(r){body.appendChild(r)});
  });
});
"""


def _data_uri(image: Image, quality: int) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _cell_html(view: CellView | None, size: int, quality: int) -> str:
    if view is not None and view.image is not None:
        return (
            f'<img src="{_data_uri(view.image, quality)}" alt="{html.escape(_coords_text(view))}">'
        )
    w, h = _fit(view.ar if view else "1:1", size)
    style = f"width:{w}px;height:{h}px"
    if view is None:
        return f'<div class="ph" style="{style}">— no such cell</div>'
    if view.status in ("failed", "cancelled"):
        text = f"<b>{view.status}:</b> {html.escape(view.error or 'no reason given')}"
    elif view.status == "running":
        text = f"<b>running {view.progress}%</b>"
    elif view.status == "succeeded":
        text = f"<b>no image:</b> {html.escape(view.error or '')}"
    else:
        text = f"<b>{html.escape(view.status)}</b>"
    return f'<div class="ph {html.escape(view.status)}" style="{style}">{text}</div>'


def _coords_text(view: CellView) -> str:
    return ", ".join(_label(k, v) for k, v in view.coords.items())


def render_html(
    *,
    title: str,
    prompt: str,
    summary: str,
    axes: Mapping[str, Sequence[Any]],
    views: Sequence[CellView],
    table: pd.DataFrame,
    quality: int = 85,
) -> str:
    """A self-contained HTML page: the grid (images as data URIs) and a sortable table."""
    import pandas as pd

    names = list(axes)
    x = names[1] if len(names) > 1 else (names[0] if names else None)
    y = names[0] if len(names) > 1 else None
    z_axes = names[2:]
    size = max((max(v.image.size) for v in views if v.image is not None), default=256)
    panels: dict[tuple[Any, ...], list[CellView]] = {}
    for view in views:
        panels.setdefault(tuple(view.coords.get(a) for a in z_axes), []).append(view)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Prompt: <code>{html.escape(prompt)}</code></p>",
        f"<p>{html.escape(summary)}</p>",
    ]
    xs = list(axes[x]) if x else [None]
    ys = list(axes[y]) if y else [None]
    for zkey, members in panels.items():
        if z_axes:
            caption = ", ".join(_label(a, v) for a, v in zip(z_axes, zkey, strict=True))
            parts.append(f"<h2>{html.escape(caption)}</h2>")
        lookup = {
            (v.coords.get(y) if y else None, v.coords.get(x) if x else None): v for v in members
        }
        parts.append("<table class='grid'>")
        if x:
            corner = html.escape(f"{y} \\ {x}") if y else ""
            heads = "".join(f"<th>{html.escape(_label(x, v))}</th>" for v in xs)
            parts.append(f"<tr><th>{corner}</th>{heads}</tr>")
        for yv in ys:
            row = f"<th>{html.escape(_label(y, yv))}</th>" if y else "<th></th>"
            cells = "".join(
                f"<td>{_cell_html(lookup.get((yv, xv)), size, quality)}</td>" for xv in xs
            )
            parts.append(f"<tr>{row}{cells}</tr>")
        parts.append("</table>")
    parts.append("<h2>Parameters</h2><table class='params'><thead><tr>")
    parts.extend(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    parts.append("</tr></thead><tbody>")
    for record in table.itertuples(index=False):
        parts.append("<tr>")
        for value in record:
            if pd.isna(value):
                text = ""
            else:
                text = f"{value:.2f}" if isinstance(value, float) else str(value)
            parts.append(f"<td data-v='{html.escape(text, quote=True)}'>{html.escape(text)}</td>")
        parts.append("</tr>")
    parts.append(f"</tbody></table><script>{_SORT_JS}</script></body></html>")
    return "".join(parts)
