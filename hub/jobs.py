"""Listing jobs, switching them on or off for Appcast and setting their bids: one service for the CLI,
admin API and Slack.

Every switch and bid is written to the audit log with who, where from, and before/after, in the same
transaction as the change, and moves the feed on so Appcast's next poll sees it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypedDict

from tortoise.expressions import Q

from hub import models
from hub.accounts import LiveAccount, changing_feed
from hub.feed import bid, in_feed
from hub.feed_cache import ELEMENTS_HOOK
from hub.plugins import PluginHost

JobStatus = Literal["open", "closed"]
FlagFilter = Literal["on", "off", "unset", "in-feed"]

LIST_COLUMNS = (
    "id", "ats_id", "title", "city", "region", "country", "department", "is_open", "appcast",
    "posted_at", "changed_at", "bid_cents",
)  # fmt: skip

#: The highest bid an admin may set, in cents: a typo's extra digits must not cost a fortune per click.
MAX_BID_CENTS = 100_000
#: The word that clears a job's bid, so the account's default applies again (the API says null).
DEFAULT_BID = "default"
#: Every amount :func:`parse_amount` takes, as a JSON Schema pattern: 0 to 1000.00, at most 2 decimals.
BID_PATTERN = "^0*([0-9]{1,3}(\\.[0-9]{1,2})?|1000(\\.0{1,2})?)$"
_AMOUNT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]*))?")


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
    #: The job's own bid (its ``<cpc>``) like ``"1.50"``, or null: the account's default applies.
    bid: str | None
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
    # A first look, unlocked: the feed's version moves only with a change to make (see changing_feed).
    flags = dict(
        await models.Job.filter(account_id=account.row.id, ats_id__in=wanted).values_list("ats_id", "appcast")
    )
    if all(flags.get(ats_id, on) is on for ats_id in wanted):
        result.already = [ats_id for ats_id in wanted if ats_id in flags]
        result.missing = [ats_id for ats_id in wanted if ats_id not in flags]
        return result
    async with changing_feed(account.row.id):
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
    await _moved_on(account)
    return result


async def _moved_on(account: LiveAccount) -> None:
    """Read the feed version :func:`~hub.accounts.changing_feed` moved the account's feed on to."""
    await account.row.refresh_from_db(fields=["feed_version", "feed_changed_at"])


class BadBid(ValueError):
    """An amount that is no bid; the message names it and says what is wrong with it."""

    def __init__(self, amount: str, problem: str) -> None:
        super().__init__(f"bid {amount[:40]!r} {problem}")
        self.amount = amount
        self.problem = problem


def parse_amount(text: str) -> int:
    """A bid as typed (``"1.50"``, ``"2"``) in cents: a plain decimal from 0 to 1000.00, at most 2 decimals.

    Exactly the strings :data:`BID_PATTERN` matches; any other raises :class:`BadBid` saying why.
    """
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise BadBid(text, "is not an amount: write a plain number like 1.50")
    sign, whole, decimals = match.groups()
    if sign:
        raise BadBid(text, "is negative: a bid is 0 or more")
    if decimals is not None and not decimals:
        raise BadBid(text, "has a point but no decimals after it: write it like 1.50")
    if decimals is not None and len(decimals) > 2:
        raise BadBid(text, "has more than 2 decimals")
    whole = whole.lstrip("0") or "0"
    # Compared as text first: int() of thousands of digits is slow (and past 4300, refused).
    cents = MAX_BID_CENTS + 1 if len(whole) > 4 else int(whole) * 100 + int((decimals or "").ljust(2, "0"))
    if cents > MAX_BID_CENTS:
        raise BadBid(text, f"is more than the highest bid, {bid_text(MAX_BID_CENTS)}")
    return cents


def parse_bid(text: str) -> int | None:
    """An amount as :func:`parse_amount` takes it, in cents, or ``default`` (None: the account's default)."""
    return None if text.lower() == DEFAULT_BID else parse_amount(text)


def bid_text(cents: int | None) -> str | None:
    """A stored bid as the API and the audit log write it (``"1.50"``), or None for the account's default."""
    amount = bid(cents)
    return None if amount is None else f"{amount:.2f}"


class BidResultJson(TypedDict):
    """A job's bid now (null: the account's default), what it was, and whether this request changed it."""

    ats_id: str
    before: str | None
    bid: str | None
    changed: bool


@dataclass(frozen=True, slots=True)
class BidResult:
    """What setting a bid did: ``found`` false when the account has no such job."""

    ats_id: str
    found: bool
    before: int | None = None
    after: int | None = None

    @property
    def changed(self) -> bool:
        """Did the bid change (so the feed moved on and the audit log has it)?"""
        return self.found and self.before != self.after

    def as_json(self) -> BidResultJson:
        """The answer of the admin API and of ``--json`` (for a job that was found)."""
        return {
            "ats_id": self.ats_id, "before": bid_text(self.before), "bid": bid_text(self.after),
            "changed": self.changed,
        }  # fmt: skip


class BidNotWritten(Exception):
    """A bid the account's feed would not carry: no plugin active on it writes ``<cpc>``."""

    def __init__(self, account: str) -> None:
        super().__init__(
            f"account {account!r} writes no <cpc> into its feed, so a bid would change nothing: bids need "
            f"its [accounts.{account}.appcast] table (whose cpc is the default bid)"
        )


async def set_bid(
    account: LiveAccount, plugins: PluginHost, ats_id: str, cents: int | None, *, actor: str, source: str
) -> BidResult:
    """Set the bid of job ``ats_id`` to ``cents`` (None: back to the account's default); audit the change.

    Raises :class:`BidNotWritten` for an amount the feed would not carry (silently kept, it would look set).
    """
    # A first look, unlocked: the feed's version moves only with a change to make (see changing_feed).
    found = await models.Job.filter(account_id=account.row.id, ats_id=ats_id).values_list("id", "bid_cents")
    if not found:
        return BidResult(ats_id, found=False)
    if cents is not None and not plugins.has_active(ELEMENTS_HOOK, account.config):
        raise BidNotWritten(account.name)
    [(job_id, before)] = found
    if before == cents:
        return BidResult(ats_id, found=True, before=before, after=cents)
    async with changing_feed(account.row.id):
        # Locked and read again: what the audit log says it was is what this change replaced.
        # (A row, not values_list: tortoise drops FOR UPDATE from a values query.)
        locked = await models.Job.filter(id=job_id).select_for_update().get()
        result = BidResult(ats_id, found=True, before=locked.bid_cents, after=cents)
        if result.changed:
            await models.Job.filter(id=job_id).update(bid_cents=cents)
            await models.AuditEntry.create(
                actor=actor, source=source, action="job.bid", account_name=account.name, target=ats_id,
                before={"bid": bid_text(result.before)}, after={"bid": bid_text(cents)},
            )  # fmt: skip
    await _moved_on(account)
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

    Each row has ``in_feed``: whether Appcast sees the job right now, and ``bid``: its own (or None).
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
        row["bid"] = bid_text(row.pop("bid_cents"))
        row["in_feed"] = row["id"] in feed_ids
    return total, rows
