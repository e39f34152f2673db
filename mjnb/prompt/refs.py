"""Images of your own after ``--sref``, ``--cref`` and ``--oref``: local references.

    >>> p = parse_prompt("a fox --sref ./style.png::2 1234567 --v 7")
    >>> local_refs(p)
    [('sref', './style.png')]
    >>> str(with_urls(p, {"./style.png": "https://cdn.example/s.png"}))
    'a fox --sref https://cdn.example/s.png::2 1234567 --version 7'

Midjourney takes URLs (and style codes) there; mjnb also takes the path of an image on
this machine, and sends it the way the provider can: uploaded first, its URL then in
the path's place in the prompt sent, or refused in one line before anything is sent.
The path stays in the prompt's text (``str(prompt)`` round-trips, the log keeps it).

A reference is local when it is no URL, no style code and no ``random``, but names an
image file: it ends in an image extension, holds a path separator, or starts with
``~`` or ``.``. Paths with spaces cannot be written in a prompt (a space ends the word).
Pure functions: nothing here reads a file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from .model import Prompt

__all__ = ["IMAGE_EXTENSIONS", "REF_PARAMS", "is_local_ref", "local_refs", "split_weight"]

#: the parameters whose values are image references
REF_PARAMS = ("sref", "cref", "oref")
#: the file name endings that make a word an image path
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif")
_WEIGHT = re.compile(r"::[+-]?(?:\d+(?:\.\d*)?|\.\d+)$", re.ASCII)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")  # C:\x.png is a path, not a scheme


def split_weight(item: str) -> tuple[str, str]:
    """``"./a.png::2"`` -> ``("./a.png", "::2")``; an item without a weight keeps ``""``."""
    match = _WEIGHT.search(item)
    return (item[: match.start()], match.group()) if match else (item, "")


def is_local_ref(word: str) -> bool:
    """True when ``word`` (a reference, without its weight) names a local image file."""
    if not word or (_SCHEME.match(word) and not _DRIVE.match(word)):
        return False  # a URL (http:, data:, file: ...) is never a local path
    if (word.isascii() and word.isdigit()) or word.lower() == "random":
        return False  # a style code
    return (
        word.lower().endswith(IMAGE_EXTENSIONS)
        or "/" in word
        or "\\" in word
        or word.startswith(("~", "."))
    )


def local_refs(prompt: Prompt) -> list[tuple[str, str]]:
    """``(parameter, path)`` of each local reference of ``prompt``, in prompt order."""
    found: list[tuple[str, str]] = []
    for name in REF_PARAMS:
        value = prompt.params.get(name)
        items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
        for item in items:
            path = split_weight(str(item))[0]
            if is_local_ref(path):
                found.append((name, path))
    return found


def with_urls(prompt: Prompt, urls: Mapping[str, str]) -> Prompt:
    """``prompt`` with each local reference named in ``urls`` replaced by its URL
    (weights kept): the prompt as it is sent once its references are uploaded."""
    params = dict(prompt.params)
    for name in REF_PARAMS:
        value = params.get(name)
        if isinstance(value, list):
            params[name] = [_swap(str(item), urls) for item in value]
        elif isinstance(value, str):
            params[name] = _swap(value, urls)
    swapped = replace(prompt, params=params, template=None)
    return replace(swapped, source=str(swapped))


def _swap(item: str, urls: Mapping[str, str]) -> str:
    path, weight = split_weight(item)
    return urls[path] + weight if path in urls else item
