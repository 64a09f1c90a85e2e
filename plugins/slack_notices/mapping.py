"""A notice as the Slack message the sink posts: a plain fallback text and Block Kit blocks (an incident's
notice one mrkdwn section, a digest a header and a section per part)."""

from __future__ import annotations

from typing import Any

from hub.sdk import Digest, Notice, NoticeAction
from plugins.slack_notices import const


def _escaped(text: str) -> str:
    # Slack's mrkdwn: these three are control characters, everything else is literal.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def notice_message(notice: Notice) -> dict[str, Any]:
    """The ``chat.postMessage`` arguments for ``notice``, the channel and thread aside. A resolution is
    also sent to the channel (``reply_broadcast``): the people told of the problem learn it is over."""
    if notice.digest is not None:
        return digest_message(notice, notice.digest)
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


def digest_message(notice: Notice, digest: Digest) -> dict[str, Any]:
    """The ``chat.postMessage`` arguments for a digest, the channel aside: a header, what the numbers are
    over, a field per figure (its value, its change and its sparkline), the top jobs, the open incidents."""
    fields = [
        {"type": "mrkdwn", "text": f"*{figure.label}*\n{figure.shown()}  ({figure.change_shown()})\n"
                                   f"`{figure.sparkline or ' '}`"}
        for figure in digest.figures
    ]  # fmt: skip
    tops = [
        f"{n}. {_escaped(job.title or job.job)} (`{_escaped(job.job)}`): {job.summary()}"
        for n, job in enumerate(digest.top_jobs, 1)
    ]
    incidents = [f"• {_escaped(title)}" for title in digest.incidents]
    title = f"{const.MARKS[notice.kind]} {notice.title}"
    header = {"type": "plain_text", "text": title[: const.MAX_HEADER], "emoji": True}
    return {
        "text": _escaped(title),
        "blocks": [
            {"type": "header", "text": header},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _escaped(digest.basis())}]},
            {"type": "section", "fields": fields},
            _section("Top jobs by views", tops or ["none viewed"]),
            _section("Open incidents", incidents or ["none"]),
        ],
        "unfurl_links": False,
    }


def _section(heading: str, lines: list[str]) -> dict[str, Any]:
    text = f"*{heading}*\n" + "\n".join(lines)
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[: const.MAX_TEXT]}}
