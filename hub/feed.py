"""The XML feed Appcast polls: which jobs are in it, and writing it incrementally.

The document is written piece by piece: jobs are read from the database in keyset-paged batches and each
``<job>`` rendered on its own (:class:`FeedWriter`), so memory stays flat however many jobs an account
has, and :mod:`hub.feed_cache` can keep a job's rendered bytes and reuse them in the next version's file.
Its validator (ETag) moves with the account's ``feed_version``, which every sync and switch that changes
the feed bumps, so replicas agree on it without building the feed; the document's ``lastBuildDate`` is
that version's Last-Modified, never the clock, so every build of a version is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from lxml import etree
from tortoise import connections
from tortoise.expressions import Q

from hub import models
from hub.accounts import LiveAccount, feed_config_digest
from hub.logs import QuietLog
from hub.normalised import Job, is_xml_safe, xml_safe
from hub.plugins import PluginHost

_QUIET = QuietLog(logging.getLogger(__name__))

#: Jobs read per query and written per flush.
BATCH = 1000

#: The feed's columns. Their order matters: :func:`job_element` unpacks raw rows by position.
FEED_COLUMNS = (
    "id", "ats_id", "title", "posted_at", "requisition_id", "hosted_url", "apply_url", "company", "city",
    "region", "country", "postal_code", "workplace", "description_html", "employment_type",
    "department", "team", "salary_text", "ats_updated_at", "is_open", "closes_at", "bid_cents",
)  # fmt: skip
_BID = FEED_COLUMNS.index("bid_cents")
#: What XML character data cannot hold as itself, and the entity lxml writes for it (a carriage return
#: too: a parser would read it as a newline).
_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;"))
#: The lengths of SQLite's UTC timestamps as tortoise stores them, without and with microseconds.
_SQLITE_UTC_LENGTHS = (25, 32)


def advertised(account: LiveAccount) -> Q:
    """The account's jobs its switches and policy put in the feed: open, switched on (or not off under
    ``all-open``), the integration on. :func:`in_feed` then takes out the expired ones."""
    if not account.enabled:
        return Q(id__lt=0)  # integration off: the feed stays valid but advertises nothing
    on = Q(appcast=True)
    if account.feed_policy == "all-open":
        on = Q(appcast__isnull=True) | on
    return Q(account_id=account.row.id, is_open=True) & on


def not_expired(account: LiveAccount, at: datetime) -> Q:
    """Jobs neither past their closing date nor older than the account's ``max_age_days`` at ``at``."""
    query = Q(closes_at__isnull=True) | Q(closes_at__gt=at)
    if account.config.max_age_days:
        query &= Q(posted_at__gte=at - timedelta(days=account.config.max_age_days))
    return query


def feed_moment(account: LiveAccount) -> datetime:
    """The moment the account's current feed version describes: when it last changed.

    Expiry is judged at this moment, not at the clock, so every build of a version (on any replica, at
    any time) holds the same jobs; :func:`hub.expiry.expire_due` moves the version on when a job's
    time runs out.
    """
    return account.row.feed_changed_at


def in_feed(account: LiveAccount, at: datetime | None = None) -> Q:
    """The filter selecting the jobs in the account's feed at ``at`` (default: its current version's
    :func:`feed_moment`)."""
    return advertised(account) & not_expired(account, feed_moment(account) if at is None else at)


def bid(cents: int | None) -> Decimal | None:
    """A stored bid (``jobs.bid_cents``) as the amount it is."""
    return None if cents is None else Decimal(cents).scaleb(-2)


def validators(account: LiveAccount) -> tuple[str, datetime]:
    """The feed's ETag (strong, equal on every replica) and Last-Modified, as it would be written now.

    Memoised on the account for as long as its row's state is the same: a 304 then costs no hashing.
    """
    row = account.row
    state = (row.feed_version, row.feed_changed_at, account.enabled, account.feed_policy)
    memo = account.feed_validators
    if memo is None or memo[0] != state:
        # The config's digest (and the hub's release in it): a replica still on the old config or release
        # (a rolling upgrade) must not serve its bytes under the new one's ETag.
        identity = json.dumps(
            [feed_config_digest(account.config), row.feed_version, account.enabled, account.feed_policy]
        )
        etag = '"' + hashlib.sha256(identity.encode()).hexdigest()[:32] + '"'
        # Whole seconds, as HTTP dates carry.
        last_modified = row.feed_changed_at.astimezone(UTC).replace(microsecond=0)
        memo = account.feed_validators = (state, etag, last_modified)
    return memo[1], memo[2]


def _iso(moment: str | datetime) -> str:
    if isinstance(moment, str) and moment.endswith("+00:00") and len(moment) in _SQLITE_UTC_LENGTHS:
        # SQLite's text as tortoise stores it, already UTC ("2026-10-29 01:45:00[.123456]+00:00"): cut,
        # not parsed, as the feed's hot loop does it once per job.
        return f"{moment[:10]}T{moment[11:19]}Z"
    return _aware(moment).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_text(xf: Any, tag: str, value: str | None, *, indent: str = "\n  ") -> None:
    """Write ``<tag>value</tag>`` into the document's incremental writer; nothing for an empty value."""
    if value:
        xf.write(indent)
        with xf.element(tag):
            xf.write(value)


def _escaped(text: str) -> str:
    """``text`` as XML character data, escaped as lxml escapes it."""
    for character, entity in _ESCAPES:
        if character in text:
            text = text.replace(character, entity)
    return text


def _cdata(text: str) -> str:
    # CDATA cannot hold "]]>": such text is written escaped instead, which parsers read identically.
    return f"<![CDATA[{text}]]>" if "]]>" not in text else _escaped(text)


def job_element(row: Sequence[Any], company: str, extra: list[tuple[str, str]]) -> bytes:
    """A feed row's ``<job>`` element, the indent before it included, as UTF-8 bytes.

    Built as text rather than through lxml's incremental writer, which the document's frame uses: this is
    the feed's hot loop (16 elements for each of 100,000 jobs), and lxml's calls per element cost three
    times the text's building. The bytes are the ones lxml writes for the same element (a property test
    holds the two equal), and every value is XML-safe already (:func:`hub.sync.stored_values`, the ids
    checked by :meth:`FeedWriter.job`, plugins' values passed through ``xml_safe``).
    """
    (
        _, ats_id, title, posted_at, requisition_id, hosted_url, apply_url, job_company, city, region,
        country, postal_code, workplace, description_html, employment_type, department, team, salary_text,
        *_,
    ) = row  # fmt: skip
    parts = ["\n  <job>\n    <title>", _cdata(title), "</title>\n    <date>", _iso(posted_at), "</date>"]
    for tag, value in (
        ("referencenumber", ats_id), ("requisitionid", requisition_id), ("url", hosted_url),
        ("applyurl", apply_url),
    ):  # fmt: skip
        if value:
            parts += ("\n    <", tag, ">", _escaped(value), "</", tag, ">")
    if company := job_company or company:
        parts += ("\n    <company>", _cdata(company), "</company>")
    for tag, value in (
        ("city", city), ("state", region), ("country", country), ("postalcode", postal_code),
        ("remote", workplace),
    ):  # fmt: skip
        if value:
            parts += ("\n    <", tag, ">", _escaped(value), "</", tag, ">")
    if description_html:
        parts += ("\n    <description>", _cdata(description_html), "</description>")
    if employment_type:
        parts += ("\n    <jobtype>", _escaped(employment_type), "</jobtype>")
    for tag, value in (("category", department or team), ("salary", salary_text)):
        if value:
            parts += ("\n    <", tag, ">", _cdata(value), "</", tag, ">")
    for tag, value in extra:
        if value:
            parts += ("\n    <", tag, ">", _escaped(value), "</", tag, ">")
    parts.append("\n  </job>")
    return "".join(parts).encode()


async def feed_rows(
    account: LiveAccount, columns: Sequence[str] = FEED_COLUMNS, batch: int = BATCH
) -> AsyncIterator[list[Sequence[Any]]]:
    """The account's feed rows in keyset-paged batches of ``columns`` (the first is ``id``), as the driver
    returns them.

    The SQL is tortoise's, but the rows skip tortoise's per-field conversion into dicts of Python values:
    on SQLite that parsed two datetime strings per row, a fifth of the feed's time. So dates arrive as
    ISO text on SQLite and as datetimes on PostgreSQL (:func:`_iso` takes both). Each batch is asked for
    before the previous one is handed out, so the database works while the caller writes.
    """
    connection = connections.get("default")
    query = in_feed(account)

    async def batch_after(last_id: int) -> list[Sequence[Any]]:
        page = models.Job.filter(query, id__gt=last_id).order_by("id").limit(batch).values_list(*columns)
        # Tortoise's own parameters, as its query would pass them: inlined, SQLite's dates would be written
        # with a "T" that its stored text does not have, and compared wrongly.
        page._choose_db_if_not_chosen()
        page._make_query()
        _, rows = await connection.execute_query(*page.query.get_parameterized_sql())
        return rows

    upcoming = asyncio.ensure_future(batch_after(0))
    try:
        while rows := await upcoming:
            upcoming = asyncio.ensure_future(batch_after(rows[-1][0]))
            yield rows
    finally:
        upcoming.cancel()  # the caller stopped early (a client gone): the read ahead is not wanted
        with contextlib.suppress(asyncio.CancelledError):
            await upcoming


def _aware(value: str | datetime) -> datetime:
    """A date column as read raw: SQLite's ISO text (UTC, as tortoise stores it) or the driver's datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return value


def job_of(row: dict[str, Any]) -> Job:
    """The normalised Job for a row of :data:`FEED_COLUMNS` (what plugin hooks receive)."""
    values = {k: v for k, v in row.items() if k not in ("id", "ats_updated_at", "bid_cents")}
    return Job(**values, updated_at=row["ats_updated_at"])


def _job_of_raw(row: Sequence[Any]) -> Job:
    values = dict(zip(FEED_COLUMNS, row, strict=True))
    for column in ("posted_at", "ats_updated_at", "closes_at"):
        values[column] = values[column] and _aware(values[column])
    values["is_open"] = bool(values["is_open"])
    return job_of(values)


class FeedWriter:
    """The document in pieces: its head (lxml's incremental writer, held open inside ``<source>``), then
    each job (:func:`job_element`), then the tail; a job's bytes depend on that job alone."""

    def __init__(self, account: LiveAccount, plugins: PluginHost) -> None:
        self.account = account
        self._plugins = plugins
        self._company = xml_safe(account.config.company)
        #: Does a plugin add elements to each job? Then a job's bytes depend on their answer too.
        self.wants_elements = plugins.has_active("appcast_hub_feed_job_elements", account.config)
        self._buffer = io.BytesIO()
        self._open = contextlib.ExitStack()
        xf = self._xf = self._open.enter_context(etree.xmlfile(self._buffer, encoding="utf-8"))
        xf.write_declaration()
        self._open.enter_context(xf.element("source"))
        _write_text(xf, "publisher", self._company)
        _write_text(xf, "publisherurl", xml_safe(account.config.company_url or ""))
        _write_text(xf, "lastBuildDate", _iso(validators(account)[1]))
        self.head = self._take()

    def _take(self) -> bytes:
        self._xf.flush()
        data = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return data

    def extra_elements(self, row: Sequence[Any]) -> list[tuple[str, str]]:
        """What the active plugins add to this job (``appcast_hub_feed_job_elements``)."""
        if not self.wants_elements:
            return []
        hook, job = "appcast_hub_feed_job_elements", _job_of_raw(row[: len(FEED_COLUMNS)])
        answers = self._plugins.broadcast_sync(hook, self.account.config, job=job, bid=bid(row[_BID]))
        return [pair for pairs in answers for pair in pairs]

    def job(self, row: Sequence[Any], extra: list[tuple[str, str]]) -> bytes | None:
        """The job's ``<job>`` element with the indent before it; None when the job cannot be written."""
        if not is_xml_safe(row[1]):
            # Stored before ids were checked at sync (hub.sync.stored_values): one bad id must not cut the
            # whole document short.
            _QUIET.log(logging.WARNING, self.account.name, "feed %s: skipped job %r: its id holds "
                       "characters XML forbids", self.account.name, row[1][:80])  # fmt: skip
            return None
        return job_element(row, self._company, [(tag, xml_safe(str(value))) for tag, value in extra])

    def tail(self) -> bytes:
        """The document's end; the writer is closed after it."""
        self._xf.write("\n")
        self._open.close()
        return self._buffer.getvalue()


async def write_feed(
    account: LiveAccount, plugins: PluginHost, sink: Callable[[bytes], Awaitable[None]]
) -> int:
    """Write the account's feed document to ``sink`` in pieces; returns the number of jobs."""
    writer = FeedWriter(account, plugins)
    await sink(writer.head)
    count = 0
    async with contextlib.aclosing(feed_rows(account)) as batches:
        async for rows in batches:
            pieces = [writer.job(row, writer.extra_elements(row)) for row in rows]
            written = [piece for piece in pieces if piece is not None]
            count += len(written)
            await sink(b"".join(written))
    await sink(writer.tail())
    return count
