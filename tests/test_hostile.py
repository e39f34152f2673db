"""Issue 14 over real loopback HTTP: every hostile answer of :mod:`tests.hostile`.

Each case runs the client in a subprocess with an address-space cap and checks the
promises of the issue's Build section: the task reaches a final state with a reason,
in bounded time, its waiters wake, its log row is final, the client's peak RSS stays
bounded, nothing is sent twice and the token never leaks. ``python benchmarks/hostile.py``
prints the same cases as a table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile import CASES, Case, problems, run_case, run_cli_echo, run_resume, run_sim_reset

pytestmark = pytest.mark.reliability


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_hostile_answer_ends_the_task_cleanly(case: Case, tmp_path: Path) -> None:
    outcome = run_case(case, tmp_path / "home")
    found = problems(outcome)
    assert not found, f"{case.name} ({case.about}): " + "; ".join(found)


def test_a_resumed_task_that_broke_once_ends_and_does_not_loop(tmp_path: Path) -> None:
    result = run_resume(tmp_path / "home")
    assert result.get("resumed") == 1, result
    what = f"{result['status']}: {result['error']}"
    assert result["done"] and result["status"] in ("succeeded", "failed"), f"never ended ({what})"
    assert result["error"] and "internal error" not in result["error"], what
    assert result["log_status"] == result["status"] and result["log_finished"], result
    assert not result["third_resumed"], "a third kernel resumed the same task again"


@pytest.mark.parametrize("lower", [False, True], ids=["url-encoded", "lowercased"])
def test_mjnb_imagine_never_prints_an_echoed_token(lower: bool, tmp_path: Path) -> None:
    result = run_cli_echo(tmp_path / "home", lower=lower)
    assert result["returncode"] == 1, result  # the task failed, with its reason
    assert result["said"], result
    assert not result["leaks"], f"the token leaked: {result['leaks']}"


def test_the_simulators_reset_needs_its_token() -> None:
    result = run_sim_reset()
    assert result["reset_status"] in (401, 403), result
    assert result["job_kept"], "POST /_sim/reset without the token wiped the jobs"
