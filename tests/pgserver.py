"""A throwaway PostgreSQL server for the tests: Debian's binaries, a temp dir, a free port.

``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres``
user (which Debian's package creates) and the server runs as that user. It listens on
127.0.0.1 only, trusts local connections (no password to leak into a test log) and is
stopped, with its data, when the context ends.

Locally, a machine without the packages skips the PostgreSQL tests with the reason;
under CI (``CI=true``) a missing server is a failure, so a green CI run always means
the tests ran (``scripts/install_postgres.sh`` installs it).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_BIN_ROOT = Path("/usr/lib/postgresql")


def binaries() -> Path | None:
    """The newest installed PostgreSQL ``bin`` folder, or None."""
    versions = sorted(
        (p for p in _BIN_ROOT.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return versions[-1] if versions else None


def missing(reason: str) -> None:
    """Skip locally, fail under CI: the PostgreSQL tests must run in CI."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL is required under CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL not available: {reason} (bash scripts/install_postgres.sh)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(command: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *command] if user else command


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server; yields its SQLAlchemy URL (``postgresql+psycopg://...``)."""
    bin_dir = binaries()
    if bin_dir is None:
        missing(f"no initdb under {_BIN_ROOT}")
    assert bin_dir is not None
    user: str | None = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing("running as root and there is no 'postgres' user to own the cluster")
        user = "postgres"
    root = Path(tempfile.mkdtemp(prefix="mjnb-pg-"))
    data = root / "data"
    if user:
        shutil.chown(root, user)
    port = _free_port()
    log = root / "server.log"
    server: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            _as_owner(
                [str(bin_dir / "initdb"), "-D", str(data), "-U", "mjnb", "-A", "trust", "-E",
                 "UTF8", "--no-sync"],
                user,
            ),
            check=True,
            capture_output=True,
        )  # fmt: skip
        with open(log, "wb") as out:
            server = subprocess.Popen(
                _as_owner(
                    [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k",
                     str(root), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                     "-c", "max_connections=200"],
                    user,
                ),
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            ready = subprocess.run(
                [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield f"postgresql+psycopg://mjnb@127.0.0.1:{port}/postgres"
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(root, ignore_errors=True)
