"""Hook implementations of the ``workable`` adapter (its entry point): jobs, stages, webhooks, hires, Apply.

Each hook takes only the arguments it uses: pluggy passes any subset of a hook's parameters by name.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from hub import sdk

from . import const
from .client import api, listed, pages
from .mapping import application_body, event_from_webhook, hire_from_candidate, job_from_item, stage_from_item

_SUBDOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


def _check_options(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    if not _SUBDOMAIN.fullmatch(options["subdomain"]):
        raise sdk.ConfigError(
            "not a Workable subdomain (lower-case letters, digits, hyphens): <subdomain>.workable.com",
            key="subdomain",
        )
    if not 1 <= options["page_size"] <= const.MAX_PAGE_SIZE:
        raise sdk.ConfigError(f"Workable pages hold 1 to {const.MAX_PAGE_SIZE} items", key="page_size")
    rate = options["rate_per_second"]
    if not rate or rate > const.ACCOUNT_TOKEN_RATE:
        # Only an OAuth or partner token (50 per 10 s) can go faster; the hub cannot tell which it has.
        said = "0 (no limit)" if not rate else f"{rate:g}/s"
        return [("rate_per_second", f"{said}: an account token gets 10 requests per 10 s, beyond is 429")]
    return []


@sdk.hookimpl
def appcast_hub_plugin_info() -> sdk.PluginInfo:
    return sdk.PluginInfo(
        kind="ats",
        description="Workable: jobs, stages, signed candidate webhooks, hires and Appcast Apply (SPI v3)",
        options=(
            sdk.Option("subdomain", "the account's subdomain, as in <subdomain>.workable.com", required=True),
            sdk.Option(
                "api_key",
                "access token (scopes r_jobs, r_candidates, w_candidates)",
                required=True,
                secret=True,
            ),
            sdk.Option("webhook_secret", "OAuth app secret signing webhooks (default: api_key)", secret=True),
            sdk.Option(
                "signature_encoding",
                "how X-Workable-Signature encodes the HMAC",
                default="hex",
                choices=("hex", "base64"),
            ),
            sdk.Option("base_url", "origin overriding https://<subdomain>.workable.com (proxies, tests)"),
            sdk.Option(
                "page_size", "items asked for per request, 1-100", type=int, default=const.DEFAULT_PAGE_SIZE
            ),
            sdk.Option(
                "rate_per_second",
                "most requests a second (0: no limit)",
                type=float,
                default=const.DEFAULT_RATE_PER_SECOND,
            ),
            sdk.Option("hired_stage", "slug of the stage a hire is in", default=const.DEFAULT_HIRED_STAGE),
            sdk.Option(
                "source_domain", "the candidate's domain (source) for Appcast Apply", default="Appcast"
            ),
        ),
        check_options=_check_options,
        # Workable redelivers every webhook not answered 200.
        webhook_ack_status=200,
        notes=(
            "full sync of every job state, incremental by updated_after",
            "webhooks: candidate_created, candidate_moved (whole body signed with the token)",
        ),
    )


@sdk.hookimpl
async def appcast_hub_fetch_jobs(
    options: Mapping[str, Any], http: aiohttp.ClientSession, since: datetime | None
) -> AsyncIterator[sdk.JobPage]:
    # No ``state`` filter: a full sync lists every job, drafts and closed ones too, so the hub closes
    # only what Workable no longer has. With ``since``, only the jobs updated since then (no snapshot).
    params = {"limit": str(options["page_size"]), "include_fields": const.JOB_FIELDS}
    if since is not None:
        params["updated_after"] = str(int(since.timestamp()))  # whole seconds, rounded down: nothing missed
    async for items in pages(api(http, options), "/jobs", "jobs", params):
        yield sdk.JobPage(sdk.mapped(items, job_from_item, peer=const.PEER), snapshot=since is None)


@sdk.hookimpl
async def appcast_hub_list_stages(options: Mapping[str, Any], http: aiohttp.ClientSession) -> list[sdk.Stage]:
    body = await api(http, options).get("/stages")
    return sdk.mapped(listed(body, "/stages", "stages"), stage_from_item, peer=const.PEER)


@sdk.hookimpl
def appcast_hub_verify_webhook(options: Mapping[str, Any], request: sdk.WebhookRequest) -> None:
    # Workable signs the whole body, keyed by the account token (or the OAuth app's secret).
    secret = options["webhook_secret"] or options["api_key"]
    encoding = options["signature_encoding"]
    sdk.require_body_signature(request, secret, const.SIGNATURE_HEADER, encoding=encoding)
    # The body's ``id`` is the candidate's, not the delivery's: every webhook about one candidate has it.
    # Workable documents no delivery id, so the hub names each webhook by a digest of its (signed) body.


@sdk.hookimpl
async def appcast_hub_parse_webhook(
    options: Mapping[str, Any], request: sdk.WebhookRequest, http: aiohttp.ClientSession
) -> Sequence[sdk.Event]:
    body = request.json_object()
    # The body is signed whole, so it is trusted; a move is completed with the kinds of the stages.
    stages: dict[str, sdk.Stage] = {}
    if body.get("event_type") == const.EVENT_MOVED:
        stages = {stage.name.lower(): stage for stage in await appcast_hub_list_stages(options, http)}
    return sdk.webhook_events(lambda: event_from_webhook(body, stages))


@sdk.hookimpl
async def appcast_hub_fetch_recent_events(
    options: Mapping[str, Any], http: aiohttp.ClientSession, since: datetime
) -> list[sdk.Event]:
    params = {"stage": options["hired_stage"], "updated_after": str(int(since.timestamp())),
              "limit": str(options["page_size"])}  # fmt: skip
    hires = []
    async for items in pages(api(http, options), "/candidates", "candidates", params):
        hires += sdk.mapped(
            items, lambda item: hire_from_candidate(item, const.RECONCILIATION_EVENT), peer=const.PEER
        )
    return hires


@sdk.hookimpl
async def appcast_hub_create_application(
    options: Mapping[str, Any], job: sdk.Job, application: sdk.Application, http: aiohttp.ClientSession
) -> sdk.ApplicationResult:
    account_api, path = api(http, options), f"/jobs/{quote(job.ats_id, safe='')}"
    try:
        form = await account_api.get(f"{path}/application_form")
    except sdk.AdapterUnavailable as error:
        if error.status == 404:
            raise sdk.ApplicationRefused(f"job {job.ats_id} is not in Workable") from None
        raise
    # The form is checked first: an application it cannot take is refused before anything is created.
    body = application_body(job.ats_id, form, application, options["source_domain"] or application.source)
    answer = await account_api.post(f"{path}/candidates", body, refusals=True)
    created = answer.get("candidate") if isinstance(answer, dict) else None
    if not isinstance(created, dict) or not isinstance(created.get("id"), str) or not created["id"]:
        # Workable accepted it (2xx): the candidate exists, so it must never be sent again.
        raise sdk.OutcomeUnknown(
            f"{const.PEER} accepted job {job.ats_id}'s application without naming the candidate: it exists"
        )
    return sdk.ApplicationResult(created["id"], created["id"])
