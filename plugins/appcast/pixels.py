"""Appcast's tracking pixel for career sites: the script tag, and the data-layer push single-page sites use.

Appcast gives each client one script (``https://click.appcast.io/pixels/{slug}-{id}.js?ent={ENT}``); on a
classic site it is pasted on the job page (a view) and the application-confirmation page (a conversion)
and reads the page itself. A single-page site loads it once and tells it what happened with
``window.acDataLayer.push({event, jid})``.

The job id comes from the request that asked for the snippet, so it is escaped for the JavaScript string
inside a ``<script>`` element it lands in; the script URL (from config) is escaped for its HTML attribute.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from plugins.appcast import const

# Inside <script>, "</script>" or "<!--" end or confuse the element whatever the JS says: no "<" may
# appear. ">" and "&" go too (XHTML pages, "-->"), and U+2028/9 end a line in older JS engines.
_SCRIPT_UNSAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def js_string(text: str) -> str:
    """A JavaScript string literal for ``text``, safe to place inside an HTML ``<script>`` element."""
    # ensure_ascii: every non-ASCII character (lone surrogates too) becomes a \\u escape.
    return json.dumps(text, ensure_ascii=True).translate(_SCRIPT_UNSAFE)


def script_url(options: Mapping[str, Any]) -> str | None:
    """The account's pixel script: ``pixel_script_url``, else built from slug and id; None without either."""
    url = options.get("pixel_script_url")
    if url:
        return str(url)
    slug, pixel_id = options.get("pixel_slug"), options.get("pixel_id")
    if not slug or pixel_id is None or pixel_id == "":
        return None
    return const.PIXEL_SCRIPT_TEMPLATE.format(
        slug=quote(str(slug), safe=""),
        id=quote(str(pixel_id), safe=""),
        ent=quote(str(options["ent_id"]), safe=""),
    )


def snippet(url: str, page: str, job_id: str | None, single_page: bool) -> str | None:
    """The HTML for ``page`` (``job`` or ``confirmation``); None for a page Appcast has no event for."""
    event = const.PAGE_EVENTS.get(page)
    if event is None:
        return None
    tag = f'<script src="{html.escape(url, quote=True)}" async></script>'
    if not single_page:
        return tag
    # Without a job id the snippet is a template: the site fills in the job it shows, as the hub's own
    # pixel line asks it to.
    jid = const.JOB_ID_PLACEHOLDER if job_id is None else job_id
    push = f"window.acDataLayer.push({{event: {js_string(event)}, jid: {js_string(jid)}}});"
    return f"{tag}\n<script>window.acDataLayer = window.acDataLayer || []; {push}</script>"
