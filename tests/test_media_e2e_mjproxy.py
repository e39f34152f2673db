"""The Client's media API end to end over the midjourney-proxy simulator (trueai's forms)
on a real loopback port: video flows, the window confirm, local images, the seed.

Skipped until the Client media API (``client-media``) is in the tree.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import mjnb
from mjnb.simulator import RunningSimulator

FAST = {"latency": 0.2, "long_side": 128, "progress_steps": 2}


def ok(task: Any) -> Any:
    task.wait(60)
    assert task.status == "succeeded", task.error
    return task


@pytest.fixture
def mj(make_sim: Callable[..., RunningSimulator]) -> Any:
    sim = make_sim()
    return mjnb.Client("mjproxy", base_url=sim.url, poll_interval=0.05)


@pytest.fixture
def pictures(tmp_path: Path) -> tuple[Path, Path]:
    one, two = tmp_path / "one.png", tmp_path / "two.png"
    Image.new("RGB", (80, 60), (200, 40, 30)).save(one)
    Image.new("RGB", (60, 80), (30, 60, 200)).save(two)
    return one, two


def test_imagine_upscale_animate_extend(mj: Any) -> None:
    grid = ok(mj.imagine("a red fox in snow --seed 7"))
    tile = ok(grid.upscale(1))
    clip = ok(tile.animate("high"))
    assert clip.kind == "video" and len(clip.videos) == 1
    assert all(Path(p).suffix == ".mp4" for p in clip.videos)
    longer = ok(clip.extend("low"))
    assert longer.kind == "video" and len(longer.videos) == 1
    from mjnb.video import probe

    assert probe(longer.videos[0]).frames > probe(clip.videos[0]).frames
    assert clip.poster.size[0] > 0


def test_local_animate_batch_and_upscale_video(mj: Any, pictures: tuple[Path, Path]) -> None:
    batch = ok(mj.animate(pictures[0], prompt="waves roll in", motion="low", batch=2))
    assert len(batch.videos) == 2
    picked = ok(batch.act("upscale video", index=2))
    assert len(picked.videos) == 1
    assert Path(picked.videos[0]).read_bytes() == Path(batch.videos[1]).read_bytes()


def test_remix_describe_blend_and_seed(mj: Any, pictures: tuple[Path, Path]) -> None:
    grid = ok(mj.imagine("a red fox --seed 9"))
    remixed = ok(grid.act("V1", prompt="a blue fox in the rain"))
    assert remixed.prompt.text == "a blue fox in the rain"
    assert ok(mj.describe(pictures[0])).descriptions
    assert ok(mj.blend(list(pictures))).image.size
    assert grid.job_seed == 9
    assert ok(mj.retexture(pictures[1], "as a linocut")).image.size
