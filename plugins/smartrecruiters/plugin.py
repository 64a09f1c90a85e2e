"""Hook implementations of the ``smartrecruiters`` adapter (its entry point): jobs, stages, webhooks,
hires and Apply. Each hook takes only the arguments it uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp

from hub import sdk

from . import const
from .client import api, content, iso, pages, path, signature_matches, signatures, signed_message
from .mapping import candidate_body, hires_from_candidate, job_from, public_ad, stages, webhook_event

_SOURCE = {"sourceTypeId": "source_type_id", "sourceSubTypeId": "source_sub_type_id",
           "sourceId": "source_id"}  # fmt: skip


def _appcast_source(options: Mapping[str, Any]) -> dict[str, str]:
    """The ``sourceDetails`` Appcast Apply candidates are created with (none set: SmartRecruiters' API)."""
    return {field: options[option] for field, option in _SOURCE.items() if options[option]}


def _check_options(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    if not 1 <= options["page_size"] <= const.MAX_PAGE_SIZE:
        raise sdk.ConfigError(f"must be 1-{const.MAX_PAGE_SIZE}: SmartRecruiters' limit", key="page_size")
    if unknown := sorted(set(options["open_statuses"]) - set(const.JOB_STATUSES)):
        raise sdk.ConfigError(f"not job statuses: {', '.join(map(str, unknown))}", key="open_statuses")
    if (options["source_id"] or options["source_sub_type_id"]) and not options["source_type_id"]:
        raise sdk.ConfigError("required with source_id or source_sub_type_id", key="source_type_id")
    warnings = []
    if not options["webhook_secrets"]:
        warnings.append(
            ("webhook_secrets", "none set: every webhook is refused, hires arrive by reconciliation")
        )
    if not options["source_type_id"]:
        warnings.append(
            ("source_type_id", "not set: Appcast Apply candidates get SmartRecruiters' API source")
        )
    return warnings


@sdk.hookimpl
def appcast_hub_plugin_info() -> sdk.PluginInfo:
    option = sdk.Option
    return sdk.PluginInfo(
        kind="ats",
        description="SmartRecruiters: jobs, candidate statuses, signed webhooks, hires and Appcast Apply",
        options=(
            option(
                "api_key", f"Customer API key, sent as {const.API_KEY_HEADER}", required=True, secret=True
            ),
            option("base_url", "API root (proxies, tests)", default=const.DEFAULT_BASE_URL),
            option("webhook_secrets", "the subscriptions' secret keys", type=list, default=[], secret=True),
            option(
                "webhook_max_age_seconds",
                "webhooks signed longer ago (or ahead) than this are refused",
                type=float,
                default=const.DEFAULT_WEBHOOK_MAX_AGE_SECONDS,
            ),
            option("page_size", f"items per request, 1-{const.MAX_PAGE_SIZE}", type=int, default=100),
            option(
                "rate_per_second",
                "most requests a second (0: no limit)",
                type=float,
                default=const.DEFAULT_RATE_PER_SECOND,
            ),
            option(
                "open_statuses",
                "job statuses whose public job is open",
                type=list,
                default=const.DEFAULT_OPEN_STATUSES,
            ),
            option("source_type_id", "sourceTypeId of Appcast Apply candidates (/configuration/sources)"),
            option("source_sub_type_id", "their sourceSubTypeId"),
            option("source_id", "their sourceId (/configuration/sources/{type}/values)"),
        ),
        check_options=_check_options,
        # SmartRecruiters counts only 202 as delivered, and suspends a subscription that keeps failing.
        webhook_ack_status=202,
        notes=(
            "jobs: Job API, incremental by updatedAfter; open = an open status and a PUBLIC job ad",
            "webhooks: application.created and application.status.updated, each read back from the API",
            "applications: Candidate API (no screening answers, no cover letter)",
        ),
    )


@sdk.hookimpl
async def appcast_hub_fetch_jobs(
    options: Mapping[str, Any], http: aiohttp.ClientSession, since: datetime | None
) -> AsyncIterator[sdk.JobPage]:
    account_api = api(http, options)
    # The Job API lists every job whatever its status, and filters by update time.
    params = {"updatedAfter": iso(since)} if since is not None else {}
    async for summaries in pages(account_api, "/jobs", options["page_size"], **params):
        details = []
        for summary in summaries:
            job_id = str(summary.get("id") or "") if isinstance(summary, dict) else ""
            if not job_id:
                raise sdk.AdapterUnavailable(f"{const.PEER} listed a job without an id")
            # The list holds summaries: the job's details and its job ads hold the rest.
            job = await account_api.get(path("/jobs/{}", job_id))
            ads = content(await account_api.get(path("/jobs/{}/jobads", job_id)), "a job's jobads")
            details.append((job, public_ad(ads)))
        jobs = sdk.mapped(details, lambda pair: job_from(*pair, options["open_statuses"]), peer=const.PEER)
        yield sdk.JobPage(jobs, snapshot=since is None)


@sdk.hookimpl
def appcast_hub_list_stages() -> list[sdk.Stage]:
    return stages()


@sdk.hookimpl
def appcast_hub_verify_webhook(options: Mapping[str, Any], request: sdk.WebhookRequest) -> str | None:
    handshake = request.header(const.HANDSHAKE_HEADER)
    if request.header(const.SIGNATURE_HEADER) is None and handshake:
        # The activation handshake is unsigned and carries no event: its secret echoed, nothing stored.
        raise sdk.WebhookHandshake(headers={const.HANDSHAKE_HEADER: handshake})
    # The cheap checks first: nothing is hashed for a stale, unkeyed or overlong delivery.
    try:
        age = request.received_at.timestamp() - int(request.header(const.TIMESTAMP_HEADER) or "")
    except ValueError:
        raise sdk.WebhookRejected(f"no {const.TIMESTAMP_HEADER}") from None
    if abs(age) > options["webhook_max_age_seconds"]:
        raise sdk.WebhookRejected(f"signed {abs(age):.0f}s away from now, outside webhook_max_age_seconds")
    secrets = [secret for secret in options["webhook_secrets"] if isinstance(secret, str) and secret]
    if not secrets:
        raise sdk.WebhookRejected("no webhook_secrets configured for SmartRecruiters")
    sent = signatures(request)
    # One HMAC per secret, each signature compared with each in constant time, with no early exit.
    if not signature_matches(secrets, signed_message(request), sent):
        raise sdk.WebhookRejected(f"{const.SIGNATURE_HEADER} does not match any webhook secret")
    # The event id is signed, so a replay cannot change it: the hub stores each one once.
    return request.header("event-id") or None


@sdk.hookimpl
async def appcast_hub_parse_webhook(
    options: Mapping[str, Any], request: sdk.WebhookRequest, http: aiohttp.ClientSession
) -> Sequence[sdk.Event]:
    name = request.header("event-name")
    if request.header(const.SIGNATURE_HEADER) is None or name not in (
        const.EVENT_APPLICATION_CREATED, const.EVENT_STATUS_UPDATED,
    ):  # fmt: skip
        return []
    # Signed whole, but thin (ids only): what happened is read from the application as it is now.
    body = request.json_object()
    job_id, candidate_id = sdk.text(body.get("job_id")), sdk.text(body.get("candidate_id"))
    if not job_id or not candidate_id:
        raise sdk.WebhookMalformed("no job_id or candidate_id")
    account_api = api(http, options)
    try:
        application = await account_api.get(path("/candidates/{}/jobs/{}", candidate_id, job_id))
        candidate = await account_api.get(path("/candidates/{}", candidate_id))
    except sdk.AdapterUnavailable as error:
        if error.status == 404:
            raise sdk.WebhookUnconfirmed(
                f"{name}: {const.PEER} has no application {job_id}:{candidate_id}"
            ) from None
        raise
    moment = datetime.fromtimestamp(int(request.header(const.TIMESTAMP_HEADER) or 0), UTC)
    application = application if isinstance(application, dict) else {}
    candidate = {**(candidate if isinstance(candidate, dict) else {}), "id": candidate_id}
    try:
        return [webhook_event(name, job_id, candidate, application, moment, _appcast_source(options))]
    except ValueError as error:
        # SmartRecruiters answered something it does not document: retried later, as an outage is.
        raise sdk.AdapterUnavailable(f"{const.PEER}: {error}") from None


@sdk.hookimpl
async def appcast_hub_fetch_recent_events(
    options: Mapping[str, Any], http: aiohttp.ClientSession, since: datetime
) -> list[sdk.Event]:
    hires: list[sdk.Event] = []
    params = {"status": const.HIRED, "updatedAfter": iso(since)}
    async for candidates in pages(api(http, options), "/candidates", options["page_size"], **params):
        for found in sdk.mapped(candidates, hires_from_candidate, peer=const.PEER):
            hires += found
    return hires


@sdk.hookimpl
async def appcast_hub_create_application(
    options: Mapping[str, Any], job: sdk.Job, application: sdk.Application, http: aiohttp.ClientSession
) -> sdk.ApplicationResult:
    source = _appcast_source(options)
    # Checked before anything is sent: what the Candidate API cannot take refuses the whole application.
    body = candidate_body(application, source)
    answer = await api(http, options).post(path("/jobs/{}/candidates", job.ats_id), body, refusals=True)
    candidate_id = sdk.text(answer.get("id")) if isinstance(answer, dict) else None
    if not candidate_id:
        # Accepted: the candidate exists, unnamed. Never "retry later", which would create it twice.
        raise sdk.OutcomeUnknown(f"{const.PEER} accepted the candidate on job {job.ats_id} without naming it")
    return sdk.ApplicationResult(f"{job.ats_id}:{candidate_id}", candidate_id)
