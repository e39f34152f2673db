"""The Midjourney prompt language: parse, validate, print and expand prompts.

    >>> p = parse_prompt("http://x/a.png a fox::2 cat --ar 16:9 --s 250 --no red")
    >>> p.images, p.text, p.params
    (['http://x/a.png'], 'a fox::2 cat', {'ar': '16:9', 'stylize': 250, 'no': ['red']})
    >>> str(p)
    'http://x/a.png a fox::2 cat --ar 16:9 --stylize 250 --no red'

A prompt is image URLs, then text, then parameters (``--name value``), in that order.
:func:`parse_prompt` checks everything Midjourney would check before a job is sent:
names, aliases, values and their ranges, the version a parameter needs, duplicates,
text after parameters, multi-prompt weights. Anything wrong raises
:class:`~mjnb.errors.PromptError` (and nothing else, whatever the string) with a
full-sentence message and the 1-based ``column`` where the problem starts.
Parameters come last: only ``--no`` (a comma list), ``--sref``/``--cref`` (several
references) and ``--p`` (several codes) take more than one word; a word after any
other parameter is an error. A phone's em-dash (``—ar``) or en-dash counts as ``--``.

Values in ``Prompt.params`` (keys are the long names of :data:`PARAMETERS`):

- numbers are ``int`` when whole and ``float`` otherwise (``--q .5`` -> ``0.5``);
- ``ar`` is the string ``"W:H"``; ``version`` and ``niji`` are strings (``"6.1"``,
  ``"6"``; ``--v 6.0`` is ``"6"``) so 6 and 6.0 never differ; a bare ``--niji`` is
  ``True`` (the current niji model);
- switches (``--tile``, ``--fast`` ...) are ``True``; ``--raw`` is ``style="raw"``;
- ``no`` is a list of strings (``--no red, blue cars`` -> ``["red", "blue cars"]``);
  ``sref``/``cref`` are lists of URLs or codes (which may carry ``::weight``);
  ``p`` is a list of profile codes, or ``True`` when given bare.

Where Midjourney's versions differ (quality steps, aspect limits, which parameters
exist), the prompt is checked against the version it asks for; with no version it is
checked against what any current version (6, 6.1, 7) accepts; where sources disagree
the wider range is accepted (``--chaos`` up to 1000, as MetaChat documents).

Permutations: ``{a, b}`` anywhere (text, a parameter's value, or a whole parameter:
``--{v 6, niji 6}``) multiplies the prompt; groups nest and several groups multiply,
the first group varying slowest; ``\\,`` is a literal comma inside a group. Every
expansion is validated by :func:`parse_prompt`. The returned prompt's ``str()`` keeps
the braces (its ``template``); its ``images`` and ``text`` are those of the template
as written (braces included), its ``params`` those every expansion shares. ``expand()``
lists the concrete prompts, each with ``choices`` naming the value each axis took.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Literal

from mjnb.errors import PromptError

__all__ = [
    "MAX_PERMUTATIONS",
    "PARAMETERS",
    "ParamSpec",
    "Prompt",
    "parse_prompt",
]

#: The most prompts one permutation prompt may expand to (Midjourney's own cap is 40).
MAX_PERMUTATIONS = 1000
#: The deepest nesting of permutation groups accepted.
MAX_NESTING = 8

Kind = Literal[
    "ratio", "whole", "decimal", "flag", "list", "refs", "url", "codes", "version", "niji", "style"
]  # fmt: skip


@dataclass(frozen=True)
class ParamSpec:
    """What one Midjourney parameter accepts; used for validation, help and the panel.

    ``aliases`` are every spelling accepted after ``--`` (the long name first);
    ``range`` is the short text used in messages (``"0-1000"``); ``low``/``high``
    bound numeric parameters (the widest range any version accepts).
    """

    name: str
    aliases: tuple[str, ...]
    kind: Kind
    range: str
    help: str
    default: str | None = None
    low: float | None = None
    high: float | None = None
    example: str = ""

    @property
    def spelling(self) -> str:
        """The canonical spelling used by ``str(prompt)``: ``--ar``, ``--stylize`` ..."""
        return f"--{self.name}"


def _spec(
    name: str,
    aliases: tuple[str, ...],
    kind: Kind,
    range_: str,
    help_: str,
    default: str | None = None,
    low: float | None = None,
    high: float | None = None,
    example: str = "",
) -> tuple[str, ParamSpec]:
    example = example or (f"--{name} {default}" if default else f"--{name}")
    return name, ParamSpec(name, (name, *aliases), kind, range_, help_, default, low, high, example)


#: Every parameter, by long name, in the order ``str(prompt)`` prints them.
PARAMETERS: Mapping[str, ParamSpec] = MappingProxyType(
    dict(
        [
            _spec("ar", ("aspect",), "ratio", "W:H in whole numbers (1:14 to 14:1 in V6 and later)",
                  "Width-to-height ratio of the image, e.g. 16:9.", "1:1", example="--ar 16:9"),
            _spec("chaos", ("c",), "whole", "0-1000",
                  "How different the four grid images are from each other (0-100; up to 1000 "
                  "accepted).", "0", 0, 1000, "--chaos 20"),
            _spec("stylize", ("s",), "whole", "0-1000",
                  "How strongly Midjourney's own aesthetic is applied.", "100", 0, 1000,
                  "--stylize 250"),
            _spec("weird", ("w",), "whole", "0-3000",
                  "Quirky, unconventional looks (V5 and later, niji 5/6).", "0", 0, 3000,
                  "--weird 250"),
            _spec("seed", (), "whole", "0-4294967295",
                  "Starting noise; the same seed and prompt give a similar initial grid.",
                  None, 0, 4294967295, "--seed 42"),
            _spec("quality", ("q",), "decimal", ".25, .5, 1, 2 or 4 (depending on the version)",
                  "GPU time spent: V5.2/6.0/niji 5 take .25 .5 1; V6.1 .5 1 2; V7 1 2 4.",
                  "1", 0.25, 4, "--quality 2"),
            _spec("no", (), "list", "a comma-separated list",
                  "Things to leave out, e.g. --no text, people (same as weight ::-.5).",
                  None, example="--no red, blue cars"),
            _spec("stop", (), "whole", "10-100",
                  "Stop generating at this percentage for a softer, less detailed image.",
                  "100", 10, 100, "--stop 80"),
            _spec("tile", (), "flag", "a switch",
                  "Make an image that repeats seamlessly as a tile."),
            _spec("repeat", ("r",), "whole", "2-40",
                  "Run the same prompt several times (fast/turbo only; 4/10/40 by plan).",
                  None, 2, 40, "--repeat 4"),
            _spec("version", ("v",), "version", "1, 2, 3, 4, 5, 5.1, 5.2, 6, 6.1, 7, 8 or 8.1",
                  "Midjourney model version.", None, example="--version 6.1"),
            _spec("niji", (), "niji", "4, 5, 6 or 7 (or nothing for the current niji model)",
                  "The anime/illustration model (niji).", None, example="--niji 6"),
            _spec("style", ("raw",), "style",
                  "raw (V5.1+, niji 6), cute, expressive, original or scenic (niji 5), or a "
                  "style code",
                  "A style: raw for less Midjourney flavour; niji 5 styles; style codes. "
                  "--raw is short for --style raw.", None, example="--style raw"),
            _spec("iw", (), "decimal", "0-3 (0-2 in V5 and niji 5)",
                  "Weight of the image prompt against the text.", "1", 0, 3, "--iw 1.5"),
            _spec("sref", (), "refs", "image URLs, numeric style codes or random",
                  "Style reference: copy the look of images or a style code (V6+, niji 6).",
                  None, example="--sref https://example.com/style.png"),
            _spec("sw", (), "whole", "0-1000", "Style reference weight.", "100", 0, 1000,
                  "--sw 200"),
            _spec("sv", (), "whole", "1-6", "Style reference model version.", None, 1, 6,
                  "--sv 4"),
            _spec("cref", (), "refs", "image URLs",
                  "Character reference: keep a character from images (V6 and niji 6 only).",
                  None, example="--cref https://example.com/hero.png"),
            _spec("cw", (), "whole", "0-100",
                  "Character reference weight: 0 keeps the face only, 100 face, hair and "
                  "clothes.", "100", 0, 100, "--cw 50"),
            _spec("oref", (), "url", "one image URL",
                  "Omni reference: put a person or object from an image in (V7 only).",
                  None, example="--oref https://example.com/robot.png"),
            _spec("ow", (), "whole", "0-1000", "Omni reference weight.", "100", 0, 1000,
                  "--ow 400"),
            _spec("exp", (), "whole", "0-100",
                  "Experimental aesthetics: more detail and dynamism (V7).", "0", 0, 100,
                  "--exp 25"),
            _spec("p", ("personalize", "profile"), "codes", "profile codes, or nothing",
                  "Personalization: your own or the given profile codes' taste.",
                  None, example="--p"),
            _spec("draft", (), "flag", "a switch", "Draft mode: fast, cheap, rougher (V7)."),
            _spec("fast", (), "flag", "a switch", "Run this job in fast mode."),
            _spec("relax", (), "flag", "a switch", "Run this job in relax mode (slow, free)."),
            _spec("turbo", (), "flag", "a switch", "Run this job in turbo mode (quickest)."),
            _spec("public", (), "flag", "a switch", "Show the result in the public gallery."),
            _spec("stealth", (), "flag", "a switch", "Keep the result out of the gallery."),
        ]
    )
)  # fmt: skip

_ALIASES: dict[str, str] = {
    alias: spec.name for spec in PARAMETERS.values() for alias in spec.aliases
}

#: Parameters Midjourney dropped, and what to use instead.
_DEPRECATED: dict[str, str] = {
    "width": "set the shape with --ar W:H instead",
    "height": "set the shape with --ar W:H instead",
    "hq": "use --quality instead",
    "vibe": "pick a model with --version instead",
    "newclip": "pick a model with --version instead",
    "nostretch": "set the shape with --ar W:H instead",
    "old": "pick an older model with --version instead (e.g. --v 5.2)",
    "beta": "pick a model with --version instead",
    "upanime": "upscale the finished image with the 'upscale subtle' or 'upscale creative' "
    "action, or use --niji for the anime look",
    "upbeta": "upscale the finished image with the 'upscale subtle' or 'upscale creative' action",
}

_VERSIONS = ("1", "2", "3", "4", "5", "5.1", "5.2", "6", "6.1", "7", "8", "8.1")
_NIJIS = ("4", "5", "6", "7")
_QUALITY_ALL = (0.25, 0.5, 1, 2, 4)
_NIJI5_STYLES = ("cute", "expressive", "original", "scenic")
_SPEEDS = ("fast", "relax", "turbo")
_AR_V6 = (Fraction(1, 14), Fraction(14, 1))
_AR_V4 = (Fraction(1, 2), Fraction(2, 1))
_IMAGE_EXTENSIONS = (".png", ".gif", ".webp", ".jpg", ".jpeg")

_WORD = re.compile(r"\S+")
_MARK = re.compile(r"(?:--|-?[—–]-?)(?=[A-Za-z])")  # --name, or a phone's em/en-dash
_DASHES = re.compile(r"--|-?[—–]-?")
_LONE_DASHES = re.compile(r"-{2,}|-*[—–]-+|-+[—–]-*")
_MARKER_WORD = re.compile(r"(?<!\S)(?:--|-?[—–]-?)([A-Za-z]+)(?!\S)")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_RATIO = re.compile(r"(\d{1,9}):(\d{1,9})", re.ASCII)
_WEIGHT = re.compile(r"::(-?(?:\d+(?:\.\d*)?|\.\d+))?", re.ASCII)
_REF_WEIGHT = re.compile(r"::[+-]?(?:\d+(?:\.\d*)?|\.\d+)$", re.ASCII)
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_VERSION_TEXT = re.compile(r"0*(\d{1,3})(?:\.(\d{1,3}))?", re.ASCII)

Params = dict[str, Any]
Model = tuple[str, float | None] | None  # ("mj", 6.1), ("niji", 6.0), ("niji", None), None


# --------------------------------------------------------------------------- Prompt


@dataclass(frozen=True)
class Prompt:
    """A parsed, validated prompt. Build one with :func:`parse_prompt`.

    ``choices`` is empty unless this prompt came out of :meth:`expand`: then it maps
    each permutation axis to the value it took here. ``source`` is the string it was
    parsed from (for an expansion, that expansion's text); it takes no part in
    equality. ``template`` is the canonical text of a permutation prompt, braces kept,
    and ``None`` for a plain one.
    """

    images: list[str]
    text: str
    params: dict[str, Any]
    choices: dict[str, str] = field(default_factory=dict)
    source: str = field(default="", compare=False, repr=False)
    template: str | None = None

    def __str__(self) -> str:
        """The canonical prompt: ``parse_prompt(str(p)) == p`` and printing is idempotent."""
        if self.template is not None:
            return self.template
        parts = [*self.images]
        if self.text:
            parts.append(self.text)
        parts.extend(_format_param(name, value) for name, value in _ordered(self.params))
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
        resolved: dict[str, Any] = {}
        for key, value in changes.items():
            name = _ALIASES.get(key.lower())
            if name is None:
                raise PromptError(
                    f"with_params got an unknown parameter {key!r}; use one of: "
                    f"{', '.join(PARAMETERS)}."
                )
            resolved[name] = "raw" if key.lower() == "raw" and value is True else value
        if self.template is None:
            params = dict(self.params)
            for name, value in resolved.items():
                if value is None or value is False:
                    params.pop(name, None)
                else:
                    params[name] = value
            text = str(Prompt(self.images, self.text, params))
        else:
            text = _replace_template_params(self.template, resolved)
        try:
            result = parse_prompt(text)
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
            assert self.template is not None
            _, axes, prompts, _ = _expand(self.template)
            cached = (axes, prompts)
            object.__setattr__(self, "_cached_expansion", cached)
        assert cached is not None
        return cached


def parse_prompt(source: str) -> Prompt:
    """Parse and validate a Midjourney prompt; raise PromptError if Midjourney would refuse it.

    A permutation prompt (``{a, b}``) is validated in every expansion; the Prompt
    returned keeps the braces (see the module docstring for what its fields hold).
    """
    if not isinstance(source, str):
        raise TypeError(f"parse_prompt() takes a str, not {type(source).__name__}.")
    if "{" not in source and "}" not in source:
        images, text, params = _parse_flat(source, None)
        return Prompt(images, text, params, source=source)
    template, axes, prompts, _ = _expand(source)
    images, text = _template_head(template)
    first = prompts[0].params
    common = {
        key: value
        for key, value in first.items()
        if all(key in other.params and other.params[key] == value for other in prompts[1:])
    }
    prompt = Prompt(images, text, common, source=source, template=template)
    object.__setattr__(prompt, "_cached_expansion", (axes, prompts))
    return prompt


# --------------------------------------------------------------------------- printing


def _ordered(params: Mapping[str, Any]) -> list[tuple[str, Any]]:
    known = [(name, params[name]) for name in PARAMETERS if name in params]
    return known + [(name, value) for name, value in params.items() if name not in PARAMETERS]


def _format_number(value: float) -> str:
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
        return _format_number(value)
    return str(value).strip()


def _format_param(name: str, value: Any) -> str:
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


# --------------------------------------------------------------------------- flat parser

ColumnOf = Callable[[int], int]


@dataclass
class _Seen:
    """Where a parameter stood: its token as written, column and shown text."""

    token: str
    column: int
    shown: str

    @property
    def where(self) -> str:
        return f"({self.shown} at column {self.column})"


def _is_image_url(token: str) -> bool:
    lower = token.lower()
    if lower.startswith("https://"):
        rest = lower[8:]
    elif lower.startswith("http://"):
        rest = lower[7:]
    else:
        return False
    base = re.split(r"[?#]", rest, maxsplit=1)[0]
    return "/" in base and base.endswith(_IMAGE_EXTENSIONS)


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _parse_number(token: str) -> int | float | None:
    if len(token) > 40 or not _NUMBER.fullmatch(token):
        return None
    if "." not in token:
        return int(token)
    number = float(token)
    return int(number) if number.is_integer() else number


def _parse_flat(source: str, posmap: Sequence[int] | None) -> tuple[list[str], str, Params]:
    """Parse a prompt without braces. ``posmap`` maps indexes to the original's."""

    def column(index: int) -> int:
        if posmap is None:
            return index + 1
        if index < len(posmap):
            return posmap[index] + 1
        return (posmap[-1] + 2) if posmap else 1

    tokens = [(m.start(), m.group()) for m in _WORD.finditer(source)]
    if not tokens:
        raise PromptError(
            "The prompt is empty; write what the image should show, then any parameters "
            "(e.g. 'a red fox in snow --ar 3:2')."
        )
    count = len(tokens)
    index = 0
    images: list[str] = []
    while index < count and _is_image_url(tokens[index][1]):
        images.append(tokens[index][1])
        index += 1
    text_start = index
    while index < count and not _MARK.match(tokens[index][1]):
        _check_not_lone_dashes(tokens[index], column)
        index += 1
    text_tokens = tokens[text_start:index]
    params: Params = {}
    seen: dict[str, _Seen] = {}
    while index < count:
        position, token = tokens[index]
        end = index + 1
        while end < count and not _MARK.match(tokens[end][1]):
            _check_not_lone_dashes(tokens[end], column)
            end += 1
        _read_param(token, column(position), tokens[index + 1 : end], column, params, seen)
        index = end
    _check_combinations(params, seen)
    text = " ".join(token for _, token in text_tokens)
    if not text and len(images) < 2:
        if images:
            raise PromptError(
                "A prompt with one image URL needs text after the image, or a second image "
                "URL for an image-only prompt (image at column "
                f"{column(tokens[0][0])}).",
                column=column(tokens[0][0]),
            )
        raise PromptError(
            "The prompt has parameters but no text; write what the image should show before "
            f"the first parameter ({tokens[0][1]} at column {column(tokens[0][0])}), or "
            "start with two or more image URLs.",
            column=column(tokens[0][0]),
        )
    if "::" in text:
        _check_weights(text_tokens, column)
    return images, text, params


def _check_not_lone_dashes(token: tuple[int, str], column: ColumnOf) -> None:
    position, word = token
    if _LONE_DASHES.fullmatch(word):
        raise PromptError(
            f"'{_shorten(word)}' at column {column(position)} has no parameter name after it; "
            "write the name right after the dashes (e.g. --ar 16:9) or remove them.",
            column=column(position),
        )


def _check_weights(tokens: Sequence[tuple[int, str]], column: ColumnOf) -> None:
    """Multi-prompt weights (``space::2 ship``) must add up to more than zero."""
    total = 0.0
    first_negative: int | None = None
    trailing = False  # text after the last "::" (and its weight) weighs 1
    for position, word in tokens:
        last_end = 0
        for match in _WEIGHT.finditer(word):
            weight = float(match.group(1)) if match.group(1) else 1.0
            if weight < 0 and first_negative is None:
                first_negative = column(position + match.start())
            total += weight
            last_end = match.end()
            trailing = False
        if last_end < len(word):
            trailing = True
    if trailing:
        total += 1.0
    if total <= 0 or not math.isfinite(total):
        shown = _format_number(round(total, 6)) if math.isfinite(total) else str(total)
        where = f" (first negative weight at column {first_negative})" if first_negative else ""
        raise PromptError(
            f"Multi-prompt weights must add up to more than 0, but here they add up to "
            f"{shown}{where}; raise a weight or drop a negative one.",
            column=first_negative,
        )


def _read_param(
    token: str,
    col: int,
    values: Sequence[tuple[int, str]],
    column: ColumnOf,
    params: Params,
    seen: dict[str, _Seen],
) -> None:
    mark = _MARK.match(token)
    assert mark is not None
    written = token[mark.end() :]
    name = written.lower()
    if name in _DEPRECATED:
        raise PromptError(
            f"--{written} is no longer supported by Midjourney (at column {col}); "
            f"{_DEPRECATED[name]}.",
            column=col,
        )
    long = _ALIASES.get(name)
    if long is None:
        raise PromptError(
            f"Unrecognized parameter --{_shorten(written, 30)} at column {col}{_hint(written)}; "
            "see `%mj help` for the list.",
            column=col,
        )
    spec = PARAMETERS[long]
    kind: Kind = "flag" if name == "raw" else spec.kind
    single = kind not in ("list", "refs", "codes")
    shown_values = values[:1] if single else values
    shown = _shorten(" ".join([token, *(word for _, word in shown_values)]))
    here = _Seen(token, col, shown)
    if long in seen:
        before = seen[long]
        raise PromptError(
            f"--{long} is given twice ({before.token} at column {before.column} and {token} at "
            f"column {col}); keep one.",
            column=col,
        )
    seen[long] = here
    if kind == "flag":
        if values:
            position, word = values[0]
            raise PromptError(
                f"{token} is a switch and takes no value, but '{_shorten(word, 30)}' follows it "
                f"at column {column(position)}; remove it (text goes before the parameters).",
                column=column(position),
            )
        params[long] = "raw" if name == "raw" else True
        return
    if not values:
        if kind in ("niji", "codes"):
            params[long] = True
            return
        raise PromptError(
            f"{token} needs a value, e.g. {spec.example} ({token} at column {col}).", column=col
        )
    if kind == "list":
        items = [item.strip() for item in " ".join(word for _, word in values).split(",")]
        items = [item for item in items if item]
        if not items:
            raise PromptError(
                f"{token} needs a comma-separated list of things to leave out, e.g. "
                f"{spec.example} {here.where}.",
                column=col,
            )
        params[long] = items
        return
    if kind in ("refs", "codes"):
        items = []
        for position, word in values:
            for item in word.split(",") if kind == "codes" else [word]:
                if not item:
                    continue
                _check_item(long, item, here, column(position))
                items.append(item.lower() if item.lower() == "random" else item)
        if not items:
            raise PromptError(
                f"{token} needs {spec.range}, e.g. {spec.example} {here.where}.", column=col
            )
        params[long] = items
        return
    params[long] = _read_single(long, kind, values[0][1], here)
    if len(values) > 1:
        position, word = values[1]
        raise PromptError(
            f"Parameters must come last: '{_shorten(word, 30)}' at column {column(position)} "
            f"follows {shown}; move the text before the first parameter.",
            column=column(position),
        )


def _hint(written: str) -> str:
    head = re.match(r"[A-Za-z]+", written)
    if head and head.end() < len(written) and head.group().lower() in _ALIASES:
        rest = written[head.end() :].lstrip("=:")
        return f" (write a space between the name and its value: --{head.group()} {rest})"
    close = difflib.get_close_matches(written.lower(), list(_ALIASES), n=1, cutoff=0.75)
    return f" (did you mean --{close[0]}?)" if close else ""


def _read_single(long: str, kind: Kind, word: str, here: _Seen) -> Any:
    spec = PARAMETERS[long]
    got = f"got {_shorten(word, 30)} {here.where}"
    if kind == "ratio":
        match = _RATIO.fullmatch(word)
        if not match or int(match.group(1)) == 0 or int(match.group(2)) == 0:
            raise PromptError(
                f"ar must be two positive whole numbers W:H such as 16:9, {got}.",
                column=here.column,
            )
        return f"{int(match.group(1))}:{int(match.group(2))}"
    if kind == "version":
        version = _normal_version(word)
        if version not in _VERSIONS:
            raise PromptError(f"version must be {spec.range}, {got}.", column=here.column)
        return version
    if kind == "niji":
        niji = _normal_version(word)
        if niji not in _NIJIS:
            raise PromptError(f"niji must be {spec.range}, {got}.", column=here.column)
        return niji
    if kind == "style":
        lower = word.lower()
        if lower == "raw" or lower in _NIJI5_STYLES:
            return lower
        if _CODE.fullmatch(word) and (any(ch.isdigit() for ch in word) or len(word) >= 8):
            return word
        raise PromptError(f"style must be {spec.range}, {got}.", column=here.column)
    if kind == "url":
        if not _is_url(word):
            raise PromptError(
                f"{long} must be {spec.range} (http:// or https://), {got}.", column=here.column
            )
        return word
    number = _parse_number(word)
    low, high = spec.low, spec.high
    assert low is not None and high is not None
    if kind == "whole":
        if number is None or not isinstance(number, int) or not low <= number <= high:
            what = "a whole number " if number is None or not isinstance(number, int) else ""
            raise PromptError(f"{long} must be {what}{spec.range}, {got}.", column=here.column)
        return number
    if long == "quality":
        if number is None or number not in _QUALITY_ALL:
            raise PromptError(f"quality must be {spec.range}, {got}.", column=here.column)
        return number
    if number is None or not low <= number <= high:
        what = "a number " if number is None else ""
        raise PromptError(f"{long} must be {what}{spec.range}, {got}.", column=here.column)
    return number


def _normal_version(word: str) -> str | None:
    match = _VERSION_TEXT.fullmatch(word)
    if not match:
        return None
    major, minor = match.group(1), (match.group(2) or "").rstrip("0")
    return f"{major}.{minor}" if minor else major


def _is_url(word: str) -> bool:
    lower = word.lower()
    return lower.startswith(("http://", "https://")) and len(lower) > lower.index("//") + 2


def _check_item(long: str, item: str, here: _Seen, col: int) -> None:
    bare = _REF_WEIGHT.sub("", item) if long in ("sref", "cref") else item
    if long == "sref":
        ok = _is_url(bare) or (bare.isascii() and bare.isdigit()) or bare.lower() == "random"
        what = "image URLs, numeric style codes or random"
    elif long == "cref":
        ok = _is_url(bare)
        what = "image URLs (http:// or https://)"
    else:
        ok = bool(_CODE.fullmatch(bare))
        what = "profile codes made of letters and digits"
    if not ok:
        raise PromptError(
            f"{long} takes {what}, got {_shorten(item, 40)} at column {col} "
            f"({here.token} at column {here.column}).",
            column=col,
        )


# --------------------------------------------------------------------------- versions


def _model(params: Params) -> Model:
    if "version" in params:
        return ("mj", float(params["version"]))
    niji = params.get("niji")
    if niji is None:
        return None
    return ("niji", None if niji is True else float(niji))


def _model_name(params: Params) -> str:
    if "version" in params:
        return f"--version {params['version']}"
    return "--niji" if params.get("niji") is True else f"--niji {params.get('niji')}"


def _quality_steps(model: Model) -> tuple[float, ...]:
    if model is None:
        return _QUALITY_ALL
    family, number = model
    if family == "mj":
        assert number is not None
        if number < 4:
            return (0.25, 0.5, 1, 2)
        if number < 6.1:
            return (0.25, 0.5, 1)
        if number < 7:
            return (0.5, 1, 2)
        if number < 8:
            return (1, 2, 4)
        return _QUALITY_ALL  # later versions: not documented, accept them all
    if number is None or number >= 7:
        return _QUALITY_ALL
    return (0.25, 0.5, 1)


def _ar_limits(model: Model) -> tuple[Fraction, Fraction] | None:
    if model is None:
        return _AR_V6
    family, number = model
    if family == "mj":
        assert number is not None
        if number < 4 or 5 <= number < 6:
            return None
        return _AR_V4 if number < 5 else _AR_V6
    if number is None or number >= 6:
        return _AR_V6
    return None if number == 5 else _AR_V4


@dataclass(frozen=True)
class _Rule:
    """Which models a parameter works with: [low, high) per family; None = not at all."""

    mj: tuple[float, float] | None
    niji: tuple[float, float] | None
    wants: str
    fix: str
    unversioned: bool = True  # accepted when the prompt names no model


_LATER = 1000.0
_RULES: dict[str, _Rule] = {
    "weird": _Rule((5, _LATER), (5, _LATER), "version 5 or later, or niji 5 or later",
                   "remove it or pick a newer model"),
    "raw": _Rule((5.1, _LATER), (6, _LATER), "version 5.1 or later, or niji 6 or later",
                 "remove it or pick a newer model"),
    "niji5-style": _Rule(None, (5, 6), "--niji 5", "add --niji 5 or remove the style",
                         unversioned=False),
    "sref": _Rule((6, _LATER), (6, _LATER), "version 6 or later, or niji 6 or later",
                  "remove it or pick a newer model"),
    "cref": _Rule((6, 7), (6, 7), "version 6 or 6.1, or niji 6",
                  "remove it, or use --oref with version 7"),
    "oref": _Rule((7, _LATER), None, "version 7 or later",
                  "remove it, or use --cref with version 6"),
    "v7": _Rule((7, _LATER), None, "version 7 or later", "remove it or use --v 7"),
}  # fmt: skip
_RULE_OF = {
    "weird": "weird", "sref": "sref", "sw": "sref", "sv": "sref", "p": "sref",
    "cref": "cref", "cw": "cref", "oref": "oref", "ow": "oref", "exp": "v7", "draft": "v7",
}  # fmt: skip


def _allows(rule: _Rule, model: Model) -> bool:
    if model is None:
        return rule.unversioned
    family, number = model
    span = rule.mj if family == "mj" else rule.niji
    if span is None:
        return False
    return number is None or span[0] <= number < span[1]  # bare --niji: the current one


def _check_combinations(params: Params, seen: dict[str, _Seen]) -> None:
    """Checks that depend on more than one parameter, mostly on the model version."""
    if "version" in params and "niji" in params:
        first, second = sorted((seen["version"], seen["niji"]), key=lambda s: s.column)
        raise PromptError(
            f"Use either --version or --niji, not both ({first.shown} at column {first.column}, "
            f"{second.shown} at column {second.column}); remove one.",
            column=second.column,
        )
    model = _model(params)
    if "ar" in params:
        limits = _ar_limits(model)
        width, height = (int(part) for part in params["ar"].split(":"))
        if limits and not limits[0] <= Fraction(width, height) <= limits[1]:
            low, high = limits
            for_what = f"with {_model_name(params)}" if model else "in V6 and later"
            here = seen["ar"]
            raise PromptError(
                f"ar must be between {low.numerator}:{low.denominator} and "
                f"{high.numerator}:{high.denominator} {for_what}, got {params['ar']} "
                f"{here.where}.",
                column=here.column,
            )
    if "quality" in params:
        steps = _quality_steps(model)
        if params["quality"] not in steps:
            here = seen["quality"]
            allowed = ", ".join(_format_number(step) for step in steps[:-1])
            raise PromptError(
                f"quality must be {allowed} or {_format_number(steps[-1])} with "
                f"{_model_name(params)}, got {_format_number(params['quality'])} {here.where}.",
                column=here.column,
            )
    if "iw" in params and params["iw"] > 2 and model is not None:
        family, number = model
        if number is not None and (5 <= number < 6 if family == "mj" else number == 5):
            here = seen["iw"]
            raise PromptError(
                f"iw must be 0-2 with {_model_name(params)}, got "
                f"{_format_number(params['iw'])} {here.where}.",
                column=here.column,
            )
    for name in PARAMETERS:
        if name not in params:
            continue
        rule_name = _RULE_OF.get(name)
        if name == "style" and params["style"] == "raw":
            rule_name = "raw"
        elif name == "style" and params["style"] in _NIJI5_STYLES:
            rule_name = "niji5-style"
        if rule_name and not _allows(_RULES[rule_name], model):
            rule, here = _RULES[rule_name], seen[name]
            asks = f"asks for {_model_name(params)}" if model else "names no model"
            raise PromptError(
                f"{here.shown} works only with {rule.wants}, but this prompt {asks} "
                f"(column {here.column}); {rule.fix}.",
                column=here.column,
            )
    _check_exclusive(params, seen, _SPEEDS, "Choose one speed")
    _check_exclusive(params, seen, ("public", "stealth"), "Choose public or stealth")
    if "repeat" in params and "relax" in params:
        here = seen["repeat"]
        raise PromptError(
            f"--repeat runs only in fast or turbo mode, but --relax is given {here.where}; "
            "remove one of them.",
            column=here.column,
        )


def _check_exclusive(
    params: Params, seen: dict[str, _Seen], names: Iterable[str], lead: str
) -> None:
    given = sorted((seen[name] for name in names if name in params), key=lambda s: s.column)
    if len(given) > 1:
        listed = " and ".join(f"{s.token} (column {s.column})" for s in given)
        raise PromptError(f"{lead}: {listed} are both given; keep one.", column=given[1].column)


# --------------------------------------------------------------------------- permutations


@dataclass
class _Lit:
    """Literal text; ``raw`` as written (escapes kept), ``pos`` each char's source index."""

    text: str
    raw: str
    pos: list[int]


@dataclass
class _Group:
    start: int
    alts: list[list[_Lit | _Group]]


@dataclass
class _Frag:
    """One expansion of a group: text and the source index of each character."""

    text: str
    pos: list[int]

    def stripped(self) -> _Frag:
        left = len(self.text) - len(self.text.lstrip())
        right = len(self.text.rstrip())
        return _Frag(self.text[left:right], self.pos[left:right])


Seq = list[_Lit | _Group]


def _parse_tree(source: str) -> Seq:
    root: Seq = []
    current = root
    stack: list[tuple[_Group, Seq]] = []
    text: list[str] = []
    raw: list[str] = []
    pos: list[int] = []

    def flush() -> None:
        if raw:
            current.append(_Lit("".join(text), "".join(raw), list(pos)))
            text.clear()
            raw.clear()
            pos.clear()

    index, length = 0, len(source)
    while index < length:
        char = source[index]
        if char == "\\" and stack and source[index + 1 : index + 2] == ",":
            text.append(",")
            raw.append("\\,")
            pos.append(index + 1)
            index += 2
            continue
        if char == "{":
            flush()
            if len(stack) >= MAX_NESTING:
                raise PromptError(
                    f"Permutation groups nest more than {MAX_NESTING} deep at column "
                    f"{index + 1}; simplify the prompt.",
                    column=index + 1,
                )
            group = _Group(index, [[]])
            current.append(group)
            stack.append((group, current))
            current = group.alts[-1]
        elif char == "}":
            if not stack:
                raise PromptError(
                    f"Unbalanced brace: '}}' at column {index + 1} closes no '{{'; remove it or "
                    "add the matching '{' (permutations look like {a, b}).",
                    column=index + 1,
                )
            flush()
            group, current = stack.pop()
            if all(not _WORD.search(_render(alt, top=False)) for alt in group.alts):
                raise PromptError(
                    f"The permutation group at column {group.start + 1} has no options; put "
                    "them inside, e.g. {red, blue}, or remove the braces.",
                    column=group.start + 1,
                )
        elif char == "," and stack:
            flush()
            group = stack[-1][0]
            group.alts.append([])
            current = group.alts[-1]
        else:
            text.append(char)
            raw.append(char)
            pos.append(index)
        index += 1
    if stack:
        start = stack[-1][0].start + 1
        raise PromptError(
            f"Unbalanced brace: '{{' at column {start} is never closed; add the matching '}}' "
            "(permutations look like {a, b}).",
            column=start,
        )
    flush()
    return root


def _count(seq: Seq) -> int:
    return math.prod(
        sum(_count(alt) for alt in piece.alts) for piece in seq if isinstance(piece, _Group)
    )


def _seq_frags(seq: Seq) -> list[_Frag]:
    """Every expansion of a sequence, first group varying slowest."""
    result = [_Frag("", [])]
    for piece in seq:
        if isinstance(piece, _Lit):
            result = [_Frag(f.text + piece.text, f.pos + piece.pos) for f in result]
        else:
            options = _group_frags(piece)
            result = [_Frag(f.text + o.text, f.pos + o.pos) for f in result for o in options]
    return result


def _group_frags(group: _Group) -> list[_Frag]:
    return [frag.stripped() for alt in group.alts for frag in _seq_frags(alt)]


def _collapse(text: str) -> str:
    return " ".join(_WORD.findall(text))


def _render(seq: Seq, *, top: bool) -> str:
    """Canonical text of a sequence: groups as ``{a, b}``, alias spellings normalised."""
    out: list[str] = []
    last = len(seq) - 1
    for index, piece in enumerate(seq):
        if isinstance(piece, _Lit):
            out.append(
                _normalize_markers(piece.raw, index == 0, index == last) if top else piece.raw
            )
        else:
            out.append(
                "{" + ", ".join(_collapse(_render(alt, top=False)) for alt in piece.alts) + "}"
            )
    return "".join(out)


def _normalize_markers(raw: str, first: bool, last: bool) -> str:
    """``--s`` -> ``--stylize`` etc. where the word is certainly a whole parameter token."""

    def replace_one(match: re.Match[str]) -> str:
        if (match.start() == 0 and not first) or (match.end() == len(raw) and not last):
            return match.group()
        written = match.group(1).lower()
        name = _ALIASES.get(written)
        if name is None:
            return match.group()
        return "--style raw" if written == "raw" else f"--{name}"

    return _MARKER_WORD.sub(replace_one, raw)


def _expand(
    source: str,
) -> tuple[str, dict[str, list[str]], list[Prompt], Seq]:
    """Template text, axes, validated expansions and the tree of a permutation prompt."""
    root = _parse_tree(source)
    total = _count(root)
    if total > MAX_PERMUTATIONS:
        raise PromptError(
            f"This prompt expands to {total} prompts; mjnb accepts at most "
            f"{MAX_PERMUTATIONS} (Midjourney itself runs at most 40); use fewer options.",
        )
    groups = [piece for piece in root if isinstance(piece, _Group)]
    options = [_group_frags(group) for group in groups]
    names = _axis_names(root, options)
    axes = {
        name: [_collapse(frag.text) for frag in opts]
        for name, opts in zip(names, options, strict=True)
    }
    prompts: list[Prompt] = []
    for number, combo in enumerate(itertools.product(*(range(len(o)) for o in options)), 1):
        chosen = iter(options[g][i] for g, i in enumerate(combo))
        parts: list[str] = []
        posmap: list[int] = []
        for piece in root:
            frag = piece if isinstance(piece, _Lit) else next(chosen)
            parts.append(frag.text)
            posmap.extend(frag.pos)
        concrete = "".join(parts)
        choices = {name: axes[name][i] for name, i in zip(names, combo, strict=True)}
        try:
            images, text, params = _parse_flat(concrete, posmap)
        except PromptError as exc:
            picked = ", ".join(f"{name} = {value!r}" for name, value in choices.items())
            raise PromptError(
                f"{exc} This is permutation {number} of {total} ({picked}).", column=exc.column
            ) from None
        prompts.append(Prompt(images, text, params, choices, source=_collapse(concrete)))
    template = _collapse(_render(root, top=True))
    return template, axes, prompts, root


def _classify(names: set[str]) -> str:
    if names and names <= {"version", "niji"}:
        return "model"
    if len(names) == 1:
        return next(iter(names))
    return "params"


def _param_names_in(text: str) -> set[str]:
    names = set()
    for word in _WORD.findall(text):
        mark = _MARK.match(word)
        if mark:
            names.add(_ALIASES.get(word[mark.end() :].lower(), "?"))
    return names


def _axis_names(root: Seq, options: list[list[_Frag]]) -> list[str]:
    """Name each top-level group: its parameter, ``text``, ``model``, ``params`` ..."""
    offsets: dict[int, int] = {}
    pieces: list[str] = []
    length = 0
    for piece in root:
        if isinstance(piece, _Lit):
            pieces.append(piece.text)
            length += len(piece.text)
        else:
            offsets[length] = len(offsets)
            pieces.append("\x00")
            length += 1
    skeleton = "".join(pieces)
    names = [""] * len(offsets)
    phase = "images"
    current = "params"
    for match in _WORD.finditer(skeleton):
        word, start = match.group(), match.start()
        inside = [(o - start, offsets[o]) for o in range(start, match.end()) if o in offsets]
        if phase == "images":
            if _is_image_url(word):
                for _, g in inside:
                    names[g] = "image"
                continue
            phase = "text"
        dashes = _DASHES.match(word)
        after = dashes.end() if dashes else 0
        is_marker = (
            dashes is not None
            and after < len(word)
            and (("a" <= word[after].lower() <= "z") or any(o == after for o, _ in inside))
        )
        if is_marker:
            phase = "params"
            if inside:
                for offset, g in inside:
                    prefix = word[after:offset]
                    found = set()
                    for frag in options[g]:
                        head = re.match(r"[A-Za-z]*", (prefix + frag.text).strip())
                        found.add(_ALIASES.get(head.group().lower(), "?") if head else "?")
                    names[g] = _classify(found)
                current = "params"
            else:
                current = _ALIASES.get(word[after:].lower(), "params")
            continue
        for _, g in inside:
            if phase == "params":
                names[g] = current
                continue
            found = set().union(*(_param_names_in(frag.text) for frag in options[g]))
            if found:
                names[g] = _classify(found)
            elif all(_is_image_url(f.text) for f in options[g] if f.text):
                names[g] = "image"
            else:
                names[g] = "text"
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}{seen[name]}")
    return unique


def _top_tokens(template: str) -> list[str]:
    """Whitespace-separated words of a template, a brace group counting as part of one."""
    tokens: list[str] = []
    depth = 0
    current: list[str] = []
    for char in template:
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(0, depth - 1)
        if char.isspace() and depth == 0:
            if current:
                tokens.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        tokens.append("".join(current))
    return tokens


def _is_param_token(word: str) -> bool:
    dashes = _DASHES.match(word)
    return (
        dashes is not None
        and dashes.end() < len(word)
        and (word[dashes.end()] == "{" or bool(_MARK.match(word)))
    )


def _template_head(template: str) -> tuple[list[str], str]:
    """The leading image URLs and the text of a template, as written."""
    tokens = _top_tokens(template)
    index = 0
    images = []
    while index < len(tokens) and "{" not in tokens[index] and _is_image_url(tokens[index]):
        images.append(tokens[index])
        index += 1
    text = []
    while index < len(tokens) and not _is_param_token(tokens[index]):
        text.append(tokens[index])
        index += 1
    return images, " ".join(text)


def _replace_template_params(template: str, changes: Mapping[str, Any]) -> str:
    """A permutation template with top-level parameters replaced (for with_params)."""
    tokens = _top_tokens(template)
    kept: list[str] = []
    dropping = False
    for word in tokens:
        if _is_param_token(word):
            dashes = _DASHES.match(word)
            assert dashes is not None
            name = word[dashes.end() :]
            if "{" in name:
                if {"version", "niji"} & set(changes):
                    raise PromptError(
                        f"This prompt varies the model with {word}; change the version inside "
                        "the braces instead of with with_params."
                    )
                dropping = False
            else:
                dropping = _ALIASES.get(name.lower()) in changes
        if not dropping:
            kept.append(word)
    added = [_format_param(name, value) for name, value in _ordered(changes)]
    return " ".join([*kept, *(part for part in added if part)])
