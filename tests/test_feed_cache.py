"""Prebuilt feed files (hub.feed_cache), through a real hub on a socket: what is served, when it is built."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from lxml import etree
from multidict import CIMultiDictProxy
from tortoise import connections
from tortoise.queryset import ValuesListQuery
from tortoise.transactions import in_transaction

from hub import feed_cache, hookimpl, models
from hub.accounts import get_account
from hub.config import bind_plugins, load_config
from hub.feed import in_feed, write_feed
from hub.feed_cache import FeedCache
from hub.options import PluginInfo
from hub.plugins import PluginHost, load_plugins
from hub.testing.peers import ADMIN_TOKEN, serving_hub
from tests.conftest import (
    SAMPLE_JOBS,
    file_hub_config,
    free_port,
    hub_process,
    new_postgres_database,
    write_config,
)

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PLAIN = {"Accept-Encoding": "identity"}
#: A client taking gzip alone: it waits for a cold build's gzip file (published after the plain one).
GZIP = {"Accept-Encoding": "gzip, identity;q=0"}
#: What most clients send: gzip or identity. Until a cold build's gzip file is published, the plain one.
GZIP_OR_PLAIN = {"Accept-Encoding": "gzip"}


class Elements:
    """A feed plugin adding one element per job; it counts its calls and fails on demand."""

    def __init__(self) -> None:
        self.calls = 0
        self.failing = False

    @hookimpl
    def appcast_hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(kind="destination", description="adds <tracking> to each job")

    @hookimpl
    def appcast_hub_feed_job_elements(self, job: Any) -> list[tuple[str, str]]:
        self.calls += 1
        if self.failing:
            raise RuntimeError("the plugin broke mid-build")
        return [("tracking", f"t-{job.ats_id}")]


@dataclass
class Hub:
    url: str
    config_file: Path
    jobs_file: Path
    cache: Path
    plugins: PluginHost

    @property
    def folder(self) -> Path:
        return self.cache / "demo"

    def edit_job(self, number: int, **values: Any) -> None:
        document = json.loads(self.jobs_file.read_text())
        document["jobs"][number] |= values
        self.jobs_file.write_text(json.dumps(document))


def jobs_file(folder: Path, count: int) -> Path:
    """The sample jobs repeated (unique ids) to ``count`` open jobs."""
    samples = json.loads(SAMPLE_JOBS.read_text())["jobs"]
    jobs = [samples[n % len(samples)] | {"id": f"J-{n}", "status": "open"} for n in range(count)]
    path = folder / "jobs.json"
    path.write_text(json.dumps({"jobs": jobs}))
    return path


@pytest.fixture
def elements() -> Elements:
    return Elements()


@pytest.fixture
def shape() -> tuple[int, bool]:
    """How many jobs the test's hub has, and whether :class:`Elements` is on (parametrize to change it)."""
    return 60, False


@pytest.fixture
def account_tables() -> str:
    """More of the account's config (parametrize to change it): its plugins' tables."""
    return ""


@pytest.fixture
async def hub(
    request: pytest.FixtureRequest,
    shape: tuple[int, bool],
    account_tables: str,
    database_url: str,
    tmp_path: Path,
) -> AsyncIterator[Hub]:
    """A hub on ``shape``'s jobs, synced once."""
    count, with_plugin = shape
    jobs = jobs_file(tmp_path, count)
    extra = ("[accounts.demo.elements]\n" if with_plugin else "") + account_tables
    config = file_hub_config(database_url, tmp_path, jobs, cache=tmp_path / "cache", extra=extra)
    plugins = load_plugins()
    if with_plugin:
        assert plugins.register("elements", request.getfixturevalue("elements"))
    async with serving_hub(config, plugins) as url:
        served = Hub(url, config, jobs, tmp_path / "cache", plugins)
        async with aiohttp.ClientSession(auto_decompress=False) as http:
            await sync(http, served)
        yield served


async def sync(http: aiohttp.ClientSession, hub: Hub) -> None:
    async with http.post(f"{hub.url}/api/accounts/demo/sync", headers=AUTH) as answer:
        assert answer.status == 200, await answer.text()


async def get(http: aiohttp.ClientSession, hub: Hub, **headers: str) -> tuple[aiohttp.ClientResponse, bytes]:
    async with http.get(f"{hub.url}/feeds/demo.xml", headers=headers) as answer:
        return answer, await answer.read()


async def fresh_build(hub: Hub) -> bytes:
    """The account's current version written again, streamed (what ``appcast-hub feed`` prints)."""
    config = bind_plugins(load_config(hub.config_file), hub.plugins)
    pieces: list[bytes] = []

    async def sink(data: bytes) -> None:
        pieces.append(data)

    await write_feed(await get_account(config, "demo"), hub.plugins, sink)
    return b"".join(pieces)


async def cold_files(hub: Hub, folder: Path) -> tuple[bytes, bytes]:
    """Both files of the current version built by a cache that has nothing yet (as a new replica would)."""
    cache = FeedCache(bind_plugins(load_config(hub.config_file), hub.plugins), hub.plugins, folder)
    try:
        await cache.artifact(await get_account(cache.config, "demo"))
        artifact = await cache.gzipped("demo")  # a cold build's gzip file follows its plain one
        assert artifact.gzip_ready
        return artifact.plain.read_bytes(), artifact.gzip.read_bytes()
    finally:
        await cache.close()


def builds(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "hub.feed_cache" and " built in " in r.getMessage()
    ]


def versions_on_disk(hub: Hub) -> set[str]:
    """The versions whose files are in the account's folder (the spares are no version: never served)."""
    return {
        path.name.split(".")[0].removesuffix("-gzip")
        for path in hub.folder.iterdir()
        if path.name not in feed_cache.SPARES
    }


def titles(body: bytes) -> list[str]:
    return [job.findtext("title") for job in etree.fromstring(body).iter("job")]


async def test_the_served_feed_is_a_fresh_build_of_its_version(hub: Hub, tmp_path: Path) -> None:
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        plain, body = await get(http, hub, **PLAIN)
        zipped, compressed = await get(http, hub, **GZIP)
    assert (plain.status, zipped.status) == (200, 200)
    assert body == await fresh_build(hub)
    assert gzip.decompress(compressed) == body
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert plain.content_type == zipped.content_type == "application/xml"
    assert zipped.headers["ETag"] == plain.headers["ETag"][:-1] + '-gzip"'
    assert plain.headers["Vary"] == zipped.headers["Vary"] == "Accept-Encoding"
    assert plain.headers["Last-Modified"] == zipped.headers["Last-Modified"]
    document = etree.fromstring(body)
    assert len(document.findall("job")) == 60
    # A cache with nothing yet builds the very same bytes, gzip included (the same ETag must mean them).
    assert await cold_files(hub, tmp_path / "other") == (body, compressed)


async def test_304_per_encoding_and_range_on_the_file(hub: Hub) -> None:
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        plain, body = await get(http, hub, **PLAIN)
        zipped, compressed = await get(http, hub, **GZIP)
        etag, gzip_etag = plain.headers["ETag"], zipped.headers["ETag"]
        for headers, tag in ((PLAIN, etag), (GZIP, gzip_etag)):
            same, empty = await get(http, hub, **headers, **{"If-None-Match": tag})
            assert (same.status, same.headers["ETag"], empty) == (304, tag, b"")
        other, _ = await get(http, hub, **GZIP, **{"If-None-Match": etag})
        assert other.status == 200, "the plain body's validator is not the gzip body's"
        since, _ = await get(http, hub, **PLAIN, **{"If-Modified-Since": plain.headers["Last-Modified"]})
        assert since.status == 304

        part, data = await get(http, hub, **PLAIN, Range="bytes=10-109")
        assert (part.status, data, part.headers["ETag"]) == (206, body[10:110], etag)
        assert part.headers["Content-Range"] == f"bytes 10-109/{len(body)}"
        part, data = await get(http, hub, **GZIP, Range="bytes=-50")
        assert (part.status, data, part.headers["ETag"]) == (206, compressed[-50:], gzip_etag)
        resumed, data = await get(http, hub, **PLAIN, Range="bytes=100-", **{"If-Range": etag})
        assert (resumed.status, data) == (206, body[100:])
        stale, data = await get(http, hub, **PLAIN, Range="bytes=100-", **{"If-Range": '"another-version"'})
        assert (stale.status, data) == (200, body), "a range of another version would corrupt a resumed file"
        head = await http.head(f"{hub.url}/feeds/demo.xml", headers=PLAIN)
        assert (head.status, head.headers["ETag"], int(head.headers["Content-Length"])) == (
            200,
            etag,
            len(body),
        )


async def test_if_match_and_if_unmodified_since_are_412_unless_they_name_the_version_sent(hub: Hub) -> None:
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        plain, body = await get(http, hub, **PLAIN)
        zipped, compressed = await get(http, hub, **GZIP)
        etag, gzip_etag = plain.headers["ETag"], zipped.headers["ETag"]
        modified = plain.headers["Last-Modified"]
        long_ago = "Mon, 01 Jan 2001 00:00:00 GMT"
        for headers, sent, expected in (
            ({**PLAIN, "If-Match": etag}, 200, body),
            ({**PLAIN, "If-Match": f'"another-version", {etag}'}, 200, body),
            ({**PLAIN, "If-Match": "*"}, 200, body),
            ({**GZIP, "If-Match": gzip_etag}, 200, compressed),
            ({**GZIP, "If-Match": etag}, 412, None),  # the plain body's validator, not the gzip body's
            ({**PLAIN, "If-Match": f"W/{etag}"}, 412, None),  # If-Match compares strongly
            ({**PLAIN, "If-Match": '"another-version"'}, 412, None),
            ({**PLAIN, "If-Unmodified-Since": modified}, 200, body),
            ({**PLAIN, "If-Unmodified-Since": long_ago}, 412, None),
            ({**PLAIN, "If-Match": etag, "If-Unmodified-Since": long_ago}, 200, body),  # If-Match decides
            ({**PLAIN, "If-Match": '"another-version"', "If-None-Match": etag}, 412, None),  # before 304
            ({**PLAIN, "If-Match": etag, "Range": "bytes=0-9"}, 206, body[:10]),
        ):
            answer, data = await get(http, hub, **headers)
            assert answer.status == sent, headers
            if expected is not None:
                assert data == expected, headers
            else:
                assert "no longer the version" in json.loads(data)["error"], headers


async def test_versions_within_one_second_have_their_own_last_modified(hub: Hub) -> None:
    # Two switches back to back, well within a second: a client that asks If-Modified-Since the first
    # version's second is sent the second version, not told it is unchanged.
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        seen = []
        for ats_id in ("J-0", "J-1"):
            async with http.post(
                f"{hub.url}/api/accounts/demo/jobs/disable", json={"ids": [ats_id]}, headers=AUTH
            ) as switched:
                assert switched.status == 200
            seen.append((await get(http, hub, **PLAIN))[0].headers)
        first, second = seen
        assert first["ETag"] != second["ETag"]
        assert moment(second, "Last-Modified") > moment(first, "Last-Modified")
        answer, body = await get(http, hub, **PLAIN, **{"If-Modified-Since": first["Last-Modified"]})
        assert (answer.status, answer.headers["ETag"]) == (200, second["ETag"])
        assert body == await fresh_build(hub)
        again, _ = await get(http, hub, **PLAIN, **{"If-Modified-Since": second["Last-Modified"]})
        assert again.status == 304


def moment(headers: CIMultiDictProxy[str], name: str) -> datetime:
    return parsedate_to_datetime(headers[name])


async def test_a_start_with_another_config_moves_last_modified_with_the_etag(
    database_url: str, tmp_path: Path
) -> None:
    # The publisher's URL is in the feed's bytes: a client asking If-Modified-Since hears of it, once.
    jobs = jobs_file(tmp_path, 20)
    configs = []
    for name, options in (("before", ""), ("after", 'company_url = "https://renamed.example"\n')):
        (tmp_path / name).mkdir()
        configs.append(
            file_hub_config(database_url, tmp_path / name, jobs, cache=tmp_path / name / "cache",
                            account_options=options)
        )  # fmt: skip
    async with aiohttp.ClientSession(auto_decompress=False) as http:

        async def fetch(url: str, **headers: str) -> tuple[int, CIMultiDictProxy[str], bytes]:
            async with http.get(f"{url}/feeds/demo.xml", headers={**PLAIN, **headers}) as answer:
                return answer.status, answer.headers, await answer.read()

        async with serving_hub(configs[0]) as url:
            async with http.post(f"{url}/api/accounts/demo/sync", headers=AUTH) as synced:
                assert synced.status == 200
            _, first, _ = await fetch(url)
        async with serving_hub(configs[1]) as url:
            status, second, body = await fetch(url, **{"If-Modified-Since": first["Last-Modified"]})
        assert status == 200
        assert b"https://renamed.example" in body
        assert second["ETag"] != first["ETag"]
        assert moment(second, "Last-Modified") > moment(first, "Last-Modified")
        async with serving_hub(configs[1]) as url:  # started again with that config: nothing moves on
            assert (await fetch(url, **{"If-None-Match": second["ETag"]}))[0] == 304
            assert (await fetch(url, **{"If-Modified-Since": second["Last-Modified"]}))[0] == 304


async def test_a_sync_change_and_switches_are_in_the_next_fetch(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "hub.feed_cache")
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        first, _ = await get(http, hub, **PLAIN)
        hub.edit_job(7, title="Night Nurse, changed")
        await sync(http, hub)
        changed, body = await get(http, hub, **PLAIN)
        assert changed.headers["ETag"] != first.headers["ETag"]
        assert titles(body)[7] == "Night Nurse, changed"
        assert body == await fresh_build(hub)
        _, compressed = await get(http, hub, **GZIP)
        assert gzip.decompress(compressed) == body
        assert "1 rendered, 59 copied" in builds(caplog)[-1], "one changed job is rendered, the rest copied"
        # Copied or rendered, the bytes are a cold build's, gzip included: replicas agree whatever they kept.
        assert await cold_files(hub, hub.cache.parent / "cold") == (body, compressed)
        assert len(versions_on_disk(hub)) == 1, "the previous version's files are gone"

        async with http.post(
            f"{hub.url}/api/accounts/demo/jobs/disable", json={"ids": ["J-3"]}, headers=AUTH
        ):
            pass
        _, body = await get(http, hub, **PLAIN)
        assert "J-3" not in [job.findtext("referencenumber") for job in etree.fromstring(body).iter("job")]
        assert body == await fresh_build(hub)

        async with http.post(
            f"{hub.url}/api/accounts/demo/integration", json={"enabled": False}, headers=AUTH
        ) as answer:
            assert answer.status == 200
        off, body = await get(http, hub, **GZIP)
        assert titles(gzip.decompress(body)) == []
        async with http.post(
            f"{hub.url}/api/accounts/demo/integration", json={"enabled": True}, headers=AUTH
        ):
            pass
        on, body = await get(http, hub, **PLAIN)
        assert len(titles(body)) == 59
        assert body == await fresh_build(hub)
        assert len({first.headers["ETag"], off.headers["ETag"], on.headers["ETag"]}) == 3
    assert versions_on_disk(hub) == {on.headers["ETag"].strip('"')}
    assert sorted(path.suffix for path in hub.folder.iterdir()) == ["", "", ".gz", ".index", ".json", ".xml"]


APPCAST_CPC = """
[accounts.demo.appcast]
client_id = "client"
ent_id = "ent"
cpc = 0.5
"""


def cpcs(body: bytes) -> list[str | None]:
    return [job.findtext("cpc") for job in etree.fromstring(body).iter("job")]


async def set_bid(http: aiohttp.ClientSession, hub: Hub, job: str, bid: str | None) -> None:
    """Set the job's bid through the admin API (None: back to the account's default)."""
    url = f"{hub.url}/api/accounts/demo/jobs/{job}/bid"
    async with http.put(url, json={"bid": bid}, headers=AUTH) as answer:
        assert answer.status == 200, await answer.text()


@pytest.mark.parametrize(("shape", "account_tables"), [((60, True), APPCAST_CPC)])
async def test_with_plugins_adding_elements_a_rebuild_renders_only_the_changed_job(
    hub: Hub, elements: Elements, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "hub.feed_cache")
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        _, body = await get(http, hub, **PLAIN)
        assert cpcs(body) == ["0.50"] * 60, "the Appcast plugin's default bid, in every job"
        assert elements.calls == 60

        hub.edit_job(7, title="Night Nurse, changed")
        await sync(http, hub)
        _, body = await get(http, hub, **PLAIN)
        assert titles(body)[7] == "Night Nurse, changed"
        assert elements.calls == 60 + 1, "the plugins are asked about the changed job alone"
        assert "1 rendered, 59 copied" in builds(caplog)[-1]
        _, compressed = await get(http, hub, **GZIP)
        assert await cold_files(hub, hub.cache.parent / "cold") == (body, compressed)

        await set_bid(http, hub, "J-12", "2.50")
        _, body = await get(http, hub, **PLAIN)
        assert cpcs(body) == ["0.50"] * 12 + ["2.50"] + ["0.50"] * 47
        assert "1 rendered, 59 copied" in builds(caplog)[-1], "a bid is part of the job's key"
        assert body == await fresh_build(hub)
        _, compressed = await get(http, hub, **GZIP)
        assert await cold_files(hub, hub.cache.parent / "cold-after-bid") == (body, compressed)

        await set_bid(http, hub, "J-12", None)
        _, body = await get(http, hub, **PLAIN)
        assert cpcs(body) == ["0.50"] * 60
        assert "1 rendered, 59 copied" in builds(caplog)[-1]


@pytest.mark.parametrize("account_tables", [APPCAST_CPC])
async def test_a_job_changed_between_its_key_and_its_row_is_indexed_as_read_with_its_bytes(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        await get(http, hub, **GZIP)
        await set_bid(http, hub, "J-5", "3.00")
        # The rebuild reads J-5's key (bid 3.00), then its row: an admin's bid lands between the two reads.
        # On SQLite the build's last attempt is kept whatever moved under it; here the first is the last.
        monkeypatch.setattr(feed_cache, "BUILD_ATTEMPTS", 1)
        read_rows = feed_cache._rows_by_id
        raced: list[str] = []

        async def bid_lands_first(account: Any, ids: list[int]) -> list[Any]:
            if not raced:
                raced.append("4.00")
                await set_bid(http, hub, "J-5", "4.00")
            return await read_rows(account, ids)

        monkeypatch.setattr(feed_cache, "_rows_by_id", bid_lands_first)
        await get(http, hub, **GZIP)
        assert raced, "the rebuild read no row"
        monkeypatch.setattr(feed_cache, "_rows_by_id", read_rows)
        # Back to 3.00: the next rebuild must not take the 4.00 bytes for J-5's key with bid 3.00.
        await set_bid(http, hub, "J-5", "3.00")
        _, body = await get(http, hub, **PLAIN)
        assert cpcs(body)[5] == "3.00"
        assert body == await fresh_build(hub)


@pytest.mark.parametrize("shape", [(1300, False)])
@pytest.mark.parametrize("key_batch", [100, 700, feed_cache.KEY_BATCH])
async def test_a_rebuild_across_crc_checkpoints_is_a_cold_builds_bytes(
    hub: Hub, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, key_batch: int
) -> None:
    # Copied runs whose CRCs are joined from the previous file's checkpoints (one every
    # CHECKPOINT_EVERY jobs), changes on either side of one and across several, batches of keys copied
    # whole (within two checkpoints, across one, the whole feed): the gzip file a rebuild writes is the
    # one a new replica's cold build writes.
    assert feed_cache.CHECKPOINT_EVERY < 1300 // 2
    monkeypatch.setattr(feed_cache, "KEY_BATCH", key_batch)
    looked_at: list[range] = []
    job_by_job = feed_cache.FeedCache._write_changed

    async def write_changed(self: Any, *args: Any) -> None:
        looked_at.append(args[-1])
        await job_by_job(self, *args)

    monkeypatch.setattr(feed_cache.FeedCache, "_write_changed", write_changed)
    caplog.set_level(logging.INFO, "hub.feed_cache")
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        await get(http, hub, **GZIP)
        for round_, changed in enumerate(((3, 700, 1201), (499, 500, 501), (0, 1299))):
            for n in changed:
                hub.edit_job(n, title=f"Changed {n} in round {round_}")
            looked_at.clear()
            await sync(http, hub)
            _, body = await get(http, hub, **PLAIN)
            assert f"{len(changed)} rendered, {1300 - len(changed)} copied" in builds(caplog)[-1]
            # Only the batches holding a change are looked at job by job: the others are one run each.
            assert len(looked_at) == len({n // key_batch for n in changed})
            assert all(any(n in places for places in looked_at) for n in changed)
            assert body == await fresh_build(hub)
            _, compressed = await get(http, hub, **GZIP)
            assert gzip.decompress(compressed) == body
            cold = await cold_files(hub, hub.cache.parent / f"cold-{round_}")
            assert cold == (body, compressed), "byte-identical to a cold build, gzip file included"


@pytest.mark.parametrize(
    "index",
    [
        # What the release before this index format wrote: JSON lines of columns.
        b'{"context": "c", "head": [100, 50]}\n[["J-0"],["d"],[null],[10],[5],[null]]',
        b"not an index at all",
        b"",
    ],
)
async def test_an_index_of_another_format_or_unreadable_means_a_cold_build(
    hub: Hub, caplog: pytest.LogCaptureFixture, index: bytes
) -> None:
    caplog.set_level(logging.INFO, "hub.feed_cache")
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        await get(http, hub, **GZIP)
        (current,) = hub.folder.glob("*.index")
        current.write_bytes(index)
        hub.edit_job(4, title="Changed over an index the hub cannot read")
        await sync(http, hub)
        _, body = await get(http, hub, **PLAIN)
        assert "60 rendered, 0 copied" in builds(caplog)[-1]
        assert body == await fresh_build(hub)
        _, compressed = await get(http, hub, **GZIP)
        assert gzip.decompress(compressed) == body
        # Its own index is of this release's format: the next change copies again.
        hub.edit_job(5, title="Changed after the cold build")
        await sync(http, hub)
        _, body = await get(http, hub, **PLAIN)
        assert "1 rendered, 59 copied" in builds(caplog)[-1]
        assert body == await fresh_build(hub)


async def test_a_file_gone_from_under_the_hub_is_built_again_not_a_404(hub: Hub) -> None:
    # Between looking a version up and opening its file, a newer version's publication may move the file
    # away (a request is then sent the newer one); an operator clearing the folder removes it for good.
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        plain, body = await get(http, hub, **PLAIN)
        zipped, compressed = await get(http, hub, **GZIP)
        for path in hub.folder.iterdir():
            if path.suffix in (".xml", ".gz"):
                path.unlink()
        for headers, sent, expected in ((PLAIN, plain, body), (GZIP, zipped, compressed)):
            again, data = await get(http, hub, **headers)
            assert again.status == 200, data
            assert (again.headers["ETag"], data) == (sent.headers["ETag"], expected), "the same version"


@pytest.mark.parametrize("shape", [(60, True)])
async def test_another_version_of_a_plugin_adding_elements_renders_every_job_again(
    hub: Hub, elements: Elements, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "hub.feed_cache")
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        await get(http, hub, **PLAIN)
        hub.edit_job(3, title="Changed with the plugin as it was")
        await sync(http, hub)
        await get(http, hub, **PLAIN)
        assert "1 rendered, 59 copied" in builds(caplog)[-1]

        # The same plugin, upgraded: it may answer otherwise for the same job.
        hub.plugins.unregister("elements")
        assert hub.plugins.register("elements", elements, version="2.0")
        hub.edit_job(3, title="Changed after the upgrade")
        await sync(http, hub)
        _, body = await get(http, hub, **PLAIN)
        assert "60 rendered, 0 copied" in builds(caplog)[-1]
        assert body == await fresh_build(hub)


async def test_a_rebuild_overwrites_the_spare_files_unless_someone_still_reads_them(hub: Hub) -> None:
    spare = hub.folder / feed_cache.SPARES[0]
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        _, first = await get(http, hub, **PLAIN)
        for round_ in range(2):
            hub.edit_job(round_, title=f"Round {round_}")
            await sync(http, hub)
            _, body = await get(http, hub, **PLAIN)
        assert spare.read_bytes() != body, "the version before the last is kept, not served"

        # A response still sending the spare (a slow client) holds it open: it must not change under it.
        with spare.open("rb") as held:
            was = spare.read_bytes()
            hub.edit_job(2, title="While a client still reads the spare")
            await sync(http, hub)
            _, body = await get(http, hub, **PLAIN)
            assert held.read() == was
        assert titles(body)[2] == "While a client still reads the spare"
        assert body == await fresh_build(hub)

        # Nobody reads it any more: the next build overwrites it in place instead of a new file.
        inode = spare.stat().st_ino
        hub.edit_job(3, title="The spare recycled")
        await sync(http, hub)
        plain, body = await get(http, hub, **PLAIN)
        current = hub.folder / (plain.headers["ETag"].strip('"') + ".xml")
        assert current.stat().st_ino == inode
        assert body == current.read_bytes() == await fresh_build(hub)
        _, compressed = await get(http, hub, **GZIP)
        assert gzip.decompress(compressed) == body
        assert await cold_files(hub, hub.cache.parent / "cold") == (body, compressed)
    assert first != body


async def plan(query: ValuesListQuery[Any]) -> str:
    """The database's plan for ``query`` (PostgreSQL's with sequential scans off: 60 rows would be read
    whole, whatever the indexes)."""
    connection = connections.get("default")
    sql = query.sql(params_inline=True)
    if connection.capabilities.dialect == "sqlite":
        _, rows = await connection.execute_query("EXPLAIN QUERY PLAN " + sql)
        return " / ".join(row["detail"] for row in rows)
    await connection.execute_script("VACUUM ANALYZE jobs")  # index-only scans need the visibility map
    async with in_transaction() as transaction:
        await transaction.execute_script("SET LOCAL enable_seqscan = off")
        _, rows = await transaction.execute_query("EXPLAIN " + sql)
    return " / ".join(row["QUERY PLAN"] for row in rows)


async def test_a_rebuild_reads_the_jobs_keys_from_the_covering_index_alone(hub: Hub) -> None:
    account = await get_account(bind_plugins(load_config(hub.config_file), hub.plugins), "demo")
    # The queries of hub.feed.feed_rows (the keys, a batch after an id) and of the changed jobs' rows.
    keys = models.Job.filter(in_feed(account), id__gt=0).order_by("id").limit(feed_cache.KEY_BATCH)
    keys_plan = await plan(keys.values_list(*feed_cache.KEY_COLUMNS))
    rows = models.Job.filter(in_feed(account), id__in=[3, 5, 8])
    rows_plan = await plan(rows.values_list(*feed_cache.ROW_COLUMNS))
    index = "idx_jobs_account_d322d3"  # tortoise's name for models.FEED_KEY_INDEX
    assert f"COVERING INDEX {index}" in keys_plan or f"Index Only Scan using {index}" in keys_plan, keys_plan
    assert "USING INTEGER PRIMARY KEY" in rows_plan or "Index Scan using jobs_pkey" in rows_plan, rows_plan


@pytest.mark.parametrize("shape", [(60, True)])
async def test_a_failing_build_leaves_the_previous_version_served(
    hub: Hub, elements: Elements, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        before, body = await get(http, hub, **GZIP)
        assert before.status == 200
        assert etree.fromstring(gzip.decompress(body)).find("job").findtext("tracking") == "t-J-0"
        hub.edit_job(0, title="Changed while the plugin is broken")
        await sync(http, hub)
        elements.failing = True
        for _ in range(2):
            after, again = await get(http, hub, **GZIP)
            assert (after.status, after.headers["ETag"], again) == (200, before.headers["ETag"], body)
        assert elements.calls == 60 + 1, "the failed build is not retried at once"
        assert not [path for path in hub.folder.iterdir() if path.name.endswith(".tmp")], (
            "nothing half-written"
        )
        assert len(versions_on_disk(hub)) == 1

        # Once the plugin works again, the first request after RETRY_SECONDS builds the new version.
        elements.failing = False
        monkeypatch.setattr(feed_cache, "RETRY_SECONDS", 0.0)
        fixed, body = await get(http, hub, **GZIP)
        assert fixed.headers["ETag"] != before.headers["ETag"]
        assert titles(gzip.decompress(body))[0] == "Changed while the plugin is broken"
        assert gzip.decompress(body) == await fresh_build(hub)
        assert len(versions_on_disk(hub)) == 1


async def test_after_a_rebuild_failed_on_a_wrong_index_the_next_build_is_cold(
    hub: Hub, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An index that reads well but is wrong (a disk's fault): here its first job says it is longer than
    # the whole file. The rebuild copying by it fails and the previous version is served; the retry
    # trusts nothing of that version, or every rebuild would fail alike and the feed never move on.
    caplog.set_level(logging.INFO, "hub.feed_cache")
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        await get(http, hub, **GZIP)  # the gzip file written: its index has what a rebuild copies by
        before, _ = await get(http, hub, **PLAIN)
        (index,) = hub.folder.glob("*.index")
        header, batches = feed_cache.INDEX.decode(index.read_bytes())
        columns = next(batches)
        columns[feed_cache.INDEX_COLUMNS.index("plain_length")][0] += 1 << 30
        index.write_bytes(feed_cache.INDEX.header(header) + feed_cache.INDEX.encode(columns))
        hub.edit_job(2, title="Changed over a wrong index")
        await sync(http, hub)
        served, _ = await get(http, hub, **PLAIN)
        assert served.headers["ETag"] == before.headers["ETag"], "the previous version, served meanwhile"
        monkeypatch.setattr(feed_cache, "RETRY_SECONDS", 0.0)
        fixed, body = await get(http, hub, **PLAIN)
        assert fixed.headers["ETag"] != before.headers["ETag"]
        assert "60 rendered, 0 copied" in builds(caplog)[-1]
        assert body == await fresh_build(hub)
        _, compressed = await get(http, hub, **GZIP)
        assert gzip.decompress(compressed) == body


async def test_files_a_killed_build_left_are_never_served_and_are_removed(hub: Hub) -> None:
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        _, body = await get(http, hub, **PLAIN)
        # What a build killed mid-write leaves: temporary files of a process that no longer runs.
        dead = hub.folder / f".{'f' * 32}.999999999.xml.tmp"
        dead.write_bytes(body[: len(body) // 2])
        hub.edit_job(1, title="After the crash")
        await sync(http, hub)
        _, changed = await get(http, hub, **PLAIN)
    assert titles(changed)[1] == "After the crash"
    assert not dead.exists()


@pytest.mark.parametrize("shape", [(3000, True)])
async def test_concurrent_requests_share_one_build_and_a_leaving_client_does_not_cancel_it(
    hub: Hub, elements: Elements, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "hub.feed_cache")
    host, port = hub.url.removeprefix("http://").split(":")
    # A client asks for the feed and leaves as soon as the build has started.
    _, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET /feeds/demo.xml HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: gzip\r\n\r\n".encode())
    await writer.drain()
    while elements.calls == 0:  # noqa: ASYNC110 -- the build runs in this loop, between these sleeps
        await asyncio.sleep(0.001)
    writer.transport.abort()
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        answers = await asyncio.gather(*(get(http, hub, **(GZIP if n % 2 else PLAIN)) for n in range(10)))
    assert elements.calls == 3000, "one build, carried on after its first client left"
    assert len(builds(caplog)) == 1
    plain_bodies = {body for answer, body in answers if "Content-Encoding" not in answer.headers}
    gzip_bodies = {gzip.decompress(body) for answer, body in answers if "Content-Encoding" in answer.headers}
    assert len(plain_bodies) == 1
    assert plain_bodies == gzip_bodies
    assert {answer.status for answer, _ in answers} == {200}


@pytest.mark.postgres
async def test_two_hubs_on_one_postgresql_serve_identical_feeds(postgres_server: Any, tmp_path: Path) -> None:
    database_url = await new_postgres_database(postgres_server)
    jobs = jobs_file(tmp_path, 200)
    ports = [free_port(), free_port()]
    configs = []
    for name, port in zip("ab", ports, strict=True):
        (tmp_path / name).mkdir()
        body = file_hub_config(
            database_url, tmp_path / name, jobs, cache=tmp_path / name / "cache"
        ).read_text()
        configs.append(write_config(tmp_path / name, f"[server]\nport = {port}\n" + body))
    with hub_process(configs[0], ports[0]) as first, hub_process(configs[1], ports[1]) as second:
        hubs = [
            Hub(f"http://127.0.0.1:{port}", config, jobs, config.parent / "cache", load_plugins())
            for port, config in zip(ports, configs, strict=True)
        ]
        async with aiohttp.ClientSession(auto_decompress=False) as http:
            await sync(http, hubs[0])
            for round_ in range(2):
                seen = []
                for served in hubs:
                    for headers in (PLAIN, GZIP):
                        answer, body = await get(http, served, **headers)
                        assert answer.status == 200
                        seen.append((answer.headers["ETag"], answer.headers["Last-Modified"], body))
                assert seen[0] == seen[2], "byte-identical plain bodies, identical validators"
                assert seen[1] == seen[3], "byte-identical gzip bodies, identical validators"
                assert len(titles(seen[0][2])) == 200
                hubs[0].edit_job(5, title=f"Round {round_}")
                await sync(http, hubs[0])
                await asyncio.sleep(1.1)  # the second hub's account rows are cached for a second
        assert titles(seen[0][2])[5] == "Round 0"
        logs = first.stop() + second.stop()
    assert "Traceback" not in logs


async def test_after_a_cold_build_spares_are_made_in_the_background_for_the_first_rebuild(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "hub.feed_cache")
    folder = hub.cache.parent / "replica"
    cache = FeedCache(bind_plugins(load_config(hub.config_file), hub.plugins), hub.plugins, folder)
    try:
        cold = await cache.artifact(await get_account(cache.config, "demo"))
        await cache.settled()
        spares = [folder / "demo" / spare for spare in feed_cache.SPARES]
        assert [spare.read_bytes() for spare in spares] == [cold.plain.read_bytes(), cold.gzip.read_bytes()]
        inodes = [spare.stat().st_ino for spare in spares]

        hub.edit_job(4, title="The first rebuild")
        async with aiohttp.ClientSession() as http:
            await sync(http, hub)
        rebuilt = await cache.artifact(await get_account(cache.config, "demo"))
        assert [rebuilt.plain.stat().st_ino, rebuilt.gzip.stat().st_ino] == inodes, "overwritten in place"
        assert "1 rendered, 59 copied" in builds(caplog)[-1]
        assert builds(caplog)[-1].endswith("; 2 spare files overwritten")
        body = rebuilt.plain.read_bytes()
        assert titles(body)[4] == "The first rebuild"
        assert body == await fresh_build(hub)
        assert await cold_files(hub, hub.cache.parent / "cold") == (body, rebuilt.gzip.read_bytes())
    finally:
        await cache.close()


async def test_a_failed_spare_copy_is_logged_and_serving_goes_on(
    hub: Hub, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(copies: list[tuple[Path, Path]], stop: object) -> None:
        raise OSError("no space left for the spares")

    monkeypatch.setattr(feed_cache, "_make_spares", broken)
    folder = hub.cache.parent / "replica"
    cache = FeedCache(bind_plugins(load_config(hub.config_file), hub.plugins), hub.plugins, folder)
    try:
        cold = await cache.artifact(await get_account(cache.config, "demo"))
        await cache.settled()
        failures = [r for r in caplog.records if "making spare files failed" in r.getMessage()]
        assert [str(r.exc_info[1]) for r in failures if r.exc_info] == ["no space left for the spares"]
        assert (await cache.artifact(await get_account(cache.config, "demo"))).key == cold.key
        assert cold.plain.read_bytes() == await fresh_build(hub)

        hub.edit_job(4, title="Rebuilt without spares")
        async with aiohttp.ClientSession() as http:
            await sync(http, hub)
        rebuilt = await cache.artifact(await get_account(cache.config, "demo"))
        assert titles(rebuilt.plain.read_bytes())[4] == "Rebuilt without spares"
        assert rebuilt.plain.read_bytes() == await fresh_build(hub)
    finally:
        await cache.close()


async def test_until_a_cold_builds_gzip_file_is_published_gzip_clients_get_the_plain_file(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    release = threading.Event()
    write_gzip = feed_cache._gzip_version

    def held(artifact: feed_cache.Artifact, stop: threading.Event) -> int | None:
        release.wait()
        return write_gzip(artifact, stop)

    monkeypatch.setattr(feed_cache, "_gzip_version", held)
    monkeypatch.setattr(feed_cache, "SMALL_FEED", 0)  # 60 jobs: the build would wait for the gzip file
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        try:
            plain, body = await get(http, hub, **PLAIN)
            etag = plain.headers["ETag"]
            pending, same = await get(http, hub, **GZIP_OR_PLAIN)
            assert (pending.status, pending.headers["ETag"], same) == (200, etag, body)
            assert "Content-Encoding" not in pending.headers
            assert pending.headers["Vary"] == "Accept-Encoding"
            assert body == await fresh_build(hub)
            # Its conditions hold against the representation sent: the plain file.
            again, empty = await get(http, hub, **GZIP_OR_PLAIN, **{"If-None-Match": etag})
            assert (again.status, again.headers["ETag"], empty) == (304, etag, b"")
            part, data = await get(http, hub, **GZIP_OR_PLAIN, Range="bytes=10-109", **{"If-Range": etag})
            assert (part.status, part.headers["ETag"], data) == (206, etag, body[10:110])
            # A client refusing identity waits for the gzip file.
            waiting = asyncio.ensure_future(get(http, hub, **GZIP))
            await asyncio.sleep(0.2)
            assert not waiting.done()
        finally:
            release.set()
        zipped, compressed = await waiting
        assert (zipped.status, zipped.headers["Content-Encoding"]) == (200, "gzip")
        assert zipped.headers["ETag"] == etag[:-1] + '-gzip"'
        after, again_compressed = await get(http, hub, **GZIP_OR_PLAIN)
        assert (after.headers["ETag"], again_compressed) == (zipped.headers["ETag"], compressed)
        # The plain body's validator no longer matches: the gzip body is the one selected now.
        old, data = await get(http, hub, **GZIP_OR_PLAIN, **{"If-None-Match": etag})
        assert (old.status, old.headers["ETag"], data) == (200, zipped.headers["ETag"], compressed)
    assert gzip.decompress(compressed) == body
    # The bytes a build writing both files at once writes: a rebuild in another cache, from a cold build.
    assert await cold_files(hub, tmp_path / "other") == (body, compressed)


async def test_a_failed_or_killed_gzip_step_is_done_again(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write_gzip = feed_cache._gzip_version

    def broken(artifact: feed_cache.Artifact, stop: threading.Event) -> int | None:
        raise OSError("the disk filled up while gzipping")

    monkeypatch.setattr(feed_cache, "_gzip_version", broken)
    monkeypatch.setattr(feed_cache, "SMALL_FEED", 0)  # 60 jobs: a build would wait for the gzip file
    folder = hub.cache.parent / "replica"
    config = bind_plugins(load_config(hub.config_file), hub.plugins)
    cache = FeedCache(config, hub.plugins, folder)
    try:
        published = await cache.artifact(await get_account(config, "demo"))
        assert not (await cache.gzipped("demo")).gzip_ready
        assert any("writing the gzip file of version" in r.getMessage() for r in caplog.records)
        manifest = folder / "demo" / f"{published.key}.json"
        assert json.loads(manifest.read_text())["gzip_bytes"] is None
        # The plain file is served meanwhile; the next request after RETRY_SECONDS writes the gzip again.
        monkeypatch.setattr(feed_cache, "_gzip_version", write_gzip)
        assert (await cache.artifact(await get_account(config, "demo"))).gzip_ready is False
        monkeypatch.setattr(feed_cache, "RETRY_SECONDS", 0.0)
        await cache.artifact(await get_account(config, "demo"))
        retried = await cache.gzipped("demo")
        assert retried.gzip_ready
        assert json.loads(manifest.read_text())["gzip_bytes"] == retried.gzip.stat().st_size
        files = (retried.plain.read_bytes(), retried.gzip.read_bytes())
    finally:
        await cache.close()

    # A process killed while writing the gzip file: its manifest says the gzip file is still to come, and
    # a half-written gzip file lies there. A restart serves the plain file and writes the gzip file again.
    record = json.loads(manifest.read_text()) | {"gzip_bytes": None}
    manifest.write_text(json.dumps(record))
    published.gzip.write_bytes(files[1][: len(files[1]) // 2])
    restarted = FeedCache(config, hub.plugins, folder)
    try:
        served = await restarted.artifact(await get_account(config, "demo"))
        assert (served.key, served.gzip_ready) == (published.key, False)
        again = await restarted.gzipped("demo")
        assert again.gzip_ready
        assert (again.plain.read_bytes(), again.gzip.read_bytes()) == files
    finally:
        await restarted.close()
    assert files == await cold_files(hub, hub.cache.parent / "cold")
    assert files[0] == await fresh_build(hub)
