"""The prompt language: a corpus of valid and invalid prompts, permutations, the Prompt API."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest

from mjnb.errors import MJError, PromptError
from mjnb.prompt import MAX_PERMUTATIONS, PARAMETERS, Prompt, parse_prompt

A = "https://example.com/a.png"
B = "http://x/b.jpg"
C = "https://cdn.example.org/c.webp?w=512&h=512"

# (prompt as typed, images, text, params)
VALID: list[tuple[str, list[str], str, dict[str, Any]]] = [
    ("a red fox", [], "a red fox", {}),
    ("  a   red\tfox \n", [], "a red fox", {}),
    (
        "http://x/a.png a fox::2 cat --ar 16:9 --s 250 --no red",
        ["http://x/a.png"],
        "a fox::2 cat",
        {"ar": "16:9", "stylize": 250, "no": ["red"]},
    ),
    ("a fox --ar 3:2", [], "a fox", {"ar": "3:2"}),
    ("a fox --aspect 2:3", [], "a fox", {"ar": "2:3"}),
    ("a fox --ar 14:1", [], "a fox", {"ar": "14:1"}),
    ("a fox --ar 1:14", [], "a fox", {"ar": "1:14"}),
    ("a fox --ar 016:09", [], "a fox", {"ar": "16:9"}),
    ("a fox --v 5.2 --ar 30:1", [], "a fox", {"version": "5.2", "ar": "30:1"}),
    ("a fox --niji 5 --ar 20:1", [], "a fox", {"niji": "5", "ar": "20:1"}),
    ("a fox --c 20 --s 0 --w 3000", [], "a fox", {"chaos": 20, "stylize": 0, "weird": 3000}),
    ("a fox --chaos 100", [], "a fox", {"chaos": 100}),  # 0-100 per [mj] (was 1000)
    ("a fox --stylize 1000.0", [], "a fox", {"stylize": 1000}),
    ("a fox --seed 0", [], "a fox", {"seed": 0}),
    ("a fox --seed 4294967295", [], "a fox", {"seed": 4294967295}),
    ("a fox --q .5", [], "a fox", {"quality": 0.5}),
    ("a fox --quality 0.25 --v 6", [], "a fox", {"quality": 0.25, "version": "6"}),
    ("a fox --q 2 --v 6.1", [], "a fox", {"quality": 2, "version": "6.1"}),
    ("a fox --q 4 --v 7", [], "a fox", {"quality": 4, "version": "7"}),
    ("a fox --q 1 --niji 5", [], "a fox", {"quality": 1, "niji": "5"}),
    ("a fox --q 4", [], "a fox", {"quality": 4}),
    ("a fox --no red, blue cars", [], "a fox", {"no": ["red", "blue cars"]}),
    ("a fox --no red,blue ,, green", [], "a fox", {"no": ["red", "blue", "green"]}),
    ("a fox --stop 10 --tile", [], "a fox", {"stop": 10, "tile": True}),
    ("a fox --r 40 --fast", [], "a fox", {"repeat": 40, "fast": True}),
    ("a fox --repeat 2 --turbo", [], "a fox", {"repeat": 2, "turbo": True}),
    ("a fox --v 6.0", [], "a fox", {"version": "6"}),
    ("a fox --version 5.0", [], "a fox", {"version": "5"}),
    ("a fox --v 8.1", [], "a fox", {"version": "8.1"}),
    ("a fox --niji", [], "a fox", {"niji": True}),
    ("a fox --niji 7", [], "a fox", {"niji": "7"}),
    ("a fox --raw", [], "a fox", {"style": "raw"}),
    ("a fox --style RAW --v 5.1", [], "a fox", {"style": "raw", "version": "5.1"}),
    ("a fox --niji 5 --style scenic", [], "a fox", {"niji": "5", "style": "scenic"}),
    ("a fox --style 5zsFlELcZZ", [], "a fox", {"style": "5zsFlELcZZ"}),
    (f"{A} a fox --iw 3", [A], "a fox", {"iw": 3}),
    (f"{A} a fox --iw 1.75 --v 5.2", [A], "a fox", {"iw": 1.75, "version": "5.2"}),
    (f"{A} {B}", [A, B], "", {}),
    (f"{A} {B} {C} --ar 1:1", [A, B, C], "", {"ar": "1:1"}),
    (f"{A} a fox {B}", [A], f"a fox {B}", {}),
    ("http://x/page.html a fox", [], "http://x/page.html a fox", {}),
    (
        f"a fox --sref {A}::2 123456 random --sw 300 --sv 4",
        [],
        "a fox",
        {"sref": [f"{A}::2", "123456", "random"], "sw": 300, "sv": 4},
    ),
    (f"a fox --cref {A} {B} --cw 0 --v 6", [], "a fox", {"cref": [A, B], "cw": 0, "version": "6"}),
    (f"a fox --cref {A} --niji 6", [], "a fox", {"cref": [A], "niji": "6"}),
    (
        f"a fox --oref {A} --ow 1000 --v 7 --exp 100 --draft",
        [],
        "a fox",
        {"oref": A, "ow": 1000, "version": "7", "exp": 100, "draft": True},
    ),
    # local image paths after --sref/--cref/--oref: the path stays in the text
    ("a fox --sref ./style.png", [], "a fox", {"sref": ["./style.png"]}),
    (
        f"a fox --sref ./a.png::2 1234567 {B} ~/b.webp C:\\x\\c.jpg",
        [],
        "a fox",
        {"sref": ["./a.png::2", "1234567", B, "~/b.webp", "C:\\x\\c.jpg"]},
    ),
    ("a fox --sref refs/mood --sv 4", [], "a fox", {"sref": ["refs/mood"], "sv": 4}),
    ("a fox --sref style.PNG", [], "a fox", {"sref": ["style.PNG"]}),
    (
        "a fox --oref ~/robot.jpg --ow 100 --v 7",
        [],
        "a fox",
        {"oref": "~/robot.jpg", "ow": 100, "version": "7"},
    ),
    (
        "a fox --cref ./hero.png ../h2.gif --v 6",
        [],
        "a fox",
        {"cref": ["./hero.png", "../h2.gif"], "version": "6"},
    ),
    ("a fox --p", [], "a fox", {"p": True}),
    ("a fox --p abc123 x9", [], "a fox", {"p": ["abc123", "x9"]}),
    ("a fox --personalize a1,b2", [], "a fox", {"p": ["a1", "b2"]}),
    ("a fox --relax --public", [], "a fox", {"relax": True, "public": True}),
    ("a fox --stealth", [], "a fox", {"stealth": True}),
    ("a fox —ar 3:2 —s 50", [], "a fox", {"ar": "3:2", "stylize": 50}),
    ("a fox –ar 3:2 —-v 6", [], "a fox", {"ar": "3:2", "version": "6"}),
    ("a fox — in the snow --AR 3:2", [], "a fox — in the snow", {"ar": "3:2"}),
    ("space::2 ship", [], "space::2 ship", {}),
    ("hot dog::1.5 food::-1", [], "hot dog::1.5 food::-1", {}),
    ("cat::-0.5 dog", [], "cat::-0.5 dog", {}),
    ("still life::2 fruit::", [], "still life::2 fruit::", {}),
    ("a sign that says 16:9, 1-2-3 & --> here", [], "a sign that says 16:9, 1-2-3 & --> here", {}),
    ("a fox\\, with a comma", [], "a fox\\, with a comma", {}),
    ("un renard roux 🦊 dans la neige", [], "un renard roux 🦊 dans la neige", {}),
]


@pytest.mark.parametrize(("source", "images", "text", "params"), VALID)
def test_valid_prompts(source: str, images: list[str], text: str, params: dict[str, Any]) -> None:
    prompt = parse_prompt(source)
    assert prompt.images == images
    assert prompt.text == text
    assert prompt.params == params
    assert prompt.choices == {}
    assert prompt.source == source
    assert not prompt.is_permutation
    assert prompt.expand() == [prompt]
    printed = str(prompt)
    assert parse_prompt(printed) == prompt
    assert str(parse_prompt(printed)) == printed


def test_value_types() -> None:
    p = parse_prompt("a fox --q .5 --s 250 --iw 1.5 --v 6 --ar 16:9 --tile --no a --seed 7")
    assert type(p.params["quality"]) is float
    assert type(p.params["stylize"]) is int
    assert type(p.params["iw"]) is float
    assert type(p.params["seed"]) is int
    assert p.params["version"] == "6" and isinstance(p.params["version"], str)
    assert p.params["tile"] is True
    assert p.params["no"] == ["a"]
    assert parse_prompt("a fox --q 1.0").params["quality"] == 1
    assert type(parse_prompt("a fox --q 1.0").params["quality"]) is int


CANONICAL = [
    (
        "http://x/a.png a fox::2 cat --ar 16:9 --s 250 --no red",
        "http://x/a.png a fox::2 cat --ar 16:9 --stylize 250 --no red",
    ),
    (
        "  a   fox  --v 6 --raw --q .50 --c 5 --aspect 2:3 ",
        "a fox --ar 2:3 --chaos 5 --quality 0.5 --version 6 --style raw",
    ),
    (
        "a fox --stealth --turbo --p --draft --exp 5 --ow 9 --oref http://o/x.png --seed 1",
        "a fox --seed 1 --oref http://o/x.png --ow 9 --exp 5 --p --draft --turbo --stealth",
    ),
    ("a fox --no a,b,  c d", "a fox --no a, b, c d"),
    ("a fox —w 7 --iw 0.50 --stylize 250.0", "a fox --stylize 250 --weird 7 --iw 0.5"),
    ("a fox --iw 0.0000001", "a fox --iw 0.0000001"),
    ("a fox --niji --tile", "a fox --tile --niji"),
    ("a fox --p a,b", "a fox --p a b"),
    ("a {red,blue}  fox --s {0,250}", "a {red, blue} fox --stylize {0, 250}"),
    ("a {x,  {y ,z}} fox —raw", "a {x, {y, z}} fox --style raw"),
]


@pytest.mark.parametrize(("source", "expected"), CANONICAL)
def test_canonical_text(source: str, expected: str) -> None:
    prompt = parse_prompt(source)
    assert str(prompt) == expected
    assert str(parse_prompt(expected)) == expected
    assert parse_prompt(expected) == prompt


def test_canonical_order_follows_parameters_table() -> None:
    order = list(PARAMETERS)
    assert order[:6] == ["ar", "chaos", "stylize", "weird", "seed", "quality"]
    p = parse_prompt("a fox --seed 1 --s 2 --ar 1:1 --c 3 --w 4 --q 1")
    assert str(p) == "a fox --ar 1:1 --chaos 3 --stylize 2 --weird 4 --seed 1 --quality 1"


# (prompt, fragments the message must contain, column or None)
INVALID: list[tuple[str, list[str], int | None]] = [
    ("", ["empty"], None),
    ("   \n\t ", ["empty"], None),
    ("--ar 3:2", ["no text", "--ar", "column 1"], 1),
    (f"{A}", ["second image"], 1),
    (f"{A} --ar 1:1", ["second image"], 1),
    ("a fox --s 5000", ["stylize must be 0-1000, got 5000 (--s 5000 at column 7)."], 7),
    ("a fox --stylize -1", ["stylize", "0-1000", "-1"], 7),
    ("a fox --s 2.5", ["stylize", "whole number", "2.5"], 7),
    ("a fox --s abc", ["stylize", "abc", "column 7"], 7),
    ("a fox --c 101", ["chaos must be 0-100", "101"], 7),  # [mj]: 0-100
    ("a fox --w 3001", ["weird", "0-3000"], 7),
    ("a fox --weird 10 --v 4", ["--weird", "version 5 or later", "--version 4"], 7),
    ("a fox --seed 4294967296", ["seed", "0-4294967295"], 7),
    ("a fox --seed 1.5", ["seed", "whole number"], 7),
    ("a fox --seed " + "9" * 60, ["seed", "column 7"], 7),
    ("a fox --q 0.75", ["quality", "0.75"], 7),
    ("a fox --q 4 --v 6.1", ["quality must be 0.5, 1 or 2 with --version 6.1", "got 4"], 7),
    ("a fox --q .25 --v 7", ["quality must be 1, 2 or 4 with --version 7", "0.25"], 7),
    ("a fox --q 2 --v 6", ["quality must be 0.25, 0.5 or 1 with --version 6"], 7),
    ("a fox --q 2 --niji 5", ["quality", "--niji 5"], 7),
    ("a fox --ar 15:1", ["ar must be between 1:14 and 14:1", "15:1", "column 7"], 7),
    ("a fox --ar 1:20 --v 6.1", ["ar", "1:14", "--version 6.1"], 7),
    ("a fox --v 4 --ar 3:1", ["ar", "1:2 and 2:1", "--version 4"], 13),
    ("a fox --ar 1.5:1", ["ar", "whole numbers", "1.5:1"], 7),
    ("a fox --ar 0:1", ["ar", "positive", "0:1"], 7),
    ("a fox --ar 16x9", ["ar", "16x9"], 7),
    ("a fox --ar", ["--ar needs a value", "--ar 16:9", "column 7"], 7),
    ("a fox --s", ["--s needs a value"], 7),
    ("a fox --no", ["--no needs a value"], 7),
    ("a fox --no , ,", ["--no", "list"], 7),
    ("a fox --stop 5", ["stop", "10-100"], 7),
    ("a fox --repeat 1", ["repeat", "2-40"], 7),
    ("a fox --r 41", ["repeat", "2-40"], 7),
    ("a fox --repeat 4 --relax", ["--repeat", "--relax", "fast or turbo"], 7),
    ("a fox --v 9", ["version must be", "6.1", "got 9"], 7),
    ("a fox --v 6.2", ["version", "6.2"], 7),
    ("a fox --v", ["--v needs a value"], 7),
    ("a fox --niji 3", ["niji must be 4, 5, 6 or 7", "got 3"], 7),
    ("a fox --v 6 --niji 6", ["--version or --niji", "column 7", "column 13"], 13),
    ("a fox --niji --v 7", ["--version or --niji"], 14),
    ("a fox --style cute", ["--style cute", "--niji 5"], 7),
    ("a fox --style raw --v 5", ["--style raw", "5.1", "--version 5"], 7),
    ("a fox --raw --niji 5", ["--raw", "niji 6"], 7),
    ("a fox --style raww", ["style must be raw", "raww"], 7),
    ("a fox --iw 3.5", ["iw must be 0-3", "3.5"], 7),
    (f"{A} a fox --iw 2.5 --v 5.2", ["iw must be 0-2 with --version 5.2", "2.5"], 33),
    (f"{A} a fox --iw 2.5 --niji 5", ["iw must be 0-2 with --niji 5"], 33),
    ("a fox --sref foo", ["sref", "foo", "column 14"], 14),
    ("a fox --sref 123 --v 5.2", ["--sref 123", "version 6 or later", "--version 5.2"], 7),
    ("a fox --sw 1001", ["sw", "0-1000"], 7),
    ("a fox --sv 7 --v 7", ["sv must be 1-6 with --version 7"], 7),  # 7 exists for V8 [3p]
    ("a fox --cref 123", ["cref", "URLs", "123"], 14),
    (f"a fox --cref {A} --v 7", ["--cref", "version 6", "--version 7", "--oref"], 7),
    (f"a fox --cref {A} --v 5.2", ["--cref", "--version 5.2"], 7),
    (f"a fox --cref {A} --niji 7", ["--cref", "--niji 7"], 7),
    ("a fox --cw 101", ["cw", "0-100"], 7),
    ("a fox --cw 50 --v 7", ["--cw 50", "version 6"], 7),
    (f"a fox --oref {A} --v 6.1", ["--oref", "version 7", "--version 6.1", "--cref"], 7),
    (f"a fox --oref {A} --niji 6", ["--oref", "version 7", "--niji 6"], 7),
    ("a fox --oref notaurl", ["oref", "URL", "notaurl"], 7),
    ("a fox --oref ./robot.png --v 6.1", ["--oref", "version 7", "--version 6.1"], 7),
    ("a fox --cref ./hero.png --v 7", ["--cref", "version 6", "--oref"], 7),
    ("a fox --sref ./a.png --v 5.2", ["--sref ./a.png", "version 6 or later"], 7),
    ("a fox --sref ftp://x/a.png", ["sref", "local image paths", "ftp://x/a.png"], 14),
    ("a fox --sref data:image/png;base64,AAAA", ["sref", "data:image"], 14),
    ("a fox --sref ./a.png notapath", ["sref", "notapath"], 22),
    (f"a fox --oref {A} {B}", ["Parameters must come last", "column"], 7 + 7 + len(A) + 1),
    ("a fox --ow 1001", ["ow", "0-1000"], 7),
    ("a fox --exp 101", ["exp", "0-100"], 7),
    ("a fox --exp 10 --v 6.1", ["--exp 10", "version 7"], 7),
    ("a fox --draft --niji 6", ["--draft", "version 7", "--niji 6"], 7),
    ("a fox --p hello!", ["p takes profile codes", "hello!"], 11),
    ("a fox --p abc --v 5.2", ["--p", "version 6"], 7),
    ("a fox --tile 5", ["--tile is a switch", "'5'", "column 14"], 14),
    ("a fox --fast now", ["--fast is a switch", "'now'"], 14),
    ("a fox --raw please", ["--raw is a switch"], 13),
    ("a fox --fast --relax", ["Choose one speed", "--fast", "--relax"], 14),
    ("a fox --turbo --fast --relax", ["Choose one speed"], 15),
    ("a fox --public --stealth", ["public or stealth"], 16),
    (
        "a fox --ar 3:2 in the snow",
        ["Parameters must come last", "'in' at column 16", "--ar 3:2"],
        16,
    ),
    ("a fox --s 250 cat", ["Parameters must come last", "'cat'"], 15),
    ("a fox --v 6 extra --s 5", ["Parameters must come last", "'extra'"], 13),
    ("a fox --niji 6 cute", ["Parameters must come last", "'cute'"], 16),
    ("a fox --foo 3", ["Unrecognized parameter --foo at column 7", "%mj help"], 7),
    ("a fox --stylze 300", ["Unrecognized parameter --stylze", "did you mean --stylize"], 7),
    ("a fox --ar16:9", ["Unrecognized parameter --ar16:9", "--ar 16:9"], 7),
    ("a fox --s=250", ["Unrecognized parameter", "--s 250"], 7),
    ("a fox --video", ["--video is a video parameter", "animate"], 7),
    ("a fox --hd --v 7", ["--hd works only with version 8 or later", "--version 7"], 7),
    ("a fox --ｆoo", ["Unrecognized parameter --foo"], 7),
    ("a fox --width 300", ["--width is no longer supported", "--ar"], 7),
    ("a fox --height 300", ["--height", "--ar"], 7),
    ("a fox --hq", ["--hq", "--quality"], 7),
    ("a fox --vibe", ["--vibe", "--version"], 7),
    ("a fox --newclip", ["--newclip", "--version"], 7),
    ("a fox --nostretch", ["--nostretch", "--ar"], 7),
    ("a fox --old", ["--old", "--version"], 7),
    ("a fox --beta", ["--beta", "--version"], 7),
    ("a fox --upanime", ["--upanime", "upscale"], 7),
    ("a fox --upbeta", ["--upbeta", "upscale"], 7),
    ("a fox --s 100 --stylize 200", ["--stylize is given twice", "column 7", "column 15"], 15),
    ("a fox --ar 1:1 --aspect 2:3", ["--ar is given twice"], 16),
    ("a fox --raw --style raw", ["--style is given twice"], 13),
    ("a fox --tile --tile", ["--tile is given twice"], 14),
    ("a fox --no red --no blue", ["--no is given twice"], 16),
    ("a fox -- cat", ["'--' at column 7", "no parameter name"], 7),
    ("a fox --", ["'--' at column 7"], 7),
    ("a fox --ar 1:1 --", ["'--'", "column 16"], 16),
    ("a::-1", ["weights must add up to more than 0", "-1", "column 2"], 2),
    ("a::-1 b", ["add up to 0"], 2),
    ("cat::-2 dog::0.5", ["add up to -1.5"], 4),
    ("a::0", ["add up to 0"], None),
    ("a fox {red, blue", ["Unbalanced brace", "'{' at column 7", "never closed"], 7),
    ("a fox red}", ["Unbalanced brace", "'}' at column 10"], 10),
    ("a {b {c, d} fox", ["Unbalanced brace", "column 3"], 3),
    ("a {} fox", ["group at column 3 has no options"], 3),
    (
        "a {red, blue} fox --s {0, 5000}",
        ["stylize must be 0-1000, got 5000", "permutation 2 of 4"],
        19,
    ),
    ("a fox --ar {1:1, 1:20}", ["ar", "1:20", "permutation 2 of 2", "ar = '1:20'"], 7),
    ("a fox --{v 6, niji 6} --v 7", ["--version is given twice", "permutation 1 of 2"], 23),
    ("a fox --{s 5, foo 3}", ["Unrecognized parameter --foo at column 7", "permutation 2"], 7),
    ("a {, }", ["has no options"], 3),
    ("{a,} {c,}", ["empty", "permutation 4 of 4"], None),
    ("{" * 12 + "a" + "}" * 12, ["nest more than"], 9),
    (
        "{a,b,c,d,e,f,g,h,i,j} " * 3 + "x --s {1,2}",
        ["expands to 2000 prompts", "at most 1000"],
        None,
    ),
]


@pytest.mark.parametrize(("source", "fragments", "column"), INVALID)
def test_invalid_prompts(source: str, fragments: list[str], column: int | None) -> None:
    with pytest.raises(PromptError) as caught:
        parse_prompt(source)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert caught.value.column == column, message
    assert len(message.split()) >= 6, message  # a sentence, not a code
    assert message.rstrip(")").endswith("."), message
    assert isinstance(caught.value, MJError) and isinstance(caught.value, ValueError)


def test_corpus_sizes() -> None:
    assert len(VALID) >= 40
    assert len(INVALID) >= 50


def test_every_parameter_is_in_the_table() -> None:
    names = [
        "ar", "chaos", "stylize", "weird", "seed", "quality", "no", "stop", "tile", "repeat",
        "version", "niji", "style", "iw", "sref", "sw", "sv", "cref", "cw", "oref", "ow", "exp",
        "p", "draft", "hd", "fast", "relax", "turbo", "public", "stealth",
    ]  # fmt: skip
    assert list(PARAMETERS) == names
    aliases = {alias: spec.name for spec in PARAMETERS.values() for alias in spec.aliases}
    for alias, name in {
        "aspect": "ar",
        "c": "chaos",
        "s": "stylize",
        "w": "weird",
        "q": "quality",
        "r": "repeat",
        "v": "version",
        "raw": "style",
    }.items():
        assert aliases[alias] == name
    for spec in PARAMETERS.values():
        assert spec.help.endswith(".") and spec.range and spec.aliases[0] == spec.name
        assert spec.spelling == f"--{spec.name}"
        # every spec's example is itself a valid parameter
        example = f"a fox {spec.example}"
        if spec.name == "iw":
            example = f"{A} {example}"
        if spec.name == "oref":
            example += " --v 7"
        if spec.name in ("cref", "cw"):
            example += " --v 6"  # no current version (7, 8.1, 8.2) takes --cref
        assert spec.name in parse_prompt(example).params or spec.name == "style"


@pytest.mark.parametrize("name", list(PARAMETERS))
def test_every_alias_of_every_parameter_parses(name: str) -> None:
    spec = PARAMETERS[name]
    value = spec.example.split(" ", 1)[1] if " " in spec.example else ""
    for alias in spec.aliases:
        if alias == "raw":
            assert parse_prompt("a fox --raw").params == {"style": "raw"}
            continue
        prefix = f"{A} " if name == "iw" else ""
        suffix = " --v 7" if name in ("oref", "ow", "exp", "draft") else ""
        suffix = " --v 6" if name in ("cref", "cw") else suffix
        prompt = parse_prompt(f"{prefix}a fox --{alias} {value}{suffix}".replace("  ", " "))
        assert name in prompt.params


# ----------------------------------------------------------------------------- permutations


def test_permutation_basic_and_fields() -> None:
    p = parse_prompt("a {red, blue} fox --ar 3:2 --s {0, 250, 750}")
    assert p.is_permutation
    assert str(p) == "a {red, blue} fox --ar 3:2 --stylize {0, 250, 750}"
    assert p.text == "a {red, blue} fox"
    assert p.images == []
    assert p.params == {"ar": "3:2"}  # what every expansion shares
    assert p.axes == {"text": ["red", "blue"], "stylize": ["0", "250", "750"]}
    out = p.expand()
    assert [str(e) for e in out] == [
        "a red fox --ar 3:2 --stylize 0",
        "a red fox --ar 3:2 --stylize 250",
        "a red fox --ar 3:2 --stylize 750",
        "a blue fox --ar 3:2 --stylize 0",
        "a blue fox --ar 3:2 --stylize 250",
        "a blue fox --ar 3:2 --stylize 750",
    ]
    assert out[4].choices == {"text": "blue", "stylize": "250"}
    assert out[4].params == {"ar": "3:2", "stylize": 250}
    assert out[4].text == "a blue fox"
    assert out[4].axes == {} and out[4].expand() == [out[4]]
    assert parse_prompt(str(p)) == p


def test_permutation_nesting_flattens_into_one_axis() -> None:
    p = parse_prompt("a {seagull {on a pier, on a beach}, poodle}")
    assert [e.text for e in p.expand()] == [
        "a seagull on a pier",
        "a seagull on a beach",
        "a poodle",
    ]
    assert p.axes == {"text": ["seagull on a pier", "seagull on a beach", "poodle"]}
    q = parse_prompt(
        "A {sculpture, painting} of a {seagull {on a pier, on a beach}, poodle {on a sofa, in a "
        "truck}}"
    )
    assert len(q.expand()) == 8
    assert list(q.axes) == ["text", "text2"]
    assert q.expand()[-1].text == "A painting of a poodle in a truck"


def test_permutation_escaped_comma() -> None:
    p = parse_prompt("a {red\\, white, blue} flag --no {a\\, b, c}")
    assert [e.text for e in p.expand()][::2] == ["a red, white flag", "a blue flag"]
    assert p.expand()[0].params == {"no": ["a", "b"]}
    assert p.expand()[1].params == {"no": ["c"]}
    assert p.axes == {"text": ["red, white", "blue"], "no": ["a, b", "c"]}
    assert str(p) == "a {red\\, white, blue} flag --no {a\\, b, c}"
    assert parse_prompt(str(p)) == p


def test_permutation_in_parameter_values_names_the_axis() -> None:
    p = parse_prompt("a fox --ar {3:2, 1:1} --seed {1, 2} --c {0,50}")
    assert list(p.axes) == ["ar", "seed", "chaos"]
    assert len(p.expand()) == 8
    assert p.expand()[0].params == {"ar": "3:2", "seed": 1, "chaos": 0}
    assert p.expand()[-1].params == {"ar": "1:1", "seed": 2, "chaos": 50}
    assert p.expand()[1].choices == {"ar": "3:2", "seed": "1", "chaos": "50"}


def test_permutation_of_whole_parameters() -> None:
    p = parse_prompt("a fox --{v 6, niji 6} --s 50")
    assert p.axes == {"model": ["v 6", "niji 6"]}
    assert [e.version for e in p.expand()] == ["6", "niji 6"]
    assert p.params == {"stylize": 50}
    assert p.version is None
    q = parse_prompt("a fox --{tile, stop 50}")
    assert q.axes == {"params": ["tile", "stop 50"]}
    assert [e.params for e in q.expand()] == [{"tile": True}, {"stop": 50}]
    r = parse_prompt("a fox {--v 6, --niji 6}")
    assert r.axes == {"model": ["--v 6", "--niji 6"]}
    s = parse_prompt("a fox {, --tile}")
    assert s.axes == {"tile": ["", "--tile"]}
    assert [e.params for e in s.expand()] == [{}, {"tile": True}]


def test_permutation_axis_names_repeat_with_numbers() -> None:
    p = parse_prompt("a {red, blue} {fox, cat} --ar {1, 2}:{1, 3}")
    assert list(p.axes) == ["text", "text2", "ar", "ar2"]
    assert [e.params["ar"] for e in p.expand()[:4]] == ["1:1", "1:3", "2:1", "2:3"]


def test_permutation_of_images() -> None:
    p = parse_prompt(f"{{{A}, {B}}} a fox")
    assert p.axes == {"image": [A, B]}
    assert [e.images for e in p.expand()] == [[A], [B]]
    assert p.images == [] and p.text == f"{{{A}, {B}}} a fox"
    q = parse_prompt(f"{A} a {{red, blue}} fox")
    assert q.images == [A] and q.text == "a {red, blue} fox"


def test_permutation_counts_multiply() -> None:
    p = parse_prompt("{a, b, c} {d, e} {f, g, h, i} x --seed {1, 2}")
    assert len(p.expand()) == 3 * 2 * 4 * 2
    assert len({str(e) for e in p.expand()}) == 48
    assert len(parse_prompt("{a}").expand()) == 1
    assert parse_prompt("{a}").expand()[0].text == "a"


def test_permutation_limit() -> None:
    groups = "{a,b,c,d,e,f,g,h,i,j} " * 3
    assert len(parse_prompt(groups).expand()) == MAX_PERMUTATIONS
    with pytest.raises(PromptError, match="at most"):
        parse_prompt(groups + "{x, y}")


def test_permutation_error_columns_point_into_the_original() -> None:
    source = "a {red, blue} fox --ar 3:2 --seed {1, 2} --s {10, 2000}"
    with pytest.raises(PromptError) as caught:
        parse_prompt(source)
    assert caught.value.column == source.index("--s {") + 1
    assert "permutation 2 of 8" in str(caught.value)
    source = "a fox --ar {3:2, 5:0}"
    with pytest.raises(PromptError) as caught:
        parse_prompt(source)
    assert caught.value.column == source.index("--ar") + 1
    source = "a {fox, cat --foo} here"
    with pytest.raises(PromptError) as caught:
        parse_prompt(source)
    assert caught.value.column == source.index("--foo") + 1


def test_permutation_source_and_equality() -> None:
    p = parse_prompt("a   {red ,blue}   fox")
    q = parse_prompt("a {red, blue} fox")
    assert p == q and p.source != q.source
    assert p != parse_prompt("a {red, green} fox")
    assert parse_prompt("a fox --s {0, 1}") != parse_prompt("a fox --s {0, 2}")
    assert p.expand()[0].source == "a red fox"


# ----------------------------------------------------------------------------- Prompt API


def test_version_property() -> None:
    assert parse_prompt("a fox").version is None
    assert parse_prompt("a fox --v 6.1").version == "6.1"
    assert parse_prompt("a fox --v 6.0").version == "6"
    assert parse_prompt("a fox --niji 6").version == "niji 6"
    assert parse_prompt("a fox --niji").version == "niji"


def test_with_params() -> None:
    p = parse_prompt("a fox --s 250 --v 6")
    q = p.with_params(s=500, ar="3:2", tile=True)
    assert q.params == {"stylize": 500, "version": "6", "ar": "3:2", "tile": True}
    assert str(q) == "a fox --ar 3:2 --stylize 500 --tile --version 6"
    assert p.params == {"stylize": 250, "version": "6"}  # unchanged
    assert p.with_params(version=None, niji=6).version == "niji 6"
    assert p.with_params(stylize=None).params == {"version": "6"}
    assert p.with_params(no=["red", "blue"], quality=0.5).params["no"] == ["red", "blue"]
    assert p.with_params(no="red, blue").params["no"] == ["red", "blue"]
    assert p.with_params(raw=True).params["style"] == "raw"
    assert p.with_params(version=6.1).version == "6.1"
    with pytest.raises(PromptError, match="stylize must be 0-1000, got 5000"):
        p.with_params(stylize=5000)
    with pytest.raises(PromptError, match="--version or --niji"):
        p.with_params(niji="6")
    with pytest.raises(PromptError, match="unknown parameter 'foo'"):
        p.with_params(foo=1)


def test_with_params_on_permutations_and_expansions() -> None:
    p = parse_prompt("a {red, blue} fox --s {0, 250} --seed 3")
    q = p.with_params(seed=9, chaos=5)
    assert str(q) == "a {red, blue} fox --stylize {0, 250} --chaos 5 --seed 9"
    assert q.axes == p.axes
    assert p.with_params(stylize=100).axes == {"text": ["red", "blue"]}
    one = p.expand()[1]
    assert one.with_params(seed=1).choices == {"text": "red", "stylize": "250"}
    assert one.with_params(stylize=3).choices == {"text": "red"}
    model = parse_prompt("a fox --{v 6, niji 6}")
    with pytest.raises(PromptError, match="varies the model"):
        model.with_params(version="7")


def test_prompt_built_directly_prints() -> None:
    p = Prompt([A], "a fox", {"stylize": 250.0, "quality": 0.5, "no": ["a", "b"], "tile": True})
    assert str(p) == f"{A} a fox --stylize 250 --quality 0.5 --no a, b --tile"
    assert parse_prompt(str(p)).params == {
        "stylize": 250,
        "quality": 0.5,
        "no": ["a", "b"],
        "tile": True,
    }


def test_equality_ignores_source_and_prompt_is_frozen() -> None:
    a, b = parse_prompt("a fox  --s 5"), parse_prompt("a fox --stylize 5")
    assert a == b and a.source != b.source
    with pytest.raises(AttributeError):
        a.text = "x"  # type: ignore[misc]
    assert replace(a, choices={"x": "1"}) != a


def test_non_string_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_prompt(None)  # type: ignore[arg-type]


def test_parsing_is_fast() -> None:
    typical = (
        "https://example.com/a.png a red fox in the snow, cinematic lighting::2 forest "
        "--ar 16:9 --s 250 --chaos 20 --seed 7 --no red, blue --v 6.1 --q 2"
    )
    parse_prompt(typical)
    runs = 300
    started = time.perf_counter()
    for _ in range(runs):
        parse_prompt(typical)
    per_prompt = (time.perf_counter() - started) / runs
    assert per_prompt < 0.001, f"{per_prompt * 1e6:.0f} µs per prompt"
