"""The XML feed Appcast polls: which jobs are in it, and writing it incrementally with lxml.

The document is streamed: jobs are read from the database in keyset-paged batches and written with
lxml's incremental writer, the bytes handed to ``sink`` batch by batch, so memory stays flat however
many jobs an account has. Its validator (ETag) moves with the account's ``feed_version``, which every
sync and switch that changes the feed bumps, so replicas agree on it without building the feed.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from lxml import etree
from tortoise.expressions import Q

from hub import models
from hub.accounts import LiveAccount
from hub.normalised import Job, xml_safe
from hub.plugins import PluginHost

#: Jobs read per query and written per flush.
BATCH = 1000

FEED_COLUMNS = (
    "id", "ats_id", "title", "posted_at", "requisition_id", "hosted_url", "apply_url", "company", "city",
    "region", "country", "postal_code", "workplace", "description_html", "employment_type",
    "department", "team", "salary_text", "ats_updated_at", "is_open",
)  # fmt: skip


def in_feed(account: LiveAccount) -> Q:
    """The filter selecting the account's jobs that belong in its feed right now."""
    if not account.enabled:
        return Q(id__lt=0)  # integration off: the feed stays valid but advertises nothing
    on = Q(appcast=True)
    if account.feed_policy == "all-open":
        on = Q(appcast__isnull=True) | on
    return Q(account_id=account.row.id, is_open=True) & on


def etag(account: LiveAccount) -> str:
    """A strong validator for the feed as it would be written now, equal on every replica."""
    config = account.config
    identity = json.dumps(
        [account.row.feed_version, account.enabled, account.feed_policy, config.company,
         config.company_url, config.plugin_options],
        default=str, sort_keys=True,
    )  # fmt: skip
    return '"' + hashlib.sha256(identity.encode()).hexdigest()[:32] + '"'


def last_modified(account: LiveAccount) -> datetime:
    """When the feed's content last changed (whole seconds, as HTTP dates carry)."""
    return account.row.feed_changed_at.astimezone(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_text(xf: Any, tag: str, value: str | None, *, cdata: bool = False, indent: str = "\n    ") -> None:
    """Write ``<tag>value</tag>`` straight into the incremental writer; nothing for an empty value."""
    if not value:
        return
    xf.write(indent)
    with xf.element(tag):
        # CDATA cannot hold "]]>": such text is written escaped instead, which parsers read identically.
        xf.write(etree.CDATA(value) if cdata and "]]>" not in value else value)


async def _feed_rows(account: LiveAccount) -> AsyncIterator[list[dict[str, Any]]]:
    last_id = 0
    query = in_feed(account)
    while True:
        rows = (
            await models.Job.filter(query, id__gt=last_id).order_by("id").limit(BATCH).values(*FEED_COLUMNS)
        )
        if not rows:
            return
        yield rows
        last_id = rows[-1]["id"]


def job_of(row: dict[str, Any]) -> Job:
    """The normalised Job for a row of :data:`FEED_COLUMNS` (what plugin hooks receive)."""
    values = {k: v for k, v in row.items() if k not in ("id", "ats_updated_at")}
    return Job(**values, updated_at=row["ats_updated_at"])


def _write_job(xf: Any, row: dict[str, Any], company: str, extra: list[tuple[str, str]]) -> None:
    # Written element by element, not built as a tree and serialised: the feed's hot loop.
    with xf.element("job"):
        _write_text(xf, "title", row["title"], cdata=True)
        _write_text(xf, "date", _iso(row["posted_at"]))
        _write_text(xf, "referencenumber", row["ats_id"])
        _write_text(xf, "requisitionid", row["requisition_id"])
        _write_text(xf, "url", row["hosted_url"])
        _write_text(xf, "applyurl", row["apply_url"])
        _write_text(xf, "company", row["company"] or company, cdata=True)
        _write_text(xf, "city", row["city"])
        _write_text(xf, "state", row["region"])
        _write_text(xf, "country", row["country"])
        _write_text(xf, "postalcode", row["postal_code"])
        _write_text(xf, "remote", row["workplace"])
        _write_text(xf, "description", row["description_html"], cdata=True)
        _write_text(xf, "jobtype", row["employment_type"])
        _write_text(xf, "category", row["department"] or row["team"], cdata=True)
        _write_text(xf, "salary", row["salary_text"], cdata=True)
        for tag, value in extra:
            _write_text(xf, tag, xml_safe(str(value)))
        xf.write("\n  ")


async def write_feed(
    account: LiveAccount, plugins: PluginHost, sink: Callable[[bytes], Awaitable[None]]
) -> int:
    """Write the account's feed document to ``sink`` in pieces; returns the number of jobs."""
    config = account.config
    company = xml_safe(config.company)
    wants_elements = plugins.has_active("appcast_hub_feed_job_elements", config)
    buffer = io.BytesIO()
    count = 0

    async def drain() -> None:
        await sink(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()

    with etree.xmlfile(buffer, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element("source"):
            _write_text(xf, "publisher", company, indent="\n  ")
            _write_text(xf, "publisherurl", xml_safe(config.company_url or ""), indent="\n  ")
            _write_text(xf, "lastBuildDate", _iso(last_modified(account)), indent="\n  ")
            async for rows in _feed_rows(account):
                for row in rows:
                    extra: list[tuple[str, str]] = []
                    if wants_elements:
                        for pairs in plugins.broadcast_sync(
                            "appcast_hub_feed_job_elements", config, job=job_of(row)
                        ):
                            extra.extend(pairs)
                    xf.write("\n  ")
                    _write_job(xf, row, company, extra)
                count += len(rows)
                xf.flush()
                await drain()
            xf.write("\n")
    await drain()
    return count
