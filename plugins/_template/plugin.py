"""Hook implementations of the ``myats`` adapter (its entry point): jobs, stages, webhooks, hires, Apply.

Each hook takes only the arguments it uses: pluggy passes any subset of a hook's parameters by name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import aiohttp

from hub import sdk

from . import const
from .client import api, listed, pages
from .mapping import (
    application_body,
    event_from_webhook,
    hire_from_application,
    job_from_item,
    stage_from_item,
)


@sdk.hookimpl
def appcast_hub_plugin_info() -> sdk.PluginInfo:
    return sdk.PluginInfo(
        kind="ats",
        description="MyATS: jobs, stages, signed webhooks, hires and Appcast Apply",
        options=(
            sdk.Option("base_url", "MyATS API root, e.g. https://api.myats.example", required=True),
            sdk.Option("api_key", f"API key, sent as {const.API_KEY_HEADER}", required=True, secret=True),
            sdk.Option("page_size", "items asked for per request", type=int, default=const.DEFAULT_PAGE_SIZE),
            sdk.Option(
                "rate_per_second",
                "most requests a second (0: no limit)",
                type=float,
                default=const.DEFAULT_RATE_PER_SECOND,
            ),
            sdk.Option("webhook_secret", "the signing secret: webhooks are refused without it", secret=True),
        ),
    )


@sdk.hookimpl
async def appcast_hub_fetch_jobs(
    options: Mapping[str, Any], http: aiohttp.ClientSession, since: datetime | None
) -> AsyncIterator[sdk.JobPage]:
    # MyATS filters by update time: with ``since``, only the jobs changed since then (not a snapshot).
    params = {"updated_since": since.isoformat()} if since is not None else {}
    async for items in pages(api(http, options), "/v1/jobs", "jobs", options["page_size"], **params):
        yield sdk.JobPage(sdk.mapped(items, job_from_item, peer=const.PEER), snapshot=since is None)


@sdk.hookimpl
async def appcast_hub_list_stages(options: Mapping[str, Any], http: aiohttp.ClientSession) -> list[sdk.Stage]:
    body = await api(http, options).get("/v1/stages")
    return sdk.mapped(listed(body, "/v1/stages", "stages"), stage_from_item, peer=const.PEER)


@sdk.hookimpl
def appcast_hub_verify_webhook(options: Mapping[str, Any], request: sdk.WebhookRequest) -> str | None:
    signature = const.SIGNATURE_HEADER
    sdk.require_body_signature(request, options["webhook_secret"], signature, prefix=const.SIGNATURE_PREFIX)
    # The event id is inside the signed body, so a replay cannot change it: the hub stores each id once.
    event_id = request.json_object().get("id")
    return event_id if isinstance(event_id, str) and event_id else None


@sdk.hookimpl
async def appcast_hub_parse_webhook(
    options: Mapping[str, Any], request: sdk.WebhookRequest, http: aiohttp.ClientSession
) -> Sequence[sdk.Event]:
    body = request.json_object()
    # The body is signed whole, so it is trusted; a stage change is completed with the stage's kind.
    stages = {}
    if body.get("type") == "candidate.stage_changed":
        stages = {stage.id: stage for stage in await appcast_hub_list_stages(options, http)}
    return sdk.webhook_events(lambda: event_from_webhook(body, stages))


@sdk.hookimpl
async def appcast_hub_fetch_recent_events(
    options: Mapping[str, Any], http: aiohttp.ClientSession, since: datetime
) -> list[sdk.Event]:
    hires, params = [], {"status": "hired", "updated_since": since.isoformat()}
    async for items in pages(
        api(http, options), "/v1/applications", "applications", options["page_size"], **params
    ):
        hires += sdk.mapped(items, hire_from_application, peer=const.PEER)
    return hires


@sdk.hookimpl
async def appcast_hub_create_application(
    options: Mapping[str, Any], job: sdk.Job, application: sdk.Application, http: aiohttp.ClientSession
) -> sdk.ApplicationResult:
    account_api = api(http, options)
    form = await account_api.get(f"/v1/jobs/{job.ats_id}/questions")
    questions = form.get("questions") if isinstance(form, dict) else None
    # The form is checked first: an application it cannot take is refused before anything is created.
    body = application_body(job.ats_id, questions or [], application)
    answer = await account_api.post(f"/v1/jobs/{job.ats_id}/applications", body, refusals=True)
    if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
        raise sdk.OutcomeUnknown(f"{const.PEER} accepted the application without naming it: it may exist")
    return sdk.ApplicationResult(answer["id"], answer.get("candidate_id"))
