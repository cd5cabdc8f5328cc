"""Insights and overlap of real custom audiences (created through /custom), mixed with
dynamic audiences: a custom audience id is usable wherever a segment id is."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from tests.conftest import AS_OF, IngestFn
from tests.insights.conftest import Contact, FixtureAudiences, make_events, make_people
from tests.insights.expected import expected_insights
from tests.insights.test_overlap import figures, without_as_of

BASE = "/api/crm/audiences"


def at(days_ago: float) -> str:
    return (AS_OF - dt.timedelta(days=days_ago)).isoformat()


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    r = await client.post(f"{BASE}/custom", json=body)
    assert r.status_code == 201, r.text
    audience_id: str = r.json()["id"]
    return audience_id


class World:
    def __init__(
        self, people: list[Contact], events: list[dict[str, Any]], uploaded: str, pixel: str
    ) -> None:
        self.people = people
        self.events = events
        self.uploaded = uploaded
        self.pixel = pixel
        self.uploaded_ids = {c["id"] for c in people[::4]}

    def pixel_ids(self, as_of: dt.datetime) -> set[str]:
        since = as_of - dt.timedelta(days=14)
        return {
            e["userId"]
            for e in self.events
            if e["name"] == "add_to_cart"
            and e.get("properties", {}).get("pixelId") == "px_shop"
            and since <= dt.datetime.fromisoformat(e["ts"]) <= as_of
        }


@pytest.fixture
async def world(client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences) -> World:
    people = make_people(80, seed=31)
    events = make_events(people, seed=32, per_person=2)
    events += [
        {"userId": c["id"], "name": "add_to_cart", "ts": at(i % 20), "properties": {"pixelId": "px_shop"}}
        for i, c in enumerate(people[::3])
    ]
    await ingest(client, people, events)
    uploaded = await create(client, {"type": "file_upload", "name": "Uploaded list"})
    csv = "id\n" + "".join(f"{c['id']}\n" for c in people[::4])
    r = await client.post(f"{BASE}/custom/{uploaded}/upload", files={"file": ("list.csv", csv.encode())})
    assert r.status_code == 200, r.text
    pixel = await create(
        client,
        {
            "type": "retargeting_pixel",
            "name": "Cart visitors",
            "pixelId": "px_shop",
            "eventNames": ["add_to_cart"],
            "windowDays": 14,
        },
    )
    audiences.define("pro", {"tier": "pro"}, lambda c: c["tier"] == "pro")
    return World(people, events, uploaded, pixel)


class TestCustomAudienceInsights:
    async def test_insights_of_an_uploaded_list_match_python(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        r = await client.get(f"{BASE}/segments/{world.uploaded}/insights")

        assert r.status_code == 200, r.text
        members = [c for c in world.people if c["id"] in world.uploaded_ids]
        body = r.json()
        del body["asOf"]
        assert body == expected_insights(members, world.events, as_of=AS_OF)

    async def test_another_org_cannot_see_them(self, other_client: httpx.AsyncClient, world: World) -> None:
        r = await other_client.get(f"{BASE}/segments/{world.uploaded}/insights")

        assert r.status_code == 404


class TestCustomAudienceOverlap:
    async def test_upload_pixel_and_dynamic_audiences_overlap_as_sets(
        self, client: httpx.AsyncClient, world: World, audiences: FixtureAudiences
    ) -> None:
        ids = [world.uploaded, world.pixel, "pro"]
        members = {
            world.uploaded: world.uploaded_ids,
            world.pixel: world.pixel_ids(AS_OF),
            "pro": audiences.members("pro", world.people),
        }

        r = await client.post(f"{BASE}/overlap", json={"segmentIds": ids})

        assert r.status_code == 200, r.text
        body = r.json()
        assert [(a["id"], a["kind"], a["count"]) for a in body["audiences"]] == [
            (world.uploaded, "file_upload", len(world.uploaded_ids)),
            (world.pixel, "retargeting_pixel", len(world.pixel_ids(AS_OF))),
            ("pro", "dynamic", len(members["pro"])),
        ]
        for p in body["pairs"]:
            got = {k: v for k, v in p.items() if k not in ("aId", "bId")}
            assert got == figures(members[p["aId"]], members[p["bId"]])

    async def test_as_of_moves_the_pixel_window(self, client: httpx.AsyncClient, world: World) -> None:
        earlier = AS_OF - dt.timedelta(days=10)

        r = await client.get(
            f"{BASE}/segments/{world.pixel}/overlap/{world.uploaded}",
            params={"asOf": earlier.isoformat()},
        )

        assert r.status_code == 200, r.text
        assert world.pixel_ids(earlier) != world.pixel_ids(AS_OF)
        assert without_as_of(r.json()) == figures(world.pixel_ids(earlier), world.uploaded_ids)
