"""``hub.http``: reading a peer's ``Retry-After`` (and what queued work makes of it), ``Link`` paging, forms,
Basic auth, reads by POST, and a pacer's turns."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.errors import AdapterAuthError, AdapterUnavailable, OutcomeUnknown
from hub.http import (
    MAX_QUEUED_RETRY_AFTER,
    Api,
    Pacer,
    basic_auth,
    pacer,
    peer_message,
    request_json,
    retry_after,
    retry_delay,
    unlimited,
)
from hub.testing.peers import running


async def answered_with(header: str | None) -> float | None:
    """``retry_after`` of a real answer carrying ``Retry-After: header`` (or none)."""

    async def busy(request: web.Request) -> web.Response:
        return web.Response(status=503, headers={"Retry-After": header} if header is not None else {})

    app = web.Application()
    app.router.add_get("/", busy)
    async with running(app) as url, aiohttp.ClientSession() as http, http.get(url) as response:
        return retry_after(response)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), ("0", 0.0), (" 7 ", 7.0), ("1.5", 1.5), ("-3", 0.0), (None, None), ("", None),
     ("soon", None), ("Mon, 99 Foo 2026 00:00:00 GMT", None)],
)  # fmt: skip
async def test_retry_after_in_seconds(header: str | None, seconds: float | None) -> None:
    assert await answered_with(header) == seconds


async def test_retry_after_as_an_http_date() -> None:
    later = datetime.now(UTC) + timedelta(seconds=90)
    seconds = await answered_with(format_datetime(later, usegmt=True))
    assert seconds is not None
    assert 80 <= seconds <= 90
    assert await answered_with("Sun, 06 Nov 1994 08:49:37 GMT") == 0.0  # already past: no wait


def test_queued_work_waits_at_least_what_the_peer_asked() -> None:
    assert retry_delay(2.0, None) == 2.0
    assert retry_delay(2.0, 30) == 30
    assert retry_delay(2.0, 1) == 2.0  # our backoff was longer
    assert retry_delay(2.0, 1e12) == MAX_QUEUED_RETRY_AFTER  # a garbled header


def test_peer_message_finds_the_peers_own_words() -> None:
    jsonapi = {
        "errors": [
            {"detail": "can't be blank", "source": {"pointer": "/data/attributes/email"}},
            {"title": "Email is invalid", "source": {"pointer": "/data/attributes/email"}},
            {"source": {"pointer": "/data/attributes/phone"}},
            {"code": "taken"},
            "a plain string",
            7,
        ]
    }
    assert (
        peer_message(jsonapi)
        == "email: can't be blank; Email is invalid; phone is invalid; taken; a plain string"
    )
    assert peer_message({"ok": False, "error": "This posting is closed"}) == "This posting is closed"
    assert peer_message({"code": "BadRequestError", "message": "Bad field"}) == "Bad field"
    assert peer_message({"error": {"message": "nested"}}) == "nested"
    assert peer_message("  Service refused  ") == "Service refused"
    assert peer_message(None) == peer_message({"errors": "nope"}) == ""
    assert len(peer_message("x" * 5000)) == 300


def peer() -> web.Application:
    """A peer paging by ``Link`` headers, taking a form at ``/token``, failing two POSTs with a 503."""
    app = web.Application()
    calls: dict[str, int] = {}

    async def items(request: web.Request) -> web.Response:
        page = int(request.query.get("page", "1"))
        headers = {"Link": f'<{request.url.with_query(page=page + 1)}>; rel="next"'} if page < 3 else {}
        return web.json_response([page], headers=headers)

    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        return web.json_response(
            {"grant": form.get("grant_type"), "auth": request.headers.get("Authorization")}
        )

    async def search(request: web.Request) -> web.Response:
        calls["search"] = calls.get("search", 0) + 1
        if calls["search"] <= 2:  # the first two fail: the first call, then the second's first attempt
            return web.Response(status=503)
        return web.json_response({"found": await request.json()})

    app.router.add_get("/v1/items", items)
    app.router.add_post("/token", token)
    app.router.add_post("/search", search)
    return app


async def test_link_header_pages_are_followed_only_under_the_api_root() -> None:
    async with running(peer()) as url, aiohttp.ClientSession() as http:
        api = Api(http, url, peer="Peer", backoff_base=0.001)
        pages, cursor = [], "/v1/items"
        while cursor is not None:
            body, cursor = await api.get_page(cursor)
            pages.append(body)
        assert pages == [[1], [2], [3]]
        assert api.url(f"{url}/v1/items?page=2") == f"{url}/v1/items?page=2"
        for elsewhere in (
            "https://evil.example/v1/items",
            url.replace("127.0.0.1", "localhost") + "/v1/items",
        ):
            with pytest.raises(AdapterUnavailable, match=r"^Peer sent a link outside its API: not followed$"):
                await api.get(elsewhere)


async def test_a_form_body_and_basic_auth() -> None:
    async with running(peer()) as url, aiohttp.ClientSession() as http:
        answer = await request_json(
            http, "POST", f"{url}/token", peer="Peer", form_body={"grant_type": "client_credentials"},
            headers=basic_auth("client", "s3cret"), idempotent=True,
        )  # fmt: skip
    assert answer == {"grant": "client_credentials", "auth": "Basic Y2xpZW50OnMzY3JldA=="}
    assert basic_auth("key") == {"Authorization": "Basic a2V5Og=="}, "the key as user name, no password"


async def test_a_read_by_post_is_retried_only_when_said_idempotent() -> None:
    async with running(peer()) as url, aiohttp.ClientSession() as http:
        api = Api(http, url, peer="Peer", backoff_base=0.001)
        with pytest.raises(OutcomeUnknown):
            await api.post("/search", {"q": "x"})
        assert await api.post("/search", {"q": "y"}, idempotent=True) == {"found": {"q": "y"}}


async def test_a_create_answered_with_what_is_not_json_is_never_sent_again() -> None:
    calls: list[str] = []

    async def created(request: web.Request) -> web.Response:
        calls.append(request.method)
        return web.Response(status=201, text="<html>Created</html>")

    app = web.Application()
    app.router.add_route("*", "/things", created)
    async with running(app) as url, aiohttp.ClientSession() as http:
        api = Api(http, url, peer="Peer", backoff_base=0.001)
        with pytest.raises(
            OutcomeUnknown, match="not JSON \\(HTTP 201\\): the request may have taken effect"
        ):
            await api.post("/things", {"name": "x"})
        assert calls == ["POST"], "sent once"
        with pytest.raises(AdapterUnavailable, match="not JSON \\(after 4 attempts\\)"):
            await api.get("/things")
        assert calls == ["POST", "GET", "GET", "GET", "GET"], "a read is retried"


async def test_a_refused_credential_is_reported_before_the_error() -> None:
    async def refused(request: web.Request) -> web.Response:
        return web.Response(status=401)

    app = web.Application()
    app.router.add_get("/me", refused)
    dropped: list[str] = []
    async with running(app) as url, aiohttp.ClientSession() as http:
        api = Api(http, url, peer="Peer", on_auth_error=lambda: dropped.append("token"))
        for call in (api.get("/me"), api.get_page("/me")):
            with pytest.raises(AdapterAuthError):
                await call
    assert dropped == ["token", "token"]


async def test_a_pacer_books_turns_one_after_another_for_callers_that_come_back() -> None:
    pace = Pacer(1.0)  # a turn a second
    assert await pace.turn("a", 0.5) is None, "the first turn is now"
    # b's turn is a second away, c's two: each is booked its own, not both told the same time.
    b = await pace.turn("b", 0.5)
    c = await pace.turn("c", 0.5)
    assert b is not None
    assert c is not None
    assert 0.5 < b <= 1.0
    assert 1.5 < c <= 2.0
    again = await pace.turn("b", 0.5)
    assert again is not None
    assert again <= b, "coming back early keeps the turn booked, and books no other"
    assert await pace.turn("b", 1.5) is None, "b takes its turn once it is within what b waits"
    d = await pace.turn("d", 0.5)
    assert d is not None
    assert d > c - 1.0, "a newcomer's turn is after every turn booked"


async def test_callers_coming_back_late_together_wait_no_longer_than_they_may() -> None:
    # Booked turns a tenth of a second apart, and the callers all held up past them (a slow batch): they
    # come back together. Two turns fall within what each may wait (0.15 s); the others are booked again,
    # each its own turn, rather than all let through to wait up to half a second.
    pace = Pacer(10.0)
    assert await pace.turn("first", 0.0) is None
    late = [f"late-{n}" for n in range(5)]
    booked = [await pace.turn(key, 0.0) for key in late]
    assert all(wait is not None and wait > 0 for wait in booked)
    await asyncio.sleep(0.7)  # every booked turn has passed
    again = await asyncio.gather(*(pace.turn(key, 0.15) for key in late))
    assert sum(wait is None for wait in again) == 2, again
    rebooked = sorted(wait for wait in again if wait is not None)
    assert len(rebooked) == 3
    assert all(later - earlier >= 0.099 for earlier, later in itertools.pairwise(rebooked)), rebooked


def test_pacers_are_shared_by_key_and_off_in_tests_that_ask() -> None:
    async def pacers() -> tuple[Any, Any, Any, Any]:
        first, same, other = pacer("slack", 1.0), pacer("slack", 1.0), pacer("other", 1.0)
        with unlimited():
            off = pacer("slack", 1.0)
        return first, same, other, off

    first, same, other, off = asyncio.run(pacers())
    assert first is same
    assert other is not first
    assert off is None
