"""Today's prompt language: a corpus of current prompts, version-invalid ones, IME forms,
video prompts, the escape hatch and the public read API over the version table.

Corpus sources (tags as in reference/midjourney-syntax.md). The prompts follow the
examples and parameter lists of: [mj] docs.midjourney.com (parameter pages, video,
personalization, style reference, omni reference, draft); [yc-v81] Youchuan's "v8.1 模型
指南" (V8.1 HD, --sv 6, --oref, --exp, quoted text); [yc-api] Youchuan's API docs (models
v6 ... v8.1 and niji 7 inline, --p moodboards); [ace-mcp]/[ace-web] AceDataCloud MCPs and
Nexior (V8.2 default, --hd, quality 1/2 on 8.2, 1/4 on 8); [tai] trueai-org
midjourney-proxy (--video 1, --end loop, --bs); [3p] atlascloud / evolink guides (V8.1).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from mjnb.errors import PromptError
from mjnb.prompt import (
    CURRENT_VERSIONS,
    DEFAULT_VERSION,
    VERSIONS,
    PromptWarning,
    parse_prompt,
    version_rules,
    versions_markdown,
)  # fmt: skip

R = "https://cdn.example.com/ref.png"
S = "https://s.mj.run/abc123.jpg"

# Current prompts that parse without a warning.
CURRENT = [
    # V8.1 / V8.2 / V8 [yc-v81][ace-web][ace-mcp][3p]
    "a lighthouse on a cliff at dusk --v 8.1 --hd",
    "a lighthouse on a cliff at dusk --v 8.1 --hd --ar 16:9",
    'a neon sign that reads "OPEN 24 HOURS", rainy street --v 8.1',
    'a vintage poster with the words "Visit Mars" --v 8.1 --hd --ar 2:3 --s 250',
    "portrait of an old fisherman, film grain --v 8.1 --raw",
    "portrait of an old fisherman --v 8.1 --style raw --s 50",
    "a cozy reading nook --v 8.1 --sref 2837465 --sw 300",
    "a cozy reading nook --v 8.1 --sref https://cdn.example.com/ref.png --sv 6",
    f"a robot barista --v 8.1 --oref {R} --ow 200",
    "macro photo of a dew drop on a leaf --v 8.1 --exp 25",
    "a glass city under the sea --v 8.1 --chaos 30 --seed 1234",
    "a watercolor fox --v 8.1 --p",
    "a watercolor fox --v 8.1 --p m7203958245",
    "a watercolor fox --v 8.1 --hd --fast",
    "a watercolor fox --v 8.1 --relax --stealth",
    "isometric game level, pastel --v 8.1 --no people, text",
    "a mountain village in spring --v 8.2",
    "a mountain village in spring --v 8.2 --hd",
    "a mountain village in spring --v 8.2 --q 2",
    "a mountain village in spring --v 8.2 --q 1 --turbo",
    "a mountain village in spring --v 8.2 --ar 21:9 --s 400",
    "a mountain village in spring --version 8.2 --hd --seed 42",
    "a paper boat on a puddle --v 8 --hd",
    "a paper boat on a puddle --v 8 --q 4",
    "a mountain village in spring --hd",
    # V7 omni reference, draft, personalization, exp [mj]
    f"a knight in ornate armor --v 7 --oref {R} --ow 400",
    f"{S} a knight in a forest --v 7 --iw 2 --oref {R}",
    "a bustling market at night --v 7 --draft",
    "a bustling market at night --v 7 --draft --ar 3:2",
    "a bustling market at night --v 7 --p",
    "a bustling market at night --v 7 --p abc123 def456",
    "a bustling market at night --v 7 --profile abc123",
    "a bustling market at night --v 7 --exp 50 --s 500",
    "a bustling market at night --v 7 --q 4",
    "a bustling market at night --v 7 --q 2 --weird 250",
    "a bustling market at night --v 7 --sref random",
    "a bustling market at night --v 7 --sref 1234567 --sv 4",
    "still life::2 fruit::1 --v 7",
    "a bustling market at night --v 7 --raw --stylize 0",
    "a bustling market at night --v 7 --tile --stop 80",
    "a bustling market at night --v 7 --repeat 4 --fast",
    "a bustling market at night --v 7 --no cars, umbrellas",
    # style codes and references [mj]
    "a bustling market at night --sref 3082173",
    "a bustling market at night --sref 3082173::2 748213::1",
    f"a bustling market at night --sref {R} {S} --sw 150",
    "a bustling market at night --style 5zsFlELcZZ",
    # V6 / 6.1 / 5.2 [mj]
    f"a hero on a rooftop --v 6.1 --cref {R} --cw 50",
    f"a hero on a rooftop --v 6 --cref {R} --cw 0",
    "a hero on a rooftop --v 6.1 --q 2 --style raw",
    "a hero on a rooftop --v 6 --q .5 --ar 1:14",
    "a hero on a rooftop --v 5.2 --q .25 --ar 30:1",
    "a hero on a rooftop --v 5.2 --style raw --weird 1000",
    # niji [mj][yc-api]
    "a magical girl in a field of flowers --niji 7",
    "a magical girl in a field of flowers --niji 7 --ar 9:16",
    "a magical girl in a field of flowers --niji 7 --sref 2837465",
    "a magical girl in a field of flowers --niji 7 --p",
    "a magical girl in a field of flowers --niji 6 --style raw",
    f"a magical girl in a field of flowers --niji 6 --cref {R}",
    "a magical girl in a field of flowers --niji 5 --style scenic",
    "a magical girl in a field of flowers --niji 5 --style cute --q .5",
    "a magical girl in a field of flowers --niji",
    # image prompts and blends [mj]
    f"{S} {R}",
    f"{S} {R} --ar 3:2 --v 8.1",
    f"{S} a cat in the style of the image --v 7 --iw 1.5",
    # Youchuan inline speeds and moodboards [yc-api]
    "a koi pond, ukiyo-e --v 7 --p mb123abc --turbo",
    "a koi pond, ukiyo-e --v 8.1 --p mb123abc --fast",
]

# Prompts that parse but warn: the sources disagree (reference ⚠) or the version is newer.
DISPUTED = [
    ("a fox --v 8.1 --weird 100", "--weird 100 may not work with --version 8.1"),
    ("a fox --v 8.1 --tile", "--tile may not work"),
    ("a fox --v 8.1 --stop 50", "--stop 50 may not work"),
    ("cat::2 dog --v 8.1", "`::` weights may not work"),
    ("a fox --v 8.1 --draft", "--draft may not work"),
    ("a fox --v 8.1 --turbo", "--turbo may not work"),
    ("a fox --v 8.1 --q 4", "Youchuan takes 1 or 4"),
    (f"{S} a fox --v 8.1 --iw 2", "--iw 2 may not work"),
    (f"{S} a fox --v 8.2 --iw 2", "--iw 2 may not work"),
    ("a fox --v 8.1 --sv 7", "--sv 7 may not work"),
    ("a fox --v 8.2 --q 4", "Ace's client offers 1 and 2"),
    ("a fox --v 8 --q 2", "Ace's client offers 1 and 4"),
    ("a fox --v 8.3 --hd", "newer than the versions mjnb knows (newest: V8.2)"),
    ("a fox --bs 2", "number of videos per job"),
]

# Version-invalid prompts: (prompt, the reason the message must give).
REFUSED = [
    ("a fox --hd --v 7", "--hd works only with version 8 or later"),
    ("a fox --hd --v 6.1", "--hd works only with version 8"),
    ("a fox --hd --niji 7", "Ace's client never sends it on niji"),
    ("a fox --hd --niji 6", "--hd works only with version 8"),
    ("a fox --v 8.1 --q 2", "quality must be 1 or 4 with --version 8.1"),
    ("a fox --v 8.1 --q .5", "quality must be 1 or 4 with --version 8.1"),
    (f"a fox --v 8.1 --cref {R}", "--cref"),
    (f"a fox --v 8.2 --cref {R}", "V7 and later use --oref"),
    (f"a fox --v 8 --cref {R}", "works only with version 6 or 6.1, or niji 6"),
    ("a fox --v 8.1 --cw 50", "--cw 50 works only with version 6"),
    (f"a fox --cref {R}", "names no model, and no current one (7, 8.1 and 8.2) takes it"),
    (f"{S} a fox --v 8 --iw 1", "V8 has no image weight"),
    ("a fox --v 7 --q .5", "quality must be 1, 2 or 4 with --version 7"),
    ("a fox --v 6.1 --q 4", "quality must be 0.5, 1 or 2 with --version 6.1"),
    ("a fox --v 6 --draft", "--draft works only with version 7 or later"),
    ("a fox --niji 6 --draft", "--draft works only with version 7"),
    (f"a fox --v 6.1 --oref {R}", "--oref"),
    ("a fox --v 6 --exp 10", "--exp 10 works only with version 7"),
    ("a fox --niji 6 --exp 10", "--exp 10 works only with version 7"),
    ("a fox --v 5.2 --sref 123", "version 6 or later"),
    ("a fox --v 5.2 --p", "--p works only with version 6"),
    ("a fox --v 5 --style raw", "version 5.1 or later"),
    ("a fox --niji 5 --raw", "niji 6 or later"),
    ("a fox --v 8.1 --style cute", "--style cute works only with niji 5"),
    ("a fox --niji 7 --style scenic", "niji 5"),
    ("a fox --v 4 --weird 5", "--weird 5 works only with version 5 or later"),
    ("a fox --v 7 --sv 7", "sv must be 1-6 with --version 7"),
    ("a fox --v 8.1 --sv 8", "sv must be 1-7"),
    (f"{S} a fox --v 5.2 --iw 3", "iw must be 0-2 with --version 5.2"),
    ("a fox --v 9", "version must be"),
    ("a fox --v 6.2", "version must be"),
    ("a fox --niji 8", "niji must be"),
    ("a fox --chaos 500", "chaos must be 0-100"),
    ("a fox --v 8.1 --ar 15:1", "ar must be between 1:14 and 14:1 with --version 8.1"),
    ("a fox --motion high", "--motion is a video parameter"),
    ("a fox --loop", "animate"),
    (f"a fox --end {R}", "animate"),
    ("a fox --video", "animate"),
    ("a fox --v 8.1 --fast --turbo", "Choose one speed"),
]


@pytest.mark.parametrize("source", CURRENT)
def test_current_prompts_parse_cleanly(source: str) -> None:
    prompt = parse_prompt(source)  # filterwarnings=error: any warning fails
    assert prompt.warnings == ()
    assert parse_prompt(str(prompt)) == prompt


@pytest.mark.parametrize(("source", "reason"), DISPUTED)
def test_disputed_prompts_are_sent_with_a_warning(source: str, reason: str) -> None:
    with pytest.warns(PromptWarning, match=re.escape(reason)):
        prompt = parse_prompt(source)
    assert any(reason in note for note in prompt.warnings)
    assert "column" in prompt.warnings[0]


@pytest.mark.parametrize(("source", "reason"), REFUSED)
def test_version_invalid_prompts_are_refused_with_their_reason(source: str, reason: str) -> None:
    with pytest.raises(PromptError) as caught:
        parse_prompt(source)
    assert reason in str(caught.value)
    assert caught.value.column is not None


def test_corpus_sizes() -> None:
    assert len(CURRENT) >= 60
    assert len(REFUSED) >= 30


# ----------------------------------------------------------------------------- IME forms

FULL_WIDTH = [
    ("a fox ——ar 16：9", "a fox --ar 16:9"),
    ("a fox —ar 16:9 –s 250", "a fox --ar 16:9 --s 250"),
    ("a fox －－ar 16：9 －s ２５０", "a fox --ar 16:9 --s 250"),
    ("a fox --ａｒ 3:2", "a fox --ar 3:2"),
    ("a fox --no red，blue、green", "a fox --no red, blue, green"),
    ("a fox --q ０．５ --v 6", "a fox --q 0.5 --v 6"),
    ("a fox --iw 0。5 --v 7", "a fox --iw 0.5 --v 7"),
    ("a fox\u3000--ar\u30003:2", "a fox --ar 3:2"),
    ("cat：：2 dog", "cat::2 dog"),
    ("一只狐狸在雪中 ——ar 16：9 ——v 8.1 ——hd", "一只狐狸在雪中 --ar 16:9 --v 8.1 --hd"),
    ("｛红，蓝｝ 狐狸 --s ｛0，250｝", "{红, 蓝} 狐狸 --s {0, 250}"),
]


@pytest.mark.parametrize(("typed", "ascii_"), FULL_WIDTH)
def test_full_width_input_parses_the_same_as_ascii(typed: str, ascii_: str) -> None:
    a, b = parse_prompt(typed), parse_prompt(ascii_)
    assert a == b
    assert str(a) == str(b) and str(a).isascii() == str(b).isascii()


def test_chinese_text_itself_is_untouched() -> None:
    p = parse_prompt("时间：下午，一只狐狸 —— 在雪中 --ar 3:2")
    assert p.text == "时间：下午，一只狐狸 —— 在雪中"
    assert parse_prompt("a poster —Bauhaus style").text == "a poster —Bauhaus style"
    with pytest.raises(PromptError, match="ar must be"):
        parse_prompt("a fox ——ar 3：0")


# ----------------------------------------------------------------------------- video


def test_video_prompts() -> None:
    p = parse_prompt("waves roll in --motion high --raw --loop --bs 2", purpose="video")
    assert p.params == {"motion": "high", "raw": True, "loop": True, "bs": 2}
    assert p.purpose == "video"
    assert str(p) == "waves roll in --motion high --raw --loop --bs 2"
    assert parse_prompt(str(p), purpose="video") == p
    assert parse_prompt("", purpose="video").params == {}
    q = parse_prompt(f"{S} a cat walks --video 1 --end loop", purpose="video")
    assert q.images == [S] and q.params == {"video": True, "loop": True}
    assert parse_prompt(f"x --end {R} --motion low", purpose="video").params["end"] == R
    with pytest.raises(PromptError, match="--loop and --end exclude each other"):
        parse_prompt(f"x --loop --end {R}", purpose="video")
    with pytest.raises(PromptError, match="motion must be low or high"):
        parse_prompt("x --motion wild", purpose="video")
    with pytest.raises(PromptError, match="bs must be 1, 2 or 4"):
        parse_prompt("x --bs 3", purpose="video")
    with pytest.warns(PromptWarning, match="video jobs take only"):
        parse_prompt("x --ar 16:9", purpose="video")


# ----------------------------------------------------------------------------- strictness


def test_unknown_parameter_names_the_escape_hatch() -> None:
    with pytest.raises(PromptError) as caught:
        parse_prompt("a fox --newthing 3")
    message = str(caught.value)
    for hatch in ("Client(strict=False)", "%config MJMagic.strict = False", "checkbox"):
        assert hatch in message


def test_strict_false_keeps_unknown_parameters_with_a_warning() -> None:
    with pytest.warns(PromptWarning, match="strict is off"):
        p = parse_prompt("a fox --newthing 3 --ar 3:2 --flag", strict=False)
    assert p.params == {"newthing": 3, "ar": "3:2", "flag": True}
    assert p.unknown == ["newthing", "flag"]
    assert str(p) == "a fox --ar 3:2 --newthing 3 --flag"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PromptWarning)
        assert parse_prompt(str(p), strict=False) == p
        assert p.with_params(s=100).params["newthing"] == 3


# ----------------------------------------------------------------------------- read API


def test_version_rules_read_api() -> None:
    v81 = version_rules("8.1")
    assert v81 is VERSIONS["8.1"] and v81.label == "V8.1" and v81.flag == "--v 8.1"
    assert v81.quality == (1, 4)
    assert v81.takes("hd") == "yes" and v81.takes("weird") == "disputed"
    assert v81.takes("cref") == "no" and v81.takes("cw") == "no"
    assert "pan left" not in v81.actions and "upscale subtle" not in v81.actions
    assert "vary region" in v81.disputed_actions
    assert "upscale 2x" in version_rules("5.2").actions
    assert "upscale creative" in version_rules("--v 6").actions
    assert version_rules("v7").quality == (1, 2, 4)
    assert version_rules("niji").name == "niji 7"
    assert version_rules("8.3").name == "8.2"
    assert version_rules(None).name == "8.2"
    assert DEFAULT_VERSION in CURRENT_VERSIONS
    with pytest.raises(PromptError, match="knows no Midjourney version"):
        version_rules("9")
    every = set(next(iter(VERSIONS.values())).features)
    assert all(set(row.features) == every for row in VERSIONS.values())


def test_the_docs_page_holds_the_generated_table() -> None:
    page = Path(__file__).resolve().parent.parent / "docs" / "prompts.md"
    text = page.read_text(encoding="utf-8")
    start, end = "<!-- versions table: generated -->\n", "<!-- end of generated table -->"
    generated = text[text.index(start) + len(start) : text.index(end)]
    assert generated.strip() == versions_markdown().strip(), (
        "docs/prompts.md drifted from the table; paste mjnb.prompt.versions_markdown() "
        "between its markers"
    )
