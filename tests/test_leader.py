"""One leader for scheduled work: an advisory lock on PostgreSQL, one process on SQLite."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from hub import leader as leader_module
from hub.leader import PostgresLeader
from tests.conftest import (
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
