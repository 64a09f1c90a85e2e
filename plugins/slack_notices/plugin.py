"""Hook implementations of the ``slack_notices`` notice sink (its entry point).

Active on an account that has an ``[accounts.NAME.slack_notices]`` table: each incident of the account
opens with a message in ``channel``, its updates go in that message's thread, and its resolution in the
thread and to the channel. Its digests are messages of their own in ``digest_channel`` (default:
``channel``). See plugins/slack_notices/README.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from hub.sdk import Delivery, HttpUrl, Notice, Option, PluginInfo, hookimpl
from plugins.slack_notices import const
from plugins.slack_notices.client import post_message
from plugins.slack_notices.mapping import notice_message


@hookimpl
def appcast_hub_plugin_info() -> PluginInfo:
    return PluginInfo(
        kind="destination",
        description="the account's incidents in a Slack channel, each incident one thread, and its digests",
        options=(
            Option(
                "bot_token", "the Slack app's bot token (xoxb-…), with chat:write", secret=True, required=True
            ),
            Option("channel", "the channel's id (C0123…) or name; invite the bot there", required=True),
            Option(
                "digest_channel", "where the account's digests go (default: channel); invite the bot there"
            ),
            Option("api_url", "Slack's Web API root", type=HttpUrl, default=const.DEFAULT_API_URL),
            Option(
                "timeout_seconds",
                "how long one attempt may take",
                type=float,
                default=const.DEFAULT_TIMEOUT_SECONDS,
            ),
        ),
        notes=("about one message a second per channel, as Slack allows; a 429 waits out its Retry-After",),
    )


@hookimpl
def appcast_hub_notice_payload(options: Mapping[str, Any], notice: Notice) -> Mapping[str, Any]:
    message = notice_message(notice)
    if notice.digest is not None:
        # Chosen as it is queued, as an incident's thread is: the delivery needs nothing else to know it.
        message["channel"] = options["digest_channel"] or options["channel"]
    return message


@hookimpl
async def appcast_hub_deliver(
    options: Mapping[str, Any], delivery: Delivery, http: aiohttp.ClientSession
) -> Mapping[str, Any]:
    thread = delivery.thread or {}
    # A digest goes where it was queued for, an incident's notices to the channel configured.
    configured = str(delivery.payload.get("channel") or options["channel"])
    # An update goes where its opening went: the channel's id, as Slack answered it. Paced as the channel
    # configured, as its opening was, whether that names the channel or its id.
    channel = str(thread.get("channel") or configured)
    return await post_message(
        http, str(options["api_url"]), str(options["bot_token"]), channel, delivery.payload,
        thread_ts=thread.get("ts"), timeout_seconds=float(options["timeout_seconds"]), paced_as=configured,
        turn_key=delivery.idempotency_key,
    )  # fmt: skip
