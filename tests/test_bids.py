"""Per-job bids: the amount grammar, setting a bid from the admin API, the CLI and Slack (each audited), and
the feed Appcast polls carrying the new ``<cpc>`` on its very next fetch, over real sockets."""

from __future__ import annotations

import asyncio
import getpass
import json
import re
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from hub import models
from hub.jobs import BID_PATTERN, MAX_BID_CENTS, BadBid, parse_amount, parse_bid
from hub.testing import serving_hub
from tests.conftest import SAMPLE_JOBS, demo_config, free_port, hub_command, write_config
from tests.peers.slack import FakeSlack
from tests.slack.test_slack_flow import ADMIN, MEMBER, USERGROUP, Setup, _setup, slack_config, text_of

TOKEN = "admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
APPCAST = 'client_id = "client-42"\nent_id = "ent-7"\n'


# --- the amount -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("0", 0), ("0.01", 1), ("1.5", 150), ("1.50", 150), ("2", 200), ("007.5", 750), ("999.99", 99_999),
     ("1000", MAX_BID_CENTS), ("1000.00", MAX_BID_CENTS)],
)  # fmt: skip
def test_amounts_are_read_in_cents(typed: str, cents: int) -> None:
    assert parse_amount(typed) == cents
    assert parse_bid(typed) == cents


@pytest.mark.parametrize("typed", ["default", "DEFAULT", "Default"])
def test_default_clears_the_bid(typed: str) -> None:
    assert parse_bid(typed) is None
    with pytest.raises(BadBid, match="is not an amount"):
        parse_amount(typed)  # the API says null instead


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", "is not an amount"),
        ("abc", "is not an amount"),
        ("1,50", "is not an amount"),
        ("$1.50", "is not an amount"),
        ("1.50 USD", "is not an amount"),
        (" 1.50", "is not an amount"),
        ("1.50\n", "is not an amount"),
        (".5", "is not an amount"),
        ("1e3", "is not an amount"),
        ("NaN", "is not an amount"),
        ("\u0661", "is not an amount"),  # an Arabic-Indic one: str.isdigit() would take it
        ("1.", "has a point but no decimals"),
        ("-1", "is negative"),
        ("-0.50", "is negative"),
        ("1.505", "has more than 2 decimals"),
        ("0.001", "has more than 2 decimals"),
        ("1000.01", "is more than the highest bid, 1000.00"),
        ("5000", "is more than the highest bid, 1000.00"),
        ("9" * 5000, "is more than the highest bid, 1000.00"),  # past int()'s 4300 digits
    ],
)
def test_a_wrong_amount_is_named_with_its_problem(typed: str, problem: str) -> None:
    with pytest.raises(BadBid) as raised:
        parse_bid(typed)
    assert raised.value.problem.startswith(problem)
    assert repr(typed[:40]) in str(raised.value)


@given(st.text(alphabet="0123456789.-a \n", max_size=9) | st.from_regex(BID_PATTERN, fullmatch=True))
def test_the_documented_pattern_takes_exactly_the_amounts_the_parser_takes(typed: str) -> None:
    # Full match: JSON Schema's patterns are ECMA regular expressions, whose $ is the very end.
    documented = re.fullmatch(BID_PATTERN, typed) is not None
    try:
        parse_amount(typed)
    except BadBid:
        taken = False
    else:
        taken = True
    assert taken == documented


# --- the admin API and the feed -------------------------------------------------------------------------


@dataclass
class Hub:
    url: str
    http: aiohttp.ClientSession
    config: Path

    async def api(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.request(method, self.url + path, headers=AUTH, **kwargs) as answer:
            return answer.status, await answer.json()

    async def bid(self, account: str, job: str, amount: str | None) -> tuple[int, Any]:
        return await self.api("PUT", f"/api/accounts/{account}/jobs/{job}/bid", json={"bid": amount})

    async def feed(self, account: str, etag: str | None = None) -> tuple[int, str, dict[str, str | None]]:
        """The feed's status, ETag, and each job's ``<cpc>`` (None: none written)."""
        headers = {"If-None-Match": etag} if etag else {}
        async with self.http.get(f"{self.url}/feeds/{account}.xml", headers=headers) as answer:
            body = await answer.read()
            if answer.status == 304:
                return 304, answer.headers["ETag"], {}
            assert answer.status == 200, body
            jobs = etree.fromstring(body).iter("job")
            return (
                200,
                answer.headers["ETag"],
                {job.findtext("referencenumber"): job.findtext("cpc") for job in jobs},
            )

    async def listed(self, account: str) -> dict[str, str | None]:
        status, page = await self.api("GET", f"/api/accounts/{account}/jobs?limit=500")
        assert status == 200, page
        return {job["ats_id"]: job["bid"] for job in page["jobs"]}


@pytest.fixture
async def hub(database_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    """``demo`` bids 0.45 by default (its ``[accounts.demo.appcast]`` says so); ``plain`` has Appcast's table
    but no default bid; ``bare`` has no Appcast table, so its feed carries no ``<cpc>``; all list the sample
    jobs."""
    body = demo_config(database_url, free_port()).replace("[sync]\n", "[sync]\nscheduled = false\n")
    body += (
        f'[admin]\napi_token = "{TOKEN}"\n'
        f"[accounts.demo.appcast]\n{APPCAST}cpc = 0.45\n"
        f'[accounts.plain]\nadapter = "file"\ncompany = "Plain Co"\nfeed_policy = "all-open"\n'
        f'[accounts.plain.file]\npath = "{SAMPLE_JOBS}"\n[accounts.plain.appcast]\n{APPCAST}'
        f'[accounts.bare]\nadapter = "file"\ncompany = "Bare Co"\nfeed_policy = "all-open"\n'
        f'[accounts.bare.file]\npath = "{SAMPLE_JOBS}"\n'
    )
    config = write_config(tmp_path, body)
    async with serving_hub(config) as url, aiohttp.ClientSession() as http:
        hub = Hub(url, http, config)
        for account in ("demo", "plain", "bare"):
            status, synced = await hub.api("POST", f"/api/accounts/{account}/sync")
            assert status == 200, synced
        yield hub


async def test_a_bid_set_through_the_api_is_in_the_next_fetch(hub: Hub) -> None:
    status, etag, before = await hub.feed("demo")
    assert set(before.values()) == {"0.45"}, "every job bids the account's default"
    assert {"NW-1001", "NW-1002"} <= before.keys()
    assert (await hub.feed("demo", etag))[0] == 304

    assert await hub.bid("demo", "NW-1001", "1.5") == (
        200, {"ats_id": "NW-1001", "before": None, "bid": "1.50", "changed": True},
    )  # fmt: skip
    status, moved, after = await hub.feed("demo", etag)
    assert status == 200, "the old ETag no longer matches: the feed moved on"
    assert moved != etag
    assert after == {**before, "NW-1001": "1.50"}, "the job's own bid, the default for the others"
    assert (await hub.feed("demo", moved))[0] == 304
    assert (await hub.listed("demo"))["NW-1001"] == "1.50"
    assert (await hub.listed("demo"))["NW-1002"] is None

    audit = await models.AuditEntry.filter(action="job.bid").values("actor", "source", "account_name",
                                                                    "target", "before", "after")  # fmt: skip
    assert audit == [{"actor": "api", "source": "api", "account_name": "demo", "target": "NW-1001",
                      "before": {"bid": None}, "after": {"bid": "1.50"}}]  # fmt: skip

    # The same bid again changes nothing: not audited, and the feed keeps its version.
    assert (await hub.bid("demo", "NW-1001", "1.50"))[1]["changed"] is False
    assert (await hub.feed("demo", moved))[0] == 304
    assert await models.AuditEntry.filter(action="job.bid").count() == 1

    # null: back to the account's default, in the next fetch too.
    assert await hub.bid("demo", "NW-1001", None) == (
        200, {"ats_id": "NW-1001", "before": "1.50", "bid": None, "changed": True},
    )  # fmt: skip
    status, cleared, again = await hub.feed("demo", moved)
    assert (status, again) == (200, before)
    assert cleared != moved
    assert (await hub.listed("demo"))["NW-1001"] is None
    assert await models.AuditEntry.filter(action="job.bid").count() == 2


async def test_without_a_default_only_the_job_with_a_bid_has_a_cpc(hub: Hub) -> None:
    status, etag, before = await hub.feed("plain")
    assert set(before.values()) == {None}
    assert (await hub.bid("plain", "NW-1004", "0"))[0] == 200
    status, _, after = await hub.feed("plain", etag)
    assert (status, after) == (200, {**before, "NW-1004": "0.00"})
    # Each account's jobs are its own: demo's NW-1004 still bids demo's default.
    assert (await hub.feed("demo"))[2]["NW-1004"] == "0.45"


async def test_concurrent_bids_each_audit_what_they_replaced(hub: Hub) -> None:
    amounts = [f"{n}.25" for n in range(1, 9)]
    answers = await asyncio.gather(*(hub.bid("demo", "NW-1001", amount) for amount in amounts))
    assert all(status == 200 and answer["changed"] for status, answer in answers), answers
    chain = await models.AuditEntry.filter(action="job.bid").order_by("id").values_list("before", "after")
    # Locked while read: each change's "before" is the one just before it, never one both read.
    assert [before for before, _ in chain] == [{"bid": None}, *(after for _, after in chain[:-1])]
    assert sorted(after["bid"] for _, after in chain) == amounts
    assert (await hub.listed("demo"))["NW-1001"] == chain[-1][1]["bid"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"bid": "1.505"}, "'1.505' has more than 2 decimals"),
        ({"bid": "-1"}, "'-1' is negative"),
        ({"bid": "1001"}, "'1001' is more than the highest bid, 1000.00"),
        ({"bid": "1,50"}, "'1,50' is not an amount"),
        ({"bid": "default"}, "'default' is not an amount"),
        ({"bid": 1.5}, '"bid" must be a string like "1.50", or null'),
        ({}, '"bid" is required'),
        (["1.50"], "body must be a JSON object like"),
    ],
)
async def test_a_wrong_bid_is_a_400_naming_the_problem(hub: Hub, body: Any, message: str) -> None:
    assert (await hub.bid("demo", "NW-1001", "2.00"))[0] == 200
    status, answer = await hub.api("PUT", "/api/accounts/demo/jobs/NW-1001/bid", json=body)
    assert status == 400
    assert message in answer["error"]
    assert (await hub.listed("demo"))["NW-1001"] == "2.00", "a refused bid changes nothing"
    assert await models.AuditEntry.filter(action="job.bid").count() == 1


async def test_an_unknown_job_or_account_is_a_404(hub: Hub) -> None:
    status, answer = await hub.bid("demo", "NW-9999", "1.00")
    assert (status, answer) == (404, {"error": "account 'demo' has no job 'NW-9999'"})
    status, answer = await hub.bid("nobody", "NW-1001", "1.00")
    assert status == 404
    assert "no account named 'nobody'" in answer["error"]
    assert await models.AuditEntry.filter(action="job.bid").count() == 0


async def test_a_bid_on_an_account_whose_feed_carries_no_cpc_is_refused_not_kept(hub: Hub) -> None:
    status, answer = await hub.bid("bare", "NW-1001", "1.00")
    assert status == 409
    assert answer["error"].startswith("account 'bare' writes no <cpc> into its feed")
    assert "[accounts.bare.appcast]" in answer["error"]
    assert (await hub.listed("bare"))["NW-1001"] is None
    assert await models.AuditEntry.filter(action="job.bid").count() == 0
    # Back to the default is no bid to carry: nothing to refuse.
    assert (await hub.bid("bare", "NW-1001", None))[0] == 200
    done = await cli(hub.config, "jobs", "-a", "bare", "bid", "NW-1001", "1.00")
    assert done.returncode == 1
    assert done.stderr.startswith("appcast-hub: account 'bare' writes no <cpc> into its feed"), done.stderr
    assert await models.AuditEntry.filter(action="job.bid").count() == 0


# --- the CLI ------------------------------------------------------------------------------------------


async def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A thread: the hub served in this process must keep answering while the CLI runs.
    return await asyncio.to_thread(
        subprocess.run, hub_command(*args, "-c", str(config)), capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


async def test_the_cli_sets_and_clears_a_bid(hub: Hub) -> None:
    done = await cli(hub.config, "jobs", "-a", "demo", "bid", "NW-1002", "2.25")
    assert (done.returncode, done.stdout) == (0, "NW-1002: bid 2.25, was default\n"), done.stderr
    assert (await hub.listed("demo"))["NW-1002"] == "2.25"
    [entry] = await models.AuditEntry.filter(action="job.bid").values("actor", "source", "target", "after")
    assert entry == {"actor": f"cli:{getpass.getuser()}", "source": "cli", "target": "NW-1002",
                     "after": {"bid": "2.25"}}  # fmt: skip

    listing = await cli(hub.config, "jobs", "-a", "demo", "list", "--limit", "50")
    lines = {line.split()[0]: line for line in listing.stdout.splitlines()}
    assert " bid 2.25 " in lines["NW-1002"]
    assert " bid default " in lines["NW-1001"]

    again = await cli(hub.config, "jobs", "-a", "demo", "bid", "NW-1002", "2.25")
    assert (again.returncode, again.stdout) == (0, "NW-1002: bid already 2.25\n")
    cleared = await cli(hub.config, "jobs", "-a", "demo", "bid", "NW-1002", "default", "--json")
    assert json.loads(cleared.stdout) == {"ats_id": "NW-1002", "before": "2.25", "bid": None, "changed": True}
    assert (await hub.listed("demo"))["NW-1002"] is None
    assert await models.AuditEntry.filter(action="job.bid").count() == 2


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("NW-1002", "1.505"), 2, "appcast-hub: bid '1.505' has more than 2 decimals; or `default`"),
        (("NW-1002", "-3"), 2, "appcast-hub: bid '-3' is negative"),
        (("NW-1002", "lots"), 2, "appcast-hub: bid 'lots' is not an amount"),
        (("NW-9999", "1.00"), 1, "appcast-hub: account 'demo' has no job 'NW-9999'"),
    ],
)
async def test_the_cli_names_a_wrong_bid_or_job(
    hub: Hub, args: tuple[str, ...], code: int, message: str
) -> None:
    done = await cli(hub.config, "jobs", "-a", "demo", "bid", *args)
    assert done.returncode == code
    assert done.stderr.startswith(message), done.stderr
    assert "Traceback" not in done.stderr
    assert await models.AuditEntry.filter(action="job.bid").count() == 0


# --- Slack ----------------------------------------------------------------------------------------------


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(usergroups={USERGROUP: []})
    async with fake.serving():
        yield fake


@pytest.fixture
async def bot(database_url: str, slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Setup]:
    """tests/slack's two opted-in accounts, acme with Appcast's table and a default bid of 0.45."""
    config = slack_config(database_url, slack, tmp_path)
    with config.open("a", encoding="utf-8") as appended:
        appended.write(f"[accounts.acme.appcast]\n{APPCAST}cpc = 0.45\n")
    async for setup in _setup(config, slack):
        yield setup


async def slack_feed(bot: Setup) -> dict[str, str | None]:
    async with bot.http.get(f"{bot.url}/feeds/acme.xml") as answer:
        assert answer.status == 200
        return {
            job.findtext("referencenumber"): job.findtext("cpc")
            for job in etree.fromstring(await answer.read()).iter("job")
        }


async def test_an_admin_bids_from_slack(bot: Setup) -> None:
    await bot.ask("enable job ACME-3 ACME-4")
    assert await slack_feed(bot) == {"ACME-3": "0.45", "ACME-4": "0.45"}

    reply = await bot.ask("bid job ACME-3 1.5")
    assert (
        "The bid of `ACME-3` Registered Nurse ACME-3 (acme) is now *1.50* (was the account's default)"
        in text_of(reply)
    )
    assert await slack_feed(bot) == {"ACME-3": "1.50", "ACME-4": "0.45"}, "in the very next fetch"
    [entry] = await models.AuditEntry.filter(action="job.bid").values("actor", "source", "target", "after")
    assert entry == {"actor": ADMIN, "source": "slack", "target": "ACME-3", "after": {"bid": "1.50"}}
    announced = (await bot.slack.wait_posted(2))[-1]
    assert f"<@{ADMIN}> set the bid of `ACME-3`" in text_of(announced)

    listing = text_of(await bot.ask("jobs acme ACME-3"))
    assert "bid 1.50" in listing
    assert "bid: default" in text_of(await bot.ask("jobs acme ACME-4"))

    again = await bot.ask("bid job acme:ACME-3 1.50")
    assert "was already *1.50*. Nothing changed." in text_of(again)
    cleared = await bot.ask("bid job ACME-3 default")
    assert "is now the account's default (was *1.50*)" in text_of(cleared)
    assert await slack_feed(bot) == {"ACME-3": "0.45", "ACME-4": "0.45"}
    assert await models.AuditEntry.filter(action="job.bid").count() == 2


async def test_a_member_who_is_no_admin_cannot_bid(bot: Setup) -> None:
    reply = await bot.ask("bid job ACME-3 9.99", user=MEMBER)
    assert f"Sorry <@{MEMBER}>" in text_of(reply)
    assert (await models.Job.get(ats_id="ACME-3")).bid_cents is None
    assert await models.AuditEntry.filter(action="job.bid").count() == 0


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("bid job NOPE-1 1.00", "*Not found* (1): `NOPE-1`"),
        ("bid job globex:ACME-3 1.00", "*Not found* (1): `globex:ACME-3`"),
        (
            "bid job SHARED-1 1.00",
            "`SHARED-1` is in several accounts: write `acme:SHARED-1` or `globex:SHARED-1`",
        ),
        ("bid job GLX-1 1.00", "account 'globex' writes no &lt;cpc&gt; into its feed"),  # no Appcast table
    ],
)
async def test_slack_names_a_job_it_cannot_bid_on(bot: Setup, text: str, said: str) -> None:
    assert said in text_of(await bot.ask(text))
    assert await models.AuditEntry.filter(action="job.bid").count() == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("bid job ACME-3 1.505", "The bid `1.505` has more than 2 decimals."),
        ("bid job ACME-3 -1", "The bid `-1` is negative"),
        ("bid job ACME-3 2000", "The bid `2000` is more than the highest bid, 1000.00."),
        ("bid job ACME-3 cheap", "The bid `cheap` is not an amount"),
        ("bid job ACME-3", "Give one job id and its bid"),
        ("bid ACME-3 1.00", "Bid on what? Only jobs take bids."),
    ],
)
async def test_a_wrong_bid_in_slack_gets_a_usage_line(bot: Setup, text: str, problem: str) -> None:
    status, ack, _ = await bot.command(text)
    assert status == 200
    assert problem in text_of(ack)
    assert "/appcast bid job &lt;id&gt; &lt;amount|default&gt;" in text_of(ack)
    assert await models.AuditEntry.filter(action="job.bid").count() == 0
