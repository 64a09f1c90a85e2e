"""Mirroring an account's ATS jobs into the database.

A sync pages through the adapter's ``fetch_jobs`` and upserts by ATS id, one transaction per page so
webhooks keep flowing during a long sync. Unchanged jobs are not rewritten (a content digest decides);
after a complete snapshot, open jobs the ATS no longer lists are closed. A failing ATS changes nothing
but the account's sync status: the last good jobs keep being served.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from tortoise import connections
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from hub import models
from hub.accounts import LiveAccount, note_changed
from hub.errors import AdapterUnavailable
from hub.metrics import SYNC_ERRORS, SYNC_SECONDS
from hub.normalised import Job, JobPage, xml_safe
from hub.plugins import PluginHost

_LOGGER = logging.getLogger(__name__)

#: An incremental sync never lists vanished jobs: a full snapshot at least this often catches them.
FULL_SYNC_EVERY = timedelta(hours=6)
#: New jobs after which a sync refreshes the planner's statistics (then at 4x that, 16x…).
ANALYZE_FIRST_AT = 2000
#: Rows per UPDATE … WHERE id IN (…): far below every database's bound-parameter limit.
_CHUNK = 500

# Job fields stored under another column name.
_COLUMN_FOR = {"updated_at": "ats_updated_at"}
_STORED = tuple(f.name for f in dataclasses.fields(Job) if f.name not in ("ats_id", "is_open"))
#: The columns a changed job rewrites.
UPDATE_COLUMNS = (*(_COLUMN_FOR.get(name, name) for name in _STORED), "is_open", "content_hash")

_locks: dict[str, asyncio.Lock] = {}


@dataclasses.dataclass(slots=True)
class SyncResult:
    """What one sync of one account did."""

    account: str
    full: bool
    seen: int = 0
    created: int = 0
    updated: int = 0
    closed: int = 0
    error: str | None = None
    #: ATS ids listed by this sync, to find the vanished ones after a snapshot.
    seen_ids: set[str] = dataclasses.field(default_factory=set, repr=False)

    @property
    def changed(self) -> bool:
        """Did the sync change anything the feed shows?"""
        return bool(self.created or self.updated or self.closed)

    def summary(self) -> str:
        """One line for logs, the CLI and Slack."""
        if self.error:
            return f"{self.account}: sync failed: {self.error}"
        kind = "full" if self.full else "incremental"
        return (
            f"{self.account}: {kind} sync saw {self.seen} jobs: {self.created} new, "
            f"{self.updated} changed, {self.closed} closed"
        )


def _column_values(job: Job) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in _STORED:
        value = getattr(job, name)
        values[_COLUMN_FOR.get(name, name)] = xml_safe(value) if isinstance(value, str) else value
    return values


def _digest(values: dict[str, Any]) -> str:
    text = json.dumps(values, sort_keys=True, default=lambda v: v.isoformat(), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


async def sync_account(
    host: PluginHost, http: aiohttp.ClientSession, account: LiveAccount, *, full: bool | None = None
) -> SyncResult:
    """Sync one account's jobs from its adapter; never raises for an ATS failure (see the result).

    ``full`` forces (True) or forbids (False) a full snapshot; by default a sync is incremental when the
    previous one succeeded and the last full one is recent.
    """
    lock = _locks.setdefault(account.name, asyncio.Lock())
    async with lock:
        row = await models.Account.get(id=account.row.id)
        started = datetime.now(UTC)
        since = None
        recent_full = row.last_full_sync_at and started - row.last_full_sync_at < FULL_SYNC_EVERY
        if full is False or (full is None and recent_full and row.last_sync_ok):
            since = row.last_sync_started_at
        result = SyncResult(account.name, full=since is None)
        await models.Account.filter(id=row.id).update(last_sync_started_at=started)
        try:
            snapshot = await _pull(host, http, account, row.id, since, result)
            if snapshot:
                result.closed = await _close_vanished(row.id, result)
        except AdapterUnavailable as error:
            result.error = str(error)
        except Exception as error:  # a bug in a plugin must not take the scheduler down
            _LOGGER.exception("sync of %s failed in adapter %s", account.name, account.config.adapter)
            result.error = f"adapter error: {type(error).__name__}: {error}"
        await _record(row, started, result)
        SYNC_SECONDS.labels(account.name).observe((datetime.now(UTC) - started).total_seconds())
        if result.error:
            SYNC_ERRORS.labels(account.name).inc()
        log = _LOGGER.warning if result.error else _LOGGER.info
        log("%s", result.summary())
        return result


async def _pull(
    host: PluginHost,
    http: aiohttp.ClientSession,
    account: LiveAccount,
    account_id: int,
    since: datetime | None,
    result: SyncResult,
) -> bool:
    """Fetch and upsert every page; returns True when the pages formed a complete snapshot."""
    snapshot = True
    analyze_at = ANALYZE_FIRST_AT
    pages = host.call_iter(
        account.config.adapter, "appcast_hub_fetch_jobs", account.config, http=http, since=since
    )
    async for page in pages:
        if not isinstance(page, JobPage):
            raise AdapterUnavailable(f"adapter yielded {type(page).__name__}, not JobPage")
        snapshot = snapshot and page.snapshot
        await _upsert_page(account_id, page.jobs, result)
        if result.created >= analyze_at:
            await _refresh_statistics()
            analyze_at *= 4
    return snapshot


async def _refresh_statistics() -> None:
    # Without statistics on a freshly filled table, PostgreSQL looks each page's ids up through the wrong
    # index and reads every row stored so far: a first sync of 100,000 jobs turns quadratic. Autovacuum
    # analyses too late for that, so a big first sync does it itself (a few times, at 4x steps).
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        await connection.execute_script(f"ANALYZE {models.Job._meta.db_table}")


async def _upsert_page(account_id: int, jobs: list[Job], result: SyncResult) -> None:
    incoming: dict[str, Job] = {}
    for job in jobs:
        if job.ats_id in result.seen_ids or job.ats_id in incoming:
            _LOGGER.warning("ATS listed job %s twice in one sync: keeping the first", job.ats_id)
            continue
        incoming[job.ats_id] = job
    result.seen_ids.update(incoming)
    result.seen += len(incoming)
    if not incoming:
        return
    existing = {
        ats_id: (pk, digest, is_open)
        for pk, ats_id, digest, is_open in await models.Job.filter(
            account_id=account_id, ats_id__in=list(incoming)
        ).values_list("id", "ats_id", "content_hash", "is_open")
    }
    now = datetime.now(UTC)
    new_rows, changed_rows = [], []
    for ats_id, job in incoming.items():
        values = _column_values(job)
        digest = _digest(values)
        known = existing.get(ats_id)
        if known is None:
            new_rows.append(
                models.Job(
                    account_id=account_id,
                    ats_id=ats_id,
                    is_open=job.is_open,
                    content_hash=digest,
                    **values,
                )
            )
        elif known[1] != digest or known[2] != job.is_open:
            changed_rows.append(
                models.Job(id=known[0], is_open=job.is_open, content_hash=digest, changed_at=now, **values)
            )
    if not new_rows and not changed_rows:
        return
    async with in_transaction():
        if new_rows:
            await models.Job.bulk_create(new_rows)
        if changed_rows:
            await models.Job.bulk_update(changed_rows, fields=[*UPDATE_COLUMNS, "changed_at"])
    result.created += len(new_rows)
    result.updated += len(changed_rows)


async def _close_vanished(account_id: int, result: SyncResult) -> int:
    """Close the open jobs a complete snapshot did not list; returns how many."""
    open_jobs = await models.Job.filter(account_id=account_id, is_open=True).values_list("id", "ats_id")
    vanished = [pk for pk, ats_id in open_jobs if ats_id not in result.seen_ids]
    now = datetime.now(UTC)
    for start in range(0, len(vanished), _CHUNK):
        await models.Job.filter(id__in=vanished[start : start + _CHUNK]).update(is_open=False, changed_at=now)
    return len(vanished)


async def _record(row: models.Account, started: datetime, result: SyncResult) -> None:
    """Write the sync's outcome to the account, and move the feed on when its content changed."""
    finished = datetime.now(UTC)
    update: dict[str, Any] = {
        "last_sync_finished_at": finished,
        "last_sync_ok": result.error is None,
        "last_sync_error": result.error,
        "last_sync_jobs_seen": result.seen,
    }
    if result.error is None:
        update["consecutive_sync_failures"] = 0
        if result.full:
            update["last_full_sync_at"] = started
    else:
        update["consecutive_sync_failures"] = F("consecutive_sync_failures") + 1
    if result.changed:
        update |= {"feed_version": F("feed_version") + 1, "feed_changed_at": finished}
    await models.Account.filter(id=row.id).update(**update)
    note_changed()
