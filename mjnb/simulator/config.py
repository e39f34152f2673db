"""The simulator's settings, in one frozen dataclass.

Every knob a test, a benchmark or a class demo turns lives here: how long a job
runs, how many run at once, how long the queue is, how often jobs fail, how many
requests per second are allowed, the credential, how long image URLs stay valid,
and how big the pictures are.
"""

from __future__ import annotations

from dataclasses import dataclass

from mjnb.errors import ConfigError

__all__ = ["COMMENT_LANGUAGES", "DEFAULT_BANNED_WORDS", "SimConfig"]

#: Youchuan ``comment`` languages: English codes, Chinese words, or every third job Chinese.
COMMENT_LANGUAGES: tuple[str, ...] = ("en", "zh", "mixed")

#: Words that trip the simulated moderation (Ace 403, MetaChat Fail, mjproxy code 24).
DEFAULT_BANNED_WORDS: tuple[str, ...] = ("blood", "gore", "nsfw", "nude", "corpse")


@dataclass(frozen=True)
class SimConfig:
    """How the simulated Midjourney proxy behaves.

    ``latency``: seconds a job runs once it has a slot (relax mode doubles it, turbo
    halves it). ``concurrency``: jobs running at once; later ones wait. ``queue_size``:
    waiting jobs allowed before submits get the protocol's "queue full" answer.
    ``fail_rate``: probability that a job fails while running (drawn from ``seed`` and
    the job counter, so a run is reproducible). ``rate_limit``: requests per second
    allowed (token bucket, bursts up to one second's worth) before 429s; ``None`` means
    unlimited. ``token``: the credential every protocol requires, ``None`` accepts any.
    ``url_ttl``: seconds an image URL stays valid (signed like Discord CDN links);
    ``None`` means forever. ``long_side``: pixels on the long side of a 2x2 grid.
    ``progress_steps``: distinct progress values while a job runs (4: 0, 25, 50, 75).
    ``seed``: makes random choices (seeds, failures) reproducible. ``max_body``: the
    largest request body accepted, in bytes (larger ones get 413).
    ``preview_ttl``: seconds a job's preview URLs stay downloadable after the job ends
    (real CDNs do not delete them at once; 0 deletes them when it ends).
    ``comment_lang``: Youchuan's ``comment`` language: ``en`` (``JobStatusSuccess``
    ...), ``zh`` (成功 ...) or ``mixed`` (every third job in Chinese, as clients see).
    ``max_jobs``: jobs kept; beyond it the oldest finished ones are forgotten (then the
    oldest of all). ``max_uploads``: uploaded images kept, oldest evicted first.

    Faults, for reliability tests (all 0 by default; see :mod:`mjnb.simulator.faults`):
    ``drop_rate`` share of requests whose connection is closed without a whole answer;
    ``slow_rate`` share answered only after ``slow_seconds`` (past a client's timeout);
    ``bad_json_rate`` share whose JSON answer (or one stream line) is malformed;
    ``stall_rate`` share of jobs that stop progressing and never finish. Faults on a
    submit act after the job was created, as when a connection dies on the way back.
    """

    latency: float = 2.0
    concurrency: int = 3
    queue_size: int = 10
    fail_rate: float = 0.0
    rate_limit: float | None = None
    token: str | None = None
    url_ttl: float | None = None
    long_side: int = 512
    progress_steps: int = 4
    seed: int = 0
    max_body: int = 10 * 1024 * 1024
    banned_words: tuple[str, ...] = DEFAULT_BANNED_WORDS
    drop_rate: float = 0.0
    stall_rate: float = 0.0
    slow_rate: float = 0.0
    bad_json_rate: float = 0.0
    slow_seconds: float = 35.0
    preview_ttl: float = 60.0
    comment_lang: str = "mixed"
    max_jobs: int = 10_000
    max_uploads: int = 256

    def __post_init__(self) -> None:
        problems = []
        if not self.latency >= 0:
            problems.append(f"latency must be 0 or more seconds, got {self.latency}")
        if self.concurrency < 1:
            problems.append(f"concurrency must be at least 1, got {self.concurrency}")
        if self.queue_size < 0:
            problems.append(f"queue_size must be 0 or more, got {self.queue_size}")
        if not 0.0 <= self.fail_rate <= 1.0:
            problems.append(f"fail_rate must be between 0 and 1, got {self.fail_rate}")
        if self.rate_limit is not None and not self.rate_limit > 0:
            problems.append(
                f"rate_limit must be more than 0 requests/s (or None), got {self.rate_limit}"
            )
        if self.url_ttl is not None and not self.url_ttl > 0:
            problems.append(f"url_ttl must be more than 0 seconds (or None), got {self.url_ttl}")
        if not 32 <= self.long_side <= 4096:
            problems.append(f"long_side must be 32-4096 pixels, got {self.long_side}")
        if self.progress_steps < 1:
            problems.append(f"progress_steps must be at least 1, got {self.progress_steps}")
        if self.max_body < 1024:
            problems.append(f"max_body must be at least 1024 bytes, got {self.max_body}")
        for name in ("drop_rate", "stall_rate", "slow_rate", "bad_json_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.drop_rate + self.slow_rate + self.bad_json_rate > 1.0:
            problems.append("drop_rate + slow_rate + bad_json_rate must be at most 1")
        if not self.slow_seconds > 0:
            problems.append(f"slow_seconds must be more than 0, got {self.slow_seconds}")
        if not self.preview_ttl >= 0:
            problems.append(f"preview_ttl must be 0 or more seconds, got {self.preview_ttl}")
        if self.comment_lang not in COMMENT_LANGUAGES:
            problems.append(f"comment_lang must be en, zh or mixed, got {self.comment_lang!r}")
        if self.max_jobs < 1:
            problems.append(f"max_jobs must be at least 1, got {self.max_jobs}")
        if self.max_uploads < 1:
            problems.append(f"max_uploads must be at least 1, got {self.max_uploads}")
        if self.token is not None and not self.token.strip():
            problems.append("token must not be blank; pass None to accept any credential")
        if problems:
            raise ConfigError("Invalid simulator settings: " + "; ".join(problems) + ".")
