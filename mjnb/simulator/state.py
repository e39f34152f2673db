"""What every protocol module shares besides the jobs: counters for ``/_sim/stats``
(with the peaks of running and waiting jobs), the rate limiter, signed image URLs,
uploaded images (bounded, oldest evicted first), the banned-word check and webhook
delivery (loopback addresses only). Each protocol module only translates between its
wire format and these objects.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import re
import secrets
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from mjnb.prompt import Prompt, PromptError, parse_prompt
from mjnb.simulator.config import SimConfig
from mjnb.simulator.images import ImageSource, decode_image
from mjnb.simulator.model import Job, JobTable, State, watch

log = logging.getLogger("mjnb.simulator")

LOOPBACK_HOSTS: frozenset[str] = frozenset({"127.0.0.1", "localhost", "::1"})
IMAGE_PATH = re.compile(r"^/_sim/images/(?P<job>\d+)/(?P<name>[a-z0-9-]+)\.(?P<ext>png|webp)$")
UPLOAD_PATH = re.compile(r"^/_sim/uploads/(?P<key>[0-9a-f]+)\.(?P<ext>png|webp)$")
#: bytes of uploaded images kept at most (besides the ``max_uploads`` count)
UPLOAD_BUDGET = 256 * 1024 * 1024

# ---------------------------------------------------------------------------- shared state


class Simulator:
    """The state every protocol module shares: config, jobs, counters, limiter, URLs."""

    def __init__(self, config: SimConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.table = JobTable(config, clock)
        self.counts: Counter[str] = Counter()
        self.per_protocol: dict[str, Counter[str]] = {
            p: Counter() for p in ("acedata", "metachat", "mjproxy", "youchuan")
        }
        self.uploads: OrderedDict[str, bytes] = OrderedDict()
        self._upload_bytes = 0
        self.secret = secrets.token_bytes(16)
        self._tokens = float(max(1.0, config.rate_limit or 1.0))
        self._refilled = clock()
        self._background: set[asyncio.Task[None]] = set()
        self._banned = (
            re.compile(r"\b(" + "|".join(re.escape(w) for w in config.banned_words) + r")\b", re.I)
            if config.banned_words
            else None
        )

    def reset(self) -> None:
        self.table = JobTable(self.config, self.clock)
        self.counts.clear()
        for counter in self.per_protocol.values():
            counter.clear()
        self.uploads.clear()
        self._upload_bytes = 0

    # -- counters

    def count(self, protocol: str | None, key: str, n: int = 1) -> None:
        self.counts[key] += n
        if protocol is not None:
            self.per_protocol[protocol][key] += n

    def stats(self) -> dict[str, Any]:
        now = self.clock()
        tally = self.table.tally(now)
        peaks = self.table.peaks(now)
        keys = (
            "requests",
            "submits",
            "polls",
            "rejected_429",
            "rejected_queue_full",
            "rejected",
            "downloads",
            "callbacks",
            "callback_errors",
            "dropped",
            "slowed",
            "bad_json",
            "cancels",
            "uploads",
            "evicted_uploads",
        )
        out: dict[str, Any] = {key: self.counts[key] for key in keys}
        out.update(
            stalled=self.table.stalled,
            jobs=len(self.table.jobs),
            queued=tally["queued"],
            running=tally["running"],
            succeeded=tally["succeeded"],
            failed=tally["failed"],
            evicted=sum(self.table.evicted.values()),
            peak_running=peaks["running"],
            peak_queued=peaks["queued"],
            protocols={p: dict(c) for p, c in self.per_protocol.items() if c},  # those used
        )
        return out

    # -- rate limiter (token bucket, bursts of one second's worth)

    def allow(self) -> bool:
        rate = self.config.rate_limit
        if rate is None:
            return True
        now = self.clock()
        capacity = max(1.0, rate)
        self._tokens = min(capacity, self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def retry_after(self) -> int:
        rate = self.config.rate_limit or 1.0
        return max(1, math.ceil((1.0 - self._tokens) / rate))

    # -- prompts

    def banned_word(self, text: str) -> str | None:
        match = self._banned.search(text) if self._banned else None
        return match.group(1).lower() if match else None

    @staticmethod
    def parse(text: str) -> Prompt:
        """Parse a prompt as Midjourney would take it; raises PromptError."""
        prompt = parse_prompt(text, warn=False)
        if prompt.is_permutation:
            raise PromptError(
                "Permutations like {a, b} are not supported through this API; "
                "expand them into separate prompts and submit each."
            )
        _no_local_references(prompt)
        return prompt

    # -- image URLs

    def image_path(self, job: Job, name: str, ext: str, issued: float | None = None) -> str:
        """A path (with a signed query when ``url_ttl`` is set) for one of a job's images."""
        path = f"/_sim/images/{job.id}/{name}.{ext}"
        return self.sign(path, job.finished_at if issued is None else issued)

    def image_url(
        self, base: str, job: Job, name: str, ext: str = "png", issued: float | None = None
    ) -> str:
        return base.rstrip("/") + self.image_path(job, name, ext, issued)

    def preview_url(self, base: str, job: Job, state: State) -> str | None:
        if state.status != "running" or state.progress <= 0:
            return None
        return self.image_url(base, job, f"preview-{state.progress}", "webp", state.at)

    def sign(self, path: str, issued: float) -> str:
        """``path`` with Discord-CDN-style ``ex``/``is``/``hm`` when ``url_ttl`` is set;
        with a ``token`` but no ``url_ttl`` an ``hm`` alone, so that the URL itself is the
        credential for ``/_sim/*`` downloads (as a CDN link is), never the token."""
        ttl = self.config.url_ttl
        if ttl is None:
            if self.config.token is None:
                return path
            return f"{path}?hm={self._digest(path)}"
        query = f"ex={math.ceil(issued + ttl):x}&is={int(issued):x}"
        return f"{path}?{query}&hm={self._digest(f'{path}?{query}')}"

    def _digest(self, text: str) -> str:
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()

    def verify(self, path: str, query: str) -> bool:
        """Whether a signed URL is genuine and unexpired (always true with neither
        ``url_ttl`` nor ``token``)."""
        query_fields = parse_qs(query)
        if self.config.url_ttl is None:
            if self.config.token is None:
                return True
            given = query_fields.get("hm", [""])[0]
            return hmac.compare_digest(self._digest(path), given)
        try:
            ex, is_, hm = query_fields["ex"][0], query_fields["is"][0], query_fields["hm"][0]
            expires = int(ex, 16)
        except (KeyError, IndexError, ValueError):
            return False
        expected = self._digest(f"{path}?ex={ex}&is={is_}")
        return hmac.compare_digest(expected, hm) and self.clock() < expires

    def upload(self, data: bytes, base: str, protocol: str | None = None) -> str:
        """Keep uploaded image bytes and return the URL they are served at (counted as
        ``uploads``, per ``protocol`` too)."""
        decode_image(data)  # validates
        self.count(protocol, "uploads")
        key = hashlib.sha256(data).hexdigest()[:24]
        old = self.uploads.pop(key, None)
        self._upload_bytes += len(data) - (len(old) if old is not None else 0)
        self.uploads[key] = data
        while len(self.uploads) > 1 and (
            len(self.uploads) > self.config.max_uploads or self._upload_bytes > UPLOAD_BUDGET
        ):
            _, dropped = self.uploads.popitem(last=False)
            self._upload_bytes -= len(dropped)
            self.count(None, "evicted_uploads")
        path = f"/_sim/uploads/{key}.png"
        return base.rstrip("/") + self.sign(path, self.clock())

    def source(self, url: str, own_netloc: str) -> ImageSource:
        """What an image URL points at: our own image when it is ours, else a stand-in."""
        parts = urlsplit(url)
        if parts.netloc == own_netloc:
            found = IMAGE_PATH.match(parts.path)
            if found:
                job = self.table.get(found["job"])
                if job is not None and job.final.status == "succeeded":
                    name = found["name"]
                    return ImageSource(job=job, name=name if "preview" not in name else "image")
            uploaded = UPLOAD_PATH.match(parts.path)
            if uploaded and uploaded["key"] in self.uploads:
                return ImageSource(data=self.uploads[uploaded["key"]])
        return ImageSource(url=url)

    # -- background work (webhooks)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @staticmethod
    def hook_allowed(url: str) -> bool:
        """Webhooks go to loopback addresses only: the simulator never leaves the machine."""
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and (parts.hostname or "") in LOOPBACK_HOSTS

    def deliver(
        self,
        protocol: str,
        url: str,
        job: Job,
        payload: Callable[[State], Awaitable[dict[str, Any] | None]],
    ) -> None:
        """POST ``payload(state)`` to ``url`` on each state change of ``job`` (skipping
        states for which it returns None). Non-loopback URLs are ignored with a warning."""
        if not self.hook_allowed(url):
            log.warning("Ignoring webhook %s: the simulator only calls loopback addresses.", url)
            return

        async def run() -> None:
            async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
                async for state in watch(job, self.clock):
                    body = await payload(state)
                    if body is None:
                        continue
                    try:
                        await client.post(url, json=body)
                        self.count(protocol, "callbacks")
                    except httpx.HTTPError as exc:
                        self.count(protocol, "callback_errors")
                        log.warning("Webhook POST to %s failed: %s", url, exc)

        self.spawn(run())


_WEIGHT = re.compile(r"::[-+]?[0-9.]+$")


def _no_local_references(prompt: Prompt) -> None:
    """Midjourney reads URLs and style codes after --sref/--cref/--oref, never a path:
    a client that forgot to upload a file is refused, as the real service would."""
    for name in ("sref", "cref", "oref"):
        value = prompt.params.get(name)
        for item in value if isinstance(value, list) else [value] if value else []:
            bare = _WEIGHT.sub("", str(item))
            if bare.lower().startswith(("http://", "https://")):
                continue
            if name == "sref" and (bare.isdigit() or bare.lower() == "random"):
                continue
            raise PromptError(
                f"--{name} takes image URLs, got {bare[:60]!r}: Midjourney cannot read a "
                "file on your machine."
            )
