"""A fake Greenhouse: the job board API and signed webhooks, on a real socket.

Answers like the job board API's documented examples: ``GET /v1/boards/{board}/jobs`` lists the published
job posts, with ``content`` (escaped HTML), ``departments`` and ``offices`` only when ``content=true``;
ids are integers; an unknown board answers 404. Webhooks are signed here with code written apart from the
adapter's, so a bug there cannot hide itself. Also used by the hub's own end-to-end test.

    greenhouse = FakeGreenhouse()
    async with greenhouse.serving():
        options = {"board": greenhouse.board, "base_url": greenhouse.url, "webhook_secret": WEBHOOK_SECRET}
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hub import sdk

BOARD = "acme"
WEBHOOK_SECRET = "greenhouse-webhook-secret-for-tests"
#: Job N is Greenhouse job ``FIRST_JOB_ID + N``, advertised by post ``FIRST_POST_ID + N``.
FIRST_JOB_ID = 127_000
FIRST_POST_ID = 4_004_000
TITLES = ("Vault Designer", "Registered Nurse", "Data Analyst", "Warehouse Operative", "Product Designer")
LOCATIONS = ("Portland, OR", "New York, NY, United States", "Remote - US", "London")
DEPARTMENTS = ("Engineering", "Clinical", "Operations")


def job_post(
    number: int, board: str = BOARD, *, post_id: int | None = None, location: str | None = None
) -> dict[str, Any]:
    """Job ``number``'s post as the board lists it with ``content=true``; every third has custom fields."""
    post = post_id or FIRST_POST_ID + number
    metadata = None
    if number % 3 == 0:
        metadata = [
            {"id": 1, "name": "Employment Type", "value": "Full-time", "value_type": "single_select"},
            {
                "id": 2,
                "name": "Salary Range",
                "value": {"unit": "USD", "min_value": "90000.0", "max_value": "120000.0"},
                "value_type": "currency_range",
            },
        ]
    entry: dict[str, Any] = {
        "id": post,
        "internal_job_id": FIRST_JOB_ID + number,
        "title": f"{TITLES[number % len(TITLES)]} {number}",
        "updated_at": f"2026-02-{number % 28 + 1:02d}T10:00:00-05:00",
        "requisition_id": f"REQ-{number}" if number % 2 else None,
        "location": {"name": location or LOCATIONS[number % len(LOCATIONS)]},
        "absolute_url": f"https://boards.greenhouse.io/{board}/jobs/{post}",
        "metadata": metadata,
        "content": html.escape(f"<p>Job {number}: you &amp; us.</p><ul><li>Benefits</li></ul>"),
        "departments": [
            {"id": 13_000 + number % 3, "name": DEPARTMENTS[number % 3], "parent_id": None, "child_ids": []}
        ],
        "offices": [{"id": 8_300, "name": "Main office", "location": "United States", "parent_id": None}],
    }
    if number % 2 == 0:
        # Newer boards also say when the post was first published; older answers lack the field.
        entry["first_published"] = f"2026-01-{number % 28 + 1:02d}T09:00:00Z"
    return entry


class FakeGreenhouse(sdk.FakePeer):
    """One job board (``board``) with ``jobs`` published jobs; job 0 has a second post, in London. The
    kit's :attr:`faults` make it fail (``faults.server_errors = 3``) and record every request."""

    def __init__(self, board: str = BOARD, jobs: int = 12, webhook_secret: str = WEBHOOK_SECRET) -> None:
        super().__init__()
        self.board = board
        self.webhook_secret = webhook_secret
        self.posts: list[dict[str, Any]] = [job_post(n, board) for n in range(jobs)]
        self.posts.append(job_post(0, board, post_id=FIRST_POST_ID + 9_000, location="London"))
        self.app.router.add_get("/v1/boards/{board}/jobs", self._jobs)

    @property
    def job_ids(self) -> set[str]:
        """The Greenhouse job ids the board publishes: what a full fetch must return."""
        return {str(post["internal_job_id"]) for post in self.posts}

    def unpublish(self, job_id: str) -> None:
        """Take every post of a job off the board (the job closed, or its posts were unpublished)."""
        self.posts = [post for post in self.posts if str(post["internal_job_id"]) != job_id]

    async def _jobs(self, request: web.Request) -> web.Response:
        if request.match_info["board"] != self.board:
            return web.json_response({"status": 404, "error": "Job not found"}, status=404)
        posts = self.posts
        if request.query.get("content") != "true":
            hidden = ("content", "departments", "offices")
            posts = [{k: v for k, v in post.items() if k not in hidden} for post in posts]
        return web.json_response({"jobs": posts, "meta": {"total": len(posts)}})

    # --- webhooks -----------------------------------------------------------------------------------

    @staticmethod
    def hire(
        application_id: int, job_id: str, *, email: str = "ada@example.com", source: str = "Appcast"
    ) -> dict[str, Any]:
        """A "Candidate has been hired" webhook body, trimmed to what the adapter reads and a little more."""
        return {
            "action": "hire_candidate",
            "payload": {
                "application": {
                    "id": application_id,
                    "status": "hired",
                    "last_activity_at": "2026-03-02T15:04:05.000Z",
                    "source": {"id": 16, "public_name": source},
                    "current_stage": {"id": 767_358, "name": "Offer"},
                    "jobs": [{"id": int(job_id), "name": "Vault Designer"}],
                    "candidate": {
                        "id": 57_683_957,
                        "first_name": "Ada",
                        "last_name": "Lovelace",
                        "email_addresses": [{"value": email, "type": "personal"}],
                    },
                }
            },
        }

    def signed(self, body: dict[str, Any] | bytes, secret: str | None = None) -> sdk.WebhookRequest:
        """A webhook as Greenhouse sends it: ``Signature: sha256 <hex HMAC-SHA256 of the raw body>``."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        digest = hmac.new((secret or self.webhook_secret).encode(), raw, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "Signature": f"sha256 {digest}",
            "Greenhouse-Event-ID": str(uuid.uuid4()),
        }
        return sdk.WebhookRequest(headers=headers, body=raw, query={}, received_at=datetime.now(UTC))
