"""ISO-8601 durations for relative dates: `{"$now": "-P30D"}` means 30 days before the
evaluation instant, `{"$now": "PT12H"}` twelve hours after it.

Accepted: an optional sign, `P`, then years `Y`, months `M`, weeks `W`, days `D`, and after
`T` hours `H`, minutes `M`, seconds `S` (seconds may have a fraction). Years and months are
calendar units (a month after 31 January is the last day of February); the rest are exact.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

_PATTERN = re.compile(
    r"(?P<sign>[+-])?P"
    r"(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:[.,]\d{1,6})?)S)?)?"
)
# Large enough for any audience ("members for ten years"), small enough that adding it to
# an instant stays inside the dates Python and BSON can both hold.
MAX_YEARS = 1000


@dataclass(frozen=True, slots=True)
class Duration:
    negative: bool
    years: int = 0
    months: int = 0
    exact: dt.timedelta = dt.timedelta(0)

    def shift(self, instant: dt.datetime) -> dt.datetime:
        """`instant` moved by this duration (calendar part first, then the exact part)."""
        sign = -1 if self.negative else 1
        total_months = instant.year * 12 + (instant.month - 1) + sign * (self.years * 12 + self.months)
        year, month = divmod(total_months, 12)
        month += 1
        day = min(instant.day, calendar.monthrange(year, month)[1])
        return instant.replace(year=year, month=month, day=day) + sign * self.exact


def parse_duration(text: str) -> Duration:
    """Parse an ISO-8601 duration such as `-P30D` or `PT1H30M`; raise ValueError otherwise."""
    match = _PATTERN.fullmatch(text.strip()) if len(text) <= 64 else None
    if match is None or text.strip().endswith("T"):
        raise ValueError(f"{text!r} is not an ISO-8601 duration such as -P30D or PT12H")
    parts = match.groupdict()
    if all(parts[k] is None for k in ("years", "months", "weeks", "days", "hours", "minutes", "seconds")):
        raise ValueError(f"{text!r} is not an ISO-8601 duration such as -P30D or PT12H")
    years = int(parts["years"] or 0)
    months = int(parts["months"] or 0)
    weeks = int(parts["weeks"] or 0)
    days = int(parts["days"] or 0)
    hours = int(parts["hours"] or 0)
    minutes = int(parts["minutes"] or 0)
    seconds = float((parts["seconds"] or "0").replace(",", "."))
    span_days = days + 7 * weeks + (hours / 24) + (minutes / 1440) + (seconds / 86400)
    if years + months / 12 + span_days / 366 > MAX_YEARS:
        raise ValueError(f"{text!r} is longer than {MAX_YEARS} years")
    exact = dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    return Duration(negative=parts["sign"] == "-", years=years, months=months, exact=exact)
