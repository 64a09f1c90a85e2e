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
from typing import Any, TypedDict

import aiohttp
from tortoise import connections
from tortoise.expressions import F

from hub import held, models
from hub.accounts import LiveAccount, changing_feed, note_changed
from hub.errors import AdapterAuthError, AdapterUnavailable
from hub.logs import QuietLog
from hub.mapping import country_code
from hub.metrics import JOB_FIELDS_DROPPED, JOBS_REFUSED, SYNC_ERRORS, SYNC_SECONDS
from hub.normalised import WORKPLACES, Job, JobPage, xml_safe
from hub.plugins import PluginHost

_LOGGER = logging.getLogger(__name__)
#: A bad job comes back at every sync: said once a minute per account and reason, not per job.
_QUIET = QuietLog(_LOGGER)

#: An incremental sync never lists vanished jobs: a full snapshot at least this often catches them.
FULL_SYNC_EVERY = timedelta(hours=6)
#: New jobs after which a sync refreshes the planner's statistics (then at 4x that, 16x…).
ANALYZE_FIRST_AT = 2000
#: Longest ATS id the hub stores (``jobs.ats_id``), and what the other length-limited columns hold.
_MAX_ID = 255
_COLUMN_LIMITS = {
    "requisition_id": 255,
    "country": 2,
    "postal_code": 32,
    "workplace": 16,
    "employment_type": 64,
}

# Job fields stored under another column name.
_COLUMN_FOR = {"updated_at": "ats_updated_at"}
_STORED = tuple(f.name for f in dataclasses.fields(Job) if f.name not in ("ats_id", "is_open"))
#: The columns a changed job rewrites.
UPDATE_COLUMNS = (*(_COLUMN_FOR.get(name, name) for name in _STORED), "is_open", "content_hash")

_locks: dict[str, asyncio.Lock] = {}


class SyncResultJson(TypedDict):
    """What one sync of one account did (``error`` says why it failed, and then it changed nothing)."""

    account: str
    summary: str
    full: bool
    seen: int
    created: int
    updated: int
    closed: int
    refused: int
    held: int
    error: str | None


@dataclasses.dataclass(slots=True)
class SyncResult:
    """What one sync of one account did."""

    account: str
    full: bool
    seen: int = 0
    created: int = 0
    updated: int = 0
    closed: int = 0
    #: Jobs the adapter listed that could not be stored (no id, no title…): logged and counted.
    refused: int = 0
    #: Jobs a mass close would have closed, held instead (:mod:`hub.held`).
    held: int = 0
    error: str | None = None
    #: The ATS refused the credentials (401/403): no retry helps until the config changes.
    credentials_refused: bool = dataclasses.field(default=False, repr=False)
    #: ATS ids listed by this sync, to find the vanished ones after a snapshot.
    seen_ids: set[str] = dataclasses.field(default_factory=set, repr=False)
    #: Open jobs the ATS says are closed: closed once every page is in, unless that is a mass close.
    closing: set[str] = dataclasses.field(default_factory=set, repr=False)

    @property
    def changed(self) -> bool:
        """Did the sync change anything the feed shows?"""
        return bool(self.created or self.updated or self.closed)

    def as_json(self) -> SyncResultJson:
        """The answer of the admin API and of ``--json``."""
        return {"account": self.account, "summary": self.summary(), "full": self.full, "seen": self.seen,
                "created": self.created, "updated": self.updated, "closed": self.closed,
                "refused": self.refused, "held": self.held, "error": self.error}  # fmt: skip

    def summary(self) -> str:
        """One line for logs, the CLI and Slack."""
        if self.error:
            return f"{self.account}: sync failed: {self.error}"
        kind = "full" if self.full else "incremental"
        refused = f", {self.refused} refused (see the log)" if self.refused else ""
        held_back = (
            f"; closing {self.held} jobs the ATS no longer lists is held: confirm or keep them open"
            if self.held
            else ""
        )
        return (
            f"{self.account}: {kind} sync saw {self.seen} jobs: {self.created} new, "
            f"{self.updated} changed, {self.closed} closed{refused}{held_back}"
        )


class JobRefused(ValueError):
    """A job the adapter listed that the hub cannot store or advertise; ``reason`` is a metric label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _text_or_none(value: Any) -> str | None:
    """Text as stored: without what XML forbids; None for no text at all (or blanks, or not text)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        return None
    text = xml_safe(value)
    return text if text.strip() else None


def _aware(moment: Any) -> datetime | None:
    if not isinstance(moment, datetime):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # the contract says UTC


def _digest(values: dict[str, Any]) -> str:
    if values.get("closes_at") is None:
        # Jobs without a closing date keep the digest they had before the hub stored closing dates: an
        # upgrade must not rewrite every job and every feed.
        values = {name: value for name, value in values.items() if name != "closes_at"}
    text = json.dumps(values, sort_keys=True, default=lambda v: v.isoformat(), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def stored_values(job: Any) -> tuple[str, bool, dict[str, Any], list[str]]:
    """``(ats_id, is_open, columns, dropped)``: a job as the hub stores it, or :class:`JobRefused`.

    Whatever an adapter hands over, what is stored can be written into a well-formed feed and fits its
    columns: text loses the characters XML 1.0 forbids, and a field no column or feed can hold as given
    (a country that is none, an unknown workplace, a requisition id over 255 characters) is dropped and
    named in ``dropped``. A job without a usable id, title or posting time is refused whole.
    """
    if not isinstance(job, Job):
        raise JobRefused("not_a_job", f"the adapter listed a {type(job).__name__}, not a Job")
    ats_id = (
        str(job.ats_id) if isinstance(job.ats_id, int) and not isinstance(job.ats_id, bool) else job.ats_id
    )
    if not isinstance(ats_id, str) or not ats_id.strip():
        raise JobRefused("id", f"a job has no id ({ats_id!r:.80})")
    if xml_safe(ats_id) != ats_id or len(ats_id) > _MAX_ID:
        # Not cleaned: webhooks, pixels and Appcast name the job by this id, so another id is another job.
        raise JobRefused("id", f"job id {ats_id!r:.80} holds characters XML forbids or is over {_MAX_ID}")
    title = _text_or_none(job.title)
    if title is None:
        raise JobRefused("title", f"job {ats_id} has no title")
    posted_at = _aware(job.posted_at)
    if posted_at is None:
        raise JobRefused("posted_at", f"job {ats_id} has no posting time")
    columns: dict[str, Any] = {"title": title, "posted_at": posted_at}
    dropped = []
    for name in _STORED:
        if name in columns:
            continue
        raw = getattr(job, name)
        value = _aware(raw) if name in ("updated_at", "closes_at") else _text_or_none(raw)
        if name == "description_html":
            value = value or ""
        elif name == "country" and value is not None:
            value = country_code(value)
        elif name == "workplace":
            value = value if value in WORKPLACES else None
        elif isinstance(value, str) and len(value) > _COLUMN_LIMITS.get(name, len(value)):
            value = None
        if value is None and raw not in (None, ""):
            dropped.append(name)
        columns[_COLUMN_FOR.get(name, name)] = value
    return ats_id, bool(job.is_open), columns, dropped


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
        # A held mass close waits for a full sync to agree: the next sync is one.
        incremental_ok = recent_full and row.last_sync_ok and await held.held_close(row.id) is None
        if full is False or (full is None and incremental_ok):
            since = row.last_sync_started_at
        result = SyncResult(account.name, full=since is None)
        await models.Account.filter(id=row.id).update(last_sync_started_at=started)
        try:
            snapshot = await _pull(host, http, account, row.id, since, result)
            result.closed = await _close(account, row.id, result, snapshot=snapshot)
        except AdapterUnavailable as error:
            result.error = str(error)
            result.credentials_refused = isinstance(error, AdapterAuthError)
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
        await _upsert_page(account, account_id, page.jobs, result)
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


async def _upsert_page(account: LiveAccount, account_id: int, jobs: list[Job], result: SyncResult) -> None:
    incoming: dict[str, tuple[bool, dict[str, Any]]] = {}
    for job in jobs:
        try:
            ats_id, is_open, values, dropped = stored_values(job)
        except JobRefused as error:
            result.refused += 1
            JOBS_REFUSED.labels(account.name, error.reason).inc()
            _QUIET.log(
                logging.WARNING, (account.name, error.reason), "%s: job refused: %s", account.name, error
            )
            if error.reason not in ("id", "not_a_job"):
                # It is there, only unusable as sent: the last good version stays, neither closed nor changed.
                result.seen_ids.add(job.ats_id)
            continue
        for name in dropped:
            JOB_FIELDS_DROPPED.labels(account.name, name).inc()
        if ats_id in result.seen_ids or ats_id in incoming:
            _LOGGER.warning("ATS listed job %s twice in one sync: keeping the first", ats_id)
            continue
        incoming[ats_id] = (is_open, values)
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
    for ats_id, (is_open, values) in incoming.items():
        digest = _digest(values)
        known = existing.get(ats_id)
        if known is not None and known[2] and not is_open:
            # Closing waits for the last page (sync_account → _close), where a mass close is held.
            result.closing.add(ats_id)
            is_open = True
        if known is None:
            new_rows.append(
                models.Job(
                    account_id=account_id, ats_id=ats_id, is_open=is_open, content_hash=digest, **values
                )
            )
        elif known[1] != digest or known[2] != is_open:
            changed_rows.append(
                models.Job(id=known[0], is_open=is_open, content_hash=digest, changed_at=now, **values)
            )
    if not new_rows and not changed_rows:
        return
    async with changing_feed(account_id):
        if new_rows:
            await models.Job.bulk_create(new_rows)
        if changed_rows:
            await models.Job.bulk_update(changed_rows, fields=[*UPDATE_COLUMNS, "changed_at"])
    result.created += len(new_rows)
    result.updated += len(changed_rows)


async def _close(account: LiveAccount, account_id: int, result: SyncResult, *, snapshot: bool) -> int:
    """Close the jobs the ATS closed, and after a complete snapshot those it no longer lists.

    Returns how many closed: 0 when the close is held. Closing more than the account's
    ``mass_close_threshold`` of its open jobs at once is held instead (:mod:`hub.held`), and applied
    only by the next full sync that agrees, or by an admin.
    """
    open_jobs = await models.Job.filter(account_id=account_id, is_open=True).values_list("ats_id", flat=True)
    closing = [ats_id for ats_id in open_jobs if ats_id in result.closing]
    if snapshot:
        closing += [ats_id for ats_id in open_jobs if ats_id not in result.seen_ids]
    pending = await held.held_close(account_id) if snapshot else None
    if held.is_mass_close(len(closing), len(open_jobs), account.config.mass_close_threshold):
        if pending is None:
            await held.hold_close(account, closing, len(open_jobs))
            result.held = len(closing)
            _LOGGER.warning(
                "%s: the ATS closed or no longer lists %d of %d open jobs: closing them is held until the "
                "next full sync agrees or an admin confirms (appcast-hub held %s confirm)",
                account.name, len(closing), len(open_jobs), account.name,
            )  # fmt: skip
            return 0
        # The second full sync in a row that closes them: the ATS means it.
        await held.resolve(account, pending, "applied", actor="system", source="sync")
    elif pending is not None:
        # The ATS lists (most of) them again: the change it held is no longer wanted.
        await held.resolve(account, pending, "dropped", actor="system", source="sync")
    return await held.close_jobs(account_id, closing)


async def _record(row: models.Account, started: datetime, result: SyncResult) -> None:
    """Write the sync's outcome to the account (each change moved the feed on as it was written)."""
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
    await models.Account.filter(id=row.id).update(**update)
    note_changed()
