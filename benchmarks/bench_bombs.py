"""Compression bombs: does anything a client sends stall the hub's event loop?

What it measures, against a real ``appcast-hub serve`` process on 127.0.0.1 (SQLite, the demo account):

* **/healthz latency** (p50, p99, max) while nothing else happens (**idle**), and while **8 gzip bombs
  are in flight** (``--bombs``): each about 1 MB on the wire that inflates to 1 GiB, sent in parallel to a
  route that reads bodies (``POST /api/accounts/demo/jobs/enable``, with the admin token), a route that
  does not exist and a method a route does not take. Each bomb is answered (4xx) and sent again, for
  ``--seconds``, so bombs are always in flight;
* the **hub's CPU seconds** over each phase (``/proc``), which inflating a bomb would show at once.

The aim (issue 12): with 8 bombs in flight, /healthz p99 under 250 ms. Before the fix, aiohttp inflated
each refused bomb to its end while it drained the connection: 2.5 to 3 s of the event loop per bomb.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_bombs                  # 8 bombs, 20 s a phase
    # options: --bombs 8  --seconds 20  --timeout 300  --json FILE
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks._common import (
    Child,
    Watchdog,
    cpu_seconds,
    markdown_table,
    run_bounded,
    start_child,
    wait_healthy,
    write_hub_config,
)
from hub.testing.peers import free_port
from tests import rawhttp
from tests.conftest import SAMPLE_JOBS

ADMIN_TOKEN = "bench-admin-token"  # noqa: S105 - a throwaway hub on loopback
#: A route that reads its body (behind the admin token, so the body is read), one that does not exist,
#: and a method a route does not take.
TARGETS = (("POST", "/api/accounts/demo/jobs/enable"), ("POST", "/no/such/route"), ("PUT", "/healthz"))


def bomb() -> bytes:
    """About 1 MB that inflates to 1 GiB: 16 gzip members of 64 MiB of zeros."""
    return gzip.compress(bytes(64 * 2**20), compresslevel=9) * 16


async def probe(http: aiohttp.ClientSession, url: str, stop: asyncio.Event, pause: float) -> list[float]:
    """/healthz latencies, one request at a time with ``pause`` between, until ``stop``."""
    latencies = []
    while not stop.is_set():
        started = time.perf_counter()
        async with http.get(f"{url}/healthz") as answer:
            await answer.read()
            if answer.status != 200:
                raise RuntimeError(f"/healthz answered {answer.status}")
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(pause)
    return latencies


async def keep_bombing(url: str, data: bytes, stop: asyncio.Event, statuses: list[int]) -> None:
    while not stop.is_set():
        answer = await rawhttp.request(url, data, within=60)
        statuses.append(answer.status)


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


async def phase(
    http: aiohttp.ClientSession, url: str, hub: Child, seconds: float, bombs: list[bytes]
) -> dict[str, Any]:
    stop = asyncio.Event()
    statuses: list[int] = []
    cpu_before = cpu_seconds(hub.pid)
    prober = asyncio.create_task(probe(http, url, stop, 0.02))
    senders = [asyncio.create_task(keep_bombing(url, data, stop, statuses)) for data in bombs]
    await asyncio.sleep(seconds)
    stop.set()
    latencies = await prober
    await asyncio.gather(*senders)
    return {
        **summary(latencies),
        "hub_cpu_s": cpu_seconds(hub.pid) - cpu_before,
        "bombs_answered": len(statuses),
        "bomb_statuses": sorted(set(statuses)),
    }


async def main_async(args: argparse.Namespace, watchdog: Watchdog) -> dict[str, Any]:
    out: dict[str, Any] = {"settings": {"bombs": args.bombs, "seconds": args.seconds}}
    with tempfile.TemporaryDirectory(prefix="hub-bench-bombs-") as folder:
        tmp = Path(folder)
        port = free_port()
        tables = f"""
[admin]
api_token = "{ADMIN_TOKEN}"
[pixels]
spool_dir = "{tmp / "spool"}"
[accounts.demo]
adapter = "file"
company = "Northwind Health"
[accounts.demo.file]
path = "{SAMPLE_JOBS}"
"""
        config = write_hub_config(tmp, f"sqlite://{tmp / 'hub.sqlite3'}", tables, port=port)
        migrate = await start_child("migrate", ["-m", "hub.cli", "migrate", "-c", str(config)], tmp, watchdog,
                                    ready_line=False)  # fmt: skip
        await migrate.process.wait()
        hub = await start_child(
            "hub", ["-m", "hub.cli", "serve", "-c", str(config)], tmp, watchdog, ready_line=False
        )
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                await wait_healthy(http, url, hub)
                data = bomb()
                headers = [
                    ("Content-Encoding", "gzip"),
                    ("Content-Type", "application/json"),
                    ("Authorization", f"Bearer {ADMIN_TOKEN}"),
                ]
                requests = [rawhttp.build(method, path, headers, data) for method, path in TARGETS]
                bombs = [requests[n % len(requests)] for n in range(args.bombs)]
                print("idle phase…", file=sys.stderr)
                out["idle"] = await phase(http, url, hub, args.seconds, [])
                print(f"{args.bombs} bombs in flight…", file=sys.stderr)
                out["bombs"] = await phase(http, url, hub, args.seconds, bombs)
        finally:
            await hub.stop(watchdog)
    return out


def report(out: dict[str, Any], env: dict[str, Any]) -> str:
    rows = []
    for name in ("idle", "bombs"):
        r = out[name]
        latency = [f"{r[key]:.1f}" for key in ("p50_ms", "p99_ms", "max_ms")]
        statuses = ",".join(map(str, r["bomb_statuses"]))
        rows.append([name, r["requests"], *latency, f"{r['hub_cpu_s']:.2f}", r["bombs_answered"], statuses])
    headers = ["phase", "/healthz requests", "p50 ms", "p99 ms", "max ms", "hub CPU s", "bombs", "statuses"]
    table = markdown_table(headers, rows)
    ratio = out["bombs"]["p99_ms"] / out["idle"]["p99_ms"]
    return f"{table}\n\np99 with {out['settings']['bombs']} bombs in flight / idle p99: {ratio:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bombs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--json", type=Path)
    return run_bounded("bench_bombs", parser.parse_args(), main_async, report)


if __name__ == "__main__":
    sys.exit(main())
