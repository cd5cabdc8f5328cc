"""Segment writes tell membership tracking (docs/membership.md): a new or edited segment is
indexed and its members computed in the background; a deleted one is forgotten."""

from __future__ import annotations

from typing import Any

import httpx

from audiences.membership.recompute import wait_for_recomputes
from tests.segments.conftest import SEED_SEGMENT, SEGMENTS, create, ids_where, is_seed_segment_member


class TestMembershipTracking:
    async def test_a_new_segment_gets_its_members_computed(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        segment = await create(client, SEED_SEGMENT)
        await wait_for_recomputes()
        status = (await client.get(f"{SEGMENTS}/{segment['id']}/membership-status")).json()
        assert status["state"] == "done"
        changes = (await client.get(f"{SEGMENTS}/{segment['id']}/changes", params={"limit": 1000})).json()
        entered = {c["subjectId"] for c in changes["items"] if c["change"] == "entered"}
        assert entered == ids_where(crm, is_seed_segment_member)

    async def test_a_deleted_segment_is_forgotten(
        self, client: httpx.AsyncClient, crm: list[dict[str, Any]]
    ) -> None:
        segment = await create(client, SEED_SEGMENT)
        await wait_for_recomputes()
        assert (await client.delete(f"{SEGMENTS}/{segment['id']}")).status_code == 204
        r = await client.get(f"{SEGMENTS}/{segment['id']}/membership-status")
        assert r.status_code == 404
