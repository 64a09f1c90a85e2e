"""Claiming due rows of a work table (the outbox, the inbox) so that each is worked on by one process.

A claim moves the row's ``next_attempt_at`` a lease into the future and counts the attempt, in one
transaction. With PostgreSQL, ``FOR UPDATE SKIP LOCKED`` lets replicas claim side by side without ever
taking the same row; SQLite ignores it and is single-process anyway. A process that dies mid-work simply
lets its lease run out, and the row comes due again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar

from tortoise.expressions import F
from tortoise.models import Model
from tortoise.transactions import in_transaction

M = TypeVar("M", bound=Model)

#: How long a claimed row stays out of others' reach: far longer than one attempt may take.
LEASE = timedelta(minutes=2)


async def claim_due(model: type[M], *, limit: int, lease: timedelta = LEASE) -> list[M]:
    """Claim up to ``limit`` pending rows whose time has come, oldest first; their ``attempts`` is counted."""
    now = datetime.now(UTC)
    async with in_transaction():
        rows = (
            await model.filter(state="pending", next_attempt_at__lte=now)
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
