"""The log on PostgreSQL: log URLs, clear errors before anything is sent, passwords never
printed, two processes claiming sweep cells, the same schema as SQLite, the CLI, and a
server that goes away mid-sweep (tasks already sent finish and are kept locally, nothing
new is sent, the kept updates reach the log when it is back)."""

from __future__ import annotations

import logging
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pgserver import PostgresServer, fresh_database, pg_server, pg_url  # noqa: F401

import mjnb
from mjnb.errors import ConfigError, LogError
from mjnb.log import LogURL, TaskLog, parse_log_url
from mjnb.log.schema import MIGRATIONS, migrate

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
PASSWORD = "s3cret-Pa55word"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------- URLs


def test_log_urls_parse_and_never_show_the_password(tmp_path: Path) -> None:
    default = parse_log_url(None, tmp_path)
    assert default.kind == "sqlite" and default.path == tmp_path / "history.sqlite"
    assert parse_log_url(f"sqlite:///{tmp_path}/a.sqlite", tmp_path).path == tmp_path / "a.sqlite"
    assert parse_log_url(str(tmp_path / "b.sqlite"), tmp_path).path == tmp_path / "b.sqlite"
    url = parse_log_url(f"postgresql://teacher:{PASSWORD}@db.example:5433/class", tmp_path)
    assert url.kind == "postgresql" and url.path is None
    assert url.url.startswith("postgresql+psycopg://teacher:")  # the driver, for SQLAlchemy
    assert url.safe == "postgresql+psycopg://teacher:***@db.example:5433/class"
    for text in (str(url), repr(url), url.where):
        assert PASSWORD not in text
    assert parse_log_url("postgres://u@h/d", tmp_path).safe == "postgresql+psycopg://u@h/d"
    for bad in ("mysql://u@h/d", "sqlite://", "sqlite:///:memory:", "postgresql://h",
                f"postgresql://u:{PASSWORD}@/nodb", "http://x:1/y"):  # fmt: skip
        with pytest.raises(ConfigError) as info:
            parse_log_url(bad, tmp_path)
        assert PASSWORD not in str(info.value)


def test_a_bad_url_fails_the_client_before_anything_is_sent(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MJNB_LOG_URL", f"mysql://u:{PASSWORD}@h/d")
    with pytest.raises(ConfigError) as info:
        mjnb.Client("local")
    assert "unknown scheme" in str(info.value) and PASSWORD not in str(info.value)


def test_an_unreachable_server_is_one_clear_error(
    isolated_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"postgresql://mjnb:{PASSWORD}@127.0.0.1:{_free_port()}/class"
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    with pytest.raises(LogError) as info:
        TaskLog(url)
    assert time.monotonic() - started < 30
    message = str(info.value)
    assert "cannot be reached" in message and "127.0.0.1" in message
    assert PASSWORD not in message and PASSWORD not in caplog.text
    assert PASSWORD not in repr(info.value.__cause__)


def test_wrong_credentials_are_one_clear_error_without_the_password(
    isolated_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = PostgresServer(password=PASSWORD)
    try:
        server.start()
        right = server.url.replace("mjnb@", f"mjnb:{PASSWORD}@")
        with pytest.raises(LogError, match="refused the credentials") as info:
            TaskLog(server.url.replace("mjnb@", "mjnb:not-the-password@"))
        assert "not-the-password" not in str(info.value) and "***" in str(info.value)
        with TaskLog(right) as log:  # the right password works, and is never shown
            assert log.backend == "postgresql"
            for text in (repr(log), log.where, str(log.url)):
                assert PASSWORD not in text and "***" in text
        assert PASSWORD not in caplog.text
    finally:
        server.remove()


def test_wrong_role_or_database_is_one_clear_error_and_sends_nothing(
    pg_server: str,  # noqa: F811
    sim: object,
    isolated_env: Path,
) -> None:
    base = pg_server.rsplit("@", 1)[1].rsplit("/", 1)[0]
    with pytest.raises(LogError) as info:
        TaskLog(f"postgresql://nosuch:{PASSWORD}@{base}/postgres")
    assert "nosuch" in str(info.value) and PASSWORD not in str(info.value)
    with pytest.raises(LogError, match="does not exist") as info:
        mjnb.Client(
            "acedata", base_url=sim.url, token="t", log=f"postgresql://mjnb@{base}/nosuchdb"
        )
    assert sim.stats()["submits"] == 0  # type: ignore[attr-defined]


def test_configure_and_client_take_the_url(pg_url: str, isolated_env: Path) -> None:  # noqa: F811
    mjnb.configure(log_url=pg_url)
    try:
        client = mjnb.Client("local")
        assert client.session.log.backend == "postgresql"
        assert isinstance(client.session.log.url, LogURL)
    finally:
        mjnb.configure(log_url=None)
    assert mjnb.Client("local").session.log.backend == "sqlite"


# ------------------------------------------------------------------- schema


def test_postgresql_and_sqlite_define_the_same_columns(tmp_path: Path) -> None:
    from mjnb.log.tables import metadata

    conn = sqlite3.connect(tmp_path / "h.sqlite", isolation_level=None)
    migrate(conn, tmp_path / "h.sqlite", MIGRATIONS)
    for table in metadata.sorted_tables:
        if table.name == "mjnb_meta":
            continue
        sqlite_columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table.name})")]
        pg_columns = [c.name for c in table.columns if c.name != "rowid"]
        assert sorted(pg_columns) == sorted(sqlite_columns), table.name
    conn.close()


def test_a_database_of_someone_else_is_refused(pg_url: str) -> None:  # noqa: F811
    import psycopg

    with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("CREATE TABLE tasks (id int)")
    with pytest.raises(LogError, match="not an mjnb task log"):
        TaskLog(pg_url)


# ------------------------------------------------------------------- two processes

# ------------------------------------------------------------------- the CLI


def test_cli_log_reads_a_postgresql_log(pg_url: str, isolated_env: Path) -> None:  # noqa: F811
    with TaskLog(pg_url) as log:
        log.add_task(
            "cli-task-1", provider="local", action="imagine", prompt="a fox", text="a fox",
            params={}, parent_id=None, sweep_id=None, submitted_at=T0,
        )  # fmt: skip
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mjnb.cli",
            "log",
            "--url",
            pg_url,
            "--csv",
            str(isolated_env.parent / "x.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "1 rows written" in out.stdout
    assert "cli-task-1" in (isolated_env.parent / "x.csv").read_text()
    table = subprocess.run(
        [sys.executable, "-m", "mjnb.cli", "log", "--url", pg_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert table.returncode == 0 and "cli-task-1" in table.stdout, table.stderr


# ------------------------------------------------------------------- the server goes away


@pytest.fixture
def sim_config() -> object:
    from mjnb.simulator import SimConfig

    return SimConfig(latency=4.0, long_side=128, progress_steps=4)


def test_the_server_going_away_mid_sweep(
    sim: object, isolated_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = PostgresServer()
    try:
        server.start()
        with fresh_database(server.url) as url:
            _outage(server, url, sim, isolated_env, caplog)
    finally:
        server.remove()


def _outage(
    server: PostgresServer,
    url: str,
    sim: object,
    home: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mjnb")
    client = mjnb.Client("acedata", base_url=sim.url, token="t", log=url, max_concurrency=2)  # type: ignore[attr-defined]
    sweep = client.sweep("a red fox", seed=[1, 2, 3, 4, 5, 6])
    deadline = time.monotonic() + 60
    while sum(t.status == "running" for t in sweep.tasks) < 2:
        assert time.monotonic() < deadline, sweep.summary
        time.sleep(0.05)
    server.stop()  # the shared log goes away while two jobs are running remotely
    sweep.wait(120)
    stats = sim.stats()  # type: ignore[attr-defined]
    sent = [t for t in sweep.tasks if t.status == "succeeded"]
    unsent = [t for t in sweep.tasks if t.status != "succeeded"]
    assert len(sent) == 2 and stats["submits"] == 2  # never sent a job it could not record
    for task in sent:  # the paid results are kept
        assert task.image_path is not None and Path(task.image_path).exists()
    for task in unsent:
        assert task.status == "failed"
        assert "cannot be reached" in str(task.error) or "went away" in str(task.error)
    log = client.session.log
    assert log.kept > 0
    assert "kept in" in caplog.text and "No new job is sent" in caplog.text
    server.start()
    with TaskLog(url, home=home) as other:  # a kernel opening the log replays the journal
        frame = other.dataframe()
        done = frame[frame.status == "succeeded"]
        assert sorted(done.task_id) == sorted(t.id for t in sent)
        assert done.image_path.notna().all()
        assert set(frame[frame.status == "failed"].task_id) == {t.id for t in unsent}
    assert "is back" in caplog.text


def test_config_mjmagic_log_url_sends_to_the_shared_log(
    pg_url: str,  # noqa: F811
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    from mjnb.notebook.magic import unload_ipython_extension

    monkeypatch.setenv("MJNB_SIM_LATENCY", "0.3")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    cfg = Config()
    cfg.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=cfg)
    shell.run_line_magic("load_ext", "mjnb")
    try:
        shell.run_line_magic("config", f"MJMagic.log_url = {pg_url!r}")
        task = shell.run_line_magic("mj", "a fox in snow --seed 3")
        task.wait(60)
        with TaskLog(pg_url) as log:
            assert log.dataframe().task_id.tolist() == [task.id]
        assert not (isolated_env / "history.sqlite").exists()
    finally:
        unload_ipython_extension(shell)
        if shell.extension_manager is not None:
            shell.extension_manager.loaded.discard("mjnb")
        shell.config.pop("MJMagic", None)
        mjnb.configure(log_url=None)


def test_postgresql_migrations_add_missing_tables_and_refuse_newer_logs(
    pg_url: str,  # noqa: F811
) -> None:
    import psycopg

    from mjnb.log import SCHEMA_VERSION

    TaskLog(pg_url).close()
    plain = pg_url.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:  # an older log: no owners table
        conn.execute("DROP TABLE owners")
        conn.execute("ALTER TABLE tasks DROP COLUMN inputs_json")  # nor version 5's column
        conn.execute("UPDATE mjnb_meta SET value = '2' WHERE key = 'schema_version'")
    with TaskLog(pg_url) as log:
        assert log.read("SELECT value FROM mjnb_meta WHERE key = 'schema_version'") == [
            (str(SCHEMA_VERSION),)
        ]
        assert log.read("SELECT count(*) FROM owners") == [(1,)]
        assert log.read("SELECT count(inputs_json) FROM tasks") == [(0,)]
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("UPDATE mjnb_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(LogError, match="newer mjnb"):
        TaskLog(pg_url)
