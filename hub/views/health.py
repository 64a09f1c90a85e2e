"""``GET /healthz``: is the process up and can it reach its database?"""

from __future__ import annotations

import logging

from aiohttp import web

from hub import __version__, db
from hub.logs import QuietLog

_LOGGER = logging.getLogger(__name__)
_QUIET = QuietLog(_LOGGER)

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """200 with ``{"status": "ok"}`` when the database answers, 503 naming the problem otherwise."""
    try:
        await db.ping()
    except Exception as error:  # any failure to reach the database means "not ready"
        _QUIET.log(logging.WARNING, "down", "health check: database unreachable: %s", type(error).__name__)
        return web.json_response(
            {"status": "unavailable", "database": f"unreachable: {type(error).__name__}"},
            status=503,
            headers={"Retry-After": str(db.OUTAGE_RETRY_AFTER)},
        )
    return web.json_response({"status": "ok", "database": "ok", "version": __version__})
