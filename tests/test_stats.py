"""hub.stats: periods of whole UTC days (and what is wrong with one that is not), numbers day by day, and
sparklines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub import models, sdk
from hub.accounts import LiveAccount
from hub.pixels import UNKNOWN_JOB
from hub.stats import MAX_DAYS, Period, daily, job_stats, parse_period, sparkline

MARCH_1 = date(2026, 3, 1)


@pytest.mark.parametrize(
    ("since", "until", "problem"),
    [
        ("2026-3-1", None, "since must be a date as YYYY-MM-DD, not '2026-3-1'"),
        ("2026-03-01", "tomorrow", "until must be a date as YYYY-MM-DD"),
        ("2026-02-30", None, "since is no such day: 2026-02-30"),
        ("2026-03-02", "2026-03-01", "until (2026-03-01) is before since (2026-03-02)"),
    ],
)
def test_a_period_that_is_not_one_says_what_is_wrong(
    since: str | None, until: str | None, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_period(since, until, today=MARCH_1)


def test_periods_are_whole_utc_days_both_ends_included() -> None:
    assert parse_period(None, None) is None, "all time"
    assert parse_period("2026-02-27", None, today=MARCH_1) == Period(date(2026, 2, 27), MARCH_1)
    assert parse_period(None, "2026-02-27") == Period(date.min, date(2026, 2, 27)), "up to a day"
    week = Period.ending(MARCH_1, 7)
    assert week == Period(date(2026, 2, 23), MARCH_1)
    assert len(week.days) == 7
    assert week.before() == Period(date(2026, 2, 16), date(2026, 2, 22))
    assert (week.start, week.end) == (datetime(2026, 2, 23, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))
    with pytest.raises(ValueError, match="cannot end"):
        Period(MARCH_1, MARCH_1 - timedelta(days=1))


def test_sparklines_rise_from_zero_to_the_highest_value() -> None:
    assert sparkline([]) == ""
    assert sparkline([0, 0, 0]) == "▁▁▁"
    assert sparkline(list(range(8))) == "▁▂▃▄▅▆▇█"
    assert sparkline([0, 5, 10]) == "▁▅█"
    assert sparkline([1000, 1004]) == "██", "from zero: about the same, and looking it"
    assert sparkline([0.0, 0.02, 0.04]) == "▁▅█"


async def test_daily_buckets_each_utc_day_and_counts_only_known_jobs(migrated: str) -> None:
    row = await models.Account.create(name="acme", adapter="file")
    account = LiveAccount(sdk.make_account("file", {"file": {}}, name="acme"), row)
    days = [MARCH_1 + timedelta(days=n) for n in range(-1, 4)]
    await models.PixelCount.bulk_create(
        [
            *(models.PixelCount(account_id=row.id, ats_job_id="J-1", day=d, views=10 * n, applies=n)
              for n, d in enumerate(days)),
            models.PixelCount(account_id=row.id, ats_job_id="J-2", day=days[2], views=5, applies=5),
            models.PixelCount(account_id=row.id, ats_job_id=UNKNOWN_JOB, day=days[2], views=1000, applies=9),
        ]
    )  # fmt: skip
    hires = [
        datetime(2026, 3, 1, 0, 0, tzinfo=UTC),  # the first moment of 1 March
        datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 3, 1, 19, 30, tzinfo=ZoneInfo("America/Los_Angeles")),  # 03:30 UTC on 2 March
        datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC),  # before the period
        datetime(2026, 3, 4, 0, 0, tzinfo=UTC),  # after it
    ]
    await models.Event.bulk_create(
        models.Event(account_id=row.id, kind="hired", dedupe_key=f"h{n}", ats_job_id="J-1", occurred_at=at)
        for n, at in enumerate(hires)
    )
    period = Period(MARCH_1, date(2026, 3, 3))
    by_day = await daily(account, period)
    assert by_day.views == [10, 25, 30]
    assert by_day.applies == [1, 7, 3]
    assert by_day.hires == [2, 1, 0]
    totals = await job_stats(account, None, period)
    assert (totals.views, totals.applies, totals.hires) == (sum(by_day.views), sum(by_day.applies), 3)
    with pytest.raises(ValueError, match=f"at most {MAX_DAYS} days"):
        await daily(account, Period.ending(MARCH_1, MAX_DAYS + 1))
