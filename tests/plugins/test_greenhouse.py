"""The ``greenhouse`` adapter against a fake Greenhouse on a real socket: the whole contract kit, what its
hooks promise beyond it, and a hub with a Greenhouse account end to end (sync, feed, signed hire, Appcast).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub import models, sdk
from hub.sdk import AdapterContract, AdapterUnderTest, ApplicationSample, HireSample
from plugins.greenhouse import client, const, plugin
from tests.conftest import write_config
from tests.peers.greenhouse import (
    APPCAST_SOURCE_ID,
    CLIENT_ID,
    CLIENT_SECRET,
    FIRST_JOB_ID,
    FIRST_POST_ID,
    PROSPECT_POST_ID,
    USER_ID,
    WEBHOOK_SECRET,
    FakeGreenhouse,
    harvest_post,
    iso,
    sample,
)

JOBS = 12
PAGE_SIZE = 20  # the fake's 72 interview stages take 4 Harvest pages
APPLICANT = sdk.Application(name="Ada King Lovelace", email="ada@example.com", phone="+1 503 555 0100")


def job_id(number: int) -> str:
    return str(FIRST_JOB_ID + number)


def sample_job(ats_id: str) -> sdk.Job:
    """The hub's copy of a job, as ``create_application`` receives it (only the id matters to Greenhouse)."""
    return sdk.Job(ats_id=ats_id, title=f"Job {ats_id}", posted_at=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture(autouse=True)
def _fresh_tokens_fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test has its own fake, whose tokens the last one's cache would not know; retries wait ms.
    client.forget_tokens()
    monkeypatch.setattr(const, "BACKOFF_BASE_SECONDS", 0.001)


class TestGreenhouse(AdapterContract):
    @pytest.fixture
    async def fake(self) -> AsyncIterator[FakeGreenhouse]:
        greenhouse = FakeGreenhouse(jobs=JOBS)
        async with greenhouse.serving():
            yield greenhouse

    @pytest.fixture
    def contract_plugin(self) -> tuple[str, Any]:
        return "greenhouse", plugin

    @pytest.fixture
    def contract_options(self, fake: FakeGreenhouse) -> dict[str, Any]:
        return {
            "board": fake.board, "base_url": fake.url, "harvest_url": fake.url, "auth_url": fake.url,
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "user_id": USER_ID,
            "webhook_secret": WEBHOOK_SECRET, "appcast_source_id": APPCAST_SOURCE_ID, "page_size": PAGE_SIZE,
        }  # fmt: skip

    @pytest.fixture
    def contract_expected_ids(self, fake: FakeGreenhouse) -> set[str]:
        return fake.job_ids

    @pytest.fixture
    def contract_min_pages(self) -> int:
        return 1  # the job board API answers with every job at once; Harvest's paging is tested below

    @pytest.fixture
    def contract_changed_since(self, fake: FakeGreenhouse) -> Callable[[], Any]:
        """A post changed in Greenhouse: Harvest lists it updated, so the incremental fetch lists its job."""

        def change() -> tuple[datetime, str]:
            since = datetime.now(UTC) - timedelta(seconds=1)
            fake.posts[1].update(title="Senior Registered Nurse", updated_at=datetime.now(UTC).isoformat())
            return since, job_id(1)

        return change

    @pytest.fixture
    def contract_signed_webhooks(self, fake: FakeGreenhouse) -> list[sdk.WebhookRequest]:
        return [fake.signed(fake.hire(job_id(3))), fake.signed(fake.stage_change(job_id(4), "Face to Face"))]

    @pytest.fixture
    def contract_hire(self, fake: FakeGreenhouse) -> HireSample:
        since = datetime.now(UTC) - timedelta(seconds=5)
        return HireSample(fake.signed(fake.hire(job_id(5))), since, job_id(5))

    @pytest.fixture
    def contract_application(self, fake: FakeGreenhouse) -> ApplicationSample:
        return ApplicationSample(sample_job(job_id(1)), APPLICANT, fake.created_ids)

    @pytest.fixture
    def contract_refused_application(self, fake: FakeGreenhouse) -> ApplicationSample:
        """Job 2 is closed in Greenhouse: Harvest answers 422."""
        fake.closed_jobs.add(FIRST_JOB_ID + 2)
        return ApplicationSample(sample_job(job_id(2)), APPLICANT, fake.created_ids)

    @pytest.fixture
    def contract_unfillable_application(self, fake: FakeGreenhouse) -> ApplicationSample:
        """Answers to a job post's questions: Harvest's candidate request has no place for them."""
        answered = dataclasses.replace(APPLICANT, answers={"question_123": "Yes"})
        return ApplicationSample(sample_job(job_id(1)), answered, fake.created_ids)

    # --- jobs ---------------------------------------------------------------------------------------

    async def test_posts_are_mapped_to_every_job_field(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        [page] = await adapter.fetch_pages()
        jobs = {job.ats_id: job for job in page.jobs}
        assert fake.faults.requests == ["GET /v1/boards/acme/jobs?content=true"]
        assert jobs[job_id(3)] == sdk.Job(
            ats_id=job_id(3), title="Warehouse Operative 3", is_open=True,
            posted_at=datetime(2026, 2, 4, 15, tzinfo=UTC), updated_at=datetime(2026, 2, 4, 15, tzinfo=UTC),
            description_html="<p>Job 3: you &amp; us.</p><ul><li>Benefits</li></ul>", requisition_id="REQ-3",
            city="London", region=None, country="GB", workplace=None, department="Engineering",
            employment_type="full-time", salary_text="USD 90000-120000",
            hosted_url="https://boards.greenhouse.io/acme/jobs/4004003",
            apply_url="https://boards.greenhouse.io/acme/jobs/4004003",
        )  # fmt: skip
        assert jobs[job_id(2)].posted_at == datetime(2026, 1, 3, 9, tzinfo=UTC), "first_published when given"
        assert (jobs[job_id(2)].city, jobs[job_id(2)].workplace) == (None, "remote")
        berlin = jobs[job_id(4)]
        assert (berlin.city, berlin.region, berlin.country, berlin.workplace) == (
            "Berlin",
            None,
            "DE",
            "hybrid",
        )
        assert (jobs[job_id(1)].city, jobs[job_id(1)].region, jobs[job_id(1)].country) == (
            "New York",
            "NY",
            "US",
        )
        assert (jobs[job_id(1)].employment_type, jobs[job_id(1)].salary_text) == (None, None)
        san_francisco = jobs[job_id(0)]
        assert (san_francisco.city, san_francisco.region, san_francisco.country) == (
            "San Francisco",
            "CA",
            "US",
        )

    async def test_a_job_with_two_posts_is_one_job_from_its_first_post(
        self, adapter: AdapterUnderTest
    ) -> None:
        [page] = await adapter.fetch_pages()
        first = [job for job in page.jobs if job.ats_id == job_id(0)]
        assert [job.hosted_url for job in first] == ["https://boards.greenhouse.io/acme/jobs/4004000"]
        assert len(page.jobs) == JOBS

    async def test_a_prospect_post_advertises_no_job_and_is_left_out(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        # "Prospect posts include a null value for internal_job_id": the rest of the board still syncs.
        assert [post["id"] for post in fake.posts if post["internal_job_id"] is None] == [PROSPECT_POST_ID]
        [page] = await adapter.fetch_pages()
        assert {job.ats_id for job in page.jobs} == fake.job_ids
        assert len(page.jobs) == JOBS
        assert not [job for job in page.jobs if str(PROSPECT_POST_ID) in (job.hosted_url or "")]

    @pytest.mark.parametrize(
        ("offices", "country"),
        [
            (["New York, NY, United States"], "US"),  # the job board's documented form
            (["Toronto, ON, Canada"], "CA"),
            (["San Francisco, CA"], None),  # CA is California, not Canada
            (["Indianapolis, IN"], None),  # IN is Indiana, not India
            (["New York, NY"], None),  # the webhooks' documented form
            (["Berlin, DE"], None),  # two parts: a two-letter last part is a region
            (["London, United Kingdom"], "GB"),  # a country's name written out
            (["Germany"], "DE"),
            (["London"], None),
            (["New York, NY", "Toronto, ON, Canada"], "CA"),  # the first office that names a country
        ],
    )
    async def test_the_country_comes_only_from_an_office_location_that_names_one(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse, offices: list[str], country: str | None
    ) -> None:
        fake.posts[0]["offices"] = [{"id": 8_300 + n, "name": "Office", "location": location}
                                    for n, location in enumerate(offices)]  # fmt: skip
        [page] = await adapter.fetch_pages()
        assert next(job for job in page.jobs if job.ats_id == job_id(0)).country == country

    async def test_an_unpublished_job_leaves_the_snapshot(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        fake.unpublish(job_id(5))
        [page] = await adapter.fetch_pages()
        assert page.snapshot
        assert job_id(5) not in {job.ats_id for job in page.jobs}

    async def test_without_harvest_credentials_an_incremental_fetch_is_the_board_snapshot(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        adapter.account.plugin_options["greenhouse"]["client_id"] = None
        fake.unpublish(job_id(5))
        [page] = await adapter.fetch_pages(since=datetime.now(UTC) - timedelta(minutes=5))
        assert page.snapshot, "the board cannot filter by time: every fetch is a snapshot"
        assert {job.ats_id for job in page.jobs} == fake.job_ids
        assert fake.faults.requests == ["GET /v1/boards/acme/jobs?content=true"]

    async def test_an_incremental_fetch_lists_only_the_changed_posts_job_as_the_board_path_does(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        since = datetime.now(UTC).replace(microsecond=0)
        fake.posts[1].update(title="Senior Registered Nurse", updated_at=iso(since + timedelta(seconds=1)))
        [full] = await adapter.fetch_pages()
        fake.faults.requests.clear()
        [page] = await adapter.fetch_pages(since=since + timedelta(microseconds=500))
        assert not page.snapshot
        # The same id (the job, not the post) and the same fields as the board path gives it.
        assert page.jobs == [next(job for job in full.jobs if job.ats_id == job_id(1))]
        assert page.jobs[0].title == "Senior Registered Nurse"
        after = since.strftime("%Y-%m-%dT%H:%M:%SZ")  # whole seconds, never later than asked
        assert fake.faults.requests == [
            "POST /token", f"GET /v3/job_posts?updated_at=gte%7C{after}&per_page={PAGE_SIZE}",
            "GET /v1/boards/acme/jobs?content=true",
        ]  # fmt: skip

    async def test_an_incremental_fetch_with_nothing_changed_does_not_read_the_board(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        [page] = await adapter.fetch_pages(since=datetime.now(UTC))
        assert (page.jobs, page.snapshot) == ([], False)
        assert not [r for r in fake.faults.requests if r.startswith("GET /v1/boards")]

    async def test_an_unpublished_post_closes_its_job_in_the_fields_harvest_has(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        since = datetime.now(UTC) - timedelta(seconds=1)
        [full] = await adapter.fetch_pages()
        for number in (4, 5):  # first_published given (4) or not (5): posted_at agrees either way
            board = next(job for job in full.jobs if job.ats_id == job_id(number))
            fake.unpublish(job_id(number))
            [page] = await adapter.fetch_pages(since=since)
            closed = next(job for job in page.jobs if job.ats_id == job_id(number))
            assert not page.snapshot
            assert closed == dataclasses.replace(
                board, is_open=False, updated_at=closed.updated_at, requisition_id=None, country=None,
                department=None, employment_type=None, salary_text=None, hosted_url=None, apply_url=None,
            )  # fmt: skip
            assert closed.updated_at > since, "dated by the unpublishing"

    async def test_a_job_still_on_the_board_by_another_post_stays_open(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        """Job 0 has a second post (London): unpublishing it leaves the job advertised by its first."""
        since = datetime.now(UTC) - timedelta(seconds=1)
        london = next(post for post in fake.posts if post["id"] == FIRST_POST_ID + 9_000)
        fake.posts.remove(london)
        fake.unpublished.append(dict(harvest_post(london, live=False), updated_at=iso(datetime.now(UTC))))
        [page] = await adapter.fetch_pages(since=since)
        [job] = page.jobs
        assert (job.ats_id, job.is_open, job.city) == (job_id(0), True, "San Francisco")

    async def test_harvest_job_posts_without_a_job_are_left_out_and_odd_ones_fail(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        since = datetime.now(UTC) - timedelta(seconds=1)
        prospect = next(post for post in fake.posts if post["id"] == PROSPECT_POST_ID)
        fake.unpublished.append(dict(harvest_post(prospect, live=False), updated_at=iso(datetime.now(UTC))))
        [page] = await adapter.fetch_pages(since=since)
        assert page.jobs == [], "a prospect post (job_id null) advertises no job"
        fake.unpublish(job_id(5))
        fake.unpublished[-1]["title"] = None
        with pytest.raises(sdk.AdapterUnavailable, match="job post 4004005 has no job_id or no title"):
            await adapter.fetch_pages(since=since)

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"board": "renamed"}, "Greenhouse board 'acme' does not exist (HTTP 404)"),
            ({"server_errors": 10}, "Greenhouse board 'acme' answered HTTP 503 (after 4 attempts)"),
            # A post without the field is not a prospect post (whose internal_job_id is null): it fails.
            ({"drop": "internal_job_id"}, "job post 4004000 has no internal_job_id"),
            ({"post": {"title": None}}, "job post 4004000 has no internal_job_id or no title"),
            ({"post": {"updated_at": "2026-02-01T10:00:00"}}, "updated_at"),
        ],
    )
    async def test_a_board_that_fails_fails_the_sync_naming_why(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse, change: dict[str, Any], message: str
    ) -> None:
        fake.board = change.get("board", fake.board)
        fake.faults.server_errors = change.get("server_errors", 0)
        fake.posts[0].update(change.get("post", {}))
        fake.posts[0].pop(change.get("drop", ""), None)
        with pytest.raises(sdk.AdapterUnavailable, match=message.replace("(", r"\(").replace(")", r"\)")):
            await adapter.fetch_pages()

    # --- stages ---------------------------------------------------------------------------------------

    async def test_stages_are_every_jobs_plan_paged_by_link_header(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        stages = await adapter.call("appcast_hub_list_stages", http=adapter.http)
        assert len(stages) == 6 * JOBS
        assert stages[3] == sdk.Stage("767003", "Face to Face", workflow=job_id(0))
        assert all(stage.suggested_funnel_event is None for stage in stages), "Greenhouse stages have no kind"
        pages = [r for r in fake.faults.requests if r.startswith("GET /v3/job_interview_stages")]
        assert pages[0] == f"GET /v3/job_interview_stages?per_page={PAGE_SIZE}"
        assert len(pages) == 4
        assert all(r.split("?")[1].startswith("cursor=") and "&" not in r for r in pages[1:])
        assert [r for r in fake.faults.requests if r.startswith("POST")] == ["POST /token"], (
            "one token, reused"
        )

    async def test_a_next_link_outside_harvest_is_not_followed(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        fake.url = "http://127.0.0.2:1"  # the fake's Link headers now point elsewhere
        with pytest.raises(sdk.AdapterUnavailable, match="a link outside its API"):
            await adapter.call("appcast_hub_list_stages", http=adapter.http)

    # --- webhooks -------------------------------------------------------------------------------------

    async def test_a_hire_webhook_is_one_hire_event(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        body = fake.hire(job_id(3), email="Ada@Example.com", at=datetime(2026, 3, 2, 15, 4, 5, tzinfo=UTC))
        application = body["payload"]["application"]
        request = fake.signed(body)
        assert await adapter.verify(request) is None, "no signed delivery id: the hub names it by its body"
        assert await adapter.parse(request) == [
            sdk.Event(
                kind="hired", dedupe_key=f"hired:{application['id']}", ats_event="hire_candidate",
                occurred_at=datetime(2026, 3, 2, 15, 4, 5, tzinfo=UTC), ats_job_id=job_id(3),
                ats_application_id=str(application["id"]),
                ats_candidate_id=str(application["candidate"]["id"]),
                source="Appcast", candidate_hash=sdk.candidate_hash("ada@example.com"),
            )
        ]  # fmt: skip

    async def test_stage_changes_applications_and_rejections_are_events(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        (moved,) = await adapter.parse(fake.signed(fake.stage_change(job_id(4), "Offer")))
        assert (moved.kind, moved.to_stage_id, moved.stage_name, moved.workflow, moved.ats_job_id) == (
            "stage_changed", "767045", "Offer", job_id(4), job_id(4),
        )  # fmt: skip
        assert moved.dedupe_key == f"stage:{moved.ats_application_id}:767045"
        (applied,) = await adapter.parse(fake.signed(fake.apply(job_id(1))))
        assert (applied.kind, applied.occurred_at) == (
            "application_created",
            datetime(2026, 2, 22, 8, tzinfo=UTC),
        )
        assert applied.candidate_hash == sdk.candidate_hash("mary@example.com")
        (rejected,) = await adapter.parse(fake.signed(fake.reject(job_id(2))))
        assert (rejected.kind, rejected.occurred_at) == (
            "archived",
            datetime(2026, 2, 26, 16, 45, tzinfo=UTC),
        )
        assert rejected.dedupe_key == f"rejected:{rejected.ats_application_id}"

    async def test_a_ping_and_unknown_actions_are_accepted_and_ignored(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        unknown = {"action": "offer_created", "payload": {"id": 1}}
        for body in (sample("ping"), {"web_hook_id": 10701}, unknown):
            request = fake.signed(body)
            assert await adapter.verify(request) is None
            assert await adapter.parse(request) == []

    async def test_forged_and_unconfigured_webhooks_are_refused(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        hire = fake.hire(job_id(3))
        with pytest.raises(sdk.WebhookRejected, match="Signature"):
            await adapter.verify(fake.signed(hire, secret="not-the-secret"))
        sha1 = dataclasses.replace(fake.signed(hire), headers={"Signature": "sha1 " + "0" * 40})
        with pytest.raises(sdk.WebhookRejected):
            await adapter.verify(sha1)
        adapter.account.plugin_options["greenhouse"]["webhook_secret"] = None
        with pytest.raises(sdk.WebhookRejected):
            await adapter.verify(fake.signed(hire))

    async def test_the_unsigned_event_id_is_not_the_identity(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        # A replay with a new Greenhouse-Event-ID is the same webhook: the identity ignores the header.
        first, replay = fake.signed(fake.hire(job_id(3))), None
        replay = dataclasses.replace(first, headers={**first.headers, "Greenhouse-Event-ID": "another"})
        assert await adapter.verify(first) == await adapter.verify(replay) is None
        assert await adapter.parse(first) == await adapter.parse(replay)

    async def test_a_signed_hire_without_its_application_is_malformed(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        body = fake.hire(job_id(3))
        del body["payload"]["application"]["id"]
        with pytest.raises(sdk.WebhookMalformed, match=r"payload\.application\.id"):
            await adapter.parse(fake.signed(body))

    # --- reconciliation -------------------------------------------------------------------------------

    async def test_reconciliation_reports_hires_since_then_only(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        old = fake.hire(job_id(1), at=datetime(2026, 1, 1, tzinfo=UTC))["payload"]["application"]["id"]
        new = fake.hire(job_id(3))["payload"]["application"]["id"]
        fake.apply(job_id(3))
        hires = await adapter.recent(datetime.now(UTC) - timedelta(minutes=1))
        assert [(e.dedupe_key, e.ats_job_id, e.source, e.ats_event) for e in hires] == [
            (f"hired:{new}", job_id(3), "Appcast", "reconciliation")
        ]
        assert str(old) not in {e.ats_application_id for e in hires}
        query = next(r for r in fake.faults.requests if r.startswith("GET /v3/applications"))
        assert "status=hired" in query
        assert "updated_at=gte%7C" in query

    # --- Appcast Apply --------------------------------------------------------------------------------

    async def test_an_application_is_a_candidate_with_appcast_as_its_source(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        result = await adapter.apply(ApplicationSample(sample_job(job_id(1)), APPLICANT, fake.created_ids))
        created = fake.applications[int(result.ats_application_id)]
        assert created["request"] == {
            "first_name": "Ada", "last_name": "King Lovelace",
            "email_addresses": [{"value": "ada@example.com", "type": "personal"}],
            "phone_numbers": [{"value": "+1 503 555 0100", "type": "mobile"}],
            "application": {"job_id": FIRST_JOB_ID + 1, "source_id": APPCAST_SOURCE_ID},
        }  # fmt: skip
        assert result.ats_candidate_id == str(created["candidate_id"])

    async def test_the_resume_and_the_cover_letter_are_attached_to_the_application(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        application = dataclasses.replace(
            APPLICANT, resume_url="https://cv.example/files/ada.pdf?sig=1", cover_letter="Dear Acme,\nhello"
        )
        result = await adapter.apply(ApplicationSample(sample_job(job_id(1)), application, fake.created_ids))
        assert fake.attachments == [
            {"application_id": int(result.ats_application_id), "filename": "ada.pdf", "type": "resume",
             "url": "https://cv.example/files/ada.pdf?sig=1"},
            {"application_id": int(result.ats_application_id), "filename": "cover_letter.txt",
             "type": "cover_letter", "content": base64.b64encode(b"Dear Acme,\nhello").decode()},
        ]  # fmt: skip

    async def test_an_attachment_harvest_refuses_leaves_the_outcome_unknown(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        # Harvest answers 503 to the attachment, every time: the candidate exists, its resume may not.
        fake.attachment_status = 503
        with_resume = dataclasses.replace(APPLICANT, resume_url="https://cv.example/ada.pdf")
        with pytest.raises(sdk.OutcomeUnknown, match="was created without its resume"):
            await adapter.apply(ApplicationSample(sample_job(job_id(1)), with_resume, fake.created_ids))
        assert len(fake.created_ids()) == 1, "one candidate, never sent again"

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"urls": ["https://ada.example"]}, "urls"),
            ({"answers": {"q1": "yes"}}, "answers"),
            ({"name": "Ada"}, "name"),
        ],
    )
    async def test_what_harvest_cannot_take_is_refused_naming_the_field(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse, change: dict[str, Any], field: str
    ) -> None:
        application = dataclasses.replace(APPLICANT, **change)
        with pytest.raises(sdk.ApplicationRefused, match=field):
            await adapter.apply(ApplicationSample(sample_job(job_id(1)), application, fake.created_ids))
        assert not [r for r in fake.faults.requests if r.startswith("POST /v3")], "nothing was sent"

    async def test_harvest_refusals_name_the_field_and_apply_needs_the_source(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        fake.closed_jobs.add(FIRST_JOB_ID + 2)
        with pytest.raises(sdk.ApplicationRefused, match="job_id: Job is closed") as refused:
            await adapter.apply(ApplicationSample(sample_job(job_id(2)), APPLICANT, fake.created_ids))
        assert refused.value.status == 422
        adapter.account.plugin_options["greenhouse"]["appcast_source_id"] = None
        with pytest.raises(sdk.ApplicationRefused, match="appcast_source_id"):
            await adapter.apply(ApplicationSample(sample_job(job_id(1)), APPLICANT, fake.created_ids))
        assert fake.created_ids() == []

    async def test_a_candidate_whose_application_cannot_be_read_back_is_an_unknown_outcome(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        fake.lagging = True
        with pytest.raises(sdk.OutcomeUnknown, match="shows no application of candidate"):
            await adapter.apply(ApplicationSample(sample_job(job_id(1)), APPLICANT, fake.created_ids))
        assert len(fake.created_ids()) == 1, "the candidate exists: the hub must not send it again"

    # --- errors ---------------------------------------------------------------------------------------

    async def test_wrong_credentials_are_auth_errors(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        adapter.account.plugin_options["greenhouse"]["client_secret"] = "not-the-secret"
        with pytest.raises(sdk.AdapterAuthError, match="HTTP 401") as error:
            await adapter.recent(datetime.now(UTC))
        assert "not-the-secret" not in str(error.value)
        adapter.account.plugin_options["greenhouse"]["client_secret"] = CLIENT_SECRET
        await adapter.recent(datetime.now(UTC))
        fake.faults.unauthorized = 1  # a token Harvest no longer takes
        with pytest.raises(sdk.AdapterAuthError):
            await adapter.call("appcast_hub_list_stages", http=adapter.http)
        await adapter.call("appcast_hub_list_stages", http=adapter.http)
        assert len(fake.tokens) == 2, "the refused token was dropped and a new one asked for"

    async def test_a_token_harvest_refuses_on_apply_is_dropped_too(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        await adapter.recent(datetime.now(UTC))  # a token, cached
        fake.faults.unauthorized = 1  # Harvest no longer takes it: POST /v3/candidates answers 401
        with pytest.raises(sdk.AdapterAuthError):
            await adapter.apply(ApplicationSample(sample_job(job_id(1)), APPLICANT, fake.created_ids))
        assert fake.created_ids() == [], "refused: nothing was created"
        await adapter.apply(ApplicationSample(sample_job(job_id(1)), APPLICANT, fake.created_ids))
        assert len(fake.tokens) == 2, "the token refused on the candidate was dropped"
        fake.attachment_status = 401  # POST /v3/attachments answers 401 once the candidate exists
        with_resume = dataclasses.replace(APPLICANT, resume_url="https://cv.example/ada.pdf")
        with pytest.raises(sdk.OutcomeUnknown, match="was created without its resume"):
            await adapter.apply(ApplicationSample(sample_job(job_id(1)), with_resume, fake.created_ids))
        fake.attachment_status = None
        await adapter.recent(datetime.now(UTC))
        assert len(fake.tokens) == 3, "the token refused on the attachment was dropped"

    async def test_a_429_waits_for_retry_after_then_gives_up_saying_how_long(
        self, adapter: AdapterUnderTest, fake: FakeGreenhouse
    ) -> None:
        await adapter.recent(datetime.now(UTC))  # a token first: the token endpoint is not under test here
        fake.faults.rate_limited, fake.faults.retry_after = 1, 0
        assert len(await adapter.call("appcast_hub_list_stages", http=adapter.http)) == 6 * JOBS
        fake.faults.rate_limited, fake.faults.retry_after = 10, 0.01
        with pytest.raises(sdk.AdapterUnavailable, match="HTTP 429") as error:
            await adapter.recent(datetime.now(UTC))
        assert error.value.retry_after == pytest.approx(0.01)

    async def test_without_harvest_credentials_the_harvest_hooks_say_what_is_missing(
        self, adapter: AdapterUnderTest
    ) -> None:
        adapter.account.plugin_options["greenhouse"]["client_id"] = None
        with pytest.raises(sdk.AdapterUnavailable, match="client_id"):
            await adapter.recent(datetime.now(UTC))
        with pytest.raises(sdk.ApplicationRefused, match="client_id"):
            await adapter.apply(ApplicationSample(sample_job(job_id(1)), APPLICANT, list))


BASE = {"board": "acme", "base_url": const.BOARD_URL, "harvest_url": const.HARVEST_URL,
        "auth_url": const.AUTH_URL, "client_id": None, "client_secret": None, "user_id": None,
        "webhook_secret": None, "appcast_source_id": None, "page_size": 100,
        "rate_per_second": 5.0}  # fmt: skip


def check(**options: Any) -> list[tuple[str, str]]:
    info = plugin.appcast_hub_plugin_info()
    assert info.check_options is not None
    return list(info.check_options({**BASE, **options}))


def test_check_options_names_the_option_at_fault() -> None:
    with pytest.raises(
        sdk.ConfigError, match="Harvest v3 needs client_id, client_secret and user_id"
    ) as error:
        check(client_id="id", client_secret="secret")
    assert error.value.key == "user_id"
    with pytest.raises(sdk.ConfigError) as error:
        check(page_size=501)
    assert error.value.key == "page_size"
    assert [option for option, _ in check()] == ["webhook_secret", "client_id"]
    assert [
        option for option, _ in check(webhook_secret="s", client_id="i", client_secret="s", user_id=1)
    ] == ["appcast_source_id"]
    assert check(webhook_secret="s", client_id="i", client_secret="s", user_id=1, appcast_source_id=16) == []
    secrets = {option.name for option in plugin.appcast_hub_plugin_info().options if option.secret}
    assert secrets == {"client_secret", "webhook_secret"}


# --- end to end -------------------------------------------------------------------------------------------


async def test_a_greenhouse_account_syncs_feeds_and_reports_hires(database_url: str, tmp_path: Path) -> None:
    greenhouse, appcast = FakeGreenhouse(jobs=6), sdk.FakeAppcast(token="appcast-bearer-for-tests")
    async with greenhouse.serving(), appcast.serving():
        options = {
            "board": greenhouse.board,
            "base_url": greenhouse.url,
            "harvest_url": greenhouse.url,
            "auth_url": greenhouse.url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "user_id": USER_ID,
            "appcast_source_id": APPCAST_SOURCE_ID,
            "webhook_secret": WEBHOOK_SECRET,
        }
        config = write_config(tmp_path, sdk.end_to_end_config(database_url, "greenhouse", options, appcast))
        async with sdk.serving_hub(config) as url, aiohttp.ClientSession() as http:
            hub = sdk.HubClient(url, http)
            status, synced = await hub.sync()
            assert (status, synced["error"], synced["created"]) == (200, None, len(greenhouse.job_ids))
            jobs = await hub.feed()
            assert set(jobs) == greenhouse.job_ids
            assert jobs[job_id(3)].findtext("description").startswith("<p>Job 3: you &amp; us.</p>"), (
                "the escaped HTML is unescaped"
            )
            # The next sync is incremental: Harvest names the two jobs whose posts changed since the first.
            greenhouse.posts[1].update(title="Senior Registered Nurse", updated_at=iso(datetime.now(UTC)))
            greenhouse.unpublish(job_id(2))
            status, synced = await hub.sync()
            assert (status, synced["error"], synced["full"], synced["seen"]) == (200, None, False, 2)
            assert (synced["updated"], synced["closed"]) == (2, 1), "job 1 edited; job 2 closed (its row too)"
            jobs = await hub.feed()
            assert set(jobs) == greenhouse.job_ids
            assert jobs[job_id(1)].findtext("title") == "Senior Registered Nurse"

            hired_at = datetime(2026, 3, 2, 15, 4, 5, tzinfo=UTC)
            body = greenhouse.hire(job_id(3), email="Ada@Example.com", at=hired_at)
            assert (await hub.post_webhook(greenhouse.signed(body, secret="not-the-secret")))[0] == 401
            # Greenhouse counts only a 200 as delivered (else it retries; a ping's failure disables the hook).
            ping = greenhouse.signed(sample("ping"))
            assert await hub.post_webhook(ping) == (200, {"status": "stored"})
            hire = greenhouse.signed(body)
            assert await hub.post_webhook(hire) == (200, {"status": "stored"})
            assert await hub.post_webhook(hire) == (200, {"status": "already seen"})

            [received] = await appcast.wait_for_events(1)
            assert received.body == {
                "event": "hired",
                "client_id": "client-42",
                "ent_id": "ent-7",
                "job_reference": job_id(3),
                "application_id": str(body["payload"]["application"]["id"]),
                "candidate_hash": hashlib.sha256(b"ada@example.com").hexdigest(),
                "source": "Appcast",
                "stage": None,
                "occurred_at": "2026-03-02T15:04:05Z",
            }
            assert received.authorization == "Bearer appcast-bearer-for-tests"
            assert await models.Event.filter(kind="hired").count() == 1
