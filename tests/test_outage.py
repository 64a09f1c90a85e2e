"""A database outage: pixels keep answering and every hit is counted afterwards, everything else answers
503 with ``Retry-After`` (never 500), and the hub recovers by itself once the database is back.

The hub runs as a process on a PostgreSQL server of this test's own, which the test shuts down and starts
again: the session's shared server cannot be stopped under the other tests.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from hub import db
from hub.signatures import sign
from tests.conftest import SAMPLE_JOBS, free_port, hub_process, throwaway_postgres, write_config
from tests.peers.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.pgserver import PostgresServer

pytestmark = pytest.mark.postgres

ADMIN = {"Authorization": "Bearer outage-admin-token"}
APPLY = {"Authorization": "Bearer outage-apply-key"}
PLAIN = {"Accept-Encoding": "identity"}
PINPOINT_SECRET = "outage-pinpoint-secret"
SLACK_ADMIN = "UADMIN001"
JOB = "NW-1001"


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A server of this test's own: pausing it must not take the session's down with it."""
    yield from throwaway_postgres()


def _config(database_url: str, port: int, folder: Path, slack: FakeSlack) -> str:
    return f"""
[server]
port = {port}
[database]
url = "{database_url}"
migrate_on_start = true
[admin]
api_token = "{ADMIN["Authorization"].split()[1]}"
[sync]
scheduled = false
[events]
poll_seconds = 0.5
[pixels]
spool_dir = "{folder / "spool"}"
flush_seconds = 0.3
[slack]
enabled = true
bot_token = "{BOT_TOKEN}"
signing_secret = "{SIGNING_SECRET}"
api_base_url = "{slack.api_base_url}"
admins = ["{SLACK_ADMIN}"]
[accounts.demo]
adapter = "file"
company = "Northwind Health"
feed_policy = "all-open"
apply_key = "{APPLY["Authorization"].split()[1]}"
[accounts.demo.file]
path = "{SAMPLE_JOBS}"
[accounts.pin]
adapter = "pinpoint"
company = "Pin"
[accounts.pin.pinpoint]
subdomain = "pin"
api_key = "outage-pinpoint-key"
base_url = "http://127.0.0.1:9"
webhook_secret = "{PINPOINT_SECRET}"
"""


def _pinpoint_webhook(n: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"event": "application_hired", "triggeredAt": int(time.time()), "data": {"application": {"id": n}}}
    ).encode()
    return body, {"PINPOINT-HMAC-SHA256": sign(PINPOINT_SECRET, body, "base64")}


async def _views(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(f"{url}/api/accounts/demo/stats", params={"job": JOB}, headers=ADMIN) as answer:
        assert answer.status == 200, await answer.text()
        return (await answer.json())["views"]


async def _eventually(check, seconds: float = 30.0) -> float:
    """Seconds until ``check()`` (an async predicate) held; fails after ``seconds``."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < seconds, "the hub did not recover in time"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def test_a_database_outage_loses_no_pixel_hit_and_is_503_elsewhere(
    own_postgres: PostgresServer, tmp_path: Path
) -> None:
    slack = FakeSlack()
    port = free_port()
    database_url = await own_postgres.new_database()
    async with slack.serving(), aiohttp.ClientSession() as http:
        config = write_config(tmp_path, _config(database_url, port, tmp_path, slack))
        with hub_process(config, port) as hub:
            url = f"http://127.0.0.1:{port}"
            async with http.post(f"{url}/api/accounts/demo/sync", headers=ADMIN) as answer:
                assert answer.status == 200, await answer.text()
            async with http.get(f"{url}/feeds/demo.xml") as answer:
                assert answer.status == 200
                etag = answer.headers["ETag"]
            async with http.get(f"{url}/feeds/demo.xml", headers=PLAIN) as answer:
                assert answer.status == 200
                feed = answer.headers["ETag"], await answer.read()
            for _ in range(10):
                async with http.get(f"{url}/px/demo/view.gif", params={"job": JOB}) as answer:
                    assert answer.status == 200
            await _eventually(lambda: _counted(http, url, 10))

            own_postgres.pause()
            for _ in range(40):
                async with http.get(f"{url}/px/demo/view.gif", params={"job": JOB}) as answer:
                    assert answer.status == 200
                    assert answer.content_type == "image/gif"
                    assert "X-Pixel-Ignored" not in answer.headers
            # An unchanged feed is still a 304, and a full fetch its file: neither needs the database.
            async with http.get(f"{url}/feeds/demo.xml", headers={"If-None-Match": etag}) as answer:
                assert answer.status == 304
            async with http.get(f"{url}/feeds/demo.xml", headers=PLAIN) as answer:
                assert answer.status == 200
                assert (answer.headers["ETag"], await answer.read()) == feed
            body, signed = _pinpoint_webhook(1)
            slash, slash_headers = slack.slash_command(
                "status", user_id=SLACK_ADMIN, response_url=slack.response_url("outage")
            )
            for method, path, kwargs in [
                ("GET", "/feeds/pin.xml", {}),  # a version not built yet needs the database
                ("POST", "/webhooks/pin", {"data": body, "headers": signed}),
                ("POST", f"/apply/demo/{JOB}", {"json": {"name": "Ada", "email": "ada@example.com"},
                                                "headers": APPLY}),
                ("GET", "/api/accounts", {"headers": ADMIN}),
                ("POST", "/api/accounts/demo/sync", {"headers": ADMIN}),
                ("GET", "/healthz", {}),
            ]:  # fmt: skip
                async with http.request(method, url + path, **kwargs) as answer:
                    assert answer.status == 503, (path, answer.status, await answer.text())
                    assert int(answer.headers["Retry-After"]) > 0, path
            # Slack gets its acknowledgement at once, and the answer says what is wrong.
            async with http.post(f"{url}/slack/events", data=slash, headers=slash_headers) as answer:
                assert answer.status == 200
            reply = json.dumps(await slack.wait_response("outage"))
            assert "cannot reach its database" in reply

            own_postgres.resume()
            recovered = await _eventually(lambda: _healthy(http, url))
            assert recovered < 30
            await _eventually(lambda: _counted(http, url, 50))
            async with http.post(f"{url}/webhooks/pin", data=body, headers=signed) as answer:
                assert answer.status == 202, await answer.text()
            log = hub.stop()
    assert "Traceback" not in log, log[-3000:]
    assert "unhandled error" not in log
    assert log.count("answering 503") <= 2, "the outage is logged once a minute, not per request"


async def _healthy(http: aiohttp.ClientSession, url: str) -> bool:
    async with http.get(f"{url}/healthz") as answer:
        return answer.status == 200


async def _counted(http: aiohttp.ClientSession, url: str, views: int) -> bool:
    try:
        return await _views(http, url) == views
    except AssertionError:
        return False  # the database is still coming back


def test_a_connection_left_mid_query_by_an_outage_is_an_outage_not_a_crash() -> None:
    left = asyncpg.exceptions.InternalClientError(
        "cannot switch to state 15; another operation (2) is in progress"
    )
    assert db.is_outage(left)
    assert db.is_outage(RuntimeError("wrapped")) is False
    assert db.is_outage(asyncpg.exceptions.InternalClientError("something else went wrong")) is False
