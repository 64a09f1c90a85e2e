"""``POST /apply/{account}/{job}``: an application from Appcast Apply, created in the ATS by the adapter.

Authenticated by the account's ``apply_key`` (bearer). 201 with the ATS's ids; 422 naming a missing field
or a question Appcast Apply cannot answer; 404 unknown account or job; 409 closed job; 503 when the ATS is
unavailable (nothing was created: retry); 502 when the ATS did not confirm and the application may
exist. With an ``Idempotency-Key``, a retry gets the first answer (a 502 included: never a second try).
"""

from __future__ import annotations

import hmac
import logging
import math
import re
from typing import Any

from aiohttp import web
from tortoise.exceptions import IntegrityError

from hub import models
from hub.accounts import LiveAccount, UnknownAccount, get_account
from hub.appkeys import CONFIG, HTTP, PLUGINS
from hub.errors import AdapterUnavailable, ApplicationRefused, OutcomeUnknown
from hub.feed import FEED_COLUMNS, job_of
from hub.normalised import Application
from hub.views.errors import BadJson, credential_bytes, json_error, read_json, text_problem

_LOGGER = logging.getLogger(__name__)

routes = web.RouteTableDef()

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TEXT_FIELDS = ("name", "email", "phone", "resume_url", "cover_letter")
_MAX_TEXT = 100_000
#: ``Retry-After`` (seconds) of a 503 when the ATS did not say how long to wait.
UNAVAILABLE_RETRY_AFTER = 30


class Unprocessable(Exception):
    """The application cannot be accepted as sent (answered 422)."""


def parse_application(body: Any) -> Application:
    """Check the JSON body of an apply request and build the normalised Application."""
    if not isinstance(body, dict):
        raise Unprocessable("the body must be a JSON object")
    for field in _TEXT_FIELDS:
        value = body.get(field)
        if value is not None and (not isinstance(value, str) or len(value) > _MAX_TEXT):
            raise Unprocessable(f"{field!r} must be a string")
    name, email = (body.get("name") or "").strip(), (body.get("email") or "").strip()
    if not name:
        raise Unprocessable("'name' is required")
    if not email:
        raise Unprocessable("'email' is required")
    if not _EMAIL.match(email):
        raise Unprocessable(f"'email' is not an e-mail address: {email!r}")
    urls, answers = body.get("urls") or [], body.get("answers") or {}
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise Unprocessable("'urls' must be a list of strings")
    if not isinstance(answers, dict):
        raise Unprocessable("'answers' must be an object keyed by question id")
    return Application(
        name=name, email=email, phone=body.get("phone"), resume_url=body.get("resume_url"),
        cover_letter=body.get("cover_letter"), urls=urls, answers=answers,
    )  # fmt: skip


def _authorised(request: web.Request, account: LiveAccount) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    key = account.config.apply_key or ""
    return scheme.lower() == "bearer" and hmac.compare_digest(credential_bytes(given.strip()), key.encode())


async def _create(request: web.Request, account: LiveAccount, ats_job_id: str) -> tuple[int, dict[str, Any]]:
    """The answer to give, as ``(status, body)``: the part an Idempotency-Key makes repeatable."""
    try:
        application = parse_application(await read_json(request))
    except BadJson as error:
        return 400, {"error": f"the body must be JSON ({error})"}
    except Unprocessable as error:
        return 422, {"error": str(error)}
    rows = await models.Job.filter(account_id=account.row.id, ats_id=ats_job_id).values(*FEED_COLUMNS)
    if not rows:
        return 404, {"error": f"no job {ats_job_id!r} in account {account.name!r}"}
    if not rows[0]["is_open"]:
        return 409, {"error": f"job {ats_job_id!r} is closed"}
    try:
        result = await request.app[PLUGINS].call(
            account.config.adapter, "appcast_hub_create_application", account.config,
            job=job_of(rows[0]), application=application, http=request.app[HTTP],
        )  # fmt: skip
    except LookupError:
        return 404, {"error": f"the {account.config.adapter!r} adapter cannot create applications"}
    except ApplicationRefused as error:
        return 422, {"error": str(error)}
    _LOGGER.info("application created in %s for job %s", account.name, ats_job_id)
    return 201, {"application_id": result.ats_application_id, "candidate_id": result.ats_candidate_id}


@routes.post("/apply/{account}/{job}")
async def apply(request: web.Request) -> web.Response:
    """Create an application in the account's ATS, with Appcast as its source."""
    try:
        account = await get_account(request.app[CONFIG], request.match_info["account"])
    except UnknownAccount:
        return json_error(404, f"no account named {request.match_info['account']!r}")
    if not account.config.apply_key:
        return json_error(404, f"Appcast Apply is not set up for account {account.name!r} (no apply_key)")
    if not _authorised(request, account):
        return json_error(401, "missing or wrong apply key", **{"WWW-Authenticate": "Bearer"})
    ats_job_id = request.match_info["job"]
    problem = text_problem(ats_job_id)
    if problem:
        return json_error(404, f"no such job in account {account.name!r}: the job id {problem}")
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        try:
            status, body = await _create(request, account, ats_job_id)
        except OutcomeUnknown as error:
            status, body = _outcome_unknown(error)
        except AdapterUnavailable as error:
            return _unavailable(error)
        return web.json_response(body, status=status)
    problem = text_problem(key)
    if problem:
        return json_error(400, f"Idempotency-Key {problem}")
    try:
        claim = await models.ApplyRequest.create(
            account_id=account.row.id, idempotency_key=key, ats_job_id=ats_job_id
        )
    except IntegrityError:
        return await _replay(account, key, ats_job_id)
    try:
        status, body = await _create(request, account, ats_job_id)
    except OutcomeUnknown as error:
        # The application may exist: keep the key, so a retry is answered this, never sent again.
        status, body = _outcome_unknown(error)
    except BaseException as error:
        # Nothing was created: free the key so the retry Appcast will send can try again.
        await models.ApplyRequest.filter(id=claim.id).delete()
        if isinstance(error, AdapterUnavailable):
            return _unavailable(error)
        raise
    await models.ApplyRequest.filter(id=claim.id).update(status=status, response=body)
    return web.json_response(body, status=status)


async def _replay(account: LiveAccount, key: str, ats_job_id: str) -> web.Response:
    first = await models.ApplyRequest.get(account_id=account.row.id, idempotency_key=key)
    if first.ats_job_id != ats_job_id:
        return json_error(422, f"this Idempotency-Key was used for job {first.ats_job_id!r}")
    if first.status is None:
        return json_error(
            409, "a request with this Idempotency-Key is still in progress", **{"Retry-After": "5"}
        )
    return web.json_response(first.response, status=first.status, headers={"Idempotent-Replayed": "true"})


def _outcome_unknown(error: OutcomeUnknown) -> tuple[int, dict[str, Any]]:
    _LOGGER.warning("apply outcome unknown, the ATS did not confirm: %s", error)
    message = f"the ATS did not confirm the application and it may exist: {error}; check before resending"
    return 502, {"error": message}


def _unavailable(error: AdapterUnavailable) -> web.Response:
    _LOGGER.warning("apply failed, ATS unavailable: %s", error)
    # Pass on how long the ATS asked us to wait; without a word from it, half a minute.
    wait = math.ceil(error.retry_after) if error.retry_after is not None else UNAVAILABLE_RETRY_AFTER
    return json_error(
        503, f"the ATS is unavailable, nothing was created: {error}", **{"Retry-After": str(wait)}
    )
