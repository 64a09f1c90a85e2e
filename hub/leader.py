"""Which process runs the cluster-wide scheduled work (syncs, reconciliation, housekeeping).

With PostgreSQL, any number of hubs share one database: the one holding a session-level advisory lock is
the leader. The lock lives on a connection of its own, so when the leader dies its lock goes with it and
another replica takes over within ``RETRY_SECONDS``. Work that rows can claim for themselves (deliveries,
stored webhooks) needs no leader: every replica does it.

With SQLite there is one process by design: the serving process takes an exclusive lock on a file beside
the database and a second one is refused with a message that says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from pathlib import Path

import asyncpg

from hub.db import asyncpg_dsn, describe_url
from hub.errors import HubError

_LOGGER = logging.getLogger(__name__)

#: pg_try_advisory_lock key for "the scheduler": any constant shared by every replica.
LOCK_KEY = 0x6170_7063_6173_7401  # "appcast" + 1
RETRY_SECONDS = 5.0


class SecondProcess(HubError):
    """Another hub already serves this SQLite database."""


class Leadership:
    """``is_leader`` tells scheduled jobs whether to run here. This base is a lone process: always."""

    is_leader: bool = True

    async def start(self) -> None:
        """Begin (or try for) leadership."""

    async def stop(self) -> None:
        """Give leadership up."""


class SoleProcess(Leadership):
    """SQLite: this process is the only one, enforced by a lock file beside the database."""

    def __init__(self, database_file: Path) -> None:
        self.lock_path = database_file.with_name(database_file.name + ".lock")
        self._fd = -1

    async def start(self) -> None:
        self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            database = self.lock_path.with_suffix("")
            raise SecondProcess(
                f"another appcast-hub is already serving the SQLite database {database}: "
                "SQLite is for one process; run replicas on PostgreSQL"
            ) from None

    async def stop(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the lock
            self._fd = -1


class PostgresLeader(Leadership):
    """PostgreSQL: leader while holding an advisory lock on a dedicated connection."""

    is_leader = False

    def __init__(self, url: str) -> None:
        self.dsn = asyncpg_dsn(url)
        self.url = url
        self._connection: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._try()
        self._task = asyncio.create_task(self._keep_trying(), name="leadership")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop()

    async def _keep_trying(self) -> None:
        while True:
            await asyncio.sleep(RETRY_SECONDS)
            await self._try()

    async def _try(self) -> None:
        try:
            if self._connection is None or self._connection.is_closed():
                self._connection = await asyncpg.connect(self.dsn, timeout=10)
            if self.is_leader:
                await self._connection.fetchval("SELECT 1")  # still connected, so still holding it
                return
            if await self._connection.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
                self.is_leader = True
                _LOGGER.info(
                    "this process now runs the scheduled work (leader on %s)", describe_url(self.url)
                )
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            if self.is_leader:
                _LOGGER.warning("lost leadership: %s", type(error).__name__)
            await self._drop()

    async def _drop(self) -> None:
        self.is_leader = False
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close(timeout=5)
            self._connection = None


def leadership_for(url: str) -> Leadership:
    """The leadership fitting the database at ``url``."""
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        return SoleProcess(Path(path)) if path != ":memory:" else Leadership()  # nobody else can see it
    return PostgresLeader(url)
