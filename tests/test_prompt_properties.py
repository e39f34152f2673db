"""Property tests for the prompt language: round-trips, and PromptError as the only error."""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mjnb.errors import PromptError
from mjnb.prompt import PARAMETERS, Prompt, PromptWarning, parse_prompt

# Spellings a user may type for each long name (with the dash styles phones produce).
SPELLINGS = {name: spec.aliases for name, spec in PARAMETERS.items()}
DASHES = ["--", "--", "--", "—", "–"]
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
URLS = st.sampled_from(
    [
        "https://example.com/a.png",
        "http://x/b.jpg",
        "https://cdn.example.org/img/c.webp?size=2",
        "https://e.com/d.JPEG",
        "http://x/e.gif",
    ]
)

# Local image paths a user may write after --sref/--cref/--oref (kept as typed)
PATHS = st.sampled_from(["./style.png", "~/refs/b.JPG", "refs/mood.webp", "../x.gif", "a.jpeg"])

# The models the generator targets, and what each accepts (restated from the reference,
# not imported from the code under test).
MODELS: list[tuple[str, Any] | None] = [
    None,
    ("version", "5.2"),
    ("version", "6"),
    ("version", "6.1"),
    ("version", "7"),
    ("niji", "5"),
    ("niji", "6"),
    ("niji", True),
]
QUALITY: dict[str | None, list[float]] = {
    None: [0.25, 0.5, 1, 2, 4],
    "5.2": [0.25, 0.5, 1],
    "6": [0.25, 0.5, 1],
    "6.1": [0.5, 1, 2],
    "7": [1, 2, 4],
    "niji 5": [0.25, 0.5, 1],
    "niji 6": [0.25, 0.5, 1],
    "niji": [0.25, 0.5, 1, 2, 4],
}
SREF_OK = {None, "6", "6.1", "7", "niji 6", "niji"}
CREF_OK = {"6", "6.1", "niji 6"}  # no current version (7, 8.1, 8.2) or niji 7 takes it
V7_OK = {None, "7"}


def model_key(model: tuple[str, Any] | None) -> str | None:
    if model is None:
        return None
    kind, value = model
    if kind == "version":
        return str(value)
    return "niji" if value is True else f"niji {value}"


def number_text(draw: st.DrawFn, value: float) -> str:
    """A way a user may type a number: 0.5 or .5, 250 or 250.0."""
    if isinstance(value, int):
        return draw(st.sampled_from([str(value), str(value), f"{value}.0"]))
    text = repr(value)
    return draw(st.sampled_from([text, text.removeprefix("0")]))


@st.composite
def valid_prompts(draw: st.DrawFn) -> tuple[str, list[str], str, dict[str, Any]]:
    """A valid prompt as a user might type it, with the images, text and params expected."""
    model = draw(st.sampled_from(MODELS))
    key = model_key(model)
    params: dict[str, Any] = {}
    typed: dict[str, str] = {}  # long name -> value text as typed ("" for switches)

    def maybe(name: str) -> bool:
        return draw(st.booleans()) and draw(st.booleans())

    if model is not None:
        kind, value = model
        params[kind] = value
        typed[kind] = "" if value is True else draw(st.sampled_from([value, f"{value}.0"]))
        if kind == "version" and value in ("6.1", "5.2"):
            typed[kind] = value
    if maybe("ar"):
        width, height = draw(st.integers(1, 14)), draw(st.integers(1, 14))
        params["ar"] = f"{width}:{height}"
        typed["ar"] = params["ar"]
    for name, high in (("chaos", 100), ("stylize", 1000), ("weird", 3000), ("stop", 100)):
        if maybe(name):
            params[name] = draw(st.integers(10 if name == "stop" else 0, high))
            typed[name] = number_text(draw, params[name])
    if maybe("seed"):
        params["seed"] = draw(st.integers(0, 4294967295))
        typed["seed"] = str(params["seed"])
    if maybe("quality"):
        params["quality"] = draw(st.sampled_from(QUALITY[key]))
        typed["quality"] = number_text(draw, params["quality"])
    if maybe("no"):
        items = draw(st.lists(st.lists(WORDS, min_size=1, max_size=2), min_size=1, max_size=3))
        params["no"] = [" ".join(item) for item in items]
        typed["no"] = ",".join(draw(st.sampled_from([" ", ""])) + i for i in params["no"])
    if maybe("tile"):
        params["tile"] = True
        typed["tile"] = ""
    if maybe("style"):
        params["style"] = "cute" if key == "niji 5" else "raw"
        typed["style"] = params["style"]
    if maybe("iw"):
        high = 200 if key in ("5.2", "niji 5") else 300
        hundredths = draw(st.integers(0, high))
        params["iw"] = hundredths // 100 if hundredths % 100 == 0 else hundredths / 100
        typed["iw"] = number_text(draw, params["iw"])
    if key in SREF_OK and maybe("sref"):
        refs = draw(
            st.lists(URLS | PATHS | st.sampled_from(["123456", "random", "42::2"]), min_size=1)
        )
        params["sref"] = refs
        typed["sref"] = " ".join(refs)
        if maybe("sw"):
            params["sw"] = draw(st.integers(0, 1000))
            typed["sw"] = str(params["sw"])
    if key in CREF_OK and maybe("cref"):
        params["cref"] = draw(st.lists(URLS | PATHS, min_size=1, max_size=2))
        typed["cref"] = " ".join(params["cref"])
        if maybe("cw"):
            params["cw"] = draw(st.integers(0, 100))
            typed["cw"] = str(params["cw"])
    if key in V7_OK:
        if maybe("oref"):
            params["oref"] = draw(URLS | PATHS)
            typed["oref"] = params["oref"]
        if maybe("exp"):
            params["exp"] = draw(st.integers(0, 100))
            typed["exp"] = str(params["exp"])
        if maybe("draft"):
            params["draft"] = True
            typed["draft"] = ""
    if key in SREF_OK and maybe("p"):
        codes = draw(st.lists(st.sampled_from(["abc123", "x9", "ProfileA"]), max_size=2))
        params["p"] = codes or True
        typed["p"] = " ".join(codes)
    speed = draw(st.sampled_from([None, "fast", "relax", "turbo"]))
    if speed:
        params[speed] = True
        typed[speed] = ""
    if speed != "relax" and maybe("repeat"):
        params["repeat"] = draw(st.integers(2, 40))
        typed["repeat"] = str(params["repeat"])
    visibility = draw(st.sampled_from([None, "public", "stealth"]))
    if visibility:
        params[visibility] = True
        typed[visibility] = ""

    images = draw(st.lists(URLS, max_size=2))
    words = draw(st.lists(WORDS, min_size=0 if len(images) >= 2 else 1, max_size=5))
    weighted = draw(st.booleans())
    if words and weighted:
        words[0] += f"::{draw(st.sampled_from(['2', '0.5', '1.5', '3']))}"
    text = " ".join(words)

    pieces = []
    for name in draw(st.permutations(sorted(typed))):
        spelling = draw(
            st.sampled_from(SPELLINGS[name][:1] if name == "style" else SPELLINGS[name])
        )
        if name == "style" and params["style"] == "raw" and draw(st.booleans()):
            pieces.append(draw(st.sampled_from(DASHES)) + "raw")
            continue
        dash = draw(st.sampled_from(DASHES))
        pieces.append(f"{dash}{spelling} {typed[name]}".rstrip())
    gap = st.sampled_from([" ", "  ", "\t", " \n "])
    tokens = [*images, *([text] if text else []), *pieces]
    source = tokens[0]
    for token in tokens[1:]:
        source += draw(gap) + token
    return source, images, text, params


def assert_round_trip(prompt: Prompt) -> None:
    printed = str(prompt)
    again = parse_prompt(printed)
    assert again == prompt, (printed, again, prompt)
    assert str(again) == printed


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(valid_prompts())
def test_valid_prompts_parse_to_what_was_typed_and_round_trip(
    case: tuple[str, list[str], str, dict[str, Any]],
) -> None:
    source, images, text, params = case
    prompt = parse_prompt(source)
    assert prompt.images == images
    assert prompt.text == text
    assert prompt.params == params
    for value in prompt.params.values():
        if isinstance(value, float):
            assert not value.is_integer() and math.isfinite(value)
    assert prompt.source == source
    assert prompt.expand() == [prompt]
    assert_round_trip(prompt)


@st.composite
def permutation_prompts(draw: st.DrawFn) -> tuple[str, dict[str, list[str]]]:
    """A permutation prompt and the axes it should have, in order."""
    axes: dict[str, list[str]] = {}
    noun_options = draw(st.lists(WORDS, min_size=1, max_size=3))
    parts = ["a", "{" + ", ".join(noun_options) + "}", "fox"]
    axes["text"] = noun_options
    for name, values in (
        ("stylize", st.lists(st.integers(0, 1000).map(str), min_size=1, max_size=3)),
        ("seed", st.lists(st.integers(0, 99).map(str), min_size=1, max_size=3)),
        ("ar", st.lists(st.sampled_from(["1:1", "3:2", "2:3", "16:9"]), min_size=1, max_size=3)),
    ):
        if draw(st.booleans()):
            options = draw(values)
            spelling = draw(st.sampled_from(SPELLINGS[name]))
            parts.append(f"--{spelling} {{{','.join(options)}}}")
            axes[name] = options
    if draw(st.booleans()):
        parts.append("--{v 6, niji 6}")
        axes["model"] = ["v 6", "niji 6"]
    if draw(st.booleans()):
        parts.append("--chaos 5")
    return " ".join(parts), axes


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(permutation_prompts())
def test_permutation_prompts_expand_in_order_and_round_trip(
    case: tuple[str, dict[str, list[str]]],
) -> None:
    source, axes = case
    prompt = parse_prompt(source)
    assert prompt.is_permutation
    assert prompt.axes == axes
    expanded = prompt.expand()
    assert len(expanded) == math.prod(len(values) for values in axes.values())
    # first group varies slowest: choices enumerate the cartesian product in order
    names = list(axes)
    keys = [tuple(e.choices[name] for name in names) for e in expanded]
    assert keys == list(itertools.product(*axes.values()))
    for one in expanded:
        assert not one.is_permutation
        assert "{" not in str(one)
        assert parse_prompt(str(one)) == replace(one, choices={})
        if "--chaos 5" in source:
            assert one.params["chaos"] == 5
    if "--chaos 5" in source:
        assert prompt.params["chaos"] == 5
    for name in ("stylize", "seed", "ar"):
        # params hold what every expansion shares: an axis only if all its values agree
        if name in axes:
            assert (name in prompt.params) == (
                len({int(v) if ":" not in v else v for v in axes[name]}) == 1
            )
    assert_round_trip(prompt)


# Fragments that reach deep into the parser when glued together at random.
FRAGMENTS = [
    " ", " ", "  ", "\n", "--", "-", "—", "–", "{", "}", ",", "\\,", "\\", "::", "::-1",
    "::2", "::0", ":", "a", "fox", "16:9", "0:1", "1.5:1", "0", "250", ".5", "-3", "1e3",
    "5000", "99999999999999999999999", "http://x/a.png", "https://e.com/b.jpg?x=1",
    "raw", "random", "cute", "6", "6.1", "7", "5.2", "niji", "red", "123", "x9",
    *sorted({alias for spec in PARAMETERS.values() for alias in spec.aliases}),
    "width", "hq", "upbeta", "foo", "AR", "S", "\x00", "é", "🦊",
]  # fmt: skip
PROMPTISH = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=30).map("".join)


def check_any(text: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PromptWarning)  # sent with a warning: not an error
        _check_any(text)


def _check_any(text: str) -> None:
    try:
        prompt = parse_prompt(text)
    except PromptError as exc:
        assert str(exc).strip()
        assert exc.column is None or 1 <= exc.column <= len(text) + 1
        return
    assert_round_trip(prompt)
    for one in prompt.expand():
        assert parse_prompt(str(one)) == replace(one, choices={})


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(PROMPTISH)
def test_promptish_text_raises_only_prompt_error(text: str) -> None:
    check_any(text)


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_prompt_error(text: str) -> None:
    check_any(text)
