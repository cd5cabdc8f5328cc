"""GET /api/crm/audiences/segments/{id}/members: live members by page or NDJSON stream."""

from __future__ import annotations

import json
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

US = {"name": "US", "filter": {"datatype": "contact", "where": {"country": "US"}}}


class TestMembersPages:
    async def test_pages_cover_the_live_set_in_id_order(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]], globex_crm: list[dict[str, Any]]
    ) -> None:
        segment = await create(client, SEED_SEGMENT)
        ids = await all_member_ids(client, f"{SEGMENTS}/{segment['id']}/members", limit=3)
        assert ids == sorted(ids_where(crm, is_seed_segment_member))

    async def test_a_page_holds_contacts_as_the_contacts_api_shows_them(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        segment = await create(client, US)
        body = (await client.get(f"{SEGMENTS}/{segment['id']}/members", params={"limit": 1})).json()
        first = body["items"][0]
        assert first == (await client.get(f"/api/crm/contacts/{first['id']}")).json()
        assert body["nextCursor"]

    async def test_the_last_page_has_no_cursor(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        segment = await create(client, US)
        body = (await client.get(f"{SEGMENTS}/{segment['id']}/members", params={"limit": 10_000})).json()
        assert len(body["items"]) == len(ids_where(crm, lambda c: c["country"] == "US"))
        assert body["nextCursor"] is None

    async def test_fields_selects_what_is_returned(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        segment = await create(client, US)
        body = (
            await client.get(f"{SEGMENTS}/{segment['id']}/members", params={"fields": "email,country"})
        ).json()
        assert {tuple(sorted(i)) for i in body["items"]} == {("country", "email", "id")}

    async def test_bad_fields_limits_and_cursors_are_400(self, client: httpx.AsyncClient) -> None:
        segment = await create(client, US)
        url = f"{SEGMENTS}/{segment['id']}/members"
        for params, code in [
            ({"fields": "email,$where"}, "invalid_field_name"),
            ({"fields": "email,,country"}, "invalid_field_name"),
            ({"limit": 0}, "validation_failed"),
            ({"limit": 10_001}, "validation_failed"),
            ({"cursor": "%%%"}, "invalid_cursor"),
        ]:
            r = await client.get(url, params=params)
            assert (r.status_code, r.json()["code"]) == (400, code), params

    async def test_contacts_added_later_appear_live(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]], ingest: IngestFn
    ) -> None:
        segment = await create(client, US)
        before = await all_member_ids(client, f"{SEGMENTS}/{segment['id']}/members", limit=50)
        await ingest(client, [{"id": "zz-late", "country": "US"}], [])
        after = await all_member_ids(client, f"{SEGMENTS}/{segment['id']}/members", limit=50)
        assert after == [*before, "zz-late"]

    async def test_another_orgs_segment_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        theirs = await create(other_client, US)
        r = await client.get(f"{SEGMENTS}/{theirs['id']}/members")
        assert (r.status_code, r.json()["code"]) == (404, "segment_not_found")


class TestMembersStream:
    async def test_ndjson_streams_every_member_one_per_line(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]], globex_crm: list[dict[str, Any]]
    ) -> None:
        segment = await create(client, US)
        r = await client.get(
            f"{SEGMENTS}/{segment['id']}/members",
            params={"fields": "country"},
            headers={"Accept": "application/x-ndjson"},
        )
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in r.text.splitlines()]
        assert [row["id"] for row in lines] == sorted(ids_where(crm, lambda c: c["country"] == "US"))
        assert all(row == {"id": row["id"], "country": "US"} for row in lines)

    async def test_a_stream_can_resume_from_a_cursor(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        segment = await create(client, US)
        url = f"{SEGMENTS}/{segment['id']}/members"
        first = (await client.get(url, params={"limit": 2})).json()
        r = await client.get(
            url, params={"cursor": first["nextCursor"]}, headers={"Accept": "application/x-ndjson"}
        )
        rest = [json.loads(line)["id"] for line in r.text.splitlines()]
        assert [i["id"] for i in first["items"]] + rest == sorted(
            ids_where(crm, lambda c: c["country"] == "US")
        )

    async def test_an_unknown_segment_fails_before_streaming(self, client: httpx.AsyncClient) -> None:
        r = await client.get(
            f"{SEGMENTS}/seg_nothinghere1/members", headers={"Accept": "application/x-ndjson"}
        )
        assert (r.status_code, r.json()["code"]) == (404, "segment_not_found")


class TestStaticMembers:
    async def test_static_members_page_and_stream_from_the_list_skipping_deleted_contacts(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        picked = [f"c{i:03d}" for i in range(0, 40, 3)]
        segment = await create(client, {"name": "picked", "type": "static", "contactIds": picked})
        assert (await client.delete(f"/api/crm/contacts/{picked[1]}")).status_code == 204
        url = f"{SEGMENTS}/{segment['id']}/members"
        expected = [picked[0], *picked[2:]]
        assert await all_member_ids(client, url, limit=4) == expected
        r = await client.get(url, headers={"Accept": "application/x-ndjson"}, params={"fields": "email"})
        assert [json.loads(line)["id"] for line in r.text.splitlines()] == expected
