"""Changes a sync holds back instead of applying: a sudden mass close of an account's jobs.

An ATS that answers 200 with an empty list (or drops most of the jobs at once) would have the hub close
every job, and Appcast stop every campaign. So when a full snapshot would close more than the account's
``mass_close_threshold`` of its open jobs, the sync closes nothing and holds the change: the jobs stay
open and in the feed, the change shows in ``status`` (CLI, admin API, Slack) and as a metric, and it is
applied only when the next full sync agrees (still not listing them) or an admin confirms it. An admin
may instead keep the jobs open. One service for the CLI, the admin API and Slack; every step audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypedDict

from tortoise.transactions import in_transaction

from hub import models
from hub.accounts import LiveAccount, changing_feed

#: ``held_changes.state`` while the change waits.
HELD = "held"
#: The hub's Slack app's buttons that confirm or keep an account's held close (the value:
#: :func:`button_value`).
ACTION_CONFIRM = "appcast_held_confirm"
ACTION_KEEP = "appcast_held_keep"
#: Rows per UPDATE … WHERE ats_id IN (…): far below every database's bound-parameter limit.
_CHUNK = 500


class HeldCloseJson(TypedDict):
    """A mass close a sync held back: ``jobs`` of ``open_jobs`` open jobs would close (``sample``: a few)."""

    id: int
    kind: Literal["close"]
    jobs: int
    open_jobs: int
    since: datetime
    sample: list[str]
    summary: str


@dataclass(frozen=True, slots=True)
class HeldClose:
    """A mass close waiting for a full sync or an admin, as status shows it."""

    id: int
    jobs: int
    open_jobs: int
    since: datetime
    #: The first few ATS ids, for a person to recognise.
    sample: tuple[str, ...]

    def as_json(self) -> HeldCloseJson:
        """The admin API's (and ``--json``'s) shape."""
        return {"id": self.id, "kind": "close", "jobs": self.jobs, "open_jobs": self.open_jobs,
                "since": self.since, "sample": list(self.sample), "summary": self.summary()}  # fmt: skip

    def summary(self) -> str:
        """One line for logs, the CLI and Slack."""
        return (
            f"{self.jobs} of {self.open_jobs} open jobs would close (held since "
            f"{self.since.astimezone(UTC):%Y-%m-%d %H:%M} UTC): the ATS no longer lists them"
        )


def is_mass_close(closing: int, open_jobs: int, threshold: float) -> bool:
    """Would closing ``closing`` of ``open_jobs`` open jobs be more than the ``threshold`` fraction?"""
    return closing > 0 and closing > threshold * open_jobs


def button_value(account: str, change_id: int) -> str:
    """A Confirm or Keep button's value: the account and the held change it was shown for. A message
    outlives its change: its button must not decide a later one (another set of jobs)."""
    return f"{account}:{change_id}"


def read_button_value(value: str) -> tuple[str, int] | None:
    """``(account, change id)`` of a :func:`button_value`; None for anything else (an older hub's)."""
    account, _, change = value.rpartition(":")
    return (account, int(change)) if account and change.isdigit() else None


async def held_close(account_id: int) -> models.HeldChange | None:
    """The account's mass close waiting right now, if any."""
    return await models.HeldChange.filter(account_id=account_id, state=HELD).order_by("-id").first()


async def held_now(account_id: int) -> HeldClose | None:
    """:func:`held_close`, described for status."""
    row = await held_close(account_id)
    return describe(row) if row is not None else None


async def held_jobs_by_account() -> dict[str, int]:
    """Every account's jobs waiting in a held close (0 for none), for the metrics."""
    counts = dict.fromkeys(await models.Account.all().values_list("name", flat=True), 0)
    for name, ats_ids in await models.HeldChange.filter(state=HELD).values_list("account__name", "ats_ids"):
        counts[name] = len(ats_ids)
    return counts


def describe(row: models.HeldChange) -> HeldClose:
    """What status shows of a held change."""
    ids = list(row.ats_ids)
    return HeldClose(row.id, len(ids), row.open_jobs, row.created_at, tuple(ids[:5]))


async def hold_close(account: LiveAccount, ats_ids: list[str], open_jobs: int) -> None:
    """Hold a mass close the sync found (audited as the system's doing)."""
    async with in_transaction():
        await models.HeldChange.create(account_id=account.row.id, ats_ids=ats_ids, open_jobs=open_jobs)
        await models.AuditEntry.create(
            actor="system", source="sync", action="held.close", account_name=account.name,
            target=f"{len(ats_ids)} jobs", before={"open": open_jobs},
            after={"would_close": len(ats_ids)},
        )  # fmt: skip


async def resolve(
    account: LiveAccount, row: models.HeldChange, state: str, *, actor: str, source: str
) -> bool:
    """Mark a held change ``applied``, ``kept`` or ``dropped``; False when it was resolved meanwhile.

    Only the resolution is recorded here: closing the jobs (for ``applied``) is the caller's.
    """
    async with in_transaction():
        resolved = await models.HeldChange.filter(id=row.id, state=HELD).update(
            state=state, resolved_at=datetime.now(UTC), resolved_by=actor
        )
        if resolved:
            await models.AuditEntry.create(
                actor=actor, source=source, action=f"held.{state}", account_name=account.name,
                target=f"{len(row.ats_ids)} jobs", before={"state": HELD}, after={"state": state},
            )  # fmt: skip
    return bool(resolved)


async def close_jobs(account_id: int, ats_ids: list[str]) -> int:
    """Close those of ``ats_ids`` that are still open; returns how many."""
    closed = 0
    now = datetime.now(UTC)
    for start in range(0, len(ats_ids), _CHUNK):
        async with changing_feed(account_id):
            closed += await models.Job.filter(
                account_id=account_id, ats_id__in=ats_ids[start : start + _CHUNK], is_open=True
            ).update(is_open=False, changed_at=now)
    return closed


async def confirm(
    account: LiveAccount, *, actor: str, source: str, change_id: int | None = None
) -> int | None:
    """An admin confirms the held close: the jobs still open among it close now. None: nothing held
    (or, with ``change_id``, not that change: the one the admin was shown was decided meanwhile)."""
    row = await _held_change(account, change_id)
    if row is None or not await resolve(account, row, "applied", actor=actor, source=source):
        return None
    closed = await close_jobs(account.row.id, list(row.ats_ids))
    await account.row.refresh_from_db(fields=["feed_version", "feed_changed_at"])
    return closed


async def keep(account: LiveAccount, *, actor: str, source: str, change_id: int | None = None) -> int | None:
    """An admin keeps the jobs open; returns how many the change held. None: nothing held (or not
    ``change_id``, as for :func:`confirm`).

    The next full sync that still does not list them holds a close again: keeping says "not now", and
    the ATS is where to fix the listing.
    """
    row = await _held_change(account, change_id)
    if row is None or not await resolve(account, row, "kept", actor=actor, source=source):
        return None
    return len(row.ats_ids)


async def _held_change(account: LiveAccount, change_id: int | None) -> models.HeldChange | None:
    row = await held_close(account.row.id)
    return None if row is None or change_id not in (None, row.id) else row
