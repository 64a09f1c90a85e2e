"""MyATS's protocol: where things are, and its paging rule; knowing nothing of the hub's shapes.

The SDK's ``Api`` does the HTTP (retries, ``Retry-After``, the shared rate limit, one error per answer)
and ``follow_pages`` the paging; this module adds only what is MyATS's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from hub import sdk

from . import const


def api(http: aiohttp.ClientSession, options: Mapping[str, Any]) -> sdk.Api:
    """The account's MyATS API: its key in a header, and MyATS's rate limit, which is per key."""
    key = options["api_key"]
    return sdk.Api(http, options["base_url"], peer=const.PEER, headers={const.API_KEY_HEADER: key},
                   rate=options["rate_per_second"], rate_key=key)  # fmt: skip


def listed(body: Any, path: str, key: str) -> list[Any]:
    """The list MyATS answers ``path`` with, under ``key``; AdapterUnavailable when there is none."""
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise sdk.AdapterUnavailable(f"{const.PEER} answered {path} without a {key} list")
    return items


def pages(api: sdk.Api, path: str, key: str, page_size: int, **params: str) -> AsyncIterator[list[Any]]:
    """Every item of a paged list (``{key: [...], "next_page": N}``, N null after the last), to the end."""

    async def page(number: int | None) -> tuple[list[Any], int | None]:
        body = await api.get(path, {**params, "page": str(number or 1), "per_page": str(page_size)})
        return listed(body, path, key), body.get("next_page")

    return sdk.follow_pages(page, peer=const.PEER)
