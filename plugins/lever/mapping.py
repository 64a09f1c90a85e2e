"""Lever's JSON to the hub's normalised shapes and back: postings to :class:`Job`, webhooks and
opportunities to :class:`Event`, an :class:`Application` to Lever's apply bodies.

Pure functions, no I/O. Postings come in two dialects: the public API (v0: ``hostedUrl``, ``lists``,
``additional``…) and API v1 (``content{…}``, ``urls{…}``, ``state``, ``reqCode``); both map alike.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from hub.sdk import (
    Application,
    Event,
    EventKind,
    Job,
    Workplace,
    candidate_hash,
    country_code,
    format_salary,
)
from plugins.lever import const


class PostingError(ValueError):
    """A posting is not the shape Lever documents (no id, no title, no creation time…)."""


class WebhookShapeError(ValueError):
    """A verified webhook's ``data`` is not the shape Lever sends."""


class OpportunityError(ValueError):
    """An opportunity from API v1 is not the shape Lever documents."""


class Unconfirmed(ValueError):
    """Lever's API does not bear out what a webhook's unsigned body claims (the message says what)."""


class ApplicationFormError(ValueError):
    """An application cannot fill the posting's form as sent (the message says why, for the hub)."""


_WORKPLACES: dict[str, Workplace] = {
    "on-site": "onsite",
    "onsite": "onsite",
    "remote": "remote",
    "hybrid": "hybrid",
}

#: Commitment text with case and punctuation removed → the hub's employment types.
_COMMITMENTS = {
    "fulltime": "full-time",
    "parttime": "part-time",
    "contract": "contract",
    "contractor": "contract",
    "temporary": "temporary",
    "temp": "temporary",
    "intern": "internship",
    "internship": "internship",
}

#: A location that names no place ("Remote", "Remote - US", "Anywhere") has no city.
_PLACELESS = re.compile(r"^(remote|anywhere|worldwide|global)\b", re.IGNORECASE)
#: Trailing location parts that are a country, not a region ("London, UK", "Austin, TX, USA").
_COUNTRY_WORDS = frozenset(
    (
        "us",
        "usa",
        "united states",
        "united states of america",
        "uk",
        "united kingdom",
        "great britain",
        "ireland",
        "canada",
        "germany",
        "france",
        "spain",
        "netherlands",
        "australia",
        "india",
    )
)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")

_EVENT_KINDS: dict[str, EventKind] = {
    const.EVENT_APPLICATION_CREATED: "application_created",
    const.EVENT_STAGE_CHANGE: "stage_changed",
    const.EVENT_HIRED: "hired",
    const.EVENT_ARCHIVE_CHANGE: "archived",
}


def _text(value: Any) -> str | None:
    """A non-empty, trimmed string, or None for anything else (Lever sends "" for unset fields)."""
    if isinstance(value, str):
        return value.strip() or None
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def from_epoch_ms(value: Any) -> datetime | None:
    """Lever's epoch milliseconds as an aware UTC datetime; None for anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _plain_to_html(text: str | None) -> str:
    return html.escape(text, quote=False) if text else ""


def _html_to_plain(text: str | None) -> str | None:
    if not text:
        return None
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", text))).strip() or None


def description_html(posting: Mapping[str, Any]) -> str:
    """The posting's full description in Lever's order: opening, body, each list, closing."""
    content = _mapping(posting.get("content"))
    opening = _text(posting.get("opening")) or ""
    if "descriptionBody" in posting:
        body = _text(posting.get("descriptionBody")) or ""
    elif content:
        # v1: descriptionHtml is the rich text; description is its plain version.
        body = _text(content.get("descriptionHtml")) or _plain_to_html(_text(content.get("description")))
    else:
        body = _text(posting.get("description")) or ""
    parts = []
    # The public API's ``description`` already starts with the opening: do not repeat it.
    if opening and opening not in body:
        parts.append(opening)
    if body:
        parts.append(body)
    lists = posting.get("lists") if "lists" in posting else content.get("lists")
    for item in lists if isinstance(lists, list) else ():
        item = _mapping(item)
        heading, items = _text(item.get("text")), _text(item.get("content"))
        if items:
            # List names are plain text; their content is already <li> HTML.
            title = f"<h3>{html.escape(heading, quote=False)}</h3>" if heading else ""
            parts.append(f"{title}<ul>{items}</ul>")
    closing = (
        _text(posting.get("additional"))
        or _text(content.get("closingHtml"))
        or _plain_to_html(_text(content.get("closing")))
    )
    if closing:
        parts.append(closing)
    return "".join(parts)


def split_location(location: Any) -> tuple[str | None, str | None]:
    """Lever's free-text location as ``(city, region)``: "Portland, OR" → ("Portland", "OR")."""
    text = _text(location)
    if text is None or _PLACELESS.match(text):
        return None, None
    parts = [part.strip() for part in text.split(",") if part.strip()]
    while len(parts) > 1 and parts[-1].lower() in _COUNTRY_WORDS:
        parts.pop()
    if not parts:
        return None, None
    return parts[0], parts[1] if len(parts) > 1 else None


def employment_type(commitment: Any) -> str | None:
    """Lever's commitment text as the hub's employment type; unknown text is kept, lower-cased."""
    text = _text(commitment)
    if text is None:
        return None
    return _COMMITMENTS.get(re.sub(r"[^a-z]", "", text.lower()), text.lower())


def _amount(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    # A whole float is printed as an integer: format_salary would write 1.2e+06 for 1200000.0.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def salary_interval(interval: Any) -> str | None:
    """Lever's pay interval in words: "per-year-salary" → "per year", "one-time" → "one time"."""
    text = _text(interval)
    if text is None:
        return None
    return text.removesuffix("-salary").removesuffix("-wage").replace("-", " ")


def salary_text(posting: Mapping[str, Any]) -> str | None:
    """The structured range when there is one, else Lever's free-text salary description."""
    salary = _mapping(posting.get("salaryRange"))
    if salary:
        currency = _text(salary.get("currency"))
        text = format_salary(
            currency.upper() if currency else None,
            _amount(salary.get("min")),
            _amount(salary.get("max")),
            salary_interval(salary.get("interval")),
        )
        if text:
            return text
    return (
        _text(posting.get("salaryDescriptionPlain"))
        or _html_to_plain(_text(posting.get("salaryDescription")))
        or _html_to_plain(_text(posting.get("salaryDescriptionHtml")))
    )


def requisition_id(posting: Mapping[str, Any]) -> str | None:
    """``reqCode``, else the first of ``requisitionCodes``."""
    codes = posting.get("requisitionCodes")
    first = codes[0] if isinstance(codes, list) and codes else None
    return _text(posting.get("reqCode")) or _text(first)


def job_from_posting(posting: Any) -> Job:
    """Map one Lever posting (either API); raise PostingError when it lacks what every posting has.

    A posting with a ``state`` (API v1) is open only when ``published``; the public API lists nothing
    else, so its postings are all open.
    """
    if not isinstance(posting, Mapping):
        raise PostingError(f"a posting must be an object, not {type(posting).__name__}")
    ats_id, title = _text(posting.get("id")), _text(posting.get("text"))
    if not ats_id:
        raise PostingError("a posting has no id")
    if not title:
        raise PostingError(f"posting {ats_id} has no title (text)")
    updated_at = from_epoch_ms(posting.get("updatedAt"))
    posted_at = from_epoch_ms(posting.get("createdAt")) or updated_at
    if posted_at is None:
        raise PostingError(f"posting {ats_id} has no createdAt")
    categories = _mapping(posting.get("categories"))
    urls = _mapping(posting.get("urls"))
    city, region = split_location(categories.get("location"))
    state = posting.get("state")
    return Job(
        ats_id=ats_id,
        title=title,
        posted_at=posted_at,
        updated_at=updated_at,
        is_open=state is None or state == const.OPEN_STATE,
        description_html=description_html(posting),
        requisition_id=requisition_id(posting),
        city=city,
        region=region,
        country=country_code(posting.get("country")),
        workplace=_WORKPLACES.get(str(posting.get("workplaceType") or "").lower()),
        department=_text(categories.get("department")),
        team=_text(categories.get("team")),
        employment_type=employment_type(categories.get("commitment")),
        salary_text=salary_text(posting),
        hosted_url=_text(posting.get("hostedUrl")) or _text(urls.get("show")),
        apply_url=_text(posting.get("applyUrl")) or _text(urls.get("apply")),
    )


def archive_reason(body: Mapping[str, Any]) -> str | None:
    """The reason id of a ``candidateArchiveChange`` into the archive; None when it left the archive."""
    return _text(_mapping(_mapping(body.get("data")).get("toArchived")).get("reason"))


def opportunity_id(body: Mapping[str, Any]) -> str | None:
    """The webhook's ``data.opportunityId``, when it has one."""
    return _text(_mapping(body.get("data")).get("opportunityId"))


def hire_dedupe_key(opportunity: str) -> str:
    """The one identity of a hire, whether a webhook or the reconciliation poll reports it.

    Lever may report one hire twice (``candidateHired`` and an archive with a hired reason) and the poll
    finds it again: keyed on the opportunity, all of them are stored once.
    """
    return f"hired:{opportunity}"


def stage_change_key(opportunity: str, to_stage: str, moved_at_ms: int) -> str:
    """The identity of one move into a stage: the opportunity's ``stageChanges`` entry, however found."""
    return f"stage:{opportunity}:{to_stage}:{moved_at_ms}"


def application_key(application: str) -> str:
    """The identity of an application's creation, however found."""
    return f"application:{application}"


def archive_key(opportunity: str, archived_at_ms: int) -> str:
    """The identity of an archiving (not a hire) of an opportunity."""
    return f"archived:{opportunity}:{archived_at_ms}"


def webhook_claim(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(event, opportunity id)`` a verified webhook asks the hub to look at; None for nothing to do.

    Only the token and ``triggeredAt`` are signed: the rest merely says where to look in Lever's API.
    None for events the hub does not use, for a candidate leaving the archive, and for a webhook that
    names no opportunity (Lever's connection test).
    """
    name = body.get("event")
    if name not in _EVENT_KINDS:
        return None
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise WebhookShapeError(f"{name}: 'data' must be an object")
    if from_epoch_ms(body.get("triggeredAt")) is None:
        raise WebhookShapeError(f"{name}: 'triggeredAt' must be epoch milliseconds")
    if name == const.EVENT_STAGE_CHANGE and _text(data.get("toStageId")) is None:
        raise WebhookShapeError(f"{name}: 'data.toStageId' is missing")
    if name == const.EVENT_ARCHIVE_CHANGE and archive_reason(body) is None:
        return None  # ``toArchived: null``: brought back from the archive, nothing to report
    opportunity = _text(data.get("opportunityId"))
    return (name, opportunity) if opportunity else None


def _near(moment_ms: int | None, triggered_ms: int, window_ms: int) -> bool:
    return moment_ms is not None and abs(moment_ms - triggered_ms) <= window_ms


def _ms(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _stage_changes(opportunity: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The opportunity's moves as ``(stage, epoch ms)``, oldest first (the first is where it started)."""
    moves = []
    for entry in opportunity.get("stageChanges") or ():
        if (
            isinstance(entry, Mapping)
            and (stage := _text(entry.get("toStageId")))
            and (at := _ms(entry.get("updatedAt"))) is not None
        ):
            moves.append((stage, at))
    return sorted(moves, key=lambda move: move[1])


def _applications(opportunity: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [a for a in opportunity.get("applications") or () if isinstance(a, Mapping) and _text(a.get("id"))]


def _opportunity_id(opportunity: Any) -> str:
    if not isinstance(opportunity, Mapping):
        raise OpportunityError(f"an opportunity must be an object, not {type(opportunity).__name__}")
    ats_id = _text(opportunity.get("id"))
    if not ats_id:
        raise OpportunityError("an opportunity has no id")
    return ats_id


def _stage_event(
    opportunity: Mapping[str, Any], moves: list[tuple[str, int]], index: int, name: str
) -> Event:
    stage, at = moves[index]
    opportunity_id = _opportunity_id(opportunity)
    event = Event(
        kind="stage_changed",
        dedupe_key=stage_change_key(opportunity_id, stage, at),
        occurred_at=from_epoch_ms(at),  # type: ignore[arg-type]  # an int always converts
        ats_application_id=opportunity_id,
        from_stage_id=moves[index - 1][0],
        to_stage_id=stage,
        ats_event=name,
    )
    return with_opportunity_details(event, opportunity)


def _application_event(opportunity: Mapping[str, Any], application: Mapping[str, Any], name: str) -> Event:
    created = _ms(application.get("createdAt"))
    application_id = _text(application.get("id"))
    if created is None or application_id is None:
        raise OpportunityError(f"an application of {opportunity.get('id')} has no id or createdAt")
    event = Event(
        kind="application_created",
        dedupe_key=application_key(application_id),
        occurred_at=from_epoch_ms(created),  # type: ignore[arg-type]
        ats_job_id=_text(application.get("posting")),
        ats_application_id=_opportunity_id(opportunity),
        ats_event=name,
    )
    return with_opportunity_details(event, opportunity)


def confirmed_event(
    body: Mapping[str, Any],
    opportunity: Mapping[str, Any],
    archive_reason_types: Mapping[str, str],
    window_ms: int,
) -> Event:
    """The event a verified webhook reports, as Lever's API shows it; raises :class:`Unconfirmed`.

    ``opportunity`` is ``GET /v1/opportunities/{id}?expand=applications`` for the webhook's
    :func:`webhook_claim`. What the event says (a hire, the stage moved into, the application, the job,
    the candidate, the time) comes from it; of the body, only the signed ``triggeredAt`` is used, to ask
    that the API's record of the change be within ``window_ms`` of it.
    """
    name = str(body["event"])
    triggered = int(body["triggeredAt"])
    opportunity_id = _opportunity_id(opportunity)
    data = _mapping(body.get("data"))
    if name == const.EVENT_HIRED or name == const.EVENT_ARCHIVE_CHANGE:
        hire = hire_from_opportunity(opportunity, archive_reason_types)
        archived_at = _ms(_mapping(opportunity.get("archived")).get("archivedAt"))
        if hire is None and name == const.EVENT_HIRED:
            raise Unconfirmed(f"{name}: Lever says opportunity {opportunity_id} is not hired")
        if not _near(archived_at, triggered, window_ms):
            raise Unconfirmed(f"{name}: Lever shows no archiving of {opportunity_id} at that time")
        if hire is not None:
            return dataclasses.replace(hire, ats_event=name)
        event = Event(
            kind="archived",
            dedupe_key=archive_key(opportunity_id, archived_at),  # type: ignore[arg-type]
            occurred_at=from_epoch_ms(archived_at),  # type: ignore[arg-type]
            ats_application_id=opportunity_id,
            ats_event=name,
        )
        return with_opportunity_details(event, opportunity)
    if name == const.EVENT_STAGE_CHANGE:
        claimed = _text(data.get("toStageId"))
        moves = _stage_changes(opportunity)
        # The first entry is where the opportunity started, not a move.
        matching = [
            i
            for i in range(1, len(moves))
            if moves[i][0] == claimed and _near(moves[i][1], triggered, window_ms)
        ]
        if not matching:
            raise Unconfirmed(
                f"{name}: Lever shows no move of opportunity {opportunity_id} to stage {claimed} at that time"
            )
        nearest = min(matching, key=lambda i: abs(moves[i][1] - triggered))
        return _stage_event(opportunity, moves, nearest, name)
    claimed = _text(data.get("applicationId"))
    made = [
        a
        for a in _applications(opportunity)
        if claimed in (None, _text(a.get("id"))) and _near(_ms(a.get("createdAt")), triggered, window_ms)
    ]
    if not made:
        raise Unconfirmed(f"{name}: Lever shows no application of {opportunity_id} made at that time")
    return _application_event(opportunity, made[0], name)


def events_since(opportunity: Any, archive_reason_types: Mapping[str, str], since_ms: int) -> list[Event]:
    """Every event of an opportunity since ``since_ms``, keyed as its webhook's would be (reconciliation).

    Applications made, moves into stages (not the first stage, where it started) and a hire; archives
    that are no hire send Appcast nothing and are left to their webhooks.
    """
    events = []
    for application in _applications(opportunity):
        created = _ms(application.get("createdAt"))
        if created is not None and created >= since_ms:
            events.append(_application_event(opportunity, application, const.RECONCILIATION_EVENT))
    moves = _stage_changes(opportunity)
    events += [
        _stage_event(opportunity, moves, index, const.RECONCILIATION_EVENT)
        for index in range(1, len(moves))
        if moves[index][1] >= since_ms
    ]
    hire = hire_from_opportunity(opportunity, archive_reason_types)
    # Updated since, but hired before (a note added to an old hire): not an event of this period.
    if hire is not None and epoch_ms(hire.occurred_at) >= since_ms:
        events.append(hire)
    return events


def epoch_ms(moment: datetime) -> int:
    """A datetime as Lever's epoch milliseconds."""
    return int(moment.timestamp() * 1000)


def _first_text(values: Any) -> str | None:
    for value in values if isinstance(values, list) else ():
        if text := _text(value):
            return text
    return None


def opportunity_posting(opportunity: Mapping[str, Any]) -> str | None:
    """The posting of the opportunity's first application that has one (applications expanded)."""
    for application in opportunity.get("applications") or ():
        if isinstance(application, Mapping) and (posting := _text(application.get("posting"))):
            return posting
    return None


def with_opportunity_details(event: Event, opportunity: Mapping[str, Any]) -> Event:
    """The event with what a thin webhook lacks filled from its opportunity: posting, source, e-mail hash."""
    return dataclasses.replace(
        event,
        ats_job_id=event.ats_job_id or opportunity_posting(opportunity),
        ats_candidate_id=event.ats_candidate_id or _text(opportunity.get("contact")),
        source=event.source or _first_text(opportunity.get("sources")),
        candidate_hash=event.candidate_hash or candidate_hash(_first_text(opportunity.get("emails"))),
    )


def opportunity_archive_reason(opportunity: Mapping[str, Any]) -> str | None:
    """The reason id the opportunity is archived with; None when it is not archived."""
    return _text(_mapping(opportunity.get("archived")).get("reason"))


def hire_from_opportunity(opportunity: Any, archive_reason_types: Mapping[str, str]) -> Event | None:
    """A hire event for an opportunity archived with a reason of type ``hired``; None for any other.

    Carries the same ``dedupe_key`` and ids as the webhook for the same hire, so the hub stores it once.
    """
    if not isinstance(opportunity, Mapping):
        raise OpportunityError(f"an opportunity must be an object, not {type(opportunity).__name__}")
    ats_id = _text(opportunity.get("id"))
    if not ats_id:
        raise OpportunityError("an opportunity has no id")
    reason = opportunity_archive_reason(opportunity)
    if reason is None or archive_reason_types.get(reason) != const.HIRED_REASON_TYPE:
        return None
    archived = _mapping(opportunity.get("archived"))
    occurred_at = from_epoch_ms(archived.get("archivedAt")) or from_epoch_ms(opportunity.get("updatedAt"))
    if occurred_at is None:
        raise OpportunityError(f"opportunity {ats_id} is archived without an archivedAt")
    event = Event(
        kind="hired",
        dedupe_key=hire_dedupe_key(ats_id),
        occurred_at=occurred_at,
        ats_application_id=ats_id,
        ats_event=const.RECONCILIATION_EVENT,
    )
    return with_opportunity_details(event, opportunity)


# --- applications -----------------------------------------------------------------------------------

#: Lever's personal information fields the hub can fill, and from what.
_PERSONAL: dict[str, Callable[[Application], Any]] = {
    "fullName": lambda application: application.name,
    "email": lambda application: application.email,
    "phone": lambda application: application.phone,
    # Resumes go as a URL (JSON carries no file): a required resume is filled by the resume URL.
    "resume": lambda application: application.resume_url,
    "additionalInformation": lambda application: application.cover_letter,
}


def _answered(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str | list | tuple | dict):
        return bool(value.strip() if isinstance(value, str) else value)
    return True


def check_contact(application: Application) -> None:
    """Refuse an application Lever cannot create a candidate from: it needs a name and an e-mail."""
    if not _text(application.name):
        raise ApplicationFormError("the application has no name, which Lever requires")
    if "@" not in (application.email or ""):
        raise ApplicationFormError("the application has no e-mail address, which Lever requires")


def _link_names(application: Application) -> list[tuple[str, str]]:
    """The application's URLs as Lever's labelled links: ``Link 1``…, then ``Resume``."""
    links = [(f"Link {number}", url) for number, url in enumerate(application.urls, start=1) if _text(url)]
    if _text(application.resume_url):
        links.append(("Resume", str(application.resume_url)))
    return links


def postings_api_body(application: Application) -> dict[str, Any]:
    """The JSON body for the postings API's apply (v0): name, email, phone, urls, comments, source."""
    check_contact(application)
    body: dict[str, Any] = {"name": application.name.strip(), "email": application.email.strip()}
    if _text(application.phone):
        body["phone"] = application.phone
    links = _link_names(application)
    if links:
        body["urls"] = dict(links)
    if _text(application.cover_letter):
        body["comments"] = application.cover_letter
    body["source"] = application.source
    return body


def _field_id(card: Mapping[str, Any], position: int, field: Mapping[str, Any]) -> str:
    # Fields carry their own id; an older form without one is addressed as <card id>:<position>.
    return _text(field.get("id")) or f"{_text(card.get('id')) or ''}:{position}"


def _option_texts(field: Mapping[str, Any]) -> set[str] | None:
    options = field.get("options")
    if not isinstance(options, list) or not options:
        return None
    texts = {
        _text(option.get("text")) if isinstance(option, Mapping) else _text(option) for option in options
    }
    return {text for text in texts if text}


def apply_body(job_id: str, form: Mapping[str, Any], application: Application) -> dict[str, Any]:
    """The API v1 apply body for ``application``, after checking it fills the posting's ``form``.

    Raises :class:`ApplicationFormError`, naming the question, when the form asks what Appcast Apply
    cannot answer (University Picker, Rating Scale), when a required question or field is left empty, when
    an answer is not one of a question's options, or when an answer is for a question the form lacks:
    never half an application.
    """
    check_contact(application)
    cards = [card for card in form.get("customQuestions") or () if isinstance(card, Mapping)]
    fields: dict[str, Mapping[str, Any]] = {}
    for card in cards:
        for position, field in enumerate(card.get("fields") or ()):
            if not isinstance(field, Mapping):
                continue
            label = const.UNSUPPORTED_QUESTION_TYPES.get(str(field.get("type") or ""))
            if label:
                raise ApplicationFormError(
                    f"job {job_id} asks a {label} question ({_text(field.get('text')) or ''!r}), "
                    "which Appcast Apply cannot answer"
                )
            fields[_field_id(card, position, field)] = field
    answers = application.answers
    unknown = sorted(set(answers) - set(fields))
    if unknown:
        raise ApplicationFormError(f"job {job_id} has no question {', '.join(map(repr, unknown))}")
    for field_id, field in fields.items():
        text = _text(field.get("text")) or field_id
        value = answers.get(field_id)
        if not _answered(value):
            if field.get("required") is True:
                raise ApplicationFormError(
                    f"job {job_id} requires an answer to {text!r} (question {field_id})"
                )
            continue
        options = _option_texts(field)
        chosen = value if isinstance(value, list) else [value]
        if options is not None and not all(isinstance(c, str) and c.strip() in options for c in chosen):
            raise ApplicationFormError(
                f"job {job_id}: {value!r} is not an option of {text!r} ({', '.join(sorted(options))})"
            )
    for item in form.get("personalInformation") or ():
        if not isinstance(item, Mapping) or item.get("required") is not True:
            continue
        name = _text(item.get("name")) or ""
        fill = _PERSONAL.get(name)
        if not _answered(fill(application) if fill else None):
            raise ApplicationFormError(
                f"job {job_id} requires {_text(item.get('text')) or name!r}, which the application lacks"
            )
    personal = [
        {"name": name, "value": value.strip()}
        for name in ("fullName", "email", "phone", "additionalInformation")
        if isinstance(value := _PERSONAL[name](application), str) and value.strip()
    ]
    custom = []
    for card in cards:
        # Lever matches a card's values to its fields by position: one value per field, in order.
        values = [
            answers.get(_field_id(card, position, field)) if isinstance(field, Mapping) else None
            for position, field in enumerate(card.get("fields") or ())
        ]
        if any(_answered(value) for value in values):
            custom.append(
                {"id": card.get("id"), "fields": [{"value": v if _answered(v) else None} for v in values]}
            )
    return {
        "personalInformation": personal,
        "urls": [{"name": name, "value": url} for name, url in _link_names(application)],
        "customQuestions": custom,
        "source": application.source,
        "origin": const.APPLY_ORIGIN,
    }
