"""Hook implementations of the ``appcast`` destination (its entry point).

Active on an account that has an ``[accounts.NAME.appcast]`` table. It turns mapped funnel events into
the JSON of SPEC.md ("Outbound events to Appcast") and posts each to the account's ``events_url``, renders
Appcast's pixel for career-site pages and writes a default ``<cpc>`` into feed jobs. See
plugins/appcast/README.md for what is known of Appcast and what is configurable because it is not.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import aiohttp

from hub.sdk import (
    FUNNEL_EVENTS,
    Account,
    AdapterUnavailable,
    Delivery,
    Event,
    HttpUrl,
    Job,
    Option,
    PluginInfo,
    checked_type,
    hookimpl,
)
from plugins.appcast import const, pixels
from plugins.appcast.client import post_event
from plugins.appcast.mapping import build_payload

# --- option types: checked by isinstance() (sdk.checked_type), named in the error --------------------


def _is_funnel_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) and item in FUNNEL_EVENTS for item in value)


def _is_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9._~-]+", value) is not None


def _is_bid(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < math.inf


FunnelEventList = checked_type(list, f"a list of funnel events ({', '.join(FUNNEL_EVENTS)})", _is_funnel_list)
PixelPart = checked_type(str, "a string of letters, digits, '.', '_', '-' or '~' (or an integer)", _is_id)
Bid = checked_type(float, "a number, 0 or more", _is_bid)


@hookimpl
def appcast_hub_plugin_info() -> PluginInfo:
    return PluginInfo(
        kind="destination",
        description="Appcast: hire and funnel events to its events URL, pixel snippets, <cpc> in the feed",
        options=(
            Option("client_id", "the account's Appcast Client ID, sent with every event", required=True),
            Option("ent_id", "the account's Appcast ENT ID, sent with every event", required=True),
            Option(
                "events_url", "where events are POSTed as JSON; no events are sent without it", type=HttpUrl
            ),
            Option("bearer_token", "sent as 'Authorization: Bearer …' with every event", secret=True),
            Option(
                "timeout_seconds",
                "how long one delivery attempt may take",
                type=float,
                default=const.DEFAULT_TIMEOUT_SECONDS,
            ),
            Option(
                "funnel_events",
                "which mapped funnel events are sent to Appcast",
                type=FunnelEventList,
                default=list(const.DEFAULT_FUNNEL_EVENTS),
            ),
            Option(
                "pixel_script_url",
                "full URL of the account's Appcast pixel script (overrides pixel_slug/pixel_id)",
                type=HttpUrl,
            ),
            Option("pixel_slug", "SLUG in https://click.appcast.io/pixels/SLUG-ID.js", type=PixelPart),
            Option("pixel_id", "ID in https://click.appcast.io/pixels/SLUG-ID.js", type=PixelPart),
            Option("cpc", "default bid written as <cpc> into every feed job", type=Bid),
        ),
        notes=(
            "Appcast's server-side event API is not public: events_url and bearer_token are configurable",
            "one request per delivery attempt; the hub's outbox retries with the same Idempotency-Key",
        ),
    )


@hookimpl
def appcast_hub_build_delivery(
    options: Mapping[str, Any], event: Event, funnel_event: str, job: Job | None
) -> Mapping[str, Any] | None:
    if not options.get("events_url"):
        return None
    wanted = options.get("funnel_events")
    if funnel_event not in (const.DEFAULT_FUNNEL_EVENTS if wanted is None else wanted):
        return None
    return build_payload(options, event, funnel_event, job)


@hookimpl
async def appcast_hub_deliver(
    account: Account, options: Mapping[str, Any], delivery: Delivery, http: aiohttp.ClientSession
) -> None:
    url = options.get("events_url")
    if not url:
        # Built while the account had an events URL, which has since been removed from its config.
        raise AdapterUnavailable(f"account {account.name} has no appcast events_url configured")
    timeout = options.get("timeout_seconds")
    await post_event(
        http,
        str(url),
        delivery.payload,
        idempotency_key=delivery.idempotency_key,
        token=options.get("bearer_token"),
        timeout_seconds=const.DEFAULT_TIMEOUT_SECONDS if timeout is None else float(timeout),
    )


@hookimpl
def appcast_hub_pixel_snippet(
    options: Mapping[str, Any], page: str, job_id: str | None, single_page: bool
) -> str | None:
    url = pixels.script_url(options)
    if url is None:
        return None
    return pixels.snippet(url, page, job_id, single_page)


@hookimpl
def appcast_hub_feed_job_elements(
    options: Mapping[str, Any], bid: Decimal | None
) -> Sequence[tuple[str, str]] | None:
    cpc = options.get("cpc") if bid is None else bid  # the job's own bid wins over the account's default
    if cpc is None:
        return None
    return [("cpc", f"{Decimal(str(cpc)):.2f}")]
