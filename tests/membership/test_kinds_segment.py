"""CRM segments tracked for real: the segments API defines them, the DynamicQuery
evaluator answers for ingested contacts, the sweep catches `$now` windows, edits recompute."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from audiences.clock import FixedClock, format_instant
from audiences.config import Settings
from audiences.db import Database
from audiences.membership import recompute, registry
from audiences.membership.kinds_segment import SegmentKind
from audiences.membership.model import AudienceKind
from audiences.membership.repository import CHANGES
from audiences.tenancy import TenantScope
from audiences.webhooks.delivery import build_delivery_client, deliver_due
from audiences.webhooks.repository import DELIVERIES
from tests.conftest import AS_OF, IngestFn
from tests.webhooks.receiver import Receiver, running

T = 15_000
DAY = dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def real_segment_kind(existence_checks: dict[AudienceKind, registry.AudienceExists]) -> None:
    """The real segment kind's existence check on the membership routes."""
    registry._checkers["segment"] = existence_checks["segment"]


@pytest.fixture
def announce(db: Database, acme: TenantScope, clock: FixedClock, settings: Settings) -> Any:
    """What the segments service does after a save: tell tracking, then (here) wait."""

    async def run(segment_id: str) -> None:
        await recompute.definition_changed(
            db=db, scope=acme, kind="segment", audience_id=segment_id, clock=clock, settings=settings
        )
        await recompute.wait_for_recomputes()

    return run


async def create(
    client: httpx.AsyncClient, name: str, where: dict[str, Any] | None = None, **extra: Any
) -> str:
    body: dict[str, Any] = {"name": name, "type": extra.pop("type", "dynamic"), **extra}
    if where is not None:
        body["filter"] = {"datatype": "contact", "where": where}
    r = await client.post("/api/crm/audiences/segments", json=body)
    assert r.status_code == 201, r.text
    segment_id: str = r.json()["id"]
    return segment_id


async def changes(db: Database, segment_id: str) -> list[tuple[str, str]]:
    docs = await db.collection(CHANGES).find_list({"audienceId": segment_id}, sort=[("seq", 1)])
    return [(d["subjectId"], d["change"]) for d in docs]


async def api_members(client: httpx.AsyncClient, segment_id: str, as_of: dt.datetime) -> set[str]:
    r = await client.get(
        f"/api/crm/audiences/segments/{segment_id}/members", params={"limit": 1000, "asOf": as_of.isoformat()}
    )
    assert r.status_code == 200, r.text
    return {c["id"] for c in r.json()["items"]}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running(Receiver()) as r:
        yield r


class TestTrackedDefinition:
    async def test_a_dynamic_segment_reads_its_filters_top_level_fields(
        self, client: httpx.AsyncClient, db: Database, acme: TenantScope
    ) -> None:
        where = {
            "$and": [
                {"address.city": "Leeds"},
                {"lastSeenAt": {"$gte": {"$now": "-P7D"}}},
                {"tier": {"$ne": "free"}},
            ]
        }
        segment_id = await create(client, "Recent Leeds", where)
        tracked = await SegmentKind().get_definition(db=db, scope=acme, audience_id=segment_id, timeout_ms=T)
        assert tracked is not None
        assert (tracked.kind, tracked.name, tracked.fields, tracked.events) == (
            "segment",
            "Recent Leeds",
            {"address", "lastSeenAt", "tier"},
            frozenset(),
        )
        assert (tracked.time_dependent, tracked.matches_empty, tracked.subject_ids) == (True, False, None)
        assert tracked.version == int(AS_OF.timestamp() * 1000)

    async def test_a_filter_an_empty_contact_satisfies_matches_empty(
        self, client: httpx.AsyncClient, db: Database, acme: TenantScope
    ) -> None:
        segment_id = await create(client, "Not free", {"tier": {"$ne": "free"}})
        tracked = await SegmentKind().get_definition(db=db, scope=acme, audience_id=segment_id, timeout_ms=T)
        assert tracked is not None
        assert (tracked.matches_empty, tracked.time_dependent) == (True, False)

    async def test_a_static_segment_depends_on_its_id_list_only(
        self, client: httpx.AsyncClient, db: Database, acme: TenantScope, ingest: IngestFn
    ) -> None:
        await ingest(client, [{"id": "c1"}, {"id": "c2"}], [])
        segment_id = await create(client, "Frozen", type="static", contactIds=["c1", "c2"])
        tracked = await SegmentKind().get_definition(db=db, scope=acme, audience_id=segment_id, timeout_ms=T)
        assert tracked is not None
        assert (tracked.fields, tracked.subject_ids, tracked.matches_empty) == (
            frozenset(),
            {"c1", "c2"},
            False,
        )


class TestSegmentTracking:
    async def test_a_contact_update_that_makes_it_match_enters_once_with_one_signed_delivery(
        self,
        client: httpx.AsyncClient,
        db: Database,
        announce: Any,
        ingest: IngestFn,
        receiver: Receiver,
    ) -> None:
        hook = await client.post("/api/webhooks", json={"url": receiver.url, "events": ["audience.entered"]})
        receiver.secret = hook.json()["secret"]
        await ingest(client, [{"id": "c1", "tier": "free"}, {"id": "c2", "tier": "free"}], [])
        segment_id = await create(client, "Pro", {"tier": "pro"})
        await announce(segment_id)
        assert await changes(db, segment_id) == []

        await ingest(client, [{"id": "c1", "tier": "pro"}, {"id": "c2", "country": "GB"}], [])
        await ingest(client, [{"id": "c1", "tier": "pro"}], [])

        feed = (await client.get(f"/api/crm/audiences/segments/{segment_id}/changes")).json()["items"]
        assert [(i["subjectId"], i["change"], i["audienceKind"]) for i in feed] == [
            ("c1", "entered", "segment")
        ]
        async with build_delivery_client(allow_private=True) as sender:
            run = await deliver_due(db=db, now=AS_OF, client=sender, timeout_ms=T, rand=lambda: 0.5)
        assert run.delivered == 1
        [got] = receiver.requests
        assert got.signature_ok
        assert json.loads(got.body)["id"] == feed[0]["id"]
        assert await db.collection(DELIVERIES).count({}) == 1

    async def test_a_now_relative_window_ends_through_the_sweep(
        self, client: httpx.AsyncClient, db: Database, announce: Any, ingest: IngestFn, clock: FixedClock
    ) -> None:
        await ingest(client, [{"id": "c1", "lastSeenAt": (AS_OF - 2 * DAY).isoformat()}], [])
        segment_id = await create(client, "Seen this week", {"lastSeenAt": {"$gte": {"$now": "-P7D"}}})
        await announce(segment_id)
        assert await changes(db, segment_id) == [("c1", "entered")]
        clock.advance(6 * DAY)
        r = await client.post("/api/membership/sweep")
        assert (r.json()["audiences"], r.json()["left"]) == (1, 1)
        assert await changes(db, segment_id) == [("c1", "entered"), ("c1", "left")]

    async def test_editing_the_filter_recomputes_to_the_new_members(
        self, client: httpx.AsyncClient, db: Database, announce: Any, ingest: IngestFn, clock: FixedClock
    ) -> None:
        await ingest(client, [{"id": "c1", "tier": "pro"}, {"id": "c2", "tier": "team"}], [])
        segment_id = await create(client, "Tier", {"tier": "pro"})
        await announce(segment_id)
        clock.advance(DAY)
        r = await client.patch(
            f"/api/crm/audiences/segments/{segment_id}",
            json={"filter": {"datatype": "contact", "where": {"tier": "team"}}},
        )
        assert r.status_code == 200, r.text
        await announce(segment_id)
        status = (await client.get(f"/api/crm/audiences/segments/{segment_id}/membership-status")).json()
        assert (status["state"], status["processed"], status["error"]) == ("done", 1, None)
        assert status["definitionVersion"] == int((AS_OF + DAY).timestamp() * 1000)
        assert await changes(db, segment_id) == [("c1", "entered"), ("c2", "entered"), ("c1", "left")]
        assert await api_members(client, segment_id, clock.now()) == {"c2"}

    async def test_a_listed_contact_deleted_and_created_again_leaves_and_enters_a_static_segment(
        self, client: httpx.AsyncClient, db: Database, announce: Any, ingest: IngestFn
    ) -> None:
        await ingest(client, [{"id": "c1"}, {"id": "c2"}], [])
        segment_id = await create(client, "Frozen", type="static", contactIds=["c1"])
        await announce(segment_id)
        assert (await client.delete("/api/crm/contacts/c1")).status_code == 204
        await ingest(client, [{"id": "c1", "city": "York"}], [])
        assert await changes(db, segment_id) == [("c1", "entered"), ("c1", "left"), ("c1", "entered")]

    async def test_the_feed_of_an_unknown_segment_is_404(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/crm/audiences/segments/seg_nope/changes")
        assert r.status_code == 404
        assert r.json()["code"] == "segment_not_found"


class TestSegmentLookup:
    async def test_agrees_with_the_members_route_of_every_segment_for_every_contact(
        self, client: httpx.AsyncClient, announce: Any, ingest: IngestFn
    ) -> None:
        rng = random.Random(5)
        contacts = [
            {
                "id": f"c{i}",
                "tier": rng.choice(["free", "pro", "team"]),
                "country": rng.choice(["GB", "US"]),
                "tags": rng.sample(["vip", "lead", "beta"], rng.randrange(3)),
                "lastSeenAt": (AS_OF - dt.timedelta(hours=rng.randrange(1, 24 * 14))).isoformat(),
            }
            for i in range(15)
        ]
        await ingest(client, contacts, [])
        segment_ids = [
            await create(client, "Pro", {"tier": "pro"}),
            await create(client, "Not GB", {"country": {"$ne": "GB"}}),
            await create(client, "VIP or lead", {"tags": {"$in": ["vip", "lead"]}}),
            await create(client, "Seen in 5 days", {"lastSeenAt": {"$gte": {"$now": "-P5D"}}}),
            await create(client, "Frozen", type="static", contactIds=["c1", "c4", "c9"]),
        ]
        for segment_id in segment_ids:
            await announce(segment_id)
        for as_of in (AS_OF, AS_OF + 3 * DAY):
            expected = {c["id"]: set[str]() for c in contacts}
            for segment_id in segment_ids:
                for member in await api_members(client, segment_id, as_of):
                    expected[member].add(segment_id)
            for contact in contacts:
                body = (
                    await client.get(
                        f"/api/crm/contacts/{contact['id']}/audiences", params={"asOf": as_of.isoformat()}
                    )
                ).json()
                assert {s["id"] for s in body["segments"]} == expected[contact["id"]], contact
                if as_of == AS_OF:
                    assert all(s["since"] == format_instant(AS_OF) for s in body["segments"])
