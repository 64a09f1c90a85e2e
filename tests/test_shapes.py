"""The normalised shapes refuse what they cannot hold, where they are built, naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hub.errors import ShapeError
from hub.normalised import Account, Event, Job, Stage

NOW = datetime.now(UTC)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Event(kind="stage_moved", dedupe_key="k", occurred_at=NOW), "Event.kind must be one of"),  # type: ignore[arg-type]
        (lambda: Event(kind="hired", dedupe_key="", occurred_at=NOW), "Event.dedupe_key must be non-empty"),
        (
            lambda: Event(kind="hired", dedupe_key="k", occurred_at=datetime(2026, 1, 1)),
            "Event.occurred_at must carry a time zone",
        ),
        (
            lambda: Event(kind="hired", dedupe_key="k", occurred_at="2026-01-01"),
            "Event.occurred_at must be a datetime",
        ),  # type: ignore[arg-type]
        (
            lambda: Event(
                kind="stage_changed", dedupe_key="k", occurred_at=NOW, suggested_funnel_event="chat"
            ),  # type: ignore[arg-type]
            "Event.suggested_funnel_event must be one of",
        ),
        (lambda: Job(ats_id="", title="t", posted_at=NOW), "Job.ats_id must be non-empty"),
        (
            lambda: Job(ats_id="1", title="t", posted_at=datetime(2026, 1, 1)),
            "Job.posted_at must carry a time zone",
        ),
        (
            lambda: Job(ats_id="1", title="t", posted_at=NOW, updated_at=datetime(2026, 1, 1)),
            "Job.updated_at",
        ),
        (
            lambda: Job(ats_id="1", title="t", posted_at=NOW, is_open="yes"),
            "Job.is_open must be True or False",
        ),  # type: ignore[arg-type]
        (
            lambda: Job(ats_id="1", title="t", posted_at=NOW, workplace="office"),
            "Job.workplace must be one of",
        ),  # type: ignore[arg-type]
        (lambda: Stage(id=" ", name="Offer"), "Stage.id must be non-empty"),
        (lambda: Stage(id="s", name="Offer", suggested_funnel_event="hire"), "Stage.suggested_funnel_event"),  # type: ignore[arg-type]
        (
            lambda: Account("a", "file", "A", None, True, "everything", None, None),  # type: ignore[arg-type]
            "Account.feed_policy must be one of 'opted-in', 'all-open'",
        ),
    ],
)
def test_a_value_a_shape_cannot_hold_is_refused_naming_the_field(build: Any, message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        build()


def test_valid_shapes_build() -> None:
    assert Event(kind="stage_changed", dedupe_key="k", occurred_at=NOW, suggested_funnel_event="interview")
    assert Job(ats_id="1", title="t", posted_at=NOW, workplace="remote", updated_at=NOW)
    assert Stage(id="s", name="Offer", suggested_funnel_event="offer").suggested_funnel_event == "offer"


def test_a_shape_error_is_a_value_error() -> None:
    """Adapters that already catch ValueError around their mapping keep working."""
    assert issubclass(ShapeError, ValueError)
