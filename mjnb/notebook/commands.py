"""How a ``%mj`` line reads: plain functions over text, tested without a shell.

The magic (:mod:`mjnb.notebook.magic`) splits a line into a command word and the rest
(:func:`split_command`), or reads it as an action on a task (:func:`parse_action`),
and reads each command's options here. Anything unreadable is an IPython
``UsageError`` of one line that says what to write instead; nothing here sends,
waits or displays.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from IPython.core.error import UsageError

from .. import config
from ..errors import MJError, PromptError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COMMANDS",
    "USAGE",
    "AnimateArgs",
    "ExtendArgs",
    "Options",
    "SweepArgs",
    "VideoArgs",
    "image_arg",
    "one_line",
    "parse_action",
    "parse_animate",
    "parse_cancel",
    "parse_extend",
    "parse_options",
    "parse_rows",
    "parse_seconds",
    "parse_seed",
    "parse_sweep_args",
    "parse_video",
    "prompt_usage_error",
    "providers_table",
    "split_command",
    "version_table",
]

#: the command words ``%mj <word> ...``; any other first word starts a prompt or an action
COMMANDS = (
    "imagine",
    "sweep",
    "plan",
    "wait",
    "cancel",
    "pending",
    "resume",
    "log",
    "describe",
    "blend",
    "animate",
    "extend",
    "video",
    "seed",
    "providers",
    "panel",
    "gallery",
    "help",
)

USAGE = """\
%mj <prompt>                    imagine; shows a live card and returns the Task
                                ({a, b} permutations in the prompt start a sweep)
%mj imagine <prompt>            the same, for prompts that start with a command word
%mj U2 | V3 | reroll | vary strong | zoom 2x | pan left | upscale creative ...
                                act on the last task; add a task id to act on another
%mj sweep <prompt> [--confirm] [--max-jobs N]
                                run every permutation ({a, b}) as a sweep
%mj plan <prompt>               how many jobs a sweep would run (sends nothing)
%mj wait [seconds]              block until every task of this kernel has ended
%mj cancel [<task_id>|all]      cancel the last task, one task, or everything running
%mj pending                     interrupted work, and what resuming would send
%mj resume [--confirm] [--max-jobs N]
                                send the cells of interrupted sweeps (says how many first)
%mj log [N] [--status S] [--provider P] [--sweep ID] [--since WHEN]
                                the task log as a DataFrame (newest N rows)
%mj describe <url|path>         four prompts for an image (a URL or a local file)
%mj blend <url|path> <url|path> ... [--dimensions square|portrait|landscape]
%mj animate low|high [<task_id>] [--index N] [--batch N] [--loop]
                                a video from the last task's image (--index: a grid's tile)
%mj extend low|high [<task_id>] [--index N]
                                extend the last clip (--index: which clip of a batch)
%mj upscale video [<task_id>]   upscale the last clip
%mj video <url|path> <prompt> [--motion low|high] [--loop] [--bs 1|2|4] [--end <url>]
                                a video from an image of your own
%mj vary region [<task_id>]     paint the region to repaint over the last image, then Submit
%mj seed [<task_id>]            the seed the job used, asked of the provider
%mj providers                   providers, their variables and whether they are set
%mj panel                       the prompt panel
%mj gallery [text]              everyone's recent results in the shared log, live
%mj help                        this text, the model versions and the prompt parameters
%%mj                            one prompt per line, submitted together
%config MJMagic                 settings (provider, strict, translate, thumbnail_size ...)
"""

_ACTION_WORDS = frozenset({"reroll", "vary", "zoom", "square", "pan", "upscale"})
_UV = re.compile(r"^[uv]\d+$", re.IGNORECASE)
_CONFIRM = re.compile(r"(?<!\S)--confirm(?!\S)")
_MAX_JOBS = re.compile(r"(?<!\S)--max-jobs(?:\s+|=)(\S+)(?!\S)")
_ALL = "all"


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines included) one space."""
    return " ".join(str(text).split())


def prompt_usage_error(exc: PromptError, where: str = "") -> UsageError:
    """A PromptError as one line, with its column when the message lacks it."""
    message = one_line(str(exc))
    if exc.column is not None and "column" not in message:
        message = f"{message} (at column {exc.column})"
    return UsageError(f"{where}{message}")


def split_command(line: str) -> tuple[str | None, str]:
    """``"wait 60"`` -> ("wait", "60"); a line that is no command -> (None, the line)."""
    text = line.strip()
    if not text:
        raise UsageError("Nothing to do: write %mj <prompt>, or see %mj help.")
    word, _, rest = text.partition(" ")
    if word.lower() in COMMANDS:
        return word.lower(), rest.strip()
    return None, text


def parse_action(text: str) -> tuple[str, str | None] | None:
    """``"U2"`` -> ("U2", None); ``"zoom 2x 3f2a"`` -> ("zoom 2x", "3f2a"); a prompt -> None.

    A line is an action when its first word is an action word and it has at most three
    words and no ``--`` parameter. Raises UsageError for an unknown action.
    """
    from ..client import normalize_label

    words = text.split()
    first = words[0].lower()
    if first not in _ACTION_WORDS and not _UV.match(first):
        return None
    if len(words) > 3 or any(w.startswith(("--", "—")) for w in words):
        return None
    for size in (2, 1):
        if len(words) - size in (0, 1) and size <= len(words):
            try:
                label = normalize_label(" ".join(words[:size]))
            except MJError:
                continue
            return label, (words[size] if len(words) > size else None)
    guess = " ".join(words[:2]) if first in _ACTION_WORDS - {"reroll", "square"} else words[0]
    try:
        normalize_label(guess)
    except MJError as exc:
        raise UsageError(
            f"{one_line(str(exc))} To imagine {text!r} as a prompt, write %mj imagine {text}."
        ) from None
    raise UsageError(f"Cannot read {text!r}: write %mj <action> [task_id], e.g. %mj U2.")


@dataclass
class Options:
    """A subcommand's words: ``--name value`` pairs and the others, in order."""

    positional: list[str] = field(default_factory=list)
    named: dict[str, str] = field(default_factory=dict)


def parse_options(rest: str, names: Sequence[str], *, command: str) -> Options:
    """``--name value`` pairs (only ``names``) and the other words, for %mj subcommands."""
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise UsageError(f"%mj {command}: {exc}.") from None
    result = Options()
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("--"):
            name, _, value = word[2:].partition("=")
            if name not in names:
                known = ", ".join(f"--{n}" for n in names)
                raise UsageError(f"%mj {command} has no option --{name}; it takes {known}.")
            if not value:
                index += 1
                if index >= len(words):
                    raise UsageError(f"%mj {command}: --{name} needs a value.")
                value = words[index]
            result.named[name] = value
        else:
            result.positional.append(word)
        index += 1
    return result


def parse_rows(options: Options) -> int | None:
    """``%mj log [N]``: the number of rows, or None for all of them."""
    if not options.positional:
        return None
    value = options.positional[0]
    if len(options.positional) > 1 or not value.isdigit():
        raise UsageError(
            f"%mj log takes a number of rows, got {' '.join(options.positional)!r} "
            "(e.g. %mj log 20 --status failed)."
        )
    return int(value)


def parse_seconds(text: str) -> float:
    """``%mj wait 60``: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise UsageError(f"%mj wait takes a number of seconds, got {text!r} (e.g. %mj wait 60).")
    return value


@dataclass(frozen=True)
class SweepArgs:
    """What ``%mj sweep`` / ``%mj resume`` were told: the prompt and the cap rule."""

    text: str
    confirm: bool
    max_jobs: int | None  # None: the max_jobs setting


def parse_sweep_args(rest: str) -> SweepArgs:
    """``--confirm`` and ``--max-jobs N`` anywhere in ``rest``; the other words are the
    prompt (``%mj sweep``) or must be nothing (``%mj resume``, checked by the caller)."""
    confirm = bool(_CONFIRM.search(rest))
    text = _CONFIRM.sub(" ", rest)
    max_jobs = None
    found = _MAX_JOBS.search(text)
    if found:
        if not found.group(1).isdigit() or int(found.group(1)) < 1:
            raise UsageError(f"--max-jobs takes a whole number of jobs, got {found.group(1)!r}.")
        max_jobs = int(found.group(1))
        text = _MAX_JOBS.sub(" ", text)
    return SweepArgs(one_line(text), confirm, max_jobs)


def parse_cancel(rest: str) -> str | None:
    """``%mj cancel [<task_id>|all]``: None (the last task), ``"all"``, or a task id."""
    words = rest.split()
    if len(words) > 1:
        raise UsageError(
            f"%mj cancel takes one task id or 'all', got {rest.strip()!r} (e.g. %mj cancel "
            f"3f2a9c). To imagine it as a prompt, write %mj imagine cancel {rest.strip()}."
        )
    if not words:
        return None
    return _ALL if words[0].lower() == _ALL else words[0]


def version_table() -> str:
    """The model versions, newest first, for ``%mj help``: per version its ``--q``
    values, what it refuses and where the sources disagree.

    A compact text rendering of :data:`mjnb.prompt.VERSIONS`, the table the parser
    checks with; :func:`mjnb.prompt.versions_markdown` renders the same data in full
    (docs/prompts.md).
    """
    from ..prompt import DEFAULT_VERSION, VERSIONS
    from ..prompt.model import format_number
    from ..prompt.params import FEATURES

    # stable: V8.2 ... V1, then niji 7 ... niji 4
    rows = sorted(list(VERSIONS.values())[::-1], key=lambda r: r.family)
    labels = [r.label + (" (default)" if r.name == DEFAULT_VERSION else "") for r in rows]
    width = max(len(label) for label in labels)
    lines = [
        "Model versions (--v N, --niji N), newest first: the --q values each takes (? no "
        "source says),",
        "✗ what it refuses before sending, ⚠ where the sources disagree (sent with a "
        "warning); in full: mjnb.prompt.versions_markdown() or docs/prompts.md.",
    ]
    for row, label in zip(rows, labels, strict=True):
        refused = [FEATURES[n][0] for n, s in row.features.items() if s.status == "no"]
        disputed = [FEATURES[n][0] for n, s in row.features.items() if s.status == "disputed"]
        quality = row.features["quality"].values
        parts = [f"--q {' '.join(format_number(q) for q in quality) if quality else '?'}"]
        if refused:
            parts.append("✗ " + ", ".join(refused))
        if disputed:
            parts.append("⚠ " + ", ".join(disputed))
        lines.append(f"  {label:<{width}}  {' · '.join(parts)}")
    return "\n".join(lines)


def providers_table() -> pd.DataFrame:
    """Every provider: whether its credentials are set (never their values), the
    environment variables it reads and the base URL it would use."""
    import pandas as pd

    from ..providers import PROVIDERS

    settings = config.settings()
    rows = []
    for name in config.PROVIDER_NAMES:
        variables = dict(config.CREDENTIAL_VARS[name])
        missing = [
            var
            for argument, var in variables.items()
            if argument in config.REQUIRED[name] and not os.environ.get(var)
        ]
        url = config.base_url_for(name, replace(settings, provider=name))
        default = getattr(PROVIDERS.get(name), "default_base_url", None)
        url_var = config.BASE_URL_VARS.get(name)
        if url_var:
            variables["base_url"] = url_var
            if url is None and not default:
                missing.append(url_var)  # a self-hosted server has no address of its own
        if missing:
            credentials = "missing " + ", ".join(missing)
        elif config.CREDENTIAL_VARS[name]:
            credentials = "set"
        else:
            credentials = "none needed"
        if url is None:
            url = default or ("embedded simulator" if name == "local" else "")
        rows.append(
            {
                "provider": name,
                "service": config.TITLES.get(name, name),
                "current": name == settings.provider,
                "credentials": credentials,
                "variables": ", ".join(variables.values()),
                "base_url": url,
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------- video, editor


def image_arg(word: str, *, command: str, cwd: str | os.PathLike[str] | None = None) -> str:
    """An image argument as the API takes it: an http(s)/data URL as written, or a local
    file's path (``~`` expanded, relative to ``cwd``), which must exist."""
    if word.startswith(("http://", "https://", "data:")):
        return word
    if "://" in word:
        raise UsageError(f"%mj {command}: {word!r} is neither an http(s) URL nor a file.")
    path = os.path.expanduser(word)
    if cwd is not None and not os.path.isabs(path):
        path = os.path.join(cwd, path)
    if not os.path.isfile(path):
        raise UsageError(f"%mj {command}: there is no file {word!r} (give a URL or a path).")
    return path


def _motion(words: list[str], command: str) -> str:
    from ..vocab import MOTIONS

    if not words or words[0].lower() not in MOTIONS:
        got = f", got {words[0]!r}" if words else ""
        raise UsageError(
            f"%mj {command} takes the motion first: low or high{got} (e.g. %mj {command} high)."
        )
    return words.pop(0).lower()


def _task_id(words: list[str], command: str) -> str | None:
    if len(words) > 1:
        raise UsageError(f"%mj {command} takes at most one task id, got {' '.join(words)!r}.")
    return words[0] if words else None


def _positive(value: str, name: str, command: str, allowed: Sequence[int] | None = None) -> int:
    if not value.isdigit() or int(value) < 1 or (allowed and int(value) not in allowed):
        what = " or ".join(str(n) for n in allowed) if allowed else "a whole number from 1"
        raise UsageError(f"%mj {command}: --{name} takes {what}, got {value!r}.")
    return int(value)


@dataclass(frozen=True)
class AnimateArgs:
    """``%mj animate low|high [<id>] [--index N] [--batch N] [--loop]``."""

    motion: str
    task_id: str | None = None
    index: int | None = None
    batch: int = 1
    loop: bool = False


def parse_animate(rest: str) -> AnimateArgs:
    """``"high 3f2a --index 2 --batch 2 --loop"`` -> AnimateArgs("high", "3f2a", 2, 2, True)."""
    from ..vocab import VIDEO_BATCHES

    loop = bool(re.search(r"(?<!\S)--loop(?!\S)", rest))
    rest = re.sub(r"(?<!\S)--loop(?!\S)", " ", rest)
    options = parse_options(rest, ("index", "batch"), command="animate")
    words = list(options.positional)
    motion = _motion(words, "animate")
    index = options.named.get("index")
    batch = options.named.get("batch")
    return AnimateArgs(
        motion,
        _task_id(words, "animate"),
        None if index is None else _positive(index, "index", "animate", (1, 2, 3, 4)),
        1 if batch is None else _positive(batch, "batch", "animate", VIDEO_BATCHES),
        loop,
    )


@dataclass(frozen=True)
class ExtendArgs:
    """``%mj extend low|high [<id>] [--index N]``."""

    motion: str
    task_id: str | None = None
    index: int | None = None


def parse_extend(rest: str) -> ExtendArgs:
    """``"low"`` -> ExtendArgs("low"); ``"high 3f2a --index 2"`` -> its clip 2."""
    options = parse_options(rest, ("index",), command="extend")
    words = list(options.positional)
    motion = _motion(words, "extend")
    index = options.named.get("index")
    return ExtendArgs(
        motion,
        _task_id(words, "extend"),
        None if index is None else _positive(index, "index", "extend", (1, 2, 3, 4)),
    )


@dataclass(frozen=True)
class VideoArgs:
    """``%mj video <image> <prompt> --motion high ...``: what ``mj.animate`` takes."""

    image: str
    prompt: str
    motion: str = "low"
    loop: bool = False
    batch: int = 1
    end: str | None = None
    raw: bool = False


def parse_video(rest: str, *, cwd: str | os.PathLike[str] | None = None) -> VideoArgs:
    """The start image (URL or path), then a video prompt; its --motion, --loop,
    --bs, --end and --raw become arguments and the rest stays the prompt."""
    from ..prompt import parse_prompt

    text = rest.strip()
    if not text:
        raise UsageError(
            "Write the start image and a prompt after %mj video, e.g. "
            "%mj video ./start.png waves roll in --motion high."
        )
    try:
        first = shlex.split(text)[0]
    except ValueError as exc:
        raise UsageError(f"%mj video: {exc}.") from None
    image = image_arg(first, command="video", cwd=cwd)
    words = text.split(None, 1)
    if text.startswith(("'", '"')):  # a quoted path: drop exactly the quoted word
        quote = text[0]
        words = [text[: text.index(quote, 1) + 1], text[text.index(quote, 1) + 1 :]]
    prompt_text = words[1].strip() if len(words) > 1 else ""
    try:
        prompt = parse_prompt(prompt_text, purpose="video")
    except PromptError as exc:
        raise prompt_usage_error(exc, "%mj video: ") from None
    params = prompt.params
    end = params.get("end")
    if isinstance(end, str):
        end = image_arg(end, command="video", cwd=cwd)
    rest_prompt = prompt.with_params(motion=None, loop=False, bs=None, end=None, raw=False)
    return VideoArgs(
        image=image,
        prompt=str(rest_prompt),
        motion=str(params.get("motion", "low")),
        loop=bool(params.get("loop", False)),
        batch=int(params.get("bs", 1)),
        end=end if isinstance(end, str) else None,
        raw=bool(params.get("raw", False)),
    )


def parse_seed(rest: str) -> str | None:
    """``%mj seed [<task_id>]``: None (the last task) or a task id."""
    return _task_id(rest.split(), "seed")
