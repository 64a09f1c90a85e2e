"""``POST /webhooks/{account}``: verify with the account's adapter, store, answer; the work comes after.

202 stored, 200 already seen (or, for an adapter whose ATS counts only one status as delivered, its
``webhook_ack_status`` for both), 401 refused (signature, age), 400 malformed, 404 unknown account or an
adapter without webhooks, 413 too large; a handshake gets what the adapter says and is not stored. The
raw webhook is committed before the answer, so a crash right after answering loses nothing; parsing it
into events is the inbox worker's job.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

from aiohttp import web
from tortoise.exceptions import IntegrityError

from hub import models
from hub.accounts import UnknownAccount
from hub.appkeys import ACCOUNTS, INBOX, PLUGINS, SIGNATURES
from hub.errors import WebhookHandshake, WebhookMalformed, WebhookRejected
from hub.logs import QuietLog
from hub.metrics import WEBHOOK_REFUSED
from hub.normalised import WebhookRequest
from hub.views.errors import json_error, read_body, storable, text_problem

_LOGGER = logging.getLogger(__name__)
#: Anyone can send refused webhooks: one line per account and reason a minute, the rest counted.
_QUIET = QuietLog(_LOGGER)

routes = web.RouteTableDef()

#: Never stored: credentials of the sender's HTTP client, useless to the adapter.
_PRIVATE_HEADERS = {"authorization", "cookie", "proxy-authorization"}
_MAX_IDENTITY = 255


def _identity(given: str | None, body: bytes) -> str:
    if given and text_problem(given, _MAX_IDENTITY) is None:
        return given
    # No identity from the ATS (or one no column holds): a digest of it, or of the body, is the identity.
    return "sha256:" + hashlib.sha256(given.encode("utf-8", "surrogatepass") if given else body).hexdigest()


@routes.post("/webhooks/{account}")
async def receive_webhook(request: web.Request) -> web.Response:
    """Verify and store one webhook for the account's adapter."""
    try:
        account = await request.app[ACCOUNTS].get(request.match_info["account"])
    except UnknownAccount:
        return json_error(404, f"no account named {request.match_info['account']!r}")
    plugins = request.app[PLUGINS]
    adapter = account.config.adapter
    if not plugins.implements(adapter, "appcast_hub_parse_webhook"):
        return json_error(
            404, f"account {account.name!r} uses the {adapter!r} adapter, which takes no webhooks"
        )
    body = await read_body(request)
    # Headers and query are stored as JSON text: what no database holds (NUL, and the lone surrogates
    # that bytes which are not UTF-8 become) is replaced before the adapter sees them, so the adapter
    # verifying now and the inbox worker parsing later see the same request.
    webhook = WebhookRequest(
        headers={
            storable(k): storable(v) for k, v in request.headers.items() if k.lower() not in _PRIVATE_HEADERS
        },
        body=body,
        query={storable(k): storable(v) for k, v in request.query.items()},
        received_at=datetime.now(UTC),
    )
    try:
        given = await plugins.call(adapter, "appcast_hub_verify_webhook", account.config, request=webhook)
    except WebhookHandshake as handshake:
        return web.json_response(
            {"status": str(handshake)}, status=handshake.status, headers=handshake.headers
        )
    except WebhookRejected as error:
        _QUIET.log(
            logging.INFO, (account.name, "signature"), "webhook for %s refused: %s", account.name, error
        )
        WEBHOOK_REFUSED.labels(account.name, "signature").inc()
        request.app[SIGNATURES].record(account.name, accepted=False)
        return json_error(401, f"webhook refused: {error}")
    except WebhookMalformed as error:
        WEBHOOK_REFUSED.labels(account.name, "malformed").inc()
        return json_error(400, f"malformed webhook: {error}")
    except (RecursionError, ValueError) as error:
        # The adapter should say WebhookMalformed, but its parser gave up on the body first: nesting too
        # deep, a number too long to convert… A sender's mistake all the same, so never a 500.
        _QUIET.log(logging.INFO, (account.name, "malformed"), "webhook for %s unparseable: %s: %.200s",
                   account.name, type(error).__name__, error)  # fmt: skip
        WEBHOOK_REFUSED.labels(account.name, "malformed").inc()
        problem = (
            "JSON nested too deeply" if isinstance(error, RecursionError) else "the body cannot be parsed"
        )
        return json_error(400, f"malformed webhook: {problem}")
    request.app[SIGNATURES].record(account.name, accepted=True)
    identity = _identity(given, body)
    acknowledged = plugins.info(adapter).webhook_ack_status
    try:
        await models.WebhookReceipt.create(
            account_id=account.row.id, identity=identity, headers=dict(webhook.headers),
            query=webhook.query, body=body, received_at=webhook.received_at,
            next_attempt_at=webhook.received_at,
        )  # fmt: skip
    except IntegrityError:
        first = await models.WebhookReceipt.get_or_none(account_id=account.row.id, identity=identity)
        if first is not None and bytes(first.body) != body:
            # The ATS's identity (Lever's token) again, with another body: a replay, not a redelivery.
            WEBHOOK_REFUSED.labels(account.name, "replay").inc()
            return json_error(
                401, "webhook refused: this delivery identity was already used for another body"
            )
        return web.json_response({"status": "already seen"}, status=acknowledged or 200)
    request.app[INBOX].wake()
    return web.json_response({"status": "stored"}, status=acknowledged or 202)
