"""Hypothesis strategies shared by the suites that feed the hub hostile input."""

from __future__ import annotations

from hypothesis import strategies as st

#: Short text made of anything: any code point, the characters XML and databases refuse (NUL, lone
#: surrogates, U+FFFE), line breaks of every kind, and markup that breaks naive escaping.
hostile_text = st.lists(
    st.characters()
    | st.sampled_from(["\x00", "\x1b", "\ud800", "\udfff", "\ufffe", "\u2028", "\r", "\n", "\t", "\u0085"])
    | st.sampled_from(
        ["]]>", "<![CDATA[", "</script>", "&amp;", "<", ">", "&", '"', "'", "%00", "../", "\\"]
    ),
    max_size=8,
).map("".join)
