"""``hub.http``: reading a peer's ``Retry-After``, and what queued work makes of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest
from aiohttp import web

from hub.http import MAX_QUEUED_RETRY_AFTER, peer_message, retry_after, retry_delay
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
