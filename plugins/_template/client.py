"""MyATS's protocol: its paged jobs API and its webhook signature, knowing nothing of the hub's shapes.

Requests go through :func:`hub.http.request_json`, so retries, ``Retry-After``, timeouts and error
messages are the hub's; this module adds only what is MyATS's own: the paging rule and the signature.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from hub.sdk import AdapterUnavailable, request_json

from . import const


async def job_pages(
    http: aiohttp.ClientSession, base_url: str, api_key: str, page_size: int
) -> AsyncIterator[list[Any]]:
    """Every job MyATS holds, open and closed, a page at a time: ``next_page`` until it is null."""
    page: int | None = 1
    while page is not None:
        body = await request_json(
            http,
            "GET",
            f"{base_url}/v1/jobs",
            peer=const.PEER,
            params={"page": str(page), "per_page": str(page_size)},
            headers={const.API_KEY_HEADER: api_key},
        )
        jobs = body.get("jobs") if isinstance(body, dict) else None
        if not isinstance(jobs, list):
            raise AdapterUnavailable(f"{const.PEER} answered /v1/jobs without a jobs list")
        yield jobs
        next_page = body.get("next_page")
        # A cursor that does not move forward would page forever: fail the fetch instead.
        if next_page is not None and (not isinstance(next_page, int) or next_page <= page):
            raise AdapterUnavailable(f"{const.PEER} announced page {next_page!r} after page {page}")
        page = next_page


def signature(secret: str, body: bytes) -> str:
    """MyATS's webhook signature: hex HMAC-SHA256 of the raw body, keyed with the webhook secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, sent: str) -> bool:
    """Does ``sent`` match the body's signature? Compared in constant time.

    As bytes: :func:`hmac.compare_digest` refuses a ``str`` with non-ASCII characters, and a forged
    header may hold anything.
    """
    return hmac.compare_digest(signature(secret, body).encode(), sent.strip().encode("utf-8", "replace"))
