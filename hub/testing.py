"""The contract-test kit: tests every ATS adapter runs against itself (a pytest plugin).

Subclass :class:`AdapterContract` in your adapter's test module and provide the fixtures it names; pytest
then runs every ``test_contract_*`` below against your adapter. The kit is registered under pytest's
``pytest11`` entry point, so installing appcast-hub makes it available to any package::

    from hub.testing import AdapterContract

    class TestMyAdapter(AdapterContract):
        @pytest.fixture
        def contract_plugin(self):
            return "myats", my_package.plugin          # the name and the hook module

        @pytest.fixture
        async def contract_options(self, fake_myats):   # may start a fake ATS server
            return {"base_url": fake_myats.url, "api_key": "k", "page_size": 7}

        @pytest.fixture
        def contract_expected_ids(self, fake_myats):
            return set(fake_myats.job_ids)              # every job the fake ATS holds

        @pytest.fixture
        def contract_signed_webhook(self, fake_myats):  # None if the ATS has no webhooks
            return fake_myats.signed_webhook()

The kit drives the adapter through the hub's own :class:`~hub.plugins.PluginHost`, exactly as the hub
does, over the hub's kind of HTTP session.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest

from hub.errors import WebhookMalformed, WebhookRejected
from hub.normalised import WORKPLACES, Account, Job, JobPage, Stage, WebhookRequest
from hub.options import PluginInfo, validate_options
from hub.plugins import PluginHost


@dataclasses.dataclass(slots=True)
class AdapterUnderTest:
    """An adapter registered in a fresh :class:`PluginHost` with an account that uses it."""

    host: PluginHost
    name: str
    account: Account
    http: aiohttp.ClientSession

    async def fetch_pages(self, since: datetime | None = None) -> list[JobPage]:
        """Every page of one fetch, as the sync would receive them."""
        iterator = self.host.call_iter(
            self.name, "appcast_hub_fetch_jobs", self.account, http=self.http, since=since
        )
        return [page async for page in iterator]

    def implements(self, hook: str) -> bool:
        """Does the adapter implement ``hook``?"""
        return self.host.implements(self.name, hook)


def make_account(
    adapter: str,
    plugin_options: Mapping[str, Mapping[str, Any]],
    *,
    name: str = "contract",
    company: str = "Contract Test Co",
) -> Account:
    """An account as the hub builds one from its config, for calling hooks directly in tests.

    ``plugin_options`` holds each active plugin's validated table (the adapter's included).
    """
    return Account(
        name=name,
        adapter=adapter,
        company=company,
        company_url=None,
        enabled=True,
        feed_policy="all-open",
        feed_token=None,
        sync_interval_minutes=None,
        plugin_options=dict(plugin_options),
    )


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1]) if data else b"x"


def _carries_signature(header: str) -> bool:
    name = header.lower()
    return "sign" in name or "hmac" in name


class AdapterContract:
    """Contract tests for an ATS adapter. Subclass it and provide the ``contract_*`` fixtures."""

    @pytest.fixture
    def contract_plugin(self) -> tuple[str, ModuleType | object]:
        """``(name, plugin)``: the adapter's entry-point name and its hook module or object."""
        raise NotImplementedError("provide a contract_plugin fixture")

    @pytest.fixture
    def contract_options(self) -> dict[str, Any]:
        """The account's table for the adapter, as written in config (before validation)."""
        raise NotImplementedError("provide a contract_options fixture")

    @pytest.fixture
    def contract_expected_ids(self) -> set[str]:
        """Every ATS id the source holds (open and closed) that a full fetch must return."""
        raise NotImplementedError("provide a contract_expected_ids fixture")

    @pytest.fixture
    def contract_min_pages(self) -> int:
        """How many pages the full fetch must take at least: set > 1 to prove paging is followed."""
        return 1

    @pytest.fixture
    def contract_signed_webhook(self) -> WebhookRequest | None:
        """A webhook the adapter must accept, signed as the ATS signs it; None if it has no webhooks."""
        return None

    @pytest.fixture
    async def adapter(
        self, contract_plugin: tuple[str, Any], contract_options: dict[str, Any], tmp_path: Path
    ) -> AsyncIterator[AdapterUnderTest]:
        name, plugin = contract_plugin
        host = PluginHost()
        assert host.register(name, plugin), f"adapter failed to register: {host.broken}"
        options = validate_options(
            host.info(name).options,
            contract_options,
            key=f"accounts.contract.{name}",
            base_dir=tmp_path,
        )
        account = make_account(name, {name: options})
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            yield AdapterUnderTest(host, name, account, http)

    # --- the contract -------------------------------------------------------------------------------

    def test_contract_describes_itself_as_an_ats(self, adapter: AdapterUnderTest) -> None:
        info = adapter.host.info(adapter.name)
        assert isinstance(info, PluginInfo)
        assert info.kind == "ats"
        assert info.description.strip()
        names = [option.name for option in info.options]
        assert len(names) == len(set(names)), "option names must be unique"
        assert adapter.implements("appcast_hub_fetch_jobs")

    async def test_contract_full_fetch_returns_every_job_normalised(
        self, adapter: AdapterUnderTest, contract_expected_ids: set[str], contract_min_pages: int
    ) -> None:
        pages = await adapter.fetch_pages()
        assert len(pages) >= contract_min_pages, "the fetch did not page through the ATS"
        ids: list[str] = []
        for page in pages:
            assert isinstance(page, JobPage)
            assert page.snapshot, "a full fetch (since=None) must yield snapshot pages"
            for job in page.jobs:
                _assert_normalised(job)
                ids.append(job.ats_id)
        assert len(ids) == len(set(ids)), "a job was returned twice"
        assert set(ids) == contract_expected_ids

    async def test_contract_ids_and_content_are_stable(self, adapter: AdapterUnderTest) -> None:
        first = {job.ats_id: job for page in await adapter.fetch_pages() for job in page.jobs}
        second = {job.ats_id: job for page in await adapter.fetch_pages() for job in page.jobs}
        assert first == second, "two fetches of an unchanged ATS must return the same jobs"

    async def test_contract_lists_stages_when_supported(self, adapter: AdapterUnderTest) -> None:
        if not adapter.implements("appcast_hub_list_stages"):
            pytest.skip("adapter has no stages")
        stages = await adapter.host.call(
            adapter.name, "appcast_hub_list_stages", adapter.account, http=adapter.http
        )
        assert stages, "an ATS with stages returns at least one"
        for stage in stages:
            assert isinstance(stage, Stage)
            assert stage.id, stage
            assert stage.name, stage
        assert len({(s.workflow, s.id) for s in stages}) == len(stages)

    async def test_contract_refuses_unsigned_and_tampered_webhooks(
        self, adapter: AdapterUnderTest, contract_signed_webhook: WebhookRequest | None
    ) -> None:
        assert adapter.implements("appcast_hub_verify_webhook"), (
            "every adapter implements verify_webhook, if only to refuse all webhooks"
        )
        now = datetime.now(UTC)
        forgeries = [
            WebhookRequest(headers={}, body=b"", query={}, received_at=now),
            WebhookRequest(headers={}, body=b'{"event": "candidateHired"}', query={}, received_at=now),
        ]
        if contract_signed_webhook is not None:
            signed_headers = {k for k in contract_signed_webhook.headers if _carries_signature(k)}
            forgeries.append(
                dataclasses.replace(
                    contract_signed_webhook, body=_flip_last_byte(contract_signed_webhook.body)
                )
            )
            if signed_headers:  # ATSs that sign inside the body (Lever) have none
                forgeries.append(
                    dataclasses.replace(
                        contract_signed_webhook,
                        headers={
                            k: _flip_last_byte(v.encode()).decode(errors="replace")
                            if k in signed_headers
                            else v
                            for k, v in contract_signed_webhook.headers.items()
                        },
                    )
                )
        for forged in forgeries:
            with pytest.raises((WebhookRejected, WebhookMalformed)):
                await adapter.host.call(
                    adapter.name, "appcast_hub_verify_webhook", adapter.account, request=forged
                )

    async def test_contract_accepts_a_correctly_signed_webhook(
        self, adapter: AdapterUnderTest, contract_signed_webhook: WebhookRequest | None
    ) -> None:
        if contract_signed_webhook is None:
            pytest.skip("adapter receives no webhooks")
        await adapter.host.call(
            adapter.name,
            "appcast_hub_verify_webhook",
            adapter.account,
            request=contract_signed_webhook,
        )
        if adapter.implements("appcast_hub_parse_webhook"):
            events = await adapter.host.call(
                adapter.name,
                "appcast_hub_parse_webhook",
                adapter.account,
                request=contract_signed_webhook,
                http=adapter.http,
            )
            for event in events:
                assert event.dedupe_key
                assert event.occurred_at.tzinfo is not None


def _assert_normalised(job: Job) -> None:
    assert isinstance(job, Job), f"expected hub.normalised.Job, got {type(job).__name__}"
    assert isinstance(job.ats_id, str), job.ats_id
    assert job.ats_id.strip() == job.ats_id != "", f"ATS id {job.ats_id!r} is empty or padded"
    assert isinstance(job.title, str), job.ats_id
    assert job.title.strip(), f"{job.ats_id}: empty title"
    assert job.posted_at.tzinfo is not None, f"{job.ats_id}: posted_at has no time zone"
    assert job.updated_at is None or job.updated_at.tzinfo is not None
    assert isinstance(job.is_open, bool)
    assert isinstance(job.description_html, str)
    assert job.workplace is None or job.workplace in WORKPLACES, job.workplace
    assert job.country is None or (len(job.country) == 2 and job.country.isupper()), job.country
