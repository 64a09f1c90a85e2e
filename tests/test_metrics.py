"""``GET /metrics``: requests by route and status, feed size, pixel hits, syncs and the outbox backlog."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from hub.testing.peers import serving_hub
from tests.conftest import demo_config, free_port, write_config


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_describe_what_the_hub_did(tmp_path: Path) -> None:
    config = write_config(tmp_path, demo_config(f"sqlite://{tmp_path / 'hub.sqlite3'}", free_port()))
    async with serving_hub(config) as url, aiohttp.ClientSession() as http:
        for _ in range(50):  # the start-up sync fills the feed
            async with http.get(f"{url}/feeds/demo.xml") as response:
                if (await response.read()).count(b"<job>"):
                    break
            await asyncio.sleep(0.1)
        async with http.get(f"{url}/metrics") as response:
            before = samples(await response.text())  # metrics are per process: other tests counted too
        for path in ("/px/demo/view.gif?job=NW-1001", "/px/demo/view.gif?job=NW-1002", "/feeds/nobody.xml"):
            async with http.get(url + path):
                pass
        async with http.get(f"{url}/metrics") as response:
            assert response.status == 200
            assert response.content_type == "text/plain"
            text = await response.text()
            seen = samples(text)

    def value(name: str, **labels: str) -> float:
        return seen[(name, tuple(sorted(labels.items())))]

    def added(name: str, **labels: str) -> float:
        return value(name, **labels) - before.get((name, tuple(sorted(labels.items()))), 0.0)

    route = "/feeds/{account}.xml"
    assert value("appcast_hub_http_requests_total", route=route, method="GET", status="200") >= 1
    assert added("appcast_hub_http_requests_total", route=route, method="GET", status="404") == 1
    assert value("appcast_hub_feed_jobs", account="demo") == 44
    assert value("appcast_hub_feed_bytes", account="demo") > 10_000
    assert added("appcast_hub_pixel_hits_total", kind="view") == 2
    assert value("appcast_hub_sync_seconds_count", account="demo") >= 1
    assert value("appcast_hub_deliveries", state="dead") == 0
    # The breakers' (tests/test_breaker.py sees them move): described even before any destination failed.
    assert "# TYPE appcast_hub_breaker_state gauge" in text
    assert "# TYPE appcast_hub_breaker_probes_total counter" in text
    assert not any(
        name == "appcast_hub_http_requests_total" and "NW-1001" in str(labels) for name, labels in seen
    )
