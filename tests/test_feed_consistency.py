"""A feed version names one set of bytes: a change committed while a version is being built never ends up in
that version's files (on PostgreSQL the build reads one snapshot; on SQLite it checks the version did not
move under it), so replicas building the same version write the same bytes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from hub import models
from hub.accounts import changing_feed, ensure_accounts, get_account
from hub.config import HubConfig, bind_plugins, load_config
from hub.db import database
from hub.feed_cache import FeedCache
from hub.plugins import PluginHost, load_plugins
from hub.sync import sync_account
from tests.conftest import SAMPLE_JOBS, write_config

JOBS = 4000
ROUNDS = 3


@pytest.fixture
async def hub(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[HubConfig, PluginHost]]:
    samples = json.loads(SAMPLE_JOBS.read_text())["jobs"]
    jobs = [samples[n % len(samples)] | {"id": f"J-{n}", "status": "open"} for n in range(JOBS)]
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps({"jobs": jobs}), encoding="utf-8")
    config_file = write_config(
        tmp_path,
        f'[database]\nurl = "{database_url}"\nmigrate_on_start = true\n[accounts.demo]\nadapter = "file"\n'
        f'company = "Northwind"\nfeed_policy = "all-open"\n[accounts.demo.file]\npath = "{path}"\n',
    )
    plugins = load_plugins()
    config = bind_plugins(load_config(config_file), plugins)
    async with database(database_url, run_migrations=True):
        await ensure_accounts(config)
        async with aiohttp.ClientSession() as http:
            result = await sync_account(plugins, http, await get_account(config, "demo"), full=True)
        assert result.error is None
        yield config, plugins


async def test_a_change_committed_mid_build_is_never_in_the_version_being_built(
    hub: tuple[HubConfig, PluginHost], tmp_path: Path
) -> None:
    config, plugins = hub
    last = await models.Job.filter(ats_id=f"J-{JOBS - 1}").first()
    assert last is not None
    for round_number in range(ROUNDS):
        folder = tmp_path / f"replica-{round_number}"
        account = await get_account(config, "demo")
        cache = FeedCache(config, plugins, folder)
        build = asyncio.create_task(cache.artifact(account))
        # Wait until the build has read the version and started writing, then change the job it reads last.
        while not (folder / "demo").exists() or not any((folder / "demo").glob("*.tmp")):
            assert not build.done(), "the build ended before the change could race it"
            await asyncio.sleep(0.001)
        title = f"Changed mid-build {round_number}"
        async with changing_feed(account.row.id):
            await models.Job.filter(id=last.id).update(title=title, content_hash=f"changed-{round_number}")
        changed_in = (await get_account(config, "demo")).row.feed_version
        artifact = await build
        body = artifact.plain.read_bytes()
        await cache.close()  # and the gzip file it goes on to write
        if artifact.version < changed_in:
            assert title.encode() not in body, "the version before the change holds the change"
        else:
            assert title.encode() in body, "a version after the change lacks it"
