"""Prebuilt feed files: each account's feed built once per version, plain and gzip, and served from disk.

**Artifacts.** A version's feed is two files in ``[feed] cache_dir``/ACCOUNT/, named by the version's ETag:
``KEY.xml`` and ``KEY-gzip.xml.gz`` (not ``KEY.xml.gz``: aiohttp's FileResponse would pick that sibling by
itself for any ``Accept-Encoding`` naming gzip, even ``gzip;q=0``). Each file is written under a temporary
name and moved into place with :func:`os.replace`; ``KEY.json``, the manifest, is moved in last, and only a
version whose manifest exists (and whose files have the sizes it records) is ever served, so a build that
fails or a process killed mid-build leaves the previous version served and nothing half-written. The files'
mtime is the version's Last-Modified. Once a version is complete the account's older files are deleted.

**Determinism.** The document depends only on the version (``lastBuildDate`` is its Last-Modified) and the
gzip file has no timestamp or name in its header, so replicas build byte-identical files for one version
and serve them with one ETag each (the gzip one ending ``-gzip"``), computed by :func:`hub.feed.validators`.

**Incremental rebuilds.** The previous version's files are the fragment store: its index, ``KEY.index.json``,
lists each job's key and the length of its bytes in both files. A job's key is its ``ats_id`` and
``content_hash`` (the digest of every stored column that sync keeps, :func:`hub.sync._digest`), plus a digest
of what plugins add to it when any do. The gzip file is a single gzip member whose deflate stream is the head,
each job and the tail each compressed on its own and ended on a byte boundary (``Z_SYNC_FLUSH``), then an
empty final block and the CRC. A job's compressed bytes depend on that job and the one before it (its deflate
dictionary: jobs of one employer share much text), so they are copied when both are unchanged and compressed
again otherwise.
A rebuild first reads only ``id, ats_id, content_hash`` of the feed's jobs, copies unchanged jobs' bytes
from the previous files in contiguous runs, and reads and renders only the jobs whose key is new. When a
plugin adds elements, every row is read (the hook needs the job), but unchanged jobs are still copied.
Nothing else is stored: no table, no second copy of the fragments, and a restart loses nothing. The files
are written by a thread of their own (appending, the CRC and copying release the GIL), so the copying of
unchanged runs overlaps with reading the next keys; what a rebuild costs is then mostly reading the keys
and writing the unchanged bytes into the new files.

**Single flight.** One build per account at a time; every request that needs a version not on disk waits
for that build (a client that leaves does not cancel it: it runs as its own task, awaited through
:func:`asyncio.shield`). A failed build is logged and not retried for :data:`RETRY_SECONDS`, meanwhile the
previous version is served; with no previous version the request fails.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import struct
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast

from hub import __version__, models
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
#: Rows per query when a rebuild reads only the jobs' keys.
KEY_BATCH = 5 * BATCH
#: Rendered bytes gathered before the file thread writes them.
COPY_CHUNK = 1 << 20
#: Bytes per read when copying unchanged jobs from the previous files: large, because the file thread
#: takes the GIL back only every switch interval while the loop renders, once per read.
COPY_BUFFER = 16 << 20
#: Unchanged bytes handed to the file thread at once: it copies while the next keys are read.
RUN_BYTES = 32 << 20
#: After a failed build, how long the previous version is served before the build is tried again.
RETRY_SECONDS = 30.0
_KEY_COLUMNS = ("id", "ats_id", "content_hash")
_ROW_COLUMNS = (*FEED_COLUMNS, "content_hash")


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


def gzip_etag(etag: str) -> str:
    """The gzip body's ETag for the plain body's (RFC 9110 8.8.3: each encoding is its own representation)."""
    return etag[:-1] + '-gzip"'


@dataclasses.dataclass(frozen=True, slots=True)
class Artifact:
    """One complete version of an account's feed on disk."""

    key: str
    version: int
    #: The plain body's ETag; the gzip body's is :attr:`gzip_etag`.
    etag: str
    last_modified: datetime
    plain: Path
    gzip: Path
    jobs: int

    @property
    def gzip_etag(self) -> str:
        """The gzip body's own strong validator."""
        return gzip_etag(self.etag)

    @property
    def index(self) -> Path:
        """The job index that lets the next version copy this one's unchanged jobs."""
        return self.plain.with_name(self.key + ".index.json")


#: A job's key: ats_id, content_hash, and the digest of what plugins add (None when none do).
_JobKey = tuple[Any, ...]
#: A previous version's job: (offset, length) in the plain file, then in the gzip file, and the key of the
#: job before it (None for the first): its gzip bytes refer back to that job's.
_Segment = tuple[int, int, int, int, _JobKey | None]


def artifact_key(account: LiveAccount) -> str:
    """The name of the account's current version's files: its ETag's hex digits."""
    return validators(account)[0].strip('"')


class _Output:
    """The new version's two files being written, and its job index, from rendered and copied jobs.

    The files are written by a thread of their own, in order: appending, the CRC and the kernel copies of
    unchanged runs release the GIL, so they overlap with reading the database and rendering.
    """

    def __init__(self, folder: Path, key: str, previous: Artifact | None) -> None:
        stem = f".{key}.{os.getpid()}"
        self.temporary = [folder / f"{stem}.xml.tmp", folder / f"{stem}.gz.tmp", folder / f"{stem}.index.tmp"]
        self._plain: IO[bytes] = self.temporary[0].open("wb")
        self._gzip: IO[bytes] = self.temporary[1].open("wb")
        self._crc = 0
        self.plain_bytes = 0
        self.gzip_bytes = 0
        self.job_count = 0
        # The index is written as it grows, a batch at a time: 100,000 jobs' keys held until the end
        # were most of a build's memory.
        self._index: IO[str] = self.temporary[2].open("w", encoding="utf-8")
        self._entries: list[list[Any]] = []
        self.rendered = 0
        self.recompressed = 0
        self._sources = (previous.plain.open("rb"), previous.gzip.open("rb")) if previous else None
        self._copy_buffer = bytearray(COPY_BUFFER)
        self._run: list[int] | None = None  # the pending copy: plain offset, length, gzip offset, length
        # The last job written, what the next one's gzip bytes refer back to: its key, and its plain bytes
        # or where they are in the previous plain file (read only when the next job is compressed here).
        self._last_key: _JobKey | None = None
        self._last: bytes | tuple[int, int] = b""
        self._buffers = (bytearray(), bytearray())
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="feed-files")
        self._queued: collections.deque[Future[None]] = collections.deque()
        self.write(b"", GZIP_HEADER)

    def write(self, plain: bytes, gzip: bytes) -> None:
        self._flush_run()
        self._buffers[0].extend(plain)
        self._buffers[1].extend(gzip)
        self.plain_bytes += len(plain)
        self.gzip_bytes += len(gzip)
        if len(self._buffers[0]) >= COPY_CHUNK:
            self._flush_buffers()

    def render(self, key: list[Any], plain: bytes) -> None:
        self._add_compressed(key, plain)
        self.rendered += 1

    def _add_compressed(self, key: list[Any], plain: bytes) -> None:
        gzip = deflate_piece(plain, self._last_plain())
        self.write(plain, gzip)
        self._add_entry([*key, len(plain), len(gzip)])
        self._last_key, self._last = tuple(key), plain

    def copy(self, key: list[Any], segment: _Segment) -> None:
        plain_at, plain_length, gzip_at, gzip_length, before = segment
        if before != self._last_key:
            # Its bytes are the same but the job before it is not: its gzip piece referred back to that one.
            self._add_compressed(key, self._read(plain_at, plain_length))
            self.recompressed += 1
            return
        run = self._run
        if run is not None and run[0] + run[1] == plain_at and run[2] + run[3] == gzip_at:
            run[1] += plain_length
            run[3] += gzip_length
            if run[1] >= RUN_BYTES:
                self._flush_run()  # the thread copies while the next jobs are read
        else:
            self._flush_run()
            self._run = [plain_at, plain_length, gzip_at, gzip_length]
        self.plain_bytes += plain_length
        self.gzip_bytes += gzip_length
        self._add_entry([*key, plain_length, gzip_length])
        self._last_key, self._last = tuple(key), (plain_at, plain_length)

    def _last_plain(self) -> bytes:
        if self._last_key is None:
            return b""  # the first job refers to nothing: the head before it changes with every version
        if isinstance(self._last, bytes):
            return self._last
        at, length = self._last
        return self._read(at + max(0, length - DEFLATE_WINDOW), min(length, DEFLATE_WINDOW))

    def _read(self, at: int, length: int) -> bytes:
        assert self._sources is not None  # only copied jobs are read back, and only with a previous version
        return _pread(self._sources[0], at, length)

    def _submit(self, work: Callable[..., None], *args: Any) -> None:
        self._queued.append(self._thread.submit(work, *args))
        while len(self._queued) > 4 or (self._queued and self._queued[0].done()):
            self._queued.popleft().result()  # raises what the thread raised; bounds what waits in memory

    def _flush_buffers(self) -> None:
        plain, gzip = self._buffers
        if plain or gzip:
            self._submit(self._append, bytes(plain), bytes(gzip))
            plain.clear()
            gzip.clear()

    def _flush_run(self) -> None:
        if self._run is not None:
            self._flush_buffers()
            self._submit(self._copy_run, *self._run)
            self._run = None

    def _append(self, plain: bytes, gzip: bytes) -> None:
        self._plain.write(plain)
        self._gzip.write(gzip)
        self._crc = zlib.crc32(plain, self._crc)

    def _copy_run(self, plain_at: int, plain_length: int, gzip_at: int, gzip_length: int) -> None:
        assert self._sources is not None
        plain_source, gzip_source = self._sources
        crc = _copy_range(plain_source, self._plain, plain_at, plain_length, self._copy_buffer, self._crc)
        self._crc = cast(int, crc)
        _copy_range(gzip_source, self._gzip, gzip_at, gzip_length, self._copy_buffer)

    def begin(self, head: bytes, context: str) -> None:
        """Write the document's head, and the index's: what its jobs were rendered in, where they start."""
        head_gzip = deflate_piece(head)
        self.write(head, head_gzip)
        self._index.write(json.dumps({"context": context, "head": [len(head), len(head_gzip)]}) + "\n[")

    def _add_entry(self, entry: list[Any]) -> None:
        self._entries.append(entry)
        self.job_count += 1
        if len(self._entries) >= BATCH:
            self._write_entries()

    def _write_entries(self) -> None:
        if self._entries:
            text = json.dumps(self._entries, separators=(",", ":"))[1:-1]
            self._index.write(text if self.job_count == len(self._entries) else "," + text)
            self._entries.clear()

    def finish(self, tail: bytes) -> None:
        """Write the tail and the gzip trailer, and the end of the index; close the files."""
        self._write_entries()
        self._index.write("]")
        self.write(tail, deflate_piece(tail) + DEFLATE_END)
        self._flush_buffers()
        while self._queued:
            self._queued.popleft().result()
        self._gzip.write(struct.pack("<II", self._crc, self.plain_bytes & 0xFFFFFFFF))
        self.gzip_bytes += 8
        self.close()

    def close(self) -> None:
        self._thread.shutdown(wait=True)  # a failed build: what was queued ends before the files close
        self._plain.close()
        self._gzip.close()
        self._index.close()
        if self._sources is not None:
            for source in self._sources:
                source.close()


def _pread(source: IO[bytes], at: int, length: int) -> bytes:
    """``length`` bytes of ``source`` from ``at``, without moving its position (threads share it)."""
    data = os.pread(source.fileno(), length, at)
    if len(data) != length:
        raise OSError(f"{source.name}: shorter than its index says")
    return data


def _copy_range(
    source: IO[bytes], target: IO[bytes], at: int, length: int, buffer: bytearray, crc: int | None = None
) -> int | None:
    """Append ``length`` bytes of ``source`` from ``at`` to ``target``; returns ``crc`` carried over them.

    Through one reused buffer: on ext4 without reflinks that beat ``copy_file_range`` three times over.
    """
    view = memoryview(buffer)
    while length > 0:
        read = os.preadv(source.fileno(), [view[: min(len(buffer), length)]], at)
        if read == 0:
            raise OSError(f"{source.name}: shorter than its index says")
        if crc is not None:
            crc = zlib.crc32(view[:read], crc)
        target.write(view[:read])
        at, length = at + read, length - read
    return crc


def _segments(previous: Artifact | None, context: str) -> dict[_JobKey, _Segment]:
    """Where each job of ``previous`` is in its files, by job key; nothing when its jobs were rendered in
    another context (another company name, other plugin options) or its index is unreadable."""
    if previous is None:
        return {}
    try:
        header, _, jobs = previous.index.read_text(encoding="utf-8").partition("\n")
        index, entries = json.loads(header), json.loads(jobs)
    except (OSError, ValueError):
        return {}
    if index.get("context") != context:
        return {}
    plain_at, gzip_at = index["head"][0], len(GZIP_HEADER) + index["head"][1]
    segments: dict[_JobKey, _Segment] = {}
    before = None
    for ats_id, content_hash, extras, plain_length, gzip_length in entries:
        key = (ats_id, content_hash, extras)
        segments[key] = (plain_at, plain_length, gzip_at, gzip_length, before)
        plain_at += plain_length
        gzip_at += gzip_length
        before = key
    return segments


def _context(account: LiveAccount, writer: FeedWriter) -> str:
    """What a job's bytes depend on besides the job: the company name it falls back on, the plugins."""
    config = account.config
    # The hub's version too: another release may write a job differently.
    identity = [__version__, GZIP_LEVEL, config.company, writer.wants_elements, config.plugin_options]
    return hashlib.sha256(json.dumps(identity, default=str, sort_keys=True).encode()).hexdigest()


def _job_key(row: Sequence[Any], extra: list[tuple[str, str]]) -> list[Any]:
    extras = hashlib.sha256(json.dumps(extra).encode()).hexdigest()[:32] if extra else None
    return [row[1], row[-1], extras]


class FeedCache:
    """The accounts' prebuilt feed files under one folder, built on demand, one build per account at once."""

    def __init__(self, config: HubConfig, plugins: PluginHost, folder: Path) -> None:
        self.config = config
        self.plugins = plugins
        self.folder = folder
        self._ready: dict[str, Artifact] = {}
        self._builds: dict[str, asyncio.Task[Artifact]] = {}
        self._failed: dict[str, tuple[str, float]] = {}  # account → (key that failed, when: monotonic)

    async def artifact(self, account: LiveAccount) -> Artifact:
        """The complete files of the account's current version (or, after a failed build, the previous one).

        ``account`` may be a little stale (:class:`hub.accounts.AccountCache`): a build reads the row again,
        and what it built is served when it is at least as new as ``account``.
        """
        name = account.name
        wanted = artifact_key(account)
        for _ in range(3):
            ready = self._ready.get(name)
            if ready is not None and (ready.key == wanted or ready.version > account.row.feed_version):
                return ready
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

    async def close(self) -> None:
        """Stop the builds still running (at shutdown, before the database closes); their files go."""
        builds = list(self._builds.values())
        for task in builds:
            task.cancel()
        await asyncio.gather(*builds, return_exceptions=True)

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
        account = await get_account(self.config, name)
        key = artifact_key(account)
        folder = self.folder / name
        folder.mkdir(parents=True, exist_ok=True)
        previous = self._ready.get(name) or self._on_disk(folder)
        if previous is not None and previous.key == key:
            self._ready[name] = previous
            return previous
        started = time.perf_counter()
        try:
            artifact, output = await self._write(account, key, folder, previous)
        except Exception:
            self._failed[name] = (key, time.monotonic())
            if previous is None:
                raise
            self._ready[name] = previous
            _LOGGER.exception("feed %s: building version %s failed; serving version %s meanwhile",
                              name, account.row.feed_version, previous.version)  # fmt: skip
            return previous
        self._failed.pop(name, None)
        self._ready[name] = artifact
        _remove_others(folder, key)
        FEED_SECONDS.labels(name).observe(time.perf_counter() - started)
        FEED_BYTES.labels(name).set(output.plain_bytes)
        FEED_JOBS.labels(name).set(artifact.jobs)
        _LOGGER.info(
            "feed %s: version %s built in %.2f s: %d jobs, %d rendered, %d copied (%d of them compressed "
            "again); %d bytes, %d gzipped",
            name, artifact.version, time.perf_counter() - started, artifact.jobs, output.rendered,
            artifact.jobs - output.rendered, output.recompressed, output.plain_bytes, output.gzip_bytes,
        )  # fmt: skip
        return artifact

    async def _write(
        self, account: LiveAccount, key: str, folder: Path, previous: Artifact | None
    ) -> tuple[Artifact, _Output]:
        writer = FeedWriter(account, self.plugins)
        context = _context(account, writer)
        segments = _segments(previous, context)
        output = _Output(folder, key, previous if segments else None)
        try:
            output.begin(writer.head, context)
            if segments and not writer.wants_elements:
                await self._write_keyed(account, writer, output, segments)
            else:
                await self._write_rows(writer, output, segments)
            output.finish(writer.tail())
            etag, last_modified = validators(account)
            artifact = Artifact(
                key=key, version=account.row.feed_version, etag=etag, last_modified=last_modified,
                plain=folder / f"{key}.xml", gzip=folder / f"{key}-gzip.xml.gz", jobs=output.job_count,
            )  # fmt: skip
            _publish(artifact, output)
        finally:
            output.close()
            for path in output.temporary:
                path.unlink(missing_ok=True)
        return artifact, output

    async def _write_rows(
        self, writer: FeedWriter, output: _Output, segments: dict[_JobKey, _Segment]
    ) -> None:
        """Every row read in full (a cold build, or plugins that need each job): copied when unchanged."""
        async with contextlib.aclosing(feed_rows(writer.account, _ROW_COLUMNS)) as batches:
            async for rows in batches:
                for row in rows:
                    self._add(writer, output, segments, row)

    async def _write_keyed(
        self,
        account: LiveAccount,
        writer: FeedWriter,
        output: _Output,
        segments: dict[_JobKey, _Segment],
    ) -> None:
        """Only the jobs' keys read, then in full only the jobs whose bytes the previous version lacks."""
        async with contextlib.aclosing(feed_rows(account, _KEY_COLUMNS, KEY_BATCH)) as batches:
            async for keys in batches:
                missing = [row[0] for row in keys if (row[1], row[2], None) not in segments]
                fetched = {row[0]: row for row in await _rows_by_id(account, missing)}
                for job_id, ats_id, content_hash in keys:
                    segment = segments.get((ats_id, content_hash, None))
                    if segment is not None:
                        output.copy([ats_id, content_hash, None], segment)
                    elif job_id in fetched:  # else it left the feed since the keys were read
                        self._add(writer, output, segments, fetched[job_id])

    @staticmethod
    def _add(
        writer: FeedWriter, output: _Output, segments: dict[_JobKey, _Segment], row: Sequence[Any]
    ) -> None:
        extra = writer.extra_elements(row)
        key = _job_key(row, extra)
        segment = segments.get(tuple(key))
        if segment is not None:
            output.copy(key, segment)
        elif (plain := writer.job(row, extra)) is not None:
            output.render(key, plain)

    @staticmethod
    def _on_disk(folder: Path) -> Artifact | None:
        """The newest complete version a previous run of the hub left (its manifest in place, sizes right)."""
        found = []
        for manifest in folder.glob("*.json"):
            if manifest.name.endswith(".index.json"):
                continue
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                record = json.loads(manifest.read_text(encoding="utf-8"))
                artifact = Artifact(
                    key=record["key"], version=record["version"], etag=record["etag"],
                    last_modified=datetime.fromisoformat(record["last_modified"]),
                    plain=folder / f"{record['key']}.xml", gzip=folder / f"{record['key']}-gzip.xml.gz",
                    jobs=record["jobs"],
                )  # fmt: skip
                sizes = (artifact.plain.stat().st_size, artifact.gzip.stat().st_size)
                # Sizes catch files a power cut left short; another release may have written other bytes.
                expected = (record["plain_bytes"], record["gzip_bytes"])
                if sizes == expected and record["hub"] == __version__:
                    found.append(artifact)
        return max(found, key=lambda artifact: artifact.version, default=None)


async def _rows_by_id(account: LiveAccount, ids: list[int]) -> list[Sequence[Any]]:
    """The full rows of these jobs, those still in the feed."""
    if not ids:
        return []
    query = models.Job.filter(in_feed(account), id__in=ids)
    return await query.values_list(*_ROW_COLUMNS)  # type: ignore[return-value]


def _publish(artifact: Artifact, output: _Output) -> None:
    """Move the finished files into place, the manifest last: until it is, the version does not exist."""
    moment = artifact.last_modified.timestamp()
    plain_tmp, gzip_tmp, index_tmp = output.temporary
    for temporary, final in ((plain_tmp, artifact.plain), (gzip_tmp, artifact.gzip)):
        os.utime(temporary, (moment, moment))  # FileResponse's Last-Modified and If-Range dates
        os.replace(temporary, final)
    os.replace(index_tmp, artifact.index)
    manifest = artifact.plain.with_name(artifact.key + ".json")
    record = {
        "key": artifact.key, "version": artifact.version, "etag": artifact.etag,
        "last_modified": artifact.last_modified.isoformat(), "jobs": artifact.jobs,
        "plain_bytes": output.plain_bytes, "gzip_bytes": output.gzip_bytes, "hub": __version__,
    }  # fmt: skip
    temporary = manifest.with_name(f".{artifact.key}.{os.getpid()}.json.tmp")
    temporary.write_text(json.dumps(record), encoding="utf-8")
    os.replace(temporary, manifest)


def _remove_others(folder: Path, key: str) -> None:
    """Delete every other version's files, and what killed builds left (not a live process's build)."""
    for path in folder.iterdir():
        if path.name.startswith(key):
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
