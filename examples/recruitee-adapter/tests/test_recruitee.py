"""The ``recruitee`` adapter against a fake Recruitee on a real socket: the whole contract kit, then what
its hooks promise beyond it. Run ``pytest`` in this folder, in any environment that has appcast-hub.

It uses only what an adapter outside the hub has: pytest, the SDK and its kit, and its own fake.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from appcast_hub_recruitee import plugin
from fake_recruitee import (
    API_TOKEN,
    CLOSED,
    COMPANY,
    CV_OFFER,
    DRAFT,
    ENGINEERING_TEMPLATE,
    FIRST_OFFER,
    PAYLOADS,
    PHOTO_OFFER,
    WEBHOOK_SECRET,
    FakeRecruitee,
    load,
    signed,
)

from hub import sdk

APPLICANT = sdk.Application(name="Ada Lovelace", email="ada@example.com", phone="+31 20 555 0100")
OFFER = FIRST_OFFER + 3


def sample_job(offer_id: int) -> sdk.Job:
    """The hub's copy of an offer, as ``create_application`` receives it (only the id matters)."""
    return sdk.Job(
        ats_id=str(offer_id), title=f"Offer {offer_id}", posted_at=datetime(2026, 1, 1, tzinfo=UTC)
    )


class RecruiteeContract(sdk.AdapterContract):
    """Every fixture of the kit, from a fresh fake Recruitee."""

    @pytest.fixture
    async def fake(self) -> AsyncIterator[FakeRecruitee]:
        recruitee = FakeRecruitee()
        async with recruitee.serving():
            yield recruitee

    @pytest.fixture
    def contract_plugin(self) -> tuple[str, Any]:
        return "recruitee", plugin

    @pytest.fixture
    def contract_options(self, fake: FakeRecruitee) -> dict[str, Any]:
        return {"company_id": COMPANY, "api_token": API_TOKEN, "webhook_secret": WEBHOOK_SECRET,
                "base_url": fake.url, "page_size": 2}  # fmt: skip

    @pytest.fixture
    def contract_expected_ids(self, fake: FakeRecruitee) -> set[str]:
        return fake.offer_ids()

    @pytest.fixture
    def contract_min_pages(self) -> int:
        return 1  # Recruitee answers GET /offers with every offer at once

    @pytest.fixture
    def contract_changed_since(self, fake: FakeRecruitee) -> Callable[[], Any]:
        """An offer edited: Recruitee cannot list offers by update time, so the fetch is a full snapshot."""

        def change() -> tuple[datetime, str]:
            since = datetime.now(UTC) - timedelta(seconds=1)
            fake.change_offer(FIRST_OFFER + 2, title="Senior Backend Engineer")
            return since, str(FIRST_OFFER + 2)

        return change

    @pytest.fixture
    def contract_signed_webhooks(self, fake: FakeRecruitee) -> list[sdk.WebhookRequest]:
        onsite = {"id": 8080461, "name": "On-site interview", "category": "interview"}
        return [signed(fake.hire(FIRST_OFFER + 1)), signed(fake.moved(OFFER, onsite)),
                signed(fake.created_candidate(FIRST_OFFER + 4))]  # fmt: skip

    @pytest.fixture
    def contract_hire(self, fake: FakeRecruitee) -> sdk.HireSample:
        since = datetime.now(UTC) - timedelta(seconds=5)
        return sdk.HireSample(signed(fake.hire(OFFER)), since, str(OFFER))

    @pytest.fixture
    def contract_application(self, fake: FakeRecruitee) -> sdk.ApplicationSample:
        return sdk.ApplicationSample(sample_job(OFFER), APPLICANT, lambda: fake.created)

    @pytest.fixture
    def contract_refused_application(self, fake: FakeRecruitee) -> sdk.ApplicationSample:
        """The offer is closed: Recruitee answers 422."""
        return sdk.ApplicationSample(sample_job(CLOSED), APPLICANT, lambda: fake.created)

    @pytest.fixture
    def contract_unfillable_application(self, fake: FakeRecruitee) -> sdk.ApplicationSample:
        """The offer's form requires a photo, which Appcast Apply cannot give."""
        return sdk.ApplicationSample(sample_job(PHOTO_OFFER), APPLICANT, lambda: fake.created)

    @pytest.fixture
    def contract_unconfirmed_application(self, fake: FakeRecruitee) -> sdk.ApplicationSample:
        """Recruitee creates the candidate but answers without placing it on the offer."""
        fake.unplaced_answer = "placements"
        return sdk.ApplicationSample(sample_job(OFFER), APPLICANT, lambda: fake.created)


class TestRecruitee(RecruiteeContract):
    async def test_every_offer_field_is_mapped(self, adapter: sdk.AdapterUnderTest) -> None:
        jobs = {job.ats_id: job for page in await adapter.fetch_pages() for job in page.jobs}
        moment = datetime(2026, 1, 4, 9, tzinfo=UTC)
        assert jobs[str(OFFER)] == sdk.Job(
            ats_id=str(OFFER), title="Backend Engineer 3", posted_at=moment, updated_at=moment, is_open=True,
            description_html="<p>Build the services our recruiters rely on.</p>"
            "<ul><li>Three years of Python</li></ul>",
            city="Amsterdam", region="North Holland", country="NL", postal_code="1011", workplace="hybrid",
            department="Engineering", employment_type="full-time", salary_text="EUR 60000-75000 per year",
            hosted_url="https://acme.recruitee.com/o/backend-engineer-3",
            apply_url="https://acme.recruitee.com/o/backend-engineer-3/c/new",
        )  # fmt: skip
        assert jobs[str(FIRST_OFFER + 1)].workplace == "remote"
        assert jobs[str(FIRST_OFFER + 2)].workplace is None
        assert not jobs[str(CLOSED)].is_open
        assert not jobs[str(DRAFT)].is_open

    async def test_an_offer_it_cannot_map_fails_the_sync(
        self, adapter: sdk.AdapterUnderTest, fake: FakeRecruitee
    ) -> None:
        fake.offers[2]["created_at"] = fake.offers[2]["published_at"] = "2026-01-03T09:00:00"
        with pytest.raises(sdk.AdapterUnavailable, match="created_at"):
            await adapter.fetch_pages()

    async def test_stages_are_listed_with_their_pipeline_and_the_funnel_event_their_category_suggests(
        self, adapter: sdk.AdapterUnderTest, fake: FakeRecruitee
    ) -> None:
        stages = await adapter.call("appcast_hub_list_stages", http=adapter.http)
        suggested = {stage.name: stage.suggested_funnel_event for stage in stages}
        assert suggested == {
            "Default: Referred": None, "Default: Sourced": None, "Default: Applied": "applied",
            "Default: Phone interview": "screen", "Default: On-site interview": "interview",
            "Default: Evaluation": "interview", "Default: Offer": "offer", "Default: Hired": "hired",
            "Engineering: Applied": "applied", "Engineering: Tech test": "interview",
            "Engineering: Signed": "hired", "Engineering: Talent pool": None,
        }  # fmt: skip
        # No workflow: webhooks name no pipeline, and the hub maps a stage by (workflow, id).
        assert {stage.workflow for stage in stages} == {""}
        assert {"8080464", "8090003"} <= {stage.id for stage in stages}
        # One offer read per pipeline template, not one per offer.
        assert len([r for r in fake.faults.requests if r.startswith(f"GET /c/{COMPANY}/offers/")]) == 2

    async def test_a_hire_webhook_is_one_hire_event(
        self, adapter: sdk.AdapterUnderTest, fake: FakeRecruitee
    ) -> None:
        body = fake.hire(OFFER, email="Ada@Example.com")
        candidate = body["payload"]["candidate"]["id"]
        assert await adapter.verify(signed(body)) is None, "no delivery id: the hub names it by its body"
        assert await adapter.parse(signed(body)) == [
            sdk.Event(
                kind="hired", dedupe_key=f"hired:{candidate}:{OFFER}",
                occurred_at=datetime.fromisoformat(body["created_at"]), ats_job_id=str(OFFER),
                ats_application_id=f"{candidate}:{OFFER}", ats_candidate_id=str(candidate),
                to_stage_id="8080464", stage_name="Hired",
                source="Appcast", candidate_hash=sdk.candidate_hash("ada@example.com"),
                ats_event="candidate_moved/stage_changed",
            )
        ]  # fmt: skip

    async def test_the_documented_sample_parses(self, adapter: sdk.AdapterUnderTest) -> None:
        (event,) = await adapter.parse(signed(load("webhook_candidate_moved.json")))
        assert (event.kind, event.ats_job_id, event.dedupe_key) == (
            "hired",
            "1100003",
            "hired:46566917:1100003",
        )
        (created,) = await adapter.parse(signed(load("webhook_candidate_created.json")))
        assert (created.kind, created.source, created.ats_event) == (
            "application_created", "career_site", "candidate_created/created_on_career_site",
        )  # fmt: skip

    async def test_a_stage_change_carries_its_stage_and_the_funnel_event_its_category_suggests(
        self, adapter: sdk.AdapterUnderTest, fake: FakeRecruitee
    ) -> None:
        offer_stage = {"id": 8080463, "name": "Offer", "category": "offer"}
        (event,) = await adapter.parse(signed(fake.moved(OFFER, offer_stage)))
        assert (event.kind, event.to_stage_id, event.stage_name, event.suggested_funnel_event) == (
            "stage_changed", "8080463", "Offer", "offer",
        )  # fmt: skip
        pool = {"id": 8090004, "name": "Talent pool", "category": None}
        (other,) = await adapter.parse(signed(fake.moved(FIRST_OFFER + 1, pool)))
        assert (other.kind, other.suggested_funnel_event) == ("stage_changed", None)
        assert event.dedupe_key != other.dedupe_key

    async def test_which_stage_categories_are_hires_is_configurable(
        self, adapter: sdk.AdapterUnderTest, fake: FakeRecruitee
    ) -> None:
        signed_stage = ENGINEERING_TEMPLATE["stages"][2]
        (hire,) = await adapter.parse(signed(fake.moved(FIRST_OFFER + 1, signed_stage)))
        assert hire.kind == "hired", "any stage of category hire is a hire"
        adapter.account.plugin_options["recruitee"]["hire_categories"] = ["offer"]
        (moved,) = await adapter.parse(signed(fake.moved(FIRST_OFFER + 1, signed_stage)))
        (offer,) = await adapter.parse(
            signed(fake.moved(OFFER, {"id": 8080463, "name": "Offer", "category": "offer"}))
        )
        assert (moved.kind, offer.kind) == ("stage_changed", "hired")

    async def test_a_disqualification_is_archived(
        self, adapter: sdk.AdapterUnderTest, fake: FakeRecruitee
    ) -> None:
        body = fake.created_candidate(OFFER)
        body.update(event_type="candidate_moved", event_subtype="disqualified")
        (event,) = await adapter.parse(signed(body))
        assert (event.kind, event.ats_job_id) == ("archived", str(OFFER))

    async def test_tests_and_other_events_are_accepted_and_ignored(
        self, adapter: sdk.AdapterUnderTest, fake: FakeRecruitee
    ) -> None:
        headers = {"Content-Type": "application/json"}
        ping = sdk.WebhookRequest(
            headers, (PAYLOADS / "webhook_test.json").read_bytes(), {}, datetime.now(UTC)
        )
        # Recruitee's Test button must be answered 200, unsigned: a handshake, answered and never stored.
        with pytest.raises(sdk.WebhookHandshake) as answered:
            await adapter.verify(ping)
        assert answered.value.status == 200
        assert await adapter.parse(ping) == []
        example = {**fake.hire(OFFER), "test": True}  # the "Test payload" buttons: an example, not an event
        assert await adapter.parse(signed(example)) == []
        assert await adapter.parse(signed({**fake.hire(OFFER), "event_type": "candidate_tagged"})) == []
        unplaced = fake.created_candidate(OFFER)
        unplaced["payload"]["offer"] = None  # a candidate created on no offer: no application to report
        assert await adapter.parse(signed(unplaced)) == []

    async def test_forged_and_malformed_webhooks_are_refused(
        self, adapter: sdk.AdapterUnderTest, fake: FakeRecruitee
    ) -> None:
        with pytest.raises(sdk.WebhookRejected, match="X-Recruitee-Signature"):
            await adapter.verify(signed(fake.hire(OFFER), secret="not-the-secret"))
        unsigned = signed(fake.hire(OFFER))
        with pytest.raises(sdk.WebhookRejected):
            await adapter.verify(sdk.WebhookRequest({}, unsigned.body, {}, unsigned.received_at))
        # Only a body whose test flag is exactly true goes unsigned (and it is never an event).
        for flag in (False, 1, "true"):
            with pytest.raises(sdk.WebhookRejected):
                await adapter.verify(signed(json.dumps({"test": flag}).encode(), secret="not-the-secret"))
        hire = fake.hire(OFFER)
        del hire["payload"]["candidate"]["id"]
        with pytest.raises(sdk.WebhookMalformed, match="candidate id"):
            await adapter.parse(signed(hire))
        undated = {**fake.hire(OFFER), "created_at": "2026-03-02T10:00:00"}
        with pytest.raises(sdk.WebhookMalformed, match="created_at"):
            await adapter.parse(signed(undated))

    async def test_without_a_secret_every_signed_webhook_is_refused(
        self, adapter: sdk.AdapterUnderTest
    ) -> None:
        adapter.account.plugin_options["recruitee"]["webhook_secret"] = None
        with pytest.raises(sdk.WebhookRejected):
            await adapter.verify(signed(load("webhook_candidate_moved.json")))

    async def test_reconciliation_pages_every_candidate_and_reports_hires_since_then_only(
        self, adapter: sdk.AdapterUnderTest, fake: FakeRecruitee
    ) -> None:
        now = datetime.now(UTC)
        fake.hire(FIRST_OFFER + 1, at=now - timedelta(days=3))
        for _ in range(4):
            fake.created_candidate(OFFER)
        fake.hire(OFFER, at=now - timedelta(minutes=5))
        events = await adapter.recent(now - timedelta(hours=1))
        assert [(e.kind, e.ats_job_id, e.source) for e in events] == [("hired", str(OFFER), "Appcast")]
        pages = [r for r in fake.faults.requests if r.startswith(f"GET /c/{COMPANY}/candidates")]
        assert len(pages) == 4, "6 candidates, 2 a page, then the empty page that ends the list"
        assert len(await adapter.recent(now - timedelta(days=4))) == 2

    async def test_reconciliation_stops_when_recruitee_ignores_the_offset(
        self, adapter: sdk.AdapterUnderTest, fake: FakeRecruitee
    ) -> None:
        for _ in range(3):
            fake.hire(OFFER)
        fake.ignore_offset = True  # every page is the first: the offset cursor grows, the pages repeat
        # (Without the check it would page forever, so a deadline bounds the test.)
        repeated = r"^Recruitee answered offset 2 with the page before it$"
        with pytest.raises(sdk.AdapterUnavailable, match=repeated):
            async with asyncio.timeout(10):
                await adapter.recent(datetime.now(UTC) - timedelta(hours=1))
        pages = [r for r in fake.faults.requests if r.startswith(f"GET /c/{COMPANY}/candidates")]
        assert len(pages) == 2, "the second page repeating the first ends it"

    @pytest.mark.parametrize("answer", ["placements", "bare"])
    async def test_a_candidate_created_but_not_shown_on_the_offer_is_an_unknown_outcome(
        self, adapter: sdk.AdapterUnderTest, fake: FakeRecruitee, answer: str
    ) -> None:
        # Recruitee took the POST (201): a candidate exists, so Appcast must not send it again, which
        # AdapterUnavailable would let it do.
        fake.unplaced_answer = answer
        named = r"\(no id\)" if answer == "bare" else r"\d+"
        unknown = rf"^Recruitee made candidate {named}, not shown on offer {OFFER}$"
        with pytest.raises(sdk.OutcomeUnknown, match=unknown):
            await adapter.apply(sdk.ApplicationSample(sample_job(OFFER), APPLICANT, lambda: fake.created))
        assert len(fake.created) == 1

    async def test_the_application_is_sent_with_appcast_as_its_source(
        self, adapter: sdk.AdapterUnderTest, fake: FakeRecruitee
    ) -> None:
        application = sdk.Application(name="Ada Lovelace", email="ada@example.com", resume_url="https://cv.example/a.pdf",
                                      cover_letter="Hello", urls=["https://ada.example"])  # fmt: skip
        result = await adapter.apply(
            sdk.ApplicationSample(sample_job(CV_OFFER), application, lambda: fake.created)
        )
        candidate = fake.candidates[-1]
        assert (result.ats_application_id, result.ats_candidate_id) == (
            f"{candidate['id']}:{CV_OFFER}",
            str(candidate["id"]),
        )
        assert candidate["sent"] == {
            "name": "Ada Lovelace", "emails": ["ada@example.com"], "sources": ["Appcast"], "phones": [],
            "links": ["https://ada.example"], "cover_letter": "Hello", "remote_cv_url": "https://cv.example/a.pdf",
        }  # fmt: skip

    @pytest.mark.parametrize(
        ("offer", "application", "field"),
        [(CV_OFFER, APPLICANT, "cv"), (PHOTO_OFFER, APPLICANT, "photo"),
         (OFFER, sdk.Application(name="A", email="a@example.com", answers={"q1": "yes"}), "answers")],
    )  # fmt: skip
    async def test_what_the_form_cannot_take_is_refused_naming_the_field(
        self,
        adapter: sdk.AdapterUnderTest,
        fake: FakeRecruitee,
        offer: int,
        application: sdk.Application,
        field: str,
    ) -> None:
        with pytest.raises(sdk.ApplicationRefused, match=f"^{field}: "):
            await adapter.apply(sdk.ApplicationSample(sample_job(offer), application, lambda: fake.created))
        assert fake.created == []
        assert not any(r.startswith("POST") for r in fake.faults.requests)

    async def test_the_ats_refusal_is_named_in_the_error(
        self, adapter: sdk.AdapterUnderTest, fake: FakeRecruitee
    ) -> None:
        with pytest.raises(sdk.ApplicationRefused, match="not accepting candidates") as refused:
            await adapter.apply(sdk.ApplicationSample(sample_job(CLOSED), APPLICANT, lambda: fake.created))
        assert refused.value.status == 422

    async def test_a_wrong_token_is_an_auth_error(self, adapter: sdk.AdapterUnderTest) -> None:
        adapter.account.plugin_options["recruitee"]["api_token"] = "not-the-token"
        with pytest.raises(sdk.AdapterAuthError):
            await adapter.fetch_pages()

    async def test_rate_limits_are_waited_out_then_reported_with_retry_after(
        self, adapter: sdk.AdapterUnderTest, fake: FakeRecruitee
    ) -> None:
        fake.faults.rate_limited, fake.faults.retry_after = 1, 0.01
        assert len((await adapter.fetch_pages())[0].jobs) == 6, "one 429 is waited out"
        fake.faults.rate_limited, fake.faults.retry_after = 10, 1
        with pytest.raises(sdk.AdapterUnavailable) as failed:
            await adapter.call("appcast_hub_list_stages", http=adapter.http)
        assert failed.value.retry_after == 1


def check(**options: Any) -> list[tuple[str, str]]:
    info = plugin.appcast_hub_plugin_info()
    defaults = {option.name: option.default for option in info.options}
    assert info.check_options is not None
    return list(info.check_options({**defaults, "company_id": COMPANY, "api_token": API_TOKEN, **options}))


def test_options_are_checked_naming_the_option() -> None:
    assert check(webhook_secret=WEBHOOK_SECRET) == []
    [(option, warning)] = check()
    assert option == "webhook_secret"
    assert "reconciliation" in warning
    with pytest.raises(sdk.ConfigError) as slashed:
        check(company_id="acme/offers")
    assert slashed.value.key == "company_id"
    with pytest.raises(sdk.ConfigError) as none:
        check(hire_categories=[])
    assert none.value.key == "hire_categories"
    assert {o.name for o in plugin.appcast_hub_plugin_info().options if o.secret} == {
        "api_token",
        "webhook_secret",
    }
