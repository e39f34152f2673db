"""Permutation prompts: ``{a, b}`` groups anywhere, expanded into concrete prompts.

``{a, b}`` may stand in the text, in a parameter's value or for a whole parameter
(``--{v 6, niji 6}``); groups nest and several groups multiply, the first group varying
slowest; ``\\,`` is a literal comma inside a group. Every expansion is validated by the
flat reader. Each top-level group becomes a named axis (its parameter, ``text``,
``model``, ``image`` ...), which sweeps and the task log use.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mjnb.errors import PromptError

from .fold import DASHES
from .model import Prompt, Purpose, format_param, ordered
from .params import ALIASES, VIDEO_ALIASES
from .parse import is_image_url, is_marker, parse_flat

#: The most prompts one permutation prompt may expand to (Midjourney's own cap is 40).
MAX_PERMUTATIONS = 1000
#: The deepest nesting of permutation groups accepted.
MAX_NESTING = 8

_WORD = re.compile(r"\S+")
_DASHES = DASHES
_MARKER_WORD = re.compile(r"(?<!\S)(?:--|-?[—–－]{1,2}-?)([A-Za-z]+)(?!\S)")
_ALIASES = VIDEO_ALIASES


@dataclass
class _Lit:
    """Literal text; ``raw`` as written (escapes kept), ``pos`` each char's source index."""

    text: str
    raw: str
    pos: list[int]


@dataclass
class _Group:
    start: int
    alts: list[list[_Lit | _Group]]


@dataclass
class _Frag:
    """One expansion of a group: text and the source index of each character."""

    text: str
    pos: list[int]

    def stripped(self) -> _Frag:
        left = len(self.text) - len(self.text.lstrip())
        right = len(self.text.rstrip())
        return _Frag(self.text[left:right], self.pos[left:right])


Seq = list[_Lit | _Group]


def _parse_tree(source: str) -> Seq:
    root: Seq = []
    current = root
    stack: list[tuple[_Group, Seq]] = []
    text: list[str] = []
    raw: list[str] = []
    pos: list[int] = []

    def flush() -> None:
        if raw:
            current.append(_Lit("".join(text), "".join(raw), list(pos)))
            text.clear()
            raw.clear()
            pos.clear()

    index, length = 0, len(source)
    while index < length:
        char = source[index]
        if char == "\\" and stack and source[index + 1 : index + 2] == ",":
            text.append(",")
            raw.append("\\,")
            pos.append(index + 1)
            index += 2
            continue
        if char == "{":
            flush()
            if len(stack) >= MAX_NESTING:
                raise PromptError(
                    f"Permutation groups nest more than {MAX_NESTING} deep at column "
                    f"{index + 1}; simplify the prompt.",
                    column=index + 1,
                )
            group = _Group(index, [[]])
            current.append(group)
            stack.append((group, current))
            current = group.alts[-1]
        elif char == "}":
            if not stack:
                raise PromptError(
                    f"Unbalanced brace: '}}' at column {index + 1} closes no '{{'; remove it or "
                    "add the matching '{' (permutations look like {a, b}).",
                    column=index + 1,
                )
            flush()
            group, current = stack.pop()
            if all(not _WORD.search(_render(alt, top=False)) for alt in group.alts):
                raise PromptError(
                    f"The permutation group at column {group.start + 1} has no options; put "
                    "them inside, e.g. {red, blue}, or remove the braces.",
                    column=group.start + 1,
                )
        elif char == "," and stack:
            flush()
            group = stack[-1][0]
            group.alts.append([])
            current = group.alts[-1]
        else:
            text.append(char)
            raw.append(char)
            pos.append(index)
        index += 1
    if stack:
        start = stack[-1][0].start + 1
        raise PromptError(
            f"Unbalanced brace: '{{' at column {start} is never closed; add the matching '}}' "
            "(permutations look like {a, b}).",
            column=start,
        )
    flush()
    return root


def _count(seq: Seq) -> int:
    return math.prod(
        sum(_count(alt) for alt in piece.alts) for piece in seq if isinstance(piece, _Group)
    )


def _seq_frags(seq: Seq) -> list[_Frag]:
    """Every expansion of a sequence, first group varying slowest."""
    result = [_Frag("", [])]
    for piece in seq:
        if isinstance(piece, _Lit):
            result = [_Frag(f.text + piece.text, f.pos + piece.pos) for f in result]
        else:
            options = _group_frags(piece)
            result = [_Frag(f.text + o.text, f.pos + o.pos) for f in result for o in options]
    return result


def _group_frags(group: _Group) -> list[_Frag]:
    return [frag.stripped() for alt in group.alts for frag in _seq_frags(alt)]


def _collapse(text: str) -> str:
    return " ".join(_WORD.findall(text))


def _render(seq: Seq, *, top: bool, video: bool = False) -> str:
    """Canonical text of a sequence: groups as ``{a, b}``, alias spellings normalised."""
    out: list[str] = []
    last = len(seq) - 1
    for index, piece in enumerate(seq):
        if isinstance(piece, _Lit):
            out.append(
                _normalize_markers(piece.raw, index == 0, index == last, video)
                if top
                else piece.raw
            )
        else:
            out.append(
                "{" + ", ".join(_collapse(_render(alt, top=False)) for alt in piece.alts) + "}"
            )
    return "".join(out)


def _normalize_markers(raw: str, first: bool, last: bool, video: bool) -> str:
    """``--s`` -> ``--stylize`` etc. where the word is certainly a whole parameter token."""

    def replace_one(match: re.Match[str]) -> str:
        if (match.start() == 0 and not first) or (match.end() == len(raw) and not last):
            return match.group()
        written = match.group(1).lower()
        name = (VIDEO_ALIASES if video else ALIASES).get(written)
        if name is None:
            return match.group()
        return "--style raw" if name == "style" and written == "raw" else f"--{name}"

    return _MARKER_WORD.sub(replace_one, raw)


def expand(
    source: str, *, strict: bool = True, purpose: Purpose = "image"
) -> tuple[str, dict[str, list[str]], list[Prompt], list[str]]:
    """Template text, axes, validated expansions and the notes of a permutation prompt."""
    root = _parse_tree(source)
    total = _count(root)
    if total > MAX_PERMUTATIONS:
        raise PromptError(
            f"This prompt expands to {total} prompts; mjnb accepts at most "
            f"{MAX_PERMUTATIONS} (Midjourney itself runs at most 40); use fewer options.",
        )
    groups = [piece for piece in root if isinstance(piece, _Group)]
    options = [_group_frags(group) for group in groups]
    names = _axis_names(root, options)
    axes = {
        name: [_collapse(frag.text) for frag in opts]
        for name, opts in zip(names, options, strict=True)
    }
    prompts: list[Prompt] = []
    notes: list[str] = []
    for number, combo in enumerate(itertools.product(*(range(len(o)) for o in options)), 1):
        chosen = iter(options[g][i] for g, i in enumerate(combo))
        parts: list[str] = []
        posmap: list[int] = []
        for piece in root:
            frag = piece if isinstance(piece, _Lit) else next(chosen)
            parts.append(frag.text)
            posmap.extend(frag.pos)
        concrete = "".join(parts)
        choices = {name: axes[name][i] for name, i in zip(names, combo, strict=True)}
        try:
            images, text, params = parse_flat(
                concrete, posmap, strict=strict, purpose=purpose, notes=notes
            )
        except PromptError as exc:
            picked = ", ".join(f"{name} = {value!r}" for name, value in choices.items())
            raise PromptError(
                f"{exc} This is permutation {number} of {total} ({picked}).", column=exc.column
            ) from None
        prompts.append(
            Prompt(images, text, params, choices, source=_collapse(concrete), purpose=purpose)
        )
    template = _collapse(_render(root, top=True, video=purpose == "video"))
    return template, axes, prompts, notes


def _classify(names: set[str]) -> str:
    if names and names <= {"version", "niji"}:
        return "model"
    if len(names) == 1:
        return next(iter(names))
    return "params"


def _param_names_in(text: str) -> set[str]:
    names = set()
    for word in _WORD.findall(text):
        mark = _DASHES.match(word)
        if mark and is_marker(word):
            names.add(_ALIASES.get(word[mark.end() :].lower(), "?"))
    return names


def _axis_names(root: Seq, options: list[list[_Frag]]) -> list[str]:
    """Name each top-level group: its parameter, ``text``, ``model``, ``params`` ..."""
    offsets: dict[int, int] = {}
    pieces: list[str] = []
    length = 0
    for piece in root:
        if isinstance(piece, _Lit):
            pieces.append(piece.text)
            length += len(piece.text)
        else:
            offsets[length] = len(offsets)
            pieces.append("\x00")
            length += 1
    skeleton = "".join(pieces)
    names = [""] * len(offsets)
    phase = "images"
    current = "params"
    for match in _WORD.finditer(skeleton):
        word, start = match.group(), match.start()
        inside = [(o - start, offsets[o]) for o in range(start, match.end()) if o in offsets]
        if phase == "images":
            if is_image_url(word):
                for _, g in inside:
                    names[g] = "image"
                continue
            phase = "text"
        dashes = _DASHES.match(word)
        after = dashes.end() if dashes else 0
        is_marker = (
            dashes is not None
            and after < len(word)
            and (("a" <= word[after].lower() <= "z") or any(o == after for o, _ in inside))
        )
        if is_marker:
            phase = "params"
            if inside:
                for offset, g in inside:
                    prefix = word[after:offset]
                    found = set()
                    for frag in options[g]:
                        head = re.match(r"[A-Za-z]*", (prefix + frag.text).strip())
                        found.add(_ALIASES.get(head.group().lower(), "?") if head else "?")
                    names[g] = _classify(found)
                current = "params"
            else:
                current = _ALIASES.get(word[after:].lower(), "params")
            continue
        for _, g in inside:
            if phase == "params":
                names[g] = current
                continue
            found = set().union(*(_param_names_in(frag.text) for frag in options[g]))
            if found:
                names[g] = _classify(found)
            elif all(is_image_url(f.text) for f in options[g] if f.text):
                names[g] = "image"
            else:
                names[g] = "text"
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}{seen[name]}")
    return unique


def _top_tokens(template: str) -> list[str]:
    """Whitespace-separated words of a template, a brace group counting as part of one."""
    tokens: list[str] = []
    depth = 0
    current: list[str] = []
    for char in template:
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(0, depth - 1)
        if char.isspace() and depth == 0:
            if current:
                tokens.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        tokens.append("".join(current))
    return tokens


def _is_param_token(word: str) -> bool:
    dashes = _DASHES.match(word)
    return (
        dashes is not None
        and dashes.end() < len(word)
        and (word[dashes.end()] == "{" or is_marker(word))
    )


def template_head(template: str) -> tuple[list[str], str]:
    """The leading image URLs and the text of a template, as written."""
    tokens = _top_tokens(template)
    index = 0
    images = []
    while index < len(tokens) and "{" not in tokens[index] and is_image_url(tokens[index]):
        images.append(tokens[index])
        index += 1
    text = []
    while index < len(tokens) and not _is_param_token(tokens[index]):
        text.append(tokens[index])
        index += 1
    return images, " ".join(text)


def replace_template_params(template: str, changes: Mapping[str, Any]) -> str:
    """A permutation template with top-level parameters replaced (for with_params)."""
    tokens = _top_tokens(template)
    kept: list[str] = []
    dropping = False
    for word in tokens:
        if _is_param_token(word):
            dashes = _DASHES.match(word)
            assert dashes is not None
            name = word[dashes.end() :]
            if "{" in name:
                if {"version", "niji"} & set(changes):
                    raise PromptError(
                        f"This prompt varies the model with {word}; change the version inside "
                        "the braces instead of with with_params."
                    )
                dropping = False
            else:
                dropping = _ALIASES.get(name.lower()) in changes
        if not dropping:
            kept.append(word)
    added = [format_param(name, value) for name, value in ordered(changes)]
    return " ".join([*kept, *(part for part in added if part)])
