"""The ``mjnb`` command as a user runs it: real subprocesses, real ports."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import CANARY
from tests.hostile.cases import mj_task, mjproxy
from tests.hostile.server import HostileServer, Reply, Request

MJNB = [sys.executable, "-m", "mjnb.cli"]


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MJNB, *args],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "MJNB_SIM_LATENCY": "0.3", **env},
    )


def test_serve_answers_every_protocol_and_stops_on_ctrl_c() -> None:
    with subprocess.Popen(
        [*MJNB, "serve", "--port", "0", "--latency", "0.2", "--token", CANARY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as server:
        assert server.stdout is not None
        line = server.stdout.readline()
        url = line.split(" on ", 1)[1].split()[0]
        try:
            headers = {"mj-api-secret": CANARY}
            answer = httpx.post(
                f"{url}/mj/submit/imagine", json={"prompt": "a fox"}, headers=headers
            )
            assert answer.json()["code"] == 1
            ace = httpx.post(
                f"{url}/midjourney/tasks",
                json={"action": "retrieve", "id": "nope"},
                headers={"authorization": f"Bearer {CANARY}"},
            )
            assert ace.status_code == 404
            meta = httpx.get(f"{url}/open/v1/midjourney/result/1", headers={"X-App-ID": "a"})
            assert meta.status_code == 401
            stats = httpx.get(f"{url}/_sim/stats", headers=headers)  # /_sim needs the token
            assert stats.json()["submits"] == 1
        finally:
            server.send_signal(signal.SIGINT)
            assert server.wait(timeout=15) in (0, 130)
        assert CANARY not in line + server.stdout.read()


def test_imagine_prints_the_image_path_and_log_exports(tmp_path: Path) -> None:
    done = run("imagine", "a teal whale --ar 16:9 --seed 3")
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path.exists() and path.suffix == ".png"
    assert "100%" in done.stderr and done.stdout.strip() == str(path)  # stdout: the path only

    table = run("log")
    assert table.returncode == 0 and "a teal whale" in table.stdout
    out = tmp_path / "log.csv"
    exported = run("log", "--csv", str(out))
    assert exported.returncode == 0, exported.stderr
    with out.open() as file:
        rows = list(csv.DictReader(file))
    assert [row["status"] for row in rows] == ["succeeded"]
    assert rows[0]["ar"] == "16:9" and rows[0]["seed"] == "3"


def test_bad_prompt_is_one_line_and_sends_nothing() -> None:
    done = run("imagine", "a fox --s 5000")
    assert done.returncode == 2
    assert done.stderr.strip() == ("mjnb: stylize must be 0-1000, got 5000 (--s 5000 at column 7).")
    assert "Traceback" not in done.stderr


def test_missing_credentials_name_the_variable() -> None:
    done = run("imagine", "a fox", "--provider", "acedata")
    assert done.returncode == 2
    assert "MJNB_ACEDATA_TOKEN" in done.stderr


def test_prune_keeps_the_log(tmp_path: Path) -> None:
    assert run("imagine", "a fox --seed 1").returncode == 0
    files = sorted(p.name for p in Path(os.environ["MJNB_HOME"]).rglob("*"))
    pruned = run("prune", "--days", "0")
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.startswith("1 images deleted"), (pruned.stdout, files)
    assert "a fox" in run("log").stdout


# -------------------------------------------------------------------- output safety

#: a prompt and a fail reason a hostile user or provider might send: an OSC 52 clipboard
#: write, a window title, clear-screen, a C1 CSI and a spreadsheet formula
EVIL_PROMPT = '=HYPERLINK("http://evil.example/x","click") a fox \x1b]52;c;ZXZpbA==\x07 \x1b[2J'
EVIL_REASON = '=HYPERLINK("http://evil.example/y","why") \x1b]0;pwned\x07\x1b[2J\x9b31m bad'
RAW_CONTROLS = ("\x1b", "\x07", "\x9b")


def failing_mjproxy() -> HostileServer:
    """A midjourney-proxy whose job fails with ``EVIL_REASON``."""

    def fetch(request: Request) -> Reply:
        return Reply.json(mj_task("FAILURE", failReason=EVIL_REASON, progress="0%"))

    return HostileServer(mjproxy(fetch=fetch))


def test_control_characters_are_escaped_in_everything_printed(tmp_path: Path) -> None:
    with failing_mjproxy() as server:
        env = {"MJNB_MJPROXY_SECRET": "s3cret-value", "MJNB_POLL_INTERVAL": "0.1"}
        done = run("imagine", EVIL_PROMPT, "--provider", "mjproxy", "--base-url", server.url, **env)
    assert done.returncode == 1, done.stderr
    assert server.count("POST", "/mj/submit/imagine") == 1
    assert "\\x1b]0;pwned\\x07" in done.stderr  # shown, not obeyed
    table = run("log")
    assert table.returncode == 0, table.stderr
    assert "\\x1b]52;c;ZXZpbA==\\x07" in table.stdout
    refused = run("imagine", "a fox \x1b]52;c;ZXZpbA==\x07 --s 5000")  # a one-line MJError
    assert refused.returncode == 2
    for out in (done, table, refused):
        for char in RAW_CONTROLS:
            assert char not in out.stdout + out.stderr, (char, out.stdout, out.stderr)


def test_csv_export_neutralises_formula_cells(tmp_path: Path) -> None:
    with failing_mjproxy() as server:
        env = {"MJNB_MJPROXY_SECRET": "s3cret-value", "MJNB_POLL_INTERVAL": "0.1"}
        run("imagine", EVIL_PROMPT, "--provider", "mjproxy", "--base-url", server.url, **env)
    out = tmp_path / "log.csv"
    exported = run("log", "--csv", str(out))
    assert exported.returncode == 0, exported.stderr
    with out.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 1
    assert rows[0]["prompt"] == "'" + EVIL_PROMPT  # kept whole, shown as text
    assert rows[0]["error"].startswith("'=HYPERLINK(")
    for row in rows:
        for name, cell in row.items():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)
