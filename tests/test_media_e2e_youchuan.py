"""Video and the editor through mjnb.Client against the Youchuan simulator (real port).

What is Youchuan's own here: a grid's image is animated directly by ``imageNo`` (no
upscale job first), a clip extends at most 4 times (the fifth is refused before
sending), vary region repaints only the box, edit and retexture take public URLs only.
MetaChat has no video and no editor: one-line errors, nothing sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import mjnb
from mjnb.errors import InvalidArgument
from mjnb.simulator import RunningSimulator
from mjnb.video import probe

FAST = {"latency": 0.2, "long_side": 128, "progress_steps": 2, "token": "yc-secret"}


def ok(task: Any) -> Any:
    task.wait(60)
    assert task.status == "succeeded", task.error
    return task


@pytest.fixture
def sim(make_sim: Callable[..., RunningSimulator]) -> RunningSimulator:
    return make_sim(**FAST)


@pytest.fixture
def mj(sim: RunningSimulator) -> mjnb.Client:
    return mjnb.Client(
        "youchuan", base_url=sim.url, app_id="app-1", token="yc-secret", poll_interval=0.05
    )


def test_a_grid_image_is_animated_directly_then_extended_four_times(
    mj: mjnb.Client, sim: RunningSimulator
) -> None:
    grid = ok(mj.imagine("a red fox in snow --seed 7"))
    before = sim.stats()["submits"]
    clip = ok(grid.animate("high", index=2))
    assert sim.stats()["submits"] == before + 1  # imageNo directly: no upscale job first
    assert clip.kind == "video" and len(clip.videos) == 1
    durations = [probe(clip.videos[0]).duration]
    for _ in range(4):
        clip = ok(clip.extend("low"))
        durations.append(probe(clip.videos[0]).duration)
    assert durations == sorted(durations) and len(set(durations)) == 5
    sent = sim.stats()["submits"]
    with pytest.raises(InvalidArgument, match="at most 4 times") as caught:
        clip.extend("low")
    assert "\n" not in str(caught.value)
    assert sim.stats()["submits"] == sent  # nothing was sent
    bigger = ok(clip.act("upscale video"))
    assert probe(bigger.videos[0]).size[0] > probe(clip.videos[0]).size[0]


def test_animate_a_url_with_a_batch_of_two(mj: mjnb.Client) -> None:
    grid = ok(mj.imagine("a lighthouse --seed 3"))
    clip = ok(mj.animate(grid.snapshot.image_urls[0], "waves roll in", motion="low", batch=2))
    assert len(clip.videos) == 2
    assert clip.videos[0].read_bytes() != clip.videos[1].read_bytes()


def test_vary_region_changes_only_the_box(mj: mjnb.Client) -> None:
    grid = ok(mj.imagine("a red fox in snow --seed 7"))
    chosen = ok(grid.act("U2"))
    w, h = chosen.image.size
    box = (w // 4, h // 4, w // 2, h // 2)
    edited = ok(chosen.vary_region(box, prompt="a red fox with a blue hat"))
    old = np.asarray(chosen.image.convert("RGB")).astype(int)
    for tile in edited.tiles:
        new = np.asarray(tile.convert("RGB").resize((w, h))).astype(int)
        changed = np.abs(new - old).sum(axis=2) > 0
        x0, y0, x1, y1 = box
        assert changed[y0:y1, x0:x1].mean() > 0.5
        changed[y0:y1, x0:x1] = False
        assert not changed.any()


def test_remix_custom_zoom_edit_and_retexture(mj: mjnb.Client, sim: RunningSimulator) -> None:
    grid = ok(mj.imagine("a red fox in snow --seed 7"))
    remixed = ok(grid.act("V1", prompt="a blue fox in snow"))
    assert remixed.prompt.text == "a blue fox in snow"
    chosen = ok(grid.act("U1"))
    zoomed = ok(chosen.zoom_out(1.3, prompt="a red fox in a wide field"))
    assert zoomed.action == "zoom custom"
    url = grid.snapshot.image_urls[0]
    again = ok(mj.retexture(url, "stained glass"))
    assert len(again.tiles) == 4
    # upload-paint needs a mask, and a mask needs the image's size (the client cannot
    # read a URL's): without one the task fails with the reason, nothing sent
    sent = sim.stats()["submits"]
    unmasked = mj.edit(url, "a red fox with a crown").wait(30)
    assert unmasked.status == "failed" and "needs a mask" in (unmasked.error or "")
    assert sim.stats()["submits"] == sent


def test_metachat_refuses_video_and_the_editor_before_sending(
    sim: RunningSimulator,
) -> None:
    mc = mjnb.Client(
        "metachat", base_url=sim.url, app_id="app", token="yc-secret", poll_interval=0.2
    )
    sent = sim.stats()["submits"]
    url = "https://example.com/a.png"
    for call in (
        lambda: mc.animate(url, "waves", motion="low"),
        lambda: mc.edit(url, "a hat", mask=(0, 0, 4, 4)),
        lambda: mc.retexture(url, "glass"),
    ):
        with pytest.raises(InvalidArgument, match="metachat has no") as caught:
            call()
        assert "\n" not in str(caught.value) and "MetaChat" in str(caught.value)
    assert sim.stats()["submits"] == sent
