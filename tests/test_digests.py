"""Digests (hub.digests): due at the account's wall-clock time in its time zone, DST changes included; over
whole UTC days with the stats API's figures for the same days; queued once however many sweeps race, and
sent once to the fake Slack, after a Slack outage too; a digest missed while the hub was down sent once,
the latest only."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from hub import hookimpl, models, sdk
from hub.accounts import LiveAccount, get_account
from hub.app import create_app
from hub.appkeys import SCHEDULER
from hub.config import bind_plugins, load_config
from hub.digests import FEED_DAY_EVERY, SERIES_DAYS, latest_due, period_at
from hub.incidents import report
from hub.normalised import DIGEST_FIGURES, Account, Notice
from hub.options import PluginInfo
from hub.plugins import PluginHost, load_plugins
from hub.scheduler import HubScheduler
from hub.stats import Period, sparkline
from plugins.notify_webhook import plugin as notify_webhook
from tests.conftest import SAMPLE_JOBS, write_config
from tests.peers.slack import BOT_TOKEN, FakeSlack

OPS, DIGESTS = "C0OPS0001", "C0DIGEST1"
NEW_YORK = ZoneInfo("America/New_York")
#: 10:30 in New York (EDT since 8 March): the day's digest, due at 09:00 (13:00 UTC), is due.
NOW = datetime(2026, 3, 12, 14, 30, tzinfo=UTC)
#: The last complete UTC day at 13:00 UTC on 12 March.
DAY = date(2026, 3, 11)


def account(**digest: Any) -> Account:
    return replace(sdk.make_account("file", {"file": {}}), **digest)


def every_moment(start: datetime, end: datetime, step: timedelta = timedelta(minutes=10)) -> list[datetime]:
    return [start + n * step for n in range(int((end - start) / step) + 1)]


# --- the schedule -----------------------------------------------------------------------------------


def test_a_daily_digest_is_due_at_its_wall_clock_time_each_day_across_a_dst_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # clocks went from 02:00 to 03:00 on 29 March 2026
    config = account(digest="daily", digest_at=time(9, 0), digest_timezone="Europe/Berlin")
    moments = every_moment(datetime(2026, 3, 26, tzinfo=UTC), datetime(2026, 4, 2, tzinfo=UTC))
    due = [latest_due(config, now) for now in moments]
    assert all(d is not None and d <= now for d, now in zip(due, moments, strict=True))
    distinct = sorted({d for d in due if d is not None})
    assert [d.astimezone(berlin).time() for d in distinct] == [time(9, 0)] * len(distinct)
    local_days = [d.astimezone(berlin).date() for d in distinct]
    assert local_days == [date(2026, 3, 25) + timedelta(days=n) for n in range(len(distinct))], "one a day"
    assert {d.date(): d.time() for d in distinct}[date(2026, 3, 28)] == time(8, 0), "09:00 CET"
    assert {d.date(): d.time() for d in distinct}[date(2026, 3, 29)] == time(7, 0), "09:00 CEST"
    for now, d in zip(moments, due, strict=True):  # the latest: the next one is still to come
        assert d is not None
        assert now < d + timedelta(hours=25)


def test_a_time_a_dst_change_skips_is_due_once_that_day() -> None:
    config = account(digest="daily", digest_at=time(2, 30), digest_timezone="Europe/Berlin")
    moments = every_moment(datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    distinct = sorted({latest_due(config, now) for now in moments})
    assert [d.isoformat() for d in distinct] == [
        "2026-03-27T01:30:00+00:00", "2026-03-28T01:30:00+00:00",
        "2026-03-29T01:30:00+00:00",  # 02:30 does not exist that day: 03:30 CEST
        "2026-03-30T00:30:00+00:00",
    ]  # fmt: skip


def test_a_weekly_digest_is_due_on_its_weekday_across_a_dst_change() -> None:
    config = account(digest="weekly", digest_at=time(17, 30), digest_timezone="America/New_York",
                     digest_weekday="friday")  # fmt: skip
    # The US moved its clocks on Sunday 8 March 2026.
    moments = every_moment(datetime(2026, 2, 20, tzinfo=UTC), datetime(2026, 3, 28, tzinfo=UTC))
    distinct = sorted({latest_due(config, now) for now in moments})
    assert [d.astimezone(NEW_YORK).strftime("%a %H:%M") for d in distinct] == ["Fri 17:30"] * len(distinct)
    assert [d.astimezone(NEW_YORK).date() for d in distinct] == [
        date(2026, 2, 13) + timedelta(weeks=n) for n in range(len(distinct))
    ]
    assert [d.time() for d in distinct[3:5]] == [time(22, 30), time(21, 30)], "6 March EST, 13 March EDT"
    friday = distinct[4]  # Friday 13 March, 21:30 UTC
    assert period_at(friday, "weekly") == Period(date(2026, 3, 6), date(2026, 3, 12))


def test_the_period_is_the_days_complete_in_utc_when_the_digest_is_due() -> None:
    tokyo = datetime(2026, 3, 10, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 23:00 UTC on 9 March
    assert period_at(tokyo, "daily") == Period(date(2026, 3, 8), date(2026, 3, 8))
    midnight = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
    assert period_at(midnight, "daily") == Period(date(2026, 3, 9), date(2026, 3, 9)), "9 March is complete"
    assert period_at(NOW, "weekly") == Period(date(2026, 3, 5), DAY)
    assert latest_due(account(), NOW) is None, "off by default"


# --- through a served hub, to the fake Slack --------------------------------------------------------


@dataclass
class Hub:
    slack: FakeSlack
    scheduler: HubScheduler
    account: LiveAccount
    client: sdk.HubClient
    plugins: PluginHost

    async def stats(self, first: date, last: date, top: int = 10) -> dict[str, Any]:
        """``GET /api/accounts/acme/stats`` over the UTC days ``first`` to ``last``."""
        path = f"/api/accounts/acme/stats?since={first}&until={last}&top={top}"
        status, answer = await self.client.admin("GET", path)
        assert status == 200, answer
        return answer


class BrokenSink:
    """A notice sink whose payloads cannot be made: a plugin raising, on the accounts with a table for it."""

    @hookimpl
    def appcast_hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(kind="destination", description="fails to make any notice's payload")

    @hookimpl
    def appcast_hub_notice_payload(self, notice: Notice) -> None:
        raise RuntimeError(f"no payload for {notice.title}")


@pytest.fixture
def more_config() -> str:
    """More of the hub's config, after acme's (parametrize to change it)."""
    return ""


@pytest.fixture
async def hub(database_url: str, tmp_path: Path, more_config: str) -> AsyncIterator[Hub]:
    slack = FakeSlack()
    async with slack.serving(), aiohttp.ClientSession() as http:
        text = (
            f'[database]\nurl = "{database_url}"\nmigrate_on_start = true\n[sync]\nscheduled = false\n'
            f'[admin]\napi_token = "{sdk.ADMIN_TOKEN}"\n'
            "[events]\npoll_seconds = 0.05\nbackoff_seconds = 0.05\nbackoff_cap_seconds = 0.2\n"
            '[accounts.acme]\nadapter = "file"\ncompany = "Acme"\nfeed_policy = "all-open"\n'
            'digest = "daily"\ndigest_at = "09:00"\ndigest_timezone = "America/New_York"\n'
            f'[accounts.acme.file]\npath = "{SAMPLE_JOBS}"\n'
            f'[accounts.acme.slack_notices]\nbot_token = "{BOT_TOKEN}"\nchannel = "{OPS}"\n'
            f'digest_channel = "{DIGESTS}"\napi_url = "{slack.api_base_url}"\n{more_config}'
        )
        plugins = load_plugins()
        assert plugins.register("broken_sink", BrokenSink())
        config = bind_plugins(load_config(write_config(tmp_path, text)), plugins)
        app = create_app(config, plugins)
        async with sdk.running(app) as url:
            scheduler = app[SCHEDULER]
            assert (await scheduler.sync("acme")).error is None
            account = await get_account(config, "acme")
            yield Hub(slack, scheduler, account, sdk.HubClient(url, http), plugins)


#: Views per job and day: (job, days before DAY, views, applies). Days 0 are in the daily period; the
#: others are outside it (the day before is what the change compares with, the day after is today).
PIXELS = [
    ("NW-1001", 0, 120, 6), ("NW-1002", 0, 90, 2), ("NW-1004", 0, 75, 0), ("NW-1005", 0, 40, 3),
    ("NW-1006", 0, 30, 1), ("NW-1007", 0, 12, 1), ("NW-1008", 0, 5, 0),
    ("NW-1001", 1, 60, 4), ("NW-1009", 1, 900, 50), ("NW-1002", 3, 10, 1), ("NW-1001", 13, 7, 0),
    ("NW-1001", 14, 999, 99), ("NW-1002", -1, 500, 40),
]  # fmt: skip
#: Hires: (job, when), on both sides of the period's edges.
HIRES = [
    ("NW-1001", datetime(2026, 3, 11, 0, 0, tzinfo=UTC)),  # in: the first moment of DAY
    ("NW-1001", datetime(2026, 3, 11, 23, 59, 59, tzinfo=UTC)),  # in: the last second of DAY
    ("NW-1005", datetime(2026, 3, 11, 16, 0, tzinfo=NEW_YORK)),  # in: 20:00 UTC
    ("NW-1002", datetime(2026, 3, 10, 23, 59, 59, tzinfo=UTC)),  # out: the day before
    ("NW-1002", datetime(2026, 3, 11, 21, 0, tzinfo=NEW_YORK)),  # out: 01:00 UTC on 12 March
    ("NW-1004", datetime(2026, 3, 12, 0, 0, tzinfo=UTC)),  # out: today
]  # fmt: skip


async def seed(account: LiveAccount) -> None:
    await models.PixelCount.bulk_create(
        models.PixelCount(account_id=account.row.id, ats_job_id=job, day=DAY - timedelta(days=back),
                          views=views, applies=applies)
        for job, back, views, applies in PIXELS
    )  # fmt: skip
    await models.Event.bulk_create(
        models.Event(account_id=account.row.id, kind="hired", dedupe_key=f"hire-{n}", ats_job_id=job,
                     occurred_at=at)
        for n, (job, at) in enumerate(HIRES)
    )  # fmt: skip


FIELD = re.compile(r"\*(?P<label>[^*]+)\*\n(?P<value>\S+(?: %)?)  \((?P<change>[^)]+)\)\n`(?P<line>[^`]*)`")
TOP_JOB = re.compile(
    r"\d+\. .+ \(`(?P<job>[^`]+)`\): (?P<views>[\d,]+) views?, (?P<applies>[\d,]+) appl(?:y|ies) "
    r"\((?P<conversion>[^)]+)\), (?P<hires>[\d,]+) hires?"
)


def fields_of(message: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each figure of a posted digest as Slack shows it: its value, change and sparkline, by label."""
    [section] = [block for block in message["blocks"] if "fields" in block]
    found = [FIELD.fullmatch(field["text"]) for field in section["fields"]]
    assert all(found), section["fields"]
    return {match["label"]: match.groupdict() for match in found if match}


def percent(conversion: float | None) -> str:
    return "\N{EN DASH}" if conversion is None else f"{conversion * 100:.1f} %"


async def test_the_digests_figures_are_the_stats_apis_for_the_same_days(hub: Hub) -> None:
    await seed(hub.account)
    await models.FeedDay.bulk_create(
        models.FeedDay(account_id=hub.account.row.id, day=DAY - timedelta(days=back), jobs=jobs,
                       recorded_at=NOW - timedelta(days=back + 1))
        for back, jobs in ((0, 44), (1, 40), (5, 20))
    )  # fmt: skip
    [notice] = await hub.scheduler.send_digests(NOW)
    [posted] = await hub.slack.wait_posted(1)
    assert posted["channel"] == DIGESTS, "digests go to digest_channel"
    assert "thread_ts" not in posted, "a digest is a message of its own"
    assert posted["blocks"][0]["type"] == "header"
    assert "acme: daily digest for 2026-03-11" in posted["blocks"][0]["text"]["text"]

    shown = fields_of(posted)
    assert list(shown) == list(DIGEST_FIGURES.values())
    stats = await hub.stats(DAY, DAY, top=5)
    before = await hub.stats(DAY - timedelta(days=1), DAY - timedelta(days=1))
    assert (stats["views"], stats["applies"], stats["hires"]) == (372, 13, 3), "the seed, read by the API"
    for name in ("views", "applies", "hires"):
        figure = shown[DIGEST_FIGURES[name]]
        assert figure["value"] == f"{stats[name]:,}"
        change = stats[name] - before[name]
        assert figure["change"] == (f"{change:+,}" if change else "±0")
    assert shown["Conversion"]["value"] == percent(stats["conversion"])
    points = round((stats["conversion"] - before["conversion"]) * 100, 1)
    assert shown["Conversion"]["change"] == f"{points:+.1f} pt"

    # Each line is the 14 days to DAY, day by day as the API counts them.
    days = Period.ending(DAY, SERIES_DAYS).days
    by_day = [await hub.stats(day, day) for day in days]
    assert shown["Views"]["line"] == sparkline([day["views"] for day in by_day])
    assert shown["Hires"]["line"] == sparkline([day["hires"] for day in by_day])
    # Jobs in the feed: recorded on three of the days, the others are gaps.
    low, middle, high = sparkline([20, 40, 44])
    assert shown["Jobs in the feed"]["line"] == " " * 8 + low + "   " + middle + high
    feed_jobs = (await hub.client.admin("GET", "/api/accounts/acme"))[1]["feed_jobs"]
    assert shown["Jobs in the feed"]["value"] == str(feed_jobs)
    assert shown["Jobs in the feed"]["change"] == "\N{EN DASH}", "the first digest has none to compare with"

    [top] = [block for block in posted["blocks"] if block.get("text", {}).get("text", "").startswith("*Top")]
    listed = [TOP_JOB.fullmatch(line) for line in top["text"]["text"].split("\n")[1:]]
    assert all(listed), top["text"]["text"]
    assert [
        {"job": m["job"], "views": int(m["views"].replace(",", "")), "applies": int(m["applies"]),
         "conversion": m["conversion"], "hires": int(m["hires"])}
        for m in listed if m
    ] == [
        {**job, "conversion": percent(job["conversion"])} for job in stats["top_jobs"]
    ]  # fmt: skip
    assert notice.digest is not None
    assert notice.digest.figure("views").series == tuple(day["views"] for day in by_day)
    # notify_webhook posts the same digest as JSON.
    payload = json.loads(json.dumps(notify_webhook.appcast_hub_notice_payload(notice)))
    assert {figure["name"]: figure["value"] for figure in payload["digest"]["figures"]} == {
        "feed_jobs": feed_jobs, **{name: stats[name] for name in ("views", "applies", "hires", "conversion")},
    }  # fmt: skip
    titles = [job.pop("title") for job in payload["digest"]["top_jobs"]]
    assert titles[:2] == ["Registered Nurse, ICU", "Staff Pharmacist, Inpatient"]
    assert payload["digest"]["top_jobs"] == stats["top_jobs"]


async def digests_queued(account: LiveAccount) -> list[str]:
    """The idempotency keys of the account's digest deliveries, oldest first."""
    rows = models.Delivery.filter(account_id=account.row.id, idempotency_key__startswith="notice:digest:")
    return list(await rows.order_by("id").values_list("idempotency_key", flat=True))


async def test_the_stats_api_names_what_is_wrong_with_a_period(hub: Hub) -> None:
    for query, problem in (
        ("since=2026-03-09&until=2026-03-08", "until (2026-03-08) is before since (2026-03-09)"),
        ("since=2026-02-30", "since is no such day: 2026-02-30"),
        ("until=March", "until must be a date as YYYY-MM-DD"),
    ):
        status, answer = await hub.client.admin("GET", f"/api/accounts/acme/stats?{query}")
        assert (status, problem in answer["error"]) == (400, True), (query, answer)
    status, answer = await hub.client.admin("GET", "/api/accounts/acme/stats?until=2026-03-08")
    assert status == 200, answer


async def test_two_sweeps_racing_queue_the_digest_once(hub: Hub) -> None:
    first, second = await asyncio.gather(hub.scheduler.send_digests(NOW), hub.scheduler.send_digests(NOW))
    assert len(first + second) == 1
    assert await models.Digest.filter(account_id=hub.account.row.id).count() == 1
    assert await digests_queued(hub.account) == ["notice:digest:acme:2026-03-11..2026-03-11:slack_notices"]
    await hub.slack.wait_posted(1)
    assert await hub.scheduler.send_digests(NOW + timedelta(minutes=1)) == []
    await asyncio.sleep(0.3)
    assert len(hub.slack.posted) == 1


@pytest.mark.parametrize(
    "more_config",
    ['[accounts.acme.broken_sink]\n[accounts.beta]\nadapter = "file"\ncompany = "Beta"\n'
     f'feed_policy = "all-open"\ndigest = "daily"\n[accounts.beta.file]\npath = "{SAMPLE_JOBS}"\n'],
)  # fmt: skip
async def test_one_accounts_failure_does_not_cost_the_accounts_after_it_their_digest(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    [queued] = await hub.scheduler.send_digests(NOW)
    assert queued.account == "beta", "acme's sink failed; beta, swept after it, still gets its digest"
    assert "digests: account acme failed; the sweep goes on" in caplog.text
    assert "no payload for" in caplog.text
    assert await models.Digest.filter(account_id=hub.account.row.id).count() == 0, "acme's rolled back"
    hub.plugins.unregister("broken_sink")
    [retried] = await hub.scheduler.send_digests(NOW + timedelta(minutes=1))
    assert retried.account == "acme", "the next sweep queues what the failed one could not"


@pytest.mark.parametrize("outage", ["server_errors", "rate_limited"])
async def test_a_slack_outage_delays_the_digest_and_loses_or_repeats_nothing(hub: Hub, outage: str) -> None:
    setattr(hub.slack.faults, outage, 2)
    hub.slack.faults.retry_after = 0.1
    [notice] = await hub.scheduler.send_digests(NOW)
    [posted] = await hub.slack.wait_posted(1, timeout=30)
    assert posted["text"].endswith(notice.title)
    digests = models.Delivery.filter(idempotency_key__startswith="notice:digest:")
    clock = asyncio.get_running_loop()
    deadline = clock.time() + 10
    while await digests.filter(state="pending").exists():  # recorded once Slack's answer is in
        assert clock.time() < deadline, "the delivery was never recorded"
        await asyncio.sleep(0.05)
    assert await digests.values_list("state", "attempts") == [("delivered", 3)], "two refused, then sent"
    await asyncio.sleep(0.3)
    assert len(hub.slack.posted) == 1


async def test_a_digest_missed_while_the_hub_was_down_is_sent_once_the_latest_only(hub: Hub) -> None:
    assert len(await hub.scheduler.send_digests(NOW)) == 1  # 12 March's (for 11 March)
    # Down from 12 March until 08:00 in New York on 15 March: the digests of 13 and 14 March were missed.
    back = datetime(2026, 3, 15, 8, 0, tzinfo=NEW_YORK)
    [late] = await hub.scheduler.send_digests(back)
    assert late.digest is not None
    assert (late.digest.first, late.digest.last) == (date(2026, 3, 13), date(2026, 3, 13)), "14 March's"
    assert await hub.scheduler.send_digests(back + timedelta(minutes=30)) == []
    [today] = await hub.scheduler.send_digests(datetime(2026, 3, 15, 9, 0, tzinfo=NEW_YORK))
    assert today.digest is not None
    assert today.digest.last == date(2026, 3, 14)
    assert [key.split(":")[3] for key in await digests_queued(hub.account)] == [
        "2026-03-11..2026-03-11", "2026-03-13..2026-03-13", "2026-03-14..2026-03-14",
    ]  # fmt: skip
    await hub.slack.wait_posted(3)
    await asyncio.sleep(0.3)
    assert len(hub.slack.posted) == 3


async def test_jobs_in_the_feed_change_since_the_last_digest_and_are_recorded_hourly(hub: Hub) -> None:
    [first] = await hub.scheduler.send_digests(NOW)
    assert first.digest is not None
    jobs = first.digest.figure("feed_jobs").value
    assert jobs == (await hub.client.admin("GET", "/api/accounts/acme"))[1]["feed_jobs"] > 3
    status, _ = await hub.client.admin(
        "POST", "/api/accounts/acme/jobs/disable", {"ids": ["NW-1001", "NW-1002", "NW-1004"]}
    )
    assert status == 200
    recorded = models.FeedDay.filter(account_id=hub.account.row.id, day=NOW.date())
    assert await recorded.values_list("jobs", flat=True) == [jobs], "recorded by the sweep"
    await hub.scheduler.send_digests(NOW + FEED_DAY_EVERY - timedelta(minutes=1))
    assert await recorded.values_list("jobs", flat=True) == [jobs], "at most hourly"
    await hub.scheduler.send_digests(NOW + FEED_DAY_EVERY)
    assert await recorded.values_list("jobs", flat=True) == [jobs - 3], "the day's last record wins"

    await report(
        hub.account, hub.scheduler.plugins, "held-close", title="acme: a mass close is held", detail="d"
    )
    [second] = await hub.scheduler.send_digests(NOW + timedelta(days=1))
    assert second.digest is not None
    figure = second.digest.figure("feed_jobs")
    assert (figure.value, figure.previous, figure.change_shown()) == (jobs - 3, jobs, "-3")
    assert second.digest.figure("feed_jobs").series[-1] == jobs - 3, "12 March's last record"
    assert second.digest.incidents == ("acme: a mass close is held",)
    assert "Open incidents:\n- acme: a mass close is held" in second.text
    posted = await hub.slack.wait_posted(3)  # the first digest, the incident, the second digest
    [digest] = [message for message in posted[1:] if message["channel"] == DIGESTS]
    assert digest["blocks"][-1]["text"]["text"] == "*Open incidents*\n• acme: a mass close is held"
