"""The task card and the sweep view, through ipywidgets' own models (no browser, no kernel).

Tasks run on the embedded simulator (provider "local") with 0.3 s jobs.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
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


# ------------------------------------------------------------------ video and the editor


def _sim_clip(tmp_path: Any, name: str = "clip.mp4", motion: str = "high") -> Any:
    """A real H.264 MP4, made by the simulator's video model (what providers send)."""
    from mjnb.simulator.video import animate_one

    start = Image.new("RGB", (256, 144), (40, 90, 160))
    path = tmp_path / name
    path.write_bytes(animate_one(start, "waves roll in", 7, motion=motion, long_side=256))
    return path


def test_the_clip_player_syncs_posters_only_and_sends_the_clips_as_messages(
    tmp_path: Any,
) -> None:
    from mjnb.notebook.clip import ClipPlayer

    clip = _sim_clip(tmp_path)
    poster = b"\xff\xd8\xff fake jpeg"
    sent: list[tuple[Any, list[bytes]]] = []
    player = ClipPlayer([clip], posters=[poster], width=200)
    player.send = lambda content, buffers=None: sent.append((content, list(buffers or [])))  # type: ignore[method-assign]
    player._handle_msg(  # what clip.js sends when a view renders
        {"content": {"data": {"method": "custom", "content": {"event": "ready"}}}, "buffers": []}
    )
    [(content, buffers)] = sent
    assert content["event"] == "clips" and content["count"] == 1
    assert buffers == [clip.read_bytes()]
    widget_state = player.get_state()
    assert "ftyp" not in repr(widget_state)  # no MP4 bytes in what a saved notebook keeps
    assert widget_state["posters"] == ["data:image/jpeg;base64,/9j/IGZha2UganBlZw=="]
    assert widget_state["width"] == 200 and widget_state["selected"] == 0
    assert "export default" in widget_state["_esm"]
    assert 'event: "ready"' in widget_state["_esm"] and "createObjectURL" in widget_state["_esm"]
    player.selected = 5  # clamped to the clips there are
    assert player.selected == 0


def test_a_clip_player_refuses_a_clip_gone_from_the_cache(tmp_path: Any) -> None:
    from mjnb.errors import StorageError
    from mjnb.notebook.clip import ClipPlayer

    with pytest.raises(StorageError, match="not in the cache"):
        ClipPlayer([tmp_path / "gone.mp4"])


def test_a_clip_budget_keeps_poster_and_preview_under_150_kb(tmp_path: Any) -> None:
    from mjnb.notebook.videocard import clip_budget
    from mjnb.video import NOTEBOOK_CLIP_BYTES, poster, preview_webp

    clip = _sim_clip(tmp_path)
    jpeg = card_thumbnail(poster(clip))
    for first in (True, False):
        budget = clip_budget(len(jpeg), first=first)
        webp = preview_webp(clip, budget)
        kept = (2 if first else 1) * len(base64.b64encode(jpeg)) + len(base64.b64encode(webp))
        assert kept < NOTEBOOK_CLIP_BYTES - 2_000
    assert clip_budget(200_000, first=True) == 10_000  # never below what preview_webp takes


def card_thumbnail(image: Image.Image) -> bytes:
    from mjnb.notebook.liveview import thumbnail_jpeg

    return thumbnail_jpeg(image, 256, 80)


def test_a_grid_card_offers_no_animate_and_a_single_image_card_does_where_video_is(
    mj: mjnb.Client,
) -> None:
    from mjnb.notebook.cardtools import card_labels, provider_features

    grid = finished_card(TaskCard(mj.imagine("a red fox --seed 3")))
    assert not any(label.startswith("animate") for label in card_labels(grid.task))
    up = finished_card(grid.click("U2"))  # type: ignore[arg-type]
    video = "video" in provider_features(up.task)
    texts = [b.description for b in up.buttons.children]
    assert ("Animate low" in texts and "Animate high" in texts) == video


def test_a_video_task_gets_a_video_card_that_plays_and_saves_small(mj: mjnb.Client) -> None:
    """Waits for client-media (task.animate, task.videos) and a protocol with video."""
    from mjnb.notebook.videocard import VideoCard
    from mjnb.notebook.views import Views
    from mjnb.video import NOTEBOOK_CLIP_BYTES

    up = mj.imagine("a red fox --seed 3").wait(30).act("U2").wait(30)
    card = Views().card(up.animate("high"))  # type: ignore[attr-defined]
    assert isinstance(card, VideoCard)
    assert card.player.layout.display == "none"  # while it runs: the progress bar
    finished_card(card)
    assert card.task.status == "succeeded", card.task.error
    assert card.player.layout.display is None and card.image.layout.display == "none"
    assert list(card.clips) == [p for p in map(Path, card.task.videos)]  # type: ignore[attr-defined]
    assert len(card.player.posters) == len(card.clips) == 1
    texts = [b.description for b in card.buttons.children]
    assert {"Extend low", "Extend high"} <= set(texts)
    data, _ = card._repr_mimebundle_()
    assert "video/mp4" not in repr(data) and "image/webp" in data["text/html"]
    assert data["image/jpeg"] not in data["text/html"]  # the poster once, not twice
    widget_state = json.dumps(
        {k: v for k, v in card.player.get_state().items() if k != "_esm" and k != "_css"}
    )
    kept = len(data["image/jpeg"]) + len(data["text/html"]) + len(widget_state)
    print(f"\nsaved notebook: {kept} bytes for one clip (poster, preview, player state)")
    assert kept < NOTEBOOK_CLIP_BYTES


def test_the_extend_button_extends_the_clip_picked_in_a_batch(mj: mjnb.Client) -> None:
    """Waits for client-media (task.animate(batch=), clip.extend(index=))."""
    from mjnb.notebook.views import Views

    up = mj.imagine("a red fox --seed 4").wait(30).act("U1").wait(30)
    card = finished_card(Views().card(up.animate("low", batch=2)))  # type: ignore[attr-defined]
    assert len(card.player.posters) == 2
    card.player.selected = 1
    child = card.click("extend low")
    assert child is not None, card.message.value
    assert child.task.job.index == 2 and child.task.job.motion == "low"


def _box_mask(size: tuple[int, int]) -> bytes:
    from PIL import ImageDraw

    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle((0, 0, size[0] // 2, size[1] // 2), fill=255)
    out = io.BytesIO()
    mask.save(out, "PNG")
    return out.getvalue()


def _frontend_submits(painter: Any, mask_png: bytes) -> None:
    """What painter.js sends on Submit (as in tests/test_painter.py)."""
    painter._handle_msg(
        {
            "content": {
                "data": {"method": "update", "state": {"mask": None}, "buffer_paths": [["mask"]]}
            },
            "buffers": [memoryview(mask_png)],
        }
    )
    painter._handle_msg(
        {"content": {"data": {"method": "custom", "content": {"event": "submit"}}}, "buffers": []}
    )


def test_vary_region_opens_the_painter_and_its_submit_varies_the_region(
    mj: mjnb.Client,
) -> None:
    """Waits for client-media (task.vary_region) and ace (the "vary region" label)."""
    up = mj.imagine("a red fox --seed 5").wait(30).act("U2").wait(30)
    card = finished_card(TaskCard(up))
    assert "Vary region" in [b.description for b in card.buttons.children]
    assert card.click("vary region") is None  # it opens the painter, sends nothing
    region = card.tools.region
    assert region is not None and region.painter.size == up.image.size
    assert region.prompt.value == str(up.prompt)
    region.prompt.value = "a red fox wearing a blue hat"
    _frontend_submits(region.painter, _box_mask(up.image.size))
    [child_card] = card.child_cards.children
    child = child_card.task
    assert child.action == "vary region" and child.parent_id == up.id
    assert child.job.mask and child.job.prompt.startswith("a red fox wearing a blue hat")
    assert "Mask received: 25%" in region.painter.status
    assert child.wait(30).status == "succeeded", child.error


def _proxy(sim: Any) -> mjnb.Client:
    """trueai's midjourney-proxy on the simulator: remix and custom zoom (window confirm)."""
    return mjnb.Client("mjproxy", base_url=sim.url, token="t", poll_interval=0.05)


def test_remix_sends_the_chosen_label_with_the_new_prompt(sim: Any) -> None:
    grid = finished_card(TaskCard(_proxy(sim).imagine("a red fox --seed 6")))
    remix = grid.tools.remix
    assert remix in grid.tools.children  # the toggle, where remix is offered
    assert remix not in grid.buttons.children  # the action buttons stay the task's actions
    remix.value = True
    assert grid.tools.remix_prompt.value == str(grid.task.prompt)
    assert grid.tools.remix_box.layout.display is None
    grid.tools.remix_prompt.value = "a red fox in a green forest --seed 6"
    child = grid.click("V2")
    assert child is not None, grid.message.value
    assert child.task.job.remix and "green forest" in child.task.job.prompt
    assert child.task.wait(30).status == "succeeded", child.task.error
    remix.value = False  # off again: a plain variation
    plain = grid.click("V3")
    assert plain is not None and not plain.task.job.remix


def test_custom_zoom_takes_a_factor_and_a_prompt(sim: Any) -> None:
    up = _proxy(sim).imagine("a red fox --seed 8").wait(30).act("U3").wait(30)
    card = finished_card(TaskCard(up))
    assert "Custom zoom" in [b.description for b in card.buttons.children]
    assert card.click("zoom custom") is None and card.tools.zoom_box.layout.display is None
    card.tools.zoom_factor.value = 1.3
    card.tools.zoom_prompt.value = "a red fox in a wide snowy valley"
    card.tools.zoom_go.click()
    [child_card] = card.child_cards.children
    assert child_card.task.job.zoom == 1.3 and "snowy valley" in child_card.task.job.prompt
    assert child_card.task.wait(30).status == "succeeded", child_card.task.error


def test_a_grid_that_animates_asks_which_tile(sim: Any) -> None:
    """Youchuan animates a grid's tile directly (imageNo): the card picks the tile."""
    mj = mjnb.Client("youchuan", base_url=sim.url, app_id="a", token="t", poll_interval=0.05)
    grid = finished_card(TaskCard(mj.imagine("a red fox --seed 10")))
    assert "Animate high" in [b.description for b in grid.buttons.children]
    tile = next(w for w in grid.tools.children if "mjnb-card-tile" in w._dom_classes)
    tile.value = 3
    child = grid.click("animate high")
    assert child is not None, grid.message.value
    assert child.task.kind == "video"
    assert child.task.parent_id == grid.task.id  # the tile itself, no upscale first
    assert child.task.job.index == 3
    assert type(child).__name__ == "VideoCard"


def test_an_editor_button_the_api_refuses_shows_one_line(mj: mjnb.Client) -> None:
    grid = finished_card(TaskCard(mj.imagine("a red fox --seed 9")))
    grid.tools.call_for("zoom custom")  # the box opens even where it is not offered
    grid.tools.zoom_factor.value = 1.0
    grid.tools.zoom_go.click()
    assert grid.child_cards.children == ()
    message = grid.message.value
    assert message.startswith("<div") and "zoom custom: " in message


def test_upscale_video_acts_on_the_clip_picked_in_a_batch(sim: Any) -> None:
    """trueai's proxy upscales one clip of a batch (video_virtual_upscale)."""
    from mjnb.notebook.views import Views

    up = _proxy(sim).imagine("a red fox --seed 12").wait(30).act("U1").wait(30)
    card = finished_card(Views().card(up.animate("low", batch=2)))
    assert card.task.status == "succeeded", card.task.error
    assert "Upscale video" in [b.description for b in card.buttons.children]
    card.player.selected = 1
    child = card.click("upscale video")
    assert child is not None, card.message.value
    assert child.task.kind == "video" and child.task.job.index == 2
    assert child.task.wait(60).status == "succeeded", child.task.error
