"""Snapshots: membership frozen at an instant, paged like live members, expiring by TTL."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx

from audiences.clock import FixedClock
from audiences.db import Database
from tests.conftest import IngestFn
from tests.segments.conftest import (
    SEED_SEGMENT,
    SEGMENTS,
    SNAPSHOTS,
    all_member_ids,
    create,
    ids_where,
    is_seed_segment_member,
)

US = {"name": "US", "filter": {"datatype": "contact", "where": {"country": "US"}}}


async def snapshot(client: httpx.AsyncClient, segment_id: str) -> dict[str, Any]:
    r = await client.post(f"{SEGMENTS}/{segment_id}/snapshots")
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


class TestCreateSnapshot:
    async def test_freezes_the_members_now(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        segment = await create(client, SEED_SEGMENT)
        body = await snapshot(client, segment["id"])
        assert body["snapshotId"].startswith("snap_")
        assert body["segmentId"] == segment["id"]
        assert body["count"] == len(ids_where(crm, is_seed_segment_member))
        assert (body["createdAt"], body["expiresAt"]) == (
            "2026-04-24T12:00:00.000Z",
            "2026-05-01T12:00:00.000Z",
        )
        assert (await client.get(f"{SNAPSHOTS}/{body['snapshotId']}")).json() == body

    async def test_an_unknown_or_foreign_segment_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        theirs = await create(other_client, US)
        for segment_id in (theirs["id"], "seg_nothinghere1"):
            r = await client.post(f"{SEGMENTS}/{segment_id}/snapshots")
            assert (r.status_code, r.json()["code"]) == (404, "segment_not_found")

    async def test_ids_are_stored_in_chunks_with_a_ttl(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]], db: Database
    ) -> None:
        body = await snapshot(client, (await create(client, US))["id"])
        chunks = await db.collection("snapshot_chunks").find_list({"listId": body["snapshotId"]})
        assert [c["ids"] for c in chunks] == [sorted(ids_where(crm, lambda c: c["country"] == "US"))]
        assert all(
            c["orgId"] == "acme" and c["purgeAt"] >= dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
            for c in chunks
        )
        for name in ("snapshots", "snapshot_chunks"):
            ttl = [i for i in await db.collection(name).list_indexes() if "expireAfterSeconds" in i]
            assert [(list(dict(i["key"])), i["expireAfterSeconds"]) for i in ttl] == [(["purgeAt"], 0)]


class TestSnapshotMembers:
    async def test_contacts_added_later_never_appear_while_the_live_count_grows(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]], ingest: IngestFn
    ) -> None:
        segment = await create(client, US)
        frozen = await snapshot(client, segment["id"])
        await ingest(client, [{"id": "aa-late", "country": "US"}, {"id": "zz-late", "country": "US"}], [])
        expected = sorted(ids_where(crm, lambda c: c["country"] == "US"))
        assert (
            await all_member_ids(client, f"{SNAPSHOTS}/{frozen['snapshotId']}/members", limit=4) == expected
        )
        live = (await client.get(f"{SEGMENTS}/{segment['id']}")).json()["count"]
        assert (frozen["count"], live) == (len(expected), len(expected) + 2)

    async def test_members_are_shown_as_they_are_now_and_deleted_ones_are_skipped(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]], ingest: IngestFn
    ) -> None:
        us = sorted(ids_where(crm, lambda c: c["country"] == "US"))
        frozen = await snapshot(client, (await create(client, US))["id"])
        await ingest(client, [{"id": us[0], "country": "FR"}], [])
        for gone in us[1:4]:
            assert (await client.delete(f"/api/crm/contacts/{gone}")).status_code == 204
        url = f"{SNAPSHOTS}/{frozen['snapshotId']}/members"
        page = (await client.get(url, params={"limit": 2})).json()
        assert [(i["id"], i["country"]) for i in page["items"]] == [(us[0], "FR"), (us[4], "US")]
        assert await all_member_ids(client, url, limit=2) == [us[0], *us[4:]]

    async def test_ndjson_streams_the_frozen_members(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]], ingest: IngestFn
    ) -> None:
        frozen = await snapshot(client, (await create(client, US))["id"])
        await ingest(client, [{"id": "zz-late", "country": "US"}], [])
        r = await client.get(
            f"{SNAPSHOTS}/{frozen['snapshotId']}/members",
            params={"fields": "email"},
            headers={"Accept": "application/x-ndjson"},
        )
        rows = [json.loads(line) for line in r.text.splitlines()]
        assert [row["id"] for row in rows] == sorted(ids_where(crm, lambda c: c["country"] == "US"))
        assert set(rows[0]) == {"id", "email"}

    async def test_a_snapshot_of_a_static_segment_keeps_its_ids(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        segment = await create(client, {"name": "picked", "type": "static", "contactIds": ["c009", "c002"]})
        frozen = await snapshot(client, segment["id"])
        assert await all_member_ids(client, f"{SNAPSHOTS}/{frozen['snapshotId']}/members") == ["c002", "c009"]

    async def test_it_outlives_its_segment(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        segment = await create(client, US)
        frozen = await snapshot(client, segment["id"])
        assert (await client.delete(f"{SEGMENTS}/{segment['id']}")).status_code == 204
        assert (
            len(await all_member_ids(client, f"{SNAPSHOTS}/{frozen['snapshotId']}/members"))
            == frozen["count"]
        )

    async def test_it_expires_after_the_ttl(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]], clock: FixedClock
    ) -> None:
        frozen = await snapshot(client, (await create(client, US))["id"])
        clock.advance(dt.timedelta(days=7))
        for url in (f"{SNAPSHOTS}/{frozen['snapshotId']}", f"{SNAPSHOTS}/{frozen['snapshotId']}/members"):
            r = await client.get(url)
            assert (r.status_code, r.json()["code"]) == (404, "snapshot_not_found")

    async def test_another_orgs_snapshot_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient, globex_crm: list[dict[str, Any]]
    ) -> None:
        theirs = await snapshot(other_client, (await create(other_client, US))["id"])
        for url in (f"{SNAPSHOTS}/{theirs['snapshotId']}", f"{SNAPSHOTS}/{theirs['snapshotId']}/members"):
            r = await client.get(url)
            assert (r.status_code, r.json()["code"]) == (404, "snapshot_not_found")
