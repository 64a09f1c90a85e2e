"""Greenhouse's protocols: the job board API, Harvest v3 and its OAuth token; nothing of the hub's shapes.

The SDK does the HTTP (retries, ``Retry-After``, the shared rate limit, one error per answer), Harvest's
``Link`` paging (``Api.get_page``) and the token endpoint's form (``request_json(form_body=…)``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

from hub import sdk

from . import const

#: Access tokens by credential (the secret hashed, never kept in clear): (token, monotonic expiry).
_TOKENS: dict[tuple[str, str, str, str], tuple[str, float]] = {}


async def board_jobs(http: aiohttp.ClientSession, options: Mapping[str, Any]) -> list[Any]:
    """Every job post on the board, descriptions included; the job board API has no paging."""
    board = options["board"]
    peer = f"{const.PEER} board {board!r}"
    api = sdk.Api(
        http, options["base_url"], peer=peer, attempts=const.ATTEMPTS, backoff_base=const.BACKOFF_BASE_SECONDS
    )
    try:
        body = await api.get(f"/v1/boards/{quote(board, safe='')}/jobs", {"content": "true"})
    except sdk.AdapterUnavailable as error:
        if error.status == 404:
            # Not an outage: the board token is wrong, and retrying later will not fix it.
            raise sdk.AdapterUnavailable(
                f"{peer} does not exist (HTTP 404): check board", status=404
            ) from None
        raise
    jobs = body.get("jobs") if isinstance(body, dict) else None
    if not isinstance(jobs, list):
        raise sdk.AdapterUnavailable(f"{peer} answered without a jobs list")
    return jobs


async def _token(http: aiohttp.ClientSession, options: Mapping[str, Any]) -> str:
    """A Harvest v3 access token (OAuth client credentials, acting as ``user_id``), kept until it expires."""
    client_id, secret, user = options["client_id"], options["client_secret"], str(options["user_id"])
    key = (options["auth_url"], client_id, user, hashlib.sha256(secret.encode()).hexdigest())
    cached = _TOKENS.get(key)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    form, url = {"grant_type": "client_credentials", "sub": user}, options["auth_url"].rstrip("/") + "/token"
    try:
        # Asking again for a token is safe: the endpoint hands out tokens, it changes nothing.
        body = await sdk.request_json(
            http, "POST", url, peer=f"{const.PEER} token endpoint", form_body=form,
            headers=sdk.basic_auth(client_id, secret), attempts=const.ATTEMPTS,
            backoff_base=const.BACKOFF_BASE_SECONDS, idempotent=True,
        )  # fmt: skip
    except sdk.AdapterUnavailable as error:
        if error.status != 400:
            raise
        # OAuth answers a wrong client, secret or user with 400: retrying will not help.
        raise sdk.AdapterAuthError(f"{error}: check the client credentials", status=400) from None
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise sdk.AdapterUnavailable(f"{const.PEER} token endpoint answered without an access_token")
    lifetime = body.get("expires_in")
    seconds = float(lifetime) if isinstance(lifetime, int | float) else const.DEFAULT_TOKEN_SECONDS
    _TOKENS[key] = (token, time.monotonic() + seconds - const.TOKEN_MARGIN_SECONDS)
    return token


async def harvest(http: aiohttp.ClientSession, options: Mapping[str, Any]) -> sdk.Api:
    """The account's Harvest v3 API, limited per credential (Greenhouse's limit is per credential)."""
    token = await _token(http, options)
    headers, rate = {"Authorization": f"Bearer {token}"}, options["rate_per_second"]
    # A token Harvest no longer takes (revoked, rotated), on any request: dropped, a new one next time.
    return sdk.Api(http, options["harvest_url"], peer=const.PEER, headers=headers, rate=rate,
                   rate_key=options["client_id"], attempts=const.ATTEMPTS,
                   backoff_base=const.BACKOFF_BASE_SECONDS, on_auth_error=forget_tokens)  # fmt: skip


def pages(api: sdk.Api, path: str, page_size: int, **params: str) -> AsyncIterator[list[Any]]:
    """Every item of a Harvest v3 list, to the end: filters on the first request, then each ``rel="next"``
    URL exactly as given (its cursor must be its only parameter)."""

    async def page(cursor: str | None) -> tuple[list[Any], str | None]:
        first = {**params, "per_page": str(page_size)}
        # The next URL is followed as given (Api.url keeps the token to Harvest's own root).
        body, after = await api.get_page(cursor or path, None if cursor else first)
        if not isinstance(body, list):
            raise sdk.AdapterUnavailable(f"{const.PEER} answered {path} without a list")
        return body, after

    return sdk.follow_pages(page, peer=const.PEER)


def forget_tokens() -> None:
    """Drop every cached access token (Harvest refused one; tests; credentials rotated)."""
    _TOKENS.clear()
