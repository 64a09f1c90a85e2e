"""A circuit breaker per destination: when a destination keeps failing, the outbox stops sending to it and
sends one probe per interval instead, until a probe gets through.

A destination is a destination plugin *and the account it sends for* (:class:`DestinationKey`): what a
delivery is sent with (the URL, the token, the rate limit a peer keeps per key) is the account's, so one
account's broken URL or revoked token opens that account's breaker only, and every other account keeps
sending. A peer-wide outage opens each account's breaker in turn: one probe per interval per account.

States: **closed** (sending), **open** (sending nothing; the earliest due delivery goes as a probe once
the probe interval has passed), **half-open** (the probe is on its way). ``threshold`` consecutive outages
(:func:`is_outage`: no answer, 5xx, 429, credentials refused) open it; any answer that is not an outage,
a 4xx refusing one payload included, shows the destination is up and resets the count. A probe that gets
through closes it; one that fails opens it again, the interval backing off (full jitter, never shorter
than ``probe_seconds``) up to ``probe_cap_seconds``.

Each process has its own breakers: with several replicas each finds the outage by itself and sends at
most one probe per interval. Transitions go to the listeners of :func:`subscribe` (the seam an incident
notifier hooks into) and into the metrics; :func:`states` tells ``status`` what this process sees.
"""

from __future__ import annotations

import enum
import logging
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, cast

from hub.errors import AdapterAuthError, AdapterUnavailable
from hub.http import backoff_delay, retry_delay
from hub.metrics import BREAKER_PROBES, BREAKER_STATE

_LOGGER = logging.getLogger(__name__)

BreakerStateName = Literal["closed", "half-open", "open"]


class BreakerState(enum.IntEnum):
    """A breaker's state; its value is the metric's (0 closed, 1 half-open, 2 open)."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2

    @property
    def label(self) -> BreakerStateName:
        """How ``status`` names it: ``closed``, ``half-open``, ``open``."""
        return cast(BreakerStateName, self.name.lower().replace("_", "-"))


class DestinationKey(NamedTuple):
    """What one breaker guards: deliveries of ``account`` (its row id and name) through ``destination``."""

    destination: str
    account_id: int
    account: str


@dataclass(frozen=True, slots=True)
class Transition:
    """A breaker changing state, as handed to :func:`subscribe` listeners.

    ``opened`` (closed → open) and ``closed`` (half-open → closed) are what an incident opens and resolves
    on; a failed probe (half-open → open) is reported as neither, and a probe leaving (open → half-open)
    is not reported.
    """

    key: DestinationKey
    before: BreakerState
    after: BreakerState
    #: The outage that opened it (or the probe's), None on closing.
    error: str | None

    @property
    def opened(self) -> bool:
        """The destination has just been found down."""
        return self.before is BreakerState.CLOSED and self.after is BreakerState.OPEN

    @property
    def closed(self) -> bool:
        """The destination is back."""
        return self.after is BreakerState.CLOSED


#: The longest wait between two probes when ``breaker_probe_cap_seconds`` is unset.
DEFAULT_PROBE_CAP_SECONDS = 300.0

Listener = Callable[[Transition], None]
_LISTENERS: list[Listener] = []
#: Every live set of breakers in this process (one per outbox worker), for ``status``.
_ALL: weakref.WeakSet[Breakers] = weakref.WeakSet()


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call ``listener`` on every reported :class:`Transition` of any breaker of this process; returns
    the function that unsubscribes it. Listeners run on the event loop, inside the outbox's round: they
    must be quick and must not raise (queue a notice, do not send it)."""
    _LISTENERS.append(listener)
    return lambda: _LISTENERS.remove(listener)


def states(account: str) -> dict[str, BreakerState]:
    """This process's breaker states of ``account``, by destination; a destination never failed is absent
    (closed)."""
    found: dict[str, BreakerState] = {}
    for breakers in _ALL:
        for key, breaker in breakers.items():
            if key.account == account:
                found[key.destination] = max(found.get(key.destination, breaker.state), breaker.state)
    return found


def is_outage(error: AdapterUnavailable) -> bool:
    """Does this failure say the destination is down for every delivery, not that it refused this one?

    No answer at all (``status`` None: unreachable, timed out), 5xx and 429 are outages; so are refused
    credentials, which refuse every delivery alike (dead-lettering them all would only leave an admin to
    replay them once the token is fixed). Any other 4xx refuses one payload: the destination is up.
    """
    status = error.status
    return status is None or status == 429 or status >= 500 or isinstance(error, AdapterAuthError)


@dataclass(slots=True)
class Breaker:
    """One destination's breaker."""

    state: BreakerState = BreakerState.CLOSED
    #: Outages in a row (reset by any answer that is not one).
    failures: int = 0
    #: Probes failed since it opened: the probe interval backs off with them.
    failed_probes: int = 0
    #: ``time.monotonic()`` from which the next probe may go (while open).
    probe_at: float = 0.0
    last_error: str | None = field(default=None)


class Breakers:
    """The breakers of one outbox worker, by :class:`DestinationKey`, made closed on first use."""

    def __init__(self, threshold: int, probe_seconds: float, probe_cap_seconds: float) -> None:
        self.threshold = threshold
        self.probe_seconds = probe_seconds
        self.probe_cap_seconds = max(probe_cap_seconds, probe_seconds)
        self._breakers: dict[DestinationKey, Breaker] = {}
        _ALL.add(self)

    @classmethod
    def from_events(cls, events: Mapping[str, Any]) -> Breakers:
        """Breakers as ``[events]`` sets them. Unset, probes follow a delivery's own retries: the first
        after ``backoff_seconds``, backing off to ``backoff_cap_seconds`` but to no more than
        :data:`DEFAULT_PROBE_CAP_SECONDS`, so that a recovered destination is found within minutes."""
        probe = events["breaker_probe_seconds"] or events["backoff_seconds"]
        cap = events["breaker_probe_cap_seconds"]
        cap = cap or min(events["backoff_cap_seconds"], DEFAULT_PROBE_CAP_SECONDS)
        return cls(events["breaker_threshold"], probe, cap)

    def items(self) -> list[tuple[DestinationKey, Breaker]]:
        """Every destination seen failing, with its breaker."""
        return list(self._breakers.items())

    def state(self, key: DestinationKey) -> BreakerState:
        """The state of ``key``'s breaker (closed when it never failed)."""
        breaker = self._breakers.get(key)
        return breaker.state if breaker is not None else BreakerState.CLOSED

    def blocked(self) -> list[DestinationKey]:
        """Destinations not to claim deliveries for: open, or with a probe on its way."""
        return [key for key, breaker in self._breakers.items() if breaker.state is not BreakerState.CLOSED]

    def probes_due(self) -> list[DestinationKey]:
        """Open destinations whose probe interval has passed: each is now half-open until
        :meth:`record` (or :meth:`no_probe`) says how its probe went."""
        now = time.monotonic()
        due = [
            key
            for key, breaker in self._breakers.items()
            if breaker.state is BreakerState.OPEN and breaker.probe_at <= now
        ]
        for key in due:
            self._move(key, BreakerState.HALF_OPEN, None)
        return due

    def no_probe(self, key: DestinationKey) -> None:
        """Nothing was due to probe ``key`` with: open again (not a transition to report), probing as soon
        as something is due."""
        self._breakers[key].state = BreakerState.OPEN
        BREAKER_STATE.labels(key.destination, key.account).set(BreakerState.OPEN.value)

    def seconds_to_next_probe(self) -> float | None:
        """Seconds until the next probe falls due (None: none is waiting for its time). A probe already
        due but with nothing to send is not counted: the worker's poll and wake-ups look for work anyway,
        and counting it would make the loop spin."""
        now = time.monotonic()
        waits = [
            breaker.probe_at - now
            for breaker in self._breakers.values()
            if breaker.state is BreakerState.OPEN and breaker.probe_at > now
        ]
        return min(waits, default=None)

    def record(self, key: DestinationKey, error: AdapterUnavailable | None) -> BreakerState:
        """Record how a send to ``key`` went (``error`` None: the destination answered, success or a
        refusal of the payload); returns the breaker's state after it."""
        if self.state(key) is BreakerState.HALF_OPEN:
            # A probe's outcome: counted as it reached the destination (one claimed that waited for the
            # notice it follows, or found nothing to send, never did).
            BREAKER_PROBES.labels(key.destination, key.account).inc()
        if error is None or not is_outage(error):
            breaker = self._breakers.get(key)
            if breaker is not None:
                breaker.failures = 0
                if breaker.state is not BreakerState.CLOSED:
                    breaker.failed_probes = 0
                    self._move(key, BreakerState.CLOSED, None)
            return BreakerState.CLOSED
        breaker = self._breakers.setdefault(key, Breaker())
        breaker.failures += 1
        breaker.last_error = str(error)
        if breaker.state is BreakerState.HALF_OPEN:
            breaker.failed_probes += 1
            self._open(key, breaker, error)
        elif breaker.state is BreakerState.CLOSED and breaker.failures >= self.threshold:
            self._open(key, breaker, error)
        return breaker.state

    def _open(self, key: DestinationKey, breaker: Breaker, error: AdapterUnavailable) -> None:
        # Never sooner than probe_seconds, so probes stay under one per interval; jittered above it so
        # replicas that opened together do not probe together.
        spread = self.probe_cap_seconds - self.probe_seconds
        interval = self.probe_seconds + backoff_delay(breaker.failed_probes, self.probe_seconds, spread)
        breaker.probe_at = time.monotonic() + retry_delay(interval, error.retry_after)
        self._move(key, BreakerState.OPEN, str(error))

    def _move(self, key: DestinationKey, after: BreakerState, error: str | None) -> None:
        breaker = self._breakers.setdefault(key, Breaker())
        before, breaker.state = breaker.state, after
        BREAKER_STATE.labels(key.destination, key.account).set(after.value)
        if before is after or after is BreakerState.HALF_OPEN:
            return
        transition = Transition(key, before, after, error)
        if transition.opened:
            _LOGGER.warning("%s of %s is down (%s): sending one probe per %gs until it answers",
                            key.destination, key.account, error, self.probe_seconds)  # fmt: skip
        elif transition.closed:
            _LOGGER.warning("%s of %s answers again: sending resumes", key.destination, key.account)
        for listener in list(_LISTENERS):
            try:
                listener(transition)
            except Exception:  # a listener's bug must not stop the outbox
                _LOGGER.exception("breaker listener %r failed", listener)
