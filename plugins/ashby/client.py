"""Ashby's protocol: RPC calls (``POST /{method}`` with a JSON body), its answers and its cursor paging.

Knows nothing of the hub's shapes. Ashby answers most refusals with HTTP 200 and ``success: false``, so
every answer is read here and turned into the hub's error for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from hub import sdk

from . import const


def error_code(detail: Any) -> str:
    """Ashby's error code in a ``success: false`` answer (``errorInfo.code``, or the first of ``errors``)."""
    if not isinstance(detail, dict):
        return ""
    info, errors = detail.get("errorInfo"), detail.get("errors")
    if isinstance(info, dict) and isinstance(info.get("code"), str):
        return info["code"]
    return str(errors[0]) if isinstance(errors, list) and errors else ""


def error_words(detail: Any) -> str:
    """What Ashby said went wrong, in its own words (the message, else the codes)."""
    info = detail.get("errorInfo") if isinstance(detail, dict) else None
    if isinstance(info, dict) and isinstance(info.get("message"), str):
        return info["message"][:300]
    return sdk.peer_message(detail) or error_code(detail) or "no reason given"


class Rpc:
    """One account's connection to Ashby's API: the key (Basic auth, empty password) and its rate limit."""

    def __init__(self, http: aiohttp.ClientSession, options: Mapping[str, Any]) -> None:
        key = options["api_key"]
        headers = {**sdk.basic_auth(key), "Accept": "application/json; version=1"}
        # Ashby limits per key: every Rpc of the key shares one budget.
        root = options.get("base_url") or const.API_ROOT
        self.api = sdk.Api(http, root, peer=const.PEER, headers=headers, rate=options["rate_per_second"],
                           rate_key=key)  # fmt: skip

    async def call(self, method: str, body: Mapping[str, Any], *, write: bool = False,
                   refusals: bool = False) -> dict[str, Any]:  # fmt: skip
        """The answer to ``method``. Reads are POSTs too, and safe to retry: only writes are not.

        ``success: false`` is ``ApplicationRefused`` with ``refusals``, else ``AdapterUnavailable``
        carrying the answer as ``detail`` (see :func:`error_code`).
        """
        refusing = refusals or write
        answer = await self.api.post(f"/{method}", dict(body), refusals=refusing, idempotent=not write)
        # A write Ashby answered, unreadably, may have taken effect: never "unavailable", which is retried.
        unread = sdk.OutcomeUnknown if write else sdk.AdapterUnavailable
        if not isinstance(answer, dict):
            raise unread(f"{const.PEER} answered {method} without a JSON object")
        if answer.get("success") is not True:
            words = error_words(answer)
            if refusing:
                raise sdk.ApplicationRefused(f"{const.PEER} refused {method}: {words}", detail=answer)
            raise sdk.AdapterUnavailable(f"{const.PEER} answered {method}: {words}", detail=answer)
        return answer

    async def results(self, method: str, body: Mapping[str, Any], kind: type = dict, **how: bool) -> Any:
        """The ``results`` of ``method``, which must be a ``kind`` (an object, or a list)."""
        results = (await self.call(method, body, **how)).get("results")
        if not isinstance(results, kind):
            unread = sdk.OutcomeUnknown if how.get("write") else sdk.AdapterUnavailable
            raise unread(f"{const.PEER} answered {method} without its results")
        return results

    def pages(self, method: str, body: Mapping[str, Any], size: int | None,
              sync: dict[str, str] | None = None) -> AsyncIterator[list[Any]]:  # fmt: skip
        """Every page of a list method, following ``nextCursor`` while ``moreDataAvailable``.

        The last page's ``syncToken`` (what a later call sends to get only what changed) goes into
        ``sync["token"]`` once that page has been read.
        """

        async def page(cursor: str | None) -> tuple[list[Any], str | None]:
            request = {**body, **({"limit": size} if size else {}), **({"cursor": cursor} if cursor else {})}
            answer = await self.call(method, request)
            items = answer.get("results")
            if not isinstance(items, list):
                raise sdk.AdapterUnavailable(f"{const.PEER} answered {method} without a results list")
            if answer.get("moreDataAvailable") is True:
                if not isinstance(answer.get("nextCursor"), str) or not answer["nextCursor"]:
                    raise sdk.AdapterUnavailable(f"{const.PEER} said {method} has more but gave no cursor")
                return items, answer["nextCursor"]
            if sync is not None and isinstance(answer.get("syncToken"), str):
                sync["token"] = answer["syncToken"]
            return items, None

        return sdk.follow_pages(page, peer=const.PEER)
