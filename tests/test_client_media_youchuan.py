"""The client media API end to end over the Youchuan simulator on a real loopback port.

Youchuan animates a grid's tile and single images, extends a clip four times, upscales
clips, inpaints, remixes and zooms; it takes no local images (no upload endpoint) and
cannot tell a job's seed, so those are one-line refusals before anything is sent.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import mjnb
from mjnb.errors import InvalidArgument
from mjnb.simulator import RunningSimulator
from mjnb.video import probe

FAST = {"latency": 0.2, "long_side": 128, "progress_steps": 2, "token": "yc-secret"}


def youchuan(sim: RunningSimulator) -> mjnb.Client:
    return mjnb.Client(
        "youchuan", base_url=sim.url, app_id="app-1", token="yc-secret", poll_interval=0.05
    )


def ok(task: Any) -> Any:
    task.wait(60)
    assert task.status == "succeeded", task.error
    return task


@pytest.fixture
def mj(make_sim: Callable[..., RunningSimulator]) -> mjnb.Client:
    return youchuan(make_sim())


def test_imagine_upscale_animate_high_extend_low(mj: mjnb.Client) -> None:
    grid = ok(mj.imagine("a red fox in snow --seed 7"))
    tile = ok(grid.upscale(1))
    clip = ok(tile.animate("high"))
    assert clip.kind == "video" and clip.videos
    for path in clip.videos:
        assert path.suffix == ".mp4" and probe(path).frames > 1
    assert clip.poster.size == probe(clip.videos[0]).size
    assert len(clip.frames(3)) == 3
    if len(clip.videos) > 1:
        with pytest.raises(InvalidArgument, match="say which to extend"):
            clip.extend("low")  # several clips: which one
    longer = ok(clip.extend("low", index=1))
    assert longer.kind == "video" and len(longer.videos) == 1
    assert probe(longer.videos[0]).duration > probe(clip.videos[0]).duration
    row = mj.session.log.get(longer.id)
    assert (row["kind"], row["motion"], row["action"]) == ("video", "low", "extend low")
    assert [Path(p) for p in row["video_paths"]] == longer.videos


def test_animate_from_an_image_url_with_a_batch(mj: mjnb.Client, tmp_path: Path) -> None:
    grid = ok(mj.imagine("a lighthouse --seed 3"))
    url = grid.snapshot.image_urls[0] if grid.snapshot.image_urls else grid.image_url
    clip = ok(mj.animate(url, "waves roll in", motion="low", batch=2))
    assert len(clip.videos) == 2
    local = tmp_path / "start.png"
    Image.new("RGB", (64, 64), (9, 90, 200)).save(local)
    with pytest.raises(InvalidArgument, match="youchuan needs a public URL"):
        mj.animate(local, "waves roll in", motion="low", batch=2)


def test_the_editor_on_youchuan(mj: mjnb.Client, tmp_path: Path) -> None:
    grid = ok(mj.imagine("a red fox in snow --seed 7"))
    tile = ok(grid.upscale(2))
    edited = ok(tile.vary_region((8, 8, 40, 40), prompt="a red fox with a hat"))
    assert edited.mask_path is not None and edited.mask_path.exists()
    assert ok(grid.act("V1", prompt="a blue fox in snow")).prompt.text == "a blue fox in snow"
    zoomed = ok(tile.zoom_out(1.5, prompt="a red fox in a forest"))
    assert zoomed.action == "zoom custom"
    mine = tmp_path / "mine.png"
    Image.new("RGB", (64, 64)).save(mine)
    rows = len(mj.log())
    for call, match in [
        (lambda: mj.edit(mine, "make it blue"), "needs a public URL"),
        (lambda: mj.describe(mine), "needs a public URL"),
        (lambda: grid.job_seed, "youchuan has no seed"),
    ]:
        with pytest.raises(InvalidArgument, match=match):
            call()
    assert len(mj.log()) == rows


def test_cli_animate_prints_the_mp4_paths(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim()
    mj = youchuan(sim)
    tile = ok(ok(mj.imagine("a red fox --seed 1")).upscale(1))
    env = {**os.environ, "MJNB_YOUCHUAN_APP": "app-1", "MJNB_YOUCHUAN_SECRET": "yc-secret"}
    done = subprocess.run(
        [sys.executable, "-m", "mjnb.cli", "animate", tile.id, "--motion", "high",
         "--provider", "youchuan", "--base-url", sim.url],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    paths = [Path(line) for line in done.stdout.split()]
    assert paths and all(p.suffix == ".mp4" and p.exists() for p in paths)
    assert "100%" in done.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "mjnb.cli", "animate", tile.id, "--batch", "3",
         "--provider", "youchuan", "--base-url", sim.url],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "batch" in bad.stderr
