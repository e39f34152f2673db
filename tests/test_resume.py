"""A kernel that dies mid-job leaves a row the next client polls to the end, never resubmits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

import mjnb
from mjnb.simulator import RunningSimulator, SimConfig, serve


@pytest.fixture
def slow_sim() -> Iterator[RunningSimulator]:
    running = serve(SimConfig(latency=2.5, long_side=256, progress_steps=5))
    yield running
    running.stop()


SUBMIT_AND_HANG = """
import sys, time, mjnb
mj = mjnb.Client({provider!r}, base_url={url!r}, poll_interval=0.05, **{creds!r})
task = mj.imagine("a lighthouse at dusk --seed 11")
# killed once the log knows the remote id (a kill before that loses the id, and the
# task is then failed as "may have been created", never resent)
while not mj.log().query("task_id == @task.id").remote_id.notna().any():
    time.sleep(0.02)
print(task.id, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize(("provider", "creds"), [("mjproxy", {}), ("acedata", {"token": "t"})])
def test_killed_kernel_is_resumed_without_resubmitting(
    slow_sim: RunningSimulator, tmp_path: Path, provider: str, creds: dict[str, str]
) -> None:
    script = textwrap.dedent(SUBMIT_AND_HANG).format(
        provider=provider, url=slow_sim.url, creds=creds
    )
    with subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        task_id = child.stdout.readline().strip()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        assert task_id, child.stderr.read()

    mj = mjnb.Client(provider, base_url=slow_sim.url, poll_interval=0.05, **creds)
    resumed = {task.id: task for task in mj.resumed}
    assert task_id in resumed
    task = resumed[task_id].wait(timeout=30)
    assert task.status == "succeeded", task.error
    assert task.image_path is not None and task.image_path.exists()
    assert slow_sim.stats()["submits"] == 1
    frame = mj.log()
    assert frame.loc[frame.task_id == task_id, "status"].item() == "succeeded"
    # a third client finds nothing left to resume
    assert mjnb.Client(provider, base_url=slow_sim.url, **creds).resumed == []


def test_unsent_tasks_wait_for_resume_and_half_sent_ones_are_never_sent(
    slow_sim: RunningSimulator,
) -> None:
    from mjnb.log import TaskLog

    log = TaskLog(Path(os.environ["MJNB_HOME"]) / "history.sqlite")
    for task_id in ("waiting00001", "sending00001"):
        log.add_task(
            task_id,
            provider="mjproxy",
            action="imagine",
            prompt="a fox --seed 5",
            text="a fox",
            params={"seed": 5},
            parent_id=None,
            sweep_id=None,
            submitted_at=datetime.now(timezone.utc),
            base_url=slow_sim.url,
        )
    # the dead kernel had started sending this one: the job may exist remotely
    log.update_task("sending00001", remote_state={"sending": True})
    log.close()

    mj = mjnb.Client("mjproxy", base_url=slow_sim.url, poll_interval=0.05)
    half_sent = mj.task("sending00001")
    assert half_sent.status == "failed"
    assert "did not submit it again" in (half_sent.error or "")
    waiting = mj.task("waiting00001")  # never left the machine: it waits for resume()
    assert waiting.status == "queued" and waiting not in mj.tasks
    assert slow_sim.stats()["submits"] == 0  # Client() never sends
    pending = mj.pending()
    assert list(pending.task_id) == ["waiting00001"] and list(pending.action) == ["send"]
    assert mj.resume() == [waiting]
    assert waiting.wait(timeout=30).status == "succeeded", waiting.error
    assert slow_sim.stats()["submits"] == 1
    with pytest.raises(mjnb.NotFound, match="Nothing to resume"):
        mj.resume()


# ------------------------- kill -9 between logging and submit: local inputs come back

QUEUE_BEHIND_A_SLOW_ONE = """
import sys, time, mjnb
mj = mjnb.Client({provider!r}, base_url=sys.argv[1], max_concurrency=1, poll_interval=0.05,
                 **{creds!r})
first = mj.imagine("a lighthouse at dusk --seed 11")  # holds the one slot
queued = [{queued}]  # logged, waiting for the slot: never sent by this kernel
while not first.snapshot.remote_id:  # the slow one is at the provider: kill now
    time.sleep(0.02)
print(first.id, *(t.id for t in queued), flush=True)
time.sleep(600)
"""
MJPROXY_QUEUED = (
    'mj.imagine("a fox in snow --sref ./style.png --v 7", images=["./robot.jpg"]), '
    'mj.retexture("./robot.jpg", "made of paper --v 7")'
)
ACE_QUEUED = (
    'mj.describe("./robot.jpg"), '
    'mj.blend(["./robot.jpg", "./style.png"], dimensions="portrait"), '
    'mj.animate("./robot.jpg", prompt="waves roll in", motion="high", loop=False, '
    'end="./style.png", batch=2), '
    'mj.edit("./robot.jpg", "the robot at night", mask=(0, 0, 32, 32))'
)


def kill_after_logging(
    sim: RunningSimulator, cwd: Path, provider: str, creds: dict[str, str], queued: str
) -> list[str]:
    """Run a child that logs tasks queued behind a slow one, kill -9 it before it sends
    them; returns the ids it printed (the slow one first)."""
    from PIL import Image

    Image.new("RGB", (64, 64), (230, 60, 20)).save(cwd / "robot.jpg", "JPEG")
    Image.new("RGB", (64, 64), (20, 120, 220)).save(cwd / "style.png")
    script = textwrap.dedent(QUEUE_BEHIND_A_SLOW_ONE).format(
        provider=provider, creds=creds, queued=queued
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    with subprocess.Popen(
        [sys.executable, "-c", script, sim.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        ids = child.stdout.readline().split()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        assert ids, child.stderr.read()
    return ids


def counts(sim: RunningSimulator, protocol: str) -> dict[str, int]:
    found: dict[str, int] = sim.stats()["protocols"].get(protocol, {})
    return {"uploads": found.get("uploads", 0), "submits": found.get("submits", 0)}


@pytest.mark.parametrize("cache", ["kept", "pruned"])
def test_a_resumed_imagine_sends_its_image_prompt_and_local_references(
    drill_sim: RunningSimulator, tmp_path: Path, cache: str
) -> None:
    import httpx

    _, imagine_id, retexture_id = kill_after_logging(
        drill_sim, tmp_path, "mjproxy", {}, MJPROXY_QUEUED
    )
    assert counts(drill_sim, "mjproxy") == {"uploads": 0, "submits": 1}  # only the slow one
    mj = mjnb.Client("mjproxy", base_url=drill_sim.url, poll_interval=0.05)
    row = mj.session.log.get(imagine_id)
    assert row is not None and row["prompt"] == "a fox in snow --version 7 --sref ./style.png"
    files = [Path(p) for p in row["inputs"]["files"].values()]
    assert len(files) == 2 and all(p.exists() for p in files)  # the image prompt, the sref
    if cache == "pruned":
        for path in files:
            path.unlink()
    pending = mj.pending().set_index("task_id")
    assert pending.loc[imagine_id, "action"] == "send"
    assert pending.loc[retexture_id, "action"] == "send"
    started = {task.id: task for task in mj.resume()}
    assert set(started) == {imagine_id, retexture_id}
    for task in started.values():
        task.wait(60)
    imagine, retexture = started[imagine_id], started[retexture_id]
    if cache == "pruned":
        for task in (imagine, retexture):
            assert task.status == "failed"
            assert "is no longer in the cache" in (task.error or "")
            assert "nothing was sent" in (task.error or "")
        said = f"Task {imagine.id} cannot be sent again: its image prompt is no longer in"
        assert (imagine.error or "").startswith(said)
        assert "cannot be sent again: its image to retexture is no longer" in (
            retexture.error or ""
        )
        assert counts(drill_sim, "mjproxy") == {"uploads": 0, "submits": 1}  # never sent
        return
    assert imagine.status == "succeeded", imagine.error
    assert retexture.status == "succeeded", retexture.error
    # the image prompt went inline, the sref through upload-discord-images; the image
    # (base64Array) went with the retexture
    assert counts(drill_sim, "mjproxy") == {"uploads": 3, "submits": 3}
    said = imagine.snapshot.extra["prompt"]  # the prompt the proxy says it ran
    image_prompt, *_ = said.split()
    assert image_prompt.startswith(drill_sim.url + "/_sim/uploads/")
    robot = (tmp_path / "robot.jpg").read_bytes()
    assert httpx.get(image_prompt, timeout=30).content == robot
    sref = imagine.job.parsed.params["sref"][0]
    assert f"--sref {sref}" in said and "./style.png" not in said
    assert httpx.get(sref, timeout=30).content == (tmp_path / "style.png").read_bytes()


def test_resumed_media_jobs_send_every_input_they_were_given(
    drill_sim: RunningSimulator, tmp_path: Path
) -> None:
    import httpx

    creds = {"token": "t"}
    _, *queued = kill_after_logging(drill_sim, tmp_path, "acedata", creds, ACE_QUEUED)
    assert counts(drill_sim, "acedata") == {"uploads": 0, "submits": 1}
    mj = mjnb.Client("acedata", base_url=drill_sim.url, poll_interval=0.05, **creds)
    assert set(mj.pending().query("action == 'send'").task_id) == set(queued)
    started = {task.id: task for task in mj.resume()}
    assert set(started) == set(queued)
    describe, blend, video, edit = (started[i].wait(60) for i in queued)
    for task in (describe, blend, video, edit):
        assert task.status == "succeeded", (task.action, task.error)

    def sent(task: mjnb.Task) -> dict[str, object]:
        answer = httpx.post(
            f"{drill_sim.url}/midjourney/tasks",
            json={"action": "retrieve", "id": task.snapshot.remote_id},
            headers={"authorization": "Bearer t"},
            timeout=30,
        )
        request: dict[str, object] = answer.json()["request"]
        return request

    robot = (tmp_path / "robot.jpg").read_bytes()
    style = (tmp_path / "style.png").read_bytes()

    def body(url: object) -> bytes:
        assert isinstance(url, str) and url.startswith(drill_sim.url + "/_sim/uploads/"), url
        return httpx.get(url, timeout=30).content

    assert body(sent(describe)["image_url"]) == robot
    assert describe.descriptions
    first, second, *rest = str(sent(blend)["prompt"]).split()
    assert body(first) == robot and body(second) == style and rest == ["--ar", "2:3"]
    clip = sent(video)
    assert body(clip["image_url"]) == robot and body(clip["end_image_url"]) == style
    assert "--motion high --bs 2" in str(clip["prompt"]) and len(video.videos) == 2
    edited = sent(edit)
    assert body(edited["image_url"]) == robot and edited.get("mask")
    assert edit.mask_path is not None and edit.mask_path.exists()
    assert counts(drill_sim, "acedata")["submits"] == 1 + 4


def test_an_unsent_task_whose_inputs_the_log_lacks_is_ended_never_sent(
    slow_sim: RunningSimulator,
) -> None:
    from mjnb.log import TaskLog

    log = TaskLog(Path(os.environ["MJNB_HOME"]) / "history.sqlite")
    for task_id, action in (("describe0001", "describe"), ("upscale00001", "U2")):
        log.add_task(
            task_id,
            provider="mjproxy",
            action=action,
            prompt="sha256:" + "0" * 64 if action == "describe" else "a fox",
            text="",
            params={},
            parent_id=None,
            sweep_id=None,
            submitted_at=datetime.now(timezone.utc),
            base_url=slow_sim.url,
        )  # as an older mjnb logged them: no inputs kept
    log.close()
    mj = mjnb.Client("mjproxy", base_url=slow_sim.url, poll_interval=0.05)
    for task_id in ("describe0001", "upscale00001"):
        task = mj.task(task_id)
        assert task.status == "failed"
        assert (task.error or "").startswith("interrupted before it was sent"), task.error
        assert "nothing was sent" in (task.error or "")
    assert mj.pending().empty and slow_sim.stats()["requests"] == 0
