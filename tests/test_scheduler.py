"""Scheduled syncs: the first at start-up, retries with backoff after failures; secrets kept out of logs."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp

from hub import models
from hub.testing.peers import serving_hub
from tests.conftest import SAMPLE_JOBS, free_port, hub_process, write_config


def http_call(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, str]:
    """``(status, body)`` of a request to the hub, error statuses included."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def wait_for(condition, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_start_up_sync_then_retry_after_failure(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.json"
    jobs.write_text("{broken", encoding="utf-8")
    config = write_config(
        tmp_path,
        f"""
[database]
url = "sqlite://{tmp_path / "hub.sqlite3"}"
migrate_on_start = true
[sync]
interval_minutes = 60
jitter_seconds = 0
retry_seconds = 0.2
[accounts.demo]
adapter = "file"
company = "Northwind"
feed_policy = "all-open"
[accounts.demo.file]
path = "{jobs}"
""",
    )
    async with serving_hub(config) as url:

        async def failed_once() -> bool:
            account = await models.Account.get_or_none(name="demo")
            return account is not None and account.consecutive_sync_failures >= 1

        await wait_for(failed_once)  # the start-up sync ran by itself, and failed
        jobs.write_text(SAMPLE_JOBS.read_text(encoding="utf-8"), encoding="utf-8")

        async def recovered() -> bool:
            account = await models.Account.get(name="demo")
            return bool(account.last_sync_ok)

        await wait_for(recovered)  # long before the 60-minute interval: the retry did it
        async with aiohttp.ClientSession() as http, http.get(f"{url}/feeds/demo.xml") as response:
            assert (await response.read()).count(b"<job>") == 44


def test_secrets_never_reach_the_logs(tmp_path: Path) -> None:
    secrets = {
        "HUB_ADMIN_TOKEN": "admin-secret-token-0001",
        "HUB_LEVER_KEY": "lever-secret-key-0002",
        "HUB_FEED_TOKEN": "feed-secret-token-0003",
    }
    port, dead_port = free_port(), free_port()
    config = write_config(
        tmp_path,
        f"""
[server]
port = {port}
[database]
url = "sqlite://{tmp_path / "hub.sqlite3"}"
migrate_on_start = true
[logging]
level = "DEBUG"
format = "json"
[admin]
api_token = "env:HUB_ADMIN_TOKEN"
[sync]
retry_seconds = 0.1
[accounts.acme]
adapter = "lever"
company = "Acme"
feed_token = "env:HUB_FEED_TOKEN"
[accounts.acme.lever]
site = "acme"
api_key = "env:HUB_LEVER_KEY"
webhook_tokens = ["literal-webhook-token-0004"]
base_url = "http://127.0.0.1:{dead_port}"
""",
    )
    admin = {"Authorization": f"Bearer {secrets['HUB_ADMIN_TOKEN']}"}
    with hub_process(config, port, env=secrets) as hub:
        base = f"http://127.0.0.1:{port}"
        answers = [
            http_call(f"{base}/feeds/acme.xml?token={secrets['HUB_FEED_TOKEN']}"),
            http_call(f"{base}/feeds/acme.xml?token=wrong"),
            http_call(f"{base}/api/accounts", headers=admin),
            http_call(f"{base}/api/accounts", headers={"Authorization": "Bearer wrong"}),
        ]
        assert [status for status, _ in answers] == [200, 403, 200, 401]
        status, body = http_call(f"{base}/api/accounts/acme/sync", method="POST", headers=admin)
        assert status == 502
        assert "unreachable" in json.loads(body)["error"]
        for _, text in [*answers, (status, body)]:
            for secret in secrets.values():
                assert secret not in text
        output = hub.stop()
    assert "sync failed" in output, output  # the failure is logged…
    for secret in [*secrets.values(), "literal-webhook-token-0004"]:
        assert secret not in output  # …and no secret with it
    for line in output.splitlines():
        json.loads(line)  # every log line is one JSON object
