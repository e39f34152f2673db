"""The %mj magic, driven through a real IPython shell whose run_cell raises (like JupySQL's).

Jobs run on the embedded simulator (provider "local") with 0.3 s latency. Displays are
captured with IPython's own capture_output (the MIME bundles a kernel would send).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, RichOutput, capture_output
from traitlets.config import Config

import mjnb
from mjnb import config
from mjnb.notebook.commands import parse_action
from mjnb.notebook.magic import (
    MJMagic,
    TaskBatch,
    load_ipython_extension,
    unload_ipython_extension,
)
from mjnb.sweep import Sweep
from mjnb.task import Task
from tests.conftest import CANARY

WIDGET = "application/vnd.jupyter.widget-view+json"


class TestingShell:
    """The process's IPython shell with a ``run_cell`` that raises the cell's exception
    (UsageError included), like JupySQL's TestingShell. Everything else is the shell's.

    It wraps ``InteractiveShell.instance()`` instead of subclassing it, so it shares the
    one shell a process may have with other test modules.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, shell: InteractiveShell) -> None:
        self.shell = shell

    def run_cell(self, source: str) -> Any:
        result = self.shell.run_cell(source)
        result.raise_error()
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.shell, name)


@pytest.fixture(scope="session")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InteractiveShell]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
        cfg = Config()
        cfg.HistoryManager.hist_file = ":memory:"
        yield InteractiveShell.instance(config=cfg)


@pytest.fixture
def ip(shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestingShell]:
    """The shell with ``%load_ext mjnb`` done, unloaded (and settings forgotten) after."""
    monkeypatch.setenv("MJNB_SIM_LATENCY", "0.3")
    testing = TestingShell(shell)
    testing.run_cell("%load_ext mjnb")
    yield testing
    try:
        for client in magic_of(shell).clients:
            client.wait_all(timeout=30)  # leave no task running into the next test
    finally:
        unload_ipython_extension(shell)
        if shell.extension_manager is not None:
            shell.extension_manager.loaded.discard("mjnb")
        shell.user_ns.pop("t", None)
        shell.config.pop("MJMagic", None)  # %config values live on in the shell's config


def magic_of(shell: InteractiveShell | TestingShell) -> MJMagic:
    magic = shell._mjnb_magic  # type: ignore[attr-defined]
    assert isinstance(magic, MJMagic)
    return magic


@dataclass
class Ran:
    value: Any
    io: CapturedIO

    @property
    def outputs(self) -> list[RichOutput]:
        return self.io.outputs

    @property
    def displays(self) -> list[RichOutput]:
        """New outputs (not updates of earlier ones)."""
        return [o for o in self.io.outputs if not o.update]

    @property
    def updates(self) -> list[RichOutput]:
        return [o for o in self.io.outputs if o.update]


def run(ip: TestingShell, source: str) -> Ran:
    with capture_output() as captured:
        result = ip.run_cell(source)
    return Ran(result.result, captured)


def usage_error(ip: TestingShell, source: str) -> str:
    """Run a cell that must fail at the magic boundary; returns the one line it printed."""
    with capture_output() as captured, pytest.raises(UsageError) as info:
        ip.run_cell(source)
    message = str(info.value)
    assert "\n" not in message
    assert captured.stderr.strip() == f"UsageError: {message}"  # one line, no traceback
    assert captured.outputs == []
    return message


def sent(ip: TestingShell) -> int:
    """How many tasks this kernel's magic has started (on any client)."""
    return sum(len(c.tasks) for c in magic_of(ip).clients)


# --------------------------------------------------------------------------- loading


def test_load_ext_registers_the_magic_and_its_settings(ip: TestingShell) -> None:
    magics = ip.magics_manager.magics
    assert "mj" in magics["line"] and "mj" in magics["cell"]
    assert magic_of(ip) in ip.configurables
    listing = run(ip, "%config MJMagic").io.stdout
    for name in ("provider", "base_url", "max_concurrency", "poll_interval", "max_jobs"):
        assert f"MJMagic.{name}=" in listing
    assert "MJMagic.thumbnail_size=<Int>" in listing and "Longest side" in listing
    assert "Current: 'local'" in listing
    assert "Current: 0.3" in listing  # sim_latency shows the environment's value
    run(ip, "%load_ext mjnb")  # loading twice is harmless
    assert sum(isinstance(c, MJMagic) for c in ip.configurables) == 1


def test_config_sets_mjnb_settings_and_unload_forgets_them(ip: TestingShell) -> None:
    run(ip, "%config MJMagic.max_concurrency = 2")
    run(ip, "%config MJMagic.provider = 'MJProxy'")
    assert config.settings().max_concurrency == 2
    assert config.settings().provider == "mjproxy"
    run(ip, "%config MJMagic.provider = 'local'")
    assert magic_of(ip).client.settings.max_concurrency == 2
    unload_ipython_extension(ip.shell)
    assert config.settings().max_concurrency == 3
    assert "mj" not in ip.magics_manager.magics["line"]
    load_ipython_extension(ip.shell)  # for the fixture's teardown


# -------------------------------------------------------------------- imagine and act


def test_prompt_shows_a_card_and_returns_the_task(ip: TestingShell) -> None:
    ran = run(ip, "t = %mj a red fox --ar 3:2 --seed 7")
    task = ip.user_ns["t"]
    assert isinstance(task, Task) and task.status in ("queued", "running")
    assert task.job.prompt == "a red fox --ar 3:2 --seed 7"
    [card] = ran.displays
    assert WIDGET in card.data and card.transient["display_id"]
    assert card.data["text/plain"].startswith(("[queued", "[running"))
    assert "image/jpeg" not in card.data

    waited = run(ip, "%mj wait")
    assert waited.io.stdout == "All 1 task has ended: 1 succeeded.\n"
    [update] = waited.updates  # the card's output now holds the final static state
    assert update.transient["display_id"] == card.transient["display_id"]
    assert update.data["text/plain"].startswith(f"[succeeded] {task.id} imagine on local")
    assert "image/png" not in update.data
    jpeg = base64.b64decode(update.data["image/jpeg"])
    assert jpeg[:3] == b"\xff\xd8\xff" and len(jpeg) < 40_000

    assert run(ip, "%mj wait").updates == []  # published once


def test_bare_prompt_shows_one_card_and_the_value_shows_a_new_one(ip: TestingShell) -> None:
    ran = run(ip, "%mj a red fox --seed 1")
    assert len(ran.displays) == 1  # the returned Task does not show a second time
    assert isinstance(ran.value, Task)
    ip.user_ns["t"] = ran.value
    again = run(ip, "t")  # a Task as a cell's value is a live card
    assert len(again.displays) == 1 and WIDGET in again.displays[0].data
    assert f"] {ran.value.id} imagine" in again.displays[0].data["text/plain"]


def test_actions_on_the_last_task_and_by_id(ip: TestingShell) -> None:
    grid = run(ip, "t = %mj a red fox --ar 3:2 --seed 7").value
    assert grid is None  # an assignment shows no value
    grid = ip.user_ns["t"]
    run(ip, "%mj wait")
    upscale = run(ip, "%mj U2").value
    assert upscale.action == "U2" and upscale.parent_id == grid.id
    other = run(ip, f"%mj v3 {grid.id[:6]}").value  # any case, an id prefix
    assert other.action == "V3" and other.parent_id == grid.id
    run(ip, "%mj wait")
    assert run(ip, "%mj U1").value.parent_id == other.id  # the last task is now V3's grid
    message = usage_error(ip, "%mj zoom 2x")  # U1 not finished yet
    assert "still" in message and "%mj wait" in message
    run(ip, "%mj wait")
    zoom = run(ip, "%mj zoom 2x").value  # multi-word labels
    assert zoom.action == "zoom 2x"
    vary = run(ip, f"%mj vary strong {upscale.id}").value
    assert vary.action == "vary strong" and vary.parent_id == upscale.id
    assert run(ip, "%mj wait").io.stdout == "All 6 tasks have ended: 6 succeeded.\n"


def testparse_action() -> None:
    assert parse_action("U2") == ("U2", None)
    assert parse_action("u2 3f2a9c") == ("U2", "3f2a9c")
    assert parse_action("zoom 1.5x") == ("zoom 1.5x", None)
    assert parse_action("pan left 3f2a9c") == ("pan left", "3f2a9c")
    assert parse_action("Reroll") == ("reroll", None)
    assert parse_action("a red fox") is None
    assert parse_action("pan dulce on a plate") is None  # more than three words: a prompt
    assert parse_action("square tower --ar 1:2") is None  # parameters: a prompt
    with pytest.raises(UsageError, match=r"Unknown action 'U5'.*%mj imagine U5"):
        parse_action("U5")
    with pytest.raises(UsageError, match=r"Unknown action 'zoom 3x'"):
        parse_action("zoom 3x")


# ----------------------------------------------------------------------------- errors


def test_errors_are_one_line_and_send_nothing(
    ip: TestingShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = usage_error(ip, "%mj a red fox --s 5000")
    assert message == "stylize must be 0-1000, got 5000 (--s 5000 at column 11)."
    assert "column 7" in usage_error(ip, "%mj a fox --foo 2")
    assert "There is no task to U2 yet" in usage_error(ip, "%mj U2")
    assert "Unknown action 'U5'" in usage_error(ip, "%mj U5")
    assert "Unknown action 'pan sideways'" in usage_error(ip, "%mj pan sideways")
    message = usage_error(ip, "%mj U2 deadbeef0000")
    assert "No task 'deadbeef0000'" in message
    assert "%mj imagine square tower" in usage_error(ip, "%mj square tower")
    assert "Nothing to do" in usage_error(ip, "%mj")
    assert sent(ip) == 0

    run(ip, "%mj a red fox --seed 2")
    run(ip, "%mj wait")
    message = usage_error(ip, "%mj zoom 2x")  # a grid offers U/V/reroll, not zoom
    assert "does not offer 'zoom 2x'" in message and "U1" in message
    assert sent(ip) == 1

    run(ip, "%config MJMagic.provider = 'acedata'")
    assert "MJNB_ACEDATA_TOKEN" in usage_error(ip, "%mj a red fox")
    monkeypatch.setenv("MJNB_METACHAT_APP_ID", "app")
    run(ip, "%config MJMagic.provider = 'metachat'")
    assert "MJNB_METACHAT_API_KEY" in usage_error(ip, "%%mj\na red fox\na blue whale\n")
    run(ip, "%config MJMagic.provider = 'local'")
    assert sent(ip) == 1


def test_a_local_reference_in_a_magic_line_is_uploaded_or_refused_in_one_line(
    ip: TestingShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (64, 64), (230, 60, 20)).save(tmp_path / "robot.jpg", "JPEG")
    message = usage_error(ip, "%mj a fox --sref ./gone.png --v 7")
    assert message.startswith("--sref ./gone.png names no file") and "nothing was sent" in message
    assert sent(ip) == 0
    run(ip, "t = %mj a robot barista --oref ~/robot.jpg --ow 100 --v 7")
    task = ip.user_ns["t"]
    assert task.wait(30).status == "succeeded", task.error
    assert task.job.parsed.params["oref"].startswith("http")  # uploaded, then sent as a URL
    assert task.prompt.params["oref"] == "~/robot.jpg"  # the log keeps the path


def test_usage_error_in_a_cell_stops_the_cell(ip: TestingShell) -> None:
    with capture_output(), pytest.raises(UsageError):
        ip.run_cell("%mj a fox --ar banana\nafter = 1")
    assert "after" not in ip.user_ns


# ----------------------------------------------------------------- sweeps and batches


def test_permutation_prompt_starts_a_sweep(ip: TestingShell) -> None:
    ran = run(ip, "%mj a red fox --seed {1, 2} --s {0, 500}")
    sweep = ran.value
    assert isinstance(sweep, Sweep) and len(sweep.cells) == 4
    [view] = ran.displays
    assert view.data["text/plain"].startswith("[sweep ") and sweep.id in view.data["text/plain"]
    waited = run(ip, "%mj wait")
    assert waited.io.stdout == "All 4 tasks have ended: 4 succeeded.\n"
    [update] = waited.updates
    assert update.data["text/plain"].startswith("[sweep 4/4 done]")
    assert "image/jpeg" in update.data and "image/png" not in update.data


def test_sweep_over_max_jobs_needs_confirm(ip: TestingShell) -> None:
    run(ip, "%config MJMagic.max_jobs = 3")
    message = usage_error(ip, "%mj a fox --seed {1, 2} --s {0, 500}")
    assert "4 jobs" in message and "%mj sweep --confirm a fox" in message
    assert sent(ip) == 0
    sweep = run(ip, "%mj sweep --confirm a fox --seed {1, 2} --s {0, 500}").value
    assert len(sweep.tasks) == 4
    assert "--max-jobs" in usage_error(ip, "%mj sweep --max-jobs x a fox --seed {1, 2}")
    plan = run(ip, "%mj plan a fox --seed {1, 2, 3}").value
    assert plan.jobs == 3 and sent(ip) == 4


def test_cell_magic_submits_one_prompt_per_line(ip: TestingShell) -> None:
    ran = run(ip, "%%mj\na red fox --seed 1\n\n# a comment\na blue whale --ar 16:9\n")
    batch = ran.value
    assert isinstance(batch, TaskBatch) and len(batch) == 2
    assert [t.job.prompt for t in batch] == ["a red fox --seed 1", "a blue whale --ar 16:9"]
    assert len(ran.displays) == 2  # one card each (each keeps its own static output)
    assert run(ip, "%mj wait").io.stdout == "All 2 tasks have ended: 2 succeeded.\n"


def test_cell_magic_validates_every_line_first(ip: TestingShell) -> None:
    message = usage_error(ip, "%%mj\na red fox\na blue whale --s 5000\n")
    assert message.startswith("Line 2: stylize must be 0-1000")
    assert "Line 1 has permutations" in usage_error(ip, "%%mj\na {red, blue} fox\n")
    assert "no prompt" in usage_error(ip, "%%mj\n# nothing\n\n")
    assert "takes no options" in usage_error(ip, "%%mj --fast\na fox\n")
    assert sent(ip) == 0


# ------------------------------------------------------------------ the other commands


def test_log_returns_the_dataframe(ip: TestingShell) -> None:
    run(ip, "%%mj\na red fox --seed 1\na pool of gore\na blue whale\n")
    run(ip, "%mj wait")
    frame = run(ip, "%mj log").value
    assert isinstance(frame, pd.DataFrame) and len(frame) == 3
    assert {"task_id", "prompt", "status", "seed"} <= set(frame.columns)
    assert len(run(ip, "%mj log 2").value) == 2
    failed = run(ip, "%mj log --status failed").value
    assert list(failed["status"]) == ["failed"]
    assert "--colour" in usage_error(ip, "%mj log --colour red")
    assert "number of rows" in usage_error(ip, "%mj log cabin in the woods")


def test_wait_with_a_timeout(ip: TestingShell, monkeypatch: pytest.MonkeyPatch) -> None:
    run(ip, "%config MJMagic.sim_latency = 3")
    run(ip, "%mj a slow fox")
    assert "still running after 0.05 s" in usage_error(ip, "%mj wait 0.05")
    assert "number of seconds" in usage_error(ip, "%mj wait soon")


def test_wait_covers_tasks_of_other_clients_in_the_kernel(
    ip: TestingShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MJNB_SIM_LATENCY", "1.2")
    other = mjnb.Client()  # a client made in a cell, not through %mj
    task = other.imagine("a fox made by hand --seed 9")
    ran = run(ip, "%mj wait")
    assert task.done and task.status == "succeeded"
    assert ran.io.stdout == "All 1 task has ended: 1 succeeded.\n"


def test_describe_and_blend(ip: TestingShell) -> None:
    grid = run(ip, "%mj a red fox --seed 3").value
    run(ip, "%mj wait")
    url = grid.image_url
    described = run(ip, f"%mj describe {url}").value
    assert described.action == "describe"
    blended = run(ip, f"%mj blend {url} {url} --dimensions portrait").value
    assert blended.action == "blend" and blended.job.dimensions == "portrait"
    assert "2 to 5 image" in usage_error(ip, f"%mj blend {url}")
    assert "one image URL" in usage_error(ip, "%mj describe")
    assert run(ip, "%mj wait").io.stdout == "All 3 tasks have ended: 3 succeeded.\n"
    assert len(described.descriptions) == 4


def test_providers_table_never_shows_secrets(
    ip: TestingShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MJNB_ACEDATA_TOKEN", CANARY)
    table = run(ip, "%mj providers").value
    assert list(table["provider"]) == list(config.PROVIDER_NAMES)
    rows = table.set_index("provider")
    assert rows.loc["acedata", "credentials"] == "set"
    assert rows.loc["zhishuyun", "credentials"] == "missing MJNB_ZHISHUYUN_TOKEN"
    assert rows.loc["local", "credentials"] == "none needed"
    assert rows.loc["local", "current"]
    assert "MJNB_METACHAT_API_KEY" in rows.loc["metachat", "variables"]
    assert rows.loc["acedata", "base_url"].startswith("https://")
    assert CANARY not in table.to_string() and CANARY not in table.to_html()


def test_help_lists_the_forms_and_the_parameters(ip: TestingShell) -> None:
    text = run(ip, "%mj help").io.stdout
    for form in ("%mj <prompt>", "%mj U2", "%mj wait", "%mj log", "%%mj", "%mj providers"):
        assert form in text
    assert "--stylize [--s]" in text and "--ar [--aspect]" in text


def test_panel(ip: TestingShell) -> None:
    assert len(run(ip, "%mj panel").displays) == 1


def test_logged_task_from_another_session_can_be_acted_on(ip: TestingShell, tmp_path: Path) -> None:
    first = mjnb.Client(home=config.settings().home)
    grid = first.imagine("a red fox --seed 9").wait(timeout=30)
    child = run(ip, f"%mj U1 {grid.id}").value  # found through the log
    assert child.parent_id == grid.id
    run(ip, "%mj wait")
    assert child.status == "succeeded"


# ------------------------------------------------------------- views, cancel, resume


def test_view_settings_reach_every_view_the_panels_too(ip: TestingShell) -> None:
    run(ip, "%config MJMagic.jpeg_quality = 31")
    run(ip, "%config MJMagic.thumbnail_size = 96")
    panel = mjnb.Panel(client=magic_of(ip).client)  # made in a cell, as a user would
    assert panel.views is magic_of(ip).views
    panel.prompt.value = "a red fox --seed 4"
    task = panel.send_prompt()
    card = panel.gallery.children[0]
    assert (card.quality, card.thumbnail_size) == (31, 96)  # type: ignore[attr-defined]
    task.wait(timeout=30)
    card.flush()  # type: ignore[attr-defined]
    assert card.thumbnail == task.thumbnail(96, 31)  # type: ignore[attr-defined]
    run(ip, "%config MJMagic.jpeg_quality = 44")  # applies to the next view at once
    sweep = run(ip, "%mj a fox --seed {1, 2}").value
    [view] = [v for v in magic_of(ip).outputs.sweep_views if v.sweep is sweep]
    assert (view.quality, view.cell_size) == (44, 64)


def test_settings_ranges_come_from_config(ip: TestingShell) -> None:
    traits = MJMagic.class_traits(config=True)
    ranged = [name for name in config.RANGES if name in traits]
    assert len(ranged) == 7  # every numeric trait but none of the magic's own
    for name in ranged:
        bounds = config.RANGES[name]
        assert (traits[name].min, traits[name].max) == (bounds.low, bounds.high), name
    listing = run(ip, "%config MJMagic").io.stdout
    assert "MJMagic.strict=<Bool>" in listing and "MJMagic.translate=<Bool>" in listing
    run(ip, "%config MJMagic.strict = False")
    assert config.settings().strict is False
    run(ip, "%config MJMagic.translate = True")
    assert config.settings().translate is True


def warning_lines(ran: Ran) -> list[str]:
    """The PromptWarning lines a cell printed (stderr), checking there is nothing else."""
    lines = ran.io.stderr.splitlines()
    assert "Traceback" not in ran.io.stderr
    assert all(line.startswith("PromptWarning: ") for line in lines), lines
    return lines


def test_unknown_parameters_name_the_escape_hatch_then_are_sent_with_one_line(
    ip: TestingShell,
) -> None:
    message = usage_error(ip, "%mj a fox --foo 2")
    for hatch in ("Client(strict=False)", "%config MJMagic.strict = False", "strict checkbox"):
        assert hatch in message
    assert sent(ip) == 0
    run(ip, "%config MJMagic.strict = False")
    ran = run(ip, "t = %mj a fox --foo 2")
    task = ip.user_ns["t"]
    assert isinstance(task, Task) and task.job.prompt == "a fox --foo 2"
    [line] = warning_lines(ran)
    assert "--foo" in line and "strict is off" in line
    # %%mj and sweeps too; a sweep's cells repeat the doubt, it is shown once
    ran = run(ip, "%%mj\na wolf --foo 3")
    assert len(warning_lines(ran)) == 1 and ran.value[0].job.prompt == "a wolf --foo 3"
    ran = run(ip, "%mj a hare --foo 4 --s {0, 500}")
    assert isinstance(ran.value, Sweep) and len(warning_lines(ran)) == 1


def test_configure_strict_reaches_the_magic(ip: TestingShell) -> None:
    mjnb.configure(strict=False)
    try:
        ran = run(ip, "%mj a fox --foo 2")
        assert ran.value.job.prompt == "a fox --foo 2" and len(warning_lines(ran)) == 1
    finally:
        mjnb.configure(strict=None)


def test_a_newer_minor_is_sent_with_one_warning_line(ip: TestingShell) -> None:
    ran = run(ip, "%mj a fox --v 8.3 --hd")
    [line] = warning_lines(ran)
    assert "8.3" in line and "newer" in line and "V8.2" in line
    assert "--version 8.3" in ran.value.job.prompt


def test_translate_goes_on_the_jobs_the_magic_sends(ip: TestingShell) -> None:
    run(ip, "%config MJMagic.translate = True")
    task = run(ip, "%mj 一只狐狸").value
    assert task.job.translate is True and magic_of(ip).client.session.translate is True


def test_cancel_bad_input_is_one_line_and_names_the_id(ip: TestingShell) -> None:
    assert "There is no task to cancel yet" in usage_error(ip, "%mj cancel")
    assert "deadbeef0000" in usage_error(ip, "%mj cancel deadbeef0000")
    assert "one task id or 'all'" in usage_error(ip, "%mj cancel culture poster")
    assert "takes nothing" in usage_error(ip, "%mj pending now")
    assert "only --confirm" in usage_error(ip, "%mj resume a fox")
    assert sent(ip) == 0


def test_cancel_a_queued_task_and_a_finished_one(ip: TestingShell) -> None:
    run(ip, "%config MJMagic.max_concurrency = 1")
    run(ip, "%config MJMagic.sim_latency = 2")
    first = run(ip, "%mj a slow fox").value
    queued = run(ip, "%mj a queued fox").value
    out = run(ip, f"%mj cancel {queued.id[:8]}").io.stdout.strip()
    assert out and "\n" not in out
    assert queued.status == "cancelled"  # never sent: dropped at once
    first.wait(timeout=30)
    run(ip, "pass")  # the cell after a task ends shows its final card
    message = usage_error(ip, f"%mj cancel {first.id}")  # finished: one line saying so
    assert first.id in message and "nothing to cancel" in message
    assert "Nothing is running" in run(ip, "%mj cancel all").io.stdout


def test_cancel_all_stops_sweeps_and_tasks(ip: TestingShell) -> None:
    run(ip, "%config MJMagic.max_concurrency = 1")
    run(ip, "%config MJMagic.sim_latency = 2")
    sweep = run(ip, "%mj a fox --seed {1, 2, 3, 4}").value
    out = run(ip, "%mj cancel all").io.stdout.strip()
    assert out
    sweep.wait(timeout=30)
    assert sum(t.status == "cancelled" for t in sweep.tasks) >= 3


def test_pending_and_resume_with_nothing_interrupted(ip: TestingShell) -> None:
    frame = run(ip, "%mj pending").value
    assert isinstance(frame, pd.DataFrame) and frame.empty
    assert {"sweep_id", "task_id", "prompt", "action", "cell"} <= set(frame.columns)
    assert "nothing to resume" in usage_error(ip, "%mj resume").lower()
    assert sent(ip) == 0


def test_help_shows_the_version_table(ip: TestingShell) -> None:
    text = run(ip, "%mj help").io.stdout
    assert "Model versions" in text and "V8.1 (default)" in text and "niji 7" in text
    assert "TODO" not in text and "placeholder" not in text.lower()
    for form in ("%mj cancel", "%mj pending", "%mj resume"):
        assert form in text


# -------------------------------------------------------------------- video and the editor


def test_animate_and_extend_the_last_task(ip: TestingShell) -> None:
    run(ip, "%mj a red fox --seed 3")
    run(ip, "%mj wait")
    up = run(ip, "%mj U2").value
    run(ip, "%mj wait")
    ran = run(ip, "%mj animate high --batch 2 --loop")
    clip = ran.value
    assert clip.kind == "video" and clip.parent_id == up.id
    assert clip.job.motion == "high" and clip.job.batch == 2 and clip.job.loop
    assert len(ran.displays) == 1  # its card
    run(ip, "%mj wait")
    assert clip.status == "succeeded", clip.error
    assert len(clip.videos) == 2
    longer = run(ip, "%mj extend low --index 2").value
    assert longer.kind == "video" and longer.parent_id == clip.id and longer.job.index == 2
    run(ip, "%mj wait")
    assert longer.status == "succeeded", longer.error
    other = run(ip, f"%mj animate low {up.id[:6]}").value
    assert other.parent_id == up.id and other.job.motion == "low"
    run(ip, "%mj wait")


def test_media_commands_bad_input_is_one_line_and_sends_nothing(
    ip: TestingShell, tmp_path: Path
) -> None:
    assert "There is no task to animate yet" in usage_error(ip, "%mj animate high")
    assert "low or high, got 'fast'" in usage_error(ip, "%mj animate fast")
    assert "--batch takes 1 or 2 or 4, got '3'" in usage_error(ip, "%mj animate low --batch 3")
    assert "There is no task to extend yet" in usage_error(ip, "%mj extend low")
    assert "there is no file" in usage_error(ip, "%mj video ./nope.png waves --motion high")
    assert "motion must be low or high" in usage_error(
        ip, "%mj video https://x.test/a.png waves --motion fast"
    )
    assert "there is no file './cat.png'" in usage_error(ip, "%mj describe ./cat.png")
    assert "There is no task to seed yet" in usage_error(ip, "%mj seed")
    assert "There is no task to vary region yet" in usage_error(ip, "%mj vary region")
    assert sent(ip) == 0
    grid = run(ip, "%mj a red fox --seed 4").value
    run(ip, "%mj wait")
    message = usage_error(ip, "%mj extend low")  # a grid is no clip
    assert grid.id in message or "clip" in message or "extend" in message
    assert sent(ip) == 1


def test_video_from_a_local_image_and_describe_blend_of_paths(
    ip: TestingShell, tmp_path: Path
) -> None:
    from PIL import Image

    start = tmp_path / "start.png"
    Image.new("RGB", (128, 96), (200, 80, 40)).save(start)
    cat = tmp_path / "cat.png"
    Image.new("RGB", (96, 96), (20, 80, 140)).save(cat)
    ip.run_cell(f"import os; os.chdir({str(tmp_path)!r})")
    run(ip, "%config MJMagic.provider = 'local'")
    # Ace's protocol uploads local images first, then sends their URLs
    clip = run(ip, "%mj video ./start.png waves roll in --motion high").value
    described = run(ip, "%mj describe ./cat.png").value
    blended = run(ip, "%mj blend cat.png start.png").value
    run(ip, "%mj wait")
    for task in (clip, described, blended):
        assert task.status == "succeeded", task.error
        assert all(not url.startswith("data:") for url in task.job.images)
    assert clip.videos and described.descriptions and blended.image.size[0] > 0
    assert sent(ip) == 3


def test_vary_region_opens_the_painter_and_submit_starts_the_task(ip: TestingShell) -> None:
    import io

    from PIL import Image, ImageDraw

    run(ip, "%mj a red fox --seed 5")
    run(ip, "%mj wait")
    up = run(ip, "%mj U2").value
    run(ip, "%mj wait")
    ran = run(ip, "%mj vary region")
    assert ran.value is None and len(ran.displays) == 1  # the painter, nothing sent yet
    tool = magic_of(ip).region_tool
    assert tool is not None and tool.task is up
    assert tool.editor.painter.size == up.image.size
    mask = Image.new("L", up.image.size, 0)
    ImageDraw.Draw(mask).rectangle((10, 10, 60, 60), fill=255)
    out = io.BytesIO()
    mask.save(out, "PNG")
    painter = tool.editor.painter
    painter._handle_msg(
        {
            "content": {
                "data": {"method": "update", "state": {"mask": None}, "buffer_paths": [["mask"]]}
            },
            "buffers": [memoryview(out.getvalue())],
        }
    )
    painter._handle_msg(
        {"content": {"data": {"method": "custom", "content": {"event": "submit"}}}, "buffers": []}
    )
    [child] = tool.children_tasks
    assert child.action == "vary region" and child.parent_id == up.id and child.job.mask
    assert magic_of(ip).last is child  # %mj U2 ... now acts on the repainted image
    assert len(tool.child_cards.children) == 1
    run(ip, "%mj wait")
    assert child.status == "succeeded", child.error


def test_seed_asks_the_provider(ip: TestingShell) -> None:
    grid = run(ip, "%mj a red fox --seed 77").value
    run(ip, "%mj wait")
    ran = run(ip, "%mj seed")
    assert ran.value == grid.job_seed
    assert ran.io.stdout == f"Out[0]: {grid.job_seed}\n"  # the value, as any expression's


def test_help_lists_the_media_commands(ip: TestingShell) -> None:
    text = run(ip, "%mj help").io.stdout
    for form in ("%mj animate low|high", "%mj extend low|high", "%mj video <url|path>",
                 "%mj vary region", "%mj seed", "%mj describe <url|path>"):  # fmt: skip
        assert form in text


def test_a_saved_notebook_keeps_a_poster_and_a_small_preview_per_clip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real kernel (nbclient, widget state saved as JupyterLab would): each clip adds
    under 150 KB to the .ipynb, and no MP4 is in it."""
    import json

    import nbformat
    from nbclient import NotebookClient

    from mjnb.video import NOTEBOOK_CLIP_BYTES

    monkeypatch.setenv("MJNB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MJNB_SIM_LATENCY", "0.3")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    base = ["%load_ext mjnb", "%mj a red fox --seed 3", "%mj wait", "%mj U2", "%mj wait"]
    clips = ["%mj animate high --batch 2", "%mj wait"]

    def saved(cells: list[str], name: str) -> Path:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
        target = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, target)
        return target

    without, with_clips = saved(base, "images"), saved(base + clips, "clips")
    nb = nbformat.read(with_clips, as_version=4)
    [card] = nb.cells[5].outputs
    assert (
        card.data["text/plain"].startswith("[succeeded] ")
        and "animate high" in card.data["text/plain"]
    )
    assert card.data["text/html"].count("data:image/webp;base64,") == 2
    assert "image/jpeg" in card.data
    text = with_clips.read_text()
    assert "data:video" not in text
    models = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    players = [m for m in models.values() if "posters" in m["state"]]
    assert len(players) == 1 and len(players[0]["state"]["posters"]) == 2
    assert not players[0].get("buffers")  # no binary trait: no clip in the widget state
    assert max(len(json.dumps(m)) for m in models.values()) < 40_000
    per_clip = (with_clips.stat().st_size - without.stat().st_size) / 2
    state = len(json.dumps(nb.metadata.get("widgets", {})))
    print(f"\nsaved notebook: {per_clip:.0f} bytes per clip ({state} bytes of widget state)")
    assert per_clip < NOTEBOOK_CLIP_BYTES
