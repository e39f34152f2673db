"""Resume of local inputs under attack: a kernel killed (-9) between logging tasks and
sending them, then the user's files deleted or changed, the cache tampered with, the
next kernel started in another folder, or two kernels resuming at once.

A resumed task sends exactly the inputs it was given (the bytes read when it was
asked, kept in the cache), or ends with the reason and sends nothing; no task is sent
twice.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import httpx
import pytest
from PIL import Image

import mjnb
from mjnb.simulator import RunningSimulator
from tests.test_resume import MJPROXY_QUEUED, counts, kill_after_logging

WAIT = 60


def killed(drill_sim: RunningSimulator, tmp_path: Path) -> tuple[str, str, bytes, bytes]:
    """The drill: an imagine (image prompt ./robot.jpg, --sref ./style.png) and a
    retexture of ./robot.jpg logged, never sent. Returns their ids and the files' bytes."""
    _, imagine_id, retexture_id = kill_after_logging(
        drill_sim, tmp_path, "mjproxy", {}, MJPROXY_QUEUED
    )
    assert counts(drill_sim, "mjproxy") == {"uploads": 0, "submits": 1}
    robot, style = (tmp_path / "robot.jpg").read_bytes(), (tmp_path / "style.png").read_bytes()
    return imagine_id, retexture_id, robot, style


def kept_file(mj: mjnb.Client, task_id: str, data: bytes) -> Path:
    """The cache file the log names for ``data`` among the task's kept inputs."""
    import hashlib

    row = mj.session.log.get(task_id)
    assert row is not None
    return Path(row["inputs"]["files"][hashlib.sha256(data).hexdigest()])


def test_files_changed_or_gone_and_another_folder_still_send_what_was_given(
    drill_sim: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    imagine_id, retexture_id, robot, style = killed(drill_sim, tmp_path)
    (tmp_path / "robot.jpg").unlink()  # gone
    Image.new("RGB", (64, 64), (255, 255, 255)).save(tmp_path / "style.png")  # changed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    Image.new("RGB", (64, 64), (0, 0, 0)).save(elsewhere / "style.png")  # a decoy
    monkeypatch.chdir(elsewhere)  # the new kernel runs in another folder
    mj = mjnb.Client("mjproxy", base_url=drill_sim.url, poll_interval=0.05)
    started = {task.id: task for task in mj.resume()}
    assert set(started) == {imagine_id, retexture_id}
    for task in started.values():
        assert task.wait(WAIT).status == "succeeded", task.error
    imagine = started[imagine_id]
    sref = imagine.job.parsed.params["sref"][0]
    assert httpx.get(sref, timeout=30).content == style  # the bytes given, not the decoy
    image_prompt = imagine.snapshot.extra["prompt"].split()[0]
    assert httpx.get(image_prompt, timeout=30).content == robot
    assert counts(drill_sim, "mjproxy")["submits"] == 3


@pytest.mark.parametrize("damage", ["deleted", "replaced"])
def test_one_lost_input_ends_only_its_task_and_nothing_of_it_is_sent(
    drill_sim: RunningSimulator, tmp_path: Path, damage: str
) -> None:
    """The sref's cache file alone is lost (or replaced by another valid picture): the
    imagine ends naming it, uploads and submits nothing; the retexture, whose input is
    intact, is sent."""
    imagine_id, retexture_id, _, style = killed(drill_sim, tmp_path)
    mj = mjnb.Client("mjproxy", base_url=drill_sim.url, poll_interval=0.05)
    cached = kept_file(mj, imagine_id, style)
    if damage == "deleted":
        cached.unlink()
    else:
        Image.new("RGB", (64, 64), (1, 2, 3)).save(cached, "PNG")
    started = {task.id: task.wait(WAIT) for task in mj.resume()}
    imagine, retexture = started[imagine_id], started[retexture_id]
    assert retexture.status == "succeeded", retexture.error
    assert imagine.status == "failed"
    said = imagine.error or ""
    assert "reference ./style.png" in said and "nothing was sent" in said, said
    assert ("no longer in the cache" if damage == "deleted" else "has changed") in said
    assert "\n" not in said
    # the slow one and the retexture; the retexture's image its one upload
    assert counts(drill_sim, "mjproxy")["submits"] == 2
    assert imagine.snapshot.remote_id is None
    with pytest.raises(mjnb.NotFound, match="Nothing to resume"):
        mj.resume()


def test_two_kernels_resuming_at_once_send_each_task_once(
    drill_sim: RunningSimulator, tmp_path: Path
) -> None:
    imagine_id, retexture_id, _, _ = killed(drill_sim, tmp_path)
    first = mjnb.Client("mjproxy", base_url=drill_sim.url, poll_interval=0.05)
    second = mjnb.Client("mjproxy", base_url=drill_sim.url, poll_interval=0.05)
    resumed: list[mjnb.Task] = []
    ready = threading.Barrier(2)

    def resume(mj: mjnb.Client) -> None:
        ready.wait()
        with contextlib.suppress(mjnb.NotFound):  # the other took every task
            resumed.extend(mj.resume())

    threads = [threading.Thread(target=resume, args=(mj,)) for mj in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    for task in resumed:
        task.wait(WAIT)
    assert {t.id for t in resumed} >= {imagine_id, retexture_id}
    assert counts(drill_sim, "mjproxy")["submits"] == 3, [(t.id, t.status) for t in resumed]
    statuses = first.log().set_index("task_id").status
    assert statuses[imagine_id] == statuses[retexture_id] == "succeeded"


def test_waiting_on_a_task_another_session_resumed_sees_it_end(
    drill_sim: RunningSimulator, tmp_path: Path
) -> None:
    imagine_id, retexture_id, _, _ = killed(drill_sim, tmp_path)
    first = mjnb.Client("mjproxy", base_url=drill_sim.url, poll_interval=0.05)
    second = mjnb.Client("mjproxy", base_url=drill_sim.url, poll_interval=0.05)
    resumed = first.resume()
    assert {t.id for t in resumed} == {imagine_id, retexture_id}
    view = second.task(imagine_id)  # taken while first runs it (its jobs take 4 s)
    assert not view.done
    for task in resumed:
        assert task.wait(WAIT).status == "succeeded", task.error
    assert view.wait(10).status == "succeeded"  # its log row, followed (runtime/mirror.py)
