"""``POST /webhooks/{account}``: verify with the account's adapter, store, answer; the work comes after.

202 stored, 200 already seen, 401 refused (signature, age), 400 malformed, 404 unknown account or an
adapter without webhooks, 413 too large. The raw webhook is committed before the answer, so a crash
right after answering loses nothing; parsing it into events is the inbox worker's job.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

from aiohttp import web
from tortoise.exceptions import IntegrityError

from hub import models
from hub.accounts import UnknownAccount, get_account
from hub.appkeys import CONFIG, INBOX, PLUGINS
from hub.errors import WebhookMalformed, WebhookRejected
from hub.metrics import WEBHOOK_REFUSED
from hub.normalised import WebhookRequest
from hub.views.errors import json_error

_LOGGER = logging.getLogger(__name__)

routes = web.RouteTableDef()

#: Never stored: credentials of the sender's HTTP client, useless to the adapter.
_PRIVATE_HEADERS = {"authorization", "cookie", "proxy-authorization"}
_MAX_IDENTITY = 255


def _identity(given: str | None, body: bytes) -> str:
    if given and len(given) <= _MAX_IDENTITY:
        return given
    # No identity from the ATS (or an overlong one): the body itself is the identity.
    return "sha256:" + hashlib.sha256(given.encode() if given else body).hexdigest()


@routes.post("/webhooks/{account}")
async def receive_webhook(request: web.Request) -> web.Response:
    """Verify and store one webhook for the account's adapter."""
    try:
        account = await get_account(request.app[CONFIG], request.match_info["account"])
    except UnknownAccount:
        return json_error(404, f"no account named {request.match_info['account']!r}")
    plugins = request.app[PLUGINS]
    adapter = account.config.adapter
    if not plugins.implements(adapter, "appcast_hub_parse_webhook"):
        return json_error(
            404, f"account {account.name!r} uses the {adapter!r} adapter, which takes no webhooks"
        )
    body = await request.read()
    webhook = WebhookRequest(
        headers={k: v for k, v in request.headers.items() if k.lower() not in _PRIVATE_HEADERS},
        body=body,
        query=dict(request.query),
        received_at=datetime.now(UTC),
    )
    try:
        given = await plugins.call(adapter, "appcast_hub_verify_webhook", account.config, request=webhook)
    except WebhookRejected as error:
        _LOGGER.info("webhook for %s refused: %s", account.name, error)
        WEBHOOK_REFUSED.labels(account.name, "signature").inc()
        return json_error(401, f"webhook refused: {error}")
    except WebhookMalformed as error:
        WEBHOOK_REFUSED.labels(account.name, "malformed").inc()
        return json_error(400, f"malformed webhook: {error}")
    identity = _identity(given, body)
    try:
        await models.WebhookReceipt.create(
            account_id=account.row.id, identity=identity, headers=dict(webhook.headers),
            query=webhook.query, body=body, received_at=webhook.received_at,
            next_attempt_at=webhook.received_at,
        )  # fmt: skip
    except IntegrityError:
        return web.json_response({"status": "already seen"}, status=200)
    request.app[INBOX].wake()
    return web.json_response({"status": "stored"}, status=202)
