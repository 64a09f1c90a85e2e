"""MyATS's JSON to the hub's normalised :class:`~hub.normalised.Job` and :class:`~hub.normalised.Event`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.sdk import Event, Job, candidate_hash

from . import const


class MappingError(ValueError):
    """An item is not the shape MyATS documents; the message names what is wrong."""


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _time(value: Any, key: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise MappingError(f"{key} must be an ISO 8601 time with a zone, not {value!r}")
    return moment


def job_from_item(item: Any) -> Job:
    """One item of MyATS's ``jobs`` list as a hub job."""
    if not isinstance(item, dict):
        raise MappingError("a job is not an object")
    ats_id, title = _text(item.get("id")), _text(item.get("title"))
    if not ats_id or not title:
        raise MappingError(f"job {ats_id or '?'} has no id or no title")
    location = item.get("location") if isinstance(item.get("location"), dict) else {}
    country = _text(location.get("country"))
    return Job(
        ats_id=ats_id,
        title=title,
        posted_at=_time(item.get("created_at"), f"job {ats_id}: created_at"),
        updated_at=_time(item["updated_at"], f"job {ats_id}: updated_at") if item.get("updated_at") else None,
        is_open=item.get("status") == "open",
        description_html=item.get("description_html") or "",
        city=_text(location.get("city")),
        region=_text(location.get("region")),
        country=country.upper() if country and len(country) == 2 else None,
        workplace="remote" if item.get("remote") is True else None,
        department=_text(item.get("department")),
        hosted_url=_text(item.get("url")),
    )


def hire_from_webhook(body: dict[str, Any]) -> Event | None:
    """The hire a webhook reports; None for every other ``type``."""
    if body.get("type") != const.HIRED_TYPE:
        return None
    data = body.get("data")
    if not isinstance(data, dict) or not (application_id := _text(data.get("application_id"))):
        raise MappingError("a hire without data.application_id")
    return Event(
        kind="hired",
        # One key per hire however it is reported, so a webhook and a reconciliation poll match.
        dedupe_key=f"hired:{application_id}",
        occurred_at=_time(body.get("created_at"), "created_at"),
        ats_job_id=_text(data.get("job_id")),
        ats_application_id=application_id,
        ats_candidate_id=_text(data.get("candidate_id")),
        source=_text(data.get("source")),
        candidate_hash=candidate_hash(_text(data.get("email"))),
        ats_event=const.HIRED_TYPE,
    )
