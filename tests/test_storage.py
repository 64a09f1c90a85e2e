"""Storage, sync, switches and the feed, run against SQLite and against a throwaway PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from tortoise.exceptions import IntegrityError

from hub import db, hookimpl, models
from hub.accounts import ensure_accounts, get_account
from hub.config import HubConfig, bind_plugins, load_config
from hub.feed import BATCH, FEED_COLUMNS, job_of, write_feed
from hub.held import confirm, held_now, keep
from hub.jobs import list_jobs, switch_jobs
from hub.metrics import JOB_FIELDS_DROPPED, JOBS_REFUSED
from hub.normalised import Job, xml_safe
from hub.options import PluginInfo
from hub.plugins import PluginHost, load_plugins
from hub.scheduler import APPLY_KEYS_KEPT, PIXEL_BATCHES_KEPT, forget_old_rows
from hub.sync import sync_account
from tests.conftest import write_config
from tests.strategies import hostile_text


def job_entry(number: int, **overrides: Any) -> dict[str, Any]:
    entry = {
        "id": f"J-{number}",
        "title": f"Nurse {number}",
        "posted_at": "2026-11-01T09:00:00Z",
        "description_html": f"<p>Job {number}</p>",
        "location": {"city": "Portland", "region": "OR", "country": "us"},
    }
    return entry | overrides


class Ats:
    """The file adapter's JSON file as a tiny ATS the test edits between syncs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.jobs: list[dict[str, Any]] = []

    def save(self) -> None:
        self.path.write_text(json.dumps({"jobs": self.jobs}), encoding="utf-8")


@pytest.fixture
def ats(tmp_path: Path) -> Ats:
    ats = Ats(tmp_path / "jobs.json")
    ats.jobs = [job_entry(n) for n in range(1, 8)]
    ats.save()
    return ats


async def open_hub(
    migrated: str,
    ats: Ats,
    folder: Path,
    plugins: PluginHost | None = None,
    extra: str = "",
    account_options: str = "",
) -> tuple[HubConfig, PluginHost]:
    """One account, ``acme``, on the file adapter reading ``ats``, opted-in; ``extra`` ends its config,
    ``account_options`` ends its ``[accounts.acme]`` table."""
    config_file = write_config(
        folder,
        f"""
[database]
url = "{migrated}"
[accounts.acme]
adapter = "file"
company = "Acme"
feed_policy = "opted-in"
{account_options}
[accounts.acme.file]
path = "{ats.path}"
page_size = 3
{extra}""",
    )
    plugins = plugins or load_plugins()
    config = bind_plugins(load_config(config_file), plugins)
    await ensure_accounts(config)
    return config, plugins


@pytest.fixture
async def hub(migrated: str, ats: Ats, tmp_path: Path) -> tuple[HubConfig, PluginHost]:
    return await open_hub(migrated, ats, tmp_path)


async def sync(hub: tuple[HubConfig, PluginHost], **kwargs: Any):
    config, plugins = hub
    async with aiohttp.ClientSession() as http:
        return await sync_account(plugins, http, await get_account(config, "acme"), **kwargs)


async def feed_document(hub: tuple[HubConfig, PluginHost]) -> etree._Element:
    config, plugins = hub
    chunks: list[bytes] = []

    async def sink(data: bytes) -> None:
        chunks.append(data)

    await write_feed(await get_account(config, "acme"), plugins, sink)
    return etree.fromstring(b"".join(chunks))


def feed_ids(document: etree._Element) -> set[str]:
    return {job.findtext("referencenumber") for job in document.iter("job")}


async def test_migrations_apply_once_and_report_nothing_pending(migrated: str) -> None:
    assert await db.pending_migrations() == []
    await db.migrate(migrated)  # a second run is a no-op, not an error
    async with db.database(migrated):
        assert await db.pending_migrations() == []


async def test_housekeeping_forgets_only_what_is_no_longer_needed(hub) -> None:
    config, _ = hub
    account = await get_account(config, "acme")
    now = datetime.now(UTC)
    window = timedelta(seconds=config.events["webhook_max_age_seconds"])
    receipt = {
        "account_id": account.row.id,
        "headers": {},
        "query": {},
        "body": b"{}",
        "next_attempt_at": now,
    }
    for identity, state, age in [
        ("old-processed", "processed", window + timedelta(minutes=1)),
        ("new-processed", "processed", window - timedelta(minutes=1)),
        ("old-failed", "failed", window * 10),  # kept for an admin to look at
        ("old-pending", "pending", window * 10),  # still to be parsed
    ]:
        await models.WebhookReceipt.create(identity=identity, state=state, received_at=now - age, **receipt)
    for name, age in [("old.spool", PIXEL_BATCHES_KEPT + timedelta(hours=1)), ("new.spool", timedelta(0))]:
        row = await models.PixelBatch.create(name=name, hits=1)
        await models.PixelBatch.filter(id=row.id).update(applied_at=now - age)
    for key, age in [("old-key", APPLY_KEYS_KEPT + timedelta(hours=1)), ("new-key", timedelta(hours=1))]:
        row = await models.ApplyRequest.create(
            account_id=account.row.id, idempotency_key=key, ats_job_id="J-1"
        )
        await models.ApplyRequest.filter(id=row.id).update(created_at=now - age)
    keep = timedelta(days=config.pixels["keep_days"])
    for job, age in [("J-old", keep + timedelta(days=1)), ("J-kept", keep), ("J-new", timedelta(0))]:
        await models.PixelCount.create(account_id=account.row.id, ats_job_id=job, day=(now - age).date())

    assert await forget_old_rows(config) == {
        "webhook_receipts": 1, "pixel_batches": 1, "apply_requests": 1, "pixel_counts": 1,
    }  # fmt: skip
    assert sorted(await models.WebhookReceipt.all().values_list("identity", flat=True)) == [
        "new-processed",
        "old-failed",
        "old-pending",
    ]
    assert await models.PixelBatch.all().values_list("name", flat=True) == ["new.spool"]
    assert await models.ApplyRequest.all().values_list("idempotency_key", flat=True) == ["new-key"]
    assert sorted(await models.PixelCount.all().values_list("ats_job_id", flat=True)) == ["J-kept", "J-new"]
    assert await forget_old_rows(config) == {
        "webhook_receipts": 0, "pixel_batches": 0, "apply_requests": 0, "pixel_counts": 0,
    }  # fmt: skip


async def test_unique_keys_hold(migrated: str) -> None:
    account = await models.Account.create(name="a", adapter="file")
    fields = {"title": "t", "posted_at": datetime.now(UTC), "content_hash": "x"}
    await models.Job.create(account=account, ats_id="1", **fields)
    with pytest.raises(IntegrityError):
        await models.Job.create(account=account, ats_id="1", **fields)
    event = {"kind": "hired", "occurred_at": datetime.now(UTC)}
    await models.Event.create(account=account, dedupe_key="k", **event)
    with pytest.raises(IntegrityError):
        await models.Event.create(account=account, dedupe_key="k", **event)
    delivery = {"destination": "appcast", "payload": {}, "next_attempt_at": datetime.now(UTC)}
    await models.Delivery.create(account=account, idempotency_key="i", **delivery)
    with pytest.raises(IntegrityError):
        await models.Delivery.create(account=account, idempotency_key="i", **delivery)


async def test_sync_creates_then_rewrites_nothing_when_unchanged(hub, ats: Ats) -> None:
    first = await sync(hub)
    assert (first.error, first.seen, first.created, first.full) == (None, 7, 7, True)
    stamps = dict(await models.Job.all().values_list("ats_id", "changed_at"))
    account = await models.Account.get(name="acme")

    again = await sync(hub)
    assert (again.error, again.seen, again.created, again.updated, again.closed) == (None, 7, 0, 0, 0)
    assert dict(await models.Job.all().values_list("ats_id", "changed_at")) == stamps
    assert (await models.Account.get(name="acme")).feed_version == account.feed_version


async def test_sync_updates_changed_closes_vanished_and_reopens(hub, ats: Ats) -> None:
    await sync(hub)
    ats.jobs[0]["title"] = "Head Nurse"
    ats.jobs[1]["status"] = "closed"
    del ats.jobs[2]
    ats.jobs.append(job_entry(99))
    ats.save()
    result = await sync(hub)
    # J-1 changed; J-2 (closed in the ATS) and J-3 (no longer listed) both closed; J-99 new.
    assert (result.created, result.updated, result.closed) == (1, 1, 2)
    jobs = {job.ats_id: job for job in await models.Job.all()}
    assert jobs["J-1"].title == "Head Nurse"
    assert not jobs["J-2"].is_open
    assert not jobs["J-3"].is_open
    assert jobs["J-99"].is_open

    ats.jobs.append(job_entry(3))
    ats.save()
    result = await sync(hub)
    assert (result.created, result.updated, result.closed) == (0, 1, 0)
    assert (await models.Job.get(ats_id="J-3")).is_open


async def test_failing_ats_keeps_the_jobs_and_records_the_error(hub, ats: Ats) -> None:
    await sync(hub)
    ats.path.write_text("{not json", encoding="utf-8")
    result = await sync(hub)
    assert result.error is not None
    assert "not valid JSON" in result.error
    assert await models.Job.filter(is_open=True).count() == 7
    account = await models.Account.get(name="acme")
    assert account.last_sync_ok is False
    assert account.consecutive_sync_failures == 1
    assert "not valid JSON" in account.last_sync_error

    ats.save()
    assert (await sync(hub)).error is None
    assert (await models.Account.get(name="acme")).consecutive_sync_failures == 0


async def test_text_is_cleaned_at_ingest_and_the_feed_stays_well_formed(hub, ats: Ats) -> None:
    config, _ = hub
    hostile = "Nurse \x0b\x00\ufffe<b>]]></b> & 👩‍⚕️ Café"
    ats.jobs[0]["title"] = hostile
    ats.jobs[0]["description_html"] = "<p>a]]>b</p>\x1f"
    ats.save()
    await sync(hub)
    stored = await models.Job.get(ats_id="J-1")
    assert stored.title == "Nurse <b>]]></b> & 👩‍⚕️ Café"
    await switch_jobs(await get_account(config, "acme"), ["J-1"], on=True, actor="t", source="test")
    job = (await feed_document(hub)).find("job")
    assert job.findtext("title") == "Nurse <b>]]></b> & 👩‍⚕️ Café"
    assert job.findtext("description") == "<p>a]]>b</p>"
    assert job.findtext("country") == "US"


async def test_switches_decide_the_feed_under_each_policy_and_are_audited(hub, ats: Ats) -> None:
    config, _ = hub
    await sync(hub)
    account = await get_account(config, "acme")
    assert feed_ids(await feed_document(hub)) == set(), "opted-in: nothing until switched on"

    result = await switch_jobs(account, ["J-1", "J-2", "nope", "J-1"], on=True, actor="U1", source="test")
    assert (result.switched, result.already, result.missing) == (["J-1", "J-2"], [], ["nope"])
    assert feed_ids(await feed_document(hub)) == {"J-1", "J-2"}
    again = await switch_jobs(account, ["J-1"], on=True, actor="U1", source="test")
    assert again.already == ["J-1"]

    audit = await models.AuditEntry.all().order_by("id")
    assert [(a.actor, a.action, a.target, a.before, a.after) for a in audit] == [
        ("U1", "job.enable", "J-1", {"appcast": None}, {"appcast": True}),
        ("U1", "job.enable", "J-2", {"appcast": None}, {"appcast": True}),
    ]

    await models.Account.filter(name="acme").update(feed_policy_override="all-open")
    await switch_jobs(account, ["J-3"], on=False, actor="U1", source="test")
    assert feed_ids(await feed_document(hub)) == {f"J-{n}" for n in (1, 2, 4, 5, 6, 7)}

    # Closing keeps the switch; reopening brings the job back.
    ats.jobs[0]["status"] = "closed"
    ats.save()
    await sync(hub)
    assert "J-1" not in feed_ids(await feed_document(hub))
    ats.jobs[0]["status"] = "open"
    ats.save()
    await sync(hub)
    assert "J-1" in feed_ids(await feed_document(hub))

    await models.Account.filter(name="acme").update(enabled_override=False)
    assert feed_ids(await feed_document(hub)) == set(), "integration off: an empty feed"


async def test_a_feed_abandoned_midway_leaves_no_read_behind(hub, ats: Ats) -> None:
    # More than two batches: the writer reads the next batch ahead while it writes the current one.
    ats.jobs = [job_entry(n) for n in range(1, 2 * BATCH + 2)]
    ats.save()
    await sync(hub)
    await models.Account.filter(name="acme").update(feed_policy_override="all-open")
    config, plugins = hub
    pieces = 0

    async def leaving_sink(data: bytes) -> None:
        nonlocal pieces
        pieces += 1
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        await write_feed(await get_account(config, "acme"), plugins, leaving_sink)
    assert pieces == 1
    reads = [task for task in asyncio.all_tasks() if "batch_after" in repr(task.get_coro())]
    assert reads == [], "the read ahead outlived the feed"
    assert len(feed_ids(await feed_document(hub))) == 2 * BATCH + 1, "the database is still usable"


class JobEcho:
    """A feed plugin that echoes the Job it is handed, to check what ``feed_job_elements`` receives."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []

    @hookimpl
    def appcast_hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(kind="destination", description="echoes each feed job")

    @hookimpl
    def appcast_hub_feed_job_elements(self, job: Job) -> list[tuple[str, str]]:
        self.jobs.append(job)
        return [("posted", job.posted_at.isoformat()), ("updated", str(job.updated_at))]


async def test_feed_plugins_get_the_jobs_the_orm_reads(migrated: str, ats: Ats, tmp_path: Path) -> None:
    # The feed reads rows raw (no ORM conversion) for speed: plugins must still get proper Jobs.
    ats.jobs[0] |= {"updated_at": "2026-11-02T10:30:15.250000+02:00", "salary": "EUR 50k"}
    ats.save()
    echo = JobEcho()
    plugins = load_plugins()
    assert plugins.register("echo", echo)
    hub = await open_hub(migrated, ats, tmp_path, plugins, extra="[accounts.acme.echo]")
    await models.Account.filter(name="acme").update(feed_policy_override="all-open")
    await sync(hub)
    document = await feed_document(hub)

    account = await get_account(hub[0], "acme")
    rows = await models.Job.filter(account_id=account.row.id).order_by("id").values(*FEED_COLUMNS)
    assert echo.jobs == [job_of(row) for row in rows]
    first = echo.jobs[0]
    assert first.updated_at == datetime(2026, 11, 2, 8, 30, 15, 250000, tzinfo=UTC)
    assert first.is_open is True
    assert first.salary_text == "EUR 50k"
    assert document.find("job").findtext("posted") == "2026-11-01T09:00:00+00:00"
    assert [job.findtext("updated") for job in document.iter("job")][:2] == [
        "2026-11-02 08:30:15.250000+00:00",
        "None",
    ]


async def test_list_jobs_filters(hub, ats: Ats) -> None:
    config, _ = hub
    ats.jobs[4]["title"] = "Pharmacist"
    ats.jobs[5]["status"] = "closed"
    ats.save()
    await sync(hub)
    account = await get_account(config, "acme")
    await switch_jobs(account, ["J-1"], on=True, actor="t", source="test")
    total, rows = await list_jobs(account, text="pharma")
    assert (total, [r["ats_id"] for r in rows]) == (1, ["J-5"])
    total, _ = await list_jobs(account, status="closed")
    assert total == 1
    total, rows = await list_jobs(account, flag="in-feed")
    assert (total, rows[0]["ats_id"], rows[0]["in_feed"]) == (1, "J-1", True)
    total, rows = await list_jobs(account, limit=2, offset=0)
    assert (total, len(rows)) == (7, 2)


async def test_the_feed_survives_right_to_left_text_and_a_megabyte_of_html(hub, ats: Ats) -> None:
    config, _ = hub
    rtl = "ממשק משתמש — مهندس برمجيات"
    huge = "<p>" + ("<b>x</b> ]]> \x00 " * 75_000) + "</p>"  # over 1 MB, CDATA ends and NULs in it
    ats.jobs[0] |= {"title": rtl, "description_html": huge}
    ats.save()
    await sync(hub)
    await switch_jobs(await get_account(config, "acme"), ["J-1"], on=True, actor="t", source="test")
    document = await feed_document(hub)  # lxml's parser is strict: a malformed feed raises here
    job = document.find("job")
    assert job.findtext("title") == rtl
    description = job.findtext("description")
    assert len(description) > 1_000_000
    assert "\x00" not in description
    assert description.count("]]>") == 75_000


# --- what an ATS sends can never break the feed ------------------------------------------------------


async def strict_feed(hub: tuple[HubConfig, PluginHost]) -> etree._Element:
    """The feed parsed by a parser that recovers from nothing: a malformed or cut document raises."""
    config, plugins = hub
    chunks: list[bytes] = []

    async def sink(data: bytes) -> None:
        chunks.append(data)

    await write_feed(await get_account(config, "acme"), plugins, sink)
    return etree.fromstring(b"".join(chunks), etree.XMLParser(recover=False, resolve_entities=False))


def refused_count(reason: str) -> float:
    return JOBS_REFUSED.labels("acme", reason)._value.get()


async def test_a_job_id_xml_forbids_is_refused_at_sync_and_the_feed_stays_whole(hub, ats: Ats) -> None:
    """A NUL (or another character XML forbids) in an ATS job id used to cut every feed of the account
    short after its 200 headers; such a job is refused at sync, logged and counted, and the rest is served."""
    await models.Account.filter(name="acme").update(feed_policy_override="all-open")
    before = refused_count("id")
    ats.jobs[0]["id"] = "J-\x00-1"
    ats.jobs[1]["id"] = "J-\x0b-2"
    ats.jobs[2]["id"] = "J-" + "9" * 300  # longer than any id column holds
    ats.save()
    result = await sync(hub)
    assert result.error is None, result.error
    assert (result.refused, result.created) == (3, 4)
    assert "3 refused" in result.summary()
    assert refused_count("id") - before == 3
    assert feed_ids(await strict_feed(hub)) == {f"J-{n}" for n in range(4, 8)}


async def test_fields_no_column_or_feed_holds_are_dropped_and_the_job_kept(hub, ats: Ats) -> None:
    """A country that is none, an unknown workplace or overlong ids are dropped (and counted), not fatal:
    on PostgreSQL they used to fail the whole sync on the column's length."""
    ats.jobs[0] |= {
        "requisition_id": "R" * 300,
        "employment_type": "full-time " * 20,
        "location": {"city": "Portland", "country": "Atlantis", "postal_code": "9" * 40},
    }
    ats.save()
    dropped = JOB_FIELDS_DROPPED.labels("acme", "postal_code")
    before = dropped._value.get()
    result = await sync(hub)
    assert result.error is None, result.error
    assert result.created == 7
    stored = await models.Job.get(ats_id="J-1")
    assert (stored.requisition_id, stored.employment_type, stored.country, stored.postal_code) == (
        None, None, None, None,
    )  # fmt: skip
    assert stored.city == "Portland"
    assert dropped._value.get() - before == 1


async def test_a_job_refused_for_its_content_keeps_its_last_good_version(hub, ats: Ats) -> None:
    """A job whose title turns into nothing is not closed as if it had vanished: the last good one stays."""
    await sync(hub)
    ats.jobs[0]["title"] = "\x00\x01 \x02"
    ats.save()
    result = await sync(hub)
    assert (result.refused, result.closed, result.updated) == (1, 0, 0)
    stored = await models.Job.get(ats_id="J-1")
    assert (stored.title, stored.is_open) == ("Nurse 1", True)


async def test_a_bad_id_stored_before_ids_were_checked_is_left_out_of_the_feed(hub, ats: Ats) -> None:
    await models.Account.filter(name="acme").update(feed_policy_override="all-open")
    await sync(hub)
    account = await models.Account.get(name="acme")
    await models.Job.create(
        account=account, ats_id="OLD-\x01", title="Old", posted_at=datetime.now(UTC), content_hash="x"
    )
    assert feed_ids(await strict_feed(hub)) == {f"J-{n}" for n in range(1, 8)}


_ENTRY_TEXT = ("id", "title", "description_html", "requisition_id", "company", "department", "team",
               "employment_type", "hosted_url", "apply_url")  # fmt: skip
_LOCATION_TEXT = ("city", "region", "country", "postal_code")


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    texts=st.fixed_dictionaries({name: hostile_text for name in _ENTRY_TEXT + _LOCATION_TEXT}),
    salary=hostile_text,
)
async def test_any_text_in_any_job_field_makes_a_well_formed_feed(
    hub, ats: Ats, texts: dict[str, str], salary: str
) -> None:
    """Arbitrary text in every field of two jobs (one with a stable id, one with an arbitrary one): the
    feed always parses strictly, and each job is either in it, with its text cleaned, or refused."""
    await models.Account.filter(name="acme").update(feed_policy_override="all-open")
    entries = []
    for stable in (True, False):
        entry = job_entry(1 if stable else 2)
        entry |= {name: texts[name] for name in _ENTRY_TEXT if not (stable and name == "id")}
        entry["location"] = {name: texts[name] for name in _LOCATION_TEXT}
        entry["salary"] = salary
        entries.append(entry)
    ats.jobs = [*entries, *(job_entry(n) for n in range(3, 8))]
    ats.save()
    result = await sync(hub)
    ids = feed_ids(await strict_feed(hub))
    if result.error is not None:  # the file adapter refused the file: nothing changed, still well-formed
        return
    assert {f"J-{n}" for n in range(3, 8)} <= ids
    # As the ATS serves it: JSON writes a lone surrogate as an escape, and two adjacent ones read back as
    # one character (the pair they form).
    title = xml_safe(json.loads(json.dumps(texts["title"])).strip())
    if title.strip():  # else refused: the last good version stays
        assert await models.Job.filter(ats_id="J-1").first().values_list("title", flat=True) == title


# --- a sudden mass close is held, not applied ----------------------------------------------------------


async def open_ids() -> set[str]:
    return set(await models.Job.filter(is_open=True).values_list("ats_id", flat=True))


async def actions() -> list[str]:
    return [
        entry.action for entry in await models.AuditEntry.filter(action__startswith="held.").order_by("id")
    ]


async def test_an_empty_listing_is_held_until_the_next_full_sync_agrees(hub, ats: Ats) -> None:
    """An ATS answering an empty list used to close every job (and stop every campaign) at once."""
    await sync(hub)
    assert (await sync(hub)).full is False  # recent and successful: incremental
    ats.jobs = []
    ats.save()
    result = await sync(hub, full=True)
    assert (result.closed, result.held) == (0, 7)
    assert "closing 7 jobs the ATS no longer lists is held" in result.summary()
    assert await open_ids() == {f"J-{n}" for n in range(1, 8)}
    change = await held_now((await models.Account.get(name="acme")).id)
    assert change is not None
    assert (change.jobs, change.open_jobs) == (7, 7)
    # The next sync is a full one (a held close waits for one), and it agrees: applied.
    result = await sync(hub)
    assert result.full is True
    assert (result.closed, result.held) == (7, 0)
    assert await open_ids() == set()
    assert await actions() == ["held.close", "held.applied"]


async def test_a_held_close_is_dropped_when_the_ats_lists_the_jobs_again(hub, ats: Ats) -> None:
    await sync(hub)
    everything = list(ats.jobs)
    ats.jobs = everything[:2]  # five of seven gone at once
    ats.save()
    assert (await sync(hub)).held == 5
    ats.jobs = everything
    ats.save()
    result = await sync(hub)
    assert (result.closed, result.held) == (0, 0)
    assert len(await open_ids()) == 7
    assert await actions() == ["held.close", "held.dropped"]
    assert await held_now((await models.Account.get(name="acme")).id) is None


async def test_closes_the_ats_reports_count_too_and_small_closes_are_applied(hub, ats: Ats) -> None:
    """Jobs listed as closed count towards a mass close like jobs no longer listed; a few do not hold."""
    await sync(hub)
    for entry in ats.jobs[:4]:
        entry["status"] = "closed"
    ats.save()
    result = await sync(hub)
    assert (result.closed, result.held) == (0, 4)
    assert len(await open_ids()) == 7
    ats.jobs[3]["status"] = "open"  # the ATS fixes most of it: 3 of 7 close, under half
    for entry in ats.jobs[1:4]:
        entry["status"] = "open"
    ats.save()
    result = await sync(hub)
    assert (result.closed, result.held) == (1, 0)
    assert await open_ids() == {f"J-{n}" for n in range(2, 8)}


async def test_admins_confirm_or_keep_a_held_close_audited(hub, ats: Ats) -> None:
    config, _ = hub
    await sync(hub)
    account = await get_account(config, "acme")
    ats.jobs = ats.jobs[:1]
    ats.save()
    assert (await sync(hub)).held == 6
    assert await keep(account, actor="U1", source="slack") == 6
    assert len(await open_ids()) == 7
    assert await keep(account, actor="U1", source="slack") is None  # nothing held any more
    assert (await sync(hub)).held == 6  # still not listed: held again
    version = (await models.Account.get(name="acme")).feed_version
    assert await confirm(account, actor="cli:ops", source="cli") == 6
    assert await open_ids() == {"J-1"}
    assert (await models.Account.get(name="acme")).feed_version > version  # Appcast's next poll sees it
    entries = await models.AuditEntry.filter(action__startswith="held.").order_by("id")
    assert [(e.action, e.actor) for e in entries] == [
        ("held.close", "system"), ("held.kept", "U1"), ("held.close", "system"), ("held.applied", "cli:ops"),
    ]  # fmt: skip


async def test_a_threshold_of_one_never_holds(migrated: str, ats: Ats, tmp_path: Path) -> None:
    hub = await open_hub(migrated, ats, tmp_path, account_options="mass_close_threshold = 1.0")
    await sync(hub)
    ats.jobs = []
    ats.save()
    assert ((result := await sync(hub)).closed, result.held) == (7, 0)


async def test_migrate_says_so_only_when_it_has_work(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="hub.db")
    await db.migrate(database_url)
    [first] = [record.getMessage() for record in caplog.records if "migrations" in record.getMessage()]
    assert first.startswith("applying migrations 0001_")
    caplog.clear()
    await db.migrate(database_url)
    assert [record.getMessage() for record in caplog.records] == []
    async with db.database(database_url):
        assert await db.pending_migrations() == []
