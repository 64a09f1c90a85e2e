"""Hook implementations of the ``lever`` adapter (its entry point)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import aiohttp

from hub.sdk import (
    Account,
    AdapterUnavailable,
    Application,
    ApplicationRefused,
    ApplicationResult,
    ConfigError,
    Event,
    Job,
    JobPage,
    Option,
    PluginInfo,
    Stage,
    WebhookMalformed,
    WebhookRejected,
    WebhookRequest,
    WebhookUnconfirmed,
    hookimpl,
    signature_matches,
)
from plugins.lever import const
from plugins.lever.client import LeverClient, origin, signed_message
from plugins.lever.mapping import (
    ApplicationFormError,
    OpportunityError,
    PostingError,
    Unconfirmed,
    WebhookShapeError,
    apply_body,
    confirmed_event,
    epoch_ms,
    events_since,
    job_from_posting,
    opportunity_archive_reason,
    postings_api_body,
    webhook_claim,
)

_LOGGER = logging.getLogger(__name__)


def _check_options(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    if options["webhook_tokens"] and not options.get("api_key"):
        # An error, not a warning: the only alternatives are trusting the unsigned body (false hires) or
        # dropping every webhook while the admin believes they work.
        raise ConfigError(
            "required when webhook_tokens is set: Lever signs a webhook's token and time, not the event it "
            "reports, so the hub confirms each event in API v1; without it, a captured webhook with another "
            "body could send Appcast a false hire",
            key="api_key",
        )
    if not options.get("api_key"):
        return [("api_key", "not set: only published postings sync, and no hire or stage reaches Appcast")]
    if not options["webhook_tokens"]:
        return [
            ("webhook_tokens", "none set: hires reach Appcast only by reconciliation, not as they happen")
        ]
    return []


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
            Option(
                "webhook_confirm_window_seconds",
                "a webhook's event must be in Lever's API this close to its triggeredAt to be believed",
                type=float,
                default=const.DEFAULT_CONFIRM_WINDOW_SECONDS,
            ),
        ),
        check_options=_check_options,
        notes=(
            "without api_key: published postings only, full sync (public postings API)",
            "with api_key: every posting state, incremental sync by updatedAt, stages, reconciliation",
            "webhooks (need api_key): applicationCreated, candidateStageChange, candidateHired, "
            "candidateArchiveChange, each confirmed in API v1 (Lever signs only token and time)",
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
    if not signature_matches(secrets, signed_message(token, triggered_at), sent):
        raise WebhookRejected("signature does not match any webhook token")
    return token


@hookimpl
async def appcast_hub_parse_webhook(
    options: Mapping[str, Any], request: WebhookRequest, http: aiohttp.ClientSession
) -> Sequence[Event]:
    # Lever signs the token and triggeredAt only: the event and its data merely say where to look. Every
    # event is read back from the opportunity in API v1 (config requires api_key for webhooks).
    body = _body(request)
    try:
        claim = webhook_claim(body)
    except WebhookShapeError as error:
        raise WebhookMalformed(str(error)) from None
    if claim is None:
        return []
    client = _client(options, http)
    if not client.has_key:
        raise WebhookUnconfirmed("Lever webhooks are confirmed through API v1, and no api_key is set")
    name, opportunity_id = claim
    try:
        opportunity = await client.opportunity(opportunity_id)
    except AdapterUnavailable as error:
        if error.status == 404:
            raise WebhookUnconfirmed(f"{name}: Lever has no opportunity {opportunity_id}") from None
        raise  # the hub retries the stored webhook later
    reason = opportunity_archive_reason(opportunity)
    reason_types = await client.archive_reason_types(_page_size(options), needed=reason) if reason else {}
    try:
        window_ms = int(options["webhook_confirm_window_seconds"] * 1000)
        return [confirmed_event(body, opportunity, reason_types, window_ms)]
    except Unconfirmed as error:
        raise WebhookUnconfirmed(str(error)) from None
    except OpportunityError as error:
        raise AdapterUnavailable(f"{client.peer}: {error}") from None


@hookimpl
async def appcast_hub_fetch_recent_events(
    account: Account, options: Mapping[str, Any], http: aiohttp.ClientSession, since: datetime
) -> list[Event]:
    client = _client(options, http)
    if not client.has_key:
        raise AdapterUnavailable("reconciliation needs api_key")
    size = _page_size(options)
    # Every opportunity updated since then, once each (paging may repeat one).
    updated: dict[str, dict[str, Any]] = {}
    async for page in client.opportunities(size, updated_since=since):
        for opportunity in page:
            if not (isinstance(opportunity, dict) and isinstance(opportunity.get("id"), str)):
                raise AdapterUnavailable(f"{client.peer}: /v1/opportunities listed one without an id")
            updated[opportunity["id"]] = opportunity
    reasons = {reason for o in updated.values() if (reason := opportunity_archive_reason(o))}
    reason_types: dict[str, str] = {}
    if reasons:
        reason_types = await client.archive_reason_types(size)
        if reasons - set(reason_types):
            # A reason created since the cache was filled: refresh it once.
            reason_types = await client.archive_reason_types(size, needed=min(reasons - set(reason_types)))
    since_ms = epoch_ms(since)
    events = []
    for opportunity in updated.values():
        try:
            events += events_since(opportunity, reason_types, since_ms)
        except OpportunityError as error:
            raise AdapterUnavailable(f"{client.peer}: {error}") from None
    _LOGGER.debug("%s: %s: %d events since %s", account.name, client.peer, len(events), since.isoformat())
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
