"""Database connection and migrations: SQLite (WAL) by default, PostgreSQL by DSN.

Tortoise keeps its connections in a context; the hub opens exactly one per process, made the global
fallback so request handlers, scheduler jobs and background tasks all see it. Schema changes are
tortoise's own migrations (:mod:`hub.migrations`), written dialect-neutral so one set serves both
databases.
"""

from __future__ import annotations

import errno
import logging
import socket
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.exceptions import DBConnectionError
from tortoise.migrations.api import migrate as tortoise_migrate
from tortoise.migrations.executor import MigrationExecutor
from tortoise.transactions import in_transaction

from hub.errors import HubError
from hub.models import APP

_LOGGER = logging.getLogger(__name__)

MIGRATIONS_MODULE = "hub.migrations"

#: pg_advisory_lock key held while migrating; any constant shared by every replica (hub.leader's + 1).
MIGRATION_LOCK_KEY = 0x6170_7063_6173_7402


#: Seconds a client is asked to wait (``Retry-After``) while the database is unreachable.
OUTAGE_RETRY_AFTER = 10

#: What a database that is away raises: refused or dropped connections, a server shutting down or still
#: starting, a pool that cannot connect. Anything else from a query is a bug, not an outage.
_OUTAGE_ERRORS = (
    ConnectionError,  # refused, reset, aborted, a broken pipe
    socket.gaierror,  # the database's host name does not resolve
    TimeoutError,
    DBConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.InterfaceError,
)
#: SQLite's words for a database it cannot use right now (another writer, a disk in trouble).
_SQLITE_OUTAGES = ("database is locked", "disk i/o error", "unable to open", "disk is full", "readonly")


class SchemaOutOfDate(HubError):
    """The database lacks migrations this version of the hub needs."""


def is_outage(error: BaseException) -> bool:
    """Is ``error`` (or what caused it) the database being unreachable, rather than a bug?

    Views answer such errors 503 with ``Retry-After`` (:data:`OUTAGE_RETRY_AFTER`), and workers wait for
    the database to come back, instead of reporting a crash.
    """
    seen: BaseException | None = error
    for _ in range(8):  # causes chain a few deep at most; never loop on a cycle
        if seen is None:
            return False
        if isinstance(seen, _OUTAGE_ERRORS) or (
            isinstance(seen, OSError) and seen.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH)
        ):
            return True
        if isinstance(seen, sqlite3.OperationalError) and any(
            words in str(seen).lower() for words in _SQLITE_OUTAGES
        ):
            return True
        # A pooled connection the server stopped answering mid-query is left in the middle of that query:
        # the next use of it says so. Outage fallout; the pool replaces the connection once it is released.
        if isinstance(seen, asyncpg.exceptions.InternalClientError) and "another operation" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__ or (seen.args[0] if seen.args else None)
        if not isinstance(seen, BaseException):
            return False
    return False


def tortoise_config(url: str) -> dict[str, Any]:
    """Tortoise's config dict for ``url`` (``sqlite://…`` or ``postgres://…``)."""
    connection: str | dict[str, Any] = url
    if is_postgres(url):
        connection = expand_db_url(url)
        # Keyset-paged reads (the feed) differ wildly in selectivity from one account to the next: a
        # cached generic plan that suits a small account walks a big one's rows. Plan each execution.
        settings = connection["credentials"].setdefault("server_settings", {})
        settings.setdefault("plan_cache_mode", "force_custom_plan")
    return {
        "connections": {"default": connection},
        "apps": {APP: {"models": ["hub.models"], "migrations": MIGRATIONS_MODULE}},
        "use_tz": True,
        "timezone": "UTC",
    }


def is_postgres(url: str) -> bool:
    """Is ``url`` a PostgreSQL DSN (rather than SQLite)?"""
    return url.startswith(("postgres://", "postgresql://"))


def describe_url(url: str) -> str:
    """The database URL without its password, fit for logs and ``check-config``."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        rest = f"{user}:***@{host}" if ":" in credentials else f"{user}@{host}"
    return f"{scheme}{sep}{rest}"


def asyncpg_dsn(url: str) -> str:
    """A PostgreSQL URL as asyncpg takes it: without tortoise's own query options (pool sizes and such)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@asynccontextmanager
async def _migration_turn(url: str) -> AsyncIterator[None]:
    """On PostgreSQL, hold an advisory lock for the block: replicas starting together migrate in turn.

    Without it, two processes would both find a migration pending and both run its DDL; one fails on a
    table the other has just created. The lock is on a connection of its own and goes with it.
    SQLite needs none: one process serves it (:mod:`hub.leader`).
    """
    if not is_postgres(url):
        yield
        return
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        if not await connection.fetchval("SELECT pg_try_advisory_lock($1)", MIGRATION_LOCK_KEY):
            _LOGGER.info("another process is migrating %s: waiting for it", describe_url(url))
            await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        yield
    finally:
        await connection.close()


async def migrate(url: str) -> None:
    """Apply every pending migration to the database at ``url`` (one process at a time on PostgreSQL)."""
    async with _migration_turn(url):
        try:
            EXECUTOR_CACHE.clear()
            await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
            pending = await pending_migrations()
            await Tortoise.close_connections()
            # Said only when there is work: every CLI command migrates first, and most find none to do.
            if not pending:
                return
            _LOGGER.info("applying migrations %s to %s", ", ".join(pending), describe_url(url))
            await tortoise_migrate(config=tortoise_config(url))
        finally:
            # Also on failure: an open aiosqlite thread would keep the process from exiting.
            await Tortoise.close_connections()


async def pending_migrations() -> list[str]:
    """Names of the migrations the open database still lacks."""
    apps = tortoise_config("")["apps"]
    plan = await MigrationExecutor(connections.get("default"), apps).plan()
    return [step.migration.name for step in plan if not step.backward]


@asynccontextmanager
async def database(url: str, *, run_migrations: bool = False) -> AsyncIterator[None]:
    """Open the database for the life of the block (migrating first when asked), then close it.

    Raises :class:`SchemaOutOfDate` when migrations are pending and were not asked for, rather than
    letting the first query fail on a missing column.
    """
    if run_migrations:
        await migrate(url)
    # Tortoise caches each model's SQL by connection name, not by dialect: a process that opens SQLite
    # and later PostgreSQL under the same name (the test-suite does) must not reuse SQLite's "?" SQL.
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
    try:
        pending = await pending_migrations()
        if pending:
            raise SchemaOutOfDate(
                f"database {describe_url(url)} lacks migrations {', '.join(pending)}: "
                "run `appcast-hub migrate` (or set database.migrate_on_start)"
            )
        yield
    finally:
        await Tortoise.close_connections()


async def ping() -> None:
    """Raise if the database cannot answer a trivial query (used by ``/healthz``)."""
    await connections.get("default").execute_query("SELECT 1")


@asynccontextmanager
async def snapshot() -> AsyncIterator[bool]:
    """Reads in the block see the database at one moment, as far as the database allows; yields whether
    they do.

    On PostgreSQL: a read-only, repeatable-read transaction. On SQLite: nothing (False). Its one
    connection would be held for the whole block, stopping every other query; it has one process too,
    so whoever reads must check afterwards that what it read did not move.
    """
    connection = connections.get("default")
    if connection.capabilities.dialect != "postgres":
        yield False
        return
    async with in_transaction() as transaction:
        await transaction.execute_script("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield True
