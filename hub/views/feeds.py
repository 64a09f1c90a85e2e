"""``GET /feeds/{account}.xml``: the account's job feed, from its prebuilt files (:mod:`hub.feed_cache`).

Validators come from the account's row, so a 304 needs neither the files nor the database; a 200 is sent
from the version's file by aiohttp's FileResponse (``sendfile``, ``Range``), with the feed's own validators.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import hdrs, web
from multidict import CIMultiDict

from hub import db, feed
from hub.accounts import UnknownAccount
from hub.appkeys import ACCOUNTS, FEED_CACHE
from hub.feed_cache import gzip_etag
from hub.views.errors import json_error

if TYPE_CHECKING:
    from aiohttp.abc import AbstractStreamWriter
    from aiohttp.helpers import ETag

routes = web.RouteTableDef()


def _not_modified(request: web.Request, etag: str, last_modified: datetime) -> bool:
    # RFC 9110: If-None-Match, when present, decides alone.
    if request.headers.get("If-None-Match") is not None:
        candidates = [tag.strip() for tag in request.headers["If-None-Match"].split(",")]
        return "*" in candidates or etag in candidates or f"W/{etag}" in candidates
    since = request.if_modified_since
    return since is not None and last_modified <= since


def _if_range_holds(request: web.Request, etag: str, last_modified: datetime) -> bool:
    """May a ``Range`` be answered (RFC 9110 13.1.5): no ``If-Range``, or it names this very version?"""
    condition = request.headers.get(hdrs.IF_RANGE)
    if condition is None:
        return True
    if condition.strip().startswith(('"', "W/")):
        return condition.strip() == etag  # a strong comparison: a weak tag never matches
    return request.if_range == last_modified


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


class _FeedFile(web.FileResponse):
    """FileResponse sending a feed file with the feed's validators, answering ``Range`` when it may."""

    def __init__(
        self, path: Path, request: web.Request, etag: str, last_modified: datetime, headers: dict[str, str]
    ) -> None:
        super().__init__(path, headers=headers)
        self._feed_etag = etag
        # FileResponse reads its request's headers for conditions and ranges. The feed's own validators
        # decided the conditions already, so it gets the Range alone, when the feed's If-Range allows it;
        # nothing else of a request whose headers may not even be UTF-8 (cloning re-encodes them).
        wanted = request.headers.get(hdrs.RANGE)
        plain: CIMultiDict[str] = CIMultiDict()
        if wanted is not None and wanted.isascii() and _if_range_holds(request, etag, last_modified):
            plain[hdrs.RANGE] = wanted
        self._file_request = request.clone(headers=plain)

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:  # type: ignore[override]
        return await super().prepare(self._file_request)

    @property
    def etag(self) -> ETag | None:  # type: ignore[override]
        return super().etag

    @etag.setter
    def etag(self, value: object) -> None:
        # FileResponse sets its own (the file's mtime and size) as it prepares: the feed's ETag is the same
        # on every replica and names the version, so it stays.
        self.headers[hdrs.ETAG] = self._feed_etag


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
        etag = gzip_etag(etag)
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if _not_modified(request, etag, last_modified):
        return web.Response(status=304, headers=headers)
    # The files need no database, but a version not built yet does: an outage is a clean 503 (views.errors)
    # whichever the case, as it was when every feed was built per request.
    await db.ping()
    artifact = await request.app[FEED_CACHE].artifact(account)
    etag = artifact.gzip_etag if gzipped else artifact.etag
    headers = {
        "ETag": etag,
        "Cache-Control": "no-cache",
        "Vary": "Accept-Encoding",
        "Content-Type": "application/xml; charset=utf-8",
    }
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    path = artifact.gzip if gzipped else artifact.plain
    return _FeedFile(path, request, etag, artifact.last_modified, headers)
