"""Per-job numbers for admins: pixel views and applies, conversion, and hires from ATS events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from tortoise.functions import Count, Sum

from hub import models
from hub.accounts import LiveAccount
from hub.pixels import UNKNOWN_JOB


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


async def job_stats(account: LiveAccount, ats_job_id: str | None = None) -> JobStats:
    """Totals for one job, or for the account when ``ats_job_id`` is None."""
    # Hits for ids the account never had (hub.pixels.UNKNOWN_JOB) belong to no job: not in the totals.
    pixels = models.PixelCount.filter(account_id=account.row.id).exclude(ats_job_id=UNKNOWN_JOB)
    hires = models.Event.filter(account_id=account.row.id, kind="hired")
    if ats_job_id is not None:
        pixels = pixels.filter(ats_job_id=ats_job_id)
        hires = hires.filter(ats_job_id=ats_job_id)
    totals = await pixels.annotate(v=Sum("views"), a=Sum("applies")).first().values("v", "a")
    return JobStats(
        ats_job_id, int((totals or {}).get("v") or 0), int((totals or {}).get("a") or 0), await hires.count()
    )


async def top_jobs(account: LiveAccount, limit: int = 10) -> list[JobStats]:
    """The jobs with the most views, with their applies and hires."""
    rows = (
        await models.PixelCount.filter(account_id=account.row.id)
        .exclude(ats_job_id=UNKNOWN_JOB)
        .group_by("ats_job_id")
        .annotate(v=Sum("views"), a=Sum("applies"))
        .order_by("-v")
        .limit(limit)
        .values("ats_job_id", "v", "a")
    )
    hires = (
        dict(
            await models.Event.filter(
                account_id=account.row.id, kind="hired", ats_job_id__in=[r["ats_job_id"] for r in rows]
            )
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
    account: LiveAccount, ats_job_id: str | None = None, top: int = 10
) -> JobStatsJson | StatsReportJson:
    """One job's numbers, or the account's with its ``top`` jobs by views: the admin API's and ``--json``'s
    answer."""
    numbers = (await job_stats(account, ats_job_id)).as_json()
    if ats_job_id is not None:
        return numbers
    return {**numbers, "top_jobs": [stats.as_json() for stats in await top_jobs(account, top)]}
