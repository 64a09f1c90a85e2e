"""The App Home tab end to end over real sockets: a signed ``app_home_opened`` event (HTTP or Socket Mode)
makes the hub publish the tab to the fake Slack, whose figures are the hub's own, and its buttons run
the same operations as ``/appcast`` (admins only, audited), publishing the tab again afterwards."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub import models
from hub.accounts import get_account
from hub.config import load_config
from hub.operations import OPERATIONS
from hub.slack import home
from hub.slack.bolt import RATE_LIMIT_RETRIES
from hub.slack.commands import USAGE
from hub.stats import Period, daily, sparkline
from hub.testing.peers import serving_hub
from tests.conftest import REPO
from tests.peers.slack import FakeSlack
from tests.slack.test_slack_flow import (
    ACME_IDS,
    ADMIN,
    API_TOKEN,
    GROUP_MEMBER,
    MEMBER,
    SHARED,
    USERGROUP,
    Setup,
    audit_rows,
    buttons,
    jobs_file,
    slack_config,
    socket_mode_config,
    text_of,
)

HELD_CONFIRM, HELD_KEEP = "appcast_held_confirm", "appcast_held_keep"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(usergroups={USERGROUP: [GROUP_MEMBER]})
    async with fake.serving():
        yield fake


@pytest.fixture
async def hub(slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Setup]:
    config = slack_config(f"sqlite://{tmp_path / 'hub.sqlite3'}", slack, tmp_path)
    async with serving_hub(config) as url, aiohttp.ClientSession() as http:
        setup = Setup(url, slack, http, config.parent)
        await setup.api_sync("acme")
        await setup.api_sync("globex")
        yield setup


async def open_home(hub: Setup, user: str = ADMIN) -> dict[str, Any]:
    """``user`` opens the Home tab: the event is answered at once, and the view published is returned."""
    published = len(hub.slack.homes[user])
    body, headers = hub.slack.event_callback(hub.slack.home_opened(user))
    status, answer, _ = await hub.post(body, headers)
    assert (status, answer) == (200, None)
    return await hub.slack.wait_home(user, published + 1)


async def click_home(hub: Setup, action_id: str, value: str, user: str = ADMIN) -> dict[str, Any]:
    """``user`` clicks a button on their Home tab; returns the view published after it."""
    published = len(hub.slack.homes[user])
    body, headers = hub.slack.block_action(action_id, value, user_id=user, response_url=None)
    status, answer, _ = await hub.post(body, headers)
    assert (status, answer) == (200, None)
    return await hub.slack.wait_home(user, published + 1)


def section_of(view: dict[str, Any], account: str) -> str:
    """The text of ``account``'s section and of the numbers under it."""
    position = next(
        n for n, block in enumerate(view["blocks"])
        if block["type"] == "section" and block["text"]["text"].startswith(f"*{account}* — ")
    )  # fmt: skip
    return view["blocks"][position]["text"]["text"] + "\n" + text_of(view["blocks"][position + 1])


def account_order(view: dict[str, Any]) -> list[str]:
    return [
        block["text"]["text"].split("*")[1]
        for block in view["blocks"]
        if block["type"] == "section" and " — " in block["text"]["text"].split("\n")[0]
    ]


def button_ids(view: dict[str, Any]) -> list[tuple[str, str]]:
    return [(button["action_id"], button["value"]) for button in buttons(view)]


async def dead_deliveries(account: str, count: int) -> list[int]:
    row = await models.Account.get(name=account)
    return [
        (
            await models.Delivery.create(
                account=row, destination="appcast", idempotency_key=f"{account}-dead-{n}",
                payload={"event": "hired"}, state="dead", attempts=12, next_attempt_at=row.created_at,
                last_error="HTTP 500",
            )
        ).id
        for n in range(count)
    ]  # fmt: skip


async def hold_a_mass_close(hub: Setup) -> str:
    """The ATS stops listing 11 of acme's 13 open jobs: the sync holds the close; its buttons' value."""
    jobs_file(hub.folder / "acme.json", ACME_IDS[:2], "Portland")
    await hub.api_sync("acme")
    [change] = await models.HeldChange.filter(state="held").values_list("id", flat=True)
    return f"acme:{change}"


async def break_globex_sync(hub: Setup) -> None:
    """Three failed syncs in a row: globex's sync-failing incident opens."""
    (hub.folder / "globex.json").write_text("{broken", encoding="utf-8")
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    for _ in range(3):
        async with hub.http.post(f"{hub.url}/api/accounts/globex/sync", headers=headers) as response:
            assert response.status == 502, "the ATS (the jobs file) failed"
    assert await models.Incident.filter(state="open", topic="sync-failing").count() == 1


# --- what it shows ------------------------------------------------------------------------------------


async def test_opening_home_shows_each_accounts_figures(hub: Setup) -> None:
    await hub.ask("enable job ACME-1 ACME-2")
    acme = await models.Account.get(name="acme")
    today = datetime.now(UTC).date()
    views_by_age = {0: 14, 1: 7, 5: 1, 13: 3, 14: 100}  # 14 days ago is outside the 14 days shown
    for age, views in views_by_age.items():
        await models.PixelCount.create(
            account=acme, ats_job_id="ACME-1", day=today - timedelta(days=age), views=views, applies=age % 3
        )
    await models.Event.create(
        account=acme, kind="hired", dedupe_key="hire-1", ats_job_id="ACME-1",
        occurred_at=datetime.now(UTC) - timedelta(days=2),
    )  # fmt: skip
    await dead_deliveries("acme", 2)
    await hold_a_mass_close(hub)
    await break_globex_sync(hub)

    view = await open_home(hub)
    assert view["type"] == "home"
    assert account_order(view) == ["globex", "acme"], "an account with an open incident comes first"

    shown = section_of(view, "acme")
    for expected in ("*acme* — Acme · :large_green_circle: integration on",
                     "ATS: file · :white_check_mark: synced", "Feed: 2 of 13 open jobs (opted-in)",
                     "Deliveries: 0 pending · :warning: *2 dead*", "*Held:* 11 of 13 open jobs would close",
                     "No open incident."):  # fmt: skip
        assert expected in shown
    globex = section_of(view, "globex")
    assert "last sync failed (3 in a row)" in globex
    assert "*1 open incidents*: globex: the sync from file is failing" in globex
    assert "Deliveries*: 0 pending · 0 delivered · :warning: *2 dead*" in text_of(view)

    # The sparklines are hub.stats.daily of the last 14 days, today included.
    config = load_config(hub.folder / "config.toml")
    numbers = await daily(await get_account(config, "acme"), Period.ending(today, 14))
    assert sum(numbers.views) == 14 + 7 + 1 + 3
    assert f"views `{sparkline(numbers.views)}` 25" in shown
    assert f"applies `{sparkline(numbers.applies)}` {sum(numbers.applies)}" in shown
    assert f"hires `{sparkline(numbers.hires)}` 1" in shown
    assert sparkline(numbers.views) == "▃" + "▁" * 11 + "▅█", "oldest first, from zero to the highest"


async def test_admins_get_buttons_and_the_destructive_ones_ask_first(hub: Setup) -> None:
    await dead_deliveries("acme", 2)
    held = await hold_a_mass_close(hub)
    view = await open_home(hub)
    assert sorted(button_ids(view)) == sorted([
        ("appcast_home_retry_dead", "dead"),
        ("appcast_home_sync", "acme"), ("appcast_home_integration_off", "acme"),
        (HELD_CONFIRM, held), (HELD_KEEP, held),
        ("appcast_home_sync", "globex"), ("appcast_home_integration_off", "globex"),
    ])  # fmt: skip
    asking = {button["action_id"] for button in buttons(view) if "confirm" in button}
    assert asking == {"appcast_home_retry_dead", "appcast_home_integration_off", HELD_CONFIRM}
    assert "Close 11 jobs" in text_of(view)


async def test_members_who_are_no_admins_see_the_figures_and_no_button(hub: Setup) -> None:
    await dead_deliveries("acme", 1)
    await hold_a_mass_close(hub)
    view = await open_home(hub, user=MEMBER)
    assert buttons(view) == []
    assert "Only hub admins get buttons here" in text_of(view)
    assert "*Held:* 11 of 13 open jobs would close" in section_of(view, "acme")


async def test_the_messages_tab_publishes_nothing(hub: Setup) -> None:
    body, headers = hub.slack.event_callback(hub.slack.home_opened(ADMIN, tab="messages"))
    status, _, _ = await hub.post(body, headers)
    assert status == 200
    await open_home(hub, user=MEMBER)  # published after anything the first event could have done
    assert hub.slack.homes[ADMIN] == []


async def test_many_accounts_stay_within_slacks_block_limit(slack: FakeSlack, tmp_path: Path) -> None:
    jobs = jobs_file(tmp_path / "jobs.json", ["J-1"], "Austin")
    accounts = "".join(
        f'[accounts.a{n:02d}]\nadapter = "file"\ncompany = "Company {n}"\n[accounts.a{n:02d}.file]\n'
        f'path = "{jobs}"\n'
        for n in range(home.MAX_ACCOUNTS + 7)
    )
    config = slack_config(f"sqlite://{tmp_path / 'hub.sqlite3'}", slack, tmp_path)
    config.write_text(config.read_text(encoding="utf-8") + accounts, encoding="utf-8")
    async with serving_hub(config) as url, aiohttp.ClientSession() as http:
        view = await open_home(Setup(url, slack, http, tmp_path))
    total = home.MAX_ACCOUNTS + 7 + 2  # and acme, globex
    assert len(view["blocks"]) <= 100
    assert len(account_order(view)) == home.MAX_ACCOUNTS
    assert f"…and {total - home.MAX_ACCOUNTS} more accounts, not shown" in text_of(view)


# --- its buttons ------------------------------------------------------------------------------------------


async def test_sync_now_runs_a_sync_and_republishes(hub: Setup) -> None:
    jobs_file(hub.folder / "acme.json", [*ACME_IDS, SHARED, "ACME-NEW"], "Portland")
    view = await click_home(hub, "appcast_home_sync", "acme")
    assert "sync saw 14 jobs: 1 new" in text_of(view["blocks"][:4]), "what the click did, on top"
    assert await models.Job.filter(ats_id="ACME-NEW", is_open=True).exists()
    assert "Feed: 0 of 14 open jobs" in section_of(view, "acme")


async def test_retry_dead_replays_them_audited(hub: Setup) -> None:
    ids = await dead_deliveries("acme", 2) + await dead_deliveries("globex", 1)
    view = await click_home(hub, "appcast_home_retry_dead", "dead")
    assert "Queued again (3)" in text_of(view)
    assert await models.Delivery.filter(id__in=ids, state="dead", attempts=12).count() == 0
    assert await audit_rows() == [(ADMIN, "slack", "delivery.replay", ",".join(map(str, ids)))]
    assert not any(action == "appcast_home_retry_dead" for action, _ in button_ids(view)), "none dead now"


async def test_a_held_close_confirmed_from_home_closes_the_jobs(hub: Setup) -> None:
    held = await hold_a_mass_close(hub)
    view = await click_home(hub, HELD_CONFIRM, held)
    assert "closed 11 jobs of *acme*" in text_of(view)
    assert await models.Job.filter(account__name="acme", is_open=True).count() == 2
    assert "Feed: 0 of 2 open jobs" in section_of(view, "acme")
    assert "Held" not in section_of(view, "acme")
    assert (HELD_CONFIRM, held) not in button_ids(view)
    assert [(row[0], row[2]) for row in await audit_rows(action__startswith="held.")] == [
        ("system", "held.close"), (ADMIN, "held.applied"),
    ]  # fmt: skip
    assert "closed 11 jobs" in text_of((await hub.slack.wait_posted(1))[0]), "announced as by command"


async def test_integration_off_and_on_from_home(hub: Setup) -> None:
    await hub.ask("enable job ACME-1")
    view = await click_home(hub, "appcast_home_integration_off", "acme")
    assert "Appcast integration of *acme* is now *off*" in text_of(view)
    assert await hub.feed_ids() == set()
    assert "integration off" in section_of(view, "acme")
    assert ("appcast_home_integration_on", "acme") in button_ids(view)
    view = await click_home(hub, "appcast_home_integration_on", "acme")
    assert await hub.feed_ids() == {"ACME-1"}
    assert [row[2] for row in await audit_rows()] == [
        "job.enable",
        "integration.disable",
        "integration.enable",
    ]


@pytest.mark.parametrize(
    ("action_id", "value"),
    [("appcast_home_sync", "acme"), ("appcast_home_retry_dead", "dead"),
     ("appcast_home_integration_off", "acme"), (HELD_CONFIRM, "held"), (HELD_KEEP, "held")],
)  # fmt: skip
async def test_a_forged_click_by_a_member_changes_nothing(hub: Setup, action_id: str, value: str) -> None:
    """Slack shows members no buttons; a click forged with the member's id is refused all the same."""
    ids = await dead_deliveries("acme", 1)
    held = await hold_a_mass_close(hub)
    jobs_file(hub.folder / "acme.json", [*ACME_IDS[:2], "ACME-NEW"], "Portland")
    view = await click_home(hub, action_id, held if value == "held" else value, user=MEMBER)
    assert f"Sorry <@{MEMBER}>, only hub admins can change things" in text_of(view)
    assert buttons(view) == []
    assert not await models.Job.filter(ats_id="ACME-NEW").exists()
    assert (await models.Delivery.get(id=ids[0])).state == "dead"
    assert await models.HeldChange.filter(state="held").count() == 1
    assert (await models.Account.get(name="acme")).enabled_override is None
    assert [row[2] for row in await audit_rows()] == ["held.close"], "only the sync's own hold"


async def test_a_button_of_an_account_that_is_gone_is_stale(hub: Setup) -> None:
    view = await click_home(hub, "appcast_home_sync", "nobody")
    assert "That button is from an older hub" in text_of(view)
    assert await audit_rows() == []


def test_each_home_button_is_an_appcast_command() -> None:
    """The tab offers nothing the commands (and so the CLI and the admin API) do not."""
    commands = {home.command_for(action_id, "acme", {"acme"}) for action_id in home.COMMANDS}
    names = {command.name for command in commands if command is not None}
    assert names == {"sync", "retry", "enable integration", "disable integration"}
    assert names <= set(USAGE)
    assert names <= {operation.slack for operation in OPERATIONS}
    assert home.command_for("appcast_home_sync", "nobody", {"acme"}) is None


# --- Slack's side: URL check, Socket Mode, limits ----------------------------------------------------


async def test_slacks_url_check_of_the_events_url_is_answered(hub: Setup) -> None:
    body = json.dumps({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"}).encode()  # fmt: skip
    status, answer, _ = await hub.post(body, {**hub.slack.sign(body), "Content-Type": "application/json"})
    assert status == 200
    assert answer == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


@pytest.mark.parametrize(
    "event", [None, "app_home_opened", {"type": "app_home_opened", "user": {"id": ADMIN}, "tab": "home"}]
)
async def test_signed_events_of_shapes_slack_never_sends_are_refused(hub: Setup, event: Any) -> None:
    payload = hub.slack.event_payload(event)
    body = json.dumps(payload).encode()
    status, _, _ = await hub.post(body, {**hub.slack.sign(body), "Content-Type": "application/json"})
    assert status == 400


async def test_home_over_socket_mode(slack: FakeSlack, tmp_path: Path) -> None:
    config = socket_mode_config(slack, tmp_path)
    async with serving_hub(config):
        await slack.wait_socket()
        await slack.send_envelope("events_api", slack.event_payload(slack.home_opened(ADMIN)))
        view = await slack.wait_home(ADMIN)
    assert ("appcast_home_sync", "acme") in button_ids(view)


async def test_a_429_on_views_publish_is_waited_out(hub: Setup) -> None:
    hub.slack.faults.rate_limited = 1
    hub.slack.faults.retry_after = 0
    view = await open_home(hub)
    assert "*acme* — Acme" in text_of(view)
    publishes = [r for r in hub.slack.faults.requests if r == "POST /api/views.publish"]
    assert len(publishes) == 2, "refused once with 429, then published"


async def test_slack_refusing_or_down_is_logged_and_the_hub_carries_on(
    hub: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hub.slack.bolt")
    hub.slack.faults.retry_after = 0
    # Still rate-limited after every retry; then Slack down (a 503 page, no JSON).
    for logged, fault, count in ((1, "rate_limited", RATE_LIMIT_RETRIES + 1), (2, "server_errors", 1)):
        setattr(hub.slack.faults, fault, count)
        body, headers = hub.slack.event_callback(hub.slack.home_opened(ADMIN))
        status, _, _ = await hub.post(body, headers)
        assert status == 200, "the event is answered; publishing comes after"
        await _logged(caplog, "could not publish the Home tab of UADMIN001", count=logged)
    assert "could not publish the Home tab of UADMIN001: rate limited" in caplog.text
    assert "could not publish the Home tab of UADMIN001: HTTP 503" in caplog.text
    assert hub.slack.homes[ADMIN] == []
    assert "*acme* — Acme" in text_of(await open_home(hub)), "the next look publishes it"
    assert [r for r in caplog.records if r.exc_info] == []


async def _logged(caplog: pytest.LogCaptureFixture, text: str, count: int) -> None:
    """Wait until ``text`` was logged ``count`` times (the publishing runs after the event is answered)."""
    for _ in range(400):
        if sum(text in record.getMessage() for record in caplog.records) >= count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{text!r} was not logged {count} time(s)")


def test_the_readme_says_how_many_accounts_the_tab_shows() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"past {home.MAX_ACCOUNTS} accounts (Slack allows 100 blocks" in " ".join(readme.split())
