"""Shared fixtures: a throwaway PostgreSQL server, a database of each kind, config files, the hub itself."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub import db
from hub.testing.peers import ADMIN_TOKEN, free_port
from tests.pgserver import PostgresServer, pg_bin

__all__ = ["REPO", "SAMPLE_JOBS", "PostgresServer", "free_port"]  # re-exported for test modules

REPO = Path(__file__).resolve().parent.parent
SAMPLE_JOBS = REPO / "plugins" / "file" / "data" / "sample_jobs.json"


def throwaway_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of its own from the installed binaries, stopped after use (the test is
    skipped where there are none): the body of the fixtures that need one."""
    bin_dir = pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: the PostgreSQL runs are skipped")
    server = PostgresServer(bin_dir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """PostgreSQL for this test session."""
    yield from throwaway_postgres()


async def new_postgres_database(server: PostgresServer) -> str:
    """A fresh, empty database on the throwaway server; returns its URL."""
    return await server.new_database()


# --- a database of each kind --------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL: SQLite in a temporary folder, or a new database on the throwaway server."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'hub.sqlite3'}"
    server = request.getfixturevalue("postgres_server")
    return await new_postgres_database(server)


@pytest.fixture
async def migrated(database_url: str) -> AsyncIterator[str]:
    """The database migrated and open (tortoise initialised) for the test; yields its URL."""
    async with db.database(database_url, run_migrations=True):
        yield database_url


# --- configs and the hub as a process -----------------------------------------------------------------


def write_config(folder: Path, body: str) -> Path:
    """Write ``config.toml`` into ``folder`` and return its path."""
    path = folder / "config.toml"
    path.write_text(body, encoding="utf-8")
    return path


def file_hub_config(
    database_url: str,
    folder: Path,
    jobs: Path,
    *,
    cache: Path,
    account_options: str = "",
    extra: str = "",
    scheduled: bool = False,
) -> Path:
    """A hub on the file adapter's ``jobs`` (account ``demo``, every open job in the feed), its feed files
    in ``cache``, the admin API on; ``account_options``: more keys of the account, ``extra``: more TOML."""
    return write_config(
        folder,
        f"""
[database]
url = "{database_url}"
migrate_on_start = true
[admin]
api_token = "{ADMIN_TOKEN}"
[sync]
scheduled = {str(scheduled).lower()}
[feed]
cache_dir = "{cache}"
[accounts.demo]
adapter = "file"
company = "Northwind Health"
feed_policy = "all-open"
{account_options}
[accounts.demo.file]
path = "{jobs}"
{extra}
""",
    )


def demo_config(database_url: str, port: int, jobs_path: Path = SAMPLE_JOBS, extra: str = "") -> str:
    """A config like config.example.toml's demo, on the given database and port."""
    return f"""
[server]
port = {port}
[database]
url = "{database_url}"
migrate_on_start = true
[sync]
jitter_seconds = 0
[accounts.demo]
adapter = "file"
company = "Northwind Health"
feed_policy = "all-open"
{extra}
[accounts.demo.file]
path = "{jobs_path}"
"""


def hub_command(*args: str) -> list[str]:
    """The ``appcast-hub`` command line, run with this interpreter."""
    return [sys.executable, "-m", "hub.cli", *args]


@dataclass
class HubProcess:
    """``appcast-hub serve`` running as a child process; its output goes to a file, never a pipe
    (a pipe nobody reads fills up and blocks the hub's logging)."""

    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 20) -> str:
        """Send ``signum``, wait for the exit, return everything the hub printed."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            self.process.wait(timeout=timeout)
        return self.output()


@contextlib.contextmanager
def hub_process(
    config: Path, port: int, env: dict[str, str] | None = None, serve_args: tuple[str, ...] = ()
) -> Iterator[HubProcess]:
    """Run ``appcast-hub serve`` (with ``serve_args``) until the block ends; waits until /healthz answers
    on ``port``."""
    import urllib.request

    log = config.parent / f"hub-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            hub_command("serve", "-c", str(config), *serve_args),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    hub = HubProcess(process, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"hub exited early:\n{hub.output()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"hub did not answer /healthz within 30 s:\n{hub.output()}")
            time.sleep(0.1)
        yield hub
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
