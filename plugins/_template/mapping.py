"""MyATS's JSON to the hub's shapes (and an application to MyATS's): pure functions, no I/O.

A value MyATS does not document raises ``ValueError`` (the SDK's ``ShapeError`` is one): the hook that
called turns it into the hub's error for the occasion.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub import sdk

from . import const


def job_from_item(item: dict[str, Any]) -> sdk.Job:
    """One item of MyATS's ``jobs`` list as a hub job."""
    location, updated = item.get("location") or {}, item.get("updated_at")
    return sdk.Job(
        ats_id=str(item.get("id") or ""),
        title=sdk.text(item.get("title")) or "",
        posted_at=sdk.iso_time(item.get("created_at"), "a job's created_at"),
        updated_at=sdk.iso_time(updated, "a job's updated_at") if updated else None,
        is_open=item.get("status") == "open",
        description_html=item.get("description_html") or "",
        city=sdk.text(location.get("city")),
        region=sdk.text(location.get("region")),
        country=sdk.country_code(location.get("country")),
        workplace="remote" if item.get("remote") is True else None,
        department=sdk.text(item.get("department")),
        hosted_url=sdk.text(item.get("url")),
    )


def stage_from_item(item: dict[str, Any]) -> sdk.Stage:
    """A pipeline stage, with the funnel event its MyATS kind suggests."""
    suggested: Any = const.STAGE_KINDS.get(str(item.get("kind")))
    name = sdk.text(item.get("name")) or "?"
    return sdk.Stage(str(item.get("id") or ""), name, suggested_funnel_event=suggested)


def _key(kind: str, application_id: str, stage_id: str | None, moment: datetime) -> str:
    # One key per change however it is reported, so a webhook and a reconciliation poll match.
    if kind == "stage_changed":
        return f"stage:{application_id}:{stage_id}:{moment.isoformat()}"
    return f"{'hired' if kind == 'hired' else 'application'}:{application_id}"


def _event(
    kind: Any, data: Any, moment: datetime, ats_event: str, stage: sdk.Stage | None = None
) -> sdk.Event:
    if not isinstance(data, dict) or not (application_id := sdk.text(data.get("application_id"))):
        raise ValueError("no data.application_id")
    stage_id = sdk.text(data.get("stage_id")) if kind == "stage_changed" else None
    return sdk.Event(
        kind=kind,
        dedupe_key=_key(kind, application_id, stage_id, moment),
        occurred_at=moment,
        ats_job_id=sdk.text(data.get("job_id")),
        ats_application_id=application_id,
        ats_candidate_id=sdk.text(data.get("candidate_id")),
        to_stage_id=stage_id,
        stage_name=stage.name if stage else None,
        suggested_funnel_event=stage.suggested_funnel_event if stage else None,
        source=sdk.text(data.get("source")),
        candidate_hash=sdk.candidate_hash(sdk.text(data.get("email"))),
        ats_event=ats_event,
    )


def event_from_webhook(body: dict[str, Any], stages: dict[str, sdk.Stage]) -> sdk.Event | None:
    """The event a (signed, so trusted) webhook reports; None for a type the hub does not use."""
    kind = const.EVENT_TYPES.get(str(body.get("type")))
    if kind is None:
        return None
    data = body.get("data")
    stage = stages.get(str(data.get("stage_id"))) if isinstance(data, dict) else None
    return _event(kind, data, sdk.iso_time(body.get("created_at"), "created_at"), str(body["type"]), stage)


def hire_from_application(item: dict[str, Any]) -> sdk.Event:
    """A hired application from the poll, keyed and filled as its webhook would be."""
    moment = sdk.iso_time(item.get("updated_at"), "an application's updated_at")
    return _event("hired", {**item, "application_id": item.get("id")}, moment, "reconciliation")


def application_body(job_id: str, questions: list[Any], application: sdk.Application) -> dict[str, Any]:
    """What MyATS takes for ``application``; ApplicationRefused when its form cannot be filled as sent."""
    for question in questions:
        kind, question_id = question.get("type"), question.get("id")
        if kind in const.UNSUPPORTED_QUESTIONS:
            raise sdk.ApplicationRefused(
                f"job {job_id} asks a {kind} question: Appcast Apply cannot answer it"
            )
        if question.get("required") and not application.answers.get(question_id):
            raise sdk.ApplicationRefused(f"job {job_id} requires an answer to question {question_id}")
    return {"name": application.name, "email": application.email, "phone": application.phone,
            "answers": application.answers, "source": application.source}  # fmt: skip
