"""The jobs file's entries to the hub's normalised :class:`~hub.normalised.Job`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.sdk import WORKPLACES, Job, country_code, format_salary


class EntryError(ValueError):
    """One entry of the jobs file is not the documented shape."""


def _text(entry: dict[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise EntryError(f"{key!r} must be a string")
    return str(value).strip() or None


def _time(entry: dict[str, Any], key: str, *, required: bool = False) -> datetime | None:
    value = entry.get(key)
    if value is None:
        if required:
            raise EntryError(f"{key!r} is required")
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise EntryError(f"{key!r} must be an ISO 8601 time with a zone, not {value!r}")
    return moment


def _salary(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    if not isinstance(value, dict):
        raise EntryError("'salary' must be a string or an object")
    return format_salary(value.get("currency"), value.get("min"), value.get("max"), value.get("interval"))


def job_from_entry(entry: Any) -> Job:
    """Map one entry of the file's ``jobs`` list; raise EntryError naming the bad key."""
    if not isinstance(entry, dict):
        raise EntryError("each job must be an object")
    ats_id, title = _text(entry, "id"), _text(entry, "title")
    if not ats_id or not title:
        raise EntryError("'id' and 'title' are required")
    status = entry.get("status", "open")
    if status not in ("open", "closed"):
        raise EntryError(f"'status' must be 'open' or 'closed', not {status!r}")
    workplace = entry.get("workplace")
    if workplace is not None and workplace not in WORKPLACES:
        raise EntryError(f"'workplace' must be one of {', '.join(WORKPLACES)}")
    location = entry.get("location") or {}
    if not isinstance(location, dict):
        raise EntryError("'location' must be an object")
    return Job(
        ats_id=ats_id,
        title=title,
        posted_at=_time(entry, "posted_at", required=True),  # type: ignore[arg-type]
        updated_at=_time(entry, "updated_at"),
        closes_at=_time(entry, "closes_at"),
        is_open=status == "open",
        description_html=_text(entry, "description_html") or "",
        requisition_id=_text(entry, "requisition_id"),
        company=_text(entry, "company"),
        city=_text(location, "city"),
        region=_text(location, "region"),
        country=country_code(location.get("country")),
        postal_code=_text(location, "postal_code"),
        workplace=workplace,
        department=_text(entry, "department"),
        team=_text(entry, "team"),
        employment_type=_text(entry, "employment_type"),
        salary_text=_salary(entry.get("salary")),
        hosted_url=_text(entry, "hosted_url"),
        apply_url=_text(entry, "apply_url"),
    )
