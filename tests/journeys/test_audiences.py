"""`/api/audiences` CRUD (seed 003): ids, defaults, timestamps, round trip, isolation."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from audiences.journeys.schemas import ACTIVE_NOT_CHURNED, PRO_OR_ADMIN, TRIAL_ACTIVE_NOT_CONVERTED
from tests.conftest import AS_OF

SEED_EXAMPLES = [TRIAL_ACTIVE_NOT_CONVERTED, PRO_OR_ADMIN, ACTIVE_NOT_CHURNED]


async def _create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await client.post("/api/audiences", json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


class TestCreateAudience:
    @pytest.mark.parametrize("predicate", SEED_EXAMPLES, ids=["trial-active", "pro-or-admin", "de-morgan"])
    async def test_seed_examples_are_stored_and_returned_unchanged(
        self, workspace: httpx.AsyncClient, predicate: dict[str, Any]
    ) -> None:
        created = await _create(workspace, name="Example", predicate=predicate)
        assert created["predicate"] == predicate
        fetched = (await workspace.get(f"/api/audiences/{created['id']}")).json()
        assert fetched["predicate"] == predicate
        # Same keys in the same order: no defaults (`atLeast`, `window`) were added.
        assert list(fetched["predicate"]) == list(predicate)
        assert repr(fetched["predicate"]) == repr(predicate)

    async def test_fills_defaults_and_stamps_times_with_milliseconds(self, client: httpx.AsyncClient) -> None:
        created = await _create(client, name="Pro tier, active in last 7d", predicate=PRO_OR_ADMIN)
        assert created == {
            "id": "aud-pro-tier-active-in-last-7d",
            "projectKey": "default",
            "name": "Pro tier, active in last 7d",
            "description": None,
            "subjectType": "end_user",
            "predicate": PRO_OR_ADMIN,
            "createdAt": "2026-04-24T12:00:00.000Z",
            "updatedAt": "2026-04-24T12:00:00.000Z",
        }

    async def test_keeps_the_given_id_project_and_description(self, client: httpx.AsyncClient) -> None:
        created = await _create(
            client,
            id="aud-pro-tier-active",
            projectKey="pk_live_xyz",
            name="Pro tier",
            description="Used for upgrade nudges",
            subjectType="end_user",
            predicate=PRO_OR_ADMIN,
        )
        assert (created["id"], created["projectKey"], created["description"]) == (
            "aud-pro-tier-active",
            "pk_live_xyz",
            "Used for upgrade nudges",
        )

    async def test_a_taken_given_id_is_a_conflict(self, client: httpx.AsyncClient) -> None:
        await _create(client, id="aud-dup", name="One", predicate=PRO_OR_ADMIN)
        r = await client.post(
            "/api/audiences", json={"id": "aud-dup", "name": "Two", "predicate": PRO_OR_ADMIN}
        )
        assert r.status_code == 409
        assert r.json()["code"] == "audience_exists"

    async def test_generated_ids_get_a_short_suffix_when_the_name_is_taken(
        self, client: httpx.AsyncClient
    ) -> None:
        first = await _create(client, name="Pro users", predicate=PRO_OR_ADMIN)
        second = await _create(client, name="Pro users", predicate=PRO_OR_ADMIN)
        assert first["id"] == "aud-pro-users"
        assert re.fullmatch(r"aud-pro-users-[0-9a-f]{4}", second["id"])

    @pytest.mark.parametrize("bad_id", ["AB", "Upper-Case", "has space", "-lead", "x" * 65])
    async def test_ids_must_be_lowercase_slugs(self, client: httpx.AsyncClient, bad_id: str) -> None:
        r = await client.post("/api/audiences", json={"id": bad_id, "name": "x", "predicate": PRO_OR_ADMIN})
        assert r.status_code == 400
        assert [e["code"] for e in r.json()["errors"]] == ["invalid_id"]

    async def test_the_default_project_key_comes_from_settings(
        self, client: httpx.AsyncClient, settings: Any
    ) -> None:
        settings.default_project_key = "pk_test_default"
        created = await _create(client, name="x", predicate=PRO_OR_ADMIN)
        assert created["projectKey"] == "pk_test_default"

    async def test_needs_the_write_scope(self, raw_client: httpx.AsyncClient, token: Any) -> None:
        headers = {"Authorization": f"Bearer {token('acme', scopes=['audiences:read'])}", "orgid": "acme"}
        r = await raw_client.post(
            "/api/audiences", json={"name": "x", "predicate": PRO_OR_ADMIN}, headers=headers
        )
        assert r.status_code == 403


class TestListAudiences:
    async def test_is_a_bare_array_newest_first(self, client: httpx.AsyncClient, clock: Any) -> None:
        import datetime as dt

        await _create(client, id="aud-old", name="Old", predicate=PRO_OR_ADMIN)
        clock.advance(dt.timedelta(minutes=5))
        await _create(client, id="aud-new", name="New", predicate={"kind": "not", "clause": PRO_OR_ADMIN})
        r = await client.get("/api/audiences")
        assert r.status_code == 200
        body = r.json()
        assert isinstance(body, list)
        assert [a["id"] for a in body] == ["aud-new", "aud-old"]
        assert body[0]["createdAt"] == "2026-04-24T12:05:00.000Z"

    async def test_filters_by_project_key(self, client: httpx.AsyncClient) -> None:
        await _create(client, id="aud-a", name="A", projectKey="pk_a", predicate=PRO_OR_ADMIN)
        await _create(client, id="aud-b", name="B", projectKey="pk_b", predicate=PRO_OR_ADMIN)
        r = await client.get("/api/audiences", params={"projectKey": "pk_b"})
        assert [a["id"] for a in r.json()] == ["aud-b"]

    async def test_lists_the_seed_examples_unchanged(self, workspace: httpx.AsyncClient) -> None:
        for i, predicate in enumerate(SEED_EXAMPLES):
            await _create(workspace, id=f"aud-seed-{i}", name=f"Seed {i}", predicate=predicate)
        listed = {a["id"]: a["predicate"] for a in (await workspace.get("/api/audiences")).json()}
        assert listed == {f"aud-seed-{i}": p for i, p in enumerate(SEED_EXAMPLES)}


class TestUpdateAudience:
    async def test_patch_changes_only_the_given_fields(self, client: httpx.AsyncClient, clock: Any) -> None:
        import datetime as dt

        await _create(client, id="aud-x", name="X", description="keep me", predicate=PRO_OR_ADMIN)
        clock.advance(dt.timedelta(hours=1))
        r = await client.patch("/api/audiences/aud-x", json={"name": "Renamed"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["name"], body["description"], body["predicate"]) == ("Renamed", "keep me", PRO_OR_ADMIN)
        assert (body["createdAt"], body["updatedAt"]) == (
            "2026-04-24T12:00:00.000Z",
            "2026-04-24T13:00:00.000Z",
        )

    async def test_patch_replaces_the_predicate_exactly(self, workspace: httpx.AsyncClient) -> None:
        await _create(workspace, id="aud-x", name="X", predicate=PRO_OR_ADMIN)
        r = await workspace.patch("/api/audiences/aud-x", json={"predicate": TRIAL_ACTIVE_NOT_CONVERTED})
        assert r.json()["predicate"] == TRIAL_ACTIVE_NOT_CONVERTED

    async def test_put_replaces_the_whole_audience_but_keeps_created_at(
        self, client: httpx.AsyncClient
    ) -> None:
        await _create(
            client, id="aud-x", name="X", description="old", projectKey="pk_1", predicate=PRO_OR_ADMIN
        )
        r = await client.put("/api/audiences/aud-x", json={"name": "Y", "predicate": PRO_OR_ADMIN})
        assert r.status_code == 200
        body = r.json()
        assert (body["name"], body["description"], body["projectKey"]) == ("Y", None, "default")
        assert body["createdAt"] == "2026-04-24T12:00:00.000Z"

    async def test_put_with_another_id_in_the_body_is_refused(self, client: httpx.AsyncClient) -> None:
        await _create(client, id="aud-x", name="X", predicate=PRO_OR_ADMIN)
        r = await client.put(
            "/api/audiences/aud-x", json={"id": "aud-y", "name": "Y", "predicate": PRO_OR_ADMIN}
        )
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] == "id_mismatch"

    async def test_an_invalid_update_changes_nothing(self, client: httpx.AsyncClient) -> None:
        await _create(client, id="aud-x", name="X", predicate=PRO_OR_ADMIN)
        r = await client.patch(
            "/api/audiences/aud-x", json={"name": "Y", "predicate": {"kind": "and", "clauses": []}}
        )
        assert r.status_code == 400
        assert r.json()["code"] == "empty_clauses"
        body = (await client.get("/api/audiences/aud-x")).json()
        assert (body["name"], body["predicate"]) == ("X", PRO_OR_ADMIN)

    @pytest.mark.parametrize("method", ["PATCH", "PUT"])
    async def test_unknown_audience_is_not_found(self, client: httpx.AsyncClient, method: str) -> None:
        r = await client.request(
            method, "/api/audiences/aud-none", json={"name": "x", "predicate": PRO_OR_ADMIN}
        )
        assert r.status_code == 404
        assert r.json()["code"] == "audience_not_found"


class TestDeleteAudience:
    async def test_deleted_audience_is_gone(self, client: httpx.AsyncClient) -> None:
        await _create(client, id="aud-x", name="X", predicate=PRO_OR_ADMIN)
        assert (await client.delete("/api/audiences/aud-x")).status_code == 204
        r = await client.get("/api/audiences/aud-x")
        assert (r.status_code, r.json()["code"]) == (404, "audience_not_found")
        assert (await client.delete("/api/audiences/aud-x")).status_code == 404

    async def test_evaluating_a_deleted_audience_answers_audience_not_found(
        self, workspace: httpx.AsyncClient
    ) -> None:
        await _create(workspace, id="aud-x", name="X", predicate=PRO_OR_ADMIN)
        await workspace.delete("/api/audiences/aud-x")
        r = await workspace.post("/api/audiences/aud-x/evaluate", json={"subjectId": "u1"})
        assert r.status_code == 404
        assert r.json()["code"] == "audience_not_found"
        r = await workspace.get("/api/audiences/aud-x/members")
        assert (r.status_code, r.json()["code"]) == (404, "audience_not_found")


class TestTenantIsolation:
    async def test_another_org_sees_an_empty_list_and_404_for_every_id(
        self, workspace: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        await _create(workspace, id="aud-x", name="X", predicate=TRIAL_ACTIVE_NOT_CONVERTED)
        assert (await other_client.get("/api/audiences")).json() == []
        assert (await other_client.get("/api/cohorts")).json() == []
        calls = [
            ("GET", "/api/audiences/aud-x", None),
            ("PATCH", "/api/audiences/aud-x", {"name": "mine"}),
            ("PUT", "/api/audiences/aud-x", {"name": "mine", "predicate": PRO_OR_ADMIN}),
            ("DELETE", "/api/audiences/aud-x", None),
            ("POST", "/api/audiences/aud-x/evaluate", {"subjectId": "u1"}),
            ("GET", "/api/audiences/aud-x/members", None),
            ("GET", "/api/cohorts/trial", None),
            ("PATCH", "/api/cohorts/trial", {"name": "mine"}),
            ("DELETE", "/api/cohorts/trial", None),
        ]
        for method, url, body in calls:
            r = await other_client.request(method, url, json=body)
            assert r.status_code == 404, (method, url, r.text)
        # The other org cannot use acme's cohorts either, and its dry-run sees none of acme's contacts.
        r = await other_client.post("/api/audiences/dry-run", json={"predicate": TRIAL_ACTIVE_NOT_CONVERTED})
        assert (r.status_code, r.json()["code"]) == (400, "cohort_not_found")
        r = await other_client.post("/api/audiences/dry-run", json={"predicate": PRO_OR_ADMIN})
        assert r.json()["count"] == 0
        # And acme's audience is untouched.
        assert (await workspace.get("/api/audiences/aud-x")).json()["name"] == "X"

    async def test_the_same_id_can_exist_in_two_orgs(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        await _create(client, id="aud-x", name="Acme's", predicate=PRO_OR_ADMIN)
        await _create(other_client, id="aud-x", name="Globex's", predicate=PRO_OR_ADMIN)
        assert (await client.get("/api/audiences/aud-x")).json()["name"] == "Acme's"
        assert (await other_client.get("/api/audiences/aud-x")).json()["name"] == "Globex's"


def test_as_of_is_the_pinned_clock() -> None:
    assert AS_OF.isoformat() == "2026-04-24T12:00:00+00:00"
