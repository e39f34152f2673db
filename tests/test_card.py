"""The task card and the sweep view, through ipywidgets' own models (no browser, no kernel).

Tasks run on the embedded simulator (provider "local") with 0.3 s jobs.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

import mjnb
from mjnb.notebook import SweepView, TaskCard
from mjnb.notebook.card import Throttle, _compact_labels, task_summary
from mjnb.task import Task

JPEG = b"\xff\xd8\xff"


@pytest.fixture
def mj(monkeypatch: pytest.MonkeyPatch) -> mjnb.Client:
    monkeypatch.setenv("MJNB_SIM_LATENCY", "0.3")
    return mjnb.Client()


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def finished_card(card: TaskCard) -> TaskCard:
    card.task.wait(timeout=30)
    eventually(lambda: card.settled)
    eventually(lambda: card.bar.get_state()["value"] == card.task.progress)
    return card


def state(widget: Any) -> dict[str, Any]:
    """The widget's state as ipywidgets would sync it (bytes for binary traits)."""
    return {k: bytes(v) if isinstance(v, memoryview) else v for k, v in widget.get_state().items()}


def decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


# --------------------------------------------------------------------------- throttle


def test_throttle_merges_requests_and_keeps_the_last_one() -> None:
    calls: list[float] = []
    throttle = Throttle(lambda: calls.append(time.monotonic()), interval=0.2)
    start = time.monotonic()
    for _ in range(200):  # a burst before the render thread runs: one call renders it all
        throttle.request()
    eventually(lambda: len(calls) == 1)
    assert calls[0] - start < 0.15
    for _ in range(200):  # changes after that call: one more, an interval later
        throttle.request()
    eventually(lambda: len(calls) == 2)
    time.sleep(0.3)
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 0.19


def test_throttle_urgent_request_runs_at_once_and_flush_runs_on_the_caller() -> None:
    calls: list[str] = []
    throttle = Throttle(lambda: calls.append(threading.current_thread().name), interval=5.0)
    throttle.request()
    eventually(lambda: len(calls) == 1)
    throttle.request()  # due in 5 s
    assert throttle.pending
    throttle.flush()
    assert calls[-1] == threading.current_thread().name and not throttle.pending
    throttle.request()
    throttle.request(urgent=True)  # the final state does not wait out the interval
    eventually(lambda: len(calls) == 3, timeout=2)
    assert calls[-1] == "mjnb-render"


def test_throttle_survives_a_failing_function() -> None:
    calls: list[int] = []

    def fn() -> None:
        calls.append(1)
        raise RuntimeError("broken view")

    throttle = Throttle(fn, interval=0.01)
    throttle.request()
    eventually(lambda: len(calls) == 1)
    throttle.request()
    eventually(lambda: len(calls) == 2)


# ------------------------------------------------------------------------ plain helpers


def test_compact_labels() -> None:
    labels = ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "reroll"]
    assert _compact_labels(labels) == "U1-U4, V1-V4, reroll"
    assert _compact_labels(["U1", "V3", "zoom 2x"]) == "U1, V3, zoom 2x"


# ------------------------------------------------------------------------------- cards


def test_card_follows_a_task_to_its_grid(mj: mjnb.Client) -> None:
    task = mj.imagine("a red fox --ar 3:2 --seed 7")
    card = TaskCard(task, thumbnail_size=128)
    first = state(card.image)
    assert card.bar.get_state()["value"] == 0
    assert first["value"].startswith(JPEG) and len(first["value"]) < 2000  # placeholder
    assert (first["width"], first["height"]) == ("128", "85")  # the prompt's 3:2
    assert card.buttons.children == ()
    assert "[queued 0%]" in card.summary or "[running" in card.summary

    finished_card(card)
    assert task.status == "succeeded"
    assert card.bar.get_state()["value"] == 100
    assert card.bar.get_state()["bar_style"] == "success"
    header = card.header.get_state()["value"]
    assert task.id in header and "succeeded" in header and "local" in header
    image = state(card.image)
    assert image["value"] == card.thumbnail and image["value"].startswith(JPEG)
    thumb = decode(image["value"])
    assert thumb.format == "JPEG" and max(thumb.size) == 128
    assert abs(thumb.size[0] / thumb.size[1] - 1.5) < 0.05
    assert [b.description for b in card.buttons.children] == task.actions
    assert task.actions[:4] == ["U1", "U2", "U3", "U4"]


def test_card_shows_the_preview_while_running(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MJNB_SIM_LATENCY", "1.5")
    mj = mjnb.Client(poll_interval=0.05)
    task = mj.imagine("a red fox --ar 3:2 --seed 11")
    card = TaskCard(task, thumbnail_size=128)
    eventually(lambda: card._image_kind == "preview" or task.done)
    assert not task.done, "the preview never arrived while the task ran"
    preview = decode(state(card.image)["value"])
    assert preview.format == "JPEG" and max(preview.size) <= 128
    assert task.preview is not None  # what the engine fetched, shrunk before sending
    finished_card(card)
    assert card._image_kind == "final" and state(card.image)["value"] == card.thumbnail


def test_card_button_starts_the_child_and_shows_its_card_below(mj: mjnb.Client) -> None:
    children: list[Task] = []
    card = finished_card(TaskCard(mj.imagine("a red fox --seed 3"), on_child=children.append))
    button = next(b for b in card.buttons.children if b.description == "U2")
    button.click()  # exactly what the browser's click does
    assert len(card.child_cards.children) == 1
    child_card = card.child_cards.children[0]
    assert isinstance(child_card, TaskCard)
    assert children == [child_card.task]
    assert child_card.task.action == "U2" and child_card.task.parent_id == card.task.id
    finished_card(child_card)
    assert child_card.task.status == "succeeded"
    assert "vary strong" in [b.description for b in child_card.buttons.children]


def test_card_shows_an_action_error_instead_of_raising(mj: mjnb.Client) -> None:
    card = finished_card(TaskCard(mj.imagine("a red fox --seed 4")))
    assert card.click("zoom 2x") is None  # a grid offers no zoom
    message = card.message.get_state()["value"]
    assert "does not offer" in message and "zoom 2x" in message
    assert card.child_cards.children == ()
    assert card.click("U1") is not None  # the next click clears the message
    assert card.message.get_state()["value"] == ""


def test_failed_task_shows_the_reason(mj: mjnb.Client) -> None:
    card = finished_card(TaskCard(mj.imagine("a pool of gore --seed 1")))
    assert card.task.status == "failed"
    assert card.bar.get_state()["bar_style"] == "danger"
    assert card.image.layout.display == "none"
    assert card.task.error and card.task.error[:20] in card.message.value.replace("&#x27;", "'")
    assert card.summary.startswith(f"[failed] {card.task.id}")
    assert card.buttons.children == ()
    data, _ = card._repr_mimebundle_()
    assert "image/jpeg" not in data and data["text/plain"] == card.summary


def test_describe_card_lists_the_prompts(mj: mjnb.Client) -> None:
    grid = mj.imagine("a red fox --seed 5").wait(timeout=30)
    assert grid.image_url
    card = finished_card(TaskCard(mj.describe(grid.image_url)))
    assert card.task.status == "succeeded" and len(card.task.descriptions) == 4
    assert card.message.value.count("<li>") == 4
    assert card.image.layout.display == "none"


def test_card_static_bundle_for_saved_notebooks(mj: mjnb.Client) -> None:
    card = TaskCard(mj.imagine("a blue whale --ar 16:9 --seed 2"), thumbnail_size=200)
    data, metadata = card._repr_mimebundle_()
    assert set(data) == {"text/plain", "application/vnd.jupyter.widget-view+json"}
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == card.model_id

    finished_card(card)
    data, metadata = card._repr_mimebundle_()
    assert "image/png" not in data
    jpeg = base64.b64decode(data["image/jpeg"])
    width, height = decode(jpeg).size
    assert jpeg == card.thumbnail and width == 200 and height in (112, 113)  # 16:9
    assert metadata["image/jpeg"] == {"width": width, "height": height}
    assert len(jpeg) < 30_000
    assert data["text/plain"] == task_summary(card.task)
    assert data["text/plain"].startswith(f"[succeeded] {card.task.id} imagine on local")
    assert "a blue whale --ar 16:9 --seed 2" in data["text/plain"]
    assert "\n" not in data["text/plain"]
    assert data["image/jpeg"] in data["text/html"] and card.task.id in data["text/html"]


def test_card_of_a_finished_task_renders_at_once(mj: mjnb.Client) -> None:
    task = mj.imagine("a red fox --seed 6").wait(timeout=30)
    card = TaskCard(task)
    assert card.renders == 1 and card.thumbnail is not None
    assert card._on_change not in task.listeners  # nothing left to observe


def test_card_update_rate_is_throttled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MJNB_SIM_LATENCY", "1.0")
    mj = mjnb.Client(poll_interval=0.02, stream=False)
    task = mj.imagine("a red fox --seed 8")
    card = TaskCard(task, updates_per_second=4)
    # the engine tells listeners of every change; flood the card like a chatty provider,
    # through the task's end and past it
    start = time.monotonic()
    calls = 0
    while time.monotonic() - start < 2.0:
        card._on_change(task)
        calls += 1
        time.sleep(0.001)
    seconds = time.monotonic() - start
    assert calls > 500 and task.done
    # at most 4 a second, plus the first render, the final one and one in flight
    assert card.renders <= 4 * seconds + 3
    eventually(lambda: card.settled)
    assert card.bar.value == 100 and card.thumbnail is not None  # the final state arrived


# ---------------------------------------------------------------------------- sweep view


def test_sweep_view_fills_in_the_grid(mj: mjnb.Client) -> None:
    sweep = mj.sweep("a red fox --seed {1, 2} --s {0, 500}")
    view = SweepView(sweep, cell_size=64)
    assert view.bar.max == 4
    assert "0/4 done" in view.header.value or "/4 done" in view.header.value
    sweep.wait(timeout=60)
    eventually(lambda: view.settled)
    view.flush()
    assert "4/4 done" in view.header.get_state()["value"]
    grid = decode(state(view.image)["value"])
    assert grid.format == "JPEG" and max(grid.size) <= 1024
    data, _ = view._repr_mimebundle_()
    assert data["text/plain"] == f"[sweep 4/4 done] {sweep.id} seed × stylize: {sweep.prompt}"
    assert base64.b64decode(data["image/jpeg"]) == view.grid_jpeg
    assert "image/png" not in data


# ------------------------------------------------------------ Cancel, Stop and Resume


def test_the_cancel_button_shows_only_while_the_task_runs(mj: mjnb.Client) -> None:
    card = TaskCard(mj.imagine("a red fox --seed 11"), thumbnail_size=96)
    assert card.controls.layout.display is None
    assert card.controls.children == (card.cancel_button,) and not card.cancel_button.disabled
    assert "mjnb-card-cancel" in card.cancel_button._dom_classes
    finished_card(card)
    assert card.controls.layout.display == "none"


def test_clicking_cancel_drops_a_task_not_sent_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MJNB_SIM_LATENCY", "2")
    mj = mjnb.Client(max_concurrency=1)
    first = mj.imagine("a slow fox --seed 1")
    queued = mj.imagine("a queued fox --seed 2")  # waits for the one slot: not sent
    card = TaskCard(queued, thumbnail_size=96)
    card.cancel_button.click()
    message = card.control_message
    assert message and "\n" not in message and "Error" not in message
    assert card.cancel_button.disabled
    eventually(lambda: card.settled)
    assert queued.status == "cancelled"
    assert message in card.message.value.replace("&#x27;", "'")
    assert card.controls.layout.display == "none"
    first.wait(timeout=30)


def test_the_stop_button_cancels_the_sweep_and_keeps_what_finished(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MJNB_SIM_LATENCY", "1")
    mj = mjnb.Client(max_concurrency=1)
    sweep = mj.sweep("a fox --seed {1, 2, 3, 4}")
    view = SweepView(sweep)
    assert view.stop_button.layout.display is None
    assert view.resume_button.layout.display == "none"  # no client: no Resume
    view.stop_button.click()
    assert view.control_message and "Error" not in view.control_message
    eventually(lambda: view.settled, timeout=30)
    assert view.stop_button.layout.display == "none"
    assert sum(t.status == "cancelled" for t in sweep.tasks) >= 3
    assert view.control_message in view.message.value.replace("&#x27;", "'")


def test_a_sweep_with_cells_never_sent_gets_a_resume_button(mj: mjnb.Client) -> None:
    from mjnb.notebook.views import Views
    from mjnb.sweep import Sweep

    running = Views().sweep(mj.sweep("a fox --seed {1, 2}"), client=mj)
    assert running.resume_button.layout.display == "none"  # every cell was sent
    interrupted = Sweep.record(mj.session, mj.plan_sweep("a wolf --seed {1, 2}"))  # logged, unsent
    view = Views().sweep(interrupted, client=mj)
    assert view.resume_button.layout.display is None
    assert view.resume_button.description == "Resume (2 not sent)"
    view.resume_button.click()
    assert view.control_message and "Error" not in view.control_message
