"""The ``/appcast`` Slack bot, served by the hub itself at ``POST /slack/events``.

* :mod:`hub.slack.commands` — the sub-command grammar: text → a typed command or a usage error (pure);
* :mod:`hub.slack.blocks` — Block Kit rendering of every answer, with Slack's escaping;
* :mod:`hub.slack.handlers` — running commands and button clicks against the hub's services, and who may;
* :mod:`hub.slack.bolt` — the Bolt app, its listeners, the route, replies and Socket Mode.

:func:`hub.app.create_app` imports :mod:`hub.slack.bolt` only when ``[slack] enabled = true``.
"""
