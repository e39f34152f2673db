"""The one small contract every provider adapter fulfils, and its defaults.

An adapter maps mjnb's common vocabulary onto one wire protocol and back. It builds
``httpx.Request`` objects and reads ``httpx.Response`` objects; it never sends
anything, sleeps, retries or logs: that policy lives once, in the engine.

Vocabulary
- :class:`Job` is what the engine wants done: imagine a prompt, act on a finished
  task (``label`` is one of :data:`ACTION_LABELS`), describe or blend images. It
  carries the parsed prompt (``job.parsed``), so no adapter re-reads the text.
- :class:`Snapshot` is what the provider said about a job, in common terms. Adapters
  check every field they copy into one (see :mod:`mjnb.providers.common`): a field of
  the wrong type is a ``ProviderError`` here, never a crash at the end of the task.
- Errors are raised as :mod:`mjnb.errors` classes. ``RateLimited`` means the job
  was certainly not created (429, queue full) and the engine may submit again; every
  other error on a submit marks the task failed.

:class:`AdapterBase` gives every optional hook its default (no stream, no cancel,
nothing done locally, a plain download), so the engine calls each hook directly.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar
from urllib.parse import quote

import httpx

from ..errors import AuthError, PromptError, ProviderError, RateLimited
from ..secrets import scrub
from ..vocab import ACTION_LABELS, GRID_ACTIONS, MODES, TERMINAL, Status

if TYPE_CHECKING:
    from ..prompt import Prompt

__all__ = [
    "ACTION_LABELS",
    "GRID_ACTIONS",
    "TERMINAL",
    "Adapter",
    "AdapterBase",
    "Job",
    "JobKind",
    "LocalImages",
    "LocalRefs",
    "Snapshot",
    "Status",
    "check_prompt",
    "resolve_locally",
    "same_origin",
]

JobKind = Literal["imagine", "action", "describe", "blend", "video", "edit", "retexture"]
#: what a protocol can do beyond imagine/act/describe/blend (``AdapterBase.features``)
Feature = Literal[
    "video", "extend", "upscale video", "vary region", "remix", "zoom custom",
    "edit", "retexture", "seed", "cancel", "upload",
]  # fmt: skip
#: how a protocol takes an image the user has locally (bytes, a path, a PIL image)
LocalImages = Literal["inline", "upload", "refuse"]
#: how it takes a local image named in the prompt (``--sref ./style.png``)
LocalRefs = Literal["upload", "refuse"]


@dataclass(frozen=True)
class Snapshot:
    """One reading of a job's state, in provider-independent terms.

    ``wire`` maps each action label offered now to the adapter's own handle for it
    (Ace ``"upscale2"``, a midjourney-proxy button ``customId`` ...); ``actions`` is
    its keys. ``extra`` keeps whatever else the adapter needs later (Ace ``image_id``),
    ``started_at``/``finished_at`` (seconds since the epoch) where the provider says
    when the job ran, so run times are right whatever the polling interval, and
    ``notice``: a sentence for the user about what mjnb cut from the answer.
    """

    status: Status
    progress: int = 0
    remote_id: str | None = None
    image_url: str | None = None
    preview_url: str | None = None
    image_urls: tuple[str, ...] = ()  # separate images (Youchuan) or split tiles
    video_urls: tuple[str, ...] = ()  # the clips of a video job (1, 2 or 4)
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
    """What the engine asks an adapter to submit.

    ``translate`` asks a provider that can (Ace) to translate a prompt written in
    Chinese before Midjourney reads it. ``parsed`` is ``prompt`` as
    :func:`mjnb.prompt.parse_prompt` read it. The client
    passes the Prompt it already checked; left out, it is parsed here once (and stays
    None for a prompt the parser refuses: adapters then send the text as written).

    Images (``images``, ``end``) are http(s) URLs or, for images the user has locally,
    ``data:`` URLs made by :mod:`mjnb.inputs`; an adapter inlines those as its protocol
    allows (``local_images``), or the runner uploads them first. ``refs`` pairs each
    local image path named after ``--sref``/``--cref``/``--oref`` in the prompt with its
    ``data:`` URL: the runner uploads those (``local_refs``) and sends the prompt with
    the URLs in the paths' places, so no adapter ever sees a path.

    - video (``kind="video"`` from an image, ``images[0]`` the first frame; or an
      ``action`` labelled ``animate low|high`` / ``extend low|high`` / ``upscale video``
      on a finished task): ``motion``, ``loop``, ``end``, ``batch``, ``raw``,
      ``resolution``, and ``index``, 1-based, the tile of a grid or the clip of a batch;
    - the editor: ``mask`` (vary region, edit), ``zoom`` (``zoom custom``), and
      ``remix``: an action sent with a changed ``prompt``;
    - ``edit`` / ``retexture``: ``images[0]`` is the user's image, ``prompt`` the text.
    """

    kind: JobKind
    prompt: str = ""
    label: str | None = None  # action label, for kind == "action"
    parent: Snapshot | None = None  # the finished task acted on
    images: tuple[str, ...] = ()  # describe (1) / blend (2-5) inputs
    dimensions: str = "square"  # blend: square | portrait | landscape
    mode: str | None = None  # fast | relax | turbo
    callback_url: str | None = None
    #: ask the provider to translate a non-English prompt first (Ace's ``translation``)
    translate: bool = False
    # the editor
    mask: str | None = None  # base64 grayscale PNG of the parent's size, white = repaint
    zoom: float | None = None  # "zoom custom": 1.0-2.0
    remix: bool = False  # an action with a changed prompt (``prompt`` is the new one)
    # video
    motion: str | None = None  # "low" | "high"
    loop: bool = False
    end: str | None = None  # the end frame: a URL or a data: URL
    batch: int = 1  # 1, 2 or 4 clips
    raw: bool = False
    resolution: str | None = None  # "480p" | "720p"
    index: int | None = None  # 1-based: a grid's tile, or a batch's clip
    #: (path as written in the prompt, its data: URL) for each local reference
    refs: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    parsed: Prompt | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.parsed is None and self.prompt.strip():
            from ..prompt import parse_prompt

            with contextlib.suppress(PromptError):  # sent as written
                object.__setattr__(self, "parsed", parse_prompt(self.prompt, warn=False))

    @property
    def speed(self) -> str | None:
        """The speed the prompt itself names (``--fast`` / ``--relax`` / ``--turbo``)."""
        params = self.parsed.params if self.parsed is not None else {}
        named = [mode for mode in MODES if params.get(mode)]
        return named[-1] if named else None


def same_origin(url: str | httpx.URL, base_url: str | httpx.URL) -> bool:
    """True when ``url`` has exactly the scheme, host and port of ``base_url``.

    Credentials go only there: the same host on another port or scheme is another
    server (a CDN, a sidecar, plain-text HTTP).
    """
    one = _origin(url)
    return one is not None and one == _origin(base_url)


def _origin(url: str | httpx.URL) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) as httpx reads ``url`` (None: no host, or not a URL)."""
    if isinstance(url, str):
        return _text_origin(url)
    scheme = url.scheme.lower()
    if not url.host:
        return None
    return scheme, url.host.lower(), url.port or _DEFAULT_PORTS.get(scheme)


_DEFAULT_PORTS = {"http": 80, "https": 443}


@functools.lru_cache(maxsize=64)  # a base URL is read once, not at every download
def _text_origin(text: str) -> tuple[str, str, int | None] | None:
    try:
        return _origin(httpx.URL(text))
    except (httpx.InvalidURL, TypeError, ValueError):
        return None


F = TypeVar("F", bound=Callable[..., Any])
#: the methods whose errors and snapshots may carry a provider's text
_SCRUBBED = (
    "submit",
    "confirm",
    "seed",
    "parse_seed",
    "upload",
    "parse_upload",
    "stream",
    "poll",
    "cancel",
    "local",
    "parse_submit",
    "parse_poll",
    "poll_many",
    "parse_poll_many",
    "parse_line",
    "parse_cancel",
)


def _scrubbing(method: F) -> F:
    """``method`` with every secret scrubbed from the errors it raises and returns.

    Providers echo tokens back (raw, URL-encoded, lowercased) in error text, and that
    text reaches ``task.error``, cards, tracebacks and the log. Applied to every
    adapter's methods by :class:`AdapterBase`, so no code path can forget it.
    """

    if getattr(method, "_scrubs", False):
        return method

    @functools.wraps(method)
    def wrapper(self: AdapterBase, *args: Any, **kwargs: Any) -> Any:
        try:
            result = method(self, *args, **kwargs)
        except ProviderError as exc:
            exc.args = tuple(self.scrub(a) if isinstance(a, str) else a for a in exc.args)
            if exc.code:
                exc.code = self.scrub(exc.code)
            raise
        if isinstance(result, Snapshot) and result.error:
            return replace(result, error=self.scrub(result.error))
        return result

    wrapper._scrubs = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


class AdapterBase:
    """Base of every adapter: the optional hooks' defaults and the shared rules.

    A subclass sets ``name``, ``title``, ``base_url`` (and the credentials it keeps
    in ``_token``/``_app_id``), and implements :meth:`submit`, :meth:`parse_submit`,
    :meth:`poll`, :meth:`parse_poll` and :meth:`error_for`. Every other hook has a
    default here. Its repr shows the provider and the URL, never a credential.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    #: the public host when the user names none ("" when there is none)
    default_base_url: ClassVar[str] = ""
    #: seconds between polls when the user sets nothing, and the least allowed
    poll_interval: ClassVar[float] = 3.0
    min_poll_interval: ClassVar[float] = 1.0
    #: what this protocol offers beyond imagine/act/describe/blend
    features: ClassVar[frozenset[Feature]] = frozenset()
    #: how it takes a local image: inline (base64/data URL), upload first, or refuse
    local_images: ClassVar[LocalImages] = "refuse"
    #: how it takes a local image after ``--sref``/``--cref``/``--oref``: uploaded first
    #: (:meth:`upload`; the URL goes in the prompt where the path was), or refused
    local_refs: ClassVar[LocalRefs] = "refuse"
    #: how many times one clip can be extended (0: no extend)
    max_extensions: ClassVar[int] = 0
    #: True when the protocol animates a grid's tile directly (``Job.index`` on a grid,
    #: Youchuan's ``imageNo``); False: mjnb first sends ``U<index>`` and animates that
    animates_grids: ClassVar[bool] = False
    #: the most jobs one batch lookup reads (:meth:`poll_many`); 0: the protocol has none
    batch_polls: ClassVar[int] = 0
    #: why the protocol lacks a feature (or an upload), for the one-line refusal
    refusals: ClassVar[Mapping[str, str]] = {}

    base_url: str = ""
    _token: str | None = None
    _app_id: str | None = None

    def __init__(self, base_url: str | None = None, token: str | None = None) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self._token = token

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for method_name in _SCRUBBED:
            method = cls.__dict__.get(method_name)
            if method is not None:
                setattr(cls, method_name, _scrubbing(method))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, base_url={self.base_url!r})"

    # -- secrets ---------------------------------------------------------------------
    @property
    def secrets(self) -> tuple[str, ...]:
        """The credentials this adapter holds, for :func:`mjnb.secrets.scrub`."""
        return tuple(s for s in (self._token, self._app_id) if s)

    def scrub(self, text: str) -> str:
        """``text`` without any of this adapter's credentials, in any spelling."""
        return scrub(text, self.secrets)

    def auth_headers(self) -> dict[str, str]:
        """The headers that carry the credentials (sent only to ``base_url``'s origin, and
        with an :meth:`upload` to the one upload origin its protocol names)."""
        return {}

    # -- the required part -----------------------------------------------------------
    def submit(self, job: Job) -> httpx.Request:
        """The request that creates ``job``. Raises ``Rejected`` if the job cannot be
        expressed on this protocol (an action the parent does not offer)."""
        raise NotImplementedError

    def parse_submit(self, job: Job, response: httpx.Response) -> Snapshot:
        """The state right after a submit: at least ``remote_id``. Raises on errors."""
        raise NotImplementedError

    def poll(self, snapshot: Snapshot) -> httpx.Request:
        """The request that reads the current state of a submitted job."""
        raise NotImplementedError

    def parse_poll(self, snapshot: Snapshot, response: httpx.Response) -> Snapshot:
        """The new state; ``snapshot`` is the previous one (for fields not repeated)."""
        raise NotImplementedError

    def poll_many(self, snapshots: Sequence[Snapshot]) -> httpx.Request:
        """The one request that reads several submitted jobs (``batch_polls`` > 0)."""
        raise NotImplementedError

    def parse_poll_many(
        self, snapshots: Sequence[Snapshot], response: httpx.Response
    ) -> list[Snapshot | None]:
        """Each job's new state, in the order of ``snapshots``; None for a job the answer
        leaves out or garbles (the runner polls that one alone, so its own error comes
        out)."""
        raise NotImplementedError

    def error_for(
        self, response: httpx.Response, remote_id: str | None = None
    ) -> ProviderError | None:
        """The exception an answer stands for, or None when it is no error.

        ``remote_id`` names the job polled or cancelled (None for a submit). The
        default reads the HTTP status alone; every adapter overrides it with its
        protocol's codes.
        """
        code = response.status_code
        if not response.is_error:
            return None
        if code in (401, 403):
            return AuthError(f"{self.title} refused the credentials (HTTP {code}).", status=code)
        if code == 429:
            return RateLimited(f"{self.title} is limiting requests (HTTP 429).", status=code)
        return ProviderError(f"{self.title} answered HTTP {code}; try again later.", status=code)

    # -- optional hooks, with their defaults -----------------------------------------
    def stream(self, job: Job) -> httpx.Request | None:
        """A streaming submit (NDJSON, one snapshot per line), or None if not offered."""
        return None

    def parse_line(self, job: Job, line: bytes) -> Snapshot | None:
        """One line of a streaming answer; None for blank or keep-alive lines."""
        return None

    def download(self, url: str) -> httpx.Request:
        """The GET of an image the provider returned; credentials only to the exact
        origin (scheme, host, port) of ``base_url``, never to a CDN."""
        request = httpx.Request("GET", url)  # the URL httpx will really connect to
        if same_origin(request.url, self.base_url):
            request.headers.update(self.auth_headers())
        return request

    def cancel(self, snapshot: Snapshot) -> httpx.Request | None:
        """The request that cancels a submitted job, or None: the protocol cannot."""
        return None

    def parse_cancel(self, snapshot: Snapshot, response: httpx.Response) -> None:
        """Raise ``ProviderError`` if the provider refused the cancel."""
        error = self.error_for(response, snapshot.remote_id)
        if error is not None:
            raise error

    def local(self, job: Job) -> Snapshot | None:
        """The finished state of a job done without the provider, else None.

        Youchuan returns four separate images, so its U1-U4 only pick one of them.
        """
        return None

    def check(self, prompt: Prompt) -> None:
        """Raise ``PromptError`` for a prompt this provider cannot take, before anything
        is sent (Youchuan refuses ``--repeat``). The default takes every prompt."""

    def confirm(self, job: Job, snapshot: Snapshot) -> httpx.Request | None:
        """The follow-up a protocol needs before the job runs, or None.

        midjourney-proxy answers remix, vary region and custom zoom with code 21 and
        status ``MODAL``: the job waits for ``POST /mj/submit/modal`` (with the prompt
        and ``maskBase64``). ``parse_submit`` marks such a snapshot with
        ``extra["confirm"] = True``; the runner then sends this request once and reads
        its answer with ``parse_submit``.
        """
        return None

    def seed(self, snapshot: Snapshot) -> httpx.Request | None:
        """The request that asks which seed a finished job used, or None: cannot tell."""
        return None

    def parse_seed(self, snapshot: Snapshot, response: httpx.Response) -> int | None:
        """The seed from :meth:`seed`'s answer (None when the provider did not say)."""
        error = self.error_for(response, snapshot.remote_id)
        if error is not None:
            raise error
        return None

    def upload(self, data_url: str) -> httpx.Request | None:
        """The request that uploads a local image (``local_images == "upload"``, and the
        local references of a prompt where ``local_refs == "upload"``). It may go to a
        second origin the protocol names (Ace's platform host): the only other
        place the credentials go, and only with this request."""
        return None

    def parse_upload(self, response: httpx.Response) -> str:
        """The public URL of an uploaded image."""
        error = self.error_for(response)
        if error is not None:
            raise error
        raise ProviderError(f"{self.title} has no upload endpoint.")

    # -- helpers for subclasses ------------------------------------------------------
    def path_id(self, remote_id: str | None) -> str:
        """``remote_id`` quoted as one path segment, so that a request built with it
        never leaves the base path (``../../admin?x=`` stays one segment)."""
        if not remote_id:
            raise ProviderError(f"Cannot poll a {self.title} job that has no task id.")
        if not isinstance(remote_id, str) or remote_id in (".", ".."):
            raise ProviderError(f"{self.title} named the job {remote_id!r}: not a valid task id.")
        return quote(remote_id, safe="")


for _name in _SCRUBBED:  # the defaults above scrub too (a subclass may not override them)
    setattr(AdapterBase, _name, _scrubbing(getattr(AdapterBase, _name)))


#: the type the engine and the client hold (every adapter is an AdapterBase)
Adapter = AdapterBase


def resolve_locally(adapter: Adapter, job: Job) -> Snapshot | None:
    """``adapter.local(job)``; kept for callers of the first release's helper."""
    return adapter.local(job)


def check_prompt(adapter: Adapter, prompt: Prompt) -> None:
    """``adapter.check(prompt)``: ``Client.imagine`` calls it for every prompt, sweeps'
    cells too; kept for callers of the first release's helper."""
    adapter.check(prompt)
