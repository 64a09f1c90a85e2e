"""Turning every failure into a JSON answer that names the problem, and never a traceback.

Also the checks every view shares on what a request carries: bodies (:func:`read_body`, :func:`read_json`)
and text bound for the database (:func:`text_problem`), so a sender's mistake is a 4xx, never a 500.
"""

from __future__ import annotations

import json
import logging
import re
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import ContentEncodingError, HttpProcessingError

from hub.db import OUTAGE_RETRY_AFTER, is_outage
from hub.logs import QuietLog

_LOGGER = logging.getLogger(__name__)
_QUIET = QuietLog(_LOGGER)

#: Longest id (ATS job id, stage id, workflow, idempotency key) the hub's id columns hold.
MAX_ID = 255
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_error(status: int, message: str, **headers: str) -> web.Response:
    """A JSON error body ``{"error": message}`` with ``status``."""
    return web.json_response({"error": message}, status=status, headers=headers or None)


class BadJson(ValueError):
    """A request body that is not a JSON document; the message says why."""


#: Content codings a body may arrive in; the hub inflates them itself (the app's ``handler_args`` turn
#: aiohttp's own inflating off, which would run a bomb to its end on the event loop, even after a 413).
_ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
#: gzip members one body may hold: a body of a thousand empty members is no honest sender's.
_MAX_MEMBERS = 64


async def read_body(request: web.Request) -> bytes:
    """The request body, inflated when it arrived gzip- or deflate-encoded, never past ``max_body_bytes``.

    aiohttp bounds the raw body (``client_max_size``, which is ``max_body_bytes``); inflating stops one
    byte past the same bound, so a small body that would inflate to gigabytes costs no more than that
    much work: 413. Another coding is 415; a body that is not what its coding says, 400.
    """
    limit = request.client_max_size
    raw = await request.read()
    coding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if coding in ("", "identity"):
        return raw
    wbits = _ENCODINGS.get(coding)
    if wbits is None:
        raise web.HTTPUnsupportedMediaType(
            text=f"Content-Encoding {coding[:40]!r} is not supported (send gzip, deflate or none)"
        )
    inflated, rest = bytearray(), raw
    for _ in range(_MAX_MEMBERS):
        inflater = zlib.decompressobj(wbits)
        try:
            inflated += inflater.decompress(rest, limit + 1 - len(inflated))
        except zlib.error as error:
            raise ContentEncodingError(f"not valid {coding}: {error}") from None
        if len(inflated) > limit:
            raise web.HTTPRequestEntityTooLarge(
                max_size=limit, actual_size=len(inflated), text=f"it inflates to more than {limit} bytes"
            )
        if not inflater.eof:
            raise ContentEncodingError(f"the {coding} data ends early")
        rest = inflater.unused_data
        if not rest or coding == "deflate":
            return bytes(inflated)
    raise ContentEncodingError(f"more than {_MAX_MEMBERS} gzip members")


async def read_json(request: web.Request) -> Any:
    """The request body (:func:`read_body`) parsed as JSON.

    Bytes are decoded as RFC 8259 says (UTF-8, or UTF-16/32 by their byte order), whatever charset the
    Content-Type names. Raises :class:`BadJson` for anything that is not a JSON document, nesting too
    deep for the parser included; a body over ``max_body_bytes`` is a 413.
    """
    body = await read_body(request)
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
        # A text of its own (the hub's or aiohttp's) says more than the reason phrase does.
        detail = error.text if error.text and error.text != f"{error.status}: {error.reason}" else None
        message = detail or error.reason
        if error.status == 413:
            message = f"request body too large ({detail})"
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
    except Exception as error:
        if is_outage(error):
            # Not the client's doing and not a bug: said once a minute, and the client told to come back.
            _QUIET.log(logging.WARNING, "outage", "the database is unreachable (%s): answering 503",
                       type(error).__name__)  # fmt: skip
            return json_error(
                503,
                "the hub cannot reach its database right now: nothing was done, try again shortly",
                **{"Retry-After": str(OUTAGE_RETRY_AFTER)},
            )
        _LOGGER.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal error: the hub logged the details")
