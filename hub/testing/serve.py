"""Serve a fake peer on loopback until interrupted, to run an adapter inside a real hub by hand.

::

    python -m hub.testing.serve tests.fake_acmeats:FakeAcmeATS --port 9000
    python -m hub.testing.serve hub.testing.appcast:FakeAppcast --port 9001

``MODULE:FACTORY`` names a callable (usually the fake's class) that takes no arguments and returns an
object with an aiohttp ``app``, as every fake of the kit has; the current directory is importable, so a
package's own ``tests/fake_*.py`` can be named. The fake's ``url`` is set before it serves. Only
127.0.0.1 is served: a fake is for tests and trials, never for a network.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from hub.testing.peers import running


def load_fake(spec: str) -> Any:
    """The object ``MODULE:FACTORY`` builds; SystemExit naming the problem when it cannot."""
    module_name, _, factory_name = spec.partition(":")
    if not module_name or not factory_name:
        raise SystemExit(f"serve: {spec!r} is not MODULE:FACTORY")
    sys.path.insert(0, str(Path.cwd()))
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
    except (ImportError, AttributeError) as error:
        raise SystemExit(f"serve: cannot load {spec}: {error}") from None
    fake = factory()
    if not isinstance(getattr(fake, "app", None), web.Application):
        raise SystemExit(f"serve: {spec}() has no aiohttp app attribute")
    return fake


async def serve(fake: Any, port: int) -> None:
    """Serve ``fake.app`` on ``port`` until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running(fake.app, port) as url:
        with contextlib.suppress(AttributeError):  # a fake without ``url`` does not need it
            fake.url = url
        print(f"serving {type(fake).__name__} at {url} (Ctrl-C stops)", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hub.testing.serve", description=__doc__.splitlines()[0])
    parser.add_argument("fake", help="MODULE:FACTORY, e.g. tests.fake_acmeats:FakeAcmeATS")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    asyncio.run(serve(load_fake(args.fake), args.port))


if __name__ == "__main__":
    main()
