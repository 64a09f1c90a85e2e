"""slack/manifest.yml stays in step with the bot (its command, its route, its events and the scopes it
uses), is a manifest Slack's published schema accepts, and the README's set-up steps work when followed as
written."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing
import yaml
from referencing.jsonschema import DRAFT7

from hub.config import load_config
from hub.slack.blocks import COMMAND
from hub.slack.bolt import BOT_EVENTS, EVENTS_PATH
from tests.conftest import REPO, write_config

MANIFEST = (REPO / "slack" / "manifest.yml").read_text(encoding="utf-8")
#: Slack's app-manifest JSON schema, kept beside the project (its README says how to use it).
SCHEMA = Path("/work/shared/slack-manifest-schema")
#: Where the top-level schema finds the versioned ones: their published URLs, served from SCHEMA instead.
SCHEMA_URL = (
    "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/manifest.schema.{}.json"
)


def test_the_manifest_points_slack_at_the_bot() -> None:
    assert f"- command: {COMMAND}\n" in MANIFEST
    assert MANIFEST.count(f"https://YOUR-HUB{EVENTS_PATH}") == 3, "command, events and interactivity"
    settings = yaml.safe_load(MANIFEST)["settings"]
    assert settings["event_subscriptions"]["request_url"] == f"https://YOUR-HUB{EVENTS_PATH}"
    assert settings["interactivity"]["request_url"] == f"https://YOUR-HUB{EVENTS_PATH}"


def test_the_manifest_has_the_home_tab_and_subscribes_to_exactly_the_bots_events() -> None:
    manifest = yaml.safe_load(MANIFEST)
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == list(BOT_EVENTS)
    assert "user_events" not in manifest["settings"]["event_subscriptions"]


def _validator() -> jsonschema.Draft7Validator:
    if not SCHEMA.is_dir():
        pytest.skip(f"Slack's manifest schema is not at {SCHEMA}: the manifest cannot be checked against it")
    registry: referencing.Registry[Any] = referencing.Registry().with_resources(
        (SCHEMA_URL.format(version), DRAFT7.create_resource(json.loads(path.read_text(encoding="utf-8"))))
        for version in ("1.0.0", "2.0.0")
        for path in [SCHEMA / f"manifest.schema.{version}.json"]
    )
    top = json.loads((SCHEMA / "manifest.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(top, registry=registry)


def test_slacks_schema_accepts_the_manifest() -> None:
    validator = _validator()
    manifest = yaml.safe_load(MANIFEST)
    errors = [error.message for error in validator.iter_errors(manifest)]
    assert errors == []
    # The check can fail: what Slack would refuse, the schema refuses too.
    features, settings = manifest["features"], manifest["settings"]
    for broken in ({"features": {**features, "app_home": {"home_tab": True}}},
                   {"settings": {**settings, "event_subscriptions": {"bot_events": "app_home_opened"}}},
                   {"features": {**features, "slash_commands": []}}):  # fmt: skip
        assert not validator.is_valid({**manifest, **broken}), broken


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
    assert "all three lines read `https://hub.example.com/slack/events`" in " ".join(setup.split())
    urls = re.findall(r"url: (\S+)", MANIFEST.replace("YOUR-HUB", "hub.example.com"))
    assert urls == ["https://hub.example.com/slack/events"] * 3
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
