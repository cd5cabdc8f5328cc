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


def parse_instant(value: str) -> dt.datetime:
    """Parse an ISO-8601 date or date-time; naive values are UTC; date-only is midnight UTC.

    Raises ValueError for anything else.
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
    return parsed.astimezone(dt.UTC)


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
