"""A notice as the Slack message the sink posts: a plain fallback text and one mrkdwn section."""

from __future__ import annotations

from typing import Any

from hub.sdk import Notice, NoticeAction
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
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{mark} *{_escaped(title)}*\n{text}"}}
    ]
    if notice.actions:
        blocks.append({"type": "actions", "elements": [_button(action) for action in notice.actions]})
    return {
        "text": f"{mark} {_escaped(title)}",
        "blocks": blocks,
        "unfurl_links": False,
        "reply_broadcast": notice.kind == "incident.resolved",
    }


def _button(action: NoticeAction) -> dict[str, Any]:
    """A Block Kit button: the hub's own Slack app acts on its ``action_id`` when an admin clicks it."""
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": action.label[:75]},
        "action_id": action.action_id,
        "value": action.value[:2000],
    }
    if action.danger:
        button["style"] = "danger"
    if action.confirm:
        button["confirm"] = {
            "title": {"type": "plain_text", "text": "Are you sure?"},
            "text": {"type": "mrkdwn", "text": _escaped(action.confirm)[:300]},
            "confirm": {"type": "plain_text", "text": action.label[:30]},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
    return button
