"""Which actions a finished job offers, per Midjourney version: the simulator's own table.

The real services differ by model version, and the simulator must offer what they
offer (``reference/providers.md``: trueai's button builder, Youchuan's V8.1 guide):

- V5.x and niji 5: Upscale 2x/4x (``upsample_v5_2x|4x``), zoom, square, pan, vary.
- V6, 6.1, 7 and niji 6/7: Upscale Subtle/Creative (``upsample_v6_2x_*``,
  ``v6r1_2x_*`` on 6.1, ``v7_2x_*`` on 7), zoom, square, pan, vary.
- V8.x: vary subtle/strong only on an upscaled image. No upscale buttons (upscale is a
  rerun with ``--hd``), no Outpaint/CustomZoom, no pan (trueai gives V8 jobs none;
  Youchuan's V8.1 has no pan, outpaint or inpaint).

A grid always offers U1-U4, V1-V4 and reroll. Adding a version is one row of
:data:`VERSIONS`; an unknown minor of a known major (``8.3``) takes its major's
nearest row. Nothing here is shared with the client's adapters on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACTION_LABELS",
    "DEFAULT_VERSION",
    "GRID_LABELS",
    "VERSIONS",
    "Rules",
    "offered",
    "rules_for",
    "version_key",
]

#: Action labels, as the rest of mjnb names them; each protocol maps them to its wire form.
ACTION_LABELS: tuple[str, ...] = (
    "U1",
    "U2",
    "U3",
    "U4",
    "V1",
    "V2",
    "V3",
    "V4",
    "reroll",
    "vary subtle",
    "vary strong",
    "zoom 2x",
    "zoom 1.5x",
    "square",
    "pan left",
    "pan right",
    "pan up",
    "pan down",
    "upscale subtle",
    "upscale creative",
    "upscale 2x",
    "upscale 4x",
)
GRID_LABELS: tuple[str, ...] = ACTION_LABELS[:9]
PANS: tuple[str, ...] = ("pan left", "pan right", "pan up", "pan down")


@dataclass(frozen=True)
class Rules:
    """What an upscaled (single) image of one version offers.

    ``upscales``: the upscale labels (empty: none). ``tag``: midjourney-proxy's
    ``upsample_<tag>_...`` button spelling (``v5``, ``v6``, ``v6r1``, ``v7``).
    ``zoom``: zoom out 2x/1.5x and make square. ``pan``: the four pans.
    """

    upscales: tuple[str, ...]
    tag: str
    zoom: bool = True
    pan: bool = True


V5 = Rules(("upscale 2x", "upscale 4x"), "v5")
NO_EXTRAS = Rules((), "", zoom=False, pan=False)

#: Version key ("5.2", "6.1", "niji 6" ...) -> its rules.
VERSIONS: dict[str, Rules] = {
    "5": V5,
    "5.1": V5,
    "5.2": V5,
    "6": Rules(("upscale subtle", "upscale creative"), "v6"),
    "6.1": Rules(("upscale subtle", "upscale creative"), "v6r1"),
    "7": Rules(("upscale subtle", "upscale creative"), "v7"),
    "8": NO_EXTRAS,
    "8.1": NO_EXTRAS,
    "8.2": NO_EXTRAS,
    "niji 5": V5,
    "niji 6": Rules(("upscale subtle", "upscale creative"), "v6"),
    "niji 7": Rules(("upscale subtle", "upscale creative"), "v7"),
}
#: The version a prompt without --v/--niji runs as here. The real services now default
#: to V8.1/8.2; the simulator keeps V6 (as release 1 did) so plain prompts offer every kind.
DEFAULT_VERSION = "6"
#: --niji without a number
DEFAULT_NIJI = "niji 6"


def version_key(params: Mapping[str, Any]) -> str:
    """The table key of a prompt's parameters: ``"6.1"``, ``"niji 6"``, ``"7"`` ..."""
    niji = params.get("niji")
    if niji is not None:
        return DEFAULT_NIJI if niji is True else f"niji {niji}"
    version = params.get("version")
    return DEFAULT_VERSION if version is None else str(version)


def rules_for(key: str) -> Rules:
    """The rules of a version key; an unknown minor takes the nearest known version of
    its major (``8.3`` -> ``8.2``), an unknown major the nearest major below (or above)."""
    if key in VERSIONS:
        return VERSIONS[key]
    niji = key.startswith("niji ")
    number = key[5:] if niji else key
    try:
        wanted = float(number)
    except ValueError:
        return VERSIONS[DEFAULT_VERSION]
    known = []
    for name in VERSIONS:
        if name.startswith("niji ") == niji:
            known.append((float(name[5:] if niji else name), name))
    same_major = [k for k in known if int(k[0]) == int(wanted)]
    pool = same_major or [k for k in known if k[0] <= wanted] or known
    return VERSIONS[min(pool, key=lambda k: abs(k[0] - wanted))[1]]


def offered(
    kind: str,
    params: Mapping[str, Any],
    *,
    aspect: float | None,
    pan_axis: str | None,
    upscaled: bool,
) -> list[str]:
    """Action labels a finished job offers, in :data:`ACTION_LABELS` order.

    ``kind``: grid, single or text. ``aspect``: the image's width/height (square is not
    offered on a square one). ``pan_axis``: ``h``/``v`` once panned (Midjourney then
    pans only along that axis). ``upscaled``: the job was itself an upscale (no second
    one).
    """
    if kind == "grid":
        return list(GRID_LABELS)
    if kind != "single":
        return []
    rules = rules_for(version_key(params))
    labels = ["vary subtle", "vary strong"]
    if rules.zoom:
        labels += ["zoom 2x", "zoom 1.5x"]
        if aspect is None or abs(aspect - 1.0) > 1e-6:
            labels.append("square")
    if rules.pan:
        if pan_axis != "v":
            labels += ["pan left", "pan right"]
        if pan_axis != "h":
            labels += ["pan up", "pan down"]
    if not upscaled:
        labels += rules.upscales
    return [label for label in ACTION_LABELS if label in labels]
