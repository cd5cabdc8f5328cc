"""Insights computed in plain Python from the same rows the tests ingest: the independent
answer the API must agree with. Written from the documented rules (docs/insights.md), not
from the aggregation code."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

from audiences.clock import parse_instant

Contact = dict[str, Any]
Event = dict[str, Any]


def _share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _date(value: object) -> dt.datetime | None:
    """Rows sent through the API carry ISO strings; rows stored directly carry datetimes."""
    if isinstance(value, dt.datetime):
        return value
    return parse_instant(value) if isinstance(value, str) else None


def age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def age_band(contact: Contact, as_of: dt.datetime) -> str:
    born = _date(contact.get("birthDate"))
    if born is None or born.date() > as_of.date():
        return "unknown"
    age = age_on(born.date(), as_of.date())
    for upper, band in (
        (18, "<18"),
        (25, "18-24"),
        (35, "25-34"),
        (45, "35-44"),
        (55, "45-54"),
        (65, "55-64"),
    ):
        if age < upper:
            return band
    return "65+"


def open_band(contact: Contact, as_of: dt.datetime) -> str:
    opened = _date(contact.get("lastEmailOpenedAt"))
    if opened is None:
        return "never"
    for days, band in ((7, "0-7d"), (30, "8-30d"), (90, "31-90d")):
        if opened >= as_of - dt.timedelta(days=days):
            return band
    return ">90d"


def activity(contact: Contact, as_of: dt.datetime) -> str:
    seen = _date(contact.get("lastSeenAt"))
    return "active" if seen is not None and seen >= as_of - dt.timedelta(days=30) else "inactive"


def language(contact: Contact) -> str:
    tag = contact["language"] if isinstance(contact.get("language"), str) else _text(contact.get("locale"))
    return tag.split("-")[0].split("_")[0].strip().lower()


CATEGORICAL: dict[str, tuple[Callable[[Contact], str], int | None]] = {
    "country": (lambda c: _text(c.get("country")).upper(), None),
    "city": (lambda c: _text(c.get("city")), 10),
    "gender": (lambda c: _text(c.get("gender")).lower(), 10),
    "language": (language, 20),
}


def _categorical(values: list[str], limit: int | None, total: int) -> list[dict[str, Any]]:
    known = Counter(v for v in values if v)
    ranked = sorted(known.items(), key=lambda kv: (-kv[1], kv[0]))
    top = ranked if limit is None else ranked[:limit]
    listed = dict(top)
    # A listed value spelled "other" or "unknown" is merged into that bucket.
    other = sum(n for _, n in ranked[len(top) :]) + listed.pop("other", 0)
    unknown = total - sum(known.values()) + listed.pop("unknown", 0)
    rows = [*listed.items(), *((k, n) for k, n in (("other", other), ("unknown", unknown)) if n)]
    return [{"key": k, "count": n, "share": _share(n, total)} for k, n in rows]


def _banded(values: list[str], bands: tuple[str, ...], total: int) -> list[dict[str, Any]]:
    counts = Counter(values)
    return [{"key": k, "count": counts[k], "share": _share(counts[k], total)} for k in bands]


def top_events(members: set[str], events: list[Event], as_of: dt.datetime) -> list[dict[str, Any]]:
    since = as_of - dt.timedelta(days=30)
    people: dict[str, set[str]] = {}
    for event in events:
        ts = _date(event["ts"])
        if event["userId"] in members and ts is not None and since <= ts <= as_of:
            people.setdefault(event["name"], set()).add(event["userId"])
    ranked = sorted(((name, len(who)) for name, who in people.items()), key=lambda kv: (-kv[1], kv[0]))
    return [{"key": k, "count": n, "share": _share(n, len(members))} for k, n in ranked[:10]]


def expected_insights(contacts: list[Contact], events: list[Event], *, as_of: dt.datetime) -> dict[str, Any]:
    """The response body `GET .../insights` must return for these contacts (all of them the
    population) and events, without `asOf`."""
    total = len(contacts)
    demographics = {
        name: _categorical([key(c) for c in contacts], limit, total)
        for name, (key, limit) in CATEGORICAL.items()
    }
    demographics["ageBands"] = _banded(
        [age_band(c, as_of) for c in contacts],
        ("<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+", "unknown"),
        total,
    )
    active = _banded([activity(c, as_of) for c in contacts], ("active", "inactive"), total)
    return {
        "count": total,
        "demographics": {k: demographics[k] for k in ("country", "city", "ageBands", "gender", "language")},
        "engagement": {
            "emailOpenRecency": _banded(
                [open_band(c, as_of) for c in contacts], ("0-7d", "8-30d", "31-90d", ">90d", "never"), total
            ),
            "topEvents30d": top_events({c["id"] for c in contacts}, events, as_of),
            "activeLast30d": {"active": active[0], "inactive": active[1]},
        },
    }
