"""Scheduled work: each account's sync and reconciliation, and housekeeping.

APScheduler's ``AsyncIOScheduler`` runs the jobs on the server's loop. Syncs run on their interval
(jittered so accounts do not fire together), once at start-up, and are retried with backoff after a
failure. Reconciliation asks the ATS for events webhooks missed; expiry moves feeds on when jobs in them
expire (:mod:`hub.expiry`); the incidents' sources are watched (:mod:`hub.incidents`); digests due are
sent (:mod:`hub.digests`). Job ids are ``sync:<account>``, ``reconcile:<account>``, ``expiry``,
``incidents``, ``signatures`` (on every replica), ``digests`` and ``housekeeping``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from hub import models
from hub.accounts import LiveAccount, all_accounts, get_account
from hub.config import HubConfig
from hub.digests import DIGESTS_EVERY, send_due
from hub.events import StoreResult, reconcile_account
from hub.expiry import EXPIRY_EVERY, expire_due
from hub.health import feed_health, last_counts
from hub.http import backoff_delay
from hub.incidents import SignatureWatch, after_health_check, after_sync, watch, watch_signatures
from hub.leader import Leadership
from hub.normalised import Notice
from hub.plugins import PluginHost
from hub.sync import SyncResult, sync_account
from hub.workers import OutboxWorker

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

HOUSEKEEPING_EVERY = timedelta(hours=1)
#: How often the leader looks for incidents in what is stored (dead deliveries, a held close).
INCIDENTS_EVERY = timedelta(minutes=1)
#: Counted spool files are remembered this long: far longer than a crashed process stays down.
PIXEL_BATCHES_KEPT = timedelta(days=30)
#: Apply idempotency keys (and the answers replayed for them) are kept this long: retries of one
#: application come within minutes or hours, and a week bounds what refused requests can pile up.
APPLY_KEYS_KEPT = timedelta(days=7)


async def forget_old_rows(config: HubConfig) -> dict[str, int]:
    """Forget what is no longer needed; returns the rows deleted, by table.

    Processed webhooks once they are older than the replay window (a redelivery that old is refused as
    stale anyway), records of counted spool files after :data:`PIXEL_BATCHES_KEPT`, Apply idempotency
    keys after :data:`APPLY_KEYS_KEPT`, and pixel counts older than ``[pixels] keep_days``. Failed
    webhooks and every event and delivery are kept.
    """
    now = datetime.now(UTC)
    first_day_kept = now.date() - timedelta(days=config.pixels["keep_days"])
    window = timedelta(seconds=config.events["webhook_max_age_seconds"])
    deleted = {
        "webhook_receipts": await models.WebhookReceipt.filter(
            state="processed", received_at__lt=now - window
        ).delete(),
        "pixel_batches": await models.PixelBatch.filter(applied_at__lt=now - PIXEL_BATCHES_KEPT).delete(),
        "apply_requests": await models.ApplyRequest.filter(created_at__lt=now - APPLY_KEYS_KEPT).delete(),
        "pixel_counts": await models.PixelCount.filter(day__lt=first_day_kept).delete(),
    }
    if any(deleted.values()):
        _LOGGER.info(
            "housekeeping deleted %s", ", ".join(f"{n} {table}" for table, n in deleted.items() if n)
        )
    return deleted


class HubScheduler:
    """Owns the APScheduler instance and the tasks it started, so shutdown can finish them cleanly."""

    def __init__(
        self,
        config: HubConfig,
        plugins: PluginHost,
        http: aiohttp.ClientSession,
        outbox: OutboxWorker,
        leader: Leadership,
        signatures: SignatureWatch,
    ) -> None:
        self.config = config
        self.leader = leader
        self.plugins = plugins
        self.http = http
        self.outbox = outbox
        self.signatures = signatures
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._running: set[asyncio.Task[object]] = set()
        self._stopping = False

    def start(self) -> None:
        """Schedule every account's sync (first run now) and start the scheduler."""
        now = datetime.now(UTC)
        for account in self.config.accounts.values():
            minutes = account.sync_interval_minutes or self.config.sync["interval_minutes"]
            self.scheduler.add_job(
                self._leader_only(self.sync),
                IntervalTrigger(minutes=minutes, jitter=self.config.sync["jitter_seconds"], timezone=UTC),
                args=[account.name],
                id=f"sync:{account.name}",
                next_run_time=now,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
            if self.plugins.implements(account.adapter, "appcast_hub_fetch_recent_events"):
                self.scheduler.add_job(
                    self._leader_only(self.reconcile),
                    IntervalTrigger(
                        minutes=self.config.events["reconcile_minutes"],
                        jitter=self.config.sync["jitter_seconds"],
                        timezone=UTC,
                    ),
                    args=[account.name],
                    id=f"reconcile:{account.name}",
                    next_run_time=now + timedelta(minutes=1),
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=None,
                )
        # The sweeps: each on a fixed interval, a run at a time, missed runs coalesced into one.
        for work, every, job_id, first in (
            (self._leader_only(self.expire), EXPIRY_EVERY, "expiry", now),
            (self._leader_only(self.watch_incidents), INCIDENTS_EVERY, "incidents", now + INCIDENTS_EVERY),
            # On every replica: each judges the webhooks it answered.
            (self.watch_signatures, INCIDENTS_EVERY, "signatures", now + INCIDENTS_EVERY),
            (self._leader_only(self.send_digests), DIGESTS_EVERY, "digests", now + DIGESTS_EVERY),
            (
                self._leader_only(self.housekeeping),
                HOUSEKEEPING_EVERY,
                "housekeeping",
                now + timedelta(minutes=5),
            ),
        ):
            self.scheduler.add_job(
                work,
                IntervalTrigger(seconds=every.total_seconds(), timezone=UTC),
                id=job_id,
                next_run_time=first,
                max_instances=1,
                coalesce=True,
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

    def _leader_only(self, work: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T | None]]:
        """``work`` as a scheduled job: it runs on the leader only, so once per tick cluster-wide."""

        async def job(*args: object) -> T | None:
            return await work(*args) if self.leader.is_leader else None

        job.__qualname__ = f"{type(self).__name__}.{work.__name__}"  # what APScheduler logs
        return job

    async def _tracked(self, what: str, work: Callable[[], Awaitable[T]]) -> T | None:
        """Run ``work`` so that shutdown can cancel it; None when shutdown did."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            return await work()
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # Our own shutdown cancelled it: expected; the next start does it again.
            _LOGGER.info("%s interrupted by shutdown", what)
            return None
        finally:
            if task is not None:
                self._running.discard(task)

    async def sync(self, name: str, *, full: bool | None = None) -> SyncResult | None:
        """Sync one account now (``full``: see :func:`sync_account`); after a failure, retry with backoff.

        None when shutdown cut it short.
        """

        async def work() -> SyncResult:
            account = await get_account(self.config, name)
            result = await sync_account(self.plugins, self.http, account, full=full)
            await account.row.refresh_from_db(fields=["consecutive_sync_failures"])
            failures = account.row.consecutive_sync_failures
            notices = [await after_sync(account, self.plugins, result, failures)]
            if result.error:
                self._schedule_retry(name, failures)
            elif result.changed or await last_counts(account.row.id) is None:
                # The feed changed: its health too (status shows it, the gauge reports it).
                notices.append(await after_health_check(account, self.plugins, await feed_health(account)))
            if any(notices):
                self.outbox.wake()
            return result

        return await self._tracked(f"sync of {name}", work)

    async def reconcile(self, name: str) -> StoreResult | None:
        """Ask the account's ATS for events since the last reconciliation and store the missing ones."""

        async def work() -> StoreResult | None:
            account = await get_account(self.config, name)
            lookback = timedelta(hours=self.config.events["reconcile_lookback_hours"])
            result = await reconcile_account(account, self.plugins, self.http, lookback)
            if result is not None and result.deliveries:
                self.outbox.wake()
            return result

        return await self._tracked(f"reconciliation of {name}", work)

    async def expire(self) -> None:
        """:func:`hub.expiry.expire_due` for every account, as a scheduled job."""
        await self._tracked("expiry", lambda: self._each_account("expiry", expire_due))

    async def watch_incidents(self) -> None:
        """:func:`hub.incidents.watch` for every account, as a scheduled job."""

        async def step(account: LiveAccount) -> bool:
            return await watch(account, self.plugins)

        if any(await self._tracked("incidents", lambda: self._each_account("incidents", step)) or ()):
            self.outbox.wake()

    async def watch_signatures(self) -> None:
        """:func:`hub.incidents.watch_signatures` for every account, as a scheduled job."""

        async def step(account: LiveAccount) -> bool:
            return await watch_signatures(account, self.plugins, self.signatures)

        if any(await self._tracked("signatures", lambda: self._each_account("signatures", step)) or ()):
            self.outbox.wake()

    async def send_digests(self, now: datetime | None = None) -> list[Notice]:
        """:func:`hub.digests.send_due` for every account, as a scheduled job; the digests queued.

        ``now``: the moment to judge the schedules at (the clock's, but for tests)."""

        async def step(account: LiveAccount) -> Notice | None:
            return await send_due(account, self.plugins, now)

        queued = await self._tracked("digests", lambda: self._each_account("digests", step)) or []
        notices = [notice for notice in queued if notice is not None]
        if notices:
            self.outbox.wake()
        return notices

    async def _each_account(self, what: str, step: Callable[[LiveAccount], Awaitable[T]]) -> list[T]:
        """``step`` for every account, in turn; what the steps returned, but for those that failed.

        One account's failure (a row it cannot read, a plugin raising) is logged and the sweep goes on
        to the next account: it must not cost every account after it this run, every run.
        """
        done = []
        for account in await all_accounts(self.config):
            try:
                done.append(await step(account))
            except Exception:
                _LOGGER.exception("%s: account %s failed; the sweep goes on", what, account.name)
        return done

    async def housekeeping(self) -> None:
        """:func:`forget_old_rows`, as a scheduled job."""
        await self._tracked("housekeeping", lambda: forget_old_rows(self.config))

    def _schedule_retry(self, name: str, failures: int) -> None:
        account = self.config.accounts[name]
        interval = 60 * (account.sync_interval_minutes or self.config.sync["interval_minutes"])
        base = self.config.sync["retry_seconds"]
        # Full jitter on top of the base, so failing accounts do not retry in step; a retry only helps
        # when it comes before the next regular run.
        delay = min(interval, base + backoff_delay(failures - 1, base, interval))
        if self.scheduler.running:
            self.scheduler.add_job(
                self._leader_only(self.sync),
                "date",
                run_date=datetime.now(UTC) + timedelta(seconds=delay),
                args=[name],
                id=f"sync:{name}:retry",
                replace_existing=True,
            )
            _LOGGER.info("retrying the sync of %s in %.0fs", name, delay)
