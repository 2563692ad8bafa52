"""Request times (bodies and query parameters) go through one parser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bookker_sync.functions.api_models import parse_api_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2031-03-04T10:00:00Z", datetime(2031, 3, 4, 10, tzinfo=UTC)),
        ("2031-03-04t10:00:00z", datetime(2031, 3, 4, 10, tzinfo=UTC)),
        ("2031-03-04T11:00:00+01:00", datetime(2031, 3, 4, 10, tzinfo=UTC)),
        ("2031-03-04T10:00:00.1234567Z", datetime(2031, 3, 4, 10, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_rfc3339_with_offset_becomes_utc(text: str, expected: datetime) -> None:
    parsed = parse_api_time(text)
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    ["2031-03-04T10:00:00", "2031-03-04", "1700000000", "2031-02-30T10:00:00Z",
     "9999-12-31T23:00:00-05:00"],
)  # fmt: skip
def test_anything_else_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_api_time(text)
