"""Background workers: the inbox (stored webhooks → events) and the outbox (deliveries → destinations).

Each worker claims due rows (:func:`hub.queue.claim_due`), works on them, and records the outcome. It
wakes when this process queued work, and polls every ``[events] poll_seconds`` for work other processes
queued or that came due after a backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from hub import models
from hub.accounts import LiveAccount, UnknownAccount, get_account
from hub.config import HubConfig
from hub.errors import AdapterUnavailable, WebhookMalformed
from hub.events import store_events
from hub.http import backoff_delay
from hub.metrics import DELIVERY_ATTEMPTS, DELIVERY_LATENCY
from hub.normalised import Delivery, WebhookRequest
from hub.plugins import PluginHost
from hub.queue import claim_due

_LOGGER = logging.getLogger(__name__)

#: Rows claimed per round, and deliveries sent at once.
BATCH = 20
#: Inbox retries back off from this, doubling, up to an hour.
INBOX_BACKOFF_SECONDS = 5.0


class Worker:
    """A loop that runs :meth:`work_once` whenever woken or every ``poll_seconds``."""

    name = "worker"

    def __init__(self, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """There is new work: look now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        """Start the loop on the running event loop."""
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop after the batch in hand; cancel it only if it outlasts ``grace_seconds``.

        Cancelling mid-query would leave a pooled connection in limbo; a lease makes whatever a
        cancelled batch left unfinished come due again for another process anyway.
        """
        self._stopping = True
        self.wake()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), grace_seconds)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                busy = await self.work_once()
            except Exception:  # the loop must survive anything, a database blip included
                _LOGGER.exception("%s round failed", self.name)
                busy = False
            if busy or self._stopping:
                continue  # a full batch: there may be more
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()

    async def work_once(self) -> bool:
        """Do one batch; True when the batch was full (more may be waiting)."""
        raise NotImplementedError


async def _accounts_by_id(config: HubConfig, ids: set[int]) -> dict[int, LiveAccount | None]:
    names = dict(await models.Account.filter(id__in=list(ids)).values_list("id", "name"))
    accounts: dict[int, LiveAccount | None] = {}
    for account_id, name in names.items():
        try:
            accounts[account_id] = await get_account(config, name)
        except UnknownAccount:
            accounts[account_id] = None  # removed from the config since
    return accounts


class InboxWorker(Worker):
    """Parses stored webhooks into events (and their deliveries) through the account's adapter."""

    name = "inbox"

    def __init__(
        self,
        config: HubConfig,
        plugins: PluginHost,
        http: aiohttp.ClientSession,
        on_deliveries: Callable[[], None],
    ) -> None:
        super().__init__(config.events["poll_seconds"])
        self.config, self.plugins, self.http = config, plugins, http
        self.max_attempts: int = config.events["inbox_max_attempts"]
        self.on_deliveries = on_deliveries

    async def work_once(self) -> bool:
        receipts = await claim_due(models.WebhookReceipt, limit=BATCH)
        accounts = await _accounts_by_id(self.config, {r.account_id for r in receipts})  # type: ignore[attr-defined]
        for receipt in receipts:
            await self._process(receipt, accounts[receipt.account_id])  # type: ignore[attr-defined]
        return len(receipts) == BATCH

    async def _process(self, receipt: models.WebhookReceipt, account: LiveAccount | None) -> None:
        if account is None:
            await self._finish(receipt, "failed", "account no longer configured")
            return
        request = WebhookRequest(
            headers=receipt.headers, body=bytes(receipt.body), query=receipt.query,
            received_at=receipt.received_at,
        )  # fmt: skip
        try:
            events = await self.plugins.call(
                account.config.adapter, "appcast_hub_parse_webhook", account.config,
                request=request, http=self.http,
            )  # fmt: skip
            result = await store_events(account, self.plugins, list(events or ()))
        except WebhookMalformed as error:
            await self._finish(receipt, "failed", f"malformed: {error}")
        except AdapterUnavailable as error:
            if receipt.attempts >= self.max_attempts:
                await self._finish(receipt, "failed", f"gave up after {receipt.attempts} attempts: {error}")
            else:
                delay = INBOX_BACKOFF_SECONDS + backoff_delay(receipt.attempts, INBOX_BACKOFF_SECONDS, 3600)
                await models.WebhookReceipt.filter(id=receipt.id).update(
                    next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay), last_error=str(error)
                )
        except Exception as error:
            _LOGGER.exception("webhook %s of %s: adapter %s failed", receipt.id, account.name,
                              account.config.adapter)  # fmt: skip
            await self._finish(receipt, "failed", f"adapter error: {type(error).__name__}: {error}")
        else:
            await self._finish(receipt, "processed", None, events=result.stored)
            if result.deliveries:
                self.on_deliveries()

    @staticmethod
    async def _finish(receipt: models.WebhookReceipt, state: str, error: str | None, events: int = 0) -> None:
        if state == "failed":
            _LOGGER.warning("webhook %s failed: %s", receipt.id, error)
        await models.WebhookReceipt.filter(id=receipt.id).update(
            state=state, last_error=error, events_stored=events
        )


class OutboxWorker(Worker):
    """Sends due deliveries through their destination plugin; retries with backoff, then dead-letters."""

    name = "outbox"

    def __init__(self, config: HubConfig, plugins: PluginHost, http: aiohttp.ClientSession) -> None:
        super().__init__(config.events["poll_seconds"])
        self.config, self.plugins, self.http = config, plugins, http
        self.events: dict[str, Any] = dict(config.events)

    async def work_once(self) -> bool:
        deliveries = await claim_due(models.Delivery, limit=BATCH)
        accounts = await _accounts_by_id(self.config, {d.account_id for d in deliveries})  # type: ignore[attr-defined]
        await asyncio.gather(
            *(self._send(d, accounts[d.account_id]) for d in deliveries)  # type: ignore[attr-defined]
        )
        return len(deliveries) == BATCH

    async def _send(self, row: models.Delivery, account: LiveAccount | None) -> None:
        delivery = Delivery(row.id, row.destination, row.payload, row.idempotency_key, row.attempts)
        try:
            if account is None:
                raise AdapterUnavailable("account no longer configured")
            await self.plugins.call(
                row.destination, "appcast_hub_deliver", account.config, delivery=delivery, http=self.http
            )
        except (AdapterUnavailable, LookupError) as error:
            await self._failed(row, str(error))
        except Exception as error:
            _LOGGER.exception("delivery %s: destination %s failed", row.id, row.destination)
            await self._failed(row, f"plugin error: {type(error).__name__}: {error}")
        else:
            now = datetime.now(UTC)
            await models.Delivery.filter(id=row.id).update(
                state="delivered", delivered_at=now, last_error=None
            )
            DELIVERY_ATTEMPTS.labels(row.destination, "delivered").inc()
            DELIVERY_LATENCY.labels(row.destination).observe((now - row.created_at).total_seconds())

    async def _failed(self, row: models.Delivery, error: str) -> None:
        dead = row.attempts >= self.events["max_attempts"]
        DELIVERY_ATTEMPTS.labels(row.destination, "dead" if dead else "failed").inc()
        if dead:
            _LOGGER.warning("delivery %s dead after %s attempts: %s", row.id, row.attempts, error)
            await models.Delivery.filter(id=row.id).update(state="dead", last_error=error)
            return
        delay = backoff_delay(
            row.attempts - 1, self.events["backoff_seconds"], self.events["backoff_cap_seconds"]
        )
        await models.Delivery.filter(id=row.id).update(
            next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay), last_error=error
        )
