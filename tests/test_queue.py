"""Work queues and the pixel spool under concurrency: claims, leases and their renewal, spool files
shared by several counters. SQLite and PostgreSQL (where ``SKIP LOCKED`` is real)."""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub import models
from hub.metrics import PIXEL_HITS_DROPPED
from hub.pixels import UNKNOWN_JOB, PixelCounter
from hub.queue import Leases, claim_due, still_claimed


async def _account() -> models.Account:
    return await models.Account.create(name="acme", adapter="file")


async def _deliveries(account: models.Account, count: int, due: datetime | None = None) -> list[int]:
    due = due or datetime.now(UTC) - timedelta(seconds=1)
    await models.Delivery.bulk_create(
        [
            models.Delivery(
                account_id=account.id,
                destination="appcast",
                idempotency_key=f"key-{n}",
                payload={"n": n},
                next_attempt_at=due,
            )
            for n in range(count)
        ]
    )
    return list(await models.Delivery.all().order_by("id").values_list("id", flat=True))


async def test_concurrent_claimers_never_take_the_same_row(migrated: str) -> None:
    ids = await _deliveries(await _account(), 120)
    claimed: Counter[int] = Counter()

    async def claimer() -> None:
        while rows := await claim_due(models.Delivery, limit=7):
            claimed.update(row.id for row in rows)
            await asyncio.sleep(0)

    await asyncio.gather(*(claimer() for _ in range(5)))
    assert sorted(claimed) == ids
    assert set(claimed.values()) == {1}
    # Claimed rows are leased: none is due again before the lease ends, and each counted one attempt.
    assert await claim_due(models.Delivery, limit=100) == []
    assert set(await models.Delivery.all().values_list("attempts", flat=True)) == {1}


async def test_a_lease_is_renewed_while_held_and_comes_due_once_let_go(migrated: str) -> None:
    await _deliveries(await _account(), 3)
    leases = Leases(models.Delivery, lease=timedelta(seconds=0.4), renew_every=timedelta(seconds=0.1))
    try:
        held = await leases.claim(10)
        assert len(held) == 3
        await leases.release(held[0])
        await asyncio.sleep(0.8)  # two leases long: only the renewals keep the two held rows out of reach
        [again] = await claim_due(models.Delivery, limit=10)
        assert again.id == held[0].id
        await leases.release(*held)
        await asyncio.sleep(0.6)
        assert sorted(row.id for row in await claim_due(models.Delivery, limit=10)) == sorted(
            row.id for row in held[1:]
        )
    finally:
        await leases.close()


async def test_a_lost_claim_neither_renews_nor_writes_its_outcome(migrated: str) -> None:
    await _deliveries(await _account(), 1)
    leases = Leases(models.Delivery, lease=timedelta(seconds=0.2), renew_every=timedelta(hours=1))
    try:
        [mine] = await leases.claim(1)
        await asyncio.sleep(0.3)  # our event loop "stalled" past the lease: another process takes over
        [theirs] = await claim_due(models.Delivery, limit=1)
        assert (theirs.id, theirs.attempts) == (mine.id, 2)
        assert await leases.renew() == 0
        late = datetime.now(UTC) + timedelta(hours=5)
        assert await models.Delivery.filter(**still_claimed(mine)).update(next_attempt_at=late) == 0
        assert await models.Delivery.filter(**still_claimed(theirs)).update(last_error="theirs") == 1
    finally:
        await leases.close()


# --- the pixel spool ----------------------------------------------------------------------------------


async def _jobs(account: models.Account, *ats_ids: str) -> None:
    """Jobs the account has: pixel hits for them are counted under their own ids."""
    now = datetime.now(UTC)
    await models.Job.bulk_create(
        [models.Job(account=account, ats_id=i, title=i, posted_at=now, content_hash="-") for i in ats_ids]
    )


async def test_counters_sharing_a_spool_count_every_hit_once(migrated: str, tmp_path: Path) -> None:
    account = await _account()
    await _jobs(account, *(f"job-{n}" for n in range(40)))
    spool = tmp_path / "spool"
    counters = [PixelCounter(spool, flush_seconds=0.01) for _ in range(3)]
    for counter in counters:
        await counter.start()
    sent: Counter[str] = Counter()
    for n in range(3000):
        job = f"job-{n % 40}"  # the same rows, added to by every counter's flushes at once
        counters[n % 3].hit(account.id, "view", job)
        sent[job] += 1
        if n % 100 == 0:
            await asyncio.sleep(0.005)
    await asyncio.gather(*(counter.stop() for counter in counters))
    counted = dict(await models.PixelCount.all().values_list("ats_job_id", "views"))
    assert counted == dict(sent)
    assert list(spool.iterdir()) == []


async def test_a_dead_process_spool_is_counted_once_and_its_leftovers_cleared(
    migrated: str, tmp_path: Path
) -> None:
    account = await _account()
    await _jobs(account, "job-a")
    spool = tmp_path / "spool"
    spool.mkdir()
    day = datetime.now(UTC).date().isoformat()
    # A process that died: its active file (no lock holds it), a full file it had counted but not yet
    # deleted, and a fresh file it died creating.
    (spool / "999-dead-7.active").write_text(f"{account.id}\tview\t{day}\tjob-a\n" * 3)
    (spool / "999-dead-6.full").write_text(f"{account.id}\tapply\t{day}\tjob-a\n")
    await models.PixelBatch.create(name="999-dead-6.full", hits=1)
    (spool / "999-dead-8.new").write_bytes(b"")
    first, second = PixelCounter(spool, 0.05), PixelCounter(spool, 0.05)
    await asyncio.gather(first.start(), second.start())
    await asyncio.gather(first.stop(), second.stop())
    assert await models.PixelCount.all().values_list("ats_job_id", "views", "applies") == [("job-a", 3, 0)]
    assert list(spool.iterdir()) == []


async def test_an_active_spool_file_is_locked_before_others_can_see_it(migrated: str, tmp_path: Path) -> None:
    counter = PixelCounter(tmp_path / "spool", 3600)
    await counter.start()
    try:
        names = [path.name for path in (tmp_path / "spool").iterdir()]
        [name] = names
        assert name.endswith(".active")
        probe = os.open(tmp_path / "spool" / name, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(probe)
    finally:
        await counter.stop()


async def test_hits_for_ids_the_account_never_had_are_one_row(migrated: str, tmp_path: Path) -> None:
    account = await _account()
    await _jobs(account, "known")
    counter = PixelCounter(tmp_path / "spool", 3600)
    await counter.start()
    for n in range(300):
        counter.hit(account.id, "view", f"random-{n}")
    counter.hit(account.id, "apply", "known")
    await counter.stop()
    assert sorted(await models.PixelCount.all().values_list("ats_job_id", "views", "applies")) == [
        (UNKNOWN_JOB, 300, 0),
        ("known", 0, 1),
    ]


async def test_a_full_spool_drops_hits_until_it_is_counted(migrated: str, tmp_path: Path) -> None:
    """While nothing can be counted (the database away), the spool stops at max_spool_bytes: a flood then
    cannot fill the disk. The hits are dropped and counted as such; once counted, the spool takes hits."""
    account = await _account()
    await _jobs(account, "job")
    counter = PixelCounter(tmp_path / "spool", 3600, max_spool_bytes=2000)
    await counter.start()
    dropped = PIXEL_HITS_DROPPED._value.get()
    try:
        accepted = sum(counter.hit(account.id, "view", "job") for _ in range(500))
        assert 2000 / 40 <= accepted < 500  # a line is about 30 bytes
        assert PIXEL_HITS_DROPPED._value.get() - dropped == 500 - accepted
        assert sum(path.stat().st_size for path in (tmp_path / "spool").iterdir()) < 2100
        assert await counter.flush() == accepted
        assert counter.hit(account.id, "view", "job")
    finally:
        await counter.stop()
    assert await models.PixelCount.all().values_list("views", flat=True) == [accepted + 1]


def test_spool_lines_split_on_newlines_only_and_drop_nul(tmp_path: Path) -> None:
    from hub.pixels import _read_spool

    spool = tmp_path / "x.full"
    spool.write_bytes(
        b"1\tview\t2026-11-23\tjob\x0bone\n"  # a vertical tab inside an id must not cut the line
        b"1\tapply\t2026-11-23\tjob\xe2\x80\xa8two\n"  # nor a U+2028
        b"1\tview\t2026-11-23\tbad\x00id\n"  # a NUL (old spools): dropped
        b"1\tview\t2026-11-23\tcut"  # the last write, cut by a crash: no newline, still whole fields
    )
    counts = _read_spool(spool)
    assert counts[(1, "view", "2026-11-23", "job\x0bone")] == 1
    assert counts[(1, "apply", "2026-11-23", "job\u2028two")] == 1
    assert not any("\x00" in key[3] for key in counts)
