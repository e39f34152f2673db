"""Shared fixtures. Every test runs with no MJNB_* variable set and its own MJNB_HOME."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pgserver import pg_server, pg_url  # noqa: F401  (fixtures: the target fixture below)

from mjnb.simulator import RunningSimulator, SimConfig, serve

CANARY = "sk-CANARY-7f3a9c-do-not-leak"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Clear every MJNB_* variable and point MJNB_HOME at a fresh temp dir."""
    for name in list(os.environ):
        if name.startswith("MJNB_"):
            monkeypatch.delenv(name)
    home = tmp_path / "mjnb-home"
    monkeypatch.setenv("MJNB_HOME", str(home))
    yield home


# --- simulator fixtures: sim_config -> sim_app (in-process) / sim (real port) -------------


@pytest.fixture
def sim_config() -> object:
    """A fast simulator: 0.3 s jobs, small pictures. Override it in a module to change it."""
    from mjnb.simulator import SimConfig

    return SimConfig(latency=0.3, long_side=256, progress_steps=3)


@pytest.fixture
def sim_app(sim_config: object) -> object:
    """The simulator as an ASGI app, for ``httpx.ASGITransport``."""
    from mjnb.simulator import create_app

    return create_app(sim_config)


@pytest.fixture
def drill_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningSimulator]:
    """The kill -9 resume drills' simulator: 4 s jobs, so a killed child leaves work
    logged and unsent behind a slow one."""
    monkeypatch.setenv("MJNB_SLOT_LEASE", "2")  # the dead kernel's slot frees in 2 s
    running = serve(SimConfig(latency=4.0, long_side=128, progress_steps=2))
    yield running
    running.stop()


@pytest.fixture
def asgi_engine() -> Iterator[Callable[[Any], Any]]:
    """Make private engines whose pool talks to an ASGI app in process (the simulator,
    or a wrapper around it); each is closed afterwards."""
    import httpx

    from mjnb.runtime import Engine

    engines: list[Engine] = []

    def make(app: Any) -> Engine:
        engine = Engine(transport=httpx.ASGITransport(app=app))
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


@pytest.fixture
def sim(sim_config: object) -> Iterator[object]:
    """A simulator serving on a free loopback port (``sim.url``), stopped afterwards."""
    from mjnb.simulator import serve

    with serve(sim_config) as running:
        yield running


class WebhookReceiver:
    """A tiny loopback HTTP server that records the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.bodies: list[object] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver._cond:
                    receiver.bodies.append(json.loads(raw or b"null"))
                    receiver._cond.notify_all()
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, predicate: object, timeout: float = 10.0) -> list[object]:
        """Wait until ``predicate(bodies)`` is true; return the bodies (fails on timeout)."""
        with self._cond:
            ok = self._cond.wait_for(lambda: predicate(self.bodies), timeout)
        assert ok, f"webhook condition not met; received {self.bodies!r}"
        return list(self.bodies)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """A loopback webhook receiver (``webhook.url``, ``webhook.bodies``, ``wait_for``)."""
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def make_sim(request: pytest.FixtureRequest) -> Iterator[Callable[..., RunningSimulator]]:
    """Start simulators on real loopback ports; all are stopped after the test.

    ``make_sim(**knobs)``: the knobs go over the test module's ``FAST`` defaults (a dict
    of SimConfig fields), if it has one.
    """
    defaults = getattr(request.module, "FAST", {})
    running: list[RunningSimulator] = []

    def make(**knobs: Any) -> RunningSimulator:
        sim = serve(SimConfig(**{**defaults, **knobs}))
        running.append(sim)
        return sim

    yield make
    for sim in running:
        sim.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, isolated_env: Path) -> str:
    """Where a test's log lives: a fresh SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(isolated_env / "history.sqlite")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failing test's report also shows what its fixtures have to say: a fixture
    value with a ``report_section()`` (e.g. a server subprocess's stderr) adds one."""
    report = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            if callable(getattr(type(value), "report_section", None)):  # not __getattr__
                report.sections.append(value.report_section())
    return report
