"""The forms Chinese input methods type, read as their ASCII equivalents.

Chinese IMEs (and phone autocorrect) produce full-width or typographic forms:
``——ar 16：9``, ``red，blue``, ``２５０``, ``０。5``, an ideographic space. They are
read as ASCII in the parameter tail, in ``::`` weights and inside ``{}``; the prompt
text itself is left as typed (Chinese text is valid). Every fold here maps one
character to one character, so columns in messages still point into what was typed.
"""

from __future__ import annotations

import re
from collections.abc import Container

#: ``--`` and the dash forms IMEs and phones type instead (em, en, full-width hyphen).
DASHES = re.compile(r"--|-?[—–－]{1,2}-?")
# ！..～ -> !..~, but the full-width hyphen stays: it is a dash form of "--" (DASHES)
_FULL = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F) if code != 0xFF0D}
_TABLE = {**_FULL, 0x3000: 0x20, 0x3001: 0x2C}  # ideographic space, 、 -> ","
_NUMERIC_STOP = re.compile(r"(?<=[0-9０-９])。(?=[0-9０-９])")
_WEIGHT = re.compile(r"[:：]{2}[-－+＋]?[0-9０-９.．]*(?:。[0-9０-９]+)?")
_WORDS = re.compile(r"\S+")
_BRACES = str.maketrans({"｛": "{", "｝": "}"})


def fold(text: str) -> str:
    """Full-width ASCII forms, ``、`` and ideographic spaces as ASCII; ``。`` between digits
    as ``.``. Length is kept."""
    return _NUMERIC_STOP.sub(".", text).translate(_TABLE)


def is_letter(char: str) -> bool:
    """An ASCII letter, or its full-width form (``ａ`` .. ``Ｚ``)."""
    return ("a" <= fold(char).lower() <= "z") if char else False


def fold_weights(text: str) -> str:
    """``cat：：２`` -> ``cat::2`` in prompt text; everything else untouched."""
    if "：" not in text and not any("０" <= c <= "９" or c == "．" for c in text):
        return text
    return _WEIGHT.sub(lambda match: fold(match.group()).replace("－", "-"), text)


def marker_end(word: str, names: Container[str]) -> int | None:
    """Where the name starts if ``word`` is a parameter (``--ar``, ``——ar``, ``－ar``,
    ``--ａｒ``), else None. ``--`` + a letter always is (an unknown name is then an
    error); a typed dash form only before a known name, so ``a poster —Bauhaus style``
    stays text."""
    match = DASHES.match(word)
    if not match or match.end() >= len(word):
        return None
    end = match.end()
    if word[end] == "{":
        return end
    if not is_letter(word[end]):
        return None
    if match.group() == "--" or fold(word[end:]).lower() in names:
        return end
    return None


def fold_source(source: str, names: Container[str]) -> str:
    """The source with every IME form read as ASCII where it is syntax: braces, weights
    in the text, and the whole parameter tail (from the first parameter on)."""
    source = fold_braces(source)
    tail = len(source)
    for match in _WORDS.finditer(source):
        word = match.group().lstrip("{,")
        if marker_end(word, names) is not None:
            tail = match.end() - len(word)
            break
    return fold_weights(source[:tail]) + fold(source[tail:])


def fold_braces(source: str) -> str:
    """``｛a，b｝`` -> ``{a,b}``: full-width braces, and ``，``/``、`` inside any brace group."""
    source = source.translate(_BRACES)
    if "，" not in source and "、" not in source:
        return source
    out, depth = [], 0
    for char in source:
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(0, depth - 1)
        out.append("," if depth and char in "，、" else char)
    return "".join(out)
