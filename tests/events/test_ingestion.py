"""Event ingestion (CONTRACT §6): dates, per-row errors, idempotency by eventId."""

from __future__ import annotations

import datetime as dt

import httpx

from tests.conftest import AS_OF


async def _events(client: httpx.AsyncClient, *rows: object) -> dict[str, object]:
    r = await client.post("/api/events:batch", json={"events": list(rows)})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


class TestIngestEvents:
    async def test_same_event_id_is_stored_once(self, client: httpx.AsyncClient) -> None:
        row = {"eventId": "e1", "userId": "c1", "name": "purchase", "ts": "2026-04-01T10:00:00Z"}
        assert await _events(client, row, row) == {"accepted": 1, "rejected": [], "duplicates": 1}
        assert await _events(client, row) == {"accepted": 0, "rejected": [], "duplicates": 1}
        db = client._transport.app.state.db  # type: ignore[attr-defined]
        assert await db.collection("events").count({"orgId": "acme"}) == 1

    async def test_event_ids_are_per_org(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        row = {"eventId": "e1", "userId": "c1", "name": "purchase", "ts": "2026-04-01T10:00:00Z"}
        await _events(client, row)
        r = await other_client.post("/api/events:batch", json={"events": [row]})
        assert r.json()["accepted"] == 1

    async def test_ts_is_a_real_date_and_defaults_to_receipt_time(self, client: httpx.AsyncClient) -> None:
        await _events(
            client,
            {"eventId": "e1", "userId": "c1", "name": "x", "ts": "2026-04-01T12:00:00+02:00"},
            {"eventId": "e2", "userId": "c1", "name": "x"},
        )
        db = client._transport.app.state.db  # type: ignore[attr-defined]
        docs = await db.collection("events").find_list({"orgId": "acme"}, sort=[("eventId", 1)])
        assert [d["ts"] for d in docs] == [dt.datetime(2026, 4, 1, 10, tzinfo=dt.UTC), AS_OF]

    async def test_bad_rows_are_rejected_by_index_and_good_rows_stored(
        self, client: httpx.AsyncClient
    ) -> None:
        body = await _events(
            client,
            {"userId": "c1", "name": "ok", "ts": "2026-04-01T00:00:00Z"},
            {"userId": "c1", "name": "bad", "ts": "last tuesday"},
            {"name": "no-user"},
            {"userId": "c1"},
            {"userId": "c1", "name": "x", "properties": "nope"},
            {"userId": "c1", "name": "x", "color": "red"},
            {"userId": "c1", "name": "x", "properties": {"paidAt": "soon"}},
        )
        assert body["accepted"] == 1
        assert [(r["index"], r["code"]) for r in body["rejected"]] == [  # type: ignore[attr-defined]
            (1, "invalid_date"),
            (2, "user_id_required"),
            (3, "name_required"),
            (4, "invalid_properties"),
            (5, "unknown_field"),
            (6, "invalid_date"),
        ]

    async def test_property_dates_are_typed(self, client: httpx.AsyncClient) -> None:
        await _events(
            client, {"eventId": "e1", "userId": "c1", "name": "x", "properties": {"paidAt": "2026-04-02"}}
        )
        db = client._transport.app.state.db  # type: ignore[attr-defined]
        doc = await db.collection("events").find_one({"orgId": "acme"})
        assert doc["properties"]["paidAt"] == dt.datetime(2026, 4, 2, tzinfo=dt.UTC)
