"""The admin API's OpenAPI document: valid, complete, true of real answers, and fuzzed from.

One hub is served over real sockets per test, with a file-adapter account (``demo``) whose jobs file the
test rewrites (to hold a mass close), one whose jobs file is not JSON (``broken``: every sync fails), and one
on a small fake adapter that can be polled for events (``polled``: reconcile answers).
"""

from __future__ import annotations

import asyncio
import copy
import gzip
import json
import shutil
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from hub import hookimpl, models
from hub.health import RULES
from hub.incidents import SYNC_FAILURES
from hub.normalised import JobPage
from hub.plugins import PluginInfo, load_plugins
from hub.testing import serving_hub
from hub.views import api
from hub.views.openapi import ERROR_MEANINGS
from tests.conftest import SAMPLE_JOBS, demo_config, free_port, write_config

ADMIN = {"Authorization": "Bearer admin-token-for-tests"}
MAX_BODY = 4096


class PolledAts:
    """An ATS with no jobs whose events can be polled, as the file adapter's cannot: reconcile answers."""

    @hookimpl
    def appcast_hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(kind="ats", description="an ATS polled for events, for the OpenAPI tests")

    @hookimpl
    async def appcast_hub_fetch_jobs(self, account: Any, options: Any) -> AsyncIterator[JobPage]:
        yield JobPage([])

    @hookimpl
    async def appcast_hub_fetch_recent_events(
        self, account: Any, options: Any, http: Any, since: Any
    ) -> list:
        return []


@dataclass
class Hub:
    url: str
    http: aiohttp.ClientSession
    jobs_file: Path
    document: dict[str, Any] = field(default_factory=dict)
    #: (method, path template, status) of every answer checked against the document.
    seen: set[tuple[str, str, int]] = field(default_factory=set)

    async def check(
        self, method: str, template: str, status: int, *, path: str | None = None, **kwargs: Any
    ) -> Any:
        """Send the request, assert the status, and check the answer against the document's schema."""
        headers = kwargs.pop("headers", ADMIN)
        async with self.http.request(
            method, self.url + (path or template), headers=headers, **kwargs
        ) as answer:
            body = await answer.read()
            assert answer.status == status, body
            assert answer.content_type == "application/json", body
        responses = self.document["paths"][template][method.lower()]["responses"]
        assert str(status) in responses, f"{method} {template} answered {status}, which is not documented"
        # The components beside the schema, for its "#/components/…" references to resolve.
        schema = {
            **responses[str(status)]["content"]["application/json"]["schema"],
            "components": self.document["components"],
        }
        document = json.loads(body)
        jsonschema.validate(
            document, schema, cls=jsonschema.Draft202012Validator, format_checker=jsonschema.FormatChecker()
        )
        self.seen.add((method, template, status))
        return document


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    jobs_file = tmp_path / "jobs.json"
    shutil.copy(SAMPLE_JOBS, jobs_file)
    (tmp_path / "broken.json").write_text("not JSON", encoding="utf-8")
    body = demo_config(f"sqlite://{tmp_path / 'hub.sqlite3'}", free_port(), jobs_file).replace(
        "[sync]\n", "[sync]\nscheduled = false\n"
    )
    body += (
        f'[admin]\napi_token = "admin-token-for-tests"\n'
        f'[accounts.demo.appcast]\nclient_id = "client-42"\nent_id = "ent-7"\n'
        f'[accounts.bare]\nadapter = "file"\ncompany = "Bare Co"\nfeed_policy = "all-open"\n'
        f'[accounts.bare.file]\npath = "{jobs_file}"\n'
        f'[accounts.broken]\nadapter = "file"\ncompany = "Gone Ltd"\n'
        f'[accounts.broken.file]\npath = "{tmp_path / "broken.json"}"\n'
        f'[accounts.polled]\nadapter = "polled"\ncompany = "Polled Inc"\n'
    )
    body = body.replace("[server]\n", f"[server]\nmax_body_bytes = {MAX_BODY}\n")
    plugins = load_plugins()
    assert plugins.register("polled", PolledAts())
    async with serving_hub(write_config(tmp_path, body), plugins) as url, aiohttp.ClientSession() as http:
        async with http.get(f"{url}/api/openapi.json") as answer:  # public: no token
            assert answer.status == 200
            document = await answer.json()
        yield Hub(url, http, jobs_file, document)


def test_the_document_is_valid_openapi() -> None:
    validate(api.OPENAPI)


def test_every_route_of_the_api_is_documented_with_its_path_parameters() -> None:
    routes = {(route.method, route.path) for route in api.routes if route.method != "HEAD"}  # type: ignore[attr-defined]
    documented = {(method.upper(), path) for path, item in api.OPENAPI["paths"].items() for method in item}
    assert routes == documented
    for path, item in api.OPENAPI["paths"].items():
        in_path = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        for operation in item.values():
            assert [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"] == in_path
            assert "200" in operation["responses"]


def test_the_request_bodies_are_what_the_handlers_read() -> None:
    bodies = {
        path: operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rpartition("/")[2]
        for path, item in api.OPENAPI["paths"].items()
        for operation in item.values()
        if "requestBody" in operation
    }
    assert bodies == {
        "/api/accounts/{account}/jobs/enable": "IdsBody",
        "/api/accounts/{account}/jobs/disable": "IdsBody",
        "/api/accounts/{account}/jobs/{job}/bid": "BidBody",
        "/api/accounts/{account}/integration": "IntegrationBody",
        "/api/accounts/{account}/stages/{stage_id}": "StageBody",
    }
    schemas = api.OPENAPI["components"]["schemas"]
    ids = schemas["IdsBody"]["properties"]["ids"]
    assert (ids["minItems"], ids["maxItems"], ids["items"]["maxLength"]) == (1, api.MAX_IDS, 255)
    assert schemas["IntegrationBody"]["properties"] == {"enabled": {"type": "boolean"}}
    assert schemas["StageBody"]["required"] == ["funnel_event"]
    assert None in schemas["StageBody"]["properties"]["funnel_event"]["enum"]
    assert schemas["BidBody"]["required"] == ["bid"]
    assert {"type": "null"} in schemas["BidBody"]["properties"]["bid"]["anyOf"]


async def test_real_answers_of_every_operation_match_their_schemas(hub: Hub) -> None:
    c = hub.check
    await c("GET", "/api/accounts", 401, headers={})
    await c("GET", "/api/accounts/{account}", 404, path="/api/accounts/nope")

    sync = await c("POST", "/api/accounts/{account}/sync", 200, path="/api/accounts/demo/sync?full=true")
    assert sync["created"] > 0
    failed = await c("POST", "/api/accounts/{account}/sync", 502, path="/api/accounts/broken/sync")
    assert failed["error"]
    await c("POST", "/api/accounts/{account}/sync", 400, path="/api/accounts/demo/sync?full=yes")

    await c("GET", "/api/accounts", 200)
    await c("GET", "/api/accounts/{account}", 200, path="/api/accounts/demo")
    listing = "/api/accounts/{account}/jobs"
    jobs = await c("GET", listing, 200, path="/api/accounts/demo/jobs?limit=3&q=nurse")
    assert jobs["jobs"]
    jobs_total = (await c("GET", listing, 200, path="/api/accounts/demo/jobs"))["total"]
    await c("GET", listing, 400, path="/api/accounts/demo/jobs?flag=maybe")
    # Found by the fuzzer: limit 0 with an offset was a 500 (OFFSET without LIMIT), without one every job.
    for query in ("limit=0&offset=5", "limit=0"):
        page = await c("GET", listing, 200, path=f"/api/accounts/demo/jobs?{query}")
        assert (page["total"], page["jobs"]) == (jobs_total, [])
    typo = await c("GET", listing, 400, path="/api/accounts/demo/jobs?limt=5")
    assert "'limt'" in typo["error"], "a parameter the operation does not take is refused, not ignored"
    ats_id = jobs["jobs"][0]["ats_id"]

    enable = "/api/accounts/{account}/jobs/enable"
    switched = await c(
        "POST", enable, 200, path="/api/accounts/demo/jobs/enable", json={"ids": [ats_id, "x"]}
    )
    assert switched == {"switched": [ats_id], "already": [], "missing": ["x"]}
    await c("POST", "/api/accounts/{account}/jobs/disable", 200, path="/api/accounts/demo/jobs/disable",
            json={"ids": [ats_id]})  # fmt: skip
    await c("POST", enable, 400, path="/api/accounts/demo/jobs/enable", json={"ids": []})
    await c("POST", enable, 413, path="/api/accounts/demo/jobs/enable", data=b'{"ids": ["' + b"x" * MAX_BODY)
    await c("POST", enable, 415, path="/api/accounts/demo/jobs/enable", data=gzip.compress(b"{}"),
            headers={**ADMIN, "Content-Encoding": "br"})  # fmt: skip

    bid = "/api/accounts/{account}/jobs/{job}/bid"
    bid_path = f"/api/accounts/demo/jobs/{ats_id}/bid"
    placed = await c("PUT", bid, 200, path=bid_path, json={"bid": "1.50"})
    assert (placed["bid"], placed["changed"]) == ("1.50", True)
    listed = await c("GET", listing, 200, path=f"/api/accounts/demo/jobs?q={ats_id}")
    assert listed["jobs"][0]["bid"] == "1.50"
    await c("PUT", bid, 200, path=bid_path, json={"bid": None})
    await c("PUT", bid, 400, path=bid_path, json={"bid": "1.505"})
    await c("PUT", bid, 404, path="/api/accounts/demo/jobs/no-such-job/bid", json={"bid": "1.50"})
    await c("POST", "/api/accounts/{account}/sync", 200, path="/api/accounts/bare/sync")
    await c("PUT", bid, 409, path=f"/api/accounts/bare/jobs/{ats_id}/bid", json={"bid": "1.50"})  # no <cpc>

    integration = "/api/accounts/{account}/integration"
    await c("POST", integration, 200, path="/api/accounts/demo/integration", json={"enabled": False})
    await c("POST", integration, 200, path="/api/accounts/demo/integration", json={"enabled": True})
    await c("POST", integration, 400, path="/api/accounts/demo/integration", json={"enabled": "yes"})

    stage = "/api/accounts/{account}/stages/{stage_id}"
    await c("PUT", stage, 200, path="/api/accounts/demo/stages/phone-screen", json={"funnel_event": "screen"})
    await c("PUT", stage, 200, path="/api/accounts/demo/stages/phone-screen", json={"funnel_event": None})
    await c("PUT", stage, 400, path="/api/accounts/demo/stages/phone-screen", json={"workflow": "w"})
    stages = await c("GET", "/api/accounts/{account}/stages", 200, path="/api/accounts/demo/stages")
    assert stages["stages"], "the mapping made above is listed"

    await c("POST", "/api/accounts/{account}/reconcile", 404, path="/api/accounts/demo/reconcile")
    await c("POST", "/api/accounts/{account}/reconcile", 200, path="/api/accounts/polled/reconcile")

    # A jobs file that lists nothing any more: the full sync holds the mass close.
    hub.jobs_file.write_text('{"jobs": []}', encoding="utf-8")
    held = "/api/accounts/{account}/held"
    await c("GET", held, 200, path="/api/accounts/demo/held")
    await c("POST", f"{held}/confirm", 404, path="/api/accounts/demo/held/confirm")
    assert (await c("POST", "/api/accounts/{account}/sync", 200, path="/api/accounts/demo/sync"))["held"]
    assert (await c("GET", held, 200, path="/api/accounts/demo/held"))["held"]["jobs"] > 0
    await c("POST", f"{held}/keep", 200, path="/api/accounts/demo/held/keep")
    await c("POST", "/api/accounts/{account}/sync", 200, path="/api/accounts/demo/sync")
    assert (await c("POST", f"{held}/confirm", 200, path="/api/accounts/demo/held/confirm"))["closed"] > 0
    await c("POST", f"{held}/keep", 404, path="/api/accounts/demo/held/keep")

    # The hub receives no webhooks for a file account: a dead delivery is put in the outbox directly.
    account = await models.Account.get(name="demo")
    dead = await models.Delivery.create(
        account=account, destination="appcast", idempotency_key="k1", payload={"event": "hired"},
        state="dead", attempts=5, next_attempt_at=account.created_at, last_error="refused",
    )  # fmt: skip
    deliveries = "/api/deliveries"
    listed = await c("GET", deliveries, 200, path="/api/deliveries?account=demo&state=dead&limit=5")
    assert [row["id"] for row in listed["deliveries"]] == [dead.id]
    none = await c("GET", deliveries, 200, path="/api/deliveries?limit=0")
    assert (none["total"], none["deliveries"]) == (1, [])
    await c("GET", deliveries, 404, path="/api/deliveries?account=nope")
    await c("GET", deliveries, 400, path="/api/deliveries?limit=-1")
    retry = "/api/deliveries/{delivery}/retry"
    assert (await c("POST", retry, 200, path=f"/api/deliveries/{dead.id}/retry"))["replayed"] == [dead.id]
    await c("POST", retry, 404, path=f"/api/deliveries/{dead.id}/retry")
    await c("POST", retry, 200, path="/api/deliveries/dead/retry")
    await c("POST", retry, 400, path="/api/deliveries/alive/retry")

    stats = "/api/accounts/{account}/stats"
    assert "top_jobs" in await c("GET", stats, 200, path="/api/accounts/demo/stats?top=3")
    assert (await c("GET", stats, 200, path=f"/api/accounts/demo/stats?job={ats_id}"))["job"] == ats_id
    await c("GET", stats, 400, path="/api/accounts/demo/stats?top=51")
    health = "/api/accounts/{account}/feed/health"
    checked = await c("GET", health, 200, path="/api/accounts/demo/feed/health")
    assert set(checked["counts"]) == set(RULES)
    await c("GET", health, 404, path="/api/accounts/nope/feed/health")
    for _ in range(SYNC_FAILURES - 1):  # the failed sync above was the first
        await c("POST", "/api/accounts/{account}/sync", 502, path="/api/accounts/broken/sync")
    incidents = await c("GET", "/api/incidents", 200, path="/api/incidents?account=broken&all=true&limit=5")
    assert [incident["topic"] for incident in incidents["incidents"]] == ["sync-failing"]
    await c("GET", "/api/incidents", 404, path="/api/incidents?account=nope")
    await c("GET", "/api/incidents", 400, path="/api/incidents?all=yes")
    audit = await c("GET", "/api/audit", 200, path="/api/audit?limit=50")
    assert {entry["source"] for entry in audit["entries"]} >= {"api", "sync"}
    await c("GET", "/api/openapi.json", 200, headers={})
    await c("GET", "/api/openapi.json", 400, path="/api/openapi.json?v=2", headers={})

    every = {(m.upper(), p) for p, item in hub.document["paths"].items() for m in item}
    assert {(m, p) for m, p, status in hub.seen if status == 200} == every
    assert {s for _, _, s in hub.seen} >= {s for s in ERROR_MEANINGS if s != 503} | {502}


# --- the fuzzer ----------------------------------------------------------------------------------------

#: Examples per operation and mode: enough to find a handler's 500, few enough for ~15 s on 2 cores.
EXAMPLES = 30
#: One request's answer, at most: a handler that hangs is a failure, not a stuck test.
DEADLINE = timedelta(seconds=5)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]


#: Jobs of ``demo`` (the sample jobs file's), and one it lacks.
FUZZED_JOBS = ["NW-1001", "NW-1002", "no-such-job"]
#: The stats' periods: each ``since`` before each ``until``.
FUZZED_DAYS = {"since": ["2000-01-01", "2026-11-30"], "until": ["2026-12-01", "2099-12-31"]}


def _with_real_accounts(document: dict[str, Any], mode: GenerationMode) -> dict[str, Any]:
    """``document`` with the account (and job) in the path one of the hub's or one it lacks: random names
    would all be answered 404, and what an account's operations do with good data would go untried.

    For data that does not fit (``NEGATIVE``), a query's job and days are left out: the values this
    narrows them to are the test's choice, not the document's, so a value outside them is no
    schema-violating request (any job id is taken: one the hub lacks has no numbers, 200), while the
    document's own schema cannot state that a period ends after it starts."""
    document = copy.deepcopy(document)
    for item in document["paths"].values():
        for operation in item.values():
            if mode is GenerationMode.NEGATIVE and "parameters" in operation:
                operation["parameters"] = [
                    parameter for parameter in operation["parameters"]
                    if not (parameter["in"] == "query" and parameter["name"] in ("job", *FUZZED_DAYS))
                ]  # fmt: skip
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "account":
                    # Not ``broken``: its designed 502 (the ATS failed) would count as the server's error.
                    parameter["schema"] = {"enum": ["demo", "polled", "no-such-account"]}
                elif parameter["name"] == "job":
                    parameter["schema"] = {"enum": FUZZED_JOBS}
                elif parameter["name"] in FUZZED_DAYS:
                    # A period ends on or after its first day: a rule between two parameters, which the
                    # document cannot state (the hub answers 400 naming both).
                    parameter["schema"] = {"enum": FUZZED_DAYS[parameter["name"]]}
    return document


def _fuzz(url: str, document: dict[str, Any], statuses: Counter[tuple[str, int]]) -> list[str]:
    """Every operation, with data that fits the document and data that does not; returns the failures.

    ``statuses`` counts the answers by operation and status, to show what was reached."""
    failures: list[str] = []
    session = requests.Session()
    # Rejected means one of the hub's own refusals: a body too large (413) is one, which Schemathesis's
    # default list lacks; a 5xx never is.
    config = schemathesis.Config.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": ["400", "401", "404", "413", "415"]}}}
    )
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        schema = schemathesis.openapi.from_dict(_with_real_accounts(document, mode), config=config)
        for result in schema.get_all_operations():
            operation = result.ok()
            if mode is GenerationMode.NEGATIVE and operation.path == "/api/openapi.json":
                continue  # it takes nothing at all, so nothing sent to it can be wrong

            # Derandomized: CI tries the same examples every run, so a failure reproduces and none flickers.
            @settings(max_examples=EXAMPLES, deadline=DEADLINE, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case) -> None:
                case.headers = {**(case.headers or {}), **ADMIN}
                response = case.call(base_url=url, session=session, timeout=10)
                statuses[(case.operation.label, response.status_code)] += 1
                case.validate_response(response, checks=CHECKS, headers=ADMIN)

            try:
                run()
            except (Exception, FailureGroup) as error:
                failures.append(f"{operation.label} ({mode}): {error}")
    return failures


async def test_the_fuzzer_finds_no_5xx_and_no_answer_outside_the_document(hub: Hub) -> None:
    await hub.check("POST", "/api/accounts/{account}/sync", 200, path="/api/accounts/demo/sync")  # the jobs
    started = time.monotonic()
    # A thread: the hub is served on this loop and must keep answering the fuzzer's blocking requests.
    statuses: Counter[tuple[str, int]] = Counter()
    failures = await asyncio.to_thread(_fuzz, hub.url, hub.document, statuses)
    assert not failures, "\n\n".join(failures)
    # It got past the checks of every operation, not only to their 400s and 404s (nothing is held here).
    answered = {label for (label, status), _ in statuses.items() if status == 200}
    every = {f"{m.upper()} {p}" for p, item in hub.document["paths"].items() for m in item}
    assert every - answered == {
        "POST /api/accounts/{account}/held/confirm",
        "POST /api/accounts/{account}/held/keep",
    }
    assert time.monotonic() - started < 60
