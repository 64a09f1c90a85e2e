"""A throwaway PostgreSQL server from the installed binaries, for the test-suite and the benchmarks.

It lives in a temporary folder, listens on 127.0.0.1 only, and trusts local connections. ``initdb`` and
``postgres`` refuse to run as root, so as root the server runs as the ``postgres`` user (in a folder that
user owns). ``fsync=off``: the figures and the tests are about the hub, not this machine's disk flushes.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg

from hub.testing.peers import free_port


def pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None when PostgreSQL is not installed."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


class PostgresServer:
    """Start with :meth:`start`, connect as ``postgres`` without a password, :meth:`stop` removes it all."""

    _numbers = itertools.count(1)

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.base = Path(tempfile.mkdtemp(prefix="hub-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        self.version = ""

    def _run(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.prefix, *cmd], check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> PostgresServer:
        """initdb and start the server; returns self."""
        if self.prefix:
            shutil.chown(self.base, "postgres", "postgres")
        initdb = str(self.bin_dir / "initdb")
        self._run(initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.resume()
        self.version = self._run(str(self.bin_dir / "postgres"), "--version").stdout.strip()
        return self

    def pause(self) -> None:
        """Shut the server down (an outage), keeping its data for :meth:`resume`."""
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        """Start the server (again) on the same port, and wait until it takes connections."""
        # 200 connections: a whole test session's pools, replicas included.
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        options += " -c max_connections=200"
        pg_ctl = str(self.bin_dir / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.base / "log"), "-w", "start")

    def stop(self) -> None:
        """Stop the server at once and delete its folder."""
        subprocess.run(
            [*self.prefix, str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, database: str) -> str:
        """The DSN of ``database`` on this server."""
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    async def new_database(self, name: str | None = None) -> str:
        """Create an empty database (named, or numbered) and return its DSN."""
        name = name or f"hub_test_{os.getpid()}_{next(self._numbers)}"
        connection = await asyncpg.connect(self.url("postgres"))
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return self.url(name)
