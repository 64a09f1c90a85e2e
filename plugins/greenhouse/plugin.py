"""Hook implementations of the ``greenhouse`` adapter (its entry point).

Jobs come from the public job board API, which every account has; incremental job syncs, stages,
reconciliation and Appcast Apply need Harvest v3 credentials. Each hook takes only the arguments it
uses: pluggy passes any subset of a hook's parameters by name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import aiohttp

from hub import sdk

from . import client, const
from .mapping import (
    attachment_bodies,
    candidate_body,
    event_from_webhook,
    gid,
    hire_from_application,
    job_from_post,
    jobs_from_posts,
    stage_from_item,
)

_HARVEST = ("client_id", "client_secret", "user_id")


def _check_options(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    given = [name for name in _HARVEST if options.get(name) not in (None, "")]
    if given and len(given) < len(_HARVEST):
        missing = next(name for name in _HARVEST if name not in given)
        raise sdk.ConfigError(
            f"required with {given[0]}: Harvest v3 needs client_id, client_secret and user_id together",
            key=missing,
        )
    if not 1 <= options["page_size"] <= const.MAX_PAGE_SIZE:
        raise sdk.ConfigError(f"must be 1-{const.MAX_PAGE_SIZE}: Harvest's largest page", key="page_size")
    warnings = [("webhook_secret", "not set: every webhook is refused, hires come only by reconciliation")]
    warnings = warnings if not options.get("webhook_secret") else []
    if not given:
        warnings.append(("client_id", "not set: no stages, no reconciliation of hires, no Appcast Apply"))
    elif options.get("appcast_source_id") is None:
        warnings.append(("appcast_source_id", "not set: Appcast Apply refuses every application"))
    return warnings


_OPTIONS = (
    sdk.Option("board", "the job board token, NAME in boards.greenhouse.io/NAME", required=True),
    sdk.Option("base_url", "the job board API root (a proxy, or a fake in tests)", default=const.BOARD_URL),
    sdk.Option("client_id", "Harvest v3 OAuth client id (Dev Center, API credentials)"),
    sdk.Option("client_secret", "Harvest v3 OAuth client secret", secret=True),
    sdk.Option("user_id", "the Greenhouse user the hub acts as in Harvest (the token's sub)", type=int),
    sdk.Option("harvest_url", "the Harvest API root (a proxy, or a fake)", default=const.HARVEST_URL),
    sdk.Option("auth_url", "the OAuth root whose /token issues Harvest tokens", default=const.AUTH_URL),
    sdk.Option("webhook_secret", "the web hooks' secret key: webhooks are refused without it", secret=True),
    sdk.Option("appcast_source_id", "the id of the account's Appcast source, for Apply", type=int),
    sdk.Option("page_size", "items per Harvest page, 1-500", type=int, default=const.DEFAULT_PAGE_SIZE),
    sdk.Option("rate_per_second", "most Harvest requests a second (its limit is per credential)", type=float,
               default=const.DEFAULT_RATE_PER_SECOND),
)  # fmt: skip


@sdk.hookimpl
def appcast_hub_plugin_info() -> sdk.PluginInfo:
    return sdk.PluginInfo(
        kind="ats",
        description="Greenhouse: job board jobs, signed webhooks, Harvest v3 stages, hires and Appcast Apply",
        options=_OPTIONS,
        check_options=_check_options,
        # Greenhouse retries "a non HTTP 200 response", and a web hook whose ping is not 200 stays disabled.
        webhook_ack_status=200,
        notes=(
            "jobs: the job board API (published jobs, one answer) for a full sync; with Harvest v3 "
            "credentials an incremental sync lists only the jobs whose posts changed",
            "webhooks: new_candidate_application, candidate_stage_change, hire_candidate, reject_candidate",
            "with Harvest v3 credentials: stages, reconciliation of hires, Appcast Apply",
        ),
    )


@sdk.hookimpl
async def appcast_hub_fetch_jobs(
    options: Mapping[str, Any], http: aiohttp.ClientSession, since: datetime | None
) -> AsyncIterator[sdk.JobPage]:
    if since is None or not options.get("client_id"):
        # The board neither pages nor filters by time: one snapshot page, and the hub closes the jobs the
        # board no longer publishes.
        yield sdk.JobPage(await _board(options, http), snapshot=True)
        return
    # Harvest names the job posts changed since then (published, edited, unpublished, deleted); only when
    # there are some is the board read, for which of their jobs it still advertises, in a full sync's fields.
    api = await client.harvest(http, options)
    pages = client.pages(api, "/v3/job_posts", options["page_size"], updated_at=_gte(since))
    posts = [post async for items in pages for post in items if isinstance(post, dict)]
    changed = {job_id: post for post in posts if (job_id := gid(post.get("job_id")))}  # prospects: null
    board = {job.ats_id: job for job in await _board(options, http)} if changed else {}
    closed = partial(job_from_post, harvest=True)
    jobs = sdk.mapped(changed, lambda key: board.get(key) or closed(changed[key]), peer=const.PEER)
    yield sdk.JobPage(jobs, snapshot=False)


async def _board(options: Mapping[str, Any], http: aiohttp.ClientSession) -> list[sdk.Job]:
    posts = await client.board_jobs(http, options)
    try:
        return jobs_from_posts(posts)
    except ValueError as error:
        # Skipping the post would close its job in the snapshot: fail the sync, keep the last good jobs
        # (only prospect posts, which advertise no job, are left out).
        raise sdk.AdapterUnavailable(f"{const.PEER} board {options['board']!r}: {error}") from None


def _gte(since: datetime) -> str:
    """Harvest v3's ``updated_at`` filter from ``since``, in whole seconds (never later than asked)."""
    return "gte|" + since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _harvest(options: Mapping[str, Any], http: aiohttp.ClientSession, what: str) -> sdk.Api:
    if not options.get("client_id"):
        raise sdk.AdapterUnavailable(f"{what} needs Harvest v3 credentials (client_id)")
    return await client.harvest(http, options)


@sdk.hookimpl
async def appcast_hub_list_stages(options: Mapping[str, Any], http: aiohttp.ClientSession) -> list[sdk.Stage]:
    api, stages = await _harvest(options, http, "listing stages"), []
    async for items in client.pages(api, "/v3/job_interview_stages", options["page_size"]):
        stages += sdk.mapped(items, stage_from_item, peer=const.PEER)
    return stages


@sdk.hookimpl
def appcast_hub_verify_webhook(options: Mapping[str, Any], request: sdk.WebhookRequest) -> str | None:
    secret = options["webhook_secret"]
    sdk.require_body_signature(request, secret, const.SIGNATURE_HEADER, prefix=const.SIGNATURE_PREFIX)
    # No identity: Greenhouse-Event-ID is not signed (a replayer could change it) and the signed body
    # holds no delivery id. The hub then names each webhook by its body's digest: a redelivery or a
    # replay is "already seen", and every event is stored once by its dedupe_key anyway.
    return None


@sdk.hookimpl
def appcast_hub_parse_webhook(request: sdk.WebhookRequest) -> Sequence[sdk.Event]:
    # The body is signed whole, so it is trusted as it is: nothing to confirm in Harvest.
    return sdk.webhook_events(lambda: event_from_webhook(request.json_object(), request.received_at))


@sdk.hookimpl
async def appcast_hub_fetch_recent_events(
    options: Mapping[str, Any], http: aiohttp.ClientSession, since: datetime
) -> list[sdk.Event]:
    api, hires = await _harvest(options, http, "reconciliation"), []
    async for items in client.pages(
        api, "/v3/applications", options["page_size"], status="hired", updated_at=_gte(since)
    ):
        hires += sdk.mapped(
            items, lambda item: hire_from_application(item, options["appcast_source_id"]), peer=const.PEER
        )
    return hires


@sdk.hookimpl
async def appcast_hub_create_application(
    options: Mapping[str, Any], job: sdk.Job, application: sdk.Application, http: aiohttp.ClientSession
) -> sdk.ApplicationResult:
    if not options.get("client_id") or options["appcast_source_id"] is None:
        raise sdk.ApplicationRefused("Greenhouse Apply needs client_id and appcast_source_id configured")
    # Checked before anything is sent: what Harvest cannot take with the candidate refuses the application.
    body = candidate_body(job, application, options["appcast_source_id"])
    api = await client.harvest(http, options)
    candidate = await api.post("/v3/candidates", body, refusals=True)
    # From here on the candidate exists: any failure is OutcomeUnknown, so the hub never sends it again.
    if not (candidate_id := gid(candidate.get("id") if isinstance(candidate, dict) else None)):
        raise sdk.OutcomeUnknown(f"{const.PEER} accepted the candidate without naming it")
    try:
        application_id = await _application_of(api, options["page_size"], candidate_id, job.ats_id)
    except sdk.AdapterUnavailable as error:
        raise sdk.OutcomeUnknown(
            f"candidate {candidate_id} was created, its application not read back: {error}"
        ) from None
    if application_id is None:
        raise sdk.OutcomeUnknown(
            f"{const.PEER} shows no application of candidate {candidate_id} on job {job.ats_id}"
        )
    for attachment in attachment_bodies(application_id, application):
        try:
            # Safe to repeat: an upload of a resume or cover letter replaces the one of its type.
            await api.post("/v3/attachments", attachment, idempotent=True)
        except sdk.AdapterUnavailable as error:
            raise sdk.OutcomeUnknown(
                f"application {application_id} was created without its {attachment['type']}: {error}"
            ) from None
    return sdk.ApplicationResult(application_id, candidate_id)


async def _application_of(api: sdk.Api, page_size: int, candidate_id: str, job_id: str) -> str | None:
    # Harvest v3 answers with the candidate alone (no child ids in a parent): its application is read back.
    async for items in client.pages(api, "/v3/applications", page_size, candidate_ids=candidate_id):
        for item in items:
            if isinstance(item, dict) and gid(item.get("job_id")) == job_id and gid(item.get("id")):
                return str(gid(item["id"]))
    return None
