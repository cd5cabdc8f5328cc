"""`/api/cohorts`: static and dynamic cohorts, cycles, and refusing to delete one in use."""

from __future__ import annotations

from typing import Any

import httpx

from audiences.journeys.schemas import PRO_OR_ADMIN

ACTIVE_7D = {"kind": "event_fired", "eventName": "feature.used", "window": {"type": "last_n_days", "days": 7}}


async def _cohort(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await client.post("/api/cohorts", json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


class TestCreateCohort:
    async def test_a_static_cohort(self, client: httpx.AsyncClient) -> None:
        created = await _cohort(client, id="trial", name="Trial", subjectIds=["u1", "u2"])
        assert created == {
            "id": "trial",
            "name": "Trial",
            "description": None,
            "type": "static",
            "subjectIds": ["u1", "u2"],
            "createdAt": "2026-04-24T12:00:00.000Z",
            "updatedAt": "2026-04-24T12:00:00.000Z",
        }

    async def test_a_dynamic_cohort_keeps_its_predicate_exactly(self, client: httpx.AsyncClient) -> None:
        created = await _cohort(client, name="Power users", predicate=ACTIVE_7D)
        assert (created["id"], created["type"], created["predicate"]) == ("power-users", "dynamic", ACTIVE_7D)
        assert "subjectIds" not in created

    async def test_needs_exactly_one_definition(self, client: httpx.AsyncClient) -> None:
        for body in ({"name": "x"}, {"name": "x", "subjectIds": [], "predicate": PRO_OR_ADMIN}):
            r = await client.post("/api/cohorts", json=body)
            assert (r.status_code, r.json()["code"]) == (400, "invalid_cohort_definition")

    async def test_an_invalid_predicate_is_refused_with_paths(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/api/cohorts", json={"name": "x", "predicate": {"kind": "or", "clauses": []}})
        assert r.status_code == 400
        assert [(e["code"], e["path"]) for e in r.json()["errors"]] == [
            ("empty_clauses", "predicate.clauses")
        ]

    async def test_a_taken_id_is_a_conflict(self, client: httpx.AsyncClient) -> None:
        await _cohort(client, id="trial", name="Trial", subjectIds=[])
        r = await client.post("/api/cohorts", json={"id": "trial", "name": "Again", "subjectIds": []})
        assert (r.status_code, r.json()["code"]) == (409, "cohort_exists")

    async def test_may_use_other_cohorts(self, client: httpx.AsyncClient) -> None:
        await _cohort(client, id="trial", name="Trial", subjectIds=["u1"])
        predicate = {"kind": "and", "clauses": [{"kind": "in_cohort", "cohortId": "trial"}, ACTIVE_7D]}
        assert (await _cohort(client, id="trial-active", name="Trial active", predicate=predicate))[
            "type"
        ] == "dynamic"


class TestCohortCycles:
    async def test_a_cohort_using_itself_is_a_cycle(self, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/api/cohorts",
            json={"id": "loop", "name": "Loop", "predicate": {"kind": "in_cohort", "cohortId": "loop"}},
        )
        assert r.status_code == 400
        assert [(e["code"], e["path"]) for e in r.json()["errors"]] == [
            ("cohort_cycle", "predicate.cohortId")
        ]

    async def test_a_cycle_through_another_cohort_is_refused_on_update(
        self, client: httpx.AsyncClient
    ) -> None:
        await _cohort(client, id="aaa", name="A", subjectIds=["u1"])
        await _cohort(client, id="bbb", name="B", predicate={"kind": "in_cohort", "cohortId": "aaa"})
        r = await client.put(
            "/api/cohorts/aaa",
            json={
                "name": "A",
                "predicate": {"kind": "not", "clause": {"kind": "in_cohort", "cohortId": "bbb"}},
            },
        )
        assert r.status_code == 400
        error = r.json()["errors"][0]
        assert (error["code"], error["path"]) == ("cohort_cycle", "predicate.clause.cohortId")
        assert "aaa" in error["message"]
        assert "bbb" in error["message"]
        # Unchanged.
        assert (await client.get("/api/cohorts/aaa")).json()["type"] == "static"


class TestUpdateCohort:
    async def test_patch_turns_a_static_cohort_dynamic(self, client: httpx.AsyncClient) -> None:
        await _cohort(client, id="trial", name="Trial", subjectIds=["u1"])
        r = await client.patch("/api/cohorts/trial", json={"predicate": ACTIVE_7D})
        body = r.json()
        assert (body["type"], body["predicate"], body["name"]) == ("dynamic", ACTIVE_7D, "Trial")
        assert "subjectIds" not in body

    async def test_patch_renames_and_keeps_the_members(self, client: httpx.AsyncClient) -> None:
        await _cohort(client, id="trial", name="Trial", subjectIds=["u1"])
        body = (await client.patch("/api/cohorts/trial", json={"name": "Trialists"})).json()
        assert (body["name"], body["subjectIds"]) == ("Trialists", ["u1"])

    async def test_the_changed_cohort_changes_the_audiences_using_it(
        self, workspace: httpx.AsyncClient
    ) -> None:
        predicate = {"kind": "in_cohort", "cohortId": "trial"}
        before = (await workspace.post("/api/audiences/dry-run", json={"predicate": predicate})).json()[
            "count"
        ]
        await workspace.patch("/api/cohorts/trial", json={"subjectIds": ["u1"]})
        after = (await workspace.post("/api/audiences/dry-run", json={"predicate": predicate})).json()[
            "count"
        ]
        assert (before, after) == (3, 1)


class TestDeleteCohort:
    async def test_a_cohort_in_use_is_refused_with_its_users(self, workspace: httpx.AsyncClient) -> None:
        await workspace.post(
            "/api/audiences",
            json={"id": "aud-t", "name": "T", "predicate": {"kind": "in_cohort", "cohortId": "trial"}},
        )
        await _cohort(
            workspace, id="trial-2", name="T2", predicate={"kind": "in_cohort", "cohortId": "trial"}
        )
        r = await workspace.delete("/api/cohorts/trial")
        assert r.status_code == 409
        body = r.json()
        assert body["code"] == "cohort_in_use"
        assert body["usedBy"] == {"audiences": ["aud-t"], "cohorts": ["trial-2"]}
        assert "aud-t" in body["detail"]
        assert (await workspace.get("/api/cohorts/trial")).status_code == 200

    async def test_an_unused_cohort_is_deleted(self, workspace: httpx.AsyncClient) -> None:
        assert (await workspace.delete("/api/cohorts/churned")).status_code == 204
        r = await workspace.get("/api/cohorts/churned")
        assert (r.status_code, r.json()["code"]) == (404, "cohort_not_found")

    async def test_lists_cohorts(self, workspace: httpx.AsyncClient) -> None:
        listed = (await workspace.get("/api/cohorts")).json()
        assert sorted(c["id"] for c in listed) == ["active", "churned", "suppressed", "trial"]
