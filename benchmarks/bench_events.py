"""Events: signed Lever webhooks in, pixel hits, deliveries to a fake Appcast (and a backlog after an outage).

What it measures, against a real ``appcast-hub serve`` process on 127.0.0.1 (its CPU is its own), with a
hello-world aiohttp app (``benchmarks.serve_peer hello``, its own process) measured the same way in the
same run, rounds alternating between the two so that the machine's noise hits both alike:

* **webhook ingest**: signed Lever ``candidateStageChange`` webhooks (each unique, signed as
  ``tests.peers.lever`` signs them) POSTed at full speed by ``--concurrency`` keep-alive clients: webhooks
  stored (answered 202) per second; then a fixed offered load (``--webhook-rate`` per second for
  ``--webhook-seconds``), with p50/p99 latency counted from each request's due time. Hello-world gets
  the same bodies, POSTed the same way. Afterwards the count of stored webhooks (``webhook_receipts``)
  must equal the count answered 202. The inbox worker parses them meanwhile, on the same event loop, as
  it would in production;
* **pixel hits**: ``GET /px/acme/view.gif?job=ID`` at full speed against hello-world's ``GET /?job=ID``
  (aim: ≥ 50 % of hello-world's rate). After the hub has shut down (its last flush), the views counted in
  ``pixel_counts`` must equal the hits answered. A diagnostic third side asks for the pixel of an account
  the hub does not know: the same route and handler, answered with the same GIF before the account's
  database row is read (and not counted), so the difference is what that read costs;
* **deliveries**: hire webhooks (``candidateHired`` naming a job of the feed, each confirmed by the inbox
  in a fake Lever's API, ``benchmarks.serve_peer lever --hire-on-lookup``, as the adapter does) go
  through the inbox and the outbox to a fake Appcast (``hub.testing.appcast.FakeAppcast`` in its own
  process, this module's ``fake-appcast`` mode, which can be switched to answer 503). First *live*:
  ``--live-hires`` hires with Appcast up: deliveries per second and the time from each webhook sent to
  its event arriving at Appcast.
  Then an *outage*: Appcast answers 503 while ``--backlog`` hires are stored and every delivery has failed
  at least once; then it recovers, and the drain is timed from the recovery to the last of them arriving.
  ``[events]`` is set for that: ``backoff_seconds = 0.1`` and ``backoff_cap_seconds = 1`` (full-jitter
  backoff, so every failed delivery is due again within a second and the drain starts at once; with the
  defaults, 5 s doubling to an hour, a delivery that failed ten times would wait up to 43 minutes), and
  ``max_attempts = 1000`` so that nothing is dead-lettered during the outage; ``breaker_threshold`` is
  out of reach, so that every delivery keeps being retried (the breaker, which would leave the backlog
  waiting for a probe instead, is ``bench_breaker``'s).

The account (``acme``, Lever adapter, ``feed_policy = all-open``) has no Lever API key, so parsing a webhook
needs no call to Lever: the hub's work is its own. Its jobs are inserted before the hub starts.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_events                       # SQLite and PostgreSQL
    .venv/bin/python -m benchmarks.bench_events --database sqlite --profile /tmp/prof
    # options: --rounds 3  --concurrency 32  --webhooks 3000  --pixels 10000  --webhook-rate 200
    #          --webhook-seconds 10  --live-hires 2000  --backlog 10000  --timeout 2400  --json FILE

``--profile DIR`` runs py-spy on the hub during extra, unmeasured rounds (webhooks, pixels, live
deliveries) after the measured ones. A default run takes about 10 minutes, most of it storing the backlog
during the outage. ``--timeout`` (default 2,400 s) is a hard limit for the whole run: past it every
process is killed, PostgreSQL included.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks._common import (
    Child,
    Postgres,
    Watchdog,
    cpu_seconds,
    markdown_table,
    memory_kib,
    mib,
    run_bounded,
    serve_until_stopped,
    start_child,
    start_py_spy,
    stop_py_spy,
    summarise_collapsed,
    wait_healthy,
)
from benchmarks._load import LoadResult, alternate, closed_loop, open_loop, ratio, request_bytes
from hub.testing.peers import free_port
from tests.peers.lever import API_KEY as LEVER_API_KEY
from tests.peers.lever import WEBHOOK_SECRET, lever_signature

ACCOUNT = "acme"
ADMIN_TOKEN = "bench-admin-token"  # noqa: S105 - a throwaway hub on loopback
APPCAST_TOKEN = "bench-appcast-token"  # noqa: S105
JOBS = 200
JSON = [("Content-Type", "application/json"), ("User-Agent", "Lever-Webhooks")]


def _posting(number: int) -> str:
    return f"bench-job-{number % JOBS:04d}"


# --- the fake Appcast child ---------------------------------------------------------------------------


async def _serve_fake_appcast() -> None:
    """The test-suite's FakeAppcast, plus an outage switch and a report of arrivals (time.monotonic())."""

    from aiohttp import web

    from hub.testing.appcast import EVENTS_PATH, FakeAppcast

    fake = FakeAppcast(token=APPCAST_TOKEN)
    state: dict[str, Any] = {"outage": False, "refused": 0}

    @web.middleware
    async def outage(request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
        if state["outage"] and request.path == EVENTS_PATH:
            state["refused"] += 1
            return web.Response(status=503, text="outage")
        return await handler(request)

    async def switch(request: web.Request) -> web.Response:
        state["outage"] = bool((await request.json())["on"])
        return web.json_response({"at": time.monotonic(), "outage": state["outage"]})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "distinct": len(fake._by_key),
                "received": len(fake.received),
                "duplicates": fake.duplicates,
                "conflicts": len(fake.conflicts),
                "rejected_auth": fake.counters.rejected_auth,
                "rejected_bad": fake.counters.rejected_bad,
                "refused_outage": state["refused"],
            }
        )

    async def arrivals(request: web.Request) -> web.Response:
        return web.json_response({key: event.received_at for key, event in fake._by_key.items()})

    fake.app.middlewares.insert(0, outage)
    fake.app.router.add_post("/_bench/outage", switch)
    fake.app.router.add_get("/_bench/stats", stats)
    fake.app.router.add_get("/_bench/arrivals", arrivals)
    await serve_until_stopped(fake.app)


# --- requests -----------------------------------------------------------------------------------------


def lever_webhook(event: str, data: dict[str, Any]) -> bytes:
    """A webhook body as Lever sends it: a fresh token, triggered now, signed with the test secret."""
    token, triggered = uuid.uuid4().hex, int(time.time() * 1000)
    return json.dumps(
        {
            "event": event,
            "triggeredAt": triggered,
            "token": token,
            "signature": lever_signature(WEBHOOK_SECRET, token, triggered),
            "data": data,
        }
    ).encode()


def stage_changes(base: str, path: str, count: int) -> list[bytes]:
    """``count`` unique signed ``candidateStageChange`` webhooks, as ready-to-send requests."""
    requests = []
    for _ in range(count):
        opportunity = str(uuid.uuid4())
        body = lever_webhook(
            "candidateStageChange",
            {
                "opportunityId": opportunity,
                "candidateId": opportunity,
                "contactId": str(uuid.uuid4()),
                "fromStageId": "lead-new",
                "toStageId": "applicant-new",
            },
        )
        requests.append(request_bytes(base, "POST", path, JSON, body))
    return requests


def hires(base: str, count: int) -> tuple[list[bytes], list[str]]:
    """``count`` signed ``candidateHired`` webhooks for jobs of the feed, and each one's Idempotency-Key."""
    from hub.events import idempotency_key
    from plugins.lever.mapping import hire_dedupe_key

    requests, keys = [], []
    for number in range(count):
        # The fake Lever (--hire-on-lookup) confirms it as a hire of this posting when the hub asks.
        opportunity = f"{uuid.uuid4()}@{_posting(number)}"
        body = lever_webhook(
            "candidateHired",
            {
                "opportunityId": opportunity,
                "candidateId": opportunity,
                "contactId": str(uuid.uuid4()),
                "postingId": _posting(number),
            },
        )
        requests.append(request_bytes(base, "POST", f"/webhooks/{ACCOUNT}", JSON, body))
        keys.append(idempotency_key(ACCOUNT, "appcast", hire_dedupe_key(opportunity)))
    return requests, keys


# --- the database, read from outside the hub ----------------------------------------------------------


class Store:
    """Counts read straight from the hub's database (SQLite file or PostgreSQL), never written."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pg: Any = None

    async def open(self) -> Store:
        if not self.url.startswith("sqlite://"):
            import asyncpg

            self._pg = await asyncpg.connect(self.url)
        return self

    async def close(self) -> None:
        if self._pg is not None:
            await self._pg.close()

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self._pg is not None:
            return [tuple(record) for record in await self._pg.fetch(sql)]

        def read() -> list[tuple[Any, ...]]:
            connection = sqlite3.connect(self.url.removeprefix("sqlite://"), timeout=30)
            try:
                return connection.execute(sql).fetchall()
            finally:
                connection.close()

        return await asyncio.to_thread(read)

    async def scalar(self, sql: str) -> int:
        return int((await self.rows(sql))[0][0] or 0)

    async def by_state(self, table: str) -> dict[str, int]:
        sql = {
            "deliveries": "SELECT state, count(*) FROM deliveries GROUP BY state",
            "webhook_receipts": "SELECT state, count(*) FROM webhook_receipts GROUP BY state",
        }[table]
        return {state: int(n) for state, n in await self.rows(sql)}


async def seed(database_url: str, config_path: Path) -> None:
    """Migrate, create the account and its ``JOBS`` open jobs (the hires' postings)."""
    from benchmarks._common import load_hub
    from hub import db, models
    from hub.accounts import ensure_accounts

    config, _ = load_hub(config_path)
    now = datetime.now(UTC)
    async with db.database(database_url, run_migrations=True):
        await ensure_accounts(config)
        account = await models.Account.get(name=ACCOUNT)
        await models.Job.bulk_create(
            [
                models.Job(
                    account_id=account.id,
                    ats_id=_posting(n),
                    title=f"Benchmark job {n}",
                    posted_at=now,
                    description_html="<p>A job.</p>",
                    is_open=True,
                    content_hash=hashlib.sha256(str(n).encode()).hexdigest(),
                )
                for n in range(JOBS)
            ]
        )


def _config(folder: Path, database_url: str, port: int, appcast: str, lever: str) -> Path:
    path = folder / "config.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
[database]
url = "{database_url}"
migrate_on_start = false
[logging]
level = "WARNING"
[admin]
api_token = "{ADMIN_TOKEN}"
[sync]
scheduled = false
[events]
max_attempts = 1000
breaker_threshold = 1000000000
backoff_seconds = 0.1
backoff_cap_seconds = 1.0
poll_seconds = 0.5
[pixels]
spool_dir = "{folder / "spool"}"
flush_seconds = 2.0
[accounts.{ACCOUNT}]
adapter = "lever"
company = "Acme"
feed_policy = "all-open"
[accounts.{ACCOUNT}.lever]
site = "acme"
api_key = "{LEVER_API_KEY}"
base_url = "{lever}"
rate_per_second = 100000.0
webhook_tokens = ["{WEBHOOK_SECRET}"]
[accounts.{ACCOUNT}.appcast]
client_id = "bench-client"
ent_id = "bench-ent"
events_url = "{appcast}/events"
bearer_token = "{APPCAST_TOKEN}"
""",
        encoding="utf-8",
    )
    return path


# --- measuring ----------------------------------------------------------------------------------------


class Tally:
    """Every answer the hub gave, across all phases, for the checks at the end."""

    def __init__(self) -> None:
        self.webhooks_202 = 0
        self.webhooks_other: dict[int, int] = {}
        self.pixels_200 = 0
        self.pixels_other: dict[int, int] = {}

    def webhooks(self, result: LoadResult) -> None:
        self.webhooks_202 += result.statuses.get(202, 0)
        for status, n in result.statuses.items():
            if status != 202:
                self.webhooks_other[status] = self.webhooks_other.get(status, 0) + n

    def pixels(self, result: LoadResult) -> None:
        self.pixels_200 += result.statuses.get(200, 0)
        for status, n in result.statuses.items():
            if status != 200:
                self.pixels_other[status] = self.pixels_other.get(status, 0) + n


async def _until(
    check: Callable[[], Awaitable[bool]], seconds: float, what: str, every: float = 0.1
) -> float:
    """Wait until ``check()``; returns the seconds waited. RuntimeError after ``seconds``."""
    started = time.perf_counter()
    while not await check():
        if time.perf_counter() - started > seconds:
            raise RuntimeError(f"not reached within {seconds:.0f} s: {what}")
        await asyncio.sleep(every)
    return time.perf_counter() - started


async def _json(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Any:
    async with http.request(method, url, **kwargs) as response:
        if response.status != 200:
            raise RuntimeError(f"{method} {url}: HTTP {response.status}")
        return await response.json()


async def bench_webhooks(
    hub: str, hello: str, hub_pid: int, hello_pid: int, store: Store, tally: Tally, args: argparse.Namespace
) -> dict[str, Any]:
    path = f"/webhooks/{ACCOUNT}"
    out: dict[str, Any] = {}

    def closed(base: str, pid: int, count: int, is_hub: bool) -> Callable[[], Awaitable[LoadResult]]:
        async def run() -> LoadResult:
            requests = stage_changes(base, path if is_hub else "/", count)
            result = await closed_loop(
                base, requests.__getitem__, count=count, concurrency=args.concurrency, server_pid=pid
            )
            if is_hub:
                tally.webhooks(result)
            return result

        return run

    # Warm-up (unmeasured): connections, first queries, the inbox worker's first rounds.
    await closed(hello, hello_pid, 500, False)()
    await closed(hub, hub_pid, 500, True)()
    await _until(lambda: _inbox_idle(store), 120, "inbox drained after warm-up", every=0.25)
    out["max_rate"] = await alternate(
        args.rounds,
        [
            ("hello", closed(hello, hello_pid, args.webhooks, False)),
            ("hub", closed(hub, hub_pid, args.webhooks, True)),
        ],
        "webhooks",
    )
    # The inbox worker parses what was stored meanwhile (a webhook is stored first, worked on after).
    out["inbox_catch_up_after"] = await _until(lambda: _inbox_idle(store), 300, "inbox drained", every=0.25)

    def paced(base: str, pid: int, is_hub: bool) -> Callable[[], Awaitable[LoadResult]]:
        async def run() -> LoadResult:
            count = round(args.webhook_rate * args.webhook_seconds)
            requests = stage_changes(base, path if is_hub else "/", count)
            result = await open_loop(
                base, requests.__getitem__, rate=args.webhook_rate, seconds=args.webhook_seconds,
                server_pid=pid,
            )  # fmt: skip
            if is_hub:
                tally.webhooks(result)
            return result

        return run

    out["fixed_rate"] = await alternate(
        1, [("hello", paced(hello, hello_pid, False)), ("hub", paced(hub, hub_pid, True))], "webhooks paced"
    )
    await _until(lambda: _inbox_idle(store), 300, "inbox drained", every=0.25)
    return out


async def _inbox_idle(store: Store) -> bool:
    return await store.scalar("SELECT count(*) FROM webhook_receipts WHERE state = 'pending'") == 0


async def bench_pixels(
    hub: str, hello: str, hub_pid: int, hello_pid: int, tally: Tally, args: argparse.Namespace
) -> dict[str, Any]:
    """Hello-world, the hub's pixel, and (a diagnostic) the hub's pixel for an account it does not know.

    The third side takes the same route, middlewares and handler, and answers the same GIF, but stops
    before the account's database row is read and the hit spooled: the difference is what those cost.
    """

    def closed(
        base: str, pid: int, count: int, prefix: str, counted: bool
    ) -> Callable[[], Awaitable[LoadResult]]:
        requests = [request_bytes(base, "GET", f"{prefix}?job={_posting(n)}") for n in range(JOBS)]

        async def run() -> LoadResult:
            result = await closed_loop(
                base, lambda n: requests[n % JOBS], count=count, concurrency=args.concurrency, server_pid=pid
            )
            if counted:
                tally.pixels(result)
            return result

        return run

    pixel, unknown = f"/px/{ACCOUNT}/view.gif", "/px/no-such-account/view.gif"
    await closed(hello, hello_pid, 1000, "/", False)()
    await closed(hub, hub_pid, 1000, pixel, True)()
    await closed(hub, hub_pid, 1000, unknown, False)()
    result = await alternate(
        args.rounds,
        [
            ("hello", closed(hello, hello_pid, args.pixels, "/", False)),
            ("hub", closed(hub, hub_pid, args.pixels, pixel, True)),
            ("hub_unknown_account", closed(hub, hub_pid, args.pixels, unknown, False)),
        ],
        "pixels",
    )
    result["unknown_account"] = ratio(result["hello"], result["hub_unknown_account"])
    return result


async def _send_hires(
    hub: str, hub_pid: int, count: int, tally: Tally, args: argparse.Namespace
) -> tuple[LoadResult, list[str], dict[str, float]]:
    requests, keys = hires(hub, count)
    sent_at: dict[str, float] = {}

    def stamped(number: int) -> bytes:
        sent_at[keys[number]] = time.monotonic()
        return requests[number]

    result = await closed_loop(hub, stamped, count=count, concurrency=args.concurrency, server_pid=hub_pid)
    tally.webhooks(result)
    if result.statuses.get(202, 0) != count:
        raise RuntimeError(f"hire webhooks: {result.statuses}, {result.errors} errors")
    return result, keys, sent_at


async def bench_deliveries(
    hub: str,
    appcast: Child,
    hub_pid: int,
    http: aiohttp.ClientSession,
    store: Store,
    tally: Tally,
    args: argparse.Namespace,
) -> dict[str, Any]:
    out: dict[str, Any] = {}

    async def stats() -> dict[str, Any]:
        return await _json(http, "GET", f"{appcast.url}/_bench/stats")

    async def distinct_at_least(count: int) -> bool:
        return (await stats())["distinct"] >= count

    # --- live: Appcast up -----------------------------------------------------------------------------
    before = (await stats())["distinct"]
    cpu_hub, cpu_fake = cpu_seconds(hub_pid), cpu_seconds(appcast.pid)
    started = time.monotonic()
    ingest, keys, sent_at = await _send_hires(hub, hub_pid, args.live_hires, tally, args)
    await _until(lambda: distinct_at_least(before + args.live_hires), 300, "live hires delivered")
    arrivals = await _json(http, "GET", f"{appcast.url}/_bench/arrivals")
    mine = [arrivals[key] for key in keys if key in arrivals]
    latency = sorted(arrivals[key] - sent_at[key] for key in keys if key in arrivals)
    out["live"] = {
        "hires": args.live_hires,
        "delivered": len(mine),
        "ingest_per_second": ingest.per_second,
        "ingest_seconds": ingest.seconds,
        "all_delivered_after": max(mine) - started,
        "delivery_window": max(mine) - min(mine),
        "per_second": len(mine) / (max(mine) - started),
        "latency_p50": latency[len(latency) // 2],
        "latency_p99": latency[min(len(latency) - 1, round(0.99 * (len(latency) - 1)))],
        "latency_max": latency[-1],
        "hub_cpu": cpu_seconds(hub_pid) - cpu_hub,
        "fake_cpu": cpu_seconds(appcast.pid) - cpu_fake,
    }
    print(f"live deliveries: {out['live']}", file=sys.stderr)

    # --- outage: Appcast answers 503 while the backlog is stored --------------------------------------
    await _json(http, "POST", f"{appcast.url}/_bench/outage", json={"on": True})
    outage_started = time.monotonic()
    ingest, keys, _ = await _send_hires(hub, hub_pid, args.backlog, tally, args)
    expected = args.live_hires + args.backlog
    stored_after = await _until(
        lambda: _deliveries_stored(store, expected), 600, f"{expected} deliveries stored", every=0.25
    )
    await _until(lambda: _all_attempted(store), 600, "every backlog delivery attempted once", every=0.25)
    await asyncio.sleep(args.outage_hold)
    pending_before = await store.by_state("deliveries")
    attempts = await store.rows(
        "SELECT min(attempts), max(attempts), avg(attempts) FROM deliveries WHERE state = 'pending'"
    )
    refused_during = (await stats())["refused_outage"]
    outage_seconds = time.monotonic() - outage_started

    # --- recovery: time the drain ---------------------------------------------------------------------
    distinct_before = (await stats())["distinct"]
    cpu_hub, cpu_fake = cpu_seconds(hub_pid), cpu_seconds(appcast.pid)
    recovered = (await _json(http, "POST", f"{appcast.url}/_bench/outage", json={"on": False}))["at"]
    await _until(lambda: distinct_at_least(distinct_before + args.backlog), 900, "backlog drained")
    cpu_hub, cpu_fake = cpu_seconds(hub_pid) - cpu_hub, cpu_seconds(appcast.pid) - cpu_fake
    arrivals = await _json(http, "GET", f"{appcast.url}/_bench/arrivals")
    mine = sorted(arrivals[key] for key in keys if key in arrivals)
    await _until(lambda: _deliveries_done(store, expected), 60, "deliveries marked delivered", every=0.1)
    after = await stats()
    out["outage"] = {
        "backlog": args.backlog,
        "ingest_per_second": ingest.per_second,
        "stored_within": ingest.seconds + stored_after,
        "outage_seconds": outage_seconds,
        "refused_503": refused_during,
        "states_before_recovery": pending_before,
        "attempts_before_recovery": [float(v) if v is not None else None for v in attempts[0]],
        "delivered": len(mine),
        "first_after_recovery": mine[0] - recovered,
        "drain_seconds": mine[-1] - recovered,
        "drain_per_second": len(mine) / (mine[-1] - recovered),
        "hub_cpu": cpu_hub,
        "fake_cpu": cpu_fake,
        "fake": after,
        "states_after": await store.by_state("deliveries"),
    }
    print(f"outage and drain: {out['outage']}", file=sys.stderr)
    return out


async def _deliveries_stored(store: Store, expected: int) -> bool:
    return await store.scalar("SELECT count(*) FROM deliveries") >= expected


async def _all_attempted(store: Store) -> bool:
    return await store.scalar("SELECT count(*) FROM deliveries WHERE state = 'pending' AND attempts = 0") == 0


async def _deliveries_done(store: Store, expected: int) -> bool:
    return await store.scalar("SELECT count(*) FROM deliveries WHERE state = 'delivered'") >= expected


async def _profile(
    name: str, hub_pid: int, run: Callable[[], Awaitable[Any]], args: argparse.Namespace, watchdog: Watchdog
) -> str | None:
    output = args.profile / f"events-{name}-{args.current_database}.collapsed.txt"
    spy = await start_py_spy(hub_pid, output, watchdog)
    if spy is None:
        return None
    try:
        await run()
    finally:
        await stop_py_spy(spy, watchdog)
    summary = summarise_collapsed(output)
    output.with_name(output.name.replace(".collapsed", ".summary")).write_text(summary)
    print(f"py-spy profile, {name}:\n{summary}", file=sys.stderr)
    return summary


async def bench_database(
    database: str, hello: Child, tmp: Path, watchdog: Watchdog, args: argparse.Namespace
) -> dict[str, Any]:
    """One hub on ``database``: webhooks, pixels, deliveries; then shut down and check the counts."""
    folder = tmp / database
    folder.mkdir()
    out: dict[str, Any] = {"database": database}
    args.current_database = database
    pg = None
    children: list[Child] = []
    store: Store | None = None
    try:
        if database == "postgres":
            pg = await asyncio.to_thread(Postgres(watchdog).start)
            url = await pg.new_database("bench_events")
        else:
            url = f"sqlite://{folder / 'hub.sqlite3'}"
        appcast = await start_child(
            f"appcast-{database}", ["-m", "benchmarks.bench_events", "fake-appcast"], folder, watchdog
        )
        children.append(appcast)
        # Lever webhooks are confirmed in Lever's API: a fake Lever that confirms the benchmark's hires.
        lever = await start_child(
            f"lever-{database}",
            ["-m", "benchmarks.serve_peer", "lever", "--jobs", "0", "--hire-on-lookup"],
            folder,
            watchdog,
        )
        children.append(lever)
        port = free_port()
        config = _config(folder, url, port, appcast.url, lever.url)
        await seed(url, config)
        hub = await start_child(
            f"hub-{database}",
            ["-m", "hub.cli", "serve", "-c", str(config)],
            folder,
            watchdog,
            ready_line=False,
        )
        children.append(hub)
        base = f"http://127.0.0.1:{port}"
        store = await Store(url).open()
        tally = Tally()
        async with aiohttp.ClientSession() as http:
            await wait_healthy(http, base, hub)
            out["rss_idle"] = memory_kib(hub.pid)
            out["webhooks"] = await bench_webhooks(base, hello.url, hub.pid, hello.pid, store, tally, args)
            stored = await store.scalar("SELECT count(*) FROM webhook_receipts")
            out["webhooks"]["stored"], out["webhooks"]["answered_202"] = stored, tally.webhooks_202
            out["webhooks"]["other_statuses"] = dict(tally.webhooks_other)
            out["pixels"] = await bench_pixels(base, hello.url, hub.pid, hello.pid, tally, args)
            out["deliveries"] = await bench_deliveries(base, appcast, hub.pid, http, store, tally, args)
            if args.profile is not None:
                out["profiles"] = await _profiles(
                    base, hello, hub, appcast, http, store, tally, watchdog, args
                )
            out["rss_end"] = memory_kib(hub.pid)
        stored = await store.scalar("SELECT count(*) FROM webhook_receipts")
        out["check"] = {"webhooks_stored": stored, "webhooks_202": tally.webhooks_202}
        await hub.stop(watchdog)  # SIGTERM: the pixel counter's last flush
        out["check"]["hub_exit"] = hub.process.returncode
        out["check"]["pixels_counted"] = await store.scalar("SELECT sum(views) FROM pixel_counts")
        out["check"]["pixels_200"] = tally.pixels_200
        out["check"]["pixels_other"] = dict(tally.pixels_other)
        out["check"]["deliveries"] = await store.by_state("deliveries")
        out["check"]["events"] = await store.scalar("SELECT count(*) FROM events")
        spool = folder / "spool"
        out["check"]["spool_left"] = sorted(p.name for p in spool.iterdir()) if spool.exists() else []
        print(f"checks: {out['check']}", file=sys.stderr)
    finally:
        if store is not None:
            await store.close()
        for child in reversed(children):
            await child.stop(watchdog)
        if pg is not None:
            await asyncio.to_thread(pg.stop)
    return out


async def _profiles(
    base: str,
    hello: Child,
    hub: Child,
    appcast: Child,
    http: aiohttp.ClientSession,
    store: Store,
    tally: Tally,
    watchdog: Watchdog,
    args: argparse.Namespace,
) -> dict[str, str | None]:
    """Extra, unmeasured rounds with py-spy recording the hub (its sampling would skew the figures)."""

    async def webhooks() -> None:
        requests = stage_changes(base, f"/webhooks/{ACCOUNT}", args.webhooks)
        result = await closed_loop(
            base, requests.__getitem__, count=args.webhooks, concurrency=args.concurrency, server_pid=hub.pid
        )
        tally.webhooks(result)

    async def pixels() -> None:
        requests = [
            request_bytes(base, "GET", f"/px/{ACCOUNT}/view.gif?job={_posting(n)}") for n in range(JOBS)
        ]
        result = await closed_loop(
            base, lambda n: requests[n % JOBS], count=args.pixels, concurrency=args.concurrency,
            server_pid=hub.pid,
        )  # fmt: skip
        tally.pixels(result)

    async def deliveries() -> None:
        before = await store.scalar("SELECT count(*) FROM deliveries WHERE state = 'delivered'")
        await _send_hires(base, hub.pid, args.live_hires, tally, args)
        await _until(
            lambda: _deliveries_done(store, before + args.live_hires), 300, "profiled hires delivered"
        )

    profiles = {}
    for name, run in (("webhooks", webhooks), ("pixels", pixels), ("deliveries", deliveries)):
        profiles[name] = await _profile(name, hub.pid, run, args, watchdog)
        await _until(lambda: _inbox_idle(store), 300, "inbox drained", every=0.25)
    return profiles


async def main_async(args: argparse.Namespace, watchdog: Watchdog) -> dict[str, Any]:
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    out: dict[str, Any] = {
        "settings": {k: str(v) for k, v in vars(args).items() if k not in ("json", "mode")},
        "results": [],
    }
    with tempfile.TemporaryDirectory(prefix="hub-bench-events-") as folder:
        tmp = Path(folder)
        hello = await start_child("hello", ["-m", "benchmarks.serve_peer", "hello"], tmp, watchdog)
        try:
            for database in databases:
                out["results"].append(await bench_database(database, hello, tmp, watchdog, args))
            out["rss_hello"] = memory_kib(hello.pid)
        finally:
            await hello.stop(watchdog)
    return out


# --- the report ---------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _aim(met: bool) -> str:
    return "**met**" if met else "**missed**"


def _report(out: dict[str, Any], env: dict[str, Any]) -> str:
    settings = out["settings"]
    lines = [f"{env}", f"settings: {settings}", ""]
    ingest_rows, paced_rows, pixel_rows, delivery_rows, check_rows = [], [], [], [], []
    for result in out["results"]:
        db = result["database"]
        w = result["webhooks"]
        m = w["max_rate"]
        ingest_rows.append(
            [
                db,
                f"{m['measured_median']:,.0f}/s",
                f"{m['yardstick_median']:,.0f}/s",
                f"**{m['ratio']:.0%}**",
                " / ".join(f"{r:.0%}" for r in m["round_ratios"]),
                f"{statistics.median(r['p50'] for r in m['hub']) * 1000:.1f} / "
                f"{statistics.median(r['p99'] for r in m['hub']) * 1000:.1f} ms",
                f"{statistics.median(r['server_cpu'] / r['seconds'] for r in m['hub']):.0%}",
                f"{w['inbox_catch_up_after']:.1f} s",
            ]
        )
        f = w["fixed_rate"]
        hub, hello = f["hub"][0], f["hello"][0]
        paced_rows.append(
            [
                db,
                f"{hub['offered_rate']:.0f}/s x {settings['webhook_seconds']} s",
                f"{hub['achieved_rate']:.0f}/s",
                f"{_ms(hub['p50'])} / {_ms(hub['p99'])} / {_ms(hub['max'])}",
                f"{_ms(hello['p50'])} / {_ms(hello['p99'])} / {_ms(hello['max'])}",
                f"{hub['p50'] / hello['p50']:.1f}x / {hub['p99'] / hello['p99']:.1f}x",
                json.dumps(hub["statuses"]),
            ]
        )
        p = result["pixels"]
        pixel_rows.append(
            [
                db,
                f"{p['measured_median']:,.0f}/s",
                f"{p['yardstick_median']:,.0f}/s",
                f"**{p['ratio']:.0%}** ({_aim(p['ratio'] >= 0.5)})",
                " / ".join(f"{r:.0%}" for r in p["round_ratios"]),
                f"{statistics.median(r['p50'] for r in p['hub']) * 1000:.1f} / "
                f"{statistics.median(r['p99'] for r in p['hub']) * 1000:.1f} ms",
                f"{statistics.median(r['server_cpu'] / r['answered'] for r in p['hub']) * 1e6:.0f} µs / "
                f"{statistics.median(r['server_cpu'] / r['answered'] for r in p['hello']) * 1e6:.0f} µs",
                f"{p['unknown_account']['measured_median']:,.0f}/s ({p['unknown_account']['ratio']:.0%})",
            ]
        )
        live, outage = result["deliveries"]["live"], result["deliveries"]["outage"]
        delivery_rows.append(
            [
                db,
                f"{live['hires']:,} in {live['all_delivered_after']:.1f} s: **{live['per_second']:,.0f}/s**",
                f"{_ms(live['latency_p50'])} / {_ms(live['latency_p99'])}",
                f"{outage['backlog']:,} stored in {outage['stored_within']:.1f} s; "
                f"{outage['refused_503']:,} attempts refused",
                f"{outage['first_after_recovery'] * 1000:.0f} ms",
                f"**{outage['drain_seconds']:.1f} s** ({outage['drain_per_second']:,.0f}/s)",
                f"{outage['hub_cpu']:.1f} s / {outage['fake_cpu']:.1f} s",
            ]
        )
        c = result["check"]
        fake = outage["fake"]
        check_rows.append(
            [
                db,
                f"{c['webhooks_stored']:,} = {c['webhooks_202']:,}"
                + (" ok" if c["webhooks_stored"] == c["webhooks_202"] else " **MISMATCH**"),
                f"{c['pixels_counted']:,} = {c['pixels_200']:,}"
                + (" ok" if c["pixels_counted"] == c["pixels_200"] else " **MISMATCH**"),
                json.dumps(c["deliveries"]),
                f"{fake['duplicates']} / {fake['conflicts']} / {fake['rejected_bad']}",
            ]
        )
    lines += [
        "Webhook ingest, full speed:",
        "",
        markdown_table(
            [
                "database",
                "hub stored/s",
                "hello-world/s",
                "hub / hello",
                "per round",
                "hub p50 / p99",
                "hub CPU busy",
                "inbox caught up after",
            ],
            ingest_rows,
        ),
        "",
        "Webhook ingest, fixed offered load (latency from each request's due time):",
        "",
        markdown_table(
            [
                "database",
                "offered",
                "achieved",
                "hub p50 / p99 / max",
                "hello p50 / p99 / max",
                "hub / hello (p50 / p99)",
                "hub statuses",
            ],
            paced_rows,
        ),
        "",
        "Pixel hits, full speed:",
        "",
        markdown_table(
            [
                "database",
                "hub hits/s",
                "hello-world/s",
                "hub / hello (aim ≥ 50 %)",
                "per round",
                "hub p50 / p99",
                "CPU per request hub / hello",
                "diagnostic: unknown account (no DB read)",
            ],
            pixel_rows,
        ),
        "",
        "Deliveries to the fake Appcast:",
        "",
        markdown_table(
            [
                "database",
                "live",
                "webhook → Appcast p50 / p99",
                "outage",
                "first after recovery",
                "drain",
                "CPU hub / fake (drain)",
            ],
            delivery_rows,
        ),
        "",
        "Checks:",
        "",
        markdown_table(
            [
                "database",
                "webhooks stored = answered 202",
                "pixel views counted = hits answered",
                "deliveries by state",
                "Appcast duplicates / conflicts / refused",
            ],
            check_rows,
        ),
    ]
    for result in out["results"]:
        for name, summary in (result.get("profiles") or {}).items():
            lines += ["", f"py-spy, {result['database']}, {name}:", "```", summary or "(none)", "```"]
    lines.append(f"- hello-world RSS {mib(out['rss_hello']['VmRSS'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "mode", nargs="?", choices=("run", "fake-appcast"), default="run", help=argparse.SUPPRESS
    )
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=3, help="alternating hello/hub rounds (default 3)")
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive clients at full speed")
    parser.add_argument("--webhooks", type=int, default=3000, help="webhooks per full-speed round")
    parser.add_argument("--pixels", type=int, default=10000, help="pixel hits per full-speed round")
    parser.add_argument("--webhook-rate", type=float, default=200.0, help="fixed offered load, per second")
    parser.add_argument("--webhook-seconds", type=float, default=10.0, help="how long the fixed load lasts")
    parser.add_argument("--live-hires", type=int, default=2000, help="hires delivered with Appcast up")
    parser.add_argument("--backlog", type=int, default=10000, help="hires stored during the outage")
    parser.add_argument("--outage-hold", type=float, default=2.0, help="seconds of outage after all failed")
    parser.add_argument("--timeout", type=float, default=2400, help="hard limit for the whole run, seconds")
    parser.add_argument("--profile", type=Path, help="py-spy the hub in extra rounds; write profiles here")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    if args.mode == "fake-appcast":
        asyncio.run(_serve_fake_appcast())
        return 0
    if not (1 <= args.rounds <= 20 and 1 <= args.concurrency <= 256 and args.timeout > 0):
        parser.error("--rounds 1..20, --concurrency 1..256, --timeout > 0")
    if not (100 <= args.webhooks <= 100_000 and 100 <= args.pixels <= 1_000_000):
        parser.error("--webhooks 100..100,000, --pixels 100..1,000,000")
    if not (1 <= args.live_hires <= 100_000 and 1 <= args.backlog <= 100_000):
        parser.error("--live-hires and --backlog 1..100,000")
    if not (0 < args.webhook_rate <= 5000 and 0 < args.webhook_seconds <= 120):
        parser.error("--webhook-rate 0..5,000, --webhook-seconds 0..120")
    return run_bounded("bench_events", args, main_async, _report)


if __name__ == "__main__":
    sys.exit(main())
