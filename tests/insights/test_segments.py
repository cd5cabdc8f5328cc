"""Insights and overlap of real segments created through POST /segments: dynamic, relative
(`$now`), static by ids and static frozen from a filter."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from audiences.clock import parse_instant
from tests.conftest import AS_OF, IngestFn
from tests.insights.conftest import Contact, make_events, make_people
from tests.insights.expected import expected_insights
from tests.insights.test_overlap import figures, without_as_of

BASE = "/api/crm/audiences"


def opened_since(contact: Contact, instant: dt.datetime) -> bool:
    value = contact.get("lastEmailOpenedAt")
    return isinstance(value, str) and parse_instant(value) >= instant


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    r = await client.post(f"{BASE}/segments", json=body)
    assert r.status_code == 201, r.text
    segment_id: str = r.json()["id"]
    return segment_id


class Segments:
    def __init__(self, people: list[Contact], events: list[dict[str, Any]], ids: dict[str, str]) -> None:
        self.people = people
        self.events = events
        self.ids = ids

    def members(self, name: str, as_of: dt.datetime = AS_OF) -> set[str]:
        rules: dict[str, Callable[[Contact], bool]] = {
            "pro": lambda c: c["tier"] == "pro",
            "recent_openers": lambda c: opened_since(c, as_of - dt.timedelta(days=30)),
            "picked": lambda c: c["id"] in {p["id"] for p in self.people[:40:2]},
            "frozen_de": lambda c: c.get("country") == "DE",
        }
        return {c["id"] for c in self.people if rules[name](c)}


@pytest.fixture
async def segments(client: httpx.AsyncClient, ingest: IngestFn) -> Segments:
    people = make_people(90, seed=41)
    events = make_events(people, seed=42, per_person=2)
    await ingest(client, people, events)
    where = {"datatype": "contact"}
    ids = {
        "pro": await create(
            client, {"name": "Pro", "type": "dynamic", "filter": {**where, "where": {"tier": "pro"}}}
        ),
        "recent_openers": await create(
            client,
            {
                "name": "Opened in 30 days",
                "type": "dynamic",
                "filter": {**where, "where": {"lastEmailOpenedAt": {"$gte": {"$now": "-P30D"}}}},
            },
        ),
        "picked": await create(
            client, {"name": "Picked", "type": "static", "contactIds": [p["id"] for p in people[:40:2]]}
        ),
        "frozen_de": await create(
            client, {"name": "German", "type": "static", "filter": {**where, "where": {"country": "DE"}}}
        ),
    }
    return Segments(people, events, ids)


class TestSegmentInsights:
    @pytest.mark.parametrize("name", ["pro", "recent_openers", "picked", "frozen_de"])
    async def test_match_python_for_every_kind_of_segment(
        self, client: httpx.AsyncClient, segments: Segments, name: str
    ) -> None:
        r = await client.get(f"{BASE}/segments/{segments.ids[name]}/insights")

        assert r.status_code == 200, r.text
        members = segments.members(name)
        body = r.json()
        del body["asOf"]
        population = [c for c in segments.people if c["id"] in members]
        assert body == expected_insights(population, segments.events, as_of=AS_OF)

    async def test_as_of_resolves_relative_dates_in_the_filter(
        self, client: httpx.AsyncClient, segments: Segments
    ) -> None:
        earlier = AS_OF - dt.timedelta(days=40)

        r = await client.get(
            f"{BASE}/segments/{segments.ids['recent_openers']}/insights", params={"asOf": earlier.isoformat()}
        )

        assert r.status_code == 200, r.text
        assert segments.members("recent_openers", earlier) != segments.members("recent_openers")
        population = [c for c in segments.people if c["id"] in segments.members("recent_openers", earlier)]
        body = r.json()
        assert body.pop("asOf") == "2026-03-15T12:00:00.000Z"
        assert body == expected_insights(population, segments.events, as_of=earlier)

    async def test_another_orgs_segment_is_404(
        self, other_client: httpx.AsyncClient, segments: Segments
    ) -> None:
        r = await other_client.get(f"{BASE}/segments/{segments.ids['pro']}/insights")

        assert r.status_code == 404
        assert r.json()["code"] == "segment_not_found"

    async def test_an_unknown_segment_id_is_404(self, client: httpx.AsyncClient) -> None:
        r = await client.get(f"{BASE}/segments/seg_doesnotexist/insights")

        assert r.status_code == 404
        assert r.json()["code"] == "segment_not_found"


class TestSegmentOverlap:
    @pytest.mark.parametrize(
        ("first", "second"), list(itertools.combinations(["pro", "recent_openers", "picked", "frozen_de"], 2))
    )
    async def test_pairs_of_dynamic_and_static_segments_match_sets(
        self, client: httpx.AsyncClient, segments: Segments, first: str, second: str
    ) -> None:
        r = await client.get(f"{BASE}/segments/{segments.ids[first]}/overlap/{segments.ids[second]}")

        assert r.status_code == 200, r.text
        assert without_as_of(r.json()) == figures(segments.members(first), segments.members(second))

    async def test_the_matrix_of_four_segments_matches_sets(
        self, client: httpx.AsyncClient, segments: Segments
    ) -> None:
        names = ["frozen_de", "pro", "picked", "recent_openers"]

        r = await client.post(f"{BASE}/overlap", json={"segmentIds": [segments.ids[n] for n in names]})

        assert r.status_code == 200, r.text
        body = r.json()
        assert [(a["name"], a["kind"], a["count"]) for a in body["audiences"]] == [
            ("German", "static", len(segments.members("frozen_de"))),
            ("Pro", "dynamic", len(segments.members("pro"))),
            ("Picked", "static", len(segments.members("picked"))),
            ("Opened in 30 days", "dynamic", len(segments.members("recent_openers"))),
        ]
        by_id = {segments.ids[n]: n for n in names}
        for p in body["pairs"]:
            got = {k: v for k, v in p.items() if k not in ("aId", "bId")}
            assert got == figures(segments.members(by_id[p["aId"]]), segments.members(by_id[p["bId"]]))
