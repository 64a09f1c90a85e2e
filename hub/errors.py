"""Exceptions that cross the plugin boundary, each mapped to one outcome the hub knows how to report."""

from collections.abc import Mapping
from typing import Any


class HubError(Exception):
    """Base class for every error the hub raises on purpose."""


class ShapeError(HubError, ValueError):
    """A shape (:class:`~hub.normalised.Job`, ``Event``, ``Stage``…) built with a value it cannot hold.

    Raised where the shape is made, naming the field and the values it takes, so an adapter's mistake
    (an event kind that does not exist, a naive time) fails loudly in its own code and its own tests.
    """


class ConfigError(HubError):
    """The configuration is wrong: names the file, the key and the problem, in one line."""

    def __init__(self, problem: str, *, key: str | None = None, file: str | None = None) -> None:
        self.problem = problem
        self.key = key
        self.file = file
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.key) if part)
        return f"{where}: {self.problem}" if where else self.problem


class AdapterUnavailable(HubError):
    """The ATS (or another peer) could not be reached or answered garbage; retry later.

    Adapters raise it for timeouts, 5xx, 429 after retries and unparseable bodies. The sync keeps the
    last good data and records ``str(error)`` as the account's sync status. ``status`` is the peer's
    last HTTP status when it answered at all, so callers can tell a 404 from an outage. ``retry_after``
    is the peer's ``Retry-After`` in seconds, when it sent one: queued work waits at least that long.
    """

    def __init__(
        self, message: str, *, status: int | None = None, detail: Any = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        #: The peer's error body (decoded JSON, or text) when it sent one: for adapters to read.
        self.detail = detail
        #: Seconds the peer asked us to wait (its ``Retry-After``), if it did: the hub's workers wait at
        #: least that long before the next attempt, whatever their own backoff says.
        self.retry_after = retry_after


class SendLater(HubError):
    """A delivery the destination's own pace says to send later: not a failure, and not an outage.

    A chat sink posts about a message a second per channel: a burst of notices would hold the outbox's
    whole batch (and every delivery claimed after it, Appcast's included) while each waits its turn. The
    sink raises this instead of waiting long (:class:`hub.http.Pacer` books the turn); the outbox puts the
    delivery back, due in ``seconds``, its attempt not counted, its last error kept and no breaker told.
    """

    def __init__(self, reason: str, seconds: float) -> None:
        super().__init__(reason)
        self.seconds = seconds


class OutcomeUnknown(AdapterUnavailable):
    """A request that is not safe to repeat (creating an application) may or may not have taken effect.

    Raised for a timeout, a dropped connection or a 5xx after the request was sent: the hub neither
    repeats it nor claims nothing happened.
    """


class AdapterAuthError(AdapterUnavailable):
    """The peer refused our credentials (401/403): retrying will not help until config changes."""


class WebhookRejected(HubError):
    """A webhook failed verification (bad or missing signature, stale timestamp, replay): answer 401."""


class WebhookHandshake(HubError):
    """Not an event but the ATS checking the endpoint: a subscription's activation, a test ping.

    Raised by ``verify_webhook``: the hub answers ``status`` with ``headers`` (SmartRecruiters wants its
    ``X-Hook-Secret`` echoed) and stores nothing, so a handshake, which ATSs send unsigned, costs a
    stranger's request no row.
    """

    def __init__(
        self, reason: str = "handshake", *, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.headers = dict(headers or {})


class WebhookMalformed(HubError):
    """A webhook's body could not be understood (not JSON, missing fields): answer 400."""


class WebhookUnconfirmed(HubError):
    """The ATS's API does not bear out what a webhook's unsigned part claims (a hire that is no hire).

    Raised by ``parse_webhook`` where the ATS signs less than the whole body (Lever signs only a token and
    a time): the hub keeps the webhook, marked failed with this message, and delivers nothing for it.
    A true event is found again by reconciliation, from the API.
    """


class ApplicationRefused(HubError):
    """An application cannot be created as sent (unsupported question, missing field): answer 422.

    ``status`` and ``detail`` are the ATS's answer when it was the ATS that refused (a 4xx), for adapters
    that look at why (and may send again without what it refused).
    """

    def __init__(self, message: str, *, status: int | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
