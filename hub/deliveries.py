"""Looking at the outbox and replaying dead deliveries: one service for the CLI, admin API and Slack."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, TypedDict

from hub import models

DeliveryState = Literal["pending", "delivered", "dead"]


class DeliveryJson(TypedDict):
    """One delivery in the outbox: where to, its state and attempts, and the funnel ``event`` it sends."""

    id: int
    account: str
    destination: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    event: str | None


class DeliveryCountsJson(TypedDict):
    """How many deliveries are in each state."""

    pending: int
    delivered: int
    dead: int


LIST_COLUMNS = (
    "id", "account__name", "destination", "state", "attempts", "next_attempt_at", "last_error",
    "created_at", "delivered_at", "payload",
)  # fmt: skip


async def list_deliveries(
    *, account_id: int | None = None, state: DeliveryState | None = None, limit: int = 50
) -> tuple[int, list[dict[str, Any]]]:
    """Deliveries newest first, with the total matching: ``(total, page)``."""
    query = models.Delivery.all()
    if account_id is not None:
        query = query.filter(account_id=account_id)
    if state is not None:
        query = query.filter(state=state)
    total = await query.count()
    # Tortoise takes limit 0 for no LIMIT at all, which would answer every row: an empty page instead.
    rows = await query.order_by("-id").limit(limit).values(*LIST_COLUMNS) if limit else []
    for row in rows:
        row["account"] = row.pop("account__name")
        row["event"] = (row.pop("payload") or {}).get("event")
    return total, rows


async def counts_by_state(account_id: int | None = None) -> DeliveryCountsJson:
    """How many deliveries are pending, delivered and dead."""
    query = models.Delivery.all() if account_id is None else models.Delivery.filter(account_id=account_id)
    return {
        "pending": await query.filter(state="pending").count(),
        "delivered": await query.filter(state="delivered").count(),
        "dead": await query.filter(state="dead").count(),
    }


async def replay(delivery_ids: list[int] | None, *, actor: str, source: str) -> list[int]:
    """Put dead deliveries (these ids, or every dead one) back in the queue; audited. Returns the ids."""
    query = models.Delivery.filter(state="dead")
    if delivery_ids is not None:
        query = query.filter(id__in=delivery_ids)
    ids = list(await query.values_list("id", flat=True))
    if not ids:
        return []
    await models.Delivery.filter(id__in=ids, state="dead").update(
        state="pending", attempts=0, next_attempt_at=datetime.now(UTC)
    )
    await models.AuditEntry.create(
        actor=actor, source=source, action="delivery.replay", target=",".join(map(str, ids))[:2000],
        before={"state": "dead"}, after={"state": "pending"},
    )  # fmt: skip
    return ids
