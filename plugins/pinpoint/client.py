"""Talking to Pinpoint: authenticated JSON:API requests and paging.

Every request goes through the SDK's ``request_json`` (retries, ``Retry-After``, one outcome per answer):
the one POST (creating an application) as a request that is not idempotent and whose 4xx is a refusal.
All of an account's requests wait behind one shared rate limiter.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from hub.sdk import AdapterAuthError, AdapterUnavailable, rate_limiter, request_json
from plugins.pinpoint import const

_LOGGER = logging.getLogger(__name__)

_SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class NotFound(AdapterUnavailable):
    """Pinpoint answered 404: the endpoint (or the record) does not exist for this account."""


class BadRequest(AdapterUnavailable):
    """Pinpoint answered 400: it refused the request as sent (a filter or parameter it does not know)."""


def base_url(options: Mapping[str, Any]) -> str:
    """The account's Pinpoint root URL: ``base_url`` if set, else ``https://{subdomain}.pinpointhq.com``."""
    override = options.get("base_url")
    if override:
        return str(override).rstrip("/")
    subdomain = str(options.get("subdomain") or "").strip().lower()
    # Admins paste what they see in the browser: accept "https://acme.pinpointhq.com/" for "acme".
    subdomain = subdomain.removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    subdomain = subdomain.removesuffix(".pinpointhq.com")
    if not _SUBDOMAIN.match(subdomain):
        # Refuse rather than build a host name from it: the API key would be sent there.
        raise AdapterUnavailable(
            f"subdomain {subdomain!r} is not a Pinpoint subdomain (NAME in NAME.pinpointhq.com)"
        )
    return const.BASE_URL_TEMPLATE.format(subdomain=subdomain)


@dataclass(slots=True)
class JsonApiPage:
    """One page of a JSON:API collection: its resources (first sightings only) and ``included``."""

    number: int
    data: list[Any]
    included: list[Any]


class PinpointClient:
    """One account's view of Pinpoint's API (``{base}/api/v1``)."""

    def __init__(self, http: aiohttp.ClientSession, options: Mapping[str, Any], account: str) -> None:
        self.base_url = base_url(options)
        self._http = http
        self._headers = {
            const.API_KEY_HEADER: str(options.get("api_key") or ""),
            "Accept": const.JSONAPI_MEDIA_TYPE,
        }
        rate = options.get("rate_per_second")
        # One limiter per account: a sync, reconciliation, new applications and a burst of webhooks share
        # Pinpoint's patience instead of each spending it separately. 0 switches it off.
        self._limiter = rate_limiter(
            (const.NAME, account, self.base_url),
            const.DEFAULT_RATE_PER_SECOND if rate is None else float(rate),
        )

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """GET ``/api/v1{path}`` and return the JSON:API document; raise AdapterUnavailable on failure."""
        try:
            document = await request_json(
                self._http,
                "GET",
                f"{self.base_url}{const.API_PREFIX}{path}",
                peer=const.PEER,
                params=params,
                headers=self._headers,
                limiter=self._limiter,
                attempts=const.ATTEMPTS,
                backoff_base=const.BACKOFF_BASE,
                backoff_cap=const.BACKOFF_CAP,
            )
        except AdapterAuthError as error:
            raise AdapterAuthError(f"{error}: check the account's api_key and its permissions") from None
        except AdapterUnavailable as error:
            # 404 means something different (an endpoint this account lacks) from "try again later",
            # so callers need to tell.
            if error.status == 404:
                raise NotFound(str(error), status=404) from None
            if error.status == 400:
                raise BadRequest(str(error), status=400) from None
            raise
        problem = _shape_problem(document)
        if problem is not None:
            raise AdapterUnavailable(f"{const.PEER} answered {const.API_PREFIX}{path} with {problem}")
        return document

    async def post(self, path: str, document: Mapping[str, Any]) -> Any:
        """POST a JSON:API document to ``/api/v1{path}``; return the decoded answer.

        Creating is not idempotent: ``request_json`` only retries what cannot have created anything, and
        raises OutcomeUnknown when the record may or may not exist. A 4xx (other than 401/403/429) is
        Pinpoint refusing it: ApplicationRefused, with its JSON:API ``errors`` as ``detail``.
        """
        try:
            return await request_json(
                self._http,
                "POST",
                f"{self.base_url}{const.API_PREFIX}{path}",
                peer=const.PEER,
                headers={**self._headers, "Content-Type": const.JSONAPI_MEDIA_TYPE},
                json_body=document,
                limiter=self._limiter,
                attempts=const.ATTEMPTS,
                backoff_base=const.BACKOFF_BASE,
                backoff_cap=const.BACKOFF_CAP,
                timeout=const.POST_TIMEOUT,
                refusals=True,
            )
        except AdapterAuthError as error:
            raise AdapterAuthError(
                f"{error}: check the account's api_key and its permissions", status=error.status
            ) from None

    async def iter_pages(
        self, path: str, *, page_size: int, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[JsonApiPage]:
        """Yield every page of a collection, following ``page[number]`` until the server says stop.

        The first page is always yielded (possibly empty, so a caller learns "no records"); later pages
        only when they hold something new. A resource seen on an earlier page is dropped (records shift
        between pages when one is added mid-fetch), and a page holding nothing new means the server
        ignores ``page[number]``: that fails loudly, since stopping there would pass off part of the
        list as all of it.
        """
        seen: set[str] = set()
        previous: int | None = None
        for number in range(1, const.MAX_PAGES + 1):
            query = {**(params or {}), "page[number]": str(number), "page[size]": str(page_size)}
            document = await self.get(path, query)
            data = document["data"]
            if not isinstance(data, list):
                raise AdapterUnavailable(
                    f"{const.PEER} answered {const.API_PREFIX}{path} with one resource, not a list"
                )
            fresh = []
            for resource in data:
                key = str(resource.get("id")) if isinstance(resource, dict) else None
                if key is not None and key in seen:
                    continue
                if key is not None:
                    seen.add(key)
                fresh.append(resource)
            if data and not fresh:
                raise AdapterUnavailable(
                    f"{const.PEER} sent page {number} of {const.API_PREFIX}{path} again: "
                    "it ignores page[number], so the full list cannot be read"
                )
            _LOGGER.debug(
                "%s %s page %d: %d resources, %d new", const.PEER, path, number, len(data), len(fresh)
            )
            included = document.get("included")
            if fresh or number == 1:
                yield JsonApiPage(number, fresh, included if isinstance(included, list) else [])
            if not _has_next(document, number, len(data), previous):
                return
            previous = len(data)
        raise AdapterUnavailable(f"{const.PEER} announced more than {const.MAX_PAGES} pages")


def _shape_problem(document: Any) -> str | None:
    """Why ``document`` is not a JSON:API document with ``data``, or None when it is."""
    if not isinstance(document, dict):
        return f"a body that is not a JSON:API document ({type(document).__name__})"
    if "data" not in document:
        errors = document.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            detail = first.get("detail") or first.get("title") or "an error"
            return f"a JSON:API error: {str(detail)[:200]}"
        return 'a body that is not a JSON:API document (no "data")'
    if not isinstance(document["data"], list | dict):
        return 'a JSON:API document whose "data" is neither a list nor a resource'
    return None


def _has_next(document: dict[str, Any], number: int, count: int, previous: int | None) -> bool:
    """Is there a page after page ``number`` (which held ``count`` resources)?"""
    if count == 0:
        return False
    links = document.get("links")
    if isinstance(links, dict) and links:
        # JSON:API pagination: ``next`` is present and non-null exactly when there is a next page.
        return bool(links.get("next"))
    total = _total_pages(document.get("meta"))
    if total is not None:
        return number < total
    # No paging signal at all. A page shorter than its predecessor ends the list; the first page gets
    # one more request, because a short first page may be a server-side cap on page[size].
    return previous is None or count >= previous


def _total_pages(meta: Any) -> int | None:
    """``meta.total_pages`` in the layouts JSON:API servers use, or None."""
    if not isinstance(meta, dict):
        return None
    candidates = [meta]
    candidates += [meta[key] for key in ("pagination", "page") if isinstance(meta.get(key), dict)]
    for holder in candidates:
        for key in ("total_pages", "page_count", "last_page", "pages"):
            value = holder.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str) and value.isdigit():
                return int(value)
    return None
