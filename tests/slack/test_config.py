"""The ``[slack]`` config section: what the bot needs is checked before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import load_config
from hub.errors import ConfigError
from hub.logs import redactor
from tests.conftest import write_config

ENABLED = 'enabled = true\nbot_token = "xoxb-1"\nsigning_secret = "s3cr3t-signing"\n'


def slack_table(tmp_path: Path, body: str) -> Path:
    return write_config(tmp_path, f"[slack]\n{body}")


def test_slack_is_off_by_default(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, ""))
    assert config.slack["enabled"] is False
    assert config.slack["admins"] == ()
    assert config.slack["api_base_url"] == "https://slack.com/api/"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("enabled = true", "slack.bot_token: required when Slack is enabled"),
        ('enabled = true\nbot_token = "xoxb-1"', "slack.signing_secret: required when Slack is enabled"),
        (ENABLED + "socket_mode = true", "slack.app_token: required when Slack is enabled"),
        (ENABLED + 'admins = ["@alice"]', "slack.admins[0]: must be a Slack member id like U012AB3CDE"),
        (ENABLED + 'admins = ["U0123ABC", 7]', "slack.admins[1]: must be a Slack member id"),
        (ENABLED + 'admins = "U0123ABC"', "slack.admins: must be a list"),
        (ENABLED + 'admin_usergroup = "admins"', "slack.admin_usergroup: must be a Slack id like S0614TZR7"),
        (
            ENABLED + 'announce_channel = "#general"',
            "slack.announce_channel: must be a Slack id like C012AB3CD",
        ),
        (ENABLED + 'api_base_url = "slack.com/api"', "slack.api_base_url: must be an http(s) URL"),
        (ENABLED + "botToken = 1", "slack.botToken: unknown option"),
        ("enabled = 'yes'", "slack.enabled: must be true or false"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, body: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(slack_table(tmp_path, body))
    assert expected in str(raised.value)


def test_a_complete_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TEST_SLACK_BOT", "xoxb-from-the-environment")
    body = """
enabled = true
bot_token = "env:HUB_TEST_SLACK_BOT"
signing_secret = "signing-from-the-file"
socket_mode = true
app_token = "xapp-1-from-the-file"
api_base_url = "http://127.0.0.1:9/api"
admins = ["U0123ABC", "W0456DEF"]
admin_usergroup = "S0614TZR7"
announce_channel = "C012AB3CD"
"""
    config = load_config(slack_table(tmp_path, body))
    slack = config.slack
    assert slack["bot_token"] == "xoxb-from-the-environment"
    assert slack["admins"] == ("U0123ABC", "W0456DEF")
    assert slack["api_base_url"] == "http://127.0.0.1:9/api/", "slack_sdk needs the trailing slash"
    for secret in ("xoxb-from-the-environment", "signing-from-the-file", "xapp-1-from-the-file"):
        assert redactor.scrub(f"token {secret}!") == "token ***!", (
            "secrets written in the file are scrubbed too"
        )
