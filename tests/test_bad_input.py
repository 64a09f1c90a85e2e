"""Bad input on every public endpoint: a 4xx naming the problem, the hub stays up, nothing is stored.

One hub per database serves the whole module (a fake Lever behind it, synced once): a Lever account with a
feed token, webhook tokens and an apply key, a Pinpoint account whose webhooks are signed over the body,
and a file account without webhooks. Every check runs inside :func:`unchanged`, which compares what the
database holds before and after (pixel hits flushed first) and asks ``/healthz`` at the end.

Requests no client library sends (CR/LF in headers, bytes that are not UTF-8, lying lengths, slow
senders) go over a bare socket (:mod:`tests.rawhttp`). A malformed HTTP message is refused by aiohttp's
parser before any of the hub's code runs: those answers are 4xx but plain text, and are only checked to
be 4xx (and the hub to be up after).

When the hub has its Slack bot (``hub.slack``), ``POST /slack/events`` and the ``/appcast`` grammar are
covered too, against the fake Slack of :mod:`tests.peers.slack`.

The last test runs the hub as a process with every secret from the environment, and greps its log and
every answer for them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import hashlib
import hmac
import importlib.util
import json
import logging
import random
import re
import time
import zlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from lxml import html as lxml_html
from multidict import CIMultiDictProxy
from tortoise import connections
from yarl import URL

from hub import models
from hub.appkeys import PIXELS
from hub.normalised import FUNNEL_EVENTS, xml_safe
from hub.pixels import UNKNOWN_JOB
from hub.signatures import sign
from hub.testing.appcast import FakeAppcast
from hub.testing.peers import running
from hub.views.apply import Unprocessable, parse_application
from plugins.lever import const as lever_const
from tests import rawhttp
from tests.conftest import SAMPLE_JOBS, free_port, hub_process, new_postgres_database, write_config
from tests.peers.lever import STAGES, WEBHOOK_SECRET, FakeLever
from tests.strategies import hostile_text

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: The Slack bot is tested when the hub has one (``hub.slack``, with the fake Slack of tests.peers.slack).
HAS_SLACK = (
    importlib.util.find_spec("hub.slack") is not None
    and importlib.util.find_spec("tests.peers.slack") is not None
)
needs_slack = pytest.mark.skipif(not HAS_SLACK, reason="this hub has no Slack bot (hub.slack)")
SLACK_ADMIN = "UADMIN001"
SLACK_MEMBER = "UMEMBER01"

ADMIN_TOKEN = "admin-token-bad-input-7f3a91"
FEED_TOKEN = "feed-token-bad-input-2c8e44"
APPLY_KEY = "apply-key-bad-input-9b1d07"
PINPOINT_SECRET = "pinpoint-webhook-secret-5e6f10"
MAX_BODY = 16_384
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
APPLY = {"Authorization": f"Bearer {APPLY_KEY}"}
INTERVIEW_STAGE = STAGES[4]["id"]

#: Bounded property runs: enough to find the classes of input that break, quick enough for CI.
FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- the hub under attack ----------------------------------------------------------------------------


def _slack_table(api_base_url: str) -> str:
    from tests.peers.slack import BOT_TOKEN, SIGNING_SECRET

    return f"""
[slack]
enabled = true
bot_token = "{BOT_TOKEN}"
signing_secret = "{SIGNING_SECRET}"
api_base_url = "{api_base_url}"
admins = ["{SLACK_ADMIN}"]
"""


def _config(
    database_url: str, folder: Path, lever: FakeLever, appcast: FakeAppcast, slack_url: str | None
) -> str:
    return f"""{_slack_table(slack_url) if slack_url else ""}
[server]
max_body_bytes = {MAX_BODY}
[database]
url = "{database_url}"
migrate_on_start = true
[admin]
api_token = "{ADMIN_TOKEN}"
[sync]
scheduled = false
[events]
poll_seconds = 0.2
[pixels]
spool_dir = "{folder / "spool"}"
flush_seconds = 3600
[accounts.acme]
adapter = "lever"
company = "Acme"
feed_policy = "all-open"
feed_token = "{FEED_TOKEN}"
apply_key = "{APPLY_KEY}"
[accounts.acme.stages]
"{INTERVIEW_STAGE}" = "interview"
[accounts.acme.lever]
site = "{lever.site}"
api_key = "{lever.api_key}"
base_url = "{lever.url}"
webhook_tokens = ["{WEBHOOK_SECRET}"]
rate_per_second = 1000.0
[accounts.acme.appcast]
client_id = "client-42"
ent_id = "ent-7"
events_url = "{appcast.events_url}"
bearer_token = "appcast-bearer-bad-input"
pixel_slug = "acme"
pixel_id = "1234"
[accounts.pin]
adapter = "pinpoint"
company = "Pin"
[accounts.pin.pinpoint]
subdomain = "pin"
api_key = "pinpoint-api-key-bad-input"
base_url = "http://127.0.0.1:9"
webhook_secret = "{PINPOINT_SECRET}"
[accounts.demo]
adapter = "file"
company = "Northwind Health"
feed_policy = "all-open"
[accounts.demo.file]
path = "{SAMPLE_JOBS}"
"""


@dataclass
class Answer:
    """An answer read in full."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Hub:
    url: str
    app: web.Application
    lever: FakeLever
    http: aiohttp.ClientSession
    database: str
    #: Open Lever postings whose application form Appcast Apply can fill (no questions).
    plain_job: str
    #: The fake Slack the bot answers (a tests.peers.slack.FakeSlack), when the hub has a bot.
    slack: Any = None
    appcast: FakeAppcast | None = None

    async def send(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
        json_body: Any = None,
    ) -> Answer:
        """One request; ``path`` is sent exactly as written (percent-escapes are not touched)."""
        body = json.dumps(json_body).encode() if json_body is not None else data
        async with self.http.request(
            method, URL(self.url + path, encoded=True), headers=headers, data=body
        ) as response:
            return Answer(response.status, response.headers, await response.read())

    async def raw(self, data: bytes, within: float = 10.0) -> rawhttp.RawResponse:
        return await rawhttp.request(self.url, data, within=within)


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
async def hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hub]:
    from hub.app import create_app
    from hub.config import bind_plugins, load_config
    from hub.plugins import load_plugins

    folder = tmp_path_factory.mktemp(f"bad-input-{request.param}")
    if request.param == "sqlite":
        database_url = f"sqlite://{folder / 'hub.sqlite3'}"
    else:
        database_url = await new_postgres_database(request.getfixturevalue("postgres_server"))
    lever, appcast = FakeLever(count=21), FakeAppcast(token="appcast-bearer-bad-input")
    async with contextlib.AsyncExitStack() as stack:
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        patch.setattr(lever_const, "BACKOFF_BASE_SECONDS", 0.001)
        await stack.enter_async_context(lever.serving())
        await stack.enter_async_context(appcast.serving())
        slack = None
        if HAS_SLACK:
            from tests.peers.slack import FakeSlack

            slack = FakeSlack()
            await stack.enter_async_context(slack.serving())
        slack_url = slack.api_base_url if slack else None
        config_file = write_config(folder, _config(database_url, folder, lever, appcast, slack_url))
        plugins = load_plugins()
        app = create_app(bind_plugins(load_config(config_file), plugins), plugins)
        url = await stack.enter_async_context(running(app))
        http = await stack.enter_async_context(aiohttp.ClientSession())
        hub = Hub(
            url, app, lever, http, request.param, sorted(lever.postings_asking("plain"))[0], slack, appcast
        )
        for account in ("acme", "demo"):
            answer = await hub.send("POST", f"/api/accounts/{account}/sync", headers=ADMIN)
            assert answer.status == 200, answer.text
        yield hub


# --- what "refused and nothing changed" means ------------------------------------------------------------


async def stored_state(hub: Hub) -> dict[str, Any]:
    """Everything a refused request could have changed: row counts, switches, feed versions, counts."""
    await hub.app[PIXELS].flush()  # hits a pixel answer accepted are counted now, not later
    state: dict[str, Any] = {
        model.__name__: await model.all().count()
        for model in (
            models.Account, models.Job, models.Event, models.Delivery, models.WebhookReceipt,
            models.AuditEntry, models.ApplyRequest, models.StageMapping, models.PixelBatch,
            models.PixelCount,
        )
    }  # fmt: skip
    state["accounts"] = sorted(
        await models.Account.all().values_list(
            "name", "enabled_override", "feed_policy_override", "feed_version"
        )
    )
    state["switches"] = sorted(await models.Job.all().values_list("ats_id", "appcast", "is_open"))
    state["pixels"] = sorted(await models.PixelCount.all().values_list("ats_job_id", "views", "applies"))
    return state


async def assert_up(hub: Hub) -> None:
    answer = await hub.send("GET", "/healthz")
    assert answer.status == 200, answer.text
    assert json.loads(answer.body)["status"] == "ok"


@contextlib.asynccontextmanager
async def unchanged(hub: Hub, *, besides: tuple[str, ...] = ()) -> AsyncIterator[None]:
    """The block may send anything: afterwards nothing stored differs and the hub answers /healthz.

    ``besides`` names parts of :func:`stored_state` the block may legitimately change.
    """
    before = await stored_state(hub)
    yield
    after = await stored_state(hub)
    for name in besides:
        del before[name], after[name]
    assert after == before, "a refused request changed what the hub stores"
    await assert_up(hub)


def refused(
    answer: Answer | rawhttp.RawResponse,
    status: int | Iterable[int] | None = None,
    mention: str | None = None,
    what: object = "",
) -> str:
    """Assert a 4xx whose JSON body is ``{"error": "..."}``; returns the message."""
    statuses = {status} if isinstance(status, int) else set(status or range(400, 500))
    body = answer.body
    assert answer.status in statuses, (what, answer.status, body[:300])
    content_type = (
        answer.headers.get("Content-Type") if isinstance(answer, Answer) else answer.header("content-type")
    )
    assert (content_type or "").startswith("application/json"), (what, content_type, body[:300])
    message = json.loads(body)["error"]
    assert isinstance(message, str), what
    assert message, what
    if mention is not None:
        assert mention in message, (what, message)
    return message


def refused_by_parser(answer: rawhttp.RawResponse, what: object = "") -> None:
    """aiohttp's HTTP parser refused the message before the hub saw it: any 4xx (plain text) will do."""
    assert 400 <= answer.status < 500, (what, answer.status, answer.body[:300])


# --- the endpoints ------------------------------------------------------------------------------------

#: Every route: its template, a concrete path, the methods it takes (GET takes HEAD too), whether it needs
#: the admin token. test_every_route_is_covered keeps this in step with the app's router.
ROUTES: list[tuple[str, str, set[str], bool]] = [
    ("/healthz", "/healthz", {"GET", "HEAD"}, False),
    ("/metrics", "/metrics", {"GET", "HEAD"}, False),
    ("/feeds/{account}.xml", "/feeds/demo.xml", {"GET", "HEAD"}, False),
    ("/webhooks/{account}", "/webhooks/acme", {"POST"}, False),
    ("/px/{account}/{kind}.gif", "/px/acme/view.gif?job=1", {"GET", "HEAD"}, False),
    ("/pixels/{account}/snippet", "/pixels/acme/snippet", {"GET", "HEAD"}, False),
    ("/apply/{account}/{job}", "/apply/acme/some-job", {"POST"}, False),
    ("/slack/events", "/slack/events", {"POST"}, False),
    ("/api/openapi.json", "/api/openapi.json", {"GET", "HEAD"}, False),
    ("/api/accounts", "/api/accounts", {"GET", "HEAD"}, True),
    ("/api/accounts/{account}", "/api/accounts/acme", {"GET", "HEAD"}, True),
    ("/api/accounts/{account}/jobs", "/api/accounts/acme/jobs", {"GET", "HEAD"}, True),
    ("/api/accounts/{account}/jobs/enable", "/api/accounts/acme/jobs/enable", {"POST"}, True),
    ("/api/accounts/{account}/jobs/disable", "/api/accounts/acme/jobs/disable", {"POST"}, True),
    ("/api/accounts/{account}/sync", "/api/accounts/acme/sync", {"POST"}, True),
    ("/api/accounts/{account}/reconcile", "/api/accounts/acme/reconcile", {"POST"}, True),
    ("/api/accounts/{account}/integration", "/api/accounts/acme/integration", {"POST"}, True),
    ("/api/accounts/{account}/held", "/api/accounts/acme/held", {"GET", "HEAD"}, True),
    ("/api/accounts/{account}/held/confirm", "/api/accounts/acme/held/confirm", {"POST"}, True),
    ("/api/accounts/{account}/held/keep", "/api/accounts/acme/held/keep", {"POST"}, True),
    ("/api/accounts/{account}/stages", "/api/accounts/acme/stages", {"GET", "HEAD"}, True),
    ("/api/accounts/{account}/stages/{stage_id}", "/api/accounts/acme/stages/some-stage", {"PUT"}, True),
    ("/api/accounts/{account}/jobs/{job}/bid", "/api/accounts/acme/jobs/some-job/bid", {"PUT"}, True),
    ("/api/accounts/{account}/stats", "/api/accounts/acme/stats", {"GET", "HEAD"}, True),
    ("/api/deliveries", "/api/deliveries", {"GET", "HEAD"}, True),
    ("/api/deliveries/{delivery}/retry", "/api/deliveries/1/retry", {"POST"}, True),
    ("/api/audit", "/api/audit", {"GET", "HEAD"}, True),
    ("/api/incidents", "/api/incidents", {"GET", "HEAD"}, True),
    ("/api/accounts/{account}/feed/health", "/api/accounts/acme/feed/health", {"GET", "HEAD"}, True),
]
ADMIN_ROUTES = [(path, min(methods - {"HEAD"})) for _, path, methods, admin in ROUTES if admin]
#: Endpoints that read a JSON body, with the headers they need to get that far.
JSON_BODIES: list[tuple[str, str, dict[str, str]]] = [
    ("POST", "/webhooks/acme", {}),
    ("POST", "/apply/acme/{job}", APPLY),
    ("POST", "/api/accounts/acme/jobs/enable", ADMIN),
    ("POST", "/api/accounts/acme/jobs/disable", ADMIN),
    ("POST", "/api/accounts/acme/integration", ADMIN),
    ("PUT", f"/api/accounts/acme/stages/{INTERVIEW_STAGE}", ADMIN),
]


def json_targets(hub: Hub) -> list[tuple[str, str, dict[str, str]]]:
    return [(method, path.format(job=hub.plain_job), headers) for method, path, headers in JSON_BODIES]


# --- methods ------------------------------------------------------------------------------------------


async def test_every_route_is_covered(hub: Hub) -> None:
    """A route added to the hub without a line in ROUTES would escape this suite."""
    served = {
        (resource.canonical, route.method)
        for resource in hub.app.router.resources()
        for route in resource
        if route.method != "HEAD"
    }
    listed = {(template, method) for template, _, methods, _ in ROUTES for method in methods - {"HEAD"}}
    if not HAS_SLACK:
        listed.discard(("/slack/events", "POST"))
    assert served == listed


async def test_wrong_methods_are_405_naming_the_allowed_ones(hub: Hub) -> None:
    async with unchanged(hub):
        for _, path, allowed, admin in ROUTES:
            if path == "/slack/events" and not HAS_SLACK:
                continue
            for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
                if method in allowed:
                    continue
                answer = await hub.send(method, path, headers=ADMIN if admin else None, data=b"{}")
                if method == "HEAD":
                    assert answer.status == 405, (method, path)
                else:
                    refused(answer, 405, "Method Not Allowed", (method, path))
                assert set(answer.headers["Allow"].split(",")) <= {"GET", "HEAD", "POST", "PUT"}, path


@pytest.mark.parametrize(
    "method", [b"TRACE", b"CONNECT", b"BREW", b"get", b"G\x00T", b"PROPFIND", b"GET\tX", b"X" * 5000]
)
async def test_unknown_and_malformed_methods(hub: Hub, method: bytes) -> None:
    async with unchanged(hub):
        for path in (b"/healthz", b"/webhooks/acme", b"/api/accounts"):
            answer = await hub.raw(rawhttp.build(method, path, ADMIN.items(), b"{}"))
            assert 400 <= answer.status < 500, (method, path, answer.status, answer.body[:200])


async def test_made_up_methods_cannot_grow_the_metrics(hub: Hub) -> None:
    """aiohttp takes any token as a method: each used to become a metric series of its own, kept forever."""
    from hub.metrics import HTTP_REQUESTS

    def series() -> int:
        return sum(len(metric.samples) for metric in HTTP_REQUESTS.collect())

    await hub.raw(rawhttp.build("BREW0", "/healthz"))  # the "other" series, made once
    before = series()
    for n in range(200):
        answer = await hub.raw(rawhttp.build(f"BREW{n}", "/no-such-route"))
        assert 400 <= answer.status < 500
    assert series() - before <= 2  # at most the unmatched route's "other" series, once per status


# --- credentials ----------------------------------------------------------------------------------------

BAD_ADMIN_CREDENTIALS = [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Bearer wrong",
    f"Basic {ADMIN_TOKEN}",
    f"Basic {base64.b64encode(f'admin:{ADMIN_TOKEN}'.encode()).decode()}",
    f"Bearer {ADMIN_TOKEN}x",
    f"Bearer {ADMIN_TOKEN[:-1]}",
    f"Bearer {ADMIN_TOKEN.upper()}",
    ADMIN_TOKEN,
    f"Token {ADMIN_TOKEN}",
    f"Bearer {FEED_TOKEN}",
    f"Bearer {APPLY_KEY}",
    f"Bearer {ADMIN_TOKEN} {ADMIN_TOKEN}",
]


async def test_admin_api_refuses_missing_or_wrong_tokens_on_every_route(hub: Hub) -> None:
    async with unchanged(hub):
        for path, method in ADMIN_ROUTES:
            for credential in BAD_ADMIN_CREDENTIALS:
                headers = {} if credential is None else {"Authorization": credential}
                answer = await hub.send(method, path, headers=headers, json_body={"ids": ["x"]})
                if method == "HEAD":
                    assert answer.status == 401, (path, credential)
                else:
                    refused(answer, 401, "missing or wrong bearer token", (method, path, credential))
                assert answer.headers["WWW-Authenticate"] == "Bearer"
                assert ADMIN_TOKEN not in answer.text


async def test_apply_refuses_missing_or_wrong_keys(hub: Hub) -> None:
    application = {"name": "Ada Lovelace", "email": "ada@example.com"}
    bad = [c.replace(ADMIN_TOKEN, APPLY_KEY) if c else c for c in BAD_ADMIN_CREDENTIALS]
    bad = [c for c in bad if c != f"Bearer {APPLY_KEY}"] + [f"Bearer {ADMIN_TOKEN}"]
    async with unchanged(hub):
        for credential in bad:
            headers = {"Idempotency-Key": "k-1"} | (
                {} if credential is None else {"Authorization": credential}
            )
            for job in (hub.plain_job, "no-such-job"):
                answer = await hub.send("POST", f"/apply/acme/{job}", headers=headers, json_body=application)
                refused(answer, 401, "missing or wrong apply key", credential)
                assert answer.headers["WWW-Authenticate"] == "Bearer"
                assert APPLY_KEY not in answer.text
        # An account without an apply key takes no applications at all, whatever is sent.
        for account in ("demo", "pin"):
            answer = await hub.send("POST", f"/apply/{account}/1", headers=APPLY, json_body=application)
            refused(answer, 404, "no apply_key")
    assert hub.lever.applications == []


@pytest.mark.parametrize(
    "value",
    [
        b"Bearer \xff\xfe",
        b"Bearer \xc3\xa9\xc3\xa9",
        b"Bearer " + ADMIN_TOKEN.encode() + b"\xff",
        b"Bearer " + APPLY_KEY.encode() + b"\x80",
        b"\xff " + ADMIN_TOKEN.encode(),
        b"Bearer \xed\xa0\x80",
        b"Bearer " + b"A" * 8000,
    ],
)
async def test_credentials_that_are_not_utf8_are_401(hub: Hub, value: bytes) -> None:
    async with unchanged(hub):
        for method, path in (
            ("GET", "/api/accounts"),
            ("POST", "/api/accounts/acme/jobs/enable"),
            ("POST", f"/apply/acme/{hub.plain_job}"),
        ):
            answer = await hub.raw(
                rawhttp.build(method, path, [("Authorization", value), ("Content-Type", "application/json")],
                              b'{"ids": ["1"]}')
            )  # fmt: skip
            refused(answer, 401, what=(path, value))


# --- bodies: size, encoding, nesting ----------------------------------------------------------------------


async def test_bodies_over_max_body_bytes_are_413(hub: Hub) -> None:
    too_big = b'{"ids": ["' + b"x" * MAX_BODY + b'"]}'
    async with unchanged(hub):
        for method, path, headers in [*json_targets(hub), ("POST", "/webhooks/pin", {})]:
            answer = await hub.send(method, path, headers=headers, data=too_big)
            refused(answer, 413, "request body too large", path)
            if path.startswith("/apply/"):
                answer = await hub.send(
                    method, path, headers={**headers, "Idempotency-Key": "big"}, data=too_big
                )
                refused(answer, 413, "request body too large", path)
        # Just at the limit is read (and then refused for what it is, not for its size).
        at_limit = b" " * (MAX_BODY - 2) + b"{}"
        answer = await hub.send("POST", "/api/accounts/acme/jobs/enable", headers=ADMIN, data=at_limit)
        refused(answer, 400, '"ids" must be')


async def test_chunked_lying_and_compressed_bodies_are_413(hub: Hub) -> None:
    big = b"[" + b"0," * MAX_BODY + b"0]"
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(big[i : i + 1000]), big[i : i + 1000]) for i in range(0, len(big), 1000)
    )
    bomb = gzip.compress(b" " * (MAX_BODY * 64))
    assert len(bomb) < MAX_BODY
    async with unchanged(hub):
        for method, path, headers in json_targets(hub):
            base = [*headers.items(), ("Content-Type", "application/json")]
            cases = {
                "chunked": rawhttp.build(
                    method, path, [*base, ("Transfer-Encoding", "chunked")], chunked + b"0\r\n\r\n"
                ),
                "lying length": rawhttp.build(method, path, [*base, ("Content-Length", "999999999999")], big),
                "gzip bomb": rawhttp.build(method, path, [*base, ("Content-Encoding", "gzip")], bomb),
            }  # fmt: skip
            for name, data in cases.items():
                refused(await hub.raw(data), 413, "request body too large", (name, path))


async def test_bodies_on_routes_that_read_none_are_ignored(hub: Hub) -> None:
    async with unchanged(hub):
        for path in ("/healthz", "/feeds/demo.xml", "/px/acme/view.gif", "/api/openapi.json"):
            answer = await hub.raw(rawhttp.build("GET", path, [], b"x" * (MAX_BODY * 4)))
            assert answer.status == 200, path


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", b"this is not gzip"),
        ("deflate", b"\x00\x01\x02 not deflate"),
        ("br", b"not brotli"),
        ("zstd", b"not zstd"),
        ("gzip, gzip", gzip.compress(b"[]")),
        ("x-unknown", b"[]"),
        ("gzip", gzip.compress(b"[]")[:-6]),
        ("deflate", zlib.compress(b'{"ids": ["x"]}')[:-3]),
    ],
)
async def test_bodies_with_broken_content_encoding_are_4xx(hub: Hub, encoding: str, body: bytes) -> None:
    async with unchanged(hub):
        for method, path, headers in [*json_targets(hub), ("POST", "/webhooks/pin", {})]:
            data = rawhttp.build(method, path, [*headers.items(), ("Content-Encoding", encoding)], body)
            answer = await hub.raw(data)
            assert 400 <= answer.status < 500, (encoding, path, answer.status, answer.body[:300])


HOSTILE_BODIES = [
    b"",
    b"\xff\xfe\x00",
    b"\xef\xbb\xbf{}",
    b"\xfe\xff\x00{\x00}",
    "{}".encode("utf-16"),
    "{}".encode("utf-32"),
    b'{"a": "\xc0\xaf"}',
    b'{"a": "\xed\xa0\x80"}',
    b'{"ids": ["\\ud800"]}',
    b'{"ids": ["\\u0000"]}',
    b'{"ids": ["a\\u0000b"], "enabled": "\\udfff"}',
    b"null",
    b"[]",
    b"1e999999",
    b"-" + b"9" * 5000,
    b"NaN",
    b'{"a": NaN, "b": Infinity}',
    b'{"a": 1, "a": 2}',
    b"{" * 50,
    b'"' + b"\\" * 1001,
    b"\x00" * 100,
    b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;</x>",
    b"]]><![CDATA[",
]
DEEP = [
    b"[" * 100_000,
    b'{"a":' * 100_000,
    b"[" * 5_000 + b"]" * 5_000,
    b'{"ids": ' + b"[" * 3_000 + b"]" * 3_000 + b"}",
    b'{"name": "A", "email": "a@example.com", "answers": {"q": ' + b"[" * 3000 + b"]" * 3000 + b"}}",
]


def bad_body_statuses(path: str) -> set[int]:
    if path.startswith("/webhooks/"):
        return {400, 401}  # malformed, or no signature to check
    if path.startswith("/apply/"):
        return {400, 422}  # not JSON, or JSON that is not an application
    return {400}


async def test_hostile_and_deeply_nested_json_bodies_are_400(hub: Hub) -> None:
    async with unchanged(hub):
        for body in HOSTILE_BODIES + [b[:MAX_BODY] for b in DEEP]:
            for method, path, headers in json_targets(hub):
                if _legitimate(path, _document(body)):
                    continue  # "{}" behind a byte order mark maps a stage to none, legitimately
                answer = await hub.send(
                    method, path, headers={**headers, "Content-Type": "application/json"}, data=body
                )
                refused(answer, bad_body_statuses(path), what=(path, body[:40]))


async def test_deeply_nested_json_is_400_even_when_signed(hub: Hub) -> None:
    """Past the signature check the body is parsed: nesting must still be a 400, never a RecursionError."""
    nested = b"[" * 5000 + b"]" * 5000
    async with unchanged(hub):
        for body in (nested, b'{"event": "application_hired", "data": ' + nested + b"}", b"[" * MAX_BODY):
            headers = {"PINPOINT-HMAC-SHA256": sign(PINPOINT_SECRET, body, "base64")}
            answer = await hub.send("POST", "/webhooks/pin", headers=headers, data=body)
            refused(answer, 400, "malformed webhook", body[:40])
        signed = json.loads(hub.lever.signed_webhook("candidateHired").body)
        body = json.dumps(signed)[:-1].encode() + b', "deep": ' + nested + b"}"
        refused(await hub.send("POST", "/webhooks/acme", data=body), 400, "malformed webhook")


@FEW
@given(body=st.binary(max_size=300) | st.sampled_from(HOSTILE_BODIES))
async def test_arbitrary_bytes_as_bodies(hub: Hub, body: bytes) -> None:
    async with unchanged(hub):
        for method, path, headers in json_targets(hub):
            if _legitimate(path, _document(body)):
                continue  # random bytes that make a legitimate request (b'{"":[""]}' maps a stage)
            answer = await hub.send(method, path, headers=headers, data=body)
            refused(answer, bad_body_statuses(path), what=(path, body))


#: Text with what breaks parsers, databases and documents: NUL and other controls, lone surrogates,
#: non-characters, CDATA ends, markup, line breaks, escapes and traversal, among any other characters.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | hostile_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4),
    max_leaves=12,
)


@SOME
@given(
    body=json_values
    | st.fixed_dictionaries(
        {},
        optional={
            "ids": json_values | st.lists(hostile_text, min_size=1, max_size=3),
            "enabled": json_values,
            "funnel_event": json_values | st.sampled_from(["hired", "interview", "none", "HIRED", ""]),
            "workflow": json_values,
            "name": json_values,
            "email": json_values | hostile_text.map(lambda t: f"{t}@example.com"),
            "urls": json_values,
            "answers": json_values,
        },
    )
)
async def test_json_of_the_wrong_shape_is_400_or_422(hub: Hub, body: Any) -> None:
    data = json.dumps(body, allow_nan=True).encode()
    async with unchanged(hub):
        for method, path, headers in json_targets(hub):
            if path.startswith("/webhooks/") or _legitimate(path, body):
                continue  # unsigned webhooks are refused unread (above); legitimate changes: not bad input
            answer = await hub.send(method, path, headers=headers, data=data)
            if "/jobs/" in path and answer.status == 200:
                # Well-formed ids that name no job are answered "missing": nothing changes.
                assert json.loads(answer.body)["switched"] == [], body
                continue
            refused(answer, {400, 422}, what=(path, body))


def _document(body: bytes) -> Any:
    """``body`` as JSON the way the hub reads it (RFC 8259: UTF-8, or UTF-16/32 by byte order), or None."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _storable(text: str) -> bool:
    """Text every database takes: no NUL, no lone surrogate, short enough for an id column."""
    return "\x00" not in text and not re.search("[\ud800-\udfff]", text) and len(text) <= 255


def _legitimate(path: str, body: Any) -> bool:
    """Would ``body`` be a legitimate change at ``path`` (which this suite does not make)?"""
    if not isinstance(body, dict):
        return False
    if "/stages/" in path:
        funnel, workflow = body.get("funnel_event"), body.get("workflow", "")
        return (
            (funnel is None or funnel in FUNNEL_EVENTS) and isinstance(workflow, str) and _storable(workflow)
        )
    if path.endswith("/integration"):
        return isinstance(body.get("enabled"), bool)
    if path.startswith("/apply/"):
        try:
            parse_application(body)
        except Unprocessable:
            return False
        return True
    return False


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=zzz",
        "application/json; charset=utf-16",
        "application/json; charset=utf-32",
        "application/json; charset=latin-1",
        "application/json; charset=no-such-codec",
        "application/json; charset=idna",
        "application/json; charset=zlib",
        "application/json; charset=rot13",
        "application/json; charset=hex",
        "application/json; charset=utf-8; charset=ascii",
        "application/json; charset=",
        'application/json; charset="utf-8',
        "application/json;;;;",
        "application/json\x0b",
        "*/*",
        "application/xml",
        "x" * 4000,
    ],
)
async def test_odd_content_types(hub: Hub, content_type: str | None) -> None:
    """JSON is UTF-8 whatever the Content-Type says (RFC 8259): a charset never turns into a 500."""
    refusable = [
        b"\xff\xfe\xfd{",
        b"\x00\x00\x00{",
        b'{"funnel_event": "bogus", "enabled": 1, "ids": 2}',
    ]
    async with unchanged(hub):
        for method, path, headers in json_targets(hub):
            sent = dict(headers)
            if content_type is not None:
                sent["Content-Type"] = content_type
            for body in refusable:
                answer = await hub.raw(rawhttp.build(method, path, sent.items(), body))
                if (answer.header("content-type") or "").startswith("text/plain"):
                    refused_by_parser(answer, (content_type, path))  # e.g. a control character in it
                    continue
                refused(answer, bad_body_statuses(path) | {415}, what=(content_type, path, body))
            if "/jobs/" in path:
                answer = await hub.raw(rawhttp.build(method, path, sent.items(), b'{"ids": ["no-such-job"]}'))
                if (answer.header("content-type") or "").startswith("text/plain"):
                    refused_by_parser(answer, (content_type, path))
                    continue
                assert answer.status in (200, 415), (content_type, path, answer.body)
                if answer.status == 200:
                    assert answer.json()["missing"] == ["no-such-job"]


# --- account names and other path segments ----------------------------------------------------------------

HOSTILE_NAMES = [
    "..",
    "..%2F..%2Fetc%2Fpasswd",
    "..%2f..%2f",
    "%2e%2e",
    "%2E%2E%2F%2E%2E",
    "..%5C..%5Cwindows",
    "acme%2F..",
    "acme%00",
    "%00acme",
    "acme%00.xml",
    "%00",
    "ac%0d%0ame",
    "acme%0d%0aSet-Cookie:%20pwned=1",
    "ACME",
    "acme%20",
    "%20acme",
    "acme%09",
    "acme%252F",
    "acme%FF",
    "%ED%A0%80",
    "%C0%AE%C0%AE",
    "%EF%BC%8E%EF%BC%8E",
    "a%CC%81cme",
    "%3Cscript%3E",
    "%5D%5D%3E",
    "'%20OR%201=1--",
    "acme;x=1",
    "acme%3Bx",
    "nobody",
    "x" * 300,
    "y" * 7000,
]
#: Where an account name is a path segment; ``{a}`` is replaced.
ACCOUNT_PATHS: list[tuple[str, str, dict[str, str], bytes | None]] = [
    ("GET", "/feeds/{a}.xml", {}, None),
    ("POST", "/webhooks/{a}", {}, b"{}"),
    ("GET", "/pixels/{a}/snippet", {}, None),
    ("POST", "/apply/{a}/1", APPLY, b"{}"),
    ("GET", "/api/accounts/{a}", ADMIN, None),
    ("GET", "/api/accounts/{a}/jobs", ADMIN, None),
    ("POST", "/api/accounts/{a}/jobs/enable", ADMIN, b'{"ids": ["1"]}'),
    ("POST", "/api/accounts/{a}/jobs/disable", ADMIN, b'{"ids": ["1"]}'),
    ("POST", "/api/accounts/{a}/sync", ADMIN, None),
    ("POST", "/api/accounts/{a}/reconcile", ADMIN, None),
    ("POST", "/api/accounts/{a}/integration", ADMIN, b'{"enabled": false}'),
    ("GET", "/api/accounts/{a}/stages", ADMIN, None),
    ("PUT", "/api/accounts/{a}/stages/x", ADMIN, b'{"funnel_event": "hired"}'),
    ("GET", "/api/accounts/{a}/stats", ADMIN, None),
    ("GET", "/api/deliveries?account={a}", ADMIN, None),
]


async def _check_account_name(hub: Hub, name: str) -> None:
    """``name`` (already percent-encoded) names no account: 404 everywhere, a GIF from the pixel."""
    for method, template, headers, body in ACCOUNT_PATHS:
        path = template.format(a=name)
        answer = await hub.send(method, path, headers=headers, data=body)
        if answer.status in (400, 414, 431) and not answer.headers.get("Content-Type", "").startswith(
            "application/json"
        ):
            continue  # the URL is longer than aiohttp's parser takes: refused before routing
        refused(answer, 404, what=(method, path))
        assert "Set-Cookie" not in answer.headers
        assert ADMIN_TOKEN not in answer.text
        assert APPLY_KEY not in answer.text
    for kind in ("view", "apply"):
        answer = await hub.send("GET", f"/px/{name}/{kind}.gif?job=1")
        if answer.status == 200:
            assert answer.headers["Content-Type"] == "image/gif"
            assert answer.headers.get("X-Pixel-Ignored") == "unknown account", name
        else:
            assert answer.status in (400, 404, 414), (name, answer.status)


async def test_hostile_account_names_are_404_everywhere(hub: Hub) -> None:
    async with unchanged(hub):
        for name in HOSTILE_NAMES:
            await _check_account_name(hub, name)


@FEW
@given(name=hostile_text.filter(lambda n: n not in ("acme", "pin", "demo")))
async def test_any_account_name_that_is_not_configured_is_404(hub: Hub, name: str) -> None:
    encoded = quote(name.encode("utf-8", "surrogatepass"), safe="")
    if not encoded or encoded in (".", ".."):
        return
    async with unchanged(hub):
        await _check_account_name(hub, encoded)


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/feeds/../healthz",
        b"/feeds/acme.xml/../../etc/passwd",
        b"/webhooks/../api/accounts",
        b"/api/accounts/../../healthz",
        b"//api//accounts",
        b"/feeds/acme\x00.xml",
        b"/feeds/%zz.xml",
        b"/feeds/%.xml",
        b"/px/acme/view.gif?job=%",
        b"http://evil.example/feeds/demo.xml",
        b"*",
        b"/feeds/demo.xml#frag",
        b"/\xff\xfe",
        b"/feeds/\xc3\xa9.xml",
        b"/api/accounts/acme/stages/\xed\xa0\x80",
    ],
)
async def test_raw_request_targets(hub: Hub, raw_path: bytes) -> None:
    async with unchanged(hub, besides=("PixelBatch", "PixelCount", "pixels")):  # "?job=%" is a job id
        for method, body in (("GET", b""), ("POST", b"{}"), ("PUT", b"{}")):
            answer = await hub.raw(rawhttp.build(method, raw_path, ADMIN.items(), body))
            assert answer.status < 500, (raw_path, method, answer.status, answer.body[:300])
            if answer.status >= 400 and (answer.header("content-type") or "").startswith("application/json"):
                refused(answer, what=(raw_path, method))  # past the parser, the hub names the problem


OTHER_SEGMENTS = [
    "%00",
    "a%00b",
    "%ED%A0%80",
    "%FF",
    "..%2F..",
    "x" * 300,
    "x" * 4000,
    "%C2%B2",
    "%D9%A1%D9%A2",
    "9" * 30,
    "9" * 5000,
    "-1",
    "0",
    "1e3",
    "%20",
    "%3Cx%3E%5D%5D%3E",
]


async def test_hostile_job_stage_and_delivery_ids(hub: Hub) -> None:
    application = {"name": "Ada Lovelace", "email": "ada@example.com"}
    # An Idempotency-Key keeps the first answer (a 404 too) for the retry: ApplyRequest may grow.
    async with unchanged(hub, besides=("ApplyRequest",)):
        for segment in OTHER_SEGMENTS:
            answer = await hub.send("POST", f"/apply/acme/{segment}", headers=APPLY, json_body=application)
            refused(answer, {400, 404}, what=("apply", segment))
            answer = await hub.send(
                "POST", f"/apply/acme/{segment}", headers={**APPLY, "Idempotency-Key": f"seg-{segment[:50]}"},
                json_body=application,
            )  # fmt: skip
            refused(answer, {400, 404}, what=("apply with key", segment))
            answer = await hub.send("POST", f"/api/deliveries/{segment}/retry", headers=ADMIN)
            refused(answer, {400, 404}, what=("retry", segment))
            answer = await hub.send(
                "PUT", f"/api/accounts/acme/stages/{segment}", headers=ADMIN, json_body={"funnel_event": "x"}
            )
            refused(answer, {400, 404}, what=("stage", segment))
    assert hub.lever.applications == []
    assert not await models.ApplyRequest.filter(status=None).exists(), "an apply claim was left in flight"


async def test_hostile_stage_ids_and_workflows_are_refused_not_stored_broken(hub: Hub) -> None:
    """A stage mapping is legitimately stored; a stage id or workflow no database can hold is a 400."""
    async with unchanged(hub):
        # ("%ED%A0%80" is not decoded by aiohttp: the stage id is those nine characters, which is fine.)
        for segment in ("%00", "a%00b", "x" * 300):
            answer = await hub.send(
                "PUT",
                f"/api/accounts/acme/stages/{segment}",
                headers=ADMIN,
                json_body={"funnel_event": "hired"},
            )
            refused(answer, 400, what=segment)
        for workflow in ("\x00", "a\udc80", "w" * 300):
            data = json.dumps({"funnel_event": "hired", "workflow": workflow}).encode()
            answer = await hub.send("PUT", "/api/accounts/acme/stages/s1", headers=ADMIN, data=data)
            refused(answer, 400, what=workflow)


# --- query strings --------------------------------------------------------------------------------------

QUERY_VALUES = [
    "%00",
    "a%00",
    "%FF%FE",
    "%ED%A0%80",
    "%",
    "%zz",
    "%%%",
    "%C2%B2",
    "%D9%A1%D9%A2%D9%A3",
    "%EF%BC%91",
    "9" * 30,
    "9" * 5000,
    "-1",
    "+1",
    "1.5",
    "0x10",
    "%20",
    "%0d%0aX-Injected:%201",
    "%5D%5D%3E%3C!--",
    "x" * 3000,
    "a&a=b&a=c",
    "a;b=c",
]
#: Routes and the query parameter each reads (values not allowed there are 400 for the admin API).
QUERY_ROUTES: list[tuple[str, str, dict[str, str], set[int]]] = [
    ("/api/accounts/acme/jobs", "status", ADMIN, {400}),
    ("/api/accounts/acme/jobs", "flag", ADMIN, {400}),
    ("/api/accounts/acme/jobs", "limit", ADMIN, {400}),
    ("/api/accounts/acme/jobs", "offset", ADMIN, {400}),
    ("/api/accounts/acme/jobs", "q", ADMIN, {200, 400}),
    ("/api/deliveries", "state", ADMIN, {400}),
    ("/api/deliveries", "limit", ADMIN, {400}),
    # 400: a value that smuggles in a parameter the operation does not take (`a&a=b`).
    ("/api/deliveries", "account", ADMIN, {400, 404}),
    ("/api/accounts/acme/stats", "job", ADMIN, {200, 400}),
    ("/api/accounts/acme/stats", "since", ADMIN, {400}),
    ("/api/accounts/acme/stats", "until", ADMIN, {400}),
    ("/pixels/acme/snippet", "page", {}, {400}),
    ("/pixels/acme/snippet", "job", {}, {200, 400}),
    ("/pixels/acme/snippet", "spa", {}, {200}),
    ("/feeds/acme.xml", "token", {}, {403}),
    ("/feeds/demo.xml", "token", {}, {200}),
]


async def _check_query(
    hub: Hub, path: str, name: str, value: str, headers: dict[str, str], ok: set[int]
) -> None:
    answer = await hub.send("GET", f"{path}?{name}={value}", headers=headers)
    if answer.status in (400, 414) and not answer.headers.get("Content-Type", "").startswith(
        ("application/json", "text/html", "application/xml")
    ):
        return  # longer than aiohttp's parser takes
    assert answer.status in ok, (path, name, value, answer.status, answer.body[:300])
    if answer.status >= 400:
        refused(answer, what=(path, name, value))
    assert "X-Injected" not in answer.headers
    if path.startswith("/feeds/") and answer.status == 200:
        etree.fromstring(answer.body)


async def test_odd_query_strings(hub: Hub) -> None:
    async with unchanged(hub):
        for path, name, headers, ok in QUERY_ROUTES:
            for value in QUERY_VALUES:
                await _check_query(hub, path, name, value, headers, ok)
        # Repeated and empty parameters, keys without values, odd separators.
        for query in (
            "status=open&status=bogus",
            "limit=&offset=",
            "limit",
            "=",
            "&&&",
            "status=open;flag=on",
        ):
            answer = await hub.send("GET", f"/api/accounts/acme/jobs?{query}", headers=ADMIN)
            assert answer.status in (200, 400), (query, answer.text)


@SOME
@given(value=hostile_text, route=st.sampled_from(QUERY_ROUTES))
async def test_any_query_value(
    hub: Hub, value: str, route: tuple[str, str, dict[str, str], set[int]]
) -> None:
    path, name, headers, ok = route
    encoded = quote(value.encode("utf-8", "surrogatepass"), safe="")
    legitimate = {"status": ("open", "closed"), "flag": ("on", "off", "unset", "in-feed"),
                  "state": ("pending", "delivered", "dead"), "page": ("job", "confirmation")}  # fmt: skip
    if value in legitimate.get(name, ()) or (
        name in ("limit", "offset") and value.isascii() and value.isdigit()
    ):
        ok = {200, 400}
    if name == "account" and value in ("acme", "pin", "demo"):
        ok = {200}
    async with unchanged(hub):
        await _check_query(hub, path, name, encoded, headers, ok | ({400} if "%00" in encoded else set()))


# --- pixels ---------------------------------------------------------------------------------------------


def _gif(answer: Answer) -> None:
    assert answer.status == 200, answer.text
    assert answer.headers["Content-Type"] == "image/gif"
    assert answer.headers["Cache-Control"].startswith("no-store")
    assert len(answer.body) == 43


@SOME
@given(job=hostile_text | st.sampled_from(["\x00", "a\x00b", "\t", "1\r\n2", "x" * 256, "\ud800", " "]))
async def test_pixels_answer_a_gif_and_count_exactly_what_they_accepted(hub: Hub, job: str) -> None:
    encoded = quote(job.encode("utf-8", "surrogatepass"), safe="")
    answer = await hub.send("GET", f"/px/acme/view.gif?job={encoded}")
    _gif(answer)
    await hub.app[PIXELS].flush()  # must never fail, whatever was spooled
    if "X-Pixel-Ignored" not in answer.headers:
        # Counted once a flush has run: under the job id as sent (decoded, trimmed) when the account has
        # that job, else in the account's one row for ids it never had.
        sent = URL(f"http://h/?job={encoded}", encoded=True).query["job"].strip()
        known = await models.Job.filter(ats_id=sent).exists()
        counted_as = sent if known else UNKNOWN_JOB
        assert await models.PixelCount.filter(ats_job_id=counted_as, views__gt=0).exists(), sent
        if not known:
            assert not await models.PixelCount.filter(ats_job_id=sent).exists(), sent
    await assert_up(hub)


async def database_bytes() -> int:
    """Bytes the database holds in use: SQLite's pages not on the free list, PostgreSQL's relations."""
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        _, rows = await connection.execute_query(
            "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
        )
        return int(rows[0][0])
    page_size = (await connection.execute_query("PRAGMA page_size"))[1][0][0]
    pages = (await connection.execute_query("PRAGMA page_count"))[1][0][0]
    free = (await connection.execute_query("PRAGMA freelist_count"))[1][0][0]
    return (pages - free) * page_size


async def test_random_pixel_job_ids_cannot_grow_the_database(hub: Hub) -> None:
    """5,000 hits for random 255-character job ids used to store 5,000 permanent rows (about 960 bytes a
    request); now they are one row per account, kind of day and kind of id, and storage grows < 100 KB."""
    await hub.app[PIXELS].flush()
    rows_before, bytes_before = await models.PixelCount.all().count(), await database_bytes()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    rng = random.Random(5000)
    async with hub.http.get(f"{hub.url}/healthz"):  # one pooled connection, reused for every hit
        pass
    for n in range(5000):
        job = "".join(rng.choice(alphabet) for _ in range(255))
        kind = "view" if n % 2 else "apply"
        async with hub.http.get(f"{hub.url}/px/acme/{kind}.gif?job={job}") as answer:
            assert answer.status == 200
            assert "X-Pixel-Ignored" not in answer.headers
    await hub.app[PIXELS].flush()
    assert await models.PixelCount.all().count() - rows_before <= 1
    unknown = await models.PixelCount.filter(ats_job_id=UNKNOWN_JOB).values("views", "applies")
    assert sum(row["views"] for row in unknown) >= 2500
    assert sum(row["applies"] for row in unknown) >= 2500
    grown = await database_bytes() - bytes_before
    assert grown < 100_000, f"the database grew by {grown} bytes"


async def test_pixels_with_hostile_job_ids(hub: Hub) -> None:
    before = await stored_state(hub)
    for value in [*QUERY_VALUES, "", "%09", "a%0Ab", "%E2%80%A8", "%C2%85", "x" * 256]:
        for kind in ("view", "apply"):
            _gif(await hub.send("GET", f"/px/acme/{kind}.gif?job={value}"))
    _gif(await hub.send("GET", "/px/acme/view.gif?job=1&job=2"))
    for kind in ("click", "view.gif%00", "..%2Fview", "VIEW", "x" * 300):
        answer = await hub.send("GET", f"/px/acme/{kind}.gif?job=1")
        refused(answer, 404, what=kind)
    await hub.app[PIXELS].flush()
    after = await stored_state(hub)
    # Every accepted hit is counted under a job id the database holds; nothing else changed.
    assert {k: v for k, v in after.items() if not k.startswith("Pixel") and k != "pixels"} == {
        k: v for k, v in before.items() if not k.startswith("Pixel") and k != "pixels"
    }
    for job, views, applies in after["pixels"]:
        assert "\x00" not in job
        assert views + applies > 0
    await assert_up(hub)


@FEW
@given(job=hostile_text, page=st.sampled_from(["job", "confirmation"]), spa=st.booleans())
async def test_snippet_escapes_any_job_id(hub: Hub, job: str, page: str, spa: bool) -> None:
    encoded = quote(job.encode("utf-8", "surrogatepass"), safe="")
    async with unchanged(hub):
        answer = await hub.send("GET", f"/pixels/acme/snippet?page={page}&job={encoded}&spa={int(spa)}")
        if answer.status == 400:
            refused(answer, 400)
            return
        assert answer.status == 200, answer.text
        assert answer.headers["Content-Type"].startswith("text/html")
        document = lxml_html.fragments_fromstring(answer.text)
        elements = [e for e in document if isinstance(e, etree._Element) and isinstance(e.tag, str)]
        assert [e.tag for e in elements].count("img") == 1
        assert all(e.tag in ("script", "img") for e in elements), answer.text
        [img] = [e for e in elements if e.tag == "img"]
        sent = URL(f"http://h/?job={encoded}", encoded=True).query.get("job") or ""
        if sent:
            assert parse_qs(urlsplit(img.get("src")).query)["job"] == [sent]


# --- headers ---------------------------------------------------------------------------------------------

INJECTED_HEADERS: list[list[tuple[bytes, bytes]]] = [
    [(b"X-Test", b"a\r\nX-Injected: 1")],
    [(b"X-Test", b"a\nX-Injected: 1")],
    [(b"X-Test", b"a\rX-Injected: 1")],
    [(b"X-Test", b"a\x00b")],
    [(b"X-Test", b"first"), (b" folded", b"continuation")],
    [(b"X Test", b"space in name")],
    [(b"X-Test\x00", b"nul in name")],
    [(b"", b"empty name")],
    [(b"Content-Length", b"2"), (b"Content-Length", b"5")],
    [(b"Content-Length", b"-1")],
    [(b"Content-Length", b"2, 2")],
    [(b"Content-Length", b"0x2")],
    [(b"Transfer-Encoding", b"chunked"), (b"Content-Length", b"2")],
    [(b"Transfer-Encoding", b"gzip, chunked")],
    [(b"Transfer-Encoding", b"chunked, identity")],
    [(b"Transfer-Encoding", b"xchunked")],
    [(b"Host", b"a"), (b"Host", b"b")],
    [(b"Host", b"evil.example\r\nX-Injected: 1")],
    [(b"Expect", b"100-continue")],
    [(b"Expect", b"something-else")],
    [(b"Upgrade", b"websocket"), (b"Connection", b"upgrade")],
    [
        (b"Upgrade", b"h2c"),
        (b"Connection", b"Upgrade, HTTP2-Settings"),
        (b"HTTP2-Settings", b"AAMAAABkAAQAAP__"),
    ],
    [(b"X-Forwarded-For", b"127.0.0.1, <script>")],
    [(b"Accept-Encoding", b"gzip;q=" + b"9" * 1000)],
    [(b"If-Modified-Since", b"not a date")],
    [(b"If-Modified-Since", b"Thu, 01 Jan 1970 00:00:00 GMT\x00")],
    [(b"If-None-Match", b'"' * 1000)],
    [(b"Range", b"bytes=0-0,1-1,2-2")],
    [(b"Idempotency-Key", b"\xff\xfe")],
    [(b"Idempotency-Key", b"k\xed\xa0\x80")],
    [(b"Idempotency-Key", b"k" * 256)],
    [(b"Idempotency-Key", b" ")],
    [(b"Idempotency-Key", b"a"), (b"Idempotency-Key", b"b")],
    [(b"Authorization", b"Bearer wrong"), (b"Authorization", ADMIN["Authorization"].encode())],
    [(b"Content-Type", b"application/json"), (b"Content-Type", b"text/plain; charset=bogus")],
    [(b"Cookie", b"a=" + b"\xff" * 100)],
    [(b"X-Many-%d" % i, b"v") for i in range(300)],
    [(b"X-Long", b"v" * 9000)],
]


@pytest.mark.parametrize("extra", INJECTED_HEADERS, ids=range(len(INJECTED_HEADERS)))
async def test_header_injection_and_odd_headers(hub: Hub, extra: list[tuple[bytes, bytes]]) -> None:
    targets = [
        ("GET", "/healthz", [], b""),
        ("GET", "/feeds/demo.xml", [], b""),
        ("GET", "/px/acme/view.gif?job=hdr", [], b""),
        ("POST", "/webhooks/acme", [], b"{}"),
        ("POST", f"/apply/acme/{hub.plain_job}", list(APPLY.items()), b"{}"),
        ("POST", "/api/accounts/acme/jobs/enable", list(ADMIN.items()), b'{"ids": ["no-such-job"]}'),
    ]
    before = await stored_state(hub)
    chunked = any(n.lower() == b"transfer-encoding" and b"chunked" in v for n, v in extra)
    for method, path, headers, body in targets:
        if chunked:
            body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
        data = rawhttp.build(method, path, [*headers, *extra], body)
        answer = await hub.raw(data)
        assert answer.status < 500, (extra[:3], path, answer.status, answer.body[:300])
        assert "x-injected" not in answer.header_names(), (extra[:3], path)
        assert "set-cookie" not in answer.header_names()
        if path.startswith("/apply/"):
            assert answer.status >= 400, f"an empty application was accepted: {answer.body[:200]!r}"
    after = await stored_state(hub)
    # A pixel hit may have been counted (a legitimate hit with an odd header), an Idempotency-Key keeps
    # the first answer for its retry; nothing else may change.
    allowed = ("PixelBatch", "PixelCount", "pixels", "ApplyRequest")
    assert {k: v for k, v in after.items() if k not in allowed} == {
        k: v for k, v in before.items() if k not in allowed
    }
    assert not await models.ApplyRequest.filter(status=None).exists(), "an apply claim was left in flight"
    await assert_up(hub)


async def test_aiohttp_client_refuses_to_send_crlf_in_headers(hub: Hub) -> None:
    """Documenting why the injection cases go over a raw socket: the client library refuses them."""
    for value in ("a\r\nX-Injected: 1", "a\nb"):
        with pytest.raises(ValueError, match=r"(?i)newline|carriage|invalid|forbidden"):
            await hub.send("GET", "/healthz", headers={"X-Test": value})


# --- signed webhooks with odd (but storable) surroundings ---------------------------------------------------


async def test_signed_webhooks_with_odd_headers_and_queries_are_stored_once(hub: Hub) -> None:
    """A genuine webhook is never refused for an odd query or header: stored once, 202, never a 500."""
    odd: list[tuple[str, list[tuple[bytes, bytes]], str | None]] = [
        ("?x=%00", [], None),
        ("?x=%FF%FE&x=2", [], None),
        ("?%00=1", [], None),
        ("", [(b"X-Odd", b"\xff\xfe\xfd")], None),
        ("", [(b"X-Odd", b"caf\xc3\xa9 \xed\xa0\x80")], None),
        ("?x=%C0%AF", [(b"Cookie", b"session=\xff")], None),
        # Lever's token is the webhook's identity: one no id column holds is stored by its digest.
        ("", [], "odd\x00token"),
        ("", [], "t" * 300),
    ]
    receipts = await models.WebhookReceipt.all().count()
    for query, headers, token in odd:
        # A real hire, as Lever's API confirms it.
        opportunity = hub.lever.hire(posting=hub.plain_job)
        archived_at = hub.lever.opportunity(opportunity)["archived"]["archivedAt"]
        signed = hub.lever.signed_webhook(
            "candidateHired", {"opportunityId": opportunity}, token=token, triggered_at=archived_at
        )
        data = rawhttp.build(
            "POST", f"/webhooks/acme{query}", [(b"Content-Type", b"application/json"), *headers], signed.body
        )
        answer = await hub.raw(data)
        assert answer.status == 202, (query, headers, answer.status, answer.body[:300])
        again = await hub.raw(data)
        assert again.status == 200, (query, headers, again.status, again.body[:300])
    assert await models.WebhookReceipt.all().count() == receipts + len(odd)
    # The inbox worker parses them into events (done before the next test compares counts).
    deadline = time.monotonic() + 10
    while await models.WebhookReceipt.filter(state="pending").exists():
        assert time.monotonic() < deadline, "stored webhooks were never processed"
        await asyncio.sleep(0.05)
    for receipt in await models.WebhookReceipt.all():
        assert receipt.state == "processed", receipt.last_error
        # What was stored is text any database holds, and reads back as such.
        json.dumps([receipt.headers, receipt.query], ensure_ascii=False).encode()
    await assert_up(hub)


# --- slow senders ---------------------------------------------------------------------------------------


async def test_slow_senders_do_not_stop_the_hub(hub: Hub) -> None:
    """Slow-loris: a dozen connections trickle headers or bodies while the hub keeps answering others."""
    body = b'{"event": "candidateHired", "token": "t", "triggeredAt": 1, "signature": "s"}'
    slow_headers = rawhttp.build("GET", "/healthz", [("X-Pad", "p" * 40)])
    slow_body = rawhttp.build("POST", "/webhooks/acme", [("Content-Type", "application/json")], body)
    short_body = rawhttp.build(
        "POST", "/api/accounts/acme/jobs/enable", [*ADMIN.items(), ("Content-Length", "1000")], b'{"ids"'
    )
    async with unchanged(hub):
        started = time.monotonic()
        slow = [
            asyncio.create_task(rawhttp.trickle(hub.url, data, piece=2, interval=0.1, send_seconds=1.5))
            for data in [slow_headers] * 4 + [slow_body] * 4
        ]
        # Declares more than it sends, then stalls: the client gives up first (bounded on our side).
        stalled = [asyncio.create_task(_stall(hub.url, short_body, seconds=1.5)) for _ in range(4)]
        answered = 0
        while time.monotonic() - started < 1.5:
            await assert_up(hub)
            refused(await hub.send("POST", "/webhooks/acme", data=b"{}"), 401)
            answered += 1
            await asyncio.sleep(0.05)
        assert answered >= 3, f"only {answered} requests answered while slow clients were connected"
        results = await asyncio.gather(*slow)
        for result in results[:4]:
            assert result is not None
            assert result.status == 200
        for result in results[4:]:
            assert result is not None
            refused(result, 401, "webhook refused")
        await asyncio.gather(*stalled)
        assert time.monotonic() - started < 20  # bounded: nothing waited for a slow client's whole body


async def _stall(base_url: str, data: bytes, seconds: float) -> None:
    host, port = rawhttp.address(base_url)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await reader.read(1)
    finally:
        writer.close()


# --- compression bombs and parser refusals: nothing a client sends stalls the hub or floods its log -----


def _gzip_bomb() -> bytes:
    """About 1 MB on the wire that inflates to 1 GiB: 16 gzip members of 64 MiB of zeros each."""
    return gzip.compress(bytes(64 * 2**20), compresslevel=9) * 16


async def test_compressed_bombs_are_refused_without_stalling_the_hub(hub: Hub) -> None:
    """Eight 1 GiB gzip bombs in flight, on routes that read bodies and routes that do not: each answered
    4xx at once, and /healthz keeps answering promptly meanwhile, also while the bombs' remains are read.

    aiohttp used to inflate a refused body to its end while it drained the connection: 2.5-3 s of the
    event loop per bomb, /healthz frozen for 9.5 s by eight of them.
    """
    bomb = _gzip_bomb()
    assert len(bomb) < 1_100_000
    targets = [
        ("POST", "/webhooks/acme", {401, 413}),
        ("POST", "/api/accounts/acme/jobs/enable", {413}),
        ("POST", "/no/such/route", {404}),
        ("PUT", "/healthz", {405}),
    ]
    latencies: list[float] = []
    stop = asyncio.Event()

    async def probe() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await assert_up(hub)
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)

    async def send(method: str, path: str) -> rawhttp.RawResponse:
        headers = [*ADMIN.items(), ("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
        return await hub.raw(rawhttp.build(method, path, headers, bomb), within=30)

    async with unchanged(hub):
        prober = asyncio.create_task(probe())
        bombs = [targets[n % len(targets)] for n in range(8)]
        answers = await asyncio.gather(*(send(method, path) for method, path, _ in bombs))
        await asyncio.sleep(3)  # the hub reads what is left of each bomb after answering: probe that too
        stop.set()
        await prober
    for (_, path, statuses), answer in zip(bombs, answers, strict=True):
        assert answer.status in statuses, (path, answer.status, answer.body[:200])
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    assert len(latencies) >= 50, latencies
    assert p99 < 0.25, f"/healthz p99 {p99 * 1000:.0f} ms with 8 gzip bombs in flight"


async def test_a_compressed_body_is_read_as_sent_when_it_fits(hub: Hub) -> None:
    """The limit applies to what a body inflates to, and a body within it is read like a plain one."""
    async with unchanged(hub):
        small = gzip.compress(b'{"ids": ["no-such-job"]}')
        for coding, data in (("gzip", small), ("deflate", zlib.compress(b'{"ids": ["no-such-job"]}'))):
            headers = [*ADMIN.items(), ("Content-Encoding", coding)]
            answer = await hub.raw(rawhttp.build("POST", "/api/accounts/acme/jobs/disable", headers, data))
            assert answer.status == 200, (coding, answer.body)
            assert answer.json()["missing"] == ["no-such-job"]
        just_over = gzip.compress(b" " * MAX_BODY + b"{}")
        headers = [*ADMIN.items(), ("Content-Encoding", "gzip")]
        answer = await hub.raw(rawhttp.build("POST", "/api/accounts/acme/jobs/disable", headers, just_over))
        refused(answer, 413, f"inflates to more than {MAX_BODY} bytes")
        answer = await hub.raw(
            rawhttp.build("POST", "/webhooks/acme", [("Content-Encoding", "br")], b"not brotli")
        )
        refused(answer, 415, "Content-Encoding 'br' is not supported")


async def test_requests_the_parser_refuses_are_counted_and_logged_once(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    """A request line over 8,190 bytes is 400, and twenty of them are one INFO line without a traceback."""
    from hub.metrics import CLIENT_PROTOCOL_ERRORS

    counted = CLIENT_PROTOCOL_ERRORS.labels("LineTooLong")
    before = counted._value.get()
    caplog.set_level(logging.DEBUG)
    async with unchanged(hub):
        for _ in range(20):
            answer = await hub.raw(rawhttp.build("GET", "/healthz?" + "a" * 9000))
            assert answer.status == 400
    assert counted._value.get() - before == 20
    records = [r for r in caplog.records if r.name.startswith("aiohttp")]
    assert not [r for r in records if r.levelno >= logging.WARNING or r.exc_info], [
        r.getMessage() for r in records
    ]
    assert len([r for r in records if "LineTooLong" in r.getMessage()]) <= 1


# --- hostile text from the ATS side: the feed stays well-formed ------------------------------------------


async def _inbox_idle() -> None:
    deadline = time.monotonic() + 10
    while await models.WebhookReceipt.filter(state="pending").exists():
        assert time.monotonic() < deadline, "stored webhooks were never processed"
        await asyncio.sleep(0.05)


async def test_an_altered_lever_body_cannot_send_a_false_hire(hub: Hub) -> None:
    """Lever signs only the token and triggeredAt. A fresh, genuine hire webhook for one candidate, its
    event and data changed to name another (real but unhired, or unknown with an open job's posting),
    used to make the hub send Appcast a false hire, and to refuse the genuine webhook as a replay.
    Now the false hire is never sent, and the genuine one is delivered once, by reconciliation."""
    assert hub.appcast is not None
    lever, before = hub.lever, len(hub.appcast.events)
    hired = lever.hire(posting=hub.plain_job, email=f"genuine-{hub.database}@example.com")
    unhired = lever.add_opportunity(posting=hub.plain_job)
    genuine = lever.signed_webhook(
        "candidateHired",
        {"opportunityId": hired},
        triggered_at=lever.opportunity(hired)["archived"]["archivedAt"],
    )
    body = json.loads(genuine.body)
    forged_unhired = json.dumps(body | {"data": {"opportunityId": unhired}}).encode()
    other = json.loads(lever.signed_webhook("applicationCreated", {"opportunityId": unhired}).body)
    forged_unknown = json.dumps(
        other | {"event": "candidateHired", "data": {"opportunityId": "no-such", "postingId": hub.plain_job}}
    ).encode()
    for forged in (forged_unhired, forged_unknown):
        assert (await hub.send("POST", "/webhooks/acme", data=forged)).status == 202  # signed: stored
    refused(await hub.send("POST", "/webhooks/acme", data=genuine.body), 401, "already used for another body")
    await _inbox_idle()
    failed = await models.WebhookReceipt.filter(state="failed", last_error__startswith="unconfirmed").count()
    assert failed >= 2
    await asyncio.sleep(0.3)
    assert len(hub.appcast.events) == before, "nothing was sent for a webhook Lever's API does not bear out"
    assert not await models.Event.filter(ats_application_id__in=[unhired, "no-such"], kind="hired").exists()
    # The genuine hire is not lost: the next reconciliation finds it in Lever and it is sent, once.
    answer = await hub.send("POST", "/api/accounts/acme/reconcile", headers=ADMIN)
    assert answer.status == 200, answer.text
    [sent] = [e for e in await hub.appcast.wait_for_events(before + 1) if e.body["application_id"] == hired]
    assert sent.body["event"] == "hired"
    await hub.send("POST", "/api/accounts/acme/reconcile", headers=ADMIN)
    await asyncio.sleep(0.3)
    assert [e.body["application_id"] for e in hub.appcast.events].count(hired) == 1


async def test_an_ats_answering_an_empty_list_cannot_empty_the_feed(hub: Hub) -> None:
    """Lever answering 200 with no postings used to close every job: every Appcast campaign stopped. The
    close is held: the feed keeps its jobs, status and the metrics show it, an admin decides."""
    before = await hub.send("GET", f"/feeds/acme.xml?token={FEED_TOKEN}")
    advertised = before.body.count(b"<job>")
    assert advertised > 5
    hub.lever.empty_listings = 1
    answer = await hub.send("POST", "/api/accounts/acme/sync?full=true", headers=ADMIN)
    assert answer.status == 200, answer.text
    assert "is held" in json.loads(answer.body)["summary"]
    after = await hub.send("GET", f"/feeds/acme.xml?token={FEED_TOKEN}")
    assert after.body.count(b"<job>") == advertised
    account = json.loads((await hub.send("GET", "/api/accounts/acme", headers=ADMIN)).body)
    assert account["held"]["jobs"] == account["open_jobs"] > 5
    metrics = (await hub.send("GET", "/metrics")).text
    assert f'appcast_hub_held_close_jobs{{account="acme"}} {float(account["open_jobs"])}' in metrics
    kept = await hub.send("POST", "/api/accounts/acme/held/keep", headers=ADMIN)
    assert json.loads(kept.body) == {"kept": account["open_jobs"]}
    refused(await hub.send("POST", "/api/accounts/acme/held/confirm", headers=ADMIN), 404, "no held change")
    assert 'appcast_hub_held_close_jobs{account="acme"} 0.0' in (await hub.send("GET", "/metrics")).text
    # The ATS is back to normal: the next full sync holds nothing and closes nothing.
    answer = await hub.send("POST", "/api/accounts/acme/sync?full=true", headers=ADMIN)
    assert "held" not in json.loads(answer.body)["summary"]


async def test_an_ats_job_id_xml_forbids_cannot_cut_the_feed_short(hub: Hub) -> None:
    """A Lever posting whose id holds a NUL (or a vertical tab) used to make every GET of the feed send 200
    headers, then drop the connection. The job is refused at sync; the feed stays whole and well-formed."""
    added = [hub.lever.add_posting(id=f"bad\x00id-{hub.database}"), hub.lever.add_posting(id="bad\x0bid")]
    try:
        answer = await hub.send("POST", "/api/accounts/acme/sync", headers=ADMIN)
        assert answer.status == 200, answer.text
        assert "2 refused" in json.loads(answer.body)["summary"]
        feed = await hub.send("GET", f"/feeds/acme.xml?token={FEED_TOKEN}")
        assert feed.status == 200
        document = etree.fromstring(feed.body, etree.XMLParser(recover=False))
        ids = {job.findtext("referencenumber") for job in document.iter("job")}
        assert hub.lever.job_ids(published_only=True) - set(added) <= ids
        assert not any(ats_id.startswith("bad") for ats_id in ids)
    finally:
        for posting in added:
            hub.lever.close_posting(posting)


@FEW
@given(
    title=hostile_text.filter(lambda t: xml_safe(t).strip()),
    description=hostile_text,
    city=hostile_text,
)
async def test_xml_hostile_job_text_makes_a_well_formed_feed(
    hub: Hub, title: str, description: str, city: str
) -> None:
    job = hub.plain_job
    hub.lever.update_posting(job, text=title, body=f"<p>{description}</p>", location=city)
    answer = await hub.send("POST", "/api/accounts/acme/sync", headers=ADMIN)
    assert answer.status == 200, answer.text
    feed = await hub.send("GET", f"/feeds/acme.xml?token={FEED_TOKEN}")
    assert feed.status == 200
    document = etree.fromstring(feed.body)
    [entry] = [j for j in document.iter("job") if j.findtext("referencenumber") == job]
    # Lever sends JSON: a surrogate pair escaped there ("\\ud800\\udc00") arrives as the character it encodes.
    title, description = json.loads(json.dumps([title, description]))
    assert _lines(entry.findtext("title")).strip() == _lines(xml_safe(title)).strip()
    assert _lines(xml_safe(description)).strip() in _lines(entry.findtext("description"))
    await assert_up(hub)


def _lines(text: str) -> str:
    """``text`` with its line ends as XML parsers read CDATA (XML 1.0 section 2.11: CR LF and CR become LF);
    the hub writes text with "]]>" escaped instead, where a CR survives as &#13;: equal up to this."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- Slack: POST /slack/events and the /appcast grammar ---------------------------------------------------

SLACK_WORDS = [
    "help", "status", "jobs", "enable", "disable", "job", "integration", "stages", "map", "stage", "sync",
    "deliveries", "failed", "retry", "stats", "feed", "audit", "acme", "pin", "demo", "nobody", "hired",
    "interview", "none", "dead", "1", "-1", "0", "99999999999999999999999", "²", "*", "all",
    "<@U123|bob>", "<#C123|chan>", "<!channel>", "<https://evil.example|x>", "&lt;", "&amp;", "&gt;",
    "`", "```", "*bold*", "_it_", "~s~", ">", "\u200b", "\u00a0", "ENABLE", "Job", "..", "%00",
]  # fmt: skip
slack_text = st.lists(
    st.sampled_from(SLACK_WORDS) | hostile_text,
    max_size=6,
).flatmap(lambda words: st.sampled_from([" ", "  ", "\t", "\n", "\u3000"]).map(lambda sep: sep.join(words)))


def _slack_sign(body: bytes, timestamp: str | None = None) -> dict[str, str]:
    """Slack's signature over the raw bytes (slack_sdk's signer needs UTF-8; Slack's scheme does not)."""
    from tests.peers.slack import SIGNING_SECRET

    stamp = timestamp or str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest.hexdigest()}"}


def _utf8(text: str) -> str:
    """``text`` as Slack can send it: UTF-8, so no lone surrogates (NUL and the rest stay)."""
    return re.sub("[\ud800-\udfff]", "\ufffd", text)


async def _slack_post(hub: Hub, body: bytes, headers: dict[str, str]) -> Answer:
    return await hub.send("POST", "/slack/events", headers=headers, data=body)


def _no_secrets(text: str) -> None:
    from tests.peers.slack import BOT_TOKEN, SIGNING_SECRET

    for secret in (
        BOT_TOKEN,
        SIGNING_SECRET,
        ADMIN_TOKEN,
        FEED_TOKEN,
        APPLY_KEY,
        PINPOINT_SECRET,
        WEBHOOK_SECRET,
    ):
        assert secret not in text, "a secret was sent to Slack"


def _slack_key() -> str:
    return f"bad-{time.monotonic_ns()}"


async def _slack_answer(hub: Hub, key: str) -> dict[str, Any]:
    """The answer posted to response_url ``key``: never the bot's apology for a failure of its own."""
    answer = await hub.slack.wait_response(key, timeout=10)
    text = json.dumps(answer, ensure_ascii=False)
    assert "Something went wrong" not in text, answer
    _no_secrets(text)
    return answer


SLACK_FORGERIES = [
    "no headers", "empty signature", "v0= only", "wrong version", "signed with another secret",
    "timestamp words", "timestamp negative", "timestamp huge", "timestamp float", "timestamp stale",
    "timestamp future", "timestamp non-ascii digits", "timestamp not utf-8", "body changed",
    "signature not utf-8", "body not utf-8",
]  # fmt: skip


@needs_slack
@pytest.mark.parametrize("tamper", SLACK_FORGERIES)
async def test_slack_refuses_unsigned_and_forged_requests(hub: Hub, tamper: str) -> None:
    from slack_sdk.signature import SignatureVerifier

    key = _slack_key()
    body, headers = hub.slack.slash_command(
        "sync acme", user_id=SLACK_ADMIN, response_url=hub.slack.response_url(key)
    )
    raw: list[tuple[str, str | bytes]] = list(headers.items())
    stamp = headers["X-Slack-Request-Timestamp"]
    other = SignatureVerifier("another-secret").generate_signature(timestamp=stamp, body=body) or ""

    def replace(name: str, value: str | bytes) -> list[tuple[str, str | bytes]]:
        return [(k, v) for k, v in raw if k != name] + [(name, value)]

    cases: dict[str, tuple[list[tuple[str, str | bytes]], bytes]] = {
        "no headers": ([("Content-Type", headers["Content-Type"])], body),
        "empty signature": (replace("X-Slack-Signature", ""), body),
        "v0= only": (replace("X-Slack-Signature", "v0="), body),
        "wrong version": (replace("X-Slack-Signature", "v1=" + headers["X-Slack-Signature"][3:]), body),
        "signed with another secret": (replace("X-Slack-Signature", other), body),
        "timestamp words": (replace("X-Slack-Request-Timestamp", "yesterday"), body),
        "timestamp negative": (replace("X-Slack-Request-Timestamp", "-1"), body),
        "timestamp huge": (replace("X-Slack-Request-Timestamp", "9" * 400), body),
        "timestamp float": (replace("X-Slack-Request-Timestamp", f"{stamp}.5"), body),
        "timestamp stale": (list(_slack_sign(body, str(int(time.time()) - 6 * 60)).items()), body),
        "timestamp future": (list(_slack_sign(body, str(int(time.time()) + 6 * 60)).items()), body),
        "timestamp non-ascii digits": (replace("X-Slack-Request-Timestamp", "\u0661".encode() * 10), body),
        "timestamp not utf-8": (replace("X-Slack-Request-Timestamp", b"\xd9\xa1\xff"), body),
        "body changed": (raw, body.replace(b"sync", b"sunc")),
        "signature not utf-8": (replace("X-Slack-Signature", b"v0=\xff\xfe"), body),
        "body not utf-8": (raw, b"\xff\xfe" + body),
    }  # fmt: skip
    sent, data = cases[tamper]
    async with unchanged(hub):
        answer = await hub.raw(rawhttp.build("POST", "/slack/events", sent, data))
        if (answer.header("content-type") or "").startswith("text/plain") and answer.status == 400:
            refused_by_parser(answer, tamper)
        else:
            refused(answer, 401, "invalid Slack signature", tamper)
    assert key not in hub.slack.responses


def _payload(value: Any) -> bytes:
    return b"payload=" + quote(json.dumps(value)).encode()


SLACK_BODIES = [
    ("empty", b""),
    ("not a form", b"\xff\xfe\x00garbage"),
    ("json", b'{"command": "/appcast", "text": "sync acme"}'),
    ("payload not json", b"payload=%7Bnot+json"),
    ("payload unknown type", b"payload=" + quote(json.dumps({"type": "x" * 300})).encode()),
    ("command only", b"command=%2Fappcast"),
    ("other command", b"command=%2Frm+-rf&text=%2F"),
    ("repeated keys", b"command=%2Fappcast&text=help&text=sync+acme&command=%2Fother"),
    ("nul and surrogates", b"command=%2Fappcast&text=%00%ED%A0%80&user_id=%00"),
    ("bad percent", b"command=%2Fappcast&text=%zz%&user_id=%"),
    ("long text", b"command=%2Fappcast&user_id=" + SLACK_MEMBER.encode() + b"&text=" + b"x+" * 5000),
    ("too big", b"command=%2Fappcast&text=" + b"x" * (MAX_BODY + 1)),
    ("payload deep", b"payload=" + b"%5B" * 4000),
    ("payload deep object", b"payload=" + quote('{"actions": ' + "[" * 3000).encode()),
    ("payload array", b"payload=%5B%5D"),
    ("payload null", b"payload=null"),
    ("payload actions not a list", _payload({"type": "block_actions", "actions": 5})),
    ("payload actions of junk", _payload({"type": "block_actions", "actions": [1, None, "x"]})),
    # Bolt's own middlewares read these fields with no check of their types: each used to be a 500.
    ("json event a string", b'{"event": "x"}'),
    ("json event a list", b'{"type": "event_callback", "event": [1]}'),
    ("json event of junk", b'{"type": "event_callback", "event": {"type": 5, "user": [], "channel": {}}}'),
    ("json authorizations junk", b'{"type": "event_callback", "authorizations": "x", "event": {}}'),
    ("json team a list", b'{"team": [], "team_id": 7, "enterprise": "e", "user": "u", "channel": 3}'),
    ("json view and message", b'{"type": "view_submission", "view": "x", "message": 5, "container": []}'),
    ("json url verification", b'{"type": "url_verification", "challenge": {"x": 1}}'),
    ("payload user a string", _payload({"type": "block_actions", "user": "x", "actions": []})),
    ("payload team junk", _payload({"type": "block_actions", "team": 5, "enterprise": [], "actions": []})),
    ("payload view junk", _payload({"type": "view_submission", "view": "v"})),
    ("payload shortcut junk", _payload({"type": "shortcut", "callback_id": [], "user": 1})),
]  # fmt: skip


@needs_slack
@pytest.mark.parametrize(("name", "body"), SLACK_BODIES, ids=[name for name, _ in SLACK_BODIES])
async def test_slack_signed_but_malformed_bodies(hub: Hub, name: str, body: bytes) -> None:
    """Signed, yet not what Slack sends: a 4xx or an ignored request, never a 5xx, never an apology."""
    before = {key: len(answers) for key, answers in hub.slack.responses.items()}
    async with unchanged(hub):
        for content_type in ("application/x-www-form-urlencoded", "application/json", "text/plain"):
            answer = await _slack_post(hub, body, {**_slack_sign(body), "Content-Type": content_type})
            assert answer.status < 500, (name, content_type, answer.status, answer.text[:300])
            if name == "too big":
                refused(answer, 413, "request body too large")
            _no_secrets(answer.text)
        await asyncio.sleep(0.2)  # a lazy listener, if one started, answers before the counts
    for key, answers in hub.slack.responses.items():
        for response in answers[before.get(key, 0) :]:
            assert "Something went wrong" not in json.dumps(response), (name, response)


@needs_slack
@settings(max_examples=300, deadline=None)
@given(text=slack_text)
async def test_slack_grammar_never_raises(text: str) -> None:
    from hub.slack.commands import Command, UsageError, parse

    assert isinstance(parse(text, ["acme", "pin", "demo"]), (Command, UsageError))


@needs_slack
@FEW
@given(text=slack_text.map(_utf8), admin=st.booleans())
async def test_slack_commands_never_fail_and_refusals_change_nothing(
    hub: Hub, text: str, admin: bool
) -> None:
    """Any text (Slack sends UTF-8: no lone surrogates) is answered in time, and never with an apology."""
    from hub.slack.commands import Help, UsageError, parse

    command = parse(text, ["acme", "pin", "demo"])
    if admin and not isinstance(command, (UsageError, Help)) and command.changes:
        return  # a real change by an admin: the Slack suite's business, not bad input
    async with unchanged(hub):
        key = _slack_key()
        body, headers = hub.slack.slash_command(
            text, user_id=SLACK_ADMIN if admin else SLACK_MEMBER, response_url=hub.slack.response_url(key)
        )
        started = time.monotonic()
        answer = await _slack_post(hub, body, headers)
        assert time.monotonic() - started < 3, "Slack's 3-second limit"
        assert answer.status == 200, answer.text
        _no_secrets(answer.text)
        if not isinstance(command, (UsageError, Help)):
            await _slack_answer(hub, key)


#: Button values: the hub writes JSON of a page state ({"a": account, "q": words, "o": offset} and the job
#: "j" in account "ja"); a forged request can carry anything.
slack_values = (
    hostile_text.map(_utf8)
    | json_values.map(lambda v: _utf8(json.dumps(v, ensure_ascii=False)))
    | st.fixed_dictionaries(
        {"a": json_values | st.sampled_from(["acme", "pin", "nobody"]), "q": json_values, "o": json_values},
        optional={"j": json_values, "ja": json_values | st.sampled_from(["acme", "nobody"])},
    ).map(lambda v: _utf8(json.dumps(v, ensure_ascii=False)))
    | st.integers(1, 4000).map(lambda n: "[" * n)  # %5B each: 4000 stay under max_body_bytes
)


async def _click(hub: Hub, value: str, admin: bool) -> None:
    from hub.slack import blocks

    decoded = blocks.PageState.from_value(value)
    if admin and decoded is not None and isinstance(decoded[1].get("j"), str):
        return  # a well-formed switch by an admin is a legitimate change
    async with unchanged(hub):
        for action in (blocks.ACTION_ENABLE, blocks.ACTION_DISABLE, blocks.ACTION_PAGE):
            key = _slack_key()
            body, headers = hub.slack.block_action(
                action, value, user_id=SLACK_ADMIN if admin else SLACK_MEMBER,
                response_url=hub.slack.response_url(key),
            )  # fmt: skip
            answer = await _slack_post(hub, body, headers)
            assert answer.status == 200, answer.text
            await _slack_answer(hub, key)


@needs_slack
@FEW
@given(value=slack_values, admin=st.booleans())
async def test_slack_buttons_with_forged_values(hub: Hub, value: str, admin: bool) -> None:
    """Button values come back from Slack as the hub wrote them, unless someone forges the request."""
    await _click(hub, value, admin)


@needs_slack
@pytest.mark.parametrize(
    "value",
    [
        json.dumps({"a": "acme", "q": "\x00", "o": 0}),
        json.dumps({"a": "acme", "q": "", "o": 10**30}),
        json.dumps({"a": "acme", "q": "", "o": "9" * 5000}),
        "[" * 4000,
    ],
    ids=["nul in words", "huge offset", "offset of 5000 digits", "deep nesting"],
)  # fmt: skip
async def test_slack_buttons_with_hostile_page_states(hub: Hub, value: str) -> None:
    await _click(hub, value, admin=False)


# --- secrets: never in the log, never in an answer -------------------------------------------------------

SECRET_ENV = {
    "BAD_INPUT_ADMIN_TOKEN": "admin-secret-4b2f8d61e0",
    "BAD_INPUT_FEED_TOKEN": "feed-secret-93c1a7d2f4",
    "BAD_INPUT_APPLY_KEY": "apply-secret-0d5e62b8a9",
    "BAD_INPUT_LEVER_KEY": "lever-api-secret-7a4c19e3b5",
    "BAD_INPUT_LEVER_WEBHOOK": "lever-webhook-secret-c2e8f05d17",
    "BAD_INPUT_LEVER_WEBHOOK_2": "lever-webhook-secret-two-6f3a",
    "BAD_INPUT_APPCAST_TOKEN": "appcast-secret-5d9b0c3e72",
}


def _secret_forms(secret: str) -> list[str]:
    """A secret as written, and as the hub or a library might encode it on the way out."""
    forms = [secret, quote(secret), base64.b64encode(secret.encode()).decode()]
    forms.append(base64.b64encode(f"{secret}:".encode()).decode())  # HTTP Basic, as Lever's API wants
    return forms


async def test_secrets_never_appear_in_logs_or_answers(tmp_path: Path) -> None:
    env = dict(SECRET_ENV)
    lever = FakeLever(count=8, api_key=env["BAD_INPUT_LEVER_KEY"])
    appcast = FakeAppcast(token=env["BAD_INPUT_APPCAST_TOKEN"])
    port = free_port()
    #: Every answer's status, headers and body, with the secret the request itself put in its path (a 404
    #: may echo the path it was asked for: that is the caller's own text, not a leak).
    answers: list[tuple[str, str | None]] = []
    async with contextlib.AsyncExitStack() as peers:
        await peers.enter_async_context(lever.serving())
        await peers.enter_async_context(appcast.serving())
        http = await peers.enter_async_context(aiohttp.ClientSession())
        slack, slack_table = None, ""
        if HAS_SLACK:
            from tests.peers.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack

            slack = FakeSlack()
            await peers.enter_async_context(slack.serving())
            # The fake Slack knows one token and one secret: the hub is given them by environment.
            env |= {"BAD_INPUT_SLACK_BOT_TOKEN": BOT_TOKEN, "BAD_INPUT_SLACK_SIGNING_SECRET": SIGNING_SECRET}
            slack_table = f"""
[slack]
enabled = true
bot_token = "env:BAD_INPUT_SLACK_BOT_TOKEN"
signing_secret = "env:BAD_INPUT_SLACK_SIGNING_SECRET"
api_base_url = "{slack.api_base_url}"
admins = ["{SLACK_ADMIN}"]
"""
        config = write_config(
            tmp_path,
            f"""{slack_table}
[server]
port = {port}
max_body_bytes = {MAX_BODY}
[database]
url = "sqlite://{tmp_path / "hub.sqlite3"}"
migrate_on_start = true
[logging]
level = "DEBUG"
[admin]
api_token = "env:BAD_INPUT_ADMIN_TOKEN"
[sync]
scheduled = false
[events]
poll_seconds = 0.1
backoff_seconds = 0.05
backoff_cap_seconds = 0.1
max_attempts = 2
[pixels]
spool_dir = "{tmp_path / "spool"}"
flush_seconds = 0.2
[accounts.acme]
adapter = "lever"
company = "Acme"
feed_policy = "all-open"
feed_token = "env:BAD_INPUT_FEED_TOKEN"
apply_key = "env:BAD_INPUT_APPLY_KEY"
[accounts.acme.stages]
"{INTERVIEW_STAGE}" = "interview"
[accounts.acme.lever]
site = "{lever.site}"
api_key = "env:BAD_INPUT_LEVER_KEY"
base_url = "{lever.url}"
webhook_tokens = ["env:BAD_INPUT_LEVER_WEBHOOK", "env:BAD_INPUT_LEVER_WEBHOOK_2"]
rate_per_second = 1000.0
[accounts.acme.appcast]
client_id = "client-42"
ent_id = "ent-7"
events_url = "{appcast.events_url}"
bearer_token = "env:BAD_INPUT_APPCAST_TOKEN"
funnel_events = ["hired", "interview"]
""",
        )
        with contextlib.ExitStack() as stack:
            process = await asyncio.to_thread(stack.enter_context, hub_process(config, port, env=env))
            base = f"http://127.0.0.1:{port}"

            async def call(method: str, path: str, echoes: str | None = None, **kwargs: Any) -> int:
                async with http.request(method, URL(base + path, encoded=True), **kwargs) as response:
                    text = await response.text(errors="replace")
                    answers.append((f"{response.status} {dict(response.headers)} {text}", echoes))
                    return response.status

            admin = {"Authorization": f"Bearer {env['BAD_INPUT_ADMIN_TOKEN']}"}
            apply_key = {"Authorization": f"Bearer {env['BAD_INPUT_APPLY_KEY']}"}
            # Right secrets: a sync, a switch, a feed, a webhook that becomes a delivery, an application.
            assert await call("POST", "/api/accounts/acme/sync", headers=admin) == 200
            posting = sorted(lever.postings_asking("plain"))[0]
            assert (
                await call("POST", "/api/accounts/acme/jobs/enable", headers=admin, json={"ids": [posting]})
                == 200
            )
            assert await call("GET", f"/feeds/acme.xml?token={env['BAD_INPUT_FEED_TOKEN']}") == 200
            opportunity = lever.hire(posting=posting, source="Appcast")
            for secret in (env["BAD_INPUT_LEVER_WEBHOOK"], env["BAD_INPUT_LEVER_WEBHOOK_2"]):
                signed = lever.signed_webhook("candidateHired", {"opportunityId": opportunity}, secret=secret)
                assert await call("POST", "/webhooks/acme", data=signed.body) in (200, 202)
            application = {"name": "Ada Lovelace", "email": "ada@example.com"}
            assert await call("POST", f"/apply/acme/{posting}", headers=apply_key, json=application) == 201
            await appcast.wait_for_events(1)
            # Wrong secrets, and right secrets in the wrong places.
            for secret in env.values():
                for header in (f"Bearer {secret}x", f"Basic {secret}", secret):
                    assert await call("GET", "/api/accounts", headers={"Authorization": header}) == 401
                    assert await call(
                        "POST", f"/apply/acme/{posting}", headers={"Authorization": header}, json=application
                    ) == 401  # fmt: skip
                assert await call("GET", f"/feeds/acme.xml?token={secret}x") == 403
                assert await call("GET", f"/api/accounts/{secret}", secret, headers=admin) == 404
                assert await call("GET", f"/feeds/{secret}.xml", secret) == 404
                assert await call("GET", f"/px/acme/view.gif?job={secret}") == 200
                wrong = lever.signed_webhook("candidateHired", secret=secret + "x")
                assert await call("POST", "/webhooks/acme", data=wrong.body) == 401
                assert await call("POST", f"/webhooks/acme?token={secret}", data=b"{}") == 401
            # The ATS and Appcast failing: their errors are logged and answered, the keys are not.
            lever.faults.unauthorized = 20
            assert await call("POST", "/api/accounts/acme/sync", headers=admin) == 502
            assert await call("POST", "/api/accounts/acme/reconcile", headers=admin) == 502
            assert await call("GET", "/api/accounts/acme/stages", headers=admin) == 200
            lever.faults.unauthorized = 0
            appcast.faults.server_errors = 100
            second = lever.hire(posting=posting)
            signed = lever.signed_webhook(
                "candidateHired", {"opportunityId": second}, secret=env["BAD_INPUT_LEVER_WEBHOOK"]
            )
            assert await call("POST", "/webhooks/acme", data=signed.body) == 202
            deadline = time.monotonic() + 10
            while not await a_delivery_is_dead(http, base, admin):
                assert time.monotonic() < deadline, "the failing delivery never went dead"
                await asyncio.sleep(0.1)
            assert await call("GET", "/api/deliveries?state=dead", headers=admin) == 200
            assert await call("GET", "/api/accounts/acme", headers=admin) == 200
            if slack is not None:
                # Slack: the feed (its URL carries the feed token), status, a refusal, forged requests.
                for number, (text, user) in enumerate(
                    [("feed acme", SLACK_ADMIN), ("status acme", SLACK_MEMBER), ("sync acme", SLACK_MEMBER),
                     ("jobs acme", SLACK_ADMIN), (f"jobs acme {env['BAD_INPUT_ADMIN_TOKEN']}", SLACK_ADMIN)]
                ):  # fmt: skip
                    body, headers = slack.slash_command(
                        text, user_id=user, response_url=slack.response_url(f"s{number}")
                    )
                    assert await call("POST", "/slack/events", data=body, headers=headers) == 200
                    answers.append((json.dumps(await slack.wait_response(f"s{number}")), None))
                body, headers = slack.slash_command("help", user_id=SLACK_ADMIN, response_url=slack.url)
                forged = {**headers, "X-Slack-Signature": "v0=" + "0" * 64}
                assert await call("POST", "/slack/events", data=body, headers=forged) == 401
            await asyncio.sleep(0.5)  # a pixel flush and a worker round, logged
            log = process.stop()
    assert "webhook for acme refused" in log, "the hub's log was not captured"
    leaks = [
        (name, form, "log" if form in log else "answer")
        for name, secret in env.items()
        for form in _secret_forms(secret)
        if form in log or any(form in text for text, echoed in answers if echoed != secret)
    ]
    assert not leaks, f"secrets leaked: {leaks}\n{log[-3000:]}"
    assert "Traceback" not in log, log[-3000:]


async def a_delivery_is_dead(http: aiohttp.ClientSession, base: str, admin: dict[str, str]) -> bool:
    """Is a delivery dead yet (asked over the API: the hub is another process)?"""
    async with http.get(f"{base}/api/deliveries?state=dead", headers=admin) as response:
        return (await response.json())["total"] > 0
