"""SmartRecruiters' protocol: its API, its paging rule and its webhook signature; nothing of the hub's shapes.

The SDK's ``Api`` does the HTTP (retries, ``Retry-After``, the shared rate limit, one error per answer)
and ``follow_pages`` the paging; this module adds only what is SmartRecruiters' own.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from hub import sdk

from . import const


def api(http: aiohttp.ClientSession, options: Mapping[str, Any]) -> sdk.Api:
    """The account's Customer API: its key in ``X-SmartToken``, and the rate limit, which is per key."""
    key = options["api_key"]
    return sdk.Api(http, options["base_url"], peer=const.PEER, headers={const.API_KEY_HEADER: key},
                   rate=options["rate_per_second"], rate_key=key)  # fmt: skip


def iso(moment: datetime) -> str:
    """A time as SmartRecruiters writes them: UTC, milliseconds, ``Z`` (``2015-07-27T08:43:33.000Z``)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def path(template: str, *ids: str) -> str:
    """``template`` with ``ids`` quoted into it: ids come from webhooks and must not change the path."""
    return template.format(*(quote(value, safe="") for value in ids))


def content(body: Any, where: str) -> list[Any]:
    """The ``content`` list SmartRecruiters answers ``where`` with; AdapterUnavailable when there is none."""
    items = body.get("content") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise sdk.AdapterUnavailable(f"{const.PEER} answered {where} without a content list")
    return items


def pages(api: sdk.Api, where: str, page_size: int, **params: str) -> AsyncIterator[list[Any]]:
    """Every item of a list, to the end: ``nextPageId`` is sent back as ``pageId`` until there is none."""

    async def page(cursor: str | None) -> tuple[list[Any], str | None]:
        query = {**params, "limit": str(page_size), **({"pageId": cursor} if cursor else {})}
        body = await api.get(where, query)
        items = content(body, where)
        # A page that says there is more but lists nothing would be a loop, not a list.
        return items, (sdk.text(body.get("nextPageId")) if items else None)

    return sdk.follow_pages(page, peer=const.PEER)


def signed_message(request: sdk.WebhookRequest) -> bytes:
    """What SmartRecruiters signs (HMAC-SHA256, scheme ``v1``): the timestamp, the raw body and the
    event id, name, version and link headers, joined by ``.``, an absent header as ""."""
    timestamp = (request.header(const.TIMESTAMP_HEADER) or "").encode()
    headers = [(request.header(name) or "").encode() for name in const.SIGNED_HEADERS]
    return b".".join([timestamp, request.body, *headers])


def signatures(request: sdk.WebhookRequest) -> list[str]:
    """The ``v1`` signatures of the signature header (``v1=…;v1=…``: one per active key), lower-cased;
    WebhookRejected for more than ``MAX_SIGNATURES`` parts, so a header cannot multiply the work."""
    value = request.header(const.SIGNATURE_HEADER) or ""
    parts = [part.strip() for part in value.split(";") if part.strip()]
    if len(parts) > const.MAX_SIGNATURES:
        raise sdk.WebhookRejected(f"{const.SIGNATURE_HEADER}: more than {const.MAX_SIGNATURES} signatures")
    return [part.lower() for part in parts if part.lower().startswith(const.SIGNATURE_SCHEME)]


def signature_matches(secrets: Sequence[str], message: bytes, sent: Sequence[str]) -> bool:
    """Does one of ``sent`` carry the HMAC of ``message`` under one of ``secrets``? Each secret's HMAC is
    computed once, and every pair is compared in constant time with no early exit."""
    expected = [sdk.sign(secret, message, prefix=const.SIGNATURE_SCHEME).encode() for secret in secrets]
    matched = False
    # Bytes: compare_digest refuses a str with non-ASCII characters, and a forger sends anything.
    for given in [value.encode("utf-8", "replace") for value in sent]:
        for digest in expected:
            matched |= hmac.compare_digest(digest, given)
    return matched
