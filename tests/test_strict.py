"""The strict and translate settings, end to end through ``mjnb.Client``.

``strict`` (``Client(strict=False)``, ``configure``, ``MJNB_STRICT``) decides whether an
unknown parameter is refused before sending or sent with a PromptWarning, wherever a
prompt is parsed for sending (imagine, sweep planning). ``translate`` puts
``Job.translate`` on every job; Ace then sends ``translation: true``, checked here over
loopback in what the simulator received.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest

import mjnb
from mjnb import PromptError, PromptWarning
from mjnb.simulator import RunningSimulator

FAST = {"latency": 0.3, "long_side": 128, "progress_steps": 2}
ESCAPE_HATCHES = ("Client(strict=False)", "%config MJMagic.strict = False", "strict checkbox")


@pytest.fixture(autouse=True)
def fast_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MJNB_SIM_LATENCY", "0.3")


@pytest.fixture(autouse=True)
def forget_configure() -> object:
    yield
    mjnb.configure(strict=None, translate=None)


def test_an_unknown_parameter_is_refused_by_default_naming_every_escape_hatch() -> None:
    mj = mjnb.Client()
    assert mj.settings.strict is True
    with pytest.raises(PromptError) as info:
        mj.imagine("a fox --foo 2")
    for hatch in ESCAPE_HATCHES:
        assert hatch in str(info.value)
    with pytest.raises(PromptError, match=r"Client\(strict=False\)"):
        mj.plan_sweep("a fox --foo 2 --s {0, 500}")
    with pytest.raises(PromptError):
        mj.sweep("a fox --foo 2 --s {0, 500}")
    assert mj.tasks == []  # nothing was sent


def test_strict_false_sends_the_unknown_parameter_with_a_warning() -> None:
    mj = mjnb.Client(strict=False)
    with pytest.warns(PromptWarning, match="--foo .*not a parameter mjnb knows"):
        task = mj.imagine("a fox --foo 2")
    assert task.job.prompt == "a fox --foo 2"
    task.wait(30)
    # it left the machine: the simulator (which shares mjnb's strict parser, so knows no
    # --foo either) answered, as Midjourney would for a parameter it has not got
    assert task.status == "succeeded" or "(bad_request)" in (task.error or ""), task.error


@pytest.mark.parametrize("how", ["configure", "environment"])
def test_strict_comes_from_configure_and_the_environment(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if how == "configure":
        mjnb.configure(strict=False)
    else:
        monkeypatch.setenv("MJNB_STRICT", "0")
    mj = mjnb.Client()
    assert mj.settings.strict is False and mj.session.strict is False
    with pytest.warns(PromptWarning):
        assert mj.imagine("a fox --foo 2").job.prompt == "a fox --foo 2"
    assert mjnb.Client(strict=True).settings.strict is True  # arguments win


def test_a_sweep_keeps_the_unknown_parameter_in_every_cell_and_warns_once() -> None:
    mj = mjnb.Client(strict=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PromptWarning)
        plan = mj.plan_sweep("a fox --foo 2 --s {0, 500, 1000}", seed=[1, 2])
    assert plan.jobs == 6
    assert all("--foo 2" in str(cell.prompt) for cell in plan.cells)
    foo = [w for w in caught if "--foo" in str(w.message)]
    assert len(foo) == 1  # one doubt, one warning, not one per cell
    with pytest.warns(PromptWarning):
        sweep = mj.sweep("a fox --foo 2 --s {0, 500}")
    sweep.wait(30)
    assert len(sweep.tasks) == 2
    assert all("--foo 2" in task.job.prompt for task in sweep.tasks)
    again = mj.get_sweep(sweep.id)  # a logged non-strict sweep reads back
    assert [str(c.prompt) for c in again.cells] == [str(c.prompt) for c in sweep.cells]


def test_a_newer_minor_is_sent_with_a_warning_under_the_nearest_rules() -> None:
    mj = mjnb.Client()  # strict: a newer minor is no unknown parameter
    with pytest.warns(PromptWarning, match=r"8\.3 is newer"):
        task = mj.imagine("a fox --v 8.3 --hd")
    assert "--version 8.3" in task.job.prompt and "--hd" in task.job.prompt


# -- translate: Ace's translation flag, over loopback ------------------------------------


@pytest.fixture
def sim(make_sim: Callable[..., RunningSimulator]) -> RunningSimulator:
    return make_sim()


def ace_requests(sim: RunningSimulator) -> list[dict[str, object]]:
    """The imagine bodies the simulator's Ace protocol received, oldest first."""
    return [job.meta["request"] for job in sim.app.state.sim.table.of("acedata")]


@pytest.mark.parametrize("how", ["argument", "configure", "environment"])
def test_translate_puts_translation_true_on_every_ace_job(
    sim: RunningSimulator, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    options: dict[str, object] = {}
    if how == "argument":
        options["translate"] = True
    elif how == "configure":
        mjnb.configure(translate=True)
    else:
        monkeypatch.setenv("MJNB_TRANSLATE", "true")
    mj = mjnb.Client("acedata", base_url=sim.url, token="tok", **options)
    assert mj.settings.translate is True
    task = mj.imagine("一只红色的狐狸 --v 8.1 --hd")
    assert task.job.translate is True
    assert task.wait(30).status == "succeeded", task.error
    request = ace_requests(sim)[-1]
    assert request["translation"] is True and request["hd"] is True
    child = task.act("U1")
    assert child.job.translate is True
    assert mj.describe("https://example.com/a.png").job.translate is True
    child.wait(30)


def test_without_translate_ace_gets_no_translation_field(sim: RunningSimulator) -> None:
    mj = mjnb.Client("acedata", base_url=sim.url, token="tok")
    task = mj.imagine("a red fox --v 8.1")
    assert task.wait(30).status == "succeeded", task.error
    assert task.job.translate is False
    assert "translation" not in ace_requests(sim)[-1]
