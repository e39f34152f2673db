"""The Prompt value: what a parsed prompt holds, how it prints, and its small API.

A Prompt is plain data (frozen), built by :func:`mjnb.prompt.parse_prompt`. Printing
lives here because ``str(prompt)`` is the canonical form that is sent and logged:
canonical ASCII, long names, the table's order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

from mjnb.errors import PromptError

from .params import ALIASES, PARAMETERS, VIDEO_ALIASES, VIDEO_PARAMETERS

Purpose = Literal["image", "video"]

#: Every known parameter in print order: image parameters, then video parameters.
ORDER: tuple[str, ...] = (*PARAMETERS, *(name for name in VIDEO_PARAMETERS if name != "raw"))
_ORDER_VIDEO: tuple[str, ...] = (*PARAMETERS, *VIDEO_PARAMETERS)


@dataclass(frozen=True)
class Prompt:
    """A parsed, validated prompt. Build one with :func:`mjnb.prompt.parse_prompt`.

    ``choices`` is empty unless this prompt came out of :meth:`expand`: then it maps
    each permutation axis to the value it took here. ``source`` is the string it was
    parsed from (for an expansion, that expansion's text); it takes no part in
    equality. ``template`` is the canonical text of a permutation prompt, braces kept,
    and ``None`` for a plain one. ``purpose`` is ``"video"`` for a prompt parsed as a
    video prompt (``--motion``, ``--loop`` ...). ``warnings`` are the
    :class:`~mjnb.prompt.PromptWarning` messages parsing gave (also issued as warnings),
    so a panel can show them without catching.
    """

    images: list[str]
    text: str
    params: dict[str, Any]
    choices: dict[str, str] = field(default_factory=dict)
    source: str = field(default="", compare=False, repr=False)
    template: str | None = None
    purpose: Purpose = "image"
    warnings: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __str__(self) -> str:
        """The canonical prompt: ``parse_prompt(str(p)) == p`` and printing is idempotent."""
        if self.template is not None:
            return self.template
        parts = [*self.images]
        if self.text:
            parts.append(self.text)
        order = _ORDER_VIDEO if self.purpose == "video" else ORDER
        parts.extend(format_param(name, value) for name, value in ordered(self.params, order))
        return " ".join(part for part in parts if part)

    @property
    def is_permutation(self) -> bool:
        """True when the prompt holds ``{a, b}`` groups (see :meth:`expand`)."""
        return self.template is not None

    @property
    def version(self) -> str | None:
        """The model asked for: ``"6.1"``, ``"niji 6"``, ``"niji"`` (bare --niji) or None."""
        if "version" in self.params:
            return str(self.params["version"])
        niji = self.params.get("niji")
        if niji is None or niji is False:
            return None
        return "niji" if niji is True else f"niji {niji}"

    @property
    def unknown(self) -> list[str]:
        """Parameters outside the table, kept by ``parse_prompt(..., strict=False)``."""
        known = _ORDER_VIDEO
        return [name for name in self.params if name not in known]

    @property
    def axes(self) -> dict[str, list[str]]:
        """Permutation axis name -> its values in order (empty for a plain prompt)."""
        if self.template is None:
            return {}
        axes, _ = self._expansion()
        return {name: list(values) for name, values in axes.items()}

    def expand(self) -> list[Prompt]:
        """One prompt per permutation, first group varying slowest; ``[self]`` if none."""
        if self.template is None:
            return [self]
        _, prompts = self._expansion()
        return list(prompts)

    def with_params(self, **changes: Any) -> Prompt:
        """A new, validated prompt with parameters replaced or added.

        Keys are long names or aliases (``stylize=250``, ``s=250``, ``ar="3:2"``);
        ``None`` (or ``False`` for a switch) removes a parameter. Raises PromptError if
        the result is not a valid prompt.
        """
        from .parse import parse_prompt
        from .permutations import replace_template_params

        aliases = VIDEO_ALIASES if self.purpose == "video" else ALIASES
        resolved: dict[str, Any] = {}
        for key, value in changes.items():
            name = aliases.get(key.lower())
            if name is None:
                raise PromptError(
                    f"with_params got an unknown parameter {key!r}; use one of: "
                    f"{', '.join(PARAMETERS)}."
                )
            raw = key.lower() == "raw" and name == "style" and value is True
            resolved[name] = "raw" if raw else value
        if self.template is None:
            params = dict(self.params)
            for name, value in resolved.items():
                if value is None or value is False:
                    params.pop(name, None)
                else:
                    params[name] = value
            text = str(Prompt(self.images, self.text, params, purpose=self.purpose))
        else:
            text = replace_template_params(self.template, resolved)
        try:
            result = parse_prompt(text, strict=not self.unknown, purpose=self.purpose)
        except PromptError as exc:
            raise PromptError(f"{exc} (The prompt after with_params was: {text!r}.)") from None
        dropped = set(resolved) | ({"model"} if {"version", "niji"} & set(resolved) else set())
        kept = {axis: value for axis, value in self.choices.items() if axis not in dropped}
        return replace(result, choices=kept) if kept else result

    def _expansion(self) -> tuple[dict[str, list[str]], list[Prompt]]:
        cached: tuple[dict[str, list[str]], list[Prompt]] | None = getattr(
            self, "_cached_expansion", None
        )
        if cached is None:
            from .permutations import expand

            assert self.template is not None
            # validated when it was parsed: re-expanding keeps what was kept then
            _, axes, prompts, _ = expand(self.template, strict=False, purpose=self.purpose)
            cached = (axes, prompts)
            object.__setattr__(self, "_cached_expansion", cached)
        assert cached is not None
        return cached


# --------------------------------------------------------------------------- printing


def ordered(params: Mapping[str, Any], order: tuple[str, ...] = ORDER) -> list[tuple[str, Any]]:
    """Parameters in the table's order, unknown ones (strict=False) last as given."""
    known = [(name, params[name]) for name in order if name in params]
    return known + [(name, value) for name, value in params.items() if name not in order]


def format_number(value: float) -> str:
    """``250``, ``0.5``, ``0.0000001``: minimal, never exponent notation."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer():
        return str(int(value))
    return format(Decimal(repr(value)), "f")


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, (int, float)):
        return format_number(value)
    return str(value).strip()


def format_param(name: str, value: Any) -> str:
    """One parameter in canonical spelling; tolerant of the types with_params accepts."""
    if value is None or value is False:
        return ""
    spelling = f"--{name}"
    if value is True:
        return spelling
    if isinstance(value, (list, tuple)):
        joiner = ", " if name == "no" else " "
        return f"{spelling} {joiner.join(_format_value(item) for item in value)}"
    return f"{spelling} {_format_value(value)}"
