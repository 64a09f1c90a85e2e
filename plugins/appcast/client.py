"""Posting one event to the account's Appcast events URL: a single attempt, every failure reported.

The hub's outbox owns retries and backoff (the same delivery, the same ``Idempotency-Key``, attempt after
attempt), so this is one request per call (:func:`hub.sdk.post_once`): 401/403 raise
:class:`~hub.errors.AdapterAuthError`, everything else that is not 2xx
:class:`~hub.errors.AdapterUnavailable` with ``status`` set, and messages name the peer, never the URL
(its query may carry a key) nor the bearer token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from hub.sdk import post_once
from plugins.appcast import const


async def post_event(
    http: aiohttp.ClientSession,
    url: str,
    payload: Mapping[str, Any],
    *,
    idempotency_key: str,
    token: str | None,
    timeout_seconds: float,
) -> None:
    """POST ``payload`` as JSON once; return when Appcast answered 2xx, else raise AdapterUnavailable."""
    headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    await post_once(
        http, url, body, peer=const.PEER, headers=headers, secrets=(token or "",),
        timeout_seconds=timeout_seconds, auth_hint="check the account's bearer_token",
    )  # fmt: skip
