"""A fake Appcast events endpoint: records what the hub posts and deduplicates by ``Idempotency-Key``.

Appcast's server-side event API is not public, so this fake is the hub's own reading of it (SPEC.md): one
JSON event per ``POST /events``, only 2xx means delivered, ``Idempotency-Key`` names the delivery across
retries. It is built for end-to-end and crash tests that send thousands of events: recording is O(1) per
request and nothing is copied until asked for.

    appcast = FakeAppcast(token="ac-token")
    async with appcast.serving():
        options = {"client_id": "c", "ent_id": "e", "events_url": appcast.events_url, "bearer_token": "…"}
        ...
        await appcast.wait_for_events(10)
        assert appcast.duplicates == 0

Answers: 200 for a new key and for a repeated one (counted in :attr:`duplicates`); 400 without an
``Idempotency-Key`` or with a body that is not a JSON object; 401 when :attr:`token` is set and the
bearer does not match; 422 when :attr:`validate` is on and the body is not the SPEC's shape. The
:class:`~hub.testing.peers.Faults` middleware (5xx bursts, 429, slowness) applies before any of that, so a
faulted request is never recorded.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from hub.normalised import FUNNEL_EVENTS
from hub.testing.peers import FakePeer

EVENTS_PATH = "/events"
#: The keys of an event body, exactly (SPEC.md, "Outbound events to Appcast").
PAYLOAD_KEYS = frozenset(
    {
        "event",
        "client_id",
        "ent_id",
        "job_reference",
        "application_id",
        "candidate_hash",
        "source",
        "stage",
        "occurred_at",
    }
)


@dataclass(slots=True, frozen=True)
class ReceivedEvent:
    """One accepted request: its key, the headers that matter, the decoded body and when it arrived."""

    key: str
    body: dict[str, Any]
    headers: Mapping[str, str]
    received_at: float
    duplicate: bool = False

    @property
    def authorization(self) -> str | None:
        """The ``Authorization`` header as sent, or None."""
        return self.headers.get("Authorization")

    @property
    def content_type(self) -> str | None:
        """The ``Content-Type`` header as sent, or None."""
        return self.headers.get("Content-Type")


def shape_problem(body: Mapping[str, Any]) -> str | None:
    """What is wrong with an event body against SPEC.md's shape, or None when it fits."""
    keys = set(body)
    if keys != PAYLOAD_KEYS:
        missing, extra = sorted(PAYLOAD_KEYS - keys), sorted(keys - PAYLOAD_KEYS)
        return f"keys differ from the spec: missing {missing}, unexpected {extra}"
    if body["event"] not in FUNNEL_EVENTS:
        return f"unknown event {body['event']!r}"
    for name in ("client_id", "ent_id", "occurred_at"):
        if not isinstance(body[name], str) or not body[name]:
            return f"{name} must be a non-empty string"
    for name in ("job_reference", "application_id", "candidate_hash", "source"):
        if body[name] is not None and not isinstance(body[name], str):
            return f"{name} must be a string or null"
    if not body["occurred_at"].endswith("Z"):
        return "occurred_at must be UTC, ending in Z"
    stage = body["stage"]
    if stage is not None and (not isinstance(stage, dict) or set(stage) != {"id", "name"}):
        return "stage must be null or an object with id and name"
    return None


@dataclass
class _Counters:
    rejected_auth: int = 0
    rejected_bad: int = 0
    lost_answers: int = 0
    abandoned: int = 0


class FakeAppcast(FakePeer):
    """A fake Appcast events endpoint. ``token``: the bearer token it requires (None: no auth)."""

    def __init__(self, *, token: str | None = None, validate: bool = True) -> None:
        super().__init__()
        self.token = token
        #: Refuse (422) bodies that are not SPEC.md's shape.
        self.validate = validate
        #: Every accepted request, duplicates included, in arrival order.
        self.received: list[ReceivedEvent] = []
        #: Repeated ``Idempotency-Key`` s answered 200 without being recorded as new events.
        self.duplicates = 0
        #: Keys repeated with a body different from the first one's (a sender bug: the key must pin it).
        self.conflicts: list[str] = []
        #: Answer the next requests with these statuses (after auth), e.g. ``deque([400, 404])``.
        self.statuses: deque[int] = deque()
        #: Record the next N events, then drop the connection without answering: the ack is lost, so
        #: the sender must retry with the same key and the retry must count as a duplicate.
        self.lose_answers = 0
        self.counters = _Counters()
        self._by_key: dict[str, ReceivedEvent] = {}
        self._arrived = asyncio.Event()

        self.app.router.add_post(EVENTS_PATH, self._post_event)

    @property
    def events_url(self) -> str:
        """The URL to configure as the account's ``events_url``."""
        return f"{self.url}{EVENTS_PATH}"

    # --- what arrived -------------------------------------------------------------------------------

    @property
    def events(self) -> list[ReceivedEvent]:
        """The distinct events (first arrival of each key), in arrival order."""
        return list(self._by_key.values())

    def keys(self) -> list[str]:
        """The distinct ``Idempotency-Key`` s, in order of first arrival."""
        return list(self._by_key)

    def payloads(self) -> list[dict[str, Any]]:
        """The bodies of the distinct events, in arrival order."""
        return [event.body for event in self._by_key.values()]

    def event(self, key: str) -> ReceivedEvent | None:
        """The first event that arrived with ``key``, or None."""
        return self._by_key.get(key)

    async def wait_for_events(self, count: int, timeout: float = 10.0) -> list[ReceivedEvent]:  # noqa: ASYNC109
        """Wait until at least ``count`` distinct events arrived; raise TimeoutError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while len(self._by_key) < count:
            self._arrived.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(self._by_key)} of {count} events arrived within {timeout:g}s")
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                continue
        return self.events

    def reset(self) -> None:
        """Forget everything received (faults, token and settings stay)."""
        self.received.clear()
        self._by_key.clear()
        self.duplicates = 0
        self.conflicts.clear()
        self.counters = _Counters()

    # --- the endpoint -------------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        sent = request.headers.get("Authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {self.token}".encode())

    async def _post_event(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            self.counters.rejected_auth += 1
            return web.json_response({"error": "invalid or missing bearer token"}, status=401)
        if self.statuses:
            status = self.statuses.popleft()
            return web.json_response({"error": f"injected HTTP {status}"}, status=status)
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            self.counters.rejected_bad += 1
            return web.json_response({"error": "Idempotency-Key header required"}, status=400)
        try:
            raw = await request.read()
        except ConnectionError:
            # The sender gave up (its timeout ran out while Faults.delay held the answer): nobody is
            # left to answer and nothing was delivered.
            self.counters.abandoned += 1
            return web.Response(status=499)
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = None
        if not isinstance(body, dict):
            self.counters.rejected_bad += 1
            return web.json_response({"error": "body must be a JSON object"}, status=400)
        if self.validate and (problem := shape_problem(body)) is not None:
            self.counters.rejected_bad += 1
            return web.json_response({"error": problem}, status=422)

        first = self._by_key.get(key)
        record = ReceivedEvent(
            key=key,
            body=body,
            headers={
                name: value
                for name in ("Idempotency-Key", "Authorization", "Content-Type", "User-Agent")
                if (value := request.headers.get(name)) is not None
            },
            received_at=time.monotonic(),
            duplicate=first is not None,
        )
        self.received.append(record)
        if first is not None:
            self.duplicates += 1
            if first.body != body:
                self.conflicts.append(key)
        else:
            self._by_key[key] = record
            self._arrived.set()

        if self.lose_answers:
            self.lose_answers -= 1
            self.counters.lost_answers += 1
            if request.transport is not None:
                request.transport.abort()  # the event is recorded; the sender never hears so
            raise asyncio.CancelledError
        return web.json_response({"status": "duplicate" if first is not None else "accepted", "key": key})
