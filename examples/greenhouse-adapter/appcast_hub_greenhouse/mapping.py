"""Greenhouse's JSON to the hub's shapes: board posts to jobs, hire webhooks to events. No I/O.

A value Greenhouse does not document raises ``ValueError`` (the SDK's ``ShapeError`` is one), naming
what is wrong: the hook that called turns it into the hub's error for the occasion.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime
from typing import Any

from hub import sdk

from . import const

_LOGGER = logging.getLogger(__name__)


def _id(value: Any) -> str | None:
    """Greenhouse ids are JSON integers; read them as the hub's string ids."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return sdk.text(value)


def place(name: str | None) -> tuple[str | None, str | None, sdk.Workplace | None]:
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
        raise ValueError(f"custom field {field.get('name')!r} holds {value!r}, not an amount") from None


def _metadata(post: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(employment type, salary)`` from the custom fields the board publishes, when it does."""
    employment_type = salary = None
    for field in post.get("metadata") or ():
        if not isinstance(field, dict):
            continue
        value, name = field.get("value"), str(field.get("name", "")).strip().lower()
        is_range = field.get("value_type") == const.SALARY_VALUE_TYPE and isinstance(value, dict)
        if name == const.EMPLOYMENT_TYPE_FIELD and (text := sdk.text(value)):
            employment_type = text.lower()
        elif is_range and salary is None:
            low, high = (_amount(value.get(key), field) for key in ("min_value", "max_value"))
            salary = sdk.format_salary(sdk.text(value.get("unit")), low, high, None)
    return employment_type, salary


def job_from_post(post: Any) -> sdk.Job:
    """One job post of the board as a hub job, keyed by the Greenhouse *job* it advertises.

    ``internal_job_id`` (the job) rather than ``id`` (the post), because hire webhooks name the job:
    only then does a hire find its job in the feed.
    """
    if not isinstance(post, dict):
        raise ValueError("a job is not an object")
    ats_id, title = _id(post.get("internal_job_id")), sdk.text(post.get("title"))
    if not ats_id or not title:
        raise ValueError(f"job post {_id(post.get('id')) or '?'} has no internal_job_id or no title")
    updated_at = sdk.iso_time(post.get("updated_at"), f"job {ats_id}: updated_at")
    first_published = post.get("first_published")
    location = post.get("location") if isinstance(post.get("location"), dict) else {}
    city, region, workplace = place(sdk.text(location.get("name")))
    departments = [
        d for d in post.get("departments") or () if isinstance(d, dict) and sdk.text(d.get("name"))
    ]
    employment_type, salary = _metadata(post)
    return sdk.Job(
        ats_id=ats_id,
        title=title,
        posted_at=sdk.iso_time(first_published, f"job {ats_id}: first_published")
        if first_published
        else updated_at,
        updated_at=updated_at,
        # The board lists published jobs only: a job that is not listed is closed by the snapshot.
        is_open=True,
        # Greenhouse sends the description's HTML escaped ("&lt;p&gt;"): the feed wants the HTML itself.
        description_html=html.unescape(post.get("content") or ""),
        requisition_id=sdk.text(post.get("requisition_id")),
        city=city,
        region=region,
        workplace=workplace,
        department=sdk.text(departments[0]["name"]) if departments else None,
        employment_type=employment_type,
        salary_text=salary,
        hosted_url=sdk.text(post.get("absolute_url")),
    )


def jobs_from_posts(posts: list[Any]) -> list[sdk.Job]:
    """The board's job posts as hub jobs, one per Greenhouse job: the first post of a job wins."""
    jobs: dict[str, sdk.Job] = {}
    for job in map(job_from_post, posts):
        if job.ats_id in jobs:
            _LOGGER.debug("%s job %s has several posts: the first counts", const.PEER, job.ats_id)
        jobs.setdefault(job.ats_id, job)
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
        raise ValueError("a hire without payload.application.id")
    return application_id


def hire_from_webhook(document: dict[str, Any], received_at: datetime) -> sdk.Event | None:
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
    return sdk.Event(
        kind="hired",
        dedupe_key=hire_key(application_id),
        occurred_at=sdk.iso_time(last_activity, "last_activity_at") if last_activity else received_at,
        ats_job_id=_id(jobs[0]["id"]) if jobs else None,
        ats_application_id=application_id,
        ats_candidate_id=_id(candidate.get("id")),
        source=sdk.text(source.get("public_name")),
        candidate_hash=sdk.candidate_hash(sdk.text(emails[0]) if emails else None),
        ats_event=const.HIRE_ACTION,
    )
