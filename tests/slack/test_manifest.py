"""slack/manifest.yml stays in step with the bot: its command, its route and the scopes it uses."""

from __future__ import annotations

from hub.slack.blocks import COMMAND
from hub.slack.bolt import EVENTS_PATH
from tests.conftest import REPO

MANIFEST = (REPO / "slack" / "manifest.yml").read_text(encoding="utf-8")


def test_the_manifest_points_slack_at_the_bot() -> None:
    assert f"- command: {COMMAND}\n" in MANIFEST
    assert MANIFEST.count(f"https://YOUR-HUB{EVENTS_PATH}\n") == 2, "slash command and interactivity"


def test_the_manifest_asks_for_exactly_the_scopes_the_bot_uses() -> None:
    scopes = MANIFEST.split("    bot:\n", 1)[1].split("settings:", 1)[0]
    names = [line.split("#")[0].strip().removeprefix("- ") for line in scopes.splitlines() if line.strip()]
    # commands: /appcast; chat:write: chat.postMessage; usergroups:read: usergroups.users.list
    assert names == ["commands", "chat:write", "usergroups:read"]
