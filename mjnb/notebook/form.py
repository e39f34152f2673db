"""What the panel's form holds and the prompt it sends: plain data and functions,
tested without widgets.

    >>> build_prompt(Form(text="a red fox", version="8.1", hd=True))   # after the merge
    'a red fox --version 8.1 --hd'
    >>> form_from_prompt("a fox --ar 3:2 --s 250")                   # a prompt back
    Form(text='a fox', ar='3:2', stylize=250, ...)

:class:`Form` is what the controls hold, :func:`build_prompt` the text Submit sends
(validated by the parser ``%mj`` uses), :func:`form_from_prompt` the way back (the
history's Load). :func:`disabled_controls` says which controls the chosen model does
not take (from :func:`mjnb.prompt.version_rules`), so the panel greys them out and the
form never writes them. :func:`prompt_warnings` collects the PromptWarnings of a parse
so the panel (and ``%mj``) can show each as one line.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .. import config
from ..errors import MJError, PromptError
from ..prompt import (
    CURRENT_VERSIONS,
    PARAMETERS,
    Prompt,
    PromptWarning,
    parse_prompt,
    version_rules,
)
from ..prompt.params import FEATURES
from ..vocab import MODES

__all__ = [
    "AR_PRESETS",
    "SPEEDS",
    "SWEEP_AXES",
    "VERSIONS",
    "Form",
    "build_prompt",
    "compose_prompt",
    "disabled_controls",
    "form_from_prompt",
    "prompt_warnings",
    "provider_label",
    "provider_status",
    "slider_default",
]

#: model menu: label -> what it sets (None: leave the model to the prompt / Midjourney)
VERSIONS: Mapping[str, str | None] = {
    "default": None,
    "v8.2": "8.2",
    "v8.1": "8.1",
    "v7": "7",
    "v6.1": "6.1",
    "niji 7": "niji 7",
    "niji 6": "niji 6",
}
#: the parameters the version table rules on (``version_rules(v).takes(name)``)
_RULED = tuple(name for name in FEATURES if name in PARAMETERS)
AR_PRESETS = ("1:1", "4:3", "3:4", "3:2", "2:3", "16:9", "9:16", "21:9")
CUSTOM = "custom"
SPEEDS = MODES
#: sweep builder axes: label -> (axis name for Client.sweep, example values)
SWEEP_AXES: Mapping[str, tuple[str, str]] = {
    "seed": ("seed", "1, 2, 3"),
    "stylize": ("stylize", "0..1000 step 250"),
    "chaos": ("chaos", "0, 25, 50"),
    "weird": ("weird", "0..3000/4"),
    "aspect ratio": ("ar", "1:1, 3:2, 9:16"),
    "model": ("model", "v 7, v 8.1, niji 7"),
}
NO_AXIS = "none"
#: the sliders: form field -> (low, high); defaults are Midjourney's (PARAMETERS)
SLIDERS: Mapping[str, tuple[int, int]] = {
    "stylize": (0, 1000),
    "chaos": (0, 100),
    "weird": (0, 3000),
}
SEED_MAX = int(PARAMETERS["seed"].high or 4294967295)


def disabled_controls(version: str | None) -> frozenset[str]:
    """The form fields (and prompt parameters) model ``version`` does not take.

    Read from :func:`mjnb.prompt.version_rules`: a parameter is off where the version
    refuses it (``no``) or the sources disagree (``disputed``: typed in the prompt box
    it is still sent, with a warning); ``--hd`` is on only where the version takes it
    (``yes``). With no model chosen (None, the account's default) only what no current
    version takes is off, and HD is on if a current version takes it.
    """
    if version is None:
        rules = [version_rules(name) for name in CURRENT_VERSIONS]
        off = {n for n in _RULED if all(r.takes(n) == "no" for r in rules)}
        if not any(r.takes("hd") == "yes" for r in rules):
            off.add("hd")
        return frozenset(off)
    one = version_rules(version)
    off = {n for n in _RULED if one.takes(n) in ("no", "disputed")}
    if one.takes("hd") != "yes":
        off.add("hd")
    return frozenset(off)


@contextmanager
def prompt_warnings(show: Callable[[str], None]) -> Iterator[None]:
    """Catch the PromptWarnings raised inside and hand each distinct one to ``show`` as
    one line, in order, when the block ends (also when it raises): a prompt parsed
    three times warns once. Other warnings are shown as Python shows them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PromptWarning)
        try:
            yield
        finally:
            others = [w for w in caught if not issubclass(w.category, PromptWarning)]
            lines = [" ".join(str(w.message).split()) for w in caught if w not in others]
    for line in dict.fromkeys(lines):
        show(line)
    for item in others:
        warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)


def slider_default(name: str) -> int:
    return int(PARAMETERS[name].default or 0)


# --------------------------------------------------------------------- form <-> prompt


@dataclass(frozen=True)
class Form:
    """What the panel's controls hold; :func:`build_prompt` turns it into prompt text.

    ``text`` is the prompt box (it may hold image URLs and parameters of its own);
    ``version`` is a :data:`VERSIONS` value (``"6.1"``, ``"niji 6"``, None for the
    default); ``ar`` is ``"W:H"``; ``seed`` is None when it is not locked (Midjourney
    picks one); ``speed`` is one of :data:`SPEEDS`; ``hd`` asks for V8's native 2K
    render. A field at Midjourney's default adds nothing to the prompt, so prompts stay
    short, and a field the chosen model does not take (:func:`disabled_controls`) adds
    nothing either. ``strict`` and ``translate`` are no prompt text: they choose how the
    prompt is checked (False: unknown parameters are sent with a warning) and whether
    the provider translates it first (``Client(strict=..., translate=...)``).
    """

    text: str = ""
    version: str | None = None
    ar: str = "1:1"
    stylize: int = slider_default("stylize")
    chaos: int = slider_default("chaos")
    weird: int = slider_default("weird")
    seed: int | None = None
    speed: str = "fast"
    hd: bool = False
    strict: bool = True
    translate: bool = False

    def changes(self) -> dict[str, Any]:
        """The parameters the form sets on top of the prompt box (None removes one)."""
        changes: dict[str, Any] = {}
        off = disabled_controls(self.version)
        if self.version is not None:
            if self.version.startswith("niji"):
                changes.update(niji=self.version.split()[-1], version=None)
            else:
                changes.update(version=self.version, niji=None)
        if self.ar.strip() and self.ar.strip() != "1:1":
            changes["ar"] = self.ar.strip()
        for name in SLIDERS:
            value = getattr(self, name)
            if value != slider_default(name) and name not in off:
                changes[name] = value
        if self.seed is not None:
            changes["seed"] = self.seed
        if self.speed not in SPEEDS:
            raise PromptError(f"speed must be one of {', '.join(SPEEDS)}, got {self.speed!r}.")
        if self.speed != "fast":
            changes.update(dict.fromkeys(SPEEDS, None), **{self.speed: True})
        if self.hd and "hd" not in off:
            changes["hd"] = True
        return changes


def compose_prompt(form: Form) -> str:
    """The prompt box with the form's parameters applied, in canonical form.

    A control at its default leaves the prompt box's own parameter alone; otherwise
    the control wins. The prompt box is validated; the composed text is not (that is
    :func:`build_prompt`), so this shows what the form writes even where the parser
    does not know a parameter yet.
    """
    parsed = parse_prompt(form.text, strict=form.strict)
    changes = form.changes()
    if not changes:
        return str(parsed)
    if parsed.is_permutation:
        return str(parsed.with_params(**changes))
    params = dict(parsed.params)
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return str(Prompt(parsed.images, parsed.text, params))


def build_prompt(form: Form) -> str:
    """The prompt the form sends: :func:`compose_prompt`, checked by the parser.

    Raises PromptError (with the column) for anything Midjourney would refuse,
    including an empty prompt box.
    """
    text = compose_prompt(form)
    # parse the exact text to be sent, so an error's column points into the preview
    return str(parse_prompt(text, strict=form.strict))


def form_from_prompt(prompt: str) -> Form:
    """The form that sends ``prompt`` again: each parameter a control can show moves
    to that control; the rest (``--no``, ``--q``, image URLs ...) stay in the text.

    ``build_prompt(form_from_prompt(p)) == str(parse_prompt(p))`` for any valid ``p``.
    """
    parsed = parse_prompt(prompt, warn=False)  # warned about when it was first sent
    params = dict(parsed.params)
    fields: dict[str, Any] = {}
    if not parsed.is_permutation:
        version = params.get("version")
        niji = params.get("niji")
        if niji is None and version is not None and version in VERSIONS.values():
            fields["version"] = params.pop("version")
        elif version is None and isinstance(niji, str) and f"niji {niji}" in VERSIONS.values():
            fields["version"] = f"niji {params.pop('niji')}"
        off = disabled_controls(fields.get("version"))  # those stay in the text
        if "ar" in params:
            fields["ar"] = params.pop("ar")
        for name, (low, high) in SLIDERS.items():
            value = params.get(name)
            if isinstance(value, int) and low <= value <= high and name not in off:
                fields[name] = params.pop(name)
        if params.get("hd") is True and "hd" not in off:
            fields["hd"] = params.pop("hd")
        if isinstance(params.get("seed"), int):
            fields["seed"] = params.pop("seed")
        for speed in SPEEDS:
            if params.pop(speed, None):
                fields["speed"] = speed
        text = str(Prompt(parsed.images, parsed.text, params))
    else:
        text = str(parsed)
    return Form(text=text, **fields)


def provider_status(name: str) -> str | None:
    """None if ``name``'s required credentials are set, else what to set (a sentence)."""
    try:
        config.credentials(name, {})
        settings = config.settings()
    except MJError as exc:
        return str(exc)
    var = config.BASE_URL_VARS.get(name)
    if var and config.base_url_for(name, settings) is None:
        return f"{config.TITLES[name]} needs the URL of your server: set {var}."
    return None


def provider_label(name: str, missing: str | None) -> str:
    if name == "local":
        return "local (simulator)"
    if missing is None:
        return f"{name} ✓"
    named = [*config.CREDENTIAL_VARS[name].values(), config.BASE_URL_VARS.get(name, "")]
    variables = [v for v in named if v and v in missing]
    return f"{name} (needs {', '.join(variables) or 'credentials'})"
