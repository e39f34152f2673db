"""The panel's form (mjnb.notebook.form): plain data to prompt text, no widgets."""

from __future__ import annotations

import pytest

from mjnb.errors import PromptError
from mjnb.notebook.form import (
    VERSIONS,
    Form,
    build_prompt,
    compose_prompt,
    disabled_controls,
    form_from_prompt,
)
from mjnb.prompt import version_rules


def test_the_model_menu_lists_todays_models() -> None:
    assert list(VERSIONS) == ["default", "v8.2", "v8.1", "v7", "v6.1", "niji 7", "niji 6"]
    for version in VERSIONS.values():  # every menu model is a row of the version table
        disabled_controls(version)


def test_disabled_controls_are_read_from_the_version_table() -> None:
    for version in (v for v in VERSIONS.values() if v is not None):
        rules = version_rules(version)
        off = disabled_controls(version)
        for name in ("weird", "tile", "stop", "quality", "draft", "iw", "oref", "cref"):
            assert (name in off) == (rules.takes(name) in ("no", "disputed")), (version, name)
        assert ("hd" in off) == (rules.takes("hd") != "yes"), version
    # no model chosen: only what no current version takes is off
    assert "weird" not in disabled_controls(None) and "quality" not in disabled_controls(None)


def test_controls_the_model_does_not_take_are_disabled_and_write_nothing() -> None:
    assert {"weird", "tile", "stop", "quality"} <= disabled_controls("8.1")
    assert "hd" in disabled_controls("7") and "hd" in disabled_controls("niji 6")
    assert "hd" not in disabled_controls("8.2") and "hd" not in disabled_controls(None)
    # weird on V8.1 and HD on V7 are dropped, not sent
    assert compose_prompt(Form(text="a fox", version="8.1", weird=500)) == "a fox --version 8.1"
    assert build_prompt(Form(text="a fox", version="7", hd=True)) == "a fox --version 7"
    assert build_prompt(Form(text="a fox", version="7", weird=500)) == (
        "a fox --weird 500 --version 7"
    )


def test_hd_and_v8_versions_are_written() -> None:
    # only the text: the parser on this branch does not know --hd / 8.2 yet
    text = compose_prompt(Form(text="a fox", version="8.1", hd=True))
    assert text.startswith("a fox ") and "--version 8.1" in text and "--hd" in text.split()
    text = compose_prompt(Form(text="a fox", version="8.2", hd=True, stylize=250))
    assert "--version 8.2" in text and "--hd" in text.split() and "--stylize 250" in text
    assert compose_prompt(Form(text="a fox", version="niji 7")) == "a fox --niji 7"


def test_a_disabled_parameter_stays_in_the_text_when_loaded() -> None:
    form = form_from_prompt("a fox --v 8.1 --weird 10")
    assert form.version == "8.1" and form.weird == 0
    assert "--weird 10" in form.text  # nothing is lost on the way back


def test_strict_and_translate_are_no_prompt_text() -> None:
    assert build_prompt(Form(text="a fox", translate=True)) == "a fox"
    with pytest.raises(PromptError, match=r"(?i)unrecognized|unknown"):
        build_prompt(Form(text="a fox --foo 2"))
