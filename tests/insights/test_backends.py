"""The insights and overlap pipelines give the same answers on both backends.

Runs on the embedded backend always, and on a real MongoDB too when
AUDIENCES_TEST_MONGODB_URI is set (marker `mongodb`; e.g. `docker compose up -d mongo`):
the pipelines use `$facet`, `$unionWith`, `$switch` and `$count`, whose edge cases (such as
`$count` over nothing) differ between the two.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from audiences.clock import parse_instant
from audiences.db import Database, open_database
from audiences.insights import service
from audiences.insights.schemas import InsightsResponse
from audiences.tenancy import system_scope
from tests.backends import BACKENDS, backend_settings
from tests.conftest import AS_OF
from tests.insights.conftest import Contact, FixtureAudiences, make_events, make_people
from tests.insights.expected import expected_insights
from tests.insights.test_overlap import figures

DATE_FIELDS = ("birthDate", "lastEmailOpenedAt", "lastSeenAt", "ts")


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    name = f"t{uuid.uuid4().hex[:10]}"
    settings = backend_settings(request, name)
    db = open_database(settings)
    await db.connect()
    yield db
    await db.drop()
    await db.close()


def as_stored(row: dict[str, Any]) -> dict[str, Any]:
    """The row as ingestion stores it: ISO strings in date fields become dates."""
    return {k: parse_instant(v) if k in DATE_FIELDS and isinstance(v, str) else v for k, v in row.items()}


async def store(db: Database, org: str, contacts: list[Contact], events: list[dict[str, Any]]) -> None:
    scope = system_scope(org)
    await db.collection("contacts").insert_many(
        [scope.stamp({"_id": f"{org}:{c['id']}", **as_stored(c)}) for c in contacts]
    )
    await db.collection("events").insert_many([scope.stamp(as_stored(e)) for e in events])


class TestOnBothBackends:
    async def test_insights_match_python(self, backend: Database) -> None:
        people = make_people(80, seed=21)
        events = make_events(people, seed=22)
        await store(backend, "acme", people, events)
        await store(backend, "globex", make_people(10, seed=23), [])
        pro = [c for c in people if c["tier"] == "pro"]

        insights = await service.compute_insights(
            db=backend,
            scope=system_scope("acme"),
            contact_filter={"tier": "pro"},
            as_of=AS_OF,
            timeout_ms=30_000,
        )

        body = InsightsResponse.of(insights).model_dump()
        assert body.pop("asOf") == "2026-04-24T12:00:00.000Z"
        assert body == expected_insights(pro, events, as_of=AS_OF)

    async def test_insights_of_nobody(self, backend: Database) -> None:
        await store(backend, "acme", make_people(5, seed=24), [])

        insights = await service.compute_insights(
            db=backend,
            scope=system_scope("acme"),
            contact_filter={"tier": "none"},
            as_of=AS_OF,
            timeout_ms=30_000,
        )

        assert (insights.count, insights.top_events_30d, insights.breakdowns["country"]) == (0, [], [])

    async def test_overlap_matrix_matches_sets(self, backend: Database, audiences: FixtureAudiences) -> None:
        people = make_people(60, seed=25)
        await store(backend, "acme", people, [])
        audiences.define("everyone", {}, lambda c: True)
        audiences.define("pro", {"tier": "pro"}, lambda c: c["tier"] == "pro")
        audiences.define("vip", {"tags": "vip"}, lambda c: "vip" in c.get("tags", []))
        audiences.define("nobody", {"tier": "none"}, lambda c: False)
        ids = ["everyone", "pro", "vip", "nobody"]

        matrix = await service.overlap_matrix(
            db=backend,
            scope=system_scope("acme"),
            audience_ids=ids,
            as_of=AS_OF - dt.timedelta(days=1),
            timeout_ms=30_000,
        )

        assert [a.count for a in matrix.audiences] == [len(audiences.members(i, people)) for i in ids]
        for p in matrix.pairs:
            o = p.overlap
            got: dict[str, Any] = {"a": o.a, "b": o.b, "both": o.both, "onlyA": o.only_a, "onlyB": o.only_b}
            got |= {"union": o.union, "jaccard": o.jaccard}
            assert got == figures(audiences.members(p.a_id, people), audiences.members(p.b_id, people))
