"""The jobs story end to end over real sockets: a fake Lever, the hub's admin API, the feed Appcast polls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from lxml import etree

from hub import models
from hub.testing.peers import serving_hub
from plugins.lever import const as lever_const
from tests.conftest import write_config
from tests.peers.lever import FakeLever

TOKEN = "admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def lever(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeLever]:
    monkeypatch.setattr(lever_const, "BACKOFF_BASE_SECONDS", 0.001)
    fake = FakeLever(count=30)
    async with fake.serving():
        yield fake


@pytest.fixture
async def hub(database_url: str, lever: FakeLever, tmp_path: Path) -> AsyncIterator[str]:
    config = write_config(
        tmp_path,
        f"""
[server]
max_body_bytes = 4096
[database]
url = "{database_url}"
migrate_on_start = true
[admin]
api_token = "{TOKEN}"
[sync]
scheduled = false
[accounts.acme]
adapter = "lever"
company = "Acme"
feed_policy = "opted-in"
[accounts.acme.lever]
site = "{lever.site}"
api_key = "{lever.api_key}"
base_url = "{lever.url}"
page_size = 10
rate_per_second = 1000.0
""",
    )
    async with serving_hub(config) as url:
        yield url


async def feed_ids(http: aiohttp.ClientSession, url: str) -> set[str]:
    async with http.get(f"{url}/feeds/acme.xml") as response:
        assert response.status == 200
        document = etree.fromstring(await response.read())
    return {job.findtext("referencenumber") for job in document.iter("job")}


async def api(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with http.request(method, url, headers=AUTH, **kwargs) as response:
        return response.status, await response.json()


async def test_sync_switch_and_feed(hub: str, lever: FakeLever) -> None:
    published = sorted(lever.job_ids(published_only=True))
    first, second = published[:2]
    async with aiohttp.ClientSession() as http:
        status, synced = await api(http, "POST", f"{hub}/api/accounts/acme/sync")
        assert status == 200, synced
        assert synced["created"] == len(lever.job_ids())
        assert await feed_ids(http, hub) == set(), "opted-in: nothing is advertised until switched on"

        status, switched = await api(
            http, "POST", f"{hub}/api/accounts/acme/jobs/enable", json={"ids": [first, second, "nope"]}
        )
        assert (status, switched) == (200, {"switched": [first, second], "already": [], "missing": ["nope"]})
        assert await feed_ids(http, hub) == {first, second}
        audit = (
            await models.AuditEntry.filter(action="job.enable").order_by("id").values_list("actor", "target")
        )
        assert audit == [("api", first), ("api", second)]

        status, listed = await api(http, "GET", f"{hub}/api/accounts/acme/jobs?flag=in-feed")
        assert status == 200
        assert {job["ats_id"] for job in listed["jobs"]} == {first, second}
        assert listed["total"] == 2

        # Lever closes one: the next sync takes it out of the feed; reopened, it comes back.
        lever.close_posting(first)
        await api(http, "POST", f"{hub}/api/accounts/acme/sync")
        assert await feed_ids(http, hub) == {second}
        lever.set_state(first, "published")
        await api(http, "POST", f"{hub}/api/accounts/acme/sync")
        assert await feed_ids(http, hub) == {first, second}


async def test_a_failing_ats_keeps_the_feed(hub: str, lever: FakeLever) -> None:
    async with aiohttp.ClientSession() as http:
        await api(http, "POST", f"{hub}/api/accounts/acme/sync")
        ids = sorted(lever.job_ids(published_only=True))[:3]
        await api(http, "POST", f"{hub}/api/accounts/acme/jobs/enable", json={"ids": ids})

        for fault in ("server_errors", "malformed", "unauthorized"):
            setattr(lever.faults, fault, 50)
            status, body = await api(http, "POST", f"{hub}/api/accounts/acme/sync")
            assert status == 502, body
            assert body["error"]
            assert lever.api_key not in body["error"]
            assert await feed_ids(http, hub) == set(ids), f"{fault} must not change the feed"
            setattr(lever.faults, fault, 0)

        status, account = await api(http, "GET", f"{hub}/api/accounts/acme")
        assert account["sync"]["ok"] is False
        assert account["sync"]["consecutive_failures"] == 3
        assert "refused the credentials" in account["sync"]["error"]

        status, body = await api(http, "POST", f"{hub}/api/accounts/acme/sync")
        assert (status, body["error"]) == (200, None)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "message"),
    [
        ("GET", "/api/accounts/acme/jobs?status=live", {}, 400, "status must be one of open, closed"),
        ("GET", "/api/accounts/acme/jobs?limit=-1", {}, 400, "limit must be a whole number"),
        ("GET", "/api/accounts/acme/jobs?limit=100000", {}, 400, "limit must be a whole number"),
        ("GET", "/api/accounts/nobody/jobs", {}, 404, "no account named 'nobody'"),
        (
            "POST",
            "/api/accounts/acme/jobs/enable",
            {"data": b"{nope"},
            400,
            "body must be a JSON object like",
        ),
        ("POST", "/api/accounts/acme/jobs/enable", {"json": {"ids": "1"}}, 400, '"ids" must be'),
        ("POST", "/api/accounts/acme/jobs/enable", {"json": {"ids": [1]}}, 400, '"ids" must be'),
        (
            "POST",
            "/api/accounts/acme/jobs/enable",
            {"data": b"\xff\xfe"},
            400,
            "body must be a JSON object like",
        ),
        ("POST", "/api/accounts/acme/jobs/enable", {"data": b"x" * 10_000}, 413, "request body too large"),
        ("DELETE", "/api/accounts/acme", {}, 405, "Method Not Allowed"),
    ],
)
async def test_api_mistakes_get_clear_errors(
    hub: str, method: str, path: str, kwargs: dict[str, Any], status: int, message: str
) -> None:
    async with aiohttp.ClientSession() as http:
        got, body = await api(http, method, hub + path, **kwargs)
    assert got == status
    assert message in body["error"]
    assert await models.AuditEntry.all().count() == 0


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
async def test_api_refuses_missing_or_wrong_tokens(hub: str, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{hub}/api/accounts/acme/jobs/enable", json={"ids": ["x"]}, headers=headers
        ) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert TOKEN not in await response.text()
        async with http.get(f"{hub}/api/openapi.json") as response:
            assert response.status == 200
            assert "/api/accounts/{account}/jobs" in (await response.json())["paths"]


async def test_an_ats_dying_mid_sync_keeps_the_feed(hub: str, lever: FakeLever) -> None:
    async with aiohttp.ClientSession() as http:
        await api(http, "POST", f"{hub}/api/accounts/acme/sync")
        ids = sorted(lever.job_ids(published_only=True))
        await api(http, "POST", f"{hub}/api/accounts/acme/jobs/enable", json={"ids": ids})
        before = await feed_ids(http, hub)
        # The next full sync gets two pages (10 of 30 jobs a page), then the ATS stops answering.
        lever.faults.die_after = len(lever.faults.requests) + 2
        status, body = await api(http, "POST", f"{hub}/api/accounts/acme/sync?full=true")
        assert status == 502
        assert "unreachable" in body["error"]
        assert await feed_ids(http, hub) == before == set(ids), "a partial snapshot closed nothing"
