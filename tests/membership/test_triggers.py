"""Trigger evaluation on ingest: the touched subjects of the affected definitions only,
transitions logged once, webhook deliveries stored for the worker."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from audiences.db import Database
from audiences.membership import service
from audiences.membership.model import AudienceKind
from audiences.membership.repository import CHANGES, TRIGGERS
from audiences.tenancy import TenantScope
from audiences.webhooks.delivery import build_delivery_client, deliver_due
from audiences.webhooks.repository import DELIVERIES
from tests.conftest import AS_OF, IngestFn
from tests.membership.conftest import Define, Kinds
from tests.webhooks.receiver import Receiver, running

T = 15_000
DAY = dt.timedelta(days=1)


async def changes(db: Database, scope: TenantScope, audience_id: str) -> list[tuple[str, str]]:
    docs = await db.collection(CHANGES).find_list(
        {"orgId": scope.org_id, "audienceId": audience_id}, sort=[("seq", 1)]
    )
    return [(d["subjectId"], d["change"]) for d in docs]


def event(
    user: str, name: str, *, event_id: str | None = None, ts: dt.datetime = AS_OF - DAY
) -> dict[str, Any]:
    row: dict[str, Any] = {"userId": user, "name": name, "ts": ts.isoformat()}
    if event_id:
        row["eventId"] = event_id
    return row


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running(Receiver()) as r:
        yield r


class TestEventsIngested:
    async def test_an_event_completing_a_definition_enters_once_and_is_delivered_signed(
        self,
        client: httpx.AsyncClient,
        db: Database,
        acme: TenantScope,
        define: Define,
        ingest: IngestFn,
        receiver: Receiver,
    ) -> None:
        hook = await client.post(
            "/api/webhooks", json={"url": receiver.url, "events": ["audience.entered", "audience.left"]}
        )
        assert hook.status_code == 201, hook.text
        receiver.secret = hook.json()["secret"]
        await ingest(client, [{"id": "c1", "tier": "pro"}, {"id": "c2", "tier": "free"}], [])
        await define(acme, "journey", "aud-pro-checkout", field="tier", value="pro", event="checkout_started")
        assert await changes(db, acme, "aud-pro-checkout") == []

        await ingest(
            client, [], [event("c1", "checkout_started", event_id="e1"), event("c2", "checkout_started")]
        )

        feed = await client.get("/api/audiences/aud-pro-checkout/changes")
        assert [(i["subjectId"], i["change"], i["definitionVersion"]) for i in feed.json()["items"]] == [
            ("c1", "entered", 1)
        ]
        async with build_delivery_client(allow_private=True) as sender:
            run = await deliver_due(db=db, now=AS_OF, client=sender, timeout_ms=T, rand=lambda: 0.5)
        assert (run.attempted, run.delivered) == (1, 1)
        [got] = receiver.requests
        assert got.signature_ok
        payload = json.loads(got.body)
        assert (payload["type"], payload["audienceId"], payload["audienceKind"], payload["subjectId"]) == (
            "audience.entered",
            "aud-pro-checkout",
            "journey",
            "c1",
        )
        assert payload["id"] == feed.json()["items"][0]["id"]

        again = await client.post(
            "/api/events:batch", json={"events": [event("c1", "checkout_started", event_id="e1")]}
        )
        assert again.json()["duplicates"] == 1
        assert await changes(db, acme, "aud-pro-checkout") == [("c1", "entered")]
        assert await db.collection(DELIVERIES).count({}) == 1

    async def test_events_nobody_reads_evaluate_no_definition(
        self, client: httpx.AsyncClient, acme: TenantScope, define: Define, kinds: Kinds, ingest: IngestFn
    ) -> None:
        await ingest(client, [{"id": "c1", "tier": "pro"}], [])
        await define(acme, "journey", "aud-a", field="tier", value="pro", event="checkout_started")
        await define(acme, "segment", "seg-b", field="tier", value="pro")
        kinds.journey.evaluated.clear()
        kinds.segment.evaluated.clear()
        await ingest(client, [], [event("c1", "page_viewed"), event("c1", "email_opened")])
        assert kinds.journey.evaluated == kinds.segment.evaluated == []

    async def test_only_the_users_of_the_events_a_definition_reads_are_evaluated(
        self, client: httpx.AsyncClient, acme: TenantScope, define: Define, kinds: Kinds, ingest: IngestFn
    ) -> None:
        await ingest(client, [{"id": f"c{i}", "tier": "pro"} for i in range(4)], [])
        await define(acme, "journey", "aud-a", field="tier", value="pro", event="checkout_started")
        kinds.journey.evaluated.clear()
        await ingest(
            client,
            [],
            [event("c1", "checkout_started"), event("c2", "page_viewed"), event("c3", "checkout_started")],
        )
        assert kinds.journey.evaluated == [("aud-a", ["c1", "c3"])]

    async def test_an_event_of_another_org_never_touches_this_orgs_audiences(
        self,
        client: httpx.AsyncClient,
        other_client: httpx.AsyncClient,
        db: Database,
        acme: TenantScope,
        define: Define,
        kinds: Kinds,
        ingest: IngestFn,
    ) -> None:
        await ingest(client, [{"id": "c1", "tier": "pro"}], [])
        await define(acme, "journey", "aud-a", field="tier", value="pro", event="checkout_started")
        kinds.journey.evaluated.clear()
        await ingest(other_client, [{"id": "c1", "tier": "pro"}], [event("c1", "checkout_started")])
        assert kinds.journey.evaluated == []
        assert await changes(db, acme, "aud-a") == []

    async def test_a_failing_definition_does_not_fail_the_ingest_nor_the_others(
        self,
        client: httpx.AsyncClient,
        db: Database,
        acme: TenantScope,
        define: Define,
        kinds: Kinds,
        ingest: IngestFn,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        await ingest(client, [{"id": "c1", "tier": "pro"}], [])
        await define(acme, "segment", "seg-broken", event="checkout_started")
        await define(acme, "journey", "aud-ok", event="checkout_started")

        async def broken(**_: Any) -> dict[str, bool]:
            raise RuntimeError("evaluator bug")

        monkeypatch.setattr(kinds.segment, "evaluate_subjects", broken)
        await ingest(client, [], [event("c1", "checkout_started")])
        assert await changes(db, acme, "aud-ok") == [("c1", "entered")]
        assert await changes(db, acme, "seg-broken") == []


class TestContactsChanged:
    async def test_a_contact_update_that_makes_a_segment_match_enters_it_once(
        self,
        client: httpx.AsyncClient,
        db: Database,
        acme: TenantScope,
        define: Define,
        ingest: IngestFn,
        receiver: Receiver,
    ) -> None:
        hook = await client.post("/api/webhooks", json={"url": receiver.url, "events": ["audience.entered"]})
        receiver.secret = hook.json()["secret"]
        await ingest(client, [{"id": "c1", "tier": "free"}], [])
        await define(acme, "segment", "seg-pro", field="tier", value="pro")
        assert await changes(db, acme, "seg-pro") == []

        await ingest(client, [{"id": "c1", "tier": "pro"}], [])
        await ingest(client, [{"id": "c1", "tier": "pro"}], [])

        feed = await client.get("/api/crm/audiences/segments/seg-pro/changes")
        assert [(i["subjectId"], i["change"]) for i in feed.json()["items"]] == [("c1", "entered")]
        async with build_delivery_client(allow_private=True) as sender:
            await deliver_due(db=db, now=AS_OF, client=sender, timeout_ms=T, rand=lambda: 0.5)
        [got] = receiver.requests
        assert got.signature_ok
        assert json.loads(got.body)["audienceKind"] == "segment"

    async def test_a_contact_update_that_stops_the_match_leaves(
        self, client: httpx.AsyncClient, db: Database, acme: TenantScope, define: Define, ingest: IngestFn
    ) -> None:
        await ingest(client, [{"id": "c1", "tier": "pro"}], [])
        await define(acme, "segment", "seg-pro", field="tier", value="pro")
        await ingest(client, [{"id": "c1", "tier": "free"}], [])
        assert await changes(db, acme, "seg-pro") == [("c1", "entered"), ("c1", "left")]

    async def test_fields_nobody_reads_evaluate_no_definition(
        self, client: httpx.AsyncClient, acme: TenantScope, define: Define, kinds: Kinds, ingest: IngestFn
    ) -> None:
        await ingest(client, [{"id": "c1", "tier": "pro"}], [])
        await define(acme, "segment", "seg-pro", field="tier", value="pro")
        await define(acme, "journey", "aud-pro", field="tier", value="pro", event="checkout_started")
        kinds.segment.evaluated.clear()
        kinds.journey.evaluated.clear()
        await ingest(client, [{"id": "c1", "city": "Leeds"}], [])
        assert kinds.segment.evaluated == kinds.journey.evaluated == []

    async def test_a_new_contact_enters_definitions_matching_an_empty_contact(
        self, client: httpx.AsyncClient, db: Database, acme: TenantScope, define: Define, ingest: IngestFn
    ) -> None:
        await define(acme, "segment", "seg-everyone")
        await ingest(client, [{"id": "c1", "city": "Leeds"}], [])
        assert await changes(db, acme, "seg-everyone") == [("c1", "entered")]

    async def test_a_new_contact_named_by_a_static_list_enters_it(
        self, client: httpx.AsyncClient, db: Database, acme: TenantScope, define: Define, ingest: IngestFn
    ) -> None:
        await define(acme, "segment", "seg-static", contactIds=["c1", "c3"])
        await ingest(client, [{"id": "c1", "city": "Leeds"}, {"id": "c2", "city": "York"}], [])
        assert await changes(db, acme, "seg-static") == [("c1", "entered")]

    async def test_a_new_contact_whose_events_came_first_enters(
        self, client: httpx.AsyncClient, db: Database, acme: TenantScope, define: Define, ingest: IngestFn
    ) -> None:
        await define(acme, "journey", "aud-checkout", event="checkout_started")
        await ingest(client, [], [event("u1", "checkout_started"), event("u2", "page_viewed")])
        assert await changes(db, acme, "aud-checkout") == []  # no contact yet
        await ingest(client, [{"id": "u1", "city": "Leeds"}, {"id": "u2", "city": "York"}], [])
        assert await changes(db, acme, "aud-checkout") == [("u1", "entered")]

    async def test_a_deleted_contact_leaves_every_audience(
        self, client: httpx.AsyncClient, db: Database, acme: TenantScope, define: Define, ingest: IngestFn
    ) -> None:
        await ingest(client, [{"id": "c1", "tier": "pro"}, {"id": "c2", "tier": "pro"}], [])
        await define(acme, "segment", "seg-pro", field="tier", value="pro")
        await define(acme, "journey", "aud-pro", field="tier", value="pro")
        assert (await client.delete("/api/crm/contacts/c1")).status_code == 204
        assert await changes(db, acme, "seg-pro") == [("c1", "entered"), ("c2", "entered"), ("c1", "left")]
        assert await changes(db, acme, "aud-pro") == [("c1", "entered"), ("c2", "entered"), ("c1", "left")]


class TestTriggerIndex:
    async def test_a_definition_is_indexed_by_what_it_reads(
        self, app: Any, db: Database, acme: TenantScope, define: Define
    ) -> None:
        await define(acme, "journey", "aud-1", field="tier", value="pro", event="checkout_started", days=7)
        doc = await db.collection(TRIGGERS).find_one({"_id": "acme:journey:aud-1"})
        assert doc is not None
        assert {k: doc[k] for k in ("orgId", "kind", "audienceId", "version", "fields", "events")} == {
            "orgId": "acme",
            "kind": "journey",
            "audienceId": "aud-1",
            "version": 1,
            "fields": ["tier"],
            "events": ["checkout_started"],
        }
        assert (doc["timeDependent"], doc["matchesEmpty"], "subjectIds" in doc) == (True, False, False)


class TestTrackedStateFollowsIngest:
    async def test_after_any_sequence_of_ingests_tracked_members_equal_each_audiences_members(
        self,
        client: httpx.AsyncClient,
        db: Database,
        acme: TenantScope,
        define: Define,
        kinds: Kinds,
        ingest: IngestFn,
    ) -> None:
        rng = random.Random(3)
        audiences: list[tuple[AudienceKind, str]] = [
            ("segment", "seg-pro"),
            ("segment", "seg-gb-static"),
            ("journey", "aud-checkout-week"),
            ("journey", "aud-pro-ordered"),
            ("journey", "aud-everyone"),
        ]
        await define(acme, "segment", "seg-pro", field="tier", value="pro")
        await define(
            acme, "segment", "seg-gb-static", field="country", value="GB", contactIds=["c1", "c4", "c7"]
        )
        await define(acme, "journey", "aud-checkout-week", event="checkout_started", days=7)
        await define(acme, "journey", "aud-pro-ordered", field="tier", value="pro", event="order_placed")
        await define(acme, "journey", "aud-everyone")
        for _ in range(12):
            contacts = [
                {
                    "id": f"c{rng.randrange(10)}",
                    rng.choice(["tier", "country", "city"]): rng.choice(["pro", "GB", "x"]),
                }
                for _ in range(rng.randrange(0, 4))
            ]
            contacts = [c for c in contacts if not ("country" in c and c["country"] not in ("GB", "US"))]
            events = [
                {
                    "userId": f"c{rng.randrange(12)}",
                    "name": rng.choice(["checkout_started", "order_placed", "page_viewed"]),
                    "ts": (AS_OF - dt.timedelta(days=rng.randrange(0, 12))).isoformat(),
                }
                for _ in range(rng.randrange(0, 4))
            ]
            await ingest(client, contacts, events)
            if rng.random() < 0.2:
                await client.delete(f"/api/crm/contacts/c{rng.randrange(10)}")
        for kind, audience_id in audiences:
            tracked = {
                s
                async for s in service.current_members(
                    db=db, scope=acme, audience_kind=kind, audience_id=audience_id, timeout_ms=T
                )
            }
            live = {
                s
                async for s in kinds[kind].members(
                    db=db, scope=acme, audience_id=audience_id, as_of=AS_OF, timeout_ms=T
                )
            }
            assert tracked == live, audience_id
