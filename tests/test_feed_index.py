"""The feed index's format (:mod:`hub.feed_index`): what a rebuild reads back is what was written, and an
index that does not hold what its layout says is refused whole, never read out of line."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.feed_index import Layout

LAYOUT = Layout(("id", "name", "bid"), text=frozenset({"name"}))
#: Stored text: anything XML 1.0 allows (no NUL), as hub.sync.stored_values leaves it.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
INT64 = st.integers(-(1 << 63), (1 << 63) - 1)


def batches(data: bytes) -> list[list[list[Any]]]:
    return list(LAYOUT.decode(data)[1])


@given(
    st.lists(
        st.lists(st.tuples(INT64, TEXT, st.none() | INT64), min_size=1, max_size=30), min_size=0, max_size=4
    )
)
def test_batches_read_back_as_written(jobs: list[list[tuple[int, str, int | None]]]) -> None:
    written = [[list(column) for column in zip(*batch, strict=True)] for batch in jobs]
    data = LAYOUT.header({"context": "c"}) + b"".join(LAYOUT.encode(batch) for batch in written)
    header, read = LAYOUT.decode(data)
    assert header == {"context": "c", "columns": ["id", "name", "bid"]}
    assert list(read) == written


def test_columns_all_null_some_null_and_none_null() -> None:
    written = [[1, 2, 3, 4], ["a", "", "é", "d"], [None, None, None, None]]
    for bids in ([None] * 4, [None, 7, None, 0], [5, 6, 7, 8]):
        written[2] = bids
        assert batches(LAYOUT.header({}) + LAYOUT.encode(written)) == [written]
    sparse = LAYOUT.encode([[1] * 100, ["x"] * 100, [None] * 99 + [5]])
    dense = LAYOUT.encode([[1] * 100, ["x"] * 100, [5] * 100])
    assert len(sparse) < len(dense) - 700, "a mostly null column keeps its values and their places alone"


def test_text_holding_the_separator_is_refused_not_read_out_of_line() -> None:
    data = LAYOUT.header({}) + LAYOUT.encode([[1, 2], ["a\x00b", "c"], [None, None]])
    with pytest.raises(ValueError, match="column name: 3 values for 2 jobs"):
        batches(data)


@pytest.mark.parametrize("cut", [1, 8, 20, 40])
def test_an_index_cut_short_is_refused(cut: int) -> None:
    data = LAYOUT.header({}) + LAYOUT.encode([[1, 2, 3], ["a", "b", "c"], [None, 4, None]])
    with pytest.raises(ValueError, match="cut short"):
        batches(data[:-cut])


def test_other_input_is_refused() -> None:
    with pytest.raises(ValueError, match="without its header line"):
        LAYOUT.decode(b'{"context": "c"}')
    with pytest.raises(ValueError, match="columns for an index of"):
        LAYOUT.encode([[1], ["a"]])
    with pytest.raises(ValueError, match="column name: 1 values for 2 jobs"):
        LAYOUT.encode([[1, 2], ["a"], [None, None]])
    # A place past the batch's jobs (a corrupted file) is refused, not an IndexError.
    good = LAYOUT.encode([[1, 2], ["a", "b"], [None, 9]])
    corrupt = good[:-16] + (5).to_bytes(8, "little") + good[-8:]
    with pytest.raises(ValueError, match="past its jobs"):
        batches(LAYOUT.header({}) + corrupt)
