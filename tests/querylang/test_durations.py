"""ISO-8601 durations for `{"$now": ...}`."""

from __future__ import annotations

import datetime as dt

import pytest

from audiences.querylang.durations import parse_duration

AT = dt.datetime(2026, 3, 31, 12, 0, tzinfo=dt.UTC)


class TestParseDuration:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("-P30D", dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)),
            ("P1D", dt.datetime(2026, 4, 1, 12, tzinfo=dt.UTC)),
            ("-PT12H", dt.datetime(2026, 3, 31, 0, tzinfo=dt.UTC)),
            ("PT1H30M", dt.datetime(2026, 3, 31, 13, 30, tzinfo=dt.UTC)),
            ("-P2W", dt.datetime(2026, 3, 17, 12, tzinfo=dt.UTC)),
            ("+PT0.5S", dt.datetime(2026, 3, 31, 12, 0, 0, 500000, tzinfo=dt.UTC)),
            ("-P1Y", dt.datetime(2025, 3, 31, 12, tzinfo=dt.UTC)),
        ],
    )
    def test_shifts_an_instant(self, text: str, expected: dt.datetime) -> None:
        assert parse_duration(text).shift(AT) == expected

    def test_months_are_calendar_months_clamped_to_the_month_end(self) -> None:
        assert parse_duration("-P1M").shift(AT) == dt.datetime(2026, 2, 28, 12, tzinfo=dt.UTC)

    def test_calendar_part_applies_before_the_exact_part(self) -> None:
        assert parse_duration("P1M1D").shift(AT) == dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)

    @pytest.mark.parametrize("text", ["", "P", "PT", "30D", "P1DT", "-P-1D", "P1.5D", "P2000Y", "yesterday"])
    def test_refuses_what_is_not_a_duration(self, text: str) -> None:
        with pytest.raises(ValueError, match=r"duration|longer"):
            parse_duration(text)
