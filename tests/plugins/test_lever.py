"""The ``lever`` adapter: the contract kit against a fake Lever over real sockets, and Lever's specifics."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.config import Account
from hub.errors import AdapterAuthError, AdapterUnavailable, WebhookMalformed, WebhookRejected
from hub.normalised import Event, Job, WebhookRequest
from hub.options import validate_options
from hub.plugins import PluginHost
from hub.testing import AdapterContract, AdapterUnderTest
from plugins.lever import client as lever_client
from plugins.lever import const, mapping
from plugins.lever import plugin as lever_plugin
from tests.peers.lever import (
    API_KEY,
    AWKWARD_INDEX,
    BASE_MS,
    HIRED_REASON_ID,
    NON_HIRED_REASON_ID,
    SITE,
    STAGES,
    WEBHOOK_SECRET,
    FakeLever,
    posting_id,
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
    async with lever.serve():
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
            account = Account(
                name="acme",
                adapter="lever",
                company="Acme",
                company_url=None,
                enabled=True,
                feed_policy="all-open",
                feed_token=None,
                sync_interval_minutes=None,
                plugin_options={"lever": options},
            )
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
    def contract_signed_webhook(self, fake: FakeLever) -> WebhookRequest:
        return fake.signed_webhook(
            "candidateStageChange",
            {
                "opportunityId": OPPORTUNITY,
                "candidateId": CANDIDATE,
                "fromStageId": "lead-new",
                "toStageId": "applicant-new",
            },
        )

    async def test_lever_forgeries_are_refused(
        self, adapter: AdapterUnderTest, contract_signed_webhook: WebhookRequest | None
    ) -> None:
        """Beyond the kit's forgeries: Lever signs token + triggeredAt inside the body."""
        assert contract_signed_webhook is not None
        now = datetime.now(UTC)
        signed = contract_signed_webhook
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


class TestLeverPublicContract(_LeverContract):
    @pytest.fixture
    def contract_options(self, fake: FakeLever) -> dict[str, Any]:
        return {"site": fake.site, "base_url": fake.url, "webhook_tokens": [WEBHOOK_SECRET], **FAST}

    @pytest.fixture
    def contract_expected_ids(self, fake: FakeLever) -> set[str]:
        return fake.job_ids(published_only=True)

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
    ("country", "expected"), [("gb", "GB"), ("US", "US"), (None, None), ("", None), ("USA", None)]
)
def test_country_codes(country: str | None, expected: str | None) -> None:
    assert mapping.country_code(country) == expected


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
    account = Account("acme", "lever", "Acme", None, True, "all-open", None, None, {"lever": options})
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
        assert await call(adapter, "verify_webhook", request=fake.signed_webhook(secret=secret)) is None


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


async def test_parses_application_created(public: AdapterUnderTest, fake: FakeLever) -> None:
    request = fake.signed_webhook(
        "applicationCreated",
        {
            "candidateId": CANDIDATE,
            "opportunityId": OPPORTUNITY,
            "applicationId": "app-1",
            "contactId": "contact-1",
            "postingId": posting_id(0),
        },
        token="delivery-1",
        triggered_at=1_763_900_000_000,
        received_at=datetime.fromtimestamp(1_763_900_001, UTC),
    )
    assert await parse(public, request) == [
        Event(
            kind="application_created",
            dedupe_key="applicationCreated:delivery-1",
            occurred_at=datetime.fromtimestamp(1_763_900_000, UTC),
            ats_job_id=posting_id(0),
            ats_application_id=OPPORTUNITY,
            ats_candidate_id=CANDIDATE,
            ats_event="applicationCreated",
        )
    ]


async def test_parses_a_stage_change(public: AdapterUnderTest, fake: FakeLever) -> None:
    request = fake.signed_webhook(
        "candidateStageChange",
        {
            "opportunityId": OPPORTUNITY,
            "candidateId": CANDIDATE,
            "fromStageId": "lead-new",
            "toStageId": "offer",
        },
        token="delivery-2",
    )
    [event] = await parse(public, request)
    assert (event.kind, event.from_stage_id, event.to_stage_id) == ("stage_changed", "lead-new", "offer")
    assert (event.ats_application_id, event.ats_candidate_id, event.ats_job_id) == (
        OPPORTUNITY,
        CANDIDATE,
        None,
    )
    assert event.dedupe_key == "candidateStageChange:delivery-2"
    assert event.occurred_at.tzinfo is not None


async def test_parses_a_hire(public: AdapterUnderTest, fake: FakeLever) -> None:
    [event] = await parse(public, fake.signed_webhook("candidateHired", token="delivery-3"))
    assert (event.kind, event.ats_event, event.dedupe_key) == (
        "hired",
        "candidateHired",
        "candidateHired:delivery-3",
    )


def _archive(fake: FakeLever, reason: str, delivery: str = "delivery-4") -> WebhookRequest:
    data = {
        "opportunityId": OPPORTUNITY,
        "candidateId": CANDIDATE,
        "toArchived": {"archivedAt": 1_763_900_000_000, "reason": reason},
        "fromArchived": None,
    }
    return fake.signed_webhook("candidateArchiveChange", data, token=delivery)


async def test_an_archive_with_a_hired_reason_is_a_hire(v1: AdapterUnderTest, fake: FakeLever) -> None:
    [event] = await parse(v1, _archive(fake, HIRED_REASON_ID))
    assert (event.kind, event.ats_event, event.to_stage_id) == ("hired", "candidateArchiveChange", None)
    assert event.dedupe_key == "candidateArchiveChange:delivery-4"


async def test_an_archive_with_another_reason_is_an_archive(v1: AdapterUnderTest, fake: FakeLever) -> None:
    [event] = await parse(v1, _archive(fake, NON_HIRED_REASON_ID))
    assert (event.kind, event.to_stage_id, event.stage_name) == ("archived", None, None)


async def test_leaving_the_archive_is_not_an_event(v1: AdapterUnderTest, fake: FakeLever) -> None:
    data = {
        "opportunityId": OPPORTUNITY,
        "candidateId": CANDIDATE,
        "fromArchived": {"archivedAt": 1_763_900_000_000, "reason": NON_HIRED_REASON_ID},
        "toArchived": None,
    }
    assert await parse(v1, fake.signed_webhook("candidateArchiveChange", data)) == []
    assert fake.faults.requests == []  # no reason to look up


async def test_archive_reasons_are_cached(v1: AdapterUnderTest, fake: FakeLever) -> None:
    await parse(v1, _archive(fake, HIRED_REASON_ID, "a"))
    await parse(v1, _archive(fake, NON_HIRED_REASON_ID, "b"))
    assert fake.faults.requests == ["GET /v1/archive_reasons?limit=7"]


async def test_an_unknown_archive_reason_refreshes_the_cache(v1: AdapterUnderTest, fake: FakeLever) -> None:
    await parse(v1, _archive(fake, HIRED_REASON_ID, "a"))
    [event] = await parse(v1, _archive(fake, "a-reason-created-since", "b"))
    assert event.kind == "archived"
    assert fake.faults.requests == ["GET /v1/archive_reasons?limit=7"] * 2


async def test_without_a_key_an_archive_stays_an_archive(public: AdapterUnderTest, fake: FakeLever) -> None:
    [event] = await parse(public, _archive(fake, HIRED_REASON_ID))
    assert event.kind == "archived"
    assert fake.faults.requests == []


async def test_archive_reasons_unavailable_fails_the_parse(v1: AdapterUnderTest, fake: FakeLever) -> None:
    # Better retried later than a hire recorded as a plain archive.
    fake.faults.server_errors = 1000
    with pytest.raises(AdapterUnavailable):
        await parse(v1, _archive(fake, HIRED_REASON_ID))


async def test_redelivery_keeps_the_dedupe_key(public: AdapterUnderTest, fake: FakeLever) -> None:
    first = await parse(
        public, fake.signed_webhook("candidateHired", token="same", triggered_at=time.time_ns() // 10**6)
    )
    again = await parse(public, fake.signed_webhook("candidateHired", token="same"))
    assert first[0].dedupe_key == again[0].dedupe_key


@pytest.mark.parametrize("event", ["candidateDeleted", "interviewCreated", "somethingNew"])
async def test_ignores_events_it_does_not_use(public: AdapterUnderTest, fake: FakeLever, event: str) -> None:
    assert await parse(public, fake.signed_webhook(event)) == []


@pytest.mark.parametrize(
    ("event", "data"),
    [
        ("candidateHired", None),
        ("candidateHired", ["x"]),
        ("candidateStageChange", {"opportunityId": OPPORTUNITY}),
    ],
)
async def test_refuses_known_events_with_unusable_data(
    public: AdapterUnderTest, fake: FakeLever, event: str, data: Any
) -> None:
    request = rewrite(fake.signed_webhook(event), data=data if data is not None else "nothing")
    with pytest.raises(WebhookMalformed):
        await parse(public, request)
