"""Workable's JSON to the hub's shapes (and an application to Workable's): pure functions, no I/O.

A value Workable does not document raises ``ValueError`` (the SDK's ``ShapeError`` is one): the hook that
called turns it into the hub's error for the occasion.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hub import sdk

from . import const


def _slug(value: Any) -> str:
    return "-".join(str(value).lower().replace("_", " ").split())


def _description(item: dict[str, Any]) -> str:
    # ``full_description`` is Workable's own assembly of the three parts; older jobs may lack it.
    if full := sdk.text(item.get("full_description")):
        return full
    parts = [(None, "description"), ("Requirements", "requirements"), ("Benefits", "benefits")]
    return "".join(
        (f"<h3>{title}</h3>" if title else "") + text
        for title, key in parts
        if (text := sdk.text(item.get(key)))
    )


def _salary(salary: Any) -> str | None:
    if not isinstance(salary, dict):
        return None
    currency = sdk.text(salary.get("salary_currency"))
    low, high = salary.get("salary_from"), salary.get("salary_to")
    amounts = [value if isinstance(value, int | float) else None for value in (low, high)]
    return sdk.format_salary(currency.upper() if currency else None, *amounts, None)


def job_from_item(item: dict[str, Any]) -> sdk.Job:
    """One job of Workable's ``jobs`` list (with ``include_fields``) as a hub job, keyed by its shortcode."""
    location, updated = item.get("location") or {}, item.get("updated_at")
    workplace: Any = const.WORKPLACES.get(str(location.get("workplace_type")))
    if workplace is None and location.get("telecommuting") is True:
        workplace = "remote"  # ``telecommuting`` is the older flag ``workplace_type`` supersedes
    employment = sdk.text(item.get("employment_type"))
    return sdk.Job(
        ats_id=sdk.text(item.get("shortcode")) or "",
        title=sdk.text(item.get("title")) or "",
        posted_at=sdk.iso_time(item.get("created_at"), "a job's created_at"),
        updated_at=sdk.iso_time(updated, "a job's updated_at") if updated else None,
        is_open=item.get("state") == const.OPEN_STATE,
        description_html=_description(item),
        requisition_id=sdk.text(item.get("code")),
        city=sdk.text(location.get("city")),
        region=sdk.text(location.get("region")),
        country=sdk.country_code(location.get("country_code")),
        postal_code=sdk.text(location.get("zip_code")),
        workplace=workplace,
        department=sdk.text(item.get("department")),
        employment_type=const.EMPLOYMENT_TYPES.get(_slug(employment), employment) if employment else None,
        salary_text=_salary(item.get("salary")),
        hosted_url=sdk.text(item.get("url")) or sdk.text(item.get("shortlink")),
        apply_url=sdk.text(item.get("application_url")),
    )


def stage_from_item(item: dict[str, Any]) -> sdk.Stage:
    """A pipeline stage, keyed by its slug, with the funnel event its Workable kind suggests."""
    suggested: Any = const.STAGE_KINDS.get(str(item.get("kind")))
    name = sdk.text(item.get("name")) or "?"
    return sdk.Stage(str(item.get("slug") or ""), name, suggested_funnel_event=suggested)


def _event(kind: Any, candidate: dict[str, Any], moment: datetime, ats_event: str, key: str,
           stage: sdk.Stage | None = None) -> sdk.Event:  # fmt: skip
    job, candidate_id = candidate.get("job") or {}, candidate["id"]
    return sdk.Event(
        kind=kind,
        dedupe_key=key,
        occurred_at=moment,
        ats_job_id=sdk.text(job.get("shortcode")) if isinstance(job, dict) else None,
        # A Workable candidate belongs to one job: it is the application as well as the candidate.
        ats_application_id=candidate_id,
        ats_candidate_id=candidate_id,
        to_stage_id=stage.id if stage else None,
        stage_name=stage.name if stage else None,
        suggested_funnel_event=stage.suggested_funnel_event if stage else None,
        source=sdk.text(candidate.get("domain")),
        candidate_hash=sdk.candidate_hash(sdk.text(candidate.get("email"))),
        ats_event=ats_event,
    )


def hire_from_candidate(candidate: Any, ats_event: str, fallback: Any = None) -> sdk.Event:
    """A hired candidate, keyed ``hired:<id>`` however it is reported (webhook or reconciliation)."""
    if not isinstance(candidate, dict) or not sdk.text(candidate.get("id")):
        raise ValueError("a candidate without an id")
    moment = sdk.iso_time(candidate.get("hired_at") or fallback or candidate.get("updated_at"), "hired_at")
    return _event("hired", candidate, moment, ats_event, f"hired:{candidate['id']}")


def event_from_webhook(body: dict[str, Any], stages: Mapping[str, sdk.Stage]) -> sdk.Event | None:
    """The event a (signed, so trusted) webhook reports; None for a type the hub does not use.

    ``stages`` by lower-cased name: Workable's candidate names its stage by name only.
    """
    event_type, candidate = body.get("event_type"), body.get("data")
    if event_type not in (const.EVENT_CREATED, const.EVENT_MOVED):
        return None
    if not isinstance(candidate, dict) or not isinstance(candidate.get("id"), str) or not candidate["id"]:
        raise ValueError("no data.id")
    candidate_id = candidate["id"]
    if event_type == const.EVENT_CREATED:
        if candidate.get("sourced") is True:
            return None  # a recruiter sourced the candidate: nobody applied
        created = sdk.iso_time(candidate.get("created_at"), "data.created_at")
        return _event("application_created", candidate, created, event_type, f"application:{candidate_id}")
    fired = sdk.iso_time(body.get("fired_at"), "fired_at")
    name = sdk.text(candidate.get("stage"))
    stage = stages.get(name.lower()) if name else None
    # A job may have stages of its own, which the account's list lacks: named, but of no known kind, so
    # only Workable's ``hired_at`` says whether such a stage is a hire.
    hired = stage.suggested_funnel_event == "hired" if stage else bool(candidate.get("hired_at"))
    if stage is None and name:
        stage = sdk.Stage(_slug(name), name)
    if hired:
        return hire_from_candidate(candidate, event_type, fired)
    if candidate.get("disqualified") is True:
        moment = sdk.iso_time(
            candidate.get("disqualified_at") or body.get("fired_at"), "data.disqualified_at"
        )
        return _event(
            "archived", candidate, moment, event_type, f"archived:{candidate_id}:{moment.isoformat()}"
        )
    if stage is None:
        raise ValueError("no data.stage")
    # The body is the candidate at request time, not at ``fired_at``: two quick moves both report the
    # later stage, so a stage change is keyed by the stage alone (not by when it fired).
    return _event("stage_changed", candidate, fired, event_type, f"stage:{candidate_id}:{stage.id}", stage)


def _answer(job_id: str, question: dict[str, Any], answer: Any) -> dict[str, Any]:
    kind, question_id = question.get("type"), question.get("id")
    key = const.ANSWER_KEYS.get(str(kind))
    if key is None:
        raise sdk.ApplicationRefused(
            f"job {job_id} asks a {kind} question ({question_id}): Appcast Apply cannot answer it"
        )
    value: Any = answer
    if key == "choices":
        choices = {str(c.get(field)).lower(): c.get("id") for c in question.get("choices") or []
                   if isinstance(c, dict) for field in ("id", "body")}  # fmt: skip
        picked = answer if isinstance(answer, list) else [answer]
        value = [choices.get(str(choice).lower()) for choice in picked]
        if None in value or (question.get("single_answer") and len(value) > 1):
            raise sdk.ApplicationRefused(
                f"job {job_id}: {answer!r} is not an answer question {question_id} offers"
            )
    elif key == "checked":
        value = {"true": True, "yes": True, "false": False, "no": False}.get(str(answer).lower())
        if value is None:
            raise sdk.ApplicationRefused(
                f"job {job_id}: question {question_id} takes yes or no, not {answer!r}"
            )
    elif key == "value":
        try:
            value = float(answer)
        except (TypeError, ValueError):
            raise sdk.ApplicationRefused(f"job {job_id}: question {question_id} takes a number") from None
    else:
        value = str(answer)
    return {"question_key": question_id, key: value}


def application_body(job_id: str, form: Any, application: sdk.Application, domain: str) -> dict[str, Any]:
    """What Workable takes for ``application``; ApplicationRefused naming the field the form cannot have."""
    if not isinstance(form, dict):
        raise sdk.AdapterUnavailable(
            f"{const.PEER} answered job {job_id}'s application form without an object"
        )
    first, _, last = application.name.strip().partition(" ")
    candidate = {"name": application.name, "firstname": first, "lastname": last.strip(),
                 "email": application.email, "phone": application.phone,
                 "cover_letter": application.cover_letter, "resume": application.resume_url}  # fmt: skip
    for field in form.get("form_fields") or []:
        key = field.get("key") if isinstance(field, dict) else None
        if key and field.get("required") and not (key in const.FILLABLE_FIELDS and candidate.get(key)):
            raise sdk.ApplicationRefused(
                f"job {job_id}'s form requires {key}, which the application does not fill"
            )
    questions = {q.get("id"): q for q in form.get("questions") or [] if isinstance(q, dict)}
    if unknown := sorted(set(application.answers) - set(questions)):
        raise sdk.ApplicationRefused(f"job {job_id} has no question {unknown[0]}")
    answers = []
    for question_id, question in questions.items():
        answer = application.answers.get(question_id)
        given = answer is not None and answer != "" and answer != []
        # Workable's custom questions are all mandatory; one Appcast cannot answer refuses as such.
        if not given and question.get("required", True) and str(question.get("type")) in const.ANSWER_KEYS:
            raise sdk.ApplicationRefused(f"job {job_id} requires an answer to question {question_id}")
        if given or question.get("required", True):
            answers.append(_answer(job_id, question, answer))
    # ``sourced: false`` makes the candidate one who applied; ``domain`` is where Workable keeps the source.
    candidate.update(resume_url=candidate.pop("resume"), domain=domain, answers=answers)
    return {"sourced": False, "candidate": {k: v for k, v in candidate.items() if v not in (None, "")}}
