"""The ``greenhouse`` adapter against a fake Greenhouse: the contract-test kit, then what its hooks promise.

Runs with any environment where appcast-hub and this package are installed: ``pytest`` in this folder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from appcast_hub_greenhouse import const, plugin
from fake_greenhouse import FIRST_JOB_ID, WEBHOOK_SECRET, FakeGreenhouse

from hub.sdk import (
    AdapterContract,
    AdapterUnavailable,
    AdapterUnderTest,
    Event,
    HireSample,
    WebhookMalformed,
    WebhookRejected,
    WebhookRequest,
    candidate_hash,
)

JOBS = 12


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # request_json's backoff between retries: milliseconds, so the outage tests stay fast.
    monkeypatch.setattr(const, "BACKOFF_BASE_SECONDS", 0.001)


@pytest.fixture
async def greenhouse() -> AsyncIterator[FakeGreenhouse]:
    fake = FakeGreenhouse(jobs=JOBS)
    async with fake.serving():
        yield fake


async def verify(adapter: AdapterUnderTest, request: WebhookRequest) -> Any:
    return await adapter.host.call(
        adapter.name, "appcast_hub_verify_webhook", adapter.account, request=request
    )


async def parse(adapter: AdapterUnderTest, request: WebhookRequest) -> Any:
    return await adapter.host.call(
        adapter.name, "appcast_hub_parse_webhook", adapter.account, request=request, http=adapter.http
    )


class TestGreenhouse(AdapterContract):
    @pytest.fixture
    def contract_plugin(self) -> tuple[str, Any]:
        return "greenhouse", plugin

    @pytest.fixture
    def contract_options(self, greenhouse: FakeGreenhouse) -> dict[str, Any]:
        return {"board": greenhouse.board, "base_url": greenhouse.url, "webhook_secret": WEBHOOK_SECRET}

    @pytest.fixture
    def contract_expected_ids(self, greenhouse: FakeGreenhouse) -> set[str]:
        return greenhouse.job_ids

    @pytest.fixture
    def contract_signed_webhooks(self, greenhouse: FakeGreenhouse) -> list[WebhookRequest]:
        return [
            greenhouse.signed(greenhouse.hire(46_194_062, str(FIRST_JOB_ID + 3))),
            greenhouse.signed(greenhouse.hire(46_194_063, str(FIRST_JOB_ID + 4))),
        ]

    @pytest.fixture
    def contract_changed_since(self, greenhouse: FakeGreenhouse) -> Callable[[], Any]:
        """A post changed on the board: the board cannot filter by time, so the fetch is a full snapshot."""

        def change() -> tuple[datetime, str]:
            since = datetime.now(UTC) - timedelta(seconds=1)
            greenhouse.posts[1].update(
                title="Senior Warehouse Operative", updated_at=datetime.now(UTC).isoformat()
            )
            return since, str(greenhouse.posts[1]["internal_job_id"])

        return change

    @pytest.fixture
    def contract_hire(self, greenhouse: FakeGreenhouse) -> HireSample:
        """A hire by webhook; the kit reports the reconciliation half as not run (this adapter has none)."""
        job_id = str(FIRST_JOB_ID + 5)
        return HireSample(greenhouse.signed(greenhouse.hire(46_194_070, job_id)), datetime.now(UTC), job_id)

    # --- jobs ---------------------------------------------------------------------------------------

    async def test_posts_are_mapped(self, adapter: AdapterUnderTest, greenhouse: FakeGreenhouse) -> None:
        [page] = await adapter.fetch_pages()
        jobs = {job.ats_id: job for job in page.jobs}
        assert greenhouse.faults.requests == ["GET /v1/boards/acme/jobs?content=true"]
        job = jobs[str(FIRST_JOB_ID + 3)]
        assert job.description_html == "<p>Job 3: you &amp; us.</p><ul><li>Benefits</li></ul>"
        assert (job.title, job.city, job.region, job.workplace) == (
            "Warehouse Operative 3",
            "London",
            None,
            None,
        )
        assert (job.department, job.employment_type, job.salary_text) == (
            "Engineering",
            "full-time",
            "USD 90000-120000",
        )
        assert (job.requisition_id, job.hosted_url) == (
            "REQ-3",
            "https://boards.greenhouse.io/acme/jobs/4004003",
        )
        # No first_published: the post is dated by its last update.
        assert job.posted_at == job.updated_at == datetime(2026, 2, 4, 15, tzinfo=UTC)
        assert jobs[str(FIRST_JOB_ID + 2)].posted_at == datetime(2026, 1, 3, 9, tzinfo=UTC)
        remote = jobs[str(FIRST_JOB_ID + 2)]
        assert (remote.city, remote.region, remote.workplace) == (None, None, "remote")
        assert (jobs[str(FIRST_JOB_ID + 1)].city, jobs[str(FIRST_JOB_ID + 1)].region) == ("New York", "NY")
        assert (jobs[str(FIRST_JOB_ID + 4)].city, jobs[str(FIRST_JOB_ID + 4)].region) == ("Portland", "OR")
        assert all(job.is_open for job in page.jobs)

    async def test_a_job_with_two_posts_is_one_job_from_its_first_post(
        self, adapter: AdapterUnderTest
    ) -> None:
        [page] = await adapter.fetch_pages()
        first = [job for job in page.jobs if job.ats_id == str(FIRST_JOB_ID)]
        assert len(first) == 1
        assert first[0].hosted_url == "https://boards.greenhouse.io/acme/jobs/4004000"
        assert len(page.jobs) == JOBS

    async def test_an_unpublished_job_leaves_the_snapshot(
        self, adapter: AdapterUnderTest, greenhouse: FakeGreenhouse
    ) -> None:
        greenhouse.unpublish(str(FIRST_JOB_ID + 5))
        [page] = await adapter.fetch_pages(since=datetime(2026, 3, 1, tzinfo=UTC))
        assert page.snapshot, "the board cannot filter by time: every fetch is a snapshot"
        assert str(FIRST_JOB_ID + 5) not in {job.ats_id for job in page.jobs}

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"board": "renamed"}, "Greenhouse board 'acme' does not exist (HTTP 404)"),
            ({"server_errors": 10}, "Greenhouse board 'acme' answered HTTP 503 (after 4 attempts)"),
            ({"post": {"internal_job_id": None}}, "job post 4004000 has no internal_job_id"),
            (
                {"post": {"updated_at": "2026-02-01T10:00:00"}},
                "updated_at must be an ISO 8601 time with a zone",
            ),
        ],
    )
    async def test_a_failing_or_unexpected_board_fails_the_sync_naming_why(
        self,
        adapter: AdapterUnderTest,
        greenhouse: FakeGreenhouse,
        change: dict[str, Any],
        message: str,
    ) -> None:
        greenhouse.board = change.get("board", greenhouse.board)
        greenhouse.faults.server_errors = change.get("server_errors", 0)
        greenhouse.posts[0].update(change.get("post", {}))
        with pytest.raises(AdapterUnavailable) as caught:
            await adapter.fetch_pages()
        assert message in str(caught.value)

    # --- webhooks -----------------------------------------------------------------------------------

    async def test_a_hire_is_one_event_named_by_its_application(
        self, adapter: AdapterUnderTest, greenhouse: FakeGreenhouse
    ) -> None:
        job_id = str(FIRST_JOB_ID + 3)
        request = greenhouse.signed(greenhouse.hire(46_194_062, job_id, email=" Ada@Example.com "))
        assert await verify(adapter, request) == "hire_candidate:46194062"
        assert await parse(adapter, request) == [
            Event(
                kind="hired",
                dedupe_key="hire_candidate:46194062",
                occurred_at=datetime(2026, 3, 2, 15, 4, 5, tzinfo=UTC),
                ats_job_id=job_id,
                ats_application_id="46194062",
                ats_candidate_id="57683957",
                source="Appcast",
                candidate_hash=candidate_hash("ada@example.com"),
                ats_event="hire_candidate",
            )
        ]

    async def test_a_hire_without_a_time_is_dated_by_its_arrival(
        self, adapter: AdapterUnderTest, greenhouse: FakeGreenhouse
    ) -> None:
        body = greenhouse.hire(1, str(FIRST_JOB_ID))
        del body["payload"]["application"]["last_activity_at"]
        request = greenhouse.signed(body)
        [event] = await parse(adapter, request)
        assert event.occurred_at == request.received_at

    async def test_other_actions_are_accepted_and_ignored(
        self, adapter: AdapterUnderTest, greenhouse: FakeGreenhouse
    ) -> None:
        for body in (
            {"action": "ping", "payload": {"web_hook_id": 1}},
            {"action": "new_candidate_application"},
        ):
            request = greenhouse.signed(body)
            assert await verify(adapter, request) is None, "the hub names these by a digest of the body"
            assert await parse(adapter, request) == []

    async def test_signature_header_names_are_case_insensitive(
        self, adapter: AdapterUnderTest, greenhouse: FakeGreenhouse
    ) -> None:
        request = greenhouse.signed(greenhouse.hire(7, str(FIRST_JOB_ID)))
        lowered = dataclasses.replace(request, headers={k.lower(): v for k, v in request.headers.items()})
        assert await verify(adapter, lowered) == "hire_candidate:7"

    @pytest.mark.parametrize(
        ("forge", "error", "message"),
        [
            (
                lambda g: g.signed(g.hire(7, "1"), secret="another-secret"),
                WebhookRejected,
                "wrong Signature header",
            ),
            (
                lambda g: _with_signature(g.signed(g.hire(7, "1")), "sha1 "),
                WebhookRejected,
                "wrong Signature header",
            ),
            (
                lambda g: _with_signature(g.signed(g.hire(7, "1")), ""),
                WebhookRejected,
                "wrong Signature header",
            ),
            (lambda g: g.signed(b"not json"), WebhookMalformed, "not JSON"),
            (
                lambda g: g.signed({"action": "hire_candidate", "payload": {}}),
                WebhookMalformed,
                "application.id",
            ),
        ],
    )
    async def test_bad_webhooks_are_refused(
        self, adapter: AdapterUnderTest, greenhouse: FakeGreenhouse, forge: Any, error: type, message: str
    ) -> None:
        with pytest.raises(error, match=message):
            await verify(adapter, forge(greenhouse))

    async def test_without_a_secret_every_webhook_is_refused(
        self, adapter: AdapterUnderTest, greenhouse: FakeGreenhouse
    ) -> None:
        options = {**adapter.account.plugin_options["greenhouse"], "webhook_secret": None}
        account = dataclasses.replace(adapter.account, plugin_options={"greenhouse": options})
        with pytest.raises(WebhookRejected, match="no webhook secret is configured"):
            await adapter.host.call(
                adapter.name,
                "appcast_hub_verify_webhook",
                account,
                request=greenhouse.signed(greenhouse.hire(7, "1")),
            )


def _with_signature(request: WebhookRequest, prefix: str) -> WebhookRequest:
    """``request`` with its digest kept but its algorithm changed (``sha1 <hex>``) or dropped."""
    digest = request.headers["Signature"].partition(" ")[2]
    return dataclasses.replace(request, headers={**request.headers, "Signature": prefix + digest})
