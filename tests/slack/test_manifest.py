"""slack/manifest.yml stays in step with the bot (its command, its route and the scopes it uses), and the
README's set-up steps work when followed as written."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from hub.config import load_config
from hub.slack.blocks import COMMAND
from hub.slack.bolt import EVENTS_PATH
from tests.conftest import REPO, write_config

MANIFEST = (REPO / "slack" / "manifest.yml").read_text(encoding="utf-8")


def test_the_manifest_points_slack_at_the_bot() -> None:
    assert f"- command: {COMMAND}\n" in MANIFEST
    assert MANIFEST.count(f"https://YOUR-HUB{EVENTS_PATH}\n") == 2, "slash command and interactivity"


def test_the_manifest_asks_for_exactly_the_scopes_the_bot_uses() -> None:
    scopes = MANIFEST.split("    bot:\n", 1)[1].split("settings:", 1)[0]
    names = [line.split("#")[0].strip().removeprefix("- ") for line in scopes.splitlines() if line.strip()]
    # commands: /appcast; chat:write: chat.postMessage; usergroups:read: usergroups.users.list
    assert names == ["commands", "chat:write", "usergroups:read"]


def test_the_readmes_slack_set_up_works_followed_literally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    setup = readme.split("### Set it up", 1)[1].split("\n### ", 1)[0]
    # Step 1: YOUR-HUB becomes the host name, and the URLs come out whole.
    assert "both lines read `https://hub.example.com/slack/events`" in " ".join(setup.split())
    urls = re.findall(r"url: (\S+)", MANIFEST.replace("YOUR-HUB", "hub.example.com"))
    assert urls == ["https://hub.example.com/slack/events"] * 2
    # Step 3: the example config's [slack] table, edited to read as the README shows, is a valid config.
    [block] = re.findall(r"```toml\n( *\[slack\]\n.*?\n) *```", setup, flags=re.DOTALL)
    block = textwrap.dedent(block)
    example = (REPO / "config.example.toml").read_text(encoding="utf-8")
    table = re.search(r"^\[slack\]\n(?:[^\[\n].*\n|\n)*?(?=\n)", example, flags=re.MULTILINE)
    assert table is not None
    monkeypatch.setenv("APPCAST_HUB_SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("APPCAST_HUB_SLACK_SIGNING_SECRET", "s3cr3t-signing")
    edited = example[: table.start()] + block + example[table.end() :]
    config = load_config(write_config(tmp_path, edited))
    assert config.slack["enabled"] is True
    assert config.slack["admins"] == ("U012AB3CDE", "U045FG6HIJ")
