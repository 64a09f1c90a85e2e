"""Helpers for an adapter's ``mapping.py``: reading an ATS's JSON into the hub's shapes.

What every adapter's mapping otherwise writes again: text that may be missing or blank, times that must
carry a zone, country codes, and mapping a whole page where one bad item must fail the call (skipping it
would close the job it used to be, or lose the hire it was).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pycountry

from hub.errors import AdapterUnavailable, ShapeError, WebhookMalformed
from hub.normalised import Event

T = TypeVar("T")


def text(value: Any) -> str | None:
    """A non-empty, trimmed string; None for a missing, blank or non-text value (ATSs send "" for unset)."""
    return value.strip() or None if isinstance(value, str) else None


def iso_time(value: Any, what: str, *, naive_is_utc: bool = False) -> datetime:
    """An ISO 8601 time (``Z`` allowed) as an aware datetime; :class:`~hub.errors.ShapeError` naming
    ``what`` when it is missing, unreadable, or (unless ``naive_is_utc``) has no zone."""
    try:
        moment = datetime.fromisoformat(value.strip()) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is not None and moment.tzinfo is None and naive_is_utc:
        moment = moment.replace(tzinfo=UTC)
    if moment is None or moment.tzinfo is None:
        raise ShapeError(f"{what} must be an ISO 8601 time with a zone, not {value!r:.60}")
    return moment


#: What ATSs write for a country that is not ISO 3166-1's own: codes in common use, and English names
#: the standard's list does not carry. Everything else is looked up in the standard (pycountry).
_COUNTRY_ALIASES = {"uk": "GB", "el": "GR", "great britain": "GB", "england": "GB", "scotland": "GB",
                    "wales": "GB", "northern ireland": "GB", "the netherlands": "NL"}  # fmt: skip


@functools.lru_cache(maxsize=1024)
def _country(value: str) -> str | None:
    alias = _COUNTRY_ALIASES.get(value.lower())
    if alias is not None:
        return alias
    try:
        # Exact matches only (codes, names, official and common names): a fuzzy search takes "XX" for Malta.
        return pycountry.countries.lookup(value).alpha_2
    except LookupError:
        return None


def country_code(value: Any) -> str | None:
    """A country as its ISO 3166-1 alpha-2 code: given as that code (any case), as an alpha-3 code, or by
    its English name ("Germany", "USA", "United Kingdom", "UK"); None for anything else, so a feed never
    carries a country that does not exist."""
    given = text(value)
    return _country(given) if given else None


@functools.lru_cache(maxsize=512)
def country_names(code: str | None) -> tuple[str, ...]:
    """The English names of the country of ISO 3166-1 alpha-2 ``code`` (its name, and its common name
    where the standard has one: "Taiwan, Province of China", "Taiwan"); none for no code or an unknown one."""
    country = pycountry.countries.get(alpha_2=code) if code else None
    if country is None:
        return ()
    names = (getattr(country, key) for key in ("name", "common_name") if hasattr(country, key))
    return tuple(dict.fromkeys(names))


def mapped(items: Iterable[Any], mapper: Callable[[Any], T], *, peer: str) -> list[T]:
    """``mapper`` of every item; an item it cannot map (a ``ValueError``, ShapeError included) fails the
    whole call as :class:`~hub.errors.AdapterUnavailable` naming the peer, so the hub keeps the last good
    data and tries again later."""
    try:
        return [mapper(item) for item in items]
    except ValueError as error:
        raise AdapterUnavailable(f"{peer} answered something it does not document: {error}") from None


def webhook_events(build: Callable[[], Event | None]) -> list[Event]:
    """The events of a signed webhook, for ``parse_webhook``: ``build()`` is the adapter's mapping of it,
    an event or None (a webhook the hub does not use). A body that is not what the ATS sends (``build``
    raises ``ValueError``, ShapeError included) is :class:`~hub.errors.WebhookMalformed` naming why, so
    the hub keeps the webhook, marked failed, for an operator."""
    try:
        event = build()
    except ValueError as error:
        raise WebhookMalformed(str(error)) from None
    return [event] if event is not None else []
