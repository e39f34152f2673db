"""Reading a prompt: :func:`parse_prompt`, and the reader of one prompt without braces.

Reading checks what does not depend on the version (names, values and their widest
ranges, duplicates, text after parameters, weights); :mod:`mjnb.prompt.rules` then
checks the version. Every problem is a PromptError naming the column; every doubt a
note, issued once as a :class:`~mjnb.prompt.rules.PromptWarning` by
:func:`parse_prompt`.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace

from mjnb.errors import PromptError

from .fold import fold_source, marker_end
from .model import Prompt, Purpose, format_number
from .params import MARKER_NAMES
from .read import Reader, shorten
from .rules import Params, PromptWarning, Seen, check_versions, check_video

_IMAGE_EXTENSIONS = (".png", ".gif", ".webp", ".jpg", ".jpeg")
_WORD = re.compile(r"\S+")
_LONE_DASHES = re.compile(r"-{2,}|-*[—–]-+|-+[—–]-*")
_WEIGHT = re.compile(r"::(-?(?:\d+(?:\.\d*)?|\.\d+))?", re.ASCII)

ColumnOf = Callable[[int], int]


def parse_prompt(
    source: str, *, strict: bool = True, purpose: Purpose = "image", warn: bool = True
) -> Prompt:
    """Parse and validate a Midjourney prompt; raise PromptError if Midjourney would refuse it.

    ``strict=False`` keeps an unknown ``--parameter`` (in ``params`` and ``str()``) with
    a PromptWarning instead of refusing it: the escape hatch for a parameter newer than
    mjnb. ``purpose="video"`` reads a video prompt (the text of an animate job):
    ``--motion``, ``--raw``, ``--loop``, ``--end``, ``--bs``, ``--video`` are its
    parameters, text may be empty, and image parameters only warn. A permutation
    prompt (``{a, b}``) is validated in every expansion; the Prompt returned keeps the
    braces (see the package docstring for what its fields hold).

    Doubts (disputed parameters, newer versions) are PromptWarnings and are kept in
    ``Prompt.warnings``; ``warn=False`` only keeps them there (the simulator reads its
    clients' prompts without warning the user of a kernel it shares a process with).
    """
    if not isinstance(source, str):
        raise TypeError(f"parse_prompt() takes a str, not {type(source).__name__}.")
    if purpose not in ("image", "video"):
        raise PromptError(f"purpose must be 'image' or 'video', got {purpose!r}.")
    canon = fold_source(source, MARKER_NAMES)
    if "{" not in canon and "}" not in canon:
        notes: list[str] = []
        images, text, params = parse_flat(canon, None, strict=strict, purpose=purpose, notes=notes)
        prompt = Prompt(images, text, params, source=source, purpose=purpose)
    else:
        from .permutations import expand, template_head

        template, axes, prompts, notes = expand(canon, strict=strict, purpose=purpose)
        images, text = template_head(template)
        first = prompts[0].params
        common = {
            key: value
            for key, value in first.items()
            if all(key in other.params and other.params[key] == value for other in prompts[1:])
        }
        prompt = Prompt(images, text, common, source=source, template=template, purpose=purpose)
        object.__setattr__(prompt, "_cached_expansion", (axes, prompts))
    if notes:
        unique = tuple(dict.fromkeys(notes))
        for note in unique if warn else ():
            warnings.warn(note, PromptWarning, stacklevel=2)
        prompt = replace(prompt, warnings=unique)
        if prompt.template is not None:
            object.__setattr__(prompt, "_cached_expansion", (axes, prompts))
    return prompt


# --------------------------------------------------------------------------- one prompt


def is_image_url(token: str) -> bool:
    lower = token.lower()
    if lower.startswith("https://"):
        rest = lower[8:]
    elif lower.startswith("http://"):
        rest = lower[7:]
    else:
        return False
    base = re.split(r"[?#]", rest, maxsplit=1)[0]
    return "/" in base and base.endswith(_IMAGE_EXTENSIONS)


def is_marker(word: str) -> bool:
    """True when ``word`` starts a parameter (``--ar``, ``—ar``, ``--{v 6, niji 6}``)."""
    return marker_end(word, MARKER_NAMES) is not None


def parse_flat(
    source: str, posmap: Sequence[int] | None, *, strict: bool = True,
    purpose: Purpose = "image", notes: list[str] | None = None,
) -> tuple[list[str], str, Params]:  # fmt: skip
    """Parse a folded prompt without braces. ``posmap`` maps indexes to the original's."""
    notes = [] if notes is None else notes

    def column(index: int) -> int:
        if posmap is None:
            return index + 1
        if index < len(posmap):
            return posmap[index] + 1
        return (posmap[-1] + 2) if posmap else 1

    tokens = [(m.start(), m.group()) for m in _WORD.finditer(source)]
    if not tokens and purpose == "video":
        return [], "", {}
    if not tokens:
        raise PromptError(
            "The prompt is empty; write what the image should show, then any parameters "
            "(e.g. 'a red fox in snow --ar 3:2')."
        )
    count = len(tokens)
    index = 0
    images: list[str] = []
    while index < count and is_image_url(tokens[index][1]):
        images.append(tokens[index][1])
        index += 1
    text_start = index
    while index < count and not is_marker(tokens[index][1]):
        _check_not_lone_dashes(tokens[index], column)
        index += 1
    text_tokens = tokens[text_start:index]
    params: Params = {}
    seen: dict[str, Seen] = {}
    reader = Reader(params, seen, column, strict, purpose, notes)
    while index < count:
        position, token = tokens[index]
        end = index + 1
        while end < count and not is_marker(tokens[end][1]):
            _check_not_lone_dashes(tokens[end], column)
            end += 1
        reader.read(token, column(position), tokens[index + 1 : end])
        index = end
    text = " ".join(token for _, token in text_tokens)
    weights_at = None
    if "::" in text:
        weights_at = _check_weights(text_tokens, column)
    if purpose == "video":
        check_video(params, seen)
        return images, text, params
    check_versions(params, seen, text, weights_at, notes)
    if not text and len(images) < 2:
        if images:
            raise PromptError(
                "A prompt with one image URL needs text after the image, or a second image "
                "URL for an image-only prompt (image at column "
                f"{column(tokens[0][0])}).",
                column=column(tokens[0][0]),
            )
        raise PromptError(
            "The prompt has parameters but no text; write what the image should show before "
            f"the first parameter ({tokens[0][1]} at column {column(tokens[0][0])}), or "
            "start with two or more image URLs.",
            column=column(tokens[0][0]),
        )
    return images, text, params


def _check_not_lone_dashes(token: tuple[int, str], column: ColumnOf) -> None:
    position, word = token
    if _LONE_DASHES.fullmatch(word):
        raise PromptError(
            f"'{shorten(word)}' at column {column(position)} has no parameter name after it; "
            "write the name right after the dashes (e.g. --ar 16:9) or remove them.",
            column=column(position),
        )


def _check_weights(tokens: Sequence[tuple[int, str]], column: ColumnOf) -> int | None:
    """Multi-prompt weights (``space::2 ship``) must add up to more than zero; returns
    the column of the first ``::``."""
    total = 0.0
    first: int | None = None
    first_negative: int | None = None
    trailing = False  # text after the last "::" (and its weight) weighs 1
    for position, word in tokens:
        last_end = 0
        for match in _WEIGHT.finditer(word):
            first = first or column(position + match.start())
            weight = float(match.group(1)) if match.group(1) else 1.0
            if weight < 0 and first_negative is None:
                first_negative = column(position + match.start())
            total += weight
            last_end = match.end()
            trailing = False
        if last_end < len(word):
            trailing = True
    if trailing:
        total += 1.0
    if total <= 0 or not math.isfinite(total):
        shown = format_number(round(total, 6)) if math.isfinite(total) else str(total)
        where = f" (first negative weight at column {first_negative})" if first_negative else ""
        raise PromptError(
            f"Multi-prompt weights must add up to more than 0, but here they add up to "
            f"{shown}{where}; raise a weight or drop a negative one.",
            column=first_negative,
        )
    return first
