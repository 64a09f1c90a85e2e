"""Turning every failure into a JSON answer that names the problem, and never a traceback.

Also the checks every view shares on what a request carries: JSON bodies (:func:`read_json`) and text
bound for the database (:func:`text_problem`), so a sender's mistake is a 4xx, never a 500.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

_LOGGER = logging.getLogger(__name__)

#: Longest id (ATS job id, stage id, workflow, idempotency key) the hub's id columns hold.
MAX_ID = 255
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_error(status: int, message: str, **headers: str) -> web.Response:
    """A JSON error body ``{"error": message}`` with ``status``."""
    return web.json_response({"error": message}, status=status, headers=headers or None)


class BadJson(ValueError):
    """A request body that is not a JSON document; the message says why."""


async def read_json(request: web.Request) -> Any:
    """The request body parsed as JSON.

    Bytes are decoded as RFC 8259 says (UTF-8, or UTF-16/32 by their byte order), whatever charset the
    Content-Type names. Raises :class:`BadJson` for anything that is not a JSON document, nesting too
    deep for the parser included; a body over ``max_body_bytes`` is aiohttp's 413 as usual.
    """
    body = await request.read()
    try:
        return json.loads(body)
    except RecursionError:
        raise BadJson("JSON nested too deeply") from None
    except ValueError as error:  # not JSON, not Unicode, or a number too long to convert
        raise BadJson(f"not JSON: {error}") from None


def text_problem(text: str, max_length: int | None = MAX_ID) -> str | None:
    """Why ``text`` cannot be stored or looked up as an id, or None when it can.

    NUL is refused by PostgreSQL, a lone surrogate (what bytes that are not UTF-8 become in a header or
    a path) by both databases' drivers, and an overlong id by the columns.
    """
    if "\x00" in text:
        return "holds a NUL character"
    if _SURROGATE.search(text):
        return "is not valid UTF-8 text"
    if max_length is not None and len(text) > max_length:
        return f"is longer than {max_length} characters"
    return None


def storable(text: str) -> str:
    """``text`` with what no database stores (NUL, lone surrogates) replaced by U+FFFD."""
    if "\x00" in text or _SURROGATE.search(text):
        return _SURROGATE.sub("\ufffd", text.replace("\x00", "\ufffd"))
    return text


def credential_bytes(text: str) -> bytes:
    """A credential from a header as bytes to compare, also when the header was not UTF-8."""
    return text.encode("utf-8", "surrogatepass")  # never raises, whatever the header held


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
    except (web.RequestPayloadError, HttpProcessingError) as error:
        # The body could not be read as sent: a broken Content-Encoding or chunked framing.
        cause = error if isinstance(error, HttpProcessingError) else error.__cause__
        detail = cause.message if isinstance(cause, HttpProcessingError) else str(error)
        return json_error(400, f"the request body could not be read: {detail.strip() or 'malformed'}")
    except Exception:
        _LOGGER.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal error: the hub logged the details")
