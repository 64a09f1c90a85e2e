"""``chat.postMessage`` once (an outbox attempt): Slack's answers mapped to the hub's errors.

Slack answers most failures with HTTP 200 and ``{"ok": false, "error": …}``; a 429 carries ``Retry-After``.
The token is never in a message; the channel and Slack's error code are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from hub.sdk import AdapterAuthError, AdapterUnavailable, SendLater, pacer, retry_after
from plugins.slack_notices import const


async def post_message(
    http: aiohttp.ClientSession,
    api_url: str,
    token: str,
    channel: str,
    message: Mapping[str, Any],
    *,
    thread_ts: str | None,
    timeout_seconds: float,
    paced_as: str,
    turn_key: str,
) -> dict[str, str]:
    """Post ``message`` to ``channel`` (in the thread ``thread_ts``); returns the ``channel`` and the thread's
    ``ts``: the message's own for a new one, ``thread_ts`` for a reply, which the next notice replies to.

    ``paced_as``: the channel as configured, for Slack's limit of about a message a second per channel: a
    reply goes to the id Slack answered for its opening, which may have named the channel. ``turn_key``:
    what names this message's turn in the channel when it is told to come back for it (its delivery)."""
    pace = pacer((const.NAME, api_url, paced_as), const.MESSAGES_PER_SECOND)
    if pace is not None:
        wait = await pace.turn(turn_key, const.LONGEST_PACE_WAIT)
        if wait is not None:
            raise SendLater(f"{const.PEER} takes about a message a second in {paced_as}", wait)
    body = {**message, "channel": channel, **({"thread_ts": thread_ts} if thread_ts else {})}
    if not thread_ts:
        body.pop("reply_broadcast", None)  # only a reply is broadcast
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with http.post(
            api_url.rstrip("/") + "/chat.postMessage", json=body, headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_seconds), allow_redirects=False,
        ) as response:  # fmt: skip
            if response.status == 429:
                raise AdapterUnavailable(
                    f"{const.PEER} rate-limited the channel", status=429, retry_after=retry_after(response)
                )
            if response.status != 200:
                raise AdapterUnavailable(
                    f"{const.PEER} answered HTTP {response.status}", status=response.status
                )
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        raise AdapterUnavailable(f"{const.PEER} unreachable or unreadable: {type(error).__name__}") from None
    if not isinstance(answer, dict) or not answer.get("ok"):
        code = str(answer.get("error") if isinstance(answer, dict) else "no answer")[:80]
        if code in const.AUTH_ERRORS:
            raise AdapterAuthError(
                f"{const.PEER} refused the bot token ({code}): check its bot_token", status=401
            )
        if code in const.CHANNEL_ERRORS:
            # Every notice to the channel fails alike until an admin acts: they wait, as in an outage.
            raise AdapterUnavailable(
                f"{const.PEER} cannot post in {channel} ({code}): invite the bot or fix channel"
            )
        if code in const.TRANSIENT_ERRORS:
            raise AdapterUnavailable(f"{const.PEER} failed ({code})", status=503)
        # This message alone: retried a few times, then dead-lettered, and the ones after it go on.
        raise AdapterUnavailable(f"{const.PEER} refused the message ({code})", status=400)
    return {"channel": str(answer.get("channel") or channel), "ts": thread_ts or str(answer["ts"])}
