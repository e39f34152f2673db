"""Where the task log lives: ``sqlite:///path`` (the default) or ``postgresql://...``.

One person's log is an SQLite file, ``$MJNB_HOME/history.sqlite``. A class or a studio
shares one PostgreSQL database: ``MJNB_LOG_URL``, ``Client(log=...)``,
``mjnb.configure(log_url=...)`` or ``%config MJMagic.log_url``. Parsing needs no
database library, so a bad URL is refused before anything is opened or sent, and the
password in a URL never reaches a repr, an error or a log line (:class:`LogURL` prints
``***`` in its place).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from mjnb.errors import ConfigError
from mjnb.secrets import scrub

__all__ = ["LogURL", "default_log_path", "parse_log_url"]

_SQLITE_SCHEMES = ("sqlite", "sqlite3", "sqlite+pysqlite")
_PG_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg3")
_PG_DRIVER = "postgresql+psycopg"


def default_log_path(home: str | os.PathLike[str]) -> Path:
    """The default log: ``$MJNB_HOME/history.sqlite``."""
    return Path(home).expanduser() / "history.sqlite"


@dataclass(frozen=True)
class LogURL:
    """A parsed log location. ``kind`` is ``"sqlite"`` or ``"postgresql"``.

    ``path`` is the SQLite file (None for PostgreSQL); ``url`` is the full URL with the
    driver (``postgresql+psycopg://``) and the password, for the database layer only;
    ``str()``, ``repr()`` and :attr:`safe` show ``***`` instead of the password.
    """

    kind: str
    url: str = field(repr=False)
    path: Path | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def safe(self) -> str:
        """The URL with the password replaced by ``***``: safe to print."""
        if self.kind == "sqlite":
            return f"sqlite:///{self.path}"
        parts = urlsplit(self.url)
        netloc = parts.netloc
        if self.password is not None and "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user = userinfo.partition(":")[0]
            netloc = f"{user}:***@{hostport}"
        return scrub(urlunsplit(parts._replace(netloc=netloc)), [self.password])

    @property
    def where(self) -> str:
        """What error messages name: the file, or the safe URL."""
        return str(self.path) if self.path is not None else self.safe

    def __str__(self) -> str:
        return self.safe

    def __repr__(self) -> str:
        return f"LogURL({self.safe!r})"


def parse_log_url(value: str | os.PathLike[str] | LogURL | None, home: Path) -> LogURL:
    """A log location from a URL, a plain path, or None (the default file under ``home``).

    Raises ConfigError for anything else (an unknown scheme, an SQLite URL without a
    path, a PostgreSQL URL without a host or database), naming the URL safely.
    """
    if isinstance(value, LogURL):
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        path = default_log_path(home)
        return LogURL("sqlite", f"sqlite:///{path}", path.absolute())
    if not isinstance(value, str):
        path = Path(value).expanduser().absolute()
        return LogURL("sqlite", f"sqlite:///{path}", path)
    text = value.strip()
    if "://" not in text:
        if ":" in text.split("/", 1)[0] and not os.path.isabs(text):
            raise ConfigError(
                f"The log URL {_mask(text)!r} is not a URL mjnb understands; use "
                "sqlite:///path/to/history.sqlite or postgresql://user@host/database."
            )
        path = Path(text).expanduser().absolute()
        return LogURL("sqlite", f"sqlite:///{path}", path)
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme in _SQLITE_SCHEMES:
        raw = unquote(rest.split("?", 1)[0])
        if raw.startswith("/"):
            raw = raw[1:]  # sqlite:///relative, sqlite:////absolute (SQLAlchemy's rule)
        if not raw or raw == ":memory:":
            raise ConfigError(
                "An SQLite log URL needs a file: sqlite:///path/to/history.sqlite "
                f"(got {_mask(text)!r})."
            )
        path = Path(raw).expanduser().absolute()
        return LogURL("sqlite", f"sqlite:///{path}", path)
    if scheme in _PG_SCHEMES:
        return _postgres(text, rest)
    raise ConfigError(
        f"The log URL {_mask(text)!r} has an unknown scheme {scheme!r}; use "
        "sqlite:///path/to/history.sqlite or postgresql://user:password@host/database."
    )


def _postgres(text: str, rest: str) -> LogURL:
    parts = urlsplit(f"{_PG_DRIVER}://{rest}")
    try:
        password = parts.password
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"The log URL {_mask(text)!r} is not valid: {exc}.") from None
    host = parts.hostname
    database = parts.path.lstrip("/")
    query_host = "host=" in parts.query  # a Unix socket folder given as ?host=/run/...
    if not (host or query_host) or not database or "/" in database:
        raise ConfigError(
            f"The log URL {_mask(text)!r} needs a host and a database: "
            "postgresql://user:password@host:5432/database."
        )
    del port
    return LogURL(
        "postgresql",
        urlunsplit(parts),
        None,
        None if password is None else unquote(password),
    )


def _mask(text: str) -> str:
    """``text`` with any password in it replaced by ``***`` (for error messages)."""
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return "<unparseable URL>"
    if password is None:
        return text
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    masked = urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))
    return scrub(masked, [password, unquote(password), quote(unquote(password))])
