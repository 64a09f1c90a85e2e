"""Serve one fake peer on loopback in its own process, for the benchmarks (not a benchmark itself).

    .venv/bin/python -m benchmarks.serve_peer lever --jobs 100000 --port 0
    .venv/bin/python -m benchmarks.serve_peer lever --jobs 0 --hire-on-lookup
    .venv/bin/python -m benchmarks.serve_peer pinpoint --jobs 100000
    .venv/bin/python -m benchmarks.serve_peer hello

``lever`` and ``pinpoint`` are the test-suite's fakes (:mod:`tests.peers`), which generate their
postings lazily from an index; ``hello`` is a one-route aiohttp app answering ``Hello, world`` (to GET,
and to POST after reading the body), the yardstick the feed and events benchmarks compare the hub
against. The process prints ``READY <base URL>`` once it listens on 127.0.0.1 and serves until
SIGTERM/SIGINT. Running the peer in its own process keeps its CPU time off the event loop being
measured (the machine has two cores: one for the peer, one for the hub).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from aiohttp import web

from benchmarks._common import serve_until_stopped


def _hello_app() -> web.Application:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="Hello, world")

    async def hello_post(request: web.Request) -> web.Response:
        await request.read()  # the body is read, as a webhook handler must, and dropped
        return web.Response(text="Hello, world")

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_post("/", hello_post)
    return app


def _app(kind: str, jobs: int, hire_on_lookup: bool) -> web.Application:
    if kind == "hello":
        return _hello_app()
    if kind == "lever":
        from tests.peers.lever import FakeLever

        return FakeLever(count=jobs, hire_on_lookup=hire_on_lookup).app
    from tests.peers.pinpoint import FakePinpoint

    fake = FakePinpoint(jobs=jobs)
    return fake.app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("kind", choices=("lever", "pinpoint", "hello"))
    parser.add_argument("--jobs", type=int, default=100_000, help="postings the fake ATS holds")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free one)")
    parser.add_argument(
        "--hire-on-lookup",
        action="store_true",
        help="lever: an opportunity id <anything>@<posting> is a hire when first looked up",
    )
    args = parser.parse_args(argv)
    asyncio.run(serve_until_stopped(_app(args.kind, args.jobs, args.hire_on_lookup), args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
