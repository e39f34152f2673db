"""Video sweeps: animate one start image, or every cell of a sweep, along video axes.

    >>> mj.plan_sweep_video(start, "waves roll in", motion=["low", "high"], seed=[1, 2])
    4 video jobs (motion × seed), 4 clips, about 8 GPU-minutes
    >>> clips = mj.sweep_video(start, "waves roll in", motion=["low", "high"], seed=[1, 2])
    >>> clips = sweep.animate(motion=["low", "high"], index=1)   # over a sweep's tiles

The video axes are ``motion`` ("low"/"high"), ``seed``, ``batch`` (or ``bs``: 1, 2, 4),
``loop`` and ``raw`` (True/False), and ``index`` (the tile 1-4 of a grid). A list is
an axis; a single value (``motion="high"``, ``index=2``) is the same in every cell.
Over a sweep, the cells are its cells times the video axes, so a seed sweep animated
with two motions is a motion × seed grid.

Before anything is sent, every cell is checked by the host (``check_video``: a
provider without video, a bad value), which also says whether it must upscale a grid
tile first; those upscales are counted once per tile in the job count, the
``max_jobs`` cap and the cost. A cell is claimed in the log when it starts, exactly as
an image cell (:meth:`VideoSweepHost.start_video`).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from mjnb.errors import InvalidArgument, NotReady, PromptError
from mjnb.prompt import Prompt, PromptWarning, parse_prompt
from mjnb.vocab import MOTIONS, VIDEO_BATCHES

from .plan import DEFAULT_MAX_JOBS, Cell, SweepPlan, too_many
from .run import SweepHost

if TYPE_CHECKING:
    from mjnb.inputs import ImageInput
    from mjnb.task import Task

    from .run import Sweep

__all__ = [
    "VIDEO_AXES",
    "VideoSource",
    "VideoSweepHost",
    "cell_text",
    "image_source",
    "parse_cell",
    "plan_sweep_video",
    "plan_video",
    "sources_of",
    "start_video_sweep",
    "sweep_video",
]

#: the video axes a sweep takes: user's name -> (axis name, video prompt parameter)
VIDEO_AXES: dict[str, tuple[str, str | None]] = {
    "motion": ("motion", "motion"),
    "seed": ("seed", "seed"),
    "batch": ("batch", "bs"),
    "bs": ("batch", "bs"),
    "loop": ("loop", "loop"),
    "raw": ("raw", "raw"),
    "index": ("index", None),
}
_TASK = "task:"


class VideoSweepHost(SweepHost, Protocol):
    """A :class:`SweepHost` that can also start video cells (the runtime's Session)."""

    def check_video(self, source: Task | ImageInput, prompt: Prompt, *, index: int | None) -> int:
        """Raise InvalidArgument for a video job this provider cannot run (no video,
        a grid without ``index``, a task that has not succeeded); sends nothing. Returns
        how many jobs it sends first: 1 where the protocol animates only single images
        and ``source`` is a grid (an upscale of tile ``index``), else 0."""

    def start_video(
        self,
        source: Task | ImageInput,
        prompt: Prompt,
        *,
        index: int | None,
        mode: str | None,
        sweep_id: str,
        axes: Mapping[str, Any],
        cell: int,
        replaces: str | None = None,
    ) -> Task | None:
        """Claim cell ``cell`` of the sweep in the log and start its video task (kind
        "video"), animating ``source`` (tile ``index`` of a grid); ``prompt`` is a video
        Prompt whose text and ``--motion``/``--bs``/``--loop``/``--raw``/``--seed`` say
        what to send. An upscale needed first is sent by the host, once per tile (a
        second cell of the same tile reuses it). None when the cell is taken."""


@dataclass(frozen=True)
class VideoSource:
    """What a group of video cells animates: a sweep cell's task or one start image."""

    ref: str  # "task:<id>", or the image's URL / path / "sha256:<hex>"
    coords: Mapping[str, Any]  # the parent cell's coordinates ({} for one image)
    text: str  # the prompt text used when none is given
    value: Any  # the Task or ImageInput itself


def video_host(host: SweepHost) -> VideoSweepHost:
    """``host`` if it can run video cells; else one error saying so."""
    if not (hasattr(host, "start_video") and hasattr(host, "check_video")):
        raise InvalidArgument(
            "This client cannot run video sweeps yet (its session has no start_video); update mjnb."
        )
    return host  # type: ignore[return-value]


# ------------------------------------------------------------------ the cells' log text


def cell_text(cell: Cell) -> str:
    """How a cell's prompt is logged: the prompt, or JSON for a video cell."""
    if cell.source is None:
        return str(cell.prompt)
    return json.dumps({"animate": cell.source, "index": cell.tile, "prompt": str(cell.prompt)})


def parse_cell(text: str) -> tuple[Prompt, str | None, int | None] | None:
    """A logged video cell's (prompt, source, tile), or None for an image cell."""
    if not text.startswith('{"animate"'):
        return None
    try:
        record = json.loads(text)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PromptWarning)
            prompt = parse_prompt(str(record["prompt"]), purpose="video")
        tile = record.get("index")
        return prompt, str(record["animate"]), None if tile is None else int(tile)
    except (ValueError, KeyError, TypeError, PromptError) as exc:
        raise PromptError(f"A logged video cell cannot be read ({exc}): {text[:80]}") from None


def resolve(host: SweepHost, ref: str, known: Mapping[str, Any]) -> Any:
    """The Task or image a logged video cell animates (``known``: this process's)."""
    if ref in known:
        return known[ref]
    if ref.startswith(_TASK):
        return host.task(ref[len(_TASK) :])
    if ref.startswith("sha256:"):
        raise NotReady(
            "This video sweep animates an image given as bytes or PIL, which the log "
            "keeps only as a hash; start it again with mj.sweep_video(image, ...)."
        )
    from mjnb.inputs import image_input

    return image_input(ref)


# ------------------------------------------------------------------ planning


def _axis_values(name: str, axis: str, spec: Any) -> tuple[list[Any], bool]:
    """The values of one video axis, and whether it is an axis (a list) or fixed."""
    is_axis = isinstance(spec, (list, tuple, range))
    values = list(spec) if is_axis else [spec]
    if not values:
        raise InvalidArgument(f"The video axis {name}=[] has no values; give at least one.")
    for value in values:
        _check_value(axis, value)
    if len({json.dumps(v) for v in values}) != len(values):
        raise InvalidArgument(f"The video axis {name}={spec!r} lists a value twice.")
    return values, is_axis


def _check_value(axis: str, value: Any) -> None:
    ok = {
        "motion": lambda v: v in MOTIONS,
        "batch": lambda v: not isinstance(v, bool) and v in VIDEO_BATCHES,
        "loop": lambda v: isinstance(v, bool),
        "raw": lambda v: isinstance(v, bool),
        "seed": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**32,
        "index": lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4,
    }[axis]
    if not ok(value):
        want = {
            "motion": " or ".join(repr(m) for m in MOTIONS),
            "batch": ", ".join(map(str, VIDEO_BATCHES)),
            "loop": "True or False",
            "raw": "True or False",
            "seed": "a whole number 0-4294967295",
            "index": "a tile 1-4",
        }[axis]
        raise InvalidArgument(f"The video axis {axis} takes {want}, got {value!r}.")


def _video_prompt(text: str, settings: Mapping[str, Any]) -> Prompt:
    """The exact video prompt of one cell, checked by the prompt parser."""
    params: dict[str, Any] = {}
    for axis, value in settings.items():
        if axis == "motion":
            params["motion"] = value
        elif axis == "batch" and value != 1:
            params["bs"] = value
        elif axis in ("loop", "raw") and value:
            params[axis] = True
        elif axis == "seed":
            params["seed"] = value
    with warnings.catch_warnings():  # --seed in a video prompt: providers may drop it
        warnings.simplefilter("ignore", PromptWarning)
        base = parse_prompt(text, purpose="video")
        if base.is_permutation:
            raise PromptError("A video sweep's prompt cannot hold {} groups; use axes.")
        return parse_prompt(str(base.with_params(**params)), purpose="video")


def plan_video(
    sources: Sequence[VideoSource],
    prompt: str | None,
    *,
    axes: Mapping[str, Any],
    base_axes: Mapping[str, Sequence[Any]] | None = None,
    provider: str = "local",
    mode: str | None = None,
    extra: Any = None,
) -> SweepPlan:
    """Plan video cells: every source times every combination of the video axes.

    ``extra(source, prompt, index) -> int`` is the host's ``check_video`` (raises for
    what the provider refuses; 1 when it upscales a tile first); upscales are counted
    once per (source, tile). Sends nothing.
    """
    import itertools

    base_axes = dict(base_axes or {})
    fixed: dict[str, Any] = {"motion": MOTIONS[0]}
    varying: dict[str, list[Any]] = {}
    for name, spec in axes.items():
        if name not in VIDEO_AXES:
            raise InvalidArgument(
                f"{name!r} is not a video axis; a video sweep varies "
                f"{', '.join(sorted(set(VIDEO_AXES) - {'bs'}))}."
            )
        axis = VIDEO_AXES[name][0]
        if axis in varying or (axis in fixed and axis != "motion"):
            raise InvalidArgument(f"The video axis {axis} is given twice.")
        if axis in base_axes:
            raise InvalidArgument(
                f"{axis} is already an axis of the sweep being animated; name it once."
            )
        values, is_axis = _axis_values(name, axis, spec)
        if is_axis:
            varying[axis] = values
            fixed.pop(axis, None)
        else:
            fixed[axis] = values[0]
    cells: list[Cell] = []
    upscales: set[tuple[str, int | None]] = set()
    for source in sources:
        text = source.text if prompt is None else prompt
        for combo in itertools.product(*varying.values()):
            settings = {**fixed, **dict(zip(varying, combo, strict=True))}
            index = settings.pop("index", None)
            cell_prompt = _video_prompt(text, settings)
            if extra is not None and extra(source.value, cell_prompt, index):
                upscales.add((source.ref, index))
            coords = {**dict(source.coords), **dict(zip(varying, combo, strict=True))}
            cells.append(Cell(len(cells), coords, cell_prompt, source=source.ref, tile=index))
    shown = prompt if prompt is not None else (sources[0].text if sources else "")
    first = sources[0].ref if len(sources) == 1 else f"{len(sources)} cells"
    return SweepPlan(
        prompt=f"animate {first}: {shown}".rstrip(": "),
        axes={**{k: list(v) for k, v in base_axes.items()}, **varying},
        cells=tuple(cells),
        provider=provider,
        mode=mode,
        kind="video",
        extra_jobs=len(upscales),
        source=first,
    )


def sources_of(sweep: Sweep) -> list[VideoSource]:
    """Every cell of a finished sweep as a video source; NotReady if one has not
    succeeded (retry or drop it first: a video cell needs a picture to animate)."""
    sources: list[VideoSource] = []
    waiting: list[str] = []
    for cell, task in sweep.items():
        if task is None or task.status != "succeeded":
            waiting.append(f"{cell.index} ({'not sent' if task is None else task.status})")
            continue
        text = task.prompt.text if task.prompt is not None else cell.prompt.text
        sources.append(VideoSource(f"{_TASK}{task.id}", dict(cell.coords), text, task))
    if waiting:
        raise NotReady(
            f"Sweep {sweep.id} has cells without a finished image: {', '.join(waiting)}; "
            "wait() first, and retry_failed() the failed ones."
        )
    return sources


def image_source(image: Any) -> VideoSource:
    """One start image (a finished Task, a URL, a path, bytes or PIL) as a source."""
    from mjnb.inputs import image_input
    from mjnb.task import Task

    if isinstance(image, Task):
        text = image.prompt.text if image.prompt is not None else ""
        return VideoSource(f"{_TASK}{image.id}", {}, text, image)
    checked = image_input(image, name="The start image")
    ref = checked.url if checked.url is not None else checked.ref
    if isinstance(image, str) and checked.url is None:
        ref = image  # a local path: logged as given, so resume can read it again
    return VideoSource(ref, {}, "", checked)


def start_video_sweep(
    host: SweepHost,
    sources: Sequence[VideoSource],
    prompt: str | None,
    *,
    confirm: bool = False,
    max_jobs: int | None = None,
    mode: str | None = None,
    axes: Mapping[str, Any],
    base_axes: Mapping[str, Sequence[Any]] | None = None,
    plan_only: bool = False,
) -> Sweep | SweepPlan:
    """Plan and check every video cell, apply the job cap, log the sweep, start it."""
    from .run import Sweep

    video = video_host(host)
    plan = plan_video(
        sources,
        prompt,
        axes=axes,
        base_axes=base_axes,
        provider=host.provider,
        mode=mode,
        extra=lambda src, p, index: video.check_video(src, p, index=index),
    )
    if plan_only:
        return plan
    limit = DEFAULT_MAX_JOBS if max_jobs is None else max_jobs
    if plan.jobs > limit and not confirm:
        raise too_many(plan.jobs, limit)
    sweep = Sweep.record(host, plan)
    sweep.known_sources.update({s.ref: s.value for s in sources})
    sweep.resume()
    return sweep


def sweep_video(
    host: SweepHost,
    image: Any,
    prompt: str | None = None,
    *,
    confirm: bool = False,
    max_jobs: int | None = None,
    mode: str | None = None,
    **axes: Any,
) -> Sweep:
    """Animate one start image (a finished Task, URL, path, bytes or PIL) along video
    axes (``motion=["low", "high"]``, ``seed=[1, 2]``, ``batch``, ``loop``, ``raw``,
    ``index``); returns the running :class:`Sweep` at once. More than ``max_jobs``
    jobs (upscales sent first included) needs ``confirm=True``."""
    from .run import Sweep

    result = start_video_sweep(
        host, [image_source(image)], prompt, confirm=confirm, max_jobs=max_jobs, mode=mode,
        axes=axes,
    )  # fmt: skip
    assert isinstance(result, Sweep)
    return result


def plan_sweep_video(
    host: SweepHost, image: Any, prompt: str | None = None, *, mode: str | None = None,
    **axes: Any,
) -> SweepPlan:  # fmt: skip
    """What :func:`sweep_video` would run (jobs, upscales first, cost); sends nothing."""
    result = start_video_sweep(
        host, [image_source(image)], prompt, mode=mode, axes=axes, plan_only=True
    )
    assert isinstance(result, SweepPlan)
    return result
