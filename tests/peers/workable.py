"""A fake Workable (SPI v3) on a real socket: the ``workable`` adapter's test peer.

Built from Workable's public documentation (https://workable.readme.io/reference): jobs paged by a full
``paging.next`` URL with ``updated_after``, the account's stages, candidates (created through the API,
moved, hired, listed by stage), each job's application form, the bearer token checked on every request,
and webhooks signed as Workable signs them: the HMAC-SHA256 of the raw body, keyed by the account token,
in ``X-Workable-Signature`` (:func:`signed`, written apart from the adapter's check). The JSON it answers
starts from the samples in ``tests/payloads/workable/``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from hub.sdk import FakePeer, WebhookRequest

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads" / "workable"
SUBDOMAIN = "acme"
API_KEY = "workable-account-token-for-tests"
EPOCH = datetime(2026, 1, 1, 9, tzinfo=UTC)
#: The job whose form asks a (mandatory) file question, which Appcast Apply cannot answer.
UPLOAD_JOB = "ACME003"
#: The job whose form is the documented sample: a yes/no, a multiple-choice and a free-text question.
QUESTION_JOB = "ACME004"
#: Jobs in each state Workable has; every other job is published.
STATES = {0: "archived", 1: "closed", 7: "draft"}


def sample(name: str) -> dict[str, Any]:
    """A JSON sample of ``tests/payloads/workable/``, shaped as Workable's documentation shows it."""
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _moment(value: str) -> datetime:
    # Workable takes Unix time or ISO 8601 (basic, ``20150708T115616Z``, or extended) for its filters.
    if value.isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def signed(body: dict[str, Any], secret: str = API_KEY, encoding: str = "hex") -> WebhookRequest:
    """A webhook as Workable sends it: the HMAC-SHA256 of the raw body under the token, in a header."""
    raw = json.dumps(body).encode()
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).digest()
    signature = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
    return WebhookRequest(
        headers={"Content-Type": "application/json", "X-Workable-Signature": signature},
        body=raw,
        query={},
        received_at=datetime.now(UTC),
    )


class FakeWorkable(FakePeer):
    """Workable with ``count`` jobs ``ACME000``… (states by :data:`STATES`), served by :attr:`app`."""

    def __init__(self, count: int = 8) -> None:
        super().__init__()
        self.jobs = [self._job(n) for n in range(count)]
        self.stages = sample("stages")["stages"]
        #: Candidates by id, in the order Workable inserted them.
        self.candidates: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(100)
        #: Answer ``paging.next`` on another host (a compromised or misconfigured answer).
        self.foreign_next = False
        #: Create the candidate, then answer 201 without naming it (a truncated or changed answer).
        self.nameless_answer = False
        root = "/spi/v3"
        self.app.router.add_get(f"{root}/jobs", self._list_jobs)
        self.app.router.add_get(f"{root}/stages", self._stages)
        self.app.router.add_get(f"{root}/candidates", self._list_candidates)
        self.app.router.add_get(f"{root}/jobs/{{shortcode}}/application_form", self._form)
        self.app.router.add_post(f"{root}/jobs/{{shortcode}}/candidates", self._apply)

    @staticmethod
    def _job(n: int) -> dict[str, Any]:
        job = sample("job")
        moment = _iso(EPOCH + timedelta(days=n))
        job.update(id=f"6188{n:03d}", shortcode=f"ACME{n:03d}", title=f"Engineer {n}", code=f"ENG/{n}",
                   state=STATES.get(n, "published"), created_at=moment, updated_at=moment,
                   full_description=f"<p>Job {n}</p>", url=f"https://acme.workable.com/j/ACME{n:03d}",
                   application_url=f"https://apply.workable.com/acme/j/ACME{n:03d}/apply")  # fmt: skip
        if n % 3 == 0:
            job["location"] = {**job["location"], "workplace_type": "remote", "telecommuting": True}
        return job

    # --- what tests change ------------------------------------------------------------------------

    def job_ids(self) -> set[str]:
        return {job["shortcode"] for job in self.jobs}

    def change_job(self, shortcode: str, **fields: Any) -> None:
        """Edit a job; its ``updated_at`` moves to now."""
        job = next(job for job in self.jobs if job["shortcode"] == shortcode)
        job.update(fields, updated_at=_iso(datetime.now(UTC)))

    def add_candidate(
        self, shortcode: str, email: str = "ada@example.com", domain: str = "Appcast", sourced: bool = False
    ) -> str:
        """A candidate who applied to ``shortcode`` (or a recruiter ``sourced``); returns its id."""
        candidate_id = f"c{next(self._ids)}"
        now = _iso(datetime.now(UTC))
        candidate = sample("candidate")
        job = next(job for job in self.jobs if job["shortcode"] == shortcode)
        candidate.update(id=candidate_id, email=email, domain=domain, created_at=now, updated_at=now,
                         sourced=sourced, job={"shortcode": shortcode, "title": job["title"]})  # fmt: skip
        self.candidates[candidate_id] = candidate
        return candidate_id

    def webhook(self, candidate_id: str, event_type: str) -> dict[str, Any]:
        """The body Workable posts for ``event_type`` about a candidate, in its state now."""
        data = copy.deepcopy(self.candidates[candidate_id])
        return {"id": candidate_id, "resource_type": "candidate", "event_type": event_type,
                "fired_at": data["updated_at"], "data": data}  # fmt: skip

    def as_sent(self, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` as Workable posts it: its ``fired_at``, but the candidate as at request time (now)."""
        return {**body, "data": copy.deepcopy(self.candidates[body["data"]["id"]])}

    def move(self, candidate_id: str, stage: str, at: datetime | None = None, **fields: Any) -> dict:
        """Move a candidate into ``stage`` (its name) now, or ``at``; returns the ``candidate_moved`` body."""
        now = _iso(at or datetime.now(UTC))
        self.candidates[candidate_id].update(fields, stage=stage, updated_at=now)
        if stage == "Hired":
            self.candidates[candidate_id]["hired_at"] = now
        return self.webhook(candidate_id, "candidate_moved")

    def hire(self, shortcode: str, email: str = "ada@example.com") -> dict[str, Any]:
        """A new candidate of ``shortcode`` moved into Hired; returns the ``candidate_moved`` body."""
        return self.move(self.add_candidate(shortcode, email), "Hired")

    def created_ids(self) -> list[str]:
        """Ids of the candidates created through the API (not by :meth:`add_candidate`)."""
        return [cid for cid, candidate in self.candidates.items() if candidate.get("created_by_api")]

    # --- the API ------------------------------------------------------------------------------------

    @staticmethod
    def _refused(request: web.Request) -> web.Response | None:
        if hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {API_KEY}"):
            return None
        return web.json_response({"error": "Not authorized"}, status=401)

    def _page(self, request: web.Request, items: list[dict[str, Any]], key: str) -> web.Response:
        # Workable's next URL scrolls by ``since_id``: the id of the first item of the next page.
        limit = int(request.query.get("limit", "50"))
        if "since_id" in request.query:
            ids = [item["id"] for item in items]
            items = items[ids.index(request.query["since_id"]) :] if request.query["since_id"] in ids else []
        body: dict[str, Any] = {key: items[:limit]}
        if len(items) > limit:
            origin = "https://elsewhere.example" if self.foreign_next else self.url
            query = urlencode({**request.query, "since_id": items[limit]["id"]})
            body["paging"] = {"next": f"{origin}{request.path}?{query}"}
        return web.json_response(body)

    async def _list_jobs(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        jobs = [job for job in self.jobs if request.query.get("state", job["state"]) == job["state"]]
        if "updated_after" in request.query:
            since = _moment(request.query["updated_after"])
            jobs = [job for job in jobs if _moment(job["updated_at"]) >= since]
        wanted = set(request.query.get("include_fields", "").split(","))
        text = {"description", "full_description", "requirements", "benefits"}
        listed = [{k: v for k, v in job.items() if k not in text - wanted} for job in jobs]
        return self._page(request, listed, "jobs")

    async def _stages(self, request: web.Request) -> web.Response:
        return self._refused(request) or web.json_response({"stages": self.stages})

    async def _list_candidates(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        names = {stage["slug"]: stage["name"] for stage in self.stages}
        candidates = list(self.candidates.values())
        if "stage" in request.query:
            candidates = [c for c in candidates if c["stage"] == names.get(request.query["stage"])]
        if "updated_after" in request.query:
            since = _moment(request.query["updated_after"])
            candidates = [c for c in candidates if _moment(c["updated_at"]) >= since]
        listed = [{k: v for k, v in c.items() if k != "created_by_api"} for c in candidates]
        return self._page(request, listed, "candidates")

    def _find(self, shortcode: str) -> dict[str, Any] | None:
        return next((job for job in self.jobs if job["shortcode"] == shortcode), None)

    async def _form(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        shortcode = request.match_info["shortcode"]
        if self._find(shortcode) is None:
            return web.json_response({"error": "Not found"}, status=404)
        form = sample("application_form")
        if shortcode == UPLOAD_JOB:
            form["questions"] = [{"id": "5f1a", "body": "Your portfolio", "type": "file", "required": True}]
        elif shortcode != QUESTION_JOB:
            form["questions"] = []
        return web.json_response(form)

    async def _apply(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        job = self._find(request.match_info["shortcode"])
        if job is None:
            return web.json_response({"error": "Not found"}, status=404)
        if job["state"] != "published":
            return web.json_response({"error": "The job is not accepting applications"}, status=422)
        body = await request.json()
        given = body.get("candidate") or {}
        if not given.get("name") or "@" not in str(given.get("email")):
            return web.json_response({"error": "Validation failed: name and email are required"}, status=422)
        candidate_id = self.add_candidate(job["shortcode"], given["email"], given.get("domain"))
        candidate = self.candidates[candidate_id]
        candidate.update(name=given["name"], sourced=body.get("sourced", True), created_by_api=True,
                         phone=given.get("phone"), answers=given.get("answers") or [])  # fmt: skip
        answer = sample("candidate_created_response")
        answer["candidate"] = {k: v for k, v in candidate.items() if k not in ("created_by_api", "answers")}
        if self.nameless_answer:
            del answer["candidate"]["id"]
        return web.json_response(answer, status=201)
