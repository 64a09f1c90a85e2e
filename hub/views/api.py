"""The admin API under ``/api``: JSON, behind the bearer token ``admin.api_token``.

Accounts and their sync status, jobs (list, filter, switch for Appcast) and syncs on demand. Every change
goes through the same services as the CLI and Slack, so it lands in the audit log the same way.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hub import held
from hub.accounts import UnknownAccount, all_accounts, get_account, set_integration
from hub.appkeys import CONFIG, HTTP, PLUGINS, SCHEDULER
from hub.audit import MAX_RECENT, entry_json, recent_entries
from hub.deliveries import list_deliveries, replay
from hub.jobs import list_jobs, switch_jobs
from hub.jsonio import dumps
from hub.normalised import FUNNEL_EVENTS
from hub.stages import account_stages, map_stage
from hub.stats import stats_report
from hub.status import account_status
from hub.views.errors import MAX_ID, BadJson, credential_bytes, json_error, read_json, text_problem

routes = web.RouteTableDef()

MAX_PAGE = 500
MAX_IDS = 1000
#: Delivery ids are 64-bit: a longer run of digits names none.
_MAX_ID_DIGITS = 18
STATUSES = ("open", "closed")
FLAGS = ("on", "off", "unset", "in-feed")
DELIVERY_STATES = ("pending", "delivered", "dead")


class BadRequest(Exception):
    """The request names something wrong; the message says what (answered 400)."""


def reply(body: Any, status: int = 200) -> web.Response:
    """A JSON answer, datetimes as ISO 8601."""
    return web.json_response(body, status=status, dumps=dumps)


@web.middleware
async def api_auth_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refuse ``/api`` requests without the right bearer token; the OpenAPI document is public."""
    if not request.path.startswith("/api/") or request.path == "/api/openapi.json":
        return await handler(request)
    token = request.app[CONFIG].admin["api_token"]
    if not token:
        return json_error(404, "the admin API is off: set admin.api_token in the config")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(credential_bytes(given.strip()), token.encode()):
        return json_error(401, "missing or wrong bearer token", **{"WWW-Authenticate": "Bearer"})
    try:
        return await handler(request)
    except BadRequest as error:
        return json_error(400, str(error))
    except UnknownAccount as error:
        return json_error(404, str(error))


def _text(request: web.Request, name: str, max_length: int | None = None) -> str | None:
    value = request.query.get(name)
    problem = text_problem(value, max_length) if value is not None else None
    if problem:
        raise BadRequest(f"{name} {problem}")
    return value


def _path_id(request: web.Request, name: str, what: str) -> str:
    value = request.match_info[name]
    problem = text_problem(value)
    if problem:
        raise BadRequest(f"the {what} in the path {problem}")
    return value


def _choice(request: web.Request, name: str, choices: tuple[str, ...]) -> str | None:
    value = request.query.get(name)
    if value is not None and value not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _integer(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    # ASCII digits only: str.isdigit() also takes "²" (which int() refuses) and other scripts' digits.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(maximum)) or int(raw) > maximum:
        raise BadRequest(f"{name} must be a whole number from 0 to {maximum}")
    return int(raw)


async def _ids(request: web.Request) -> list[str]:
    try:
        body = await read_json(request)
    except BadJson as error:
        raise BadRequest(f'body must be JSON like {{"ids": ["123"]}} ({error})') from None
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise BadRequest('"ids" must be a non-empty list of ATS job ids (strings)')
    if len(ids) > MAX_IDS:
        raise BadRequest(f'"ids" may hold at most {MAX_IDS} ids')
    for ats_id in ids:
        problem = text_problem(ats_id)
        if problem:
            raise BadRequest(f'"ids": {ats_id[:50]!r} {problem}')
    return ids


@routes.get("/api/accounts")
async def accounts_index(request: web.Request) -> web.Response:
    """Every configured account with its switches and last sync."""
    config = request.app[CONFIG]
    return reply(
        {"accounts": [(await account_status(config, a)).as_json() for a in await all_accounts(config)]}
    )


@routes.get("/api/accounts/{account}")
async def account_detail(request: web.Request) -> web.Response:
    """One account with its switches and last sync."""
    config = request.app[CONFIG]
    account = await get_account(config, request.match_info["account"])
    return reply((await account_status(config, account)).as_json())


@routes.get("/api/accounts/{account}/jobs")
async def jobs_index(request: web.Request) -> web.Response:
    """The account's jobs: ``status``, ``flag``, ``q`` (words), ``limit``, ``offset``."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    total, rows = await list_jobs(
        account,
        status=_choice(request, "status", STATUSES),  # type: ignore[arg-type]
        flag=_choice(request, "flag", FLAGS),  # type: ignore[arg-type]
        text=_text(request, "q"),
        limit=_integer(request, "limit", 50, MAX_PAGE),
        offset=_integer(request, "offset", 0, 10**9),
    )
    for row in rows:
        del row["id"]
    return reply({"total": total, "jobs": rows})


async def _switch(request: web.Request, *, on: bool) -> web.Response:
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    ids = await _ids(request)
    result = await switch_jobs(account, ids, on=on, actor="api", source="api")
    return reply(result.as_json())


@routes.post("/api/accounts/{account}/jobs/enable")
async def jobs_enable(request: web.Request) -> web.Response:
    """Switch jobs on for Appcast: ``{"ids": [...]}``; says what changed, was already so, or is missing."""
    return await _switch(request, on=True)


@routes.post("/api/accounts/{account}/jobs/disable")
async def jobs_disable(request: web.Request) -> web.Response:
    """Switch jobs off for Appcast: ``{"ids": [...]}``."""
    return await _switch(request, on=False)


@routes.post("/api/accounts/{account}/sync")
async def account_sync(request: web.Request) -> web.Response:
    """Sync the account now (``?full=true``: whole snapshot); answers what changed, 502 if the ATS failed."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    full = _choice(request, "full", ("true", "false"))
    result = await request.app[SCHEDULER].sync(account.name, full=None if full is None else full == "true")
    if result is None:
        return json_error(503, "the hub is shutting down")
    return reply(result.as_json(), status=502 if result.error else 200)


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await read_json(request)
    except BadJson as error:
        raise BadRequest(f"body must be a JSON object ({error})") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


@routes.post("/api/accounts/{account}/reconcile")
async def account_reconcile(request: web.Request) -> web.Response:
    """Poll the ATS now for events webhooks missed; answers how many were new."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    if not request.app[PLUGINS].implements(account.config.adapter, "appcast_hub_fetch_recent_events"):
        return json_error(404, f"the {account.config.adapter!r} adapter cannot be polled for events")
    result = await request.app[SCHEDULER].reconcile(account.name)
    if result is None:
        return json_error(502, "the ATS could not be polled: see the hub's log")
    return reply(result.as_json())


@routes.post("/api/accounts/{account}/integration")
async def account_integration(request: web.Request) -> web.Response:
    """Switch the account's Appcast integration: ``{"enabled": true|false}``."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    enabled = (await _json_object(request)).get("enabled")
    if not isinstance(enabled, bool):
        raise BadRequest('"enabled" must be true or false')
    changed = await set_integration(account, enabled=enabled, actor="api", source="api")
    return reply({"enabled": enabled, "changed": changed})


@routes.get("/api/accounts/{account}/held")
async def held_index(request: web.Request) -> web.Response:
    """The mass close a sync held back, if any (``held`` null when nothing waits)."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    change = await held.held_now(account.row.id)
    return reply({"held": change.as_json() if change is not None else None})


@routes.post("/api/accounts/{account}/held/confirm")
async def held_confirm(request: web.Request) -> web.Response:
    """Apply the held mass close: the jobs still open among it close (audited); 404 when nothing is held."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    closed = await held.confirm(account, actor="api", source="api")
    if closed is None:
        return json_error(404, f"account {account.name!r} has no held change")
    return reply({"closed": closed})


@routes.post("/api/accounts/{account}/held/keep")
async def held_keep(request: web.Request) -> web.Response:
    """Keep the jobs of the held mass close open (audited); 404 when nothing is held."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    kept = await held.keep(account, actor="api", source="api")
    if kept is None:
        return json_error(404, f"account {account.name!r} has no held change")
    return reply({"kept": kept})


@routes.get("/api/accounts/{account}/stages")
async def stages_index(request: web.Request) -> web.Response:
    """The ATS's stages with their funnel events (``origin`` says where the mapping comes from)."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    return reply((await account_stages(account, request.app[PLUGINS], request.app[HTTP])).as_json())


@routes.put("/api/accounts/{account}/stages/{stage_id}")
async def stage_map(request: web.Request) -> web.Response:
    """Map a stage: ``{"funnel_event": "interview"|null, "workflow": ""}`` (null: deliberately none)."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    stage_id = _path_id(request, "stage_id", "stage id")
    body = await _json_object(request)
    funnel = body.get("funnel_event")
    workflow = body.get("workflow", "")
    if funnel is not None and funnel not in FUNNEL_EVENTS:
        raise BadRequest(f'"funnel_event" must be one of {", ".join(FUNNEL_EVENTS)} or null')
    if not isinstance(workflow, str):
        raise BadRequest('"workflow" must be a string')
    problem = text_problem(workflow)
    if problem:
        raise BadRequest(f'"workflow" {problem}')
    before = await map_stage(account, stage_id, funnel, workflow=workflow, actor="api", source="api")
    return reply({"stage_id": stage_id, "before": before, "funnel_event": funnel})


@routes.get("/api/deliveries")
async def deliveries_index(request: web.Request) -> web.Response:
    """The outbox, newest first: ``account``, ``state`` (pending, delivered, dead), ``limit``."""
    account_id = None
    if "account" in request.query:
        account_id = (await get_account(request.app[CONFIG], request.query["account"])).row.id
    total, rows = await list_deliveries(
        account_id=account_id,
        state=_choice(request, "state", DELIVERY_STATES),  # type: ignore[arg-type]
        limit=_integer(request, "limit", 50, MAX_PAGE),
    )
    return reply({"total": total, "deliveries": rows})


@routes.post("/api/deliveries/{delivery}/retry")
async def delivery_retry(request: web.Request) -> web.Response:
    """Replay one dead delivery (``dead`` instead of an id: every dead delivery)."""
    target = request.match_info["delivery"]
    if target != "dead" and not (target.isascii() and target.isdigit()):
        raise BadRequest("give a delivery id, or 'dead' for every dead delivery")
    if target != "dead" and len(target.lstrip("0")) > _MAX_ID_DIGITS:
        return json_error(404, f"no dead delivery {target[:30]}…")
    ids = await replay(None if target == "dead" else [int(target)], actor="api", source="api")
    if target != "dead" and not ids:
        return json_error(404, f"no dead delivery {target}")
    return reply({"replayed": ids})


@routes.get("/api/accounts/{account}/stats")
async def account_stats(request: web.Request) -> web.Response:
    """Views, applies, conversion and hires: the account's, or one job's with ``?job=``."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    return reply(await stats_report(account, _text(request, "job", MAX_ID), _integer(request, "top", 10, 50)))


@routes.get("/api/audit")
async def audit_index(request: web.Request) -> web.Response:
    """The newest changes and who made them, newest first: ``limit`` (at most 50)."""
    entries = await recent_entries(_integer(request, "limit", 10, MAX_RECENT))
    return reply({"entries": [entry_json(entry) for entry in entries]})


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "appcast-hub admin API", "version": "1"},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}],
    "paths": {
        "/api/accounts": {"get": {"summary": "accounts with switches and sync status"}},
        "/api/accounts/{account}": {"get": {"summary": "one account"}},
        "/api/accounts/{account}/jobs": {
            "get": {
                "summary": "jobs, newest first",
                "parameters": [
                    {"name": "status", "in": "query", "schema": {"enum": list(STATUSES)}},
                    {"name": "flag", "in": "query", "schema": {"enum": list(FLAGS)}},
                    {"name": "q", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": MAX_PAGE}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer"}},
                ],
            }
        },
        "/api/accounts/{account}/jobs/enable": {"post": {"summary": 'switch on: {"ids": [...]}'}},
        "/api/accounts/{account}/jobs/disable": {"post": {"summary": 'switch off: {"ids": [...]}'}},
        "/api/accounts/{account}/sync": {"post": {"summary": "sync now (?full=true: whole snapshot)"}},
        "/api/accounts/{account}/reconcile": {"post": {"summary": "poll the ATS for missed events"}},
        "/api/accounts/{account}/integration": {"post": {"summary": 'switch: {"enabled": bool}'}},
        "/api/accounts/{account}/held": {"get": {"summary": "the mass close a sync held back, if any"}},
        "/api/accounts/{account}/held/confirm": {"post": {"summary": "apply the held mass close"}},
        "/api/accounts/{account}/held/keep": {"post": {"summary": "keep the held jobs open"}},
        "/api/accounts/{account}/stages": {"get": {"summary": "stages and their funnel events"}},
        "/api/accounts/{account}/stages/{stage_id}": {
            "put": {"summary": 'map: {"funnel_event": "interview"|null, "workflow": ""}'}
        },
        "/api/accounts/{account}/stats": {
            "get": {"summary": "views, applies, conversion, hires (?job=), with the top jobs (?top=)"}
        },
        "/api/audit": {"get": {"summary": "the newest changes and who made them (?limit=, at most 50)"}},
        "/api/deliveries": {"get": {"summary": "the outbox (?account, ?state, ?limit)"}},
        "/api/deliveries/{delivery}/retry": {"post": {"summary": "replay a dead delivery, or 'dead'"}},
    },
}


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """The API's OpenAPI document."""
    return reply(OPENAPI)
