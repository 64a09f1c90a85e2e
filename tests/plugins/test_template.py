"""The adapter template against a tiny fake MyATS: the contract-test kit, then what its hooks promise.

Copied with the template (docs/plugins.md), so it uses only what an adapter outside the hub has:
pytest, aiohttp's test server and :mod:`hub.testing`. The fake signs webhooks with its own code, so a
bug in the adapter's signature code cannot hide itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from hub.errors import AdapterUnavailable, WebhookMalformed
from hub.normalised import Event, WebhookRequest, candidate_hash
from hub.testing import AdapterContract, AdapterUnderTest
from plugins._template import plugin

API_KEY = "api-key-for-tests"
WEBHOOK_SECRET = "webhook-secret-for-tests"
JOBS = 8
PAGE_SIZE = 3
HIRE = {
    "id": "evt_1",
    "type": "candidate.hired",
    "created_at": "2026-03-02T10:00:00Z",
    "data": {
        "application_id": "A-7",
        "job_id": "J-2",
        "candidate_id": "C-9",
        "email": "Ada@Example.com",
        "source": "Appcast",
    },
}


class FakeMyAts:
    """MyATS's jobs API on a real socket: ``jobs`` is what it serves, ``per_page`` at a time."""

    def __init__(self, count: int) -> None:
        self.jobs: list[dict[str, Any]] = [
            {
                "id": f"J-{n}",
                "title": f"Engineer {n}",
                "status": "closed" if n == 0 else "open",
                "created_at": f"2026-01-{n + 1:02d}T09:00:00+00:00",
                "description_html": f"<p>Job {n}</p>",
                "location": {"city": "Portland", "region": "OR", "country": "us"},
                "url": f"https://jobs.myats.example/J-{n}",
            }
            for n in range(count)
        ]
        #: Answer every page with ``next_page`` pointing back at itself (a server-side paging bug).
        self.stuck = False
        self.url = ""
        self.app = web.Application()
        self.app.router.add_get("/v1/jobs", self._jobs)

    async def _jobs(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Api-Key") != API_KEY:
            return web.json_response({"error": "unauthorized"}, status=401)
        page, size = int(request.query["page"]), int(request.query["per_page"])
        start = (page - 1) * size
        more = start + size < len(self.jobs)
        next_page = page if self.stuck else page + 1 if more else None
        return web.json_response({"jobs": self.jobs[start : start + size], "next_page": next_page})

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        """Serve on loopback for the life of the block; sets and yields :attr:`url`."""
        async with TestServer(self.app) as server:
            self.url = str(server.make_url(""))
            yield self.url


def signed(body: dict[str, Any], secret: str = WEBHOOK_SECRET) -> WebhookRequest:
    """A webhook as MyATS sends it: hex HMAC-SHA256 of the raw body in ``X-MyATS-Signature``."""
    raw = json.dumps(body).encode()
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    # The header in lower case, as some senders write it: the adapter must match names case-insensitively.
    return WebhookRequest(
        headers={"x-myats-signature": digest}, body=raw, query={}, received_at=datetime.now(UTC)
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeMyAts]:
    ats = FakeMyAts(JOBS)
    async with ats.serving():
        yield ats


class TestTemplate(AdapterContract):
    @pytest.fixture
    def contract_plugin(self) -> tuple[str, Any]:
        return "myats", plugin

    @pytest.fixture
    def contract_options(self, fake: FakeMyAts) -> dict[str, Any]:
        return {
            "base_url": fake.url,
            "api_key": API_KEY,
            "page_size": PAGE_SIZE,
            "webhook_secret": WEBHOOK_SECRET,
        }

    @pytest.fixture
    def contract_expected_ids(self, fake: FakeMyAts) -> set[str]:
        return {job["id"] for job in fake.jobs}

    @pytest.fixture
    def contract_min_pages(self) -> int:
        return 3  # 8 jobs, 3 a page

    @pytest.fixture
    def contract_signed_webhooks(self) -> list[WebhookRequest]:
        other = {**HIRE, "id": "evt_2", "data": {**HIRE["data"], "application_id": "A-8", "job_id": "J-3"}}
        return [signed(HIRE), signed(other)]

    async def test_jobs_are_mapped(self, adapter: AdapterUnderTest) -> None:
        jobs = {job.ats_id: job for page in await adapter.fetch_pages() for job in page.jobs}
        assert not jobs["J-0"].is_open
        job = jobs["J-1"]
        assert (job.title, job.city, job.region, job.country, job.is_open) == (
            "Engineer 1", "Portland", "OR", "US", True,
        )  # fmt: skip
        assert job.posted_at == datetime(2026, 1, 2, 9, tzinfo=UTC)

    async def test_a_hire_webhook_is_one_hire_event(self, adapter: AdapterUnderTest) -> None:
        request = signed(HIRE)
        identity = await adapter.host.call(
            adapter.name, "appcast_hub_verify_webhook", adapter.account, request=request
        )
        assert identity == "evt_1"
        events = await adapter.host.call(
            adapter.name, "appcast_hub_parse_webhook", adapter.account, request=request, http=adapter.http
        )
        assert events == [
            Event(
                kind="hired",
                dedupe_key="hired:A-7",
                occurred_at=datetime(2026, 3, 2, 10, tzinfo=UTC),
                ats_job_id="J-2",
                ats_application_id="A-7",
                ats_candidate_id="C-9",
                source="Appcast",
                candidate_hash=candidate_hash("ada@example.com"),
                ats_event="candidate.hired",
            )
        ]

    async def test_other_webhooks_are_ignored_and_bad_hires_refused(self, adapter: AdapterUnderTest) -> None:
        async def parse(body: dict[str, Any]) -> Any:
            return await adapter.host.call(
                adapter.name,
                "appcast_hub_parse_webhook",
                adapter.account,
                request=signed(body),
                http=adapter.http,
            )

        assert await parse({"id": "evt_2", "type": "candidate.created", "data": {}}) == []
        with pytest.raises(WebhookMalformed, match=r"data\.application_id"):
            await parse({"id": "evt_3", "type": "candidate.hired", "data": {}})

    async def test_a_cursor_that_does_not_move_fails_the_fetch(
        self, adapter: AdapterUnderTest, fake: FakeMyAts
    ) -> None:
        fake.stuck = True
        with pytest.raises(AdapterUnavailable, match="announced page 1 after page 1"):
            await adapter.fetch_pages()
