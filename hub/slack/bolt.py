"""Slack's side of the bot: the Bolt ``AsyncApp``, its listeners, and the hub route Slack posts to.

One process, one port: ``POST /slack/events`` is an ordinary route of the hub's aiohttp app, handed to
Bolt through ``slack_bolt.adapter.aiohttp``. The route checks the signature itself before Bolt does, so a
forged or stale request is refused (401) before its body is even parsed, a replayed one (same signature)
is answered 200 without being run twice, and a signed body of a shape Slack never sends is refused (400)
instead of crashing Bolt's parser.

Besides the command and its buttons, the app takes one event, ``app_home_opened``: the user's App Home
tab (:mod:`hub.slack.home`) is published for them with ``views.publish``, and again after each click on
it. Slack being slow or down (a 429 is waited out twice, then given up) costs a stale tab, never an error
the hub answers with.

The 3-second rule: every listener's ``ack()`` runs at once and carries only what needs no I/O (help,
usage errors, "working on it"); the command itself runs in a Bolt *lazy listener* and answers through
the request's ``response_url``. The hub runs Bolt with ``process_before_response=False`` — right for a
long-running server — and swaps Bolt's fire-and-forget lazy runner for one that keeps its tasks, so
shutdown can let replies finish instead of dropping them mid-flight.

Socket Mode (``[slack] socket_mode = true``) connects out to Slack over a WebSocket for hubs Slack cannot
reach; the same app and listeners answer it (the route stays, unused). It cannot be tried against the
real Slack here: the tests run it against the fake Slack's WebSocket.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.lazy_listener.async_internals import to_runnable_function
from slack_bolt.lazy_listener.async_runner import AsyncLazyListenerRunner
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from hub.appkeys import CONFIG, HTTP, PLUGINS, SCHEDULER, SLACK
from hub.db import is_outage
from hub.logs import QuietLog, redactor
from hub.slack import blocks, home
from hub.slack.commands import Command, Help, UsageError, parse
from hub.slack.handlers import CommandRunner, Gatekeeper, Reply, Services
from hub.slack.token import TokenCheck, check_token
from hub.views.errors import json_error

_LOGGER = logging.getLogger(__name__)
_QUIET = QuietLog(_LOGGER)

EVENTS_PATH = "/slack/events"
#: Slack accepts a request timestamp up to 5 minutes either side of now, so one signature stays valid
#: for 10 minutes at most: remembered a little longer than that, a replay is always recognised.
REPLAY_WINDOW_SECONDS = 11 * 60
#: Tries after a 429 (each waits the Retry-After Slack sent) before a Web API call gives up.
RATE_LIMIT_RETRIES = 2
#: The longest shutdown waits for lazy listeners still answering.
DRAIN_SECONDS = 10.0
#: While Slack's Web API cannot be reached, the token is checked again after 1 s, 2 s, … up to this.
TOKEN_RECHECK_CAP_SECONDS = 300.0
HOME_OPENED = "app_home_opened"
#: The Events API events the app listens to: ``slack/manifest.yml`` subscribes to exactly these.
BOT_EVENTS = (HOME_OPENED,)


#: Fields of a button click's payload, and the type Slack sends each in: Bolt's middlewares read them
#: without checking (a string ``user`` or ``view`` made a 500).
_ACTION_FIELDS: dict[str, type | tuple[type, ...]] = {
    "user": dict, "team": (dict, type(None)), "enterprise": (dict, str, type(None)),
    "channel": (dict, type(None)), "container": (dict, type(None)), "message": (dict, type(None)),
    "view": (dict, type(None)), "state": (dict, type(None)), "actions": list,
}  # fmt: skip


def shape_problem(body: Any) -> str | None:
    """Why a signed body is not one of the kinds this app takes, or None when it is one.

    The app takes slash commands (a form of text fields), button clicks (``block_actions`` payloads), the
    events of :data:`BOT_EVENTS` and the URL check Slack makes when the events' URL is set; no views or
    shortcuts. Slack signs only what it sends, but a body of another kind (or a field of another type)
    would reach Bolt's middlewares, which assume Slack's shapes.
    """
    if not isinstance(body, dict):
        return "the body is not an object"
    if "command" in body:
        return None if all(isinstance(value, str) for value in body.values()) else "a command holds non-text"
    if body.get("type") == "url_verification":
        return None if isinstance(body.get("challenge"), str) else "a URL check without its challenge"
    if body.get("type") == "event_callback":
        return _event_problem(body)
    if body.get("type") != "block_actions":
        return "neither a slash command, a button click nor an event"
    for name, kinds in _ACTION_FIELDS.items():
        if name in body and not isinstance(body[name], kinds):
            return f"{name!r} is not what Slack sends"
    if not all(isinstance(action, dict) for action in body.get("actions", ())):
        return "'actions' holds something other than actions"
    return None


#: The ids of an event Bolt reads (to find the user, the channel, the team): strings when Slack sends them.
_EVENT_IDS = ("user", "channel", "tab", "team", "user_team")


def _event_problem(body: dict[str, Any]) -> str | None:
    """:func:`shape_problem` of an Events API callback: the fields Bolt reads, of the types Slack sends."""
    event = body.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return "an event callback without its event"
    if not all(isinstance(event.get(name, ""), str) for name in _EVENT_IDS):
        return "the event's ids are not what Slack sends"
    authorizations = body.get("authorizations", [])
    if not isinstance(authorizations, list) or not all(isinstance(item, dict) for item in authorizations):
        return "'authorizations' is not what Slack sends"
    return None


class ReplayGuard:
    """Remembers the signatures of verified requests for as long as a replay could still verify."""

    def __init__(self, window: float = REPLAY_WINDOW_SECONDS) -> None:
        self.window = window
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, signature: str) -> bool:
        """True the first time ``signature`` is seen within the window, False for a replay."""
        now = time.monotonic()
        while self._seen and next(iter(self._seen.values())) < now - self.window:
            self._seen.popitem(last=False)
        if signature in self._seen:
            return False
        self._seen[signature] = now
        return True


class TrackedLazyRunner(AsyncLazyListenerRunner):
    """Bolt's asyncio lazy runner, but keeping its tasks: a task nobody references can be collected
    mid-flight, and shutdown must know what is still answering."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, function: Callable[..., Awaitable[None]], request: AsyncBoltRequest) -> None:
        # What Bolt's own AsyncioLazyListenerRunner runs (the base class's run() cannot: it calls the
        # coroutine to_runnable_function returns).
        task = asyncio.create_task(
            to_runnable_function(internal_func=function, logger=self.logger, request=request)
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109 - a grace period, then cancellation
        """Let running listeners finish for up to ``timeout`` seconds, then cancel the rest."""
        if not self.tasks:
            return
        _, pending = await asyncio.wait(set(self.tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def slack_error(error: SlackApiError) -> str:
    """What Slack said went wrong: its error code, or the HTTP status when it answered no JSON (a 503
    page from a Slack outage)."""
    data = error.response.data
    return str(data.get("error")) if isinstance(data, dict) else f"HTTP {error.response.status_code}"


def scrubbed(value: Any) -> Any:
    """``value`` (a message body) with every known secret replaced: nothing secret is ever posted."""
    if isinstance(value, str):
        return redactor.scrub(value)
    if isinstance(value, dict):
        return {key: scrubbed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrubbed(item) for item in value]
    return value


class SlackBot:
    """The Bolt app wired to the hub: listeners, replies, announcements and Socket Mode."""

    def __init__(self, services: Services) -> None:
        settings = services.config.slack
        self.http = services.http
        self.announce_channel: str | None = settings["announce_channel"]
        self.drain_seconds = min(DRAIN_SECONDS, services.config.server["shutdown_timeout"])
        self.retry_handlers: list[AsyncRetryHandler] = [
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ]
        # No shared session here, unlike everywhere else: Bolt deep-copies each request's context, this
        # client included, for the lazy listeners, and an aiohttp session cannot be copied. Web API calls
        # are few (one user-group lookup a minute, one announcement per switch, one views.publish per
        # look at the Home tab); answers to response_url, the frequent ones, do go through the hub's
        # session (see respond()).
        self.client = AsyncWebClient(
            token=settings["bot_token"],
            base_url=settings["api_base_url"],
            retry_handlers=self.retry_handlers,
            logger=_LOGGER,
        )
        self.verifier = SignatureVerifier(settings["signing_secret"])
        self.replays = ReplayGuard()
        self.runner = CommandRunner(
            services, Gatekeeper(settings["admins"], settings["admin_usergroup"], self.client)
        )
        self.token = TokenCheck(None, "not checked yet")
        self.runner.web_api_problem = lambda: None if self.token.ok else self.token.describe()
        self.app = AsyncApp(
            name="appcast-hub",
            client=self.client,
            signing_secret=settings["signing_secret"],
            # Not Bolt's per-request auth.test (hub.slack.token says why): one workspace, one token.
            authorize=self._authorizer(),
            logger=_LOGGER,
            process_before_response=False,
        )
        self.lazy = TrackedLazyRunner(_LOGGER)
        self.app.listener_runner.lazy_listener_runner = self.lazy
        self.app.command(blocks.COMMAND)(ack=self._ack_command, lazy=[self._run_command])
        for action_id, click in (
            (blocks.ACTION_ENABLE, self._click_enable),
            (blocks.ACTION_DISABLE, self._click_disable),
            (blocks.ACTION_PAGE, self._click_page),
            (blocks.ACTION_HELD_CONFIRM, self._click_held_confirm),
            (blocks.ACTION_HELD_KEEP, self._click_held_keep),
            *((action_id, self._click_home) for action_id in home.COMMANDS),
        ):
            self.app.action(action_id)(ack=self._ack_at_once, lazy=[click])
        self.app.event(HOME_OPENED)(ack=self._ack_at_once, lazy=[self._home_opened])
        self.socket_mode: AsyncSocketModeHandler | None = None
        if settings["socket_mode"]:
            self.socket_mode = AsyncSocketModeHandler(self.app, settings["app_token"], logger=_LOGGER)
        self._connecting: asyncio.Task[None] | None = None
        self._checking: asyncio.Task[None] | None = None

    # --- life cycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Check the bot token and connect Socket Mode, when configured, in the background."""
        self._checking = asyncio.create_task(self._check_token(), name="slack-token")
        if self.socket_mode is not None:
            # connect() keeps retrying until Slack answers: a Slack outage must not hold up the hub.
            self._connecting = asyncio.create_task(self.socket_mode.connect_async())

    async def _check_token(self) -> None:
        """Ask Slack about the bot token until it answers; say once what it said (never the token)."""
        delay = 1.0
        while True:
            self.token = await check_token(self.client)
            if self.token.ok is not None:
                log = _LOGGER.info if self.token.ok else _LOGGER.error
                log("Slack: %s", self.token.describe())
                return
            _QUIET.log(logging.WARNING, "token", "Slack: %s; trying again", self.token.describe())
            await asyncio.sleep(delay)
            delay = min(delay * 2, TOKEN_RECHECK_CAP_SECONDS)

    def _authorizer(self) -> Callable[..., Awaitable[AuthorizeResult]]:
        """Bolt's ``authorize``: the one bot token, and what the start-up check learnt of it.

        A plain function, not a method: Bolt passes it the arguments its parameters are named after.
        """

        async def authorize(
            enterprise_id: str | None, team_id: str | None, user_id: str | None
        ) -> AuthorizeResult:
            return AuthorizeResult(
                enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=self.client.token,
                bot_user_id=self.token.bot_user_id, bot_id=self.token.bot_id,
            )  # fmt: skip

        return authorize

    async def stop(self) -> None:
        """Stop taking requests (Socket Mode), then let answers in flight finish for a few seconds."""
        if self._checking is not None:
            self._checking.cancel()
            await asyncio.gather(self._checking, return_exceptions=True)
        if self.socket_mode is not None:
            if self._connecting is not None:
                self._connecting.cancel()
                await asyncio.gather(self._connecting, return_exceptions=True)
            await self.socket_mode.close_async()
        await self.lazy.drain(self.drain_seconds)

    # --- HTTP ---------------------------------------------------------------------------------------

    def verified(self, body: bytes, timestamp: str, signature: str) -> bool:
        """Is this exactly what Slack signed, within 5 minutes of now?"""
        # What the verifier would choke on (int(), compare_digest of non-ASCII) rather than refuse.
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12 and signature.isascii()):
            return False
        try:
            return self.verifier.is_valid(body, timestamp, signature)
        except UnicodeDecodeError:  # it decodes the body first; Slack only ever signs UTF-8
            return False

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        """Verify, drop replays, and hand the request to Bolt."""
        body = await request.read()
        signature = request.headers.get("X-Slack-Signature", "")
        if not self.verified(body, request.headers.get("X-Slack-Request-Timestamp", ""), signature):
            return json_error(401, "invalid Slack signature or stale timestamp")
        if not self.replays.first_time(signature):
            _LOGGER.info("ignored a replayed Slack request")
            return web.Response(status=200)
        # Slack signed it, so it is one of Slack's shapes; should it not be, it is refused here rather
        # than crashing Bolt's parsing (which raises all of these on odd payloads).
        try:
            bolt_request = await to_bolt_request(request)
        except (ValueError, RecursionError, AttributeError, TypeError):
            return json_error(400, "malformed Slack request body")
        problem = shape_problem(bolt_request.body)
        if problem is not None:
            _QUIET.log(logging.INFO, "shape", "refused a signed Slack request: %s", problem)
            return json_error(400, f"not a Slack request this app takes: {problem}")
        return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

    # --- listeners --------------------------------------------------------------------------------------

    def _parse(self, body: dict[str, Any]) -> Command | UsageError:
        return parse(str(body.get("text") or ""), self.runner.config.accounts)

    async def _ack_command(self, ack: Any, body: dict[str, Any]) -> None:
        command = self._parse(body)
        if isinstance(command, UsageError):
            await ack(**blocks.usage_message(command))
        elif isinstance(command, Help):
            await ack(**blocks.help_message())
        elif command.slow:
            await ack(**blocks.working(f"Working on {blocks.COMMAND} {command.name}…"))
        else:
            await ack()  # the answer follows through response_url within moments

    async def _run_command(self, body: dict[str, Any]) -> None:
        command = self._parse(body)
        if isinstance(command, (UsageError, Help)):
            return  # the acknowledgement was the whole answer
        user = str(body.get("user_id") or "")
        _LOGGER.info("Slack user %s: /appcast %s", user, command.name)
        await self._answer(body, lambda: self.runner.run(command, user), action=False)

    async def _ack_at_once(self, ack: Any) -> None:
        await ack()

    async def _home_opened(self, body: dict[str, Any]) -> None:
        event = body.get("event") or {}
        # The event fires for the app's Messages tab too, where there is nothing to publish.
        if event.get("tab") == "home" and event.get("user"):
            await self.publish_home(str(event["user"]))

    async def _click_home(self, body: dict[str, Any]) -> None:
        action_id = str((body.get("actions") or [{}])[0].get("action_id") or "")
        await self._click(body, lambda user, value: self.runner.click_home(user, action_id, value))

    async def _click_enable(self, body: dict[str, Any]) -> None:
        await self._click(body, lambda user, value: self.runner.click_job(user, value, on=True))

    async def _click_disable(self, body: dict[str, Any]) -> None:
        await self._click(body, lambda user, value: self.runner.click_job(user, value, on=False))

    async def _click_page(self, body: dict[str, Any]) -> None:
        await self._click(body, lambda user, value: self.runner.click_page(value))

    async def _click_held_confirm(self, body: dict[str, Any]) -> None:
        await self._click(body, lambda user, value: self.runner.click_held(user, value, confirmed=True))

    async def _click_held_keep(self, body: dict[str, Any]) -> None:
        await self._click(body, lambda user, value: self.runner.click_held(user, value, confirmed=False))

    async def _click(self, body: dict[str, Any], work: Callable[[str, str], Awaitable[Reply]]) -> None:
        actions = body.get("actions") or [{}]
        value = str(actions[0].get("value") or "")
        user = str((body.get("user") or {}).get("id") or "")
        _LOGGER.info("Slack user %s clicked %s", user, actions[0].get("action_id"))
        await self._answer(body, lambda: work(user, value), action=True)

    # --- answering --------------------------------------------------------------------------------------

    async def _answer(
        self, body: dict[str, Any], work: Callable[[], Awaitable[Reply]], *, action: bool
    ) -> None:
        """Run ``work`` and send its reply: a click on the Home tab publishes the tab again with the reply
        on top (Slack gives such a click no ``response_url``), anything else answers its ``response_url``."""
        reply = await self._safely(work)
        response_url = body.get("response_url")
        view = body.get("view")
        if action and isinstance(view, dict) and view.get("type") == "home":
            await self.publish_home(str((body.get("user") or {}).get("id") or ""), notice=reply.message)
        elif response_url:
            extra = {"replace_original": reply.replace_original} if action else {}
            await self.respond(str(response_url), {**reply.message, "response_type": "ephemeral", **extra})
        if reply.announcement is not None and self.announce_channel is not None:
            await self.announce(reply.announcement)

    async def _safely(self, work: Callable[[], Awaitable[Reply]]) -> Reply:
        """What ``work`` answers; a failure becomes a short apology, never a traceback."""
        try:
            return await work()
        except Exception as error:
            if is_outage(error):
                _QUIET.log(logging.WARNING, "outage", "a Slack command waits for the database: %s",
                           type(error).__name__)  # fmt: skip
                return Reply(blocks.database_away())
            _LOGGER.exception("a Slack command failed")
            return Reply(blocks.failure())

    async def publish_home(self, user: str, notice: blocks.Message | None = None) -> None:
        """Publish ``user``'s Home tab (``views.publish``; the client waits out 429s), with ``notice`` on
        top. Slack refusing or unreachable is logged: the tab stays as it was until it is opened again."""
        reply = await self._safely(lambda: self.runner.home(user, notice))
        try:
            await self.client.views_publish(user_id=user, view=scrubbed(home.view(reply.message)))
        except SlackApiError as error:
            _LOGGER.warning("could not publish the Home tab of %s: %s", user, slack_error(error))
        except (aiohttp.ClientError, TimeoutError) as error:
            _LOGGER.warning("could not publish the Home tab of %s: %s", user, error)

    async def respond(self, response_url: str, message: dict[str, Any]) -> None:
        """Post to a ``response_url`` through the hub's session, waiting out a 429's Retry-After."""
        client = AsyncWebhookClient(
            response_url, session=self.http, retry_handlers=self.retry_handlers, logger=_LOGGER
        )
        try:
            response = await client.send_dict(scrubbed(message))
        except (aiohttp.ClientError, TimeoutError) as error:
            _LOGGER.warning("could not answer in Slack: %s", error)
            return
        if response.status_code != 200:
            _LOGGER.warning("Slack refused an answer: HTTP %s %s", response.status_code, response.body[:200])

    async def announce(self, message: dict[str, Any]) -> None:
        """Tell the announce channel (``chat.postMessage``; the client waits out 429s)."""
        try:
            await self.client.chat_postMessage(channel=self.announce_channel, **scrubbed(message))
        except SlackApiError as error:
            # not_in_channel is the usual one: the bot must be invited to the channel.
            _LOGGER.warning(
                "could not announce in Slack channel %s: %s", self.announce_channel, slack_error(error)
            )
        except (aiohttp.ClientError, TimeoutError) as error:
            _LOGGER.warning("could not announce in Slack channel %s: %s", self.announce_channel, error)


async def slack_bot(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the bot for the life of the server (only added when Slack is enabled)."""
    services = Services(app[CONFIG], app[PLUGINS], app[HTTP], app[SCHEDULER])
    bot = SlackBot(services)
    app[SLACK] = bot
    bot.start()
    yield
    await bot.stop()


async def events_view(request: web.Request) -> web.StreamResponse:
    """``POST /slack/events``: slash commands and interactive actions."""
    return await request.app[SLACK].dispatch(request)
