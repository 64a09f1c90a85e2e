"""The Greenhouse adapter of ``examples/greenhouse-adapter``: an outside package, installed, run end to end.

The hub knows nothing of it: it arrives through its entry point once installed. The suite installs it
itself (``pip install -e``, offline, with the build backend of the test extra) when this environment
does not have it from this checkout, runs the example's own test-suite (the contract kit included), and
drives a hub with a Greenhouse account over real sockets: sync from a fake Greenhouse, the feed, and a
signed hire webhook reaching a fake Appcast.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import os
import site
import subprocess
import sys
import sysconfig
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from lxml import etree

from hub import models
from hub.testing.appcast import FakeAppcast
from hub.testing.peers import serving_hub
from tests.conftest import REPO, hub_command, write_config

EXAMPLE = REPO / "examples" / "greenhouse-adapter"
DISTRIBUTION = "appcast-hub-greenhouse"
PACKAGE = "appcast_hub_greenhouse"
ADMIN = {"Authorization": "Bearer admin-token-for-tests"}


def _installed_from_this_checkout() -> bool:
    try:
        origin = importlib.metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return False
    return origin is not None and json.loads(origin).get("url") == EXAMPLE.as_uri()


@pytest.fixture(scope="module")
def example_installed() -> None:
    """The example installed into this environment from this checkout, as ``pip install -e`` does it."""
    if _installed_from_this_checkout():
        return
    # No build isolation: the environment's own setuptools builds it, so no network is needed.
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    result = subprocess.run(
        [*command, "-e", str(EXAMPLE)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"pip install -e {EXAMPLE} failed:\n{result.stdout}{result.stderr}"
    # An editable install becomes importable through a .pth file, which Python reads at start-up only:
    # read the new one now, as the next start-up would.
    site.addsitedir(sysconfig.get_path("purelib"))
    importlib.invalidate_caches()


@pytest.fixture
def fake_greenhouse(example_installed: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example's fake Greenhouse (``tests/fake_greenhouse.py`` there): one fake, for both suites."""
    monkeypatch.syspath_prepend(str(EXAMPLE / "tests"))
    return importlib.import_module("fake_greenhouse")


def test_the_hub_never_imports_the_example() -> None:
    sources = [*(REPO / "hub").rglob("*.py"), *(REPO / "plugins").rglob("*.py")]
    assert sources
    importing = [
        str(path.relative_to(REPO)) for path in sources if PACKAGE in path.read_text(encoding="utf-8")
    ]
    assert importing == []


def test_the_example_passes_its_own_suite_and_the_contract_kit(example_installed: None) -> None:
    # The example's suite runs as its author runs it, in its own folder; PYTEST_ADDOPTS belongs to this
    # run (CI points --junitxml at its report there), not to the child's.
    env = {name: value for name, value in os.environ.items() if name != "PYTEST_ADDOPTS"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider"],
        cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for contract_test in (
        "full_fetch_pages_to_the_end_and_normalises_every_job",
        "signed_webhooks_have_unique_identities_and_valid_events",
    ):
        assert f"TestGreenhouse::test_contract_{contract_test} PASSED" in result.stdout


def test_plugins_command_lists_it(example_installed: None, tmp_path: Path) -> None:
    result = subprocess.run(
        hub_command("plugins"), capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "greenhouse 0.1.0 (ats) Greenhouse: jobs from the job board API, hires from signed webhooks" in (
        result.stdout
    )
    assert "hooks: fetch_jobs, parse_webhook, plugin_info, verify_webhook" in result.stdout
    assert "BROKEN" not in result.stdout


@pytest.fixture
async def greenhouse(fake_greenhouse: ModuleType) -> AsyncIterator[Any]:
    fake = fake_greenhouse.FakeGreenhouse(jobs=6)
    async with fake.serving():
        yield fake


async def test_a_greenhouse_account_syncs_feeds_and_reports_hires(
    database_url: str, tmp_path: Path, greenhouse: Any
) -> None:
    appcast = FakeAppcast(token="appcast-bearer-for-tests")
    async with appcast.serving():
        config = write_config(
            tmp_path,
            f"""
[database]
url = "{database_url}"
migrate_on_start = true
[admin]
api_token = "admin-token-for-tests"
[sync]
scheduled = false
[events]
poll_seconds = 0.1
[accounts.acme]
adapter = "greenhouse"
company = "Acme"
feed_policy = "all-open"
[accounts.acme.greenhouse]
board = "{greenhouse.board}"
base_url = "{greenhouse.url}"
webhook_secret = "{greenhouse.webhook_secret}"
[accounts.acme.appcast]
client_id = "client-42"
ent_id = "ent-7"
events_url = "{appcast.events_url}"
bearer_token = "appcast-bearer-for-tests"
""",
        )
        async with serving_hub(config) as url, aiohttp.ClientSession() as http:

            async def api(method: str, path: str) -> tuple[int, Any]:
                async with http.request(method, url + path, headers=ADMIN) as response:
                    return response.status, await response.json()

            async def feed() -> dict[str, str]:
                async with http.get(f"{url}/feeds/acme.xml") as response:
                    assert response.status == 200
                    document = etree.fromstring(await response.read())
                return {
                    job.findtext("referencenumber"): job.findtext("description")
                    for job in document.iter("job")
                }

            async def post_webhook(request: Any) -> tuple[int, Any]:
                async with http.post(
                    f"{url}/webhooks/acme", data=request.body, headers=request.headers
                ) as answer:
                    return answer.status, await answer.json()

            status, synced = await api("POST", "/api/accounts/acme/sync")
            assert (status, synced["error"], synced["created"]) == (200, None, len(greenhouse.job_ids))
            jobs = await feed()
            assert set(jobs) == greenhouse.job_ids
            job_id = sorted(greenhouse.job_ids)[3]
            assert jobs[job_id].startswith("<p>Job 3: you &amp; us.</p>"), "the escaped HTML is unescaped"

            greenhouse.unpublish(sorted(greenhouse.job_ids)[0])
            status, synced = await api("POST", "/api/accounts/acme/sync")
            assert (status, synced["closed"]) == (200, 1)
            assert set(await feed()) == greenhouse.job_ids

            forged = greenhouse.signed(greenhouse.hire(46_194_062, job_id), secret="not-the-secret")
            assert (await post_webhook(forged))[0] == 401
            hire = greenhouse.signed(greenhouse.hire(46_194_062, job_id, email="Ada@Example.com"))
            assert await post_webhook(hire) == (202, {"status": "stored"})
            assert await post_webhook(hire) == (200, {"status": "already seen"})

            [received] = await appcast.wait_for_events(1)
            assert received.body == {
                "event": "hired",
                "client_id": "client-42",
                "ent_id": "ent-7",
                "job_reference": job_id,
                "application_id": "46194062",
                "candidate_hash": hashlib.sha256(b"ada@example.com").hexdigest(),
                "source": "Appcast",
                "stage": None,
                "occurred_at": "2026-03-02T15:04:05Z",
            }
            assert received.authorization == "Bearer appcast-bearer-for-tests"
            assert await models.Event.filter(kind="hired").count() == 1
