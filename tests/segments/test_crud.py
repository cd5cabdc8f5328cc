"""Segment CRUD: `/api/crm/audiences/segments` and `/segments/{id}`."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import httpx

from tests.conftest import IngestFn
from tests.segments.conftest import (
    SEED_SEGMENT,
    SEGMENTS,
    all_member_ids,
    create,
    ids_where,
    is_seed_segment_member,
)


class TestCreateSegment:
    async def test_the_seed_body_is_accepted_verbatim(self, client: httpx.AsyncClient) -> None:
        r = await client.post(SEGMENTS, json=SEED_SEGMENT)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["id"].startswith("seg_")
        assert len(body["id"]) == 16
        assert {k: body[k] for k in ("name", "description", "filter", "type")} == SEED_SEGMENT
        assert body["createdAt"] == body["updatedAt"] == "2026-04-24T12:00:00.000Z"
        assert "count" not in body
        assert "contactIds" not in body

    async def test_the_filter_comes_back_exactly_as_sent(self, client: httpx.AsyncClient) -> None:
        where = {"score": {"$gte": 1.0, "$lt": 10}, "$or": [{"a.b": None}, {"x": {"$now": "-P1D"}}]}
        body = await create(client, {"name": "n", "filter": {"datatype": "contact", "where": where}})
        assert body["filter"]["where"] == where
        assert list(body["filter"]["where"]) == ["score", "$or"]

    async def test_operator_injection_is_refused_with_its_path(self, client: httpx.AsyncClient) -> None:
        body = copy.deepcopy(SEED_SEGMENT)
        body["filter"]["where"]["$and"].append({"$where": "this.tags.length > 0"})
        body["filter"]["where"]["$and"][1]["lastEmailOpenedAt"]["$function"] = {"body": "x"}
        r = await client.post(SEGMENTS, json=body)
        assert r.status_code == 400
        problem = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        assert problem["code"] == "operator_not_allowed"
        assert [(e["code"], e["path"]) for e in problem["errors"]] == [
            ("operator_not_allowed", "filter.where.$and[1].lastEmailOpenedAt.$function"),
            ("operator_not_allowed", "filter.where.$and[2].$where"),
        ]

    async def test_a_datatype_other_than_contact_is_refused(self, client: httpx.AsyncClient) -> None:
        r = await client.post(SEGMENTS, json={"name": "n", "filter": {"datatype": "deal", "where": {}}})
        assert r.status_code == 400
        assert r.json()["code"] == "unsupported_datatype"
        assert r.json()["errors"][0]["path"] == "filter.datatype"

    async def test_a_dynamic_segment_needs_a_filter_and_no_contact_ids(
        self, client: httpx.AsyncClient
    ) -> None:
        r = await client.post(SEGMENTS, json={"name": "n", "type": "dynamic", "contactIds": ["c001"]})
        assert r.status_code == 400
        assert [(e["code"], e["path"]) for e in r.json()["errors"]] == [
            ("filter_required", "filter"),
            ("contact_ids_not_allowed", "contactIds"),
        ]

    async def test_a_static_segment_needs_ids_or_a_filter(self, client: httpx.AsyncClient) -> None:
        r = await client.post(SEGMENTS, json={"name": "n", "type": "static"})
        assert r.status_code == 400
        assert r.json()["code"] == "filter_or_contact_ids_required"

    async def test_unknown_fields_and_missing_names_are_refused(self, client: httpx.AsyncClient) -> None:
        r = await client.post(SEGMENTS, json={"filter": SEED_SEGMENT["filter"], "colour": "red"})
        assert r.status_code == 400
        assert {(e["code"], e["path"]) for e in r.json()["errors"]} == {
            ("field_required", "name"),
            ("unknown_field", "colour"),
        }

    async def test_read_only_fields_sent_back_are_ignored(self, client: httpx.AsyncClient) -> None:
        echo = {**SEED_SEGMENT, "id": "seg_mine", "count": 99, "createdAt": "2020-01-01T00:00:00.000Z"}
        body = await create(client, echo)
        assert body["id"] != "seg_mine"
        assert body["createdAt"] == "2026-04-24T12:00:00.000Z"


class TestStaticSegments:
    async def test_given_ids_are_kept_in_id_order_and_unknown_ones_reported(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        body = await create(
            client, {"name": "picked", "type": "static", "contactIds": ["c010", "nobody", "c002", "c010"]}
        )
        assert body["contactIds"] == ["c002", "c010"]
        assert body["unknownContactIds"] == ["nobody"]
        assert body["contactCount"] == 2

    async def test_ids_of_another_org_are_never_kept(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient, globex_crm: list[dict[str, Any]]
    ) -> None:
        body = await create(client, {"name": "stolen", "type": "static", "contactIds": ["c000", "c001"]})
        assert body["contactIds"] == []
        assert body["unknownContactIds"] == ["c000", "c001"]
        assert await all_member_ids(client, f"{SEGMENTS}/{body['id']}/members") == []

    async def test_members_are_exactly_the_listed_ids(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]], globex_crm: list[dict[str, Any]]
    ) -> None:
        body = await create(
            client, {"name": "picked", "type": "static", "contactIds": ["c005", "c001", "c003"]}
        )
        assert await all_member_ids(client, f"{SEGMENTS}/{body['id']}/members", limit=2) == [
            "c001",
            "c003",
            "c005",
        ]

    async def test_a_filter_is_frozen_at_save_time(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]], ingest: IngestFn
    ) -> None:
        body = await create(client, {"name": "frozen", "type": "static", "filter": SEED_SEGMENT["filter"]})
        expected = sorted(ids_where(crm, is_seed_segment_member))
        assert expected
        assert body["contactIds"] == expected
        await ingest(
            client, [{"id": "late", "tags": ["vip"], "lastEmailOpenedAt": "2026-04-20T00:00:00Z"}], []
        )
        r = await client.get(f"{SEGMENTS}/{body['id']}")
        assert r.json()["contactIds"] == expected
        assert r.json()["count"] == len(expected)

    async def test_a_deleted_contact_leaves_the_count_but_not_the_list(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        body = await create(client, {"name": "picked", "type": "static", "contactIds": ["c001", "c002"]})
        assert (await client.delete("/api/crm/contacts/c001")).status_code == 204
        segment = (await client.get(f"{SEGMENTS}/{body['id']}")).json()
        assert (segment["contactIds"], segment["count"]) == (["c001", "c002"], 1)


class TestGetSegment:
    async def test_the_count_is_live(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]], ingest: IngestFn
    ) -> None:
        created = await create(client, SEED_SEGMENT)
        expected = len(ids_where(crm, is_seed_segment_member))
        body = (await client.get(f"{SEGMENTS}/{created['id']}")).json()
        assert (body["count"], body["countAsOf"]) == (expected, "2026-04-24T12:00:00.000Z")
        await ingest(
            client, [{"id": "new", "tags": ["vip"], "lastEmailOpenedAt": "2026-04-01T00:00:00Z"}], []
        )
        assert (await client.get(f"{SEGMENTS}/{created['id']}")).json()["count"] == expected + 1

    async def test_an_unknown_id_is_404(self, client: httpx.AsyncClient) -> None:
        r = await client.get(f"{SEGMENTS}/seg_nothinghere1")
        assert r.status_code == 404
        assert r.json()["code"] == "segment_not_found"


class TestListSegments:
    async def test_pages_newest_first_with_a_cursor(self, client: httpx.AsyncClient, clock: Any) -> None:
        made = []
        for i in range(5):
            made.append((await create(client, {**SEED_SEGMENT, "name": f"s{i}"}))["id"])
            clock.advance(dt.timedelta(minutes=1))
        seen, cursor = [], None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            body = (await client.get(SEGMENTS, params=params)).json()
            seen.extend(i["id"] for i in body["items"])
            cursor = body["nextCursor"]
            if cursor is None:
                break
        assert seen == list(reversed(made))

    async def test_filters_by_type_and_name(self, client: httpx.AsyncClient) -> None:
        await create(client, {**SEED_SEGMENT, "name": "VIP openers"})
        await create(client, {"name": "Hand picked VIPs", "type": "static", "contactIds": []})
        await create(client, {**SEED_SEGMENT, "name": "Churn risk"})
        names = [i["name"] for i in (await client.get(SEGMENTS, params={"q": "vip"})).json()["items"]]
        assert sorted(names) == ["Hand picked VIPs", "VIP openers"]
        static = (await client.get(SEGMENTS, params={"type": "static"})).json()["items"]
        assert [(i["name"], i["contactCount"], "contactIds" in i) for i in static] == [
            ("Hand picked VIPs", 0, False)
        ]

    async def test_regex_characters_in_q_are_literal(self, client: httpx.AsyncClient) -> None:
        await create(client, {**SEED_SEGMENT, "name": "a.b (test)"})
        await create(client, {**SEED_SEGMENT, "name": "axb"})
        assert [i["name"] for i in (await client.get(SEGMENTS, params={"q": "a.b"})).json()["items"]] == [
            "a.b (test)"
        ]

    async def test_a_bad_cursor_is_400(self, client: httpx.AsyncClient) -> None:
        r = await client.get(SEGMENTS, params={"cursor": "not-a-cursor"})
        assert (r.status_code, r.json()["code"]) == (400, "invalid_cursor")


class TestUpdateSegment:
    async def test_patch_changes_only_what_is_sent(self, client: httpx.AsyncClient, clock: Any) -> None:
        created = await create(client, SEED_SEGMENT)
        clock.advance(dt.timedelta(hours=1))
        r = await client.patch(f"{SEGMENTS}/{created['id']}", json={"name": "Renamed"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["name"], body["description"], body["filter"]) == (
            "Renamed",
            SEED_SEGMENT["description"],
            SEED_SEGMENT["filter"],
        )
        assert (body["createdAt"], body["updatedAt"]) == (
            "2026-04-24T12:00:00.000Z",
            "2026-04-24T13:00:00.000Z",
        )

    async def test_patch_validates_the_new_filter(self, client: httpx.AsyncClient) -> None:
        created = await create(client, SEED_SEGMENT)
        r = await client.patch(
            f"{SEGMENTS}/{created['id']}", json={"filter": {"datatype": "contact", "where": {"$expr": {}}}}
        )
        assert (r.status_code, r.json()["code"]) == (400, "operator_not_allowed")

    async def test_patch_cannot_null_the_name(self, client: httpx.AsyncClient) -> None:
        created = await create(client, SEED_SEGMENT)
        r = await client.patch(f"{SEGMENTS}/{created['id']}", json={"name": None})
        assert (r.status_code, r.json()["errors"][0]["path"]) == (400, "name")

    async def test_put_replaces_the_whole_segment(self, client: httpx.AsyncClient) -> None:
        created = await create(client, SEED_SEGMENT)
        r = await client.put(
            f"{SEGMENTS}/{created['id']}",
            json={"name": "Only name", "filter": {"datatype": "contact", "where": {}}},
        )
        assert r.status_code == 200, r.text
        assert (r.json()["description"], r.json()["filter"]["where"]) == (None, {})

    async def test_a_get_response_can_be_put_back(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        created = await create(client, SEED_SEGMENT)
        current = (await client.get(f"{SEGMENTS}/{created['id']}")).json()
        r = await client.put(f"{SEGMENTS}/{created['id']}", json=current)
        assert r.status_code == 200, r.text

    async def test_changing_a_static_filter_freezes_it_again(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        created = await create(
            client,
            {"name": "us", "type": "static", "filter": {"datatype": "contact", "where": {"country": "US"}}},
        )
        r = await client.patch(
            f"{SEGMENTS}/{created['id']}",
            json={"filter": {"datatype": "contact", "where": {"country": "DE"}}},
        )
        assert r.json()["contactIds"] == sorted(ids_where(crm, lambda c: c["country"] == "DE"))

    async def test_renaming_a_static_segment_keeps_its_list(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]], ingest: IngestFn
    ) -> None:
        created = await create(
            client,
            {"name": "us", "type": "static", "filter": {"datatype": "contact", "where": {"country": "US"}}},
        )
        await ingest(client, [{"id": "zz-new", "country": "US"}], [])
        r = await client.patch(f"{SEGMENTS}/{created['id']}", json={"name": "US (frozen)"})
        assert r.json()["contactIds"] == created["contactIds"]

    async def test_removing_a_static_filter_keeps_the_list(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        created = await create(
            client,
            {"name": "us", "type": "static", "filter": {"datatype": "contact", "where": {"country": "US"}}},
        )
        r = await client.patch(f"{SEGMENTS}/{created['id']}", json={"filter": None})
        assert r.status_code == 200, r.text
        assert (r.json()["filter"], r.json()["contactIds"]) == (None, created["contactIds"])

    async def test_turning_a_static_segment_dynamic_drops_its_list(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        created = await create(
            client,
            {"name": "us", "type": "static", "filter": {"datatype": "contact", "where": {"country": "US"}}},
        )
        r = await client.patch(f"{SEGMENTS}/{created['id']}", json={"type": "dynamic"})
        assert r.status_code == 200, r.text
        assert "contactIds" not in r.json()
        assert r.json()["type"] == "dynamic"

    async def test_updating_an_unknown_segment_is_404(self, client: httpx.AsyncClient) -> None:
        r = await client.patch(f"{SEGMENTS}/seg_nothinghere1", json={"name": "x"})
        assert (r.status_code, r.json()["code"]) == (404, "segment_not_found")


class TestDeleteSegment:
    async def test_deletes_it(self, client: httpx.AsyncClient) -> None:
        created = await create(client, SEED_SEGMENT)
        assert (await client.delete(f"{SEGMENTS}/{created['id']}")).status_code == 204
        assert (await client.get(f"{SEGMENTS}/{created['id']}")).status_code == 404
        assert (await client.delete(f"{SEGMENTS}/{created['id']}")).status_code == 404

    async def test_needs_the_write_scope(self, client: httpx.AsyncClient, token: Any) -> None:
        created = await create(client, SEED_SEGMENT)
        headers = {"Authorization": f"Bearer {token('acme', scopes=['audiences:read'])}"}
        r = await client.delete(f"{SEGMENTS}/{created['id']}", headers=headers)
        assert (r.status_code, r.json()["code"]) == (403, "insufficient_scope")
