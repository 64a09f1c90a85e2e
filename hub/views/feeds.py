"""``GET /feeds/{account}.xml``: the account's job feed, streamed, with validators and gzip."""

from __future__ import annotations

import hmac
import logging
import time

from aiohttp import web

from hub import db, feed
from hub.accounts import UnknownAccount
from hub.appkeys import ACCOUNTS, PLUGINS
from hub.metrics import FEED_BYTES, FEED_JOBS, FEED_SECONDS
from hub.views.errors import json_error

_LOGGER = logging.getLogger(__name__)

routes = web.RouteTableDef()


def _not_modified(request: web.Request, etag: str, last_modified: object) -> bool:
    # RFC 9110: If-None-Match, when present, decides alone.
    if request.headers.get("If-None-Match") is not None:
        candidates = [tag.strip() for tag in request.headers["If-None-Match"].split(",")]
        return "*" in candidates or etag in candidates or f"W/{etag}" in candidates
    since = request.if_modified_since
    return since is not None and last_modified <= since  # type: ignore[operator]


def _gzip_accepted(request: web.Request) -> bool:
    """Does ``Accept-Encoding`` take gzip (RFC 9110: named or ``*``, with a q-value above zero)?"""
    for coding in request.headers.get("Accept-Encoding", "").split(","):
        name, _, parameters = coding.partition(";")
        if name.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        quality = parameters.strip().lower().removeprefix("q=")
        try:
            return not parameters.strip() or float(quality) > 0
        except ValueError:
            return False
    return False


@routes.get("/feeds/{account}.xml")
async def account_feed(request: web.Request) -> web.StreamResponse:
    """The feed; 404 for an unknown account, 403 for a wrong or missing feed token, 304 when unchanged."""
    try:
        account = await request.app[ACCOUNTS].get(request.match_info["account"])
    except UnknownAccount:
        return json_error(404, f"no feed for account {request.match_info['account']!r}")
    token = account.config.feed_token
    if token and not hmac.compare_digest(request.query.get("token", "").encode(), token.encode()):
        return json_error(403, "this feed needs a valid ?token=")
    etag, last_modified = feed.validators(account)
    gzipped = _gzip_accepted(request)
    if gzipped:
        # Each encoding is its own representation, with its own strong validator (RFC 9110 8.8.3), and
        # Vary tells caches the body depends on Accept-Encoding.
        etag = etag[:-1] + '-gzip"'
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if _not_modified(request, etag, last_modified):
        return web.Response(status=304, headers=headers)
    if request.method == "HEAD":
        response = web.Response(headers=headers, content_type="application/xml", charset="utf-8")
        response.last_modified = last_modified
        return response
    # Once the 200 headers are out, a failing query can only cut the document short: make sure first
    # that the database answers, so an outage is a clean 503 (views.errors), not a truncated feed.
    await db.ping()
    response = web.StreamResponse(headers=headers)
    response.content_type = "application/xml"
    response.charset = "utf-8"
    response.last_modified = last_modified
    if gzipped:
        response.enable_compression(web.ContentCoding.gzip)
    await response.prepare(request)
    written = 0

    async def sink(data: bytes) -> None:
        nonlocal written
        written += len(data)
        await response.write(data)

    started = time.perf_counter()
    try:
        jobs = await feed.write_feed(account, request.app[PLUGINS], sink)
    except ConnectionResetError:
        _LOGGER.debug("feed %s: client went away mid-stream", account.name)
        return response
    await response.write_eof()
    FEED_SECONDS.labels(account.name).observe(time.perf_counter() - started)
    FEED_BYTES.labels(account.name).set(written)
    FEED_JOBS.labels(account.name).set(jobs)
    return response
