"""`GET /api/crm/contacts/{id}/audiences`: every segment and journey audience a contact is
in, computed live, agreeing with `members` of every audience."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import httpx

from audiences.clock import format_instant
from audiences.db import Database
from audiences.membership.model import AudienceKind
from audiences.tenancy import TenantScope
from tests.conftest import AS_OF, IngestFn
from tests.membership.conftest import Define, Kinds
from tests.membership.fake_kind import save_definition

T = 15_000
DAY = dt.timedelta(days=1)
TIERS = ["free", "pro", "team"]
COUNTRIES = ["GB", "US", "FR"]
EVENTS = ["checkout_started", "order_placed", "page_viewed"]


async def audience_members(
    db: Database, scope: TenantScope, kinds: Kinds, kind: AudienceKind, audience_id: str, as_of: dt.datetime
) -> set[str]:
    return {
        s
        async for s in kinds[kind].members(
            db=db, scope=scope, audience_id=audience_id, as_of=as_of, timeout_ms=T
        )
    }


def ids(items: list[dict[str, Any]]) -> set[str]:
    return {i["id"] for i in items}


class TestContactAudiences:
    async def test_agrees_with_the_members_of_every_audience_for_every_contact(
        self,
        client: httpx.AsyncClient,
        db: Database,
        acme: TenantScope,
        define: Define,
        kinds: Kinds,
        ingest: IngestFn,
    ) -> None:
        rng = random.Random(8)
        contacts = [
            {"id": f"c{i}", "tier": rng.choice(TIERS), "country": rng.choice(COUNTRIES)} for i in range(25)
        ]
        events = [
            {
                "userId": f"c{rng.randrange(25)}",
                "name": rng.choice(EVENTS),
                "ts": (AS_OF - dt.timedelta(hours=rng.randrange(1, 24 * 20))).isoformat(),
            }
            for _ in range(80)
        ]
        await ingest(client, contacts, events)
        audiences: list[tuple[AudienceKind, str]] = []
        for n in range(10):
            kind: AudienceKind = "segment" if n % 2 else "journey"
            definition: dict[str, Any] = {}
            if rng.random() < 0.7:
                definition |= {"field": rng.choice(["tier", "country"])}
                definition["value"] = rng.choice(TIERS if definition["field"] == "tier" else COUNTRIES)
            if rng.random() < 0.6:
                definition |= {"event": rng.choice(EVENTS), "days": rng.choice([None, 3, 10])}
            if rng.random() < 0.2:
                definition["contactIds"] = rng.sample([c["id"] for c in contacts], 6)
            await define(acme, kind, f"{kind[:3]}-{n}", **definition)
            audiences.append((kind, f"{kind[:3]}-{n}"))

        for as_of in (AS_OF, AS_OF + 5 * DAY):
            expected: dict[str, dict[AudienceKind, set[str]]] = {
                c["id"]: {"segment": set(), "journey": set()} for c in contacts
            }
            for kind, audience_id in audiences:
                for member in await audience_members(db, acme, kinds, kind, audience_id, as_of):
                    expected[member][kind].add(audience_id)
            for contact in contacts:
                r = await client.get(
                    f"/api/crm/contacts/{contact['id']}/audiences", params={"asOf": as_of.isoformat()}
                )
                assert r.status_code == 200, r.text
                body = r.json()
                assert (body["contactId"], body["asOf"]) == (contact["id"], format_instant(as_of))
                assert ids(body["segments"]) == expected[contact["id"]]["segment"], contact
                assert ids(body["journeyAudiences"]) == expected[contact["id"]]["journey"], contact

    async def test_since_is_when_the_contact_entered_as_tracked(
        self,
        client: httpx.AsyncClient,
        acme: TenantScope,
        define: Define,
        ingest: IngestFn,
        clock: Any,
    ) -> None:
        await ingest(client, [{"id": "c1", "tier": "free"}], [])
        await define(acme, "segment", "seg-pro", name="Pro customers", field="tier", value="pro")
        await define(acme, "journey", "aud-all", name="Everyone")
        clock.advance(DAY)
        await ingest(client, [{"id": "c1", "tier": "pro"}], [])
        body = (await client.get("/api/crm/contacts/c1/audiences")).json()
        assert body["asOf"] == format_instant(AS_OF + DAY)
        assert body["segments"] == [
            {"id": "seg-pro", "name": "Pro customers", "since": format_instant(AS_OF + DAY)}
        ]
        assert body["journeyAudiences"] == [
            {"id": "aud-all", "name": "Everyone", "since": format_instant(AS_OF)}
        ]

    async def test_since_is_null_where_membership_was_never_tracked(
        self, client: httpx.AsyncClient, db: Database, acme: TenantScope, kinds: Kinds, ingest: IngestFn
    ) -> None:
        await ingest(client, [{"id": "c1", "tier": "pro"}], [])
        await save_definition(db, acme, "segment", "seg-new", name="Just saved", field="tier", value="pro")
        body = (await client.get("/api/crm/contacts/c1/audiences")).json()
        assert body["segments"] == [{"id": "seg-new", "name": "Just saved", "since": None}]
        assert body["journeyAudiences"] == []

    async def test_audiences_are_listed_by_name(
        self, client: httpx.AsyncClient, acme: TenantScope, define: Define, ingest: IngestFn
    ) -> None:
        await ingest(client, [{"id": "c1"}], [])
        for audience_id, name in (("s1", "Zebra"), ("s2", "Apple"), ("s3", "Mango")):
            await define(acme, "segment", audience_id, name=name)
        body = (await client.get("/api/crm/contacts/c1/audiences")).json()
        assert [s["name"] for s in body["segments"]] == ["Apple", "Mango", "Zebra"]

    async def test_an_unknown_contact_is_404(self, client: httpx.AsyncClient, kinds: Kinds) -> None:
        r = await client.get("/api/crm/contacts/nobody/audiences")
        assert r.status_code == 404
        assert r.json()["code"] == "contact_not_found"

    async def test_another_orgs_contact_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient, kinds: Kinds, ingest: IngestFn
    ) -> None:
        await ingest(other_client, [{"id": "g1"}], [])
        assert (await client.get("/api/crm/contacts/g1/audiences")).status_code == 404

    async def test_a_bad_as_of_is_400(
        self, client: httpx.AsyncClient, kinds: Kinds, ingest: IngestFn
    ) -> None:
        await ingest(client, [{"id": "c1"}], [])
        r = await client.get("/api/crm/contacts/c1/audiences", params={"asOf": "tomorrow-ish"})
        assert r.status_code == 400
        assert r.json()["code"] == "invalid_instant"
