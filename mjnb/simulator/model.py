"""Jobs and their planned timelines: what a simulated Midjourney job is and does.

A job's whole life is planned when it is submitted: the scheduler gives it the first
of ``concurrency`` slots to come free (first come, first served), so its start, its
progress steps, and its end (or the moment it fails, for the ``fail_rate`` share) are
known at once. Every read computes the state from the injected clock, so a poll costs
a bisect and nothing runs in the background. A cancel rewrites the rest of the plan
(the job fails now). Images are rendered only when first asked for (in a worker
thread, once per job) through :mod:`mjnb.simulator.art`. The table keeps at most
``max_jobs`` jobs, evicting the oldest finished ones first.
"""

from __future__ import annotations

import bisect
import logging
import random
import threading
import time
import uuid
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import anyio
from PIL import Image

from mjnb.prompt import Prompt
from mjnb.simulator import art
from mjnb.simulator.config import SimConfig
from mjnb.simulator.images import ImageSource, crop_tile, encode
from mjnb.simulator.versions import offered

log = logging.getLogger("mjnb.simulator")


Status = Literal["queued", "running", "succeeded", "failed"]
Kind = Literal["grid", "single", "text"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed"})

#: Multiplier on ``latency`` for each speed mode.
SPEEDS: dict[str, float] = {"fast": 1.0, "relax": 2.0, "turbo": 0.5}

#: What a job that fails while running says, like the proxies relay Midjourney's words.
FAILURE_REASONS: tuple[str, ...] = (
    "The job timed out: the Midjourney bot did not answer in time. Submit it again.",
    "Midjourney reported an internal error while rendering this job. Submit it again.",
    "The Midjourney account serving this job ran out of fast hours. Submit it again later.",
)

BLEND_ASPECTS: dict[str, float] = {"square": 1.0, "portrait": 2 / 3, "landscape": 3 / 2}


class QueueFull(Exception):
    """The waiting queue is full; the job was not created."""

    def __init__(self, waiting: int) -> None:
        super().__init__(f"The queue is full ({waiting} jobs waiting); try again later.")
        self.waiting = waiting


@dataclass(frozen=True)
class State:
    """A job's state from ``at`` (epoch seconds) until the next change."""

    status: Status
    progress: int
    at: float

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


# ---------------------------------------------------------------------------- jobs


class RenderCache:
    """Rendered pictures and encoded files, least recently used first out, within a
    byte budget. Pictures are deterministic, so an evicted one is simply rendered again."""

    def __init__(self, budget: int = 256 * 1024 * 1024) -> None:
        self.budget = budget
        self._items: OrderedDict[tuple[str, str, str], tuple[object, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> object | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: tuple[str, str, str], value: object, size: int) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= old[1]
            self._items[key] = (value, size)
            self._size += size
            while self._size > self.budget and len(self._items) > 1:
                _, (_, freed) = self._items.popitem(last=False)
                self._size -= freed


@dataclass(eq=False)
class Job:
    """One simulated Midjourney job.

    ``action`` is what was asked ("imagine", "describe", "blend" or an action label);
    ``recipe`` and ``base`` say how the picture is made (a reroll repeats its parent's
    recipe on the parent's base with a new seed). ``meta`` holds whatever the protocol
    that created the job needs later (request body, webhook, state ...).
    """

    number: int
    id: str
    uuid: str
    hash: str
    protocol: str
    action: str
    recipe: str
    kind: Kind
    prompt: str
    text: str
    params: dict[str, Any]
    seed: int
    parent: Job | None
    base: Job | None
    index: int
    aspect: float | None
    pan_axis: str | None
    inputs: tuple[ImageSource, ...]
    dimensions: str
    speed: str
    submitted_at: float
    started_at: float | None
    timeline: list[State]
    fail_reason: str | None
    long_side: int
    meta: dict[str, Any] = field(default_factory=dict)
    #: act on tile 1-4 of ``base``'s grid rather than on all of it (Youchuan's imageNo)
    tile: int = 0
    #: the scheduler slot it holds and until when (freed early by a cancel)
    slot: int = -1
    slot_until: float = 0.0
    _times: list[float] = field(default_factory=list, repr=False)
    cache: RenderCache = field(default_factory=RenderCache, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _descriptions: list[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._times = [s.at for s in self.timeline]

    # -- state, computed from the clock

    def state(self, now: float) -> State:
        """The state at ``now``; before the first change, the first state."""
        i = bisect.bisect_right(self._times, now) - 1
        return self.timeline[max(i, 0)]

    def next_change(self, now: float) -> float | None:
        i = bisect.bisect_right(self._times, now)
        return self._times[i] if i < len(self._times) else None

    @property
    def finished_at(self) -> float:
        return self.timeline[-1].at

    @property
    def final(self) -> State:
        return self.timeline[-1]

    def preview_progresses(self) -> list[int]:
        return [s.progress for s in self.timeline if s.status == "running" and s.progress > 0]

    # -- actions

    def offered(self) -> list[str]:
        """Action labels this job offers once it has succeeded (per its version:
        :mod:`mjnb.simulator.versions`)."""
        return offered(
            self.kind,
            self.params,
            aspect=self.aspect,
            pan_axis=self.pan_axis,
            upscaled=self.action.startswith("upscale "),
        )

    # -- cancel

    def cancel(self, now: float, reason: str) -> bool:
        """End the job now as failed with ``reason`` (its plan after ``now`` is dropped).
        False, and nothing changes, if it has already ended."""
        state = self.state(now)
        if state.done:
            return False
        kept = [s for s in self.timeline if s.at <= now]
        progress = kept[-1].progress if kept else 0
        self.timeline = [*kept, State("failed", progress, now)]
        self._times = [s.at for s in self.timeline]
        self.fail_reason = reason
        self.meta["cancelled"] = True
        return True

    def spans(self) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
        """When the job waited and when it ran, as (from, until) pairs (until is
        ``inf`` for a job that never ends), for the peaks in ``/_sim/stats``."""
        queued = running = None
        first_run = next((s.at for s in self.timeline if s.status == "running"), None)
        end = self.final.at if self.final.done else float("inf")
        if self.timeline[0].status == "queued":
            queued = (self.timeline[0].at, first_run if first_run is not None else end)
        if first_run is not None:
            running = (first_run, end)
        return queued, running

    # -- pictures (blocking; call through a worker thread)

    def render(self) -> Image.Image:
        """The final picture, rendered once and cached."""
        key = (self.id, "render", "")
        with self._lock:
            image = self.cache.get(key)
            if image is None:
                image = self._paint()
                self.cache.put(key, image, image.width * image.height * 3)
            assert isinstance(image, Image.Image)
            return image

    @property
    def rendered(self) -> Image.Image | None:
        """The final picture if it is in the cache (no rendering)."""
        image = self.cache.get((self.id, "render", ""))
        return image if isinstance(image, Image.Image) else None

    def picture(self, name: str) -> Image.Image:
        """A named picture: ``image`` (or ``raw``, the same), ``thumb`` (half size),
        ``tile1``-``tile4``, ``preview-<progress>``."""
        final = self.render()
        if name in ("image", "raw"):
            return final
        if name == "thumb":
            w, h = final.size
            return final.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.LANCZOS)
        if name.startswith("tile") and name[4:] in {"1", "2", "3", "4"}:
            return crop_tile(final, int(name[4:]))
        if name.startswith("preview-") and name[8:].isdigit():
            return art.preview(final, int(name[8:]))
        raise KeyError(name)

    def image_bytes(self, name: str, ext: str) -> bytes:
        key = (self.id, name, ext)
        cached = self.cache.get(key)
        if not isinstance(cached, bytes):
            cached = encode(self.picture(name), ext)
            self.cache.put(key, cached, len(cached))
        return cached

    def descriptions(self) -> list[str]:
        with self._lock:
            if self._descriptions is None:
                self._descriptions = [str(d) for d in art.describe(self.inputs[0].load(256))]
        return self._descriptions

    def _paint(self) -> Image.Image:
        painter = self.meta.get("paint")  # a protocol's own recipe (Youchuan's editor)
        if callable(painter):
            return cast(Image.Image, painter(self))
        recipe, base, side = self.recipe, self.base, self.long_side
        if recipe == "imagine":
            return art.paint_grid(self.text, self.params, self.seed, long_side=side)
        if recipe == "describe":
            return self.inputs[0].load(side)
        if recipe == "blend":
            images = [source.load(side) for source in self.inputs]
            dims = cast(Literal["square", "portrait", "landscape"], self.dimensions)
            return art.blend(images, dims, self.seed, long_side=side)
        assert base is not None, f"{recipe} needs a base job"
        source = base.render()
        if self.tile:
            source = crop_tile(source, self.tile)
        if recipe[0] == "U":
            return art.upscale(source, self.index)
        if recipe[0] == "V":
            if base.recipe == "imagine" and self.seed == base.seed:
                return art.variation_grid(
                    base.text, base.params, base.seed, self.index, strength=0.25, long_side=side
                )
            return art.vary(crop_tile(source, self.index), "subtle", self.seed, long_side=side)
        if recipe in ("vary subtle", "vary strong"):
            strength: Literal["subtle", "strong"] = (
                "strong" if recipe == "vary strong" else "subtle"
            )
            return art.vary(source, strength, self.seed, long_side=side)
        if recipe.startswith("zoom ") or (recipe == "square" and source.width == source.height):
            factor = float(recipe[5:-1]) if recipe.startswith("zoom ") else 1.0  # "zoom 1.5x"
            return art.zoom_out(source, factor, self.seed, long_side=side)
        if recipe == "square":
            return art.make_square(source, self.seed, long_side=side)
        if recipe in ("pan left", "pan right", "pan up", "pan down"):
            direction = cast(Literal["left", "right", "up", "down"], recipe[4:])
            return art.pan(source, direction, self.seed, long_side=side)
        if recipe in ("upscale subtle", "upscale creative", "upscale 2x", "upscale 4x"):
            kind = cast(Literal["subtle", "creative", "2x", "4x"], recipe[8:])
            return art.upscale_image(source, kind)
        raise ValueError(f"unknown recipe {recipe!r}")


def aspect_of(ar: Any) -> float:
    try:
        w, h = str(ar).split(":")
        return int(w) / int(h)
    except (ValueError, ZeroDivisionError):
        return 1.0


class JobTable:
    """Every job, and the scheduler that plans them onto ``concurrency`` slots."""

    def __init__(self, config: SimConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.jobs: dict[str, Job] = {}
        self.by_uuid: dict[str, Job] = {}
        self._counter = 0
        self._slots = [0.0] * config.concurrency
        self._starts: deque[float] = deque()
        self.cache = RenderCache()
        #: jobs planned to stop progressing (``stall_rate``), never to finish
        self.stalled = 0
        #: final statuses of jobs forgotten beyond ``max_jobs`` (they still count)
        self.evicted: Counter[str] = Counter()
        #: most jobs running / waiting at once, over jobs already forgotten
        self._peaks: dict[str, int] = {"running": 0, "queued": 0}
        self._placed = (-1, 0.0)

    def waiting(self, now: float) -> int:
        """Jobs accepted that have not started yet."""
        while self._starts and self._starts[0] <= now:
            self._starts.popleft()
        return len(self._starts)

    def will_wait(self, now: float) -> bool:
        return min(self._slots) > now

    def submit(
        self,
        *,
        protocol: str,
        action: str = "imagine",
        parent: Job | None = None,
        prompt: Prompt | None = None,
        prompt_text: str = "",
        inputs: Iterable[ImageSource] = (),
        dimensions: str = "square",
        speed: str = "fast",
        fail_reason: str | None = None,
        meta: Mapping[str, Any] | None = None,
        tile: int = 0,
    ) -> Job:
        """Create and plan a job. ``fail_reason`` makes it fail at once (Midjourney
        refused it). Raises QueueFull when ``queue_size`` jobs already wait. ``tile``
        (1-4) makes an action work on that tile of ``parent``'s grid."""
        config, now = self.config, self.clock()
        waiting = self.waiting(now)
        if fail_reason is None and self.will_wait(now) and waiting >= config.queue_size:
            raise QueueFull(waiting)
        self._counter += 1
        number = self._counter
        rng = random.Random(f"{config.seed}:job:{number}")
        text, params = "", {}
        if prompt is not None:
            text, params = prompt.text, dict(prompt.params)
        recipe, base, index, pan_axis = action, parent, 0, None
        aspect: float | None = 1.0
        seed = rng.randrange(2**32)
        if action == "imagine":
            if isinstance(params.get("seed"), int):
                seed = params["seed"]
            else:
                seed = random.Random(f"{config.seed}:seed:{number}:{text}").randrange(2**32)
            aspect = aspect_of(params.get("ar", "1:1"))
        elif action == "blend":
            aspect = BLEND_ASPECTS.get(dimensions, 1.0)
        elif action == "describe":
            aspect = None
        if parent is not None:
            text, params, prompt_text = parent.text, dict(parent.params), parent.prompt
            aspect, pan_axis = parent.aspect, parent.pan_axis
            if action == "reroll":
                recipe, base, index, tile = parent.recipe, parent.base, parent.index, parent.tile
                inputs, dimensions = parent.inputs, parent.dimensions
            elif action[0] in "UV" and action[1:].isdigit():
                index = int(action[1:])
                if action[0] == "V" and parent.recipe == "imagine":
                    seed = parent.seed
            elif action == "square":
                aspect = 1.0
            elif action.startswith("pan ") and aspect is not None:
                aspect = aspect * 1.5 if action in ("pan left", "pan right") else aspect / 1.5
                pan_axis = "h" if action in ("pan left", "pan right") else "v"
            elif action.startswith("pan "):
                pan_axis = "h" if action in ("pan left", "pan right") else "v"
        kind: Kind = "text" if action == "describe" else "grid"
        if recipe.startswith(("U", "upscale ")):
            kind = "single"
        duration = config.latency * SPEEDS.get(speed, 1.0)
        stall = random.Random(f"{config.seed}:stall:{number}")
        stall_at = stall.uniform(0.1, 0.9) if stall.random() < config.stall_rate else None
        timeline, started, reason = self._plan(now, duration, rng, fail_reason, stall_at)
        ms = int(now * 1000)
        job = Job(
            number=number,
            id=str(((ms - 1_420_070_400_000) << 22) | (number & 0x3FFFFF)),
            uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            hash=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            protocol=protocol,
            action=action,
            recipe=recipe,
            kind=kind,
            prompt=prompt_text,
            text=text,
            params=params,
            seed=seed,
            parent=parent,
            base=base,
            index=index,
            aspect=aspect,
            pan_axis=pan_axis,
            inputs=tuple(inputs),
            dimensions=dimensions,
            speed=speed,
            submitted_at=now,
            started_at=started,
            timeline=timeline,
            fail_reason=reason,
            long_side=config.long_side,
            meta=dict(meta or {}),
            tile=tile,
            cache=self.cache,
        )
        job.slot, job.slot_until = self._placed
        self._placed = (-1, 0.0)
        self.jobs[job.id] = job
        self.by_uuid[job.uuid] = job
        if len(self.jobs) > config.max_jobs:
            self.evict(now)
        return job

    def cancel(self, job: Job, reason: str) -> bool:
        """Cancel ``job`` now (see :meth:`Job.cancel`); its slot is freed when no later
        job was planned on it. False if it had already ended."""
        now = self.clock()
        waited = job.timeline[0].status == "queued" and job.state(now).status == "queued"
        if not job.cancel(now, reason):
            return False
        if waited and job.started_at is not None:
            if job.started_at in self._starts:
                self._starts.remove(job.started_at)
            job.started_at = None  # it never ran
        if 0 <= job.slot < len(self._slots) and self._slots[job.slot] == job.slot_until:
            self._slots[job.slot] = now
        return True

    def evict(self, now: float) -> None:
        """Forget jobs down to 90% of ``max_jobs``: the oldest finished first, then the
        oldest of all. Their outcomes and the peaks they made are kept."""
        keep = max(1, self.config.max_jobs * 9 // 10)
        peaks = self.peaks(now)
        self._peaks = peaks
        excess = len(self.jobs) - keep
        order = [j for j in self.jobs.values() if j.state(now).done]
        order += [j for j in self.jobs.values() if not j.state(now).done]
        for job in order[:excess]:
            self.evicted[job.state(now).status] += 1
            del self.jobs[job.id]
            self.by_uuid.pop(job.uuid, None)

    def peaks(self, now: float) -> dict[str, int]:
        """Most jobs running at once and most waiting at once, up to ``now``."""
        out = dict(self._peaks)
        for which in (0, 1):
            events: list[tuple[float, int]] = []
            for job in self.jobs.values():
                span = job.spans()[which]
                if span is None or span[0] > now or span[1] <= span[0]:
                    continue
                events.append((span[0], 1))
                if span[1] <= now:
                    events.append((span[1], -1))
            level = top = 0
            for _, step in sorted(events):  # ends (-1) sort before starts at one moment
                level += step
                top = max(top, level)
            key = "queued" if which == 0 else "running"
            out[key] = max(out[key], top)
        return out

    def _plan(
        self,
        now: float,
        duration: float,
        rng: random.Random,
        fail_reason: str | None,
        stall_at: float | None = None,
    ) -> tuple[list[State], float | None, str | None]:
        """The job's timeline, its start and its failure reason. ``stall_at`` (a share
        of the run) makes it stop progressing there for good; its slot still frees at
        the planned end, as a provider's worker moves on while the record stays stuck."""
        if fail_reason is not None:
            return [State("failed", 0, now)], None, fail_reason
        free = min(self._slots)
        start = max(now, free)
        fails = rng.random() < self.config.fail_rate
        end = start + duration
        fail_at = start + duration * rng.uniform(0.3, 0.9) if fails else None
        slot = self._slots.index(free)
        self._slots[slot] = fail_at if fail_at is not None else end
        self._placed = (slot, self._slots[slot])
        if start > now:
            self._starts.append(start)
        timeline: list[State] = []
        if start > now:
            timeline.append(State("queued", 0, now))
        steps = self.config.progress_steps
        progress = 0
        for i in range(steps):
            at = start + duration * i / steps
            if fail_at is not None and at >= fail_at and i > 0:
                break
            progress = i * 100 // steps
            timeline.append(State("running", progress, at))
        if fail_at is not None:
            reason = FAILURE_REASONS[rng.randrange(len(FAILURE_REASONS))]
            timeline.append(State("failed", progress, fail_at))
            return timeline, start, reason
        if stall_at is not None:
            self.stalled += 1
            cut = start + duration * stall_at
            return [s for s in timeline if s.at <= cut] or timeline[:1], start, None
        timeline.append(State("succeeded", 100, end))
        return timeline, start, None

    def get(self, job_id: Any, protocol: str | None = None) -> Job | None:
        job = self.jobs.get(job_id) if isinstance(job_id, str) else None
        if job is None and isinstance(job_id, str):
            job = self.by_uuid.get(job_id)
        if job is not None and protocol is not None and job.protocol != protocol:
            return None
        return job

    def of(self, protocol: str) -> list[Job]:
        return [job for job in self.jobs.values() if job.protocol == protocol]

    def tally(self, now: float) -> Counter[str]:
        counts: Counter[str] = Counter(self.evicted)
        for job in self.jobs.values():
            counts[job.state(now).status] += 1
        return counts


async def watch(job: Job, clock: Callable[[], float] = time.time) -> AsyncIterator[State]:
    """Yield each state of ``job`` from now on, as it happens, ending with the final one."""
    last: State | None = None
    while True:
        now = clock()
        state = job.state(now)
        if state != last:
            yield state
            last = state
        if state.done:
            return
        nxt = job.next_change(now)
        if nxt is None:  # a stalled job: nothing will change unless it is cancelled
            await anyio.sleep(0.25)
            continue
        # at most a quarter second, so that a cancel (which rewrites the plan) shows soon
        await anyio.sleep(min(0.25, max(0.0, nxt - clock()) + 0.001))
