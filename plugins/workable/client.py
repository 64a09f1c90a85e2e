"""Workable's protocol (SPI v3): the account's host, its bearer token and rate limit, and its paging rule.

The SDK's ``Api`` does the HTTP (retries, ``Retry-After``, the shared rate limit, one error per answer)
and ``follow_pages`` the paging; this module adds only what is Workable's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from hub import sdk

from . import const


def api(http: aiohttp.ClientSession, options: Mapping[str, Any]) -> sdk.Api:
    """The account's SPI: ``https://{subdomain}.workable.com/spi/v3`` (or ``base_url``), its token as bearer.

    Workable limits per token (per client), so accounts sharing a token share one limiter.
    """
    token = options["api_key"]
    origin = (options.get("base_url") or const.ORIGIN.format(subdomain=options["subdomain"])).rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    return sdk.Api(http, origin + const.API_ROOT, peer=const.PEER, headers=headers,
                   rate=options["rate_per_second"], rate_key=token, attempts=const.ATTEMPTS,
                   backoff_base=const.BACKOFF_BASE_SECONDS)  # fmt: skip


def listed(body: Any, path: str, key: str) -> list[Any]:
    """The list Workable answers ``path`` with, under ``key``; AdapterUnavailable when there is none."""
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise sdk.AdapterUnavailable(f"{const.PEER} answered {path} without a {key} list")
    return items


def _next_url(body: dict[str, Any]) -> str | None:
    paging = body.get("paging")
    url = paging.get("next") if isinstance(paging, dict) else None
    return url if isinstance(url, str) and url else None


def pages(api: sdk.Api, path: str, key: str, params: Mapping[str, str]) -> AsyncIterator[list[Any]]:
    """Every item of a paged list (``{key: [...], "paging": {"next": URL}}``), to the end."""

    async def page(cursor: str | None) -> tuple[list[Any], str | None]:
        # ``paging.next`` is a full URL carrying the whole query (filters included): it is sent as it is,
        # and only under the account's own API root (Api.url), since the token goes with it.
        body = await api.get(cursor, None) if cursor else await api.get(path, params)
        return listed(body, path, key), _next_url(body)

    return sdk.follow_pages(page, peer=const.PEER)
