"""Pinpoint's JSON:API resources to the hub's normalised shapes: pure functions, no I/O.

Pinpoint documents its job attributes only loosely, so every reader here accepts the few spellings a
JSON:API server plausibly uses (a string or an object with ``name``, ``state`` or ``province``...) and
leaves a field empty rather than guessing when none is there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from hub.sdk import (
    Application,
    ApplicationResult,
    Event,
    Job,
    Stage,
    Workplace,
    candidate_hash,
    country_code,
    format_salary,
)
from plugins.pinpoint import const

#: ``included`` resources by ``(type, id)``.
IncludedIndex = dict[tuple[str, str], Mapping[str, Any]]

_WORKPLACES: dict[str, Workplace] = {
    "onsite": "onsite",
    "office": "onsite",
    "inoffice": "onsite",
    "inperson": "onsite",
    "remote": "remote",
    "fullyremote": "remote",
    "hybrid": "hybrid",
}


class MappingError(ValueError):
    """A resource is not the shape Pinpoint sends (no id, no time, ...)."""


# --- small readers ----------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    return None


def _name(value: Any) -> str | None:
    """A string, or the ``name`` (or ``title``) of an object or JSON:API resource."""
    if isinstance(value, Mapping):
        attributes = value.get("attributes")
        holder = attributes if isinstance(attributes, Mapping) else value
        return _text(holder.get("name")) or _text(holder.get("title"))
    return _text(value)


def _first(*values: Any) -> str | None:
    for value in values:
        text = _text(value)
        if text:
            return text
    return None


def _time(value: Any) -> datetime | None:
    """ISO 8601 text to an aware UTC datetime; naive times are taken as UTC (Rails renders UTC)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.replace(",", "").strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    # Whole amounts print as "45000", not "45000.0" or "4.5e+04".
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _attributes(resource: Mapping[str, Any] | None) -> Mapping[str, Any]:
    attributes = resource.get("attributes") if isinstance(resource, Mapping) else None
    return attributes if isinstance(attributes, Mapping) else {}


def index_included(included: Iterable[Any]) -> IncludedIndex:
    """Index a document's ``included`` resources by ``(type, id)``."""
    index: IncludedIndex = {}
    for resource in included:
        if isinstance(resource, Mapping) and resource.get("id") is not None:
            index[(str(resource.get("type")), str(resource["id"]))] = resource
    return index


def _linkage(resource: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    relationships = resource.get("relationships")
    relationship = relationships.get(name) if isinstance(relationships, Mapping) else None
    data = relationship.get("data") if isinstance(relationship, Mapping) else None
    if isinstance(data, list):  # a to-many relationship: the first is the primary one
        data = data[0] if data else None
    return data if isinstance(data, Mapping) and data.get("id") is not None else None


def _related_id(resource: Mapping[str, Any], name: str) -> str | None:
    data = _linkage(resource, name)
    return _text(data.get("id")) if data else None


def _related(resource: Mapping[str, Any], name: str, index: IncludedIndex) -> Mapping[str, Any] | None:
    data = _linkage(resource, name)
    return index.get((str(data.get("type")), str(data.get("id")))) if data else None


# --- jobs -------------------------------------------------------------------------------------------


def workplace(*values: Any) -> Workplace | None:
    """``On-site``/``onsite``/``Remote``/``Hybrid``... to the hub's three workplaces, else None."""
    for value in values:
        text = _text(value)
        if text:
            found = _WORKPLACES.get(re.sub(r"[^a-z]", "", text.lower()))
            if found:
                return found
    return None


def employment_type(*values: Any) -> str | None:
    """Pinpoint's employment type text to the hub's words; unknown types lower-cased as they are."""
    text = _first(*values)
    if not text:
        return None
    words = re.sub(r"[\s_\-]+", " ", text.lower()).strip()
    compact = words.replace(" ", "")
    # Most specific first: "Fixed Term, Full Time" is a contract; "Permanent Part-time" part-time.
    if "intern" in compact:
        return "internship"
    if "temporary" in compact or words == "temp":
        return "temporary"
    if "contract" in compact or "fixedterm" in compact or "freelance" in compact:
        return "contract"
    if "parttime" in compact:
        return "part-time"
    if "fulltime" in compact:
        return "full-time"
    return words


def _interval(value: Any) -> str | None:
    text = _text(value)
    if not text:
        return None
    key = re.sub(r"[\s_\-]+", " ", text.lower()).strip()
    return const.COMPENSATION_INTERVALS.get(key) or (key if key.startswith("per ") else f"per {key}")


def salary_text(attributes: Mapping[str, Any]) -> str | None:
    """The salary as the feed shows it, from Pinpoint's structured range or its free text.

    A range the admin hid from candidates (``compensation_visible: false``) is not published.
    """
    if attributes.get("compensation_visible") is False:
        return None
    minimum = _number(attributes.get("compensation_minimum"))
    maximum = _number(attributes.get("compensation_maximum"))
    currency = _text(attributes.get("compensation_currency"))
    frequency = attributes.get("compensation_frequency")
    compensation = attributes.get("compensation")
    if minimum is None and maximum is None and isinstance(compensation, Mapping):
        minimum = _number(compensation.get("minimum", compensation.get("min")))
        maximum = _number(compensation.get("maximum", compensation.get("max")))
        currency = currency or _text(compensation.get("currency"))
        frequency = frequency or compensation.get("frequency") or compensation.get("interval")
    if minimum is not None or maximum is not None:
        return format_salary(currency.upper() if currency else None, minimum, maximum, _interval(frequency))
    return _text(compensation)


def description_html(attributes: Mapping[str, Any]) -> str:
    """``description`` followed by the advert's other sections, each under an ``<h3>`` heading."""
    parts = []
    description = attributes.get("description")
    if isinstance(description, str) and description.strip():
        parts.append(description)
    for key, heading in const.DESCRIPTION_SECTIONS:
        section = attributes.get(key)
        if isinstance(section, str) and section.strip():
            parts.append(f"<h3>{heading}</h3>\n{section}")
    return "\n".join(parts)


def job_from_resource(resource: Any, index: IncludedIndex) -> Job:
    """Map one ``jobs`` resource (with its document's ``included``) to a Job; MappingError if unusable."""
    if not isinstance(resource, Mapping):
        raise MappingError("a job is not a JSON:API resource object")
    ats_id = _text(resource.get("id"))
    if not ats_id:
        raise MappingError("a job has no id")
    attributes = resource.get("attributes")
    if not isinstance(attributes, Mapping):
        raise MappingError(f"job {ats_id} has no attributes")
    is_open = (_text(attributes.get("status")) or "").lower() == const.OPEN_STATUS
    title = _text(attributes.get("title"))
    if not title:
        # A draft may be untitled; it is never advertised, so a placeholder is harmless. An open job
        # without a title would put junk in the feed: fail the sync and keep the last good data.
        if is_open:
            raise MappingError(f"open job {ats_id} has no title")
        title = f"Untitled Pinpoint job {ats_id}"
    posted_at = (
        _time(attributes.get("published_at"))
        or _time(attributes.get("created_at"))
        or _time(attributes.get("updated_at"))
    )
    if posted_at is None:
        raise MappingError(f"job {ats_id} has no published_at or created_at time")

    location = _related(resource, "location", index)
    place = _attributes(location) if location else attributes.get("location")
    place = place if isinstance(place, Mapping) else {}
    department = _name(attributes.get("department")) or _name(_related(resource, "department", index))
    hosted_url = _text(attributes.get("url"))
    return Job(
        ats_id=ats_id,
        title=title,
        posted_at=posted_at,
        updated_at=_time(attributes.get("updated_at")),
        is_open=is_open,
        description_html=description_html(attributes),
        requisition_id=_first(attributes.get("requisition_id"), attributes.get("reference")),
        city=_text(place.get("city")),
        region=_first(place.get("province"), place.get("state"), place.get("region"), place.get("county")),
        country=country_code(place.get("country_code")) or country_code(place.get("country")),
        postal_code=_first(place.get("postal_code"), place.get("postcode"), place.get("zip")),
        workplace=workplace(attributes.get("workplace_type"), attributes.get("workplace_type_text")),
        department=department,
        employment_type=employment_type(
            attributes.get("employment_type_text"), attributes.get("employment_type")
        ),
        salary_text=salary_text(attributes),
        hosted_url=hosted_url,
        apply_url=_text(attributes.get("apply_url")) or hosted_url,
    )


# --- webhooks ---------------------------------------------------------------------------------------


def triggered_at(body: Mapping[str, Any]) -> datetime | None:
    """The webhook's ``triggeredAt`` (epoch seconds) as an aware datetime; None when absent."""
    value = body.get("triggeredAt")
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MappingError("triggeredAt is not a number of seconds")
    # Pinpoint sends seconds; should it ever send milliseconds, reading them as seconds would
    # reject every webhook as stale, so a value only milliseconds can be is read as such.
    if value > const.EPOCH_MILLISECONDS_THRESHOLD:
        value = value / 1000
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise MappingError("triggeredAt is out of range") from None


def hired_event(
    body: Mapping[str, Any], received_at: datetime, detail: Mapping[str, Any] | None = None
) -> Event:
    """The hire an ``application_hired`` webhook reports, completed from the application's details.

    ``detail`` is the ``GET /api/v1/applications/{id}?include=candidate`` document, or None when it
    could not be fetched; the webhook alone still makes a usable event.
    """
    data = body.get("data")
    application = data.get("application") if isinstance(data, Mapping) else None
    application_id = _text(application.get("id")) if isinstance(application, Mapping) else None
    if not application_id:
        raise MappingError(f"{const.HIRED_EVENT} without data.application.id")
    job = data.get("job") if isinstance(data, Mapping) else None
    occurred_at = triggered_at(body) or (
        received_at if received_at.tzinfo else received_at.replace(tzinfo=UTC)
    )
    event = Event(
        kind="hired",
        dedupe_key=f"{const.HIRED_EVENT}:{application_id}",
        occurred_at=occurred_at,
        ats_job_id=_text(job.get("id")) if isinstance(job, Mapping) else None,
        ats_application_id=application_id,
        ats_event=const.HIRED_EVENT,
    )
    resource = detail.get("data") if isinstance(detail, Mapping) else None
    if isinstance(resource, Mapping):
        _add_application_details(event, resource, index_included(_list(detail, "included")))
    return event


def _list(document: Mapping[str, Any] | None, key: str) -> list[Any]:
    value = document.get(key) if isinstance(document, Mapping) else None
    return value if isinstance(value, list) else []


def _add_application_details(event: Event, resource: Mapping[str, Any], index: IncludedIndex) -> None:
    attributes = _attributes(resource)
    candidate = _attributes(_related(resource, "candidate", index))
    event.ats_candidate_id = _related_id(resource, "candidate") or _text(attributes.get("candidate_id"))
    # Only the hash leaves the adapter: the address itself is personal data the hub never stores.
    event.candidate_hash = candidate_hash(_first(candidate.get("email"), attributes.get("email")))
    event.source = (
        _name(attributes.get("source"))
        or _text(attributes.get("source_name"))
        or _name(_related(resource, "source", index))
    )
    event.stage_name = (
        _name(attributes.get("stage"))
        or _text(attributes.get("stage_name"))
        or _name(_related(resource, "stage", index))
    )
    event.to_stage_id = _related_id(resource, "stage")
    event.ats_job_id = event.ats_job_id or _related_id(resource, "job") or _text(attributes.get("job_id"))


# --- reconciliation ---------------------------------------------------------------------------------


def updated_at(resource: Mapping[str, Any]) -> datetime | None:
    """An application's ``updated_at``, or None when it has none."""
    return _time(_attributes(resource).get("updated_at"))


def is_hired(resource: Mapping[str, Any]) -> bool:
    """Is this application hired: ``status`` is ``hired`` or ``hired_at`` is set?"""
    attributes = _attributes(resource)
    status = _name(attributes.get("status")) or ""
    return status.lower() == const.HIRED_STATUS or _text(attributes.get("hired_at")) is not None


def reconciled_hire(resource: Any, index: IncludedIndex) -> Event:
    """The hire a listed ``applications`` resource (with its ``included``) shows; MappingError if unusable.

    Its key is the one the ``application_hired`` webhook gives the same hire, so whichever arrives
    second is "already seen".
    """
    if not isinstance(resource, Mapping):
        raise MappingError("an application is not a JSON:API resource object")
    application_id = _text(resource.get("id"))
    if not application_id:
        raise MappingError("an application has no id")
    attributes = _attributes(resource)
    occurred_at = _time(attributes.get("hired_at")) or _time(attributes.get("updated_at"))
    if occurred_at is None:
        raise MappingError(f"hired application {application_id} has neither hired_at nor updated_at")
    event = Event(
        kind="hired",
        dedupe_key=f"{const.HIRED_EVENT}:{application_id}",
        occurred_at=occurred_at,
        ats_application_id=application_id,
        ats_event=const.RECONCILIATION_EVENT,
    )
    _add_application_details(event, resource, index)
    return event


# --- applications in --------------------------------------------------------------------------------


def split_name(name: str) -> tuple[str, str]:
    """``(first_name, last_name)``: the last word is the last name, the rest the first name.

    One word only (``Cher``) gives :data:`~plugins.pinpoint.const.MISSING_LAST_NAME` as the last name.
    """
    words = name.split()
    if not words:
        return "", ""
    if len(words) == 1:
        return words[0], const.MISSING_LAST_NAME
    return " ".join(words[:-1]), words[-1]


def application_document(
    job_id: str, application: Application, *, with_source: bool = True
) -> dict[str, Any]:
    """The ``POST /api/v1/applications`` JSON:API document for ``application`` on job ``job_id``.

    Optional fields are left out when empty. The source goes in ``source_name`` (undocumented) unless
    ``with_source`` is False.
    """
    first_name, last_name = split_name(application.name)
    attributes: dict[str, Any] = {
        "first_name": first_name,
        "last_name": last_name,
        "email": application.email.strip(),
    }
    optional = {
        "phone": application.phone,
        "cover_letter": application.cover_letter,
        "resume_url": application.resume_url,
    }
    attributes |= {key: value.strip() for key, value in optional.items() if value and value.strip()}
    if with_source and application.source and application.source.strip():
        attributes[const.SOURCE_ATTRIBUTE] = application.source.strip()
    return {
        "data": {
            "type": "applications",
            "attributes": attributes,
            "relationships": {"job": {"data": {"type": "jobs", "id": job_id}}},
        }
    }


def created_application(document: Any) -> ApplicationResult:
    """What Pinpoint answered to a created application; MappingError when it names no id."""
    resource = document.get("data") if isinstance(document, Mapping) else None
    if not isinstance(resource, Mapping):
        raise MappingError('the answer has no JSON:API "data" resource')
    application_id = _text(resource.get("id"))
    if not application_id:
        raise MappingError("the answer names no application id")
    return ApplicationResult(
        ats_application_id=application_id,
        ats_candidate_id=_related_id(resource, "candidate")
        or _text(_attributes(resource).get("candidate_id")),
    )


# --- stages -----------------------------------------------------------------------------------------


def stages_from_resources(resources: Iterable[Any], index: IncludedIndex) -> list[Stage]:
    """Map ``stages`` resources; ones without an id or a name (nothing to map them by) are left out."""
    stages: list[Stage] = []
    seen: set[tuple[str, str]] = set()
    for resource in resources:
        if not isinstance(resource, Mapping):
            continue
        attributes = _attributes(resource)
        stage_id = _text(resource.get("id"))
        name = _text(attributes.get("name")) or _text(attributes.get("title"))
        if not stage_id or not name:
            continue
        workflow = (
            _name(attributes.get("workflow"))
            or _name(attributes.get("hiring_workflow"))
            or _name(_related(resource, "workflow", index))
            or _name(_related(resource, "hiring_workflow", index))
            or ""
        )
        if (workflow, stage_id) not in seen:
            seen.add((workflow, stage_id))
            stages.append(Stage(id=stage_id, name=name, workflow=workflow))
    return stages
