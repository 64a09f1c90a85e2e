"""Reading the audit log: who changed what, when and from where. The services write it; this reads it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from hub import models

#: The most entries one answer shows: more is a database query, not a chat message.
MAX_RECENT = 50


async def recent_entries(limit: int = 10) -> list[models.AuditEntry]:
    """The newest ``limit`` audit entries (at most :data:`MAX_RECENT`), newest first."""
    return await models.AuditEntry.all().order_by("-id").limit(max(1, min(limit, MAX_RECENT)))


class AuditEntryJson(TypedDict):
    """One change: who (``actor``), from where (``source``), what (``action`` on ``target``), and how."""

    id: int
    at: datetime
    actor: str
    source: str
    action: str
    account: str | None
    target: str | None
    before: Any
    after: Any


def entry_json(entry: models.AuditEntry) -> AuditEntryJson:
    """One entry as the admin API and ``audit --json`` give it."""
    return {"id": entry.id, "at": entry.at, "actor": entry.actor, "source": entry.source,
            "action": entry.action, "account": entry.account_name, "target": entry.target,
            "before": entry.before, "after": entry.after}  # fmt: skip
