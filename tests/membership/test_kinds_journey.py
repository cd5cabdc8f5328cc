"""Journey audiences tracked for real: the journeys API defines them, the predicate
package evaluates them, membership tracking follows ingests, the sweep and edits."""

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
from audiences.membership.kinds_journey import JourneyKind
from audiences.membership.model import AudienceKind
from audiences.membership.repository import CHANGES
from audiences.membership.sweep import sweep
from audiences.tenancy import TenantScope
from audiences.webhooks.delivery import build_delivery_client, deliver_due
from audiences.webhooks.repository import DELIVERIES
from tests.conftest import AS_OF, IngestFn
from tests.webhooks.receiver import Receiver, running

T = 15_000
DAY = dt.timedelta(days=1)


def fired(name: str, days: int | None = None, at_least: int | None = None) -> dict[str, Any]:
    leaf: dict[str, Any] = {
        "kind": "event_fired",
        "eventName": name,
        "window": {"type": "ever"} if days is None else {"type": "last_n_days", "days": days},
    }
    if at_least is not None:
        leaf["atLeast"] = at_least
    return leaf


def attribute(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"kind": "attribute", "fieldPath": field, "operator": operator, "value": value}


PRO_CHECKOUT_WEEK = {
    "kind": "and",
    "clauses": [attribute("tier", "equals", "pro"), fired("checkout_started", 7)],
}


@pytest.fixture(autouse=True)
def real_journey_kind(existence_checks: dict[AudienceKind, registry.AudienceExists]) -> None:
    """The real journey kind's existence check on the membership routes."""
    registry._checkers["journey"] = existence_checks["journey"]


@pytest.fixture
def announce(db: Database, acme: TenantScope, clock: FixedClock, settings: Settings) -> Any:
    """What the journeys service does after a save: tell tracking, then (here) wait."""

    async def run(audience_id: str, scope: TenantScope = acme) -> None:
        await recompute.definition_changed(
            db=db, scope=scope, kind="journey", audience_id=audience_id, clock=clock, settings=settings
        )
        await recompute.wait_for_recomputes()

    return run


async def create(
    client: httpx.AsyncClient, audience_id: str, predicate: dict[str, Any], **extra: Any
) -> None:
    r = await client.post(
        "/api/audiences",
        json={"id": audience_id, "name": extra.pop("name", audience_id), "predicate": predicate},
    )
    assert r.status_code == 201, r.text


async def changes(db: Database, audience_id: str) -> list[tuple[str, str]]:
    docs = await db.collection(CHANGES).find_list({"audienceId": audience_id}, sort=[("seq", 1)])
    return [(d["subjectId"], d["change"]) for d in docs]


async def api_members(client: httpx.AsyncClient, audience_id: str, as_of: dt.datetime) -> set[str]:
    r = await client.get(
        f"/api/audiences/{audience_id}/members", params={"limit": 1000, "asOf": as_of.isoformat()}
    )
    assert r.status_code == 200, r.text
    return {c["id"] for c in r.json()["items"]}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running(Receiver()) as r:
        yield r


class TestTrackedDefinition:
    async def test_describes_what_the_predicate_reads(
        self, client: httpx.AsyncClient, db: Database, acme: TenantScope
    ) -> None:
        r = await client.post("/api/cohorts", json={"id": "vip", "name": "VIP", "subjectIds": ["c1", "c2"]})
        assert r.status_code == 201, r.text
        r = await client.post(
            "/api/cohorts",
            json={"id": "engaged", "name": "Engaged", "predicate": fired("email_opened", 30)},
        )
        assert r.status_code == 201, r.text
        predicate = {
            "kind": "and",
            "clauses": [
                attribute("plan.name", "equals", "pro"),
                {"kind": "in_cohort", "cohortId": "vip"},
                {"kind": "in_cohort", "cohortId": "engaged"},
                {"kind": "not", "clause": fired("order_placed")},
            ],
        }
        await create(client, "aud-mixed", predicate, name="Mixed")
        tracked = await JourneyKind().get_definition(db=db, scope=acme, audience_id="aud-mixed", timeout_ms=T)
        assert tracked is not None
        assert (tracked.kind, tracked.audience_id, tracked.name, tracked.version) == (
            "journey",
            "aud-mixed",
            "Mixed",
            1,
        )
        assert tracked.fields == {"plan"}
        assert tracked.events == {"email_opened", "order_placed"}
        assert tracked.time_dependent
        assert not tracked.matches_empty
        assert tracked.subject_ids == {"c1", "c2"}

    async def test_a_predicate_an_empty_contact_satisfies_matches_empty(
        self, client: httpx.AsyncClient, db: Database, acme: TenantScope
    ) -> None:
        await create(client, "aud-never-ordered", {"kind": "not", "clause": fired("order_placed")})
        tracked = await JourneyKind().get_definition(
            db=db, scope=acme, audience_id="aud-never-ordered", timeout_ms=T
        )
        assert tracked is not None
        assert (tracked.matches_empty, tracked.time_dependent, tracked.subject_ids) == (True, False, None)

    async def test_an_unknown_audience_has_no_definition(
        self, db: Database, acme: TenantScope, app: Any
    ) -> None:
        assert await JourneyKind().get_definition(db=db, scope=acme, audience_id="nope", timeout_ms=T) is None


class TestJourneyTracking:
    async def test_an_event_completing_the_predicate_enters_once_with_one_signed_delivery(
        self,
        client: httpx.AsyncClient,
        db: Database,
        announce: Any,
        ingest: IngestFn,
        receiver: Receiver,
    ) -> None:
        hook = await client.post("/api/webhooks", json={"url": receiver.url, "events": ["audience.entered"]})
        receiver.secret = hook.json()["secret"]
        await ingest(client, [{"id": "c1", "tier": "pro"}, {"id": "c2", "tier": "free"}], [])
        await create(client, "aud-pro-checkout", PRO_CHECKOUT_WEEK)
        await announce("aud-pro-checkout")
        checkout = {
            "eventId": "e1",
            "userId": "c1",
            "name": "checkout_started",
            "ts": (AS_OF - DAY).isoformat(),
        }

        await ingest(client, [], [checkout, {"userId": "c2", "name": "checkout_started"}])

        feed = (await client.get("/api/audiences/aud-pro-checkout/changes")).json()["items"]
        assert [(i["subjectId"], i["change"], i["audienceKind"]) for i in feed] == [
            ("c1", "entered", "journey")
        ]
        async with build_delivery_client(allow_private=True) as sender:
            run = await deliver_due(db=db, now=AS_OF, client=sender, timeout_ms=T, rand=lambda: 0.5)
        assert run.delivered == 1
        [got] = receiver.requests
        assert got.signature_ok
        assert json.loads(got.body)["id"] == feed[0]["id"]

        again = await client.post("/api/events:batch", json={"events": [checkout]})
        assert again.json()["duplicates"] == 1
        assert await changes(db, "aud-pro-checkout") == [("c1", "entered")]
        assert await db.collection(DELIVERIES).count({}) == 1

    async def test_a_last_n_days_membership_ends_through_the_sweep(
        self, client: httpx.AsyncClient, db: Database, announce: Any, ingest: IngestFn, clock: FixedClock
    ) -> None:
        await ingest(
            client,
            [{"id": "c1", "tier": "pro"}],
            [{"userId": "c1", "name": "checkout_started", "ts": (AS_OF - 2 * DAY).isoformat()}],
        )
        await create(client, "aud-pro-checkout", PRO_CHECKOUT_WEEK)
        await announce("aud-pro-checkout")
        assert await changes(db, "aud-pro-checkout") == [("c1", "entered")]
        clock.advance(4 * DAY)
        assert (await sweep(db=db, as_of=clock.now(), timeout_ms=T)).left == 0
        clock.advance(2 * DAY)  # the checkout is now 8 days old
        r = await client.post("/api/membership/sweep")
        assert (r.json()["audiences"], r.json()["left"]) == (1, 1)
        feed = (await client.get("/api/audiences/aud-pro-checkout/changes")).json()["items"]
        assert [(i["subjectId"], i["change"], i["at"]) for i in feed] == [
            ("c1", "entered", format_instant(AS_OF)),
            ("c1", "left", format_instant(AS_OF + 6 * DAY)),
        ]

    async def test_editing_the_predicate_recomputes_to_the_new_members(
        self, client: httpx.AsyncClient, db: Database, announce: Any, ingest: IngestFn
    ) -> None:
        await ingest(client, [{"id": "c1", "tier": "pro"}, {"id": "c2", "tier": "team"}, {"id": "c3"}], [])
        await create(client, "aud-tier", attribute("tier", "equals", "pro"))
        await announce("aud-tier")
        r = await client.put(
            "/api/audiences/aud-tier", json={"name": "Team", "predicate": attribute("tier", "equals", "team")}
        )
        assert r.status_code == 200, r.text
        await announce("aud-tier")
        status = (await client.get("/api/audiences/aud-tier/membership-status")).json()
        assert (status["state"], status["definitionVersion"], status["processed"], status["error"]) == (
            "done",
            2,
            1,
            None,
        )
        assert await changes(db, "aud-tier") == [("c1", "entered"), ("c2", "entered"), ("c1", "left")]

    async def test_the_feed_of_an_unknown_journey_audience_is_404(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/audiences/aud-nope/changes")
        assert r.status_code == 404
        assert r.json()["code"] == "audience_not_found"


class TestJourneyLookup:
    async def test_agrees_with_the_members_route_of_every_audience_for_every_contact(
        self, client: httpx.AsyncClient, announce: Any, ingest: IngestFn
    ) -> None:
        rng = random.Random(11)
        contacts = [
            {"id": f"c{i}", "tier": rng.choice(["free", "pro"]), "score": rng.randrange(10)}
            for i in range(15)
        ]
        events = [
            {
                "userId": f"c{rng.randrange(15)}",
                "name": rng.choice(["checkout_started", "order_placed"]),
                "ts": (AS_OF - dt.timedelta(hours=rng.randrange(1, 24 * 12))).isoformat(),
            }
            for _ in range(50)
        ]
        await ingest(client, contacts, events)
        r = await client.post(
            "/api/cohorts", json={"id": "some", "name": "Some", "subjectIds": ["c1", "c2", "c3"]}
        )
        assert r.status_code == 201, r.text
        predicates = {
            "aud-pro": attribute("tier", "equals", "pro"),
            "aud-checkout-week": fired("checkout_started", 7),
            "aud-two-orders": fired("order_placed", None, 2),
            "aud-high-not-ordered": {
                "kind": "and",
                "clauses": [
                    attribute("score", "greater_than", 5),
                    {"kind": "not", "clause": fired("order_placed", 3)},
                ],
            },
            "aud-some-or-pro": {
                "kind": "or",
                "clauses": [{"kind": "in_cohort", "cohortId": "some"}, attribute("tier", "equals", "pro")],
            },
        }
        for audience_id, predicate in predicates.items():
            await create(client, audience_id, predicate)
            await announce(audience_id)
        for as_of in (AS_OF, AS_OF + 4 * DAY):
            expected = {c["id"]: set[str]() for c in contacts}
            for audience_id in predicates:
                for member in await api_members(client, audience_id, as_of):
                    expected[member].add(audience_id)
            for contact in contacts:
                body = (
                    await client.get(
                        f"/api/crm/contacts/{contact['id']}/audiences", params={"asOf": as_of.isoformat()}
                    )
                ).json()
                assert {a["id"] for a in body["journeyAudiences"]} == expected[contact["id"]], contact
                if as_of == AS_OF:  # tracked since the definitions were announced
                    assert all(a["since"] == format_instant(AS_OF) for a in body["journeyAudiences"])
