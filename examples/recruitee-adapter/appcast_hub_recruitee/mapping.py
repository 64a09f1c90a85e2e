"""Recruitee's JSON to the hub's shapes (and an application to Recruitee's): pure functions, no I/O.

Recruitee's application is a *placement*: a candidate on an offer. Webhooks name the candidate and
the offer, so an application is named ``{candidate id}:{offer id}`` everywhere (webhooks, the poll,
Apply), and a hire's key is the same however it is reported. A value Recruitee does not document
raises ``ValueError``, which the calling hook turns into the hub's error for the occasion.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from hub import sdk

from . import const


def job_from_offer(item: dict[str, Any]) -> sdk.Job:
    """One offer of ``GET /offers`` as a hub job; only a published offer is open."""
    salary, updated = item.get("salary") or {}, item.get("updated_at")
    kind = sdk.text(item.get("employment_type"))
    period = f"per {salary['period']}" if salary.get("period") else None
    return sdk.Job(
        ats_id=str(item.get("id") or ""), title=sdk.text(item.get("title")) or "",
        posted_at=sdk.iso_time(item.get("published_at") or item.get("created_at"), "an offer's created_at"),
        updated_at=sdk.iso_time(updated, "an offer's updated_at") if updated else None,
        is_open=item.get("status") == "published",
        description_html="".join(sdk.text(item.get(key)) or "" for key in ("description", "requirements")),
        city=sdk.text(item.get("city")), region=sdk.text(item.get("state_name") or item.get("state_code")),
        country=sdk.country_code(item.get("country_code")), postal_code=sdk.text(item.get("postal_code")),
        workplace="remote" if item.get("remote") else "hybrid" if item.get("hybrid") else None,
        department=sdk.text(item.get("department")),
        employment_type=const.EMPLOYMENT_TYPES.get(kind.split("_")[0], kind) if kind else None,
        salary_text=sdk.format_salary(salary.get("currency"), salary.get("min"), salary.get("max"), period),
        hosted_url=sdk.text(item.get("careers_url")) or sdk.text(item.get("url")),
        apply_url=sdk.text(item.get("careers_apply_url")),
    )  # fmt: skip


def stage_from_item(item: dict[str, Any], pipeline: str | None = None) -> sdk.Stage:
    """A stage, with the funnel event its category suggests, named after its ``pipeline`` when given.

    Its ``workflow`` stays empty: webhooks do not say which pipeline a stage is in, and the hub finds a
    stage's mapping by (workflow, id). Recruitee's stage ids are unique across pipelines anyway.
    """
    suggested: Any = const.STAGE_CATEGORIES.get(str(item.get("category")))
    name, stage_id = sdk.text(item.get("name")) or "?", str(item.get("id") or "")
    return sdk.Stage(stage_id, f"{pipeline}: {name}" if pipeline else name, suggested_funnel_event=suggested)


def _event(kind: Any, candidate: Any, offer_id: Any, moment: datetime, ats_event: str,
           stage: sdk.Stage | None = None) -> sdk.Event:  # fmt: skip
    if not isinstance(candidate, dict) or not candidate.get("id") or not offer_id:
        raise ValueError("no candidate id or offer id")
    application = f"{candidate['id']}:{offer_id}"
    emails, sources = candidate.get("emails"), candidate.get("sources")
    # A hire or an application happens once; a move or a disqualification once per stage and time.
    once = kind in ("hired", "application_created")
    key = f"{kind}:{application}" + ("" if once else f":{stage and stage.id}:{moment.isoformat()}")
    return sdk.Event(
        kind=kind, dedupe_key=key, occurred_at=moment, ats_job_id=str(offer_id), ats_event=ats_event,
        ats_application_id=application, ats_candidate_id=str(candidate["id"]),
        to_stage_id=stage and stage.id, stage_name=stage and stage.name,
        suggested_funnel_event=stage.suggested_funnel_event if stage and kind == "stage_changed" else None,
        # ``sources`` holds the names a candidate was given (Apply gives Appcast); ``source`` how it came.
        source=sdk.text(sources[0] if isinstance(sources, list) and sources else candidate.get("source")),
        candidate_hash=sdk.candidate_hash(emails[0] if isinstance(emails, list) and emails else None),
    )  # fmt: skip


def event_from_webhook(body: dict[str, Any], hire_categories: Collection[str]) -> sdk.Event | None:
    """The event a (signed, so trusted) webhook reports; None for tests and types the hub does not use."""
    name = f"{body.get('event_type')}/{body.get('event_subtype')}"
    kind: Any = const.EVENT_TYPES.get(name) or const.EVENT_TYPES.get(str(body.get("event_type")))
    payload = body.get("payload") if isinstance(body.get("payload"), dict) else {}
    offer, details = payload.get("offer") or {}, payload.get("details") or {}
    # A test, a type the hub does not use, or a candidate on no offer (no application Appcast knows).
    if body.get("test") or kind is None or not offer.get("id"):
        return None
    stage = stage_from_item(details["to_stage"]) if isinstance(details.get("to_stage"), dict) else None
    if kind == "stage_changed" and stage and details["to_stage"].get("category") in hire_categories:
        kind = "hired"
    moment = sdk.iso_time(body.get("created_at"), "created_at")
    return _event(kind, payload.get("candidate"), offer["id"], moment, name.removesuffix("/None"), stage)


def hires_from_candidate(item: dict[str, Any], since: datetime) -> list[sdk.Event]:
    """The candidate's placements hired since ``since``, keyed and filled as their webhooks would be."""
    placements = [placement for placement in item.get("placements") or () if placement.get("hired_at")]
    hired = [(p, sdk.iso_time(p["hired_at"], "a placement's hired_at")) for p in placements]
    return [_event("hired", item, p.get("offer_id"), at, "reconciliation") for p, at in hired if at >= since]


def application_body(offer: dict[str, Any], application: sdk.Application) -> dict[str, Any]:
    """What ``POST /candidates`` takes; ApplicationRefused naming the field the offer's form lacks."""
    if application.answers:
        raise sdk.ApplicationRefused("answers: this adapter sends no answers to Recruitee's open questions")
    for field, attribute in const.FORM_FIELDS.items():
        missing = not (attribute and getattr(application, attribute))
        if missing and offer.get(f"options_{field}") == "required":
            raise sdk.ApplicationRefused(f"{field}: offer {offer.get('id')} requires one; Apply sent none")
    candidate = {"name": application.name, "emails": [application.email], "sources": [application.source],
                 "phones": [application.phone] if application.phone else [], "links": application.urls,
                 "cover_letter": application.cover_letter,
                 "remote_cv_url": application.resume_url}  # fmt: skip
    return {"candidate": candidate, "offers": [offer["id"]]}
