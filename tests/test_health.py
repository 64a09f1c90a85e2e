"""Feed health: each rule finds the job it is about, and passes the job that is fine.

Jobs go through the hub as they would from an ATS (the file adapter, a sync), so each rule reads what
the feed really holds; every rule has a failing and a passing example.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub import models
from hub.accounts import ensure_accounts, get_account
from hub.config import bind_plugins, load_config
from hub.health import BOILERPLATE_MANY, RULES, FeedHealth, feed_health, health_summary, last_counts
from hub.metrics import REGISTRY
from hub.plugins import load_plugins
from hub.sync import sync_account
from tests.conftest import write_config

GOOD_TEXT = (
    "<p>" + "We care for patients across the region, and we look after the people who do. " * 3 + "</p>"
)
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)

Lint = Callable[..., Awaitable[FeedHealth]]


def job(ats_id: str, **overrides: Any) -> dict[str, Any]:
    """A job no rule finds anything wrong with."""
    entry = {
        "id": ats_id,
        "title": f"Registered Nurse {ats_id}",
        "posted_at": "2026-11-20T09:00:00Z",
        "description_html": GOOD_TEXT.replace("region", f"region ({ats_id})"),
        "location": {"city": "Portland", "region": "OR", "country": "US"},
        "hosted_url": f"https://careers.example/jobs/{ats_id}",
        "apply_url": f"https://careers.example/jobs/{ats_id}/apply",
    }
    return entry | overrides


@pytest.fixture
def lint(migrated: str, tmp_path: Path) -> Lint:
    async def run(jobs: list[dict[str, Any]], account_options: str = "") -> FeedHealth:
        path = tmp_path / "jobs.json"
        path.write_text(json.dumps({"jobs": jobs}), encoding="utf-8")
        config_file = write_config(
            tmp_path,
            f'[database]\nurl = "{migrated}"\n[accounts.acme]\nadapter = "file"\ncompany = "Acme"\n'
            f'feed_policy = "all-open"\n{account_options}\n[accounts.acme.file]\npath = "{path}"\n',
        )
        plugins = load_plugins()
        config = bind_plugins(load_config(config_file), plugins)
        await ensure_accounts(config)
        async with aiohttp.ClientSession() as http:
            result = await sync_account(plugins, http, await get_account(config, "acme"), full=True)
        assert result.error is None, result.error
        return await feed_health(await get_account(config, "acme"), now=NOW)

    return run


@pytest.mark.parametrize(
    ("rule", "weak", "fine"),
    [
        ("missing-element", {"hosted_url": None}, {}),
        ("no-location", {"location": {}}, {"location": {}, "workplace": "remote"}),
        ("short-description", {"description_html": "<p>Nurse wanted.</p>"}, {}),
        ("title-extra-text", {"title": "URGENT!!! Nurse"}, {"title": "Nurse, Intensive Care"}),
        ("title-extra-text", {"title": "Nurse $45/hr"}, {"title": "Nurse (nights)"}),
        ("title-extra-text", {"title": "Nurse in Portland"}, {"title": "Nurse"}),
        ("title-extra-text", {"title": "Nurse - United States"}, {"title": "Nurse, US veterans welcome"}),
        ("insecure-link", {"apply_url": "http://careers.example/apply"}, {}),
        ("long-id", {"id": "J-" + "9" * 70}, {"id": "J-" + "9" * 60}),
        ("stale", {"posted_at": "2026-08-01T09:00:00Z"}, {"posted_at": "2026-11-01T09:00:00Z"}),
        ("past-closing-date", {"closes_at": "2026-12-01T11:59:00Z"}, {"closes_at": "2026-12-01T12:01:00Z"}),
    ],
)
async def test_each_rule_finds_its_job_and_passes_a_fine_one(
    lint: Lint, rule: str, weak: dict[str, Any], fine: dict[str, Any]
) -> None:
    health = await lint([job("A", **weak), job("B", **fine)], "max_age_days = 60")
    found = [finding for finding in health.findings if finding["rule"] == rule]
    weak_id = weak.get("id", "A")
    assert [finding["ats_id"] for finding in found] == [weak_id], "the job's id whole, to find it by"
    assert health.counts[rule] == 1
    assert found[0]["message"], "every finding says what is wrong"
    assert sum(health.counts.values()) == 1, health.findings


async def test_a_clean_feed_has_nothing_to_fix(lint: Lint) -> None:
    health = await lint([job(f"J-{n}") for n in range(5)], "max_age_days = 60")
    assert (health.jobs, sum(health.counts.values())) == (5, 0)
    assert health.as_json()["counts"] == dict.fromkeys(RULES, 0)
    assert health_summary(dict(health.counts)) == "nothing to fix"


async def test_shared_descriptions_and_duplicates_are_found_across_jobs(lint: Lint) -> None:
    shared = {"description_html": GOOD_TEXT}
    jobs = [job(f"J-{n}") for n in range(20)]
    jobs += [job(f"B-{n}", **shared) for n in range(3)]
    jobs += [job("D-1", title="Porter"), job("D-2", title="Porter", company="Acme")]  # the account's company
    jobs += [job("D-3", title="Porter", company="Acme Clinics")]  # another brand's: no duplicate
    health = await lint(jobs)
    assert health.counts["boilerplate-description"] == 3
    assert [f["ats_id"] for f in health.findings if f["rule"] == "duplicate"] == ["D-2"]
    # Under the share of the feed that makes it boilerplate, a shared text is no finding.
    health = await lint([*jobs[:20], *[job(f"M-{n}") for n in range(20)], *jobs[20:23]])
    assert health.counts["boilerplate-description"] == 0


async def test_in_a_large_feed_a_description_shared_by_many_jobs_is_boilerplate_under_its_share(
    lint: Lint,
) -> None:
    jobs = [job(f"J-{n}") for n in range(520)]
    shared = {"description_html": GOOD_TEXT}
    # 51 copies: under a tenth of the feed (52), and more than any feed should carry.
    copies = [job(f"B-{n}", **shared) for n in range(BOILERPLATE_MANY + 1)]
    health = await lint([*jobs[: 520 - len(copies)], *copies])
    assert health.jobs == 520
    assert health.counts["boilerplate-description"] == len(copies)
    health = await lint([*jobs[: 520 - 49], *[job(f"B-{n}", **shared) for n in range(49)]])
    assert health.counts["boilerplate-description"] == 0, "49 copies: fewer than the most a feed may carry"


async def test_without_max_age_days_nothing_is_stale(lint: Lint) -> None:
    health = await lint([job("OLD", posted_at="2020-01-01T09:00:00Z")])
    assert health.counts["stale"] == 0


async def test_a_check_sets_the_gauge_and_the_status_line(lint: Lint) -> None:
    await lint([job("A", location={}), job("B", location={})])

    def gauge(rule: str) -> float | None:
        return REGISTRY.get_sample_value(
            "appcast_hub_feed_health_findings", {"account": "acme", "rule": rule}
        )

    assert (gauge("no-location"), gauge("stale")) == (2, 0)
    checked = await last_counts((await models.Account.get(name="acme")).id)  # stored: any replica reads it
    assert checked is not None
    assert health_summary(checked) == "2 no-location"
    assert health_summary(None) == "not checked yet"


async def test_findings_are_listed_up_to_a_bound_and_counted_whole(lint: Lint) -> None:
    jobs = [job(f"J-{n}", hosted_url=None) for n in range(130)]
    health = await lint(jobs)
    assert health.counts["missing-element"] == 130
    assert len([f for f in health.findings if f["rule"] == "missing-element"]) == 100


def test_every_rule_is_explained() -> None:
    assert all(len(words) > 10 for words in RULES.values())
