"""Hook implementations of the ``greenhouse`` adapter (its entry point): board jobs, hires by webhook.

Each hook takes only the arguments it uses: pluggy passes any subset of a hook's parameters by name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import aiohttp

from hub import sdk

from . import client, const
from .mapping import hire_from_webhook, hire_key, hired_application_id, jobs_from_posts


@sdk.hookimpl
def appcast_hub_plugin_info() -> sdk.PluginInfo:
    return sdk.PluginInfo(
        kind="ats",
        description="Greenhouse: jobs from the job board API, hires from signed webhooks",
        options=(
            sdk.Option("board", "the job board token, NAME in boards.greenhouse.io/NAME", required=True),
            sdk.Option(
                "base_url",
                "the job board API root (a proxy, or a fake in tests)",
                default=const.DEFAULT_BASE_URL,
            ),
            sdk.Option(
                "webhook_secret", "the webhooks' secret key: webhooks are refused without it", secret=True
            ),
        ),
        notes=(
            "full sync only: the job board API lists published jobs, all in one answer",
            f"webhooks: {const.HIRE_ACTION} becomes a hire, other actions are ignored",
        ),
    )


@sdk.hookimpl
async def appcast_hub_fetch_jobs(
    options: Mapping[str, Any], http: aiohttp.ClientSession
) -> AsyncIterator[sdk.JobPage]:
    # The board cannot filter by update time and has no pages: every fetch is one snapshot page,
    # whatever ``since`` is, and the hub closes the jobs the board no longer publishes.
    board = options["board"]
    posts = await client.board_jobs(http, options["base_url"], board)
    try:
        jobs = jobs_from_posts(posts)
    except ValueError as error:
        # Skipping the post would close its job in the snapshot: fail the sync, keep the last good jobs.
        raise sdk.AdapterUnavailable(f"{const.PEER} board {board!r}: {error}") from None
    yield sdk.JobPage(jobs, snapshot=True)


def _parsed(read: Any, document: dict[str, Any], *args: Any) -> Any:
    try:
        return read(document, *args)
    except ValueError as error:
        raise sdk.WebhookMalformed(str(error)) from None


@sdk.hookimpl
def appcast_hub_verify_webhook(options: Mapping[str, Any], request: sdk.WebhookRequest) -> str | None:
    secret = options["webhook_secret"]
    sdk.require_body_signature(request, secret, const.SIGNATURE_HEADER, prefix=const.SIGNATURE_PREFIX)
    # A hire's identity is its application, read from the signed body: an application is hired once,
    # so a redelivery or a replay is "already seen". Greenhouse-Event-ID is not signed: a replayer could
    # change it, so it is not used. Other actions are named by the hub's digest of the body.
    application_id = _parsed(hired_application_id, request.json_object())
    return hire_key(application_id) if application_id is not None else None


@sdk.hookimpl
def appcast_hub_parse_webhook(request: sdk.WebhookRequest) -> Sequence[sdk.Event]:
    event = _parsed(hire_from_webhook, request.json_object(), request.received_at)
    return [event] if event is not None else []
