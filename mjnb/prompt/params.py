"""The parameter table as data: every parameter, and what each Midjourney version takes.

This module holds no logic, only the table the parser, ``%mj help``, the panel and the
adapters read. Midjourney changes faster than mjnb releases, so adding a version (say
V8.3) is one more entry in :data:`ROWS` and nothing else; :mod:`mjnb.prompt.rules`
applies the rows.

The per-version rows follow ``reference/midjourney-syntax.md``: Midjourney's own docs
decide [mj]; where sources disagree a cell is ``disputed`` (warn and send) with the
sources named in ``why``; where no source says, ``unknown`` (pass silently).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from mjnb.vocab import ACTION_LABELS, MODES, MOTIONS, VIDEO_BATCHES

Kind = Literal[
    "ratio", "whole", "decimal", "flag", "list", "refs", "url", "codes", "version", "niji",
    "style", "choice", "end",
]  # fmt: skip


@dataclass(frozen=True)
class ParamSpec:
    """What one Midjourney parameter accepts; used for validation, help and the panel.

    ``aliases`` are every spelling accepted after ``--`` (the long name first);
    ``range`` is the short text used in messages (``"0-1000"``); ``low``/``high``
    bound numeric parameters (the widest range any version accepts); ``choices`` lists
    the words a ``choice`` parameter takes.
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
    choices: tuple[str, ...] = ()

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
    choices: tuple[str, ...] = (),
) -> tuple[str, ParamSpec]:
    example = example or (f"--{name} {default}" if default else f"--{name}")
    spec = ParamSpec(name, (name, *aliases), kind, range_, help_, default, low, high, example,
                     choices)  # fmt: skip
    return name, spec


#: Every image parameter, by long name, in the order ``str(prompt)`` prints them.
PARAMETERS: Mapping[str, ParamSpec] = MappingProxyType(
    dict(
        [
            _spec("ar", ("aspect",), "ratio", "W:H in whole numbers (1:14 to 14:1 in V6 and later)",
                  "Width-to-height ratio of the image, e.g. 16:9.", "1:1", example="--ar 16:9"),
            _spec("chaos", ("c",), "whole", "0-100",
                  "How different the four grid images are from each other.", "0", 0, 100,
                  "--chaos 20"),
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
                  "GPU time spent: V5.2/6.0/niji 5 take .25 .5 1; V6.1 .5 1 2; V7 1 2 4; "
                  "V8.1 1 4; V8.2 1 2.", "1", 0.25, 4, "--quality 2"),
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
            _spec("version", ("v",), "version",
                  "1, 2, 3, 4, 5, 5.1, 5.2, 6, 6.1, 7, 8, 8.1 or 8.2",
                  "Midjourney model version.", None, example="--version 8.1"),
            _spec("niji", (), "niji", "4, 5, 6 or 7 (or nothing for the current niji model)",
                  "The anime/illustration model (niji).", None, example="--niji 6"),
            _spec("style", ("raw",), "style",
                  "raw (V5.1+, niji 6), cute, expressive, original or scenic (niji 5), or a "
                  "style code",
                  "A style: raw for less Midjourney flavour; niji 5 styles; style codes. "
                  "--raw is short for --style raw.", None, example="--style raw"),
            _spec("iw", (), "decimal", "0-3 (0-2 in V5 and niji 5)",
                  "Weight of the image prompt against the text.", "1", 0, 3, "--iw 1.5"),
            _spec("sref", (), "refs",
                  "image URLs, local image paths, numeric style codes or random",
                  "Style reference: copy the look of images or a style code (V6+, niji 6).",
                  None, example="--sref https://example.com/style.png"),
            _spec("sw", (), "whole", "0-1000", "Style reference weight.", "100", 0, 1000,
                  "--sw 200"),
            _spec("sv", (), "whole", "1-7", "Style reference model version.", None, 1, 7,
                  "--sv 4"),
            _spec("cref", (), "refs", "image URLs or local image paths",
                  "Character reference: keep a character from images (V6 and niji 6 only).",
                  None, example="--cref https://example.com/hero.png"),
            _spec("cw", (), "whole", "0-100",
                  "Character reference weight: 0 keeps the face only, 100 face, hair and "
                  "clothes.", "100", 0, 100, "--cw 50"),
            _spec("oref", (), "url", "one image URL or local image path",
                  "Omni reference: put a person or object from an image in (V7 and later).",
                  None, example="--oref https://example.com/robot.png"),
            _spec("ow", (), "whole", "0-1000", "Omni reference weight.", "100", 0, 1000,
                  "--ow 400"),
            _spec("exp", (), "whole", "0-100",
                  "Experimental aesthetics: more detail and dynamism (V7 and later).", "0", 0,
                  100, "--exp 25"),
            _spec("p", ("personalize", "profile"), "codes", "profile codes, or nothing",
                  "Personalization: your own or the given profile codes' taste.",
                  None, example="--p"),
            _spec("draft", (), "flag", "a switch", "Draft mode: fast, cheap, rougher (V7)."),
            _spec("hd", (), "flag", "a switch",
                  "Native 2K render (V8 and later); replaces the upscale actions."),
            _spec("fast", (), "flag", "a switch", "Run this job in fast mode."),
            _spec("relax", (), "flag", "a switch", "Run this job in relax mode (slow, free)."),
            _spec("turbo", (), "flag", "a switch", "Run this job in turbo mode (quickest)."),
            _spec("public", (), "flag", "a switch", "Show the result in the public gallery."),
            _spec("stealth", (), "flag", "a switch", "Keep the result out of the gallery."),
        ]
    )
)  # fmt: skip

#: The video parameters (Midjourney's V1 video model), valid only in a video prompt
#: (``parse_prompt(text, purpose="video")``); printed after the image parameters.
VIDEO_PARAMETERS: Mapping[str, ParamSpec] = MappingProxyType(
    dict(
        [
            _spec("video", (), "flag", "a switch",
                  "Marks an image-to-video job (Discord); the start image URL comes first."),
            _spec("motion", (), "choice", " or ".join(MOTIONS),
                  "How much the camera and subject move (high: more, with more glitches).",
                  MOTIONS[0], choices=MOTIONS, example="--motion high"),
            _spec("raw", (), "flag", "a switch",
                  "Less creative motion, closer to the text."),
            _spec("loop", (), "flag", "a switch", "End on the start frame (not with --end)."),
            _spec("end", (), "end", "an image URL",
                  "The end frame of the video (not with --loop).",
                  example="--end https://example.com/last.png"),
            _spec("bs", (), "choice", ", ".join(map(str, VIDEO_BATCHES[:-1])) +
                  f" or {VIDEO_BATCHES[-1]}", "Videos per job.", str(VIDEO_BATCHES[-1]),
                  choices=tuple(map(str, VIDEO_BATCHES)), example="--bs 2"),
        ]
    )
)  # fmt: skip

#: Parameters Midjourney dropped, and what to use instead.
DEPRECATED: Mapping[str, str] = MappingProxyType(
    {
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
        "upbeta": "upscale the finished image with the 'upscale subtle' or 'upscale creative' "
        "action",
    }
)

QUALITY_STEPS: tuple[float, ...] = (0.25, 0.5, 1, 2, 4)
NIJI5_STYLES: tuple[str, ...] = ("cute", "expressive", "original", "scenic")
SPEEDS: tuple[str, ...] = MODES

# --------------------------------------------------------------------------- per version

Status = Literal["yes", "no", "disputed", "unknown"]


@dataclass(frozen=True)
class Support:
    """How one version takes one feature: ``yes``, ``no`` (an error), ``disputed`` (a
    warning: sources disagree; ``why`` names them) or ``unknown`` (no source: silent).

    ``values`` are the values the version takes where it takes only some (quality
    steps, ``--sv`` models); ``high`` the top of its range (``--iw``, number of
    ``--sref`` references); ``others`` is the status of a value outside them.
    """

    status: Status
    why: str = ""
    values: tuple[float, ...] = ()
    high: float | None = None
    others: Status = "no"


YES = Support("yes")
NO = Support("no")
UNKNOWN = Support("unknown")


def _disputed(why: str) -> Support:
    return Support("disputed", why)


#: What each feature is, for messages and the docs: (column title, fix when refused).
#: A parameter not named here is available in every version; ``ow`` counts as ``oref``,
#: ``cw`` as ``cref``, ``sw``/``sv``/``p`` as ``sref`` (FEATURE_OF).
FEATURES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "quality": ("--q", "use one of the listed values"),
        "iw": ("--iw", "lower it, or pick another model"),
        "sv": ("--sv", "pick one of the listed style-reference models"),
        "weird": ("--weird", "remove it or pick a newer model"),
        "stop": ("--stop", "remove it or pick another model"),
        "tile": ("--tile", "remove it or pick another model"),
        "weights": ("`::`", "remove the weights or pick another model"),
        "draft": ("--draft", "remove it, or use --v 7"),
        "hd": ("--hd", "remove it, or use --v 8.1 or later (--hd is V8's native 2K render)"),
        "raw": ("raw", "remove it or pick a newer model"),
        "niji5-style": ("niji 5 styles", "add --niji 5 or remove the style"),
        "oref": ("--oref/--ow", "remove it, or use --cref with version 6"),
        "exp": ("--exp", "remove it or use --v 7"),
        "cref": ("--cref/--cw", "remove it, or use --oref with version 7 or later"),
        "sref": ("--sref/--sw/--p", "remove it or pick a newer model"),
        "turbo": ("--turbo", "use --fast instead"),
    }
)
FEATURE_OF: Mapping[str, str] = MappingProxyType(
    {"ow": "oref", "cw": "cref", "sw": "sref", "p": "sref"}
)

_GRID = ACTION_LABELS[:11]  # U1-U4, V1-V4, reroll, vary subtle, vary strong
_ZOOM_PAN = ("zoom 2x", "zoom 1.5x", "zoom custom", "square",
             "pan left", "pan right", "pan up", "pan down")  # fmt: skip
_VIDEO = ("animate low", "animate high", "extend low", "extend high", "upscale video")
_ACTIONS_V5 = (*_GRID, *_ZOOM_PAN, "upscale 2x", "upscale 4x", "vary region", *_VIDEO)
_ACTIONS_V6 = (*_GRID, *_ZOOM_PAN, "upscale subtle", "upscale creative", "vary region", *_VIDEO)
_ACTIONS_V8 = (*_GRID, "vary region", *_VIDEO)


@dataclass(frozen=True)
class VersionRules:
    """One model version: what it takes and which actions its jobs offer.

    ``name`` is the key of :data:`VERSIONS` (``"8.1"``, ``"niji 7"``); ``flag`` the
    prompt text that picks it; ``ar`` the widest side of the aspect ratio (14 means
    1:14 to 14:1; None: any); ``features`` maps each feature of :data:`FEATURES` to its
    :class:`Support`; ``actions`` the action labels a job of this version may offer,
    ``disputed_actions`` those some providers offer and others don't.
    """

    name: str
    family: Literal["mj", "niji"]
    number: str
    released: str
    ar: int | None
    features: Mapping[str, Support]
    actions: tuple[str, ...]
    disputed_actions: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        """``--v 8.1`` or ``--niji 7``: what a prompt says to pick this version."""
        return f"--v {self.number}" if self.family == "mj" else f"--niji {self.number}"

    @property
    def label(self) -> str:
        """``V8.1`` or ``niji 7``, as menus and the docs show it."""
        return f"V{self.number}" if self.family == "mj" else self.name

    @property
    def quality(self) -> tuple[float, ...]:
        """The ``--q`` values this version takes (every step when no source says)."""
        return self.features["quality"].values or QUALITY_STEPS

    def takes(self, feature: str) -> Status:
        """``yes``/``no``/``disputed``/``unknown`` for a feature or a parameter name."""
        return self.features[FEATURE_OF.get(feature, feature)].status


_Q = Support("yes", values=(0.25, 0.5, 1))
_IW2 = Support("yes", high=2)
_IW3 = Support("yes", high=3)
#: What V6 takes: every feature the older and newer rows differ from.
_V6: dict[str, Support] = {
    "quality": _Q, "iw": _IW3,
    "sv": Support("yes", "1-4 per this file's earlier edition; unverified", (1, 2, 3, 4),
                  others="unknown"),
    "weird": YES, "stop": YES, "tile": YES, "weights": YES, "draft": NO, "hd": NO,
    "raw": YES, "niji5-style": NO, "oref": NO, "exp": NO, "cref": YES, "sref": YES,
    "turbo": YES,
}  # fmt: skip
_OLD = {**_V6, "sv": NO, "cref": NO, "sref": NO}
_V7 = {
    **_V6, "quality": Support("yes", values=(1, 2, 4)),
    "sv": Support("yes", values=(1, 2, 3, 4, 5, 6)), "draft": YES, "oref": YES, "exp": YES,
    "cref": Support("no", "V7 and later use --oref [mj][yc-v81]"),
}  # fmt: skip
_V8 = {
    **_V7, "quality": Support("yes", "Ace's client offers 1 and 4 [ace-web]", (1, 4),
                              others="disputed"),
    "iw": Support("no", "V8 has no image weight [ace-mcp][3p]"),
    "sv": UNKNOWN, "weird": UNKNOWN, "stop": UNKNOWN, "tile": UNKNOWN, "weights": UNKNOWN,
    "draft": UNKNOWN, "hd": YES, "raw": UNKNOWN, "oref": UNKNOWN, "exp": UNKNOWN,
}  # fmt: skip
_YC = "Youchuan's V8.1 guide lists it as unsupported [yc-v81]"
_V81 = {
    **_V8,
    "quality": Support("disputed", "Youchuan takes 1 or 4 [yc-v81]; Ace sends no quality on "
                       "8.1 [ace-mcp][ace-web]", (1, 4)),
    "iw": Support("disputed", "Youchuan takes 0-3 [yc-v81]; Ace's client hides image weight "
                  "on V8 [ace-web][ace-mcp]", high=3),
    "sv": Support("yes", "Youchuan: only 6 [yc-v81]; a third party: 7 for V8 [3p]", (6,),
                  others="disputed"),
    "weird": _disputed(f"{_YC}; Ace's client and a third party offer it [ace-web][3p]"),
    "stop": _disputed(_YC), "tile": _disputed(_YC), "weights": _disputed(_YC),
    "draft": _disputed("Youchuan has no V8.1 draft [yc-v81]; a reseller offers one [3p]"),
    "raw": YES, "oref": Support("yes", "one URL [yc-v81]"), "exp": YES,
    "sref": Support("yes", "at most 20 references [yc-v81]", high=20, others="disputed"),
    "turbo": _disputed("Youchuan and Ace run V8.1 without turbo (Ace switches to fast) "
                       "[yc-v81][ace-mcp][ace-web]; a reseller lists it [3p]"),
}  # fmt: skip
_V82 = {
    **_V8,
    "quality": Support("yes", "Ace's client offers 1 and 2 [ace-web]", (1, 2), others="disputed"),
    "iw": Support("disputed", "Ace's client hides image weight on V8 [ace-web][ace-mcp]",
                  high=3),
}  # fmt: skip
_NIJI6 = {**_V6, "sv": UNKNOWN}
_NIJI7 = {
    **{name: UNKNOWN for name in _V6}, "hd": Support("no", "Ace's client never sends it on niji "
    "[ace-web]"), "niji5-style": NO, "sref": YES, "turbo": YES,
    "cref": Support("no", "character reference is V6/6.1/niji 6 only [mj]"),
}  # fmt: skip


def _row(
    name: str, released: str, ar: int | None, features: Mapping[str, Support],
    actions: tuple[str, ...], disputed_actions: tuple[str, ...] = (),
) -> VersionRules:  # fmt: skip
    family: Literal["mj", "niji"] = "niji" if name.startswith("niji") else "mj"
    number = name.removeprefix("niji ")
    return VersionRules(name, family, number, released, ar, MappingProxyType(dict(features)),
                        actions, disputed_actions)  # fmt: skip


_Q_OLD = Support("yes", values=(0.25, 0.5, 1, 2))
_NO_WEIRD = {"weird": NO, "raw": NO}
#: Every known version, oldest first within each family: the whole per-version table.
ROWS: tuple[VersionRules, ...] = (
    _row("1", "", None, {**_OLD, **_NO_WEIRD, "quality": _Q_OLD}, _GRID),
    _row("2", "", None, {**_OLD, **_NO_WEIRD, "quality": _Q_OLD}, _GRID),
    _row("3", "", None, {**_OLD, **_NO_WEIRD, "quality": _Q_OLD}, _GRID),
    _row("4", "", 2, {**_OLD, **_NO_WEIRD}, _GRID),
    _row("5", "", None, {**_OLD, "iw": _IW2, "raw": NO}, _ACTIONS_V5),
    _row("5.1", "", None, {**_OLD, "iw": _IW2}, _ACTIONS_V5),
    _row("5.2", "", None, {**_OLD, "iw": _IW2, "sv": UNKNOWN}, _ACTIONS_V5),
    _row("6", "", 14, _V6, _ACTIONS_V6),
    _row("6.1", "", 14, {**_V6, "quality": Support("yes", values=(0.5, 1, 2))}, _ACTIONS_V6),
    _row("7", "2025-04", 14, _V7, _ACTIONS_V6),
    _row("8", "2026-03", 14, _V8, _ACTIONS_V8),
    _row("8.1", "2026-04-14", 14, _V81, (*_GRID, *_VIDEO), ("vary region",)),
    _row("8.2", "2026-08-18", 14, _V82, _ACTIONS_V8),
    _row("niji 4", "", 2, {**_OLD, **_NO_WEIRD}, _GRID),
    _row("niji 5", "", None, {**_OLD, "iw": _IW2, "raw": NO, "niji5-style": YES}, _ACTIONS_V5),
    _row("niji 6", "", 14, _NIJI6, _ACTIONS_V6),
    _row("niji 7", "2026-01", 14, _NIJI7, _ACTIONS_V6),
)  # fmt: skip

#: Every known version by name (``"8.1"``, ``"niji 7"``), in table order.
VERSIONS: Mapping[str, VersionRules] = MappingProxyType({row.name: row for row in ROWS})
#: The versions a prompt without ``--v``/``--niji`` may run on (the account default).
CURRENT_VERSIONS: tuple[str, ...] = ("7", "8.1", "8.2")
#: Midjourney's default model since 2026-06-10 (Ace's clients send 8.2).
DEFAULT_VERSION = "8.1"
#: The newest known version; an unversioned prompt warns on what it refuses.
NEWEST_VERSION = "8.2"

#: Every spelling after ``--`` in an image prompt -> its long name (``s`` -> ``stylize``).
ALIASES: Mapping[str, str] = MappingProxyType(
    {alias: spec.name for spec in PARAMETERS.values() for alias in spec.aliases}
)
#: The same for a video prompt, where ``--raw`` is the video parameter ``raw``.
VIDEO_ALIASES: Mapping[str, str] = MappingProxyType(
    {**ALIASES, **{alias: s.name for s in VIDEO_PARAMETERS.values() for alias in s.aliases}}
)
#: Every name that makes a typed dash form (``—ar``, ``－－ar``) a parameter.
MARKER_NAMES: frozenset[str] = frozenset(VIDEO_ALIASES) | frozenset(DEPRECATED)
