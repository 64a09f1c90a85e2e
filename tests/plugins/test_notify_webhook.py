"""The ``notify_webhook`` notice sink: its options, the payload of each notice, and one signed attempt
against a real receiver on loopback (2xx, refused, rate limited, unreachable)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub import sdk
from hub.errors import AdapterAuthError, AdapterUnavailable, ConfigError
from hub.normalised import Delivery, Notice
from hub.options import validate_options
from hub.plugins import load_plugins
from hub.testing import make_account
from hub.testing.peers import free_port, running
from plugins.notify_webhook import const, plugin

SECRET = "notice-secret-0123456789"
NOTICE = Notice(
    kind="incident.opened", account="acme", incident=7, sequence=0, topic="sync-failing", subject="",
    title="acme: the sync from lever is failing", text="3 syncs in a row failed", at=datetime.now(UTC),
)  # fmt: skip


def options(tmp_path: Path, **table: Any) -> dict[str, Any]:
    raw = {"url": "https://ops.example/hooks", "secret": SECRET} | table
    return validate_options(
        plugin.appcast_hub_plugin_info().options, raw, key="accounts.acme.notify_webhook", base_dir=tmp_path
    )


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"url": "ftp://ops.example", "secret": SECRET}, "must be an http"),
        ({"secret": SECRET}, "required"),
        ({"url": "https://ops.example/hooks"}, "required"),
    ],
)
def test_options_are_checked(tmp_path: Path, raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        validate_options(plugin.appcast_hub_plugin_info().options, raw, key="k", base_dir=tmp_path)


def test_only_accounts_with_the_table_get_the_notice(tmp_path: Path) -> None:
    host = load_plugins()
    with_sink = make_account("file", {"file": {}, "notify_webhook": options(tmp_path)}, name="acme")
    without = make_account("file", {"file": {}}, name="acme")
    assert host.broadcast_sync("appcast_hub_notice_payload", with_sink, notice=NOTICE) == [NOTICE.as_json()]
    assert host.broadcast_sync("appcast_hub_notice_payload", without, notice=NOTICE) == []


class Receiver:
    def __init__(self) -> None:
        self.answer = web.json_response({"ok": True})
        self.seen: list[tuple[dict[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((dict(request.headers), await request.read()))
        return self.answer


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    fake = Receiver()
    app = web.Application()
    app.router.add_post("/hooks", fake.handle)
    async with running(app) as url:
        yield fake, f"{url}/hooks"


async def deliver(url: str, tmp_path: Path) -> None:
    account = make_account("file", {"file": {}, "notify_webhook": options(tmp_path, url=url)}, name="acme")
    delivery = Delivery(id=1, destination="notify_webhook", payload=NOTICE.as_json(), idempotency_key="k-1",
                        attempt=1)  # fmt: skip
    async with aiohttp.ClientSession() as http:
        await plugin.appcast_hub_deliver(account, account.plugin_options["notify_webhook"], delivery, http)


async def test_a_notice_is_posted_signed(receiver: tuple[Receiver, str], tmp_path: Path) -> None:
    fake, url = receiver
    await deliver(url, tmp_path)
    [(headers, body)] = fake.seen
    assert json.loads(body) == NOTICE.as_json()
    assert headers["Idempotency-Key"] == "k-1"
    signed = f"{headers[const.TIMESTAMP_HEADER]}.".encode() + body
    assert sdk.signature_matches(SECRET, signed, headers[const.SIGNATURE_HEADER], prefix="sha256=")
    assert not sdk.signature_matches(
        "another-secret", signed, headers[const.SIGNATURE_HEADER], prefix="sha256="
    )


async def test_refusals_and_outages_are_raised_for_the_outbox(
    receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    fake, url = receiver
    fake.answer = web.Response(status=401, text=f"bad secret {SECRET}")
    with pytest.raises(AdapterAuthError) as refused:
        await deliver(url, tmp_path)
    assert SECRET not in str(refused.value), "an echoed secret is masked"
    fake.answer = web.Response(status=429, headers={"Retry-After": "30"})
    with pytest.raises(AdapterUnavailable) as limited:
        await deliver(url, tmp_path)
    assert (limited.value.status, limited.value.retry_after) == (429, 30.0)
    fake.answer = web.Response(status=302, headers={"Location": "https://elsewhere.example/"})
    with pytest.raises(AdapterUnavailable, match="redirects are not followed"):
        await deliver(url, tmp_path)
    with pytest.raises(AdapterUnavailable, match="unreachable"):
        await deliver(f"http://127.0.0.1:{free_port()}/hooks", tmp_path)
