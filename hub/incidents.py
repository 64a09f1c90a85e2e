"""Incidents: problems the hub tells admins about once, keeps them posted on, and says when they are over.

A source that sees a problem calls :func:`report` each time it sees it; :func:`clear` when it sees it gone.
The first report opens the incident (one notice), later ones update it only when what it says changed,
and at most every :data:`UPDATE_EVERY` (so 1,000 failures are one incident and a few updates, not 1,000
messages); the clear resolves it with a last notice. An incident is unique per account, topic and subject
while open (a unique key in the database: replicas reporting at once open it once).

Every notice is handed to the notice sinks active on the account (``appcast_hub_notice_payload``) and
their payloads stored in the outbox in the same transaction as the incident's change: a sink that is
down delays notices and loses none, and each goes out once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import TypedDict

from tortoise.exceptions import IntegrityError
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from hub import breaker, held, models
from hub.accounts import LiveAccount, UnknownAccount, get_account
from hub.config import HubConfig
from hub.health import FeedHealth, health_summary
from hub.normalised import Notice, NoticeAction, NoticeKind
from hub.plugins import PluginHost
from hub.sync import SyncResult

_LOGGER = logging.getLogger(__name__)

#: Every topic, and what it means.
TOPICS: dict[str, str] = {
    "sync-failing": "the account's sync keeps failing (or the ATS refused the credentials)",
    "deliveries-dead": "deliveries to a destination gave up after their last attempt",
    "feed-health": "the feed's health check finds jobs to fix (appcast-hub feed lint)",
    "held-close": "a sync's mass close is held until the next full sync agrees or an admin decides",
    "webhooks-refused": "the account's webhooks are refused for their signature, none accepted",
    "destination-down": "a destination keeps failing: its deliveries wait, one probe at a time (hub.breaker)",
}
#: An open incident's notices: at most one update this often, however often its details change.
UPDATE_EVERY = timedelta(minutes=15)
#: Failed syncs in a row that make an incident (a refusal of the credentials makes one at once).
SYNC_FAILURES = 3
#: How far back :class:`SignatureWatch` looks, and how many refusals there, none accepted, make an incident.
SIGNATURE_WINDOW = timedelta(minutes=15)
SIGNATURE_REFUSALS = 10
#: A ``destination-down`` incident is resolved by any process once a delivery to the destination got
#: through this long after it opened (sends on their way as it opened may land just after).
DOWN_SETTLES = timedelta(minutes=1)
#: Prefix of a notice's ``Idempotency-Key``: notices in the outbox are told apart from deliveries by it.
NOTICE_KEY_PREFIX = "notice:"


#: Most incidents a listing answers.
MAX_LISTED = 50


class IncidentJson(TypedDict):
    """An incident as listings show it (``resolved_at`` null while it is open)."""

    id: int
    account: str
    topic: str
    subject: str
    state: str
    title: str
    detail: str
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None


async def list_incidents(
    *, account_id: int | None = None, every: bool = False, limit: int = MAX_LISTED
) -> list[IncidentJson]:
    """The open incidents (``every``: resolved ones too), newest first."""
    query = models.Incident.all() if every else models.Incident.filter(state="open")
    if account_id is not None:
        query = query.filter(account_id=account_id)
    rows = await query.order_by("-id").limit(min(limit, MAX_LISTED)).values(
        "id", "account__name", "topic", "subject", "state", "title", "detail", "opened_at", "updated_at",
        "resolved_at",
    )  # fmt: skip
    return [
        IncidentJson(
            id=row["id"],
            account=row["account__name"],
            topic=row["topic"],
            subject=row["subject"],
            state=row["state"],
            title=row["title"],
            detail=row["detail"],
            opened_at=row["opened_at"],
            updated_at=row["updated_at"],
            resolved_at=row["resolved_at"],
        )
        for row in rows
    ]


async def report(
    account: LiveAccount,
    plugins: PluginHost,
    topic: str,
    *,
    title: str,
    detail: str,
    subject: str = "",
    now: datetime | None = None,
    actions: tuple[NoticeAction, ...] = (),
) -> Notice | None:
    """The problem holds: open its incident, or update it; returns the notice queued, None for none.

    ``actions``: what an admin can do about it, offered with the opening notice."""
    now = now or datetime.now(UTC)
    key = _open_key(topic, subject)
    try:
        async with in_transaction():
            row = await (
                models.Incident.filter(account_id=account.row.id, open_key=key).select_for_update().first()
            )
            if row is None:
                row = await models.Incident.create(
                    account_id=account.row.id, topic=topic, subject=subject, open_key=key, title=title,
                    detail=detail, opened_at=now, updated_at=now,
                )  # fmt: skip
                return await _queue(account, plugins, row, "incident.opened", 0, now, actions)
            if row.detail == detail or now - row.updated_at < UPDATE_EVERY:
                return None
            sequence = row.notices
            await models.Incident.filter(id=row.id).update(
                title=title, detail=detail, updated_at=now, notices=sequence + 1
            )
            row.title, row.detail = title, detail
            return await _queue(account, plugins, row, "incident.updated", sequence, now)
    except IntegrityError:
        return None  # another process opened it between our look and our insert: it is open, once


async def clear(
    account: LiveAccount, plugins: PluginHost, topic: str, *, detail: str, subject: str = ""
) -> Notice | None:
    """The problem is gone: resolve its open incident with a last notice; None when none was open."""
    now = datetime.now(UTC)
    async with in_transaction():
        row = await (
            models.Incident.filter(account_id=account.row.id, open_key=_open_key(topic, subject))
            .select_for_update()
            .first()
        )
        if row is None:
            return None
        sequence = row.notices
        await models.Incident.filter(id=row.id).update(
            open_key=None, state="resolved", resolved_at=now, detail=detail, notices=sequence + 1
        )
        row.detail = detail
        return await _queue(account, plugins, row, "incident.resolved", sequence, now)


async def open_subjects(account: LiveAccount, topic: str) -> list[str]:
    """The subjects of the account's open incidents of ``topic``."""
    rows = models.Incident.filter(account_id=account.row.id, topic=topic, state="open")
    return list(await rows.values_list("subject", flat=True))


def _notice_key(incident: int, sequence: int, sink: str) -> str:
    return f"{NOTICE_KEY_PREFIX}{incident}:{sequence}:{sink}"


def _open_key(topic: str, subject: str) -> str:
    if topic not in TOPICS:
        raise ValueError(f"unknown incident topic {topic!r}")
    return f"{topic}:{subject}"


async def _queue(
    account: LiveAccount, plugins: PluginHost, row: models.Incident, kind: NoticeKind, sequence: int,
    now: datetime, actions: tuple[NoticeAction, ...] = (),
) -> Notice:  # fmt: skip
    notice = Notice(
        kind=kind, account=account.name, incident=row.id, sequence=sequence, topic=row.topic,
        subject=row.subject, title=row.title, text=row.detail, at=now, actions=actions,
    )  # fmt: skip
    payloads = await plugins.broadcast("appcast_hub_notice_payload", account.config, notice=notice)
    for sink, payload in payloads:
        # Each notice follows the one before it: sent in order, once that one is, with its receipt.
        await models.Delivery.create(
            account_id=account.row.id, destination=sink, payload=dict(payload),
            next_attempt_at=datetime.now(UTC),
            idempotency_key=_notice_key(row.id, sequence, sink),
            after=_notice_key(row.id, sequence - 1, sink) if sequence else None,
        )  # fmt: skip
    _LOGGER.warning("%s: %s %s: %s", account.name, kind, row.title, row.detail)
    return notice


# --- the sources --------------------------------------------------------------------------------------


async def after_sync(
    account: LiveAccount, plugins: PluginHost, result: SyncResult, failures: int
) -> Notice | None:
    """Open, update or resolve the account's ``sync-failing`` incident after a sync (``failures``: failed
    syncs in a row, this one included)."""
    if result.error is None:
        return await clear(
            account, plugins, "sync-failing", detail=f"the sync works again: {result.summary()}"
        )
    title = f"{account.name}: the sync from {account.config.adapter} is failing"
    if result.credentials_refused:
        refused = f"{account.config.adapter} refused the hub's credentials: {result.error}."
        detail = f"{refused} {_fix(account, plugins)}"
    elif failures >= SYNC_FAILURES:
        detail = (
            f"{failures} syncs in a row failed; the feed keeps the last good jobs. The last: {result.error}"
        )
    else:
        return None
    return await report(account, plugins, "sync-failing", title=title, detail=detail)


def _fix(account: LiveAccount, plugins: PluginHost) -> str:
    adapter = account.config.adapter
    secrets = [option.name for option in plugins.info(adapter).options if option.secret]
    where = ", ".join(f"accounts.{account.name}.{adapter}.{name}" for name in secrets)
    return (
        f"Fix {where} in the config and restart." if secrets else "Fix the adapter's options in the config."
    )


async def watch(account: LiveAccount, plugins: PluginHost) -> list[Notice]:
    """The incidents read from what is stored, whichever process stored it: dead deliveries, a held
    close, a destination down that answers again. Run by the leader every minute."""
    return [
        *await _watch_deliveries(account, plugins),
        *await _watch_held(account, plugins),
        *await _watch_destinations(account, plugins),
    ]


async def _watch_held(account: LiveAccount, plugins: PluginHost) -> list[Notice]:
    """One incident per held change (its id the subject): its opening's buttons decide that change, so a
    close held anew after the last was decided (between two sweeps) is an incident with buttons of its own."""
    waiting = await held.held_now(account.row.id)
    notices = await _clear_others(
        account, plugins, "held-close", {str(waiting.id)} if waiting else set(),
        lambda _: "this close is not held any more (decided, replaced, or a full sync agreed)",
    )  # fmt: skip
    if waiting is None:
        return notices
    confirm = f"Close {waiting.jobs} jobs of {account.name} and take them out of the feed?"
    value = held.button_value(account.name, waiting.id)
    notice = await report(
        account, plugins, "held-close", subject=str(waiting.id),
        title=f"{account.name}: a mass close is held",
        detail=f"{waiting.summary()}. Confirm or keep them open: appcast-hub held {account.name} "
        f"confirm|keep, or /appcast held {account.name} in Slack",
        actions=(
            NoticeAction(f"Close {waiting.jobs} jobs", held.ACTION_CONFIRM, value, danger=True,
                         confirm=confirm),
            NoticeAction("Keep them open", held.ACTION_KEEP, value),
        ),
    )  # fmt: skip
    return [*notices, notice] if notice else notices


async def _watch_deliveries(account: LiveAccount, plugins: PluginHost) -> list[Notice]:
    """Open, update or resolve a ``deliveries-dead`` incident per destination the account's dead
    deliveries are for (notices aside: a sink that is down cannot be told about itself)."""
    dead = (
        models.Delivery.filter(account_id=account.row.id, state="dead")
        .exclude(idempotency_key__startswith=NOTICE_KEY_PREFIX)
        .annotate(count=Count("id"))
        .group_by("destination")
    )
    counts = dict(await dead.values_list("destination", "count"))
    notices = []
    for destination, count in sorted(counts.items()):
        last = await (
            models.Delivery.filter(account_id=account.row.id, state="dead", destination=destination)
            .order_by("-id")
            .first()
            .values_list("last_error", flat=True)
        )
        notice = await report(
            account, plugins, "deliveries-dead", subject=destination,
            title=f"{account.name}: deliveries to {destination} gave up",
            detail=f"{count} deliveries to {destination} failed their last attempt (the last error: {last}). "
            f"Once {destination} works again: appcast-hub deliveries retry dead",
        )  # fmt: skip
        notices += [notice] if notice else []
    return notices + await _clear_others(
        account, plugins, "deliveries-dead", set(counts),
        lambda destination: f"no delivery to {destination} is dead-lettered any more",
    )  # fmt: skip


async def _clear_others(
    account: LiveAccount, plugins: PluginHost, topic: str, current: set[str], detail: Callable[[str], str]
) -> list[Notice]:
    """Resolve the account's open incidents of ``topic`` whose subject is not among ``current`` any more
    (``detail``: the resolution's text, of the subject)."""
    notices = []
    for subject in await open_subjects(account, topic):
        if subject not in current:
            notice = await clear(account, plugins, topic, subject=subject, detail=detail(subject))
            notices += [notice] if notice else []
    return notices


async def _watch_destinations(account: LiveAccount, plugins: PluginHost) -> list[Notice]:
    """Resolve a ``destination-down`` incident once a delivery to its destination got through. The
    process whose breaker opened it resolves it when its breaker closes; this is for when that process
    is gone (restarted, scaled down, crashed), which would leave the incident open for good."""
    rows = models.Incident.filter(account_id=account.row.id, topic="destination-down", state="open")
    notices = []
    for destination, opened_at in await rows.values_list("subject", "opened_at"):
        delivered = models.Delivery.filter(
            account_id=account.row.id, destination=destination, state="delivered",
            delivered_at__gt=opened_at + DOWN_SETTLES,
        )  # fmt: skip
        if await delivered.exists():
            notice = await clear(
                account, plugins, "destination-down", subject=destination,
                detail=f"{destination} answers again: deliveries to it get through",
            )  # fmt: skip
            notices += [notice] if notice else []
    return notices


async def after_health_check(account: LiveAccount, plugins: PluginHost, health: FeedHealth) -> Notice | None:
    """Open or update the account's ``feed-health`` incident while the check finds jobs to fix; resolve
    it once it finds none."""
    found = sum(health.counts.values())
    if not found:
        return await clear(
            account, plugins, "feed-health", detail="the feed's health check finds nothing to fix"
        )
    return await report(
        account, plugins, "feed-health",
        title=f"{account.name}: the feed has {found} findings in {health.jobs} jobs",
        detail=f"{health_summary(dict(health.counts))}. appcast-hub feed lint {account.name} lists them",
    )  # fmt: skip


class SignatureWatch:
    """This process's recent webhook verdicts per account (refused for the signature, or accepted).

    In memory, bounded per account: a forger can make it count, never grow. Each replica counts what it
    saw; the webhooks accepted are also looked up cluster-wide (:func:`watch_signatures`), and replicas
    agree on the one incident (:func:`report` opens it once).
    """

    def __init__(self, kept: int = 2 * SIGNATURE_REFUSALS * 100) -> None:
        self._verdicts: dict[str, collections.deque[tuple[float, bool]]] = {}
        self._kept = kept

    def record(self, account: str, accepted: bool) -> None:
        """A webhook of ``account`` was accepted (stored, or already seen) or refused for its signature."""
        verdicts = self._verdicts.setdefault(account, collections.deque(maxlen=self._kept))
        verdicts.append((time.monotonic(), accepted))

    def recent(self, account: str) -> tuple[int, int]:
        """``(refused, accepted)`` within :data:`SIGNATURE_WINDOW`."""
        since = time.monotonic() - SIGNATURE_WINDOW.total_seconds()
        verdicts = [accepted for at, accepted in self._verdicts.get(account, ()) if at >= since]
        return verdicts.count(False), verdicts.count(True)


async def watch_signatures(account: LiveAccount, plugins: PluginHost, watch: SignatureWatch) -> Notice | None:
    """Open the account's ``webhooks-refused`` incident when many webhooks were refused for their signature
    and none accepted; resolve it once a webhook is accepted again with none refused.

    Accepted by any replica: one that only saw forgeries (a forger's connection held to it) must not open
    the incident while another takes the ATS's webhooks, which the replica taking them would then resolve,
    a minute apart, over and over. Every webhook accepted is stored, so its receipt says so.
    """
    refused, accepted = watch.recent(account.name)
    if refused >= SIGNATURE_REFUSALS and not accepted and not await _accepted_anywhere(account):
        adapter = account.config.adapter
        return await report(
            account, plugins, "webhooks-refused",
            title=f"{account.name}: webhooks from {adapter} are refused",
            detail=f"{refused} webhooks refused for their signature in the last "
            f"{SIGNATURE_WINDOW.seconds // 60} minutes, none accepted: the webhook secret in "
            f"accounts.{account.name}.{adapter} is not the one {adapter} signs with, or someone is sending "
            "forged webhooks. Nothing they carry is acted on",
        )  # fmt: skip
    if accepted and not refused:
        return await clear(
            account, plugins, "webhooks-refused", detail="webhooks are accepted again, none refused"
        )
    return None


async def _accepted_anywhere(account: LiveAccount) -> bool:
    """Did any replica accept a webhook of the account within :data:`SIGNATURE_WINDOW`?"""
    since = datetime.now(UTC) - SIGNATURE_WINDOW
    return await models.WebhookReceipt.filter(account_id=account.row.id, received_at__gte=since).exists()


@contextlib.asynccontextmanager
async def breaker_incidents(
    config: HubConfig, plugins: PluginHost, wake: Callable[[], None]
) -> AsyncIterator[None]:
    """While the block runs, this process's breakers (:mod:`hub.breaker`) opening and closing are the
    ``destination-down`` incident of their account and destination; ``wake``: the outbox, to send the
    notices. Only a process that saw its breaker open resolves the incident, when it closes."""
    transitions: asyncio.Queue[breaker.Transition] = asyncio.Queue()

    def heard(transition: breaker.Transition) -> None:
        if transition.opened or transition.closed:
            transitions.put_nowait(transition)  # a handful per outage: listeners must not wait

    async def relay() -> None:
        while True:
            transition = await transitions.get()
            try:
                if await _destination_incident(config, plugins, transition):
                    wake()
            except Exception:  # a notice that could not be queued must not end the relay
                _LOGGER.exception("could not record the incident of %s", transition)

    unsubscribe = breaker.subscribe(heard)
    task = asyncio.create_task(relay(), name="breaker-incidents")
    try:
        yield
    finally:
        unsubscribe()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _destination_incident(
    config: HubConfig, plugins: PluginHost, transition: breaker.Transition
) -> Notice | None:
    destination = transition.key.destination
    try:
        account = await get_account(config, transition.key.account)
    except UnknownAccount:
        return None
    if transition.closed:
        return await clear(
            account, plugins, "destination-down", subject=destination,
            detail=f"{destination} answers again: the deliveries that waited are being sent, in order",
        )  # fmt: skip
    return await report(
        account, plugins, "destination-down", subject=destination,
        title=f"{account.name}: {destination} is unreachable",
        detail=f"{destination} keeps failing ({transition.error}). Its deliveries wait and none is lost; "
        "the hub tries one at a time and sends the rest once it answers",
    )  # fmt: skip
