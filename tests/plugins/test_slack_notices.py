"""The ``slack_notices`` sink against the fake Slack, through a served hub's outbox: an incident opens with
one message, its update and its resolution go in that message's thread (the resolution to the channel
too), a 429 storm delays and loses nothing, and a refused token is said without the token."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from hub import breaker, models, sdk
from hub.accounts import LiveAccount, get_account
from hub.app import create_app
from hub.config import bind_plugins, load_config
from hub.errors import AdapterAuthError, AdapterUnavailable
from hub.incidents import UPDATE_EVERY, clear, report
from hub.normalised import Delivery, Notice, NoticeAction
from hub.plugins import PluginHost, load_plugins
from hub.slack import blocks
from plugins.slack_notices import const, plugin
from plugins.slack_notices.mapping import notice_message
from tests.conftest import SAMPLE_JOBS, write_config
from tests.peers.slack import BOT_TOKEN, CHANNEL_IDS, FakeSlack

CHANNEL = "C0OPS0001"


@dataclass
class Hub:
    slack: FakeSlack
    account: LiveAccount
    plugins: PluginHost


def hub_config(database_url: str, slack: FakeSlack, *, poll_seconds: float = 0.05, more: str = "") -> str:
    """A hub whose account ``acme`` posts its notices to ``slack``, its outbox looking every
    ``poll_seconds``; ``more``: tables added."""
    return (
        f'[database]\nurl = "{database_url}"\nmigrate_on_start = true\n[sync]\nscheduled = false\n'
        f"[events]\npoll_seconds = {poll_seconds}\nbackoff_seconds = 0.05\nbackoff_cap_seconds = 0.2\n"
        f'[accounts.acme]\nadapter = "file"\ncompany = "Acme"\n'
        f'[accounts.acme.file]\npath = "{SAMPLE_JOBS}"\n'
        f'[accounts.acme.slack_notices]\nbot_token = "{BOT_TOKEN}"\nchannel = "{CHANNEL}"\n'
        f'api_url = "{slack.api_base_url}"\n{more}'
    )


@pytest.fixture
async def hub(database_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    slack = FakeSlack()
    async with slack.serving():
        text = hub_config(database_url, slack)
        plugins = load_plugins()
        config = bind_plugins(load_config(write_config(tmp_path, text)), plugins)
        async with sdk.running(create_app(config, plugins)):
            yield Hub(slack, await get_account(config, "acme"), plugins)


async def test_an_incident_is_one_thread_in_the_channel(hub: Hub) -> None:
    now = datetime.now(UTC)
    topic = "deliveries-dead"
    opened = await report(hub.account, hub.plugins, topic, subject="appcast", title="acme: <b> gave up",
                          detail="3 deliveries & more", now=now)  # fmt: skip
    assert opened is not None
    later = now + UPDATE_EVERY + timedelta(seconds=1)
    await report(hub.account, hub.plugins, topic, subject="appcast", title="acme: <b> gave up", detail="9",
                 now=later)  # fmt: skip
    await clear(hub.account, hub.plugins, topic, subject="appcast", detail="none is dead any more")
    first, update, resolution = await hub.slack.wait_posted(3)
    await asyncio.sleep(0.3)
    assert len(hub.slack.posted) == 3, "each notice posted once"
    assert first["channel"] == CHANNEL
    assert "thread_ts" not in first
    assert "&lt;b&gt;" in first["text"]
    assert "3 deliveries &amp; more" in first["blocks"][0]["text"]["text"]
    receipts = [
        (await models.Delivery.get(idempotency_key=f"notice:{opened.incident}:{n}:slack_notices")).receipt
        for n in range(3)
    ]
    assert receipts == [{"channel": CHANNEL, "ts": update["thread_ts"]}] * 3, "each names the thread"
    assert update["thread_ts"] == resolution["thread_ts"]
    assert update["text"].startswith(":arrows_counterclockwise: Update:")
    assert resolution["reply_broadcast"] is True
    assert resolution["text"].startswith(":white_check_mark:")


async def test_a_429_storm_delays_the_notice_and_loses_nothing(hub: Hub) -> None:
    hub.slack.faults.rate_limited, hub.slack.faults.retry_after = 4, 0.2
    started = time.monotonic()
    await report(hub.account, hub.plugins, "held-close", title="acme: held", detail="3 of 3")
    [posted] = await hub.slack.wait_posted(1, timeout=30)
    assert posted["text"].endswith("acme: held")
    assert time.monotonic() - started >= 0.2 * 4 * 0.9, "each Retry-After was waited out"
    await asyncio.sleep(0.3)
    assert len(hub.slack.posted) == 1


async def test_a_message_slack_refuses_is_no_outage_and_names_slacks_error(hub: Hub) -> None:
    delivery = Delivery(1, "slack_notices", {"text": "", "blocks": []}, "k", 1)  # nothing to show: no_text
    options = {"api_url": hub.slack.api_base_url, "bot_token": BOT_TOKEN, "channel": CHANNEL,
               "timeout_seconds": 5.0}  # fmt: skip
    async with aiohttp.ClientSession() as http:
        with pytest.raises(AdapterUnavailable) as refused:
            await plugin.appcast_hub_deliver(options=options, delivery=delivery, http=http)
    assert "refused the message (no_text)" in str(refused.value)
    assert not breaker.is_outage(refused.value), "the next notices must not wait behind this one"
    assert hub.slack.posted == []


async def test_a_channel_named_by_name_is_paced_as_one_channel_however_slack_names_it_back(hub: Hub) -> None:
    # The opening goes to the channel's name; Slack answers its id, and the updates go there: the same
    # channel, so Slack's one message a second counts them all.
    options = {"api_url": hub.slack.api_base_url, "bot_token": BOT_TOKEN, "channel": "#recruiting-ops",
               "timeout_seconds": 5.0}  # fmt: skip
    thread = None
    async with aiohttp.ClientSession() as http:
        for sequence, kind in enumerate(("incident.opened", "incident.updated", "incident.updated")):
            notice = Notice(kind=kind, account="acme", incident=1, sequence=sequence, topic="sync-failing",
                            subject="", title="t", text=f"x{sequence}", at=datetime.now(UTC))  # fmt: skip
            delivery = Delivery(sequence, "slack_notices", notice_message(notice), f"k{sequence}", 0, thread)
            thread = dict(await plugin.appcast_hub_deliver(options=options, delivery=delivery, http=http))
    assert [posted["channel"] for posted in hub.slack.posted] == [
        "#recruiting-ops",
        *[CHANNEL_IDS["recruiting-ops"]] * 2,
    ]
    gaps = [later - earlier for earlier, later in itertools.pairwise(hub.slack.posted_at)]
    assert min(gaps) >= 0.9 / const.MESSAGES_PER_SECOND, gaps


def opened(incident: int, at: datetime) -> Notice:
    """An incident's opening notice."""
    return Notice(kind="incident.opened", account="acme", incident=incident, sequence=0, topic="sync-failing",
                  subject=str(incident), title=f"Incident {incident}", text="x", at=at)  # fmt: skip


async def test_a_burst_of_notices_to_one_channel_drains_at_its_pace_without_holding_up_the_rest(
    database_url: str, tmp_path: Path
) -> None:
    # Slack takes about a message a second per channel, and the outbox sends a batch at a time: a notice
    # waiting there for its turn held up every delivery claimed after the batch, Appcast's hires included.
    # A notice whose turn is more than a second away is booked that turn and comes back for it, no attempt
    # counted; the outbox wakes for it, however long its poll (here 10 s).
    slack, appcast = FakeSlack(), sdk.FakeAppcast(validate=False)
    poll_seconds = 10.0
    async with slack.serving(), appcast.serving():
        appcast_table = (
            f'[accounts.acme.appcast]\nclient_id = "c"\nent_id = "e"\nevents_url = "{appcast.events_url}"\n'
        )
        text = hub_config(database_url, slack, poll_seconds=poll_seconds, more=appcast_table)
        plugins = load_plugins()
        config = bind_plugins(load_config(write_config(tmp_path, text)), plugins)
        async with sdk.running(create_app(config, plugins)):
            account = await get_account(config, "acme")
            now = datetime.now(UTC)
            burst = [notice_message(opened(n, now)) for n in range(5)]
            rows = [
                models.Delivery(account_id=account.row.id, destination="slack_notices", payload=message,
                                idempotency_key=f"notice:{n}:0:slack", next_attempt_at=now)
                for n, message in enumerate(burst)
            ]  # fmt: skip
            await models.Delivery.bulk_create(rows)
            deadline = time.monotonic() + 30
            while not slack.posted:  # the burst's batch is being sent
                assert time.monotonic() < deadline, "no notice posted"
                await asyncio.sleep(0.01)
            await models.Delivery.create(
                account_id=account.row.id, destination="appcast", idempotency_key="hire-1", payload={"n": 1},
                next_attempt_at=datetime.now(UTC),
            )  # fmt: skip
            await appcast.wait_for_events(1, timeout=30)
            assert len(slack.posted) < len(burst), "the Appcast delivery waited for the whole burst"
            notices = models.Delivery.filter(destination="slack_notices")
            while await notices.filter(state="delivered").count() < len(burst):
                assert time.monotonic() < deadline, "the burst was not all posted"
                await asyncio.sleep(0.05)
            attempts = await notices.values_list("attempts", flat=True)
    assert [posted["text"] for posted in slack.posted] == [message["text"] for message in burst], (
        "each posted once, in order"
    )
    gaps = [later - earlier for earlier, later in itertools.pairwise(slack.posted_at)]
    assert min(gaps) >= 0.9 / const.MESSAGES_PER_SECOND, gaps
    assert max(gaps) < poll_seconds / 2, f"one notice per poll, not at Slack's pace: {gaps}"
    assert attempts == [1] * len(burst), "waiting for its turn cost a notice no attempt"


async def test_a_notice_slack_took_before_the_hub_stopped_is_not_posted_again(hub: Hub) -> None:
    # Posted, its receipt written, and the process stopped before the batch was marked delivered.
    notice = Notice(kind="incident.opened", account="acme", incident=1, sequence=0, topic="sync-failing",
                    subject="", title="t", text="x", at=datetime.now(UTC))  # fmt: skip
    row = await models.Delivery.create(
        account_id=hub.account.row.id, destination="slack_notices", idempotency_key="notice:1:0:slack",
        payload=notice_message(notice), next_attempt_at=datetime.now(UTC),
        receipt={"channel": CHANNEL, "ts": "1700000000.000100"},
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while (await models.Delivery.get(id=row.id)).state != "delivered":
        assert time.monotonic() < deadline, "not recorded as delivered"
        await asyncio.sleep(0.05)
    assert hub.slack.posted == []


async def test_a_refused_token_is_said_without_the_token(hub: Hub) -> None:
    notice = Notice(kind="incident.opened", account="acme", incident=1, sequence=0, topic="held-close",
                    subject="", title="t", text="x", at=datetime.now(UTC))  # fmt: skip
    delivery = Delivery(1, "slack_notices", notice_message(notice), "k", 1)
    options = {"api_url": hub.slack.api_base_url, "bot_token": "xoxb-wrong-token", "channel": CHANNEL,
               "timeout_seconds": 5.0}  # fmt: skip
    async with aiohttp.ClientSession() as http:
        with pytest.raises(AdapterAuthError) as refused:
            await plugin.appcast_hub_deliver(options=options, delivery=delivery, http=http)
    assert "invalid_auth" in str(refused.value)
    assert "xoxb-wrong-token" not in str(refused.value)


async def test_a_held_close_is_posted_with_the_buttons_the_hubs_slack_app_acts_on(hub: Hub) -> None:
    actions = (
        NoticeAction("Close 40 jobs", blocks.ACTION_HELD_CONFIRM, "acme", danger=True, confirm="Close <40>?"),
        NoticeAction("Keep them open", blocks.ACTION_HELD_KEEP, "acme"),
    )
    await report(
        hub.account, hub.plugins, "held-close", title="acme: held", detail="40 of 50", actions=actions
    )
    [posted] = await hub.slack.wait_posted(1)
    buttons = posted["blocks"][1]["elements"]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (blocks.ACTION_HELD_CONFIRM, "acme"), (blocks.ACTION_HELD_KEEP, "acme"),
    ]  # fmt: skip
    assert buttons[0]["style"] == "danger"
    assert buttons[0]["confirm"]["text"]["text"] == "Close &lt;40&gt;?"
    assert "confirm" not in buttons[1]
