"""``GET /metrics`` in Prometheus's text format, and the middleware counting every request."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.deliveries import counts_by_state
from hub.held import held_jobs_by_account
from hub.metrics import DELIVERIES, HELD_JOBS, HTTP_REQUESTS, HTTP_SECONDS, REGISTRY

routes = web.RouteTableDef()


#: The metric children of each (route, method, status) seen: ``labels()`` validates its arguments and
#: takes a lock on every call, which was a tenth of the CPU of a feed poll answered 304.
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _route(request: web.Request) -> str:
    # The route's pattern, not the path: one series per route however many accounts and job ids.
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


#: Methods counted by name; any other (aiohttp takes any token, "BREW" or "X1234") is "other", so a
#: client cannot make a metric series per request.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _count(request: web.Request, status: int, seconds: float) -> None:
    # Few keys: the routes are the hub's, the statuses its answers, the methods the ones above.
    route = _route(request)
    method = request.method if request.method in _METHODS else "other"
    children = _children.get((route, method, status))
    if children is None:
        children = _children[route, method, status] = (
            HTTP_REQUESTS.labels(route, method, str(status)),
            HTTP_SECONDS.labels(route),
        )
    children[0].inc()
    children[1].observe(seconds)


@web.middleware
async def metrics_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Count and time every request by route and status."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    finally:
        _count(request, status, time.perf_counter() - started)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Every metric of this process, the outbox backlog read fresh from the database."""
    for state, count in (await counts_by_state()).items():
        DELIVERIES.labels(state).set(count)
    for name, jobs in (await held_jobs_by_account()).items():
        HELD_JOBS.labels(name).set(jobs)
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})
