"""Contact ingestion (CONTRACT §6): typed fields, partial failures, upsert by id or e-mail."""

from __future__ import annotations

import httpx


async def _batch(client: httpx.AsyncClient, *rows: object) -> dict[str, object]:
    r = await client.post("/api/crm/contacts:batch", json={"contacts": list(rows)})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


class TestUpsertContacts:
    async def test_stores_typed_well_known_fields(self, client: httpx.AsyncClient) -> None:
        await _batch(
            client,
            {
                "id": "c1",
                "email": "  Ada.Lovelace@Example.COM ",
                "phone": "020 7946 0018",
                "country": "gb",
                "tags": ["vip", "vip", "newsletter"],
                "birthDate": "1990-12-10",
                "lastEmailOpenedAt": "2026-04-20T08:12:00+02:00",
                "plan": {"name": "pro", "seats": 3},
            },
        )
        r = await client.get("/api/crm/contacts/c1")
        assert r.status_code == 200
        assert r.json() == {
            "id": "c1",
            "email": "ada.lovelace@example.com",
            "phone": "+442079460018",
            "country": "GB",
            "tags": ["vip", "newsletter"],
            "birthDate": "1990-12-10T00:00:00.000Z",
            "lastEmailOpenedAt": "2026-04-20T06:12:00.000Z",
            "plan": {"name": "pro", "seats": 3},
        }

    async def test_dates_are_stored_as_real_dates(self, client: httpx.AsyncClient, app: object) -> None:
        import datetime as dt

        await _batch(client, {"id": "c1", "createdAt": "2026-01-04T09:30:00Z"})
        db = client._transport.app.state.db  # type: ignore[attr-defined]
        doc = await db.collection("contacts").find_one({"_id": "acme:c1"})
        assert doc["createdAt"] == dt.datetime(2026, 1, 4, 9, 30, tzinfo=dt.UTC)

    async def test_good_rows_are_stored_and_bad_rows_listed_by_index(self, client: httpx.AsyncClient) -> None:
        body = await _batch(
            client,
            {"id": "ok1", "email": "ok1@example.com"},
            {"id": "bad1", "lastSeenAt": "yesterday-ish"},
            {"id": "bad2", "email": "not-an-email"},
            {"id": "bad3", "country": "Atlantis"},
            {"firstName": "No id, no email"},
            {"id": "bad4", "$where": "1"},
            "not an object",
            {"id": "ok2", "phone": "+1 415 555 0123"},
        )
        assert body["accepted"] == 2
        assert [(r["index"], r["code"]) for r in body["rejected"]] == [  # type: ignore[attr-defined]
            (1, "invalid_date"),
            (2, "invalid_email"),
            (3, "invalid_country"),
            (4, "id_or_email_required"),
            (5, "invalid_field_name"),
            (6, "invalid_row"),
        ]
        assert (await client.get("/api/crm/contacts/ok1")).status_code == 200
        assert (await client.get("/api/crm/contacts/ok2")).json()["phone"] == "+14155550123"
        assert (await client.get("/api/crm/contacts/bad1")).status_code == 404

    async def test_upsert_merges_fields(self, client: httpx.AsyncClient) -> None:
        await _batch(client, {"id": "c1", "tier": "free", "city": "Berlin"})
        await _batch(client, {"id": "c1", "tier": "pro"})
        assert (await client.get("/api/crm/contacts/c1")).json() == {
            "id": "c1",
            "tier": "pro",
            "city": "Berlin",
        }

    async def test_email_without_id_updates_the_contact_with_that_email(
        self, client: httpx.AsyncClient
    ) -> None:
        await _batch(client, {"id": "c1", "email": "ada@example.com"})
        body = await _batch(client, {"email": "ADA@example.com", "tier": "pro"})
        assert body["ids"] == ["c1"]
        assert (await client.get("/api/crm/contacts/c1")).json()["tier"] == "pro"

    async def test_email_without_id_and_no_match_uses_the_email_as_id(
        self, client: httpx.AsyncClient
    ) -> None:
        body = await _batch(client, {"email": "new@example.com"})
        assert body["ids"] == ["new@example.com"]
        assert (await client.get("/api/crm/contacts/new@example.com")).status_code == 200

    async def test_reserved_fields_are_rejected(self, client: httpx.AsyncClient) -> None:
        body = await _batch(client, {"id": "c1", "orgId": "globex"})
        assert body["rejected"] == [
            {
                "index": 0,
                "code": "reserved_field",
                "message": "`orgId` is set by the service",
                "path": "orgId",
            }
        ]

    async def test_batch_over_the_limit_is_refused_before_writing(self, client: httpx.AsyncClient) -> None:
        settings = client._transport.app.state.settings  # type: ignore[attr-defined]
        rows = [{"id": f"c{i}"} for i in range(settings.max_batch + 1)]
        r = await client.post("/api/crm/contacts:batch", json={"contacts": rows})
        assert r.status_code == 413
        assert r.json()["code"] == "batch_too_large"
        assert (await client.get("/api/crm/contacts/c0")).status_code == 404


class TestDeleteContact:
    async def test_deletes_the_contact_and_its_events(self, client: httpx.AsyncClient) -> None:
        await _batch(client, {"id": "c1"})
        r = await client.post(
            "/api/events:batch", json={"events": [{"userId": "c1", "name": "x", "ts": "2026-04-01"}]}
        )
        assert r.json()["accepted"] == 1
        assert (await client.delete("/api/crm/contacts/c1")).status_code == 204
        assert (await client.get("/api/crm/contacts/c1")).status_code == 404
        db = client._transport.app.state.db  # type: ignore[attr-defined]
        assert await db.collection("events").count({"orgId": "acme", "userId": "c1"}) == 0

    async def test_unknown_contact_is_404(self, client: httpx.AsyncClient) -> None:
        r = await client.delete("/api/crm/contacts/nope")
        assert r.status_code == 404
        assert r.json()["code"] == "contact_not_found"


class TestTenantIsolation:
    async def test_another_org_cannot_read_or_delete(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        await _batch(client, {"id": "c1", "email": "a@example.com"})
        assert (await other_client.get("/api/crm/contacts/c1")).status_code == 404
        assert (await other_client.delete("/api/crm/contacts/c1")).status_code == 404
        assert (await client.get("/api/crm/contacts/c1")).status_code == 200

    async def test_same_id_in_two_orgs_are_two_contacts(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        await _batch(client, {"id": "c1", "tier": "pro"})
        r = await other_client.post(
            "/api/crm/contacts:batch", json={"contacts": [{"id": "c1", "tier": "free"}]}
        )
        assert r.json()["accepted"] == 1
        assert (await client.get("/api/crm/contacts/c1")).json()["tier"] == "pro"
        assert (await other_client.get("/api/crm/contacts/c1")).json()["tier"] == "free"

    async def test_email_match_never_crosses_orgs(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        await _batch(client, {"id": "c1", "email": "a@example.com"})
        r = await other_client.post(
            "/api/crm/contacts:batch", json={"contacts": [{"email": "a@example.com"}]}
        )
        assert r.json()["ids"] == ["a@example.com"]
