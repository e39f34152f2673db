"""A hostile provider for issue 14: every broken or malicious answer, over loopback HTTP.

- :mod:`.server`: the raw asyncio HTTP server, lazy bodies and test images;
- :mod:`.cases`: the cases (:data:`CASES`), each in one protocol's real shapes;
- :mod:`.client`: the client process (public API only) that reports what happened;
- :mod:`.harness`: serve a case, run the capped client, judge it (:func:`problems`).

``tests/test_hostile.py`` runs every case; ``benchmarks/hostile.py`` prints them as a table.
"""

from .cases import BY_NAME, CASES, Case, Outcome
from .harness import problems, run_case, run_cli_echo, run_client, run_resume, run_sim_reset
from .server import CANARY, HostileServer, Reply, Request, leaks, spellings

__all__ = [
    "BY_NAME",
    "CANARY",
    "CASES",
    "Case",
    "HostileServer",
    "Outcome",
    "Reply",
    "Request",
    "leaks",
    "problems",
    "run_case",
    "run_cli_echo",
    "run_client",
    "run_resume",
    "run_sim_reset",
    "spellings",
]
