"""Greenhouse's JSON to the hub's shapes (and an application to Harvest's): pure functions, no I/O.

A value Greenhouse does not document raises ``ValueError`` (the SDK's ``ShapeError`` is one), naming
what is wrong: the hook that called turns it into the hub's error for the occasion.
"""

from __future__ import annotations

import base64
import html
import re
from datetime import datetime
from typing import Any

from hub import sdk

from . import const


def gid(value: Any) -> str | None:
    """Greenhouse ids are JSON integers; read them as the hub's string ids."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return sdk.text(value)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def place(name: str | None) -> tuple[str | None, str | None, sdk.Workplace | None]:
    """``(city, region, workplace)`` from a location name: ``Portland, OR``, ``Remote - US``,
    ``Hybrid - London`` (the board has no workplace field: its location names say it)."""
    if not name or "remote" in name.lower():
        return None, None, "remote" if name else None
    workplace: sdk.Workplace | None = "hybrid" if "hybrid" in name.lower() else None
    parts = [part.strip() for part in re.sub(r"(?i)\(?hybrid\)?\s*[-:]?", "", name).strip(" -,").split(",")]
    return parts[0] or None, parts[1] if len(parts) > 1 and parts[1] else None, workplace


def office_country(office_location: str) -> str | None:
    """The country an office's location ends with: the board writes ``New York, NY, United States``,
    webhooks ``New York, NY``. The last of two parts is a region (``CA``, ``IN``), not a country, unless it
    is a country's name written out (``London, United Kingdom``)."""
    parts = [part.strip() for part in office_location.split(",")]
    return sdk.country_code(parts[-1]) if len(parts) >= 3 or len(parts[-1]) > 3 else None


def _amount(value: Any, field: dict[str, Any]) -> float | None:
    # Greenhouse writes amounts as decimal strings ("90000.0").
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"custom field {field.get('name')!r} holds {value!r}, not an amount") from None


def _metadata(post: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(employment type, salary)`` from the custom fields the board publishes, when it does."""
    employment_type = salary = None
    for field in map(_object, post.get("metadata") or ()):
        value, name = field.get("value"), str(field.get("name", "")).strip().lower()
        if name == const.EMPLOYMENT_TYPE_FIELD and (words := sdk.text(value)):
            employment_type = words.lower()
        elif field.get("value_type") == const.SALARY_VALUE_TYPE and isinstance(value, dict) and not salary:
            low, high = (_amount(value.get(key), field) for key in ("min_value", "max_value"))
            salary = sdk.format_salary(sdk.text(value.get("unit")), low, high, None)
    return employment_type, salary


def job_from_post(post: Any, *, harvest: bool = False) -> sdk.Job:
    """One job post of the board as a hub job, keyed by the Greenhouse *job* it advertises.

    ``internal_job_id`` (the job) rather than ``id`` (the post), because webhooks and Harvest name the
    job: only then does a hire find its job in the feed.

    ``harvest``: a Harvest v3 job post instead, read only for a job the board no longer lists, so closed.
    It names the job ``job_id`` and the first publication ``first_published_at``, sends its HTML as it is,
    and has none of the board's other fields (they come out empty).
    """
    post = _object(post)
    keys = ("job_id", "first_published_at") if harvest else ("internal_job_id", "first_published")
    ats_id, title = gid(post.get(keys[0])), sdk.text(post.get("title"))
    if not ats_id or not title:
        raise ValueError(f"job post {gid(post.get('id')) or '?'} has no {keys[0]} or no title")
    updated_at = sdk.iso_time(post.get("updated_at"), f"job {ats_id}: updated_at")
    first = post.get(keys[1])
    city, region, workplace = place(sdk.text(_object(post.get("location")).get("name")))
    departments = [sdk.text(_object(d).get("name")) for d in post.get("departments") or ()]
    offices = [_object(o).get("location") for o in post.get("offices") or ()]
    employment_type, salary = _metadata(post)
    return sdk.Job(
        ats_id=ats_id,
        title=title,
        posted_at=sdk.iso_time(first, f"job {ats_id}: {keys[1]}") if first else updated_at,
        updated_at=updated_at,
        # The board lists published jobs only: a job that is not listed is closed by the snapshot.
        is_open=not harvest,
        # The board sends the description's HTML escaped ("&lt;p&gt;"): the feed wants the HTML itself.
        description_html=(post.get("content") or "") if harvest else html.unescape(post.get("content") or ""),
        requisition_id=sdk.text(post.get("requisition_id")),
        city=city,
        region=region,
        country=next((code for o in offices if isinstance(o, str) and (code := office_country(o))), None),
        workplace=workplace,
        department=next((d for d in departments if d), None),
        employment_type=employment_type,
        salary_text=salary,
        hosted_url=sdk.text(post.get("absolute_url")),
        apply_url=sdk.text(post.get("absolute_url")),
    )


def jobs_from_posts(posts: list[Any]) -> list[sdk.Job]:
    """The board's job posts as hub jobs, one per Greenhouse job: the first post of a job wins, and a
    prospect post (no job behind it) is left out."""
    jobs: dict[str, sdk.Job] = {}
    # "Prospect posts include a null value for internal_job_id": they advertise no job. A post without
    # the field at all is not one, and fails the sync like any post that names no job.
    listed = [post for post in posts if _object(post).get("internal_job_id", "absent") is not None]
    for job in map(job_from_post, listed):
        jobs.setdefault(job.ats_id, job)
    return list(jobs.values())


def stage_from_item(item: Any) -> sdk.Stage:
    """A job's interview stage; each job has its own plan, so its job is the stage's workflow.

    Greenhouse classifies applications (hired, rejected), not stages: no stage suggests a funnel event.
    """
    stage_id, name = gid(_object(item).get("id")), sdk.text(_object(item).get("name"))
    if not stage_id or not name:
        raise ValueError("a job interview stage without an id or a name")
    return sdk.Stage(stage_id, name, workflow=gid(item.get("job_id")) or "")


def key(kind: str, application_id: str, stage_id: str | None = None) -> str:
    """One key per change however it is reported: a webhook, its redelivery and a poll store it once.

    A stage change is keyed by its stage: an application entering a stage again is the same funnel step.
    """
    return ":".join(filter(None, (const.KEY_PREFIXES[kind], application_id, stage_id)))


def event_from_webhook(body: dict[str, Any], received_at: datetime) -> sdk.Event | None:
    """The event a (signed whole, so trusted) webhook reports; None for an action the hub does not use."""
    if (kind := const.ACTIONS.get(action := str(body.get("action")))) is None:
        return None
    application = _object(_object(body.get("payload")).get("application"))
    if not (application_id := gid(application.get("id"))):
        raise ValueError(f"{action} without payload.application.id")
    candidate, stage = _object(application.get("candidate")), _object(application.get("current_stage"))
    jobs = [job_id for job in application.get("jobs") or () if (job_id := gid(_object(job).get("id")))]
    emails = [sdk.text(_object(e).get("value")) for e in candidate.get("email_addresses") or ()]
    stage_id = gid(stage.get("id")) if kind == "stage_changed" else None
    # The payload's own time for the change (a hire's is its offer's acceptance); its arrival otherwise.
    times = {"application_created": application.get("applied_at"), "archived": application.get("rejected_at"),
             "hired": _object(application.get("offer")).get("resolved_at")}  # fmt: skip
    when = times.get(kind) or application.get("last_activity_at")
    source = _object(application.get("source"))
    return sdk.Event(
        kind=kind, dedupe_key=key(kind, application_id, stage_id), ats_event=action,
        occurred_at=sdk.iso_time(when, f"{action}: its time") if when else received_at,
        ats_job_id=jobs[0] if jobs else None, ats_application_id=application_id,
        ats_candidate_id=gid(candidate.get("id")) or gid(application.get("candidate_id")),
        to_stage_id=stage_id, stage_name=sdk.text(stage.get("name")) if stage_id else None,
        workflow=jobs[0] if stage_id and jobs else "",
        source=sdk.text(source.get("public_name")) or sdk.text(source.get("name")),
        candidate_hash=sdk.candidate_hash(next((e for e in emails if e), None)),
    )  # fmt: skip


def hire_from_application(item: Any, appcast_source: int | None) -> sdk.Event:
    """A hired Harvest v3 application, keyed as its webhook is. Harvest names the source by id only, and
    the candidate's e-mail lives on another resource: an Appcast hire is named by the Appcast source id."""
    item = _object(item)
    if not (application_id := gid(item.get("id"))) or not gid(item.get("job_id")):
        raise ValueError("a hired application without an id or a job_id")
    when = item.get("last_activity_at") or item.get("updated_at")
    source = item.get("source_id")
    return sdk.Event(
        kind="hired", dedupe_key=key("hired", application_id), ats_event=const.RECONCILIATION_EVENT,
        occurred_at=sdk.iso_time(when, f"application {application_id}: last_activity_at"),
        ats_job_id=gid(item.get("job_id")), ats_application_id=application_id,
        ats_candidate_id=gid(item.get("candidate_id")),
        source="Appcast" if appcast_source is not None and source == appcast_source else None,
    )  # fmt: skip


def candidate_body(job: sdk.Job, application: sdk.Application, source_id: int) -> dict[str, Any]:
    """``POST /v3/candidates`` with its first application; ApplicationRefused, naming the field, for
    what the adapter cannot send to Harvest (it would be half an application)."""
    unsent = [name for name in ("urls", "answers") if getattr(application, name)]
    if unsent:
        raise sdk.ApplicationRefused(f"job {job.ats_id}: {unsent[0]} cannot be sent to Greenhouse")
    first, _, last = application.name.strip().partition(" ")
    if not first or not last.strip():
        raise sdk.ApplicationRefused(f"job {job.ats_id}: name needs a first and a last name for Greenhouse")
    if not job.ats_id.isdigit():
        raise sdk.ApplicationRefused(f"job {job.ats_id} is not a Greenhouse job id")
    body: dict[str, Any] = {
        "first_name": first,
        "last_name": last.strip(),
        "email_addresses": [{"value": application.email, "type": "personal"}],
        "application": {"job_id": int(job.ats_id), "source_id": source_id},
    }
    if application.phone:
        body["phone_numbers"] = [{"value": application.phone, "type": "mobile"}]
    return body


def attachment_bodies(application_id: str, application: sdk.Application) -> list[dict[str, Any]]:
    """``POST /v3/attachments`` for the application's resume (Greenhouse fetches it from its URL) and its
    cover letter (written as a text file)."""
    bodies = []
    if application.resume_url:
        name = application.resume_url.rsplit("/", 1)[-1].split("?", 1)[0] or "resume"
        bodies.append({"application_id": int(application_id), "filename": name, "type": "resume",
                       "url": application.resume_url})  # fmt: skip
    if application.cover_letter:
        content = base64.b64encode(application.cover_letter.encode()).decode()
        bodies.append({"application_id": int(application_id), "filename": "cover_letter.txt",
                       "type": "cover_letter", "content": content})  # fmt: skip
    return bodies
