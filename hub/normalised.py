"""The normalised shapes that cross the plugin boundary: what adapters return and the hub stores.

Adapters turn their ATS's JSON into these; everything downstream (sync, feed, deliveries, Slack) only
ever sees these shapes, never an ATS's own. Fields that take one of a few values (an event's kind, a
workplace, a stage's funnel event) and times (which must carry a zone) are checked when a shape is
built: a mistake raises :class:`~hub.errors.ShapeError` naming the field, in the adapter's own code.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from hub.errors import ShapeError, WebhookMalformed

Workplace = Literal["onsite", "hybrid", "remote"]
EventKind = Literal["application_created", "stage_changed", "hired", "archived"]
FunnelEvent = Literal["applied", "screen", "interview", "offer", "hired"]

WORKPLACES: tuple[Workplace, ...] = ("onsite", "hybrid", "remote")
EVENT_KINDS: tuple[EventKind, ...] = ("application_created", "stage_changed", "hired", "archived")
FUNNEL_EVENTS: tuple[FunnelEvent, ...] = ("applied", "screen", "interview", "offer", "hired")
FeedPolicy = Literal["opted-in", "all-open"]
FEED_POLICIES: tuple[FeedPolicy, ...] = ("opted-in", "all-open")


def _one_of(shape: str, name: str, value: Any, allowed: tuple[Any, ...], *, optional: bool = False) -> None:
    if value not in allowed and not (optional and value is None):
        choices = ", ".join(map(repr, allowed)) + (" or None" if optional else "")
        raise ShapeError(f"{shape}.{name} must be one of {choices}, not {value!r}")


def _aware(shape: str, name: str, value: Any, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, datetime):
        raise ShapeError(f"{shape}.{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ShapeError(f"{shape}.{name} must carry a time zone: {value.isoformat()} has none")


def _text(shape: str, name: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ShapeError(f"{shape}.{name} must be non-empty text, not {value!r}")


@dataclass(slots=True)
class Job:
    """One ATS job as the hub mirrors it. ``ats_id`` is stable forever: it is the feed's reference number.

    Datetimes are timezone-aware. Text is as the ATS has it; the hub removes characters XML 1.0
    forbids when it stores the job, so adapters need not.
    """

    ats_id: str
    title: str
    posted_at: datetime
    is_open: bool = True
    description_html: str = ""
    requisition_id: str | None = None
    company: str | None = None
    city: str | None = None
    region: str | None = None
    #: ISO 3166-1 alpha-2, upper case, when known.
    country: str | None = None
    postal_code: str | None = None
    workplace: Workplace | None = None
    department: str | None = None
    team: str | None = None
    #: ``full-time``, ``part-time``, ``contract``, ``temporary``, ``internship``… or the ATS's text.
    employment_type: str | None = None
    #: Human-readable, e.g. ``USD 90000-120000 per year``.
    salary_text: str | None = None
    hosted_url: str | None = None
    apply_url: str | None = None
    updated_at: datetime | None = None
    #: When the ATS stops taking applications (its closing date or deadline): the job leaves the feed
    #: at that moment. A date without a time means the end of that day where the job is, which the
    #: adapter decides.
    closes_at: datetime | None = None

    def __post_init__(self) -> None:
        _text("Job", "ats_id", self.ats_id)
        _aware("Job", "posted_at", self.posted_at)
        _aware("Job", "updated_at", self.updated_at, optional=True)
        _aware("Job", "closes_at", self.closes_at, optional=True)
        if not isinstance(self.is_open, bool):
            raise ShapeError(f"Job.is_open must be True or False, not {self.is_open!r}")
        _one_of("Job", "workplace", self.workplace, WORKPLACES, optional=True)


@dataclass(slots=True)
class JobPage:
    """One page of jobs from :func:`~hub.hookspecs.appcast_hub_fetch_jobs`.

    ``snapshot`` is True when the fetch lists *every* job the ATS has for the account (a full sync):
    only then does the hub close the jobs it did not see. An incremental fetch (only jobs changed
    since a time) yields pages with ``snapshot=False`` and reports closed jobs with ``is_open=False``.
    """

    jobs: list[Job]
    snapshot: bool = True


@dataclass(slots=True, frozen=True)
class Stage:
    """One pipeline stage of the ATS. ``workflow`` names the pipeline where the ATS has several.

    ``suggested_funnel_event`` is what the stage means by the ATS's own classification (a stage of kind
    "interview", "offer", "hired"…), when it has one: a stage no admin mapped means that by default, and
    admins see the suggestion marked as the ATS's.
    """

    id: str
    name: str
    workflow: str = ""
    suggested_funnel_event: FunnelEvent | None = None

    def __post_init__(self) -> None:
        _text("Stage", "id", self.id)
        _one_of("Stage", "suggested_funnel_event", self.suggested_funnel_event, FUNNEL_EVENTS, optional=True)


@dataclass(slots=True)
class Event:
    """A normalised ATS event. ``dedupe_key`` is the ATS's own identity for it: stored once, ever."""

    kind: EventKind
    dedupe_key: str
    occurred_at: datetime
    ats_job_id: str | None = None
    ats_application_id: str | None = None
    ats_candidate_id: str | None = None
    from_stage_id: str | None = None
    to_stage_id: str | None = None
    stage_name: str | None = None
    workflow: str = ""
    #: The candidate's source as the ATS reports it (``Appcast`` for Appcast applicants).
    source: str | None = None
    #: :func:`candidate_hash` of the candidate's e-mail; the address itself never leaves the adapter.
    candidate_hash: str | None = None
    #: The ATS's own event name (e.g. ``candidateStageChange``), kept for audit and debugging.
    ats_event: str = ""
    #: For a stage change: what the stage moved into means by the ATS's own classification (see
    #: :attr:`Stage.suggested_funnel_event`), used when no admin mapped the stage.
    suggested_funnel_event: FunnelEvent | None = None

    def __post_init__(self) -> None:
        _one_of("Event", "kind", self.kind, EVENT_KINDS)
        _text("Event", "dedupe_key", self.dedupe_key)
        _aware("Event", "occurred_at", self.occurred_at)
        _one_of("Event", "suggested_funnel_event", self.suggested_funnel_event, FUNNEL_EVENTS, optional=True)


def candidate_hash(email: str | None) -> str | None:
    """SHA-256 of the trimmed, lower-cased e-mail: how a candidate is named outside the hub."""
    if not email or not email.strip():
        return None
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


@dataclass(slots=True, frozen=True)
class WebhookRequest:
    """A webhook exactly as it arrived: adapters verify signatures over ``body``, byte for byte."""

    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str]
    received_at: datetime

    def header(self, name: str) -> str | None:
        """The value of header ``name``, matched case-insensitively as HTTP names are; None if absent.

        ``headers`` keeps names as the sender spelt them (``signature`` or ``Signature``), so look
        headers up through this rather than ``headers.get``.
        """
        lowered = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == lowered), None)

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; :class:`~hub.errors.WebhookMalformed` (400) when it is not one."""
        try:
            document = json.loads(self.body)
        except (UnicodeDecodeError, RecursionError, ValueError):
            raise WebhookMalformed("the body is not JSON") from None
        if not isinstance(document, dict):
            raise WebhookMalformed("the body is not a JSON object")
        return document


@dataclass(slots=True)
class Application:
    """An application from Appcast Apply, to be created in the ATS with Appcast as its source."""

    name: str
    email: str
    phone: str | None = None
    resume_url: str | None = None
    cover_letter: str | None = None
    urls: list[str] = field(default_factory=list)
    #: Answers to the job's application questions, keyed by the ATS's question id.
    answers: dict[str, Any] = field(default_factory=dict)
    source: str = "Appcast"


@dataclass(slots=True, frozen=True)
class ApplicationResult:
    """What the ATS answered to a created application."""

    ats_application_id: str
    ats_candidate_id: str | None = None


@dataclass(slots=True, frozen=True)
class Delivery:
    """One outbound message as a destination plugin sends it (stored in the outbox beforehand)."""

    id: int
    destination: str
    payload: Mapping[str, Any]
    #: The same for every attempt of this delivery: receivers deduplicate on it.
    idempotency_key: str
    attempt: int
    #: The receipt of the delivery this one follows (what :func:`~hub.hookspecs.appcast_hub_deliver`
    #: returned for the incident's notice before it): where a sink threads an update. None for the first.
    thread: Mapping[str, Any] | None = None


NoticeKind = Literal["incident.opened", "incident.updated", "incident.resolved"]
NOTICE_KINDS: tuple[NoticeKind, ...] = ("incident.opened", "incident.updated", "incident.resolved")


@dataclass(slots=True, frozen=True)
class NoticeAction:
    """Something an admin can do about a notice, for a sink that can offer it (a chat's button).

    ``action_id`` and ``value`` are what the hub's own Slack app acts on when clicked (it checks the
    clicker is an admin); ``confirm``, when set, is asked first ("Close 40 jobs?").
    """

    label: str
    action_id: str
    value: str
    danger: bool = False
    confirm: str | None = None


@dataclass(slots=True, frozen=True)
class Notice:
    """Something the hub tells admins without being asked: an incident opened, updated or resolved.

    Handed to notice sinks (:func:`~hub.hookspecs.appcast_hub_notice_payload`). ``incident`` is the same in
    every notice of one incident, and ``sequence`` counts them from 0 (the opening): a sink that threads
    (a chat's thread, a ticket's comments) threads on the first and orders by the second. ``topic`` says
    what is wrong (:data:`hub.incidents.TOPICS`), ``subject`` what within it (a destination's name), and
    ``text`` says it in plain words, naming what to fix.
    """

    kind: NoticeKind
    account: str
    incident: int
    sequence: int
    topic: str
    subject: str
    title: str
    text: str
    at: datetime
    #: What an admin can do about it right there (a held close's Close/Keep), on the opening notice.
    actions: tuple[NoticeAction, ...] = ()

    def __post_init__(self) -> None:
        _one_of("Notice", "kind", self.kind, NOTICE_KINDS)
        _aware("Notice", "at", self.at)

    def as_json(self) -> dict[str, Any]:
        """The notice as JSON (what the generic webhook sink posts)."""
        return {
            "kind": self.kind, "account": self.account, "incident": self.incident,
            "sequence": self.sequence, "topic": self.topic, "subject": self.subject, "title": self.title,
            "text": self.text, "at": self.at.isoformat(),
            "actions": [
                {"label": a.label, "action_id": a.action_id, "value": a.value, "danger": a.danger,
                 "confirm": a.confirm}
                for a in self.actions
            ],
        }  # fmt: skip


def _amount(value: float) -> str:
    # Whole amounts print without decimals (90000, not 90000.0); others keep cents, never "1.2e+06".
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}"
    return str(int(value))


def format_salary(
    currency: str | None, minimum: float | None, maximum: float | None, interval: str | None
) -> str | None:
    """Render a salary range the way the feed's ``<salary>`` wants it: ``USD 90000-120000 per year``.

    Adapters with a structured range call this so every ATS's salaries read alike; None when there is
    no amount at all.
    """
    amounts = [_amount(value) for value in (minimum, maximum) if value is not None]
    if not amounts:
        return None
    if len(amounts) == 2 and amounts[0] == amounts[1]:
        amounts = amounts[:1]
    text = "-".join(amounts)
    if currency:
        text = f"{currency} {text}"
    if interval:
        text = f"{text} {interval.replace('-', ' ')}"
    return text


# Everything XML 1.0 allows; the rest (C0 controls but tab/CR/LF, lone surrogates, U+FFFE/FFFF) goes.
_XML_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids, so any input yields a well-formed feed."""
    return _XML_FORBIDDEN.sub("", text)


def is_xml_safe(text: str) -> bool:
    """Does ``text`` hold only characters XML 1.0 allows (so ``xml_safe(text) == text``)?"""
    return _XML_FORBIDDEN.search(text) is None


@dataclass(frozen=True, slots=True)
class Account:
    """One employer's connection as configured. Handed to every plugin hook as ``account``."""

    name: str
    adapter: str
    company: str
    company_url: str | None
    enabled: bool
    feed_policy: FeedPolicy
    feed_token: str | None
    sync_interval_minutes: float | None
    apply_key: str | None = None
    #: A full sync that would close more than this fraction of the open jobs is held (:mod:`hub.held`).
    mass_close_threshold: float = 0.5
    #: A job posted longer ago than this many days leaves the feed (until the ATS posts it again);
    #: None: never.
    max_age_days: int | None = None
    #: ``[accounts.NAME.stages]``: ``"stage-id"`` or ``"workflow:stage-id"`` → funnel event or None.
    stage_map: Mapping[str, str | None] = field(default_factory=dict)
    #: Each plugin's table for this account, by plugin name (the adapter's always present).
    plugin_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _one_of("Account", "feed_policy", self.feed_policy, FEED_POLICIES)
