"""Talking to peers over HTTP: JSON requests with retries, ``Retry-After`` and client-side rate limits.

Every adapter's ``client.py`` uses these, so timeouts, backoff and error reporting behave the same for
every ATS and destination; failures surface as :mod:`hub.errors` exceptions the hub knows how to report.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import hashlib
import json
import random
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp

from hub.errors import AdapterAuthError, AdapterUnavailable, ApplicationRefused, OutcomeUnknown

#: Longest ``Retry-After`` waited for within one call before giving up: a peer asking for more is
#: effectively down for now.
MAX_RETRY_AFTER = 60.0
#: Longest ``Retry-After`` honoured for queued work (deliveries, stored webhooks), which waits in the
#: database rather than in a call.
MAX_QUEUED_RETRY_AFTER = 86_400.0
#: How long a :class:`Pacer` keeps a turn booked for a caller that has not come back for it.
BOOKING_LAPSES = 60.0


class RateLimiter:
    """A token bucket: at most ``rate`` acquisitions per second, bursts up to ``burst``.

    Waiters queue in arrival order; nothing is ever dropped, callers simply wait their turn.
    """

    def __init__(self, rate: float, burst: int = 1) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until a request may be sent."""
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


class Pacer:
    """Turns at least ``1 / rate`` seconds apart, for a sender that must not wait long for one (the
    outbox's batch waits for it) and must keep its place in line when it does not.

    :meth:`turn`: a caller whose turn comes within what it may wait waits for it, and never longer; any
    other is booked a turn, told how far it is, and takes it when it comes back with the same key. So a
    burst is spread one turn each, in order, rather than all told the same time and refused again
    together; callers coming back late together are spread out again, not all let through at once.
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._next = 0.0  # monotonic: the first turn nobody has
        self._last = float("-inf")  # when the last turn was taken
        self._booked: dict[Hashable, float] = {}

    async def turn(self, key: Hashable, within: float) -> float | None:
        """None once ``key``'s turn has come (waited for, never longer than ``within`` seconds); else the
        seconds until the turn booked for ``key``, to come back then."""
        now = time.monotonic()
        gap = 1 / self.rate
        for lapsed in [booked for booked, at in self._booked.items() if at < now - BOOKING_LAPSES]:
            del self._booked[lapsed]  # its caller never came back (its delivery gone, or sent elsewhere)
        if not self._booked:
            self._next = self._last + gap  # no turn is promised: the next is free right after the last
        booked = self._booked.pop(key, None)
        # Its booked turn, or (a newcomer) after every turn booked; as late as it comes, and never closer
        # than a gap to the turn taken before: those coming back late, together, are spread out again.
        at = max(now, self._last + gap, self._next if booked is None else booked)
        if at - now > within:
            if booked is None or booked <= now:
                at = max(at, self._next)  # a newcomer, or one whose turn passed while it was away: last
            self._booked[key] = at
            self._next = max(self._next, at + gap)
            return at - now
        self._last = at
        self._next = max(self._next, at + gap)
        await asyncio.sleep(at - now)
        return None


#: The limiters and pacers of each event loop, by the key their callers share (an asyncio lock must not
#: cross loops).
_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, RateLimiter | Pacer]] = (
    weakref.WeakKeyDictionary()
)
_unlimited = False
_Shared = TypeVar("_Shared", RateLimiter, Pacer)


def rate_limiter(key: Hashable, rate: float, burst: int = 1) -> RateLimiter | None:
    """The one limiter for ``key`` on the running event loop, made on first use; None for no limit.

    An ATS limits requests per API key (or per account), not per hub object: every client of the same key
    passes the same ``key`` (hash the API key itself into it rather than keep it in clear) and so shares
    one budget. ``rate <= 0`` means no limit, and so does :func:`unlimited`, for tests.
    """
    if rate <= 0 or _unlimited:
        return None

    def fits(found: RateLimiter) -> bool:
        return (found.rate, found.burst) == (rate, burst)

    return _shared(("limiter", key), lambda: RateLimiter(rate, burst), fits)


def pacer(key: Hashable, rate: float) -> Pacer | None:
    """The one :class:`Pacer` for ``key`` on the running event loop (shared as :func:`rate_limiter`'s
    limiters are); None for no pace (``rate <= 0``, or within :func:`unlimited`)."""
    if rate <= 0 or _unlimited:
        return None
    return _shared(("pacer", key), lambda: Pacer(rate), lambda found: found.rate == rate)


def _shared(
    key: tuple[str, Hashable], make: Callable[[], _Shared], fits: Callable[[_Shared], bool]
) -> _Shared:
    """The running loop's object for ``key`` (its kind, then the callers' key), made on first use and made
    again when it no longer ``fits`` what its caller asks (another rate)."""
    shared = _LIMITERS.setdefault(asyncio.get_running_loop(), {})
    found = shared.get(key)
    if found is None or not fits(found):  # type: ignore[arg-type]
        found = shared[key] = make()
    return found  # type: ignore[return-value]


@contextlib.contextmanager
def unlimited() -> Iterator[None]:
    """Within the block, :func:`rate_limiter` limits nothing and :func:`pacer` paces nothing: tests
    against a fake ATS need not wait."""
    global _unlimited
    before, _unlimited = _unlimited, True
    try:
        yield
    finally:
        _unlimited = before


def peer_message(detail: Any) -> str:
    """What a peer's error body says, in its own words: the usual places APIs put them, else the text.

    ``{"error": "…"}``, ``{"message": "…"}``, ``{"errors": ["…"]}`` and JSON:API's ``{"errors":
    [{"detail"|"title", "source": {"pointer"}}]}`` (each with the field it names); at most 300 characters.
    """
    if isinstance(detail, str):
        return detail.strip()[:300]
    if not isinstance(detail, dict):
        return ""
    for key in ("error", "message", "error_description", "detail"):
        value = detail.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:300]
        if isinstance(value, dict):
            return peer_message(value)
    lines = []
    for error in detail.get("errors") if isinstance(detail.get("errors"), list) else ():
        if isinstance(error, str):
            lines.append(error)
        elif isinstance(error, dict):
            text = next(
                (error[k] for k in ("detail", "title", "message", "code") if isinstance(error.get(k), str)),
                "",
            )
            source = error.get("source")
            pointer = source.get("pointer") if isinstance(source, dict) else None
            field = pointer.rsplit("/", 1)[-1] if isinstance(pointer, str) else error.get("field")
            if isinstance(field, str) and field and field.lower() not in text.lower():
                text = f"{field}: {text}" if text else f"{field} is invalid"
            if text:
                lines.append(text)
    return "; ".join(lines)[:300]


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential backoff: a random delay in ``[0, min(cap, base * 2**attempt))``."""
    return random.uniform(0, min(cap, base * 2**attempt))


def retry_delay(backoff: float, retry_after: float | None) -> float:
    """Seconds until a queued retry: ``backoff``, or longer if the peer asked for it (its ``Retry-After``).

    The peer's wish is honoured up to :data:`MAX_QUEUED_RETRY_AFTER`, so a garbled header cannot park work
    for years.
    """
    if retry_after is None:
        return backoff
    return max(backoff, min(retry_after, MAX_QUEUED_RETRY_AFTER))


def retry_after(response: aiohttp.ClientResponse) -> float | None:
    """The answer's ``Retry-After`` in seconds from now (it may be a delay or an HTTP date); None if absent
    or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is read as such
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


async def _detail(response: aiohttp.ClientResponse) -> Any:
    """The error body: decoded JSON when it is JSON, else (at most 2,000 characters of) text."""
    text = (await response.text(errors="replace"))[:2000]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


async def post_once(
    http: aiohttp.ClientSession,
    url: str,
    body: bytes,
    *,
    peer: str,
    headers: Mapping[str, str],
    secrets: tuple[str, ...] = (),
    timeout_seconds: float,
    auth_hint: str = "check the account's credentials",
) -> None:
    """POST ``body`` once (an outbox delivery attempt); return when ``peer`` answered 2xx.

    The outbox owns retries, with the same ``Idempotency-Key`` every attempt, so this never retries. Any
    other outcome raises: 401/403 :class:`AdapterAuthError` (its message ends with ``auth_hint``), anything
    else :class:`AdapterUnavailable` with ``status`` and the peer's ``Retry-After`` (429, 503). Messages name
    ``peer``, never the URL (its query may carry a key); ``secrets`` are masked in what the peer echoed.
    Redirects are not followed: they would resend credentials wherever they point.
    """
    try:
        async with http.post(
            url,
            data=body,
            headers=dict(headers),
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
            allow_redirects=False,
        ) as response:
            status = response.status
            if 200 <= status < 300:
                return
            detail = _masked(await response.text(errors="replace"), secrets)
            wait = retry_after(response) if status in (429, 503) else None
    except (aiohttp.ClientError, TimeoutError) as error:
        if isinstance(error, TimeoutError | aiohttp.ServerTimeoutError):
            raise AdapterUnavailable(f"{peer} did not answer within {timeout_seconds:g}s") from None
        raise AdapterUnavailable(f"{peer} unreachable: {type(error).__name__}") from None
    message = f"{peer} answered HTTP {status}"
    if 300 <= status < 400:
        detail = "redirects are not followed: configure the URL it points to"
    if detail:
        message = f"{message}: {detail}"
    if status in (401, 403):
        raise AdapterAuthError(f"{message} ({auth_hint})", status=status)
    raise AdapterUnavailable(message, status=status, retry_after=wait)


#: Longest piece of an error answer's body quoted in a :func:`post_once` error.
_MAX_ECHO = 160


def _masked(text: str, secrets: tuple[str, ...]) -> str:
    # A proxy or debugging endpoint may echo the request back: never let it carry a secret out.
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text[:_MAX_ECHO] + "…" if len(text) > _MAX_ECHO else text


async def request_json(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    peer: str,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    form_body: Mapping[str, str] | None = None,
    limiter: RateLimiter | None = None,
    attempts: int = 4,
    backoff_base: float = 0.5,
    backoff_cap: float = 8.0,
    timeout: float = 30.0,  # noqa: ASYNC109 -- a limit per attempt, not for the whole call
    idempotent: bool | None = None,
    refusals: bool = False,
) -> Any:
    """Send a request and return its decoded JSON body, retrying what is worth retrying.

    The body goes as JSON (``json_body``) or, for the endpoints that take one (OAuth token endpoints),
    as a form (``form_body``).

    Every answer maps to one outcome, so callers need no ``except`` chain of their own:

    * 2xx: the decoded body (None when empty); a body that is not JSON is retried, then
      :class:`~hub.errors.AdapterUnavailable` (for a request that is not ``idempotent``,
      :class:`~hub.errors.OutcomeUnknown` at once: the peer acted);
    * 401/403: :class:`~hub.errors.AdapterAuthError` at once (retrying will not help);
    * 429, 5xx, timeouts, connection errors: retried up to ``attempts`` times (429 waits for its
      ``Retry-After``, else full-jitter backoff), then ``AdapterUnavailable`` with ``retry_after`` set;
    * other 4xx: with ``refusals`` (creating an application), :class:`~hub.errors.ApplicationRefused`
      with the peer's own words (:func:`peer_message`); else ``AdapterUnavailable``. Both carry the
      status and the peer's body as ``detail``.

    ``peer`` names the peer in error messages; URLs are never put in them, because query strings may
    carry keys. A request that is not ``idempotent`` (by default: POST and PATCH) is only retried when the
    peer surely did not act on it (429, or no connection made); a timeout, dropped connection or 5xx
    after sending raises :class:`~hub.errors.OutcomeUnknown` instead.
    """
    body, _ = await _exchange(
        http, method, url, peer=peer, params=params, headers=headers, json_body=json_body,
        form_body=form_body, limiter=limiter, attempts=attempts, backoff_base=backoff_base,
        backoff_cap=backoff_cap, timeout=timeout, idempotent=idempotent, refusals=refusals,
    )  # fmt: skip
    return body


async def _exchange(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    peer: str,
    params: Mapping[str, str] | None,
    headers: Mapping[str, str] | None,
    json_body: Any,
    form_body: Mapping[str, str] | None,
    limiter: RateLimiter | None,
    attempts: int,
    backoff_base: float,
    backoff_cap: float,
    timeout: float,  # noqa: ASYNC109 -- a limit per attempt, not for the whole call
    idempotent: bool | None,
    refusals: bool,
) -> tuple[Any, str | None]:
    """:func:`request_json`'s work: the decoded body, and the ``Link: <…>; rel="next"`` URL if any."""
    if idempotent is None:
        idempotent = method.upper() not in ("POST", "PATCH")
    problem = "no attempt made"
    last_status: int | None = None
    wait: float | None = None
    for attempt in range(attempts):
        if limiter is not None:
            await limiter.acquire()
        wait: float | None = None
        try:
            async with http.request(
                method,
                url,
                params=params,
                headers=headers,
                json=json_body,
                data=form_body,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                if response.status in (401, 403):
                    raise AdapterAuthError(
                        f"{peer} refused the credentials (HTTP {response.status})", status=response.status
                    )
                if response.status >= 500 and not idempotent:
                    raise OutcomeUnknown(
                        f"{peer} answered HTTP {response.status}: the request may have taken effect",
                        status=response.status,
                        detail=await _detail(response),
                    )
                if response.status == 429 or response.status >= 500:
                    problem, last_status = f"{peer} answered HTTP {response.status}", response.status
                    wait = retry_after(response) if response.status == 429 else None
                    if wait is not None and wait > MAX_RETRY_AFTER:
                        raise AdapterUnavailable(
                            f"{problem} and asked to wait {wait:g}s", status=last_status, retry_after=wait
                        )
                elif response.status >= 400:
                    detail = await _detail(response)
                    if refusals:
                        words = peer_message(detail) or f"HTTP {response.status}"
                        raise ApplicationRefused(
                            f"{peer} refused the application: {words}", status=response.status, detail=detail
                        )
                    text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
                    raise AdapterUnavailable(
                        f"{peer} answered HTTP {response.status}: {text[:200]}",
                        status=response.status,
                        detail=detail,
                    )
                else:
                    body = await response.read()
                    link = response.links.get("next")
                    try:
                        return (json.loads(body) if body else None), str(link["url"]) if link else None
                    except (UnicodeDecodeError, json.JSONDecodeError):
                        problem = f"{peer} answered with a body that is not JSON"
                        if not idempotent:
                            # A 2xx: the peer acted. Sending it again could act twice.
                            raise OutcomeUnknown(
                                f"{problem} (HTTP {response.status}): the request may have taken effect",
                                status=response.status,
                            ) from None
        except aiohttp.ClientConnectorError as error:  # never connected: nothing was sent
            problem = f"{peer} unreachable: {type(error).__name__}"
        except (aiohttp.ClientError, TimeoutError) as error:
            problem = f"{peer} unreachable: {type(error).__name__}"
            if not idempotent:
                raise OutcomeUnknown(f"{problem}: the request may have taken effect") from None
        if attempt + 1 < attempts:
            await asyncio.sleep(
                wait if wait is not None else backoff_delay(attempt, backoff_base, backoff_cap)
            )
    raise AdapterUnavailable(f"{problem} (after {attempts} attempts)", status=last_status, retry_after=wait)


async def follow_pages(
    fetch: Callable[[Any], Awaitable[tuple[list[Any], Any]]], *, peer: str
) -> AsyncIterator[list[Any]]:
    """Every page of a paged list, to the end, whatever the peer's paging: ``fetch(cursor)`` returns the
    page's items and the next cursor (a page number, an offset, a token, a URL), None after the last
    page; the first call gets None. A cursor seen before (a server ignoring its paging) fails the list
    rather than loop forever or stop early passing part of it off as the whole.
    """
    seen: set[Any] = set()
    cursor = None
    while True:
        items, cursor = await fetch(cursor)
        yield items
        if cursor is None:
            return
        if cursor in seen:
            raise AdapterUnavailable(f"{peer} sent a page cursor it had sent before ({str(cursor)[:40]!r})")
        seen.add(cursor)


class Api:
    """One account's connection to a peer's JSON API: its root URL, its credentials, its share of the
    peer's rate limit. A client module built on it holds only what is the ATS's own.

    ``rate_key`` is what the peer limits by (usually the API key: it is hashed here, never kept in
    clear): every :class:`Api` with the same root and key shares one :func:`rate_limiter`.
    """

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        *,
        peer: str,
        headers: Mapping[str, str] | None = None,
        rate: float = 0.0,
        rate_key: str = "",
        burst: int = 1,
        attempts: int = 4,
        backoff_base: float = 0.5,
        timeout: float = 30.0,
        on_auth_error: Callable[[], None] | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.peer = peer
        self.headers = dict(headers or {})
        key = hashlib.sha256(rate_key.encode()).hexdigest()
        self.limiter = rate_limiter((peer, self.base_url, key), rate, burst)
        self.attempts = attempts
        self.backoff_base = backoff_base
        self.timeout = timeout
        #: Called when the peer refuses the credentials (401/403), before the error is raised: where the
        #: credential is a cached token, dropping it lets the next call ask for a new one.
        self.on_auth_error = on_auth_error

    def url(self, path: str) -> str:
        """The URL of ``path`` (``/jobs``), or ``path`` itself when it is a URL the peer gave (a next page)
        under ``base_url``: the credentials go with every request, so never to another host."""
        if path.startswith("/"):
            return self.base_url + path
        if path.startswith(self.base_url + "/"):
            return path
        # Not quoted: a URL's query may carry what must not reach a log.
        raise AdapterUnavailable(f"{self.peer} sent a link outside its API: not followed")

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        refusals: bool = False,
        idempotent: bool | None = None,
    ) -> Any:
        """:func:`request_json` of ``method`` on :meth:`url` ``(path)``, with the credentials and the limit
        (``idempotent``: for an RPC API that reads by POST, a read that is safe to retry)."""
        body, _ = await self._exchange(method, path, params, json_body, refusals, idempotent)
        return body

    async def _exchange(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        json_body: Any,
        refusals: bool,
        idempotent: bool | None,
    ) -> tuple[Any, str | None]:
        try:
            return await _exchange(
                self.http, method, self.url(path), peer=self.peer, params=params, headers=self.headers,
                json_body=json_body, form_body=None, limiter=self.limiter, attempts=self.attempts,
                backoff_base=self.backoff_base, backoff_cap=8.0, timeout=self.timeout, idempotent=idempotent,
                refusals=refusals,
            )  # fmt: skip
        except AdapterAuthError:
            if self.on_auth_error is not None:
                self.on_auth_error()
            raise

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET ``path`` (or a URL the peer gave, see :meth:`url`): its decoded JSON."""
        return await self.request("GET", path, params=params)

    async def get_page(self, path: str, params: Mapping[str, str] | None = None) -> tuple[Any, str | None]:
        """GET one page of a list paged by ``Link`` headers (RFC 8288): its decoded JSON and its
        ``rel="next"`` URL (None on the last page), which the next call takes as ``path``."""
        return await self._exchange("GET", path, params, None, False, None)

    async def post(
        self, path: str, body: Any, *, refusals: bool = False, idempotent: bool | None = None
    ) -> Any:
        """POST ``body`` as JSON to ``path`` (``refusals``: a 4xx is the peer refusing an application)."""
        return await self.request("POST", path, json_body=body, refusals=refusals, idempotent=idempotent)


def basic_auth(user: str, password: str = "") -> dict[str, str]:
    """The ``Authorization`` header of HTTP Basic auth (RFC 7617), for ATSs that take their API key as the
    user name and no password (Ashby, Lever) or an OAuth client's id and secret (Greenhouse)."""
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}
