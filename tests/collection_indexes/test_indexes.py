"""POST/GET /api/collection/index: indexes prefixed by orgId on contacts and events."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from audiences.collection_indexes import service
from audiences.db import Database

URL = "/api/collection/index"


def keys(body: dict[str, Any]) -> list[tuple[str, int]]:
    return [(k["field"], k["order"]) for k in body["keys"]]


class TestCreateIndex:
    async def test_creates_an_index_prefixed_by_org_id(self, client: httpx.AsyncClient, db: Database) -> None:
        r = await client.post(URL, json={"collection": "contacts", "fields": ["tier", "-lastSeenAt"]})
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["name"], keys(body), body["unique"], body["source"], body["created"]) == (
            "orgId_1_tier_1_lastSeenAt_-1",
            [("orgId", 1), ("tier", 1), ("lastSeenAt", -1)],
            False,
            "requested",
            True,
        )
        stored = {i["name"]: dict(i["key"]) for i in await db.collection("contacts").list_indexes()}
        assert stored["orgId_1_tier_1_lastSeenAt_-1"] == {"orgId": 1, "tier": 1, "lastSeenAt": -1}

    async def test_accepts_field_objects_and_events(self, client: httpx.AsyncClient) -> None:
        r = await client.post(
            URL, json={"collection": "events", "fields": [{"field": "properties.plan", "order": -1}]}
        )
        assert r.status_code == 201, r.text
        assert keys(r.json()) == [("orgId", 1), ("properties.plan", -1)]

    async def test_the_same_index_again_is_200_not_created(self, client: httpx.AsyncClient) -> None:
        await client.post(URL, json={"collection": "contacts", "fields": ["tier"]})
        r = await client.post(URL, json={"collection": "contacts", "fields": ["tier"]})
        assert (r.status_code, r.json()["created"]) == (200, False)

    async def test_an_index_the_service_already_has_is_reported_as_builtin(
        self, client: httpx.AsyncClient
    ) -> None:
        r = await client.post(URL, json={"collection": "contacts", "fields": ["email"]})
        assert (r.status_code, r.json()["name"], r.json()["source"]) == (200, "org_email", "builtin")

    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            ({"collection": "segments", "fields": ["a"]}, [("unknown_collection", "collection")]),
            ({"collection": "contacts", "fields": []}, [("index_fields_required", "fields")]),
            ({"collection": "contacts", "fields": ["a", "a"]}, [("invalid_index_field", "fields[1]")]),
            ({"collection": "contacts", "fields": ["$**"]}, [("invalid_index_field", "fields[0]")]),
            ({"collection": "contacts", "fields": ["a.$b"]}, [("invalid_index_field", "fields[0]")]),
            (
                {"collection": "contacts", "fields": ["a..b", ""]},
                [
                    ("invalid_index_field", "fields[0]"),
                    ("invalid_index_field", "fields[1]"),
                ],
            ),
            ({"collection": "contacts", "fields": ["orgId"]}, [("invalid_index_field", "fields[0]")]),
            (
                {"collection": "contacts", "fields": [f"f{i}" for i in range(32)]},
                [("too_many_index_fields", "fields")],
            ),
            (
                {"collection": "contacts", "fields": [{"field": "a", "order": 2}]},
                [("literal_error", "fields[0].order")],
            ),
        ],
    )
    async def test_specs_mongodb_would_refuse_are_400(
        self, client: httpx.AsyncClient, body: dict[str, Any], expected: list[tuple[str, str]]
    ) -> None:
        r = await client.post(URL, json=body)
        assert r.status_code == 400, r.text
        found = [(e["code"], e["path"]) for e in r.json()["errors"]]
        assert all(item in found for item in expected), found

    async def test_unique_indexes_need_mongodb(self, client: httpx.AsyncClient) -> None:
        r = await client.post(URL, json={"collection": "contacts", "fields": ["externalId"], "unique": True})
        assert (r.status_code, r.json()["code"]) == (400, "unique_index_not_supported")

    async def test_needs_the_write_scope(self, client: httpx.AsyncClient, token: Any) -> None:
        headers = {"Authorization": f"Bearer {token('acme', scopes=['audiences:read'])}"}
        r = await client.post(URL, json={"collection": "contacts", "fields": ["tier"]}, headers=headers)
        assert r.status_code == 403


class TestListIndexes:
    async def test_lists_builtin_and_requested_indexes(self, client: httpx.AsyncClient) -> None:
        await client.post(URL, json={"collection": "contacts", "fields": ["tier"]})
        body = (await client.get(URL, params={"collection": "contacts"})).json()
        by_name = {i["name"]: i for i in body["items"]}
        assert by_name["orgId_1_tier_1"]["source"] == "requested"
        assert by_name["org_email"]["source"] == "builtin"
        assert {i["collection"] for i in body["items"]} == {"contacts"}
        everything = (await client.get(URL)).json()["items"]
        assert {i["collection"] for i in everything} == {"contacts", "events"}

    async def test_another_orgs_requested_indexes_are_not_listed(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        await other_client.post(URL, json={"collection": "contacts", "fields": ["secretField"]})
        names = [i["name"] for i in (await client.get(URL)).json()["items"]]
        assert "orgId_1_secretField_1" not in names
        theirs = [i["name"] for i in (await other_client.get(URL)).json()["items"]]
        assert "orgId_1_secretField_1" in theirs

    async def test_an_unknown_collection_is_400(self, client: httpx.AsyncClient) -> None:
        r = await client.get(URL, params={"collection": "users"})
        assert (r.status_code, r.json()["code"]) == (400, "unknown_collection")


class TestPerOrgLimits:
    """Issue 13, finding 5: one org's indexes neither use up nor reveal another's."""

    async def test_an_index_another_org_asked_for_answers_like_a_new_one(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        fresh = await client.post(URL, json={"collection": "contacts", "fields": ["plan"]})
        theirs_first = await other_client.post(URL, json={"collection": "contacts", "fields": ["secret"]})
        mine_after = await client.post(URL, json={"collection": "contacts", "fields": ["secret"]})
        assert (fresh.status_code, mine_after.status_code) == (201, 201)
        assert theirs_first.status_code == 201
        assert {k: v for k, v in fresh.json().items() if k not in ("name", "keys")} == {
            k: v for k, v in mine_after.json().items() if k not in ("name", "keys")
        }
        again = await client.post(URL, json={"collection": "contacts", "fields": ["secret"]})
        assert (again.status_code, again.json()["created"]) == (200, False)

    async def test_the_request_cap_counts_this_orgs_requests_only(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(service, "MAX_REQUESTED_PER_ORG", 2)
        for field in ("a", "b"):
            assert (
                await other_client.post(URL, json={"collection": "contacts", "fields": [field]})
            ).status_code == 201
        full = await other_client.post(URL, json={"collection": "contacts", "fields": ["c"]})
        assert (full.status_code, full.json()["code"]) == (409, "too_many_indexes")
        # The same two fields and a third are still open to this org.
        for field in ("a", "b"):
            assert (
                await client.post(URL, json={"collection": "contacts", "fields": [field]})
            ).status_code == 201
        mine_full = await client.post(URL, json={"collection": "contacts", "fields": ["c"]})
        assert (mine_full.status_code, mine_full.json()["code"]) == (409, "too_many_indexes")

    async def test_a_full_shared_collection_is_an_operator_matter(
        self, client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        present = len(await db.collection("contacts").list_indexes())
        monkeypatch.setattr(service, "MAX_INDEXES_PER_COLLECTION", present)
        r = await client.post(URL, json={"collection": "contacts", "fields": ["z"]})
        assert (r.status_code, r.json()["code"]) == (503, "index_capacity_reached")
