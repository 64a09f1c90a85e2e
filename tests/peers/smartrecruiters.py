"""A fake SmartRecruiters on a real socket: the ``smartrecruiters`` adapter's test peer.

The Customer API parts the adapter uses, answering with the shapes of ``tests/payloads/smartrecruiters``
(SmartRecruiters' documented objects): the Job API (``GET /jobs`` paged by ``pageId``/``nextPageId`` with
``updatedAfter``, job details and job ads), the Candidate API (candidates, their applications, creating
a candidate on a job) and webhooks signed as SmartRecruiters signs them (``v1`` HMAC-SHA256 of the
timestamp, the body and the event headers), by code of its own (:func:`signed`). Every request needs
``X-SmartToken``; :class:`~hub.testing.peers.Faults` adds failures (429 with ``Retry-After``, 5xx…).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from hub.sdk import WebhookRequest
from hub.testing import FakePeer

API_KEY = "smartrecruiters-api-key-for-tests"
WEBHOOK_SECRET = "smartrecruiters-webhook-secret-for-tests"
#: SmartRecruiters keeps a replaced secret key valid for 24 hours: both sign meanwhile.
OLD_WEBHOOK_SECRET = "smartrecruiters-old-webhook-secret"
PAYLOADS = Path(__file__).resolve().parent.parent / "payloads" / "smartrecruiters"
EPOCH = datetime(2026, 1, 1, 9, tzinfo=UTC)
OPEN = ("SOURCING", "INTERVIEW", "OFFER")


def sample(name: str) -> Any:
    """A payload sample, shaped as SmartRecruiters' documentation shows it."""
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


def job_id(n: int) -> str:
    """The id of the fake's ``n``-th job (SmartRecruiters' job ids are UUIDs)."""
    return f"00000000-0000-4000-8000-{n:012d}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def signed(
    event_name: str,
    body: dict[str, Any],
    *,
    secrets: tuple[str, ...] = (WEBHOOK_SECRET,),
    event_id: str | None = None,
    timestamp: int | None = None,
) -> WebhookRequest:
    """A webhook as SmartRecruiters sends it: the event in headers, the ids in the body, and
    ``smartrecruiters-signature: v1=<hex>;v1=<hex>`` (one per active secret key) over
    ``timestamp.body.event-id.event-name.event-version.link``."""
    raw = json.dumps(body).encode()
    moment = str(timestamp if timestamp is not None else int(datetime.now(UTC).timestamp()))
    resource = f"candidates/{body.get('candidate_id')}/jobs/{body.get('job_id')}"
    link = f"<https://api.smartrecruiters.com/{resource}>; rel=self"
    headers = {
        "content-type": "application/json",
        # Each event its own id, as SmartRecruiters' are (two changes in one second included).
        "event-id": event_id or str(uuid.uuid4()),
        "event-name": event_name,
        "event-version": "v201910",
        "link": link,
        "smartrecruiters-timestamp": moment,
    }
    message = b".".join(
        [
            moment.encode(),
            raw,
            *(headers[h].encode() for h in ("event-id", "event-name", "event-version", "link")),
        ]
    )
    headers["smartrecruiters-signature"] = ";".join(
        "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest() for secret in secrets
    )
    return WebhookRequest(headers=headers, body=raw, query={}, received_at=datetime.now(UTC))


def handshake(secret: str = "hook-secret-from-activation") -> WebhookRequest:  # noqa: S107
    """The unsigned POST SmartRecruiters sends when a subscription is activated."""
    return WebhookRequest(
        headers={"X-Hook-Secret": secret, "content-type": "application/json"},
        body=b"",
        query={},
        received_at=datetime.now(UTC),
    )


class FakeSmartRecruiters(FakePeer):
    """SmartRecruiters with ``count`` jobs: job 0 is filled (closed), job 1 has no public job ad, job 2
    is remote, the rest open and hybrid."""

    def __init__(self, count: int = 8) -> None:
        super().__init__()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.ads: dict[str, list[dict[str, Any]]] = {}
        for n in range(count):
            job, ads = sample("job"), sample("jobads")["content"]
            moment = _iso(EPOCH + timedelta(days=n))
            job.update(
                id=job_id(n), title=f"Engineer {n}", refNumber=f"REF-{n}", createdOn=moment, updatedOn=moment
            )
            if n == 0:
                job["status"] = "FILLED"
            if n == 1:
                job["postingStatus"] = "NOT_PUBLISHED"
                for ad in ads:
                    ad["postingStatus"] = "NOT_PUBLISHED"
            if n == 2:
                job["location"].update(remote=True, hybrid=False)
            for ad in ads:
                ad["applyUrl"] = (
                    f"https://jobs.smartrecruiters.com/Acme/{n}{ad['language']['code']}-engineer-{n}"
                )
            self.jobs[job_id(n)], self.ads[job_id(n)] = job, ads
        #: Candidates by id (CandidateDetails) and their applications by (candidate id, job id).
        self.candidates: dict[str, dict[str, Any]] = {}
        self.applications: dict[tuple[str, str], dict[str, Any]] = {}
        #: The bodies ``POST /jobs/{id}/candidates`` accepted, by the candidate id it answered.
        self.created: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        #: When set, ``GET /jobs`` answers every page with the same cursor (a server ignoring paging).
        self.stuck = False
        #: When set, ``POST /jobs/{id}/candidates`` creates the candidate but answers without its ``id``.
        self.unnamed = False
        self.app.router.add_get("/jobs", self._jobs)
        self.app.router.add_get("/jobs/{job}", self._job)
        self.app.router.add_get("/jobs/{job}/jobads", self._jobads)
        self.app.router.add_post("/jobs/{job}/candidates", self._create)
        self.app.router.add_get("/candidates", self._candidates)
        self.app.router.add_get("/candidates/{candidate}", self._candidate)
        self.app.router.add_get("/candidates/{candidate}/jobs/{job}", self._application)

    # --- what tests do to it ------------------------------------------------------------------------

    def job_ids(self) -> set[str]:
        return set(self.jobs)

    def change_job(self, ats_id: str, **fields: Any) -> None:
        self.jobs[ats_id].update(fields, updatedOn=_iso(datetime.now(UTC)))

    def add_candidate(
        self,
        ats_job_id: str,
        email: str = "ada@example.com",
        status: str = "NEW",
        source: dict[str, Any] | None = None,
    ) -> str:
        """A candidate who applied to a job, in ``status``, from ``source`` (``sourceDetails``, the
        sample's Appcast job board by default); returns the candidate id."""
        candidate = sample("candidate")
        candidate_id = f"c{next(self._ids):07d}-a6eb-441b-837f-d7c39efb3f04"
        now = _iso(datetime.now(UTC))
        candidate.update(id=candidate_id, email=email, createdOn=now, updatedOn=now)
        candidate["primaryAssignment"] = {"job": {"id": ats_job_id, "title": self.jobs[ats_job_id]["title"]},
                                          "status": status}  # fmt: skip
        self.candidates[candidate_id] = candidate
        application = {**sample("application"), "status": status}
        if source is not None:
            application["source"] = source
        self.applications[candidate_id, ats_job_id] = application
        return candidate_id

    def set_status(self, candidate_id: str, ats_job_id: str, status: str, **signing: Any) -> WebhookRequest:
        """Move an application into ``status``; returns the ``application.status.updated`` webhook."""
        self.applications[candidate_id, ats_job_id]["status"] = status
        candidate = self.candidates[candidate_id]
        candidate["updatedOn"] = _iso(datetime.now(UTC))
        candidate["primaryAssignment"]["status"] = status
        return signed(
            "application.status.updated", {"job_id": ats_job_id, "candidate_id": candidate_id}, **signing
        )

    def hire(self, ats_job_id: str, email: str = "ada@example.com", **signing: Any) -> WebhookRequest:
        """A candidate of the job hired; returns the signed ``application.status.updated`` webhook."""
        return self.set_status(
            self.add_candidate(ats_job_id, email, "OFFERED"), ats_job_id, "HIRED", **signing
        )

    def applied(self, ats_job_id: str, email: str = "ada@example.com") -> WebhookRequest:
        """A new application; returns the signed ``application.created`` webhook."""
        candidate_id = self.add_candidate(ats_job_id, email)
        return signed("application.created", {"job_id": ats_job_id, "candidate_id": candidate_id})

    def created_ids(self) -> list[str]:
        """The application ids (``job:candidate``) made through ``POST /jobs/{id}/candidates``."""
        return [f"{body['job']}:{candidate_id}" for candidate_id, body in self.created.items()]

    # --- the API ------------------------------------------------------------------------------------

    @staticmethod
    def _refused(request: web.Request) -> web.Response | None:
        if hmac.compare_digest(request.headers.get("X-SmartToken", ""), API_KEY):
            return None
        return web.json_response({"message": "Invalid or missing API key"}, status=401)

    def _page(self, request: web.Request, items: list[Any]) -> web.Response:
        start, size = int(request.query.get("pageId", "0") or 0), int(request.query.get("limit", "10"))
        body: dict[str, Any] = {"limit": size, "offset": start, "totalFound": len(items),
                                "content": items[start : start + size]}  # fmt: skip
        if self.stuck or start + size < len(items):
            body["nextPageId"] = "0" if self.stuck else str(start + size)
        return web.json_response(body)

    async def _jobs(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        jobs = list(self.jobs.values())
        if "updatedAfter" in request.query:
            since = _time(request.query["updatedAfter"])
            jobs = [job for job in jobs if _time(job["updatedOn"]) > since]
        summary = sample("jobs")["content"][0]
        return self._page(request, [{k: job[k] for k in summary if k in job} for job in jobs])

    async def _job(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        if (job := self.jobs.get(request.match_info["job"])) is None:
            return web.json_response({"message": "Job not found"}, status=404)
        return web.json_response(job)

    async def _jobads(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        if (ads := self.ads.get(request.match_info["job"])) is None:
            return web.json_response({"message": "Job not found"}, status=404)
        return web.json_response({"totalFound": len(ads), "content": ads})

    async def _candidates(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        found = list(self.candidates.values())
        if status := request.query.get("status"):
            found = [c for c in found if c["primaryAssignment"]["status"] == status]
        if "updatedAfter" in request.query:
            since = _time(request.query["updatedAfter"])
            found = [c for c in found if _time(c["updatedOn"]) > since]
        return self._page(request, found)

    async def _candidate(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        if (candidate := self.candidates.get(request.match_info["candidate"])) is None:
            return web.json_response({"message": "Candidate not found"}, status=404)
        return web.json_response(candidate)

    async def _application(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        key = (request.match_info["candidate"], request.match_info["job"])
        if (application := self.applications.get(key)) is None:
            return web.json_response({"message": "Candidate is not assigned to the job"}, status=404)
        return web.json_response(application)

    async def _create(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        job = self.jobs.get(request.match_info["job"])
        if job is None:
            return web.json_response({"message": "Job not found"}, status=404)
        if job["status"] not in OPEN:
            error = {"code": "JOB_NOT_OPEN", "message": "Job is not accepting new candidates"}
            return web.json_response({"message": error["message"], "errors": [error]}, status=400)
        body = await request.json()
        missing = [field for field in ("firstName", "lastName", "email") if not body.get(field)]
        if missing:
            errors = [{"code": "REQUIRED", "message": f"{field} is required"} for field in missing]
            return web.json_response({"message": "Invalid request", "errors": errors}, status=400)
        candidate = copy.deepcopy(sample("candidate_created"))
        candidate_id = f"n{next(self._ids):07d}-1c1e-4e0a-8a51-2b7f4c1d0e11"
        now = _iso(datetime.now(UTC))
        candidate.update({k: v for k, v in body.items() if k != "sourceDetails"}, id=candidate_id,
                         createdOn=now, updatedOn=now)  # fmt: skip
        candidate["primaryAssignment"]["job"] = {"id": job["id"], "title": job["title"]}
        self.candidates[candidate_id] = candidate
        source = body.get("sourceDetails") or {"sourceTypeId": "API"}
        self.applications[candidate_id, job["id"]] = {"status": "NEW", "source": source}
        self.created[candidate_id] = {**body, "job": job["id"]}
        answer = {k: v for k, v in candidate.items() if k != "id"} if self.unnamed else candidate
        return web.json_response(answer, status=201)
