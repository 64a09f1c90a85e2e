"""Accounts at run time: the config file's accounts joined with their rows in the database.

The config file says which accounts exist and how they connect; the database holds what changes while
the hub runs (the integration switch, the feed policy when changed from Slack, sync status). A run-time
override wins over the file until someone changes it again.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from hub import __version__, models
from hub.config import HubConfig
from hub.db import is_outage
from hub.normalised import Account, FeedPolicy


class UnknownAccount(LookupError):
    """No account of that name is configured."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        super().__init__(f"no account named {name!r} (configured: {', '.join(known) or 'none'})")


@dataclass(slots=True)
class LiveAccount:
    """An account as it is right now: its configuration and its database row."""

    config: Account
    row: models.Account
    #: :func:`hub.feed.validators`' memo, with the row state it was computed from. Kept on the object
    #: because :class:`AccountCache` hands out the same one until it reads the row again.
    feed_validators: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        """The account's name, as in the config file and every URL."""
        return self.config.name

    @property
    def enabled(self) -> bool:
        """Is the Appcast integration on (feed served with jobs, events delivered)?"""
        override = self.row.enabled_override
        return self.config.enabled if override is None else override

    @property
    def feed_policy(self) -> FeedPolicy:
        """``opted-in`` (switched-on open jobs) or ``all-open`` (every open job unless switched off)."""
        return self.row.feed_policy_override or self.config.feed_policy  # type: ignore[return-value]


async def ensure_accounts(config: HubConfig) -> None:
    """Give every configured account a row (a new account starts with no run-time overrides); move the
    feed's version on for an account whose config (or the hub's release) changed what its feed says."""
    for account in config.accounts.values():
        row, created = await models.Account.get_or_create(
            name=account.name, defaults={"adapter": account.adapter}
        )
        if not created and row.adapter != account.adapter:
            # Another ATS now feeds this account: the next full sync closes the old ATS's jobs.
            row.adapter = account.adapter
            await row.save(update_fields=["adapter"])
        digest = feed_config_digest(account)
        if row.feed_config != digest:
            await models.Account.filter(id=row.id).update(feed_config=digest)
            if not created:
                # A new company name or plugin option is in the feed's bytes and its ETag; a client asking
                # If-Modified-Since must hear of it too.
                await _next_version(row.id)
                note_changed()


def feed_config_digest(account: Account) -> str:
    """What of ``account``'s config and of the hub's release the feed's bytes depend on, as a digest
    (secrets among the plugin options are in it, never in clear)."""
    identity = json.dumps(
        [__version__, account.enabled, account.feed_policy, account.company, account.company_url,
         account.max_age_days, account.plugin_options],
        default=str, sort_keys=True,
    )  # fmt: skip
    return hashlib.sha256(identity.encode()).hexdigest()


async def get_account(config: HubConfig, name: str) -> LiveAccount:
    """The configured account ``name`` with its row; UnknownAccount if it is not configured."""
    account = config.accounts.get(name)
    if account is None:
        raise UnknownAccount(name, sorted(config.accounts))
    row, _ = await models.Account.get_or_create(name=name, defaults={"adapter": account.adapter})
    return LiveAccount(account, row)


#: Bumped by every change this process makes to an account row: caches drop what they read before.
_generation = 0


def note_changed() -> None:
    """Tell :class:`AccountCache` instances that an account row changed in this process."""
    global _generation
    _generation += 1


class AccountCache:
    """Account rows for the hot read paths (feed polls, pixel hits, webhooks), at most ``ttl`` seconds old.

    A 304 or a pixel hit must not cost a database read of the account: rows are kept for ``ttl`` (changes
    made by other replicas show within that), and dropped at once when this process changes one. While
    the database is unreachable the last row read is served however old it is, so pixels keep counting
    and unchanged feeds keep answering 304; :meth:`load` reads every account at start-up for that.
    """

    def __init__(self, config: HubConfig, ttl: float = 1.0) -> None:
        self.config = config
        self.ttl = ttl
        self._accounts: dict[str, tuple[float, int, LiveAccount]] = {}

    async def get(self, name: str) -> LiveAccount:
        """The account ``name``, as :func:`get_account` would give it (UnknownAccount likewise)."""
        account = self.config.accounts.get(name)
        if account is None:
            raise UnknownAccount(name, sorted(self.config.accounts))
        now = time.monotonic()
        cached = self._accounts.get(name)
        if cached is not None and cached[0] > now and cached[1] == _generation:
            return cached[2]
        generation = _generation
        try:
            live = await get_account(self.config, name)
        except Exception as error:
            if cached is None or not is_outage(error):
                raise
            return cached[2]  # stale, but the account it names is the same one
        self._accounts[name] = (now + self.ttl, generation, live)
        return live

    async def load(self) -> None:
        """Read every configured account now (at start-up: what an outage later falls back on)."""
        for name in self.config.accounts:
            await self.get(name)


async def all_accounts(config: HubConfig) -> list[LiveAccount]:
    """Every configured account, by name."""
    return [await get_account(config, name) for name in sorted(config.accounts)]


async def mark_changed(account: LiveAccount) -> None:
    """Record that the account's feed changed (moves its ETag and Last-Modified), for a change made to the
    account's row alone; jobs change inside :func:`changing_feed`."""
    await _next_version(account.row.id)
    note_changed()
    await account.row.refresh_from_db(fields=["feed_version", "feed_changed_at"])


async def _next_version(account_id: int) -> None:
    # Each version its own whole second (HTTP dates carry seconds): a client that asks If-Modified-Since
    # the second of a version must not be told unchanged when another came within that second. A burst
    # of versions runs a few seconds ahead of the clock (a Last-Modified that much past the Date), the
    # same on every replica, until the clock catches up.
    async with in_transaction():
        [before] = await (
            models.Account.filter(id=account_id).select_for_update().values_list("feed_changed_at", flat=True)
        )
        changed_at = max(
            datetime.now(UTC).replace(microsecond=0), before.replace(microsecond=0) + timedelta(seconds=1)
        )
        await models.Account.filter(id=account_id).update(
            feed_version=F("feed_version") + 1, feed_changed_at=changed_at
        )


@asynccontextmanager
async def changing_feed(account_id: int) -> AsyncIterator[None]:
    """A transaction that changes the account's jobs and moves its feed version on as it commits.

    Jobs and version change together or not at all: a build (:mod:`hub.feed_cache`) that reads version
    ``N`` in a snapshot then reads exactly version ``N``'s jobs, so replicas building one version write
    the same bytes. Enter it only with a change to make.
    """
    async with in_transaction():
        yield
        await _next_version(account_id)
    note_changed()


async def set_integration(account: LiveAccount, *, enabled: bool, actor: str, source: str) -> bool:
    """Switch the account's Appcast integration on or off (audited); False when it already was so."""
    before = account.enabled
    if before == enabled:
        return False
    async with in_transaction():
        await models.Account.filter(id=account.row.id).update(enabled_override=enabled)
        await models.AuditEntry.create(
            actor=actor, source=source, action="integration.enable" if enabled else "integration.disable",
            account_name=account.name, target=account.name,
            before={"enabled": before}, after={"enabled": enabled},
        )  # fmt: skip
    account.row.enabled_override = enabled
    await mark_changed(account)  # which also tells the caches
    return True
