"""Benchmark the task log: inserts, DataFrame reads and bytes per task.

Run ``python benchmarks/bench_log.py [--rows N]``. It writes N realistic tasks (default
100,000) through :class:`mjnb.log.TaskLog` exactly as the engine does (one add and two
status updates per task, each its own committed transaction), then times
``dataframe()`` (cold: first call, importing pandas; warm: best of 5), a filtered
``dataframe()``, ``dataframe(limit=50)``, and measures the database size. It prints a
table and writes ``benchmarks/results/log.json``.

``--url postgresql://...`` (an empty database) also measures PostgreSQL: the same rows
are bulk-copied there from the SQLite file (300k single transactions over the network
would take minutes), then the same reads are timed; ``--pg-writes N`` times the
engine's own write path (one add and two updates per task) for N tasks on PostgreSQL.
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
from functools import partial
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


def write_tasks(log: TaskLog, rng: random.Random, rows: int, prefix: str = "task") -> float:
    """Write ``rows`` tasks as the engine does; returns the seconds it took."""
    start = time.perf_counter()
    for i in range(rows):
        task_id = f"{prefix}-{i:07d}"
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
    return time.perf_counter() - start


def reads(log: TaskLog) -> dict[str, Any]:
    """The DataFrame timings: cold, warm (best of 5), filtered, newest 50."""
    cold_s, df = timed(log.dataframe)
    warm_s, df = timed(log.dataframe, repeat=5)
    filtered_s, filtered = timed(
        lambda: log.dataframe(provider="acedata", status="succeeded"), repeat=5
    )
    limit_s, _ = timed(lambda: log.dataframe(limit=50), repeat=5)
    return {
        "dataframe_cold_s": round(cold_s, 3),
        "dataframe_warm_s": round(warm_s, 3),
        "dataframe_filtered_s": round(filtered_s, 3),
        "dataframe_filtered_rows": len(filtered),
        "dataframe_limit50_s": round(limit_s, 4),
        "rows_read": len(df),
        "columns": len(df.columns),
    }


def _insert(tx: Any, *, sql: str, values: list[list[Any]]) -> None:
    tx.executemany(sql, values)


def copy_rows(source: Path, log: TaskLog, batch: int = 5000) -> float:
    """Copy every task and event row of an SQLite log into ``log``; returns seconds."""
    conn = sqlite3.connect(source)
    start = time.perf_counter()
    for table in ("tasks", "task_events"):
        cursor = conn.execute(f"SELECT * FROM {table}")
        names = [d[0] for d in cursor.description if d[0] != "event_id"]
        skip = [d[0] for d in cursor.description].index("event_id") if table != "tasks" else -1
        sql = (
            f"INSERT INTO {table} ({', '.join(f'{chr(34)}{n}{chr(34)}' for n in names)})"
            f" VALUES ({', '.join('?' * len(names))})"
        )
        while chunk := cursor.fetchmany(batch):
            values = [[v for i, v in enumerate(row) if i != skip] for row in chunk]
            log.write("copying rows", partial(_insert, sql=sql, values=values))
    conn.close()
    return time.perf_counter() - start


def run_postgres(url: str, source: Path, pg_writes: int) -> dict[str, Any]:
    with TaskLog(url) as log:
        copy_s = copy_rows(source, log)
        result: dict[str, Any] = {"bulk_copy_s": round(copy_s, 3), **reads(log)}
        if pg_writes:
            insert_s = write_tasks(log, random.Random(8), pg_writes, prefix="pgw")
            result["insert_tasks"] = pg_writes
            result["insert_us_per_task"] = round(insert_s / pg_writes * 1e6, 1)
        version = log.read("SHOW server_version")[0][0]
        result["server"] = f"PostgreSQL {version}"
    return result


def run(rows: int, url: str | None = None, pg_writes: int = 0) -> dict[str, Any]:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.sqlite"
        log = TaskLog(path)
        insert_s = write_tasks(log, rng, rows)
        timings = reads(log)
        df_columns = timings.pop("columns")
        timings.pop("rows_read")
        log.close()
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        size = path.stat().st_size
        postgres = run_postgres(url, path, pg_writes) if url else None
    result = {
        "rows": rows,
        "insert_s": round(insert_s, 3),
        "insert_us_per_task": round(insert_s / rows * 1e6, 1),
        "writes_per_task": 3,
        **timings,
        "columns": df_columns,
        "db_bytes": size,
        "db_bytes_per_task": round(size / rows, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "machine": platform.machine(),
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if postgres is not None:
        result["postgresql"] = postgres
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--url", help="also measure this (empty) PostgreSQL database")
    parser.add_argument("--pg-writes", type=int, default=2000, help="engine writes on PG")
    args = parser.parse_args(argv)
    result = run(args.rows, args.url, args.pg_writes if args.url else 0)
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
