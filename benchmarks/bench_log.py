"""Benchmark the task log: inserts, DataFrame reads and bytes per task.

Run ``python benchmarks/bench_log.py [--rows N]``. It writes N realistic tasks (default
100,000) through :class:`mjnb.log.TaskLog` exactly as the engine does (one add and two
status updates per task, each its own committed transaction), then times
``dataframe()`` (cold: first call, importing pandas; warm: best of 5), a filtered
``dataframe()``, ``dataframe(limit=50)``, and measures the database size. It prints a
table and writes ``benchmarks/results/log.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from mjnb.log import TaskLog

RESULTS = Path(__file__).parent / "results" / "log.json"
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
WORDS = [
    "red",
    "fox",
    "snow",
    "forest",
    "castle",
    "neon",
    "city",
    "portrait",
    "watercolor",
    "cat",
    "ship",
    "storm",
    "dawn",
]


def task_params(rng: random.Random, i: int) -> dict[str, Any]:
    """The parameters a typical prompt carries: a few of them, not all."""
    params: dict[str, Any] = {"seed": rng.randrange(2**32), "version": rng.choice([6.1, 7])}
    if rng.random() < 0.6:
        params["ar"] = rng.choice(["1:1", "3:2", "16:9", "2:3"])
    if rng.random() < 0.5:
        params["stylize"] = rng.choice([0, 100, 250, 750])
    if rng.random() < 0.3:
        params["chaos"] = rng.randrange(0, 101, 10)
    if rng.random() < 0.15:
        params["no"] = rng.sample(WORDS, 2)
    if rng.random() < 0.1:
        params["weird"] = rng.choice([0, 250, 1000])
    if rng.random() < 0.1:
        params["style"] = "raw"
    if rng.random() < 0.2:
        params[rng.choice(["fast", "relax", "turbo"])] = True
    return params


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def run(rows: int) -> dict[str, Any]:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.sqlite"
        log = TaskLog(path)
        start = time.perf_counter()
        for i in range(rows):
            task_id = f"task-{i:07d}"
            params = task_params(rng, i)
            text = " ".join(rng.sample(WORDS, 4))
            submitted = T0 + timedelta(seconds=i * 7)
            log.add_task(
                task_id,
                provider=rng.choice(["local", "acedata", "mjproxy"]),
                action="imagine",
                prompt=f"{text} --seed {params['seed']}",
                text=text,
                params=params,
                parent_id=None,
                sweep_id=f"sweep-{i // 12}" if i % 3 == 0 else None,
                submitted_at=submitted,
            )
            log.update_task(
                task_id,
                status="running",
                remote_id=f"{rng.randrange(10**12)}",
                at=submitted + timedelta(seconds=rng.uniform(0, 20)),
            )
            failed = rng.random() < 0.05
            log.update_task(
                task_id,
                status="failed" if failed else "succeeded",
                progress=100,
                error="Banned prompt detected." if failed else None,
                image_url=None if failed else f"https://cdn.example/{task_id}.png",
                image_path=None if failed else f"/home/u/.mjnb/images/ab/{task_id}.png",
                at=submitted + timedelta(seconds=rng.uniform(30, 90)),
            )
        insert_s = time.perf_counter() - start
        cold_s, df = timed(log.dataframe)
        warm_s, df = timed(log.dataframe, repeat=5)
        filtered_s, filtered = timed(
            lambda: log.dataframe(provider="acedata", status="succeeded"), repeat=5
        )
        limit_s, _ = timed(lambda: log.dataframe(limit=50), repeat=5)
        log.close()
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        size = path.stat().st_size
    return {
        "rows": rows,
        "insert_s": round(insert_s, 3),
        "insert_us_per_task": round(insert_s / rows * 1e6, 1),
        "writes_per_task": 3,
        "dataframe_cold_s": round(cold_s, 3),
        "dataframe_warm_s": round(warm_s, 3),
        "dataframe_filtered_s": round(filtered_s, 3),
        "dataframe_filtered_rows": len(filtered),
        "dataframe_limit50_s": round(limit_s, 4),
        "columns": len(df.columns),
        "db_bytes": size,
        "db_bytes_per_task": round(size / rows, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "machine": platform.machine(),
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    result = run(args.rows)
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
