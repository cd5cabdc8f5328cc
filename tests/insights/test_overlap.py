"""GET /api/crm/audiences/segments/{id1}/overlap/{id2} and POST /api/crm/audiences/overlap."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from audiences.db import Database
from tests.conftest import AS_OF, IngestFn
from tests.insights.conftest import Contact, FixtureAudiences, make_people

MATRIX = "/api/crm/audiences/overlap"


def pair_url(first: str, second: str) -> str:
    return f"/api/crm/audiences/segments/{first}/overlap/{second}"


async def pair(client: httpx.AsyncClient, first: str, second: str, **params: str) -> dict[str, Any]:
    r = await client.get(pair_url(first, second), params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def figures(a: set[str], b: set[str]) -> dict[str, Any]:
    """The overlap figures by plain set arithmetic."""
    union = len(a | b)
    return {
        "a": len(a),
        "b": len(b),
        "both": len(a & b),
        "onlyA": len(a - b),
        "onlyB": len(b - a),
        "union": union,
        "jaccard": round(len(a & b) / union, 4) if union else 0.0,
    }


def without_as_of(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "asOf"}


@pytest.fixture
async def people(client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences) -> list[Contact]:
    """120 contacts and five audiences over them: three dynamic, one static, one custom."""
    contacts = make_people(120, seed=11)
    await ingest(client, contacts, [])
    static_ids = [c["id"] for c in contacts[::3]]
    audiences.define("pro", {"tier": "pro"}, lambda c: c["tier"] == "pro")
    audiences.define("vip", {"tags": "vip"}, lambda c: "vip" in c.get("tags", []))
    audiences.define(
        "de-or-fr", {"country": {"$in": ["DE", "FR"]}}, lambda c: c.get("country") in ("DE", "FR")
    )
    audiences.define(
        "static", {"id": {"$in": static_ids}}, lambda c: c["id"] in set(static_ids), kind="static"
    )
    audiences.define(
        "uploaded",
        {"$and": [{"tier": {"$ne": "free"}}, {"country": {"$exists": True}}]},
        lambda c: c["tier"] != "free" and "country" in c,
        kind="file_upload",
    )
    return contacts


NAMES = ["pro", "vip", "de-or-fr", "static", "uploaded"]


class QueryLog:
    """Counts reads on the contacts and events collections."""

    def __init__(self) -> None:
        self.aggregations: list[list[dict[str, Any]]] = []
        self.rows_returned = 0
        self.other_reads = 0


@pytest.fixture
def query_log(db: Database, monkeypatch: pytest.MonkeyPatch) -> QueryLog:
    log = QueryLog()
    for name in ("contacts", "events"):
        collection = db.collection(name)
        original = collection.aggregate

        def spy(
            pipeline: Any, *, timeout_ms: int | None = None, _original: Any = original
        ) -> AsyncIterator[Any]:
            log.aggregations.append(list(pipeline))

            async def rows() -> AsyncIterator[Any]:
                async for row in _original(pipeline, timeout_ms=timeout_ms):
                    log.rows_returned += 1
                    yield row

            return rows()

        def forbidden(*args: Any, _log: QueryLog = log, **kwargs: Any) -> Any:
            _log.other_reads += 1
            raise AssertionError("overlap must not read documents")

        monkeypatch.setattr(collection, "aggregate", spy)
        for method in ("find", "find_list", "count", "distinct"):
            monkeypatch.setattr(collection, method, forbidden)
    return log


class TestPairOverlap:
    @pytest.mark.parametrize(("first", "second"), list(itertools.combinations(NAMES, 2)))
    async def test_figures_match_set_arithmetic_for_any_mix_of_kinds(
        self,
        client: httpx.AsyncClient,
        people: list[Contact],
        audiences: FixtureAudiences,
        first: str,
        second: str,
    ) -> None:
        body = await pair(client, first, second)

        a, b = audiences.members(first, people), audiences.members(second, people)
        assert without_as_of(body) == figures(a, b)
        assert body["both"] + body["onlyA"] == body["a"]
        assert body["both"] + body["onlyB"] == body["b"]
        assert body["union"] == body["a"] + body["b"] - body["both"]

    async def test_order_swaps_a_and_b(self, client: httpx.AsyncClient, people: list[Contact]) -> None:
        ab = await pair(client, "pro", "vip")
        ba = await pair(client, "vip", "pro")

        assert (ab["a"], ab["b"], ab["onlyA"], ab["onlyB"]) == (ba["b"], ba["a"], ba["onlyB"], ba["onlyA"])
        assert (ab["both"], ab["union"], ab["jaccard"]) == (ba["both"], ba["union"], ba["jaccard"])

    async def test_an_audience_with_itself_overlaps_fully(
        self, client: httpx.AsyncClient, people: list[Contact], audiences: FixtureAudiences
    ) -> None:
        body = await pair(client, "vip", "vip")

        size = len(audiences.members("vip", people))
        assert without_as_of(body) == {
            "a": size,
            "b": size,
            "both": size,
            "onlyA": 0,
            "onlyB": 0,
            "union": size,
            "jaccard": 1.0,
        }

    async def test_jaccard_is_both_over_union_to_four_decimals(
        self, client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences
    ) -> None:
        await ingest(client, [{"id": "a", "x": 1}, {"id": "b", "x": 2}, {"id": "c", "x": 3}], [])
        audiences.define("low", {"x": {"$lte": 2}}, lambda c: c["x"] <= 2)
        audiences.define("high", {"x": {"$gte": 2}}, lambda c: c["x"] >= 2)

        body = await pair(client, "low", "high")

        assert without_as_of(body) == {
            "a": 2,
            "b": 2,
            "both": 1,
            "onlyA": 1,
            "onlyB": 1,
            "union": 3,
            "jaccard": 0.3333,
        }

    async def test_two_empty_audiences_have_jaccard_zero(
        self, client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences
    ) -> None:
        await ingest(client, [{"id": "a", "tier": "free"}], [])
        audiences.define("none-1", {"tier": "gold"}, lambda c: False)
        audiences.define("none-2", {"tier": "silver"}, lambda c: False)

        body = await pair(client, "none-1", "none-2")

        assert without_as_of(body) == figures(set(), set())
        assert body["jaccard"] == 0.0

    async def test_everyone_and_a_subset(
        self, client: httpx.AsyncClient, people: list[Contact], audiences: FixtureAudiences
    ) -> None:
        audiences.define("everyone", {}, lambda c: True)

        body = await pair(client, "everyone", "pro")

        assert without_as_of(body) == figures({c["id"] for c in people}, audiences.members("pro", people))

    async def test_counts_in_one_aggregation_that_returns_only_counts(
        self, client: httpx.AsyncClient, people: list[Contact], query_log: QueryLog
    ) -> None:
        await pair(client, "pro", "static")

        assert len(query_log.aggregations) == 1
        # One row per membership combination (in A only, in B only, in both), never people.
        assert query_log.rows_returned <= 3
        assert query_log.other_reads == 0
        pipeline = query_log.aggregations[0]
        assert pipeline[0]["$match"]["orgId"] == "acme"
        assert pipeline[2]["$unionWith"]["pipeline"][0]["$match"]["orgId"] == "acme"

    async def test_as_of_is_echoed_and_used_to_resolve_both(
        self, client: httpx.AsyncClient, people: list[Contact], audiences: FixtureAudiences
    ) -> None:
        body = await pair(client, "pro", "vip", asOf="2026-01-02T03:04:05.678Z")

        assert body["asOf"] == "2026-01-02T03:04:05.678Z"
        assert [t.isoformat() for t in audiences.resolved_at] == ["2026-01-02T03:04:05.678000+00:00"] * 2

    async def test_defaults_to_the_app_clock(self, client: httpx.AsyncClient, people: list[Contact]) -> None:
        body = await pair(client, "pro", "vip")

        assert body["asOf"] == "2026-04-24T12:00:00.000Z" == AS_OF.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    @pytest.mark.parametrize(("first", "second"), [("pro", "missing"), ("missing", "pro")])
    async def test_an_unknown_id_on_either_side_is_404(
        self, client: httpx.AsyncClient, people: list[Contact], first: str, second: str
    ) -> None:
        r = await client.get(pair_url(first, second))

        assert r.status_code == 404
        assert r.json()["code"] == "segment_not_found"

    async def test_another_orgs_audiences_are_404(
        self, other_client: httpx.AsyncClient, people: list[Contact]
    ) -> None:
        r = await other_client.get(pair_url("pro", "vip"))

        assert r.status_code == 404
        assert r.json()["code"] == "segment_not_found"

    async def test_counts_only_the_callers_contacts(
        self,
        client: httpx.AsyncClient,
        other_client: httpx.AsyncClient,
        ingest: IngestFn,
        audiences: FixtureAudiences,
    ) -> None:
        await ingest(client, [{"id": "a", "tier": "pro"}], [])
        await ingest(other_client, [{"id": "a", "tier": "pro"}, {"id": "b", "tier": "pro"}], [])
        audiences.define("pro", {"tier": "pro"}, lambda c: True)
        audiences.define("everyone", {}, lambda c: True)

        body = await pair(client, "pro", "everyone")

        assert (body["a"], body["b"], body["both"]) == (1, 1, 1)


class TestOverlapMatrix:
    async def test_sizes_and_every_pair_match_set_arithmetic(
        self, client: httpx.AsyncClient, people: list[Contact], audiences: FixtureAudiences
    ) -> None:
        r = await client.post(MATRIX, json={"segmentIds": NAMES})

        assert r.status_code == 200, r.text
        body = r.json()
        assert body["asOf"] == "2026-04-24T12:00:00.000Z"
        assert body["audiences"] == [
            {
                "id": name,
                "name": f"Test audience {name}",
                "kind": audiences.audiences[("acme", name)].kind,
                "count": len(audiences.members(name, people)),
            }
            for name in NAMES
        ]
        assert body["pairs"] == [
            {
                "aId": first,
                "bId": second,
                **figures(audiences.members(first, people), audiences.members(second, people)),
            }
            for first, second in itertools.combinations(NAMES, 2)
        ]

    async def test_pairs_follow_the_request_order(
        self, client: httpx.AsyncClient, people: list[Contact]
    ) -> None:
        r = await client.post(MATRIX, json={"segmentIds": ["static", "pro", "vip"]})

        assert [(p["aId"], p["bId"]) for p in r.json()["pairs"]] == [
            ("static", "pro"),
            ("static", "vip"),
            ("pro", "vip"),
        ]

    async def test_agrees_with_the_pair_endpoint(
        self, client: httpx.AsyncClient, people: list[Contact]
    ) -> None:
        matrix = (await client.post(MATRIX, json={"segmentIds": ["pro", "uploaded"]})).json()

        single = await pair(client, "pro", "uploaded")

        assert {k: v for k, v in matrix["pairs"][0].items() if k not in ("aId", "bId")} == without_as_of(
            single
        )

    async def test_five_audiences_are_counted_in_one_aggregation(
        self, client: httpx.AsyncClient, people: list[Contact], query_log: QueryLog
    ) -> None:
        r = await client.post(MATRIX, json={"segmentIds": NAMES})

        assert r.status_code == 200
        assert len(query_log.aggregations) == 1
        assert query_log.rows_returned <= 2**5 - 1
        assert query_log.other_reads == 0

    async def test_as_of_is_a_query_parameter(
        self, client: httpx.AsyncClient, people: list[Contact], audiences: FixtureAudiences
    ) -> None:
        r = await client.post(MATRIX, params={"asOf": "2026-03-01"}, json={"segmentIds": ["pro", "vip"]})

        assert r.json()["asOf"] == "2026-03-01T00:00:00.000Z"
        assert len(audiences.resolved_at) == 2

    @pytest.mark.parametrize(
        ("ids", "code"),
        [
            (["pro"], "too_short"),
            ([], "too_short"),
            (["a", "b", "c", "d", "e", "f"], "too_long"),
        ],
    )
    async def test_needs_two_to_five_ids(
        self, client: httpx.AsyncClient, people: list[Contact], ids: list[str], code: str
    ) -> None:
        r = await client.post(MATRIX, json={"segmentIds": ids})

        assert r.status_code == 400
        body = r.json()
        assert body["errors"][0]["code"] == code
        assert body["errors"][0]["path"] == "segmentIds"

    async def test_a_repeated_id_is_400_with_its_position(
        self, client: httpx.AsyncClient, people: list[Contact]
    ) -> None:
        r = await client.post(MATRIX, json={"segmentIds": ["pro", "vip", "pro", "vip"]})

        assert r.status_code == 400
        body = r.json()
        assert body["code"] == "duplicate_segment_id"
        assert [(e["code"], e["path"]) for e in body["errors"]] == [
            ("duplicate_segment_id", "segmentIds[2]"),
            ("duplicate_segment_id", "segmentIds[3]"),
        ]

    @pytest.mark.parametrize(
        ("payload", "path"),
        [
            ({}, "segmentIds"),
            ({"segmentIds": ["pro", ""]}, "segmentIds[1]"),
            ({"segmentIds": ["pro", 7]}, "segmentIds[1]"),
            ({"segmentIds": ["pro", "vip"], "extra": 1}, "extra"),
        ],
    )
    async def test_a_malformed_body_is_400_with_the_path(
        self, client: httpx.AsyncClient, payload: dict[str, Any], path: str
    ) -> None:
        r = await client.post(MATRIX, json=payload)

        assert r.status_code == 400
        assert path in [e["path"] for e in r.json()["errors"]]

    async def test_an_unknown_id_is_404(self, client: httpx.AsyncClient, people: list[Contact]) -> None:
        r = await client.post(MATRIX, json={"segmentIds": ["pro", "nope"]})

        assert r.status_code == 404
        assert r.json()["code"] == "segment_not_found"

    async def test_another_orgs_ids_are_404(
        self, other_client: httpx.AsyncClient, people: list[Contact]
    ) -> None:
        r = await other_client.post(MATRIX, json={"segmentIds": ["pro", "vip"]})

        assert r.status_code == 404
