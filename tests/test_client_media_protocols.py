"""The client media API end to end over the Ace (``local``) and midjourney-proxy
simulators on real loopback ports.

These flows need each protocol's media endpoints; the tests skip until the protocol's
media modules are in the tree (they land in parallel branches).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import mjnb
from mjnb.errors import InvalidArgument
from mjnb.simulator import RunningSimulator
from mjnb.video import probe

FAST = {"latency": 0.2, "long_side": 128, "progress_steps": 2}


def ok(task: Any) -> Any:
    task.wait(60)
    assert task.status == "succeeded", task.error
    return task


def changed_box(before: Image.Image, after: Image.Image) -> tuple[int, int, int, int]:
    a = np.asarray(before.convert("RGB"), dtype=int)
    b = np.asarray(after.convert("RGB"), dtype=int)
    assert a.shape == b.shape
    ys, xs = np.nonzero(np.abs(a - b).sum(axis=2) > 8)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.fixture
def png(tmp_path: Path) -> Path:
    path = tmp_path / "mine.png"
    Image.new("RGB", (96, 96), (20, 120, 220)).save(path)
    return path


def test_ace_video_editor_and_seed(make_sim: Callable[..., RunningSimulator], png: Path) -> None:
    sim = make_sim()
    mj = mjnb.Client("acedata", base_url=sim.url, token="t", poll_interval=0.05)
    grid = ok(mj.imagine("a red fox in snow --seed 7"))
    tile = ok(grid.upscale(1))
    clip = ok(tile.animate("high"))
    assert clip.kind == "video" and all(probe(p).frames > 1 for p in clip.videos)
    longer = ok(clip.extend("low", index=1))
    assert longer.kind == "video" and longer.videos
    ok(tile.vary_region((16, 16, 64, 64), prompt="a red fox with a hat"))
    assert grid.job_seed == mj.log().set_index("task_id").loc[grid.id, "job_seed"]
    batch = ok(mj.animate(png, "waves roll in", motion="low", batch=2))  # uploaded first
    assert len(batch.videos) == 2
    rows = len(mj.log())
    for call, match in [
        (lambda: grid.act("V1", prompt="a blue fox"), "acedata has no remix"),
        (lambda: tile.zoom_out(1.3), "acedata has no zoom custom"),
    ]:
        with pytest.raises(InvalidArgument, match=match):
            call()
    assert len(mj.log()) == rows


def test_mjproxy_video_and_the_editor(make_sim: Callable[..., RunningSimulator], png: Path) -> None:
    sim = make_sim()
    mj = mjnb.Client("mjproxy", base_url=sim.url, poll_interval=0.05)
    grid = ok(mj.imagine("a red fox in snow --seed 7"))
    tile = ok(grid.upscale(1))
    clip = ok(tile.animate("high"))
    assert clip.kind == "video" and all(probe(p).frames > 1 for p in clip.videos)
    batch = ok(mj.animate(png, "waves roll in", motion="low", batch=2))
    assert len(batch.videos) == 2
    u2 = ok(grid.upscale(2))
    edited = ok(u2.vary_region((16, 16, 64, 64), prompt="a red fox with a hat"))
    assert changed_box(u2.image, edited.image) == (16, 16, 64, 64)  # only inside the box
    assert ok(grid.act("V1", prompt="a blue fox in snow")).prompt.text == "a blue fox in snow"
    assert ok(tile.zoom_out(1.5, prompt="a fox in a forest")).action == "zoom custom"
    assert ok(mj.edit(png, "make it a sunset")).image.size
    assert ok(mj.describe(png)).descriptions
    assert isinstance(grid.job_seed, int)
