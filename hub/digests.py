"""Digests: a summary of each account, daily or weekly, sent to its notice sinks.

A digest is due at the account's ``digest_at``, wall-clock time in its ``digest_timezone`` (zoneinfo works
out each day's offset, so 09:00 stays 09:00 across a DST change), every day or on ``digest_weekday``. Its
figures are over whole UTC days, because pixel hits are counted per UTC day: the 1 or 7 UTC days ending on
the last complete UTC day at the moment it is due (:func:`period_at`). The figures are the stats API's for
those days (:mod:`hub.stats`), each compared with the period of the same length just before; the jobs in
the feed are counted when the digest is made and compared with the previous digest's count.

The leader's sweep (:func:`send_due`, every minute) queues an account's digest once its latest due moment
has passed: in one transaction, a row in ``digests`` (unique per account, schedule and period: a racing
replica's insert fails, and the digest is sent once) and a delivery per notice sink in the outbox, so a
sink's outage delays a digest and loses none. A hub that was down when a digest was due sends it when it
is back, once; only the latest due digest, never a backlog of the ones it missed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from hub import models
from hub.accounts import LiveAccount
from hub.feed import in_feed
from hub.incidents import NOTICE_KEY_PREFIX, list_incidents
from hub.normalised import (
    WEEKDAYS,
    Account,
    Digest,
    DigestEvery,
    DigestFigure,
    DigestFigureName,
    DigestJob,
    Notice,
)
from hub.plugins import PluginHost
from hub.stats import JobStats, Period, daily, job_stats, sparkline, top_jobs

_LOGGER = logging.getLogger(__name__)

#: How many UTC days each schedule's period holds.
PERIOD_DAYS: dict[DigestEvery, int] = {"daily": 1, "weekly": 7}
#: The days a figure's sparkline shows, ending on the period's last day.
SERIES_DAYS = 14
#: The top jobs by views a digest names.
TOP_JOBS = 5
#: How often the sweep records the jobs in each account's feed: the day's last record is its point in the
#: sparkline of jobs in the feed.
FEED_DAY_EVERY = timedelta(hours=1)
#: How often the leader looks for digests due.
DIGESTS_EVERY = timedelta(minutes=1)


def latest_due(account: Account, now: datetime) -> datetime | None:
    """The latest moment, at or before ``now``, the account's digest was due (in UTC); None when it is off.

    A ``digest_at`` that a DST change skips that day (02:30 when clocks go from 02:00 to 03:00) is read
    with the offset before the change, an hour later on the clock; one it repeats is its first time.
    """
    if account.digest == "off":
        return None
    zone = ZoneInfo(account.digest_timezone)

    def due_on(day: date) -> datetime:
        return datetime.combine(day, account.digest_at, zone).astimezone(UTC)

    today = now.astimezone(zone).date()
    step = PERIOD_DAYS[account.digest]
    back = 0 if account.digest == "daily" else (today.weekday() - WEEKDAYS.index(account.digest_weekday)) % 7
    due = due_on(today - timedelta(days=back))
    return due if due <= now else due_on(today - timedelta(days=back + step))


def period_at(due: datetime, every: DigestEvery) -> Period:
    """The UTC days a digest due at ``due`` covers: 1 (daily) or 7 (weekly), ending on the last UTC day
    complete at that moment.

    A digest is once per period (:class:`hub.models.Digest`). So a daily ``digest_at`` within an hour of
    midnight UTC meets its one odd day at a DST change: the change moves the moment across midnight, and
    that day's digest covers the same UTC day as the one before (it is not sent twice) or skips one.
    """
    return Period.ending(due.astimezone(UTC).date() - timedelta(days=1), PERIOD_DAYS[every])


def digest_key(account: str, period: Period, sink: str) -> str:
    """The ``Idempotency-Key`` of a digest's delivery to ``sink``: a notice's (:data:`NOTICE_KEY_PREFIX`),
    so dead digests are no ``deliveries-dead`` incident of their own sink, as other notices are not."""
    return f"{NOTICE_KEY_PREFIX}digest:{account}:{period.first}..{period.last}:{sink}"


async def feed_jobs(account: LiveAccount) -> int:
    """The jobs in the account's feed now, counted as ``status`` counts them."""
    return await models.Job.filter(in_feed(account)).count()


async def record_feed_day(account: LiveAccount, now: datetime) -> None:
    """Record the jobs in the account's feed on ``now``'s UTC day, at most every :data:`FEED_DAY_EVERY`
    (the day's last record stands for the day)."""
    day = now.astimezone(UTC).date()
    row = await models.FeedDay.get_or_none(account_id=account.row.id, day=day)
    if row is not None and now - row.recorded_at < FEED_DAY_EVERY:
        return
    jobs = await feed_jobs(account)
    if row is not None:
        await models.FeedDay.filter(id=row.id).update(jobs=jobs, recorded_at=now)
        return
    with contextlib.suppress(IntegrityError):  # another process recorded the day just now: as good
        await models.FeedDay.create(account_id=account.row.id, day=day, jobs=jobs, recorded_at=now)


def _figure(
    name: DigestFigureName, value: float | None, previous: float | None, series: Sequence[float | None]
) -> DigestFigure:
    # sparkline() scales the days that have a value; a day without one is a blank in the line.
    bars = iter(sparkline([day for day in series if day is not None]))
    line = "".join(" " if day is None else next(bars) for day in series)
    return DigestFigure(name, value, previous, tuple(series), line)


async def build_digest(
    account: LiveAccount, every: DigestEvery, period: Period, jobs: int, previous_jobs: int | None
) -> Digest:
    """The account's digest over ``period`` (``jobs`` in the feed now, ``previous_jobs`` at the previous
    digest, None for the first).

    Each sparkline covers the :data:`SERIES_DAYS` UTC days ending on the period's last day. The jobs in the
    feed have a point only on days the sweep recorded them (:func:`record_feed_day`): a day the hub was
    down all day is a gap, not a 0, which would read as an empty feed; so is a day without a view in the
    conversion's line.
    """
    current, before = await job_stats(account, None, period), await job_stats(account, None, period.before())
    days = await daily(account, Period.ending(period.last, SERIES_DAYS))
    recorded = dict(
        await models.FeedDay.filter(
            account_id=account.row.id, day__gte=days.period.first, day__lte=days.period.last
        ).values_list("day", "jobs")
    )
    conversions = [JobStats(None, v, a, 0).conversion for v, a in zip(days.views, days.applies, strict=True)]
    figures = (
        _figure("feed_jobs", jobs, previous_jobs, [recorded.get(day) for day in days.period.days]),
        _figure("views", current.views, before.views, days.views),
        _figure("applies", current.applies, before.applies, days.applies),
        _figure("hires", current.hires, before.hires, days.hires),
        _figure("conversion", current.conversion, before.conversion, conversions),
    )
    tops = await top_jobs(account, TOP_JOBS, period)
    titles = dict(
        await models.Job.filter(
            account_id=account.row.id, ats_id__in=[t.ats_job_id for t in tops]
        ).values_list("ats_id", "title")
    )
    return Digest(
        every, period.first, period.last, figures,
        top_jobs=tuple(
            DigestJob(str(t.ats_job_id), titles.get(t.ats_job_id), t.views, t.applies, t.conversion, t.hires)
            for t in tops
        ),
        incidents=tuple(incident["title"] for incident in await list_incidents(account_id=account.row.id)),
    )  # fmt: skip


def digest_title(account: str, digest: Digest) -> str:
    """``acme: daily digest for 2026-11-21`` (a weekly one names its first and last day)."""
    if digest.every == "daily":
        return f"{account}: daily digest for {digest.last}"
    return f"{account}: weekly digest for {digest.first} to {digest.last}"


def digest_text(account: str, digest: Digest) -> str:
    """The whole digest in plain text: what a sink that shows only text shows."""
    lines = [
        f"{digest_title(account, digest)}. {digest.basis()}",
        *(
            f"{figure.label}: {figure.shown()} ({figure.change_shown()})  {figure.sparkline}".rstrip()
            for figure in digest.figures
        ),
        "Top jobs by views:" if digest.top_jobs else "Top jobs by views: none viewed",
        *(f"- {job.title or job.job} ({job.job}): {job.summary()}" for job in digest.top_jobs),
        "Open incidents:" if digest.incidents else "Open incidents: none",
        *(f"- {title}" for title in digest.incidents),
    ]
    return "\n".join(lines)


async def send_due(account: LiveAccount, plugins: PluginHost, now: datetime | None = None) -> Notice | None:
    """Queue the account's latest due digest if nobody has yet; returns its notice, None for none.

    Records the jobs in the feed first (:func:`record_feed_day`). Run by the leader every minute.
    """
    now = now or datetime.now(UTC)
    await record_feed_day(account, now)
    every, due = account.config.digest, latest_due(account.config, now)
    if every == "off" or due is None:
        return None
    period = period_at(due, every)
    mine = models.Digest.filter(account_id=account.row.id)
    if await mine.filter(every=every, period_last=period.last).exists():
        return None
    previous = await mine.order_by("-id").first().values_list("feed_jobs", flat=True)
    jobs = await feed_jobs(account)
    digest = await build_digest(account, every, period, jobs, previous)
    notice = Notice(
        kind="digest", account=account.name, incident=0, sequence=0, topic="digest", subject=every,
        title=digest_title(account.name, digest), text=digest_text(account.name, digest), at=now,
        digest=digest,
    )  # fmt: skip
    try:
        async with in_transaction():
            await models.Digest.create(
                account_id=account.row.id, every=every, period_first=period.first, period_last=period.last,
                feed_jobs=jobs, due_at=due,
            )  # fmt: skip
            payloads = await plugins.broadcast("appcast_hub_notice_payload", account.config, notice=notice)
            for sink, payload in payloads:
                await models.Delivery.create(
                    account_id=account.row.id, destination=sink, payload=dict(payload),
                    next_attempt_at=datetime.now(UTC), idempotency_key=digest_key(account.name, period, sink),
                )  # fmt: skip
    except IntegrityError:
        return None  # another sweep queued it between our look and our insert: it is sent, once
    _LOGGER.info("%s: queued to %d notice sinks", notice.title, len(payloads))
    return notice
