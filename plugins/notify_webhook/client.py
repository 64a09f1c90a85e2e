"""Posting one notice to the configured URL: one attempt per call, the outbox owns retries."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from hub.sdk import post_once
from plugins.notify_webhook import const
from plugins.notify_webhook.mapping import signed_request


async def post_notice(
    http: aiohttp.ClientSession,
    url: str,
    payload: Mapping[str, Any],
    *,
    secret: str,
    idempotency_key: str,
    timeout_seconds: float,
) -> None:
    """POST the notice signed; return on 2xx, else raise AdapterUnavailable (the outbox retries)."""
    body, headers = signed_request(payload, secret, int(time.time()))
    headers |= {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
    await post_once(
        http, url, body, peer=const.PEER, headers=headers, secrets=(secret,), timeout_seconds=timeout_seconds,
        auth_hint="the receiver refused the request: check its secret",
    )  # fmt: skip
