"""Greenhouse's protocol: the job board API, knowing nothing of the hub's shapes.

The SDK's ``Api`` does the HTTP (retries, ``Retry-After``, timeouts, one error per answer); this module
adds only what is Greenhouse's own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

from hub import sdk

from . import const


async def board_jobs(http: aiohttp.ClientSession, base_url: str, board: str) -> list[Any]:
    """Every job published on ``board``, descriptions included (``GET /v1/boards/{board}/jobs?content=true``).

    The job board API has no paging: one answer holds the whole board.
    """
    peer = f"{const.PEER} board {board!r}"
    api = sdk.Api(http, base_url, peer=peer, attempts=const.ATTEMPTS, backoff_base=const.BACKOFF_BASE_SECONDS)
    try:
        body = await api.get(f"/v1/boards/{quote(board, safe='')}/jobs", {"content": "true"})
    except sdk.AdapterUnavailable as error:
        if error.status == 404:
            # Not an outage: the board token is wrong, and retrying later will not fix it.
            raise sdk.AdapterUnavailable(
                f"{peer} does not exist (HTTP 404): check the account's board", status=404
            ) from None
        raise
    jobs = body.get("jobs") if isinstance(body, dict) else None
    if not isinstance(jobs, list):
        raise sdk.AdapterUnavailable(f"{peer} answered without a jobs list")
    return jobs
