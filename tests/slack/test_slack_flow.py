"""The /appcast bot end to end over real sockets: signed requests to the running hub, a fake Slack for
everything the bot sends back (response_url answers, chat.postMessage, usergroups.users.list)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import subprocess
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from lxml import etree

from hub import models
from hub.testing.peers import serving_hub
from tests.conftest import free_port, hub_command, write_config
from tests.peers.slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, FakeSlack

ADMIN = "UADMIN001"
MEMBER = "UMEMBER01"
GROUP_MEMBER = "UGROUP001"
USERGROUP = "SADMINS01"
ANNOUNCE = "CANNOUNCE1"
API_TOKEN = "admin-token-for-slack-tests"
ACME_IDS = [f"ACME-{n}" for n in range(1, 13)]
GLOBEX_IDS = ["GLX-1", "GLX-2", "GLX-3"]
SHARED = "SHARED-1"


def jobs_file(path: Path, ids: list[str], city: str) -> Path:
    jobs = [
        {
            "id": ats_id,
            "title": f"Registered Nurse {ats_id}",
            "posted_at": f"2026-11-{1 + position % 28:02d}T09:00:00Z",
            "location": {"city": city, "country": "US"},
        }
        for position, ats_id in enumerate(ids)
    ]
    path.write_text(json.dumps({"jobs": jobs}), encoding="utf-8")
    return path


def socket_mode_config(slack: FakeSlack, folder: Path) -> Path:
    """A hub on SQLite whose Slack app connects to ``slack`` over Socket Mode (admins: ADMIN)."""
    table = f"""
[slack]
enabled = true
socket_mode = true
bot_token = "{BOT_TOKEN}"
app_token = "{APP_TOKEN}"
signing_secret = "{SIGNING_SECRET}"
api_base_url = "{slack.api_base_url}"
admins = ["{ADMIN}"]
"""
    return slack_config(f"sqlite://{folder / 'hub.sqlite3'}", slack, folder, slack_table=table)


def slack_config(
    database_url: str, slack: FakeSlack, folder: Path, *, slack_table: str | None = None
) -> Path:
    table = (
        slack_table
        if slack_table is not None
        else f"""
[slack]
enabled = true
bot_token = "{BOT_TOKEN}"
signing_secret = "{SIGNING_SECRET}"
api_base_url = "{slack.api_base_url}"
admins = ["{ADMIN}"]
admin_usergroup = "{USERGROUP}"
announce_channel = "{ANNOUNCE}"
"""
    )
    acme = jobs_file(folder / "acme.json", [*ACME_IDS, SHARED], "Portland")
    globex = jobs_file(folder / "globex.json", [*GLOBEX_IDS, SHARED], "Denver")
    return write_config(
        folder,
        f"""
[server]
public_url = "https://hub.example.com"
[database]
url = "{database_url}"
migrate_on_start = true
[admin]
api_token = "{API_TOKEN}"
[sync]
scheduled = false
{table}
[accounts.acme]
adapter = "file"
company = "Acme"
feed_policy = "opted-in"
[accounts.acme.file]
path = "{acme}"
[accounts.globex]
adapter = "file"
company = "Globex"
feed_policy = "opted-in"
[accounts.globex.file]
path = "{globex}"
""",
    )


@dataclass
class Setup:
    url: str
    slack: FakeSlack
    http: aiohttp.ClientSession
    #: Where the config and the accounts' jobs files (the file adapter's "ATS") are.
    folder: Path
    keys: int = 0

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any, float]:
        """POST to /slack/events; the status, the body (JSON when it is) and the seconds to the answer."""
        started = time.perf_counter()
        async with self.http.post(f"{self.url}/slack/events", data=body, headers=headers) as response:
            text = await response.text()
            elapsed = time.perf_counter() - started
            try:
                answer = json.loads(text) if text else None
            except json.JSONDecodeError:
                answer = text
            return response.status, answer, elapsed

    def key(self) -> str:
        self.keys += 1
        return f"r{self.keys}"

    async def command(self, text: str, user: str = ADMIN, **kwargs: Any) -> tuple[int, Any, str]:
        """Run ``/appcast text``: the ack's status and body, and the key its later answer arrives under."""
        key = self.key()
        body, headers = self.slack.slash_command(
            text, user_id=user, response_url=self.slack.response_url(key), **kwargs
        )
        status, answer, _ = await self.post(body, headers)
        return status, answer, key

    async def ask(self, text: str, user: str = ADMIN) -> dict[str, Any]:
        """Run ``/appcast text`` and return the answer posted to its response_url."""
        status, ack, key = await self.command(text, user)
        assert status == 200, ack
        return await self.slack.wait_response(key)

    async def click(self, action_id: str, value: str, user: str = ADMIN) -> dict[str, Any]:
        key = self.key()
        body, headers = self.slack.block_action(
            action_id, value, user_id=user, response_url=self.slack.response_url(key)
        )
        status, answer, _ = await self.post(body, headers)
        assert (status, answer) == (200, None)
        return await self.slack.wait_response(key)

    async def api_sync(self, account: str) -> None:
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        async with self.http.post(f"{self.url}/api/accounts/{account}/sync", headers=headers) as response:
            assert response.status == 200, await response.text()

    async def feed_ids(self, account: str = "acme") -> set[str]:
        async with self.http.get(f"{self.url}/feeds/{account}.xml") as response:
            assert response.status == 200
            document = etree.fromstring(await response.read())
        return {job.findtext("referencenumber") for job in document.iter("job")}


def text_of(message: dict[str, Any]) -> str:
    """Every piece of text in a message (fallback and blocks), for assertions."""
    return json.dumps(message, ensure_ascii=False)


def mrkdwn_texts(message: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("type") == "mrkdwn":
                found.append(value["text"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(message.get("blocks", []))
    return found


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for block in message["blocks"]:
        if block.get("accessory", {}).get("type") == "button":
            found.append(block["accessory"])
        for element in block.get("elements", []):
            if element.get("type") == "button":
                found.append(element)
    return found


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(usergroups={USERGROUP: [GROUP_MEMBER]})
    async with fake.serving():
        yield fake


async def _setup(config: Path, slack: FakeSlack) -> AsyncIterator[Setup]:
    async with serving_hub(config) as url, aiohttp.ClientSession() as http:
        setup = Setup(url, slack, http, config.parent)
        await setup.api_sync("acme")
        await setup.api_sync("globex")
        yield setup


@pytest.fixture
async def hub(slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Setup]:
    """The hub on SQLite (the flows below do not depend on the database; the enable flow runs on both)."""
    config = slack_config(f"sqlite://{tmp_path / 'hub.sqlite3'}", slack, tmp_path)
    async for setup in _setup(config, slack):
        yield setup


@pytest.fixture
async def hub_each_db(database_url: str, slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Setup]:
    async for setup in _setup(slack_config(database_url, slack, tmp_path), slack):
        yield setup


async def audit_rows(**filters: Any) -> list[tuple[str, str, str, str | None]]:
    return (
        await models.AuditEntry.filter(**filters)
        .order_by("id")
        .values_list("actor", "source", "action", "target")
    )


# --- the story of the issue -----------------------------------------------------------------------------


async def test_an_admin_enables_a_job(hub_each_db: Setup) -> None:
    hub = hub_each_db
    assert await hub.feed_ids() == set(), "opted-in: nothing is advertised until switched on"
    status, ack, key = await hub.command("enable job ACME-3")
    assert status == 200
    assert ack is None, "acknowledged at once; the answer follows through response_url"

    reply = await hub.slack.wait_response(key)
    assert reply["response_type"] == "ephemeral"
    assert "Switched on" in reply["text"]
    assert "`ACME-3` Registered Nurse ACME-3" in text_of(reply)
    assert await hub.feed_ids() == {"ACME-3"}
    assert await audit_rows() == [(ADMIN, "slack", "job.enable", "ACME-3")]

    announced = (await hub.slack.wait_posted(1))[0]
    assert announced["channel"] == ANNOUNCE
    assert f"<@{ADMIN}> switched on" in text_of(announced)

    again = await hub.ask("enable job ACME-3")
    assert "Already on (1)" in text_of(again)
    assert len(await audit_rows()) == 1, "nothing changed, nothing audited"

    audit = await hub.ask("audit 5")
    assert f"<@{ADMIN}> via slack" in text_of(audit)
    assert "job.enable" in text_of(audit)


async def test_the_ack_is_fast(hub: Setup) -> None:
    # Slack gives 3 s; the ack carries nothing slow, so even a cold first request is far inside that.
    for text in ("enable job ACME-1", "jobs", "sync acme", "help"):
        body, headers = hub.slack.slash_command(
            text, user_id=ADMIN, response_url=hub.slack.response_url(text)
        )
        status, _, elapsed = await hub.post(body, headers)
        assert status == 200
        assert elapsed < 1.0, f"{text!r} acknowledged after {elapsed:.2f}s"


async def test_a_member_who_is_no_admin_is_refused_politely(hub: Setup) -> None:
    reply = await hub.ask("enable job ACME-3", user=MEMBER)
    text = text_of(reply)
    assert f"Sorry <@{MEMBER}>" in text
    assert f"<@{ADMIN}>" in text
    assert f"<!subteam^{USERGROUP}>" in text
    assert await hub.feed_ids() == set()
    assert await audit_rows() == []
    assert hub.slack.posted == [], "nothing to announce"

    # Reading is for everyone.
    listing = await hub.ask("jobs acme", user=MEMBER)
    assert "*Open jobs in acme*" in text_of(listing)


async def test_members_of_the_admin_user_group_may_act(hub: Setup) -> None:
    await hub.ask("enable job ACME-1", user=GROUP_MEMBER)
    await hub.ask("enable job ACME-2", user=GROUP_MEMBER)
    assert await hub.feed_ids() == {"ACME-1", "ACME-2"}
    assert [row[0] for row in await audit_rows()] == [GROUP_MEMBER, GROUP_MEMBER]
    assert len(hub.slack.calls_to("usergroups.users.list")) == 1, "membership is cached briefly"
    assert hub.slack.calls_to("usergroups.users.list")[0]["usergroup"] == USERGROUP


# --- signatures -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    ["forged signature", "body changed after signing", "stale timestamp", "future timestamp",
     "no signature", "garbage timestamp"],
)  # fmt: skip
async def test_unsigned_forged_or_stale_requests_are_refused(hub: Setup, tamper: str) -> None:
    now = int(time.time())
    timestamp = {"stale timestamp": now - 6 * 60, "future timestamp": now + 6 * 60}.get(tamper)
    body, headers = hub.slack.slash_command(
        "enable job ACME-3", user_id=ADMIN, response_url=hub.slack.response_url("x"), timestamp=timestamp
    )
    if tamper == "forged signature":
        headers["X-Slack-Signature"] = "v0=" + "0" * 64
    elif tamper == "body changed after signing":
        body = body.replace(b"ACME-3", b"ACME-4")
    elif tamper == "no signature":
        del headers["X-Slack-Signature"], headers["X-Slack-Request-Timestamp"]
    elif tamper == "garbage timestamp":
        headers["X-Slack-Request-Timestamp"] = "yesterday"
    status, answer, _ = await hub.post(body, headers)
    assert status == 401
    assert answer == {"error": "invalid Slack signature or stale timestamp"}
    await asyncio.sleep(0.2)
    assert hub.slack.responses["x"] == []
    assert await hub.feed_ids() == set()
    assert await audit_rows() == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"\xff\xfe\x00garbage", 401),  # Slack signs UTF-8 only: these bytes were never Slack's
        (b"payload=" + b"%5B" * 4000, 400),
        (b"payload=%5B%5D", 400),
        (b"payload=null", 400),
        (b"payload=%7Bnot+json", 400),
        (b"payload=" + urllib.parse.quote(json.dumps({"type": "block_actions", "actions": 5})).encode(), 400),
    ],
    ids=["not utf-8", "deep json", "payload array", "payload null", "payload not json", "actions not a list"],
)
async def test_signed_bodies_slack_never_sends_are_refused_not_crashed_on(
    hub: Setup, body: bytes, status: int
) -> None:
    stamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }
    answer_status, _, _ = await hub.post(body, headers)
    assert answer_status == status


async def test_a_replayed_request_is_harmless(hub: Setup) -> None:
    await hub.ask("disable job ACME-5")  # ACME-5 is now explicitly off: a replayed enable would show
    body, headers = hub.slack.slash_command(
        "enable job ACME-5", user_id=ADMIN, response_url=hub.slack.response_url("once")
    )
    first, _, _ = await hub.post(body, headers)
    second, answer, _ = await hub.post(body, headers)
    assert (first, second, answer) == (200, 200, None)
    await hub.slack.wait_response("once")
    await hub.ask("status acme")  # a later command has been answered: a replay's answer would be in by now
    assert len(hub.slack.responses["once"]) == 1
    assert [row[2] for row in await audit_rows()] == ["job.disable", "job.enable"]


# --- commands that go wrong -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem", "suggestion"),
    [
        ("enabel job ACME-1", "is not an /appcast command", "/appcast enable job &lt;id&gt;…"),
        (
            "dissable integration acme",
            "is not an /appcast command",
            "/appcast disable integration &lt;account&gt;",
        ),
        ("enable ACME-1", "Enable what", "/appcast enable job &lt;id&gt;…"),
        (
            "sync acm",
            "There is no account named `acm`. Did you mean `acme`?",
            "/appcast sync &lt;account&gt;",
        ),
        ("map stage acme s1 interviewed", "`interviewed` is not a funnel event", "/appcast map stage"),
        ("retry soon", "Give one delivery id", "/appcast retry &lt;delivery-id|failed&gt;"),
        ("frobnicate", "`frobnicate` is not an /appcast command", "/appcast help"),
    ],
)
async def test_unknown_or_malformed_commands_get_a_usage_line(
    hub: Setup, text: str, problem: str, suggestion: str
) -> None:
    status, ack, key = await hub.command(text)
    assert status == 200
    shown = text_of(ack)
    assert problem in shown
    assert suggestion in shown
    assert "Traceback" not in shown
    await hub.ask("status")  # answered later than anything the bad command could have sent
    assert hub.slack.responses[key] == [], "the usage line was the whole answer"
    assert await audit_rows() == []


async def test_help_lists_every_command(hub: Setup) -> None:
    for text in ("", "help"):
        status, ack, _ = await hub.command(text)
        assert status == 200
        usages = ("status [account]", "enable job &lt;id&gt;…", "bid job &lt;id&gt; &lt;amount|default&gt;",
                  "map stage", "retry", "audit [n]")  # fmt: skip
        for usage in usages:
            assert usage in text_of(ack)


async def test_ids_that_do_not_exist_are_listed(hub: Setup) -> None:
    reply = await hub.ask("enable job ACME-1, NOPE-1 globex:ACME-2 ACME-1")
    text = text_of(reply)
    assert "Switched on* for Appcast (1)" in text
    assert "*Not found* (2): `NOPE-1`, `globex:ACME-2`" in text
    assert await hub.feed_ids() == {"ACME-1"}


async def test_an_id_in_several_accounts_needs_its_account(hub: Setup) -> None:
    reply = await hub.ask(f"enable job {SHARED}")
    assert f"is in several accounts: write `acme:{SHARED}` or `globex:{SHARED}`" in text_of(reply)
    assert await audit_rows() == []
    reply = await hub.ask(f"enable job globex:{SHARED} GLX-1")
    assert "Switched on* for Appcast (2)" in text_of(reply)
    assert await hub.feed_ids("globex") == {SHARED, "GLX-1"}
    assert await hub.feed_ids("acme") == set()


@pytest.mark.parametrize(
    "text",
    [
        # Slack escapes &, < and > in the text it sends, exactly as here.
        "enable job 1' OR '1'='1",
        "enable job &lt;!channel&gt; *x* _y_ `z` &amp;",
        "enable job acme:1;DROP TABLE jobs;--",
        "jobs &lt;!here&gt; *bold* 1' OR '1'='1",
        "stats job &lt;@UADMIN001&gt;",
    ],
)
async def test_injection_in_arguments_is_shown_escaped_and_changes_nothing(hub: Setup, text: str) -> None:
    jobs_before = await models.Job.all().count()
    reply = await hub.ask(text)
    shown = text_of(reply)
    for raw in ("<!channel>", "<!here>", "<@UADMIN001>"):
        assert raw not in shown, "a mention typed by the user must never reach Slack as markup"
    for mrkdwn in mrkdwn_texts(reply):
        # Typed text only ever appears inside inline code, where Slack does not format it.
        outside_code = re.sub(r"`[^`]*`", "", mrkdwn)
        for formatted in ("*x*", "*bold*", "_y_", "1' OR"):
            assert formatted not in outside_code
    if "!channel" in text:
        assert "`&lt;!channel&gt;`" in shown
    assert await models.Job.all().count() == jobs_before
    assert await models.Job.filter(appcast__not_isnull=True).count() == 0
    assert await audit_rows() == []
    assert await hub.feed_ids() == set()


# --- buttons --------------------------------------------------------------------------------------------


async def test_enable_and_disable_buttons(hub: Setup) -> None:
    listing = await hub.ask("jobs acme")
    shown = text_of(listing)
    assert "*Open jobs in acme*" in shown
    assert "1 to 10 of 13" in shown
    enable = next(b for b in buttons(listing) if b["action_id"] == "appcast_job_enable")
    ats_id = json.loads(enable["value"])["j"]

    redrawn = await hub.click("appcast_job_enable", enable["value"])
    assert redrawn["replace_original"] is True
    assert f"<@{ADMIN}> switched `{ats_id}` on" in text_of(redrawn)
    assert await hub.feed_ids() == {ats_id}
    flipped = [b for b in buttons(redrawn) if json.loads(b["value"]).get("j") == ats_id]
    assert [b["action_id"] for b in flipped] == ["appcast_job_disable"]
    assert await audit_rows() == [(ADMIN, "slack", "job.enable", ats_id)]

    refused = await hub.click("appcast_job_disable", flipped[0]["value"], user=MEMBER)
    assert refused["replace_original"] is False, "the list stays; the refusal comes below it"
    assert "only hub admins" in text_of(refused)
    assert await hub.feed_ids() == {ats_id}

    await hub.click("appcast_job_disable", flipped[0]["value"])
    assert await hub.feed_ids() == set()
    assert [row[2] for row in await audit_rows()] == ["job.enable", "job.disable"]

    following = next(b for b in buttons(listing) if b["action_id"] == "appcast_jobs_page")
    page_two = await hub.click("appcast_jobs_page", following["value"], user=MEMBER)
    assert "11 to 13 of 13" in text_of(page_two)


async def test_jobs_of_every_account_are_merged_newest_first(hub: Setup) -> None:
    listing = await hub.ask("jobs nurse")
    shown = text_of(listing)
    assert "*Open jobs* matching `nurse` — 1 to 10 of 17" in shown
    assert " · acme · " in shown
    assert " · globex · " in shown
    second = next(b for b in buttons(listing) if b["action_id"] == "appcast_jobs_page")
    page = text_of(await hub.click("appcast_jobs_page", second["value"]))
    assert "11 to 17 of 17" in page


async def test_a_tampered_button_value_is_refused_without_a_traceback(hub: Setup) -> None:
    reply = await hub.click("appcast_job_enable", "{not json")
    assert "from an older hub" in text_of(reply)
    reply = await hub.click(
        "appcast_job_enable", json.dumps({"a": None, "q": "", "o": 0, "j": "X", "ja": "nobody"})
    )
    assert "no account named 'nobody'" in text_of(reply)
    assert await audit_rows() == []


# --- slow commands through response_url -----------------------------------------------------------------


async def test_sync_is_answered_by_the_lazy_listener(hub: Setup) -> None:
    jobs_file(hub.folder / "acme.json", [*ACME_IDS, SHARED, "ACME-NEW"], "Portland")
    status, ack, key = await hub.command("sync acme")
    assert status == 200
    assert "Working on /appcast sync" in text_of(ack)
    reply = await hub.slack.wait_response(key)
    assert "sync saw 14 jobs: 1 new" in reply["text"]
    assert await models.Job.filter(ats_id="ACME-NEW").exists()

    refused = await hub.ask("sync acme", user=MEMBER)
    assert "only hub admins" in text_of(refused)


async def test_reconcile_is_for_admins_and_says_what_the_adapter_cannot(hub: Setup) -> None:
    reply = await hub.ask("reconcile acme")
    assert "The file adapter cannot be asked for missed events." in text_of(reply)
    refused = await hub.ask("reconcile acme", user=MEMBER)
    assert "only hub admins" in text_of(refused)


async def test_a_failed_sync_says_the_feed_keeps_its_jobs(hub: Setup) -> None:
    await hub.ask("enable job ACME-1")
    (hub.folder / "acme.json").write_text("{broken", encoding="utf-8")
    reply = await hub.ask("sync acme")
    assert "acme: sync failed" in reply["text"]
    assert "keeps the jobs of the last good sync" in text_of(reply)
    assert await hub.feed_ids() == {"ACME-1"}
    status = await hub.ask("status acme")
    assert "last sync failed" in text_of(status)


# --- every other command ----------------------------------------------------------------------------------


async def test_status_feed_and_stats(hub: Setup) -> None:
    await hub.ask("enable job ACME-1 ACME-2")
    status = text_of(await hub.ask("status"))
    for expected in ("*acme* — Acme", "*globex* — Globex", "integration on", "synced <!date^",
                     "https://hub.example.com/feeds/acme.xml", "2 of 13 open jobs (opted-in)",
                     "Deliveries: 0 pending"):  # fmt: skip
        assert expected in status

    feed = text_of(await hub.ask("feed acme"))
    assert "https://hub.example.com/feeds/acme.xml" in feed
    assert "2 jobs, newest first" in feed
    assert "`ACME-2`" in feed

    stats = text_of(await hub.ask("stats"))
    assert "*acme*: 0 views · 0 applies · n/a conversion · 0 hires" in stats
    one = text_of(await hub.ask("stats job ACME-1"))
    assert "ACME-1 (acme)" in one
    missing = text_of(await hub.ask("stats job NOPE"))
    assert "*Not found* (1): `NOPE`" in missing


async def test_lint_names_what_to_fix_and_status_says_it_in_a_line(hub: Setup) -> None:
    await hub.ask("enable job ACME-1 ACME-2")  # in the feed: no url, no description
    lint = text_of(await hub.ask("lint acme"))
    assert "Feed health of acme: 2 jobs" in lint
    assert "• `missing-element` 2: " in lint
    assert "• `short-description` 2: " in lint
    assert "• `ACME-1` no url" in lint
    status = text_of(await hub.ask("status acme"))
    assert "Health: 2 missing-element, 2 short-description: `/appcast lint acme`" in status
    globex = text_of(await hub.ask("lint globex"))
    assert "Feed health of globex: 0 jobs" in globex
    assert "nothing to fix" in globex


async def test_a_held_mass_close_is_shown_and_resolved_from_slack(hub: Setup) -> None:
    """The ATS stops listing most of acme's jobs: the close is held, status says so, and an admin keeps
    the jobs open with a button (Slack asks first for the destructive one) or confirms it by command."""
    jobs_file(hub.folder / "acme.json", ACME_IDS[:2], "Portland")
    await hub.api_sync("acme")
    status = text_of(await hub.ask("status acme"))
    assert "*Held:* 11 of 13 open jobs would close" in status
    assert "`/appcast held acme`" in status

    shown = await hub.ask("held acme")
    confirm_button, keep_button = buttons(shown)
    assert confirm_button["action_id"] == "appcast_held_confirm"
    assert confirm_button["confirm"]["title"]["text"] == "Are you sure?"
    assert "Close 11 jobs" in confirm_button["text"]["text"]
    assert keep_button["action_id"] == "appcast_held_keep"

    refused = await hub.click(keep_button["action_id"], keep_button["value"], user=MEMBER)
    assert "only hub admins" in text_of(refused)
    kept = await hub.click(keep_button["action_id"], keep_button["value"])
    assert "kept 11 jobs of *acme* open" in text_of(kept)
    assert "Nothing is held" in text_of(await hub.ask("held acme"))

    await hub.api_sync("acme")  # still not listed: held again
    # The first close's Confirm, still in the channel, does not decide the second one.
    stale = await hub.click(confirm_button["action_id"], confirm_button["value"])
    assert "Nothing of *acme* is held for this to decide" in text_of(stale)
    assert "Close 11 jobs" in text_of(await hub.ask("held acme")), "the second close still waits"
    assert "only hub admins" in text_of(await hub.ask("held acme confirm", user=MEMBER))
    confirmed = await hub.ask("held acme confirm")
    assert "closed 11 jobs of *acme*" in text_of(confirmed)
    assert "0 of 2 open jobs" in text_of(await hub.ask("status acme"))
    assert [(row[0], row[2]) for row in await audit_rows(action__startswith="held.")] == [
        ("system", "held.close"), (ADMIN, "held.kept"), ("system", "held.close"), (ADMIN, "held.applied"),
    ]  # fmt: skip
    posted = await hub.slack.wait_posted(2)
    assert "kept 11 jobs" in text_of(posted[0])
    assert "closed 11 jobs" in text_of(posted[1])


async def test_integration_switch_is_announced_and_audited(hub: Setup) -> None:
    await hub.ask("enable job ACME-1")
    reply = await hub.ask("disable integration acme")
    assert "is now *off*" in text_of(reply)
    assert await hub.feed_ids() == set()
    jobs = text_of(await hub.ask("jobs acme"))
    assert "Integration off for acme" in jobs
    again = await hub.ask("disable integration acme")
    assert "was already off" in text_of(again)
    await hub.ask("enable integration acme")
    assert await hub.feed_ids() == {"ACME-1"}
    assert [row[2] for row in await audit_rows()] == [
        "job.enable",
        "integration.disable",
        "integration.enable",
    ]
    posted = await hub.slack.wait_posted(3)
    assert [message["channel"] for message in posted] == [ANNOUNCE] * 3
    assert "switched the Appcast integration of *acme* off" in text_of(posted[1])


async def test_stages_and_mapping(hub: Setup) -> None:
    # The file adapter lists no stages: the hub knows this one from an event that moved into it.
    account = await models.Account.get(name="acme")
    await models.Event.create(
        account=account, kind="stage_changed", dedupe_key="e-1", ats_job_id="ACME-1",
        to_stage_id="phone-screen", stage_name="Phone screen", occurred_at=account.created_at,
    )  # fmt: skip
    reply = text_of(await hub.ask("stages acme"))
    assert "cannot list stages" in reply
    assert "`phone-screen` → _unmapped_ · 1 events waiting" in reply
    mapped = await hub.ask("map stage acme phone-screen screen")
    assert "Stage `phone-screen` of *acme* now means *screen*" in text_of(mapped)
    reply = text_of(await hub.ask("stages acme"))
    assert "`phone-screen` → *screen* (runtime)" in reply
    assert await audit_rows() == [(ADMIN, "slack", "stage.map", "phone-screen")]
    refused = await hub.ask("map stage acme phone-screen none", user=MEMBER)
    assert "only hub admins" in text_of(refused)


async def test_deliveries_and_retry(hub: Setup) -> None:
    assert "No failed deliveries: nothing to send again" in text_of(await hub.ask("retry failed"))
    account = await models.Account.get(name="acme")
    dead = [
        await models.Delivery.create(
            account=account,
            destination="appcast",
            idempotency_key=f"k-{n}",
            payload={"event": "hired"},
            state="dead",
            attempts=12,
            next_attempt_at=account.created_at,
            last_error="HTTP 500 <b>boom</b>",
        )
        for n in (1, 2)
    ]
    listing = text_of(await hub.ask("deliveries failed"))
    assert f"`#{dead[0].id}` hired for acme" in listing
    assert "HTTP 500 &lt;b&gt;boom&lt;/b&gt;" in listing
    assert "retry failed" in listing

    refused = await hub.ask(f"retry {dead[0].id}", user=MEMBER)
    assert "only hub admins" in text_of(refused)
    assert (await models.Delivery.get(id=dead[0].id)).state == "dead"

    reply = text_of(await hub.ask(f"retry {dead[0].id}"))
    assert f"Queued again (1): `#{dead[0].id}`" in reply
    assert await audit_rows() == [(ADMIN, "slack", "delivery.replay", str(dead[0].id))]
    assert f"`#{dead[1].id}`" in text_of(await hub.ask("retry failed"))
    assert "There is no delivery `#999999`" in text_of(await hub.ask("retry 999999"))


# --- Slack's limits and failures ------------------------------------------------------------------------


async def test_a_429_is_waited_out(hub: Setup) -> None:
    await hub.ask("status")  # Bolt's one auth.test is behind us: the next request is the answer below
    hub.slack.faults.rate_limited = 1
    hub.slack.faults.retry_after = 1
    started = time.monotonic()
    reply = await hub.ask("enable job ACME-7")
    assert "Switched on" in reply["text"]
    assert time.monotonic() - started >= 1.0, "the answer waited for Retry-After"
    posts = [request for request in hub.slack.faults.requests if request == "POST /response/r2"]
    assert len(posts) == 2, "refused once with 429, then delivered"
    await hub.slack.wait_posted(1)


async def test_secrets_never_reach_slack(hub: Setup) -> None:
    # An ATS that leaks a secret into a job title: the hub scrubs every answer before it leaves.
    leaky = json.loads((hub.folder / "acme.json").read_text(encoding="utf-8"))
    leaky["jobs"][0]["title"] = f"Nurse (key {API_TOKEN})"
    (hub.folder / "acme.json").write_text(json.dumps(leaky), encoding="utf-8")
    await hub.api_sync("acme")
    reply = text_of(await hub.ask("jobs acme key"))
    assert "Nurse (key ***)" in reply
    assert API_TOKEN not in reply


async def test_without_slack_there_is_no_route(database_url: str, slack: FakeSlack, tmp_path: Path) -> None:
    config = slack_config(database_url, slack, tmp_path, slack_table="[slack]\nenabled = false\n")
    async with serving_hub(config) as url, aiohttp.ClientSession() as http:
        body, headers = slack.slash_command("help", user_id=ADMIN, response_url=slack.response_url("x"))
        async with http.post(f"{url}/slack/events", data=body, headers=headers) as response:
            assert response.status == 404
    assert slack.calls == []


async def test_socket_mode_starts_answers_and_stops_cleanly(slack: FakeSlack, tmp_path: Path) -> None:
    config = socket_mode_config(slack, tmp_path)
    async with serving_hub(config):
        await slack.wait_socket()
        ack = await slack.send_envelope(
            "slash_commands",
            {"command": "/appcast", "text": "enabel", "user_id": ADMIN, "team_id": "T0FAKE001",
             "response_url": slack.response_url("socket"), "trigger_id": "1.2.3"},
        )  # fmt: skip
        assert "is not an /appcast command" in text_of(ack["payload"])
    assert slack.calls_to("apps.connections.open")


# --- Slack's Web API away, or the token wrong: commands still answer ---------------------------------------


def _slack_table(api_base_url: str, token: str = BOT_TOKEN) -> str:
    return f"""
[slack]
enabled = true
bot_token = "{token}"
signing_secret = "{SIGNING_SECRET}"
api_base_url = "{api_base_url}"
admins = ["{ADMIN}"]
"""


async def test_commands_answer_while_slacks_web_api_is_unreachable(
    slack: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Bolt checked the token with auth.test on every request: with Slack's Web API unreachable, every
    command was a 500. Now each is acknowledged and answered (through response_url), saying why."""
    dead = f"http://127.0.0.1:{free_port()}/api/"
    config = slack_config(
        f"sqlite://{tmp_path / 'hub.sqlite3'}",
        slack,
        tmp_path,
        slack_table=_slack_table(dead),
    )
    async for hub in _setup(config, slack):
        for _ in range(3):
            status, ack, key = await hub.command("status")
            assert status == 200, ack
            reply = text_of(await hub.slack.wait_response(key))
            assert "cannot reach Slack's Web API" in reply
        enabled = await hub.ask("enable job ACME-1")
        assert "Switched on" in text_of(enabled)
        assert await hub.feed_ids() == {"ACME-1"}
    tracebacks = [r for r in caplog.records if r.exc_info and r.name.startswith(("hub", "slack"))]
    assert tracebacks == []


async def test_a_token_slack_refuses_is_said_once_and_commands_still_answer(
    slack: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = slack_config(
        f"sqlite://{tmp_path / 'hub.sqlite3'}", slack, tmp_path,
        slack_table=_slack_table(slack.api_base_url, token="xoxb-wrong-token-0000"),
    )  # fmt: skip
    async for hub in _setup(config, slack):
        for _ in range(3):
            reply = text_of(await hub.ask("status"))
            assert "Slack refused the bot token (invalid_auth)" in reply
            assert "xoxb-wrong-token-0000" not in reply
    refused = [r for r in caplog.records if "Slack refused the bot token" in r.getMessage()]
    assert len(refused) == 1, "said once, at start-up, not per request"
    assert refused[0].levelname == "ERROR"


def test_check_config_asks_slack_about_the_token(slack_server: str, tmp_path: Path) -> None:
    good = write_config(tmp_path, f"{_slack_table(slack_server)}")
    result = subprocess.run(hub_command("check-config", "-c", str(good)), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "the bot token works (workspace Acme" in result.stdout
    bad = write_config(tmp_path, _slack_table(slack_server, token="xoxb-wrong-token-0000"))
    result = subprocess.run(hub_command("check-config", "-c", str(bad)), capture_output=True, text=True)
    assert result.returncode == 2
    assert "Slack refused the bot token (invalid_auth): check [slack] bot_token" in result.stdout
    assert "slack.bot_token: Slack refused it" in result.stderr
    assert "xoxb-wrong-token-0000" not in result.stdout + result.stderr
    unreachable = write_config(tmp_path, _slack_table(f"http://127.0.0.1:{free_port()}/api/"))
    result = subprocess.run(
        hub_command("check-config", "-c", str(unreachable)), capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "cannot reach Slack's Web API" in result.stdout


@pytest.fixture
def slack_server() -> Iterator[str]:
    """The fake Slack served from a thread of its own, for a command run as a child process."""
    started = threading.Event()
    holder: dict[str, Any] = {}

    def serve() -> None:
        async def main() -> None:
            fake = FakeSlack()
            async with fake.serving():
                holder["url"], holder["stop"] = fake.api_base_url, asyncio.Event()
                holder["loop"] = asyncio.get_running_loop()
                started.set()
                await holder["stop"].wait()

        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield holder["url"]
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(10)
