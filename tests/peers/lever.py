"""A fake Lever: the public postings API (v0), API v1 postings, stages and archive reasons, signed webhooks.

Postings are generated deterministically from their index, only when a request needs them, so a fake
with 100,000 postings starts at once; changes made by tests are kept beside the generated data. The
shapes follow Lever's documentation (see PROTOCOLS.md); :class:`~tests.peers.Faults` adds failures.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from aiohttp import BasicAuth, web

from hub.normalised import WebhookRequest
from tests.peers import FAULTS, Faults, peer_app, running

SITE = "acme"
API_KEY = "lever-test-key-0123456789"
WEBHOOK_SECRET = "lever-webhook-signature-token"

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


class FakeLever:
    """One Lever site with ``count`` generated postings, served by :attr:`app`."""

    def __init__(self, count: int = 30, *, site: str = SITE, api_key: str = API_KEY) -> None:
        self.site = site
        self.api_key = api_key
        self.count = count
        #: Base URL while served by :meth:`serve`.
        self.url = ""
        #: Answer the next N posting lists with the wrong JSON shape (v0 an object, v1 an array).
        self.wrong_shape = 0
        # Test changes by index: merged over the generated posting (added postings live here too).
        self._changes: dict[int, dict[str, Any]] = {}
        self._published: list[int] | None = None
        self.app = peer_app()
        self.app.router.add_get("/v0/postings/{site}", self._v0_postings)
        self.app.router.add_get("/v1/postings", self._v1_postings)
        self.app.router.add_get("/v1/stages", self._v1_stages)
        self.app.router.add_get("/v1/archive_reasons", self._v1_archive_reasons)

    @property
    def faults(self) -> Faults:
        """The failures to inject next, and every request seen."""
        return self.app[FAULTS]

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        """Serve the fake on loopback for the life of the block; yields (and sets) :attr:`url`."""
        async with running(self.app) as url:
            self.url = url
            yield url

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
