"""The client side of video and the editor, over a small in-test protocol.

``toy`` is a protocol written here (an ASGI app and its adapter) that has every media
shape the real ones have: trueai's confirm step (a remix, a vary region and a custom zoom
wait for ``/confirm``), uploads of local images, clips as MP4 URLs, a cover image, a
cost, and the job's seed. The client runs over it in process through
``Engine(transport=httpx.ASGITransport(app))``: the runner, the Session and the Task
views are mjnb's own, unchanged.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import httpx
import numpy as np
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from mjnb.errors import InvalidArgument, NotReady, ProviderError
from mjnb.providers.base import AdapterBase, Job, Snapshot
from mjnb.runtime import media
from mjnb.runtime.engine import Engine
from mjnb.runtime.session import RunSettings, Session
from mjnb.simulator.video import encode

BASE = "http://toy.test"
CONFIRMED_LABELS = ("vary region", "zoom custom")
COLOURS = [(200, 40, 40), (40, 160, 60), (40, 60, 200), (220, 200, 40)]


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def clip(start: Image.Image, shift: int, frames: int = 6) -> bytes:
    """A real H.264 MP4 (tiny: 64x48, 6 frames), panning by ``shift`` px a frame."""
    base = start.convert("RGB").resize((64, 48))
    return encode([base.rotate(0, translate=(k * shift, 0)) for k in range(frames)], fps=6)


class ToyServer:
    """The provider: jobs in memory, finished on the second poll after they run."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.files: dict[str, tuple[bytes, str]] = {}
        self.submits: list[dict[str, Any]] = []
        self.confirms: dict[str, int] = {}
        self.uploads: list[str] = []
        self.ids = itertools.count(1)
        self.app = Starlette(
            routes=[
                Route("/submit", self.submit, methods=["POST"]),
                Route("/confirm/{id}", self.confirm, methods=["POST"]),
                Route("/task/{id}", self.task),
                Route("/upload", self.upload, methods=["POST"]),
                Route("/seed/{id}", self.seed),
                Route("/files/{name}", self.file),
                Route("/endless", self.endless),
                Route("/big", self.big),
            ]
        )

    def put(self, data: bytes, ext: str, mime: str) -> str:
        name = f"f{len(self.files)}.{ext}"
        self.files[name] = (data, mime)
        return f"{BASE}/files/{name}"

    def image_of(self, url: str) -> Image.Image:
        return Image.open(io.BytesIO(self.files[url.rsplit("/", 1)[1]][0])).convert("RGB")

    async def submit(self, request: Request) -> Response:
        body = await request.json()
        for url in [*body["images"], body.get("end") or ""]:
            if url.startswith("data:"):
                return JSONResponse({"error": "upload local images first"}, status_code=400)
        job_id = f"j{next(self.ids)}"
        self.submits.append({**body, "id": job_id})
        modal = body.get("remix") or body.get("label") in CONFIRMED_LABELS
        self.jobs[job_id] = {**body, "polls": 0, "waiting": bool(modal)}
        return JSONResponse({"id": job_id, "confirm": bool(modal)})

    async def confirm(self, request: Request) -> Response:
        job_id = request.path_params["id"]
        self.confirms[job_id] = self.confirms.get(job_id, 0) + 1
        body = await request.json()
        job = self.jobs[job_id]
        job.update(waiting=False, prompt=body["prompt"], mask=body.get("mask") or job.get("mask"))
        return JSONResponse({"id": job_id})

    async def upload(self, request: Request) -> Response:
        data_url = (await request.json())["data"]
        import base64

        raw = base64.b64decode(data_url.split(",", 1)[1])
        url = self.put(raw, "png", "image/png")
        self.uploads.append(url)
        return JSONResponse({"url": url})

    async def seed(self, request: Request) -> Response:
        return JSONResponse({"seed": 4242 + int(request.path_params["id"][1:])})

    async def file(self, request: Request) -> Response:
        data, mime = self.files[request.path_params["name"]]
        return Response(data, media_type=mime)

    async def endless(self, request: Request) -> Response:
        async def forever() -> Any:
            while True:
                yield b"\0" * 100
                await asyncio.sleep(0.05)

        return StreamingResponse(forever(), media_type="video/mp4")

    async def big(self, request: Request) -> Response:
        return Response(b"\0" * 5000, media_type="video/mp4")

    async def task(self, request: Request) -> Response:
        job_id = request.path_params["id"]
        job = self.jobs[job_id]
        if job["waiting"]:
            return JSONResponse({"status": "queued", "progress": 0})
        job["polls"] += 1
        if job["polls"] < 2:
            return JSONResponse({"status": "running", "progress": 50})
        if "result" not in job:
            job["result"] = self.finish(job)
        return JSONResponse({"status": "succeeded", "progress": 100, **job["result"]})

    def finish(self, job: dict[str, Any]) -> dict[str, Any]:
        kind, label = job["kind"], job.get("label") or ""
        parent = self.jobs.get(job.get("parent") or "", {}).get("result", {})
        single = ["animate low", "animate high", "vary region", "zoom custom", "zoom 1.5x"]
        if kind == "imagine" or label.startswith(("V", "zoom", "reroll")):
            grid = Image.new("RGB", (128, 128))
            for k, colour in enumerate(COLOURS):
                grid.paste(Image.new("RGB", (64, 64), colour), ((k % 2) * 64, (k // 2) * 64))
            actions = ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "reroll"]
            if self.grids_animate:
                actions += ["animate low", "animate high"]
            return {"image": self.put(png(grid), "png", "image/png"), "actions": actions}
        if label.startswith("U"):
            grid = self.image_of(parent["image"])
            k = int(label[1]) - 1
            tile = grid.crop(((k % 2) * 64, (k // 2) * 64, (k % 2) * 64 + 64, (k // 2) * 64 + 64))
            return {"image": self.put(png(tile), "png", "image/png"), "actions": single}
        if label == "vary region":
            import base64

            image = self.image_of(parent["image"])
            mask = Image.open(io.BytesIO(base64.b64decode(job["mask"]))).convert("L")
            painted = Image.composite(Image.new("RGB", image.size, (255, 0, 255)), image, mask)
            return {"image": self.put(png(painted), "png", "image/png"), "actions": single}
        if kind in ("edit", "retexture"):
            image = self.image_of(job["images"][0])
            tint = Image.blend(image, Image.new("RGB", image.size, (0, 0, 255)), 0.5)
            return {"image": self.put(png(tint), "png", "image/png"), "actions": single}
        if kind == "describe":
            return {"descriptions": ["a toy", "a square", "a block", "a tile"], "actions": []}
        # video: from an image (kind "video" or "animate"), or from a clip (extend/upscale)
        if kind == "video":
            start = self.image_of(job["images"][0])
        elif parent.get("image"):
            start = self.image_of(parent["image"])
        else:
            start = Image.new("RGB", (64, 48), (90, 90, 90))
        shift = 6 if job.get("motion") == "high" else 1
        if job["prompt"] == "broken":
            urls = [self.put(b"<html>expired</html>", "mp4", "video/mp4")]
        else:
            urls = [
                self.put(clip(start, shift + k), "mp4", "video/mp4")
                for k in range(int(job.get("batch") or 1))
            ]
        return {
            "videos": urls,
            "cover": self.put(png(start.resize((64, 48))), "png", "image/png"),
            "actions": ["extend low", "extend high", "upscale video"],
            "cost": 3.5,
        }

    grids_animate: ClassVar[bool] = False


class ToyAdapter(AdapterBase):
    """The adapter for the toy protocol: every media hook the runner calls."""

    name = "toy"
    title = "Toy"
    poll_interval = 0.01
    min_poll_interval = 0.0
    features = frozenset(
        {"video", "extend", "upscale video", "vary region", "remix", "zoom custom",
         "edit", "retexture", "seed", "upload"}
    )  # fmt: skip
    local_images = "upload"
    max_extensions = 2

    def submit(self, job: Job) -> httpx.Request:
        body = {
            "kind": job.kind, "label": job.label, "prompt": job.prompt,
            "images": list(job.images), "end": job.end, "mask": job.mask, "zoom": job.zoom,
            "remix": job.remix, "motion": job.motion, "loop": job.loop, "batch": job.batch,
            "index": job.index, "parent": job.parent.remote_id if job.parent else None,
        }  # fmt: skip
        return httpx.Request("POST", f"{self.base_url}/submit", json=body)

    def parse_submit(self, job: Job, response: httpx.Response) -> Snapshot:
        if response.is_error:
            raise ProviderError(response.json()["error"], status=response.status_code)
        data = response.json()
        return Snapshot(
            status="queued",
            remote_id=data["id"],
            extra={"confirm": True} if data.get("confirm") else {},
        )

    def confirm(self, job: Job, snapshot: Snapshot) -> httpx.Request:
        url = f"{self.base_url}/confirm/{snapshot.remote_id}"
        return httpx.Request("POST", url, json={"prompt": job.prompt, "mask": job.mask})

    def poll(self, snapshot: Snapshot) -> httpx.Request:
        return httpx.Request("GET", f"{self.base_url}/task/{snapshot.remote_id}")

    def parse_poll(self, snapshot: Snapshot, response: httpx.Response) -> Snapshot:
        data = response.json()
        return Snapshot(
            status=data["status"],
            progress=data["progress"],
            remote_id=snapshot.remote_id,
            image_url=data.get("image") or data.get("cover"),
            video_urls=tuple(data.get("videos") or ()),
            descriptions=tuple(data.get("descriptions") or ()),
            wire={label: label for label in data.get("actions", ())},
            extra={**snapshot.extra, **({"cost": data["cost"]} if "cost" in data else {})},
        )

    def upload(self, data_url: str) -> httpx.Request:
        return httpx.Request("POST", f"{self.base_url}/upload", json={"data": data_url})

    def parse_upload(self, response: httpx.Response) -> str:
        return str(response.json()["url"])

    def seed(self, snapshot: Snapshot) -> httpx.Request:
        return httpx.Request("GET", f"{self.base_url}/seed/{snapshot.remote_id}")

    def parse_seed(self, snapshot: Snapshot, response: httpx.Response) -> int:
        return int(response.json()["seed"])


class GridToyAdapter(ToyAdapter):
    animates_grids = True


class BareToyAdapter(ToyAdapter):
    features = frozenset()
    local_images = "refuse"


@pytest.fixture
def toy() -> ToyServer:
    return ToyServer()


@contextmanager
def open_session(
    server: ToyServer, home: Path, adapter: type[ToyAdapter] = ToyAdapter
) -> Iterator[Session]:
    engine = Engine(transport=httpx.ASGITransport(app=server.app))
    run = RunSettings(max_concurrency=2, poll_interval=0.01, stall_timeout=20)
    session = Session(adapter(base_url=BASE), home=home, run=run, engine=engine)
    try:
        yield session
    finally:
        engine.close()


@pytest.fixture
def session(toy: ToyServer, isolated_env: Path) -> Iterator[Session]:
    with open_session(toy, isolated_env) as opened:
        yield opened


def ok(task: Any) -> Any:
    task.wait(30)
    assert task.status == "succeeded", task.error
    return task


def grid_and_tile(session: Session, tile: int = 1) -> tuple[Any, Any]:
    grid = ok(session.imagine("a toy block --seed 7"))
    return grid, ok(grid.upscale(tile))


# -- video -----------------------------------------------------------------------------


def test_imagine_upscale_animate_extend(session: Session, toy: ToyServer) -> None:
    _, tile = grid_and_tile(session)
    clip_ = ok(tile.animate("high"))
    assert clip_.kind == "video" and clip_.action == "animate high"
    [path] = clip_.videos
    assert path.suffix == ".mp4" and path.exists()
    assert clip_.poster.size == (64, 48)
    frames = clip_.frames(3)
    assert len(frames) == 3 and frames[0].tobytes() != frames[-1].tobytes()
    assert clip_.cost == 3.5
    longer = ok(clip_.extend("low"))
    assert longer.kind == "video" and longer.parent_id == clip_.id
    assert toy.submits[-1]["label"] == "extend low" and toy.submits[-1]["index"] == 1
    row = session.log.get(longer.id)
    assert row["kind"] == "video" and row["motion"] == "low"
    assert [Path(p) for p in row["video_paths"]] == longer.videos
    assert row["cost"] == 3.5
    up = ok(longer.act("upscale video"))
    assert up.kind == "video" and up.videos


def test_animate_a_local_image_in_a_batch(session: Session, toy: ToyServer, tmp_path: Path) -> None:
    start = tmp_path / "start.png"
    Image.new("RGB", (80, 60), (10, 120, 200)).save(start)
    clip_ = ok(session.animate_image(str(start), prompt="waves roll in", motion="low", batch=2))
    assert len(clip_.videos) == 2 and clip_.videos[0] != clip_.videos[1]
    sent = toy.submits[-1]
    assert sent["kind"] == "video" and sent["batch"] == 2 and sent["motion"] == "low"
    assert sent["images"] == toy.uploads[-1:]  # uploaded first, then sent as a URL
    row = session.log.get(clip_.id)
    assert (row["kind"], row["batch"], row["loop"]) == ("video", 2, 0)
    assert "data:" not in row["prompt"]


def test_animate_a_grid_tile_sends_the_upscale_first(session: Session, toy: ToyServer) -> None:
    grid = ok(session.imagine("a toy block"))
    with pytest.raises(InvalidArgument, match="index"):
        grid.animate("low")
    with pytest.warns(UserWarning, match=r"2 jobs, U3 on task .* then animate low"):
        clip_ = grid.animate("low", index=3)
    ok(clip_)
    upscale = session.task(clip_.parent_id)
    assert upscale.action == "U3" and upscale.parent_id == grid.id
    assert [s["label"] for s in toy.submits[-2:]] == ["U3", "animate low"]
    assert toy.submits[-1]["parent"] == upscale.snapshot.remote_id
    assert "2 jobs" in (clip_.notice or "")


def test_animate_a_grid_tile_directly_where_the_protocol_can(
    toy: ToyServer, isolated_env: Path
) -> None:
    toy.grids_animate = True
    with open_session(toy, isolated_env, GridToyAdapter) as session:
        grid = ok(session.imagine("a toy block"))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            clip_ = ok(grid.animate("high", index=2))
        assert clip_.parent_id == grid.id
        assert toy.submits[-1]["label"] == "animate high" and toy.submits[-1]["index"] == 2


def test_bad_video_values_are_refused_before_sending(session: Session, toy: ToyServer) -> None:
    _, tile = grid_and_tile(session)
    sent = len(toy.submits)
    rows = len(session.log.dataframe())
    for call, match in [
        (lambda: tile.animate("fast"), "motion must be 'low' or 'high'"),
        (lambda: tile.animate("low", batch=3), "batch must be one of 1, 2, 4"),
        (lambda: tile.animate("low", index=2), "single image"),
        (lambda: tile.animate("low", prompt="waves --bs 3"), "bs"),
        (lambda: tile.extend("low"), "not a video"),
    ]:
        with pytest.raises(InvalidArgument, match=match) as info:
            call()
        assert "\n" not in str(info.value)
    assert len(toy.submits) == sent and len(session.log.dataframe()) == rows


def test_extend_stops_at_the_providers_limit(session: Session) -> None:
    _, tile = grid_and_tile(session)
    clip_ = ok(tile.animate("low"))
    clip_ = ok(ok(clip_.extend("low")).extend("high"))
    with pytest.raises(InvalidArgument, match=r"at most 2 times .* extended 2 times"):
        clip_.extend("low")


def test_an_unplayable_clip_fails_the_task_with_the_reason(session: Session) -> None:
    _, tile = grid_and_tile(session)
    clip_ = tile.animate("low", prompt="broken").wait(30)
    assert clip_.status == "failed"
    assert "video could not be downloaded" in clip_.error and "web page" in clip_.error
    assert clip_.videos == []


def test_video_downloads_are_capped_in_bytes_and_time(session: Session) -> None:
    runner = session.runner
    with pytest.raises(ProviderError, match=r"more than the .* mjnb reads"):
        session.engine.call(media.download_capped(runner, f"{BASE}/big", 1000, 10))
    with pytest.raises(ProviderError, match=r"took more than"):
        session.engine.call(media.download_capped(runner, f"{BASE}/endless", 10**9, 0.5))


# -- the editor --------------------------------------------------------------------------


def test_vary_region_with_a_box_and_a_new_prompt(session: Session, toy: ToyServer) -> None:
    _, tile = grid_and_tile(session, 2)
    box = (8, 8, 40, 30)
    edited = ok(tile.vary_region(box, prompt="a toy block with a window"))
    before = np.asarray(tile.image.convert("RGB"), dtype=int)
    after = np.asarray(edited.image.convert("RGB"), dtype=int)
    changed = np.abs(after - before).sum(axis=2) > 0
    inside = np.zeros_like(changed)
    inside[8:30, 8:40] = True
    assert changed[inside].all() and not changed[~inside].any()
    job_id = toy.submits[-1]["id"]
    assert toy.confirms[job_id] == 1  # the confirm step, sent once
    assert toy.jobs[job_id]["prompt"] == "a toy block with a window"
    row = session.log.get(edited.id)
    assert row["action"] == "vary region" and Path(row["mask_path"]) == edited.mask_path
    assert Image.open(edited.mask_path).getbbox() == (*box[:2], 40, 30)


def test_vary_region_needs_a_mask_and_says_when_it_is_scaled(session: Session) -> None:
    _, tile = grid_and_tile(session)
    with pytest.raises(NotReady, match="pass a mask, or use the painter"):
        tile.vary_region(None)
    small = np.zeros((32, 32), dtype=bool)
    small[4:10, 4:10] = True
    with pytest.warns(UserWarning, match="scaled"):
        ok(tile.vary_region(small))


def test_remix_and_custom_zoom(session: Session, toy: ToyServer) -> None:
    grid, tile = grid_and_tile(session)
    remixed = ok(grid.act("V1", prompt="a toy block in blue"))
    assert toy.submits[-1]["remix"] and toy.confirms[toy.submits[-1]["id"]] == 1
    assert remixed.prompt is not None and remixed.prompt.text == "a toy block in blue"
    with pytest.raises(InvalidArgument, match="takes no new prompt"):
        grid.act("U1", prompt="x")
    zoomed = ok(tile.zoom_out(1.5, prompt="a toy block on a table"))
    assert zoomed.action == "zoom custom" and toy.submits[-1]["zoom"] == 1.5
    plain = ok(tile.zoom_out(1.5))
    assert plain.action == "zoom 1.5x"
    for bad in (2.5, 0.9, "2"):
        with pytest.raises(InvalidArgument, match=r"1\.0"):
            tile.zoom_out(bad)  # type: ignore[arg-type]


def test_edit_retexture_and_describe_local_images(
    session: Session, toy: ToyServer, tmp_path: Path
) -> None:
    mine = tmp_path / "mine.png"
    Image.new("RGB", (48, 48), (250, 250, 250)).save(mine)
    edited = ok(session.edit(mine, "make it blue", mask=(0, 0, 24, 48)))
    assert toy.submits[-1]["kind"] == "edit" and toy.submits[-1]["images"] == toy.uploads[-1:]
    assert edited.mask_path is not None
    retextured = ok(session.edit(Image.open(mine), "in velvet", kind="retexture"))
    assert retextured.action == "retexture"
    described = ok(session.describe(str(mine)))
    assert described.descriptions[0] == "a toy"


def test_the_job_seed_is_asked_once_and_logged(session: Session) -> None:
    grid = ok(session.imagine("a toy block"))
    seed = grid.job_seed
    assert seed == 4242 + int(grid.snapshot.remote_id[1:])
    assert grid.job_seed == seed and session.log.get(grid.id)["job_seed"] == seed


def test_features_and_local_images_are_refused_before_anything_is_logged(
    toy: ToyServer, isolated_env: Path, tmp_path: Path
) -> None:
    mine = tmp_path / "mine.png"
    Image.new("RGB", (48, 48)).save(mine)
    with open_session(toy, isolated_env, BareToyAdapter) as session:
        grid = ok(session.imagine("a toy block"))
        tile = ok(grid.upscale(1))
        rows = len(session.log.dataframe())
        for call, match in [
            (lambda: tile.animate("low"), "toy has no video"),
            (lambda: session.animate_image("https://x.test/a.png"), "toy has no video"),
            (lambda: tile.vary_region((0, 0, 9, 9)), "toy has no vary region"),
            (lambda: grid.act("V1", prompt="x"), "toy has no remix"),
            (lambda: tile.zoom_out(1.3), "toy has no zoom custom"),
            (lambda: session.edit(mine, "x"), "toy has no edit"),
            (lambda: session.describe(mine), "needs a public URL"),
            (lambda: session.imagine("a fox", images=[mine]), "needs a public URL"),
            (lambda: grid.job_seed, "toy has no seed"),
        ]:
            with pytest.raises(InvalidArgument, match=match) as info:
                call()
            assert "\n" not in str(info.value)
        assert len(session.log.dataframe()) == rows


def test_imagine_with_image_prompts(session: Session, toy: ToyServer, tmp_path: Path) -> None:
    mine = tmp_path / "ref.png"
    Image.new("RGB", (40, 40), (1, 2, 3)).save(mine)
    task = ok(session.imagine("a fox", images=["https://cdn.test/a.png", mine]))
    sent = toy.submits[-1]
    assert sent["prompt"].startswith("https://cdn.test/a.png a fox")
    assert sent["images"] == toy.uploads[-1:]
    assert task.kind == "image"
