"""``GET /feeds/{account}.xml``: the account's job feed, from its prebuilt files (:mod:`hub.feed_cache`).

Validators come from the account's row, so a 304 needs neither the files nor the database; a 200 is sent
from the version's file, opened by the handler, by aiohttp's FileResponse (``sendfile``, ``Range``), with
the feed's own validators: a version replaced while it is sent is sent whole.

A cold build publishes the plain file before the gzip one (:mod:`hub.feed_cache`). Until the gzip file is
published, a client taking gzip gets the plain file, with the plain ETag and ``Vary: Accept-Encoding``:
identity is acceptable to every client that does not refuse it (RFC 9110 12.5.3), and that representation
is the one its conditions are evaluated against. A client refusing identity (``identity;q=0``, or ``*;q=0``
without naming identity) waits for the gzip file instead, as every client waits for a version being built:
it is seconds away and what that client asked for; a 406 would fail a poll that a short wait answers. Only
when writing the gzip file failed does it get 406.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from aiohttp import hdrs, web
from aiohttp.web_fileresponse import _FileResponseResult
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
#: Every answer's: the body depends on Accept-Encoding, even while a version has its plain file alone.
VARY = {"Vary": "Accept-Encoding"}
#: Versions a request may see replaced under it before it answers 503: each is a build finishing.
OPEN_TRIES = 3


def _conditional(request: web.Request, etag: str, last_modified: datetime) -> web.Response | None:
    """What the request's conditions answer for this representation, in RFC 9110 13.2.2's order: 412
    when If-Match or If-Unmodified-Since fails, 304 when If-None-Match or If-Modified-Since says unchanged;
    None to send it."""
    if _precondition_fails(request, etag, last_modified):
        return json_error(412, "the feed is no longer the version If-Match or If-Unmodified-Since names")
    if _not_modified(request, etag, last_modified):
        return web.Response(status=304, headers={"ETag": etag, "Cache-Control": "no-cache", **VARY})
    return None


def _precondition_fails(request: web.Request, etag: str, last_modified: datetime) -> bool:
    # RFC 9110 13.1.1: If-Match compares strongly (a weak tag never matches); when present, it decides
    # alone, else If-Unmodified-Since does (13.1.4), when it is a valid date.
    condition = request.headers.get(hdrs.IF_MATCH)
    if condition is not None:
        candidates = [tag.strip() for tag in condition.split(",")]
        return "*" not in candidates and etag not in candidates
    since = request.if_unmodified_since
    return since is not None and last_modified > since


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


def _accepted(request: web.Request, names: tuple[str, ...], unnamed: bool) -> bool:
    """Does ``Accept-Encoding`` take a coding called by one of ``names`` (RFC 9110 12.5.3: named, or ``*``
    when nothing names it, with a q-value above zero)? ``unnamed``: the answer when neither is there."""
    wildcard: bool | None = None
    for coding in request.headers.get("Accept-Encoding", "").split(","):
        name, _, parameters = coding.partition(";")
        name = name.strip().lower()
        if name not in names and name != "*":
            continue
        quality = parameters.strip().lower().removeprefix("q=")
        try:
            taken = not parameters.strip() or float(quality) > 0
        except ValueError:
            taken = False
        if name != "*":
            return taken
        wildcard = taken
    return unnamed if wildcard is None else wildcard


def _gzip_accepted(request: web.Request) -> bool:
    """Does ``Accept-Encoding`` take gzip?"""
    return _accepted(request, ("gzip", "x-gzip"), unnamed=False)


def _identity_refused(request: web.Request) -> bool:
    """Does ``Accept-Encoding`` refuse an unencoded body (``identity;q=0``, or ``*;q=0`` without identity)?"""
    return not _accepted(request, ("identity",), unnamed=True)


class _FeedFile(web.FileResponse):
    """FileResponse sending a feed file, opened already, with the feed's validators, answering ``Range``
    when it may."""

    def __init__(
        self,
        opened: BinaryIO,
        request: web.Request,
        etag: str,
        last_modified: datetime,
        headers: dict[str, str],
    ) -> None:
        super().__init__(opened.name, headers=headers)
        self._opened = opened
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

    def _make_response(self, request: web.BaseRequest, accept_encoding: str) -> tuple[Any, ...]:
        # The file the handler opened: a version replaced since (its files renamed to spares, deleted)
        # is still sent whole, where opening it by name now would answer 404. The conditions were the
        # handler's, the encoding is in the headers: FileResponse sends it, ranges included, and closes it.
        return _FileResponseResult.SEND_FILE, self._opened, os.fstat(self._opened.fileno()), None

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
    """The feed; 404 for an unknown account, 403 for a wrong or missing feed token, 304 when unchanged, 412
    when If-Match or If-Unmodified-Since no longer holds."""
    try:
        account = await request.app[ACCOUNTS].get(request.match_info["account"])
    except UnknownAccount:
        return json_error(404, f"no feed for account {request.match_info['account']!r}")
    token = account.config.feed_token
    if token and not hmac.compare_digest(request.query.get("token", "").encode(), token.encode()):
        return json_error(403, "this feed needs a valid ?token=")
    plain_etag, last_modified = feed.validators(account)
    cache = request.app[FEED_CACHE]
    wants_gzip = _gzip_accepted(request)
    # Each encoding is its own representation, with its own strong validator (RFC 9110 8.8.3), and Vary
    # tells caches the body depends on Accept-Encoding. The gzip one, unless its file is not published yet.
    gzipped = wants_gzip and not cache.gzip_pending(account.name, plain_etag)
    checked = gzip_etag(plain_etag) if gzipped else plain_etag
    if (answer := _conditional(request, checked, last_modified)) is not None:
        return answer
    # The files need no database: a version built already is served through an outage (the account rows
    # it is judged by are the last read). One not built yet needs it, and an outage is then a clean 503
    # (views.errors) rather than a build failing halfway.
    if not cache.is_built(account):
        await db.ping()
    for _ in range(OPEN_TRIES):
        artifact = await cache.artifact(account)
        if wants_gzip and not artifact.gzip_ready and _identity_refused(request):
            artifact = await cache.gzipped(account.name)
            if not artifact.gzip_ready:
                return json_error(406, "the gzip file of this feed failed to build, and identity is refused")
        gzipped = wants_gzip and artifact.gzip_ready
        etag = artifact.gzip_etag if gzipped else artifact.etag
        if etag != checked and (answer := _conditional(request, etag, artifact.last_modified)) is not None:
            # Not the representation the first check assumed (its gzip file turned out to be pending, or
            # the version was built meanwhile): the conditions hold against the one sent.
            return answer
        try:
            opened = await asyncio.to_thread(open, artifact.gzip if gzipped else artifact.plain, "rb")
        except FileNotFoundError:
            # A newer version was published between the look and the open, and this one's files went:
            # the next look finds the newer one. (Or they were removed behind the hub's back: built again.)
            cache.lost(account.name, artifact)
            continue
        headers = {
            "ETag": etag,
            "Cache-Control": "no-cache",
            **VARY,
            "Content-Type": "application/xml; charset=utf-8",
        }
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        return _FeedFile(opened, request, etag, artifact.last_modified, headers)
    return json_error(503, "the feed changed faster than it could be sent: ask again", **{"Retry-After": "1"})
