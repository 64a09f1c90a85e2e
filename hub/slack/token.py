"""Is the bot token good? ``auth.test``, asked once at start-up (and by ``check-config``), never per request.

Bolt's own single-workspace authorization calls ``auth.test`` on every request until one succeeds: with
Slack's Web API unreachable or the token wrong, every slash command became a 500 and a log line. The hub
checks the token itself instead, says what it found in the log, ``check-config`` and ``/appcast status``,
and answers commands either way (they reply through ``response_url``, which needs no token).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

#: How long one check may take: start-up and check-config must not hang on an unreachable Slack.
CHECK_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """What ``auth.test`` said of the bot token."""

    #: True: Slack accepted it; False: Slack refused it; None: Slack could not be asked.
    ok: bool | None
    #: Slack's error code (``invalid_auth``…) or why it could not be asked; None when ok.
    problem: str | None = None
    team: str | None = None
    bot_user_id: str | None = None
    bot_id: str | None = None

    def describe(self) -> str:
        """One line for the log, ``check-config`` and status; never the token itself."""
        if self.ok:
            return f"the bot token works (workspace {self.team}, bot user {self.bot_user_id})"
        if self.ok is False:
            return (
                f"Slack refused the bot token ({self.problem}): check [slack] bot_token; commands still "
                "answer, but announcements and user-group checks fail"
            )
        return f"the hub cannot reach Slack's Web API ({self.problem}) to check the bot token"


async def check_token(client: AsyncWebClient) -> TokenCheck:
    """Ask Slack's ``auth.test`` about ``client``'s token."""
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            answer = await client.auth_test()
    except SlackApiError as error:
        return TokenCheck(False, str(error.response.get("error") or "refused"))
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return TokenCheck(None, type(error).__name__)
    return TokenCheck(
        True,
        team=str(answer.get("team") or answer.get("team_id") or "?"),
        bot_user_id=answer.get("user_id"),
        bot_id=answer.get("bot_id"),
    )
