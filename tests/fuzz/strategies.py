"""Hypothesis strategies for hostile input: bytes, broken JSON, wrong types, unicode.

Shared by the webhook and the Bookker API fuzz tests. Everything here builds *raw
bytes* (what goes on the wire), so the tests control encoding mistakes too.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# Characters that break naive code: astral (4-byte UTF-8), RTL override and marks,
# zero-width and BOM, NUL and other controls, line separators, quotes and markup.
NASTY_CHARS = [
    "\x00", "\x01", "\x1f", "\x7f", "\x85", "\u2028", "\u2029", "\ufeff", "\u200b", "\u200d",
    "\u202e", "\u202d", "\u061c", "\u200f", "\u05d0", "\u0627", "\U0001f600", "\U0010ffff",
    "\U0001d11e", "\ufffd", "\ufffe", "\uffff", "'", '"', "\\", "/", "#", "?", "%", "&",
    "<", ">", "\r", "\n", "\t", " ", "é", "ß", "İ", "ﬁ",
]  # fmt: skip
LONE_SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]

nasty_text = st.text(
    alphabet=st.one_of(st.sampled_from(NASTY_CHARS), st.characters(codec="utf-8")),
    max_size=24,
)
"""Valid Unicode (encodable as UTF-8), biased towards the nasty characters."""


@st.composite
def surrogate_text(draw: st.DrawFn) -> str:
    """A str holding at least one lone surrogate (not encodable as UTF-8)."""
    head, tail = draw(nasty_text), draw(nasty_text)
    return head + draw(st.sampled_from(LONE_SURROGATES)) + tail


hostile_text = st.one_of(nasty_text, surrogate_text())

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(hostile_text, inner, max_size=3)
    ),
    max_leaves=6,
)
"""Any JSON value (strings may hold lone surrogates: ``dumps`` escapes them as \\uD800)."""


def dumps(value: Any) -> bytes:
    """JSON bytes; lone surrogates become ``\\udXXX`` escapes (valid JSON syntax)."""
    return json.dumps(value).encode("ascii")


def dumps_utf8(value: Any) -> bytes:
    """JSON bytes with non-ASCII as raw UTF-8; lone surrogates as raw (invalid) bytes."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def encoded(draw: st.DrawFn, value: Any) -> bytes:
    """``value`` as JSON, escaped or raw, with a random BOM/whitespace around it."""
    body: bytes = draw(st.sampled_from([dumps, dumps_utf8]))(value)
    prefix = draw(st.sampled_from([b"", b" ", b"\n\t", b"\xef\xbb\xbf"]))
    return prefix + body + draw(st.sampled_from([b"", b"\n", b"  "]))


@st.composite
def broken_json(draw: st.DrawFn, value: Any) -> bytes:
    """``value``'s JSON text made malformed: cut, a byte replaced or inserted."""
    text = dumps(value)
    how = draw(st.sampled_from(["cut", "replace", "insert", "trailing", "single-quotes"]))
    if how == "single-quotes" and b'"' in text:
        return text.replace(b'"', b"'")
    if how == "trailing":
        return text + draw(st.sampled_from([b",", b"}", b"]", b"x", b"\x00", b"{"]))
    at = draw(st.integers(min_value=0, max_value=max(len(text) - 1, 0)))
    junk = draw(
        st.sampled_from([b"{", b"}", b"[", b"]", b",", b":", b'"', b"\\", b"\xff", b"\x00"])
    )
    if how == "cut":
        return text[:at] if at else b"{"
    if how == "replace":
        return text[:at] + junk + text[at + 1 :]
    return text[:at] + junk + text[at:]


@st.composite
def deep_nesting(draw: st.DrawFn, inner: bytes = b"1") -> bytes:
    """``[[[...]]]`` or ``{"a":{"a":...}}`` deeper than any recursion limit, or not."""
    depth = draw(st.one_of(st.integers(1, 50), st.integers(900, 1100), st.integers(10**4, 10**5)))
    if draw(st.booleans()):
        return b"[" * depth + inner + b"]" * depth
    return b'{"a":' * depth + inner + b"}" * depth


huge_number = st.integers(min_value=4301, max_value=20_000).map(lambda n: b"9" * n)
"""An integer literal past CPython's int-from-string digit limit (4300 digits)."""

garbage_bytes = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([
        b"", b" ", b"null", b"true", b"0", b'""', b"[]", b"{}", b"NaN", b"-Infinity", b"1e999",
        b"\xff\xfe{\x00}\x00", b"\xef\xbb\xbf{}", b'"\xed\xa0\x80"', b'{"a":"\xed\xa0\x80"}',
        b"\xc0\x80", b"\xf4\x90\x80\x80", b'{"value":[]}' * 2, b'{"value":[],"value":3}',
    ]),
)  # fmt: skip
"""Bytes that are (mostly) not a JSON object at all."""
