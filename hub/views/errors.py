"""Turning every failure into a JSON answer that names the problem, and never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

_LOGGER = logging.getLogger(__name__)


def json_error(status: int, message: str, **headers: str) -> web.Response:
    """A JSON error body ``{"error": message}`` with ``status``."""
    return web.json_response({"error": message}, status=status, headers=headers or None)


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """aiohttp's own HTTP errors become JSON; anything unexpected is logged and answered 500."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400 or error.content_type == "application/json":
            raise
        message = error.reason if error.status != 413 else f"request body too large ({error.text})"
        return json_error(
            error.status,
            message,
            **{k: v for k, v in error.headers.items() if k in ("Allow", "Retry-After")},
        )
    except Exception:
        _LOGGER.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal error: the hub logged the details")
