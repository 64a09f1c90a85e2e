"""Scheduled work: each account's sync on its interval (jittered), once at start-up, retried with backoff.

APScheduler's ``AsyncIOScheduler`` runs the jobs on the server's loop. Job ids are ``sync:<account>``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from hub.accounts import get_account
from hub.config import HubConfig
from hub.http import backoff_delay
from hub.plugins import PluginHost
from hub.sync import SyncResult, sync_account

_LOGGER = logging.getLogger(__name__)


class HubScheduler:
    """Owns the APScheduler instance and the tasks it started, so shutdown can finish them cleanly."""

    def __init__(self, config: HubConfig, plugins: PluginHost, http: aiohttp.ClientSession) -> None:
        self.config = config
        self.plugins = plugins
        self.http = http
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._running: set[asyncio.Task[object]] = set()
        self._stopping = False

    def start(self) -> None:
        """Schedule every account's sync (first run now) and start the scheduler."""
        now = datetime.now(UTC)
        for account in self.config.accounts.values():
            minutes = account.sync_interval_minutes or self.config.sync["interval_minutes"]
            self.scheduler.add_job(
                self.sync,
                IntervalTrigger(minutes=minutes, jitter=self.config.sync["jitter_seconds"], timezone=UTC),
                args=[account.name],
                id=f"sync:{account.name}",
                next_run_time=now,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
        self.scheduler.start()

    async def shutdown(self) -> None:
        """Stop scheduling and cancel work in flight (a cancelled sync keeps its committed pages)."""
        self._stopping = True
        if self.scheduler.running:  # not started when [sync] scheduled = false
            self.scheduler.shutdown(wait=False)
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def sync(self, name: str) -> SyncResult | None:
        """Sync one account now; after a failure, schedule a retry with backoff. None if cut by shutdown."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            account = await get_account(self.config, name)
            result = await sync_account(self.plugins, self.http, account)
            if result.error:
                await account.row.refresh_from_db(fields=["consecutive_sync_failures"])
                self._schedule_retry(name, account.row.consecutive_sync_failures)
            return result
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # Our own shutdown cancelled it: expected, and the next start syncs again.
            _LOGGER.info("sync of %s interrupted by shutdown", name)
            return None
        finally:
            if task is not None:
                self._running.discard(task)

    def _schedule_retry(self, name: str, failures: int) -> None:
        account = self.config.accounts[name]
        interval = 60 * (account.sync_interval_minutes or self.config.sync["interval_minutes"])
        base = self.config.sync["retry_seconds"]
        # Full jitter on top of the base, so failing accounts do not retry in step; a retry only helps
        # when it comes before the next regular run.
        delay = min(interval, base + backoff_delay(failures - 1, base, interval))
        if self.scheduler.running:
            self.scheduler.add_job(
                self.sync,
                "date",
                run_date=datetime.now(UTC) + timedelta(seconds=delay),
                args=[name],
                id=f"sync:{name}:retry",
                replace_existing=True,
            )
            _LOGGER.info("retrying the sync of %s in %.0fs", name, delay)
