"""The feed index's format (:mod:`hub.feed_index`): what a rebuild reads back is what was written, and an
index that does not hold what its layout says is refused whole, never read out of line."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.feed_index import MAX_BATCH_JOBS, Layout

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
    with pytest.raises(ValueError, match="other columns"):
        LAYOUT.decode(b"123\n")
    with pytest.raises(ValueError, match="other columns"):
        LAYOUT.decode(Layout(("id",), text=frozenset()).header({}))


@pytest.mark.parametrize("places", [[5], [-1], [1, 0], [1, 1]])
def test_values_placed_out_of_order_or_past_the_batch_are_refused(places: list[int]) -> None:
    # A corrupted file: a place of -1 would land on the last job, a wrong CRC checkpoint would follow.
    bids = [None, 8, 9] if len(places) == 2 else [None, None, 9]
    good = LAYOUT.encode([[1, 2, 3], ["a", "b", "c"], bids])
    count = len(places)
    corrupt = good[: -16 * count] + b"".join(place.to_bytes(8, "little", signed=True) for place in places)
    corrupt += good[-8 * count :]
    with pytest.raises(ValueError, match="out of order or past its jobs"):
        batches(LAYOUT.header({}) + corrupt)


def test_a_batch_counting_more_jobs_than_any_batch_holds_is_refused_before_anything_is_made() -> None:
    huge = (MAX_BATCH_JOBS + 1).to_bytes(8, "little")
    with pytest.raises(ValueError, match="more than"):
        batches(LAYOUT.header({}) + huge)
    too_many = MAX_BATCH_JOBS + 1
    with pytest.raises(ValueError, match="more than"):
        LAYOUT.encode([[0] * too_many, [""] * too_many, [None] * too_many])
