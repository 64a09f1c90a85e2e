"""The contract-test kit: tests every ATS adapter runs against itself (a pytest plugin).

Subclass :class:`AdapterContract` in your adapter's tests and provide the fixtures it names; pytest then
runs every ``test_contract_*`` below against your adapter, through the hub's own
:class:`~hub.plugins.PluginHost`, exactly as the hub calls it. The kit is registered under pytest's
``pytest11`` entry point, so installing appcast-hub makes it available to any package::

    from hub.sdk import AdapterContract, ApplicationSample, HireSample

    class TestMyAdapter(AdapterContract):
        @pytest.fixture
        def contract_plugin(self):
            return "myats", my_package.plugin            # the name and the hook module

        @pytest.fixture
        def contract_options(self, fake):                 # a fake of your ATS, served on loopback
            return {"base_url": fake.url, "api_key": "k", "page_size": 3}

        @pytest.fixture
        def contract_expected_ids(self, fake):
            return fake.job_ids()                         # every job the fake holds, open and closed

Three fixtures are required. Each other ``contract_*`` fixture (below, on :class:`AdapterContract`)
enables more checks: a fake ATS that can change a job, sign webhooks, hold a hire, take or refuse an
application. A check whose fixture you do not provide is skipped, and the kit's report at the end of the
run lists every such check with the fixture it wants: a missing fixture is visible, never silent.

The test peers an adapter's end-to-end tests need ship here too: :class:`FakeAppcast`
(:mod:`hub.testing.appcast`), :func:`serving_hub`, :func:`running`, :class:`Faults`
(:mod:`hub.testing.peers`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest

from hub.errors import ApplicationRefused, OutcomeUnknown, WebhookMalformed, WebhookRejected
from hub.http import unlimited
from hub.normalised import (
    EVENT_KINDS,
    WORKPLACES,
    Account,
    Application,
    ApplicationResult,
    Event,
    Job,
    JobPage,
    Stage,
    WebhookRequest,
)
from hub.options import PluginInfo, validate_options
from hub.plugins import PluginHost
from hub.testing.appcast import FakeAppcast
from hub.testing.peers import (
    ADMIN_TOKEN,
    FAULTS,
    FakePeer,
    Faults,
    HubClient,
    end_to_end_config,
    free_port,
    peer_app,
    running,
    serving_hub,
)

__all__ = [
    "ADMIN_TOKEN",
    "FAULTS",
    "AdapterContract",
    "AdapterUnderTest",
    "ApplicationSample",
    "FakeAppcast",
    "FakePeer",
    "Faults",
    "HireSample",
    "HubClient",
    "end_to_end_config",
    "free_port",
    "make_account",
    "peer_app",
    "running",
    "serving_hub",
]

#: What a skipped check's reason starts with: the report at the end of the run lists these.
SKIP_PREFIX = "contract kit:"


@dataclasses.dataclass(frozen=True, slots=True)
class HireSample:
    """A hire the fake ATS holds: the webhook the ATS sends for it, signed, and when it happened."""

    webhook: WebhookRequest
    #: A moment before the hire: reconciliation asked for events since then must report it.
    since: datetime
    #: The ATS id of the hire's job (one of ``contract_expected_ids``).
    ats_job_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class ApplicationSample:
    """An application for a job, and what the fake ATS recorded (``created()``: its applications' ids)."""

    job: Job
    application: Application
    created: Callable[[], Collection[str]]


@dataclasses.dataclass(slots=True)
class AdapterUnderTest:
    """An adapter registered in a fresh :class:`PluginHost` with an account that uses it."""

    host: PluginHost
    name: str
    account: Account
    http: aiohttp.ClientSession

    def implements(self, hook: str) -> bool:
        """Does the adapter implement ``hook`` (``appcast_hub_…``)?"""
        return self.host.implements(self.name, hook)

    async def call(self, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` (``appcast_hub_…``) as the hub does, with the account's options."""
        return await self.host.call(self.name, hook, self.account, **kwargs)

    async def fetch_pages(self, since: datetime | None = None) -> list[JobPage]:
        """Every page of one fetch, as the sync would receive them."""
        iterator = self.host.call_iter(
            self.name, "appcast_hub_fetch_jobs", self.account, http=self.http, since=since
        )
        return [page async for page in iterator]

    async def verify(self, request: WebhookRequest) -> str | None:
        """``verify_webhook``: the webhook's identity, or the exception it raises."""
        return await self.call("appcast_hub_verify_webhook", request=request)

    async def parse(self, request: WebhookRequest) -> list[Event]:
        """``parse_webhook`` of a webhook ``verify`` accepted."""
        return list(await self.call("appcast_hub_parse_webhook", request=request, http=self.http) or ())

    async def recent(self, since: datetime) -> list[Event]:
        """``fetch_recent_events`` since ``since``."""
        return list(await self.call("appcast_hub_fetch_recent_events", http=self.http, since=since) or ())

    async def apply(self, sample: ApplicationSample) -> ApplicationResult:
        """``create_application`` of a sample."""
        return await self.call(
            "appcast_hub_create_application", job=sample.job, application=sample.application, http=self.http
        )


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


def _with_headers(request: WebhookRequest, change: Callable[[str], str]) -> WebhookRequest:
    headers = {k: change(v) if _carries_signature(k) else v for k, v in request.headers.items()}
    return dataclasses.replace(request, headers=headers)


def _tail_changed(value: str) -> str:
    """The value with its second half replaced: a comparison of only a prefix would take it."""
    half = len(value) // 2
    return value[:half] + "".join("0" if c != "0" else "1" for c in value[half:])


def _missing(fixture: str, what: str) -> None:
    pytest.skip(f"{SKIP_PREFIX} no {fixture} fixture ({what})")


def _applies(adapter: AdapterUnderTest) -> None:
    if not adapter.implements("appcast_hub_create_application"):
        pytest.skip(f"{SKIP_PREFIX} the adapter creates no applications (create_application)")


def _assert_job(job: Job) -> None:
    assert isinstance(job, Job), f"expected hub.normalised.Job, got {type(job).__name__}"
    assert job.ats_id.strip() == job.ats_id != "", f"ATS id {job.ats_id!r} is empty or padded"
    assert isinstance(job.title, str), job.ats_id
    assert job.title.strip(), f"{job.ats_id}: empty title"
    assert job.posted_at.tzinfo is not None, f"{job.ats_id}: posted_at has no time zone"
    assert job.updated_at is None or job.updated_at.tzinfo is not None
    assert isinstance(job.description_html, str)
    assert job.workplace is None or job.workplace in WORKPLACES, job.workplace
    assert job.country is None or (len(job.country) == 2 and job.country.isupper()), job.country


def _assert_events(events: Sequence[Any], job_ids: Collection[str], what: str) -> None:
    for event in events:
        assert isinstance(event, Event), f"{what}: expected hub.normalised.Event, got {type(event).__name__}"
        assert event.kind in EVENT_KINDS, f"{what}: kind {event.kind!r}"
        assert event.dedupe_key, f"{what}: an event without a dedupe_key"
        assert event.occurred_at.tzinfo is not None, f"{what}: occurred_at has no time zone"
        assert event.ats_job_id is None or event.ats_job_id in job_ids, (
            f"{what}: ats_job_id {event.ats_job_id!r} is no job the fetch returned (the ATS's job id, "
            "not its title or another id, is what the feed and Appcast know the job by)"
        )


class AdapterContract:
    """Contract tests for an ATS adapter. Subclass it and provide the ``contract_*`` fixtures."""

    # --- required ------------------------------------------------------------------------------------

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

    # --- optional: each enables checks ------------------------------------------------------------------

    @pytest.fixture
    def contract_min_pages(self) -> int:
        """How many pages the full fetch must take at least: set > 1 to prove paging is followed."""
        return 1

    @pytest.fixture
    def contract_changed_since(self) -> Callable[[], Any] | None:
        """A callable that changes one job in the fake (it must hold at least two) and returns
        ``(since, ats_id)``: a time just before the change, and the job changed. An incremental fetch
        since then must list the job; one that says ``snapshot=True`` must list every job."""
        return None

    @pytest.fixture
    def contract_signed_webhooks(self) -> Sequence[WebhookRequest] | None:
        """At least two webhooks with different bodies, signed as the ATS signs them, each for an event
        the hub uses (each must give at least one event); None if the ATS sends no webhooks."""
        return None

    @pytest.fixture
    def contract_hire(self) -> HireSample | None:
        """A hire the fake ATS holds, with its signed webhook (:class:`HireSample`)."""
        return None

    @pytest.fixture
    def contract_application(self) -> ApplicationSample | None:
        """An application the fake ATS accepts for one of its open jobs."""
        return None

    @pytest.fixture
    def contract_refused_application(self) -> ApplicationSample | None:
        """An application the fake ATS itself refuses (it answers 4xx): a closed job, say."""
        return None

    @pytest.fixture
    def contract_unfillable_application(self) -> ApplicationSample | None:
        """An application the adapter must refuse before sending anything (a question it cannot answer,
        a required field missing): the fake must record nothing."""
        return None

    @pytest.fixture
    def contract_unconfirmed_application(self) -> ApplicationSample | None:
        """An application the fake ATS creates but answers without naming it (a 2xx without the id)."""
        return None

    # --- the adapter under test ---------------------------------------------------------------------------

    @pytest.fixture
    async def adapter(
        self, contract_plugin: tuple[str, Any], contract_options: dict[str, Any], tmp_path: Path
    ) -> AsyncIterator[AdapterUnderTest]:
        name, plugin = contract_plugin
        host = PluginHost()
        assert host.register(name, plugin), f"adapter failed to register: {host.broken}"
        info = host.info(name)
        options = validate_options(
            info.options, contract_options, key=f"accounts.contract.{name}", base_dir=tmp_path
        )
        if info.check_options is not None:
            info.check_options(options)  # a combination the hub would refuse is no contract to test
        account = make_account(name, {name: options})
        # The fake ATS answers at once: the adapter's own pacing would only slow the kit down.
        with unlimited():
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
                yield AdapterUnderTest(host, name, account, http)

    # --- jobs -----------------------------------------------------------------------------------------

    def test_contract_describes_itself_as_an_ats(self, adapter: AdapterUnderTest) -> None:
        info = adapter.host.info(adapter.name)
        assert isinstance(info, PluginInfo)
        assert info.kind == "ats"
        assert info.description.strip()
        names = [option.name for option in info.options]
        assert len(names) == len(set(names)), "option names must be unique"
        assert adapter.implements("appcast_hub_fetch_jobs")

    async def test_contract_full_fetch_pages_to_the_end_and_normalises_every_job(
        self, adapter: AdapterUnderTest, contract_expected_ids: set[str], contract_min_pages: int
    ) -> None:
        pages = await adapter.fetch_pages()
        assert len(pages) >= contract_min_pages, "the fetch did not page through the ATS"
        ids: list[str] = []
        for page in pages:
            assert isinstance(page, JobPage)
            assert page.snapshot, "a full fetch (since=None) must yield snapshot pages"
            for job in page.jobs:
                _assert_job(job)
                ids.append(job.ats_id)
        assert len(ids) == len(set(ids)), "a job was returned twice"
        missing = contract_expected_ids - set(ids)
        assert not missing, f"the fetch stopped before the end: {len(missing)} jobs missing"
        assert set(ids) == contract_expected_ids

    async def test_contract_ids_and_content_are_stable(self, adapter: AdapterUnderTest) -> None:
        first = {job.ats_id: job for page in await adapter.fetch_pages() for job in page.jobs}
        second = {job.ats_id: job for page in await adapter.fetch_pages() for job in page.jobs}
        assert first == second, "two fetches of an unchanged ATS must return the same jobs"

    async def test_contract_an_incremental_fetch_is_a_snapshot_only_when_it_lists_everything(
        self,
        adapter: AdapterUnderTest,
        contract_expected_ids: set[str],
        contract_changed_since: Callable[[], Any] | None,
    ) -> None:
        if contract_changed_since is None:
            _missing("contract_changed_since", "a fake that can change one job")
        since, changed = contract_changed_since()
        pages = await adapter.fetch_pages(since)
        ids = {job.ats_id for page in pages for job in page.jobs}
        assert changed in ids, "an incremental fetch left out the job changed since then"
        snapshots = {page.snapshot for page in pages}
        assert len(snapshots) == 1, "one fetch's pages must all say the same snapshot"
        if snapshots == {True}:
            # The hub closes every job a snapshot does not list.
            assert ids == contract_expected_ids, (
                f"snapshot=True on a fetch since {since.isoformat()} that lists {len(ids)} of "
                f"{len(contract_expected_ids)} jobs: the hub would close the rest"
            )

    async def test_contract_lists_stages_when_supported(self, adapter: AdapterUnderTest) -> None:
        if not adapter.implements("appcast_hub_list_stages"):
            pytest.skip(f"{SKIP_PREFIX} the adapter lists no stages")
        stages = await adapter.call("appcast_hub_list_stages", http=adapter.http)
        assert stages, "an ATS with stages returns at least one"
        for stage in stages:
            assert isinstance(stage, Stage)
            assert stage.id, stage
            assert stage.name, stage
        assert len({(s.workflow, s.id) for s in stages}) == len(stages)

    # --- webhooks -------------------------------------------------------------------------------------

    async def test_contract_refuses_unsigned_and_tampered_webhooks(
        self, adapter: AdapterUnderTest, contract_signed_webhooks: Sequence[WebhookRequest] | None
    ) -> None:
        assert adapter.implements("appcast_hub_verify_webhook"), (
            "every adapter implements verify_webhook, if only to refuse all webhooks"
        )
        now = datetime.now(UTC)
        forgeries = [
            WebhookRequest(headers={}, body=b"", query={}, received_at=now),
            WebhookRequest(headers={}, body=b'{"event": "candidateHired"}', query={}, received_at=now),
        ]
        for signed in contract_signed_webhooks or ():
            forgeries.append(dataclasses.replace(signed, body=_flip_last_byte(signed.body)))
            if any(_carries_signature(k) for k in signed.headers):  # ATSs that sign inside the body have none
                flip = lambda value: _flip_last_byte(value.encode()).decode(errors="replace")  # noqa: E731
                forgeries += [_with_headers(signed, flip), _with_headers(signed, _tail_changed)]
        for forged in forgeries:
            with pytest.raises((WebhookRejected, WebhookMalformed)):
                await adapter.verify(forged)

    async def test_contract_signed_webhooks_have_unique_identities_and_valid_events(
        self,
        adapter: AdapterUnderTest,
        contract_expected_ids: set[str],
        contract_signed_webhooks: Sequence[WebhookRequest] | None,
    ) -> None:
        if not contract_signed_webhooks:
            _missing("contract_signed_webhooks", "webhooks signed as the ATS signs them")
        assert len({w.body for w in contract_signed_webhooks}) >= 2, "give two webhooks with different bodies"
        identities: dict[str, bytes] = {}
        for webhook in contract_signed_webhooks:
            identity = await adapter.verify(webhook)
            if identity is not None:
                # The hub stores each identity once: a second body under the same one is never processed.
                assert identities.setdefault(identity, webhook.body) == webhook.body, (
                    f"two different webhooks share the identity {identity!r}: the second would be dropped "
                    "as a replay (return None when in doubt: the hub then names a webhook by its body)"
                )
            events = await adapter.parse(webhook)
            assert events, "a webhook for an event the hub uses gave no event"
            _assert_events(events, contract_expected_ids, "parse_webhook")

    async def test_contract_a_hire_is_the_same_by_webhook_and_by_reconciliation(
        self, adapter: AdapterUnderTest, contract_expected_ids: set[str], contract_hire: HireSample | None
    ) -> None:
        if contract_hire is None:
            _missing("contract_hire", "a hire the fake holds, with its signed webhook")
        await adapter.verify(contract_hire.webhook)
        pushed = [e for e in await adapter.parse(contract_hire.webhook) if e.kind == "hired"]
        assert len(pushed) == 1, f"the hire's webhook gave {len(pushed)} hires"
        _assert_events(pushed, contract_expected_ids, "parse_webhook")
        assert pushed[0].ats_job_id == contract_hire.ats_job_id, "the hire is not for its job"
        if not adapter.implements("appcast_hub_fetch_recent_events"):
            pytest.skip(f"{SKIP_PREFIX} the adapter has no reconciliation (fetch_recent_events)")
        polled = await adapter.recent(contract_hire.since)
        _assert_events(polled, contract_expected_ids, "fetch_recent_events")
        keys = {e.dedupe_key: e for e in polled if e.kind == "hired"}
        assert pushed[0].dedupe_key in keys, (
            f"reconciliation gives the hire another dedupe_key than its webhook ({pushed[0].dedupe_key!r} "
            f"not in {sorted(keys)}): the hub would store and send it twice"
        )
        assert keys[pushed[0].dedupe_key].ats_job_id == contract_hire.ats_job_id

    # --- applications ---------------------------------------------------------------------------------

    async def test_contract_creates_an_application_the_ats_confirms(
        self, adapter: AdapterUnderTest, contract_application: ApplicationSample | None
    ) -> None:
        _applies(adapter)
        if contract_application is None:
            _missing("contract_application", "an application the fake accepts")
        result = await adapter.apply(contract_application)
        assert isinstance(result, ApplicationResult)
        assert result.ats_application_id, "a created application without an id"
        assert result.ats_application_id in contract_application.created(), (
            "create_application reported an application the ATS does not have"
        )

    async def test_contract_an_application_the_ats_refuses_is_refused(
        self, adapter: AdapterUnderTest, contract_refused_application: ApplicationSample | None
    ) -> None:
        _applies(adapter)
        if contract_refused_application is None:
            _missing("contract_refused_application", "an application the fake refuses with a 4xx")
        before = set(contract_refused_application.created())
        with pytest.raises(ApplicationRefused):
            await adapter.apply(contract_refused_application)
        assert set(contract_refused_application.created()) == before

    async def test_contract_an_application_the_form_cannot_take_is_refused_before_sending(
        self, adapter: AdapterUnderTest, contract_unfillable_application: ApplicationSample | None
    ) -> None:
        _applies(adapter)
        if contract_unfillable_application is None:
            _missing("contract_unfillable_application", "an application the adapter must refuse itself")
        before = set(contract_unfillable_application.created())
        with pytest.raises(ApplicationRefused):
            await adapter.apply(contract_unfillable_application)
        assert set(contract_unfillable_application.created()) == before, "half an application was created"

    async def test_contract_an_application_the_ats_may_have_created_is_never_sent_again(
        self, adapter: AdapterUnderTest, contract_unconfirmed_application: ApplicationSample | None
    ) -> None:
        # AdapterUnavailable would tell the hub nothing exists: it frees Appcast's Idempotency-Key, and the
        # retry creates a second candidate. Only OutcomeUnknown keeps the key.
        _applies(adapter)
        if contract_unconfirmed_application is None:
            _missing("contract_unconfirmed_application", "an application the fake creates without naming it")
        with pytest.raises(OutcomeUnknown):
            await adapter.apply(contract_unconfirmed_application)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """List the contract checks that did not run for want of a fixture: visible, not silent."""
    skipped = [
        (report.nodeid, report.longrepr[2].removeprefix("Skipped: "))
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple) and SKIP_PREFIX in str(report.longrepr[2])
    ]
    if skipped:
        terminalreporter.section("appcast-hub contract kit: checks not run")
        for nodeid, reason in skipped:
            terminalreporter.write_line(f"{nodeid}: {reason.removeprefix(SKIP_PREFIX).strip()}")
