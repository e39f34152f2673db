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


class PostgresServer:
    """A throwaway cluster that can be stopped and started again on the same port and
    data (to test a log whose server goes away and comes back)."""

    def __init__(self, password: str | None = None) -> None:
        bin_dir = binaries()
        if bin_dir is None:
            missing(f"no initdb under {_BIN_ROOT}")
        assert bin_dir is not None
        self.bin_dir = bin_dir
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                missing("running as root and there is no 'postgres' user to own the cluster")
            self.user = "postgres"
        self.root = Path(tempfile.mkdtemp(prefix="mjnb-pg-"))
        self.data = self.root / "data"
        if self.user:
            shutil.chown(self.root, self.user)
        self.port = _free_port()
        self.log = self.root / "server.log"
        self.server: subprocess.Popen[bytes] | None = None
        #: the SQLAlchemy URL of the ``postgres`` database
        self.url = f"postgresql+psycopg://mjnb@127.0.0.1:{self.port}/postgres"
        auth = ["-A", "trust"]
        if password is not None:  # host connections need the password (scram)
            pwfile = self.root / "pw"
            pwfile.write_text(password + "\n")
            if self.user:
                shutil.chown(pwfile, self.user)
            auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
        subprocess.run(
            _as_owner(
                [str(bin_dir / "initdb"), "-D", str(self.data), "-U", "mjnb", *auth,
                 "-E", "UTF8", "--no-sync"],
                self.user,
            ),
            check=True,
            capture_output=True,
        )  # fmt: skip

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.server = subprocess.Popen(
                _as_owner(
                    [str(self.bin_dir / "postgres"), "-D", str(self.data), "-p",
                     str(self.port), "-k", str(self.root), "-c", "listen_addresses=127.0.0.1",
                     "-c", "fsync=off", "-c", "max_connections=200"],
                    self.user,
                ),
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            ready = subprocess.run(
                [str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server now (fast shutdown: open connections are cut) and wait."""
        if self.server is not None:
            subprocess.run(
                _as_owner(
                    [str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast",
                     "-w", "-t", "30"],
                    self.user,
                ),
                capture_output=True,
                check=False,
            )  # fmt: skip
            self.server.terminate()
            try:
                self.server.wait(15)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(5)
            self.server = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server; yields its SQLAlchemy URL (``postgresql+psycopg://...``)."""
    server = PostgresServer()
    try:
        server.start()
        yield server.url
    finally:
        server.remove()


# --- fixtures (import them into a test module: ``from pgserver import pg_server, pg_url``)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """One PostgreSQL server per test session (per xdist worker); its admin URL."""
    with postgres_server() as url:
        yield url


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on ``server_url`` for one test; dropped afterwards."""
    import psycopg

    name = f"t_{os.urandom(6).hex()}"
    admin = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """The URL of a fresh database for this test (a clean schema every time)."""
    with fresh_database(pg_server) as url:
        yield url
