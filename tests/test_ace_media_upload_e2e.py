"""Local images on Ace end to end: the public API against the simulator on a real port
(each image uploaded once to ``/api/v1/files/``, then sent as the URL it answered), and
hostile upload answers from a raw loopback server, which end the task before any submit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

import mjnb
from mjnb.simulator import RunningSimulator
from mjnb.video import probe
from tests.conftest import CANARY
from tests.hostile import CANARY as HOSTILE_CANARY
from tests.hostile import HostileServer, Reply, Request, leaks
from tests.hostile.server import forever, trickle

FAST = {"latency": 0.2, "long_side": 128, "progress_steps": 2}
#: a client on Ace's protocol and the simulator it talks to
Ace = tuple[mjnb.Client, RunningSimulator]


def ok(task: Any) -> Any:
    task.wait(60)
    assert task.status == "succeeded", task.error
    return task


@pytest.fixture
def png(tmp_path: Path) -> Path:
    path = tmp_path / "mine.png"
    Image.new("RGB", (96, 96), (20, 120, 220)).save(path)
    return path


@pytest.fixture
def other_png(tmp_path: Path) -> Path:
    path = tmp_path / "end.png"
    Image.new("RGB", (96, 96), (230, 60, 20)).save(path)
    return path


@pytest.fixture
def ace(make_sim: Callable[..., RunningSimulator]) -> Iterator[Ace]:
    sim = make_sim(token=CANARY)
    yield mjnb.Client("acedata", base_url=sim.url, token=CANARY, poll_interval=0.05), sim


def counts(sim: RunningSimulator) -> dict[str, int]:
    found: dict[str, int] = sim.stats()["protocols"].get("acedata", {})
    return {"uploads": found.get("uploads", 0), "submits": found.get("submits", 0)}


def record(sim: RunningSimulator, task: Any) -> dict[str, Any]:
    """The simulator's own record of a task: what the request carried."""
    answer = httpx.post(
        f"{sim.url}/midjourney/tasks",
        json={"action": "retrieve", "id": task.snapshot.remote_id},
        headers={"authorization": f"Bearer {CANARY}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def uploaded(sim: RunningSimulator, url: str) -> bool:
    return url.startswith(sim.url + "/_sim/uploads/")


def test_animate_a_local_image_in_a_batch_of_two(ace: Ace, png: Path) -> None:
    mj, sim = ace
    clip = ok(mj.animate(png, prompt="waves roll in", motion="low", batch=2))
    assert len(clip.videos) == 2 and all(probe(p).frames > 1 for p in clip.videos)
    assert counts(sim) == {"uploads": 1, "submits": 1}
    [start] = clip.job.images
    assert uploaded(sim, start)
    sent = record(sim, clip)["request"]
    assert sent["image_url"] == start and "--motion low --bs 2" in sent["prompt"]
    assert httpx.get(start, timeout=30).content == png.read_bytes()


def test_an_end_frame_from_a_file_is_uploaded_too(ace: Ace, png: Path, other_png: Path) -> None:
    mj, sim = ace
    clip = ok(mj.animate(png, prompt="sunset", motion="high", end=other_png))
    sent = record(sim, clip)["request"]
    assert uploaded(sim, sent["image_url"]) and uploaded(sim, sent["end_image_url"])
    assert sent["image_url"] != sent["end_image_url"]
    assert counts(sim) == {"uploads": 2, "submits": 1}


def test_edit_and_describe_a_local_image(ace: Ace, png: Path) -> None:
    mj, sim = ace
    edited = ok(mj.edit(png, "make it a sunset"))
    assert edited.image.size[0] > 0
    assert uploaded(sim, record(sim, edited)["request"]["image_url"])
    described = ok(mj.describe(str(png)))
    assert described.descriptions and "blue" in described.descriptions[0]  # read the upload
    assert counts(sim) == {"uploads": 2, "submits": 2}
    row = mj.log().set_index("task_id").loc[described.id]
    assert row["prompt"].startswith("sha256:")  # the log keeps a hash, never the bytes


def test_imagine_sends_the_uploaded_url_in_the_prompt(ace: Ace, png: Path) -> None:
    mj, sim = ace
    task = ok(mj.imagine("a fox in snow --seed 3", images=[png, str(png)]))  # one image twice
    [link] = dict.fromkeys(task.job.images)
    assert uploaded(sim, link) and task.job.images == (link, link)
    assert record(sim, task)["request"]["prompt"] == f"{link} {link} a fox in snow --seed 3"
    assert counts(sim) == {"uploads": 1, "submits": 1}  # the same image is uploaded once


def test_blend_local_files(ace: Ace, png: Path, other_png: Path) -> None:
    mj, sim = ace
    blended = ok(mj.blend([png, other_png], dimensions="portrait"))
    first, second = blended.job.images
    assert record(sim, blended)["request"]["prompt"] == f"{first} {second} --ar 2:3"
    assert counts(sim) == {"uploads": 2, "submits": 1}


def test_the_token_never_leaks_through_an_upload(
    ace: Ace,
    png: Path,
    isolated_env: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    mj, sim = ace
    tasks = [
        mj.animate(png, prompt="waves", motion="low"),
        mj.describe(png),
        mj.imagine("a fox", images=[png]),
    ]
    wrong = mjnb.Client("acedata", base_url=sim.url, token="wrong-token", poll_interval=0.05)
    refused = wrong.describe(png).wait(30)
    assert refused.status == "failed" and "upload" in (refused.error or "")
    assert "refused the token" in (refused.error or "")
    seen = [repr(mj), repr(mj.session.adapter), str(refused.error), mj.log().to_csv()]
    for task in tasks:
        ok(task)
        seen += [repr(task), str(task.error), repr(task.snapshot), repr(task.job)]
    out, err = capfd.readouterr()
    seen += [out, err, caplog.text]
    assert not [text for text in seen if CANARY in text]
    for path in isolated_env.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    assert counts(sim)["submits"] == 3  # the refused upload sent no submit


def test_the_built_in_simulator_takes_local_images(png: Path) -> None:
    mj = mjnb.Client(poll_interval=0.05)  # provider "local": Ace's protocol, embedded
    assert ok(mj.describe(png)).descriptions
    assert len(ok(mj.animate(png, prompt="drift", batch=2)).videos) == 2


# -- hostile upload answers ------------------------------------------------------------------


def _reply(kind: str) -> Reply:
    token_echo = {"error": {"code": "invalid_token", "message": f"bad {HOSTILE_CANARY}"}}
    return {
        "no file_url": Reply.json({"success": True, "url": "http://127.0.0.1:1/a.png"}),
        "500": Reply(500, content_type="text/html", body=b"<html>Bad Gateway</html>"),
        "401 echoing the token": Reply.json(token_echo, 401),
        "413": Reply.json({"error": {"code": "payload_too_large", "message": "Too big"}}, 413),
        "not JSON": Reply(200, content_type="text/html", body=b"<html>login</html>"),
        "trickle": Reply(chunks=trickle(b'{"file_url": "http://127.0.0.1:1/a.png"}', 0.5)),
        "endless": Reply(chunks=forever(b"A" * 65536, 0.0)),
    }[kind]


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("no file_url", "upload answer had no file_url"),
        ("500", "HTTP 500"),
        ("401 echoing the token", "refused the token"),
        ("413", "Too big"),
        ("not JSON", "without a JSON object"),
        ("trickle", "did not arrive whole"),
        ("endless", "larger than the 8 MB"),
    ],
)
def test_a_hostile_upload_answer_ends_the_task_and_sends_no_submit(
    kind: str, said: str, png: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MJNB_HOME", str(tmp_path / "home"))

    def handle(request: Request) -> Reply:
        if request.path == "/api/v1/files/":
            return _reply(kind)
        return Reply.json({"task_id": "t1"})  # a submit: it must never come

    server = HostileServer(handle)
    try:
        mj = mjnb.Client(
            "acedata", base_url=server.url, token=HOSTILE_CANARY, poll_interval=0.1, timeout=1.0
        )
        task = mj.animate(png, prompt="waves", motion="low").wait(30)
        error = task.error or ""
        assert task.status == "failed" and said in error, error
        assert "uploading a local image" in error and "othing was submitted" in error, error
        assert server.count("POST", "/api/v1/files/") == 1  # no retry of a free upload
        assert server.count("POST", "/midjourney/") == 0, "a submit went out"
        [upload] = server.seen(lambda r: r.path == "/api/v1/files/")
        assert upload.headers["authorization"] == f"Bearer {HOSTILE_CANARY}"
        assert upload.port == server.port  # the base URL's own origin, nothing else
        row = mj.log().set_index("task_id").loc[task.id]
        assert row["status"] == "failed" and row["error"].startswith("uploading a local image")
        assert not leaks(error) and not leaks(repr(task)) and not leaks(mj.log().to_csv())
    finally:
        server.close()
    for path in (tmp_path / "home").rglob("*"):
        if path.is_file():
            assert not leaks(path.read_bytes()), path
