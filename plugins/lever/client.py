"""Lever's HTTP protocol: the public postings API (v0), API v1 paging, applications and webhook signatures.

Requests go through the SDK's ``request_json``, so retries, ``Retry-After`` and error reporting are the
hub's; this module adds Lever's paging rules, its rate limits (per API key, and per site for application
POSTs, which Lever limits to about 2/s) and the shape checks that turn an unexpected body into
``AdapterUnavailable`` instead of a crash.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from hub.sdk import AdapterUnavailable, ApplicationRefused, basic_auth, rate_limiter, request_json
from plugins.lever import const
from plugins.lever.mapping import epoch_ms

#: Archive reason id → type (``hired`` / ``non-hired``), per (origin, site), with its expiry time.
_ARCHIVE_REASONS: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}


def origin(region: str, base_url: str | None) -> str:
    """The API origin to talk to: ``base_url`` when set (tests, proxies), else the region's."""
    if base_url:
        return base_url.rstrip("/")
    return const.ORIGINS[region]


def signed_message(token: str, triggered_at: int) -> bytes:
    """What Lever signs of a webhook: ``token + str(triggeredAt)`` (HMAC-SHA256, hex, keyed by the
    webhook's signature token); the body is not signed."""
    return f"{token}{triggered_at}".encode()


def _describe(body: Any) -> str:
    if isinstance(body, dict):
        return "a JSON object"
    if isinstance(body, list):
        return "a JSON array"
    return "null" if body is None else f"a JSON {type(body).__name__}"


class LeverClient:
    """Requests to one Lever site, through the hub's shared session."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        api_origin: str,
        site: str,
        api_key: str | None,
        rate_per_second: float,
        attempts: int = const.ATTEMPTS,
        backoff_base: float = const.BACKOFF_BASE_SECONDS,
    ) -> None:
        self._http = http
        self.origin = api_origin
        self.site = site
        # Basic auth, the key as user name and no password.
        self._auth = basic_auth(api_key) if api_key else None
        # Lever limits per API key, not per account: accounts sharing a key share one limiter. The key is
        # hashed so the limiter table never holds it in clear. Lever tolerates bursts of a second's worth.
        identity = "key:" + hashlib.sha256(api_key.encode()).hexdigest() if api_key else "site:" + site
        self._limiter = rate_limiter(
            (const.NAME, api_origin, identity), rate_per_second, max(1, int(rate_per_second))
        )
        # Application POSTs have a limit of their own, per site.
        self._apply_limiter = rate_limiter(
            (const.NAME, api_origin, "apply:" + site), const.APPLY_RATE_PER_SECOND, const.APPLY_BURST
        )
        self._attempts = attempts
        self._backoff_base = backoff_base
        self.peer = f"{const.PEER} ({site})"

    @property
    def has_key(self) -> bool:
        """Is an API key configured (so API v1 is available)?"""
        return self._auth is not None

    async def _get(self, path: str, params: Mapping[str, str], *, auth: bool) -> Any:
        return await self._request("GET", path, params, auth=auth)

    async def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        *,
        auth: bool,
        json_body: Any = None,
        apply: bool = False,
    ) -> Any:
        return await request_json(
            self._http,
            method,
            f"{self.origin}{path}",
            peer=self.peer,
            params=params,
            headers=self._auth if auth else None,
            json_body=json_body,
            limiter=self._apply_limiter if apply else self._limiter,
            # An application Lever answers 4xx is refused (a closed posting…), and says why.
            refusals=apply,
            attempts=self._attempts,
            backoff_base=self._backoff_base,
            timeout=const.REQUEST_TIMEOUT_SECONDS,
        )

    async def public_postings(self, page_size: int) -> AsyncIterator[list[Any]]:
        """Every published posting from the public API (v0), a page at a time.

        The answer is a bare array with no total or cursor: a page shorter than ``limit`` is the last.
        """
        path = f"/v0/postings/{quote(self.site, safe='')}"
        skip = 0
        while True:
            params = {"mode": "json", "skip": str(skip), "limit": str(page_size)}
            body = await self._get(path, params, auth=False)
            if not isinstance(body, list):
                raise AdapterUnavailable(
                    f"{self.peer}: the postings API answered {_describe(body)}, expected an array"
                )
            yield body
            if len(body) < page_size:
                return
            skip += len(body)

    async def v1_pages(
        self, resource: str, page_size: int, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[list[Any]]:
        """Every item of a paged API v1 list (``{data, hasNext, next}``), a page at a time."""
        offset: str | None = None
        offsets_seen: set[str] = set()
        while True:
            query = {**(params or {}), "limit": str(page_size)}
            if offset is not None:
                query["offset"] = offset
            body = await self._get(f"/v1/{resource}", query, auth=True)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise AdapterUnavailable(
                    f"{self.peer}: /v1/{resource} answered {_describe(body)}, "
                    "expected an object with a data array"
                )
            yield data
            if not body.get("hasNext"):
                return
            offset = body.get("next")
            # A missing or repeated cursor would page forever: fail the fetch instead.
            if not isinstance(offset, str) or not offset or offset in offsets_seen:
                raise AdapterUnavailable(f"{self.peer}: /v1/{resource} has more pages but no new cursor")
            offsets_seen.add(offset)

    def postings(self, page_size: int, updated_since: datetime | None) -> AsyncIterator[list[Any]]:
        """Every posting of the account (all states) from API v1, or those updated since a time."""
        params = {"updated_at_start": str(epoch_ms(updated_since))} if updated_since else {}
        return self.v1_pages("postings", page_size, params)

    async def archive_reason_types(self, page_size: int, *, needed: str | None = None) -> dict[str, str]:
        """Archive reason id → ``type`` (``hired`` or ``non-hired``), cached per site for a while.

        A ``needed`` reason missing from the cache (one created since it was filled) refreshes it.
        """
        key = (self.origin, self.site)
        cached = _ARCHIVE_REASONS.get(key)
        if cached is not None and cached[0] > time.monotonic() and (needed is None or needed in cached[1]):
            return cached[1]
        types: dict[str, str] = {}
        async for page in self.v1_pages("archive_reasons", page_size):
            for reason in page:
                if isinstance(reason, dict) and isinstance(reason.get("id"), str):
                    types[reason["id"]] = str(reason.get("type") or "")
        _ARCHIVE_REASONS[key] = (time.monotonic() + const.ARCHIVE_REASONS_TTL_SECONDS, types)
        return types

    def opportunities(self, page_size: int, updated_since: datetime) -> AsyncIterator[list[Any]]:
        """Opportunities updated since a time, each with its applications expanded (for ``posting``)."""
        params = {"updated_at_start": str(epoch_ms(updated_since)), "expand": "applications"}
        return self.v1_pages("opportunities", page_size, params)

    async def opportunity(self, opportunity_id: str) -> dict[str, Any]:
        """One opportunity with its applications expanded; AdapterUnavailable (status 404) if unknown."""
        path = f"/v1/opportunities/{quote(opportunity_id, safe='')}"
        return self._data_object(await self._get(path, {"expand": "applications"}, auth=True), path)

    async def apply_form(self, posting_id: str) -> dict[str, Any]:
        """The posting's application form (API v1): personal information, URLs, custom questions."""
        path = f"/v1/postings/{quote(posting_id, safe='')}/apply"
        return self._data_object(await self._get(path, {}, auth=True), path)

    def _data_object(self, body: Any, path: str) -> dict[str, Any]:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            # The path holds ids only, never a key: safe to name.
            raise AdapterUnavailable(
                f"{self.peer}: {path} answered {_describe(body)}, expected an object with a data object"
            )
        return data

    async def _apply(
        self, path: str, body: dict[str, Any], params: Mapping[str, str] | None, *, auth: bool
    ) -> Any:
        """POST an application, queued behind the site's 2/s apply limit; Lever's 4xx refuse it."""
        return await self._request("POST", path, params, auth=auth, json_body=body, apply=True)

    async def apply_v1(self, posting_id: str, body: dict[str, Any]) -> str:
        """Apply through API v1 (``POST /v1/postings/{id}/apply``); returns Lever's application id."""
        path = f"/v1/postings/{quote(posting_id, safe='')}/apply"
        answer = await self._apply(path, body, None, auth=True)
        data = answer.get("data") if isinstance(answer, dict) else None
        application_id = data.get("applicationId") if isinstance(data, dict) else None
        if not isinstance(application_id, str) or not application_id:
            raise AdapterUnavailable(f"{self.peer}: the apply API answered {_describe(answer)} without an id")
        return application_id

    async def apply_v0(self, posting_id: str, key: str, body: dict[str, Any]) -> str:
        """Apply through the postings API (``POST /v0/postings/{site}/{id}?key=``); returns the id."""
        path = f"/v0/postings/{quote(self.site, safe='')}/{quote(posting_id, safe='')}"
        answer = await self._apply(path, body, {"key": key}, auth=False)
        if isinstance(answer, dict) and answer.get("ok") is False:
            reason = answer.get("error")
            text = reason.strip() if isinstance(reason, str) and reason.strip() else "no reason given"
            raise ApplicationRefused(f"{self.peer} refused the application: {text}")
        application_id = answer.get("applicationId") if isinstance(answer, dict) else None
        if not isinstance(application_id, str) or not application_id:
            raise AdapterUnavailable(
                f"{self.peer}: the postings API answered {_describe(answer)} without an id"
            )
        return application_id


def forget_archive_reasons() -> None:
    """Drop the archive reason cache (tests, or after an admin changed reasons in Lever)."""
    _ARCHIVE_REASONS.clear()
