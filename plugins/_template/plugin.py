"""Hook implementations of the ``myats`` adapter (its entry point): jobs, and hires by signed webhook.

Each hook takes only the arguments it uses: pluggy passes any subset of a hook's parameters by name.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import aiohttp

from hub.sdk import (
    AdapterUnavailable,
    Event,
    JobPage,
    Option,
    PluginInfo,
    WebhookMalformed,
    WebhookRejected,
    WebhookRequest,
    hookimpl,
)

from . import client, const
from .mapping import MappingError, hire_from_webhook, job_from_item


@hookimpl
def appcast_hub_plugin_info() -> PluginInfo:
    return PluginInfo(
        kind="ats",
        description="MyATS (the adapter template): jobs from its paged API, hires by signed webhook",
        options=(
            Option("base_url", "MyATS API root, e.g. https://api.myats.example", required=True),
            Option("api_key", f"MyATS API key, sent as {const.API_KEY_HEADER}", required=True, secret=True),
            Option("page_size", "jobs asked for per request", type=int, default=const.DEFAULT_PAGE_SIZE),
            Option(
                "webhook_secret", "the webhook signing secret: webhooks are refused without it", secret=True
            ),
        ),
        notes=("full sync only", f"webhooks: {const.HIRED_TYPE} becomes a hire, other types are ignored"),
    )


@hookimpl
async def appcast_hub_fetch_jobs(
    options: Mapping[str, Any], http: aiohttp.ClientSession
) -> AsyncIterator[JobPage]:
    # MyATS cannot filter by update time, so every fetch lists every job: a snapshot whatever ``since``
    # is. An ATS that can filter takes ``since`` and yields ``snapshot=False`` pages when it is set.
    base_url = options["base_url"].rstrip("/")
    pages = client.job_pages(http, base_url, options["api_key"], max(1, options["page_size"]))
    async for items in pages:
        try:
            jobs = [job_from_item(item) for item in items]
        except MappingError as error:
            # Skipping the job would close it in the snapshot: fail the sync, keep the last good jobs.
            raise AdapterUnavailable(f"{const.PEER}: {error}") from None
        yield JobPage(jobs, snapshot=True)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WebhookMalformed("body is not JSON") from None
    if not isinstance(document, dict):
        raise WebhookMalformed("body is not a JSON object")
    return document


@hookimpl
def appcast_hub_verify_webhook(options: Mapping[str, Any], request: WebhookRequest) -> str | None:
    secret = options["webhook_secret"]
    if not secret:
        raise WebhookRejected("no webhook_secret configured")
    sent = request.header(const.SIGNATURE_HEADER)
    if not sent:
        raise WebhookRejected(f"missing {const.SIGNATURE_HEADER} header")
    if not client.signature_matches(secret, request.body, sent):
        raise WebhookRejected("signature does not match")
    # The event id is inside the signed body, so a replay cannot change it: the hub stores each id once.
    event_id = _json_object(request.body).get("id")
    return event_id if isinstance(event_id, str) and event_id else None


@hookimpl
def appcast_hub_parse_webhook(request: WebhookRequest) -> Sequence[Event]:
    try:
        event = hire_from_webhook(_json_object(request.body))
    except MappingError as error:
        raise WebhookMalformed(str(error)) from None
    return [event] if event is not None else []
