"""A notice as the Slack message the sink posts: a plain fallback text and one mrkdwn section."""

from __future__ import annotations

from typing import Any

from hub.sdk import Notice
from plugins.slack_notices import const


def _escaped(text: str) -> str:
    # Slack's mrkdwn: these three are control characters, everything else is literal.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def notice_message(notice: Notice) -> dict[str, Any]:
    """The ``chat.postMessage`` arguments for ``notice``, the channel and thread aside. A resolution is
    also sent to the channel (``reply_broadcast``): the people told of the problem learn it is over."""
    mark = const.MARKS[notice.kind]
    state = {"incident.opened": "", "incident.updated": "Update: ", "incident.resolved": "Resolved: "}
    title = f"{state[notice.kind]}{notice.title}"
    text = _escaped(notice.text)[: const.MAX_TEXT]
    return {
        "text": f"{mark} {_escaped(title)}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{mark} *{_escaped(title)}*\n{text}"}}
        ],
        "unfurl_links": False,
        "reply_broadcast": notice.kind == "incident.resolved",
    }
