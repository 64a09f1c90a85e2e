"""Fake peers for tests, and the hub itself on a socket: real aiohttp apps on loopback.

A fake ATS (or Appcast, :mod:`hub.testing.appcast`) is an :class:`aiohttp.web.Application` made with
:func:`peer_app`; :func:`running` serves it on 127.0.0.1 on a free port. :class:`Faults` injects the
failures real peers produce (5xx bursts, 429 with ``Retry-After``, slow answers, malformed bodies) through
one middleware every peer installs. :func:`serving_hub` serves the hub built from a config file, by its
own factory, and :func:`end_to_end_config` and :class:`HubClient` write that file and drive the hub, so
an adapter's tests can run sync → feed → signed webhook → delivery end to end.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from lxml import etree

if TYPE_CHECKING:
    from hub.normalised import WebhookRequest
    from hub.plugins import PluginHost
    from hub.testing.appcast import FakeAppcast

#: The admin API token of :func:`end_to_end_config`'s hub, which :class:`HubClient` sends.
ADMIN_TOKEN = "admin-token-for-tests"  # noqa: S105 -- a test hub's, made up

FAULTS = web.AppKey("faults", "Faults")


@dataclass
class Faults:
    """What a peer should get wrong next. Counters count down as requests arrive."""

    #: Answer the next N requests with 503.
    server_errors: int = 0
    #: Answer the next N requests with 429 and ``Retry-After: retry_after``.
    rate_limited: int = 0
    retry_after: float = 0
    #: Answer the next N requests 200 with a body that is not JSON.
    malformed: int = 0
    #: Answer the next N requests with 401.
    unauthorized: int = 0
    #: Seconds to wait before answering each request.
    delay: float = 0
    #: After this many requests, drop every connection unanswered (a peer dying mid-conversation).
    die_after: int | None = None
    #: Every request seen, as "METHOD path?query".
    requests: list[str] = field(default_factory=list)


@web.middleware
async def fault_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Apply the app's :class:`Faults` before the real handler answers."""
    faults = request.app[FAULTS]
    faults.requests.append(f"{request.method} {request.path_qs}")
    if faults.die_after is not None and len(faults.requests) > faults.die_after:
        request.transport.close()  # type: ignore[union-attr]
        raise ConnectionResetError("peer died")
    if faults.delay:
        await asyncio.sleep(faults.delay)
    if faults.unauthorized:
        faults.unauthorized -= 1
        return web.json_response({"error": "unauthorized"}, status=401)
    if faults.rate_limited:
        faults.rate_limited -= 1
        return web.json_response(
            {"error": "rate limited"},
            status=429,
            headers={"Retry-After": f"{faults.retry_after:g}"},
        )
    if faults.server_errors:
        faults.server_errors -= 1
        return web.Response(status=503, text="service unavailable")
    if faults.malformed:
        faults.malformed -= 1
        return web.Response(status=200, text="<html>not json", content_type="application/json")
    return await handler(request)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peer_app() -> web.Application:
    """A new peer application with fault injection installed; add routes and state to it."""
    app = web.Application(middlewares=[fault_middleware])
    app[FAULTS] = Faults()
    return app


@asynccontextmanager
async def running(app: web.Application, port: int = 0) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 for the life of the block (on ``port``, or a free one); yields its
    base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class FakePeer:
    """The base of a fake peer: an aiohttp :attr:`app` with fault injection (:attr:`faults`), served on
    loopback by :meth:`serving`, which sets :attr:`url`. Subclasses add their routes to :attr:`app`."""

    def __init__(self) -> None:
        self.app = peer_app()
        #: The base URL while served.
        self.url = ""

    @property
    def faults(self) -> Faults:
        """The failures to inject next, and every request seen."""
        return self.app[FAULTS]

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        """Serve the fake on loopback for the life of the block; sets and yields :attr:`url`."""
        async with running(self.app) as url:
            self.url = url
            yield url


@asynccontextmanager
async def serving_hub(config_file: Path, plugins: PluginHost | None = None) -> AsyncIterator[str]:
    """The hub built from ``config_file`` by its own factory, served on loopback; yields its base URL.

    ``plugins``: the plugins to run with (by default every installed one, as ``appcast-hub serve`` has).
    """
    from hub.app import create_app
    from hub.config import bind_plugins, load_config
    from hub.plugins import load_plugins

    plugins = plugins or load_plugins()
    config = bind_plugins(load_config(config_file), plugins)
    async with running(create_app(config, plugins)) as url:
        yield url


def end_to_end_config(
    database_url: str,
    adapter: str,
    options: Mapping[str, Any],
    appcast: FakeAppcast,
    *,
    account: str = "acme",
    account_extra: str = "",
    extra: str = "",
) -> str:
    """The config of a hub for an end-to-end test: one account on ``adapter`` (its ``options``) feeding
    every open job, its events sent to ``appcast`` as client ``client-42``, ENT ``ent-7``; the admin API on
    (:data:`ADMIN_TOKEN`), no scheduled sync (the test syncs), the outbox polled every 0.1 s.
    ``account_extra``: more TOML in the account's own table (``apply_key = "…"``); ``extra``: more TOML,
    appended."""
    # JSON's strings, numbers, booleans and lists are TOML's too.
    table = "".join(f"{name} = {json.dumps(value)}\n" for name, value in options.items())
    token = f"bearer_token = {json.dumps(appcast.token)}\n" if appcast.token else ""
    own = f"{account_extra}\n" if account_extra else ""
    return (
        f"[database]\nurl = {json.dumps(database_url)}\nmigrate_on_start = true\n"
        f'[admin]\napi_token = "{ADMIN_TOKEN}"\n[sync]\nscheduled = false\n[events]\npoll_seconds = 0.1\n'
        f'[accounts.{account}]\nadapter = "{adapter}"\ncompany = "Acme"\nfeed_policy = "all-open"\n{own}'
        f"[accounts.{account}.{adapter}]\n{table}"
        f'[accounts.{account}.appcast]\nclient_id = "client-42"\nent_id = "ent-7"\n'
        f"events_url = {json.dumps(appcast.events_url)}\n{token}{extra}"
    )


@dataclass
class HubClient:
    """A served hub (:func:`serving_hub`), driven as its users drive it: an admin over the admin API,
    Appcast fetching the feed, the ATS posting webhooks; each answer as ``(status, decoded JSON)``."""

    url: str
    http: aiohttp.ClientSession
    account: str = "acme"

    async def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """``method path`` on the admin API (``/api/…``), with the admin token."""
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with self.http.request(method, self.url + path, json=body, headers=headers) as answer:
            return answer.status, await answer.json()

    async def sync(self) -> tuple[int, Any]:
        """A sync of the account now: ``(200, what changed)``, or 502 with the ATS's failure."""
        return await self.admin("POST", f"/api/accounts/{self.account}/sync")

    async def feed(self) -> dict[str, Any]:
        """The account's feed as Appcast reads it: each ``<job>`` element by its ``<referencenumber>``."""
        async with self.http.get(f"{self.url}/feeds/{self.account}.xml") as answer:
            assert answer.status == 200, f"the feed answered {answer.status}"
            document = etree.fromstring(await answer.read())
        return {job.findtext("referencenumber"): job for job in document.iter("job")}

    async def post_webhook(self, request: WebhookRequest) -> tuple[int, Any]:
        """Post ``request`` (its headers and raw body, as the ATS sends it) to the account's webhook URL."""
        async with self.http.post(
            f"{self.url}/webhooks/{self.account}", data=request.body, headers=dict(request.headers)
        ) as answer:
            return answer.status, await answer.json()
