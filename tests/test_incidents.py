"""Incidents (hub.incidents) through a served hub: each opened once, updated rarely, resolved once, and their
notices delivered by the outbox to the ``notify_webhook`` sink, signed, exactly once, even across its
outage. The sink here is a real aiohttp server on loopback; the failing ATS is the fake Greenhouse.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub import held, models, sdk
from hub.accounts import get_account
from hub.app import create_app
from hub.appkeys import SCHEDULER
from hub.config import bind_plugins, load_config
from hub.health import FeedHealth, last_counts
from hub.incidents import (
    DOWN_SETTLES,
    NOTICE_KEY_PREFIX,
    SIGNATURE_REFUSALS,
    SYNC_FAILURES,
    SignatureWatch,
    after_health_check,
    open_subjects,
    report,
)
from hub.plugins import load_plugins
from hub.scheduler import HubScheduler
from tests.conftest import SAMPLE_JOBS, hub_command, write_config
from tests.peers.greenhouse import CLIENT_ID, CLIENT_SECRET, USER_ID, WEBHOOK_SECRET, FakeGreenhouse

SINK_SECRET = "notice-signing-secret-for-tests"


class FakeReceiver(sdk.FakePeer):
    """Where notices are posted: checks each signature, keeps what it accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.notices: list[dict[str, Any]] = []
        self.keys: list[str] = []
        self.app.router.add_post("/notices", self._receive)

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers["X-Appcast-Hub-Timestamp"]
        expected = sdk.sign(SINK_SECRET, f"{timestamp}.".encode() + body, prefix="sha256=")
        if not hmac.compare_digest(request.headers["X-Appcast-Hub-Signature"], expected):
            return web.json_response({"error": "bad signature"}, status=401)
        assert abs(time.time() - int(timestamp)) < 300
        self.keys.append(request.headers["Idempotency-Key"])
        self.notices.append(json.loads(body))
        return web.json_response({"ok": True})

    def of(self, topic: str) -> list[dict[str, Any]]:
        return [notice for notice in self.notices if notice["topic"] == topic]

    async def wait_for(self, count: int, topic: str, seconds: float = 15.0) -> list[dict[str, Any]]:
        """The notices of ``topic`` once there are ``count`` (and a moment later, to see no more come)."""
        deadline = time.monotonic() + seconds
        while len(self.of(topic)) < count:
            assert time.monotonic() < deadline, f"not {count} {topic} notices: {self.notices}"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        return self.of(topic)


async def _cli_status(config: Path) -> dict[str, Any]:
    """The account's status as ``appcast-hub status --json`` prints it, from its own process."""
    shown = await asyncio.to_thread(
        subprocess.run, hub_command("status", "acme", "--json", "-c", str(config)),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    [account] = json.loads(shown.stdout)["accounts"]
    return account


@dataclass
class Hub:
    scheduler: HubScheduler
    receiver: FakeReceiver
    greenhouse: FakeGreenhouse
    url: str
    appcast: sdk.FakeAppcast


@pytest.fixture
async def hub(database_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    greenhouse, receiver, appcast = FakeGreenhouse(jobs=3), FakeReceiver(), sdk.FakeAppcast()
    async with greenhouse.serving(), receiver.serving(), appcast.serving():
        options = {
            "board": greenhouse.board, "base_url": greenhouse.url, "harvest_url": greenhouse.url,
            "auth_url": greenhouse.url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "user_id": USER_ID, "webhook_secret": WEBHOOK_SECRET,
        }  # fmt: skip
        sink = f'[accounts.acme.notify_webhook]\nurl = "{receiver.url}/notices"\nsecret = "{SINK_SECRET}"\n'
        text = sdk.end_to_end_config(database_url, "greenhouse", options, appcast, extra=sink)
        plugins = load_plugins()
        config = bind_plugins(load_config(write_config(tmp_path, text)), plugins)
        app = create_app(config, plugins)
        async with sdk.running(app) as url:
            yield Hub(app[SCHEDULER], receiver, greenhouse, url, appcast)


async def test_a_sync_that_keeps_failing_is_one_incident_resolved_once(hub: Hub) -> None:
    hub.greenhouse.faults.server_errors = 10_000  # the ATS is down
    for _ in range(SYNC_FAILURES - 1):
        assert (await hub.scheduler.sync("acme")).error
    await asyncio.sleep(0.3)
    assert hub.receiver.of("sync-failing") == [], "a failure or two is no incident"
    for _ in range(5):
        assert (await hub.scheduler.sync("acme")).error
    [opened] = await hub.receiver.wait_for(1, "sync-failing")
    assert (opened["kind"], opened["sequence"]) == ("incident.opened", 0)
    assert opened["text"].startswith(f"{SYNC_FAILURES} syncs in a row failed")
    assert "503" in opened["text"]

    hub.greenhouse.faults.server_errors = 0
    assert (await hub.scheduler.sync("acme")).error is None
    opened, resolved = await hub.receiver.wait_for(2, "sync-failing")
    assert (resolved["kind"], resolved["incident"], resolved["sequence"]) == (
        "incident.resolved", opened["incident"], 1,
    )  # fmt: skip
    assert resolved["text"].startswith("the sync works again")
    assert len(set(hub.receiver.keys)) == len(hub.receiver.keys), "each notice sent once"
    assert (await hub.scheduler.sync("acme")).error is None
    await asyncio.sleep(0.3)
    assert len(hub.receiver.of("sync-failing")) == 2, "resolved once"


async def test_refused_credentials_open_an_incident_at_once_naming_the_option(hub: Hub) -> None:
    hub.greenhouse.faults.unauthorized = 10_000
    result = await hub.scheduler.sync("acme")
    assert result.credentials_refused
    [opened] = await hub.receiver.wait_for(1, "sync-failing")
    assert "refused the hub's credentials" in opened["text"]
    assert "accounts.acme.greenhouse.client_secret" in opened["text"]
    assert CLIENT_SECRET not in json.dumps(opened), "a notice never carries a secret"


async def test_a_storm_of_dead_deliveries_is_one_incident(hub: Hub) -> None:
    # 1,000 deliveries at their last attempt, each refused by Appcast (a 422, no outage: the breaker stays
    # closed), dead-lettered by the outbox while the leader sweeps for incidents.
    account = await get_account(hub.scheduler.config, "acme")
    max_attempts = hub.scheduler.config.events["max_attempts"]
    hub.appcast.statuses.extend([422] * 1000)
    await models.Delivery.bulk_create(
        models.Delivery(
            account_id=account.row.id,
            destination="appcast",
            idempotency_key=f"storm-{n}",
            payload={},
            attempts=max_attempts - 1,
            next_attempt_at=datetime.now(UTC),
        )
        for n in range(1000)
    )
    hub.scheduler.outbox.wake()
    deadline = time.monotonic() + 120
    while await models.Delivery.filter(idempotency_key__startswith="storm-", state="pending").exists():
        assert time.monotonic() < deadline, "the storm was not dead-lettered in time"
        await hub.scheduler.watch_incidents()
        await asyncio.sleep(0.1)
    await hub.scheduler.watch_incidents()
    assert not hub.appcast.statuses, "every delivery was refused over the wire"
    [opened] = await hub.receiver.wait_for(1, "deliveries-dead")  # one notice, however many sweeps saw more
    assert opened["subject"] == "appcast"
    # Opened as the first sweep found them, mid-storm: it says how many had died by then.
    assert re.match(
        r"\d+ deliveries to appcast failed their last attempt \(the last error: .*422", opened["text"]
    )
    assert "appcast-hub deliveries retry dead" in opened["text"]
    assert await models.Incident.filter(topic="deliveries-dead").count() == 1

    await models.Delivery.filter(idempotency_key__startswith="storm-").update(state="delivered")
    await hub.scheduler.watch_incidents()
    _, resolved = await hub.receiver.wait_for(2, "deliveries-dead")
    assert (resolved["kind"], resolved["incident"]) == ("incident.resolved", opened["incident"])


async def test_a_sink_outage_delays_notices_and_loses_none(hub: Hub) -> None:
    hub.receiver.faults.server_errors = 2  # two attempts fail; their backoff is at most 5 s + 10 s
    account = await get_account(hub.scheduler.config, "acme")
    notice = await report(
        account, hub.scheduler.plugins, "deliveries-dead", subject="appcast", title="t", detail="d"
    )
    assert notice is not None
    hub.scheduler.outbox.wake()
    deadline = time.monotonic() + 60
    while not hub.receiver.notices:  # the outbox backs off between attempts
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    [received] = hub.receiver.of("deliveries-dead")
    assert received == notice.as_json()
    assert hub.receiver.keys == [f"{NOTICE_KEY_PREFIX}{notice.incident}:0:notify_webhook"]
    # The same problem reported again while open is no new notice.
    assert await report(account, hub.scheduler.plugins, "deliveries-dead", subject="appcast", title="t",
                        detail="d") is None  # fmt: skip


async def test_feed_health_findings_are_an_incident_until_none_is_left(hub: Hub) -> None:
    assert (await hub.scheduler.sync("acme")).error is None  # the first sync checks the feed's health
    account = await get_account(hub.scheduler.config, "acme")
    found = await last_counts(account.row.id)
    assert found is not None
    assert sum(found.values()), "the fake's jobs have findings (short descriptions)"
    [opened] = await hub.receiver.wait_for(1, "feed-health")
    assert opened["kind"] == "incident.opened"
    assert "appcast-hub feed lint acme" in opened["text"]
    await after_health_check(account, hub.scheduler.plugins, FeedHealth("acme", jobs=3))
    hub.scheduler.outbox.wake()
    _, resolved = await hub.receiver.wait_for(2, "feed-health")
    assert resolved["kind"] == "incident.resolved"


async def test_a_held_mass_close_is_an_incident_until_an_admin_decides(hub: Hub) -> None:
    assert (await hub.scheduler.sync("acme", full=True)).error is None
    for ats_id in sorted(hub.greenhouse.job_ids):
        hub.greenhouse.unpublish(ats_id)
    assert (await hub.scheduler.sync("acme", full=True)).held == 3
    await hub.scheduler.watch_incidents()
    await hub.scheduler.watch_incidents()
    [opened] = await hub.receiver.wait_for(1, "held-close")
    assert opened["text"].startswith("3 of 3 open jobs would close")
    assert "appcast-hub held acme confirm|keep" in opened["text"]
    account = await get_account(hub.scheduler.config, "acme")
    assert await held.keep(account, actor="U-ADMIN", source="slack") == 3
    await hub.scheduler.watch_incidents()
    _, resolved = await hub.receiver.wait_for(2, "held-close")
    assert (resolved["kind"], resolved["incident"]) == ("incident.resolved", opened["incident"])


async def test_a_close_held_anew_between_two_sweeps_is_an_incident_whose_buttons_decide_it(hub: Hub) -> None:
    account = await get_account(hub.scheduler.config, "acme")
    assert (await hub.scheduler.sync("acme", full=True)).error is None
    for ats_id in sorted(hub.greenhouse.job_ids):
        hub.greenhouse.unpublish(ats_id)
    assert (await hub.scheduler.sync("acme", full=True)).held == 3
    first = await held.held_close(account.row.id)
    await hub.scheduler.watch_incidents()
    [opened] = await hub.receiver.wait_for(1, "held-close")
    assert {action["value"] for action in opened["actions"]} == {held.button_value("acme", first.id)}
    # Kept, and held again by the next full sync before the sweep saw it decided.
    assert await held.keep(account, actor="U-ADMIN", source="slack") == 3
    assert (await hub.scheduler.sync("acme", full=True)).held == 3
    second = await held.held_close(account.row.id)
    assert second.id != first.id
    await hub.scheduler.watch_incidents()
    later = {notice["kind"]: notice for notice in (await hub.receiver.wait_for(3, "held-close"))[1:]}
    resolved, reopened = later["incident.resolved"], later["incident.opened"]  # two incidents: either first
    assert resolved["incident"] == opened["incident"]
    assert reopened["incident"] != opened["incident"]
    assert {action["value"] for action in reopened["actions"]} == {held.button_value("acme", second.id)}
    # The first notice's buttons decide nothing now; the second's decide the close held.
    assert await held.confirm(account, actor="U-ADMIN", source="slack", change_id=first.id) is None
    assert await held.confirm(account, actor="U-ADMIN", source="slack", change_id=second.id) == 3


async def test_webhooks_refused_for_their_signature_are_an_incident_until_one_is_accepted(hub: Hub) -> None:
    assert (await hub.scheduler.sync("acme")).error is None
    body = hub.greenhouse.hire(sorted(hub.greenhouse.job_ids)[0])
    async with aiohttp.ClientSession() as http:
        client = sdk.HubClient(hub.url, http)
        for _ in range(SIGNATURE_REFUSALS - 1):
            assert (await client.post_webhook(hub.greenhouse.signed(body, secret="an-old-secret")))[0] == 401
        await hub.scheduler.watch_signatures()
        await asyncio.sleep(0.3)
        assert hub.receiver.of("webhooks-refused") == [], "a few forgeries are no incident"
        assert (await client.post_webhook(hub.greenhouse.signed(body, secret="an-old-secret")))[0] == 401
        await hub.scheduler.watch_signatures()
        await hub.scheduler.watch_signatures()
        [opened] = await hub.receiver.wait_for(1, "webhooks-refused")
        assert f"{SIGNATURE_REFUSALS} webhooks refused for their signature" in opened["text"]
        assert "accounts.acme.greenhouse" in opened["text"]
        assert (await client.post_webhook(hub.greenhouse.signed(body)))[0] == 200
    await hub.scheduler.watch_signatures()
    await asyncio.sleep(0.3)
    assert len(hub.receiver.of("webhooks-refused")) == 1, "not while refusals are still in the window"
    hub.scheduler.signatures = SignatureWatch()  # the window moved on: only the accepted one is recent
    hub.scheduler.signatures.record("acme", accepted=True)
    await hub.scheduler.watch_signatures()
    _, resolved = await hub.receiver.wait_for(2, "webhooks-refused")
    assert resolved["kind"] == "incident.resolved"


async def test_a_replica_seeing_only_forgeries_opens_nothing_while_another_accepts(hub: Hub) -> None:
    assert (await hub.scheduler.sync("acme")).error is None
    body = hub.greenhouse.hire(sorted(hub.greenhouse.job_ids)[0])
    async with aiohttp.ClientSession() as http:
        assert (await sdk.HubClient(hub.url, http).post_webhook(hub.greenhouse.signed(body)))[0] in (200, 202)
    # This replica's memory: a forger's connection held to it, the ATS's webhooks taken by another one.
    hub.scheduler.signatures = SignatureWatch()
    for _ in range(SIGNATURE_REFUSALS * 2):
        hub.scheduler.signatures.record("acme", accepted=False)
    await hub.scheduler.watch_signatures()
    await hub.scheduler.watch_signatures()
    await asyncio.sleep(0.3)
    assert hub.receiver.of("webhooks-refused") == [], "the secret is right: a replica accepted the ATS's"


async def test_a_destination_down_whose_process_is_gone_is_resolved_once_a_delivery_gets_through(
    hub: Hub,
) -> None:
    # Opened by a process whose breaker saw Appcast down, and which stopped before its breaker closed.
    account = await get_account(hub.scheduler.config, "acme")
    opened_at = datetime.now(UTC) - 5 * DOWN_SETTLES
    await report(account, hub.scheduler.plugins, "destination-down", subject="appcast", title="acme: down",
                 detail="appcast keeps failing", now=opened_at)  # fmt: skip
    hub.scheduler.outbox.wake()
    [opened] = await hub.receiver.wait_for(1, "destination-down")

    async def delivered(key: str, at: datetime) -> None:
        await models.Delivery.create(
            account_id=account.row.id, destination="appcast", idempotency_key=key, payload={},
            state="delivered", next_attempt_at=opened_at, delivered_at=at,
        )  # fmt: skip

    # A send that was on its way as the breaker opened landed just after: it says nothing of Appcast now.
    await delivered("on-its-way", opened_at + DOWN_SETTLES / 2)
    await hub.scheduler.watch_incidents()
    assert await open_subjects(account, "destination-down") == ["appcast"]
    await delivered("after-recovery", datetime.now(UTC))
    await hub.scheduler.watch_incidents()
    _, resolved = await hub.receiver.wait_for(2, "destination-down")
    assert (resolved["kind"], resolved["incident"]) == ("incident.resolved", opened["incident"])
    assert await open_subjects(account, "destination-down") == []


async def test_a_destination_found_down_is_an_incident_resolved_when_it_answers(
    database_url: str, tmp_path: Path
) -> None:
    receiver, appcast = FakeReceiver(), sdk.FakeAppcast(validate=False)
    async with receiver.serving(), appcast.serving():
        text = (
            f'[database]\nurl = "{database_url}"\nmigrate_on_start = true\n[sync]\nscheduled = false\n'
            "[events]\npoll_seconds = 0.05\nbackoff_seconds = 0.01\nbackoff_cap_seconds = 0.05\n"
            "breaker_threshold = 2\nbreaker_probe_seconds = 0.3\nbreaker_probe_cap_seconds = 0.6\n"
            f'[accounts.acme]\nadapter = "file"\ncompany = "Acme"\n'
            f'[accounts.acme.file]\npath = "{SAMPLE_JOBS}"\n'
            f'[accounts.acme.appcast]\nclient_id = "c"\nent_id = "e"\nevents_url = "{appcast.events_url}"\n'
            f'[accounts.acme.notify_webhook]\nurl = "{receiver.url}/notices"\nsecret = "{SINK_SECRET}"\n'
        )
        plugins = load_plugins()
        app = create_app(bind_plugins(load_config(write_config(tmp_path, text)), plugins), plugins)
        appcast.faults.server_errors = 10**9
        async with sdk.running(app):
            account = await get_account(app[SCHEDULER].config, "acme")
            await models.Delivery.bulk_create(
                models.Delivery(
                    account_id=account.row.id,
                    destination="appcast",
                    idempotency_key=f"d-{n}",
                    payload={"n": n},
                    next_attempt_at=datetime.now(UTC),
                )
                for n in range(20)
            )
            app[SCHEDULER].outbox.wake()
            [opened] = await receiver.wait_for(1, "destination-down")
            assert (opened["subject"], opened["title"]) == ("appcast", "acme: appcast is unreachable")
            assert "503" in opened["text"]
            # A process without an outbox (the CLI) shows the breaker the open incident stands for.
            shown = await _cli_status(tmp_path / "config.toml")
            assert shown["breakers"] == {"appcast": "open"}
            appcast.faults.server_errors = 0
            _, resolved = await receiver.wait_for(2, "destination-down")
            assert resolved["kind"] == "incident.resolved"
            assert (await _cli_status(tmp_path / "config.toml"))["breakers"] == {}
            assert (
                await models.Delivery.filter(idempotency_key__startswith="d-", state="delivered").count()
                == 20
            )
