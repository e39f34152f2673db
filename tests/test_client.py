"""The Python API end to end: every provider against the simulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import gc
import io
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import mjnb
from mjnb.simulator import RunningSimulator
from tests.conftest import CANARY

FAST = {"latency": 0.3, "long_side": 256, "progress_steps": 3}


def client_for(provider: str, sim: RunningSimulator, **options: Any) -> mjnb.Client:
    credentials: dict[str, Any] = {"token": CANARY}
    if provider == "metachat":
        credentials["app_id"] = "app-1"
    options.setdefault("poll_interval", 0.05)
    return mjnb.Client(provider, base_url=sim.url, **credentials, **options)


PROVIDERS = ["acedata", "zhishuyun", "metachat", "mjproxy"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_imagine_upscale_vary_zoom(
    provider: str, make_sim: Callable[..., RunningSimulator]
) -> None:
    sim = make_sim(token=CANARY)
    mj = client_for(provider, sim)
    task = mj.imagine("a red fox in snow --ar 3:2 --seed 7")
    assert task.wait(timeout=30).status == "succeeded", task.error
    assert task.progress == 100
    width, height = task.image.size
    assert width * 2 == height * 3
    assert len(task.tiles) == 4
    assert {"U1", "U2", "V3", "reroll"} <= set(task.actions)

    upscaled = task.act("U2").wait(timeout=30)
    assert upscaled.status == "succeeded", upscaled.error
    assert upscaled.parent_id == task.id
    assert upscaled.image.size[0] * 2 == upscaled.image.size[1] * 3
    assert "vary subtle" in upscaled.actions

    varied = upscaled.vary("subtle").wait(timeout=30)
    assert varied.status == "succeeded", varied.error
    zoomed = upscaled.zoom_out(2).wait(timeout=30)
    assert zoomed.status == "succeeded", zoomed.error
    assert zoomed.image_path is not None and zoomed.image_path.exists()
    assert sim.stats()["submits"] == 4


def test_local_provider_needs_no_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MJNB_SIM_LATENCY", "0.3")
    mj = mjnb.Client()
    assert mj.provider == "local"
    task = mj.imagine("a red fox --ar 3:2 --seed 7")
    assert task.status in ("queued", "running")  # returned at once
    assert task.wait(timeout=30).status == "succeeded", task.error
    assert task.image.size[0] * 2 == task.image.size[1] * 3
    assert len(task.tiles) == 4
    variation = task.act("V3").wait(timeout=30)
    assert variation.status == "succeeded"
    zoom = task.act("U1").wait(timeout=30).act("zoom 2x").wait(timeout=30)
    assert zoom.status == "succeeded"


def test_bad_prompt_raises_before_sending(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim()
    mj = client_for("mjproxy", sim)
    with pytest.raises(mjnb.PromptError, match="stylize"):
        mj.imagine("a fox --s 5000")
    with pytest.raises(mjnb.PromptError, match="sweep"):
        mj.imagine("a {fox, wolf}")
    assert sim.stats()["submits"] == 0
    assert len(mj.log()) == 0


def test_action_not_offered_is_refused(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim()
    mj = client_for("acedata", sim)
    task = mj.imagine("a fox --seed 1").wait(timeout=30)
    with pytest.raises(mjnb.Rejected, match="does not offer 'zoom 2x'"):
        task.act("zoom 2x")
    with pytest.raises(mjnb.MJError, match="Unknown action"):
        task.act("U9")
    assert sim.stats()["submits"] == 1


def test_async_client_and_await(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim()

    async def main() -> list[str]:
        amj = mjnb.AsyncClient("mjproxy", base_url=sim.url, poll_interval=0.05)
        tasks = [await amj.imagine(f"a fox --seed {seed}") for seed in (1, 2)]
        done = await asyncio.gather(*tasks)
        child = await (await amj.act(done[0], "U1"))
        return [t.status for t in [*done, child]]

    assert asyncio.run(main()) == ["succeeded"] * 3


def test_failed_job_carries_the_reason(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(fail_rate=1.0)
    for provider in ("acedata", "mjproxy", "metachat"):
        task = client_for(provider, sim).imagine("a fox").wait(timeout=30)
        assert task.status == "failed"
        assert task.error
        with pytest.raises(mjnb.TaskFailed):
            task.raise_for_status()


def test_rate_limit_storm_creates_no_duplicates(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(rate_limit=4.0, concurrency=2, queue_size=1)
    mj = client_for("mjproxy", sim, max_concurrency=6)
    tasks = [mj.imagine(f"a fox --seed {i}") for i in range(8)]
    for task in tasks:
        assert task.wait(timeout=60).status == "succeeded", task.error
    stats = sim.stats()
    assert stats["submits"] == 8
    assert stats["rejected_429"] > 0 or stats.get("queue_full", 0) > 0


def test_stalled_job_times_out(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(latency=60.0, progress_steps=2)
    mj = client_for("mjproxy", sim, stall_timeout=0.6)
    task = mj.imagine("a fox").wait(timeout=30)
    assert task.status == "failed"
    assert "no progress" in (task.error or "")
    assert sim.stats()["submits"] == 1


def test_wrong_token_is_an_auth_error(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(token="right-token")
    for provider in PROVIDERS:
        task = client_for(provider, sim).imagine("a fox").wait(timeout=30)
        assert task.status == "failed"
        assert CANARY not in (task.error or "")
        assert any(word in (task.error or "") for word in ("token", "credential", "MJNB_"))
    assert sim.stats()["submits"] == 0


def test_missing_credential_names_the_variable() -> None:
    with pytest.raises(mjnb.ConfigError, match="MJNB_ACEDATA_TOKEN"):
        mjnb.Client("acedata")
    with pytest.raises(mjnb.ConfigError, match="MJNB_METACHAT_APP_ID"):
        mjnb.Client("metachat", token="x")
    with pytest.raises(mjnb.ConfigError, match="local, acedata"):
        mjnb.Client("nope")


def test_credentials_from_environment(
    make_sim: Callable[..., RunningSimulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_sim(token=CANARY)
    monkeypatch.setenv("MJNB_PROVIDER", "acedata")
    monkeypatch.setenv("MJNB_ACEDATA_TOKEN", CANARY)
    monkeypatch.setenv("MJNB_BASE_URL", sim.url)
    mj = mjnb.Client(poll_interval=0.05)
    assert mj.provider == "acedata"
    assert mj.imagine("a fox").wait(timeout=30).status == "succeeded"


def test_canary_token_never_leaks(
    make_sim: Callable[..., RunningSimulator], capsys: pytest.CaptureFixture[str]
) -> None:
    sim = make_sim(token=CANARY, fail_rate=0.5, seed=3)
    seen: list[str] = []
    for provider in PROVIDERS:
        mj = client_for(provider, sim)
        seen += [repr(mj), str(mj.settings)]
        for seed in (1, 2):
            task = mj.imagine(f"a fox --seed {seed}").wait(timeout=30)
            seen += [repr(task), str(task.error), repr(task.snapshot)]
        try:
            mj.act(task, "U1")
        except mjnb.MJError as exc:
            seen.append(str(exc))
        seen.append(mj.log().to_csv())
    out = capsys.readouterr()
    seen += [out.out, out.err]
    assert not [text for text in seen if CANARY in text]
    home = Path(os.environ["MJNB_HOME"])
    for path in home.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path


def test_wait_in_a_plain_script(make_sim: Callable[..., RunningSimulator], tmp_path: Path) -> None:
    sim = make_sim()
    script = textwrap.dedent(
        f"""
        import mjnb
        mj = mjnb.Client("mjproxy", base_url={sim.url!r}, poll_interval=0.05)
        task = mj.imagine("a blue whale --ar 16:9 --seed 3").wait(timeout=30)
        print(task.status, task.image.size, task.image_path.exists())
        """
    )
    env = {**os.environ, "MJNB_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("succeeded (")
    assert done.stdout.strip().endswith("True")


def test_listeners_see_progress_in_order(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(progress_steps=4, latency=0.6)
    mj = client_for("acedata", sim)
    seen: list[tuple[str, int]] = []
    task = mj.imagine("a fox --seed 2")
    task.add_listener(lambda t: seen.append((t.status, t.progress)))
    task.wait(timeout=30)
    progress = [p for _, p in seen]
    assert progress == sorted(progress)
    assert seen[-1] == ("succeeded", 100)
    del task
    gc.collect()


def test_a_new_concurrency_limit_applies_to_the_endpoint(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(latency=1.5, concurrency=4)
    client_for("mjproxy", sim, max_concurrency=1).imagine("a fox").wait(timeout=30)
    wider = client_for("mjproxy", sim, max_concurrency=4)
    tasks = [wider.imagine(f"a fox --seed {seed}") for seed in range(4)]
    deadline = time.monotonic() + 5
    while sim.stats()["running"] < 4:
        assert time.monotonic() < deadline, "the first client's limit of 1 still applies"
        time.sleep(0.05)
    for task in tasks:
        assert task.wait(timeout=30).status == "succeeded"


def test_thumbnails_are_made_once_in_the_cache(make_sim: Callable[..., RunningSimulator]) -> None:
    from PIL import Image

    sim = make_sim()
    task = client_for("mjproxy", sim).imagine("a fox --seed 3").wait(timeout=30)
    first = task.thumbnail(128, quality=70)
    thumbs = Path(os.environ["MJNB_HOME"]) / "images" / "thumbs"
    [cached] = thumbs.glob("*-128-q70.jpg")
    made = cached.stat().st_mtime_ns
    assert task.thumbnail(128, quality=70) == first == cached.read_bytes()
    assert cached.stat().st_mtime_ns == made
    with Image.open(io.BytesIO(first)) as image:
        assert max(image.size) == 128 and image.format == "JPEG"


@pytest.mark.parametrize("provider", ["mjproxy", "metachat"])
def test_run_time_uses_the_providers_clock_when_no_poll_saw_it_running(
    provider: str, make_sim: Callable[..., RunningSimulator]
) -> None:
    sim = make_sim(latency=2.5)
    mj = client_for(provider, sim, poll_interval=5.0)  # the first poll finds it done
    task = mj.imagine("a quick fox --seed 4").wait(timeout=30)
    assert task.status == "succeeded"
    row = mj.log().set_index("task_id").loc[task.id]
    # 2.5 s of work; MetaChat reports whole seconds (so +-1 s); polling alone said 5 s or 0
    assert 1.2 < row["run_s"] < 3.6, row[["queue_s", "run_s"]]
