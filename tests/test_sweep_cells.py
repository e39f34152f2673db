"""Sweep cells in the task log: their own table, atomic claims across processes, cancel,
the unsent cells of interrupted sweeps, release 2's columns, and the migration that
carries a release-1 log (cells hidden in ``axes_json``) forward."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from mjnb.errors import InvalidArgument, NotFound
from mjnb.log import SCHEMA_VERSION, TaskLog

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
COORDS = [{"seed": s, "stylize": v} for s in (1, 2) for v in (0, 250)]


@pytest.fixture
def log(isolated_env: Path) -> Any:
    with TaskLog(isolated_env / "history.sqlite") as task_log:
        yield task_log


def record(log: TaskLog, sweep_id: str = "sw1", **options: Any) -> None:
    """A 2x2 sweep (seed x stylize) with its four planned cells."""
    log.add_sweep(
        sweep_id,
        prompt="a red fox",
        axes={"seed": [1, 2], "stylize": [0, 250]},
        created_at=T0,
        provider=options.pop("provider", "local"),
        mode="relax",
        cells=[(c, f"a red fox --seed {c['seed']} --s {c['stylize']}") for c in COORDS],
        **options,
    )


def add(log: TaskLog, task_id: str, **fields: Any) -> bool:
    values: dict[str, Any] = {
        "provider": "local",
        "action": "imagine",
        "prompt": "a red fox",
        "text": "a red fox",
        "params": {},
        "parent_id": None,
        "sweep_id": "sw1",
        "submitted_at": T0,
    }
    values.update(fields)
    return log.add_task(task_id, **values)


# ------------------------------------------------------------------- the table


def test_cells_live_in_their_own_table_not_in_the_axes(log: TaskLog) -> None:
    record(log)
    stored = log.sweep("sw1")
    assert stored is not None and stored["mode"] == "relax"
    assert [c["cell"] for c in stored["cells"]] == [0, 1, 2, 3]
    assert [c["coords"] for c in stored["cells"]] == COORDS
    assert stored["cells"][3]["prompt"] == "a red fox --seed 2 --s 250"
    assert all(c["task_id"] is None and not c["cancelled"] for c in stored["cells"])
    row = log.sweeps().iloc[0]
    assert row.axis_values == {"seed": [1, 2], "stylize": [0, 250]}  # no hidden keys
    assert (row.cells, row.not_sent, row.cancelled, row["mode"]) == (4, 4, 0, "relax")
    assert log.sweep("nope") is None
    conn = sqlite3.connect(log.path)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        conn.execute(
            "INSERT INTO sweep_cells (sweep_id, cell, coords_json, prompt)"
            " VALUES ('sw1', 2, '{}', 'x')"
        )
    conn.close()


def test_a_cell_is_claimed_once_and_a_lost_claim_writes_nothing(log: TaskLog) -> None:
    record(log)
    assert add(log, "first", cell=1, axes=COORDS[1]) is True
    assert add(log, "second", cell=1, axes=COORDS[1]) is False
    assert log.get("second") is None and log.events("second") == []
    assert log.get("first")["cell"] == 1  # type: ignore[index]
    # by coordinates alone (a task logged with sweep_id and axes, as release 1 did)
    assert add(log, "by-coords", axes=COORDS[2]) is True
    assert log.get("by-coords")["cell"] == 2  # type: ignore[index]
    assert add(log, "again", axes=dict(reversed(list(COORDS[2].items())))) is False
    # a retry takes the cell over from the task it names, and only from that one
    assert add(log, "retry-wrong", cell=1, replaces="someone-else") is False
    assert add(log, "retry", cell=1, replaces="first") is True
    assert [c["task_id"] for c in log.sweep("sw1")["cells"]] == [  # type: ignore[index]
        None,
        "retry",
        "by-coords",
        None,
    ]
    assert set(log.dataframe(sweep="sw1").task_id) == {"first", "by-coords", "retry"}
    with pytest.raises(InvalidArgument, match="no cell 9"):
        add(log, "x", cell=9)
    with pytest.raises(InvalidArgument, match="needs the sweep_id"):
        add(log, "y", cell=0, sweep_id=None)
    # a task of a sweep whose cells were never planned is logged as before
    assert add(log, "plain", sweep_id="other", axes={"seed": 1}) is True


def test_cancel_unsent_makes_cells_never_claimable(log: TaskLog) -> None:
    record(log)
    assert add(log, "sent", cell=0)
    assert log.cancel_unsent("sw1") == 3
    assert log.cancel_unsent("sw1") == 0
    for cell in (1, 2, 3):
        assert add(log, f"late-{cell}", cell=cell) is False
    assert add(log, "late-coords", axes=COORDS[3]) is False
    cells = log.sweep("sw1")["cells"]  # type: ignore[index]
    assert [c["cancelled"] for c in cells] == [False, True, True, True]
    assert cells[0]["task_id"] == "sent"
    row = log.sweeps().iloc[0]
    assert (row.tasks, row.not_sent, row.cancelled) == (1, 0, 3)
    assert log.unfinished_sweeps("local", older_than=timedelta(0)) == []
    with pytest.raises(NotFound, match="'nope'"):
        log.cancel_unsent("nope")


def test_unsent_cells_are_those_of_sweeps_whose_kernel_is_gone(isolated_env: Path) -> None:
    path = isolated_env / "history.sqlite"
    with TaskLog(path) as first:
        record(first, base_url="http://127.0.0.1:9/api?token=secret")
        add(first, "sent", cell=0)
        assert first.unsent_cells("local") == []  # its kernel is alive: not interrupted
    with TaskLog(path) as second:
        unsent = second.unsent_cells("local", "http://127.0.0.1:9/api")
        assert [(c["sweep_id"], c["cell"]) for c in unsent] == [("sw1", 1), ("sw1", 2), ("sw1", 3)]
        assert unsent[0]["coords"] == COORDS[1] and unsent[0]["mode"] == "relax"
        assert unsent[0]["prompt"] == "a red fox --seed 1 --s 250"
        assert second.unsent_cells("local") == unsent  # any base URL
        assert second.unsent_cells("local", "http://elsewhere") == []
        assert second.unsent_cells("acedata") == []
        assert second.sweep("sw1")["base_url"] == "http://127.0.0.1:9/api"  # type: ignore[index]
        second.cancel_unsent("sw1")
        assert second.unsent_cells("local") == []


# ------------------------------------------------------------------- two processes

CLAIMER = """
import os, sys, time
from datetime import datetime, timezone
from mjnb.log import TaskLog
path, name, cells, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
log = TaskLog(path)
while not os.path.exists(go):  # start together, to collide as much as possible
    time.sleep(0.001)
won = []
for cell in range(cells):
    if log.add_task(f"{name}-{cell}", provider="local", action="imagine", prompt="p",
                    text="p", params={"seed": cell}, parent_id=None, sweep_id="race",
                    submitted_at=datetime.now(timezone.utc), cell=cell):
        won.append(cell)
print(" ".join(map(str, won)), flush=True)
log.close()
"""


def test_two_processes_racing_for_one_sweep_claim_each_cell_once(
    target: str, isolated_env: Path
) -> None:
    """On SQLite and on PostgreSQL: each cell claimed once, none lost."""
    cells = 60
    with TaskLog(target) as log:
        log.add_sweep(
            "race",
            prompt="p",
            axes={"seed": list(range(cells))},
            created_at=T0,
            provider="local",
            cells=[({"seed": i}, f"p --seed {i}") for i in range(cells)],
        )
    isolated_env.mkdir(parents=True, exist_ok=True)  # a PostgreSQL log makes no file here
    go = isolated_env / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(CLAIMER), target, name, str(cells), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    time.sleep(1.0)
    go.touch()
    won: dict[str, list[int]] = {}
    for name, proc in zip(("a", "b"), procs, strict=True):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        won[name] = [int(c) for c in out.split()]
    assert sorted(won["a"] + won["b"]) == list(range(cells))  # each cell once, none lost
    with TaskLog(target) as log:
        frame = log.dataframe(sweep="race")
        assert len(frame) == cells and frame.task_id.is_unique
        assert sorted(frame.cell.tolist()) == list(range(cells))
        holders = [c["task_id"] for c in log.sweep("race")["cells"]]  # type: ignore[index]
        assert holders == [f"{'a' if i in won['a'] else 'b'}-{i}" for i in range(cells)]
    if not target.startswith("postgresql"):
        conn = sqlite3.connect(target)
        assert conn.execute("SELECT count(*) FROM task_events").fetchone()[0] == cells
        conn.close()


# ------------------------------------------------------------------- new columns


def test_release_2_columns_are_stored_and_in_the_dataframe(
    log: TaskLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(log, "grid", sweep_id=None)
    add(log, "what", sweep_id=None, action="describe")
    monkeypatch.setenv("MJNB_USER", "ada")
    with TaskLog(log.path) as other:
        add(
            other,
            "clip",
            sweep_id=None,
            action="animate high",
            kind="video",
            motion="high",
            loop=True,
            batch=2,
            mask_path=Path("/tmp/mask.png"),
        )
        other.update_task(
            "clip", video_paths=[Path("/v/a.mp4"), "/v/b.mp4"], job_seed=1234, cost=1.5
        )
        with pytest.raises(InvalidArgument, match="kind must be one of"):
            add(other, "bad", sweep_id=None, kind="gif")
    row = log.get("clip")
    assert row is not None
    assert (row["kind"], row["motion"], row["loop"], row["batch"]) == ("video", "high", True, 2)
    assert row["video_paths"] == ["/v/a.mp4", "/v/b.mp4"] and row["mask_path"] == "/tmp/mask.png"
    assert (row["job_seed"], row["cost"], row["user"]) == (1234, 1.5, "ada")
    assert row["host"] == socket.gethostname()
    df = log.dataframe().set_index("task_id")
    assert list(df.kind) == ["image", "describe", "video"]
    assert df.loc["clip", "video_paths"] == ["/v/a.mp4", "/v/b.mp4"]
    assert str(df.job_seed.dtype) == "Int64" and str(df.cost.dtype) == "Float64"
    assert str(df.loop.dtype) == "boolean" and str(df.batch.dtype) == "Int64"
    assert str(df.motion.dtype) == "string" and df.loc["clip", "user"] == "ada"
    assert df.loc["grid", "user"] not in (None, "ada")  # the OS user, MJNB_USER unset
    assert df.loc["grid", "job_seed"] is pd_na()


def pd_na() -> Any:
    import pandas as pd

    return pd.NA


# ------------------------------------------------------------------- migration

RELEASE_1 = """
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
CREATE TABLE task_events (event_id INTEGER PRIMARY KEY, task_id TEXT NOT NULL,
    at INTEGER NOT NULL, status TEXT NOT NULL, progress INTEGER);
CREATE TABLE sweeps (sweep_id TEXT PRIMARY KEY, prompt TEXT NOT NULL,
    axes_json TEXT NOT NULL, provider TEXT NOT NULL, created_at INTEGER NOT NULL);
PRAGMA application_id = 1835691618;
PRAGMA user_version = 1;
"""


def make_release_1_log(path: Path) -> None:
    """A log as release 1 wrote it: a 3-cell sweep whose cells hide in ``axes_json``,
    cell 0 sent twice (a failure, then its retry), cell 1 once, cell 2 never."""
    cells = [
        {"coords": {"stylize": 5, "chaos": c}, "prompt": f"a fox --chaos {c} --s 5 --seed 9"}
        for c in (0, 50, 100)
    ]
    axes = {"stylize": [5], "chaos": [0, 50, 100], "_cells": cells, "_mode": ["turbo"]}
    conn = sqlite3.connect(path)
    conn.executescript(RELEASE_1)
    conn.execute(
        "INSERT INTO sweeps VALUES ('old', 'a fox --seed 9', ?, 'local', 1740830400000000)",
        (json.dumps(axes),),
    )
    rows = [
        ("t-fail", "describe", '{"stylize":5,"chaos":0}', "failed", 1),
        ("t-retry", "imagine", '{"stylize":5,"chaos":0}', "succeeded", 2),
        ("t-fifty", "imagine", '{"stylize":5,"chaos":50}', "succeeded", 3),
    ]
    for task_id, action, coords, status, at in rows:
        conn.execute(
            "INSERT INTO tasks (task_id, provider, action, sweep_id, prompt, text, params_json,"
            " axes_json, status, submitted_at, updated_at, owner) VALUES (?, 'local', ?, 'old',"
            " 'a fox', 'a fox', '{}', ?, ?, ?, ?, 'gone-host:1:x')",
            (task_id, action, coords, status, 1740830400000000 + at, 1740830400000000 + at),
        )
    conn.commit()
    conn.close()


def test_a_release_1_log_is_carried_forward(isolated_env: Path) -> None:
    path = isolated_env / "history.sqlite"
    path.parent.mkdir(parents=True)
    make_release_1_log(path)
    with TaskLog(path) as log:
        stored = log.sweep("old")
        assert stored is not None
        assert stored["axes"] == {"stylize": [5], "chaos": [0, 50, 100]}
        assert stored["mode"] == "turbo"
        assert [(c["coords"], c["task_id"]) for c in stored["cells"]] == [
            ({"chaos": 0, "stylize": 5}, "t-retry"),  # the latest attempt holds the cell
            ({"chaos": 50, "stylize": 5}, "t-fifty"),
            ({"chaos": 100, "stylize": 5}, None),
        ]
        assert stored["cells"][2]["prompt"] == "a fox --chaos 100 --s 5 --seed 9"
        sweeps = log.sweeps()
        assert sweeps.iloc[0].axis_values == {
            "stylize": [5],
            "chaos": [0, 50, 100],
        }  # no _cells, no _mode
        assert "_cells" not in sweeps.to_csv() and "_mode" not in sweeps.to_csv()
        frame = log.dataframe(sweep="old").set_index("task_id")
        assert frame.cell.tolist() == [0, 0, 1]
        assert frame.kind.tolist() == ["describe", "image", "image"]
        # the never-sent cell is an interrupted sweep's unsent cell, claimable once
        assert [c["cell"] for c in log.unsent_cells("local")] == [2]
        assert add(log, "t-hundred", sweep_id="old", axes={"stylize": 5, "chaos": 100}) is True
        assert log.get("t-hundred")["cell"] == 2  # type: ignore[index]
        assert add(log, "t-again", sweep_id="old", cell=2) is False
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert "_cells" not in conn.execute("SELECT axes_json FROM sweeps").fetchone()[0]
    conn.close()
