"""The task log: schema, round trips, DataFrame, concurrency, crashes, bad files, secrets."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import CANARY

from mjnb.errors import LogError, MJError
from mjnb.images import ImageStore, encode
from mjnb.log import MIGRATIONS, PARAM_COLUMNS, SCHEMA_VERSION, TaskLog, migrate

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)

FRAME_HEAD = ["task_id", "provider", "action", "parent_id", "sweep_id", "prompt", "text"]
FRAME_TAIL = [
    "status",
    "progress",
    "error",
    "submitted_at",
    "started_at",
    "finished_at",
    "queue_s",
    "run_s",
    "image_url",
    "image_path",
    "remote_id",
]


@pytest.fixture
def log(target: str) -> Any:
    with TaskLog(target) as task_log:
        yield task_log


def add(log: TaskLog, task_id: str, seconds: float = 0, **overrides: Any) -> None:
    """Add a typical imagine task submitted ``seconds`` after T0."""
    fields: dict[str, Any] = {
        "provider": "local",
        "action": "imagine",
        "prompt": "a red fox in snow --ar 3:2 --seed 7 --s 250",
        "text": "a red fox in snow",
        "params": {"ar": "3:2", "seed": 7, "stylize": 250},
        "parent_id": None,
        "sweep_id": None,
        "submitted_at": T0 + timedelta(seconds=seconds),
    }
    fields.update(overrides)
    log.add_task(task_id, **fields)


def run_python(code: str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **kwargs,
    )


# ------------------------------------------------------------------- opening


def test_new_log_has_schema_wal_and_application_id(isolated_env: Path) -> None:
    path = isolated_env / "sub" / "history.sqlite"
    TaskLog(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x6D6A6E62
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"tasks", "task_events", "sweeps"} <= tables
    conn.close()


def test_reopening_keeps_rows(isolated_env: Path) -> None:
    path = isolated_env / "history.sqlite"
    with TaskLog(path) as first:
        add(first, "a")
    with TaskLog(path) as second:
        row = second.get("a")
    assert row is not None and row["text"] == "a red fox in snow"


def test_closed_log_refuses_work(isolated_env: Path) -> None:
    task_log = TaskLog(isolated_env / "history.sqlite")
    task_log.close()
    with pytest.raises(LogError, match="closed"):
        task_log.get("a")


# ------------------------------------------------------------------- round trips


def test_add_and_get_round_trip_every_parameter(log: TaskLog) -> None:
    params = {
        "ar": "16:9",
        "stylize": 250,
        "chaos": 20,
        "weird": 1000,
        "seed": 4294967295,
        "quality": 0.5,
        "version": 6.1,
        "niji": 6,
        "style": "raw",
        "no": ["red", "blue"],
        "tile": True,
        "stop": 80,
        "iw": 1.5,
        "sref": ["https://x/a.png", "12345"],
        "sw": 300,
        "sv": 4,
        "cref": "https://x/c.png",
        "cw": 50,
        "oref": "https://x/o.png",
        "ow": 200,
        "exp": 25,
        "p": True,
        "draft": False,
        "repeat": 3,
        "relax": True,
        "public": True,
    }
    add(log, "t1", params=params, parent_id="p0", sweep_id="s1", axes={"seed": 4294967295})
    row = log.get("t1")
    assert row is not None
    assert row["params"] == params  # everything, including keys without a column
    assert row["axes"] == {"seed": 4294967295}
    assert (row["parent_id"], row["sweep_id"], row["status"], row["progress"]) == (
        "p0",
        "s1",
        "queued",
        0,
    )
    assert row["seed"] == 4294967295 and row["quality"] == 0.5 and row["iw"] == 1.5
    assert (row["version"], row["niji"], row["mode"]) == ("6.1", "6", "relax")
    assert row["no"] == ["red", "blue"] and row["cref"] == ["https://x/c.png"]
    assert row["p"] == [] and row["tile"] is True and row["draft"] is False
    assert row["submitted_at"] == T0 and row["submitted_at"].tzinfo is not None
    assert log.get("missing") is None


def test_bad_parameter_values_go_to_params_json_only(log: TaskLog) -> None:
    add(log, "t1", params={"stylize": "lots", "seed": 1.5, "quality": "x", "chaos": "30"})
    row = log.get("t1")
    assert row is not None
    assert (row["stylize"], row["seed"], row["quality"], row["chaos"]) == (None, None, None, 30)
    assert row["params"]["stylize"] == "lots"


def test_adding_the_same_task_twice_is_refused(log: TaskLog) -> None:
    add(log, "t1")
    with pytest.raises(ValueError, match="t1"):
        add(log, "t1")


def test_status_changes_record_events_and_timestamps(log: TaskLog) -> None:
    add(log, "t1")
    log.update_task("t1", status="running", remote_id="r-1", at=T0 + timedelta(seconds=5))
    log.update_task("t1", progress="45")  # a tick: no event
    log.update_task("t1", progress=0.9 * 100, preview_url="http://127.0.0.1/p.webp")
    log.update_task(
        "t1",
        status="succeeded",
        progress=100,
        image_url="http://127.0.0.1/i.png",
        image_path=Path("/tmp/i.png"),
        at=T0 + timedelta(seconds=65),
    )
    row = log.get("t1")
    assert row is not None
    assert row["started_at"] == T0 + timedelta(seconds=5)
    assert row["finished_at"] == T0 + timedelta(seconds=65)
    assert (row["queue_s"], row["run_s"]) == (5.0, 60.0)
    assert row["remote_id"] == "r-1" and row["image_path"] == "/tmp/i.png"
    assert row["preview_url"] == "http://127.0.0.1/p.webp"
    assert log.events("t1") == [
        (T0, "queued", 0),
        (T0 + timedelta(seconds=5), "running", 0),
        (T0 + timedelta(seconds=65), "succeeded", 100),
    ]


def test_explicit_timestamps_win_and_progress_is_clamped(log: TaskLog) -> None:
    add(log, "t1")
    log.update_task("t1", status="failed", error="boom", started_at=T0, progress=140)
    row = log.get("t1")
    assert row is not None
    assert row["started_at"] == T0 and row["finished_at"] is not None
    assert row["progress"] == 100 and row["error"] == "boom"


def test_update_refuses_unknown_fields_credentials_and_bad_values(log: TaskLog) -> None:
    add(log, "t1")
    with pytest.raises(TypeError, match="colour"):
        log.update_task("t1", colour="red")
    with pytest.raises(ValueError, match="never stores credentials"):
        log.update_task("t1", api_key="x")
    with pytest.raises(MJError, match="status must be one of"):
        log.update_task("t1", status="done")
    with pytest.raises(ValueError, match="progress"):
        log.update_task("t1", progress="lots")
    with pytest.raises(ValueError, match="no task 'nope'"):
        log.update_task("nope", status="running")
    assert log.events("t1") == [(T0, "queued", 0)]


def test_remote_state_round_trips_for_resume(log: TaskLog) -> None:
    add(log, "old", 0)
    add(log, "new", 10)
    add(log, "done", 5)
    log.update_task("done", status="succeeded")
    log.update_task("old", status="running", remote_state={"job_id": "j1", "poll_after": 3})
    pending = log.pending()
    assert [t["task_id"] for t in pending] == ["old", "new"]
    assert pending[0]["remote_state"] == {"job_id": "j1", "poll_after": 3}
    assert pending[1]["remote_state"] is None
    assert all(t["owner_alive"] for t in pending)  # this log is open: its engine owns them


def test_claim_takes_orphans_once(target: str) -> None:
    path = target
    first = TaskLog(path)
    add(first, "t1")
    second = TaskLog(path)
    assert first.claim("t1") is True  # already its own
    assert second.claim("t1") is False  # the first log is still open
    first.close()
    assert second.pending()[0]["owner_alive"] is False
    assert second.claim("t1") is True
    third = TaskLog(path)
    assert third.claim("t1") is False
    assert third.pending()[0]["owner"] == second.owner
    second.close()
    third.close()


def test_owners_on_other_machines_are_alive_while_their_heartbeat_is(log: TaskLog) -> None:
    add(log, "t-live")
    add(log, "t-dead", seconds=1)
    now_us = int(datetime.now(timezone.utc).timestamp() * 1e6)
    owners = {"t-live": ("far-away:11:aa", now_us), "t-dead": ("far-away:12:bb", now_us - 6e8)}

    def work(tx: Any) -> None:
        for task_id, (owner, seen) in owners.items():
            tx.execute(
                'INSERT INTO owners ("owner", "user", "host", "pid", "kernel", "started_at",'
                ' "seen_at") VALUES (?, ?, ?, ?, ?, ?, ?)',
                (owner, "ann", "far-away", 1, "k", int(seen), int(seen)),
            )
            tx.execute("UPDATE tasks SET owner = ? WHERE task_id = ?", (owner, task_id))

    log.write("pretending two kernels on another machine", work)
    alive = {row["task_id"]: row["owner_alive"] for row in log.pending()}
    assert alive == {"t-live": True, "t-dead": False}
    assert log.claim("t-live") is False and log.claim("t-dead") is True
    me = log.read('SELECT "user", host, kernel FROM owners WHERE owner = ?', (log.owner,))
    assert me == [(log.user, socket.gethostname(), f"python:{os.getpid()}")]
    row = log.get("t-live")
    assert row is not None and row["kernel"] == f"python:{os.getpid()}"


# ------------------------------------------------------------------- DataFrame


def test_dataframe_columns_dtypes_and_order(log: TaskLog) -> None:
    add(log, "late", 20, params={"seed": 3, "no": ["red"], "quality": 2, "tile": True})
    add(log, "early", 0, params={"ar": "3:2"})
    log.update_task("late", status="running", at=T0 + timedelta(seconds=21))
    log.update_task("late", status="succeeded", at=T0 + timedelta(seconds=51))
    df = log.dataframe()
    assert list(df.columns[: len(FRAME_HEAD)]) == FRAME_HEAD
    params_end = len(FRAME_HEAD) + len(PARAM_COLUMNS)
    assert list(df.columns[len(FRAME_HEAD) : params_end]) == list(PARAM_COLUMNS)
    assert list(df.columns[params_end : params_end + len(FRAME_TAIL)]) == FRAME_TAIL
    assert list(df.task_id) == ["early", "late"]
    assert str(df.submitted_at.dtype) == "datetime64[ns, UTC]"
    assert str(df.finished_at.dtype) == "datetime64[ns, UTC]"
    for name in ("seed", "stylize", "chaos", "weird", "stop", "progress", "repeat"):
        assert str(df[name].dtype) == "Int64", name
    assert str(df.quality.dtype) == "Float64" and str(df.iw.dtype) == "Float64"
    assert str(df.tile.dtype) == "boolean" and str(df.draft.dtype) == "boolean"
    assert str(df.queue_s.dtype) == "Float64" and str(df.run_s.dtype) == "Float64"
    for name in ("task_id", "prompt", "ar", "status", "image_url"):
        assert str(df[name].dtype) == "string", name
    assert df.no.dtype == object and df.no.iloc[1] == ["red"] and df.no.iloc[0] is None
    late = df.set_index("task_id").loc["late"]
    assert late.seed == 3 and late.quality == 2.0 and bool(late.tile) is True
    assert (late.queue_s, late.run_s) == (1.0, 30.0)
    assert late.finished_at == pd.Timestamp(T0 + timedelta(seconds=51))
    early = df.set_index("task_id").loc["early"]
    assert early.seed is pd.NA and early.started_at is pd.NaT and early.queue_s is pd.NA
    assert early.ar == "3:2"


def test_dataframe_lists_are_separate_objects(log: TaskLog) -> None:
    add(log, "a", 0, params={"no": ["red"]})
    add(log, "b", 1, params={"no": ["red"]})
    df = log.dataframe()
    df.no.iloc[0].append("blue")
    assert df.no.iloc[1] == ["red"]


def test_empty_dataframe_has_every_column(log: TaskLog) -> None:
    df = log.dataframe()
    assert len(df) == 0 and list(df.columns[:7]) == FRAME_HEAD
    assert str(df.submitted_at.dtype) == "datetime64[ns, UTC]"
    assert str(df.seed.dtype) == "Int64"


def test_dataframe_filters(log: TaskLog) -> None:
    add(log, "a", 0, provider="local", sweep_id="s1")
    add(log, "b", 3600, provider="acedata", sweep_id="s1")
    add(log, "c", 7200, provider="acedata")
    log.update_task("b", status="failed", error="no")
    assert list(log.dataframe(provider="acedata").task_id) == ["b", "c"]
    assert list(log.dataframe(sweep="s1").task_id) == ["a", "b"]
    assert list(log.dataframe(status="failed").task_id) == ["b"]
    assert list(log.dataframe(status=["queued", "failed"]).task_id) == ["a", "b", "c"]
    assert list(log.dataframe(since=T0 + timedelta(seconds=1)).task_id) == ["b", "c"]
    assert list(log.dataframe(since="2025-03-01T13:00:00Z").task_id) == ["b", "c"]
    assert list(log.dataframe(limit=2).task_id) == ["b", "c"]
    assert list(log.dataframe(provider="acedata", status="queued").task_id) == ["c"]
    assert list(log.dataframe(since=timedelta(days=1)).task_id) == []
    with pytest.raises(MJError, match="status must be one of"):
        log.dataframe(status="done")


def test_sweeps_table(log: TaskLog) -> None:
    log.add_sweep(
        "s1",
        prompt="a red fox",
        axes={"seed": [1, 2], "stylize": [0, 250]},
        created_at=T0,
        provider="local",
    )
    log.add_sweep("s0", prompt="a cat", axes={"chaos": [0]}, created_at=T0, provider="acedata")
    for i, status in enumerate(["succeeded", "failed", "running"]):
        add(log, f"t{i}", i, sweep_id="s1", axes={"seed": i})
        log.update_task(f"t{i}", status=status)
    sweeps = log.sweeps()
    assert list(sweeps.sweep_id) == ["s1", "s0"]
    first = sweeps.iloc[0]
    assert (
        first.axis_values == {"seed": [1, 2], "stylize": [0, 250]} and first.prompt == "a red fox"
    )
    assert (first.tasks, first.succeeded, first.failed, first.pending) == (3, 1, 1, 1)
    assert sweeps.iloc[1].tasks == 0
    assert str(sweeps.created_at.dtype) == "datetime64[ns, UTC]"
    assert list(log.dataframe(sweep="s1").sweep_axes) == [{"seed": 0}, {"seed": 1}, {"seed": 2}]


# ------------------------------------------------------------------- concurrency


def test_readers_in_other_threads_while_the_engine_writes(log: TaskLog) -> None:
    errors: list[BaseException] = []

    def engine() -> None:
        try:
            for i in range(200):
                add(log, f"t{i}", i)
                log.update_task(f"t{i}", status="succeeded")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=engine)
    thread.start()
    seen = 0
    while thread.is_alive():
        df = log.dataframe()
        assert len(df) >= seen
        seen = len(df)
    thread.join()
    assert not errors
    assert len(log.dataframe(status="succeeded")) == 200


WRITER = """
import os, sys, time
from datetime import datetime, timezone
from mjnb.log import TaskLog
path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
log = TaskLog(path)
go = sys.argv[4] if len(sys.argv) > 4 else None
while go and not os.path.exists(go):  # start together, to collide as much as possible
    time.sleep(0.001)
for i in range(count):
    log.add_task(f"{name}-{i}", provider="local", action="imagine", prompt="p", text="p",
                 params={"seed": i}, parent_id=None, sweep_id=None,
                 submitted_at=datetime.now(timezone.utc))
    log.update_task(f"{name}-{i}", status="running", progress=10)
    log.update_task(f"{name}-{i}", status="succeeded", progress=100)
    print(f"{name}-{i}", flush=True)
log.close()
"""


def test_two_processes_share_one_log(isolated_env: Path, target: str) -> None:
    path = target
    go = isolated_env / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), name, "500", str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    time.sleep(0.5)  # both open the new file at once, then wait for the go
    go.parent.mkdir(parents=True, exist_ok=True)  # a loaded machine may not have started them
    go.touch()
    for proc in procs:
        _out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
    with TaskLog(path) as task_log:
        df = task_log.dataframe()
        assert len(df) == 1000 and df.task_id.is_unique
        assert set(df.status) == {"succeeded"}
        assert len(task_log.events("a-499")) == 3
        assert task_log.read("SELECT count(*) FROM task_events")[0][0] == 3000
    if not target.endswith(".sqlite"):
        return
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM task_events").fetchone()[0] == 3000
    conn.close()


def test_kill_9_loses_no_acknowledged_task(isolated_env: Path) -> None:
    path = isolated_env / "history.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "k", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    acknowledged = [proc.stdout.readline().strip() for _ in range(300)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert proc.stderr is not None
    proc.stderr.close()
    with TaskLog(path) as task_log:
        logged = set(task_log.dataframe().task_id)
        assert set(acknowledged) <= logged
        for task_id in acknowledged:
            row = task_log.get(task_id)
            assert row is not None and row["status"] == "succeeded"
        # the dead writer's unfinished task is an orphan a new engine may claim
        orphans = [t for t in task_log.pending() if not t["owner_alive"]]
        assert len(orphans) <= 1
        for task in orphans:
            assert task_log.claim(task["task_id"]) is True
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


# ------------------------------------------------------------------- versions and bad files

V1_DDL = """
CREATE TABLE tasks (
    task_id TEXT PRIMARY KEY, provider TEXT NOT NULL, action TEXT NOT NULL,
    parent_id TEXT, sweep_id TEXT, prompt TEXT NOT NULL, text TEXT NOT NULL,
    ar TEXT, stylize INTEGER, chaos INTEGER, weird INTEGER, seed INTEGER,
    quality REAL, version TEXT, niji TEXT, style TEXT, no TEXT, tile INTEGER,
    stop INTEGER, iw REAL, sref TEXT, sw INTEGER, sv INTEGER, cref TEXT, cw INTEGER,
    oref TEXT, ow INTEGER, exp INTEGER, p TEXT, draft INTEGER, repeat INTEGER, mode TEXT,
    params_json TEXT NOT NULL, axes_json TEXT, status TEXT NOT NULL,
    progress INTEGER NOT NULL DEFAULT 0, error TEXT, submitted_at INTEGER NOT NULL,
    started_at INTEGER, finished_at INTEGER, updated_at INTEGER NOT NULL,
    image_url TEXT, image_path TEXT, preview_url TEXT, remote_id TEXT,
    remote_state_json TEXT, base_url TEXT, owner TEXT
);
CREATE INDEX tasks_submitted ON tasks (submitted_at);
CREATE TABLE task_events (event_id INTEGER PRIMARY KEY, task_id TEXT NOT NULL,
    at INTEGER NOT NULL, status TEXT NOT NULL, progress INTEGER);
CREATE TABLE sweeps (sweep_id TEXT PRIMARY KEY, prompt TEXT NOT NULL,
    axes_json TEXT NOT NULL, provider TEXT NOT NULL, created_at INTEGER NOT NULL);
INSERT INTO tasks (task_id, provider, action, prompt, text, seed, no, params_json, status,
    progress, submitted_at, updated_at)
VALUES ('v1-task', 'acedata', 'imagine', 'a fox --seed 3 --no red', 'a fox', 3, '["red"]',
    '{"seed":3,"no":["red"]}', 'running', 40, 1740830400000000, 1740830400000000);
PRAGMA application_id = 1835691618;
PRAGMA user_version = 1;
"""


def make_v1_file(path: Path) -> None:
    """A log exactly as the first release (schema 1) wrote it."""
    conn = sqlite3.connect(path)
    conn.executescript(V1_DDL)
    conn.close()


def test_a_first_release_file_opens_with_the_current_code(isolated_env: Path) -> None:
    path = isolated_env / "history.sqlite"
    path.parent.mkdir(parents=True)
    make_v1_file(path)
    with TaskLog(path) as task_log:
        row = task_log.get("v1-task")
        assert row is not None and row["seed"] == 3 and row["no"] == ["red"]
        assert row["submitted_at"] == datetime(2025, 3, 1, 12, tzinfo=timezone.utc)
        assert [t["task_id"] for t in task_log.pending()] == ["v1-task"]
        assert task_log.dataframe().iloc[0].progress == 40
        add(task_log, "new")
        task_log.update_task("v1-task", status="succeeded")
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_migration_to_5_adds_the_inputs_a_resend_needs(isolated_env: Path) -> None:
    """A version-4 file gains ``inputs_json``; its rows have none (they resume as before),
    and a new row keeps its inputs (pairs, so a path that looks like a key survives)."""
    path = isolated_env / "history.sqlite"
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, MIGRATIONS[:4])
    conn.close()
    with TaskLog(path) as task_log:
        add(task_log, "old")
        assert (task_log.get("old") or {})["inputs"] is None
        kept = {"images": ["sha256:ab"], "refs": [["./token.png", "sha256:ab"]],
                "files": {"ab": "/cache/ab/ab.png"}}  # fmt: skip
        task_log.update_task("old", inputs=kept)
        assert (task_log.get("old") or {})["inputs"] == kept
        assert "inputs" not in task_log.dataframe().columns  # kept for resume, not shown
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    conn.close()


def test_a_later_version_is_one_more_migration(isolated_env: Path) -> None:
    path = isolated_env / "history.sqlite"
    path.parent.mkdir(parents=True)
    make_v1_file(path)

    def add_rating(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE tasks ADD COLUMN rating INTEGER")

    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, path, (*MIGRATIONS, add_rating)) == 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
    assert conn.execute("SELECT seed, rating FROM tasks").fetchall() == [(3, None)]
    conn.close()
    newer = rf"newer mjnb \(schema {SCHEMA_VERSION + 1} > {SCHEMA_VERSION}\)"
    with pytest.raises(LogError, match=newer):
        TaskLog(path)


def test_a_file_from_a_newer_mjnb_is_refused_and_kept(isolated_env: Path) -> None:
    path = isolated_env / "history.sqlite"
    TaskLog(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(LogError) as info:
        TaskLog(path)
    message = str(info.value)
    assert str(path) in message and f"schema 99 > {SCHEMA_VERSION}" in message
    assert "upgrade mjnb or set MJNB_HOME" in message
    assert path.read_bytes() == before


def test_a_file_that_is_not_sqlite_is_refused_and_kept(isolated_env: Path) -> None:
    path = isolated_env / "history.sqlite"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    before = path.read_bytes()
    with pytest.raises(LogError) as info:
        TaskLog(path)
    assert str(path) in str(info.value) and "Move it aside" in str(info.value)
    assert path.read_bytes() == before


def test_a_damaged_database_gives_log_error(isolated_env: Path) -> None:
    path = isolated_env / "history.sqlite"
    with TaskLog(path) as task_log:
        for i in range(300):
            add(task_log, f"t{i}", i, prompt="x" * 200)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(page, len(data), page):  # scribble over every page but the first
        data[offset : offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(LogError) as info:
        TaskLog(path).dataframe()
    assert str(path) in str(info.value) and "damaged" in str(info.value)


def test_someone_elses_sqlite_file_is_refused(isolated_env: Path) -> None:
    path = isolated_env / "history.sqlite"
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(LogError, match="not an mjnb task log"):
        TaskLog(path)


def test_a_folder_that_cannot_be_created_gives_log_error(isolated_env: Path) -> None:
    isolated_env.mkdir(parents=True)
    (isolated_env / "blocker").write_text("a file where a folder should be")
    path = isolated_env / "blocker" / "history.sqlite"
    with pytest.raises(LogError) as info:
        TaskLog(path)
    assert str(path) in str(info.value) and "MJNB_HOME" in str(info.value)


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write read-only folders"
)
def test_a_read_only_folder_gives_log_error(isolated_env: Path) -> None:
    isolated_env.mkdir(parents=True)
    isolated_env.chmod(0o555)
    try:
        with pytest.raises(LogError) as info:
            TaskLog(isolated_env / "history.sqlite")
        assert "writable" in str(info.value) and str(isolated_env) in str(info.value)
    finally:
        isolated_env.chmod(0o755)


# ------------------------------------------------------------------- credentials


def test_no_credential_reaches_the_disk(isolated_env: Path) -> None:
    path = isolated_env / "history.sqlite"
    with TaskLog(path) as task_log:
        task_log.add_sweep(
            "s1",
            prompt="a fox",
            axes={"seed": [1, 2], "token": [CANARY]},
            created_at=T0,
            provider="zhishuyun",
        )
        task_log.add_task(
            "t1",
            provider="zhishuyun",
            action="imagine",
            prompt="a fox --seed 1",
            text="a fox",
            params={"seed": 1, "token": CANARY, "headers": {"Authorization": f"Bearer {CANARY}"}},
            parent_id=None,
            sweep_id="s1",
            submitted_at=T0,
            base_url=f"https://user:{CANARY}@api.zhishuyun.com/midjourney?token={CANARY}",
            axes={"seed": 1, "api_key": CANARY},
        )
        task_log.update_task(
            "t1",
            status="running",
            remote_id="r1",
            remote_state={
                "task_id": "r1",
                "request": {"headers": {"authorization": CANARY, "x-api-key": CANARY}},
                "MJNB_MJPROXY_SECRET": CANARY,
                "list": [{"app_secret": CANARY, "keep": "me"}],
            },
            preview_url=f"https://cdn.example/p.webp?token={CANARY}&w=200",
        )
        image_path = ImageStore(isolated_env / "images").save(fake_png())
        task_log.update_task(
            "t1",
            status="failed",
            error=f"401 from provider: token={CANARY} refused; Authorization: Bearer {CANARY}",
            image_url=f"https://api.zhishuyun.com/x.png?token={CANARY}&id=3",
            image_path=image_path,
        )
        row = task_log.get("t1")
        assert row is not None
        assert row["remote_state"]["list"] == [{"keep": "me"}]
        assert row["image_url"] == "https://api.zhishuyun.com/x.png?id=3"
        assert row["base_url"] == "https://api.zhishuyun.com/midjourney"
        assert row["error"].startswith("401 from provider: token=***")
        frame_text = task_log.dataframe().to_csv() + task_log.sweeps().to_csv()
        assert CANARY not in frame_text and CANARY not in repr(row)
    files = [p for p in isolated_env.rglob("*") if p.is_file()]
    assert path in files and any(p.suffix == ".png" for p in files)
    needle = CANARY.encode()
    for file in files:
        assert needle not in file.read_bytes(), file


def fake_png() -> bytes:
    from PIL import Image

    return encode(Image.new("RGB", (8, 8), (200, 10, 10)), "PNG")


def test_bad_filters_are_one_clear_error(log: TaskLog) -> None:
    with pytest.raises(MJError, match="ISO 8601"):
        log.dataframe(since="yesterday")
    with pytest.raises(MJError, match="status must be one of"):
        log.dataframe(status="nosuch")
