"""The reliability suite: the client and the simulator under every fault at once.

Run it alone with ``pytest -m reliability``; it also runs in the default test run.

How a fault on a submit is judged. The simulator's faults act *after* the endpoint
ran (:mod:`mjnb.simulator.faults`): a submit whose connection drops, whose answer comes
past the client's timeout or arrives as malformed JSON has created its job, as when a
real server processes a request and the connection dies on the way back. The client
cannot tell, and SPEC section 4 forbids sending it again: such a task must end
``failed`` with a reason that says the job may exist. An NDJSON stream that is cut
after its first line has named the job, so the client follows it by polling. Hence
the invariant checked here: the server holds exactly one job per cell (24 for 24
cells), every task ends succeeded (with its image on disk) or failed with a reason,
and the log has a row for each. 429 and "queue full" answers create nothing and are
retried; the sweep test gives the queue room for every cell so that none is answered
"queue full": a fault on such an answer would fail a task whose job was never made,
which the client cannot tell from one that was (and rightly fails too).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

import mjnb
from mjnb.providers import PROVIDERS as ADAPTERS
from mjnb.simulator import RunningSimulator
from tests.conftest import CANARY

pytestmark = pytest.mark.reliability

FAST = {"latency": 0.3, "long_side": 128, "progress_steps": 3, "concurrency": 8}
#: every fault at once; slow answers come after 1.5 s, the clients below give up at 0.5 s
FAULTS = {
    "drop_rate": 0.1,
    "slow_rate": 0.05,
    "bad_json_rate": 0.1,
    "stall_rate": 0.2,
    "fail_rate": 0.1,
    "slow_seconds": 1.5,
}
PROTOCOLS = [p for p in ("acedata", "metachat", "mjproxy", "youchuan") if p in ADAPTERS]
CORPUS = Path(__file__).with_name("bad_prompts.txt")


def client_for(provider: str, sim: RunningSimulator, **options: Any) -> mjnb.Client:
    credentials: dict[str, Any] = {"token": CANARY}
    if provider in ("metachat", "youchuan"):
        credentials["app_id"] = "app-1"
    options = {"poll_interval": 0.1, "stall_timeout": 1.5, "timeout": 0.5, **options}
    return mjnb.Client(provider, base_url=sim.url, **credentials, **options)


def check_ended_well(tasks: list[mjnb.Task]) -> None:
    for task in tasks:
        assert task.status in ("succeeded", "failed"), task
        if task.status == "failed":
            assert task.error and len(task.error) > 20, task
        else:
            paths = [task.image_path] if task.image_path else list(task.image_paths)
            assert paths and all(path.exists() for path in paths), task


# -------------------------------------------------------------------- sweeps under faults


@pytest.mark.parametrize("provider", PROTOCOLS)
def test_a_sweep_under_every_fault_ends_cleanly_with_one_job_per_cell(
    provider: str, make_sim: Callable[..., RunningSimulator]
) -> None:
    sim = make_sim(token=CANARY, seed=10, concurrency=24, queue_size=64, **FAULTS)
    mj = client_for(provider, sim, max_concurrency=8)
    sweep = mj.sweep("a red fox in snow", seed=list(range(1, 25)))
    sweep.wait(timeout=60)
    tasks = sweep.tasks
    assert len(tasks) == 24
    check_ended_well(tasks)
    stats = sim.stats()
    assert stats["jobs"] == stats["submits"] == 24, stats
    assert stats["dropped"] + stats["slowed"] + stats["bad_json"] > 0 and stats["stalled"] > 0
    ambiguous = [t for t in tasks if t.snapshot.remote_id is None]
    assert all("may have been created" in (t.error or "") for t in ambiguous), ambiguous
    frame = mj.log(sweep=sweep.id)
    assert sorted(frame["task_id"]) == sorted(t.id for t in tasks)
    logged = dict(zip(frame["task_id"], frame["status"], strict=True))
    assert all(logged[t.id] == t.status for t in tasks)
    assert frame["error"].notna().sum() >= sum(t.status == "failed" for t in tasks)


def test_a_stalled_job_is_reported_as_stalled_even_when_polls_fail_too(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(stall_rate=1.0, bad_json_rate=0.4, seed=4, token=CANARY)
    mj = client_for("mjproxy", sim, stall_timeout=1.0, poll_interval=0.05)
    tasks = [mj.imagine(f"a stuck fox --seed {n}") for n in range(8)]
    followed = [t.wait(15) for t in tasks if t.wait(15).snapshot.remote_id]
    assert followed
    for task in followed:
        assert task.status == "failed" and "showed no progress" in (task.error or ""), task


def test_a_stalled_stream_fails_after_stall_timeout_not_two_minutes(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(stall_rate=1.0, token=CANARY)
    mj = client_for("acedata", sim, stall_timeout=1.0)
    started = time.monotonic()
    task = mj.imagine("a stuck fox").wait(20)
    assert time.monotonic() - started < 8
    assert task.status == "failed" and "no progress" in (task.error or "")


def test_polls_that_keep_failing_end_the_task_naming_the_error(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(latency=5.0, token=CANARY)
    mj = client_for("mjproxy", sim, stall_timeout=1.0)
    task = mj.imagine("a fox far away")
    deadline = time.monotonic() + 5
    while task.snapshot.remote_id is None and time.monotonic() < deadline:
        time.sleep(0.02)
    sim.stop()
    task.wait(20)
    assert task.status == "failed"
    assert "every poll of mjproxy failed" in (task.error or "")
    # the server is gone: refused connections, or a kept-alive one it never answers
    assert re.search(r"last error: (ConnectError|ReadTimeout|ReadError)", task.error or "")


# -------------------------------------------------------------------- kill -9 and resume

KILLED_CLIENT = """
import sys, time
import mjnb
mj = mjnb.Client("mjproxy", base_url=sys.argv[1], token="secret", max_concurrency=3,
                 poll_interval=0.05)
sweep = mj.sweep("a red fox in snow", seed=list(range(1, 13)))
print(sweep.id, flush=True)
time.sleep(600)
"""


def test_kill_9_mid_sweep_then_a_new_client_finishes_it_without_duplicates(
    make_sim: Callable[..., RunningSimulator], isolated_env: Path, tmp_path: Path
) -> None:
    sim = make_sim(latency=0.8, concurrency=3, token="secret")
    script = tmp_path / "client.py"
    script.write_text(textwrap.dedent(KILLED_CLIENT))
    # the default 30 s shared-slot lease: the killed kernel's slots free at once anyway,
    # since its process no longer exists on this machine
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    process = subprocess.Popen(
        [sys.executable, str(script), sim.url], stdout=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    sweep_id = process.stdout.readline().strip()
    deadline = time.monotonic() + 20
    while sim.stats()["succeeded"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    process.stdout.close()
    before = sim.stats()
    assert 0 < before["jobs"] < 12, before  # killed mid-sweep: some sent, some not

    mj = mjnb.Client("mjproxy", base_url=sim.url, token="secret", poll_interval=0.05)
    assert mj.resumed
    assert sim.stats()["submits"] == before["submits"]  # Client() sends nothing
    waiting = mj.pending()
    assert set(waiting.action) <= {"poll", "send"}
    sent_now = mj.resume(confirm=True)  # the cells that never left the dead kernel
    assert len(sent_now) == (waiting.action == "send").sum()
    sweep = mj.get_sweep(sweep_id)
    assert len(sweep.tasks) == 12
    for task in sweep.tasks:
        task.wait(30)
    check_ended_well(sweep.tasks)
    with httpx.Client(trust_env=False, headers={"mj-api-secret": "secret"}) as http:
        listed = http.get(f"{sim.url}/mj/task/list").json()
    prompts = Counter(job["prompt"] for job in listed)
    assert max(prompts.values()) == 1, prompts  # no cell was created twice
    assert len(listed) == sim.stats()["jobs"] <= 12
    interrupted = [t for t in sweep.tasks if t.status == "failed"]
    assert len(listed) + len(interrupted) >= 12  # every cell was sent or told why not
    for task in interrupted:
        assert "did not submit it again" in (task.error or ""), task


# -------------------------------------------------------------------- bad prompts


def bad_prompts() -> list[str]:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_the_bad_prompt_corpus_is_large() -> None:
    assert len(bad_prompts()) >= 50


def test_every_bad_prompt_is_a_prompt_error_and_sends_nothing(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(token=CANARY)
    mj = client_for("mjproxy", sim)
    accepted = []
    for prompt in bad_prompts():
        try:
            mj.imagine(prompt.replace("\\n", "\n"))
        except mjnb.PromptError as exc:
            assert str(exc).strip(), prompt
        else:
            accepted.append(prompt)
    assert accepted == []
    assert sim.stats()["requests"] == 0
    assert mj.log().empty


# -------------------------------------------------------------------- the canary token


def test_the_canary_token_never_leaks(
    make_sim: Callable[..., RunningSimulator],
    isolated_env: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    sim = make_sim(token=CANARY, **FAULTS)
    seen: list[str] = []
    for provider in ("zhishuyun", "mjproxy", "metachat"):
        mj = client_for(provider, sim, max_concurrency=6)
        sweep = mj.sweep(f"a {provider} fox", seed=[1, 2, 3, 4, 5, 6])
        sweep.wait(60)
        seen += [repr(mj), repr(sweep), sweep.summary, sweep.df.to_csv(), mj.log().to_csv()]
        for task in sweep.tasks:
            seen += [repr(task), str(task.error), str(task.snapshot)]
        wrong = mjnb.Client(provider, base_url=sim.url, token="wrong", app_id="x", timeout=2)
        refused = wrong.imagine("a fox").wait(20)
        assert refused.status == "failed"
        seen.append(str(refused.error))
    for path in isolated_env.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    out, err = capfd.readouterr()
    seen += [out, err, caplog.text]
    for text in seen:
        assert CANARY not in text


# -------------------------------------------------------------------- downloads


class EvilImages:
    """A loopback server that answers image downloads with things that are not images."""

    def __init__(self) -> None:
        import io

        from PIL import Image

        bomb = io.BytesIO()
        Image.new("1", (10_000, 10_000)).save(bomb, "PNG")
        self.bodies: dict[str, tuple[str, bytes | None]] = {
            "/page.png": ("text/html", b"<html><body>Please log in</body></html>"),
            "/json.png": ("application/json", b'{"error": "expired"}'),
            "/bomb.png": ("image/png", bomb.getvalue()),
            "/huge.png": ("image/png", None),  # endless bytes
            "/cut.png": ("image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"),
        }
        self.sent: Counter[str] = Counter()
        evil = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                kind, body = evil.bodies[self.path]
                self.send_response(200)
                self.send_header("content-type", kind)
                if body is not None:
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.end_headers()
                chunk = b"\x89PNG" + bytes(1 << 20)
                try:
                    while evil.sent[self.path] < 200 * len(chunk):
                        self.wfile.write(chunk)
                        evil.sent[self.path] += len(chunk)
                except OSError:
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("name", ["page", "json", "bomb", "huge", "cut"])
def test_downloads_refuse_what_is_not_a_reasonable_image(
    name: str, make_sim: Callable[..., RunningSimulator], isolated_env: Path
) -> None:
    evil = EvilImages()
    try:
        mj = client_for("mjproxy", make_sim(token=CANARY))
        with pytest.raises(mjnb.MJError) as caught:
            session = mj.session
            session.engine.call(session.runner.download(f"{evil.url}/{name}.png"), timeout=60)
        assert any(word in str(caught.value) for word in ("not saved", "refused", "not a PNG"))
        assert evil.sent["/huge.png"] < 60 * 2**20  # stopped reading, not 200 MB later
        images = isolated_env / "images"
        assert not images.exists() or not [p for p in images.rglob("*") if p.is_file()]
    finally:
        evil.close()


# -------------------------------------------------------------------- malformed input


class WrongTypes(BaseHTTPRequestHandler):
    """An Ace-like server whose stream and polls send valid JSON of the wrong shape."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path.startswith("/midjourney/imagine"):
            lines = [
                {"task_id": "t1", "success": True, "image_url": "x", "sub_image_urls": 5},
                {"task_id": "t1", "progress": 50, "image_url": "", "actions": []},
            ]
            body = b"".join(json.dumps(line).encode() + b"\r\n" for line in lines)
            kind = "application/x-ndjson"
        else:
            answer = {"task_id": "t1", "success": True, "image_url": "x", "sub_image_urls": 5}
            body = json.dumps({"id": "t1", "state": "finished", "response": answer}).encode()
            kind = "application/json"
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_answers_of_the_wrong_shape_are_retried_not_a_crash() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), WrongTypes)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        mj = mjnb.Client(
            "acedata", base_url=url, token=CANARY, poll_interval=0.05, stall_timeout=0.5
        )
        task = mj.imagine("a fox").wait(20)
    finally:
        server.shutdown()
        server.server_close()
    assert task.status == "failed"
    assert task.snapshot.remote_id == "t1"  # the garbled first line was skipped
    assert "internal error" not in (task.error or "")
    assert "every poll of acedata failed" in (task.error or "")
    assert "sent sub_image_urls as int, not a list of URLs" in (task.error or "")


MALFORMED = [b"{", b"null", b"[]", b'{"prompt": 5}', b"\xff\xfe", b'"text"', b"{" * 5000]
PATHS = [
    "/midjourney/imagine",
    "/midjourney/tasks",
    "/open/v1/midjourney/imagine",
    "/mj/submit/imagine",
    "/mj/submit/action",
    "/mj/task/list-by-condition",
]


def test_the_simulator_survives_malformed_and_truncated_requests(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim()
    with httpx.Client(trust_env=False, timeout=5.0, headers={"app-id": "a"}) as http:
        for path in PATHS:
            for body in MALFORMED:
                response = http.post(
                    sim.url + path, content=body, headers={"content-type": "application/json"}
                )
                assert response.status_code < 500 or response.status_code == 503, (path, body)
    jobs = sim.stats()["jobs"]
    host, port = sim.url.removeprefix("http://").split(":")
    for path in PATHS[:3]:
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            raw.sendall(
                f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                f'content-length: 500\r\n\r\n{{"prompt": "a f'.encode()
            )  # then hang up, mid-body
    with httpx.Client(trust_env=False, timeout=5.0) as http:
        assert http.post(sim.url + "/mj/submit/imagine", json={"prompt": "a fox"}).json()["code"]
    assert sim.running and sim.stats()["jobs"] == jobs + 1
