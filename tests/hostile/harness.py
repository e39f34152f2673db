"""Serve a case, run the client against it in a capped subprocess, judge the outcome.

The client runs in a **subprocess** with an address-space limit (``RLIMIT_AS``), so a
client that reads a 400 MB answer whole fails fast instead of swapping the shared
machine; its peak RSS is what the memory promises are checked against.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .cases import SUBMIT_PATHS, Case, Outcome, echo_token, mj_task, mjproxy
from .server import CANARY, MIB, HostileServer, Reply, Request, leaks

ROOT = Path(__file__).resolve().parents[2]
CLIENT = [sys.executable, "-m", "tests.hostile.client"]


def run_case(case: Case, home: Path, *, extra_env: dict[str, str] | None = None) -> Outcome:
    """Serve ``case`` and run a client against it in a capped subprocess."""
    server = HostileServer(lambda request: Reply(404))
    try:
        server.handler = case.handler(server)
        spec = {
            "provider": case.provider,
            "url": server.url + case.client.get("base_path", ""),
            "home": str(home),
            "budget": case.budget,
            "client": case.client,
        }
        env = client_env(home, **(extra_env or {}))
        done = run_client(spec, env, as_limit_mb=case.as_limit_mb, timeout=case.budget + 60)
        done[0]["home"] = str(home)
        return Outcome(case, done[0], server, done[1], done[2], done[3])
    finally:
        server.close()


def run_client(
    spec: dict[str, Any], env: dict[str, str], *, as_limit_mb: int, timeout: float
) -> tuple[dict[str, Any], int, str, str]:
    """This file as a script in a subprocess whose address space is capped."""

    def cap() -> None:
        import resource

        limit = as_limit_mb * MIB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    started = time.monotonic()
    try:
        done = subprocess.run(
            [*CLIENT, json.dumps(spec)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            preexec_fn=cap,
        )
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
        crashed = {"status": "hung", "done": False, "error": "client process hung"}
        return crashed, -9, err, ""
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if lines:
        return json.loads(lines[-1]), done.returncode, done.stderr, done.stdout
    tail = done.stderr.strip().splitlines()[-3:]
    result = {
        "status": "crashed",
        "done": False,
        "error": f"client process exited {done.returncode}: {' | '.join(tail)}",
        "seconds": time.monotonic() - started,
    }
    return result, done.returncode, done.stderr, done.stdout


# ----------------------------------------------------------------------- the verdict

TERMINAL = ("succeeded", "failed", "cancelled")


def problems(outcome: Outcome) -> list[str]:
    """What the client did wrong on this case (empty: it kept every promise of issue 14)."""
    case, result, found = outcome.case, outcome.result, []
    status, error = result.get("status"), result.get("error") or ""
    if not result.get("done") or status not in TERMINAL:
        found.append(f"never reached a final state (status {status}, after {case.budget} s)")
    elif result.get("seconds", 0) > case.within:
        found.append(f"final only after {result['seconds']} s (promise: {case.within} s)")
    if status == "failed" and len(error) < 10:
        found.append("failed without a reason")
    text_only = case.client.get("describe")
    if status == "succeeded" and not result.get("image_exists") and not error and not text_only:
        found.append("succeeded without an image or a reason")
    if case.expect in TERMINAL and status != case.expect:
        found.append(f"expected {case.expect}, got {status}: {error}")
    if "internal error" in error:
        found.append(f"an internal error: {error}")
    if result.get("done") and (
        result.get("log_status") != status or not result.get("log_finished")
    ):
        found.append(f"log row not final: {result.get('log_status')} (task {status})")
    rss = result.get("peak_rss_mb")
    if rss is None or rss > case.max_rss_mb:
        found.append(f"peak RSS {rss} MB (limit {case.max_rss_mb} MB)")
    sent = outcome.server.count("POST", case.submit_path or SUBMIT_PATHS[case.provider])
    if sent != case.submits:
        found.append(f"the job was submitted {sent} times")
    texts = [str(result.get(k) or "") for k in ("error", "repr", "log_error", "card_text")]
    texts += [outcome.stdout, outcome.stderr]
    home = Path(result["home"])
    files = [p for p in home.rglob("*") if p.is_file()] if home.exists() else []
    for where, text in [
        *zip(("error", "repr", "log", "card", "stdout", "stderr"), texts, strict=True),
        *((str(p.name), p.read_bytes()) for p in files),
    ]:
        if leaks(text):
            found.append(f"the token leaked into {where}: {leaks(text)}")
    if case.check is not None:
        try:
            case.check(outcome)
        except AssertionError as exc:
            found.append(str(exc).split("\n")[0])
    return found


# ------------------------------------------------------------------ special flows


def client_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MJNB_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env["MALLOC_ARENA_MAX"] = "2"  # fewer reserved arenas: the cap measures real use
    return {**env, "MJNB_HOME": str(home), **extra}


def run_resume(home: Path) -> dict[str, Any]:
    """A kernel dies while a job runs; the job then answers a broken success (imageUrl an
    int); the next kernel resumes it and must end it; the one after finds nothing to do."""
    broken = {"now": False}

    def fetch(request: Request) -> Reply:
        if broken["now"]:
            return Reply.json(mj_task(imageUrl=5))
        return Reply.json(mj_task("IN_PROGRESS"))

    server = HostileServer(mjproxy(fetch=fetch))
    env = client_env(home)
    spec = {"provider": "mjproxy", "url": server.url, "home": str(home), "budget": 60}
    spec["client"] = {"stall_timeout": 30.0}
    try:
        first = subprocess.Popen(
            [*CLIENT, json.dumps(spec)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while server.count("GET", "/fetch") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.kill()
        first.wait(10)
        if first.stdout:
            first.stdout.close()
        broken["now"] = True
        spec["client"] = {"stall_timeout": 3.0, "resume": True}
        spec["budget"] = 20
        second = run_client(spec, env, as_limit_mb=1536, timeout=80)[0]
        third = run_client(spec, env, as_limit_mb=1536, timeout=80)[0]
    finally:
        server.close()
    return {**second, "home": str(home), "third_resumed": third.get("resumed")}


def run_cli_echo(home: Path, *, lower: bool) -> dict[str, Any]:
    """``mjnb imagine`` and ``mjnb log`` against a Zhishuyun that echoes the token."""
    server = HostileServer(echo_token(lower)(None))  # type: ignore[arg-type]
    env = client_env(home, MJNB_ZHISHUYUN_TOKEN=CANARY)
    cli = [sys.executable, "-m", "mjnb.cli"]
    try:
        started = time.monotonic()
        imagine = subprocess.run(
            [*cli, "imagine", "a fox", "--provider", "zhishuyun", "--base-url", server.url],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        seconds = time.monotonic() - started
        table = subprocess.run([*cli, "log"], capture_output=True, text=True, timeout=60, env=env)
    finally:
        server.close()
    files = [p for p in home.rglob("*") if p.is_file()]
    found = {
        "imagine stdout": leaks(imagine.stdout),
        "imagine stderr": leaks(imagine.stderr),
        "log output": leaks(table.stdout + table.stderr),
        **{p.name: leaks(p.read_bytes()) for p in files},
    }
    return {
        "returncode": imagine.returncode,
        "seconds": round(seconds, 2),
        "said": imagine.stderr.strip().splitlines()[-1:],
        "leaks": {where: forms for where, forms in found.items() if forms},
    }


def run_sim_reset() -> dict[str, Any]:
    """``mjnb serve --token``: ``POST /_sim/reset`` without the token must be refused."""
    import httpx

    token = "sim-" + CANARY.replace("/", "")
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mjnb.cli",
            "serve",
            "--port",
            "0",
            "--latency",
            "30",
            "--token",
            token,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=client_env(Path("/tmp")),
    ) as sim:
        try:
            assert sim.stdout is not None
            url = sim.stdout.readline().split(" on ", 1)[1].split()[0]
            headers = {"mj-api-secret": token}
            with httpx.Client(trust_env=False, timeout=10) as http:
                job = http.post(
                    f"{url}/mj/submit/imagine", json={"prompt": "a fox"}, headers=headers
                ).json()["result"]
                refused = http.post(f"{url}/_sim/reset")
                after = http.get(f"{url}/mj/task/{job}/fetch", headers=headers)
        finally:
            sim.terminate()
            sim.wait(15)
    kept = after.status_code == 200 and bool(after.content.strip()) and after.json() is not None
    return {"reset_status": refused.status_code, "job_kept": kept}
