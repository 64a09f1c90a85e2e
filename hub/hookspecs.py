"""The plugin contract: every hook a plugin may implement, and when the hub calls it.

A plugin is a module registered under the entry-point group ``appcast_hub``; the entry-point name is the
plugin's name everywhere (config tables, logs, ``appcast-hub plugins``). Mark implementations with
``hub.hookimpl`` and name them exactly as below; implement only the hooks you need.

Two kinds of hook:

* **Targeted** hooks are called on one plugin only: the account's ``adapter`` (an ATS plugin) or the
  destination a delivery belongs to. They receive ``options``: that plugin's validated table for the
  account (``[accounts.<account>.<plugin>]``), secrets already resolved.
* **Broadcast** hooks are called on every plugin that implements them; the hub gathers the results.

Any hook may be a plain function or ``async def``: the hub awaits what needs awaiting. ``http`` is the
hub's one shared :class:`aiohttp.ClientSession`; use it for every request so timeouts, connection
pooling and shutdown are handled in one place. Raise the exceptions in :mod:`hub.errors` to report
failures the hub knows how to answer; anything else is logged as a bug in the plugin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pluggy

from hub import PROJECT_NAME

if TYPE_CHECKING:
    import aiohttp

    from hub.normalised import (
        Account,
        Application,
        ApplicationResult,
        Delivery,
        Event,
        Job,
        JobPage,
        Notice,
        Stage,
        WebhookRequest,
    )
    from hub.options import PluginInfo

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


# --- every plugin -----------------------------------------------------------------------------------


@hookspec(firstresult=True)
def appcast_hub_plugin_info() -> PluginInfo:
    """Describe this plugin: kind (``ats`` or ``destination``), one-line description, per-account options.

    Targeted at each plugin in turn at start-up. The hub validates every account's table for the plugin
    against ``options`` and refuses to start, naming account and option, when it does not fit.
    """


# --- ATS adapters (targeted at the account's ``adapter``) -------------------------------------------


@hookspec(firstresult=True)
def appcast_hub_fetch_jobs(
    account: Account,
    options: Mapping[str, Any],
    http: aiohttp.ClientSession,
    since: datetime | None,
) -> AsyncIterator[JobPage]:
    """Fetch the account's jobs from the ATS, one :class:`~hub.normalised.JobPage` at a time.

    Return an async iterator (an ``async def`` generator is simplest) and page through the ATS until the
    end; yield each page as it arrives so memory stays flat. ``since`` is None for a full sync: list every
    job (open and closed) with ``snapshot=True``, and the hub closes the jobs you did not list (a close
    of more than the account's ``mass_close_threshold`` of its open jobs is held for an admin). When
    ``since`` is a time and the ATS can filter by update time, you may return only jobs changed since
    then with ``snapshot=False``. Raise :class:`~hub.errors.AdapterUnavailable` (or
    :class:`~hub.errors.AdapterAuthError`) when the ATS fails; the hub keeps the last good jobs.
    """


@hookspec(firstresult=True)
def appcast_hub_list_stages(
    account: Account, options: Mapping[str, Any], http: aiohttp.ClientSession
) -> Sequence[Stage]:
    """Return the ATS's pipeline stages (every workflow's, with ``Stage.workflow`` set) for mapping.

    Called when an admin lists or maps stages. Raise ``AdapterUnavailable`` when the ATS fails.
    """


@hookspec(firstresult=True)
def appcast_hub_verify_webhook(
    account: Account, options: Mapping[str, Any], request: WebhookRequest
) -> str | None:
    """Check that a webhook really comes from the account's ATS; return its identity, or None.

    Called first for every ``POST /webhooks/{account}``, before anything is parsed or stored, and must
    be quick and free of I/O: the sender waits. Raise :class:`~hub.errors.WebhookRejected` for a
    missing or wrong signature or a stale timestamp (the hub answers 401),
    :class:`~hub.errors.WebhookMalformed` when the body cannot even be read far enough to verify it
    (400). Compare signatures with :func:`hmac.compare_digest`.

    Return the ATS's identity of this delivery when it has one (Lever's per-event ``token``): the hub
    stores each identity once, so a redelivery is answered "already seen" and a replayed token with
    another body is never processed. Return None to let the hub use a digest of the body.
    """


@hookspec(firstresult=True)
def appcast_hub_parse_webhook(
    account: Account, options: Mapping[str, Any], request: WebhookRequest, http: aiohttp.ClientSession
) -> Sequence[Event]:
    """Turn a verified, stored webhook into normalised events (none for events the hub ignores).

    Called by the hub's inbox worker after the sender got its answer, so it may take its time and
    fetch details from the ATS when the webhook is thin. Each event's ``dedupe_key`` must be the ATS's
    identity of that event, equal to what :func:`appcast_hub_fetch_recent_events` gives the same event,
    so a webhook and a reconciliation poll never store it twice. Raise ``AdapterUnavailable`` when a
    detail fetch fails (the hub retries later) and ``WebhookMalformed`` for a body that is not what
    the ATS sends (the hub keeps it, marked failed, for an operator to look at).

    Act only on what the ATS signed. Where it signs the whole body, the body is trusted. Where it signs
    less (Lever signs a token and a time), whatever could cause a delivery (a hire, a stage, the job,
    the candidate) comes from the ATS's API, never from the unsigned body: raise
    :class:`~hub.errors.WebhookUnconfirmed` when the API does not bear the webhook out.
    """


@hookspec(firstresult=True)
def appcast_hub_fetch_recent_events(
    account: Account, options: Mapping[str, Any], http: aiohttp.ClientSession, since: datetime
) -> Sequence[Event]:
    """Return the events (hires above all) that happened since ``since``, for reconciliation.

    Called on a schedule to recover what webhooks missed during an outage. Use the same ``dedupe_key``
    a webhook for the same event would carry, so events that did arrive are not stored twice.
    """


@hookspec(firstresult=True)
def appcast_hub_create_application(
    account: Account,
    options: Mapping[str, Any],
    job: Job,
    application: Application,
    http: aiohttp.ClientSession,
) -> ApplicationResult:
    """Create an application from Appcast Apply in the ATS, marked with ``application.source``.

    Raise :class:`~hub.errors.ApplicationRefused` naming the problem when the job's form cannot be
    filled as sent (unsupported question types, missing fields): never create half an application.
    Queue behind the ATS's rate limit rather than failing.
    """


# --- destinations and the feed (broadcast) ----------------------------------------------------------


@hookspec
def appcast_hub_pixel_snippet(
    account: Account, options: Mapping[str, Any], page: str, job_id: str | None, single_page: bool
) -> str | None:
    """Return HTML to paste on the career site's ``page`` (``job`` or ``confirmation``), or None.

    Broadcast to the plugins active on the account; the snippets are joined, followed by the hub's own
    first-party pixel. ``single_page`` asks for the variant a single-page site uses (it loads the
    script once and pushes events, e.g. Appcast's ``window.acDataLayer.push({event, jid})``). Escape
    ``job_id`` for the context it lands in: it comes from the request.
    """


@hookspec
def appcast_hub_feed_job_elements(
    account: Account, options: Mapping[str, Any], job: Job, bid: Decimal | None
) -> Sequence[tuple[str, str]] | None:
    """Return extra ``(element, text)`` pairs to add to ``job``'s ``<job>`` in the feed (e.g. ``cpc``).

    ``bid`` is the job's own bid an admin set (``/appcast bid job``), None when the account's default
    applies. Broadcast while the feed is written, once per job: keep it cheap and free of I/O, and let
    the answer depend on the arguments alone, because the hub reuses it while they stay the same.
    """


@hookspec
def appcast_hub_build_delivery(
    account: Account, options: Mapping[str, Any], event: Event, funnel_event: str, job: Job | None
) -> Mapping[str, Any] | None:
    """Return the payload to send for a mapped event, or None when this destination does not want it.

    Broadcast to destination plugins when an event maps to a funnel event (``applied``, ``screen``,
    ``interview``, ``offer``, ``hired``). The payload is stored in the outbox in the same transaction as
    the event and later handed, unchanged, to :func:`appcast_hub_deliver`. Put no personal data in it
    beyond what the destination needs.
    """


@hookspec
def appcast_hub_notice_payload(
    account: Account, options: Mapping[str, Any], notice: Notice
) -> Mapping[str, Any] | None:
    """Return the payload to send for a notice (an incident opened, updated, resolved, or a digest), or
    None to skip it.

    Broadcast to the destination plugins active on the account that are notice sinks. The payload is
    stored in the outbox in the same transaction as the incident's change (or the digest's record) and
    later handed, unchanged, to :func:`appcast_hub_deliver` targeted at this plugin, so a sink that is down
    delays notices and loses none, and each is sent once (with a stable ``Idempotency-Key``). A digest
    (``notice.kind == "digest"``) carries its figures, top jobs and open incidents in ``notice.digest``
    and follows no other notice; ``notice.text`` is the whole digest in plain text, for a sink that shows
    only text.
    """


@hookspec(firstresult=True)
def appcast_hub_deliver(
    account: Account, options: Mapping[str, Any], delivery: Delivery, http: aiohttp.ClientSession
) -> Mapping[str, Any] | None:
    """Send one outbound delivery; return once the receiver acknowledged it (2xx).

    Targeted at ``delivery.destination``. Send ``delivery.idempotency_key`` so the receiver can drop
    duplicates: the hub retries with backoff until the attempts run out. Raise
    ``AdapterUnavailable`` with a short reason on any failure, with ``retry_after`` set when the receiver
    said how long to wait (``sdk.retry_after(response)`` reads its ``Retry-After``): the next attempt
    then waits at least that long. A destination with a pace of its own (a chat's messages per second)
    raises ``SendLater`` before sending when its turn is more than a moment away (``sdk.pacer``, whose
    ``turn`` books the turn for the delivery's key): the delivery comes back at its turn, no attempt
    counted, and the deliveries sent with it wait for it no longer than that moment. Return None, or a
    receipt (JSON) the hub keeps with the delivery and
    hands to the delivery that follows it as ``delivery.thread``: an incident's notices follow one another,
    so a chat sink returns its thread's id and posts each update in that thread.
    """
