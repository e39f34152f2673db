"""Issue 14 over real loopback HTTP: every hostile answer of :mod:`tests.hostile`.

Each case runs the client in a subprocess with an address-space cap and checks the
promises of the issue's Build section: the task reaches a final state with a reason,
in bounded time, its waiters wake, its log row is final, the client's peak RSS stays
bounded, nothing is sent twice and the token never leaks. ``python benchmarks/hostile.py``
prints the same cases as a table.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

import mjnb
from tests.hostile import (
    CANARY,
    CASES,
    Case,
    HostileServer,
    Reply,
    Request,
    leaks,
    problems,
    run_case,
    run_cli_echo,
    run_resume,
    run_sim_reset,
)
from tests.hostile.cases import echo_token, mj_task, mjproxy

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


# --------------------------------------------- what mjnb offers after such an ending
# In process (real loopback HTTP, the public API): the later step is the point here.


def _client(server: HostileServer, home: Path, provider: str = "mjproxy", **knobs: Any) -> Any:
    import mjnb

    options = {"poll_interval": 0.1, "stall_timeout": 5.0, "timeout": 3.0, "stream": False}
    return mjnb.Client(provider, base_url=server.url, token=CANARY, **{**options, **knobs})


def test_a_task_the_task_timeout_gave_up_on_can_be_fetched_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """task_timeout ends a sent task with a reason but keeps its remote id; a later
    Client's ``task.refetch()`` polls the job again (never submits it) and saves it."""
    monkeypatch.setenv("MJNB_HOME", str(tmp_path / "home"))
    ready = {"now": False}
    server = HostileServer(lambda request: Reply(404))

    def fetch(request: Request) -> Reply:
        if ready["now"]:
            return Reply.json(mj_task(imageUrl=server.url + "/files/small.png"))
        return Reply.json(mj_task("IN_PROGRESS", progress=f"{server.count('GET', '/fetch')}%"))

    server.handler = mjproxy(fetch=fetch)
    try:
        task = _client(server, tmp_path, task_timeout=1.0).imagine("a fox").wait(20)
        assert task.status == "failed" and "task_timeout" in (task.error or ""), task.error
        assert task.snapshot.remote_id == "t1" and ".refetch()" in (task.error or "")
        ready["now"] = True
        later = _client(server, tmp_path)
        pending = later.pending()  # the paid result is listed as "fetch", free
        assert list(pending["action"]) == ["fetch"] and list(pending["task_id"]) == [task.id]
        [fetched] = later.resume()
        assert fetched.id == task.id and fetched.wait(20).status == "succeeded", fetched.error
        assert fetched.image_path is not None and fetched.image_path.exists()
        assert server.count("POST", "/mj/submit/") == 1  # polled again, never sent again
        assert _client(server, tmp_path).pending().empty
        with pytest.raises(mjnb.NotFound, match="Nothing to resume"):
            _client(server, tmp_path).resume()
        row = _client(server, tmp_path).log().set_index("task_id").loc[task.id]
        assert row["status"] == "succeeded" and row["remote_id"] == "t1"
    finally:
        server.close()


def test_an_image_the_disk_could_not_take_is_downloaded_again_once_there_is_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("MJNB_HOME", str(home))
    home.mkdir()
    (home / "images").write_text("not a folder\n")  # an unwritable image cache
    server = HostileServer(lambda request: Reply(404))
    server.handler = mjproxy(
        fetch=lambda r: Reply.json(mj_task(imageUrl=server.url + "/files/small.png"))
    )
    try:
        task = _client(server, tmp_path).imagine("a fox").wait(20)
        assert str(home / "images") in (task.error or "") and ".refetch()" in task.error
        assert task.image_path is None
        (home / "images").unlink()  # room again
        later = _client(server, tmp_path).task(task.id)
        later.refetch().wait(20)  # task.refetch() does the same as resume() for one task
        assert later.status == "succeeded" and later.error is None, later.error
        assert later.image.size[0] > 0
        # a damaged cache file: a StorageError that says how to get it again
        later.image_path.write_bytes(later.image_path.read_bytes()[:100])
        again = _client(server, tmp_path).task(task.id)
        with pytest.raises(mjnb.StorageError, match=r"refetch\(\)"):
            again.image  # noqa: B018
        assert again.refetch().wait(20).image.size[0] > 0
    finally:
        server.close()


def test_httpx_log_lines_never_show_a_query_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Zhishuyun carries its token as ``?token=``; httpx logs every URL at INFO."""
    monkeypatch.setenv("MJNB_HOME", str(tmp_path / "home"))
    server = HostileServer(echo_token(lower=False)(None))  # type: ignore[arg-type]
    try:
        with caplog.at_level(logging.INFO, logger="httpx"):
            task = _client(server, tmp_path, "zhishuyun").imagine("a fox").wait(20)
    finally:
        server.close()
    assert task.status == "failed"
    said = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert said and any("token=" in line for line in said), said
    assert not leaks("\n".join(said)) and not leaks(task.error or ""), said
