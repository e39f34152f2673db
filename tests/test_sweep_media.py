"""Video sweeps: planning with video axes, the grid of posters, filmstrips, the report
with clips inlined and linked past the limit, and sweeps that animate a sweep's cells.

Rendering tests use real MP4s made by :mod:`mjnb.simulator.video`. Running video cells
needs a host with ``check_video``/``start_video`` (the runtime's Session, from the
``client-media`` branch); until it lands, :class:`ClipHost` below is that host for the
test: it wraps a real Session (image cells run against the simulator over loopback)
and claims each video cell in the real task log, making the clip with the simulator's
own animator. The end-to-end tests at the bottom use the real Session when it has video.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import mjnb
from mjnb.errors import InvalidArgument, NotReady, PromptError
from mjnb.prompt import Prompt
from mjnb.render import CellView, ClipBudget, render_filmstrips, render_grid, render_html
from mjnb.simulator import RunningSimulator
from mjnb.simulator import video as simvideo
from mjnb.sweep import Sweep, start_sweep
from mjnb.sweep.video import plan_video, sweep_video
from mjnb.video import probe

FAST = {"latency": 0.2, "long_side": 128, "progress_steps": 2, "concurrency": 4}
WAIT = 60
CLIP = {"long_side": 96, "fps": 8, "seconds": 1.0}
COLOURS = {"low": (220, 40, 40), "high": (40, 90, 220)}


def start_image(colour: tuple[int, int, int] = (200, 120, 40)) -> Image.Image:
    """A start image with structure (so motion shows): a gradient and a square."""
    ramp = np.linspace(0, 255, 128, dtype=np.uint8)
    pixels = np.stack([np.tile(ramp, (128, 1))] * 3, axis=-1)
    image = Image.fromarray(pixels, "RGB")
    image.paste(Image.new("RGB", (48, 48), colour), (40, 40))
    return image


def clip_file(folder: Path, name: str, colour: tuple[int, int, int], motion: str) -> Path:
    data = simvideo.animate(start_image(colour), "waves roll in", 7, motion=motion, **CLIP)[0]
    path = folder / f"{name}.mp4"
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------ a host with video


class Clip:
    """A finished video task as the Sweep sees one (the Task view's public members)."""

    kind = "video"
    status = "succeeded"
    done = True
    progress = 100
    error = None
    image_path = None
    action = "animate"

    def __init__(self, task_id: str, prompt: Prompt, videos: list[Path]) -> None:
        self.id = task_id
        self.prompt = prompt
        self.videos = videos
        self.submitted_at = self.started_at = self.finished_at = datetime.now(timezone.utc)

    @property
    def poster(self) -> Image.Image:
        from mjnb.video import poster

        return poster(self.videos[0])

    @property
    def image(self) -> Image.Image:
        return self.poster

    def add_listener(self, listener: Callable[[Any], None]) -> None:
        pass

    def remove_listener(self, listener: Callable[[Any], None]) -> None:
        pass

    def wait(self, timeout: float | None = None) -> Clip:
        return self

    def cancel(self) -> str:
        return f"Task {self.id} has already ended."


class ClipHost:
    """SweepHost + VideoSweepHost for the test: images through a real Session, video
    cells claimed in its real log and animated by the simulator's own animator."""

    def __init__(self, mj: mjnb.Client, folder: Path, *, single_only: bool = True) -> None:
        self.session = mj.session
        self.folder = folder
        self.single_only = single_only  # the protocol animates only single images
        self.clips: dict[str, Clip] = {}
        self.upscaled: set[tuple[str, int]] = set()

    provider = property(lambda self: self.session.provider)
    base_url = property(lambda self: self.session.base_url)
    log = property(lambda self: self.session.log)

    def check_prompt(self, prompt: Prompt) -> None:
        self.session.check_prompt(prompt)

    def start(self, prompt: Prompt, **options: Any) -> Any:
        return self.session.start(prompt, **options)

    def task(self, task_id: str) -> Any:
        return self.clips.get(task_id) or self.session.task(task_id)

    def _grid(self, source: Any) -> bool:
        return isinstance(source, mjnb.Task) and not source.action.startswith("U")

    def check_video(self, source: Any, prompt: Prompt, *, index: int | None) -> int:
        if isinstance(source, mjnb.Task) and source.status != "succeeded":
            raise NotReady(f"Task {source.id} is {source.status}; animate needs a picture.")
        if self._grid(source) and index is None:
            raise InvalidArgument("Animating a grid needs index= (the tile 1-4).")
        return int(self.single_only and self._grid(source))

    def start_video(
        self, source: Any, prompt: Prompt, *, index: int | None, mode: str | None,
        sweep_id: str, axes: Mapping[str, Any], cell: int, replaces: str | None = None,
    ) -> Clip | None:  # fmt: skip
        task_id = f"clip{len(self.clips):04d}{cell:04d}"
        params = prompt.params
        claimed = self.log.add_task(
            task_id, provider=self.provider, action=f"animate {params.get('motion', 'low')}",
            prompt=str(prompt), text=prompt.text, params=params, parent_id=None,
            sweep_id=sweep_id, submitted_at=datetime.now(timezone.utc), axes=axes, cell=cell,
            replaces=replaces, kind="video", motion=params.get("motion"),
            loop=bool(params.get("loop")), batch=int(params.get("bs") or 1),
        )  # fmt: skip
        if not claimed:
            return None
        if self._grid(source) and self.single_only:
            self.upscaled.add((source.id, index or 0))
        picture = source.tiles[(index or 1) - 1] if self._grid(source) else _picture(source)
        datas = simvideo.animate(
            picture.convert("RGB"), prompt.text or "still", int(params.get("seed") or 0),
            motion=str(params.get("motion", "low")), batch=int(params.get("bs") or 1),
            loop=bool(params.get("loop")), raw=bool(params.get("raw")), **CLIP,
        )  # fmt: skip
        paths = []
        for n, data in enumerate(datas):
            path = self.folder / f"{task_id}_{n}.mp4"
            path.write_bytes(data)
            paths.append(path)
        self.log.update_task(task_id, status="succeeded", progress=100,
                             video_paths=[str(p) for p in paths])  # fmt: skip
        clip = Clip(task_id, prompt, paths)
        self.clips[task_id] = clip
        return clip


def _picture(source: Any) -> Image.Image:
    if isinstance(source, mjnb.Task):
        return source.image
    return source.image()


def client(sim: RunningSimulator) -> mjnb.Client:
    return mjnb.Client("acedata", base_url=sim.url, token="t", poll_interval=0.05)


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.videos: list[dict[str, str | None]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "video":
            self.videos.append(dict(attrs))
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")


def parse_page(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


# ------------------------------------------------------------------ planning


def source(ref: str = "https://example.com/start.png") -> Any:
    from mjnb.sweep.video import VideoSource

    return VideoSource(ref, {}, "waves roll in", None)


def test_planning_video_axes_counts_cells_clips_and_cost() -> None:
    plan = plan_video(
        [source()], None, axes={"motion": ["low", "high"], "seed": [1, 2], "batch": 2}
    )
    assert plan.kind == "video" and plan.jobs == 4 and plan.extra_jobs == 0
    assert plan.axes == {"motion": ["low", "high"], "seed": [1, 2]}
    assert [c.coords for c in plan.cells] == [
        {"motion": "low", "seed": 1}, {"motion": "low", "seed": 2},
        {"motion": "high", "seed": 1}, {"motion": "high", "seed": 2},
    ]  # fmt: skip
    prompts = [str(c.prompt) for c in plan.cells]
    assert prompts[0] == "waves roll in --seed 1 --motion low --bs 2"
    assert all(c.prompt.purpose == "video" and c.clips == 2 for c in plan.cells)
    assert plan.gpu_minutes == 4 * 2 * 2  # about 2 GPU-minutes a clip
    assert str(plan) == ("4 video jobs (motion × seed), 8 clips, about 16 GPU-minutes")


def test_upscales_first_are_counted_once_per_tile_and_capped() -> None:
    grids = [source("task:a"), source("task:b")]
    plan = plan_video(grids, "drift", axes={"motion": ["low", "high"], "index": 2},
                      extra=lambda src, prompt, index: 1)  # fmt: skip
    assert len(plan.cells) == 4 and plan.extra_jobs == 2 and plan.jobs == 6
    assert all(c.tile == 2 for c in plan.cells)
    assert "+ 2 upscales first (6 jobs in all)" in str(plan)
    assert plan.gpu_minutes == 4 * 2 + 2  # four one-clip videos, two upscales
    tiles = plan_video(grids, "drift", axes={"index": [1, 2, 3, 4]},
                       extra=lambda src, prompt, index: 1)  # fmt: skip
    assert tiles.extra_jobs == 8 and tiles.axes == {"index": [1, 2, 3, 4]}


@pytest.mark.parametrize(
    ("axes", "message"),
    [
        ({"motion": ["low", "fast"]}, "motion takes 'low' or 'high', got 'fast'"),
        ({"batch": [1, 3]}, "batch takes 1, 2, 4, got 3"),
        ({"loop": ["yes"]}, "loop takes True or False"),
        ({"index": 5}, "index takes a tile 1-4"),
        ({"stylize": [0, 100]}, "'stylize' is not a video axis"),
        ({"batch": [1, 2], "bs": [4]}, "batch is given twice"),
        ({"motion": []}, "has no values"),
        ({"seed": [1, 1]}, "lists a value twice"),
    ],
)
def test_bad_video_axes_are_one_line_errors(axes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        plan_video([source()], None, axes=axes)


def test_fixed_values_go_in_every_cell_and_the_prompt_is_checked() -> None:
    plan = plan_video([source()], "spin --loop", axes={"raw": [False, True]})
    assert [str(c.prompt) for c in plan.cells] == [
        "spin --motion low --loop", "spin --motion low --raw --loop"
    ] or [str(c.prompt) for c in plan.cells] == [
        "spin --loop --motion low", "spin --loop --motion low --raw"
    ]  # fmt: skip
    with pytest.raises(PromptError, match="--loop and --end exclude each other"):
        plan_video([source()], "spin --end https://example.com/e.png", axes={"loop": True})


# ------------------------------------------------------------------ rendering


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {m: clip_file(folder, m, COLOURS[m], m) for m in ("low", "high")}


def video_views(clips: dict[str, Path]) -> list[CellView]:
    from mjnb.video import poster

    views = []
    for motion, path in clips.items():
        image = poster(path)
        views.append(
            CellView({"motion": motion}, image, ar=f"{image.width}:{image.height}", videos=(path,))
        )
    views.append(CellView({"motion": "high"}, None, "failed", error="the job was banned"))
    return views


def test_grid_of_posters_marks_clips_and_keeps_failed_cells(clips: dict[str, Path]) -> None:
    views = video_views(clips)
    grid = render_grid(views[:2], {"motion": ["low", "high"]}, cell_size=128)
    pixels = np.asarray(grid).astype(int)
    for colour in COLOURS.values():  # each poster's square is there
        assert (np.abs(pixels - colour).sum(axis=-1) < 40).sum() > 400
    assert (pixels.sum(axis=-1) < 70).sum() > 200  # the dark "clip" badges
    failed = render_grid([views[0], views[2]], {"motion": ["low", "high"]}, cell_size=128)
    assert failed.size == grid.size  # a failed cell is a placeholder of the same size


def test_filmstrip_shows_frames_per_cell_labelled(clips: dict[str, Path]) -> None:
    views = video_views(clips)[:2]
    one = render_filmstrips(views, {"motion": ["low", "high"]}, frames=1, height=64)
    four = render_filmstrips(views, {"motion": ["low", "high"]}, frames=4, height=64)
    assert four.width > 3 * one.width // 2 and abs(four.height - one.height) < 40
    pixels = np.asarray(four).astype(int)
    for colour in COLOURS.values():
        assert (np.abs(pixels - colour).sum(axis=-1) < 60).sum() > 300
    down = render_filmstrips(views, {"motion": ["low", "high"]}, y="motion", frames=3)
    assert down.height > down.width / 3  # cells stacked: one strip per row
    with pytest.raises(InvalidArgument, match="frames must be"):
        render_filmstrips(views, {"motion": ["low", "high"]}, frames=0)


def test_report_inlines_clips_up_to_the_limit_and_links_past_it(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    import pandas as pd

    views = video_views(clips)[:2]
    sizes = [p.stat().st_size for p in clips.values()]
    table = pd.DataFrame({"motion": ["low", "high"]})
    axes = {"motion": ["low", "high"]}
    kwargs: dict[str, Any] = dict(
        title="t", prompt="p", summary="s", axes=axes, views=views, table=table
    )

    budget = ClipBudget(sum(sizes))
    page = render_html(**kwargs, budget=budget)
    found = parse_page(page)
    assert len(found.videos) == 2 and budget.embedded == 2 and not budget.linked
    for attrs, path in zip(found.videos, clips.values(), strict=True):
        src = str(attrs["src"])
        assert src.startswith("data:video/mp4;base64,")
        assert base64.b64decode(src.split(",", 1)[1]) == path.read_bytes()
        assert {"controls", "loop", "muted"} <= set(attrs)
        assert str(attrs["poster"]).startswith("data:image/jpeg;base64,")
    assert "not embedded" not in page
    inlined = len(page.encode())

    budget = ClipBudget(sizes[0])  # room for the first clip only
    page = render_html(**kwargs, budget=budget)
    found = parse_page(page)
    assert budget.embedded == 1 and budget.linked == [clips["high"]]
    assert str(found.videos[0]["src"]).startswith("data:video/mp4")
    assert found.videos[1]["src"] == clips["high"].resolve().as_uri()
    assert clips["high"].resolve().as_uri() in found.links
    assert "1 clip is not embedded" in page and f"embed_limit={sizes[0]:,}" in page
    linked = len(page.encode())
    assert inlined - linked > sizes[1]  # the linked clip's bytes left the page

    page = render_html(**kwargs, embed_limit=0)
    assert "2 clips are not embedded" in page and "data:video/mp4" not in page
    assert all(probe(p) for p in clips.values())


# ------------------------------------------------------------------ sweeps of clips


def test_a_seed_sweep_animated_is_a_motion_by_seed_grid(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    mj = client(make_sim(**FAST))
    host = ClipHost(mj, tmp_path)
    images = start_sweep(host, "a lighthouse at dusk", axes={"seed": [1, 2]})
    with pytest.raises(NotReady, match="without a finished image"):
        images.animate(motion=["low", "high"], index=1)  # still running
    images.wait(timeout=WAIT)

    plan = images.plan_animate(motion=["low", "high"], index=1)
    assert plan.jobs == 6 and plan.extra_jobs == 2  # one upscale per tile, counted once
    assert "4 video jobs (seed × motion), 4 clips, + 2 upscales first" in str(plan)
    with pytest.raises(InvalidArgument, match="more than max_jobs=5"):
        images.animate(motion=["low", "high"], index=1, max_jobs=5)
    assert host.clips == {}  # nothing was sent
    with pytest.raises(InvalidArgument, match="needs index="):
        images.animate(motion=["low", "high"])

    clips = images.animate("waves roll in", motion=["low", "high"], index=1)
    assert isinstance(clips, Sweep) and clips.plan.kind == "video"
    assert clips.wait(timeout=WAIT).summary == "4/4 done"
    assert host.upscaled == {(t.id, 1) for t in images.tasks}
    assert clips.axes == {"seed": [1, 2], "motion": ["low", "high"]}
    df = clips.df
    assert list(df["seed"]) == [1, 1, 2, 2] and list(df["motion"]) == ["low", "high"] * 2
    assert list(df["kind"]) == ["video"] * 4
    assert all(len(paths) == 1 for paths in df["video_paths"])

    grid = clips.grid(x="motion", y="seed", cell_size=96)
    strip = clips.filmstrip(x="motion", y="seed", frames=4, height=48)
    assert strip.width > grid.width
    report = clips.to_html(tmp_path / "clips.html")
    assert report.read_text().count("data:video/mp4;base64,") == 4

    again = Sweep.from_log(host, clips.id)  # the log keeps the video cells
    assert again.plan.kind == "video" and [c.tile for c in again.cells] == [1] * 4
    assert [c.source for c in again.cells] == [c.source for c in clips.cells]
    assert again.resume() == []  # every cell is claimed: nothing is sent twice


def test_sweep_video_over_one_image_and_linked_report(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    mj = client(make_sim(**FAST))
    host = ClipHost(mj, tmp_path)
    start = tmp_path / "start.png"
    start_image().save(start)
    clips = sweep_video(host, str(start), "waves roll in", motion=["low", "high"],
                        seed=[1, 2], batch=2)  # fmt: skip
    assert clips.plan.jobs == 4 and clips.plan.extra_jobs == 0
    clips.wait(timeout=WAIT)
    views = clips.views(96)
    assert all(len(v.videos) == 2 for v in views)
    sizes = sorted(p.stat().st_size for v in views for p in v.videos)
    half = sum(sizes) // 2
    page = clips.to_html(tmp_path / "half.html", embed_limit=half).read_text()
    found = parse_page(page)
    inlined = [v for v in found.videos if str(v["src"]).startswith("data:")]
    assert len(found.videos) == 8 and 0 < len(inlined) < 8
    assert "not embedded" in page and f"embed_limit={half:,}" in page
    assert Sweep.from_log(host, clips.id).cells[0].source == str(start)


def test_a_host_without_video_is_a_one_line_error() -> None:
    class ImagesOnly:  # a SweepHost of release 2's first wave: no start_video
        provider = "local"

    with pytest.raises(InvalidArgument, match="cannot run video sweeps yet"):
        sweep_video(ImagesOnly(), "https://example.com/a.png", "waves", motion=["low", "high"])  # type: ignore[arg-type]


# ------------------------------------------------------------------ end to end (the Session)

YOUCHUAN = {"latency": 0.2, "long_side": 128, "progress_steps": 2, "token": "yc-secret"}


def youchuan(sim: RunningSimulator) -> mjnb.Client:
    return mjnb.Client(
        "youchuan", base_url=sim.url, app_id="app-1", token="yc-secret", poll_interval=0.05
    )


def test_e2e_youchuan_seed_sweep_animated_motion_by_seed(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    mj = youchuan(make_sim(**YOUCHUAN))
    images = mj.sweep("a lighthouse at dusk --ar 16:9", seed=[1, 2]).wait(timeout=WAIT)
    plan = images.plan_animate("waves roll in", motion=["low", "high"], index=1)
    ups = 0 if mj.session.adapter.animates_grids else 2  # else one U1 per grid, first
    assert plan.extra_jobs == ups and plan.jobs == 4 + ups
    clips = images.animate("waves roll in", motion=["low", "high"], index=1)
    assert clips.wait(timeout=WAIT).summary == "4/4 done", clips.df[["status", "error"]]
    log = mj.log()
    assert (log["action"] == "U1").sum() == ups  # each tile upscaled once, for both motions
    df = clips.df
    assert list(df["kind"]) == ["video"] * 4 and list(df["motion"]) == ["low", "high"] * 2
    for paths in df["video_paths"]:  # Youchuan makes its own batch (4) whatever --bs says
        assert paths and all(probe(p).frames > 1 for p in paths)
    views = clips.views(96)
    assert all(v.videos and v.image is not None for v in views)
    assert clips.grid(x="motion", y="seed", cell_size=96).width > 0
    assert clips.filmstrip(x="motion", y="seed", frames=3, height=48).width > 0
    page = clips.to_html(tmp_path / "yc.html").read_text()
    assert page.count("data:video/mp4;base64,") == sum(len(v.videos) for v in views)
    again = mj.get_sweep(clips.id)
    assert again.plan.kind == "video" and again.resume() == []
    assert [t.id for t in again.tasks] == [t.id for t in clips.tasks]


def test_e2e_youchuan_sweep_video_over_one_image(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    mj = youchuan(make_sim(**YOUCHUAN))
    grid = mj.imagine("a lighthouse --seed 3").wait(timeout=WAIT)
    url = grid.snapshot.image_urls[0] if grid.snapshot.image_urls else grid.image_url
    local = tmp_path / "start.png"
    start_image().save(local)
    before = len(mj.log())
    with pytest.raises(InvalidArgument, match="youchuan needs a public URL"):
        mj.sweep_video(local, "waves", motion=["low", "high"])
    assert len(mj.log()) == before and mj.sweeps().empty  # nothing logged, nothing sent
    plan = mj.plan_sweep_video(url, "waves roll in", motion=["low", "high"], batch=[1, 2])
    assert str(plan).startswith("4 video jobs (motion × batch), 6 clips")
    clips = mj.sweep_video(url, "waves roll in", motion=["low", "high"], batch=[1, 2])
    clips.wait(timeout=WAIT)
    assert clips.summary == "4/4 done" and all(v.videos for v in clips.views(64))
    first = clips.views(64)[0].videos[0].stat().st_size
    total = sum(len(v.videos) for v in clips.views(64))
    page = clips.to_html(tmp_path / "linked.html", embed_limit=first).read_text()
    assert page.count("data:video/mp4;base64,") >= 1
    assert re.search(r"(\d+) clips are not embedded", page)
    linked = int(re.search(r"(\d+) clips are not embedded", page)[1])  # type: ignore[index]
    assert page.count("data:video/mp4;base64,") + linked == total


def test_e2e_grid_tiles_need_an_index_and_metachat_has_no_video(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    mj = youchuan(make_sim(**YOUCHUAN))
    images = mj.sweep("a fox", seed=[1, 2]).wait(timeout=WAIT)
    with pytest.raises(InvalidArgument, match="is a grid: say which tile"):
        images.animate(motion=["low", "high"])
    with pytest.raises(InvalidArgument, match="more than max_jobs=3"):
        images.animate(motion=["low", "high"], index=2, max_jobs=3)
    assert len(mj.sweeps()) == 1  # refused before the video sweep was logged


def test_e2e_ace_upscales_each_tile_once_then_animates(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    mj = client(make_sim(**FAST))
    images = mj.sweep("a lighthouse at dusk --ar 16:9", seed=[1, 2]).wait(timeout=WAIT)
    plan = images.plan_animate("waves roll in", motion=["low", "high"], index=2)
    assert (plan.jobs, plan.extra_jobs) == (6, 2)  # Ace animates single images only
    clips = images.animate("waves roll in", motion=["low", "high"], index=2)
    assert clips.wait(timeout=WAIT).summary == "4/4 done", clips.df[["status", "error"]]
    assert (mj.log()["action"] == "U2").sum() == 2  # one upscale per tile, both motions
    assert all(v.videos for v in clips.views(64))
    first = images.tasks[0]
    start = first.image_url or first.snapshot.image_urls[0]
    seeded = mj.sweep_video(start, "waves", motion="high", seed=[1, 2]).wait(timeout=WAIT)
    assert seeded.summary == "2/2 done" and seeded.axes == {"seed": [1, 2]}


def test_e2e_mjproxy_motion_by_seed_video_sweep(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    """The 2x2 motion x seed sweep on midjourney-proxy: each tile upscaled once, then
    animated; every cell's clips are real MP4s; the report plays them."""
    mj = mjnb.Client("mjproxy", base_url=make_sim(**FAST).url, token="t", poll_interval=0.05)
    images = mj.sweep("a lighthouse at dusk --ar 16:9", seed=[1, 2]).wait(timeout=WAIT)
    ups = 0 if mj.session.adapter.animates_grids else 2
    plan = images.plan_animate("waves roll in", motion=["low", "high"], index=1)
    assert (plan.jobs, plan.extra_jobs) == (4 + ups, ups)
    clips = images.animate("waves roll in", motion=["low", "high"], index=1)
    assert clips.wait(timeout=WAIT).summary == "4/4 done", clips.df[["status", "error"]]
    assert (mj.log()["action"] == "U1").sum() == ups  # one upscale per tile, both motions
    df = clips.df
    assert list(df["kind"]) == ["video"] * 4 and list(df["motion"]) == ["low", "high"] * 2
    for paths in df["video_paths"]:
        assert paths and all(probe(p).frames > 1 for p in paths)
    assert clips.filmstrip(x="motion", y="seed", frames=3, height=48).width > 0
    page = clips.to_html(tmp_path / "mjproxy.html").read_text()
    assert page.count("data:video/mp4;base64,") == sum(len(v.videos) for v in clips.views(64))
