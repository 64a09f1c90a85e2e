"""``python -m hub.testing.serve``: what it refuses to serve, and why, in one line."""

from __future__ import annotations

import pytest

from hub.testing.appcast import FakeAppcast
from hub.testing.serve import load_fake


def test_a_fake_is_built_from_its_factory() -> None:
    assert isinstance(load_fake("hub.testing.appcast:FakeAppcast"), FakeAppcast)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("hub.testing.appcast", "is not MODULE:FACTORY"),
        ("no_such_module_anywhere:Fake", "cannot load no_such_module_anywhere:Fake: No module named"),
        ("hub.testing.appcast:NoSuchFake", "cannot load hub.testing.appcast:NoSuchFake"),
        ("hub.testing.peers:Faults", "has no aiohttp app attribute"),
    ],
)
def test_what_cannot_be_served_is_refused_naming_it(spec: str, message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        load_fake(spec)
