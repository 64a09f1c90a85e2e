"""Config errors are one line naming file, key and problem, with exit code 2; secrets come from env."""

from __future__ import annotations

import json
import subprocess
from datetime import time
from pathlib import Path

import pytest

from hub.config import bind_plugins, load_config
from hub.errors import ConfigError
from hub.plugins import load_plugins
from tests.conftest import REPO, SAMPLE_JOBS, hub_command, write_config

GOOD = f"""
[accounts.demo]
adapter = "file"
company = "Northwind"
feed_token = "env:HUB_TEST_FEED_TOKEN"
[accounts.demo.file]
path = "{SAMPLE_JOBS}"
"""

#: An account that passes the hub's own checks, for one more key that does not.
ACCOUNT_A = "[accounts.a]\nadapter = 'file'\ncompany = 'x'\n"


def run_hub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        hub_command(*args), capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[server\nport = 1", "not valid TOML"),
        ("[sever]\nport = 1", "sever: unknown section"),
        ("[server]\nport = 'eighty'", "server.port: must be an integer"),
        ("[server]\nport = 70000", "server.port: must be between 1 and 65535"),
        ("[server]\nprot = 80", "server.prot: unknown option"),
        ("[database]\nurl = 'mysql://x'", "database.url: must start with sqlite:// or postgres://"),
        ("[accounts.Bad_Name]\nadapter = 'file'\ncompany = 'x'", "accounts.Bad_Name: account names use"),
        ("[accounts.a]\ncompany = 'x'", "accounts.a.adapter: required option missing"),
        ("[accounts.a]\nadapter = 'file'\ncompany = 'x'\nfeed_policy = 'some'", "must be one of"),
        (f"{ACCOUNT_A}digest = 'hourly'", "accounts.a.digest: must be one of"),
        (f"{ACCOUNT_A}digest_at = '9am'", "accounts.a.digest_at: must be a 24-hour time as HH:MM"),
        (f"{ACCOUNT_A}digest_at = '24:00'", "accounts.a.digest_at: must be a 24-hour time as HH:MM"),
        (f"{ACCOUNT_A}digest_at = 900", "accounts.a.digest_at: must be a string"),
        (f"{ACCOUNT_A}digest_timezone = 'Mars/Olympus'", "accounts.a.digest_timezone: no such time zone"),
        (f"{ACCOUNT_A}digest_weekday = 'Friday'", "accounts.a.digest_weekday: must be one of 'monday'"),
    ],
)
def test_hub_sections_are_checked(tmp_path: Path, body: str, expected: str) -> None:
    path = write_config(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "[accounts.a]\nadapter = 'workday'\ncompany = 'x'",
            "accounts.a.adapter: unknown adapter plugin 'workday'",
        ),
        ("[accounts.a]\nadapter = 'file'\ncompany = 'x'", "accounts.a.file.path: required option missing"),
        (
            f"[accounts.a]\nadapter = 'file'\ncompany = 'x'\n[accounts.a.file]\npath = '{SAMPLE_JOBS}'\n"
            "[accounts.a.workday]\ntenant = 'x'",
            "accounts.a.workday: no plugin named 'workday' is installed",
        ),
        (
            f"[accounts.a]\nadapter = 'file'\ncompany = 'x'\n[accounts.a.file]\npath = '{SAMPLE_JOBS}'\n"
            "page_size = 'ten'",
            "accounts.a.file.page_size: must be an integer",
        ),
    ],
)
def test_plugin_tables_are_checked_against_the_plugins(tmp_path: Path, body: str, expected: str) -> None:
    path = write_config(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        bind_plugins(load_config(path), load_plugins())
    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


def test_a_digest_schedule_is_read_into_the_account(tmp_path: Path) -> None:
    schedule = (
        'digest = "weekly"\ndigest_at = "07:45"\ndigest_timezone = "Europe/Berlin"\ndigest_weekday = "friday"'
    )
    body = f"{ACCOUNT_A}{schedule}\n"
    account = load_config(write_config(tmp_path, body)).accounts["a"]
    assert (account.digest, account.digest_at, account.digest_timezone, account.digest_weekday) == (
        "weekly", time(7, 45), "Europe/Berlin", "friday",
    )  # fmt: skip
    default = load_config(write_config(tmp_path, ACCOUNT_A)).accounts["a"]
    assert (default.digest, default.digest_at, default.digest_timezone) == ("off", time(9, 0), "UTC")


def test_env_secrets_are_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TEST_FEED_TOKEN", "s3cret-feed-token")
    config = load_config(write_config(tmp_path, GOOD))
    assert config.accounts["demo"].feed_token == "s3cret-feed-token"


def test_relative_paths_follow_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "jobs.json").write_text('{"jobs": []}', encoding="utf-8")
    body = "[accounts.a]\nadapter = 'file'\ncompany = 'x'\n[accounts.a.file]\npath = 'data/jobs.json'\n"
    body += "[database]\nurl = 'sqlite://hub.db'\n"
    config = bind_plugins(load_config(write_config(tmp_path, body)), load_plugins())
    assert config.accounts["a"].plugin_options["file"]["path"] == tmp_path / "data" / "jobs.json"
    assert config.database_url == f"sqlite://{tmp_path / 'hub.db'}"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[server\n", "not valid TOML"),
        ("[accounts.a]\nadapter = 'nope'\ncompany = 'x'", "unknown adapter plugin 'nope'"),
        (GOOD, "accounts.demo.feed_token: environment variable HUB_TEST_FEED_TOKEN is not set"),
        (
            "[accounts.a]\nadapter = 'lever'\ncompany = 'x'\n[accounts.a.lever]\nsite = 's'\n"
            "webhook_tokens = ['t0k3n']",
            "accounts.a.lever.api_key: required when webhook_tokens is set",
        ),
    ],
    ids=["malformed", "unknown-plugin", "missing-env-secret", "lever-webhooks-without-api-key"],
)
@pytest.mark.parametrize("command", ["check-config", "serve"])
def test_cli_prints_one_line_and_exits_2(tmp_path: Path, body: str, expected: str, command: str) -> None:
    path = write_config(tmp_path, body)
    result = run_hub(command, "-c", str(path), env={"HUB_TEST_FEED_TOKEN": ""})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0]
    assert expected in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_config_path_comes_from_the_environment(tmp_path: Path) -> None:
    path = write_config(tmp_path, GOOD)
    result = run_hub(
        "check-config", env={"APPCAST_HUB_CONFIG": str(path), "HUB_TEST_FEED_TOKEN": "tok-12345"}
    )
    assert result.returncode == 0, result.stderr
    assert f"config:   {path}" in result.stdout


@pytest.mark.parametrize("before_the_command", [False, True], ids=["after", "before"])
def test_check_config_shows_what_would_run_without_secrets(tmp_path: Path, before_the_command: bool) -> None:
    path = write_config(tmp_path, GOOD)
    arguments = ("-c", str(path), "check-config") if before_the_command else ("check-config", "-c", str(path))
    result = run_hub(*arguments, env={"HUB_TEST_FEED_TOKEN": "tok-98765"})
    assert result.returncode == 0, result.stderr
    assert "account demo: adapter file, feed policy opted-in, integration on" in result.stdout
    assert "tok-98765" not in result.stdout + result.stderr


def test_check_config_prints_the_plugins_warnings(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        "[accounts.a]\nadapter = 'lever'\ncompany = 'x'\n[accounts.a.lever]\nsite = 's'\n"
        "[accounts.p]\nadapter = 'pinpoint'\ncompany = 'y'\n[accounts.p.pinpoint]\nsubdomain = 'p'\n"
        "api_key = 'k3y-k3y'\n",
    )
    result = run_hub("check-config", "-c", str(path))
    assert result.returncode == 0, result.stderr
    assert "warning: accounts.a.lever.api_key: not set: only published postings sync" in result.stdout
    assert (
        "warning: accounts.p.pinpoint.webhook_secret: not set: Pinpoint's webhooks are refused"
        in result.stdout
    )


def test_the_readmes_sample_config_error_is_the_real_one(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    [sample] = [line for line in readme.splitlines() if line.startswith("appcast-hub: config error: ")]
    (tmp_path / "config.toml").write_text(
        '[accounts.acme]\nadapter = "lever"\ncompany = "Acme"\n[accounts.acme.lever]\n', encoding="utf-8"
    )
    result = subprocess.run(
        hub_command("check-config"), capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False
    )
    assert (result.returncode, result.stderr.strip().splitlines()[-1]) == (2, sample)


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    result = run_hub("check-config", "-c", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"appcast-hub: config error: {tmp_path / 'nope.toml'}: file not found "
        "(give -c PATH, or copy config.example.toml to config.toml)"
    )


def test_a_key_given_twice_is_named_with_its_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[slack]\nsocket_mode = false\nsocket_mode = true\n")
    result = run_hub("check-config", "-c", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("(at line 3, column 19): 'socket_mode = true'"), result.stderr


def test_check_config_reports_as_json_without_secrets(tmp_path: Path) -> None:
    path = write_config(tmp_path, GOOD)
    result = run_hub("check-config", "-c", str(path), "--json", env={"HUB_TEST_FEED_TOKEN": "tok-98765"})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["accounts"]["demo"]["adapter"] == "file"
    assert report["accounts"]["demo"]["feed_policy"] == "opted-in"
    assert report["slack"] == {"enabled": False, "socket_mode": False, "admins": 0, "token": None}
    assert report["broken"] == []
    assert "tok-98765" not in result.stdout + result.stderr
