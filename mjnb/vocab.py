"""mjnb's vocabulary, defined once: every other module imports it from here.

Action labels, statuses, speed modes, blend shapes, byte and pixel limits and the
thumbnail defaults. Settings ranges live in :mod:`mjnb.config`; what a secret is lives
in :mod:`mjnb.secrets`. The simulator keeps its own copies on purpose (a misreading
shared by client and simulator would pass every test).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]
STATUSES: tuple[Status, ...] = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})

#: Action labels, the same in Python, the magic, the panel and the log.
ACTION_LABELS: tuple[str, ...] = (
    "U1", "U2", "U3", "U4",
    "V1", "V2", "V3", "V4",
    "reroll",
    "vary subtle", "vary strong",
    "zoom 2x", "zoom 1.5x", "zoom custom", "square",
    "pan left", "pan right", "pan up", "pan down",
    "upscale subtle", "upscale creative", "upscale 2x", "upscale 4x",
    "vary region",
    "animate low", "animate high", "extend low", "extend high",
    "upscale video",
)  # fmt: skip
#: the buttons under a 2x2 grid
GRID_ACTIONS: tuple[str, ...] = ACTION_LABELS[:9]
#: labels that take a new prompt (remix)
REMIX_ACTIONS: tuple[str, ...] = (
    "V1", "V2", "V3", "V4", "reroll", "vary subtle", "vary strong",
    "zoom 2x", "zoom 1.5x", "zoom custom", "square",
    "pan left", "pan right", "pan up", "pan down", "vary region",
)  # fmt: skip
UPSCALE_KINDS: tuple[str, ...] = ("subtle", "creative", "2x", "4x")

#: Midjourney's speed modes, as ``--fast`` / ``--relax`` / ``--turbo`` flags
MODES: tuple[str, ...] = ("fast", "relax", "turbo")
#: blend's ``dimensions`` and the aspect ratio each stands for
BLEND_ASPECTS: Mapping[str, str] = {"square": "1:1", "portrait": "2:3", "landscape": "3:2"}
BLEND_DIMENSIONS: tuple[str, ...] = tuple(BLEND_ASPECTS)
#: video motion and batch sizes
MOTIONS: tuple[str, ...] = ("low", "high")
VIDEO_BATCHES: tuple[int, ...] = (1, 2, 4)

Kind = Literal["image", "video", "describe"]

#: the largest download accepted (image or preview), in bytes
MAX_IMAGE_BYTES = 40 * 1024 * 1024
#: the largest image accepted, in pixels (more is a possible decompression bomb)
MAX_PIXELS = 64_000_000
#: the largest video download accepted, in bytes
MAX_VIDEO_BYTES = 200 * 1024 * 1024
#: the largest JSON answer or stream line read from a provider, in bytes
MAX_ANSWER_BYTES = 8 * 1024 * 1024
#: at most this many result URLs per job (a grid's four images)
MAX_RESULT_URLS = 4

#: thumbnails: long side in px and JPEG quality, as shown in cards and saved notebooks
THUMBNAIL_SIZE = 256
MIN_THUMBNAIL_SIZE = 32
MAX_THUMBNAIL_SIZE = 2048
JPEG_QUALITY = 80
