"""The ``workable`` adapter against a fake Workable on a real socket: the whole contract kit, what its
hooks promise beyond it, and a hub with a Workable account end to end (sync, feed, webhook, Appcast).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub import sdk
from hub.sdk import AdapterContract, AdapterUnderTest, ApplicationSample, HireSample
from plugins.workable import plugin
from plugins.workable.mapping import job_from_item
from tests.conftest import write_config
from tests.peers.workable import API_KEY, QUESTION_JOB, SUBDOMAIN, UPLOAD_JOB, FakeWorkable, sample, signed

PAGE_SIZE = 3  # the fake's 8 jobs take 3 pages
APPLICANT = sdk.Application(name="Ada Lovelace", email="ada@example.com", phone="+1 503 555 0100")


def sample_job(ats_id: str) -> sdk.Job:
    """The hub's copy of a job, as ``create_application`` receives it (only the shortcode matters)."""
    return sdk.Job(ats_id=ats_id, title=f"Job {ats_id}", posted_at=datetime(2026, 1, 1, tzinfo=UTC))


class TestWorkable(AdapterContract):
    @pytest.fixture
    async def fake(self) -> AsyncIterator[FakeWorkable]:
        workable = FakeWorkable()
        async with workable.serving():
            yield workable

    @pytest.fixture
    def contract_plugin(self) -> tuple[str, Any]:
        return "workable", plugin

    @pytest.fixture
    def contract_options(self, fake: FakeWorkable) -> dict[str, Any]:
        return {"subdomain": SUBDOMAIN, "base_url": fake.url, "api_key": API_KEY, "page_size": PAGE_SIZE}

    @pytest.fixture
    def contract_expected_ids(self, fake: FakeWorkable) -> set[str]:
        return fake.job_ids()

    @pytest.fixture
    def contract_min_pages(self) -> int:
        return 3

    @pytest.fixture
    def contract_changed_since(self, fake: FakeWorkable) -> Callable[[], Any]:
        def change() -> tuple[datetime, str]:
            since = datetime.now(UTC) - timedelta(seconds=1)
            fake.change_job("ACME002", title="Senior Engineer 2")
            return since, "ACME002"

        return change

    @pytest.fixture
    def contract_signed_webhooks(self, fake: FakeWorkable) -> list[sdk.WebhookRequest]:
        # Two webhooks about one candidate: Workable's body ``id`` (the candidate's) would be one identity.
        candidate_id = fake.add_candidate("ACME004")
        created = fake.webhook(candidate_id, "candidate_created")
        moved = fake.move(candidate_id, "Interview")
        return [signed(fake.hire("ACME002")), signed(created), signed(moved)]

    @pytest.fixture
    def contract_hire(self, fake: FakeWorkable) -> HireSample:
        since = datetime.now(UTC) - timedelta(seconds=5)
        return HireSample(signed(fake.hire("ACME005")), since, "ACME005")

    @pytest.fixture
    def contract_application(self, fake: FakeWorkable) -> ApplicationSample:
        return ApplicationSample(sample_job("ACME002"), APPLICANT, fake.created_ids)

    @pytest.fixture
    def contract_refused_application(self, fake: FakeWorkable) -> ApplicationSample:
        """ACME000 is archived: Workable answers 422."""
        return ApplicationSample(sample_job("ACME000"), APPLICANT, fake.created_ids)

    @pytest.fixture
    def contract_unfillable_application(self, fake: FakeWorkable) -> ApplicationSample:
        """The job's form asks for a file, which Appcast Apply cannot give."""
        return ApplicationSample(sample_job(UPLOAD_JOB), APPLICANT, fake.created_ids)

    @pytest.fixture
    def contract_unconfirmed_application(self, fake: FakeWorkable) -> ApplicationSample:
        """Workable creates the candidate but answers 201 without its id."""
        fake.nameless_answer = True
        return ApplicationSample(sample_job("ACME002"), APPLICANT, fake.created_ids)

    # --- jobs ---------------------------------------------------------------------------------------

    async def test_every_job_field_is_mapped(self, adapter: AdapterUnderTest) -> None:
        jobs = {job.ats_id: job for page in await adapter.fetch_pages() for job in page.jobs}
        assert {ats_id for ats_id, job in jobs.items() if not job.is_open} == {
            "ACME000",
            "ACME001",
            "ACME007",
        }
        assert jobs["ACME002"] == sdk.Job(
            ats_id="ACME002",
            title="Engineer 2",
            posted_at=datetime(2026, 1, 3, 9, tzinfo=UTC),
            updated_at=datetime(2026, 1, 3, 9, tzinfo=UTC),
            is_open=True,
            description_html="<p>Job 2</p>",
            requisition_id="ENG/2",
            city="Chicago",
            region="Illinois",
            country="US",
            postal_code="60290",
            workplace="onsite",
            department="Sales",
            employment_type="full-time",
            salary_text="USD 40000-50000",
            hosted_url="https://acme.workable.com/j/ACME002",
            apply_url="https://apply.workable.com/acme/j/ACME002/apply",
        )
        assert jobs["ACME003"].workplace == "remote"

    def test_a_job_without_full_description_is_assembled_from_its_parts(self) -> None:
        item = {**sample("job"), "full_description": None, "salary": None, "employment_type": "part_time"}
        item["location"] = {"workplace_type": None, "telecommuting": True}
        job = job_from_item(item)
        assert job.description_html == (
            "<p>We are looking for a Sales Intern...</p><h3>Requirements</h3><ul><li>Driven</li></ul>"
            "<h3>Benefits</h3><p>Lunch</p>"
        )
        assert (job.workplace, job.employment_type, job.salary_text) == ("remote", "part-time", None)

    async def test_an_incremental_fetch_asks_workable_for_updated_jobs_only(
        self, adapter: AdapterUnderTest, fake: FakeWorkable
    ) -> None:
        since = datetime.now(UTC) - timedelta(seconds=1)
        fake.change_job("ACME006")
        pages = await adapter.fetch_pages(since)
        assert [[job.ats_id for job in page.jobs] for page in pages] == [["ACME006"]]
        assert not pages[0].snapshot
        assert f"updated_after={int(since.timestamp())}" in fake.faults.requests[-1]

    async def test_a_next_page_on_another_host_is_not_followed(
        self, adapter: AdapterUnderTest, fake: FakeWorkable
    ) -> None:
        fake.foreign_next = True
        with pytest.raises(sdk.AdapterUnavailable, match="Workable sent a link outside its API"):
            await adapter.fetch_pages()

    async def test_a_wrong_token_is_an_auth_error(self, adapter: AdapterUnderTest) -> None:
        adapter.account.plugin_options["workable"]["api_key"] = "not-the-token"
        with pytest.raises(sdk.AdapterAuthError):
            await adapter.fetch_pages()

    async def test_a_429_waits_for_retry_after_then_succeeds_or_reports_it(
        self, adapter: AdapterUnderTest, fake: FakeWorkable
    ) -> None:
        fake.faults.rate_limited, fake.faults.retry_after = 1, 0.01
        assert len(await adapter.fetch_pages()) == 3
        # Six attempts (a 10-second interval's worth of backoff when Workable names no wait), then the
        # wait it asked for goes with the error, for the hub's queue.
        fake.faults.rate_limited = 10
        with pytest.raises(sdk.AdapterUnavailable, match="after 6 attempts") as raised:
            await adapter.fetch_pages()
        assert (raised.value.status, raised.value.retry_after) == (429, 0.01)

    # --- stages and webhooks ------------------------------------------------------------------------

    async def test_stages_are_listed_with_the_funnel_events_their_kinds_suggest(
        self, adapter: AdapterUnderTest
    ) -> None:
        stages = await adapter.call("appcast_hub_list_stages", http=adapter.http)
        assert {stage.id: stage.suggested_funnel_event for stage in stages} == {
            "sourced": None, "applied": "applied", "shortlisted": "screen", "phone-screen": "screen",
            "assessment": "screen", "interview": "interview", "offer": "offer", "hired": "hired",
        }  # fmt: skip

    async def test_a_hire_webhook_is_one_hire_event(
        self, adapter: AdapterUnderTest, fake: FakeWorkable
    ) -> None:
        body = fake.hire("ACME002", email="Ada@Example.com")
        candidate_id = body["data"]["id"]
        assert await adapter.verify(signed(body)) is None, "the body's id is the candidate's, no delivery id"
        assert await adapter.parse(signed(body)) == [
            sdk.Event(
                kind="hired",
                dedupe_key=f"hired:{candidate_id}",
                occurred_at=datetime.fromisoformat(body["data"]["hired_at"]),
                ats_job_id="ACME002",
                ats_application_id=candidate_id,
                ats_candidate_id=candidate_id,
                source="Appcast",
                candidate_hash=sdk.candidate_hash("ada@example.com"),
                ats_event="candidate_moved",
            )
        ]

    async def test_the_documented_sample_webhook_is_a_hire(self, adapter: AdapterUnderTest) -> None:
        (event,) = await adapter.parse(signed(sample("candidate_moved")))
        assert (event.kind, event.dedupe_key, event.ats_job_id, event.source) == (
            "hired", "hired:ce4da98", "GROOV003", "Appcast",
        )  # fmt: skip

    async def test_moves_and_disqualifications(self, adapter: AdapterUnderTest, fake: FakeWorkable) -> None:
        candidate_id = fake.add_candidate("ACME002")
        (offer,) = await adapter.parse(signed(fake.move(candidate_id, "Offer")))
        assert (offer.kind, offer.to_stage_id, offer.stage_name, offer.suggested_funnel_event) == (
            "stage_changed", "offer", "Offer", "offer",
        )  # fmt: skip
        (own,) = await adapter.parse(signed(fake.move(candidate_id, "Team chat")))
        assert (own.kind, own.to_stage_id, own.suggested_funnel_event) == ("stage_changed", "team-chat", None)
        assert offer.dedupe_key != own.dedupe_key
        moved = fake.move(candidate_id, "Offer", disqualified=True, disqualified_at="2026-03-02T10:00:00Z")
        (archived,) = await adapter.parse(signed(moved))
        assert (archived.kind, archived.dedupe_key) == (
            "archived",
            f"archived:{candidate_id}:2026-03-02T10:00:00+00:00",
        )

    async def test_two_quick_moves_are_one_stage_change_of_the_stage_reported(
        self, adapter: AdapterUnderTest, fake: FakeWorkable
    ) -> None:
        # Workable posts the candidate as at request time: after two quick moves, both webhooks (two
        # fired_at) report the later stage. It is one stage change, not two.
        candidate_id = fake.add_candidate("ACME002")
        start = datetime.now(UTC)
        interview = fake.move(candidate_id, "Interview", at=start)
        offer = fake.move(candidate_id, "Offer", at=start + timedelta(seconds=1))
        late, on_time = fake.as_sent(interview), fake.as_sent(offer)
        assert late["fired_at"] != on_time["fired_at"]
        events = [*await adapter.parse(signed(late)), *await adapter.parse(signed(on_time))]
        assert [(event.kind, event.to_stage_id) for event in events] == [("stage_changed", "offer")] * 2
        assert {event.dedupe_key for event in events} == {f"stage:{candidate_id}:offer"}
        # A hire is keyed by the candidate alone, whichever webhook (or the reconciliation) reports it.
        (hire,) = await adapter.parse(signed(fake.move(candidate_id, "Hired")))
        (again,) = await adapter.recent(start - timedelta(minutes=1))
        assert hire.dedupe_key == again.dedupe_key == f"hired:{candidate_id}"

    async def test_a_candidate_a_recruiter_sourced_is_no_application(
        self, adapter: AdapterUnderTest, fake: FakeWorkable
    ) -> None:
        sourced = fake.webhook(fake.add_candidate("ACME002", sourced=True), "candidate_created")
        assert sourced["data"]["sourced"] is True
        assert await adapter.parse(signed(sourced)) == [], "nobody applied: Appcast is told nothing"
        applied = fake.webhook(fake.add_candidate("ACME002"), "candidate_created")
        assert [event.kind for event in await adapter.parse(signed(applied))] == ["application_created"]

    async def test_other_webhooks_are_accepted_and_ignored(self, adapter: AdapterUnderTest) -> None:
        for body in (
            {"event_type": "candidate_deleted", "data": {"id": "c1"}},
            {"event_type": "employee_created"},
            {},
        ):
            request = signed(body)
            assert await adapter.verify(request) is None
            assert await adapter.parse(request) == []

    async def test_bad_signed_bodies_are_malformed(self, adapter: AdapterUnderTest) -> None:
        with pytest.raises(sdk.WebhookMalformed, match=r"data\.id"):
            await adapter.parse(signed({"event_type": "candidate_moved", "data": {}}))
        undated = {"event_type": "candidate_moved", "fired_at": "2026-03-02T10:00:00", "data": {"id": "c1"}}
        with pytest.raises(sdk.WebhookMalformed, match="fired_at"):
            await adapter.parse(signed(undated))

    async def test_forged_and_replayed_bodies_are_refused(
        self, adapter: AdapterUnderTest, fake: FakeWorkable
    ) -> None:
        body = fake.hire("ACME002")
        with pytest.raises(sdk.WebhookRejected, match="X-Workable-Signature"):
            await adapter.verify(signed(body, secret="not-the-token"))
        genuine = signed(body)
        # A captured signature on another body: the signature covers the whole body, so it is refused.
        other = signed({**body, "data": {**body["data"], "job": {"shortcode": "ACME004"}}})
        with pytest.raises(sdk.WebhookRejected):
            await adapter.verify(sdk.WebhookRequest(genuine.headers, other.body, {}, genuine.received_at))

    async def test_an_oauth_app_secret_and_base64_can_be_configured(
        self, adapter: AdapterUnderTest, fake: FakeWorkable
    ) -> None:
        options = adapter.account.plugin_options["workable"]
        options.update(webhook_secret="oauth-app-secret", signature_encoding="base64")
        body = fake.hire("ACME002")
        assert await adapter.verify(signed(body, secret="oauth-app-secret", encoding="base64")) is None
        with pytest.raises(sdk.WebhookRejected):
            await adapter.verify(signed(body))

    async def test_reconciliation_reports_hires_since_then_only(
        self, adapter: AdapterUnderTest, fake: FakeWorkable
    ) -> None:
        fake.hire("ACME002")
        fake.add_candidate("ACME004")
        assert await adapter.recent(datetime.now(UTC) + timedelta(seconds=2)) == []
        (hire,) = await adapter.recent(datetime.now(UTC) - timedelta(minutes=1))
        assert (hire.kind, hire.ats_job_id, hire.ats_event) == ("hired", "ACME002", "reconciliation")

    # --- applications -------------------------------------------------------------------------------

    async def test_an_application_is_created_as_applied_with_appcast_as_its_domain(
        self, adapter: AdapterUnderTest, fake: FakeWorkable
    ) -> None:
        answers = {"2b5f": "No", "3c7a": "2 or more", "4e9b": "The product"}
        application = sdk.Application(name="Ada Lovelace", email="ada@example.com", answers=answers)
        result = await adapter.apply(
            ApplicationSample(sample_job(QUESTION_JOB), application, fake.created_ids)
        )
        created = fake.candidates[result.ats_application_id]
        assert (created["domain"], created["sourced"], created["job"]["shortcode"]) == (
            "Appcast",
            False,
            QUESTION_JOB,
        )
        assert created["answers"] == [
            {"question_key": "2b5f", "checked": False},
            {"question_key": "3c7a", "choices": ["1d2f"]},
            {"question_key": "4e9b", "body": "The product"},
        ]

    @pytest.mark.parametrize(
        ("answers", "named"),
        [
            ({"2b5f": "No", "3c7a": "2 or more"}, "question 4e9b"),
            ({"2b5f": "Maybe", "3c7a": "2 or more", "4e9b": "x"}, "question 2b5f takes yes or no"),
            ({"2b5f": "No", "3c7a": "Ten", "4e9b": "x"}, "'Ten' is not an answer question 3c7a offers"),
            ({"2b5f": "No", "3c7a": "2 or more", "4e9b": "x", "9z": "y"}, "no question 9z"),
        ],
    )
    async def test_answers_the_form_cannot_take_are_refused_naming_the_question(
        self, adapter: AdapterUnderTest, fake: FakeWorkable, answers: dict[str, Any], named: str
    ) -> None:
        application = sdk.Application(name="Ada Lovelace", email="ada@example.com", answers=answers)
        with pytest.raises(sdk.ApplicationRefused, match=named):
            await adapter.apply(ApplicationSample(sample_job(QUESTION_JOB), application, fake.created_ids))
        assert fake.created_ids() == []

    async def test_required_form_fields_and_file_questions_are_refused_before_sending(
        self, adapter: AdapterUnderTest, fake: FakeWorkable
    ) -> None:
        with pytest.raises(sdk.ApplicationRefused, match="file question"):
            await adapter.apply(ApplicationSample(sample_job(UPLOAD_JOB), APPLICANT, fake.created_ids))
        one_name = sdk.Application(name="Ada", email="ada@example.com")
        with pytest.raises(sdk.ApplicationRefused, match="requires lastname"):
            await adapter.apply(ApplicationSample(sample_job("ACME002"), one_name, fake.created_ids))
        with pytest.raises(sdk.ApplicationRefused, match="not in Workable"):
            await adapter.apply(ApplicationSample(sample_job("NOPE"), APPLICANT, fake.created_ids))
        assert fake.created_ids() == []

    async def test_workable_refusing_is_a_422_naming_its_reason(self, adapter: AdapterUnderTest) -> None:
        with pytest.raises(sdk.ApplicationRefused, match="not accepting applications"):
            await adapter.apply(ApplicationSample(sample_job("ACME000"), APPLICANT, list))

    async def test_a_candidate_created_without_workable_naming_it_is_an_unknown_outcome(
        self, adapter: AdapterUnderTest, fake: FakeWorkable
    ) -> None:
        # Workable answered 201: the candidate exists. AdapterUnavailable would let Appcast retry (a
        # second candidate); the outcome is unknown and must not be resent.
        fake.nameless_answer = True
        with pytest.raises(sdk.OutcomeUnknown, match="ACME002's application without naming the candidate"):
            await adapter.apply(ApplicationSample(sample_job("ACME002"), APPLICANT, fake.created_ids))
        assert len(fake.created_ids()) == 1

    # --- options ------------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("change", "key"),
        [
            ({"subdomain": "Acme Inc"}, "subdomain"),
            ({"page_size": 500}, "page_size"),
            ({"page_size": 0}, "page_size"),
        ],
    )
    def test_options_that_cannot_work_are_refused_naming_the_option(
        self, change: dict[str, Any], key: str
    ) -> None:
        info = plugin.appcast_hub_plugin_info()
        options = {"subdomain": "acme", "page_size": 100, "rate_per_second": 1.0, **change}
        assert info.check_options is not None
        with pytest.raises(sdk.ConfigError) as raised:
            info.check_options(options)
        assert raised.value.key == key

    def test_a_rate_above_workables_limit_is_a_warning(self) -> None:
        info = plugin.appcast_hub_plugin_info()
        assert info.check_options is not None
        options = {"subdomain": "acme", "page_size": 100}
        assert info.check_options({**options, "rate_per_second": 0.9}) == []
        for rate, said in ((5.0, "5/s"), (0.0, "0 (no limit)")):
            assert info.check_options({**options, "rate_per_second": rate}) == [
                ("rate_per_second", f"{said}: an account token gets 10 requests per 10 s, beyond is 429")
            ]
        assert {o.name for o in info.options if o.secret} == {"api_key", "webhook_secret"}


async def test_a_workable_account_syncs_feeds_and_reports_hires(database_url: str, tmp_path: Path) -> None:
    workable, appcast = FakeWorkable(), sdk.FakeAppcast(token="appcast-bearer-for-tests")
    async with workable.serving(), appcast.serving():
        options = {"subdomain": SUBDOMAIN, "base_url": workable.url, "api_key": API_KEY, "rate_per_second": 0}
        account = 'apply_key = "apply-key-for-tests"'
        config = write_config(
            tmp_path, sdk.end_to_end_config(database_url, "workable", options, appcast, account_extra=account)
        )
        async with sdk.serving_hub(config) as url, aiohttp.ClientSession() as http:
            hub = sdk.HubClient(url, http)
            status, synced = await hub.sync()
            assert (status, synced["error"], synced["created"]) == (200, None, 8)
            open_jobs = {"ACME002", "ACME003", "ACME004", "ACME005", "ACME006"}
            assert set(await hub.feed()) == open_jobs

            body = workable.hire("ACME004", email="Ada@Example.com")
            assert (await hub.post_webhook(signed(body, secret="not-the-token")))[0] == 401
            # Workable redelivers what is not answered 200: new and already seen alike get 200.
            assert await hub.post_webhook(signed(body)) == (200, {"status": "stored"})
            assert await hub.post_webhook(signed(body)) == (200, {"status": "already seen"})

            [received] = await appcast.wait_for_events(1)
            assert received.body == {
                "event": "hired",
                "client_id": "client-42",
                "ent_id": "ent-7",
                "job_reference": "ACME004",
                "application_id": body["data"]["id"],
                "candidate_hash": hashlib.sha256(b"ada@example.com").hexdigest(),
                "source": "Appcast",
                "stage": None,
                "occurred_at": datetime.fromisoformat(body["data"]["hired_at"]).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
            }
            assert received.authorization == "Bearer appcast-bearer-for-tests"

            async def apply(shortcode: str, body: dict[str, Any]) -> tuple[int, Any]:
                headers = {"Authorization": "Bearer apply-key-for-tests"}
                async with http.post(f"{url}/apply/acme/{shortcode}", json=body, headers=headers) as answer:
                    return answer.status, await answer.json()

            applicant = {"name": "Ada Lovelace", "email": "ada@example.com", "answers": {"2b5f": "No"}}
            assert await apply(QUESTION_JOB, applicant) == (
                422, {"error": f"job {QUESTION_JOB} requires an answer to question 3c7a"},
            )  # fmt: skip
            assert workable.created_ids() == []
            status, created = await apply("ACME002", {"name": "Ada Lovelace", "email": "ada@example.com"})
            assert (status, workable.created_ids()) == (201, [created["application_id"]])
            assert workable.candidates[created["application_id"]]["domain"] == "Appcast"
