"""An account at a glance: one shape for ``appcast-hub status``, the admin API and ``/appcast status``.

Switches, the last sync, the feed, the outbox (with its destinations' breakers) and any change a sync held
back, read in one place so the three surfaces can never tell an admin different things.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TypedDict

from hub import breaker, models
from hub.accounts import LiveAccount
from hub.breaker import BreakerStateName
from hub.config import HubConfig
from hub.deliveries import DeliveryCountsJson, counts_by_state
from hub.feed import in_feed
from hub.health import last_counts
from hub.held import HeldClose, HeldCloseJson, held_now
from hub.incidents import open_subjects
from hub.normalised import FeedPolicy


class SyncStatusJson(TypedDict):
    """The account's last sync: when, whether it worked (null: never ran), and how many failed in a row."""

    last_started_at: datetime | None
    last_finished_at: datetime | None
    ok: bool | None
    error: str | None
    jobs_seen: int
    consecutive_failures: int


class AccountStatusJson(TypedDict):
    """An account at a glance: its switches, feed, last sync, outbox, and a mass close held back (or null)."""

    name: str
    adapter: str
    company: str
    #: The Appcast integration switch.
    enabled: bool
    feed_policy: FeedPolicy
    feed_path: str
    feed_url: str
    #: Does the feed need ``?token=``?
    feed_token: bool
    open_jobs: int
    feed_jobs: int
    sync: SyncStatusJson
    deliveries: DeliveryCountsJson
    held: HeldCloseJson | None
    #: The feed's health at its last check in this hub: each rule's count of jobs (null: not checked yet).
    health: dict[str, int] | None
    #: The circuit breaker of each destination this hub process has seen failing, or that the cluster's
    #: open ``destination-down`` incident says is open (absent: closed); open: nothing is sent there but
    #: one probe per interval until it answers.
    breakers: dict[str, BreakerStateName]


class AccountListJson(TypedDict):
    """Every configured account at a glance."""

    accounts: list[AccountStatusJson]


@dataclass(frozen=True, slots=True)
class AccountStatus:
    """What ``status`` shows of one account."""

    name: str
    company: str
    adapter: str
    enabled: bool
    feed_policy: str
    feed_path: str
    feed_url: str
    feed_token: bool
    open_jobs: int
    feed_jobs: int
    sync_started_at: datetime | None
    sync_finished_at: datetime | None
    sync_ok: bool | None
    sync_error: str | None
    sync_jobs_seen: int
    sync_failures: int
    deliveries: DeliveryCountsJson
    held: HeldClose | None
    #: Each health rule's count of jobs at the last check in this process; None: not checked yet.
    health: dict[str, int] | None = None
    #: Each destination's breaker state (``closed``, ``half-open``, ``open``): this process's, else
    #: ``open`` while a ``destination-down`` incident is (so a process without an outbox, the CLI, shows
    #: it too); absent: never failed.
    breakers: dict[str, BreakerStateName] = field(default_factory=dict)

    def as_json(self) -> AccountStatusJson:
        """The admin API's (and ``--json``'s) shape; datetimes stay datetimes for the caller to render."""
        return {
            "name": self.name,
            "adapter": self.adapter,
            "company": self.company,
            "enabled": self.enabled,
            "feed_policy": self.feed_policy,
            "feed_path": self.feed_path,
            "feed_url": self.feed_url,
            "feed_token": self.feed_token,
            "open_jobs": self.open_jobs,
            "feed_jobs": self.feed_jobs,
            "sync": {
                "last_started_at": self.sync_started_at,
                "last_finished_at": self.sync_finished_at,
                "ok": self.sync_ok,
                "error": self.sync_error,
                "jobs_seen": self.sync_jobs_seen,
                "consecutive_failures": self.sync_failures,
            },
            "deliveries": {**self.deliveries},
            "held": self.held.as_json() if self.held is not None else None,
            "health": self.health,
            "breakers": dict(self.breakers),
        }


async def account_status(config: HubConfig, account: LiveAccount) -> AccountStatus:
    """Read the account's status now."""
    row = account.row
    return AccountStatus(
        name=account.name,
        company=account.config.company,
        adapter=account.config.adapter,
        enabled=account.enabled,
        feed_policy=account.feed_policy,
        feed_path=f"/feeds/{account.name}.xml",
        feed_url=f"{config.public_url}/feeds/{account.name}.xml",
        feed_token=bool(account.config.feed_token),
        open_jobs=await models.Job.filter(account_id=row.id, is_open=True).count(),
        feed_jobs=await models.Job.filter(in_feed(account)).count(),
        sync_started_at=row.last_sync_started_at,
        sync_finished_at=row.last_sync_finished_at,
        sync_ok=row.last_sync_ok,
        sync_error=row.last_sync_error,
        sync_jobs_seen=row.last_sync_jobs_seen,
        sync_failures=row.consecutive_sync_failures,
        deliveries=await counts_by_state(row.id),
        held=await held_now(row.id),
        health=await last_counts(row.id),
        breakers={
            **dict.fromkeys(await open_subjects(account, "destination-down"), "open"),
            **{name: state.label for name, state in breaker.states(account.name).items()},
        },
    )
