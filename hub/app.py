"""The application factory: one aiohttp server for feeds, webhooks, pixels, Slack and the admin API.

Resources live in cleanup contexts, opened in order at start-up and closed in reverse at shutdown:
the database, the feed cache, the one outbound HTTP session, the pixel counter, the inbox and outbox
workers, then the scheduler that uses them all, and last the Slack bot (when enabled) that drives them.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from hub import __version__, db
from hub.accounts import AccountCache, ensure_accounts
from hub.appkeys import (
    ACCOUNTS,
    CONFIG,
    FEED_CACHE,
    HTTP,
    INBOX,
    LEADER,
    OUTBOX,
    PIXELS,
    PLUGINS,
    SCHEDULER,
    SIGNATURES,
)  # fmt: skip
from hub.config import HubConfig
from hub.feed_cache import FeedCache
from hub.incidents import SignatureWatch, breaker_incidents
from hub.leader import leadership_for
from hub.logs import ServerLog
from hub.pixels import PixelCounter
from hub.plugins import PluginHost
from hub.scheduler import HubScheduler
from hub.views import api, apply, feeds, health, metrics, pixels, webhooks
from hub.views.errors import error_middleware
from hub.views.metrics import metrics_middleware
from hub.workers import InboxWorker, OutboxWorker

_LOGGER = logging.getLogger(__name__)

#: Outbound requests: connect fast or fail; plugins pass tighter totals per request where they need.
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10)


async def _database(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    async with db.database(config.database_url, run_migrations=config.database["migrate_on_start"]):
        await ensure_accounts(config)
        app[ACCOUNTS] = AccountCache(config)
        await app[ACCOUNTS].load()
        yield


async def _feed_cache(app: web.Application) -> AsyncIterator[None]:
    cache = FeedCache(app[CONFIG], app[PLUGINS], app[CONFIG].feed["cache_dir"])
    app[FEED_CACHE] = cache
    yield
    # A build still running at shutdown is abandoned: its temporary files are never served, and the
    # next build of the account deletes them.
    await cache.close()


async def _http_session(app: web.Application) -> AsyncIterator[None]:
    headers = {"User-Agent": f"appcast-hub/{__version__}"}
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT, headers=headers) as session:
        app[HTTP] = session
        yield


async def _leadership(app: web.Application) -> AsyncIterator[None]:
    leader = leadership_for(app[CONFIG].database_url)
    await leader.start()
    app[LEADER] = leader
    yield
    await leader.stop()


async def _pixel_counter(app: web.Application) -> AsyncIterator[None]:
    settings = app[CONFIG].pixels
    counter = PixelCounter(
        settings["spool_dir"], settings["flush_seconds"], int(settings["max_spool_mb"] * 2**20)
    )
    await counter.start()
    app[PIXELS] = counter
    yield
    await counter.stop()


async def _workers(app: web.Application) -> AsyncIterator[None]:
    config, plugins, http = app[CONFIG], app[PLUGINS], app[HTTP]
    outbox = OutboxWorker(config, plugins, http)
    inbox = InboxWorker(config, plugins, http, on_deliveries=outbox.wake)
    app[INBOX], app[OUTBOX] = inbox, outbox
    outbox.start()
    inbox.start()
    yield
    await inbox.stop()
    await outbox.stop()


async def _incidents(app: web.Application) -> AsyncIterator[None]:
    async with breaker_incidents(app[CONFIG], app[PLUGINS], app[OUTBOX].wake):
        yield


async def _scheduler(app: web.Application) -> AsyncIterator[None]:
    scheduler = HubScheduler(app[CONFIG], app[PLUGINS], app[HTTP], app[OUTBOX], app[LEADER], app[SIGNATURES])
    app[SCHEDULER] = scheduler
    if app[CONFIG].sync["scheduled"]:
        scheduler.start()
    yield
    await scheduler.shutdown()


def freeze_heap() -> None:
    """Take what start-up made out of the cyclic garbage collector's walks, once the server is started.

    Modules, config, plugins and the open connections (some 80,000 tracked objects) live as long as the
    process, yet every full collection walked them all: 20-40 ms on a 2-core VM, three times in each
    rebuild of a 100,000-job feed (its rows are enough allocations to trigger them), about a quarter of
    it. Frozen (after a collection, so no garbage is kept), a full collection walks only what came since.
    Not for a process that starts many apps (the tests): garbage cycles among frozen objects are never
    collected.
    """
    gc.collect()
    gc.freeze()


def create_app(config: HubConfig, plugins: PluginHost) -> web.Application:
    """Build the hub's application for a validated config (plugins already bound to it)."""
    app = web.Application(
        client_max_size=config.server["max_body_bytes"],
        middlewares=[metrics_middleware, error_middleware, api.api_auth_middleware],
        handler_args={
            # Bodies are inflated by the views, never past max_body_bytes (hub.views.errors.read_body):
            # aiohttp's own inflating reads a refused body to its end, a gzip bomb included, on the loop.
            "auto_decompress": False,
            # A client's malformed request is counted and logged once a minute, not with a traceback.
            "logger": ServerLog(logging.getLogger("aiohttp.server")),
        },
    )
    app[CONFIG] = config
    app[PLUGINS] = plugins
    app[SIGNATURES] = SignatureWatch()
    app.cleanup_ctx.extend(
        [_leadership, _database, _feed_cache, _http_session, _pixel_counter, _workers, _incidents, _scheduler]
    )
    for module in (health, metrics, feeds, webhooks, pixels, apply, api):
        app.add_routes(module.routes)
    if config.slack["enabled"]:
        # Imported here: a hub without Slack never loads slack_bolt, let alone starts it.
        from hub.slack.bolt import EVENTS_PATH, events_view, slack_bot

        app.cleanup_ctx.append(slack_bot)  # last: it drives the scheduler and services above
        app.router.add_post(EVENTS_PATH, events_view)
    return app
