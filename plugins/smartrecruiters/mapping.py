"""SmartRecruiters' JSON to the hub's shapes (and an application to SmartRecruiters'): pure functions.

A value SmartRecruiters does not document raises ``ValueError`` (the SDK's ``ShapeError`` is one): the
hook that called turns it into the hub's error for the occasion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from hub import sdk

from . import const


def _label(value: Any) -> str | None:
    return sdk.text(value.get("label")) if isinstance(value, dict) else None


def _description(job_ad: Any) -> str:
    sections = job_ad.get("sections") if isinstance(job_ad, dict) else None
    parts = []
    for name in const.SECTIONS:
        section = sections.get(name) if isinstance(sections, dict) else None
        text = sdk.text(section.get("text")) if isinstance(section, dict) else None
        if text:
            title = sdk.text(section.get("title"))
            parts.append(f"<h3>{title}</h3>{text}" if title else text)
    return "".join(parts)


def _workplace(location: dict[str, Any]) -> Any:
    if location.get("hybrid") is True:
        return "hybrid"
    # ``remote`` is a yes/no flag: false says on site, where a missing flag says nothing.
    return {True: "remote", False: "onsite"}.get(location.get("remote"))


def _salary(compensation: Any) -> str | None:
    if not isinstance(compensation, dict):
        return None
    return sdk.format_salary(sdk.text(compensation.get("currency")), compensation.get("min"),
                             compensation.get("max"), None)  # fmt: skip


def public_ad(ads: Sequence[Any]) -> dict[str, Any]:
    """The job ad the public sees: the published one, else the default one, else none."""
    ads = [ad for ad in ads if isinstance(ad, dict)]
    published = [ad for ad in ads if ad.get("postingStatus") == const.PUBLIC]
    return next(iter(published or [ad for ad in ads if ad.get("default") is True]), {})


def job_from(details: dict[str, Any], ad: dict[str, Any], open_statuses: Sequence[str]) -> sdk.Job:
    """A job from ``GET /jobs/{id}`` and its public job ad (``GET /jobs/{id}/jobads``)."""
    if not isinstance(details, dict):
        raise ValueError("a job's details are not an object")
    location, updated = details.get("location") or {}, details.get("updatedOn")
    apply_url = sdk.text(ad.get("applyUrl"))
    return sdk.Job(
        ats_id=str(details.get("id") or ""),
        title=sdk.text(details.get("title")) or "",
        posted_at=sdk.iso_time(details.get("createdOn"), "a job's createdOn"),
        updated_at=sdk.iso_time(updated, "a job's updatedOn") if updated else None,
        is_open=details.get("status") in open_statuses and details.get("postingStatus") == const.PUBLIC,
        description_html=_description(ad.get("jobAd")) or _description(details.get("jobAd")),
        requisition_id=sdk.text(details.get("refNumber")),
        city=sdk.text(location.get("city")),
        region=sdk.text(location.get("region")) or sdk.text(location.get("regionCode")),
        country=sdk.country_code(location.get("countryCode")),
        postal_code=sdk.text(location.get("postalCode")),
        workplace=_workplace(location),
        department=_label(details.get("department")),
        employment_type=(_label(details.get("typeOfEmployment")) or "").lower().replace(" ", "-") or None,
        salary_text=_salary(details.get("compensation")),
        # The job ad's page is where a candidate reads it and applies.
        hosted_url=apply_url,
        apply_url=apply_url,
    )


def stages() -> list[sdk.Stage]:
    """The candidate statuses, the same in every hiring process, with the funnel event each means."""
    return [sdk.Stage(status, status.replace("_", " ").title(), suggested_funnel_event=suggested)
            for status, suggested in const.STATUSES.items()]  # fmt: skip


def _event(kind: Any, job_id: str, candidate: dict[str, Any], moment: datetime, ats_event: str,
           key: str, status: str | None = None, source: str | None = None) -> sdk.Event:  # fmt: skip
    candidate_id = str(candidate.get("id") or "")
    return sdk.Event(
        kind=kind,
        dedupe_key=key,
        occurred_at=moment,
        ats_job_id=job_id,
        # SmartRecruiters names an application by its job and its candidate.
        ats_application_id=f"{job_id}:{candidate_id}",
        ats_candidate_id=candidate_id,
        to_stage_id=status if kind == "stage_changed" else None,
        stage_name=status.replace("_", " ").title() if kind == "stage_changed" and status else None,
        suggested_funnel_event=const.STATUSES.get(status or "") if kind == "stage_changed" else None,
        candidate_hash=sdk.candidate_hash(sdk.text(candidate.get("email"))),
        source=source,
        ats_event=ats_event,
    )


def source_name(application: dict[str, Any], appcast: Mapping[str, str]) -> str | None:
    """The application's source (``{sourceTypeId, sourceSubTypeId, sourceId}``): ``Appcast`` when it is
    the one Appcast Apply candidates are created with (its ``sourceId`` set), else its id, else its type."""
    source = application.get("source")
    if not isinstance(source, dict):
        return None
    if appcast.get("sourceId") and all(source.get(field) == value for field, value in appcast.items()):
        return "Appcast"
    return sdk.text(source.get("sourceId")) or sdk.text(source.get("sourceTypeId"))


def webhook_event(
    name: str,
    job_id: str,
    candidate: dict[str, Any],
    application: dict[str, Any],
    moment: datetime,
    appcast: Mapping[str, str],
) -> sdk.Event:
    """The event an application webhook reports, built from the application as the API has it now
    (``GET /candidates/{id}/jobs/{jobId}``): keyed by what it is, since its status is read now, not sent."""
    candidate_id, status = str(candidate.get("id") or ""), application.get("status")
    source = source_name(application, appcast)
    if name == const.EVENT_APPLICATION_CREATED:
        key = f"application:{job_id}:{candidate_id}"
        return _event("application_created", job_id, candidate, moment, name, key, source=source)
    if status == const.HIRED:
        key = f"hired:{job_id}:{candidate_id}"
        return _event("hired", job_id, candidate, moment, name, key, source=source)
    if status not in const.STATUSES:
        raise ValueError(f"an application status SmartRecruiters does not document: {status!r}")
    # Status changes in quick succession all read the latest status: one event for it, not one each.
    key = f"stage:{job_id}:{candidate_id}:{status}"
    return _event("stage_changed", job_id, candidate, moment, name, key, status, source)


def hires_from_candidate(candidate: dict[str, Any]) -> list[sdk.Event]:
    """The hires a candidate of ``GET /candidates?status=HIRED`` holds, keyed as their webhooks are."""
    if not isinstance(candidate, dict) or not (candidate_id := sdk.text(candidate.get("id"))):
        raise ValueError("a candidate without an id")
    moment = sdk.iso_time(candidate.get("updatedOn"), "a candidate's updatedOn")
    assignments = [candidate.get("primaryAssignment"), *(candidate.get("secondaryAssignments") or [])]
    hires = []
    for assignment in assignments:
        job = assignment.get("job") if isinstance(assignment, dict) else None
        job_id = sdk.text(job.get("id")) if isinstance(job, dict) else None
        if job_id and assignment.get("status") == const.HIRED:
            key = f"hired:{job_id}:{candidate_id}"
            hires.append(_event("hired", job_id, candidate, moment, const.RECONCILIATION_EVENT, key))
    return hires


def candidate_body(application: sdk.Application, source: Mapping[str, str]) -> dict[str, Any]:
    """What ``POST /jobs/{id}/candidates`` takes; ApplicationRefused, naming the field, for what it cannot."""
    if application.answers:
        raise sdk.ApplicationRefused("answers: SmartRecruiters' Candidate API takes no screening answers")
    if application.cover_letter:
        raise sdk.ApplicationRefused("cover_letter: SmartRecruiters' Candidate API has no field for it")
    first, _, last = application.name.strip().rpartition(" ")
    if not first.strip() or not last:
        raise sdk.ApplicationRefused("name: SmartRecruiters requires a first and a last name")
    links = [url for url in (application.resume_url, *application.urls) if url]
    linkedin = [url for url in links if "linkedin.com/" in url.lower()]
    others = [url for url in links if url not in linkedin]
    if len(linkedin) > 1 or len(others) > 1:
        raise sdk.ApplicationRefused("urls: SmartRecruiters takes one LinkedIn profile and one website")
    web = {"linkedIn": next(iter(linkedin), None), "website": next(iter(others), None)}
    body = {"firstName": first.strip(), "lastName": last, "email": application.email,
            "phoneNumber": application.phone, "web": {k: v for k, v in web.items() if v}}  # fmt: skip
    if source:
        body["sourceDetails"] = dict(source)
    return {key: value for key, value in body.items() if value}
