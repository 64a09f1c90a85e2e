"""Ashby's JSON to the hub's shapes (and an application to Ashby's): pure functions, no I/O.

A value Ashby does not document raises ``ValueError`` (the SDK's ``ShapeError`` is one): the hook that
called turns it into the hub's error for the occasion.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from typing import Any

from hub import sdk

from . import const


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _salary(compensation: dict[str, Any]) -> str | None:
    # A structured salary reads alike in every feed; else Ashby's own summary of the tiers.
    components = compensation.get("summaryComponents")
    for part in components if isinstance(components, list) else ():
        if isinstance(part, dict) and part.get("compensationType") == "Salary":
            interval = const.INTERVALS.get(str(part.get("interval")))
            found = sdk.format_salary(sdk.text(part.get("currencyCode")), part.get("minValue"),
                                      part.get("maxValue"), interval)  # fmt: skip
            if found:
                return found
    return sdk.text(compensation.get("compensationTierSummary"))


def _is_day(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()) is not None


def _posted(post: dict[str, Any], item: dict[str, Any]) -> datetime:
    # Ashby writes a posting's publishedDate as a day ("2022-07-22"): that day at 00:00 UTC.
    when = post.get("publishedDate") or item.get("openedAt") or item.get("createdAt")
    return sdk.iso_time(when, "a job's publishedDate/openedAt/createdAt", naive_is_utc=_is_day(when))


def _closes(post: dict[str, Any]) -> datetime | None:
    # applicationDeadline is documented as a date-time ("2024-08-12T20:00:00.000Z"); one without a zone is
    # read as UTC, the zone of every time Ashby documents. A bare day means the end of that day, in UTC as
    # publishedDate is: Ashby gives a posting no time zone. A deadline that cannot be read (or none) is
    # no deadline: refusing the job would fail the sync, keeping every other change out of the feed.
    when = post.get("applicationDeadline")
    try:
        moment = sdk.iso_time(when, "a posting's applicationDeadline", naive_is_utc=True)
    except ValueError:
        return None
    return moment + timedelta(days=1) if _is_day(when) else moment


def job_from(item: dict[str, Any], posting: dict[str, Any] | None) -> sdk.Job:
    """A job of ``job.list`` as a hub job, with its published posting (``jobPosting.info``) if it has one.

    Open only while Ashby's status is Open *and* a posting is published and listed: a job nobody can
    apply to, or one Ashby says is not to be shown publicly, is not advertised.
    """
    if not isinstance(item, dict):
        raise ValueError("job.list listed a job that is not an object")
    post = posting or {}
    address = _dict(_dict(post.get("address")).get("postalAddress"))
    updated = item.get("updatedAt")
    remote = "remote" if post.get("isRemote") is True else None
    return sdk.Job(
        ats_id=str(item.get("id") or ""),
        title=sdk.text(item.get("title")) or "",
        posted_at=_posted(post, item),
        updated_at=sdk.iso_time(updated, "a job's updatedAt") if updated else None,
        is_open=item.get("status") == const.OPEN_STATUS and posting is not None,
        description_html=post.get("descriptionHtml") or "",
        requisition_id=sdk.text(item.get("customRequisitionId")),
        city=sdk.text(address.get("addressLocality")),
        region=sdk.text(address.get("addressRegion")),
        country=sdk.country_code(address.get("addressCountry")),
        postal_code=sdk.text(address.get("postalCode")),
        workplace=const.WORKPLACES.get(str(post.get("workplaceType"))) or remote,  # type: ignore[arg-type]
        department=sdk.text(post.get("departmentName")),
        team=sdk.text(post.get("teamName")),
        employment_type=const.EMPLOYMENT_TYPES.get(
            str(post.get("employmentType") or item.get("employmentType"))
        ),
        salary_text=_salary(_dict(post.get("compensation"))),
        hosted_url=sdk.text(post.get("externalLink")),
        apply_url=sdk.text(post.get("applyLink")),
        closes_at=_closes(post),
    )


def stage_from(item: dict[str, Any], plan: str) -> sdk.Stage:
    """An interview stage of the plan titled ``plan``, with the funnel event its ``type`` suggests."""
    suggested: Any = const.STAGE_TYPES.get(str(item.get("type")))
    # Stage ids are unique across plans; the plan's title tells same-named stages apart for admins.
    name = f"{sdk.text(item.get('title')) or '?'} ({plan})"
    return sdk.Stage(str(item.get("id") or ""), name, suggested_funnel_event=suggested)


def _key(kind: str, application_id: str, stage_id: str | None, moment: datetime) -> str:
    # One key per change however it is reported, so a webhook and a reconciliation poll match.
    if kind == "stage_changed":
        return f"stage:{application_id}:{stage_id}:{moment.isoformat()}"
    prefix = kind if kind in ("hired", "archived") else "application"
    return f"{prefix}:{application_id}"


def event_from(kind: Any, application: Any, ats_event: str) -> sdk.Event:
    """The ``kind`` of event an application (as webhooks and ``application.list`` give it) reports."""
    if not isinstance(application, dict) or not (application_id := sdk.text(application.get("id"))):
        raise ValueError("no application.id")
    stage = _dict(application.get("currentInterviewStage"))
    when = application.get("createdAt" if kind == "application_created" else "updatedAt")
    moment = sdk.iso_time(when, "the application's createdAt/updatedAt")
    stage_id = sdk.text(stage.get("id")) if kind == "stage_changed" else None
    if kind == "stage_changed" and not stage_id:
        raise ValueError("no application.currentInterviewStage.id")
    candidate = _dict(application.get("candidate"))
    suggested: Any = const.STAGE_TYPES.get(str(stage.get("type"))) if stage_id else None
    return sdk.Event(
        kind=kind,
        dedupe_key=_key(kind, application_id, stage_id, moment),
        occurred_at=moment,
        ats_job_id=sdk.text(_dict(application.get("job")).get("id")),
        ats_application_id=application_id,
        ats_candidate_id=sdk.text(candidate.get("id")),
        to_stage_id=stage_id,
        stage_name=sdk.text(stage.get("title")) if stage_id else None,
        suggested_funnel_event=suggested,
        source=sdk.text(_dict(application.get("source")).get("title")),
        candidate_hash=sdk.candidate_hash(sdk.text(_dict(candidate.get("primaryEmailAddress")).get("value"))),
        ats_event=ats_event,
    )


def event_from_webhook(body: dict[str, Any]) -> sdk.Event | None:
    """The event a (signed whole, so trusted) webhook reports; None for an action the hub does not use."""
    action = str(body.get("action"))
    kind = const.ACTIONS.get(action)
    application = _dict(body.get("data")).get("application")
    if kind == "archived" and _dict(application).get("status") != const.ARCHIVED_STATUS:
        return None  # an applicationUpdate that does not archive (a field edited, a move)
    return event_from(kind, application, action) if kind else None


def application_refusal(job_id: str, form: Any, application: sdk.Application) -> str | None:
    """Why the posting's form (``applicationFormDefinition``) cannot take ``application``, or None.

    Ashby's ``application.create`` takes a candidate and a job, no answers: a required field other than
    name, e-mail and phone, or any answer sent, would be left out, so the application is refused.
    """
    if application.answers:
        return f"job {job_id}: Ashby's API takes no answers to questions ({', '.join(application.answers)})"
    sections = _dict(form).get("sections")
    for section in sections if isinstance(sections, list) else ():
        for entry in _dict(section).get("fields") or ():
            field = _dict(_dict(entry).get("field"))
            path, title = str(field.get("path")), sdk.text(field.get("title")) or str(field.get("path"))
            if not _dict(entry).get("isRequired"):
                continue
            filled = const.FORM_FIELDS.get(path)
            if filled is None:
                return f"job {job_id} requires {title!r} ({path}), which Appcast Apply cannot send to Ashby"
            if not getattr(application, filled):
                return f"job {job_id} requires {filled}"
    return None


def application_note(application: sdk.Application) -> str | None:
    """What of ``application`` Ashby's candidate and application cannot hold (the resume's link, the cover
    letter, links), as the HTML of a note on the candidate; None when there is nothing to add."""
    links = [("Resume", application.resume_url)] if application.resume_url else []
    links += [("Link", url) for url in application.urls]
    lines = [f'{label}: <a href="{html.escape(url)}">{html.escape(url)}</a>' for label, url in links]
    if application.cover_letter:
        lines.append("Cover letter:<br>" + html.escape(application.cover_letter).replace("\n", "<br>"))
    return "<p>From Appcast Apply</p><p>" + "</p><p>".join(lines) + "</p>" if lines else None


def candidate_body(application: sdk.Application, source_id: str) -> dict[str, Any]:
    """``candidate.create``'s body: the applicant, credited to the Appcast source."""
    body = {"name": application.name, "email": application.email, "sourceId": source_id}
    return {**body, "phoneNumber": application.phone} if application.phone else body
