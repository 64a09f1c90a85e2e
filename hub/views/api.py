"""The admin API under ``/api``: JSON, behind the bearer token ``admin.api_token``.

Accounts and their sync status, jobs (list, filter, switch for Appcast, bid) and syncs on demand. Every change
goes through the same services as the CLI and Slack, so it lands in the audit log the same way. Each
handler is registered with the types it reads and answers (:mod:`hub.views.openapi`), and the OpenAPI
document at ``/api/openapi.json`` is built from them.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NotRequired, TypedDict

from aiohttp import web

from hub import __version__, held
from hub.accounts import UnknownAccount, all_accounts, get_account, set_integration
from hub.appkeys import CONFIG, HTTP, PLUGINS, SCHEDULER
from hub.audit import MAX_RECENT, AuditEntryJson, entry_json, recent_entries
from hub.deliveries import DeliveryJson, DeliveryState, list_deliveries, replay
from hub.events import StoreResultJson
from hub.health import HealthJson, feed_health
from hub.held import HeldCloseJson
from hub.incidents import MAX_LISTED, IncidentJson, list_incidents
from hub.jobs import (
    BID_PATTERN,
    BadBid,
    BidNotWritten,
    BidResultJson,
    FlagFilter,
    JobJson,
    JobStatus,
    SwitchResultJson,
    list_jobs,
    parse_amount,
    set_bid,
    switch_jobs,
)
from hub.jsonio import dumps
from hub.normalised import FUNNEL_EVENTS, FunnelEvent
from hub.stages import StagesReportJson, account_stages, map_stage
from hub.stats import JobStatsJson, StatsReportJson, parse_period, stats_report
from hub.status import AccountListJson, AccountStatusJson, account_status
from hub.sync import SyncResultJson
from hub.views.errors import MAX_ID, BadJson, credential_bytes, json_error, read_json, text_problem
from hub.views.openapi import (
    NO_NUL,
    ApiRoutes,
    BadRequest,
    Choice,
    Count,
    Limits,
    PathParameter,
    Switch,
    Text,
)

MAX_PAGE = 500
MAX_IDS = 1000
#: Delivery ids are 64-bit: a longer run of digits names none.
_MAX_ID_DIGITS = 18

api = ApiRoutes(
    {
        "account": PathParameter(
            "the account's name: its key under `[accounts]` in the config", {"type": "string"}
        ),
        "job": PathParameter(
            "the job's ATS id", {"type": "string", "minLength": 1, "maxLength": MAX_ID, "pattern": NO_NUL}
        ),
        "stage_id": PathParameter(
            "the ATS's id of the stage",
            {"type": "string", "minLength": 1, "maxLength": MAX_ID, "pattern": NO_NUL},
        ),
        "delivery": PathParameter(
            "a delivery's id, or `dead` for every dead delivery",
            {"type": "string", "pattern": "^(dead|[0-9]+)$"},
        ),
    }
)
routes = api.routes

# --- what the handlers read --------------------------------------------------------------------------

STATUS: Choice[JobStatus] = Choice("status", JobStatus, "open or closed jobs only")
FLAG: Choice[FlagFilter] = Choice(
    "flag", FlagFilter, "switched on, off or never (`unset`) for Appcast, or in the feed right now"
)
WORDS = Text("q", "words each of which the title or city holds, or that is the job's ATS id")
LIMIT = Count("limit", 50, "how many to answer at most", MAX_PAGE)
OFFSET = Count("offset", 0, "how many to skip")
FULL = Switch("full", "a full snapshot (true) or changes only (false); by default the hub decides")
STATE: Choice[DeliveryState] = Choice("state", DeliveryState, "deliveries in this state only")
ACCOUNT = Text("account", "one account's deliveries only (404 when there is no such account)", lookup=True)
JOB = Text("job", "one job's numbers (its ATS id) instead of the account's", MAX_ID)
TOP = Count("top", 10, "how many of the account's top jobs by views", 50)
SINCE = Text("since", "the period's first day, YYYY-MM-DD in UTC (default: all time)", 10, format="date")
UNTIL = Text(
    "until", "the period's last day, included, YYYY-MM-DD in UTC (default: today)", 10,
    format="date",
)  # fmt: skip
AUDIT_LIMIT = Count("limit", 10, "how many entries at most", MAX_RECENT)
INCIDENT_ACCOUNT = Text(
    "account", "one account's incidents only (404 when there is no such account)", lookup=True
)
EVERY = Switch("all", "resolved incidents too")
INCIDENT_LIMIT = Count("limit", MAX_LISTED, "how many incidents at most", MAX_LISTED)

JobId = Annotated[str, Limits(minLength=1, maxLength=MAX_ID, pattern=NO_NUL)]


class IdsBody(TypedDict):
    """The ATS ids of the account's jobs to switch."""

    ids: Annotated[list[JobId], Limits(minItems=1, maxItems=MAX_IDS)]


class BidBody(TypedDict):
    """The job's bid, its `<cpc>` in the feed: an amount in the account's currency like `"1.50"` (0 to
    1000.00, at most 2 decimals), or null for the account's default."""

    bid: Annotated[str, Limits(pattern=BID_PATTERN)] | None


class IntegrationBody(TypedDict):
    """The integration switch's new position."""

    enabled: bool


class StageBody(TypedDict):
    """The funnel event a stage means (null: deliberately none), in one workflow (`""`, the default: every
    workflow)."""

    funnel_event: FunnelEvent | None
    workflow: NotRequired[Annotated[str, Limits(maxLength=MAX_ID, pattern=NO_NUL)]]


# --- what the handlers answer, where no result type of a service is the answer -----------------------


class JobsPageJson(TypedDict):
    """A page of the account's jobs, newest first, and how many match in all."""

    total: int
    jobs: list[JobJson]


class IntegrationJson(TypedDict):
    """The integration switch now, and whether this request changed it."""

    enabled: bool
    changed: bool


class HeldJson(TypedDict):
    """The mass close a sync held back, or null when nothing waits."""

    held: HeldCloseJson | None


class ClosedJson(TypedDict):
    """How many of the held jobs closed (those the ATS reopened meanwhile stay open)."""

    closed: int


class KeptJson(TypedDict):
    """How many jobs the held close would have closed, now kept open."""

    kept: int


class StageMappedJson(TypedDict):
    """The stage's mapping now, and what it was before."""

    stage_id: str
    before: str | None
    funnel_event: FunnelEvent | None


class DeliveriesPageJson(TypedDict):
    """The newest deliveries matching, and how many match in all."""

    total: int
    deliveries: list[DeliveryJson]


class ReplayedJson(TypedDict):
    """The ids of the deliveries put back in the queue."""

    replayed: list[int]


class IncidentsJson(TypedDict):
    """The open incidents (or every one), newest first."""

    incidents: list[IncidentJson]


class AuditJson(TypedDict):
    """The newest audit entries, newest first."""

    entries: list[AuditEntryJson]


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
    except UnknownAccount as error:
        return json_error(404, str(error))


def _path_id(request: web.Request, name: str, what: str) -> str:
    value = request.match_info[name]
    problem = text_problem(value)
    if problem:
        raise BadRequest(f"the {what} in the path {problem}")
    return value


async def _json_object(request: web.Request, example: str) -> dict[str, Any]:
    try:
        body = await read_json(request)
    except BadJson as error:
        raise BadRequest(f"body must be a JSON object like {example} ({error})") from None
    if not isinstance(body, dict):
        raise BadRequest(f"body must be a JSON object like {example}")
    return body


async def _ids(request: web.Request) -> list[str]:
    ids = (await _json_object(request, '{"ids": ["123"]}')).get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise BadRequest('"ids" must be a non-empty list of ATS job ids (strings)')
    if len(ids) > MAX_IDS:
        raise BadRequest(f'"ids" may hold at most {MAX_IDS} ids')
    for ats_id in ids:
        problem = text_problem(ats_id)
        if problem:
            raise BadRequest(f'"ids": {ats_id[:50]!r} {problem}')
    return ids


_NO_ACCOUNT = "there is no such account"


@api.get("/api/accounts", AccountListJson)
async def accounts_index(request: web.Request) -> web.Response:
    """Every configured account with its switches and last sync."""
    config = request.app[CONFIG]
    accounts = [(await account_status(config, a)).as_json() for a in await all_accounts(config)]
    return reply(AccountListJson(accounts=accounts))


@api.get("/api/accounts/{account}", AccountStatusJson, errors={404: _NO_ACCOUNT})
async def account_detail(request: web.Request) -> web.Response:
    """One account with its switches and last sync."""
    config = request.app[CONFIG]
    account = await get_account(config, request.match_info["account"])
    return reply((await account_status(config, account)).as_json())


@api.get(
    "/api/accounts/{account}/jobs",
    JobsPageJson,
    query=(STATUS, FLAG, WORDS, LIMIT, OFFSET),
    errors={404: _NO_ACCOUNT},
)
async def jobs_index(request: web.Request) -> web.Response:
    """The account's jobs, newest first, filtered and paged."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    total, rows = await list_jobs(
        account,
        status=STATUS.read(request),
        flag=FLAG.read(request),
        text=WORDS.read(request),
        limit=LIMIT.read(request),
        offset=OFFSET.read(request),
    )
    for row in rows:
        del row["id"]  # the database's own: neither the API nor a script names jobs by it
    return reply({"total": total, "jobs": rows})


async def _switch(request: web.Request, *, on: bool) -> web.Response:
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    ids = await _ids(request)
    result = await switch_jobs(account, ids, on=on, actor="api", source="api")
    return reply(result.as_json())


@api.post("/api/accounts/{account}/jobs/enable", SwitchResultJson, body=IdsBody, errors={404: _NO_ACCOUNT})
async def jobs_enable(request: web.Request) -> web.Response:
    """Switch jobs on for Appcast; says what changed, what already was so, and which ids name no job."""
    return await _switch(request, on=True)


@api.post("/api/accounts/{account}/jobs/disable", SwitchResultJson, body=IdsBody, errors={404: _NO_ACCOUNT})
async def jobs_disable(request: web.Request) -> web.Response:
    """Switch jobs off for Appcast; says what changed, what already was so, and which ids name no job."""
    return await _switch(request, on=False)


@api.put(
    "/api/accounts/{account}/jobs/{job}/bid",
    BidResultJson,
    body=BidBody,
    errors={
        400: "the job id in the path is not text the hub can store, or the bid is no amount",
        404: f"{_NO_ACCOUNT}, or it has no such job",
        409: "the account writes no `<cpc>` into its feed (no `appcast` table): a bid would change nothing",
    },
)
async def job_bid(request: web.Request) -> web.Response:
    """Set a job's bid, its `<cpc>` in the feed, or put it back to the account's default (audited)."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    ats_id = _path_id(request, "job", "job id")
    body = await _json_object(request, '{"bid": "1.50"}')
    if "bid" not in body:
        # Required although null is a value: a body that forgot it must not clear the bid.
        raise BadRequest('"bid" is required: an amount like "1.50", or null for the account\'s default')
    amount = body["bid"]
    if amount is not None and not isinstance(amount, str):
        # A JSON number would be a float: 0.1 + 0.2 is not what an admin means by a price.
        raise BadRequest('"bid" must be a string like "1.50", or null for the account\'s default')
    try:
        cents = None if amount is None else parse_amount(amount)
    except BadBid as error:
        raise BadRequest(f'"bid": {error.amount[:40]!r} {error.problem}') from None
    try:
        result = await set_bid(account, request.app[PLUGINS], ats_id, cents, actor="api", source="api")
    except BidNotWritten as error:
        return json_error(409, str(error))
    if not result.found:
        return json_error(404, f"account {account.name!r} has no job {ats_id!r}")
    return reply(result.as_json())


@api.post(
    "/api/accounts/{account}/sync",
    SyncResultJson,
    also={502: (SyncResultJson, "the ATS failed: `error` says how; nothing changed")},
    query=(FULL,),
    errors={404: _NO_ACCOUNT, 503: "the hub is shutting down"},
)
async def account_sync(request: web.Request) -> web.Response:
    """Sync the account's jobs from its ATS now; answers what changed."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    full = FULL.read(request)
    result = await request.app[SCHEDULER].sync(account.name, full=full)
    if result is None:
        return json_error(503, "the hub is shutting down")
    return reply(result.as_json(), status=502 if result.error else 200)


@api.post(
    "/api/accounts/{account}/reconcile",
    StoreResultJson,
    errors={
        404: f"{_NO_ACCOUNT}, or its adapter cannot be polled for events",
        502: "the ATS could not be polled (the hub's log says why)",
    },
)
async def account_reconcile(request: web.Request) -> web.Response:
    """Poll the ATS now for events webhooks missed; answers how many were new."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    if not request.app[PLUGINS].implements(account.config.adapter, "appcast_hub_fetch_recent_events"):
        return json_error(404, f"the {account.config.adapter!r} adapter cannot be polled for events")
    result = await request.app[SCHEDULER].reconcile(account.name)
    if result is None:
        return json_error(502, "the ATS could not be polled: see the hub's log")
    return reply(result.as_json())


@api.post(
    "/api/accounts/{account}/integration", IntegrationJson, body=IntegrationBody, errors={404: _NO_ACCOUNT}
)
async def account_integration(request: web.Request) -> web.Response:
    """Switch the account's Appcast integration on or off (audited)."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    enabled = (await _json_object(request, '{"enabled": true}')).get("enabled")
    if not isinstance(enabled, bool):
        raise BadRequest('"enabled" must be true or false')
    changed = await set_integration(account, enabled=enabled, actor="api", source="api")
    return reply(IntegrationJson(enabled=enabled, changed=changed))


@api.get("/api/accounts/{account}/held", HeldJson, errors={404: _NO_ACCOUNT})
async def held_index(request: web.Request) -> web.Response:
    """The mass close a sync held back, if any."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    change = await held.held_now(account.row.id)
    return reply(HeldJson(held=change.as_json() if change is not None else None))


@api.post(
    "/api/accounts/{account}/held/confirm", ClosedJson, errors={404: f"{_NO_ACCOUNT}, or nothing is held"}
)
async def held_confirm(request: web.Request) -> web.Response:
    """Apply the held mass close: the jobs still open among it close (audited)."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    closed = await held.confirm(account, actor="api", source="api")
    if closed is None:
        return json_error(404, f"account {account.name!r} has no held change")
    return reply(ClosedJson(closed=closed))


@api.post("/api/accounts/{account}/held/keep", KeptJson, errors={404: f"{_NO_ACCOUNT}, or nothing is held"})
async def held_keep(request: web.Request) -> web.Response:
    """Keep the jobs of the held mass close open (audited)."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    kept = await held.keep(account, actor="api", source="api")
    if kept is None:
        return json_error(404, f"account {account.name!r} has no held change")
    return reply(KeptJson(kept=kept))


@api.get("/api/accounts/{account}/stages", StagesReportJson, errors={404: _NO_ACCOUNT})
async def stages_index(request: web.Request) -> web.Response:
    """The ATS's stages with their funnel events (``origin`` says where the mapping comes from)."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    return reply((await account_stages(account, request.app[PLUGINS], request.app[HTTP])).as_json())


@api.put(
    "/api/accounts/{account}/stages/{stage_id}",
    StageMappedJson,
    body=StageBody,
    errors={400: "the stage id in the path is not text the hub can store", 404: _NO_ACCOUNT},
)
async def stage_map(request: web.Request) -> web.Response:
    """Map a stage to a funnel event, or to none on purpose (audited)."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    stage_id = _path_id(request, "stage_id", "stage id")
    body = await _json_object(request, '{"funnel_event": "interview"}')
    if "funnel_event" not in body:
        # Required although null is a value: a body that forgot it must not unmap the stage.
        raise BadRequest(f'"funnel_event" is required: one of {", ".join(FUNNEL_EVENTS)}, or null for none')
    funnel = body["funnel_event"]
    workflow = body.get("workflow", "")
    if funnel is not None and funnel not in FUNNEL_EVENTS:
        raise BadRequest(f'"funnel_event" must be one of {", ".join(FUNNEL_EVENTS)} or null')
    if not isinstance(workflow, str):
        raise BadRequest('"workflow" must be a string')
    problem = text_problem(workflow)
    if problem:
        raise BadRequest(f'"workflow" {problem}')
    before = await map_stage(account, stage_id, funnel, workflow=workflow, actor="api", source="api")
    return reply(StageMappedJson(stage_id=stage_id, before=before, funnel_event=funnel))


@api.get(
    "/api/incidents",
    IncidentsJson,
    query=(INCIDENT_ACCOUNT, EVERY, INCIDENT_LIMIT),
    errors={404: "there is no such account"},
)
async def incidents_index(request: web.Request) -> web.Response:
    """What is wrong now: the open incidents (with `all=true`, resolved ones too), newest first."""
    name = INCIDENT_ACCOUNT.read(request)
    account_id = None if name is None else (await get_account(request.app[CONFIG], name)).row.id
    found = await list_incidents(
        account_id=account_id, every=bool(EVERY.read(request)), limit=INCIDENT_LIMIT.read(request)
    )
    return reply({"incidents": found})


@api.get(
    "/api/deliveries",
    DeliveriesPageJson,
    query=(ACCOUNT, STATE, LIMIT),
    errors={404: "there is no such account"},
)
async def deliveries_index(request: web.Request) -> web.Response:
    """The outbox, newest first."""
    name = ACCOUNT.read(request)
    account_id = None if name is None else (await get_account(request.app[CONFIG], name)).row.id
    total, rows = await list_deliveries(
        account_id=account_id, state=STATE.read(request), limit=LIMIT.read(request)
    )
    return reply({"total": total, "deliveries": rows})


@api.post(
    "/api/deliveries/{delivery}/retry",
    ReplayedJson,
    errors={400: "the path names neither a delivery id nor `dead`", 404: "no dead delivery has that id"},
)
async def delivery_retry(request: web.Request) -> web.Response:
    """Replay one dead delivery, or every dead delivery (``dead`` instead of an id)."""
    target = request.match_info["delivery"]
    if target != "dead" and not (target.isascii() and target.isdigit()):
        raise BadRequest("give a delivery id, or 'dead' for every dead delivery")
    if target != "dead" and len(target.lstrip("0")) > _MAX_ID_DIGITS:
        return json_error(404, f"no dead delivery {target[:30]}…")
    ids = await replay(None if target == "dead" else [int(target)], actor="api", source="api")
    if target != "dead" and not ids:
        return json_error(404, f"no dead delivery {target}")
    return reply(ReplayedJson(replayed=ids))


@api.get(
    "/api/accounts/{account}/stats",
    JobStatsJson | StatsReportJson,
    query=(JOB, TOP, SINCE, UNTIL),
    errors={400: "`since` or `until` is no date, or the period ends before it starts", 404: _NO_ACCOUNT},
)
async def account_stats(request: web.Request) -> web.Response:
    """Views, applies, conversion and hires: the account's with its top jobs, or one job's; over the UTC
    days from ``since`` to ``until``, or all time."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    try:
        period = parse_period(SINCE.read(request), UNTIL.read(request))
    except ValueError as problem:
        raise BadRequest(str(problem)) from None
    return reply(await stats_report(account, JOB.read(request), TOP.read(request), period))


@api.get("/api/accounts/{account}/feed/health", HealthJson, errors={404: _NO_ACCOUNT})
async def account_feed_health(request: web.Request) -> web.Response:
    """The feed's health: each rule's count over the jobs in the feed, and the jobs it found."""
    account = await get_account(request.app[CONFIG], request.match_info["account"])
    return reply((await feed_health(account)).as_json())


@api.get("/api/audit", AuditJson, query=(AUDIT_LIMIT,))
async def audit_index(request: web.Request) -> web.Response:
    """The newest changes and who made them, newest first."""
    entries = await recent_entries(AUDIT_LIMIT.read(request))
    return reply(AuditJson(entries=[entry_json(entry) for entry in entries]))


@api.get("/api/openapi.json", (dict[str, Any], "the OpenAPI document"), public=True)
async def openapi(request: web.Request) -> web.Response:
    """This document: the admin API's OpenAPI 3.1 description."""
    return reply(OPENAPI)


#: Built once every handler above is registered.
OPENAPI = api.document("appcast-hub admin API", __version__)
