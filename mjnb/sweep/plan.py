"""Planning a sweep: its axes, every cell's exact prompt, the job count; sends nothing.

Axes come from three places, and multiply:

- ``{a, b}`` permutations in the prompt (``--s {0, 250}``, ``a {fox, wolf}``); an axis
  is named by the parameter it sits in (``stylize``, ``ar``), ``text`` (``text2`` ...)
  for groups in the text, ``model`` for ``--{v 6, niji 6}``;
- keyword lists: ``seed=[1, 2, 3]``, ``s=[0, 250]`` (any parameter name or alias),
  ``text=["a fox", "a wolf"]`` (replaces the prompt's text), ``model=["v 6", "niji 6"]``,
  ``tile=[False, True]`` for a switch;
- range shorthand for numbers (:mod:`.values`).

Every cell's prompt is validated by the prompt parser, so a value Midjourney would
refuse raises :class:`~mjnb.errors.PromptError` (``strict=False``: an unknown parameter
is kept, with one PromptWarning for all cells, as ``Client(strict=False)`` sends it).
Unless ``seed`` is an axis or the prompt sets one, one random seed goes in every cell so
that cells differ only along the axes. Cells are in row order (the first axis varies slowest).
"""

from __future__ import annotations

import html
import itertools
import random
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mjnb.errors import InvalidArgument, PromptError
from mjnb.prompt import PARAMETERS, Prompt, PromptWarning, parse_prompt
from mjnb.render.text import format_value
from mjnb.vocab import MODES

from .values import MODEL_AXIS, TEXT_AXIS, parse_values, scalar

__all__ = ["DEFAULT_MAX_JOBS", "GPU_MINUTES", "Cell", "SweepPlan", "plan_sweep", "too_many"]

#: Midjourney's own cap on one permutation prompt; more needs ``confirm=True``.
DEFAULT_MAX_JOBS = 40
#: Fast GPU-minutes per grid, by speed mode (relax uses no fast time, turbo twice as much).
GPU_MINUTES = {"fast": 1.0, "turbo": 2.0, "relax": 0.0}

_ALIASES: dict[str, str] = {
    alias: spec.name for spec in PARAMETERS.values() for alias in spec.aliases
}
#: where a warning says "(column 12)" or "(--s at column 12)": differs from cell to cell
_COLUMN = re.compile(r"\s*\([^()]*\bcolumn \d+\)")
_NO_REPEAT = (
    "--repeat makes several jobs from one cell, which a sweep's grid cannot show; "
    "sweep seed instead (seed=[1, 2, 3]) to see several runs of one prompt."
)


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


def too_many(jobs: int, max_jobs: int) -> InvalidArgument:
    return InvalidArgument(
        f"This sweep makes {jobs} jobs, more than max_jobs={max_jobs} (Midjourney's own cap "
        "is 40); nothing was sent. Pass confirm=True to run it anyway, or use fewer values."
    )


# ------------------------------------------------------------------ one axis, one value


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
    if long in MODES:
        raise PromptError(
            f"{name!r} is a speed mode, not an axis; pass mode={name!r} to run the whole "
            "sweep in it."
        )
    return long


def _with_text(prompt: Prompt, text: str) -> Prompt:
    if not isinstance(text, str) or not text.strip():
        raise PromptError(f"The sweep axis text has an empty or non-text value {text!r}.")
    source = str(replace(prompt, text=text.strip(), template=None))
    result = parse_prompt(source, strict=not prompt.unknown)
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
    probe = parse_prompt(f"x --{text}", warn=False)  # the cell's own parse warns
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
    return result, scalar(result.params.get(axis))


# ------------------------------------------------------------------ the four planning steps


def _prompt_axes(variants: list[Prompt], base: Prompt) -> list[str]:
    """Axes: the ``{}`` groups of the prompt, in the order they first appear."""
    if any("repeat" in v.params for v in variants):
        raise PromptError(_NO_REPEAT)
    axes = list(variants[0].choices) if base.is_permutation else []
    for variant in variants[1:]:
        axes.extend(a for a in variant.choices if a not in axes)
    return axes


def _keyword_axes(axes: Mapping[str, Any] | None, prompt_axes: list[str]) -> dict[str, list[Any]]:
    """Conflicts: keyword axes by their long names, refusing one axis given twice."""
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
    return keyword


def _fixed_seed(
    variants: list[Prompt], prompt_axes: list[str], keyword: Mapping[str, Any], seed: int | None
) -> int | None:
    """Seeds: one seed for every cell, unless seed varies or the prompt sets it."""
    seeded = "seed" in keyword or "seed" in prompt_axes or all("seed" in v.params for v in variants)
    if seeded:
        return None
    return seed if seed is not None else random.randrange(0, 2**32)


def _cells(
    variants: list[Prompt],
    prompt_axes: list[str],
    keyword: Mapping[str, list[Any]],
    fixed_seed: int | None,
    strict: bool = True,
) -> list[Cell]:
    """Cells: every variant of the prompt times every combination of keyword values."""
    cells: list[Cell] = []
    for variant in variants:
        coords_base: dict[str, Any] = {}
        for axis in prompt_axes:
            if axis not in variant.choices:
                coords_base[axis] = None  # a nested group this branch does not have
            elif axis in PARAMETERS and axis in variant.params:
                coords_base[axis] = scalar(variant.params[axis])
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
            # validate the exact text sent
            cell_prompt = parse_prompt(str(cell_prompt), strict=strict)
            cells.append(Cell(len(cells), coords, cell_prompt))
    return cells


def _warn_once(caught: list[warnings.WarningMessage], already: Sequence[str]) -> None:
    """Re-issue the cells' warnings once each: every cell repeats the prompt's doubts at
    its own columns, so one doubt is one warning (none if the prompt's parse gave it)."""
    seen = {_COLUMN.sub("", note) for note in already}
    for item in caught:
        text = str(item.message)
        if issubclass(item.category, PromptWarning):
            if _COLUMN.sub("", text) in seen:
                continue
            seen.add(_COLUMN.sub("", text))
        warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)


def plan_sweep(
    prompt: str | Prompt,
    *,
    axes: Mapping[str, Any] | None = None,
    provider: str = "local",
    mode: str | None = None,
    seed: int | None = None,
    strict: bool = True,
) -> SweepPlan:
    """Plan a sweep: the axes, every cell's prompt, the job count; sends nothing.

    ``axes`` are the keyword axes (see the module docstring). ``seed`` is the fixed seed
    to use when neither the prompt nor an axis sets one (default: a random one).
    Raises PromptError for a bad axis or for any cell Midjourney would refuse;
    ``strict=False`` keeps unknown parameters (a Prompt given keeps its own strictness).
    """
    if mode is not None and mode not in GPU_MINUTES:
        raise InvalidArgument(f"mode must be one of {', '.join(GPU_MINUTES)}, got {mode!r}.")
    if isinstance(prompt, Prompt):
        base, strict = prompt, strict and not prompt.unknown
    else:
        base = parse_prompt(prompt, strict=strict)
    variants = base.expand()
    prompt_axes = _prompt_axes(variants, base)
    keyword = _keyword_axes(axes, prompt_axes)
    fixed_seed = _fixed_seed(variants, prompt_axes, keyword, seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PromptWarning)
        cells = _cells(variants, prompt_axes, keyword, fixed_seed, strict)
    _warn_once(caught, base.warnings)

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
