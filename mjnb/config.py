"""Settings and credentials, resolved in one place.

Precedence, highest first: arguments > ``mjnb.configure(...)`` (and ``%config MJMagic.*``,
which calls it) > environment (``MJNB_*``) > defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .vocab import MAX_THUMBNAIL_SIZE, MIN_THUMBNAIL_SIZE, THUMBNAIL_SIZE

PROVIDER_NAMES = ("local", "acedata", "zhishuyun", "metachat", "mjproxy", "youchuan")

#: provider -> argument name -> environment variable, as SPEC section 2 fixes them
CREDENTIAL_VARS: Mapping[str, Mapping[str, str]] = {
    "local": {},
    "acedata": {"token": "MJNB_ACEDATA_TOKEN"},
    "zhishuyun": {"token": "MJNB_ZHISHUYUN_TOKEN"},
    "metachat": {"app_id": "MJNB_METACHAT_APP_ID", "token": "MJNB_METACHAT_API_KEY"},
    "mjproxy": {"token": "MJNB_MJPROXY_SECRET"},
    "youchuan": {"app_id": "MJNB_YOUCHUAN_APP", "token": "MJNB_YOUCHUAN_SECRET"},
}
#: credentials a provider cannot work without (mjproxy servers may run without a secret)
REQUIRED: Mapping[str, tuple[str, ...]] = {
    "local": (),
    "acedata": ("token",),
    "zhishuyun": ("token",),
    "metachat": ("app_id", "token"),
    "mjproxy": (),
    "youchuan": ("app_id", "token"),
}
BASE_URL_VARS: Mapping[str, str] = {"mjproxy": "MJNB_MJPROXY_URL"}
TITLES: Mapping[str, str] = {
    "local": "The built-in simulator",
    "acedata": "Ace Data Cloud",
    "zhishuyun": "Zhishuyun",
    "metachat": "MetaChat",
    "mjproxy": "midjourney-proxy",
    "youchuan": "Youchuan",
}
_WHAT: Mapping[tuple[str, str], str] = {
    ("metachat", "app_id"): "an app id",
    ("metachat", "token"): "an API key",
    ("youchuan", "app_id"): "an app id",
    ("youchuan", "token"): "a secret",
}


@dataclass(frozen=True)
class Settings:
    """Everything a client needs besides credentials; see :func:`configure`."""

    provider: str = "local"
    base_url: str | None = None
    max_concurrency: int = 3
    poll_interval: float | None = None  # None: the provider's own default
    stall_timeout: float = 600.0  # fail a job that shows no progress for this long
    #: fail a job still unfinished after this long (its remote id is kept for resume);
    #: generous, like Ace's 480 s and midjourney-proxy's own timeouts
    task_timeout: float = 1800.0
    max_jobs: int = 40
    thumbnail_size: int = THUMBNAIL_SIZE
    home: Path = field(default_factory=lambda: Path("~/.mjnb").expanduser())
    sim_latency: float = 2.0  # the embedded simulator's job time, for provider "local"
    #: refuse prompt parameters mjnb does not know (False: keep them, with a warning)
    strict: bool = True
    #: translate non-English prompts where the provider offers it
    translate: bool = False
    #: where the task log lives: None (``$MJNB_HOME/history.sqlite``), ``sqlite:///path``
    #: or ``postgresql://user:password@host/database`` (a log shared by many kernels)
    log_url: str | None = None


@dataclass(frozen=True)
class Range:
    """The numbers a setting takes: ``low <= value`` and, if ``high`` is set, ``<= high``."""

    low: float
    high: float | None = None

    def __contains__(self, value: float) -> bool:
        return self.low <= value and (self.high is None or value <= self.high)

    def __str__(self) -> str:
        low = f"{self.low:g}"
        return f"at least {low}" if self.high is None else f"{low}-{self.high:g}"


#: the range of every numeric setting, defined once: :func:`settings` checks them and the
#: ``%config MJMagic`` traitlets are built from them (the last two are the notebook views')
RANGES: Mapping[str, Range] = {
    "max_concurrency": Range(1),
    "poll_interval": Range(0),
    "stall_timeout": Range(0),
    "task_timeout": Range(0),
    "max_jobs": Range(1),
    "thumbnail_size": Range(MIN_THUMBNAIL_SIZE, MAX_THUMBNAIL_SIZE),
    "sim_latency": Range(0),
    "updates_per_second": Range(0.1, 30),
    "jpeg_quality": Range(20, 95),
}


_ENV: Mapping[str, str] = {
    "provider": "MJNB_PROVIDER",
    "base_url": "MJNB_BASE_URL",
    "home": "MJNB_HOME",
    "max_concurrency": "MJNB_MAX_CONCURRENCY",
    "poll_interval": "MJNB_POLL_INTERVAL",
    "sim_latency": "MJNB_SIM_LATENCY",
    "task_timeout": "MJNB_TASK_TIMEOUT",
    "strict": "MJNB_STRICT",
    "translate": "MJNB_TRANSLATE",
    "log_url": "MJNB_LOG_URL",
}
_configured: dict[str, Any] = {}


def configure(**settings: Any) -> None:
    """Set process-wide defaults for new clients, e.g. ``configure(provider="mjproxy")``.

    Passing ``None`` for a name forgets what was set before. Credentials are not
    settings: pass them to ``Client(...)`` or set the ``MJNB_*`` variables.
    """
    known = {f.name for f in fields(Settings)}
    for name, value in settings.items():
        if name not in known:
            raise ConfigError(
                f"Unknown setting {name!r}; the settings are: {', '.join(sorted(known))}."
            )
        if value is None:
            _configured.pop(name, None)
        else:
            _configured[name] = value


def settings(**arguments: Any) -> Settings:
    """The settings in force: ``arguments`` > :func:`configure` > environment > defaults."""
    values: dict[str, Any] = {}
    for name, var in _ENV.items():
        if os.environ.get(var):
            values[name] = os.environ[var]
    values.update(_configured)
    values.update({k: v for k, v in arguments.items() if v is not None})
    result = replace(Settings(), **{k: _convert(k, v) for k, v in values.items()})
    if result.provider not in PROVIDER_NAMES:
        raise ConfigError(
            f"Unknown provider {result.provider!r}; choose one of {', '.join(PROVIDER_NAMES)}."
        )
    return result


def _convert(name: str, value: Any) -> Any:
    if name == "home":
        return Path(value).expanduser()
    if name == "log_url":
        return os.fspath(value).strip() or None
    if name in ("strict", "translate"):
        return _flag(name, value)
    kind = _NUMBERS.get(name)
    if kind is None:
        return value
    try:
        number = kind(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"Setting {name} must be a positive number, got {value!r}.") from None
    if number != number or number == float("inf") or number not in RANGES[name]:
        raise ConfigError(f"Setting {name} must be {RANGES[name]}, got {value!r}.")
    return number


_NUMBERS: Mapping[str, type] = {
    "max_concurrency": int,
    "max_jobs": int,
    "thumbnail_size": int,
    "poll_interval": float,
    "stall_timeout": float,
    "task_timeout": float,
    "sim_latency": float,
}


def _flag(name: str, value: Any) -> bool:
    """A yes/no setting from Python (a bool) or the environment (1/0, true/false ...)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"Setting {name} must be true or false, got {value!r}.")


def credentials(provider: str, arguments: Mapping[str, str | None]) -> dict[str, str]:
    """The provider's credentials from ``arguments`` or the environment.

    Raises ConfigError naming the variable to set when a required one is missing.
    """
    found: dict[str, str] = {}
    for argument, var in CREDENTIAL_VARS[provider].items():
        value = arguments.get(argument) or os.environ.get(var)
        if value:
            found[argument] = value
        elif argument in REQUIRED[provider]:
            what = _WHAT.get((provider, argument), "a token")
            raise ConfigError(
                f"{TITLES[provider]} needs {what}: set {var} (or pass {argument}=... to "
                "mjnb.Client)."
            )
    return found


def base_url_for(provider: str, settings: Settings) -> str | None:
    """``MJNB_BASE_URL`` (or ``base_url=``) beats the provider's own variable."""
    if settings.base_url:
        return settings.base_url.rstrip("/")
    var = BASE_URL_VARS.get(provider)
    if var and os.environ.get(var):
        return os.environ[var].rstrip("/")
    return None
