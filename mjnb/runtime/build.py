"""Media jobs built from what the user typed, checked before anything is logged or sent.

Every refusal here is one line (:class:`~mjnb.errors.InvalidArgument`), raised before
the Session logs the task: a feature the provider lacks names the provider and the
feature, a local image where the protocol wants public URLs says so, and bad values
(motion "fast", batch 3, a zoom of 2.5) say what is allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgument
from ..inputs import ImageInput, image_input
from ..prompt.refs import local_refs
from ..vocab import MOTIONS, REMIX_ACTIONS, VIDEO_BATCHES

if TYPE_CHECKING:
    from ..prompt import Prompt
    from ..providers.base import Adapter
    from ..task import Task

#: the upscale labels that mark a 2x2 grid (a task whose result has four tiles)
GRID_UPSCALES = ("U1", "U2", "U3", "U4")

#: the zoom factors that are plain labels (without a new prompt)
ZOOM_LABELS = {1.5: "zoom 1.5x", 2.0: "zoom 2x"}


def need(adapter: Adapter, feature: str) -> None:
    """Raise unless the provider offers ``feature`` (one of ``AdapterBase.features``)."""
    if feature not in adapter.features:
        reason = adapter.refusals.get(feature) if feature else None
        raise InvalidArgument(
            f"{adapter.name} has no {feature}"
            + (f": {reason}" if reason else " (its API does not offer it)")
            + "; nothing was sent."
        )


def image(adapter: Adapter, value: Any, what: str) -> ImageInput:
    """One image argument, checked; a local one refused where the protocol cannot take it."""
    given = image_input(value)
    if given.is_local and adapter.local_images == "refuse":
        raise InvalidArgument(
            f"{adapter.name} needs a public URL for the {what} (it has no upload and takes "
            f"no inline images): pass an http(s) URL instead of {given.name}; nothing was sent."
        )
    return given


def image_urls(adapter: Adapter, values: Sequence[Any] | Any, what: str) -> tuple[str, ...]:
    """Image arguments as Job image strings: URLs, or data: URLs for local images."""
    listed = list(values) if _seq(values) else [values]
    return tuple(image(adapter, v, what).url_or_data_url for v in listed)


def references(
    adapter: Adapter, prompt: Prompt, memo: dict[Any, ImageInput] | None = None
) -> tuple[tuple[str, ImageInput], ...]:
    """The local images after ``--sref``/``--cref``/``--oref`` in ``prompt``, read and
    checked: ``(path as written, image)`` once per path. A provider that cannot take
    them, or a path that names no readable image, is one line naming the file.
    ``memo`` keeps files already read (by path, inode, size and times), so the cells of a
    sweep read a reference once."""
    found: dict[str, ImageInput] = {}
    for name, path in local_refs(prompt):
        if path in found:
            continue
        if adapter.local_refs == "refuse":
            why = adapter.refusals.get("upload") or "it has no upload"
            raise InvalidArgument(
                f"{adapter.name} cannot take the local image after --{name} ({path}): {why}; "
                "give it as an http(s) URL instead; nothing was sent."
            )
        found[path] = reference(name, path, {} if memo is None else memo)
    return tuple(found.items())


def reference(name: str, path: str, memo: dict[Any, ImageInput]) -> ImageInput:
    """One local reference read and checked, or one line saying what to fix."""
    from pathlib import Path

    where = Path(path).expanduser()
    if not where.is_file():
        hint = "" if where.is_absolute() else f" (relative to {Path.cwd()})"
        problem = (
            "is a folder, not an image file"
            if where.is_dir()
            else "is not a regular file (a device, a pipe?)"
            if where.exists()
            else "names no file"
        )
        raise InvalidArgument(
            f"--{name} {path} {problem}{hint}: check the path, or give the image as an "
            "http(s) URL; nothing was sent."
        )
    stat = where.stat()
    # the change time too: a file replaced with its modification time kept (cp -p,
    # rsync -t, an unzip) is new, and the same size is likely for pictures of one size
    key = (str(where.absolute()), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if key not in memo:
        if len(memo) >= 16:
            memo.clear()
        memo[key] = image_input(where, name=f"--{name} {path}")
    return memo[key]


def _seq(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def end_frame(adapter: Adapter, value: Any) -> str | None:
    """A clip's optional end frame (``end=``) as a Job image string, checked."""
    return image_urls(adapter, value, "end frame")[0] if value is not None else None


def motion(value: Any) -> str:
    if value not in MOTIONS:
        raise InvalidArgument(f"motion must be 'low' or 'high', got {value!r}.")
    return str(value)


def batch(value: Any) -> int:
    if isinstance(value, bool) or value not in VIDEO_BATCHES:
        raise InvalidArgument(
            f"batch must be one of {', '.join(map(str, VIDEO_BATCHES))} clips, got {value!r}."
        )
    return int(value)


def index(value: Any, most: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise InvalidArgument(f"index must be 1 to {most} ({what}), got {value!r}.")
    return value


def is_grid(task: Task) -> bool:
    """Whether ``task``'s result is a 2x2 grid (it offers the U1-U4 upscales)."""
    return any(u in task.snapshot.wire for u in GRID_UPSCALES)


def tile(parent: Task, which: int | None, example: str) -> bool:
    """Check the tile ``which`` against what ``parent`` is, for animating it; returns whether it
    is a grid. A grid needs its tile (``example`` shows how to say it), a single image
    none."""
    grid = is_grid(parent)
    if grid and which is None:
        raise InvalidArgument(
            f"Task {parent.id} is a grid: say which tile to animate, e.g. {example} (1-4)."
        )
    if which is not None:
        index(which, 4, "the tile of the grid")
        if not grid:
            raise InvalidArgument(f"Task {parent.id} is a single image: animate it without index=.")
    return grid


def zoom(factor: Any) -> float:
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor != factor:
        raise InvalidArgument(f"zoom_out takes a number from 1.0 to 2.0, got {factor!r}.")
    if not 1.0 <= float(factor) <= 2.0:
        raise InvalidArgument(f"zoom_out factor must be from 1.0 to 2.0, got {factor:g}.")
    return float(factor)


def remix_label(adapter: Adapter, label: str) -> None:
    if label not in REMIX_ACTIONS:
        raise InvalidArgument(
            f"{label!r} takes no new prompt; remix works with: {', '.join(REMIX_ACTIONS)}."
        )
    need(adapter, "remix")


def video_prompt(text: str | None, *, fallback: str = "") -> str:
    """A video job's text: the user's prompt checked as a video prompt, else ``fallback``."""
    if text is None:
        return fallback
    if not isinstance(text, str):
        raise InvalidArgument(f"prompt must be text, got {type(text).__name__}.")
    if text.strip():
        from ..prompt import parse_prompt

        parsed = parse_prompt(text, purpose="video")  # PromptError says where
        found = local_refs(parsed)
        if found:  # never sent as written: a path is no URL, and video takes no references
            name, path = found[0]
            raise InvalidArgument(
                f"A video prompt takes no --{name} (its references are the start image and "
                f"end=): remove --{name} {path}; nothing was sent."
            )
    return text


def listed(values: Any) -> list[Any]:
    """One image argument or a list/tuple of them, as a list."""
    return list(values) if _seq(values) else [values]
