"""Hook implementations of the ``notify_webhook`` notice sink (its entry point).

Active on an account that has an ``[accounts.NAME.notify_webhook]`` table: every notice of the account's
incidents, and each of its digests, is posted there as JSON, signed with the table's ``secret``. See
plugins/notify_webhook/README.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from hub.sdk import Account, AdapterUnavailable, Delivery, HttpUrl, Notice, Option, PluginInfo, hookimpl
from plugins.notify_webhook import const
from plugins.notify_webhook.client import post_notice
from plugins.notify_webhook.mapping import notice_payload


@hookimpl
def appcast_hub_plugin_info() -> PluginInfo:
    return PluginInfo(
        kind="destination",
        description="the account's incidents and digests, each notice posted as signed JSON to a URL",
        options=(
            Option("url", "where each notice is POSTed as JSON", type=HttpUrl, required=True),
            Option("secret", "signs each notice (HMAC-SHA256 of TIMESTAMP.BODY)", secret=True, required=True),
            Option(
                "timeout_seconds",
                "how long one attempt may take",
                type=float,
                default=const.DEFAULT_TIMEOUT_SECONDS,
            ),
        ),
        notes=("one request per attempt; the outbox retries with the same Idempotency-Key",),
    )


@hookimpl
def appcast_hub_notice_payload(notice: Notice) -> Mapping[str, Any]:
    return notice_payload(notice)


@hookimpl
async def appcast_hub_deliver(
    account: Account, options: Mapping[str, Any], delivery: Delivery, http: aiohttp.ClientSession
) -> None:
    if not options.get("url") or not options.get("secret"):
        raise AdapterUnavailable(f"account {account.name} has no notify_webhook url and secret configured")
    timeout = options.get("timeout_seconds")
    await post_notice(
        http, str(options["url"]), delivery.payload, secret=str(options["secret"]),
        idempotency_key=delivery.idempotency_key,
        timeout_seconds=const.DEFAULT_TIMEOUT_SECONDS if timeout is None else float(timeout),
    )  # fmt: skip
