"""Lever's JSON to the hub's normalised shapes: postings to :class:`Job`, webhooks to :class:`Event`.

Pure functions, no I/O. Postings come in two dialects: the public API (v0: ``hostedUrl``, ``lists``,
``additional``…) and API v1 (``content{…}``, ``urls{…}``, ``state``, ``reqCode``); both map alike.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hub.normalised import Event, EventKind, Job, Workplace, format_salary
from plugins.lever import const


class PostingError(ValueError):
    """A posting is not the shape Lever documents (no id, no title, no creation time…)."""


class WebhookShapeError(ValueError):
    """A verified webhook's ``data`` is not the shape Lever sends."""


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


def country_code(value: Any) -> str | None:
    """An ISO 3166-1 alpha-2 code, upper case, or None when Lever has none (or sends something else)."""
    text = _text(value)
    if text and len(text) == 2 and text.isascii() and text.isalpha():
        return text.upper()
    return None


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


def event_from_webhook(
    body: Mapping[str, Any], archive_reason_types: Mapping[str, str] | None = None
) -> Event | None:
    """Map a verified webhook body to an event; None for events the hub does not use.

    ``archive_reason_types`` (reason id → ``hired``/``non-hired``) turns an archive with a hired
    reason into a hire, which is how Lever records most hires.
    """
    name = body.get("event")
    kind = _EVENT_KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        return None
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise WebhookShapeError(f"{name}: 'data' must be an object")
    occurred_at = from_epoch_ms(body.get("triggeredAt"))
    if occurred_at is None:
        raise WebhookShapeError(f"{name}: 'triggeredAt' must be epoch milliseconds")
    from_stage = to_stage = None
    if kind == "stage_changed":
        from_stage, to_stage = _text(data.get("fromStageId")), _text(data.get("toStageId"))
        if to_stage is None:
            raise WebhookShapeError(f"{name}: 'data.toStageId' is missing")
    elif kind == "archived":
        reason = archive_reason(body)
        if reason is None:
            # ``toArchived: null`` is a candidate brought back from the archive: nothing to report.
            return None
        if archive_reason_types and archive_reason_types.get(reason) == "hired":
            kind = "hired"
    return Event(
        kind=kind,
        # Lever's ``token`` is unique per delivery of an event and kept across its retries.
        dedupe_key=f"{name}:{body.get('token')}",
        occurred_at=occurred_at,
        ats_job_id=_text(data.get("postingId")),
        # The opportunity is what moves through stages and gets hired: using it for every event (the
        # application id only when there is no opportunity) lets the hub tie a hire to its application.
        ats_application_id=_text(data.get("opportunityId")) or _text(data.get("applicationId")),
        ats_candidate_id=_text(data.get("candidateId")) or _text(data.get("contactId")),
        from_stage_id=from_stage,
        to_stage_id=to_stage,
        ats_event=name,
    )
