"""Reading one parameter and its value: names, aliases, kinds and the widest ranges.

What a value may be in *some* version is checked here (``--s 5000`` is never valid);
what it may be in the prompt's own version is :mod:`mjnb.prompt.rules`' job.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from typing import Any

from mjnb.errors import PromptError

from .fold import fold
from .model import Purpose
from .params import (
    ALIASES,
    DEPRECATED,
    NIJI5_STYLES,
    PARAMETERS,
    QUALITY_STEPS,
    VERSIONS,
    VIDEO_ALIASES,
    VIDEO_PARAMETERS,
    Kind,
    ParamSpec,
)  # fmt: skip
from .refs import is_local_ref, split_weight
from .rules import Params, Seen, newer_minor

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_RATIO = re.compile(r"(\d{1,9}):(\d{1,9})", re.ASCII)
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_VERSION_TEXT = re.compile(r"0*(\d{1,3})(?:\.(\d{1,3}))?", re.ASCII)
_DASHES = re.compile(r"--|-?[—–－]{1,2}-?")
_MJ = tuple(row.number for row in VERSIONS.values() if row.family == "mj")
_NIJI = tuple(row.number for row in VERSIONS.values() if row.family == "niji")
#: video parameters that are no image parameter (``raw`` is: ``--style raw``)
VIDEO_ONLY = tuple(name for name in VIDEO_PARAMETERS if name not in ALIASES)
_ANIMATE = (
    "to make a video, animate an image instead: task.animate('low'), "
    "mj.animate(url, prompt=..., motion='high', loop=..., end=..., batch=...) or "
    "`%mj animate low|high`"
)
STRICT_OFF = (
    "if Midjourney has a parameter mjnb does not know yet, turn strictness off to send it "
    "with a warning: Client(strict=False), %config MJMagic.strict = False, or the panel's "
    "strict checkbox"
)

ColumnOf = Callable[[int], int]
Values = Sequence[tuple[int, str]]


def shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_number(token: str) -> int | float | None:
    if len(token) > 40 or not _NUMBER.fullmatch(token):
        return None
    if "." not in token:
        return int(token)
    number = float(token)
    return int(number) if number.is_integer() else number


def _is_url(word: str) -> bool:
    lower = word.lower()
    return lower.startswith(("http://", "https://")) and len(lower) > lower.index("//") + 2


class Reader:
    """Reads the parameters of one prompt into ``params``, remembering where each stood."""

    def __init__(
        self, params: Params, seen: dict[str, Seen], column: ColumnOf, strict: bool,
        purpose: Purpose, notes: list[str],
    ) -> None:  # fmt: skip
        self.params, self.seen, self.column = params, seen, column
        self.strict, self.purpose, self.notes = strict, purpose, notes
        self.aliases = VIDEO_ALIASES if purpose == "video" else ALIASES

    def read(self, token: str, col: int, values: Values) -> None:
        """One ``--name value...`` group; ``token`` is the marker word as typed."""
        mark = _DASHES.match(token)
        assert mark is not None
        written = fold(token[mark.end() :])
        name = written.lower()
        if name in DEPRECATED:
            raise PromptError(
                f"--{written} is no longer supported by Midjourney (at column {col}); "
                f"{DEPRECATED[name]}.",
                column=col,
            )
        long = self.aliases.get(name)
        if long is None and name in VIDEO_ONLY:
            long = name
        if long is None:
            self._unknown(written, token, col, values)
            return
        spec = PARAMETERS.get(long) or VIDEO_PARAMETERS[long]
        kind: Kind = "flag" if name == "raw" else spec.kind
        single = kind not in ("list", "refs", "codes")
        shown = shorten(
            " ".join([token, *(word for _, word in (values[:1] if single else values))])
        )
        here = Seen(token, col, shown)
        self._purpose_of(long, here)
        key = "loop" if long == "end" and values and values[0][1].lower() == "loop" else long
        if key in self.seen:
            before = self.seen[key]
            raise PromptError(
                f"--{key} is given twice ({before.token} at column {before.column} and "
                f"{token} at column {col}); keep one.",
                column=col,
            )
        self.seen[key] = here
        if key != long:  # --end loop: trueai's spelling of --loop
            self._no_more(values[1:], shown)
            self.params["loop"] = True
            return
        self.params[long] = self._value(long, name, kind, spec, token, col, values, here)

    def _purpose_of(self, long: str, here: Seen) -> None:
        if self.purpose == "image" and long in VIDEO_ONLY:
            if long == "bs":
                self.notes.append(
                    f"{here.shown} sets the number of videos per job; image jobs do not take "
                    f"it and providers may drop or refuse it (column {here.column})."
                )
                return
            raise PromptError(
                f"{here.token} is a video parameter, and this is an image prompt (column "
                f"{here.column}); {_ANIMATE}.",
                column=here.column,
            )
        if self.purpose == "video" and long in PARAMETERS and long not in ("fast", "relax",
                                                                            "turbo"):  # fmt: skip
            self.notes.append(
                f"{here.shown} is an image parameter; video jobs take only --motion, --raw, "
                f"--loop, --end, --bs and --video, so providers may drop it (column "
                f"{here.column})."
            )

    def _unknown(self, written: str, token: str, col: int, values: Values) -> None:
        if self.strict:
            raise PromptError(
                f"Unrecognized parameter --{shorten(written, 30)} at column {col}"
                f"{_hint(written, self.aliases)}; see `%mj help` for the list; {STRICT_OFF}.",
                column=col,
            )
        name = written.lower()
        if name in self.seen:
            raise PromptError(f"--{name} is given twice (at column {col}); keep one.", column=col)
        self.seen[name] = Seen(token, col, token)
        words = [word for _, word in values]
        number = parse_number(words[0]) if len(words) == 1 else None
        self.params[name] = True if not words else number if number is not None else " ".join(words)
        self.notes.append(
            f"--{name} (column {col}) is not a parameter mjnb knows; it is sent as written "
            "because strict is off."
        )

    def _no_more(self, values: Values, shown: str) -> None:
        if values:
            position, word = values[0]
            raise PromptError(
                f"Parameters must come last: '{shorten(word, 30)}' at column "
                f"{self.column(position)} follows {shown}; move the text before the first "
                "parameter.",
                column=self.column(position),
            )

    def _value(
        self, long: str, name: str, kind: Kind, spec: ParamSpec, token: str, col: int,
        values: Values, here: Seen,
    ) -> Any:  # fmt: skip
        if kind == "flag":
            if long == "video" and values and values[0][1] == "1":
                values = values[1:]  # trueai sends --video 1
            if values:
                position, word = values[0]
                raise PromptError(
                    f"{token} is a switch and takes no value, but '{shorten(word, 30)}' follows "
                    f"it at column {self.column(position)}; remove it (text goes before the "
                    "parameters).",
                    column=self.column(position),
                )
            return "raw" if name == "raw" and long == "style" else True
        if not values:
            if kind in ("niji", "codes"):
                return True
            raise PromptError(
                f"{token} needs a value, e.g. {spec.example} ({token} at column {col}).",
                column=col,
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
            return items
        if kind in ("refs", "codes"):
            items = []
            for position, word in values:
                for item in word.split(",") if kind == "codes" else [word]:
                    if not item:
                        continue
                    _check_item(long, item, here, self.column(position))
                    items.append(item.lower() if item.lower() == "random" else item)
            if not items:
                raise PromptError(
                    f"{token} needs {spec.range}, e.g. {spec.example} {here.where}.", column=col
                )
            return items
        value = self._single(long, kind, values[0][1], here)
        self._no_more(values[1:], here.shown)
        return value

    def _single(self, long: str, kind: Kind, word: str, here: Seen) -> Any:
        spec = PARAMETERS.get(long) or VIDEO_PARAMETERS[long]
        got = f"got {shorten(word, 30)} {here.where}"
        if kind == "ratio":
            match = _RATIO.fullmatch(word)
            if not match or int(match.group(1)) == 0 or int(match.group(2)) == 0:
                raise PromptError(
                    f"ar must be two positive whole numbers W:H such as 16:9, {got}.",
                    column=here.column,
                )
            return f"{int(match.group(1))}:{int(match.group(2))}"
        if kind in ("version", "niji"):
            return self._version(kind, spec, word, got, here)
        if kind == "style":
            lower = word.lower()
            if lower == "raw" or lower in NIJI5_STYLES:
                return lower
            if _CODE.fullmatch(word) and (any(ch.isdigit() for ch in word) or len(word) >= 8):
                return word
            raise PromptError(f"style must be {spec.range}, {got}.", column=here.column)
        if kind in ("url", "end"):
            if not _is_url(word) and not (long == "oref" and is_local_ref(word)):
                loop = " or loop" if kind == "end" else ""
                what = "one image URL" if long == "oref" else spec.range
                path = " or a local image path" if long == "oref" else ""
                raise PromptError(
                    f"{long} must be {what} (http:// or https://){loop}{path}, {got}.",
                    column=here.column,
                )
            return word
        if kind == "choice":
            if word.lower() not in spec.choices:
                raise PromptError(f"{long} must be {spec.range}, {got}.", column=here.column)
            return int(word) if word.isdigit() else word.lower()
        return _number(long, kind, spec, word, got, here)

    def _version(self, kind: Kind, spec: ParamSpec, word: str, got: str, here: Seen) -> str:
        number = _normal_version(word)
        known = _MJ if kind == "version" else _NIJI
        if number in known:
            return number
        family = "mj" if kind == "version" else "niji"
        nearest = newer_minor(number, family) if number else None
        if number is None or nearest is None:
            raise PromptError(f"{kind} must be {spec.range}, {got}.", column=here.column)
        label = VERSIONS[nearest].label
        self.notes.append(
            f"{here.shown} is newer than the versions mjnb knows (newest: {label}); it is "
            f"sent, and checked under {label}'s rules (column {here.column})."
        )
        return number


def _number(long: str, kind: Kind, spec: ParamSpec, word: str, got: str, here: Seen) -> Any:
    number = parse_number(word)
    low, high = spec.low, spec.high
    assert low is not None and high is not None
    if kind == "whole":
        if number is None or not isinstance(number, int) or not low <= number <= high:
            what = "a whole number " if number is None or not isinstance(number, int) else ""
            raise PromptError(f"{long} must be {what}{spec.range}, {got}.", column=here.column)
        return number
    if long == "quality":
        if number is None or number not in QUALITY_STEPS:
            raise PromptError(f"quality must be {spec.range}, {got}.", column=here.column)
        return number
    if number is None or not low <= number <= high:
        what = "a number " if number is None else ""
        raise PromptError(f"{long} must be {what}{spec.range}, {got}.", column=here.column)
    return number


def _hint(written: str, aliases: dict[str, str] | Any) -> str:
    head = re.match(r"[A-Za-z]+", written)
    if head and head.end() < len(written) and head.group().lower() in aliases:
        rest = written[head.end() :].lstrip("=:")
        return f" (write a space between the name and its value: --{head.group()} {rest})"
    close = difflib.get_close_matches(written.lower(), list(aliases), n=1, cutoff=0.75)
    return f" (did you mean --{close[0]}?)" if close else ""


def _normal_version(word: str) -> str | None:
    match = _VERSION_TEXT.fullmatch(word)
    if not match:
        return None
    major, minor = match.group(1), (match.group(2) or "").rstrip("0")
    return f"{major}.{minor}" if minor else major


def _check_item(long: str, item: str, here: Seen, col: int) -> None:
    bare = split_weight(item)[0] if long in ("sref", "cref") else item
    if long == "sref":
        ok = _is_url(bare) or (bare.isascii() and bare.isdigit()) or bare.lower() == "random"
        ok = ok or is_local_ref(bare)
        what = "image URLs, local image paths, numeric style codes or random"
    elif long == "cref":
        ok = _is_url(bare) or is_local_ref(bare)
        what = "image URLs (http:// or https://) or local image paths"
    else:
        ok = bool(_CODE.fullmatch(bare))
        what = "profile codes made of letters and digits"
    if not ok:
        raise PromptError(
            f"{long} takes {what}, got {shorten(item, 40)} at column {col} "
            f"({here.token} at column {here.column}).",
            column=col,
        )
