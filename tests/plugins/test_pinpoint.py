"""The ``pinpoint`` adapter against a fake Pinpoint on a real socket: the contract kit, then the details."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.config import Account
from hub.errors import AdapterAuthError, AdapterUnavailable, WebhookMalformed, WebhookRejected
from hub.normalised import Job, JobPage, Stage, candidate_hash
from hub.options import validate_options
from hub.testing import AdapterContract
from plugins.pinpoint import const, plugin
from plugins.pinpoint.client import base_url
from plugins.pinpoint.mapping import (
    country_code,
    employment_type,
    job_from_resource,
    salary_text,
    triggered_at,
    workplace,
)
from tests.peers.pinpoint import SAMPLE_APPLICATION_ID, FakePinpoint, status_of

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
    return Account(
        name="acme",
        adapter="pinpoint",
        company="Acme Ltd",
        company_url=None,
        enabled=True,
        feed_policy="all-open",
        feed_token=None,
        sync_interval_minutes=None,
        plugin_options={"pinpoint": options},
    )


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
    def contract_signed_webhook(self, fake: FakePinpoint) -> Any:
        return fake.signed_webhook()


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
    ("values", "expected"),
    [
        (("gb", "United Kingdom"), "GB"),
        ((None, "United Kingdom"), "GB"),
        ((None, "UK"), "GB"),
        ((None, "Atlantis"), None),
        (("USA", None), "US"),
        ((None, None), None),
    ],
)
def test_country_codes(values: tuple[Any, Any], expected: str | None) -> None:
    assert country_code(*values) == expected


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


def verify(account: Account, request: Any) -> None:
    plugin.appcast_hub_verify_webhook(account, options_of(account), request)


def test_a_signed_webhook_is_accepted(fake: FakePinpoint, tmp_path) -> None:
    verify(account_for(fake, tmp_path), fake.signed_webhook())


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


async def test_a_hire_survives_a_failed_detail_fetch(fake: FakePinpoint, http, tmp_path, caplog) -> None:
    fake.faults.server_errors = 100
    received = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    body = fake.hired_body()
    del body["triggeredAt"]
    with caplog.at_level(logging.WARNING):
        [event] = await parse(
            account_for(fake, tmp_path), fake.signed_webhook(body, received_at=received), http
        )
    assert (event.kind, event.ats_application_id, event.ats_job_id) == ("hired", "9001", "4000")
    assert event.occurred_at == received
    assert event.candidate_hash is None
    assert event.source is None
    assert "recorded without details" in caplog.text
    assert fake.api_key not in caplog.text
    assert fake.webhook_secret not in caplog.text


async def test_a_hire_of_an_unknown_application_keeps_the_webhook_facts(
    fake: FakePinpoint, http, tmp_path
) -> None:
    body = fake.hired_body("123", "4001")
    [event] = await parse(account_for(fake, tmp_path), fake.signed_webhook(body), http)
    assert (event.dedupe_key, event.ats_job_id, event.source) == ("application_hired:123", "4001", None)


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
