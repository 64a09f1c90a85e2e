"""The outbox's circuit breaker per destination, over real sockets: a fake Appcast per account, down then up.

While an account's Appcast is down its deliveries wait in line: at most one probe per probe interval goes
out, no delivery loses an attempt to the outage (nothing is dead-lettered), another account keeps
sending; once a probe gets through, every delivery arrives once, in due order, and the breaker's state
shows in the metrics and in ``status``. A refusal of one payload (422) is no outage.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from hub import breaker, models
from hub.accounts import LiveAccount
from hub.breaker import BreakerState, DestinationKey, Transition
from hub.config import HubConfig, bind_plugins, load_config
from hub.errors import AdapterUnavailable
from hub.metrics import REGISTRY
from hub.plugins import PluginHost, load_plugins
from hub.status import account_status
from hub.testing.appcast import EVENTS_PATH, FakeAppcast
from hub.workers import BATCH, OutboxWorker
from tests.conftest import SAMPLE_JOBS, write_config

PROBE_SECONDS = 0.4
THRESHOLD = 3
MAX_ATTEMPTS = 3  # a few failed probes would dead-letter the first delivery, were probes counted


@dataclass
class Appcast:
    """A fake Appcast that also notes when each POST reached it (faulted ones included)."""

    fake: FakeAppcast = field(default_factory=lambda: FakeAppcast(validate=False))
    arrivals: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        @web.middleware
        async def stamp(request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
            if request.path == EVENTS_PATH:
                self.arrivals.append(time.monotonic())
            return await handler(request)

        self.fake.app.middlewares.insert(0, stamp)

    def down(self) -> None:
        self.fake.faults.server_errors = 10**9

    def up(self) -> None:
        self.fake.faults.server_errors = 0


def _config(folder: Path, database_url: str, urls: dict[str, str]) -> HubConfig:
    accounts = "".join(
        f'[accounts.{name}]\nadapter = "file"\ncompany = "{name}"\n'
        f'[accounts.{name}.file]\npath = "{SAMPLE_JOBS}"\n'
        f'[accounts.{name}.appcast]\nclient_id = "c-{name}"\nent_id = "e-{name}"\nevents_url = "{url}"\n'
        for name, url in urls.items()
    )
    body = (
        f'[database]\nurl = "{database_url}"\n[sync]\nscheduled = false\n'
        f"[events]\npoll_seconds = 0.05\nmax_attempts = {MAX_ATTEMPTS}\nbackoff_seconds = 0.01\n"
        f"backoff_cap_seconds = 0.05\nbreaker_threshold = {THRESHOLD}\n"
        f"breaker_probe_seconds = {PROBE_SECONDS}\nbreaker_probe_cap_seconds = {PROBE_SECONDS * 2}\n"
        f"{accounts}"
    )
    return load_config(write_config(folder, body))


async def _one_account(
    name: str, appcast: Appcast, plugins: PluginHost, folder: Path, database_url: str
) -> tuple[HubConfig, models.Account, DestinationKey]:
    """A hub with the one account ``name``, sending to ``appcast``: its config, row and breaker key."""
    config = bind_plugins(_config(folder, database_url, {name: appcast.fake.events_url}), plugins)
    account = await models.Account.create(name=name, adapter="file")
    return config, account, DestinationKey("appcast", account.id, name)


async def _deliveries(account: models.Account, count: int, first: int = 0) -> list[str]:
    """``count`` deliveries due in the past, a second apart in creation order; their keys in due order."""
    start = datetime.now(UTC) - timedelta(hours=1)
    rows = [
        models.Delivery(
            account_id=account.id,
            destination="appcast",
            idempotency_key=f"{account.name}-{n}",
            payload={"n": n},
            next_attempt_at=start + timedelta(seconds=n),
        )
        for n in range(first, first + count)
    ]
    await models.Delivery.bulk_create(rows)
    return [row.idempotency_key for row in rows]


async def _until(check: Callable[[], Awaitable[bool]] | Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if await result if asyncio.iscoroutine(result) else result:
            return
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.02)


def _metric(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


@asynccontextmanager
async def _outbox(config: HubConfig, plugins: PluginHost) -> AsyncIterator[OutboxWorker]:
    async with aiohttp.ClientSession() as http:
        worker = OutboxWorker(config, plugins, http)
        worker.start()
        try:
            yield worker
        finally:
            await worker.stop()


async def test_an_outage_is_probed_loses_nothing_and_drains_in_due_order(
    migrated: str, tmp_path: Path
) -> None:
    down, other = Appcast(), Appcast()
    transitions: list[Transition] = []
    unsubscribe = breaker.subscribe(transitions.append)
    plugins = load_plugins()
    async with down.fake.serving(), other.fake.serving():
        urls = {"acme": down.fake.events_url, "beta": other.fake.events_url}
        config = bind_plugins(_config(tmp_path, migrated, urls), plugins)
        acme = await models.Account.create(name="acme", adapter="file")
        beta = await models.Account.create(name="beta", adapter="file")
        key = DestinationKey("appcast", acme.id, "acme")
        count = 3 * BATCH + 5
        original = await _deliveries(acme, count)
        down.down()
        async with _outbox(config, plugins) as worker:
            await _until(lambda: worker.breakers.state(key) is BreakerState.OPEN)
            opened_after = len(down.arrivals)
            # Without the breaker the whole backlog would be retried every few tens of milliseconds.
            assert opened_after <= THRESHOLD + BATCH, opened_after

            # Another account's Appcast is up: its deliveries go out meanwhile.
            beta_keys = await _deliveries(beta, 10)
            await other.fake.wait_for_events(10, timeout=20)
            assert set(other.fake.keys()) == set(beta_keys)

            window_started = time.monotonic()
            await _until(lambda: _probes(down, opened_after) >= 3)
            window = time.monotonic() - window_started
            probes = down.arrivals[opened_after:]
            # Probes never come closer together than the interval (a machine's noise only spreads them).
            gaps = [later - earlier for earlier, later in itertools.pairwise(probes)]
            assert min(gaps) >= PROBE_SECONDS * 0.99, gaps
            assert len(probes) <= window / PROBE_SECONDS + 2
            assert await models.Delivery.filter(state="dead").count() == 0
            assert await models.Delivery.filter(attempts__gt=MAX_ATTEMPTS - 1).count() == 0
            assert (await models.Delivery.filter(account_id=acme.id, state="delivered").count()) == 0

            assert _metric("appcast_hub_breaker_state", destination="appcast", account="acme") in (1, 2)
            assert _metric("appcast_hub_breaker_state", destination="appcast", account="beta") is None
            probed = _metric("appcast_hub_breaker_probes_total", destination="appcast", account="acme")
            assert probed is not None
            assert probed >= 3
            status = await account_status(config, LiveAccount(config.accounts["acme"], acme))
            assert status.as_json()["breakers"]["appcast"] in ("open", "half-open")
            assert (await account_status(config, LiveAccount(config.accounts["beta"], beta))).breakers == {}

            # The due order at recovery: once no delivery is held by a claim (a probe on its way).
            await _until(lambda: _none_claimed(acme))
            due = await models.Delivery.filter(account_id=acme.id).order_by("next_attempt_at", "id")
            expected = [row.idempotency_key for row in due]
            # Only the failures before the breaker opened cost an attempt (and their place: a backoff);
            # the one that opened it, the probes and the sends on their way kept both.
            moved = {row.idempotency_key for row in due if row.attempts}
            assert len(moved) <= THRESHOLD - 1, len(moved)
            assert [k for k in expected if k not in moved] == [k for k in original if k not in moved]
            down.up()
            await down.fake.wait_for_events(count, timeout=30)
            await _until(lambda: _all_delivered(acme, count))

            assert _metric("appcast_hub_breaker_state", destination="appcast", account="acme") == 0
            status = await account_status(config, LiveAccount(config.accounts["acme"], acme))
            assert status.breakers == {"appcast": "closed"}
    unsubscribe()

    # Exactly once: every key arrived, none twice.
    assert sorted(down.fake.keys()) == sorted(expected)
    assert down.fake.duplicates == 0
    # In due order: the probe first, then batch after batch of the earliest due (a batch is sent at once,
    # so within one the arrival order is the network's).
    arrived = down.fake.keys()
    chunks = [(0, 1), *((start, start + BATCH) for start in range(1, count, BATCH))]
    for start, end in chunks:
        assert set(arrived[start:end]) == set(expected[start:end]), (start, end)
    mine = [t for t in transitions if t.key == key]
    assert mine[0].opened
    assert mine[-1].closed
    assert sum(t.opened for t in mine) == 1
    assert sum(t.closed for t in mine) == 1


def _probes(appcast: Appcast, after: int) -> int:
    return len(appcast.arrivals) - after


async def _none_claimed(account: models.Account) -> bool:
    leased = datetime.now(UTC) + timedelta(seconds=5)  # a claim's lease is 30 s; backoffs here < 0.1 s
    return not await models.Delivery.filter(account_id=account.id, next_attempt_at__gt=leased).exists()


async def _all_delivered(account: models.Account, count: int) -> bool:
    return await models.Delivery.filter(account_id=account.id, state="delivered").count() == count


async def test_a_refused_payload_is_no_outage(migrated: str, tmp_path: Path) -> None:
    appcast = Appcast()
    transitions: list[Transition] = []
    unsubscribe = breaker.subscribe(transitions.append)
    plugins = load_plugins()
    async with appcast.fake.serving():
        config, gamma, key = await _one_account("gamma", appcast, plugins, tmp_path, migrated)
        # Every attempt of the first deliveries is refused, far more refusals in a row than the threshold.
        appcast.fake.statuses = deque([422] * (THRESHOLD * 4))
        await _deliveries(gamma, 4)
        async with _outbox(config, plugins) as worker:
            await _until(lambda: not appcast.fake.statuses)
            await _until(lambda: _settled(gamma))
            assert worker.breakers.state(key) is BreakerState.CLOSED
            later = await _deliveries(gamma, 2, first=100)
            await appcast.fake.wait_for_events(2, timeout=20)
    unsubscribe()
    assert [t for t in transitions if t.key == key] == []
    assert set(appcast.fake.keys()) >= set(later)
    assert await models.Delivery.filter(account_id=gamma.id, state="dead").count() == 4


async def test_a_probe_that_waits_for_the_notice_it_follows_leaves_the_breaker_open_not_stuck(
    migrated: str, tmp_path: Path
) -> None:
    appcast = Appcast()
    plugins = load_plugins()
    async with appcast.fake.serving():
        config, delta, key = await _one_account("delta", appcast, plugins, tmp_path, migrated)
        now = datetime.now(UTC)
        # An incident's opening waits out a retry (another replica's, say) while its update is due: the
        # update is the earliest due delivery, so it is the probe, and it waits for the opening.
        await models.Delivery.create(
            account_id=delta.id, destination="appcast", idempotency_key="opening", payload={"n": 0},
            next_attempt_at=now + timedelta(hours=1),
        )  # fmt: skip
        await models.Delivery.create(
            account_id=delta.id, destination="appcast", idempotency_key="update", payload={"n": 1},
            next_attempt_at=now - timedelta(seconds=1), after="opening",
        )  # fmt: skip
        probes = {"name": "appcast_hub_breaker_probes_total", "destination": "appcast", "account": "delta"}
        before = _metric(**probes) or 0  # the registry is the process's: other runs of this test counted
        async with _outbox(config, plugins) as worker:
            for _ in range(THRESHOLD):
                worker.breakers.record(key, AdapterUnavailable("found down"))
            assert worker.breakers.state(key) is BreakerState.OPEN
            await _until(lambda: _waits("update"))  # the update was the probe, and waited
            await asyncio.sleep(20 * 0.05)  # twenty polls, the update claimed and put back: no probe went out
            assert (_metric(**probes) or 0) == before
            assert appcast.arrivals == []
            later = await _deliveries(delta, 1, first=100)  # Appcast is up: the next probe gets through
            await appcast.fake.wait_for_events(1, timeout=20)
            await _until(lambda: worker.breakers.state(key) is BreakerState.CLOSED)
            assert _metric(**probes) == before + 1
    assert appcast.fake.keys() == later
    assert await models.Delivery.filter(idempotency_key="update").values_list("state", flat=True) == [
        "pending"
    ], "still waiting for the opening"


async def _waits(key: str) -> bool:
    """Was the delivery ``key`` put back to wait for the one it follows?"""
    errors = await models.Delivery.filter(idempotency_key=key).values_list("last_error", flat=True)
    return errors == ["waits for the delivery it follows"]


async def _settled(account: models.Account) -> bool:
    return not await models.Delivery.filter(account_id=account.id, state="pending").exists()


def test_what_counts_as_an_outage() -> None:
    from hub.errors import AdapterAuthError, AdapterUnavailable

    assert breaker.is_outage(AdapterUnavailable("unreachable"))
    assert breaker.is_outage(AdapterUnavailable("503", status=503))
    assert breaker.is_outage(AdapterUnavailable("429", status=429))
    assert breaker.is_outage(AdapterAuthError("401", status=401))
    assert not breaker.is_outage(AdapterUnavailable("422", status=422))
    assert not breaker.is_outage(AdapterUnavailable("404", status=404))


async def test_replicas_each_probe_at_most_once_per_interval(migrated: str, tmp_path: Path) -> None:
    # Two outbox workers on one database, each with breakers of its own, as two hub processes have.
    appcast = Appcast()
    plugins = load_plugins()
    async with appcast.fake.serving():
        config, delta, key = await _one_account("delta", appcast, plugins, tmp_path, migrated)
        await _deliveries(delta, 2 * BATCH)
        appcast.down()
        async with _outbox(config, plugins) as first, _outbox(config, plugins) as second:
            await _until(
                lambda: all(w.breakers.state(key) is not BreakerState.CLOSED for w in (first, second))
            )
            opened_after = len(appcast.arrivals)
            rounds = _count_rounds(first)
            window_started = time.monotonic()
            await _until(lambda: _probes(appcast, opened_after) >= 6)
            window = time.monotonic() - window_started
            probes = _probes(appcast, opened_after)
            assert probes <= 2 * (window / PROBE_SECONDS + 2), (probes, window)
            # Nothing to claim but probes: the loop waits out its poll (0.05 s) between rounds, never spins.
            assert rounds[0] <= 2 * (window / 0.05 + 2), (rounds, window)
            assert await models.Delivery.filter(state="dead").count() == 0
            appcast.up()
            await appcast.fake.wait_for_events(2 * BATCH, timeout=30)
    assert appcast.fake.duplicates == 0


def _count_rounds(worker: OutboxWorker) -> list[int]:
    """Count ``worker``'s rounds from now on (in the one-element list returned)."""
    rounds = [0]
    work_once = worker.work_once

    async def counted() -> bool:
        rounds[0] += 1
        return await work_once()

    worker.work_once = counted  # type: ignore[method-assign]
    return rounds
