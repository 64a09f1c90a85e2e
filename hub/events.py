"""Storing normalised events, and the deliveries they cause, in one transaction each.

This is the transactional outbox: an event and the deliveries it causes are committed together or not
at all, so a crash can neither lose a delivery nor create one for an event that was not stored. Each
event is stored once per (account, ``dedupe_key``), however often a webhook or a reconciliation poll
reports it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypedDict

import aiohttp
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from hub import models
from hub.accounts import LiveAccount
from hub.errors import AdapterUnavailable
from hub.feed import FEED_COLUMNS, job_of
from hub.normalised import Event, Job
from hub.plugins import PluginHost
from hub.stages import funnel_event_for

_LOGGER = logging.getLogger(__name__)

#: Each reconciliation looks a little further back than the last one reached: clocks and commits skew.
RECONCILE_OVERLAP = timedelta(minutes=10)


class StoreResultJson(TypedDict):
    """What storing a batch of events did: new events, ones already stored, deliveries queued."""

    stored: int
    duplicates: int
    deliveries: int


@dataclass(slots=True)
class StoreResult:
    """What storing a batch of events did."""

    stored: int = 0
    duplicates: int = 0
    deliveries: int = 0

    def as_json(self) -> StoreResultJson:
        """The answer of the admin API and of ``--json`` (to a reconciliation)."""
        return {"stored": self.stored, "duplicates": self.duplicates, "deliveries": self.deliveries}


def idempotency_key(account: str, destination: str, dedupe_key: str) -> str:
    """The key a delivery carries on every attempt: derived, so it can never differ between retries."""
    return hashlib.sha256(f"{account}\x00{destination}\x00{dedupe_key}".encode()).hexdigest()


async def _switched_on_job(account: LiveAccount, ats_job_id: str | None) -> Job | None:
    """The event's job when it is switched on for Appcast (open or not: hires come after closing)."""
    if not ats_job_id:
        return None
    rows = await models.Job.filter(account_id=account.row.id, ats_id=ats_job_id).values(
        *FEED_COLUMNS, "appcast"
    )
    if not rows:
        return None
    flag = rows[0].pop("appcast")
    on = flag is True or (flag is None and account.feed_policy == "all-open")
    return job_of(rows[0]) if on else None


async def store_event(account: LiveAccount, plugins: PluginHost, event: Event) -> tuple[bool, int]:
    """Store one event and its deliveries; ``(stored, deliveries)``, ``(False, 0)`` for a duplicate."""
    funnel = await funnel_event_for(account, event)
    job = await _switched_on_job(account, event.ats_job_id) if funnel and account.enabled else None
    now = datetime.now(UTC)
    try:
        async with in_transaction():
            if await models.Event.exists(account_id=account.row.id, dedupe_key=event.dedupe_key):
                return False, 0
            row = await models.Event.create(
                account_id=account.row.id, kind=event.kind, dedupe_key=event.dedupe_key,
                ats_event=event.ats_event, ats_job_id=event.ats_job_id,
                ats_application_id=event.ats_application_id, ats_candidate_id=event.ats_candidate_id,
                from_stage_id=event.from_stage_id, to_stage_id=event.to_stage_id,
                stage_name=event.stage_name, workflow=event.workflow, source=event.source,
                candidate_hash=event.candidate_hash, funnel_event=funnel, occurred_at=event.occurred_at,
            )  # fmt: skip
            if job is None:
                return True, 0
            payloads = await plugins.broadcast(
                "appcast_hub_build_delivery", account.config, event=event, funnel_event=funnel, job=job
            )
            for destination, payload in payloads:
                await models.Delivery.create(
                    account_id=account.row.id, event=row, destination=destination,
                    idempotency_key=idempotency_key(account.name, destination, event.dedupe_key),
                    payload=dict(payload), next_attempt_at=now,
                )  # fmt: skip
            return True, len(payloads)
    except IntegrityError:
        # Another process stored the same event between our check and our insert: a duplicate.
        return False, 0


async def store_events(account: LiveAccount, plugins: PluginHost, events: list[Event]) -> StoreResult:
    """Store each event (and its deliveries) in its own transaction."""
    result = StoreResult()
    for event in events:
        stored, deliveries = await store_event(account, plugins, event)
        result.stored += stored
        result.duplicates += not stored
        result.deliveries += deliveries
    return result


async def reconcile_account(
    account: LiveAccount, plugins: PluginHost, http: aiohttp.ClientSession, lookback: timedelta
) -> StoreResult | None:
    """Ask the ATS for events since the last reconciliation (or ``lookback``) and store the missing ones.

    None when the ATS could not be asked (logged); the next run covers the same window again.
    """
    started = datetime.now(UTC)
    last = account.row.last_reconciled_at
    since = last - RECONCILE_OVERLAP if last else started - lookback
    try:
        events = await plugins.call(
            account.config.adapter, "appcast_hub_fetch_recent_events", account.config, http=http, since=since
        )
    except AdapterUnavailable as error:
        _LOGGER.warning("reconciliation of %s failed: %s", account.name, error)
        return None
    result = await store_events(account, plugins, list(events or ()))
    await models.Account.filter(id=account.row.id).update(last_reconciled_at=started)
    if result.stored:
        _LOGGER.info("reconciliation of %s recovered %s events webhooks missed", account.name, result.stored)
    return result
