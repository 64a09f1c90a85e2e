"""Hook implementations of the ``greenhouse`` adapter (its entry point): board jobs, hires by webhook.

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
from .mapping import MappingError, hire_from_webhook, hire_key, hired_application_id, jobs_from_posts


@hookimpl
def appcast_hub_plugin_info() -> PluginInfo:
    return PluginInfo(
        kind="ats",
        description="Greenhouse: jobs from the job board API, hires from signed webhooks",
        options=(
            Option("board", "the job board token, NAME in boards.greenhouse.io/NAME", required=True),
            Option(
                "base_url",
                "the job board API root (a proxy, or a fake in tests)",
                default=const.DEFAULT_BASE_URL,
            ),
            Option(
                "webhook_secret", "the webhooks' secret key: webhooks are refused without it", secret=True
            ),
        ),
        notes=(
            "full sync only: the job board API lists published jobs, all in one answer",
            f"webhooks: {const.HIRE_ACTION} becomes a hire, other actions are ignored",
        ),
    )


@hookimpl
async def appcast_hub_fetch_jobs(
    options: Mapping[str, Any], http: aiohttp.ClientSession
) -> AsyncIterator[JobPage]:
    # The board cannot filter by update time and has no pages: every fetch is one snapshot page,
    # whatever ``since`` is, and the hub closes the jobs the board no longer publishes.
    board = options["board"]
    posts = await client.board_jobs(http, options["base_url"].rstrip("/"), board)
    try:
        jobs = jobs_from_posts(posts)
    except MappingError as error:
        # Skipping the job would close it in the snapshot: fail the sync, keep the last good jobs.
        raise AdapterUnavailable(f"{const.PEER} board {board!r}: {error}") from None
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
    # A hire's identity is its application, read from the signed body: an application is hired once,
    # so a redelivery or a replay is "already seen". Greenhouse-Event-ID is not signed: a replayer could
    # change it, so it is not used. Other actions are named by the hub's digest of the body.
    try:
        application_id = hired_application_id(_json_object(request.body))
    except MappingError as error:
        raise WebhookMalformed(str(error)) from None
    return hire_key(application_id) if application_id is not None else None


@hookimpl
def appcast_hub_parse_webhook(request: WebhookRequest) -> Sequence[Event]:
    try:
        event = hire_from_webhook(_json_object(request.body), request.received_at)
    except MappingError as error:
        raise WebhookMalformed(str(error)) from None
    return [event] if event is not None else []
