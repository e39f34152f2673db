"""The values of one sweep axis: lists, ranges and the string shorthand for numbers.

``"0..1000 step 250"`` is 0, 250, ..., 1000 (both ends included); ``"0..1000/5"`` is 5
evenly spaced values, both ends included (whole-number ends give whole numbers,
rounded, when the values are at least 1 apart); ``"0, 250, 750"`` is a plain list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from mjnb.errors import PromptError

__all__ = ["MAX_VALUES", "MODEL_AXIS", "TEXT_AXIS", "parse_values", "scalar"]

#: Axis names that are not Midjourney parameters.
TEXT_AXIS = "text"
MODEL_AXIS = "model"
MAX_VALUES = 1000

_RANGE_STEP = re.compile(r"^\s*(?P<a>[^.\s][^\s]*?)\s*\.\.\s*(?P<b>\S+?)\s+step\s+(?P<s>\S+)\s*$")
_RANGE_COUNT = re.compile(r"^\s*(?P<a>[^.\s][^\s]*?)\s*\.\.\s*(?P<b>\S+?)\s*/\s*(?P<n>\d+)\s*$")
RANGE_SYNTAX = '"0..1000 step 250" or "0..1000/5"'


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
            f"such as {name}={RANGE_SYNTAX}. To fix a value in every cell, put it in "
            "the prompt instead."
        )
    else:
        values = list(spec)
    if not values:
        raise PromptError(f"{where} has no values; give at least one.")
    if len(values) > MAX_VALUES:
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
            return _step_range(match, where)
        match = _RANGE_COUNT.match(spec)
        if match:
            return _count_range(match, where)
        raise PromptError(f"{where} is not a range; write it as {RANGE_SYNTAX}.")
    if name == TEXT_AXIS:
        raise PromptError(
            f"{where} is one string; give the texts as a list: text=['a fox', 'a wolf']."
        )
    items = [item.strip() for item in spec.split(",")]
    if any(not item for item in items):
        raise PromptError(f"{where} has an empty item; write values as '0, 250, 750'.")
    return [_guess_number(item) for item in items]


def _step_range(match: re.Match[str], where: str) -> list[Any]:
    """``A..B step S``: A, A+S, ... up to B."""
    a, b = _number(match["a"], where), _number(match["b"], where)
    step = _number(match["s"], where)
    if step <= 0:
        raise PromptError(f"{where}: the step must be more than 0.")
    if b < a:
        raise PromptError(f"{where}: the range must go up (write the smaller end first).")
    count = math.floor((b - a) / step) + 1
    if count > MAX_VALUES:
        raise PromptError(f"{where} makes {count} values; a sweep axis takes at most 1000.")
    whole = all(v.denominator == 1 for v in (a, b, step))
    return [_plain(a + i * step, whole) for i in range(count)]


def _count_range(match: re.Match[str], where: str) -> list[Any]:
    """``A..B/N``: N evenly spaced values from A to B (rounding never repeats one)."""
    a, b = _number(match["a"], where), _number(match["b"], where)
    count = int(match["n"])
    if count < 2:
        raise PromptError(f"{where}: ask for at least 2 values (A..B/N with N >= 2).")
    if count > MAX_VALUES:
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


def _guess_number(text: str) -> Any:
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def scalar(value: Any) -> Any:
    """A coordinate: a single JSON-able scalar (lists, like ``no``, are joined)."""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return value
