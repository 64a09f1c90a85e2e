"""Per-job numbers for admins: pixel views and applies, conversion, and hires from ATS events.

Numbers are over all time, or over a :class:`Period` of whole UTC days (pixel hits are counted per UTC day,
so a day is the finest period there is); :func:`daily` gives a period day by day, for sparklines.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypedDict

from tortoise.functions import Count, Sum
from tortoise.queryset import QuerySet

from hub import models
from hub.accounts import LiveAccount
from hub.pixels import UNKNOWN_JOB

#: The bars of a sparkline, lowest to highest.
SPARK_BARS = "▁▂▃▄▅▆▇█"
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: The longest period the stats answer for day by day (a year and a day, for leap years).
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class Period:
    """The UTC days from ``first`` to ``last``, both included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"a period cannot end ({self.last}) before it starts ({self.first})")

    @classmethod
    def ending(cls, last: date, days: int) -> Period:
        """The ``days`` days up to ``last``, included."""
        return cls(last - timedelta(days=days - 1), last)

    @property
    def days(self) -> list[date]:
        """Each day of the period, in order."""
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    @property
    def start(self) -> datetime:
        """The period's first moment (midnight UTC of ``first``)."""
        return datetime.combine(self.first, time(), UTC)

    @property
    def end(self) -> datetime:
        """The moment after the period (midnight UTC after ``last``)."""
        return datetime.combine(self.last + timedelta(days=1), time(), UTC)

    def before(self) -> Period:
        """The period of the same length just before this one: what "the change since" compares with."""
        length = (self.last - self.first).days + 1
        return Period.ending(self.first - timedelta(days=1), length)


def parse_day(value: str, name: str) -> date:
    """A ``YYYY-MM-DD`` date; ValueError naming ``name`` for anything else."""
    if not _DAY.fullmatch(value):
        raise ValueError(f"{name} must be a date as YYYY-MM-DD, not {value[:40]!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} is no such day: {value}") from None


def parse_period(since: str | None, until: str | None, today: date | None = None) -> Period | None:
    """The period from ``since`` to ``until`` (UTC days, both included; without ``until`` up to today,
    without ``since`` from the first day there is), or None for all time; ValueError saying what is
    wrong."""
    if since is None and until is None:
        return None
    first = parse_day(since, "since") if since is not None else date.min
    last = parse_day(until, "until") if until is not None else today or datetime.now(UTC).date()
    if last < first:
        raise ValueError(f"until ({last}) is before since ({first})")
    return Period(first, last)


class JobStatsJson(TypedDict):
    """A job's numbers (``job`` null: the whole account's); ``conversion`` is null before the first view."""

    job: str | None
    views: int
    applies: int
    conversion: float | None
    hires: int


class StatsReportJson(JobStatsJson):
    """The account's numbers (``job`` null) with its ``top_jobs`` by views."""

    top_jobs: list[JobStatsJson]


@dataclass(slots=True)
class JobStats:
    """One job's (or a whole account's, ``ats_job_id`` None) numbers."""

    ats_job_id: str | None
    views: int
    applies: int
    hires: int

    @property
    def conversion(self) -> float | None:
        """Applies per view, None before the first view."""
        return self.applies / self.views if self.views else None

    def as_json(self) -> JobStatsJson:
        """The answer of the admin API and of ``--json``."""
        return {"job": self.ats_job_id, "views": self.views, "applies": self.applies,
                "conversion": self.conversion, "hires": self.hires}  # fmt: skip


def _pixels(account: LiveAccount, period: Period | None) -> QuerySet[models.PixelCount]:
    # Hits for ids the account never had (hub.pixels.UNKNOWN_JOB) belong to no job: not in the totals.
    rows = models.PixelCount.filter(account_id=account.row.id).exclude(ats_job_id=UNKNOWN_JOB)
    return rows if period is None else rows.filter(day__gte=period.first, day__lte=period.last)


def _hires(account: LiveAccount, period: Period | None) -> QuerySet[models.Event]:
    # A hire counts on the day it happened in the ATS, not the day the hub heard of it.
    rows = models.Event.filter(account_id=account.row.id, kind="hired")
    return rows if period is None else rows.filter(occurred_at__gte=period.start, occurred_at__lt=period.end)


async def job_stats(
    account: LiveAccount, ats_job_id: str | None = None, period: Period | None = None
) -> JobStats:
    """Totals for one job, or for the account when ``ats_job_id`` is None; over ``period``, or all time."""
    pixels = _pixels(account, period)
    hires = _hires(account, period)
    if ats_job_id is not None:
        pixels = pixels.filter(ats_job_id=ats_job_id)
        hires = hires.filter(ats_job_id=ats_job_id)
    totals = await pixels.annotate(v=Sum("views"), a=Sum("applies")).first().values("v", "a")
    return JobStats(
        ats_job_id, int((totals or {}).get("v") or 0), int((totals or {}).get("a") or 0), await hires.count()
    )


async def top_jobs(account: LiveAccount, limit: int = 10, period: Period | None = None) -> list[JobStats]:
    """The jobs with the most views (over ``period``, or all time), with their applies and hires."""
    rows = (
        await _pixels(account, period)
        .group_by("ats_job_id")
        .annotate(v=Sum("views"), a=Sum("applies"))
        .order_by("-v")
        .limit(limit)
        .values("ats_job_id", "v", "a")
    )
    hires = (
        dict(
            await _hires(account, period)
            .filter(ats_job_id__in=[r["ats_job_id"] for r in rows])
            .group_by("ats_job_id")
            .annotate(n=Count("id"))
            .values_list("ats_job_id", "n")
        )
        if rows
        else {}
    )
    return [
        JobStats(r["ats_job_id"], int(r["v"] or 0), int(r["a"] or 0), hires.get(r["ats_job_id"], 0))
        for r in rows
    ]


async def stats_report(
    account: LiveAccount, ats_job_id: str | None = None, top: int = 10, period: Period | None = None
) -> JobStatsJson | StatsReportJson:
    """One job's numbers, or the account's with its ``top`` jobs by views, over ``period`` or all time:
    the admin API's and ``--json``'s answer."""
    numbers = (await job_stats(account, ats_job_id, period)).as_json()
    if ats_job_id is not None:
        return numbers
    return {**numbers, "top_jobs": [stats.as_json() for stats in await top_jobs(account, top, period)]}


@dataclass(frozen=True, slots=True)
class Daily:
    """The account's numbers day by day over a period: one value per day of ``period.days``."""

    period: Period
    views: list[int]
    applies: list[int]
    hires: list[int]


async def daily(account: LiveAccount, period: Period) -> Daily:
    """The account's views, applies and hires on each day of ``period`` (days without any are 0)."""
    if len(period.days) > MAX_DAYS:
        raise ValueError(f"a day-by-day period is at most {MAX_DAYS} days")
    by_day = _pixels(account, period).group_by("day").annotate(v=Sum("views"), a=Sum("applies"))
    rows = await by_day.values("day", "v", "a")
    views = {row["day"]: int(row["v"] or 0) for row in rows}
    applies = {row["day"]: int(row["a"] or 0) for row in rows}
    # Bucketed here, not in SQL: the two databases name "the UTC date of a timestamp" differently.
    hired = Counter(
        moment.astimezone(UTC).date()
        for moment in await _hires(account, period).values_list("occurred_at", flat=True)
    )
    days = period.days
    return Daily(
        period, [views.get(d, 0) for d in days], [applies.get(d, 0) for d in days], [hired[d] for d in days]
    )


def sparkline(values: list[int] | list[float]) -> str:
    """``values`` as a line of bars, from zero (the lowest bar) to the highest value (the highest bar).

    From zero, not from the lowest value: 1,000 jobs and then 1,004 are about the same, and look it."""
    if not values:
        return ""
    low, high = min(0, *values), max(values)
    span = high - low
    top = len(SPARK_BARS) - 1
    return "".join(SPARK_BARS[round((value - low) / span * top) if span else 0] for value in values)
