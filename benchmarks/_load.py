"""A lean HTTP/1.1 load generator for the benchmarks: closed loop at full speed, or open loop at a fixed rate.

Not a benchmark. No load-testing tool (wrk, hey, ab) is installed, and aiohttp's client costs about as much
CPU per request as the aiohttp server being measured, so on a two-core machine it would cap both the hub
and the hello-world yardstick at the client's own speed. This client is an :class:`asyncio.Protocol` per
keep-alive connection that sends prepared request bytes and parses only the status line and
``Content-Length`` of each answer: a few microseconds per request.

* :func:`closed_loop`: ``concurrency`` connections, each sending its next request as soon as the previous
  answer is in, until ``count`` requests are answered: the server's maximum rate.
* :func:`open_loop`: requests at a fixed offered ``rate`` for ``seconds``, sent on whichever connection is
  idle (new ones opened as needed, up to ``max_connections``). Latency is counted from the moment a request
  was *due*, so a server that falls behind is not flattered by requests waiting to be sent (no coordinated
  omission).

Everything stays on loopback: the target is a ``http://127.0.0.1:PORT`` base URL.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from benchmarks._common import cpu_seconds


def request_bytes(
    base_url: str, method: str, target: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
) -> bytes:
    """One HTTP/1.1 keep-alive request, ready to send."""
    host = urlsplit(base_url).netloc
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers)]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Connection(asyncio.Protocol):
    """One keep-alive connection; :meth:`send` returns a future of the answer's status."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiting: asyncio.Future[int] | None = None
        self._body_left = -1  # -1: reading the head; otherwise body bytes still to skip
        self._status = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_exception(ConnectionError(f"connection lost: {exc}"))

    def send(self, data: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self._waiting = asyncio.get_running_loop().create_future()
        if self.closed:
            self._waiting.set_exception(ConnectionError("connection closed"))
        else:
            self.transport.write(data)
        return self._waiting

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while True:
            if self._body_left < 0:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(buffer[:end]).lower()
                del buffer[: end + 4]
                self._status = int(head[9:12])
                if self._status in (204, 304) or self._status < 200:
                    self._body_left = 0
                else:
                    at = head.find(b"\r\ncontent-length:")
                    if at < 0:
                        self._fail("answer without Content-Length (chunked answers are not supported)")
                        return
                    stop = head.find(b"\r\n", at + 2)
                    self._body_left = int(head[at + 17 : stop if stop >= 0 else len(head)])
            if len(buffer) < self._body_left:
                return
            del buffer[: self._body_left]
            self._body_left = -1
            waiting, self._waiting = self._waiting, None
            if waiting is not None and not waiting.done():
                waiting.set_result(self._status)
            if not buffer:
                return

    def _fail(self, reason: str) -> None:
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_exception(ConnectionError(reason))
        if self.transport is not None:
            self.transport.close()


async def _connect(base_url: str) -> _Connection:
    parts = urlsplit(base_url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"the load generator only targets loopback, not {base_url}")
    _, protocol = await asyncio.get_running_loop().create_connection(_Connection, parts.hostname, parts.port)
    return protocol


@dataclass
class LoadResult:
    """What a load run did: answers by status, errors, wall seconds, latencies and the CPU both sides used."""

    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    client_cpu: float = 0.0
    server_cpu: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def per_second(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "answered": self.answered,
            "statuses": dict(sorted(self.statuses.items())),
            "errors": self.errors,
            "seconds": self.seconds,
            "per_second": self.per_second,
            "p50": self.percentile(0.50),
            "p90": self.percentile(0.90),
            "p99": self.percentile(0.99),
            "max": max(self.latencies, default=0.0),
            "client_cpu": self.client_cpu,
            "server_cpu": self.server_cpu,
            **self.extra,
        }


def _count(result: LoadResult, status: int, latency: float) -> None:
    result.statuses[status] = result.statuses.get(status, 0) + 1
    result.latencies.append(latency)


async def closed_loop(
    base_url: str,
    requests: Callable[[int], bytes],
    *,
    count: int,
    concurrency: int,
    server_pid: int | None = None,
    timeout: float = 120.0,  # noqa: ASYNC109 - a bound on the whole run, not one call
) -> LoadResult:
    """``count`` requests (``requests(i)``), ``concurrency`` at a time, each connection back to back."""
    result = LoadResult()
    connections = [await _connect(base_url) for _ in range(concurrency)]
    numbers = iter(range(count))

    async def worker(connection: _Connection) -> None:
        for number in numbers:
            data = requests(number)
            result.sent += 1
            started = time.perf_counter()
            try:
                status = await connection.send(data)
            except ConnectionError:
                result.errors += 1
                connection = await _connect(base_url)
                connections.append(connection)
                continue
            _count(result, status, time.perf_counter() - started)

    cpu, server = cpu_seconds(), cpu_seconds(server_pid) if server_pid else None
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(worker(c) for c in list(connections)))
    finally:
        result.seconds = time.perf_counter() - started
        result.client_cpu = cpu_seconds() - cpu
        if server is not None and server_pid:
            result.server_cpu = cpu_seconds(server_pid) - server
        for connection in connections:
            if connection.transport is not None:
                connection.transport.close()
    return result


async def open_loop(
    base_url: str,
    requests: Callable[[int], bytes],
    *,
    rate: float,
    seconds: float,
    max_connections: int = 256,
    server_pid: int | None = None,
    grace: float = 30.0,
) -> LoadResult:
    """``rate`` requests a second for ``seconds``; latency from each request's due time to its answer."""
    loop = asyncio.get_running_loop()
    result = LoadResult()
    total = round(rate * seconds)
    idle: deque[_Connection] = deque([await _connect(base_url) for _ in range(min(8, max_connections))])
    opened = len(idle)
    backlog: deque[tuple[int, float]] = deque()  # due but no connection free: (number, due time)
    in_flight: set[asyncio.Task[None]] = set()

    async def one(connection: _Connection, number: int, due: float) -> None:
        try:
            status = await connection.send(requests(number))
            _count(result, status, time.perf_counter() - due)
        except ConnectionError:
            result.errors += 1
            connection = await _connect(base_url)
        if backlog:
            next_number, next_due = backlog.popleft()
            start(connection, next_number, next_due)
        else:
            idle.append(connection)

    def start(connection: _Connection, number: int, due: float) -> None:
        task = loop.create_task(one(connection, number, due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)

    cpu, server = cpu_seconds(), cpu_seconds(server_pid) if server_pid else None
    began = time.perf_counter()
    for number in range(total):
        due = began + number / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        result.sent += 1
        while idle and idle[0].closed:
            idle.popleft()
        if idle:
            start(idle.popleft(), number, due)
        elif opened < max_connections:
            opened += 1
            start(await _connect(base_url), number, due)
        else:
            backlog.append((number, due))
    sending = time.perf_counter() - began
    async with asyncio.timeout(grace):
        while in_flight:  # a request finishing starts the next one waiting in the backlog
            await asyncio.wait(set(in_flight))
    result.seconds = sending
    result.client_cpu = cpu_seconds() - cpu
    if server is not None and server_pid:
        result.server_cpu = cpu_seconds(server_pid) - server
    result.extra = {"offered_rate": rate, "achieved_rate": result.sent / sending, "connections": opened}
    for connection in idle:
        if connection.transport is not None:
            connection.transport.close()
    return result


# --- comparing with a yardstick -----------------------------------------------------------------------


async def alternate(
    rounds: int, sides: Sequence[tuple[str, Callable[[], Awaitable[LoadResult]]]], label: str
) -> dict[str, Any]:
    """``rounds`` of each side in turn (hello-world, then the hub…), so the machine's noise hits all alike.

    Returns each side's per-round summaries under its name, and :func:`ratio` of the first two sides.
    """
    results: dict[str, Any] = {name: [] for name, _ in sides}
    for number in range(rounds):
        for name, run in sides:
            summary = (await run()).summary()
            results[name].append(summary)
            busy = summary["server_cpu"] / summary["seconds"] if summary["server_cpu"] is not None else 0
            print(
                f"{label} round {number + 1} {name}: {summary['per_second']:,.0f}/s, "
                f"p50 {summary['p50'] * 1000:.2f} ms, p99 {summary['p99'] * 1000:.2f} ms, "
                f"{summary['statuses']}, server CPU {busy:.0%}, client CPU {summary['client_cpu']:.2f} s",
                file=sys.stderr,
            )
    first, second = sides[0][0], sides[1][0]
    return {**results, **ratio(results[first], results[second])}


def ratio(
    yardstick: Sequence[dict[str, Any]], measured: Sequence[dict[str, Any]], key: str = "per_second"
) -> dict[str, Any]:
    """Median of each side, their ratio (measured / yardstick), and the ratio of each round's pair."""
    base = statistics.median(r[key] for r in yardstick)
    value = statistics.median(r[key] for r in measured)
    pairs = [b[key] / a[key] for a, b in zip(yardstick, measured, strict=True) if a[key]]
    return {"yardstick_median": base, "measured_median": value, "ratio": value / base, "round_ratios": pairs}
