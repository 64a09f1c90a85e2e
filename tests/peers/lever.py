"""A fake Lever: the public postings API (v0) with its apply endpoint, API v1 postings, application
forms and applies, opportunities, stages and archive reasons, and signed webhooks.

Postings (and their application forms) are generated deterministically from their index, only when a
request needs them, so a fake with 100,000 postings starts at once; changes made by tests are kept beside
the generated data. Applications create opportunities, which tests can hire or archive. Application POSTs
are limited like Lever's (2 in any second, 429 with ``Retry-After`` beyond). The shapes follow Lever's
documentation (see PROTOCOLS.md); :class:`~hub.testing.peers.Faults` adds failures.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import BasicAuth, web

from hub.normalised import WebhookRequest
from hub.testing.peers import FakePeer

SITE = "acme"
API_KEY = "lever-test-key-0123456789"
#: The postings API key that lets ``POST /v0/postings/{site}/{id}`` create applications.
APPLY_KEY = "lever-postings-apply-key-9876543210"
WEBHOOK_SECRET = "lever-webhook-signature-token"
#: Lever's limit on application POSTs (both APIs, per site): this many in any one second, 429 beyond.
APPLY_LIMIT_PER_SECOND = 2

#: Generated postings were created an hour apart going back from here (2025-01-01T00:00:00Z).
BASE_MS = 1_735_689_600_000
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS

#: The generated posting whose description holds "]]>", an emoji and a control character.
AWKWARD_INDEX = 5
AWKWARD_BODY = "<p>Our stack: a]]>b, shipped with care 🚀 and a vertical\x0btab.</p>"

HIRED_REASON_ID = "2b7b5b1e-7c59-4a43-9a0b-6f1d1f3c0001"
NON_HIRED_REASON_ID = "2b7b5b1e-7c59-4a43-9a0b-6f1d1f3c0002"
ARCHIVE_REASONS = (
    {"id": HIRED_REASON_ID, "text": "Hired", "status": "active", "type": "hired"},
    {"id": NON_HIRED_REASON_ID, "text": "Underqualified", "status": "active", "type": "non-hired"},
    {
        "id": "2b7b5b1e-7c59-4a43-9a0b-6f1d1f3c0003",
        "text": "Withdrew",
        "status": "active",
        "type": "non-hired",
    },
    {
        "id": "2b7b5b1e-7c59-4a43-9a0b-6f1d1f3c0004",
        "text": "Position filled",
        "status": "active",
        "type": "non-hired",
    },
)
STAGES = (
    {"id": "lead-new", "text": "New lead"},
    {"id": "lead-reached-out", "text": "Reached out"},
    {"id": "applicant-new", "text": "New applicant"},
    {"id": "f3b1a1f2-0001-4d6e-8c1a-000000000001", "text": "Recruiter screen"},
    {"id": "f3b1a1f2-0001-4d6e-8c1a-000000000002", "text": "Phone interview"},
    {"id": "f3b1a1f2-0001-4d6e-8c1a-000000000003", "text": "On-site interview"},
    {"id": "f3b1a1f2-0001-4d6e-8c1a-000000000004", "text": "Reference check"},
    {"id": "offer", "text": "Offer"},
)

_TITLES = (
    "Senior Software Engineer",
    "Registered Nurse, ICU",
    "Account Executive",
    "Warehouse Associate",
    "Product Designer",
    "Data Analyst",
    "Customer Support Specialist",
    "Site Reliability Engineer",
    "Marketing Manager",
    "Line Cook",
    "Financial Controller",
    "Recruiting Coordinator",
)
#: (location text as Lever shows it, ISO country or None).
_LOCATIONS = (
    ("Portland, OR", "US"),
    ("London", "GB"),
    ("Austin, TX, USA", "US"),
    ("Berlin", "DE"),
    ("Remote - US", "US"),
    ("Toronto, ON", "CA"),
    ("Dublin", "IE"),
    ("San Francisco, CA", "US"),
    ("Remote", None),
)
_COMMITMENTS = ("Full-time", "Part-time", "Contract", "Full Time", "Internship", "Temporary", "Contractor")
#: (department, team).
_TEAMS = (
    ("Engineering", "Platform"),
    ("Clinical", "Critical Care"),
    ("Sales", "Enterprise"),
    ("Operations", "Fulfilment"),
    ("Product", "Design"),
    ("Finance", "Analytics"),
    ("Customer Success", "Support"),
)
_WORKPLACES = ("on-site", "hybrid", "remote", "unspecified")
_SALARIES: tuple[dict[str, Any] | None, ...] = (
    {"currency": "USD", "interval": "per-year-salary", "min": 90000, "max": 120000},
    {"currency": "GBP", "interval": "per-year-salary", "min": 45000, "max": 60000},
    None,
    {"currency": "USD", "interval": "per-hour-wage", "min": 25, "max": 32.5},
    {"currency": "EUR", "interval": "per-month-salary", "min": 4000, "max": 5500},
    None,
    {"currency": "CAD", "interval": "one-time", "min": 5000, "max": 5000},
)
_LISTS = (
    ("What you will do", ("Own features end to end", "Work with a small, kind team", "Ship weekly")),
    ("Requirements", ("3+ years of relevant experience", "Clear written communication")),
    ("Benefits", ("Health, dental & vision", "25 days of holiday", "Learning budget")),
)

_TAG = re.compile(r"<[^>]*>")


def posting_id(index: int) -> str:
    """The id of the ``index``-th posting: UUID-shaped like Lever's, and the index is readable from it."""
    return f"{index:08x}-5a1e-4c0d-9e7a-0000000000a1"


def _index(ats_id: str) -> int:
    try:
        return int(ats_id.split("-", 1)[0], 16)
    except ValueError:
        raise KeyError(ats_id) from None


def _plain(text: str) -> str:
    return _TAG.sub("", text)


def _generated_state(index: int) -> str:
    # Roughly one posting in four is not published, so v0 and v1 differ and closing is exercised.
    if index % 10 == 7:
        return "closed"
    if index % 10 == 9:
        return "internal"
    if index % 13 == 11:
        return "draft"
    return "published"


def _generated_created(index: int) -> int:
    return BASE_MS - index * _HOUR_MS


def _generated_updated(index: int) -> int:
    return _generated_created(index) + (index % 5) * _DAY_MS


def _generated(index: int) -> dict[str, Any]:
    """The posting at ``index`` in a neutral form (rendered as v0 or v1 on the way out)."""
    location, country = _LOCATIONS[index % len(_LOCATIONS)]
    department, team = _TEAMS[index % len(_TEAMS)]
    title = _TITLES[index % len(_TITLES)]
    created = _generated_created(index)
    salary = _SALARIES[index % len(_SALARIES)]
    lists = [
        {"text": name, "content": "".join(f"<li>{item}</li>" for item in items)}
        for name, items in _LISTS[: 1 + index % len(_LISTS)]
    ]
    body = AWKWARD_BODY if index == AWKWARD_INDEX else f"<p>As our {title}, you will help {team} grow.</p>"
    return {
        "id": posting_id(index),
        "text": title,
        "state": _generated_state(index),
        "createdAt": created,
        "updatedAt": _generated_updated(index),
        "location": location,
        "country": country,
        "commitment": _COMMITMENTS[index % len(_COMMITMENTS)],
        "department": department,
        "team": team,
        "workplaceType": _WORKPLACES[index % len(_WORKPLACES)],
        "salaryRange": dict(salary) if salary else None,
        "salaryDescription": "Competitive, plus equity" if index % len(_SALARIES) == 5 else None,
        "opening": f"<p>Join the {department} department at Acme.</p>",
        "body": body,
        "lists": lists,
        "closing": "<p>Acme is an equal opportunity employer.</p>" if index % 2 == 0 else "",
        "reqCode": f"REQ-{1000 + index}" if index % 3 != 2 else None,
    }


#: What the generated posting's application form asks beyond name and e-mail, by ``index % 7``.
FORM_KINDS = (
    "plain",
    "university",  # an optional University Picker question: Appcast Apply must refuse the job
    "optional-choice",  # an optional multiple-choice question
    "score-system",  # a required Rating Scale question (Lever's type name): refused
    "phone-required",  # no questions, but the phone number is required
    "required-text",  # a required text question and an optional dropdown
    "rating-scale",  # an optional Rating Scale question (the other type name): refused
)
_QUESTIONS: dict[str, tuple[dict[str, Any], ...]] = {
    "plain": (),
    "university": (
        {"type": "text", "text": "Anything else we should know?", "required": False},
        {"type": "university", "text": "Where did you study?", "required": False},
    ),
    "optional-choice": (
        {
            "type": "multiple-choice",
            "text": "Preferred shift",
            "required": False,
            "options": [{"text": "Day"}, {"text": "Night"}],
        },
    ),
    "score-system": (
        {
            "type": "score-system",
            "text": "How strong is your SQL?",
            "required": True,
            "options": [{"text": str(n)} for n in range(1, 6)],
        },
    ),
    "phone-required": (),
    "required-text": (
        {"type": "text", "text": "Are you authorised to work in the UK?", "required": True},
        {
            "type": "dropdown",
            "text": "How did you hear about us?",
            "required": False,
            "options": [{"text": "Appcast"}, {"text": "A friend"}, {"text": "Other"}],
        },
    ),
    "rating-scale": ({"type": "rating-scale", "text": "Rate your customer service", "required": False},),
}


def form_kind(ats_id: str) -> str:
    """Which of :data:`FORM_KINDS` the posting's application form is."""
    return FORM_KINDS[_index(ats_id) % len(FORM_KINDS)]


def question_id(ats_id: str, position: int) -> str:
    """The id of the posting's ``position``-th custom question field (what answers are keyed by)."""
    return f"{_index(ats_id):08x}-9a00-4e00-8000-{position:012x}"


def _form(index: int) -> dict[str, Any]:
    """The posting's application form as ``GET /v1/postings/{id}/apply`` shows it."""
    kind = FORM_KINDS[index % len(FORM_KINDS)]
    ats_id = posting_id(index)
    fields = [{**field, "id": question_id(ats_id, n)} for n, field in enumerate(_QUESTIONS[kind])]
    return {
        "personalInformation": [
            {"name": "fullName", "text": "Full name", "type": "text", "required": True},
            {"name": "email", "text": "Email", "type": "email", "required": True},
            {"name": "phone", "text": "Phone", "type": "text", "required": kind == "phone-required"},
            {"name": "currentCompany", "text": "Current company", "type": "text", "required": False},
            {"name": "resume", "text": "Resume/CV", "type": "file-upload", "required": False},
            {
                "name": "additionalInformation",
                "text": "Additional information",
                "type": "textarea",
                "required": False,
            },
        ],
        "urls": [
            {"name": "LinkedIn", "text": "LinkedIn URL", "type": "text", "required": False},
            {"name": "Portfolio", "text": "Portfolio URL", "type": "text", "required": False},
        ],
        "customQuestions": (
            [{"id": f"{index:08x}-ca4d-4e00-8000-000000000000", "text": "A few questions", "fields": fields}]
            if fields
            else []
        ),
        "eeoQuestions": {},
    }


def _v0(p: dict[str, Any], site: str) -> dict[str, Any]:
    hosted = f"https://jobs.lever.co/{site}/{p['id']}"
    posting = {
        "id": p["id"],
        "text": p["text"],
        "categories": {
            "location": p["location"],
            "commitment": p["commitment"],
            "team": p["team"],
            "department": p["department"],
            "allLocations": [p["location"]],
        },
        "country": p["country"],
        "opening": p["opening"],
        "openingPlain": _plain(p["opening"]),
        "description": p["opening"] + p["body"],
        "descriptionPlain": _plain(p["opening"] + p["body"]),
        "descriptionBody": p["body"],
        "descriptionBodyPlain": _plain(p["body"]),
        "lists": p["lists"],
        "additional": p["closing"],
        "additionalPlain": _plain(p["closing"]),
        "hostedUrl": hosted,
        "applyUrl": f"{hosted}/apply",
        "workplaceType": p["workplaceType"],
        "createdAt": p["createdAt"],
    }
    if p["salaryRange"]:
        posting["salaryRange"] = p["salaryRange"]
    if p["salaryDescription"]:
        posting["salaryDescription"] = f"<div>{p['salaryDescription']}</div>"
        posting["salaryDescriptionPlain"] = p["salaryDescription"]
    return posting


def _v1(p: dict[str, Any], site: str) -> dict[str, Any]:
    hosted = f"https://jobs.lever.co/{site}/{p['id']}"
    description = p["opening"] + p["body"]
    return {
        "id": p["id"],
        "text": p["text"],
        "state": p["state"],
        "createdAt": p["createdAt"],
        "updatedAt": p["updatedAt"],
        "user": "a1b2c3d4-0000-4000-8000-000000000001",
        "owner": "a1b2c3d4-0000-4000-8000-000000000001",
        "hiringManager": "a1b2c3d4-0000-4000-8000-000000000002",
        "confidentiality": "non-confidential",
        "categories": {
            "team": p["team"],
            "department": p["department"],
            "location": p["location"],
            "allLocations": [p["location"]],
            "commitment": p["commitment"],
            "level": None,
        },
        "content": {
            "description": _plain(description),
            "descriptionHtml": description,
            "lists": p["lists"],
            "closing": _plain(p["closing"]),
            "closingHtml": p["closing"],
        },
        "country": p["country"],
        "followers": [],
        "tags": [p["department"]],
        "distributionChannels": ["public", "internal"] if p["state"] == "published" else ["internal"],
        "reqCode": p["reqCode"],
        "requisitionCodes": [p["reqCode"]] if p["reqCode"] else [],
        "salaryDescription": p["salaryDescription"],
        "salaryDescriptionHtml": f"<div>{p['salaryDescription']}</div>" if p["salaryDescription"] else None,
        "salaryRange": p["salaryRange"],
        "urls": {"list": f"https://jobs.lever.co/{site}", "show": hosted, "apply": f"{hosted}/apply"},
        "workplaceType": p["workplaceType"],
    }


def _now_ms() -> int:
    return int(time.time() * 1000)


def lever_signature(secret: str, token: str, triggered_at: int) -> str:
    """How Lever signs a webhook (written out here, independently of the adapter, to test it)."""
    return hmac.new(secret.encode(), f"{token}{triggered_at}".encode(), hashlib.sha256).hexdigest()


class FakeLever(FakePeer):
    """One Lever site with ``count`` generated postings, served by :attr:`app`."""

    def __init__(
        self,
        count: int = 30,
        *,
        site: str = SITE,
        api_key: str = API_KEY,
        postings_api_key: str = APPLY_KEY,
        hire_on_lookup: bool = False,
    ) -> None:
        super().__init__()
        self.site = site
        #: For load generators that cannot call :meth:`hire` in this process: an opportunity id of the form
        #: ``<anything>@<posting id>`` that nobody added is, when first looked up, a hire made just then.
        self.hire_on_lookup = hire_on_lookup
        self.api_key = api_key
        self.postings_api_key = postings_api_key
        self.count = count
        #: Answer the next N posting lists with the wrong JSON shape (v0 an object, v1 an array).
        self.wrong_shape = 0
        #: Answer the next N posting lists 200 with no postings at all (an ATS misbehaving).
        self.empty_listings = 0
        # Test changes by index: merged over the generated posting (added postings live here too).
        self._changes: dict[int, dict[str, Any]] = {}
        self._published: list[int] | None = None
        self.app.router.add_get("/v0/postings/{site}", self._v0_postings)
        self.app.router.add_get("/v1/postings", self._v1_postings)
        self.app.router.add_get("/v1/stages", self._v1_stages)
        self.app.router.add_get("/v1/archive_reasons", self._v1_archive_reasons)
        self.app.router.add_post("/v0/postings/{site}/{posting}", self._v0_apply)
        self.app.router.add_get("/v1/postings/{posting}/apply", self._v1_apply_form)
        self.app.router.add_post("/v1/postings/{posting}/apply", self._v1_apply)
        self.app.router.add_get("/v1/opportunities", self._v1_opportunities)
        self.app.router.add_get("/v1/opportunities/{opportunity}", self._v1_opportunity)
        #: Every application Lever accepted, in order: api, posting, name, email, source, answers…
        self.applications: list[dict[str, Any]] = []
        #: How many application POSTs the 2-per-second limit answered with 429.
        self.applies_rate_limited = 0
        #: Application POSTs allowed in any second: 0 when another client has used up the allowance.
        self.apply_limit_per_second = APPLY_LIMIT_PER_SECOND
        self._apply_times: deque[float] = deque()
        # Opportunities in creation order (cursor paging walks this order), applications, contacts.
        self._opportunities: dict[str, dict[str, Any]] = {}
        self._applications: dict[str, dict[str, Any]] = {}
        self._contacts: dict[str, str] = {}

    # --- the data -------------------------------------------------------------------------------

    def _posting(self, index: int) -> dict[str, Any]:
        change = self._changes.get(index)
        posting = _generated(index)
        return {**posting, **change} if change else posting

    def _state(self, index: int) -> str:
        change = self._changes.get(index)
        return change["state"] if change and "state" in change else _generated_state(index)

    def _updated_at(self, index: int) -> int:
        change = self._changes.get(index)
        if change and "updatedAt" in change:
            return change["updatedAt"]
        return _generated_updated(index)

    def _change(self, ats_id: str, **fields: Any) -> None:
        index = _index(ats_id)
        if not 0 <= index < self.count:
            raise KeyError(ats_id)
        self._changes.setdefault(index, {}).update(
            fields, updatedAt=max(_now_ms(), self._updated_at(index) + 1)
        )
        self._published = None

    def posting(self, ats_id: str, api: str = "v1") -> dict[str, Any]:
        """One posting as Lever's ``v0`` (public) or ``v1`` API renders it."""
        index = _index(ats_id)
        if not 0 <= index < self.count:
            raise KeyError(ats_id)
        render = _v0 if api == "v0" else _v1
        return render(self._posting(index), self.site)

    def job_ids(self, *, published_only: bool = False) -> set[str]:
        """Ids of every posting (or only the published ones, which is all the public API lists)."""
        if published_only:
            return {posting_id(i) for i in self._published_indexes()}
        return {posting_id(i) for i in range(self.count)}

    def add_posting(self, **fields: Any) -> str:
        """Add a published posting (generated, with ``fields`` overriding); returns its id."""
        index = self.count
        self.count += 1
        now = _now_ms()
        self._changes[index] = {"state": "published", "createdAt": now, "updatedAt": now, **fields}
        self._published = None
        return posting_id(index)

    def update_posting(self, ats_id: str, **fields: Any) -> None:
        """Change fields of a posting (neutral names: text, location, body, salaryRange…)."""
        self._change(ats_id, **fields)

    def close_posting(self, ats_id: str) -> None:
        """Close a posting: gone from the public API, ``state: closed`` in API v1."""
        self._change(ats_id, state="closed")

    def set_state(self, ats_id: str, state: str) -> None:
        """Move a posting to any Lever state (published, internal, closed, draft, pending, rejected)."""
        self._change(ats_id, state=state)

    def _published_indexes(self) -> list[int]:
        # Cached: the public API pages by skip over this list, once per request.
        if self._published is None:
            self._published = [i for i in range(self.count) if self._state(i) == "published"]
        return self._published

    def apply_form(self, ats_id: str) -> dict[str, Any]:
        """The posting's application form, as ``GET /v1/postings/{id}/apply`` answers it (its data)."""
        index = _index(ats_id)
        if not 0 <= index < self.count:
            raise KeyError(ats_id)
        return _form(index)

    def postings_asking(self, kind: str) -> list[str]:
        """Published postings whose form is ``kind`` (one of :data:`FORM_KINDS`), in index order."""
        if kind not in FORM_KINDS:
            raise ValueError(kind)
        return [posting_id(i) for i in self._published_indexes() if FORM_KINDS[i % len(FORM_KINDS)] == kind]

    # --- opportunities ----------------------------------------------------------------------------

    def add_opportunity(
        self,
        *,
        email: str = "ada.applicant@example.com",
        name: str = "Ada Applicant",
        posting: str | None = None,
        source: str | None = None,
        origin: str = "applied",
        opportunity_id: str | None = None,
    ) -> str:
        """A new opportunity (with one application to ``posting``); returns its id.

        The contact is found by e-mail, as Lever does: the same address is the same person.
        """
        now = _now_ms()
        opportunity = opportunity_id or str(uuid.uuid4())
        contact = self._contacts.setdefault(email.strip().lower(), str(uuid.uuid4()))
        application = str(uuid.uuid4())
        self._applications[application] = {
            "id": application,
            "opportunityId": opportunity,
            "candidateId": opportunity,
            "type": "posting",
            "posting": posting,
            "postingOwner": None,
            "postingHiringManager": None,
            "user": None,
            "name": name,
            "email": email,
            "createdAt": now,
        }
        self._opportunities[opportunity] = {
            "id": opportunity,
            "name": name,
            "headline": "",
            "contact": contact,
            "emails": [email],
            "phones": [],
            "confidentiality": "non-confidential",
            "location": "",
            "links": [],
            "createdAt": now,
            "updatedAt": now,
            "lastInteractionAt": now,
            "lastAdvancedAt": now,
            "archived": None,
            "stage": "applicant-new",
            "stageChanges": [{"toStageId": "applicant-new", "toStageIndex": 2, "updatedAt": now}],
            "owner": None,
            "tags": [],
            "sources": [source] if source else [],
            "origin": origin,
            "applications": [application],
            "followers": [],
            "isAnonymized": False,
        }
        return opportunity

    def _touch(self, opportunity: str) -> dict[str, Any]:
        record = self._opportunities[opportunity]
        record["updatedAt"] = max(_now_ms(), record["updatedAt"] + 1)
        return record

    def archive(self, opportunity: str, reason: str, *, archived_at: int | None = None) -> None:
        """Archive an opportunity with ``reason`` (an archive reason id), now unless told when."""
        record = self._touch(opportunity)
        record["archived"] = {"archivedAt": archived_at or record["updatedAt"], "reason": reason}

    def hire(self, opportunity: str | None = None, *, archived_at: int | None = None, **new: Any) -> str:
        """Hire a candidate: archive the opportunity (a new one from ``new`` if none is named) as Hired."""
        opportunity = opportunity or self.add_opportunity(**new)
        self.archive(opportunity, HIRED_REASON_ID, archived_at=archived_at)
        return opportunity

    def move(self, opportunity: str, stage: str, *, at: int | None = None) -> int:
        """Move an opportunity into ``stage`` (a stage id), now unless told when; returns the time (ms)."""
        record = self._touch(opportunity)
        moved_at = at or record["updatedAt"]
        index = next((n for n, s in enumerate(STAGES) if s["id"] == stage), len(STAGES))
        record["stage"] = stage
        record["lastAdvancedAt"] = moved_at
        record["stageChanges"] = [
            *record["stageChanges"],
            {"toStageId": stage, "toStageIndex": index, "updatedAt": moved_at},
        ]
        return moved_at

    def touch(self, opportunity: str) -> None:
        """Update an opportunity without changing anything that matters (a note added, say)."""
        self._touch(opportunity)

    def opportunity(self, opportunity: str, *, expand: bool = False) -> dict[str, Any]:
        """An opportunity as API v1 renders it, applications expanded or as ids."""
        record = dict(self._opportunities[opportunity])
        record["archived"] = dict(record["archived"]) if record["archived"] else None
        if expand:
            record["applications"] = [dict(self._applications[a]) for a in record["applications"]]
        else:
            record["applications"] = list(record["applications"])
        return record

    def opportunity_ids(self) -> list[str]:
        """Every opportunity, in creation order."""
        return list(self._opportunities)

    def signed_webhook(
        self,
        event: str = "candidateHired",
        data: dict[str, Any] | None = None,
        secret: str = WEBHOOK_SECRET,
        *,
        token: str | None = None,
        triggered_at: int | None = None,
        received_at: datetime | None = None,
    ) -> WebhookRequest:
        """A webhook as Lever would deliver it, signed with ``secret`` (a webhook's signature token)."""
        token = token or uuid.uuid4().hex
        triggered_at = _now_ms() if triggered_at is None else triggered_at
        if data is None:
            data = {
                "opportunityId": "0b5e1f1e-0000-4000-8000-00000000cafe",
                "candidateId": "0b5e1f1e-0000-4000-8000-00000000cafe",
                "contactId": "c0ffee00-0000-4000-8000-000000000001",
            }
        body = {
            "event": event,
            "triggeredAt": triggered_at,
            "token": token,
            "signature": lever_signature(secret, token, triggered_at),
            "data": data,
        }
        return WebhookRequest(
            headers={"Content-Type": "application/json", "User-Agent": "Lever-Webhooks"},
            body=json.dumps(body).encode(),
            query={},
            received_at=received_at or datetime.now(UTC),
        )

    # --- the API --------------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        try:
            auth = BasicAuth.decode(header)
        except ValueError:
            return False
        return hmac.compare_digest(auth.login, self.api_key) and auth.password == ""

    @staticmethod
    def _ints(request: web.Request, **defaults: int | None) -> dict[str, int | None]:
        values: dict[str, int | None] = {}
        for name, default in defaults.items():
            raw = request.query.get(name)
            try:
                values[name] = int(raw) if raw is not None else default
            except ValueError:
                raise web.HTTPBadRequest(text=f"{name} must be an integer") from None
        return values

    async def _v0_postings(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["site"] != self.site:
            return web.json_response({"ok": False, "error": "Document not found"}, status=404)
        if request.query.get("mode") != "json":
            return web.Response(text="<div class='lever'><ul></ul></div>", content_type="text/html")
        if self.wrong_shape:
            self.wrong_shape -= 1
            return web.json_response({"ok": True, "postings": []})
        if self.empty_listings:
            self.empty_listings -= 1
            return web.json_response([])
        query = self._ints(request, skip=0, limit=None)
        published = self._published_indexes()
        skip = max(0, query["skip"] or 0)
        end = len(published) if query["limit"] is None else skip + max(0, query["limit"])
        return web.json_response([_v0(self._posting(i), self.site) for i in published[skip:end]])

    def _page(
        self, request: web.Request, total: int, keep: Callable[[int], bool]
    ) -> tuple[list[int], str | None]:
        """Lever's cursor paging over positions ``0..total``: up to ``limit`` kept positions, and ``next``."""
        query = self._ints(request, limit=100)
        limit = query["limit"]
        if limit is None or not 1 <= limit <= 100:
            raise web.HTTPBadRequest(text="limit must be between 1 and 100")
        offset = request.query.get("offset")
        if offset is not None and not re.fullmatch(r"cursor-[0-9a-f]+", offset):
            raise web.HTTPBadRequest(text="invalid offset")
        position = int(offset.removeprefix("cursor-"), 16) if offset else 0
        found: list[int] = []
        while position < total and len(found) < limit:
            if keep(position):
                found.append(position)
            position += 1
        # hasNext only when something is left to list: look ahead to the next kept position.
        while position < total and not keep(position):
            position += 1
        return found, (f"cursor-{position:x}" if position < total else None)

    @staticmethod
    def _paged(data: list[Any], cursor: str | None) -> web.Response:
        body: dict[str, Any] = {"data": data, "hasNext": cursor is not None}
        if cursor is not None:
            body["next"] = cursor
        return web.json_response(body)

    def _refuse(self) -> web.Response:
        return web.json_response({"code": "UnauthorizedError", "message": "Invalid API key"}, status=401)

    async def _v1_postings(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return self._refuse()
        if self.wrong_shape:
            self.wrong_shape -= 1
            return web.json_response([])
        if self.empty_listings:
            self.empty_listings -= 1
            return self._paged([], None)
        since = self._ints(request, updated_at_start=None)["updated_at_start"]
        states = set(request.query.getall("state", []))

        def keep(index: int) -> bool:
            if since is not None and self._updated_at(index) < since:
                return False
            return not states or self._state(index) in states

        indexes, cursor = self._page(request, self.count, keep)
        return self._paged([_v1(self._posting(i), self.site) for i in indexes], cursor)

    async def _v1_stages(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return self._refuse()
        indexes, cursor = self._page(request, len(STAGES), lambda _: True)
        return self._paged([dict(STAGES[i]) for i in indexes], cursor)

    async def _v1_archive_reasons(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return self._refuse()
        indexes, cursor = self._page(request, len(ARCHIVE_REASONS), lambda _: True)
        return self._paged([dict(ARCHIVE_REASONS[i]) for i in indexes], cursor)

    async def _v1_opportunities(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return self._refuse()
        since = self._ints(request, updated_at_start=None)["updated_at_start"]
        ids = list(self._opportunities)

        def keep(position: int) -> bool:
            return since is None or self._opportunities[ids[position]]["updatedAt"] >= since

        positions, cursor = self._page(request, len(ids), keep)
        expand = "applications" in request.query.getall("expand", [])
        return self._paged([self.opportunity(ids[p], expand=expand) for p in positions], cursor)

    async def _v1_opportunity(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return self._refuse()
        opportunity = request.match_info["opportunity"]
        if opportunity not in self._opportunities and self.hire_on_lookup and "@" in opportunity:
            self.hire(opportunity_id=opportunity, posting=opportunity.rpartition("@")[2])
        if opportunity not in self._opportunities:
            return web.json_response(
                {"code": "ResourceNotFound", "message": "Opportunity not found"}, status=404
            )
        expand = "applications" in request.query.getall("expand", [])
        return web.json_response({"data": self.opportunity(opportunity, expand=expand)})

    # --- applications -----------------------------------------------------------------------------

    def _apply_limited(self) -> web.Response | None:
        """Lever's 2 application POSTs per second, as a sliding one-second window: 429 beyond."""
        now = time.monotonic()
        while self._apply_times and self._apply_times[0] <= now - 1.0:
            self._apply_times.popleft()
        if len(self._apply_times) >= self.apply_limit_per_second:
            self.applies_rate_limited += 1
            # Rounded up to the millisecond, so a client waiting exactly this long gets in.
            oldest = self._apply_times[0] if self._apply_times else now
            wait = math.ceil((oldest + 1.0 - now) * 1000) / 1000
            return web.json_response(
                {"ok": False, "error": "Too many requests"},
                status=429,
                headers={"Retry-After": f"{wait:.3f}"},
            )
        self._apply_times.append(now)
        return None

    def _apply_posting(self, request: web.Request) -> int | None:
        try:
            index = _index(request.match_info["posting"])
        except KeyError:
            return None
        return index if 0 <= index < self.count else None

    @staticmethod
    async def _json_object(request: web.Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _accept(self, index: int, api: str, fields: dict[str, Any]) -> str:
        """Record an accepted application and make its opportunity; returns the application id."""
        opportunity = self.add_opportunity(
            email=fields["email"],
            name=fields["name"],
            posting=posting_id(index),
            source=fields.get("source"),
            origin=fields.get("origin") or "applied",
        )
        application = self._opportunities[opportunity]["applications"][0]
        self.applications.append(
            {
                **fields,
                "api": api,
                "posting": posting_id(index),
                "application_id": application,
                "opportunity_id": opportunity,
                "received_at": time.monotonic(),
            }
        )
        return application

    async def _v0_apply(self, request: web.Request) -> web.StreamResponse:
        def refuse(status: int, error: str) -> web.Response:
            return web.json_response({"ok": False, "error": error}, status=status)

        if request.match_info["site"] != self.site:
            return refuse(404, "Document not found")
        if limited := self._apply_limited():
            return limited
        if not hmac.compare_digest(request.query.get("key", ""), self.postings_api_key):
            return refuse(401, "Invalid API key")
        body = await self._json_object(request)
        if body is None:
            return refuse(400, "Invalid JSON body")
        index = self._apply_posting(request)
        if index is None:
            return refuse(404, "Posting not found")
        if self._state(index) != "published":
            return refuse(400, "This posting is no longer accepting applications")
        name, email = body.get("name"), body.get("email")
        if not isinstance(name, str) or not name.strip():
            return refuse(400, "Missing required field: name")
        if not isinstance(email, str) or "@" not in email:
            return refuse(400, "Missing or invalid field: email")
        fields = {
            "name": name,
            "email": email,
            "phone": body.get("phone"),
            "urls": body.get("urls") or {},
            "comments": body.get("comments"),
            "source": body.get("source"),
            "answers": {},
        }
        return web.json_response({"ok": True, "applicationId": self._accept(index, "v0", fields)})

    async def _v1_apply_form(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return self._refuse()
        index = self._apply_posting(request)
        if index is None:
            return web.json_response({"code": "ResourceNotFound", "message": "Posting not found"}, status=404)
        return web.json_response({"data": _form(index)})

    async def _v1_apply(self, request: web.Request) -> web.StreamResponse:
        def refuse(status: int, message: str) -> web.Response:
            code = "ResourceNotFound" if status == 404 else "BadRequestError"
            return web.json_response({"code": code, "message": message}, status=status)

        if limited := self._apply_limited():
            return limited
        if not self._authorised(request):
            return self._refuse()
        body = await self._json_object(request)
        if body is None:
            return refuse(400, "Invalid JSON body")
        index = self._apply_posting(request)
        if index is None:
            return refuse(404, "Posting not found")
        if self._state(index) not in ("published", "internal"):
            return refuse(400, "This posting is not accepting applications")
        personal = {
            item.get("name"): item.get("value")
            for item in body.get("personalInformation") or ()
            if isinstance(item, dict)
        }
        form = _form(index)
        for item in form["personalInformation"]:
            if item["required"] and item["name"] != "resume" and not personal.get(item["name"]):
                return refuse(400, f"personalInformation.{item['name']} is required")
        if "@" not in str(personal.get("email") or ""):
            return refuse(400, "personalInformation.email is invalid")
        sent = {card.get("id"): card.get("fields") or [] for card in body.get("customQuestions") or ()}
        answers: dict[str, Any] = {}
        for card in form["customQuestions"]:
            values = sent.get(card["id"]) or []
            for position, field in enumerate(card["fields"]):
                value = values[position].get("value") if position < len(values) else None
                if value not in (None, "", []):
                    answers[field["id"]] = value
                elif field["required"]:
                    return refuse(400, f"Required question not answered: {field['text']}")
        fields = {
            "name": personal["fullName"],
            "email": personal["email"],
            "phone": personal.get("phone"),
            "urls": {item.get("name"): item.get("value") for item in body.get("urls") or ()},
            "comments": personal.get("additionalInformation"),
            "source": body.get("source"),
            "origin": body.get("origin"),
            "answers": answers,
        }
        return web.json_response({"data": {"applicationId": self._accept(index, "v1", fields)}})
