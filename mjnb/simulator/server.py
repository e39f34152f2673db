"""Running the simulator on a real port, in a background thread.

``serve(config)`` starts uvicorn in a daemon thread on a loopback port (0 picks a free
one) and returns once the port accepts connections; the returned
:class:`RunningSimulator` knows its ``url``, reads ``stats()`` and ``stop()`` s it (it
is also a context manager). ``mjnb serve`` and the ``local`` provider use it.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette

from mjnb.errors import ConfigError
from mjnb.simulator.app import create_app
from mjnb.simulator.config import SimConfig

__all__ = ["RunningSimulator", "serve"]


class RunningSimulator:
    """A simulator serving on a real port. Stop it with :meth:`stop` (or ``with``)."""

    def __init__(
        self,
        app: Starlette,
        server: uvicorn.Server,
        thread: threading.Thread,
        url: str,
        config: SimConfig,
    ) -> None:
        self.app = app
        self.url = url
        self.config = config
        self._server = server
        self._thread = thread

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RunningSimulator {self.url} {state}>"

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stats(self) -> dict[str, Any]:
        """What ``GET /_sim/stats`` answers now."""
        with httpx.Client(trust_env=False, timeout=10.0, headers=self._headers()) as client:
            response = client.get(f"{self.url}/_sim/stats")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def reset(self) -> None:
        """Forget every job and zero the counters."""
        with httpx.Client(trust_env=False, timeout=10.0, headers=self._headers()) as client:
            client.post(f"{self.url}/_sim/reset").raise_for_status()

    def _headers(self) -> dict[str, str]:
        """The token, when the simulator has one: every ``/_sim`` route needs it."""
        token = self.config.token
        return {"authorization": f"Bearer {token}"} if token else {}

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C stops it)."""
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread to end (idempotent)."""
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    config: SimConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    startup_timeout: float = 15.0,
) -> RunningSimulator:
    """Start the simulator on ``host:port`` in a daemon thread; port 0 picks a free port.

    Returns once the port accepts connections. Raises ConfigError if the port cannot be
    bound (say which one is taken) or the server does not come up.
    """
    config = config or SimConfig()
    app = create_app(config)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP so that asyncio sets TCP_NODELAY on accepted connections (it
    # checks the socket's proto); without it every small response waits ~40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"The simulator cannot listen on {host}:{port} ({exc.strerror}); "
            "pick another port, or 0 for a free one."
        ) from exc
    sock.listen(2048)
    bound = sock.getsockname()[1]
    uv_config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        loop="asyncio",
        http="h11",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(uv_config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"mjnb-simulator-{bound}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise ConfigError(
                f"The simulator did not start on {host}:{bound}; see the log for the reason."
            )
        time.sleep(0.01)
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    return RunningSimulator(app, server, thread, f"http://{shown}:{bound}", config)
