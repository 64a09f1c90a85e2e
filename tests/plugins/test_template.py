"""The ``myats`` adapter against a fake MyATS on a real socket: the whole contract kit, then what its
hooks promise beyond it.

It uses only what an adapter outside the hub has: pytest, the SDK and its kit, and the fake.
:class:`MyATSContract` gives the kit every fixture it asks for, so no check is skipped (the hub's own
tests reuse it to break this adapter on purpose and check that the kit notices).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub import sdk
from hub.sdk import AdapterContract, AdapterUnderTest, ApplicationSample, HireSample
from plugins._template import plugin
from tests.peers.myats import (
    API_KEY,
    NAMELESS_JOB,
    QUESTION_JOB,
    UPLOAD_JOB,
    WEBHOOK_SECRET,
    FakeMyATS,
    signed,
)

PAGE_SIZE = 3  # the fake's 8 jobs take 3 pages
APPLICANT = sdk.Application(name="Ada Lovelace", email="ada@example.com", phone="+1 503 555 0100")


def sample_job(ats_id: str) -> sdk.Job:
    """The hub's copy of a job, as ``create_application`` receives it (only the id matters to MyATS)."""
    return sdk.Job(ats_id=ats_id, title=f"Job {ats_id}", posted_at=datetime(2026, 1, 1, tzinfo=UTC))


class MyATSContract(AdapterContract):
    """Every fixture of the kit, from a fresh fake MyATS; subclasses name the plugin."""

    @pytest.fixture
    async def fake(self) -> AsyncIterator[FakeMyATS]:
        ats = FakeMyATS()
        async with ats.serving():
            yield ats

    @pytest.fixture
    def contract_options(self, fake: FakeMyATS) -> dict[str, Any]:
        return {
            "base_url": fake.url,
            "api_key": API_KEY,
            "page_size": PAGE_SIZE,
            "webhook_secret": WEBHOOK_SECRET,
        }

    @pytest.fixture
    def contract_expected_ids(self, fake: FakeMyATS) -> set[str]:
        return fake.job_ids()

    @pytest.fixture
    def contract_min_pages(self) -> int:
        return 3

    @pytest.fixture
    def contract_changed_since(self, fake: FakeMyATS) -> Callable[[], Any]:
        def change() -> tuple[datetime, str]:
            since = datetime.now(UTC) - timedelta(seconds=1)
            fake.change_job("J-2", title="Senior Engineer 2")
            return since, "J-2"

        return change

    @pytest.fixture
    def contract_signed_webhooks(self, fake: FakeMyATS) -> list[sdk.WebhookRequest]:
        hired = fake.hire("J-1")
        moved = fake.stage_change(fake.hire("J-4")["data"]["application_id"], "st-onsite")
        return [signed(hired), signed(moved)]

    @pytest.fixture
    def contract_hire(self, fake: FakeMyATS) -> HireSample:
        since = datetime.now(UTC) - timedelta(seconds=5)
        return HireSample(signed(fake.hire("J-5")), since, "J-5")

    @pytest.fixture
    def contract_application(self, fake: FakeMyATS) -> ApplicationSample:
        return ApplicationSample(sample_job("J-1"), APPLICANT, fake.created_ids)

    @pytest.fixture
    def contract_refused_application(self, fake: FakeMyATS) -> ApplicationSample:
        """J-0 is closed: MyATS answers 422."""
        return ApplicationSample(sample_job("J-0"), APPLICANT, fake.created_ids)

    @pytest.fixture
    def contract_unfillable_application(self, fake: FakeMyATS) -> ApplicationSample:
        """The job's form asks for a file, which Appcast Apply cannot give."""
        return ApplicationSample(sample_job(UPLOAD_JOB), APPLICANT, fake.created_ids)

    @pytest.fixture
    def contract_unconfirmed_application(self, fake: FakeMyATS) -> ApplicationSample:
        """MyATS creates applications to this job but answers without their id."""
        return ApplicationSample(sample_job(NAMELESS_JOB), APPLICANT, fake.created_ids)


class TestMyATS(MyATSContract):
    @pytest.fixture
    def contract_plugin(self) -> tuple[str, Any]:
        return "myats", plugin

    async def test_jobs_are_mapped(self, adapter: AdapterUnderTest) -> None:
        jobs = {job.ats_id: job for page in await adapter.fetch_pages() for job in page.jobs}
        assert not jobs["J-0"].is_open
        job = jobs["J-3"]
        assert (job.title, job.city, job.region, job.country, job.workplace, job.department) == (
            "Engineer 3", "Portland", "OR", "US", "remote", "Engineering",
        )  # fmt: skip
        assert job.posted_at == job.updated_at == datetime(2026, 1, 4, 9, tzinfo=UTC)
        assert job.hosted_url == "https://jobs.myats.example/J-3"
        assert jobs["J-1"].workplace is None

    async def test_a_hire_webhook_is_one_hire_event(self, adapter: AdapterUnderTest, fake: FakeMyATS) -> None:
        body = fake.hire("J-2", email="Ada@Example.com")
        request = signed(body)
        application_id = body["data"]["application_id"]
        assert await adapter.verify(request) == body["id"]
        assert await adapter.parse(request) == [
            sdk.Event(
                kind="hired",
                dedupe_key=f"hired:{application_id}",
                occurred_at=datetime.fromisoformat(body["created_at"]),
                ats_job_id="J-2",
                ats_application_id=application_id,
                ats_candidate_id=f"C-{application_id}",
                source="Appcast",
                candidate_hash=sdk.candidate_hash("ada@example.com"),
                ats_event="candidate.hired",
            )
        ]

    async def test_a_stage_change_carries_the_stage_and_the_funnel_event_its_kind_suggests(
        self, adapter: AdapterUnderTest, fake: FakeMyATS
    ) -> None:
        application_id = fake.hire("J-2")["data"]["application_id"]
        (event,) = await adapter.parse(signed(fake.stage_change(application_id, "st-offer")))
        assert (event.kind, event.to_stage_id, event.stage_name, event.suggested_funnel_event) == (
            "stage_changed", "st-offer", "Offer", "offer",
        )  # fmt: skip
        (other,) = await adapter.parse(signed(fake.stage_change(application_id, "st-hold")))
        assert (other.stage_name, other.suggested_funnel_event) == ("On hold", None)
        assert event.dedupe_key != other.dedupe_key

    async def test_stages_are_listed_with_their_suggested_funnel_events(
        self, adapter: AdapterUnderTest
    ) -> None:
        stages = await adapter.call("appcast_hub_list_stages", http=adapter.http)
        suggested = {stage.id: stage.suggested_funnel_event for stage in stages}
        assert suggested == {
            "st-new": "applied", "st-phone": "screen", "st-onsite": "interview", "st-offer": "offer",
            "st-hired": "hired", "st-hold": None,
        }  # fmt: skip

    async def test_other_webhooks_are_ignored_and_bad_ones_refused(self, adapter: AdapterUnderTest) -> None:
        assert await adapter.parse(signed({"id": "evt_2", "type": "candidate.created", "data": {}})) == []
        hire = {"id": "evt_3", "type": "candidate.hired", "created_at": "2026-03-02T10:00:00Z", "data": {}}
        with pytest.raises(sdk.WebhookMalformed, match=r"data\.application_id"):
            await adapter.parse(signed(hire))
        undated = {**hire, "created_at": "2026-03-02T10:00:00", "data": {"application_id": "A-1"}}
        with pytest.raises(sdk.WebhookMalformed, match="created_at"):
            await adapter.parse(signed(undated))

    async def test_a_webhook_signed_with_another_secret_is_refused(self, adapter: AdapterUnderTest) -> None:
        with pytest.raises(sdk.WebhookRejected, match="X-MyATS-Signature"):
            await adapter.verify(signed({"id": "evt_5", "type": "candidate.hired"}, secret="not-the-secret"))

    async def test_reconciliation_reports_hires_since_then_only(
        self, adapter: AdapterUnderTest, fake: FakeMyATS
    ) -> None:
        fake.hire("J-1")
        since = datetime.now(UTC) + timedelta(milliseconds=1)
        assert await adapter.recent(since) == []
        assert [event.ats_job_id for event in await adapter.recent(since - timedelta(minutes=1))] == ["J-1"]

    async def test_an_answered_required_question_is_sent_and_an_unanswered_one_refused(
        self, adapter: AdapterUnderTest, fake: FakeMyATS
    ) -> None:
        unanswered = ApplicationSample(sample_job(QUESTION_JOB), APPLICANT, fake.created_ids)
        with pytest.raises(sdk.ApplicationRefused, match="q-visa"):
            await adapter.apply(unanswered)
        assert fake.created_ids() == []
        answered = sdk.Application(name="Ada Lovelace", email="ada@example.com", answers={"q-visa": "No"})
        result = await adapter.apply(ApplicationSample(sample_job(QUESTION_JOB), answered, fake.created_ids))
        created = fake.applications[result.ats_application_id]
        assert (created["answers"], created["source"]) == ({"q-visa": "No"}, "Appcast")

    async def test_the_ats_refusal_is_named_in_the_error(self, adapter: AdapterUnderTest) -> None:
        with pytest.raises(sdk.ApplicationRefused, match="not accepting applications"):
            await adapter.apply(ApplicationSample(sample_job("J-0"), APPLICANT, list))

    async def test_a_wrong_api_key_is_an_auth_error(self, adapter: AdapterUnderTest, fake: FakeMyATS) -> None:
        adapter.account.plugin_options["myats"]["api_key"] = "not-the-key"
        with pytest.raises(sdk.AdapterAuthError):
            await adapter.fetch_pages()

    async def test_a_cursor_that_does_not_move_fails_the_fetch(
        self, adapter: AdapterUnderTest, fake: FakeMyATS
    ) -> None:
        fake.stuck = True
        with pytest.raises(sdk.AdapterUnavailable, match="page cursor it had sent before"):
            await adapter.fetch_pages()
