"""The panel, in-process: the form -> prompt functions, and the widget against the simulator.

Widgets are driven the way a browser would drive them: set a control's ``value``,
``click()`` a button; what the panel shows is read from the widgets' state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pytest

import mjnb
from mjnb import PromptError
from mjnb.notebook import SweepView, TaskCard
from mjnb.notebook.panel import Form, Panel, build_prompt, form_from_prompt, provider_status


@pytest.fixture
def mj(monkeypatch: pytest.MonkeyPatch) -> mjnb.Client:
    monkeypatch.setenv("MJNB_SIM_LATENCY", "0.3")
    return mjnb.Client()


@pytest.fixture
def panel(mj: mjnb.Client) -> Panel:
    return Panel(client=mj)


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def walk(widget: widgets.Widget) -> Iterator[widgets.Widget]:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


def find(root: widgets.Widget, css_class: str) -> Any:
    """The one widget under ``root`` with a CSS class, as a front end would find it."""
    found = [w for w in walk(root) if css_class in w._dom_classes]
    assert len(found) == 1, f"{len(found)} widgets have class {css_class}"
    return found[0]


def text_of(html_widget: widgets.HTML) -> str:
    import re

    return re.sub(r"<[^>]+>", "", html_widget.value).replace("&#x27;", "'")


# ----------------------------------------------------------------- form -> prompt text


def test_a_form_at_its_defaults_sends_the_prompt_box_as_written() -> None:
    assert build_prompt(Form(text="a red fox  in snow")) == "a red fox in snow"
    typed = "a red fox --s 250 --no text --ar 16:9"
    assert build_prompt(Form(text=typed)) == "a red fox --ar 16:9 --stylize 250 --no text"


def test_each_control_adds_its_parameter_only_away_from_the_default() -> None:
    form = Form(text="a red fox", version="6.1", ar="3:2", stylize=250, chaos=20, weird=0)
    assert build_prompt(form) == "a red fox --ar 3:2 --chaos 20 --stylize 250 --version 6.1"
    assert build_prompt(Form(text="a fox", seed=42, speed="relax")) == "a fox --seed 42 --relax"
    assert build_prompt(Form(text="a fox", version="niji 6")) == "a fox --niji 6"
    assert build_prompt(Form(text="a fox", weird=500, speed="turbo")) == "a fox --weird 500 --turbo"


def test_a_control_away_from_its_default_wins_over_the_prompt_box() -> None:
    assert build_prompt(Form(text="a fox --s 50", stylize=700)) == "a fox --stylize 700"
    assert build_prompt(Form(text="a fox --niji 6", version="7")) == "a fox --version 7"
    assert build_prompt(Form(text="a fox --v 6", version="niji 6")) == "a fox --niji 6"
    assert build_prompt(Form(text="a fox --relax", speed="turbo")) == "a fox --turbo"


def test_invalid_forms_raise_prompt_errors_that_say_where() -> None:
    with pytest.raises(PromptError, match="empty"):
        build_prompt(Form(text="   "))
    with pytest.raises(PromptError, match="stylize must be 0-1000") as info:
        build_prompt(Form(text="a fox --s 5000"))
    assert info.value.column == 7
    with pytest.raises(PromptError, match="quality"):  # --q 4 needs V7
        build_prompt(Form(text="a fox --q 4", version="6"))
    with pytest.raises(PromptError, match="speed"):
        build_prompt(Form(text="a fox", speed="ludicrous"))


def test_permutations_keep_their_braces_and_take_the_form_parameters() -> None:
    text = build_prompt(Form(text="a {fox, wolf} in snow", ar="3:2", seed=7))
    assert text == "a {fox, wolf} in snow --ar 3:2 --seed 7"
    assert len(mjnb.parse_prompt(text).expand()) == 2


@pytest.mark.parametrize(
    "prompt",
    [
        "a red fox",
        "a red fox --ar 3:2 --s 250 --c 20 --weird 10 --seed 99 --v 6.1 --relax",
        "http://example.com/a.png a fox::2 cat --niji 6 --no red, blue cars",
        "a fox --v 5.1 --c 50 --q .5",  # no menu entry for 5.1
        "a fox --ar 5:4 --turbo --tile",
        "a {fox, wolf} --s {0, 500}",
    ],
)
def test_loading_a_prompt_into_the_form_sends_the_same_prompt(prompt: str) -> None:
    form = form_from_prompt(prompt)
    assert build_prompt(form) == str(mjnb.parse_prompt(prompt))


def test_loading_moves_what_the_controls_can_show_into_them() -> None:
    form = form_from_prompt("a fox --ar 3:2 --s 250 --seed 9 --niji 6 --no red --relax")
    assert form == Form(
        text="a fox --no red", version="niji 6", ar="3:2", stylize=250, seed=9, speed="relax"
    )
    kept = form_from_prompt("a fox --v 5.1 --c 50")  # the menu cannot show 5.1
    assert (kept.version, kept.chaos, kept.text) == (None, 50, "a fox --version 5.1")


def test_provider_status_names_the_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert provider_status("local") is None
    assert "MJNB_ACEDATA_TOKEN" in (provider_status("acedata") or "")
    monkeypatch.setenv("MJNB_ACEDATA_TOKEN", "t")
    assert provider_status("acedata") is None
    assert "MJNB_MJPROXY_URL" in (provider_status("mjproxy") or "")  # no secret, but no host
    monkeypatch.setenv("MJNB_MJPROXY_URL", "http://127.0.0.1:9")
    assert provider_status("mjproxy") is None


# ----------------------------------------------------------------------------- widget


def test_typing_a_prompt_and_clicking_submit_makes_a_card_an_image_and_a_log_row(
    panel: Panel, mj: mjnb.Client
) -> None:
    prompt_box = find(panel, "mjnb-prompt")
    submit = find(panel, "mjnb-submit")
    assert isinstance(prompt_box, widgets.Textarea) and prompt_box.continuous_update
    assert submit.disabled  # nothing typed yet

    prompt_box.value = "a red fox in snow"
    find(panel, "mjnb-ar").value = "3:2"
    assert not submit.disabled
    assert "a red fox in snow --ar 3:2" in text_of(find(panel, "mjnb-preview"))

    submit.click()
    assert panel.last_error is None
    (card,) = panel.gallery.children
    assert isinstance(card, TaskCard) and "mjnb-card" in card._dom_classes
    card.task.wait(timeout=30)
    eventually(lambda: card.settled and card.thumbnail is not None)
    assert card.image.value == card.thumbnail
    assert card.bar.value == 100

    row = mj.log().iloc[-1]
    assert (row["task_id"], row["prompt"], row["ar"]) == (card.task.id, card.task.job.prompt, "3:2")
    assert row["prompt"] == "a red fox in snow --ar 3:2"
    eventually(lambda: row["status"] == mj.log().iloc[-1]["status"] == "succeeded")


def test_the_prompt_is_validated_as_the_user_types(panel: Panel, mj: mjnb.Client) -> None:
    panel.prompt.value = "a red fox --s 5000"
    assert panel.submit.disabled
    assert "stylize must be 0-1000, got 5000 (--s 5000 at column 11)" in text_of(panel.preview)
    assert panel.prompt_text is None
    panel.prompt.value = "a red fox --s 500"
    assert not panel.submit.disabled
    assert panel.prompt_text == "a red fox --stylize 500"
    # a control can make the prompt invalid too: --q 4 is V7 only
    panel.prompt.value = "a red fox --q 4"
    assert not panel.submit.disabled
    panel.version.value = "v6.1"  # V6.1 takes .5 1 2
    assert panel.submit.disabled
    assert "quality" in text_of(panel.preview)
    assert mj.log().empty  # nothing invalid was sent


def test_the_seed_lock_keeps_one_seed_and_unlocked_leaves_it_to_midjourney(
    panel: Panel,
) -> None:
    panel.prompt.value = "a fox"
    assert panel.seed.disabled and panel.prompt_text == "a fox"
    panel.seed_lock.value = True
    assert not panel.seed.disabled and panel.seed_lock.icon == "lock"
    seed = panel.seed.value
    assert panel.prompt_text == f"a fox --seed {seed}"
    first = panel.send_prompt()
    second = panel.send_prompt()
    assert first.job.prompt == second.job.prompt == f"a fox --seed {seed}"  # type: ignore[union-attr]
    panel.seed_lock.value = False
    assert panel.prompt_text == "a fox"


def test_a_custom_aspect_ratio(panel: Panel) -> None:
    panel.prompt.value = "a fox"
    assert panel.ar_custom.disabled
    panel.ar.value = "custom"
    assert not panel.ar_custom.disabled
    panel.ar_custom.value = "5:4"
    assert panel.prompt_text == "a fox --ar 5:4"
    panel.ar_custom.value = "5:"
    assert panel.submit.disabled


def test_errors_in_callbacks_show_in_the_panel_and_send_nothing(
    mj: mjnb.Client,
) -> None:
    panel = Panel(client=mj, max_jobs=4)
    panel.prompt.value = "a fox --seed {1, 2, 3, 4, 5}"
    assert "a sweep of 5 jobs" in text_of(panel.preview)
    panel.submit.click()  # 5 jobs > max_jobs=4, not confirmed
    assert isinstance(panel.last_error, mjnb.MJError)
    assert "more than max_jobs=4" in text_of(panel.status)
    assert "color:#c62828" in panel.status.value
    assert mj.log().empty and not panel.gallery.children


def test_choosing_a_provider_without_credentials_says_what_to_set(panel: Panel) -> None:
    labels = dict((name, label) for label, name in panel.provider.options)
    assert labels["acedata"] == "acedata (needs MJNB_ACEDATA_TOKEN)"
    assert "MJNB_METACHAT_APP_ID" in labels["metachat"]
    panel.provider.value = "acedata"
    assert isinstance(panel.last_error, mjnb.ConfigError)
    assert "set MJNB_ACEDATA_TOKEN" in text_of(panel.status)
    assert panel.provider.value == "local" and panel.client.provider == "local"


def test_switching_to_a_provider_with_credentials_sends_there(
    panel: Panel, sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MJNB_ACEDATA_TOKEN", "a-token")
    monkeypatch.setenv("MJNB_BASE_URL", sim.url)
    panel.provider.value = "acedata"
    assert panel.last_error is None and panel.client.provider == "acedata"
    panel.prompt.value = "a blue heron"
    task = panel.send_prompt()
    assert task.provider == "acedata"
    task.wait(timeout=30)
    assert task.status == "succeeded"
    assert "on acedata" in text_of(panel.preview)


def test_the_sweep_builder_shows_the_job_count_and_runs_the_sweep(mj: mjnb.Client) -> None:
    panel = Panel(client=mj, max_jobs=4)
    panel.prompt.value = "a red fox"
    assert panel.run_sweep.disabled
    panel.axis_x.value = "seed"
    assert panel.values_x.placeholder == "1, 2, 3"
    panel.values_x.value = "1, 2, 3"
    assert text_of(panel.plan_label) == "3 jobs (seed), about 3 GPU-minutes"
    assert not panel.run_sweep.disabled
    panel.axis_y.value = "stylize"
    assert panel.run_sweep.disabled and "Give the values of stylize" in text_of(panel.plan_label)
    panel.values_y.value = "0..1000 step 1000"
    assert "6 jobs (seed × stylize)" in text_of(panel.plan_label)
    assert "more than max_jobs=4" in text_of(panel.plan_label)
    assert panel.run_sweep.disabled  # over max_jobs: needs the confirmation box
    panel.confirm.value = True
    assert not panel.run_sweep.disabled

    panel.run_sweep.click()
    assert panel.last_error is None
    (view,) = panel.gallery.children
    assert isinstance(view, SweepView)
    view.sweep.wait(timeout=60)
    frame = mj.log()
    assert len(frame) == 6 and set(frame["sweep_id"]) == {view.sweep.id}
    assert sorted(frame["stylize"]) == [0, 0, 0, 1000, 1000, 1000]


def test_a_bad_sweep_value_is_shown_before_anything_runs(panel: Panel) -> None:
    panel.prompt.value = "a red fox"
    panel.axis_x.value = "chaos"
    panel.values_x.value = "0, 5000"
    assert panel.run_sweep.disabled
    assert "chaos" in text_of(panel.plan_label)
    panel.axis_y.value = "chaos"
    panel.values_y.value = "1"
    assert "Both axes are chaos" in text_of(panel.plan_label)


def test_the_gallery_is_newest_first(panel: Panel) -> None:
    panel.prompt.value = "a fox"
    first = panel.send_prompt()
    panel.prompt.value = "a wolf"
    second = panel.send_prompt()
    assert [card.task for card in panel.gallery.children] == [second, first]  # type: ignore[attr-defined]


def test_the_history_lists_the_log_and_loads_a_row_back_into_the_form(
    mj: mjnb.Client,
) -> None:
    earlier = mj.imagine("an old lighthouse --ar 2:3 --s 400 --seed 5 --no boats --v 6.1")
    earlier.wait(timeout=30)
    panel = Panel(client=mj)
    panel.refresh_history()
    assert "an old lighthouse" in text_of(panel.history.children[8])  # first row's prompt

    panel.prompt.value = "a fox"
    task = panel.send_prompt()
    task.wait(timeout=30)
    eventually(lambda: len(panel._history) == 2 and panel._history[0]["status"] == "succeeded")
    loads = [w for w in panel.history.children if getattr(w, "description", "") == "Load"]
    assert len(loads) == 2

    loads[1].click()  # the older row
    assert panel.last_error is None
    assert panel.prompt.value == "an old lighthouse --no boats"
    assert (panel.version.value, panel.ar.value, panel.stylize.value) == ("v6.1", "2:3", 400)
    assert panel.seed_lock.value and panel.seed.value == 5
    assert (
        panel.prompt_text
        == "an old lighthouse --ar 2:3 --stylize 400 --seed 5 --no boats --version 6.1"
    )
    assert not panel.submit.disabled


def test_children_started_from_a_card_are_logged_and_listed(panel: Panel) -> None:
    panel.prompt.value = "a fox"
    task = panel.send_prompt()
    task.wait(timeout=30)
    (card,) = panel.gallery.children
    assert isinstance(card, TaskCard)
    eventually(lambda: card.settled)
    child_card = card.click("U1")
    assert child_card is not None
    child_card.task.wait(timeout=30)
    eventually(lambda: [r["action"] for r in panel._history] == ["U1", "imagine"])


# ----------------------------------------------------------------- strict, translate, HD


def test_the_strict_box_sends_unknown_parameters_with_a_warning_line(panel: Panel) -> None:
    panel.prompt.value = "a fox --foo 2"
    assert panel.submit.disabled
    preview = text_of(panel.preview)
    assert "Client(strict=False)" in preview and "strict checkbox" in preview
    find(panel, "mjnb-strict").value = False
    assert not panel.submit.disabled
    preview = text_of(panel.preview)
    assert "a fox --foo 2" in preview
    [line] = [ln for ln in panel.preview.value.split("<br>") if "⚠" in ln]
    assert "--foo" in line and "strict is off" in line  # one line, not a traceback
    panel.submit.click()
    assert panel.last_error is None
    (card,) = panel.gallery.children
    assert card.task.job.prompt == "a fox --foo 2"
    assert panel.client.session.strict is False  # the panel's non-strict client sent it
    assert "⚠" in panel.status.value and "--foo" in text_of(panel.status)
    card.task.wait(timeout=30)


def test_a_newer_minor_shows_its_warning_in_the_preview(panel: Panel) -> None:
    panel.prompt.value = "a fox --v 8.3"
    assert not panel.submit.disabled
    assert "⚠" in panel.preview.value and "newer" in text_of(panel.preview)


def test_the_translate_box_puts_translate_on_the_job(panel: Panel) -> None:
    panel.prompt.value = "一只狐狸"
    find(panel, "mjnb-translate").value = True
    panel.submit.click()
    assert panel.last_error is None
    (card,) = panel.gallery.children
    assert card.task.job.translate is True
    card.task.wait(timeout=30)


def test_controls_follow_the_version_table(panel: Panel) -> None:
    from mjnb.prompt import version_rules

    hd, weird = find(panel, "mjnb-hd"), find(panel, "mjnb-weird")
    for label, version in (("v8.2", "8.2"), ("v8.1", "8.1"), ("v7", "7"), ("niji 6", "niji 6")):
        panel.version.value = label
        rules = version_rules(version)
        assert hd.disabled == (rules.takes("hd") != "yes"), label
        assert weird.disabled == (rules.takes("weird") in ("no", "disputed")), label
    panel.prompt.value = "a fox"
    panel.version.value = "v8.1"
    hd.value = True
    assert panel.prompt_text == "a fox --version 8.1 --hd"
    panel.version.value = "v7"  # V7 has no --hd: the toggle greys out and writes nothing
    assert hd.disabled and panel.prompt_text == "a fox --version 7"


# ------------------------------------------------------------ uploads, video in the gallery


def _png(colour: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (96, 64), colour).save(out, "PNG")
    return out.getvalue()


def _pick(panel: Panel, data: bytes, name: str = "cat.png") -> None:
    """What the browser's file picker does: the FileUpload's value becomes the file."""
    upload = find(panel, "mjnb-panel-upload")
    upload.value = (
        {"name": name, "type": "image/png", "size": len(data), "content": memoryview(data),
         "last_modified": datetime.now(timezone.utc)},
    )  # fmt: skip


def test_an_uploaded_image_goes_as_an_image_prompt_and_leaves_no_bytes_in_the_widget(
    sim: Any,
) -> None:
    mj = mjnb.Client("mjproxy", base_url=sim.url, token="t", poll_interval=0.05)
    panel = Panel(client=mj)
    data = _png()
    _pick(panel, data)
    assert panel.last_error is None
    assert panel.image_upload.data == data and panel.image_upload.name == "cat.png"
    assert find(panel, "mjnb-panel-upload").value == ()  # not kept in the saved state
    assert "cat.png" in text_of(panel.image_upload.note)
    panel.prompt.value = "a red fox in snow"
    panel.submit.click()
    assert panel.last_error is None, panel.last_error
    (card,) = panel.gallery.children
    task = card.task
    assert len(task.job.images) == 1 and task.job.images[0].startswith("data:image/png;base64,")
    assert task.wait(30).status == "succeeded", task.error


def test_bad_uploads_and_refusals_are_one_line_in_the_panel(panel: Panel) -> None:
    _pick(panel, b"not an image at all", "notes.txt")
    assert panel.last_error is not None and panel.image_upload.data is None
    assert "\n" not in str(panel.last_error)
    _pick(panel, _png())
    panel.image_upload.role.value = "image prompt"
    panel.prompt.value = "a red fox --seed {1, 2}"
    panel.submit.click()  # an image prompt goes with one prompt, not a sweep
    assert "single prompt" in str(panel.last_error) and panel.gallery.children == ()
    panel.prompt.value = "a red fox"
    panel.submit.click()  # Ace's protocol uploads it first, then sends its URL
    (card,) = panel.gallery.children
    assert card.task.wait(30).status == "succeeded", card.task.error
    assert not card.task.job.images[0].startswith("data:")
    panel.image_upload.clear_button.click()
    assert panel.image_upload.data is None and panel.image_upload.clear_button.disabled
    panel.submit.click()
    assert len(panel.gallery.children) == 2


def test_an_uploaded_style_reference_goes_after_sref_as_its_cached_file(panel: Panel) -> None:
    data = _png((200, 40, 40))
    _pick(panel, data, "look.png")
    panel.image_upload.role.value = "style reference"
    assert "style reference" in text_of(panel.image_upload.note)
    panel.prompt.value = "a red fox --sref 1234567"
    panel.submit.click()
    assert panel.last_error is None, panel.last_error
    (card,) = panel.gallery.children
    task = card.task
    assert task.wait(30).status == "succeeded", task.error
    assert task.job.images == ()  # no image prompt
    logged = task.prompt.params["sref"]  # the log keeps the path of the cached copy
    assert logged[0] == "1234567" and len(logged) == 2
    cached = Path(logged[1])
    assert cached.read_bytes() == data and cached.is_relative_to(panel.client.session.images.root)
    sent = task.job.parsed.params["sref"]  # the job sent the URL it was uploaded as
    assert sent[0] == "1234567" and sent[1].startswith("http") and "/_sim/uploads/" in sent[1]
    assert str(cached) not in task.job.prompt
    assert find(panel, "mjnb-panel-upload").value == ()  # no bytes in the saved state
    panel.prompt.value = "a red fox --seed {1, 2}"
    sweep = panel.send_prompt()  # a style reference goes with every cell of a sweep
    assert not isinstance(sweep, mjnb.Task)
    sweep.wait(30)
    assert all(t.status == "succeeded" for t in sweep.tasks), [t.error for t in sweep.tasks]
    assert all(str(cached) in t.prompt.params["sref"] for t in sweep.tasks)


def test_a_style_reference_is_refused_in_one_line_where_the_provider_takes_urls_only(
    make_sim: Any,
) -> None:
    sim = make_sim(latency=0.2)
    mj = mjnb.Client("youchuan", base_url=sim.url, token="s", app_id="a")
    panel = Panel(client=mj)
    _pick(panel, _png())
    panel.image_upload.role.value = "style reference"
    panel.prompt.value = "a red fox --v 7"
    panel.submit.click()
    error = str(panel.last_error)
    assert error.startswith("youchuan cannot take the local image after --sref"), error
    assert "\n" not in error and "nothing was sent" in error
    assert panel.gallery.children == () and mj.log().empty
    assert sim.stats()["requests"] == 0


def test_the_gallery_cards_animate_and_show_the_clip(panel: Panel) -> None:
    from mjnb.notebook.videocard import VideoCard

    panel.prompt.value = "a red fox --seed 3"
    panel.submit.click()
    (grid,) = panel.gallery.children
    grid.task.wait(30)
    eventually(lambda: grid.settled)
    up = grid.click("U2")
    assert up is not None
    up.task.wait(30)
    eventually(lambda: up.settled)
    assert "Animate high" in [b.description for b in up.buttons.children]
    clip = up.click("animate high")
    assert isinstance(clip, VideoCard)
    clip.task.wait(60)
    eventually(lambda: clip.settled)
    assert clip.task.status == "succeeded", clip.task.error
    assert len(clip.player.posters) == 1 and clip.player.layout.display is None
