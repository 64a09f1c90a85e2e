"""Greenhouse's JSON to the hub's normalised shapes: board posts to jobs, hire webhooks to events."""

from __future__ import annotations

import html
import logging
from datetime import datetime
from typing import Any

from hub.sdk import Event, Job, Workplace, candidate_hash, format_salary

from . import const

_LOGGER = logging.getLogger(__name__)


class MappingError(ValueError):
    """An item is not the shape Greenhouse documents; the message names what is wrong."""


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _id(value: Any) -> str | None:
    """Greenhouse ids are JSON integers; read them as the hub's string ids."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(value)


def _time(value: Any, key: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise MappingError(f"{key} must be an ISO 8601 time with a zone, not {value!r}")
    return moment


def place(name: str | None) -> tuple[str | None, str | None, Workplace | None]:
    """``(city, region, workplace)`` from a location name: ``Portland, OR`` or ``Remote - US``."""
    if not name:
        return None, None, None
    if "remote" in name.lower():
        return None, None, "remote"
    parts = [part.strip() for part in name.split(",")]
    return parts[0] or None, parts[1] if len(parts) > 1 and parts[1] else None, None


def _amount(value: Any, field: dict[str, Any]) -> float | None:
    # Greenhouse writes amounts as decimal strings ("90000.0").
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        raise MappingError(f"custom field {field.get('name')!r} holds {value!r}, not an amount") from None


def _metadata(post: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(employment type, salary)`` from the custom fields the board publishes, when it does."""
    employment_type = salary = None
    for field in post.get("metadata") or ():
        if not isinstance(field, dict):
            continue
        value = field.get("value")
        name = str(field.get("name", "")).strip().lower()
        is_range = field.get("value_type") == const.SALARY_VALUE_TYPE and isinstance(value, dict)
        if name == const.EMPLOYMENT_TYPE_FIELD and (text := _text(value)):
            employment_type = text.lower()
        elif is_range and salary is None:
            low, high = (_amount(value.get(key), field) for key in ("min_value", "max_value"))
            salary = format_salary(_text(value.get("unit")), low, high, None)
    return employment_type, salary


def job_from_post(post: Any) -> Job:
    """One job post of the board as a hub job, keyed by the Greenhouse *job* it advertises.

    ``internal_job_id`` (the job) rather than ``id`` (the post), because hire webhooks name the job:
    only then does a hire find its job in the feed.
    """
    if not isinstance(post, dict):
        raise MappingError("a job is not an object")
    ats_id, title = _id(post.get("internal_job_id")), _text(post.get("title"))
    if not ats_id or not title:
        raise MappingError(f"job post {_id(post.get('id')) or '?'} has no internal_job_id or no title")
    updated_at = _time(post.get("updated_at"), f"job {ats_id}: updated_at")
    first_published = post.get("first_published")
    location = post.get("location") if isinstance(post.get("location"), dict) else {}
    city, region, workplace = place(_text(location.get("name")))
    departments = [d for d in post.get("departments") or () if isinstance(d, dict) and _text(d.get("name"))]
    employment_type, salary = _metadata(post)
    return Job(
        ats_id=ats_id,
        title=title,
        posted_at=_time(first_published, f"job {ats_id}: first_published") if first_published else updated_at,
        updated_at=updated_at,
        # The board lists published jobs only: a job that is not listed is closed by the snapshot.
        is_open=True,
        # Greenhouse sends the description's HTML escaped ("&lt;p&gt;"): the feed wants the HTML itself.
        description_html=html.unescape(post.get("content") or ""),
        requisition_id=_text(post.get("requisition_id")),
        city=city,
        region=region,
        workplace=workplace,
        department=_text(departments[0]["name"]) if departments else None,
        employment_type=employment_type,
        salary_text=salary,
        hosted_url=_text(post.get("absolute_url")),
    )


def jobs_from_posts(posts: list[Any]) -> list[Job]:
    """The board's job posts as hub jobs, one per Greenhouse job: the first post of a job wins."""
    jobs: dict[str, Job] = {}
    for post in posts:
        job = job_from_post(post)
        if job.ats_id in jobs:
            _LOGGER.debug("%s job %s has several posts: the first counts", const.PEER, job.ats_id)
            continue
        jobs[job.ats_id] = job
    return list(jobs.values())


def hire_key(application_id: str) -> str:
    """A hire's key, as the webhook's identity and the event's ``dedupe_key``: one per application."""
    return f"{const.HIRE_ACTION}:{application_id}"


def hired_application_id(document: dict[str, Any]) -> str | None:
    """The application a hire webhook reports; None for every other ``action``."""
    if document.get("action") != const.HIRE_ACTION:
        return None
    payload = document.get("payload")
    application = payload.get("application") if isinstance(payload, dict) else None
    application_id = _id(application.get("id")) if isinstance(application, dict) else None
    if application_id is None:
        raise MappingError("a hire without payload.application.id")
    return application_id


def hire_from_webhook(document: dict[str, Any], received_at: datetime) -> Event | None:
    """The hire a webhook reports (``hire_candidate``); None for every other ``action``.

    The payload says when the application last moved (``last_activity_at``); a payload without it is
    dated by its arrival.
    """
    application_id = hired_application_id(document)
    if application_id is None:
        return None
    application = document["payload"]["application"]
    candidate = application.get("candidate") if isinstance(application.get("candidate"), dict) else {}
    emails = [e.get("value") for e in candidate.get("email_addresses") or () if isinstance(e, dict)]
    jobs = [job for job in application.get("jobs") or () if isinstance(job, dict) and _id(job.get("id"))]
    source = application.get("source") if isinstance(application.get("source"), dict) else {}
    last_activity = application.get("last_activity_at")
    return Event(
        kind="hired",
        dedupe_key=hire_key(application_id),
        occurred_at=_time(last_activity, "last_activity_at") if last_activity else received_at,
        ats_job_id=_id(jobs[0]["id"]) if jobs else None,
        ats_application_id=application_id,
        ats_candidate_id=_id(candidate.get("id")),
        source=_text(source.get("public_name")),
        candidate_hash=candidate_hash(_text(emails[0]) if emails else None),
        ats_event=const.HIRE_ACTION,
    )
