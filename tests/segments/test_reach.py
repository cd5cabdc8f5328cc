"""POST /api/crm/audiences/estimate-reach: exact live counts, bounded and cancellable."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from audiences.clock import FixedClock
from audiences.config import Settings
from audiences.db import Database
from audiences.main import create_app
from audiences.segments.repository import ContactReader
from tests.conftest import AS_OF, IngestFn, make_token
from tests.segments.conftest import (
    REACH,
    SEED_REACH,
    SEED_SEGMENT,
    create,
    ids_where,
    is_seed_reach_member,
    is_seed_segment_member,
)


def where(query: dict[str, Any]) -> dict[str, Any]:
    return {"filter": {"datatype": "contact", "where": query}}


async def reach(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(REACH, json=body)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


class TestEstimateReach:
    async def test_the_seed_example_works_verbatim_and_counts_exactly(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]], globex_crm: list[dict[str, Any]]
    ) -> None:
        body = await reach(client, SEED_REACH)
        expected = ids_where(crm, is_seed_reach_member)
        assert len(expected) > 3
        assert body["count"] == len(expected)
        assert body["sampleProfile"]["id"] in expected
        assert body["asOf"] == "2026-04-24T12:00:00.000Z"
        assert isinstance(body["tookMs"], float)
        assert body["tookMs"] >= 0

    async def test_the_seed_segment_counts_exactly_by_filter_and_by_id(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        expected = len(ids_where(crm, is_seed_segment_member))
        assert (await reach(client, {"filter": SEED_SEGMENT["filter"]}))["count"] == expected
        segment = await create(client, SEED_SEGMENT)
        assert (await reach(client, {"segmentId": segment["id"]}))["count"] == expected

    async def test_ne_counts_contacts_without_the_field(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        without_tier = ids_where(crm, lambda c: "tier" not in c)
        assert without_tier
        body = await reach(client, where({"tier": {"$ne": "pro"}}))
        assert body["count"] == len(ids_where(crm, lambda c: c.get("tier") != "pro"))
        assert body["count"] > len(ids_where(crm, lambda c: "tier" in c and c["tier"] != "pro"))

    async def test_now_is_resolved_against_as_of(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        relative = where({"lastEmailOpenedAt": {"$gte": {"$now": "-P7D"}}})

        def opened_since(instant: dt.datetime) -> int:
            return len(
                ids_where(
                    crm,
                    lambda c: (
                        "lastEmailOpenedAt" in c
                        and dt.datetime.fromisoformat(c["lastEmailOpenedAt"]) >= instant
                    ),
                )
            )

        assert (await reach(client, relative))["count"] == opened_since(AS_OF - dt.timedelta(days=7))
        earlier = await reach(client, {**relative, "asOf": "2026-04-10T12:00:00Z"})
        assert earlier["asOf"] == "2026-04-10T12:00:00.000Z"
        assert earlier["count"] == opened_since(dt.datetime(2026, 4, 3, 12, tzinfo=dt.UTC))

    async def test_no_match_is_zero_with_no_sample(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        body = await reach(client, where({"country": "JP"}))
        assert (body["count"], body["sampleProfile"]) == (0, None)

    async def test_the_sample_is_shown_as_a_contact(
        self, client: httpx.AsyncClient, ingest: IngestFn
    ) -> None:
        await ingest(
            client, [{"id": "only", "email": "Only@Example.com", "lastSeenAt": "2026-04-01T00:00:00Z"}], []
        )
        body = await reach(client, where({"id": "only"}))
        assert body["sampleProfile"] == {
            "id": "only",
            "email": "only@example.com",
            "lastSeenAt": "2026-04-01T00:00:00.000Z",
        }

    async def test_another_orgs_contacts_are_never_counted(
        self, client: httpx.AsyncClient, globex_crm: list[dict[str, Any]]
    ) -> None:
        assert (await reach(client, where({})))["count"] == 0
        assert (await reach(client, where({"tags": "vip", "country": "US"})))["count"] == 0

    async def test_filters_cannot_name_org_or_internal_keys(self, client: httpx.AsyncClient) -> None:
        r = await client.post(REACH, json=where({"$or": [{"orgId": "globex"}, {"_id": {"$gt": ""}}]}))
        assert r.status_code == 400
        assert [(e["code"], e["path"]) for e in r.json()["errors"]] == [
            ("reserved_field", "filter.where.$or[0].orgId"),
            ("reserved_field", "filter.where.$or[1]._id"),
        ]

    @pytest.mark.parametrize(
        ("query", "path"),
        [
            ({"$where": "sleep(100)"}, "filter.where.$where"),
            ({"$function": {"body": "x"}}, "filter.where.$function"),
            ({"$expr": {"$gt": ["$a", 1]}}, "filter.where.$expr"),
            ({"a": {"$elemMatch": {"b": {"$x": 1}}}}, "filter.where.a.$elemMatch.b.$x"),
            ({"a.$where": 1}, "filter.where.a.$where"),
        ],
    )
    async def test_operator_injection_is_400_with_its_path(
        self, client: httpx.AsyncClient, query: dict[str, Any], path: str
    ) -> None:
        r = await client.post(REACH, json=where(query))
        assert r.status_code == 400
        assert r.json()["code"] == "operator_not_allowed"
        assert [e["path"] for e in r.json()["errors"]] == [path]

    async def test_a_filter_the_embedded_backend_cannot_run_exactly_is_400(
        self, client: httpx.AsyncClient
    ) -> None:
        r = await client.post(REACH, json=where({"items": {"$elemMatch": {"p.q": {"$not": {"$gt": 1}}}}}))
        assert (r.status_code, r.json()["code"]) == (400, "query_not_supported_by_backend")

    async def test_filter_and_segment_id_are_exclusive(self, client: httpx.AsyncClient) -> None:
        both = await client.post(REACH, json={**SEED_REACH, "segmentId": "seg_x"})
        neither = await client.post(REACH, json={})
        assert both.status_code == neither.status_code == 400
        assert both.json()["code"] == neither.json()["code"] == "filter_or_segment_id_required"

    async def test_a_bad_as_of_is_400(self, client: httpx.AsyncClient) -> None:
        r = await client.post(REACH, json={**SEED_REACH, "asOf": "last tuesday"})
        assert (r.status_code, r.json()["errors"][0]["path"]) == (400, "asOf")

    async def test_an_unknown_or_foreign_segment_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        theirs = await create(other_client, SEED_SEGMENT)
        r = await client.post(REACH, json={"segmentId": theirs["id"]})
        assert (r.status_code, r.json()["code"]) == (404, "segment_not_found")


class TestIndexHints:
    async def test_fields_without_an_org_index_are_listed(self, client: httpx.AsyncClient) -> None:
        body = await reach(
            client, where({"email": "a@b.c", "tier": "pro", "items": {"$elemMatch": {"sku": "A"}}})
        )
        assert body["unindexedFields"] == ["items.sku", "tier"]

    async def test_no_hint_when_every_field_is_indexed(self, client: httpx.AsyncClient) -> None:
        assert "unindexedFields" not in await reach(client, where({"email": "a@b.c", "id": "x"}))

    async def test_an_index_created_through_the_api_removes_the_hint(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/api/collection/index", json={"collection": "contacts", "fields": ["tier"]})
        assert r.status_code == 201, r.text
        assert "unindexedFields" not in await reach(client, where({"tier": "pro"}))


@pytest.fixture
async def slow_app(settings: Settings, db: Database, clock: FixedClock) -> AsyncIterator[FastAPI]:
    """The app with a 1 ms query limit over enough contacts to exceed it."""
    await db.collection("contacts").insert_many(
        [{"_id": f"acme:c{i}", "orgId": "acme", "id": f"c{i}", "tier": i % 7} for i in range(3000)]
    )
    application = create_app(settings.model_copy(update={"query_timeout_ms": 1}), database=db, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


class TestLimits:
    async def test_a_query_over_the_time_limit_is_503_query_timeout(
        self, slow_app: FastAPI, settings: Settings
    ) -> None:
        transport = httpx.ASGITransport(app=slow_app)
        headers = {"Authorization": f"Bearer {make_token(settings, ['acme'])}", "orgid": "acme"}
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as c:
            r = await c.post(REACH, json=where({"tier": {"$gt": 2}}))
        assert r.status_code == 503
        assert r.json()["code"] == "query_timeout"
        assert "index" in r.json()["detail"]

    async def test_a_client_that_disconnects_stops_the_count(
        self, app: FastAPI, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        started, cancelled = asyncio.Event(), asyncio.Event()

        async def never_ending_count(self: ContactReader, *args: Any, **kwargs: Any) -> int:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return 0

        monkeypatch.setattr(ContactReader, "count", never_ending_count)
        payload = json.dumps(SEED_REACH).encode()
        inbox: list[dict[str, Any]] = [{"type": "http.request", "body": payload, "more_body": False}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            if inbox:
                return inbox.pop(0)
            await started.wait()  # the client hangs up while the count runs
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": REACH,
            "raw_path": REACH.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"authorization", f"Bearer {make_token(settings, ['acme'])}".encode()),
                (b"orgid", b"acme"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
            "client": ("127.0.0.1", 5000),
            "server": ("test", 80),
        }
        await asyncio.wait_for(app(scope, receive, send), timeout=30)
        assert cancelled.is_set()
        assert sent[0]["status"] == 499


class TestReachWithInsights:
    async def test_insights_of_an_unsaved_filter_equal_those_of_the_saved_segment(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        r = await client.post(
            "/api/crm/audiences/estimate-reach",
            params={"insights": "1"},
            json={"filter": SEED_SEGMENT["filter"]},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        insights = body["insights"]
        assert insights["count"] == body["count"] == len(ids_where(crm, is_seed_segment_member))
        for breakdown in ("country", "city", "ageBands"):
            assert sum(b["count"] for b in insights["demographics"][breakdown]) == body["count"]
        segment = await create(client, SEED_SEGMENT)
        saved = (await client.get(f"/api/crm/audiences/segments/{segment['id']}/insights")).json()
        assert saved == insights

    async def test_no_insights_unless_asked(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        body = await reach(client, {"filter": SEED_SEGMENT["filter"]})
        assert "insights" not in body
