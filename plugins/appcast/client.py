"""Posting one event to the account's Appcast events URL: a single attempt, every failure reported.

The hub's outbox owns retries and backoff (the same delivery, the same ``Idempotency-Key``, attempt after
attempt), so this client never retries: one call, one request. It does not use
:func:`hub.http.request_json`, which retries and insists on a JSON answer; its error conventions are kept:
401/403 raise :class:`~hub.errors.AdapterAuthError`, everything else that is not 2xx
:class:`~hub.errors.AdapterUnavailable` with ``status`` set, and messages name the peer, never the URL
(its query may carry a key) nor the bearer token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from hub.sdk import AdapterAuthError, AdapterUnavailable, retry_after
from plugins.appcast import const


def _detail(text: str, secrets: tuple[str, ...]) -> str:
    # A proxy or debugging endpoint may echo the request back: never let it carry the token out.
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    if len(text) > const.MAX_ERROR_DETAIL:
        text = text[: const.MAX_ERROR_DETAIL] + "…"
    return text


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
    try:
        async with http.post(
            url,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
            # A redirect would re-send the bearer token wherever it points (and turn POST into GET).
            allow_redirects=False,
        ) as response:
            status = response.status
            if 200 <= status < 300:
                return
            detail = _detail(await response.text(errors="replace"), (token or "",))
            wait = retry_after(response) if status in (429, 503) else None
    except (aiohttp.ClientError, TimeoutError) as error:
        if isinstance(error, TimeoutError | aiohttp.ServerTimeoutError):
            raise AdapterUnavailable(f"{const.PEER} did not answer within {timeout_seconds:g}s") from None
        raise AdapterUnavailable(f"{const.PEER} unreachable: {type(error).__name__}") from None
    message = f"{const.PEER} answered HTTP {status}"
    if 300 <= status < 400:
        detail = "redirects are not followed: set events_url to where it points"
    if detail:
        message = f"{message}: {detail}"
    if status in (401, 403):
        raise AdapterAuthError(f"{message} (check the account's bearer_token)", status=status)
    raise AdapterUnavailable(message, status=status, retry_after=wait)
