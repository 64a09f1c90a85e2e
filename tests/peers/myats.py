"""A fake MyATS, an imaginary but typical REST ATS, on a real socket: the ``myats`` adapter's test peer.

Everything a typical ATS offers an integration: paged jobs (with an ``updated_since`` filter), pipeline
stages with their kinds, signed webhooks, hired applications to poll, and applications in, with questions
the form asks. It signs webhooks with its own code (:func:`signed`), so a bug in an adapter's signature
check cannot hide itself. (The hub's own tests break the adapter against it, to check the contract kit.)
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from hub.sdk import WebhookRequest
from hub.testing import FakePeer

API_KEY = "myats-api-key-for-tests"
WEBHOOK_SECRET = "myats-webhook-secret-for-tests"
EPOCH = datetime(2026, 1, 1, 9, tzinfo=UTC)
STAGES = [
    {"id": "st-new", "name": "New", "kind": "applied"},
    {"id": "st-phone", "name": "Phone screen", "kind": "screen"},
    {"id": "st-onsite", "name": "On-site", "kind": "interview"},
    {"id": "st-offer", "name": "Offer", "kind": "offer"},
    {"id": "st-hired", "name": "Hired", "kind": "hired"},
    {"id": "st-hold", "name": "On hold", "kind": "other"},
]
#: The job whose form asks a question Appcast Apply cannot answer (a file upload).
UPLOAD_JOB = "J-3"
#: The job whose form asks a required text question.
QUESTION_JOB = "J-4"
#: The job whose applications MyATS creates but answers without naming them.
NAMELESS_JOB = "J-6"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def signed(body: dict[str, Any], secret: str = WEBHOOK_SECRET) -> WebhookRequest:
    """A webhook as MyATS sends it: ``sha256=`` and the hex HMAC-SHA256 of the raw body, in a header."""
    raw = json.dumps(body).encode()
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    # The header in lower case, as some senders write it: the adapter must match names case-insensitively.
    return WebhookRequest(
        headers={"x-myats-signature": f"sha256={digest}"}, body=raw, query={}, received_at=datetime.now(UTC)
    )


class FakeMyATS(FakePeer):
    """MyATS with ``count`` jobs (``J-0`` closed, the rest open), served by :attr:`app`."""

    def __init__(self, count: int = 8) -> None:
        super().__init__()
        self.jobs: list[dict[str, Any]] = [
            {
                "id": f"J-{n}",
                "title": f"Engineer {n}",
                "status": "closed" if n == 0 else "open",
                "created_at": _iso(EPOCH + timedelta(days=n)),
                "updated_at": _iso(EPOCH + timedelta(days=n)),
                "description_html": f"<p>Job {n}</p>",
                "location": {"city": "Portland", "region": "OR", "country": "us"},
                "remote": n % 3 == 0,
                "department": "Engineering",
                "url": f"https://jobs.myats.example/J-{n}",
            }
            for n in range(count)
        ]
        #: Applications by id: ``job_id``, ``status`` (``active``/``hired``), ``updated_at``, ``email``…
        self.applications: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(100)
        #: Answer every page with ``next_page`` pointing back at itself (a server-side paging bug).
        self.stuck = False
        self.app.router.add_get("/v1/jobs", self._jobs)
        self.app.router.add_get("/v1/stages", self._stages)
        self.app.router.add_get("/v1/applications", self._hires)
        self.app.router.add_get("/v1/jobs/{job}/questions", self._questions)
        self.app.router.add_post("/v1/jobs/{job}/applications", self._apply)

    # --- what tests change ------------------------------------------------------------------------

    def job_ids(self) -> set[str]:
        return {job["id"] for job in self.jobs}

    def change_job(self, ats_id: str, **fields: Any) -> None:
        """Edit a job; its ``updated_at`` moves to now."""
        job = next(job for job in self.jobs if job["id"] == ats_id)
        job.update(fields, updated_at=_iso(datetime.now(UTC)))

    def hire(self, job_id: str, email: str = "ada@example.com", source: str = "Appcast") -> dict[str, Any]:
        """A hired application for ``job_id``; returns the ``candidate.hired`` webhook body for it."""
        application_id = f"A-{next(self._ids)}"
        now = _iso(datetime.now(UTC))
        self.applications[application_id] = {
            "id": application_id, "job_id": job_id, "candidate_id": f"C-{application_id}", "email": email,
            "source": source, "status": "hired", "stage_id": "st-hired", "updated_at": now,
        }  # fmt: skip
        data = {
            k: v for k, v in self.applications[application_id].items() if k not in ("status", "updated_at")
        }
        data.update(application_id=application_id, job_title=self._title(job_id))
        return {"id": f"evt-{application_id}", "type": "candidate.hired", "created_at": now, "data": data}

    def stage_change(self, application_id: str, stage_id: str) -> dict[str, Any]:
        """Move an application into a stage; returns the ``candidate.stage_changed`` webhook body."""
        application = self.applications[application_id]
        now = _iso(datetime.now(UTC))
        application.update(stage_id=stage_id, updated_at=now)
        data = {
            "application_id": application_id,
            "job_id": application["job_id"],
            "job_title": self._title(application["job_id"]),
            "candidate_id": application["candidate_id"],
            "stage_id": stage_id,
        }
        event_id = f"evt-{application_id}-{stage_id}"
        return {"id": event_id, "type": "candidate.stage_changed", "created_at": now, "data": data}

    def _title(self, job_id: str) -> str:
        return next(job["title"] for job in self.jobs if job["id"] == job_id)

    def created_ids(self) -> list[str]:
        """Ids of the applications made through the API (not by :meth:`hire`)."""
        return [a for a, application in self.applications.items() if application.get("created")]

    # --- the API ------------------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        return hmac.compare_digest(request.headers.get("X-Api-Key", ""), API_KEY)

    @staticmethod
    def _page(request: web.Request, items: list[Any], key: str) -> web.Response:
        page, size = int(request.query.get("page", "1")), int(request.query.get("per_page", "100"))
        start = (page - 1) * size
        next_page = page + 1 if start + size < len(items) else None
        return web.json_response({key: items[start : start + size], "next_page": next_page})

    async def _jobs(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        jobs = self.jobs
        if "updated_since" in request.query:
            since = datetime.fromisoformat(request.query["updated_since"])
            jobs = [job for job in jobs if datetime.fromisoformat(job["updated_at"]) >= since]
        if self.stuck:
            return web.json_response({"jobs": jobs[:1], "next_page": int(request.query.get("page", "1"))})
        return self._page(request, jobs, "jobs")

    async def _stages(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response({"stages": STAGES})

    async def _hires(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        since = datetime.fromisoformat(request.query["updated_since"])
        hires = [
            {k: v for k, v in application.items() if k != "created"}
            for application in self.applications.values()
            if application["status"] == request.query.get("status", "hired")
            and datetime.fromisoformat(application["updated_at"]) >= since
        ]
        return self._page(request, hires, "applications")

    async def _questions(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        job = request.match_info["job"]
        if job == UPLOAD_JOB:
            return web.json_response({"questions": [{"id": "q-cv", "type": "file", "required": False}]})
        if job == QUESTION_JOB:
            return web.json_response({"questions": [{"id": "q-visa", "type": "text", "required": True}]})
        return web.json_response({"questions": []})

    async def _apply(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        job = next((job for job in self.jobs if job["id"] == request.match_info["job"]), None)
        if job is None:
            return web.json_response({"error": "no such job"}, status=404)
        if job["status"] != "open":
            return web.json_response({"error": "this job is not accepting applications"}, status=422)
        body = await request.json()
        if not body.get("name") or "@" not in str(body.get("email")):
            return web.json_response({"error": "name and email are required"}, status=422)
        application_id = f"A-{next(self._ids)}"
        self.applications[application_id] = {
            "id": application_id, "job_id": job["id"], "candidate_id": f"C-{application_id}",
            "email": body["email"], "source": body.get("source"), "status": "active", "stage_id": "st-new",
            "updated_at": _iso(datetime.now(UTC)), "created": True, "answers": body.get("answers") or {},
        }  # fmt: skip
        if job["id"] == NAMELESS_JOB:
            return web.json_response({"status": "received"}, status=201)
        return web.json_response({"id": application_id, "candidate_id": f"C-{application_id}"}, status=201)
