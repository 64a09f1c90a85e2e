"""Counting pixel hits without a database write per hit, and without losing one.

Each hit is appended, as one line, to this process's spool file with a single ``write`` system call before
the GIF is answered: the bytes are in the operating system's hands then, so they survive the process
being killed. Every ``flush_seconds`` the spool file is swapped for a fresh one and every full file is
added to the per-job, per-day counts in one transaction that also records the file's name, so a crash
between the commit and the file's removal can never count it twice. Files a dead process left behind
(no longer locked) are counted by whichever process flushes next; replicas may share the folder.

Anyone can send hits, so what they can make the hub keep is bounded twice over. Hits for a job id the
account never had are counted in one row per account and day (:data:`UNKNOWN_JOB`), never one row per id:
random ids cannot grow the table. And the spool stops taking hits (counted as dropped) once the files
waiting to be counted exceed ``max_spool_bytes``: during a long database outage under a flood, the disk
fills to that and no further.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import uuid
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from hub import models
from hub.db import is_outage
from hub.logs import QuietLog
from hub.metrics import PIXEL_HITS_DROPPED, PIXEL_HITS_UNKNOWN

_LOGGER = logging.getLogger(__name__)
_QUIET = QuietLog(_LOGGER)

KINDS = ("view", "apply")
#: Longest job id counted; longer ones are not job ids of any ATS we know, and are refused.
MAX_JOB_ID = 255
#: The ``ats_job_id`` under which hits for ids the account never had are counted (no ATS id is empty).
UNKNOWN_JOB = ""
#: Job ids looked up per query when a spool file is counted.
_LOOKUP_CHUNK = 500
#: Tries to count one spool file when another process's concurrent flush conflicts with ours.
_COUNT_ATTEMPTS = 3
_ACTIVE, _FULL, _NEW = ".active", ".full", ".new"


class PixelCounter:
    """Spools hits to disk at once and adds them to ``pixel_counts`` in batches."""

    def __init__(self, spool_dir: Path, flush_seconds: float, max_spool_bytes: int = 256 * 2**20) -> None:
        self.spool_dir = spool_dir
        self.flush_seconds = flush_seconds
        self.max_spool_bytes = max_spool_bytes
        #: Bytes of spool files waiting to be counted, as of the last flush, plus what this process
        #: has written since: once over ``max_spool_bytes`` (the database away for long), hits are dropped.
        self._spooled = 0
        self._prefix = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._sequence = 0
        self._fd = -1
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- the hot path -----------------------------------------------------------------------------------

    def hit(self, account_id: int, kind: str, job_id: str) -> bool:
        """Record one hit durably (one ``write``); False when the spool is full and the hit was dropped.

        ``job_id`` must hold no tab or line break.
        """
        if self._spooled > self.max_spool_bytes:
            PIXEL_HITS_DROPPED.inc()
            return False
        day = datetime.now(UTC).date().isoformat()
        self._spooled += os.write(self._fd, f"{account_id}\t{kind}\t{day}\t{job_id}\n".encode())
        return True

    # --- life cycle -------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Count what dead processes left behind, open this process's spool file, start flushing."""
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        await self._count_spooled()
        self._open_new()
        self._task = asyncio.create_task(self._flush_loop(), name="pixel-flush")

    async def stop(self) -> None:
        """Flush everything (also what arrived during shutdown) and close the spool."""
        self._stop.set()
        if self._task is not None:
            await self._task  # it finishes the flush in hand, never cut mid-transaction
        try:
            await self.flush()  # if this fails, the files stay for the next process to count
        finally:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            (self.spool_dir / f"{self._prefix}-{self._sequence}{_ACTIVE}").unlink(missing_ok=True)

    async def flush(self) -> int:
        """Swap the spool file for a fresh one and count every full one; returns the hits counted."""
        self._open_new()
        return await self._count_spooled()

    async def _flush_loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.flush_seconds)
            if self._stop.is_set():
                return
            try:
                await self.flush()
            except Exception as error:  # the database may be away: the files wait on disk
                outage = is_outage(error)
                _QUIET.log(logging.WARNING if outage else logging.ERROR, outage,
                           "counting pixel hits failed (%s); they stay spooled", type(error).__name__,
                           exc_info=not outage)  # fmt: skip

    # --- files ------------------------------------------------------------------------------------------

    def _open_new(self) -> None:
        """Start a new active file, renaming the previous one as full."""
        if self._fd >= 0:
            active = self.spool_dir / f"{self._prefix}-{self._sequence}{_ACTIVE}"
            active.rename(active.with_suffix(_FULL))
            os.close(self._fd)
            self._fd = -1
        self._sequence += 1
        path = self.spool_dir / f"{self._prefix}-{self._sequence}{_ACTIVE}"
        # Created and locked under a name no other process looks at, then renamed: an active file is
        # locked from the moment it is seen, or another process's flush would take it for a dead one's.
        fresh = path.with_suffix(_NEW)
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            # The lock tells other processes this file's owner is alive; the kernel drops it on death.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fresh.rename(path)
        except BaseException:
            os.close(fd)
            fresh.unlink(missing_ok=True)
            raise
        self._fd = fd

    async def _count_spooled(self) -> int:
        try:
            return await self._count_spooled_files()
        finally:
            # What is still waiting (the database away: everything) bounds what the hot path may add.
            self._spooled = await asyncio.to_thread(_folder_bytes, self.spool_dir)

    async def _count_spooled_files(self) -> int:
        total = 0
        for path in await asyncio.to_thread(lambda: sorted(self.spool_dir.iterdir())):
            if path.suffix == _NEW and not path.name.startswith(self._prefix) and _unlocked(path):
                path.unlink(missing_ok=True)  # its process died before writing to it: empty
                continue
            if path.suffix == _ACTIVE and not path.name.startswith(self._prefix) and _unlocked(path):
                # Its process died: its hits are as good as any.
                with contextlib.suppress(FileNotFoundError):  # another process got there first
                    path.rename(path.with_suffix(_FULL))
                path = path.with_suffix(_FULL)
            if path.suffix == _FULL:
                with contextlib.suppress(FileNotFoundError):
                    total += await self._count_file(path)
        return total

    async def _count_file(self, path: Path) -> int:
        counts = await asyncio.to_thread(_read_spool, path)
        hits = sum(counts.values())
        if counts:
            counts = await _bucket_unknown(counts)
        for attempt in range(1, _COUNT_ATTEMPTS + 1):
            if not counts:
                break
            try:
                async with in_transaction():
                    if await models.PixelBatch.exists(name=path.name):
                        hits = 0  # counted before a crash kept us from deleting the file
                    else:
                        await _add_counts(counts)
                        await models.PixelBatch.create(name=path.name, hits=hits)
                break
            except IntegrityError:
                # Rolled back whole. Either another process counted this very file meanwhile (its
                # batch name is taken: the next round sees it), or it created a day's first row for a
                # job we add to as well (the next round adds to that row).
                if attempt == _COUNT_ATTEMPTS:
                    raise
        await asyncio.to_thread(path.unlink, missing_ok=True)  # another process may have got there first
        return hits


def _read_spool(path: Path) -> Counter[tuple[int, str, str, str]]:
    counts: Counter[tuple[int, str, str, str]] = Counter()
    # Lines end with "\n" only: splitlines() would also cut at \x0b, \x85 or U+2028 inside a job id.
    for line in path.read_bytes().decode(errors="replace").split("\n"):
        parts = line.split("\t")
        # A line cut mid-write is dropped, and so is a NUL (which PostgreSQL cannot store) from an old spool.
        if len(parts) == 4 and parts[0].isdigit() and parts[1] in KINDS and "\x00" not in line:
            counts[(int(parts[0]), parts[1], parts[2], parts[3])] += 1
    return counts


def _folder_bytes(folder: Path) -> int:
    total = 0
    for path in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):  # counted and removed by another process meanwhile
            total += path.stat().st_size
    return total


def _unlocked(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


async def _known_ids(counts: Counter[tuple[int, str, str, str]]) -> set[tuple[int, str]]:
    """The ``(account, job id)`` pairs of ``counts`` that name a job the account has (open or closed)."""
    wanted: dict[int, set[str]] = {}
    for account_id, _, _, job_id in counts:
        wanted.setdefault(account_id, set()).add(job_id)
    known: set[tuple[int, str]] = set()
    for account_id, ids in wanted.items():
        ordered = sorted(ids)
        for start in range(0, len(ordered), _LOOKUP_CHUNK):
            chunk = ordered[start : start + _LOOKUP_CHUNK]
            found = await models.Job.filter(account_id=account_id, ats_id__in=chunk).values_list(
                "ats_id", flat=True
            )
            known.update((account_id, ats_id) for ats_id in found)
    return known


async def _bucket_unknown(counts: Counter[tuple[int, str, str, str]]) -> Counter[tuple[int, str, str, str]]:
    """``counts`` with every id the account never had counted under :data:`UNKNOWN_JOB` instead."""
    known = await _known_ids(counts)
    bucketed: Counter[tuple[int, str, str, str]] = Counter()
    for (account_id, kind, day, job_id), n in counts.items():
        if (account_id, job_id) not in known:
            # Any id can be sent: one row per account and day for all of them, never one row per id.
            PIXEL_HITS_UNKNOWN.labels(kind).inc(n)
            job_id = UNKNOWN_JOB
        bucketed[(account_id, kind, day, job_id)] += n
    return bucketed


async def _add_counts(counts: Counter[tuple[int, str, str, str]]) -> None:
    merged: dict[tuple[int, str, str], dict[str, int]] = {}
    for (account_id, kind, day, job_id), n in counts.items():
        slot = merged.setdefault((account_id, job_id, day), {"views": 0, "applies": 0})
        slot["views" if kind == "view" else "applies"] += n
    # In key order: two processes adding to the same rows lock them in the same order, never deadlock.
    for (account_id, job_id, day), added in sorted(merged.items()):
        updated = await models.PixelCount.filter(
            account_id=account_id, ats_job_id=job_id, day=date.fromisoformat(day)
        ).update(views=F("views") + added["views"], applies=F("applies") + added["applies"])
        if not updated:
            await models.PixelCount.create(
                account_id=account_id, ats_job_id=job_id, day=date.fromisoformat(day), **added
            )
