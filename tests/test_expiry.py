"""Expiry (hub.expiry): jobs leave the served feed on their closing date or past ``max_age_days``, by
themselves, and come back when the ATS reposts them; a version's feed never changes with the clock alone.

A real hub serves the feed on a socket; jobs come from the file adapter through real syncs. Time passing
is the ``now`` handed to :func:`hub.expiry.expire_due`, as the scheduler's sweep would run it later.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from lxml import etree

from hub import models
from hub.accounts import LiveAccount, get_account
from hub.app import create_app
from hub.appkeys import SCHEDULER
from hub.config import HubConfig, bind_plugins, load_config
from hub.expiry import EXPIRY_EVERY, expire_due
from hub.feed_cache import FeedCache
from hub.plugins import load_plugins
from hub.testing.peers import ADMIN_TOKEN, running, serving_hub
from tests.conftest import file_hub_config

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
START = datetime.now(UTC)
DAY = timedelta(days=1)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def a_job(ats_id: str, **values: Any) -> dict[str, Any]:
    return {"id": ats_id, "title": f"Nurse {ats_id}", "posted_at": _iso(START - DAY)} | values


@dataclass
class Hub:
    url: str
    config: HubConfig
    jobs_file: Path
    http: aiohttp.ClientSession

    def write_jobs(self, *jobs: dict[str, Any]) -> None:
        self.jobs_file.write_text(json.dumps({"jobs": list(jobs)}), encoding="utf-8")

    async def sync(self) -> None:
        async with self.http.post(f"{self.url}/api/accounts/demo/sync", headers=AUTH) as answer:
            assert answer.status == 200, await answer.text()

    async def feed(self, **headers: str) -> tuple[int, str, list[str]]:
        """The served feed: status, ETag, and the reference numbers of its jobs."""
        # Uncompressed: one representation, one ETag (a gzip file may still be on its way after a build).
        headers = {"Accept-Encoding": "identity", **headers}
        async with self.http.get(f"{self.url}/feeds/demo.xml", headers=headers) as answer:
            body = await answer.read()
            if answer.status != 200:
                return answer.status, answer.headers["ETag"], []
            return 200, answer.headers["ETag"], titles_of(body)

    async def account(self) -> LiveAccount:
        return await get_account(self.config, "demo")


@pytest.fixture
def account_options() -> str:
    return ""


@pytest.fixture
async def hub(database_url: str, tmp_path: Path, account_options: str) -> AsyncIterator[Hub]:
    jobs = tmp_path / "jobs.json"
    jobs.write_text('{"jobs": []}', encoding="utf-8")
    config_file = file_hub_config(
        database_url, tmp_path, jobs, cache=tmp_path / "cache", account_options=account_options
    )
    plugins = load_plugins()
    async with serving_hub(config_file, plugins) as url, aiohttp.ClientSession() as http:
        yield Hub(url, bind_plugins(load_config(config_file), plugins), jobs, http)


async def test_a_job_leaves_on_its_closing_date_and_returns_when_the_ats_moves_it(hub: Hub) -> None:
    closes = START + DAY
    hub.write_jobs(a_job("A", closes_at=_iso(closes)), a_job("B"))
    await hub.sync()
    status, etag, jobs = await hub.feed()
    assert (status, jobs) == (200, ["A", "B"])

    # Before the date nothing moves: the version, its ETag and its bytes stay.
    assert await expire_due(await hub.account(), now=closes - timedelta(minutes=1)) == 0
    assert (await hub.feed(**{"If-None-Match": etag}))[0] == 304

    assert await expire_due(await hub.account(), now=closes + timedelta(seconds=1)) == 1
    status, moved, jobs = await hub.feed(**{"If-None-Match": etag})
    assert (status, jobs) == (200, ["B"]), "the next fetch after the date no longer has the job"
    assert moved != etag

    # The ATS extends the deadline: the changed job is back with the next sync.
    hub.write_jobs(a_job("A", closes_at=_iso(closes + 30 * DAY)), a_job("B"))
    await hub.sync()
    assert (await hub.feed())[2] == ["A", "B"]


@pytest.mark.parametrize("account_options", ["max_age_days = 30"])
async def test_jobs_older_than_max_age_days_leave_and_come_back_when_reposted(hub: Hub) -> None:
    posted = START - 29 * DAY
    hub.write_jobs(a_job("OLD", posted_at=_iso(posted)), a_job("NEW"))
    await hub.sync()
    assert (await hub.feed())[2] == ["OLD", "NEW"]

    assert await expire_due(await hub.account(), now=posted + 30 * DAY - timedelta(minutes=1)) == 0
    assert await expire_due(await hub.account(), now=posted + 30 * DAY + timedelta(minutes=1)) == 1
    assert (await hub.feed())[2] == ["NEW"]

    # Reposted in the ATS: a newer posting date brings it back.
    hub.write_jobs(a_job("OLD", posted_at=_iso(START)), a_job("NEW"))
    await hub.sync()
    assert sorted((await hub.feed())[2]) == ["NEW", "OLD"]


async def test_without_max_age_days_an_old_job_stays(hub: Hub) -> None:
    hub.write_jobs(a_job("ANCIENT", posted_at=_iso(START - 3000 * DAY)))
    await hub.sync()
    assert await expire_due(await hub.account(), now=START + 400 * DAY) == 0
    assert (await hub.feed())[2] == ["ANCIENT"]


async def test_replicas_sweeping_at_once_move_the_version_once(hub: Hub) -> None:
    hub.write_jobs(a_job("A", closes_at=_iso(START + DAY)), a_job("B"))
    await hub.sync()
    first, second = await hub.account(), await hub.account()  # what two replicas read
    version = first.row.feed_version
    later = START + 2 * DAY
    assert await expire_due(first, now=later) == 1
    assert await expire_due(second, now=later) == 0, "the other replica's bump already happened"
    assert (await hub.account()).row.feed_version == version + 1


async def test_a_version_holds_the_same_jobs_whenever_it_is_built(hub: Hub, tmp_path: Path) -> None:
    """The clock alone never changes a version: a job past its date stays in the version that had it
    until the sweep moves the feed on, so a build now and a build later of one ETag agree."""
    closes = datetime.now(UTC) + timedelta(seconds=3)  # room for a slow sync on a busy machine
    hub.write_jobs(a_job("A", closes_at=_iso(closes)), a_job("B"))
    await hub.sync()
    _, etag, jobs = await hub.feed()
    assert jobs == ["A", "B"]
    await asyncio.sleep((closes - datetime.now(UTC)).total_seconds() + 0.2)

    # A replica with nothing built yet builds the version after the date: the same jobs, the same ETag.
    late = FeedCache(hub.config, load_plugins(), tmp_path / "replica")
    artifact = await late.artifact(await hub.account())
    await late.close()
    assert artifact.etag == etag
    assert titles_of(artifact.plain.read_bytes()) == ["A", "B"]

    assert await expire_due(await hub.account()) == 1  # the sweep, on the clock
    assert (await hub.feed())[2] == ["B"]


def titles_of(body: bytes) -> list[str]:
    return etree.fromstring(body).xpath("//job/referencenumber/text()")


async def test_the_scheduler_sweeps_every_minute_on_the_leader(tmp_path: Path) -> None:
    closes = datetime.now(UTC) + timedelta(seconds=3)  # after the start-up sync, on a busy machine too
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps({"jobs": [a_job("A", closes_at=_iso(closes)), a_job("B")]}), encoding="utf-8")
    database_url = f"sqlite://{tmp_path / 'hub.sqlite3'}"
    config_file = file_hub_config(database_url, tmp_path, jobs, cache=tmp_path / "cache", scheduled=True)
    plugins = load_plugins()
    app = create_app(bind_plugins(load_config(config_file), plugins), plugins)
    async with running(app) as url, aiohttp.ClientSession() as http:
        scheduler = app[SCHEDULER]
        sweep = scheduler.scheduler.get_job("expiry")
        assert sweep.trigger.interval == EXPIRY_EVERY
        for _ in range(100):  # the start-up sync, scheduled now
            if await models.Job.filter(ats_id="B").exists():
                break
            await asyncio.sleep(0.05)
        async with http.get(f"{url}/feeds/demo.xml") as answer:
            assert titles_of(await answer.read()) == ["A", "B"]
        await asyncio.sleep((closes - datetime.now(UTC)).total_seconds() + 0.2)
        await sweep.func()  # the job as APScheduler runs it: on the leader only
        async with http.get(f"{url}/feeds/demo.xml") as answer:
            assert titles_of(await answer.read()) == ["B"]
