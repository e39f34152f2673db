"""The simulator's fault knobs: dropped connections, stalls, slow answers and bad JSON.

Each fault is checked over a real port with plain httpx, in every protocol, and is
counted in ``/_sim/stats``; faults on a submit act after the job was created.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from mjnb.errors import ConfigError
from mjnb.simulator import RunningSimulator, SimConfig

pytestmark = pytest.mark.reliability

FAST = {"latency": 0.3, "long_side": 128, "progress_steps": 3}

#: (protocol, submit path, submit body, headers) for each protocol's imagine.
SUBMITS: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "acedata": ("/midjourney/imagine", {"prompt": "a fox", "async": True}, {}),
    "metachat": ("/open/v1/midjourney/imagine", {"prompt": "a fox"}, {"app-id": "a"}),
    "mjproxy": ("/mj/submit/imagine", {"prompt": "a fox"}, {}),
}


def submit(sim: RunningSimulator, protocol: str, timeout: float = 5.0) -> httpx.Response:
    path, body, headers = SUBMITS[protocol]
    with httpx.Client(timeout=timeout, trust_env=False) as http:
        return http.post(sim.url + path, json=body, headers=headers)


@pytest.mark.parametrize("protocol", sorted(SUBMITS))
def test_a_dropped_submit_closes_the_connection_after_creating_the_job(
    protocol: str, make_sim: Callable[..., RunningSimulator]
) -> None:
    sim = make_sim(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        submit(sim, protocol)
    stats = sim.stats()
    assert (stats["dropped"], stats["submits"], stats["jobs"]) == (1, 1, 1)
    assert stats["protocols"][protocol]["dropped"] == 1
    assert sim.running


@pytest.mark.parametrize("protocol", sorted(SUBMITS))
def test_a_slow_answer_passes_the_client_timeout_but_the_job_exists(
    protocol: str, make_sim: Callable[..., RunningSimulator]
) -> None:
    sim = make_sim(slow_rate=1.0, slow_seconds=1.0)
    with pytest.raises(httpx.ReadTimeout):
        submit(sim, protocol, timeout=0.2)
    stats = sim.stats()
    assert (stats["slowed"], stats["jobs"]) == (1, 1)


def test_a_slow_answer_arrives_whole_after_the_delay(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(slow_rate=1.0, slow_seconds=0.4)
    started = time.monotonic()
    response = submit(sim, "mjproxy")
    assert time.monotonic() - started >= 0.4
    assert response.json()["code"] == 1


@pytest.mark.parametrize("protocol", sorted(SUBMITS))
def test_bad_json_garbles_json_answers(
    protocol: str, make_sim: Callable[..., RunningSimulator]
) -> None:
    sim = make_sim(bad_json_rate=1.0, seed=3)
    bodies = [submit(sim, protocol).content for _ in range(8)]
    for body in bodies:
        try:
            parsed = json.loads(body)
        except ValueError:
            continue
        assert not isinstance(parsed, dict)
    stats = sim.stats()
    assert stats["bad_json"] == 8 and stats["jobs"] == 8


def test_bad_json_leaves_images_alone(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(bad_json_rate=1.0)
    submit(sim, "mjproxy")
    time.sleep(0.5)
    (job_id,) = sim.app.state.sim.table.jobs
    with httpx.Client(trust_env=False, timeout=5.0) as http:
        image = http.get(f"{sim.url}/_sim/images/{job_id}/image.png")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")


def test_a_dropped_stream_sends_its_first_line_then_stops(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(drop_rate=1.0, latency=0.6)
    lines: list[dict[str, Any]] = []
    with (
        httpx.Client(trust_env=False, timeout=5.0) as http,
        pytest.raises(httpx.RemoteProtocolError),
        http.stream(
            "POST",
            sim.url + "/midjourney/imagine",
            json={"prompt": "a fox"},
            headers={"accept": "application/x-ndjson"},
        ) as response,
    ):
        for line in response.iter_lines():
            if line.strip():
                lines.append(json.loads(line))
    assert len(lines) == 1 and lines[0]["task_id"]
    assert sim.stats()["dropped"] == 1


def test_bad_json_cuts_one_stream_line_short(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(bad_json_rate=1.0)
    with (
        httpx.Client(trust_env=False, timeout=5.0) as http,
        http.stream(
            "POST",
            sim.url + "/midjourney/imagine",
            json={"prompt": "a fox"},
            headers={"accept": "application/x-ndjson"},
        ) as response,
    ):
        lines = [line for line in response.iter_lines() if line.strip()]
    with pytest.raises(ValueError):
        json.loads(lines[0])
    assert json.loads(lines[-1])["success"] is True  # the rest of the stream is whole


@pytest.mark.parametrize("protocol", sorted(SUBMITS))
def test_a_stalled_job_never_finishes(
    protocol: str, make_sim: Callable[..., RunningSimulator]
) -> None:
    sim = make_sim(stall_rate=1.0, latency=0.2)
    assert submit(sim, protocol).status_code == 200
    time.sleep(0.6)
    stats = sim.stats()
    assert stats["stalled"] == 1
    assert (stats["running"], stats["succeeded"], stats["failed"]) == (1, 0, 0)


def test_stalled_jobs_free_their_slot(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(stall_rate=0.5, latency=0.2, concurrency=1, seed=1)
    for _ in range(6):
        assert submit(sim, "mjproxy").json()["code"] in (1, 22)
    time.sleep(6 * 0.2 + 0.4)
    stats = sim.stats()
    assert stats["queued"] == 0
    assert stats["succeeded"] + stats["stalled"] == 6
    assert 0 < stats["stalled"] < 6


def test_faults_repeat_for_a_seed(make_sim: Callable[..., RunningSimulator]) -> None:
    def pattern(seed: int) -> list[str]:
        sim = make_sim(drop_rate=0.3, bad_json_rate=0.3, seed=seed)
        seen = []
        with httpx.Client(trust_env=False, timeout=5.0) as http:
            for _ in range(20):
                try:
                    body = http.get(f"{sim.url}/mj/task/list").content
                    seen.append("ok" if body.startswith(b"[") and body.endswith(b"]") else "bad")
                except httpx.TransportError:
                    seen.append("drop")
        return seen

    first = pattern(5)
    assert first == pattern(5)
    assert {"ok", "bad", "drop"} == set(first)
    assert first != pattern(6)


def test_no_faults_by_default(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim()
    for _ in range(5):
        assert submit(sim, "mjproxy").json()["code"] in (1, 22)
    stats = sim.stats()
    assert stats["dropped"] == stats["slowed"] == stats["bad_json"] == stats["stalled"] == 0


@pytest.mark.parametrize(
    "knobs",
    [
        {"drop_rate": 1.5},
        {"stall_rate": -0.1},
        {"drop_rate": 0.6, "slow_rate": 0.6},
        {"slow_seconds": 0},
    ],
)
def test_bad_fault_settings_are_refused(knobs: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="Invalid simulator settings"):
        SimConfig(**knobs)  # type: ignore[arg-type]


def test_mjnb_serve_takes_the_fault_flags() -> None:
    command = [sys.executable, "-m", "mjnb.cli", "serve", "--port", "0", "--latency", "0.1"]
    command += ["--drop-rate", "1", "--stall-rate", "0.5", "--seed", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[3]
        with httpx.Client(trust_env=False, timeout=5.0) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                http.get(f"{url}/mj/task/list")
            assert http.get(f"{url}/_sim/stats").json()["dropped"] == 1
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
