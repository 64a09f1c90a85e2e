"""A fake Slack: the Web API methods the bot calls, ``response_url`` endpoints, a Socket Mode WebSocket,
and requests signed exactly as Slack signs them.

The bot's Web API client is pointed here with ``[slack] api_base_url = "{url}/api/"``; slash commands and
button clicks carry ``response_url`` s on this server, so every answer the bot gives lands in
:attr:`FakeSlack.responses`, and every Home tab it publishes in :attr:`FakeSlack.homes`. Shapes follow
Slack's documentation (PROTOCOLS.md); signatures are computed with
``slack_sdk.signature.SignatureVerifier`` as Slack computes them. :class:`~hub.testing.peers.Faults`
(e.g. one 429 with ``Retry-After``) applies to every route.

    slack = FakeSlack(usergroups={"S123": ["U1"]})
    async with slack.serving():
        url = slack.response_url("a")
        body, headers = slack.slash_command("enable job 42", user_id="U1", response_url=url)
        ...
        reply = await slack.wait_response("a")
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.parse
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

from hub.testing.peers import FakePeer

BOT_TOKEN = "xoxb-1111-2222-fake-bot-token"
APP_TOKEN = "xapp-1-A111-fake-app-token"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM_ID = "T0FAKE001"
BOT_USER_ID = "UBOT00001"
API_APP_ID = "A0FAKE001"
#: Slack's limit on the blocks of a view: views.publish refuses more.
MAX_VIEW_BLOCKS = 100
#: Blocks Slack takes in one message (Block Kit reference: up to 50).
MAX_MESSAGE_BLOCKS = 50
#: The workspace's channels by name: chat.postMessage takes either, and answers with the id.
CHANNEL_IDS = {"recruiting-ops": "C0CHANNEL1"}


class FakeSlack(FakePeer):
    """A fake Slack workspace. ``usergroups``: user group id → member ids."""

    def __init__(self, *, usergroups: dict[str, list[str]] | None = None) -> None:
        super().__init__()
        self.usergroups = usergroups or {}
        self.verifier = SignatureVerifier(SIGNING_SECRET)
        #: ``chat.postMessage`` bodies, in order.
        self.posted: list[dict[str, Any]] = []
        #: When each of :attr:`posted` arrived (``time.monotonic()``).
        self.posted_at: list[float] = []
        #: Every Web API call by method name, with its arguments (token removed).
        self.calls: list[tuple[str, dict[str, Any]]] = []
        #: The Home views the bot published (``views.publish``), newest last, by user id.
        self.homes: dict[str, list[dict[str, Any]]] = defaultdict(list)
        #: What the bot posted to each ``response_url``, by its key.
        self.responses: dict[str, list[dict[str, Any]]] = defaultdict(list)
        #: Socket Mode: acknowledgements the bot sent back over the WebSocket.
        self.socket_acks: list[dict[str, Any]] = []
        self._sockets: list[web.WebSocketResponse] = []
        self._changed = asyncio.Condition()
        self._numbers = itertools.count(1)

        methods = ("auth.test", "chat.postMessage", "usergroups.users.list", "apps.connections.open",
                   "views.publish")  # fmt: skip
        for method in methods:
            self.app.router.add_route("*", f"/api/{method}", self._web_api)
        self.app.router.add_post("/response/{key}", self._response)
        self.app.router.add_get("/socket", self._socket)

    @property
    def api_base_url(self) -> str:
        """What to configure as ``[slack] api_base_url``."""
        return f"{self.url}/api/"

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        """Serve the fake on loopback for the life of the block, closing its Socket Mode connections at
        the end; sets and yields :attr:`url`."""
        async with super().serving() as url:
            try:
                yield url
            finally:
                for socket in list(self._sockets):
                    await socket.close()

    # --- building requests as Slack sends them ----------------------------------------------------

    def response_url(self, key: str) -> str:
        """A ``response_url`` whose posts are recorded under ``key``."""
        return f"{self.url}/response/{key}"

    def sign(self, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        """Slack's signature headers for ``body`` (``timestamp``: seconds since the epoch, default now)."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": self.verifier.generate_signature(timestamp=stamp, body=body) or "",
        }

    def slash_command(
        self, text: str, *, user_id: str, response_url: str, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """A signed ``/appcast`` request: the form body and headers. ``text`` as Slack sends it (escaped)."""
        number = next(self._numbers)
        form = {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "acme-recruiting",
            "channel_id": "C0CHANNEL1",
            "channel_name": "recruiting-ops",
            "user_id": user_id,
            "user_name": f"user-{user_id.lower()}",
            "command": "/appcast",
            "text": text,
            "api_app_id": API_APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"{number}.1111.{number:032x}",
        }
        body = urllib.parse.urlencode(form).encode()
        return body, self.sign(body, timestamp=timestamp)

    def block_action(
        self, action_id: str, value: str, *, user_id: str, response_url: str | None
    ) -> tuple[bytes, dict[str, str]]:
        """A signed button click (``block_actions``): form body and headers. On an ephemeral message, or,
        with ``response_url`` None, on the user's Home tab (where Slack sends no ``response_url``)."""
        number = next(self._numbers)
        where: dict[str, Any] = {
            "container": {
                "type": "message",
                "message_ts": f"1700000000.{number:06d}",
                "channel_id": "C0CHANNEL1",
                "is_ephemeral": True,
            },
            "channel": {"id": "C0CHANNEL1", "name": "recruiting-ops"},
            "response_url": response_url,
        }
        if response_url is None:
            view_id = f"V{number:08d}"
            where = {
                "container": {"type": "view", "view_id": view_id},
                "view": {"id": view_id, "team_id": TEAM_ID, "type": "home", "blocks": [],
                         "private_metadata": "", "callback_id": "", "state": {"values": {}},
                         "hash": f"1700000000.{number:08d}", "app_id": API_APP_ID, "bot_id": "B0FAKE001"},
            }  # fmt: skip
        payload = {
            "type": "block_actions",
            "user": {"id": user_id, "username": f"user-{user_id.lower()}", "team_id": TEAM_ID},
            "api_app_id": API_APP_ID,
            "token": "deprecated-verification-token",
            "trigger_id": f"{number}.2222.{number:032x}",
            "team": {"id": TEAM_ID, "domain": "acme-recruiting"},
            **where,
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": f"b{number}",
                    "text": {"type": "plain_text", "text": "Enable"},
                    "value": value,
                    "type": "button",
                    "action_ts": f"1700000000.{number:06d}",
                }
            ],
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return body, self.sign(body)

    def event_payload(self, event: dict[str, Any]) -> dict[str, Any]:
        """An Events API callback wrapping ``event``, as Slack sends it over HTTP or Socket Mode."""
        number = next(self._numbers)
        return {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": API_APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{number:010d}",
            "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                                "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False,
        }  # fmt: skip

    def event_callback(self, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """A signed Events API request (JSON) carrying ``event``: body and headers."""
        body = json.dumps(self.event_payload(event)).encode()
        return body, {**self.sign(body), "Content-Type": "application/json"}

    def home_opened(self, user_id: str, *, tab: str = "home") -> dict[str, Any]:
        """The ``app_home_opened`` event: ``user_id`` opened the app's ``tab`` (``home`` or ``messages``)."""
        number = next(self._numbers)
        return {"type": "app_home_opened", "user": user_id, "channel": f"D{number:08d}", "tab": tab,
                "event_ts": f"1700000000.{number:06d}"}  # fmt: skip

    # --- what the bot did -------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """The arguments of every call to Web API ``method``."""
        return [arguments for name, arguments in self.calls if name == method]

    async def wait_response(self, key: str, count: int = 1, timeout: float = 10.0) -> dict[str, Any]:  # noqa: ASYNC109
        """Wait until ``count`` answers were posted to ``response_url(key)``; returns the last."""
        await self._wait(lambda: len(self.responses[key]) >= count, timeout, f"{count} answer(s) on {key}")
        return self.responses[key][-1]

    async def wait_posted(self, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        """Wait until ``count`` messages were posted with ``chat.postMessage``."""
        await self._wait(lambda: len(self.posted) >= count, timeout, f"{count} chat.postMessage call(s)")
        return self.posted

    async def wait_home(self, user_id: str, count: int = 1, timeout: float = 10.0) -> dict[str, Any]:  # noqa: ASYNC109
        """Wait until ``count`` Home views were published for ``user_id``; returns the last."""
        await self._wait(
            lambda: len(self.homes[user_id]) >= count, timeout, f"{count} Home view(s) of {user_id}"
        )
        return self.homes[user_id][-1]

    async def wait_socket(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until a Socket Mode client is connected."""
        await self._wait(lambda: bool(self._sockets), timeout, "a Socket Mode connection")

    async def send_envelope(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a Socket Mode envelope to the connected bot; returns its acknowledgement."""
        envelope_id = f"env-{next(self._numbers)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": True,
        }
        await self._sockets[-1].send_json(envelope)

        def acked() -> bool:
            return any(ack.get("envelope_id") == envelope_id for ack in self.socket_acks)

        await self._wait(acked, 10.0, f"the ack of {envelope_id}")
        return next(ack for ack in self.socket_acks if ack.get("envelope_id") == envelope_id)

    async def _wait(self, condition: Any, timeout: float, what: str) -> None:  # noqa: ASYNC109
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(condition), timeout)
            except TimeoutError:
                raise AssertionError(f"the fake Slack did not receive {what} within {timeout:g}s") from None

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- the endpoints ------------------------------------------------------------------------------

    async def _arguments(self, request: web.Request) -> dict[str, Any]:
        arguments: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            arguments.update(await request.json())
        elif request.can_read_body:
            arguments.update(await request.post())
        return arguments

    async def _web_api(self, request: web.Request) -> web.Response:
        method = request.path.removeprefix("/api/")
        arguments = await self._arguments(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or arguments.pop("token", "")
        arguments.pop("token", None)
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        self.calls.append((method, arguments))
        if method == "auth.test":
            answer = {"url": "https://acme-recruiting.slack.com/", "team": "Acme", "user": "appcast",
                      "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": "B0FAKE001"}  # fmt: skip
        elif method == "chat.postMessage":
            # What Slack refuses of a message's shape: nothing to show, or more blocks than it allows.
            if not arguments.get("text") and not arguments.get("blocks"):
                return web.json_response({"ok": False, "error": "no_text"})
            if len(arguments.get("blocks") or []) > MAX_MESSAGE_BLOCKS:
                return web.json_response({"ok": False, "error": "invalid_blocks"})
            self.posted.append(arguments)
            self.posted_at.append(time.monotonic())
            channel = str(arguments.get("channel"))
            channel = CHANNEL_IDS.get(channel.removeprefix("#"), channel)
            answer = {"channel": channel, "ts": f"{time.time():.6f}", "message": arguments}
        elif method == "views.publish":
            view = arguments.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            # What Slack checks of a Home view: its type, a user to publish it for, its block limit.
            if not (isinstance(view, dict) and view.get("type") == "home" and arguments.get("user_id")):
                return web.json_response({"ok": False, "error": "invalid_arguments"})
            if len(view.get("blocks", [])) > MAX_VIEW_BLOCKS:
                return web.json_response({"ok": False, "error": "invalid_blocks"})
            self.homes[str(arguments["user_id"])].append(view)
            answer = {"view": {"id": "VHOME0001", "type": "home", **view}}
        elif method == "usergroups.users.list":
            members = self.usergroups.get(str(arguments.get("usergroup")))
            if members is None:
                return web.json_response({"ok": False, "error": "no_such_subteam"})
            answer = {"users": members}
        else:  # apps.connections.open
            answer = {"url": f"{self.url.replace('http://', 'ws://')}/socket"}
        await self._notify()
        return web.json_response({"ok": True, **answer})

    async def _response(self, request: web.Request) -> web.Response:
        self.responses[request.match_info["key"]].append(await request.json())
        await self._notify()
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": API_APP_ID}}
        )
        await self._notify()
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self.socket_acks.append(json.loads(message.data))
                    await self._notify()
        finally:
            self._sockets.remove(socket)
        return socket
