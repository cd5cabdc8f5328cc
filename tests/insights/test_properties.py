"""Properties over random data: insights buckets always partition the population and equal
the Python computation; overlap figures always equal set arithmetic. Each example uses a
fresh org in the same database, so examples never see each other's rows."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audiences.db import Database
from audiences.insights import service
from audiences.insights.schemas import InsightsResponse
from audiences.tenancy import TenantScope, system_scope
from tests.conftest import AS_OF
from tests.insights.conftest import EVENT_NAMES, Contact, Event, FixtureAudiences
from tests.insights.expected import expected_insights
from tests.insights.test_overlap import figures

PROPERTY = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TIMEOUT_MS = 30_000

SECOND = dt.timedelta(seconds=1)
DAY = dt.timedelta(days=1)
# Instants around every band edge, plus anything from 5 days after to 200 days before AS_OF.
_EDGES = [AS_OF - n * DAY + d for n in (0, 7, 30, 90) for d in (-SECOND, dt.timedelta(0), SECOND)]
instants = st.one_of(
    st.sampled_from(_EDGES),
    st.integers(-5 * 86_400, 200 * 86_400).map(lambda s: AS_OF - s * SECOND),
)


def _birthday(years: int, days: int) -> dt.datetime:
    day = AS_OF.date().replace(year=AS_OF.year - years) + days * DAY
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


birth_dates = st.one_of(
    st.builds(_birthday, st.sampled_from([0, 18, 25, 35, 45, 55, 65]), st.integers(-1, 1)),
    st.dates(dt.date(1920, 1, 1), dt.date(2027, 1, 1)).map(
        lambda d: dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)
    ),
    st.integers(0, 23).map(lambda h: _birthday(18, 0) + h * dt.timedelta(hours=1)),
)
CITIES = [f"Town {i:02d}" for i in range(12)]
contacts_strategy = st.lists(
    st.fixed_dictionaries(
        {"tier": st.sampled_from(["free", "pro"])},
        optional={
            "country": st.sampled_from(["DE", "FR", "US", " de ", "", 3, None]),
            "city": st.one_of(st.sampled_from(CITIES), st.sampled_from(["", "  ", " Town 00 ", 5, None])),
            "gender": st.sampled_from(["female", "Male", "male ", "other", "unknown", "", 1, None]),
            "language": st.sampled_from(["en", "EN-gb", "de_AT", "pt", "", 2, None]),
            "locale": st.sampled_from(["fr-CA", "es", "", None]),
            "birthDate": st.one_of(birth_dates, st.none(), st.just(1990)),
            "lastEmailOpenedAt": st.one_of(instants, st.none()),
            "lastSeenAt": st.one_of(instants, st.none()),
        },
    ),
    max_size=15,
)
events_strategy = st.lists(
    st.tuples(st.integers(0, 16), st.sampled_from(EVENT_NAMES), instants),
    max_size=30,
)


@contextlib.asynccontextmanager
async def stored(
    db: Database, scope: TenantScope, contacts: list[Contact], events: list[Event]
) -> AsyncIterator[None]:
    """The rows stored for one example, and removed after it: the embedded backend scans the
    whole collection, so rows left behind would slow every later example down."""
    await _insert(db, scope, contacts, events)
    try:
        yield
    finally:
        for name in ("contacts", "events"):
            await db.collection(name).delete_many(scope.filter())


async def _insert(db: Database, scope: TenantScope, contacts: list[Contact], events: list[Event]) -> None:
    if contacts:
        await db.collection("contacts").insert_many(
            [scope.stamp({"_id": f"{scope.org_id}:{c['id']}", **c}) for c in contacts]
        )
    if events:
        await db.collection("events").insert_many([scope.stamp(dict(e)) for e in events])


class TestInsightsProperties:
    @PROPERTY
    @given(rows=contacts_strategy, raw_events=events_strategy, only_pro=st.booleans())
    async def test_buckets_partition_the_population_and_match_python(
        self,
        db: Database,
        rows: list[dict[str, Any]],
        raw_events: list[tuple[int, str, dt.datetime]],
        only_pro: bool,
    ) -> None:
        scope = system_scope(f"org-{uuid.uuid4().hex}")
        contacts = [{"id": f"c{i}", **row} for i, row in enumerate(rows)]
        events = [{"userId": f"c{u}", "name": name, "ts": ts} for u, name, ts in raw_events]
        population = [c for c in contacts if not only_pro or c["tier"] == "pro"]

        async with stored(db, scope, contacts, events):
            insights = await service.compute_insights(
                db=db,
                scope=scope,
                contact_filter={"tier": "pro"} if only_pro else {},
                as_of=AS_OF,
                timeout_ms=TIMEOUT_MS,
            )

        assert insights.count == len(population)
        for name, buckets in insights.breakdowns.items():
            assert sum(b.count for b in buckets) == insights.count, name
        body = InsightsResponse.of(insights).model_dump()
        del body["asOf"]
        assert body == expected_insights(population, events, as_of=AS_OF)


Family = list[tuple[dict[str, Any], Callable[[Contact], bool]]]
STATIC = {"c0", "c2", "c4", "c6", "c9"}
FILTERS: Family = [
    ({}, lambda c: True),
    ({"tier": "pro"}, lambda c: c.get("tier") == "pro"),
    ({"tier": {"$ne": "pro"}}, lambda c: c.get("tier") != "pro"),
    ({"country": {"$in": ["DE", "FR"]}}, lambda c: c.get("country") in ("DE", "FR")),
    ({"country": {"$exists": False}}, lambda c: "country" not in c),
    ({"tags": "vip"}, lambda c: "vip" in c.get("tags", [])),
    ({"score": {"$gte": 5}}, lambda c: isinstance(c.get("score"), int) and c["score"] >= 5),
    (
        {"$or": [{"tier": "pro"}, {"tags": "vip"}]},
        lambda c: c.get("tier") == "pro" or "vip" in c.get("tags", []),
    ),
    ({"id": {"$in": sorted(STATIC)}}, lambda c: c["id"] in STATIC),
]
people_strategy = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "tier": st.sampled_from(["free", "pro"]),
            "country": st.sampled_from(["DE", "FR", "US", None]),
            "tags": st.lists(st.sampled_from(["vip", "lead"]), max_size=2, unique=True),
            # Numbers only: mongoeco orders mixed types by BSON type order in `$gte` (it
            # matches the string "7"), where MongoDB's type bracketing does not.
            "score": st.integers(0, 9),
        },
    ),
    max_size=12,
)


class TestOverlapProperties:
    @PROPERTY
    @given(
        rows=people_strategy,
        picks=st.lists(st.integers(0, len(FILTERS) - 1), min_size=2, max_size=5),
    )
    async def test_figures_equal_set_arithmetic(
        self, db: Database, audiences: FixtureAudiences, rows: list[dict[str, Any]], picks: list[int]
    ) -> None:
        scope = system_scope(f"org-{uuid.uuid4().hex}")
        contacts = [{"id": f"c{i}", **row} for i, row in enumerate(rows)]
        ids = [f"aud{n}" for n in range(len(picks))]
        for audience_id, pick in zip(ids, picks, strict=True):
            audiences.define(audience_id, FILTERS[pick][0], FILTERS[pick][1], org=scope.org_id)
        members = {
            audience_id: audiences.members(audience_id, contacts, org=scope.org_id) for audience_id in ids
        }

        async with stored(db, scope, contacts, []):
            matrix = await service.overlap_matrix(
                db=db, scope=scope, audience_ids=ids, as_of=AS_OF, timeout_ms=TIMEOUT_MS
            )
            single = await service.audience_overlap(
                db=db, scope=scope, first_id=ids[0], second_id=ids[1], as_of=AS_OF, timeout_ms=TIMEOUT_MS
            )

        assert [a.count for a in matrix.audiences] == [len(members[i]) for i in ids]
        assert len(matrix.pairs) == len(ids) * (len(ids) - 1) // 2
        for p in [*matrix.pairs, service.PairOverlap(ids[0], ids[1], single)]:
            o = p.overlap
            assert o.both + o.only_a == o.a
            assert o.both + o.only_b == o.b
            assert o.union == o.a + o.b - o.both
            assert {
                "a": o.a,
                "b": o.b,
                "both": o.both,
                "onlyA": o.only_a,
                "onlyB": o.only_b,
                "union": o.union,
                "jaccard": o.jaccard,
            } == figures(members[p.a_id], members[p.b_id])
