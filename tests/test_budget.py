"""Budgets: daily job caps per user and per account, in the shared log, under a race."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pgserver import pg_server, pg_url  # noqa: F401

import mjnb
from mjnb.budget import ANY_ACCOUNT, Budget
from mjnb.cli import main as cli_main
from mjnb.errors import BudgetExceeded, InvalidArgument
from mjnb.log import TaskLog
from mjnb.log.shared import SharedDB

ROOT = Path(__file__).resolve().parent.parent


def _db(home: Path) -> SharedDB:
    TaskLog(home / "history.sqlite").close()
    return SharedDB(home / "history.sqlite")


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_db(request: pytest.FixtureRequest, isolated_env: Path) -> Iterator[SharedDB]:
    """The shared tables on both backends (PostgreSQL: a fresh database, via TaskLog)."""
    isolated_env.mkdir(parents=True, exist_ok=True)
    if request.param == "sqlite":
        yield _db(isolated_env)
        return
    url = request.getfixturevalue("pg_url")
    with TaskLog(url, home=isolated_env) as log:
        db = SharedDB.for_log(log)
        yield db
        db.close()


def test_caps_from_the_log_and_the_environment_the_stricter_wins(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _db(isolated_env)
    alice = Budget(db, "acct", "alice")
    assert not alice.state().capped and alice.state().refusal(1000) is None
    alice.set(user_day=5, account_day=8)
    alice.set(user_day=2, user="bob")
    bob = Budget(db, "acct", "bob")
    assert (alice.state().user_cap, alice.state().account_cap) == (5, 8)
    assert bob.state().user_cap == 2  # bob's own cap beats the default
    monkeypatch.setenv("MJNB_BUDGET_USER_DAY", "3")
    assert alice.state().user_cap == 3  # the environment cannot loosen, only tighten
    monkeypatch.setenv("MJNB_BUDGET_USER_DAY", "50")
    assert alice.state().user_cap == 5
    Budget(db, ANY_ACCOUNT, "teacher").set(account_day=4)
    assert alice.state().account_cap == 8  # this account's own setting beats "*"
    assert Budget(db, "other", "alice").state().account_cap == 4
    alice.set(clear=True)
    assert alice.state().account_cap == 4  # cleared here: the "*" setting applies
    monkeypatch.setenv("MJNB_BUDGET_ACCOUNT_DAY", "lots")
    with pytest.raises(InvalidArgument, match="MJNB_BUDGET_ACCOUNT_DAY"):
        alice.state()


def test_spend_stops_at_the_cap_and_spends_nothing_when_refused(shared_db: SharedDB) -> None:
    db = shared_db
    alice, bob = Budget(db, "acct", "alice"), Budget(db, "acct", "bob")
    alice.set(user_day=2, account_day=3)
    assert alice.spend().user_left == 1
    assert alice.spend().user_left == 0
    with pytest.raises(BudgetExceeded, match="alice's daily cap of 2") as refused:
        alice.spend()
    assert "\n" not in str(refused.value) and "nothing was sent" in str(refused.value)
    assert bob.spend().account_left == 0
    with pytest.raises(BudgetExceeded, match="account's daily cap of 3"):
        bob.spend()
    assert alice.state().user_spent == 2 and bob.state().account_spent == 3
    frame = alice.spend_frame()
    assert list(frame["user"]) == ["alice", "bob"] and list(frame["jobs"]) == [2, 1]
    assert list(frame["account_cap"]) == [3, 3]


RACER = """
import os, sys, time
from mjnb.budget import Budget
from mjnb.errors import BudgetExceeded
from mjnb.log.shared import SharedDB
db, user, go, rounds = SharedDB(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
while not os.path.exists(go):
    time.sleep(0.005)
for i in range(rounds):
    try:
        Budget(db, f"acct{i}", user).spend()
        print("won", i, flush=True)
    except BudgetExceeded:
        print("lost", i, flush=True)
"""


def test_two_processes_race_for_the_last_unit_exactly_one_wins(
    isolated_env: Path, shared_db: SharedDB
) -> None:
    db = shared_db
    rounds = 30
    for i in range(rounds):
        Budget(db, f"acct{i}", "teacher").set(account_day=1)  # one unit left on each
    go = isolated_env / "go"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, db.url, user, str(go), str(rounds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for user in ("ann", "ben")
    ]
    time.sleep(1.0)
    go.touch()
    wins: dict[int, int] = {}
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        for line in out.split("\n"):
            if line.startswith("won"):
                i = int(line.split()[1])
                wins[i] = wins.get(i, 0) + 1
    assert wins == {i: 1 for i in range(rounds)}
    spent = db.query("SELECT account, sum(jobs) FROM budget_spend GROUP BY account")
    assert sorted(spent) == sorted((f"acct{i}", 1) for i in range(rounds))


def test_a_sweep_over_the_cap_is_refused_before_anything_is_sent(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MJNB_USER", "student1")
    mj = mjnb.Client("local")
    mj.set_budget(user_day=3)
    with pytest.raises(BudgetExceeded, match=r"4 job\(s\) would exceed student1's daily cap"):
        mj.sweep("a red fox", seed=[1, 2, 3, 4])
    assert len(mj.log()) == 0  # nothing logged, nothing sent
    sweep = mj.sweep("a red fox", seed=[1, 2])
    assert "2 job(s) would leave student1: 1 of 3 left" in capsys.readouterr().out
    assert [t.wait(60).status for t in sweep.tasks] == ["succeeded", "succeeded"]
    assert mj.imagine("a blue fox").wait(60).status == "succeeded"
    over = mj.imagine("a green fox").wait(60)
    assert over.status == "failed" and "daily cap of 3" in (over.error or "")
    spend = mj.spend()
    assert spend[["user", "jobs", "user_cap"]].values.tolist() == [["student1", 3, 3]]
    assert mj.budget().user_left == 0


def test_cli_budget_set_and_show(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["budget", "set", "--user-day", "20", "--account-day", "400"]) == 0
    out = capsys.readouterr().out
    assert "per user 20, account 400 jobs a day" in out and "No jobs spent yet" in out
    assert cli_main(["budget", "clear"]) == 0
    assert "per user no cap, account no cap" in capsys.readouterr().out
