"""Typed keys for the application's shared state (``app[CONFIG]`` …), set by :func:`hub.app.create_app`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

if TYPE_CHECKING:
    pass

CONFIG = web.AppKey("config", "HubConfig")
PLUGINS = web.AppKey("plugins", "PluginHost")
#: The one outbound HTTP session: every plugin request goes through it.
HTTP = web.AppKey("http", aiohttp.ClientSession)
SCHEDULER = web.AppKey("scheduler", "HubScheduler")
INBOX = web.AppKey("inbox", "InboxWorker")
OUTBOX = web.AppKey("outbox", "OutboxWorker")
PIXELS = web.AppKey("pixels", "PixelCounter")
LEADER = web.AppKey("leader", "Leadership")
#: The Slack bot, only when ``[slack] enabled``.
SLACK = web.AppKey("slack", "SlackBot")
#: The prebuilt feed files, one version per account.
FEED_CACHE = web.AppKey("feed_cache", "FeedCache")
#: Recently read account rows, for the hot read paths.
ACCOUNTS = web.AppKey("accounts", "AccountCache")
#: Recent webhook verdicts per account, for the ``webhooks-refused`` incident.
SIGNATURES = web.AppKey("signatures", "SignatureWatch")
