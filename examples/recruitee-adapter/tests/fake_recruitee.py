"""A fake Recruitee on a real socket, answering as Recruitee's API reference shows its answers.

Offers (one unpaged list; a single offer's answer embeds its pipeline template), candidates paged
by ``limit``/``offset`` with their placements, candidates created with ``POST /candidates``, a
Bearer token, and webhooks signed as Recruitee signs them (the hex HMAC-SHA256 of the raw body in
``X-Recruitee-Signature``) by code written apart from the adapter's. Its answers start from the
samples in ``payloads/``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from hub import sdk

PAYLOADS = Path(__file__).parent / "payloads"
COMPANY = "acme"
API_TOKEN = "recruitee-personal-api-token-for-tests"
WEBHOOK_SECRET = "recruitee-webhook-secret-for-tests"
EPOCH = datetime(2026, 1, 1, 9, tzinfo=UTC)
FIRST_OFFER = 1_100_000
#: Offer FIRST_OFFER is closed, FIRST_OFFER + 5 a draft; the rest are published.
CLOSED, DRAFT = FIRST_OFFER, FIRST_OFFER + 5
#: The offer whose form requires a photo, which Appcast Apply cannot give.
PHOTO_OFFER = FIRST_OFFER + 2
#: The offer whose form requires a CV.
CV_OFFER = FIRST_OFFER + 4
DEFAULT_TEMPLATE = json.loads((PAYLOADS / "offer.json").read_text())["offer"]["pipeline_template"]
#: A second pipeline, used by the odd offers: its stages are listed under its own title.
ENGINEERING_TEMPLATE = {
    "id": 654487, "title": "Engineering", "default": False,
    "stages": [{"id": 8090001, "name": "Applied", "category": "apply"},
               {"id": 8090002, "name": "Tech test", "category": "evaluation"},
               {"id": 8090003, "name": "Signed", "category": "hire"},
               {"id": 8090004, "name": "Talent pool", "category": None}],
}  # fmt: skip
HIRED_STAGE = {"id": 8080464, "name": "Hired", "category": "hire"}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def signed(body: dict[str, Any] | bytes, secret: str = WEBHOOK_SECRET) -> sdk.WebhookRequest:
    """A webhook as Recruitee posts it: JSON, and the hex HMAC-SHA256 of the raw body in a header."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "User-Agent": "Recruitee-Webhooks",
               "X-Recruitee-Signature": digest}  # fmt: skip
    return sdk.WebhookRequest(headers=headers, body=raw, query={}, received_at=datetime.now(UTC))


class FakeRecruitee(sdk.FakePeer):
    """Company ``acme`` with ``count`` offers and the candidates tests add."""

    def __init__(self, count: int = 6) -> None:
        super().__init__()
        self.offers = [self._offer(n) for n in range(count)]
        self.candidates: list[dict[str, Any]] = []
        #: Ids of the candidates created through ``POST /candidates``, as ``{candidate}:{offer}``.
        self.created: list[str] = []
        self._ids = itertools.count(46_566_917)
        #: Answer every ``GET /candidates`` with the first page, whatever its ``offset`` (a broken proxy).
        self.ignore_offset = False
        #: Create the candidate, then answer 201 without its placements (or, "bare", without the candidate).
        self.unplaced_answer: str | None = None
        root = f"/c/{COMPANY}"
        self.app.router.add_get(f"{root}/offers", self._list_offers)
        self.app.router.add_get(f"{root}/offers/{{offer}}", self._get_offer)
        self.app.router.add_get(f"{root}/candidates", self._list_candidates)
        self.app.router.add_post(f"{root}/candidates", self._create_candidate)

    @staticmethod
    def _offer(n: int) -> dict[str, Any]:
        offer = load("offer.json")["offer"]
        offer_id, slug = FIRST_OFFER + n, f"backend-engineer-{n}"
        moment = iso(EPOCH + timedelta(days=n))
        offer.update(
            id=offer_id, slug=slug, title=f"Backend Engineer {n}", created_at=moment, updated_at=moment,
            published_at=moment, careers_url=f"https://acme.recruitee.com/o/{slug}",
            careers_apply_url=f"https://acme.recruitee.com/o/{slug}/c/new", url=f"https://acme.recruitee.com/o/{slug}",
            status={CLOSED: "closed", DRAFT: "draft"}.get(offer_id, "published"),
            remote=n == 1, hybrid=n == 3,
        )  # fmt: skip
        if n % 2:
            offer.update(
                pipeline_template_id=ENGINEERING_TEMPLATE["id"], pipeline_template=ENGINEERING_TEMPLATE
            )
        if offer_id == PHOTO_OFFER:
            offer["options_photo"] = "required"
        if offer_id == CV_OFFER:
            offer["options_cv"] = "required"
        return offer

    # --- what tests change ------------------------------------------------------------------------

    def offer_ids(self) -> set[str]:
        return {str(offer["id"]) for offer in self.offers}

    def change_offer(self, offer_id: int, **fields: Any) -> None:
        """Edit an offer; its ``updated_at`` moves to now."""
        offer = next(offer for offer in self.offers if offer["id"] == offer_id)
        offer.update(fields, updated_at=iso(datetime.now(UTC)))

    def _candidate(self, email: str, source: str) -> dict[str, Any]:
        candidate = load("candidate.json")
        candidate.update(id=next(self._ids), emails=[email], sources=[source], placements=[])
        self.candidates.append(candidate)
        return candidate

    def hire(self, offer_id: int, email: str = "ada@example.com", source: str = "Appcast",
             at: datetime | None = None) -> dict[str, Any]:  # fmt: skip
        """A candidate hired on ``offer_id`` now (or ``at``); returns the webhook Recruitee sends for it."""
        candidate, moment = self._candidate(email, source), iso(at or datetime.now(UTC))
        placement = {"id": candidate["id"] + 1, "candidate_id": candidate["id"], "offer_id": offer_id,
                     "stage_id": HIRED_STAGE["id"], "hired_at": moment, "updated_at": moment}  # fmt: skip
        candidate["placements"].append(placement)
        body = load("webhook_candidate_moved.json")
        body["created_at"] = moment
        body["payload"]["candidate"].update(id=candidate["id"], emails=[email], sources=[source])
        body["payload"]["offer"].update(id=offer_id, title=self._offer_by_id(offer_id)["title"])
        return body

    def moved(
        self, offer_id: int, to_stage: dict[str, Any], email: str = "grace@example.com"
    ) -> dict[str, Any]:
        """A candidate moved into ``to_stage`` on ``offer_id``: the webhook body (not a hire unless the
        stage's category is one)."""
        body = self.hire(offer_id, email=email)
        self.candidates[-1]["placements"][0].update(hired_at=None, stage_id=to_stage["id"])
        body["payload"]["details"]["to_stage"] = to_stage
        return body

    def created_candidate(self, offer_id: int, email: str = "alan@example.com") -> dict[str, Any]:
        """A candidate who applied on the careers site: the ``candidate_created`` webhook body."""
        candidate = self._candidate(email, "career_site")
        placement = {"id": candidate["id"] + 1, "candidate_id": candidate["id"], "offer_id": offer_id,
                     "stage_id": 8080459, "hired_at": None}  # fmt: skip
        candidate["placements"].append(placement)
        body = load("webhook_candidate_created.json")
        body["payload"]["candidate"].update(id=candidate["id"], emails=[email])
        body["payload"]["offer"]["id"] = offer_id
        return body

    def _offer_by_id(self, offer_id: Any) -> dict[str, Any] | None:
        return next((offer for offer in self.offers if str(offer["id"]) == str(offer_id)), None)

    # --- the API ------------------------------------------------------------------------------------

    def _refused(self, request: web.Request) -> web.Response | None:
        if hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {API_TOKEN}"):
            return None
        return web.json_response({"error": "Unauthorized"}, status=401)

    async def _list_offers(self, request: web.Request) -> web.Response:
        # The list holds no pipeline template: only a single offer's answer embeds it.
        listed = [{k: v for k, v in offer.items() if k != "pipeline_template"} for offer in self.offers]
        return self._refused(request) or web.json_response({"offers": listed})

    async def _get_offer(self, request: web.Request) -> web.Response:
        offer = self._offer_by_id(request.match_info["offer"])
        if offer is None:
            return self._refused(request) or web.json_response({"error": "Not found"}, status=404)
        return self._refused(request) or web.json_response({"offer": offer})

    async def _list_candidates(self, request: web.Request) -> web.Response:
        limit, offset = int(request.query.get("limit", "10000")), int(request.query.get("offset", "0"))
        offset = 0 if self.ignore_offset else offset
        page = self.candidates[offset : offset + limit]
        return self._refused(request) or web.json_response(
            {"candidates": page, "generated_at": iso(datetime.now(UTC))}
        )

    async def _create_candidate(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        body = await request.json()
        fields, offer_ids = body.get("candidate") or {}, body.get("offers") or []
        offers = [self._offer_by_id(offer_id) for offer_id in offer_ids]
        if not fields.get("name") or not all("@" in str(email) for email in fields.get("emails") or [""]):
            return web.json_response({"errors": ["Emails is invalid"]}, status=422)
        if None in offers or any(offer["status"] in ("closed", "archived") for offer in offers):
            return web.json_response({"errors": ["Offer is not accepting candidates"]}, status=422)
        candidate = self._candidate(fields["emails"][0], (fields.get("sources") or ["manual"])[0])
        candidate.update(name=fields["name"], phones=fields.get("phones") or [], sent=fields)
        for offer in offers:
            placement = {"id": candidate["id"] + 1, "candidate_id": candidate["id"], "offer_id": offer["id"],
                         "stage_id": 8080459, "hired_at": None}  # fmt: skip
            candidate["placements"].append(placement)
            self.created.append(f"{candidate['id']}:{offer['id']}")
        if self.unplaced_answer == "bare":
            return web.json_response({"references": []}, status=201)
        if self.unplaced_answer:
            candidate = {**candidate, "placements": []}
        return web.json_response({"candidate": candidate, "references": []}, status=201)
