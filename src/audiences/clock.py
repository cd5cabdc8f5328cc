"""Time: one clock per app (tests pin it), and the instant/ISO-8601 conversions used everywhere."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Protocol

from fastapi import Depends, Request


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """A clock that only moves when told to (tests, reproducible runs)."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, delta: dt.timedelta) -> None:
        self.at = self.at + delta


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


AppClock = Annotated[Clock, Depends(get_clock)]


# Instants are read as UTC within the proleptic calendar Python and BSON share.
EARLIEST = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=dt.UTC)
# Evaluation instants (`asOf`, cursors) are shifted by `$now` durations (at most 1,000
# years) and look-back windows (at most ten years); keeping them 1,100 years inside the
# calendar means no shift can leave it.
EVALUATION_EARLIEST = dt.datetime(1100, 1, 1, tzinfo=dt.UTC)
EVALUATION_LATEST = dt.datetime(8900, 1, 1, tzinfo=dt.UTC)


class InstantOutOfRange(ValueError):
    """A well-formed instant outside the range the service can compute with."""


def parse_instant(value: str) -> dt.datetime:
    """Parse an ISO-8601 date or date-time; naive values are UTC; date-only is midnight UTC.

    Raises ValueError for anything else, `InstantOutOfRange` (a ValueError) when the
    offset moves the instant out of years 1..9999 (`0001-01-01T00:00:00+01:00`).
    """
    text = value.strip()
    if not text or len(text) > 64:
        raise ValueError("not an ISO-8601 date")
    if len(text) == 10:
        day = dt.date.fromisoformat(text)
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise InstantOutOfRange(f"{text!r} is outside years 1..9999 in UTC") from None


def parse_evaluation_instant(value: str) -> dt.datetime:
    """`parse_instant` for an instant queries are evaluated at (`asOf`): it must lie in
    [EVALUATION_EARLIEST, EVALUATION_LATEST) so durations and windows stay in range."""
    instant = parse_instant(value)
    if not EVALUATION_EARLIEST <= instant < EVALUATION_LATEST:
        raise InstantOutOfRange(
            f"{value.strip()!r} is outside the instants queries can be evaluated at "
            f"({EVALUATION_EARLIEST.year}..{EVALUATION_LATEST.year - 1})"
        )
    return instant


def as_utc(value: dt.datetime) -> dt.datetime:
    """Stored dates come back naive on some drivers; they are UTC."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def truncate_ms(value: dt.datetime) -> dt.datetime:
    """MongoDB stores dates with millisecond precision; compare at that precision."""
    return value.replace(microsecond=(value.microsecond // 1000) * 1000)


def format_instant(value: dt.datetime) -> str:
    """`2026-04-15T12:00:00.000Z`: the one form every response uses."""
    utc = as_utc(value)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
