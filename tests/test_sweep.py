"""Sweeps end to end against the simulator over loopback HTTP: run, cap, order, failures,
retry, resume after a restart, the grid, the HTML report and side-by-side comparison."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import mjnb
from mjnb.simulator import RunningSimulator
from mjnb.sweep import (
    CellView,
    Sweep,
    SweepHost,
    plan_sweep,
    render_grid,
    resume_sweeps,
    start_sweep,
)

FAST = {"latency": 0.25, "long_side": 256, "progress_steps": 3, "concurrency": 4}
WAIT = 60


def client(sim: RunningSimulator, **options: Any) -> mjnb.Client:
    options.setdefault("poll_interval", 0.05)
    return mjnb.Client("acedata", base_url=sim.url, token="t", **options)


class Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.rows = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources.append(dict(attrs).get("src") or "")
        if tag == "tr":
            self.rows += 1


def test_a_nine_cell_sweep_runs_end_to_end(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = make_sim()
    mj = client(sim)
    sweep = mj.sweep("a red fox", seed=[1, 2, 3], stylize=[0, 250, 750])
    assert sweep.wait(timeout=WAIT) is sweep
    assert sweep.done and sweep.summary == "9/9 done"

    df = sweep.df
    assert len(df) == 9
    assert list(df.columns[:2]) == ["seed", "stylize"]
    assert str(df["seed"].dtype) == "Int64" and str(df["stylize"].dtype) == "Int64"
    assert list(zip(df["seed"], df["stylize"], strict=True)) == [
        (seed, s) for seed in (1, 2, 3) for s in (0, 250, 750)
    ]
    assert set(df["status"]) == {"succeeded"}
    assert df["image_path"].notna().all() and (df["run_s"] > 0).all()
    assert list(df["task_id"]) == [t.id for t in sweep.tasks]

    log = mj.log()
    assert len(log) == 9 and list(log["sweep_id"].unique()) == [sweep.id]
    assert sorted(zip(log["seed"], log["stylize"], strict=True)) == sorted(
        zip(df["seed"], df["stylize"], strict=True)
    )
    assert len(mj.sweeps()) == 1
    assert sim.stats()["submits"] == 9

    grid = sweep.grid(x="stylize", y="seed", cell_size=128)
    tile = max(sweep.tasks[0].image.size)
    assert 3 * 128 < grid.width < 3 * 128 + 160 and 3 * 128 < grid.height < 3 * 128 + 120
    assert tile == 256
    # the same cells rendered from plain images place each task's picture in its cell
    first = sweep.tasks[0].image.convert("RGB").resize((128, 128))
    assert _contains(grid, first)

    report = sweep.to_html(tmp_path / "report.html")
    parsed = Images()
    parsed.feed(report.read_text(encoding="utf-8"))
    assert len(parsed.sources) == 9
    assert all(src.startswith("data:image/jpeg;base64,") for src in parsed.sources)

    side = mj.compare(sweep.tasks[0], sweep.tasks[4].id)
    assert side.width > 2 * 256 and side.height > 256


def _contains(grid: Image.Image, tile: Image.Image) -> bool:
    """Whether ``tile`` appears (about) somewhere in ``grid``'s top-left quarter."""
    big = np.asarray(grid).astype(int)
    small = np.asarray(tile).astype(int)
    h, w = small.shape[:2]
    for top in range(0, grid.height // 2):
        for left in range(0, grid.width // 2):
            if abs(big[top, left] - small[0, 0]).sum() > 30:
                continue
            window = big[top : top + h, left : left + w]
            if window.shape == small.shape and np.abs(window - small).mean() < 12:
                return True
    return False


def test_permutations_in_the_prompt_run_as_a_sweep(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim()
    mj = client(sim)
    sweep = mj.sweep("a {red, blue} fox --ar {1:1, 3:2}")
    sweep.wait(timeout=WAIT)
    assert list(sweep.df.columns[:2]) == ["text", "ar"]
    assert sweep.summary == "4/4 done"
    assert [t.image.size[0] > t.image.size[1] for t in sweep.tasks] == [False, True] * 2
    seeds = {t.prompt.params["seed"] for t in sweep.tasks if t.prompt is not None}
    assert seeds == {sweep.plan.seed}  # one fixed seed keeps the cells comparable


def test_more_jobs_than_max_jobs_needs_confirm_and_sends_nothing(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim()
    mj = client(sim)
    plan = mj.plan_sweep("a red fox", seed=list(range(1, 11)), stylize="0..1000/5")
    assert plan.jobs == 50
    assert str(plan).startswith("50 jobs (seed × stylize), about 50 GPU-minutes")
    with pytest.raises(mjnb.MJError, match=r"50 jobs, more than max_jobs=40.*confirm=True"):
        mj.sweep("a red fox", seed=list(range(1, 11)), stylize="0..1000/5")
    with pytest.raises(mjnb.MJError, match="6 jobs, more than max_jobs=4"):
        mj.sweep("a red fox", seed=[1, 2, 3], chaos=[0, 50], max_jobs=4)
    with pytest.raises(mjnb.PromptError, match="stylize must be 0-1000"):
        mj.sweep("a red fox", stylize="0..2000 step 1000")
    assert sim.stats()["submits"] == 0
    assert mj.log().empty and mj.sweeps().empty

    sweep = mj.sweep("a red fox", seed=[1, 2, 3], chaos=[0, 50], max_jobs=4, confirm=True)
    sweep.wait(timeout=WAIT)
    assert sweep.summary == "6/6 done" and sim.stats()["submits"] == 6


def test_cells_start_row_by_row_under_the_concurrency_limit(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(latency=0.3)
    mj = client(sim, max_concurrency=3)
    sweep = mj.sweep("a red fox", seed=[1, 2, 3], stylize=[0, 500, 1000])
    sweep.wait(timeout=WAIT)
    rows = {t.id: i // 3 for i, t in enumerate(sweep.tasks)}
    started = sorted(sweep.tasks, key=lambda t: t.started_at or t.submitted_at)
    assert [rows[t.id] for t in started] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    # so the first row is complete before the last one starts
    first_done = max(t.finished_at for t in sweep.tasks[:3] if t.finished_at)
    last_start = min(t.started_at for t in sweep.tasks[6:] if t.started_at)
    assert first_done <= last_start


def test_failed_cells_are_placeholders_and_retry_replaces_them(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(fail_rate=0.5, seed=11)
    mj = client(sim)
    sweep = mj.sweep("a red fox", seed=[1, 2], chaos=[0, 40, 80])
    sweep.wait(timeout=WAIT)
    df = sweep.df
    failed = df[df["status"] == "failed"]
    assert 0 < len(failed) < 6, "pick a simulator seed that fails some cells, not all"
    assert failed["error"].notna().all() and failed["image_path"].isna().all()
    assert sweep.summary == f"6/6 done, {len(failed)} failed"

    grid = sweep.grid(cell_size=96)
    stand_in = [CellView(v.coords, Image.new("RGB", (96, 96), "black")) for v in sweep.views(96)]
    assert grid.size == render_grid(stand_in, sweep.axes, cell_size=96).size  # no holes
    grey = (np.abs(np.asarray(grid).astype(int) - 88).sum(axis=2) < 10).sum()
    assert grey > len(failed) * 96 * 96 * 0.4  # one grey placeholder per failed cell

    before = sim.stats()["submits"]
    old_ids = set(failed["task_id"])
    rounds = 0
    while sweep.df["status"].eq("failed").any():
        retried = sweep.retry_failed()
        assert retried and not {t.id for t in retried} & old_ids
        sweep.wait(timeout=WAIT)
        rounds += 1
        assert rounds < 12
    assert sweep.summary == "6/6 done"
    assert len(sweep.tasks) == 6 and not {t.id for t in sweep.tasks} & old_ids
    resent = sim.stats()["submits"] - before
    assert len(mj.log(sweep=sweep.id)) == 6 + resent  # every attempt is logged
    assert sweep.retry_failed() == []


def test_a_sweep_resumes_after_a_restart_without_resubmitting(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim()
    first = client(sim)
    # a kernel that logged the sweep, sent two cells and died
    plan = plan_sweep("a red fox", axes={"seed": [1, 2, 3], "chaos": [0, 50]}, provider="acedata")
    crashed = Sweep.record(first.session, plan)
    sent = [
        first.imagine(cell.prompt, sweep_id=crashed.id, axes=cell.coords) for cell in plan.cells[:2]
    ]
    for task in sent:
        task.wait(timeout=WAIT)
    assert sim.stats()["submits"] == 2

    second = client(sim)  # the new kernel: same MJNB_HOME, same provider
    attached = Sweep.from_log(second.session, crashed.id)
    assert [c.coords for c in attached.missing] == [c.coords for c in plan.cells[2:]]
    assert attached.summary == "2/6 done, 4 not sent"
    resumed = resume_sweeps(second.session)
    assert [s.id for s in resumed] == [crashed.id]
    sweep = resumed[0].wait(timeout=WAIT)
    assert sim.stats()["submits"] == 6  # exactly the four missing cells
    assert sweep.summary == "6/6 done"
    assert [t.id for t in sweep.tasks[:2]] == [t.id for t in sent]
    assert [c.prompt for c in sweep.cells] == [c.prompt for c in plan.cells]  # same seed
    assert list(zip(sweep.df["seed"], sweep.df["chaos"], strict=True)) == [
        (s, c) for s in (1, 2, 3) for c in (0, 50)
    ]
    assert resume_sweeps(client(sim).session) == []
    assert sim.stats()["submits"] == 6


def test_listeners_see_the_sweep_fill_in_and_await_works(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim()
    mj = client(sim)
    seen: list[str] = []
    lock = threading.Lock()

    def listen(sweep: Sweep) -> None:
        with lock:
            seen.append(sweep.summary)
        sweep.grid(cell_size=64)  # cheap enough to redraw on every change

    async def run() -> Sweep:
        sweep = mj.sweep("a red fox", chaos=[0, 50, 100])
        sweep.add_listener(listen)
        return await sweep

    sweep = asyncio.run(run())
    assert sweep.summary == "3/3 done"
    assert "3/3 done" in seen and len(seen) >= 3
    assert "<b>Sweep" in sweep._repr_html_() and "3/3 done" in repr(sweep)


class OnlyTheHost:
    """A SweepHost with nothing but the protocol's members, delegating to a client's
    Session: a sweep that ran on it used no other part of the runtime."""

    def __init__(self, client: mjnb.Client) -> None:
        self._session = client.session
        self.provider = client.provider
        self.base_url = client.base_url
        self.log = client.session.log

    def check_prompt(self, prompt: Any) -> None:
        self._session.check_prompt(prompt)

    def start(self, prompt: Any, **cell: Any) -> Any:
        return self._session.start(prompt, **cell)

    def task(self, task_id: str) -> Any:
        return self._session.task(task_id)


def test_a_sweep_needs_only_the_sweep_host_protocol(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim()
    host: SweepHost = OnlyTheHost(client(sim))
    sweep = start_sweep(host, "a red fox", axes={"chaos": [0, 50]})
    assert sweep.wait(timeout=WAIT).summary == "2/2 done"
    again = Sweep.from_log(host, sweep.id)
    assert [t.id for t in again.tasks] == [t.id for t in sweep.tasks]
    assert again.resume() == [] and sim.stats()["submits"] == 2
    df = sweep.df  # the log's release-2 columns come along
    assert list(df["kind"]) == ["image", "image"] and df["host"].notna().all()


def test_a_cancelled_sweep_never_sends_its_unsent_cells(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = make_sim()
    first = client(sim)
    plan = plan_sweep("a red fox", axes={"seed": [1, 2, 3], "chaos": [0, 50]}, provider="acedata")
    sweep = Sweep.record(first.session, plan)
    started = [  # two cells were sent before the user pressed Stop
        first.session.start(
            cell.prompt, mode=None, sweep_id=sweep.id, axes=cell.coords, cell=cell.index
        )
        for cell in plan.cells[:2]
    ]
    deadline = time.monotonic() + WAIT  # sent: past the account's shared slot
    while any(t is not None and t.status == "queued" for t in started):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    sweep = Sweep.from_log(first.session, sweep.id)
    assert sweep.summary.endswith(", 4 not sent") and len(sweep.missing) == 4
    message = sweep.cancel()
    assert message.startswith(f"Sweep {sweep.id}: 4 unsent cells cancelled (never sent)")
    sweep.wait(timeout=WAIT)
    assert sweep.done and sweep.summary == "6/6 done, 4 cancelled"
    assert sweep.counts() == {"succeeded": 2, "cancelled": 4}
    assert sweep.resume() == [] and sweep.retry_failed() == []
    assert [c.index for c in sweep.cancelled] == [2, 3, 4, 5]
    assert list(sweep.df["status"]) == ["succeeded"] * 2 + ["cancelled"] * 4

    # labelled placeholders: same grid size as a full sweep, grey with a red bar
    grid = sweep.grid(x="chaos", y="seed", cell_size=96)
    array = np.asarray(grid).astype(int)
    assert (np.abs(array - [200, 40, 40]).sum(axis=2) < 10).sum() > 4 * 50
    assert grid.width > 2 * 96 and grid.height > 3 * 96
    page = sweep.to_html(tmp_path / "stopped.html").read_text(encoding="utf-8")
    assert page.count('class="ph cancelled"') == 4 and "never sent" in page

    # a new kernel, resume and all: nothing more is ever sent
    second = client(sim)
    assert resume_sweeps(second.session) == []
    again = Sweep.from_log(second.session, sweep.id)
    assert again.missing == [] and again.resume() == []
    assert again.summary == "6/6 done, 4 cancelled"
    assert second.session.log.unsent_cells("acedata") == []
    assert sim.stats()["submits"] == 2
    with pytest.raises(mjnb.MJError, match="'nope'"):
        Sweep.from_log(second.session, "nope")


def test_two_kernels_resuming_one_sweep_send_each_cell_once(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim()
    plan = plan_sweep("a red fox", axes={"seed": [1, 2, 3, 4]}, provider="acedata")
    crashed = Sweep.record(client(sim).session, plan)
    one, two = (Sweep.from_log(client(sim).session, crashed.id) for _ in range(2))
    sent = one.resume() + two.resume()  # the second finds every cell claimed
    assert len(sent) == 4 and two.resume() == []
    assert [t.id for t in two.tasks] == [t.id for t in one.tasks]
    one.wait(timeout=WAIT)
    assert sim.stats()["submits"] == 4
