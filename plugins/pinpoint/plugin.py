"""Hook implementations of the ``pinpoint`` adapter (its entry point).

Jobs come from ``GET /api/v1/jobs`` (every status, so the hub learns which jobs closed), hires from the
``application_hired`` webhook completed by ``GET /api/v1/applications/{id}`` and, for reconciliation,
from ``GET /api/v1/applications`` filtered to recent hires; stages from ``GET /api/v1/stages``;
Appcast Apply applications go to ``POST /api/v1/applications``. See plugins/pinpoint/README.md for what
Pinpoint documents and what it does not.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from hub.sdk import (
    Account,
    AdapterUnavailable,
    Application,
    ApplicationRefused,
    ApplicationResult,
    Event,
    Job,
    JobPage,
    Option,
    OutcomeUnknown,
    PluginInfo,
    Stage,
    WebhookMalformed,
    WebhookRejected,
    WebhookRequest,
    hookimpl,
    signature_matches,
)
from plugins.pinpoint import const
from plugins.pinpoint.client import BadRequest, NotFound, PinpointClient
from plugins.pinpoint.mapping import (
    IncludedIndex,
    MappingError,
    application_document,
    created_application,
    hired_event,
    index_included,
    is_hired,
    job_from_resource,
    reconciled_hire,
    stages_from_resources,
    triggered_at,
    updated_at,
)

_LOGGER = logging.getLogger(__name__)


def _check_options(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    if not options.get("webhook_secret"):
        return [("webhook_secret", "not set: Pinpoint's webhooks are refused, so hires reach Appcast only by "
                 "reconciliation, not as they happen")]  # fmt: skip
    return []


@hookimpl
def appcast_hub_plugin_info() -> PluginInfo:
    return PluginInfo(
        kind="ats",
        description=(
            "Pinpoint (pinpointhq.com): jobs, hires (webhooks and reconciliation), stages and Appcast Apply "
            "applications over its JSON:API"
        ),
        options=(
            Option("subdomain", "NAME in NAME.pinpointhq.com", required=True),
            Option(
                "api_key", "Pinpoint API key (Settings > API), sent as X-API-KEY", required=True, secret=True
            ),
            Option("base_url", "overrides https://{subdomain}.pinpointhq.com (proxies, tests)"),
            Option(
                "page_size",
                "jobs (and applications, for reconciliation) asked for per request",
                type=int,
                default=const.DEFAULT_PAGE_SIZE,
            ),
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
        check_options=_check_options,
        notes=(
            "full sync only: Pinpoint documents no updated-since filter",
            "webhooks: application_hired becomes a hire; other events are stored and ignored",
            "stages from GET /api/v1/stages, which Pinpoint does not document publicly",
            "reconciliation lists applications with filters Pinpoint does not document; it falls back to "
            "reading them newest first",
            "new applications carry their source in source_name, an attribute Pinpoint does not document",
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
def appcast_hub_verify_webhook(
    account: Account, options: Mapping[str, Any], request: WebhookRequest
) -> str | None:
    secret = options.get("webhook_secret")
    if not secret:
        raise WebhookRejected("no webhook_secret configured")
    signature = _header(request.headers, const.SIGNATURE_HEADER)
    if not signature:
        raise WebhookRejected(f"missing {const.SIGNATURE_HEADER} header")
    if not signature_matches(secret, request.body, signature, encoding="base64"):
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
    # Pinpoint gives a delivery no identity of its own (no id or token in body or headers), so the hub
    # names it by a digest of the body: a redelivery of the same body is "already seen".
    return None


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
    except NotFound as error:
        # Asking again will not help (the application is gone, or this key may not read it): the hire
        # itself is what matters, so record it with what the webhook said.
        _LOGGER.warning(
            "pinpoint %s: hire of application %s recorded without details: %s",
            account.name,
            application_id,
            error,
        )
    # Any other failure propagates: the hub retries the stored webhook later. Recording the hire
    # without its source and candidate now would keep them out for good, because the complete event
    # reconciliation finds later has the same key and is "already seen".
    return [hired_event(body, request.received_at, detail)]


# --- reconciliation ---------------------------------------------------------------------------------


class _FiltersIgnored(Exception):
    """The filtered listing returned an application outside its filters: the server ignores them."""


def _iso_seconds(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _collect(hires: dict[str, Event], resource: Any, index: IncludedIndex, account: str) -> None:
    try:
        event = reconciled_hire(resource, index)
    except MappingError as error:
        _LOGGER.warning("pinpoint %s: reconciliation skipped an application: %s", account, error)
        return
    hires[event.dedupe_key] = event


async def _filtered_hires(
    client: PinpointClient, bound: datetime, page_size: int, account: str
) -> dict[str, Event]:
    """Hires through ``filter[status]=hired&filter[updated_at_after]=...``; raises _FiltersIgnored."""
    params = {
        "filter[status]": const.HIRED_STATUS,
        "filter[updated_at_after]": _iso_seconds(bound),
        "include": "candidate,job",
    }
    hires: dict[str, Event] = {}
    async with aclosing(client.iter_pages("/applications", page_size=page_size, params=params)) as pages:
        async for page in pages:
            index = index_included(page.included)
            for resource in page.data:
                if not isinstance(resource, Mapping):
                    continue
                changed = updated_at(resource)
                # Trust no filter blindly: an application reported as a hire that is not one would
                # send Appcast a false hire. Anything outside the filters means they are ignored.
                if not is_hired(resource):
                    raise _FiltersIgnored(f"application {resource.get('id')} is not hired")
                if changed is not None and changed < bound:
                    raise _FiltersIgnored(f"application {resource.get('id')} was last updated before then")
                _collect(hires, resource, index, account)
    return hires


async def _newest_first_hires(
    client: PinpointClient, bound: datetime, page_size: int, account: str, *, sort: bool = True
) -> dict[str, Event]:
    """Hires from every application newest first (``sort=-updated_at``), read until one is older.

    The stop relies on the order, so it is checked as pages arrive: the listing stops early only once
    it has been seen to run newest first (a strict decrease, never an increase). A server that ignores
    ``sort`` is read to the end instead, which is slow but misses nothing; without ``sort`` (Pinpoint
    refused it) every application is read.
    """
    params = {"include": "candidate,job"} | ({"sort": const.NEWEST_FIRST} if sort else {})
    hires: dict[str, Event] = {}
    previous: datetime | None = None
    in_order = sort  # no application was newer than the one before it (and the order was asked for)
    seen_decrease = False  # ...and one was older: the order is known to be newest first
    async with aclosing(client.iter_pages("/applications", page_size=page_size, params=params)) as pages:
        async for page in pages:
            index = index_included(page.included)
            reached_older = False
            for resource in page.data:
                if not isinstance(resource, Mapping):
                    continue
                changed = updated_at(resource)
                if changed is not None:
                    if previous is not None and changed > previous and in_order:
                        in_order = False
                        _LOGGER.warning(
                            "pinpoint %s: applications are not listed newest first; reading them all",
                            account,
                        )
                    seen_decrease = seen_decrease or (previous is not None and changed < previous)
                    previous = changed
                    if changed < bound:
                        reached_older = True
                        continue
                if is_hired(resource):
                    _collect(hires, resource, index, account)
            if reached_older and in_order and seen_decrease:
                break
    return hires


@hookimpl
async def appcast_hub_fetch_recent_events(
    account: Account, options: Mapping[str, Any], http: aiohttp.ClientSession, since: datetime
) -> Sequence[Event]:
    client = PinpointClient(http, options, account.name)
    page_size = max(1, options.get("page_size") or const.DEFAULT_PAGE_SIZE)
    # Whole seconds, and one earlier: the bound is sent as text, and neither the rounding nor a strict
    # "after" may drop an update made at ``since`` itself. Earlier is the safe side: repeats are
    # "already seen".
    bound = _aware(since).astimezone(UTC).replace(microsecond=0) - timedelta(seconds=1)
    try:
        try:
            hires = await _filtered_hires(client, bound, page_size, account.name)
        except BadRequest as error:
            _LOGGER.info(
                "pinpoint %s: the application filters were refused (%s); reading applications newest first",
                account.name,
                error,
            )
        except _FiltersIgnored as error:
            _LOGGER.warning(
                "pinpoint %s: the application filters are ignored (%s); reading applications newest first",
                account.name,
                error,
            )
        else:
            return list(hires.values())
        try:
            hires = await _newest_first_hires(client, bound, page_size, account.name)
        except BadRequest as error:
            # JSON:API servers answer 400 to a sort they do not support: read every application.
            _LOGGER.warning(
                "pinpoint %s: sorting applications was refused (%s); reading them all", account.name, error
            )
            hires = await _newest_first_hires(client, bound, page_size, account.name, sort=False)
        return list(hires.values())
    except NotFound:
        raise AdapterUnavailable(
            f"{const.PEER} has no application listing for this account (GET {const.API_PREFIX}/applications "
            "answered 404)",
            status=404,
        ) from None


# --- applications in --------------------------------------------------------------------------------


def _refuse_incomplete(application: Application) -> None:
    """Refuse, naming the field, what Pinpoint could only receive as half an application."""
    if not (application.name or "").strip():
        raise ApplicationRefused("name is empty: Pinpoint needs the candidate's first and last name")
    email = (application.email or "").strip()
    if not email:
        raise ApplicationRefused("email is missing: Pinpoint needs the candidate's e-mail address")
    if not re.fullmatch(const.EMAIL_PATTERN, email):
        raise ApplicationRefused("email does not look like an e-mail address")
    if application.answers:
        raise ApplicationRefused(
            "answers: the pinpoint adapter cannot send answers to a job's application questions "
            "(Pinpoint documents no way to), so the application would arrive incomplete"
        )


def _names_source(answer: Any) -> bool:
    """Do Pinpoint's errors point at the source attribute (which it does not document)?"""
    errors = answer.get("errors") if isinstance(answer, Mapping) else None
    return bool(errors) and const.SOURCE_ATTRIBUTE in json.dumps(errors)


@hookimpl
async def appcast_hub_create_application(
    account: Account,
    options: Mapping[str, Any],
    job: Job,
    application: Application,
    http: aiohttp.ClientSession,
) -> ApplicationResult:
    _refuse_incomplete(application)
    if application.urls:
        # No documented attribute takes links, and an unknown one may get the whole application refused.
        _LOGGER.warning(
            "pinpoint %s: %d link(s) of an application for job %s not sent (no Pinpoint field for them)",
            account.name,
            len(application.urls),
            job.ats_id,
        )
    client = PinpointClient(http, options, account.name)
    try:
        answer = await client.post("/applications", application_document(job.ats_id, application))
    except ApplicationRefused as refused:
        if not _names_source(refused.detail):
            raise
        # A 4xx created nothing, so sending again is safe: better a candidate without a source than none.
        _LOGGER.warning(
            "pinpoint %s: Pinpoint refused the %s attribute; sending the application without its source",
            account.name,
            const.SOURCE_ATTRIBUTE,
        )
        document = application_document(job.ats_id, application, with_source=False)
        answer = await client.post("/applications", document)
    try:
        return created_application(answer)
    except MappingError as error:
        raise OutcomeUnknown(
            f"{const.PEER} accepted the application but {error}: it may exist already"
        ) from None
