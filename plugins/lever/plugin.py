"""Hook implementations of the ``lever`` adapter (its entry point)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import aiohttp

from hub import hookimpl
from hub.config import Account
from hub.errors import AdapterUnavailable, WebhookMalformed, WebhookRejected
from hub.normalised import Event, Job, JobPage, Stage, WebhookRequest
from hub.options import Option, PluginInfo
from plugins.lever import const
from plugins.lever.client import LeverClient, origin, signature_matches
from plugins.lever.mapping import (
    PostingError,
    WebhookShapeError,
    archive_reason,
    event_from_webhook,
    job_from_posting,
)

_LOGGER = logging.getLogger(__name__)


@hookimpl
def appcast_hub_plugin_info() -> PluginInfo:
    return PluginInfo(
        kind="ats",
        description="Lever: postings from the public or the v1 API, hires and stage changes by webhook",
        options=(
            Option("site", "the Lever site name, as in jobs.lever.co/<site>", required=True),
            Option(
                "region",
                "the Lever instance the account lives on",
                default=const.DEFAULT_REGION,
                choices=tuple(const.ORIGINS),
            ),
            Option("api_key", "Lever API key; without it only published postings are read", secret=True),
            Option("base_url", "API origin overriding region (proxies and tests), e.g. http://host:port"),
            Option(
                "page_size",
                f"postings per request, 1-{const.MAX_PAGE_SIZE}",
                type=int,
                default=const.DEFAULT_PAGE_SIZE,
            ),
            Option(
                "rate_per_second",
                "most requests per second to Lever (its limit is per API key)",
                type=float,
                default=const.DEFAULT_RATE_PER_SECOND,
            ),
            Option(
                "webhook_tokens",
                "the signature token of each Lever webhook sending to this account",
                type=list,
                default=[],
                secret=True,
            ),
            Option(
                "webhook_max_age_seconds",
                "webhooks triggered longer ago (or further ahead) than this are refused",
                type=float,
                default=const.DEFAULT_WEBHOOK_MAX_AGE_SECONDS,
            ),
        ),
        notes=(
            "without api_key: published postings only, full sync (public postings API)",
            "with api_key: every posting state, incremental sync by updatedAt, stages",
            "webhooks: applicationCreated, candidateStageChange, candidateHired, candidateArchiveChange",
        ),
    )


def _client(options: Mapping[str, Any], http: aiohttp.ClientSession) -> LeverClient:
    return LeverClient(
        http,
        api_origin=origin(options["region"], options.get("base_url")),
        site=options["site"],
        api_key=options.get("api_key") or None,
        rate_per_second=options["rate_per_second"],
        # Read here, not as defaults, so tests can shrink the waits.
        attempts=const.ATTEMPTS,
        backoff_base=const.BACKOFF_BASE_SECONDS,
    )


def _page_size(options: Mapping[str, Any]) -> int:
    return min(max(1, options["page_size"]), const.MAX_PAGE_SIZE)


def _jobs(client: LeverClient, postings: list[Any], seen: set[str]) -> list[Job]:
    jobs = []
    for posting in postings:
        try:
            job = job_from_posting(posting)
        except PostingError as error:
            # Skipping it would close the job it used to be: fail the sync and keep the last good data.
            raise AdapterUnavailable(f"{client.peer}: {error}") from None
        # Offset paging over a list that changes under it can repeat a posting; list it once.
        if job.ats_id not in seen:
            seen.add(job.ats_id)
            jobs.append(job)
    return jobs


@hookimpl
async def appcast_hub_fetch_jobs(
    account: Account, options: Mapping[str, Any], http: aiohttp.ClientSession, since: datetime | None
) -> AsyncIterator[JobPage]:
    client = _client(options, http)
    size = _page_size(options)
    if client.has_key:
        # API v1 filters by update time, so a scheduled sync only reads what changed.
        snapshot = since is None
        pages = client.postings(size, updated_since=since)
    else:
        # The public API lists published postings only and cannot filter: always a full snapshot, and
        # the hub closes the postings that are no longer published.
        snapshot = True
        pages = client.public_postings(size)
    seen: set[str] = set()
    yielded = False
    async for postings in pages:
        jobs = _jobs(client, postings, seen)
        if jobs or not yielded:
            yielded = True
            yield JobPage(jobs, snapshot=snapshot)
    _LOGGER.debug("%s: %s: fetched %d postings", account.name, client.peer, len(seen))


@hookimpl
async def appcast_hub_list_stages(options: Mapping[str, Any], http: aiohttp.ClientSession) -> list[Stage]:
    client = _client(options, http)
    if not client.has_key:
        raise AdapterUnavailable("listing stages needs api_key")
    stages: list[Stage] = []
    async for page in client.v1_pages("stages", _page_size(options)):
        for stage in page:
            if not (isinstance(stage, dict) and isinstance(stage.get("id"), str)):
                raise AdapterUnavailable(f"{client.peer}: /v1/stages listed a stage without an id")
            stages.append(Stage(id=stage["id"], name=str(stage.get("text") or stage["id"])))
    return stages


def _body(request: WebhookRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WebhookMalformed("the body is not JSON") from None
    if not isinstance(body, dict):
        raise WebhookMalformed("the body is not a JSON object")
    return body


@hookimpl
def appcast_hub_verify_webhook(options: Mapping[str, Any], request: WebhookRequest) -> None:
    # Lever signs only token + triggeredAt, not the body. The age window bounds how long a captured
    # delivery can be replayed; within it, the hub drops a repeated token (the event's dedupe key holds
    # it), so no state is kept here.
    body = _body(request)
    token, triggered_at, sent = body.get("token"), body.get("triggeredAt"), body.get("signature")
    if not isinstance(token, str) or not token:
        raise WebhookRejected("no token")
    if isinstance(triggered_at, bool) or not isinstance(triggered_at, int):
        raise WebhookRejected("no triggeredAt")
    if not isinstance(sent, str) or not sent:
        raise WebhookRejected("no signature")
    if not isinstance(body.get("event"), str):
        raise WebhookRejected("no event")
    secrets = [t for t in options.get("webhook_tokens") or () if isinstance(t, str) and t]
    if not secrets:
        raise WebhookRejected("no webhook_tokens configured for Lever")
    age = request.received_at.timestamp() - triggered_at / 1000
    if abs(age) > options["webhook_max_age_seconds"]:
        when = "old" if age > 0 else "in the future"
        raise WebhookRejected(f"triggeredAt is {abs(age):.0f}s {when}, outside webhook_max_age_seconds")
    if not signature_matches(secrets, token, triggered_at, sent):
        raise WebhookRejected("signature does not match any webhook token")


@hookimpl
async def appcast_hub_parse_webhook(
    options: Mapping[str, Any], request: WebhookRequest, http: aiohttp.ClientSession
) -> Sequence[Event]:
    body = _body(request)
    reason_types = None
    reason = archive_reason(body) if body.get("event") == const.EVENT_ARCHIVE_CHANGE else None
    if reason and options.get("api_key"):
        # Most Lever hires are archives with a reason of type "hired": ask Lever which reasons are.
        # Failing here (AdapterUnavailable) lets the hub retry rather than record a hire as archived.
        client = _client(options, http)
        reason_types = await client.archive_reason_types(_page_size(options), needed=reason)
    try:
        event = event_from_webhook(body, reason_types)
    except WebhookShapeError as error:
        raise WebhookMalformed(str(error)) from None
    return [event] if event is not None else []
