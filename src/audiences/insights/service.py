"""Insights and overlap: resolve audiences to contact filters, let the database count, and
shape the counts into buckets and overlap figures.

All queries of one answer share one time limit (`timeout_ms`): each gets what is left of it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audiences.clock import as_utc, truncate_ms
from audiences.db import Database
from audiences.errors import QueryTimeout
from audiences.insights.breakdowns import (
    BREAKDOWNS,
    NO_VALUE,
    OTHER,
    TOP_EVENTS_LIMIT,
    TOP_EVENTS_WINDOW,
    UNKNOWN,
    Banded,
    Categorical,
)
from audiences.insights.errors import DuplicateAudienceIds
from audiences.insights.repository import NOT_A_DATE, InsightsRepository, ProfileCounts
from audiences.segments.resolve import ResolvedAudience, resolve_audience
from audiences.tenancy import TenantScope


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    count: int
    share: float  # count / population, 4 decimals


@dataclass(frozen=True, slots=True)
class Insights:
    count: int
    as_of: dt.datetime
    breakdowns: dict[str, list[Bucket]]  # by `Breakdown.name`
    top_events_30d: list[Bucket]  # people (not events) per event name; a person may be in several


@dataclass(frozen=True, slots=True)
class Overlap:
    a: int
    b: int
    both: int

    @property
    def only_a(self) -> int:
        return self.a - self.both

    @property
    def only_b(self) -> int:
        return self.b - self.both

    @property
    def union(self) -> int:
        return self.a + self.b - self.both

    @property
    def jaccard(self) -> float:
        return round(self.both / self.union, 4) if self.union else 0.0


@dataclass(frozen=True, slots=True)
class AudienceSize:
    id: str
    name: str
    kind: str
    count: int


@dataclass(frozen=True, slots=True)
class PairOverlap:
    a_id: str
    b_id: str
    overlap: Overlap


@dataclass(frozen=True, slots=True)
class OverlapMatrix:
    as_of: dt.datetime
    audiences: list[AudienceSize]
    pairs: list[PairOverlap]  # every pair once, in request order: (0,1), (0,2), ..., (1,2), ...


class TimeBudget:
    """One time limit shared by the several queries of one answer."""

    def __init__(self, timeout_ms: int) -> None:
        self._deadline = time.monotonic() + timeout_ms / 1000

    def remaining_ms(self) -> int:
        left = int((self._deadline - time.monotonic()) * 1000)
        if left <= 0:
            raise QueryTimeout()
        return left


def share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def reference_instant(as_of: dt.datetime) -> dt.datetime:
    """`as_of` in UTC at the millisecond precision the database stores."""
    return truncate_ms(as_utc(as_of))


def _categorical_buckets(breakdown: Categorical, rows: list[tuple[Any, int]], total: int) -> list[Bucket]:
    merged: Counter[str] = Counter()
    for stored, people in rows:
        merged[breakdown.normalise(stored)] += people
    unknown = merged.pop(NO_VALUE, 0)
    # Values past RAW_VALUES_LIMIT distinct stored values were not returned.
    beyond = total - sum(people for _, people in rows)
    ranked = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
    top = ranked if breakdown.limit is None else ranked[: breakdown.limit]
    listed = dict(top)
    # A listed value spelled like a synthetic bucket joins it, so keys stay unique.
    other = sum(people for _, people in ranked[len(top) :]) + beyond + listed.pop(OTHER, 0)
    unknown += listed.pop(UNKNOWN, 0)
    rows_out = [*listed.items(), (OTHER, other), (UNKNOWN, unknown)]
    return [Bucket(key, people, share(people, total)) for key, people in rows_out if people > 0]


def _banded_buckets(
    breakdown: Banded, rows: list[tuple[Any, int]], total: int, as_of: dt.datetime
) -> list[Bucket]:
    people_in: Counter[str] = Counter()
    for bucket_id, people in rows:
        band = breakdown.missing if bucket_id == NOT_A_DATE else breakdown.band_of(as_utc(bucket_id), as_of)
        people_in[band] += people
    return [Bucket(band, people_in[band], share(people_in[band], total)) for band in breakdown.bands]


def breakdown_buckets(profile: ProfileCounts, as_of: dt.datetime) -> dict[str, list[Bucket]]:
    return {
        b.name: (
            _banded_buckets(b, profile.rows[b.name], profile.total, as_of)
            if isinstance(b, Banded)
            else _categorical_buckets(b, profile.rows[b.name], profile.total)
        )
        for b in BREAKDOWNS
    }


async def compute_insights(
    *,
    db: Database,
    scope: TenantScope,
    contact_filter: Mapping[str, Any],
    as_of: dt.datetime,
    timeout_ms: int,
    budget: TimeBudget | None = None,
) -> Insights:
    """Insights of the contacts matching `contact_filter` (without `orgId`; the scope adds it),
    as of `as_of`: one `$facet` aggregation for the breakdowns, one for the top events."""
    budget = budget or TimeBudget(timeout_ms)
    at = reference_instant(as_of)
    repository = InsightsRepository(db)
    profile = await repository.profile(scope, contact_filter, as_of=at, timeout_ms=budget.remaining_ms())
    total = profile.total
    breakdowns = breakdown_buckets(profile, at)
    top_events: list[Bucket] = []
    if total:
        rows = await repository.top_events(
            scope,
            contact_filter,
            since=at - TOP_EVENTS_WINDOW,
            until=at,
            limit=TOP_EVENTS_LIMIT,
            timeout_ms=budget.remaining_ms(),
        )
        top_events = [Bucket(name, people, share(people, total)) for name, people in rows]
    return Insights(count=total, as_of=at, breakdowns=breakdowns, top_events_30d=top_events)


async def audience_insights(
    *, db: Database, scope: TenantScope, audience_id: str, as_of: dt.datetime, timeout_ms: int
) -> Insights:
    """Insights of a saved audience (segment or custom audience); 404 when the org has no such id."""
    budget = TimeBudget(timeout_ms)
    at = reference_instant(as_of)
    audience = await resolve_audience(
        db=db, scope=scope, audience_id=audience_id, as_of=at, timeout_ms=budget.remaining_ms()
    )
    return await compute_insights(
        db=db,
        scope=scope,
        contact_filter=audience.contact_filter,
        as_of=at,
        timeout_ms=timeout_ms,
        budget=budget,
    )


async def _resolve_all(
    *, db: Database, scope: TenantScope, audience_ids: Sequence[str], as_of: dt.datetime, budget: TimeBudget
) -> list[ResolvedAudience]:
    return [
        await resolve_audience(
            db=db, scope=scope, audience_id=audience_id, as_of=as_of, timeout_ms=budget.remaining_ms()
        )
        for audience_id in audience_ids
    ]


async def _overlap_counts(
    *, db: Database, scope: TenantScope, filters: Sequence[Mapping[str, Any]], budget: TimeBudget
) -> tuple[list[int], dict[tuple[int, int], int]]:
    """`(sizes, both)`: each audience's size and, keyed `(i, j)` with `i < j`, the size of
    each pair's intersection, from one query counting people per membership combination."""
    regions = await InsightsRepository(db).membership_regions(
        scope, filters, timeout_ms=budget.remaining_ms()
    )
    n = len(filters)
    sizes = [sum(people for mask, people in regions.items() if mask >> i & 1) for i in range(n)]
    both = {
        (i, j): sum(people for mask, people in regions.items() if mask >> i & 1 and mask >> j & 1)
        for i in range(n)
        for j in range(i + 1, n)
    }
    return sizes, both


async def audience_overlap(
    *,
    db: Database,
    scope: TenantScope,
    first_id: str,
    second_id: str,
    as_of: dt.datetime,
    timeout_ms: int,
) -> Overlap:
    """How much two audiences (any mix of segments and custom audiences) overlap: one query."""
    budget = TimeBudget(timeout_ms)
    at = reference_instant(as_of)
    first, second = await _resolve_all(
        db=db, scope=scope, audience_ids=[first_id, second_id], as_of=at, budget=budget
    )
    sizes, both = await _overlap_counts(
        db=db, scope=scope, filters=[first.contact_filter, second.contact_filter], budget=budget
    )
    return Overlap(a=sizes[0], b=sizes[1], both=both[(0, 1)])


def check_distinct(audience_ids: Sequence[str]) -> None:
    seen: set[str] = set()
    repeated: list[tuple[int, str]] = []
    for index, audience_id in enumerate(audience_ids):
        if audience_id in seen:
            repeated.append((index, audience_id))
        seen.add(audience_id)
    if repeated:
        raise DuplicateAudienceIds(repeated)


async def overlap_matrix(
    *,
    db: Database,
    scope: TenantScope,
    audience_ids: Sequence[str],
    as_of: dt.datetime,
    timeout_ms: int,
) -> OverlapMatrix:
    """Sizes of 2–5 audiences and the overlap of every pair, from one query."""
    check_distinct(audience_ids)
    budget = TimeBudget(timeout_ms)
    at = reference_instant(as_of)
    audiences = await _resolve_all(db=db, scope=scope, audience_ids=audience_ids, as_of=at, budget=budget)
    sizes, both = await _overlap_counts(
        db=db, scope=scope, filters=[a.contact_filter for a in audiences], budget=budget
    )
    return OverlapMatrix(
        as_of=at,
        audiences=[
            AudienceSize(a.id, a.name, a.kind, size) for a, size in zip(audiences, sizes, strict=True)
        ],
        pairs=[
            PairOverlap(audiences[i].id, audiences[j].id, Overlap(a=sizes[i], b=sizes[j], both=n))
            for (i, j), n in sorted(both.items())
        ],
    )
