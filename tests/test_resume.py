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
