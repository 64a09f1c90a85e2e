"""Crash safety (issue 6): a storm of webhooks and pixel hits, a hub SIGKILLed and restarted mid-storm, and
an Appcast that fails for a while; then nothing answered is lost and nothing is delivered twice.

The hubs are real ``appcast-hub serve`` processes (two on one PostgreSQL database sharing a pixel spool
folder, or one on SQLite); a fake Lever and a fake Appcast run on this test's event loop, so every wait
here is asynchronous (blocking waits run in threads) and the fakes keep answering throughout.

What is checked, once everything has settled and the hubs were stopped:

* every webhook answered 2xx is stored, once (receipt by Lever token, event by dedupe key); a webhook
  whose connection died with the hub is redelivered, as Lever does, and may then be "already seen";
* every hire on a switched-on job has exactly one delivery, delivered, and Appcast received exactly that
  set of ``Idempotency-Key`` s: never one hire under two keys, never a key the hub did not store
  (re-sends of the same key, from a lease that ran out or an answer lost to the SIGKILL, are allowed);
* every pixel hit answered with a counted GIF is counted exactly once (each hit has a job id of its own);
  a hit whose connection died with the hub is counted at most once; the spool folder is left empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from hub import db, models
from hub.events import idempotency_key
from hub.testing.appcast import FakeAppcast
from hub.testing.peers import free_port
from tests.conftest import HubProcess, PostgresServer, hub_process, new_postgres_database
from tests.peers.lever import WEBHOOK_SECRET, FakeLever

ACCOUNT = "acme"
APPCAST_TOKEN = "appcast-bearer-for-crash-tests"
#: The whole scenario must finish within this, hub start-ups and the lease of the killed hub included.
SCENARIO_SECONDS = 150
#: What a hub logs when it becomes the leader (hub/leader.py).
LEADING = "this process now runs the scheduled work"
#: Events Appcast records whose answer never reaches the hub.
LOST_ANSWERS = 5
#: The storm's requests are spread over this long, so the hub dies in the middle of it.
STORM_SECONDS = 12.0
#: Requests in flight at once during the storm (at most).
CONCURRENCY = 24


@dataclass(frozen=True)
class Size:
    hires: int  # opportunities hired in the fake Lever, one candidateHired webhook each
    no_job: int  # of which hired on no posting: stored, never delivered
    resent: int  # webhooks sent a second time, identical (Lever redelivering): "already seen"
    twice: int  # hires reported by a second webhook with a new token: stored as one event
    pixels: int


POSTGRES_SIZE = Size(hires=400, no_job=20, resent=40, twice=20, pixels=1500)
SQLITE_SIZE = Size(hires=300, no_job=15, resent=30, twice=15, pixels=1000)


def _config(
    folder: Path, port: int, database_url: str, spool: Path, lever: FakeLever, appcast: FakeAppcast
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(
        f"""
[server]
port = {port}
[database]
url = "{database_url}"
migrate_on_start = true
[sync]
jitter_seconds = 0
[events]
max_attempts = 100000
backoff_seconds = 0.1
backoff_cap_seconds = 1.0
poll_seconds = 0.2
[pixels]
spool_dir = "{spool}"
flush_seconds = 0.3
[accounts.{ACCOUNT}]
adapter = "lever"
company = "Acme"
feed_policy = "all-open"
[accounts.{ACCOUNT}.lever]
site = "{lever.site}"
api_key = "{lever.api_key}"
base_url = "{lever.url}"
webhook_tokens = ["{WEBHOOK_SECRET}"]
rate_per_second = 1000.0
[accounts.{ACCOUNT}.appcast]
client_id = "client-42"
ent_id = "ent-7"
events_url = "{appcast.events_url}"
bearer_token = "{APPCAST_TOKEN}"
funnel_events = ["hired"]
""",
        encoding="utf-8",
    )
    return path


@dataclass
class RunningHub:
    name: str
    url: str
    process: HubProcess
    context: contextlib.AbstractContextManager[HubProcess]


@dataclass
class Cluster:
    """The hub processes of one scenario, started and stopped without blocking the event loop."""

    tmp_path: Path
    database_url: str
    spool: Path
    lever: FakeLever
    appcast: FakeAppcast
    hubs: list[RunningHub] = field(default_factory=list)
    #: Where requests go, round robin: the load balancer's view (a killed hub leaves it).
    live: list[str] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    _turn: itertools.count = field(default_factory=itertools.count)

    async def start(self, name: str) -> RunningHub:
        port = free_port()
        config = _config(self.tmp_path / name, port, self.database_url, self.spool, self.lever, self.appcast)
        context = hub_process(config, port)
        process = await asyncio.to_thread(context.__enter__)
        hub = RunningHub(name, f"http://127.0.0.1:{port}", process, context)
        self.hubs.append(hub)
        self.live.append(hub.url)
        self.logs.append(process.log)
        return hub

    async def kill(self, hub: RunningHub) -> None:
        hub.process.process.kill()  # SIGKILL: no shutdown, no flush, no goodbye
        await asyncio.to_thread(hub.process.process.wait, 20)
        self.live.remove(hub.url)
        await self._leave(hub)

    async def stop_all(self) -> None:
        """SIGTERM every hub still running (each flushes its pixel spool), one after the other."""
        for hub in list(self.hubs):
            if hub.url in self.live:
                self.live.remove(hub.url)
            await asyncio.to_thread(hub.process.stop)
            await self._leave(hub)

    async def _leave(self, hub: RunningHub) -> None:
        await asyncio.to_thread(hub.context.__exit__, None, None, None)
        self.hubs.remove(hub)

    def pick(self) -> str | None:
        if not self.live:
            return None
        return self.live[next(self._turn) % len(self.live)]

    def full_logs(self) -> str:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace") for log in self.logs)

    def log_tail(self, lines: int = 60) -> str:
        parts = []
        for log in self.logs:
            text = log.read_text(encoding="utf-8", errors="replace").splitlines()
            parts.append(f"--- {log.parent.name}/{log.name} ---\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)


@dataclass
class Tally:
    """What the storm sent and what it was answered."""

    #: Lever token → the statuses it was answered (None: the connection died without an answer).
    webhooks: dict[str, list[int | None]] = field(default_factory=lambda: defaultdict(list))
    #: Lever token → opportunity it reports.
    token_opportunity: dict[str, str] = field(default_factory=dict)
    pixels_counted: set[str] = field(default_factory=set)  # job ids answered with a counted GIF
    pixels_unanswered: set[str] = field(default_factory=set)
    pixels_other: list[str] = field(default_factory=list)  # anything else: a failure
    done: int = 0
    done_at_kill: int = 0
    in_flight_at_kill: int = 0  # deliveries Appcast was holding (slowly) when the hub was killed


async def _send_webhook(
    http: aiohttp.ClientSession, cluster: Cluster, tally: Tally, token: str, body: bytes
) -> None:
    """POST one webhook; redeliver (on whichever hub is up) while no answer comes, as Lever does."""
    deadline = time.monotonic() + 60
    while True:
        url = cluster.pick()
        if url is None:  # every hub is down (the SQLite scenario between kill and restart)
            assert time.monotonic() < deadline, "no hub came back"
            await asyncio.sleep(0.1)
            continue
        try:
            async with http.post(
                f"{url}/webhooks/{ACCOUNT}", data=body, headers={"Content-Type": "application/json"}
            ) as response:
                await response.read()
                tally.webhooks[token].append(response.status)
                return
        except (aiohttp.ClientError, TimeoutError):
            tally.webhooks[token].append(None)
            assert time.monotonic() < deadline, f"webhook {token} never answered"
            await asyncio.sleep(0.1)


async def _hit_pixel(
    http: aiohttp.ClientSession, cluster: Cluster, tally: Tally, job: str, kind: str
) -> None:
    url = cluster.pick()
    if url is None:
        tally.pixels_unanswered.add(job)  # nobody to ask: never sent, so certainly not counted
        return
    try:
        async with http.get(f"{url}/px/{ACCOUNT}/{kind}.gif", params={"job": job}) as response:
            await response.read()
            if response.status == 200 and "X-Pixel-Ignored" not in response.headers:
                tally.pixels_counted.add(job)
            else:
                tally.pixels_other.append(
                    f"{job}: {response.status} {response.headers.get('X-Pixel-Ignored')}"
                )
    except (aiohttp.ClientError, TimeoutError):
        tally.pixels_unanswered.add(job)


async def _wait_for(predicate, seconds: float) -> None:
    """Wait until ``predicate()`` holds, or ``seconds`` have passed (the scenario goes on either way)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.02)


async def _until(condition, seconds: float, what: str, cluster: Cluster) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {seconds:g}s\n{cluster.log_tail()}")
        await asyncio.sleep(0.25)


async def _scenario(database_url: str, tmp_path: Path, replicas: int, size: Size) -> None:
    rng = random.Random(6)
    lever = FakeLever(count=60)
    appcast = FakeAppcast(token=APPCAST_TOKEN)
    spool = tmp_path / "spool"
    async with (
        lever.serving(),
        appcast.serving(),
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=CONCURRENCY), timeout=aiohttp.ClientTimeout(total=20)
        ) as http,
    ):
        cluster = Cluster(tmp_path, database_url, spool, lever, appcast)
        try:
            async with asyncio.timeout(SCENARIO_SECONDS):
                await _run(cluster, http, lever, appcast, replicas, size, rng)
        finally:
            with contextlib.suppress(Exception):
                await cluster.stop_all()


async def _run(
    cluster: Cluster,
    http: aiohttp.ClientSession,
    lever: FakeLever,
    appcast: FakeAppcast,
    replicas: int,
    size: Size,
    rng: random.Random,
) -> None:
    # One hub at a time: each migrates on start, and the first becomes the leader that syncs.
    first = await cluster.start("hub-a")
    if replicas == 2:
        await cluster.start("hub-b")
    async with db.database(cluster.database_url):
        postings = sorted(lever.job_ids())

        async def synced() -> bool:
            return await models.Job.filter(ats_id__in=postings).count() == len(postings)

        await _until(synced, 30, "start-up sync", cluster)
        # Each pixel hit names a job of its own, so every hit can be checked to be counted exactly once
        # (a hit for an id the account never had would be counted in one shared row).
        account = await models.Account.get(name=ACCOUNT)
        now = datetime.now(UTC)
        await models.Job.bulk_create(
            [
                models.Job(account=account, ats_id=f"px-{i}", title="Pixel", posted_at=now, content_hash="-")
                for i in range(size.pixels)
            ]
        )

        # The hires, and the webhooks reporting them.
        tally = Tally()
        sends: list[tuple[str, bytes]] = []
        no_job = set()
        for index in range(size.hires):
            posting = None if index < size.no_job else postings[index % len(postings)]
            opportunity = lever.hire(posting=posting, email=f"hire{index}@example.com", source="Appcast")
            if posting is None:
                no_job.add(opportunity)
            data = {"opportunityId": opportunity, "candidateId": opportunity, "contactId": f"c-{index}"}
            for _ in range(2 if index < size.twice else 1):
                signed = lever.signed_webhook("candidateHired", data)
                token = signed.body.split(b'"token": "')[1].split(b'"')[0].decode()
                tally.token_opportunity[token] = opportunity
                sends.append((token, signed.body))
        sends += rng.sample(sends, size.resent)  # identical redeliveries
        work = [("webhook", token, body) for token, body in sends]
        work += [("pixel", f"px-{i}", b"view" if i % 3 else b"apply") for i in range(size.pixels)]
        rng.shuffle(work)
        kill_now = asyncio.Event()
        pace = STORM_SECONDS / len(work)
        items = iter(enumerate(work))
        storm_started = time.monotonic()

        async def worker() -> None:
            for index, (kind, key, payload) in items:  # shared by the workers: each item is sent once
                await asyncio.sleep(max(0.0, storm_started + index * pace - time.monotonic()))
                if kind == "webhook":
                    await _send_webhook(http, cluster, tally, key, payload)
                else:
                    await _hit_pixel(http, cluster, tally, key, payload.decode())
                tally.done += 1
                if tally.done >= len(work) * 0.3:
                    kill_now.set()

        async def chaos() -> None:
            # Mid-storm: Appcast and Lever turn slow, so deliveries and webhooks are being worked on, and
            # the first hub (the leader, which synced) dies without warning: answers are lost, claims are
            # left to their lease.
            # Then Appcast fails for a while, the hub comes back on another port, and Appcast recovers.
            await kill_now.wait()
            # Deliveries lag behind the webhooks (each hire is looked up in Lever first): wait for some.
            await _wait_for(lambda: len(appcast.received) >= 10, 5)
            appcast.faults.delay = 0.5
            arrived = len(appcast.faults.requests)
            await _wait_for(lambda: len(appcast.faults.requests) - arrived >= 6, 2)
            tally.in_flight_at_kill = len(appcast.faults.requests) - arrived
            lever.faults.delay = 0.5  # webhooks being worked on wait for Lever: in flight too
            await asyncio.sleep(0.2)
            tally.done_at_kill = tally.done
            await cluster.kill(first)
            appcast.faults.delay = lever.faults.delay = 0
            await asyncio.sleep(0.6)  # what the killed hub had in flight reaches Appcast's handler
            appcast.faults.server_errors = 10**9
            await cluster.start("hub-a-restarted")
            await asyncio.sleep(3)
            # Appcast recovers, but the answers to its first few events are lost on the way back: the
            # hub must send those again under the same keys.
            appcast.lose_answers = LOST_ANSWERS
            appcast.faults.server_errors = 0

        await asyncio.gather(chaos(), *(worker() for _ in range(CONCURRENCY)))
        storm_seconds = time.monotonic() - storm_started
        assert 0 < tally.done_at_kill < len(work) * 0.9, "the hub was not killed mid-storm"

        # Settle: every receipt worked, every delivery delivered (a killed hub's claims wait for their
        # lease to run out).
        async def settled() -> bool:
            if await models.WebhookReceipt.filter(state="pending").exists():
                return False
            return not await models.Delivery.exclude(state="delivered").exists()

        await _until(settled, 90, "every webhook processed and every delivery delivered", cluster)
        settle_seconds = time.monotonic() - storm_started - storm_seconds
        retried = await models.Delivery.filter(attempts__gt=1).count()
        reclaimed = await models.WebhookReceipt.filter(attempts__gt=1).count()
        await cluster.stop_all()  # SIGTERM: each flushes its spool, the orphaned one of the killed hub too

        await _check(cluster, tally, appcast, no_job, size)
        if replicas == 2:
            # The killed hub led (it started first); another took the scheduled work over.
            led = [log.parent.name for log in cluster.logs if LEADING in log.read_text(errors="replace")]
            assert led[0] == "hub-a", led
            assert set(led) - {"hub-a"}, "nobody took the leadership over from the killed hub"
        print(
            f"\n{replicas} hub(s): {len(work)} requests in {storm_seconds:.1f}s (killed after "
            f"{tally.done_at_kill}), "
            f"settled {settle_seconds:.1f}s later; {retried} deliveries retried, "
            f"{reclaimed} webhooks worked twice; "
            f"{sum(s.count(None) for s in tally.webhooks.values())} webhook sends unanswered (redelivered), "
            f"{len(tally.pixels_unanswered)} pixel hits unanswered; "
            f"Appcast got {len(appcast.events)} events, {appcast.duplicates} re-sends of a key"
            f" ({tally.in_flight_at_kill} in flight at the kill, "
            f"{appcast.counters.abandoned} of them abandoned)"
        )


async def _check(cluster: Cluster, tally: Tally, appcast: FakeAppcast, no_job: set[str], size: Size) -> None:
    log = cluster.log_tail()
    # Webhooks: each token answered 2xx at last, and stored exactly once.
    final = {token: statuses[-1] for token, statuses in tally.webhooks.items()}
    assert set(final.values()) <= {200, 202}, Counter(final.values())
    receipts = Counter(await models.WebhookReceipt.all().values_list("identity", flat=True))
    assert set(receipts) == set(final), "a webhook answered 2xx was not stored (or one never sent was)"
    assert max(receipts.values()) == 1
    assert not await models.WebhookReceipt.filter(state="failed").exists(), log
    # 202 at most once per token: a second 202 would mean it was stored twice.
    assert all(statuses.count(202) <= 1 for statuses in tally.webhooks.values())

    # Events: one per hire, whatever the number of webhooks reporting it.
    hired = set(tally.token_opportunity.values())
    events = Counter(await models.Event.filter(kind="hired").values_list("dedupe_key", flat=True))
    assert set(events) == {f"hired:{o}" for o in hired}
    assert max(events.values()) == 1

    # Deliveries: one per hire on a (switched-on) job, every one delivered, under its derived key.
    rows = await models.Delivery.all().values("idempotency_key", "state", "event__dedupe_key")
    assert all(row["state"] == "delivered" for row in rows)
    stored = {row["idempotency_key"]: row["event__dedupe_key"] for row in rows}
    expected = {idempotency_key(ACCOUNT, "appcast", f"hired:{o}"): f"hired:{o}" for o in hired - no_job}
    assert stored == expected

    # Appcast: exactly those keys, each hire under one key only.
    assert set(appcast.keys()) == set(stored), "Appcast's keys differ from the stored deliveries'"
    assert len(appcast.events) == len(stored) == size.hires - size.no_job
    keys_by_hire: dict[str, set[str]] = defaultdict(set)
    for received in appcast.received:
        keys_by_hire[received.body["application_id"]].add(received.key)
    assert all(len(keys) == 1 for keys in keys_by_hire.values()), "a hire was sent under two keys"
    assert appcast.conflicts == []
    assert appcast.counters.lost_answers == LOST_ANSWERS
    assert appcast.duplicates >= LOST_ANSWERS  # each sent again, under its own key

    # Pixels: every counted GIF counted once, an unanswered hit at most once, nothing else.
    assert tally.pixels_other == []
    counts: Counter[str] = Counter()
    for job, views, applies in await models.PixelCount.all().values_list("ats_job_id", "views", "applies"):
        counts[job] += views + applies
    assert {job for job in tally.pixels_counted if counts[job] != 1} == set(), "a counted hit was lost"
    assert max(counts.values()) == 1, "a hit was counted twice"
    assert set(counts) <= tally.pixels_counted | tally.pixels_unanswered
    batches = await models.PixelBatch.all().values_list("hits", flat=True)
    assert sum(batches) == sum(counts.values())
    assert sorted(p.name for p in cluster.spool.iterdir()) == [], "spool files left uncounted"

    # The hubs themselves never crashed nor logged an error they did not expect.
    assert "Traceback" not in cluster.full_logs(), cluster.full_logs()


@pytest.mark.postgres
async def test_two_hubs_on_postgres_survive_a_sigkill_mid_storm(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    database_url = await new_postgres_database(postgres_server)
    await _scenario(database_url, tmp_path, replicas=2, size=POSTGRES_SIZE)


async def test_one_hub_on_sqlite_survives_a_sigkill_mid_storm(tmp_path: Path) -> None:
    await _scenario(f"sqlite://{tmp_path / 'hub.sqlite3'}", tmp_path, replicas=1, size=SQLITE_SIZE)
