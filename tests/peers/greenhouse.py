"""A fake Greenhouse on a real socket: the job board API, Harvest v3 with its OAuth token endpoint, and
signed web hooks. The ``greenhouse`` adapter's test peer.

Built from Greenhouse's public documentation: the board lists published job posts in one answer
(``content`` escaped, ``departments``/``offices`` only with ``content=true``, an unknown board 404);
``POST /token`` takes a form and HTTP Basic client credentials; Harvest v3 wants the Bearer token, answers
lists as bare arrays paged by ``Link: <…?cursor=…>; rel="next"`` (a cursor must be the only parameter),
filters by ``updated_at=gte|<time>``, ``status`` and ``candidate_ids``, lists every job post (live or not,
in the fields of Greenhouse's job post object) at ``/v3/job_posts``, and creates a candidate with its
first application in one ``POST /v3/candidates``. Web hook bodies are the samples in
``tests/payloads/greenhouse/``, signed here with code written apart from the adapter's. All three APIs
are served at one URL: give it as ``base_url``, ``harvest_url`` and ``auth_url``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import itertools
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from hub import sdk

PAYLOADS = Path(__file__).parent.parent / "payloads" / "greenhouse"
BOARD = "acme"
CLIENT_ID = "greenhouse-client-id-for-tests"
CLIENT_SECRET = "greenhouse-client-secret-for-tests"
USER_ID = 4080
WEBHOOK_SECRET = "greenhouse-webhook-secret-for-tests"
APPCAST_SOURCE_ID = 16
#: Job N is Greenhouse job ``FIRST_JOB_ID + N``, advertised by post ``FIRST_POST_ID + N``.
FIRST_JOB_ID = 127_000
FIRST_POST_ID = 4_004_000
TITLES = ("Vault Designer", "Registered Nurse", "Data Analyst", "Warehouse Operative", "Product Designer")
LOCATIONS = ("San Francisco, CA", "New York, NY, United States", "Remote - US", "London", "Hybrid - Berlin")
#: Office locations as the job board writes them ("New York, NY, United States" in its docs).
OFFICES = ("San Francisco, CA, United States", "New York, NY, United States", "United States",
           "London, United Kingdom", "Berlin, Germany")  # fmt: skip
#: The board's prospect post: "Prospect posts include a null value for internal_job_id" (no job behind it).
PROSPECT_POST_ID = FIRST_POST_ID + 9_001
DEPARTMENTS = ("Engineering", "Clinical", "Operations")
#: Every job's interview plan, as Greenhouse's default template names it.
STAGE_NAMES = ("Application Review", "Preliminary Phone Screen", "Phone Interview", "Face to Face",
               "Reference Check", "Offer")  # fmt: skip


def sample(name: str) -> dict[str, Any]:
    """A payload sample (``tests/payloads/greenhouse/<name>.json``), fresh each time."""
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def prospect_post(board: str = BOARD) -> dict[str, Any]:
    """The board's prospect post: a general "get in touch" form, advertising no job."""
    post = job_post(0, board, post_id=PROSPECT_POST_ID, location="Anywhere")
    post.update(internal_job_id=None, title="Future Opportunities", requisition_id=None, metadata=None)
    return post


def job_post(
    number: int, board: str = BOARD, *, post_id: int | None = None, location: str | None = None
) -> dict[str, Any]:
    """Job ``number``'s post as the board lists it with ``content=true``; every third has custom fields."""
    post = dict(
        sample("board_job"), id=post_id or FIRST_POST_ID + number, internal_job_id=FIRST_JOB_ID + number
    )
    post.update(
        title=f"{TITLES[number % len(TITLES)]} {number}",
        updated_at=f"2026-02-{number % 28 + 1:02d}T10:00:00-05:00",
        requisition_id=f"REQ-{number}" if number % 2 else None,
        location={"name": location or LOCATIONS[number % len(LOCATIONS)]},
        absolute_url=f"https://boards.greenhouse.io/{board}/jobs/{post['id']}",
        metadata=post["metadata"] if number % 3 == 0 else None,
        content=html.escape(f"<p>Job {number}: you &amp; us.</p><ul><li>Benefits</li></ul>"),
        departments=[
            {"id": 13_000 + number % 3, "name": DEPARTMENTS[number % 3], "parent_id": None, "child_ids": []}
        ],
        offices=[{"id": 8_300 + number % 5, "name": "Office", "location": OFFICES[number % len(OFFICES)]}],
    )
    # Newer boards also say when the post was first published; older answers lack the field.
    if number % 2:
        del post["first_published"]
    else:
        post["first_published"] = f"2026-01-{number % 28 + 1:02d}T09:00:00Z"
    return post


def harvest_post(post: dict[str, Any], *, live: bool = True) -> dict[str, Any]:
    """A board post as Harvest lists it: the job as ``job_id``, the HTML as it is (the board escapes it),
    ``live``, and ``first_published_at`` (which older board answers lack: their post's ``updated_at`` then,
    the time the board path dates the job by)."""
    record = sample("harvest_job_post")
    return dict(
        record, id=post["id"], job_id=post["internal_job_id"], title=post["title"], live=live,
        location={**record["location"], "name": post["location"]["name"]}, updated_at=post["updated_at"],
        first_published_at=post.get("first_published", post["updated_at"]),
        content=html.unescape(post["content"]),
    )  # fmt: skip


class FakeGreenhouse(sdk.FakePeer):
    """One account: a board with ``jobs`` published jobs (job 0 has a second post, in London) and a
    prospect post, Harvest credentials, the Appcast source (id 16), applications, and what Apply created
    (:meth:`created_ids`)."""

    def __init__(self, board: str = BOARD, jobs: int = 12, webhook_secret: str = WEBHOOK_SECRET) -> None:
        super().__init__()
        self.board = board
        self.webhook_secret = webhook_secret
        self.posts: list[dict[str, Any]] = [job_post(n, board) for n in range(jobs)]
        self.posts.append(job_post(0, board, post_id=FIRST_POST_ID + 9_000, location="London"))
        self.posts.insert(2, prospect_post(board))
        self.stages = [
            {**sample("harvest_job_interview_stage"), "id": 767_000 + 10 * n + k, "job_id": FIRST_JOB_ID + n,
             "name": name, "sort_order": k}
            for n in range(jobs) for k, name in enumerate(STAGE_NAMES)
        ]  # fmt: skip
        #: Harvest v3 applications by id, and each candidate's e-mail by candidate id.
        self.applications: dict[int, dict[str, Any]] = {}
        self.emails: dict[int, str] = {}
        #: Jobs that are closed in Greenhouse (still hirable, no longer taking applications).
        self.closed_jobs: set[int] = set()
        #: Posts taken off the board (Harvest still lists them, no longer live).
        self.unpublished: list[dict[str, Any]] = []
        self.tokens: list[str] = []
        #: Every attachment posted, as sent (``POST /v3/attachments``); a status to answer them with instead.
        self.attachments: list[dict[str, Any]] = []
        self.attachment_status: int | None = None
        #: Answer lists by candidate without the applications Apply created (Harvest lagging behind).
        self.lagging = False
        self._ids = itertools.count(46_194_100)
        self.app.router.add_get("/v1/boards/{board}/jobs", self._jobs)
        self.app.router.add_post("/token", self._token)
        self.app.router.add_get("/v3/job_interview_stages", self._stages)
        self.app.router.add_get("/v3/applications", self._applications)
        self.app.router.add_get("/v3/job_posts", self._job_posts)
        self.app.router.add_post("/v3/candidates", self._create)
        self.app.router.add_post("/v3/attachments", self._attach)

    # --- what tests change ------------------------------------------------------------------------

    @property
    def job_ids(self) -> set[str]:
        """The Greenhouse job ids the board publishes: what a full fetch must return."""
        return {str(post["internal_job_id"]) for post in self.posts if post["internal_job_id"] is not None}

    def unpublish(self, job_id: str) -> None:
        """Take every post of a job off the board (the job closed, or its posts were unpublished): Harvest
        lists them updated now, no longer live."""
        gone = [post for post in self.posts if str(post["internal_job_id"]) == job_id]
        self.posts = [post for post in self.posts if post not in gone]
        now = iso(datetime.now(UTC))
        self.unpublished += [dict(harvest_post(post, live=False), updated_at=now) for post in gone]

    def created_ids(self) -> list[str]:
        """Ids of the applications made through ``POST /v3/candidates`` (not by the webhook helpers)."""
        return [str(a) for a, application in self.applications.items() if application.get("created")]

    def _application(
        self, action: str, job_id: str, email: str, status: str, at: datetime | None
    ) -> dict[str, Any]:
        """A new application in Greenhouse, and the web hook body ``action`` sends for it."""
        application_id, candidate_id = next(self._ids), next(self._ids)
        now = iso(at or datetime.now(UTC))
        body = sample(action)
        hooked = body["payload"]["application"]
        hooked.update(id=application_id)
        # A hire is dated by its offer's acceptance, every other event by the application's last activity.
        if action == "hire_candidate":
            hooked["offer"]["resolved_at"] = now
        else:
            hooked.update(status=status, last_activity_at=now)
        hooked["jobs"][0]["id"] = int(job_id)
        hooked["candidate"].update(id=candidate_id, email_addresses=[{"value": email, "type": "personal"}])
        record = dict(sample("harvest_application"), id=application_id, candidate_id=candidate_id,
                      job_id=int(job_id), status=status, updated_at=now, last_activity_at=now)  # fmt: skip
        self.applications[application_id], self.emails[candidate_id] = record, email
        return body

    def hire(
        self, job_id: str, *, email: str = "ada@example.com", at: datetime | None = None
    ) -> dict[str, Any]:
        """A hired application on ``job_id``; returns its ``hire_candidate`` web hook body."""
        return self._application("hire_candidate", job_id, email, "hired", at)

    def apply(self, job_id: str, *, email: str = "mary@example.com") -> dict[str, Any]:
        """A new application; returns its ``new_candidate_application`` web hook body."""
        return self._application("new_candidate_application", job_id, email, "active", None)

    def reject(self, job_id: str) -> dict[str, Any]:
        """A rejected application; returns its ``reject_candidate`` web hook body."""
        return self._application("reject_candidate", job_id, "alan@example.com", "rejected", None)

    def stage_change(self, job_id: str, stage_name: str) -> dict[str, Any]:
        """An application moved into the job's stage ``stage_name``; its ``candidate_stage_change`` body."""
        body = self._application("candidate_stage_change", job_id, "grace@example.com", "active", None)
        stage = next(s for s in self.stages if s["job_id"] == int(job_id) and s["name"] == stage_name)
        body["payload"]["application"]["current_stage"].update(id=stage["id"], name=stage_name)
        return body

    def signed(self, body: dict[str, Any] | bytes, secret: str | None = None) -> sdk.WebhookRequest:
        """A web hook as Greenhouse sends it: ``Signature: sha256 <hex HMAC-SHA256 of the raw body>`` and a
        ``Greenhouse-Event-ID`` (which the signature does not cover)."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        digest = hmac.new((secret or self.webhook_secret).encode(), raw, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "Signature": f"sha256 {digest}",
                   "Greenhouse-Event-ID": str(uuid.uuid4())}  # fmt: skip
        return sdk.WebhookRequest(headers=headers, body=raw, query={}, received_at=datetime.now(UTC))

    # --- the job board API ------------------------------------------------------------------------

    async def _jobs(self, request: web.Request) -> web.Response:
        if request.match_info["board"] != self.board:
            return web.json_response({"status": 404, "error": "Job not found"}, status=404)
        posts = self.posts
        if request.query.get("content") != "true":
            hidden = ("content", "departments", "offices")
            posts = [{k: v for k, v in post.items() if k not in hidden} for post in posts]
        return web.json_response({"jobs": posts, "meta": {"total": len(posts)}})

    # --- OAuth and Harvest v3 ---------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        form = await request.post()
        if not hmac.compare_digest(request.headers.get("Authorization", ""), expected):
            return web.json_response({"error": "invalid_client"}, status=401)
        if form.get("grant_type") != "client_credentials" or form.get("sub") != str(USER_ID):
            return web.json_response({"error": "invalid_request"}, status=400)
        token = f"token-{uuid.uuid4()}"
        self.tokens.append(token)
        return web.json_response({**sample("harvest_token"), "access_token": token})

    async def _stages(self, request: web.Request) -> web.Response:
        return self._list(request, self.stages)

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "").removeprefix("Bearer ") in self.tokens

    def _list(self, request: web.Request, items: list[Any]) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "Unauthorized"}, status=401)
        query = dict(request.query)
        if "cursor" in query:
            if len(query) > 1:
                return web.json_response(
                    {"error": "cursor cannot be combined with other parameters"}, status=400
                )
            query = json.loads(base64.urlsafe_b64decode(query["cursor"]))
        offset, size = int(query.get("offset", 0)), int(query.get("per_page", 100))
        headers = {}
        if offset + size < len(items):
            cursor = base64.urlsafe_b64encode(
                json.dumps({**query, "offset": offset + size}).encode()
            ).decode()
            headers["Link"] = f'<{self.url}{request.path}?cursor={cursor}>; rel="next"'
        return web.json_response(items[offset : offset + size], headers=headers)

    @staticmethod
    def _query(request: web.Request) -> dict[str, Any]:
        query = dict(request.query)
        return json.loads(base64.urlsafe_b64decode(query["cursor"])) if "cursor" in query else query

    @staticmethod
    def _updated(query: dict[str, Any], found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if "updated_at" not in query:
            return found
        operator, _, moment = query["updated_at"].partition("|")
        assert operator == "gte", f"unexpected filter {query['updated_at']}"
        return [a for a in found if datetime.fromisoformat(a["updated_at"]) >= datetime.fromisoformat(moment)]

    async def _job_posts(self, request: web.Request) -> web.Response:
        posts = [harvest_post(post) for post in self.posts] + self.unpublished
        return self._list(request, self._updated(self._query(request), posts))

    async def _applications(self, request: web.Request) -> web.Response:
        query = self._query(request)
        found = list(self.applications.values())
        if "status" in query:
            found = [a for a in found if a["status"] == query["status"]]
        found = self._updated(query, found)
        if "candidate_ids" in query:
            ids = {int(i) for i in query["candidate_ids"].split(",")}
            found = [a for a in found if a["candidate_id"] in ids and not (self.lagging and a.get("created"))]
        hidden = ("created", "request")
        return self._list(request, [{k: v for k, v in a.items() if k not in hidden} for a in found])

    async def _attach(self, request: web.Request) -> web.Response:
        # Harvest v3's POST /v3/attachments: one file on an application, by URL or as base64 content.
        if not self._authorised(request):
            return web.json_response({"error": "Unauthorized"}, status=401)
        if self.attachment_status is not None:
            return web.json_response({"errors": [{"message": "unavailable"}]}, status=self.attachment_status)
        body = await request.json()
        if body.get("application_id") not in self.applications or not body.get("filename"):
            return web.json_response(
                {"errors": [{"field": "application_id", "message": "not found"}]}, status=422
            )
        if ("url" in body) == ("content" in body):
            return web.json_response(
                {"errors": [{"field": "url", "message": "give url or content"}]}, status=422
            )
        self.attachments.append(body)
        return web.json_response({"id": len(self.attachments), **body}, status=201)

    async def _create(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "Unauthorized"}, status=401)
        body = await request.json()
        application = body.get("application") or {}
        job_id = application.get("job_id")
        if not body.get("first_name") or not body.get("last_name"):
            return web.json_response(
                {"errors": [{"field": "last_name", "message": "can't be blank"}]}, status=422
            )
        if str(job_id) not in self.job_ids:
            return web.json_response(
                {"errors": [{"field": "job_id", "message": "Job not found"}]}, status=422
            )
        if job_id in self.closed_jobs:
            return web.json_response(
                {"errors": [{"field": "job_id", "message": "Job is closed"}]}, status=422
            )
        email = (body.get("email_addresses") or [{}])[0].get("value", "")
        if "@" not in email:
            return web.json_response(
                {"errors": [{"field": "email_addresses", "message": "is invalid"}]}, status=422
            )
        candidate_id, application_id, now = next(self._ids), next(self._ids), iso(datetime.now(UTC))
        self.applications[application_id] = dict(
            sample("harvest_application"), id=application_id, candidate_id=candidate_id, job_id=job_id,
            status="active", source_id=application.get("source_id"), updated_at=now, last_activity_at=now,
            created=True, request=body,
        )  # fmt: skip
        self.emails[candidate_id] = email
        candidate = {"id": candidate_id, "first_name": body["first_name"], "last_name": body["last_name"],
                     "created_at": now, "updated_at": now}  # fmt: skip
        return web.json_response(candidate, status=201)
