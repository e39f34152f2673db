"""The Midjourney prompt language: parse, validate, print and expand prompts.

    >>> p = parse_prompt("http://x/a.png a fox::2 cat --ar 16:9 --s 250 --no red")
    >>> p.images, p.text, p.params
    (['http://x/a.png'], 'a fox::2 cat', {'ar': '16:9', 'stylize': 250, 'no': ['red']})
    >>> str(p)
    'http://x/a.png a fox::2 cat --ar 16:9 --stylize 250 --no red'

A prompt is image URLs, then text, then parameters (``--name value``), in that order.
:func:`parse_prompt` checks everything Midjourney would check before a job is sent:
names, aliases, values and their ranges, what the version asked for takes, duplicates,
text after parameters, multi-prompt weights. Anything certainly wrong raises
:class:`~mjnb.errors.PromptError` (and nothing else, whatever the string) with a
full-sentence message and the 1-based ``column`` where the problem starts; anything
the sources disagree about is sent with a :class:`PromptWarning`.
Parameters come last: only ``--no`` (a comma list), ``--sref``/``--cref`` (several
references) and ``--p`` (several codes) take more than one word. The forms Chinese
input methods type (``——ar 16：9``, ``red，blue``, ``２５０``) read as ASCII, and
``str(prompt)`` prints canonical ASCII.

Values in ``Prompt.params`` (keys are the long names of :data:`PARAMETERS` and
:data:`VIDEO_PARAMETERS`):

- numbers are ``int`` when whole and ``float`` otherwise (``--q .5`` -> ``0.5``);
- ``ar`` is the string ``"W:H"``; ``version`` and ``niji`` are strings (``"6.1"``,
  ``"6"``; ``--v 6.0`` is ``"6"``) so 6 and 6.0 never differ; a bare ``--niji`` is
  ``True`` (the current niji model);
- switches (``--tile``, ``--hd`` ...) are ``True``; ``--raw`` is ``style="raw"`` in an
  image prompt and ``raw=True`` in a video prompt;
- ``no`` is a list of strings (``--no red, blue cars`` -> ``["red", "blue cars"]``);
  ``sref``/``cref`` are lists of URLs or codes (which may carry ``::weight``);
  ``p`` is a list of profile codes, or ``True`` when given bare;
- video prompts (``purpose="video"``): ``motion`` ``"low"``/``"high"``, ``loop``
  ``True`` (also from ``--end loop``), ``end`` a URL, ``bs`` 1, 2 or 4, ``video`` True.

What each version takes is the table :data:`VERSIONS` (one :class:`VersionRules` per
version, read with :func:`version_rules`); :func:`versions_markdown` renders it for
the docs and ``%mj help``.

Permutations: ``{a, b}`` anywhere multiplies the prompt (see
:mod:`mjnb.prompt.permutations`). The returned prompt's ``str()`` keeps the braces
(its ``template``); its ``images`` and ``text`` are those of the template as written
(braces included), its ``params`` those every expansion shares. ``expand()`` lists the
concrete prompts, each with ``choices`` naming the value each axis took.
"""

from __future__ import annotations

from ..errors import PromptError  # the simulator shares the prompt language, errors included
from .model import Prompt
from .params import (
    CURRENT_VERSIONS,
    DEFAULT_VERSION,
    NEWEST_VERSION,
    PARAMETERS,
    VERSIONS,
    VIDEO_PARAMETERS,
    ParamSpec,
    Support,
    VersionRules,
)  # fmt: skip
from .parse import parse_prompt
from .permutations import MAX_PERMUTATIONS
from .rules import PromptWarning, version_rules
from .table import versions_markdown

__all__ = [
    "CURRENT_VERSIONS",
    "DEFAULT_VERSION",
    "MAX_PERMUTATIONS",
    "NEWEST_VERSION",
    "PARAMETERS",
    "VERSIONS",
    "VIDEO_PARAMETERS",
    "ParamSpec",
    "Prompt",
    "PromptError",
    "PromptWarning",
    "Support",
    "VersionRules",
    "parse_prompt",
    "version_rules",
    "versions_markdown",
]
