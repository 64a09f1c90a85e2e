"""Slack's 3-second rule: time to acknowledge ``/appcast`` commands while the hub is busy elsewhere.

What it measures:

* **time to ack** of ``/appcast enable job <id>`` and ``/appcast jobs [word]``: from sending the signed
  slash-command request (form-encoded, signed with ``slack_sdk.signature`` as Slack signs it) to having
  the hub's HTTP answer, against a real ``appcast-hub serve`` process on 127.0.0.1. Slack gives up after
  3 s; the aim is p99 under 300 ms;
* **time to answer**: from sending the command to the lazy listener's answer arriving at the fake
  Slack's ``response_url`` (the user sees the result then);
* each in two phases: **idle**, then **under load**, with signed Lever webhooks (``candidateStageChange``,
  each unique: stored in the inbox, then parsed by the inbox worker) and pixel hits (``view.gif``) sent
  at fixed rates for the whole phase. Their achieved rates and latencies are reported too, so a
  slow ack cannot hide behind a load that did not happen.

Commands are sent one at a time with a pause between them (people type them; the question is latency
under other load, not command throughput), alternating the two commands; enable picks a random job.

Processes: the hub; a fake Lever (``benchmarks.serve_peer lever``) that the account syncs from; a fake
Slack (this module's ``fake-slack`` mode: ``tests.peers.slack`` plus arrival times); and this process as
the load generator. One account, ``feed_policy = opted-in``, Slack admin = the benchmark's user.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_slack                      # SQLite, 200 commands a phase
    .venv/bin/python -m benchmarks.bench_slack --database postgres --commands 400
    # options: --jobs 2000  --webhook-rate 50  --pixel-rate 200  --pause 0.05  --timeout 600  --json FILE

``--timeout`` (default 600 s) is a hard limit for the whole run: past it every process is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.signature import SignatureVerifier

from benchmarks._common import (
    Child,
    Postgres,
    Watchdog,
    markdown_table,
    run_bounded,
    serve_until_stopped,
    start_child,
    wait_healthy,
)
from hub.testing.peers import free_port
from tests.peers.lever import API_KEY, SITE, WEBHOOK_SECRET, lever_signature
from tests.peers.slack import BOT_TOKEN, SIGNING_SECRET

USER = "UBENCH001"
ADMIN_TOKEN = "bench-admin-token"  # noqa: S105 - a throwaway hub on loopback
#: Words for ``/appcast jobs``: none (the newest page) and a few that match some titles.
WORDS = ("", "engineer", "nurse", "account")


# --- the fake Slack child ---------------------------------------------------------------------------------


async def _serve_fake_slack() -> None:
    """The test-suite's fake Slack, recording when each response_url answer arrives (time.time())."""

    from aiohttp import web

    from tests.peers.slack import FakeSlack

    fake = FakeSlack()
    arrivals: dict[str, float] = {}

    @web.middleware
    async def arrival(request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
        if request.path.startswith("/response/"):
            arrivals.setdefault(request.path.removeprefix("/response/"), time.time())
        return await handler(request)

    async def report(request: web.Request) -> web.Response:
        return web.json_response(arrivals)

    fake.app.middlewares.append(arrival)
    fake.app.router.add_get("/_bench/arrivals", report)
    await serve_until_stopped(fake.app)


# --- requests -----------------------------------------------------------------------------------------


class Client:
    """Signed Slack commands, Lever webhooks and pixel hits against the hub, with their timings."""

    def __init__(self, http: aiohttp.ClientSession, hub: str, slack: str) -> None:
        self.http = http
        self.hub = hub
        self.slack = slack
        self.verifier = SignatureVerifier(SIGNING_SECRET)
        self.numbers = itertools.count(1)
        #: response key → (command, time.time() when sent)
        self.sent: dict[str, tuple[str, float]] = {}

    async def command(self, text: str) -> float:
        """Send ``/appcast text``; returns the seconds until the hub's HTTP answer (the ack)."""
        number = next(self.numbers)
        key = f"c{number}"
        form = {
            "token": "unused", "team_id": "T0BENCH01", "team_domain": "bench", "channel_id": "C0BENCH01",
            "channel_name": "bench", "user_id": USER, "user_name": "bench", "command": "/appcast",
            "text": text, "api_app_id": "A0BENCH01", "is_enterprise_install": "false",
            "response_url": f"{self.slack}/response/{key}", "trigger_id": f"{number}.1.{uuid.uuid4().hex}",
        }  # fmt: skip
        body = urllib.parse.urlencode(form).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": self.verifier.generate_signature(timestamp=stamp, body=body) or "",
        }
        self.sent[key] = (text.split()[0], time.time())
        started = time.perf_counter()
        async with self.http.post(f"{self.hub}/slack/events", data=body, headers=headers) as response:
            await response.read()
            elapsed = time.perf_counter() - started
            if response.status != 200:
                raise RuntimeError(f"/appcast {text}: HTTP {response.status}")
        return elapsed

    async def webhook(self) -> tuple[int, float]:
        token, triggered = uuid.uuid4().hex, int(time.time() * 1000)
        body = json.dumps(
            {
                "event": "candidateStageChange",
                "triggeredAt": triggered,
                "token": token,
                "signature": lever_signature(WEBHOOK_SECRET, token, triggered),
                "data": {
                    "opportunityId": str(uuid.uuid4()),
                    "candidateId": str(uuid.uuid4()),
                    "fromStageId": "lead-new",
                    "toStageId": "applicant-new",
                },
            }
        ).encode()
        started = time.perf_counter()
        async with self.http.post(
            f"{self.hub}/webhooks/acme", data=body, headers={"Content-Type": "application/json"}
        ) as response:
            await response.read()
            return response.status, time.perf_counter() - started

    async def pixel(self, job: str) -> tuple[int, float]:
        started = time.perf_counter()
        async with self.http.get(f"{self.hub}/px/acme/view.gif", params={"job": job}) as response:
            await response.read()
            return response.status, time.perf_counter() - started


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    return {"n": len(ordered), "p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": ordered[-1],
            "mean": statistics.fmean(ordered)}  # fmt: skip


async def _paced(rate: float, stop: asyncio.Event, send: Callable[[], Awaitable[tuple[int, float]]]) -> dict:
    """Call ``send`` ``rate`` times a second until ``stop``; at most 64 in flight (beyond: counted late)."""
    results: list[tuple[int, float]] = []
    errors = 0
    in_flight: set[asyncio.Task[None]] = set()
    slots = asyncio.Semaphore(64)

    async def one() -> None:
        nonlocal errors
        try:
            results.append(await send())
        except aiohttp.ClientError:
            errors += 1
        finally:
            slots.release()

    started = time.perf_counter()
    sent = 0
    while not stop.is_set():
        due = started + sent / rate
        if (delay := due - time.perf_counter()) > 0:
            try:
                await asyncio.wait_for(stop.wait(), delay)
                break
            except TimeoutError:
                pass
        await slots.acquire()
        task = asyncio.create_task(one())
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        sent += 1
    await asyncio.gather(*in_flight)
    seconds = time.perf_counter() - started
    statuses: dict[int, int] = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "sent": sent,
        "rate": sent / seconds,
        "statuses": statuses,
        "errors": errors,
        "latency": _percentiles([elapsed for _, elapsed in results]) if results else None,
    }


async def _phase(
    client: Client, args: argparse.Namespace, jobs: list[str], *, loaded: bool
) -> dict[str, Any]:
    stop = asyncio.Event()
    load: list[asyncio.Task[dict]] = []
    if loaded:
        load = [
            asyncio.create_task(_paced(args.webhook_rate, stop, client.webhook)),
            asyncio.create_task(_paced(args.pixel_rate, stop, lambda: client.pixel(random.choice(jobs)))),
        ]
        await asyncio.sleep(2.0)  # let the load reach its rate before measuring
    acks: dict[str, list[float]] = {"enable": [], "jobs": []}
    keys_before = set(client.sent)
    try:
        for number in range(args.commands):
            if number % 2 == 0:
                acks["enable"].append(await client.command(f"enable job {random.choice(jobs)}"))
            else:
                acks["jobs"].append(await client.command(f"jobs acme {random.choice(WORDS)}".strip()))
            await asyncio.sleep(args.pause)
    finally:
        stop.set()
        background = [await task for task in load]
    keys = [key for key in client.sent if key not in keys_before]
    answers = await _answers(client, keys)
    result: dict[str, Any] = {"ack": {name: _percentiles(values) for name, values in acks.items()}}
    result["answer"] = {name: _percentiles(values) for name, values in answers.items() if values}
    result["unanswered"] = len(keys) - sum(len(values) for values in answers.values())
    if loaded:
        result["webhooks"], result["pixels"] = background
    return result


async def _answers(client: Client, keys: list[str]) -> dict[str, list[float]]:
    """Seconds from sending each command to its answer's arrival at the fake Slack (waits up to 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        async with client.http.get(f"{client.slack}/_bench/arrivals") as response:
            arrivals = await response.json()
        if all(key in arrivals for key in keys) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    answers: dict[str, list[float]] = {"enable": [], "jobs": []}
    for key in keys:
        if key in arrivals:
            name, sent = client.sent[key]
            answers[name].append(arrivals[key] - sent)
    return answers


# --- the run ------------------------------------------------------------------------------------------


def _config(folder: Path, database_url: str, port: int, lever: str, slack: str) -> Path:
    path = folder / "config.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
[database]
url = "{database_url}"
migrate_on_start = true
[logging]
level = "WARNING"
[admin]
api_token = "{ADMIN_TOKEN}"
[sync]
scheduled = false
[pixels]
spool_dir = "{folder / "spool"}"
[slack]
enabled = true
bot_token = "{BOT_TOKEN}"
signing_secret = "{SIGNING_SECRET}"
api_base_url = "{slack}/api/"
admins = ["{USER}"]
[accounts.acme]
adapter = "lever"
company = "Acme"
feed_policy = "opted-in"
[accounts.acme.lever]
site = "{SITE}"
api_key = "{API_KEY}"
base_url = "{lever}"
webhook_tokens = ["{WEBHOOK_SECRET}"]
rate_per_second = 1000.0
page_size = 100
""",
        encoding="utf-8",
    )
    return path


async def main_async(args: argparse.Namespace, watchdog: Watchdog) -> dict[str, Any]:
    out: dict[str, Any] = {"database": args.database, "settings": {k: v for k, v in vars(args).items() if
                                                                    k not in ("json",)}}  # fmt: skip
    children: list[Child] = []
    pg = None
    with tempfile.TemporaryDirectory(prefix="hub-bench-slack-") as folder:
        tmp = Path(folder)
        try:
            lever = await start_child(
                "lever", ["-m", "benchmarks.serve_peer", "lever", "--jobs", str(args.jobs)], tmp, watchdog
            )
            children.append(lever)
            slack = await start_child("slack", ["-m", "benchmarks.bench_slack", "fake-slack"], tmp, watchdog)
            children.append(slack)
            if args.database == "postgres":
                pg = await asyncio.to_thread(Postgres(watchdog).start)
                database_url = await pg.new_database("bench_slack")
            else:
                database_url = f"sqlite://{tmp / 'hub.sqlite3'}"
            port = free_port()
            config = _config(tmp, database_url, port, lever.url, slack.url)
            hub = await start_child(
                "hub", ["-m", "hub.cli", "serve", "-c", str(config)], tmp, watchdog, ready_line=False
            )
            children.append(hub)
            url = f"http://127.0.0.1:{port}"
            connector = aiohttp.TCPConnector(limit=200)
            async with aiohttp.ClientSession(connector=connector) as http:
                await wait_healthy(http, url, hub)
                auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
                async with http.post(f"{url}/api/accounts/acme/sync", headers=auth) as response:
                    synced = await response.json()
                    if response.status != 200:
                        raise RuntimeError(f"sync failed: {synced}")
                out["synced"] = synced["summary"]
                async with http.get(f"{url}/api/accounts/acme/jobs?status=open&limit=500", headers=auth) as r:
                    jobs = [job["ats_id"] for job in (await r.json())["jobs"]]
                client = Client(http, url, slack.url)
                for _ in range(10):  # warm-up: Bolt's one auth.test, first queries, connection pool
                    await client.command("jobs acme")
                client.sent.clear()
                print("idle phase…", file=sys.stderr)
                out["idle"] = await _phase(client, args, jobs, loaded=False)
                print("loaded phase…", file=sys.stderr)
                out["loaded"] = await _phase(client, args, jobs, loaded=True)
        finally:
            for child in reversed(children):
                await child.stop(watchdog)
            if pg is not None:
                await asyncio.to_thread(pg.stop)
    return out


def _ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def _report(out: dict[str, Any], env: dict[str, Any]) -> str:
    rows = []
    for phase in ("idle", "loaded"):
        for name, label in (("enable", "enable job <id>"), ("jobs", "jobs acme [word]")):
            ack, answer = out[phase]["ack"][name], out[phase]["answer"].get(name)
            answered = [_ms(answer["p50"]), _ms(answer["p99"])] if answer else ["n/a", "n/a"]
            rows.append(
                [phase, f"`/appcast {label}`", ack["n"], *(_ms(ack[p]) for p in ("p50", "p90", "p99", "max")),
                 *answered]
            )  # fmt: skip
    table = markdown_table(
        ["phase", "command", "n", "ack p50", "ack p90", "ack p99", "ack max", "answer p50", "answer p99"],
        rows,
    )
    load_rows = []
    for kind in ("webhooks", "pixels"):
        load = out["loaded"][kind]
        latency = load["latency"] or {}
        load_rows.append(
            [
                kind, f"{load['rate']:.0f}/s", load["sent"], json.dumps(load["statuses"]), load["errors"],
                _ms(latency.get("p50", 0)), _ms(latency.get("p99", 0)),
            ]
        )  # fmt: skip
    background = markdown_table(["load", "achieved", "sent", "statuses", "errors", "p50", "p99"], load_rows)
    unanswered = out["idle"]["unanswered"] + out["loaded"]["unanswered"]
    return "\n".join(
        [
            f"database {out['database']}; {out['synced']}; {env}",
            "",
            table,
            "",
            background,
            "",
            f"- commands left unanswered (no response_url post within 30 s): {unanswered}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "mode", nargs="?", choices=("run", "fake-slack"), default="run", help=argparse.SUPPRESS
    )
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--jobs", type=int, default=2000, help="postings the fake Lever holds (default 2,000)"
    )
    parser.add_argument("--commands", type=int, default=200, help="commands timed per phase (default 200)")
    parser.add_argument("--pause", type=float, default=0.05, help="seconds between two commands")
    parser.add_argument("--webhook-rate", type=float, default=50.0, help="Lever webhooks per second")
    parser.add_argument("--pixel-rate", type=float, default=200.0, help="pixel hits per second")
    parser.add_argument("--timeout", type=float, default=600, help="hard limit for the whole run, seconds")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    if args.mode == "fake-slack":
        asyncio.run(_serve_fake_slack())
        return 0
    if not (2 <= args.commands <= 10_000 and 1 <= args.jobs <= 100_000 and args.timeout > 0):
        parser.error("--commands 2..10,000, --jobs 1..100,000, --timeout > 0")
    if args.webhook_rate <= 0 or args.pixel_rate <= 0 or args.pause < 0:
        parser.error("rates must be positive, --pause not negative")
    return run_bounded("bench_slack", args, main_async, _report)


if __name__ == "__main__":
    sys.exit(main())
