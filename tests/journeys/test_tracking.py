"""Saving audiences and cohorts tells membership tracking (docs/membership.md): the members
are recomputed in the background, and editing a cohort recomputes the audiences using it."""

from __future__ import annotations

from typing import Any

import httpx

from audiences.membership.recompute import wait_for_recomputes

USES_TRIAL = {"kind": "in_cohort", "cohortId": "trial"}


async def _status(client: httpx.AsyncClient, audience_id: str) -> dict[str, Any]:
    await wait_for_recomputes()
    r = await client.get(f"/api/audiences/{audience_id}/membership-status")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _entered(client: httpx.AsyncClient, audience_id: str) -> list[str]:
    r = await client.get(f"/api/audiences/{audience_id}/changes")
    return sorted(c["subjectId"] for c in r.json()["items"] if c["change"] == "entered")


class TestMembershipTracking:
    async def test_a_new_audience_is_recomputed_with_the_production_pipeline(
        self, workspace: httpx.AsyncClient
    ) -> None:
        r = await workspace.post("/api/audiences", json={"id": "aud-t", "name": "T", "predicate": USES_TRIAL})
        assert r.status_code == 201
        status = await _status(workspace, "aud-t")
        assert (status["state"], status["definitionVersion"]) == ("done", 1)
        assert await _entered(workspace, "aud-t") == ["u1", "u2", "u3"]

    async def test_editing_a_cohort_recomputes_the_audiences_that_use_it(
        self, workspace: httpx.AsyncClient
    ) -> None:
        await workspace.post("/api/cohorts", json={"id": "via-trial", "name": "V", "predicate": USES_TRIAL})
        await workspace.post(
            "/api/audiences",
            json={"id": "aud-v", "name": "V", "predicate": {"kind": "in_cohort", "cohortId": "via-trial"}},
        )
        assert (await _status(workspace, "aud-v"))["definitionVersion"] == 1
        r = await workspace.patch("/api/cohorts/trial", json={"subjectIds": ["u1", "u4"]})
        assert r.status_code == 200
        status = await _status(workspace, "aud-v")
        assert (status["state"], status["definitionVersion"]) == ("done", 2)
        assert await _entered(workspace, "aud-v") == ["u1", "u2", "u3", "u4"]

    async def test_a_deleted_audience_stops_being_tracked(self, workspace: httpx.AsyncClient) -> None:
        await workspace.post("/api/audiences", json={"id": "aud-t", "name": "T", "predicate": USES_TRIAL})
        await _status(workspace, "aud-t")
        await workspace.delete("/api/audiences/aud-t")
        r = await workspace.get("/api/audiences/aud-t/membership-status")
        assert (r.status_code, r.json()["code"]) == (404, "audience_not_found")
