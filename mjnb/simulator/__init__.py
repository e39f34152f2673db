"""An offline Midjourney proxy: the Ace Data Cloud/Zhishuyun, MetaChat, midjourney-proxy
and Youchuan protocols, served by one Starlette app with no network and no key.

    from mjnb.simulator import SimConfig, serve

    with serve(SimConfig(latency=1.0)) as sim:        # a free loopback port
        print(sim.url)                                  # http://127.0.0.1:PORT
        ...                                             # point any provider at sim.url
        print(sim.stats())                              # what it received and did

    app = create_app(SimConfig())                       # in-process, e.g. httpx.ASGITransport

What it simulates
- Jobs run ``latency`` seconds behind ``concurrency`` slots with a waiting queue of
  ``queue_size``; progress moves in ``progress_steps`` steps with blurred previews; a
  ``fail_rate`` share fails while running; ``rate_limit`` requests/s before 429s;
  ``token`` checked each protocol's way; image URLs signed and expiring after
  ``url_ttl`` seconds, like Discord CDN links.
- Each protocol at its real paths with its quirks (``mjnb.simulator.acedata``,
  ``.metachat``, ``.mjproxy``, ``.youchuan``): NDJSON streaming, callbacks and
  notifyHook (loopback addresses only), HTTP-200 errors, string progress, queue-full
  and moderation codes, four separate images per job.
- Faults on demand (``mjnb.simulator.faults``): dropped connections, stalled jobs,
  answers slower than the client's timeout, malformed JSON.
- Pictures are deterministic from prompt, seed and parameters (``mjnb.simulator.art``);
  actions behave like Midjourney's (U crops a tile, V varies it, zoom adds a border,
  pan extends). Prompts are checked with the same parser the client uses
  (:func:`mjnb.prompt.parse_prompt`); nothing else is shared with the client's adapters.
- ``GET /_sim/stats`` counts submits, polls, outcomes, 429s, downloads, cancels and the
  peaks of running and waiting jobs, so tests can prove that nothing was submitted
  twice. With a ``token`` every ``/_sim`` route needs it.

Where things live: ``app`` (a ``Mount`` per protocol, ``/_sim``), ``model`` (jobs and
their planned timelines on an injected clock), ``state`` (counters, limiter, signed
URLs, uploads, webhooks), ``wire`` (bodies, fields, errors, the ``Mount`` builder),
``versions`` (actions per Midjourney version), ``images``, ``faults``, ``server``, one
module per protocol and the ``art`` package.
"""

from __future__ import annotations

from mjnb.simulator.app import create_app
from mjnb.simulator.config import SimConfig
from mjnb.simulator.server import RunningSimulator, serve

__all__ = ["RunningSimulator", "SimConfig", "create_app", "serve"]
