"""The ``pinpoint`` adapter against a fake Pinpoint on a real socket: the contract kit, then the details."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from hub.errors import (
    AdapterAuthError,
    AdapterUnavailable,
    ApplicationRefused,
    OutcomeUnknown,
    WebhookMalformed,
    WebhookRejected,
)
from hub.normalised import (
    Account,
    Application,
    ApplicationResult,
    Event,
    Job,
    JobPage,
    Stage,
    WebhookRequest,
    candidate_hash,
)
from hub.options import validate_options
from hub.plugins import PluginHost
from hub.testing import AdapterContract, ApplicationSample, HireSample, make_account
from plugins.pinpoint import const, plugin
from plugins.pinpoint.client import base_url
from plugins.pinpoint.mapping import (
    MappingError,
    application_document,
    created_application,
    employment_type,
    job_from_resource,
    salary_text,
    split_name,
    triggered_at,
    workplace,
)
from tests.peers.pinpoint import (
    EPOCH,
    FIRST_CREATED_APPLICATION_ID,
    SAMPLE_APPLICATION_ID,
    FakePinpoint,
    job_id,
    status_of,
)

PAGE_SIZE = 7
JOBS = 40


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # request_json's own backoff between retries: milliseconds, so retry tests stay fast.
    monkeypatch.setattr(const, "BACKOFF_BASE", 0.001)


@pytest.fixture
async def fake() -> AsyncIterator[FakePinpoint]:
    pinpoint = FakePinpoint(jobs=JOBS)
    async with pinpoint.serving():
        yield pinpoint


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def raw_options(fake: FakePinpoint, **overrides: Any) -> dict[str, Any]:
    """The account's ``[accounts.x.pinpoint]`` table as written in config."""
    return {
        "subdomain": "acme",
        "api_key": fake.api_key,
        "base_url": fake.url,
        "page_size": PAGE_SIZE,
        "rate_per_second": 1000.0,
        "webhook_secret": fake.webhook_secret,
    } | overrides


def account_for(fake: FakePinpoint, tmp_path: Path, **overrides: Any) -> Account:
    options = validate_options(
        plugin.appcast_hub_plugin_info().options,
        raw_options(fake, **overrides),
        key="accounts.acme.pinpoint",
        base_dir=tmp_path,
    )
    return make_account("pinpoint", {"pinpoint": options}, name="acme", company="Acme Ltd")


def options_of(account: Account) -> dict[str, Any]:
    return dict(account.plugin_options["pinpoint"])


async def fetch(
    account: Account, http: aiohttp.ClientSession, since: datetime | None = None
) -> list[JobPage]:
    pages = plugin.appcast_hub_fetch_jobs(account, options_of(account), http, since)
    return [page async for page in pages]


async def fetch_jobs(account: Account, http: aiohttp.ClientSession) -> dict[str, Job]:
    return {job.ats_id: job for page in await fetch(account, http) for job in page.jobs}


# --- the contract kit ---------------------------------------------------------------------------------


class TestPinpointContract(AdapterContract):
    @pytest.fixture
    def contract_plugin(self) -> tuple[str, Any]:
        return "pinpoint", plugin

    @pytest.fixture
    async def contract_options(self, fake: FakePinpoint) -> dict[str, Any]:
        return raw_options(fake)

    @pytest.fixture
    def contract_expected_ids(self, fake: FakePinpoint) -> set[str]:
        return set(fake.job_ids())

    @pytest.fixture
    def contract_min_pages(self) -> int:
        return 3

    @pytest.fixture
    def contract_signed_webhooks(self, fake: FakePinpoint) -> list[WebhookRequest]:
        for application in ("9101", "9102"):
            fake.add_application(application, job=job_id(1), email=f"{application}@example.com")
        return [fake.signed_webhook(fake.hired_body(a, job_id(1))) for a in ("9101", "9102")]

    @pytest.fixture
    def contract_hire(self, fake: FakePinpoint) -> HireSample:
        since = datetime.now(UTC) - timedelta(seconds=5)
        fake.add_application("9100", job=job_id(2), email="hire@example.com", status="interview")
        fake.mark_hired("9100")
        return HireSample(fake.signed_webhook(fake.hired_body("9100", job_id(2))), since, job_id(2))

    @pytest.fixture
    def contract_changed_since(self, fake: FakePinpoint) -> Any:
        def change() -> tuple[datetime, str]:
            since = datetime.now(UTC) - timedelta(seconds=1)
            fake.edit_job(job_id(1), title="A changed title")
            return since, job_id(1)

        return change

    @pytest.fixture
    def contract_application(self, fake: FakePinpoint) -> ApplicationSample:
        return ApplicationSample(_job("4000"), an_application(), lambda: list(fake.applications))

    @pytest.fixture
    def contract_refused_application(self, fake: FakePinpoint) -> ApplicationSample:
        # Pinpoint answers 422 "Job is not accepting applications".
        return ApplicationSample(_job("4003"), an_application(), lambda: list(fake.applications))

    @pytest.fixture
    def contract_unfillable_application(self, fake: FakePinpoint) -> ApplicationSample:
        # Pinpoint documents no way to send answers: refused, rather than sent without them.
        application = an_application(answers={"q1": "Yes"})
        return ApplicationSample(_job("4000"), application, lambda: list(fake.applications))


# --- jobs -------------------------------------------------------------------------------------------


async def test_a_known_job_maps_every_field(fake: FakePinpoint, http, tmp_path) -> None:
    jobs = await fetch_jobs(account_for(fake, tmp_path), http)
    assert jobs["4000"] == Job(
        ats_id="4000",
        title="Senior Backend Engineer",
        posted_at=datetime(2026, 1, 5, 10, 0, tzinfo=UTC),  # published_at, an hour after creation
        updated_at=datetime(2026, 1, 6, 9, 0, tzinfo=UTC),
        is_open=True,
        description_html=(
            "<p>Join our Engineering team as a Senior Backend Engineer.</p>\n"
            "<h3>Key responsibilities</h3>\n<ul><li>Own senior backend engineer work</li></ul>\n"
            "<h3>Skills, knowledge and expertise</h3>\n<ul><li>Curiosity</li><li>Care</li></ul>\n"
            "<h3>Benefits</h3>\n<p>25 days holiday, pension, private healthcare.</p>"
        ),
        requisition_id="REQ-10000",
        city="London",
        region="Greater London",
        country="GB",
        postal_code="EC2A 4NE",
        workplace="onsite",
        department="Engineering",
        employment_type="full-time",
        salary_text="GBP 30000-45000 per year",
        hosted_url="https://acme.pinpointhq.com/en/postings/4000-0",
        apply_url="https://acme.pinpointhq.com/en/postings/4000-0",
    )


async def test_varied_jobs_map_sensibly(fake: FakePinpoint, http, tmp_path) -> None:
    jobs = await fetch_jobs(account_for(fake, tmp_path), http)
    hourly = jobs["4001"]
    assert (hourly.city, hourly.country, hourly.workplace) == ("Manchester", "GB", "remote")
    assert hourly.employment_type == "full-time"  # "Permanent Full-time"
    assert hourly.salary_text == "GBP 14.50-18 per hour"
    assert "<h3>Key responsibilities</h3>" not in hourly.description_html  # absent section, no heading

    odd = jobs["4002"]
    assert "]]>" in odd.description_html
    assert "🚀" in odd.description_html
    assert "\x0b" in odd.description_html  # kept as Pinpoint has it: the hub cleans text on storing
    assert (odd.salary_text, odd.employment_type, odd.workplace) == (
        "Competitive salary + equity",
        "part-time",
        "hybrid",
    )
    assert odd.city == "New York"
    assert odd.region == "NY"
    assert odd.country == "US"

    remote_us = jobs["4005"]
    assert (remote_us.city, remote_us.country) == (None, "US")  # country by name only
    assert remote_us.salary_text == "USD 14.50-18 per hour"
    assert jobs["4004"].requisition_id is None
    assert jobs["4006"].posted_at == datetime(2026, 1, 5, 9, 6, tzinfo=UTC)  # a draft: created_at
    assert jobs["4008"].salary_text is None  # compensation_visible: false
    assert jobs["4003"].employment_type == "contract"
    assert jobs["4004"].employment_type == "contract"  # "Fixed Term"
    assert jobs["4005"].employment_type == "temporary"
    assert jobs["4006"].employment_type == "internship"


async def test_every_status_is_listed_and_only_open_is_open(fake: FakePinpoint, http, tmp_path) -> None:
    jobs = await fetch_jobs(account_for(fake, tmp_path), http)
    statuses = {status_of(i) for i in range(JOBS)}
    assert statuses == {"open", "closed", "draft", "archived", "pending_approval"}
    assert set(jobs) == set(fake.job_ids())
    for ats_id, job in jobs.items():
        assert job.is_open is (fake.attributes(ats_id)["status"] == "open"), ats_id
    assert {j.ats_id for j in jobs.values() if j.is_open} == set(fake.job_ids(open_only=True))
    # A full sync must not filter by status (it would hide closures) and asks for locations.
    listed = [r for r in fake.faults.requests if r.startswith("GET /api/v1/jobs")]
    assert listed
    assert all("filter" not in r and "include=location" in r for r in listed)


async def test_edits_show_on_the_next_fetch(fake: FakePinpoint, http, tmp_path) -> None:
    account = account_for(fake, tmp_path)
    fake.close_job("4000")
    fake.edit_job("4001", title="Night Shift Lead", location_id=None)
    added = fake.add_job(title="Brand New Role", status="open")
    jobs = await fetch_jobs(account, http)
    assert jobs["4000"].is_open is False
    assert jobs["4001"].title == "Night Shift Lead"
    assert (jobs["4001"].city, jobs["4001"].country) == (None, None)
    assert jobs[added].title == "Brand New Role"
    assert jobs[added].is_open


async def test_since_still_fetches_a_full_snapshot(fake: FakePinpoint, http, tmp_path) -> None:
    pages = await fetch(account_for(fake, tmp_path), http, since=datetime.now(UTC) - timedelta(hours=1))
    assert all(page.snapshot for page in pages)
    assert {job.ats_id for page in pages for job in page.jobs} == set(fake.job_ids())


async def test_an_empty_account_yields_one_empty_snapshot_page(http, tmp_path) -> None:
    empty = FakePinpoint(jobs=0)
    async with empty.serving():
        pages = await fetch(account_for(empty, tmp_path), http)
    assert pages == [JobPage([], snapshot=True)]


@pytest.mark.parametrize("paging", ["links", "meta", "none"])
@pytest.mark.parametrize("cap", [100, 5])
async def test_paging_styles_and_server_caps(fake: FakePinpoint, http, tmp_path, paging, cap) -> None:
    # Whether the server announces pages by links, by meta, or not at all, and even when it sends fewer
    # than page[size] asked for, every job arrives exactly once.
    fake.paging = paging
    fake.max_page_size = cap
    pages = await fetch(account_for(fake, tmp_path), http)
    ids = [job.ats_id for page in pages for job in page.jobs]
    assert sorted(ids) == sorted(fake.job_ids())
    assert len(pages) == -(-JOBS // min(cap, PAGE_SIZE))


async def test_a_server_ignoring_page_number_fails_loudly(fake: FakePinpoint, http, tmp_path) -> None:
    fake.ignore_page_number = True
    with pytest.raises(AdapterUnavailable, match=r"ignores page\[number\]"):
        await fetch(account_for(fake, tmp_path), http)


async def test_an_open_job_without_title_fails_the_sync(fake: FakePinpoint, http, tmp_path) -> None:
    fake.edit_job("4000", title="")
    fake.edit_job("4006", title=None)  # a draft: placeholder, no failure on its own
    with pytest.raises(AdapterUnavailable, match="open job 4000 has no title"):
        await fetch(account_for(fake, tmp_path), http)
    fake.edit_job("4000", title="Back Again")
    jobs = await fetch_jobs(account_for(fake, tmp_path), http)
    assert jobs["4006"].title == "Untitled Pinpoint job 4006"
    assert not jobs["4006"].is_open


# --- failures -------------------------------------------------------------------------------------------


async def test_429_waits_for_retry_after(fake: FakePinpoint, http, tmp_path) -> None:
    fake.faults.rate_limited, fake.faults.retry_after = 2, 0.05
    started = time.monotonic()
    jobs = await fetch_jobs(account_for(fake, tmp_path), http)
    # Two waits of Retry-After; the patched backoff alone would take milliseconds.
    assert time.monotonic() - started >= 0.1
    assert set(jobs) == set(fake.job_ids())


async def test_a_5xx_burst_is_retried(fake: FakePinpoint, http, tmp_path) -> None:
    fake.faults.server_errors = const.ATTEMPTS - 1
    jobs = await fetch_jobs(account_for(fake, tmp_path), http)
    assert set(jobs) == set(fake.job_ids())


async def test_persistent_5xx_is_unavailable(fake: FakePinpoint, http, tmp_path) -> None:
    fake.faults.server_errors = 100
    with pytest.raises(AdapterUnavailable, match="HTTP 503") as raised:
        await fetch(account_for(fake, tmp_path), http)
    assert not isinstance(raised.value, AdapterAuthError)
    assert len(fake.faults.requests) == const.ATTEMPTS


async def test_a_body_that_is_not_json_is_unavailable(fake: FakePinpoint, http, tmp_path) -> None:
    fake.faults.malformed = 100
    with pytest.raises(AdapterUnavailable, match="not JSON"):
        await fetch(account_for(fake, tmp_path), http)


async def test_json_that_is_not_jsonapi_is_unavailable(fake: FakePinpoint, http, tmp_path) -> None:
    fake.non_jsonapi = True
    with pytest.raises(AdapterUnavailable, match='not a JSON:API document \\(no "data"\\)'):
        await fetch(account_for(fake, tmp_path), http)


async def test_a_wrong_api_key_is_an_auth_error_at_once(fake: FakePinpoint, http, tmp_path) -> None:
    with pytest.raises(AdapterAuthError, match="api_key"):
        await fetch(account_for(fake, tmp_path, api_key="not-the-key"), http)
    assert len(fake.faults.requests) == 1  # not retried


async def test_a_401_is_an_auth_error(fake: FakePinpoint, http, tmp_path) -> None:
    fake.faults.unauthorized = 1
    with pytest.raises(AdapterAuthError):
        await fetch(account_for(fake, tmp_path), http)


async def test_the_fake_refuses_requests_without_a_key(fake: FakePinpoint, http) -> None:
    async with http.get(f"{fake.url}/api/v1/jobs") as response:
        assert response.status == 401
        assert (await response.json(content_type=None))["errors"][0]["status"] == "401"


async def test_requests_are_rate_limited(fake: FakePinpoint, http, tmp_path) -> None:
    started = time.monotonic()
    pages = await fetch(account_for(fake, tmp_path, rate_per_second=20.0), http)
    # Six requests at 20/s with no burst: at least five gaps of 50 ms.
    assert len(pages) == 6
    assert time.monotonic() - started >= 0.24


def test_base_url_from_subdomain() -> None:
    assert base_url({"subdomain": "acme"}) == "https://acme.pinpointhq.com"
    assert base_url({"subdomain": " https://Acme.pinpointhq.com/ "}) == "https://acme.pinpointhq.com"
    assert base_url({"subdomain": "acme", "base_url": "http://proxy:8080/"}) == "http://proxy:8080"
    with pytest.raises(AdapterUnavailable, match="not a Pinpoint subdomain"):
        base_url({"subdomain": "evil.example/x"})


# --- mapping details --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Full Time", "full-time"),
        ("Permanent Full-time", "full-time"),
        ("full_time", "full-time"),
        ("Part Time", "part-time"),
        ("Permanent Part-time", "part-time"),
        ("Contract", "contract"),
        ("Fixed Term", "contract"),
        ("Temporary", "temporary"),
        ("Internship", "internship"),
        ("Zero Hours", "zero hours"),
        ("", None),
    ],
)
def test_employment_types(text: str, expected: str | None) -> None:
    assert employment_type(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("On-site", "onsite"),
        ("onsite", "onsite"),
        ("on_site", "onsite"),
        ("Remote", "remote"),
        ("Hybrid", "hybrid"),
        ("Flexible", None),
        (None, None),
    ],
)
def test_workplaces(text: str | None, expected: str | None) -> None:
    assert workplace(text) == expected


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        (
            {
                "compensation_minimum": 50000.0,
                "compensation_maximum": 60000.0,
                "compensation_currency": "usd",
                "compensation_frequency": "annually",
            },
            "USD 50000-60000 per year",
        ),
        ({"compensation_minimum": "1,200", "compensation_frequency": "per_month"}, "1200 per month"),
        ({"compensation_maximum": 30, "compensation_frequency": "fortnight"}, "30 per fortnight"),
        (
            {"compensation": {"min": 10, "max": 12, "currency": "EUR", "frequency": "hourly"}},
            "EUR 10-12 per hour",
        ),
        ({"compensation": "DOE"}, "DOE"),
        ({"compensation_minimum": 1, "compensation_visible": False}, None),
        ({}, None),
    ],
)
def test_salaries(attributes: dict[str, Any], expected: str | None) -> None:
    assert salary_text(attributes) == expected


def test_a_location_can_be_inline_and_department_an_object() -> None:
    job = job_from_resource(
        {
            "id": 7,
            "type": "jobs",
            "attributes": {
                "title": " Porter ",
                "status": "open",
                "created_at": "2026-02-01T10:00:00+01:00",
                "department": {"id": 3, "name": "Facilities"},
                "location": {"city": "Leeds", "state": "West Yorkshire", "country": "GB"},
                "reference": 991,
                "url": "https://acme.pinpointhq.com/en/postings/7",
                "apply_url": "https://acme.pinpointhq.com/en/postings/7/applications/new",
            },
        },
        {},
    )
    assert (job.ats_id, job.title, job.department, job.requisition_id) == ("7", "Porter", "Facilities", "991")
    assert (job.city, job.region, job.country) == ("Leeds", "West Yorkshire", "GB")
    assert job.posted_at == datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    assert job.apply_url.endswith("/applications/new")


def test_triggered_at_is_seconds_and_tolerates_milliseconds() -> None:
    assert triggered_at({"triggeredAt": 1614687278}) == datetime(2021, 3, 2, 12, 14, 38, tzinfo=UTC)
    assert triggered_at({"triggeredAt": 1614687278000}) == datetime(2021, 3, 2, 12, 14, 38, tzinfo=UTC)
    assert triggered_at({}) is None


# --- stages ---------------------------------------------------------------------------------------


async def test_stages_are_listed_with_their_workflows(fake: FakePinpoint, http, tmp_path) -> None:
    account = account_for(fake, tmp_path)
    stages = await plugin.appcast_hub_list_stages(account, options_of(account), http)
    assert Stage("102", "Phone screen", "Standard hiring") in stages
    assert Stage("202", "Assessment centre", "Graduate scheme") in stages
    assert len(stages) == len(fake.stages)


async def test_no_stage_endpoint_is_a_clear_error(fake: FakePinpoint, http, tmp_path) -> None:
    fake.stages_available = False
    account = account_for(fake, tmp_path)
    with pytest.raises(AdapterUnavailable, match="no stage listing") as raised:
        await plugin.appcast_hub_list_stages(account, options_of(account), http)
    assert "404" in str(raised.value)
    assert len(fake.faults.requests) == 1  # a 404 is not retried


# --- webhooks -------------------------------------------------------------------------------------


def verify(account: Account, request: Any) -> str | None:
    return plugin.appcast_hub_verify_webhook(account, options_of(account), request)


def test_a_signed_webhook_is_accepted(fake: FakePinpoint, tmp_path) -> None:
    verify(account_for(fake, tmp_path), fake.signed_webhook())


def test_a_webhook_has_no_identity_so_the_hub_digests_the_body(fake: FakePinpoint, tmp_path) -> None:
    # Pinpoint sends no delivery id or token: verify answers None (explicitly, not by falling off the
    # end), and the hub names the delivery by a digest of its body.
    account = account_for(fake, tmp_path)
    body = fake.hired_body()
    first = fake.signed_webhook(body)
    redelivery = fake.signed_webhook(body, received_at=first.received_at + timedelta(minutes=5))
    assert verify(account, first) is None
    assert verify(account, redelivery) is None
    assert redelivery.body == first.body  # the same body: the same digest, so "already seen"
    # Another hire is another body, so another delivery.
    assert verify(account, fake.signed_webhook(fake.hired_body("9002"))) is None


async def test_verify_returns_none_through_the_plugin_host(fake: FakePinpoint, tmp_path) -> None:
    host = PluginHost()
    assert host.register("pinpoint", plugin)
    account = account_for(fake, tmp_path)
    assert (
        await host.call("pinpoint", "appcast_hub_verify_webhook", account, request=fake.signed_webhook())
        is None
    )


def test_the_signature_header_is_case_insensitive(fake: FakePinpoint, tmp_path) -> None:
    signed = fake.signed_webhook()
    lowered = {name.lower(): value for name, value in signed.headers.items()}
    verify(account_for(fake, tmp_path), dataclasses.replace(signed, headers=lowered))


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda fake: fake.signed_webhook(secret="someone-else"), id="wrong secret"),
        pytest.param(lambda fake: dataclasses.replace(fake.signed_webhook(), headers={}), id="no header"),
        pytest.param(
            lambda fake: dataclasses.replace(fake.signed_webhook(), body=fake.signed_webhook().body + b" "),
            id="tampered body",
        ),
        pytest.param(
            lambda fake: dataclasses.replace(fake.signed_webhook(), headers={"PINPOINT-HMAC-SHA256": "é€"}),
            id="non-ascii header",
        ),
    ],
)
def test_forged_webhooks_are_rejected(fake: FakePinpoint, tmp_path, forge) -> None:
    with pytest.raises(WebhookRejected):
        verify(account_for(fake, tmp_path), forge(fake))


def test_without_a_secret_every_webhook_is_rejected(fake: FakePinpoint, tmp_path) -> None:
    account = account_for(fake, tmp_path, webhook_secret="")
    with pytest.raises(WebhookRejected, match="no webhook_secret configured"):
        verify(account, fake.signed_webhook())


@pytest.mark.parametrize("offset", [-26 * 3600, 26 * 3600])
def test_stale_or_future_webhooks_are_rejected(fake: FakePinpoint, tmp_path, offset: int) -> None:
    body = fake.hired_body(triggered_at=int(time.time()) + offset)
    with pytest.raises(WebhookRejected, match="stale"):
        verify(account_for(fake, tmp_path), fake.signed_webhook(body))
    # The window is configurable, and 0 switches the check off.
    verify(account_for(fake, tmp_path, webhook_max_age_seconds=27 * 3600.0), fake.signed_webhook(body))
    verify(account_for(fake, tmp_path, webhook_max_age_seconds=0.0), fake.signed_webhook(body))


def test_a_retry_within_pinpoints_24_hour_window_is_accepted(fake: FakePinpoint, tmp_path) -> None:
    body = fake.hired_body(triggered_at=int(time.time()) - 23 * 3600)
    verify(account_for(fake, tmp_path), fake.signed_webhook(body))


def test_a_webhook_without_triggered_at_is_not_aged(fake: FakePinpoint, tmp_path) -> None:
    body = fake.hired_body()
    del body["triggeredAt"]
    verify(account_for(fake, tmp_path), fake.signed_webhook(body))


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"\xff\xfe", b'{"triggeredAt": "soon"}'])
def test_signed_bodies_that_are_not_webhooks_are_malformed(fake: FakePinpoint, tmp_path, raw: bytes) -> None:
    with pytest.raises(WebhookMalformed):
        verify(account_for(fake, tmp_path), fake.signed_webhook(raw))


async def parse(account: Account, request: Any, http: aiohttp.ClientSession) -> list[Any]:
    return list(await plugin.appcast_hub_parse_webhook(account, options_of(account), request, http))


async def test_a_hire_is_completed_from_the_application(fake: FakePinpoint, http, tmp_path) -> None:
    body = fake.hired_body(triggered_at=1_770_000_000)
    [event] = await parse(account_for(fake, tmp_path), fake.signed_webhook(body), http)
    assert event.kind == "hired"
    assert event.dedupe_key == f"application_hired:{SAMPLE_APPLICATION_ID}"
    assert event.ats_application_id == SAMPLE_APPLICATION_ID
    assert event.ats_job_id == "4000"
    assert event.occurred_at == datetime.fromtimestamp(1_770_000_000, UTC)
    assert event.ats_candidate_id == f"c{SAMPLE_APPLICATION_ID}"
    assert event.candidate_hash == candidate_hash("hired.person@example.com")
    assert (event.source, event.stage_name, event.to_stage_id) == ("Appcast", "Hired", "105")
    assert event.ats_event == "application_hired"
    assert f"GET /api/v1/applications/{SAMPLE_APPLICATION_ID}?include=candidate" in fake.faults.requests
    # A redelivery is the same event.
    [again] = await parse(account_for(fake, tmp_path), fake.signed_webhook(body), http)
    assert again.dedupe_key == event.dedupe_key


async def test_a_failed_detail_fetch_is_retried_later_not_recorded_thin(
    fake: FakePinpoint, http, tmp_path
) -> None:
    # The hub retries a stored webhook whose parse raised AdapterUnavailable. Recording the hire without
    # source and candidate instead would keep them out for good: reconciliation's complete event for
    # the same hire has the same key and would be "already seen".
    fake.faults.server_errors = 100
    account = account_for(fake, tmp_path)
    with pytest.raises(AdapterUnavailable, match="HTTP 503"):
        await parse(account, fake.signed_webhook(), http)
    fake.faults.server_errors = 0
    [event] = await parse(account, fake.signed_webhook(), http)
    assert (event.source, event.candidate_hash) == ("Appcast", candidate_hash("hired.person@example.com"))


async def test_an_auth_failure_on_the_detail_fetch_is_raised(fake: FakePinpoint, http, tmp_path) -> None:
    with pytest.raises(AdapterAuthError):
        await parse(account_for(fake, tmp_path, api_key="revoked"), fake.signed_webhook(), http)


async def test_a_hire_of_an_unknown_application_keeps_the_webhook_facts(
    fake: FakePinpoint, http, tmp_path, caplog
) -> None:
    # A 404 will not get better by asking again: the hire is recorded with what the webhook said.
    received = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    body = fake.hired_body("123", "4001")
    del body["triggeredAt"]
    with caplog.at_level(logging.WARNING):
        [event] = await parse(
            account_for(fake, tmp_path), fake.signed_webhook(body, received_at=received), http
        )
    assert (event.dedupe_key, event.ats_job_id, event.source) == ("application_hired:123", "4001", None)
    assert (event.occurred_at, event.candidate_hash) == (received, None)
    assert "recorded without details" in caplog.text
    assert fake.api_key not in caplog.text
    assert fake.webhook_secret not in caplog.text
    assert len(fake.faults.requests) == 1  # a 404 is not retried


async def test_other_events_are_ignored(fake: FakePinpoint, http, tmp_path) -> None:
    body = {
        "event": "application_created",
        "triggeredAt": int(time.time()),
        "data": {"application": {"id": 5}},
    }
    assert await parse(account_for(fake, tmp_path), fake.signed_webhook(body), http) == []
    assert fake.faults.requests == []


@pytest.mark.parametrize(
    "data", [{}, {"application": {}}, {"application": {"id": None}}, {"application": 5}, None]
)
async def test_a_hire_without_an_application_id_is_malformed(
    fake: FakePinpoint, http, tmp_path, data
) -> None:
    body = {"event": "application_hired", "triggeredAt": int(time.time()), "data": data}
    with pytest.raises(WebhookMalformed, match=r"data\.application\.id"):
        await parse(account_for(fake, tmp_path), fake.signed_webhook(body), http)


def test_the_fake_signs_like_pinpoint_documents() -> None:
    # Base64(HMAC-SHA256(secret, raw body)), the value from
    # `printf '%s' BODY | openssl dgst -sha256 -hmac secret -binary | base64`.
    fake = FakePinpoint(jobs=0, webhook_secret="secret")
    signed = fake.signed_webhook(b'{"event":"application_hired"}')
    assert signed.headers["PINPOINT-HMAC-SHA256"] == "jZbj5F1/lCPDbvZXPs5neUZc3j1f6nnBRbrZEraT96o="
    assert json.loads(signed.body) == {"event": "application_hired"}


# --- reconciliation -------------------------------------------------------------------------------


def _ago(**delta: float) -> datetime:
    # Whole seconds, so times survive the fake's millisecond rendering unchanged.
    return datetime.now(UTC).replace(microsecond=0) - timedelta(**delta)


def list_queries(fake: FakePinpoint) -> list[dict[str, str]]:
    """The query of every ``GET /api/v1/applications`` the fake received, decoded."""
    queries = []
    for line in fake.faults.requests:
        method, _, target = line.partition(" ")
        parts = urlsplit(target)
        if method == "GET" and parts.path == "/api/v1/applications":
            queries.append({key: values[0] for key, values in parse_qs(parts.query).items()})
    return queries


async def reconcile(account: Account, http: aiohttp.ClientSession, since: datetime) -> dict[str, Event]:
    events = await plugin.appcast_hub_fetch_recent_events(account, options_of(account), http, since)
    keys = [event.dedupe_key for event in events]
    assert len(keys) == len(set(keys)), "an event was returned twice"
    return {event.ats_application_id or "": event for event in events}


def add_history(fake: FakePinpoint, count: int = 30) -> None:
    """``count`` applications updated an hour apart, ending two days ago: every fourth one hired."""
    for n in range(count):
        moment = _ago(days=2, hours=count - n)
        fake.add_application(
            str(100 + n),
            job="4001",
            email=f"person{n}@example.com",
            status="hired" if n % 4 == 0 else "new",
            updated_at=moment,
            source="LinkedIn",
        )


def recent_activity(fake: FakePinpoint) -> datetime:
    """Two recent hires and one recent non-hire; returns when the hires happened."""
    hired_at = _ago(hours=1)
    fake.add_application("501", job="4000", email="new.starter@example.com", status="new", source="Appcast")
    fake.mark_hired("501", hired_at)
    fake.add_application("502", job="4002", email="x@example.com", status="new", source=None)
    fake.mark_hired("502", hired_at - timedelta(minutes=5))
    fake.add_application("503", job="4000", email="still.waiting@example.com", status="new")
    fake.edit_application("503", updated_at=_ago(minutes=30))
    return hired_at


async def test_reconciliation_finds_recent_hires_with_the_filters(fake: FakePinpoint, http, tmp_path) -> None:
    add_history(fake)
    hired_at = recent_activity(fake)
    since = _ago(hours=3)
    found = await reconcile(account_for(fake, tmp_path), http, since)
    assert set(found) == {"501", "502"}
    assert found["501"] == Event(
        kind="hired",
        dedupe_key="application_hired:501",
        occurred_at=hired_at,
        ats_job_id="4000",
        ats_application_id="501",
        ats_candidate_id="c501",
        to_stage_id="105",
        stage_name="Hired",
        source="Appcast",
        candidate_hash=candidate_hash("new.starter@example.com"),
        ats_event="reconciliation",
    )
    assert found["502"].source is None
    [query] = list_queries(fake)  # one page: the filters did the work
    assert query["filter[status]"] == "hired"
    assert query["include"] == "candidate,job"
    assert query["page[number]"] == "1"
    assert query["page[size]"] == str(PAGE_SIZE)
    # ISO 8601 in UTC, whole seconds, a second before ``since`` so nothing at ``since`` is lost.
    assert query["filter[updated_at_after]"] == (since - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "sort" not in query


async def test_a_webhook_and_reconciliation_give_a_hire_the_same_key(
    fake: FakePinpoint, http, tmp_path
) -> None:
    account = account_for(fake, tmp_path)
    [from_webhook] = await parse(account, fake.signed_webhook(), http)
    found = await reconcile(account, http, EPOCH - timedelta(days=1))
    from_poll = found[SAMPLE_APPLICATION_ID]
    assert from_poll.dedupe_key == from_webhook.dedupe_key == f"application_hired:{SAMPLE_APPLICATION_ID}"
    assert from_poll.ats_event == "reconciliation"
    for name in ("kind", "ats_job_id", "ats_application_id", "ats_candidate_id", "source", "candidate_hash"):
        assert getattr(from_poll, name) == getattr(from_webhook, name), name
    assert from_poll.occurred_at == EPOCH  # hired_at


async def test_refused_filters_fall_back_to_newest_first_and_stop_early(
    fake: FakePinpoint, http, tmp_path, caplog
) -> None:
    fake.application_filters = "rejected"
    add_history(fake)  # 31 applications with the sample: five pages of seven
    recent_activity(fake)
    with caplog.at_level(logging.INFO):
        found = await reconcile(account_for(fake, tmp_path), http, _ago(hours=3))
    assert set(found) == {"501", "502"}
    assert found["501"].ats_event == "reconciliation"
    filtered, *newest_first = list_queries(fake)
    assert "filter[status]" in filtered
    assert newest_first, "no fallback listing"
    assert all(q["sort"] == "-updated_at" and "filter[status]" not in q for q in newest_first)
    assert all(q["include"] == "candidate,job" for q in newest_first)
    assert len(newest_first) == 1  # the first page already reached older applications
    assert "refused" in caplog.text


async def test_the_fallback_pages_until_it_reaches_older_applications(
    fake: FakePinpoint, http, tmp_path
) -> None:
    fake.application_filters = "rejected"
    add_history(fake)
    # Hires spread over the last 20 hours: the window spans three pages of seven.
    for n in range(20):
        fake.add_application(str(600 + n), job="4000", email=f"h{n}@example.com", status="new")
        if n % 2 == 0:
            fake.mark_hired(str(600 + n), _ago(hours=n + 1))
        else:
            fake.edit_application(str(600 + n), updated_at=_ago(hours=n + 1))
    found = await reconcile(account_for(fake, tmp_path), http, _ago(hours=19, minutes=30))
    assert set(found) == {str(600 + n) for n in range(0, 19, 2)}
    pages = [int(q["page[number]"]) for q in list_queries(fake) if "sort" in q]
    assert pages == [1, 2, 3]  # of eight


async def test_ignored_filters_are_noticed_and_never_report_a_non_hire(
    fake: FakePinpoint, http, tmp_path, caplog
) -> None:
    fake.application_filters = "ignored"
    add_history(fake)
    recent_activity(fake)
    with caplog.at_level(logging.WARNING):
        found = await reconcile(account_for(fake, tmp_path), http, _ago(hours=3))
    assert set(found) == {"501", "502"}
    assert "ignored" in caplog.text
    assert any(q.get("sort") == "-updated_at" for q in list_queries(fake))


async def test_an_ignored_sort_is_read_to_the_end(fake: FakePinpoint, http, tmp_path, caplog) -> None:
    # Oldest first, as a server that ignores sort might list them: stopping at the first old
    # application would miss every recent hire, so the whole list is read instead.
    fake.application_filters = "rejected"
    fake.application_sort = "ignored"
    add_history(fake)
    recent_activity(fake)
    with caplog.at_level(logging.WARNING):
        found = await reconcile(account_for(fake, tmp_path), http, _ago(hours=3))
    assert set(found) == {"501", "502"}
    pages = [int(q["page[number]"]) for q in list_queries(fake) if "sort" in q]
    assert pages == [1, 2, 3, 4, 5]
    assert "not listed newest first" in caplog.text


async def test_a_refused_sort_reads_every_application(fake: FakePinpoint, http, tmp_path, caplog) -> None:
    # JSON:API servers answer 400 to a sort they do not support: then nothing tells the order, so
    # the whole list is read, however it happens to be ordered.
    fake.application_filters = "rejected"
    fake.application_sort = "rejected"
    add_history(fake)
    recent_activity(fake)
    with caplog.at_level(logging.WARNING):
        found = await reconcile(account_for(fake, tmp_path), http, _ago(hours=3))
    assert set(found) == {"501", "502"}
    queries = list_queries(fake)
    assert [("filter[status]" in q, "sort" in q) for q in queries[:2]] == [(True, False), (False, True)]
    assert [int(q["page[number]"]) for q in queries[2:]] == [1, 2, 3, 4, 5]
    assert all("sort" not in q and "filter[status]" not in q for q in queries[2:])
    assert "sorting applications was refused" in caplog.text


@pytest.mark.parametrize("filters", ["supported", "rejected"])
async def test_hired_at_alone_marks_a_hire(fake: FakePinpoint, http, tmp_path, filters) -> None:
    fake.application_filters = filters
    fake.application_status_attribute = False
    hired_at = recent_activity(fake)
    found = await reconcile(account_for(fake, tmp_path), http, _ago(hours=3))
    assert set(found) == {"501", "502"}
    assert found["501"].occurred_at == hired_at


async def test_a_hire_without_hired_at_happened_when_last_updated(fake: FakePinpoint, http, tmp_path) -> None:
    moment = _ago(minutes=10)
    fake.add_application("701", job="4000", email="a@example.com", updated_at=moment)
    fake.edit_application("701", hired_at=None, updated_at=moment)
    found = await reconcile(account_for(fake, tmp_path), http, _ago(hours=1))
    assert found["701"].occurred_at == moment


async def test_nothing_recent_is_an_empty_list(fake: FakePinpoint, http, tmp_path) -> None:
    add_history(fake)
    account = account_for(fake, tmp_path)
    assert await reconcile(account, http, _ago(hours=1)) == {}
    fake.application_filters = "rejected"
    assert await reconcile(account, http, _ago(hours=1)) == {}


async def test_a_naive_since_is_taken_as_utc(fake: FakePinpoint, http, tmp_path) -> None:
    recent_activity(fake)
    found = await reconcile(account_for(fake, tmp_path), http, _ago(hours=3).replace(tzinfo=None))
    assert set(found) == {"501", "502"}


async def test_reconciliation_failures_are_unavailable(fake: FakePinpoint, http, tmp_path) -> None:
    fake.faults.server_errors = 100
    with pytest.raises(AdapterUnavailable, match="HTTP 503"):
        await reconcile(account_for(fake, tmp_path), http, _ago(hours=1))
    fake.faults.server_errors = 0
    with pytest.raises(AdapterAuthError):
        await reconcile(account_for(fake, tmp_path, api_key="revoked"), http, _ago(hours=1))
    with pytest.raises(AdapterUnavailable, match="no application listing") as raised:
        await reconcile(account_for(fake, tmp_path, base_url=f"{fake.url}/elsewhere"), http, _ago(hours=1))
    assert raised.value.status == 404


async def test_the_hub_sees_the_new_hooks(fake: FakePinpoint) -> None:
    host = PluginHost()
    assert host.register("pinpoint", plugin)
    assert host.implements("pinpoint", "appcast_hub_fetch_recent_events")
    assert host.implements("pinpoint", "appcast_hub_create_application")


# --- applications in ------------------------------------------------------------------------------


def a_job(ats_id: str = "4000") -> Job:
    return Job(ats_id=ats_id, title="Senior Backend Engineer", posted_at=EPOCH)


def _job(ats_id: str) -> Job:
    return Job(ats_id=ats_id, title="Any title", posted_at=datetime.now(UTC))


def an_application(**overrides: Any) -> Application:
    fields: dict[str, Any] = {
        "name": "Ada King Lovelace",
        "email": " ada@example.com ",
        "phone": "+44 20 7946 0000",
        "resume_url": "https://files.example.com/ada.pdf",
        "cover_letter": "I would love to join.",
    }
    return Application(**(fields | overrides))


async def create(
    account: Account, http: aiohttp.ClientSession, application: Application, job: Job | None = None
) -> ApplicationResult:
    return await plugin.appcast_hub_create_application(
        account, options_of(account), job or a_job(), application, http
    )


async def test_an_application_is_created_with_appcast_as_its_source(
    fake: FakePinpoint, http, tmp_path
) -> None:
    result = await create(account_for(fake, tmp_path), http, an_application())
    created = str(FIRST_CREATED_APPLICATION_ID)
    assert result == ApplicationResult(ats_application_id=created, ats_candidate_id=f"c{created}")
    stored = fake.applications[created]
    assert stored["attributes"] == {
        "first_name": "Ada King",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "+44 20 7946 0000",
        "cover_letter": "I would love to join.",
        "resume_url": "https://files.example.com/ada.pdf",
        "source_name": "Appcast",
    }
    assert (stored["job"], stored["source"]) == ("4000", "Appcast")
    assert fake.faults.requests == ["POST /api/v1/applications"]


async def test_a_created_application_comes_back_as_an_appcast_hire(
    fake: FakePinpoint, http, tmp_path
) -> None:
    # Apply, hire, then both the webhook and reconciliation name the same hire with its source.
    account = account_for(fake, tmp_path)
    result = await create(account, http, an_application())
    fake.mark_hired(result.ats_application_id)
    body = fake.hired_body(result.ats_application_id, "4000")
    [from_webhook] = await parse(account, fake.signed_webhook(body), http)
    found = await reconcile(account, http, _ago(minutes=5))
    from_poll = found[result.ats_application_id]
    assert from_poll.dedupe_key == from_webhook.dedupe_key
    assert from_poll.source == from_webhook.source == "Appcast"
    assert from_poll.candidate_hash == from_webhook.candidate_hash == candidate_hash("ada@example.com")
    assert from_poll.ats_candidate_id == result.ats_candidate_id


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("Ada Lovelace", "Ada", "Lovelace"),
        ("  Ada   King  Lovelace ", "Ada King", "Lovelace"),
        ("Cher", "Cher", "-"),
        ("", "", ""),
    ],
)
def test_names_are_split_on_the_last_word(name: str, first: str, last: str) -> None:
    assert split_name(name) == (first, last)


async def test_a_single_name_gets_a_placeholder_last_name(fake: FakePinpoint, http, tmp_path) -> None:
    result = await create(account_for(fake, tmp_path), http, an_application(name="Cher"))
    stored = fake.applications[result.ats_application_id]["attributes"]
    assert (stored["first_name"], stored["last_name"]) == ("Cher", "-")


def test_empty_optional_fields_are_left_out() -> None:
    application = Application(name="Ada Lovelace", email="ada@example.com", phone=" ", source="Appcast")
    document = application_document("4000", application)
    assert document == {
        "data": {
            "type": "applications",
            "attributes": {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": "ada@example.com",
                "source_name": "Appcast",
            },
            "relationships": {"job": {"data": {"type": "jobs", "id": "4000"}}},
        }
    }
    assert (
        "source_name"
        not in application_document("4000", application, with_source=False)["data"]["attributes"]
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"email": ""}, "email"),
        ({"email": "   "}, "email"),
        ({"email": "ada"}, "email"),
        ({"email": "ada@example"}, "email"),
        ({"email": "ada lovelace@example.com"}, "email"),
        ({"answers": {"q1": "yes"}}, "answers"),
    ],
)
async def test_incomplete_applications_are_refused_before_sending(
    fake: FakePinpoint, http, tmp_path, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(ApplicationRefused, match=rf"^{field}\b"):
        await create(account_for(fake, tmp_path), http, an_application(**overrides))
    assert fake.faults.requests == []
    assert len(fake.applications) == 1  # the sample only


async def test_links_are_not_sent_and_say_so(fake: FakePinpoint, http, tmp_path, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        result = await create(
            account_for(fake, tmp_path), http, an_application(urls=["https://linkedin.com/in/ada"])
        )
    assert "urls" not in fake.applications[result.ats_application_id]["attributes"]
    assert "1 link(s)" in caplog.text
    assert "linkedin" not in caplog.text


@pytest.mark.parametrize(
    ("ats_id", "detail"),
    [("4003", "Job is not accepting applications"), ("99999", "Job must exist")],
)
async def test_pinpoints_422_is_a_refusal_with_its_reason(
    fake: FakePinpoint, http, tmp_path, ats_id: str, detail: str
) -> None:
    assert ats_id not in fake.job_ids(open_only=True)
    with pytest.raises(ApplicationRefused, match=f"^Pinpoint refused the application: {detail}$"):
        await create(account_for(fake, tmp_path), http, an_application(), a_job(ats_id))
    assert len(fake.faults.requests) == 1  # a refusal is not retried


async def test_an_unknown_source_attribute_is_dropped_not_the_candidate(
    fake: FakePinpoint, http, tmp_path, caplog
) -> None:
    fake.reject_unknown_attributes = True
    with caplog.at_level(logging.WARNING):
        result = await create(account_for(fake, tmp_path), http, an_application())
    stored = fake.applications[result.ats_application_id]
    assert "source_name" not in stored["attributes"]
    assert stored["attributes"]["email"] == "ada@example.com"
    assert fake.faults.requests == ["POST /api/v1/applications"] * 2
    assert "without its source" in caplog.text


async def test_a_wrong_api_key_refuses_the_application_at_once(fake: FakePinpoint, http, tmp_path) -> None:
    with pytest.raises(AdapterAuthError, match="api_key") as raised:
        await create(account_for(fake, tmp_path, api_key="revoked"), http, an_application())
    assert raised.value.status == 401
    assert len(fake.faults.requests) == 1


async def test_a_5xx_is_not_retried_because_the_application_may_exist(
    fake: FakePinpoint, http, tmp_path
) -> None:
    fake.faults.server_errors = 100
    with pytest.raises(OutcomeUnknown, match="may have taken effect") as raised:
        await create(account_for(fake, tmp_path), http, an_application())
    assert raised.value.status == 503
    assert not isinstance(raised.value, AdapterAuthError)
    assert len(fake.faults.requests) == 1


async def test_a_timeout_is_not_retried(fake: FakePinpoint, http, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(const, "POST_TIMEOUT", 0.05)
    fake.faults.delay = 0.5
    with pytest.raises(OutcomeUnknown, match="may have taken effect") as raised:
        await create(account_for(fake, tmp_path), http, an_application())
    assert raised.value.status is None
    assert len(fake.faults.requests) == 1


async def test_429_queues_the_application_until_pinpoint_takes_it(fake: FakePinpoint, http, tmp_path) -> None:
    fake.faults.rate_limited, fake.faults.retry_after = 2, 0.05
    started = time.monotonic()
    result = await create(account_for(fake, tmp_path), http, an_application())
    assert time.monotonic() - started >= 0.1
    assert result.ats_application_id == str(FIRST_CREATED_APPLICATION_ID)
    assert len(fake.faults.requests) == 3
    assert len(fake.applications) == 2  # created once


async def test_persistent_429_is_unavailable(fake: FakePinpoint, http, tmp_path) -> None:
    fake.faults.rate_limited = 100
    with pytest.raises(AdapterUnavailable, match="HTTP 429") as raised:
        await create(account_for(fake, tmp_path), http, an_application())
    assert raised.value.status == 429
    assert len(fake.faults.requests) == const.ATTEMPTS


async def test_an_unreachable_pinpoint_is_unavailable(fake: FakePinpoint, http, tmp_path) -> None:
    account = account_for(fake, tmp_path, base_url="http://127.0.0.1:1")
    with pytest.raises(AdapterUnavailable, match="unreachable"):
        await create(account, http, an_application())


async def test_applications_share_the_rate_limit(fake: FakePinpoint, http, tmp_path) -> None:
    account = account_for(fake, tmp_path, rate_per_second=20.0)
    started = time.monotonic()
    results = await asyncio.gather(*(create(account, http, an_application()) for _ in range(4)))
    # Four requests at 20/s with no burst: at least three gaps of 50 ms.
    assert time.monotonic() - started >= 0.14
    assert len({result.ats_application_id for result in results}) == 4


async def test_the_fake_wants_a_jsonapi_body(fake: FakePinpoint, http) -> None:
    document = application_document("4000", an_application())
    headers = {"X-API-KEY": fake.api_key}
    async with http.post(f"{fake.url}/api/v1/applications", json=document, headers=headers) as response:
        assert response.status == 415
    async with http.post(f"{fake.url}/api/v1/applications", json=document) as response:
        assert response.status == 401


@pytest.mark.parametrize(
    "document",
    [None, {}, {"data": []}, {"data": {"type": "applications"}}, {"data": {"id": ""}}],
)
def test_an_answer_without_an_id_is_not_a_created_application(document: Any) -> None:
    with pytest.raises(MappingError):
        created_application(document)


def test_a_candidate_id_may_be_an_attribute() -> None:
    answer = {"data": {"id": 5, "type": "applications", "attributes": {"candidate_id": 77}}}
    assert created_application(answer) == ApplicationResult("5", "77")
