"""A fake Pinpoint: the JSON:API endpoints the ``pinpoint`` adapter uses, on a real socket.

Jobs are generated from their index, deterministically and only when asked for, so a fake with
100,000 jobs costs a list of ints plus the edits made to it; benchmarks and tests see the same data.
Applications live in one store that ``POST /api/v1/applications`` adds to and both the single and the
list endpoints read. The signature code here is written independently of the adapter's, so a bug there
cannot hide itself.

    fake = FakePinpoint(jobs=40)
    async with fake.serving() as url:
        options = {"subdomain": "acme", "api_key": fake.api_key, "base_url": url}
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aiohttp import web

from hub.normalised import WebhookRequest
from hub.testing.peers import FakePeer

JSONAPI = "application/vnd.api+json"
SIGNATURE_HEADER = "PINPOINT-HMAC-SHA256"
JOB_ID_BASE = 4000
#: Pinpoint-like servers cap page[size]; the adapter must cope with getting fewer than it asked for.
MAX_PAGE_SIZE = 100
#: Job 0 is created at this moment, job N at N minutes later.
EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

Paging = Literal["links", "meta", "none"]
#: How the applications list treats ``filter[...]``: applies them, answers 400, or silently ignores them.
FilterMode = Literal["supported", "rejected", "ignored"]
#: How the applications list treats ``sort=-updated_at``: applies it, ignores it (id order), or answers 400.
SortMode = Literal["supported", "ignored", "rejected"]
#: The filters the applications list knows in ``supported`` mode.
APPLICATION_FILTERS = ("status", "updated_at_after")
#: The attributes ``POST /api/v1/applications`` knows when it refuses unknown ones.
APPLICATION_ATTRIBUTES = ("first_name", "last_name", "email", "phone", "cover_letter", "resume_url")
#: Applications created through the API get ids from here on.
FIRST_CREATED_APPLICATION_ID = 20001

LOCATIONS: tuple[dict[str, Any], ...] = (
    {
        "id": "11",
        "name": "London HQ",
        "city": "London",
        "province": "Greater London",
        "postal_code": "EC2A 4NE",
        "country": "United Kingdom",
        "country_code": "GB",
    },
    {
        "id": "12",
        "name": "Manchester Office",
        "city": "Manchester",
        "province": "Greater Manchester",
        "postal_code": "M1 1AE",
        "country": "United Kingdom",
        "country_code": "GB",
    },
    {
        "id": "21",
        "name": "New York",
        "city": "New York",
        "province": "NY",
        "postal_code": "10001",
        "country": "United States",
        "country_code": "US",
    },
    {
        "id": "13",
        "name": "Edinburgh",
        "city": "Edinburgh",
        "province": "Scotland",
        "postal_code": "EH1 1YZ",
        "country": "United Kingdom",
        "country_code": "GB",
    },
    {
        "id": "22",
        "name": "Austin",
        "city": "Austin",
        "province": "TX",
        "postal_code": "78701",
        "country": "United States",
        "country_code": "US",
    },
    # Remote roles: a country by name only, no city.
    {
        "id": "23",
        "name": "Remote (US)",
        "city": None,
        "province": None,
        "postal_code": None,
        "country": "United States",
        "country_code": None,
    },
    {
        "id": "31",
        "name": "Dublin",
        "city": "Dublin",
        "province": "Leinster",
        "postal_code": "D02 X285",
        "country": "Ireland",
        "country_code": "IE",
    },
)
_CURRENCIES = {"GB": "GBP", "US": "USD", "IE": "EUR", None: "USD"}
TITLES = (
    "Senior Backend Engineer",
    "Registered Nurse",
    "Customer Success Manager",
    "Warehouse Operative",
    "Data Analyst",
    "Head of Finance",
    "Graduate Software Developer",
    "Sales Development Representative",
    "Product Designer",
    "Payroll Administrator",
    "Site Reliability Engineer",
    "Marketing Executive",
)
DEPARTMENTS = ("Engineering", "Clinical", "Customer Success", "Operations", "Finance", "Sales", "Design")
EMPLOYMENT = (
    ("full_time", "Full Time"),
    ("permanent_full_time", "Permanent Full-time"),
    ("part_time", "Part Time"),
    ("contract", "Contract"),
    ("fixed_term", "Fixed Term"),
    ("temporary", "Temporary"),
    ("internship", "Internship"),
)
WORKPLACE = (("onsite", "On-site"), ("remote", "Remote"), ("hybrid", "Hybrid"))

DEFAULT_STAGES: tuple[dict[str, str], ...] = (
    {"id": "101", "name": "Applied", "workflow": "Standard hiring"},
    {"id": "102", "name": "Phone screen", "workflow": "Standard hiring"},
    {"id": "103", "name": "Interview", "workflow": "Standard hiring"},
    {"id": "104", "name": "Offer", "workflow": "Standard hiring"},
    {"id": "105", "name": "Hired", "workflow": "Standard hiring"},
    {"id": "201", "name": "Applied", "workflow": "Graduate scheme"},
    {"id": "202", "name": "Assessment centre", "workflow": "Graduate scheme"},
    {"id": "205", "name": "Hired", "workflow": "Graduate scheme"},
)

#: The application every fake holds, so a default signed webhook can be completed from the API.
SAMPLE_APPLICATION_ID = "9001"


def job_id(index: int) -> str:
    """The Pinpoint id of the job generated from ``index``."""
    return str(JOB_ID_BASE + index)


def _iso(moment: datetime) -> str:
    # Rails' JSON rendering: milliseconds and a Z.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def status_of(index: int) -> str:
    """Mostly open; in every 20 jobs two closed, two drafts, one archived, one awaiting approval."""
    if index % 10 == 3:
        return "closed"
    if index % 10 == 6:
        return "draft"
    if index % 20 == 8:
        return "archived"
    if index % 20 == 18:
        return "pending_approval"
    return "open"


def generated_attributes(index: int, subdomain: str = "acme") -> dict[str, Any]:
    """The attributes of generated job ``index`` (before any edit), cheap and deterministic."""
    title = TITLES[index % len(TITLES)]
    if index >= len(TITLES):
        title = f"{title} ({index // len(TITLES) + 1})"
    location = LOCATIONS[index % len(LOCATIONS)]
    status = status_of(index)
    created = EPOCH + timedelta(minutes=index)
    employment_code, employment_text = EMPLOYMENT[index % len(EMPLOYMENT)]
    workplace_code, workplace_text = WORKPLACE[index % len(WORKPLACE)]
    url = f"https://{subdomain}.pinpointhq.com/en/postings/{job_id(index)}-{index:x}"
    description = f"<p>Join our {DEPARTMENTS[index % len(DEPARTMENTS)]} team as a {title}.</p>"
    if index == 2:
        # Characters that break naive XML writers: a CDATA terminator, astral emoji, a control char.
        description = "<p>Bring your <b>A-game</b> 🚀 — we ship ]]> daily\x0b and celebrate 🎉.</p>"
    attributes: dict[str, Any] = {
        "title": title,
        "status": status,
        "visibility": "external" if index % 9 else "internal",
        "description": description,
        "key_responsibilities": f"<ul><li>Own {title.lower()} work</li></ul>" if index % 3 != 1 else None,
        "skills_knowledge_expertise": "<ul><li>Curiosity</li><li>Care</li></ul>" if index % 2 == 0 else "",
        "benefits": "<p>25 days holiday, pension, private healthcare.</p>" if index % 4 != 3 else None,
        "employment_type": employment_code,
        "employment_type_text": employment_text,
        "workplace_type": workplace_code,
        "workplace_type_text": workplace_text,
        "department": DEPARTMENTS[index % len(DEPARTMENTS)],
        "requisition_id": f"REQ-{10000 + index}" if index % 5 != 4 else None,
        "url": url,
        "created_at": _iso(created),
        "published_at": None
        if status in ("draft", "pending_approval")
        else _iso(created + timedelta(hours=1)),
        "updated_at": _iso(created + timedelta(days=1)),
        "deadline_at": None,
        "compensation": None,
        "compensation_visible": index % 12 != 8,
    }
    currency = _CURRENCIES.get(location["country_code"], "USD")
    if index % 4 == 0:
        low = 30000 + (index % 17) * 2500
        attributes |= {
            "compensation_minimum": low,
            "compensation_maximum": low + 15000,
            "compensation_currency": currency,
            "compensation_frequency": "year",
        }
    elif index % 4 == 1:
        attributes |= {
            "compensation_minimum": "14.5",
            "compensation_maximum": "18.0",
            "compensation_currency": currency,
            "compensation_frequency": "hour",
        }
    elif index % 4 == 2:
        attributes["compensation"] = "Competitive salary + equity"
    return attributes


class FakePinpoint(FakePeer):
    """A fake Pinpoint account: ``jobs`` generated jobs, one sample application, the default stages."""

    def __init__(
        self,
        jobs: int = 30,
        *,
        api_key: str = "pp-test-key",
        webhook_secret: str = "pp-webhook-secret",  # noqa: S107 -- a fake's test secret
        subdomain: str = "acme",
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.subdomain = subdomain
        #: How the jobs list announces more pages: JSON:API links (with meta), meta only, or nothing.
        self.paging: Paging = "links"
        self.max_page_size = MAX_PAGE_SIZE
        #: Answer the jobs list with a JSON body that is not JSON:API.
        self.non_jsonapi = False
        #: Answer every page request with page 1 (a server that ignores page[number]).
        self.ignore_page_number = False
        self.stages_available = True
        self.stages: list[dict[str, str]] = [dict(stage) for stage in DEFAULT_STAGES]
        #: The application store, by id: what the API lists, answers for and creates.
        self.applications: dict[str, dict[str, Any]] = {}
        #: ``filter[...]`` on the applications list: applied, refused with 400, or silently ignored.
        self.application_filters: FilterMode = "supported"
        #: ``sort=-updated_at`` on the applications list: applied, ignored (id order), or refused with 400.
        self.application_sort: SortMode = "supported"
        #: Put ``status`` in application attributes (else only ``hired_at`` shows a hire).
        self.application_status_attribute = True
        #: Refuse, with 400 "Param not allowed", application attributes outside APPLICATION_ATTRIBUTES.
        self.reject_unknown_attributes = False
        self._next_application = FIRST_CREATED_APPLICATION_ID
        self._order: list[int] = list(range(jobs))
        self._next_index = jobs
        self._edits: dict[int, dict[str, Any]] = {}
        self._version = 0
        self._status_cache: tuple[int, str, list[int]] | None = None
        self.add_application(SAMPLE_APPLICATION_ID, job=job_id(0), email="Hired.Person@example.com")

        self.app.router.add_get("/api/v1/jobs", self._list_jobs)
        self.app.router.add_get("/api/v1/applications", self._list_applications)
        self.app.router.add_post("/api/v1/applications", self._create_application)
        self.app.router.add_get("/api/v1/applications/{id}", self._get_application)
        self.app.router.add_get("/api/v1/stages", self._list_stages)

    # --- the data -----------------------------------------------------------------------------------

    def attributes(self, ats_id: str) -> dict[str, Any]:
        """A job's current attributes (generated, then edited)."""
        index = self._index(ats_id)
        return generated_attributes(index, self.subdomain) | self._edits.get(index, {})

    def location(self, ats_id: str) -> dict[str, Any] | None:
        """The location a job's relationship points at, or None when it has none."""
        index = self._index(ats_id)
        edit = self._edits.get(index, {})
        if "location_id" in edit:
            return next((loc for loc in LOCATIONS if loc["id"] == edit["location_id"]), None)
        return LOCATIONS[index % len(LOCATIONS)]

    def job_ids(self, open_only: bool = False) -> list[str]:
        """Every job's id in list order; only those with status ``open`` when ``open_only``."""
        indexes = self._with_status("open") if open_only else self._order
        return [job_id(index) for index in indexes]

    def add_job(self, **attributes: Any) -> str:
        """Add a job (generated attributes overridden by ``attributes``); returns its id."""
        index = self._next_index
        self._next_index += 1
        self._order.append(index)
        self._edits[index] = attributes
        self._version += 1
        return job_id(index)

    def edit_job(self, ats_id: str, **attributes: Any) -> None:
        """Change a job's attributes (``location_id=None`` unlinks its location); bumps updated_at."""
        index = self._index(ats_id)
        self._edits[index] = self._edits.get(index, {}) | attributes | {"updated_at": _iso(datetime.now(UTC))}
        self._version += 1

    def close_job(self, ats_id: str) -> None:
        """Close a job, as a recruiter would."""
        self.edit_job(ats_id, status="closed")

    def remove_job(self, ats_id: str) -> None:
        """Delete a job outright (Pinpoint lets admins delete drafts)."""
        self._order.remove(self._index(ats_id))
        self._version += 1

    def add_application(
        self,
        application_id: str,
        *,
        job: str,
        email: str,
        source: str | None = "Appcast",
        stage_id: str = "105",
        stage_name: str = "Hired",
        candidate_id: str | None = None,
        status: str = "hired",
        hired_at: datetime | None = None,
        updated_at: datetime | None = None,
        first_name: str = "Hired",
        last_name: str = "Person",
    ) -> None:
        """Hold an application the API answers for and lists (by default hired, updated at EPOCH)."""
        updated = updated_at or EPOCH
        self.applications[application_id] = {
            "job": job,
            "email": email,
            "first_name": first_name,
            "last_name": last_name,
            "source": source,
            "stage_id": stage_id,
            "stage_name": stage_name,
            "candidate_id": candidate_id or f"c{application_id}",
            "status": status,
            "hired_at": hired_at or (updated if status == "hired" else None),
            "created_at": min(EPOCH, updated),
            "updated_at": updated,
            "attributes": {},
        }

    def mark_hired(self, application_id: str, at: datetime | None = None) -> None:
        """Hire an application, as a recruiter would: status, stage, hired_at and updated_at change."""
        moment = at or datetime.now(UTC)
        self.applications[application_id] |= {
            "status": "hired",
            "stage_id": "105",
            "stage_name": "Hired",
            "hired_at": moment,
            "updated_at": moment,
        }

    def edit_application(self, application_id: str, **fields: Any) -> None:
        """Change an application's stored fields; ``updated_at`` moves to now unless given."""
        self.applications[application_id] |= {"updated_at": datetime.now(UTC)} | fields

    def _index(self, ats_id: str) -> int:
        index = int(ats_id) - JOB_ID_BASE
        if not 0 <= index < self._next_index:
            raise KeyError(ats_id)
        return index

    def _with_status(self, status: str) -> list[int]:
        # Cached per version: an open-only listing of 100,000 jobs must not rescan them on every page.
        cached = self._status_cache
        if cached is None or cached[:2] != (self._version, status):
            matching = [
                i for i in self._order if (self._edits.get(i, {}).get("status") or status_of(i)) == status
            ]
            self._status_cache = cached = (self._version, status, matching)
        return cached[2]

    def _resource(self, index: int) -> dict[str, Any]:
        ats_id = job_id(index)
        location = self.location(ats_id)
        resource: dict[str, Any] = {
            "id": ats_id,
            "type": "jobs",
            "attributes": {k: v for k, v in self.attributes(ats_id).items() if k != "location_id"},
            "relationships": {
                "location": {"data": {"type": "locations", "id": location["id"]} if location else None},
            },
            "links": {"self": f"{self.url}/api/v1/jobs/{ats_id}"},
        }
        return resource

    # --- webhooks -----------------------------------------------------------------------------------

    @staticmethod
    def hired_body(
        application_id: str = SAMPLE_APPLICATION_ID,
        job: str | None = None,
        *,
        triggered_at: float | None = None,
    ) -> dict[str, Any]:
        """An ``application_hired`` body as Pinpoint sends it (ids as numbers, triggeredAt in seconds)."""
        return {
            "event": "application_hired",
            "triggeredAt": int(time.time()) if triggered_at is None else triggered_at,
            "data": {
                "application": {"id": int(application_id)},
                "job": {"id": int(job or job_id(0))},
            },
        }

    def signed_webhook(
        self,
        body: dict[str, Any] | bytes | None = None,
        secret: str | None = None,
        *,
        received_at: datetime | None = None,
    ) -> WebhookRequest:
        """A webhook signed the way Pinpoint signs it (default: a hire of the sample application)."""
        raw = (
            body
            if isinstance(body, bytes)
            else json.dumps(self.hired_body() if body is None else body, separators=(",", ":")).encode()
        )
        key = (self.webhook_secret if secret is None else secret).encode()
        signature = base64.b64encode(hmac.new(key, raw, hashlib.sha256).digest()).decode()
        return WebhookRequest(
            headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
            body=raw,
            query={},
            received_at=received_at or datetime.now(UTC),
        )

    # --- the API ------------------------------------------------------------------------------------

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("X-API-KEY") == self.api_key:
            return None
        return _error(401, "Unauthorized", "A valid X-API-KEY header is required")

    async def _list_jobs(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        try:
            number = int(request.query.get("page[number]", "1"))
            size = min(int(request.query.get("page[size]", "20")), self.max_page_size)
        except ValueError:
            return _error(400, "Bad Request", "page[number] and page[size] must be integers")
        if number < 1 or size < 1:
            return _error(400, "Bad Request", "page[number] and page[size] must be positive")
        if self.ignore_page_number:
            number = 1
        status = request.query.get("filter[status]")
        indexes = self._with_status(status) if status else self._order
        chunk = indexes[(number - 1) * size : number * size]
        data = [self._resource(index) for index in chunk]
        if self.non_jsonapi:
            return web.json_response({"jobs": [r["attributes"] for r in data]})
        document: dict[str, Any] = {"data": data, "jsonapi": {"version": "1.0"}}
        if "location" in request.query.get("include", "").split(","):
            seen: dict[str, dict[str, Any]] = {}
            for resource in data:
                location = self.location(resource["id"])
                if location and location["id"] not in seen:
                    seen[location["id"]] = {
                        "id": location["id"],
                        "type": "locations",
                        "attributes": {k: v for k, v in location.items() if k != "id"},
                    }
            document["included"] = list(seen.values())
        pages = max(1, math.ceil(len(indexes) / size))
        if self.paging in ("links", "meta"):
            document["meta"] = {"total_pages": pages, "total_count": len(indexes), "current_page": number}
        if self.paging == "links":

            def page_url(n: int) -> str:
                return str(request.url.update_query({"page[number]": str(n)}))

            document["links"] = {
                "self": page_url(number),
                "first": page_url(1),
                "last": page_url(pages),
                "prev": page_url(number - 1) if number > 1 else None,
                "next": page_url(number + 1) if number < pages else None,
            }
        return _jsonapi(document)

    def _application_resource(self, application_id: str) -> dict[str, Any]:
        application = self.applications[application_id]
        attributes: dict[str, Any] = {
            "source": application["source"],
            "stage_name": application["stage_name"],
            "hired_at": _iso(application["hired_at"]) if application["hired_at"] else None,
            "created_at": _iso(application["created_at"]),
            "updated_at": _iso(application["updated_at"]),
        }
        if self.application_status_attribute:
            attributes["status"] = application["status"]
        return {
            "id": application_id,
            "type": "applications",
            "attributes": attributes,
            "relationships": {
                "job": {"data": {"type": "jobs", "id": application["job"]}},
                "candidate": {"data": {"type": "candidates", "id": application["candidate_id"]}},
                "stage": {"data": {"type": "stages", "id": application["stage_id"]}},
            },
        }

    def _application_included(self, application_ids: list[str], include: str) -> list[dict[str, Any]]:
        wanted = include.split(",")
        included: dict[tuple[str, str], dict[str, Any]] = {}
        for application_id in application_ids:
            application = self.applications[application_id]
            if "candidate" in wanted:
                included[("candidates", application["candidate_id"])] = {
                    "id": application["candidate_id"],
                    "type": "candidates",
                    "attributes": {
                        "first_name": application["first_name"],
                        "last_name": application["last_name"],
                        "email": application["email"],
                    },
                }
            if "job" in wanted:
                job = application["job"]
                try:
                    title = self.attributes(job)["title"]
                except (KeyError, ValueError):
                    continue
                included[("jobs", job)] = {"id": job, "type": "jobs", "attributes": {"title": title}}
        return list(included.values())

    async def _get_application(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        application_id = request.match_info["id"]
        if application_id not in self.applications:
            return _error(404, "Not Found", f"no application {application_id}")
        document: dict[str, Any] = {"data": self._application_resource(application_id)}
        if include := request.query.get("include"):
            document["included"] = self._application_included([application_id], include)
        return _jsonapi(document)

    async def _list_applications(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        try:
            number = int(request.query.get("page[number]", "1"))
            size = min(int(request.query.get("page[size]", "20")), self.max_page_size)
        except ValueError:
            return _error(400, "Bad Request", "page[number] and page[size] must be integers")
        if number < 1 or size < 1:
            return _error(400, "Bad Request", "page[number] and page[size] must be positive")
        filters = {
            key[len("filter[") : -1]: value
            for key, value in request.query.items()
            if key.startswith("filter[") and key.endswith("]")
        }
        ids = sorted(self.applications, key=int)
        if filters and self.application_filters == "rejected":
            return _error(400, "Bad Request", f"Filter not allowed: {next(iter(filters))}")
        if filters and self.application_filters == "supported":
            unknown = sorted(set(filters) - set(APPLICATION_FILTERS))
            if unknown:
                return _error(400, "Bad Request", f"Filter not allowed: {unknown[0]}")
            if "status" in filters:
                ids = [i for i in ids if self.applications[i]["status"] == filters["status"]]
            if "updated_at_after" in filters:
                try:
                    after = datetime.fromisoformat(filters["updated_at_after"])
                except ValueError:
                    return _error(400, "Bad Request", "filter[updated_at_after] is not an ISO 8601 time")
                if after.tzinfo is None:
                    return _error(400, "Bad Request", "filter[updated_at_after] has no time zone")
                ids = [i for i in ids if self.applications[i]["updated_at"] > after]
        sort = request.query.get("sort")
        if sort and self.application_sort == "rejected":
            return _error(400, "Bad Request", f"{sort} is not a valid sort criteria for applications")
        if sort and self.application_sort == "supported":
            if sort != "-updated_at":
                return _error(400, "Bad Request", f"{sort} is not a valid sort criteria for applications")
            ids.sort(key=lambda i: (self.applications[i]["updated_at"], int(i)), reverse=True)
        chunk = ids[(number - 1) * size : number * size]
        document: dict[str, Any] = {
            "data": [self._application_resource(i) for i in chunk],
            "jsonapi": {"version": "1.0"},
        }
        if include := request.query.get("include"):
            document["included"] = self._application_included(chunk, include)
        pages = max(1, math.ceil(len(ids) / size))

        def page_url(n: int) -> str:
            return str(request.url.update_query({"page[number]": str(n)}))

        document["meta"] = {"total_pages": pages, "total_count": len(ids), "current_page": number}
        document["links"] = {
            "self": page_url(number),
            "next": page_url(number + 1) if number < pages else None,
        }
        return _jsonapi(document)

    async def _create_application(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        if request.content_type != JSONAPI:
            return _error(415, "Unsupported Media Type", f"Content-Type must be {JSONAPI}")
        try:
            document = await request.json()
        except ValueError:
            return _error(400, "Bad Request", "the body is not JSON")
        data = document.get("data") if isinstance(document, dict) else None
        if not isinstance(data, dict) or data.get("type") != "applications":
            return _error(400, "Bad Request", 'the body needs "data" of type "applications"')
        attributes = data.get("attributes") if isinstance(data.get("attributes"), dict) else {}
        if self.reject_unknown_attributes:
            unknown = [name for name in attributes if name not in APPLICATION_ATTRIBUTES]
            if unknown:
                errors = [
                    {
                        "status": "400",
                        "title": "Param not allowed",
                        "detail": f"{name} is not allowed.",
                        "source": {"pointer": f"/data/attributes/{name}"},
                    }
                    for name in unknown
                ]
                return _jsonapi({"errors": errors}, 400)
        relationships = data.get("relationships") if isinstance(data.get("relationships"), dict) else {}
        linkage = (relationships.get("job") or {}).get("data") or {}
        job = str(linkage.get("id") or "")
        errors = []

        def invalid(pointer: str, detail: str) -> None:
            errors.append(
                {"status": "422", "title": "Invalid", "detail": detail, "source": {"pointer": pointer}}
            )

        if not str(attributes.get("first_name") or "").strip():
            invalid("/data/attributes/first_name", "First name can't be blank")
        email = str(attributes.get("email") or "").strip()
        if not email:
            invalid("/data/attributes/email", "Email can't be blank")
        elif "@" not in email:
            invalid("/data/attributes/email", "Email is invalid")
        if not job or not self._job_exists(job):
            invalid("/data/relationships/job", "Job must exist")
        elif self.attributes(job)["status"] != "open":
            invalid("/data/relationships/job", "Job is not accepting applications")
        if errors:
            return _jsonapi({"errors": errors}, 422)
        application_id = str(self._next_application)
        self._next_application += 1
        now = datetime.now(UTC)
        self.applications[application_id] = {
            "job": job,
            "email": email,
            "first_name": attributes["first_name"],
            "last_name": attributes.get("last_name"),
            "source": attributes.get("source_name") or attributes.get("source"),
            "stage_id": "101",
            "stage_name": "Applied",
            "candidate_id": f"c{application_id}",
            "status": "new",
            "hired_at": None,
            "created_at": now,
            "updated_at": now,
            "attributes": dict(attributes),
        }
        return _jsonapi({"data": self._application_resource(application_id)}, 201)

    def _job_exists(self, ats_id: str) -> bool:
        try:
            return self._index(ats_id) in self._order
        except (KeyError, ValueError):
            return False

    async def _list_stages(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        if not self.stages_available:
            return _error(404, "Not Found", "no route")
        data = [
            {"id": s["id"], "type": "stages", "attributes": {"name": s["name"], "workflow": s["workflow"]}}
            for s in self.stages
        ]
        return _jsonapi({"data": data, "links": {"self": str(request.url), "next": None}})


def _jsonapi(document: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(document, status=status, content_type=JSONAPI)


def _error(status: int, title: str, detail: str) -> web.Response:
    return _jsonapi({"errors": [{"status": str(status), "title": title, "detail": detail}]}, status)
