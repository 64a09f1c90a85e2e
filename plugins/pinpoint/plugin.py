"""Hook implementations of the ``pinpoint`` adapter (its entry point).

Jobs come from ``GET /api/v1/jobs`` (every status, so the hub learns which jobs closed), hires from the
``application_hired`` webhook completed by ``GET /api/v1/applications/{id}``, stages from
``GET /api/v1/stages``. See plugins/pinpoint/README.md for what Pinpoint documents and what it does not.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp

from hub import hookimpl
from hub.config import Account
from hub.errors import AdapterUnavailable, WebhookMalformed, WebhookRejected
from hub.normalised import Event, JobPage, Stage, WebhookRequest
from hub.options import Option, PluginInfo
from plugins.pinpoint import const
from plugins.pinpoint.client import NotFound, PinpointClient, webhook_signature
from plugins.pinpoint.mapping import (
    MappingError,
    hired_event,
    index_included,
    job_from_resource,
    stages_from_resources,
    triggered_at,
)

_LOGGER = logging.getLogger(__name__)


@hookimpl
def appcast_hub_plugin_info() -> PluginInfo:
    return PluginInfo(
        kind="ats",
        description="Pinpoint (pinpointhq.com): jobs, hire webhooks and stages over its JSON:API",
        options=(
            Option("subdomain", "NAME in NAME.pinpointhq.com", required=True),
            Option(
                "api_key", "Pinpoint API key (Settings > API), sent as X-API-KEY", required=True, secret=True
            ),
            Option("base_url", "overrides https://{subdomain}.pinpointhq.com (proxies, tests)"),
            Option("page_size", "jobs asked for per request", type=int, default=const.DEFAULT_PAGE_SIZE),
            Option(
                "rate_per_second",
                "most requests per second to Pinpoint (0: no limit)",
                type=float,
                default=const.DEFAULT_RATE_PER_SECOND,
            ),
            Option(
                "webhook_secret", "the webhook's signing secret; webhooks are refused without it", secret=True
            ),
            Option(
                "webhook_max_age_seconds",
                "refuse webhooks whose triggeredAt is further than this from now (0: no limit)",
                type=float,
                default=const.DEFAULT_WEBHOOK_MAX_AGE_SECONDS,
            ),
        ),
        notes=(
            "full sync only: Pinpoint documents no updated-since filter",
            "webhooks: application_hired becomes a hire; other events are stored and ignored",
            "stages from GET /api/v1/stages, which Pinpoint does not document publicly",
        ),
    )


@hookimpl
async def appcast_hub_fetch_jobs(
    account: Account, options: Mapping[str, Any], http: aiohttp.ClientSession, since: datetime | None
) -> AsyncIterator[JobPage]:
    if since is not None:
        # No public updated-since filter: an incremental sync is a full one, and says so (snapshot).
        _LOGGER.debug("pinpoint %s: no incremental listing; fetching every job", account.name)
    client = PinpointClient(http, options, account.name)
    page_size = max(1, options.get("page_size") or const.DEFAULT_PAGE_SIZE)
    # No filter[status]: closed, draft and archived jobs must be listed too, or a snapshot could not
    # tell "closed" from "never seen".
    pages = client.iter_pages("/jobs", page_size=page_size, params={"include": "location"})
    async for page in pages:
        index = index_included(page.included)
        jobs = []
        for resource in page.data:
            try:
                jobs.append(job_from_resource(resource, index))
            except MappingError as error:
                # Skipping the job would close it in a snapshot: fail the sync, keep the last good data.
                raise AdapterUnavailable(f"{const.PEER} jobs page {page.number}: {error}") from None
        yield JobPage(jobs, snapshot=True)


@hookimpl
async def appcast_hub_list_stages(
    account: Account, options: Mapping[str, Any], http: aiohttp.ClientSession
) -> Sequence[Stage]:
    client = PinpointClient(http, options, account.name)
    resources: list[Any] = []
    included: list[Any] = []
    try:
        async for page in client.iter_pages("/stages", page_size=const.DEFAULT_PAGE_SIZE):
            resources += page.data
            included += page.included
    except NotFound:
        raise AdapterUnavailable(
            f"{const.PEER} has no stage listing for this account (GET {const.API_PREFIX}/stages "
            "answered 404; the endpoint is not in Pinpoint's public docs)"
        ) from None
    return stages_from_resources(resources, index_included(included))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        # Plain dicts are case-sensitive; HTTP header names are not.
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WebhookMalformed("body is not JSON") from None
    if not isinstance(document, dict):
        raise WebhookMalformed("body is not a JSON object")
    return document


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@hookimpl
def appcast_hub_verify_webhook(account: Account, options: Mapping[str, Any], request: WebhookRequest) -> None:
    secret = options.get("webhook_secret")
    if not secret:
        raise WebhookRejected("no webhook_secret configured")
    signature = _header(request.headers, const.SIGNATURE_HEADER)
    if not signature:
        raise WebhookRejected(f"missing {const.SIGNATURE_HEADER} header")
    expected = webhook_signature(secret, request.body)
    # Bytes, not str: compare_digest refuses non-ASCII str, and a forged header may be anything.
    if not hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace")):
        raise WebhookRejected("signature does not match")
    body = _json_object(request.body)
    max_age = options.get("webhook_max_age_seconds") or 0
    try:
        sent_at = triggered_at(body)
    except MappingError as error:
        raise WebhookMalformed(str(error)) from None
    if sent_at is not None and max_age > 0:
        age = (_aware(request.received_at) - sent_at).total_seconds()
        if abs(age) > max_age:
            raise WebhookRejected(f"stale: triggeredAt is {age:+.0f}s from receipt (allowed ±{max_age:g}s)")


@hookimpl
async def appcast_hub_parse_webhook(
    account: Account,
    options: Mapping[str, Any],
    request: WebhookRequest,
    http: aiohttp.ClientSession,
) -> Sequence[Event]:
    body = _json_object(request.body)
    name = body.get("event")
    if name != const.HIRED_EVENT:
        # Pinpoint confirms no other event publicly; the hub keeps the raw delivery for audit.
        _LOGGER.debug("pinpoint %s: ignoring webhook event %r", account.name, name)
        return []
    try:
        hired_event(body, request.received_at)  # validate before spending a request on it
    except MappingError as error:
        raise WebhookMalformed(str(error)) from None
    application_id = str(body["data"]["application"]["id"])
    detail: dict[str, Any] | None = None
    try:
        client = PinpointClient(http, options, account.name)
        detail = await client.get(f"/applications/{application_id}", {"include": "candidate"})
    except AdapterUnavailable as error:
        # The hire itself is what matters: record it with what the webhook said.
        _LOGGER.warning(
            "pinpoint %s: hire of application %s recorded without details: %s",
            account.name,
            application_id,
            error,
        )
    return [hired_event(body, request.received_at, detail)]
