"""The CLI's outbox, stages, stats, reconcile and integration commands, on a real database file."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from hub import db, models
from tests.conftest import SAMPLE_JOBS, demo_config, free_port, hub_command, write_config


@pytest.fixture
async def config(tmp_path: Path) -> Path:
    path = write_config(tmp_path, demo_config(f"sqlite://{tmp_path / 'hub.sqlite3'}", free_port()))
    assert run(path, "sync").returncode == 0
    async with db.database(f"sqlite://{tmp_path / 'hub.sqlite3'}"):
        account = await models.Account.get(name="demo")
        now = datetime.now(UTC)
        for key, state in (("k1", "dead"), ("k2", "delivered"), ("k3", "dead")):
            await models.Delivery.create(
                account=account, destination="appcast", idempotency_key=key, payload={"event": "hired"},
                state=state, attempts=12, next_attempt_at=now, last_error="Appcast answered HTTP 503",
            )  # fmt: skip
        await models.Event.create(
            account=account, kind="stage_changed", dedupe_key="e1", to_stage_id="phone-screen",
            occurred_at=now,
        )  # fmt: skip
        await models.PixelCount.create(
            account=account, ats_job_id="NW-1001", day=date.today(), views=8, applies=2
        )
    return path


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(hub_command(*args, "-c", str(config)), capture_output=True, text=True, timeout=60)


async def test_deliveries_list_and_replay(config: Path) -> None:
    listed = run(config, "deliveries", "list", "--state", "dead")
    assert listed.returncode == 0, listed.stderr
    assert "2 of 2 deliveries" in listed.stdout
    assert "Appcast answered HTTP 503" in listed.stdout
    one = run(config, "deliveries", "retry", "1", "2")
    assert one.returncode == 1
    assert "replayed: 1" in one.stdout
    assert "not dead (or no such delivery): 2" in one.stdout
    rest = run(config, "deliveries", "retry", "dead")
    assert (rest.returncode, rest.stdout.strip()) == (0, "replayed: 3")
    assert "0 of 0" in run(config, "deliveries", "list", "--state", "dead").stdout
    bad = run(config, "deliveries", "retry", "x1")
    assert bad.returncode == 2
    assert "give delivery ids" in bad.stderr


async def test_stages_show_unmapped_then_map(config: Path) -> None:
    shown = run(config, "stages", "demo")
    assert shown.returncode == 0, shown.stderr
    assert "phone-screen" in shown.stdout
    assert "unmapped (1 events while unmapped)" in shown.stdout
    mapped = run(config, "stages", "demo", "map", "phone-screen", "screen")
    assert (mapped.returncode, mapped.stdout.strip()) == (0, "phone-screen: unmapped → screen")
    assert "screen     runtime" in run(config, "stages", "demo").stdout
    wrong = run(config, "stages", "demo", "map", "phone-screen", "hire")
    assert wrong.returncode == 2


async def test_a_mapped_stage_is_listed_where_the_ats_lists_none(config: Path) -> None:
    # The file adapter lists no stages: the mapping made here must still show, with where it comes from.
    assert run(config, "stages", "demo", "map", "offer-call", "offer").returncode == 0
    shown = run(config, "stages", "demo").stdout
    assert [line.split() for line in shown.splitlines() if line.startswith("offer-call")] == [
        ["offer-call", "offer-call", "offer", "runtime"]
    ]


def test_an_empty_stage_list_says_why(tmp_path: Path) -> None:
    path = write_config(tmp_path, demo_config(f"sqlite://{tmp_path / 'hub.sqlite3'}", free_port()))
    shown = run(path, "stages", "demo")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == (
        "no stages: this account's adapter cannot list its ATS's stages; none is mapped or seen in events"
    )


async def test_stats_integration_and_reconcile(config: Path) -> None:
    stats = run(config, "stats", "demo", "--job", "NW-1001")
    assert stats.returncode == 0, stats.stderr
    assert "views        8  applies      2  conversion  25.0%  hires    0" in stats.stdout
    off = run(config, "integration", "demo", "off")
    assert off.stdout.strip() == "demo: integration switched off"
    assert run(config, "integration", "demo", "off").stdout.strip() == "demo: integration already off"
    feed = run(config, "feed", "demo")
    assert feed.stdout.count("<job>") == 0
    reconcile = run(config, "reconcile")
    assert "the file adapter cannot be polled for events" in reconcile.stdout


async def test_status_and_a_held_close_from_the_command_line(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.json"
    sample = json.loads(SAMPLE_JOBS.read_text(encoding="utf-8"))
    jobs.write_text(json.dumps(sample), encoding="utf-8")
    config = write_config(tmp_path, demo_config(f"sqlite://{tmp_path / 'hub.sqlite3'}", free_port(), jobs))
    assert run(config, "sync").returncode == 0
    status = run(config, "status")
    assert status.returncode == 0, status.stderr
    assert "demo: Northwind Health (file), integration on" in status.stdout
    assert "44 of 44 open jobs (all-open)" in status.stdout
    assert "HELD" not in status.stdout

    jobs.write_text(json.dumps({"jobs": sample["jobs"][:3]}), encoding="utf-8")
    synced = run(config, "sync", "demo")
    assert "is held" in synced.stdout
    status = run(config, "status", "demo", "--json")
    [account] = json.loads(status.stdout)["accounts"]
    assert (account["open_jobs"], account["held"]["jobs"]) == (44, 42)
    assert "HELD:" in run(config, "status").stdout
    shown = run(config, "held", "demo")
    assert "42 of 44 open jobs would close" in shown.stdout
    assert "appcast-hub held demo confirm" in shown.stdout
    kept = run(config, "held", "demo", "keep")
    assert (kept.returncode, kept.stdout.strip()) == (0, "demo: kept open 42 jobs")
    nothing = run(config, "held", "demo", "confirm")
    assert nothing.returncode == 1
    assert "nothing held" in nothing.stderr
    assert json.loads(run(config, "held", "demo", "--json").stdout) == {"held": None}


async def test_the_account_option_goes_before_or_after_the_action(config: Path) -> None:
    for args in (("jobs", "-a", "demo", "list"), ("jobs", "list", "-a", "demo")):
        listed = run(config, *args, "--limit", "1")
        assert (listed.returncode, listed.stdout.splitlines()[-1]) == (0, "1 of 50 jobs"), listed.stderr
    for args in (("deliveries", "-a", "demo", "list"), ("deliveries", "list", "-a", "demo")):
        listed = run(config, *args, "--state", "dead")
        assert (listed.returncode, listed.stdout.splitlines()[-1]) == (0, "2 of 2 deliveries"), listed.stderr


async def test_what_cannot_be_done_says_so_once_and_in_json_too(config: Path) -> None:
    retried = run(config, "deliveries", "retry", "2")
    assert (retried.returncode, retried.stdout) == (1, "not dead (or no such delivery): 2\n")
    retried = run(config, "deliveries", "retry", "2", "--json")
    assert json.loads(retried.stdout) == {"replayed": [], "error": "not dead (or no such delivery): 2"}
    held = run(config, "held", "demo", "confirm", "--json")
    assert (held.returncode, json.loads(held.stdout)) == (1, {"error": "account 'demo' has no held change"})
    named = run(config, "reconcile", "demo")
    assert (named.returncode, named.stdout) == (1, "demo: the file adapter cannot be polled for events\n")
    assert run(config, "reconcile").returncode == 0, "among all accounts, one that cannot be polled is passed"
