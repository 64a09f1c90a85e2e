"""A fake Ashby on a real socket: the ``ashby`` adapter's test peer.

Ashby's API is RPC: every call is ``POST /{method}`` with a JSON body and HTTP Basic auth (the API key as
user name, no password), answered ``{"success": true, "results": …}`` or, for what would be a 4xx,
HTTP 200 with ``{"success": false, "errorInfo": {code, message}}``. Lists page by ``cursor`` while
``moreDataAvailable`` and end with a ``syncToken`` that later lists only what changed (job.list here).
Records are built from the samples in ``tests/payloads/ashby`` (shaped as Ashby's documentation shows
them), and webhooks are signed by code written apart from the adapter's (:func:`signed`).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import BasicAuth, web

from hub.sdk import WebhookRequest
from hub.testing import FakePeer

API_KEY = "ashby-api-key-for-tests"
WEBHOOK_SECRET = "ashby-webhook-secret-for-tests"
PAYLOADS = Path(__file__).parent.parent / "payloads" / "ashby"
EPOCH = datetime(2026, 1, 1, 9, tzinfo=UTC)
APPCAST_SOURCE = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
PLANS = [{"id": "plan-engineering", "title": "Engineering"}, {"id": "plan-sales", "title": "Sales"}]
#: Jobs by index: 0 is Closed, 6 is Open without a published posting, 7 is a Draft (which job.list lists
#: only when asked for drafts); the rest are open.
CLOSED, UNPOSTED, DRAFT = 0, 6, 7
#: The job whose first posting is unlisted (an internal one, not to be shown publicly); its second is listed.
INTERNAL_FIRST = 2
#: The job whose form requires a resume, which Appcast Apply cannot upload to Ashby.
RESUME_JOB = 3
#: The job whose form requires an answer to a question of its own.
QUESTION_JOB = 4


def sample(name: str) -> Any:
    """A payload sample, as Ashby's documentation shows it."""
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


def iso(moment: datetime) -> str:
    """A time as Ashby writes it: milliseconds and Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def job_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def signed(body: dict[str, Any], secret: str = WEBHOOK_SECRET) -> WebhookRequest:
    """A webhook as Ashby sends it: ``Ashby-Signature: sha256=`` and the hex HMAC-SHA256 of the raw body."""
    raw = json.dumps(body).encode()
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "Ashby-Signature": f"sha256={digest}"}
    return WebhookRequest(headers=headers, body=raw, query={}, received_at=datetime.now(UTC))


def _failure(code: str, message: str) -> web.Response:
    # What would be a 4xx is HTTP 200 with success false (developers.ashbyhq.com/reference/responses).
    return web.json_response({"success": False, "errorInfo": {"code": code, "message": message}})


class FakeAshby(FakePeer):
    """Ashby with ``count`` jobs (see :data:`CLOSED`, :data:`UNPOSTED`, :data:`DRAFT`,
    :data:`INTERNAL_FIRST`), served by ``app``."""

    def __init__(self, count: int = 8) -> None:
        super().__init__()
        self.version = 0
        #: When set, a syncToken is answered as expired (Ashby's sync_token_expired).
        self.tokens_expired = False
        #: Posting ids answered ``isListed: false`` (published, but not to be shown publicly).
        self.unlisted: set[str] = {f"posting-{INTERNAL_FIRST}-internal"}
        #: Each job's postings' ``applicationDeadline`` as jobPosting.info answers it, by job; else null.
        self.deadlines: dict[int, Any] = {}
        self.jobs: list[dict[str, Any]] = [self._job(n) for n in range(count)]
        self.applications: dict[str, dict[str, Any]] = {}
        self.candidates: dict[str, dict[str, Any]] = {}
        #: When set, application.create creates the application but answers without its id.
        self.unnamed_applications = False
        #: Every note written on a candidate (``candidate.createNote``), as sent.
        self.notes: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.app.router.add_post("/{method}", self._rpc)

    # --- state ------------------------------------------------------------------------------------

    def _job(self, n: int) -> dict[str, Any]:
        job = copy.deepcopy(sample("job.list")["results"][0])
        status = {CLOSED: "Closed", DRAFT: "Draft"}.get(n, "Open")
        job.update(
            id=job_id(n), title=f"Engineer {n}", status=status, customRequisitionId=f"REQ-{n}",
            jobPostingIds=[] if status != "Open" or n == UNPOSTED else [f"posting-{n}"],
            createdAt=iso(EPOCH + timedelta(days=n)), updatedAt=iso(EPOCH + timedelta(days=n, hours=1)),
            openedAt=iso(EPOCH + timedelta(days=n)), _version=0,
        )  # fmt: skip
        if n == INTERNAL_FIRST:
            job["jobPostingIds"].insert(0, f"posting-{n}-internal")
        return job

    def job_ids(self) -> set[str]:
        """Ids of the jobs job.list lists by default: every one but the drafts."""
        return {job["id"] for job in self.jobs if job["status"] != "Draft"}

    def change_job(self, n: int, **fields: Any) -> None:
        """Change job ``n`` as an admin would: a new version, updated now."""
        self.version += 1
        self.jobs[n].update(fields, updatedAt=iso(datetime.now(UTC)), _version=self.version)

    def posting(self, n: int, posting_id: str | None = None) -> dict[str, Any]:
        """``jobPosting.info``'s results for job ``n``'s posting ``posting_id`` (``posting-<n>``)."""
        posting = copy.deepcopy(sample("jobPosting.info")["results"])
        posting_id = posting_id or f"posting-{n}"
        link = f"https://jobs.ashbyhq.com/acme/{posting_id}"
        # publishedDate is a day, as Ashby's OpenAPI gives it ("2022-07-22").
        posting.update(
            id=posting_id, title=self.jobs[n]["title"], jobId=job_id(n), externalLink=link,
            applyLink=f"{link}/application", descriptionHtml=f"<p>Job {n}: you &amp; us</p>",
            publishedDate=(EPOCH + timedelta(days=n + 1)).date().isoformat(),
            isListed=posting_id not in self.unlisted, applicationDeadline=self.deadlines.get(n),
        )  # fmt: skip
        if n % 2 == 0:
            posting["address"]["postalAddress"] = {"addressLocality": "London", "addressCountry": "UK"}
            posting.update(workplaceType="Hybrid", employmentType="PartTime", compensation=None)
        if n == 5:
            posting.update(workplaceType=None, isRemote=True)
        fields = posting["applicationFormDefinition"]["sections"][0]["fields"]
        if n == RESUME_JOB:
            fields[3]["isRequired"] = True
        if n == QUESTION_JOB:
            question = {"id": "f-visa", "path": "9f1c-visa", "title": "Visa sponsorship?", "type": "Boolean"}
            fields.append({"isRequired": True, "field": question})
        return posting

    def _application(self, n: int, email: str, status: str, stage: dict[str, Any]) -> dict[str, Any]:
        application = copy.deepcopy(sample("webhook.candidateHire")["data"]["application"])
        number = next(self._ids)
        now = iso(datetime.now(UTC))
        application.update(id=f"app-{number}", status=status, createdAt=now, updatedAt=now,
                           currentInterviewStage=stage)  # fmt: skip
        application["candidate"].update(id=f"cand-{number}", primaryEmailAddress={"value": email})
        application["job"].update(id=job_id(n), title=self.jobs[n]["title"])
        self.applications[application["id"]] = application
        return application

    def _webhook(self, action: str, application: dict[str, Any]) -> dict[str, Any]:
        return {"webhookActionId": f"wa-{next(self._ids)}", "action": action,
                "data": {"application": copy.deepcopy(application)}}  # fmt: skip

    def hire(self, n: int, email: str = "ada@example.com") -> dict[str, Any]:
        """A hire for job ``n``; returns the ``candidateHire`` webhook body for it."""
        stage = self.stage("Hired")
        return self._webhook("candidateHire", self._application(n, email, "Hired", stage))

    def submit(self, n: int, email: str = "grace@example.com") -> dict[str, Any]:
        """An application for job ``n``; returns the ``applicationSubmit`` webhook body."""
        stage = self.stage("PreInterviewScreen")
        return self._webhook("applicationSubmit", self._application(n, email, "Active", stage))

    def move(self, application_id: str, stage_type: str, status: str = "Active") -> dict[str, Any]:
        """Move an application into the stage of ``stage_type``; returns the ``candidateStageChange`` body."""
        application = self.applications[application_id]
        application.update(currentInterviewStage=self.stage(stage_type), status=status,
                           updatedAt=iso(datetime.now(UTC)))  # fmt: skip
        return self._webhook(
            "applicationUpdate" if status == "Archived" else "candidateStageChange", application
        )

    @staticmethod
    def stage(stage_type: str) -> dict[str, Any]:
        return next(s for s in sample("interviewStage.list")["results"] if s["type"] == stage_type)

    def created_ids(self) -> list[str]:
        """Ids of the applications made through application.create."""
        return [a for a, application in self.applications.items() if application.get("created")]

    # --- the API ----------------------------------------------------------------------------------

    async def _rpc(self, request: web.Request) -> web.Response:
        try:
            auth = BasicAuth.decode(request.headers.get("Authorization", ""))
        except ValueError:
            auth = None
        if auth is None or not hmac.compare_digest(auth.login, API_KEY) or auth.password:
            return web.json_response({"success": False, "errorInfo": {"code": "unauthenticated"}}, status=401)
        body = await request.json()
        handler = getattr(self, "_" + request.match_info["method"].replace(".", "_"), None)
        if handler is None:
            return _failure("endpoint_not_found", "no such endpoint")
        return handler(body)

    @staticmethod
    def _page(body: dict[str, Any], items: list[Any], sync_token: str | None = None) -> web.Response:
        start, size = int(body.get("cursor", "0") or 0), int(body.get("limit", 100))
        clean = [
            {k: v for k, v in item.items() if not k.startswith("_")} for item in items[start : start + size]
        ]
        if start + size < len(items):
            return web.json_response({"success": True, "results": clean, "moreDataAvailable": True,
                                      "nextCursor": str(start + size)})  # fmt: skip
        answer = {"success": True, "results": clean, "moreDataAvailable": False}
        return web.json_response({**answer, **({"syncToken": sync_token} if sync_token else {})})

    def _job_list(self, body: dict[str, Any]) -> web.Response:
        # Ashby lists drafts only when the status filter asks for them.
        jobs = [job for job in self.jobs if job["status"] != "Draft" or "Draft" in body.get("status", ())]
        if "syncToken" in body:
            if self.tokens_expired:
                return _failure("sync_token_expired", "The sync token has expired; do a full sync")
            seen = int(body["syncToken"].removeprefix("sync-"))
            jobs = [job for job in jobs if job["_version"] > seen]
        return self._page(body, jobs, f"sync-{self.version}")

    def _job_info(self, body: dict[str, Any]) -> web.Response:
        job = next((job for job in self.jobs if job["id"] == body.get("id")), None)
        if job is None:
            return _failure("job_not_found", "Job not found")
        return web.json_response({"success": True, "results": {k: v for k, v in job.items() if k[0] != "_"}})

    def _jobPosting_info(self, body: dict[str, Any]) -> web.Response:
        wanted = str(body.get("jobPostingId"))
        found = [
            n
            for n, job in enumerate(self.jobs)
            if wanted in (f"posting-{n}", f"posting-{n}-internal") and wanted in job["jobPostingIds"]
        ]
        if not found:
            return _failure("job_posting_not_found", "Job posting not found")
        return web.json_response({"success": True, "results": self.posting(found[0], wanted)})

    def _interviewPlan_list(self, body: dict[str, Any]) -> web.Response:
        return self._page(body, PLANS)

    def _interviewStage_list(self, body: dict[str, Any]) -> web.Response:
        stages = sample("interviewStage.list")["results"]
        if body.get("interviewPlanId") == "plan-sales":
            stages = [{**stage, "id": stage["id"].replace("5b1a", "5a1e")} for stage in stages[:2]]
        elif body.get("interviewPlanId") != "plan-engineering":
            return _failure("interview_plan_not_found", "Interview plan not found")
        return web.json_response({"success": True, "results": stages})

    def _application_list(self, body: dict[str, Any]) -> web.Response:
        found = [a for a in self.applications.values() if a["status"] == body.get("status", a["status"])]
        return self._page(body, [{k: v for k, v in a.items() if k != "created"} for a in found])

    def _source_list(self, body: dict[str, Any]) -> web.Response:
        sources = [{"id": "src-linkedin", "title": "LinkedIn", "isArchived": False},
                   {"id": APPCAST_SOURCE, "title": "Appcast", "isArchived": False}]  # fmt: skip
        return web.json_response({"success": True, "results": sources})

    def _candidate_create(self, body: dict[str, Any]) -> web.Response:
        if not body.get("name") or "@" not in str(body.get("email")):
            return _failure("invalid_input", "A candidate needs a name and a valid email")
        candidate = {"id": f"cand-{next(self._ids)}", **body}
        self.candidates[candidate["id"]] = candidate
        return web.json_response({"success": True, "results": candidate})

    def _candidate_createNote(self, body: dict[str, Any]) -> web.Response:
        if body.get("candidateId") not in self.candidates or not body.get("note"):
            return _failure("invalid_input", "A note needs a candidate and its text")
        self.notes.append(body)
        return web.json_response({"success": True, "results": {"id": f"note-{next(self._ids)}", **body}})

    def _application_create(self, body: dict[str, Any]) -> web.Response:
        candidate = self.candidates.get(body.get("candidateId", ""))
        job = next((job for job in self.jobs if job["id"] == body.get("jobId")), None)
        if candidate is None or job is None or job["status"] != "Open":
            return _failure("invalid_input", "The candidate or the open job does not exist")
        number, now = next(self._ids), iso(datetime.now(UTC))
        source = "Appcast" if body.get("sourceId") == APPCAST_SOURCE else "Other"
        application = {
            "id": f"app-{number}", "status": "Active", "createdAt": now, "updatedAt": now, "created": True,
            "candidate": {"id": candidate["id"], "name": candidate["name"],
                          "primaryEmailAddress": {"value": candidate["email"]}},
            "job": {"id": job["id"], "title": job["title"]},
            "currentInterviewStage": self.stage("PreInterviewScreen"),
            "source": {"id": body.get("sourceId"), "title": source},
        }  # fmt: skip
        self.applications[application["id"]] = application
        hidden = ("created", "id") if self.unnamed_applications else ("created",)
        return web.json_response(
            {"success": True, "results": {k: v for k, v in application.items() if k not in hidden}}
        )
