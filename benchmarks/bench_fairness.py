"""The fairness drill: many kernels, one account, one simulator that allows N jobs.

Run ``python benchmarks/bench_fairness.py [--processes 30] [--cells 4]
[--concurrency 6] [--latency 1.0]``. It starts ``mjnb serve --concurrency N`` and that
many client processes, each with its own ``MJNB_USER`` and all with one ``MJNB_HOME``
(so one log, hence one set of shared slots), each running an N-cell sweep at once. It
then checks what issue 19 asks:

- the simulator never saw more than N jobs at once (``peak_running``), its own queue
  stayed empty (``peak_queued == 0``) and it sent no 429 (``rejected_429 == 0``);
- every task succeeded;
- every process's first job started within one round: no process got its second slot
  while another process's first ticket, asked for earlier, still waited;

and reports the wait for a slot per process (p50/p95, from the log's ``account_slots``
rows: granted minus requested). It prints a table and writes
``benchmarks/results/fairness.json``. ``tests/test_slots.py`` runs a smaller drill
through :func:`run_drill`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

RESULTS = Path(__file__).parent / "results" / "fairness.json"

WORKER = """
import json, sys
import mjnb
url, cells = sys.argv[1], int(sys.argv[2])
mj = mjnb.Client("local", base_url=url, max_concurrency=int(sys.argv[3]))
sweep = mj.sweep("a lighthouse at dusk", seed=list(range(1, cells + 1)))
tasks = [t.wait(600) for t in sweep.tasks]
print(json.dumps([t.status for t in tasks]))
"""


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def start_simulator(concurrency: int, latency: float) -> tuple[subprocess.Popen[str], str]:
    """``mjnb serve`` in its own process on a free port; returns it and its URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from mjnb.cli import main; sys.exit(main())",
            "serve",
            "--port",
            "0",
            "--concurrency",
            str(concurrency),
            "--latency",
            str(latency),
            "--long-side",
            "128",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if " on " not in line:
        process.kill()
        raise RuntimeError(f"mjnb serve did not start: {line!r}")
    return process, line.split(" on ")[1].split()[0]


def first_round_violations(rows: list[tuple[str, int, int]]) -> list[str]:
    """Processes that got a second slot while another's earlier first ticket waited.

    ``rows`` are ``(user, requested_at, granted_at)`` of every ticket."""
    by_user: dict[str, list[tuple[int, int]]] = {}
    for user, requested, granted in rows:
        by_user.setdefault(user, []).append((requested, granted))
    firsts = {u: min(t, key=lambda x: x[1]) for u, t in by_user.items()}
    problems = []
    for user, tickets in by_user.items():
        grants = sorted(g for _, g in tickets)
        if len(grants) < 2:
            continue
        second = grants[1]
        for other, (req, granted) in firsts.items():
            if other != user and req < second < granted:
                problems.append(f"{user} got its 2nd slot while {other}'s 1st waited")
    return problems


def run_drill(
    processes: int = 30, cells: int = 4, concurrency: int = 6, latency: float = 1.0
) -> dict[str, Any]:
    """Run the drill once; returns the figures (see the module docstring)."""
    import sqlite3

    sim, url = start_simulator(concurrency, latency)
    home = tempfile.mkdtemp(prefix="mjnb-fair-")
    started = time.monotonic()
    try:
        workers = []
        for i in range(processes):
            env = dict(os.environ, MJNB_HOME=home, MJNB_USER=f"student{i:02d}")
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-c", WORKER, url, str(cells), str(concurrency)],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        statuses: list[str] = []
        errors: list[str] = []
        for worker in workers:
            out, err = worker.communicate(timeout=900)
            if worker.returncode != 0:
                errors.append(err.strip().splitlines()[-1] if err.strip() else "no output")
                continue
            statuses += json.loads(out.strip().splitlines()[-1])
        elapsed = time.monotonic() - started
        stats = httpx.get(f"{url}/_sim/stats", timeout=10).json()
    finally:
        sim.kill()
        sim.wait()
        if sim.stdout is not None:
            sim.stdout.close()
    conn = sqlite3.connect(Path(home) / "history.sqlite")
    rows = conn.execute(
        "SELECT user_name, requested_at, granted_at FROM account_slots WHERE granted_at IS NOT NULL"
    ).fetchall()
    holds = [
        (released - granted) / 1e6
        for granted, released in conn.execute(
            "SELECT granted_at, released_at FROM account_slots WHERE released_at IS NOT NULL"
            " AND granted_at IS NOT NULL"
        )
    ]
    conn.close()
    waits: dict[str, list[float]] = {}
    for user, requested, granted in rows:
        waits.setdefault(user, []).append((granted - requested) / 1e6)
    per_process = {
        user: {
            "jobs": len(w),
            "p50_wait_s": round(_quantile(w, 0.5), 3),
            "p95_wait_s": round(_quantile(w, 0.95), 3),
            "max_wait_s": round(max(w), 3),
        }
        for user, w in sorted(waits.items())
    }
    every = [x for w in waits.values() for x in w]
    return {
        "processes": processes,
        "cells": cells,
        "concurrency": concurrency,
        "latency_s": latency,
        "elapsed_s": round(elapsed, 2),
        "tasks": len(statuses),
        "succeeded": statuses.count("succeeded"),
        "worker_errors": errors,
        "peak_running": stats.get("peak_running"),
        "peak_queued": stats.get("peak_queued"),
        "rejected_429": stats.get("rejected_429"),
        "first_round_violations": first_round_violations(rows),
        "wait_p50_s": round(_quantile(every, 0.5), 3),
        "wait_p95_s": round(_quantile(every, 0.95), 3),
        "first_job_wait_max_s": round(max((min(w) for w in waits.values()), default=0.0), 3),
        "hold_p50_s": round(_quantile(holds, 0.5), 3),
        "per_process": per_process,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=30)
    parser.add_argument("--cells", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--latency", type=float, default=1.0)
    args = parser.parse_args()
    result = run_drill(args.processes, args.cells, args.concurrency, args.latency)
    print(f"{'process':<12}{'jobs':>6}{'p50 wait s':>12}{'p95 wait s':>12}{'max s':>8}")
    for user, row in result["per_process"].items():
        print(
            f"{user:<12}{row['jobs']:>6}{row['p50_wait_s']:>12.2f}"
            f"{row['p95_wait_s']:>12.2f}{row['max_wait_s']:>8.2f}"
        )
    summary = {k: v for k, v in result.items() if k != "per_process"}
    print(json.dumps(summary, indent=1))
    RESULTS.parent.mkdir(exist_ok=True)
    result["machine"] = {"python": sys.version.split()[0], "platform": platform.platform()}
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    ok = (
        result["succeeded"] == result["tasks"] == args.processes * args.cells
        and (result["peak_running"] or 0) <= args.concurrency
        and result["peak_queued"] == 0
        and result["rejected_429"] == 0
        and not result["first_round_violations"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
