"""Greenhouse's protocol: the job board API and the webhook signature, knowing nothing of the hub's shapes.

Requests go through :func:`hub.http.request_json`, so retries, ``Retry-After``, timeouts and error
messages are the hub's; this module adds only what is Greenhouse's own.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import quote

import aiohttp

from hub.sdk import AdapterUnavailable, request_json

from . import const


async def board_jobs(http: aiohttp.ClientSession, base_url: str, board: str) -> list[Any]:
    """Every job published on ``board``, descriptions included (``GET /v1/boards/{board}/jobs?content=true``).

    The job board API has no paging: one answer holds the whole board.
    """
    peer = f"{const.PEER} board {board!r}"
    try:
        body = await request_json(
            http,
            "GET",
            f"{base_url}/v1/boards/{quote(board, safe='')}/jobs",
            peer=peer,
            params={"content": "true"},
            attempts=const.ATTEMPTS,
            backoff_base=const.BACKOFF_BASE_SECONDS,
        )
    except AdapterUnavailable as error:
        if error.status == 404:
            # Not an outage: the board token is wrong, and retrying later will not fix it.
            raise AdapterUnavailable(
                f"{peer} does not exist (HTTP 404): check the account's board", status=404
            ) from None
        raise
    jobs = body.get("jobs") if isinstance(body, dict) else None
    if not isinstance(jobs, list):
        raise AdapterUnavailable(f"{peer} answered without a jobs list")
    return jobs


def signature(secret: str, body: bytes) -> str:
    """Greenhouse's webhook signature: hex HMAC-SHA256 of the raw body, keyed with the webhook secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    """Does the ``Signature`` header (``sha256 <hex>``) match the body? The digest compared in constant time.

    As bytes: :func:`hmac.compare_digest` refuses a ``str`` with non-ASCII characters, and a forged
    header may hold anything.
    """
    algorithm, _, sent = header.strip().partition(" ")
    if algorithm.lower() != const.SIGNATURE_ALGORITHM:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), sent.strip().encode("utf-8", "replace"))
