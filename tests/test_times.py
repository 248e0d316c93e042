"""The one parser of user-given times (every --since, --until, --start, --fallback-time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.core.times import as_utc, parse_when
from monitor.errors import ConfigError

MAY_1 = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01", MAY_1),
        ("20240501", MAY_1),
        ("  2024-05-01 ", MAY_1),
        ("2024-05-01T06:00", MAY_1 + timedelta(hours=6)),
        ("2024-05-01 06:00", MAY_1 + timedelta(hours=6)),
        ("2024-05-01T06:00:30", MAY_1 + timedelta(hours=6, seconds=30)),
        ("2024-05-01T06:00:30.250", MAY_1 + timedelta(hours=6, seconds=30, milliseconds=250)),
        ("2024-05-01T06:00Z", MAY_1 + timedelta(hours=6)),
        ("2024-05-01T06:00:00Z", MAY_1 + timedelta(hours=6)),
        ("2024-05-01T06:00+02:00", MAY_1 + timedelta(hours=4)),
        ("2024-05-01T06:00-05:30", MAY_1 + timedelta(hours=11, minutes=30)),
    ],
)
def test_each_form_gives_the_utc_instant(text: str, expected: datetime) -> None:
    moment = parse_when(text)
    assert moment == expected
    assert moment.tzinfo is UTC


@pytest.mark.parametrize("text", ["2024-05-07", "20240507"])
def test_a_bare_date_at_the_end_of_a_period_includes_that_day(text: str) -> None:
    assert parse_when(text, end_of_day=True) == datetime(2024, 5, 8, tzinfo=UTC)


def test_a_time_at_the_end_of_a_period_is_taken_as_given() -> None:
    assert parse_when("2024-05-07T06:00", end_of_day=True) == datetime(2024, 5, 7, 6, tzinfo=UTC)


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "2024-05-01T25:00", "", "05/01/2024"])
def test_anything_else_is_an_error_naming_the_option_and_the_forms(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_when(text, option="--since")
    assert str(info.value).startswith(f"--since {text!r}: not an ISO 8601 date")
    assert "YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]" in str(info.value)


def test_as_utc_takes_naive_times_as_utc_and_converts_others() -> None:
    assert as_utc(datetime(2024, 5, 1, 6)) == MAY_1 + timedelta(hours=6)
    seoul = timezone(timedelta(hours=9))
    converted = as_utc(datetime(2024, 5, 1, 9, tzinfo=seoul))
    assert converted == MAY_1 and converted.tzinfo is UTC
