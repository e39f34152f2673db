"""Provider ``local``: the built-in simulator, started in-process on a free loopback port.

It speaks the Ace Data Cloud protocol (with NDJSON streaming), so ``local`` exercises
the same adapter code a paying user runs, with no key and no network.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..simulator import RunningSimulator

_lock = threading.Lock()
_running: dict[float, RunningSimulator] = {}


def embedded_simulator_url(latency: float) -> str:
    """The URL of this process's simulator with that job latency, started on first use."""
    with _lock:
        if latency not in _running:
            from ..simulator import SimConfig, serve

            _running[latency] = serve(SimConfig(latency=latency))
        return _running[latency].url
