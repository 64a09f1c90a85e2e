"""The feed's job elements, built as text for speed: well-formed, holding every value as given, and the
bytes lxml's incremental writer writes wherever that writer can write them."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.feed import FEED_COLUMNS, job_element
from hub.normalised import xml_safe
from tests.strategies import hostile_text

#: The job's elements in the feed's order: (tag, the column it comes from, written as CDATA).
ELEMENTS = (
    ("title", "title", True), ("date", "posted_at", False), ("referencenumber", "ats_id", False),
    ("requisitionid", "requisition_id", False), ("url", "hosted_url", False),
    ("applyurl", "apply_url", False), ("company", "company", True), ("city", "city", False),
    ("state", "region", False), ("country", "country", False), ("postalcode", "postal_code", False),
    ("remote", "workplace", False), ("description", "description_html", True),
    ("jobtype", "employment_type", False), ("category", "department", True), ("salary", "salary_text", True),
)  # fmt: skip
COMPANY = "Acme & Sons <Holdings>"

#: Text as the hub stores it: XML-safe (hub.sync.stored_values), sometimes empty.
stored_text = hostile_text.map(xml_safe)
#: A moment as a row holds it: SQLite's UTC text (with or without microseconds) or the driver's datetime.
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
).flatmap(
    lambda moment: st.sampled_from(
        [
            moment,
            moment.astimezone(timezone(timedelta(hours=-7))),
            moment.replace(microsecond=0).isoformat(sep=" "),
            moment.replace(microsecond=123456).isoformat(sep=" "),
        ]
    )
)


def shown(row: dict[str, Any], column: str) -> str:
    """What the element of ``column`` holds: the row's value, the date in feed form, the fallbacks."""
    value = row[column]
    if column == "posted_at":
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if column == "company":
        return value or COMPANY
    if column == "department":
        return value or row["team"]
    return value


def lxml_job(row: dict[str, Any], extra: list[tuple[str, str]]) -> bytes:
    """The element as lxml's incremental writer writes it inside ``<source>``: the reference."""
    buffer = io.BytesIO()
    with etree.xmlfile(buffer, encoding="utf-8") as xf, xf.element("source"):
        xf.write("\n  ")
        with xf.element("job"):
            for tag, column, cdata in ELEMENTS:
                if value := shown(row, column):
                    xf.write("\n    ")
                    with xf.element(tag):
                        xf.write(etree.CDATA(value) if cdata and _cdata(value) else value)
            for tag, value in extra:
                if value:
                    xf.write("\n    ")
                    with xf.element(tag):
                        xf.write(value)
            xf.write("\n  ")
    return buffer.getvalue().removeprefix(b"<source>").removesuffix(b"</source>")


def _cdata(value: str) -> bool:
    """Is ``value`` written as CDATA where its element takes CDATA? (``]]>`` cannot be.)"""
    return "]]>" not in value


def lxml_can_write(row: dict[str, Any]) -> bool:
    """lxml 6.1 (libxml2 2.14) crashes the process writing CDATA that ends in ``]``: the hub's writer once
    did, for a title like "Nurse [RN]". The byte-for-byte comparison skips what lxml cannot write."""
    return not any(
        cdata and _cdata(value := shown(row, column)) and value.endswith("]") for _, column, cdata in ELEMENTS
    )


def read_back(value: str, cdata: bool) -> str:
    """``value`` as an XML parser reads it back: in CDATA, line ends become ``\\n`` (XML 1.0 section
    2.11); escaped, a carriage return is ``&#13;`` and stays one."""
    return value.replace("\r\n", "\n").replace("\r", "\n") if cdata and _cdata(value) else value


@settings(max_examples=300, deadline=None)
@given(
    texts=st.fixed_dictionaries({column: stored_text for column in FEED_COLUMNS}),
    title=stored_text.filter(bool),
    posted_at=moments,
    extra=st.lists(st.tuples(st.sampled_from(["cpc", "custom"]), stored_text), max_size=2),
)
def test_a_job_element_holds_every_value_as_lxml_writes_it(
    texts: dict[str, str], title: str, posted_at: Any, extra: list[tuple[str, str]]
) -> None:
    row = {**texts, "id": 1, "title": title, "posted_at": posted_at, "ats_id": texts["ats_id"] or "job-1"}
    element = job_element(tuple(row[column] for column in FEED_COLUMNS), COMPANY, extra)
    parsed = etree.fromstring(element.strip(), etree.XMLParser(recover=False, strip_cdata=True))
    for tag, column, cdata in ELEMENTS:
        value = shown(row, column)
        assert parsed.findtext(tag) == (read_back(value, cdata) if value else None), tag
    assert [(child.tag, child.text) for child in parsed][len(parsed) - len([v for _, v in extra if v]) :] == [
        (tag, value) for tag, value in extra if value
    ]
    if lxml_can_write(row):
        assert element == lxml_job(row, extra)


def test_cdata_ending_in_a_bracket_is_written() -> None:
    row = dict.fromkeys(FEED_COLUMNS, "")
    row |= {
        "id": 1,
        "ats_id": "RN-1",
        "title": "Registered Nurse [RN]",
        "posted_at": "2026-10-29 01:45:00+00:00",
    }
    element = job_element(tuple(row[column] for column in FEED_COLUMNS), COMPANY, [])
    assert b"<title><![CDATA[Registered Nurse [RN]]]></title>" in element
    parsed = etree.fromstring(element.strip(), etree.XMLParser(recover=False))
    assert parsed.findtext("title") == "Registered Nurse [RN]"


def test_markup_in_text_is_escaped_and_cdata_that_cannot_hold_it_is_not_used() -> None:
    row = dict.fromkeys(FEED_COLUMNS, "")
    row |= {"id": 1, "ats_id": "a&b", "title": "Nurse ]]> RN", "posted_at": "2026-10-29 01:45:00+00:00",
            "city": "<Ulm>\r", "description_html": "<p>x</p>"}  # fmt: skip
    element = job_element(tuple(row[column] for column in FEED_COLUMNS), COMPANY, [])
    assert b"<title>Nurse ]]&gt; RN</title>" in element
    assert b"<referencenumber>a&amp;b</referencenumber>" in element
    assert b"<city>&lt;Ulm&gt;&#13;</city>" in element
    assert b"<description><![CDATA[<p>x</p>]]></description>" in element
    assert b"<date>2026-10-29T01:45:00Z</date>" in element
    parsed = etree.fromstring(element.strip(), etree.XMLParser(recover=False))
    assert (parsed.findtext("title"), parsed.findtext("city")) == ("Nurse ]]> RN", "<Ulm>\r")
