"""Delivery throughput of one hub replica against two, on one PostgreSQL database.

What it measures: N pending deliveries (default 6,000) are stored through :mod:`hub.models` into a
freshly migrated PostgreSQL database, all due in a day; then 1 (or 2) ``appcast-hub serve`` processes are
started on that database, and once every one answers ``/healthz`` the deliveries are made due at once
(one ``UPDATE``). The clock runs from that moment until the fake Appcast has received all N distinct
``Idempotency-Key`` s; the database is checked afterwards (N delivered, none pending or dead). The fake
Appcast (:class:`hub.testing.appcast.FakeAppcast`) runs in a process of its own and answers every event
after a fixed delay (default 20 ms), standing in for a remote endpoint's latency.

Each round uses a fresh database, and the rounds alternate (1, 2, 1, 2, …) so a noisy neighbour on the
machine does not favour one side; the ratio is the median two-replica rate over the median one-replica
rate. Also reported: the CPU seconds each hub process and the fake used, per 1,000 deliveries, and the
number of re-sends of a key (must be 0: SKIP LOCKED never hands one delivery to two replicas).

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_replicas                   # 6,000 deliveries, 2 rounds each
    .venv/bin/python -m benchmarks.bench_replicas --deliveries 3000 --rounds 1 --delay-ms 50
    .venv/bin/python -m benchmarks.bench_replicas --profile /tmp/prof   # + py-spy of one replica

``--timeout`` (default 600 s) is a hard limit for the whole run: past it every process is killed.
Everything stays on 127.0.0.1. Results are printed as Markdown (and JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks._common import (
    REPO,
    Child,
    Postgres,
    Watchdog,
    cpu_seconds,
    environment,
    load_hub,
    markdown_table,
    serve_until_stopped,
    start_child,
    start_py_spy,
    stop_py_spy,
    summarise_collapsed,
    wait_healthy,
    write_hub_config,
)
from hub.testing.peers import free_port

ACCOUNT = "bench"
SAMPLE_JOBS = REPO / "plugins" / "file" / "data" / "sample_jobs.json"
INSERT_BATCH = 2000


# --- the fake Appcast, in a process of its own -----------------------------------------------------------


async def _serve_appcast(delay: float) -> None:
    from aiohttp import web

    from hub.testing.appcast import FakeAppcast

    appcast = FakeAppcast(token=None)
    appcast.faults.delay = delay

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "distinct": len(appcast.keys()),
                "duplicates": appcast.duplicates,
                "received": len(appcast.received),
            }
        )

    appcast.app.router.add_get("/stats", stats)
    await serve_until_stopped(appcast.app)


# --- set-up -------------------------------------------------------------------------------------------------


def _config(folder: Path, database_url: str, port: int, appcast_url: str, poll_seconds: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tables = f"""
[events]
poll_seconds = {poll_seconds}
[pixels]
spool_dir = "{folder / "spool"}"
[accounts.{ACCOUNT}]
adapter = "file"
company = "Bench Co"
feed_policy = "all-open"
[accounts.{ACCOUNT}.file]
path = "{SAMPLE_JOBS}"
[accounts.{ACCOUNT}.appcast]
client_id = "client-1"
ent_id = "ent-1"
events_url = "{appcast_url}/events"
funnel_events = ["hired"]
"""
    return write_hub_config(folder, database_url, tables, port=port)


async def seed(config_path: Path, count: int, prefix: str) -> None:
    """Migrate, create the account, store ``count`` pending deliveries due in a day (not yet).

    Keys start with ``prefix``: the fake Appcast lives across rounds and would take a key it saw as a
    re-send.
    """
    from hub import db, models
    from hub.accounts import ensure_accounts

    config, _ = load_hub(config_path)
    async with db.database(config.database_url, run_migrations=True):
        await ensure_accounts(config)
        account = await models.Account.get(name=ACCOUNT)
        later = datetime.now(UTC) + timedelta(days=1)
        for start in range(0, count, INSERT_BATCH):
            await models.Delivery.bulk_create(
                [
                    models.Delivery(
                        account_id=account.id,
                        destination="appcast",
                        idempotency_key=f"{prefix}-{i:08d}",
                        payload={
                            "event": "hired",
                            "client_id": "client-1",
                            "ent_id": "ent-1",
                            "job_reference": f"job-{i % 50}",
                            "application_id": f"{prefix}-application-{i}",
                            "candidate_hash": None,
                            "source": "Appcast",
                            "stage": None,
                            "occurred_at": "2026-01-01T00:00:00Z",
                        },
                        next_attempt_at=later,
                    )
                    for i in range(start, min(count, start + INSERT_BATCH))
                ]
            )


async def _until(condition: Any, seconds: float, *, must: bool = True) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            if must:
                raise RuntimeError(f"not reached within {seconds:g} s")
            return
        await asyncio.sleep(0.05)


def _postgres_cpu(postgres: Postgres) -> dict[int, float]:
    """CPU seconds so far of the PostgreSQL server's processes (the postmaster and its children), by pid."""
    try:
        postmaster = int((postgres.data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return {}
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            parent = int(text[text.rindex(")") + 2 :].split()[1])
            if postmaster in (parent, int(stat.parent.name)):
                found[int(stat.parent.name)] = cpu_seconds(stat.parent.name)
        except (OSError, ValueError):
            continue  # exited meanwhile
    return found


async def _stats(http: aiohttp.ClientSession, appcast_url: str) -> dict[str, int]:
    async with http.get(f"{appcast_url}/stats") as response:
        return await response.json()


# --- one round ------------------------------------------------------------------------------------------


async def one_round(
    replicas: int,
    round_no: int,
    postgres: Postgres,
    appcast: Child,
    work: Path,
    watchdog: Watchdog,
    args: argparse.Namespace,
    http: aiohttp.ClientSession,
) -> dict[str, Any]:
    from hub import db, models

    database_url = await postgres.new_database(f"replicas_{round_no}_{replicas}")
    folder = work / f"round-{round_no}-{replicas}"
    configs = [
        (_config(folder / f"hub-{n}", database_url, free_port(), appcast.url, args.poll_seconds))
        for n in range(replicas)
    ]
    await seed(configs[0], args.deliveries, f"round-{round_no}-{replicas}")
    before = await _stats(http, appcast.url)

    hubs: list[tuple[Child, str]] = []
    spy: Child | None = None
    try:
        for n, config in enumerate(configs):
            port = int(config.read_text().split("port = ")[1].split()[0])
            child = await start_child(
                f"round-{round_no}-hub-{n}", ["-m", "hub.cli", "serve", "-c", str(config)], folder, watchdog,
                ready_line=False,
            )  # fmt: skip
            url = f"http://127.0.0.1:{port}"
            await wait_healthy(http, url, child)
            hubs.append((child, url))
        if args.profile and replicas == 2 and round_no == 1:
            spy = await start_py_spy(hubs[0][0].pid, Path(args.profile) / "replica.raw", watchdog)
        cpu_before = [cpu_seconds(child.pid) for child, _ in hubs]
        fake_cpu_before = cpu_seconds(appcast.pid)
        pg_before = _postgres_cpu(postgres)

        async with db.database(database_url):
            started = time.perf_counter()
            await models.Delivery.all().update(next_attempt_at=datetime.now(UTC))
            target = before["distinct"] + args.deliveries

            async def all_received() -> bool:
                return (await _stats(http, appcast.url))["distinct"] >= target

            await _until(all_received, args.timeout)
            elapsed = time.perf_counter() - started
            cpu = [cpu_seconds(child.pid) - b for (child, _), b in zip(hubs, cpu_before, strict=True)]
            fake_cpu = cpu_seconds(appcast.pid) - fake_cpu_before
            pg_cpu = sum(cpu - pg_before.get(pid, 0.0) for pid, cpu in _postgres_cpu(postgres).items())
            if spy is not None:
                await stop_py_spy(spy, watchdog)

            # The hub records "delivered" right after the answer: give the last answers a moment.
            async def all_recorded() -> bool:
                return not await models.Delivery.exclude(state="delivered").exists()

            await _until(all_recorded, 10, must=False)
            states = {
                state: await models.Delivery.filter(state=state).count()
                for state in ("pending", "delivered", "dead")
            }
            max_attempts = max(await models.Delivery.all().values_list("attempts", flat=True))
    finally:
        for child, _ in hubs:
            await child.stop(watchdog)
    after = await _stats(http, appcast.url)
    return {
        "replicas": replicas,
        "round": round_no,
        "deliveries": args.deliveries,
        "seconds": elapsed,
        "rate": args.deliveries / elapsed,
        "hub_cpu_seconds": cpu,
        "fake_cpu_seconds": fake_cpu,
        "postgres_cpu_seconds": pg_cpu,
        "states": states,
        "max_attempts": max_attempts,
        "resent": after["duplicates"] - before["duplicates"],
    }


async def main_async(args: argparse.Namespace, watchdog: Watchdog) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="hub-bench-replicas-"))
    postgres = Postgres(watchdog).start()
    appcast = await start_child(
        "appcast",
        ["-m", "benchmarks.bench_replicas", "--serve-appcast", "--delay-ms", str(args.delay_ms)],
        work,
        watchdog,
    )
    rounds: list[dict[str, Any]] = []
    try:
        async with aiohttp.ClientSession() as http:
            for round_no in range(1, args.rounds + 1):
                for replicas in (1, 2):
                    result = await one_round(
                        replicas, round_no, postgres, appcast, work, watchdog, args, http
                    )
                    print(_row_text(result), file=sys.stderr, flush=True)
                    rounds.append(result)
    finally:
        await appcast.stop(watchdog)
        postgres.stop()
    shutil.rmtree(work, ignore_errors=True)  # the hubs' logs and configs; kept when a round failed
    out: dict[str, Any] = {"rounds": rounds, "postgres": postgres.version}
    one = statistics.median(r["rate"] for r in rounds if r["replicas"] == 1)
    two = statistics.median(r["rate"] for r in rounds if r["replicas"] == 2)
    out.update(one=one, two=two, ratio=two / one)
    if args.profile:
        raw = Path(args.profile) / "replica.raw"
        if raw.exists():
            out["profile"] = summarise_collapsed(raw)
    return out


def _row_text(r: dict[str, Any]) -> str:
    return (
        f"round {r['round']}, {r['replicas']} replica(s): {r['deliveries']} in {r['seconds']:.2f}s = "
        f"{r['rate']:,.0f}/s; CPU hubs {'+'.join(f'{c:.1f}' for c in r['hub_cpu_seconds'])} s, "
        f"fake {r['fake_cpu_seconds']:.1f} s, PostgreSQL {r['postgres_cpu_seconds']:.1f} s; "
        f"{r['states']}; re-sent {r['resent']}"
    )


def _report(out: dict[str, Any], env: dict[str, Any], args: argparse.Namespace) -> str:
    rows = []
    for r in out["rounds"]:
        per_k = sum(r["hub_cpu_seconds"]) / r["deliveries"] * 1000
        rows.append(
            [
                r["round"],
                r["replicas"],
                f"{r['seconds']:.2f} s",
                f"{r['rate']:,.0f}",
                " + ".join(f"{c:.1f}" for c in r["hub_cpu_seconds"]) + " s",
                f"{per_k:.2f} s",
                f"{r['fake_cpu_seconds']:.1f} s",
                f"{r['postgres_cpu_seconds']:.1f} s",
                f"{r['states']['delivered']:,} / {r['states']['pending']} / {r['states']['dead']}",
                r["resent"],
            ]
        )
    table = markdown_table(
        [
            "round", "replicas", "time", "deliveries/s", "CPU of each hub", "hub CPU per 1,000",
            "CPU of the fake", "CPU of PostgreSQL", "delivered / pending / dead", "re-sent keys",
        ],
        rows,
    )  # fmt: skip
    lines = [
        f"{args.deliveries:,} deliveries per round, Appcast delay {args.delay_ms:g} ms, "
        f"poll_seconds {args.poll_seconds:g}; {env['date']}, {env['cpus']} CPUs, load average "
        f"{env['load_average']} at the start, revision {env['revision']}, {out['postgres']}",
        "",
        table,
        "",
        f"**median one replica {out['one']:,.0f}/s, two replicas {out['two']:,.0f}/s: "
        f"ratio {out['ratio']:.2f}x**",
    ]
    if "profile" in out:
        lines += ["", "```", out["profile"], "```"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=6000, help="deliveries per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of (one replica, two replicas)")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="the fake Appcast's answer delay")
    parser.add_argument("--poll-seconds", type=float, default=0.2, help="[events] poll_seconds of the hubs")
    parser.add_argument("--timeout", type=float, default=600.0, help="hard limit for the whole run (s)")
    parser.add_argument("--profile", help="folder for a py-spy profile of one replica (2-replica round 1)")
    parser.add_argument("--json", help="also write the results as JSON here")
    parser.add_argument("--serve-appcast", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_appcast:
        asyncio.run(_serve_appcast(args.delay_ms / 1000))
        return 0

    env = environment()
    watchdog = Watchdog(args.timeout).start()
    try:
        out = asyncio.run(asyncio.wait_for(main_async(args, watchdog), args.timeout - 10))
    finally:
        watchdog.cancel()
    print(_report(out, env, args))
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": env, **out}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
