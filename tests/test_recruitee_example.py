"""The Recruitee adapter of ``examples/recruitee-adapter``: an outside package, installed, run end to end.

The hub knows nothing of it: it arrives through its entry point once installed. The suite installs it
itself, offline (``pip install --no-deps --no-build-isolation --target``), into a folder of this test
session, never into the environment it runs in: the folder joins ``sys.path`` for the tests that need
it (``importlib.metadata`` finds entry points on ``sys.path``, so the hub's ``load_plugins()`` sees it)
and ``PYTHONPATH`` for their subprocesses. It then runs the example's own suite (the contract kit
included), lists it with ``appcast-hub plugins``, and drives a hub with a Recruitee account over real
sockets: sync from a fake Recruitee, the feed, and a signed hire webhook reaching a fake Appcast.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest

from hub import models, sdk
from tests.conftest import REPO, hub_command, write_config

EXAMPLE = REPO / "examples" / "recruitee-adapter"
DISTRIBUTION = "appcast-hub-recruitee"
PACKAGE = "appcast_hub_recruitee"


@pytest.fixture(scope="session")
def installed_into(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example installed, as a wheel would be, into a folder of this session (not the environment)."""
    target = tmp_path_factory.mktemp("recruitee-adapter")
    # Built from a copy: setuptools writes its build folders next to the sources it builds, and the
    # checkout is to be left as it was.
    source = tmp_path_factory.mktemp("recruitee-source") / "recruitee-adapter"
    shutil.copytree(
        EXAMPLE, source, ignore=shutil.ignore_patterns("tests", "__pycache__", "*.egg-info", "build")
    )
    # No build isolation and no index: the environment's own setuptools builds it, offline.
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
               "--no-index", "--no-compile", "--target", str(target), str(source)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"pip install --target failed:\n{result.stdout}{result.stderr}"
    return target


@pytest.fixture
def example(installed_into: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The installed example on ``sys.path`` for this test; the environment its subprocesses need."""
    monkeypatch.syspath_prepend(str(installed_into))
    return {
        **{name: value for name, value in os.environ.items() if name != "PYTEST_ADDOPTS"},
        "PYTHONPATH": os.pathsep.join(filter(None, [str(installed_into), os.environ.get("PYTHONPATH")])),
    }


@pytest.fixture
def fake_recruitee(example: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example's fake Recruitee (``tests/fake_recruitee.py`` there): one fake, for both suites."""
    monkeypatch.syspath_prepend(str(EXAMPLE / "tests"))
    return importlib.import_module("fake_recruitee")


def test_the_hub_never_imports_the_example() -> None:
    sources = [*(REPO / "hub").rglob("*.py"), *(REPO / "plugins").rglob("*.py")]
    assert sources
    importing = [
        str(path.relative_to(REPO)) for path in sources if PACKAGE in path.read_text(encoding="utf-8")
    ]
    assert importing == []


def test_the_example_passes_its_own_suite_and_the_contract_kit(example: dict[str, str]) -> None:
    # The example's suite runs as its author runs it, in its own folder; PYTEST_ADDOPTS belongs to this
    # run (CI points --junitxml at its report there), not to the child's.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider"],
        cwd=EXAMPLE, env=example, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert " skipped" not in result.stdout.splitlines()[-1], "a check of the kit did not run"
    for contract_test in (
        "full_fetch_pages_to_the_end_and_normalises_every_job",
        "signed_webhooks_have_unique_identities_and_valid_events",
        "a_hire_is_the_same_by_webhook_and_by_reconciliation",
        "an_application_the_form_cannot_take_is_refused_before_sending",
    ):
        assert f"TestRecruitee::test_contract_{contract_test} PASSED" in result.stdout


def test_plugins_command_lists_it(example: dict[str, str], tmp_path: Path) -> None:
    result = subprocess.run(
        hub_command("plugins"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=example,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "recruitee 0.1.0 (ats) Recruitee: offers, pipeline stages, signed webhooks, hires and Appcast Apply"
        in (result.stdout)
    )
    hooks = "create_application, fetch_jobs, fetch_recent_events, list_stages, parse_webhook, plugin_info"
    assert f"hooks: {hooks}, verify_webhook" in result.stdout
    assert "recruitee BROKEN" not in result.stdout


@pytest.fixture
async def recruitee(fake_recruitee: ModuleType) -> AsyncIterator[Any]:
    fake = fake_recruitee.FakeRecruitee()
    async with fake.serving():
        yield fake


async def test_a_recruitee_account_syncs_feeds_and_reports_hires(
    database_url: str, tmp_path: Path, recruitee: Any, fake_recruitee: ModuleType
) -> None:
    appcast = sdk.FakeAppcast(token="appcast-bearer-for-tests")
    async with appcast.serving():
        options = {
            "company_id": fake_recruitee.COMPANY,
            "api_token": fake_recruitee.API_TOKEN,
            "webhook_secret": fake_recruitee.WEBHOOK_SECRET,
            "base_url": recruitee.url,
        }
        config = write_config(tmp_path, sdk.end_to_end_config(database_url, "recruitee", options, appcast))
        async with sdk.serving_hub(config) as url, aiohttp.ClientSession() as http:
            hub = sdk.HubClient(url, http)
            status, synced = await hub.sync()
            assert (status, synced["error"], synced["created"]) == (200, None, 6)
            published = {str(offer["id"]) for offer in recruitee.offers if offer["status"] == "published"}
            assert len(published) == 4
            jobs = await hub.feed()
            assert set(jobs) == published, "the feed holds the published offers, not the closed or the draft"
            offer_id = fake_recruitee.FIRST_OFFER + 3
            assert jobs[str(offer_id)].findtext("title") == "Backend Engineer 3"

            recruitee.change_offer(offer_id - 2, status="closed")
            status, synced = await hub.sync()
            assert (status, synced["error"]) == (200, None)
            assert set(await hub.feed()) == published - {str(offer_id - 2)}

            # Recruitee's Test button, unsigned: answered 200 as a handshake, and never stored.
            for _ in range(2):
                async with http.post(f"{url}/webhooks/acme", json={"test": True}) as answer:
                    assert (answer.status, await answer.json()) == (200, {"status": "test"})
            assert await models.WebhookReceipt.all().count() == 0

            body = recruitee.hire(offer_id, email="Ada@Example.com")
            forged = fake_recruitee.signed(body, secret="not-the-secret")
            assert (await hub.post_webhook(forged))[0] == 401
            hire = fake_recruitee.signed(body)
            # Recruitee counts only 200 as delivered: new and already seen alike.
            assert await hub.post_webhook(hire) == (200, {"status": "stored"})
            assert await hub.post_webhook(hire) == (200, {"status": "already seen"})

            [received] = await appcast.wait_for_events(1)
            candidate = body["payload"]["candidate"]["id"]
            assert received.body == {
                "event": "hired",
                "client_id": "client-42",
                "ent_id": "ent-7",
                "job_reference": str(offer_id),
                "application_id": f"{candidate}:{offer_id}",
                "candidate_hash": hashlib.sha256(b"ada@example.com").hexdigest(),
                "source": "Appcast",
                "stage": {"id": "8080464", "name": "Hired"},
                "occurred_at": datetime.fromisoformat(body["created_at"]).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            assert received.authorization == "Bearer appcast-bearer-for-tests"
            assert await models.Event.filter(kind="hired").count() == 1

            # Reconciliation finds the same hire in the candidates' placements: nothing new to store.
            status, reconciled = await hub.admin("POST", "/api/accounts/acme/reconcile")
            assert (status, reconciled) == (200, {"stored": 0, "duplicates": 1, "deliveries": 0})
        assert len(appcast.events) == 1


def test_the_environment_was_left_as_it_was(installed_into: Path) -> None:
    """The install went to the session's folder: this environment has no such distribution."""
    assert (installed_into / PACKAGE / "plugin.py").is_file()
    in_environment = subprocess.run(
        [sys.executable, "-c", f"import importlib.metadata as m; m.distribution({DISTRIBUTION!r})"],
        capture_output=True, text=True, timeout=60, check=False,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )  # fmt: skip
    assert in_environment.returncode == 1
    assert "PackageNotFoundError" in in_environment.stderr
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution(DISTRIBUTION)
    assert not list(EXAMPLE.glob("*.egg-info")), "the build left files in the checkout"
    assert not (EXAMPLE / "build").exists(), "the build left files in the checkout"
