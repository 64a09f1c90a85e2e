"""``--json``: every CLI command that lists or reports prints one JSON document, the admin API's answer.

The CLI runs as a separate process on the same database as a hub served in this one, so each pair of
answers describes the same state: they must be equal, not merely alike.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.testing import serving_hub
from tests.conftest import demo_config, free_port, hub_command, write_config

ADMIN_TOKEN = "admin-token-for-tests"


async def cli_json(config: Path, *args: str) -> Any:
    # A thread: the hub served in this process must keep answering while the CLI runs.
    result = await asyncio.to_thread(
        subprocess.run, hub_command(*args, "-c", str(config), "--json"), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[Path, Any]]:
    body = demo_config(f"sqlite://{tmp_path / 'hub.sqlite3'}", free_port()).replace(
        "[sync]\n", "[sync]\nscheduled = false\n"
    )
    # Appcast's table: the bids below are written as <cpc> by its plugin.
    appcast = '[accounts.demo.appcast]\nclient_id = "client-42"\nent_id = "ent-7"\n'
    config = write_config(tmp_path, body + f'[admin]\napi_token = "{ADMIN_TOKEN}"\n{appcast}')
    async with serving_hub(config) as url, aiohttp.ClientSession() as http:

        async def api(method: str, path: str, body: Any = None) -> Any:
            headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            async with http.request(method, url + path, json=body, headers=headers) as answer:
                assert answer.status < 300, await answer.text()
                return await answer.json()

        yield config, api


@pytest.mark.parametrize(
    ("cli", "api"),
    [
        (("status",), "/api/accounts"),
        (("jobs", "-a", "demo", "list", "--limit", "5"), "/api/accounts/demo/jobs?limit=5"),
        (
            ("jobs", "-a", "demo", "list", "nurse", "--status", "open"),
            "/api/accounts/demo/jobs?q=nurse&status=open",
        ),
        (("deliveries", "list"), "/api/deliveries"),
        (("stages", "demo"), "/api/accounts/demo/stages"),
        (("stats", "demo"), "/api/accounts/demo/stats"),
        (("stats", "demo", "--job", "NW-1001"), "/api/accounts/demo/stats?job=NW-1001"),
        (("held", "demo"), "/api/accounts/demo/held"),
        (("feed", "lint", "demo"), "/api/accounts/demo/feed/health"),
        (("audit",), "/api/audit"),
        (("incidents",), "/api/incidents"),
        (("incidents", "--all", "-a", "demo"), "/api/incidents?all=true&account=demo"),
    ],
    ids=lambda value: value if isinstance(value, str) else " ".join(value),
)
async def test_a_report_is_the_admin_apis_answer(
    hub: tuple[Path, Any], cli: tuple[str, ...], api: str
) -> None:
    config, call = hub
    await call("POST", "/api/accounts/demo/sync")
    await call("POST", "/api/accounts/demo/jobs/enable", {"ids": ["NW-1001"]})
    await call("PUT", "/api/accounts/demo/jobs/NW-1001/bid", {"bid": "1.50"})
    await call("PUT", "/api/accounts/demo/stages/phone-screen", {"funnel_event": "screen"})
    answer = await call("GET", api)
    assert await cli_json(config, *cli) == answer
    assert answer, "an empty answer would prove nothing"


async def test_changes_answer_as_the_admin_api_does(hub: tuple[Path, Any]) -> None:
    config, call = hub
    await call("POST", "/api/accounts/demo/sync")
    assert await cli_json(config, "jobs", "-a", "demo", "enable", "NW-1001") == {
        "switched": ["NW-1001"], "already": [], "missing": [],
    }  # fmt: skip
    assert await call("POST", "/api/accounts/demo/jobs/enable", {"ids": ["NW-1001"]}) == {
        "switched": [], "already": ["NW-1001"], "missing": [],
    }  # fmt: skip
    assert await cli_json(config, "jobs", "-a", "demo", "bid", "NW-1001", "0.75") == {
        "ats_id": "NW-1001", "before": None, "bid": "0.75", "changed": True,
    }  # fmt: skip
    assert await call("PUT", "/api/accounts/demo/jobs/NW-1001/bid", {"bid": "0.75"}) == {
        "ats_id": "NW-1001", "before": "0.75", "bid": "0.75", "changed": False,
    }  # fmt: skip
    assert await cli_json(config, "integration", "demo", "off") == {"enabled": False, "changed": True}
    assert await call("POST", "/api/accounts/demo/integration", {"enabled": False}) == {
        "enabled": False, "changed": False,
    }  # fmt: skip
    assert await cli_json(config, "stages", "demo", "map", "offer-call", "offer") == {
        "stage_id": "offer-call", "before": None, "funnel_event": "offer",
    }  # fmt: skip
    assert await cli_json(config, "deliveries", "retry", "dead") == {"replayed": []}
    [synced] = (await cli_json(config, "sync", "demo"))["accounts"]
    assert synced == {**await call("POST", "/api/accounts/demo/sync"), "summary": synced["summary"]}
    assert synced["error"] is None


async def test_audit_shows_who_changed_what_from_every_surface(hub: tuple[Path, Any]) -> None:
    config, call = hub
    await call("POST", "/api/accounts/demo/sync")
    await call("POST", "/api/accounts/demo/jobs/enable", {"ids": ["NW-1002"]})
    await cli_json(config, "jobs", "-a", "demo", "disable", "NW-1002")
    entries = (await cli_json(config, "audit", "-n", "2"))["entries"]
    assert [(entry["source"], entry["action"], entry["target"]) for entry in entries] == [
        ("cli", "job.disable", "NW-1002"),
        ("api", "job.enable", "NW-1002"),
    ]
    text = await asyncio.to_thread(
        subprocess.run, hub_command("audit", "-c", str(config), "-n", "1"), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert " (cli) job.disable demo NW-1002: " in text.stdout, text.stdout


def test_plugins_lists_as_json() -> None:
    result = subprocess.run(
        hub_command("plugins", "--json"), capture_output=True, text=True, timeout=60, check=False
    )
    document = json.loads(result.stdout)
    lever = next(plugin for plugin in document["plugins"] if plugin["name"] == "lever")
    assert lever["kind"] == "ats"
    assert "fetch_jobs" in lever["hooks"]
    assert document["broken"] == []
