"""Prebuilt feed files: each account's feed built once per version, plain and gzip, and served from disk.

**Plain first.** A build with nothing to copy from (a cold build: no previous version, one rendered in
another context, or one without jobs) writes the plain file alone and publishes the version as soon as it
is complete (a small feed's waits the milliseconds its gzip file takes, :data:`SMALL_FEED`): its manifest
records the gzip file as still to come (``gzip_bytes`` null), and so does its index (null gzip lengths).
The gzip file is then written in the background from the plain file and the
index (:func:`_gzip_version`: the same bytes a build writing both at once writes), under a temporary name
moved into place, followed by the full index and the manifest, each replaced whole. Until then a client
taking gzip gets the plain file with the plain ETag (:mod:`hub.views.feeds`). A failure is logged, the
plain file served, and the next request after :data:`RETRY_SECONDS` writes it again; a process ended
mid-gzip leaves a version whose manifest still says "to come": the next run serves its plain file and
writes the gzip file again on the first request. A rebuild (with a previous version to copy from) first
waits for that version's gzip file, whose index it copies by, and writes both files together.

**Artifacts.** A version's feed is two files in ``[feed] cache_dir``/ACCOUNT/, named by the version's ETag:
``KEY.xml`` and ``KEY-gzip.xml.gz`` (not ``KEY.xml.gz``: aiohttp's FileResponse would pick that sibling by
itself for any ``Accept-Encoding`` naming gzip, even ``gzip;q=0``). Each file is written under a temporary
name and moved into place with :func:`os.replace`; ``KEY.json``, the manifest, is moved in last, and only a
version whose manifest exists (and whose files have the sizes it records: the plain one, and the gzip one
once it records it) is ever served, so a build that fails or a process killed mid-build leaves the previous
version served and nothing half-written. The files'
mtime is the version's Last-Modified. Once a version is complete the account's older files are deleted,
but for the previous version's two files: renamed ``spare-plain`` and ``spare-gzip`` (no version: nothing
serves them), they are what the next build overwrites (below).

**Determinism.** The document depends only on the version (``lastBuildDate`` is its Last-Modified) and the
gzip file has no timestamp or name in its header, so replicas build byte-identical files for one version
and serve them with one ETag each (the gzip one ending ``-gzip"``), computed by :func:`hub.feed.validators`.
A version is a set of jobs too: every change to an account's jobs moves its version in the same
transaction (:func:`hub.accounts.changing_feed`), and a build reads the version and its jobs in one
snapshot on PostgreSQL (:func:`hub.db.snapshot`); on SQLite, which has no snapshot to spare, a build whose
version moved before it was published is thrown away and the newer version built (up to
:data:`BUILD_ATTEMPTS` times, the last kept whatever happens, so a feed is served during a long sync).

**Incremental rebuilds.** The previous version's files are the fragment store: its index, ``KEY.index``
(:mod:`hub.feed_index`), lists each job's key and the length of its bytes in both files, in the feed's
order (by id). A job's key is its id, ``ats_id``, ``content_hash`` (the digest of every stored column that
sync keeps, :func:`hub.sync._digest`) and ``bid_cents``; the index also records the context the jobs were
rendered in (:func:`_context`: the hub's release, the company name a job falls back on, and the plugins
adding elements, by name and version, with the account and options they are handed). The
``appcast_hub_feed_job_elements`` contract says a plugin's answer depends on its arguments alone (the
account, its options, the job, its bid), so within one context a key names a job's bytes whatever plugins
are active, and another context renders every job again.
The gzip file is a single gzip member whose deflate stream is the head, each job and the tail each
compressed on its own and ended on a byte boundary (``Z_SYNC_FLUSH``), then an empty final block and the
CRC. A job's compressed bytes depend on that job and the one before it (its deflate dictionary: jobs of one
employer share much text), so they are copied when both are unchanged and compressed again otherwise.
A rebuild first reads only the jobs' keys (:data:`KEY_COLUMNS`, all in the covering index
``models.FEED_KEY_INDEX``: no row is read), a batch at a time. A batch equal to the previous index's
entries for the same ids (a change being a few jobs, nearly every batch) is handed over as one run of
places, in one step: the file thread copies its bytes in the kernel and slices its entries from the
previous index, with no Python step per job. Only a batch holding a change is looked at job by job: its
unchanged jobs copied in runs, the others read in full and rendered. Nothing else is stored: no table, no
second copy of the fragments, and a restart loses nothing.

**Writing.** The loop reads and renders; a thread of its own writes the files in order (appending, the
CRC, copying unchanged runs, the index), and the gzip file written after a cold build's plain one is
deflated by :data:`DEFLATERS` threads (deflate, the CRC and file I/O release the GIL): while the plain file
is written, nothing competes with rendering for the cores. Filling a new file costs this VM's ext4 five to
ten times what overwriting a file whose pages the kernel holds costs, so a build writes into the spare
files when nobody has them open any more (:func:`_recycled`: a write lease tells; a slow client may still be
sending that version), and into new files otherwise (while a spare is still being sent, or before the
copies below are done). The gzip file written after a cold build's plain one is a new file, leaving the
spare to the next rebuild. Disk use is then two versions' files per account, at all times.
A version published while its folder has no spares (a cold build, a start without them, or a build that
found its spare in use) is copied to new spares in the background, by one thread for all accounts, at the
lowest CPU priority and a buffer at a time, so that the next rebuild overwrites in place too: a build
starting stops that copy (it ends at the next buffer, its temporary file deleted), and a failed copy is
logged and changes nothing served.

**Single flight.** One build per account at a time (and no gzip file written meanwhile); every request
that needs a version not on disk waits for that build (a client that leaves does not cancel it: it runs as
its own task, awaited through :func:`asyncio.shield`). A failed build is logged and not retried for
:data:`RETRY_SECONDS`, meanwhile the previous version is served; with no previous version the request fails.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import itertools
import json
import logging
import operator
import os
import signal
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from hub import __version__, crc32, db, feed_index, models
from hub.accounts import LiveAccount, get_account
from hub.config import HubConfig
from hub.feed import BATCH, FEED_COLUMNS, FeedWriter, feed_rows, in_feed, validators
from hub.metrics import FEED_BYTES, FEED_JOBS, FEED_SECONDS
from hub.plugins import PluginHost

_LOGGER = logging.getLogger(__name__)

#: The compression level of the gzip files (zlib's default, as aiohttp's own compression used).
GZIP_LEVEL = 6
#: A gzip member header without name or timestamp (mtime 0, OS "unknown"): the same bytes on every host.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
#: An empty final deflate block: what ends the concatenated, byte-aligned pieces.
DEFLATE_END = b"\x03\x00"
#: How far back deflate may refer (32 KiB): of the previous job, only this much is a piece's dictionary.
DEFLATE_WINDOW = 1 << zlib.MAX_WBITS
#: Threads compressing a cold build's jobs (deflate releases the GIL): the machines this runs on have two
#: cores or more, and the loop rendering the jobs needs one of them only part of the time.
DEFLATERS = 2
#: Rows per query when a rebuild reads only the jobs' keys.
KEY_BATCH = 5 * BATCH
#: Plain bytes compressed at once when a cold build's gzip file is written after its plain one.
GZIP_CHUNK = 4 << 20
#: A cold build of a plain file smaller than this waits for its gzip file before it is served: about 1,700
#: jobs of 4 KB, whose gzip file takes a tenth of a second (a larger feed is served plain meanwhile).
SMALL_FEED = 8 << 20
#: Rendered bytes gathered before the file thread writes them.
COPY_CHUNK = 1 << 20
#: Bytes per read when copying unchanged jobs from the previous files: large, because the file thread
#: takes the GIL back only every switch interval while the loop renders, once per read.
COPY_BUFFER = 16 << 20
#: Batches waiting for the file thread before the loop waits for it (what they hold is in memory).
QUEUED = 4
#: Unchanged bytes the file thread gathers into one run before copying them (at the next job whose prefix
#: CRC the index keeps): it copies while the loop reads the next keys, not all at the end.
RUN_BYTES = 32 << 20
#: Jobs between the prefix CRCs an index keeps. A copied run's CRC is joined from the CRCs at its ends
#: (:mod:`hub.crc32`), so a rebuild reads no unchanged byte to compute the gzip trailer: at most this many
#: jobs' bytes at each end of a run, where it starts or stops between two of them.
CHECKPOINT_EVERY = 500
#: After a failed build, how long the previous version is served before the build is tried again.
RETRY_SECONDS = 30.0
#: Builds of an account's feed, one after another, while its version keeps moving under them (SQLite).
BUILD_ATTEMPTS = 3
#: The hook whose answers are part of a job's bytes.
ELEMENTS_HOOK = "appcast_hub_feed_job_elements"
#: The files of the version before the previous one, kept to be overwritten by the next build
#: (:func:`_recycled`): plain, gzip.
SPARES = ("spare-plain", "spare-gzip")
#: What a rebuild reads of every job: its key, the id first. All in the covering ``models.FEED_KEY_INDEX``,
#: so the database reads no row (SQLite read through each 4 KB description to reach ``content_hash``).
KEY_COLUMNS = ("id", "ats_id", "content_hash", "bid_cents")
#: An index's columns: each job's key (:data:`KEY_COLUMNS`), the length of its bytes in the plain file and
#: in the gzip file, and the plain file's CRC-32 up to its end (null but every
#: :data:`CHECKPOINT_EVERY` th job). An index with other columns (an older hub's) is not copied from.
INDEX_COLUMNS = (*KEY_COLUMNS, "plain_length", "gzip_length", "prefix_crc")
INDEX = feed_index.Layout(INDEX_COLUMNS, text=frozenset({"ats_id", "content_hash"}))
_PLAIN, _GZIP, _CRC = (INDEX_COLUMNS.index(name) for name in ("plain_length", "gzip_length", "prefix_crc"))
ROW_COLUMNS = (*FEED_COLUMNS, "content_hash")
_ROW_HASH = ROW_COLUMNS.index("content_hash")
_ROW_BID = ROW_COLUMNS.index("bid_cents")


def deflate_piece(data: bytes, follows: bytes = b"") -> bytes:
    """``data`` deflated, ending on a byte boundary with no final block, so that pieces concatenate.

    ``follows``: the bytes just before ``data`` in the document (the previous job), which the piece may
    refer back to, as a stream compressor would: jobs of one employer share much of their text.
    """
    window = follows[-DEFLATE_WINDOW:]
    compressor = (
        zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, zdict=window)
        if window
        else zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    )
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


def _deflate_many(work: list[tuple[int, bytes, bytes]]) -> list[tuple[int, bytes]]:
    """``(position, job, the job before)`` → ``(position, the job's gzip piece)``."""
    return [(number, deflate_piece(job, before)) for number, job, before in work]


def gzip_etag(etag: str) -> str:
    """The gzip body's ETag for the plain body's (RFC 9110 8.8.3: each encoding is its own representation)."""
    return etag[:-1] + '-gzip"'


@dataclasses.dataclass(frozen=True, slots=True)
class Artifact:
    """One published version of an account's feed on disk: its plain file, and its gzip file once
    :attr:`gzip_ready`."""

    key: str
    version: int
    #: The plain body's ETag; the gzip body's is :attr:`gzip_etag`.
    etag: str
    last_modified: datetime
    plain: Path
    gzip: Path
    jobs: int
    #: Is the gzip file published? A cold build publishes the plain file first (:meth:`FeedCache._gzip`).
    gzip_ready: bool

    @property
    def gzip_etag(self) -> str:
        """The gzip body's own strong validator."""
        return gzip_etag(self.etag)

    @property
    def index(self) -> Path:
        """The job index that lets the next version copy this one's unchanged jobs."""
        return self.plain.with_name(self.key + ".index")


#: A job's key: id, ats_id, content_hash, bid_cents (:data:`KEY_COLUMNS`, as the database returns them).
#: With the context (:func:`_context`), all its bytes depend on (the id is there to line jobs up by).
_JobKey = tuple[Any, ...]
#: What the loop hands the file thread, in the document's order: a job rendered here (its key and bytes),
#: or the places of consecutive jobs of the previous version whose keys are unchanged.
_Item = tuple[_JobKey, bytes] | range


@dataclasses.dataclass(frozen=True, slots=True)
class _Previous:
    """What a rebuild copies from: the previous version's index by place (the jobs in the feed's order, by
    id), where each job starts in both files, and the prefix CRCs its index keeps: the CRC-32 of the plain
    file up to the end of about every :data:`CHECKPOINT_EVERY` th job."""

    #: The index's columns (:data:`INDEX_COLUMNS`), by place: a copied run's entries are slices of them,
    #: and a batch of keys read is compared with slices of the key columns (tuples, as a batch of rows
    #: turned into columns is), a column at a time.
    columns: list[tuple[Any, ...]]
    #: Where each job starts in the plain file and in the gzip file, by place, and then where the last ends.
    plain_at: list[int]
    gzip_at: list[int]
    checkpoints: dict[int, int]
    #: The places of :attr:`checkpoints`, in order (for :func:`bisect.bisect`).
    checkpointed: list[int]

    @property
    def ids(self) -> tuple[int, ...]:
        """The jobs' ids by place: ascending, as the feed lists them."""
        return self.columns[0]

    def key(self, place: int) -> _JobKey | None:
        """The key of the job at ``place`` (None before the first)."""
        return tuple(column[place] for column in self.columns[: len(KEY_COLUMNS)]) if place >= 0 else None

    def holds(self, places: range, keys: Sequence[tuple[Any, ...]]) -> bool:
        """Are ``keys`` (a batch's, by column) the keys of the jobs at ``places``, in order?"""
        return all(
            self.columns[column][places.start : places.stop] == values for column, values in enumerate(keys)
        )


def artifact_key(account: LiveAccount) -> str:
    """The name of the account's current version's files: its ETag's hex digits."""
    return validators(account)[0].strip('"')


class _Output:
    """The new version's two files being written, and its job index, from rendered and copied jobs.

    The loop only hands jobs over: a thread of its own compresses the rendered ones, copies the unchanged
    runs, carries the CRC and writes the index, in order. Deflate, the CRC and the file I/O release the
    GIL, so on two cores that work overlaps with reading the database and rendering.
    """

    def __init__(
        self, folder: Path, key: str, previous: Artifact | None, jobs: _Previous | None, *, gzip: bool
    ) -> None:
        stem = f".{key}.{os.getpid()}"
        self.temporary = [folder / f"{stem}.xml.tmp", folder / f"{stem}.gz.tmp", folder / f"{stem}.index.tmp"]
        self._plain, plain_recycled = _recycled(folder / SPARES[0], self.temporary[0])
        self.recycled = int(plain_recycled)
        # Without the gzip file (a cold build: plain first), the index's gzip lengths are None until
        # _gzip_version writes the gzip file from the plain one.
        self._gzip: IO[bytes] | None = None
        if gzip:
            self._gzip, gzip_recycled = _recycled(folder / SPARES[1], self.temporary[1])
            self.recycled += gzip_recycled
        # The index is written as it grows, a batch at a time: 100,000 jobs' keys held until the end
        # were most of a build's memory.
        self._index: IO[bytes] = self.temporary[2].open("wb")
        self._sources = (previous.plain.open("rb"), previous.gzip.open("rb")) if previous else None
        self._previous = jobs
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="feed-files")
        self._deflaters = ThreadPoolExecutor(DEFLATERS, thread_name_prefix="feed-deflate")
        self._queued: collections.deque[Future[None]] = collections.deque()
        self._jobs: list[_Item] = []  # handed over to the thread in batches
        self._jobs_bytes = 0
        # What only the thread touches from here on. The CRC of the plain bytes so far (a pending run's
        # excluded: it is joined in when the run is copied).
        self._crc = 0
        self._since_checkpoint = 0
        self.plain_bytes = 0
        self.gzip_bytes = 0
        self.job_count = 0
        self.rendered = 0
        self.recompressed = 0
        # The index's jobs, as columns (INDEX_COLUMNS), written a batch at a time (hub.feed_index): a copied
        # run's entries are slices of the previous index's.
        self._columns: list[list[Any]] = [[] for _ in INDEX_COLUMNS]
        self._copy_buffer = bytearray(COPY_BUFFER)
        # The pending copy: plain offset, length, gzip offset, length, the place of its last job in the
        # previous file, and the CRC so far XOR the previous file's prefix CRC before its first job.
        self._run: list[int] | None = None
        # The last job written, what the next one's gzip bytes refer back to: its key, and its plain bytes
        # or its place in the previous version (its bytes read only when the next job is compressed here).
        self._last_key: _JobKey | None = None
        self._last: bytes | int = b""
        self._buffers = (bytearray(), bytearray())
        self._submit(self._write, b"", GZIP_HEADER if gzip else b"")

    # --- the loop's side ---------------------------------------------------------------------------

    def begin(self, head: bytes, context: str) -> None:
        """Write the document's head, and the index's: what its jobs were rendered in, where they start."""
        self._submit(self._begin, head, context)

    def render(self, key: _JobKey, plain: bytes) -> None:
        """A job rendered here: the thread compresses it (a cold build's jobs, gathered by the byte)."""
        self._jobs.append((key, plain))
        self._jobs_bytes += len(plain)
        if self._jobs_bytes >= COPY_CHUNK or len(self._jobs) >= KEY_BATCH:
            self._hand_jobs()

    def add(self, items: list[_Item], rendered_bytes: int) -> None:
        """Jobs in order, rendered (their bytes, ``rendered_bytes`` in all) or runs of the previous
        version's (the thread copies their bytes), handed over at once: one step per batch of keys, not per
        job, on a rebuild's path."""
        self._jobs += items
        self._jobs_bytes += rendered_bytes
        self._hand_jobs()

    def _hand_jobs(self) -> None:
        if self._jobs:
            self._submit(self._add_jobs, self._jobs)
            self._jobs, self._jobs_bytes = [], 0

    def _submit(self, work: Callable[..., None], *args: Any) -> None:
        self._queued.append(self._thread.submit(work, *args))
        while self._queued and self._queued[0].done():
            self._queued.popleft().result()  # raises what the thread raised

    async def drain(self) -> None:
        """Wait until few batches wait for the thread (bounded memory), the loop free meanwhile: a build
        must not stall the requests the process serves."""
        while len(self._queued) > QUEUED:
            await asyncio.wrap_future(self._queued.popleft())

    async def finish(self, tail: bytes) -> None:
        """Write the tail and the gzip trailer, and the end of the index; close the files."""
        self._hand_jobs()
        self._submit(self._end, tail)
        while self._queued:
            await asyncio.wrap_future(self._queued.popleft())
        self.close()

    @property
    def gzipping(self) -> bool:
        """Does this build write the gzip file too (a rebuild), or the plain one alone (a cold build)?"""
        return self._gzip is not None

    def close(self) -> None:
        self._thread.shutdown(wait=True)  # a failed build: what was queued ends before the files close
        self._deflaters.shutdown(wait=True)
        self._plain.close()
        if self._gzip is not None:
            self._gzip.close()
        self._index.close()
        if self._sources is not None:
            for source in self._sources:
                source.close()

    # --- the thread's side -------------------------------------------------------------------------

    def _begin(self, head: bytes, context: str) -> None:
        head_gzip = deflate_piece(head) if self.gzipping else None
        head_lengths = [len(head), None if head_gzip is None else len(head_gzip)]
        self._index.write(INDEX.header({"context": context, "head": head_lengths}))
        self._write(head, head_gzip or b"")

    def _add_jobs(self, items: list[_Item]) -> None:
        pieces = self._deflate_rendered(items)
        for number, item in enumerate(items):
            if isinstance(item, range):
                self._add_copied(item)
            else:
                self._add_compressed(*item, pieces.get(number))
                self.rendered += 1
        if len(self._buffers[0]) >= COPY_CHUNK:
            self._flush_buffers()

    def _deflate_rendered(self, items: list[_Item]) -> dict[int, bytes]:
        """The gzip pieces of the rendered jobs that follow a rendered job, by position, compressed by
        :data:`DEFLATERS` threads at once: a piece depends on its job and the one before alone, and deflate
        is most of a cold build's work."""
        work: list[tuple[int, bytes, bytes]] = []
        before: bytes | None = self._last_plain() if isinstance(self._last, bytes) else None
        for number, item in enumerate(items):
            if isinstance(item, range):
                before = None  # copied jobs: what follows them is compressed in order, from their bytes
            else:
                if before is not None:
                    work.append((number, item[1], before))
                before = item[1]
        if len(work) < 2 * DEFLATERS or not self.gzipping:
            return {}  # a rebuild's few jobs: not worth the threads' round trip
        share = -(-len(work) // DEFLATERS)
        parts = self._deflaters.map(
            _deflate_many, [work[at : at + share] for at in range(0, len(work), share)]
        )
        return {number: piece for part in parts for number, piece in part}

    def _add_compressed(self, key: _JobKey, plain: bytes, gzip: bytes | None = None) -> None:
        self._flush_run()
        if gzip is None and self.gzipping:
            gzip = deflate_piece(plain, self._last_plain())
        self._buffers[0].extend(plain)
        self._buffers[1].extend(gzip or b"")
        self._crc = zlib.crc32(plain, self._crc)
        checkpoint = self._crc if self._since_checkpoint >= CHECKPOINT_EVERY - 1 else None
        self._add_entry(key, len(plain), None if gzip is None else len(gzip), checkpoint)
        self._last_key, self._last = key, plain

    def _add_copied(self, places: range) -> None:
        """Consecutive jobs of the previous version, unchanged: their bytes joined to the pending run (copied
        at the end of it), their index entries sliced from the previous index's, their prefix CRCs moved
        from the previous file's, a run of jobs at a time between two of them."""
        previous = self._previous
        assert previous is not None  # copied jobs come from a previous version
        first, stop = places.start, places.stop
        if previous.key(first - 1) != self._last_key:
            # Its bytes are the same but the job before it is not: its gzip piece referred back to that one.
            at = previous.plain_at[first]
            key = previous.key(first)
            assert key is not None
            self._add_compressed(key, self._read(at, previous.plain_at[first + 1] - at))
            self.recompressed += 1
            first += 1
        checkpointed = previous.checkpointed
        while first < stop:
            # Up to the next job whose prefix CRC the index keeps (its own CRC is then known here too),
            # or to the end of the places.
            following = bisect.bisect_left(checkpointed, first)
            end = min(stop, checkpointed[following] + 1) if following < len(checkpointed) else stop
            self._join_run(first, end)
            self._last_key, self._last = previous.key(end - 1), end - 1

            columns, copied = self._columns, previous.columns
            for column in range(_CRC):
                columns[column] += copied[column][first:end]
            prefix_crcs: list[int | None] = [None] * (end - first)
            kept = previous.checkpoints.get(end - 1)
            run = self._run
            assert run is not None
            if kept is not None:
                # The previous file's prefix CRC here, moved to where the run puts this job (hub.crc32).
                prefix_crcs[-1] = crc32.shift(run[5], run[1]) ^ kept
                self._since_checkpoint = 0
            else:
                self._since_checkpoint += end - first
            columns[_CRC] += prefix_crcs
            self.job_count += end - first
            if len(columns[0]) >= KEY_BATCH:
                self._write_entries()
            if kept is not None and run[1] >= RUN_BYTES:
                self._flush_run()  # here the next run starts at a known prefix CRC: nothing to read for it
            first = end

    def _join_run(self, first: int, end: int) -> None:
        """Add the previous version's jobs ``first`` to ``end`` (excluded) to the pending run, or flush that
        and start another when they do not follow it in the previous files."""
        previous = self._previous
        assert previous is not None
        plain_at, gzip_at = previous.plain_at[first], previous.gzip_at[first]
        plain_length, gzip_length = previous.plain_at[end] - plain_at, previous.gzip_at[end] - gzip_at
        run = self._run
        if run is not None and run[0] + run[1] == plain_at and run[2] + run[3] == gzip_at:
            run[1] += plain_length
            run[3] += gzip_length
            run[4] = end - 1
        else:
            self._flush_run()
            self._run = [plain_at, plain_length, gzip_at, gzip_length, end - 1,
                         self._crc ^ self._previous_prefix(first - 1)]  # fmt: skip

    def _last_plain(self) -> bytes:
        if self._last_key is None:
            return b""  # the first job refers to nothing: the head before it changes with every version
        if isinstance(self._last, bytes):
            return self._last
        assert self._previous is not None
        at, end = self._previous.plain_at[self._last], self._previous.plain_at[self._last + 1]
        return self._read(max(at, end - DEFLATE_WINDOW), min(end - at, DEFLATE_WINDOW))

    def _read(self, at: int, length: int) -> bytes:
        assert self._sources is not None  # only copied jobs are read back, and only with a previous version
        return _pread(self._sources[0], at, length)

    def _write(self, plain: bytes, gzip: bytes) -> None:
        self._flush_run()
        self._crc = zlib.crc32(plain, self._crc)
        self._buffers[0].extend(plain)
        self._buffers[1].extend(gzip)
        self._flush_buffers()

    def _flush_buffers(self) -> None:
        plain, gzip = self._buffers
        self._plain.write(plain)
        if self._gzip is not None:
            self._gzip.write(gzip)
        self.plain_bytes += len(plain)
        self.gzip_bytes += len(gzip)
        plain.clear()
        gzip.clear()

    def _flush_run(self) -> None:
        if self._run is None:
            return
        self._flush_buffers()
        plain_at, plain_length, gzip_at, gzip_length, last, difference = self._run
        # Runs are copied by rebuilds alone, which write both files.
        assert self._sources is not None
        assert self._gzip is not None
        plain_source, gzip_source = self._sources
        _copy_span(plain_source, self._plain, plain_at, plain_length, self._copy_buffer)
        _copy_span(gzip_source, self._gzip, gzip_at, gzip_length, self._copy_buffer)
        # crc(so far + run) from crc(so far) and the previous file's prefix CRCs at the run's two ends:
        # shift(crc(so far) ^ prefix(before it), len(run)) ^ prefix(its end), with no byte of it read.
        self._crc = crc32.shift(difference, plain_length) ^ self._previous_prefix(last)
        self.plain_bytes += plain_length
        self.gzip_bytes += gzip_length
        self._run = None

    def _previous_prefix(self, place: int) -> int:
        """The previous plain file's CRC up to the end of its job at ``place`` (-1: the head): from the
        index's nearest prefix CRC before it and the bytes in between (at most :data:`CHECKPOINT_EVERY`
        jobs')."""
        previous = self._previous
        assert previous is not None
        assert self._sources is not None
        if place in previous.checkpoints:
            return previous.checkpoints[place]
        before = bisect.bisect_right(previous.checkpointed, place) - 1
        if before < 0:
            start, crc = 0, 0  # from the file's start: its head, then the jobs up to ``place``
        else:
            start = previous.plain_at[previous.checkpointed[before] + 1]
            crc = previous.checkpoints[previous.checkpointed[before]]
        end = previous.plain_at[place + 1]  # place -1, the head: where the first job starts
        return zlib.crc32(_pread(self._sources[0], start, end - start), crc)

    def _add_entry(
        self, key: _JobKey, plain_length: int, gzip_length: int | None, checkpoint: int | None
    ) -> None:
        for column, value in zip(self._columns, (*key, plain_length, gzip_length, checkpoint), strict=True):
            column.append(value)
        self._since_checkpoint = 0 if checkpoint is not None else self._since_checkpoint + 1
        self.job_count += 1
        if len(self._columns[0]) >= KEY_BATCH:
            self._write_entries()

    def _write_entries(self) -> None:
        if self._columns[0]:
            self._index.write(INDEX.encode(self._columns))
            for column in self._columns:
                column.clear()

    def _end(self, tail: bytes) -> None:
        self._write_entries()
        if self._gzip is None:
            self._write(tail, b"")
            self._plain.truncate()  # a recycled file was longer
            return
        self._write(tail, deflate_piece(tail) + DEFLATE_END)
        self._gzip.write(_gzip_trailer(self._crc, self.plain_bytes))
        self.gzip_bytes += 8
        for file in (self._plain, self._gzip):
            file.truncate()


def _recycled(spare: Path, temporary: Path) -> tuple[IO[bytes], bool]:
    """``temporary`` open for writing, and whether it is the spare file: renamed to it when no process has
    the spare open.

    Overwriting a file whose pages the kernel holds costs a fraction of filling a new one (on ext4,
    0.16 s against 0.8 to 1.5 s for 480 MB on this VM), and the spare is the version before the previous,
    kept for this. A response may still be sending it (a slow client started before the last version
    was published): the kernel grants a write lease only on a file nobody else has open, and nothing opens
    the spare by its name, so the lease tells. Without it (in use, no spare, leases unsupported), a new file.
    """
    with contextlib.suppress(OSError):
        descriptor = os.open(spare, os.O_RDONLY)
        try:
            # Should anyone open the spare while the lease is held, the kernel signals the holder: SIGIO
            # by default, which ends the process. SIGURG is ignored unless handled.
            fcntl.fcntl(descriptor, fcntl.F_SETSIG, signal.SIGURG)
            fcntl.fcntl(descriptor, fcntl.F_SETLEASE, fcntl.F_WRLCK)
            fcntl.fcntl(descriptor, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        finally:
            os.close(descriptor)
        os.replace(spare, temporary)
        return temporary.open("r+b"), True
    return temporary.open("wb"), False


def _low_priority() -> None:
    """Run this thread at the lowest CPU priority (Linux: a thread's nice value is its own): the spare
    copies must not slow the builds and requests the process serves."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def _make_spares(copies: list[tuple[Path, Path]], stop: threading.Event) -> None:
    """Copy each source to its spare (those missing), a buffer at a time until ``stop`` is set.

    Written under a temporary name and moved into place whole: a build finds a complete spare or none.
    """
    buffer = bytearray(COPY_BUFFER)
    for source, spare in copies:
        if stop.is_set():
            return  # a build came first: its version's files may be gone already
        if spare.exists():
            continue
        temporary = spare.with_name(f".{spare.name}.{os.getpid()}.tmp")
        try:
            with source.open("rb") as reading, temporary.open("wb") as writing:
                size = os.fstat(reading.fileno()).st_size
                for at in range(0, size, COPY_BUFFER):
                    if stop.is_set():
                        return
                    _copy_range(reading, writing, at, min(COPY_BUFFER, size - at), buffer)
            if not stop.is_set():
                os.replace(temporary, spare)
        finally:
            temporary.unlink(missing_ok=True)


def _gzip_trailer(crc: int, plain_bytes: int) -> bytes:
    """What ends a gzip member: the CRC-32 and the size (modulo 2**32) of what it inflates to."""
    return struct.pack("<II", crc, plain_bytes & 0xFFFFFFFF)


def _gzip_version(artifact: Artifact, stop: threading.Event) -> int | None:
    """Write a published version's gzip file from its plain file and index, then its full index and its
    manifest; returns the gzip file's size, or None when ``stop`` was set first.

    The same bytes a build writing both files at once (:class:`_Output`) writes: the head, each job with the
    job before it as its deflate dictionary (the first with none), and the tail, each compressed on its
    own, the jobs by :data:`DEFLATERS` threads, :data:`GZIP_CHUNK` of plain bytes at a time.
    """
    folder = artifact.plain.parent
    stem = f".{artifact.key}.{os.getpid()}"
    temporary, index_temporary = folder / f"{stem}.gzip.tmp", folder / f"{stem}.gzip-index.tmp"
    # A new file, not the spare: that one stays for the next rebuild (the file is a seventh of the plain one).
    target = temporary.open("wb")
    try:
        with (
            target,
            artifact.plain.open("rb") as plain,
            index_temporary.open("wb") as index,
            ThreadPoolExecutor(DEFLATERS, "feed-deflate") as deflaters,
        ):
            record, batches = INDEX.decode(artifact.index.read_bytes())
            head = _pread(plain, 0, record["head"][0])
            head_gzip = deflate_piece(head)
            index.write(INDEX.header(record | {"head": [len(head), len(head_gzip)]}))
            target.write(GZIP_HEADER + head_gzip)
            size, crc, at, before = len(GZIP_HEADER) + len(head_gzip), zlib.crc32(head), len(head), b""
            for columns in batches:
                gzip_lengths = []
                for chunk in _chunks(columns[_PLAIN], GZIP_CHUNK):
                    if stop.is_set():
                        return None
                    data = _pread(plain, at, sum(chunk))
                    starts = itertools.accumulate(chunk, initial=0)
                    jobs = [
                        data[start : start + length] for start, length in zip(starts, chunk, strict=False)
                    ]
                    work = [
                        (number, job, jobs[number - 1] if number else before)
                        for number, job in enumerate(jobs)
                    ]
                    share = -(-len(work) // DEFLATERS)
                    shares = [work[first : first + share] for first in range(0, len(work), share)]
                    pieces = [piece for part in deflaters.map(_deflate_many, shares) for _, piece in part]
                    target.write(b"".join(pieces))
                    gzip_lengths += [len(piece) for piece in pieces]
                    size += sum(gzip_lengths[-len(pieces) :])
                    crc, at, before = zlib.crc32(data, crc), at + len(data), jobs[-1]
                columns[_GZIP] = gzip_lengths
                index.write(INDEX.encode(columns))
            plain_bytes = os.fstat(plain.fileno()).st_size
            tail = _pread(plain, at, plain_bytes - at)
            end = deflate_piece(tail) + DEFLATE_END + _gzip_trailer(zlib.crc32(tail, crc), plain_bytes)
            target.write(end)
        moment = artifact.last_modified.timestamp()
        os.utime(temporary, (moment, moment))
        os.replace(temporary, artifact.gzip)
        os.replace(index_temporary, artifact.index)
        _write_manifest(artifact, plain_bytes, size + len(end))
        return size + len(end)
    finally:
        temporary.unlink(missing_ok=True)
        index_temporary.unlink(missing_ok=True)


def _chunks(lengths: list[int], most: int) -> Iterator[list[int]]:
    """``lengths`` in consecutive runs of about ``most`` in total (one length more than ``most`` alone)."""
    run: list[int] = []
    total = 0
    for length in lengths:
        run.append(length)
        total += length
        if total >= most:
            yield run
            run, total = [], 0
    if run:
        yield run


async def _logged_spares(name: str, work: asyncio.Future[None]) -> None:
    """Await a spare copy; a failure is logged, nothing else: the next build writes new files instead."""
    try:
        await work
    except Exception:
        _LOGGER.exception("feed %s: making spare files failed; the next build writes new files", name)


def _pread(source: IO[bytes], at: int, length: int) -> bytes:
    """``length`` bytes of ``source`` from ``at``, without moving its position (threads share it)."""
    data = os.pread(source.fileno(), length, at)
    if len(data) != length:
        raise OSError(f"{source.name}: shorter than its index says")
    return data


def _copy_range(source: IO[bytes], target: IO[bytes], at: int, length: int, buffer: bytearray) -> None:
    """Append ``length`` bytes of ``source`` from ``at`` to ``target``, through one reused buffer."""
    view = memoryview(buffer)
    while length > 0:
        read = os.preadv(source.fileno(), [view[: min(len(buffer), length)]], at)
        if read == 0:
            raise OSError(f"{source.name}: shorter than its index says")
        target.write(view[:read])
        at, length = at + read, length - read


def _copy_span(source: IO[bytes], target: IO[bytes], at: int, length: int, buffer: bytearray) -> None:
    """Append ``length`` bytes of ``source`` from ``at`` to ``target``: in the kernel (``copy_file_range``,
    one call for a whole run, its pages never through Python), or through ``buffer`` on a file system that
    cannot."""
    target.flush()
    written = target.tell()
    try:
        while length > 0:
            copied = os.copy_file_range(source.fileno(), target.fileno(), length, at, written)
            if copied == 0:
                raise OSError(f"{source.name}: shorter than its index says")
            at, written, length = at + copied, written + copied, length - copied
    except OSError as error:
        if error.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise
        target.seek(written)
        _copy_range(source, target, at, length, buffer)
        return
    target.seek(written)  # the copy wrote at an offset: the file's own position follows it


def _read_index(previous: Artifact | None, context: str) -> _Previous | None:
    """The index of ``previous``: where each of its jobs is in its files, and its prefix CRCs; None when
    its jobs were rendered in another context (another company name, other plugins or options), it has
    none, or its index is unreadable or of another format."""
    if previous is None:
        return None
    try:
        index, batches = INDEX.decode(previous.index.read_bytes())  # another release's is refused
        head = index.get("head")
        if not (isinstance(head, list) and len(head) == 2 and all(isinstance(n, int) for n in head)):
            return None  # no gzip lengths yet (a cold build's, its gzip file to come), or unreadable
        columns: list[list[Any]] = [[] for _ in INDEX_COLUMNS]
        for batch in batches:
            for column, values in zip(columns, batch, strict=True):
                column.extend(values)
    except (OSError, ValueError):
        return None
    if index.get("context") != context or not columns[0]:
        return None  # rendered otherwise, or no job
    # No step per job in Python: this is on every rebuild's path before the first key.
    prefix_crcs = columns[_CRC]
    present = map(operator.is_not, prefix_crcs, itertools.repeat(None))
    checkpointed = list(itertools.compress(range(len(prefix_crcs)), present))
    checkpoints = dict(zip(checkpointed, (prefix_crcs[place] for place in checkpointed), strict=True))
    return _Previous(
        columns=[tuple(column) for column in columns],
        plain_at=list(itertools.accumulate(columns[_PLAIN], initial=head[0])),
        gzip_at=list(itertools.accumulate(columns[_GZIP], initial=len(GZIP_HEADER) + head[1])),
        checkpoints=checkpoints, checkpointed=checkpointed,
    )  # fmt: skip


def _context(account: LiveAccount, plugins: PluginHost) -> str:
    """What a job's bytes depend on besides its key: the company name it falls back on, and the plugins
    adding elements (by name and version: an upgrade may answer otherwise) with the account they are
    handed, their options included (the hook's answer depends on its arguments alone)."""
    config = account.config
    adding = [(record.name, record.version) for record in plugins.active(ELEMENTS_HOOK, config)]
    handed = (
        {field.name: getattr(config, field.name) for field in dataclasses.fields(config)} if adding else None
    )
    # The hub's version too: another release may write a job differently.
    identity = [__version__, GZIP_LEVEL, config.company, adding, handed]
    return hashlib.sha256(json.dumps(identity, default=str, sort_keys=True).encode()).hexdigest()


def _job_key(row: Sequence[Any]) -> _JobKey:
    """A full row's job key (:data:`KEY_COLUMNS`): its id, then what its bytes depend on in one context."""
    return (row[0], row[1], row[_ROW_HASH], row[_ROW_BID])


class FeedCache:
    """The accounts' prebuilt feed files under one folder, built on demand, one build per account at once."""

    def __init__(self, config: HubConfig, plugins: PluginHost, folder: Path) -> None:
        self.config = config
        self.plugins = plugins
        self.folder = folder
        self._ready: dict[str, Artifact] = {}
        self._builds: dict[str, asyncio.Task[Artifact]] = {}
        self._failed: dict[str, tuple[str, float]] = {}  # account → (key that failed, when: monotonic)
        # The latest spare copy per account, and what stops it. One thread for every account: the copies
        # are background work, and one at a time bounds the disk traffic and the buffers they hold.
        self._spares: dict[str, tuple[asyncio.Task[None], threading.Event]] = {}
        self._spare_thread = ThreadPoolExecutor(1, "feed-spares", _low_priority)
        # The gzip file being written for a version published without it, per account, and what stops it;
        # which version's last failed and when (monotonic), so that it is tried again after RETRY_SECONDS.
        self._gzips: dict[str, tuple[asyncio.Task[None], threading.Event]] = {}
        self._gzip_failed: dict[str, tuple[str, float]] = {}

    async def artifact(self, account: LiveAccount) -> Artifact:
        """The complete files of the account's current version (or, after a failed build, the previous one).

        ``account`` may be a little stale (:class:`hub.accounts.AccountCache`): a build reads the row again,
        and what it built is served when it is at least as new as ``account``.
        """
        name = account.name
        wanted = artifact_key(account)
        for _ in range(3):
            if (current := self._current(account)) is not None:
                # Its gzip file failed or a restart ended it: again. Not while a build runs: that one may
                # publish another version, whose files alone then stay.
                if not current.gzip_ready and name not in self._builds:
                    self._finish(name, current)
                return current
            ready = self._ready.get(name)
            failed = self._failed.get(name)
            if (
                ready is not None
                and failed
                and failed[0] == wanted
                and time.monotonic() < failed[1] + RETRY_SECONDS
            ):
                return ready
            built = await asyncio.shield(self._build_task(name))
            if built.version >= account.row.feed_version:
                return built
        return built  # the row kept moving under the builds: this one is complete and recent

    def lost(self, name: str, artifact: Artifact) -> None:
        """``artifact``'s file could not be opened: if it is still the one served (its files were removed
        behind the hub's back), the next :meth:`artifact` builds the version again."""
        if self._ready.get(name) is artifact:
            del self._ready[name]

    def is_built(self, account: LiveAccount) -> bool:
        """Are the files of the account's version (as ``account`` has it) published? Then :meth:`artifact`
        needs no database."""
        return self._current(account) is not None

    def _current(self, account: LiveAccount) -> Artifact | None:
        # The version asked for, or a newer one (``account`` may be a little stale).
        ready = self._ready.get(account.name)
        if ready is None:
            return None
        newer = ready.version > account.row.feed_version
        return ready if newer or ready.key == artifact_key(account) else None

    def gzip_pending(self, name: str, etag: str) -> bool:
        """Is the account's version of this (plain) ETag published without its gzip file yet? Answered
        from memory: what a 304 decides on, without the files or the database."""
        ready = self._ready.get(name)
        return ready is not None and ready.etag == etag and not ready.gzip_ready

    async def gzipped(self, name: str) -> Artifact:
        """The account's served version once the gzip file being written for it is published (or, when
        writing it failed, still without it: check :attr:`Artifact.gzip_ready`)."""
        running = self._gzips.get(name)
        if running is not None:
            await asyncio.shield(running[0])
        return self._ready[name]

    async def settled(self) -> None:
        """Wait for the background work started so far (gzip files, then the spares they lead to): what
        tests and benchmarks wait for."""
        await asyncio.gather(*(task for task, _ in self._gzips.values()))
        await asyncio.gather(*(task for task, _ in self._spares.values()))

    async def close(self) -> None:
        """Stop the builds still running (at shutdown, before the database closes); their files go, and
        so does a gzip file being written (the next run writes it again)."""
        builds = list(self._builds.values())
        for task in builds:
            task.cancel()
        await asyncio.gather(*builds, return_exceptions=True)
        for _, stop in (*self._gzips.values(), *self._spares.values()):
            stop.set()
        await self.settled()
        self._spare_thread.shutdown(wait=True)

    def _build_task(self, name: str) -> asyncio.Task[Artifact]:
        task = self._builds.get(name)
        if task is None:
            task = self._builds[name] = asyncio.create_task(self._build(name), name=f"feed-build-{name}")
            task.add_done_callback(self._built)
        return task

    def _built(self, task: asyncio.Task[Artifact]) -> None:
        name = task.get_name().removeprefix("feed-build-")
        self._builds.pop(name, None)
        if not task.cancelled() and task.exception() is not None:
            # Every client may have left before it failed: the error is logged here, whoever waits.
            _LOGGER.error("feed %s: build failed", name, exc_info=task.exception())

    async def _build(self, name: str) -> Artifact:
        gzipping = self._gzips.get(name)
        if gzipping is not None:
            # The served version's gzip file first: its index then has the gzip lengths a rebuild copies
            # by. Shielded: a build cancelled at shutdown leaves the gzip step to close().
            await asyncio.shield(gzipping[0])
        account = await get_account(self.config, name)  # may create the row: not in a read-only snapshot
        folder = self.folder / name
        folder.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, BUILD_ATTEMPTS + 1):
            async with db.snapshot() as consistent:
                if consistent:
                    await account.row.refresh_from_db()  # the version the snapshot holds
                # Without a snapshot, a build whose version moved under it may hold later changes: built
                # again, as the newer version. The last attempt keeps what it built, so that a feed is
                # served even while changes keep coming faster than a build (SQLite, one process).
                check = not consistent and attempt < BUILD_ATTEMPTS
                built = await self._build_version(account, folder, check_version=check)
            if built is not None:
                return await self._small_gzipped(name, built)
            _LOGGER.info("feed %s: version %s changed while it was built; building the next one",
                         name, account.row.feed_version)  # fmt: skip
            account = await get_account(self.config, name)
        raise AssertionError("the last attempt always keeps its build")

    async def _build_version(
        self, account: LiveAccount, folder: Path, *, check_version: bool
    ) -> Artifact | None:
        """Build the account's version as read; None when ``check_version`` found it moved meanwhile."""
        name = account.name
        key = artifact_key(account)
        previous = self._ready.get(name) or self._on_disk(folder)
        if previous is not None and previous.key == key:
            self._serve(name, previous)
            return previous
        running = self._spares.get(name)
        if running is not None:
            running[1].set()  # this build takes the spares, or writes new files: the copy is not needed now
        started = time.perf_counter()
        try:
            artifact, output = await self._write(account, key, folder, previous, check_version=check_version)
        except _VersionMoved:
            return None
        except Exception:
            self._failed[name] = (key, time.monotonic())
            if previous is None:
                raise
            self._ready[name] = previous
            _LOGGER.exception("feed %s: building version %s failed; serving version %s meanwhile",
                              name, account.row.feed_version, previous.version)  # fmt: skip
            return previous
        self._failed.pop(name, None)
        _remove_others(folder, key)
        self._serve(name, artifact)
        FEED_SECONDS.labels(name).observe(time.perf_counter() - started)
        FEED_BYTES.labels(name).set(output.plain_bytes)
        FEED_JOBS.labels(name).set(artifact.jobs)
        _LOGGER.info(
            "feed %s: version %s built in %.2f s: %d jobs, %d rendered, %d copied (%d of them compressed "
            "again); %d bytes, %s; %d spare files overwritten",
            name, artifact.version, time.perf_counter() - started, artifact.jobs, output.rendered,
            artifact.jobs - output.rendered, output.recompressed, output.plain_bytes,
            f"{output.gzip_bytes} gzipped" if output.gzipping else "gzip to follow", output.recycled,
        )  # fmt: skip
        return artifact

    async def _small_gzipped(self, name: str, built: Artifact) -> Artifact:
        """``built``, with its gzip file when it is a small feed's: that takes milliseconds to write, so the
        build waits for it rather than send gzip clients the plain file meanwhile (seven times the bytes,
        and a validator they would trade for the gzip one at their next request)."""
        if built.gzip_ready or built.plain.stat().st_size >= SMALL_FEED:
            return built
        return await self.gzipped(name)

    def _serve(self, name: str, artifact: Artifact) -> None:
        """Serve ``artifact`` from now on, and finish what it lacks in the background."""
        self._ready[name] = artifact
        self._finish(name, artifact)

    def _finish(self, name: str, artifact: Artifact) -> None:
        """Start writing the served version's gzip file if it has none (unless that is under way or failed
        less than :data:`RETRY_SECONDS` ago); once it has both, copy them to spares if there are none."""
        if not artifact.gzip_ready:
            running = self._gzips.get(name)
            failed = self._gzip_failed.get(name)
            if (running is None or running[0].done()) and (
                failed is None or failed[0] != artifact.key or time.monotonic() >= failed[1] + RETRY_SECONDS
            ):
                stop = threading.Event()
                self._gzips[name] = (asyncio.create_task(self._gzip(name, artifact, stop)), stop)
            return
        spares = [artifact.plain.with_name(spare) for spare in SPARES]
        if all(spare.exists() for spare in spares):
            return
        stop = threading.Event()
        copies = list(zip((artifact.plain, artifact.gzip), spares, strict=True))
        work = asyncio.get_running_loop().run_in_executor(self._spare_thread, _make_spares, copies, stop)
        self._spares[name] = (asyncio.create_task(_logged_spares(name, work)), stop)

    async def _gzip(self, name: str, artifact: Artifact, stop: threading.Event) -> None:
        """Write the gzip file of a version published without it, then serve it: until then, a client
        taking gzip gets the plain file, with the plain ETag. A failure is logged, the plain file served."""
        started = time.perf_counter()
        try:
            size = await asyncio.to_thread(_gzip_version, artifact, stop)
        except Exception:
            self._gzip_failed[name] = (artifact.key, time.monotonic())
            _LOGGER.exception("feed %s: writing the gzip file of version %s failed; its plain file is served",
                              name, artifact.version)  # fmt: skip
            return
        if size is None:
            return  # stopped at shutdown: the next run writes it again
        self._gzip_failed.pop(name, None)
        _LOGGER.info("feed %s: version %s gzipped in %.2f s: %d bytes",
                     name, artifact.version, time.perf_counter() - started, size)  # fmt: skip
        if self._ready.get(name) is artifact:  # builds wait for this one: nothing newer is served
            self._serve(name, dataclasses.replace(artifact, gzip_ready=True))

    async def _write(
        self, account: LiveAccount, key: str, folder: Path, previous: Artifact | None, *, check_version: bool
    ) -> tuple[Artifact, _Output]:
        writer = FeedWriter(account, self.plugins)
        context = _context(account, self.plugins)
        # After a failed build, nothing of the previous version is trusted: were its index wrong (a disk's
        # fault), every rebuild from it would fail alike and the feed never move on.
        jobs = None if account.name in self._failed else _read_index(previous, context)
        # With nothing to copy, the plain file alone, published first; the gzip file follows (_gzip).
        output = _Output(folder, key, previous if jobs else None, jobs, gzip=jobs is not None)
        try:
            output.begin(writer.head, context)
            if jobs is not None:
                await self._write_keyed(account, writer, output, jobs)
            else:
                await self._write_rows(writer, output)
            await output.finish(writer.tail())
            if check_version and await _version_moved(account):
                raise _VersionMoved
            etag, last_modified = validators(account)
            artifact = Artifact(
                key=key, version=account.row.feed_version, etag=etag, last_modified=last_modified,
                plain=folder / f"{key}.xml", gzip=folder / f"{key}-gzip.xml.gz", jobs=output.job_count,
                gzip_ready=output.gzipping,
            )  # fmt: skip
            _publish(artifact, output)
        finally:
            output.close()
            for path in output.temporary:
                path.unlink(missing_ok=True)
        if previous is not None:
            _keep_spares(previous)
        return artifact, output

    async def _write_rows(self, writer: FeedWriter, output: _Output) -> None:
        """A cold build: every row read in full and rendered."""
        async with contextlib.aclosing(feed_rows(writer.account, ROW_COLUMNS)) as batches:
            async for rows in batches:
                for row in rows:
                    _render(writer, output, row)
                await output.drain()

    async def _write_keyed(
        self, account: LiveAccount, writer: FeedWriter, output: _Output, previous: _Previous
    ) -> None:
        """Only the jobs' keys read, then in full only the jobs whose bytes the previous version lacks. The
        feed lists jobs by id, as the previous index does: a batch of keys equal to the previous index's
        for the same ids (most batches, a change being a few jobs) is one run copied, in one step."""
        async with contextlib.aclosing(feed_rows(account, KEY_COLUMNS, KEY_BATCH)) as batches:
            async for rows in batches:
                keys = list(zip(*rows, strict=True))  # by column: no object per job kept
                first = bisect.bisect_left(previous.ids, keys[0][0])
                places = range(first, bisect.bisect_right(previous.ids, keys[0][-1], first))
                if previous.holds(places, keys):
                    output.add([places], 0)
                else:
                    await self._write_changed(account, writer, output, previous, rows, places)
                await output.drain()

    async def _write_changed(
        self,
        account: LiveAccount,
        writer: FeedWriter,
        output: _Output,
        previous: _Previous,
        rows: Sequence[Sequence[Any]],
        places: range,
    ) -> None:
        """A batch of keys with jobs changed, added or gone (``places``: the previous version's jobs with
        those ids): the unchanged ones copied in runs, the others read in full and rendered."""
        by_id = dict(zip(previous.ids[places.start : places.stop], places, strict=True))
        keys = list(map(tuple, rows))
        found = [by_id.get(key[0]) for key in keys]
        found = [
            place if place is not None and previous.key(place) == key else None
            for key, place in zip(keys, found, strict=True)
        ]
        missing = [key[0] for key, place in zip(keys, found, strict=True) if place is None]
        fetched = {row[0]: row for row in await _rows_by_id(account, missing)}
        items: list[_Item] = []
        rendered = 0
        for key, place in zip(keys, found, strict=True):
            if place is not None:
                last = items[-1] if items else None
                if isinstance(last, range) and last.stop == place:
                    items[-1] = range(last.start, place + 1)
                else:
                    items.append(range(place, place + 1))
            elif key[0] in fetched:  # else it left the feed since the keys were read
                full = fetched[key[0]]
                plain = _rendered(writer, full)
                if plain is not None:
                    # Its key as read with its bytes: it may have changed since its key was read.
                    items.append((_job_key(full), plain))
                    rendered += len(plain)
                    if rendered >= COPY_CHUNK:  # what waits for the thread stays bounded
                        output.add(items, rendered)
                        items, rendered = [], 0
        output.add(items, rendered)

    @staticmethod
    def _on_disk(folder: Path) -> Artifact | None:
        """The newest complete version a previous run of the hub left (its manifest in place, sizes right)."""
        found = []
        for manifest in folder.glob("*.json"):
            if manifest.name.endswith(".index.json"):
                continue  # an older release's job index, removed with its version
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                record = json.loads(manifest.read_text(encoding="utf-8"))
                artifact = Artifact(
                    key=record["key"], version=record["version"], etag=record["etag"],
                    last_modified=datetime.fromisoformat(record["last_modified"]),
                    plain=folder / f"{record['key']}.xml", gzip=folder / f"{record['key']}-gzip.xml.gz",
                    jobs=record["jobs"], gzip_ready=record["gzip_bytes"] is not None,
                )  # fmt: skip
                # Sizes catch files a power cut left short; another release may have written other bytes.
                # A gzip file still to come (the process ended first) is written again: the plain one serves.
                sizes = [artifact.plain.stat().st_size]
                expected = [record["plain_bytes"]]
                if artifact.gzip_ready:
                    sizes.append(artifact.gzip.stat().st_size)
                    expected.append(record["gzip_bytes"])
                if sizes == expected and record["hub"] == __version__:
                    found.append(artifact)
        return max(found, key=lambda artifact: artifact.version, default=None)


class _VersionMoved(Exception):
    """The account's feed version moved while a build read it: what it read may mix two versions."""


async def _version_moved(account: LiveAccount) -> bool:
    """Has the account's feed version moved since ``account`` was read? Every change to its jobs moves it
    in the same transaction (:func:`hub.accounts.changing_feed`), so an unmoved version means no change
    was committed meanwhile."""
    now = await models.Account.filter(id=account.row.id).values_list("feed_version", flat=True)
    return now != [account.row.feed_version]


async def _rows_by_id(account: LiveAccount, ids: list[int]) -> list[Sequence[Any]]:
    """The full rows of these jobs, those still in the feed."""
    if not ids:
        return []
    query = models.Job.filter(in_feed(account), id__in=ids)
    return await query.values_list(*ROW_COLUMNS)  # type: ignore[return-value]


def _publish(artifact: Artifact, output: _Output) -> None:
    """Move the finished files into place, the manifest last: until it is, the version does not exist."""
    moment = artifact.last_modified.timestamp()
    plain_tmp, gzip_tmp, index_tmp = output.temporary
    finished = [(plain_tmp, artifact.plain), (gzip_tmp, artifact.gzip)][: 1 + output.gzipping]
    for temporary, final in finished:
        os.utime(temporary, (moment, moment))  # FileResponse's Last-Modified and If-Range dates
        os.replace(temporary, final)
    os.replace(index_tmp, artifact.index)
    _write_manifest(artifact, output.plain_bytes, output.gzip_bytes if output.gzipping else None)


def _write_manifest(artifact: Artifact, plain_bytes: int, gzip_bytes: int | None) -> None:
    """The version's manifest, replaced whole: the files' sizes, None for a gzip file still to come."""
    record = {
        "key": artifact.key, "version": artifact.version, "etag": artifact.etag,
        "last_modified": artifact.last_modified.isoformat(), "jobs": artifact.jobs,
        "plain_bytes": plain_bytes, "gzip_bytes": gzip_bytes, "hub": __version__,
    }  # fmt: skip
    manifest = artifact.plain.with_name(artifact.key + ".json")
    temporary = manifest.with_name(f".{artifact.key}.{os.getpid()}.json.tmp")
    temporary.write_text(json.dumps(record), encoding="utf-8")
    os.replace(temporary, manifest)


def _rendered(writer: FeedWriter, row: Sequence[Any]) -> bytes | None:
    """A job read in full, rendered with what plugins add to it (None when its id cannot be written)."""
    return writer.job(row, writer.extra_elements(row))


def _render(writer: FeedWriter, output: _Output, row: Sequence[Any]) -> None:
    """A job read in full, rendered, handed to the thread."""
    plain = _rendered(writer, row)
    if plain is not None:
        output.render(_job_key(row), plain)


def _keep_spares(previous: Artifact) -> None:
    """The previous version's files become the spares the next build overwrites (those they replace, if
    still there, were in use: a response still sending them keeps them until it ends)."""
    for path, spare in zip((previous.plain, previous.gzip), SPARES, strict=True):
        with contextlib.suppress(FileNotFoundError):
            os.replace(path, path.with_name(spare))


def _remove_others(folder: Path, key: str) -> None:
    """Delete every other version's files, and what killed builds left (not a live process's build)."""
    for path in folder.iterdir():
        if path.name.startswith(key) or path.name in SPARES:
            continue
        if path.name.endswith(".tmp") and _builder_alive(path.name):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _builder_alive(name: str) -> bool:
    """Is the process whose build left this temporary file (``.KEY.PID.….tmp``) still running?"""
    try:
        pid = int(name.split(".")[2])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False  # this process builds one version per account at a time: not this one
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
