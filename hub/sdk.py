"""The plugin SDK: the one part of the hub a plugin imports, as llm plugins import ``llm``.

An adapter or a destination written against this module keeps working while the hub changes inside::

    from hub import sdk

    @sdk.hookimpl
    def appcast_hub_plugin_info() -> sdk.PluginInfo: ...

What is here, and where it is documented:

* the marker, :data:`hookimpl`, for the hooks of :mod:`hub.hookspecs`;
* the shapes adapters return and receive (:mod:`hub.normalised`), checked where they are built, and
  helpers for mapping an ATS's JSON into them: :func:`text`, :func:`iso_time`, :func:`country_code`,
  :func:`mapped` (:mod:`hub.mapping`);
* the errors the hub knows how to answer (:mod:`hub.errors`);
* options and the plugin's self-description, and option types checked by a function,
  :func:`checked_type` (:data:`HttpUrl`) (:mod:`hub.options`);
* HTTP to peers: :class:`Api` (a peer's root, credentials and shared rate limit) over
  :func:`request_json` (retries, ``Retry-After``, one outcome per answer), :func:`follow_pages` (any
  paging, to the end), :func:`post_once` (a destination's one delivery attempt), the per-key
  :func:`rate_limiter`, :func:`retry_after`, :func:`peer_message` (:mod:`hub.http`);
* webhook signatures: :func:`require_body_signature` (the usual HMAC of the body, in one call),
  :func:`signature_matches` and :func:`sign` (:mod:`hub.signatures`);
* for tests, the contract kit and the test peers (:mod:`hub.testing`: ``AdapterContract``,
  ``FakeAppcast``, ``serving_hub``…), imported from here only when asked for, so the hub never loads
  pytest unless a test does; ``python -m hub.testing.serve`` serves a fake by hand.

``docs/plugins.md`` documents every name (its "SDK reference" is generated from this module).

The built-in plugins import nothing else of the hub (a test checks it).
"""

from __future__ import annotations

import importlib
from typing import Any

from hub import hookimpl
from hub.errors import (
    AdapterAuthError,
    AdapterUnavailable,
    ApplicationRefused,
    ConfigError,
    OutcomeUnknown,
    SendLater,
    ShapeError,
    WebhookHandshake,
    WebhookMalformed,
    WebhookRejected,
    WebhookUnconfirmed,
)
from hub.http import (
    Api,
    Pacer,
    RateLimiter,
    basic_auth,
    follow_pages,
    pacer,
    peer_message,
    post_once,
    rate_limiter,
    request_json,
    retry_after,
    unlimited,
)
from hub.mapping import country_code, iso_time, mapped, text, webhook_events
from hub.normalised import (
    EVENT_KINDS,
    FUNNEL_EVENTS,
    WORKPLACES,
    Account,
    Application,
    ApplicationResult,
    Delivery,
    Digest,
    DigestFigure,
    DigestJob,
    Event,
    EventKind,
    FunnelEvent,
    Job,
    JobPage,
    Notice,
    NoticeAction,
    Stage,
    WebhookRequest,
    Workplace,
    candidate_hash,
    format_salary,
    xml_safe,
)
from hub.options import HttpUrl, Option, PluginInfo, checked_type
from hub.signatures import require_body_signature, sign, signature_matches

#: Names served by :mod:`hub.testing` (which imports pytest): loaded on first use only. Written out,
#: not read from :mod:`hub.testing`, because reading them would import pytest; a test holds the two equal.
_TESTING = frozenset(
    {
        "ADMIN_TOKEN",
        "FAULTS",
        "AdapterContract",
        "AdapterUnderTest",
        "ApplicationSample",
        "FakeAppcast",
        "FakePeer",
        "Faults",
        "HireSample",
        "HubClient",
        "end_to_end_config",
        "free_port",
        "make_account",
        "peer_app",
        "running",
        "serving_hub",
    }
)

__all__ = [
    "EVENT_KINDS",
    "Api",
    "FUNNEL_EVENTS",
    "HttpUrl",
    "WORKPLACES",
    "Account",
    "AdapterAuthError",
    "AdapterUnavailable",
    "Application",
    "ApplicationRefused",
    "ApplicationResult",
    "ConfigError",
    "Delivery",
    "Digest",
    "DigestFigure",
    "DigestJob",
    "Event",
    "EventKind",
    "FunnelEvent",
    "Job",
    "JobPage",
    "Notice",
    "NoticeAction",
    "Option",
    "OutcomeUnknown",
    "Pacer",
    "PluginInfo",
    "RateLimiter",
    "SendLater",
    "ShapeError",
    "Stage",
    "WebhookHandshake",
    "WebhookMalformed",
    "WebhookRejected",
    "WebhookRequest",
    "WebhookUnconfirmed",
    "Workplace",
    "basic_auth",
    "candidate_hash",
    "checked_type",
    "country_code",
    "follow_pages",
    "format_salary",
    "hookimpl",
    "iso_time",
    "mapped",
    "pacer",
    "peer_message",
    "post_once",
    "rate_limiter",
    "request_json",
    "require_body_signature",
    "retry_after",
    "sign",
    "signature_matches",
    "text",
    "unlimited",
    "webhook_events",
    "xml_safe",
    *sorted(_TESTING),
]


def __getattr__(name: str) -> Any:
    if name in _TESTING:
        return getattr(importlib.import_module("hub.testing"), name)
    raise AttributeError(f"module 'hub.sdk' has no attribute {name!r}")
