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
from datetime import date, datetime, time
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
DigestSchedule = Literal["off", "daily", "weekly"]
DIGEST_SCHEDULES: tuple[DigestSchedule, ...] = ("off", "daily", "weekly")
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
#: In :meth:`datetime.date.weekday` order (Monday is 0).
WEEKDAYS: tuple[Weekday, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


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


NoticeKind = Literal["incident.opened", "incident.updated", "incident.resolved", "digest"]
NOTICE_KINDS: tuple[NoticeKind, ...] = ("incident.opened", "incident.updated", "incident.resolved", "digest")
DigestEvery = Literal["daily", "weekly"]
DigestFigureName = Literal["feed_jobs", "views", "applies", "hires", "conversion"]
#: Each figure of a digest, in the order a digest shows them, with what it is called there.
DIGEST_FIGURES: dict[DigestFigureName, str] = {
    "feed_jobs": "Jobs in the feed",
    "views": "Views",
    "applies": "Applies",
    "hires": "Hires",
    "conversion": "Conversion",
}
#: What a figure shows when there is nothing to show (a conversion before any view): an en dash.
NOTHING = "\N{EN DASH}"


def _percent(conversion: float | None) -> str:
    return NOTHING if conversion is None else f"{conversion:.1%}".replace("%", " %")


def _counted(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


@dataclass(slots=True, frozen=True)
class DigestFigure:
    """One figure of a digest: its value, the value it changed from, and its last days as a sparkline.

    ``conversion`` is applies per view (0.032 for 3.2 %), None before any view; the others are counts.
    :meth:`shown` and :meth:`change_shown` write them as every sink should, so sinks agree.
    """

    name: DigestFigureName
    #: Over the digest's period; for ``feed_jobs``, the jobs in the feed when the digest was made.
    value: float | None
    #: The period just before (for ``feed_jobs``: the previous digest's count); None: nothing to compare.
    previous: float | None
    #: One value per day of the 14 UTC days ending on the period's last day; None: no value that day
    #: (no view yet for a conversion; no count recorded for the jobs in the feed).
    series: tuple[float | None, ...]
    #: ``series`` as bars (:func:`hub.stats.sparkline`), a blank for each day without a value.
    sparkline: str

    def __post_init__(self) -> None:
        _one_of("DigestFigure", "name", self.name, tuple(DIGEST_FIGURES))

    @property
    def label(self) -> str:
        """What the figure is called ("Jobs in the feed")."""
        return DIGEST_FIGURES[self.name]

    @property
    def change(self) -> float | None:
        """``value`` less ``previous``; None when either is missing."""
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    def shown(self) -> str:
        """The value as text: ``1,204``, ``3.2 %``, or a dash for none."""
        if self.name == "conversion" or self.value is None:
            return _percent(self.value)
        return f"{self.value:,.0f}"

    def change_shown(self) -> str:
        """The change as text: ``+104``, ``-4``, ``±0``, ``+0.6 pt`` (percentage points), a dash for none."""
        change = self.change
        if change is None:
            return NOTHING
        if self.name == "conversion":
            points = round(change * 100, 1)
            return f"{points:+.1f} pt" if points else "±0.0 pt"
        return f"{change:+,.0f}" if change else "±0"

    def as_json(self) -> dict[str, Any]:
        """The figure as JSON (in :meth:`Digest.as_json`)."""
        return {"name": self.name, "label": self.label, "value": self.value, "previous": self.previous,
                "series": list(self.series), "sparkline": self.sparkline}  # fmt: skip


@dataclass(slots=True, frozen=True)
class DigestJob:
    """One of a digest's top jobs by views over its period."""

    #: The job's ATS id.
    job: str
    #: Its title, when the hub has the job (pixels can count views of a job the ATS since deleted).
    title: str | None
    views: int
    applies: int
    #: Applies per view, None before the first view.
    conversion: float | None
    hires: int

    def summary(self) -> str:
        """Its numbers as text: ``120 views, 6 applies (5.0 %), 1 hire``."""
        views, applies = _counted(self.views, "view", "views"), _counted(self.applies, "apply", "applies")
        return f"{views}, {applies} ({_percent(self.conversion)}), {_counted(self.hires, 'hire', 'hires')}"

    def as_json(self) -> dict[str, Any]:
        """The job as JSON, with the fields of the stats API's ``top_jobs`` and its title."""
        return {"job": self.job, "title": self.title, "views": self.views, "applies": self.applies,
                "conversion": self.conversion, "hires": self.hires}  # fmt: skip


@dataclass(slots=True, frozen=True)
class Digest:
    """A summary of an account over a period of whole UTC days (:mod:`hub.digests`).

    The figures are the stats API's for the same days (``GET /api/accounts/{account}/stats?since=first&
    until=last``), each compared with the period of the same length just before; the jobs in the feed
    are counted when the digest is made and compared with the previous digest's count.
    """

    every: DigestEvery
    #: The period's first and last UTC day, both included (one day for a daily digest, seven for weekly).
    first: date
    last: date
    #: One of each of :data:`DIGEST_FIGURES`, in that order.
    figures: tuple[DigestFigure, ...]
    #: The jobs with the most views over the period, most first.
    top_jobs: tuple[DigestJob, ...] = ()
    #: The titles of the account's incidents open when the digest was made.
    incidents: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _one_of("Digest", "every", self.every, ("daily", "weekly"))
        if [figure.name for figure in self.figures] != list(DIGEST_FIGURES):
            raise ShapeError(f"Digest.figures must be one of each of {', '.join(DIGEST_FIGURES)}, in order")

    def figure(self, name: DigestFigureName) -> DigestFigure:
        """The figure called ``name``."""
        return next(figure for figure in self.figures if figure.name == name)

    def basis(self) -> str:
        """What the numbers are over and compared with, in a sentence or three, for every sink to say."""
        before = "the day before" if self.every == "daily" else "the 7 days before"
        return (
            f"UTC days {self.first} to {self.last}. Changes are against {before}; the jobs in the feed "
            f"against the last digest. The lines show the {len(self.figures[0].series)} days to {self.last}."
        )

    def as_json(self) -> dict[str, Any]:
        """The digest as JSON (in :meth:`Notice.as_json`)."""
        return {
            "every": self.every, "first": self.first.isoformat(), "last": self.last.isoformat(),
            "figures": [figure.as_json() for figure in self.figures],
            "top_jobs": [job.as_json() for job in self.top_jobs], "incidents": list(self.incidents),
        }  # fmt: skip


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
    """Something the hub tells admins without being asked: an incident opened, updated or resolved, or a
    digest.

    Handed to notice sinks (:func:`~hub.hookspecs.appcast_hub_notice_payload`). ``incident`` is the same in
    every notice of one incident, and ``sequence`` counts them from 0 (the opening): a sink that threads
    (a chat's thread, a ticket's comments) threads on the first and orders by the second. ``topic`` says
    what is wrong (:data:`hub.incidents.TOPICS`), ``subject`` what within it (a destination's name), and
    ``text`` says it in plain words, naming what to fix.

    A digest (``kind`` ``digest``) belongs to no incident: ``incident`` and ``sequence`` are 0, ``topic``
    is ``digest``, ``subject`` its schedule (``daily`` or ``weekly``), ``digest`` holds its figures, and
    ``text`` is the whole summary in plain text, for a sink that shows only text.
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
    #: The figures of a digest notice; None for every other kind.
    digest: Digest | None = None

    def __post_init__(self) -> None:
        _one_of("Notice", "kind", self.kind, NOTICE_KINDS)
        _aware("Notice", "at", self.at)
        if (self.kind == "digest") != (self.digest is not None):
            raise ShapeError("Notice.digest must be set for a notice of kind 'digest', and only for one")

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
            "digest": self.digest.as_json() if self.digest is not None else None,
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
    #: The account's digest (:mod:`hub.digests`): ``off``, ``daily``, or ``weekly`` on ``digest_weekday``,
    #: at ``digest_at`` wall-clock time in ``digest_timezone`` (an IANA name).
    digest: DigestSchedule = "off"
    digest_at: time = time(9, 0)
    digest_timezone: str = "UTC"
    digest_weekday: Weekday = "monday"
    #: ``[accounts.NAME.stages]``: ``"stage-id"`` or ``"workflow:stage-id"`` → funnel event or None.
    stage_map: Mapping[str, str | None] = field(default_factory=dict)
    #: Each plugin's table for this account, by plugin name (the adapter's always present).
    plugin_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _one_of("Account", "feed_policy", self.feed_policy, FEED_POLICIES)
        _one_of("Account", "digest", self.digest, DIGEST_SCHEDULES)
        _one_of("Account", "digest_weekday", self.digest_weekday, WEEKDAYS)
