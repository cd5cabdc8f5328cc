"""A custom audience id works wherever a segment id does: `resolve_audience` turns every type
into a contact filter that selects exactly its members."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import httpx
import pytest

from audiences.db import Database
from audiences.segments.resolve import ResolvedAudience, SegmentNotFound, resolve_audience
from audiences.tenancy import system_scope
from tests.conftest import AS_OF, IngestFn
from tests.custom_audiences.conftest import BASE, CreateFn, UploadFn

DAY = dt.timedelta(days=1)
CONTACTS: list[dict[str, Any]] = [
    {"id": "ada", "email": "ada@example.com", "country": "DE", "tags": ["vip"]},
    {"id": "bob", "email": "bob@example.com", "country": "DE", "tags": ["vip"]},
    {"id": "cy", "email": "cy@example.com", "country": "DE"},
    {"id": "dee", "email": "dee@example.com", "country": "DE"},
]


async def resolve(
    db: Database, audience_id: str, *, org: str = "acme", as_of: dt.datetime = AS_OF
) -> ResolvedAudience:
    return await resolve_audience(
        db=db, scope=system_scope(org), audience_id=audience_id, as_of=as_of, timeout_ms=10_000
    )


async def selected(db: Database, resolved: ResolvedAudience) -> list[str]:
    """The contacts the filter selects, queried the way segment routes do."""
    docs = await db.collection("contacts").find_list(
        system_scope("acme").filter(resolved.contact_filter), projection={"id": 1}, sort=[("id", 1)]
    )
    return [d["id"] for d in docs]


def pixel_event(user: str, name: str, days_ago: float, pixel: Any = "px_shop") -> dict[str, Any]:
    return {
        "userId": user,
        "name": name,
        "ts": (AS_OF - days_ago * DAY).isoformat(),
        "properties": {"pixelId": pixel},
    }


class TestResolveEachType:
    async def test_a_file_upload_selects_its_matched_contacts(
        self,
        client: httpx.AsyncClient,
        db: Database,
        ingest: IngestFn,
        create_custom: CreateFn,
        upload_csv: UploadFn,
    ) -> None:
        await ingest(client, CONTACTS, [])
        audience = await create_custom({"type": "file_upload", "name": "List"})
        await upload_csv(audience["id"], "email\nada@example.com\ncy@example.com\nzed@example.com\n")
        resolved = await resolve(db, audience["id"])
        assert (resolved.id, resolved.name, resolved.kind) == (audience["id"], "List", "file_upload")
        assert resolved.definition["memberCount"] == 2
        assert await selected(db, resolved) == ["ada", "cy"]
        await ingest(client, [{"id": "zed", "email": "zed@example.com"}], [])
        assert await selected(db, await resolve(db, audience["id"])) == ["ada", "cy", "zed"]

    async def test_a_customer_match_selects_its_matched_contacts(
        self,
        client: httpx.AsyncClient,
        db: Database,
        ingest: IngestFn,
        create_custom: CreateFn,
        upload_csv: UploadFn,
    ) -> None:
        await ingest(client, CONTACTS, [])
        audience = await create_custom({"type": "customer_match", "name": "Buyers"})
        await upload_csv(audience["id"], "Email\nBOB@example.com\n")
        resolved = await resolve(db, audience["id"])
        assert resolved.kind == "customer_match"
        assert await selected(db, resolved) == ["bob"]

    async def test_a_lookalike_selects_its_computed_members(
        self,
        client: httpx.AsyncClient,
        db: Database,
        ingest: IngestFn,
        create_custom: CreateFn,
        upload_csv: UploadFn,
    ) -> None:
        people = [{"id": f"p{i:02d}", "email": f"p{i}@example.com", "country": "DE"} for i in range(20)]
        await ingest(client, [*CONTACTS, *people], [])
        seed = await create_custom({"type": "file_upload", "name": "VIPs"})
        await upload_csv(seed["id"], "id\nada\n")
        lookalike = await create_custom(
            {
                "type": "lookalike",
                "name": "Like VIPs",
                "seedAudienceId": seed["id"],
                "ratio": 0.2,
                "country": "DE",
            }
        )
        resolved = await resolve(db, lookalike["id"])
        assert resolved.kind == "lookalike"
        # 23 eligible Germans (ada is the seed), 20% is 5: bob shares ada's `vip` tag, the
        # rest look alike and go by id.
        assert await selected(db, resolved) == ["bob", "cy", "dee", "p00", "p01"]

    async def test_a_lookalike_can_be_seeded_by_any_custom_audience(
        self, client: httpx.AsyncClient, db: Database, ingest: IngestFn, create_custom: CreateFn
    ) -> None:
        await ingest(client, CONTACTS, [pixel_event("ada", "page_view", 1)])
        pixel = await create_custom(
            {
                "type": "retargeting_pixel",
                "name": "Visitors",
                "pixelId": "px_shop",
                "eventNames": ["page_view"],
                "windowDays": 7,
            }
        )
        lookalike = await create_custom(
            {"type": "lookalike", "name": "l", "seedAudienceId": pixel["id"], "ratio": 0.2, "country": "DE"}
        )
        assert lookalike["stats"] == {"eligible": 3, "seedSize": 1}
        assert await selected(db, await resolve(db, lookalike["id"])) == [
            "bob"
        ]  # round(0.6) = 1, ada's tag twin

    async def test_a_retargeting_pixel_audience_is_computed_live_at_each_resolve(
        self, client: httpx.AsyncClient, db: Database, ingest: IngestFn, create_custom: CreateFn
    ) -> None:
        events = [
            pixel_event("ada", "add_to_cart", 2),
            pixel_event("bob", "checkout_started", 29.5),
            pixel_event("cy", "add_to_cart", 31),  # outside the 30-day window
            pixel_event("dee", "page_view", 1),  # not one of the events
            pixel_event("dee", "add_to_cart", 1, pixel="px_other"),  # another pixel
        ]
        await ingest(client, CONTACTS, events)
        audience = await create_custom(
            {
                "type": "retargeting_pixel",
                "name": "Cart",
                "pixelId": "px_shop",
                "eventNames": ["add_to_cart", "checkout_started"],
                "windowDays": 30,
            }
        )
        resolved = await resolve(db, audience["id"])
        assert resolved.kind == "retargeting_pixel"
        assert await selected(db, resolved) == ["ada", "bob"]
        # Live: a new event counts at once, and the window moves with as_of.
        await ingest(client, [], [pixel_event("dee", "add_to_cart", 0)])
        assert await selected(db, await resolve(db, audience["id"])) == ["ada", "bob", "dee"]
        assert await selected(db, await resolve(db, audience["id"], as_of=AS_OF + DAY)) == ["ada", "dee"]

    async def test_numeric_pixel_ids_match_events_that_carry_them_as_numbers(
        self, client: httpx.AsyncClient, db: Database, ingest: IngestFn, create_custom: CreateFn
    ) -> None:
        await ingest(client, CONTACTS, [pixel_event("ada", "page_view", 1, pixel=1234567890)])
        audience = await create_custom(
            {
                "type": "retargeting_pixel",
                "name": "p",
                "pixelId": "1234567890",
                "eventNames": ["page_view"],
                "windowDays": 3,
            }
        )
        assert await selected(db, await resolve(db, audience["id"])) == ["ada"]


class TestUnknownIds:
    async def test_other_orgs_and_unknown_ids_are_not_found(
        self, db: Database, create_custom: CreateFn
    ) -> None:
        audience = await create_custom({"type": "file_upload", "name": "x"})
        with pytest.raises(SegmentNotFound):
            await resolve(db, audience["id"], org="globex")
        with pytest.raises(SegmentNotFound):
            await resolve(db, "cus_000000000000")


class TestThroughTheSegmentRoutes:
    """Routes built on `resolve_audience` take custom audience ids as they are."""

    async def test_the_segment_ads_export_streams_a_file_uploads_members(
        self, client: httpx.AsyncClient, ingest: IngestFn, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        await ingest(client, CONTACTS, [])
        audience = await create_custom({"type": "file_upload", "name": "x"})
        await upload_csv(audience["id"], "email\nada@example.com\nbob@example.com\nzed@example.com\n")
        r = await client.get(f"{BASE}/segments/{audience['id']}/export", params={"platform": "tiktok"})
        assert r.status_code == 200, r.text
        lines = r.text.splitlines()
        assert lines[0] == "Email_SHA256,Phone_SHA256"
        assert sorted(line.split(",")[0] for line in lines[1:]) == sorted(
            hashlib.sha256(e.encode()).hexdigest() for e in ("ada@example.com", "bob@example.com")
        )

    async def test_overlap_and_insights_take_live_pixel_and_stored_audiences(
        self, client: httpx.AsyncClient, ingest: IngestFn, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        await ingest(
            client, CONTACTS, [pixel_event("ada", "page_view", 1), pixel_event("cy", "page_view", 2)]
        )
        upload = await create_custom({"type": "file_upload", "name": "list"})
        await upload_csv(upload["id"], "email\nada@example.com\nbob@example.com\n")
        pixel = await create_custom(
            {
                "type": "retargeting_pixel",
                "name": "v",
                "pixelId": "px_shop",
                "eventNames": ["page_view"],
                "windowDays": 7,
            }
        )
        r = await client.get(f"{BASE}/segments/{upload['id']}/overlap/{pixel['id']}")
        assert r.status_code == 200, r.text
        overlap = r.json()
        assert (overlap["a"], overlap["b"], overlap["both"], overlap["union"]) == (2, 2, 1, 3)
        r = await client.get(f"{BASE}/segments/{pixel['id']}/insights")
        assert r.status_code == 200, r.text
        assert r.json()["count"] == 2
