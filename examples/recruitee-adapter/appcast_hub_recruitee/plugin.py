"""Hook implementations of the ``recruitee`` adapter (its entry point): offers, stages, webhooks, hires
and Appcast Apply. Each hook takes only the arguments it uses: pluggy passes them by name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import aiohttp

from hub import sdk

from . import const, mapping
from .client import api, candidates, listed, offer


def _check_options(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    if not options["company_id"].strip() or "/" in options["company_id"]:
        raise sdk.ConfigError("the company's id or subdomain, without slashes", key="company_id")
    if not options["hire_categories"]:
        raise sdk.ConfigError("at least one, or no stage is ever a hire", key="hire_categories")
    unset = [("webhook_secret", "not set: webhooks are refused; hires arrive by reconciliation only")]
    return [] if options["webhook_secret"] else unset


@sdk.hookimpl
def appcast_hub_plugin_info() -> sdk.PluginInfo:
    return sdk.PluginInfo(
        kind="ats",
        description="Recruitee: offers, pipeline stages, signed webhooks, hires and Appcast Apply",
        options=(
            sdk.Option("company_id", "the company's id (or subdomain), as in /c/{company_id}", required=True),
            sdk.Option("api_token", "a personal API token (a Bearer token)", required=True, secret=True),
            sdk.Option("webhook_secret", "the webhook's secret (webhooks are refused without)", secret=True),
            sdk.Option("base_url", "API root (tests, proxies)", default=const.DEFAULT_BASE_URL),
            sdk.Option("page_size", "candidates per request", type=int, default=const.DEFAULT_PAGE_SIZE),
            sdk.Option("rate_per_second", "most requests a second (0: no limit)", type=float,
                       default=const.DEFAULT_RATE_PER_SECOND),
            sdk.Option("hire_categories", "the stage categories that mean hired", type=list,
                       default=list(const.DEFAULT_HIRE_CATEGORIES)),
        ),
        check_options=_check_options, webhook_ack_status=200,  # Recruitee retries all but a 200
        notes=("offers: every sync is a full one (Recruitee filters no offers by update time)",
               "reconciliation reads every candidate's placements (Recruitee filters none by update time)"),
    )  # fmt: skip


@sdk.hookimpl
async def appcast_hub_fetch_jobs(
    options: Mapping[str, Any], http: aiohttp.ClientSession
) -> AsyncIterator[sdk.JobPage]:
    # One answer holds every offer (the list is not paged) and none can be asked for by update time, so
    # every fetch, incremental or not, is a full snapshot.
    offers = listed(await api(http, options).get("/offers"), "/offers", "offers")
    yield sdk.JobPage(sdk.mapped(offers, mapping.job_from_offer, peer=const.PEER))


@sdk.hookimpl
async def appcast_hub_list_stages(options: Mapping[str, Any], http: aiohttp.ClientSession) -> list[sdk.Stage]:
    # Stages belong to pipeline templates, which only a single offer's answer embeds: one read per template.
    ats, stages = api(http, options), {}
    offers = listed(await ats.get("/offers"), "/offers", "offers")
    for offer_id in {item.get("pipeline_template_id"): item.get("id") for item in offers}.values():
        template = listed(await offer(ats, offer_id), f"/offers/{offer_id}", "pipeline_template", dict)
        pipeline = sdk.text(template.get("title")) or str(template.get("id"))
        for item in listed(template, f"/offers/{offer_id}", "stages"):
            stage = mapping.stage_from_item(item, pipeline)
            stages[stage.id] = stage
    return list(stages.values())


@sdk.hookimpl
def appcast_hub_verify_webhook(options: Mapping[str, Any], request: sdk.WebhookRequest) -> None:
    # Recruitee's Test button posts {"test": true} and must be answered before its secret can be copied
    # into the config; a test is never an event, so it is answered unsigned and never stored.
    if request.json_object().get("test") is True:
        raise sdk.WebhookHandshake("test")
    sdk.require_body_signature(request, options["webhook_secret"], const.SIGNATURE_HEADER)
    # No delivery id is documented: returning None lets the hub name each webhook by a digest of its body.


@sdk.hookimpl
def appcast_hub_parse_webhook(options: Mapping[str, Any], request: sdk.WebhookRequest) -> Sequence[sdk.Event]:
    # The body is signed whole, so it is trusted: the stage moved into comes with its category.
    try:
        event = mapping.event_from_webhook(request.json_object(), options["hire_categories"])
    except (ValueError, AttributeError, TypeError) as error:
        raise sdk.WebhookMalformed(f"a {const.PEER} webhook without what its type carries: {error}") from None
    return [event] if event is not None else []


@sdk.hookimpl
async def appcast_hub_fetch_recent_events(
    options: Mapping[str, Any], http: aiohttp.ClientSession, since: datetime
) -> list[sdk.Event]:
    hires: list[sdk.Event] = []
    async for items in candidates(api(http, options), options["page_size"]):
        placed = sdk.mapped(items, lambda item: mapping.hires_from_candidate(item, since), peer=const.PEER)
        hires += [hire for hired in placed for hire in hired]
    return hires


@sdk.hookimpl
async def appcast_hub_create_application(
    options: Mapping[str, Any], job: sdk.Job, application: sdk.Application, http: aiohttp.ClientSession
) -> sdk.ApplicationResult:
    account_api = api(http, options)
    # The offer's form is checked first: an application it cannot take is refused before anything exists.
    body = mapping.application_body(await offer(account_api, job.ats_id), application)
    answer = await account_api.post("/candidates", body, refusals=True)
    # Recruitee took the POST: a candidate exists, so whatever its answer lacks, it is never sent again.
    made = answer.get("candidate") if isinstance(answer, dict) else None
    made = made if isinstance(made, dict) and made.get("id") else {"id": "(no id)"}
    placements = made["placements"] if isinstance(made.get("placements"), list) else ()
    if not any(isinstance(p, dict) and str(p.get("offer_id")) == job.ats_id for p in placements):
        raise sdk.OutcomeUnknown(f"{const.PEER} made candidate {made['id']}, not shown on offer {job.ats_id}")
    return sdk.ApplicationResult(f"{made['id']}:{job.ats_id}", str(made["id"]))
