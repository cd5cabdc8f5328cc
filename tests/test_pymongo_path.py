"""A short pass of the API on the production driver path: the real app with
`AUDIENCES_MONGODB_URI` semantics (`pymongo.AsyncMongoClient`), against a real MongoDB when
AUDIENCES_TEST_MONGODB_URI is set, else mongoeco's wire server (tests/mongo_wire.py).
Data stays small: the wire server is slow on inserts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from audiences.clock import FixedClock
from audiences.config import Settings
from audiences.main import create_app
from tests.conftest import AS_OF, SECRET, make_token

pytestmark = pytest.mark.mongodb

CONTACTS = [
    {"id": "c1", "email": "ada@example.com", "country": "GB", "tier": "pro", "tags": ["vip"]},
    {"id": "c2", "email": "grace@example.com", "country": "US", "tier": "free"},
    {"id": "c3", "country": "US", "tier": "pro", "lastSeenAt": "2026-04-20T08:00:00Z"},
]
EVENTS = [
    {"eventId": "e1", "userId": "c1", "name": "checkout_started", "ts": "2026-04-23T18:00:00Z"},
    {"eventId": "e2", "userId": "c1", "name": "checkout_started", "ts": "2026-04-22T18:00:00Z"},
    {"eventId": "e3", "userId": "c3", "name": "checkout_started", "ts": "2026-01-01T00:00:00Z"},
]
TWICE_THIS_WEEK = {
    "kind": "event_fired",
    "eventName": "checkout_started",
    "window": {"type": "last_n_days", "days": 7},
    "atLeast": 2,
}


@pytest.fixture
async def client(mongodb_uri: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        mongodb_uri=mongodb_uri,
        database=f"e2e{uuid.uuid4().hex[:8]}",
        jwt_secret=SECRET,
        sweep_interval_s=0,
        webhook_allow_private=True,
    )
    app = create_app(settings, clock=FixedClock(AS_OF))
    headers = {"Authorization": f"Bearer {make_token(settings, ['acme'])}", "orgid": "acme"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as c:
            assert app.state.db.backend == "pymongo"
            yield c
            await app.state.db.drop()


async def _ok(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return dict(r.json())


class TestOnThePyMongoPath:
    async def test_ingest_count_segment_dry_run_and_members(self, client: httpx.AsyncClient) -> None:
        r = await _ok(await client.post("/api/crm/contacts:batch", json={"contacts": CONTACTS}))
        assert (r["accepted"], r["rejected"]) == (3, [])
        r = await _ok(await client.post("/api/events:batch", json={"events": EVENTS}))
        assert r["rejected"] == []
        again = await _ok(await client.post("/api/events:batch", json={"events": EVENTS[:1]}))
        assert again["duplicates"] == 1

        contact = await _ok(await client.get("/api/crm/contacts/c3"))
        assert contact["lastSeenAt"] == "2026-04-20T08:00:00.000Z"

        pro = {"datatype": "contact", "where": {"tier": "pro"}}
        reach = await _ok(await client.post("/api/crm/audiences/estimate-reach", json={"filter": pro}))
        assert reach["count"] == 2

        segment = await _ok(
            await client.post("/api/crm/audiences/segments", json={"name": "Pro", "filter": pro}), 201
        )
        members = await _ok(await client.get(f"/api/crm/audiences/segments/{segment['id']}/members"))
        assert [m["id"] for m in members["items"]] == ["c1", "c3"]

        snapshot = await _ok(await client.post(f"/api/crm/audiences/segments/{segment['id']}/snapshots"), 201)
        assert snapshot["count"] == 2

        dry = await _ok(await client.post("/api/audiences/dry-run", json={"predicate": TWICE_THIS_WEEK}))
        assert dry["count"] == 1

        audience = await _ok(
            await client.post(
                "/api/audiences", json={"name": "Checkout twice", "predicate": TWICE_THIS_WEEK}
            ),
            201,
        )
        journey_members = await _ok(await client.get(f"/api/audiences/{audience['id']}/members"))
        assert [m["id"] for m in journey_members["items"]] == ["c1"]

        explained = await _ok(
            await client.post(f"/api/audiences/{audience['id']}/evaluate", json={"subjectId": "c3"})
        )
        assert explained["matched"] is False

        deleted = await client.delete("/api/crm/contacts/c1")
        assert deleted.status_code == 204
        reach = await _ok(await client.post("/api/crm/audiences/estimate-reach", json={"filter": pro}))
        assert reach["count"] == 1
