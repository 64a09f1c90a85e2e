"""The ``ashby`` adapter against a fake Ashby on a real socket: the whole contract kit, what its hooks
promise beyond it, and an account on it inside a real hub, from sync to the hire delivered to Appcast."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub import models, sdk
from hub.sdk import AdapterContract, AdapterUnderTest, ApplicationSample, HireSample
from plugins.ashby import plugin
from plugins.ashby.mapping import job_from
from tests.conftest import write_config
from tests.peers.ashby import (
    API_KEY,
    APPCAST_SOURCE,
    DRAFT,
    INTERNAL_FIRST,
    QUESTION_JOB,
    RESUME_JOB,
    WEBHOOK_SECRET,
    FakeAshby,
    job_id,
    sample,
    signed,
)

PAGE_SIZE = 3  # the fake's 8 jobs take 3 pages
APPLICANT = sdk.Application(name="Ada Lovelace", email="ada@example.com", phone="+1 503 555 0100")


def sample_job(ats_id: str) -> sdk.Job:
    """The hub's copy of a job, as ``create_application`` receives it (only the id matters to Ashby)."""
    return sdk.Job(ats_id=ats_id, title=f"Job {ats_id}", posted_at=datetime(2026, 1, 1, tzinfo=UTC))


class AshbyContract(AdapterContract):
    """Every fixture of the kit, from a fresh fake Ashby."""

    @pytest.fixture
    def contract_plugin(self) -> tuple[str, Any]:
        return "ashby", plugin

    @pytest.fixture
    async def fake(self) -> AsyncIterator[FakeAshby]:
        ashby = FakeAshby()
        async with ashby.serving():
            yield ashby

    @pytest.fixture
    def contract_options(self, fake: FakeAshby) -> dict[str, Any]:
        return {
            "base_url": fake.url,
            "api_key": API_KEY,
            "page_size": PAGE_SIZE,
            "webhook_secret": WEBHOOK_SECRET,
        }

    @pytest.fixture
    def contract_expected_ids(self, fake: FakeAshby) -> set[str]:
        return fake.job_ids()

    @pytest.fixture
    def contract_min_pages(self) -> int:
        return 3

    @pytest.fixture
    def contract_changed_since(self, fake: FakeAshby) -> Callable[[], Any]:
        def change() -> tuple[datetime, str]:
            since = datetime.now(UTC) - timedelta(seconds=1)
            fake.change_job(2, title="Senior Engineer 2")
            return since, job_id(2)

        return change

    @pytest.fixture
    def contract_signed_webhooks(self, fake: FakeAshby) -> list[sdk.WebhookRequest]:
        moved = fake.move(fake.submit(2)["data"]["application"]["id"], "Offer")
        return [signed(fake.hire(1)), signed(moved), signed(fake.submit(4))]

    @pytest.fixture
    def contract_hire(self, fake: FakeAshby) -> HireSample:
        since = datetime.now(UTC) - timedelta(seconds=5)
        return HireSample(signed(fake.hire(5)), since, job_id(5))

    @pytest.fixture
    def contract_application(self, fake: FakeAshby) -> ApplicationSample:
        return ApplicationSample(sample_job(job_id(1)), APPLICANT, fake.created_ids)

    @pytest.fixture
    def contract_refused_application(self, fake: FakeAshby) -> ApplicationSample:
        """Ashby refuses a candidate without a valid e-mail (success: false)."""
        invalid = sdk.Application(name="Ada Lovelace", email="not-an-address")
        return ApplicationSample(sample_job(job_id(1)), invalid, fake.created_ids)

    @pytest.fixture
    def contract_unfillable_application(self, fake: FakeAshby) -> ApplicationSample:
        """The posting's form requires a resume, which Appcast Apply cannot upload to Ashby."""
        return ApplicationSample(sample_job(job_id(RESUME_JOB)), APPLICANT, fake.created_ids)

    @pytest.fixture
    def contract_unconfirmed_application(self, fake: FakeAshby) -> ApplicationSample:
        """Ashby creates the application but answers application.create without its id."""
        fake.unnamed_applications = True
        return ApplicationSample(sample_job(job_id(1)), APPLICANT, fake.created_ids)


class TestAshby(AshbyContract):
    async def test_every_job_field_is_mapped(self, adapter: AdapterUnderTest) -> None:
        jobs = {job.ats_id: job for page in await adapter.fetch_pages() for job in page.jobs}
        assert jobs[job_id(1)] == sdk.Job(
            ats_id=job_id(1),
            title="Engineer 1",
            posted_at=datetime(2026, 1, 3, tzinfo=UTC),
            updated_at=datetime(2026, 1, 2, 10, tzinfo=UTC),
            is_open=True,
            description_html="<p>Job 1: you &amp; us</p>",
            requisition_id="REQ-1",
            city="Portland",
            region="Oregon",
            country="US",
            postal_code="97201",
            workplace="onsite",
            department="Engineering",
            team="Platform",
            employment_type="full-time",
            salary_text="USD 90000-120000 per year",
            hosted_url="https://jobs.ashbyhq.com/acme/posting-1",
            apply_url="https://jobs.ashbyhq.com/acme/posting-1/application",
        )
        london = jobs[job_id(2)]
        assert (london.city, london.region, london.country, london.workplace, london.employment_type) == (
            "London", None, "GB", "hybrid", "part-time",
        )  # fmt: skip
        assert london.salary_text is None
        assert london.hosted_url == "https://jobs.ashbyhq.com/acme/posting-2", "its first listed posting"
        assert jobs[job_id(5)].workplace == "remote"
        # Closed, and Open without a published posting: listed, not advertised. Drafts are not listed.
        assert [jobs[job_id(n)].is_open for n in (0, 6)] == [False, False]
        assert job_id(DRAFT) not in jobs
        assert jobs[job_id(0)].posted_at == datetime(2026, 1, 1, 9, tzinfo=UTC)

    async def test_after_a_full_pass_a_sync_lists_only_what_changed_by_sync_token(
        self, adapter: AdapterUnderTest, fake: FakeAshby
    ) -> None:
        since = datetime.now(UTC)
        assert all(page.snapshot for page in await adapter.fetch_pages(since)), "no token yet: a snapshot"
        fake.change_job(2, title="Senior Engineer 2")
        pages = await adapter.fetch_pages(since)
        assert [(page.snapshot, [job.title for job in page.jobs]) for page in pages] == [
            (False, ["Senior Engineer 2"])
        ]
        fake.tokens_expired = True
        pages = await adapter.fetch_pages(since)
        assert all(page.snapshot for page in pages)
        assert {job.ats_id for page in pages for job in page.jobs} == fake.job_ids()

    async def test_a_sync_that_fails_keeps_the_last_token(
        self, adapter: AdapterUnderTest, fake: FakeAshby
    ) -> None:
        await adapter.fetch_pages()
        fake.change_job(2, title="Senior Engineer 2")
        fake.jobs[2]["jobPostingIds"] = ["gone"]
        with pytest.raises(sdk.AdapterUnavailable, match="Job posting not found"):
            await adapter.fetch_pages(datetime.now(UTC))
        fake.jobs[2]["jobPostingIds"] = ["posting-2"]
        pages = await adapter.fetch_pages(datetime.now(UTC))
        assert [job.title for page in pages for job in page.jobs] == ["Senior Engineer 2"]

    async def test_a_job_ashby_does_not_document_fails_the_sync(
        self, adapter: AdapterUnderTest, fake: FakeAshby
    ) -> None:
        fake.jobs[4]["createdAt"] = fake.jobs[4]["openedAt"] = "2026-01-05T09:00:00"  # no zone
        fake.jobs[4]["jobPostingIds"] = []
        with pytest.raises(sdk.AdapterUnavailable, match="createdAt"):
            await adapter.fetch_pages()
        fake.jobs[4].update(openedAt="2026-01-05T09:00:00Z", id="")
        with pytest.raises(sdk.AdapterUnavailable, match="ats_id"):
            await adapter.fetch_pages()

    async def test_a_hire_webhook_is_one_hire_event_named_by_its_action_id(
        self, adapter: AdapterUnderTest, fake: FakeAshby
    ) -> None:
        body = fake.hire(2, email="Ada@Example.com")
        application = body["data"]["application"]
        assert await adapter.verify(signed(body)) == body["webhookActionId"]
        assert await adapter.parse(signed(body)) == [
            sdk.Event(
                kind="hired",
                dedupe_key=f"hired:{application['id']}",
                occurred_at=datetime.fromisoformat(application["updatedAt"]),
                ats_job_id=job_id(2),
                ats_application_id=application["id"],
                ats_candidate_id=application["candidate"]["id"],
                source="Appcast",
                candidate_hash=sdk.candidate_hash("ada@example.com"),
                ats_event="candidateHire",
            )
        ]

    async def test_the_documented_sample_hire_parses(self, adapter: AdapterUnderTest) -> None:
        (event,) = await adapter.parse(signed(sample("webhook.candidateHire")))
        assert (event.dedupe_key, event.ats_job_id, event.occurred_at) == (
            "hired:c7c4a3c2-6d5f-4f0e-9b1a-2f3e4d5c6b7a",
            "3ae2b801-19f6-41ef-ad28-214bd731948f",
            datetime(2026, 3, 2, 15, 4, 5, tzinfo=UTC),
        )

    async def test_stage_changes_submissions_and_archivings(
        self, adapter: AdapterUnderTest, fake: FakeAshby
    ) -> None:
        submitted = fake.submit(3)
        application_id = submitted["data"]["application"]["id"]
        (created,) = await adapter.parse(signed(submitted))
        assert (created.kind, created.dedupe_key) == ("application_created", f"application:{application_id}")
        (offer,) = await adapter.parse(signed(fake.move(application_id, "Offer")))
        assert (offer.kind, offer.to_stage_id, offer.stage_name, offer.suggested_funnel_event) == (
            "stage_changed", "5b1a2c3d-0000-4000-8000-000000000003", "Offer", "offer",
        )  # fmt: skip
        (lead,) = await adapter.parse(signed(fake.move(application_id, "Lead")))
        assert lead.suggested_funnel_event is None
        assert lead.dedupe_key != offer.dedupe_key
        (archived,) = await adapter.parse(signed(fake.move(application_id, "Archived", status="Archived")))
        assert (archived.kind, archived.dedupe_key) == ("archived", f"archived:{application_id}")
        edited = fake.move(application_id, "Active")
        edited["action"] = "applicationUpdate"
        assert await adapter.parse(signed(edited)) == [], "an update that does not archive is no event"

    async def test_the_ping_and_other_actions_are_accepted_and_ignored(
        self, adapter: AdapterUnderTest
    ) -> None:
        ping = signed(sample("webhook.ping"))
        assert await adapter.verify(ping) == "0e9a3f1c-2b4d-4e6f-8a0b-1c2d3e4f5a6b"
        assert await adapter.parse(ping) == []
        offer = signed({"webhookActionId": "wa-offer", "action": "offerCreate", "data": {"offer": {}}})
        assert await adapter.parse(offer) == []
        assert await adapter.verify(signed({"action": "ping"})) is None, "no id: the hub digests the body"

    async def test_bad_webhooks_are_refused(self, adapter: AdapterUnderTest, fake: FakeAshby) -> None:
        with pytest.raises(sdk.WebhookRejected, match="Ashby-Signature"):
            await adapter.verify(signed(fake.hire(1), secret="not-the-secret"))
        unsigned = signed(fake.hire(1))
        with pytest.raises(sdk.WebhookRejected):
            await adapter.verify(sdk.WebhookRequest({}, unsigned.body, {}, unsigned.received_at))
        with pytest.raises(sdk.WebhookMalformed, match=r"application\.id"):
            await adapter.parse(signed({"webhookActionId": "wa-1", "action": "candidateHire", "data": {}}))
        hire = fake.hire(1)
        hire["data"]["application"]["updatedAt"] = "2026-03-02T10:00:00"
        with pytest.raises(sdk.WebhookMalformed, match="updatedAt"):
            await adapter.parse(signed(hire))

    async def test_webhooks_are_refused_without_a_secret(
        self, fake: FakeAshby, adapter: AdapterUnderTest
    ) -> None:
        adapter.account.plugin_options["ashby"]["webhook_secret"] = None
        with pytest.raises(sdk.WebhookRejected):
            await adapter.verify(signed(fake.hire(1)))

    async def test_stages_of_every_plan_with_the_funnel_event_their_type_suggests(
        self, adapter: AdapterUnderTest
    ) -> None:
        stages = await adapter.call("appcast_hub_list_stages", http=adapter.http)
        assert [(stage.name, stage.suggested_funnel_event) for stage in stages] == [
            ("Application Review (Engineering)", "screen"),
            ("Technical Interview (Engineering)", "interview"),
            ("Offer (Engineering)", "offer"),
            ("Hired (Engineering)", "hired"),
            ("Archived (Engineering)", None),
            ("New Lead (Engineering)", None),
            ("Application Review (Sales)", "screen"),
            ("Technical Interview (Sales)", "interview"),
        ]
        assert len({stage.id for stage in stages}) == 8

    async def test_reconciliation_reports_hires_updated_since_then_only(
        self, adapter: AdapterUnderTest, fake: FakeAshby
    ) -> None:
        fake.submit(2)
        fake.hire(1)
        since = datetime.now(UTC) + timedelta(milliseconds=5)
        assert await adapter.recent(since) == []
        (hire,) = await adapter.recent(since - timedelta(minutes=1))
        assert (hire.kind, hire.ats_job_id, hire.ats_event) == ("hired", job_id(1), "reconciliation")

    async def test_an_application_is_created_with_the_appcast_source(
        self, adapter: AdapterUnderTest, fake: FakeAshby
    ) -> None:
        result = await adapter.apply(ApplicationSample(sample_job(job_id(1)), APPLICANT, fake.created_ids))
        created = fake.applications[result.ats_application_id]
        assert (created["source"]["id"], created["job"]["id"]) == (APPCAST_SOURCE, job_id(1))
        assert fake.candidates[result.ats_candidate_id] == {
            "id": result.ats_candidate_id, "name": "Ada Lovelace", "email": "ada@example.com",
            "phoneNumber": "+1 503 555 0100", "sourceId": APPCAST_SOURCE,
        }  # fmt: skip
        assert fake.notes == [], "nothing to add, no note"
        adapter.account.plugin_options["ashby"]["source_id"] = "src-linkedin"
        result = await adapter.apply(ApplicationSample(sample_job(job_id(1)), APPLICANT, fake.created_ids))
        assert fake.applications[result.ats_application_id]["source"]["id"] == "src-linkedin"

    async def test_what_ashby_cannot_hold_becomes_a_note_never_dropped(
        self, adapter: AdapterUnderTest, fake: FakeAshby
    ) -> None:
        application = dataclasses.replace(
            APPLICANT, resume_url="https://cv.example/ada.pdf?a=1&b=2", cover_letter="Dear <Acme>,\nhi",
            urls=["https://ada.example"],
        )  # fmt: skip
        result = await adapter.apply(ApplicationSample(sample_job(job_id(1)), application, fake.created_ids))
        assert fake.notes == [
            {
                "candidateId": result.ats_candidate_id,
                "note": "<p>From Appcast Apply</p>"
                '<p>Resume: <a href="https://cv.example/ada.pdf?a=1&amp;b=2">https://cv.example/ada.pdf?a=1&amp;b=2</a></p>'
                '<p>Link: <a href="https://ada.example">https://ada.example</a></p>'
                "<p>Cover letter:<br>Dear &lt;Acme&gt;,<br>hi</p>",
            }
        ]

    async def test_a_posting_published_on_a_day_is_posted_that_day_at_midnight_utc(
        self, adapter: AdapterUnderTest, fake: FakeAshby
    ) -> None:
        # Ashby's OpenAPI gives jobPosting.info's publishedDate as a day ("2022-07-22"), with no time or zone.
        job = job_from(sample("job.list")["results"][0], sample("jobPosting.info")["results"])
        assert job.posted_at == datetime(2026, 1, 6, tzinfo=UTC)
        jobs = {job.ats_id: job for page in await adapter.fetch_pages() for job in page.jobs}
        assert jobs[job_id(3)].posted_at == datetime(2026, 1, 5, tzinfo=UTC)
        fake.jobs[3]["openedAt"] = "2026-01-04T09:00:00"  # a time without a zone is still refused
        fake.jobs[3]["jobPostingIds"] = []
        with pytest.raises(sdk.AdapterUnavailable, match="openedAt"):
            await adapter.fetch_pages()

    async def test_a_postings_application_deadline_is_when_the_job_closes(
        self, adapter: AdapterUnderTest, fake: FakeAshby
    ) -> None:
        # Ashby's OpenAPI: jobPosting.info's applicationDeadline is a date-time, when applications stop.
        post = sample("jobPosting.info")["results"]
        item = sample("job.list")["results"][0]
        assert job_from(item, post).closes_at == datetime(2026, 2, 6, 20, tzinfo=UTC)
        for unreadable in (None, "", "2026-02-30", 20260206, {"date": "2026-02-06"}):
            assert job_from(item, {**post, "applicationDeadline": unreadable}).closes_at is None, unreadable
        fake.deadlines = {
            1: "2026-03-31T17:30:00.000Z",
            2: "2026-03-31T17:30:00+02:00",
            3: "2026-03-31",  # a bare day: its end, in UTC (Ashby gives a posting no zone)
            4: "2026-03-31T17:30:00",  # no zone: UTC
            5: "by the end of March",
        }
        jobs = {job.ats_id: job for page in await adapter.fetch_pages() for job in page.jobs}
        assert [jobs[job_id(n)].closes_at for n in (1, 2, 3, 4, 5, 6)] == [
            datetime(2026, 3, 31, 17, 30, tzinfo=UTC),
            datetime(2026, 3, 31, 15, 30, tzinfo=UTC),
            datetime(2026, 4, 1, tzinfo=UTC),
            datetime(2026, 3, 31, 17, 30, tzinfo=UTC),
            None,
            None,  # no posting, so no deadline
        ]
        # An unreadable deadline is dropped: the job is synced, open, with everything else it has.
        assert (jobs[job_id(5)].is_open, jobs[job_id(5)].workplace) == (True, "remote")

    async def test_an_unlisted_posting_is_never_advertised_nor_applied_through(
        self, adapter: AdapterUnderTest, fake: FakeAshby
    ) -> None:
        # Ashby: an unlisted posting is not to be shown publicly (jobPosting.info isListed false).
        assert fake.jobs[INTERNAL_FIRST]["jobPostingIds"][0] in fake.unlisted
        fake.unlisted.add("posting-1")
        jobs = {job.ats_id: job for page in await adapter.fetch_pages() for job in page.jobs}
        assert jobs[job_id(INTERNAL_FIRST)].hosted_url == "https://jobs.ashbyhq.com/acme/posting-2"
        assert (jobs[job_id(1)].is_open, jobs[job_id(1)].hosted_url) == (False, None)
        with pytest.raises(sdk.ApplicationRefused, match="not open"):
            await adapter.apply(ApplicationSample(sample_job(job_id(1)), APPLICANT, fake.created_ids))
        assert (fake.candidates, fake.created_ids()) == ({}, [])
        result = await adapter.apply(
            ApplicationSample(sample_job(job_id(INTERNAL_FIRST)), APPLICANT, fake.created_ids)
        )
        assert result.ats_application_id in fake.created_ids()

    @pytest.mark.parametrize(
        "failure",
        ["success false", "HTTP 422", "HTTP 429", "dropped", "no application id", "no results"],
    )
    async def test_any_failure_after_the_candidate_is_created_is_outcome_unknown_naming_it(
        self, adapter: AdapterUnderTest, fake: FakeAshby, failure: str
    ) -> None:
        answers = {
            "success false": lambda: web.json_response(
                {"success": False, "errorInfo": {"code": "invalid_input", "message": "Job is closed"}}
            ),
            "HTTP 422": lambda: web.json_response({"success": False}, status=422),
            "HTTP 429": lambda: web.json_response({}, status=429, headers={"Retry-After": "0.01"}),
            "no results": lambda: web.json_response({"success": True}),
        }
        create_candidate = fake._candidate_create

        def candidate_then_die(body: dict[str, Any]) -> web.Response:
            answer = create_candidate(body)
            fake.faults.die_after = len(fake.faults.requests)  # every later request is dropped
            return answer

        if failure == "dropped":
            fake._candidate_create = candidate_then_die  # type: ignore[method-assign]
        elif failure == "no application id":
            fake.unnamed_applications = True
        else:
            fake._application_create = lambda body: answers[failure]()  # type: ignore[method-assign]
        with pytest.raises(sdk.OutcomeUnknown) as caught:
            await adapter.apply(ApplicationSample(sample_job(job_id(1)), APPLICANT, fake.created_ids))
        (candidate_id,) = fake.candidates
        assert f"candidate {candidate_id}" in str(caught.value)

    @pytest.mark.parametrize("answer", [{"success": True, "results": {"name": "Ada"}}, {"success": True}])
    async def test_a_candidate_ashby_does_not_name_is_outcome_unknown_and_gets_no_application(
        self, adapter: AdapterUnderTest, fake: FakeAshby, answer: dict[str, Any]
    ) -> None:
        fake._candidate_create = lambda body: web.json_response(answer)  # type: ignore[method-assign]
        with pytest.raises(sdk.OutcomeUnknown, match="candidate"):
            await adapter.apply(ApplicationSample(sample_job(job_id(1)), APPLICANT, fake.created_ids))
        assert not any("application.create" in line for line in fake.faults.requests), "no candidateId null"

    @pytest.mark.parametrize("status", [200, 400])
    async def test_a_note_ashby_refuses_is_outcome_unknown_naming_the_application(
        self, adapter: AdapterUnderTest, fake: FakeAshby, status: int
    ) -> None:
        refusal = {"success": False, "errorInfo": {"code": "invalid_input", "message": "Note too long"}}
        fake._candidate_createNote = lambda body: web.json_response(refusal, status=status)  # type: ignore[method-assign]
        application = dataclasses.replace(APPLICANT, cover_letter="Dear Acme")
        with pytest.raises(sdk.OutcomeUnknown) as caught:
            await adapter.apply(ApplicationSample(sample_job(job_id(1)), application, fake.created_ids))
        (application_id,) = fake.created_ids()
        assert f"application {application_id}" in str(caught.value)

    @pytest.mark.parametrize(
        ("n", "application", "words"),
        [
            (QUESTION_JOB, APPLICANT, "requires 'Visa sponsorship\\?'"),
            (
                1,
                sdk.Application(name="Ada", email="ada@example.com", answers={"q-1": "yes"}),
                "takes no answers",
            ),
            (0, APPLICANT, "not open"),
            (6, APPLICANT, "not open"),
            (99, APPLICANT, "Job not found"),
            (1, sdk.Application(name="Ada", email="ada@example.com", source="Indeed"), "no active source"),
        ],
    )
    async def test_what_ashby_or_the_form_cannot_take_is_refused_before_anything_is_created(
        self, adapter: AdapterUnderTest, fake: FakeAshby, n: int, application: sdk.Application, words: str
    ) -> None:
        with pytest.raises(sdk.ApplicationRefused, match=words):
            await adapter.apply(ApplicationSample(sample_job(job_id(n)), application, fake.created_ids))
        assert fake.candidates == {}
        assert fake.created_ids() == []

    async def test_the_refusal_is_in_ashbys_words(self, adapter: AdapterUnderTest) -> None:
        bad = sdk.Application(name="Ada", email="nowhere")
        with pytest.raises(sdk.ApplicationRefused, match="needs a name and a valid email"):
            await adapter.apply(ApplicationSample(sample_job(job_id(1)), bad, list))

    async def test_a_wrong_api_key_is_an_auth_error(self, adapter: AdapterUnderTest) -> None:
        adapter.account.plugin_options["ashby"]["api_key"] = "not-the-key"
        with pytest.raises(sdk.AdapterAuthError):
            await adapter.fetch_pages()

    async def test_reads_are_retried_past_503_and_429(
        self, adapter: AdapterUnderTest, fake: FakeAshby
    ) -> None:
        # Ashby reads are POSTs: still safe to repeat, unlike creating a candidate.
        fake.faults.server_errors, fake.faults.rate_limited, fake.faults.retry_after = 1, 1, 0.01
        jobs = [job for page in await adapter.fetch_pages() for job in page.jobs]
        assert len(jobs) == 7

    async def test_still_rate_limited_is_unavailable_with_retry_after(
        self, adapter: AdapterUnderTest, fake: FakeAshby
    ) -> None:
        fake.faults.rate_limited, fake.faults.retry_after = 10, 0.01
        with pytest.raises(sdk.AdapterUnavailable) as caught:
            await adapter.call("appcast_hub_list_stages", http=adapter.http)
        assert (caught.value.status, caught.value.retry_after) == (429, 0.01)

    async def test_a_creation_that_fails_after_sending_is_outcome_unknown_and_not_resent(
        self, adapter: AdapterUnderTest, fake: FakeAshby
    ) -> None:
        def broken(body: dict[str, Any]) -> Any:
            raise RuntimeError("Ashby fell over after reading the request")  # aiohttp answers 500

        fake._candidate_create = broken  # type: ignore[method-assign]
        with pytest.raises(sdk.OutcomeUnknown):
            await adapter.apply(ApplicationSample(sample_job(job_id(1)), APPLICANT, fake.created_ids))
        assert sum("candidate.create" in line for line in fake.faults.requests) == 1


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        ({"page_size": 0}, "page_size", "1-100"),
        ({"page_size": 101}, "page_size", "1-100"),
        ({"rate_per_second": -1.0}, "rate_per_second", "0"),
        ({"base_url": "ftp://api.example"}, "base_url", "http"),
    ],
)
def test_options_that_cannot_work_are_refused_naming_the_option(
    change: dict[str, Any], key: str, words: str
) -> None:
    info = plugin.appcast_hub_plugin_info()
    options = {
        "api_key": "k",
        "webhook_secret": "s",
        "base_url": None,
        "page_size": 100,
        "rate_per_second": 5.0,
    }
    with pytest.raises(sdk.ConfigError, match=words) as caught:
        info.check_options({**options, **change})
    assert caught.value.key == key
    assert info.check_options(options) == []
    assert info.check_options({**options, "webhook_secret": None})[0][0] == "webhook_secret"
    assert {option.name for option in info.options if option.secret} == {"api_key", "webhook_secret"}


async def test_an_ashby_account_syncs_feeds_and_reports_hires(database_url: str, tmp_path: Path) -> None:
    appcast, ashby = sdk.FakeAppcast(token="appcast-bearer-for-tests"), FakeAshby()
    async with appcast.serving(), ashby.serving():
        options = {"api_key": API_KEY, "base_url": ashby.url, "webhook_secret": WEBHOOK_SECRET}
        config = write_config(tmp_path, sdk.end_to_end_config(database_url, "ashby", options, appcast))
        # Job 4's applications closed in January: it leaves the feed. Job 1's deadline is ahead, and job
        # 5's cannot be read (so it has none): both stay.
        ashby.deadlines = {4: "2026-01-31T17:00:00.000Z", 1: "2100-01-01", 5: "soon"}
        async with sdk.serving_hub(config) as url, aiohttp.ClientSession() as http:
            hub = sdk.HubClient(url, http)
            status, synced = await hub.sync()
            assert (status, synced["error"], synced["created"]) == (200, None, 7)
            jobs = await hub.feed()
            assert set(jobs) == {job_id(n) for n in (1, 2, 3, 5)}, "open jobs with a posting, not closed"
            assert jobs[job_id(3)].findtext("description") == "<p>Job 3: you &amp; us</p>"

            body = ashby.hire(3, email="Ada@Example.com")
            body["data"]["application"]["updatedAt"] = "2026-03-02T15:04:05.250Z"
            assert (await hub.post_webhook(signed(body, secret="not-the-secret")))[0] == 401
            assert await hub.post_webhook(signed(body)) == (202, {"status": "stored"})
            assert await hub.post_webhook(signed(body)) == (200, {"status": "already seen"})

            [received] = await appcast.wait_for_events(1)
            application = body["data"]["application"]
            assert received.body == {
                "event": "hired",
                "client_id": "client-42",
                "ent_id": "ent-7",
                "job_reference": job_id(3),
                "application_id": application["id"],
                "candidate_hash": hashlib.sha256(b"ada@example.com").hexdigest(),
                "source": "Appcast",
                "stage": None,
                "occurred_at": "2026-03-02T15:04:05Z",
            }
            assert received.authorization == "Bearer appcast-bearer-for-tests"
            assert await models.Event.filter(kind="hired").count() == 1
