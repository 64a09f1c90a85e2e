"""The job index kept beside a feed version's files: what the next rebuild copies by (:mod:`hub.feed_cache`).

A rebuild reads the previous version's index whole and writes its own, so the format is chosen for
that: in JSON, 100,000 jobs' index took a third of a rebuild to parse and write (12 MB of text, an
object per value). Here a file is a header line of JSON (any record: what the jobs were rendered in,
the columns' names), then batches of jobs, each a column at a time, each column its byte count and its
bytes:

* a column of integers: little-endian 64-bit integers, the count of those that are not null first; when
  some are null, the places of the others come before them (most of a rebuild's bids and prefix CRCs are
  null: read back with a step per value that is not);
* a column of text: UTF-8, the values joined by NUL. Stored text never holds one (XML forbids it, and
  :func:`hub.sync.stored_values` removes what XML forbids); a batch whose text splits into another count
  than its jobs is refused as unreadable (:class:`ValueError`), so a misread never lines jobs up wrongly.

Numbers and text are told apart by the caller (:class:`Layout`): the file does not describe itself
beyond the header the caller writes.
"""

from __future__ import annotations

import array
import dataclasses
import itertools
import json
import operator
import struct
import sys
from collections.abc import Iterator, Sequence
from typing import Any

#: The most jobs one batch holds (a rebuild writes a few thousand at a time): a count read past it is a
#: corrupt file, refused before anything is made that size.
MAX_BATCH_JOBS = 1 << 20
_COUNT = struct.Struct("<Q")
_SEPARATOR = "\x00"
_SWAP = sys.byteorder != "little"


@dataclasses.dataclass(frozen=True, slots=True)
class Layout:
    """An index's columns, by name, and which of them hold text (the others hold integers or nulls)."""

    columns: tuple[str, ...]
    text: frozenset[str]

    def encode(self, columns: Sequence[Sequence[Any]]) -> bytes:
        """One batch of jobs, a column at a time (each of the same length)."""
        if len(columns) != len(self.columns):
            raise ValueError(f"{len(columns)} columns for an index of {len(self.columns)}")
        if len(columns[0]) > MAX_BATCH_JOBS:
            raise ValueError(f"{len(columns[0])} jobs in one batch, more than {MAX_BATCH_JOBS}")
        parts = [_COUNT.pack(len(columns[0]))]
        for name, values in zip(self.columns, columns, strict=True):
            if len(values) != len(columns[0]):
                raise ValueError(f"column {name}: {len(values)} values for {len(columns[0])} jobs")
            blob = _SEPARATOR.join(values).encode() if name in self.text else _integers(values)
            parts += [_COUNT.pack(len(blob)), blob]
        return b"".join(parts)

    def decode(self, data: bytes) -> tuple[dict[str, Any], Iterator[list[list[Any]]]]:
        """The header, and the batches after it (each read as it is reached: :class:`ValueError` for one
        that is cut short or does not hold what the layout says)."""
        end = data.find(b"\n")
        if end < 0:
            raise ValueError("an index without its header line")
        header = json.loads(data[:end])
        if not isinstance(header, dict) or header.get("columns") != list(self.columns):
            raise ValueError("an index of other columns, or with no header")
        return header, self._batches(memoryview(data), end + 1)

    def _batches(self, data: memoryview, at: int) -> Iterator[list[list[Any]]]:
        while at < len(data):
            jobs, at = _count(data, at)
            if jobs > MAX_BATCH_JOBS:
                raise ValueError(f"a batch of {jobs} jobs, more than {MAX_BATCH_JOBS}")
            columns: list[list[Any]] = []
            for name in self.columns:
                size, at = _count(data, at)
                if at + size > len(data):
                    raise ValueError(f"column {name}: cut short")
                blob = data[at : at + size]
                at += size
                values = _text(blob, jobs) if name in self.text else _numbers(blob, jobs)
                if len(values) != jobs:
                    raise ValueError(f"column {name}: {len(values)} values for {jobs} jobs")
                columns.append(values)
            yield columns

    def header(self, record: dict[str, Any]) -> bytes:
        """The header line: ``record``, with the columns' names (:meth:`decode` refuses other columns)."""
        return json.dumps(record | {"columns": self.columns}).encode() + b"\n"


def _count(data: memoryview, at: int) -> tuple[int, int]:
    if at + _COUNT.size > len(data):
        raise ValueError("an index cut short")
    return _COUNT.unpack_from(data, at)[0], at + _COUNT.size


def _integers(values: Sequence[int | None]) -> bytes:
    if None not in values:
        return _COUNT.pack(len(values)) + _array(values)
    places = list(
        itertools.compress(range(len(values)), map(operator.is_not, values, itertools.repeat(None)))
    )
    return _COUNT.pack(len(places)) + _array(places) + _array([values[place] for place in places])


def _array(values: Sequence[Any]) -> bytes:
    numbers = array.array("q", values)
    if _SWAP:
        numbers.byteswap()
    return numbers.tobytes()


def _numbers(blob: memoryview, jobs: int) -> list[int | None]:
    present, at = _count(blob, 0)
    numbers = array.array("q")
    if present > jobs or len(blob) - at != 8 * present * (1 if present == jobs else 2):
        raise ValueError("a column of integers cut short")
    numbers.frombytes(blob[at:])
    if _SWAP:
        numbers.byteswap()
    if present == jobs:
        return numbers.tolist()  # type: ignore[return-value]
    places = numbers[:present]
    # Written in order, each once, within the batch: anything else is a corrupt file (a place of -1 would
    # land on the last job).
    if places and (places[0] < 0 or places[-1] >= jobs or any(a >= b for a, b in itertools.pairwise(places))):
        raise ValueError("a column of integers places its values out of order or past its jobs")
    values: list[int | None] = [None] * jobs
    for place, value in zip(places, numbers[present:], strict=True):
        values[place] = value
    return values


def _text(blob: memoryview, jobs: int) -> list[str]:
    return bytes(blob).decode().split(_SEPARATOR) if jobs else []
