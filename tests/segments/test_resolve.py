"""What other modules use: resolve_audience for segment ids, and the in-memory matcher."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from audiences.db import Database
from audiences.segments.resolve import SegmentNotFound, resolve_audience
from audiences.segments.service import compile_segment_matcher, segment_matches
from audiences.tenancy import system_scope
from tests.conftest import AS_OF
from tests.segments.conftest import SEED_SEGMENT, all_member_ids, create

RELATIVE = {
    "name": "recent",
    "filter": {"datatype": "contact", "where": {"lastEmailOpenedAt": {"$gte": {"$now": "-P7D"}}}},
}
T = 15_000


class TestResolveAudience:
    async def test_a_dynamic_segment_resolves_to_its_compiled_filter_at_as_of(
        self, client: httpx.AsyncClient, db: Database
    ) -> None:
        segment = await create(client, RELATIVE)
        resolved = await resolve_audience(
            db=db, scope=system_scope("acme"), audience_id=segment["id"], as_of=AS_OF, timeout_ms=T
        )
        assert (resolved.id, resolved.name, resolved.kind) == (segment["id"], "recent", "dynamic")
        assert resolved.contact_filter == {"lastEmailOpenedAt": {"$gte": AS_OF - dt.timedelta(days=7)}}
        assert resolved.definition["filter"] == RELATIVE["filter"]

    async def test_a_static_segment_resolves_to_its_ids(
        self, client: httpx.AsyncClient, db: Database, crm: list[dict[str, Any]]
    ) -> None:
        segment = await create(client, {"name": "p", "type": "static", "contactIds": ["c003", "c001"]})
        resolved = await resolve_audience(
            db=db, scope=system_scope("acme"), audience_id=segment["id"], as_of=AS_OF, timeout_ms=T
        )
        assert resolved.kind == "static"
        assert list(resolved.contact_filter) == ["id"]
        assert set(resolved.contact_filter["id"]["$in"]) == {"c001", "c003"}
        assert resolved.definition["contactIds"] == ["c001", "c003"]

    async def test_another_orgs_segment_is_not_found(self, client: httpx.AsyncClient, db: Database) -> None:
        segment = await create(client, SEED_SEGMENT)
        with pytest.raises(SegmentNotFound):
            await resolve_audience(
                db=db, scope=system_scope("globex"), audience_id=segment["id"], as_of=AS_OF, timeout_ms=T
            )


class TestSegmentMatches:
    async def test_agrees_with_the_members_query_for_every_contact(
        self, client: httpx.AsyncClient, db: Database, crm: list[dict[str, Any]]
    ) -> None:
        segment = await create(client, SEED_SEGMENT)
        resolved = await resolve_audience(
            db=db, scope=system_scope("acme"), audience_id=segment["id"], as_of=AS_OF, timeout_ms=T
        )
        stored = await db.collection("contacts").find_list({"orgId": "acme"})
        matcher = compile_segment_matcher(resolved.definition)
        in_memory = sorted(d["id"] for d in stored if matcher(d, AS_OF))
        assert in_memory == await all_member_ids(
            client, f"/api/crm/audiences/segments/{segment['id']}/members"
        )
        assert in_memory

    def test_time_moves_relative_segments(self) -> None:
        definition = {"type": "dynamic", "filter": RELATIVE["filter"]}
        contact = {"id": "c1", "lastEmailOpenedAt": AS_OF - dt.timedelta(days=6)}
        assert segment_matches(definition, contact, AS_OF)
        assert not segment_matches(definition, contact, AS_OF + dt.timedelta(days=2))

    def test_static_segments_match_by_id(self) -> None:
        definition = {"type": "static", "filter": None, "contactIds": ["c1", "c2"]}
        assert segment_matches(definition, {"id": "c2"}, AS_OF)
        assert not segment_matches(definition, {"id": "c3", "tags": ["vip"]}, AS_OF)
