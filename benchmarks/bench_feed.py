"""Serving the XML feed: time, size and the server's memory for 1,000 / 10,000 / 100,000 jobs.

What it measures:

* the feed of N jobs (default 100,000) fetched in full over HTTP from a real ``appcast-hub serve``
  process on 127.0.0.1, uncompressed and with ``Accept-Encoding: gzip``: time to first byte, total
  time, bytes on the wire, the server process's CPU seconds, and the number of ``<job>`` elements
  (checked against the database);
* the server's peak-RSS growth while serving (``VmHWM`` from /proc/PID/status after the request minus
  before it). Each feed size gets a fresh server process, warmed up with two 1,000-job feeds first, so
  the growth is what the big feed adds. A streamed feed keeps it flat: 10,000 and 100,000 jobs should
  grow it about equally, whereas a feed built in memory would grow it with the feed's size;
* a yardstick measured in the same run: sequential request latency of a hello-world aiohttp app (also
  its own process, ``benchmarks.serve_peer hello``), of the hub's ``/healthz`` (one ``SELECT 1``) and
  of the 1,000-job feed, quoted as ratios to hello-world.

The jobs are the 50 sample jobs of ``plugins/file/data`` repeated with unique ids (real-length
descriptions, ~1.7 KB each), bulk-inserted through :mod:`hub.models` into a freshly migrated
database; one account per size, policy ``all-open``, every job open. The hub runs with
``logging.level = WARNING`` (no access-log line per request, as hello-world has none) and scheduled
syncs off.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_feed                 # 1,000 / 10,000 / 100,000 jobs, SQLite
    .venv/bin/python -m benchmarks.bench_feed --jobs 20000 --database postgres
    .venv/bin/python -m benchmarks.bench_feed --profile /tmp/prof   # + py-spy of an extra fetch

``--timeout`` (default 900 s) is a hard limit for the whole run: past it every process is killed.
Results are printed as Markdown (and JSON with ``--json``); ``docs/benchmarks.md`` has one run.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import logging
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import aiohttp
from lxml import etree

from benchmarks._common import (
    REPO,
    Child,
    Postgres,
    Watchdog,
    cpu_seconds,
    environment,
    load_hub,
    markdown_table,
    memory_kib,
    mib,
    start_child,
    start_py_spy,
    stop_py_spy,
    summarise_collapsed,
    write_hub_config,
)
from tests.peers import free_port

SAMPLE_JOBS = REPO / "plugins" / "file" / "data" / "sample_jobs.json"
INSERT_BATCH = 2000
JOB_TAG = b"<job>"


def _account(size: int) -> str:
    return f"feed-{size}"


def _accounts_toml(sizes: list[int]) -> str:
    return "".join(
        f'[accounts.{_account(size)}]\nadapter = "file"\ncompany = "Northwind Health"\n'
        f'company_url = "https://careers.northwind.example"\nfeed_policy = "all-open"\n'
        f'[accounts.{_account(size)}.file]\npath = "{SAMPLE_JOBS}"\n'
        for size in sizes
    )


def _columns(job: Any) -> dict[str, Any]:
    """A normalised Job's stored columns (as hub.sync stores them: ``updated_at`` is ``ats_updated_at``)."""
    values = {
        f.name: getattr(job, f.name) for f in dataclasses.fields(job) if f.name not in ("ats_id", "is_open")
    }
    values["ats_updated_at"] = values.pop("updated_at")
    return values


async def seed(config: Any, sizes: list[int], analyze: bool) -> dict[str, Any]:
    """Migrate, then bulk-insert ``size`` open jobs for each account; returns seconds and row counts."""
    from tortoise.transactions import in_transaction

    from hub import db, models
    from hub.accounts import ensure_accounts
    from plugins.file.client import read_jobs_file
    from plugins.file.mapping import job_from_entry

    samples = [job_from_entry(entry) for entry in read_jobs_file(SAMPLE_JOBS)]
    samples = [job for job in samples if job.is_open] or samples
    started = time.perf_counter()
    counts = {}
    async with db.database(config.database_url, run_migrations=True):
        await ensure_accounts(config)
        for size in sizes:
            account = await models.Account.get(name=_account(size))
            for start in range(0, size, INSERT_BATCH):
                rows = []
                for number in range(start, min(size, start + INSERT_BATCH)):
                    job = samples[number % len(samples)]
                    values = _columns(job) | {"title": f"{job.title} #{number}"}
                    digest = hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest()
                    rows.append(
                        models.Job(
                            account_id=account.id,
                            ats_id=f"{job.ats_id}-{number}",
                            is_open=True,
                            content_hash=digest,
                            **values,
                        )
                    )
                async with in_transaction():
                    await models.Job.bulk_create(rows, batch_size=500)
            counts[size] = await models.Job.filter(account_id=account.id, is_open=True).count()
        if analyze:
            from tortoise import connections

            await connections.get("default").execute_script("ANALYZE jobs")
    return {"seconds": time.perf_counter() - started, "open_jobs": counts}


async def _wait_healthy(http: aiohttp.ClientSession, url: str, child: Child) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.process.returncode is not None:
            raise RuntimeError(f"hub exited: {child.log.read_text(errors='replace')[-2000:]}")
        try:
            async with http.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("hub did not answer /healthz within 60 s")


async def fetch_feed(
    http: aiohttp.ClientSession, url: str, *, gzip: bool, parse: bool = False
) -> dict[str, Any]:
    """GET a feed, streaming it: first-byte and total seconds, wire and XML bytes, ``<job>`` count."""
    headers = {"Accept-Encoding": "gzip" if gzip else "identity"}
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
    parser = etree.XMLPullParser(events=()) if parse else None
    wire = xml = jobs = 0
    tail = b""
    started = time.perf_counter()
    first_byte = None
    async with http.get(url, headers=headers) as response:
        if response.status != 200:
            raise RuntimeError(f"GET {url}: {response.status} {await response.text()}")
        encoding = response.headers.get("Content-Encoding", "identity")
        if encoding != ("gzip" if gzip else "identity"):
            raise RuntimeError(f"GET {url}: Content-Encoding {encoding!r}")
        async for chunk in response.content.iter_chunked(1 << 18):
            if first_byte is None:
                first_byte = time.perf_counter() - started
            wire += len(chunk)
            data = inflate.decompress(chunk) if inflate else chunk
            xml += len(data)
            window = tail + data
            jobs += window.count(JOB_TAG)
            tail = window[-(len(JOB_TAG) - 1) :]
            if parser is not None:
                parser.feed(data)
    total = time.perf_counter() - started
    if parser is not None:
        root = parser.close()
        if root.tag != "source" or len(root.findall("job")) != jobs:
            raise RuntimeError(f"GET {url}: not the expected XML document")
    return {
        "first_byte": first_byte or total,
        "seconds": total,
        "wire_bytes": wire,
        "xml_bytes": xml,
        "jobs": jobs,
    }


async def latency(http: aiohttp.ClientSession, url: str, count: int, warmup: int) -> dict[str, float]:
    """Sequential GETs on one keep-alive connection: median and p90 seconds, requests per second."""
    samples = []
    for number in range(warmup + count):
        started = time.perf_counter()
        async with http.get(url, headers={"Accept-Encoding": "identity"}) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {url}: {response.status}")
        if number >= warmup:
            samples.append(time.perf_counter() - started)
    samples.sort()
    return {
        "median": statistics.median(samples),
        "p90": samples[int(0.9 * (len(samples) - 1))],
        "per_second": len(samples) / sum(samples),
        "count": len(samples),
    }


async def serve_one_size(
    size: int,
    smallest: int,
    largest: int,
    config_path: Path,
    port: int,
    tmp: Path,
    watchdog: Watchdog,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """A fresh hub process: warm it up, fetch the ``size`` feed plain and gzipped, watch its memory."""
    base = f"http://127.0.0.1:{port}"
    hub = await start_child(
        f"hub-{size}", ["-m", "hub.cli", "serve", "-c", str(config_path)], tmp, watchdog, ready_line=False
    )
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300)
    result: dict[str, Any] = {"jobs": size}
    try:
        async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as http:
            await _wait_healthy(http, base, hub)
            result["rss_idle"] = memory_kib(hub.pid)
            warm = f"{base}/feeds/{_account(smallest)}.xml"
            for _ in range(2):
                await fetch_feed(http, warm, gzip=False, parse=True)
            result["rss_warm"] = before = memory_kib(hub.pid)
            url = f"{base}/feeds/{_account(size)}.xml"
            for encoding in ("plain", "gzip"):
                cpu = cpu_seconds(hub.pid)
                fetched = await fetch_feed(http, url, gzip=encoding == "gzip", parse=size == smallest)
                fetched["server_cpu"] = cpu_seconds(hub.pid) - cpu
                after = memory_kib(hub.pid)
                fetched["rss_after"] = after
                fetched["hwm_growth_kib"] = after["VmHWM"] - before["VmHWM"]
                result[encoding] = fetched
                print(
                    f"feed {size}: {encoding}: {fetched['jobs']} jobs, {fetched['wire_bytes']:,} B in "
                    f"{fetched['seconds']:.2f} s, peak RSS +{mib(fetched['hwm_growth_kib'])}",
                    file=sys.stderr,
                )
            if args.profile is not None and size == largest:
                # An extra, unmeasured fetch: the profiler's sampling would skew the figures above.
                output = args.profile / f"feed-{size}-{args.database}.collapsed.txt"
                spy = await start_py_spy(hub.pid, output, watchdog)
                if spy is not None:
                    try:
                        await fetch_feed(http, url, gzip=False)
                    finally:
                        await stop_py_spy(spy, watchdog)
                    summary = summarise_collapsed(output)
                    output.with_name(output.name.replace(".collapsed", ".summary")).write_text(summary)
                    print(f"py-spy profile of the {size}-job feed:\n{summary}", file=sys.stderr)
            if size == smallest:
                result["latency_feed"] = await latency(http, url, args.feed_requests, 3)
                result["latency_healthz"] = await latency(http, f"{base}/healthz", args.hello_requests, 20)
    finally:
        await hub.stop(watchdog)
    return result


async def main_async(args: argparse.Namespace, watchdog: Watchdog) -> dict[str, Any]:
    smallest = min(1000, args.jobs)
    sizes = sorted({smallest, max(smallest, args.jobs // 10), args.jobs})
    out: dict[str, Any] = {"sizes": sizes, "database": args.database}
    pg = None
    with tempfile.TemporaryDirectory(prefix="hub-bench-feed-") as folder:
        tmp = Path(folder)
        try:
            if args.database == "postgres":
                pg = await asyncio.to_thread(Postgres(watchdog).start)
                url = await pg.new_database("bench_feed")
            else:
                url = f"sqlite://{tmp / 'hub.sqlite3'}"
            port = free_port()
            config_path = write_hub_config(tmp, url, _accounts_toml(sizes), port=port)
            config, _ = load_hub(config_path)
            print(f"seeding {sum(sizes):,} jobs…", file=sys.stderr)
            out["seed"] = await seed(config, sizes, analyze=args.database == "postgres")
            for size in sizes:
                expected = out["seed"]["open_jobs"][size]
                if expected != size:
                    raise RuntimeError(f"seeded {expected} open jobs for {size}")

            hello = await start_child("hello", ["-m", "benchmarks.serve_peer", "hello"], tmp, watchdog)
            try:
                async with aiohttp.ClientSession() as http:
                    out["latency_hello"] = await latency(http, hello.url, args.hello_requests, 20)
                out["rss_hello"] = memory_kib(hello.pid)
            finally:
                await hello.stop(watchdog)

            out["feeds"] = {}
            for size in sizes:
                out["feeds"][size] = await serve_one_size(
                    size, smallest, sizes[-1], config_path, port, tmp, watchdog, args
                )
                if out["feeds"][size]["plain"]["jobs"] != size or out["feeds"][size]["gzip"]["jobs"] != size:
                    raise RuntimeError(f"the feed of {size} jobs did not list {size} jobs")
        finally:
            if pg is not None:
                await asyncio.to_thread(pg.stop)
    return out


def _report(out: dict[str, Any], env: dict[str, Any]) -> str:
    sizes = out["sizes"]
    feeds = out["feeds"]
    rows = []
    for size in sizes:
        f = feeds[size]
        plain, gz = f["plain"], f["gzip"]
        rows.append(
            [
                f"{size:,}",
                f"{plain['seconds']:.2f} s (first byte {plain['first_byte'] * 1000:.0f} ms)",
                f"{size / plain['seconds']:,.0f}",
                f"{plain['server_cpu']:.2f} s",
                f"{plain['wire_bytes'] / 1e6:,.1f} MB",
                f"{gz['seconds']:.2f} s",
                f"{gz['server_cpu']:.2f} s",
                f"{gz['wire_bytes'] / 1e6:,.1f} MB ({gz['wire_bytes'] / gz['xml_bytes']:.1%})",
                f"{mib(f['rss_warm']['VmHWM'])}",
                f"+{mib(plain['hwm_growth_kib'])} / +{mib(gz['hwm_growth_kib'])}",
            ]
        )
    table = markdown_table(
        [
            "jobs",
            "plain: total",
            "jobs/s",
            "server CPU",
            "size",
            "gzip: total",
            "server CPU",
            "size (of XML)",
            "peak RSS before",
            "peak RSS growth plain / +gzip",
        ],
        rows,
    )
    small = feeds[sizes[0]]
    hello, healthz, feed = out["latency_hello"], small["latency_healthz"], small["latency_feed"]
    lat = markdown_table(
        ["request", "median", "p90", "req/s (sequential)", "median / hello-world"],
        [
            ["hello-world aiohttp", *_lat(hello), "1"],
            ["hub /healthz", *_lat(healthz), f"{healthz['median'] / hello['median']:.1f}"],
            [f"hub feed, {sizes[0]:,} jobs", *_lat(feed), f"{feed['median'] / hello['median']:,.0f}"],
        ],
    )
    lines = [
        f"database {out['database']}; seeded in {out['seed']['seconds']:.1f} s; {env}",
        "",
        table,
        "",
        lat,
        "",
    ]
    if len(sizes) >= 3:
        mid, big = feeds[sizes[-2]], feeds[sizes[-1]]
        lines.append(
            f"- peak-RSS growth {sizes[-1]:,} vs {sizes[-2]:,} jobs (plain): "
            f"{mib(big['plain']['hwm_growth_kib'])} vs {mib(mid['plain']['hwm_growth_kib'])}; "
            f"the feed itself is {big['plain']['xml_bytes'] / mid['plain']['xml_bytes']:.1f}x larger "
            f"({big['plain']['xml_bytes'] / 2**20:,.0f} MiB vs {mid['plain']['xml_bytes'] / 2**20:,.0f} MiB)"
        )
        per_job = [feeds[s]["plain"]["server_cpu"] / s * 1e6 for s in sizes]
        lines.append(
            "- server CPU per job (plain): "
            + ", ".join(f"{s:,}: {v:.0f} µs" for s, v in zip(sizes, per_job, strict=True))
        )
    lines.append(
        f"- hello-world server RSS: {mib(out['rss_hello']['VmRSS'])}; "
        f"hub idle RSS: {mib(small['rss_idle']['VmRSS'])}"
    )
    return "\n".join(lines)


def _lat(values: dict[str, float]) -> list[str]:
    return [
        f"{values['median'] * 1000:.2f} ms",
        f"{values['p90'] * 1000:.2f} ms",
        f"{values['per_second']:,.0f}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--jobs", type=int, default=100_000, help="jobs in the largest feed (default 100,000)"
    )
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--hello-requests", type=int, default=500, help="timed hello-world and /healthz GETs")
    parser.add_argument("--feed-requests", type=int, default=30, help="timed GETs of the 1,000-job feed")
    parser.add_argument("--timeout", type=float, default=900, help="hard limit for the whole run, seconds")
    parser.add_argument("--profile", type=Path, help="py-spy the hub serving the largest feed; write it here")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.jobs <= 1_000_000:
        parser.error("--jobs must be between 1 and 1,000,000")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    logging.basicConfig(level=logging.WARNING)

    env = environment()
    watchdog = Watchdog(args.timeout).start()

    async def bounded() -> dict[str, Any]:
        async with asyncio.timeout(args.timeout - min(30.0, args.timeout / 10)):
            return await main_async(args, watchdog)

    try:
        out = asyncio.run(bounded())
    except TimeoutError:
        print(f"bench_feed: stopped at the {args.timeout:.0f} s limit", file=sys.stderr)
        return 3
    finally:
        watchdog.cancel()
    print(_report(out, env))
    if args.json:
        args.json.write_text(json.dumps({"environment": env, "results": out}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
