"""Spend only what the user asked for: cancel, Client() that never sends, explicit
resume, and the engine over the simulator's ASGI app in process."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import mjnb
from mjnb.log import TaskLog
from mjnb.providers.mjproxy import MJProxyAdapter
from mjnb.runtime import Engine, RunSettings, Session
from mjnb.simulator import RunningSimulator

ROOT = Path(__file__).parents[1]
WAIT = 60


@pytest.fixture
def engine(sim_app: Any) -> Iterator[Engine]:
    """A private engine whose pool talks to the simulator's ASGI app, in process."""
    transport = httpx.ASGITransport(app=sim_app)  # type: ignore[arg-type]
    engine = Engine(transport=transport)
    yield engine
    engine.close()


def stats(engine: Engine) -> dict[str, Any]:
    response = engine.call(engine.http.get("http://sim.test/_sim/stats"))
    data: dict[str, Any] = response.json()
    return data


# ------------------------------------------------------------- Engine(transport=...)


def test_a_client_runs_over_the_simulator_app_in_process(engine: Engine) -> None:
    mj = mjnb.Client("mjproxy", base_url="http://sim.test", engine=engine, poll_interval=0.05)
    task = mj.imagine("a red fox in snow --seed 3").wait(WAIT)
    assert task.status == "succeeded", task.error
    assert task.image_path is not None and task.image_path.exists()
    assert len(task.tiles) == 4 and task.tiles[0].size == (128, 128)
    assert stats(engine)["submits"] == 1


# ------------------------------------------------------------------------ cancel


def test_cancel_before_send_drops_the_task_and_nothing_ever_sends_it(engine: Engine) -> None:
    mj = mjnb.Client(
        "mjproxy", base_url="http://sim.test", engine=engine, poll_interval=0.05, max_concurrency=1
    )
    first = mj.imagine("a red fox --seed 1")
    queued = mj.imagine("a blue fox --seed 2")  # waits for the one slot
    message = queued.cancel()
    assert "before it was sent" in message
    assert queued.done and queued.status == "cancelled"
    assert "never sent" in (queued.error or "")
    assert first.wait(WAIT).status == "succeeded"
    with pytest.raises(mjnb.NotReady, match="already cancelled; nothing to cancel"):
        queued.cancel()
    with pytest.raises(mjnb.NotReady, match="already succeeded"):
        first.cancel()
    row = mj.log().set_index("task_id").loc[queued.id]
    assert row.status == "cancelled"
    again = mjnb.Client("mjproxy", base_url="http://sim.test", engine=engine)
    assert again.pending().empty
    with pytest.raises(mjnb.NotFound, match="Nothing to resume"):
        again.resume()
    assert stats(engine)["submits"] == 1  # the cancelled task never reached the provider


def test_cancel_where_the_protocol_cannot_keeps_polling(engine: Engine) -> None:
    # polled, not streamed: through ASGITransport a stream arrives whole when the job
    # is done, and the cancel could come after the end
    mj = mjnb.Client("acedata", base_url="http://sim.test", token="t", engine=engine, stream=False)
    task = mj.imagine("a red fox --seed 4")
    deadline = time.monotonic() + WAIT
    while not task.snapshot.remote_id and time.monotonic() < deadline:
        time.sleep(0.01)
    message = task.cancel()
    assert "cannot cancel" in message and "paid result" in message
    assert task.wait(WAIT).status == "succeeded"  # the paid result is kept


@pytest.fixture
def sim_config() -> object:
    from mjnb.simulator import SimConfig

    return SimConfig(latency=3.0, long_side=256, progress_steps=6)  # long enough to cancel


def test_cancel_after_send_asks_midjourney_proxy(engine: Engine, isolated_env: Path) -> None:
    """trueai's ``POST /mj/task/{id}/cancel``: the simulator fails the job as trueai does
    (``取消任务``), and the batch lookup the runner polls with reads it as cancelled."""
    run = RunSettings(max_concurrency=2, poll_interval=0.05, stall_timeout=30)
    session = Session(
        MJProxyAdapter(base_url="http://sim.test"), home=isolated_env, run=run, engine=engine
    )
    task = session.imagine("a red fox --seed 5")
    deadline = time.monotonic() + WAIT
    while not task.snapshot.remote_id and time.monotonic() < deadline:
        time.sleep(0.01)
    message = task.cancel()
    assert "Asked mjproxy to cancel" in message
    assert task.wait(WAIT).status == "cancelled"
    assert "取消任务" in (task.error or "")
    assert session.log.get(task.id)["status"] == "cancelled"  # type: ignore[index]
    assert stats(engine)["submits"] == 1


# ------------------------------------------------------------ listeners that break


def test_a_listener_that_raises_is_logged_and_removed(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    mj = mjnb.Client("mjproxy", base_url="http://sim.test", engine=engine, poll_interval=0.05)
    calls: list[str] = []

    def broken(task: mjnb.Task) -> None:
        calls.append(task.status)
        raise RuntimeError("a view broke")

    task = mj.imagine("a red fox --seed 6")
    task.add_listener(broken)
    with caplog.at_level(logging.ERROR, logger="mjnb"):
        task.wait(WAIT)
    assert len(calls) == 1 and broken not in task.listeners
    assert any("listener of task" in r.message and r.exc_info for r in caplog.records)


# --------------------------------------------------- kill -9 mid-sweep, then resume

SWEEPING_CHILD = """
import sys, time, mjnb
mj = mjnb.Client("mjproxy", base_url=sys.argv[1], max_concurrency=2, poll_interval=0.05)
sweep = mj.sweep("a red fox in snow", seed=list(range(1, 25)))
print(sweep.id, flush=True)
time.sleep(600)
"""


def test_a_killed_sweep_waits_for_resume_which_sends_exactly_the_unsent_cells(
    make_sim: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = make_sim(latency=0.6, long_side=128, progress_steps=2, concurrency=8)
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(SWEEPING_CHILD))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, str(script), sim.url], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    sweep_id = child.stdout.readline().strip()
    deadline = time.monotonic() + WAIT
    while sim.stats()["succeeded"] < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    child.stdout.close()
    time.sleep(0.3)  # let a request the child had in flight land
    before = sim.stats()["submits"]
    assert 0 < before < 24, before

    mj = mjnb.Client("mjproxy", base_url=sim.url, poll_interval=0.05)
    time.sleep(0.5)
    assert sim.stats()["submits"] == before  # a new Client sends nothing
    pending = mj.pending()
    to_send = pending[pending.action == "send"]
    assert set(to_send.sweep_id) == {sweep_id}
    assert to_send.cell.notna().all() and to_send.cell.is_unique
    sent_before = 24 - len(to_send)
    assert sent_before >= before  # every cell sent (or half-sent) is not in the list

    started = mj.resume()
    assert len(started) == len(to_send)
    for task in started:
        task.wait(WAIT)
    assert sim.stats()["submits"] == before + len(to_send)  # exactly those
    sweep = mj.get_sweep(sweep_id)
    assert len(sweep.tasks) == 24
    prompts = Counter(str(t.job.prompt) for t in sweep.tasks)
    assert max(prompts.values()) == 1
    assert mj.pending().query("action == 'send'").empty
    with pytest.raises(mjnb.NotFound):
        mj.resume()


# ------------------------------------- kill -9 between the first stream line and the id

STREAMING_CHILD = """
import sys, time, mjnb
mj = mjnb.Client("acedata", base_url=sys.argv[1], token="t", poll_interval=0.05)
task = mj.imagine("a lighthouse at dusk --seed 11")
print(task.id, flush=True)
time.sleep(600)
"""


class PausingStream:
    """An Ace-like server whose stream sends one line without the id, then waits."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.submits = 0
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                server.submits += 1
                self.send_response(200)
                self.send_header("content-type", "application/x-ndjson")
                self.end_headers()
                line = {
                    "progress": 10
                }  # no id yet (and no "success", which Ace sends on every line)
                self.wfile.write(json.dumps(line).encode() + b"\n")
                self.wfile.flush()
                server.release.wait(30)  # the id would come now

            def do_GET(self) -> None:
                self.send_response(404)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.http.shutdown()
        self.http.server_close()


def test_kill_9_after_a_stream_line_without_id_never_sends_the_job_again(
    tmp_path: Path, isolated_env: Path
) -> None:
    server = PausingStream()
    try:
        script = tmp_path / "child.py"
        script.write_text(textwrap.dedent(STREAMING_CHILD))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        child = subprocess.Popen(
            [sys.executable, str(script), server.url], stdout=subprocess.PIPE, text=True, env=env
        )
        assert child.stdout is not None
        task_id = child.stdout.readline().strip()
        log = TaskLog(isolated_env / "history.sqlite")
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            row = log.get(task_id)
            if row is not None and (row.get("progress") or 0) >= 10:
                break  # the line without an id is in the log
            time.sleep(0.02)
        else:
            pytest.fail("the child never logged the first stream line")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
        assert (log.get(task_id) or {})["remote_state"].get("sending") is True
        log.close()

        mj = mjnb.Client("acedata", base_url=server.url, token="t", poll_interval=0.05)
        task = mj.task(task_id)
        assert task.status == "failed" and "did not submit it again" in (task.error or "")
        assert mj.pending().empty
        with pytest.raises(mjnb.NotFound):
            mj.resume()
        assert server.submits == 1
    finally:
        server.close()
