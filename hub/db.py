"""Database connection and migrations: SQLite (WAL) by default, PostgreSQL by DSN.

Tortoise keeps its connections in a context; the hub opens exactly one per process, made the global
fallback so request handlers, scheduler jobs and background tasks all see it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate as tortoise_migrate

from hub.models import APP

_LOGGER = logging.getLogger(__name__)

MIGRATIONS_MODULE = "hub.migrations"


def tortoise_config(url: str) -> dict[str, Any]:
    """Tortoise's config dict for ``url`` (``sqlite://…`` or ``postgres://…``)."""
    return {
        "connections": {"default": url},
        "apps": {APP: {"models": ["hub.models"], "migrations": MIGRATIONS_MODULE}},
        "use_tz": True,
        "timezone": "UTC",
    }


def describe_url(url: str) -> str:
    """The database URL without its password, fit for logs and ``check-config``."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        rest = f"{user}:***@{host}" if ":" in credentials else f"{user}@{host}"
    return f"{scheme}{sep}{rest}"


async def migrate(url: str) -> None:
    """Apply every pending migration to the database at ``url``."""
    _LOGGER.info("applying migrations to %s", describe_url(url))
    await tortoise_migrate(config=tortoise_config(url))
    await Tortoise.close_connections()


@asynccontextmanager
async def database(url: str, *, run_migrations: bool = False) -> AsyncIterator[None]:
    """Open the database for the life of the block (migrating first when asked), then close it."""
    if run_migrations:
        await migrate(url)
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
    try:
        yield
    finally:
        await connections.close_all()
        await Tortoise.close_connections()


async def ping() -> None:
    """Raise if the database cannot answer a trivial query (used by ``/healthz``)."""
    await connections.get("default").execute_query("SELECT 1")
