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
from hub.errors import AdapterUnavailable, ApplicationRefused, WebhookMalformed, WebhookRejected
from hub.normalised import Application, ApplicationResult, Event, Job, JobPage, Stage, WebhookRequest
from hub.options import Option, PluginInfo
from plugins.lever import const
from plugins.lever.client import LeverClient, epoch_ms, origin, signature_matches
from plugins.lever.mapping import (
    ApplicationFormError,
    OpportunityError,
    PostingError,
    WebhookShapeError,
    apply_body,
    archive_reason,
    event_from_webhook,
    hire_from_opportunity,
    job_from_posting,
    opportunity_archive_reason,
    opportunity_id,
    postings_api_body,
    with_opportunity_details,
)

_LOGGER = logging.getLogger(__name__)


@hookimpl
def appcast_hub_plugin_info() -> PluginInfo:
    return PluginInfo(
        kind="ats",
        description=(
            "Lever: postings from the public or the v1 API, hires and stage changes by webhook and "
            "reconciliation, applications from Appcast Apply"
        ),
        options=(
            Option("site", "the Lever site name, as in jobs.lever.co/<site>", required=True),
            Option(
                "region",
                "the Lever instance the account lives on",
                default=const.DEFAULT_REGION,
                choices=tuple(const.ORIGINS),
            ),
            Option("api_key", "Lever API key; without it only published postings are read", secret=True),
            Option(
                "postings_api_key",
                "Lever postings API key for applications, used when api_key is not set",
                secret=True,
            ),
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
            "with api_key: every posting state, incremental sync by updatedAt, stages, reconciliation",
            "webhooks: applicationCreated, candidateStageChange, candidateHired, candidateArchiveChange",
            "applications: API v1 with api_key (questions checked), else postings API with postings_api_key",
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
def appcast_hub_verify_webhook(options: Mapping[str, Any], request: WebhookRequest) -> str:
    # Lever signs only token + triggeredAt, not the body. The age window bounds how long a captured
    # delivery can be replayed; within it, the hub stores each token (returned as the webhook's
    # identity) once, so a replay is never processed and no state is kept here.
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
    return token


async def _opportunity_or_none(client: LeverClient, opportunity: str) -> dict[str, Any] | None:
    try:
        return await client.opportunity(opportunity)
    except AdapterUnavailable as error:
        # Deleted since (404): the hire stands without the details. Anything else is retried later.
        if error.status == 404:
            return None
        raise


@hookimpl
async def appcast_hub_parse_webhook(
    options: Mapping[str, Any], request: WebhookRequest, http: aiohttp.ClientSession
) -> Sequence[Event]:
    body = _body(request)
    # Without a key there is no API v1: archives stay archives and hires carry what the webhook says.
    client = _client(options, http) if options.get("api_key") else None
    reason_types = None
    reason = archive_reason(body) if body.get("event") == const.EVENT_ARCHIVE_CHANGE else None
    if reason and client is not None:
        # Most Lever hires are archives with a reason of type "hired": ask Lever which reasons are.
        # Failing here (AdapterUnavailable) lets the hub retry rather than record a hire as archived.
        reason_types = await client.archive_reason_types(_page_size(options), needed=reason)
    try:
        event = event_from_webhook(body, reason_types)
    except WebhookShapeError as error:
        raise WebhookMalformed(str(error)) from None
    if event is None:
        return []
    opportunity = opportunity_id(body)
    if event.kind == "hired" and client is not None and opportunity:
        # Lever's hire webhooks are thin: the posting, source and e-mail come from the opportunity.
        details = await _opportunity_or_none(client, opportunity)
        if details is not None:
            event = with_opportunity_details(event, details)
    return [event]


@hookimpl
async def appcast_hub_fetch_recent_events(
    account: Account, options: Mapping[str, Any], http: aiohttp.ClientSession, since: datetime
) -> list[Event]:
    client = _client(options, http)
    if not client.has_key:
        raise AdapterUnavailable("reconciliation needs api_key")
    size = _page_size(options)
    # Every opportunity archived and updated since then, once each (paging may repeat one).
    archived: dict[str, dict[str, Any]] = {}
    async for page in client.opportunities(size, updated_since=since):
        for opportunity in page:
            if not (isinstance(opportunity, dict) and isinstance(opportunity.get("id"), str)):
                raise AdapterUnavailable(f"{client.peer}: /v1/opportunities listed one without an id")
            if opportunity_archive_reason(opportunity):
                archived[opportunity["id"]] = opportunity
    if not archived:
        return []
    reason_types = await client.archive_reason_types(size)
    unknown = {reason for o in archived.values() if (reason := opportunity_archive_reason(o))}
    unknown -= set(reason_types)
    if unknown:
        # A reason created since the cache was filled: refresh it once.
        reason_types = await client.archive_reason_types(size, needed=min(unknown))
    since_ms = epoch_ms(since)
    events = []
    for opportunity in archived.values():
        try:
            event = hire_from_opportunity(opportunity, reason_types)
        except OpportunityError as error:
            raise AdapterUnavailable(f"{client.peer}: {error}") from None
        # Updated since, but hired before (a note added to an old hire): not an event of this period.
        if event is not None and epoch_ms(event.occurred_at) >= since_ms:
            events.append(event)
    _LOGGER.debug("%s: %s: %d hires since %s", account.name, client.peer, len(events), since.isoformat())
    return events


@hookimpl
async def appcast_hub_create_application(
    options: Mapping[str, Any], job: Job, application: Application, http: aiohttp.ClientSession
) -> ApplicationResult:
    client = _client(options, http)
    try:
        if client.has_key:
            # API v1: read the form first, so a question Appcast Apply cannot answer refuses the
            # application before anything is created in Lever.
            try:
                form = await client.apply_form(job.ats_id)
            except AdapterUnavailable as error:
                if error.status == 404:
                    raise ApplicationRefused(f"job {job.ats_id} is not in Lever") from None
                raise
            application_id = await client.apply_v1(job.ats_id, apply_body(job.ats_id, form, application))
        else:
            key = options.get("postings_api_key")
            if not key:
                raise ApplicationRefused("this Lever account has no postings_api_key configured")
            if application.answers:
                # The postings API takes no answers: sending the rest would be half an application.
                raise ApplicationRefused(
                    f"job {job.ats_id}: answers to the job's questions can only be sent with api_key"
                )
            application_id = await client.apply_v0(job.ats_id, key, postings_api_body(application))
    except ApplicationFormError as error:
        raise ApplicationRefused(str(error)) from None
    return ApplicationResult(ats_application_id=application_id)
