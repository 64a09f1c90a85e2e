"""Greenhouse's protocols: the job board API, Harvest v3 and its OAuth token; nothing of the hub's shapes.

The SDK's ``Api`` does the HTTP (retries, ``Retry-After``, the shared rate limit, one error per answer).
Two things it cannot do are here, as small as they go: Harvest pages by its ``Link`` header, which
``request_json`` does not return, and its token endpoint takes a form, which ``request_json`` cannot send.
"""

from __future__ import annotations

import asyncio
import base64
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


def _timeout() -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=const.TIMEOUT_SECONDS)


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


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
        async with http.post(
            url, data=form, headers=_basic(client_id, secret), timeout=_timeout()
        ) as response:
            status, message = response.status, f"{const.PEER} token endpoint answered HTTP {response.status}"
            if status in (400, 401, 403):
                # OAuth answers a wrong client, secret or user with 400/401: retrying will not help.
                raise sdk.AdapterAuthError(message + ": check the client credentials", status=status)
            if status >= 300:
                raise sdk.AdapterUnavailable(message, status=status, retry_after=sdk.retry_after(response))
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        raise sdk.AdapterUnavailable(f"{const.PEER} token endpoint failed: {type(error).__name__}") from None
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
    return sdk.Api(http, options["harvest_url"], peer=const.PEER, headers=headers, rate=rate,
                   rate_key=options["client_id"], attempts=const.ATTEMPTS,
                   backoff_base=const.BACKOFF_BASE_SECONDS)  # fmt: skip


async def _linked(api: sdk.Api, url: str, params: Mapping[str, str] | None) -> tuple[Any, str | None]:
    """One GET and its ``Link: <…>; rel="next"``, with ``request_json``'s outcomes for a GET."""
    problem, status, wait = "no attempt made", None, None
    for attempt in range(const.ATTEMPTS):
        if api.limiter is not None:
            await api.limiter.acquire()
        try:
            async with api.http.get(url, params=params, headers=api.headers, timeout=_timeout()) as response:
                status, message = response.status, f"{const.PEER} answered HTTP {response.status}"
                if status in (401, 403):
                    _TOKENS.clear()  # a token Harvest no longer takes (revoked, rotated): a new one next time
                    raise sdk.AdapterAuthError(message, status=status)
                if 400 <= status < 500 and status != 429:
                    raise sdk.AdapterUnavailable(message, status=status, detail=await response.text())
                if status < 300:
                    link = response.links.get("next")
                    return await response.json(content_type=None), str(link["url"]) if link else None
                problem, wait = message, sdk.retry_after(response)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            problem = f"{const.PEER} unreachable or unreadable: {type(error).__name__}"
        if attempt + 1 < const.ATTEMPTS:
            await asyncio.sleep(wait if wait is not None else const.BACKOFF_BASE_SECONDS * 2**attempt)
    raise sdk.AdapterUnavailable(
        f"{problem} (after {const.ATTEMPTS} attempts)", status=status, retry_after=wait
    )


def pages(api: sdk.Api, path: str, page_size: int, **params: str) -> AsyncIterator[list[Any]]:
    """Every item of a Harvest v3 list, to the end: filters on the first request, then each ``rel="next"``
    URL exactly as given (its cursor must be its only parameter)."""

    async def page(cursor: str | None) -> tuple[list[Any], str | None]:
        if cursor is not None and not cursor.startswith(api.base_url + "/"):
            # The bearer token goes wherever the link points: only ever to Harvest itself.
            raise sdk.AdapterUnavailable(f"{const.PEER} sent a next page outside its API")
        first = {**params, "per_page": str(page_size)}
        body, after = await _linked(api, cursor or api.base_url + path, None if cursor else first)
        if not isinstance(body, list):
            raise sdk.AdapterUnavailable(f"{const.PEER} answered {path} without a list")
        return body, after

    return sdk.follow_pages(page, peer=const.PEER)


def forget_tokens() -> None:
    """Drop every cached access token (tests; or after credentials were rotated)."""
    _TOKENS.clear()
