"""The ``appcast`` destination: payloads, deliveries against a fake Appcast on a real socket, pixels, feed."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.errors import AdapterAuthError, AdapterUnavailable, ConfigError
from hub.normalised import Account, Delivery, Event, Job, candidate_hash
from hub.options import validate_options
from hub.plugins import PluginHost
from hub.testing import make_account
from hub.testing.appcast import PAYLOAD_KEYS, FakeAppcast, shape_problem
from hub.testing.peers import running
from plugins.appcast import const, plugin
from plugins.appcast.pixels import js_string

TOKEN = "ac-secret-token-0123456789"
EMAIL = "Grace.Hopper@example.com"
NAME = "Grace Hopper"
MISSING = object()
HOSTILE_IDS = (
    '"</script><script>alert(1)</script>',
    "</SCRIPT ><!--",
    "'; alert(1); //",
    '" onload="alert(1)',
    "a\u2028b\u2029c",
    "&lt;&amp;\\\\\n\r\t\x00",
    "\ud800lone-surrogate",
    "日本語-42",
)


# --- fixtures and helpers -----------------------------------------------------------------------------


@pytest.fixture
async def appcast() -> AsyncIterator[FakeAppcast]:
    fake = FakeAppcast(token=TOKEN)
    async with fake.serving():
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def options_for(tmp_path: Path, **table: Any) -> dict[str, Any]:
    """The account's ``[accounts.acme.appcast]`` table, validated as the hub does at start-up."""
    raw = {"client_id": "client-77", "ent_id": "ent-56"} | table
    return validate_options(
        plugin.appcast_hub_plugin_info().options, raw, key="accounts.acme.appcast", base_dir=tmp_path
    )


def account_for(options: dict[str, Any]) -> Account:
    return make_account("file", {"file": {}, "appcast": options}, name="acme", company="Acme Ltd")


@pytest.fixture
def host() -> PluginHost:
    plugins = PluginHost()
    assert plugins.register("appcast", plugin), plugins.broken
    return plugins


def hired_event(**changes: Any) -> Event:
    fields: dict[str, Any] = {
        "kind": "hired",
        "dedupe_key": "lever:evt-1",
        "occurred_at": datetime(2026, 11, 22, 11, 0, 0, 250_000, tzinfo=timezone(timedelta(hours=1))),
        "ats_job_id": "job-123",
        "ats_application_id": "app-456",
        "ats_candidate_id": "cand-789",
        "from_stage_id": "stage-offer",
        "to_stage_id": "stage-hired",
        "stage_name": "Hired",
        "workflow": "Default",
        "source": "Appcast",
        "candidate_hash": candidate_hash(EMAIL),
        "ats_event": "candidateHired",
    }
    return Event(**(fields | changes))


def a_job(ats_id: str = "job-123") -> Job:
    return Job(ats_id=ats_id, title=f"Nurse for {NAME}", posted_at=datetime(2026, 11, 1, tzinfo=UTC))


def delivery(payload: dict[str, Any], key: str = "delivery-1", attempt: int = 1) -> Delivery:
    return Delivery(id=1, destination="appcast", payload=payload, idempotency_key=key, attempt=attempt)


async def build(host: PluginHost, options: dict[str, Any], funnel_event: str, **kwargs: Any) -> Any:
    """The payload the hub would store, by broadcasting as the hub does; None if none was built."""
    event = kwargs.pop("event", None) or hired_event()
    results = await host.broadcast(
        "appcast_hub_build_delivery",
        account_for(options),
        event=event,
        funnel_event=funnel_event,
        job=kwargs.pop("job", a_job()),
    )
    assert len(results) <= 1
    return results[0][1] if results else None


async def deliver(
    host: PluginHost, options: dict[str, Any], http: aiohttp.ClientSession, payload: dict[str, Any], **kw: Any
) -> None:
    await host.call(
        "appcast", "appcast_hub_deliver", account_for(options), delivery=delivery(payload, **kw), http=http
    )


def sample_payload() -> dict[str, Any]:
    return plugin.appcast_hub_build_delivery(
        {"client_id": "c", "ent_id": "e", "events_url": "http://x", "funnel_events": ["hired"]},
        hired_event(),
        "hired",
        a_job(),
    )  # type: ignore[return-value]


# --- plugin info and options --------------------------------------------------------------------------


def test_registers_as_a_destination(host: PluginHost) -> None:
    info = host.info("appcast")
    assert info.kind == "destination"
    assert info.secret_names() == {"bearer_token"}
    for hook in (
        "appcast_hub_build_delivery",
        "appcast_hub_deliver",
        "appcast_hub_pixel_snippet",
        "appcast_hub_feed_job_elements",
    ):
        assert host.implements("appcast", hook), hook


def test_option_defaults(tmp_path: Path) -> None:
    options = options_for(tmp_path)
    assert options["funnel_events"] == ["hired"]
    assert options["timeout_seconds"] == 10.0
    assert options["events_url"] is None
    assert options["cpc"] is None


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"client_id": MISSING}, "client_id"),
        ({"funnel_events": ["hire"]}, "funnel_events"),
        ({"funnel_events": "hired"}, "funnel_events"),
        ({"events_url": "ftp://appcast.example/events"}, "events_url"),
        ({"events_url": "appcast.example/events"}, "events_url"),
        ({"pixel_id": True}, "pixel_id"),
        ({"pixel_slug": 'acme"><script>'}, "pixel_slug"),
        ({"cpc": -0.1}, "cpc"),
        ({"cpc": float("nan")}, "cpc"),
        ({"cpc": True}, "cpc"),
        ({"timeout_seconds": "10"}, "timeout_seconds"),
        ({"bearer": TOKEN}, "bearer"),
    ],
)
def test_bad_options_fail_loudly(tmp_path: Path, table: dict[str, Any], key: str) -> None:
    raw = {
        name: value
        for name, value in ({"client_id": "c", "ent_id": "e"} | table).items()
        if value is not MISSING
    }
    with pytest.raises(ConfigError) as caught:
        validate_options(
            plugin.appcast_hub_plugin_info().options, raw, key="accounts.a.appcast", base_dir=tmp_path
        )
    assert caught.value.key == f"accounts.a.appcast.{key}"


def test_pixel_id_may_be_an_integer_and_cpc_whole(tmp_path: Path) -> None:
    options = options_for(tmp_path, pixel_slug="acme", pixel_id=1234, cpc=1)
    assert options["pixel_id"] == 1234
    assert options["cpc"] == 1


# --- building the payload -----------------------------------------------------------------------------


async def test_hired_payload_is_exactly_the_spec(host: PluginHost, tmp_path: Path) -> None:
    options = options_for(tmp_path, events_url="https://appcast.example/events")
    payload = await build(host, options, "hired")
    assert payload == {
        "event": "hired",
        "client_id": "client-77",
        "ent_id": "ent-56",
        "job_reference": "job-123",
        "application_id": "app-456",
        "candidate_hash": candidate_hash(EMAIL),
        "source": "Appcast",
        "stage": {"id": "stage-hired", "name": "Hired"},
        "occurred_at": "2026-11-22T10:00:00Z",
    }
    assert set(payload) == PAYLOAD_KEYS
    assert shape_problem(payload) is None
    # The payload is stored in the outbox as JSON: it must survive the trip unchanged.
    assert json.loads(json.dumps(payload)) == payload


async def test_payload_carries_no_personal_data(host: PluginHost, tmp_path: Path) -> None:
    options = options_for(tmp_path, events_url="https://appcast.example/events")
    text = json.dumps(await build(host, options, "hired")).lower()
    for personal in (EMAIL.lower(), "grace", "hopper", "@", "cand-789", "nurse"):
        assert personal not in text, personal
    assert candidate_hash(EMAIL) in text


async def test_payload_without_stage_job_id_or_hash(host: PluginHost, tmp_path: Path) -> None:
    options = options_for(tmp_path, events_url="https://appcast.example/events")
    event = hired_event(
        ats_job_id=None,
        to_stage_id=None,
        stage_name=None,
        candidate_hash=None,
        source=None,
        occurred_at=datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
    )
    payload = await build(host, options, "hired", event=event, job=a_job("job-from-mirror"))
    assert payload["stage"] is None
    assert payload["job_reference"] == "job-from-mirror"
    assert payload["candidate_hash"] is None
    assert payload["source"] is None
    assert payload["occurred_at"] == "2026-11-22T10:00:00Z"
    payload = await build(host, options, "hired", event=event, job=None)
    assert payload["job_reference"] is None
    assert shape_problem(payload) is None


async def test_stage_changed_payload(host: PluginHost, tmp_path: Path) -> None:
    options = options_for(tmp_path, events_url="https://x.example/e", funnel_events=["interview", "hired"])
    event = hired_event(kind="stage_changed", to_stage_id="s-3", stage_name="On-site interview")
    payload = await build(host, options, "interview", event=event)
    assert payload["event"] == "interview"
    assert payload["stage"] == {"id": "s-3", "name": "On-site interview"}


async def test_funnel_events_filter(host: PluginHost, tmp_path: Path) -> None:
    default = options_for(tmp_path, events_url="https://appcast.example/events")
    assert await build(host, default, "hired") is not None
    for other in ("applied", "screen", "interview", "offer"):
        assert await build(host, default, other) is None, other
    chosen = options_for(
        tmp_path, events_url="https://appcast.example/events", funnel_events=["applied", "offer"]
    )
    assert (await build(host, chosen, "applied"))["event"] == "applied"
    assert (await build(host, chosen, "offer"))["event"] == "offer"
    assert await build(host, chosen, "hired") is None
    nothing = options_for(tmp_path, events_url="https://appcast.example/events", funnel_events=[])
    assert await build(host, nothing, "hired") is None


async def test_no_events_url_builds_no_delivery(host: PluginHost, tmp_path: Path) -> None:
    assert await build(host, options_for(tmp_path), "hired") is None


async def test_inactive_without_a_table(host: PluginHost, tmp_path: Path) -> None:
    account = account_for(options_for(tmp_path, events_url="https://appcast.example/events", cpc=0.4))
    account = dataclasses.replace(account, plugin_options={"file": {}})
    assert not host.has_active("appcast_hub_feed_job_elements", account)
    results = await host.broadcast(
        "appcast_hub_build_delivery", account, event=hired_event(), funnel_event="hired", job=None
    )
    assert results == []


# --- delivering -----------------------------------------------------------------------------------------


async def test_deliver_posts_the_payload_with_key_and_bearer(
    host: PluginHost, appcast: FakeAppcast, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    options = options_for(tmp_path, events_url=appcast.events_url, bearer_token=TOKEN)
    payload = await build(host, options, "hired")
    assert await deliver(host, options, http, payload, key="outbox-42") is None
    (received,) = appcast.received
    assert received.key == "outbox-42"
    assert received.headers["Idempotency-Key"] == "outbox-42"
    assert received.authorization == f"Bearer {TOKEN}"
    assert received.content_type == "application/json"
    assert received.body == payload
    assert appcast.keys() == ["outbox-42"]
    assert appcast.faults.requests == ["POST /events"]


async def test_deliver_without_a_token_sends_no_authorization(
    host: PluginHost, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    open_appcast = FakeAppcast()
    async with open_appcast.serving():
        options = options_for(tmp_path, events_url=open_appcast.events_url)
        await deliver(host, options, http, sample_payload())
    (received,) = open_appcast.events
    assert received.authorization is None


async def test_non_ascii_payload_is_sent_as_utf8_json(
    host: PluginHost, appcast: FakeAppcast, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    options = options_for(tmp_path, events_url=appcast.events_url, bearer_token=TOKEN)
    event = hired_event(stage_name="Embauché ✓", ats_job_id="職-1")
    payload = await build(host, options, "hired", event=event)
    await deliver(host, options, http, payload)
    assert appcast.events[0].body == payload


async def test_a_retried_delivery_is_a_duplicate_not_a_second_event(
    host: PluginHost, appcast: FakeAppcast, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    options = options_for(tmp_path, events_url=appcast.events_url, bearer_token=TOKEN)
    payload = sample_payload()
    await deliver(host, options, http, payload, key="k-1", attempt=1)
    await deliver(host, options, http, payload, key="k-1", attempt=2)
    await deliver(host, options, http, payload, key="k-2", attempt=1)
    assert appcast.keys() == ["k-1", "k-2"]
    assert len(appcast.events) == 2
    assert len(appcast.received) == 3
    assert appcast.duplicates == 1
    assert appcast.conflicts == []


async def test_server_error_is_unavailable_after_one_attempt(
    host: PluginHost, appcast: FakeAppcast, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    options = options_for(tmp_path, events_url=appcast.events_url, bearer_token=TOKEN)
    appcast.faults.server_errors = 3
    with pytest.raises(AdapterUnavailable) as caught:
        await deliver(host, options, http, sample_payload())
    assert not isinstance(caught.value, AdapterAuthError)
    assert caught.value.status == 503
    assert "503" in str(caught.value)
    assert "Appcast" in str(caught.value)
    # No retry inside the plugin: the outbox owns retries and backoff.
    assert len(appcast.faults.requests) == 1
    assert appcast.events == []


async def test_unauthorised_is_an_auth_error_without_the_token(
    host: PluginHost, appcast: FakeAppcast, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    wrong = "wrong-token-abcdefghijklmnop"
    url = f"{appcast.events_url}?api_key=query-secret-xyz"
    options = options_for(tmp_path, events_url=url, bearer_token=wrong)
    with pytest.raises(AdapterAuthError) as caught:
        await deliver(host, options, http, sample_payload())
    assert caught.value.status == 401
    message = str(caught.value)
    assert "401" in message
    assert wrong not in message
    assert TOKEN not in message
    assert "query-secret-xyz" not in message
    assert appcast.url not in message
    assert appcast.counters.rejected_auth == 1


async def test_missing_token_is_refused(
    host: PluginHost, appcast: FakeAppcast, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    options = options_for(tmp_path, events_url=appcast.events_url)
    with pytest.raises(AdapterUnavailable) as caught:
        await deliver(host, options, http, sample_payload())
    assert caught.value.status == 401


async def test_echoed_token_is_scrubbed_from_errors(
    host: PluginHost, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(status=400, text=f"bad request; you sent {request.headers['Authorization']}")

    app = web.Application()
    app.router.add_post("/events", echo)
    async with running(app) as url:
        options = options_for(tmp_path, events_url=f"{url}/events", bearer_token=TOKEN)
        with pytest.raises(AdapterUnavailable) as caught:
            await deliver(host, options, http, sample_payload())
    assert caught.value.status == 400
    assert TOKEN not in str(caught.value)
    assert "bad request" in str(caught.value)


@pytest.mark.parametrize("status", [400, 404, 408, 409, 422, 429, 500, 502])
async def test_every_other_status_is_unavailable(
    host: PluginHost, appcast: FakeAppcast, http: aiohttp.ClientSession, tmp_path: Path, status: int
) -> None:
    options = options_for(tmp_path, events_url=appcast.events_url, bearer_token=TOKEN)
    appcast.statuses = deque([status])
    with pytest.raises(AdapterUnavailable) as caught:
        await deliver(host, options, http, sample_payload())
    assert caught.value.status == status
    assert str(status) in str(caught.value)
    assert not isinstance(caught.value, AdapterAuthError)
    assert TOKEN not in str(caught.value)


async def test_rate_limit_passes_retry_after_on(
    host: PluginHost, appcast: FakeAppcast, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    options = options_for(tmp_path, events_url=appcast.events_url, bearer_token=TOKEN)
    appcast.faults.rate_limited, appcast.faults.retry_after = 1, 7
    with pytest.raises(AdapterUnavailable) as caught:
        await deliver(host, options, http, sample_payload())
    assert caught.value.status == 429
    assert caught.value.retry_after == 7


async def test_a_2xx_without_a_json_body_is_delivered(
    host: PluginHost, appcast: FakeAppcast, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    options = options_for(tmp_path, events_url=appcast.events_url, bearer_token=TOKEN)
    appcast.faults.malformed = 1  # 200 with "<html>not json"
    await deliver(host, options, http, sample_payload())
    appcast.statuses = deque([204])
    await deliver(host, options, http, sample_payload())


async def test_redirects_are_not_followed(
    host: PluginHost, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    seen: list[str] = []

    async def moved(request: web.Request) -> web.Response:
        seen.append(request.path)
        raise web.HTTPTemporaryRedirect("/elsewhere")

    app = web.Application()
    app.router.add_post("/events", moved)
    app.router.add_route("*", "/elsewhere", moved)
    async with running(app) as url:
        options = options_for(tmp_path, events_url=f"{url}/events", bearer_token=TOKEN)
        with pytest.raises(AdapterUnavailable) as caught:
            await deliver(host, options, http, sample_payload())
    assert caught.value.status == 307
    assert seen == ["/events"]


async def test_timeout_is_unavailable(
    host: PluginHost, appcast: FakeAppcast, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    options = options_for(tmp_path, events_url=appcast.events_url, bearer_token=TOKEN, timeout_seconds=0.05)
    appcast.faults.delay = 0.3
    started = time.monotonic()
    with pytest.raises(AdapterUnavailable) as caught:
        await deliver(host, options, http, sample_payload())
    assert time.monotonic() - started < 0.25
    assert caught.value.status is None
    assert "0.05s" in str(caught.value)
    assert TOKEN not in str(caught.value)


async def test_unreachable_is_unavailable(
    host: PluginHost, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    fake = FakeAppcast()
    async with fake.serving():
        url = fake.events_url  # the port is free again once the block ends
    options = options_for(tmp_path, events_url=f"{url}?key=query-secret", bearer_token=TOKEN)
    with pytest.raises(AdapterUnavailable) as caught:
        await deliver(host, options, http, sample_payload())
    assert "unreachable" in str(caught.value)
    assert "query-secret" not in str(caught.value)


async def test_lost_answer_then_retry_is_one_event(
    host: PluginHost, appcast: FakeAppcast, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    options = options_for(tmp_path, events_url=appcast.events_url, bearer_token=TOKEN)
    appcast.lose_answers = 1
    with pytest.raises(AdapterUnavailable):
        await deliver(host, options, http, sample_payload(), key="k-lost", attempt=1)
    await deliver(host, options, http, sample_payload(), key="k-lost", attempt=2)
    assert appcast.keys() == ["k-lost"]
    assert appcast.duplicates == 1
    assert appcast.counters.lost_answers == 1


async def test_deliver_without_events_url_is_unavailable(
    host: PluginHost, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    with pytest.raises(AdapterUnavailable, match="events_url"):
        await deliver(host, options_for(tmp_path), http, sample_payload())


async def test_thousands_of_events(
    host: PluginHost, appcast: FakeAppcast, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    options = options_for(tmp_path, events_url=appcast.events_url, bearer_token=TOKEN)
    payload = sample_payload()
    count = 2000
    gate = asyncio.Semaphore(50)

    async def one(number: int) -> None:
        async with gate:
            await deliver(host, options, http, payload, key=f"k-{number % (count // 2)}")

    started = time.monotonic()
    await asyncio.gather(*(one(n) for n in range(count)))
    assert len(await appcast.wait_for_events(count // 2, timeout=1)) == count // 2
    assert appcast.duplicates == count // 2
    assert len(appcast.received) == count
    assert time.monotonic() - started < 20


async def test_fake_refuses_what_is_not_an_event(appcast: FakeAppcast, http: aiohttp.ClientSession) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with http.post(appcast.events_url, json=sample_payload(), headers=auth) as answer:
        assert answer.status == 400  # no Idempotency-Key
    async with http.post(appcast.events_url, data=b"[1]", headers=auth | {"Idempotency-Key": "x"}) as answer:
        assert answer.status == 400
    bad = sample_payload() | {"email": EMAIL}
    async with http.post(appcast.events_url, json=bad, headers=auth | {"Idempotency-Key": "x"}) as answer:
        assert answer.status == 422
        assert "email" in (await answer.json())["error"]
    assert appcast.events == []
    assert appcast.counters.rejected_bad == 3
    with pytest.raises(TimeoutError):
        await appcast.wait_for_events(1, timeout=0.05)


# --- pixels -----------------------------------------------------------------------------------------------


class _Tags(HTMLParser):
    """The elements of a snippet: (tag, attributes) and each script's text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


async def snippet(
    host: PluginHost, options: dict[str, Any], page: str, job_id: str | None, single: bool
) -> Any:
    results = await host.broadcast(
        "appcast_hub_pixel_snippet", account_for(options), page=page, job_id=job_id, single_page=single
    )
    return results[0][1] if results else None


PIXEL = "https://click.appcast.io/pixels/acme-1234.js?ent=56"


@pytest.mark.parametrize("page", ["job", "confirmation"])
async def test_classic_snippet_is_the_script_tag(host: PluginHost, tmp_path: Path, page: str) -> None:
    options = options_for(tmp_path, pixel_script_url=PIXEL)
    for job_id in (None, "job-1", *HOSTILE_IDS):
        html = await snippet(host, options, page, job_id, False)
        assert html == '<script src="https://click.appcast.io/pixels/acme-1234.js?ent=56" async></script>'
        tags = _Tags(html)
        assert tags.tags == [("script", {"src": PIXEL, "async": None})]


@pytest.mark.parametrize(("page", "event"), [("job", "view"), ("confirmation", "apply")])
async def test_single_page_snippet_pushes_the_event(
    host: PluginHost, tmp_path: Path, page: str, event: str
) -> None:
    options = options_for(tmp_path, pixel_script_url=PIXEL)
    html = await snippet(host, options, page, "job-1", True)
    assert html == (
        f'<script src="{PIXEL}" async></script>\n'
        "<script>window.acDataLayer = window.acDataLayer || []; "
        f'window.acDataLayer.push({{event: "{event}", jid: "job-1"}});</script>'
    )
    html = await snippet(host, options, page, None, True)
    assert f'window.acDataLayer.push({{event: "{event}", jid: "JOB_ID"}});' in html  # a template


@pytest.mark.parametrize("job_id", HOSTILE_IDS)
@pytest.mark.parametrize("page", ["job", "confirmation"])
async def test_hostile_job_ids_stay_inside_their_string(
    host: PluginHost, tmp_path: Path, page: str, job_id: str
) -> None:
    options = options_for(tmp_path, pixel_script_url=PIXEL)
    html = await snippet(host, options, page, job_id, True)
    tags = _Tags(html)
    # Exactly the two script elements: the id opened no element and closed none.
    assert [tag for tag, _ in tags.tags] == ["script", "script"]
    assert tags.tags[0][1] == {"src": PIXEL, "async": None}
    inline = tags.scripts[1]
    assert html.count("</script>") == 2
    for dangerous in ("<", ">", "&", "\u2028", "\u2029"):
        assert dangerous not in inline
    assert all(" " <= ch <= "~" for ch in inline), "only printable ASCII in the inline script"
    literal = re.fullmatch(
        r"window\.acDataLayer = window\.acDataLayer \|\| \[\]; "
        r'window\.acDataLayer\.push\(\{event: "(?:view|apply)", jid: ("(?:[^"\\]|\\.)*")\}\);',
        inline,
    )
    assert literal is not None, inline
    # The literal is a JSON string too: decoding it gives back exactly the id the request carried.
    assert json.loads(literal.group(1)) == job_id


def test_js_string_escapes() -> None:
    assert js_string("</script>") == '"\\u003c/script\\u003e"'
    assert js_string("a&b") == '"a\\u0026b"'
    assert js_string("\u2028\u2029") == '"\\u2028\\u2029"'
    assert js_string('"\\') == '"\\"\\\\"'


async def test_pixel_from_slug_and_id(host: PluginHost, tmp_path: Path) -> None:
    options = options_for(tmp_path, pixel_slug="acme", pixel_id=1234, ent_id="56")
    html = await snippet(host, options, "job", "j", False)
    assert html == f'<script src="{PIXEL}" async></script>'
    options = options_for(tmp_path, pixel_slug="acme", pixel_id="1234", ent_id="a&b c")
    (tag,) = _Tags(await snippet(host, options, "job", "j", False)).tags
    assert tag[1]["src"] == "https://click.appcast.io/pixels/acme-1234.js?ent=a%26b%20c"


async def test_script_url_wins_and_is_escaped_for_its_attribute(host: PluginHost, tmp_path: Path) -> None:
    url = 'https://click.appcast.io/pixels/x-1.js?ent=5&v="2"'
    options = options_for(tmp_path, pixel_script_url=url, pixel_slug="acme", pixel_id=9)
    html = await snippet(host, options, "confirmation", None, False)
    assert "&amp;" in html
    assert "&quot;" in html
    assert _Tags(html).tags == [("script", {"src": url, "async": None})]


async def test_no_pixel_settings_no_snippet(host: PluginHost, tmp_path: Path) -> None:
    for table in ({}, {"pixel_slug": "acme"}, {"pixel_id": 1234}):
        options = options_for(tmp_path, **table)
        for single in (False, True):
            assert await snippet(host, options, "job", "j", single) is None


async def test_unknown_page_no_snippet(host: PluginHost, tmp_path: Path) -> None:
    options = options_for(tmp_path, pixel_script_url=PIXEL)
    assert await snippet(host, options, "home", "j", True) is None


# --- feed ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cpc", "text"), [(0.45, "0.45"), (1, "1.00"), (0.455001, "0.46"), (12.5, "12.50")])
def test_feed_cpc(host: PluginHost, tmp_path: Path, cpc: float, text: str) -> None:
    account = account_for(options_for(tmp_path, cpc=cpc))
    assert host.has_active("appcast_hub_feed_job_elements", account)
    elements = host.broadcast_sync("appcast_hub_feed_job_elements", account, job=a_job(), bid=None)
    assert elements == [[("cpc", text)]]


@pytest.mark.parametrize("default", [None, 0.45])
def test_a_jobs_own_bid_wins_over_the_default(
    host: PluginHost, tmp_path: Path, default: float | None
) -> None:
    account = account_for(options_for(tmp_path, **({} if default is None else {"cpc": default})))
    elements = host.broadcast_sync("appcast_hub_feed_job_elements", account, job=a_job(), bid=Decimal("1.5"))
    assert elements == [[("cpc", "1.50")]]
    elements = host.broadcast_sync("appcast_hub_feed_job_elements", account, job=a_job(), bid=Decimal(0))
    assert elements == [[("cpc", "0.00")]]  # a bid of nothing is a bid, not the default


def test_feed_without_cpc_adds_nothing(host: PluginHost, tmp_path: Path) -> None:
    account = account_for(options_for(tmp_path))
    assert host.broadcast_sync("appcast_hub_feed_job_elements", account, job=a_job(), bid=None) == []
    assert const.NAME == "appcast"
