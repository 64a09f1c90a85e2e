"""One leader for scheduled work: an advisory lock on PostgreSQL, one process on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from hub import leader as leader_module
from hub.leader import PostgresLeader
from tests.conftest import (
    HubProcess,
    PostgresServer,
    demo_config,
    free_port,
    hub_command,
    hub_process,
    new_postgres_database,
    write_config,
)


@pytest.mark.postgres
async def test_one_replica_leads_and_another_takes_over_when_it_dies(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(leader_module, "RETRY_SECONDS", 0.1)
    url = await new_postgres_database(postgres_server)
    first, second = PostgresLeader(url + "?minsize=1"), PostgresLeader(url)
    await first.start()
    await second.start()
    try:
        assert (first.is_leader, second.is_leader) == (True, False)
        await first.stop()  # its connection closes: the lock is free
        for _ in range(100):
            if second.is_leader:
                break
            await asyncio.sleep(0.05)
        assert second.is_leader
    finally:
        await first.stop()
        await second.stop()


def test_a_second_hub_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "hub.sqlite3"
    config = write_config(tmp_path, demo_config(f"sqlite://{database}", port))
    with hub_process(config, port):
        second = subprocess.run(
            hub_command("serve", "-c", str(config), "--port", str(free_port())),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert second.returncode == 1
    assert second.stderr.strip().splitlines()[-1] == (
        f"appcast-hub: another appcast-hub is already serving the SQLite database {database}: "
        "SQLite is for one process; run replicas on PostgreSQL"
    )


@pytest.mark.postgres
def test_replicas_started_together_on_a_fresh_database_all_come_up(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    # Each replica migrates on start: without taking turns, two would run the same DDL and one would die.
    url = asyncio.run(new_postgres_database(postgres_server))
    replicas: dict[int, HubProcess] = {}
    try:
        for port in (free_port(), free_port(), free_port()):
            (tmp_path / str(port)).mkdir()
            config = write_config(tmp_path / str(port), demo_config(url, port))
            log = config.parent / "hub.log"
            with log.open("wb") as sink:
                command = hub_command("serve", "-c", str(config))
                replicas[port] = HubProcess(subprocess.Popen(command, stdout=sink, stderr=sink), log)
        for port, replica in replicas.items():
            assert wait_healthy(port, replica), f"replica on {port} did not come up:\n{replica.output()}"
    finally:
        outputs = [replica.stop() for replica in replicas.values()]
    assert not any("Traceback" in output for output in outputs)


def wait_healthy(port: int, replica: HubProcess, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and replica.process.poll() is None:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1),
        ):
            return True
        time.sleep(0.1)
    return False
