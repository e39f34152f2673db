"""Images of your own after --sref/--cref/--oref: uploaded as each protocol can, over real
HTTP to the simulator, or refused in one line before anything is logged or sent.

Ace uploads each file (``/api/v1/files/``) and midjourney-proxy through trueai's
``/mj/submit/upload-discord-images``; the prompt sent carries the URLs, the log keeps the
paths (and the files' hashes). Youchuan and MetaChat refuse. A novicezk server (404
there) and a trueai server with uploads off (code 4) end the task before any submit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

import mjnb
from mjnb.prompt import parse_prompt
from mjnb.prompt.refs import is_local_ref, local_refs, with_urls
from mjnb.runtime import Engine
from mjnb.simulator import RunningSimulator
from mjnb.vocab import MAX_IMAGE_BYTES
from tests.conftest import CANARY

FAST = {"latency": 0.2, "long_side": 128, "progress_steps": 2}
WAIT = 60


def ok(task: Any) -> Any:
    task.wait(WAIT)
    assert task.status == "succeeded", task.error
    return task


def picture(path: Path, colour: tuple[int, int, int]) -> Path:
    Image.new("RGB", (80, 64), colour).save(path)
    return path


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding style.png and robot.jpg (relative paths resolve here)."""
    monkeypatch.chdir(tmp_path)
    picture(tmp_path / "style.png", (20, 120, 220))
    Image.new("RGB", (64, 64), (230, 60, 20)).save(tmp_path / "robot.jpg", "JPEG")
    return tmp_path


def uploads(sim: RunningSimulator, protocol: str) -> dict[str, int]:
    found: dict[str, int] = sim.stats()["protocols"].get(protocol, {})
    return {"uploads": found.get("uploads", 0), "submits": found.get("submits", 0)}


def ace_sent(sim: RunningSimulator, task: Any) -> dict[str, Any]:
    """What the simulator's Ace endpoint received for a task."""
    answer = httpx.post(
        f"{sim.url}/midjourney/tasks",
        json={"action": "retrieve", "id": task.snapshot.remote_id},
        headers={"authorization": f"Bearer {CANARY}"},
        timeout=30,
    )
    request: dict[str, Any] = answer.json()["request"]
    return request


def is_upload(sim: RunningSimulator, url: str) -> bool:
    return url.startswith(sim.url + "/_sim/uploads/")


# ------------------------------------------------------------------ the prompt language


def test_local_references_are_found_and_swapped_for_urls() -> None:
    prompt = parse_prompt("a fox --sref ./a.png::2 1234567 https://x/b.png ./a.png --v 7")
    assert local_refs(prompt) == [("sref", "./a.png"), ("sref", "./a.png")]
    sent = with_urls(prompt, {"./a.png": "https://cdn/a.png"})
    assert str(sent) == (
        "a fox --version 7 --sref https://cdn/a.png::2 1234567 https://x/b.png https://cdn/a.png"
    )
    assert str(prompt).endswith("--sref ./a.png::2 1234567 https://x/b.png ./a.png")
    assert local_refs(parse_prompt("a fox --oref ~/r.jpg --v 7")) == [("oref", "~/r.jpg")]
    for word in ("./a.png", "a.PNG", "refs/x", "~", "..\\a", "C:\\x\\a.webp"):
        assert is_local_ref(word), word
    for word in ("123", "random", "https://x/a.png", "file:///a.png", "data:image/png", "foo"):
        assert not is_local_ref(word), word


# ------------------------------------------------------------------------------- Ace


@pytest.fixture
def ace(make_sim: Callable[..., RunningSimulator]) -> Iterator[tuple[mjnb.Client, Any]]:
    sim = make_sim(token=CANARY)
    yield mjnb.Client("acedata", base_url=sim.url, token=CANARY, poll_interval=0.05), sim


def test_ace_uploads_each_reference_and_sends_its_url_in_the_prompt(
    ace: tuple[mjnb.Client, Any], here: Path
) -> None:
    mj, sim = ace
    typed = "a fox --sref ./style.png::2 1234567 https://x.example/b.png --v 7"
    task = ok(mj.imagine(typed, images=[here / "style.png"]))  # the same file twice
    [link] = task.job.images
    assert is_upload(sim, link)
    sent = ace_sent(sim, task)
    assert sent["prompt"] == (
        f"{link} a fox --version 7 --sref {link}::2 1234567 https://x.example/b.png"
    )
    assert sent["style_reference"] is True
    assert task.job.prompt == f"a fox --version 7 --sref {link}::2 1234567 https://x.example/b.png"
    assert uploads(sim, "acedata") == {"uploads": 1, "submits": 1}  # one file, one upload
    row = mj.session.log.get(task.id)
    assert row is not None
    assert (
        row["prompt"] == "a fox --version 7 --sref ./style.png::2 1234567 https://x.example/b.png"
    )
    digest = (here / "style.png").read_bytes()
    import hashlib

    sha = hashlib.sha256(digest).hexdigest()
    assert row["inputs"]["images"] == [f"sha256:{sha}"]
    assert row["inputs"]["refs"] == [["./style.png", f"sha256:{sha}"]]
    assert row["inputs"]["sent"] == [["./style.png", link]]
    assert Path(row["inputs"]["files"][sha]).read_bytes() == digest  # kept in the cache
    assert "base64" not in json.dumps(row["inputs"])  # never the bytes


def test_omni_and_character_references_from_files_and_home(
    ace: tuple[mjnb.Client, Any], here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mj, sim = ace
    monkeypatch.setenv("HOME", str(here))
    omni = ok(mj.imagine("a robot barista --oref ~/robot.jpg --ow 100 --v 7"))
    assert is_upload(sim, omni.job.parsed.params["oref"])
    assert f"--oref {omni.job.parsed.params['oref']} --ow 100" in ace_sent(sim, omni)["prompt"]
    hero = ok(mj.imagine("a hero --cref ./style.png --cw 50 --v 6"))
    assert is_upload(sim, hero.job.parsed.params["cref"][0])
    assert omni.prompt is not None and omni.prompt.params["oref"] == "~/robot.jpg"
    with pytest.raises(mjnb.PromptError, match="--cref"):  # V6 only, as always
        mj.imagine("a hero --cref ./style.png --v 7")


def test_a_sweep_with_a_local_style_reference_sends_it_in_every_cell(
    ace: tuple[mjnb.Client, Any], here: Path
) -> None:
    mj, sim = ace
    sweep = mj.sweep("a fox --sref ./style.png --seed {1, 2}")
    sweep.wait(WAIT)
    for task in sweep.tasks:
        assert task.status == "succeeded", task.error
        assert is_upload(sim, task.job.parsed.params["sref"][0])
    assert uploads(sim, "acedata") == {"uploads": 2, "submits": 2}  # once per task send


def test_edit_with_a_reference_in_its_prompt(ace: tuple[mjnb.Client, Any], here: Path) -> None:
    mj, sim = ace
    edited = ok(mj.edit(here / "robot.jpg", "the robot in snow --sref ./style.png --v 7"))
    assert "./style.png" not in ace_sent(sim, edited)["prompt"]
    assert uploads(sim, "acedata")["uploads"] == 2


@pytest.mark.parametrize(
    ("reference", "said"),
    [
        ("./missing.png", "--sref ./missing.png names no file (relative to"),
        ("./folder/", "is a folder, not an image file"),
        ("./notes.txt", "--sref ./notes.txt is not an image mjnb can read"),
        ("./empty.png", "--sref ./empty.png is empty"),
        ("./huge.png", f"--sref ./huge.png is {MAX_IMAGE_BYTES + 1:,} bytes; the limit is"),
    ],
)
def test_a_bad_reference_file_is_one_line_and_nothing_is_logged_or_sent(
    ace: tuple[mjnb.Client, Any], here: Path, reference: str, said: str
) -> None:
    mj, sim = ace
    (here / "folder").mkdir()
    (here / "notes.txt").write_text("not a picture")
    (here / "empty.png").write_bytes(b"")
    with (here / "huge.png").open("wb") as f:
        f.truncate(MAX_IMAGE_BYTES + 1)  # sparse: refused from its size alone
    with pytest.raises(mjnb.InvalidArgument) as info:
        mj.imagine(f"a fox --sref {reference} --v 7")
    message = str(info.value)
    assert said in message and "\n" not in message, message
    assert mj.log().empty
    assert sim.stats()["requests"] == 0


def test_a_video_prompt_with_a_local_reference_is_refused_before_sending(
    ace: tuple[mjnb.Client, Any], here: Path
) -> None:
    """A video job takes no references: the path would reach the provider as written."""
    mj, sim = ace
    with pytest.warns(mjnb.PromptWarning), pytest.raises(mjnb.InvalidArgument) as info:
        mj.animate(here / "robot.jpg", prompt="waves roll in --sref ./style.png", motion="low")
    assert "takes no --sref" in str(info.value) and "nothing was sent" in str(info.value)
    assert mj.log().empty and sim.stats()["requests"] == 0


# ---------------------------------------------------------------- midjourney-proxy


def test_mjproxy_uploads_references_through_upload_discord_images(
    make_sim: Callable[..., RunningSimulator], here: Path
) -> None:
    sim = make_sim()
    mj = mjnb.Client("mjproxy", base_url=sim.url, poll_interval=0.05)
    task = ok(mj.imagine("a fox --sref ./style.png 1234567 --oref ./robot.jpg --v 7"))
    sref, oref = task.job.parsed.params["sref"][0], task.job.parsed.params["oref"]
    assert is_upload(sim, sref) and is_upload(sim, oref) and sref != oref
    said = task.snapshot.extra["prompt"]  # what the proxy says it ran
    assert f"--sref {sref} 1234567" in said and f"--oref {oref}" in said
    assert "./" not in said
    assert uploads(sim, "mjproxy") == {"uploads": 2, "submits": 1}
    assert (
        mj.log()
        .set_index("task_id")
        .loc[task.id, "prompt"]
        .endswith("--sref ./style.png 1234567 --oref ./robot.jpg")
    )


def without_uploads(sim_app: Any, answer: tuple[int, bytes]) -> Any:
    """The simulator's ASGI app, but ``upload-discord-images`` answers ``answer``."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/upload-discord-images"):
            status, body = answer
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json")]})  # fmt: skip
            await send({"type": "http.response.body", "body": body})
            return
        await sim_app(scope, receive, send)

    return app


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ((404, b""), "this midjourney-proxy server cannot take local references (HTTP 404"),
        (
            (200, json.dumps({"code": 4, "description": "禁止上传", "result": None}).encode()),
            "does not accept local images (EnableUserCustomUploadBase64 is off)",
        ),
    ],
)
def test_a_server_without_uploads_ends_the_task_before_any_submit(
    sim_app: Any, here: Path, answer: tuple[int, bytes], said: str
) -> None:
    engine = Engine(transport=httpx.ASGITransport(app=without_uploads(sim_app, answer)))
    try:
        mj = mjnb.Client("mjproxy", base_url="http://sim.test", engine=engine, poll_interval=0.05)
        task = mj.imagine("a fox --sref ./style.png --v 7").wait(WAIT)
        assert task.status == "failed"
        assert said in (task.error or "") and "\n" not in (task.error or ""), task.error
        assert "Nothing was submitted" in (task.error or "")
        stats = engine.call(engine.http.get("http://sim.test/_sim/stats")).json()
        assert stats["submits"] == 0
    finally:
        engine.close()


# ------------------------------------------------------------------- refused in one line


@pytest.mark.parametrize(
    ("provider", "creds"),
    [("youchuan", {"token": "s", "app_id": "a"}), ("metachat", {"token": "k", "app_id": "a"})],
)
def test_youchuan_and_metachat_refuse_local_references_before_sending(
    make_sim: Callable[..., RunningSimulator], here: Path, provider: str, creds: dict[str, str]
) -> None:
    sim = make_sim()
    mj = mjnb.Client(provider, base_url=sim.url, **creds)
    with pytest.raises(mjnb.InvalidArgument) as info:
        mj.imagine("a fox --sref ./style.png --v 7")
    message = str(info.value)
    assert message.startswith(f"{provider} cannot take the local image after --sref")
    assert "http(s) URL" in message and "nothing was sent" in message and "\n" not in message
    with pytest.raises(mjnb.InvalidArgument, match="--sref"):
        mj.sweep("a fox --sref ./style.png --seed {1, 2}")
    assert mj.log().empty and sim.stats()["requests"] == 0


def test_an_action_on_a_task_with_references_sends_the_urls_it_sent_also_after_a_restart(
    ace: tuple[mjnb.Client, Any], here: Path
) -> None:
    mj, sim = ace
    grid = ok(mj.imagine("a fox --sref ./style.png --v 7"))
    up = ok(grid.upscale(1))
    region = ok(up.vary_region((0, 0, 32, 32)))
    assert "./style.png" not in ace_sent(sim, region)["prompt"]
    again = mjnb.Client("acedata", base_url=sim.url, token=CANARY)  # a new kernel
    logged = again.task(grid.id)
    assert logged.job.prompt == grid.job.prompt  # what its job sent: the URL, no path
    assert logged.prompt is not None and logged.prompt.params["sref"] == ["./style.png"]
    assert uploads(sim, "acedata")["uploads"] == 1  # the actions uploaded nothing


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (200, {"code": 1, "result": ["https://cdn.example/a.png"]}, None),
        (200, {"code": 1, "result": "https://cdn.example/a.png"}, "held no image URL"),
        (200, {"code": 1, "result": ["not a url"]}, "held no image URL"),
        (200, {"code": 9, "description": "实例不存在或不可用", "result": None}, "code 9"),
        (405, {}, "cannot take local references (HTTP 405"),
        (403, {}, "refused the secret"),
    ],
)
def test_mjproxy_reads_the_upload_answer(status: int, body: dict[str, Any], said: str) -> None:
    from mjnb.providers.mjproxy import MJProxyAdapter

    adapter = MJProxyAdapter(base_url="http://proxy.test", token="s")
    request = adapter.upload("data:image/png;base64,iVBORw0KGgo=")
    assert request is not None and request.url.path == "/mj/submit/upload-discord-images"
    assert json.loads(request.content) == {"base64Array": ["data:image/png;base64,iVBORw0KGgo="]}
    response = httpx.Response(status, json=body, request=request)
    if said is None:
        assert adapter.parse_upload(response) == "https://cdn.example/a.png"
        return
    with pytest.raises(mjnb.MJError, match=said.replace("(", r"\(")):
        adapter.parse_upload(response)


# ------------------------------------------------------- what the log keeps for a resend


def test_kept_inputs_round_trip_and_refuse_what_is_gone_changed_or_withheld(
    tmp_path: Path,
) -> None:
    from mjnb.images import ImageStore
    from mjnb.inputs import image_input
    from mjnb.providers.base import Job
    from mjnb.runtime.kept import record, restore

    store = ImageStore(tmp_path / "images")
    one = image_input(picture(tmp_path / "one.png", (10, 200, 10))).data_url
    two = image_input(picture(tmp_path / "two.png", (200, 10, 10))).data_url
    job = Job("video", prompt="waves", images=(one,), end=two, loop=True, raw=True, batch=2)
    kept = record(job, store)
    assert kept is not None and "base64" not in json.dumps(kept)
    assert kept["images"][0].startswith("sha256:") and kept["end"].startswith("sha256:")
    assert {k: kept[k] for k in ("loop", "raw", "batch")} == {"loop": True, "raw": True, "batch": 2}
    bare = Job("video", prompt="waves")
    back = restore(bare, kept, None)
    assert (back.images, back.end, back.loop, back.raw, back.batch) == ((one,), two, True, True, 2)
    blend = record(Job("blend", images=("https://x/a.png", one), dimensions="portrait"), store)
    assert blend is not None and blend["images"][0] == "https://x/a.png"
    assert restore(Job("blend"), blend, None).dimensions == "portrait"
    assert record(Job("imagine", prompt="a fox"), store) is None  # its prompt says it all
    assert record(Job("action", label="U1"), store) is None

    end_file = Path(kept["files"][kept["end"][7:]])
    end_file.write_bytes(end_file.read_bytes() + b"x")  # changed on disk
    with pytest.raises(mjnb.InvalidArgument, match=r"end frame in the cache .* has changed"):
        restore(bare, kept, None)
    end_file.unlink()
    with pytest.raises(mjnb.InvalidArgument, match="its end frame is no longer in the cache"):
        restore(bare, kept, None)
    with pytest.raises(mjnb.InvalidArgument, match="its mask is no longer in the cache"):
        restore(Job("edit"), {"images": []}, tmp_path / "gone-mask.png")
    signed = record(Job("describe", images=("https://x/a.png?token=sk-123",)), store)
    assert signed is not None and "sk-123" not in json.dumps(signed)
    with pytest.raises(mjnb.InvalidArgument, match="carried credentials"):
        restore(Job("describe"), signed, None)
