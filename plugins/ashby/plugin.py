"""Hook implementations of the ``ashby`` adapter (its entry point): jobs, stages, webhooks, hires, Apply.

Each hook takes only the arguments it uses: pluggy passes any subset of a hook's parameters by name.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import aiohttp

from hub import sdk

from . import const
from .client import Rpc, error_code
from .mapping import (
    application_note,
    application_refusal,
    candidate_body,
    event_from,
    event_from_webhook,
    job_from,
    stage_from,
)

_LOGGER = logging.getLogger(__name__)

#: The ``job.list`` syncToken of each account's last complete pass, in this process: what turns the hub's
#: "changed since" into Ashby's incremental sync. Ashby filters jobs by no time, so without a token (a
#: restart, another process) the fetch is a full snapshot.
_SYNC_TOKENS: dict[tuple[str, str, str], str] = {}


def _check_options(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    if not 1 <= options["page_size"] <= const.MAX_PAGE_SIZE:
        raise sdk.ConfigError(f"must be 1-{const.MAX_PAGE_SIZE}: Ashby caps its pages", key="page_size")
    if options["rate_per_second"] < 0:
        raise sdk.ConfigError("must be 0 (no limit) or more", key="rate_per_second")
    base_url = options.get("base_url")
    if base_url and not base_url.startswith(("https://", "http://")):
        raise sdk.ConfigError("must be an http(s):// URL, e.g. https://api.ashbyhq.com", key="base_url")
    if not options.get("webhook_secret"):
        return [("webhook_secret", "not set: every webhook is refused; hires arrive by reconciliation only")]
    return []


@sdk.hookimpl
def appcast_hub_plugin_info() -> sdk.PluginInfo:
    return sdk.PluginInfo(
        kind="ats",
        description="Ashby: jobs and postings, interview stages, signed webhooks, hires and Appcast Apply",
        options=(
            sdk.Option("api_key", "Ashby API key (Basic auth user name)", required=True, secret=True),
            sdk.Option(
                "webhook_secret", "the secret token set on every Ashby webhook to this account", secret=True
            ),
            sdk.Option(
                "source_id", "id of Ashby's Appcast source; looked up by title with source.list if unset"
            ),
            sdk.Option("base_url", f"API root overriding {const.API_ROOT} (proxies and tests)"),
            sdk.Option(
                "page_size",
                f"items per list request, 1-{const.MAX_PAGE_SIZE}",
                type=int,
                default=const.DEFAULT_PAGE_SIZE,
            ),
            sdk.Option(
                "rate_per_second",
                "most requests a second to Ashby for this key (0: no limit)",
                type=float,
                default=const.DEFAULT_RATE_PER_SECOND,
            ),
        ),
        check_options=_check_options,
        notes=(
            "jobs: job.list (all but drafts) with each open job's first listed posting (jobPosting.info); "
            "incremental by syncToken after a full pass in the same process",
            "webhooks: applicationSubmit, candidateStageChange, candidateHire, applicationUpdate (archived); "
            "signed whole (Ashby-Signature), identity webhookActionId",
            "applications: candidate.create + application.create with the Appcast source",
        ),
    )


async def _posting(rpc: Rpc, item: Any, **how: bool) -> dict[str, Any] | None:
    # An open job's first published posting that is listed: its page, description, place and pay. Ashby
    # says an unlisted posting is not to be shown publicly, so a job with no listed one is not advertised.
    ids = item.get("jobPostingIds") if isinstance(item, dict) else None
    if not isinstance(ids, list) or item.get("status") != const.OPEN_STATUS:
        return None
    for posting_id in ids:
        posting = await rpc.results("jobPosting.info", {"jobPostingId": posting_id}, **how)
        if posting.get("isListed") is True:
            return posting
    return None


async def _job_pages(rpc: Rpc, body: dict[str, Any], size: int, sync: dict[str, str],
                     snapshot: bool) -> AsyncIterator[sdk.JobPage]:  # fmt: skip
    async for items in rpc.pages("job.list", body, size, sync):
        pairs = [(item, await _posting(rpc, item)) for item in items]
        yield sdk.JobPage(sdk.mapped(pairs, lambda pair: job_from(*pair), peer=const.PEER), snapshot=snapshot)


@sdk.hookimpl
async def appcast_hub_fetch_jobs(
    account: sdk.Account, options: Mapping[str, Any], http: aiohttp.ClientSession, since: datetime | None
) -> AsyncIterator[sdk.JobPage]:
    rpc = Rpc(http, options)
    key = (account.name, rpc.api.base_url, hashlib.sha256(options["api_key"].encode()).hexdigest())
    token = _SYNC_TOKENS.get(key) if since is not None else None
    sync: dict[str, str] = {}
    yielded = False
    try:
        async for page in _job_pages(rpc, {"syncToken": token} if token else {}, options["page_size"],
                                     sync, snapshot=token is None):  # fmt: skip
            yielded = True
            yield page
    except sdk.AdapterUnavailable as error:
        if not token or yielded or error_code(error.detail) != const.SYNC_TOKEN_EXPIRED:
            raise
        # Ashby's documented answer to a token too old to continue from: sync everything again.
        _LOGGER.info("%s: %s: syncToken expired, full sync", account.name, const.PEER)
        async for page in _job_pages(rpc, {}, options["page_size"], sync, snapshot=True):
            yield page
    # Kept only once the hub has taken every page, so a failed sync is never skipped over next time.
    if "token" in sync:
        _SYNC_TOKENS[key] = sync["token"]


@sdk.hookimpl
async def appcast_hub_list_stages(options: Mapping[str, Any], http: aiohttp.ClientSession) -> list[sdk.Stage]:
    rpc, stages = Rpc(http, options), []
    # Stages belong to interview plans: every plan's, each named with its plan.
    async for plans in rpc.pages("interviewPlan.list", {}, None):
        for plan in plans:
            if not isinstance(plan, dict) or not isinstance(plan.get("id"), str):
                raise sdk.AdapterUnavailable(f"{const.PEER} listed an interview plan without an id")
            items = await rpc.results("interviewStage.list", {"interviewPlanId": plan["id"]}, list)
            title = sdk.text(plan.get("title")) or plan["id"]
            stages += sdk.mapped(items, lambda item, title=title: stage_from(item, title), peer=const.PEER)
    return stages


@sdk.hookimpl
def appcast_hub_verify_webhook(options: Mapping[str, Any], request: sdk.WebhookRequest) -> str | None:
    sdk.require_body_signature(
        request, options["webhook_secret"], const.SIGNATURE_HEADER, prefix=const.SIGNATURE_PREFIX
    )
    # webhookActionId is inside the signed body and names the event (the same across Ashby's retries).
    action_id = request.json_object().get("webhookActionId")
    return action_id if isinstance(action_id, str) and action_id else None


@sdk.hookimpl
def appcast_hub_parse_webhook(request: sdk.WebhookRequest) -> Sequence[sdk.Event]:
    # Ashby signs the whole body and sends the application in full: trusted as it is, nothing to fetch.
    return sdk.webhook_events(lambda: event_from_webhook(request.json_object()))


@sdk.hookimpl
async def appcast_hub_fetch_recent_events(
    options: Mapping[str, Any], http: aiohttp.ClientSession, since: datetime
) -> list[sdk.Event]:
    # application.list filters by status, not by when it changed: the hired ones updated since then.
    hires: list[sdk.Event] = []
    async for items in Rpc(http, options).pages("application.list", {"status": const.HIRED_STATUS},
                                                 options["page_size"]):  # fmt: skip
        hired = sdk.mapped(items, lambda item: event_from("hired", item, const.RECONCILIATION_EVENT),
                           peer=const.PEER)  # fmt: skip
        hires += [event for event in hired if event.occurred_at >= since]
    return hires


async def _source_id(rpc: Rpc, options: Mapping[str, Any], source: str) -> str:
    if options.get("source_id"):
        return options["source_id"]
    for item in await rpc.results("source.list", {}, list):
        if (
            isinstance(item, dict)
            and not item.get("isArchived")
            and str(item.get("title")).lower() == source.lower()
        ):
            return str(item["id"])
    raise sdk.ApplicationRefused(f"Ashby has no active source titled {source!r}: add it, or set source_id")


@sdk.hookimpl
async def appcast_hub_create_application(
    options: Mapping[str, Any], job: sdk.Job, application: sdk.Application, http: aiohttp.ClientSession
) -> sdk.ApplicationResult:
    rpc = Rpc(http, options)
    # Everything is checked before the candidate is created: Ashby has no call that creates both at once.
    found = await rpc.results("job.info", {"id": job.ats_id}, refusals=True)
    posting = await _posting(rpc, found, refusals=True)
    if posting is None:
        raise sdk.ApplicationRefused(f"job {job.ats_id} is not open for applications in Ashby")
    if why := application_refusal(job.ats_id, posting.get("applicationFormDefinition"), application):
        raise sdk.ApplicationRefused(why)
    source_id = await _source_id(rpc, options, application.source)
    candidate = await rpc.results("candidate.create", candidate_body(application, source_id), write=True)
    # From here on something exists in Ashby: whatever fails is OutcomeUnknown naming it, never a refusal
    # or "unavailable" (the hub would let Appcast send it again: a second candidate).
    if not (candidate_id := sdk.text(candidate.get("id"))):
        raise sdk.OutcomeUnknown(f"{const.PEER} created a candidate without naming it: no application made")
    try:
        body = {"candidateId": candidate_id, "jobId": job.ats_id, "sourceId": source_id}
        created = await rpc.results("application.create", body, write=True)
        if not (application_id := sdk.text(created.get("id"))):
            raise sdk.AdapterUnavailable("the answer does not name the application")
    except Exception as error:  # the candidate exists whatever went wrong
        raise sdk.OutcomeUnknown(
            f"candidate {candidate_id} exists in {const.PEER}, its application unconfirmed: {error}"
        ) from None
    if note := application_note(application):
        # application.create takes no files: the resume's link, the cover letter and the links go on the
        # candidate as a note, never dropped.
        try:
            await rpc.call("candidate.createNote", {"candidateId": candidate_id, "note": note}, write=True)
        except Exception as error:  # the application exists whatever went wrong
            raise sdk.OutcomeUnknown(
                f"application {application_id} of candidate {candidate_id} exists without its note: {error}"
            ) from None
    return sdk.ApplicationResult(application_id, candidate_id)
