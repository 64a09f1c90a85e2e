"""Claiming due rows of a work table (the outbox, the inbox) so that each is worked on by one process.

A claim moves the row's ``next_attempt_at`` a lease into the future and counts the attempt, in one
transaction. With PostgreSQL, ``FOR UPDATE SKIP LOCKED`` lets replicas claim side by side without ever
taking the same row; SQLite ignores it and is single-process anyway.

The lease is short, and the claimer renews it (:class:`Leases`) for as long as it still works on the
row, however long one attempt takes. A process that dies mid-work stops renewing: its rows come due
again within one :data:`LEASE`, for a replica or for the process that restarts. The attempt count a
claim gave the row is its fencing token: renewals and outcomes of a claimer that lost its lease (its
event loop stalled past the lease, say) match no row and change nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from tortoise.expressions import F, Q
from tortoise.models import Model
from tortoise.transactions import in_transaction

M = TypeVar("M", bound=Model)

_LOGGER = logging.getLogger(__name__)

#: How long a claimed row stays out of others' reach without its claimer renewing the claim.
LEASE = timedelta(seconds=30)
#: How often claims still being worked on are renewed: several renewals fit in one lease.
RENEW_EVERY = LEASE / 3


async def claim_due(
    model: type[M], *, limit: int, lease: timedelta = LEASE, where: Q | None = None
) -> list[M]:
    """Claim up to ``limit`` pending rows whose time has come, oldest first; their ``attempts`` is counted.

    ``where``: only rows matching it as well (the outbox leaves out destinations whose breaker is open).
    """
    now = datetime.now(UTC)
    due = model.filter(state="pending", next_attempt_at__lte=now)
    async with in_transaction():
        rows = (
            await (due.filter(where) if where is not None else due)
            .order_by("next_attempt_at", "id")
            .limit(limit)
            .select_for_update(skip_locked=True)
        )
        if rows:
            await model.filter(id__in=[row.pk for row in rows]).update(
                next_attempt_at=now + lease, attempts=F("attempts") + 1
            )
    for row in rows:
        row.attempts += 1  # type: ignore[attr-defined]
    return rows


def still_claimed(row: Model) -> dict[str, Any]:
    """Filter arguments matching ``row`` only while the claim that gave it its ``attempts`` holds."""
    return {"id": row.pk, "attempts": row.attempts, "state": "pending"}  # type: ignore[attr-defined]


class Leases(Generic[M]):
    """The rows of ``model`` this process claimed and still works on, their leases renewed meanwhile.

    ``claim`` rows, ``release`` each one before writing its outcome: a renewal already under way is
    waited for, so it can never push back the retry time the outcome sets.
    """

    def __init__(
        self, model: type[M], lease: timedelta = LEASE, renew_every: timedelta = RENEW_EVERY
    ) -> None:
        self.model = model
        self.lease = lease
        self.renew_every = renew_every
        self._held: dict[Any, int] = {}  # primary key → attempts when claimed
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def claim(self, limit: int, where: Q | None = None) -> list[M]:
        """Claim due rows (:func:`claim_due`, ``where`` they match) and keep renewing them until released."""
        rows = await claim_due(self.model, limit=limit, lease=self.lease, where=where)
        for row in rows:
            self._held[row.pk] = row.attempts  # type: ignore[attr-defined]
        if rows and self._task is None:
            self._task = asyncio.create_task(self._renew_loop(), name=f"leases:{self.model.__name__}")
        return rows

    async def release(self, *rows: M) -> None:
        """Stop renewing the leases of ``rows`` (before their outcome is written; again is harmless)."""
        if not any(row.pk in self._held for row in rows):
            return
        async with self._lock:
            for row in rows:
                self._held.pop(row.pk, None)

    async def close(self) -> None:
        """Stop renewing; whatever is still held comes due again when its lease runs out."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def renew(self) -> int:
        """Push the lease of every held row further out now; returns how many rows were renewed."""
        async with self._lock:
            if not self._held:
                return 0
            held = dict(self._held)
            claims = [Q(id=pk, attempts=attempts) for pk, attempts in held.items()]
            renewed = await self.model.filter(Q(*claims, join_type="OR"), state="pending").update(
                next_attempt_at=datetime.now(UTC) + self.lease
            )
        if renewed < len(held):
            # Finished by another process after our lease ran out (or replayed): theirs now.
            _LOGGER.warning(
                "%s: %d of %d claims were lost before they could be renewed",
                self.model.__name__, len(held) - renewed, len(held),
            )  # fmt: skip
        return renewed

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.renew_every.total_seconds())
            try:
                await self.renew()
            except Exception:  # a database blip: the next renewal still comes before the lease ends
                _LOGGER.exception("renewing the leases of %s failed", self.model.__name__)
