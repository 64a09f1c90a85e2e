"""The outbox's circuit breaker (issue 17): what an Appcast outage costs the inbox, and the drain after it.

Against a real ``appcast-hub serve`` process on SQLite, with ``bench_events``' fake Appcast (its own
process, switched to answer 503) and fake Lever (which confirms each hire, as the Lever adapter asks it
to). Each run does, for a hub *with* the breaker and then for one *without* it (``breaker_threshold`` out
of reach, ``max_attempts`` 1,000 so that nothing is dead-lettered), on a fresh database:

* **up**: ``--hires`` signed hire webhooks POSTed at full speed with Appcast up; the inbox's rate is the
  hires over the time from the first sent to the last one's delivery stored (the outbox delivering
  meanwhile, as in production);
* **drain, no outage**: those deliveries made due again at once (written into the database from outside:
  their state back to pending, due when created) with Appcast up; they go out under the same keys, so
  the fake counts them as re-sends: deliveries per second from the write to the last re-send;
* **outage**: Appcast answers 503 for ``--outage`` seconds; ``--hires`` more hires are POSTed at its
  start: the inbox's rate while Appcast is down (aim: at least half its rate when up), and the requests
  Appcast refused in the outage against the probe interval (aim: under one per interval once open);
* **recovery**: Appcast answers again; the drain runs from the recovery to the last new event arriving
  (the breaker's first, because it waits for a probe, and from its first delivery): aim, every delivery
  of the outage arrives exactly once (new keys: none repeated), none dead-lettered.

The issue's aim speaks of a 10-minute outage with 1,000 deliveries due; ``--outage 30`` scales it down
(the breaker's behaviour does not change with the length: one probe per interval, backing off to a cap).

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_breaker
    # options: --hires 1000  --outage 30  --probe-seconds 5  --concurrency 32  --timeout 900  --json FILE
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from benchmarks._common import Child, Watchdog, markdown_table, run_bounded, start_child, wait_healthy
from benchmarks.bench_events import ACCOUNT, Store, Tally, _config, _json, _send_hires, _until, seed
from hub.testing.peers import free_port

#: The breaker's settings in the run with it: the defaults but for the probe interval (``--probe-seconds``).
THRESHOLD = 5
MAX_ATTEMPTS = 12


def _breaker_config(path: Path, *, breaker: bool, probe_seconds: float) -> None:
    """``bench_events``' hub config, its ``[events]`` set for this run."""
    events = (
        f"max_attempts = {MAX_ATTEMPTS}\nbreaker_threshold = {THRESHOLD}\n"
        f"breaker_probe_seconds = {probe_seconds}\nbreaker_probe_cap_seconds = {probe_seconds * 6}\n"
        if breaker
        else "max_attempts = 1000\nbreaker_threshold = 1000000000\n"
    )
    text = path.read_text(encoding="utf-8")
    text = text.replace("max_attempts = 1000\nbreaker_threshold = 1000000000\n", events)
    path.write_text(text, encoding="utf-8")


async def _make_due_again(url: str) -> None:
    """Every delivered delivery pending again, due since it was created (SQLite, from outside the hub)."""

    def write() -> None:
        connection = sqlite3.connect(url.removeprefix("sqlite://"), timeout=30)
        try:
            with connection:
                connection.execute(
                    "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = created_at "
                    "WHERE state = 'delivered'"
                )
        finally:
            connection.close()

    await asyncio.to_thread(write)


async def bench_hub(breaker: bool, tmp: Path, watchdog: Watchdog, args: argparse.Namespace) -> dict[str, Any]:
    name = "breaker" if breaker else "no-breaker"
    folder = tmp / name
    folder.mkdir()
    url = f"sqlite://{folder / 'hub.sqlite3'}"
    children: list[Child] = []
    store: Store | None = None
    out: dict[str, Any] = {"breaker": breaker}
    try:
        appcast = await start_child(
            f"appcast-{name}", ["-m", "benchmarks.bench_events", "fake-appcast"], folder, watchdog
        )
        children.append(appcast)
        lever = await start_child(
            f"lever-{name}",
            ["-m", "benchmarks.serve_peer", "lever", "--jobs", "0", "--hire-on-lookup"],
            folder,
            watchdog,
        )
        children.append(lever)
        port = free_port()
        config = _config(folder, url, port, appcast.url, lever.url)
        _breaker_config(config, breaker=breaker, probe_seconds=args.probe_seconds)
        await seed(url, config)
        hub = await start_child(
            f"hub-{name}", ["-m", "hub.cli", "serve", "-c", str(config)], folder, watchdog, ready_line=False
        )
        children.append(hub)
        base = f"http://127.0.0.1:{port}"
        store = await Store(url).open()
        tally = Tally()
        async with aiohttp.ClientSession() as http:
            await wait_healthy(http, base, hub)

            async def stats() -> dict[str, Any]:
                return await _json(http, "GET", f"{appcast.url}/_bench/stats")

            async def stored(count: int) -> bool:
                return await store.scalar("SELECT count(*) FROM deliveries") >= count

            async def distinct(count: int) -> bool:
                return (await stats())["distinct"] >= count

            hires = args.hires
            # --- up -------------------------------------------------------------------------------------
            started = time.monotonic()
            await _send_hires(base, hub.pid, hires, tally, args)
            await _until(lambda: stored(hires), 300, "hires stored, Appcast up", every=0.05)
            out["inbox_up"] = hires / (time.monotonic() - started)
            await _until(lambda: distinct(hires), 300, "hires delivered, Appcast up")

            # --- drain, no outage -----------------------------------------------------------------------
            await _until(
                lambda: _all_delivered(store, hires), 60, "deliveries recorded delivered", every=0.05
            )
            received = (await stats())["received"]
            started = time.monotonic()
            await _make_due_again(url)
            await _until(lambda: _received(stats, received + hires), 300, "re-sends arrived", every=0.05)
            out["drain_no_outage"] = hires / (time.monotonic() - started)
            await _until(lambda: _all_delivered(store, hires), 60, "re-sends recorded delivered")
            duplicates_before = (await stats())["duplicates"]

            # --- outage ---------------------------------------------------------------------------------
            await _json(http, "POST", f"{appcast.url}/_bench/outage", json={"on": True})
            outage_started = time.monotonic()
            opened: dict[str, float] = {}

            async def note_opening() -> None:
                # The requests Appcast refuses once the breaker is open are what it bounds.
                await _until(lambda: _breaker_open(http, base), args.outage, "breaker open", every=0.05)
                opened.update(at=time.monotonic(), refused=(await stats())["refused_outage"])

            watch = asyncio.create_task(note_opening()) if breaker else None
            await _send_hires(base, hub.pid, hires, tally, args)
            await _until(lambda: stored(2 * hires), 600, "hires stored, Appcast down", every=0.05)
            out["inbox_down"] = hires / (time.monotonic() - outage_started)
            hold = args.outage - (time.monotonic() - outage_started)
            if hold > 0:
                await asyncio.sleep(hold)
            if watch is not None:
                await watch
            out["outage_seconds"] = time.monotonic() - outage_started
            out["refused"] = (await stats())["refused_outage"]
            since = opened.get("at", outage_started)
            out["open_seconds"] = time.monotonic() - since
            out["refused_while_open"] = out["refused"] - opened.get("refused", 0)
            out["probes"] = await _hub_metric(http, base, "appcast_hub_breaker_probes_total")
            out["states_before_recovery"] = await store.by_state("deliveries")
            out["max_attempts_before_recovery"] = await store.scalar(
                "SELECT max(attempts) FROM deliveries WHERE state = 'pending'"
            )

            # --- recovery -------------------------------------------------------------------------------
            recovered = (await _json(http, "POST", f"{appcast.url}/_bench/outage", json={"on": False}))["at"]
            await _until(lambda: distinct(2 * hires), 600, "outage backlog drained")
            arrivals = await _json(http, "GET", f"{appcast.url}/_bench/arrivals")
            await _until(lambda: _all_delivered(store, 2 * hires), 60, "backlog recorded delivered")
            after = await stats()
            mine = sorted(arrivals.values())[-hires:]  # the outage's keys arrived last
            out["first_after_recovery"] = mine[0] - recovered
            out["drain_from_recovery"] = hires / (mine[-1] - recovered)
            out["drain_from_first"] = hires / max(mine[-1] - mine[0], 1e-6)
            out["resent_in_outage_and_drain"] = after["duplicates"] - duplicates_before
            out["distinct"] = after["distinct"]
            out["states_after"] = await store.by_state("deliveries")
        print(f"{name}: {out}", file=sys.stderr)
    finally:
        if store is not None:
            await store.close()
        for child in reversed(children):
            await child.stop(watchdog)
    return out


async def _hub_metric(http: aiohttp.ClientSession, base: str, name: str) -> float:
    """The account's sample of ``name`` in the hub's ``/metrics`` (0 when absent)."""
    async with http.get(f"{base}/metrics") as response:
        text = await response.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("account") == ACCOUNT:
                return sample.value
    return 0.0


async def _breaker_open(http: aiohttp.ClientSession, base: str) -> bool:
    return await _hub_metric(http, base, "appcast_hub_breaker_state") == 2


async def _all_delivered(store: Store, count: int) -> bool:
    return await store.scalar("SELECT count(*) FROM deliveries WHERE state = 'delivered'") >= count


async def _received(stats: Any, count: int) -> bool:
    return (await stats())["received"] >= count


async def main_async(args: argparse.Namespace, watchdog: Watchdog) -> dict[str, Any]:
    out: dict[str, Any] = {"settings": {k: str(v) for k, v in vars(args).items() if k != "json"}, "runs": []}
    with tempfile.TemporaryDirectory(prefix="hub-bench-breaker-") as folder:
        for breaker in (True, False):
            out["runs"].append(await bench_hub(breaker, Path(folder), watchdog, args))
    return out


def _against(rate: float, base: float) -> str:
    return f"{rate:,.0f}/s ({rate / base:.0%})"


def _report(out: dict[str, Any], env: dict[str, Any]) -> str:
    probe = float(out["settings"]["probe_seconds"])
    rows = []
    for run in out["runs"]:
        rows.append(
            [
                "with the breaker" if run["breaker"] else "without",
                f"{run['inbox_up']:,.0f}/s",
                _against(run["inbox_down"], run["inbox_up"]),
                f"{run['refused']:,} in {run['outage_seconds']:.0f} s",
                f"{run['refused_while_open']:,} in {run['open_seconds']:.1f} s "
                f"({run['refused_while_open'] / (run['open_seconds'] / probe):.2f} per {probe:g} s), "
                f"{run['probes']:.0f} probes"
                if run["breaker"]
                else "(never opens)",
                f"{run['drain_no_outage']:,.0f}/s",
                f"{run['first_after_recovery']:.1f} s",
                _against(run["drain_from_recovery"], run["drain_no_outage"]),
                _against(run["drain_from_first"], run["drain_no_outage"]),
                f"{run['states_after']}, {run['resent_in_outage_and_drain']} re-sent",
            ]
        )
    headers = [
        "hub",
        "inbox, Appcast up",
        "inbox, Appcast down",
        "requests refused in the outage",
        "of them while open",
        "drain, no outage",
        "first after recovery",
        "drain from recovery",
        "drain from its first",
        "deliveries after",
    ]
    return (
        f"revision {env.get('revision')}, {out['settings']['hires']} hires, outage "
        f"{out['settings']['outage']} s, probe {probe:g} s\n\n" + markdown_table(headers, rows)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hires", type=int, default=1000, help="hires before and during the outage")
    parser.add_argument("--outage", type=float, default=30.0, help="seconds Appcast answers 503")
    parser.add_argument("--probe-seconds", type=float, default=5.0, help="the breaker's probe interval")
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive clients at full speed")
    parser.add_argument("--timeout", type=float, default=900, help="hard limit for the whole run, seconds")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    if not (100 <= args.hires <= 20_000 and 5 <= args.outage <= 600 and 0.5 <= args.probe_seconds <= 60):
        parser.error("--hires 100..20,000, --outage 5..600, --probe-seconds 0.5..60")
    if not (1 <= args.concurrency <= 256 and args.timeout > 0):
        parser.error("--concurrency 1..256, --timeout > 0")
    return run_bounded("bench_breaker", args, main_async, _report)


if __name__ == "__main__":
    sys.exit(main())
