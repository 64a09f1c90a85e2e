"""A normalised event to the JSON Appcast receives (SPEC.md, "Outbound events to Appcast").

The payload names the candidate only by :func:`~hub.normalised.candidate_hash`; no name, e-mail, phone
or free text from the ATS ever goes into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hub.sdk import Event, Job


def iso_utc(moment: datetime) -> str:
    """``moment`` in UTC as ``2026-11-22T10:00:00Z`` (whole seconds; a naive time is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stage_of(event: Event) -> dict[str, str | None] | None:
    """The stage the event moved to, or None when it names none (e.g. a hire webhook without stages)."""
    if event.to_stage_id is None and event.stage_name is None:
        return None
    return {"id": event.to_stage_id, "name": event.stage_name}


def build_payload(
    options: Mapping[str, Any], event: Event, funnel_event: str, job: Job | None
) -> dict[str, Any]:
    """The JSON body of one event, exactly the keys SPEC.md lists."""
    return {
        "event": funnel_event,
        "client_id": str(options["client_id"]),
        "ent_id": str(options["ent_id"]),
        "job_reference": event.ats_job_id or (job.ats_id if job is not None else None),
        "application_id": event.ats_application_id,
        "candidate_hash": event.candidate_hash,
        "source": event.source,
        "stage": stage_of(event),
        "occurred_at": iso_utc(event.occurred_at),
    }
