"""Youchuan end to end: ``mjnb.Client("youchuan")`` against the simulator over loopback.

The adapter and the simulator's protocol were written apart, each from providers.md
section 6; here they meet: four separate images composed into the grid, U1-U4 chosen
locally, edits by ``jobId`` + 0-based ``imageNo``, a sweep, the log and the secret.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image

import mjnb
from mjnb.images import compose_grid
from mjnb.simulator import RunningSimulator
from tests.conftest import CANARY

FAST = {"latency": 0.3, "long_side": 256, "progress_steps": 3, "token": CANARY}


def youchuan(sim: RunningSimulator, **options: Any) -> mjnb.Client:
    options.setdefault("poll_interval", 0.05)
    return mjnb.Client("youchuan", base_url=sim.url, app_id="app-1", token=CANARY, **options)


def same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and bool(
        (np.asarray(a.convert("RGB")) == np.asarray(b.convert("RGB"))).all()
    )


def test_imagine_u2_upscale_subtle(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim()
    mj = youchuan(sim)
    grid = mj.imagine("a red fox in snow --ar 3:2 --seed 7").wait(timeout=30)
    assert grid.status == "succeeded", grid.error
    assert grid.actions == [
        *("U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "reroll"),
        *("animate low", "animate high"),  # Youchuan animates a grid's image by imageNo
    ]
    tiles = grid.tiles
    assert len(tiles) == 4 and len(grid.image_paths) == 4
    width, height = tiles[0].size
    assert abs(width / height - 1.5) < 0.03
    assert grid.image.size == (2 * width, 2 * height)  # the grid is the four composed
    assert same(grid.image, compose_grid(tiles))
    submits = sim.stats()["submits"]

    chosen = grid.act("U2").wait(timeout=30)
    assert chosen.status == "succeeded", chosen.error
    assert sim.stats()["submits"] == submits  # U2 chose locally: nothing sent
    assert chosen.parent_id == grid.id
    assert same(chosen.image, tiles[1])
    assert "upscale subtle" in chosen.actions and "square" not in chosen.actions

    upscaled = chosen.act("upscale subtle").wait(timeout=30)
    assert upscaled.status == "succeeded", upscaled.error
    assert upscaled.image.size == (2 * width, 2 * height)
    small = upscaled.image.resize(tiles[1].size, Image.Resampling.LANCZOS)
    distances = [
        float(np.abs(np.asarray(small, float) - np.asarray(t, float)).mean()) for t in tiles
    ]
    assert distances.index(min(distances)) == 1  # imageNo 1 is the second image
    assert not any(label.startswith("upscale") for label in upscaled.actions)
    assert sim.stats()["submits"] == 2


def test_imagine_v3_zoom_2x(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim()
    mj = youchuan(sim)
    grid = mj.imagine("a lighthouse on a cliff --seed 5").wait(timeout=30)
    varied = grid.act("V3").wait(timeout=30)
    assert varied.status == "succeeded", varied.error
    assert varied.parent_id == grid.id and len(varied.tiles) == 4
    assert not same(varied.image, grid.image)
    assert "zoom 2x" not in varied.actions  # zoom works on one image: choose it first
    zoomed = varied.act("U1").wait(timeout=30).zoom_out(2).wait(timeout=30)
    assert zoomed.status == "succeeded", zoomed.error
    assert len(zoomed.tiles) == 4 and zoomed.image.size == varied.image.size
    assert sim.stats()["submits"] == 3  # diffusion, variation, outpaint


def test_a_nine_cell_sweep(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim()
    mj = youchuan(sim)
    sweep = mj.sweep("a fox", seed=[1, 2, 3], stylize=[0, 250, 750])
    sweep.wait()
    assert [task.status for task in sweep.tasks] == ["succeeded"] * 9
    assert all(len(task.tiles) == 4 for task in sweep.tasks)
    picture = sweep.grid(x="stylize", y="seed")
    assert picture.width > 3 * 64 and picture.height > 3 * 64
    assert sorted(sweep.df["seed"]) == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    stats = sim.stats()
    assert stats["submits"] == 9 and stats["succeeded"] == 9


def test_a_permutation_prompt_is_expanded_locally(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim()
    mj = youchuan(sim)
    sweep = mj.sweep("a {red, blue} fox --seed 3")
    sweep.wait()
    assert [task.status for task in sweep.tasks] == ["succeeded"] * 2
    assert sim.stats()["submits"] == 2


def test_unsupported_parameters_send_nothing(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim()
    mj = youchuan(sim)
    for prompt in ("a fox --repeat 2", "a fox --stealth", "a fox --public"):
        with pytest.raises(mjnb.PromptError, match="Youchuan does not support"):
            mj.imagine(prompt)
    assert sim.stats()["requests"] == 0
    assert mj.log().empty


def test_a_full_plan_is_waited_for_not_duplicated(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(concurrency=2)
    mj = youchuan(sim, max_concurrency=3)
    tasks = [mj.imagine(f"a fox number {n}") for n in range(3)]
    assert [task.wait(timeout=60).status for task in tasks] == ["succeeded"] * 3
    stats = sim.stats()
    assert stats["rejected_429"] >= 1 and stats["submits"] == 3 and stats["jobs"] == 3


def test_refusals_become_task_errors(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim()
    task = youchuan(sim).imagine("a fox covered in gore").wait(timeout=30)
    assert task.status == "failed" and "Msg_Sensitive" in (task.error or "")
    wrong = mjnb.Client("youchuan", base_url=sim.url, app_id="app-1", token="not-the-secret")
    failed = wrong.imagine("a fox").wait(timeout=30)
    assert failed.status == "failed"
    assert "MJNB_YOUCHUAN_APP and MJNB_YOUCHUAN_SECRET" in (failed.error or "")


def test_log_rows_look_like_every_other_providers(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim()
    mj = youchuan(sim)
    grid = mj.imagine("a paper boat --ar 3:2 --s 250").wait(timeout=30)
    chosen = grid.act("U4").wait(timeout=30)
    up = chosen.act("upscale creative").wait(timeout=30)
    other = mjnb.Client("mjproxy", base_url=sim.url, token=CANARY, poll_interval=0.05)
    other.imagine("a paper boat --ar 3:2 --s 250").wait(timeout=30)
    frame = mj.log()
    assert list(frame.columns) == list(other.log().columns)
    rows = frame.set_index("task_id")
    youchuan_rows = rows[rows["provider"] == "youchuan"]
    assert list(youchuan_rows.loc[[grid.id, chosen.id, up.id], "action"]) == [
        "imagine",
        "U4",
        "upscale creative",
    ]
    assert rows.loc[chosen.id, "parent_id"] == grid.id and rows.loc[up.id, "parent_id"] == chosen.id
    assert set(youchuan_rows["status"]) == {"succeeded"} and set(youchuan_rows["progress"]) == {100}
    assert rows.loc[grid.id, "text"] == "a paper boat" and rows.loc[grid.id, "stylize"] == 250
    assert rows.loc[grid.id, "ar"] == "3:2"
    for task in (grid, chosen, up):
        assert str(task.image_path) == rows.loc[task.id, "image_path"]
        assert task.image_path is not None and task.image_path.exists()
        assert rows.loc[task.id, "image_url"].startswith(sim.url)
    assert len(rows.loc[grid.id, "image_url"].split()) == 4  # the four separate images


def test_the_secret_never_leaks(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim()
    mj = youchuan(sim)
    assert CANARY not in repr(mj)
    grid = mj.imagine("a fox --seed 1").wait(timeout=30)
    chosen = grid.act("U1").wait(timeout=30)
    bad = mj.imagine("a fox in blood").wait(timeout=30)
    for task in (grid, chosen, bad):
        assert CANARY not in repr(task) and CANARY not in repr(task.snapshot)
        assert CANARY not in (task.error or "")
    assert CANARY not in mj.log().to_csv()
    with sqlite3.connect(mj.home / "history.sqlite") as db:
        dump = "\n".join(db.iterdump())
    assert CANARY not in dump and "app-1" not in dump
    assert CANARY not in repr(mjnb.Client("youchuan", app_id="a", token=CANARY))
