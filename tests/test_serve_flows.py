"""The "Done when" flows of the video and editor issues, against a separate ``mjnb serve``.

One real ``mjnb serve --port 0 --token ...`` process per module (it prints its URL on
its first line), driven through ``mjnb.Client`` for every protocol, so what the tests
in the simulator's own process prove also holds over a real socket with the token in
every request. :data:`FLOWS` is the table: each row a flow, each column a protocol;
``OK`` means the flow works, a string is the start of the one-line refusal the client
raises before sending anything (the server then counts no new submit).

The cells with an image of your own go through each protocol's way of taking one:
Ace's upload endpoint, midjourney-proxy's inline base64; Youchuan refuses (no upload).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

import mjnb
from mjnb.errors import InvalidArgument
from mjnb.video import probe

pytestmark = pytest.mark.slow

TOKEN = "serve-flows-secret"
LONG_SIDE = 128
#: jobs of 0.2 s, 128-px grids, enough room that a 2x2 sweep runs at once
SERVE = ("--latency", "0.2", "--long-side", str(LONG_SIDE), "--concurrency", "8")
WAIT = 60.0
PROVIDERS = ("acedata", "mjproxy", "youchuan", "metachat")
OK = None

URL = "needs a public URL"  # a local file, to a protocol that takes only URLs

# fmt: off
#: flow -> what each protocol in PROVIDERS does with it (OK, or the refusal's start)
FLOWS: dict[str, tuple[str | None, ...]] = {
    #                       acedata               mjproxy youchuan       metachat
    "animate then extend": (OK,                   OK,     OK,            "has no video"),
    "animate own image":   (OK,                   OK,     URL,           "has no video"),
    "motion x seed sweep": (OK,                   OK,     OK,            "has no video"),
    "vary region":         (OK,                   OK,     OK,            "has no vary region"),
    "remix":               ("has no remix",       OK,     OK,            "has no remix"),
    "custom zoom":         ("has no zoom custom", OK,     OK,            "has no zoom custom"),
    "edit own image":      (OK,                   OK,     URL,           "has no edit"),
    "describe own image":  (OK,                   OK,     URL,           URL),
    "job seed":            (OK,                   OK,     "has no seed", "has no seed"),
}
# fmt: on

# ------------------------------------------------------------------- the server


class Served:
    """A running ``mjnb serve``: its URL, its counters, and what it wrote to stderr."""

    def __init__(self, process: subprocess.Popen[str], url: str, stderr: Path) -> None:
        self.process = process
        self.url = url
        self.stderr = stderr

    def submits(self) -> int:
        """How many jobs the server has been sent so far (``/_sim/stats``, with the token)."""
        headers = {"authorization": f"Bearer {TOKEN}"}
        answer = httpx.get(f"{self.url}/_sim/stats", headers=headers, timeout=10.0)
        answer.raise_for_status()
        return int(answer.json()["submits"])

    def report_section(self) -> tuple[str, str]:
        """The server's stderr, added to a failing test's report (see conftest)."""
        return "mjnb serve stderr", self.stderr.read_text(errors="replace")[-4000:] or "(empty)"

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``python -m mjnb.cli serve --port 0 --token ...`` of this tree, stopped afterwards."""
    stderr = tmp_path_factory.mktemp("serve") / "stderr.txt"
    tree = str(Path(mjnb.__file__).resolve().parents[1])  # the mjnb these tests import
    path = os.pathsep.join(p for p in (tree, os.environ.get("PYTHONPATH")) if p)
    command = [sys.executable, "-m", "mjnb.cli", "serve", "--port", "0", "--token", TOKEN]
    with stderr.open("w") as errors:
        process = subprocess.Popen(
            [*command, *SERVE],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env={**os.environ, "PYTHONPATH": path},
        )
    assert process.stdout is not None
    line = process.stdout.readline()  # "mjnb simulator on http://127.0.0.1:PORT (...)"
    if not line.startswith("mjnb simulator on http://"):
        process.kill()
        process.wait(15)
        pytest.fail(f"mjnb serve did not start: {line!r}\n{stderr.read_text()}")
    server = Served(process, line.split()[3], stderr)
    yield server
    server.stop()
    process.stdout.close()


# ------------------------------------------------------------- one client each


def ok(task: Any) -> Any:
    task.wait(WAIT)
    assert task.status == "succeeded", f"{task.action}: {task.status}: {task.error}"
    return task


def own_picture(path: Path) -> Path:
    """A PNG of your own with structure (a gradient and a square), so motion shows."""
    ramp = np.linspace(0, 255, 96, dtype=np.uint8)
    image = Image.fromarray(np.stack([np.tile(ramp, (96, 1))] * 3, axis=-1), "RGB")
    image.paste(Image.new("RGB", (36, 36), (220, 60, 30)), (30, 30))
    image.save(path)
    return path


@dataclass
class Studio:
    """One provider's client on the served simulator, with the grid and upscales that
    several flows start from, made once (sending them is not what a refusal counts)."""

    mj: mjnb.Client
    png: Path
    _grid: Any = None
    _ups: dict[int, Any] = field(default_factory=dict)

    @property
    def grid(self) -> Any:
        if self._grid is None:
            self._grid = ok(self.mj.imagine("a red fox in snow --seed 7"))
        return self._grid

    def up(self, index: int) -> Any:
        if index not in self._ups:
            self._ups[index] = ok(self.grid.upscale(index))
        return self._ups[index]

    def ready(self) -> None:
        """Everything a flow may start from, sent now."""
        self.up(1)
        self.up(2)


@pytest.fixture(scope="module")
def studios(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Studio]:
    made: dict[str, Studio] = {}

    def studio(provider: str) -> Studio:
        if provider not in made:
            home = tmp_path_factory.mktemp(f"home-{provider}")
            mj = mjnb.Client(
                provider,
                base_url=served.url,
                token=TOKEN,
                app_id="app-1",
                home=home,
                poll_interval=0.05,
            )
            made[provider] = Studio(mj, own_picture(home / "mine.png"))
        return made[provider]

    return studio


# ------------------------------------------------------------------- the flows


def animate_then_extend(s: Studio) -> None:
    """imagine -> U1 -> animate high -> extend low."""
    clip = ok(s.up(1).animate("high"))
    assert clip.kind == "video" and len(clip.videos) == 1
    assert all(Path(p).suffix == ".mp4" and probe(p).frames > 1 for p in clip.videos)
    assert max(probe(clip.videos[0]).size) <= LONG_SIDE  # clips follow --long-side
    longer = ok(clip.extend("low"))
    assert longer.kind == "video" and longer.videos
    assert probe(longer.videos[0]).frames > probe(clip.videos[0]).frames
    poster = clip.poster
    assert isinstance(poster, Image.Image) and poster.size == probe(clip.videos[0]).size


def animate_own_image(s: Studio) -> None:
    """``mj.animate(path, prompt, motion="low", batch=2)``: two different clips."""
    clips = ok(s.mj.animate(s.png, "waves roll in", motion="low", batch=2))
    assert clips.kind == "video" and len(clips.videos) == 2
    assert all(probe(p).frames > 1 for p in clips.videos)
    assert clips.videos[0].read_bytes() != clips.videos[1].read_bytes()


def motion_x_seed_sweep(s: Studio) -> None:
    """A 2x2 motion x seed video sweep over an upscale, shown as posters and filmstrips."""
    sweep = s.mj.sweep_video(s.up(1), "waves roll in", motion=["low", "high"], seed=[1, 2])
    sweep.wait(timeout=WAIT)
    df = sweep.df
    assert sweep.summary == "4/4 done", df[["status", "error"]]
    assert list(df["status"]) == ["succeeded"] * 4 and list(df["kind"]) == ["video"] * 4
    assert all(paths and probe(paths[0]).frames > 1 for paths in df["video_paths"])
    grid = sweep.grid(x="motion", y="seed", cell_size=96)
    strip = sweep.filmstrip(x="motion", y="seed", frames=3, height=48)
    assert isinstance(grid, Image.Image) and isinstance(strip, Image.Image)
    assert grid.width > 96 and strip.width > 3 * 48


def vary_region(s: Studio) -> None:
    """U2 -> vary region with a box and a new prompt: only the box changes."""
    parent = s.up(2)
    before = np.asarray(parent.image.convert("RGB"), dtype=int)
    h, w = before.shape[:2]
    box = (w // 4, h // 4, w * 5 // 8, h * 5 // 8)
    varied = ok(parent.vary_region(box, prompt="a red fox with a blue hat"))
    assert varied.action == "vary region"
    # a grid of four repaints (Ace, Youchuan) or the one repainted image (midjourney-proxy)
    pictures = [varied.image] if varied.image.size == (w, h) else list(varied.tiles)
    for picture in pictures:
        after = np.asarray(picture.convert("RGB").resize((w, h)), dtype=int)
        assert_only_inside(np.abs(after - before).sum(axis=2) > 24, box)


def assert_only_inside(changed: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Most of the box changed, nothing outside it (2 px of slack for resampling)."""
    x0, y0, x1, y1 = box
    assert changed[y0:y1, x0:x1].mean() > 0.5, "the box was not repainted"
    outside = changed.copy()
    outside[max(0, y0 - 2) : y1 + 2, max(0, x0 - 2) : x1 + 2] = False
    ys, xs = np.nonzero(outside)
    assert not len(xs), f"{len(xs)} pixels changed outside {box}, e.g. at {xs[0], ys[0]}"


def remix(s: Studio) -> None:
    """V1 with a remix prompt."""
    remixed = ok(s.grid.act("V1", prompt="a blue fox in the rain"))
    assert remixed.prompt.text == "a blue fox in the rain"
    assert len(remixed.tiles) == 4 and remixed.image.tobytes() != s.grid.image.tobytes()


def custom_zoom(s: Studio) -> None:
    """Custom zoom 1.5 with a prompt."""
    zoomed = ok(s.up(1).zoom_out(1.5, prompt="a red fox in a wide field"))
    assert zoomed.action == "zoom custom"
    assert "a red fox in a wide field" in zoomed.prompt.text and zoomed.image.size


def edit_own_image(s: Studio) -> None:
    """``mj.edit(path, prompt)`` of a local PNG."""
    edited = ok(s.mj.edit(s.png, "the same scene at sunset"))
    assert edited.image.size and edited.image.tobytes()


def describe_own_image(s: Studio) -> None:
    """``mj.describe(path)`` of a local PNG."""
    described = ok(s.mj.describe(s.png))
    assert described.descriptions and all(isinstance(d, str) and d for d in described.descriptions)


def job_seed(s: Studio) -> None:
    """The seed the grid's job used, asked of the provider, and kept in the log."""
    assert s.grid.job_seed == 7
    assert s.mj.log().set_index("task_id").loc[s.grid.id, "job_seed"] == 7


RUN: dict[str, Callable[[Studio], None]] = {
    "animate then extend": animate_then_extend,
    "animate own image": animate_own_image,
    "motion x seed sweep": motion_x_seed_sweep,
    "vary region": vary_region,
    "remix": remix,
    "custom zoom": custom_zoom,
    "edit own image": edit_own_image,
    "describe own image": describe_own_image,
    "job seed": job_seed,
}


def cells() -> Iterator[Any]:
    for flow, outcomes in FLOWS.items():
        for provider, refusal in zip(PROVIDERS, outcomes, strict=True):
            yield pytest.param(flow, provider, refusal, id=f"{provider}-{flow.replace(' ', '_')}")


@pytest.mark.parametrize(("flow", "provider", "refusal"), list(cells()))
def test_flow(
    flow: str, provider: str, refusal: str | None, studios: Callable[[str], Studio], served: Served
) -> None:
    studio = studios(provider)
    if refusal is OK:
        RUN[flow](studio)
        return
    studio.ready()
    sent = served.submits()
    with pytest.raises(InvalidArgument, match=f"^{provider} {refusal}") as caught:
        RUN[flow](studio)
    assert "\n" not in str(caught.value) and "nothing was sent" in str(caught.value)
    assert served.submits() == sent  # refused before sending


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_wrong_token_is_refused(provider: str, served: Served, tmp_path: Path) -> None:
    """The server checks the token: the same client with a wrong one gets an auth error."""
    mj = mjnb.Client(provider, base_url=served.url, token="wrong", app_id="a", home=tmp_path)
    task = mj.imagine("a red fox").wait(WAIT)
    assert task.status == "failed" and "refused" in (task.error or ""), task.error
