"""Sync throughput: a full sync of N jobs from a fake ATS, then a re-sync that must write nothing.

What it measures, for each adapter (``lever`` on API v1 with an API key, ``pinpoint``) and each database
(SQLite, and PostgreSQL with ``--database postgres|both``):

1. *fetch only*: paging through the adapter's ``fetch_jobs`` with no database at all, the floor set
   by the fake ATS, HTTP and the adapter's mapping;
2. *first sync*: :func:`hub.sync.sync_account` into a freshly migrated, empty database (N inserts);
3. *full re-sync*: the same call with ``full=True`` and nothing changed at the ATS. It is checked to
   write nothing: ``created == updated == closed == 0``, ``max(changed_at)`` and a digest of every
   job row's ``(id, changed_at, content_hash, is_open)`` identical before and after;
4. for Lever only, the *scheduled re-sync* (``full=None``): incremental, asking Lever for postings
   updated since the previous sync started (none), so it reads no postings at all.

Each fake runs in its own process (``benchmarks.serve_peer``) on 127.0.0.1, so its CPU time is not
charged to the event loop running the sync. The adapters' client-side rate limits are raised to
``rate_per_second = 1000`` so they are not the bottleneck (Lever's default of 10/s would make 1,000
pages take 100 s by design); ``page_size = 100`` (both APIs' maximum).

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_sync                       # 100,000 jobs, SQLite
    .venv/bin/python -m benchmarks.bench_sync --jobs 10000 --database both
    .venv/bin/python -m benchmarks.bench_sync --adapters lever --profile /tmp/prof   # pyinstrument

``--timeout`` (default 1800 s) is a hard limit for the whole run: past it the run is stopped and every
process it started is killed. Results are printed as Markdown tables (and written as JSON with
``--json``); ``docs/benchmarks.md`` holds one run's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks._common import (
    Postgres,
    Watchdog,
    cpu_seconds,
    environment,
    load_hub,
    markdown_table,
    memory_kib,
    mib,
    start_child,
    stopwatch,
    write_hub_config,
)

ACCOUNT = "bench"
RATE_PER_SECOND = 1000.0
LEVER_API_KEY = "lever-test-key-0123456789"  # tests.peers.lever.API_KEY
PINPOINT_API_KEY = "pp-test-key"  # FakePinpoint's default


def _account_table(adapter: str, url: str, page_size: int) -> str:
    head = f'[accounts.{ACCOUNT}]\nadapter = "{adapter}"\ncompany = "Acme"\nfeed_policy = "all-open"\n'
    if adapter == "lever":
        return head + (
            f'[accounts.{ACCOUNT}.lever]\nsite = "acme"\napi_key = "{LEVER_API_KEY}"\nbase_url = "{url}"\n'
            f"page_size = {page_size}\nrate_per_second = {RATE_PER_SECOND}\n"
        )
    return head + (
        f'[accounts.{ACCOUNT}.pinpoint]\nsubdomain = "acme"\napi_key = "{PINPOINT_API_KEY}"\n'
        f'base_url = "{url}"\npage_size = {page_size}\nrate_per_second = {RATE_PER_SECOND}\n'
    )


async def _jobs_state(account_id: int) -> dict[str, Any]:
    """What a re-sync must leave untouched: counts, newest changed_at, a digest of every row."""
    from hub import models

    jobs = models.Job.filter(account_id=account_id)
    digest = hashlib.sha256()
    rows = await jobs.order_by("id").values_list("id", "changed_at", "content_hash", "is_open")
    for row in rows:
        digest.update(repr(row).encode())
    newest = max((row[1] for row in rows), default=None)
    account = await models.Account.get(id=account_id)
    return {
        "jobs": len(rows),
        "open": sum(1 for row in rows if row[3]),
        "max_changed_at": newest.isoformat() if newest else None,
        "rows_digest": digest.hexdigest()[:16],
        "feed_version": account.feed_version,
    }


async def _table_stats(database: str) -> dict[str, Any]:
    """Write and read counters around a phase.

    SQLite: ``total_changes()`` of the hub's connection (rows inserted, updated or deleted in any table;
    a sync also updates its account's row twice). PostgreSQL: the ``jobs`` table's access counters,
    which show rows written and how the table was read (sequential or index scans, tuples fetched).
    """
    from tortoise import connections

    connection = connections.get("default")
    if database != "postgres":
        rows = await connection.execute_query_dict("SELECT total_changes() AS rows_written_any_table")
        return dict(rows[0])
    await asyncio.sleep(1.2)  # PostgreSQL publishes a backend's counters at most once a second
    await connection.execute_query("SELECT pg_stat_clear_snapshot()")
    rows = await connection.execute_query_dict(
        "SELECT n_tup_ins + n_tup_upd + n_tup_del AS jobs_rows_written, seq_scan, seq_tup_read, idx_scan, "
        "idx_tup_fetch, analyze_count + autoanalyze_count AS analyzes "
        "FROM pg_stat_user_tables WHERE relname = 'jobs'"
    )
    return {k: v or 0 for k, v in rows[0].items()}


def _stats_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {key: after[key] - before[key] for key in after}


@contextlib.asynccontextmanager
async def _profiled(directory: Path | None, name: str) -> AsyncIterator[None]:
    if directory is None:
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(async_mode="enabled", interval=0.002)
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        _write_profile(profiler, directory, name)


def _write_profile(profiler: Any, directory: Path, name: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    (directory / f"{name}.txt").write_text(text, encoding="utf-8")
    (directory / f"{name}.html").write_text(profiler.output_html(), encoding="utf-8")


async def _timed_sync(
    plugins: Any, http: aiohttp.ClientSession, account: Any, peer_pid: int, full: bool | None
) -> tuple[Any, dict[str, float]]:
    from hub.sync import sync_account

    hub_cpu, peer_cpu = cpu_seconds(), cpu_seconds(peer_pid)
    with stopwatch() as elapsed:
        result = await sync_account(plugins, http, account, full=full)
    return result, {
        "seconds": elapsed(),
        "hub_cpu": cpu_seconds() - hub_cpu,
        "peer_cpu": cpu_seconds(peer_pid) - peer_cpu,
    }


async def bench_one(
    adapter: str, database: str, args: argparse.Namespace, watchdog: Watchdog, pg: Postgres | None
) -> dict[str, Any]:
    from hub import db
    from hub.accounts import ensure_accounts, get_account
    from hub.app import HTTP_TIMEOUT

    label = f"{adapter}/{database}"
    out: dict[str, Any] = {"adapter": adapter, "database": database, "jobs": args.jobs, "checks": []}
    out["analyze_before_resync"] = bool(args.analyze and database == "postgres")
    with tempfile.TemporaryDirectory(prefix="hub-bench-sync-") as folder:
        tmp = Path(folder)
        peer = await start_child(
            f"{adapter}-peer",
            ["-m", "benchmarks.serve_peer", adapter, "--jobs", str(args.jobs)],
            tmp,
            watchdog,
        )
        try:
            if database == "sqlite":
                url = f"sqlite://{tmp / 'hub.sqlite3'}"
            else:
                assert pg is not None
                url = await pg.new_database(f"bench_sync_{adapter}")
            config, plugins = load_hub(
                write_hub_config(tmp, url, _account_table(adapter, peer.url, args.page_size))
            )
            async with (
                db.database(url, run_migrations=True),
                aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http,
            ):
                await ensure_accounts(config)
                account = await get_account(config, ACCOUNT)

                # 1. the floor: the fake ATS, HTTP and the adapter's mapping, no database.
                fetched = 0
                peer_cpu, hub_cpu = cpu_seconds(peer.pid), cpu_seconds()
                with stopwatch() as elapsed:
                    pages = plugins.call_iter(
                        adapter, "appcast_hub_fetch_jobs", account.config, http=http, since=None
                    )
                    async for page in pages:
                        fetched += len(page.jobs)
                out["fetch_only"] = {
                    "seconds": elapsed(),
                    "hub_cpu": cpu_seconds() - hub_cpu,
                    "peer_cpu": cpu_seconds(peer.pid) - peer_cpu,
                    "jobs": fetched,
                }
                print(f"{label}: fetch only: {fetched} jobs in {elapsed():.1f} s", file=sys.stderr)

                # 2. the first sync into an empty database.
                stats = await _table_stats(database)
                async with _profiled(args.profile, f"{adapter}-{database}-first-sync"):
                    first, timing = await _timed_sync(plugins, http, account, peer.pid, None)
                out["first_sync"] = timing | {
                    "summary": first.summary(),
                    "created": first.created,
                    "table_stats": _stats_delta(stats, await _table_stats(database)),
                }
                print(f"{label}: first sync: {first.summary()} in {timing['seconds']:.1f} s", file=sys.stderr)
                if first.error or first.created != args.jobs:
                    out["checks"].append(f"first sync did not create {args.jobs} jobs: {first.summary()}")
                before = await _jobs_state(account.row.id)
                if args.analyze and database == "postgres":
                    from tortoise import connections

                    await connections.get("default").execute_script("ANALYZE jobs")

                # 3. a full re-sync with nothing changed must write nothing.
                stats = await _table_stats(database)
                async with _profiled(args.profile, f"{adapter}-{database}-full-resync"):
                    again, timing = await _timed_sync(plugins, http, account, peer.pid, True)
                table_stats = _stats_delta(stats, await _table_stats(database))
                after = await _jobs_state(account.row.id)
                out["full_resync"] = timing | {
                    "summary": again.summary(),
                    "before": before,
                    "after": after,
                    "table_stats": table_stats,
                }
                print(
                    f"{label}: full re-sync: {again.summary()} in {timing['seconds']:.1f} s", file=sys.stderr
                )
                counts = (again.created, again.updated, again.closed)
                if again.error or counts != (0, 0, 0) or again.seen != args.jobs:
                    out["checks"].append(f"full re-sync changed something: {again.summary()}")
                if before != after:
                    out["checks"].append(f"full re-sync rewrote rows: before {before}, after {after}")

                # 4. Lever's scheduled re-sync is incremental (updated_at_start): nothing to read.
                if adapter == "lever":
                    inc, timing = await _timed_sync(plugins, http, account, peer.pid, None)
                    out["incremental_resync"] = timing | {"summary": inc.summary(), "seen": inc.seen}
                    print(
                        f"{label}: scheduled re-sync: {inc.summary()} in {timing['seconds']:.2f} s",
                        file=sys.stderr,
                    )
                    if inc.error or inc.full or inc.changed or await _jobs_state(account.row.id) != after:
                        out["checks"].append(f"scheduled re-sync was not a no-op: {inc.summary()}")
        finally:
            await peer.stop(watchdog)
    return out


def _report(results: list[dict[str, Any]], env: dict[str, Any], jobs: int) -> str:
    rows = []
    for r in results:
        first, full, fetch = r["first_sync"], r["full_resync"], r["fetch_only"]
        rows.append(
            [
                f"{r['adapter']} / {r['database']}",
                f"{fetch['seconds']:.1f} s ({jobs / fetch['seconds']:,.0f}/s)",
                f"{first['seconds']:.1f} s",
                f"{jobs / first['seconds']:,.0f}",
                f"{first['hub_cpu']:.1f} s / {first['peer_cpu']:.1f} s",
                f"{full['seconds']:.1f} s",
                f"{jobs / full['seconds']:,.0f}",
                f"{full['seconds'] / first['seconds']:.2f}",
                f"{first['seconds'] / fetch['seconds']:.2f}",
                "ok" if not r["checks"] else "FAILED",
            ]
        )
    table = markdown_table(
        [
            "adapter / database",
            "fetch only (no DB)",
            "first sync",
            "jobs/s",
            "CPU hub / fake",
            "full re-sync",
            "jobs/s",
            "re-sync / first",
            "first / fetch-only",
            "no-write check",
        ],
        rows,
    )
    lines = [f"{jobs:,} jobs; {env}", "", table, ""]
    for r in results:
        full = r["full_resync"]
        lines.append(
            f"- {r['adapter']} / {r['database']}: full re-sync `{full['summary']}`; max(changed_at) "
            f"{full['before']['max_changed_at']} -> {full['after']['max_changed_at']}; rows digest "
            f"{full['before']['rows_digest']} -> {full['after']['rows_digest']}; feed_version "
            f"{full['before']['feed_version']} -> {full['after']['feed_version']}"
        )
        for phase in ("first_sync", "full_resync"):
            lines.append(f"  - counters during the {phase.replace('_', ' ')}: {r[phase]['table_stats']}")
        if "incremental_resync" in r:
            inc = r["incremental_resync"]
            lines.append(f"  - scheduled (incremental) re-sync: {inc['seconds']:.2f} s, `{inc['summary']}`")
        lines.extend(f"  - CHECK FAILED: {check}" for check in r["checks"])
    return "\n".join(lines)


async def main_async(args: argparse.Namespace, watchdog: Watchdog) -> list[dict[str, Any]]:
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    pg = None
    results = []
    try:
        if "postgres" in databases:
            pg = await asyncio.to_thread(Postgres(watchdog).start)
        for database in databases:
            for adapter in args.adapters:
                results.append(await bench_one(adapter, database, args, watchdog, pg))
    finally:
        if pg is not None:
            await asyncio.to_thread(pg.stop)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs the fake ATS holds (default 100,000)")
    parser.add_argument(
        "--adapters",
        type=lambda text: [a for a in text.split(",") if a],
        default=["lever", "pinpoint"],
        help="comma-separated: lever,pinpoint",
    )
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--page-size", type=int, default=100, help="jobs per ATS request (default 100)")
    parser.add_argument("--timeout", type=float, default=1800, help="hard limit for the whole run, seconds")
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="PostgreSQL: run ANALYZE jobs between the first sync and the re-sync (the hub does not)",
    )
    parser.add_argument("--profile", type=Path, help="write pyinstrument profiles of the syncs here")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.jobs <= 1_000_000:
        parser.error("--jobs must be between 1 and 1,000,000")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    if set(args.adapters) - {"lever", "pinpoint"}:
        parser.error("--adapters: lever and/or pinpoint")
    logging.basicConfig(level=logging.WARNING)

    env = environment()
    watchdog = Watchdog(args.timeout).start()

    async def bounded() -> list[dict[str, Any]]:
        async with asyncio.timeout(args.timeout - min(30.0, args.timeout / 10)):
            return await main_async(args, watchdog)

    try:
        results = asyncio.run(bounded())
    except TimeoutError:
        print(f"bench_sync: stopped at the {args.timeout:.0f} s limit", file=sys.stderr)
        return 3
    finally:
        watchdog.cancel()
    env["peak_rss_benchmark_process"] = mib(memory_kib()["VmHWM"])
    print(_report(results, env, args.jobs))
    if args.json:
        args.json.write_text(json.dumps({"environment": env, "results": results}, indent=2, default=str))
    return 1 if any(r["checks"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
