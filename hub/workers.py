"""Background workers: the inbox (stored webhooks → events) and the outbox (deliveries → destinations).

Each worker claims due rows (:class:`hub.queue.Leases`), works on them, and records the outcome. It
wakes when this process queued work, and polls every ``[events] poll_seconds`` for work other processes
queued or that came due after a backoff. A claim is leased, and renewed while the work goes on: rows a
killed process held come due again within :data:`hub.queue.LEASE`. Outcomes other than success are
written only while the claim still holds (:func:`hub.queue.still_claimed`), so a process that lost its
lease can neither dead-letter nor delay a row another process has taken over.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from tortoise.expressions import F, Q

from hub import models
from hub.accounts import LiveAccount
from hub.breaker import Breakers, BreakerState, DestinationKey
from hub.config import HubConfig
from hub.db import is_outage
from hub.errors import AdapterUnavailable, SendLater, WebhookMalformed, WebhookUnconfirmed
from hub.events import store_events
from hub.http import MAX_QUEUED_RETRY_AFTER, backoff_delay, retry_delay
from hub.logs import QuietLog
from hub.metrics import DELIVERY_ATTEMPTS, DELIVERY_LATENCY, WEBHOOK_REFUSED
from hub.normalised import Delivery, WebhookRequest
from hub.plugins import PluginHost
from hub.queue import Leases, still_claimed

_LOGGER = logging.getLogger(__name__)
#: A round that fails fails again at the next poll: said once a minute, not every couple of seconds.
_QUIET = QuietLog(_LOGGER)

#: Rows claimed per round, and deliveries sent at once.
BATCH = 20
#: The soonest a delivery put back for its turn in its destination's pace comes due (``SendLater``): a
#: plugin answering 0 must not have the loop claim it again and again.
MIN_TURN_SECONDS = 0.1
#: How long after such a delivery is due the outbox looks for it.
TURN_WAKE_MARGIN = 0.02
#: Inbox retries back off from this, doubling, up to an hour.
INBOX_BACKOFF_SECONDS = 5.0


class Worker:
    """A loop that runs :meth:`work_once` whenever woken or every ``poll_seconds``."""

    name = "worker"

    def __init__(self, poll_seconds: float, leases: Leases[Any]) -> None:
        self.poll_seconds = poll_seconds
        self.leases = leases
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
        await self.leases.close()

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                busy = await self.work_once()
            except Exception as error:  # the loop must survive anything, a database outage included
                if is_outage(error):
                    _QUIET.log(logging.WARNING, (self.name, "outage"), "%s waits for the database: %s",
                               self.name, type(error).__name__)  # fmt: skip
                else:
                    _QUIET.log(logging.ERROR, (self.name, type(error)), "%s round failed", self.name,
                               exc_info=True)  # fmt: skip
                busy = False
            if busy or self._stopping:
                continue  # a full batch: there may be more
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.wait_seconds())
            self._wake.clear()

    def wait_seconds(self) -> float:
        """How long an idle loop waits for a wake-up before it looks again."""
        return self.poll_seconds

    async def work_once(self) -> bool:
        """Do one batch; True when the batch was full (more may be waiting)."""
        raise NotImplementedError


async def _accounts_by_id(config: HubConfig, ids: set[int]) -> dict[int, LiveAccount | None]:
    """The accounts of these ids, read in one query; None for one no longer in the config (or gone)."""
    accounts: dict[int, LiveAccount | None] = dict.fromkeys(ids)
    for row in await models.Account.filter(id__in=list(ids)):
        account = config.accounts.get(row.name)
        accounts[row.id] = LiveAccount(account, row) if account is not None else None
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
        super().__init__(config.events["poll_seconds"], Leases(models.WebhookReceipt))
        self.config, self.plugins, self.http = config, plugins, http
        self.max_attempts: int = config.events["inbox_max_attempts"]
        self.on_deliveries = on_deliveries

    async def work_once(self) -> bool:
        receipts = await self.leases.claim(BATCH)
        try:
            accounts = await _accounts_by_id(self.config, {r.account_id for r in receipts})  # type: ignore[attr-defined]
            for receipt in receipts:
                await self._process(receipt, accounts.get(receipt.account_id))  # type: ignore[attr-defined]
        finally:
            await self.leases.release(*receipts)  # whatever failed comes due again when its lease ends
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
        except WebhookUnconfirmed as error:
            WEBHOOK_REFUSED.labels(account.name, "unconfirmed").inc()
            await self._finish(receipt, "failed", f"unconfirmed: {error}")
        except AdapterUnavailable as error:
            if receipt.attempts >= self.max_attempts:
                await self._finish(receipt, "failed", f"gave up after {receipt.attempts} attempts: {error}")
            else:
                backoff = INBOX_BACKOFF_SECONDS + backoff_delay(receipt.attempts, INBOX_BACKOFF_SECONDS, 3600)
                delay = retry_delay(backoff, error.retry_after)
                await self.leases.release(receipt)
                await models.WebhookReceipt.filter(**still_claimed(receipt)).update(
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

    async def _finish(
        self, receipt: models.WebhookReceipt, state: str, error: str | None, events: int = 0
    ) -> None:
        await self.leases.release(receipt)
        if state == "failed":
            _LOGGER.warning("webhook %s failed: %s", receipt.id, error)
            # Only while our claim holds: another process that took it over may have processed it.
            query = models.WebhookReceipt.filter(**still_claimed(receipt))
        else:
            # Its events are stored: whoever else worked on it meanwhile, and however that ended, it is
            # processed.
            query = models.WebhookReceipt.filter(id=receipt.id, state__in=("pending", "failed"))
        await query.update(state=state, last_error=error, events_stored=events)


class OutboxWorker(Worker):
    """Sends due deliveries through their destination plugin; retries with backoff, then dead-letters.

    A destination that keeps failing is left alone by its breaker (:mod:`hub.breaker`): its deliveries
    are not claimed, and once per probe interval the earliest due one is sent as a probe. An outage the
    breaker has recognised (the failure that opens it, a failed probe, a send already on its way) costs
    the delivery no attempt and not its place: it is put back as it was claimed, due when it was due, so
    an outage dead-letters nothing and the backlog drains in due order once a probe gets through.
    """

    name = "outbox"

    def __init__(self, config: HubConfig, plugins: PluginHost, http: aiohttp.ClientSession) -> None:
        super().__init__(config.events["poll_seconds"], Leases(models.Delivery))
        self.config, self.plugins, self.http = config, plugins, http
        self.events: dict[str, Any] = dict(config.events)
        self.breakers = Breakers.from_events(self.events)
        # When the deliveries put back for their turns in their destination's pace come due (monotonic, a
        # heap): a burst of notices drains at the destination's pace, not at one turn per poll.
        self._turns: list[float] = []

    def wait_seconds(self) -> float:
        # Wake for the next probe or turn if it comes before the next poll; never 0, which would spin.
        now = time.monotonic()
        while self._turns and self._turns[0] <= now:
            heapq.heappop(self._turns)
        probe = self.breakers.seconds_to_next_probe()
        turn = self._turns[0] - now if self._turns else None
        return min([self.poll_seconds, *(wait for wait in (probe, turn) if wait is not None)])

    async def work_once(self) -> bool:
        probes: list[models.Delivery] = []
        probing: list[DestinationKey] = []
        for key in self.breakers.probes_due():
            # The earliest due delivery of the destination: after recovery the order is kept.
            claimed = await self.leases.claim(1, Q(destination=key.destination, account_id=key.account_id))
            if claimed:
                probes.extend(claimed)
                probing.append(key)
            else:
                self.breakers.no_probe(key)
        blocked = [Q(destination=k.destination, account_id=k.account_id) for k in self.breakers.blocked()]
        where = ~Q(*blocked, join_type="OR") if blocked else None
        deliveries = probes + await self.leases.claim(BATCH, where)
        try:
            accounts = await _accounts_by_id(self.config, {d.account_id for d in deliveries})  # type: ignore[attr-defined]
            results = await asyncio.gather(
                *(self._send(d, accounts.get(d.account_id)) for d in deliveries),  # type: ignore[attr-defined]
                return_exceptions=True,  # every send finishes before the batch's claims are let go
            )
            # One write for the batch's successes (half the queries per delivery): they all came back
            # within one attempt's time, so a crash before it only means re-sends under the same keys.
            delivered = [row for row, result in zip(deliveries, results, strict=True) if result is True]
            await self._delivered(delivered)
        finally:
            await self.leases.release(*deliveries)  # whatever failed comes due again when its lease ends
            for key in probing:
                # A probe that never reached the destination (it waits for the notice it follows, its
                # account is gone, the plugin or the database failed) says nothing of it: open again, else
                # the destination would stay half-open, neither blocked nor probed, for good.
                if self.breakers.state(key) is BreakerState.HALF_OPEN:
                    self.breakers.no_probe(key)
        for row, result in zip(deliveries, results, strict=True):
            if isinstance(result, BaseException):
                _LOGGER.error("delivery %s: sending or recording it failed", row.id, exc_info=result)
        return len(deliveries) - len(probes) == BATCH

    async def _send(self, row: models.Delivery, account: LiveAccount | None) -> bool:
        """One attempt; True when the destination took it (recorded by the caller), else recorded here."""
        if row.receipt is not None:
            # The destination took it (its receipt is written as it answers) but the process stopped before
            # the batch was recorded: a chat message would be posted twice, its thread split in two.
            return True
        waits_until, thread = await self._predecessor(row)
        if waits_until is not None:
            await self._put_back(row, "waits for the delivery it follows", due=waits_until)
            return False
        delivery = Delivery(row.id, row.destination, row.payload, row.idempotency_key, row.attempts, thread)
        try:
            if account is None:
                raise LookupError("account no longer configured")
            key = DestinationKey(row.destination, row.account_id, account.name)  # type: ignore[attr-defined]
            try:
                receipt = await self.plugins.call(
                    row.destination, "appcast_hub_deliver", account.config, delivery=delivery, http=self.http
                )
                if receipt is not None:
                    await models.Delivery.filter(id=row.id).update(receipt=dict(receipt))
            except AdapterUnavailable as error:
                if self.breakers.record(key, error) is not BreakerState.CLOSED:
                    await self._put_back(row, str(error))
                    return False
                raise
            except SendLater as later:
                # The destination's own pace, said before sending: the breaker learns nothing of it, and the
                # error it last had stays. Never due at once (a batch of those would spin the loop).
                seconds = later.seconds if math.isfinite(later.seconds) else MAX_QUEUED_RETRY_AFTER
                seconds = min(max(seconds, MIN_TURN_SECONDS), MAX_QUEUED_RETRY_AFTER)
                due = datetime.now(UTC) + timedelta(seconds=seconds)
                # Woken a hair after the row is due (its time taken first), or the claim would miss it.
                heapq.heappush(self._turns, time.monotonic() + seconds + TURN_WAKE_MARGIN)
                await self._put_back(row, None, due=due, outcome="paced")
                return False
            self.breakers.record(key, None)
        except AdapterUnavailable as error:
            await self._failed(row, str(error), error.retry_after)
        except LookupError as error:
            await self._failed(row, str(error))
        except Exception as error:
            _LOGGER.exception("delivery %s: destination %s failed", row.id, row.destination)
            await self._failed(row, f"plugin error: {type(error).__name__}: {error}")
        else:
            return True
        return False

    async def _predecessor(self, row: models.Delivery) -> tuple[datetime | None, dict[str, Any] | None]:
        """``(waits_until, thread)``: while the delivery ``row`` follows is pending, a poll from now (it
        is being sent, or waits out a retry; a destination that is down is not claimed at all); else
        None, and the receipt to thread on. One that gave up (dead) or is gone lets it go unthreaded."""
        if row.after is None:
            return None, None
        found = await models.Delivery.filter(idempotency_key=row.after).values_list("state", "receipt")
        if not found:
            return None, None
        [(state, receipt)] = found
        if state == "pending":
            return datetime.now(UTC) + timedelta(seconds=self.poll_seconds), None
        return None, receipt if state == "delivered" else None

    async def _delivered(self, rows: list[models.Delivery]) -> None:
        if not rows:
            return
        await self.leases.release(*rows)
        now = datetime.now(UTC)
        # Delivered is delivered, whoever else holds or dead-lettered it meanwhile.
        await models.Delivery.filter(id__in=[row.id for row in rows], state__in=("pending", "dead")).update(
            state="delivered", delivered_at=now, last_error=None
        )
        for row in rows:
            DELIVERY_ATTEMPTS.labels(row.destination, "delivered").inc()
            DELIVERY_LATENCY.labels(row.destination).observe((now - row.created_at).total_seconds())

    async def _failed(self, row: models.Delivery, error: str, retry_after: float | None = None) -> None:
        await self.leases.release(row)
        dead = row.attempts >= self.events["max_attempts"]
        DELIVERY_ATTEMPTS.labels(row.destination, "dead" if dead else "failed").inc()
        if dead:
            _LOGGER.warning("delivery %s dead after %s attempts: %s", row.id, row.attempts, error)
            await models.Delivery.filter(**still_claimed(row)).update(state="dead", last_error=error)
            return
        backoff = backoff_delay(
            row.attempts - 1, self.events["backoff_seconds"], self.events["backoff_cap_seconds"]
        )
        delay = retry_delay(backoff, retry_after)
        await models.Delivery.filter(**still_claimed(row)).update(
            next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay), last_error=error
        )

    async def _put_back(
        self, row: models.Delivery, error: str | None, *, due: datetime | None = None, outcome: str = "held"
    ) -> None:
        """Undo the claim of a delivery an outage kept from its destination: the attempt it counted back,
        due when it was due before the claim (its place in line), the error kept for ``deliveries`` (None:
        the one it had). ``due``: later, behind the delivery it follows, or at its turn in the
        destination's pace."""
        await self.leases.release(row)
        DELIVERY_ATTEMPTS.labels(row.destination, outcome).inc()
        # The count goes back to the previous claim's fencing token: a claimer that lost that claim (its
        # loop stalled past the lease) could write its outcome again, but it is the outcome of a real
        # attempt, which the row had been waiting for.
        kept = {} if error is None else {"last_error": error}
        await models.Delivery.filter(**still_claimed(row)).update(
            attempts=F("attempts") - 1, next_attempt_at=due or row.next_attempt_at, **kept
        )
