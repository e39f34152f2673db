"""Local references under attack: odd paths after --sref/--oref/--cref, files changed
behind mjnb's back, and the refusing providers, over real loopback HTTP.

Each odd path must be one line before anything is logged or sent, or work; the log
must never hold a file's bytes or a ``data:`` URL.
"""

from __future__ import annotations

import base64
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image

import mjnb
from mjnb.simulator import RunningSimulator
from mjnb.vocab import MAX_IMAGE_BYTES

FAST = {"latency": 0.2, "long_side": 128, "progress_steps": 2}
WAIT = 60
CREDS: dict[str, dict[str, str]] = {
    "acedata": {"token": "t"},
    "mjproxy": {},
    "youchuan": {"token": "s", "app_id": "a"},
    "metachat": {"token": "k", "app_id": "a"},
}


def picture(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (80, 64)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder (relative paths resolve here) inside a parent holding up.png."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path))
    picture(work / "style.png", (20, 120, 220))
    picture(work / "a b.png", (200, 20, 20))
    picture(work / "1234.png", (20, 200, 20))
    picture(tmp_path / "up.png", (90, 90, 10))
    (work / "dir.png").mkdir()
    (work / "zero.png").symlink_to("/dev/zero")
    (work / "empty.png").write_bytes(b"")
    with (work / "sparse.png").open("wb") as f:
        f.truncate(8 * MAX_IMAGE_BYTES)
    os.mkfifo(work / "pipe.png")
    return work


def no_bytes_in_the_log(home: Path, *files: Path) -> None:
    """Nothing under MJNB_HOME but the image cache holds a data: URL or a file's bytes."""
    needles = [b"data:image", b"base64,"]
    for file in files:
        data = file.read_bytes()
        needles.append(base64.b64encode(data)[8:48])
        needles.append(data[16:48])
    for path in home.rglob("*"):
        if path.is_file() and "images" not in path.relative_to(home).parts:
            content = path.read_bytes()
            for needle in needles:
                assert needle not in content, (path, needle[:20])


# --------------------------------------------------------------- odd paths: one line


@pytest.mark.parametrize(
    ("reference", "said"),
    [
        ("./dir.png", "--sref ./dir.png is a folder, not an image file"),
        ("./zero.png", "--sref ./zero.png is not a regular file (a device, a pipe?)"),
        ("./pipe.png", "--sref ./pipe.png is not a regular file (a device, a pipe?)"),
        ("./empty.png", "--sref ./empty.png is empty"),
        ("./sparse.png", "--sref ./sparse.png is"),
        ("./a b.png", "--sref ./a names no file"),  # a space ends the word
        ("4321.png", "--sref 4321.png names no file"),
        ("./missing.png::2", "--sref ./missing.png names no file"),
    ],
)
@pytest.mark.parametrize("provider", ["acedata", "mjproxy"])
def test_an_odd_reference_path_is_one_line_before_anything_is_logged_or_sent(
    make_sim: Callable[..., RunningSimulator],
    here: Path,
    provider: str,
    reference: str,
    said: str,
) -> None:
    sim = make_sim()
    mj = mjnb.Client(provider, base_url=sim.url, **CREDS[provider])
    started = time.monotonic()
    with pytest.raises(mjnb.InvalidArgument) as info:
        mj.imagine(f"a fox --sref {reference} --v 7")
    assert time.monotonic() - started < 10  # /dev/zero and a FIFO are never read
    message = str(info.value)
    assert message.startswith(said) and "\n" not in message, message
    assert mj.log().empty
    assert sim.stats()["requests"] == 0


@pytest.mark.parametrize(
    "typed",
    [
        "a fox --sref ./1234.png::2 1234 --v 7",  # a file named like a style code, weighted
        "a fox --sref ../up.png --v 7",
        "a fox --oref ~/up.png --ow 80 --v 7",
        "a hero --cref ./style.png::2 --v 6",
    ],
)
@pytest.mark.parametrize("provider", ["acedata", "mjproxy"])
def test_odd_but_good_reference_paths_work_and_only_their_urls_are_sent(
    make_sim: Callable[..., RunningSimulator],
    here: Path,
    isolated_env: Path,
    caplog: pytest.LogCaptureFixture,
    provider: str,
    typed: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    sim = make_sim()
    mj = mjnb.Client(provider, base_url=sim.url, poll_interval=0.05, **CREDS[provider])
    task = mj.imagine(typed).wait(WAIT)
    assert task.status == "succeeded", task.error
    sent = task.job.prompt
    for word in ("./", "../", "~/"):
        assert word not in sent, sent
    assert sent.count(sim.url + "/_sim/uploads/") == 1, sent
    if "::2" in typed:
        assert "::2" in sent
    if "1234 " in typed:
        assert " 1234" in sent  # the style code stays a style code
    assert sim.stats()["submits"] == 1
    no_bytes_in_the_log(isolated_env, here / "style.png", here / "1234.png", here.parent / "up.png")
    assert "data:image" not in caplog.text


@pytest.mark.parametrize("provider", ["youchuan", "metachat"])
@pytest.mark.parametrize("reference", ["./dir.png", "./zero.png", "./pipe.png", "~/up.png"])
def test_refusing_providers_refuse_odd_paths_without_reading_them(
    make_sim: Callable[..., RunningSimulator], here: Path, provider: str, reference: str
) -> None:
    sim = make_sim()
    mj = mjnb.Client(provider, base_url=sim.url, **CREDS[provider])
    with pytest.raises(mjnb.InvalidArgument) as info:
        mj.imagine(f"a fox --oref {reference} --v 7")
    message = str(info.value)
    assert message.startswith(f"{provider} cannot take the local image after --oref")
    assert "\n" not in message
    assert mj.log().empty and sim.stats()["requests"] == 0


# ----------------------------------------------------------- files changed under mjnb


def test_a_file_changed_or_deleted_after_imagine_is_sent_as_it_was_given(
    make_sim: Callable[..., RunningSimulator], here: Path, isolated_env: Path
) -> None:
    """The bytes are read at imagine(): the task queued behind a slow one sends them,
    whatever happens to the file before its turn."""
    sim = make_sim(latency=1.5)
    mj = mjnb.Client("mjproxy", base_url=sim.url, max_concurrency=1, poll_interval=0.05)
    given_style = (here / "style.png").read_bytes()
    given_up = (here.parent / "up.png").read_bytes()
    first = mj.imagine("a slow fox --seed 1")
    queued = mj.imagine("a fox --sref ./style.png --oref ../up.png --v 7")
    picture(here / "style.png", (250, 250, 250))  # changed before its turn
    (here.parent / "up.png").unlink()  # and gone
    for task in (first, queued):
        assert task.wait(WAIT).status == "succeeded", task.error
    sref, oref = queued.job.parsed.params["sref"][0], queued.job.parsed.params["oref"]
    assert httpx.get(sref, timeout=30).content == given_style
    assert httpx.get(oref, timeout=30).content == given_up
    no_bytes_in_the_log(isolated_env, here / "style.png")


def test_a_file_rewritten_with_the_same_size_and_time_is_read_again(
    make_sim: Callable[..., RunningSimulator], here: Path
) -> None:
    """The session remembers files it read (by path, size and modification time) so a
    sweep reads a reference once. A file replaced by another image of the same size
    whose modification time is kept (``cp -p``, ``rsync -t``, an unzip) is a new file:
    its change time says so, and the new image is what is sent."""
    sim = make_sim()
    mj = mjnb.Client("acedata", base_url=sim.url, poll_interval=0.05, token="t")
    path = picture(here / "style.png", (10, 10, 10))
    before = path.stat()
    first = mj.imagine("a fox --sref ./style.png --v 7").wait(WAIT)
    picture(path, (250, 250, 250))
    assert path.stat().st_size == before.st_size  # one colour, one size: as many bytes
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    second = mj.imagine("a fox --sref ./style.png --v 7").wait(WAIT)
    assert first.status == second.status == "succeeded", (first.error, second.error)
    sent = httpx.get(second.job.parsed.params["sref"][0], timeout=30).content
    assert sent == path.read_bytes()
