"""Listing jobs and switching them on or off for Appcast: one service for the CLI, admin API and Slack.

Every switch is written to the audit log with who, where from, and before/after, in the same transaction
as the change, and moves the feed on so Appcast's next poll sees it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypedDict

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from hub import models
from hub.accounts import LiveAccount, mark_changed
from hub.feed import in_feed

JobStatus = Literal["open", "closed"]
FlagFilter = Literal["on", "off", "unset", "in-feed"]

LIST_COLUMNS = (
    "id", "ats_id", "title", "city", "region", "country", "department", "is_open", "appcast",
    "posted_at", "changed_at",
)  # fmt: skip


class JobJson(TypedDict):
    """A job as a list shows it (``in_feed``: whether Appcast sees it right now)."""

    ats_id: str
    title: str
    city: str | None
    region: str | None
    country: str | None
    department: str | None
    is_open: bool
    #: Switched on (true) or off (false) for Appcast, or never switched (null: the feed policy decides).
    appcast: bool | None
    posted_at: datetime
    changed_at: datetime
    in_feed: bool


class SwitchResultJson(TypedDict):
    """What a switch did, id by id: ``switched``, ``already`` so, or ``missing`` (no such job)."""

    switched: list[str]
    already: list[str]
    missing: list[str]


@dataclass(slots=True)
class SwitchResult:
    """What a switch did, id by id, so a reply can say exactly what changed and what already was so."""

    switched: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def as_json(self) -> SwitchResultJson:
        """The answer of the admin API and of ``--json``."""
        return {"switched": self.switched, "already": self.already, "missing": self.missing}


async def switch_jobs(
    account: LiveAccount, ats_ids: list[str], *, on: bool, actor: str, source: str
) -> SwitchResult:
    """Set the Appcast flag of ``ats_ids`` to ``on``; audit each change; unknown ids are reported."""
    result = SwitchResult()
    wanted = list(dict.fromkeys(ats_ids))  # de-duplicate, keep the order given
    async with in_transaction():
        rows = {
            row.ats_id: row
            for row in await models.Job.filter(
                account_id=account.row.id, ats_id__in=wanted
            ).select_for_update()
        }
        for ats_id in wanted:
            row = rows.get(ats_id)
            if row is None:
                result.missing.append(ats_id)
                continue
            if row.appcast is on:
                result.already.append(ats_id)
                continue
            before = row.appcast
            await models.Job.filter(id=row.id).update(appcast=on)
            await models.AuditEntry.create(
                actor=actor,
                source=source,
                action="job.enable" if on else "job.disable",
                account_name=account.name,
                target=ats_id,
                before={"appcast": before},
                after={"appcast": on},
            )
            result.switched.append(ats_id)
    if result.switched:
        await mark_changed(account)
    return result


async def list_jobs(
    account: LiveAccount,
    *,
    status: JobStatus | None = None,
    flag: FlagFilter | None = None,
    text: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """The account's jobs matching the filters, newest first: ``(total, page)``.

    Each row has ``in_feed``: whether Appcast sees the job right now.
    """
    query = Q(account_id=account.row.id)
    if status is not None:
        query &= Q(is_open=status == "open")
    if flag == "on":
        query &= Q(appcast=True)
    elif flag == "off":
        query &= Q(appcast=False)
    elif flag == "unset":
        query &= Q(appcast__isnull=True)
    elif flag == "in-feed":
        query &= in_feed(account)
    for word in (text or "").split():
        query &= Q(title__icontains=word) | Q(ats_id__iexact=word) | Q(city__icontains=word)
    base = models.Job.filter(query)
    total = await base.count()
    # Tortoise takes limit 0 for no LIMIT at all (and OFFSET without LIMIT is not SQL): an empty page.
    page = base.order_by("-posted_at", "-id").offset(offset).limit(limit)
    rows = await page.values(*LIST_COLUMNS) if limit else []
    feed_ids = set(
        await models.Job.filter(in_feed(account), id__in=[r["id"] for r in rows]).values_list("id", flat=True)
    )
    for row in rows:
        row["in_feed"] = row["id"] in feed_ids
    return total, rows
