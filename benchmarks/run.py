"""Every mjnb benchmark in one run: ``python benchmarks/run.py``.

Starts ``mjnb serve`` in subprocesses (so the simulator's CPU is not the client's),
measures each figure side by side, prints one table and writes
``benchmarks/results/benchmarks.json``. The figures and their targets:

- sweep efficiency: a 16-cell sweep at latency 1 s, concurrency 4: wall / ideal
  (target at most 1.15), next to a naive loop (one job at a time, poll until done);
- completion detection: seconds from the simulator finishing a job to
  ``task.status == "succeeded"`` (image downloaded), polling at 0.5 s and at the
  provider default (3 s) vs NDJSON streaming;
- client CPU per task (submit, polls, download, tiles, thumbnail, log writes),
  target at most 10 ms, with 1024-px grids (``mjnb serve``'s default) and 512-px;
- ``import mjnb`` above bare Python (target at most 150 ms; pandas, ipywidgets and
  PIL stay unimported) and ``%load_ext mjnb``;
- ``log()`` over 100,000 rows (target under 1 s; see ``bench_log.py``) and saved
  notebook bytes per finished task;
- simulator capacity: polls/s on one core.

``--quick`` shrinks the slow parts (for a smoke test); the JSON says which ran.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

RESULTS = HERE / "results" / "benchmarks.json"
TARGETS = {
    "sweep_wall_over_ideal": ("<=", 1.15),
    "cpu_ms_per_task": ("<=", 10.0),
    "import_ms_above_python": ("<=", 150.0),
    "log_dataframe_100k_s": ("<", 1.0),
}


# ------------------------------------------------------------------------- helpers


@contextmanager
def mjnb_serve(*flags: str) -> Iterator[str]:
    """``mjnb serve --port 0 ...`` in a subprocess; yields its URL."""
    command = [sys.executable, "-m", "mjnb.cli", "serve", "--port", "0", *flags]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("mjnb simulator on "):
            raise RuntimeError(f"mjnb serve did not start: {line!r}")
        yield line.split()[3]
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def run_python(code: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(HERE.parent), **(env or {})},
    )
    return result.stdout.strip()


def wall(code: str, repeat: int) -> float:
    """Median wall seconds of ``python -c code`` in fresh processes."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run_python(code)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ------------------------------------------------------------------------- benchmarks


def bench_sweep(naive_cells: int) -> dict[str, Any]:
    """16 cells at latency 1 s on 4 slots: mjnb's sweep vs one-at-a-time polling."""
    import mjnb

    flags = ["--latency", "1", "--concurrency", "4", "--queue-size", "64", "--long-side", "256"]
    with mjnb_serve(*flags) as url:
        mj = mjnb.Client("acedata", base_url=url, token="t", max_concurrency=4)
        start = time.perf_counter()
        sweep = mj.sweep("a red fox in snow", seed=list(range(1, 17)))
        sweep.wait(120)
        sweep_s = time.perf_counter() - start
        assert all(t.status == "succeeded" for t in sweep.tasks), sweep.summary
        ideal = 16 / 4 * 1.0

        start = time.perf_counter()
        with httpx.Client(trust_env=False, timeout=30) as http:
            for seed in range(100, 100 + naive_cells):
                body = {"prompt": f"a red fox in snow --seed {seed}", "async": True}
                task_id = http.post(f"{url}/midjourney/imagine", json=body).json()["task_id"]
                while True:
                    time.sleep(0.5)
                    poll = {"action": "retrieve", "id": task_id}
                    record = http.post(f"{url}/midjourney/tasks", json=poll).json()
                    if record["state"] in ("finished", "failed"):
                        break
                http.get(record["response"]["image_url"]).raise_for_status()
        naive_s = (time.perf_counter() - start) * 16 / naive_cells
    return {
        "sweep_cells": 16,
        "sweep_wall_s": round(sweep_s, 2),
        "sweep_ideal_s": ideal,
        "sweep_wall_over_ideal": round(sweep_s / ideal, 3),
        "naive_loop_wall_s": round(naive_s, 2),
        "naive_loop_cells_measured": naive_cells,
        "naive_over_sweep": round(naive_s / sweep_s, 2),
    }


def bench_completion(jobs: int) -> dict[str, Any]:
    """Seconds from the simulator finishing a job to task.status == 'succeeded'."""
    import mjnb

    flags = ["--latency", "1", "--concurrency", "64", "--queue-size", "64", "--long-side", "256"]
    results: dict[str, Any] = {}
    with mjnb_serve(*flags) as url:
        modes = {
            "stream": ("acedata", {"stream": True}),
            "poll_0.5s": ("mjproxy", {"poll_interval": 0.5}),
            "poll_3s_default": ("mjproxy", {}),
        }
        runs = []
        for name, (provider, options) in modes.items():
            mj = mjnb.Client(provider, base_url=url, token="t", max_concurrency=64, **options)
            for n in range(jobs):
                seen: dict[str, float] = {}

                def listen(task: mjnb.Task, seen: dict[str, float] = seen) -> None:
                    if task.status == "succeeded" and "at" not in seen:
                        seen["at"] = time.time()

                task = mj.imagine(f"a {name} fox --seed {n}")
                task.add_listener(listen)
                runs.append((name, provider, task, seen))
        with httpx.Client(trust_env=False, timeout=30) as http:
            delays: dict[str, list[float]] = {name: [] for name in modes}
            for name, provider, task, seen in runs:
                task.wait(60)
                remote = task.snapshot.remote_id
                if provider == "mjproxy":
                    finished = http.get(f"{url}/mj/task/{remote}/fetch").json()["finishTime"] / 1e3
                else:
                    record = http.post(
                        f"{url}/midjourney/tasks", json={"action": "retrieve", "id": remote}
                    ).json()
                    finished = record["finished_at"]
                delays[name].append(seen.get("at", time.time()) - finished)
    for name, values in delays.items():
        results[f"completion_{name}_median_s"] = round(statistics.median(values), 3)
        results[f"completion_{name}_max_s"] = round(max(values), 3)
    results["completion_jobs_per_mode"] = jobs
    return results


def bench_cpu(tasks: int, long_side: int = 1024) -> dict[str, Any]:
    """Client CPU per task: submit, polls, download, thumbnail, log, then tiles."""
    import mjnb

    flags = ["--latency", "1", "--concurrency", "64", "--queue-size", "64"]
    flags += ["--long-side", str(long_side)]
    with mjnb_serve(*flags) as url:
        mj = mjnb.Client("mjproxy", base_url=url, token="t", max_concurrency=64, poll_interval=0.25)
        mj.imagine("a warm-up fox --seed 1").wait(60)  # imports and connections
        stats0 = httpx.get(f"{url}/_sim/stats", trust_env=False).json()
        cpu = time.process_time()
        start = time.perf_counter()
        batch = [mj.imagine(f"a red fox in snow --seed {n}") for n in range(tasks)]
        for task in batch:
            task.wait(60)
            assert task.status == "succeeded", task
            assert len(task.tiles) == 4
        cpu = time.process_time() - cpu
        elapsed = time.perf_counter() - start
        stats = httpx.get(f"{url}/_sim/stats", trust_env=False).json()
    suffix = "" if long_side == 1024 else f"_{long_side}px"
    return {
        f"cpu_tasks{suffix}": tasks,
        f"cpu_ms_per_task{suffix}": round(cpu / tasks * 1000, 2),
        f"cpu_polls_per_task{suffix}": round((stats["polls"] - stats0["polls"]) / tasks, 1),
        f"cpu_batch_wall_s{suffix}": round(elapsed, 2),
    }


def bench_import(repeat: int) -> dict[str, Any]:
    bare = wall("pass", repeat)
    imported = wall("import mjnb", repeat)
    heavy = run_python(
        "import sys, mjnb; print(','.join(m for m in ('pandas', 'ipywidgets', 'PIL') "
        "if m in sys.modules))"
    )
    load_ext = run_python(
        "import time\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "start = time.perf_counter()\n"
        "shell.run_line_magic('load_ext', 'mjnb')\n"
        "print(time.perf_counter() - start)",
        env={"IPYTHONDIR": tempfile.mkdtemp()},
    )
    return {
        "python_startup_ms": round(bare * 1000, 1),
        "import_ms_above_python": round((imported - bare) * 1000, 1),
        "import_pulls_in": heavy or "nothing heavy",
        "load_ext_ms": round(float(load_ext.splitlines()[-1]) * 1000, 1),
    }


def bench_log(rows: int) -> dict[str, Any]:
    import bench_log

    result = bench_log.run(rows)
    return {
        "log_rows": rows,
        "log_dataframe_100k_s": result["dataframe_warm_s"],
        "log_dataframe_cold_s": result["dataframe_cold_s"],
        "log_insert_us_per_task": result["insert_us_per_task"],
        "log_db_bytes_per_task": result["db_bytes_per_task"],
    }


def bench_notebook(tasks: int) -> dict[str, Any]:
    """Saved .ipynb bytes per finished %mj task: (bytes with N - bytes with 0) / N."""
    import nbformat
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory() as tmp:
        env = {"MJNB_HOME": f"{tmp}/home", "MJNB_SIM_LATENCY": "0.3", "IPYTHONDIR": f"{tmp}/ipy"}
        old = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            sizes = []
            for n in (0, tasks):
                lines = "\n".join(f"a red fox, study {i} --seed {i}" for i in range(n))
                cells = ["%load_ext mjnb", f"%%mj\n{lines}" if n else "", "%mj wait"]
                nb = nbformat.v4.new_notebook()
                nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
                NotebookClient(nb, timeout=120, kernel_name="python3").execute()
                path = Path(tmp) / f"n{n}.ipynb"
                nbformat.write(nb, path)
                sizes.append(path.stat().st_size)
        finally:
            for key, value in old.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return {
        "notebook_tasks": tasks,
        "notebook_bytes_per_task": round((sizes[1] - sizes[0]) / tasks),
        "notebook_bytes_total": sizes[1],
    }


async def _hammer(host: str, port: int, path: str, seconds: float, connections: int) -> int:
    request = f"GET {path} HTTP/1.1\r\nhost: {host}\r\n\r\n".encode()
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, port)
        while time.perf_counter() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            done += 1
        writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return done


def bench_capacity(seconds: float) -> dict[str, Any]:
    """Polls per second one simulator process (one core) answers over keep-alive."""
    with mjnb_serve("--latency", "1000", "--long-side", "256") as url:
        with httpx.Client(trust_env=False) as http:
            task_id = http.post(f"{url}/mj/submit/imagine", json={"prompt": "a fox"}).json()[
                "result"
            ]
        host, port = url.removeprefix("http://").split(":")
        path = f"/mj/task/{task_id}/fetch"
        asyncio.run(_hammer(host, int(port), path, 0.5, 8))  # warm up
        done = asyncio.run(_hammer(host, int(port), path, seconds, 16))
    return {"sim_polls_per_s": round(done / seconds), "sim_capacity_path": "/mj/task/{id}/fetch"}


# ------------------------------------------------------------------------- the table


def verdict(key: str, value: Any) -> str:
    if key not in TARGETS:
        return ""
    op, limit = TARGETS[key]
    ok = value <= limit if op == "<=" else value < limit
    return f"{'met' if ok else 'MISSED'} (target {op} {limit:g})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    args = parser.parse_args(argv)
    quick = args.quick
    home = tempfile.mkdtemp(prefix="mjnb-bench-")
    os.environ["MJNB_HOME"] = home  # never the user's own log
    started = time.perf_counter()
    results: dict[str, Any] = {}
    steps = [
        ("sweep", lambda: bench_sweep(naive_cells=4 if quick else 8)),
        ("completion", lambda: bench_completion(jobs=2 if quick else 6)),
        ("cpu", lambda: bench_cpu(tasks=8 if quick else 32)),  # 1024 px grids
        ("cpu_512", lambda: bench_cpu(tasks=8 if quick else 32, long_side=512)),
        ("import", lambda: bench_import(repeat=3 if quick else 7)),
        ("log", lambda: bench_log(rows=10_000 if quick else 100_000)),
        ("notebook", lambda: bench_notebook(tasks=4 if quick else 10)),
        ("capacity", lambda: bench_capacity(seconds=1.0 if quick else 3.0)),
    ]
    for name, step in steps:
        t0 = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.update(step())
        results[f"{name}_bench_s"] = round(time.perf_counter() - t0, 1)
    results.update(
        quick=quick,
        total_s=round(time.perf_counter() - started, 1),
        python=platform.python_version(),
        machine=platform.machine(),
        cpus=os.cpu_count(),
        measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    width = max(len(key) for key in results)
    print(f"{'figure':<{width}}  {'value':>14}  verdict")
    for key, value in results.items():
        if key.endswith("_bench_s"):
            continue
        print(f"{key:<{width}}  {value!s:>14}  {verdict(key, value)}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
