"""Version rules and combinations: apply the per-version table to one parsed prompt.

The table (:mod:`mjnb.prompt.params`) says, per version, ``yes``/``no``/``disputed``/
``unknown`` for each feature. Here that becomes the reference's validation rule:

- ``no`` is a :class:`~mjnb.errors.PromptError` before anything is sent;
- ``disputed`` (the sources disagree) is a :class:`PromptWarning`, and the prompt is
  sent as written;
- ``unknown`` (no source says) passes silently.

A prompt that names no model runs on the account's default, so it is refused only for
what no current version (:data:`~mjnb.prompt.params.CURRENT_VERSIONS`) takes, and
warned about where the newest one refuses it. A newer minor of the newest major
(``--v 8.3``) is checked under the nearest known version's rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from mjnb.errors import PromptError

from .model import format_number
from .params import (
    CURRENT_VERSIONS,
    FEATURE_OF,
    FEATURES,
    NEWEST_VERSION,
    NIJI5_STYLES,
    PARAMETERS,
    ROWS,
    SPEEDS,
    VERSIONS,
    Status,
    Support,
    VersionRules,
)  # fmt: skip

Params = dict[str, Any]


class PromptWarning(UserWarning):
    """A prompt mjnb sends but doubts: the sources disagree about what its version takes,
    it names a newer version than mjnb knows, or it holds a parameter mjnb does not know
    (``strict=False``). The message says which, and where."""


@dataclass
class Seen:
    """Where a parameter stood: its token as written, column and shown text."""

    token: str
    column: int
    shown: str

    @property
    def where(self) -> str:
        return f"({self.shown} at column {self.column})"


# --------------------------------------------------------------------------- lookup


def _family(name: str) -> tuple[str, list[VersionRules]]:
    family = "niji" if name.startswith("niji") else "mj"
    return family, [row for row in ROWS if row.family == family]


def newer_minor(number: str, family: str) -> str | None:
    """The nearest known version for a newer minor of the newest major (``8.3`` ->
    ``"8.2"``), or None when ``number`` is not one (``9``, ``6.2``)."""
    rows = [row for row in ROWS if row.family == family]
    newest = rows[-1]
    major, _, minor = number.partition(".")
    newest_major, _, newest_minor = newest.number.partition(".")
    if major != newest_major or not minor or int(minor) <= int(newest_minor or 0):
        return None
    return newest.name


def version_rules(version: str | None) -> VersionRules:
    """The rules of one version: ``"8.1"``, ``"v8.1"``, ``"--v 8.1"``, ``"niji 7"``,
    ``"niji"`` (the newest niji) or None (the newest version). A newer minor of the
    newest major (``"8.3"``) gets its nearest known version's rules. Raises PromptError
    for a version mjnb does not know."""
    if version is None:
        return VERSIONS[NEWEST_VERSION]
    text = " ".join(str(version).lower().replace("--", "").split())
    for prefix in ("version ", "v "):
        text = text.removeprefix(prefix)
    text = text.removeprefix("v")
    if text == "niji":
        return [row for row in ROWS if row.family == "niji"][-1]
    if text.endswith(".0"):
        text = text[:-2]
    if text in VERSIONS:
        return VERSIONS[text]
    family = "niji" if text.startswith("niji") else "mj"
    nearest = newer_minor(text.removeprefix("niji "), family)
    if nearest is None:
        raise PromptError(
            f"mjnb knows no Midjourney version {version!r}; use one of: {', '.join(VERSIONS)}."
        )
    return VERSIONS[nearest]


def model_rules(params: Params) -> VersionRules | None:
    """The rules a parsed prompt's ``--v``/``--niji`` picks (None: no model named)."""
    if "version" in params:
        return version_rules(str(params["version"]))
    niji = params.get("niji")
    if niji is None:
        return None
    return version_rules("niji" if niji is True else f"niji {niji}")


def model_name(params: Params) -> str:
    if "version" in params:
        return f"--version {params['version']}"
    return "--niji" if params.get("niji") is True else f"--niji {params.get('niji')}"


# --------------------------------------------------------------------------- verdicts


def verdict(row: VersionRules, feature: str, value: float | None = None) -> tuple[Status, str]:
    """``(status, why)`` of one feature (and value) in one version."""
    support = row.features[FEATURE_OF.get(feature, feature)]
    if support.status == "no" or value is None:
        return support.status, support.why
    outside = (support.values and value not in support.values) or (
        support.high is not None and value > support.high
    )
    return (support.others if outside else support.status), support.why


def _allowed(support: Support, spec_range: str) -> str:
    if support.values:
        shown = [format_number(v) for v in support.values]
        if len(shown) > 3 and shown == [
            str(n) for n in range(int(support.values[0]), int(support.values[-1]) + 1)
        ]:
            return f"{shown[0]}-{shown[-1]}"  # fmt: skip
        return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"
    if support.high is not None:
        return f"0-{format_number(support.high)}"
    return spec_range


def _runs(feature: str) -> str | None:
    """``--version 7 or later, or --niji 7``: where a feature is not refused, or None
    when that is no simple run of versions."""
    parts = []
    for family, flag in (("mj", "version"), ("niji", "niji")):
        rows = [row for row in ROWS if row.family == family]
        ok = [i for i, row in enumerate(rows) if row.takes(feature) != "no"]
        if not ok:
            continue
        if ok != list(range(ok[0], ok[-1] + 1)):
            return None
        first, last = rows[ok[0]].number, rows[ok[-1]].number
        if ok[-1] == len(rows) - 1 and len(ok) > 1:
            parts.append(f"{flag} {first} or later")
        elif len(ok) == 1:
            parts.append(f"{flag} {first}")
        elif len(ok) == 2:
            parts.append(f"{flag} {first} or {last}")
        else:
            parts.append(f"{flag} {first} to {last}")
    return ", or ".join(parts) or None


def _checks(params: Params, text: str) -> Iterable[tuple[str, str, float | None]]:
    """``(parameter, feature, value)`` for every versioned feature the prompt uses."""
    for name in PARAMETERS:
        if name not in params:
            continue
        value = params[name]
        if name == "style":
            if value == "raw":
                yield name, "raw", None
            elif value in NIJI5_STYLES:
                yield name, "niji5-style", None
        elif name in ("quality", "iw"):
            yield name, name, value
        elif name == "sv":
            yield name, "sref", None
            yield name, "sv", value
        elif name == "sref":
            yield name, "sref", len(value)
        elif name in FEATURES or name in FEATURE_OF:
            yield name, name, None
    if "::" in text:
        yield "::", "weights", None


def check_versions(
    params: Params, seen: Mapping[str, Seen], text: str, weights_at: int | None,
    notes: list[str],
) -> None:  # fmt: skip
    """Refuse what the prompt's version certainly lacks; note what is disputed."""
    if "version" in params and "niji" in params:
        first, second = sorted((seen["version"], seen["niji"]), key=lambda s: s.column)
        raise PromptError(
            f"Use either --version or --niji, not both ({first.shown} at column {first.column}, "
            f"{second.shown} at column {second.column}); remove one.",
            column=second.column,
        )
    row = model_rules(params)
    rows = [row] if row else [VERSIONS[name] for name in CURRENT_VERSIONS]
    _check_ar(params, seen, row)
    for name, feature, value in _checks(params, text):
        here = seen.get(name) or Seen("::", weights_at or 1, "`::` weights")
        found = [verdict(r, feature, value) for r in rows]
        status: str
        if row is not None:
            status, why = found[0]
            where = model_name(params)
        elif all(status == "no" for status, _ in found):
            status, why = "no", ""
            where = ""
        else:
            newest, why = verdict(VERSIONS[NEWEST_VERSION], feature, value)
            status = "disputed" if newest == "no" else "ok"
            where = f"the newest model, --version {NEWEST_VERSION} (this prompt names none)"
        if status == "no":
            raise PromptError(_refusal(name, feature, value, here, where, why, rows),
                              column=here.column)  # fmt: skip
        if status == "disputed":
            because = f": {why}" if why else ""
            notes.append(
                f"{here.shown} may not work with {where}{because} (column {here.column}); "
                "it is sent as written."
            )
    _check_exclusive(params, seen, SPEEDS, "Choose one speed")
    _check_exclusive(params, seen, ("public", "stealth"), "Choose public or stealth")
    if "repeat" in params and "relax" in params:
        here = seen["repeat"]
        raise PromptError(
            f"--repeat runs only in fast or turbo mode, but --relax is given {here.where}; "
            "remove one of them.",
            column=here.column,
        )


def _refusal(
    name: str, feature: str, value: float | None, here: Seen, where: str, why: str,
    rows: list[VersionRules],
) -> str:  # fmt: skip
    current = ", ".join(CURRENT_VERSIONS[:-1]) + f" and {CURRENT_VERSIONS[-1]}"
    asks = (
        f"asks for {where}" if where else f"names no model, and no current one ({current}) takes it"
    )
    because = f"{why}; " if why else ""
    support = rows[0].features[FEATURE_OF.get(feature, feature)]
    if feature in ("quality", "iw", "sv") and value is not None and support.status != "no":
        allowed = _allowed(support, PARAMETERS[name].range)
        with_what = f"with {where}" if where else f"with the current models ({current})"
        return f"{name} must be {allowed} {with_what}, got {format_number(value)} {here.where}."
    fix = FEATURES[FEATURE_OF.get(feature, feature)][1]
    wants = _runs(feature)
    if wants:
        return f"{here.shown} works only with {wants}, but this prompt {asks} ({because}column {here.column}); {fix}."  # noqa: E501
    return (
        f"{here.shown} is not available: this prompt {asks} ({because}column {here.column}); {fix}."
    )


def _check_ar(params: Params, seen: Mapping[str, Seen], row: VersionRules | None) -> None:
    if "ar" not in params:
        return
    side = row.ar if row else min((VERSIONS[n].ar or 10**9) for n in CURRENT_VERSIONS)
    if side is None:
        return
    width, height = (int(part) for part in params["ar"].split(":"))
    if Fraction(1, side) <= Fraction(width, height) <= side:
        return
    for_what = f"with {model_name(params)}" if row else "in V6 and later"
    here = seen["ar"]
    raise PromptError(
        f"ar must be between 1:{side} and {side}:1 {for_what}, got {params['ar']} {here.where}.",
        column=here.column,
    )


def _check_exclusive(
    params: Params, seen: Mapping[str, Seen], names: Iterable[str], lead: str
) -> None:
    given = sorted((seen[name] for name in names if name in params), key=lambda s: s.column)
    if len(given) > 1:
        listed = " and ".join(f"{s.token} (column {s.column})" for s in given)
        raise PromptError(f"{lead}: {listed} are both given; keep one.", column=given[1].column)


def check_video(params: Params, seen: Mapping[str, Seen]) -> None:
    """The combinations a video prompt refuses: ``--loop`` with ``--end``, two speeds."""
    if "loop" in params and "end" in params:
        first, second = sorted((seen["loop"], seen["end"]), key=lambda s: s.column)
        raise PromptError(
            f"--loop and --end exclude each other (--loop ends on the start frame): "
            f"{first.shown} at column {first.column} and {second.shown} at column "
            f"{second.column}; keep one.",
            column=second.column,
        )
    _check_exclusive(params, seen, SPEEDS, "Choose one speed")
