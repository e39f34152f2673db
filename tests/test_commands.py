"""How %mj lines read (mjnb.notebook.commands): plain functions, no shell, no client."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError

from mjnb import config
from mjnb.errors import PromptError
from mjnb.notebook.commands import (
    COMMANDS,
    USAGE,
    SweepArgs,
    one_line,
    parse_cancel,
    parse_options,
    parse_rows,
    parse_seconds,
    parse_sweep_args,
    prompt_usage_error,
    split_command,
    version_table,
)
from mjnb.notebook.form import VERSIONS


def test_split_command_knows_the_command_words_in_any_case() -> None:
    assert split_command("  wait 60 ") == ("wait", "60")
    assert split_command("Cancel all") == ("cancel", "all")
    assert split_command("pending") == ("pending", "")
    assert split_command("a red fox --ar 3:2") == (None, "a red fox --ar 3:2")
    with pytest.raises(UsageError, match="Nothing to do"):
        split_command("   ")
    for word in ("cancel", "pending", "resume", "help", "panel"):
        assert word in COMMANDS and f"%mj {word}" in USAGE


def test_parse_cancel() -> None:
    assert parse_cancel("") is None  # the last task
    assert parse_cancel(" ALL ") == "all"
    assert parse_cancel("3f2a9c") == "3f2a9c"
    with pytest.raises(UsageError, match=r"one task id or 'all'.*%mj imagine cancel culture"):
        parse_cancel("culture poster")


def test_parse_sweep_args_reads_confirm_and_max_jobs_anywhere() -> None:
    assert parse_sweep_args("--confirm a fox --seed {1, 2}") == SweepArgs(
        "a fox --seed {1, 2}", True, None
    )
    assert parse_sweep_args("a fox --max-jobs 50 --s {0, 9}") == SweepArgs(
        "a fox --s {0, 9}", False, 50
    )
    assert parse_sweep_args("--max-jobs=7 --confirm") == SweepArgs("", True, 7)
    with pytest.raises(UsageError, match="whole number of jobs, got 'x'"):
        parse_sweep_args("--max-jobs x a fox")
    with pytest.raises(UsageError, match="got '0'"):
        parse_sweep_args("--max-jobs 0")


def test_parse_options_rows_and_seconds() -> None:
    names = ("status", "since")
    options = parse_options("20 --status failed --since=2026-01-01", names, command="log")
    assert options.positional == ["20"] and options.named == {
        "status": "failed",
        "since": "2026-01-01",
    }
    assert parse_rows(options) == 20
    assert parse_rows(parse_options("", ("status",), command="log")) is None
    with pytest.raises(UsageError, match="no option --colour; it takes --status"):
        parse_options("--colour red", ("status",), command="log")
    with pytest.raises(UsageError, match="--status needs a value"):
        parse_options("--status", ("status",), command="log")
    with pytest.raises(UsageError, match="number of rows"):
        parse_rows(parse_options("cabin woods", (), command="log"))
    assert parse_seconds("2.5") == 2.5
    for bad in ("soon", "0", "-3", "nan"):
        with pytest.raises(UsageError, match="number of seconds"):
            parse_seconds(bad)


def test_errors_become_one_line() -> None:
    assert one_line("a\n  b\tc ") == "a b c"
    error = prompt_usage_error(PromptError("bad\nthing", column=4), "Line 2: ")
    assert str(error) == "Line 2: bad thing (at column 4)"


def test_version_table_lists_every_version_of_the_prompt_table() -> None:
    from mjnb.prompt import DEFAULT_VERSION
    from mjnb.prompt import VERSIONS as TABLE

    table = version_table()
    for rules in TABLE.values():  # every menu model among them: the menu is a subset
        assert f"  {rules.label} " in table
    for value in VERSIONS.values():
        assert value is None or value in TABLE

    def row(label: str) -> str:
        return next(line for line in table.splitlines() if line.strip().startswith(label + " "))

    v81 = row("V8.1")
    assert TABLE[DEFAULT_VERSION].label == "V8.1" and "(default)" in v81
    # V8.1's doubts are warned about, not refused; it takes --hd
    assert "⚠" in v81 and "--weird" in v81.split("⚠")[1] and "--q" in v81.split("⚠")[1]
    assert "--hd" not in v81
    assert "--hd" in row("V7").split("✗")[1] and "--hd" in row("niji 6")
    assert "--q 1 2 4" in row("V7")  # the --q values of the table


def test_settings_ranges_are_defined_once_and_checked() -> None:
    assert config.RANGES["thumbnail_size"].low == 32
    assert 80 in config.RANGES["jpeg_quality"] and 96 not in config.RANGES["jpeg_quality"]
    assert str(config.RANGES["jpeg_quality"]) == "20-95"
    with pytest.raises(config.ConfigError, match="thumbnail_size must be 32-2048, got 10"):
        config.settings(thumbnail_size=10)
    with pytest.raises(config.ConfigError, match="positive number"):
        config.settings(max_jobs="many")
    assert config.settings().strict is True and config.settings().translate is False


# ----------------------------------------------------------------------- video, editor


def test_the_media_commands_are_command_words_and_in_the_usage() -> None:
    from mjnb.notebook.commands import COMMANDS, USAGE

    for word in ("animate", "extend", "video", "seed"):
        assert word in COMMANDS and f"%mj {word}" in USAGE
    assert split_command("Animate high 3f2a") == ("animate", "high 3f2a")
    for form in ("%mj vary region", "%mj upscale video", "%mj describe <url|path>"):
        assert form in USAGE


def test_parse_animate() -> None:
    from mjnb.notebook.commands import AnimateArgs, parse_animate

    assert parse_animate("low") == AnimateArgs("low")
    assert parse_animate("HIGH 3f2a") == AnimateArgs("high", "3f2a")
    assert parse_animate("high --index 2 --batch 4 --loop") == AnimateArgs(
        "high", None, index=2, batch=4, loop=True
    )
    assert parse_animate("--loop low 3f2a --batch=2") == AnimateArgs("low", "3f2a", None, 2, True)


@pytest.mark.parametrize(
    ("rest", "message"),
    [
        ("", "takes the motion first: low or high (e.g. %mj animate high)"),
        ("fast", "low or high, got 'fast'"),
        ("3f2a high", "low or high, got '3f2a'"),
        ("high --batch 3", "--batch takes 1 or 2 or 4, got '3'"),
        ("high --index 0", "--index takes 1 or 2 or 3 or 4, got '0'"),
        ("high --index", "--index needs a value"),
        ("high --motion low", "has no option --motion"),
        ("high a b", "at most one task id"),
    ],
)
def test_bad_animate_lines_are_one_line(rest: str, message: str) -> None:
    from mjnb.notebook.commands import parse_animate

    with pytest.raises(UsageError) as caught:
        parse_animate(rest)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_parse_extend() -> None:
    from mjnb.notebook.commands import ExtendArgs, parse_extend

    assert parse_extend("low") == ExtendArgs("low")
    assert parse_extend("high 3f2a --index 2") == ExtendArgs("high", "3f2a", 2)
    with pytest.raises(UsageError, match="low or high"):
        parse_extend("")
    with pytest.raises(UsageError, match="has no option --batch"):
        parse_extend("low --batch 2")


def test_parse_video_takes_a_path_or_a_url_and_the_video_parameters(tmp_path: Any) -> None:
    from PIL import Image

    from mjnb.notebook.commands import VideoArgs, parse_video

    Image.new("RGB", (16, 16)).save(tmp_path / "start.png")
    got = parse_video("start.png waves roll in --motion high --loop --bs 2", cwd=tmp_path)
    assert got == VideoArgs(
        str(tmp_path / "start.png"), "waves roll in", "high", loop=True, batch=2
    )
    assert parse_video("https://x.test/a.png a fox --raw") == VideoArgs(
        "https://x.test/a.png", "a fox", raw=True
    )
    spaced = tmp_path / "my start.png"
    Image.new("RGB", (16, 16)).save(spaced)
    assert parse_video(f"'{spaced}' waves").image == str(spaced)
    ended = parse_video("https://x.test/a.png waves --end https://x.test/b.png")
    assert ended.end == "https://x.test/b.png" and ended.prompt == "waves"


@pytest.mark.parametrize(
    ("rest", "message"),
    [
        ("", "Write the start image and a prompt after %mj video"),
        ("./nope.png waves", "there is no file './nope.png'"),
        ("ftp://x/a.png waves", "neither an http(s) URL nor a file"),
        ("https://x.test/a.png waves --motion fast", "motion must be low or high"),
        ("https://x.test/a.png waves --bs 3", "bs must be 1, 2 or 4"),
    ],
)
def test_bad_video_lines_are_one_line(rest: str, message: str, tmp_path: Any) -> None:
    from mjnb.notebook.commands import parse_video

    with pytest.raises(UsageError) as caught:
        parse_video(rest, cwd=tmp_path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_image_arg_and_parse_seed(tmp_path: Any) -> None:
    from mjnb.notebook.commands import image_arg, parse_seed

    (tmp_path / "cat.png").write_bytes(b"x")
    assert image_arg("cat.png", command="describe", cwd=tmp_path) == str(tmp_path / "cat.png")
    assert image_arg("https://x.test/c.png", command="describe") == "https://x.test/c.png"
    with pytest.raises(UsageError, match=r"there is no file 'dog\.png'"):
        image_arg("dog.png", command="describe", cwd=tmp_path)
    assert parse_seed("") is None and parse_seed(" 3f2a ") == "3f2a"
    with pytest.raises(UsageError, match="at most one task id"):
        parse_seed("a b")
