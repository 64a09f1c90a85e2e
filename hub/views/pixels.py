"""Career-site pixels: the 1x1 GIF that counts a hit, and the snippet of HTML to paste.

``GET /px/{account}/{view,apply}.gif?job=ID`` answers at once with a transparent GIF and never an
error page (a broken image on a career site helps nobody): an unknown account or a missing job id is
answered with the GIF too, and not counted, with an ``X-Pixel-Ignored`` header saying why.
"""

from __future__ import annotations

import base64
import html
import re
from urllib.parse import quote

from aiohttp import web

from hub.accounts import UnknownAccount, get_account
from hub.appkeys import ACCOUNTS, CONFIG, PIXELS, PLUGINS
from hub.db import is_outage
from hub.metrics import PIXEL_HITS
from hub.pixels import KINDS, MAX_JOB_ID
from hub.views.errors import json_error

routes = web.RouteTableDef()

#: The classic 43-byte transparent 1x1 GIF.
GIF = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
_GIF_HEADERS = {"Cache-Control": "no-store, max-age=0", "Content-Type": "image/gif"}
PAGES = {"job": "view", "confirmation": "apply"}
#: Not in any job id: control characters (NUL, which PostgreSQL refuses, among them) and the line breaks
#: ``str.splitlines`` knows, which would cut a spooled hit in two and count it for another job.
_NOT_IN_JOB_ID = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _gif(ignored: str | None = None) -> web.Response:
    headers = dict(_GIF_HEADERS)
    if ignored:
        headers["X-Pixel-Ignored"] = ignored
    return web.Response(body=GIF, headers=headers)


@routes.get("/px/{account}/{kind}.gif")
async def pixel(request: web.Request) -> web.Response:
    """Count a job view or an application (apply) hit; always a GIF."""
    kind = request.match_info["kind"]
    if kind not in KINDS:
        return json_error(404, f"pixels are view.gif and apply.gif, not {kind}.gif")
    job_id = request.query.get("job", "").strip()
    if not job_id or len(job_id) > MAX_JOB_ID or _NOT_IN_JOB_ID.search(job_id):
        return _gif("missing or invalid job id")
    try:
        account = await request.app[ACCOUNTS].get(request.match_info["account"])
    except UnknownAccount:
        return _gif("unknown account")
    except Exception as error:
        if not is_outage(error):
            raise
        return _gif("the hub cannot reach its database")  # only before the account was ever read
    if not request.app[PIXELS].hit(account.row.id, kind, job_id):
        return _gif("spool full: the hub cannot count hits right now")
    PIXEL_HITS.labels(kind).inc()
    return _gif()


@routes.get("/pixels/{account}/snippet")
async def snippet(request: web.Request) -> web.Response:
    """The HTML a career-site developer pastes: Appcast's pixel script and the hub's own pixel."""
    try:
        account = await get_account(request.app[CONFIG], request.match_info["account"])
    except UnknownAccount:
        return json_error(404, f"no account named {request.match_info['account']!r}")
    page = request.query.get("page", "job")
    if page not in PAGES:
        return json_error(400, f"page must be one of {', '.join(PAGES)}, not {page!r}")
    job_id = request.query.get("job") or None
    single_page = request.query.get("spa", "") in ("1", "true", "yes")
    parts = [
        text
        for _, text in await request.app[PLUGINS].broadcast(
            "appcast_hub_pixel_snippet", account.config, page=page, job_id=job_id, single_page=single_page
        )
    ]
    base = request.app[CONFIG].public_url
    src = f"{base}/px/{account.name}/{PAGES[page]}.gif?job={quote(job_id, safe='') if job_id else 'JOB_ID'}"
    parts.append(
        f'<img src="{html.escape(src)}" width="1" height="1" alt="" style="position:absolute;left:-9999px">'
    )
    if job_id is None:
        parts.insert(0, "<!-- replace JOB_ID with the ATS job id of the page -->")
    return web.Response(text="\n".join(parts) + "\n", content_type="text/html")
