"""``appcast-hub serve`` as a real process: health, the feed over HTTP, graceful shutdown."""

from __future__ import annotations

import asyncio
import gzip
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from lxml import etree

from tests.conftest import REPO, demo_config, free_port, hub_command, hub_process, write_config


@pytest.fixture
def served(tmp_path: Path):
    """A hub on the sample jobs with a feed token, serving on a free port."""
    port = free_port()
    body = demo_config(
        f"sqlite://{tmp_path / 'hub.sqlite3'}", port, extra='feed_token = "env:HUB_FEED_TOKEN"'
    )
    with hub_process(write_config(tmp_path, body), port, env={"HUB_FEED_TOKEN": "feed-secret-42"}) as hub:
        yield f"http://127.0.0.1:{port}", hub


async def fetch_feed(http: aiohttp.ClientSession, url: str, wait_seconds: float = 20) -> Any:
    """The feed once the start-up sync has filled it and finished (the hub answers at once, syncs right
    after): its jobs are in, and its ETag, which moves when the sync ends, is the same twice running."""
    deadline = time.monotonic() + wait_seconds
    previous = None
    while True:
        response = await http.get(
            f"{url}/feeds/demo.xml?token=feed-secret-42", headers={"Accept-Encoding": "identity"}
        )
        body = await response.read()
        settled = body.count(b"<job>") and previous == response.headers.get("ETag")
        if settled or time.monotonic() > deadline:
            return response
        previous = response.headers.get("ETag") if body.count(b"<job>") else None
        await asyncio.sleep(0.2)


async def test_feed_is_served_with_validators_and_gzip(served) -> None:
    url, _ = served
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        response = await fetch_feed(http, url)
        assert response.status == 200
        assert response.content_type == "application/xml"
        body = await response.read()
        assert "Content-Encoding" not in response.headers
        document = etree.fromstring(body)
        assert document.tag == "source"
        assert document.findtext("publisher") == "Northwind Health"
        assert len(document.findall("job")) == 44  # 50 sample jobs, 6 closed
        etag, modified = response.headers["ETag"], response.headers["Last-Modified"]

        plain = {"Accept-Encoding": "identity"}
        same = await http.get(
            f"{url}/feeds/demo.xml?token=feed-secret-42", headers={**plain, "If-None-Match": etag}
        )
        assert same.status == 304
        same = await http.get(
            f"{url}/feeds/demo.xml?token=feed-secret-42", headers={**plain, "If-Modified-Since": modified}
        )
        assert same.status == 304

        zipped = await http.get(
            f"{url}/feeds/demo.xml?token=feed-secret-42", headers={"Accept-Encoding": "gzip"}
        )
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert len(etree.fromstring(gzip.decompress(await zipped.read())).findall("job")) == 44
        # Each encoding is its own representation: its own validator, and Vary on both.
        zipped_etag = zipped.headers["ETag"]
        assert zipped_etag != etag
        assert response.headers["Vary"] == zipped.headers["Vary"] == "Accept-Encoding"
        same = await http.get(
            f"{url}/feeds/demo.xml?token=feed-secret-42",
            headers={"Accept-Encoding": "gzip", "If-None-Match": zipped_etag},
        )
        assert (same.status, same.headers["ETag"], same.headers["Vary"]) == (
            304,
            zipped_etag,
            "Accept-Encoding",
        )
        plain_tag_for_gzip = await http.get(
            f"{url}/feeds/demo.xml?token=feed-secret-42",
            headers={"Accept-Encoding": "gzip", "If-None-Match": etag},
        )
        assert plain_tag_for_gzip.status == 200, "the plain body's validator does not match the gzip one"
        refused = await http.get(
            f"{url}/feeds/demo.xml?token=feed-secret-42", headers={"Accept-Encoding": "gzip;q=0, identity"}
        )
        assert ("Content-Encoding" not in refused.headers, refused.headers["ETag"]) == (True, etag)

        deflate_only = await http.get(
            f"{url}/feeds/demo.xml?token=feed-secret-42", headers={"Accept-Encoding": "deflate"}
        )
        assert "Content-Encoding" not in deflate_only.headers

        head = await http.head(f"{url}/feeds/demo.xml?token=feed-secret-42", headers=plain)
        assert head.status == 200
        assert head.headers["ETag"] == etag


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/feeds/demo.xml", 403, "this feed needs a valid ?token="),
        ("/feeds/demo.xml?token=wrong", 403, "this feed needs a valid ?token="),
        ("/feeds/nobody.xml", 404, "no feed for account 'nobody'"),
        ("/feeds/..%2Fetc%2Fpasswd.xml", 404, "no feed for account '../etc/passwd'"),
        ("/nothing-here", 404, "Not Found"),
    ],
)
async def test_client_mistakes_get_clear_json_errors(served, path: str, status: int, message: str) -> None:
    url, _ = served
    async with aiohttp.ClientSession() as http, http.get(url + path) as response:
        assert response.status == status
        assert (await response.json()) == {"error": message}


async def test_wrong_method_is_405(served) -> None:
    url, _ = served
    async with aiohttp.ClientSession() as http, http.post(f"{url}/feeds/demo.xml", data=b"x") as response:
        assert response.status == 405
        assert "error" in await response.json()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_shut_the_hub_down_cleanly(tmp_path: Path, signum: int) -> None:
    port = free_port()
    config = write_config(tmp_path, demo_config(f"sqlite://{tmp_path / 'hub.sqlite3'}", port))
    with hub_process(config, port) as hub:
        output = hub.stop(signum)
    assert hub.process.returncode == 0, output
    assert "appcast-hub stopped" in output
    assert "Traceback" not in output


def test_an_unmigrated_database_is_refused_with_one_line(tmp_path: Path) -> None:
    port = free_port()
    body = demo_config(f"sqlite://{tmp_path / 'hub.sqlite3'}", port).replace(
        "migrate_on_start = true", "migrate_on_start = false"
    )
    config = write_config(tmp_path, body)
    result = subprocess.run(
        hub_command("serve", "-c", str(config)), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    migrations = sorted(path.stem for path in (REPO / "hub" / "migrations").glob("0*.py"))
    assert (
        f"lacks migrations {', '.join(migrations)}: run `appcast-hub migrate`"
        in result.stderr.splitlines()[-1]
    )
    assert "Traceback" not in result.stderr

    migrated = subprocess.run(
        hub_command("migrate", "-c", str(config)), capture_output=True, text=True, timeout=60
    )
    assert migrated.returncode == 0, migrated.stderr
    with hub_process(config, port):
        pass


def test_the_links_the_hub_writes_follow_the_port_it_serves_on(tmp_path: Path) -> None:
    configured, served = free_port(), free_port()
    config = write_config(tmp_path, demo_config(f"sqlite://{tmp_path / 'hub.sqlite3'}", configured))
    snippet_url = f"http://127.0.0.1:{served}/pixels/demo/snippet"
    with (
        hub_process(config, served, serve_args=("--port", str(served))),
        urllib.request.urlopen(snippet_url, timeout=5) as answer,
    ):
        snippet = answer.read().decode()
    assert f"http://127.0.0.1:{served}/px/demo/" in snippet
    assert f":{configured}/" not in snippet


def test_a_taken_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        config = write_config(tmp_path, demo_config(f"sqlite://{tmp_path / 'hub.sqlite3'}", port))
        result = subprocess.run(
            hub_command("serve", "-c", str(config)), capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"appcast-hub: cannot listen on 127.0.0.1:{port}: address already in use"
    )
    # Nothing started before the port was known to be free: no migration, no sync, no "serving on".
    assert "serving on" not in result.stderr
    assert "migrations" not in result.stderr
    assert not (tmp_path / "hub.sqlite3").exists()


def test_cli_sync_jobs_and_feed(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, demo_config(f"sqlite://{tmp_path / 'hub.sqlite3'}", port))

    def hub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            hub_command(*args, "-c", str(config)), capture_output=True, text=True, timeout=60
        )

    synced = hub("sync")
    assert synced.returncode == 0, synced.stderr
    assert "demo: full sync saw 50 jobs: 50 new, 0 changed, 0 closed" in synced.stdout
    listed = hub("jobs", "list", "nurse", "--status", "open")
    assert listed.returncode == 0, listed.stderr
    assert "NW-1001" in listed.stdout
    disabled = hub("jobs", "disable", "NW-1001", "NW-9999")
    assert disabled.returncode == 1
    assert "switched off: NW-1001" in disabled.stdout
    assert "no such job in demo: NW-9999" in disabled.stdout
    out = tmp_path / "feed.xml"
    written = hub("feed", "demo", "-o", str(out))
    assert written.returncode == 0, written.stderr
    ids = {job.findtext("referencenumber") for job in etree.parse(str(out)).iter("job")}
    assert len(ids) == 43
    assert "NW-1001" not in ids
