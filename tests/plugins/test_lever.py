"""The ``lever`` adapter: the contract kit against a fake Lever over real sockets, and Lever's specifics."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.errors import (
    AdapterAuthError,
    AdapterUnavailable,
    ApplicationRefused,
    ConfigError,
    WebhookMalformed,
    WebhookRejected,
    WebhookUnconfirmed,
)
from hub.normalised import Account, Application, ApplicationResult, Event, Job, WebhookRequest, candidate_hash
from hub.options import validate_options
from hub.plugins import PluginHost
from hub.testing import AdapterContract, AdapterUnderTest, ApplicationSample, HireSample, make_account
from plugins.lever import client as lever_client
from plugins.lever import const, mapping
from plugins.lever import plugin as lever_plugin
from tests.peers.lever import (
    API_KEY,
    APPLY_KEY,
    AWKWARD_INDEX,
    BASE_MS,
    HIRED_REASON_ID,
    NON_HIRED_REASON_ID,
    SITE,
    STAGES,
    WEBHOOK_SECRET,
    FakeLever,
    posting_id,
    question_id,
)

#: Keeps the tests quick: no client-side throttling unless a test asks for it.
FAST = {"rate_per_second": 1000.0, "page_size": 7}
OPPORTUNITY = "0b5e1f1e-0000-4000-8000-00000000cafe"
CANDIDATE = "0b5e1f1e-0000-4000-8000-00000000beef"


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # Backoff between retries stays real but tiny; archive reasons are not cached across tests.
    monkeypatch.setattr(const, "BACKOFF_BASE_SECONDS", 0.001)
    lever_client.forget_archive_reasons()


@pytest.fixture
async def fake() -> AsyncIterator[FakeLever]:
    lever = FakeLever(count=30)
    async with lever.serving():
        yield lever


@pytest.fixture
async def make_lever(tmp_path: Path) -> AsyncIterator[Callable[..., AdapterUnderTest]]:
    """Build the adapter, registered in a PluginHost with an account, from a config table."""
    async with aiohttp.ClientSession() as http:

        def make(**table: Any) -> AdapterUnderTest:
            host = PluginHost()
            assert host.register("lever", lever_plugin), host.broken
            options = validate_options(
                host.info("lever").options, table, key="accounts.acme.lever", base_dir=tmp_path
            )
            account = make_account("lever", {"lever": options}, name="acme", company="Acme")
            return AdapterUnderTest(host, "lever", account, http)

        yield make


@pytest.fixture
def public(fake: FakeLever, make_lever: Callable[..., AdapterUnderTest]) -> AdapterUnderTest:
    """The adapter on the public postings API (no key)."""
    return make_lever(site=fake.site, base_url=fake.url, webhook_tokens=[WEBHOOK_SECRET], **FAST)


@pytest.fixture
def v1(fake: FakeLever, make_lever: Callable[..., AdapterUnderTest]) -> AdapterUnderTest:
    """The adapter on API v1 (with a key)."""
    return make_lever(
        site=fake.site, base_url=fake.url, api_key=API_KEY, webhook_tokens=[WEBHOOK_SECRET], **FAST
    )


async def fetch_jobs(adapter: AdapterUnderTest, since: datetime | None = None) -> dict[str, Job]:
    return {job.ats_id: job for page in await adapter.fetch_pages(since) for job in page.jobs}


async def call(adapter: AdapterUnderTest, hook: str, **kwargs: Any) -> Any:
    return await adapter.host.call(adapter.name, f"appcast_hub_{hook}", adapter.account, **kwargs)


def rewrite(request: WebhookRequest, **changes: Any) -> WebhookRequest:
    """The same webhook with top-level body fields changed (None removes one), signature untouched."""
    body = json.loads(request.body)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return dataclasses.replace(request, body=json.dumps(body).encode())


def with_body(request: WebhookRequest, body: bytes) -> WebhookRequest:
    return dataclasses.replace(request, body=body)


# --- the contract kit -------------------------------------------------------------------------------


class _LeverContract(AdapterContract):
    @pytest.fixture
    def contract_plugin(self) -> tuple[str, Any]:
        return "lever", lever_plugin

    @pytest.fixture
    def contract_min_pages(self) -> int:
        return 3

    @pytest.fixture
    def contract_application(self, fake: FakeLever) -> ApplicationSample:
        return _sample(fake, sorted(fake.postings_asking("plain"))[0])

    @pytest.fixture
    def contract_refused_application(self, fake: FakeLever) -> ApplicationSample:
        closed = sorted(fake.postings_asking("plain"))[1]
        fake.close_posting(closed)  # Lever answers 400: the posting takes no applications
        return _sample(fake, closed)


class TestLeverPublicContract(_LeverContract):
    """Without an API key: published postings only, no webhooks (Lever's cannot be confirmed), and
    applications through the postings API."""

    @pytest.fixture
    def contract_options(self, fake: FakeLever) -> dict[str, Any]:
        return {"site": fake.site, "base_url": fake.url, "postings_api_key": APPLY_KEY, **FAST}

    @pytest.fixture
    def contract_unfillable_application(self, fake: FakeLever) -> ApplicationSample:
        """Answers to questions: the postings API takes none, so it is refused before sending."""
        posting = fake.postings_asking("required-text")[0]
        application = dataclasses.replace(APPLICANT, answers={question_id(posting, 0): "Yes"})
        return ApplicationSample(_job(posting), application, lambda: _applied(fake))

    @pytest.fixture
    def contract_expected_ids(self, fake: FakeLever) -> set[str]:
        return fake.job_ids(published_only=True)

    @pytest.fixture
    def contract_changed_since(self, fake: FakeLever) -> Callable[[], Any]:
        def change() -> tuple[datetime, str]:
            since = datetime.now(UTC) - timedelta(seconds=1)
            fake.update_posting(posting_id(0), text="A changed title")
            return since, posting_id(0)

        return change

    async def test_contract_lists_stages_when_supported(self, adapter: AdapterUnderTest) -> None:
        """Replaces the kit's test: stages come from API v1, so without a key there are none to list.

        The kit assumes an adapter implementing ``list_stages`` can always list some; Lever's can only
        with an API key (checked by the v1 contract), and says so plainly without one.
        """
        with pytest.raises(AdapterUnavailable, match="needs api_key"):
            await call(adapter, "list_stages", http=adapter.http)


class TestLeverV1Contract(_LeverContract):
    @pytest.fixture
    def contract_options(self, fake: FakeLever) -> dict[str, Any]:
        return {
            "site": fake.site,
            "base_url": fake.url,
            "api_key": API_KEY,
            "webhook_tokens": ["an-older-webhook-token", WEBHOOK_SECRET],
            **FAST,
        }

    @pytest.fixture
    def contract_expected_ids(self, fake: FakeLever) -> set[str]:
        return fake.job_ids()

    @pytest.fixture
    def contract_signed_webhooks(self, fake: FakeLever) -> list[WebhookRequest]:
        """Real changes of real opportunities, as Lever reports them: the adapter confirms each in API v1."""
        moved = fake.add_opportunity(posting=posting_id(1))
        moved_at = fake.move(moved, "offer")
        applied = fake.add_opportunity(posting=posting_id(2))
        application = fake.opportunity(applied, expand=True)["applications"][0]
        return [
            _webhook(fake, "candidateStageChange", moved, moved_at, toStageId="offer"),
            _webhook(
                fake, "applicationCreated", applied, application["createdAt"], applicationId=application["id"]
            ),
        ]

    @pytest.fixture
    def contract_hire(self, fake: FakeLever) -> HireSample:
        since = datetime.now(UTC) - timedelta(seconds=5)
        opportunity = fake.hire(posting=posting_id(3), source="Appcast")
        archived_at = fake.opportunity(opportunity)["archived"]["archivedAt"]
        return HireSample(_webhook(fake, "candidateHired", opportunity, archived_at), since, posting_id(3))

    @pytest.fixture
    def contract_changed_since(self, fake: FakeLever) -> Callable[[], Any]:
        def change() -> tuple[datetime, str]:
            since = datetime.now(UTC) - timedelta(seconds=1)
            fake.update_posting(posting_id(4), text="A changed title")
            return since, posting_id(4)

        return change

    @pytest.fixture
    def contract_application(self, fake: FakeLever) -> ApplicationSample:
        return ApplicationSample(
            _job(sorted(fake.postings_asking("plain"))[0]), APPLICANT, lambda: _applied(fake)
        )

    @pytest.fixture
    def contract_refused_application(self, fake: FakeLever) -> ApplicationSample:
        closed = sorted(fake.postings_asking("plain"))[1]
        fake.close_posting(closed)  # Lever answers 400: the posting takes no applications
        return ApplicationSample(_job(closed), APPLICANT, lambda: _applied(fake))

    @pytest.fixture
    def contract_unfillable_application(self, fake: FakeLever) -> ApplicationSample:
        return ApplicationSample(
            _job(fake.postings_asking("university")[0]), APPLICANT, lambda: _applied(fake)
        )

    async def test_lever_forgeries_are_refused(
        self, adapter: AdapterUnderTest, contract_signed_webhooks: list[WebhookRequest]
    ) -> None:
        """Beyond the kit's forgeries: Lever signs token + triggeredAt inside the body."""
        now = datetime.now(UTC)
        signed = contract_signed_webhooks[0]
        forgeries = [
            WebhookRequest(headers={}, body=b"", query={}, received_at=now),
            WebhookRequest(headers={}, body=b'{"event": "candidateHired"}', query={}, received_at=now),
            dataclasses.replace(signed, body=signed.body[:-1] + bytes([signed.body[-1] ^ 1])),
            rewrite(signed, signature="0" * 64),
            rewrite(signed, token="another-token"),
            rewrite(signed, triggeredAt=json.loads(signed.body)["triggeredAt"] + 1),
        ]
        for forged in forgeries:
            with pytest.raises((WebhookRejected, WebhookMalformed)):
                await call(adapter, "verify_webhook", request=forged)


# --- mapping ----------------------------------------------------------------------------------------

PUBLIC_POSTING = {
    "id": "5ac21346-8e0c-4494-8e7a-3eb92ff77902",
    "text": "Registered Nurse, ICU",
    "categories": {
        "location": "Portland, OR",
        "commitment": "Full Time",
        "team": "Critical Care",
        "department": "Nursing",
        "allLocations": ["Portland, OR"],
    },
    "country": "us",
    "opening": "<p>Join us.</p>",
    "openingPlain": "Join us.",
    "description": "<p>Join us.</p><p>Care for patients.</p>",
    "descriptionPlain": "Join us.Care for patients.",
    "descriptionBody": "<p>Care for patients.</p>",
    "descriptionBodyPlain": "Care for patients.",
    "lists": [
        {"text": "Requirements", "content": "<li>RN licence</li><li>2 years ICU</li>"},
        {"text": "Benefits & perks", "content": "<li>Pension</li>"},
    ],
    "additional": "<p>EOE.</p>",
    "additionalPlain": "EOE.",
    "hostedUrl": "https://jobs.lever.co/acme/5ac21346-8e0c-4494-8e7a-3eb92ff77902",
    "applyUrl": "https://jobs.lever.co/acme/5ac21346-8e0c-4494-8e7a-3eb92ff77902/apply",
    "workplaceType": "on-site",
    "salaryRange": {"currency": "USD", "interval": "per-year-salary", "min": 82000, "max": 104000},
    "salaryDescription": "<div>Plus shift differentials</div>",
    "salaryDescriptionPlain": "Plus shift differentials",
    "createdAt": 1763631000000,
}

V1_POSTING = {
    "id": "5ac21346-8e0c-4494-8e7a-3eb92ff77902",
    "text": "Registered Nurse, ICU",
    "state": "closed",
    "createdAt": 1763631000000,
    "updatedAt": 1763717400000,
    "categories": {
        "team": "Critical Care",
        "department": "Nursing",
        "location": "London, UK",
        "allLocations": ["London, UK"],
        "commitment": "Contractor",
        "level": None,
    },
    "content": {
        "description": "Join us. Care for patients.",
        "descriptionHtml": "<p>Join us.</p><p>Care for patients.</p>",
        "lists": [{"text": "Requirements", "content": "<li>RN licence</li>"}],
        "closing": "EOE.",
        "closingHtml": "<p>EOE.</p>",
    },
    "country": "GB",
    "reqCode": None,
    "requisitionCodes": ["REQ-2291", "REQ-2292"],
    "salaryDescription": "Competitive",
    "salaryDescriptionHtml": "<div>Competitive</div>",
    "salaryRange": None,
    "urls": {
        "list": "https://jobs.lever.co/acme",
        "show": "https://jobs.lever.co/acme/5ac21346",
        "apply": "https://jobs.lever.co/acme/5ac21346/apply",
    },
    "workplaceType": "hybrid",
}


def test_maps_a_public_posting_field_by_field() -> None:
    assert mapping.job_from_posting(PUBLIC_POSTING) == Job(
        ats_id="5ac21346-8e0c-4494-8e7a-3eb92ff77902",
        title="Registered Nurse, ICU",
        posted_at=datetime(2025, 11, 20, 9, 30, tzinfo=UTC),
        is_open=True,
        description_html=(
            "<p>Join us.</p><p>Care for patients.</p>"
            "<h3>Requirements</h3><ul><li>RN licence</li><li>2 years ICU</li></ul>"
            "<h3>Benefits &amp; perks</h3><ul><li>Pension</li></ul>"
            "<p>EOE.</p>"
        ),
        requisition_id=None,
        company=None,
        city="Portland",
        region="OR",
        country="US",
        postal_code=None,
        workplace="onsite",
        department="Nursing",
        team="Critical Care",
        employment_type="full-time",
        salary_text="USD 82000-104000 per year",
        hosted_url="https://jobs.lever.co/acme/5ac21346-8e0c-4494-8e7a-3eb92ff77902",
        apply_url="https://jobs.lever.co/acme/5ac21346-8e0c-4494-8e7a-3eb92ff77902/apply",
        updated_at=None,
    )


def test_maps_a_v1_posting_field_by_field() -> None:
    assert mapping.job_from_posting(V1_POSTING) == Job(
        ats_id="5ac21346-8e0c-4494-8e7a-3eb92ff77902",
        title="Registered Nurse, ICU",
        posted_at=datetime(2025, 11, 20, 9, 30, tzinfo=UTC),
        is_open=False,
        description_html=(
            "<p>Join us.</p><p>Care for patients.</p>"
            "<h3>Requirements</h3><ul><li>RN licence</li></ul><p>EOE.</p>"
        ),
        requisition_id="REQ-2291",
        city="London",
        region=None,
        country="GB",
        workplace="hybrid",
        department="Nursing",
        team="Critical Care",
        employment_type="contract",
        salary_text="Competitive",
        hosted_url="https://jobs.lever.co/acme/5ac21346",
        apply_url="https://jobs.lever.co/acme/5ac21346/apply",
        updated_at=datetime(2025, 11, 21, 9, 30, tzinfo=UTC),
    )


def test_public_description_without_a_body_field_is_not_given_the_opening_twice() -> None:
    posting = {k: v for k, v in PUBLIC_POSTING.items() if k != "descriptionBody"}
    assert mapping.job_from_posting(posting).description_html.count("Join us.") == 1
    posting["description"] = "<p>Care for patients.</p>"  # an older posting: opening not included
    assert mapping.job_from_posting(posting).description_html.startswith("<p>Join us.</p><p>Care")


@pytest.mark.parametrize(
    ("state", "is_open"),
    [
        ("published", True),
        ("closed", False),
        ("internal", False),
        ("draft", False),
        ("pending", False),
        ("rejected", False),
    ],
)
def test_only_published_v1_postings_are_open(state: str, is_open: bool) -> None:
    assert mapping.job_from_posting({**V1_POSTING, "state": state}).is_open is is_open


@pytest.mark.parametrize(
    ("location", "city", "region"),
    [
        ("Portland, OR", "Portland", "OR"),
        ("London", "London", None),
        ("London, United Kingdom", "London", None),
        ("Austin, TX, USA", "Austin", "TX"),
        ("Remote", None, None),
        ("Remote - US", None, None),
        ("", None, None),
        (None, None, None),
        (42, None, None),
    ],
)
def test_splits_locations(location: Any, city: str | None, region: str | None) -> None:
    assert mapping.split_location(location) == (city, region)


@pytest.mark.parametrize(
    ("commitment", "expected"),
    [
        ("Full-time", "full-time"),
        ("Full Time", "full-time"),
        ("full_time", "full-time"),
        ("Part-time", "part-time"),
        ("Contract", "contract"),
        ("Contractor", "contract"),
        ("Temporary", "temporary"),
        ("Intern", "internship"),
        ("Internship", "internship"),
        ("Seasonal", "seasonal"),
        ("", None),
        (None, None),
    ],
)
def test_normalises_commitments(commitment: str | None, expected: str | None) -> None:
    assert mapping.employment_type(commitment) == expected


@pytest.mark.parametrize(
    ("workplace", "expected"),
    [("on-site", "onsite"), ("remote", "remote"), ("hybrid", "hybrid"), ("unspecified", None), (None, None)],
)
def test_maps_workplace_types(workplace: str | None, expected: str | None) -> None:
    assert mapping.job_from_posting({**PUBLIC_POSTING, "workplaceType": workplace}).workplace == expected


@pytest.mark.parametrize(
    ("salary", "expected"),
    [
        ({"currency": "USD", "interval": "per-hour-wage", "min": 25, "max": 32.5}, "USD 25-32.50 per hour"),
        (
            {"currency": "eur", "interval": "per-month-salary", "min": 4000, "max": 5500},
            "EUR 4000-5500 per month",
        ),
        ({"currency": "CAD", "interval": "one-time", "min": 5000, "max": 5000}, "CAD 5000 one time"),
        (
            {"currency": "USD", "interval": "per-year-salary", "min": 1200000.0, "max": None},
            "USD 1200000 per year",
        ),
        (
            {"currency": "USD", "interval": "per-year-salary", "min": None, "max": None},
            "Plus shift differentials",
        ),
    ],
)
def test_formats_salaries(salary: dict[str, Any], expected: str) -> None:
    assert mapping.job_from_posting({**PUBLIC_POSTING, "salaryRange": salary}).salary_text == expected


def test_salary_description_html_is_flattened_when_no_plain_text_is_given() -> None:
    posting = {
        **PUBLIC_POSTING,
        "salaryRange": None,
        "salaryDescriptionPlain": None,
        "salaryDescription": "<div>Up to <b>£60k</b> &amp; bonus</div>",
    }
    assert mapping.job_from_posting(posting).salary_text == "Up to £60k & bonus"


@pytest.mark.parametrize(
    "broken",
    [
        [],
        {**PUBLIC_POSTING, "id": ""},
        {**PUBLIC_POSTING, "text": None},
        {**PUBLIC_POSTING, "createdAt": "yesterday"},
    ],
)
def test_postings_missing_essentials_are_refused(broken: Any) -> None:
    with pytest.raises(mapping.PostingError):
        mapping.job_from_posting(broken)


def test_the_fake_renders_the_same_job_through_both_apis() -> None:
    lever = FakeLever(count=40)
    for ats_id in sorted(lever.job_ids(published_only=True)):
        public_job = mapping.job_from_posting(lever.posting(ats_id, "v0"))
        v1_job = mapping.job_from_posting(lever.posting(ats_id, "v1"))
        assert dataclasses.replace(v1_job, requisition_id=None, updated_at=None) == public_job


def test_awkward_text_is_passed_on_unchanged() -> None:
    # Removing what XML forbids is the hub's job at ingest; the adapter must not mangle it first.
    job = mapping.job_from_posting(FakeLever().posting(posting_id(AWKWARD_INDEX), "v0"))
    assert "a]]>b" in job.description_html
    assert "🚀" in job.description_html
    assert "\x0b" in job.description_html


# --- fetching ---------------------------------------------------------------------------------------


async def test_public_fetch_maps_a_known_posting(public: AdapterUnderTest, fake: FakeLever) -> None:
    jobs = await fetch_jobs(public)
    job = jobs[posting_id(0)]
    assert job == Job(
        ats_id=posting_id(0),
        title="Senior Software Engineer",
        posted_at=datetime.fromtimestamp(BASE_MS / 1000, UTC),
        is_open=True,
        description_html=(
            "<p>Join the Engineering department at Acme.</p>"
            "<p>As our Senior Software Engineer, you will help Platform grow.</p>"
            "<h3>What you will do</h3><ul><li>Own features end to end</li>"
            "<li>Work with a small, kind team</li><li>Ship weekly</li></ul>"
            "<p>Acme is an equal opportunity employer.</p>"
        ),
        city="Portland",
        region="OR",
        country="US",
        workplace="onsite",
        department="Engineering",
        team="Platform",
        employment_type="full-time",
        salary_text="USD 90000-120000 per year",
        hosted_url=f"https://jobs.lever.co/{SITE}/{posting_id(0)}",
        apply_url=f"https://jobs.lever.co/{SITE}/{posting_id(0)}/apply",
    )
    london = jobs[posting_id(1)]
    assert (london.city, london.region, london.country) == ("London", None, "GB")
    assert jobs[posting_id(2)].workplace == "remote"
    assert all(job.is_open for job in jobs.values())


async def test_public_fetch_pages_with_skip_and_limit(public: AdapterUnderTest, fake: FakeLever) -> None:
    pages = await public.fetch_pages()
    published = len(fake.job_ids(published_only=True))
    assert [len(page.jobs) for page in pages] == [7] * (published // 7) + [published % 7]
    requests = fake.faults.requests
    assert requests[0] == f"GET /v0/postings/{SITE}?mode=json&skip=0&limit=7"
    assert requests[1] == f"GET /v0/postings/{SITE}?mode=json&skip=7&limit=7"
    assert len(requests) == len(pages)


async def test_public_fetch_is_a_snapshot_even_when_asked_for_changes(public: AdapterUnderTest) -> None:
    pages = await public.fetch_pages(since=datetime.now(UTC))
    assert pages
    assert all(page.snapshot for page in pages)


async def test_public_fetch_drops_closed_postings(public: AdapterUnderTest, fake: FakeLever) -> None:
    fake.close_posting(posting_id(0))
    assert posting_id(0) not in await fetch_jobs(public)


async def test_v1_fetch_lists_every_state(v1: AdapterUnderTest, fake: FakeLever) -> None:
    fake.set_state(posting_id(1), "pending")
    jobs = await fetch_jobs(v1)
    assert set(jobs) == fake.job_ids()
    closed = {ats_id for ats_id, job in jobs.items() if not job.is_open}
    assert closed == fake.job_ids() - fake.job_ids(published_only=True)
    assert {
        posting_id(7),
        posting_id(9),
        posting_id(11),
        posting_id(1),
    } <= closed  # closed, internal, draft, pending
    assert jobs[posting_id(0)].requisition_id == "REQ-1000"
    assert jobs[posting_id(0)].updated_at == datetime.fromtimestamp(BASE_MS / 1000, UTC)
    requests = fake.faults.requests
    assert requests[0] == "GET /v1/postings?limit=7"
    assert requests[1].startswith("GET /v1/postings?limit=7&offset=cursor-")


async def test_v1_incremental_fetch_asks_for_changes_only(v1: AdapterUnderTest, fake: FakeLever) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    fake.update_posting(posting_id(3), text="Data Analyst II")
    fake.close_posting(posting_id(4))
    added = fake.add_posting(text="Night Nurse")
    pages = await v1.fetch_pages(since=since)
    assert pages
    assert not any(page.snapshot for page in pages)
    jobs = {job.ats_id: job for page in pages for job in page.jobs}
    assert set(jobs) == {posting_id(3), posting_id(4), added}
    assert jobs[posting_id(3)].title == "Data Analyst II"
    assert not jobs[posting_id(4)].is_open
    assert jobs[added].is_open
    assert f"updated_at_start={int(since.timestamp() * 1000)}" in fake.faults.requests[0]


async def test_v1_incremental_fetch_with_nothing_changed_yields_one_empty_page(v1: AdapterUnderTest) -> None:
    pages = await v1.fetch_pages(since=datetime.now(UTC))
    assert [(page.jobs, page.snapshot) for page in pages] == [([], False)]


async def test_page_size_is_capped_at_lever_maximum(fake: FakeLever, make_lever: Callable[..., Any]) -> None:
    adapter = make_lever(site=fake.site, base_url=fake.url, api_key=API_KEY, page_size=500)
    await adapter.fetch_pages()
    assert fake.faults.requests == ["GET /v1/postings?limit=100"]


@pytest.mark.parametrize(
    ("region", "base_url", "expected"),
    [
        ("global", None, "https://api.lever.co"),
        ("eu", None, "https://api.eu.lever.co"),
        ("eu", "http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
    ],
)
def test_region_chooses_the_api_origin(region: str, base_url: str | None, expected: str) -> None:
    assert lever_client.origin(region, base_url) == expected


class _Unreachable:
    """A stand-in session that records URLs and fails to connect: the EU test never leaves the machine."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.urls.append(url)
        raise aiohttp.ClientConnectionError("offline")


async def test_eu_region_talks_to_the_eu_instance(tmp_path: Path) -> None:
    host = PluginHost()
    host.register("lever", lever_plugin)
    options = validate_options(
        host.info("lever").options, {"site": "acme", "region": "eu"}, key="lever", base_dir=tmp_path
    )
    account = Account(
        "acme", "lever", "Acme", None, True, "all-open", None, None, plugin_options={"lever": options}
    )
    http = _Unreachable()
    with pytest.raises(AdapterUnavailable, match="unreachable"):
        await AdapterUnderTest(host, "lever", account, http).fetch_pages()  # type: ignore[arg-type]
    assert http.urls
    assert all(url == "https://api.eu.lever.co/v0/postings/acme" for url in http.urls)


async def test_429_waits_for_retry_after_then_succeeds(public: AdapterUnderTest, fake: FakeLever) -> None:
    faults = fake.faults
    faults.rate_limited, faults.retry_after = 2, 0.05
    started = time.monotonic()
    jobs = await fetch_jobs(public)
    assert time.monotonic() - started >= 0.1
    assert set(jobs) == fake.job_ids(published_only=True)
    assert faults.requests[0] == faults.requests[1] == faults.requests[2]  # the same page, asked thrice


async def test_a_burst_of_server_errors_is_retried(v1: AdapterUnderTest, fake: FakeLever) -> None:
    fake.faults.server_errors = 3
    assert set(await fetch_jobs(v1)) == fake.job_ids()


async def test_persistent_server_errors_make_lever_unavailable(v1: AdapterUnderTest, fake: FakeLever) -> None:
    fake.faults.server_errors = 1000
    with pytest.raises(AdapterUnavailable, match="503") as caught:
        await v1.fetch_pages()
    assert API_KEY not in str(caught.value)
    assert len(fake.faults.requests) == const.ATTEMPTS


async def test_a_body_that_is_not_json_makes_lever_unavailable(
    public: AdapterUnderTest, fake: FakeLever
) -> None:
    fake.faults.malformed = 1000
    with pytest.raises(AdapterUnavailable, match="not JSON"):
        await public.fetch_pages()


@pytest.mark.parametrize("api_key", [None, API_KEY], ids=["public", "v1"])
async def test_a_body_of_the_wrong_shape_makes_lever_unavailable(
    api_key: str | None, fake: FakeLever, make_lever: Callable[..., Any]
) -> None:
    key = {"api_key": api_key} if api_key else {}
    adapter = make_lever(site=fake.site, base_url=fake.url, **key, **FAST)
    fake.wrong_shape = 1
    with pytest.raises(AdapterUnavailable, match="expected an") as caught:
        await adapter.fetch_pages()
    assert not isinstance(caught.value, AdapterAuthError)


async def test_a_posting_without_an_id_fails_the_sync(public: AdapterUnderTest, fake: FakeLever) -> None:
    fake.update_posting(posting_id(0), id="")
    with pytest.raises(AdapterUnavailable, match="no id"):
        await public.fetch_pages()


async def test_a_wrong_api_key_is_an_auth_error(fake: FakeLever, make_lever: Callable[..., Any]) -> None:
    adapter = make_lever(site=fake.site, base_url=fake.url, api_key="not-the-key-9f8e7d", **FAST)
    with pytest.raises(AdapterAuthError) as caught:
        await adapter.fetch_pages()
    assert "not-the-key-9f8e7d" not in str(caught.value)
    assert len(fake.faults.requests) == 1  # refused credentials are not retried


async def test_an_unknown_site_makes_lever_unavailable(
    fake: FakeLever, make_lever: Callable[..., Any]
) -> None:
    adapter = make_lever(site="nobody", base_url=fake.url, **FAST)
    with pytest.raises(AdapterUnavailable, match="404"):
        await adapter.fetch_pages()


async def test_requests_are_throttled_to_the_configured_rate(
    fake: FakeLever, make_lever: Callable[..., Any]
) -> None:
    # 30 one-posting pages at 20/s with a burst of 20: the last 10 must wait 50 ms each.
    adapter = make_lever(
        site=fake.site, base_url=fake.url, api_key=API_KEY, page_size=1, rate_per_second=20.0
    )
    started = time.monotonic()
    await adapter.fetch_pages()
    assert len(fake.faults.requests) == 30
    assert time.monotonic() - started >= 0.4


def test_the_fake_scales_to_a_hundred_thousand_postings() -> None:
    started = time.monotonic()
    lever = FakeLever(count=100_000)
    published = lever.job_ids(published_only=True)
    lever.posting(posting_id(99_999), "v1")
    assert 70_000 < len(published) < 80_000
    assert time.monotonic() - started < 2


# --- stages -----------------------------------------------------------------------------------------


async def test_lists_stages(v1: AdapterUnderTest, fake: FakeLever) -> None:
    stages = await call(v1, "list_stages", http=v1.http)
    assert [(stage.id, stage.name, stage.workflow) for stage in stages] == [
        (stage["id"], stage["text"], "") for stage in STAGES
    ]
    assert len(fake.faults.requests) == 2  # 8 stages, 7 a page


async def test_listing_stages_needs_an_api_key(public: AdapterUnderTest) -> None:
    with pytest.raises(AdapterUnavailable, match="listing stages needs api_key"):
        await call(public, "list_stages", http=public.http)


# --- webhooks ---------------------------------------------------------------------------------------


async def test_accepts_a_webhook_signed_with_any_configured_token(
    fake: FakeLever, make_lever: Callable[..., Any]
) -> None:
    adapter = make_lever(site=SITE, webhook_tokens=["first-webhook-token", "second-webhook-token"])
    for secret in ("first-webhook-token", "second-webhook-token"):
        request = fake.signed_webhook(secret=secret, token=f"token-for-{secret}")
        # The webhook's identity is Lever's per-event token: the hub stores each one once.
        assert await call(adapter, "verify_webhook", request=request) == f"token-for-{secret}"


async def test_a_redelivery_has_the_same_identity(public: AdapterUnderTest, fake: FakeLever) -> None:
    first = fake.signed_webhook("candidateStageChange", token="once", triggered_at=time.time_ns() // 10**6)
    again = fake.signed_webhook("candidateStageChange", token="once")
    assert await call(public, "verify_webhook", request=first) == "once"
    assert await call(public, "verify_webhook", request=again) == "once"


def _received(offset_seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=offset_seconds)


@pytest.mark.parametrize(
    ("make_request", "error", "message"),
    [
        (lambda f: f.signed_webhook(secret="some-other-webhook-token"), WebhookRejected, "signature"),
        (lambda f: f.signed_webhook(received_at=_received(301)), WebhookRejected, "webhook_max_age"),
        (lambda f: f.signed_webhook(received_at=_received(-301)), WebhookRejected, "webhook_max_age"),
        (lambda f: rewrite(f.signed_webhook(), signature="ab" * 32), WebhookRejected, "signature"),
        (lambda f: rewrite(f.signed_webhook(), signature="é" * 64), WebhookRejected, "signature"),
        (lambda f: rewrite(f.signed_webhook(), token="replacement"), WebhookRejected, "signature"),
        (lambda f: rewrite(f.signed_webhook(), signature=None), WebhookRejected, "no signature"),
        (lambda f: rewrite(f.signed_webhook(), token=None), WebhookRejected, "no token"),
        (lambda f: rewrite(f.signed_webhook(), triggeredAt=None), WebhookRejected, "no triggeredAt"),
        (lambda f: rewrite(f.signed_webhook(), triggeredAt=True), WebhookRejected, "no triggeredAt"),
        (lambda f: rewrite(f.signed_webhook(), event=None), WebhookRejected, "no event"),
        (lambda f: with_body(f.signed_webhook(), b"event=candidateHired"), WebhookMalformed, "JSON"),
        (lambda f: with_body(f.signed_webhook(), b"[1, 2]"), WebhookMalformed, "object"),
        (lambda f: with_body(f.signed_webhook(), b"\xff\xfe"), WebhookMalformed, "JSON"),
    ],
    ids=[
        "wrong-token",
        "stale",
        "future",
        "tampered-signature",
        "non-ascii-signature",
        "tampered-token",
        "no-signature",
        "no-token",
        "no-time",
        "boolean-time",
        "no-event",
        "not-json",
        "not-an-object",
        "not-utf8",
    ],
)
async def test_refuses_forged_webhooks(
    public: AdapterUnderTest,
    fake: FakeLever,
    make_request: Callable[[FakeLever], WebhookRequest],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        await call(public, "verify_webhook", request=make_request(fake))


async def test_accepts_webhooks_just_inside_the_window(public: AdapterUnderTest, fake: FakeLever) -> None:
    for offset in (-299, 299):
        await call(public, "verify_webhook", request=fake.signed_webhook(received_at=_received(offset)))


async def test_refuses_every_webhook_without_configured_tokens(
    fake: FakeLever, make_lever: Callable[..., Any]
) -> None:
    adapter = make_lever(site=SITE)
    with pytest.raises(WebhookRejected, match="no webhook_tokens"):
        await call(adapter, "verify_webhook", request=fake.signed_webhook())


async def parse(adapter: AdapterUnderTest, request: WebhookRequest) -> list[Event]:
    await call(adapter, "verify_webhook", request=request)
    return list(await call(adapter, "parse_webhook", request=request, http=adapter.http))


def _webhook(
    fake: FakeLever, event: str, opportunity: str, at: int, delivery: str | None = None, **data: Any
) -> WebhookRequest:
    """A webhook as Lever sends it for ``opportunity``, triggered at ``at`` (epoch ms)."""
    body = {"opportunityId": opportunity, "candidateId": opportunity, **data}
    return fake.signed_webhook(event, body, token=delivery, triggered_at=at, received_at=_at(at))


def _at(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


def _now_ms() -> int:
    return time.time_ns() // 10**6


async def test_a_stage_change_is_read_back_from_the_opportunity(
    v1: AdapterUnderTest, fake: FakeLever
) -> None:
    """The webhook only says where to look: stage, job and candidate come from Lever's API."""
    opportunity = fake.add_opportunity(posting=posting_id(3), source="Appcast", email="Ada@Example.com")
    moved_at = fake.move(opportunity, "offer")
    request = _webhook(
        fake, "candidateStageChange", opportunity, moved_at,
        fromStageId="made-up", toStageId="offer", postingId=posting_id(9), contactId="made-up",
    )  # fmt: skip
    assert await parse(v1, request) == [
        Event(
            kind="stage_changed",
            dedupe_key=f"stage:{opportunity}:offer:{moved_at}",
            occurred_at=_at(moved_at),
            ats_job_id=posting_id(3),
            ats_application_id=opportunity,
            ats_candidate_id=fake.opportunity(opportunity)["contact"],
            from_stage_id="applicant-new",
            to_stage_id="offer",
            source="Appcast",
            candidate_hash=candidate_hash("ada@example.com"),
            ats_event="candidateStageChange",
        )
    ]
    assert fake.faults.requests == [f"GET /v1/opportunities/{opportunity}?expand=applications"]


async def test_an_application_is_read_back_from_the_opportunity(
    v1: AdapterUnderTest, fake: FakeLever
) -> None:
    opportunity = fake.add_opportunity(posting=posting_id(4))
    application = fake.opportunity(opportunity, expand=True)["applications"][0]
    request = _webhook(
        fake, "applicationCreated", opportunity, application["createdAt"],
        applicationId=application["id"], postingId=posting_id(9),
    )  # fmt: skip
    [event] = await parse(v1, request)
    assert (event.kind, event.dedupe_key) == ("application_created", f"application:{application['id']}")
    assert (event.ats_job_id, event.ats_application_id) == (posting_id(4), opportunity)


async def test_a_hire_is_read_back_from_the_opportunity(v1: AdapterUnderTest, fake: FakeLever) -> None:
    opportunity = fake.hire(posting=posting_id(3), source="Appcast", email=" Ada.Lovelace@Example.com")
    archived_at = fake.opportunity(opportunity)["archived"]["archivedAt"]
    [event] = await parse(v1, _webhook(fake, "candidateHired", opportunity, archived_at, postingId="x"))
    # A hire is keyed on its opportunity, as reconciliation keys it, not on the delivery.
    assert (event.kind, event.ats_event, event.dedupe_key) == (
        "hired",
        "candidateHired",
        f"hired:{opportunity}",
    )
    assert (event.ats_job_id, event.source) == (posting_id(3), "Appcast")
    assert event.candidate_hash == candidate_hash("ada.lovelace@example.com")
    assert event.ats_candidate_id == fake.opportunity(opportunity)["contact"]


def _archive(fake: FakeLever, opportunity: str, reason: str, delivery: str = "delivery-4") -> WebhookRequest:
    archived_at = fake.opportunity(opportunity)["archived"]["archivedAt"]
    to_archived = {"archivedAt": archived_at, "reason": reason}
    return _webhook(
        fake, "candidateArchiveChange", opportunity, archived_at, delivery, toArchived=to_archived
    )


async def test_an_archive_with_a_hired_reason_is_a_hire(v1: AdapterUnderTest, fake: FakeLever) -> None:
    opportunity = fake.hire(posting=posting_id(0))
    [event] = await parse(v1, _archive(fake, opportunity, HIRED_REASON_ID))
    assert (event.kind, event.ats_event, event.to_stage_id) == ("hired", "candidateArchiveChange", None)
    assert event.dedupe_key == f"hired:{opportunity}"


async def test_an_archive_with_another_reason_is_an_archive(v1: AdapterUnderTest, fake: FakeLever) -> None:
    opportunity = fake.add_opportunity()
    fake.archive(opportunity, NON_HIRED_REASON_ID)
    [event] = await parse(v1, _archive(fake, opportunity, NON_HIRED_REASON_ID))
    archived_at = fake.opportunity(opportunity)["archived"]["archivedAt"]
    assert (event.kind, event.dedupe_key) == ("archived", f"archived:{opportunity}:{archived_at}")


async def test_a_webhook_claiming_a_hire_lever_does_not_show_is_unconfirmed(
    v1: AdapterUnderTest, fake: FakeLever
) -> None:
    """The attack: a fresh, genuinely signed webhook whose unsigned event and data were changed. It used
    to send Appcast a false hire; now Lever's API is asked, and it says otherwise."""
    applicant = fake.add_opportunity(posting=posting_id(2))
    now = _now_ms()
    forgeries = {
        "is not hired": _webhook(fake, "candidateHired", applicant, now),
        "has no opportunity": _webhook(
            fake, "candidateHired", "no-such-opportunity", now, postingId=posting_id(2)
        ),
        "no archiving": _webhook(
            fake,
            "candidateArchiveChange",
            applicant,
            now,
            toArchived={"archivedAt": now, "reason": HIRED_REASON_ID},
        ),
        "no move": _webhook(fake, "candidateStageChange", applicant, now, toStageId="offer"),
        "no application": _webhook(fake, "applicationCreated", applicant, now, applicationId="someone-else"),
    }
    for message, forged in forgeries.items():
        with pytest.raises(WebhookUnconfirmed, match=message):
            await parse(v1, forged)


async def test_an_old_fact_with_a_fresh_token_is_unconfirmed(v1: AdapterUnderTest, fake: FakeLever) -> None:
    """True, but not what this webhook is about: a hire from long ago, a stage it was in long ago."""
    old_hire = fake.hire(archived_at=BASE_MS)
    moved = fake.add_opportunity()
    fake.move(moved, "offer", at=_now_ms() - 3_600_000)  # an hour ago: Lever's record is too old
    fake.move(moved, "lead-new")
    now = _now_ms()
    with pytest.raises(WebhookUnconfirmed, match="no archiving"):
        await parse(v1, _webhook(fake, "candidateHired", old_hire, now))
    with pytest.raises(WebhookUnconfirmed, match="no move"):
        await parse(v1, _webhook(fake, "candidateStageChange", moved, now, toStageId="offer"))


async def test_without_an_api_key_nothing_is_confirmed(public: AdapterUnderTest, fake: FakeLever) -> None:
    opportunity = fake.hire()
    archived_at = fake.opportunity(opportunity)["archived"]["archivedAt"]
    with pytest.raises(WebhookUnconfirmed, match="no api_key"):
        await parse(public, _webhook(fake, "candidateHired", opportunity, archived_at))


def test_webhook_tokens_without_an_api_key_is_a_config_error(tmp_path: Path) -> None:
    host = PluginHost()
    assert host.register("lever", lever_plugin)
    info = host.info("lever")
    options = validate_options(
        info.options, {"site": SITE, "webhook_tokens": ["t"]}, key="accounts.acme.lever", base_dir=tmp_path
    )
    assert info.check_options is not None
    with pytest.raises(ConfigError, match="required when webhook_tokens is set") as raised:
        info.check_options(options)
    assert raised.value.key == "api_key"
    assert "false hire" in str(raised.value)


async def test_leaving_the_archive_is_not_an_event(v1: AdapterUnderTest, fake: FakeLever) -> None:
    data = {
        "opportunityId": OPPORTUNITY,
        "candidateId": CANDIDATE,
        "fromArchived": {"archivedAt": 1_763_900_000_000, "reason": NON_HIRED_REASON_ID},
        "toArchived": None,
    }
    assert await parse(v1, fake.signed_webhook("candidateArchiveChange", data)) == []
    assert fake.faults.requests == []  # nothing to look up


def _reason_lookups(fake: FakeLever) -> list[str]:
    return [r for r in fake.faults.requests if r.startswith("GET /v1/archive_reasons")]


async def test_archive_reasons_are_cached(v1: AdapterUnderTest, fake: FakeLever) -> None:
    hired, rejected = fake.hire(), fake.add_opportunity()
    fake.archive(rejected, NON_HIRED_REASON_ID)
    await parse(v1, _archive(fake, hired, HIRED_REASON_ID, "a"))
    await parse(v1, _archive(fake, rejected, NON_HIRED_REASON_ID, "b"))
    assert _reason_lookups(fake) == ["GET /v1/archive_reasons?limit=7"]


async def test_an_unknown_archive_reason_refreshes_the_cache(v1: AdapterUnderTest, fake: FakeLever) -> None:
    hired, other = fake.hire(), fake.add_opportunity()
    fake.archive(other, "a-reason-created-since")
    await parse(v1, _archive(fake, hired, HIRED_REASON_ID, "a"))
    [event] = await parse(v1, _archive(fake, other, "a-reason-created-since", "b"))
    assert event.kind == "archived"
    assert _reason_lookups(fake) == ["GET /v1/archive_reasons?limit=7"] * 2


async def test_archive_reasons_unavailable_fails_the_parse(v1: AdapterUnderTest, fake: FakeLever) -> None:
    # Better retried later than a hire recorded as a plain archive.
    opportunity = fake.hire()
    request = _archive(fake, opportunity, HIRED_REASON_ID)
    fake.faults.server_errors = 1000
    with pytest.raises(AdapterUnavailable):
        await parse(v1, request)


async def test_redelivery_keeps_the_dedupe_key(v1: AdapterUnderTest, fake: FakeLever) -> None:
    opportunity = fake.add_opportunity()
    moved_at = fake.move(opportunity, "offer")
    first = await parse(
        v1, _webhook(fake, "candidateStageChange", opportunity, moved_at, "same", toStageId="offer")
    )
    again = await parse(
        v1, _webhook(fake, "candidateStageChange", opportunity, moved_at, "same", toStageId="offer")
    )
    assert first == again


@pytest.mark.parametrize("event", ["candidateDeleted", "interviewCreated", "somethingNew"])
async def test_ignores_events_it_does_not_use(v1: AdapterUnderTest, fake: FakeLever, event: str) -> None:
    assert await parse(v1, fake.signed_webhook(event)) == []
    assert fake.faults.requests == []


async def test_a_webhook_naming_no_opportunity_is_nothing_to_do(
    v1: AdapterUnderTest, fake: FakeLever
) -> None:
    """Lever's connection test carries no opportunity: answered, stored, and nothing is looked up."""
    assert await parse(v1, fake.signed_webhook("candidateHired", {"candidateId": CANDIDATE})) == []
    assert fake.faults.requests == []


@pytest.mark.parametrize(
    ("event", "data"),
    [
        ("candidateHired", None),
        ("candidateHired", ["x"]),
        ("candidateStageChange", {"opportunityId": OPPORTUNITY}),
    ],
)
async def test_refuses_known_events_with_unusable_data(
    v1: AdapterUnderTest, fake: FakeLever, event: str, data: Any
) -> None:
    request = rewrite(fake.signed_webhook(event), data=data if data is not None else "nothing")
    with pytest.raises(WebhookMalformed):
        await parse(v1, request)


async def test_both_hire_webhooks_of_one_hire_share_its_key(v1: AdapterUnderTest, fake: FakeLever) -> None:
    # Lever may send candidateHired and an archive with the Hired reason for the same hire.
    opportunity = fake.hire(posting=posting_id(0), source="Appcast")
    archived_at = fake.opportunity(opportunity)["archived"]["archivedAt"]
    [hired] = await parse(v1, _webhook(fake, "candidateHired", opportunity, archived_at, "one"))
    [archived] = await parse(v1, _archive(fake, opportunity, HIRED_REASON_ID, "two"))
    assert hired.dedupe_key == archived.dedupe_key == f"hired:{opportunity}"
    assert (archived.kind, archived.ats_job_id, archived.source) == ("hired", posting_id(0), "Appcast")


async def test_an_unavailable_opportunity_fails_the_parse(v1: AdapterUnderTest, fake: FakeLever) -> None:
    # The hub's inbox keeps the webhook and retries: nothing is decided without Lever's word.
    opportunity = fake.hire()
    archived_at = fake.opportunity(opportunity)["archived"]["archivedAt"]
    fake.faults.server_errors = 1000
    with pytest.raises(AdapterUnavailable, match="503"):
        await parse(v1, _webhook(fake, "candidateHired", opportunity, archived_at))


# --- reconciliation ---------------------------------------------------------------------------------


async def reconcile(adapter: AdapterUnderTest, since: datetime) -> list[Event]:
    return list(await call(adapter, "fetch_recent_events", http=adapter.http, since=since))


def _a_moment_ago() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=5)


async def test_reconciliation_needs_an_api_key(public: AdapterUnderTest, fake: FakeLever) -> None:
    with pytest.raises(AdapterUnavailable, match="reconciliation needs api_key"):
        await reconcile(public, _a_moment_ago())
    assert fake.faults.requests == []


async def test_reconciliation_finds_hires(v1: AdapterUnderTest, fake: FakeLever) -> None:
    since = _a_moment_ago()
    hired = fake.hire(email="Grace@Example.com", posting=posting_id(2), source="Appcast")
    fake.archive(fake.add_opportunity(email="nope@example.com"), NON_HIRED_REASON_ID)
    fake.add_opportunity(email="still.interviewing@example.com")
    record = fake.opportunity(hired)
    hires = [event for event in await reconcile(v1, since) if event.kind == "hired"]
    assert hires == [
        Event(
            kind="hired",
            dedupe_key=f"hired:{hired}",
            occurred_at=datetime.fromtimestamp(record["archived"]["archivedAt"] / 1000, UTC),
            ats_job_id=posting_id(2),
            ats_application_id=hired,
            ats_candidate_id=record["contact"],
            source="Appcast",
            candidate_hash=candidate_hash("grace@example.com"),
            ats_event="reconciliation",
        )
    ]
    requests = fake.faults.requests
    assert requests[0] == (
        f"GET /v1/opportunities?updated_at_start={int(since.timestamp() * 1000)}&expand=applications&limit=7"
    )
    assert requests[1:] == ["GET /v1/archive_reasons?limit=7"]


async def test_reconciliation_finds_applications_and_stage_changes(
    v1: AdapterUnderTest, fake: FakeLever
) -> None:
    """Everything a webhook would have reported, so a webhook that never arrived (or that a forgery kept
    out as a "replay") is delivered after all, once: the keys are the webhooks'."""
    old = fake.add_opportunity(posting=posting_id(1))
    fake.move(old, "offer")  # before the window, like the application itself
    await asyncio.sleep(0.01)
    since = datetime.now(UTC)
    await asyncio.sleep(0.01)
    moved_at = fake.move(old, "lead-reached-out")
    new = fake.add_opportunity(posting=posting_id(5))
    application = fake.opportunity(new, expand=True)["applications"][0]
    events = {event.dedupe_key: event for event in await reconcile(v1, since)}
    assert set(events) == {f"stage:{old}:lead-reached-out:{moved_at}", f"application:{application['id']}"}
    moved = events[f"stage:{old}:lead-reached-out:{moved_at}"]
    assert (moved.from_stage_id, moved.to_stage_id, moved.ats_job_id) == (
        "offer",
        "lead-reached-out",
        posting_id(1),
    )
    # The webhooks for the same changes carry the same keys: whichever comes second is "already seen".
    [pushed_move] = await parse(
        v1, _webhook(fake, "candidateStageChange", old, moved_at, toStageId="lead-reached-out")
    )
    [pushed_application] = await parse(
        v1,
        _webhook(fake, "applicationCreated", new, application["createdAt"], applicationId=application["id"]),
    )
    assert pushed_move.dedupe_key in events
    assert pushed_application.dedupe_key in events
    same = ("kind", "ats_job_id", "ats_application_id", "from_stage_id", "to_stage_id", "occurred_at")
    assert {n: getattr(pushed_move, n) for n in same} == {n: getattr(moved, n) for n in same}


async def test_reconciliation_gives_a_hire_the_key_its_webhook_has(
    v1: AdapterUnderTest, fake: FakeLever
) -> None:
    since = _a_moment_ago()
    opportunity = fake.hire(posting=posting_id(4), source="Appcast")
    [polled] = [event for event in await reconcile(v1, since) if event.kind == "hired"]
    archived_at = fake.opportunity(opportunity)["archived"]["archivedAt"]
    [pushed] = await parse(v1, _webhook(fake, "candidateHired", opportunity, archived_at))
    assert polled.dedupe_key == pushed.dedupe_key
    same = ("kind", "ats_job_id", "ats_application_id", "ats_candidate_id", "source", "candidate_hash")
    assert {name: getattr(polled, name) for name in same} == {name: getattr(pushed, name) for name in same}


async def test_reconciliation_pages_through_every_opportunity(v1: AdapterUnderTest, fake: FakeLever) -> None:
    since = _a_moment_ago()
    hires = {fake.hire(email=f"hire{n}@example.com", posting=posting_id(n)) for n in range(10)}
    for n in range(6):
        fake.add_opportunity(email=f"applicant{n}@example.com")
    events = await reconcile(v1, since)
    assert sorted(event.ats_application_id for event in events if event.kind == "hired") == sorted(hires)
    assert sum(event.kind == "application_created" for event in events) == 16
    assert sum(r.startswith("GET /v1/opportunities") for r in fake.faults.requests) == 3  # 16 at 7 a page


async def test_reconciliation_leaves_out_what_happened_before(v1: AdapterUnderTest, fake: FakeLever) -> None:
    # Applied and hired last year, touched (a note, say) just now: updated since, but nothing happened.
    old = fake.add_opportunity(opportunity_id="old-one")
    fake._applications[fake.opportunity(old)["applications"][0]]["createdAt"] = BASE_MS
    fake.hire(old, archived_at=BASE_MS)
    since = _a_moment_ago()
    fake.touch(old)
    assert await reconcile(v1, since) == []


async def test_reconciliation_asks_only_for_recent_changes(v1: AdapterUnderTest, fake: FakeLever) -> None:
    fake.add_opportunity()
    assert await reconcile(v1, datetime.now(UTC) + timedelta(seconds=5)) == []
    assert fake.faults.requests[1:] == []  # nothing archived: archive reasons are not even read


async def test_reconciliation_fails_when_lever_does(v1: AdapterUnderTest, fake: FakeLever) -> None:
    fake.faults.server_errors = 1000
    with pytest.raises(AdapterUnavailable, match="503"):
        await reconcile(v1, _a_moment_ago())


# --- applications -----------------------------------------------------------------------------------

APPLICANT = Application(
    name="Ada Applicant",
    email="ada.applicant@example.com",
    phone="+44 20 7946 0000",
    resume_url="https://files.example/ada.pdf",
    cover_letter="I would love to work with you.",
    urls=["https://www.linkedin.com/in/ada", "https://ada.example"],
)


def _applied(fake: FakeLever) -> list[str]:
    return [application["application_id"] for application in fake.applications]


def _sample(fake: FakeLever, posting: str) -> ApplicationSample:
    return ApplicationSample(_job(posting), APPLICANT, lambda: _applied(fake))


def _job(ats_id: str) -> Job:
    return Job(ats_id=ats_id, title="Any title", posted_at=datetime.now(UTC))


async def apply(adapter: AdapterUnderTest, ats_id: str, application: Application = APPLICANT) -> Any:
    return await call(
        adapter, "create_application", job=_job(ats_id), application=application, http=adapter.http
    )


@pytest.fixture
def postings_api(fake: FakeLever, make_lever: Callable[..., AdapterUnderTest]) -> AdapterUnderTest:
    """The adapter without an API key, applying through the postings API with the apply key."""
    return make_lever(site=fake.site, base_url=fake.url, postings_api_key=APPLY_KEY, **FAST)


def test_apply_key_is_a_secret_option() -> None:
    host = PluginHost()
    host.register("lever", lever_plugin)
    assert {"api_key", "postings_api_key", "webhook_tokens"} <= host.info("lever").secret_names()


async def test_applies_through_the_postings_api(postings_api: AdapterUnderTest, fake: FakeLever) -> None:
    [plain, *_] = fake.postings_asking("plain")
    result = await apply(postings_api, plain)
    [received] = fake.applications
    assert result == ApplicationResult(ats_application_id=received["application_id"])
    assert {k: received[k] for k in ("api", "posting", "name", "email", "phone", "comments", "source")} == {
        "api": "v0",
        "posting": plain,
        "name": "Ada Applicant",
        "email": "ada.applicant@example.com",
        "phone": "+44 20 7946 0000",
        "comments": "I would love to work with you.",
        "source": "Appcast",
    }
    assert received["urls"] == {
        "Link 1": "https://www.linkedin.com/in/ada",
        "Link 2": "https://ada.example",
        "Resume": "https://files.example/ada.pdf",
    }
    assert fake.faults.requests == [f"POST /v0/postings/{SITE}/{plain}?key={APPLY_KEY}"]
    # Lever made an opportunity with Appcast as its source: what a later hire reports.
    assert fake.opportunity(received["opportunity_id"])["sources"] == ["Appcast"]


async def test_the_postings_api_needs_an_apply_key(fake: FakeLever, make_lever: Callable[..., Any]) -> None:
    adapter = make_lever(site=fake.site, base_url=fake.url, **FAST)
    with pytest.raises(ApplicationRefused, match="this Lever account has no postings_api_key configured"):
        await apply(adapter, posting_id(0))
    assert fake.faults.requests == []


async def test_the_postings_api_takes_no_answers(postings_api: AdapterUnderTest, fake: FakeLever) -> None:
    [ats_id, *_] = fake.postings_asking("required-text")
    application = dataclasses.replace(APPLICANT, answers={question_id(ats_id, 0): "Yes"})
    with pytest.raises(ApplicationRefused, match="only be sent with api_key"):
        await apply(postings_api, ats_id, application)
    assert fake.applications == []


async def test_a_wrong_apply_key_is_an_auth_error(fake: FakeLever, make_lever: Callable[..., Any]) -> None:
    adapter = make_lever(site=fake.site, base_url=fake.url, postings_api_key="not-the-apply-key-1234", **FAST)
    with pytest.raises(AdapterAuthError) as caught:
        await apply(adapter, posting_id(0))
    assert "not-the-apply-key-1234" not in str(caught.value)


@pytest.mark.parametrize("api", ["v0", "v1"])
async def test_lever_refusing_an_application_says_why(
    api: str, fake: FakeLever, make_lever: Callable[..., Any]
) -> None:
    key = {"postings_api_key": APPLY_KEY} if api == "v0" else {"api_key": API_KEY}
    adapter = make_lever(site=fake.site, base_url=fake.url, **key, **FAST)
    with pytest.raises(ApplicationRefused, match="accepting applications"):
        await apply(adapter, posting_id(7))  # closed
    assert fake.applications == []


@pytest.mark.parametrize(
    ("application", "problem"),
    [
        (dataclasses.replace(APPLICANT, name="  "), "no name"),
        (dataclasses.replace(APPLICANT, email="not-an-address"), "no e-mail"),
    ],
)
@pytest.mark.parametrize("api", ["v0", "v1"])
async def test_an_application_without_name_or_email_is_refused(
    api: str, application: Application, problem: str, fake: FakeLever, make_lever: Callable[..., Any]
) -> None:
    key = {"postings_api_key": APPLY_KEY} if api == "v0" else {"api_key": API_KEY}
    adapter = make_lever(site=fake.site, base_url=fake.url, **key, **FAST)
    with pytest.raises(ApplicationRefused, match=problem):
        await apply(adapter, posting_id(0), application)
    assert not any(r.startswith("POST") for r in fake.faults.requests)


async def test_applies_through_api_v1(v1: AdapterUnderTest, fake: FakeLever) -> None:
    [plain, *_] = fake.postings_asking("plain")
    result = await apply(v1, plain)
    [received] = fake.applications
    assert result.ats_application_id == received["application_id"]
    assert (received["api"], received["source"], received["origin"]) == ("v1", "Appcast", "applied")
    assert (received["name"], received["email"], received["phone"]) == (
        "Ada Applicant",
        "ada.applicant@example.com",
        "+44 20 7946 0000",
    )
    assert received["comments"] == "I would love to work with you."
    assert received["urls"]["Resume"] == "https://files.example/ada.pdf"
    assert fake.faults.requests == [f"GET /v1/postings/{plain}/apply", f"POST /v1/postings/{plain}/apply"]


async def test_answers_go_to_their_questions(v1: AdapterUnderTest, fake: FakeLever) -> None:
    [ats_id, *_] = fake.postings_asking("required-text")
    answers = {question_id(ats_id, 0): "Yes", question_id(ats_id, 1): "Appcast"}
    await apply(v1, ats_id, dataclasses.replace(APPLICANT, answers=answers))
    assert fake.applications[0]["answers"] == answers


async def test_optional_questions_may_stay_unanswered(v1: AdapterUnderTest, fake: FakeLever) -> None:
    [ats_id, *_] = fake.postings_asking("optional-choice")
    await apply(v1, ats_id)
    assert fake.applications[0]["answers"] == {}


@pytest.mark.parametrize(
    ("kind", "label", "question"),
    [
        ("university", "University Picker", "Where did you study?"),
        ("score-system", "Rating Scale", "How strong is your SQL?"),
        ("rating-scale", "Rating Scale", "Rate your customer service"),
    ],
)
async def test_jobs_asking_what_appcast_apply_cannot_answer_are_refused(
    v1: AdapterUnderTest, fake: FakeLever, kind: str, label: str, question: str
) -> None:
    [ats_id, *_] = fake.postings_asking(kind)
    with pytest.raises(ApplicationRefused) as caught:
        await apply(v1, ats_id)
    assert str(caught.value) == (
        f"job {ats_id} asks a {label} question ({question!r}), which Appcast Apply cannot answer"
    )
    assert fake.faults.requests == [f"GET /v1/postings/{ats_id}/apply"]  # nothing was sent
    assert fake.applications == []


@pytest.mark.parametrize(
    ("kind", "answers", "problem"),
    [
        ("required-text", {}, "requires an answer to 'Are you authorised to work in the UK\\?'"),
        ("required-text", {1: "Appcast"}, "requires an answer to 'Are you authorised"),
        ("required-text", {0: "  "}, "requires an answer to 'Are you authorised"),
        (
            "required-text",
            {0: "Yes", 1: "A billboard"},
            "'A billboard' is not an option of 'How did you hear",
        ),
        ("optional-choice", {0: "Evening"}, "'Evening' is not an option of 'Preferred shift'"),
        ("plain", {0: "Yes"}, "has no question"),
    ],
)
async def test_answers_that_do_not_fit_the_form_are_refused(
    v1: AdapterUnderTest, fake: FakeLever, kind: str, answers: dict[int, str], problem: str
) -> None:
    [ats_id, *_] = fake.postings_asking(kind)
    application = dataclasses.replace(
        APPLICANT, answers={question_id(ats_id, position): value for position, value in answers.items()}
    )
    with pytest.raises(ApplicationRefused, match=problem):
        await apply(v1, ats_id, application)
    assert fake.applications == []


async def test_a_required_phone_number_must_be_given(v1: AdapterUnderTest, fake: FakeLever) -> None:
    [ats_id, *_] = fake.postings_asking("phone-required")
    with pytest.raises(ApplicationRefused, match="requires 'Phone'"):
        await apply(v1, ats_id, dataclasses.replace(APPLICANT, phone=None))
    await apply(v1, ats_id)
    assert len(fake.applications) == 1


async def test_a_job_lever_does_not_know_is_refused(v1: AdapterUnderTest, fake: FakeLever) -> None:
    with pytest.raises(ApplicationRefused, match="is not in Lever"):
        await apply(v1, posting_id(999))


async def test_an_unavailable_form_makes_lever_unavailable(v1: AdapterUnderTest, fake: FakeLever) -> None:
    fake.faults.server_errors = 1000
    with pytest.raises(AdapterUnavailable, match="503") as caught:
        await apply(v1, posting_id(0))
    assert not isinstance(caught.value, ApplicationRefused)
    assert fake.applications == []


async def test_concurrent_applies_queue_at_two_a_second(
    postings_api: AdapterUnderTest, fake: FakeLever
) -> None:
    # Lever answers 429 beyond 2 application POSTs a second: six at once are queued, none dropped.
    postings = fake.postings_asking("plain")[:2] * 3
    started = time.monotonic()
    results = await asyncio.gather(
        *(
            apply(postings_api, ats_id, dataclasses.replace(APPLICANT, email=f"applicant{n}@example.com"))
            for n, ats_id in enumerate(postings)
        )
    )
    elapsed = time.monotonic() - started
    assert len({result.ats_application_id for result in results}) == 6
    assert len(fake.applications) == 6
    assert elapsed >= 2.4  # one every half second: 0, 0.5 … 2.5
    # The adapter's own queue keeps to Lever's pace (unqueued, four of the six would be refused at once).
    # Sent exactly at the limit, an answer delayed by a busy machine can still meet a 429 now and then:
    # it is waited out and sent again, never dropped.
    assert fake.applies_rate_limited <= 2


async def test_api_v1_applies_are_queued_too(v1: AdapterUnderTest, fake: FakeLever) -> None:
    [plain, *_] = fake.postings_asking("plain")
    started = time.monotonic()
    await asyncio.gather(
        *(apply(v1, plain, dataclasses.replace(APPLICANT, email=f"a{n}@x.io")) for n in range(3))
    )
    assert time.monotonic() - started >= 0.9
    assert len(fake.applications) == 3


async def test_a_429_on_an_apply_is_waited_out_not_dropped(
    monkeypatch: pytest.MonkeyPatch, postings_api: AdapterUnderTest, fake: FakeLever
) -> None:
    # Another client of the same Lever account used up the allowance: Lever answers 429 + Retry-After.
    monkeypatch.setattr(const, "APPLY_RATE_PER_SECOND", 1000.0)  # our queue out of the way
    postings = fake.postings_asking("plain")[:4]
    started = time.monotonic()
    await asyncio.gather(*(apply(postings_api, ats_id) for ats_id in postings))
    assert fake.applies_rate_limited >= 2
    assert sorted(received["posting"] for received in fake.applications) == sorted(postings)
    assert time.monotonic() - started >= 0.9  # Retry-After was honoured


async def test_an_apply_still_rate_limited_after_the_retries_is_not_refused(
    monkeypatch: pytest.MonkeyPatch, postings_api: AdapterUnderTest, fake: FakeLever
) -> None:
    # A 429 that outlasts the retries means "not now": the application must stay retryable, not be
    # answered as refused (422) to Appcast Apply.
    monkeypatch.setattr(const, "ATTEMPTS", 2)
    fake.apply_limit_per_second = 0
    with pytest.raises(AdapterUnavailable, match="429") as caught:
        await apply(postings_api, posting_id(0))
    assert not isinstance(caught.value, ApplicationRefused)
    assert caught.value.retry_after == 1.0
    assert fake.applies_rate_limited == 2
    assert fake.applications == []


async def test_an_apply_answered_with_server_errors_is_unavailable(
    postings_api: AdapterUnderTest, fake: FakeLever
) -> None:
    fake.faults.server_errors = 1000
    with pytest.raises(AdapterUnavailable, match="503") as caught:
        await apply(postings_api, posting_id(0))
    assert not isinstance(caught.value, ApplicationRefused)
    assert APPLY_KEY not in str(caught.value)
