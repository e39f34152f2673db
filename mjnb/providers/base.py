"""The one small contract every provider adapter fulfils.

An adapter maps mjnb's common vocabulary onto one wire protocol and back. It builds
``httpx.Request`` objects and reads ``httpx.Response`` objects; it never sends
anything, sleeps, retries or logs: that policy lives once, in the engine.

Vocabulary
- :class:`Job` is what the engine wants done: imagine a prompt, act on a finished
  task (``label`` is one of :data:`ACTION_LABELS`), describe or blend images.
- :class:`Snapshot` is what the provider said about a job, in common terms.
- Errors are raised as :mod:`mjnb.errors` classes. ``RateLimited`` means the job
  was certainly not created (429, queue full) and the engine may submit again; every
  other error on a submit marks the task failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import httpx

if TYPE_CHECKING:
    from ..prompt import Prompt

Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})

#: Action labels, the same in Python, the magic, the panel and the log.
ACTION_LABELS: tuple[str, ...] = (
    "U1", "U2", "U3", "U4",
    "V1", "V2", "V3", "V4",
    "reroll",
    "vary subtle", "vary strong",
    "zoom 2x", "zoom 1.5x", "square",
    "pan left", "pan right", "pan up", "pan down",
    "upscale subtle", "upscale creative", "upscale 2x", "upscale 4x",
)  # fmt: skip
GRID_ACTIONS: tuple[str, ...] = ACTION_LABELS[:9]

JobKind = Literal["imagine", "action", "describe", "blend"]


@dataclass(frozen=True)
class Snapshot:
    """One reading of a job's state, in provider-independent terms.

    ``wire`` maps each action label offered now to the adapter's own handle for it
    (Ace ``"upscale2"``, a midjourney-proxy button ``customId`` ...); ``actions`` is
    its keys. ``extra`` keeps whatever else the adapter needs later (Ace ``image_id``),
    and ``started_at``/``finished_at`` (seconds since the epoch) where the provider says
    when the job ran, so run times are right whatever the polling interval.
    """

    status: Status
    progress: int = 0
    remote_id: str | None = None
    image_url: str | None = None
    preview_url: str | None = None
    image_urls: tuple[str, ...] = ()  # separate images (Youchuan) or split tiles
    wire: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    descriptions: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def actions(self) -> list[str]:
        return [label for label in ACTION_LABELS if label in self.wire]

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class Job:
    """What the engine asks an adapter to submit."""

    kind: JobKind
    prompt: str = ""
    label: str | None = None  # action label, for kind == "action"
    parent: Snapshot | None = None  # the finished task acted on
    images: tuple[str, ...] = ()  # describe (1) / blend (2-5) inputs
    dimensions: str = "square"  # blend: square | portrait | landscape
    mode: str | None = None  # fast | relax | turbo
    callback_url: str | None = None


class Adapter(Protocol):
    """Maps a :class:`Job` to requests and responses to :class:`Snapshot`."""

    name: str
    base_url: str
    #: seconds between polls when the user sets nothing, and the least allowed
    poll_interval: float
    min_poll_interval: float

    def submit(self, job: Job) -> httpx.Request:
        """The request that creates ``job``. Raises ``Rejected`` if the job cannot be
        expressed on this protocol (an action the parent does not offer)."""

    def parse_submit(self, job: Job, response: httpx.Response) -> Snapshot:
        """The state right after a submit: at least ``remote_id``. Raises on errors."""

    def poll(self, snapshot: Snapshot) -> httpx.Request:
        """The request that reads the current state of a submitted job."""

    def parse_poll(self, snapshot: Snapshot, response: httpx.Response) -> Snapshot:
        """The new state; ``snapshot`` is the previous one (for fields not repeated)."""

    def stream(self, job: Job) -> httpx.Request | None:
        """A streaming submit (NDJSON, one snapshot per line), or None if not offered."""

    def parse_line(self, job: Job, line: bytes) -> Snapshot | None:
        """One line of a streaming answer; None for blank or keep-alive lines."""

    def download(self, url: str) -> httpx.Request:
        """The request that fetches an image the provider returned."""


def resolve_locally(adapter: Adapter, job: Job) -> Snapshot | None:
    """The finished state of a job the adapter does without the provider, else None.

    Optional hook ``adapter.local(job)``: Youchuan returns four separate images, so
    its U1-U4 only pick one of them and need no request.
    """
    local = getattr(adapter, "local", None)
    return local(job) if local is not None else None


def check_prompt(adapter: Adapter, prompt: Prompt) -> None:
    """Raise ``PromptError`` for a prompt the provider cannot take, before anything is sent.

    Optional hook ``adapter.check(prompt)``: Youchuan refuses ``--repeat``, ``--stealth``
    and ``--public``. ``Client.imagine`` calls it for every prompt, sweeps' cells too.
    """
    check = getattr(adapter, "check", None)
    if check is not None:
        check(prompt)
