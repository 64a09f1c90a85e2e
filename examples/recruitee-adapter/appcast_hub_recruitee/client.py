"""Recruitee's protocol: the company's API root, its token, its lists and its offset paging.

Nothing here knows the hub's shapes; the SDK's ``Api`` does the HTTP (retries, ``Retry-After``, the
shared rate limit, one error per answer).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from hub import sdk

from . import const


def api(http: aiohttp.ClientSession, options: Mapping[str, Any]) -> sdk.Api:
    """The account's company API: a personal API token as a Bearer token; the limit is shared per token."""
    token, root = options["api_token"], f"{options['base_url'].rstrip('/')}/c/{options['company_id']}"
    return sdk.Api(http, root, peer=const.PEER, headers={"Authorization": f"Bearer {token}"},
                   rate=options["rate_per_second"], rate_key=token)  # fmt: skip


def listed(body: Any, path: str, key: str, kind: type = list) -> Any:
    """What Recruitee answers ``path`` with under ``key``, a list (or a ``kind``); else AdapterUnavailable."""
    found = body.get(key) if isinstance(body, dict) else None
    if not isinstance(found, kind):
        raise sdk.AdapterUnavailable(f"{const.PEER} answered {path} without its {key}")
    return found


def candidates(api: sdk.Api, page_size: int) -> AsyncIterator[list[Any]]:
    """Every candidate, ``limit``/``offset`` at a time, until a page comes back empty.

    An empty page, not a short one, ends the list: a server that caps ``limit`` silently would
    otherwise pass its first page off as the whole. The offset only grows, so ``follow_pages`` never
    sees it twice: the cursor carries the page's candidate ids too, and a page of the same candidates
    as the one before (a server ignoring ``offset``) fails the list instead of paging forever.
    """

    async def page(cursor: tuple[int, tuple[str, ...]] | None) -> tuple[list[Any], Any]:
        offset, before = cursor or (0, ())
        body = await api.get("/candidates", {"limit": str(page_size), "offset": str(offset)})
        items = listed(body, "/candidates", "candidates")
        ids = tuple(str(item.get("id") if isinstance(item, dict) else item) for item in items)
        if items and ids == before:
            raise sdk.AdapterUnavailable(f"{const.PEER} answered offset {offset} with the page before it")
        return items, (offset + len(items), ids) if items else None

    return sdk.follow_pages(page, peer=const.PEER)


async def offer(api: sdk.Api, offer_id: Any) -> dict[str, Any]:
    """One offer, with what only a single offer's answer holds (its form options, its pipeline)."""
    return listed(await api.get(f"/offers/{offer_id}"), f"/offers/{offer_id}", "offer", dict)
