"""Tenant isolation: every segments route answers another org's ids with 404 (or an empty
list), and never shows another org's contacts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.segments.conftest import SEGMENTS, SNAPSHOTS, create

US = {"name": "US", "filter": {"datatype": "contact", "where": {"country": "US"}}}


@pytest.fixture
async def theirs(other_client: httpx.AsyncClient, globex_crm: list[dict[str, Any]]) -> dict[str, str]:
    """A segment and a snapshot of org `globex`."""
    segment = await create(other_client, US)
    r = await other_client.post(f"{SEGMENTS}/{segment['id']}/snapshots")
    assert r.status_code == 201
    return {"segment": segment["id"], "snapshot": r.json()["snapshotId"]}


class TestTenantIsolation:
    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("GET", "{segments}/{segment}", None),
            ("PATCH", "{segments}/{segment}", {"name": "mine"}),
            ("PUT", "{segments}/{segment}", US),
            ("DELETE", "{segments}/{segment}", None),
            ("GET", "{segments}/{segment}/members", None),
            ("POST", "{segments}/{segment}/snapshots", None),
            ("POST", "/api/crm/audiences/estimate-reach", {"segmentId": "{segment}"}),
            ("GET", "{snapshots}/{snapshot}", None),
            ("GET", "{snapshots}/{snapshot}/members", None),
        ],
    )
    async def test_another_orgs_ids_are_404(
        self,
        client: httpx.AsyncClient,
        other_client: httpx.AsyncClient,
        theirs: dict[str, str],
        method: str,
        path: str,
        body: dict[str, Any] | None,
    ) -> None:
        url = path.format(segments=SEGMENTS, snapshots=SNAPSHOTS, **theirs)
        if body is not None and "segmentId" in body:
            body = {"segmentId": theirs["segment"]}
        r = await client.request(method, url, json=body)
        assert r.status_code == 404, r.text
        assert r.json()["code"] in ("segment_not_found", "snapshot_not_found")
        assert (await other_client.get(f"{SEGMENTS}/{theirs['segment']}")).status_code == 200

    async def test_the_segment_list_shows_only_the_callers_segments(
        self, client: httpx.AsyncClient, theirs: dict[str, str]
    ) -> None:
        mine = await create(client, US)
        assert [i["id"] for i in (await client.get(SEGMENTS)).json()["items"]] == [mine["id"]]

    async def test_a_segment_sees_only_the_callers_contacts(
        self, client: httpx.AsyncClient, theirs: dict[str, str]
    ) -> None:
        mine = await create(client, US)
        page = (await client.get(f"{SEGMENTS}/{mine['id']}/members")).json()
        assert page == {"items": [], "nextCursor": None}
        r = await client.post(f"{SEGMENTS}/{mine['id']}/snapshots")
        assert r.json()["count"] == 0
