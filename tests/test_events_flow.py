"""Events end to end over real sockets: Lever webhooks, the outbox, a fake Appcast, pixels, Apply."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub import models
from hub.testing.appcast import EVENTS_PATH, FakeAppcast
from hub.testing.peers import serving_hub
from plugins.lever import const as lever_const
from tests.conftest import write_config
from tests.peers.lever import STAGES, WEBHOOK_SECRET, FakeLever

ADMIN = {"Authorization": "Bearer admin-token-for-tests"}
APPLY = {"Authorization": "Bearer apply-key-for-tests"}
INTERVIEW_STAGE = STAGES[4]["id"]  # "Phone interview", mapped in the config below
UNMAPPED_STAGE = STAGES[6]["id"]  # "Reference check"


@dataclass
class Setup:
    url: str
    lever: FakeLever
    appcast: FakeAppcast
    http: aiohttp.ClientSession

    async def api(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.request(method, self.url + path, headers=ADMIN, **kwargs) as response:
            return response.status, await response.json()

    async def webhook(self, event: str, data: dict[str, Any], **kwargs: Any) -> tuple[int, Any]:
        signed = self.lever.signed_webhook(event, data, **kwargs)
        return await self.post_webhook(signed.body)

    async def post_webhook(self, body: bytes, account: str = "acme") -> tuple[int, Any]:
        async with self.http.post(
            f"{self.url}/webhooks/{account}", data=body, headers={"Content-Type": "application/json"}
        ) as response:
            return response.status, await response.json()

    async def switched_on_posting(self) -> str:
        posting = sorted(self.lever.postings_asking("plain"))[0]
        status, _ = await self.api("POST", "/api/accounts/acme/jobs/enable", json={"ids": [posting]})
        assert status == 200
        return posting


async def until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.05)


@pytest.fixture
async def setup(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Setup]:
    monkeypatch.setattr(lever_const, "BACKOFF_BASE_SECONDS", 0.001)
    lever, appcast = FakeLever(count=40), FakeAppcast(token="appcast-bearer-for-tests")
    async with lever.serving(), appcast.serving():
        config = write_config(
            tmp_path,
            f"""
[server]
max_body_bytes = 65536
[database]
url = "{database_url}"
migrate_on_start = true
[admin]
api_token = "admin-token-for-tests"
[sync]
scheduled = false
[events]
max_attempts = 3
backoff_seconds = 0.05
backoff_cap_seconds = 0.2
poll_seconds = 0.1
[pixels]
spool_dir = "{tmp_path / "spool"}"
flush_seconds = 0.1
[accounts.acme]
adapter = "lever"
company = "Acme"
feed_policy = "opted-in"
apply_key = "apply-key-for-tests"
[accounts.acme.stages]
"{INTERVIEW_STAGE}" = "interview"
[accounts.acme.lever]
site = "{lever.site}"
api_key = "{lever.api_key}"
base_url = "{lever.url}"
webhook_tokens = ["{WEBHOOK_SECRET}"]
rate_per_second = 1000.0
[accounts.acme.appcast]
client_id = "client-42"
ent_id = "ent-7"
events_url = "{appcast.events_url}"
bearer_token = "appcast-bearer-for-tests"
funnel_events = ["hired", "interview"]
pixel_slug = "acme"
pixel_id = "1234"
""",
        )
        async with serving_hub(config) as url, aiohttp.ClientSession() as http:
            hub = Setup(url, lever, appcast, http)
            status, _ = await hub.api("POST", "/api/accounts/acme/sync")
            assert status == 200
            yield hub


async def test_a_hire_reaches_appcast_exactly_once(setup: Setup) -> None:
    posting = await setup.switched_on_posting()
    opportunity = setup.lever.hire(posting=posting, email="Grace@Example.com", source="Appcast")
    data = {"opportunityId": opportunity, "candidateId": opportunity, "contactId": "c-1"}
    signed = setup.lever.signed_webhook("candidateHired", data)
    assert await setup.post_webhook(signed.body) == (202, {"status": "stored"})
    assert await setup.post_webhook(signed.body) == (200, {"status": "already seen"})
    # The same signed token and time with other data: a replay, refused (the signature covers only those).
    replayed = json.loads(signed.body) | {"data": {**data, "opportunityId": "someone-else"}}
    status, answer = await setup.post_webhook(json.dumps(replayed).encode())
    assert (status, answer["error"]) == (
        401,
        "webhook refused: this delivery identity was already used for another body",
    )

    [received] = await setup.appcast.wait_for_events(1)
    assert received.body == {
        "event": "hired",
        "client_id": "client-42",
        "ent_id": "ent-7",
        "job_reference": posting,
        "application_id": opportunity,
        "candidate_hash": hashlib.sha256(b"grace@example.com").hexdigest(),
        "source": "Appcast",
        "stage": None,
        "occurred_at": received.body["occurred_at"],
    }
    assert received.authorization == "Bearer appcast-bearer-for-tests"
    assert "grace" not in json.dumps(received.body).lower()
    # The same hire found again by reconciliation is not stored nor sent twice (its application, which
    # no webhook reported, is stored now: Appcast is not sent "applied" in this config).
    status, result = await setup.api("POST", "/api/accounts/acme/reconcile")
    assert (status, result["stored"], result["deliveries"]) == (200, 1, 0)
    await asyncio.sleep(0.3)
    assert len(setup.appcast.received) == 1
    assert await models.Event.filter(kind="hired").count() == 1


async def test_reconciliation_recovers_a_hire_whose_webhook_never_came(setup: Setup) -> None:
    posting = await setup.switched_on_posting()
    setup.lever.hire(posting=posting, email="late@example.com")
    status, result = await setup.api("POST", "/api/accounts/acme/reconcile")
    assert (status, result["stored"], result["deliveries"]) == (200, 2, 1)  # its application, and the hire
    [received] = await setup.appcast.wait_for_events(1)
    assert received.body["job_reference"] == posting


async def test_events_for_jobs_not_switched_on_are_stored_but_not_sent(setup: Setup) -> None:
    posting = sorted(setup.lever.postings_asking("plain"))[1]  # never switched on
    opportunity = setup.lever.hire(posting=posting)
    status, _ = await setup.webhook("candidateHired", {"opportunityId": opportunity})
    assert status == 202
    await until(lambda: models.Event.filter(kind="hired").exists())
    assert await models.Delivery.all().count() == 0


async def test_stage_changes_follow_the_mapping_and_unmapped_stages_show(setup: Setup) -> None:
    posting = await setup.switched_on_posting()
    opportunity = setup.lever.add_opportunity(posting=posting)
    data = {"opportunityId": opportunity, "postingId": posting, "fromStageId": "applicant-new"}
    for stage in (INTERVIEW_STAGE, UNMAPPED_STAGE):
        moved_at = setup.lever.move(opportunity, stage)  # Lever records it, then sends the webhook
        status, _ = await setup.webhook(
            "candidateStageChange", {**data, "toStageId": stage}, triggered_at=moved_at
        )
        assert status == 202
    [received] = await setup.appcast.wait_for_events(1)
    assert received.body["event"] == "interview"
    assert received.body["stage"]["id"] == INTERVIEW_STAGE

    async def both_stored() -> bool:
        return await models.Event.filter(kind="stage_changed").count() == 2

    await until(both_stored)

    status, body = await setup.api("GET", "/api/accounts/acme/stages")
    assert status == 200
    stages = {s["id"]: s for s in body["stages"]}
    assert (stages[INTERVIEW_STAGE]["funnel_event"], stages[INTERVIEW_STAGE]["origin"]) == (
        "interview",
        "config",
    )
    assert (stages[UNMAPPED_STAGE]["origin"], stages[UNMAPPED_STAGE]["unmapped_events"]) == ("unmapped", 1)

    status, _ = await setup.api(
        "PUT", f"/api/accounts/acme/stages/{UNMAPPED_STAGE}", json={"funnel_event": "offer"}
    )
    assert status == 200
    audit = await models.AuditEntry.filter(action="stage.map").values_list("actor", "target", "after")
    assert audit == [("api", UNMAPPED_STAGE, {"funnel_event": "offer"})]
    status, body = await setup.api(
        "PUT", f"/api/accounts/acme/stages/{UNMAPPED_STAGE}", json={"funnel_event": "x"}
    )
    assert status == 400


@pytest.mark.parametrize(
    ("body", "account", "status", "message"),
    [
        (None, "acme", 401, "webhook refused"),  # signed with another token
        (b"{not json", "acme", 400, "malformed webhook"),
        (b"[]", "acme", 400, "malformed webhook"),
        (b'{"event": "candidateHired"}', "acme", 401, "webhook refused"),
        (b"\xff\xfe\x00", "acme", 400, "malformed webhook"),
        (b"x" * 70_000, "acme", 413, "request body too large"),
        (b"{}", "nobody", 404, "no account named 'nobody'"),
        (b"{}", "..%2F..%2Fetc", 404, "no account named"),
    ],
)
async def test_bad_webhooks_are_refused_and_nothing_is_stored(
    setup: Setup, body: bytes | None, account: str, status: int, message: str
) -> None:
    if body is None:
        body = setup.lever.signed_webhook("candidateHired", secret="some-other-webhook-token").body
    got, answer = await setup.post_webhook(body, account)
    assert got == status
    assert message in answer["error"]
    assert await models.WebhookReceipt.all().count() == 0


async def test_stale_webhooks_are_refused(setup: Setup) -> None:
    stale = int((time.time() - 3600) * 1000)
    status, answer = await setup.webhook("candidateHired", {"opportunityId": "o"}, triggered_at=stale)
    assert status == 401
    assert "webhook refused" in answer["error"]


async def test_failing_appcast_dead_letters_then_replay_delivers_once(setup: Setup) -> None:
    posting = await setup.switched_on_posting()
    opportunity = setup.lever.hire(posting=posting)
    setup.appcast.faults.server_errors = 1000
    assert (await setup.webhook("candidateHired", {"opportunityId": opportunity}))[0] == 202

    async def dead() -> bool:
        return await models.Delivery.filter(state="dead").exists()

    await until(dead)
    status, listing = await setup.api("GET", "/api/deliveries?state=dead")
    assert (status, listing["total"]) == (200, 1)
    [row] = listing["deliveries"]
    assert (row["attempts"], row["event"], row["account"]) == (3, "hired", "acme")
    assert "503" in row["last_error"]
    assert setup.appcast.received == []

    setup.appcast.faults.server_errors = 0
    status, replayed = await setup.api("POST", "/api/deliveries/dead/retry")
    assert (status, replayed["replayed"]) == (200, [row["id"]])
    [received] = await setup.appcast.wait_for_events(1)

    async def delivered() -> bool:  # Appcast has it; the worker records that a moment later
        return (await models.Delivery.get(id=row["id"])).state == "delivered"

    await until(delivered)
    delivery = await models.Delivery.get(id=row["id"])
    assert received.key == delivery.idempotency_key
    assert setup.appcast.duplicates == 0
    status, _ = await setup.api("POST", "/api/deliveries/99999/retry")
    assert status == 404


async def test_a_delivery_waits_as_long_as_appcast_asks(setup: Setup) -> None:
    # The outbox's own backoff here is at most 0.2 s; Appcast's Retry-After must win over it.
    posting = await setup.switched_on_posting()
    setup.appcast.faults.rate_limited, setup.appcast.faults.retry_after = 1, 600
    opportunity = setup.lever.hire(posting=posting)
    assert (await setup.webhook("candidateHired", {"opportunityId": opportunity}))[0] == 202

    async def failed_once() -> bool:
        return await models.Delivery.filter(attempts=1, last_error__contains="429").exists()

    await until(failed_once)
    await asyncio.sleep(0.5)  # several of the outbox's own backoffs and polls
    delivery = await models.Delivery.get()
    assert delivery.attempts == 1
    assert delivery.next_attempt_at >= datetime.now(UTC) + timedelta(seconds=590)
    assert setup.appcast.faults.requests == [f"POST {EVENTS_PATH}"]


async def test_a_webhook_waits_as_long_as_the_ats_asks(setup: Setup) -> None:
    # Parsing a hire reads the opportunity from Lever, which answers 429 and asks for two minutes:
    # more than a call waits for, so the stored webhook is tried again no sooner than that.
    posting = await setup.switched_on_posting()
    opportunity = setup.lever.hire(posting=posting)
    setup.lever.faults.rate_limited, setup.lever.faults.retry_after = 1, 120
    assert (await setup.webhook("candidateHired", {"opportunityId": opportunity}))[0] == 202

    async def failed_once() -> bool:
        return await models.WebhookReceipt.filter(attempts=1, last_error__contains="429").exists()

    await until(failed_once)
    receipt = await models.WebhookReceipt.get()
    assert receipt.state == "pending"
    assert receipt.next_attempt_at >= datetime.now(UTC) + timedelta(seconds=110)
    assert await models.Delivery.all().count() == 0


async def test_an_apply_lever_keeps_rate_limiting_is_answered_503_and_can_be_retried(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lever_const, "ATTEMPTS", 2)
    posting = sorted(setup.lever.postings_asking("plain"))[0]
    application = {"name": "Ada Lovelace", "email": "ada@example.com"}
    headers = {**APPLY, "Idempotency-Key": "apply-busy"}
    setup.lever.apply_limit_per_second = 0  # another client used up Lever's allowance
    async with setup.http.post(
        f"{setup.url}/apply/acme/{posting}", json=application, headers=headers
    ) as answer:
        assert answer.status == 503
        assert answer.headers["Retry-After"] == "1"  # Lever's, passed on
        assert "nothing was created" in (await answer.json())["error"]
    setup.lever.apply_limit_per_second = 2
    async with setup.http.post(
        f"{setup.url}/apply/acme/{posting}", json=application, headers=headers
    ) as answer:
        assert answer.status == 201
    assert len(setup.lever.applications) == 1


async def test_pixels_are_counted_and_the_snippet_is_safe(setup: Setup) -> None:
    posting = await setup.switched_on_posting()
    for kind, times in (("view", 5), ("apply", 2)):
        for _ in range(times):
            async with setup.http.get(f"{setup.url}/px/acme/{kind}.gif?job={posting}") as response:
                assert response.status == 200
                assert response.headers["Content-Type"] == "image/gif"
                assert response.headers["Cache-Control"].startswith("no-store")
                assert len(await response.read()) == 43
    for path, reason in (
        ("/px/nobody/view.gif?job=1", "unknown account"),
        ("/px/acme/view.gif", "missing or invalid job id"),
    ):
        async with setup.http.get(setup.url + path) as response:
            assert (response.status, response.headers["X-Pixel-Ignored"]) == (200, reason)
    async with setup.http.get(f"{setup.url}/px/acme/click.gif?job=1") as response:
        assert response.status == 404

    async def counted() -> bool:
        return (await setup.api("GET", f"/api/accounts/acme/stats?job={posting}"))[1]["views"] == 5

    await until(counted)
    _, stats = await setup.api("GET", f"/api/accounts/acme/stats?job={posting}")
    assert stats == {"job": posting, "views": 5, "applies": 2, "conversion": 0.4, "hires": 0}

    hostile = '"><script>alert(1)</script>'
    async with setup.http.get(
        f"{setup.url}/pixels/acme/snippet", params={"page": "confirmation", "job": hostile, "spa": "1"}
    ) as response:
        assert response.status == 200
        html = await response.text()
    assert "https://click.appcast.io/pixels/acme-1234.js?ent=ent-7" in html
    assert "/px/acme/apply.gif?job=%22%3E%3Cscript%3E" in html
    assert "<script>alert(1)" not in html
    async with setup.http.get(f"{setup.url}/pixels/acme/snippet?page=home") as response:
        assert response.status == 400


async def test_appcast_apply(setup: Setup) -> None:
    posting = sorted(setup.lever.postings_asking("plain"))[0]
    application = {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+1 555 0100"}
    url = f"{setup.url}/apply/acme/{posting}"
    headers = {**APPLY, "Idempotency-Key": "apply-1"}
    async with setup.http.post(url, json=application, headers=headers) as response:
        assert response.status == 201
        first = await response.json()
    async with setup.http.post(url, json=application, headers=headers) as response:
        assert response.status == 201
        assert response.headers["Idempotent-Replayed"] == "true"
        assert await response.json() == first
    assert len(setup.lever.applications) == 1
    assert setup.lever.applications[0]["source"] == "Appcast"

    refused = sorted(setup.lever.postings_asking("university"))[0]
    cases = [
        (url, APPLY, {"name": "Ada"}, 422, "'email' is required"),
        (url, APPLY, {"email": "a@example.com"}, 422, "'name' is required"),
        (url, APPLY, {"name": "Ada", "email": "nope"}, 422, "not an e-mail address"),
        (url, {"Authorization": "Bearer wrong"}, application, 401, "missing or wrong apply key"),
        (url, {}, application, 401, "missing or wrong apply key"),
        (f"{setup.url}/apply/acme/no-such-job", APPLY, application, 404, "no job 'no-such-job'"),
        (f"{setup.url}/apply/acme/{refused}", APPLY, application, 422, "University Picker"),
    ]
    for target, auth, body, status, message in cases:
        async with setup.http.post(target, json=body, headers=auth) as response:
            assert response.status == status, (body, await response.text())
            assert message in (await response.json())["error"]
    async with setup.http.post(url, data=b"{oops", headers=APPLY) as response:
        assert response.status == 400
    assert len(setup.lever.applications) == 1


async def test_the_story_of_a_candidate_from_application_to_hire(setup: Setup) -> None:
    """Applies, moves through a mapped and an unmapped stage, is hired: Appcast hears each mapped step."""
    posting = await setup.switched_on_posting()
    opportunity = setup.lever.add_opportunity(posting=posting, email="story@example.com", source="Appcast")
    setup.appcast.faults.server_errors = 3  # the first attempts fail: retried with the same keys
    base = {"opportunityId": opportunity, "candidateId": opportunity, "postingId": posting}
    application = setup.lever.opportunity(opportunity)["applications"][0]
    assert (await setup.webhook("applicationCreated", {**base, "applicationId": application}))[0] == 202
    for before, stage in (("applicant-new", INTERVIEW_STAGE), (INTERVIEW_STAGE, UNMAPPED_STAGE)):
        moved_at = setup.lever.move(opportunity, stage)
        data = {**base, "fromStageId": before, "toStageId": stage}
        assert (await setup.webhook("candidateStageChange", data, triggered_at=moved_at))[0] == 202
    setup.lever.hire(opportunity)
    assert (await setup.webhook("candidateHired", base))[0] == 202

    received = await setup.appcast.wait_for_events(2)
    await asyncio.sleep(0.5)  # long enough for a stray duplicate or an unmapped event to show up
    # Retries may reorder deliveries; each is sent, once.
    assert sorted(e.body["event"] for e in setup.appcast.events) == ["hired", "interview"]
    assert all(e.body["job_reference"] == posting for e in received)
    assert all(e.body["application_id"] == opportunity for e in received)
    assert len({e.key for e in setup.appcast.received}) == 2
    assert await models.Event.all().count() == 4  # every step is stored, mapped or not
    delivered = await models.Delivery.filter(state="delivered").values_list("attempts", flat=True)
    assert sorted(delivered)[-1] > 1, "the failing first attempts were retried"
