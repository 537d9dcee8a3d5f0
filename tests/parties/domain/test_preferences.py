"""Time zone, quiet hours and language."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.parties.domain.errors import DomainValueError
from services.parties.domain.preferences import (
    in_quiet_hours,
    parse_quiet_hours,
    validate_language,
    validate_time_zone,
)

T = datetime.time


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Europe/Moscow", "Europe/Moscow"),
        (" europe/moscow ", "Europe/Moscow"),
        ("UTC", "UTC"),
        ("Asia/Almaty", "Asia/Almaty"),
    ],
)
def test_time_zone_valid(raw: str, expected: str) -> None:
    assert validate_time_zone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["Mars/Olympus", "", "../../etc/passwd", "/etc/localtime", "Europe/Moscow\x00", "x" * 10_000, "+03:00"],
)
def test_time_zone_rejected(raw: str) -> None:
    with pytest.raises(DomainValueError):
        validate_time_zone(raw)


def test_time_zone_reason() -> None:
    with pytest.raises(DomainValueError, match="not a known IANA time zone"):
        validate_time_zone("Europe/Atlantis")


def test_quiet_hours() -> None:
    assert parse_quiet_hours("22:00", "08:00") == (T(22), T(8))
    assert parse_quiet_hours("00:00", "23:59") == (T(0), T(23, 59))
    assert parse_quiet_hours(" 13:30", "14:00 ") == (T(13, 30), T(14))


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("24:00", "08:00", "start"),
        ("9:00", "10:00", "start"),
        ("22:60", "08:00", "start"),
        ("22:00", "8", "end"),
        ("22:00", "", "end"),
        ("22:00", "22:00", "end"),
        ("22:00:00", "08:00", "start"),
    ],
)
def test_quiet_hours_rejected(start: str, end: str, field: str) -> None:
    with pytest.raises(DomainValueError) as info:
        parse_quiet_hours(start, end)
    assert info.value.field == field


def test_in_quiet_hours_same_day() -> None:
    assert in_quiet_hours(T(13, 0), T(13), T(14))
    assert in_quiet_hours(T(13, 59, 59), T(13), T(14))
    assert not in_quiet_hours(T(14, 0), T(13), T(14))
    assert not in_quiet_hours(T(12, 59), T(13), T(14))


def test_in_quiet_hours_across_midnight() -> None:
    assert in_quiet_hours(T(23, 30), T(22), T(8))
    assert in_quiet_hours(T(0, 0), T(22), T(8))
    assert in_quiet_hours(T(7, 59), T(22), T(8))
    assert not in_quiet_hours(T(8, 0), T(22), T(8))
    assert not in_quiet_hours(T(21, 59), T(22), T(8))


def test_in_quiet_hours_ignores_tzinfo() -> None:
    aware = T(23, 0, tzinfo=datetime.UTC)
    assert in_quiet_hours(aware, T(22), T(8))


@given(st.times(), st.times(), st.times())
def test_window_and_its_complement_partition_the_day(now: T, start: T, end: T) -> None:
    if start == end:
        assert not in_quiet_hours(now, start, end)
    else:
        assert in_quiet_hours(now, start, end) != in_quiet_hours(now, end, start)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ru", "ru"),
        ("RU", "ru"),
        ("ru-ru", "ru-RU"),
        ("ru_RU", "ru-RU"),
        ("kk-KZ", "kk-KZ"),
        ("fil", "fil"),
        ("es-419", "es-419"),
        ("sr-latn-rs", "sr-Latn-RS"),
        ("zh-Hant", "zh-Hant"),
    ],
)
def test_language_valid(raw: str, expected: str) -> None:
    assert validate_language(raw) == expected
    assert validate_language(expected) == expected


@pytest.mark.parametrize("raw", ["", "r", "russian", "ru-RUS", "ru-", "рус", "ru RU", "en-US-x-private", "12"])
def test_language_rejected(raw: str) -> None:
    with pytest.raises(DomainValueError, match="language tag"):
        validate_language(raw)
