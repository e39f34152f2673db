"""V8.x prompts in each provider's own wire form, over loopback to the simulator.

Each adapter builds its requests; they are sent with httpx as they are (not through
``mjnb.Client``), and the test checks what the simulator received (its job store) and
that the job succeeds. What the simulator answers is its own reading of each protocol.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from mjnb.prompt import PromptWarning, parse_prompt
from mjnb.providers.acedata import AceDataAdapter
from mjnb.providers.base import AdapterBase, Job, Snapshot
from mjnb.providers.metachat import MetaChatAdapter
from mjnb.providers.mjproxy import MJProxyAdapter
from mjnb.providers.youchuan import YouchuanAdapter
from mjnb.simulator import RunningSimulator

FAST = {"latency": 0.3, "long_side": 128, "progress_steps": 2}


@pytest.fixture
def sim(make_sim: Callable[..., RunningSimulator]) -> RunningSimulator:
    return make_sim()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=20.0) as client:
        yield client


def job(prompt: str, **options: Any) -> Job:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PromptWarning)
        return Job("imagine", prompt=str(parse_prompt(prompt)), **options)


def run(adapter: AdapterBase, http: httpx.Client, todo: Job, timeout: float = 20.0) -> Snapshot:
    """Submit ``todo`` and poll it to the end, as the engine would (without retries)."""
    done = adapter.local(todo)
    if done is not None:
        return done
    snap = adapter.parse_submit(todo, http.send(adapter.submit(todo)))
    end = time.monotonic() + timeout
    while not snap.done:
        assert time.monotonic() < end, f"job still {snap.status} after {timeout} s"
        time.sleep(0.1)
        snap = adapter.parse_poll(snap, http.send(adapter.poll(snap)))
    return snap


def jobs(sim: RunningSimulator, protocol: str) -> list[Any]:
    """The simulator's own records of the jobs one protocol received, oldest first."""
    found: list[Any] = sim.app.state.sim.table.of(protocol)
    return found


def sent(request: httpx.Request) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(request.content)
    return data


# -- Ace: fields beside the prompt ------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "mode", "fields"),
    [
        ("a fox --v 8.1 --hd", "turbo", {"version": "8.1", "hd": True, "mode": "fast"}),
        ("a fox --v 8.2 --q 2 --hd", None, {"version": "8.2", "hd": True, "quality": "2"}),
        ("a fox --v 8 --q 4 --relax", None, {"version": "8", "quality": "4", "mode": "relax"}),
    ],
)
def test_ace_sends_v8_fields_and_the_job_succeeds(
    sim: RunningSimulator, http: httpx.Client, prompt: str, mode: str | None,
    fields: dict[str, Any],
) -> None:  # fmt: skip
    ace = AceDataAdapter(base_url=sim.url, token="tok")
    imagine = job(prompt, mode=mode, translate=True)
    done = run(ace, http, imagine)
    assert done.status == "succeeded", done.error
    record = jobs(sim, "acedata")[-1]
    request = record.meta["request"]
    assert {k: request[k] for k in fields} == fields
    assert request["translation"] is True and request["async"] is True
    if "quality" not in fields:
        assert "quality" not in request
    assert "--relax" not in request["prompt"] and "--turbo" not in request["prompt"]
    version = fields["version"]
    assert str(record.params["version"]) == version  # the simulator read the same model
    assert record.params.get("hd") == fields.get("hd")
    assert record.speed == fields.get("mode", "fast")
    assert done.actions[:9] == ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "reroll"]


def test_ace_acts_on_a_v81_job_with_what_it_listed(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    ace = AceDataAdapter(base_url=sim.url, token="tok")
    imagine = job("a fox --v 8.1 --hd")
    grid = run(ace, http, imagine)
    assert grid.status == "succeeded", grid.error
    v2 = run(ace, http, Job("action", prompt=imagine.prompt, label="V2", parent=grid, mode="turbo"))
    assert v2.status == "succeeded", v2.error
    request = jobs(sim, "acedata")[-1].meta["request"]
    assert (request["action"], request["mode"]) == ("variation2", "fast")


# -- midjourney-proxy: all in the prompt text ---------------------------------------------


def test_mjproxy_sends_v81_hd_in_the_prompt(sim: RunningSimulator, http: httpx.Client) -> None:
    proxy = MJProxyAdapter(base_url=sim.url, token="tok")
    imagine = job("a fox --v 8.1 --hd --ar 16:9")
    assert sent(proxy.submit(imagine))["prompt"] == "a fox --ar 16:9 --version 8.1 --hd"
    done = run(proxy, http, imagine)
    assert done.status == "succeeded", done.error
    record = jobs(sim, "mjproxy")[-1]
    assert (str(record.params["version"]), record.params.get("hd")) == ("8.1", True)
    assert {"U1", "V1", "reroll"} <= set(done.actions)  # exactly the buttons listed


# -- MetaChat: model beside the prompt ----------------------------------------------------


def test_metachat_sends_v82_with_the_nearest_documented_model(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    mc = MetaChatAdapter(base_url=sim.url, app_id="app", token="key")
    imagine = job("a fox --v 8.2 --q 2 --hd")
    assert imagine.parsed is not None
    with pytest.warns(PromptWarning, match="documents no model"):
        mc.check(imagine.parsed)
    request = mc.submit(imagine)
    assert sent(request) == {"prompt": "a fox --quality 2 --version 8.2 --hd", "model": "mj-v7"}
    grid = run(mc, http, imagine)
    assert grid.status == "succeeded", grid.error
    record = jobs(sim, "metachat")[-1]
    assert (str(record.params["version"]), record.params.get("hd")) == ("8.2", True)
    one = run(mc, http, Job("action", prompt=imagine.prompt, label="U1", parent=grid))
    assert one.status == "succeeded", one.error
    assert one.actions == ["vary subtle", "vary strong"]  # V8.2: no zoom, pan or upscale


# -- Youchuan: the prompt text is the whole request ---------------------------------------


def test_youchuan_sends_v81_as_its_guide_describes(
    sim: RunningSimulator, http: httpx.Client
) -> None:
    yc = YouchuanAdapter(base_url=sim.url, app_id="app", token="secret")
    imagine = job("a fox --v 8.1 --hd --sv 6")
    assert sent(yc.submit(imagine)) == {"text": "a fox --version 8.1 --sv 6 --hd"}
    grid = run(yc, http, imagine)
    assert grid.status == "succeeded", grid.error
    record = jobs(sim, "youchuan")[-1]
    assert (str(record.params["version"]), record.params.get("hd")) == ("8.1", True)
    chosen = run(yc, http, Job("action", prompt=imagine.prompt, label="U2", parent=grid))
    # no pan, zoom, upscale or vary region on V8.1; video is there (Youchuan's v8.1 guide)
    assert chosen.actions == ["vary subtle", "vary strong", "animate low", "animate high"]
    varied = run(yc, http, Job("action", prompt=imagine.prompt, label="vary strong", parent=chosen))
    assert varied.status == "succeeded", varied.error
    assert jobs(sim, "youchuan")[-1].action == "vary strong"
