"""The ``smartrecruiters`` adapter against a fake SmartRecruiters on a real socket: the whole contract kit,
what its hooks promise beyond it, and a hub running it end to end (sync → feed → signed webhook →
Appcast).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub import sdk
from hub.sdk import AdapterContract, AdapterUnderTest, ApplicationSample, HireSample
from plugins.smartrecruiters import plugin
from tests.conftest import write_config
from tests.peers.smartrecruiters import (
    API_KEY,
    OLD_WEBHOOK_SECRET,
    WEBHOOK_SECRET,
    FakeSmartRecruiters,
    handshake,
    job_id,
    sample,
    signed,
)

PAGE_SIZE = 3  # the fake's 8 jobs take 3 pages
APPLICANT = sdk.Application(name="Ada Lovelace", email="ada@example.com", phone="+1 503 555 0100")
SOURCE = {"source_type_id": "JOB_BOARD", "source_id": "appcast"}


def sample_job(ats_id: str) -> sdk.Job:
    """The hub's copy of a job, as ``create_application`` receives it (only the id matters)."""
    return sdk.Job(ats_id=ats_id, title=f"Job {ats_id}", posted_at=datetime(2026, 1, 1, tzinfo=UTC))


def options_with(**changes: Any) -> dict[str, Any]:
    """Every option with its default, as ``check_options`` receives them, with ``changes``."""
    info = plugin.appcast_hub_plugin_info()
    return {option.name: option.default for option in info.options} | {"api_key": API_KEY} | changes


class SmartRecruitersContract(AdapterContract):
    """Every fixture of the kit, from a fresh fake SmartRecruiters."""

    @pytest.fixture
    async def fake(self) -> AsyncIterator[FakeSmartRecruiters]:
        ats = FakeSmartRecruiters()
        async with ats.serving():
            yield ats

    @pytest.fixture
    def contract_options(self, fake: FakeSmartRecruiters) -> dict[str, Any]:
        return {"base_url": fake.url, "api_key": API_KEY, "page_size": PAGE_SIZE,
                "webhook_secrets": [WEBHOOK_SECRET], **SOURCE}  # fmt: skip

    @pytest.fixture
    def contract_expected_ids(self, fake: FakeSmartRecruiters) -> set[str]:
        return fake.job_ids()

    @pytest.fixture
    def contract_min_pages(self) -> int:
        return 3

    @pytest.fixture
    def contract_changed_since(self, fake: FakeSmartRecruiters) -> Callable[[], Any]:
        def change() -> tuple[datetime, str]:
            since = datetime.now(UTC) - timedelta(seconds=1)
            fake.change_job(job_id(2), title="Senior Engineer 2")
            return since, job_id(2)

        return change

    @pytest.fixture
    def contract_signed_webhooks(self, fake: FakeSmartRecruiters) -> list[sdk.WebhookRequest]:
        moved = fake.add_candidate(job_id(4))
        return [fake.hire(job_id(1)), fake.applied(job_id(3)), fake.set_status(moved, job_id(4), "INTERVIEW")]

    @pytest.fixture
    def contract_hire(self, fake: FakeSmartRecruiters) -> HireSample:
        since = datetime.now(UTC) - timedelta(seconds=5)
        return HireSample(fake.hire(job_id(5)), since, job_id(5))

    @pytest.fixture
    def contract_application(self, fake: FakeSmartRecruiters) -> ApplicationSample:
        return ApplicationSample(sample_job(job_id(3)), APPLICANT, fake.created_ids)

    @pytest.fixture
    def contract_refused_application(self, fake: FakeSmartRecruiters) -> ApplicationSample:
        """Job 0 is filled: SmartRecruiters answers 400."""
        return ApplicationSample(sample_job(job_id(0)), APPLICANT, fake.created_ids)

    @pytest.fixture
    def contract_unfillable_application(self, fake: FakeSmartRecruiters) -> ApplicationSample:
        """Answers to screening questions, which the Candidate API cannot take."""
        answered = dataclasses.replace(APPLICANT, answers={"q-visa": "No"})
        return ApplicationSample(sample_job(job_id(3)), answered, fake.created_ids)

    @pytest.fixture
    def contract_unconfirmed_application(self, fake: FakeSmartRecruiters) -> ApplicationSample:
        """SmartRecruiters creates the candidate but answers without its id."""
        fake.unnamed = True
        return ApplicationSample(sample_job(job_id(3)), APPLICANT, fake.created_ids)


class TestSmartRecruiters(SmartRecruitersContract):
    @pytest.fixture
    def contract_plugin(self) -> tuple[str, Any]:
        return "smartrecruiters", plugin

    # --- jobs ---------------------------------------------------------------------------------------

    async def test_every_job_field_is_mapped(self, adapter: AdapterUnderTest) -> None:
        jobs = {job.ats_id: job for page in await adapter.fetch_pages() for job in page.jobs}
        job = jobs[job_id(3)]
        assert job == sdk.Job(
            ats_id=job_id(3),
            title="Engineer 3",
            posted_at=datetime(2026, 1, 4, 9, tzinfo=UTC),
            updated_at=datetime(2026, 1, 4, 9, tzinfo=UTC),
            is_open=True,
            description_html=(
                "<h3>Company Description</h3><p>Acme builds data tools.</p>"
                "<h3>Job Description</h3><p>You will build our pipelines &amp; models.</p>"
                "<h3>Qualifications</h3><ul><li>Python</li></ul>"
                "<h3>Additional Information</h3><p>Hybrid, two days a week in the office.</p>"
            ),
            requisition_id="REF-3",
            city="Portland",
            region="Oregon",
            country="US",
            postal_code="97201",
            workplace="hybrid",
            department="Engineering",
            employment_type="full-time",
            salary_text="USD 140000-175000",
            hosted_url="https://jobs.smartrecruiters.com/Acme/3en-engineer-3",
            apply_url="https://jobs.smartrecruiters.com/Acme/3en-engineer-3",
        )
        assert not jobs[job_id(0)].is_open, "a filled job is closed"
        assert not jobs[job_id(1)].is_open, "a job with no public job ad is closed"
        assert jobs[job_id(1)].apply_url == "https://jobs.smartrecruiters.com/Acme/1en-engineer-1"
        assert jobs[job_id(2)].workplace == "remote"

    async def test_an_incremental_fetch_asks_for_jobs_updated_after_the_time(
        self, adapter: AdapterUnderTest, fake: FakeSmartRecruiters
    ) -> None:
        since = datetime(2026, 1, 6, 9, 30, tzinfo=UTC)
        pages = await adapter.fetch_pages(since)
        assert {job.ats_id for page in pages for job in page.jobs} == {job_id(6), job_id(7)}
        assert not any(page.snapshot for page in pages)
        assert any("updatedAfter=2026-01-06T09:30:00.000Z" in seen for seen in fake.faults.requests), (
            fake.faults.requests
        )

    async def test_open_statuses_are_an_option(self, adapter: AdapterUnderTest) -> None:
        adapter.account.plugin_options["smartrecruiters"]["open_statuses"] = ["FILLED"]
        jobs = {job.ats_id: job for page in await adapter.fetch_pages() for job in page.jobs}
        assert {ats_id for ats_id, job in jobs.items() if job.is_open} == {job_id(0)}

    async def test_a_job_that_cannot_be_mapped_fails_the_sync(
        self, adapter: AdapterUnderTest, fake: FakeSmartRecruiters
    ) -> None:
        fake.jobs[job_id(4)]["createdOn"] = "2026-01-05T09:00:00"
        with pytest.raises(sdk.AdapterUnavailable, match="createdOn"):
            await adapter.fetch_pages()

    async def test_a_cursor_that_does_not_move_fails_the_fetch(
        self, adapter: AdapterUnderTest, fake: FakeSmartRecruiters
    ) -> None:
        fake.stuck = True
        with pytest.raises(sdk.AdapterUnavailable, match="page cursor it had sent before"):
            await adapter.fetch_pages()

    async def test_a_wrong_api_key_is_an_auth_error(self, adapter: AdapterUnderTest) -> None:
        adapter.account.plugin_options["smartrecruiters"]["api_key"] = "not-the-key"
        with pytest.raises(sdk.AdapterAuthError):
            await adapter.fetch_pages()

    async def test_a_429_is_waited_out_and_one_that_lasts_gives_its_retry_after(
        self, adapter: AdapterUnderTest, fake: FakeSmartRecruiters
    ) -> None:
        fake.faults.rate_limited, fake.faults.retry_after = 1, 0.01
        assert await adapter.fetch_pages()
        fake.faults.rate_limited, fake.faults.retry_after = 10, 0.01
        with pytest.raises(sdk.AdapterUnavailable) as raised:
            await adapter.fetch_pages()
        assert raised.value.retry_after == pytest.approx(0.01, abs=0.5)
        assert raised.value.status == 429

    # --- stages -------------------------------------------------------------------------------------

    async def test_stages_are_the_candidate_statuses_with_their_funnel_events(
        self, adapter: AdapterUnderTest
    ) -> None:
        stages = await adapter.call("appcast_hub_list_stages", http=adapter.http)
        assert {stage.id: stage.suggested_funnel_event for stage in stages} == {
            "LEAD": None, "NEW": "applied", "IN_REVIEW": "screen", "INTERVIEW": "interview",
            "OFFERED": "offer", "HIRED": "hired", "REJECTED": None, "WITHDRAWN": None, "TRANSFERRED": None,
        }  # fmt: skip
        assert {stage.name for stage in stages} >= {"In Review", "Offered"}

    # --- webhooks -----------------------------------------------------------------------------------

    async def test_a_hire_webhook_is_one_hire_read_back_from_the_api(
        self, adapter: AdapterUnderTest, fake: FakeSmartRecruiters
    ) -> None:
        request = fake.hire(job_id(2), email="Ada@Example.com", event_id="evt-1", timestamp=1772463845)
        request = dataclasses.replace(request, received_at=datetime.fromtimestamp(1772463845, UTC))
        candidate_id = request.json_object()["candidate_id"]
        assert await adapter.verify(request) == "evt-1"
        assert await adapter.parse(request) == [
            sdk.Event(
                kind="hired",
                dedupe_key=f"hired:{job_id(2)}:{candidate_id}",
                occurred_at=datetime.fromtimestamp(1772463845, UTC),
                ats_job_id=job_id(2),
                ats_application_id=f"{job_id(2)}:{candidate_id}",
                ats_candidate_id=candidate_id,
                candidate_hash=sdk.candidate_hash("ada@example.com"),
                # The application's source is the one Appcast Apply candidates are created with.
                source="Appcast",
                ats_event="application.status.updated",
            )
        ]

    async def test_a_status_change_is_what_the_api_says_now(
        self, adapter: AdapterUnderTest, fake: FakeSmartRecruiters
    ) -> None:
        candidate_id = fake.add_candidate(job_id(3))
        (moved,) = await adapter.parse(fake.set_status(candidate_id, job_id(3), "INTERVIEW"))
        assert (moved.kind, moved.to_stage_id, moved.stage_name, moved.suggested_funnel_event) == (
            "stage_changed", "INTERVIEW", "Interview", "interview",
        )  # fmt: skip
        stale = fake.set_status(candidate_id, job_id(3), "OFFERED")
        fake.applications[candidate_id, job_id(3)]["status"] = "REJECTED"
        (rejected,) = await adapter.parse(stale)
        assert (rejected.to_stage_id, rejected.suggested_funnel_event) == ("REJECTED", None)
        assert moved.dedupe_key != rejected.dedupe_key

    async def test_quick_status_changes_record_the_status_they_read_once(
        self, adapter: AdapterUnderTest, fake: FakeSmartRecruiters
    ) -> None:
        # NEW → IN_REVIEW → INTERVIEW before the inbox parses any: each webhook reads INTERVIEW now.
        candidate_id = fake.add_candidate(job_id(3))
        webhooks = [fake.set_status(candidate_id, job_id(3), status) for status in ("IN_REVIEW", "INTERVIEW")]
        assert len({webhook.headers["event-id"] for webhook in webhooks}) == 2
        events = [event for webhook in webhooks for event in await adapter.parse(webhook)]
        assert {event.dedupe_key for event in events} == {f"stage:{job_id(3)}:{candidate_id}:INTERVIEW"}
        # A later move is a new status, and so a new event.
        (offered,) = await adapter.parse(fake.set_status(candidate_id, job_id(3), "OFFERED"))
        assert offered.dedupe_key == f"stage:{job_id(3)}:{candidate_id}:OFFERED"

    @pytest.mark.parametrize(
        ("source", "named"),
        [
            ({"sourceTypeId": "JOB_BOARD", "sourceSubTypeId": None, "sourceId": "appcast"}, "Appcast"),
            ({"sourceTypeId": "JOB_BOARD", "sourceSubTypeId": None, "sourceId": "linkedin"}, "linkedin"),
            ({"sourceTypeId": "API"}, "API"),
            (None, None),
        ],
    )
    async def test_events_carry_the_applications_source(
        self, adapter: AdapterUnderTest, fake: FakeSmartRecruiters, source: Any, named: str | None
    ) -> None:
        candidate_id = fake.add_candidate(job_id(3), source=source)
        if source is None:
            del fake.applications[candidate_id, job_id(3)]["source"]
        applied = signed("application.created", {"job_id": job_id(3), "candidate_id": candidate_id})
        for webhook in (applied, fake.set_status(candidate_id, job_id(3), "INTERVIEW")):
            assert [event.source for event in await adapter.parse(webhook)] == [named]

    async def test_only_the_configured_source_id_is_called_appcast(
        self, adapter: AdapterUnderTest, fake: FakeSmartRecruiters
    ) -> None:
        # A source type alone (every job board) does not say the candidate came from Appcast.
        options = adapter.account.plugin_options["smartrecruiters"]
        options["source_id"] = None
        (event,) = await adapter.parse(fake.hire(job_id(2)))
        assert event.source == "appcast"

    async def test_an_application_webhook_is_an_application(
        self, adapter: AdapterUnderTest, fake: FakeSmartRecruiters
    ) -> None:
        request = fake.applied(job_id(3))
        (event,) = await adapter.parse(request)
        candidate_id = request.json_object()["candidate_id"]
        assert (event.kind, event.dedupe_key, event.ats_application_id) == (
            "application_created", f"application:{job_id(3)}:{candidate_id}", f"{job_id(3)}:{candidate_id}",
        )  # fmt: skip

    async def test_a_webhook_for_an_application_the_api_does_not_have_is_unconfirmed(
        self, adapter: AdapterUnderTest
    ) -> None:
        claim = signed("application.status.updated", {"job_id": job_id(2), "candidate_id": "c-nobody"})
        assert await adapter.verify(claim)
        with pytest.raises(sdk.WebhookUnconfirmed, match="no application"):
            await adapter.parse(claim)

    async def test_unknown_webhook_types_and_the_handshake_are_accepted_and_ignored(
        self, adapter: AdapterUnderTest
    ) -> None:
        job_created = signed("job.created", {"id": job_id(2)})
        assert await adapter.verify(job_created)
        assert await adapter.parse(job_created) == []
        with pytest.raises(sdk.WebhookHandshake) as answered:
            await adapter.verify(handshake())
        assert (answered.value.status, answered.value.headers) == (
            200,
            {"X-Hook-Secret": "hook-secret-from-activation"},
        )

    async def test_a_signed_webhook_without_ids_is_malformed(self, adapter: AdapterUnderTest) -> None:
        with pytest.raises(sdk.WebhookMalformed, match="job_id"):
            await adapter.parse(signed("application.created", {"id": "x"}))

    async def test_forged_stale_and_altered_webhooks_are_refused(
        self, adapter: AdapterUnderTest, fake: FakeSmartRecruiters
    ) -> None:
        with pytest.raises(sdk.WebhookRejected, match="smartrecruiters-signature"):
            await adapter.verify(fake.hire(job_id(2), secrets=("not-the-secret",)))
        stale = int((datetime.now(UTC) - timedelta(minutes=10)).timestamp())
        with pytest.raises(sdk.WebhookRejected, match="webhook_max_age_seconds"):
            await adapter.verify(fake.hire(job_id(2), timestamp=stale))
        genuine = fake.hire(job_id(2))
        # The event headers are signed: a replay under another event id or name is refused.
        for header, value in (("event-id", "evt-other"), ("event-name", "application.created")):
            altered = dataclasses.replace(genuine, headers={**genuine.headers, header: value})
            with pytest.raises(sdk.WebhookRejected):
                await adapter.verify(altered)
        unsigned = dataclasses.replace(genuine, headers={**genuine.headers, "X-Hook-Secret": "x"})
        del unsigned.headers["smartrecruiters-signature"]
        # A real hire's body posted unsigned as a "handshake": answered as one, never stored or acted on.
        with pytest.raises(sdk.WebhookHandshake):
            await adapter.verify(unsigned)
        assert await adapter.parse(unsigned) == [], "nothing unsigned is acted on"
        adapter.account.plugin_options["smartrecruiters"]["webhook_secrets"] = []
        with pytest.raises(sdk.WebhookRejected, match="no webhook_secrets"):
            await adapter.verify(genuine)

    async def test_every_active_secret_key_is_accepted(
        self, adapter: AdapterUnderTest, fake: FakeSmartRecruiters
    ) -> None:
        # While a new key replaces an old one, SmartRecruiters signs with both.
        assert await adapter.verify(fake.hire(job_id(2), secrets=(OLD_WEBHOOK_SECRET, WEBHOOK_SECRET)))
        with pytest.raises(sdk.WebhookRejected):
            await adapter.verify(fake.hire(job_id(2), secrets=(OLD_WEBHOOK_SECRET,)))
        adapter.account.plugin_options["smartrecruiters"]["webhook_secrets"] = [
            WEBHOOK_SECRET,
            OLD_WEBHOOK_SECRET,
        ]
        assert await adapter.verify(fake.hire(job_id(2), secrets=(OLD_WEBHOOK_SECRET,)))

    async def test_a_signature_header_costs_one_hmac_per_secret_and_a_long_one_is_refused(
        self, adapter: AdapterUnderTest, fake: FakeSmartRecruiters, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        adapter.account.plugin_options["smartrecruiters"]["webhook_secrets"] = [
            OLD_WEBHOOK_SECRET,
            WEBHOOK_SECRET,
        ]
        genuine = fake.hire(job_id(2))
        real = genuine.headers["smartrecruiters-signature"]

        def with_header(value: str) -> sdk.WebhookRequest:
            headers = {**genuine.headers, "smartrecruiters-signature": value}
            return dataclasses.replace(genuine, headers=headers)

        at_cap, over_cap = with_header(";".join(["v1=" + "0" * 64] * 7 + [real])), with_header("v1=;" * 2000)
        made: list[bytes] = []
        new = hmac.new

        def counted(key: bytes, *args: Any, **kwargs: Any) -> Any:
            made.append(key)
            return new(key, *args, **kwargs)

        monkeypatch.setattr(hmac, "new", counted)
        # Eight signatures (the real one last) against two secrets: two HMACs, not sixteen.
        assert await adapter.verify(at_cap)
        assert sorted(made) == sorted([OLD_WEBHOOK_SECRET.encode(), WEBHOOK_SECRET.encode()])
        made.clear()
        for flood in (over_cap, with_header(real + ";" + ";".join(["v1=" + "0" * 64] * 8))):
            with pytest.raises(sdk.WebhookRejected, match="smartrecruiters-signature: more than 8"):
                await adapter.verify(flood)
        assert made == [], "nothing is hashed for a header over the cap"
        # A stale delivery is refused before its signatures are even read.
        stale = dataclasses.replace(over_cap, received_at=genuine.received_at + timedelta(hours=1))
        with pytest.raises(sdk.WebhookRejected, match="webhook_max_age_seconds"):
            await adapter.verify(stale)
        assert made == []

    # --- reconciliation -----------------------------------------------------------------------------

    async def test_reconciliation_reports_hires_since_then_only(
        self, adapter: AdapterUnderTest, fake: FakeSmartRecruiters
    ) -> None:
        fake.hire(job_id(1))
        fake.add_candidate(job_id(2), status="INTERVIEW")
        since = datetime.now(UTC) + timedelta(milliseconds=1)
        assert await adapter.recent(since) == []
        [hire] = await adapter.recent(since - timedelta(minutes=1))
        assert (hire.kind, hire.ats_job_id, hire.ats_event) == ("hired", job_id(1), "reconciliation")

    # --- applications -------------------------------------------------------------------------------

    async def test_an_application_is_a_candidate_on_the_job_with_appcast_as_its_source(
        self, adapter: AdapterUnderTest, fake: FakeSmartRecruiters
    ) -> None:
        applicant = dataclasses.replace(
            APPLICANT, resume_url="https://files.example/ada.pdf", urls=["https://www.linkedin.com/in/ada"]
        )
        result = await adapter.apply(ApplicationSample(sample_job(job_id(3)), applicant, fake.created_ids))
        sent = fake.created[result.ats_candidate_id or ""]
        assert sent == {
            "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
            "phoneNumber": "+1 503 555 0100",
            "web": {"linkedIn": "https://www.linkedin.com/in/ada", "website": "https://files.example/ada.pdf"},
            "sourceDetails": {"sourceTypeId": "JOB_BOARD", "sourceId": "appcast"}, "job": job_id(3),
        }  # fmt: skip
        assert result.ats_application_id == f"{job_id(3)}:{result.ats_candidate_id}"

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"cover_letter": "Dear Acme"}, "cover_letter"),
            ({"name": "Ada"}, "name"),
            ({"urls": ["https://ada.example", "https://blog.example"]}, "urls"),
            ({"answers": {"q-visa": "No"}}, "answers"),
        ],
    )
    async def test_what_the_candidate_api_cannot_take_is_refused_naming_the_field(
        self, adapter: AdapterUnderTest, fake: FakeSmartRecruiters, changes: dict[str, Any], field: str
    ) -> None:
        applicant = dataclasses.replace(APPLICANT, **changes)
        with pytest.raises(sdk.ApplicationRefused, match=f"^{field}:"):
            await adapter.apply(ApplicationSample(sample_job(job_id(3)), applicant, fake.created_ids))
        assert fake.created == {}

    async def test_the_ats_refusal_is_named_in_the_error(self, adapter: AdapterUnderTest) -> None:
        with pytest.raises(sdk.ApplicationRefused, match="Job is not accepting new candidates") as refused:
            await adapter.apply(ApplicationSample(sample_job(job_id(0)), APPLICANT, list))
        assert refused.value.status == 400

    async def test_a_candidate_created_without_its_id_is_an_unknown_outcome(
        self, adapter: AdapterUnderTest, fake: FakeSmartRecruiters
    ) -> None:
        # SmartRecruiters accepted the POST: a candidate exists, so "retry later" would create a second.
        fake.unnamed = True
        with pytest.raises(sdk.OutcomeUnknown, match=f"job {job_id(3)}"):
            await adapter.apply(ApplicationSample(sample_job(job_id(3)), APPLICANT, fake.created_ids))
        assert len(fake.created) == 1


# --- the fake -----------------------------------------------------------------------------------


async def test_the_fake_answers_in_the_documented_shapes() -> None:
    fake = FakeSmartRecruiters()
    fake.hire(job_id(2))
    async with fake.serving(), aiohttp.ClientSession(headers={"X-SmartToken": API_KEY}) as http:
        for where, name in (("/jobs?limit=1", "jobs"), ("/candidates?status=HIRED", "candidates")):
            async with http.get(fake.url + where) as response:
                body = await response.json()
            documented = sample(name)
            assert set(body) - {"nextPageId"} == set(documented) - {"nextPageId"}
            assert set(body["content"][0]) <= set(documented["content"][0]) | {"phoneNumber", "web"}
    webhook = fake.hire(job_id(3))
    assert set(webhook.headers) == set(sample("webhook_application_status_updated")["headers"])
    assert set(webhook.json_object()) == set(sample("webhook_application_status_updated")["body"])


# --- options --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"page_size": 0}, "page_size", "1-100"),
        ({"page_size": 101}, "page_size", "1-100"),
        ({"open_statuses": ["SOURCING", "OPEN"]}, "open_statuses", "OPEN"),
        ({"source_id": "appcast"}, "source_type_id", "required with source_id"),
    ],
)
def test_options_that_cannot_work_are_refused_naming_the_option(
    changes: dict[str, Any], key: str, message: str
) -> None:
    check = plugin.appcast_hub_plugin_info().check_options
    assert check is not None
    with pytest.raises(sdk.ConfigError, match=message) as refused:
        check(options_with(**changes))
    assert refused.value.key == key


def test_risky_options_are_warned_about_and_secrets_are_marked() -> None:
    info = plugin.appcast_hub_plugin_info()
    assert info.check_options is not None
    assert [name for name, _ in info.check_options(options_with())] == ["webhook_secrets", "source_type_id"]
    assert info.check_options(options_with(webhook_secrets=["s"], source_type_id="JOB_BOARD")) == []
    assert info.secret_names() == {"api_key", "webhook_secrets"}


# --- end to end -----------------------------------------------------------------------------------


async def test_a_smartrecruiters_account_syncs_feeds_and_reports_hires(
    database_url: str, tmp_path: Path
) -> None:
    fake, appcast = FakeSmartRecruiters(count=6), sdk.FakeAppcast(token="appcast-bearer-for-tests")
    async with fake.serving(), appcast.serving():
        options = {
            "base_url": fake.url,
            "api_key": API_KEY,
            "webhook_secrets": [WEBHOOK_SECRET],
            "source_type_id": "JOB_BOARD",
            "source_id": "appcast",
        }
        account = 'apply_key = "apply-key-for-tests"'
        config = write_config(
            tmp_path,
            sdk.end_to_end_config(database_url, "smartrecruiters", options, appcast, account_extra=account),
        )
        async with sdk.serving_hub(config) as url, aiohttp.ClientSession() as http:
            hub = sdk.HubClient(url, http)
            status, synced = await hub.sync()
            assert (status, synced["error"], synced["created"]) == (200, None, 6)
            # Job 0 is filled and job 1 has no public job ad: the feed holds the open ones.
            assert set(await hub.feed()) == {job_id(n) for n in range(2, 6)}

            # Activating the subscription: its secret echoed at once, and nothing stored for it.
            activation = handshake()
            async with http.post(f"{url}/webhooks/acme", data=b"", headers=activation.headers) as answer:
                assert (answer.status, answer.headers["X-Hook-Secret"]) == (
                    200,
                    "hook-secret-from-activation",
                )

            hire = fake.hire(job_id(3), email="Ada@Example.com", event_id="evt-hire-1")
            forged = dataclasses.replace(hire, body=hire.body.replace(b"}", b" }"))
            assert (await hub.post_webhook(forged))[0] == 401
            # SmartRecruiters counts only 202 as delivered: new and already seen alike.
            assert await hub.post_webhook(hire) == (202, {"status": "stored"})
            assert await hub.post_webhook(hire) == (202, {"status": "already seen"})

            [received] = await appcast.wait_for_events(1)
            candidate_id = hire.json_object()["candidate_id"]
            moment = datetime.fromtimestamp(int(hire.headers["smartrecruiters-timestamp"]), UTC)
            assert received.body == {
                "event": "hired",
                "client_id": "client-42",
                "ent_id": "ent-7",
                "job_reference": job_id(3),
                "application_id": f"{job_id(3)}:{candidate_id}",
                "candidate_hash": hashlib.sha256(b"ada@example.com").hexdigest(),
                "source": "Appcast",
                "stage": None,
                "occurred_at": moment.isoformat().replace("+00:00", "Z"),
            }
            assert received.authorization == "Bearer appcast-bearer-for-tests"

            # Appcast Apply: refused naming the field (422), then created with Appcast as its source.
            apply = {"Authorization": "Bearer apply-key-for-tests"}
            letter = {"name": "Grace Hopper", "email": "grace@example.com", "cover_letter": "Dear Acme"}
            async with http.post(f"{url}/apply/acme/{job_id(4)}", json=letter, headers=apply) as answer:
                assert (answer.status, (await answer.json())["error"].split(":")[0]) == (422, "cover_letter")
            del letter["cover_letter"]
            async with http.post(f"{url}/apply/acme/{job_id(4)}", json=letter, headers=apply) as answer:
                assert answer.status == 201
                created = await answer.json()
            assert fake.created_ids() == [created["application_id"]]
            assert fake.created[created["candidate_id"]]["sourceDetails"] == {
                "sourceTypeId": "JOB_BOARD", "sourceId": "appcast",
            }  # fmt: skip
